//! `templates: { ensure: true }` end to end: the real binary against the sandbox. A destination
//! ends with every eligible template of its source, the plan in sync, anything Meta refused
//! reported with its reason, and reruns make no template call.

use std::process::Output;

use serde_json::Value;

use crate::apply_support::{ORDERS, ORDERS_DIGITS, apply, code_of, posts, stdout};
use crate::support::{DESTINATION_WABA as DEST, Rig, SOURCE_WABA as SOURCE, transcript, with_filters};

/// The example destination's registered number (+1 631-555-0199) is in sync already, so these
/// runs have only templates to do.
fn manifest(extra_number: Option<&str>) -> String {
    let mut text = format!(
        "version: 1\ndefaults:\n  pin: {{ env: WAMIG_PIN }}\ndestinations:\n  - waba: \"{DEST}\"\n    name: acme-cloud\n    templates: {{ ensure: true }}\n    numbers:\n      - phone: \"+1 631-555-0199\"\n        source_waba: \"{SOURCE}\"\n"
    );
    if let Some(phone) = extra_number {
        text.push_str(&format!("      - phone: \"{phone}\"\n        source_waba: \"{SOURCE}\"\n"));
    }
    text
}

fn world_with(change: &[(&str, &str)]) -> String {
    let mut world = wamig::sandbox::EXAMPLE_WORLD.to_owned();
    for (from, to) in change {
        assert!(world.contains(from), "the example world has {from:?}");
        world = world.replace(from, to);
    }
    world
}

const LIMIT_4: &str = "    template_limit: 4\n";

fn json_plan(rig: &Rig) -> Value {
    let output = rig.wamig().args(["plan", "--format", "json"]).output().unwrap();
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", transcript(&output)))
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|t| format!("{} ({})", t["name"].as_str().unwrap(), t["language"].as_str().unwrap()))
        .collect()
}

fn plan_exit(rig: &Rig) -> Option<i32> {
    code_of(&rig.wamig().args(["plan", "--detailed-exitcode"]).output().unwrap())
}

fn migrate_counts(rig: &Rig) -> Vec<String> {
    rig.sandbox
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/migrate_message_templates"))
        .map(|r| r.params.get("count").cloned().unwrap_or_default())
        .collect()
}

fn report(output: &Output) -> String {
    let out = stdout(output);
    let at = out
        .find("\nTemplates of WABA")
        .unwrap_or_else(|| panic!("no templates report: {}", transcript(output)));
    out[at..].to_owned()
}

#[test]
fn every_eligible_template_arrives_and_what_meta_refuses_is_reported_with_its_reason() {
    let rig = Rig::new(&manifest(None));
    let plan = json_plan(&rig);
    let templates = &plan["destinations"][0]["templates"];
    assert_eq!(
        names(&templates["to_migrate"]),
        [
            "delivery_reminder (en_US)",
            "login_code (en_US)",
            "order_confirmation (en_US)",
            "order_confirmation (es_ES)",
            "spring_sale (en_US)"
        ]
    );
    assert_eq!(templates["present"], serde_json::json!(["shipping_update (en_US)"]));
    assert_eq!(templates["cannot"].as_array().unwrap().len(), 4, "{templates}");
    assert_eq!(plan["summary"]["templates"], 5);
    assert_eq!(plan_exit(&rig), Some(2), "missing templates are changes");

    // The sandbox's destination holds 4 names: 2 are there, so Meta takes 2 and refuses 3.
    let first = apply(&rig, &[]);
    assert_eq!(code_of(&first), Some(1), "{}", transcript(&first));
    let text = report(&first);
    assert!(text.contains("migrated: delivery_reminder (en_US), login_code (en_US)"), "{text}");
    assert!(text.contains("    order_confirmation (en_US): The destination WhatsApp Business Account has reached its limit of 4 message templates\n"), "{text}");
    // Pages would also copy what is there: the missing ones are named, and refusals asked for
    // once more.
    assert_eq!(migrate_counts(&rig), ["5", "3"]);
    with_filters(&rig.filters(), || insta::assert_snapshot!("templates_refused_by_the_limit", text));

    // The business gets a higher limit from Meta; the next run asks only for what is missing.
    rig.sandbox
        .patch_waba(DEST, &wamig::sandbox::WabaPatch { template_limit: Some(250), ..Default::default() })
        .unwrap();
    let second = apply(&rig, &[]);
    assert_eq!(code_of(&second), Some(0), "{}", transcript(&second));
    assert!(
        report(&second).contains(
            "migrated: order_confirmation (en_US), order_confirmation (es_ES), spring_sale (en_US)"
        )
    );
    assert_eq!(migrate_counts(&rig), ["5", "3", "3"]);

    assert_eq!(plan_exit(&rig), Some(0), "in sync");
    let plan = json_plan(&rig);
    assert!(plan["summary"].get("templates").is_none(), "{}", plan["summary"]);
    assert_eq!(plan["destinations"][0]["templates"]["present"].as_array().unwrap().len(), 6);

    let third = apply(&rig, &[]);
    assert_eq!(code_of(&third), Some(0), "{}", transcript(&third));
    assert!(stdout(&third).contains("Nothing to do."));
    assert_eq!(posts(&rig, "/migrate_message_templates"), 3, "a rerun makes no template call");
    let names: Vec<String> = rig.sandbox.templates(DEST).into_iter().map(|t| t.name).collect();
    assert_eq!(names.len(), 7, "2 there before, 5 migrated: {names:?}");
}

#[test]
fn a_call_that_runs_out_of_time_is_asked_again_with_a_smaller_count() {
    let world =
        world_with(&[(LIMIT_4, "    template_limit: 250\n    template_migration_timeout_above: 2\n")]);
    let rig = Rig::with_world(&world, &manifest(None));
    let output = apply(&rig, &["--log-format", "json"]);
    assert_eq!(code_of(&output), Some(0), "{}", transcript(&output));
    assert_eq!(migrate_counts(&rig), ["5", "1", "1", "1", "1", "1"]);
    assert!(report(&output).contains("migrated: delivery_reminder (en_US), login_code (en_US), order_confirmation (en_US), order_confirmation (es_ES), spring_sale (en_US)"));

    let events: Vec<Value> = String::from_utf8_lossy(&output.stderr)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let named = |name: &str| events.iter().filter(|e| e["event"] == name).cloned().collect::<Vec<_>>();
    assert_eq!(named("templates_started")[0]["to_migrate"], 5);
    let retry = &named("templates_retry")[0];
    assert_eq!((retry["class"].as_str(), retry["count"].as_u64()), (Some("timeout"), Some(1)));
    assert!(retry["message"].as_str().unwrap().contains("ran out of time with 5 templates"));
    let finished = &named("templates_finished")[0];
    assert_eq!(finished["destination_waba"], DEST);
    assert_eq!(finished["report"]["migrated"].as_array().unwrap().len(), 5);
    let summary = &named("summary")[0];
    assert_eq!(summary["templates"][0]["migrated"].as_array().unwrap().len(), 5);
}

#[test]
fn templates_arrive_before_the_number_moves_and_its_report_counts_them_as_there() {
    let world = world_with(&[(LIMIT_4, "    template_limit: 250\n")]);
    let rig = Rig::with_world(&world, &manifest(Some(ORDERS)));
    let first = apply(&rig, &[]);
    assert_eq!(code_of(&first), Some(3), "waits for the code: {}", transcript(&first));
    let requests = rig.sandbox.requests();
    let migrate_at = requests.iter().position(|r| r.path.ends_with("/migrate_message_templates")).unwrap();
    let initiate_at =
        requests.iter().position(|r| r.method == "POST" && r.path.ends_with("/phone_numbers")).unwrap();
    assert!(migrate_at < initiate_at, "templates come first, as Meta advises");

    let mut command = crate::apply_support::apply_command(&rig, &[]);
    command.env(format!("WAMIG_CODE_{ORDERS_DIGITS}"), rig.sent_code(ORDERS_DIGITS));
    let second = command.output().unwrap();
    assert_eq!(code_of(&second), Some(0), "{}", transcript(&second));
    let out = stdout(&second);
    assert!(out.contains("duplicated: none"), "{out}");
    assert!(
        out.contains("already in the destination (left as they were): delivery_reminder (en_US), login_code (en_US), order_confirmation (en_US)"),
        "{out}"
    );
    assert_eq!(posts(&rig, "/migrate_message_templates"), 1);
    assert_eq!(plan_exit(&rig), Some(0));
}

#[test]
fn another_business_gets_new_submissions_that_meta_reviews_again() {
    let world = world_with(&[
        (
            LIMIT_4,
            "    template_limit: 250\n    template_review: { decision: approve, after: 10m, reject: [spring_sale] }\n",
        ),
        // The legacy WABA belongs to another business, which the token may still read.
        (
            "  - id: \"102289599326934\"\n    name: acme-legacy\n    business: \"111111111111111\"",
            "  - id: \"102289599326934\"\n    name: acme-legacy\n    business: \"222222222222222\"",
        ),
        (
            "      - { name: login_code,",
            "      - { name: menu_card, language: en_US, category: MARKETING, status: APPROVED, quality_score: GREEN, header: IMAGE }\n      - { name: login_code,",
        ),
    ]);
    let rig = Rig::with_world(&world, &manifest(None));
    let plan = json_plan(&rig);
    let templates = &plan["destinations"][0]["templates"];
    assert_eq!(templates["sources"][0]["method"], "recreate");
    assert_eq!(names(&templates["to_recreate"]).len(), 5);
    let cannot = templates["cannot"].to_string();
    assert!(cannot.contains("menu_card (en_US)") && cannot.contains("media header"), "{cannot}");
    let text = rig.wamig().arg("plan").output().unwrap();
    assert!(
        stdout(&text)
            .contains("re-create from WABA 102289599326934 as new submissions that Meta reviews again")
    );

    let output = apply(&rig, &[]);
    assert_eq!(code_of(&output), Some(0), "{}", transcript(&output));
    assert!(
        report(&output)
            .contains("submitted anew, Meta reviews them again: delivery_reminder (en_US) (PENDING)")
    );
    assert_eq!(posts(&rig, "/message_templates"), 5);
    assert_eq!(posts(&rig, "/migrate_message_templates"), 0, "Meta's migration refuses other businesses");

    // PENDING counts as there: in sync, and a rerun sends nothing.
    assert_eq!(plan_exit(&rig), Some(0));
    rig.sandbox.advance_clock(std::time::Duration::from_secs(600));
    let spring = rig.sandbox.templates(DEST).into_iter().find(|t| t.name == "spring_sale").unwrap();
    assert_eq!(spring.status.as_str(), "REJECTED");
    let plan = json_plan(&rig);
    let present = plan["destinations"][0]["templates"]["present"].to_string();
    assert!(present.contains("spring_sale (en_US) [REJECTED there]"), "{present}");
    let rerun = apply(&rig, &[]);
    assert_eq!(code_of(&rerun), Some(0));
    assert_eq!(posts(&rig, "/message_templates"), 5);
}
