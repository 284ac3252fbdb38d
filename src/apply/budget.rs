//! Owns each WABA's Graph budget during an apply. Meta charges calls on a WABA and its numbers to
//! that WABA's hourly budget (200 calls, 5,000 once it has a registered number) and answers
//! 80008 when it is spent, with the time to regain access. Before every call on a WABA apply asks
//! here: past a high-water mark of the budget (as `X-Business-Use-Case-Usage` reports it), a call
//! on that WABA waits until it fits in Meta's rolling hour beside the calls there (this apply's
//! own, whose times it keeps, and everyone else's), and what is left is spread over the time
//! until this apply's oldest call leaves the hour; a code request holds its verification's share,
//! so the code never expires waiting its turn. After a throttling answer calls wait as Meta said.
//! Other WABAs go on meanwhile. A wait longer than `--max-wait` is not waited: the
//! number pauses with its progress saved and the time to come back. Nothing here calls Graph;
//! time comes from apply's clock.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::clock::Clock;

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
    /// When this apply's calls on the WABA were made (or are due), as far back as an hour: they
    /// leave Meta's rolling hour an hour later, giving their share of the budget back.
    calls: VecDeque<Instant>,
    /// Follow-up calls whose share of the budget is reserved.
    prepaid: u64,
    /// Meta throttled this WABA: the usage its answer reported (`Some` once seen here) says
    /// nothing of the time Meta said access comes back, so calls go as Meta said until an answer
    /// reports another usage.
    stale_usage: Option<Option<u64>>,
}

/// Meta's budgets are per rolling hour.
const HOUR: Duration = Duration::from_secs(3_600);
/// Meta counts a call when it receives it, a moment after apply admits it: its share of the
/// budget is counted back that much later than an hour after its admission.
const IN_TRANSIT: Duration = Duration::from_secs(10);

impl WabaBudget {
    /// When `cost` calls (a call, or a call and its follow-up) may start on a WABA past the
    /// high-water mark, `used` percent of its `hourly` budget used as Meta last reported (a
    /// percent more, since its percentages are whole). Of that, what is not this apply's own
    /// calls is someone else's and assumed to stay. The calls start once they fit in Meta's
    /// rolling hour beside this apply's calls in it (made, due, or reserved for a follow-up) and
    /// everyone else's, and what is left is spread over the time until this apply's oldest call
    /// leaves the hour.
    fn slot(&mut self, at: Instant, used: u64, hourly: u64, cost: u64) -> Instant {
        let window = HOUR + IN_TRANSIT;
        let mut own: Vec<Instant> = self.calls.iter().copied().collect();
        own.sort();
        // This apply's calls made in the hour up to `t`, and those counted at `t`: the made ones
        // and every one due later, which will be in the hour with a call made at `t`. Found by
        // binary search in the sorted times: near the high-water mark of an active WABA's 5,000
        // calls, a scan per candidate slot would cost millions of steps per call.
        let in_hour_from =
            |t: Instant| t.checked_sub(window).map_or(0, |edge| own.partition_point(|c| *c <= edge));
        let made = |t: Instant| own.partition_point(|c| *c <= t).saturating_sub(in_hour_from(t)) as u64;
        let counted = |t: Instant| (own.len() - in_hour_from(t)) as u64;
        let reported = ((used + 1).min(100) * hourly).div_ceil(100);
        let others = reported.saturating_sub(made(at));
        let fits = |t: Instant| counted(t) + others + cost <= hourly;
        let mut slot = self.next_slot.map_or(at, |next| next.max(at));
        if !fits(slot) {
            // Until enough of this apply's calls have left the hour.
            slot = own
                .iter()
                .map(|c| *c + window)
                .filter(|t| *t > slot)
                .find(|t| fits(*t))
                .unwrap_or(slot + HOUR);
        }
        let left = hourly.saturating_sub(others + counted(at));
        let interval = if left >= cost {
            let until_freed = own
                .iter()
                .find(|c| **c <= at && at.saturating_duration_since(**c) < window)
                .map_or(HOUR, |oldest| (*oldest + HOUR).saturating_duration_since(at))
                .max(Duration::from_secs(1));
            until_freed / u32::try_from(left).unwrap_or(u32::MAX)
        } else {
            Duration::ZERO
        };
        self.next_slot = Some(slot + interval * u32::try_from(cost).unwrap_or(1));
        slot
    }
}

/// The budgets of the WABAs one apply works on.
#[derive(Debug)]
pub struct Budgets {
    max_wait: Duration,
    /// Each WABA's hourly budget, as far as the plan's observation tells (active or not).
    hourly: HashMap<String, u64>,
    state: Mutex<HashMap<String, WabaBudget>>,
}

/// A call's kind, for the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    Single,
    /// A call another must follow within minutes (a code request: its code expires), so the
    /// follow-up's share of the budget is reserved with it.
    WithFollowUp,
    /// That follow-up (the verification): it does not wait its turn among the calls being
    /// spaced out, since its share was reserved. Without a reservation (a code given up front),
    /// a single call.
    FollowUp,
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

    /// Decides about one call on `waba` now, given the share of its budget Meta last reported
    /// used. Reserves the call's slot when calls are being spaced out.
    pub fn admit(&self, waba: &str, used_percent: Option<u64>, clock: &dyn Clock) -> Admission {
        self.admit_call(waba, used_percent, clock, Call::Single)
    }

    /// [`admit`](Self::admit) for a call of the given kind.
    pub fn admit_call(
        &self,
        waba: &str,
        used_percent: Option<u64>,
        clock: &dyn Clock,
        call: Call,
    ) -> Admission {
        let now = clock.now();
        let hourly = self.hourly(waba);
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
        budget.calls.retain(|made| at.saturating_duration_since(*made) < HOUR + IN_TRANSIT);
        let mut used = used_percent.unwrap_or(0);
        match budget.stale_usage {
            Some(None) => budget.stale_usage = Some(Some(used)),
            Some(Some(stale)) if stale != used => budget.stale_usage = None,
            _ => {}
        }
        if budget.stale_usage.is_some() {
            used = 0;
        }
        // A follow-up whose share was reserved goes as soon as Meta allows.
        let prepaid = call == Call::FollowUp && budget.prepaid > 0;
        let next_slot = budget.next_slot;
        if prepaid {
            budget.prepaid -= 1;
        } else if used >= HIGH_WATER_PERCENT {
            at = budget.slot(at, used, hourly, if call == Call::WithFollowUp { 2 } else { 1 });
        } else {
            budget.next_slot = None;
        }
        let wait = at.saturating_duration_since(now);
        if wait > self.max_wait {
            // The call is not made: its slot, or its reserved share, is given back.
            if prepaid {
                budget.prepaid += 1;
            }
            budget.next_slot = next_slot;
            let until = clock.timestamp().checked_add(wait).unwrap_or(Timestamp::MAX);
            return Admission::Pause(BudgetPause { waba: waba.to_owned(), until });
        }
        // The follow-up is counted with its call: it comes moments after.
        if !prepaid {
            budget.calls.push_back(at);
        }
        if call == Call::WithFollowUp {
            budget.calls.push_back(at);
            budget.prepaid += 1;
        }
        if wait.is_zero() { Admission::Now } else { Admission::After(wait) }
    }

    /// Meta throttled `waba` (80008 and kin): no call on it before `wait` has passed.
    pub fn throttled(&self, waba: &str, wait: Duration, clock: &dyn Clock) {
        let now = clock.now();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let budget = state.entry(waba.to_owned()).or_default();
        let until = now + wait;
        budget.throttled_until = Some(budget.throttled_until.map_or(until, |u| u.max(until)));
        budget.stale_usage = Some(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::clock::SimulatedClock;

    fn budgets() -> Budgets {
        Budgets::new(
            Duration::from_secs(15 * 60),
            HashMap::from([("active".to_owned(), HOURLY_CALLS_ACTIVE)]),
        )
    }

    #[test]
    fn below_the_high_water_mark_calls_go_at_once() {
        let (budgets, clock) = (budgets(), SimulatedClock::new());
        assert_eq!(budgets.admit("1", None, &clock), Admission::Now);
        assert_eq!(budgets.admit("1", Some(89), &clock), Admission::Now);
    }

    #[test]
    fn past_the_high_water_mark_calls_are_spaced_to_fit_the_hour() {
        let (budgets, clock) = (budgets(), SimulatedClock::new());
        // 10% of 200 calls left, counted a percent short as Meta's percentages are whole: 18
        // calls over the hour, one every 200 seconds.
        assert_eq!(budgets.admit("1", Some(90), &clock), Admission::Now);
        assert_eq!(budgets.admit("1", Some(90), &clock), Admission::After(Duration::from_secs(200)));
        assert_eq!(budgets.admit("1", Some(90), &clock), Admission::After(Duration::from_secs(400)));
        // Another WABA is not held up.
        assert_eq!(budgets.admit("2", Some(10), &clock), Admission::Now);
        // An active WABA's 5,000 calls leave far more room.
        assert_eq!(budgets.admit("active", Some(90), &clock), Admission::Now);
        assert_eq!(budgets.admit("active", Some(90), &clock), Admission::After(Duration::from_secs(8)));
    }

    #[test]
    fn what_is_left_is_spread_until_the_oldest_call_leaves_the_rolling_hour() {
        let (budgets, clock) = (budgets(), SimulatedClock::new());
        // Calls made while the budget was far from spent.
        for _ in 0..5 {
            assert_eq!(budgets.admit("1", Some(50), &clock), Admission::Now);
        }
        // 40 minutes on, 16 calls are left and the first of those calls leaves the hour in 20
        // minutes: a call every 75 seconds, not every 225.
        clock.advance(Duration::from_secs(40 * 60));
        assert_eq!(budgets.admit("1", Some(91), &clock), Admission::Now);
        assert_eq!(budgets.admit("1", Some(91), &clock), Admission::After(Duration::from_secs(75)));
        // Spent: a call waits until one of this apply's calls has left the hour (as Meta counts
        // it, a moment after it was made), the next until another has.
        clock.advance(Duration::from_secs(10 * 60));
        let freed = Duration::from_secs(10 * 60) + IN_TRANSIT;
        assert_eq!(budgets.admit("1", Some(99), &clock), Admission::After(freed));
        assert_eq!(budgets.admit("1", Some(99), &clock), Admission::After(freed));
        // Once they have left, Meta reports less used and calls go at once again.
        clock.advance(Duration::from_secs(11 * 60));
        assert_eq!(budgets.admit("1", Some(40), &clock), Admission::Now);
    }

    #[test]
    fn a_verification_does_not_wait_its_turn_since_its_code_request_reserved_it() {
        let (budgets, clock) = (budgets(), SimulatedClock::new());
        // 18 calls left over the hour: a code request takes two slots, its own and the
        // verification's, which then goes at once whoever else is waiting.
        assert_eq!(budgets.admit_call("1", Some(90), &clock, Call::WithFollowUp), Admission::Now);
        assert_eq!(budgets.admit("1", Some(90), &clock), Admission::After(Duration::from_secs(2 * 200)));
        assert_eq!(budgets.admit_call("1", Some(90), &clock, Call::FollowUp), Admission::Now);
        // A follow-up nothing reserved (a code given up front) waits its turn.
        let after = budgets.admit_call("1", Some(95), &clock, Call::FollowUp);
        assert!(matches!(after, Admission::After(wait) if wait > Duration::from_secs(360)), "{after:?}");
        // With 50 calls left, one every 72 seconds: a request and its verification take two.
        budgets.admit_call("active", Some(98), &clock, Call::WithFollowUp);
        assert_eq!(budgets.admit("active", Some(98), &clock), Admission::After(Duration::from_secs(144)));
        assert_eq!(budgets.admit("active", Some(98), &clock), Admission::After(Duration::from_secs(216)));
        // After throttling even a reserved follow-up waits as Meta said.
        budgets.throttled("2", Duration::from_secs(60), &clock);
        assert_eq!(
            budgets.admit_call("2", Some(95), &clock, Call::FollowUp),
            Admission::After(Duration::from_secs(60))
        );
    }

    #[test]
    fn after_throttling_a_waba_waits_as_meta_said_or_pauses_beyond_max_wait() {
        let (budgets, clock) = (budgets(), SimulatedClock::new());
        budgets.throttled("1", Duration::from_secs(120), &clock);
        // The throttling answer said all was used; Meta's wait is what counts.
        assert_eq!(budgets.admit("1", Some(100), &clock), Admission::After(Duration::from_secs(120)));
        assert_eq!(budgets.admit("2", None, &clock), Admission::Now, "only that WABA waits");
        clock.advance(Duration::from_secs(121));
        assert_eq!(budgets.admit("1", Some(100), &clock), Admission::Now);
        // Until an answer reports the usage anew.
        assert_eq!(budgets.admit("1", Some(40), &clock), Admission::Now);
        assert!(matches!(budgets.admit("1", Some(100), &clock), Admission::Pause(_)));

        budgets.throttled("1", Duration::from_secs(3_600), &clock);
        let Admission::Pause(pause) = budgets.admit("1", None, &clock) else { panic!("a pause") };
        assert_eq!(pause.waba, "1");
        assert_eq!(pause.until, clock.timestamp() + Duration::from_secs(3_600));
    }

    #[test]
    fn an_almost_spent_budget_pauses_rather_than_waiting_past_max_wait() {
        let (budgets, clock) = (budgets(), SimulatedClock::new());
        // 2% of 200 calls, counted as 1%: 2 calls an hour, one every 30 minutes.
        assert_eq!(budgets.admit("1", Some(98), &clock), Admission::Now);
        assert!(matches!(budgets.admit("1", Some(98), &clock), Admission::Pause(_)));
        // Spent, with none of this apply's calls to leave the hour: nothing before an hour.
        assert!(matches!(budgets.admit("2", Some(99), &clock), Admission::Pause(_)));
    }
}
