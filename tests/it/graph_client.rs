//! The Graph client against a small local HTTP server serving canned, Meta-documented bodies:
//! authentication (bearer header, appsecret_proof, no token in URLs), reads (nodes, expanded
//! edges, multi-id chunking, paging), writes, every error class, retries (throttling with the
//! BUC header, 5xx, dropped connections), timeouts and garbled bodies.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use wamig::graph::{
    CodeMethod, ErrorClass, GraphClient, GraphConfig, GraphError, MigrationBlock, RetryPolicy, Sleeper,
    TokenInfoSource, appsecret_proof,
};
use wamig::secret::Secret;
use wamig::ui::{Level, LogFormat, Ui};

const TOKEN: &str = "canary-token-0123456789";
const APP_SECRET: &str = "canary-app-secret-42";
const WABA: &str = "104996122399160";
const PN: &str = "106540352242922";

// --- test server -----------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: String,
    headers: HeaderMap,
    body: String,
}

impl Seen {
    fn query_map(&self) -> BTreeMap<String, String> {
        pairs(&self.query)
    }
    fn form(&self) -> BTreeMap<String, String> {
        pairs(&self.body)
    }
    fn host(&self) -> String {
        self.headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or_default().to_owned()
    }
    fn full_url(&self) -> String {
        format!("{}?{}", self.path, self.query)
    }
}

fn pairs(text: &str) -> BTreeMap<String, String> {
    reqwest::Url::parse(&format!("http://x/?{text}"))
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    delay: Duration,
}

impl Reply {
    fn json(status: u16, body: Value) -> Reply {
        Reply::raw(status, body.to_string())
    }
    fn ok(body: Value) -> Reply {
        Reply::json(200, body)
    }
    fn raw(status: u16, body: impl Into<String>) -> Reply {
        Reply { status, headers: Vec::new(), body: body.into(), delay: Duration::ZERO }
    }
    fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }
    fn delay(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

type Responder = Box<dyn Fn(&Seen, usize) -> Reply + Send + Sync>;

struct ServerState {
    seen: Mutex<Vec<Seen>>,
    responder: Responder,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

struct Server {
    url: String,
    state: Arc<ServerState>,
}

impl Server {
    fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }
    fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }
}

async fn handle(state: Arc<ServerState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let seen = Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers: parts.headers.clone(),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let index = {
        let mut all = state.seen.lock().unwrap();
        all.push(seen.clone());
        all.len() - 1
    };
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let reply = (state.responder)(&seen, index);
    tokio::time::sleep(reply.delay).await;
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
    let mut response = Response::builder()
        .status(StatusCode::from_u16(reply.status).unwrap())
        .header("content-type", "application/json");
    for (name, value) in &reply.headers {
        response = response.header(name.as_str(), value.as_str());
    }
    response.body(Body::from(reply.body)).unwrap()
}

async fn serve(responder: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(ServerState {
        seen: Mutex::new(Vec::new()),
        responder: Box::new(responder),
        in_flight: AtomicUsize::new(0),
        max_in_flight: AtomicUsize::new(0),
    });
    let shared = state.clone();
    let app = Router::new().fallback(move |request: Request| {
        let state = shared.clone();
        async move { handle(state, request).await }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Server { url: format!("http://{addr}"), state }
}

/// A raw TCP server for what axum cannot do: drop a connection after reading the request.
/// Each connection takes the next action: `None` = close without answering, `Some(body)` =
/// answer 200 with that body.
async fn raw_server(actions: Vec<Option<&'static str>>) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    tokio::spawn(async move {
        let mut actions = actions.into_iter();
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            let mut buffer = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read the whole request (headers and a Content-Length body).
            while let Ok(n) = socket.read(&mut chunk).await {
                if n == 0 {
                    break;
                }
                buffer.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buffer).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            let lower = l.to_ascii_lowercase();
                            lower
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if buffer.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            match actions.next().flatten() {
                None => drop(socket),
                Some(body) => {
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                    let _ = socket.shutdown().await;
                }
            }
        }
    });
    (url, count)
}

// --- client helpers --------------------------------------------------------------------------

type Waits = Arc<Mutex<Vec<Duration>>>;

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(10),
        max_total_wait: Duration::from_secs(120),
    }
}

/// A client whose sleeps are recorded and skipped, so waits of minutes cost nothing.
fn client_with(url: &str, configure: impl FnOnce(GraphConfig) -> GraphConfig) -> (GraphClient, Waits) {
    let waits: Waits = Arc::default();
    let record = waits.clone();
    let config = GraphConfig::new(url, "v23.0", Secret::new(TOKEN))
        .unwrap()
        .with_retry(fast_retry())
        .with_sleeper(Sleeper::new(move |d| {
            record.lock().unwrap().push(d);
            async {}
        }));
    (GraphClient::new(configure(config)).unwrap(), waits)
}

fn client(url: &str) -> GraphClient {
    client_with(url, |c| c).0
}

fn error_envelope(code: i64, message: &str) -> Value {
    json!({"error": {"message": message, "type": "OAuthException", "code": code,
        "fbtrace_id": "AXsgnV2Cm3ZMGF3dF_cfYIn"}})
}

fn phone(id: &str, display: &str) -> Value {
    json!({"id": id, "display_phone_number": display, "verified_name": "Lucky Shrub",
        "quality_rating": "GREEN", "code_verification_status": "VERIFIED",
        "name_status": "APPROVED", "status": "CONNECTED", "platform_type": "CLOUD_API",
        "account_mode": "LIVE", "throughput": {"level": "STANDARD"}})
}

// --- authentication --------------------------------------------------------------------------

#[tokio::test]
async fn bearer_header_appsecret_proof_and_no_token_in_any_url() {
    let server = serve(|seen, _| match (seen.method.as_str(), seen.path.as_str()) {
        ("GET", p) if p.ends_with("/phone_numbers") => {
            Reply::ok(json!({"data": [phone(PN, "+1 631-555-5555")]}))
        }
        ("GET", "/v23.0/") => Reply::ok(json!({WABA: {"id": WABA, "name": "Acme"}})),
        ("GET", _) => Reply::ok(json!({"id": PN, "display_phone_number": "+1 631-555-5555"})),
        ("POST", "/v23.0/") => Reply::ok(json!([{"code": 200, "body": json!({"data": {
            "app_id": "000000000000000", "type": "SYSTEM_USER", "is_valid": true, "expires_at": 0,
            "scopes": ["whatsapp_business_management"]}}).to_string()}])),
        ("POST", _) => Reply::ok(json!({"success": true})),
        _ => Reply::raw(404, ""),
    })
    .await;
    let (client, _) = client_with(&server.url, |c| c.with_app_secret(Some(Secret::new(APP_SECRET))));
    client.phone_number(PN).await.unwrap();
    client.phone_numbers(WABA).await.unwrap();
    client.get_many::<Value>(&[WABA], "id,name").await.unwrap();
    client.request_code(PN, CodeMethod::Sms, "en_US").await.unwrap();
    client.verify_code(PN, &Secret::new("123456")).await.unwrap();
    client.register(PN, &Secret::new("654321"), None).await.unwrap();
    client.token_info().await.unwrap();

    let proof = appsecret_proof(&Secret::new(TOKEN), &Secret::new(APP_SECRET));
    let seen = server.seen();
    assert_eq!(seen.len(), 7);
    for request in &seen {
        assert_eq!(
            request.headers.get("authorization").unwrap(),
            &format!("Bearer {TOKEN}"),
            "{}",
            request.path
        );
        assert!(!request.full_url().contains(TOKEN), "token in URL {}", request.full_url());
        assert!(!request.full_url().contains("access_token"));
        let sent_proof = if request.method == "GET" {
            request.query_map().get("appsecret_proof").cloned()
        } else {
            assert_eq!(request.headers.get("content-type").unwrap(), "application/x-www-form-urlencoded");
            request.form().get("appsecret_proof").cloned()
        };
        assert_eq!(sent_proof.as_deref(), Some(proof.expose()), "{}", request.path);
    }
    // Only the debug_token batch carries the token in a body (as input_token), never a URL.
    let bodies_with_token: Vec<_> = seen.iter().filter(|r| r.body.contains(TOKEN)).collect();
    assert_eq!(bodies_with_token.len(), 1);
    assert_eq!(bodies_with_token[0].path, "/v23.0/");
    assert_eq!(client.request_count(), 7);
}

#[tokio::test]
async fn without_an_app_secret_no_proof_is_sent() {
    let server = serve(|_, _| Reply::ok(json!({"id": PN}))).await;
    client(&server.url).phone_number(PN).await.unwrap();
    assert!(!server.seen()[0].query_map().contains_key("appsecret_proof"));
}

// --- reads -----------------------------------------------------------------------------------

#[tokio::test]
async fn waba_with_expanded_edges_follows_the_edge_next_link() {
    let server = serve(|seen, _| {
        let host = seen.host();
        match seen.path.as_str() {
            p if p == format!("/v23.0/{WABA}") => Reply::ok(json!({
                "id": WABA, "name": "Acme", "account_review_status": "APPROVED",
                "business_verification_status": "verified", "primary_funding_id": "987",
                "owner_business_info": {"id": "506914307656634", "name": "Acme Inc"},
                "ownership_type": "CLIENT_OWNED", "status": "ACTIVE",
                "phone_numbers": {"data": [phone("1", "+1 631-555-0001")],
                    "paging": {"cursors": {"before": "a", "after": "b"},
                    "next": format!("http://{host}/v23.0/{WABA}/phone_numbers?fields=id%2Cdisplay_phone_number&limit=100&after=b")}},
                "subscribed_apps": {"data": [{"whatsapp_business_api_data": {"id": "67084", "name": "Jaspers Market", "link": "https://www.facebook.com/games/?app_id=67084"}}]},
                "message_templates": {"data": [{"id": "594425479261596", "name": "order_update",
                    "language": "en_US", "status": "APPROVED", "category": "UTILITY",
                    "quality_score": {"score": "GREEN"}}]}
            })),
            p if p == format!("/v23.0/{WABA}/phone_numbers") => {
                Reply::ok(json!({"data": [phone("2", "+1 631-555-0002")], "paging": {"cursors": {"before": "b", "after": "c"}}}))
            }
            _ => Reply::raw(404, "{}"),
        }
    })
    .await;
    let client = client(&server.url);
    let waba = client.waba(WABA).await.unwrap();
    assert_eq!(waba.name.as_deref(), Some("Acme"));
    let ids: Vec<&str> = waba.phone_numbers().iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, vec!["1", "2"]);
    assert!(waba.phone_numbers.as_ref().unwrap().next().is_none());
    assert_eq!(waba.subscribed_apps().len(), 1);
    assert_eq!(waba.message_templates()[0].quality().map(|q| q.as_str()), Some("GREEN"));
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    let fields = seen[0].query_map()["fields"].clone();
    assert!(fields.contains("phone_numbers.limit(100){id,display_phone_number,"), "{fields}");
    assert!(fields.contains("subscribed_apps{whatsapp_business_api_data}"));
    assert_eq!(seen[1].query_map()["after"], "b");
    assert_eq!(seen[1].query_map()["fields"], "id,display_phone_number");
}

#[tokio::test]
async fn multi_id_reads_are_chunked_at_50_and_bounded_in_concurrency() {
    let server = serve(|seen, _| {
        let ids = seen.query_map()["ids"].clone();
        let mut out = serde_json::Map::new();
        for id in ids.split(',') {
            out.insert(id.to_owned(), phone(id, &format!("+1 555 {id}")));
        }
        Reply::ok(Value::Object(out)).delay(Duration::from_millis(50))
    })
    .await;
    let (client, _) = client_with(&server.url, |c| c.with_max_concurrency(2));
    let ids: Vec<String> = (1000..1120).map(|n| n.to_string()).collect();
    let mut with_duplicate = ids.clone();
    with_duplicate.push("1000".into());
    let numbers = client.phone_numbers_by_id(&with_duplicate).await.unwrap();
    assert_eq!(numbers.len(), 120);
    assert_eq!(numbers["1119"].id, "1119");
    let seen = server.seen();
    let mut sizes: Vec<usize> = seen.iter().map(|s| s.query_map()["ids"].split(',').count()).collect();
    sizes.sort();
    assert_eq!(sizes, vec![20, 50, 50]);
    assert!(seen.iter().all(|s| s.path == "/v23.0/"));
    assert!(server.max_in_flight() <= 2, "{}", server.max_in_flight());
    assert_eq!(client.request_counts().get("GET /?ids"), Some(&3));
}

#[tokio::test]
async fn paging_follows_absolute_next_links_through_an_empty_page() {
    let server = serve(|seen, _| {
        let host = seen.host();
        let after = seen.query_map().get("after").cloned().unwrap_or_default();
        let next =
            |cursor: &str| format!("http://{host}/v23.0/{WABA}/message_templates?limit=2&after={cursor}");
        match after.as_str() {
            "" => Reply::ok(json!({"data": [{"id": "1", "name": "a"}, {"id": "2", "name": "b"}],
                "paging": {"cursors": {"after": "p2"}, "next": next("p2")}})),
            "p2" => {
                Reply::ok(json!({"data": [], "paging": {"cursors": {"after": "p3"}, "next": next("p3")}}))
            }
            "p3" => {
                Reply::ok(json!({"data": [{"id": "3", "name": "c"}], "paging": {"cursors": {"after": "p4"}}}))
            }
            _ => Reply::raw(500, "unexpected"),
        }
    })
    .await;
    let client = client(&server.url);
    let templates = client.message_templates(WABA).await.unwrap();
    let ids: Vec<&str> = templates.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, vec!["1", "2", "3"]);
    assert_eq!(server.seen().len(), 3);
    assert_eq!(client.request_counts().get("GET /{id}/message_templates"), Some(&3));
}

#[tokio::test]
async fn a_next_link_to_another_host_is_refused_and_credentials_are_stripped() {
    let server = serve(|seen, index| {
        let host = seen.host();
        match index {
            0 => Reply::ok(json!({"data": [{"id": "1"}], "paging": {"next":
                format!("http://{host}/v23.0/{WABA}/subscribed_apps?after=x&access_token={TOKEN}")}})),
            1 => Reply::ok(json!({"data": [{"id": "2"}], "paging": {"next":
                "https://evil.example.com/v23.0/1/subscribed_apps?after=y"}})),
            _ => Reply::raw(500, ""),
        }
    })
    .await;
    let client = client(&server.url);
    let error = client.subscribed_apps(WABA).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::InvalidResponse);
    assert!(error.message().contains("evil.example.com"), "{}", error.message());
    let seen = server.seen();
    assert_eq!(seen.len(), 2, "the foreign link is never requested");
    assert!(!seen[1].full_url().contains(TOKEN));
    assert_eq!(seen[1].query_map()["after"], "x");
}

#[tokio::test]
async fn unknown_fields_are_dropped_once_and_remembered() {
    let server = serve(|seen, _| {
        let fields = seen.query_map().get("fields").cloned().unwrap_or_default();
        if fields.contains("is_pin_enabled") {
            Reply::json(400, error_envelope(100, "(#100) Tried accessing nonexisting field (is_pin_enabled) on node type (WhatsAppBusinessPhoneNumber)"))
        } else {
            Reply::ok(phone(PN, "+1 631-555-5555"))
        }
    })
    .await;
    let ui = Ui::capture(Level::Info, LogFormat::Text);
    let (client, _) = client_with(&server.url, |c| c.with_ui(ui.clone()));
    client.phone_number(PN).await.unwrap();
    client.phone_number(PN).await.unwrap();
    assert_eq!(server.seen().len(), 3);
    assert!(ui.captured().contains("does not know the field `is_pin_enabled`"));
}

#[tokio::test]
async fn several_wabas_in_one_read_with_their_edges_completed() {
    let server = serve(|seen, _| {
        let host = seen.host();
        if seen.path == "/v23.0/" {
            Reply::ok(json!({
                "1": {"id": "1", "phone_numbers": {"data": [phone("11", "+1 555 0011")],
                    "paging": {"next": format!("http://{host}/v23.0/1/phone_numbers?after=z")}}},
                "2": {"id": "2", "name": "No numbers"}
            }))
        } else {
            Reply::ok(json!({"data": [phone("12", "+1 555 0012")]}))
        }
    })
    .await;
    let client = client(&server.url);
    let wabas = client.wabas(&["2", "1"]).await.unwrap();
    assert_eq!(wabas["1"].phone_numbers().len(), 2);
    assert!(wabas["2"].phone_numbers().is_empty());
    assert_eq!(server.seen().len(), 2);
    assert_eq!(server.seen()[0].query_map()["ids"], "1,2");
}

/// observe/apply spawn these futures on a multi-threaded runtime: they must be `Send`.
#[allow(dead_code)]
fn client_futures_are_send(client: &GraphClient, code: &Secret) {
    fn send<T: Send>(_: T) {}
    send(client.waba("1"));
    send(client.wabas(&["1"]));
    send(client.phone_number("1"));
    send(client.phone_numbers_by_id(&["1"]));
    send(client.phone_numbers("1"));
    send(client.subscribed_apps("1"));
    send(client.message_templates("1"));
    send(client.token_info());
    send(client.get_many::<Value>(&["1"], "id"));
    send(client.initiate_migration("1", "1", "1"));
    send(client.request_code("1", CodeMethod::Sms, "en_US"));
    send(client.verify_code("1", code));
    send(client.register("1", code, None));
}

// --- writes ----------------------------------------------------------------------------------

#[tokio::test]
async fn writes_send_documented_form_parameters_and_log_no_secrets() {
    let server = serve(|seen, _| {
        if seen.path.ends_with("/phone_numbers") {
            Reply::ok(json!({"id": PN}))
        } else {
            Reply::ok(json!({"success": true}))
        }
    })
    .await;
    let ui = Ui::capture(Level::Debug, LogFormat::Json);
    let (client, _) =
        client_with(&server.url, |c| c.with_ui(ui.clone()).with_app_secret(Some(Secret::new(APP_SECRET))));
    let id = client.initiate_migration(WABA, "1", "6315555555").await.unwrap();
    assert_eq!(id, PN);
    client.request_code(&id, CodeMethod::Voice, "es_ES").await.unwrap();
    client.verify_code(&id, &Secret::new("314159")).await.unwrap();
    client.register(&id, &Secret::new("271828"), None).await.unwrap();

    let seen = server.seen();
    let forms: Vec<(String, BTreeMap<String, String>)> =
        seen.iter().map(|s| (s.path.clone(), s.form())).collect();
    assert_eq!(forms[0].0, format!("/v23.0/{WABA}/phone_numbers"));
    assert_eq!(forms[0].1["cc"], "1");
    assert_eq!(forms[0].1["phone_number"], "6315555555");
    assert_eq!(forms[0].1["migrate_phone_number"], "true");
    assert_eq!(forms[1].0, format!("/v23.0/{PN}/request_code"));
    assert_eq!(forms[1].1["code_method"], "VOICE");
    assert_eq!(forms[1].1["language"], "es_ES");
    assert_eq!(forms[2].1["code"], "314159");
    assert_eq!(forms[3].1["messaging_product"], "whatsapp");
    assert_eq!(forms[3].1["pin"], "271828");
    assert!(seen.iter().all(|s| s.method == "POST" && s.query.is_empty()));

    let log = ui.captured();
    assert_eq!(log.lines().count(), 4, "{log}");
    let proof = appsecret_proof(&Secret::new(TOKEN), &Secret::new(APP_SECRET));
    for secret in [TOKEN, APP_SECRET, proof.expose(), "314159", "271828"] {
        assert!(!log.contains(secret), "{secret} leaked into {log}");
    }
    assert!(log.contains("\"params\":[\"code\"]"), "{log}");
    assert!(log.contains(&format!("/v23.0/{PN}/register")));
}

#[tokio::test]
async fn bad_codes_and_pins_are_refused_before_sending() {
    let server = serve(|_, _| Reply::ok(json!({"success": true}))).await;
    let client = client(&server.url);
    let e = client.verify_code(PN, &Secret::new("12345")).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Input);
    let e = client.register(PN, &Secret::new("abcdef"), None).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Input);
    let e = client.initiate_migration(WABA, "+1", "6315555555").await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Input);
    assert!(server.seen().is_empty());
    assert_eq!(client.request_count(), 0);
}

#[tokio::test]
async fn writes_are_never_retried() {
    let server = serve(|_, _| {
        Reply::json(
            500,
            json!({"error": {"message": "An unexpected error has occurred. Please retry your request later.",
                "type": "OAuthException", "code": 2, "is_transient": true, "fbtrace_id": "Ab1"}}),
        )
    })
    .await;
    let client = client(&server.url);
    let e = client.register(PN, &Secret::new("123456"), None).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Transient);
    assert!(e.may_have_taken_effect());
    assert!(!e.is_retryable_write());
    assert_eq!(server.seen().len(), 1);
    // The same answer to a read is retried up to max_attempts.
    let e = client.phone_number(PN).await.unwrap_err();
    assert_eq!(e.attempts(), 4);
    assert_eq!(server.seen().len(), 5);
}

// --- errors ----------------------------------------------------------------------------------

struct Case {
    status: u16,
    body: Value,
    expected: ErrorClass,
}

fn case(status: u16, body: Value, expected: ErrorClass) -> Case {
    Case { status, body, expected }
}

fn user_error(code: i64, subcode: Option<i64>, title: &str, msg: &str) -> Value {
    let mut error = json!({"message": format!("(#{code}) {title}"), "type": "OAuthException",
        "code": code, "error_user_title": title, "error_user_msg": msg,
        "fbtrace_id": "AXsgnV2Cm3ZMGF3dF_cfYIn"});
    if let Some(subcode) = subcode {
        error["error_subcode"] = json!(subcode);
    }
    json!({"error": error})
}

#[tokio::test]
async fn every_error_envelope_class_through_the_client() {
    use ErrorClass::*;
    use MigrationBlock::*;
    let migration = |title: &str, msg: &str| user_error(2388103, None, title, msg);
    let start_cases = vec![
        case(
            400,
            user_error(
                2388012,
                None,
                "Phone number already exists",
                "This phone number already exists in your WhatsApp Business Account.",
            ),
            AlreadyInDestination,
        ),
        case(
            400,
            user_error(100, None, "Duplicate phone number", "This phone number is already registered."),
            MigrationAlreadyStarted,
        ),
        case(
            400,
            migration("Webhooks not set up", "Webhooks have not been set up for the destination WABA."),
            MigrationBlocked(WebhooksMissing),
        ),
        case(
            400,
            migration("No payment method", "The destination WABA has no payment account."),
            MigrationBlocked(NoPaymentMethod),
        ),
        case(
            400,
            migration(
                "Display name not approved",
                "The display name must be approved and have no pending name change.",
            ),
            MigrationBlocked(DisplayNameNotApproved),
        ),
        case(
            400,
            migration("Source WABA not set up", "The source WhatsApp Business Account is not approved."),
            MigrationBlocked(SourceWabaNotApproved),
        ),
        case(
            400,
            migration("Different business", "The phone number belongs to a different Business Manager."),
            MigrationBlocked(DifferentBusiness),
        ),
        case(
            400,
            migration(
                "Destination not approved",
                "The destination WhatsApp Business Account must be approved.",
            ),
            MigrationBlocked(DestinationNotApproved),
        ),
        case(
            400,
            migration(
                "Request pending",
                "The Messaging For request for the destination has not been accepted.",
            ),
            MigrationBlocked(MessagingForPending),
        ),
        case(
            400,
            migration("Not needed", "The phone number is eligible to be added directly."),
            MigrationBlocked(EligibleToAddDirectly),
        ),
        case(
            400,
            migration("Two-step verification", "Two-step verification must be disabled for this number."),
            MigrationBlocked(TwoStepVerificationEnabled),
        ),
        case(
            400,
            migration("Error migrating phone number", "Please try again later."),
            MigrationBlocked(Generic),
        ),
        case(
            400,
            user_error(2494100, None, "Maintenance", "The phone number is in maintenance mode."),
            Maintenance,
        ),
        case(
            400,
            user_error(
                80008,
                None,
                "Rate limit",
                "There have been too many calls to this WhatsApp Business account.",
            ),
            Throttled,
        ),
        case(
            400,
            user_error(200, None, "Permissions error", "The user has not granted the permission."),
            Permission,
        ),
        case(
            401,
            json!({"error": {"message": "Error validating access token: Session has expired.", "type": "OAuthException", "code": 190, "error_subcode": 463}}),
            Auth,
        ),
        case(
            400,
            json!({"error": {"message": "Invalid appsecret_proof provided in the API argument", "type": "GraphMethodException", "code": 100}}),
            AppSecretProof,
        ),
        case(
            400,
            json!({"error": {"message": "(#100) The parameter cc is required", "type": "OAuthException", "code": 100}}),
            InvalidParameter,
        ),
        case(
            404,
            json!({"error": {"message": "Unsupported post request. Object with ID '1' does not exist", "type": "GraphMethodException", "code": 100, "error_subcode": 33}}),
            NotFound,
        ),
    ];
    let code_cases = vec![
        case(
            400,
            user_error(2388091, None, "Not being migrated", "The phone number is not being migrated."),
            NotBeingMigrated,
        ),
        case(
            400,
            user_error(2388093, None, "Not being migrated", "The phone number is not being migrated."),
            NotBeingMigrated,
        ),
        case(
            400,
            user_error(
                136024,
                None,
                "Phone number already verified",
                "This phone number is already verified.",
            ),
            AlreadyVerified,
        ),
    ];
    let verify_cases = vec![
        case(
            422,
            json!({"error": {"message": "The verification code is invalid or has expired", "type": "GraphMethodException", "code": 100, "error_user_title": "Verification Failed", "error_user_msg": "The verification code you entered is invalid or has expired"}}),
            WrongCode,
        ),
        case(
            400,
            json!({"error": {"message": "Verification code expired", "type": "OAuthException", "code": 136025}}),
            CodeExpired,
        ),
        case(
            429,
            json!({"error": {"message": "Too many verification attempts. Please try again later", "type": "OAuthException", "code": 4, "error_subcode": 2446079, "is_transient": true}}),
            TooManyAttempts,
        ),
    ];
    let register_cases = vec![
        case(
            400,
            user_error(133005, None, "Two step verification PIN Mismatch", "The PIN is incorrect."),
            WrongPin,
        ),
        case(
            400,
            user_error(
                133006,
                None,
                "Phone number re-verification needed",
                "Verify the number before registering.",
            ),
            VerifyBeforeRegister,
        ),
        case(
            400,
            user_error(
                133016,
                None,
                "Account register deregister rate limit exceeded",
                "Too many register attempts.",
            ),
            RegisterLimit,
        ),
        case(
            400,
            user_error(
                100,
                Some(2388001),
                "Cannot Create Certificate",
                "The certificate could not be created.",
            ),
            DisplayNameProvisioning,
        ),
    ];
    let read_cases = vec![
        case(
            404,
            json!({"error": {"message": "Phone number not found", "type": "GraphMethodException", "code": 803}}),
            NotFound,
        ),
        case(
            500,
            json!({"error": {"message": "An unknown error occurred", "type": "OAuthException", "code": 1, "is_transient": true}}),
            Transient,
        ),
        case(503, json!({"error": {"message": "(#131016) Service unavailable", "code": 131016}}), Transient),
    ];

    let all: Vec<(&str, Case)> = start_cases
        .into_iter()
        .map(|c| ("start", c))
        .chain(code_cases.into_iter().map(|c| ("request_code", c)))
        .chain(verify_cases.into_iter().map(|c| ("verify", c)))
        .chain(register_cases.into_iter().map(|c| ("register", c)))
        .chain(read_cases.into_iter().map(|c| ("read", c)))
        .collect();
    let replies: Vec<(u16, String)> = all.iter().map(|(_, c)| (c.status, c.body.to_string())).collect();
    let server = serve(move |seen, _| {
        let agent = seen.headers["user-agent"].to_str().unwrap();
        let index: usize = agent.rsplit('=').next().unwrap().parse().unwrap();
        let (status, body) = &replies[index];
        Reply::raw(*status, body.clone())
    })
    .await;
    for (index, (kind, expected)) in all.iter().map(|(k, c)| (*k, c.expected)).enumerate() {
        let client = case_client(&server.url, index);
        let result: Result<(), GraphError> = match kind {
            "start" => client.initiate_migration(WABA, "1", "6315555555").await.map(|_| ()),
            "request_code" => client.request_code(PN, CodeMethod::Sms, "en_US").await,
            "verify" => client.verify_code(PN, &Secret::new("123456")).await,
            "register" => client.register(PN, &Secret::new("123456"), None).await,
            _ => client.phone_number(PN).await.map(|_| ()),
        };
        let error = result.unwrap_err();
        assert_eq!(error.class(), expected, "case {index}: {}", error.message());
        assert!(wamig::hints::graph_hint(&error).len() > 20);
        if kind == "start" {
            assert_eq!(error.request().unwrap().node_id.as_deref(), Some(WABA));
        }
        let diagnostic = wamig::diag::ToDiagnostics::diagnostics(&error).remove(0);
        assert!(diagnostic.hint.is_some());
        if error.fbtrace_id().is_some() {
            assert!(diagnostic.causes.iter().any(|c| c.starts_with("fbtrace_id: ")));
        }
    }
}

/// Each error case gets its own client whose user agent names the case, so one server can
/// tell which canned answer to give.
fn case_client(url: &str, index: usize) -> GraphClient {
    let mut config =
        GraphConfig::new(url, "v23.0", Secret::new(TOKEN)).unwrap().with_retry(RetryPolicy::none());
    config.user_agent = format!("wamig-test case={index}");
    GraphClient::new(config).unwrap()
}

#[tokio::test]
async fn webhooks_error_hint_names_the_destination() {
    let server = serve(|_, _| {
        Reply::json(
            400,
            user_error(
                2388103,
                None,
                "Webhooks not set up",
                "Webhooks have not been set up for the destination WABA.",
            ),
        )
    })
    .await;
    let e = client(&server.url).initiate_migration(WABA, "1", "6315555555").await.unwrap_err();
    assert_eq!(
        wamig::hints::graph_hint(&e),
        format!(
            "subscribe an app to webhooks on destination WABA {WABA}: POST /{WABA}/subscribed_apps \
             (or App Dashboard → WhatsApp → Configuration), then run wamig apply again"
        )
    );
    assert!(e.message().contains("code 2388103"));
    assert!(e.message().contains("HTTP 400"));
}

// --- retries and throttling -----------------------------------------------------------------

#[tokio::test]
async fn throttling_waits_what_the_buc_header_says_then_succeeds() {
    let buc = format!(
        r#"{{"{WABA}":[{{"type":"whatsapp_business_management","call_count":100,"total_cputime":10,"total_time":12,"estimated_time_to_regain_access":1}}]}}"#
    );
    let server = serve(move |_, index| {
        if index == 0 {
            Reply::json(400, error_envelope(80008, "(#80008) There have been too many calls to this WhatsApp Business account. Wait a bit and try again."))
                .header("x-business-use-case-usage", &buc)
                .header("x-app-usage", r#"{"call_count":28,"total_time":25,"total_cputime":25}"#)
        } else {
            Reply::ok(json!({"data": [{"whatsapp_business_api_data": {"id": "67084", "name": "App"}}]}))
        }
    })
    .await;
    let (client, waits) = client_with(&server.url, |c| c);
    let apps = client.subscribed_apps(WABA).await.unwrap();
    assert_eq!(apps.len(), 1);
    assert_eq!(server.seen().len(), 2);
    assert_eq!(client.request_count(), 2);
    let waits = waits.lock().unwrap().clone();
    assert_eq!(waits.len(), 1);
    assert!(waits[0] >= Duration::from_secs(60), "{waits:?}");
    let usage = client.usage();
    assert_eq!(usage.for_object(WABA)[0].call_count, Some(100));
    assert_eq!(usage.app.as_ref().unwrap().call_count, Some(28));
    assert_eq!(usage.max_percent(), 100);
}

#[tokio::test]
async fn a_throttle_longer_than_the_budget_fails_at_once_saying_when_to_retry() {
    let buc = format!(
        r#"{{"{WABA}":[{{"type":"whatsapp_business_management","call_count":100,"estimated_time_to_regain_access":30}}]}}"#
    );
    let server = serve(move |_, _| {
        Reply::json(400, error_envelope(80008, "(#80008) too many calls"))
            .header("x-business-use-case-usage", &buc)
    })
    .await;
    let (client, waits) = client_with(&server.url, |c| c);
    let e = client.waba(WABA).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Throttled);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(1800)));
    assert!(wamig::hints::graph_hint(&e).contains("retry after 30 min"), "{}", wamig::hints::graph_hint(&e));
    assert_eq!(server.seen().len(), 1);
    assert!(waits.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_5xx_then_success_is_retried_with_backoff() {
    let server = serve(|_, index| match index {
        0 => Reply::raw(502, "<html><body>502 Bad Gateway</body></html>"),
        1 => Reply::json(500, json!({"error": {"message": "An unexpected error has occurred. Please retry your request later.", "type": "OAuthException", "code": 2, "is_transient": true}})),
        _ => Reply::ok(json!({"id": PN, "status": "CONNECTED"})),
    })
    .await;
    let (client, waits) = client_with(&server.url, |c| c);
    let number = client.phone_number(PN).await.unwrap();
    assert_eq!(number.status.unwrap().as_str(), "CONNECTED");
    assert_eq!(server.seen().len(), 3);
    let waits = waits.lock().unwrap().clone();
    assert_eq!(waits.len(), 2);
    assert!(waits.iter().all(|w| *w <= Duration::from_millis(10)));
}

#[tokio::test]
async fn a_dropped_connection_on_a_read_is_retried() {
    let (url, connections) =
        raw_server(vec![None, Some(r#"{"id":"106540352242922","verified_name":"Lucky Shrub"}"#)]).await;
    let client = client(&url);
    let number = client.phone_number(PN).await.unwrap();
    assert_eq!(number.verified_name.as_deref(), Some("Lucky Shrub"));
    assert_eq!(connections.load(Ordering::SeqCst), 2);
    assert_eq!(client.request_count(), 2);
}

#[tokio::test]
async fn a_dropped_connection_on_a_write_is_not_retried_and_outcome_unknown() {
    let (url, connections) = raw_server(vec![None, Some(r#"{"success":true}"#)]).await;
    let client = client(&url);
    let e = client.verify_code(PN, &Secret::new("123456")).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::OutcomeUnknown);
    assert!(e.may_have_taken_effect());
    assert!(!e.is_retryable_write());
    assert!(wamig::hints::graph_hint(&e).contains("re-reads the live state"));
    assert!(!e.message().contains("123456"));
    assert_eq!(connections.load(Ordering::SeqCst), 1);
    assert_eq!(client.request_count(), 1);
}

#[tokio::test]
async fn nothing_listening_is_a_network_error_safe_to_retry_for_writes() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = client(&url);
    let e = client.register(PN, &Secret::new("123456"), None).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Network);
    assert!(e.is_retryable_write());
    assert!(!e.may_have_taken_effect());
    let e = client.phone_number(PN).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Network);
    assert_eq!(e.attempts(), 4);
}

#[tokio::test]
async fn timeouts_on_reads_are_retried_and_on_writes_are_outcome_unknown() {
    let server = serve(|_, _| Reply::ok(json!({"success": true})).delay(Duration::from_millis(400))).await;
    let (client, _) = client_with(&server.url, |c| {
        c.with_timeouts(Duration::from_secs(1), Duration::from_millis(100))
            .with_retry(RetryPolicy { max_attempts: 2, ..fast_retry() })
    });
    let e = client.phone_number(PN).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Timeout);
    assert_eq!(e.attempts(), 2);
    assert_eq!(server.seen().len(), 2);
    let e = client.request_code(PN, CodeMethod::Sms, "en_US").await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::OutcomeUnknown);
    assert_eq!(server.seen().len(), 3);
}

#[tokio::test]
async fn garbled_bodies_are_invalid_responses_with_an_excerpt() {
    let server = serve(|seen, _| {
        if seen.method == "POST" {
            Reply::raw(200, "{\"id\": \"1065403")
        } else {
            Reply::raw(200, format!("<html>oops {TOKEN}</html>"))
        }
    })
    .await;
    let client = client(&server.url);
    let e = client.phone_number(PN).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::InvalidResponse);
    assert!(e.message().contains("not JSON"), "{}", e.message());
    assert!(e.message().contains("<html>oops <redacted></html>"), "{}", e.message());
    assert!(!e.message().contains(TOKEN));
    assert_eq!(server.seen().len(), 1, "a garbled 200 is not retried");
    let e = client.initiate_migration(WABA, "1", "6315555555").await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::InvalidResponse);
    assert!(e.may_have_taken_effect());
}

// --- token info ------------------------------------------------------------------------------

#[tokio::test]
async fn token_info_from_debug_token_through_a_batch() {
    let server = serve(|seen, _| {
        let batch: Value = serde_json::from_str(&seen.form()["batch"]).unwrap();
        let relative = batch[0]["relative_url"].as_str().unwrap().to_owned();
        assert_eq!(relative, format!("debug_token?input_token={TOKEN}"));
        Reply::ok(json!([{"code": 200, "body": json!({"data": {
            "app_id": "000000000000000", "type": "SYSTEM_USER", "application": "wamig",
            "is_valid": true, "expires_at": 0,
            "scopes": ["whatsapp_business_management", "whatsapp_business_messaging"],
            "granular_scopes": [{"scope": "whatsapp_business_management", "target_ids": [WABA]}]
        }}).to_string()}]))
    })
    .await;
    let info = client(&server.url).token_info().await.unwrap();
    assert_eq!(info.source, TokenInfoSource::DebugToken);
    assert_eq!(info.is_valid, Some(true));
    assert_eq!(info.covers("whatsapp_business_management", WABA), Some(true));
    assert_eq!(info.covers("whatsapp_business_management", "1"), Some(false));
}

#[tokio::test]
async fn token_info_falls_back_to_permissions_when_debug_token_is_refused() {
    let server = serve(|seen, _| match (seen.method.as_str(), seen.path.as_str()) {
        ("POST", _) => Reply::ok(json!([{"code": 400, "body": json!({"error": {
            "message": "(#100) You must provide an app access token, or a user access token that is an owner or developer of the app",
            "type": "OAuthException", "code": 100}}).to_string()}])),
        ("GET", "/v23.0/me/permissions") => Reply::ok(json!({"data": [
            {"permission": "whatsapp_business_management", "status": "granted"},
            {"permission": "whatsapp_business_messaging", "status": "declined"}]})),
        _ => Reply::raw(404, ""),
    })
    .await;
    let info = client(&server.url).token_info().await.unwrap();
    assert_eq!(info.source, TokenInfoSource::Permissions);
    assert!(info.has_scope("whatsapp_business_management"));
    assert!(!info.has_scope("whatsapp_business_messaging"));
    // A server without the batch endpoint at all is a refusal too.
    let server = serve(|seen, _| match seen.path.as_str() {
        "/v23.0/me/permissions" => {
            Reply::ok(json!({"data": [{"permission": "whatsapp_business_management", "status": "granted"}]}))
        }
        _ => Reply::json(404, json!({"error": {"message": "Unknown path", "code": 803}})),
    })
    .await;
    let info = client(&server.url).token_info().await.unwrap();
    assert_eq!(info.source, TokenInfoSource::Permissions);
}

#[tokio::test]
async fn token_info_does_not_fall_back_when_the_token_itself_is_refused() {
    let server = serve(|_, _| {
        Reply::json(
            400,
            json!({"error": {"message": "Error validating access token: Session has expired",
            "type": "OAuthException", "code": 190, "error_subcode": 463}}),
        )
    })
    .await;
    let error = client(&server.url).token_info().await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Auth);
    assert_eq!(server.seen().len(), 1, "no /me/permissions after the token was refused");
}

/// observe splits its WABAs into chunks of 50 and, when Graph refuses a chunk, reads its WABAs
/// one by one; all of it within the client's concurrency.
#[tokio::test]
async fn observe_stays_within_the_clients_concurrency() {
    let server = serve(|seen, _| {
        if seen.path.ends_with("/me/permissions") || seen.method == "POST" {
            return Reply::ok(json!({"data": []}));
        }
        // Every WABA is out of this token's reach, alone or in a multi-id read.
        Reply::json(
            400,
            json!({"error": {"message": "Unsupported get request.", "type": "GraphMethodException", "code": 100, "error_subcode": 33}}),
        )
        .delay(Duration::from_millis(20))
    })
    .await;
    let (client, _) = client_with(&server.url, |c| c.with_max_concurrency(2));
    let mut manifest = String::from("version: 1\ndestinations:\n");
    for i in 0..120u64 {
        manifest.push_str(&format!(
            "  - waba: \"{}\"\n    numbers:\n      - {{ phone: \"+1 415-555-{i:04}\", register: false }}\n",
            340_000_000_000_000u64 + i
        ));
    }
    let desired = wamig::manifest::parse(&manifest, std::path::Path::new("wamig.yaml")).unwrap().desired;
    let ui = wamig::ui::Ui::capture(wamig::ui::Level::Warn, wamig::ui::LogFormat::Text);
    let snapshot = wamig::observe::observe(&client, &desired, &ui).await.unwrap();
    assert_eq!(snapshot.wabas.len(), 120);
    assert!(snapshot.wabas.values().all(|w| matches!(w.access, wamig::observe::Access::Unreadable { .. })));
    assert!(server.seen().len() >= 120 + 3, "each refused chunk was read WABA by WABA");
    assert!(server.max_in_flight() <= 2, "{} requests in flight", server.max_in_flight());
}
