use std::time::Duration;

use super::*;
use crate::sandbox::state::WabaPatch;
use crate::sandbox::world::World;

const ACME: &str = "sandbox-token-acme-system-user";
const SOURCE: &str = "102289599326934";
const DEST: &str = "104996122399160";

fn example_text() -> &'static str {
    include_str!("../../../../examples/sandbox/world.yaml")
}

fn state_of(text: &str) -> State {
    State::new(&World::from_yaml_str(text).unwrap(), 3)
}

fn t0() -> Timestamp {
    Timestamp::from_second(1_800_000_000).unwrap()
}

fn value(field: FieldValue) -> Option<Value> {
    match field {
        FieldValue::Value(value) => Some(value),
        _ => None,
    }
}

fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn migrate(state: &mut State, pairs: &[(&str, &str)]) -> Result<Value, GraphError> {
    let acme = state.authenticate(ACME).unwrap();
    let mut all = params(&[("source_waba_id", SOURCE)]);
    all.extend(params(pairs));
    state.migrate_templates(&acme, DEST, &all)
}

fn id_of(state: &State, waba: &str, name: &str) -> String {
    state.templates_of(waba).into_iter().find(|t| t.name == name).unwrap().id
}

/// Names of the answer's failed templates, with their reasons.
fn failures(state: &State, answer: &Value) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = answer["failed_templates"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(id, why)| (state.templates[id].name.clone(), why.as_str().unwrap().to_owned()))
        .collect();
    found.sort();
    found
}

fn migrated(state: &State, answer: &Value) -> Vec<String> {
    answer["migrated_templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| state.templates[id.as_str().unwrap()].name.clone())
        .collect()
}

#[test]
fn migration_pages_through_the_source_and_says_why_each_failure_failed() {
    let mut state = state_of(example_text());
    let first = migrate(&mut state, &[("page_number", "0"), ("count", "4")]).unwrap();
    assert_eq!(migrated(&state, &first), ["order_confirmation", "order_confirmation", "spring_sale"]);
    let failed = failures(&state, &first);
    assert_eq!(failed.len(), 1);
    assert!(failed[0].1.contains("already exists in the destination"), "{failed:?}");

    // The destination's limit (4 names) is now reached; ineligible ones say why.
    let second = migrate(&mut state, &[("page_number", "1"), ("count", "4")]).unwrap();
    assert!(migrated(&state, &second).is_empty());
    let failed = failures(&state, &second);
    let reasons: Vec<(&str, &str)> = failed.iter().map(|(n, r)| (n.as_str(), r.as_str())).collect();
    assert!(reasons[0].0 == "delivery_reminder" && reasons[0].1.contains("limit of 4"), "{reasons:?}");
    assert!(reasons[1].0 == "login_code" && reasons[1].1.contains("limit of 4"));
    assert!(reasons[2].0 == "loyalty_points" && reasons[2].1.contains("quality is YELLOW"));
    assert!(reasons[3].0 == "winback_offer" && reasons[3].1.contains("quality is RED"));
    let third = migrate(&mut state, &[("page_number", "2"), ("count", "4")]).unwrap();
    let failed = failures(&state, &third);
    assert!(failed[0].1.contains("status is REJECTED") && failed[1].1.contains("status is PENDING"));
    let past = migrate(&mut state, &[("page_number", "3"), ("count", "4")]).unwrap();
    assert_eq!(past, json!({"migrated_templates": [], "failed_templates": {}}));

    // Copies are APPROVED with quality UNKNOWN (spring_sale is re-categorised), and say
    // what they were copied from.
    let dest = state.templates_of(DEST);
    let copy = dest.iter().find(|t| t.name == "order_confirmation" && t.language == "es_ES").unwrap();
    assert_eq!((copy.status, copy.quality_score), (TemplateStatus::Approved, TemplateQuality::Unknown));
    assert!(copy.migrated_from.is_some() && copy.duplicated_for.is_none());
    assert_eq!(dest.iter().find(|t| t.name == "spring_sale").unwrap().status, TemplateStatus::Rejected);

    // With room made, the failures are retried by id, in any page size.
    state.patch_waba(DEST, &WabaPatch { template_limit: Some(250), ..WabaPatch::default() }).unwrap();
    let ids = format!(
        "[\"{}\", {}]",
        id_of(&state, SOURCE, "delivery_reminder"),
        id_of(&state, SOURCE, "login_code")
    );
    let retry =
        migrate(&mut state, &[("page_number", "0"), ("count", "500"), ("template_ids", &ids)]).unwrap();
    assert_eq!(migrated(&state, &retry), ["delivery_reminder", "login_code"]);
    let unknown =
        migrate(&mut state, &[("page_number", "0"), ("count", "5"), ("template_ids", "123")]).unwrap();
    assert_eq!(
        unknown["failed_templates"]["123"],
        "Template not found in the source WhatsApp Business Account"
    );
}

#[test]
fn migration_parameters_follow_meta_limits() {
    let mut state = state_of(example_text());
    let message = |result: Result<Value, GraphError>| result.unwrap_err().message.clone();
    assert!(message(migrate(&mut state, &[("page_number", "0")])).contains("count is required"));
    assert!(message(migrate(&mut state, &[("count", "5")])).contains("page_number is required"));
    assert!(message(migrate(&mut state, &[("page_number", "0"), ("count", "501")])).contains("at most 500"));
    assert!(
        message(migrate(&mut state, &[("page_number", "0"), ("count", "0")])).contains("between 1 and 500")
    );
    assert!(message(migrate(&mut state, &[("page_number", "-1"), ("count", "5")])).contains("non-negative"));
    let many = format!("[{}]", (0..501).map(|i| format!("\"{}\"", 900 + i)).collect::<Vec<_>>().join(","));
    assert!(
        message(migrate(&mut state, &[("page_number", "0"), ("count", "5"), ("template_ids", &many)]))
            .contains("at most 500 templates")
    );
    assert!(
        message(migrate(&mut state, &[("page_number", "0"), ("count", "5"), ("template_ids", "[{}]")]))
            .contains("template_ids")
    );
    let acme = state.authenticate(ACME).unwrap();
    let without_source =
        state.migrate_templates(&acme, DEST, &params(&[("page_number", "0"), ("count", "5")]));
    assert!(message(without_source).contains("source_waba_id is required"));
    // Initech's WABA is out of this token's reach.
    let hidden = params(&[("source_waba_id", "201000000000001"), ("page_number", "0"), ("count", "5")]);
    assert!(message(state.migrate_templates(&acme, DEST, &hidden)).contains("source_waba_id"));
    // The read-only token may not write to the destination.
    let auditor = state.authenticate("sandbox-token-acme-read-only").unwrap();
    let all = params(&[("source_waba_id", SOURCE), ("page_number", "0"), ("count", "5")]);
    assert_eq!(state.migrate_templates(&auditor, DEST, &all).unwrap_err().code, 200);
}

#[test]
fn a_page_too_big_runs_past_the_time_limit_and_migrates_nothing() {
    let text = example_text().replace(
        "    template_limit: 4\n",
        "    template_limit: 4\n    template_migration_timeout_above: 2\n",
    );
    let mut state = state_of(&text);
    let error = migrate(&mut state, &[("page_number", "0"), ("count", "4")]).unwrap_err();
    assert_eq!((error.status, error.code), (500, 1));
    assert!(error.message.contains("reduce the amount of data"));
    assert_eq!(state.templates_of(DEST).len(), 2, "nothing was migrated");
    let smaller = migrate(&mut state, &[("page_number", "0"), ("count", "2")]).unwrap();
    assert_eq!(migrated(&state, &smaller).len(), 2);
}

#[test]
fn migration_needs_both_wabas_in_the_same_business() {
    let text = example_text().replace(
        "read: [\"102289599326934\", \"103000000000001\"]",
        "read: [\"102289599326934\", \"103000000000001\", \"201000000000001\"]",
    );
    let mut state = state_of(&text);
    let acme = state.authenticate(ACME).unwrap();
    let all = params(&[("source_waba_id", "201000000000001"), ("page_number", "0"), ("count", "5")]);
    let error = state.migrate_templates(&acme, DEST, &all).unwrap_err();
    assert!(error.message.contains("must belong to the same business"), "{}", error.message);
}

fn create(state: &mut State, name: &str, components: &str, now: Timestamp) -> Result<Value, GraphError> {
    let acme = state.authenticate(ACME).unwrap();
    let all = params(&[
        ("name", name),
        ("language", "en_US"),
        ("category", "UTILITY"),
        ("components", components),
        ("parameter_format", "POSITIONAL"),
    ]);
    state.create_template(&acme, DEST, &all, now)
}

const BODY: &str = r#"[{"type": "BODY", "text": "Hello {{1}}", "example": {"body_text": [["Ann"]]}}]"#;

#[test]
fn a_created_template_is_pending_until_its_review_ends() {
    let text = example_text().replace(
            "    template_limit: 4\n",
            "    template_limit: 4\n    template_review: { decision: approve, after: 10m, reject: [promo_blast] }\n",
        );
    let mut state = state_of(&text);
    let answer = create(&mut state, "holiday_hours", BODY, t0()).unwrap();
    assert_eq!(answer["status"], "PENDING");
    assert_eq!(answer["category"], "UTILITY");
    let id = answer["id"].as_str().unwrap().to_owned();
    create(&mut state, "promo_blast", BODY, t0()).unwrap();
    state.settle_template_reviews(add(t0(), Duration::from_secs(599)));
    assert_eq!(state.templates[&id].status, TemplateStatus::Pending);
    state.settle_template_reviews(add(t0(), Duration::from_secs(600)));
    assert_eq!(state.templates[&id].status, TemplateStatus::Approved);
    assert_eq!(
        state.templates_of(DEST).iter().find(|t| t.name == "promo_blast").unwrap().status,
        TemplateStatus::Rejected
    );
    // It lists the components it was created with.
    let listed = value(template_field(&state.templates[&id], "components"));
    assert_eq!(listed, Some(serde_json::from_str::<Value>(BODY).unwrap()));

    let again = create(&mut state, "holiday_hours", BODY, t0()).unwrap_err();
    assert_eq!(again.subcode, Some(2388024));
    let full = create(&mut state, "one_too_many", BODY, t0()).unwrap_err();
    assert_eq!(full.subcode, Some(2388019), "4 names: welcome, shipping, holiday and promo");
}

#[test]
fn creation_checks_its_parameters_and_refuses_copied_media() {
    let mut state = state_of(&example_text().replace(
        "    template_limit: 4\n",
        "    template_limit: 250\n    template_review: { decision: reject, after: 0s }\n",
    ));
    let rejected = create(&mut state, "anything", BODY, t0()).unwrap();
    assert_eq!(rejected["status"], "REJECTED", "a review of 0s decides at once");
    let media = r#"[{"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["https://scontent.whatsapp.net/x"]}}, {"type": "BODY", "text": "Hi"}]"#;
    assert_eq!(create(&mut state, "with_image", media, t0()).unwrap_err().subcode, Some(2388047));
    let uploaded = media.replace("https://scontent.whatsapp.net/x", "4::aW1hZ2U=");
    assert!(create(&mut state, "with_image", &uploaded, t0()).is_ok());
    assert!(create(&mut state, "Bad-Name", BODY, t0()).unwrap_err().message.contains("name"));
    assert!(
        create(&mut state, "no_body", r#"[{"type": "FOOTER", "text": "x"}]"#, t0())
            .unwrap_err()
            .message
            .contains("BODY")
    );
    assert!(create(&mut state, "not_json", "nope", t0()).unwrap_err().message.contains("components"));
    let acme = state.authenticate(ACME).unwrap();
    let odd = params(&[("name", "x"), ("language", "en_US"), ("category", "PROMO"), ("components", BODY)]);
    assert!(state.create_template(&acme, DEST, &odd, t0()).unwrap_err().message.contains("category"));
}

#[test]
fn world_templates_list_their_header_and_parameter_format() {
    let text = example_text().replace(
            "      - { name: login_code,",
            "      - { name: menu_card, language: en_US, category: MARKETING, status: APPROVED, quality_score: GREEN, header: IMAGE, body: \"Hi {{first_name}}\" }\n      - { name: login_code,",
        );
    let state = state_of(&text);
    let menu = state.templates_of(SOURCE).into_iter().find(|t| t.name == "menu_card").unwrap();
    let Some(Value::Array(components)) = value(template_field(&menu, "components")) else {
        panic!("no components")
    };
    assert_eq!(components[0]["format"], "IMAGE");
    assert!(components[0]["example"]["header_handle"][0].as_str().unwrap().starts_with("https://"));
    assert_eq!(value(template_field(&menu, "parameter_format")), Some(json!("NAMED")));
    assert_eq!(parameter_format("Hi {{1}} and {{2}}"), "POSITIONAL");
}
