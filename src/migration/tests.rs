use jiff::{SignedDuration, Timestamp};

use super::*;
use crate::journal::{CodeRequest, NumberRecord, RecordedError};
use crate::vocabulary::{CodeMethod, CodeVerificationStatus, PhoneNumberStatus, PlatformType};

fn now() -> Timestamp {
    "2026-11-25T12:00:00Z".parse().unwrap()
}

fn ago(minutes: i64) -> Timestamp {
    now() - SignedDuration::from_mins(minutes)
}

fn node(verification: &str, platform: &str, status: &str) -> NumberView {
    NumberView {
        id: "900".into(),
        digits: "16315555555".into(),
        code_verification_status: Some(verification.into()),
        platform_type: Some(platform.into()),
        status: Some(status.into()),
        ..NumberView::default()
    }
}

fn pending() -> NumberView {
    node("NOT_VERIFIED", "NOT_APPLICABLE", "PENDING")
}

fn verified() -> NumberView {
    node("VERIFIED", "NOT_APPLICABLE", "PENDING")
}

fn registered() -> NumberView {
    node("VERIFIED", "CLOUD_API", "CONNECTED")
}

fn record_for(id: &str) -> NumberRecord {
    let mut record = NumberRecord::new("1");
    record.phone_number_id = Some(id.into());
    record
}

fn requested(minutes_ago: i64) -> NumberRecord {
    let mut record = record_for("900");
    record.last_code_request =
        Some(CodeRequest { at: ago(minutes_ago), method: CodeMethod::Sms, language: "en_US".into() });
    record.code_requests = 1;
    record
}

fn run(record: &NumberRecord) -> RunContext<'_> {
    RunContext {
        record,
        register: true,
        code_at_hand: false,
        resend: false,
        requested_this_run: false,
        registered_this_run: false,
        now: now(),
    }
}

fn next_for(live: Option<&NumberView>, context: RunContext<'_>) -> Next {
    next(&classify(live, Some(context.record), context.now), context)
}

#[test]
fn absent_or_migrated_away_means_initiate() {
    let record = NumberRecord::new("1");
    assert_eq!(next_for(None, run(&record)), Next::Initiate);
    let away = NumberView { status: Some(PhoneNumberStatus::Migrated), ..registered() };
    assert_eq!(classify(Some(&away), None, now()).stage, Stage::NotStarted);
    assert_eq!(next_for(Some(&away), run(&record)), Next::Initiate);
}

#[test]
fn unverified_requests_a_code_once_then_awaits_it_within_the_cooldown() {
    let fresh = record_for("900");
    assert_eq!(next_for(Some(&pending()), run(&fresh)), Next::RequestCode);

    let recent = requested(3);
    let expected = Next::AwaitCode { requested_at: recent.last_code_request.as_ref().unwrap().at };
    assert_eq!(next_for(Some(&pending()), run(&recent)), expected);

    let resend = RunContext { resend: true, ..run(&recent) };
    assert_eq!(next_for(Some(&pending()), resend), Next::RequestCode, "--resend-code overrides the cooldown");

    let old = requested(30);
    assert_eq!(next_for(Some(&pending()), run(&old)), Next::RequestCode, "after the cooldown, ask again");
    let same_run = RunContext { requested_this_run: true, ..run(&old) };
    assert!(matches!(next_for(Some(&pending()), same_run), Next::AwaitCode { .. }), "never twice in one run");
}

#[test]
fn a_code_at_hand_is_verified_even_after_the_cooldown() {
    let old = requested(30);
    assert_eq!(next_for(Some(&pending()), RunContext { code_at_hand: true, ..run(&old) }), Next::Verify);
}

#[test]
fn verified_numbers_register_within_the_budget_then_check_templates() {
    let mut record = record_for("900");
    assert_eq!(next_for(Some(&verified()), run(&record)), Next::Register);
    assert_eq!(
        next_for(Some(&verified()), RunContext { register: false, ..run(&record) }),
        Next::VerifyTemplates
    );
    record.register_attempts = vec![now() - SignedDuration::from_hours(1); 10];
    assert_eq!(next_for(Some(&verified()), run(&record)), Next::RegisterBudgetSpent { attempts: 10 });
    record.register_attempts = vec![now() - SignedDuration::from_hours(73); 10];
    assert_eq!(next_for(Some(&verified()), run(&record)), Next::Register, "old attempts leave the window");
}

#[test]
fn after_a_provisioning_refusal_a_new_run_waits_longer_each_time() {
    let mut record = record_for("900");
    record.register_attempts = vec![ago(12), ago(11), ago(10), ago(9)];
    record.last_error = Some(RecordedError {
        at: ago(9),
        step: Step::Register,
        class: None,
        code: Some(100),
        subcode: Some(2_388_001),
        message: "Cannot Create Certificate".into(),
        fbtrace_id: None,
    });
    assert_eq!(
        next_for(Some(&verified()), run(&record)),
        Next::RegisterLater { after: ago(9) + SignedDuration::from_mins(15), attempts: 4 }
    );
    let same_run = RunContext { registered_this_run: true, ..run(&record) };
    assert_eq!(next_for(Some(&verified()), same_run), Next::Register, "a run's own retries are the engine's");
    record.register_attempts = vec![ago(19), ago(18), ago(17), ago(16)];
    assert_eq!(next_for(Some(&verified()), run(&record)), Next::Register, "15 minutes have passed");

    record.register_attempts.push(ago(20));
    assert!(
        matches!(next_for(Some(&verified()), run(&record)), Next::RegisterLater { .. }),
        "30 minutes after the 5th"
    );
    record.last_error.as_mut().unwrap().subcode = Some(33);
    assert_eq!(
        next_for(Some(&verified()), run(&record)),
        Next::Register,
        "only display-name provisioning waits"
    );

    assert_eq!(provisioning_spacing(1), SignedDuration::from_mins(15));
    assert_eq!(provisioning_spacing(6), SignedDuration::from_mins(60));
    assert_eq!(provisioning_spacing(9), SignedDuration::from_hours(8));
    assert_eq!(provisioning_spacing(20), SignedDuration::from_hours(12));
}

#[test]
fn registered_numbers_finish_with_the_template_check() {
    let mut record = record_for("900");
    assert_eq!(next_for(Some(&registered()), run(&record)), Next::VerifyTemplates);
    record.templates_checked_at = Some(now());
    assert_eq!(next_for(Some(&registered()), run(&record)), Next::Done);
}

#[test]
fn registered_means_a_platform_and_a_status_that_says_the_registration_took() {
    assert!(is_registered(&registered()));
    assert!(!is_registered(&node("VERIFIED", "CLOUD_API", "PENDING")), "registration still processed");
    assert!(!is_registered(&node("VERIFIED", "NOT_APPLICABLE", "CONNECTED")));
    assert!(is_registered(&node("VERIFIED", "CLOUD_API", "FLAGGED")), "degraded is drift, not a step");
    let no_status = NumberView { status: None, ..registered() };
    assert!(is_registered(&no_status), "without a status, the platform tells");
}

#[test]
fn a_node_that_says_verified_on_a_migration_this_journal_started_still_needs_a_code() {
    let mut record = record_for("900");
    record.initiated_at = Some(ago(1));
    let position = classify(Some(&verified()), Some(&record), now());
    assert_eq!(position.stage, Stage::Started { id: "900".into(), code: None });
    assert_eq!(position.doubt, Some(OwnershipDoubt::StartedHereWithoutVerification));
    assert_eq!(next(&position, run(&record)), Next::RequestCode);

    // A verify call whose answer was lost may have earned the status.
    record.verify_attempts = 1;
    assert_eq!(classify(Some(&verified()), Some(&record), now()).stage, Stage::Verified { id: "900".into() });
    record.verify_attempts = 0;

    record.verified_at = Some(ago(0));
    assert_eq!(classify(Some(&verified()), Some(&record), now()).stage, Stage::Verified { id: "900".into() });

    // Without a journal entry for the node, the node's word is all there is.
    let other = record_for("901");
    assert_eq!(classify(Some(&verified()), Some(&other), now()).stage, Stage::Verified { id: "900".into() });
}

#[test]
fn meta_asking_for_verification_before_register_sends_the_number_back_to_the_code_step() {
    let mut record = record_for("900");
    record.verified_at = Some(ago(30));
    record.ownership_required_at = Some(ago(5));
    let position = classify(Some(&verified()), Some(&record), now());
    assert!(matches!(position.stage, Stage::Started { .. }));
    assert_eq!(position.doubt, Some(OwnershipDoubt::MetaAskedForVerification));
    assert_eq!(next(&position, run(&record)), Next::RequestCode);
    assert_eq!(
        position.remaining_steps(true),
        [Step::RequestCode, Step::VerifyCode, Step::Register, Step::VerifyTemplates]
    );

    record.verified_at = Some(ago(1));
    assert_eq!(classify(Some(&verified()), Some(&record), now()).stage, Stage::Verified { id: "900".into() });
}

#[test]
fn a_migration_graph_accepted_is_confirmed_not_started_again_while_the_listing_lags() {
    let mut record = record_for("900");
    record.initiated_at = Some(ago(2));
    let position = classify(None, Some(&record), now());
    assert_eq!(position.stage, Stage::Started { id: "900".into(), code: None });
    assert_eq!(position.confirming, Some(Step::InitiateMigration));
    assert_eq!(next(&position, run(&record)), Next::RequestCode);

    record.initiated_at = Some(now() - READ_LAG_TRUST - SignedDuration::from_mins(1));
    assert_eq!(classify(None, Some(&record), now()).stage, Stage::NotStarted, "long gone: start again");
}

#[test]
fn a_verification_graph_accepted_is_believed_over_a_lagging_read() {
    let mut record = requested(3);
    record.verified_at = Some(ago(1));
    let position = classify(Some(&pending()), Some(&record), now());
    assert_eq!(position.stage, Stage::Verified { id: "900".into() });
    assert_eq!(position.confirming, Some(Step::VerifyCode));
    assert_eq!(next(&position, run(&record)), Next::Register, "never a second code because a read lags");

    // Long after a verification (which spent the code asked for before it), a number shown
    // unverified must prove ownership again, with a new code.
    let mut record = requested(75);
    record.verified_at = Some(now() - READ_LAG_TRUST - SignedDuration::from_mins(1));
    let position = classify(Some(&pending()), Some(&record), now());
    assert_eq!(position.stage, Stage::Started { id: "900".into(), code: None });
    assert_eq!(next(&position, run(&record)), Next::RequestCode);
}

#[test]
fn a_registration_graph_accepted_is_confirmed_by_reading_not_by_registering_again() {
    let mut record = record_for("900");
    record.verified_at = Some(ago(3));
    record.registered_at = Some(ago(2));
    record.register_attempts = vec![ago(2)];
    let lagging = node("VERIFIED", "NOT_APPLICABLE", "PENDING");
    let position = classify(Some(&lagging), Some(&record), now());
    assert_eq!(position.stage, Stage::Registered { id: "900".into() });
    assert_eq!(position.confirming, Some(Step::Register));
    assert_eq!(position.remaining_steps(true), [Step::VerifyTemplates]);
    record.templates_checked_at = Some(ago(1));
    assert_eq!(
        next(&position, run(&record)),
        Next::VerifyTemplates,
        "a confirmation is a read, whatever was reported"
    );

    record.registered_at = Some(now() - READ_LAG_TRUST - SignedDuration::from_mins(1));
    record.verified_at = record.registered_at;
    assert_eq!(next_for(Some(&lagging), run(&record)), Next::Register, "long gone: register again");
}

#[test]
fn remaining_steps_follow_the_stage() {
    let steps = |live: Option<&NumberView>, record: &NumberRecord, register: bool| {
        classify(live, Some(record), now()).remaining_steps(register)
    };
    let none = NumberRecord::new("1");
    use Step::*;
    assert_eq!(
        steps(None, &none, true),
        [InitiateMigration, RequestCode, VerifyCode, Register, VerifyTemplates]
    );
    assert_eq!(steps(None, &none, false), [InitiateMigration, RequestCode, VerifyCode, VerifyTemplates]);
    assert_eq!(steps(Some(&pending()), &none, true), [RequestCode, VerifyCode, Register, VerifyTemplates]);
    assert_eq!(steps(Some(&pending()), &requested(3), true), [VerifyCode, Register, VerifyTemplates]);
    assert_eq!(steps(Some(&verified()), &none, true), [Register, VerifyTemplates]);
    assert!(steps(Some(&verified()), &none, false).is_empty());
    assert!(steps(Some(&registered()), &none, true).is_empty());
    let with_platform_only = NumberView { platform_type: Some(PlatformType::CloudApi), ..verified() };
    assert_eq!(steps(Some(&with_platform_only), &none, true), [Register, VerifyTemplates], "still PENDING");
    let expired = NumberView { code_verification_status: Some(CodeVerificationStatus::Expired), ..pending() };
    assert_eq!(steps(Some(&expired), &none, true), [RequestCode, VerifyCode, Register, VerifyTemplates]);
}
