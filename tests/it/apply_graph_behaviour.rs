//! `wamig plan` and `wamig apply` against a sandbox switched to Graph behaviours Meta does not
//! document (or documents loosely) but real integrations meet: reads that lag writes, a migrated
//! node that says VERIFIED before any code, WABA fields refused to the app, WABAs run on behalf
//! of a client, definite refusals of writes, and a source that keeps the number until the
//! destination registers it; then all of them at once. Each runs the real binary and counts the
//! writes the sandbox received: none may be repeated because Graph behaved unexpectedly.

use std::time::Duration;

use wamig::sandbox::{Faults, OptionsPatch, Refusal, TokenPatch, WriteOperation};

use crate::apply_support::*;
use crate::support::*;

const ORDERS_E164: &str = "+16315550102";

/// The example world with each `(from, to)` replaced once (e.g. `("read_lag: 0s", "read_lag:
/// 2s")`: the example world lists every behaviour switched off).
fn world(changes: &[(&str, &str)]) -> String {
    let mut text = wamig::sandbox::EXAMPLE_WORLD.to_owned();
    for (from, to) in changes {
        assert_eq!(text.matches(from).count(), 1, "the example world changed: {from}");
        text = text.replace(from, to);
    }
    text
}

/// Apply reads its codes where the sandbox writes them and waits for them, so one run goes
/// from start to end: every write, then the reads that confirm them, inside the lag.
fn straight_through<'a>(rig: &'a Rig, extra: &[&'a str]) -> Vec<String> {
    let mut args: Vec<String> =
        ["--codes-dir", rig.outbox.to_str().unwrap(), "--wait-for-codes", "30s"].map(str::to_owned).to_vec();
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    args
}

/// Reads of the new node that Graph answered as for an unknown id: the reads lagged.
fn lagging_reads(rig: &Rig) -> usize {
    let id = rig.journal()["numbers"][ORDERS_E164]["phone_number_id"].as_str().unwrap().to_owned();
    rig.sandbox
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with(&format!("/{id}")))
        .filter(|r| r.error_subcode == Some(33))
        .count()
}

fn run(rig: &Rig, args: &[String]) -> std::process::Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    apply(rig, &args)
}

/// The migration writes the sandbox received for +1 631-555-0102: migration POSTs, code
/// requests, verifications, registrations.
fn write_counts(rig: &Rig) -> [usize; 4] {
    [
        posts(rig, &format!("/{DESTINATION_WABA}/phone_numbers")),
        posts(rig, "/request_code"),
        posts(rig, "/verify_code"),
        posts(rig, "/register"),
    ]
}

#[test]
fn with_read_lag_a_number_migrates_with_one_call_of_each_write() {
    let rig = Rig::with_world(&world(&[("read_lag: 0s", "read_lag: 500ms")]), &manifest(&[ORDERS]));
    let args = straight_through(&rig, &["--confirm-backoff", "100ms,200ms,400ms,800ms,1600ms"]);
    let output = run(&rig, &args);
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    assert_eq!(write_counts(&rig), [1, 1, 1, 1], "{}", transcript(&output));
    assert!(lagging_reads(&rig) > 0, "apply read while Graph lagged");
    let record = &rig.journal()["numbers"][ORDERS_E164];
    assert!(record["registered_at"].is_string() && record["last_error"].is_null(), "{record}");
}

#[test]
fn a_read_lag_longer_than_the_waits_ends_confirming_and_the_next_run_repeats_no_write() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    let lag = OptionsPatch { read_lag: Some("10m".into()), ..OptionsPatch::default() };
    rig.sandbox.patch_options(&lag).unwrap();
    let args = straight_through(&rig, &["--confirm-backoff", "10ms,20ms"]);
    let first = run(&rig, &args);
    assert_eq!(first.status.code(), Some(3), "{}", transcript(&first));
    assert!(stdout(&first).contains("confirming  Graph accepted"), "{}", transcript(&first));
    assert_eq!(write_counts(&rig), [1, 1, 1, 1], "{}", transcript(&first));
    assert!(lagging_reads(&rig) > 0, "apply read while Graph lagged");

    // Once Graph's reads catch up, the next run confirms what the first did.
    rig.sandbox.advance_clock(Duration::from_secs(10 * 60));
    let second = run(&rig, &args);
    assert_eq!(second.status.code(), Some(0), "{}", transcript(&second));
    assert_eq!(write_counts(&rig), [1, 1, 1, 1], "no write repeated: {}", transcript(&second));
}

/// Apply's POSTs for the number with the error code each got, in order: `("register",
/// Some(133006))`.
fn calls(rig: &Rig) -> Vec<(String, Option<i64>)> {
    rig.sandbox
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && !r.params.contains_key("batch"))
        .map(|r| (r.path.rsplit('/').next().unwrap_or_default().to_owned(), r.error_code))
        .collect()
}

fn verified_on_migration() -> String {
    world(&[("verified_on_migration: false", "verified_on_migration: true")])
}

#[test]
fn a_node_that_says_verified_on_migration_still_gets_a_code_before_register() {
    let rig = Rig::with_world(&verified_on_migration(), &manifest(&[ORDERS]));
    let output = run(&rig, &straight_through(&rig, &[]));
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    let calls: Vec<String> = calls(&rig).into_iter().map(|(call, _)| call).collect();
    assert_eq!(
        calls,
        ["phone_numbers", "request_code", "verify_code", "register"],
        "{}",
        transcript(&output)
    );
}

#[test]
fn verified_on_migration_with_a_lost_journal_spends_at_most_two_register_calls() {
    let rig = Rig::with_world(&verified_on_migration(), &manifest(&[ORDERS]));
    let first = apply(&rig, &[]);
    assert_eq!(first.status.code(), Some(3), "{}", transcript(&first));
    std::fs::remove_file(rig.path().join(".wamig/state.json")).unwrap();

    // Nothing says ownership was not proven but Meta: one register call, 133006, then a new code.
    let second = apply(&rig, &[]);
    assert_eq!(second.status.code(), Some(3), "{}", transcript(&second));
    let third = apply_command(&rig, &[])
        .env(format!("WAMIG_CODE_{ORDERS_DIGITS}"), rig.sent_code(ORDERS_DIGITS))
        .output()
        .unwrap();
    assert_eq!(third.status.code(), Some(0), "{}", transcript(&third));

    let registers: Vec<Option<i64>> =
        calls(&rig).into_iter().filter(|(call, _)| call == "register").map(|(_, code)| code).collect();
    assert_eq!(registers, [Some(133006), None], "{}", transcript(&second));
    assert_eq!(write_counts(&rig), [1, 2, 1, 2]);
}

/// The example's partner token is refused the fields apps without a Solution Partner's access
/// may be refused.
fn refuse_fields(rig: &Rig, code: i64) {
    let patch = TokenPatch {
        refused_fields: Some(vec!["primary_funding_id".into(), "owner_business_info".into()]),
        refused_field_code: Some(code),
    };
    rig.sandbox.patch_token("acme-cloud-system-user", &patch).unwrap();
}

#[test]
fn refused_fields_make_checks_unknown_naming_the_field_and_the_number_still_migrates() {
    for code in [200, 10] {
        let rig = Rig::new(&manifest(&[ORDERS]));
        refuse_fields(&rig, code);
        let plan = rig.wamig().arg("plan").output().unwrap();
        let text = transcript(&plan);
        assert_eq!(plan.status.code(), Some(0), "{text}");
        assert!(text.contains("? destination.payment_method: Graph refused primary_funding_id"), "{text}");
        assert!(text.contains("? same_business: ") && text.contains("refused owner_business_info"), "{text}");
        assert!(!text.to_lowercase().contains("grant"), "never a hint to grant access: {text}");

        let output = run(&rig, &straight_through(&rig, &[]));
        assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
        assert_eq!(write_counts(&rig), [1, 1, 1, 1]);
        let refused = rig.sandbox.requests().iter().filter(|r| r.error_code == Some(code)).count();
        assert!(refused > 0, "Graph refused some reads with {code}");
    }
}

/// The example world where the old partner's business owns the source WABA, run on behalf of
/// Acme Retail (`for_client`) or for the partner itself.
fn partner_owned_source(for_client: bool) -> String {
    let owner = if for_client {
        "business: \"333333333333333\"\n    on_behalf_of_business: \"111111111111111\"\n"
    } else {
        "business: \"333333333333333\"\n"
    };
    world(&[
        ("businesses:\n", "businesses:\n  - id: \"333333333333333\"\n    name: Legacy BSP Ltd\n"),
        (
            "name: acme-legacy\n    business: \"111111111111111\"\n",
            &format!("name: acme-legacy\n    {owner}"),
        ),
    ])
}

#[test]
fn a_source_run_on_behalf_of_the_client_represents_the_client_and_migrates() {
    let rig = Rig::with_world(&partner_owned_source(true), &manifest(&[ORDERS]));
    let plan = rig.wamig().arg("plan").output().unwrap();
    let text = transcript(&plan);
    assert!(text.contains("checks: 17 passed"), "{text}");
    let verbose = transcript(&rig.wamig().args(["plan", "--format", "json"]).output().unwrap());
    assert!(verbose.contains("both represent business 111111111111111 (Acme Retail Ltd)"), "{verbose}");

    let output = run(&rig, &straight_through(&rig, &[]));
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    assert_eq!(write_counts(&rig), [1, 1, 1, 1]);
}

#[test]
fn a_source_that_represents_another_business_is_blocked_by_the_plan() {
    let rig = Rig::with_world(&partner_owned_source(false), &manifest(&[ORDERS]));
    let plan = rig.wamig().arg("plan").output().unwrap();
    let text = transcript(&plan);
    assert!(
        text.contains("✗ same_business: WABA 104996122399160 (acme-cloud) represents business 111111111111111 (Acme Retail Ltd), WABA 102289599326934 (acme-legacy) business 333333333333333 (Legacy BSP Ltd)"),
        "{text}"
    );
    let output = apply(&rig, &[]);
    assert_eq!(output.status.code(), Some(4), "{}", transcript(&output));
    assert_eq!(writes(&rig), 0, "Meta is not asked: {}", transcript(&output));
}

fn refuse(rig: &Rig, refusals: Vec<Refusal>) {
    rig.sandbox.set_faults(Faults { refuse: refusals, ..Faults::default() });
}

fn refusal(operation: WriteOperation, code: i64, message: &str, times: Option<u32>) -> Refusal {
    Refusal { operation, code, subcode: None, status: 400, message: Some(message.into()), times }
}

const CANNOT_ADD: &str = "(#200000) Cannot add phone number to WhatsApp Business Account";

#[test]
fn a_refused_migration_post_is_made_once_and_stops_with_a_hint() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    refuse(&rig, vec![refusal(WriteOperation::InitiateMigration, 200_000, CANNOT_ADD, None)]);
    let output = apply(&rig, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    assert_eq!(write_counts(&rig), [1, 0, 0, 0], "one call, no retry loop");
    with_filters(&rig.filters(), || insta::assert_snapshot!("refused_migration_post", summary(&output)));
}

#[test]
fn a_refused_code_request_stops_without_waiting_for_an_sms() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    refuse(&rig, vec![refusal(WriteOperation::RequestCode, 100, "(#100) Invalid parameter", Some(1))]);
    let output = apply(&rig, &["--wait-for-codes", "30s"]);
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    assert_eq!(write_counts(&rig), [1, 1, 0, 0], "one call, no retry loop");
    with_filters(&rig.filters(), || insta::assert_snapshot!("refused_code_request", summary(&output)));
    // No code was sent, so none is counted: the next run asks for one at once.
    let record = &rig.journal()["numbers"][ORDERS_E164];
    assert_eq!(record["code_requests"], 0, "{record}");
    let next = apply(&rig, &[]);
    assert_eq!(next.status.code(), Some(3), "{}", transcript(&next));
    assert_eq!(write_counts(&rig), [1, 2, 0, 0]);
}

fn keeps_until_registered() -> String {
    world(&[("source_keeps_until_registered: false", "source_keeps_until_registered: true")])
}

#[test]
fn a_source_keeping_the_number_is_reported_as_the_source_read_shows_it() {
    // Not registered by wamig: the source still lists the number after verification.
    let unregistered = format!(
        "version: 1\ndestinations:\n  - waba: \"{DESTINATION_WABA}\"\n    numbers:\n      - phone: \"{ORDERS}\"\n        source_waba: \"{SOURCE_WABA}\"\n        register: false\n"
    );
    let rig = Rig::with_world(&keeps_until_registered(), &unregistered);
    let output = run(&rig, &straight_through(&rig, &[]));
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    assert!(stdout(&output).contains("still listed by the source (CONNECTED)"), "{}", transcript(&output));
    assert_eq!(write_counts(&rig), [1, 1, 1, 0]);

    // Registered: the source let it go when the destination registered it.
    let rig = Rig::with_world(&keeps_until_registered(), &manifest(&[ORDERS]));
    let output = run(&rig, &straight_through(&rig, &[]));
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    assert!(
        stdout(&output).contains("registered, status CONNECTED, gone from the source"),
        "{}",
        transcript(&output)
    );
}

/// The "done when": every behaviour at once, and each write refused once on top.
#[test]
fn with_every_behaviour_on_the_number_still_migrates_and_each_refusal_ends_its_run_clearly() {
    let mut text = partner_owned_source(true);
    for (from, to) in [
        ("read_lag: 0s", "read_lag: 300ms"),
        ("verified_on_migration: false", "verified_on_migration: true"),
        ("source_keeps_until_registered: false", "source_keeps_until_registered: true"),
    ] {
        text = text.replace(from, to);
    }
    let rig = Rig::with_world(&text, &manifest(&[ORDERS]));
    refuse_fields(&rig, 200);
    refuse(
        &rig,
        vec![
            refusal(WriteOperation::InitiateMigration, 200_000, CANNOT_ADD, Some(1)),
            refusal(WriteOperation::RequestCode, 100, "(#100) Invalid parameter", Some(1)),
            refusal(WriteOperation::VerifyCode, 100, "(#100) Invalid parameter", Some(1)),
            refusal(WriteOperation::Register, 100, "(#100) Invalid parameter", Some(1)),
        ],
    );
    let args = straight_through(&rig, &["--confirm-backoff", "100ms,200ms,400ms,800ms"]);
    let mut before = write_counts(&rig);
    let mut runs = Vec::new();
    loop {
        let output = run(&rig, &args);
        let after = write_counts(&rig);
        assert!(after[0] - before[0] <= 1, "one migration POST per run: {}", transcript(&output));
        assert!(after[1] - before[1] <= 1, "one code request per run: {}", transcript(&output));
        before = after;
        let code = output.status.code();
        runs.push(output);
        let output = runs.last().unwrap();
        match code {
            Some(0) => break,
            // A refusal ends its run with the error and a hint, never a retry.
            Some(1) => {
                let out = stdout(output);
                assert!(
                    out.contains("error: +16315550102: POST") && out.contains("\nhint: "),
                    "{}",
                    transcript(output)
                );
            }
            _ => panic!("unexpected end of a run: {}", transcript(output)),
        }
        assert!(runs.len() < 8, "apply did not converge: {}", transcript(output));
    }
    assert_eq!(runs.len(), 5, "four refusals, one run each, then the migration ends");

    let requests = rig.sandbox.requests();
    let sent = |suffix: &str| {
        requests
            .iter()
            .filter(|r| r.method == "POST" && r.path.ends_with(suffix) && r.fault.is_none())
            .count()
    };
    assert_eq!(sent("/request_code"), 1, "one code sent, within one cooldown");
    assert!(posts(&rig, "/register") <= 2, "{:?}", write_counts(&rig));
    let nodes = rig.sandbox.numbers_for_phone(ORDERS);
    let destination = nodes.iter().find(|n| n.waba_id == DESTINATION_WABA).unwrap();
    assert_eq!(destination.status, wamig::sandbox::NumberStatus::Connected);
    assert!(!nodes.iter().any(|n| n.waba_id == SOURCE_WABA && n.exists), "the source let it go");
}
