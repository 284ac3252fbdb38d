//! Drift as a user meets it: numbers degraded in the sandbox (as in WhatsApp Manager) show up in
//! the next plan, in every rendering, without changing its exit code.

use std::process::Output;

use serde_json::{Value, json};

use crate::apply_support::{ORDERS, ORDERS_DIGITS, apply, manifest};
use crate::plan_support::manifest as manifest_of;
use crate::support::{DESTINATION_WABA, Rig, SOURCE_WABA, transcript, with_filters};

/// The example world's number living in the destination, in sync for a manifest keeping it there.
const CLOUD: &str = "+1 631-555-0199";

fn run(rig: &Rig, args: &[&str]) -> Output {
    rig.wamig().args(args).output().unwrap()
}

fn patch(rig: &Rig, phone: &str, patch: Value) {
    rig.sandbox.patch_number(phone, &serde_json::from_value(patch).unwrap()).unwrap();
}

/// `(id, severity)` of every drift of the plan's only number, with `--detailed-exitcode` exit 0.
fn drift(rig: &Rig) -> Vec<(String, String)> {
    let output = run(rig, &["plan", "--format", "json", "--detailed-exitcode"]);
    assert_eq!(output.status.code(), Some(0), "drift is not a change: {}", transcript(&output));
    let plan: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(plan["summary"]["in_sync"], 1, "{plan}");
    plan["numbers"][0]["drift"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|d| (d["id"].as_str().unwrap().to_owned(), d["severity"].as_str().unwrap().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
}

#[test]
fn a_number_degraded_in_whatsapp_manager_drifts() {
    let rig = Rig::new(&manifest_of(DESTINATION_WABA, &[(CLOUD, None)]));
    assert!(drift(&rig).is_empty());
    patch(&rig, CLOUD, json!({"status": "FLAGGED", "quality_rating": "YELLOW"}));
    assert_eq!(drift(&rig), pairs(&[("number.status", "warning"), ("number.quality", "warning")]));
    patch(
        &rig,
        CLOUD,
        json!({"status": "DISCONNECTED", "quality_rating": "RED", "name_status": "DECLINED", "new_name_status": "PENDING_REVIEW"}),
    );
    assert_eq!(
        drift(&rig),
        pairs(&[
            ("number.status", "critical"),
            ("number.quality", "critical"),
            ("number.name_status", "warning"),
            ("number.pending_name_change", "warning"),
        ])
    );
    let text = run(&rig, &["plan"]);
    let markdown = run(&rig, &["plan", "--format", "markdown"]);
    let mut filters = rig.filters();
    filters.push(("`[0-9a-f]{12}`".into(), "`[DIGEST12]`".into()));
    with_filters(&filters, || {
        insta::assert_snapshot!("drift_text", transcript(&text));
        insta::assert_snapshot!("drift_markdown", transcript(&markdown));
    });
}

#[test]
fn apply_remembers_the_messaging_limit_a_number_arrived_with() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    assert_eq!(apply(&rig, &[]).status.code(), Some(3));
    rig.deliver_code(ORDERS_DIGITS);
    let output = apply(&rig, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    let journal = rig.journal();
    assert_eq!(journal["numbers"]["+16315550102"]["messaging_limit_tier"], "TIER_1K", "{journal}");
    assert!(drift(&rig).is_empty());
}

#[test]
fn health_status_drift_carries_metas_codes_and_solutions() {
    let rig = Rig::new(&manifest_of(DESTINATION_WABA, &[(CLOUD, None)]));
    patch(
        &rig,
        CLOUD,
        json!({"health_status": {"can_send_message": "BLOCKED", "entity_type": "WABA", "errors": [{
            "error_code": 141006,
            "error_description": "There is an error with the payment method. This will block business initiated conversations.",
            "possible_solution": "There was an error with your payment method. Please add a new payment method to the account."
        }]}}),
    );
    assert_eq!(drift(&rig), pairs(&[("number.health", "critical")]));
    let plan: Value = serde_json::from_slice(&run(&rig, &["plan", "--format", "json"]).stdout).unwrap();
    let item = &plan["numbers"][0]["drift"][0];
    assert!(item["message"].as_str().unwrap().contains("WABA 104996122399160: error 141006"), "{item}");
    assert!(item["hint"].as_str().unwrap().contains("Please add a new payment method"), "{item}");
    patch(&rig, CLOUD, json!({"health_status": {"can_send_message": "AVAILABLE"}}));
    assert!(drift(&rig).is_empty(), "healed");
}

#[test]
fn a_destination_whose_webhooks_were_unsubscribed_loses_messages() {
    let rig = Rig::new(&manifest_of(DESTINATION_WABA, &[(CLOUD, None)]));
    let unsubscribed = serde_json::from_value(json!({"subscribed_apps": []})).unwrap();
    rig.sandbox.patch_waba(DESTINATION_WABA, &unsubscribed).unwrap();
    assert_eq!(drift(&rig), pairs(&[("destination.webhooks", "critical")]));
}

/// ORDERS moved by wamig into the destination, registered, in sync, two days ago (the journal's
/// times are moved back: right after a write, wamig reads a missing node as Graph lagging).
fn moved_by_wamig() -> Rig {
    let rig = Rig::new(&manifest(&[ORDERS]));
    assert_eq!(apply(&rig, &[]).status.code(), Some(3));
    rig.deliver_code(ORDERS_DIGITS);
    let output = apply(&rig, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    let path = rig.path().join(".wamig/state.json");
    let mut journal: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    two_days_earlier(&mut journal);
    std::fs::write(&path, journal.to_string()).unwrap();
    rig
}

fn two_days_earlier(value: &mut Value) {
    match value {
        Value::String(text) => {
            if let Ok(at) = text.parse::<jiff::Timestamp>() {
                *text = (at - jiff::SignedDuration::from_hours(48)).to_string();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(two_days_earlier),
        Value::Object(map) => map.values_mut().for_each(two_days_earlier),
        _ => {}
    }
}

#[test]
fn a_lower_messaging_limit_than_on_arrival() {
    let rig = moved_by_wamig();
    patch(&rig, ORDERS, json!({"messaging_limit_tier": "TIER_250"}));
    let found = drift(&rig);
    assert_eq!(found, pairs(&[("number.messaging_limit", "warning")]));
}

#[test]
fn a_number_moved_away_since_the_last_apply() {
    let rig = moved_by_wamig();
    // Someone moves it back to the source WABA, which the manifest names.
    patch(&rig, ORDERS, json!({"move_to": SOURCE_WABA}));
    let output = run(&rig, &["plan", "--format", "json"]);
    let plan: Value = serde_json::from_slice(&output.stdout).unwrap();
    let number = &plan["numbers"][0];
    // The manifest still wants it in the destination; moving it back needs two-step
    // verification off (register turned it on), so the plan shows it blocked, with the fix.
    assert_eq!(number["action"], "blocked", "{number}");
    assert_eq!(number["drift"][0]["id"], "number.moved_away", "{number}");
    assert_eq!(number["drift"][0]["severity"], "critical");
    let message = number["drift"][0]["message"].as_str().unwrap();
    assert!(message.ends_with(&format!("it now lives in WABA {SOURCE_WABA}")), "{message}");
    let text = run(&rig, &["plan"]);
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("number.moved_away (critical)"),
        "{}",
        transcript(&text)
    );
}

#[test]
fn a_number_moved_to_a_waba_wamig_does_not_observe() {
    let rig = moved_by_wamig();
    patch(&rig, ORDERS, json!({"move_to": "105000000000001"}));
    let plan: Value = serde_json::from_slice(&run(&rig, &["plan", "--format", "json"]).stdout).unwrap();
    let message = plan["numbers"][0]["drift"][0]["message"].as_str().unwrap().to_owned();
    assert!(message.ends_with(&format!("WABA {DESTINATION_WABA} no longer lists it")), "{message}");
}
