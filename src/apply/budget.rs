//! Owns each WABA's Graph budget during an apply. Meta charges calls on a WABA and its numbers to
//! that WABA's hourly budget (200 calls, 5,000 once it has a registered number) and answers
//! 80008 when it is spent, with the time to regain access. Before every call on a WABA apply asks
//! here: past a high-water mark of the budget (as `X-Business-Use-Case-Usage` reports it), calls
//! on that WABA are spaced to fit what is left of the hour, and after a throttling answer they
//! wait as Meta said, while other WABAs go on. A wait longer than `--max-wait` is not waited: the
//! number pauses with its progress saved and the time to come back. Nothing here calls Graph.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jiff::Timestamp;

pub use crate::graph::{
    ACTIVE_WABA_CALLS_PER_HOUR as HOURLY_CALLS_ACTIVE, WABA_CALLS_PER_HOUR as HOURLY_CALLS,
};
/// The share of a budget past which calls on that WABA are spaced out.
pub const HIGH_WATER_PERCENT: u64 = 90;

/// A WABA whose budget does not come back within `--max-wait`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetPause {
    pub waba: String,
    /// When calls on it may be made again.
    pub until: Timestamp,
}

#[derive(Debug, Default)]
struct WabaBudget {
    /// Meta throttled this WABA until then.
    throttled_until: Option<Instant>,
    /// While spacing calls out: the earliest time of the next call.
    next_slot: Option<Instant>,
}

/// The budgets of the WABAs one apply works on.
#[derive(Debug)]
pub struct Budgets {
    max_wait: Duration,
    /// Each WABA's hourly budget, as far as the plan's observation tells (active or not).
    hourly: HashMap<String, u64>,
    state: Mutex<HashMap<String, WabaBudget>>,
}

/// What the caller should do before a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    Now,
    /// Wait this long, then call.
    After(Duration),
    Pause(BudgetPause),
}

impl Budgets {
    pub fn new(max_wait: Duration, hourly: HashMap<String, u64>) -> Self {
        Budgets { max_wait, hourly, state: Mutex::new(HashMap::new()) }
    }

    fn hourly(&self, waba: &str) -> u64 {
        self.hourly.get(waba).copied().unwrap_or(HOURLY_CALLS)
    }

    /// Decides about one call on `waba` at `now`, given the share of its budget Meta last
    /// reported used. Reserves the call's slot when calls are being spaced out.
    pub fn admit(&self, waba: &str, used_percent: Option<u64>, now: Instant) -> Admission {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let budget = state.entry(waba.to_owned()).or_default();
        let mut at = now;
        if let Some(until) = budget.throttled_until {
            if until > now {
                at = until;
            } else {
                budget.throttled_until = None;
            }
        }
        let used = used_percent.unwrap_or(0);
        if used >= HIGH_WATER_PERCENT {
            // What is left of the hour's budget, spread over the hour: one call per interval.
            let left = (100u64.saturating_sub(used) * self.hourly(waba) / 100).max(1);
            let interval = Duration::from_secs(3_600 / left);
            let slot = budget.next_slot.map_or(at, |next| next.max(at));
            budget.next_slot = Some(slot + interval);
            at = slot;
        } else {
            budget.next_slot = None;
        }
        let wait = at.saturating_duration_since(now);
        if wait.is_zero() {
            Admission::Now
        } else if wait > self.max_wait {
            // The slot is given back: this call is not made.
            if let Some(next) = budget.next_slot.as_mut() {
                *next = at;
            }
            let until = Timestamp::now().checked_add(wait).unwrap_or(Timestamp::MAX);
            Admission::Pause(BudgetPause { waba: waba.to_owned(), until })
        } else {
            Admission::After(wait)
        }
    }

    /// Meta throttled `waba` (80008 and kin): no call on it before `wait` has passed.
    pub fn throttled(&self, waba: &str, wait: Duration, now: Instant) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let budget = state.entry(waba.to_owned()).or_default();
        let until = now + wait;
        budget.throttled_until = Some(budget.throttled_until.map_or(until, |u| u.max(until)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budgets() -> Budgets {
        Budgets::new(
            Duration::from_secs(15 * 60),
            HashMap::from([("active".to_owned(), HOURLY_CALLS_ACTIVE)]),
        )
    }

    #[test]
    fn below_the_high_water_mark_calls_go_at_once() {
        let budgets = budgets();
        let now = Instant::now();
        assert_eq!(budgets.admit("1", None, now), Admission::Now);
        assert_eq!(budgets.admit("1", Some(89), now), Admission::Now);
    }

    #[test]
    fn past_the_high_water_mark_calls_are_spaced_to_fit_the_hour() {
        let budgets = budgets();
        let now = Instant::now();
        // 10% of 200 calls left: 20 calls over the hour, one every 3 minutes.
        assert_eq!(budgets.admit("1", Some(90), now), Admission::Now);
        assert_eq!(budgets.admit("1", Some(90), now), Admission::After(Duration::from_secs(180)));
        assert_eq!(budgets.admit("1", Some(90), now), Admission::After(Duration::from_secs(360)));
        // Another WABA is not held up.
        assert_eq!(budgets.admit("2", Some(10), now), Admission::Now);
        // An active WABA's 5,000 calls leave far more room.
        assert_eq!(budgets.admit("active", Some(90), now), Admission::Now);
        assert_eq!(budgets.admit("active", Some(90), now), Admission::After(Duration::from_millis(7_000)));
    }

    #[test]
    fn after_throttling_a_waba_waits_as_meta_said_or_pauses_beyond_max_wait() {
        let budgets = budgets();
        let now = Instant::now();
        budgets.throttled("1", Duration::from_secs(120), now);
        assert_eq!(budgets.admit("1", None, now), Admission::After(Duration::from_secs(120)));
        assert_eq!(budgets.admit("2", None, now), Admission::Now, "only that WABA waits");
        assert_eq!(budgets.admit("1", None, now + Duration::from_secs(121)), Admission::Now);

        budgets.throttled("1", Duration::from_secs(3_600), now);
        let Admission::Pause(pause) = budgets.admit("1", None, now) else { panic!("a pause") };
        assert_eq!(pause.waba, "1");
        assert!(pause.until > Timestamp::now() + jiff::SignedDuration::from_mins(59));
    }

    #[test]
    fn an_almost_spent_budget_pauses_rather_than_waiting_past_max_wait() {
        let budgets = budgets();
        let now = Instant::now();
        // 1% of 200 calls: 2 calls an hour, one every 30 minutes.
        assert_eq!(budgets.admit("1", Some(99), now), Admission::Now);
        assert!(matches!(budgets.admit("1", Some(99), now), Admission::Pause(_)));
    }
}
