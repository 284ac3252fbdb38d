//! The sandbox over HTTP: started in-process on 127.0.0.1:0 and called with reqwest, checking
//! answers against the shapes of Meta's documentation (examples/sandbox/README.md lists the
//! sources), plus one run of the real `wamig sandbox` binary.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::{Value, json};
use wamig::sandbox::{DropPhase, Faults, NumberStatus, SandboxHandle, SandboxOptions, TemplateStatus};

use crate::support::{
    ACME_TOKEN as ACME, DESTINATION_WABA as DEST, NO_WEBHOOKS_WABA as NO_WEBHOOKS, SOURCE_WABA as SOURCE,
    start_sandbox,
};

const READ_ONLY: &str = "sandbox-token-acme-read-only";
const INITECH: &str = "sandbox-token-initech-partner";
const EXAMPLE: &str = wamig::sandbox::EXAMPLE_WORLD;

struct Env {
    handle: SandboxHandle,
    client: reqwest::Client,
    outbox: tempfile::TempDir,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    fn error(&self) -> &Value {
        &self.body["error"]
    }

    fn code(&self) -> i64 {
        self.body["error"]["code"].as_i64().unwrap_or(0)
    }

    fn usage(&self) -> Value {
        let text = self.headers["x-business-use-case-usage"].to_str().unwrap();
        serde_json::from_str(text).unwrap()
    }
}

async fn env_with(world: &str, configure: impl FnOnce(&mut SandboxOptions)) -> Env {
    let (handle, outbox) = start_sandbox(world, configure).await;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    Env { handle, client, outbox }
}

async fn env() -> Env {
    env_with(EXAMPLE, |_| {}).await
}

impl Env {
    fn url(&self, path: &str) -> String {
        format!("{}/v23.0{path}", self.handle.base_url())
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.expect("the sandbox answers");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON body: {text}"));
        Answer { status, headers, body }
    }

    async fn get(&self, path: &str, token: &str) -> Answer {
        self.send(self.client.get(self.url(path)).bearer_auth(token)).await
    }

    async fn get_url(&self, url: &str, token: &str) -> Answer {
        self.send(self.client.get(url).bearer_auth(token)).await
    }

    async fn post(&self, path: &str, token: &str, form: &[(&str, &str)]) -> Answer {
        self.send(self.client.post(self.url(path)).bearer_auth(token).form(form)).await
    }

    async fn post_json(&self, path: &str, token: &str, body: Value) -> Answer {
        self.send(self.client.post(self.url(path)).bearer_auth(token).json(&body)).await
    }

    fn code_for(&self, digits: &str) -> String {
        std::fs::read_to_string(self.outbox.path().join(digits)).unwrap().trim().to_owned()
    }

    async fn initiate(&self, dest: &str, national: &str) -> Answer {
        self.post(
            &format!("/{dest}/phone_numbers"),
            ACME,
            &[("cc", "1"), ("phone_number", national), ("migrate_phone_number", "true")],
        )
        .await
    }

    /// Initiates, requests and verifies; returns the new phone-number id.
    async fn migrate(&self, dest: &str, national: &str) -> String {
        let answer = self.initiate(dest, national).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let id = answer.body["id"].as_str().unwrap().to_owned();
        let answer = self
            .post(&format!("/{id}/request_code"), ACME, &[("code_method", "SMS"), ("language", "en_US")])
            .await;
        assert_eq!(answer.body, json!({"success": true}));
        let code = self.code_for(&format!("1{national}"));
        let answer = self.post(&format!("/{id}/verify_code"), ACME, &[("code", &code)]).await;
        assert_eq!(answer.body, json!({"success": true}));
        id
    }
}

fn ids(page: &Value) -> Vec<String> {
    page["data"].as_array().unwrap().iter().map(|item| item["id"].as_str().unwrap().to_owned()).collect()
}

fn assert_graph_error(answer: &Answer) {
    let error = answer.error();
    assert!(error["message"].is_string(), "{}", answer.body);
    assert!(error["type"].is_string());
    assert!(error["code"].is_i64());
    assert!(error["is_transient"].is_boolean());
    let trace = error["fbtrace_id"].as_str().unwrap();
    assert_eq!(trace.len(), 23);
    assert_eq!(answer.headers["x-fb-trace-id"], trace);
}

#[tokio::test]
async fn waba_node_read_like_metas_example() {
    let env = env().await;
    // Meta's example: GET /{waba}?fields=name,status,currency,country,business_verification_status
    let answer = env
        .get(&format!("/{SOURCE}?fields=name,status,currency,country,business_verification_status"), ACME)
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.body,
        json!({
            "name": "acme-legacy",
            "status": "ACTIVE",
            "currency": "USD",
            "country": "US",
            "business_verification_status": "verified",
            "id": SOURCE,
        })
    );
    assert_eq!(answer.headers["facebook-api-version"], "v23.0");
    assert!(answer.headers["content-type"].to_str().unwrap().starts_with("application/json"));
    let usage = answer.usage();
    let entry = &usage[SOURCE][0];
    assert_eq!(entry["type"], "whatsapp_business_management");
    for key in ["call_count", "total_cputime", "total_time", "estimated_time_to_regain_access"] {
        assert!(entry[key].is_u64(), "{key} in {usage}");
    }
}

#[tokio::test]
async fn phone_number_node_fields() {
    let env = env().await;
    let answer = env.get("/106540352242922", ACME).await;
    // Default fields of the phone-number node.
    assert_eq!(
        answer.body,
        json!({
            "verified_name": "Acme Support",
            "code_verification_status": "VERIFIED",
            "display_phone_number": "+1 631-555-0101",
            "quality_rating": "GREEN",
            "id": "106540352242922",
        })
    );
    let answer = env
        .get(
            "/106540352242922?fields=name_status,account_mode,is_pin_enabled,is_on_biz_app,platform_type,status,messaging_limit_tier,is_official_business_account,throughput{level}",
            ACME,
        )
        .await;
    assert_eq!(
        answer.body,
        json!({
            "name_status": "APPROVED",
            "account_mode": "LIVE",
            "is_pin_enabled": false,
            "is_on_biz_app": false,
            "platform_type": "CLOUD_API",
            "status": "CONNECTED",
            "messaging_limit_tier": "TIER_10K",
            "is_official_business_account": true,
            "throughput": {"level": "STANDARD"},
            "id": "106540352242922",
        })
    );
}

#[tokio::test]
async fn field_expansion_with_absolute_next_urls() {
    let env = env().await;
    let answer = env
        .get(&format!("/{SOURCE}?fields=id,subscribed_apps,message_templates.limit(3){{name,status}}"), ACME)
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.body["subscribed_apps"]["data"][0],
        json!({"whatsapp_business_api_data": {
            "id": "300000000000001",
            "name": "Legacy BSP Connector",
            "link": "https://www.facebook.com/games/?app_id=300000000000001",
        }})
    );
    let mut page = answer.body["message_templates"].clone();
    let mut names = Vec::new();
    let mut pages = 0;
    loop {
        pages += 1;
        for template in page["data"].as_array().unwrap() {
            assert_eq!(template.as_object().unwrap().len(), 3, "{template}");
            names.push(template["name"].as_str().unwrap().to_owned());
        }
        let Some(next) = page["paging"]["next"].as_str() else {
            break;
        };
        assert!(next.starts_with(&env.handle.base_url()), "{next}");
        assert!(next.contains("fields=name%2Cstatus") && next.contains("limit=3"), "{next}");
        page = env.get_url(next, ACME).await.body;
    }
    assert_eq!(pages, 4);
    assert_eq!(names.len(), 10);
}

#[tokio::test]
async fn edge_paging_across_pages() {
    let env = env().await;
    let first = env.get(&format!("/{SOURCE}/phone_numbers?limit=4"), ACME).await;
    let page = &first.body;
    assert_eq!(ids(page).len(), 4);
    // Default fields of the edge.
    let mut keys: Vec<&String> = page["data"][0].as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "code_verification_status",
            "display_phone_number",
            "id",
            "platform_type",
            "quality_rating",
            "throughput",
            "verified_name"
        ]
    );
    assert!(page["paging"]["cursors"]["before"].is_string());
    assert!(page["paging"].get("previous").is_none());
    let second = env.get_url(page["paging"]["next"].as_str().unwrap(), ACME).await.body;
    let third = env.get_url(second["paging"]["next"].as_str().unwrap(), ACME).await.body;
    assert_eq!(ids(&second).len(), 4);
    assert_eq!(ids(&third).len(), 1);
    assert!(third["paging"].get("next").is_none());
    let back = env.get_url(third["paging"]["previous"].as_str().unwrap(), ACME).await.body;
    assert_eq!(ids(&back), ids(&second));
    // The default page size is 25.
    let all = env.get(&format!("/{SOURCE}/phone_numbers"), ACME).await.body;
    assert_eq!(ids(&all).len(), 9);
    assert!(all["paging"].get("next").is_none());
    // Cursors work as parameters too.
    let after = page["paging"]["cursors"]["after"].as_str().unwrap();
    let same = env
        .send(
            env.client
                .get(env.url(&format!("/{SOURCE}/phone_numbers")))
                .bearer_auth(ACME)
                .query(&[("limit", "4"), ("after", after)]),
        )
        .await;
    assert_eq!(ids(&same.body), ids(&second));
}

#[tokio::test]
async fn multi_id_reads() {
    let env = env().await;
    let answer = env.get(&format!("/?ids={SOURCE},{DEST},106540352242922&fields=id"), ACME).await;
    assert_eq!(
        answer.body,
        json!({
            SOURCE: {"id": SOURCE},
            DEST: {"id": DEST},
            "106540352242922": {"id": "106540352242922"},
        })
    );
    // Each id counts against its WABA.
    assert!(answer.usage().get(SOURCE).is_some() && answer.usage().get(DEST).is_some());

    let answer = env.get(&format!("?ids={SOURCE},201000000000001&fields=id"), ACME).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.code(), 100);
    assert_eq!(answer.error()["error_subcode"], 33);
    assert_eq!(
        answer.error()["message"],
        "Unsupported get request. Object with ID '201000000000001' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
    );

    let many: Vec<String> = (0..51).map(|i| format!("{}", 106540352242922u64 + i)).collect();
    let answer = env.get(&format!("/?ids={}", many.join(",")), ACME).await;
    assert_eq!(answer.code(), 100);
    assert!(answer.error()["message"].as_str().unwrap().contains("Maximum: 50"));
}

#[tokio::test]
async fn error_envelopes() {
    let env = env().await;

    let answer = env.get(&format!("/{SOURCE}"), "not-a-token").await;
    assert_graph_error(&answer);
    assert_eq!((answer.status.as_u16(), answer.code()), (400, 190));
    assert_eq!(answer.error()["type"], "OAuthException");
    assert!(answer.headers.contains_key("www-authenticate"));

    let answer = env.get(&format!("/{SOURCE}"), "sandbox-token-expired").await;
    assert_eq!((answer.code(), answer.error()["error_subcode"].as_i64()), (190, Some(463)));

    let answer = env.send(env.client.get(env.url(&format!("/{SOURCE}")))).await;
    assert_graph_error(&answer);
    assert_eq!(answer.code(), 104);
    let answer = env.send(env.client.get(env.url("/me"))).await;
    assert_eq!(answer.code(), 2500);
    assert_eq!(
        answer.error()["message"],
        "An active access token must be used to query information about the current user."
    );

    for path in ["/v23/me", "/v2.80/me/adaccounts", "/v99.0/me"] {
        let answer = env.get_url(&format!("{}{path}", env.handle.base_url()), ACME).await;
        assert_graph_error(&answer);
        assert_eq!(answer.code(), 2500, "{path}");
        assert!(answer.error()["message"].as_str().unwrap().starts_with("Unknown path components: /me"));
    }

    let answer = env.get(&format!("/{SOURCE}?fields=colour"), ACME).await;
    assert_graph_error(&answer);
    assert_eq!(answer.code(), 100);
    assert_eq!(
        answer.error()["message"],
        "(#100) Tried accessing nonexisting field (colour) on node type (WhatsAppBusinessAccount)"
    );
    let answer = env.get(&format!("/{SOURCE}?fields=message_templates{{name"), ACME).await;
    assert_eq!(answer.code(), 2500);
    assert!(answer.error()["message"].as_str().unwrap().starts_with("Syntax error"));

    let answer = env.get("/acme", ACME).await;
    assert_eq!((answer.status.as_u16(), answer.code()), (404, 803));
    let answer = env.get(&format!("/{SOURCE}/phone_numbers/x"), ACME).await;
    assert_eq!(answer.code(), 2500);
    let answer = env.get(&format!("/{SOURCE}/colours"), ACME).await;
    assert_eq!(answer.code(), 100);
    let answer = env.post(&format!("/{SOURCE}/colours"), ACME, &[]).await;
    assert_eq!(answer.error()["error_subcode"], 33);
}

#[tokio::test]
async fn full_migration() {
    let env = env().await;
    // Step 2: start the migration.
    let answer = env.initiate(DEST, "6315550101").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let object = answer.body.as_object().unwrap();
    assert_eq!(object.len(), 1);
    let id = answer.body["id"].as_str().unwrap().to_owned();
    assert!(id.bytes().all(|b| b.is_ascii_digit()));
    let node = env.get(&format!("/{id}?fields=code_verification_status,status,platform_type"), ACME).await;
    assert_eq!(
        node.body,
        json!({"code_verification_status": "NOT_VERIFIED", "status": "PENDING", "platform_type": "NOT_APPLICABLE", "id": id})
    );
    assert!(ids(&env.get(&format!("/{DEST}/phone_numbers"), ACME).await.body).contains(&id));
    assert!(
        ids(&env.get(&format!("/{SOURCE}/phone_numbers"), ACME).await.body)
            .contains(&"106540352242922".to_owned())
    );

    // Step 3: a code goes to the outbox, named by the number's digits.
    let answer = env
        .post_json(&format!("/{id}/request_code"), ACME, json!({"code_method": "VOICE", "language": "en_US"}))
        .await;
    assert_eq!(answer.body, json!({"success": true}));
    let code = env.code_for("16315550101");
    assert_eq!(code.len(), 6);
    assert_eq!(env.handle.outbox_path("+1 631-555-0101"), env.outbox.path().join("16315550101"));

    // Step 4: verify, as multipart like Meta's `curl -F` example.
    let boundary = "sandboxboundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"code\"\r\n\r\n{code}\r\n--{boundary}--\r\n"
    );
    let answer = env
        .send(
            env.client
                .post(env.url(&format!("/{id}/verify_code")))
                .bearer_auth(ACME)
                .header("content-type", format!("multipart/form-data; boundary={boundary}"))
                .body(body),
        )
        .await;
    assert_eq!(answer.body, json!({"success": true}));
    // The source no longer lists the number; its old node is gone.
    assert!(
        !ids(&env.get(&format!("/{SOURCE}/phone_numbers"), ACME).await.body)
            .contains(&"106540352242922".to_owned())
    );
    assert_eq!(env.get("/106540352242922", ACME).await.error()["error_subcode"], 33);
    let node = env
        .get(&format!("/{id}?fields=code_verification_status,quality_rating,messaging_limit_tier"), ACME)
        .await;
    assert_eq!(node.body["code_verification_status"], "VERIFIED");
    assert_eq!(node.body["quality_rating"], "GREEN");
    assert_eq!(node.body["messaging_limit_tier"], "TIER_10K");

    // Step 5: register; this number's display name is not ready the first time.
    let register = json!({"messaging_product": "whatsapp", "pin": "246810"});
    let answer = env.post_json(&format!("/{id}/register"), ACME, register.clone()).await;
    assert_graph_error(&answer);
    assert_eq!(answer.code(), 100);
    assert_eq!(answer.error()["error_subcode"], 2388001);
    assert_eq!(answer.error()["error_user_title"], "Cannot Create Certificate");
    let answer = env.post_json(&format!("/{id}/register"), ACME, register).await;
    assert_eq!(answer.body, json!({"success": true}));
    let node = env.get(&format!("/{id}?fields=status,platform_type,is_pin_enabled,throughput"), ACME).await;
    assert_eq!(
        node.body,
        json!({"status": "CONNECTED", "platform_type": "CLOUD_API", "is_pin_enabled": true, "throughput": {"level": "STANDARD"}, "id": id})
    );
    let snapshot = env.handle.number(&id).unwrap();
    assert_eq!(snapshot.status, NumberStatus::Connected);
    assert_eq!(snapshot.register_attempts, 2);

    // Templates were duplicated as far as the destination's limit allows.
    let templates = env
        .get(&format!("/{DEST}/message_templates?fields=name,language,status,quality_score&limit=100"), ACME)
        .await
        .body;
    let listed: Vec<String> = templates["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            format!(
                "{}/{}/{}/{}",
                t["name"].as_str().unwrap(),
                t["language"].as_str().unwrap(),
                t["status"].as_str().unwrap(),
                t["quality_score"]["score"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            "welcome_message/en_US/APPROVED/GREEN",
            "shipping_update/en_US/APPROVED/GREEN",
            "order_confirmation/en_US/APPROVED/UNKNOWN",
            "order_confirmation/es_ES/APPROVED/UNKNOWN",
            "spring_sale/en_US/REJECTED/UNKNOWN",
        ]
    );
    let report = &env.handle.template_reports()[0];
    let left_out: Vec<&str> = report.left_out_for_limit.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(left_out, ["delivery_reminder", "login_code"]);
    assert!(
        env.handle
            .templates(DEST)
            .iter()
            .any(|t| t.name == "spring_sale" && t.status == TemplateStatus::Rejected)
    );
    // Filters on the templates edge.
    let rejected =
        env.get(&format!("/{DEST}/message_templates?status=REJECTED&fields=name"), ACME).await.body;
    assert_eq!(rejected["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn eligibility_failures_carry_metas_codes_and_texts() {
    let env = env().await;
    let cases = [
        (DEST, "6315550104", 2388103, "Display name not approved"),
        (DEST, "6315550105", 2388103, "Two-step verification enabled"),
        (DEST, "6315550106", 2388103, "Test numbers can't be migrated"),
        (DEST, "6315550107", 2388103, "Display name change pending"),
        (DEST, "6315550108", 2388103, "Number in use with the WhatsApp Business app"),
        (DEST, "6315550109", 2494100, "Phone number in maintenance mode"),
        (DEST, "6315550177", 2388103, "Phone number can be added directly"),
        (DEST, "6315550150", 2388103, "Source account not set up correctly"),
        ("105000000000001", "6315550102", 2388103, "No payment method"),
        (NO_WEBHOOKS, "6315550102", 2388103, "Webhooks not set up"),
        ("105000000000003", "6315550102", 2388103, "Destination account not approved"),
    ];
    for (dest, national, code, title) in cases {
        let answer = env.initiate(dest, national).await;
        assert_graph_error(&answer);
        assert_eq!(answer.status, 400);
        assert_eq!(answer.code(), code, "{national}");
        assert_eq!(answer.error()["message"], format!("(#{code}) {title}"));
        assert_eq!(answer.error()["error_user_title"], title);
        assert!(answer.error()["error_user_msg"].is_string());
        assert!(answer.error()["error_data"]["details"].is_string());
    }
    let answer = env
        .post(
            &format!("/{DEST}/phone_numbers"),
            ACME,
            &[("cc", "44"), ("phone_number", "2079460958"), ("migrate_phone_number", "true")],
        )
        .await;
    assert_eq!(answer.error()["error_user_title"], "Phone number belongs to a different business");
    // Nothing was created by any of these.
    assert_eq!(ids(&env.get(&format!("/{DEST}/phone_numbers"), ACME).await.body).len(), 1);
}

#[tokio::test]
async fn duplicate_and_repeated_initiation() {
    let env = env().await;
    let id = env.initiate(DEST, "6315550102").await.body["id"].clone();
    let again = env.initiate(DEST, "6315550102").await;
    assert_eq!(again.code(), 100);
    assert_eq!(again.error()["error_user_title"], "Duplicate phone number");
    // The way to recover: the id is in the destination's phone_numbers.
    let listed = env.get(&format!("/{DEST}/phone_numbers?fields=id,display_phone_number"), ACME).await.body;
    assert!(
        listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["id"] == id && n["display_phone_number"] == "+1 631-555-0102")
    );
    let code = {
        env.post(
            &format!("/{}/request_code", id.as_str().unwrap()),
            ACME,
            &[("code_method", "SMS"), ("language", "en_US")],
        )
        .await;
        env.code_for("16315550102")
    };
    env.post(&format!("/{}/verify_code", id.as_str().unwrap()), ACME, &[("code", &code)]).await;
    assert_eq!(env.initiate(DEST, "6315550102").await.code(), 2388012);
    let answer = env
        .post(
            &format!("/{}/request_code", id.as_str().unwrap()),
            ACME,
            &[("code_method", "SMS"), ("language", "en_US")],
        )
        .await;
    assert_eq!(answer.code(), 136024);
}

#[tokio::test]
async fn ownership_verification_needs_a_migration() {
    let env = env().await;
    let answer = env
        .post("/107000000000001/request_code", ACME, &[("code_method", "SMS"), ("language", "en_US")])
        .await;
    assert_eq!(answer.code(), 2388091);
    let answer = env.post("/107000000000001/verify_code", ACME, &[("code", "123456")]).await;
    assert_eq!(answer.code(), 2388093);
    let answer = env
        .post("/107000000000001/request_code", ACME, &[("code_method", "EMAIL"), ("language", "en_US")])
        .await;
    assert_eq!(answer.code(), 100);
    assert_eq!(
        answer.error()["message"],
        "(#100) Param code_method must be one of {SMS, VOICE} - got \"EMAIL\""
    );
}

#[tokio::test]
async fn wrong_expired_and_locked_codes() {
    let env = env().await;
    let id = env.initiate(DEST, "6315550102").await.body["id"].as_str().unwrap().to_owned();
    let request = [("code_method", "SMS"), ("language", "en_US")];
    env.post(&format!("/{id}/request_code"), ACME, &request).await;
    let expired = env.code_for("16315550102");
    env.handle.advance_clock(Duration::from_secs(11 * 60));
    let answer = env.post(&format!("/{id}/verify_code"), ACME, &[("code", &expired)]).await;
    assert_graph_error(&answer);
    assert_eq!(answer.code(), 100);
    assert_eq!(answer.error()["error_user_title"], "Verification Code Expired");

    env.post(&format!("/{id}/request_code"), ACME, &request).await;
    let code = env.code_for("16315550102");
    let wrong = if code == "000000" { "000001" } else { "000000" };
    for _ in 0..5 {
        let answer = env.post(&format!("/{id}/verify_code"), ACME, &[("code", wrong)]).await;
        assert_eq!(answer.error()["error_user_title"], "Verification Failed");
    }
    let answer = env.post(&format!("/{id}/verify_code"), ACME, &[("code", &code)]).await;
    assert_graph_error(&answer);
    assert_eq!(answer.status, 429);
    assert_eq!((answer.code(), answer.error()["error_subcode"].as_i64()), (4, Some(2446079)));
    env.handle.advance_clock(Duration::from_secs(3600));
    env.post(&format!("/{id}/request_code"), ACME, &request).await;
    let code = env.code_for("16315550102");
    let answer = env.post(&format!("/{id}/verify_code"), ACME, &[("code", &code)]).await;
    assert_eq!(answer.body, json!({"success": true}));
}

#[tokio::test]
async fn register_errors_and_the_72_hour_limit() {
    let world = EXAMPLE.replace("register_failures: 1", "register_failures: 12");
    let env = env_with(&world, |_| {}).await;
    let id = env.initiate(DEST, "6315550101").await.body["id"].as_str().unwrap().to_owned();
    let register = |pin: &'static str| json!({"messaging_product": "whatsapp", "pin": pin});
    let answer = env.post_json(&format!("/{id}/register"), ACME, register("123456")).await;
    assert_eq!(answer.code(), 133006);
    let answer = env.post_json(&format!("/{id}/register"), ACME, register("12345")).await;
    assert_eq!(answer.code(), 100);
    assert!(answer.error()["message"].as_str().unwrap().contains("pin"));
    let answer = env.post_json(&format!("/{id}/register"), ACME, json!({"pin": "123456"})).await;
    assert_eq!(answer.error()["message"], "(#100) The parameter messaging_product is required");

    env.post(&format!("/{id}/request_code"), ACME, &[("code_method", "SMS"), ("language", "en_US")]).await;
    let code = env.code_for("16315550101");
    env.post(&format!("/{id}/verify_code"), ACME, &[("code", &code)]).await;
    // 1 (133006) + 9 certificate failures = 10 attempts in the window.
    for _ in 0..9 {
        let answer = env.post_json(&format!("/{id}/register"), ACME, register("123456")).await;
        assert_eq!(answer.error()["error_subcode"], 2388001);
    }
    let answer = env.post_json(&format!("/{id}/register"), ACME, register("123456")).await;
    assert_graph_error(&answer);
    assert_eq!(answer.code(), 133016);
    env.handle.advance_clock(Duration::from_secs(72 * 3600));
    let answer = env.post_json(&format!("/{id}/register"), ACME, register("123456")).await;
    assert_eq!(answer.error()["error_subcode"], 2388001);
}

#[tokio::test]
async fn partners_and_permissions() {
    let env = env().await;
    let answer = env.get(&format!("/{DEST}"), INITECH).await;
    assert_eq!((answer.code(), answer.error()["error_subcode"].as_i64()), (100, Some(33)));
    let answer = env.get(&format!("/{DEST}/phone_numbers"), INITECH).await;
    assert_eq!(answer.error()["error_subcode"], 33);
    let answer = env.get("/208000000000001", ACME).await;
    assert_eq!(answer.error()["error_subcode"], 33);
    assert_eq!(env.get("/208000000000001", INITECH).await.status, 200);

    let answer = env
        .post(
            &format!("/{DEST}/phone_numbers"),
            READ_ONLY,
            &[("cc", "1"), ("phone_number", "6315550102"), ("migrate_phone_number", "true")],
        )
        .await;
    assert_graph_error(&answer);
    assert_eq!((answer.status.as_u16(), answer.code()), (403, 200));

    let id = env.migrate(DEST, "6315550102").await;
    let answer = env
        .post_json(
            &format!("/{id}/register"),
            "sandbox-token-acme-no-messaging",
            json!({"messaging_product": "whatsapp", "pin": "123456"}),
        )
        .await;
    assert_eq!(answer.code(), 200);
}

#[tokio::test]
async fn parameters_in_query_form_json_and_access_token() {
    let env = env().await;
    let id = env.initiate(DEST, "6315550102").await.body["id"].as_str().unwrap().to_owned();
    let url = env.url(&format!("/{id}/request_code"));
    // Query string, with the token as a parameter.
    let answer = env
        .send(env.client.post(&url).query(&[
            ("code_method", "SMS"),
            ("language", "en_US"),
            ("access_token", ACME),
        ]))
        .await;
    assert_eq!(answer.body, json!({"success": true}));
    // Form body with the token in it.
    let answer = env
        .send(env.client.post(&url).form(&[
            ("code_method", "SMS"),
            ("language", "en_US"),
            ("access_token", ACME),
        ]))
        .await;
    assert_eq!(answer.body, json!({"success": true}));
    // JSON with a boolean, as Meta's OpenAPI examples send it.
    let answer = env
        .post_json(
            &format!("/{DEST}/phone_numbers"),
            ACME,
            json!({"cc": "1", "phone_number": "6315550103", "migrate_phone_number": true}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    // Missing parameters are named.
    let answer = env.post(&format!("/{id}/request_code"), ACME, &[("language", "en_US")]).await;
    assert_eq!(answer.error()["message"], "(#100) The parameter code_method is required");
    let answer = env
        .send(
            env.client
                .post(&url)
                .bearer_auth(ACME)
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await;
    assert_eq!(answer.code(), 100);
}

#[tokio::test]
async fn appsecret_proof_is_required_when_the_app_has_a_secret() {
    let world = EXAMPLE.replace(
        "  name: wamig sandbox app\n\nbusinesses",
        "  name: wamig sandbox app\n  secret: s3cr3t-app-secret\n\nbusinesses",
    );
    let env = env_with(&world, |_| {}).await;
    let answer = env.get(&format!("/{SOURCE}"), ACME).await;
    assert_graph_error(&answer);
    assert_eq!(answer.code(), 100);
    assert_eq!(answer.error()["message"], "API calls from the server require an appsecret_proof argument");
    let answer = env.get(&format!("/{SOURCE}?appsecret_proof=00ff"), ACME).await;
    assert_eq!(answer.error()["message"], "Invalid appsecret_proof provided in the API argument");
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"s3cr3t-app-secret");
    let proof: String =
        ring::hmac::sign(&key, ACME.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect();
    let answer = env.get(&format!("/{SOURCE}?appsecret_proof={proof}"), ACME).await;
    assert_eq!(answer.status, 200);
    // In a form body as well.
    let answer = env.post(&format!("/{DEST}/subscribed_apps"), ACME, &[("appsecret_proof", &proof)]).await;
    assert_eq!(answer.body, json!({"success": true}));
}

#[tokio::test]
async fn rate_limit_80008_with_usage_headers() {
    let world = EXAMPLE.replace("calls_per_hour: 200", "calls_per_hour: 5");
    let env = env_with(&world, |_| {}).await;
    let waba = "105000000000001";
    for n in 1..=5u64 {
        let answer = env.get(&format!("/{waba}"), ACME).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.usage()[waba][0]["call_count"], n * 20);
    }
    let answer = env.get(&format!("/{waba}/phone_numbers"), ACME).await;
    assert_graph_error(&answer);
    assert_eq!(answer.status, 429);
    assert_eq!(answer.code(), 80008);
    assert_eq!(answer.error()["is_transient"], true);
    let usage = answer.usage();
    assert_eq!(usage[waba][0]["call_count"], 100);
    assert_eq!(usage[waba][0]["estimated_time_to_regain_access"], 60);
    // Other WABAs are not affected.
    assert_eq!(env.get(&format!("/{DEST}"), ACME).await.status, 200);
    env.handle.advance_clock(Duration::from_secs(3600));
    assert_eq!(env.get(&format!("/{waba}"), ACME).await.status, 200);
}

#[tokio::test]
async fn injected_server_errors_throttling_and_latency() {
    let env = env().await;
    env.handle.set_faults(Faults { error_rate: 1.0, ..Faults::default() });
    for _ in 0..4 {
        let answer = env.get(&format!("/{SOURCE}"), ACME).await;
        assert_graph_error(&answer);
        assert!(answer.status.is_server_error());
        assert!(matches!(answer.code(), 1 | 2));
        assert_eq!(answer.error()["is_transient"], true);
    }
    env.handle.set_faults(Faults { throttle_burst: 2, ..Faults::default() });
    for _ in 0..2 {
        let answer = env.get(&format!("/{SOURCE}"), ACME).await;
        assert_eq!(answer.code(), 80008);
        assert_eq!(answer.usage()[SOURCE][0]["estimated_time_to_regain_access"], 0);
    }
    assert_eq!(env.get(&format!("/{SOURCE}"), ACME).await.status, 200);
    assert_eq!(env.handle.faults().throttle_burst, 0);

    env.handle.set_faults(Faults { latency: Duration::from_millis(150), ..Faults::default() });
    let started = Instant::now();
    assert_eq!(env.get(&format!("/{SOURCE}"), ACME).await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
    let faults: Vec<Option<String>> = env.handle.requests().iter().map(|r| r.fault.clone()).collect();
    assert_eq!(faults.iter().filter(|f| f.as_deref() == Some("server_error")).count(), 4);
    assert_eq!(faults.iter().filter(|f| f.as_deref() == Some("throttle")).count(), 2);
}

#[tokio::test]
async fn dropped_connections_before_and_after_the_write() {
    let env = env().await;
    let initiate = || {
        env.client
            .post(env.url(&format!("/{DEST}/phone_numbers")))
            .bearer_auth(ACME)
            .form(&[("cc", "1"), ("phone_number", "6315550102"), ("migrate_phone_number", "true")])
            .send()
    };
    env.handle.set_faults(Faults { drop_rate: 1.0, drop_phase: DropPhase::BeforeWrite, ..Faults::default() });
    assert!(initiate().await.is_err(), "the connection must close without an answer");
    env.handle.set_faults(Faults::default());
    assert_eq!(env.handle.numbers_for_phone("+16315550102").len(), 1, "nothing applied");

    env.handle.set_faults(Faults { drop_rate: 1.0, drop_phase: DropPhase::AfterWrite, ..Faults::default() });
    assert!(initiate().await.is_err());
    env.handle.set_faults(Faults::default());
    // The write happened: re-reading the destination shows the new node.
    let nodes = env.handle.numbers_for_phone("+16315550102");
    assert_eq!(nodes.len(), 2);
    let listed = ids(&env.get(&format!("/{DEST}/phone_numbers"), ACME).await.body);
    assert!(listed.contains(&nodes[1].id));
    // Retrying the POST now says the migration is pending.
    let answer = env.initiate(DEST, "6315550102").await;
    assert_eq!(answer.error()["error_user_title"], "Duplicate phone number");
    let logged: Vec<_> = env.handle.requests().into_iter().filter(|r| r.fault.is_some()).collect();
    assert_eq!(logged.len(), 2);
    assert_eq!(logged[0].fault.as_deref(), Some("drop_before_write"));
    assert_eq!(logged[1].fault.as_deref(), Some("drop_after_write"));
    assert!(logged.iter().all(|r| r.status.is_none()));

    // Reads are dropped too.
    env.handle.set_faults(Faults { drop_rate: 1.0, ..Faults::default() });
    assert!(env.client.get(env.url(&format!("/{SOURCE}"))).bearer_auth(ACME).send().await.is_err());
}

#[tokio::test]
async fn request_log_redacts_secrets() {
    let log_dir = tempfile::tempdir().unwrap();
    let log_path = log_dir.path().join("requests.jsonl");
    let path = log_path.clone();
    let env = env_with(EXAMPLE, move |options| options.request_log = Some(path)).await;
    let id = env.migrate(DEST, "6315550102").await;
    let answer = env
        .send(env.client.post(env.url(&format!("/{id}/register"))).form(&[
            ("messaging_product", "whatsapp"),
            ("pin", "975310"),
            ("access_token", ACME),
        ]))
        .await;
    assert_eq!(answer.body, json!({"success": true}));

    let requests = env.handle.requests();
    assert_eq!(requests.len(), env.handle.request_count());
    let register = requests.last().unwrap();
    assert_eq!(register.method, "POST");
    assert_eq!(register.path, format!("/v23.0/{id}/register"));
    assert_eq!(register.auth, "parameter");
    assert_eq!(register.params["pin"], "<redacted>");
    assert_eq!(register.params["access_token"], "<redacted>");
    assert_eq!(register.params["messaging_product"], "whatsapp");
    assert_eq!(register.status, Some(200));
    let verify = requests.iter().find(|r| r.path.ends_with("verify_code")).unwrap();
    assert_eq!(verify.params["code"], "<redacted>");
    let initiate = &requests[0];
    assert_eq!(initiate.params["phone_number"], "6315550102");

    let text = std::fs::read_to_string(&log_path).unwrap();
    assert_eq!(text.lines().count(), requests.len());
    let code = env.code_for("16315550102");
    for secret in [ACME, "975310", code.as_str()] {
        assert!(!text.contains(secret), "the log must not contain {secret}");
    }
    let inspected = env.handle.inspect().to_string();
    for secret in [ACME, "975310", code.as_str()] {
        assert!(!inspected.contains(secret));
    }
    let failed = env.get("/106540352242923", ACME).await;
    assert_eq!(failed.status, 400);
    let last = env.handle.requests().pop().unwrap();
    assert_eq!((last.error_code, last.error_subcode), (Some(100), Some(33)));
}

#[tokio::test]
async fn admin_endpoints() {
    let env = env().await;
    let base = env.handle.base_url();
    env.get(&format!("/{SOURCE}"), ACME).await;
    let requests: Value =
        env.client.get(format!("{base}/_sandbox/requests")).send().await.unwrap().json().await.unwrap();
    assert_eq!(requests.as_array().unwrap().len(), 1);

    let before = env.handle.now();
    let clock: Value = env
        .client
        .post(format!("{base}/_sandbox/clock"))
        .json(&json!({"advance_seconds": 7200}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(clock["offset_seconds"], 7200);
    assert!(env.handle.now().duration_since(before).as_secs() >= 7200);

    let faults: Value = env
        .client
        .post(format!("{base}/_sandbox/faults"))
        .json(&json!({"throttle_burst": 1, "latency": "10ms"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(faults["throttle_burst"], 1);
    assert_eq!(faults["latency_ms"], 10);
    assert_eq!(env.get(&format!("/{SOURCE}"), ACME).await.code(), 80008);
    let bad = env
        .client
        .post(format!("{base}/_sandbox/faults"))
        .json(&json!({"error_rate": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    let state: Value =
        env.client.get(format!("{base}/_sandbox/state")).send().await.unwrap().json().await.unwrap();
    assert!(state["wabas"].as_array().unwrap().iter().any(|w| w["id"] == DEST));
    // Admin calls are not Graph calls: not logged, not faulted.
    assert_eq!(env.handle.request_count(), 2);
}

#[tokio::test]
async fn token_introspection() {
    let env = env().await;
    let answer = env.get(&format!("/debug_token?input_token={ACME}"), ACME).await;
    let data = &answer.body["data"];
    assert_eq!(data["is_valid"], true);
    assert_eq!(data["app_id"], "100000000000001");
    assert_eq!(data["type"], "SYSTEM_USER");
    assert_eq!(data["scopes"], json!(["whatsapp_business_management", "whatsapp_business_messaging"]));
    let granular = data["granular_scopes"].as_array().unwrap();
    assert!(granular.iter().all(|g| g["scope"].is_string() && g["target_ids"].is_array()));
    let answer = env.get("/debug_token", ACME).await;
    assert_eq!(answer.error()["message"], "(#100) The parameter input_token is required");

    let answer = env.get("/me/permissions", "sandbox-token-acme-no-messaging").await;
    assert_eq!(
        answer.body,
        json!({"data": [{"permission": "whatsapp_business_management", "status": "granted"}]})
    );
    let me = env.get("/me", ACME).await;
    assert_eq!(me.body["id"], "122100000000001");
}

#[tokio::test]
async fn webhooks_subscription_unblocks_a_destination() {
    let env = env().await;
    assert_eq!(env.get(&format!("/{NO_WEBHOOKS}/subscribed_apps"), ACME).await.body, json!({"data": []}));
    let answer = env.post(&format!("/{NO_WEBHOOKS}/subscribed_apps"), ACME, &[]).await;
    assert_eq!(answer.body, json!({"success": true}));
    let apps = env.get(&format!("/{NO_WEBHOOKS}/subscribed_apps"), ACME).await.body;
    assert_eq!(apps["data"][0]["whatsapp_business_api_data"]["id"], "100000000000001");
    assert_eq!(env.initiate(NO_WEBHOOKS, "6315550102").await.status, 200);
    let answer = env
        .send(
            env.client
                .request(Method::DELETE, env.url(&format!("/{NO_WEBHOOKS}/subscribed_apps")))
                .bearer_auth(ACME),
        )
        .await;
    assert_eq!(answer.body, json!({"success": true}));
}

#[tokio::test]
async fn the_binary_serves_until_stopped() {
    use std::io::BufRead as _;

    let _ = rustls::crypto::ring::default_provider().install_default();
    let outbox = tempfile::tempdir().unwrap();
    let world = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sandbox/world.yaml");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wamig"))
        .args(["sandbox", "--world", world, "--listen", "127.0.0.1:0", "--outbox"])
        .arg(outbox.path())
        .args(["--latency", "1ms", "--seed", "9"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(stdout).read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("wamig sandbox listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"), "{url}");
    let response = reqwest::Client::new()
        .get(format!("{url}/v23.0/{DEST}?fields=name"))
        .bearer_auth(ACME)
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"name": "acme-cloud", "id": DEST}));
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn the_binary_explains_a_broken_world() {
    let dir = tempfile::tempdir().unwrap();
    let world = dir.path().join("world.yaml");
    std::fs::write(&world, "wabas:\n  - id: \"1\"\n    nmae: x\n").unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wamig"))
        .args(["sandbox", "--world"])
        .arg(&world)
        .args(["--outbox"])
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("nmae"), "{stderr}");
    assert!(stderr.contains("world.yaml:3:"), "{stderr}");
    assert!(stderr.contains("hint:"), "{stderr}");
}

#[tokio::test]
async fn admin_changes_like_whatsapp_manager() {
    let env = env().await;
    let base = env.handle.base_url();
    assert_eq!(env.initiate(DEST, "6315550105").await.code(), 2388103);
    let changed: Value = env
        .client
        .post(format!("{base}/_sandbox/numbers/16315550105"))
        .json(&json!({"is_pin_enabled": false}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(changed["is_pin_enabled"], false);
    assert_eq!(env.initiate(DEST, "6315550105").await.status, 200);

    let response = env
        .client
        .post(format!("{base}/_sandbox/wabas/105000000000001"))
        .json(&json!({"primary_funding_id": "5550000000000099"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(env.initiate("105000000000001", "6315550102").await.status, 200);

    let response = env
        .client
        .post(format!("{base}/_sandbox/numbers/16315550102"))
        .json(&json!({"pin_enabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn admin_degrades_a_number_and_moves_it_away() {
    let env = env().await;
    let base = env.handle.base_url();
    let admin =
        |path: &str, body: Value| env.client.post(format!("{base}/_sandbox/{path}")).json(&body).send();
    let fields = "/107000000000001?fields=messaging_limit_tier,health_status,status";
    let before = env.get(fields, ACME).await;
    assert_eq!(before.body["health_status"]["can_send_message"], "AVAILABLE", "{}", before.body);
    let entities = before.body["health_status"]["entities"].as_array().unwrap();
    let kinds: Vec<&str> = entities.iter().map(|e| e["entity_type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["PHONE_NUMBER", "WABA", "BUSINESS", "APP"]);

    let blocked = json!({"can_send_message": "BLOCKED", "entity_type": "WABA", "errors": [{
        "error_code": 141006,
        "error_description": "There is an error with the payment method.",
        "possible_solution": "Please add a new payment method to the account."
    }]});
    let response =
        admin("numbers/16315550199", json!({"messaging_limit_tier": "TIER_250", "health_status": blocked}))
            .await
            .unwrap();
    assert_eq!(response.status(), 200);
    let after = env.get(fields, ACME).await.body;
    assert_eq!(after["messaging_limit_tier"], "TIER_250");
    assert_eq!(after["health_status"]["can_send_message"], "BLOCKED");
    assert_eq!(after["health_status"]["entities"][1]["id"], DEST);
    assert_eq!(after["health_status"]["entities"][1]["errors"][0]["error_code"], 141006);

    let response = admin(&format!("wabas/{DEST}"), json!({"subscribed_apps": []})).await.unwrap();
    assert_eq!(response.status(), 200);
    let apps = env.get(&format!("/{DEST}/subscribed_apps"), ACME).await.body;
    assert_eq!(apps["data"], json!([]));

    // Someone moves it to another WABA of the business: a new node there, gone from here.
    let moved: Value = admin("numbers/107000000000001", json!({"move_to": "105000000000001"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(moved["waba_id"], "105000000000001", "{moved}");
    assert_ne!(moved["id"], "107000000000001");
    let listed = env.get(&format!("/{DEST}/phone_numbers"), ACME).await.body;
    assert!(!listed.to_string().contains("6315550199"), "{listed}");
    let there = env
        .get("/105000000000001/phone_numbers?fields=display_phone_number,code_verification_status", ACME)
        .await;
    assert_eq!(there.body["data"][0]["code_verification_status"], "VERIFIED", "{}", there.body);

    let refused =
        admin("numbers/16315550101", json!({"quality_rating": "RED", "move_to": "999"})).await.unwrap();
    assert_eq!(refused.status(), 404);
    assert_eq!(refused.json::<Value>().await.unwrap()["error"], "move_to: no WABA \"999\"");
    let untouched = env.get("/106540352242922?fields=quality_rating", ACME).await.body;
    assert_eq!(untouched["quality_rating"], "GREEN", "a refused move changes nothing");
    let refused = admin(&format!("wabas/{DEST}"), json!({"subscribed_apps": [{"id": "app", "name": "x"}]}))
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
}

#[tokio::test]
async fn batch_requests_answer_each_request_and_keep_secrets_out_of_the_log() {
    let env = env().await;
    let batch = json!([
        {"method": "GET", "relative_url": format!("debug_token?input_token={ACME}")},
        {"method": "GET", "relative_url": format!("v22.0/{DEST}?fields=name")},
        {"method": "GET", "relative_url": "201000000000001"},
        {"method": "POST", "relative_url": "107000000000001/register", "body": "messaging_product=whatsapp&pin=975310"},
    ])
    .to_string();
    let answer = env.post("/", ACME, &[("batch", batch.as_str()), ("include_headers", "false")]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let items = answer.body.as_array().unwrap();
    assert_eq!(items.len(), 4);
    let body = |i: usize| -> Value { serde_json::from_str(items[i]["body"].as_str().unwrap()).unwrap() };
    assert_eq!(items[0]["code"], 200);
    assert!(items[0].get("headers").is_none());
    assert_eq!(body(0)["data"]["is_valid"], true);
    assert_eq!(body(1), json!({"name": "acme-cloud", "id": DEST}));
    // A failing request fails only its own entry, with Graph's envelope.
    assert_eq!(items[2]["code"], 400);
    assert_eq!(
        (body(2)["error"]["code"].as_i64(), body(2)["error"]["error_subcode"].as_i64()),
        (Some(100), Some(33))
    );
    // Writes run too (a number registered before may register again with a PIN).
    assert_eq!(body(3), json!({"success": true}));

    let with_headers = env.post("/", ACME, &[("batch", r#"[{"method":"GET","relative_url":"me"}]"#)]).await;
    assert!(with_headers.body[0]["headers"].is_array());
    // Not nested, not unbounded, not without a token.
    let nested = json!([{"method": "POST", "relative_url": "/", "body": "batch=[]"}]).to_string();
    let answer = env.post("/", ACME, &[("batch", nested.as_str())]).await;
    assert_eq!(answer.body[0]["code"], 400);
    let answer = env.post("/", ACME, &[("batch", "not json")]).await;
    assert_eq!(answer.code(), 100);
    let answer = env.send(env.client.post(env.url("/")).form(&[("batch", batch.as_str())])).await;
    assert_eq!(answer.code(), 104);

    let log = serde_json::to_string(&env.handle.requests()).unwrap();
    for secret in [ACME, "975310"] {
        assert!(!log.contains(secret), "{secret} in {log}");
    }
    assert!(log.contains("input_token=<redacted>") && log.contains("pin=<redacted>"), "{log}");
}

#[tokio::test]
async fn a_hold_keeps_one_request_until_released_while_others_pass() {
    let env = env().await;
    let base = env.handle.base_url();
    let admin = |path: &str| format!("{base}/_sandbox/{path}");
    let added: Value = env
        .client
        .post(admin("holds"))
        .json(&json!({"method": "post", "path": format!("/{DEST}/phone_numbers")}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = added["id"].as_u64().unwrap();
    let bad = env.client.post(admin("holds")).json(&json!({"method": "POST"})).send().await.unwrap();
    assert_eq!(bad.status(), 400);

    let first = env.initiate(DEST, "6315550102");
    tokio::pin!(first);
    let waiting = async {
        loop {
            let holds: Value = env.client.get(admin("holds")).send().await.unwrap().json().await.unwrap();
            if holds[0]["waiting"] == true {
                return holds;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    let holds = tokio::select! {
        holds = waiting => holds,
        _ = &mut first => panic!("the held request was answered"),
    };
    assert_eq!(
        holds,
        json!([{"id": id, "method": "POST", "path": format!("/{DEST}/phone_numbers"), "waiting": true}])
    );
    assert_eq!(env.handle.request_count(), 0, "held, so not handled nor logged yet");

    // Another request on the same path passes: a hold catches one request.
    let other = env.initiate(DEST, "6315550102").await;
    assert_eq!(other.status, 200, "{}", other.body);
    let released = env.client.post(admin(&format!("holds/{id}/release"))).send().await.unwrap();
    assert_eq!(released.status(), 200);
    let held = first.await;
    assert_eq!(held.error()["error_user_title"], "Duplicate phone number", "handled after the other");
    let log = env.handle.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[1].error_code, Some(100));
    assert!(env.handle.holds().is_empty());
    let again = env.client.post(admin(&format!("holds/{id}/release"))).send().await.unwrap();
    assert_eq!(again.status(), 404);
}

/// Graph behaviours beyond the documentation, switched on over HTTP.
mod behaviour;
