//! Owns the handling of one Graph request around its dispatch: parameters, the token (header,
//! query or body), versions, fault injection on the wire (latency, holds, 5xx, throttling,
//! dropped connections), the response's headers and envelope, and the request log with its
//! secrets redacted. It must not decide what a request does (`dispatch.rs`) nor any rule
//! (`state/`).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State as AxumState};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::dispatch::{concerned_wabas, dispatch};
use super::params::{parse_params, percent_decode};
use super::transport::ConnKill;
use super::{Inner, LoggedRequest, Shared};
use crate::sandbox::envelope::GraphError;
use crate::sandbox::faults::{Decision, DropPhase};
use crate::sandbox::state::{PageCtx, Usage};

/// Parameters whose values never reach the log.
pub(super) const REDACTED: &[&str] =
    &["access_token", "appsecret_proof", "code", "pin", "input_token", "password", "backup"];

/// Versions the sandbox answers as live. Older ones fall forward to the oldest live version,
/// as Graph does with expired versions; newer or malformed ones are unknown path components.
const OLDEST_LIVE: u32 = 21;
const NEWEST: u32 = 26;
pub(super) const DEFAULT_VERSION: &str = "v23.0";

/// A successful answer or a Graph error, with the usage to report.
pub(super) struct Outcome {
    pub(super) result: Result<Value, GraphError>,
    pub(super) usage: Vec<Usage>,
    /// `X-App-Usage` instead of the BUC header (app-level throttling).
    pub(super) app_usage: bool,
    /// A fault the dispatcher injected (`refuse`), for the request log.
    pub(super) fault: Option<&'static str>,
}

impl Outcome {
    pub(super) fn ok(value: Value, usage: Vec<Usage>) -> Self {
        Self { result: Ok(value), usage, app_usage: false, fault: None }
    }

    pub(super) fn err(error: GraphError) -> Self {
        Self { result: Err(error), usage: Vec::new(), app_usage: false, fault: None }
    }
}

/// The parsed request, as the dispatcher needs it.
pub(super) struct Request<'a> {
    pub(super) method: &'a Method,
    pub(super) segments: Vec<String>,
    pub(super) params: &'a BTreeMap<String, String>,
    pub(super) token: Option<String>,
    pub(super) ctx: PageCtx,
    /// A sub-request of a batch: Graph does not nest batches.
    pub(super) in_batch: bool,
}

pub(super) async fn graph(
    AxumState(shared): AxumState<Arc<Shared>>,
    ConnectInfo(kill): ConnectInfo<ConnKill>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let parsed_params = parse_params(&uri, &headers, &body);
    let params = parsed_params.clone().unwrap_or_default();
    let header_token = bearer(&headers);
    let auth = if header_token.is_some() {
        "header"
    } else if params.contains_key("access_token") {
        "parameter"
    } else {
        "none"
    };
    let is_write = method != Method::GET;

    // A held request waits here, received but not yet handled, so a test can change the world
    // in between; it is logged once handled, like any other.
    let caught = shared.lock().catch(&method, &path);
    if let Some(mut release) = caught {
        let _ = release.wait_for(|released| *released).await;
    }

    let latency = shared.lock().faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }

    // The state's lock is held in this block only: nothing may await while it is held.
    let (outcome, status, body, version, trace, dropped_after, answer_delay) = {
        let mut inner = shared.lock();
        let decision = inner.faults.decide(is_write);
        let mut fault = None;
        let mut version = DEFAULT_VERSION.to_owned();
        let outcome = match decision {
            Decision::Drop(DropPhase::BeforeWrite) => {
                kill.0.store(true, Ordering::SeqCst);
                let entry = log_entry(&mut inner, &method, &path, &params, auth, None, None);
                let entry = LoggedRequest { fault: Some("drop_before_write".into()), ..entry };
                record(&shared, &mut inner, entry);
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
            Decision::Throttle => {
                fault = Some("throttle");
                let wabas = concerned_wabas(&inner.state, &path, &params);
                if wabas.is_empty() {
                    Outcome {
                        result: Err(GraphError::app_rate_limited()),
                        usage: Vec::new(),
                        app_usage: true,
                        fault: None,
                    }
                } else {
                    let usage = wabas
                        .into_iter()
                        .map(|waba_id| Usage {
                            waba_id,
                            calls: 0,
                            limit: 0,
                            percent: 100,
                            minutes_to_regain: 0,
                        })
                        .collect();
                    Outcome {
                        result: Err(GraphError::buc_rate_limited()),
                        usage,
                        app_usage: false,
                        fault: None,
                    }
                }
            }
            Decision::ServerError { code } => {
                fault = Some("server_error");
                Outcome::err(GraphError::server_error(code))
            }
            Decision::Pass | Decision::Drop(_) => match split_version(&path) {
                Err(error) => Outcome::err(error),
                Ok((v, segments)) => {
                    version = v.clone();
                    match parsed_params {
                        Err(error) => Outcome::err(error),
                        Ok(params) => {
                            let token = header_token.or_else(|| params.get("access_token").cloned());
                            let host = headers
                                .get(header::HOST)
                                .and_then(|h| h.to_str().ok())
                                .map(str::to_owned)
                                .unwrap_or_else(|| shared.addr.to_string());
                            let request = Request {
                                method: &method,
                                segments,
                                params: &params,
                                token,
                                ctx: PageCtx {
                                    base_url: format!("http://{host}"),
                                    version: v,
                                    now: inner.now(),
                                },
                                in_batch: false,
                            };
                            dispatch(&shared, &mut inner, &request)
                        }
                    }
                }
            },
        };

        let trace = inner.trace_id();
        let (status, body, code, subcode) = match &outcome.result {
            Ok(value) => (200, value.clone(), None, None),
            Err(error) => (error.status, error.to_json(&trace), Some(error.code), error.subcode),
        };
        let dropped_after = matches!(decision, Decision::Drop(DropPhase::AfterWrite));
        let mut entry = log_entry(
            &mut inner,
            &method,
            &path,
            &params,
            auth,
            (!dropped_after).then_some(status),
            Some(trace.clone()),
        );
        entry.error_code = code;
        entry.error_subcode = subcode;
        entry.fault = if dropped_after {
            Some("drop_after_write".into())
        } else {
            fault.or(outcome.fault).map(str::to_owned)
        };
        record(&shared, &mut inner, entry);
        (outcome, status, body, version, trace, dropped_after, inner.faults.answer_delay())
    };
    if !answer_delay.is_zero() {
        tokio::time::sleep(answer_delay).await;
    }

    if dropped_after {
        kill.0.store(true, Ordering::SeqCst);
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }

    let mut response =
        (StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=UTF-8"));
    insert(headers, "facebook-api-version", &version);
    insert(headers, "x-fb-trace-id", &trace);
    insert(headers, "x-fb-request-id", &format!("{trace}.req"));
    if outcome.app_usage {
        insert(headers, "x-app-usage", r#"{"call_count":100,"total_cputime":100,"total_time":100}"#);
    }
    if !outcome.usage.is_empty() {
        insert(headers, "x-business-use-case-usage", &usage_header(&outcome.usage));
    }
    if let Err(error) = &outcome.result
        && error.www_authenticate
    {
        insert(
            headers,
            "www-authenticate",
            &format!("OAuth \"Facebook Platform\" \"invalid_token\" \"{}\"", error.message.replace('"', "'")),
        );
    }
    response
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), value);
    }
}

fn usage_header(usage: &[Usage]) -> String {
    let mut map = serde_json::Map::new();
    for u in usage {
        map.insert(
            u.waba_id.clone(),
            json!([{
                "type": "whatsapp_business_management",
                "call_count": u.percent,
                "total_cputime": u.percent,
                "total_time": u.percent,
                "estimated_time_to_regain_access": u.minutes_to_regain,
            }]),
        );
    }
    Value::Object(map).to_string()
}

fn log_entry(
    inner: &mut Inner,
    method: &Method,
    path: &str,
    params: &BTreeMap<String, String>,
    auth: &str,
    status: Option<u16>,
    fbtrace_id: Option<String>,
) -> LoggedRequest {
    inner.seq += 1;
    LoggedRequest {
        seq: inner.seq,
        time: inner.now().to_string(),
        method: method.to_string(),
        path: path.to_owned(),
        params: params
            .iter()
            .map(|(k, v)| {
                let value = if REDACTED.contains(&k.as_str()) {
                    "<redacted>".to_owned()
                } else if k == "batch" {
                    redact_batch(v)
                } else {
                    v.clone()
                };
                (k.clone(), value)
            })
            .collect(),
        auth: auth.to_owned(),
        status,
        error_code: None,
        error_subcode: None,
        fault: None,
        fbtrace_id,
    }
}

/// A batch carries parameters of its own (an `input_token`, a PIN in a body) inside its
/// relative URLs and bodies; those are redacted like top-level ones. A batch that cannot be
/// read is redacted whole, since what it hides is unknown.
pub(super) fn redact_batch(text: &str) -> String {
    let redact_form = |form: &str| -> String {
        form.split('&')
            .map(|pair| {
                let key = pair.split_once('=').map_or(pair, |(k, _)| k);
                if REDACTED.contains(&percent_decode(key).as_str()) {
                    format!("{key}=<redacted>")
                } else {
                    pair.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("&")
    };
    let Ok(Value::Array(mut items)) = serde_json::from_str::<Value>(text) else {
        return "<redacted>".to_owned();
    };
    for item in &mut items {
        let Some(object) = item.as_object_mut() else {
            return "<redacted>".to_owned();
        };
        for (key, value) in object.iter_mut() {
            let Some(text) = value.as_str() else {
                if key == "relative_url" || key == "body" {
                    *value = json!("<redacted>");
                }
                continue;
            };
            match key.as_str() {
                "relative_url" => {
                    *value = json!(match text.split_once('?') {
                        Some((path, query)) => format!("{path}?{}", redact_form(query)),
                        None => text.to_owned(),
                    });
                }
                "body" => *value = json!(redact_form(text)),
                _ => {}
            }
        }
    }
    Value::Array(items).to_string()
}

fn record(shared: &Shared, inner: &mut Inner, entry: LoggedRequest) {
    if let Some(file) = &shared.log_file
        && let Ok(line) = serde_json::to_string(&entry)
    {
        let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(file, "{line}");
    }
    inner.log.push(entry);
}

/// `Authorization: Bearer X` (Graph also takes `OAuth X`).
fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth"))
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// Splits `/v23.0/a/b` into the version and the rest. Unversioned paths use the default
/// version, as Graph uses the app's default; a version-like first segment that is not a
/// live version is an unknown path component, as on Graph.
pub(super) fn split_version(path: &str) -> Result<(String, Vec<String>), GraphError> {
    let segments: Vec<String> = path.split('/').filter(|s| !s.is_empty()).map(str::to_owned).collect();
    let Some(first) = segments.first() else {
        return Ok((DEFAULT_VERSION.to_owned(), segments));
    };
    let version_like = first.starts_with('v') && first[1..].starts_with(|c: char| c.is_ascii_digit())
        || first.contains('.') && first.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if !version_like {
        return Ok((DEFAULT_VERSION.to_owned(), segments));
    }
    let rest = || format!("/{}", segments[1..].join("/"));
    let Some((major, minor)) = first
        .strip_prefix('v')
        .and_then(|v| v.split_once('.'))
        .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)))
    else {
        return Err(GraphError::unknown_path(&rest()));
    };
    let valid = match major {
        2 => minor <= 12,
        3..=NEWEST => minor == 0,
        _ => false,
    };
    if !valid {
        return Err(GraphError::unknown_path(&rest()));
    }
    let live = if major < OLDEST_LIVE { format!("v{OLDEST_LIVE}.0") } else { first.clone() };
    Ok((live, segments[1..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_like_graph() {
        assert_eq!(
            split_version("/v23.0/123/phone_numbers").unwrap(),
            ("v23.0".to_owned(), vec!["123".to_owned(), "phone_numbers".to_owned()])
        );
        assert_eq!(split_version("/v18.0/123").unwrap().0, "v21.0");
        assert_eq!(split_version("/123").unwrap().0, DEFAULT_VERSION);
        for bad in ["/v23/123", "/v2.80/me", "/3.1/me", "/v99.0/1", "/v23.1/1"] {
            let error = split_version(bad).unwrap_err();
            assert_eq!(error.code, 2500, "{bad}");
        }
        assert_eq!(split_version("/v2.80/me/feed").unwrap_err().message, "Unknown path components: /me/feed");
    }

    #[test]
    fn batch_log_redacts_secrets_inside_requests() {
        let batch = r#"[{"method":"GET","relative_url":"debug_token?input_token=canary-token-secret&x=1"},{"method":"POST","relative_url":"1/register","body":"messaging_product=whatsapp&pin=123456"},{"method":"GET","relative_url":"me?access%5Ftoken=canary-token-other"}]"#;
        let redacted = redact_batch(batch);
        assert!(!redacted.contains("canary-token-secret") && !redacted.contains("123456"), "{redacted}");
        assert!(!redacted.contains("canary-token-other"), "{redacted}");
        assert!(redacted.contains("input_token=<redacted>&x=1"), "{redacted}");
        assert!(redacted.contains("messaging_product=whatsapp&pin=<redacted>"), "{redacted}");
        assert_eq!(redact_batch("not json canary-token-secret"), "<redacted>");
        assert_eq!(redact_batch(r#"["debug_token?input_token=canary-token-secret"]"#), "<redacted>");
    }
}
