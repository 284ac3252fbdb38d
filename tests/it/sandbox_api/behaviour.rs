//! The sandbox's Graph behaviours beyond the documentation over HTTP, switched on through the
//! admin API as a rehearsal against a separate sandbox process would: read lag, verified on
//! migration, fields refused to a token, on-behalf-of ownership, injected refusals, and a source
//! that keeps the number until the destination registers it.

use super::*;

impl Env {
    async fn admin(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let url = format!("{}/_sandbox/{path}", self.handle.base_url());
        let response = self.client.post(url).json(&body).send().await.unwrap();
        (response.status(), response.json().await.unwrap())
    }

    async fn admin_get(&self, path: &str) -> Value {
        let url = format!("{}/_sandbox/{path}", self.handle.base_url());
        self.client.get(url).send().await.unwrap().json().await.unwrap()
    }
}

#[tokio::test]
async fn read_lag_hides_writes_until_the_clock_passes_it() {
    let env = env().await;
    assert_eq!(env.admin_get("options").await["read_lag_ms"], 0);
    let (status, options) = env.admin("options", json!({"read_lag": "5m"})).await;
    assert_eq!(status, 200, "{options}");
    assert_eq!(options["read_lag_ms"], 300_000);

    let answer = env.initiate(DEST, "6315550102").await;
    let id = answer.body["id"].as_str().unwrap().to_owned();
    let read = env.get(&format!("/{id}"), ACME).await;
    assert_eq!((read.code(), read.error()["error_subcode"].as_i64()), (100, Some(33)), "{}", read.body);
    let listing = env.get(&format!("/{DEST}/phone_numbers"), ACME).await;
    assert!(!ids(&listing.body).contains(&id));
    // Writes act on the true state: a code can be asked for the node no read shows.
    let code = env
        .post(&format!("/{id}/request_code"), ACME, &[("code_method", "SMS"), ("language", "en_US")])
        .await;
    assert_eq!(code.body, json!({"success": true}));

    env.admin("clock", json!({"advance_seconds": 300})).await;
    let read = env.get(&format!("/{id}?fields=status"), ACME).await;
    assert_eq!(read.body["status"], "PENDING", "{}", read.body);
    assert!(ids(&env.get(&format!("/{DEST}/phone_numbers"), ACME).await.body).contains(&id));

    let (status, error) = env.admin("options", json!({"read_lag": "soon"})).await;
    assert_eq!(status, 400);
    assert!(error["error"].as_str().unwrap().contains("read_lag"), "{error}");
}

#[tokio::test]
async fn verified_on_migration_still_answers_133006_to_register() {
    let env = env().await;
    let (_, options) = env.admin("options", json!({"verified_on_migration": true})).await;
    assert_eq!(options["verified_on_migration"], true);
    let id = env.initiate(DEST, "6315550102").await.body["id"].as_str().unwrap().to_owned();
    let read = env.get(&format!("/{id}?fields=code_verification_status"), ACME).await;
    assert_eq!(read.body["code_verification_status"], "VERIFIED");
    let register = env
        .post(&format!("/{id}/register"), ACME, &[("messaging_product", "whatsapp"), ("pin", "123456")])
        .await;
    assert_eq!(register.code(), 133006, "{}", register.body);
}

#[tokio::test]
async fn fields_refused_to_a_token_fail_whole_reads_of_every_kind() {
    let env = env().await;
    let body = json!({"refused_fields": ["primary_funding_id"], "refused_field_code": 10});
    let (status, token) = env.admin("tokens/acme-cloud-system-user", body).await;
    assert_eq!(status, 200, "{token}");
    assert_eq!(
        token,
        json!({"name": "acme-cloud-system-user", "user_id": "122100000000001", "refused_fields": ["primary_funding_id"], "refused_field_code": 10})
    );

    let node = env.get(&format!("/{SOURCE}?fields=id,primary_funding_id"), ACME).await;
    assert_graph_error(&node);
    assert_eq!((node.status.as_u16(), node.code()), (403, 10));
    assert!(!node.error()["message"].as_str().unwrap().contains("primary_funding_id"));
    let many = env.get(&format!("/?ids={SOURCE},{DEST}&fields=name,primary_funding_id"), ACME).await;
    assert_eq!(many.code(), 10);
    let batch = json!([{"method": "GET", "relative_url": format!("{DEST}?fields=primary_funding_id")}]);
    let answer = env.post_json("/", ACME, json!({"batch": batch.to_string()})).await;
    assert_eq!(answer.body[0]["code"], 403, "{}", answer.body);
    let without = env.get(&format!("/{SOURCE}?fields=id,name,phone_numbers{{id}}"), ACME).await;
    assert_eq!(without.status, 200, "{}", without.body);

    let (status, error) = env.admin("tokens/nobody", json!({"refused_fields": []})).await;
    assert_eq!(status, 400);
    assert!(error["error"].as_str().unwrap().contains("no token named"), "{error}");
}

#[tokio::test]
async fn migrations_compare_the_businesses_the_wabas_represent() {
    // The destination, Acme Retail's, run on behalf of Initech Foods represents Initech.
    let env = env().await;
    let base = env.handle.base_url();
    let patch = |body: Value| {
        let url = format!("{base}/_sandbox/wabas/{DEST}");
        let client = env.client.clone();
        async move { client.post(url).json(&body).send().await.unwrap().status() }
    };
    assert_eq!(patch(json!({"on_behalf_of_business": "222222222222222"})).await, 200);
    let fields = "ownership_type,on_behalf_of_business_info,owner_business_info";
    let read = env.get(&format!("/{DEST}?fields={fields}"), ACME).await;
    assert_eq!(read.body["ownership_type"], "ON_BEHALF_OF");
    assert_eq!(
        read.body["on_behalf_of_business_info"],
        json!({"id": "222222222222222", "name": "Initech Foods Inc"})
    );
    let refused = env.initiate(DEST, "6315550102").await;
    assert_graph_error(&refused);
    assert_eq!(refused.code(), 2388103);
    assert_eq!(refused.error()["error_user_title"], "Phone number belongs to a different business");

    assert_eq!(patch(json!({"on_behalf_of_business": "111111111111111"})).await, 200);
    assert_eq!(env.initiate(DEST, "6315550102").await.status, 200);
    assert_eq!(patch(json!({"on_behalf_of_business": "999"})).await, 400);
}

#[tokio::test]
async fn injected_refusals_answer_a_write_without_acting_as_often_as_asked() {
    let world = EXAMPLE.replace(
        "    seed: 1\n",
        "    seed: 1\n    refuse:\n      - { operation: initiate_migration, code: 200000, message: \"(#200000) Cannot add phone number to WhatsApp Business Account\", times: 1 }\n",
    );
    let env = env_with(&world, |_| {}).await;
    let refused = env.initiate(DEST, "6315550102").await;
    assert_graph_error(&refused);
    assert_eq!((refused.status.as_u16(), refused.code()), (400, 200000));
    assert_eq!(refused.error()["message"], "(#200000) Cannot add phone number to WhatsApp Business Account");
    assert_eq!(refused.error()["is_transient"], false);
    assert_eq!(env.handle.numbers_for_phone("+16315550102").len(), 1, "nothing was created");
    assert_eq!(env.handle.requests().last().unwrap().fault.as_deref(), Some("refuse"));
    let id = env.initiate(DEST, "6315550102").await.body["id"].as_str().unwrap().to_owned();

    let (status, faults) = env
        .admin(
            "faults",
            json!({"refuse": [{"operation": "request_code", "code": 131000, "subcode": 7, "status": 403}]}),
        )
        .await;
    assert_eq!(status, 200, "{faults}");
    assert_eq!(faults["refuse"][0]["operation"], "request_code");
    for _ in 0..2 {
        let answer = env
            .post(&format!("/{id}/request_code"), ACME, &[("code_method", "SMS"), ("language", "en_US")])
            .await;
        assert_eq!((answer.status.as_u16(), answer.code()), (403, 131000), "{}", answer.body);
        assert_eq!(answer.error()["error_subcode"], 7);
        assert_eq!(answer.error()["message"], "(#131000) The request was refused");
    }
    assert!(!env.outbox.path().join("16315550102").exists(), "no code was sent");
    let (status, error) =
        env.admin("faults", json!({"refuse": [{"operation": "register", "code": 1, "status": 500}]})).await;
    assert_eq!(status, 400, "{error}");
    env.admin("faults", json!({"refuse": []})).await;
    let answer = env
        .post(&format!("/{id}/request_code"), ACME, &[("code_method", "SMS"), ("language", "en_US")])
        .await;
    assert_eq!(answer.body, json!({"success": true}));
}

#[tokio::test]
async fn a_source_keeps_the_number_until_the_destination_registers_it() {
    let env = env().await;
    let (_, options) = env
        .admin("options", json!({"source_keeps_until_registered": true, "migrated_source": "mark_migrated"}))
        .await;
    assert_eq!(
        (options["source_keeps_until_registered"].clone(), options["migrated_source"].clone()),
        (json!(true), json!("mark_migrated"))
    );
    let id = env.migrate(DEST, "6315550102").await;
    let source_status = || async {
        let listing = env.get(&format!("/{SOURCE}/phone_numbers?fields=id,status"), ACME).await;
        listing.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["id"] == "106540352242923")
            .map(|n| n["status"].clone())
    };
    assert_eq!(source_status().await, Some(json!("CONNECTED")));
    let register = env
        .post(&format!("/{id}/register"), ACME, &[("messaging_product", "whatsapp"), ("pin", "123456")])
        .await;
    assert_eq!(register.body, json!({"success": true}));
    assert_eq!(source_status().await, Some(json!("MIGRATED")));
}
