//! Where the token's bytes really go: never through a proxy over plain http, never to a name
//! that only claims to be loopback; and what a Graph server can send back: a path in the Graph
//! URL refused up front, endless answers cut off, echoed secrets scrubbed in every encoding.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::plan_support::*;
use crate::support::*;

/// A fake HTTP proxy on loopback: counts the connections it gets and what they carried, and
/// answers each with 502.
struct FakeProxy {
    url: String,
    connections: Arc<AtomicUsize>,
    seen: Arc<Mutex<String>>,
}

impl FakeProxy {
    fn start() -> FakeProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(String::new()));
        let (count, text) = (connections.clone(), seen.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                count.fetch_add(1, Ordering::SeqCst);
                let mut buffer = [0u8; 4096];
                let read = stream.read(&mut buffer).unwrap_or(0);
                text.lock().unwrap().push_str(&String::from_utf8_lossy(&buffer[..read]));
                let _ = stream
                    .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            }
        });
        FakeProxy { url, connections, seen }
    }
}

#[test]
fn plain_http_to_loopback_never_goes_through_a_proxy() {
    let rig = Rig::new(&one_number("+1 631-555-0102"));
    let proxy = FakeProxy::start();
    let output = rig
        .wamig()
        .arg("plan")
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .env("HTTP_PROXY", &proxy.url)
        .env("http_proxy", &proxy.url)
        .env("ALL_PROXY", &proxy.url)
        .env("all_proxy", &proxy.url)
        .output()
        .unwrap();
    assert_eq!(
        proxy.connections.load(Ordering::SeqCst),
        0,
        "the proxy received: {}",
        proxy.seen.lock().unwrap()
    );
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
}

#[test]
fn a_graph_url_with_a_path_is_refused_with_a_hint() {
    let rig = Rig::new(&one_number("+1 631-555-0102"));
    let url = format!("{}/v23.0", rig.sandbox.base_url());
    let output = rig.wamig().arg("plan").env("WAMIG_GRAPH_URL", &url).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("has a path (`/v23.0`)"), "{err}");
    assert!(err.contains("hint: ") && err.contains("--api-version"), "{err}");
    assert!(rig.sandbox.requests().is_empty(), "refused before any request");
}

/// A server answering every request with `head` and then `body_len` bytes of `x` (no
/// `Content-Length` unless `head` has one: the body ends when the connection closes).
async fn oversized_server(head: &'static str, body_len: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let mut request = [0u8; 8192];
                let _ = stream.read(&mut request).await;
                let _ = stream.write_all(head.as_bytes()).await;
                let chunk = vec![b'x'; 64 * 1024];
                let mut sent = 0;
                while sent < body_len {
                    let n = chunk.len().min(body_len - sent);
                    if stream.write_all(&chunk[..n]).await.is_err() {
                        return;
                    }
                    sent += n;
                }
            });
        }
    });
    url
}

fn no_retries(url: &str) -> wamig::graph::GraphClient {
    let config = wamig::graph::GraphConfig::new(url, "v23.0", wamig::secret::Secret::new("canary-token"))
        .unwrap()
        .with_retry(wamig::graph::RetryPolicy { max_attempts: 1, ..Default::default() });
    wamig::graph::GraphClient::new(config).unwrap()
}

#[tokio::test]
async fn an_oversized_answer_is_refused_not_buffered() {
    // Close-delimited: the size is only known by reading, so reading stops at the cap.
    let url = oversized_server(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n",
        40 << 20,
    )
    .await;
    let error = no_retries(&url).get_node::<serde_json::Value>("104996122399160", "id").await.unwrap_err();
    assert_eq!(error.class(), wamig::graph::ErrorClass::InvalidResponse, "{error}");
    assert!(error.to_string().contains("larger than 16 MiB"), "{error}");

    // A length announced past the cap is refused before any of the body is read.
    let url = oversized_server(
        "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 1073741824\r\nConnection: close\r\n\r\n",
        1024,
    )
    .await;
    let error = no_retries(&url).get_node::<serde_json::Value>("104996122399160", "id").await.unwrap_err();
    assert!(error.to_string().contains("larger than 16 MiB"), "{error}");
}

#[test]
fn a_sandbox_listening_beyond_loopback_says_so() {
    let outbox = tempfile::tempdir().unwrap();
    let world = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sandbox/world.yaml");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_wamig"));
    command.args(["sandbox", "--world", world, "--listen", "0.0.0.0:0", "--outbox"]).arg(outbox.path());
    let running = crate::apply_support::Running::spawn(command);
    running.wait_for_line("warning: listening on 0.0.0.0:");
    running.wait_for_line("other machines can reach");
    running.signal("INT");
    let output = running.finish();
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
}
