//! Owns where apply's time comes from: the moment a WABA's budget admission is decided at, the
//! time a paused WABA is told to come back at, and the waits the engine and settle make (budget,
//! throttling, retries, read lag, code polling). The system clock waits for real; a simulated
//! clock moves its time forward instead, so a run that Meta's budgets stretch over hours can be
//! measured in seconds (the benchmark) and waits can be tested exactly. It must not decide how
//! long anything waits: `budget`, `engine` and `settle` do.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jiff::Timestamp;

/// A wait on a clock.
pub type Sleep<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// A source of time for apply.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now, to measure waits from.
    fn now(&self) -> Instant;
    /// Now as a date, to tell people when to come back.
    fn timestamp(&self) -> Timestamp;
    /// Waits `duration` (cancellation is the caller's: `Cancel::sleep` races this).
    fn sleep(&self, duration: Duration) -> Sleep<'_>;
}

/// The system's clock: waits really wait.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn timestamp(&self) -> Timestamp {
        Timestamp::now()
    }

    fn sleep(&self, duration: Duration) -> Sleep<'_> {
        Box::pin(tokio::time::sleep(duration))
    }
}

type OnAdvance = Box<dyn Fn(Duration) + Send + Sync>;

/// A clock whose time stands still except when something waits on it: a wait moves the time to
/// its end at once (unless another wait already moved it further) and tells `on_advance` how
/// far, e.g. to move a sandbox's clock along. Concurrent waits overlap as they would in real
/// time: the time reached is the latest end, not the sum.
pub struct SimulatedClock {
    start: Instant,
    start_time: Timestamp,
    elapsed: Mutex<Duration>,
    on_advance: Option<OnAdvance>,
}

impl SimulatedClock {
    pub fn new() -> Self {
        SimulatedClock {
            start: Instant::now(),
            start_time: Timestamp::now(),
            elapsed: Mutex::new(Duration::ZERO),
            on_advance: None,
        }
    }

    /// Calls `on_advance` with each step the time moves forward.
    pub fn on_advance(mut self, on_advance: impl Fn(Duration) + Send + Sync + 'static) -> Self {
        self.on_advance = Some(Box::new(on_advance));
        self
    }

    /// How much simulated time has passed since the clock was made.
    pub fn elapsed(&self) -> Duration {
        *self.elapsed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves the time forward by `by`.
    pub fn advance(&self, by: Duration) {
        let target = self.elapsed().saturating_add(by);
        self.advance_to(target);
    }

    fn advance_to(&self, target: Duration) {
        let step = {
            let mut elapsed = self.elapsed.lock().unwrap_or_else(|e| e.into_inner());
            let step = target.saturating_sub(*elapsed);
            *elapsed = (*elapsed).max(target);
            step
        };
        if !step.is_zero()
            && let Some(on_advance) = &self.on_advance
        {
            on_advance(step);
        }
    }
}

impl Default for SimulatedClock {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for SimulatedClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimulatedClock").field("elapsed", &self.elapsed()).finish_non_exhaustive()
    }
}

impl Clock for SimulatedClock {
    fn now(&self) -> Instant {
        self.start + self.elapsed()
    }

    fn timestamp(&self) -> Timestamp {
        self.start_time.checked_add(self.elapsed()).unwrap_or(Timestamp::MAX)
    }

    fn sleep(&self, duration: Duration) -> Sleep<'_> {
        // The end is fixed when the wait is asked for, as a real timer's is.
        let end = self.elapsed().saturating_add(duration);
        Box::pin(async move {
            self.advance_to(end);
            // Other tasks get their turn, as they would while a real timer runs.
            tokio::task::yield_now().await;
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    #[tokio::test]
    async fn simulated_waits_move_the_time_without_waiting_and_overlap() {
        let moved = Arc::new(AtomicU64::new(0));
        let seen = moved.clone();
        let clock = SimulatedClock::new().on_advance(move |step| {
            seen.fetch_add(step.as_secs(), Ordering::SeqCst);
        });
        let before = clock.now();
        let real = Instant::now();
        clock.sleep(Duration::from_secs(3_600)).await;
        assert_eq!(clock.now() - before, Duration::from_secs(3_600));
        assert!(real.elapsed() < Duration::from_secs(60), "nothing waited for real");
        // Two waits asked for together end at the later end, as real timers would.
        let (short, long) = (clock.sleep(Duration::from_secs(60)), clock.sleep(Duration::from_secs(600)));
        long.await;
        short.await;
        assert_eq!(clock.elapsed(), Duration::from_secs(4_200));
        clock.advance(Duration::from_secs(1));
        assert_eq!(moved.load(Ordering::SeqCst), 4_201, "each step told once");
        assert_eq!(clock.timestamp().duration_since(clock.start_time).as_secs(), 4_201);
    }
}
