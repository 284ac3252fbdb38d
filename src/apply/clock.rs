//! Owns where apply's time comes from: the moment a WABA's budget admission is decided at, the
//! time a paused WABA is told to come back at, and the waits the engine and settle make (budget,
//! throttling, retries, read lag, code polling). The system clock waits for real; the runtime's
//! clock in a paused runtime simulates time, so a run that Meta's budgets stretch over hours is
//! measured in seconds (the benchmark); a manual clock lets unit tests check waits exactly. It
//! must not decide how long anything waits: `budget`, `engine` and `settle` do.

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

/// The async runtime's clock. Normally that is the system's time; in a runtime whose time is
/// paused (Tokio's `start_paused`), time stands still while any task has work to do and jumps to
/// the next timer when every task waits, so a run Meta's budgets stretch over hours takes
/// seconds, with every call made at the simulated moment it would be made for real. Each step the
/// time moves is told to `on_advance` (e.g. to move a sandbox's clock along) when apply next
/// looks at the time.
pub struct RuntimeClock {
    start: tokio::time::Instant,
    start_time: Timestamp,
    /// How much of the elapsed time `on_advance` was told.
    told: Mutex<Duration>,
    on_advance: Option<OnAdvance>,
}

impl RuntimeClock {
    pub fn new() -> Self {
        RuntimeClock {
            start: tokio::time::Instant::now(),
            start_time: Timestamp::now(),
            told: Mutex::new(Duration::ZERO),
            on_advance: None,
        }
    }

    /// Calls `on_advance` with each step the time moves forward.
    pub fn on_advance(mut self, on_advance: impl Fn(Duration) + Send + Sync + 'static) -> Self {
        self.on_advance = Some(Box::new(on_advance));
        self
    }

    /// How much time has passed on this clock since it was made.
    pub fn elapsed(&self) -> Duration {
        let elapsed = self.start.elapsed();
        let step = {
            let mut told = self.told.lock().unwrap_or_else(|e| e.into_inner());
            let step = elapsed.saturating_sub(*told);
            *told = (*told).max(elapsed);
            step
        };
        if !step.is_zero()
            && let Some(on_advance) = &self.on_advance
        {
            on_advance(step);
        }
        elapsed
    }
}

impl Default for RuntimeClock {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for RuntimeClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeClock").field("start_time", &self.start_time).finish_non_exhaustive()
    }
}

impl Clock for RuntimeClock {
    fn now(&self) -> Instant {
        (self.start + self.elapsed()).into_std()
    }

    fn timestamp(&self) -> Timestamp {
        self.start_time.checked_add(self.elapsed()).unwrap_or(Timestamp::MAX)
    }

    fn sleep(&self, duration: Duration) -> Sleep<'_> {
        Box::pin(async move {
            tokio::time::sleep(duration).await;
            self.elapsed();
        })
    }
}

/// A clock that stands still but when moved: by [`advance`](Self::advance), or by a wait on it,
/// which moves it to the wait's end at once. For code that waits one thing at a time (unit
/// tests); concurrent tasks need [`RuntimeClock`] in a paused runtime, which orders their waits.
#[derive(Debug)]
pub struct SimulatedClock {
    start: Instant,
    start_time: Timestamp,
    elapsed: Mutex<Duration>,
}

impl SimulatedClock {
    pub fn new() -> Self {
        SimulatedClock {
            start: Instant::now(),
            start_time: Timestamp::now(),
            elapsed: Mutex::new(Duration::ZERO),
        }
    }

    /// How much time has passed on this clock since it was made.
    pub fn elapsed(&self) -> Duration {
        *self.elapsed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves the time forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut elapsed = self.elapsed.lock().unwrap_or_else(|e| e.into_inner());
        *elapsed = elapsed.saturating_add(by);
    }
}

impl Default for SimulatedClock {
    fn default() -> Self {
        Self::new()
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
        self.advance(duration);
        // Other tasks get their turn, as they would while a real timer runs.
        Box::pin(tokio::task::yield_now())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_simulated_wait_moves_the_time_without_waiting() {
        let clock = SimulatedClock::new();
        let (before, real) = (clock.now(), Instant::now());
        clock.sleep(Duration::from_secs(3_600)).await;
        clock.advance(Duration::from_secs(1));
        assert_eq!(clock.now() - before, Duration::from_secs(3_601));
        assert_eq!(clock.timestamp().duration_since(clock.start_time).as_secs(), 3_601);
        assert!(real.elapsed() < Duration::from_secs(60), "nothing waited for real");
    }

    #[tokio::test(start_paused = true)]
    async fn in_a_paused_runtime_waits_are_ordered_and_take_no_time() {
        let moved = Arc::new(AtomicU64::new(0));
        let seen = moved.clone();
        let clock = Arc::new(RuntimeClock::new().on_advance(move |step| {
            seen.fetch_add(step.as_secs(), Ordering::SeqCst);
        }));
        let real = Instant::now();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = tokio::task::JoinSet::new();
        for minutes in [30u64, 10, 20] {
            let (clock, order) = (clock.clone(), order.clone());
            tasks.spawn(async move {
                clock.sleep(Duration::from_secs(minutes * 60)).await;
                order.lock().unwrap().push((minutes, clock.elapsed().as_secs() / 60));
            });
        }
        while tasks.join_next().await.is_some() {}
        // Each woke at its own end, in order, as real timers would: the time reached is the
        // latest end, not the sum.
        assert_eq!(*order.lock().unwrap(), [(10, 10), (20, 20), (30, 30)]);
        assert_eq!(moved.load(Ordering::SeqCst), 30 * 60, "each step told once");
        assert!(real.elapsed() < Duration::from_secs(60), "nothing waited for real");
    }
}
