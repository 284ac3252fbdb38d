//! Verification codes end to end: the two-run hand-off through the environment or a code file,
//! `--wait-for-codes`, codes refused before any call, wrong and expired codes, and the resend
//! cooldown.

use crate::apply_support::*;
use crate::support::*;

fn code_var(digits: &str) -> String {
    format!("WAMIG_CODE_{digits}")
}

#[test]
fn two_runs_with_the_code_in_the_environment_then_the_plan_is_in_sync() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    let first = apply(&rig, &[]);
    assert_eq!(first.status.code(), Some(3), "{}", transcript(&first));
    let handoff = stdout(&first);
    assert!(handoff.contains(&format!("export WAMIG_CODE_{ORDERS_DIGITS}=<6-digit code>")), "{handoff}");
    assert!(handoff.contains(&format!(".wamig/codes/{ORDERS_DIGITS}")), "{handoff}");
    assert_eq!(posts(&rig, "/request_code"), 1);

    let code = rig.sent_code(ORDERS_DIGITS);
    let second = apply_command(&rig, &[]).env(code_var(ORDERS_DIGITS), &code).output().unwrap();
    assert_eq!(second.status.code(), Some(0), "{}", transcript(&second));
    assert_eq!(posts(&rig, "/request_code"), 1, "no second code was asked for");
    assert_eq!(posts(&rig, "/verify_code"), 1);
    assert_eq!(posts(&rig, "/register"), 1);

    let plan = rig.wamig().args(["plan", "--detailed-exitcode"]).output().unwrap();
    assert_eq!(plan.status.code(), Some(0), "{}", transcript(&plan));
    assert!(stdout(&plan).contains("+16315550102 is in sync"), "{}", transcript(&plan));
    let requests = rig.sandbox.request_count();
    let again = apply(&rig, &[]);
    assert_eq!(again.status.code(), Some(0), "{}", transcript(&again));
    assert!(stdout(&again).ends_with("\nNothing to do.\n"), "{}", transcript(&again));
    assert!(
        rig.sandbox.requests()[requests..]
            .iter()
            .all(|r| !r.path.ends_with("_code") && !r.path.ends_with("/register"))
    );

    let journal = rig.journal();
    let record = &journal["numbers"]["+16315550102"];
    assert_eq!(record["code_requests"], 1);
    assert_eq!(record["verify_attempts"], 1);
    assert_eq!(record["register_attempts"].as_array().unwrap().len(), 1);
    assert!(record["registered_at"].is_string() && record["templates_checked_at"].is_string());
    assert!(!serde_json::to_string(&journal).unwrap().contains(&code), "no code in the journal");

    with_filters(&rig.filters(), || {
        insta::assert_snapshot!("two_runs_first", transcript(&first));
        insta::assert_snapshot!("two_runs_second", transcript(&second));
    });
}

#[test]
fn a_code_file_is_used_and_removed_once_accepted() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    assert_eq!(apply(&rig, &[]).status.code(), Some(3));
    rig.deliver_code(ORDERS_DIGITS);
    let second = apply(&rig, &[]);
    assert_eq!(second.status.code(), Some(0), "{}", transcript(&second));
    let err = stderr(&second);
    assert!(err.contains(&format!("verifying the code from file .wamig/codes/{ORDERS_DIGITS}")), "{err}");
    assert!(!rig.code_file(ORDERS_DIGITS).exists(), "the accepted code file is removed");
}

#[test]
fn one_run_waits_for_the_code_to_arrive_in_the_codes_directory() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    let running = Running::spawn(apply_command(&rig, &["--wait-for-codes", "30s"]));
    // The phone's owner reads the SMS and drops the code where wamig looks.
    wait_for_file(&rig.outbox.join(ORDERS_DIGITS));
    running.wait_for_line("waiting for codes for +16315550102");
    rig.deliver_code(ORDERS_DIGITS);
    let output = running.finish();
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    assert_eq!(posts(&rig, "/request_code"), 1);
    assert_eq!(posts(&rig, "/verify_code"), 1);
    assert!(!rig.code_file(ORDERS_DIGITS).exists());
    let err = stderr(&output);
    assert!(err.contains("left; put each code in"), "a visible countdown: {err}");
}

#[test]
fn waiting_for_codes_gives_up_with_exit_3_when_none_arrives() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    let output = apply(&rig, &["--wait-for-codes", "300ms"]);
    assert_eq!(output.status.code(), Some(3), "{}", transcript(&output));
    assert!(stdout(&output).contains("1 number is waiting for a verification code"));
}

#[test]
fn a_code_that_is_not_six_digits_is_refused_before_any_call() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    assert_eq!(apply(&rig, &[]).status.code(), Some(3));
    let before = rig.sandbox.request_count();

    let output = apply_command(&rig, &[]).env(code_var(ORDERS_DIGITS), "12345").output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    assert_eq!(posts(&rig, "/verify_code"), 0);
    assert!(!stdout(&output).contains("12345"), "the bad value is not echoed");

    std::fs::create_dir_all(rig.code_file(ORDERS_DIGITS).parent().unwrap()).unwrap();
    std::fs::write(rig.code_file(ORDERS_DIGITS), "12a456\n").unwrap();
    let file = apply(&rig, &[]);
    assert_eq!(file.status.code(), Some(1), "{}", transcript(&file));
    assert_eq!(posts(&rig, "/verify_code"), 0);
    assert!(rig.code_file(ORDERS_DIGITS).exists(), "a refused file is left for the user to fix");
    let writes: Vec<_> = rig.sandbox.requests()[before..]
        .iter()
        .filter(|r| r.method != "GET" && !r.params.contains_key("batch"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(writes.is_empty(), "only reads were made: {writes:?}");

    with_filters(&rig.filters(), || {
        insta::assert_snapshot!("bad_code_env", transcript(&output));
        insta::assert_snapshot!("bad_code_file", transcript(&file));
    });
}

#[test]
fn a_bad_code_given_before_the_first_run_stops_that_number_before_any_write() {
    let rig = Rig::new(&manifest(&[ORDERS, RETURNS]));
    let output = apply_command(&rig, &[]).env(code_var(ORDERS_DIGITS), "1234567").output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    assert_eq!(posts(&rig, "/104996122399160/phone_numbers"), 1, "only the other number started");
    assert_eq!(posts(&rig, "/request_code"), 1);
    assert!(rig.outbox.join(RETURNS_DIGITS).exists() && !rig.outbox.join(ORDERS_DIGITS).exists());
    let out = stdout(&output);
    assert!(out.contains("+16315550102  failed") && out.contains("+16315550103  waiting"), "{out}");
}

#[test]
fn a_wrong_code_stops_that_number_only_and_the_right_one_then_finishes_it() {
    let rig = Rig::new(&manifest(&[ORDERS, RETURNS]));
    assert_eq!(apply(&rig, &["--parallelism", "1"]).status.code(), Some(3));
    let right = rig.sent_code(ORDERS_DIGITS);
    let wrong = if right == "987654" { "876543" } else { "987654" };
    std::fs::create_dir_all(rig.code_file(ORDERS_DIGITS).parent().unwrap()).unwrap();
    std::fs::write(rig.code_file(ORDERS_DIGITS), wrong).unwrap();
    rig.deliver_code(RETURNS_DIGITS);

    let second = apply(&rig, &["--parallelism", "1"]);
    assert_eq!(second.status.code(), Some(1), "{}", transcript(&second));
    let out = stdout(&second);
    assert!(out.contains("+16315550103  done"), "the other number goes on: {out}");
    assert!(out.contains("+16315550102  failed"), "{out}");
    assert!(!rig.code_file(ORDERS_DIGITS).exists(), "a rejected code file is removed so it is not replayed");
    assert!(!out.contains(wrong) && !stderr(&second).contains(wrong));
    assert_eq!(rig.journal()["numbers"]["+16315550102"]["last_error"]["step"], "verify_code");

    std::fs::write(rig.code_file(ORDERS_DIGITS), &right).unwrap();
    let third = apply(&rig, &[]);
    assert_eq!(third.status.code(), Some(0), "{}", transcript(&third));
    assert_eq!(posts(&rig, "/request_code"), 2, "one code per number, no resend");
    assert_eq!(rig.journal()["numbers"]["+16315550102"]["verify_attempts"], 2);
    assert!(rig.journal()["numbers"]["+16315550102"].get("last_error").is_none());

    with_filters(&rig.filters(), || insta::assert_snapshot!("wrong_code", transcript(&second)));
}

#[test]
fn an_expired_code_says_to_resend_and_resend_code_gets_a_new_one() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    assert_eq!(apply(&rig, &[]).status.code(), Some(3));
    let old = rig.sent_code(ORDERS_DIGITS);
    rig.sandbox.advance_clock(std::time::Duration::from_secs(11 * 60));

    let expired = apply_command(&rig, &[]).env(code_var(ORDERS_DIGITS), &old).output().unwrap();
    assert_eq!(expired.status.code(), Some(1), "{}", transcript(&expired));
    let out = stdout(&expired);
    assert!(out.contains("--resend-code"), "{out}");
    assert!(out.contains(&format!("unset or correct WAMIG_CODE_{ORDERS_DIGITS}")), "{out}");

    let resend = apply(&rig, &["--resend-code"]);
    assert_eq!(resend.status.code(), Some(3), "{}", transcript(&resend));
    assert_eq!(posts(&rig, "/request_code"), 2);
    rig.deliver_code(ORDERS_DIGITS);
    let done = apply(&rig, &[]);
    assert_eq!(done.status.code(), Some(0), "{}", transcript(&done));

    with_filters(&rig.filters(), || insta::assert_snapshot!("expired_code", transcript(&expired)));
}

#[test]
fn no_new_code_within_the_cooldown_unless_resend_code() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    assert_eq!(apply(&rig, &[]).status.code(), Some(3));
    let first_code = rig.sent_code(ORDERS_DIGITS);

    let again = apply(&rig, &[]);
    assert_eq!(again.status.code(), Some(3), "{}", transcript(&again));
    assert_eq!(posts(&rig, "/request_code"), 1, "within the cooldown no code is requested");
    assert_eq!(rig.sent_code(ORDERS_DIGITS), first_code);
    assert!(stdout(&again).contains("unless you pass --resend-code"));

    let resend = apply(&rig, &["--resend-code"]);
    assert_eq!(resend.status.code(), Some(3), "{}", transcript(&resend));
    assert_eq!(posts(&rig, "/request_code"), 2, "--resend-code asks for a new code");
    assert_eq!(rig.journal()["numbers"]["+16315550102"]["code_requests"], 2);
    let resent = apply(&rig, &["--resend-code"]);
    assert_eq!(resent.status.code(), Some(3));
    assert_eq!(posts(&rig, "/request_code"), 3, "each --resend-code run asks once");

    rig.deliver_code(ORDERS_DIGITS);
    assert_eq!(apply(&rig, &[]).status.code(), Some(0));
}

/// JSON events of an apply, one object per stderr line.
fn json_events(output: &std::process::Output) -> Vec<serde_json::Value> {
    stderr(output).lines().map(|line| serde_json::from_str(line).expect(line)).collect()
}

#[test]
fn json_events_tell_scripts_where_each_code_goes_and_how_each_number_ended() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    let first = apply_command(&rig, &[]).args(["--log-format", "json"]).output().unwrap();
    assert_eq!(first.status.code(), Some(3), "{}", transcript(&first));
    let events = json_events(&first);
    let names: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    for expected in ["plan_ready", "step_started", "step_finished", "summary"] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    let summary = events.iter().find(|e| e["event"] == "summary").unwrap();
    assert_eq!(summary["waiting"], 1);
    let number = &summary["numbers"][0];
    assert_eq!(number["phone"], "+16315550102");
    assert_eq!(number["outcome"], "waiting");
    assert_eq!(number["env_var"], format!("WAMIG_CODE_{ORDERS_DIGITS}"));
    assert!(number["code_file"].as_str().unwrap().ends_with(&format!(".wamig/codes/{ORDERS_DIGITS}")));
    assert_eq!(number["steps_done"], serde_json::json!(["initiate_migration", "request_code"]));

    rig.deliver_code(ORDERS_DIGITS);
    let second = apply_command(&rig, &[]).args(["--log-format", "json"]).output().unwrap();
    assert_eq!(second.status.code(), Some(0), "{}", transcript(&second));
    let events = json_events(&second);
    let summary = events.iter().find(|e| e["event"] == "summary").unwrap();
    assert_eq!(summary["numbers"][0]["outcome"], "done");
    assert_eq!(summary["done"], 1);
}
