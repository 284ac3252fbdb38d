//! Owns what a `--state` / `WAMIG_STATE` value means: a local journal file, or a shared journal
//! under a prefix of an S3, GCS or Azure bucket. A value that looks like a URL is never taken for
//! a path: an unknown scheme or a malformed URL is an error. Pure: no I/O here.

use std::ffi::OsStr;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::StateError;

/// How long a shared lock lasts unless its holder renews it. A runner that is killed or
/// cancelled leaves its lock for at most this long; the holder renews it every third of it.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(180);

/// Where the journal lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateLocation {
    File(PathBuf),
    Shared(SharedLocation),
}

/// A journal kept in an object store, and how long a lock taken there lasts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedLocation {
    pub url: ObjectUrl,
    pub lease: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    S3,
    Gcs,
    Azure,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::S3 => "s3",
            Scheme::Gcs => "gs",
            Scheme::Azure => "az",
        }
    }
}

/// `s3://bucket/prefix`, `gs://bucket/prefix` or `az://container/prefix`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectUrl {
    pub scheme: Scheme,
    /// The bucket (for Azure, the container).
    pub bucket: String,
    /// Segments joined by `/`, without leading or trailing slash; empty for the bucket's root.
    pub prefix: String,
}

impl fmt::Display for ObjectUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme.as_str(), self.bucket)?;
        if !self.prefix.is_empty() {
            write!(f, "/{}", self.prefix)?;
        }
        Ok(())
    }
}

impl fmt::Display for StateLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateLocation::File(path) => write!(f, "{}", path.display()),
            StateLocation::Shared(shared) => write!(f, "{}", shared.url),
        }
    }
}

impl From<PathBuf> for StateLocation {
    fn from(path: PathBuf) -> Self {
        StateLocation::File(path)
    }
}

impl StateLocation {
    /// Reads a `--state` value. A path is anything that does not look like a URL; a URL is
    /// `scheme:` followed by `/`, or one of wamig's own schemes followed by anything. A
    /// one-letter scheme is a Windows drive (`C:\state.json`). A local file whose name has a
    /// colon can be given as `./name:with:colon.json`.
    pub fn parse(value: &OsStr) -> Result<StateLocation, StateError> {
        let Some(text) = value.to_str() else { return Ok(StateLocation::File(PathBuf::from(value))) };
        let Some((scheme, rest)) = url_like(text) else {
            return Ok(StateLocation::File(PathBuf::from(text)));
        };
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "s3" => Scheme::S3,
            "gs" => Scheme::Gcs,
            "az" => Scheme::Azure,
            _ => {
                return Err(StateError::UnknownScheme { value: redacted(text), scheme: scheme.to_owned() });
            }
        };
        let url = parse_object_url(scheme, rest)
            .map_err(|reason| StateError::BadUrl { value: redacted(text), reason })?;
        Ok(StateLocation::Shared(SharedLocation { url, lease: DEFAULT_LEASE }))
    }
}

/// `text` fit to be shown in an error: a user and password before the host, or a query (a
/// presigned URL's signature), may be credentials.
fn redacted(text: &str) -> String {
    let (before, after) = match text.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), text),
    };
    let (authority, path) = after.split_at(after.find('/').unwrap_or(after.len()));
    let authority = match authority.rsplit_once('@') {
        Some((_, host)) => format!("<redacted>@{host}"),
        None => authority.to_owned(),
    };
    let path = match path.split_once('?') {
        Some((path, _)) => format!("{path}?<redacted>"),
        None => path.to_owned(),
    };
    format!("{before}{authority}{path}")
}

/// `(scheme, rest after the colon)` when `text` looks like a URL.
fn url_like(text: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = text.split_once(':')?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    let scheme_shaped = first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && scheme.len() >= 2;
    let ours = matches!(scheme.to_ascii_lowercase().as_str(), "s3" | "gs" | "az");
    (scheme_shaped && (rest.starts_with('/') || ours)).then_some((scheme, rest))
}

fn parse_object_url(scheme: Scheme, rest: &str) -> Result<ObjectUrl, String> {
    let example = format!("{}://BUCKET/PREFIX", scheme.as_str());
    let Some(rest) = rest.strip_prefix("//") else {
        return Err(format!("expected {example} (two slashes after the colon)"));
    };
    if rest.contains(['?', '#']) {
        return Err("a query or fragment has no meaning here".to_owned());
    }
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.contains('@') {
        return Err("credentials never go in the URL: they come from the store's environment".to_owned());
    }
    check_bucket(scheme, bucket)?;
    let prefix = prefix.strip_suffix('/').unwrap_or(prefix);
    if !prefix.is_empty() {
        for segment in prefix.split('/') {
            if segment.is_empty() {
                return Err(format!("the prefix \"{prefix}\" has an empty segment (two slashes in a row)"));
            }
            if segment == "." || segment == ".." {
                return Err(format!("the prefix \"{prefix}\" has a \"{segment}\" segment"));
            }
            if segment.chars().any(char::is_control) {
                return Err("the prefix has a control character".to_owned());
            }
        }
    }
    Ok(ObjectUrl { scheme, bucket: bucket.to_owned(), prefix: prefix.to_owned() })
}

/// The naming rules the three stores share (lowercase letters, digits, dots and dashes; 3 to
/// 63 characters), with GCS's underscores and longer dotted names.
fn check_bucket(scheme: Scheme, bucket: &str) -> Result<(), String> {
    let what = if scheme == Scheme::Azure { "container" } else { "bucket" };
    if bucket.is_empty() {
        return Err(format!("the {what} name is missing"));
    }
    let max = if scheme == Scheme::Gcs { 222 } else { 63 };
    let allowed = |c: char| {
        c.is_ascii_lowercase()
            || c.is_ascii_digit()
            || c == '-'
            || (c == '.' && scheme != Scheme::Azure)
            || (c == '_' && scheme == Scheme::Gcs)
    };
    let ends_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if bucket.len() < 3
        || bucket.len() > max
        || !bucket.chars().all(allowed)
        || !ends_ok(bucket.chars().next())
        || !ends_ok(bucket.chars().last())
    {
        return Err(format!(
            "\"{bucket}\" is not a valid {what} name (3 to {max} lowercase letters, digits{}, starting and ending with a letter or digit)",
            match scheme {
                Scheme::S3 => ", dots and dashes",
                Scheme::Gcs => ", dots, dashes and underscores",
                Scheme::Azure => " and dashes",
            }
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<StateLocation, StateError> {
        StateLocation::parse(OsStr::new(text))
    }

    fn shared(text: &str) -> ObjectUrl {
        match parse(text) {
            Ok(StateLocation::Shared(shared)) => shared.url,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn paths_stay_paths() {
        for text in
            [".wamig/state.json", "/tmp/state.json", "C:\\state.json", "C:/state.json", "./a:b.json", "state"]
        {
            assert_eq!(parse(text).unwrap(), StateLocation::File(PathBuf::from(text)), "{text}");
        }
    }

    #[test]
    fn the_three_schemes_with_and_without_a_prefix() {
        let url = shared("s3://acme-wamig/prod/eu");
        assert_eq!(
            (url.scheme, url.bucket.as_str(), url.prefix.as_str()),
            (Scheme::S3, "acme-wamig", "prod/eu")
        );
        assert_eq!(url.to_string(), "s3://acme-wamig/prod/eu");
        assert_eq!(shared("gs://acme_wamig/prod/").to_string(), "gs://acme_wamig/prod");
        assert_eq!(shared("az://wamig-state").to_string(), "az://wamig-state");
        assert_eq!(shared("S3://acme-wamig/x").scheme, Scheme::S3);
    }

    #[test]
    fn url_looking_values_that_wamig_does_not_serve_are_errors() {
        for (text, expected) in [
            ("s3:/bucket/prefix", "two slashes"),
            ("s3:bucket", "two slashes"),
            ("s3://", "bucket name is missing"),
            ("s3://Bucket/x", "not a valid bucket name"),
            ("s3://ab/x", "not a valid bucket name"),
            ("az://my.container/x", "not a valid container name"),
            ("s3://key:secret@bucket/x", "credentials never go in the URL"),
            ("s3://bucket/a//b", "empty segment"),
            ("s3://bucket/a/../b", "\"..\" segment"),
            ("s3://bucket/x?versionId=1", "query"),
        ] {
            match parse(text) {
                Err(StateError::BadUrl { reason, .. }) => {
                    assert!(reason.contains(expected), "{text}: {reason}")
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        for text in
            ["file:///tmp/state.json", "https://example.com/state.json", "gcs://bucket/x", "s3a://bucket/x"]
        {
            assert!(matches!(parse(text), Err(StateError::UnknownScheme { .. })), "{text}");
        }
    }
}
