//! Drift as a user meets it: numbers degraded in the sandbox (as in WhatsApp Manager) show up in
//! the next plan, in every rendering, without changing its exit code.

use std::process::Output;

use serde_json::{Value, json};

use crate::apply_support::{ORDERS, ORDERS_DIGITS, apply, manifest};
use crate::plan_support::manifest as manifest_of;
use crate::support::{DESTINATION_WABA, Rig, transcript, with_filters};

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
