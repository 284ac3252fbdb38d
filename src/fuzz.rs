//! Property tests over every input wamig takes from outside: saved plans, durations, journals
//! and Graph answers (bodies, usage headers, paging links), each mutated at random from a
//! realistic value and pushed through the code that consumes it (parsing, freshness checks, the
//! planner, every rendering). The property is the project's rule for bad input: an error, never
//! a panic. Test-only; it owns no behaviour.

use std::path::Path;

use jiff::Timestamp;
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::graph::{Operation, RequestInfo, Waba};
use crate::journal::Journal;
use crate::observe::snapshot::Snapshot;
use crate::plan::Plan;
use crate::ui::Styles;

const DESTINATION: &str = "104996122399160";
const SOURCE: &str = "102289599326934";
const MANIFEST: &str = "version: 1\ndefaults:\n  pin: { env: WAMIG_PIN }\ndestinations:\n  - waba: \"104996122399160\"\n    name: acme\n    numbers:\n      - phone: \"+1 631-555-0102\"\n        source_waba: \"102289599326934\"\n      - phone: \"+1 631-555-0103\"\n";

fn number(id: &str, phone: &str, verified: &str, status: &str) -> Value {
    json!({
        "id": id, "display_phone_number": phone, "verified_name": "Acme", "name_status": "APPROVED",
        "code_verification_status": verified, "quality_rating": "GREEN", "status": status,
        "platform_type": "CLOUD_API", "account_mode": "LIVE", "is_on_biz_app": false,
        "is_pin_enabled": false, "is_official_business_account": false,
        "messaging_limit_tier": "TIER_1K", "throughput": {"level": "STANDARD"}
    })
}

/// A destination WABA answer: one number mid-migration, templates, a subscribed app.
fn destination_answer() -> Value {
    json!({
        "id": DESTINATION, "name": "Acme prod", "account_review_status": "APPROVED",
        "business_verification_status": "verified", "primary_funding_id": "1",
        "owner_business_info": {"id": "1", "name": "Acme"}, "ownership_type": "SELF", "status": "ACTIVE",
        "phone_numbers": {"data": [number("106540352242923", "+1 631-555-0103", "NOT_VERIFIED", "PENDING")],
            "paging": {"cursors": {"before": "QVFI", "after": "QVFJ"}}},
        "subscribed_apps": {"data": [{"whatsapp_business_api_data": {"id": "1234", "name": "App"}}]},
        "message_templates": {"data": [{"id": "1", "name": "welcome", "language": "en_US",
            "status": "APPROVED", "category": "UTILITY", "quality_score": {"score": "GREEN"}}]}
    })
}

/// The source WABA answer: the number still to move, templates to forecast.
fn source_answer() -> Value {
    json!({
        "id": SOURCE, "name": "Acme old", "account_review_status": "APPROVED",
        "business_verification_status": "verified", "owner_business_info": {"id": "1", "name": "Acme"},
        "phone_numbers": {"data": [number("106540352242922", "+1 631-555-0102", "VERIFIED", "CONNECTED")]},
        "message_templates": {"data": [
            {"id": "2", "name": "welcome", "language": "en_US", "status": "APPROVED", "category": "UTILITY",
             "quality_score": {"score": "GREEN"}},
            {"id": "3", "name": "promo", "language": "en_US", "status": "PENDING", "category": "MARKETING"}
        ]}
    })
}

fn journal_text() -> Value {
    json!({
        "format_version": 1,
        "numbers": {
            "+16315550103": {
                "destination_waba": DESTINATION, "phone_number_id": "106540352242923",
                "initiated_at": "2026-11-25T10:00:00Z",
                "last_code_request": {"at": "2026-11-25T10:01:00Z", "method": "SMS", "language": "en_US"},
                "code_requests": 1, "verify_attempts": 1, "verified_at": "2026-11-25T10:05:00Z",
                "register_attempts": ["2026-11-25T10:06:00Z", "2026-11-25T10:30:00Z"],
                "last_error": {"at": "2026-11-25T10:30:00Z", "step": "register", "code": 100,
                    "subcode": 2388001, "message": "Cannot Create Certificate", "fbtrace_id": "Az8"}
            }
        }
    })
}

fn now() -> Timestamp {
    "2026-11-25T12:00:00Z".parse().unwrap_or(Timestamp::UNIX_EPOCH)
}

fn snapshot_of(answers: &[(&str, &Value)]) -> Snapshot {
    let mut snapshot = Snapshot { api_version: "v23.0".into(), ..Snapshot::default() };
    for (id, answer) in answers {
        if let Ok(waba) = serde_json::from_value::<Waba>((*answer).clone()) {
            snapshot.wabas.insert((*id).to_owned(), crate::observe::waba_view(id, &waba));
        }
    }
    snapshot
}

/// Plans the fixed manifest against a snapshot and journal and renders the plan every way.
fn plan_and_render(snapshot: &Snapshot, journal: &Journal) -> Plan {
    let manifest =
        crate::manifest::parse(MANIFEST, Path::new("wamig.yaml")).expect("the fixed manifest is valid");
    let plan = crate::plan::plan(&manifest.desired, &manifest.digest, snapshot, journal, now());
    render_all(&plan);
    plan
}

fn render_all(plan: &Plan) {
    let _ = crate::plan::render::text(plan, &Styles::new(true));
    let _ = crate::plan::render::text(plan, &Styles::plain());
    let _ = crate::plan::render::markdown(plan);
    let _ = crate::plan::render::json(plan);
}

/// One edit of a JSON value: replace the node at a position with a value (any value, or only a
/// string by a string or a number by a number, so that most edits still decode and reach the
/// code behind the parser), or remove it.
#[derive(Debug, Clone)]
enum Edit {
    Replace(usize, Value),
    SameType(usize, Value),
    Remove(usize),
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e300f64..1e300).prop_map(Value::from),
        "\\PC{0,24}".prop_map(Value::from),
        "[\\x00-\\x1f\\x7f\\u{80}-\\u{9f}\\u{202e}é+/=%`|<>*_#\\[\\] ]{0,16}".prop_map(Value::from),
        "[0-9a-f]{0,70}".prop_map(Value::from),
        "[0-9]{0,20}".prop_map(Value::from),
        prop_oneof![
            Just("9999-12-30T21:59:00Z"),
            Just("2999-01-01T00:00:00Z"),
            Just("0001-01-01T00:00:00Z"),
            Just("2026-11-25T11:59:00Z"),
            Just("APPROVED"),
            Just("VERIFIED"),
            Just("MIGRATED"),
            Just("register"),
        ]
        .prop_map(Value::from),
        Just(json!([])),
        Just(json!({})),
        Just(
            json!({"data": [], "paging": {"next": "https://graph.facebook.com/v23.0/1/phone_numbers?after=x"}})
        ),
    ]
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        2 => (any::<usize>(), leaf()).prop_map(|(at, value)| Edit::Replace(at, value)),
        6 => (any::<usize>(), leaf()).prop_map(|(at, value)| Edit::SameType(at, value)),
        1 => any::<usize>().prop_map(Edit::Remove),
    ];
    proptest::collection::vec(edit, 1..5)
}

/// JSON pointers to every node below the root.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let pointer = format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"));
                out.push(pointer.clone());
                pointers(child, pointer, out);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                let pointer = format!("{at}/{index}");
                out.push(pointer.clone());
                pointers(child, pointer, out);
            }
        }
        _ => {}
    }
}

fn mutate(base: &Value, edits: &[Edit]) -> Value {
    let mut value = base.clone();
    for edit in edits {
        let mut all = Vec::new();
        pointers(&value, String::new(), &mut all);
        if all.is_empty() {
            break;
        }
        match edit {
            Edit::Replace(at, leaf) => {
                if let Some(slot) = value.pointer_mut(&all[at % all.len()]) {
                    *slot = leaf.clone();
                }
            }
            Edit::SameType(at, leaf) => {
                if let Some(slot) = value.pointer_mut(&all[at % all.len()]) {
                    let same = matches!(
                        (&*slot, leaf),
                        (Value::String(_), Value::String(_)) | (Value::Number(_), Value::Number(_))
                    );
                    if same {
                        *slot = leaf.clone();
                    }
                }
            }
            Edit::Remove(at) => {
                let pointer = &all[at % all.len()];
                let (parent, last) = pointer.rsplit_once('/').unwrap_or(("", pointer));
                match value.pointer_mut(parent) {
                    Some(Value::Object(map)) => {
                        map.remove(&last.replace("~1", "/").replace("~0", "~"));
                    }
                    Some(Value::Array(items)) => {
                        if let Ok(index) = last.parse::<usize>()
                            && index < items.len()
                        {
                            items.remove(index);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    value
}

fn saved_plan_value() -> Value {
    let snapshot = snapshot_of(&[(DESTINATION, &destination_answer()), (SOURCE, &source_answer())]);
    let journal = Journal::parse(journal_text().to_string().as_bytes(), Path::new("state.json"))
        .expect("the fixed journal is valid");
    serde_json::to_value(plan_and_render(&snapshot, &journal)).unwrap_or_default()
}

const TOP_LEVEL: [&str; 7] = [
    "digest",
    "manifest_digest",
    "snapshot_digest",
    "created_at",
    "ttl_seconds",
    "format_version",
    "api_version",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn saved_plans_never_panic(edits in edits(), top in (0usize..TOP_LEVEL.len(), leaf())) {
        // Random positions rarely land on the few top-level fields apply relies on most.
        let mut value = saved_plan_value();
        value[TOP_LEVEL[top.0]] = top.1;
        let text = mutate(&value, &edits).to_string();
        if let Ok(plan) = crate::planfile::parse(&text, Path::new("plan.json")) {
            // apply names a saved plan by the first 12 characters of its digest.
            prop_assert!(plan.digest.get(..12).is_some());
            let _ = crate::planfile::check_fresh(&plan, Path::new("plan.json"), &plan.manifest_digest, &plan.snapshot_digest, now());
            render_all(&plan);
        }
    }

    #[test]
    fn arbitrary_plan_text_never_panics(text in "\\PC{0,300}") {
        let _ = crate::planfile::parse(&text, Path::new("plan.json"));
    }

    #[test]
    fn durations_never_panic(text in "[0-9]{0,24}(ms|s|m|h|d|x|)([0-9]{0,22}(ms|s|m|h|d))?|\\PC{0,16}") {
        if let Ok(duration) = crate::duration::parse(&text) {
            prop_assert!(duration <= crate::duration::MAX);
            let _ = std::time::Instant::now() + duration;
            let _ = jiff::SignedDuration::try_from(duration).map(|d| Timestamp::now() + d);
            let _ = crate::duration::display(duration);
            let _ = crate::duration::display_seconds(duration);
        }
    }

    #[test]
    fn durations_display_whatever_their_size(secs in any::<u64>(), nanos in 0u32..1_000_000_000) {
        let duration = std::time::Duration::new(secs, nanos);
        let _ = crate::duration::display(duration);
        let _ = crate::duration::display_seconds(duration);
    }

    #[test]
    fn journals_never_panic(edits in edits()) {
        let text = mutate(&journal_text(), &edits).to_string();
        if let Ok(journal) = Journal::parse(text.as_bytes(), Path::new("state.json")) {
            for record in journal.numbers.values() {
                let _ = record.code_cooldown_active(now());
                let _ = record.register_attempts_in_window(now());
                let _ = crate::migration::register_not_before(record, now());
                let _ = crate::migration::classify(None, Some(record), now());
                // What apply and its report compute from a recorded code request.
                if let Some(request) = &record.last_code_request {
                    let _ = request.at + crate::journal::CODE_COOLDOWN;
                }
            }
            let snapshot = snapshot_of(&[(DESTINATION, &destination_answer()), (SOURCE, &source_answer())]);
            plan_and_render(&snapshot, &journal);
        }
    }

    #[test]
    fn arbitrary_journal_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = Journal::parse(&bytes, Path::new("state.json"));
    }

    #[test]
    fn graph_answers_never_panic(edits in edits(), source_edits in edits(), status in 100u16..600) {
        let destination = mutate(&destination_answer(), &edits);
        let source = mutate(&source_answer(), &source_edits);
        let snapshot = snapshot_of(&[(DESTINATION, &destination), (SOURCE, &source)]);
        plan_and_render(&snapshot, &Journal::new());

        let error = mutate(&serde_json::from_str::<Value>(include_str!("../tests/fixtures/graph/error_migration.json")).unwrap_or_default(), &edits);
        for body in [error.to_string(), destination.to_string()] {
            let info = RequestInfo { method: "POST".into(), path: "/v23.0/1/register".into(), op: Operation::Register, node_id: Some("1".into()) };
            let error = crate::graph::GraphError::from_response(info, status, body.as_bytes(), &|t: &str| t.to_owned());
            let _ = crate::diag::render(&crate::diag::ToDiagnostics::diagnostics(&error), &Styles::new(true));
            let _ = (error.class(), error.message(), crate::hints::graph_hint(&error));
        }
    }

    #[test]
    fn arbitrary_graph_bodies_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300), status in 0u16..1000) {
        let info = RequestInfo { method: "GET".into(), path: "/v23.0/".into(), op: Operation::Read, node_id: None };
        let error = crate::graph::GraphError::from_response(info, status, &bytes, &|t: &str| t.to_owned());
        let _ = crate::diag::render(&crate::diag::ToDiagnostics::diagnostics(&error), &Styles::plain());
    }

    #[test]
    fn usage_headers_and_paging_links_never_panic(text in "\\PC{0,200}", json_text in "\\{\"[0-9]{1,16}\":\\[\\{\"type\":\"WABA\",\"call_count\":-?[0-9]{1,22},\"estimated_time_to_regain_access\":-?[0-9]{1,22}\\}\\]\\}") {
        for header in [&text, &json_text] {
            if let Some(business) = crate::graph::parse_buc(header) {
                let _ = crate::graph::regain_wait(&business);
            }
            let _ = crate::graph::parse_app_usage(header);
        }
        let base = reqwest::Url::parse("https://graph.facebook.com").unwrap_or_else(|_| unreachable!());
        let _ = crate::graph::sanitize_next(&base, &text);
    }
}

/// The values mutated above must themselves be valid, or the properties would only ever test
/// the parsers' refusals.
#[test]
fn the_values_mutated_are_valid() {
    for answer in [destination_answer(), source_answer()] {
        if let Err(error) = serde_json::from_value::<Waba>(answer) {
            panic!("a base answer does not decode: {error}");
        }
    }
    let plan: Plan = serde_json::from_value(saved_plan_value()).expect("the base plan decodes");
    assert_eq!(plan.numbers.len(), 2);
    assert!(crate::planfile::parse(&saved_plan_value().to_string(), Path::new("plan.json")).is_ok());
}
