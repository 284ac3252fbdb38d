//! Owns Meta's error envelope `{"error": {...}}`: reading it out of a body whatever odd shape
//! Graph sends, and scrubbing its texts. It must not classify (that is `classify.rs`) nor say
//! what a user should do (hints live with the commands, in `crate::hints`).

use serde::Serialize;
use serde_json::Value;

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

    pub(super) fn has(&self, code: i64) -> bool {
        self.code == Some(code) || self.error_subcode == Some(code)
    }

    /// Every text Meta sent, lowercased, for phrase matching (Meta's wording varies between
    /// versions and between `message`, the user title/message and `details`).
    pub(super) fn haystack(&self) -> String {
        [&self.message, &self.error_user_title, &self.error_user_msg, &self.details]
            .iter()
            .filter_map(|t| t.as_deref())
            .collect::<Vec<_>>()
            .join(" \u{2022} ")
            .to_lowercase()
    }

    pub(super) fn scrub(self, scrub: &dyn Fn(&str) -> String) -> ApiError {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn api(value: Value) -> ApiError {
        ApiError::from_value(&value).expect("an error envelope")
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
}
