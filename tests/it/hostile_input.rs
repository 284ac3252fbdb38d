//! Hostile or careless input from the command line and from files wamig reads back: every one
//! ends in an error that names it (exit 1), never a panic (exit 101), never an action.

use crate::apply_support::*;
use crate::support::*;

fn save_plan(rig: &Rig) -> serde_json::Value {
    let output = rig.wamig().args(["plan", "--out", "plan.json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    serde_json::from_str(&std::fs::read_to_string(rig.path().join("plan.json")).unwrap()).unwrap()
}

fn write_plan(rig: &Rig, plan: &serde_json::Value) {
    std::fs::write(rig.path().join("plan.json"), serde_json::to_string_pretty(plan).unwrap()).unwrap();
}

#[test]
fn a_saved_plan_with_a_short_or_multibyte_digest_is_an_error_not_a_panic() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    let mut plan = save_plan(&rig);
    for digest in ["abc", "ééééééééééé"] {
        plan["digest"] = digest.into();
        write_plan(&rig, &plan);
        for args in [&["apply", "--auto-approve", "plan.json"][..], &["show", "plan.json"]] {
            let output = rig.wamig().args(args).output().unwrap();
            assert_eq!(output.status.code(), Some(1), "{digest} {args:?}: {}", transcript(&output));
            assert!(stderr(&output).contains("is not a SHA-256 digest"), "{}", transcript(&output));
        }
    }
    assert_eq!(writes(&rig), 0);
}

#[test]
fn a_saved_plan_cannot_extend_its_own_life() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    let original = save_plan(&rig);

    let mut future = original.clone();
    future["created_at"] = "2999-01-01T00:00:00Z".into();
    write_plan(&rig, &future);
    let output = apply(&rig, &["plan.json"]);
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    assert!(stderr(&output).contains("is in the future"), "{}", transcript(&output));

    // A week-old plan whose time to live was edited to a month.
    let mut stretched = original.clone();
    let created: jiff::Timestamp = original["created_at"].as_str().unwrap().parse().unwrap();
    stretched["created_at"] = (created - jiff::SignedDuration::from_hours(7 * 24)).to_string().into();
    stretched["ttl_seconds"] = (30 * 24 * 3600).into();
    write_plan(&rig, &stretched);
    let output = apply(&rig, &["plan.json"]);
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    assert!(stderr(&output).contains("longer than the 24 h"), "{}", transcript(&output));
    assert_eq!(writes(&rig), 0, "nothing was done");
}

#[test]
fn an_endless_wait_is_refused_up_front() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    let output = apply(&rig, &["--wait-for-codes", "9223372036854775807s"]);
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    assert!(stderr(&output).contains("too long"), "{}", transcript(&output));
    assert!(rig.sandbox.requests().is_empty(), "refused before any request");
}
