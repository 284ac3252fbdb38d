//! Owns the HTTP side of the Graph client: building requests (bearer token, appsecret_proof,
//! form-encoded writes), sending them, turning answers into values or [`GraphError`]s, retrying
//! reads (never writes), following paging links, multi-id reads with bounded concurrency,
//! usage headers, request counters and the debug log lines.
//! It knows nothing of migrations: no planning, no step ordering, no decisions from live state.
//! Secrets: the token travels only in the `Authorization` header; codes and PINs only in form
//! bodies; log lines carry method, path, status and timing, and at most parameter *names*.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::config::{ApiVersion, GraphConfig, pinned_loopback};
use super::error::{ErrorClass, GraphError, Operation, RequestInfo, excerpt, human_duration};
use super::nodes::{
    DebugTokenData, EDGE_PAGE_LIMIT, FieldSpec, MessageTemplate, PermissionEntry, PhoneNumber, SubscribedApp,
    TokenInfo, Waba, message_template_fields, phone_number_fields, subscribed_app_fields,
    waba_fields_with_edges,
};
use super::paging::{Edge, kind_of, sanitize_next};
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

/// How the verification code is delivered (`code_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum CodeMethod {
    Sms,
    Voice,
}

impl CodeMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            CodeMethod::Sms => "SMS",
            CodeMethod::Voice => "VOICE",
        }
    }
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

    // --- generic reads ---------------------------------------------------------------------

    /// `GET /{path}?fields=...` decoded as `T`.
    pub async fn get_node<T: DeserializeOwned>(&self, path: &str, fields: &str) -> Result<T, GraphError> {
        let call = self.get_call(path, fields, &[])?;
        let value = self.execute(&call).await?;
        decode(value, &call)
    }

    /// `GET /?ids=a,b&fields=...` in chunks of at most 50 ids, run concurrently (bounded by
    /// `max_concurrency`). Ids are deduplicated; the answer is keyed by id. Graph fails a whole
    /// chunk when one id is unknown, and so does this.
    pub async fn get_many<T>(
        &self,
        ids: &[impl AsRef<str>],
        fields: &str,
    ) -> Result<BTreeMap<String, T>, GraphError>
    where
        T: DeserializeOwned + Send + 'static,
    {
        let unique: BTreeSet<String> = ids.iter().map(|id| id.as_ref().to_owned()).collect();
        for id in &unique {
            check_id(id, "id")?;
        }
        let unique: Vec<String> = unique.into_iter().collect();
        if unique.is_empty() {
            return Ok(BTreeMap::new());
        }
        let mut tasks = JoinSet::new();
        for chunk in unique.chunks(MAX_IDS_PER_REQUEST) {
            let client = self.clone();
            let chunk = chunk.join(",");
            let fields = fields.to_owned();
            tasks.spawn(async move { client.get_ids_chunk::<T>(chunk, fields).await });
        }
        let mut out = BTreeMap::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(part)) => out.extend(part),
                // Dropping `tasks` aborts the chunks still running.
                Ok(Err(error)) => return Err(error),
                Err(join_error) => return Err(task_stopped("a multi-id read", &join_error)),
            }
        }
        Ok(out)
    }

    async fn get_ids_chunk<T: DeserializeOwned>(
        &self,
        ids: String,
        fields: String,
    ) -> Result<BTreeMap<String, T>, GraphError> {
        let count = ids.split(',').count();
        let purpose = if count <= 3 { format!("ids {ids}") } else { format!("{count} ids") };
        let mut call = self.get_call("", &fields, &[("ids", ids)])?;
        call.purpose = Some(purpose);
        let value = self.execute(&call).await?;
        let Value::Object(map) = value else {
            return Err(shape_error(
                &call,
                format!("expected an object keyed by id, got {}", kind_of(&value)),
            ));
        };
        map.into_iter().map(|(id, node)| Ok((id, decode(node, &call)?))).collect()
    }

    /// Every item of an edge (`GET /{path}?fields=...&limit=...`), following `paging.next`
    /// until Graph gives none.
    pub async fn get_edge_all<T: DeserializeOwned>(
        &self,
        path: &str,
        fields: &str,
        limit: Option<u32>,
    ) -> Result<Vec<T>, GraphError> {
        let extra: Vec<(&str, String)> = limit.map(|l| ("limit", l.to_string())).into_iter().collect();
        let call = self.get_call(path, fields, &extra)?;
        let value = self.execute(&call).await?;
        let mut edge: Edge<T> = decode(value, &call)?;
        self.complete_edge(&mut edge).await?;
        Ok(edge.data)
    }

    /// Follows an edge's `paging.next` (e.g. of an edge expanded inside a node) to the end,
    /// appending every page's items; afterwards `edge.paging` has no `next`.
    pub async fn complete_edge<T: DeserializeOwned>(&self, edge: &mut Edge<T>) -> Result<(), GraphError> {
        let mut seen = BTreeSet::new();
        let mut pages = 0;
        while let Some(next) = edge.next().map(str::to_owned) {
            pages += 1;
            let url = sanitize_next(&self.inner.base, &next)?;
            if pages > MAX_PAGES || !seen.insert(url.to_string()) {
                return Err(GraphError::invalid_response(
                    None,
                    None,
                    format!("paging of {} does not end (a link repeats)", url.path()),
                ));
            }
            let call = Call {
                method: Method::GET,
                url,
                params: Vec::new(),
                secret_params: Vec::new(),
                op: Operation::Read,
                purpose: None,
            };
            let value = self.execute(&call).await?;
            let page: Edge<T> = decode(value, &call)?;
            edge.data.extend(page.data);
            edge.paging = page.paging;
        }
        if let Some(paging) = edge.paging.as_mut() {
            paging.next = None;
        }
        Ok(())
    }

    // --- typed reads -----------------------------------------------------------------------

    /// A WABA with its phone numbers, subscribed apps and templates expanded, every edge read
    /// to its end.
    pub async fn waba(&self, id: &str) -> Result<Waba, GraphError> {
        check_id(id, "WABA id")?;
        let mut spec = self.known_fields(waba_fields_with_edges());
        let mut waba = loop {
            match self.get_node::<Waba>(id, &spec.to_string()).await {
                Ok(waba) => break waba,
                Err(e) => spec = self.without_unsupported(e, &spec)?,
            }
        };
        self.complete_waba(&mut waba).await?;
        Ok(waba)
    }

    /// Several WABAs as [`GraphClient::waba`] does, in as few round trips as Graph allows.
    pub async fn wabas(&self, ids: &[impl AsRef<str>]) -> Result<BTreeMap<String, Waba>, GraphError> {
        let mut spec = self.known_fields(waba_fields_with_edges());
        let wabas = loop {
            match self.get_many::<Waba>(ids, &spec.to_string()).await {
                Ok(wabas) => break wabas,
                Err(e) => spec = self.without_unsupported(e, &spec)?,
            }
        };
        // Most WABAs fit their edges in the expanded first page; the few that do not are
        // followed together, so one long edge does not hold up the rest.
        let mut tasks = JoinSet::new();
        let mut complete = BTreeMap::new();
        for (id, mut waba) in wabas {
            if !waba_has_more_pages(&waba) {
                complete.insert(id, waba);
                continue;
            }
            let client = self.clone();
            tasks.spawn(async move { client.complete_waba(&mut waba).await.map(|()| (id, waba)) });
        }
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok((id, waba))) => {
                    complete.insert(id, waba);
                }
                Ok(Err(error)) => return Err(error),
                Err(join_error) => return Err(task_stopped("reading a WABA's edges", &join_error)),
            }
        }
        Ok(complete)
    }

    async fn complete_waba(&self, waba: &mut Waba) -> Result<(), GraphError> {
        if let Some(edge) = waba.phone_numbers.as_mut() {
            self.complete_edge(edge).await?;
        }
        if let Some(edge) = waba.subscribed_apps.as_mut() {
            self.complete_edge(edge).await?;
        }
        if let Some(edge) = waba.message_templates.as_mut() {
            self.complete_edge(edge).await?;
        }
        Ok(())
    }

    pub async fn phone_number(&self, id: &str) -> Result<PhoneNumber, GraphError> {
        check_id(id, "phone number id")?;
        let mut spec = self.known_fields(phone_number_fields());
        loop {
            match self.get_node::<PhoneNumber>(id, &spec.to_string()).await {
                Ok(number) => return Ok(number),
                Err(e) => spec = self.without_unsupported(e, &spec)?,
            }
        }
    }

    pub async fn phone_numbers_by_id(
        &self,
        ids: &[impl AsRef<str>],
    ) -> Result<BTreeMap<String, PhoneNumber>, GraphError> {
        let mut spec = self.known_fields(phone_number_fields());
        loop {
            match self.get_many::<PhoneNumber>(ids, &spec.to_string()).await {
                Ok(numbers) => return Ok(numbers),
                Err(e) => spec = self.without_unsupported(e, &spec)?,
            }
        }
    }

    /// `GET /{waba}/phone_numbers`, every page.
    pub async fn phone_numbers(&self, waba: &str) -> Result<Vec<PhoneNumber>, GraphError> {
        check_id(waba, "WABA id")?;
        let mut spec = self.known_fields(phone_number_fields());
        let path = format!("{waba}/phone_numbers");
        loop {
            match self.get_edge_all::<PhoneNumber>(&path, &spec.to_string(), Some(EDGE_PAGE_LIMIT)).await {
                Ok(numbers) => return Ok(numbers),
                Err(e) => spec = self.without_unsupported(e, &spec)?,
            }
        }
    }

    /// `GET /{waba}/subscribed_apps`: empty means no app receives this WABA's webhooks.
    pub async fn subscribed_apps(&self, waba: &str) -> Result<Vec<SubscribedApp>, GraphError> {
        check_id(waba, "WABA id")?;
        self.get_edge_all(&format!("{waba}/subscribed_apps"), &subscribed_app_fields().to_string(), None)
            .await
    }

    /// `GET /{waba}/message_templates`, every page.
    pub async fn message_templates(&self, waba: &str) -> Result<Vec<MessageTemplate>, GraphError> {
        check_id(waba, "WABA id")?;
        let mut spec = self.known_fields(message_template_fields());
        let path = format!("{waba}/message_templates");
        loop {
            match self.get_edge_all::<MessageTemplate>(&path, &spec.to_string(), Some(EDGE_PAGE_LIMIT)).await
            {
                Ok(templates) => return Ok(templates),
                Err(e) => spec = self.without_unsupported(e, &spec)?,
            }
        }
    }

    /// What the token may do: `debug_token` on the token itself, else (when Graph refuses
    /// that) the granted permissions from `GET /me/permissions`.
    ///
    /// debug_token takes the inspected token as `input_token`, and the only documented way to
    /// send it is a query string. So that the token never appears in a URL, the call goes
    /// through Graph's batch endpoint: `POST /{version}/` with the GET in the form body.
    pub async fn token_info(&self) -> Result<TokenInfo, GraphError> {
        match self.debug_token().await {
            Ok(Ok(info)) => Ok(info),
            // The batch request itself failed on the token, the proof or the network:
            // `/me/permissions` would fail the same way, so say so once.
            Err(e)
                if e.is_retryable_read()
                    || matches!(e.class(), ErrorClass::Auth | ErrorClass::AppSecretProof) =>
            {
                Err(e)
            }
            Err(e) | Ok(Err(e)) => {
                self.log(
                    Level::Debug,
                    "graph_token_info_fallback",
                    &format!("debug_token refused ({}); reading /me/permissions instead", e.class().name()),
                    json!({"class": e.class().name()}),
                );
                let entries: Vec<PermissionEntry> = self.get_edge_all("me/permissions", "", None).await?;
                Ok(TokenInfo::from_permissions(entries))
            }
        }
    }

    /// The outer error is the batch request's own; the inner one is debug_token's answer
    /// inside the batch (or a batch answer that is not one).
    async fn debug_token(&self) -> Result<Result<TokenInfo, GraphError>, GraphError> {
        let mut relative = Url::parse("http://relative/debug_token")
            .map_err(|e| GraphError::config(format!("cannot build a URL: {e}"), "please report this bug"))?;
        relative.query_pairs_mut().append_pair("input_token", self.inner.token.expose());
        let relative_url = format!("debug_token?{}", relative.query().unwrap_or_default());
        let batch = json!([{"method": "GET", "relative_url": relative_url}]).to_string();
        let call = Call {
            method: Method::POST,
            url: self.inner.api_root.clone(),
            params: vec![("include_headers".into(), "false".into())],
            secret_params: vec![("batch", Secret::new(batch))],
            // A batch of GETs changes nothing, so it may be retried like a read.
            op: Operation::Read,
            purpose: Some("batch: GET debug_token".to_owned()),
        };
        let value = self.execute(&call).await?;
        Ok(self.debug_token_answer(value, &call))
    }

    fn debug_token_answer(&self, value: Value, call: &Call) -> Result<TokenInfo, GraphError> {
        let info = RequestInfo {
            method: "GET".into(),
            path: format!("{}debug_token", self.inner.api_root.path()),
            op: Operation::Read,
            node_id: None,
        };
        let first = value.as_array().and_then(|items| items.first()).cloned();
        let Some(Value::Object(item)) = first else {
            return Err(GraphError::invalid_response(
                Some(info),
                None,
                "the batch answer holds no result for debug_token".into(),
            ));
        };
        let status =
            item.get("code").and_then(Value::as_u64).and_then(|c| u16::try_from(c).ok()).unwrap_or(0);
        let body = match item.get("body") {
            Some(Value::String(body)) => body.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        let scrub = |text: &str| self.scrub_text(text, call);
        if !(200..300).contains(&status) {
            return Err(GraphError::from_response(info, status, body.as_bytes(), &scrub));
        }
        let parsed: Value = serde_json::from_str(&body).map_err(|_| {
            GraphError::invalid_response(
                Some(info.clone()),
                Some(status),
                format!(
                    "debug_token answered with a body that is not JSON: {}",
                    excerpt(body.as_bytes(), &scrub)
                ),
            )
        })?;
        if parsed.get("error").is_some() {
            return Err(GraphError::from_response(info, status, body.as_bytes(), &scrub));
        }
        let data: DebugTokenData =
            parsed.get("data").cloned().and_then(|d| serde_json::from_value(d).ok()).ok_or_else(|| {
                GraphError::invalid_response(
                    Some(info),
                    Some(status),
                    "debug_token answered without `data`".into(),
                )
            })?;
        Ok(TokenInfo::from_debug_token(data))
    }

    // --- writes: never retried here --------------------------------------------------------

    /// Step 2: `POST /{dest_waba}/phone_numbers` with `cc`, `phone_number` (national number,
    /// digits) and `migrate_phone_number=true`. Returns the phone-number id.
    pub async fn initiate_migration(
        &self,
        dest_waba: &str,
        cc: &str,
        national_number: &str,
    ) -> Result<String, GraphError> {
        check_id(dest_waba, "destination WABA id")?;
        if !is_digits(cc) || cc.len() > 3 {
            return Err(GraphError::input(
                format!("`{cc}` is not a country calling code"),
                "cc is 1 to 3 digits without `+`, e.g. 1 or 44",
            ));
        }
        if !is_digits(national_number) || national_number.len() > 17 {
            return Err(GraphError::input(
                format!("`{national_number}` is not a national phone number"),
                "phone_number is the number without country code, digits only",
            ));
        }
        let call = self.post_call(
            &format!("{dest_waba}/phone_numbers"),
            Operation::InitiateMigration,
            vec![
                ("cc", cc.to_owned()),
                ("phone_number", national_number.to_owned()),
                ("migrate_phone_number", "true".to_owned()),
            ],
            Vec::new(),
        )?;
        let value = self.execute(&call).await?;
        match value.get("id") {
            Some(Value::String(id)) if is_digits(id) => Ok(id.clone()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            _ => Err(shape_error(
                &call,
                "the answer has no phone-number `id`; the migration may have started, \
                 so read the destination's phone_numbers before trying again"
                    .into(),
            )),
        }
    }

    /// Step 3: `POST /{phone_number_id}/request_code` with `code_method` and `language`.
    pub async fn request_code(
        &self,
        phone_number_id: &str,
        method: CodeMethod,
        language: &str,
    ) -> Result<(), GraphError> {
        check_id(phone_number_id, "phone number id")?;
        let language_ok = (2..=16).contains(&language.len())
            && language.bytes().all(|b| b.is_ascii_alphabetic() || b == b'_');
        if !language_ok {
            return Err(GraphError::input(
                format!("`{language}` is not a language code"),
                "write it like en_US",
            ));
        }
        let call = self.post_call(
            &format!("{phone_number_id}/request_code"),
            Operation::RequestCode,
            vec![("code_method", method.as_str().to_owned()), ("language", language.to_owned())],
            Vec::new(),
        )?;
        let value = self.execute(&call).await?;
        expect_success(value, &call)
    }

    /// Step 4: `POST /{phone_number_id}/verify_code` with the 6-digit `code`.
    pub async fn verify_code(&self, phone_number_id: &str, code: &Secret) -> Result<(), GraphError> {
        check_id(phone_number_id, "phone number id")?;
        check_six_digits(code, "verification code")?;
        let call = self.post_call(
            &format!("{phone_number_id}/verify_code"),
            Operation::VerifyCode,
            Vec::new(),
            vec![("code", code.clone())],
        )?;
        let value = self.execute(&call).await?;
        expect_success(value, &call)
    }

    /// Step 5: `POST /{phone_number_id}/register` with `messaging_product=whatsapp` and the
    /// 6-digit `pin` (it becomes the number's two-step PIN).
    pub async fn register(&self, phone_number_id: &str, pin: &Secret) -> Result<(), GraphError> {
        check_id(phone_number_id, "phone number id")?;
        check_six_digits(pin, "PIN")?;
        let call = self.post_call(
            &format!("{phone_number_id}/register"),
            Operation::Register,
            vec![("messaging_product", "whatsapp".to_owned())],
            vec![("pin", pin.clone())],
        )?;
        let value = self.execute(&call).await?;
        expect_success(value, &call)
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

/// A concurrent read that panicked or was cancelled: a bug, not a Graph answer.
fn task_stopped(what: &str, join_error: &tokio::task::JoinError) -> GraphError {
    GraphError::local(
        ErrorClass::InvalidResponse,
        format!("{what} stopped unexpectedly: {join_error}"),
        "run the command again; please report it if it repeats",
    )
}

/// Whether any expanded edge of a WABA has a next page to follow.
fn waba_has_more_pages(waba: &Waba) -> bool {
    waba.phone_numbers.as_ref().is_some_and(|e| e.next().is_some())
        || waba.subscribed_apps.as_ref().is_some_and(|e| e.next().is_some())
        || waba.message_templates.as_ref().is_some_and(|e| e.next().is_some())
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

/// Write endpoints answer `{"success": true}`; an explicit `false` is a failure.
fn expect_success(value: Value, call: &Call) -> Result<(), GraphError> {
    match value.get("success") {
        Some(Value::Bool(false)) => {
            Err(shape_error(call, "Graph answered {\"success\": false} without an error".into()))
        }
        _ => Ok(()),
    }
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
