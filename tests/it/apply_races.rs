//! Someone else acting on the number between apply's read and its write (a person in WhatsApp
//! Manager, another tool, a second partner): the migration started meanwhile (Duplicate phone
//! number) or even finished (2388012), the number verified meanwhile (136024 on request_code
//! and on verify_code), the number made unverified before register (133006). The sandbox holds
//! apply's write once it has arrived, the test makes the competing change, then releases it:
//! no timing is involved.

use serde_json::Value;
use wamig::sandbox::{CodeVerificationStatus, NumberPatch};

use crate::apply_support::*;
use crate::support::*;

const ORDERS_E164: &str = "+16315550102";

fn initiate_path() -> String {
    format!("/{DESTINATION_WABA}/phone_numbers")
}

/// A Graph call by the other actor. It sends the token as a parameter, so the request log
/// tells its calls (`auth: parameter`) from apply's (`auth: header`).
fn other(rig: &Rig, path: &str, form: &[(&str, &str)]) -> Value {
    let url = format!("{}/v23.0{path}", rig.sandbox.base_url());
    let mut form: Vec<(&str, &str)> = form.to_vec();
    form.push(("access_token", &rig.token));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let response = reqwest::Client::new().post(&url).form(&form).send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    })
}

/// The other actor starts the migration of +1 631-555-0102; returns the new id.
fn other_initiates(rig: &Rig) -> String {
    let started = other(
        rig,
        &initiate_path(),
        &[("cc", "1"), ("phone_number", "6315550102"), ("migrate_phone_number", "true")],
    );
    started["id"].as_str().unwrap().to_owned()
}

/// The other actor asks for a code and proves ownership with it.
fn other_verifies(rig: &Rig, id: &str) {
    other(rig, &format!("/{id}/request_code"), &[("code_method", "SMS"), ("language", "en_US")]);
    other_verifies_with(rig, id, &rig.sent_code(ORDERS_DIGITS));
}

fn other_verifies_with(rig: &Rig, id: &str, code: &str) {
    other(rig, &format!("/{id}/verify_code"), &[("code", code)]);
}

/// Apply's own POSTs ending with `suffix`, with the error code each got.
fn apply_posts(rig: &Rig, suffix: &str) -> Vec<Option<i64>> {
    rig.sandbox
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.auth == "header" && r.path.ends_with(suffix))
        .map(|r| r.error_code)
        .collect()
}

fn record(rig: &Rig) -> Value {
    rig.journal()["numbers"][ORDERS_E164].clone()
}

fn phone_number_id(rig: &Rig) -> String {
    record(rig)["phone_number_id"].as_str().unwrap().to_owned()
}

#[test]
fn a_migration_started_meanwhile_is_continued_with_its_id() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    let (output, id) = apply_racing(&rig, &initiate_path(), || other_initiates(&rig));

    assert_eq!(output.status.code(), Some(3), "{}", transcript(&output));
    assert_eq!(apply_posts(&rig, &initiate_path()), [Some(100)], "one initiate, answered Duplicate");
    assert_eq!(apply_posts(&rig, &format!("/{id}/request_code")), [None], "the code asked for the found id");
    assert_eq!(rig.sandbox.numbers_for_phone(ORDERS).len(), 2, "the source and one migration");
    let record = record(&rig);
    assert_eq!(record["phone_number_id"], id.as_str());
    assert_eq!(record["code_requests"], 1);
    assert!(record["last_error"].is_null(), "{record}");
    with_filters(&rig.filters(), || insta::assert_snapshot!("started_meanwhile", transcript(&output)));

    let second = apply_command(&rig, &[])
        .env(format!("WAMIG_CODE_{ORDERS_DIGITS}"), rig.sent_code(ORDERS_DIGITS))
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(0), "{}", transcript(&second));
    assert_eq!(apply_posts(&rig, &initiate_path()).len(), 1, "never started again");
}

#[test]
fn a_migration_finished_meanwhile_goes_on_to_register() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    let (output, id) = apply_racing(&rig, &initiate_path(), || {
        let id = other_initiates(&rig);
        other_verifies(&rig, &id);
        id
    });

    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    assert_eq!(apply_posts(&rig, &initiate_path()), [Some(2388012)], "one initiate, answered 2388012");
    assert!(apply_posts(&rig, "/request_code").is_empty(), "no code asked for a verified number");
    assert!(apply_posts(&rig, "/verify_code").is_empty());
    assert_eq!(apply_posts(&rig, &format!("/{id}/register")), [None]);
    let record = record(&rig);
    assert_eq!(record["phone_number_id"], id.as_str());
    assert_eq!(record["code_requests"], 0);
    assert_eq!(record["register_attempts"].as_array().unwrap().len(), 1);
    assert!(record["registered_at"].is_string() && record["last_error"].is_null(), "{record}");
    with_filters(&rig.filters(), || insta::assert_snapshot!("finished_meanwhile", transcript(&output)));
}

#[test]
fn a_number_verified_before_the_code_request_goes_on_to_register() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    // Started elsewhere: apply resumes it with a code request.
    let id = other_initiates(&rig);
    let (output, ()) = apply_racing(&rig, &format!("/{id}/request_code"), || other_verifies(&rig, &id));

    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    assert!(apply_posts(&rig, &initiate_path()).is_empty());
    assert_eq!(apply_posts(&rig, "/request_code"), [Some(136024)], "one code request, answered 136024");
    assert!(apply_posts(&rig, "/verify_code").is_empty());
    assert_eq!(apply_posts(&rig, &format!("/{id}/register")), [None]);
    let record = record(&rig);
    assert_eq!(record["code_requests"], 0, "the refused request sent no code: {record}");
    assert!(record["last_code_request"].is_null(), "{record}");
    assert!(record["registered_at"].is_string() && record["last_error"].is_null(), "{record}");
    with_filters(&rig.filters(), || {
        insta::assert_snapshot!("verified_before_code_request", transcript(&output))
    });
}

#[test]
fn a_number_verified_before_the_verify_call_goes_on_to_register() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    assert_eq!(apply(&rig, &[]).status.code(), Some(3));
    let id = phone_number_id(&rig);
    rig.deliver_code(ORDERS_DIGITS);
    // The phone's owner typed the same code in WhatsApp Manager.
    let (output, ()) = apply_racing(&rig, &format!("/{id}/verify_code"), || {
        other_verifies_with(&rig, &id, &rig.sent_code(ORDERS_DIGITS))
    });

    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    assert_eq!(apply_posts(&rig, "/request_code").len(), 1, "no second code");
    assert_eq!(apply_posts(&rig, "/verify_code"), [Some(136024)], "one verify call, answered 136024");
    assert_eq!(apply_posts(&rig, &format!("/{id}/register")), [None]);
    assert!(!rig.code_file(ORDERS_DIGITS).exists(), "the code, no longer needed, is removed");
    let record = record(&rig);
    assert_eq!(record["verify_attempts"], 1);
    assert!(record["registered_at"].is_string() && record["last_error"].is_null(), "{record}");
    with_filters(&rig.filters(), || {
        insta::assert_snapshot!("verified_before_verify_call", transcript(&output))
    });
}

#[test]
fn a_number_unverified_before_register_goes_back_to_the_code_step_not_to_another_register() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    assert_eq!(apply(&rig, &[]).status.code(), Some(3));
    let id = phone_number_id(&rig);
    rig.deliver_code(ORDERS_DIGITS);
    let unverified = NumberPatch {
        code_verification_status: Some(CodeVerificationStatus::NotVerified),
        ..NumberPatch::default()
    };
    let (output, _) = apply_racing(&rig, &format!("/{id}/register"), || {
        rig.sandbox.patch_number(&id, &unverified).unwrap()
    });

    // The code verified earlier is spent: the same run asks for a new one and waits for it.
    assert_eq!(output.status.code(), Some(3), "{}", transcript(&output));
    assert_eq!(apply_posts(&rig, "/register"), [Some(133006)], "one register call, answered 133006");
    assert_eq!(apply_posts(&rig, "/request_code"), [None, None], "a new code at once");
    let record = record(&rig);
    assert_eq!(record["register_attempts"].as_array().unwrap().len(), 1, "the refused call is counted");
    assert!(record["registered_at"].is_null(), "{record}");
    assert!(record["ownership_required_at"].is_string(), "{record}");
    assert!(record["last_error"].is_null(), "the code request after it succeeded: {record}");
    with_filters(&rig.filters(), || {
        insta::assert_snapshot!("unverified_before_register", transcript(&output))
    });

    let last = apply_command(&rig, &[])
        .env(format!("WAMIG_CODE_{ORDERS_DIGITS}"), rig.sent_code(ORDERS_DIGITS))
        .output()
        .unwrap();
    assert_eq!(last.status.code(), Some(0), "{}", transcript(&last));
    assert_eq!(apply_posts(&rig, "/register"), [Some(133006), None]);
}
