//! Unit tests of the state machine against the example world, without HTTP.

use serde_json::json;

use super::render::{decode_cursor, encode_cursor};
use super::templates::body_component;
use super::*;
use crate::sandbox::envelope::GraphError;
use crate::sandbox::fields;
use crate::sandbox::world::{TemplateQuality, TemplateStatus, World};

const ACME: &str = "sandbox-token-acme-system-user";
const NO_MESSAGING: &str = "sandbox-token-acme-no-messaging";
const READ_ONLY: &str = "sandbox-token-acme-read-only";
const INITECH: &str = "sandbox-token-initech-partner";
const SOURCE: &str = "102289599326934";
const DEST: &str = "104996122399160";
const UNFUNDED: &str = "105000000000001";
const NO_WEBHOOKS: &str = "105000000000002";
const IN_REVIEW: &str = "105000000000003";

fn example() -> World {
    World::from_yaml_str(include_str!("../../../examples/sandbox/world.yaml")).unwrap()
}

fn state() -> State {
    State::new(&example(), 7)
}

fn t0() -> Timestamp {
    Timestamp::from_second(1_800_000_000).unwrap()
}

fn minutes(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

fn caller(state: &State, token: &str) -> Caller {
    state.authenticate(token).unwrap()
}

fn ctx() -> PageCtx {
    PageCtx { base_url: "http://127.0.0.1:9".into(), version: "v23.0".into(), now: t0() }
}

fn initiate(state: &mut State, dest: &str, national: &str) -> Result<String, GraphError> {
    let acme = caller(state, ACME);
    state.initiate_migration(&acme, dest, Some("1"), Some(national), Some("true"), t0())
}

fn request(state: &mut State, id: &str, now: Timestamp) -> Result<String, GraphError> {
    let acme = caller(state, ACME);
    state
        .request_code(&acme, id, Some("SMS"), Some("en_US"), now)
        .map(|issued| issued.code.expose().to_owned())
}

fn verify(state: &mut State, id: &str, code: &str, now: Timestamp) -> Result<(), GraphError> {
    let acme = caller(state, ACME);
    state.verify_code(&acme, id, Some(code), now)
}

fn register(state: &mut State, id: &str, now: Timestamp) -> Result<(), GraphError> {
    let acme = caller(state, ACME);
    state.register(&acme, id, Some("whatsapp"), Some("123456"), now)
}

/// Initiates and verifies; returns the new id.
fn migrate(state: &mut State, dest: &str, national: &str) -> String {
    let id = initiate(state, dest, national).unwrap();
    let code = request(state, &id, t0()).unwrap();
    verify(state, &id, &code, t0()).unwrap();
    id
}

fn wrong(code: &str) -> String {
    let mut other: Vec<u8> = code.bytes().collect();
    other[0] = if other[0] == b'9' { b'0' } else { other[0] + 1 };
    String::from_utf8(other).unwrap()
}

#[test]
fn full_migration_moves_the_number() {
    let mut state = state();
    let id = initiate(&mut state, DEST, "631-555-0102").unwrap();
    let node = state.number(&id, t0()).unwrap();
    assert_eq!(node.waba_id, DEST);
    assert_eq!(node.code_verification_status, CodeVerificationStatus::NotVerified);
    assert_eq!(node.status, NumberStatus::Pending);
    assert_eq!(node.platform_type, PlatformType::NotApplicable);
    // The source keeps its node until verification.
    assert!(state.number("106540352242923", t0()).unwrap().exists);

    let code = request(&mut state, &id, t0()).unwrap();
    assert_eq!(code.len(), 6);
    verify(&mut state, &id, &code, t0() + minutes(3)).unwrap();
    let node = state.number(&id, t0()).unwrap();
    assert_eq!(node.code_verification_status, CodeVerificationStatus::Verified);
    assert_eq!(node.quality_rating, QualityRating::Green);
    let old = state.number("106540352242923", t0()).unwrap();
    assert!(!old.exists);
    assert_eq!(old.migrated_to.as_deref(), Some(id.as_str()));

    register(&mut state, &id, t0()).unwrap();
    let node = state.number(&id, t0()).unwrap();
    assert_eq!(node.status, NumberStatus::Connected);
    assert_eq!(node.platform_type, PlatformType::CloudApi);
    assert!(node.is_pin_enabled && node.has_pin);
    assert_eq!(node.register_attempts, 1);
}

#[test]
fn each_eligibility_rule_has_its_own_text() {
    let mut state = state();
    let cases: &[(&str, &str, i64, &str)] = &[
        (DEST, "6315550104", 2388103, "Display name not approved"),
        (DEST, "6315550105", 2388103, "Two-step verification enabled"),
        (DEST, "6315550106", 2388103, "Test numbers can't be migrated"),
        (DEST, "6315550107", 2388103, "Display name change pending"),
        (DEST, "6315550108", 2388103, "Number in use with the WhatsApp Business app"),
        (DEST, "6315550109", 2494100, "Phone number in maintenance mode"),
        (DEST, "6315550177", 2388103, "Phone number can be added directly"),
        (DEST, "6315550150", 2388103, "Source account not set up correctly"),
        (UNFUNDED, "6315550101", 2388103, "No payment method"),
        (NO_WEBHOOKS, "6315550101", 2388103, "Webhooks not set up"),
        (IN_REVIEW, "6315550101", 2388103, "Destination account not approved"),
    ];
    let mut titles = BTreeSet::new();
    for (dest, national, code, title) in cases {
        let error = initiate(&mut state, dest, national).unwrap_err();
        assert_eq!(error.code, *code, "{national} into {dest}");
        assert_eq!(error.user_title.as_deref(), Some(*title), "{national} into {dest}");
        assert!(error.details.is_some());
        titles.insert(error.user_msg.clone().unwrap());
    }
    assert_eq!(titles.len(), cases.len(), "user messages must differ per cause");
    let two_step = initiate(&mut state, DEST, "6315550105").unwrap_err();
    assert_eq!(
        two_step.user_msg.as_deref(),
        Some("Two-step authentication must be disabled for this phone number")
    );

    let acme = caller(&state, ACME);
    let error = state
        .initiate_migration(&acme, DEST, Some("44"), Some("20 7946 0958"), Some("true"), t0())
        .unwrap_err();
    assert_eq!(error.user_title.as_deref(), Some("Phone number belongs to a different business"));
}

#[test]
fn on_premise_numbers_do_not_need_webhooks() {
    let mut state = state();
    // +1 631-555-0103 is ON_PREMISE; the no-webhooks destination has a payment method.
    assert!(initiate(&mut state, NO_WEBHOOKS, "6315550103").is_ok());
}

#[test]
fn parameters_are_validated_by_name() {
    let mut state = state();
    let acme = caller(&state, ACME);
    let cases = [
        (None, Some("6315550102"), Some("true"), "The parameter cc is required"),
        (Some("1"), None, Some("true"), "The parameter phone_number is required"),
        (Some("+1"), Some("6315550102"), Some("true"), "Param cc"),
        (Some("1"), Some("+16315550102"), Some("true"), "Param phone_number"),
        (Some("1"), Some("6315550102"), None, "Param migrate_phone_number"),
    ];
    for (cc, number, migrate, text) in cases {
        let error = state.initiate_migration(&acme, DEST, cc, number, migrate, t0()).unwrap_err();
        assert_eq!(error.code, 100);
        assert!(error.message.contains(text), "{}", error.message);
    }
}

#[test]
fn duplicate_initiation_and_already_in_destination() {
    let mut state = state();
    let id = initiate(&mut state, DEST, "6315550102").unwrap();
    let error = initiate(&mut state, DEST, "6315550102").unwrap_err();
    assert_eq!(error.code, 100);
    assert_eq!(error.user_title.as_deref(), Some("Duplicate phone number"));
    // Another destination while one is pending.
    let error = initiate(&mut state, NO_WEBHOOKS, "6315550102").unwrap_err();
    assert_eq!(error.code, 2388103);

    let code = request(&mut state, &id, t0()).unwrap();
    verify(&mut state, &id, &code, t0()).unwrap();
    let error = initiate(&mut state, DEST, "6315550102").unwrap_err();
    assert_eq!(error.code, 2388012);
    // A number registered in the destination from the start.
    assert_eq!(initiate(&mut state, DEST, "6315550199").unwrap_err().code, 2388012);
}

#[test]
fn ownership_verification_only_for_migrations() {
    let mut state = state();
    let acme = caller(&state, ACME);
    // The destination's own registered number is not being migrated.
    let error = state.request_code(&acme, "107000000000001", Some("SMS"), Some("en_US"), t0()).unwrap_err();
    assert_eq!(error.code, 2388091);
    let error = state.verify_code(&acme, "107000000000001", Some("123456"), t0()).unwrap_err();
    assert_eq!(error.code, 2388093);

    let id = migrate(&mut state, DEST, "6315550102");
    assert_eq!(request(&mut state, &id, t0()).unwrap_err().code, 136024);
    assert_eq!(verify(&mut state, &id, "123456", t0()).unwrap_err().code, 136024);
}

#[test]
fn code_method_and_language_are_checked() {
    let mut state = state();
    let id = initiate(&mut state, DEST, "6315550102").unwrap();
    let acme = caller(&state, ACME);
    let error = state.request_code(&acme, &id, Some("FAX"), Some("en_US"), t0()).unwrap_err();
    assert_eq!(error.message, "(#100) Param code_method must be one of {SMS, VOICE} - got \"FAX\"");
    let error = state.request_code(&acme, &id, Some("VOICE"), None, t0()).unwrap_err();
    assert_eq!(error.message, "(#100) The parameter language is required");
    assert!(state.request_code(&acme, &id, Some("VOICE"), Some("english"), t0()).is_err());
    assert!(state.request_code(&acme, &id, Some("VOICE"), Some("es"), t0()).is_ok());
}

#[test]
fn codes_expire_and_newer_codes_replace_older_ones() {
    let mut state = state();
    let id = initiate(&mut state, DEST, "6315550102").unwrap();
    let first = request(&mut state, &id, t0()).unwrap();
    let error = verify(&mut state, &id, &first, t0() + minutes(11)).unwrap_err();
    assert_eq!(error.user_title.as_deref(), Some("Verification Code Expired"));

    let older = request(&mut state, &id, t0() + minutes(12)).unwrap();
    let newer = request(&mut state, &id, t0() + minutes(13)).unwrap();
    if older != newer {
        let error = verify(&mut state, &id, &older, t0() + minutes(14)).unwrap_err();
        assert_eq!(error.user_title.as_deref(), Some("Verification Failed"));
    }
    verify(&mut state, &id, &newer, t0() + minutes(14)).unwrap();
    assert_eq!(state.number(&id, t0()).unwrap().codes_requested, 3);
}

#[test]
fn no_code_requested_is_like_an_expired_code() {
    let mut state = state();
    let id = initiate(&mut state, DEST, "6315550102").unwrap();
    let error = verify(&mut state, &id, "123456", t0()).unwrap_err();
    assert_eq!(error.user_title.as_deref(), Some("Verification Code Expired"));
    let error = verify(&mut state, &id, "12345", t0()).unwrap_err();
    assert_eq!(error.message, "(#100) Param code must be a 6-digit number");
}

#[test]
fn too_many_wrong_codes_lock_verification() {
    let mut state = state();
    let id = initiate(&mut state, DEST, "6315550102").unwrap();
    let code = request(&mut state, &id, t0()).unwrap();
    for attempt in 1..=5 {
        let error = verify(&mut state, &id, &wrong(&code), t0()).unwrap_err();
        assert_eq!(error.code, 100, "attempt {attempt}");
    }
    let error = verify(&mut state, &id, &code, t0()).unwrap_err();
    assert_eq!((error.status, error.code, error.subcode), (429, 4, Some(2446079)));
    assert!(state.number(&id, t0()).unwrap().verification_locked);
    // After the lockout the old code has expired; a new one works.
    let later = t0() + minutes(61);
    assert_eq!(
        verify(&mut state, &id, &code, later).unwrap_err().user_title.as_deref(),
        Some("Verification Code Expired")
    );
    let code = request(&mut state, &id, later).unwrap();
    verify(&mut state, &id, &code, later).unwrap();
}

#[test]
fn register_rules() {
    let mut state = state();
    // +1 631-555-0101 fails its first register with 2388001.
    let id = initiate(&mut state, DEST, "6315550101").unwrap();
    assert_eq!(register(&mut state, &id, t0()).unwrap_err().code, 133006);
    let code = request(&mut state, &id, t0()).unwrap();
    verify(&mut state, &id, &code, t0()).unwrap();

    let acme = caller(&state, ACME);
    let bad_pin = state.register(&acme, &id, Some("whatsapp"), Some("12ab56"), t0()).unwrap_err();
    assert_eq!(bad_pin.message, "(#100) Param pin must be exactly 6 digits");
    let bad_product = state.register(&acme, &id, Some("messenger"), Some("123456"), t0()).unwrap_err();
    assert_eq!(bad_product.code, 100);
    assert!(bad_product.message.contains("messaging_product"));

    let error = register(&mut state, &id, t0()).unwrap_err();
    assert_eq!((error.code, error.subcode), (100, Some(2388001)));
    assert_eq!(error.user_title.as_deref(), Some("Cannot Create Certificate"));
    register(&mut state, &id, t0()).unwrap();
    // Re-registering needs the PIN now set.
    let acme = caller(&state, ACME);
    let error = state.register(&acme, &id, Some("whatsapp"), Some("654321"), t0()).unwrap_err();
    assert_eq!(error.code, 133005);
    // 133006, 2388001, success, 133005 all counted; parameter errors did not.
    assert_eq!(state.number(&id, t0()).unwrap().register_attempts, 4);
}

#[test]
fn register_limit_is_ten_per_72_hours() {
    let text = include_str!("../../../examples/sandbox/world.yaml")
        .replace("register_failures: 1", "register_failures: 30");
    let mut state = State::new(&World::from_yaml_str(&text).unwrap(), 1);
    let id = migrate(&mut state, DEST, "6315550101");
    for hour in 0..10 {
        let error = register(&mut state, &id, t0() + minutes(hour * 60)).unwrap_err();
        assert_eq!(error.subcode, Some(2388001));
    }
    let error = register(&mut state, &id, t0() + minutes(600)).unwrap_err();
    assert_eq!(error.code, 133016);
    assert!(error.details.as_deref().unwrap().contains("62 more hour"));
    // The first attempt leaves the window 72 h after it was made.
    let error = register(&mut state, &id, t0() + minutes(72 * 60)).unwrap_err();
    assert_eq!(error.subcode, Some(2388001));
}

#[test]
fn templates_are_duplicated_within_the_limit() {
    let mut state = state();
    migrate(&mut state, DEST, "6315550102");
    let reports = state.template_reports();
    assert_eq!(reports.len(), 1);
    let report = &reports[0];
    let names = |keys: &[TemplateKey]| -> Vec<String> {
        keys.iter().map(|k| format!("{}/{}", k.name, k.language)).collect()
    };
    assert_eq!(names(&report.copied), ["order_confirmation/en_US", "order_confirmation/es_ES"]);
    assert_eq!(names(&report.rejected), ["spring_sale/en_US"]);
    assert_eq!(names(&report.left_out_for_limit), ["delivery_reminder/en_US", "login_code/en_US"]);
    assert_eq!(names(&report.already_present), ["shipping_update/en_US"]);
    let skipped: Vec<&str> = report.not_eligible.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(skipped, ["loyalty_points", "winback_offer", "account_alert", "new_catalog"]);

    let dest = state.templates_of(DEST);
    let copy = dest.iter().find(|t| t.name == "order_confirmation" && t.language == "es_ES").unwrap();
    assert_eq!(copy.status, TemplateStatus::Approved);
    assert_eq!(copy.quality_score, TemplateQuality::Unknown);
    assert!(copy.duplicated_for.is_some());
    let rejected = dest.iter().find(|t| t.name == "spring_sale").unwrap();
    assert_eq!(rejected.status, TemplateStatus::Rejected);
    // The pre-existing shipping_update is untouched.
    let kept = dest.iter().find(|t| t.name == "shipping_update").unwrap();
    assert_eq!(kept.quality_score, TemplateQuality::Green);
    assert!(kept.duplicated_for.is_none());

    // A second number from the same source finds everything already there or still too full.
    migrate(&mut state, DEST, "6315550101");
    let second = &state.template_reports()[1];
    assert!(second.copied.is_empty() && second.rejected.is_empty());
    assert_eq!(second.already_present.len(), 4);
    assert_eq!(second.left_out_for_limit.len(), 2);
}

#[test]
fn mark_migrated_keeps_the_source_listed() {
    let text = include_str!("../../../examples/sandbox/world.yaml")
        .replace("migrated_source: remove", "migrated_source: mark_migrated");
    let mut state = State::new(&World::from_yaml_str(&text).unwrap(), 1);
    migrate(&mut state, DEST, "6315550102");
    let old = state.number("106540352242923", t0()).unwrap();
    assert!(old.exists);
    assert_eq!(old.status, NumberStatus::Migrated);
    let acme = caller(&state, ACME);
    let page = state.read_edge(&acme, SOURCE, "phone_numbers", &fields_query("id,status"), &ctx()).unwrap();
    let statuses: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["id"] == "106540352242923")
        .map(|n| n["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["MIGRATED"]);
    // The number can still migrate onward from its new home only.
    assert_eq!(initiate(&mut state, DEST, "6315550102").unwrap_err().code, 2388012);
}

fn fields_query(fields: &str) -> EdgeQuery {
    EdgeQuery { fields: Some(fields::parse(fields).unwrap()), ..EdgeQuery::default() }
}

#[test]
fn partners_cannot_see_each_other() {
    let mut state = state();
    let initech = caller(&state, INITECH);
    let error = state.read_node(&initech, DEST, None, &ctx()).unwrap_err();
    assert_eq!((error.code, error.subcode), (100, Some(33)));
    assert!(error.message.starts_with("Unsupported get request. Object with ID '104996122399160'"));
    let error = state
        .initiate_migration(&initech, DEST, Some("1"), Some("6315550102"), Some("true"), t0())
        .unwrap_err();
    assert!(error.message.starts_with("Unsupported post request."));
    let acme = caller(&state, ACME);
    assert!(state.read_node(&acme, "201000000000001", None, &ctx()).is_err());
    assert!(state.read_node(&acme, "208000000000001", None, &ctx()).is_err());
    assert!(state.read_node(&initech, "208000000000001", None, &ctx()).is_ok());
}

#[test]
fn manage_and_scope_permissions() {
    let mut state = state();
    let read_only = caller(&state, READ_ONLY);
    assert!(state.read_node(&read_only, DEST, None, &ctx()).is_ok());
    let error = state
        .initiate_migration(&read_only, DEST, Some("1"), Some("6315550102"), Some("true"), t0())
        .unwrap_err();
    assert_eq!((error.status, error.code), (403, 200));

    let id = migrate(&mut state, DEST, "6315550102");
    let no_messaging = caller(&state, NO_MESSAGING);
    let error = state.register(&no_messaging, &id, Some("whatsapp"), Some("123456"), t0()).unwrap_err();
    assert_eq!(error.code, 200);
    assert!(error.message.contains("whatsapp_business_messaging"));
    // The source is readable, not manageable, by wamig's token.
    let acme = caller(&state, ACME);
    let error = state.request_code(&acme, "106540352242922", Some("SMS"), Some("en_US"), t0()).unwrap_err();
    assert_eq!(error.code, 200);
}

#[test]
fn unknown_and_expired_tokens() {
    let state = state();
    assert_eq!(state.authenticate("nope").unwrap_err().code, 190);
    let error = state.authenticate("sandbox-token-expired").unwrap_err();
    assert_eq!((error.code, error.subcode), (190, Some(463)));
}

#[test]
fn node_fields_defaults_and_expansion() {
    let state = state();
    let acme = caller(&state, ACME);
    let waba = state.read_node(&acme, SOURCE, None, &ctx()).unwrap();
    let mut keys: Vec<&String> = waba.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["id", "message_template_namespace", "name", "timezone_id"]);

    let fields = fields::parse(
        "name,primary_funding_id,owner_business_info{id},phone_numbers.limit(2){display_phone_number},message_templates.limit(1){name,quality_score}",
    )
    .unwrap();
    let waba = state.read_node(&acme, SOURCE, Some(&fields), &ctx()).unwrap();
    assert_eq!(waba["owner_business_info"], json!({"id": "111111111111111"}));
    assert_eq!(waba["phone_numbers"]["data"].as_array().unwrap().len(), 2);
    assert_eq!(
        waba["phone_numbers"]["data"][0],
        json!({"display_phone_number": "+1 631-555-0101", "id": "106540352242922"})
    );
    let next = waba["phone_numbers"]["paging"]["next"].as_str().unwrap();
    assert!(
        next.starts_with(
            "http://127.0.0.1:9/v23.0/102289599326934/phone_numbers?fields=display_phone_number&limit=2&after="
        ),
        "{next}"
    );
    assert_eq!(
        waba["message_templates"]["data"][0]["quality_score"],
        json!({"score": "GREEN", "date": 1_700_000_000})
    );

    // No payment method: the field is absent, as Graph omits empty fields.
    let unfunded = state
        .read_node(&acme, UNFUNDED, Some(&fields::parse("primary_funding_id").unwrap()), &ctx())
        .unwrap();
    assert_eq!(unfunded, json!({"id": UNFUNDED}));

    let error = state.read_node(&acme, SOURCE, Some(&fields::parse("colour").unwrap()), &ctx()).unwrap_err();
    assert_eq!(
        error.message,
        "(#100) Tried accessing nonexisting field (colour) on node type (WhatsAppBusinessAccount)"
    );
}

#[test]
fn paging_walks_forward_and_back() {
    let state = state();
    let acme = caller(&state, ACME);
    let mut query = fields_query("name");
    query.limit = Some(4);
    let mut seen = Vec::new();
    let mut pages = 0;
    let mut last_cursor: Option<String>;
    loop {
        let page = state.read_edge(&acme, SOURCE, "message_templates", &query, &ctx()).unwrap();
        pages += 1;
        for item in page["data"].as_array().unwrap() {
            seen.push(item["name"].as_str().unwrap().to_owned());
        }
        if pages > 1 {
            assert!(page["paging"]["previous"].is_string());
        } else {
            assert!(page["paging"].get("previous").is_none());
        }
        last_cursor = page["paging"]["cursors"]["before"].as_str().map(str::to_owned);
        match page["paging"].get("next") {
            Some(_) => query.after = page["paging"]["cursors"]["after"].as_str().map(str::to_owned),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 10);
    query.after = None;
    query.before = last_cursor;
    let back = state.read_edge(&acme, SOURCE, "message_templates", &query, &ctx()).unwrap();
    let names: Vec<&str> =
        back["data"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, seen[4..8].iter().map(String::as_str).collect::<Vec<_>>());

    query.before = Some("not a cursor!".into());
    assert_eq!(state.read_edge(&acme, SOURCE, "message_templates", &query, &ctx()).unwrap_err().code, 100);
}

#[test]
fn subscribed_apps_page_one_app_at_a_time() {
    let mut world = example();
    let dest = world.wabas.iter_mut().find(|w| w.id == DEST).unwrap();
    let mut more = dest.subscribed_apps[0].clone();
    more.id = "100000000000002".into();
    dest.subscribed_apps.push(more);
    let mut state = State::new(&world, 7);
    let acme = caller(&state, ACME);
    // An app subscribed later comes after the world's.
    let no_webhooks_apps = |state: &State| {
        let page = state.read_edge(&acme, NO_WEBHOOKS, "subscribed_apps", &EdgeQuery::default(), &ctx());
        page.unwrap()["data"].as_array().unwrap().len()
    };
    state.subscribe(&acme, NO_WEBHOOKS).unwrap();
    assert_eq!(no_webhooks_apps(&state), 1);

    let mut query = EdgeQuery { limit: Some(1), ..EdgeQuery::default() };
    let first = state.read_edge(&acme, DEST, "subscribed_apps", &query, &ctx()).unwrap();
    assert_eq!(first["data"].as_array().unwrap().len(), 1);
    let next = first["paging"]["next"].as_str().expect("a second app, so a next page");
    assert!(next.starts_with("http://127.0.0.1:9/v23.0/104996122399160/subscribed_apps?"), "{next}");
    query.after = first["paging"]["cursors"]["after"].as_str().map(str::to_owned);
    let second = state.read_edge(&acme, DEST, "subscribed_apps", &query, &ctx()).unwrap();
    assert_eq!(second["data"][0]["whatsapp_business_api_data"]["id"], "100000000000002");
    assert!(second["paging"].get("next").is_none());
}

#[test]
fn cursors_round_trip() {
    for n in [0, 1, 9, 10, 12345, u64::MAX] {
        assert_eq!(decode_cursor(&encode_cursor(n), "after").unwrap(), n);
    }
    assert_eq!(encode_cursor(10), "MTA=");
}

#[test]
fn rate_limit_per_waba_per_hour() {
    let text = include_str!("../../../examples/sandbox/world.yaml")
        .replace("calls_per_hour: 200", "calls_per_hour: 3");
    let mut state = State::new(&World::from_yaml_str(&text).unwrap(), 1);
    let waba = vec![UNFUNDED.to_owned()];
    for _ in 0..3 {
        state.charge(&waba, t0()).unwrap();
    }
    let (error, usage) = state.charge(&waba, t0() + minutes(10)).unwrap_err();
    assert_eq!((error.status, error.code, error.is_transient), (429, 80008, true));
    assert_eq!(usage[0].percent, 100);
    assert_eq!(usage[0].minutes_to_regain, 50);
    assert!(state.charge(&waba, t0() + minutes(60)).is_ok());
    // A WABA with a registered number has the larger allowance.
    let usage = state.charge(&[DEST.to_owned()], t0()).unwrap();
    assert_eq!(usage[0].limit, 5000);
}

#[test]
fn debug_token_lists_scopes_and_targets() {
    let state = state();
    let data = &state.debug_token(ACME)["data"];
    assert_eq!(data["is_valid"], true);
    assert_eq!(data["type"], "SYSTEM_USER");
    assert_eq!(data["app_id"], "100000000000001");
    let granular = data["granular_scopes"].as_array().unwrap();
    let management = granular.iter().find(|g| g["scope"] == MANAGEMENT).unwrap();
    assert!(management["target_ids"].as_array().unwrap().contains(&json!(DEST)));
    assert_eq!(state.debug_token("bogus")["data"]["is_valid"], false);
}

#[test]
fn changes_outside_the_api_unblock_a_number() {
    let mut state = state();
    assert_eq!(
        initiate(&mut state, DEST, "6315550105").unwrap_err().user_title.as_deref(),
        Some("Two-step verification enabled")
    );
    let patch = NumberPatch { is_pin_enabled: Some(false), ..NumberPatch::default() };
    let snapshot = state.patch_number("+1 631-555-0105", &patch, t0()).unwrap();
    assert_eq!(snapshot.id, "106540352242926");
    assert!(initiate(&mut state, DEST, "6315550105").is_ok());

    assert!(initiate(&mut state, UNFUNDED, "6315550102").is_err());
    let patch = WabaPatch { primary_funding_id: Some("5550000000000099".into()), ..WabaPatch::default() };
    state.patch_waba(UNFUNDED, &patch).unwrap();
    assert!(initiate(&mut state, UNFUNDED, "6315550102").is_ok());

    assert!(state.patch_number("+1 999", &NumberPatch::default(), t0()).is_err());
    let bad = WabaPatch { primary_funding_id: Some("card".into()), ..WabaPatch::default() };
    assert!(state.patch_waba(UNFUNDED, &bad).is_err());
}

#[test]
fn a_number_made_unverified_must_prove_ownership_again() {
    let mut state = state();
    let id = migrate(&mut state, DEST, "6315550102");
    assert_eq!(request(&mut state, &id, t0()).unwrap_err().code, 136024);
    let patch = NumberPatch {
        code_verification_status: Some(CodeVerificationStatus::NotVerified),
        ..NumberPatch::default()
    };
    let snapshot = state.patch_number(&id, &patch, t0()).unwrap();
    assert_eq!(snapshot.code_verification_status, CodeVerificationStatus::NotVerified);
    assert_eq!(register(&mut state, &id, t0()).unwrap_err().code, 133006);

    let code = request(&mut state, &id, t0()).unwrap();
    verify(&mut state, &id, &code, t0()).unwrap();
    register(&mut state, &id, t0()).unwrap();
    assert_eq!(state.number(&id, t0()).unwrap().status, NumberStatus::Connected);
}

#[test]
fn template_nodes_are_readable_through_their_waba() {
    let state = state();
    let acme = caller(&state, ACME);
    let id = state.templates_of(SOURCE)[0].id.clone();
    let template = state
        .read_node(&acme, &id, Some(&fields::parse("name,language,quality_score").unwrap()), &ctx())
        .unwrap();
    assert_eq!(template["name"], "order_confirmation");
    assert_eq!(template["id"], json!(id));
    let initech = caller(&state, INITECH);
    assert!(state.read_node(&initech, &id, None, &ctx()).is_err());
}

#[test]
fn summary_counts_an_edge() {
    let state = state();
    let acme = caller(&state, ACME);
    let fields = fields::parse("message_templates.limit(0).summary(total_count)").unwrap();
    let waba = state.read_node(&acme, SOURCE, Some(&fields), &ctx()).unwrap();
    assert_eq!(waba["message_templates"], json!({"data": [], "summary": {"total_count": 10}}));
    let query = EdgeQuery { summary: true, limit: Some(2), ..EdgeQuery::default() };
    let page = state.read_edge(&acme, DEST, "phone_numbers", &query, &ctx()).unwrap();
    assert_eq!(page["summary"]["total_count"], 1);
}

#[test]
fn template_bodies_with_variables_carry_examples() {
    assert_eq!(
        body_component("Hi {{1}}, your order {{2}} is confirmed."),
        json!({
            "type": "BODY",
            "text": "Hi {{1}}, your order {{2}} is confirmed.",
            "example": {"body_text": [["sample 1", "sample 2"]]},
        })
    );
    assert_eq!(body_component("No variables."), json!({"type": "BODY", "text": "No variables."}));
    assert_eq!(body_component("Broken {{1"), json!({"type": "BODY", "text": "Broken {{1"}));
    let many = body_component("{{99999}}");
    assert_eq!(many["example"]["body_text"][0].as_array().unwrap().len(), 100);
}

/// Graph behaviours beyond its documentation (read lag, refused fields, ...), switched on per test.
mod behaviour;
