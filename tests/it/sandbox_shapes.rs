//! The sandbox's answers against Meta's documented response examples. Each fixture in
//! tests/fixtures/graph/ is one documented response (its source is in the README beside it);
//! the same request goes to the in-process sandbox, and the answer must have the fixture's
//! shape: the same keys where the fixture has them, the same JSON types, arrays compared by
//! their first element, and string enums among the documented values. The same fixtures are
//! read with wamig's client types, so the client keeps parsing what Meta documents.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wamig::graph::{
    ApiError, DebugTokenData, Edge, MessageTemplate, PermissionEntry, PhoneNumber, SubscribedApp, Waba,
};
use wamig::sandbox::SandboxHandle;

use crate::support::{
    ACME_TOKEN as ACME, DESTINATION_WABA as DEST, NO_WEBHOOKS_WABA as NO_WEBHOOKS, SOURCE_WABA as SOURCE,
    start_sandbox,
};

/// Acme Support: eligible, but its display-name certificate fails once at register.
const SUPPORT: &str = "106540352242922";
/// Acme Store: a display-name change waits for review (`new_name_status`).
const STORE: &str = "106540352242928";

// ----- the comparison --------------------------------------------------------------------

/// Documented values of a string field, by key. The lists are the union of Meta's sources
/// (reference pages, SDK enums, the OpenAPI description; see tests/fixtures/graph/README.md),
/// since the sources disagree and a value any of them documents is one Graph may send.
type Enums<'a> = &'a [(&'a str, &'a [&'a str])];

const COMMON_ENUMS: Enums<'static> = &[
    ("account_review_status", &["APPROVED", "PENDING", "REJECTED", "DEFERRED", "RESTRICTED"]),
    (
        "business_verification_status",
        &[
            "expired",
            "failed",
            "ineligible",
            "not_verified",
            "pending",
            "pending_need_more_info",
            "pending_submission",
            "rejected",
            "revoked",
            "verified",
        ],
    ),
    ("ownership_type", &["CLIENT_OWNED", "ON_BEHALF_OF", "SELF", "SELF_OWNED", "AGENCY_OWNED"]),
    ("code_verification_status", &["VERIFIED", "UNVERIFIED", "NOT_VERIFIED", "EXPIRED"]),
    ("name_status", NAME_STATUSES),
    ("new_name_status", NAME_STATUSES),
    ("quality_rating", &["GREEN", "YELLOW", "RED", "NA", "UNKNOWN"]),
    ("platform_type", &["CLOUD_API", "ON_PREMISE", "NOT_APPLICABLE"]),
    ("account_mode", &["LIVE", "SANDBOX"]),
    (
        "messaging_limit_tier",
        &["TIER_50", "TIER_250", "TIER_1K", "TIER_2K", "TIER_10K", "TIER_100K", "TIER_UNLIMITED"],
    ),
    ("level", &["STANDARD", "HIGH", "NOT_APPLICABLE"]),
];

const NAME_STATUSES: &[&str] =
    &["APPROVED", "AVAILABLE_WITHOUT_REVIEW", "DECLINED", "EXPIRED", "PENDING_REVIEW", "NONE"];

/// Searched before the common lists: `status` and `type` mean something else on each node.
const NUMBER_STATUS: Enums<'static> = &[(
    "status",
    &[
        "PENDING",
        "DELETED",
        "MIGRATED",
        "BANNED",
        "RESTRICTED",
        "RATE_LIMITED",
        "FLAGGED",
        "CONNECTED",
        "DISCONNECTED",
        "UNKNOWN",
        "UNVERIFIED",
    ],
)];
const TEMPLATES: Enums<'static> = &[
    ("category", &["AUTHENTICATION", "MARKETING", "UTILITY"]),
    ("type", &["HEADER", "BODY", "FOOTER", "BUTTONS"]),
    (
        "status",
        &[
            "APPROVED",
            "DELETED",
            "DISABLED",
            "IN_APPEAL",
            "LIMIT_EXCEEDED",
            "PAUSED",
            "PENDING",
            "PENDING_DELETION",
            "REJECTED",
        ],
    ),
];
const ERROR_TYPE: Enums<'static> = &[("type", &["OAuthException", "GraphMethodException"])];
const PERMISSION_STATUS: Enums<'static> = &[("status", &["granted", "declined", "expired"])];
const TOKEN_TYPE: Enums<'static> = &[("type", &["USER", "PAGE", "APP", "SYSTEM_USER"])];

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Every way `actual` departs from the shape of `expected`; empty when the shapes match.
/// Keys only `actual` has are allowed: Graph adds fields over time and the fixture is an
/// example, not the full list.
fn shape_mismatches(expected: &Value, actual: &Value, enums: &[Enums<'_>]) -> Vec<String> {
    let mut out = Vec::new();
    compare("$", None, expected, actual, enums, &mut out);
    out
}

fn compare(
    path: &str,
    key: Option<&str>,
    expected: &Value,
    actual: &Value,
    enums: &[Enums<'_>],
    out: &mut Vec<String>,
) {
    if kind(expected) != kind(actual) {
        out.push(format!("{path}: the fixture has {} but the sandbox {}", kind(expected), kind(actual)));
        return;
    }
    match (expected, actual) {
        (Value::Object(expected), Value::Object(actual)) => {
            for (name, value) in expected {
                match actual.get(name) {
                    Some(found) => compare(&format!("{path}.{name}"), Some(name), value, found, enums, out),
                    None => out.push(format!("{path}.{name}: missing from the sandbox's answer")),
                }
            }
        }
        (Value::Array(expected), Value::Array(actual)) => {
            if let Some(first) = expected.first() {
                match actual.first() {
                    Some(found) => compare(&format!("{path}[0]"), key, first, found, enums, out),
                    None => out.push(format!("{path}: the fixture has items, the sandbox's array is empty")),
                }
            }
        }
        (Value::String(expected), Value::String(actual)) => {
            let allowed =
                key.and_then(|key| enums.iter().flat_map(|e| e.iter()).find(|(name, _)| *name == key));
            if let Some((_, allowed)) = allowed {
                for (whose, value) in [("fixture", expected), ("sandbox", actual)] {
                    if !allowed.contains(&value.as_str()) {
                        out.push(format!("{path}: the {whose}'s \"{value}\" is not a documented value"));
                    }
                }
            }
        }
        _ => {}
    }
}

fn assert_shape(name: &str, actual: &Value, extra_enums: Enums<'_>) {
    let expected = fixture(name);
    let mismatches = shape_mismatches(&expected, actual, &[extra_enums, COMMON_ENUMS]);
    assert!(
        mismatches.is_empty(),
        "{name}: the sandbox's answer does not have the documented shape:\n  {}\nanswer: {actual:#}",
        mismatches.join("\n  ")
    );
}

/// For default-field reads: the answer has exactly the fixture's keys, no more.
fn assert_same_keys(what: &str, expected: &Value, actual: &Value) {
    let keys = |value: &Value| {
        let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(actual), keys(expected), "{what}: default fields");
}

fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/graph").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `fields=` that asks for exactly the fixture's fields: nested objects as `a{b,c}`, an
/// expanded edge (`{"data": [...]}`) as the fields of its first item.
fn fields_of(value: &Value) -> String {
    let Some(object) = value.as_object() else {
        return String::new();
    };
    object
        .iter()
        .map(|(name, value)| {
            let inner = match value.get("data").and_then(Value::as_array) {
                Some(items) => items.first().map(fields_of).unwrap_or_default(),
                None if value.is_object() => fields_of(value),
                None => String::new(),
            };
            if inner.is_empty() { name.clone() } else { format!("{name}{{{inner}}}") }
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn the_comparison_fails_on_a_mismatch() {
    let documented = json!({
        "data": [{"id": "1", "quality_rating": "GREEN", "throughput": {"level": "STANDARD"}}],
        "paging": {"cursors": {"before": "a", "after": "b"}},
    });
    let same = json!({
        "data": [{"id": "2", "quality_rating": "RED", "throughput": {"level": "HIGH"}, "extra": 1}, "odd"],
        "paging": {"cursors": {"before": "c", "after": "d"}, "next": "https://example.test"},
    });
    assert_eq!(shape_mismatches(&documented, &same, &[COMMON_ENUMS]), Vec::<String>::new());

    let different = json!({
        "data": [{"id": 2, "quality_rating": "SHINY", "throughput": "STANDARD"}],
        "paging": {"cursors": {"after": "d"}},
    });
    assert_eq!(
        shape_mismatches(&documented, &different, &[COMMON_ENUMS]),
        [
            "$.data[0].id: the fixture has a string but the sandbox a number",
            "$.data[0].quality_rating: the sandbox's \"SHINY\" is not a documented value",
            "$.data[0].throughput: the fixture has an object but the sandbox a string",
            "$.paging.cursors.before: missing from the sandbox's answer",
        ]
    );
    assert_eq!(
        shape_mismatches(&json!({"data": [{"id": "1"}]}), &json!({"data": []}), &[]),
        ["$.data: the fixture has items, the sandbox's array is empty"]
    );
    assert_eq!(fields_of(&documented["data"][0]), "id,quality_rating,throughput{level}");
    assert_eq!(
        fields_of(&json!({"id": "1", "phone_numbers": {"data": [{"id": "2", "name_status": "NONE"}]}})),
        "id,phone_numbers{id,name_status}"
    );
}

// ----- the sandbox -------------------------------------------------------------------------

struct Env {
    handle: SandboxHandle,
    client: reqwest::Client,
    outbox: tempfile::TempDir,
}

async fn env() -> Env {
    let (handle, outbox) = start_sandbox(wamig::sandbox::EXAMPLE_WORLD, |_| {}).await;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    Env { handle, client, outbox }
}

impl Env {
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        form: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let url = format!("{}/v23.0{path}", self.handle.base_url());
        let mut request = self.client.request(method.clone(), url).bearer_auth(token);
        if method != Method::GET {
            request = request.form(form);
        }
        let response = request.send().await.expect("the sandbox answers");
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON body: {text}")))
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call(Method::GET, path, ACME, &[]).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// `GET /{id}?fields=` with exactly the fixture's fields.
    async fn get_fields(&self, path: &str, name: &str) -> Value {
        let fields = fields_of(&fixture(name));
        let separator = if path.contains('?') { '&' } else { '?' };
        self.get(&format!("{path}{separator}fields={fields}")).await
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Value {
        let (status, body) = self.call(Method::POST, path, ACME, form).await;
        assert_eq!(status, 200, "POST {path}: {body}");
        body
    }

    fn code_for(&self, digits: &str) -> String {
        std::fs::read_to_string(self.outbox.path().join(digits)).unwrap().trim().to_owned()
    }
}

#[tokio::test]
async fn waba_reads_have_the_documented_shape() {
    let env = env().await;
    for name in ["waba_node.json", "waba_node_status.json", "waba_node_eligibility.json"] {
        let answer = env.get_fields(&format!("/{SOURCE}"), name).await;
        assert_shape(name, &answer, &[]);
    }
    let answer = env.get_fields(&format!("/{SOURCE}"), "waba_node_with_edges.json").await;
    assert_shape("waba_node_with_edges.json", &answer, NUMBER_STATUS);
}

#[tokio::test]
async fn phone_number_reads_have_the_documented_shape() {
    let env = env().await;
    let answer = env.get(&format!("/{SUPPORT}")).await;
    // Meta's sources disagree on whether `code_verification_status` is a default field (the
    // reference says no, the phone-numbers guide's example answer has it), so only the
    // documented defaults are required here.
    assert_shape("phone_number_node_default.json", &answer, NUMBER_STATUS);
    let answer = env.get_fields(&format!("/{SUPPORT}"), "phone_number_node_name_status.json").await;
    assert_shape("phone_number_node_name_status.json", &answer, NUMBER_STATUS);
    // `new_name_status` is there only while a display-name change waits for review.
    let answer = env.get_fields(&format!("/{STORE}"), "phone_number_node_migration.json").await;
    assert_shape("phone_number_node_migration.json", &answer, NUMBER_STATUS);

    let answer = env.get(&format!("/{SOURCE}/phone_numbers")).await;
    assert_shape("phone_numbers_default.json", &answer, NUMBER_STATUS);
    assert_same_keys(
        "phone_numbers_default.json",
        &fixture("phone_numbers_default.json")["data"][0],
        &answer["data"][0],
    );
    let fields = fields_of(&fixture("phone_numbers_fields.json")["data"][0]);
    let answer = env.get(&format!("/{SOURCE}/phone_numbers?fields={fields}")).await;
    assert_shape("phone_numbers_fields.json", &answer, NUMBER_STATUS);
}

#[tokio::test]
async fn multi_id_reads_have_the_documented_shape() {
    let env = env().await;
    let documented = fixture("multi_id_read.json");
    let nodes = documented.as_object().unwrap();
    let ids: Vec<&str> = nodes.keys().map(String::as_str).collect();
    // One `fields` list applies to every id.
    let fields = fields_of(nodes.values().next().unwrap());
    let answer = env.get(&format!("/?ids={}&fields={fields}", ids.join(","))).await;
    assert_shape("multi_id_read.json", &answer, &[]);
    assert_same_keys("multi_id_read.json", &documented, &answer);
}

#[tokio::test]
async fn edges_have_the_documented_shape() {
    let env = env().await;
    let answer = env.get(&format!("/{SOURCE}/subscribed_apps")).await;
    assert_shape("subscribed_apps.json", &answer, &[]);
    let answer = env.get(&format!("/{NO_WEBHOOKS}/subscribed_apps")).await;
    assert_shape("subscribed_apps_empty.json", &answer, &[]);
    assert_eq!(answer, fixture("subscribed_apps_empty.json"));

    // The documented template uses body variables; the example world's templates do too.
    let answer = env.get(&format!("/{SOURCE}/message_templates")).await;
    assert_shape("message_templates.json", &answer, TEMPLATES);
    let template = answer["data"][0]["id"].as_str().unwrap().to_owned();
    let answer = env.get(&format!("/{template}")).await;
    assert_shape("message_template_node.json", &answer, TEMPLATES);
    assert_same_keys("message_template_node.json", &fixture("message_template_node.json"), &answer);
}

#[tokio::test]
async fn migration_steps_have_the_documented_shape() {
    let env = env().await;
    let answer = env.post(&format!("/{NO_WEBHOOKS}/subscribed_apps"), &[]).await;
    assert_shape("subscribe_app.json", &answer, &[]);

    let answer = env
        .post(
            &format!("/{DEST}/phone_numbers"),
            &[("cc", "1"), ("phone_number", "6315550102"), ("migrate_phone_number", "true")],
        )
        .await;
    assert_shape("initiate_migration.json", &answer, &[]);
    assert_same_keys("initiate_migration.json", &fixture("initiate_migration.json"), &answer);
    let id = answer["id"].as_str().unwrap().to_owned();

    let answer =
        env.post(&format!("/{id}/request_code"), &[("code_method", "SMS"), ("language", "en_US")]).await;
    assert_shape("request_code.json", &answer, &[]);
    let code = env.code_for("16315550102");
    let answer = env.post(&format!("/{id}/verify_code"), &[("code", &code)]).await;
    assert_shape("verify_code.json", &answer, &[]);
    let answer =
        env.post(&format!("/{id}/register"), &[("messaging_product", "whatsapp"), ("pin", "246810")]).await;
    assert_shape("register.json", &answer, &[]);

    let answer = env.post(&format!("/{id}"), &[("pin", "135790")]).await;
    assert_shape("two_step_pin.json", &answer, &[]);
    let answer = env.post(&format!("/{id}/deregister"), &[]).await;
    assert_shape("deregister.json", &answer, &[]);
    let (status, answer) =
        env.call(Method::DELETE, &format!("/{NO_WEBHOOKS}/subscribed_apps"), ACME, &[]).await;
    assert_eq!(status, 200, "{answer}");
    assert_shape("unsubscribe_app.json", &answer, &[]);
}

#[tokio::test]
async fn errors_have_the_documented_envelope() {
    let env = env().await;
    // Acme Support's new node inherits a display-name certificate that is not ready yet.
    let answer = env
        .post(
            &format!("/{DEST}/phone_numbers"),
            &[("cc", "1"), ("phone_number", "6315550101"), ("migrate_phone_number", "true")],
        )
        .await;
    let id = answer["id"].as_str().unwrap().to_owned();
    env.post(&format!("/{id}/request_code"), &[("code_method", "VOICE"), ("language", "en_US")]).await;
    let code = env.code_for("16315550101");
    env.post(&format!("/{id}/verify_code"), &[("code", &code)]).await;
    let (status, answer) = env
        .call(
            Method::POST,
            &format!("/{id}/register"),
            ACME,
            &[("messaging_product", "whatsapp"), ("pin", "246810")],
        )
        .await;
    assert_eq!(status, 400);
    assert_shape("error_migration.json", &answer, ERROR_TYPE);

    let (status, answer) = env.call(Method::GET, &format!("/{SOURCE}"), "sandbox-token-expired", &[]).await;
    assert_eq!(status, 400);
    assert_shape("error_expired_token.json", &answer, ERROR_TYPE);

    let (status, answer) = env.call(Method::GET, "/109999999999999", ACME, &[]).await;
    assert!(status.is_client_error());
    assert_shape("error_not_found.json", &answer, ERROR_TYPE);
}

#[tokio::test]
async fn token_reads_have_the_documented_shape() {
    let env = env().await;
    let answer = env.get(&format!("/debug_token?input_token={ACME}")).await;
    assert_shape("debug_token.json", &answer, TOKEN_TYPE);
    let answer = env.get("/me").await;
    assert_shape("me.json", &answer, &[]);
    assert_same_keys("me.json", &fixture("me.json"), &answer);
    let answer = env.get("/me/permissions").await;
    assert_shape("me_permissions.json", &answer, PERMISSION_STATUS);
}

#[tokio::test]
async fn batches_have_the_documented_shape() {
    let env = env().await;
    let batch = json!([{"method": "GET", "relative_url": format!("{SOURCE}?fields=id,name")}]).to_string();
    let answer = env.post("/", &[("batch", batch.as_str())]).await;
    assert_shape("batch.json", &answer, &[]);
    // Each body is itself a Graph answer, as a JSON string.
    let documented: Value = serde_json::from_str(fixture("batch.json")[0]["body"].as_str().unwrap()).unwrap();
    let body: Value = serde_json::from_str(answer[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(shape_mismatches(&documented, &body, &[]), Vec::<String>::new());
}

// ----- wamig's client ------------------------------------------------------------------------

/// Parses a fixture with one of the client's types; a documented enum value the client would
/// keep only as `Other(..)` means the client has fallen behind Meta's vocabulary.
fn parses<T: serde::de::DeserializeOwned + std::fmt::Debug>(name: &str, value: Value) -> T {
    let parsed: T = serde_json::from_value(value).unwrap_or_else(|e| panic!("{name}: {e}"));
    let debug = format!("{parsed:?}");
    assert!(!debug.contains("Other("), "{name}: a documented value is unknown to the client: {debug}");
    parsed
}

#[test]
fn the_client_reads_the_documented_shapes() {
    for name in ["waba_node.json", "waba_node_status.json", "waba_node_eligibility.json"] {
        let waba: Waba = parses(name, fixture(name));
        assert!(!waba.id.is_empty() && waba.name.is_some(), "{name}: {waba:?}");
    }
    let waba: Waba = parses("waba_node_eligibility.json", fixture("waba_node_eligibility.json"));
    assert_eq!(waba.has_payment_method(), Some(true));
    assert_eq!(waba.owner_business_info.unwrap().id.as_deref(), Some("506914307656634"));
    let waba: Waba = parses("waba_node_with_edges.json", fixture("waba_node_with_edges.json"));
    assert_eq!((waba.phone_numbers().len(), waba.subscribed_apps().len()), (1, 1));

    for name in [
        "phone_number_node_default.json",
        "phone_number_node_name_status.json",
        "phone_number_node_migration.json",
    ] {
        let number: PhoneNumber = parses(name, fixture(name));
        assert_eq!(number.digits().as_deref(), Some("15555555555"), "{name}");
    }
    let number: PhoneNumber =
        parses("phone_number_node_migration.json", fixture("phone_number_node_migration.json"));
    assert!(number.new_name_status.is_some() && number.throughput.unwrap().level.is_some());

    for name in ["phone_numbers_default.json", "phone_numbers_fields.json"] {
        let edge: Edge<PhoneNumber> = parses(name, fixture(name));
        assert!(!edge.data.is_empty() && edge.paging.unwrap().cursors.unwrap().after.is_some(), "{name}");
    }
    let apps: Edge<SubscribedApp> = parses("subscribed_apps.json", fixture("subscribed_apps.json"));
    assert_eq!(
        apps.data[0].whatsapp_business_api_data.as_ref().unwrap().id.as_deref(),
        Some("1234567890123456")
    );
    let none: Edge<SubscribedApp> =
        parses("subscribed_apps_empty.json", fixture("subscribed_apps_empty.json"));
    assert!(none.data.is_empty());
    let templates: Edge<MessageTemplate> =
        parses("message_templates.json", fixture("message_templates.json"));
    assert_eq!(templates.data[0].name.as_deref(), Some("2023_april_promo"));
    let template: MessageTemplate =
        parses("message_template_node.json", fixture("message_template_node.json"));
    assert_eq!(template.id, "920070352646140");

    let token: DebugTokenData = parses("debug_token.json", fixture("debug_token.json")["data"].clone());
    assert_eq!(
        token.granular_scopes.unwrap()[0].target_ids.as_deref(),
        Some(&["102290129340398".to_owned()][..])
    );
    let permissions: Edge<PermissionEntry> = parses("me_permissions.json", fixture("me_permissions.json"));
    assert_eq!(permissions.data[0].status.as_deref(), Some("granted"));

    let error = ApiError::from_value(&fixture("error_migration.json")).unwrap();
    assert_eq!((error.code, error.error_subcode), (Some(100), Some(2388001)));
    assert!(error.error_user_title.is_some() && error.details.is_some() && error.fbtrace_id.is_some());
    for name in ["error_expired_token.json", "error_not_found.json"] {
        let error = ApiError::from_value(&fixture(name)).unwrap();
        assert!(error.code.is_some() && error.message.is_some() && error.kind.is_some(), "{name}");
    }
}
