//! `--log-format json`: a real apply against the sandbox speaks one JSON object per stderr line,
//! with the events docs/events.md promises, and never a code, PIN or token.

use std::process::Output;

use serde_json::Value;

use crate::support::{DESTINATION_WABA, Rig, SOURCE_WABA, transcript};

const PIN: &str = "975310";

fn manifest() -> String {
    format!(
        "version: 1\ndefaults:\n  pin: {{ env: WAMIG_PIN }}\ndestinations:\n  - waba: \"{DESTINATION_WABA}\"\n    numbers:\n      - phone: \"+1 631-555-0101\"\n        source_waba: \"{SOURCE_WABA}\"\n"
    )
}

/// Every stderr line parsed; fails on a line that is not a JSON object.
fn events(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .map(|line| match serde_json::from_str::<Value>(line) {
            Ok(value @ Value::Object(_)) => value,
            _ => panic!("not a JSON object on stderr: {line:?}\n{}", transcript(output)),
        })
        .collect()
}

fn named<'a>(events: &'a [Value], name: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event"] == name).collect()
}

/// The secret may not appear anywhere but in fields that are times or digests (whose digits
/// could match by chance).
fn assert_absent(events: &[Value], output: &Output, secret: &str, what: &str) {
    assert!(!String::from_utf8_lossy(&output.stdout).contains(secret), "the {what} is on stdout");
    for event in events {
        let mut event = event.clone();
        for key in ["timestamp", "requested_at", "resend_after", "digest"] {
            event.as_object_mut().unwrap().remove(key);
        }
        assert!(!event.to_string().contains(secret), "the {what} is in {event}");
    }
}

#[test]
fn apply_emits_the_documented_events_and_no_secret() {
    let rig = Rig::new(&manifest());
    let first = rig
        .wamig()
        .env("WAMIG_PIN", PIN)
        .args(["--log-format", "json", "apply", "--auto-approve", "--register-backoff", "10ms"])
        .output()
        .unwrap();
    assert_eq!(first.status.code(), Some(3), "{}", transcript(&first));
    let events_1 = events(&first);
    for event in &events_1 {
        for key in ["timestamp", "level", "event", "message"] {
            assert!(event.get(key).is_some(), "{key} missing in {event}");
        }
    }
    assert_eq!(named(&events_1, "plan_ready")[0]["summary"]["migrate"], 1);
    let started: Vec<_> = named(&events_1, "step_started").iter().map(|e| e["step"].clone()).collect();
    assert_eq!(started, ["initiate_migration", "request_code"]);
    assert_eq!(named(&events_1, "step_finished").len(), 2);
    let waiting = named(&events_1, "awaiting_code");
    assert_eq!(waiting.len(), 1, "{events_1:?}");
    let waiting = waiting[0];
    assert_eq!(waiting["phone"], "+16315550101");
    assert_eq!(waiting["channel"], "SMS");
    assert_eq!(waiting["code_method"], "SMS");
    assert_eq!(waiting["env_var"], "WAMIG_CODE_16315550101");
    assert_eq!(waiting["next"], "stop");
    assert!(waiting["code_file"].as_str().unwrap().ends_with(".wamig/codes/16315550101"));
    assert!(waiting["requested_at"].as_str().unwrap().ends_with('Z'));
    assert!(waiting["resend_after"].as_str().is_some());
    let summary = named(&events_1, "summary");
    assert_eq!(summary.len(), 1);
    assert_eq!(summary[0]["waiting"], 1);
    assert_eq!(summary[0]["numbers"][0]["outcome"], "waiting");
    assert_eq!(summary[0]["numbers"][0]["env_var"], "WAMIG_CODE_16315550101");

    let code = rig.sent_code("16315550101");
    let second = rig
        .wamig()
        .env("WAMIG_PIN", PIN)
        .env("WAMIG_CODE_16315550101", &code)
        .args(["--log-format", "json", "apply", "--auto-approve", "--register-backoff", "10ms"])
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(0), "{}", transcript(&second));
    let events_2 = events(&second);
    let verify = named(&events_2, "step_started").into_iter().find(|e| e["step"] == "verify_code").unwrap();
    assert_eq!(verify["code_source"], "env");
    assert_eq!(verify["env_var"], "WAMIG_CODE_16315550101");
    let retry = named(&events_2, "retry");
    assert_eq!(retry.len(), 1, "the sandbox fails the first register once");
    assert_eq!(retry[0]["step"], "register");
    assert_eq!(retry[0]["class"], "display_name_provisioning");
    assert_eq!(named(&events_2, "verified")[0]["report"]["registered"], true);
    assert_eq!(named(&events_2, "summary")[0]["done"], 1);

    let documented = std::fs::read_to_string(crate::support::repo_root().join("docs/events.md")).unwrap();
    for event in events_1.iter().chain(&events_2) {
        let name = event["event"].as_str().unwrap();
        assert!(documented.contains(&format!("### `{name}`")), "docs/events.md does not document {name}");
    }
    for (events, output) in [(&events_1, &first), (&events_2, &second)] {
        assert_absent(events, output, &code, "code");
        assert_absent(events, output, PIN, "PIN");
        assert_absent(events, output, &rig.token, "token");
    }
}

#[test]
fn a_fatal_error_is_one_error_event() {
    let rig = Rig::new(&manifest());
    let output = rig
        .wamig()
        .env_remove("WAMIG_PIN")
        .args(["--log-format", "json", "apply", "--auto-approve"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    let events = events(&output);
    let errors = named(&events, "error");
    assert_eq!(errors.len(), 1, "{events:?}");
    let error = errors[0];
    assert_eq!(error["level"], "error");
    assert!(error["message"].as_str().unwrap().contains("WAMIG_PIN"), "{error}");
    assert!(error["hint"].as_str().unwrap().contains("export WAMIG_PIN"), "{error}");
    assert_eq!(error["problems"].as_array().unwrap().len(), 1);
    assert_eq!(error["exit_code"], 1);
    assert!(!String::from_utf8_lossy(&output.stderr).contains("hint:"), "no human rendering in json mode");
}

#[test]
fn a_wrong_code_fails_the_number_with_a_hint_and_without_the_code() {
    let rig = Rig::new(&manifest());
    let args = ["--log-format", "json", "apply", "--auto-approve"];
    let first = rig.wamig().env("WAMIG_PIN", PIN).args(args).output().unwrap();
    assert_eq!(first.status.code(), Some(3), "{}", transcript(&first));
    let wrong = if rig.sent_code("16315550101") == "918273" { "918274" } else { "918273" };
    let second =
        rig.wamig().env("WAMIG_PIN", PIN).env("WAMIG_CODE_16315550101", wrong).args(args).output().unwrap();
    assert_eq!(second.status.code(), Some(1), "{}", transcript(&second));
    let events = events(&second);
    let failed = named(&events, "step_failed");
    assert_eq!(failed.len(), 1, "{events:?}");
    assert_eq!(failed[0]["step"], "verify_code");
    let number = &named(&events, "summary")[0]["numbers"][0];
    assert_eq!(number["outcome"], "failed");
    assert_eq!(number["failed_step"], "verify_code");
    assert!(number["hint"].as_str().unwrap().contains("--resend-code"), "{number}");
    assert_absent(&events, &second, wrong, "wrong code");
}
