//! Helpers for the shared-journal tests: a real S3 API on loopback (moto's server, which `.ci/run`
//! installs into `target/moto-venv`), a proxy in front of it that can strip conditional headers
//! or play dead, and "runners": project directories that share nothing but the bucket.

// Helpers are shared by the shared-state test modules; not each uses each one.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::Rig;

/// Canary credentials: the tests check they never appear in any output.
pub const ACCESS_KEY_ID: &str = "wamig-test-key-id-7e1f";
pub const SECRET_ACCESS_KEY: &str = "wamig-test-secret-3c9a51d0";
pub const BUCKET: &str = "wamig-state";

/// moto's S3 server on a free loopback port, stopped when dropped.
pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_binary() -> Option<PathBuf> {
    let venv = crate::support::repo_root().join("target/moto-venv/bin/moto_server");
    if venv.exists() {
        return Some(venv);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("moto_server"))
        .find(|path| path.exists())
}

impl Moto {
    /// Starts moto with one bucket. `None` (after a loud message) when moto is not installed
    /// and this is not CI; under CI a missing moto fails the test.
    pub fn start() -> Option<Moto> {
        let Some(binary) = moto_binary() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "moto_server is missing: .ci/run installs it into target/moto-venv; the shared-journal tests cannot run without it"
            );
            eprintln!(
                "\n!!! SKIPPED: moto_server not found; install it with\n!!!   python3 -m venv target/moto-venv && target/moto-venv/bin/pip install 'moto[server]'\n!!! (or run bash .ci/run) to run the shared-journal tests\n"
            );
            return None;
        };
        let mut child = Command::new(binary)
            .args(["-H", "127.0.0.1", "-p", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("moto_server starts");
        let stderr = child.stderr.take().unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        // Reads the port from the start-up line, then keeps draining so moto never blocks on a
        // full pipe.
        std::thread::spawn(move || {
            let mut sender = Some(sender);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(port) =
                    line.split("http://127.0.0.1:").nth(1).and_then(|p| p.trim().parse::<u16>().ok())
                    && let Some(sender) = sender.take()
                {
                    let _ = sender.send(port);
                }
            }
        });
        let port = match receiver.recv_timeout(Duration::from_secs(60)) {
            Ok(port) => port,
            Err(_) => {
                let _ = child.kill();
                panic!("moto_server did not say which port it listens on");
            }
        };
        let moto = Moto { child, port };
        let (status, body) = http(moto.port, "PUT", &format!("/{BUCKET}"));
        assert_eq!(status, 200, "create bucket: {body}");
        Some(moto)
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// An object's text, or `None` when there is no such object. Read with signed requests:
    /// moto keeps objects private to the credentials that wrote them.
    pub fn object(&self, key: &str) -> Option<String> {
        use object_store::ObjectStoreExt;
        let store = object_store::aws::AmazonS3Builder::new()
            .with_endpoint(self.endpoint())
            .with_allow_http(true)
            .with_bucket_name(BUCKET)
            .with_region("us-east-1")
            .with_access_key_id(ACCESS_KEY_ID)
            .with_secret_access_key(SECRET_ACCESS_KEY)
            .build()
            .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            match store.get(&object_store::path::Path::from(key)).await {
                Ok(result) => Some(String::from_utf8(result.bytes().await.unwrap().to_vec()).unwrap()),
                Err(object_store::Error::NotFound { .. }) => None,
                Err(error) => panic!("reading {key}: {error}"),
            }
        })
    }

    /// The journal inside `prefix`'s envelope.
    pub fn journal(&self, prefix: &str) -> serde_json::Value {
        let text = self.object(&format!("{prefix}/journal.json")).expect("a journal in the bucket");
        let envelope: serde_json::Value = serde_json::from_str(&text).unwrap();
        envelope["journal"].clone()
    }

    pub fn lock(&self, prefix: &str) -> serde_json::Value {
        serde_json::from_str(&self.object(&format!("{prefix}/lock.json")).expect("a lock in the bucket"))
            .unwrap()
    }
}

/// One unsigned request; moto does not check signatures.
fn http(port: u16, method: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    (status, body)
}

/// What the proxy does with traffic.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    Pass = 0,
    /// Drops `If-None-Match` and `If-Match`: a store that ignores conditional writes.
    StripConditions = 1,
    /// Closes every connection at once: the store is down.
    Down = 2,
}

/// A proxy on loopback in front of moto, on a runtime of its own.
pub struct Proxy {
    pub port: u16,
    mode: Arc<AtomicU8>,
    _runtime: tokio::runtime::Runtime,
}

impl Proxy {
    pub fn start(upstream: u16, mode: Mode) -> Proxy {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let mode = Arc::new(AtomicU8::new(mode as u8));
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = mode.clone();
        runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if shared.load(Ordering::SeqCst) == Mode::Down as u8 {
                    continue;
                }
                tokio::spawn(relay(client, upstream, shared.clone()));
            }
        });
        Proxy { port, mode, _runtime: runtime }
    }

    pub fn set(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// Forwards requests one by one (rewriting their heads) and answers as they come.
async fn relay(client: tokio::net::TcpStream, upstream: u16, mode: Arc<AtomicU8>) {
    let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await else { return };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let answers = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
    });
    let mut buffer = Vec::new();
    loop {
        let head_end = loop {
            if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break Some(at + 4);
            }
            let mut chunk = [0u8; 8192];
            match client_read.read(&mut chunk).await {
                Ok(0) | Err(_) => break None,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let Some(head_end) = head_end else { break };
        let mode = mode.load(Ordering::SeqCst);
        if mode == Mode::Down as u8 {
            break;
        }
        let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
        let mut length = 0usize;
        let mut rewritten = String::new();
        for line in head.split_inclusive("\r\n") {
            let lower = line.to_ascii_lowercase();
            if let Some(value) = lower.strip_prefix("content-length:") {
                length = value.trim().parse().unwrap_or(0);
            }
            if mode == Mode::StripConditions as u8
                && (lower.starts_with("if-none-match:") || lower.starts_with("if-match:"))
            {
                continue;
            }
            rewritten.push_str(line);
        }
        buffer.drain(..head_end);
        while buffer.len() < length {
            let mut chunk = [0u8; 8192];
            match client_read.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        let body: Vec<u8> = buffer.drain(..length.min(buffer.len())).collect();
        if server_write.write_all(rewritten.as_bytes()).await.is_err()
            || server_write.write_all(&body).await.is_err()
        {
            break;
        }
    }
    answers.abort();
}

/// A runner: a project directory of its own (the manifest only), with wamig pointed at the
/// rig's sandbox and at `WAMIG_STATE`, through `endpoint`.
pub struct Runner {
    pub dir: tempfile::TempDir,
    pub endpoint: String,
    pub state: String,
}

impl Runner {
    pub fn new(rig: &Rig, endpoint: &str, state: &str) -> Runner {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(rig.path().join("wamig.yaml"), dir.path().join("wamig.yaml")).unwrap();
        Runner { dir, endpoint: endpoint.to_owned(), state: state.to_owned() }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `wamig` in this runner's directory, with the store's usual environment and nothing else
    /// of the test's.
    pub fn wamig(&self, rig: &Rig) -> Command {
        let mut command = rig.wamig();
        command.current_dir(self.dir.path());
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy().into_owned();
            if ["AWS_", "GOOGLE_", "AZURE_", "GITHUB_", "CI_JOB"].iter().any(|p| key.starts_with(p)) {
                command.env_remove(key);
            }
        }
        command
            .env("WAMIG_STATE", &self.state)
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
            .env("AWS_REGION", "us-east-1");
        command
    }

    /// `wamig apply --auto-approve` with the short waits of the apply tests.
    pub fn apply(&self, rig: &Rig, extra: &[&str]) -> Command {
        let mut command = self.wamig(rig);
        command.arg("apply").arg("--auto-approve").args(crate::apply_support::FAST).args(extra);
        command
    }

    /// Nothing of the journal is ever kept on the runner.
    pub fn assert_no_local_state(&self) {
        assert!(
            !self.dir.path().join(".wamig/state.json").exists(),
            "a local journal in {}",
            self.dir.path().display()
        );
    }
}

/// Every output of a test, checked for the canary credentials.
pub fn assert_no_credentials(outputs: &[&std::process::Output]) {
    for output in outputs {
        let text =
            format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(!text.contains(SECRET_ACCESS_KEY), "the secret key was printed: {text}");
        assert!(!text.contains(ACCESS_KEY_ID), "the key id was printed: {text}");
    }
}

/// Waits until `check` holds; panics after 20 s.
pub fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < Duration::from_secs(20), "never happened: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
