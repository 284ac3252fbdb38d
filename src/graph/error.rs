//! Owns the Graph client's error type: one failed call (or a configuration problem found before
//! any call) with its request, status, envelope and class, the message and causes a user reads,
//! and the retry/outcome questions a caller asks before deciding what to do next.
//! It must not decide *whether* to retry (that is `retry.rs` for reads and the caller for
//! writes), and it never holds a secret: every text that came from outside is scrubbed before it
//! is stored here.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::class::{ConfigProblem, ErrorClass, Operation};
use super::classify::classify;
use super::envelope::ApiError;

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

/// What a failed write tells about its effect ([`GraphError::write_outcome`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteOutcome {
    /// Meta refused it: nothing happened, and the same call would be refused again now.
    Refused,
    /// Nothing happened, and the same call may succeed after a wait.
    NotYet,
    /// It may or may not have happened: read live state back before deciding anything.
    Unknown,
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
    /// For configuration errors, what is wrong, for the application to word the fix.
    problem: Option<ConfigProblem>,
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
            problem: None,
            retry_after: None,
            attempts: 0,
        }))
    }

    pub(crate) fn config(message: impl Into<String>, hint: impl Into<String>) -> GraphError {
        GraphError::local(ErrorClass::Config, message, hint)
    }

    /// A configuration problem whose fix the application words (it names wamig's flags).
    pub(crate) fn misconfigured(message: impl Into<String>, problem: ConfigProblem) -> GraphError {
        GraphError(Box::new(Repr {
            class: ErrorClass::Config,
            request: None,
            http_status: None,
            api: None,
            detail: Some(message.into()),
            hint: None,
            problem: Some(problem),
            retry_after: None,
            attempts: 0,
        }))
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
            problem: None,
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
            problem: None,
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
                    problem: None,
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
                    problem: None,
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

    /// The hint a local error (bad configuration or input, found before any call) was made
    /// with; Graph's own answers have none, their hint is worded by `crate::hints`.
    pub fn local_hint(&self) -> Option<&str> {
        self.0.hint.as_deref()
    }

    /// What a configuration error is about, when the client found one before any call.
    pub fn config_problem(&self) -> Option<ConfigProblem> {
        self.0.problem
    }

    /// Repeating this read may succeed (the retry loop uses it).
    pub fn is_retryable_read(&self) -> bool {
        self.0.class.is_retryable_read()
    }

    /// What a failed write tells about whether Meta acted on it. Only a failure of the transport
    /// (an answer lost or garbled), a 5xx, Graph's codes 1 and 2 and `is_transient: true` leave
    /// the outcome unknown; throttling, maintenance and a connection never made are refusals to
    /// try again later; every other error answer is a definite refusal.
    pub fn write_outcome(&self) -> WriteOutcome {
        let api = self.0.api.as_ref();
        let status = self.0.http_status;
        match self.0.class {
            ErrorClass::OutcomeUnknown => WriteOutcome::Unknown,
            ErrorClass::Network | ErrorClass::Throttled | ErrorClass::Maintenance => WriteOutcome::NotYet,
            _ if status.is_some_and(|s| s >= 500) => WriteOutcome::Unknown,
            _ if matches!(api.and_then(|a| a.code), Some(1 | 2)) => WriteOutcome::Unknown,
            _ if api.and_then(|a| a.is_transient) == Some(true) => WriteOutcome::Unknown,
            // A success answer that could not be read: Meta did act, or may have.
            ErrorClass::InvalidResponse if status.is_none_or(|s| (200..300).contains(&s)) => {
                WriteOutcome::Unknown
            }
            _ => WriteOutcome::Refused,
        }
    }

    /// Repeating this write is safe and may succeed later: Meta certainly did not act on it
    /// (nothing was sent, or Meta refused it before doing anything because of a rate limit or
    /// maintenance). A caller still decides; the client never repeats a write itself.
    pub fn is_retryable_write(&self) -> bool {
        self.write_outcome() == WriteOutcome::NotYet
    }

    /// The write may have happened despite the error: the caller must read live state back
    /// before deciding anything.
    pub fn may_have_taken_effect(&self) -> bool {
        let write = self.0.request.as_ref().is_some_and(|r| r.op.is_write());
        write && self.write_outcome() == WriteOutcome::Unknown
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::{Value, json};

    pub(crate) fn error_for(op: Operation, node: &str, value: Value) -> GraphError {
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
