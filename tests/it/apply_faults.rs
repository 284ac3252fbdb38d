//! A hostile Graph: throttling bursts, 5xx answers and dropped connections injected by the
//! sandbox, including answers lost after the write was applied; display-name provisioning
//! (2388001) and the register budget (10 per 72 h) that must never be exceeded.

use std::time::{Duration, Instant};

use wamig::sandbox::{DropPhase, Faults};

use crate::apply_support::*;
use crate::support::*;

fn latency(millis: u64) -> Faults {
    Faults { latency: Duration::from_millis(millis), ..Faults::default() }
}

/// Runs apply until it exits 0 (see `converge`).
fn finish(rig: &Rig, digits: &str) -> Vec<std::process::Output> {
    converge(rig, digits).runs
}

/// Applies `faults` to the write of the step whose start is logged as `step_line`, and only
/// to it: the step's call is held by the sandbox's latency while the faults change, and they
/// are lifted once the call shows in the request log.
fn fault_one_write(rig: &Rig, running: &Running, step_line: &str, suffix: &str, faults: Faults) {
    running.wait_for_line(step_line);
    let before = rig.sandbox.requests().iter().filter(|r| r.path.ends_with(suffix)).count();
    rig.sandbox.set_faults(Faults { latency: Duration::from_millis(250), ..faults });
    let start = Instant::now();
    while rig.sandbox.requests().iter().filter(|r| r.path.ends_with(suffix)).count() == before {
        assert!(start.elapsed() < Duration::from_secs(10), "{suffix} never came");
        std::thread::sleep(Duration::from_millis(2));
    }
    rig.sandbox.set_faults(Faults::default());
}

#[test]
fn throttling_bursts_at_start_and_on_a_write_are_waited_out() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    rig.sandbox.set_faults(Faults { throttle_burst: 3, ..latency(250) });
    let running = Running::spawn(apply_command(&rig, &[]));
    fault_one_write(
        &rig,
        &running,
        "starting the migration",
        "/phone_numbers",
        Faults { throttle_burst: 2, ..Faults::default() },
    );
    let output = running.finish();
    assert_eq!(output.status.code(), Some(3), "{}", transcript(&output));
    let throttled = rig.sandbox.requests().iter().filter(|r| r.fault.as_deref() == Some("throttle")).count();
    assert!(throttled >= 4, "{throttled} throttled answers");
    assert_eq!(posts_applied(&rig, "/104996122399160/phone_numbers"), 1);
    finish(&rig, ORDERS_DIGITS);
}

#[test]
fn an_initiate_whose_answer_is_lost_is_not_repeated() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    rig.sandbox.set_faults(latency(250));
    let running = Running::spawn(apply_command(&rig, &[]));
    let lost = Faults { drop_rate: 1.0, drop_phase: DropPhase::AfterWrite, ..Faults::default() };
    fault_one_write(&rig, &running, "starting the migration", "/phone_numbers", lost);
    let output = running.finish();
    assert_eq!(output.status.code(), Some(3), "{}", transcript(&output));
    assert_eq!(
        posts(&rig, "/104996122399160/phone_numbers"),
        1,
        "the migration was found, not started again"
    );
    assert_eq!(posts(&rig, "/request_code"), 1);
    assert!(rig.journal()["numbers"]["+16315550102"]["phone_number_id"].is_string());
    finish(&rig, ORDERS_DIGITS);
}

#[test]
fn a_code_request_whose_answer_is_lost_is_not_repeated() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    rig.sandbox.set_faults(latency(250));
    let running = Running::spawn(apply_command(&rig, &[]));
    let lost = Faults { drop_rate: 1.0, drop_phase: DropPhase::AfterWrite, ..Faults::default() };
    fault_one_write(&rig, &running, "requesting a code by SMS", "/request_code", lost);
    let output = running.finish();
    assert_eq!(output.status.code(), Some(3), "{}", transcript(&output));
    assert_eq!(posts(&rig, "/request_code"), 1, "a code may be on its way: none asked for again");
    assert!(rig.outbox.join(ORDERS_DIGITS).exists());
    let again = apply(&rig, &[]);
    assert_eq!(again.status.code(), Some(3));
    assert_eq!(posts(&rig, "/request_code"), 1, "still within the cooldown");
    finish(&rig, ORDERS_DIGITS);
}

#[test]
fn a_verify_and_a_register_whose_answers_are_lost_are_read_back() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    assert_eq!(apply(&rig, &[]).status.code(), Some(3));
    rig.sandbox.set_faults(latency(250));
    let mut command = apply_command(&rig, &[]);
    command.env(format!("WAMIG_CODE_{ORDERS_DIGITS}"), rig.sent_code(ORDERS_DIGITS));
    let running = Running::spawn(command);
    let lost = Faults { drop_rate: 1.0, drop_phase: DropPhase::AfterWrite, ..Faults::default() };
    fault_one_write(&rig, &running, "verifying the code", "/verify_code", lost.clone());
    rig.sandbox.set_faults(latency(250));
    fault_one_write(&rig, &running, "registering on the Cloud API", "/register", lost);
    let output = running.finish();
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    assert_eq!(posts(&rig, "/verify_code"), 1, "verified: the re-read told");
    assert_eq!(posts(&rig, "/register"), 1, "registered: the re-read told");
}

#[test]
fn server_errors_and_dropped_connections_throughout_still_finish() {
    for (seed, error_rate, drop_rate) in [(7, 0.25, 0.0), (11, 0.0, 0.2), (23, 0.15, 0.15)] {
        let rig = Rig::new(&manifest(&[ORDERS]));
        rig.sandbox.set_faults(Faults { error_rate, drop_rate, seed, ..Faults::default() });
        let runs = finish(&rig, ORDERS_DIGITS);
        let faults = rig.sandbox.requests().iter().filter(|r| r.fault.is_some()).count();
        assert!(faults > 0, "seed {seed}: faults were injected");
        assert_eq!(
            posts_applied(&rig, "/104996122399160/phone_numbers"),
            1,
            "seed {seed}: one migration\n{}",
            runs.iter().map(transcript).collect::<Vec<_>>().join("\n")
        );
        assert!(posts_applied(&rig, "/request_code") <= runs.len(), "seed {seed}: at most one code per run");
        let plan = rig.wamig().args(["plan", "--detailed-exitcode"]).output().unwrap();
        assert_eq!(plan.status.code(), Some(0), "seed {seed}: {}", transcript(&plan));
    }
}

#[test]
fn register_is_retried_while_the_display_name_is_provisioned() {
    let rig = Rig::new(&manifest(&[SUPPORT]));
    assert_eq!(apply(&rig, &[]).status.code(), Some(3));
    rig.deliver_code(SUPPORT_DIGITS);
    let output = apply(&rig, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    let err = stderr(&output);
    assert!(err.contains("the display name is still being provisioned; registering again in 10ms"), "{err}");
    assert_eq!(posts(&rig, "/register"), 2);
    let record = &rig.journal()["numbers"]["+16315550101"];
    assert_eq!(record["register_attempts"].as_array().unwrap().len(), 2);
}

/// Moves every time the journal remembers for `phone` back by `by`, as if the runs so far had
/// happened that much earlier.
fn age_journal(rig: &Rig, phone: &str, by: jiff::SignedDuration) {
    let path = rig.path().join(".wamig/state.json");
    let mut journal = rig.journal();
    let shift = |value: &mut serde_json::Value| {
        if let Some(at) = value.as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok()) {
            *value = (at - by).to_string().into();
        }
    };
    let record = &mut journal["numbers"][phone];
    for attempt in record["register_attempts"].as_array_mut().into_iter().flatten() {
        shift(attempt);
    }
    shift(&mut record["last_error"]["at"]);
    std::fs::write(path, serde_json::to_string_pretty(&journal).unwrap()).unwrap();
}

fn register_attempts(rig: &Rig, phone: &str) -> usize {
    rig.journal()["numbers"][phone]["register_attempts"].as_array().map_or(0, Vec::len)
}

#[test]
fn the_register_budget_is_never_exceeded_and_reruns_are_spaced_out() {
    let world = wamig::sandbox::EXAMPLE_WORLD.replace("register_failures: 1", "register_failures: 50");
    let rig = Rig::with_world(&world, &manifest(&[SUPPORT]));
    assert_eq!(apply(&rig, &[]).status.code(), Some(3));
    rig.deliver_code(SUPPORT_DIGITS);
    let first = apply(&rig, &[]);
    assert_eq!(first.status.code(), Some(1), "{}", transcript(&first));
    assert_eq!(posts(&rig, "/register"), 3, "one call and the two retries of --register-backoff");

    // Run again at once: Meta is still busy, so no call is spent.
    let too_soon = apply(&rig, &[]);
    assert_eq!(too_soon.status.code(), Some(1), "{}", transcript(&too_soon));
    assert_eq!(posts(&rig, "/register"), 3);
    assert!(stdout(&too_soon).contains("no register call before"), "{}", transcript(&too_soon));
    let status = rig.wamig().arg("status").output().unwrap();
    assert!(
        stdout(&status)
            .contains("Meta is still provisioning the display name: apply calls register again after"),
        "{}",
        transcript(&status)
    );

    let mut last = None;
    for _ in 0..8 {
        let attempts = register_attempts(&rig, "+16315550101");
        let wait = wamig::migration::provisioning_spacing(attempts);
        age_journal(&rig, "+16315550101", wait + jiff::SignedDuration::from_mins(1));
        let output = apply(&rig, &[]);
        assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
        last = Some(output);
    }
    let last = last.unwrap();
    assert_eq!(posts(&rig, "/register"), 10, "the whole budget, no more");
    assert!(rig.sandbox.requests().iter().all(|r| r.error_code != Some(133016)), "never over Meta's limit");
    assert_eq!(register_attempts(&rig, "+16315550101"), 10, "the journal counts them all");
    assert!(
        stdout(&last).contains("10 register calls in the last 72 hours, Meta allows 10: no more is made")
    );
    with_filters(&rig.filters(), || {
        insta::assert_snapshot!("provisioning_gives_up", summary(&first));
        insta::assert_snapshot!("provisioning_too_soon", summary(&too_soon));
        insta::assert_snapshot!("budget_spent", summary(&last));
    });
}
