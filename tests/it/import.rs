//! `wamig import` as a user runs it against the example world: the manifest it writes passes
//! `wamig validate`, plans in sync (`--waba`) or as exactly the moves asked for (`--from/--to`),
//! and leaves out, commented, the numbers that cannot move.

use std::process::Output;

use serde_json::Value;

use crate::support::{ACME_TOKEN, DESTINATION_WABA, Rig, SOURCE_WABA, transcript, with_filters};

/// A manifest that is never read: import needs none, and plans below use `-f` on its output.
const UNUSED: &str = "version: 1\n";

fn run(rig: &Rig, args: &[&str]) -> Output {
    rig.wamig().args(args).output().unwrap()
}

fn ok(output: &Output, code: i32) -> &Output {
    assert_eq!(output.status.code(), Some(code), "{}", transcript(output));
    output
}

fn planned(rig: &Rig, file: &str) -> Vec<String> {
    let output = run(rig, &["plan", "-f", file, "--format", "json"]);
    let plan: Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("{}", transcript(&output)));
    plan["numbers"].as_array().unwrap().iter().map(|n| n["phone"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn a_fleet_imported_where_it_lives_plans_in_sync() {
    let rig = Rig::new(UNUSED);
    let before = rig.sandbox.request_count();
    ok(&run(&rig, &["import", "--waba", DESTINATION_WABA, "-o", "fleet.yaml"]), 0);
    let requests = rig.sandbox.request_count() - before;
    assert!(requests <= 2, "one multi-id read and the token's permissions, not {requests} requests");
    let text = std::fs::read_to_string(rig.path().join("fleet.yaml")).unwrap();
    assert!(text.contains("- phone: \"+16315550199\""), "{text}");
    assert!(text.contains("pin: { env: WAMIG_PIN }") && !text.contains(ACME_TOKEN), "{text}");
    ok(&run(&rig, &["validate", "-f", "fleet.yaml"]), 0);
    ok(&run(&rig, &["plan", "-f", "fleet.yaml", "--detailed-exitcode"]), 0);
    assert_eq!(planned(&rig, "fleet.yaml"), ["+16315550199"]);
}

#[test]
fn moves_plan_as_exactly_the_moves_and_leave_out_what_cannot_move() {
    let rig = Rig::new(UNUSED);
    let output = run(&rig, &["import", "--from", SOURCE_WABA, "--to", DESTINATION_WABA]);
    ok(&output, 0);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    with_filters(&rig.filters(), || insta::assert_snapshot!("import_moves", transcript(&output)));
    std::fs::write(rig.path().join("moves.yaml"), &text).unwrap();
    ok(&run(&rig, &["validate", "-f", "moves.yaml"]), 0);
    ok(&run(&rig, &["plan", "-f", "moves.yaml", "--detailed-exitcode"]), 2);
    // 0109 is in maintenance, which Graph does not show: it stays, and apply retries it.
    assert_eq!(planned(&rig, "moves.yaml"), ["+16315550101", "+16315550102", "+16315550103", "+16315550109"]);
    for left_out in ["0104", "0105", "0106", "0107", "0108"] {
        assert!(text.contains(&format!("# - phone: \"+1631555{left_out}\"")), "{left_out}: {text}");
    }
}

#[test]
fn an_existing_file_is_kept_unless_forced() {
    let rig = Rig::new(UNUSED);
    std::fs::write(rig.path().join("wamig.yaml"), "# mine\n").unwrap();
    let output = run(&rig, &["import", "--waba", DESTINATION_WABA, "-o", "wamig.yaml"]);
    with_filters(&rig.filters(), || insta::assert_snapshot!("import_exists", transcript(&output)));
    assert_eq!(std::fs::read_to_string(rig.path().join("wamig.yaml")).unwrap(), "# mine\n");
    assert_eq!(rig.sandbox.request_count(), 0, "refused before any request");
    ok(&run(&rig, &["import", "--waba", DESTINATION_WABA, "-o", "wamig.yaml", "--force"]), 0);
    ok(&run(&rig, &["plan", "--detailed-exitcode"]), 0);
}

#[test]
fn an_unreadable_waba_is_an_error_naming_it() {
    let rig = Rig::new(UNUSED);
    let output =
        run(&rig, &["import", "--waba", DESTINATION_WABA, "--waba", "201000000000001", "-o", "x.yaml"]);
    with_filters(&rig.filters(), || insta::assert_snapshot!("import_unreadable", transcript(&output)));
    assert!(!rig.path().join("x.yaml").exists());
}

#[test]
fn the_command_line_is_refused_when_it_makes_no_sense() {
    let rig = Rig::new(UNUSED);
    for args in [
        &["import"][..],
        &["import", "--waba", "1", "--from", "2", "--to", "3"],
        &["import", "--from", "1", "--to", "2", "--from", "3"],
        &["import", "--waba", "acme-cloud"],
        &["import", "--waba", "1", "--force"],
    ] {
        let output = run(&rig, args);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {}", transcript(&output));
    }
    assert_eq!(rig.sandbox.request_count(), 0);
}
