//! Owns the Graph client's error: parsing Meta's error envelope, classifying every code and text
//! wamig cares about (DESIGN §1) into an [`ErrorClass`], the hint that tells a user what to do,
//! and the retry/outcome questions a caller asks before deciding what to do next.
//! It must not decide *whether* to retry (that is `retry.rs` for reads and the caller for
//! writes), and it never holds a secret: every text that came from outside is scrubbed before it
//! is stored here.

use std::fmt;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::diag::{Diagnostic, ToDiagnostics};

/// Meta's error envelope `{"error": {...}}`, kept as received (after scrubbing). Every field is
/// optional because Meta's own examples disagree on which are always present.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ApiError {
    pub message: Option<String>,
    /// `OAuthException`, `GraphMethodException`, ...
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub code: Option<i64>,
    pub error_subcode: Option<i64>,
    pub error_user_title: Option<String>,
    pub error_user_msg: Option<String>,
    /// `error_data.details`, the field Meta says to build logic on.
    pub details: Option<String>,
    pub is_transient: Option<bool>,
    pub fbtrace_id: Option<String>,
}

impl ApiError {
    /// Reads the envelope out of a response body. `None` when the body is not JSON or has no
    /// `error` object. Never fails on odd shapes: codes may come as strings and `error_data` as a
    /// JSON-encoded string (older Graph endpoints do both).
    pub fn from_body(body: &[u8]) -> Option<ApiError> {
        let value: Value = serde_json::from_slice(body).ok()?;
        ApiError::from_value(&value)
    }

    /// Like [`ApiError::from_body`] for an already parsed body.
    pub fn from_value(value: &Value) -> Option<ApiError> {
        let error = value.get("error")?.as_object()?;
        let text = |key: &str| match error.get(key) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let number = |key: &str| match error.get(key) {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        };
        let details = match error.get("error_data") {
            Some(Value::Object(data)) => data.get("details").and_then(|d| match d {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            }),
            Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(data)) => data.get("details").and_then(Value::as_str).map(str::to_owned),
                _ if s.is_empty() => None,
                _ => Some(s.clone()),
            },
            _ => None,
        };
        let is_transient = match error.get("is_transient") {
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::String(s)) => s.parse().ok(),
            _ => None,
        };
        Some(ApiError {
            message: text("message"),
            kind: text("type"),
            code: number("code"),
            error_subcode: number("error_subcode"),
            error_user_title: text("error_user_title"),
            error_user_msg: text("error_user_msg"),
            details,
            is_transient,
            fbtrace_id: text("fbtrace_id"),
        })
    }

    fn has(&self, code: i64) -> bool {
        self.code == Some(code) || self.error_subcode == Some(code)
    }

    /// Every text Meta sent, lowercased, for phrase matching (Meta's wording varies between
    /// versions and between `message`, the user title/message and `details`).
    fn haystack(&self) -> String {
        [&self.message, &self.error_user_title, &self.error_user_msg, &self.details]
            .iter()
            .filter_map(|t| t.as_deref())
            .collect::<Vec<_>>()
            .join(" \u{2022} ")
            .to_lowercase()
    }

    fn scrub(self, scrub: &dyn Fn(&str) -> String) -> ApiError {
        let s = |t: Option<String>| t.map(|t| scrub(&t));
        ApiError {
            message: s(self.message),
            kind: s(self.kind),
            error_user_title: s(self.error_user_title),
            error_user_msg: s(self.error_user_msg),
            details: s(self.details),
            fbtrace_id: s(self.fbtrace_id),
            ..self
        }
    }
}

/// Which client call produced an error; classification and the write/read rules depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Any GET (nodes, edges, multi-id reads, token info).
    Read,
    /// `POST /{waba}/phone_numbers` with `migrate_phone_number=true`.
    InitiateMigration,
    RequestCode,
    VerifyCode,
    Register,
}

impl Operation {
    pub fn is_write(self) -> bool {
        !matches!(self, Operation::Read)
    }
}

/// The causes Meta reports under the one code 2388103, told apart by their texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MigrationBlock {
    WebhooksMissing,
    NoPaymentMethod,
    DisplayNameNotApproved,
    SourceWabaNotApproved,
    DifferentBusiness,
    DestinationNotApproved,
    MessagingForPending,
    EligibleToAddDirectly,
    TwoStepVerificationEnabled,
    /// A WhatsApp test number (`account_mode` SANDBOX): never migratable.
    TestNumber,
    /// A number in use with the WhatsApp Business app: Meta has a separate onboarding flow.
    BusinessAppNumber,
    Generic,
}

/// What kind of failure an error is; callers match on this, users read [`GraphError::hint`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "class", content = "cause")]
pub enum ErrorClass {
    // --- found before any request ---
    /// Bad base URL, API version or token source.
    Config,
    /// A bad argument to a client call (an id that is not digits, a code that is not 6 digits).
    Input,
    // --- transport ---
    /// Could not connect (nothing was sent), or a read's connection dropped.
    Network,
    /// A read got no answer in time.
    Timeout,
    /// A write was (or may have been) sent and no answer came: it may or may not have happened.
    OutcomeUnknown,
    /// The answer was not what Graph sends: not JSON, truncated, wrong shape, a redirect, a
    /// paging link to another host.
    InvalidResponse,
    // --- generic Graph classes ---
    Auth,
    /// `appsecret_proof` missing or wrong (the app requires it, or WAMIG_APP_SECRET is wrong).
    AppSecretProof,
    Permission,
    NotFound,
    Throttled,
    Transient,
    InvalidParameter,
    // --- migration (DESIGN §1) ---
    /// 2388012: the number is already in the destination WABA.
    AlreadyInDestination,
    /// "Duplicate phone number" on step 2: the migration was already started.
    MigrationAlreadyStarted,
    /// 2388091 / 2388093: the number is not being migrated, so codes cannot be requested.
    NotBeingMigrated,
    /// 2388103 and its causes (and the two-step text, whatever its code).
    MigrationBlocked(MigrationBlock),
    /// 2494100 (and 131057): maintenance mode, retry in a few minutes.
    Maintenance,
    /// 136024: request_code on an already verified number.
    AlreadyVerified,
    /// 133005: two-step PIN mismatch on register.
    WrongPin,
    /// 133006 (and "only after confirming ownership"): verify before register.
    VerifyBeforeRegister,
    /// 133016: more than 10 register calls in 72 h.
    RegisterLimit,
    /// 100 / 2388001 "Cannot Create Certificate": display name still provisioning.
    DisplayNameProvisioning,
    /// verify_code refused the code (codes unconfirmed; recognised by texts).
    WrongCode,
    CodeExpired,
    /// Too many code or PIN attempts (133008, "too many ... attempts").
    TooManyAttempts,
    /// A Graph error wamig has no special knowledge of.
    Other,
}

impl ErrorClass {
    /// A short stable name for logs, JSON events and the journal.
    pub fn name(self) -> &'static str {
        match self {
            ErrorClass::Config => "config",
            ErrorClass::Input => "input",
            ErrorClass::Network => "network",
            ErrorClass::Timeout => "timeout",
            ErrorClass::OutcomeUnknown => "outcome_unknown",
            ErrorClass::InvalidResponse => "invalid_response",
            ErrorClass::Auth => "auth",
            ErrorClass::AppSecretProof => "appsecret_proof",
            ErrorClass::Permission => "permission",
            ErrorClass::NotFound => "not_found",
            ErrorClass::Throttled => "throttled",
            ErrorClass::Transient => "transient",
            ErrorClass::InvalidParameter => "invalid_parameter",
            ErrorClass::AlreadyInDestination => "already_in_destination",
            ErrorClass::MigrationAlreadyStarted => "migration_already_started",
            ErrorClass::NotBeingMigrated => "not_being_migrated",
            ErrorClass::MigrationBlocked(block) => match block {
                MigrationBlock::WebhooksMissing => "migration_blocked.webhooks_missing",
                MigrationBlock::NoPaymentMethod => "migration_blocked.no_payment_method",
                MigrationBlock::DisplayNameNotApproved => "migration_blocked.display_name_not_approved",
                MigrationBlock::SourceWabaNotApproved => "migration_blocked.source_waba_not_approved",
                MigrationBlock::DifferentBusiness => "migration_blocked.different_business",
                MigrationBlock::DestinationNotApproved => "migration_blocked.destination_not_approved",
                MigrationBlock::MessagingForPending => "migration_blocked.messaging_for_pending",
                MigrationBlock::EligibleToAddDirectly => "migration_blocked.eligible_to_add_directly",
                MigrationBlock::TwoStepVerificationEnabled => {
                    "migration_blocked.two_step_verification_enabled"
                }
                MigrationBlock::TestNumber => "migration_blocked.test_number",
                MigrationBlock::BusinessAppNumber => "migration_blocked.business_app_number",
                MigrationBlock::Generic => "migration_blocked.generic",
            },
            ErrorClass::Maintenance => "maintenance",
            ErrorClass::AlreadyVerified => "already_verified",
            ErrorClass::WrongPin => "wrong_pin",
            ErrorClass::VerifyBeforeRegister => "verify_before_register",
            ErrorClass::RegisterLimit => "register_limit",
            ErrorClass::DisplayNameProvisioning => "display_name_provisioning",
            ErrorClass::WrongCode => "wrong_code",
            ErrorClass::CodeExpired => "code_expired",
            ErrorClass::TooManyAttempts => "too_many_attempts",
            ErrorClass::Other => "other",
        }
    }

    /// Reads may be repeated on these: repeating a GET changes nothing at Meta.
    pub fn is_retryable_read(self) -> bool {
        matches!(
            self,
            ErrorClass::Network | ErrorClass::Timeout | ErrorClass::Throttled | ErrorClass::Transient
        )
    }
}

const AUTH_CODES: &[i64] = &[0, 102, 190];
/// Graph answers 2500 both for a missing token ("An active access token must be used...") and
/// for malformed requests ("Unknown path components", field syntax errors).
const AUTH_OR_REQUEST_CODE: i64 = 2500;
const PERMISSION_CODES: &[i64] = &[3, 10];
const THROTTLE_CODES: &[i64] = &[4, 17, 32, 613, 130429, 131048, 131056, 133009];
const TRANSIENT_CODES: &[i64] = &[1, 2, 131000, 131016, 133004];

fn any(haystack: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| haystack.contains(n))
}

/// Tells the 2388103 causes apart. Order matters: the most distinctive phrases are tried first,
/// since one cause's text may mention words of another (a "source WABA not set up" text talks
/// about "messaging on behalf of", a "destination not approved" text about business
/// verification).
pub fn migration_block(text: &str) -> MigrationBlock {
    if mentions_two_step(text) {
        MigrationBlock::TwoStepVerificationEnabled
    } else if any(text, &["test number", "test phone number", "account_mode sandbox"]) {
        MigrationBlock::TestNumber
    } else if any(text, &["business app", "is_on_biz_app", "coexistence"]) {
        // Before the "different business" phrases: these texts say "business" too.
        MigrationBlock::BusinessAppNumber
    } else if text.contains("webhook") {
        MigrationBlock::WebhooksMissing
    } else if any(text, &["payment", "credit line", "funding"]) {
        MigrationBlock::NoPaymentMethod
    } else if any(
        text,
        &[
            "eligible to be added",
            "added directly",
            "add it directly",
            "migration apis are not",
            "does not need to be migrated",
            "doesn't need to be migrated",
            "not need migration",
        ],
    ) {
        MigrationBlock::EligibleToAddDirectly
    } else if text.contains("messaging for") {
        MigrationBlock::MessagingForPending
    } else if any(text, &["display name", "name_status", "name change", "verified name", "verified_name"]) {
        MigrationBlock::DisplayNameNotApproved
    } else if (text.contains("different") && text.contains("business"))
        || any(text, &["same business", "another business", "other business", "business portfolio"])
        || (text.contains("business manager") && text.contains("belong"))
    {
        MigrationBlock::DifferentBusiness
    } else if text.contains("source") && any(text, &["approv", "set up", "setup", "configured", "verif"]) {
        MigrationBlock::SourceWabaNotApproved
    } else if text.contains("destination") && any(text, &["approv", "verif", "review"]) {
        MigrationBlock::DestinationNotApproved
    } else {
        MigrationBlock::Generic
    }
}

fn mentions_two_step(text: &str) -> bool {
    any(text, &["two-step", "two step", "2-step", "2fa", "two-factor", "two factor"])
}

fn asks_to_disable_two_step(text: &str) -> bool {
    mentions_two_step(text) && any(text, &["disable", "turn off", "turned off", "must be off", "enabled"])
}

/// Classifies an error answer. `status` is the HTTP status; `op` the call that got it (a code
/// text means something else on verify_code than on a read).
pub fn classify(status: Option<u16>, api: &ApiError, op: Operation) -> ErrorClass {
    let text = api.haystack();
    let code = api.code;
    let title = api.error_user_title.as_deref().unwrap_or_default().to_lowercase();

    // Migration-specific codes first: Meta sends some of them as `code` and some as
    // `error_subcode` under a generic code 100, so both are looked at.
    if api.has(2388012) {
        return ErrorClass::AlreadyInDestination;
    }
    if title.contains("duplicate phone number") || text.contains("duplicate phone number") {
        return ErrorClass::MigrationAlreadyStarted;
    }
    if api.has(2388091) || api.has(2388093) {
        return ErrorClass::NotBeingMigrated;
    }
    if api.has(2388103) {
        return ErrorClass::MigrationBlocked(migration_block(&text));
    }
    if api.has(2388001) || text.contains("cannot create certificate") {
        return ErrorClass::DisplayNameProvisioning;
    }
    if api.has(2494100) || api.has(131057) {
        return ErrorClass::Maintenance;
    }
    if api.has(136024) {
        return ErrorClass::AlreadyVerified;
    }
    if api.has(133005) {
        return ErrorClass::WrongPin;
    }
    if api.has(133006) {
        return ErrorClass::VerifyBeforeRegister;
    }
    if api.has(133016) {
        return ErrorClass::RegisterLimit;
    }
    if api.has(133008) {
        return ErrorClass::TooManyAttempts;
    }

    // Credentials next, so that an expired token is never mistaken for an expired code.
    if text.contains("appsecret_proof") {
        return ErrorClass::AppSecretProof;
    }
    // 104 is "Incorrect signature", and also Graph's answer to a request without a token.
    if code == Some(104) {
        return if text.contains("access token") { ErrorClass::Auth } else { ErrorClass::AppSecretProof };
    }
    if let Some(c) = code {
        if AUTH_CODES.contains(&c) {
            return ErrorClass::Auth;
        }
        if c == AUTH_OR_REQUEST_CODE {
            return if text.contains("access token") {
                ErrorClass::Auth
            } else {
                ErrorClass::InvalidParameter
            };
        }
        if PERMISSION_CODES.contains(&c) || (200..=299).contains(&c) {
            return ErrorClass::Permission;
        }
    }

    // Texts whose numeric codes Meta does not document.
    if asks_to_disable_two_step(&text) {
        return ErrorClass::MigrationBlocked(MigrationBlock::TwoStepVerificationEnabled);
    }
    if any(
        &text,
        &[
            "after confirming ownership",
            "confirm ownership",
            "verify the phone number before",
            "must be verified before",
        ],
    ) {
        return ErrorClass::VerifyBeforeRegister;
    }
    if text.contains("too many") && any(&text, &["attempt", "tries", "guesses"]) {
        return ErrorClass::TooManyAttempts;
    }
    let about_code = title.contains("verification failed")
        || text.contains("verification code")
        || code.is_some_and(|c| (136000..137000).contains(&c))
        || (op == Operation::VerifyCode && matches!(code, Some(100) | None) && text.contains("code"));
    if about_code {
        let wrong =
            any(&text, &["invalid", "incorrect", "wrong", "mismatch", "does not match", "doesn't match"]);
        if text.contains("expired") && !wrong {
            return ErrorClass::CodeExpired;
        }
        return ErrorClass::WrongCode;
    }

    // Generic Graph classes.
    if code == Some(803) || (code == Some(100) && api.error_subcode == Some(33)) {
        return ErrorClass::NotFound;
    }
    if let Some(c) = code
        && (THROTTLE_CODES.contains(&c) || (80000..80100).contains(&c))
    {
        return ErrorClass::Throttled;
    }
    if let Some(c) = code
        && TRANSIENT_CODES.contains(&c)
    {
        return ErrorClass::Transient;
    }
    if api.is_transient == Some(true) {
        return ErrorClass::Transient;
    }
    if code == Some(100) {
        return ErrorClass::InvalidParameter;
    }
    match status {
        Some(401) => ErrorClass::Auth,
        Some(403) => ErrorClass::Permission,
        Some(404) => ErrorClass::NotFound,
        Some(429) => ErrorClass::Throttled,
        Some(s) if s >= 500 => ErrorClass::Transient,
        _ => ErrorClass::Other,
    }
}

/// The request an error belongs to: method, path without query (so neither `appsecret_proof`
/// nor anything else from a query string reaches a message), and the node the path names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestInfo {
    pub method: String,
    pub path: String,
    pub op: Operation,
    /// The first path segment when it is a Graph id: the WABA for `/{waba}/phone_numbers`, the
    /// phone number for `/{id}/register`.
    pub node_id: Option<String>,
}

/// One failed Graph call (or a configuration problem found before any call). Boxed so that
/// `Result<_, GraphError>` stays one pointer wide.
#[derive(Debug, Clone, Serialize)]
pub struct GraphError(Box<Repr>);

#[derive(Debug, Clone, Serialize)]
struct Repr {
    class: ErrorClass,
    request: Option<RequestInfo>,
    http_status: Option<u16>,
    api: Option<ApiError>,
    /// What happened, for errors that are not Graph envelopes (scrubbed).
    detail: Option<String>,
    /// For local errors, a hint more precise than the class's.
    hint: Option<String>,
    /// How long Meta asked us to stay away (from `X-Business-Use-Case-Usage`).
    #[serde(skip)]
    retry_after: Option<Duration>,
    attempts: u32,
}

impl GraphError {
    pub(crate) fn local(
        class: ErrorClass,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> GraphError {
        GraphError(Box::new(Repr {
            class,
            request: None,
            http_status: None,
            api: None,
            detail: Some(message.into()),
            hint: Some(hint.into()),
            retry_after: None,
            attempts: 0,
        }))
    }

    pub(crate) fn config(message: impl Into<String>, hint: impl Into<String>) -> GraphError {
        GraphError::local(ErrorClass::Config, message, hint)
    }

    pub(crate) fn input(message: impl Into<String>, hint: impl Into<String>) -> GraphError {
        GraphError::local(ErrorClass::Input, message, hint)
    }

    pub(crate) fn transport(request: RequestInfo, class: ErrorClass, detail: String) -> Self {
        GraphError(Box::new(Repr {
            class,
            request: Some(request),
            http_status: None,
            api: None,
            detail: Some(detail),
            hint: None,
            retry_after: None,
            attempts: 1,
        }))
    }

    pub(crate) fn invalid_response(
        request: Option<RequestInfo>,
        status: Option<u16>,
        detail: String,
    ) -> Self {
        GraphError(Box::new(Repr {
            class: ErrorClass::InvalidResponse,
            request,
            http_status: status,
            api: None,
            detail: Some(detail),
            hint: None,
            retry_after: None,
            attempts: 1,
        }))
    }

    /// An answer with a non-success status or an `error` object. `body` is what came back,
    /// `scrub` removes secrets from any text kept from it.
    pub(crate) fn from_response(
        request: RequestInfo,
        status: u16,
        body: &[u8],
        scrub: &dyn Fn(&str) -> String,
    ) -> GraphError {
        match ApiError::from_body(body) {
            Some(api) => {
                let api = api.scrub(scrub);
                GraphError(Box::new(Repr {
                    class: classify(Some(status), &api, request.op),
                    request: Some(request),
                    http_status: Some(status),
                    api: Some(api),
                    detail: None,
                    hint: None,
                    retry_after: None,
                    attempts: 1,
                }))
            }
            None => {
                let class = match status {
                    401 => ErrorClass::Auth,
                    403 => ErrorClass::Permission,
                    404 => ErrorClass::NotFound,
                    429 => ErrorClass::Throttled,
                    s if s >= 500 => ErrorClass::Transient,
                    _ => ErrorClass::InvalidResponse,
                };
                GraphError(Box::new(Repr {
                    class,
                    request: Some(request),
                    http_status: Some(status),
                    api: None,
                    detail: Some(format!(
                        "HTTP {status} with a body that is not a Graph error: {}",
                        excerpt(body, scrub)
                    )),
                    hint: None,
                    retry_after: None,
                    attempts: 1,
                }))
            }
        }
    }

    pub(crate) fn with_retry_after(mut self, wait: Option<Duration>) -> Self {
        if wait.is_some() {
            self.0.retry_after = wait;
        }
        self
    }

    pub(crate) fn with_attempts(mut self, attempts: u32) -> Self {
        self.0.attempts = attempts;
        self
    }

    pub fn class(&self) -> ErrorClass {
        self.0.class
    }

    /// The parsed Meta envelope, when the error came from Graph.
    pub fn api(&self) -> Option<&ApiError> {
        self.0.api.as_ref()
    }

    pub fn code(&self) -> Option<i64> {
        self.0.api.as_ref().and_then(|a| a.code)
    }

    pub fn subcode(&self) -> Option<i64> {
        self.0.api.as_ref().and_then(|a| a.error_subcode)
    }

    pub fn fbtrace_id(&self) -> Option<&str> {
        self.0.api.as_ref().and_then(|a| a.fbtrace_id.as_deref())
    }

    pub fn http_status(&self) -> Option<u16> {
        self.0.http_status
    }

    pub fn request(&self) -> Option<&RequestInfo> {
        self.0.request.as_ref()
    }

    /// How many HTTP attempts were made before giving up.
    pub fn attempts(&self) -> u32 {
        self.0.attempts
    }

    /// How long Meta asked us to wait (from `estimated_time_to_regain_access`), if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after
    }

    /// The message a user sees (scrubbed, one line).
    pub fn message(&self) -> String {
        let mut out = String::new();
        if let Some(request) = &self.0.request {
            out.push_str(&format!("{} {}: ", request.method, request.path));
        }
        let text = self
            .0
            .api
            .as_ref()
            .and_then(|a| {
                a.message.clone().or_else(|| a.error_user_title.clone()).or_else(|| a.error_user_msg.clone())
            })
            .or_else(|| self.0.detail.clone())
            .unwrap_or_else(|| "Graph API error without a message".to_owned());
        out.push_str(&text);
        let mut tags = Vec::new();
        if let Some(api) = &self.0.api {
            if let Some(code) = api.code {
                tags.push(format!("code {code}"));
            }
            if let Some(sub) = api.error_subcode {
                tags.push(format!("subcode {sub}"));
            }
        }
        if let Some(status) = self.0.http_status {
            tags.push(format!("HTTP {status}"));
        }
        if !tags.is_empty() {
            out.push_str(&format!(" ({})", tags.join(", ")));
        }
        out
    }

    /// Lines under the message: Meta's user-facing title and text, `details`, the trace id.
    pub fn causes(&self) -> Vec<String> {
        let mut causes = Vec::new();
        if let Some(api) = &self.0.api {
            match (&api.error_user_title, &api.error_user_msg) {
                (Some(t), Some(m)) => causes.push(format!("{t}: {m}")),
                (Some(t), None) => causes.push(t.clone()),
                (None, Some(m)) => causes.push(m.clone()),
                (None, None) => {}
            }
            if let Some(details) = &api.details {
                causes.push(format!("details: {details}"));
            }
            if let Some(detail) = &self.0.detail {
                causes.push(detail.clone());
            }
        }
        if self.0.attempts > 1 {
            causes.push(format!("gave up after {} attempts", self.0.attempts));
        }
        if let Some(trace) = self.fbtrace_id() {
            causes.push(format!("fbtrace_id: {trace}"));
        }
        causes
    }

    /// What the user should do now.
    pub fn hint(&self) -> String {
        if let Some(hint) = &self.0.hint {
            return hint.clone();
        }
        let node =
            self.0.request.as_ref().and_then(|r| r.node_id.clone()).unwrap_or_else(|| "<id>".to_owned());
        let waba = &node;
        match self.0.class {
            ErrorClass::Config | ErrorClass::Input => {
                "check the options and the manifest, then run the command again".to_owned()
            }
            ErrorClass::Network => "check the network connection and that the Graph URL \
                 (--graph-url / WAMIG_GRAPH_URL) is reachable, then run the command again"
                .to_owned(),
            ErrorClass::Timeout => "Graph did not answer in time; run the command again later".to_owned(),
            ErrorClass::OutcomeUnknown => "the request was sent but no answer came, so it may or \
                 may not have taken effect; run `wamig plan` or `wamig apply` again: wamig \
                 re-reads the live state before repeating any step"
                .to_owned(),
            ErrorClass::InvalidResponse => "Graph answered with something that is not a Graph \
                 API response; if --graph-url points at a proxy, check it, otherwise run the \
                 command again later"
                .to_owned(),
            ErrorClass::Auth => "the access token is invalid, expired or revoked: create a new \
                 system-user token with whatsapp_business_management (register also needs \
                 whatsapp_business_messaging) in Business Settings → Users → System users, then \
                 set WAMIG_ACCESS_TOKEN or pass --token-file"
                .to_owned(),
            ErrorClass::AppSecretProof => "the app requires appsecret_proof, or WAMIG_APP_SECRET \
                 does not belong to the token's app: set WAMIG_APP_SECRET to the app secret \
                 (App Dashboard → App settings → Basic) of the app that issued the token"
                .to_owned(),
            ErrorClass::Permission => format!(
                "the token may not do this on {node}: assign the token's system user to the \
                 WABA (Business Settings → Accounts → WhatsApp accounts) and grant \
                 whatsapp_business_management (register also needs whatsapp_business_messaging); \
                 a partner app needs Advanced Access"
            ),
            ErrorClass::NotFound => format!(
                "{node} does not exist or this token cannot see it: check the id in the manifest \
                 and that the token's system user is assigned to the WABA"
            ),
            ErrorClass::Throttled => match self.0.retry_after {
                Some(wait) => format!(
                    "Meta is rate-limiting this app; retry after {} (about {}); every call \
                     made meanwhile extends the block (for apply, a lower --parallelism helps)",
                    human_duration(wait),
                    retry_time(wait)
                ),
                None => "Meta is rate-limiting this app: wait a few minutes before running \
                     the command again (every call made meanwhile extends the block; for \
                     apply, lower --parallelism)"
                    .to_owned(),
            },
            ErrorClass::Transient => {
                "a temporary problem at Meta: run the command again in a few minutes".to_owned()
            }
            ErrorClass::InvalidParameter => "Meta refused a parameter of this request: check \
                 the values in the manifest (phone number, country code, language such as \
                 en_US) and the API version"
                .to_owned(),
            ErrorClass::AlreadyInDestination => format!(
                "the number is already in destination WABA {waba}: nothing to start; wamig \
                 apply finds its id in GET /{waba}/phone_numbers and continues from there"
            ),
            ErrorClass::MigrationAlreadyStarted => format!(
                "the migration of this number was already started: wamig apply finds its id in \
                 GET /{waba}/phone_numbers and continues with the code steps"
            ),
            ErrorClass::NotBeingMigrated => "this number is not being migrated, so no code can \
                 be requested or verified for it: run wamig plan to see where it is now; a \
                 number added without migration is registered normally"
                .to_owned(),
            ErrorClass::MigrationBlocked(block) => block_hint(block, waba),
            ErrorClass::Maintenance => "the number is in maintenance mode at Meta: wait a few \
                 minutes, then run wamig apply again"
                .to_owned(),
            ErrorClass::AlreadyVerified => "the number is already verified: no code is needed; \
                 run wamig apply again to continue with registration"
                .to_owned(),
            ErrorClass::WrongPin => "Meta refused the PIN: the number still has two-step \
                 verification with another PIN; use that PIN, or turn two-step verification off \
                 in WhatsApp Manager (Phone numbers → Two-step verification → Turn off), then \
                 run wamig apply again"
                .to_owned(),
            ErrorClass::VerifyBeforeRegister => "the number must be verified before it can be \
                 registered, and Meta does not see it verified (any more): run wamig apply \
                 again; it asks for a new code when the last one was already used, then give it \
                 that code"
                .to_owned(),
            ErrorClass::RegisterLimit => "register was called 10 times within 72 hours for \
                 this number and Meta now blocks it for 72 hours: wait, then run wamig apply \
                 again"
                .to_owned(),
            ErrorClass::DisplayNameProvisioning => "Meta is still provisioning the display name \
                 (name_status not final): wait a few minutes and run wamig apply again; no new \
                 code is needed, and waiting saves register attempts (10 per 72 hours)"
                .to_owned(),
            ErrorClass::WrongCode => "the verification code was refused: use the 6-digit code \
                 from the latest SMS or voice call; if it is older than about 10 minutes, \
                 request a new one with `wamig apply --resend-code`"
                .to_owned(),
            ErrorClass::CodeExpired => "the verification code expired: request a new one with \
                 `wamig apply --resend-code` and use it promptly"
                .to_owned(),
            ErrorClass::TooManyAttempts => "too many attempts for this number: wait (Meta's \
                 details say how long, usually hours) before requesting or entering another \
                 code or PIN"
                .to_owned(),
            ErrorClass::Other => "see Meta's error-code reference for this code; if it \
                 persists, contact Meta support with the fbtrace_id"
                .to_owned(),
        }
    }

    /// Repeating this read may succeed (the retry loop uses it).
    pub fn is_retryable_read(&self) -> bool {
        self.0.class.is_retryable_read()
    }

    /// Repeating this write is safe and may succeed: Meta certainly did not act on it (nothing
    /// was sent, or Meta refused it before doing anything because of a rate limit or
    /// maintenance). A caller still decides; the client never repeats a write itself.
    pub fn is_retryable_write(&self) -> bool {
        matches!(self.0.class, ErrorClass::Network | ErrorClass::Throttled | ErrorClass::Maintenance)
    }

    /// The write may have happened despite the error: the caller must re-read live state
    /// before deciding anything (DESIGN §7: each step decides from live state).
    pub fn may_have_taken_effect(&self) -> bool {
        let write = self.0.request.as_ref().is_some_and(|r| r.op.is_write());
        match self.0.class {
            ErrorClass::OutcomeUnknown => true,
            ErrorClass::Transient | ErrorClass::Other | ErrorClass::InvalidResponse => write,
            _ => false,
        }
    }

    /// The field named by "(#100) Tried accessing nonexisting field (x) on node type (...)".
    pub fn nonexisting_field(&self) -> Option<String> {
        let message = self.0.api.as_ref()?.message.as_deref()?;
        // ASCII lowercasing keeps byte offsets, so `at` is valid in `message` too.
        let lower = message.to_ascii_lowercase();
        let at = lower.find("nonexisting field")?;
        let rest = &message[at..];
        let open = rest.find('(')?;
        let close = rest[open..].find(')')?;
        let field = rest[open + 1..open + close].trim();
        (!field.is_empty()).then(|| field.to_owned())
    }
}

fn block_hint(block: MigrationBlock, waba: &str) -> String {
    match block {
        MigrationBlock::WebhooksMissing => format!(
            "subscribe an app to webhooks on destination WABA {waba}: POST /{waba}/subscribed_apps \
             (or App Dashboard → WhatsApp → Configuration), then run wamig apply again"
        ),
        MigrationBlock::NoPaymentMethod => format!(
            "add a payment method to destination WABA {waba} (WhatsApp Manager → Settings → \
             Payment methods, or share a credit line with it), then run wamig apply again"
        ),
        MigrationBlock::DisplayNameNotApproved => "the number's display name must be APPROVED \
             with no pending name change: wait for the review (WhatsApp Manager → Phone numbers), \
             then run wamig apply again"
            .to_owned(),
        MigrationBlock::SourceWabaNotApproved => "the source WABA (and its \"messaging on behalf \
             of\" relationship) must be business-verified and approved: ask its owner to finish \
             business verification and the WABA review, then run wamig apply again"
            .to_owned(),
        MigrationBlock::DifferentBusiness => "the source and destination WABAs must belong to \
             the same business (Business Manager): use a destination WABA of the number's \
             business, or migrate through Embedded Signup"
            .to_owned(),
        MigrationBlock::DestinationNotApproved => format!(
            "destination WABA {waba} must pass business verification and the WABA review \
             (account_review_status APPROVED) before numbers can move into it; run wamig apply \
             again once it has"
        ),
        MigrationBlock::MessagingForPending => format!(
            "the client must accept the \"Messaging for\" request of destination WABA {waba} \
             (Business Settings → Requests), then run wamig apply again"
        ),
        MigrationBlock::EligibleToAddDirectly => "Meta says this number needs no migration: \
             add and register it directly in the destination WABA, and remove it from the \
             manifest"
            .to_owned(),
        MigrationBlock::TwoStepVerificationEnabled => "turn off two-step verification for this \
             number in WhatsApp Manager (Phone numbers → Two-step verification → Turn off), then \
             run wamig apply again"
            .to_owned(),
        MigrationBlock::TestNumber => "WhatsApp test numbers cannot be migrated: remove this \
             number from the manifest (a test number cannot move between WABAs)"
            .to_owned(),
        MigrationBlock::BusinessAppNumber => "this number is in use with the WhatsApp Business \
             app, which the migration API cannot move: onboard it with Meta's WhatsApp Business \
             app flow (coexistence) instead, and remove it from the manifest"
            .to_owned(),
        MigrationBlock::Generic => "Meta could not migrate this number: run wamig apply again \
             later; if it keeps failing, contact Meta support with the fbtrace_id"
            .to_owned(),
    }
}

/// "2 min", "1 h 5 min", "45 s".
pub(crate) fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        format!("{} ms", d.as_millis())
    } else if secs < 60 {
        format!("{secs} s")
    } else if secs < 3600 {
        format!("{} min", secs.div_ceil(60))
    } else {
        let minutes = (secs % 3600).div_ceil(60);
        if minutes == 0 { format!("{} h", secs / 3600) } else { format!("{} h {} min", secs / 3600, minutes) }
    }
}

fn retry_time(wait: Duration) -> String {
    let now = jiff::Timestamp::now();
    match jiff::SignedDuration::try_from(wait).ok().and_then(|d| now.checked_add(d).ok()) {
        Some(at) => format!("{} UTC", at.strftime("%H:%M")),
        None => "later".to_owned(),
    }
}

/// The first bytes of a body, printable and scrubbed, for errors about garbled answers.
pub(crate) fn excerpt(body: &[u8], scrub: &dyn Fn(&str) -> String) -> String {
    const MAX: usize = 200;
    if body.is_empty() {
        return "(empty body)".to_owned();
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX * 4)]);
    let mut cleaned: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    cleaned = scrub(&cleaned);
    let mut out: String = cleaned.chars().take(MAX).collect();
    if cleaned.chars().count() > MAX || body.len() > MAX * 4 {
        out.push('…');
    }
    format!("{:?}", out.trim())
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for GraphError {}

impl ToDiagnostics for GraphError {
    fn diagnostics(&self) -> Vec<Diagnostic> {
        let mut diagnostic = Diagnostic::new(self.message()).with_hint(self.hint());
        for cause in self.causes() {
            diagnostic = diagnostic.with_cause(cause);
        }
        vec![diagnostic]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn api(value: Value) -> ApiError {
        ApiError::from_value(&value).expect("an error envelope")
    }

    fn class_of(status: u16, value: Value, op: Operation) -> ErrorClass {
        classify(Some(status), &api(value), op)
    }

    fn migration_2388103(title: &str, msg: &str) -> Value {
        json!({"error": {
            "message": "(#2388103) Error migrating phone number",
            "type": "OAuthException",
            "code": 2388103,
            "error_user_title": title,
            "error_user_msg": msg,
            "fbtrace_id": "AbCdEfGh123"
        }})
    }

    #[test]
    fn envelope_parses_every_field_and_odd_shapes() {
        let a = api(json!({"error": {
            "message": "(#130429) Rate limit hit", "type": "OAuthException", "code": 130429,
            "error_data": {"messaging_product": "whatsapp", "details": "Cloud API throughput reached"},
            "error_subcode": 2494055, "error_user_title": "T", "error_user_msg": "M",
            "is_transient": true, "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam"}}));
        assert_eq!(a.code, Some(130429));
        assert_eq!(a.error_subcode, Some(2494055));
        assert_eq!(a.details.as_deref(), Some("Cloud API throughput reached"));
        assert_eq!(a.is_transient, Some(true));
        assert_eq!(a.fbtrace_id.as_deref(), Some("Az8or2yhqkZfEZ-_4Qn_Bam"));
        assert_eq!(a.kind.as_deref(), Some("OAuthException"));

        // Codes as strings, error_data as a JSON-encoded string.
        let b = api(json!({"error": {"code": "100", "error_subcode": "33",
            "error_data": "{\"details\":\"nested\"}"}}));
        assert_eq!(b.code, Some(100));
        assert_eq!(b.error_subcode, Some(33));
        assert_eq!(b.details.as_deref(), Some("nested"));

        assert!(ApiError::from_body(b"<html>502 Bad Gateway</html>").is_none());
        assert!(ApiError::from_body(b"{\"error\": \"just a string\"}").is_none());
        assert!(ApiError::from_body(b"").is_none());
    }

    #[test]
    fn auth_permission_not_found() {
        let r = Operation::Read;
        assert_eq!(
            class_of(
                401,
                json!({"error": {"message": "Error validating access token: Session has expired on Friday, 12-Sep-26 10:00:00 PDT.",
                "type": "OAuthException", "code": 190, "error_subcode": 463, "fbtrace_id": "x"}}),
                Operation::VerifyCode
            ),
            ErrorClass::Auth,
            "an expired token on verify_code is not an expired code"
        );
        for code in [102, 0] {
            assert_eq!(
                class_of(
                    400,
                    json!({"error": {"message": "auth", "type": "OAuthException", "code": code}}),
                    r
                ),
                ErrorClass::Auth
            );
        }
        let code_2500 = |message: &str| {
            class_of(400, json!({"error": {"message": message, "type": "OAuthException", "code": 2500}}), r)
        };
        assert_eq!(
            code_2500("An active access token must be used to query information about the current user."),
            ErrorClass::Auth
        );
        // The same code for a request Graph cannot parse is not a credentials problem.
        assert_eq!(code_2500("Unknown path components: /me/feed"), ErrorClass::InvalidParameter);
        assert_eq!(
            code_2500("Syntax error \"Expected end of string instead of \"{\".\" at character 4: id}{"),
            ErrorClass::InvalidParameter
        );
        for code in [10, 200, 294, 299, 3] {
            assert_eq!(
                class_of(
                    403,
                    json!({"error": {"message": "(#200) Permissions error", "type": "OAuthException", "code": code}}),
                    r
                ),
                ErrorClass::Permission,
                "code {code}"
            );
        }
        assert_eq!(
            class_of(
                404,
                json!({"error": {"message": "Phone number not found", "type": "GraphMethodException", "code": 803}}),
                r
            ),
            ErrorClass::NotFound
        );
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "Unsupported get request. Object with ID '123' does not exist, cannot be loaded due to missing permissions, or does not support this operation.",
                "type": "GraphMethodException", "code": 100, "error_subcode": 33}}),
                r
            ),
            ErrorClass::NotFound
        );
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "Invalid appsecret_proof provided in the API argument", "type": "GraphMethodException", "code": 100}}),
                r
            ),
            ErrorClass::AppSecretProof
        );
        let code_104 = |message: &str| {
            class_of(400, json!({"error": {"message": message, "type": "OAuthException", "code": 104}}), r)
        };
        assert_eq!(code_104("Incorrect signature"), ErrorClass::AppSecretProof);
        assert_eq!(code_104("An access token is required to request this resource."), ErrorClass::Auth);
    }

    #[test]
    fn throttling_and_transient() {
        let r = Operation::Read;
        for code in [4, 17, 32, 613, 80007, 80008, 130429] {
            assert_eq!(
                class_of(
                    400,
                    json!({"error": {"message": "(#80008) There have been too many calls to this WhatsApp Business account. Wait a bit and try again.",
                    "type": "OAuthException", "code": code}}),
                    r
                ),
                ErrorClass::Throttled,
                "code {code}"
            );
        }
        for code in [1, 2, 131016] {
            assert_eq!(
                class_of(
                    500,
                    json!({"error": {"message": "An unexpected error has occurred. Please retry your request later.",
                    "type": "OAuthException", "code": code, "is_transient": true}}),
                    r
                ),
                ErrorClass::Transient
            );
        }
        assert_eq!(
            class_of(400, json!({"error": {"message": "odd", "code": 9999, "is_transient": true}}), r),
            ErrorClass::Transient
        );
        assert_eq!(
            class_of(503, json!({"error": {"message": "odd", "code": 9999}}), r),
            ErrorClass::Transient
        );
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100}}),
                r
            ),
            ErrorClass::InvalidParameter
        );
        assert_eq!(
            class_of(418, json!({"error": {"message": "teapot", "code": 9999}}), r),
            ErrorClass::Other
        );
    }

    #[test]
    fn migration_codes() {
        let w = Operation::InitiateMigration;
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "(#2388012) Phone number already exists in your account",
                "type": "OAuthException", "code": 2388012, "fbtrace_id": "t"}}),
                w
            ),
            ErrorClass::AlreadyInDestination
        );
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "Invalid parameter", "type": "OAuthException", "code": 100,
                "error_subcode": 2388012}}),
                w
            ),
            ErrorClass::AlreadyInDestination,
            "migration codes also arrive as subcodes"
        );
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100,
                "error_user_title": "Duplicate phone number",
                "error_user_msg": "This phone number is already registered to a WhatsApp Business Account."}}),
                w
            ),
            ErrorClass::MigrationAlreadyStarted
        );
        for code in [2388091, 2388093] {
            assert_eq!(
                class_of(
                    400,
                    json!({"error": {"message": "Phone number not eligible for registration code", "code": code}}),
                    Operation::RequestCode
                ),
                ErrorClass::NotBeingMigrated
            );
        }
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "(#2494100) Phone number is in maintenance mode. Try again in a few minutes.",
                "code": 2494100}}),
                w
            ),
            ErrorClass::Maintenance
        );
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "(#136024) Phone number already verified", "code": 136024}}),
                Operation::RequestCode
            ),
            ErrorClass::AlreadyVerified
        );
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "(#133005) Two step verification PIN Mismatch",
                "code": 133005, "error_data": {"details": "Two step verification PIN incorrect"}}}),
                Operation::Register
            ),
            ErrorClass::WrongPin,
            "a PIN mismatch mentions two-step but is not the 2FA block"
        );
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "(#133006) Phone number re-verification needed", "code": 133006}}),
                Operation::Register
            ),
            ErrorClass::VerifyBeforeRegister
        );
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "(#133016) Account register deregister rate limit exceeded", "code": 133016}}),
                Operation::Register
            ),
            ErrorClass::RegisterLimit
        );
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "Invalid parameter", "type": "OAuthException", "code": 100,
                "error_subcode": 2388001, "error_user_title": "Cannot Create Certificate",
                "error_user_msg": "The certificate for this phone number could not be created."}}),
                Operation::Register
            ),
            ErrorClass::DisplayNameProvisioning
        );
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "(#133008) Too many two step verification PIN guesses for this phone number",
                "code": 133008, "error_data": {"details": "Try again after 2 hours"}}}),
                Operation::Register
            ),
            ErrorClass::TooManyAttempts
        );
    }

    #[test]
    fn every_2388103_cause_is_told_apart() {
        use MigrationBlock::*;
        let cases = [
            (
                "Webhooks not set up",
                "Webhooks have not been set up for the destination WhatsApp Business Account. Subscribe an app to webhooks and try again.",
                WebhooksMissing,
            ),
            (
                "Payment method missing",
                "The destination WhatsApp Business Account has no payment account. Share a credit line with the client and try again.",
                NoPaymentMethod,
            ),
            (
                "Display name not approved",
                "The phone number must have an approved display name and no pending display name change request.",
                DisplayNameNotApproved,
            ),
            (
                "Source account not set up",
                "The source WhatsApp Business Account and its messaging on behalf of relationship must be approved.",
                SourceWabaNotApproved,
            ),
            (
                "Phone number belongs to another business",
                "This phone number belongs to a different Business Manager account. Source and destination must represent the same business.",
                DifferentBusiness,
            ),
            (
                "Destination account not approved",
                "The destination WhatsApp Business Account must pass business verification and review before phone numbers can be migrated to it.",
                DestinationNotApproved,
            ),
            (
                "Messaging For request pending",
                "The Messaging For request of the destination WhatsApp Business Account must be accepted by the client.",
                MessagingForPending,
            ),
            (
                "Migration not needed",
                "This phone number is eligible to be added directly. Migration APIs are not needed.",
                EligibleToAddDirectly,
            ),
            (
                "Two-step verification enabled",
                "Two-step verification must be disabled for this phone number before it can be migrated.",
                TwoStepVerificationEnabled,
            ),
            (
                "Test numbers can't be migrated",
                "This is a WhatsApp test phone number (account_mode SANDBOX). Test numbers can't be migrated.",
                TestNumber,
            ),
            (
                "Number in use with the WhatsApp Business app",
                "This phone number is in use with the WhatsApp Business app and can't be migrated with this API. Onboard it with the WhatsApp Business app flow instead.",
                BusinessAppNumber,
            ),
            (
                "Error migrating phone number",
                "There was an error migrating this phone number. Please try again later.",
                Generic,
            ),
            (
                "Error migrating phone number",
                "There was an error migrating this phone number: it is already being migrated to another WhatsApp Business Account. Try again later; if the problem continues, contact support.",
                Generic,
            ),
        ];
        for (title, msg, expected) in cases {
            assert_eq!(
                class_of(400, migration_2388103(title, msg), Operation::InitiateMigration),
                ErrorClass::MigrationBlocked(expected),
                "{title}"
            );
        }
        // Wording varies: key phrases in details only, upper case, 2FA spelling.
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "(#2388103) Error", "code": 2388103,
                "error_data": {"details": "WEBHOOKS HAVE NOT BEEN SET UP"}}}),
                Operation::InitiateMigration
            ),
            ErrorClass::MigrationBlocked(WebhooksMissing)
        );
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "Please disable 2FA on the number", "code": 2388103}}),
                Operation::InitiateMigration
            ),
            ErrorClass::MigrationBlocked(TwoStepVerificationEnabled)
        );
    }

    #[test]
    fn two_step_text_without_a_known_code() {
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "Two-step authentication must be disabled for this phone number",
                "code": 100}}),
                Operation::InitiateMigration
            ),
            ErrorClass::MigrationBlocked(MigrationBlock::TwoStepVerificationEnabled)
        );
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "Certificate can be downloaded only after confirming ownership of a phone number that is being migrated",
                "code": 100}}),
                Operation::Register
            ),
            ErrorClass::VerifyBeforeRegister
        );
    }

    #[test]
    fn verification_code_texts() {
        let v = Operation::VerifyCode;
        // Meta's OpenAPI example (HTTP 422).
        assert_eq!(
            class_of(
                422,
                json!({"error": {"message": "The verification code is invalid or has expired",
                "type": "GraphMethodException", "code": 100, "error_user_title": "Verification Failed",
                "error_user_msg": "The verification code you entered is invalid or has expired"}}),
                v
            ),
            ErrorClass::WrongCode
        );
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "(#136025) Verification code expired. Request a new code.", "code": 136025}}),
                v
            ),
            ErrorClass::CodeExpired
        );
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "(#136025) Code couldn't be verified, You have entered a wrong code", "code": 136025}}),
                v
            ),
            ErrorClass::WrongCode
        );
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "Invalid parameter", "code": 100, "error_user_msg": "The code you entered is incorrect."}}),
                v
            ),
            ErrorClass::WrongCode
        );
        // Meta's OpenAPI example for HTTP 429 on verify_code uses the throttling code 4.
        assert_eq!(
            class_of(
                429,
                json!({"error": {"message": "Too many verification attempts. Please try again later",
                "type": "OAuthException", "code": 4, "error_subcode": 2446079, "is_transient": true}}),
                v
            ),
            ErrorClass::TooManyAttempts
        );
        // The same code 100 about `code_method` on a read is just a parameter problem.
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "(#100) Param code_method must be one of {SMS, VOICE}", "code": 100}}),
                Operation::RequestCode
            ),
            ErrorClass::InvalidParameter
        );
    }

    fn error_for(op: Operation, node: &str, value: Value) -> GraphError {
        GraphError::from_response(
            RequestInfo {
                method: "POST".into(),
                path: format!("/v23.0/{node}/phone_numbers"),
                op,
                node_id: Some(node.into()),
            },
            400,
            value.to_string().as_bytes(),
            &|s: &str| s.replace("canary-token-secret", "<redacted>"),
        )
    }

    #[test]
    fn hints_name_the_waba_and_say_what_to_do() {
        let e = error_for(
            Operation::InitiateMigration,
            "104996122399160",
            migration_2388103("Webhooks", "Webhooks have not been set up"),
        );
        assert_eq!(
            e.hint(),
            "subscribe an app to webhooks on destination WABA 104996122399160: POST \
             /104996122399160/subscribed_apps (or App Dashboard → WhatsApp → Configuration), \
             then run wamig apply again"
        );
        let e = error_for(
            Operation::InitiateMigration,
            "1",
            migration_2388103("2FA", "Two-step verification must be disabled"),
        );
        assert_eq!(
            e.hint(),
            "turn off two-step verification for this number in WhatsApp Manager (Phone numbers → \
             Two-step verification → Turn off), then run wamig apply again"
        );
        let e = error_for(
            Operation::InitiateMigration,
            "5",
            json!({"error": {"message": "Duplicate", "code": 100, "error_user_title": "Duplicate phone number"}}),
        );
        assert!(e.hint().contains("GET /5/phone_numbers"), "{}", e.hint());
        let throttled = error_for(
            Operation::Read,
            "5",
            json!({"error": {"message": "(#80008) too many calls", "code": 80008}}),
        )
        .with_retry_after(Some(Duration::from_secs(300)));
        assert!(
            throttled.hint().starts_with("Meta is rate-limiting this app; retry after 5 min"),
            "{}",
            throttled.hint()
        );
        // Every class has a non-empty hint.
        for class in [
            ErrorClass::Auth,
            ErrorClass::RegisterLimit,
            ErrorClass::DisplayNameProvisioning,
            ErrorClass::CodeExpired,
        ] {
            let mut e = error_for(Operation::Read, "5", json!({"error": {"code": 1}}));
            e.0.class = class;
            assert!(e.hint().len() > 30);
        }
    }

    #[test]
    fn diagnostics_carry_codes_trace_and_scrubbed_text() {
        let e = error_for(
            Operation::InitiateMigration,
            "104996122399160",
            json!({"error": {"message": "(#2388103) Error migrating phone number for token canary-token-secret",
            "code": 2388103, "error_subcode": 2388103, "error_user_title": "Webhooks missing",
            "error_user_msg": "Webhooks have not been set up", "error_data": {"details": "see docs"},
            "fbtrace_id": "AbC123"}}),
        );
        let d = e.diagnostics().remove(0);
        assert_eq!(
            d.message,
            "POST /v23.0/104996122399160/phone_numbers: (#2388103) Error migrating phone number \
             for token <redacted> (code 2388103, subcode 2388103, HTTP 400)"
        );
        assert_eq!(
            d.causes,
            vec![
                "Webhooks missing: Webhooks have not been set up".to_owned(),
                "details: see docs".to_owned(),
                "fbtrace_id: AbC123".to_owned()
            ]
        );
        assert!(d.hint.unwrap().contains("subscribed_apps"));
    }

    #[test]
    fn garbled_bodies_keep_status_and_a_scrubbed_excerpt() {
        let info = RequestInfo {
            method: "GET".into(),
            path: "/v23.0/1".into(),
            op: Operation::Read,
            node_id: Some("1".into()),
        };
        let scrub = |s: &str| s.replace("canary-token-secret", "<redacted>");
        let e = GraphError::from_response(
            info.clone(),
            502,
            b"<html>Bad Gateway canary-token-secret</html>",
            &scrub,
        );
        assert_eq!(e.class(), ErrorClass::Transient);
        assert!(e.message().contains("HTTP 502"));
        assert!(e.message().contains("<redacted>"));
        assert!(!e.message().contains("canary-token-secret"));
        let e = GraphError::from_response(info, 400, &[0xff, 0xfe, 0x00, b'x'], &scrub);
        assert_eq!(e.class(), ErrorClass::InvalidResponse);
        let long = vec![b'a'; 10_000];
        assert!(excerpt(&long, &scrub).chars().count() < 220);
    }

    #[test]
    fn write_rules() {
        let mut e = error_for(
            Operation::Register,
            "1",
            json!({"error": {"message": "unexpected", "code": 2, "is_transient": true}}),
        );
        assert!(e.may_have_taken_effect());
        assert!(!e.is_retryable_write());
        e.0.class = ErrorClass::Throttled;
        assert!(e.is_retryable_write());
        assert!(!e.may_have_taken_effect());
        let read = error_for(Operation::Read, "1", json!({"error": {"message": "unexpected", "code": 2}}));
        assert!(read.is_retryable_read());
        assert!(!read.may_have_taken_effect());
    }

    #[test]
    fn nonexisting_field_is_named() {
        let e = error_for(
            Operation::Read,
            "1",
            json!({"error": {"message": "(#100) Tried accessing nonexisting field (is_pin_enabled) on node type (WhatsAppBusinessPhoneNumber)",
            "type": "OAuthException", "code": 100}}),
        );
        assert_eq!(e.nonexisting_field().as_deref(), Some("is_pin_enabled"));
        // Non-ASCII text before the phrase must not shift the offsets (nor panic).
        let e = error_for(
            Operation::Read,
            "1",
            json!({"error": {"message": "İİİ Tried accessing nonexisting field (x_y) on node", "code": 100}}),
        );
        assert_eq!(e.nonexisting_field().as_deref(), Some("x_y"));
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(Duration::from_millis(5)), "5 ms");
        assert_eq!(human_duration(Duration::from_secs(59)), "59 s");
        assert_eq!(human_duration(Duration::from_secs(61)), "2 min");
        assert_eq!(human_duration(Duration::from_secs(3600)), "1 h");
        assert_eq!(human_duration(Duration::from_secs(3900)), "1 h 5 min");
    }
}
