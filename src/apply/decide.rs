//! Owns the one decision apply makes before every write: given the number's live state in the
//! destination (read just before), what the journal remembers and whether a code is at hand,
//! which step comes next. Pure, so every intermediate state — including ones a person or a
//! killed apply left behind — is tested without a network.

use jiff::Timestamp;

use crate::journal::{NumberRecord, REGISTER_LIMIT};
use crate::observe::NumberView;

/// What to do next for one number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Not in the destination yet: start the migration.
    Initiate,
    /// In the destination, not verified, no code at hand, no request within the cooldown (or a
    /// resend was asked for): request a code.
    RequestCode,
    /// A code was requested within the cooldown and none is at hand yet: pause.
    AwaitCode { requested_at: Timestamp },
    /// A code is at hand: verify it.
    Verify,
    /// Verified, registration wanted and not done: register.
    Register,
    /// The register budget of the 72-hour window is spent: stop without calling.
    RegisterBudgetSpent { attempts: usize },
    /// Meta was still provisioning the display name at the last register call (2388001), an
    /// earlier run made that call, and the spacing after it has not passed: stop without calling.
    RegisterLater { after: Timestamp, attempts: usize },
    /// Verified (and registered when wanted): check the number and its templates.
    VerifyTemplates,
    /// Nothing left to do.
    Done,
}

/// Inputs that are not live state.
#[derive(Debug, Clone, Copy)]
pub struct Situation<'a> {
    pub record: &'a NumberRecord,
    pub register: bool,
    pub code_at_hand: bool,
    /// `--resend-code`, and no code was requested yet during this run.
    pub resend: bool,
    /// A code was already requested during this run; never request twice in one run unless
    /// resending.
    pub requested_this_run: bool,
    /// Register was already called during this run (its own retries are spaced by the engine).
    pub registered_this_run: bool,
    pub now: Timestamp,
}

/// How long a new run waits after a register call that Meta answered with 2388001 (display name
/// still being provisioned): 15 minutes once 4 calls were made in the 72-hour window (one run's
/// worth), doubling with each further call, at most 12 hours. Reruns — by hand or by a pipeline
/// — thus cannot spend Meta's 10 register calls while Meta is still busy; the last ones are
/// hours apart.
pub fn provisioning_spacing(attempts: usize) -> jiff::SignedDuration {
    let doublings = attempts.saturating_sub(4).min(6) as u32;
    let minutes = (15i64 << doublings).min(12 * 60);
    jiff::SignedDuration::from_mins(minutes)
}

/// When the last register call was refused because Meta was still provisioning the display name
/// (2388001): the earliest time a later run calls register again.
pub fn register_not_before(record: &NumberRecord, now: Timestamp) -> Option<Timestamp> {
    let provisioning = record
        .last_error
        .as_ref()
        .is_some_and(|e| e.step == "register" && (e.subcode == Some(2_388_001) || e.code == Some(2_388_001)));
    let last_call = record.register_attempts.iter().max()?;
    provisioning.then(|| *last_call + provisioning_spacing(record.register_attempts_in_window(now)))
}

pub fn next(live: Option<&NumberView>, situation: Situation<'_>) -> Next {
    let Some(live) = live.filter(|n| !n.is_migrated_away()) else {
        return Next::Initiate;
    };
    if !live.is_verified() {
        if situation.code_at_hand {
            return Next::Verify;
        }
        let last_request = situation.record.unspent_code_request();
        let cooling = situation.record.code_cooldown_active(situation.now);
        return match last_request {
            Some(request) if situation.requested_this_run || (cooling && !situation.resend) => {
                Next::AwaitCode { requested_at: request.at }
            }
            _ => Next::RequestCode,
        };
    }
    if situation.register && !live.is_registered() {
        let attempts = situation.record.register_attempts_in_window(situation.now);
        if attempts >= REGISTER_LIMIT {
            return Next::RegisterBudgetSpent { attempts };
        }
        if let Some(after) = register_not_before(situation.record, situation.now)
            && !situation.registered_this_run
            && situation.now < after
        {
            return Next::RegisterLater { after, attempts };
        }
        return Next::Register;
    }
    if situation.record.templates_checked_at.is_none() {
        return Next::VerifyTemplates;
    }
    Next::Done
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::CodeRequest;
    use crate::manifest::CodeMethod;

    fn now() -> Timestamp {
        "2026-11-25T12:00:00Z".parse().unwrap()
    }

    fn node(verification: &str, platform: &str) -> NumberView {
        NumberView {
            id: "900".into(),
            digits: "16315555555".into(),
            code_verification_status: Some(verification.into()),
            platform_type: Some(platform.into()),
            ..NumberView::default()
        }
    }

    fn situation(record: &NumberRecord) -> Situation<'_> {
        Situation {
            record,
            register: true,
            code_at_hand: false,
            resend: false,
            requested_this_run: false,
            registered_this_run: false,
            now: now(),
        }
    }

    fn requested(minutes_ago: i64) -> NumberRecord {
        let mut record = NumberRecord::new("1");
        record.last_code_request = Some(CodeRequest {
            at: now() - jiff::SignedDuration::from_mins(minutes_ago),
            method: CodeMethod::Sms,
            language: "en_US".into(),
        });
        record.code_requests = 1;
        record
    }

    #[test]
    fn absent_or_migrated_away_means_initiate() {
        let record = NumberRecord::new("1");
        assert_eq!(next(None, situation(&record)), Next::Initiate);
        let mut away = node("VERIFIED", "CLOUD_API");
        away.status = Some("MIGRATED".into());
        assert_eq!(next(Some(&away), situation(&record)), Next::Initiate);
    }

    #[test]
    fn unverified_requests_a_code_once_then_awaits_it_within_the_cooldown() {
        let pending = node("NOT_VERIFIED", "NOT_APPLICABLE");
        let fresh = NumberRecord::new("1");
        assert_eq!(next(Some(&pending), situation(&fresh)), Next::RequestCode);

        let recent = requested(3);
        let expected = Next::AwaitCode { requested_at: recent.last_code_request.as_ref().unwrap().at };
        assert_eq!(next(Some(&pending), situation(&recent)), expected);

        let resend = Situation { resend: true, ..situation(&recent) };
        assert_eq!(next(Some(&pending), resend), Next::RequestCode, "--resend-code overrides the cooldown");

        let old = requested(30);
        assert_eq!(next(Some(&pending), situation(&old)), Next::RequestCode, "after the cooldown, ask again");
        let same_run = Situation { requested_this_run: true, ..situation(&old) };
        assert!(matches!(next(Some(&pending), same_run), Next::AwaitCode { .. }), "never twice in one run");
    }

    #[test]
    fn a_code_spent_by_a_verification_is_not_awaited_when_the_number_is_unverified_again() {
        let pending = node("NOT_VERIFIED", "NOT_APPLICABLE");
        let mut record = requested(3);
        record.verified_at = Some(now() - jiff::SignedDuration::from_mins(2));
        assert_eq!(next(Some(&pending), situation(&record)), Next::RequestCode);

        // A request made after that verification is the one to wait for.
        record.verified_at = Some(now() - jiff::SignedDuration::from_mins(4));
        assert!(matches!(next(Some(&pending), situation(&record)), Next::AwaitCode { .. }));
    }

    #[test]
    fn a_code_at_hand_is_verified_even_after_the_cooldown() {
        let pending = node("NOT_VERIFIED", "NOT_APPLICABLE");
        let old = requested(30);
        assert_eq!(next(Some(&pending), Situation { code_at_hand: true, ..situation(&old) }), Next::Verify);
    }

    #[test]
    fn verified_numbers_register_within_the_budget_then_check_templates() {
        let verified = node("VERIFIED", "NOT_APPLICABLE");
        let mut record = NumberRecord::new("1");
        assert_eq!(next(Some(&verified), situation(&record)), Next::Register);
        assert_eq!(
            next(Some(&verified), Situation { register: false, ..situation(&record) }),
            Next::VerifyTemplates
        );
        record.register_attempts = vec![now() - jiff::SignedDuration::from_hours(1); 10];
        assert_eq!(next(Some(&verified), situation(&record)), Next::RegisterBudgetSpent { attempts: 10 });
        record.register_attempts = vec![now() - jiff::SignedDuration::from_hours(73); 10];
        assert_eq!(
            next(Some(&verified), situation(&record)),
            Next::Register,
            "old attempts leave the window"
        );
    }

    #[test]
    fn after_a_provisioning_refusal_a_new_run_waits_longer_each_time() {
        let verified = node("VERIFIED", "NOT_APPLICABLE");
        let mut record = NumberRecord::new("1");
        let minutes_ago = |m: i64| now() - jiff::SignedDuration::from_mins(m);
        record.register_attempts = vec![minutes_ago(12), minutes_ago(11), minutes_ago(10), minutes_ago(9)];
        record.last_error = Some(crate::journal::RecordedError {
            at: minutes_ago(9),
            step: "register".into(),
            code: Some(100),
            subcode: Some(2_388_001),
            message: "Cannot Create Certificate".into(),
            fbtrace_id: None,
        });
        assert_eq!(
            next(Some(&verified), situation(&record)),
            Next::RegisterLater { after: minutes_ago(9) + jiff::SignedDuration::from_mins(15), attempts: 4 }
        );
        let same_run = Situation { registered_this_run: true, ..situation(&record) };
        assert_eq!(next(Some(&verified), same_run), Next::Register, "a run's own retries are the engine's");
        record.register_attempts = vec![minutes_ago(19), minutes_ago(18), minutes_ago(17), minutes_ago(16)];
        assert_eq!(next(Some(&verified), situation(&record)), Next::Register, "15 minutes have passed");

        record.register_attempts.push(minutes_ago(20));
        assert!(
            matches!(next(Some(&verified), situation(&record)), Next::RegisterLater { .. }),
            "30 minutes after the 5th"
        );
        record.last_error.as_mut().unwrap().subcode = Some(33);
        assert_eq!(
            next(Some(&verified), situation(&record)),
            Next::Register,
            "only display-name provisioning waits"
        );

        assert_eq!(provisioning_spacing(1), jiff::SignedDuration::from_mins(15));
        assert_eq!(provisioning_spacing(6), jiff::SignedDuration::from_mins(60));
        assert_eq!(provisioning_spacing(9), jiff::SignedDuration::from_hours(8));
        assert_eq!(provisioning_spacing(20), jiff::SignedDuration::from_hours(12));
    }

    #[test]
    fn registered_numbers_finish_with_the_template_check() {
        let registered = node("VERIFIED", "CLOUD_API");
        let mut record = NumberRecord::new("1");
        assert_eq!(next(Some(&registered), situation(&record)), Next::VerifyTemplates);
        record.templates_checked_at = Some(now());
        assert_eq!(next(Some(&registered), situation(&record)), Next::Done);
    }
}
