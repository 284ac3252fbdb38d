//! Owns how apply hears the requests to stop: Ctrl-C (SIGINT) and SIGTERM (what CI runners send
//! when a job is cancelled) are handled alike. The first lets the calls in flight finish and the
//! run end with its progress saved (exit 130, or 143 for SIGTERM); a second, of either kind,
//! ends the process at once. It decides nothing about the run itself: callers say what the
//! first and second stop do.

use std::sync::{Arc, OnceLock};

use serde_json::json;

use super::calls::MigrationCalls;
use super::engine::Shared;
use crate::ExitStatus;
use crate::ui::Level;

/// Which request to stop was heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Ctrl-C.
    Interrupt,
    /// SIGTERM.
    Terminate,
}

impl Stop {
    pub fn exit_status(self) -> ExitStatus {
        match self {
            Stop::Interrupt => ExitStatus::Interrupted,
            Stop::Terminate => ExitStatus::Terminated,
        }
    }

    /// How log lines name it: `interrupted` (Ctrl-C) or `terminated` (SIGTERM).
    pub fn word(self) -> &'static str {
        match self {
            Stop::Interrupt => "interrupted",
            Stop::Terminate => "terminated",
        }
    }

    fn signal(self) -> &'static str {
        match self {
            Stop::Interrupt => "SIGINT",
            Stop::Terminate => "SIGTERM",
        }
    }
}

/// The first stop heard in this process. Signals are process-wide, and so is what they asked.
static HEARD: OnceLock<Stop> = OnceLock::new();

/// Records a stop heard outside [`watch_run`] (during the templates stage, before any number is
/// worked on), so that the run's exit status says which it was.
pub fn heard(stop: Stop) {
    let _ = HEARD.set(stop);
}

/// The run's exit status as the stop heard makes it: an interruption by SIGTERM ends with 143.
pub fn as_heard(status: ExitStatus) -> ExitStatus {
    match (status, HEARD.get()) {
        (ExitStatus::Interrupted, Some(stop)) => stop.exit_status(),
        _ => status,
    }
}

/// Watches a running apply: the first stop cancels it (the calls in flight finish, progress is
/// saved, the summary is printed, and the run ends with the stop's exit status, see
/// [`as_heard`]); a second ends the process at once. Journal saves happen one at a time under
/// their own lock, so the exit takes that lock first: no save is cut short, and the journal
/// holds every step recorded so far (each call is recorded before it is made).
pub fn watch_run<G: MigrationCalls>(
    signals: Signals,
    shared: &Arc<Shared<G>>,
) -> tokio::task::JoinHandle<()> {
    let first_shared = shared.clone();
    let second_shared = shared.clone();
    signals.watch(
        move |stop| {
            let _ = HEARD.set(stop);
            first_shared.ui.event(
                Level::Warn,
                "interrupted",
                &format!(
                    "{}: finishing the calls in flight, then saving progress (stop again to end at once)",
                    stop.word()
                ),
                json!({"signal": stop.signal()}),
            );
            first_shared.cancel.cancel();
        },
        move |stop| {
            let _saves = second_shared.saves.written.lock().unwrap_or_else(|e| e.into_inner());
            second_shared.ui.event(
                Level::Warn,
                "interrupted",
                &format!(
                    "{} again: ending now; the journal holds every step recorded so far, and the next apply reads the rest from live state",
                    stop.word()
                ),
                json!({"signal": stop.signal(), "immediate": true}),
            );
            #[allow(clippy::exit, reason = "a second stop ends the process at once, by design")]
            std::process::exit(i32::from(stop.exit_status().code()));
        },
    )
}

/// Both signals, heard from the moment this is made. On Unix the handlers are installed at once;
/// Tokio's portable `ctrl_c()` installs one only when first polled, which can be after a
/// question was already on the screen.
pub struct Signals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    pub fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Signals {
                interrupt: signal(SignalKind::interrupt()).ok(),
                terminate: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        {
            Signals {}
        }
    }

    /// Resolves at the next stop; never when no handler could be installed.
    pub async fn recv(&mut self) -> Stop {
        #[cfg(unix)]
        {
            async fn next(signal: &mut Option<tokio::signal::unix::Signal>) {
                let heard = match signal {
                    Some(signal) => signal.recv().await.is_some(),
                    None => false,
                };
                if !heard {
                    std::future::pending::<()>().await;
                }
            }
            tokio::select! {
                () = next(&mut self.interrupt) => Stop::Interrupt,
                () = next(&mut self.terminate) => Stop::Terminate,
            }
        }
        #[cfg(not(unix))]
        {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
            Stop::Interrupt
        }
    }

    /// Watches for the rest of a run: the first stop calls `first` (which asks the run to wind
    /// down), a second calls `second`, which is expected to end the process. Abort the returned
    /// task when the run is over.
    pub fn watch(
        mut self,
        first: impl FnOnce(Stop) + Send + 'static,
        second: impl FnOnce(Stop) + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            first(self.recv().await);
            second(self.recv().await);
        })
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[tokio::test]
    #[allow(unsafe_code, reason = "raise() sends this process a signal; std has no safe wrapper")]
    async fn sigterm_is_heard_like_ctrl_c_and_a_second_stop_is_told_apart() {
        let heard = Arc::new(Mutex::new(Vec::new()));
        let (first, second) = (heard.clone(), heard.clone());
        let (first_tx, first_rx) = tokio::sync::oneshot::channel();
        let watch = Signals::listen().watch(
            move |stop| {
                first.lock().unwrap().push(stop);
                let _ = first_tx.send(());
            },
            move |stop| second.lock().unwrap().push(stop),
        );
        // SAFETY: raise sends a signal to this process, whose handlers were installed above.
        unsafe { libc::raise(libc::SIGTERM) };
        first_rx.await.unwrap();
        unsafe { libc::raise(libc::SIGINT) };
        watch.await.unwrap();
        assert_eq!(*heard.lock().unwrap(), vec![Stop::Terminate, Stop::Interrupt]);
        assert_eq!(Stop::Terminate.exit_status().code(), 143);
        assert_eq!(Stop::Interrupt.exit_status().code(), 130);
    }
}
