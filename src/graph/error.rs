//! Owns the Graph client's error type: one failed call (or a configuration problem found before
//! any call) with its request, status, envelope and class, the message and causes a user reads,
//! and the retry/outcome questions a caller asks before deciding what to do next.
//! It must not decide *whether* to retry (that is `retry.rs` for reads and the caller for
//! writes), and it never holds a secret: every text that came from outside is scrubbed before it
//! is stored here.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::class::{ErrorClass, MigrationBlock, Operation};
use super::classify::classify;
use super::envelope::ApiError;
use crate::diag::{Diagnostic, ToDiagnostics};

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
    /// before deciding anything (each step decides from live state, see README.md).
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
    use serde_json::{Value, json};

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
