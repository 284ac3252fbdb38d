//! Owns when a failed *read* is tried again and how long to wait: exponential backoff with
//! jitter, Meta's `estimated_time_to_regain_access`, and the attempt and total-wait budgets.
//! Also owns the sleeping itself, behind [`Sleeper`], so tests can observe waits without waiting.
//! Writes never come here: the client returns their errors to the caller (see `client.rs`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::error::GraphError;

/// How reads are retried. `max_attempts` counts the first attempt too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    /// Wait before the first retry (before jitter); it doubles with each retry.
    pub base_delay: Duration,
    /// No single backoff wait is longer than this (a wait Meta asks for may be).
    pub max_delay: Duration,
    /// The sum of all waits for one call stays under this; when Meta asks for a longer wait
    /// the call fails at once with a throttled error that says when to retry.
    pub max_total_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_total_wait: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy { max_attempts: 1, ..RetryPolicy::default() }
    }

    /// The backoff before retry number `retry` (1 for the first retry): the exponential step,
    /// capped at `max_delay`, with "equal jitter" (half fixed, half random) so concurrent
    /// clients do not retry in lockstep, yet every wait is at least half the step.
    pub fn backoff(&self, retry: u32, random: u64) -> Duration {
        let factor = 1u32.checked_shl(retry.saturating_sub(1).min(31)).unwrap_or(u32::MAX);
        let step = self.base_delay.checked_mul(factor).unwrap_or(self.max_delay).min(self.max_delay);
        let half = step / 2;
        let spread = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX).saturating_add(1);
        half + Duration::from_nanos(random % spread)
    }
}

/// What to do after a failed read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Sleep this long, then try again.
    RetryAfter(Duration),
    /// Return the error as it is.
    GiveUp,
    /// Meta asked for a wait longer than what is left of the budget: fail now, saying how long.
    TooLong(Duration),
}

/// Decides after attempt number `attempt` (1-based) failed with `error`, `waited` having been
/// spent sleeping already.
pub fn decide(
    policy: &RetryPolicy,
    attempt: u32,
    waited: Duration,
    error: &GraphError,
    random: u64,
) -> Decision {
    if !error.is_retryable_read() {
        return Decision::GiveUp;
    }
    let required = error.retry_after().unwrap_or_default();
    let budget = policy.max_total_wait.saturating_sub(waited);
    if required > budget {
        return Decision::TooLong(required);
    }
    if attempt >= policy.max_attempts {
        return Decision::GiveUp;
    }
    let wait = policy.backoff(attempt, random).max(required);
    if wait > budget {
        // Backoff alone would overrun the budget: one last shorter wait is still worth it.
        if budget.is_zero() {
            return Decision::GiveUp;
        }
        return Decision::RetryAfter(budget);
    }
    Decision::RetryAfter(wait)
}

/// A tiny splitmix64 generator for jitter: no crate needed, shared by concurrent tasks without a
/// lock, seeded from the clock so two wamig processes do not draw the same sequence.
#[derive(Debug)]
pub(crate) struct Jitter(AtomicU64);

impl Jitter {
    pub(crate) fn new(seed: u64) -> Self {
        Jitter(AtomicU64::new(seed))
    }

    pub(crate) fn from_clock() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x5eed);
        Jitter::new(nanos ^ u64::from(std::process::id()).rotate_left(32))
    }

    pub(crate) fn next(&self) -> u64 {
        let mut z =
            self.0.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed).wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

type SleepFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// How the client waits between retries. The default is `tokio::time::sleep`; tests install
/// one that records the requested waits and returns at once.
#[derive(Clone)]
pub struct Sleeper(Arc<dyn Fn(Duration) -> SleepFuture + Send + Sync>);

impl Sleeper {
    pub fn tokio() -> Self {
        Sleeper(Arc::new(|d| Box::pin(tokio::time::sleep(d))))
    }

    pub fn new<F, Fut>(f: F) -> Self
    where
        F: Fn(Duration) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Sleeper(Arc::new(move |d| Box::pin(f(d))))
    }

    pub async fn sleep(&self, duration: Duration) {
        (self.0)(duration).await
    }
}

impl Default for Sleeper {
    fn default() -> Self {
        Sleeper::tokio()
    }
}

impl fmt::Debug for Sleeper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sleeper")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::class::ErrorClass;
    use crate::graph::error::GraphError;

    fn error(class: ErrorClass) -> GraphError {
        GraphError::local(class, "x", "y")
    }

    #[test]
    fn backoff_doubles_within_bounds_with_jitter() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            max_total_wait: Duration::from_secs(60),
        };
        let jitter = Jitter::new(42);
        for retry in 1..=40 {
            let step = Duration::from_millis(100)
                .saturating_mul(1 << (retry - 1).min(20))
                .min(Duration::from_secs(1));
            for _ in 0..50 {
                let d = policy.backoff(retry, jitter.next());
                assert!(d >= step / 2 && d <= step, "retry {retry}: {d:?} vs {step:?}");
            }
        }
        assert_eq!(policy.backoff(1, 0), Duration::from_millis(50));
        assert_eq!(policy.backoff(1, u64::MAX), {
            // u64::MAX % (50ms + 1ns) lands somewhere in [0, 50ms]
            let spread = 50_000_001u64;
            Duration::from_millis(50) + Duration::from_nanos(u64::MAX % spread)
        });
    }

    #[test]
    fn jitter_is_spread() {
        let jitter = Jitter::new(7);
        let values: std::collections::BTreeSet<u64> = (0..1000).map(|_| jitter.next()).collect();
        assert_eq!(values.len(), 1000);
        let high = values.iter().filter(|v| **v > u64::MAX / 2).count();
        assert!((400..600).contains(&high), "{high}");
    }

    #[test]
    fn decisions() {
        let policy = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(100),
            max_total_wait: Duration::from_secs(120),
        };
        let zero = Duration::ZERO;
        assert_eq!(decide(&policy, 1, zero, &error(ErrorClass::Auth), 0), Decision::GiveUp);
        assert_eq!(
            decide(&policy, 1, zero, &error(ErrorClass::Transient), 0),
            Decision::RetryAfter(Duration::from_millis(5))
        );
        assert_eq!(decide(&policy, 3, zero, &error(ErrorClass::Transient), 0), Decision::GiveUp);
        // Meta's wait wins over the backoff when it is longer and fits the budget.
        let throttled = error(ErrorClass::Throttled).with_retry_after(Some(Duration::from_secs(60)));
        assert_eq!(decide(&policy, 1, zero, &throttled, 0), Decision::RetryAfter(Duration::from_secs(60)));
        // ...and fails at once when it does not.
        assert_eq!(
            decide(&policy, 1, Duration::from_secs(90), &throttled, 0),
            Decision::TooLong(Duration::from_secs(60))
        );
        let long = error(ErrorClass::Throttled).with_retry_after(Some(Duration::from_secs(600)));
        assert_eq!(decide(&policy, 1, zero, &long, 0), Decision::TooLong(Duration::from_secs(600)));
    }

    #[tokio::test]
    async fn a_custom_sleeper_records_without_waiting() {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = seen.clone();
        let sleeper = Sleeper::new(move |d| {
            record.lock().unwrap().push(d);
            async {}
        });
        sleeper.sleep(Duration::from_secs(3600)).await;
        assert_eq!(*seen.lock().unwrap(), vec![Duration::from_secs(3600)]);
    }
}
