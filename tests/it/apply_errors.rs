//! Every migration error Graph can answer (docs/graph-compatibility.md), rendered with its hint,
//! recorded in the journal (code, subcode, message, fbtrace_id), the other numbers going on; and
//! numbers the plan blocks, which are never attempted.

use std::io::{Read, Write};

use crate::apply_support::*;
use crate::support::*;

const ERRORS_WORLD: &str = include_str!("worlds/errors.yaml");

fn errors_manifest(phones: &[&str]) -> String {
    let mut text = String::from(
        "version: 1\ndefaults:\n  pin: { env: WAMIG_PIN }\ndestinations:\n  - waba: \"104996122399160\"\n    numbers:\n",
    );
    for phone in phones {
        text.push_str(&format!("      - phone: \"{phone}\"\n"));
    }
    text
}

/// A Graph call made by hand (a person in WhatsApp Manager, say), over plain HTTP/1.0.
fn graph_call(rig: &Rig, method: &str, path: &str, body: &str) -> String {
    let mut stream = std::net::TcpStream::connect(rig.sandbox.addr()).unwrap();
    write!(
        stream,
        "{method} /v23.0/{path} HTTP/1.0\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        rig.sandbox.addr(),
        rig.token,
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn graph_refusals_are_rendered_with_hints_and_kept_in_the_journal() {
    let phones = [
        "+1 631-555-0201",  // display name not approved
        "+1 631-555-0202",  // two-step verification on
        "+1 631-555-0203",  // a test number
        "+1 631-555-0204",  // display-name change pending
        "+1 631-555-0205",  // on the WhatsApp Business app
        "+1 631-555-0206",  // maintenance (2494100), retried then given up
        "+1 631-555-0250",  // source WABA not verified
        "+44 20 7946 0958", // another business
        "+1 631-555-0177",  // in no WABA: can be added directly
        "+1 631-555-0210",  // not being migrated (2388091)
        "+1 631-555-0211",  // PIN mismatch on register (133005)
    ];
    let rig = Rig::with_world(ERRORS_WORLD, &errors_manifest(&phones));
    // Someone set a two-step PIN on the verified number earlier.
    assert!(graph_call(&rig, "POST", "107000000000011", "pin=654321").contains("\"success\":true"));
    let output = apply(&rig, &["--parallelism", "1"]);
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));

    let journal = rig.journal();
    for phone in phones {
        let e164: String = phone.chars().filter(|c| *c == '+' || c.is_ascii_digit()).collect();
        let error = &journal["numbers"][&e164]["last_error"];
        assert!(error["code"].is_i64(), "{e164}: {error}");
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{e164}: {error}");
        assert!(error["fbtrace_id"].is_string(), "{e164}: {error}");
    }
    assert_eq!(journal["numbers"]["+16315550206"]["last_error"]["code"], 2494100);
    assert_eq!(journal["numbers"]["+16315550210"]["last_error"]["code"], 2388091);
    assert_eq!(journal["numbers"]["+16315550211"]["last_error"]["code"], 133005);
    let text = format!("{}{}", stdout(&output), stderr(&output));
    assert!(!text.contains("654321") && !text.contains("123456"), "no PIN in the output");
    assert_eq!(text.matches("\nhint: ").count(), phones.len(), "one hint per number");
    with_filters(&rig.filters(), || insta::assert_snapshot!(summary(&output)));
}

#[test]
fn a_code_for_a_number_not_being_migrated_is_refused_by_graph() {
    let rig = Rig::with_world(ERRORS_WORLD, &errors_manifest(&["+1 631-555-0210"]));
    let file = rig.code_file("16315550210");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, "123123\n").unwrap();
    let output = apply(&rig, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    assert_eq!(rig.journal()["numbers"]["+16315550210"]["last_error"]["code"], 2388093);
    assert_eq!(posts(&rig, "/request_code"), 0, "the code at hand is tried first");
    with_filters(&rig.filters(), || insta::assert_snapshot!(summary(&output)));
}

#[test]
fn the_register_limit_answer_is_rendered() {
    let rig = Rig::with_world(ERRORS_WORLD, &errors_manifest(&["+1 631-555-0207"]));
    assert_eq!(apply(&rig, &[]).status.code(), Some(3));
    rig.deliver_code("16315550207");
    let output = apply(&rig, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    let record = &rig.journal()["numbers"]["+16315550207"];
    assert_eq!(record["last_error"]["code"], 133016);
    assert_eq!(record["register_attempts"].as_array().unwrap().len(), posts(&rig, "/register"));
    with_filters(&rig.filters(), || insta::assert_snapshot!(summary(&output)));
}

/// The destination changes between the plan and the first write (a payment method removed,
/// the review revoked, webhooks unsubscribed), while the sandbox holds that write: Graph
/// refuses the migration with 2388103.
#[test]
fn destination_refusals_are_rendered_with_hints() {
    for cause in ["payment method removed", "review revoked", "webhooks unsubscribed"] {
        let rig = Rig::new(&manifest(&[ORDERS]));
        let (output, ()) =
            apply_racing(&rig, &format!("/{DESTINATION_WABA}/phone_numbers"), || match cause {
                "payment method removed" => {
                    let patch =
                        serde_json::from_value(serde_json::json!({"primary_funding_id": ""})).unwrap();
                    rig.sandbox.patch_waba(DESTINATION_WABA, &patch).unwrap();
                }
                "review revoked" => {
                    let patch =
                        serde_json::from_value(serde_json::json!({"account_review_status": "PENDING"}))
                            .unwrap();
                    rig.sandbox.patch_waba(DESTINATION_WABA, &patch).unwrap();
                }
                _ => {
                    let answer =
                        graph_call(&rig, "DELETE", &format!("{DESTINATION_WABA}/subscribed_apps"), "");
                    assert!(answer.contains("\"success\":true"), "{answer}");
                }
            });
        assert_eq!(output.status.code(), Some(1), "{cause}: {}", transcript(&output));
        assert_eq!(rig.journal()["numbers"]["+16315550102"]["last_error"]["code"], 2388103);
        let name = format!("destination_{}", cause.replace(' ', "_"));
        with_filters(&rig.filters(), || insta::assert_snapshot!(name, summary(&output)));
    }
}

#[test]
fn blocked_numbers_are_never_attempted_and_apply_exits_4() {
    let rig = Rig::new(&manifest(&[ORDERS, "+1 631-555-0104", "+1 631-555-0105"]));
    let output = apply(&rig, &[]);
    assert_eq!(output.status.code(), Some(4), "{}", transcript(&output));
    assert_eq!(posts(&rig, "/104996122399160/phone_numbers"), 1, "only the eligible number");
    assert!(rig.journal()["numbers"].get("+16315550104").is_none());
    with_filters(&rig.filters(), || insta::assert_snapshot!(summary(&output)));
}
