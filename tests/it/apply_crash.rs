//! An apply that dies or is stopped part-way: `kill -9` at several points then a rerun that
//! converges without repeating a migration or asking for a second code, the lock left behind
//! being taken over; two applies at once; Ctrl-C finishing the call in flight.

use std::time::{Duration, Instant};

use crate::apply_support::*;
use crate::support::*;

#[derive(PartialEq)]
enum Code {
    /// The run killed needs no code.
    None,
    /// It has the code in its environment.
    Env,
    /// It has the code in the codes directory.
    File,
}

/// The apply to be killed; when it is to have a code, a first run has requested one.
fn apply_holding(rig: &Rig, code: Code) -> std::process::Command {
    let mut command = apply_command(rig, &[]);
    if code != Code::None {
        assert_eq!(apply(rig, &[]).status.code(), Some(3));
    }
    match code {
        Code::None => {}
        Code::Env => {
            command.env(format!("WAMIG_CODE_{ORDERS_DIGITS}"), rig.sent_code(ORDERS_DIGITS));
        }
        Code::File => rig.deliver_code(ORDERS_DIGITS),
    }
    command
}

fn kill_during(step_line: &str, code: Code) {
    let rig = Rig::new(&manifest(&[ORDERS]));
    let command = apply_holding(&rig, code);
    // Every answer takes 150 ms, so the kill lands while the step's call is in flight.
    set_latency(&rig, 150);
    let running = Running::spawn(command);
    running.wait_for_line(step_line);
    std::thread::sleep(Duration::from_millis(30));
    let pid = running.pid();
    running.signal("KILL");
    let killed = running.finish();
    assert_eq!(killed.status.code(), None, "killed by a signal: {}", transcript(&killed));
    // Let a call the sandbox was still holding finish before the rerun looks.
    std::thread::sleep(Duration::from_millis(200));
    set_latency(&rig, 0);

    let converged = converge(&rig, ORDERS_DIGITS);
    let (rerun, resent) = (stderr(&converged.runs[0]), converged.resent);
    assert!(
        rerun.contains(&format!("took over the journal lock left by `wamig apply` (pid {pid}")),
        "{step_line}: {rerun}"
    );
    assert_eq!(posts(&rig, "/104996122399160/phone_numbers"), 1, "{step_line}: the migration started once");
    // Either no second code within the cooldown, or, once it passed, the resend was the only one.
    let requested = posts_applied(&rig, "/request_code");
    assert_eq!(requested, 1, "{step_line}: one code requested in all (resent after the cooldown: {resent})");
    // The journal counts a call before making it, so a call cut short by the kill is counted
    // even when it never reached Graph: never fewer than Graph saw, at most the one killed.
    let journal = rig.journal();
    let record = &journal["numbers"]["+16315550102"];
    let registers = record["register_attempts"].as_array().map_or(0, Vec::len);
    let seen = posts(&rig, "/register");
    assert!((seen..=seen + 1).contains(&registers), "{step_line}: {registers} counted, {seen} made");
    let verifies = record["verify_attempts"].as_u64().unwrap() as usize;
    let seen = posts(&rig, "/verify_code");
    assert!((seen..=seen + 1).contains(&verifies), "{step_line}: {verifies} counted, {seen} made");
    let plan = rig.wamig().args(["plan", "--detailed-exitcode"]).output().unwrap();
    assert_eq!(plan.status.code(), Some(0), "{step_line}: {}", transcript(&plan));
    assert!(!rig.code_file(ORDERS_DIGITS).exists(), "{step_line}: an accepted code file does not linger");
}

#[test]
fn killed_while_starting_the_migration() {
    kill_during("starting the migration", Code::None);
}

#[test]
fn killed_right_after_the_migration_started() {
    kill_during("migration started (id", Code::None);
}

#[test]
fn killed_while_requesting_a_code() {
    kill_during("requesting a code by SMS", Code::None);
}

#[test]
fn killed_while_verifying_the_code() {
    kill_during("verifying the code from", Code::Env);
}

#[test]
fn killed_while_verifying_a_code_from_a_file() {
    kill_during("verifying the code from", Code::File);
}

#[test]
fn killed_while_registering() {
    kill_during("registering on the Cloud API", Code::File);
}

#[test]
fn a_second_apply_fails_at_once_naming_the_holder() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    set_latency(&rig, 150);
    let first = Running::spawn(apply_command(&rig, &[]));
    first.wait_for_line("starting the migration");
    let started = Instant::now();
    let second = apply(&rig, &[]);
    assert!(started.elapsed() < Duration::from_secs(2), "it does not wait for the lock");
    assert_eq!(second.status.code(), Some(1), "{}", transcript(&second));
    let err = stderr(&second);
    assert!(err.contains(&format!("is locked by `wamig apply` (pid {} on", first.pid())), "{err}");
    assert!(err.contains("hint: another wamig apply is running"), "{err}");
    let pid = first.pid();
    let output = first.finish();
    assert_eq!(output.status.code(), Some(3), "{}", transcript(&output));
    with_filters(&rig.filters(), || {
        let mut settings = insta::Settings::clone_current();
        settings
            .add_filter(&format!(r"pid {pid} on [^,]+, since [^)]+\)"), "pid [PID] on [HOST], since [TIME])");
        settings.bind(|| insta::assert_snapshot!(transcript(&second)));
    });
}

#[test]
fn ctrl_c_lets_the_call_in_flight_finish_saves_progress_and_exits_130() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    set_latency(&rig, 300);
    let running = Running::spawn(apply_command(&rig, &[]));
    running.wait_for_line("requesting a code by SMS");
    std::thread::sleep(Duration::from_millis(50));
    running.signal("INT");
    let output = running.finish();
    assert_eq!(output.status.code(), Some(130), "{}", transcript(&output));
    let err = stderr(&output);
    assert!(err.contains("interrupted: finishing the calls in flight"), "{err}");
    assert!(err.contains("code requested by SMS"), "the call in flight finished: {err}");
    assert!(stdout(&output).contains("interrupted"), "{}", transcript(&output));
    assert_eq!(posts_applied(&rig, "/request_code"), 1);
    let journal = rig.journal();
    assert_eq!(journal["numbers"]["+16315550102"]["code_requests"], 1, "progress saved");
    let lock = std::fs::read_to_string(rig.path().join(".wamig/state.json.lock")).unwrap_or_default();
    assert!(lock.is_empty(), "the lock was released: {lock}");

    set_latency(&rig, 0);
    let resumed = apply_command(&rig, &[])
        .env(format!("WAMIG_CODE_{ORDERS_DIGITS}"), rig.sent_code(ORDERS_DIGITS))
        .output()
        .unwrap();
    assert_eq!(resumed.status.code(), Some(0), "{}", transcript(&resumed));
    assert!(!stderr(&resumed).contains("took over"), "a clean stop leaves no lock to take over");
    assert_eq!(posts(&rig, "/request_code"), 1);
}

#[test]
fn ctrl_c_while_waiting_for_codes_stops_at_once() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    let running = Running::spawn(apply_command(&rig, &["--wait-for-codes", "30s"]));
    running.wait_for_line("waiting for codes for +16315550102");
    let started = Instant::now();
    running.signal("INT");
    let output = running.finish();
    assert!(started.elapsed() < Duration::from_secs(3), "the wait ends at once");
    assert_eq!(output.status.code(), Some(130), "{}", transcript(&output));
    assert!(stdout(&output).contains("+16315550102  interrupted"), "{}", transcript(&output));
    assert_eq!(rig.journal()["numbers"]["+16315550102"]["code_requests"], 1);
}

/// Kills apply after Graph applied the step's write but before its answer arrived: the worst
/// moment, when only live state tells what happened.
fn kill_after_applied(step_line: &str, suffix: &str, code: Code) {
    let rig = Rig::new(&manifest(&[ORDERS]));
    let command = apply_holding(&rig, code);
    set_latency(&rig, 150);
    let running = Running::spawn(command);
    running.wait_for_line(step_line);
    // The call is held by the latency; its answer will be held after it is applied.
    rig.sandbox.set_faults(wamig::sandbox::Faults {
        latency: Duration::from_millis(150),
        answer_delay: Duration::from_secs(2),
        ..wamig::sandbox::Faults::default()
    });
    let start = Instant::now();
    while posts(&rig, suffix) == 0 {
        assert!(start.elapsed() < Duration::from_secs(10), "{suffix} never came");
        std::thread::sleep(Duration::from_millis(2));
    }
    running.signal("KILL");
    let killed = running.finish();
    assert_eq!(killed.status.code(), None, "{}", transcript(&killed));
    rig.sandbox.set_faults(wamig::sandbox::Faults::default());

    // A rerun before the phone's owner has passed the code on: it must not ask for another.
    let rerun = apply(&rig, &[]);
    assert!(matches!(rerun.status.code(), Some(0) | Some(3)), "{}", transcript(&rerun));
    assert_eq!(posts(&rig, "/request_code"), 1, "{step_line}: no second code within the cooldown");
    assert!(stderr(&rerun).contains("took over the journal lock"), "{}", transcript(&rerun));

    let converged = converge(&rig, ORDERS_DIGITS);
    assert!(!converged.resent, "{step_line}: the code sent before the kill was waited for, not asked again");
    assert_eq!(posts(&rig, "/104996122399160/phone_numbers"), 1, "{step_line}: the migration started once");
    assert_eq!(posts(&rig, "/request_code"), 1, "{step_line}: one code in all");
    let record = &rig.journal()["numbers"]["+16315550102"];
    assert_eq!(record["register_attempts"].as_array().map_or(0, Vec::len), posts(&rig, "/register"));
    assert_eq!(record["verify_attempts"].as_u64().unwrap() as usize, posts(&rig, "/verify_code"));
    assert!(!rig.code_file(ORDERS_DIGITS).exists(), "{step_line}: an accepted code file does not linger");
    let plan = rig.wamig().args(["plan", "--detailed-exitcode"]).output().unwrap();
    assert_eq!(plan.status.code(), Some(0), "{step_line}: {}", transcript(&plan));
}

#[test]
fn killed_after_the_migration_was_applied_but_before_its_answer() {
    kill_after_applied("starting the migration", "/104996122399160/phone_numbers", Code::None);
}

#[test]
fn killed_after_the_code_was_sent_but_before_the_answer() {
    kill_after_applied("requesting a code by SMS", "/request_code", Code::None);
}

#[test]
fn killed_after_the_code_was_verified_but_before_the_answer() {
    kill_after_applied("verifying the code from", "/verify_code", Code::File);
}

#[test]
fn killed_after_registering_but_before_the_answer() {
    kill_after_applied("registering on the Cloud API", "/register", Code::Env);
}
