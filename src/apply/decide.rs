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
    pub now: Timestamp,
}

pub fn next(live: Option<&NumberView>, situation: Situation<'_>) -> Next {
    let Some(live) = live.filter(|n| !n.is_migrated_away()) else {
        return Next::Initiate;
    };
    if !live.is_verified() {
        if situation.code_at_hand {
            return Next::Verify;
        }
        let last_request = situation.record.last_code_request.as_ref();
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
    fn registered_numbers_finish_with_the_template_check() {
        let registered = node("VERIFIED", "CLOUD_API");
        let mut record = NumberRecord::new("1");
        assert_eq!(next(Some(&registered), situation(&record)), Next::VerifyTemplates);
        record.templates_checked_at = Some(now());
        assert_eq!(next(Some(&registered), situation(&record)), Next::Done);
    }
}
