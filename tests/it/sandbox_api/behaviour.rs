//! The sandbox's Graph behaviours beyond the documentation over HTTP, switched on through the
//! admin API as a rehearsal against a separate sandbox process would: read lag, ...

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
