//! Owns Graph's cursor paging shapes (`{"data": [...], "paging": {...}}`) and the safety rules
//! for following a `paging.next` link: it must stay on the scheme, host and port of the
//! configured base URL (the bearer token goes with it), and any `access_token` or
//! `appsecret_proof` Graph put into it is dropped (the client adds its own proof; the token
//! never travels in a URL). The loop that follows the links lives in `client.rs`.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use reqwest::Url;

use super::error::GraphError;

/// One page of an edge, or an expanded edge inside a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound(deserialize = "T: serde::de::DeserializeOwned"))]
pub struct Edge<T> {
    #[serde(default = "Vec::new", deserialize_with = "data_items")]
    pub data: Vec<T>,
    #[serde(default, deserialize_with = "lenient_paging")]
    pub paging: Option<Paging>,
}

impl<T> Default for Edge<T> {
    fn default() -> Self {
        Edge { data: Vec::new(), paging: None }
    }
}

impl<T> Edge<T> {
    pub fn next(&self) -> Option<&str> {
        self.paging.as_ref().and_then(|p| p.next.as_deref()).filter(|n| !n.is_empty())
    }
}

/// `data` must be an array; an item that does not fit `T` is an error (every node type here is
/// lenient, so that means the answer is not what Graph sends).
fn data_items<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    match Value::deserialize(d)? {
        Value::Array(items) => items
            .into_iter()
            .map(|item| serde_json::from_value(item).map_err(serde::de::Error::custom))
            .collect(),
        Value::Null => Ok(Vec::new()),
        other => Err(serde::de::Error::custom(format!("`data` is not a list but {}", kind_of(&other)))),
    }
}

fn lenient_paging<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Paging>, D::Error> {
    Ok(serde_json::from_value(Value::deserialize(d)?).ok())
}

pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Paging {
    pub cursors: Option<Cursors>,
    pub next: Option<String>,
    pub previous: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Cursors {
    pub before: Option<String>,
    pub after: Option<String>,
}

/// Parameters never taken over from a paging link.
const DROPPED_PARAMS: &[&str] = &["access_token", "appsecret_proof"];

/// Checks a `paging.next` link against the base URL and strips credentials from it.
pub fn sanitize_next(base: &Url, next: &str) -> Result<Url, GraphError> {
    let url = Url::parse(next).map_err(|_| {
        GraphError::invalid_response(
            None,
            None,
            "Graph sent a paging link that is not an absolute URL".to_owned(),
        )
    })?;
    let same_origin = url.scheme() == base.scheme()
        && url.host_str() == base.host_str()
        && url.port_or_known_default() == base.port_or_known_default();
    if !same_origin {
        return Err(GraphError::invalid_response(
            None,
            None,
            format!(
                "refusing to follow a paging link to {}://{} (the base URL is {}://{}): the \
                 access token would go there",
                url.scheme(),
                url.host_str().unwrap_or("?"),
                base.scheme(),
                base.host_str().unwrap_or("?"),
            ),
        ));
    }
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !DROPPED_PARAMS.contains(&k.as_ref()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut clean = url.clone();
    clean.set_fragment(None);
    if kept.is_empty() {
        clean.set_query(None);
    } else {
        clean.query_pairs_mut().clear().extend_pairs(kept);
    }
    Ok(clean)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ErrorClass;
    use serde_json::json;

    fn base() -> Url {
        Url::parse("https://graph.facebook.com").unwrap()
    }

    #[test]
    fn next_links_stay_on_the_base_origin() {
        let ok = sanitize_next(
            &base(),
            "https://graph.facebook.com/v23.0/1/phone_numbers?fields=id&limit=100&after=QVFIUl&access_token=canary-token-leak&appsecret_proof=abc",
        )
        .unwrap();
        assert_eq!(
            ok.as_str(),
            "https://graph.facebook.com/v23.0/1/phone_numbers?fields=id&limit=100&after=QVFIUl"
        );
        assert!(sanitize_next(&base(), "https://graph.facebook.com:443/v23.0/x").is_ok());
        for bad in [
            "http://graph.facebook.com/v23.0/1",
            "https://evil.example.com/v23.0/1",
            "https://graph.facebook.com:8443/v23.0/1",
            "/v23.0/1/phone_numbers?after=x",
            "not a url",
        ] {
            let e = sanitize_next(&base(), bad).unwrap_err();
            assert_eq!(e.class(), ErrorClass::InvalidResponse, "{bad}");
        }
        let local = Url::parse("http://127.0.0.1:4010").unwrap();
        assert!(sanitize_next(&local, "http://127.0.0.1:4010/v23.0/1?after=x").is_ok());
        assert!(sanitize_next(&local, "http://127.0.0.1:4011/v23.0/1?after=x").is_err());
        assert!(sanitize_next(&local, "http://localhost:4010/v23.0/1?after=x").is_err());
    }

    #[test]
    fn edges_parse_and_reject_non_lists() {
        let edge: Edge<Value> = serde_json::from_value(json!({
            "data": [{"id": "1"}],
            "paging": {"cursors": {"before": "a", "after": "b"}, "next": "https://x/y"}
        }))
        .unwrap();
        assert_eq!(edge.data.len(), 1);
        assert_eq!(edge.next(), Some("https://x/y"));
        let empty: Edge<Value> = serde_json::from_value(json!({"data": []})).unwrap();
        assert_eq!(empty.next(), None);
        let odd: Edge<Value> = serde_json::from_value(json!({"data": [], "paging": "weird"})).unwrap();
        assert_eq!(odd.paging, None);
        assert!(serde_json::from_value::<Edge<Value>>(json!({"data": {"id": 1}})).is_err());
    }
}
