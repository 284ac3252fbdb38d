//! Owns decoding request parameters: the query string and form, multipart or JSON bodies, as
//! Graph accepts them. It must not interpret any parameter.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::http::{HeaderMap, Uri, header};
use serde_json::Value;

use crate::sandbox::envelope::GraphError;

/// Query string and body parameters together; the body wins on a clash.
pub(super) fn parse_params(
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

pub(super) fn decode_json(text: &str) -> Result<Vec<(String, String)>, GraphError> {
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

pub(super) fn decode_form(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

pub(super) fn percent_decode(text: &str) -> String {
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
pub(super) fn decode_multipart(content_type: &str, body: &[u8]) -> Result<Vec<(String, String)>, GraphError> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
