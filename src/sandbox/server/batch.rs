//! Owns Graph batch requests (`POST /` with `batch=[...]`): parsing the items as Graph takes them
//! and running each as if sent alone, one failing item failing only its own answer. It must not
//! decide what an item does (`dispatch.rs`).

use std::collections::BTreeMap;

use axum::http::Method;
use serde_json::{Value, json};

use super::dispatch::dispatch;
use super::params::decode_form;
use super::request::{Outcome, Request, split_version};
use super::{Inner, Shared};
use crate::sandbox::envelope::GraphError;
use crate::sandbox::state::{PageCtx, Usage};

/// Graph's limit of requests in one batch.
const MAX_BATCH: usize = 50;

/// One request of a batch, as Graph takes it: `method`, `relative_url` (with or without a
/// version; without, the batch's own), and for writes a form-encoded `body`.
#[derive(Debug)]
struct BatchItem {
    method: Method,
    /// The version and path segments, or why the path is unknown (that request alone fails).
    target: Result<(String, Vec<String>), GraphError>,
    params: BTreeMap<String, String>,
}

fn parse_batch(text: &str, default_version: &str) -> Result<Vec<BatchItem>, GraphError> {
    let invalid = || GraphError::invalid_param("batch", "must be a JSON array of requests");
    let items = match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) => items,
        _ => return Err(invalid()),
    };
    if items.is_empty() {
        return Err(invalid());
    }
    if items.len() > MAX_BATCH {
        return Err(GraphError::bad_body(&format!(
            "Too many requests in batch message. Maximum batch size is {MAX_BATCH}"
        )));
    }
    items
        .iter()
        .map(|item| {
            let method = item
                .get("method")
                .and_then(Value::as_str)
                .and_then(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok())
                .ok_or_else(|| GraphError::missing_param("method"))?;
            let relative = item
                .get("relative_url")
                .and_then(Value::as_str)
                .ok_or_else(|| GraphError::missing_param("relative_url"))?;
            let (path, query) = relative.split_once('?').unwrap_or((relative, ""));
            let path = format!("/{}", path.trim_start_matches('/'));
            let target = if path == "/" {
                Ok((default_version.to_owned(), Vec::new()))
            } else {
                match split_version(&path) {
                    // No version in the relative URL: the batch's own applies.
                    Ok((_, segments)) if !path_has_version(&path) => {
                        Ok((default_version.to_owned(), segments))
                    }
                    found => found,
                }
            };
            let mut params: BTreeMap<String, String> = decode_form(query).into_iter().collect();
            if let Some(body) = item.get("body").and_then(Value::as_str) {
                params.extend(decode_form(body));
            }
            Ok(BatchItem { method, target, params })
        })
        .collect()
}

fn path_has_version(path: &str) -> bool {
    path.split('/')
        .find(|s| !s.is_empty())
        .is_some_and(|first| first.starts_with('v') && first[1..].starts_with(|c: char| c.is_ascii_digit()))
}

/// `POST /` with `batch=[...]`: each request runs as if sent alone with the batch's token
/// (and `appsecret_proof`), and the answer is an array in the same order of
/// `{"code", "headers", "body"}` with the body as a JSON string. A failing request fails only
/// its own entry.
pub(super) fn batch(shared: &Shared, inner: &mut Inner, request: &Request<'_>, token: &str) -> Outcome {
    let items = match parse_batch(&request.params["batch"], &request.ctx.version) {
        Ok(items) => items,
        Err(error) => return Outcome::err(error),
    };
    let include_headers = request.params.get("include_headers").is_none_or(|v| v.trim() != "false");
    let mut answers = Vec::with_capacity(items.len());
    let mut usage: Vec<Usage> = Vec::new();
    for mut item in items {
        for inherited in ["access_token", "appsecret_proof"] {
            if let Some(value) = request.params.get(inherited) {
                item.params.entry(inherited.to_owned()).or_insert_with(|| value.clone());
            }
        }
        let sub_token = item.params.get("access_token").cloned().unwrap_or_else(|| token.to_owned());
        let (outcome, version) = match item.target {
            Err(error) => (Outcome::err(error), request.ctx.version.clone()),
            Ok((version, segments)) => {
                let sub = Request {
                    method: &item.method,
                    segments,
                    params: &item.params,
                    token: Some(sub_token),
                    ctx: PageCtx {
                        base_url: request.ctx.base_url.clone(),
                        version: version.clone(),
                        now: request.ctx.now,
                    },
                    in_batch: true,
                };
                (dispatch(shared, inner, &sub), version)
            }
        };
        usage.retain(|u| !outcome.usage.iter().any(|o| o.waba_id == u.waba_id));
        usage.extend(outcome.usage);
        let (code, body) = match outcome.result {
            Ok(value) => (200, value),
            Err(error) => {
                let trace = inner.trace_id();
                (error.status, error.to_json(&trace))
            }
        };
        let mut answer = json!({ "code": code, "body": body.to_string() });
        if include_headers {
            answer["headers"] = json!([
                {"name": "Content-Type", "value": "application/json; charset=UTF-8"},
                {"name": "facebook-api-version", "value": version},
            ]);
        }
        answers.push(answer);
    }
    Outcome::ok(Value::Array(answers), usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_parse_like_graph() {
        let items = parse_batch(
            r#"[{"method":"get","relative_url":"debug_token?input_token=T"},{"method":"POST","relative_url":"/v22.0/1/request_code","body":"code_method=SMS"}]"#,
            "v23.0",
        )
        .unwrap();
        assert_eq!(items[0].method, Method::GET);
        assert_eq!(items[0].target.as_ref().unwrap(), &("v23.0".to_owned(), vec!["debug_token".to_owned()]));
        assert_eq!(items[0].params["input_token"], "T");
        assert_eq!(
            items[1].target.as_ref().unwrap(),
            &("v22.0".to_owned(), vec!["1".to_owned(), "request_code".to_owned()])
        );
        assert_eq!(items[1].params["code_method"], "SMS");
        // An unknown version fails that request only.
        let unknown = parse_batch(r#"[{"method":"GET","relative_url":"v99.0/me"}]"#, "v23.0").unwrap();
        assert_eq!(unknown[0].target.as_ref().unwrap_err().code, 2500);
        for bad in ["{}", "[]", "[1]", r#"[{"method":"GET"}]"#, "nope"] {
            assert_eq!(parse_batch(bad, "v23.0").err().map(|e| e.code), Some(100), "{bad}");
        }
        let many = format!("[{}]", vec![r#"{"method":"GET","relative_url":"me"}"#; 51].join(","));
        assert!(parse_batch(&many, "v23.0").unwrap_err().message.contains("Maximum batch size is 50"));
    }
}
