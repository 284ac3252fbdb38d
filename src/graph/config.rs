//! Owns what the Graph client is configured with and its validation: the base URL (with the
//! loopback rule for plain http), the API version, the token and app secret (and where they are
//! loaded from), timeouts, retry policy, concurrency and the log handle.
//! It performs no requests. The CLI fills a [`GraphConfig`] from its options; see
//! [`GraphConfig::new`] for how.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use reqwest::Url;

use super::class::ConfigProblem;
use super::error::GraphError;
use super::retry::{RetryPolicy, Sleeper};
use crate::secret::Secret;
use crate::ui::Ui;

pub const DEFAULT_GRAPH_URL: &str = "https://graph.facebook.com";
/// The version whose OpenAPI description the client was written against.
pub const DEFAULT_API_VERSION: &str = "v23.0";
pub const ENV_ACCESS_TOKEN: &str = "WAMIG_ACCESS_TOKEN";
pub const ENV_APP_SECRET: &str = "WAMIG_APP_SECRET";
/// The largest token file read.
const MAX_TOKEN_FILE_BYTES: u64 = 64 * 1024;

/// A Graph API version, `vN.0`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApiVersion(String);

impl ApiVersion {
    pub fn parse(text: &str) -> Result<Self, GraphError> {
        let text = text.trim();
        let ok = text.strip_prefix('v').and_then(|rest| rest.strip_suffix(".0")).is_some_and(|major| {
            !major.is_empty()
                && major.len() <= 3
                && major.bytes().all(|b| b.is_ascii_digit())
                && !major.starts_with('0')
        });
        if ok {
            Ok(ApiVersion(text.to_owned()))
        } else {
            Err(GraphError::misconfigured(
                format!("`{text}` is not a Graph API version"),
                ConfigProblem::ApiVersion,
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for ApiVersion {
    fn default() -> Self {
        ApiVersion(DEFAULT_API_VERSION.to_owned())
    }
}

impl FromStr for ApiVersion {
    type Err = GraphError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ApiVersion::parse(s)
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// True for `localhost`, 127.0.0.0/8 and ::1 (also an IPv4-mapped 127.x address).
pub fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return is_loopback_ip(ip);
    }
    let domain = bare.trim_end_matches('.').to_ascii_lowercase();
    domain == "localhost" || domain.ends_with(".localhost")
}

/// Parses and checks `--graph-url`: http(s) only, no credentials, path, query or fragment, and
/// plain http only to a loopback host, so a token never crosses a network in clear text (where
/// the bytes really go is checked again by [`pinned_loopback`] once the name is resolved).
pub fn parse_base_url(text: &str) -> Result<Url, GraphError> {
    let hint = ConfigProblem::GraphUrl;
    let url = Url::parse(text.trim())
        .map_err(|e| GraphError::misconfigured(format!("`{text}` is not a valid Graph URL: {e}"), hint))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(GraphError::misconfigured(
                format!(
                    "refusing plain http:// to {}: the access token would cross the network \
                     in clear text",
                    url.host_str().unwrap_or("?")
                ),
                ConfigProblem::PlainHttp,
            ));
        }
        other => {
            return Err(GraphError::misconfigured(
                format!("the Graph URL must start with https://, not {other}://"),
                hint,
            ));
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(GraphError::misconfigured(format!("the Graph URL `{text}` has no host"), hint));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(GraphError::misconfigured(
            "the Graph URL must not carry credentials",
            ConfigProblem::UrlCredentials,
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(GraphError::misconfigured(
            format!("the Graph URL `{text}` must not have a query or fragment"),
            hint,
        ));
    }
    // wamig adds the version and every path itself: a path here would be sent twice over
    // (`/v23.0/v23.0/...`) and end in a misleading "cannot read the WABA".
    if !matches!(url.path(), "" | "/") {
        return Err(GraphError::misconfigured(
            format!("the Graph URL `{text}` has a path (`{}`); give only the scheme and host", url.path()),
            ConfigProblem::GraphUrlPath,
        ));
    }
    Ok(url)
}

/// How names are resolved to addresses; the system resolver outside tests.
pub type Resolver = fn(&str, u16) -> std::io::Result<Vec<std::net::SocketAddr>>;

/// The system resolver (`getaddrinfo`).
pub fn system_resolver(host: &str, port: u16) -> std::io::Result<Vec<std::net::SocketAddr>> {
    use std::net::ToSocketAddrs;
    Ok((host, port).to_socket_addrs()?.collect())
}

/// For a plain `http://` URL naming a host (`localhost`, `sandbox.localhost`), the addresses
/// the name resolves to, every one of them checked to be loopback, so the client can connect to
/// exactly those: a resolver that maps a loopback name elsewhere must not carry the token there.
/// `None` for https and for literal addresses, which need no resolving.
pub fn pinned_loopback(
    url: &Url,
    resolve: Resolver,
) -> Result<Option<(String, Vec<std::net::SocketAddr>)>, GraphError> {
    let Some(host) = url.domain() else {
        return Ok(None);
    };
    if url.scheme() != "http" {
        return Ok(None);
    }
    let port = url.port_or_known_default().unwrap_or(80);
    let refuse = |why: String| {
        GraphError::misconfigured(
            format!("refusing plain http:// to {host}: {why}"),
            ConfigProblem::LoopbackNameElsewhere,
        )
    };
    let addrs = resolve(host, port).map_err(|e| refuse(format!("the name does not resolve ({e})")))?;
    if addrs.is_empty() {
        return Err(refuse("the name resolves to no address".to_owned()));
    }
    if let Some(outside) = addrs.iter().find(|addr| !is_loopback_ip(addr.ip())) {
        return Err(refuse(format!("it resolves to {}, which is not a loopback address", outside.ip())));
    }
    Ok(Some((host.to_owned(), addrs)))
}

/// Everything a [`super::GraphClient`] needs. Fields are public so callers can adjust defaults;
/// build it with [`GraphConfig::new`] so the URL and version are checked.
///
/// How the CLI wires it:
/// ```ignore
/// let token = graph::load_token(args.token_file.as_deref())?;          // WAMIG_ACCESS_TOKEN / --token-file
/// let version = args.api_version.or(manifest.graph.api_version).unwrap_or(DEFAULT_API_VERSION);
/// let config = GraphConfig::new(&args.graph_url, &version, token)?     // --graph-url / WAMIG_GRAPH_URL
///     .with_app_secret(graph::app_secret_from_env())                    // WAMIG_APP_SECRET
///     .with_ui(ui.clone());
/// let client = GraphClient::new(config)?;
/// ```
#[derive(Clone)]
pub struct GraphConfig {
    pub base_url: Url,
    pub api_version: ApiVersion,
    pub token: Secret,
    pub app_secret: Option<Secret>,
    pub connect_timeout: Duration,
    /// For the whole of one attempt: sending, waiting and reading the answer.
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    /// How many requests of one multi-id read run at once.
    pub max_concurrency: usize,
    pub ui: Option<Ui>,
    pub sleeper: Sleeper,
    pub user_agent: String,
    /// Resolves a loopback name of a plain `http://` URL before its addresses are checked.
    pub resolver: Resolver,
}

impl GraphConfig {
    pub fn new(base_url: &str, api_version: &str, token: Secret) -> Result<Self, GraphError> {
        Ok(GraphConfig {
            base_url: parse_base_url(base_url)?,
            api_version: ApiVersion::parse(api_version)?,
            token: check_token(token, "the access token")?,
            app_secret: None,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            max_concurrency: 4,
            ui: None,
            sleeper: Sleeper::tokio(),
            user_agent: format!("wamig/{}", env!("CARGO_PKG_VERSION")),
            resolver: system_resolver,
        })
    }

    pub fn with_app_secret(mut self, app_secret: Option<Secret>) -> Self {
        self.app_secret = app_secret.filter(|s| !s.expose().trim().is_empty());
        self
    }

    pub fn with_ui(mut self, ui: Ui) -> Self {
        self.ui = Some(ui);
        self
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn with_timeouts(mut self, connect: Duration, request: Duration) -> Self {
        self.connect_timeout = connect;
        self.request_timeout = request;
        self
    }

    /// At most `n` requests in flight at once, for this client and all its clones.
    pub fn with_max_concurrency(mut self, n: usize) -> Self {
        self.max_concurrency = n.max(1);
        self
    }

    pub fn with_sleeper(mut self, sleeper: Sleeper) -> Self {
        self.sleeper = sleeper;
        self
    }
}

impl fmt::Debug for GraphConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphConfig")
            .field("base_url", &self.base_url.as_str())
            .field("api_version", &self.api_version.as_str())
            .field("token", &self.token)
            .field("app_secret", &self.app_secret)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("retry", &self.retry)
            .field("max_concurrency", &self.max_concurrency)
            .finish_non_exhaustive()
    }
}

/// A token must be one visible-ASCII word: anything else would break the Authorization header
/// or be a file with more than the token in it.
fn check_token(token: Secret, what: &str) -> Result<Secret, GraphError> {
    let value = token.expose();
    if value.is_empty() {
        return Err(GraphError::misconfigured(format!("{what} is empty"), ConfigProblem::TokenEmpty));
    }
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(GraphError::misconfigured(
            format!("{what} contains spaces, line breaks or non-ASCII characters"),
            ConfigProblem::TokenNotOneWord,
        ));
    }
    Ok(token)
}

/// Loads the access token: from the file given with `--token-file` (content trimmed), else from
/// `WAMIG_ACCESS_TOKEN`, which holds the token itself. The explicit flag wins over the
/// environment, as flags do everywhere in wamig.
pub fn load_token(token_file: Option<&Path>) -> Result<Secret, GraphError> {
    token_from_sources(std::env::var(ENV_ACCESS_TOKEN).ok(), token_file)
}

/// [`load_token`] with the environment value passed in (for tests and callers that read the
/// environment themselves).
pub fn token_from_sources(
    env_value: Option<String>,
    token_file: Option<&Path>,
) -> Result<Secret, GraphError> {
    if let Some(path) = token_file {
        let shown = path.display();
        // A token is a few hundred characters; the bound keeps `--token-file /dev/zero` (or a
        // FIFO) from reading for ever.
        let content =
            crate::files::read_text_bounded(path, MAX_TOKEN_FILE_BYTES, crate::files::Links::Follow)
                .map_err(|e| {
                    let reason = match (e.kind(), crate::files::refusal(&e)) {
                        (_, Some(refusal)) => refusal.to_string(),
                        (std::io::ErrorKind::NotFound, _) => "no such file".to_owned(),
                        (std::io::ErrorKind::PermissionDenied, _) => "permission denied".to_owned(),
                        _ => e.to_string(),
                    };
                    GraphError::misconfigured(
                        format!("cannot read the token file {shown}: {reason}"),
                        ConfigProblem::TokenFileUnreadable,
                    )
                })?;
        let trimmed = content.trim();
        if trimmed.is_empty() {
            return Err(GraphError::misconfigured(
                format!("the token file {shown} is empty"),
                ConfigProblem::TokenFileEmpty,
            ));
        }
        return check_token(Secret::new(trimmed), &format!("the token in {shown}"));
    }
    match env_value {
        Some(value) if value.trim().is_empty() => Err(GraphError::misconfigured(
            format!("{ENV_ACCESS_TOKEN} is set but empty"),
            ConfigProblem::TokenEnvEmpty,
        )),
        Some(value) => check_token(Secret::new(value.trim()), &format!("the token in {ENV_ACCESS_TOKEN}")),
        None => Err(GraphError::misconfigured("no access token", ConfigProblem::NoToken)),
    }
}

/// `WAMIG_APP_SECRET`, when set and not empty.
pub fn app_secret_from_env() -> Option<Secret> {
    std::env::var(ENV_APP_SECRET).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()).map(Secret::new)
}

/// Whether an IP address is loopback; exposed for callers that check a `--listen` address.
pub fn is_loopback_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ErrorClass;

    #[test]
    fn versions() {
        for ok in ["v23.0", "v9.0", "v100.0", " v25.0 "] {
            assert!(ApiVersion::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["23.0", "v23", "v23.1", "v.0", "vX.0", "v023.0", "", "v23.0/", "v1234.0"] {
            let e = ApiVersion::parse(bad).unwrap_err();
            assert_eq!(e.class(), ErrorClass::Config, "{bad}");
            assert!(crate::hints::graph_hint(&e).contains("v23.0"));
        }
    }

    #[test]
    fn loopback_rule() {
        for ok in [
            "https://graph.facebook.com",
            "https://graph.facebook.com/",
            "http://127.0.0.1:4010",
            "http://127.8.9.10",
            "http://[::1]:4010",
            "http://localhost:4010",
            "http://LOCALHOST.",
            "http://api.localhost",
            "http://[::ffff:127.0.0.1]",
            "https://10.0.0.1",
        ] {
            assert!(parse_base_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://graph.facebook.com",
            "http://10.0.0.1:4010",
            "http://128.0.0.1",
            "http://[::2]",
            "http://localhost.evil.com",
            "ftp://127.0.0.1",
            "graph.facebook.com",
            "https://user:pw@graph.facebook.com",
            "https://graph.facebook.com/?access_token=x",
            "https://graph.facebook.com/v23.0",
            "https://10.0.0.1/prefix",
            "http://127.0.0.1:4010/v23.0/",
        ] {
            let e = parse_base_url(bad).unwrap_err();
            assert_eq!(e.class(), ErrorClass::Config, "{bad}");
        }
        let e = parse_base_url("http://graph.example.com").unwrap_err();
        assert!(e.message().contains("clear text"), "{}", e.message());
        assert!(crate::hints::graph_hint(&e).contains("loopback"));
        let e = parse_base_url("https://graph.facebook.com/v23.0").unwrap_err();
        assert!(e.message().contains("has a path (`/v23.0`)"), "{}", e.message());
        assert!(crate::hints::graph_hint(&e).contains("--api-version"), "{}", crate::hints::graph_hint(&e));
    }

    #[test]
    fn loopback_names_must_resolve_to_loopback_only() {
        use std::net::SocketAddr;
        #[allow(clippy::unnecessary_wraps, reason = "the resolver's signature")]
        fn elsewhere(_: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
            Ok(vec![SocketAddr::from(([127, 0, 0, 1], port)), SocketAddr::from(([10, 0, 0, 7], port))])
        }
        #[allow(clippy::unnecessary_wraps, reason = "the resolver's signature")]
        fn loopback(_: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
            Ok(vec![SocketAddr::from(([127, 0, 0, 1], port)), "[::1]:0".parse::<SocketAddr>().unwrap()])
        }
        #[allow(clippy::unnecessary_wraps, reason = "the resolver's signature")]
        fn nothing(_: &str, _: u16) -> std::io::Result<Vec<SocketAddr>> {
            Ok(Vec::new())
        }
        let url = parse_base_url("http://sandbox.localhost:4010").unwrap();
        let e = pinned_loopback(&url, elsewhere).unwrap_err();
        assert_eq!(e.class(), ErrorClass::Config);
        assert!(
            e.message().contains("resolves to 10.0.0.7, which is not a loopback address"),
            "{}",
            e.message()
        );
        let (host, addrs) = pinned_loopback(&url, loopback).unwrap().unwrap();
        assert_eq!(host, "sandbox.localhost");
        assert_eq!(addrs.len(), 2);
        assert!(pinned_loopback(&url, nothing).is_err());
        // Literal addresses and https need no resolving.
        for url in ["http://127.0.0.1:4010", "http://[::1]:1", "https://graph.facebook.com"] {
            assert!(pinned_loopback(&parse_base_url(url).unwrap(), elsewhere).unwrap().is_none(), "{url}");
        }
    }

    #[test]
    fn token_sources() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "token-from-file\n").unwrap();
        // The flag wins over the environment.
        let t = token_from_sources(Some("token-from-env".into()), Some(&file)).unwrap();
        assert_eq!(t.expose(), "token-from-file");
        let t = token_from_sources(Some(" token-from-env\n".into()), None).unwrap();
        assert_eq!(t.expose(), "token-from-env");

        let e = token_from_sources(None, None).unwrap_err();
        assert_eq!(e.message(), "no access token");
        assert!(
            crate::hints::graph_hint(&e).contains("WAMIG_ACCESS_TOKEN")
                && crate::hints::graph_hint(&e).contains("--token-file")
        );

        let e = token_from_sources(Some("  ".into()), None).unwrap_err();
        assert!(e.message().contains("set but empty"));

        let missing = dir.path().join("nope");
        let e = token_from_sources(None, Some(&missing)).unwrap_err();
        assert!(e.message().contains("no such file"), "{}", e.message());

        let empty = dir.path().join("empty");
        std::fs::write(&empty, " \n").unwrap();
        let e = token_from_sources(None, Some(&empty)).unwrap_err();
        assert!(e.message().contains("is empty"));

        #[cfg(unix)]
        {
            let e = token_from_sources(None, Some(Path::new("/dev/zero"))).unwrap_err();
            assert!(e.message().contains("a device"), "{}", e.message());
        }
        let huge = dir.path().join("huge");
        std::fs::write(&huge, "a".repeat(100_000)).unwrap();
        let e = token_from_sources(None, Some(&huge)).unwrap_err();
        assert!(e.message().contains("larger than"), "{}", e.message());

        let two = dir.path().join("two");
        std::fs::write(&two, "token-one\ntoken-two\n").unwrap();
        let e = token_from_sources(None, Some(&two)).unwrap_err();
        assert!(e.message().contains("line breaks"));
        assert!(!e.message().contains("token-one"));
    }

    #[test]
    fn config_debug_never_shows_secrets() {
        let config = GraphConfig::new("http://127.0.0.1:1", "v23.0", Secret::new("canary-token-secret"))
            .unwrap()
            .with_app_secret(Some(Secret::new("appsecret")));
        let text = format!("{config:?}");
        assert!(!text.contains("canary-token-secret") && !text.contains("appsecret"));
        assert!(GraphConfig::new("http://127.0.0.1:1", "v23.0", Secret::new("a b")).is_err());
    }
}
