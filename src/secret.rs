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
/// for text that came from outside (a Graph error message echoing a parameter, say).
pub fn scrub(text: &str, secrets: &[&Secret]) -> String {
    let mut out = text.to_owned();
    for secret in secrets {
        let value = secret.expose();
        if value.len() >= 4 {
            out = out.replace(value, "<redacted>");
        }
    }
    out
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
    fn scrub_replaces_every_occurrence() {
        let pin = Secret::new("123456");
        assert_eq!(scrub("pin 123456 and 123456", &[&pin]), "pin <redacted> and <redacted>");
    }
}
