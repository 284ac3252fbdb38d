//! Owns the Graph client and its requests: configuration into a client, building a request
//! (bearer token, appsecret_proof, form-encoded writes), sending it, retrying reads (never
//! writes), turning answers into values or [`GraphError`]s, usage headers, request counters and
//! the debug log lines. The reads (`reads.rs`: nodes, edges with paging, multi-id reads, token
//! info) and the migration writes (`writes.rs`) are built on it.
//! It knows nothing of migrations: no planning, no step ordering, no decisions from live state.
//! Secrets: the token travels only in the `Authorization` header; codes and PINs only in form
//! bodies; log lines carry method, path, status and timing, and at most parameter *names*.

mod reads;
mod writes;

pub use writes::{CreatedTemplate, TEMPLATE_MIGRATION_MAX, TEMPLATE_MIGRATION_TIMEOUT, TemplateMigration};

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::class::{ErrorClass, Operation};
use super::config::{ApiVersion, GraphConfig, pinned_loopback};
use super::error::{GraphError, RequestInfo, excerpt, human_duration};
use super::nodes::FieldSpec;
use super::retry::{Decision, Jitter, RetryPolicy, Sleeper, decide};
use super::usage::{APP_USAGE_HEADER, BUC_HEADER, Usage, parse_app_usage, parse_buc, regain_wait};
use crate::secret::{Secret, scrub};
use crate::ui::{Level, LogFormat, Ui};

/// Graph's commonly cited limit of ids per `?ids=` request.
pub const MAX_IDS_PER_REQUEST: usize = 50;

/// A paging loop that does not end is a broken server, not a big WABA.
const MAX_PAGES: usize = 10_000;
/// The largest answer read. The biggest wamig asks for (50 WABAs, each with 100 numbers and 100
/// templates expanded) is a few MiB; a body beyond this is a broken or hostile server, and
/// buffering it whole could exhaust memory.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

enum BodyError {
    Transport(reqwest::Error),
    TooLarge,
}

/// Reads an answer's body, refusing one longer than `limit` as soon as that is known (from
/// `Content-Length`, or once that many bytes have arrived).
async fn read_body(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, BodyError> {
    if response.content_length().is_some_and(|length| length > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `appsecret_proof`: hex HMAC-SHA256 of the access token keyed with the app secret.
pub fn appsecret_proof(token: &Secret, app_secret: &Secret) -> Secret {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, app_secret.expose().as_bytes());
    let tag = ring::hmac::sign(&key, token.expose().as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in tag.as_ref() {
        hex.push_str(&format!("{byte:02x}"));
    }
    Secret::new(hex)
}

/// A Graph API client. Cheap to clone; clones share counters, usage and the connection pool.
#[derive(Clone)]
pub struct GraphClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    /// `base` + `/{version}/`; relative paths are joined onto it.
    api_root: Url,
    version: ApiVersion,
    token: Secret,
    app_secret: Option<Secret>,
    proof: Option<Secret>,
    retry: RetryPolicy,
    request_timeout: Duration,
    sleeper: Sleeper,
    /// Requests in flight at once, across every caller and clone: the one place the
    /// concurrency limit is kept, so callers may spawn freely.
    in_flight: Semaphore,
    ui: Option<Ui>,
    jitter: Jitter,
    requests: AtomicU64,
    endpoints: Mutex<BTreeMap<String, u64>>,
    usage: Mutex<Usage>,
    /// Fields Graph said do not exist on this version; later reads leave them out.
    unsupported_fields: Mutex<BTreeSet<String>>,
}

/// One request before authentication is added.
struct Call {
    method: Method,
    url: Url,
    /// Query parameters for GET, form fields for POST; never secret.
    params: Vec<(String, String)>,
    /// Form fields whose values are secret (code, PIN, a batch carrying the token).
    secret_params: Vec<(&'static str, Secret)>,
    op: Operation,
    /// What the request is for, when its path alone does not say (a batch).
    purpose: Option<String>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

fn check_id(id: &str, what: &str) -> Result<(), GraphError> {
    if is_digits(id) {
        Ok(())
    } else {
        Err(GraphError::input(
            format!("{what} `{id}` is not a Graph id (digits only)"),
            "ids are the digit strings shown in WhatsApp Manager or returned by Graph",
        ))
    }
}

/// A relative Graph path: segments of letters, digits and `_`, separated by `/`.
fn check_path(path: &str) -> Result<(), GraphError> {
    let ok = path.is_empty()
        || path.split('/').all(|segment| {
            !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
    if ok {
        Ok(())
    } else {
        Err(GraphError::input(
            format!("`{path}` is not a Graph path"),
            "pass a node id or `{id}/{edge}`, without query string",
        ))
    }
}

/// Every cause in an error chain, joined: reqwest's own message alone ("error sending request")
/// says too little.
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

impl GraphClient {
    pub fn new(config: GraphConfig) -> Result<Self, GraphError> {
        // reqwest is built without a default crypto provider and panics without one; a second
        // install (another client, a test) returns an error that changes nothing.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            // A redirect could carry the bearer header somewhere unexpected; Graph never
            // redirects API calls.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(config.user_agent.clone());
        if config.base_url.scheme() == "http" {
            // Plain http is allowed to loopback only: a proxy (HTTP_PROXY, ALL_PROXY) would
            // receive the request, bearer header included, wherever it runs; and a loopback
            // name connects only to the loopback addresses it was checked to resolve to.
            builder = builder.no_proxy();
            if let Some((host, addrs)) = pinned_loopback(&config.base_url, config.resolver)? {
                builder = builder.resolve_to_addrs(&host, &addrs);
            }
        }
        let http = builder.build().map_err(|e| {
            GraphError::config(
                format!("cannot set up the HTTP client: {}", describe(&e)),
                "this is a bug or a broken TLS setup; please report it",
            )
        })?;
        let mut api_root = config.base_url.clone();
        let prefix = config.base_url.path().trim_end_matches('/').to_owned();
        api_root.set_path(&format!("{prefix}/{}/", config.api_version));
        let proof = config.app_secret.as_ref().map(|secret| appsecret_proof(&config.token, secret));
        Ok(GraphClient {
            inner: Arc::new(Inner {
                http,
                base: config.base_url,
                api_root,
                version: config.api_version,
                token: config.token,
                app_secret: config.app_secret,
                proof,
                retry: config.retry,
                request_timeout: config.request_timeout,
                sleeper: config.sleeper,
                in_flight: Semaphore::new(config.max_concurrency.max(1)),
                ui: config.ui,
                jitter: Jitter::from_clock(),
                requests: AtomicU64::new(0),
                endpoints: Mutex::new(BTreeMap::new()),
                usage: Mutex::new(Usage::default()),
                unsupported_fields: Mutex::new(BTreeSet::new()),
            }),
        })
    }

    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    pub fn api_version(&self) -> &ApiVersion {
        &self.inner.version
    }

    /// HTTP attempts made so far by this client and its clones, retries included.
    pub fn request_count(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// Attempts per endpoint, ids replaced by `{id}`: `"GET /{id}/phone_numbers" -> 3`.
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        lock(&self.inner.endpoints).clone()
    }

    /// The last `X-App-Usage` and, per business object (WABA), `X-Business-Use-Case-Usage`.
    pub fn usage(&self) -> Usage {
        lock(&self.inner.usage).clone()
    }

    // --- plumbing --------------------------------------------------------------------------

    fn get_call(&self, path: &str, fields: &str, extra: &[(&str, String)]) -> Result<Call, GraphError> {
        check_path(path)?;
        let url = self.join(path)?;
        let mut params = Vec::new();
        if !fields.is_empty() {
            params.push(("fields".to_owned(), fields.to_owned()));
        }
        params.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        Ok(Call {
            method: Method::GET,
            url,
            params,
            secret_params: Vec::new(),
            op: Operation::Read,
            purpose: None,
        })
    }

    fn post_call(
        &self,
        path: &str,
        op: Operation,
        params: Vec<(&str, String)>,
        secret_params: Vec<(&'static str, Secret)>,
    ) -> Result<Call, GraphError> {
        check_path(path)?;
        Ok(Call {
            method: Method::POST,
            url: self.join(path)?,
            params: params.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            secret_params,
            op,
            purpose: None,
        })
    }

    fn join(&self, path: &str) -> Result<Url, GraphError> {
        self.inner.api_root.join(path).map_err(|e| {
            GraphError::input(format!("cannot build a URL for `{path}`: {e}"), "please report this bug")
        })
    }

    /// The request as errors and logs show it: no query string, ever.
    fn info(&self, call: &Call) -> RequestInfo {
        let segments = self.relative_segments(&call.url);
        let path = match &call.purpose {
            Some(purpose) => format!("{} ({purpose})", call.url.path()),
            None => call.url.path().to_owned(),
        };
        RequestInfo {
            method: call.method.to_string(),
            path,
            op: call.op,
            node_id: segments.first().filter(|s| is_digits(s)).cloned(),
        }
    }

    /// Path segments after the base path and the version.
    fn relative_segments(&self, url: &Url) -> Vec<String> {
        let base = self.inner.base.path().trim_end_matches('/');
        let path = url.path().strip_prefix(base).unwrap_or(url.path());
        let mut segments: Vec<String> =
            path.split('/').filter(|s| !s.is_empty()).map(str::to_owned).collect();
        if segments.first().is_some_and(|s| ApiVersion::parse(s).is_ok()) {
            segments.remove(0);
        }
        segments
    }

    fn endpoint(&self, call: &Call) -> String {
        let segments: Vec<String> = self
            .relative_segments(&call.url)
            .into_iter()
            .map(|s| if is_digits(&s) { "{id}".to_owned() } else { s })
            .collect();
        let multi = call.params.iter().any(|(k, _)| k == "ids");
        format!("{} /{}{}", call.method, segments.join("/"), if multi { "?ids" } else { "" })
    }

    fn known_fields(&self, spec: FieldSpec) -> FieldSpec {
        lock(&self.inner.unsupported_fields).iter().fold(spec, |spec, field| spec.without(field))
    }

    /// When Graph says a requested field does not exist on this API version, returns the spec
    /// without it (remembered for later reads, with a warning); otherwise gives the error back.
    fn without_unsupported(&self, error: GraphError, spec: &FieldSpec) -> Result<FieldSpec, GraphError> {
        let field = match error.nonexisting_field() {
            Some(field)
                if error.class() == ErrorClass::InvalidParameter
                    && field != "id"
                    && spec.contains(&field) =>
            {
                field
            }
            _ => return Err(error),
        };
        lock(&self.inner.unsupported_fields).insert(field.clone());
        self.log(
            Level::Warn,
            "graph_field_unsupported",
            &format!(
                "Graph {} does not know the field `{field}`; reading without it (checks that \
                 need it will say unknown)",
                self.inner.version
            ),
            json!({"field": field}),
        );
        Ok(spec.without(&field))
    }

    fn scrub_text(&self, text: &str, call: &Call) -> String {
        let mut secrets: Vec<&Secret> = vec![&self.inner.token];
        secrets.extend(self.inner.app_secret.iter());
        secrets.extend(self.inner.proof.iter());
        secrets.extend(call.secret_params.iter().map(|(_, s)| s));
        scrub(text, &secrets)
    }

    /// Sends `call`, retrying reads as the policy allows; writes get exactly one attempt.
    async fn execute(&self, call: &Call) -> Result<Value, GraphError> {
        let policy = &self.inner.retry;
        let mut waited = Duration::ZERO;
        let mut attempt = 1;
        loop {
            let error = match self.attempt(call, attempt).await {
                Ok(value) => return Ok(value),
                Err(error) if call.op.is_write() => return Err(error),
                Err(error) => error,
            };
            match decide(policy, attempt, waited, &error, self.inner.jitter.next()) {
                Decision::RetryAfter(wait) => {
                    // People need to hear only of long waits; machine readers count every retry.
                    let json = self.inner.ui.as_ref().is_some_and(|ui| ui.log_format == LogFormat::Json);
                    let level = match (wait >= Duration::from_secs(5), json) {
                        (true, _) => Level::Warn,
                        (false, true) => Level::Info,
                        (false, false) => Level::Debug,
                    };
                    self.log(
                        level,
                        "graph_retry",
                        &format!(
                            "{} {}: {}; retrying in {} (attempt {} of {})",
                            call.method,
                            call.url.path(),
                            error.class().name(),
                            human_duration(wait),
                            attempt + 1,
                            policy.max_attempts
                        ),
                        json!({
                            "method": call.method.as_str(),
                            "path": call.url.path(),
                            "class": error.class().name(),
                            "wait_ms": wait.as_millis() as u64,
                            "attempt": attempt + 1,
                        }),
                    );
                    self.inner.sleeper.sleep(wait).await;
                    waited += wait;
                    attempt += 1;
                }
                Decision::GiveUp => return Err(error.with_attempts(attempt)),
                Decision::TooLong(wait) => {
                    return Err(error.with_attempts(attempt).with_retry_after(Some(wait)));
                }
            }
        }
    }

    /// One HTTP attempt.
    async fn attempt(&self, call: &Call, attempt: u32) -> Result<Value, GraphError> {
        // Held for this attempt only, never across a retry's wait: no caller can starve another.
        let _permit = self.inner.in_flight.acquire().await.ok();
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
        *lock(&self.inner.endpoints).entry(self.endpoint(call)).or_insert(0) += 1;
        let info = self.info(call);
        let proof = self.inner.proof.as_ref().map(|p| ("appsecret_proof", p.expose()));
        let mut request = self
            .inner
            .http
            .request(call.method.clone(), call.url.clone())
            .bearer_auth(self.inner.token.expose());
        let mut pairs: Vec<(&str, &str)> =
            call.params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        if call.method == Method::GET {
            pairs.extend(proof);
            if !pairs.is_empty() {
                request = request.query(&pairs);
            }
        } else {
            pairs.extend(call.secret_params.iter().map(|(k, v)| (*k, v.expose())));
            pairs.extend(proof);
            request = request.form(&pairs);
        }
        if call.op == Operation::MigrateTemplates {
            request = request.timeout(self.inner.request_timeout.min(writes::TEMPLATE_MIGRATION_TIMEOUT));
        }
        let started = Instant::now();
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                let error = self.transport_error(e, info, call);
                self.log_attempt(call, None, started, attempt, Some(&error));
                return Err(error);
            }
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let regain = self.record_usage(&headers);
        let body = match read_body(response, MAX_BODY_BYTES).await {
            Ok(body) => body,
            Err(e) => {
                let error = match e {
                    BodyError::Transport(e) => self.transport_error(e, info, call),
                    BodyError::TooLarge => GraphError::invalid_response(
                        Some(info),
                        Some(status),
                        format!(
                            "the answer is larger than {} MiB, far more than any Graph answer wamig asks for; \
                             it was not read to its end",
                            MAX_BODY_BYTES / (1024 * 1024)
                        ),
                    ),
                };
                self.log_attempt(call, Some(status), started, attempt, Some(&error));
                return Err(error);
            }
        };
        let result = self.interpret(info, status, &headers, &body, call, regain);
        self.log_attempt(call, Some(status), started, attempt, result.as_ref().err());
        result
    }

    fn interpret(
        &self,
        info: RequestInfo,
        status: u16,
        headers: &reqwest::header::HeaderMap,
        body: &[u8],
        call: &Call,
        regain: Option<Duration>,
    ) -> Result<Value, GraphError> {
        let scrub = |text: &str| self.scrub_text(text, call);
        let throttle_wait = |error: GraphError| {
            if error.class() == ErrorClass::Throttled { error.with_retry_after(regain) } else { error }
        };
        if (300..400).contains(&status) {
            let target = headers
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| Url::parse(l).ok())
                .map(|l| format!(" to {}://{}", l.scheme(), l.host_str().unwrap_or("?")))
                .unwrap_or_default();
            return Err(GraphError::invalid_response(
                Some(info),
                Some(status),
                format!("Graph answered with a redirect{target}; wamig does not follow redirects"),
            ));
        }
        if !(200..300).contains(&status) {
            return Err(throttle_wait(GraphError::from_response(info, status, body, &scrub)));
        }
        let value: Value = serde_json::from_slice(body).map_err(|_| {
            GraphError::invalid_response(
                Some(info.clone()),
                Some(status),
                format!("HTTP {status} with a body that is not JSON: {}", excerpt(body, &scrub)),
            )
        })?;
        if value.get("error").is_some_and(Value::is_object) {
            return Err(throttle_wait(GraphError::from_response(info, status, body, &scrub)));
        }
        Ok(value)
    }

    fn transport_error(&self, error: reqwest::Error, info: RequestInfo, call: &Call) -> GraphError {
        let connect = error.is_connect();
        let timeout = error.is_timeout();
        let text = self.scrub_text(&describe(&error.without_url()), call);
        let (class, detail) = if connect {
            (ErrorClass::Network, format!("could not connect to {}: {text}", self.inner.base))
        } else if timeout && call.op == Operation::MigrateTemplates {
            // What arrived is read back from the destination before anything is asked again.
            (
                ErrorClass::Timeout,
                format!(
                    "no answer within {}; some templates may have been migrated",
                    human_duration(self.inner.request_timeout.min(writes::TEMPLATE_MIGRATION_TIMEOUT))
                ),
            )
        } else if call.op.is_write() {
            (
                ErrorClass::OutcomeUnknown,
                if timeout {
                    format!(
                        "no answer within {} after the request was sent; whether it took \
                         effect is unknown",
                        human_duration(self.inner.request_timeout)
                    )
                } else {
                    format!(
                        "the connection failed after the request may have been sent ({text}); \
                         whether it took effect is unknown"
                    )
                },
            )
        } else if timeout {
            (ErrorClass::Timeout, format!("no answer within {}", human_duration(self.inner.request_timeout)))
        } else {
            (ErrorClass::Network, format!("the connection failed: {text}"))
        };
        GraphError::transport(info, class, detail)
    }

    /// Stores the usage headers and returns how long Meta asks us to stay away, if it does.
    fn record_usage(&self, headers: &reqwest::header::HeaderMap) -> Option<Duration> {
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let business = text(BUC_HEADER).and_then(parse_buc).unwrap_or_default();
        let app = text(APP_USAGE_HEADER).and_then(parse_app_usage);
        let regain = regain_wait(&business);
        if app.is_some() || !business.is_empty() {
            lock(&self.inner.usage).merge(app, business);
        }
        regain
    }

    fn log(&self, level: Level, event: &str, message: &str, fields: Value) {
        if let Some(ui) = &self.inner.ui {
            ui.event(level, event, message, fields);
        }
    }

    fn log_attempt(
        &self,
        call: &Call,
        status: Option<u16>,
        started: Instant,
        attempt: u32,
        error: Option<&GraphError>,
    ) {
        let Some(ui) = &self.inner.ui else {
            return;
        };
        if !ui.enabled(Level::Debug) {
            return;
        }
        let elapsed = started.elapsed().as_millis() as u64;
        let names: Vec<&str> = call
            .params
            .iter()
            .map(|(k, _)| k.as_str())
            .filter(|k| call.method != Method::GET || *k == "ids")
            .chain(call.secret_params.iter().map(|(k, _)| *k))
            .collect();
        let shown_params = if names.is_empty() { String::new() } else { format!(" ({})", names.join(", ")) };
        let outcome = match (status, error) {
            (Some(status), None) => status.to_string(),
            (Some(status), Some(e)) => format!("{status} {}", e.class().name()),
            (None, Some(e)) => e.class().name().to_owned(),
            (None, None) => "?".to_owned(),
        };
        let attempt_note = if attempt > 1 { format!(", attempt {attempt}") } else { String::new() };
        ui.event(
            Level::Debug,
            "graph_request",
            &format!(
                "{} {}{shown_params} → {outcome} in {elapsed} ms{attempt_note}",
                call.method,
                call.url.path(),
            ),
            json!({
                "method": call.method.as_str(),
                "path": call.url.path(),
                "endpoint": self.endpoint(call),
                "params": names,
                "status": status,
                "class": error.map(|e| e.class().name()),
                "duration_ms": elapsed,
                "attempt": attempt,
            }),
        );
    }
}

fn check_six_digits(value: &Secret, what: &str) -> Result<(), GraphError> {
    let v = value.expose();
    if v.len() == 6 && is_digits(v) {
        Ok(())
    } else {
        Err(GraphError::input(
            format!("the {what} is not 6 digits"),
            format!("a {what} is exactly 6 digits; nothing was sent"),
        ))
    }
}

fn shape_error(call: &Call, detail: String) -> GraphError {
    GraphError::invalid_response(
        Some(RequestInfo {
            method: call.method.to_string(),
            path: call.url.path().to_owned(),
            op: call.op,
            node_id: None,
        }),
        None,
        detail,
    )
}

fn decode<T: DeserializeOwned>(value: Value, call: &Call) -> Result<T, GraphError> {
    serde_json::from_value(value).map_err(|e| {
        let mut text = e.to_string();
        text.truncate(300);
        shape_error(call, format!("the answer does not have the expected shape: {text}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appsecret_proof_is_hex_hmac_sha256() {
        // RFC 4231 test case 2.
        let proof = appsecret_proof(&Secret::new("what do ya want for nothing?"), &Secret::new("Jefe"));
        assert_eq!(proof.expose(), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn paths_and_ids_are_checked() {
        assert!(check_path("123/phone_numbers").is_ok());
        assert!(check_path("me/permissions").is_ok());
        assert!(check_path("").is_ok());
        for bad in ["../x", "1/../2", "1?x=2", "1//2", "/1", "1 2", "1%2F"] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
        assert!(check_id("104996122399160", "x").is_ok());
        assert!(check_id("12a", "x").is_err());
        assert!(check_six_digits(&Secret::new("123456"), "code").is_ok());
        for bad in ["12345", "1234567", "12345a", " 123456"] {
            let e = check_six_digits(&Secret::new(bad), "code").unwrap_err();
            assert!(!e.message().contains(bad.trim()));
        }
    }

    fn client(base: &str) -> GraphClient {
        GraphClient::new(GraphConfig::new(base, "v23.0", Secret::new("canary-token")).unwrap()).unwrap()
    }

    #[test]
    fn a_loopback_name_resolving_elsewhere_gets_no_client() {
        #[allow(clippy::unnecessary_wraps, reason = "the resolver's signature")]
        fn elsewhere(_: &str, port: u16) -> std::io::Result<Vec<std::net::SocketAddr>> {
            Ok(vec![std::net::SocketAddr::from(([192, 0, 2, 1], port))])
        }
        let mut config =
            GraphConfig::new("http://api.localhost:4010", "v23.0", Secret::new("canary-token")).unwrap();
        config.resolver = elsewhere;
        let error = GraphClient::new(config).err().expect("refused");
        assert_eq!(error.class(), ErrorClass::Config);
        assert!(error.message().contains("192.0.2.1"), "{}", error.message());
    }

    #[test]
    fn endpoints_and_node_ids() {
        let c = client("http://127.0.0.1:9/");
        let call = c.get_call("104996122399160/phone_numbers", "id", &[]).unwrap();
        assert_eq!(call.url.as_str(), "http://127.0.0.1:9/v23.0/104996122399160/phone_numbers");
        assert_eq!(c.endpoint(&call), "GET /{id}/phone_numbers");
        assert_eq!(c.info(&call).node_id.as_deref(), Some("104996122399160"));
        let multi = c.get_call("", "id", &[("ids", "1,2".into())]).unwrap();
        assert_eq!(c.endpoint(&multi), "GET /?ids");
        let me = c.get_call("me/permissions", "", &[]).unwrap();
        assert_eq!(c.endpoint(&me), "GET /me/permissions");
        assert_eq!(c.info(&me).node_id, None);
        // Errors name what a request with no path of its own was for.
        let mut batch = c.post_call("", Operation::Read, Vec::new(), Vec::new()).unwrap();
        batch.purpose = Some("batch: GET debug_token".into());
        assert_eq!(c.info(&batch).path, "/v23.0/ (batch: GET debug_token)");
    }
}
