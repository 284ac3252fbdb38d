//! What apply checks and honours before and around its writes: saved plans (stale, for another
//! manifest, expired), `--target`, `--max-migrations`, `--parallelism`, the confirmation, PINs,
//! and `wamig status` after a pause and after completion.

use std::time::Duration;

use crate::apply_support::*;
use crate::support::*;

fn save_plan(rig: &Rig) {
    let output = rig.wamig().args(["plan", "--out", "plan.json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
}

#[test]
fn a_fresh_saved_plan_is_applied() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    save_plan(&rig);
    let output = apply(&rig, &["plan.json"]);
    assert_eq!(output.status.code(), Some(3), "{}", transcript(&output));
    assert!(stderr(&output).contains("applying the saved plan plan.json"), "{}", transcript(&output));
}

#[test]
fn a_saved_plan_is_refused_when_the_live_state_changed() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    save_plan(&rig);
    // Someone changes the number in WhatsApp Manager after the plan was reviewed.
    let patch = serde_json::from_value(serde_json::json!({"quality_rating": "YELLOW"})).unwrap();
    rig.sandbox.patch_number("106540352242923", &patch).unwrap();
    let output = apply(&rig, &["plan.json"]);
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    assert_eq!(writes(&rig), 0, "nothing was done");
    with_filters(&rig.filters(), || insta::assert_snapshot!(transcript(&output)));
}

#[test]
fn a_saved_plan_is_refused_when_the_manifest_changed() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    save_plan(&rig);
    std::fs::write(rig.path().join("wamig.yaml"), manifest(&[ORDERS, RETURNS])).unwrap();
    let output = apply(&rig, &["plan.json"]);
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    assert_eq!(writes(&rig), 0);
    with_filters(&rig.filters(), || insta::assert_snapshot!(transcript(&output)));
}

#[test]
fn a_saved_plan_past_its_time_to_live_is_refused() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    save_plan(&rig);
    let path = rig.path().join("plan.json");
    let mut plan: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let created: jiff::Timestamp = plan["created_at"].as_str().unwrap().parse().unwrap();
    let ttl = plan["ttl_seconds"].as_i64().unwrap();
    plan["created_at"] = (created - jiff::SignedDuration::from_secs(ttl + 60)).to_string().into();
    std::fs::write(&path, serde_json::to_string_pretty(&plan).unwrap()).unwrap();
    let output = apply(&rig, &["plan.json"]);
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    assert_eq!(writes(&rig), 0);
    with_filters(&rig.filters(), || insta::assert_snapshot!(transcript(&output)));
}

#[test]
fn target_acts_on_the_named_numbers_only() {
    let rig = Rig::new(&manifest(&[ORDERS, RETURNS]));
    let output = apply(&rig, &["--target", "+1 (631) 555-0103"]);
    assert_eq!(output.status.code(), Some(3), "{}", transcript(&output));
    assert_eq!(posts(&rig, "/104996122399160/phone_numbers"), 1);
    assert!(rig.outbox.join(RETURNS_DIGITS).exists());
    assert!(!rig.outbox.join(ORDERS_DIGITS).exists());
    assert!(rig.journal()["numbers"].get("+16315550102").is_none());

    let unknown = apply(&rig, &["--target", "+1 631-555-0177"]);
    assert_eq!(unknown.status.code(), Some(1), "{}", transcript(&unknown));
    let bad = apply(&rig, &["--target", "631-555"]);
    assert_eq!(bad.status.code(), Some(1), "{}", transcript(&bad));
    with_filters(&rig.filters(), || {
        insta::assert_snapshot!("target_unknown", transcript(&unknown));
        insta::assert_snapshot!("target_bad", transcript(&bad));
    });
}

#[test]
fn max_migrations_exceeded_does_nothing() {
    let rig = Rig::new(&manifest(&[ORDERS, RETURNS]));
    let output = apply(&rig, &["--max-migrations", "1"]);
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    assert_eq!(writes(&rig), 0, "nothing was done");
    assert!(
        !rig.path().join(".wamig/state.json").exists()
            || rig.journal()["numbers"].as_object().unwrap().is_empty()
    );
    let err = stderr(&output);
    assert!(
        err.contains("error: this apply would start 2 new migrations, more than --max-migrations 1"),
        "{err}"
    );

    // With one number targeted the same limit is enough; resumed numbers do not count.
    let one = apply(&rig, &["--max-migrations", "1", "--target", ORDERS]);
    assert_eq!(one.status.code(), Some(3), "{}", transcript(&one));
    let both = apply(&rig, &["--max-migrations", "1"]);
    assert_eq!(both.status.code(), Some(3), "one resume and one migration: {}", transcript(&both));
    with_filters(&rig.filters(), || insta::assert_snapshot!(stderr(&output)));
}

/// The order in which numbers logged `what`.
fn order_of(lines: &str, what: &str) -> Vec<usize> {
    lines.lines().enumerate().filter(|(_, l)| l.contains(what)).map(|(i, _)| i).collect()
}

#[test]
fn parallelism_bounds_how_many_numbers_run_at_once() {
    let rig = Rig::new(&manifest(&[SUPPORT, ORDERS, RETURNS]));
    set_latency(&rig, 150);
    let serial = apply(&rig, &["--parallelism", "1"]);
    assert_eq!(serial.status.code(), Some(3), "{}", transcript(&serial));
    let err = stderr(&serial);
    let starts = order_of(&err, "starting the migration");
    let requested = order_of(&err, "code requested by SMS");
    assert_eq!(starts.len(), 3);
    for n in 0..2 {
        assert!(requested[n] < starts[n + 1], "one number after the other:\n{err}");
    }
    // In manifest order.
    let numbers: Vec<&str> = err.lines().filter(|l| l.contains("starting the migration")).collect();
    assert!(numbers[0].starts_with("+16315550101") && numbers[2].starts_with("+16315550103"), "{err}");

    let rig = Rig::new(&manifest(&[SUPPORT, ORDERS, RETURNS]));
    set_latency(&rig, 150);
    let parallel = apply(&rig, &["--parallelism", "3"]);
    assert_eq!(parallel.status.code(), Some(3), "{}", transcript(&parallel));
    let err = stderr(&parallel);
    let starts = order_of(&err, "starting the migration");
    let started = order_of(&err, "migration started");
    assert!(starts[2] < started[0], "all three start before the first answer:\n{err}");
}

#[test]
fn without_auto_approve_and_no_terminal_apply_refuses() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    let output = rig.wamig().arg("apply").stdin(std::process::Stdio::null()).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    assert_eq!(writes(&rig), 0);
    with_filters(&rig.filters(), || insta::assert_snapshot!(stderr(&output)));
}

#[test]
fn a_missing_or_bad_pin_is_found_before_the_first_write() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    let missing = apply_command(&rig, &[]).env_remove("WAMIG_PIN").output().unwrap();
    assert_eq!(missing.status.code(), Some(1), "{}", transcript(&missing));
    let bad = apply_command(&rig, &[]).env("WAMIG_PIN", "12345").output().unwrap();
    assert_eq!(bad.status.code(), Some(1), "{}", transcript(&bad));
    assert_eq!(writes(&rig), 0);
    assert!(!stderr(&bad).contains("12345"));
    with_filters(&rig.filters(), || {
        insta::assert_snapshot!("pin_missing", stderr(&missing));
        insta::assert_snapshot!("pin_bad", stderr(&bad));
    });
}

#[test]
fn status_after_a_pause_and_after_completion() {
    let rig = Rig::new(&manifest(&[SUPPORT, ORDERS]));
    let fresh = rig.wamig().arg("status").output().unwrap();
    assert_eq!(fresh.status.code(), Some(0), "{}", transcript(&fresh));
    assert_eq!(apply(&rig, &["--parallelism", "1"]).status.code(), Some(3));
    let paused = rig.wamig().arg("status").output().unwrap();
    assert_eq!(paused.status.code(), Some(0), "{}", transcript(&paused));
    rig.deliver_code(SUPPORT_DIGITS);
    rig.deliver_code(ORDERS_DIGITS);
    let done = apply(&rig, &["--parallelism", "1"]);
    assert_eq!(done.status.code(), Some(0), "{}", transcript(&done));
    let finished = rig.wamig().arg("status").output().unwrap();
    assert_eq!(finished.status.code(), Some(0), "{}", transcript(&finished));
    std::thread::sleep(Duration::from_millis(1));
    with_filters(&rig.filters(), || {
        insta::assert_snapshot!("status_fresh", transcript(&fresh));
        insta::assert_snapshot!("status_paused", transcript(&paused));
        insta::assert_snapshot!("status_done", transcript(&finished));
    });
}
