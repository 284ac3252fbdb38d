//! Shared helpers: running the built `wamig` binary with a clean environment, and snapshot
//! filters for what changes between runs (temporary paths, ports, times).

// Helpers are shared by every test module; not each module uses each one.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A `wamig` command with no inherited `WAMIG_*` variables and colour off.
pub fn wamig(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wamig"));
    command.current_dir(dir);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("WAMIG_") {
            command.env_remove(key);
        }
    }
    command.env("NO_COLOR", "1").env_remove("CLICOLOR_FORCE");
    command
}

/// Exit code, stdout and stderr in one text, for snapshots.
pub fn transcript(output: &Output) -> String {
    format!(
        "exit: {}\n--- stdout ---\n{}--- stderr ---\n{}",
        output.status.code().map_or("signal".to_string(), |c| c.to_string()),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A sandbox running in this test process, a temporary project directory with a manifest, and
/// the real `wamig` binary pointed at both. The runtime lives as long as the rig, so the sandbox
/// answers while the binary runs.
pub struct Rig {
    pub dir: tempfile::TempDir,
    pub outbox: PathBuf,
    pub sandbox: wamig::sandbox::SandboxHandle,
    pub token: String,
    _runtime: tokio::runtime::Runtime,
}

/// The example world's token for the Acme partner: reads the source, manages the destination.
pub const ACME_TOKEN: &str = "sandbox-token-acme-system-user";
pub const SOURCE_WABA: &str = "102289599326934";
pub const DESTINATION_WABA: &str = "104996122399160";
/// The example world's destination with no app subscribed to its webhooks.
pub const NO_WEBHOOKS_WABA: &str = "105000000000002";

/// A sandbox with `world` on a free loopback port of the current runtime, and the temporary
/// outbox it writes codes to (kept as long as the sandbox is used).
pub async fn start_sandbox(
    world: &str,
    configure: impl FnOnce(&mut wamig::sandbox::SandboxOptions),
) -> (wamig::sandbox::SandboxHandle, tempfile::TempDir) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let outbox = tempfile::tempdir().unwrap();
    let world = wamig::sandbox::World::from_yaml_str(world).unwrap();
    let mut options = wamig::sandbox::SandboxOptions::new(world, outbox.path());
    configure(&mut options);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    (wamig::sandbox::start(listener, options).await.unwrap(), outbox)
}

impl Rig {
    /// The example world (examples/sandbox/world.yaml) and the given manifest.
    pub fn new(manifest: &str) -> Rig {
        Rig::with_world(wamig::sandbox::EXAMPLE_WORLD, manifest)
    }

    pub fn with_world(world: &str, manifest: &str) -> Rig {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap();
        let outbox = dir.path().join("outbox");
        std::fs::write(dir.path().join("wamig.yaml"), manifest).unwrap();
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let world = wamig::sandbox::World::from_yaml_str(world).unwrap();
        let sandbox = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            wamig::sandbox::start(listener, wamig::sandbox::SandboxOptions::new(world, &outbox))
                .await
                .unwrap()
        });
        Rig { dir, outbox, sandbox, token: ACME_TOKEN.to_owned(), _runtime: runtime }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `wamig` in the project directory, talking to the sandbox with the rig's token and
    /// `WAMIG_PIN=123456`.
    pub fn wamig(&self) -> Command {
        let mut command = wamig(self.dir.path());
        command
            .env("WAMIG_GRAPH_URL", self.sandbox.base_url())
            .env("WAMIG_ACCESS_TOKEN", &self.token)
            .env("WAMIG_PIN", "123456");
        command
    }

    /// The code the sandbox "sent" to a number (digits without `+`).
    pub fn sent_code(&self, digits: &str) -> String {
        std::fs::read_to_string(self.outbox.join(digits)).unwrap().trim().to_owned()
    }

    /// Where wamig looks for a number's code by default.
    pub fn code_file(&self, digits: &str) -> PathBuf {
        self.dir.path().join(".wamig/codes").join(digits)
    }

    /// The phone's owner reads the SMS and drops the code where wamig looks.
    pub fn deliver_code(&self, digits: &str) {
        let file = self.code_file(digits);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, format!("{}\n", self.sent_code(digits))).unwrap();
    }

    pub fn journal(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.dir.path().join(".wamig/state.json"))
            .unwrap_or_else(|_| "{}".into());
        serde_json::from_str(&text).unwrap()
    }

    /// Replaces what changes between runs (times, ports, temporary paths, digests) so
    /// transcripts can be snapshotted.
    pub fn filters(&self) -> Vec<(String, String)> {
        vec![
            (regex_escape(&self.sandbox.base_url()), "http://127.0.0.1:[PORT]".into()),
            (regex_escape(&self.dir.path().display().to_string()), "[DIR]".into()),
            (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z".into(), "[TIME]".into()),
            (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}( UTC)?".into(), "[TIME]".into()),
            (r"\b\d{2}:\d{2} UTC".into(), "[HH:MM] UTC".into()),
            (r"\b[0-9a-f]{64}\b".into(), "[DIGEST]".into()),
            // Short digests are always labelled; a bare 12-digit pattern would eat phone numbers.
            (r"digest [0-9a-f]{12}\b".into(), "digest [DIGEST12]".into()),
            (r"fbtrace_id [A-Za-z0-9_-]+".into(), "fbtrace_id [TRACE]".into()),
        ]
    }
}

pub fn regex_escape(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Runs `body` with insta filters for what changes between runs (times, ports, temporary
/// paths, digests), so transcripts can be snapshotted.
pub fn with_filters(filters: &[(String, String)], body: impl FnOnce()) {
    let mut settings = insta::Settings::clone_current();
    for (pattern, replacement) in filters {
        settings.add_filter(pattern, replacement.as_str());
    }
    settings.bind(body);
}
