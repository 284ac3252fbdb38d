//! wamig's Graph client against the sandbox over loopback: every read and write the client
//! makes, every error class the sandbox can produce, paging past one page, multi-id reads split
//! at 50 ids, the batch that carries debug_token, and appsecret_proof.

use std::time::Duration;

use wamig::graph::{
    CodeMethod, ErrorClass, GraphClient, GraphConfig, GraphError, MigrationBlock, RetryPolicy,
    TokenInfoSource,
};
use wamig::sandbox::{DropPhase, Faults, SandboxHandle};
use wamig::secret::Secret;

use crate::plan_support::{GenWorld, gen_source_id};
use crate::support::{ACME_TOKEN, DESTINATION_WABA, SOURCE_WABA};

struct Env {
    sandbox: SandboxHandle,
    outbox: tempfile::TempDir,
}

async fn env_with(world: &str) -> Env {
    let (sandbox, outbox) = crate::support::start_sandbox(world, |_| {}).await;
    Env { sandbox, outbox }
}

async fn example() -> Env {
    env_with(wamig::sandbox::EXAMPLE_WORLD).await
}

impl Env {
    fn client_with(&self, token: &str, configure: impl FnOnce(GraphConfig) -> GraphConfig) -> GraphClient {
        let config = GraphConfig::new(&self.sandbox.base_url(), "v23.0", Secret::new(token))
            .unwrap()
            .with_retry(RetryPolicy::none());
        GraphClient::new(configure(config)).unwrap()
    }

    fn client(&self, token: &str) -> GraphClient {
        self.client_with(token, |c| c)
    }

    fn code(&self, digits: &str) -> Secret {
        Secret::new(std::fs::read_to_string(self.outbox.path().join(digits)).unwrap().trim())
    }

    /// Logged requests whose path ends with `suffix`.
    fn logged(&self, suffix: &str) -> Vec<wamig::sandbox::LoggedRequest> {
        self.sandbox.requests().into_iter().filter(|r| r.path.ends_with(suffix)).collect()
    }
}

fn class<T: std::fmt::Debug>(result: Result<T, GraphError>) -> ErrorClass {
    result.expect_err("the call must fail").class()
}

fn blocked(block: MigrationBlock) -> ErrorClass {
    ErrorClass::MigrationBlocked(block)
}

#[tokio::test]
async fn every_edge_is_read_to_its_last_page() {
    // More numbers and templates than the client's page of 100, more subscribed apps than the
    // world's page of 2.
    let world =
        GenWorld { page_size: 2, source_numbers: 120, apps: 5, templates: 130, ..GenWorld::default() };
    let env = env_with(&world.yaml()).await;
    let client = env.client(ACME_TOKEN);

    let numbers = client.phone_numbers(SOURCE_WABA).await.unwrap();
    assert_eq!(numbers.len(), 120);
    let ids: std::collections::BTreeSet<&str> = numbers.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids.len(), 120, "no number twice");
    let templates = client.message_templates(SOURCE_WABA).await.unwrap();
    assert_eq!(templates.len(), 130);
    let apps = client.subscribed_apps(DESTINATION_WABA).await.unwrap();
    assert_eq!(apps.len(), 5);
    let subscribed = env.logged("/subscribed_apps");
    assert_eq!(subscribed.len(), 3, "2 + 2 + 1 apps: {subscribed:?}");
    assert!(!subscribed[0].params.contains_key("after"));
    assert!(subscribed[1].params.contains_key("after") && subscribed[2].params.contains_key("after"));

    // The same edges expanded inside the WABA nodes, completed through their next links.
    let wabas = client.wabas(&[SOURCE_WABA, DESTINATION_WABA]).await.unwrap();
    assert_eq!(wabas[SOURCE_WABA].phone_numbers().len(), 120);
    assert_eq!(wabas[SOURCE_WABA].message_templates().len(), 130);
    assert_eq!(wabas[DESTINATION_WABA].subscribed_apps().len(), 5);
    let single = client.waba(DESTINATION_WABA).await.unwrap();
    assert_eq!(single.subscribed_apps().len(), 5);
}

#[tokio::test]
async fn the_subscribed_apps_edge_pages_like_graph() {
    let world = GenWorld { page_size: 2, apps: 3, ..GenWorld::default() };
    let env = env_with(&world.yaml()).await;
    let http = reqwest::Client::new();
    let url = format!("{}/v23.0/{DESTINATION_WABA}/subscribed_apps", env.sandbox.base_url());
    let page: serde_json::Value =
        http.get(&url).bearer_auth(ACME_TOKEN).send().await.unwrap().json().await.unwrap();
    assert_eq!(page["data"].as_array().unwrap().len(), 2, "{page}");
    assert!(page["paging"]["cursors"]["after"].is_string(), "{page}");
    let next = page["paging"]["next"].as_str().unwrap();
    assert!(
        next.starts_with(&format!("{}/v23.0/{DESTINATION_WABA}/subscribed_apps?", env.sandbox.base_url()))
    );
    let last: serde_json::Value =
        http.get(next).bearer_auth(ACME_TOKEN).send().await.unwrap().json().await.unwrap();
    assert_eq!(last["data"].as_array().unwrap().len(), 1, "{last}");
    assert!(last["paging"].get("next").is_none());
    assert!(last["paging"]["previous"].is_string());
    let limited: serde_json::Value = http
        .get(&url)
        .query(&[("limit", "1")])
        .bearer_auth(ACME_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(limited["data"].as_array().unwrap().len(), 1);
    assert!(limited["paging"]["next"].as_str().unwrap().contains("limit=1"));
}

#[tokio::test]
async fn multi_id_reads_are_split_at_50_ids() {
    let world = GenWorld { source_numbers: 120, ..GenWorld::default() };
    let env = env_with(&world.yaml()).await;
    let client = env.client(ACME_TOKEN);
    let ids: Vec<String> = (0..120).map(gen_source_id).collect();
    let numbers = client.phone_numbers_by_id(&ids).await.unwrap();
    assert_eq!(numbers.len(), 120);
    let reads: Vec<_> = env.sandbox.requests().into_iter().filter(|r| r.params.contains_key("ids")).collect();
    assert_eq!(reads.len(), 3);
    let mut sizes: Vec<usize> = reads.iter().map(|r| r.params["ids"].split(',').count()).collect();
    sizes.sort();
    assert_eq!(sizes, [20, 50, 50]);
    assert!(reads.iter().all(|r| r.status == Some(200)));
}

#[tokio::test]
async fn token_info_comes_from_debug_token_through_a_batch_without_leaking_the_token() {
    let env = example().await;
    let info = env.client(ACME_TOKEN).token_info().await.unwrap();
    assert_eq!(info.source, TokenInfoSource::DebugToken);
    assert_eq!(info.is_valid, Some(true));
    assert_eq!(info.scopes, ["whatsapp_business_management", "whatsapp_business_messaging"]);
    assert!(!info.granular_scopes.is_empty());
    let info = env.client("sandbox-token-acme-no-messaging").token_info().await.unwrap();
    assert_eq!(info.scopes, ["whatsapp_business_management"]);

    let requests = env.sandbox.requests();
    assert_eq!(requests.len(), 2, "one batch each, no fallback: {requests:?}");
    for request in &requests {
        assert_eq!((request.method.as_str(), request.status), ("POST", Some(200)));
        assert!(request.params["batch"].contains("input_token=<redacted>"), "{request:?}");
    }
    let log = serde_json::to_string(&requests).unwrap();
    assert!(!log.contains(ACME_TOKEN) && !log.contains("sandbox-token-acme-no-messaging"));

    // An expired token fails the batch itself, and /me/permissions would fail alike: not tried.
    assert_eq!(class(env.client("sandbox-token-expired").token_info().await), ErrorClass::Auth);
    assert_eq!(env.sandbox.request_count(), 3);
}

#[tokio::test]
async fn a_whole_migration_through_the_client_and_the_errors_along_the_way() {
    let env = example().await;
    let client = env.client(ACME_TOKEN);
    let pin = Secret::new("123456");

    let id = client.initiate_migration(DESTINATION_WABA, "1", "6315550102").await.unwrap();
    let node = client.phone_number(&id).await.unwrap();
    assert_eq!(node.code_verification_status.map(|s| s.as_str().to_owned()).as_deref(), Some("NOT_VERIFIED"));
    assert_eq!(
        class(client.initiate_migration(DESTINATION_WABA, "1", "6315550102").await),
        ErrorClass::MigrationAlreadyStarted
    );
    assert_eq!(class(client.register(&id, &pin, None).await), ErrorClass::VerifyBeforeRegister);
    assert_eq!(class(client.verify_code(&id, &Secret::new("000000")).await), ErrorClass::CodeExpired);

    client.request_code(&id, CodeMethod::Sms, "en_US").await.unwrap();
    let code = env.code("16315550102");
    let wrong = if code.expose() == "111111" { "222222" } else { "111111" };
    assert_eq!(class(client.verify_code(&id, &Secret::new(wrong)).await), ErrorClass::WrongCode);
    client.verify_code(&id, &code).await.unwrap();
    let node = client.phone_number(&id).await.unwrap();
    assert_eq!(node.code_verification_status.map(|s| s.as_str().to_owned()).as_deref(), Some("VERIFIED"));
    assert_eq!(
        class(client.request_code(&id, CodeMethod::Voice, "en_US").await),
        ErrorClass::AlreadyVerified
    );

    client.register(&id, &pin, None).await.unwrap();
    assert_eq!(class(client.register(&id, &Secret::new("654321"), None).await), ErrorClass::WrongPin);
    assert_eq!(
        class(client.initiate_migration(DESTINATION_WABA, "1", "6315550102").await),
        ErrorClass::AlreadyInDestination
    );
    let destination = client.waba(DESTINATION_WABA).await.unwrap();
    let moved = destination.phone_numbers().iter().find(|n| n.id == id).unwrap();
    assert_eq!(moved.status.as_ref().map(|s| s.as_str()), Some("CONNECTED"));
    assert_eq!(moved.platform_type.as_ref().map(|s| s.as_str()), Some("CLOUD_API"));

    // Nothing secret reached the sandbox's log in clear.
    let log = serde_json::to_string(&env.sandbox.requests()).unwrap();
    for secret in [ACME_TOKEN, "123456", "654321", code.expose()] {
        assert!(!log.contains(secret), "{secret} in the request log");
    }
}

#[tokio::test]
async fn register_errors_display_name_provisioning_and_the_limit() {
    let world = wamig::sandbox::EXAMPLE_WORLD.replace("register_limit: 10", "register_limit: 2");
    let env = env_with(&world).await;
    let client = env.client(ACME_TOKEN);
    // +1 631-555-0101 fails its first register with 2388001.
    let id = client.initiate_migration(DESTINATION_WABA, "1", "6315550101").await.unwrap();
    client.request_code(&id, CodeMethod::Sms, "en_US").await.unwrap();
    client.verify_code(&id, &env.code("16315550101")).await.unwrap();
    let pin = Secret::new("123456");
    assert_eq!(class(client.register(&id, &pin, None).await), ErrorClass::DisplayNameProvisioning);
    client.register(&id, &pin, None).await.unwrap();
    assert_eq!(class(client.register(&id, &pin, None).await), ErrorClass::RegisterLimit);

    let no_messaging = env.client("sandbox-token-acme-no-messaging");
    assert_eq!(class(no_messaging.register(&id, &pin, None).await), ErrorClass::Permission);
}

#[tokio::test]
async fn every_eligibility_failure_is_classified_by_its_cause() {
    // The Acme token also reads Initech's WABA here, so the different-business rule is reached.
    let world = wamig::sandbox::EXAMPLE_WORLD.replace(
        "read: [\"102289599326934\", \"103000000000001\"]",
        "read: [\"102289599326934\", \"103000000000001\", \"201000000000001\"]",
    );
    let env = env_with(&world).await;
    let client = env.client(ACME_TOKEN);
    let cases: &[(&str, &str, &str, ErrorClass)] = &[
        (DESTINATION_WABA, "1", "6315550104", blocked(MigrationBlock::DisplayNameNotApproved)),
        (DESTINATION_WABA, "1", "6315550105", blocked(MigrationBlock::TwoStepVerificationEnabled)),
        (DESTINATION_WABA, "1", "6315550106", blocked(MigrationBlock::TestNumber)),
        (DESTINATION_WABA, "1", "6315550107", blocked(MigrationBlock::DisplayNameNotApproved)),
        (DESTINATION_WABA, "1", "6315550108", blocked(MigrationBlock::BusinessAppNumber)),
        (DESTINATION_WABA, "1", "6315550109", ErrorClass::Maintenance),
        (DESTINATION_WABA, "1", "6315550150", blocked(MigrationBlock::SourceWabaNotApproved)),
        (DESTINATION_WABA, "44", "2079460958", blocked(MigrationBlock::DifferentBusiness)),
        (DESTINATION_WABA, "1", "6315550177", blocked(MigrationBlock::EligibleToAddDirectly)),
        ("105000000000001", "1", "6315550102", blocked(MigrationBlock::NoPaymentMethod)),
        ("105000000000002", "1", "6315550102", blocked(MigrationBlock::WebhooksMissing)),
        ("105000000000003", "1", "6315550102", blocked(MigrationBlock::DestinationNotApproved)),
        (DESTINATION_WABA, "1", "6315550199", ErrorClass::AlreadyInDestination),
    ];
    for (destination, cc, national, expected) in cases {
        let error = client.initiate_migration(destination, cc, national).await.unwrap_err();
        assert_eq!(error.class(), *expected, "+{cc}{national} into {destination}: {error:?}");
        assert!(!wamig::hints::graph_hint(&error).is_empty());
    }
    // Started elsewhere, then started again into another destination.
    client.initiate_migration(DESTINATION_WABA, "1", "6315550103").await.unwrap();
    let elsewhere = client.initiate_migration("105000000000001", "1", "6315550103").await.unwrap_err();
    assert_eq!(elsewhere.class(), blocked(MigrationBlock::Generic), "{elsewhere:?}");
}

#[tokio::test]
async fn credentials_permissions_and_unknown_objects() {
    let env = example().await;
    assert_eq!(class(env.client("no-such-token").waba(DESTINATION_WABA).await), ErrorClass::Auth);
    assert_eq!(class(env.client("sandbox-token-expired").waba(DESTINATION_WABA).await), ErrorClass::Auth);
    let acme = env.client(ACME_TOKEN);
    // Another partner's WABA: Graph does not say whether it exists.
    assert_eq!(class(acme.waba("201000000000001").await), ErrorClass::NotFound);
    assert_eq!(class(acme.phone_number("208000000000001").await), ErrorClass::NotFound);
    let read_only = env.client("sandbox-token-acme-read-only");
    read_only.waba(DESTINATION_WABA).await.unwrap();
    assert_eq!(
        class(read_only.initiate_migration(DESTINATION_WABA, "1", "6315550102").await),
        ErrorClass::Permission
    );
    // A number the destination lists but that is not being migrated has no codes to ask for.
    assert_eq!(
        class(acme.request_code("107000000000001", CodeMethod::Sms, "en_US").await),
        ErrorClass::NotBeingMigrated
    );
    // Code 2500 for a request Graph cannot parse is not a token problem.
    let syntax = acme.get_node::<serde_json::Value>(DESTINATION_WABA, "id}{").await.unwrap_err();
    assert_eq!((syntax.code(), syntax.class()), (Some(2500), ErrorClass::InvalidParameter));
}

#[tokio::test]
async fn appsecret_proof_is_enforced_when_the_world_has_an_app_secret() {
    let world = GenWorld { app_secret: Some("world-app-secret"), ..GenWorld::default() };
    let env = env_with(&world.yaml()).await;
    let without = env.client(ACME_TOKEN);
    assert_eq!(class(without.waba(DESTINATION_WABA).await), ErrorClass::AppSecretProof);
    let wrong = env.client_with(ACME_TOKEN, |c| c.with_app_secret(Some(Secret::new("not-the-secret"))));
    assert_eq!(class(wrong.waba(DESTINATION_WABA).await), ErrorClass::AppSecretProof);
    let right = env.client_with(ACME_TOKEN, |c| c.with_app_secret(Some(Secret::new("world-app-secret"))));
    right.waba(DESTINATION_WABA).await.unwrap();
    right.wabas(&[SOURCE_WABA, DESTINATION_WABA]).await.unwrap();
    // The proof travels inside the batch request too.
    assert_eq!(right.token_info().await.unwrap().source, TokenInfoSource::DebugToken);
    let log = serde_json::to_string(&env.sandbox.requests()).unwrap();
    assert!(!log.contains("world-app-secret"));
}

#[tokio::test]
async fn throttling_and_server_errors_are_classified_for_retry() {
    let env = example().await;
    let client = env.client(ACME_TOKEN);
    env.sandbox.set_faults(Faults { throttle_burst: 1, ..env.sandbox.faults() });
    assert_eq!(class(client.waba(DESTINATION_WABA).await), ErrorClass::Throttled);
    env.sandbox.set_faults(Faults { throttle_burst: 0, error_rate: 1.0, ..env.sandbox.faults() });
    assert_eq!(class(client.waba(DESTINATION_WABA).await), ErrorClass::Transient);
    // With retries, a burst of throttling is waited out.
    env.sandbox.set_faults(Faults { error_rate: 0.0, throttle_burst: 2, ..env.sandbox.faults() });
    let patient = env.client_with(ACME_TOKEN, |c| {
        c.with_retry(RetryPolicy { base_delay: Duration::from_millis(1), ..RetryPolicy::default() })
    });
    patient.waba(DESTINATION_WABA).await.unwrap();
}

#[test]
fn plain_http_is_refused_for_other_hosts() {
    for url in ["http://graph.facebook.com", "http://10.0.0.5:4010", "http://sandbox.example:4010"] {
        let error = GraphConfig::new(url, "v23.0", Secret::new(ACME_TOKEN)).err().unwrap();
        assert_eq!(error.class(), ErrorClass::Config, "{url}");
        assert!(!error.message().contains(ACME_TOKEN));
    }
    GraphConfig::new("http://127.0.0.1:4010", "v23.0", Secret::new(ACME_TOKEN)).unwrap();
    GraphConfig::new("http://[::1]:4010", "v23.0", Secret::new(ACME_TOKEN)).unwrap();
}

#[tokio::test]
async fn dropped_connections_make_reads_network_errors_and_writes_of_unknown_outcome() {
    let env = example().await;
    let client = env.client(ACME_TOKEN);
    let drop = |phase| Faults { drop_rate: 1.0, drop_phase: phase, ..env.sandbox.faults() };
    env.sandbox.set_faults(drop(DropPhase::AfterWrite));
    let error = client.initiate_migration(DESTINATION_WABA, "1", "6315550102").await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::OutcomeUnknown, "{error:?}");
    assert!(error.may_have_taken_effect());
    env.sandbox.set_faults(Faults { drop_rate: 0.0, ..env.sandbox.faults() });
    // It did take effect: the destination lists the number, and starting again says so.
    assert_eq!(
        class(client.initiate_migration(DESTINATION_WABA, "1", "6315550102").await),
        ErrorClass::MigrationAlreadyStarted
    );
    env.sandbox.set_faults(drop(DropPhase::BeforeWrite));
    assert_eq!(class(client.waba(DESTINATION_WABA).await), ErrorClass::Network);
}

#[tokio::test]
async fn too_many_wrong_codes_lock_verification() {
    let env = example().await;
    let client = env.client(ACME_TOKEN);
    let id = client.initiate_migration(DESTINATION_WABA, "1", "6315550102").await.unwrap();
    client.request_code(&id, CodeMethod::Sms, "en_US").await.unwrap();
    let code = env.code("16315550102");
    let wrong = Secret::new(if code.expose() == "111111" { "222222" } else { "111111" });
    for _ in 0..5 {
        assert_eq!(class(client.verify_code(&id, &wrong).await), ErrorClass::WrongCode);
    }
    assert_eq!(class(client.verify_code(&id, &code).await), ErrorClass::TooManyAttempts);
}

/// 60 WABAs the token reads and, last, Initech's WABA it may not: Graph refuses the whole
/// multi-id read holding the foreign one, so only that chunk of 50 is read again WABA by WABA.
#[tokio::test]
async fn observe_reads_one_wabas_at_a_time_only_in_the_chunk_holding_an_unreadable_one() {
    let mut world = String::from(
        "businesses:\n  - { id: \"111111111111111\", name: Acme }\n  - { id: \"222222222222222\", name: Initech }\nwabas:\n",
    );
    let mut manifest = String::from("version: 1\ndestinations:\n");
    let mut readable = Vec::new();
    for i in 0..60u64 {
        let id = format!("{}", 330_000_000_000_000u64 + i);
        world.push_str(&format!("  - {{ id: \"{id}\", name: w{i}, business: \"111111111111111\" }}\n"));
        manifest.push_str(&format!(
            "  - waba: \"{id}\"\n    numbers:\n      - {{ phone: \"+1 415-555-{:04}\", register: false }}\n",
            i
        ));
        readable.push(id);
    }
    world.push_str("  - { id: \"201000000000001\", name: foreign, business: \"222222222222222\" }\n");
    manifest.push_str(
        "  - waba: \"201000000000001\"\n    numbers:\n      - { phone: \"+1 415-555-0999\", register: false }\n",
    );
    world.push_str(&format!(
        "tokens:\n  - token: {ACME_TOKEN}\n    name: acme\n    scopes: [whatsapp_business_management]\n    manage: [{}]\n",
        readable.iter().map(|id| format!("\"{id}\"")).collect::<Vec<_>>().join(", ")
    ));
    let env = env_with(&world).await;
    let desired = wamig::manifest::parse(&manifest, std::path::Path::new("wamig.yaml")).unwrap().desired;
    let ui = wamig::ui::Ui::capture(wamig::ui::Level::Warn, wamig::ui::LogFormat::Text);

    let before = env.sandbox.request_count();
    let snapshot = wamig::observe::observe(&env.client(ACME_TOKEN), &desired, &ui).await.unwrap();
    let requests = env.sandbox.request_count() - before;

    let unreadable: Vec<&String> = snapshot
        .wabas
        .iter()
        .filter(|(_, w)| matches!(w.access, wamig::observe::Access::Unreadable { .. }))
        .map(|(id, _)| id)
        .collect();
    assert_eq!(unreadable, ["201000000000001"]);
    assert_eq!(snapshot.wabas.len(), 61);
    // The token read, two multi-id reads, and the 11 WABAs of the refused chunk one by one.
    assert_eq!(requests, 1 + 2 + 11, "{:#?}", env.sandbox.requests());
}
