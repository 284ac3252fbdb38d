//! Owns the `Secret` wrapper for tokens, app secrets, verification codes and PINs.
//! Its `Debug` and `Display` print a redaction, so a secret cannot reach a log, an error message,
//! a plan or the journal by accident; code that really needs the value calls `expose()`.

use std::fmt;

/// A string that must never be printed. `expose()` is the only way to read it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

/// Replaces every occurrence of each secret in `text` with `<redacted>`; a last line of defence
/// for text that came from outside (a Graph error message echoing a parameter, say). A server
/// may echo a secret the way it travelled, so its URL-encoded and form-encoded forms (either
/// case of hex digits), its JSON-escaped form and its form-decoded form (`+` read as a space)
/// are redacted too.
pub fn scrub(text: &str, secrets: &[&Secret]) -> String {
    let mut out = text.to_owned();
    for secret in secrets {
        let value = secret.expose();
        if value.len() < 4 {
            continue;
        }
        let mut forms = encoded_forms(value);
        // A longer form may contain a shorter one; replace the longer first.
        forms.sort_by_key(|form| std::cmp::Reverse(form.len()));
        for form in forms {
            if out.contains(&form) {
                out = out.replace(&form, "<redacted>");
            }
        }
    }
    out
}

/// The ways a value may come back: as is, percent-encoded as a URL component, form-encoded
/// (`application/x-www-form-urlencoded`, space as `+`), each with upper- and lower-case hex,
/// with `/` escaped as JSON allows, and with `+` decoded to a space.
fn encoded_forms(value: &str) -> Vec<String> {
    let percent = |keep: fn(u8) -> bool, space_plus: bool, lower: bool| {
        let mut out = String::with_capacity(value.len() * 3);
        for byte in value.bytes() {
            if keep(byte) {
                out.push(char::from(byte));
            } else if space_plus && byte == b' ' {
                out.push('+');
            } else if lower {
                out.push_str(&format!("%{byte:02x}"));
            } else {
                out.push_str(&format!("%{byte:02X}"));
            }
        }
        out
    };
    let url_unreserved = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
    let form_unreserved = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'*' | b'-' | b'.' | b'_');
    let mut forms = vec![
        value.to_owned(),
        percent(url_unreserved, false, false),
        percent(url_unreserved, false, true),
        percent(form_unreserved, true, false),
        percent(form_unreserved, true, true),
        value.replace('/', "\\/"),
        value.replace('+', " "),
    ];
    forms.sort();
    forms.dedup();
    forms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let secret = Secret::new("canary-token-123456");
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
        assert_eq!(format!("{secret}"), "<redacted>");
        assert_eq!(secret.expose(), "canary-token-123456");
    }

    #[test]
    fn scrub_redacts_the_encoded_forms_a_server_may_echo() {
        let token = Secret::new("EAAb+c/d=e+f==");
        for echoed in [
            "EAAb+c/d=e+f==",
            "EAAb%2Bc%2Fd%3De%2Bf%3D%3D",
            "EAAb%2bc%2fd%3de%2bf%3d%3d",
            "EAAb+c\\/d=e+f==",
            "EAAb c/d=e f==",
        ] {
            let text = format!("Invalid OAuth access token - Cannot parse access token: {echoed}.");
            let scrubbed = scrub(&text, &[&token]);
            assert_eq!(
                scrubbed, "Invalid OAuth access token - Cannot parse access token: <redacted>.",
                "{echoed}"
            );
        }
    }

    #[test]
    fn scrub_replaces_every_occurrence() {
        let pin = Secret::new("123456");
        assert_eq!(scrub("pin 123456 and 123456", &[&pin]), "pin <redacted> and <redacted>");
    }
}
