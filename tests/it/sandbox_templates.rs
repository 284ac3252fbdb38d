//! The sandbox's template endpoints over HTTP: `migrate_message_templates` with a form and with a
//! JSON body (as Meta's examples send it), and creation with review on the sandbox clock.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{ACME_TOKEN as ACME, DESTINATION_WABA as DEST, SOURCE_WABA as SOURCE, start_sandbox};

async fn post(
    base: &str,
    path: &str,
    request: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
) -> (u16, Value) {
    let client = reqwest::Client::new();
    let response =
        request(client.post(format!("{base}/v23.0{path}")).bearer_auth(ACME)).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn migrate_message_templates_answers_like_meta_describes() {
    let (sandbox, _outbox) = start_sandbox(wamig::sandbox::EXAMPLE_WORLD, |_| {}).await;
    let base = sandbox.base_url();
    let path = format!("/{DEST}/migrate_message_templates");
    let (status, body) =
        post(&base, &path, |r| r.json(&json!({"source_waba_id": SOURCE, "page_number": 0, "count": 4})))
            .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["migrated_templates"].as_array().unwrap().len(), 3);
    let failed = body["failed_templates"].as_object().unwrap();
    assert_eq!(failed.len(), 1);
    assert!(failed.values().next().unwrap().as_str().unwrap().contains("already exists"));

    // The destination's limit (4) is reached: the next page fails with reasons, by form too.
    let (_, body) =
        post(&base, &path, |r| r.form(&[("source_waba_id", SOURCE), ("page_number", "1"), ("count", "4")]))
            .await;
    let reasons: Vec<&str> =
        body["failed_templates"].as_object().unwrap().values().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(reasons.iter().filter(|r| r.contains("limit of 4")).count(), 2, "{body}");

    let (status, body) =
        post(&base, &path, |r| r.form(&[("source_waba_id", SOURCE), ("page_number", "0"), ("count", "501")]))
            .await;
    assert_eq!((status, body["error"]["code"].as_i64()), (400, Some(100)), "{body}");
    let names: Vec<String> = sandbox.templates(DEST).into_iter().map(|t| t.name).collect();
    assert_eq!(names.len(), 5, "{names:?}");
}

#[tokio::test]
async fn a_created_template_is_reviewed_on_the_sandbox_clock() {
    let (sandbox, _outbox) = start_sandbox(wamig::sandbox::EXAMPLE_WORLD, |_| {}).await;
    let base = sandbox.base_url();
    let components =
        json!([{"type": "BODY", "text": "We are open {{1}}", "example": {"body_text": [["9-5"]]}}]);
    let (status, body) = post(&base, &format!("/{DEST}/message_templates"), |r| {
        r.form(&[
            ("name", "opening_hours"),
            ("language", "en_US"),
            ("category", "UTILITY"),
            ("components", &components.to_string()),
        ])
    })
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "PENDING");
    let status_of =
        || sandbox.templates(DEST).into_iter().find(|t| t.name == "opening_hours").unwrap().status;
    assert_eq!(status_of().as_str(), "PENDING");
    sandbox.advance_clock(Duration::from_secs(60));
    assert_eq!(status_of().as_str(), "APPROVED");
}
