//! Owns dispatch: which state operation a Graph path and method run (reads, multi-id reads, the
//! migration writes, subscriptions, batches), after `appsecret_proof` and access are checked, with
//! each call charged to the WABAs it concerns. Codes leave through the outbox here. It must not
//! decide migration rules (`state/`) nor touch the wire (`request.rs`).

use std::collections::BTreeMap;

use axum::http::Method;
use jiff::Timestamp;
use serde_json::{Value, json};

use super::batch::batch;
use super::request::{Outcome, Request, split_version};
use super::{Inner, Shared};
use crate::sandbox::envelope::GraphError;
use crate::sandbox::faults::WriteOperation;
use crate::sandbox::fields;
use crate::sandbox::state::{Caller, EdgeQuery, IssuedCode, State, Usage};
use crate::secret::Secret;

/// The WABAs a request is about (its path, or the `ids` of a multi-id read), looked up without
/// checking the token (throttle faults need it before authentication).
pub(super) fn concerned_wabas(state: &State, path: &str, params: &BTreeMap<String, String>) -> Vec<String> {
    let Ok((_, segments)) = split_version(path) else {
        return Vec::new();
    };
    let found: Vec<String> = match segments.first() {
        Some(id) => state.waba_of(id).into_iter().collect(),
        None => params
            .get("ids")
            .map(|ids| ids.split(',').filter_map(|id| state.waba_of(id.trim())).collect())
            .unwrap_or_default(),
    };
    let mut wabas: Vec<String> = Vec::new();
    for waba in found {
        if !wabas.contains(&waba) {
            wabas.push(waba);
        }
    }
    wabas
}

pub(super) fn dispatch(shared: &Shared, inner: &mut Inner, request: &Request<'_>) -> Outcome {
    let now = inner.now();
    inner.state.settle_template_reviews(now);
    let segments: Vec<&str> = request.segments.iter().map(String::as_str).collect();
    if segments.len() > 2 {
        return Outcome::err(GraphError::unknown_path(&format!("/{}", segments.join("/"))));
    }
    let about_me = segments.first() == Some(&"me");

    let Some(token) = request.token.as_deref() else {
        return Outcome::err(if about_me {
            GraphError::missing_token_me()
        } else {
            GraphError::missing_token()
        });
    };
    let caller = match inner.state.authenticate(token) {
        Ok(caller) => caller,
        Err(error) => return Outcome::err(error),
    };
    if let Some(secret) = &shared.app_secret {
        match request.params.get("appsecret_proof") {
            None => return Outcome::err(GraphError::appsecret_missing()),
            Some(proof) if !proof_matches(secret, token, proof) => {
                return Outcome::err(GraphError::appsecret_invalid());
            }
            Some(_) => {}
        }
    }

    let method = request.method.as_str().to_ascii_lowercase();
    let params = request.params;
    let param = |name: &str| params.get(name).map(String::as_str);
    let fields = match parse_fields(param("fields")) {
        Ok(fields) => fields,
        Err(error) => return Outcome::err(error),
    };

    match segments.as_slice() {
        [] if *request.method == Method::POST && !request.in_batch && params.contains_key("batch") => {
            batch(shared, inner, request, token)
        }
        [] => {
            if request.method != Method::GET {
                return Outcome::err(GraphError::method_not_supported(&method));
            }
            let Some(ids) = param("ids") else {
                return Outcome::err(GraphError::missing_param("ids"));
            };
            let mut list: Vec<String> = Vec::new();
            for id in ids.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                if !list.iter().any(|seen| seen == id) {
                    list.push(id.to_owned());
                }
            }
            if list.is_empty() {
                return Outcome::err(GraphError::missing_param("ids"));
            }
            if list.len() > 50 {
                return Outcome::err(GraphError::too_many_ids(list.len()));
            }
            if let Some(alias) = list.iter().find(|id| !is_numeric(id)) {
                return Outcome::err(GraphError::alias_not_found(alias));
            }
            let wabas: Vec<String> =
                list.iter().filter_map(|id| inner.state.waba_of(id)).filter(|w| caller.can_read(w)).collect();
            charged(inner, &wabas, now, |state| {
                state.read_many(&caller, &list, fields.as_deref(), &request.ctx)
            })
        }
        ["debug_token"] => match param("input_token") {
            None => Outcome::err(GraphError::missing_param("input_token")),
            Some(input) => Outcome::ok(inner.state.debug_token(input), Vec::new()),
        },
        ["me"] => Outcome::ok(inner.state.me(&caller), Vec::new()),
        ["me", "permissions"] => Outcome::ok(inner.state.permissions(&caller), Vec::new()),
        [id, ..] if !is_numeric(id) => Outcome::err(GraphError::alias_not_found(id)),
        [id] => {
            let wabas = readable_wabas(&inner.state, &caller, id);
            match *request.method {
                Method::GET => charged(inner, &wabas, now, |state| {
                    state.read_node(&caller, id, fields.as_deref(), &request.ctx)
                }),
                Method::POST if params.contains_key("pin") => charged(inner, &wabas, now, |state| {
                    state.set_pin(&caller, id, param("pin")).map(|()| success())
                }),
                _ => Outcome::err(GraphError::unsupported(&method, id)),
            }
        }
        [id, edge] => {
            let wabas = readable_wabas(&inner.state, &caller, id);
            // An injected refusal answers without acting (`faults.refuse`).
            if let Some(refusal) =
                write_operation(request.method, edge).and_then(|operation| inner.faults.refusal(operation))
            {
                let mut outcome =
                    charged(inner, &wabas, now, |_| Err(GraphError::injected_refusal(&refusal)));
                outcome.fault = Some("refuse");
                return outcome;
            }
            match (request.method.clone(), *edge) {
                (Method::GET, _) => {
                    let query = match edge_query(params, fields, edge) {
                        Ok(query) => query,
                        Err(error) => return Outcome::err(error),
                    };
                    charged(inner, &wabas, now, |state| {
                        state.read_edge(&caller, id, edge, &query, &request.ctx)
                    })
                }
                (Method::POST, "phone_numbers") => charged(inner, &wabas, now, |state| {
                    state
                        .initiate_migration(
                            &caller,
                            id,
                            param("cc"),
                            param("phone_number"),
                            param("migrate_phone_number"),
                            now,
                        )
                        .map(|id| json!({ "id": id }))
                }),
                (Method::POST, "request_code") => {
                    let (result, usage) = charged_raw(inner, &wabas, now, |state| {
                        state.request_code(&caller, id, param("code_method"), param("language"), now)
                    });
                    Outcome {
                        result: result.and_then(|issued| deliver_code(shared, &issued)),
                        usage,
                        app_usage: false,
                        fault: None,
                    }
                }
                (Method::POST, "verify_code") => charged(inner, &wabas, now, |state| {
                    state.verify_code(&caller, id, param("code"), now).map(|()| success())
                }),
                (Method::POST, "register") => charged(inner, &wabas, now, |state| {
                    state
                        .register(&caller, id, param("messaging_product"), param("pin"), now)
                        .map(|()| success())
                }),
                (Method::POST, "deregister") => charged(inner, &wabas, now, |state| {
                    state.deregister(&caller, id, now).map(|()| success())
                }),
                (Method::POST, "migrate_message_templates") => {
                    charged(inner, &wabas, now, |state| state.migrate_templates(&caller, id, params))
                }
                (Method::POST, "message_templates") => {
                    charged(inner, &wabas, now, |state| state.create_template(&caller, id, params, now))
                }
                (Method::POST, "subscribed_apps") => {
                    charged(inner, &wabas, now, |state| state.subscribe(&caller, id).map(|()| success()))
                }
                (Method::DELETE, "subscribed_apps") => {
                    charged(inner, &wabas, now, |state| state.unsubscribe(&caller, id).map(|()| success()))
                }
                _ => Outcome::err(GraphError::unsupported(&method, id)),
            }
        }
        _ => Outcome::err(GraphError::unknown_path(&format!("/{}", segments.join("/")))),
    }
}

/// The migration write a method and edge make, for injected refusals.
fn write_operation(method: &Method, edge: &str) -> Option<WriteOperation> {
    if *method != Method::POST {
        return None;
    }
    match edge {
        "phone_numbers" => Some(WriteOperation::InitiateMigration),
        "request_code" => Some(WriteOperation::RequestCode),
        "verify_code" => Some(WriteOperation::VerifyCode),
        "register" => Some(WriteOperation::Register),
        _ => None,
    }
}

pub(super) fn success() -> Value {
    json!({ "success": true })
}

/// Writes an issued code to `<outbox>/<digits>`, replacing an older one: the code leaves
/// the sandbox only through this file. Written beside and renamed, so a reader polling the
/// directory (wamig's `--wait-for-codes` pointed at it) never sees half a code.
fn deliver_code(shared: &Shared, issued: &IssuedCode) -> Result<Value, GraphError> {
    let path = shared.outbox.join(&issued.digits);
    let temporary = shared.outbox.join(format!(".{}.sending", issued.digits));
    std::fs::write(&temporary, format!("{}\n", issued.code.expose()))
        .and_then(|()| std::fs::rename(&temporary, &path))
        .map(|()| success())
        .map_err(|_| GraphError::internal("the code could not be sent"))
}

fn readable_wabas(state: &State, caller: &Caller, id: &str) -> Vec<String> {
    state.waba_of(id).filter(|w| caller.can_read(w)).into_iter().collect()
}

/// Charges the call against the WABAs, then runs it; over the limit → 80008 with the headers.
fn charged(
    inner: &mut Inner,
    wabas: &[String],
    now: Timestamp,
    run: impl FnOnce(&mut State) -> Result<Value, GraphError>,
) -> Outcome {
    let (result, usage) = charged_raw(inner, wabas, now, run);
    Outcome { result, usage, app_usage: false, fault: None }
}

fn charged_raw<T>(
    inner: &mut Inner,
    wabas: &[String],
    now: Timestamp,
    run: impl FnOnce(&mut State) -> Result<T, GraphError>,
) -> (Result<T, GraphError>, Vec<Usage>) {
    match inner.state.charge(wabas, now) {
        Err((error, usage)) => (Err(error), usage),
        Ok(_) => {
            for waba in wabas {
                *inner.charged.entry(waba.clone()).or_default() += 1;
            }
            let result = run(&mut inner.state);
            // Usage is reported after the call: a register may have made the WABA active.
            let usage = inner.state.peek_usage(wabas, now);
            (result, usage)
        }
    }
}

fn is_numeric(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())
}

fn parse_fields(value: Option<&str>) -> Result<Option<Vec<fields::FieldSpec>>, GraphError> {
    match value {
        None => Ok(None),
        Some(text) => fields::parse(text).map(Some).map_err(|e| GraphError::fields_syntax(e.message(text))),
    }
}

fn edge_query(
    params: &BTreeMap<String, String>,
    fields: Option<Vec<fields::FieldSpec>>,
    edge: &str,
) -> Result<EdgeQuery, GraphError> {
    let limit = match params.get("limit") {
        None => None,
        Some(text) => Some(
            text.trim()
                .parse::<u32>()
                .map_err(|_| GraphError::invalid_param("limit", "must be a non-negative integer"))?,
        ),
    };
    let filters = if edge == "message_templates" {
        ["name", "status", "language", "category", "quality_score"]
            .iter()
            .filter_map(|k| params.get(*k).map(|v| ((*k).to_owned(), v.clone())))
            .collect()
    } else {
        Vec::new()
    };
    Ok(EdgeQuery {
        fields,
        limit,
        after: params.get("after").cloned(),
        before: params.get("before").cloned(),
        summary: params.get("summary").is_some_and(|v| matches!(v.trim(), "true" | "1" | "total_count")),
        filters,
    })
}

/// `appsecret_proof` = hex HMAC-SHA256 of the token keyed by the app secret.
pub(super) fn proof_matches(secret: &Secret, token: &str, proof: &str) -> bool {
    let Some(bytes) = decode_hex(proof.trim()) else {
        return false;
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.expose().as_bytes());
    ring::hmac::verify(&key, token.as_bytes(), &bytes).is_ok()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_id_reads_concern_the_wabas_they_name() {
        let world = crate::sandbox::World::from_yaml_str(crate::sandbox::EXAMPLE_WORLD).unwrap();
        let state = State::new(&world, 1);
        let params: BTreeMap<String, String> =
            [("ids".to_owned(), "104996122399160, 106540352242922,nope,102289599326934".to_owned())].into();
        assert_eq!(
            concerned_wabas(&state, "/v23.0/", &params),
            ["104996122399160".to_owned(), "102289599326934".to_owned()]
        );
        assert_eq!(concerned_wabas(&state, "/v23.0/me", &params), Vec::<String>::new());
        assert_eq!(
            concerned_wabas(&state, "/v23.0/104996122399160/phone_numbers", &BTreeMap::new()),
            ["104996122399160"]
        );
    }

    #[test]
    fn proof_is_hmac_sha256_hex() {
        let secret = Secret::new("s3cret");
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"s3cret");
        let tag = ring::hmac::sign(&key, b"token");
        let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        assert!(proof_matches(&secret, "token", &hex));
        assert!(proof_matches(&secret, "token", &hex.to_uppercase()));
        assert!(!proof_matches(&secret, "other", &hex));
        assert!(!proof_matches(&secret, "token", "zz"));
        assert!(!proof_matches(&secret, "token", "abc"));
    }
}
