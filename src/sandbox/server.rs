//! Owns the HTTP side of the sandbox: the axum router (Graph paths under `/{version}/...` and
//! admin paths under `/_sandbox/`), version checks, reading parameters from the query string,
//! form, multipart or JSON bodies, authentication (token, `appsecret_proof`), rate-limit
//! charging, fault injection on the wire (latency, 5xx, throttling, dropped connections),
//! response envelopes and headers, the outbox and the request log. Migration rules live in
//! `state.rs`; this file must not decide them.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::Path as AxumPath;
use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, State as AxumState};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::serve::{IncomingStream, Listener};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use super::envelope::GraphError;
use super::faults::{Decision, DropPhase, FaultEngine, Faults, FaultsPatch, Prng};
use super::fields;
use super::state::{Caller, EdgeQuery, IssuedCode, NumberPatch, PageCtx, State, Usage, WabaPatch};
use super::{SandboxError, SandboxHandle, SandboxOptions};
use crate::secret::Secret;

/// Parameters whose values never reach the log.
const REDACTED: &[&str] =
    &["access_token", "appsecret_proof", "code", "pin", "input_token", "password", "backup"];

/// Versions the sandbox answers as live. Older ones fall forward to the oldest live version,
/// as Graph does with expired versions; newer or malformed ones are unknown path components.
const OLDEST_LIVE: u32 = 21;
const NEWEST: u32 = 26;
const DEFAULT_VERSION: &str = "v23.0";

/// One Graph request as the log keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LoggedRequest {
    pub seq: u64,
    /// Sandbox (virtual) time, RFC 3339.
    pub time: String,
    pub method: String,
    pub path: String,
    /// Every parameter present (query and body); secret ones read `<redacted>`.
    pub params: BTreeMap<String, String>,
    /// How the token came: `header`, `parameter` or `none`.
    pub auth: String,
    /// `None` when the connection was dropped.
    pub status: Option<u16>,
    pub error_code: Option<i64>,
    pub error_subcode: Option<i64>,
    /// `throttle`, `server_error`, `drop_before_write`, `drop_after_write`.
    pub fault: Option<String>,
    pub fbtrace_id: Option<String>,
}

pub(crate) struct Inner {
    pub state: State,
    pub faults: FaultEngine,
    pub clock_offset: Duration,
    pub log: Vec<LoggedRequest>,
    holds: Vec<HoldState>,
    next_hold: u64,
    trace_rng: Prng,
    seq: u64,
}

/// A request hold as the handle and the admin API report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hold {
    pub id: u64,
    pub method: String,
    /// The Graph path without its version, e.g. `/104996122399160/phone_numbers`.
    pub path: String,
    /// A request matched it and is waiting for the release.
    pub waiting: bool,
}

struct HoldState {
    hold: Hold,
    release: tokio::sync::watch::Sender<bool>,
}

impl Inner {
    pub fn now(&self) -> Timestamp {
        Timestamp::now().checked_add(self.clock_offset).unwrap_or(Timestamp::MAX)
    }

    pub fn set_faults(&mut self, faults: Faults) {
        self.faults = FaultEngine::new(faults);
    }

    /// Adds a hold for the next Graph request with this method and path; returns its id.
    pub fn add_hold(&mut self, method: &str, path: &str) -> u64 {
        self.next_hold += 1;
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let hold = Hold {
            id: self.next_hold,
            method: method.trim().to_ascii_uppercase(),
            path: format!("/{}", segments.join("/")),
            waiting: false,
        };
        let (release, _) = tokio::sync::watch::channel(false);
        self.holds.push(HoldState { hold, release });
        self.next_hold
    }

    pub fn holds(&self) -> Vec<Hold> {
        self.holds.iter().map(|h| h.hold.clone()).collect()
    }

    /// Lets the request a hold caught (if any) go on, and forgets the hold.
    pub fn release_hold(&mut self, id: u64) -> bool {
        let Some(at) = self.holds.iter().position(|h| h.hold.id == id) else {
            return false;
        };
        let _ = self.holds.remove(at).release.send(true);
        true
    }

    pub fn release_all_holds(&mut self) {
        for hold in self.holds.drain(..) {
            let _ = hold.release.send(true);
        }
    }

    /// The first free hold matching this request catches it: the caller waits on the receiver.
    fn catch(&mut self, method: &Method, path: &str) -> Option<tokio::sync::watch::Receiver<bool>> {
        let (_, segments) = split_version(path).ok()?;
        let unversioned = format!("/{}", segments.join("/"));
        let hold = self
            .holds
            .iter_mut()
            .find(|h| !h.hold.waiting && h.hold.method == method.as_str() && h.hold.path == unversioned)?;
        hold.hold.waiting = true;
        Some(hold.release.subscribe())
    }

    fn trace_id(&mut self) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
        let mut id = String::from("A");
        for _ in 0..22 {
            id.push(ALPHABET[self.trace_rng.below(64) as usize] as char);
        }
        id
    }
}

pub(crate) struct Shared {
    inner: Mutex<Inner>,
    pub outbox: PathBuf,
    log_file: Option<Mutex<std::fs::File>>,
    addr: SocketAddr,
    app_secret: Option<Secret>,
}

impl Shared {
    /// Poisoning cannot leave the state half-updated in a way worse than a crash would, and
    /// a sandbox must keep answering, so a poisoned lock is simply taken.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub(crate) async fn start(
    listener: TcpListener,
    options: SandboxOptions,
) -> Result<SandboxHandle, SandboxError> {
    let addr = listener.local_addr().map_err(SandboxError::Serve)?;
    std::fs::create_dir_all(&options.outbox)
        .map_err(|source| SandboxError::Outbox { path: options.outbox.clone(), source })?;
    let log_file = match &options.request_log {
        Some(path) => Some(Mutex::new(
            std::fs::File::create(path)
                .map_err(|source| SandboxError::RequestLog { path: path.clone(), source })?,
        )),
        None => None,
    };
    let seed = options.faults.seed;
    let shared = Arc::new(Shared {
        inner: Mutex::new(Inner {
            state: State::new(&options.world, seed),
            faults: FaultEngine::new(options.faults.clone()),
            clock_offset: Duration::ZERO,
            log: Vec::new(),
            holds: Vec::new(),
            next_hold: 0,
            trace_rng: Prng::new(seed.rotate_left(17) ^ 0xFB7A_CE1D),
            seq: 0,
        }),
        outbox: options.outbox.clone(),
        log_file,
        addr,
        app_secret: options.world.app.secret.clone(),
    });

    let router = Router::new()
        .route("/_sandbox/requests", get(admin_requests))
        .route("/_sandbox/state", get(admin_state))
        .route("/_sandbox/clock", get(admin_clock).post(admin_advance_clock))
        .route("/_sandbox/faults", get(admin_faults).post(admin_set_faults))
        .route("/_sandbox/numbers/{id}", post(admin_patch_number))
        .route("/_sandbox/wabas/{id}", post(admin_patch_waba))
        .route("/_sandbox/holds", get(admin_holds).post(admin_add_hold))
        .route("/_sandbox/holds/{id}/release", post(admin_release_hold))
        .route("/", any(graph))
        .route("/{version}", any(graph))
        .route("/{version}/", any(graph))
        .route("/{version}/{node}", any(graph))
        .route("/{version}/{node}/{edge}", any(graph))
        .fallback(graph)
        .with_state(shared.clone());

    let (sender, receiver) = tokio::sync::oneshot::channel::<()>();
    let server =
        axum::serve(KillableListener(listener), router.into_make_service_with_connect_info::<ConnKill>())
            .with_graceful_shutdown(async move {
                let _ = receiver.await;
            });
    let task = tokio::spawn(async move {
        let _ = server.await;
    });
    Ok(SandboxHandle { addr, shared, shutdown: Some(sender), task: Some(task) })
}

// ----- dropped connections ------------------------------------------------------------
//
// A dropped connection must look like a network failure: the socket closes and no byte of
// the answer is sent. Each accepted stream carries a switch; a handler that decides to drop
// flips it, and the stream then fails every write, so hyper abandons the connection.

pub(crate) struct KillableListener(TcpListener);

pub(crate) struct KillableStream {
    inner: TcpStream,
    kill: Arc<AtomicBool>,
}

#[derive(Clone)]
pub(crate) struct ConnKill(Arc<AtomicBool>);

impl Listener for KillableListener {
    type Io = KillableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.0.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    return (KillableStream { inner: stream, kill: Arc::new(AtomicBool::new(false)) }, addr);
                }
                // Out of descriptors and the like: wait instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

impl Connected<IncomingStream<'_, KillableListener>> for ConnKill {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        ConnKill(stream.io().kill.clone())
    }
}

fn dropped() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "sandbox fault: connection dropped")
}

impl AsyncRead for KillableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.kill.load(Ordering::SeqCst) {
            return Poll::Ready(Err(dropped()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.kill.load(Ordering::SeqCst) {
            return Poll::Ready(Err(dropped()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        if self.kill.load(Ordering::SeqCst) {
            return Poll::Ready(Err(dropped()));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if self.kill.load(Ordering::SeqCst) {
            return Poll::Ready(Err(dropped()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

// ----- Graph requests ------------------------------------------------------------------

/// A successful answer or a Graph error, with the usage to report.
struct Outcome {
    result: Result<Value, GraphError>,
    usage: Vec<Usage>,
    /// `X-App-Usage` instead of the BUC header (app-level throttling).
    app_usage: bool,
}

impl Outcome {
    fn ok(value: Value, usage: Vec<Usage>) -> Self {
        Self { result: Ok(value), usage, app_usage: false }
    }

    fn err(error: GraphError) -> Self {
        Self { result: Err(error), usage: Vec::new(), app_usage: false }
    }
}

/// The parsed request, as the dispatcher needs it.
struct Request<'a> {
    method: &'a Method,
    segments: Vec<String>,
    params: &'a BTreeMap<String, String>,
    token: Option<String>,
    ctx: PageCtx,
    /// A sub-request of a batch: Graph does not nest batches.
    in_batch: bool,
}

/// Graph's limit of requests in one batch.
const MAX_BATCH: usize = 50;

async fn graph(
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
                    Outcome { result: Err(GraphError::buc_rate_limited()), usage, app_usage: false }
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
                                ctx: PageCtx { base_url: format!("http://{host}"), version: v },
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
        entry.fault = if dropped_after { Some("drop_after_write".into()) } else { fault.map(str::to_owned) };
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
fn redact_batch(text: &str) -> String {
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
fn split_version(path: &str) -> Result<(String, Vec<String>), GraphError> {
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

/// The WABAs a request is about (its path, or the `ids` of a multi-id read), looked up without
/// checking the token (throttle faults need it before authentication).
fn concerned_wabas(state: &State, path: &str, params: &BTreeMap<String, String>) -> Vec<String> {
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

fn dispatch(shared: &Shared, inner: &mut Inner, request: &Request<'_>) -> Outcome {
    let now = inner.now();
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

fn success() -> Value {
    json!({ "success": true })
}

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
fn batch(shared: &Shared, inner: &mut Inner, request: &Request<'_>, token: &str) -> Outcome {
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
                    ctx: PageCtx { base_url: request.ctx.base_url.clone(), version: version.clone() },
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
    Outcome { result, usage, app_usage: false }
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
fn proof_matches(secret: &Secret, token: &str, proof: &str) -> bool {
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

// ----- parameters ------------------------------------------------------------------------

/// Query string and body parameters together; the body wins on a clash.
fn parse_params(
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<BTreeMap<String, String>, GraphError> {
    let mut params: BTreeMap<String, String> =
        uri.query().map(decode_form).unwrap_or_default().into_iter().collect();
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(params);
    }
    let content_type =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let text = String::from_utf8_lossy(body);
    let body_params = if content_type.starts_with("application/json")
        || (content_type.is_empty() && text.trim_start().starts_with('{'))
    {
        decode_json(&text)?
    } else if content_type.starts_with("multipart/form-data") {
        let raw = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        decode_multipart(raw, body)?
    } else {
        decode_form(&text)
    };
    params.extend(body_params);
    Ok(params)
}

fn decode_json(text: &str) -> Result<Vec<(String, String)>, GraphError> {
    let value: Value =
        serde_json::from_str(text).map_err(|_| GraphError::bad_body("The request body is not valid JSON"))?;
    let Value::Object(object) = value else {
        return Err(GraphError::bad_body("The JSON request body must be an object"));
    };
    Ok(object
        .into_iter()
        .filter_map(|(key, value)| {
            let text = match value {
                Value::Null => return None,
                Value::String(s) => s,
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.to_string(),
                other => other.to_string(),
            };
            Some((key, text))
        })
        .collect())
}

fn decode_form(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(byte) => {
                        out.push(byte);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Enough multipart/form-data for `curl -F name=value`, as Meta's examples use.
fn decode_multipart(content_type: &str, body: &[u8]) -> Result<Vec<(String, String)>, GraphError> {
    let boundary = content_type
        .split(';')
        .filter_map(|part| part.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_owned())
        .filter(|b| !b.is_empty())
        .ok_or_else(|| GraphError::bad_body("The multipart body has no boundary"))?;
    let text = String::from_utf8_lossy(body);
    let delimiter = format!("--{boundary}");
    let mut out = Vec::new();
    for part in text.split(delimiter.as_str()).skip(1) {
        if part.starts_with("--") {
            break;
        }
        let part = part.strip_prefix("\r\n").unwrap_or(part);
        let Some((head, value)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let name =
            head.lines().find(|l| l.to_ascii_lowercase().starts_with("content-disposition")).and_then(|l| {
                l.split(';')
                    .filter_map(|p| p.trim().split_once('='))
                    .find(|(k, _)| *k == "name")
                    .map(|(_, v)| v.trim_matches('"').to_owned())
            });
        if let Some(name) = name {
            let value = value.strip_suffix("\r\n").unwrap_or(value);
            out.push((name, value.to_owned()));
        }
    }
    Ok(out)
}

// ----- admin -------------------------------------------------------------------------------

fn admin_json(status: StatusCode, value: Value) -> Response {
    let mut response = (status, value.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn admin_error(message: String) -> Response {
    admin_json(StatusCode::BAD_REQUEST, json!({ "error": message }))
}

async fn admin_requests(AxumState(shared): AxumState<Arc<Shared>>) -> Response {
    let log = shared.lock().log.clone();
    admin_json(StatusCode::OK, json!(log))
}

async fn admin_state(AxumState(shared): AxumState<Arc<Shared>>) -> Response {
    let mut inner = shared.lock();
    let now = inner.now();
    let state = inner.state.inspect(now);
    admin_json(StatusCode::OK, state)
}

fn clock_json(inner: &Inner) -> Value {
    json!({
        "now": inner.now().to_string(),
        "offset_seconds": inner.clock_offset.as_secs(),
    })
}

async fn admin_clock(AxumState(shared): AxumState<Arc<Shared>>) -> Response {
    let inner = shared.lock();
    admin_json(StatusCode::OK, clock_json(&inner))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvanceClock {
    advance_seconds: u64,
}

async fn admin_advance_clock(AxumState(shared): AxumState<Arc<Shared>>, body: Bytes) -> Response {
    let request: AdvanceClock = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            return admin_error(format!("expected {{\"advance_seconds\": N}}: {error}"));
        }
    };
    let mut inner = shared.lock();
    inner.clock_offset = inner.clock_offset.saturating_add(Duration::from_secs(request.advance_seconds));
    admin_json(StatusCode::OK, clock_json(&inner))
}

fn faults_json(faults: &Faults) -> Value {
    json!({
        "latency_ms": faults.latency.as_millis() as u64,
        "answer_delay_ms": faults.answer_delay.as_millis() as u64,
        "error_rate": faults.error_rate,
        "drop_rate": faults.drop_rate,
        "throttle_burst": faults.throttle_burst,
        "seed": faults.seed,
        "drop_phase": faults.drop_phase,
    })
}

async fn admin_faults(AxumState(shared): AxumState<Arc<Shared>>) -> Response {
    let faults = shared.lock().faults.faults();
    admin_json(StatusCode::OK, faults_json(&faults))
}

async fn admin_set_faults(AxumState(shared): AxumState<Arc<Shared>>, body: Bytes) -> Response {
    let patch: FaultsPatch = match serde_json::from_slice(&body) {
        Ok(patch) => patch,
        Err(error) => return admin_error(format!("invalid faults: {error}")),
    };
    let mut inner = shared.lock();
    match patch.apply(inner.faults.faults()) {
        Ok(faults) => {
            inner.set_faults(faults.clone());
            admin_json(StatusCode::OK, faults_json(&faults))
        }
        Err(message) => admin_error(message),
    }
}

async fn admin_patch_number(
    AxumState(shared): AxumState<Arc<Shared>>,
    AxumPath(id): AxumPath<String>,
    body: Bytes,
) -> Response {
    let patch: NumberPatch = match serde_json::from_slice(&body) {
        Ok(patch) => patch,
        Err(error) => return admin_error(format!("invalid number change: {error}")),
    };
    let mut inner = shared.lock();
    let now = inner.now();
    match inner.state.patch_number(&id, &patch, now) {
        Ok(snapshot) => admin_json(StatusCode::OK, json!(snapshot)),
        Err(message) => admin_json(StatusCode::NOT_FOUND, json!({ "error": message })),
    }
}

async fn admin_patch_waba(
    AxumState(shared): AxumState<Arc<Shared>>,
    AxumPath(id): AxumPath<String>,
    body: Bytes,
) -> Response {
    let patch: WabaPatch = match serde_json::from_slice(&body) {
        Ok(patch) => patch,
        Err(error) => return admin_error(format!("invalid WABA change: {error}")),
    };
    match shared.lock().state.patch_waba(&id, &patch) {
        Ok(()) => admin_json(StatusCode::OK, json!({ "success": true })),
        Err(message) => admin_error(message),
    }
}

async fn admin_holds(AxumState(shared): AxumState<Arc<Shared>>) -> Response {
    admin_json(StatusCode::OK, json!(shared.lock().holds()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddHold {
    method: String,
    path: String,
}

async fn admin_add_hold(AxumState(shared): AxumState<Arc<Shared>>, body: Bytes) -> Response {
    let request: AddHold = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            return admin_error(format!(
                "expected {{\"method\": \"POST\", \"path\": \"/<node>/<edge>\"}}: {error}"
            ));
        }
    };
    if !request.path.starts_with('/') || request.method.trim().is_empty() {
        return admin_error("a hold needs a method and a path starting with /, without the version".into());
    }
    let id = shared.lock().add_hold(&request.method, &request.path);
    admin_json(StatusCode::OK, json!({ "id": id }))
}

async fn admin_release_hold(
    AxumState(shared): AxumState<Arc<Shared>>,
    AxumPath(id): AxumPath<u64>,
) -> Response {
    if shared.lock().release_hold(id) {
        admin_json(StatusCode::OK, json!({ "success": true }))
    } else {
        admin_json(StatusCode::NOT_FOUND, json!({ "error": format!("no hold {id}") }))
    }
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

    #[test]
    fn form_and_percent_decoding() {
        let pairs = decode_form("a=1&b=x+y&c=%2B1%20631&d&e=%zz");
        assert_eq!(
            pairs,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("c".into(), "+1 631".into()),
                ("d".into(), "".into()),
                ("e".into(), "%zz".into()),
            ]
        );
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("%"), "%");
    }

    #[test]
    fn json_values_become_strings() {
        let pairs = decode_json(r#"{"cc":"1","migrate_phone_number":true,"limit":5,"x":null}"#).unwrap();
        assert!(pairs.contains(&("migrate_phone_number".into(), "true".into())));
        assert!(pairs.contains(&("limit".into(), "5".into())));
        assert_eq!(pairs.len(), 3);
        assert!(decode_json("[1]").is_err());
        assert!(decode_json("{").is_err());
    }

    #[test]
    fn multipart_like_curl_dash_f() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"code\"\r\n\r\n123456\r\n--XyZ\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\ny\r\n--XyZ--\r\n";
        let pairs = decode_multipart("multipart/form-data; boundary=XyZ", body).unwrap();
        assert_eq!(pairs, vec![("code".into(), "123456".into()), ("x".into(), "y".into())]);
        assert!(decode_multipart("multipart/form-data", body).is_err());
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
