//! `wamig plan` and `wamig show` as a user runs them: the real binary against sandbox worlds,
//! transcripts (exit code, stdout, stderr) snapshotted with times, ports, paths and digests
//! filtered.

use std::process::Output;

use serde_json::Value;

use crate::plan_support::{GenWorld, example_world_with, gen_source_phone, manifest, one_number};
use crate::support::{ACME_TOKEN, DESTINATION_WABA, Rig, SOURCE_WABA, transcript, with_filters};

/// A port nothing listens on: connecting fails at once.
const DEAD_URL: &str = "http://127.0.0.1:9";

fn run(rig: &Rig, args: &[&str]) -> Output {
    rig.wamig().args(args).output().unwrap()
}

/// The rig's filters, except that a 12-hex digest is only taken where the Markdown shows one
/// (in backticks): 12 digits are also a phone number (+44 20 7946 0958). Trace ids differ with
/// the order in which concurrent reads reach the sandbox.
fn filters(rig: &Rig) -> Vec<(String, String)> {
    let mut filters: Vec<(String, String)> =
        rig.filters().into_iter().filter(|(pattern, _)| !pattern.contains("{12}")).collect();
    filters.push(("`[0-9a-f]{12}`".into(), "`[DIGEST12]`".into()));
    filters.push((r"fbtrace_id: [A-Za-z0-9_-]+".into(), "fbtrace_id: [TRACE]".into()));
    filters
}

fn snapshot(rig: &Rig, name: &str, output: &Output) {
    let text = transcript(output);
    with_filters(&filters(rig), || insta::assert_snapshot!(name, text));
}

fn json_plan(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("plan --format json prints JSON ({e}): {}", transcript(output)))
}

fn fresh_manifest() -> String {
    manifest(
        DESTINATION_WABA,
        &[
            ("+1 631-555-0101", Some(SOURCE_WABA)),
            ("+1 631-555-0102", Some(SOURCE_WABA)),
            ("+1 631-555-0103", None),
        ],
    )
}

#[test]
fn a_fresh_migration_in_each_format() {
    let rig = Rig::new(&fresh_manifest());
    for (format, exit) in [("text", 0), ("markdown", 0), ("json", 0)] {
        let output = run(&rig, &["plan", "--format", format]);
        assert_eq!(output.status.code(), Some(exit), "{}", transcript(&output));
        snapshot(&rig, &format!("fresh_{format}"), &output);
    }
    let output = run(&rig, &["plan", "--detailed-exitcode"]);
    assert_eq!(output.status.code(), Some(2), "changes: {}", transcript(&output));
}

#[test]
fn the_json_plan_has_the_documented_core() {
    let rig = Rig::new(&fresh_manifest());
    let plan = json_plan(&run(&rig, &["plan", "--format", "json"]));
    assert_eq!(plan["format_version"], 1);
    for key in ["migrate", "resume", "in_sync", "blocked", "unmanaged"] {
        assert!(plan["summary"][key].is_u64(), "summary.{key}: {plan}");
    }
    assert_eq!(plan["summary"]["migrate"], 3);
    assert_eq!(plan["summary"]["unmanaged"], 1);
    let numbers = plan["numbers"].as_array().unwrap();
    assert_eq!(numbers.len(), 3);
    let allowed_steps = ["initiate_migration", "request_code", "verify_code", "register", "verify_templates"];
    for number in numbers {
        let phone = number["phone"].as_str().unwrap();
        assert!(phone.starts_with('+') && phone[1..].bytes().all(|b| b.is_ascii_digit()), "{phone}");
        assert_eq!(number["destination_waba"], DESTINATION_WABA);
        assert!(number["source_waba"].is_string() || number["source_waba"].is_null());
        assert!(["migrate", "resume", "in-sync", "blocked"].contains(&number["action"].as_str().unwrap()));
        for check in number["checks"].as_array().unwrap() {
            assert!(check["id"].is_string() && check["message"].is_string());
            let status = check["status"].as_str().unwrap();
            assert!(["pass", "fail", "unknown"].contains(&status));
            assert_eq!(check["hint"].is_null(), status == "pass", "{check}");
        }
        let steps: Vec<&str> =
            number["steps"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
        assert_eq!(steps, allowed_steps);
    }
    // The source of +1 631-555-0103 is not in the manifest: the live state tells it.
    assert_eq!(numbers[2]["source_waba"], SOURCE_WABA);
    assert_eq!(plan["unmanaged"][0]["phone"], "+16315550199");
    assert_eq!(plan["unmanaged"][0]["waba"], DESTINATION_WABA);
    for key in ["digest", "manifest_digest", "snapshot_digest", "created_at", "api_version"] {
        assert!(plan[key].is_string(), "{key}");
    }
    assert_eq!(plan["ttl_seconds"], 86400);
}

#[test]
fn a_number_mid_migration_is_resumed() {
    let rig = Rig::new(&one_number("+1 631-555-0102"));
    let apply = run(&rig, &["apply", "--auto-approve"]);
    assert_eq!(apply.status.code(), Some(3), "apply waits for the code: {}", transcript(&apply));
    let output = run(&rig, &["plan", "--detailed-exitcode"]);
    assert_eq!(output.status.code(), Some(2), "{}", transcript(&output));
    snapshot(&rig, "resume_text", &output);
    let plan = json_plan(&run(&rig, &["plan", "--format", "json"]));
    let number = &plan["numbers"][0];
    assert_eq!(number["action"], "resume");
    assert_eq!(number["awaiting_code"], true);
    assert_eq!(number["steps"], serde_json::json!(["verify_code", "register", "verify_templates"]));
    assert!(number["phone_number_id"].is_string());
}

#[test]
fn after_a_whole_migration_everything_is_in_sync() {
    let rig = Rig::new(&one_number("+1 631-555-0102"));
    assert_eq!(run(&rig, &["apply", "--auto-approve"]).status.code(), Some(3));
    rig.deliver_code("16315550102");
    let apply = run(&rig, &["apply", "--auto-approve"]);
    assert_eq!(apply.status.code(), Some(0), "{}", transcript(&apply));
    let output = run(&rig, &["plan", "--detailed-exitcode"]);
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    snapshot(&rig, "in_sync_text", &output);
    let plan = json_plan(&run(&rig, &["plan", "--format", "json", "--detailed-exitcode"]));
    assert_eq!(plan["numbers"][0]["action"], "in-sync");
    assert_eq!(plan["numbers"][0]["steps"], serde_json::json!([]));
    assert_eq!(plan["numbers"][0]["checks"], serde_json::json!([]));
}

/// Each eligibility check in README.md, failed by one world or number. `(name, world, token,
/// manifest, the check that must fail)`.
fn blocking_cases() -> Vec<(&'static str, String, &'static str, String, &'static str)> {
    let example = wamig::sandbox::EXAMPLE_WORLD.to_owned();
    let into = |dest: &str| manifest(dest, &[("+1 631-555-0102", Some(SOURCE_WABA))]);
    vec![
        (
            "payment_method",
            example.clone(),
            ACME_TOKEN,
            into("105000000000001"),
            "destination.payment_method",
        ),
        ("webhooks", example.clone(), ACME_TOKEN, into("105000000000002"), "destination.webhooks"),
        ("destination_review", example.clone(), ACME_TOKEN, into("105000000000003"), "destination.review"),
        ("name_status", example.clone(), ACME_TOKEN, one_number("+1 631-555-0104"), "number.name_status"),
        (
            "pending_name_change",
            example.clone(),
            ACME_TOKEN,
            one_number("+1 631-555-0107"),
            "number.pending_name_change",
        ),
        ("test_number", example.clone(), ACME_TOKEN, one_number("+1 631-555-0106"), "number.test_number"),
        ("business_app", example.clone(), ACME_TOKEN, one_number("+1 631-555-0108"), "number.business_app"),
        (
            "two_step_verification",
            example.clone(),
            ACME_TOKEN,
            one_number("+1 631-555-0105"),
            "number.two_step_verification",
        ),
        (
            "source_review",
            example_world_with(&[(
                "    name: acme-legacy\n    business: \"111111111111111\"\n    account_review_status: APPROVED",
                "    name: acme-legacy\n    business: \"111111111111111\"\n    account_review_status: REJECTED",
            )]),
            ACME_TOKEN,
            one_number("+1 631-555-0102"),
            "source.review",
        ),
        (
            "source_verification",
            example.clone(),
            ACME_TOKEN,
            manifest(DESTINATION_WABA, &[("+1 631-555-0150", Some("103000000000001"))]),
            "source.verification",
        ),
        (
            "different_business",
            example_world_with(&[(
                "read: [\"102289599326934\", \"103000000000001\"]",
                "read: [\"102289599326934\", \"103000000000001\", \"201000000000001\"]",
            )]),
            ACME_TOKEN,
            manifest(DESTINATION_WABA, &[("+44 20 7946 0958", Some("201000000000001"))]),
            "same_business",
        ),
        (
            "token_permissions",
            example.clone(),
            "sandbox-token-acme-no-messaging",
            one_number("+1 631-555-0102"),
            "token.permissions",
        ),
        ("number_not_in_source", example, ACME_TOKEN, one_number("+1 631-555-0177"), "number.in_source"),
    ]
}

#[test]
fn each_failed_eligibility_check_blocks_with_exit_4() {
    for (name, world, token, manifest, failing) in blocking_cases() {
        let mut rig = Rig::with_world(&world, &manifest);
        rig.token = token.to_owned();
        let output = run(&rig, &["plan", "--detailed-exitcode"]);
        assert_eq!(output.status.code(), Some(4), "{name}: {}", transcript(&output));
        snapshot(&rig, &format!("blocked_{name}"), &output);
        // Without --detailed-exitcode a blocked number still exits 4.
        let output = run(&rig, &["plan", "--format", "json"]);
        assert_eq!(output.status.code(), Some(4), "{name}");
        let plan = json_plan(&output);
        let number = &plan["numbers"][0];
        assert_eq!(number["action"], "blocked", "{name}");
        let failed: Vec<&str> = number["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["status"] == "fail")
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert!(failed.contains(&failing), "{name}: {failing} not in {failed:?}");
        for check in number["checks"].as_array().unwrap().iter().filter(|c| c["status"] == "fail") {
            assert!(check["hint"].as_str().is_some_and(|h| !h.is_empty()), "{name}: {check}");
        }
    }
}

#[test]
fn a_source_the_token_cannot_read_makes_checks_unknown_not_an_error() {
    let rig = Rig::new(&manifest(DESTINATION_WABA, &[("+44 20 7946 0958", Some("201000000000001"))]));
    let output = run(&rig, &["plan"]);
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    snapshot(&rig, "unreadable_source_text", &output);
    let plan = json_plan(&run(&rig, &["plan", "--format", "json"]));
    let checks = plan["numbers"][0]["checks"].as_array().unwrap();
    let status = |id: &str| checks.iter().find(|c| c["id"] == id).map(|c| c["status"].clone());
    assert_eq!(status("source.access"), Some("unknown".into()));
    assert_eq!(status("source.review"), Some("unknown".into()));
    assert!(checks.iter().all(|c| c["status"] != "fail"), "{checks:?}");
}

#[test]
fn a_destination_with_more_numbers_than_a_page_and_unmanaged_numbers() {
    let world = GenWorld { page_size: 2, source_numbers: 3, unmanaged: 7, apps: 3, ..GenWorld::default() };
    let phones: Vec<String> = (0..3).map(gen_source_phone).collect();
    let numbers: Vec<(&str, Option<&str>)> = phones.iter().map(|p| (p.as_str(), Some(SOURCE_WABA))).collect();
    let rig = Rig::with_world(&world.yaml(), &manifest(DESTINATION_WABA, &numbers));
    let output = run(&rig, &["plan"]);
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    snapshot(&rig, "many_unmanaged_text", &output);
    let plan = json_plan(&run(&rig, &["plan", "--format", "json"]));
    assert_eq!(plan["summary"]["unmanaged"], 7);
    assert_eq!(plan["summary"]["migrate"], 3);
    assert_eq!(plan["unmanaged"].as_array().unwrap().len(), 7);
    // The edges were followed past the first page.
    assert!(rig.sandbox.requests().iter().any(|r| r.params.contains_key("after")));
}

#[test]
fn markdown_for_a_big_world_stays_under_githubs_comment_limit() {
    let count = 250;
    let world = GenWorld { source_numbers: count, templates: 40, unmanaged: 30, ..GenWorld::default() };
    let phones: Vec<String> = (0..count).map(gen_source_phone).collect();
    let numbers: Vec<(&str, Option<&str>)> = phones.iter().map(|p| (p.as_str(), Some(SOURCE_WABA))).collect();
    let rig = Rig::with_world(&world.yaml(), &manifest(DESTINATION_WABA, &numbers));
    let output = run(&rig, &["plan", "--format", "markdown"]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let markdown = String::from_utf8(output.stdout).unwrap();
    assert!(markdown.chars().count() < 65_536, "{} characters", markdown.chars().count());
    // The summary survives whole; the per-number detail is what gets cut, with a note.
    assert!(markdown.contains(&format!("**Plan: {count} to migrate, 0 to resume")), "{markdown}");
    assert!(markdown.contains("cut to fit the comment"), "a note says detail was cut");
    let summary_at = markdown.find("| to migrate |").unwrap();
    assert!(summary_at < markdown.find("<details>").unwrap(), "the summary table comes first");
    let plan = json_plan(&run(&rig, &["plan", "--format", "json"]));
    assert_eq!(plan["summary"]["migrate"], count);
    let digest = plan["digest"].as_str().unwrap();
    assert!(markdown.contains(digest), "the comment carries the plan's digest");
}

#[test]
fn a_saved_plan_is_shown_in_every_format_without_the_network() {
    let rig = Rig::new(&fresh_manifest());
    let saved = run(&rig, &["plan", "--out", "plan.json"]);
    assert_eq!(saved.status.code(), Some(0), "{}", transcript(&saved));
    snapshot(&rig, "saved_text", &saved);
    let file = std::fs::read_to_string(rig.path().join("plan.json")).unwrap();
    for secret in [ACME_TOKEN, "123456", "WAMIG_PIN"] {
        assert!(!file.contains(secret), "the plan file holds {secret}");
    }
    let saved_plan: Value = serde_json::from_str(&file).unwrap();
    for format in ["text", "markdown", "json"] {
        let shown = rig
            .wamig()
            .env("WAMIG_GRAPH_URL", DEAD_URL)
            .args(["show", "plan.json", "--format", format])
            .output()
            .unwrap();
        assert_eq!(shown.status.code(), Some(0), "{format}: {}", transcript(&shown));
        assert!(shown.stderr.is_empty(), "{}", transcript(&shown));
        snapshot(&rig, &format!("show_{format}"), &shown);
        if format == "json" {
            assert_eq!(json_plan(&shown), saved_plan, "show prints the saved plan as it is");
        }
    }
    // The saved plan renders like the live one did.
    let shown = rig.wamig().env("WAMIG_GRAPH_URL", DEAD_URL).args(["show", "plan.json"]).output().unwrap();
    assert_eq!(shown.stdout, saved.stdout);
    assert!(rig.sandbox.requests().iter().all(|r| r.seq > 0));
    let requests_before = rig.sandbox.request_count();
    let _ = rig.wamig().args(["show", "plan.json"]).output().unwrap();
    assert_eq!(rig.sandbox.request_count(), requests_before, "show makes no Graph call");
}

#[test]
fn show_refuses_a_file_that_is_not_a_plan() {
    let rig = Rig::new(&fresh_manifest());
    std::fs::write(rig.path().join("not-a-plan.json"), "{\"hello\": 1}").unwrap();
    let output = rig.wamig().args(["show", "not-a-plan.json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    snapshot(&rig, "show_not_a_plan", &output);
    let output = rig.wamig().args(["show", "missing.json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    snapshot(&rig, "show_missing_file", &output);
}

#[test]
fn json_logs_carry_a_plan_ready_event() {
    let rig = Rig::new(&fresh_manifest());
    let output = run(&rig, &["--log-format", "json", "plan"]);
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    let stderr = String::from_utf8(output.stderr).unwrap();
    let events: Vec<Value> = stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("a JSON line: {line}")))
        .collect();
    let ready = events.iter().find(|e| e["event"] == "plan_ready").expect("a plan_ready event");
    assert_eq!(ready["summary"]["migrate"], 3);
    assert!(ready["digest"].as_str().is_some_and(|d| d.len() == 64));
    assert!(ready["timestamp"].is_string() && ready["level"].is_string());
    assert!(!stderr.contains(ACME_TOKEN));
}

#[test]
fn an_expired_or_unknown_token_is_an_error_with_a_hint() {
    for (name, token) in [("expired_token", "sandbox-token-expired"), ("unknown_token", "not-a-token-at-all")]
    {
        let mut rig = Rig::new(&fresh_manifest());
        rig.token = token.to_owned();
        let output = run(&rig, &["plan"]);
        assert_eq!(output.status.code(), Some(1), "{name}: {}", transcript(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("hint:") && stderr.contains("token"), "{stderr}");
        assert!(!stderr.contains(token) && output.stdout.is_empty());
        snapshot(&rig, name, &output);
    }
}

#[test]
fn an_unreachable_api_is_an_error_with_a_hint() {
    let rig = Rig::new(&fresh_manifest());
    let output = rig.wamig().env("WAMIG_GRAPH_URL", DEAD_URL).arg("plan").output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("hint:"));
    snapshot(&rig, "unreachable", &output);
}

#[test]
fn plain_http_to_another_host_is_refused_before_any_call() {
    let rig = Rig::new(&fresh_manifest());
    let output = rig.wamig().env("WAMIG_GRAPH_URL", "http://graph.example.com").arg("plan").output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    snapshot(&rig, "plain_http_refused", &output);
}

#[test]
fn a_bad_manifest_is_an_error_before_any_call() {
    let rig = Rig::new("version: 1\ndestinations:\n  - waba: \"not digits\"\n    numbers: []\n");
    let output = run(&rig, &["plan"]);
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    snapshot(&rig, "bad_manifest", &output);
    assert_eq!(rig.sandbox.request_count(), 0);
}

#[test]
fn a_verified_number_not_yet_registered_is_resumed_from_register() {
    // Migrated without registering, then the manifest asks for registration.
    let without_register =
        one_number("+1 631-555-0102").replace("defaults:\n", "defaults:\n  register: false\n");
    let rig = Rig::new(&without_register);
    assert_eq!(run(&rig, &["apply", "--auto-approve"]).status.code(), Some(3));
    rig.deliver_code("16315550102");
    let apply = run(&rig, &["apply", "--auto-approve"]);
    assert_eq!(apply.status.code(), Some(0), "{}", transcript(&apply));
    assert_eq!(run(&rig, &["plan", "--detailed-exitcode"]).status.code(), Some(0));

    std::fs::write(rig.path().join("wamig.yaml"), one_number("+1 631-555-0102")).unwrap();
    let output = run(&rig, &["plan", "--detailed-exitcode"]);
    assert_eq!(output.status.code(), Some(2), "{}", transcript(&output));
    snapshot(&rig, "resume_register_text", &output);
    let plan = json_plan(&run(&rig, &["plan", "--format", "json"]));
    let number = &plan["numbers"][0];
    assert_eq!(number["action"], "resume");
    assert_eq!(number["steps"], serde_json::json!(["register", "verify_templates"]));
    // Verified in the destination: eligibility no longer gates it.
    assert_eq!(number["checks"], serde_json::json!([]));
}

#[test]
fn blocked_wins_over_changes_in_the_exit_code() {
    let rig = Rig::new(&manifest(
        DESTINATION_WABA,
        &[("+1 631-555-0102", Some(SOURCE_WABA)), ("+1 631-555-0105", Some(SOURCE_WABA))],
    ));
    for args in [&["plan"][..], &["plan", "--detailed-exitcode"]] {
        let output = run(&rig, args);
        assert_eq!(output.status.code(), Some(4), "{args:?}: {}", transcript(&output));
    }
    let plan = json_plan(&run(&rig, &["plan", "--format", "json"]));
    assert_eq!(
        (plan["summary"]["migrate"].as_u64(), plan["summary"]["blocked"].as_u64()),
        (Some(1), Some(1))
    );
}

#[test]
fn a_destination_the_token_cannot_read_blocks() {
    let rig = Rig::new(&manifest("201000000000001", &[("+1 631-555-0102", Some(SOURCE_WABA))]));
    let output = run(&rig, &["plan", "--format", "json"]);
    assert_eq!(output.status.code(), Some(4), "{}", transcript(&output));
    let plan = json_plan(&output);
    let checks = plan["numbers"][0]["checks"].as_array().unwrap();
    let access = checks.iter().find(|c| c["id"] == "destination.access").unwrap();
    assert_eq!(access["status"], "fail", "{access}");
    let output = run(&rig, &["plan"]);
    snapshot(&rig, "blocked_destination_access", &output);
}

#[test]
fn an_app_that_requires_appsecret_proof() {
    let world = GenWorld { app_secret: Some("world-app-secret"), ..GenWorld::default() };
    let rig = Rig::with_world(
        &world.yaml(),
        &manifest(DESTINATION_WABA, &[(&gen_source_phone(0), Some(SOURCE_WABA))]),
    );
    let output = run(&rig, &["plan"]);
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    snapshot(&rig, "appsecret_missing", &output);
    let output = rig.wamig().env("WAMIG_APP_SECRET", "world-app-secret").arg("plan").output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    let output = rig.wamig().env("WAMIG_APP_SECRET", "a-wrong-secret").arg("plan").output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("hint:") && !stderr.contains("a-wrong-secret"), "{stderr}");
}

#[test]
fn a_source_that_keeps_migrated_numbers_listed() {
    let world = example_world_with(&[("migrated_source: remove", "migrated_source: mark_migrated")]);
    // The manifest does not name the source: after the move, only its MIGRATED listing tells it.
    let rig = Rig::with_world(&world, &manifest(DESTINATION_WABA, &[("+1 631-555-0102", None)]));
    let before = json_plan(&run(&rig, &["plan", "--format", "json"]));
    assert_eq!(before["numbers"][0]["action"], "migrate");
    assert_eq!(run(&rig, &["apply", "--auto-approve"]).status.code(), Some(3));
    rig.deliver_code("16315550102");
    let apply = run(&rig, &["apply", "--auto-approve"]);
    assert_eq!(apply.status.code(), Some(0), "{}", transcript(&apply));
    let output = run(&rig, &["plan", "--format", "json", "--detailed-exitcode"]);
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    let plan = json_plan(&output);
    assert_eq!(plan["numbers"][0]["action"], "in-sync");
    assert_eq!(plan["summary"]["unmanaged"], 1, "a MIGRATED listing is not an unmanaged number");
}

#[test]
fn several_destinations_in_one_plan() {
    let rig = Rig::new(&format!(
        "version: 1\ndefaults:\n  pin: {{ env: WAMIG_PIN }}\ndestinations:\n  - waba: \"{DESTINATION_WABA}\"\n    name: acme-prod\n    numbers:\n      - phone: \"+1 631-555-0102\"\n        source_waba: \"{SOURCE_WABA}\"\n      - phone: \"+1 631-555-0103\"\n        source_waba: \"{SOURCE_WABA}\"\n        code_method: VOICE\n        register: false\n  - waba: \"105000000000001\"\n    name: acme-unfunded\n    numbers:\n      - phone: \"+1 631-555-0101\"\n        source_waba: \"{SOURCE_WABA}\"\n"
    ));
    let output = run(&rig, &["plan", "--format", "markdown", "--detailed-exitcode"]);
    assert_eq!(output.status.code(), Some(4), "{}", transcript(&output));
    snapshot(&rig, "several_destinations_markdown", &output);
    let plan = json_plan(&run(&rig, &["plan", "--format", "json"]));
    let actions: Vec<(&str, &str, &str)> = plan["numbers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["phone"].as_str().unwrap(),
                n["destination_waba"].as_str().unwrap(),
                n["action"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("+16315550102", DESTINATION_WABA, "migrate"),
            ("+16315550103", DESTINATION_WABA, "migrate"),
            ("+16315550101", "105000000000001", "blocked"),
        ]
    );
    let voice = &plan["numbers"][1];
    assert_eq!((voice["code_method"].as_str(), voice["register"].as_bool()), (Some("VOICE"), Some(false)));
    assert_eq!(
        voice["steps"],
        serde_json::json!(["initiate_migration", "request_code", "verify_code", "verify_templates"])
    );
}

#[test]
fn brief_throttling_is_waited_out_and_lasting_throttling_is_an_error() {
    let rig = Rig::new(&fresh_manifest());
    let calm = run(&rig, &["plan"]);
    rig.sandbox.set_faults(wamig::sandbox::Faults { throttle_burst: 2, ..rig.sandbox.faults() });
    let output = run(&rig, &["plan"]);
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    let without_header =
        |out: &Output| String::from_utf8_lossy(&out.stdout).lines().skip(1).collect::<Vec<_>>().join("\n");
    assert_eq!(without_header(&output), without_header(&calm), "the same plan once Graph lets us in");
    assert!(rig.sandbox.requests().iter().any(|r| r.fault.as_deref() == Some("throttle")));

    rig.sandbox.set_faults(wamig::sandbox::Faults { throttle_burst: 1000, ..rig.sandbox.faults() });
    let output = run(&rig, &["plan"]);
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    snapshot(&rig, "throttled", &output);
}

#[test]
fn the_api_version_comes_from_the_flag() {
    let rig = Rig::new(&fresh_manifest());
    let output = run(&rig, &["--api-version", "v22.0", "plan", "--format", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    assert_eq!(json_plan(&output)["api_version"], "v22.0");
    assert!(rig.sandbox.requests().iter().all(|r| r.path.starts_with("/v22.0/")));
}

#[test]
fn the_most_verbose_logs_carry_no_secret() {
    let world = GenWorld { app_secret: Some("world-app-secret"), source_numbers: 2, ..GenWorld::default() };
    let rig = Rig::with_world(
        &world.yaml(),
        &manifest(DESTINATION_WABA, &[(&gen_source_phone(0), Some(SOURCE_WABA))]),
    );
    let proof = wamig::graph::appsecret_proof(
        &wamig::secret::Secret::new(ACME_TOKEN),
        &wamig::secret::Secret::new("world-app-secret"),
    );
    for format in ["text", "json"] {
        let output = rig
            .wamig()
            .env("WAMIG_APP_SECRET", "world-app-secret")
            .args(["-vv", "--log-format", format, "plan", "--out", "plan.json"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
        let all = format!(
            "{}{}",
            transcript(&output),
            std::fs::read_to_string(rig.path().join("plan.json")).unwrap()
        );
        assert!(all.contains("graph_request") || all.contains("GET /v23.0/"), "debug lines are shown: {all}");
        for secret in [ACME_TOKEN, "world-app-secret", proof.expose(), "123456"] {
            assert!(!all.contains(secret), "{format}: {secret} in the output");
        }
    }
}

#[test]
fn a_migration_started_outside_wamig_is_resumed_from_the_live_state() {
    let rig = Rig::new(&one_number("+1 631-555-0102"));
    // Started by hand (or the journal was lost): only the live state tells.
    let client = wamig::graph::GraphClient::new(
        wamig::graph::GraphConfig::new(
            &rig.sandbox.base_url(),
            "v23.0",
            wamig::secret::Secret::new(ACME_TOKEN),
        )
        .unwrap(),
    )
    .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let id = runtime.block_on(client.initiate_migration(DESTINATION_WABA, "1", "6315550102")).unwrap();
    let output = run(&rig, &["plan", "--format", "json", "--detailed-exitcode"]);
    assert_eq!(output.status.code(), Some(2), "{}", transcript(&output));
    let plan = json_plan(&output);
    let number = &plan["numbers"][0];
    assert_eq!(number["action"], "resume");
    assert_eq!(number["phone_number_id"], id.as_str());
    assert_eq!(number["awaiting_code"], false);
    assert_eq!(
        number["steps"],
        serde_json::json!(["request_code", "verify_code", "register", "verify_templates"])
    );
    assert_eq!(
        plan["summary"]["unmanaged"], 1,
        "the pending node is the managed number, not an unmanaged one"
    );
}
