//! Owns `wamig sandbox`: a local emulator of the Graph API endpoints a phone-number migration
//! uses, following Meta's documentation (docs/graph-compatibility.md), not any client. This file
//! holds the public surface (options, `start`, the handle tests drive, `run` for the CLI) and the
//! module error; `world` parses the world file, `state` is the pure rule engine, `envelope` the
//! error catalogue, `fields` the `fields=` parser, `faults` fault injection and `server` the HTTP
//! layer. It must not depend on the Graph client (`crate::graph`) or the manifest.

mod envelope;
mod faults;
mod fields;
mod server;
mod state;
mod world;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::diag::{Diagnostic, SourceLocation, ToDiagnostics};
use crate::ui::Ui;

pub use envelope::{ErrorBody, GraphError};
pub use faults::{DropPhase, Faults, FaultsPatch, Refusal, WriteOperation};
pub use server::{Hold, LoggedRequest};
pub use state::{
    Behaviour, NumberPatch, NumberSnapshot, OptionsPatch, SkippedTemplate, TemplateKey, TemplateReport,
    TemplateSnapshot, TokenBehaviour, TokenPatch, Usage, WabaPatch,
};
pub use world::{
    AccountMode, CodeVerificationStatus, MigratedSource, NameStatus, NumberStatus, OwnershipType,
    PlatformType, QualityRating, TemplateCategory, TemplateQuality, TemplateStatus, World,
};

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("cannot read the sandbox world {}", path.display())]
    ReadWorld {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the sandbox world{} is not valid YAML for a world: {message}", in_file(path))]
    WorldSyntax { path: Option<PathBuf>, line: Option<usize>, column: Option<usize>, message: String },
    #[error("{} problem(s) in the sandbox world{}", problems.len(), in_file(path))]
    WorldInvalid { path: Option<PathBuf>, problems: Vec<String> },
    #[error("cannot create the outbox directory {}", path.display())]
    Outbox {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the request log {}", path.display())]
    RequestLog {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the sandbox server failed")]
    Serve(#[source] std::io::Error),
}

fn in_file(path: &Option<PathBuf>) -> String {
    path.as_ref().map(|p| format!(" {}", p.display())).unwrap_or_default()
}

impl ToDiagnostics for SandboxError {
    fn diagnostics(&self) -> Vec<Diagnostic> {
        let base = Diagnostic::from_error(self);
        match self {
            SandboxError::ReadWorld { .. } => vec![base.with_hint(
                "pass an existing world file with --world; examples/sandbox/world.yaml is a complete example",
            )],
            SandboxError::WorldSyntax { path, line, column, .. } => {
                let mut diagnostic = base.with_hint(
                    "compare with examples/sandbox/world.yaml; every key is described in examples/sandbox/README.md",
                );
                if let (Some(path), Some(line), Some(column)) = (path, line, column) {
                    let mut location = SourceLocation::new(path.clone(), *line, *column);
                    if let Some(source) = std::fs::read_to_string(path)
                        .ok()
                        .and_then(|text| text.lines().nth(line.saturating_sub(1)).map(str::to_owned))
                    {
                        location = location.with_source(&source);
                    }
                    diagnostic = diagnostic.at(location);
                }
                vec![diagnostic]
            }
            SandboxError::WorldInvalid { problems, .. } => {
                let mut diagnostic = base;
                for problem in problems {
                    diagnostic = diagnostic.with_cause(problem.clone());
                }
                vec![
                    diagnostic.with_hint(
                        "fix the keys named above; examples/sandbox/README.md describes every key",
                    ),
                ]
            }
            SandboxError::Outbox { .. } => vec![
                base.with_hint("--outbox must be a directory the sandbox can create and write codes into"),
            ],
            SandboxError::RequestLog { .. } => {
                vec![base.with_hint("--request-log must name a writable file")]
            }
            SandboxError::Bind { .. } => vec![
                base.with_hint("pick another port with --listen 127.0.0.1:PORT, or port 0 for any free port"),
            ],
            SandboxError::Serve(_) => vec![base.with_hint("start the sandbox again")],
        }
    }
}

/// Parses `100ms`, `90s`, `15m`, `1h`, `3d`, or combinations like `1h30m`. Unlike the command
/// line, a world file must name the unit (a bare `10` is ambiguous between seconds and
/// milliseconds in a latency); only `0` may go without.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed != "0" && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "invalid duration \"{trimmed}\": write a number and a unit (ms, s, m, h, d), e.g. 100ms, 90s, 15m, 1h"
        ));
    }
    crate::duration::parse(trimmed)
}

impl Faults {
    /// The faults a world file asks for at start-up.
    pub fn from_world(world: &World) -> Faults {
        let f = &world.options.faults;
        Faults {
            answer_delay: Duration::ZERO,
            latency: f.latency,
            error_rate: f.error_rate,
            drop_rate: f.drop_rate,
            throttle_burst: f.throttle_burst,
            seed: f.seed,
            drop_phase: DropPhase::Random,
            refuse: f.refuse.clone(),
        }
    }
}

/// The example world of examples/sandbox/world.yaml, built in so `wamig demo` and tests need no
/// file.
pub const EXAMPLE_WORLD: &str = include_str!("../../examples/sandbox/world.yaml");

impl World {
    /// The parsed example world (see [`EXAMPLE_WORLD`]).
    pub fn example() -> World {
        match World::from_yaml_str(EXAMPLE_WORLD) {
            Ok(world) => world,
            // A unit test parses the same text, so this cannot fail in a released binary.
            Err(error) => unreachable!("the built-in example world is invalid: {error}"),
        }
    }
}

/// Everything `start` needs.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    pub world: World,
    /// Where "sent" codes are written, one file per number named by its digits.
    pub outbox: PathBuf,
    pub faults: Faults,
    /// JSON lines, one per Graph request (secrets redacted).
    pub request_log: Option<PathBuf>,
}

impl SandboxOptions {
    /// Options with the world's own default faults and no request log.
    pub fn new(world: World, outbox: impl Into<PathBuf>) -> Self {
        let faults = Faults::from_world(&world);
        Self { world, outbox: outbox.into(), faults, request_log: None }
    }
}

/// Starts serving on `listener` in the current tokio runtime.
pub async fn start(
    listener: tokio::net::TcpListener,
    options: SandboxOptions,
) -> Result<SandboxHandle, SandboxError> {
    server::start(listener, options).await
}

/// A running sandbox. Dropping it stops the server too; `shutdown` waits for it.
pub struct SandboxHandle {
    addr: SocketAddr,
    shared: Arc<server::Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl SandboxHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash or version.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The request log so far (secrets redacted).
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.lock().log.clone()
    }

    pub fn request_count(&self) -> usize {
        self.shared.lock().log.len()
    }

    /// Replaces the faults (and restarts their random stream from `faults.seed`).
    pub fn set_faults(&self, faults: Faults) {
        self.shared.lock().set_faults(faults);
    }

    /// The faults now in force (`throttle_burst` counts what is left of the burst).
    pub fn faults(&self) -> Faults {
        self.shared.lock().faults.faults()
    }

    /// Moves the sandbox clock forward: code expiry, the register window, verification
    /// lockouts and the rate-limit hour all follow it.
    pub fn advance_clock(&self, by: Duration) {
        let mut inner = self.shared.lock();
        inner.clock_offset = inner.clock_offset.saturating_add(by);
    }

    /// The sandbox's current (virtual) time.
    pub fn now(&self) -> jiff::Timestamp {
        self.shared.lock().now()
    }

    /// The whole state as JSON: WABAs with their numbers and templates, every number node,
    /// template duplication reports, rate-limit usage. Never contains tokens, codes or PINs.
    pub fn inspect(&self) -> serde_json::Value {
        let mut inner = self.shared.lock();
        let now = inner.now();
        inner.state.inspect(now)
    }

    /// One phone-number node by id (also removed ones).
    pub fn number(&self, id: &str) -> Option<NumberSnapshot> {
        let inner = self.shared.lock();
        inner.state.number(id, inner.now())
    }

    /// Every node ever created for a phone number (source first), by E.164 in any format.
    pub fn numbers_for_phone(&self, phone: &str) -> Vec<NumberSnapshot> {
        let inner = self.shared.lock();
        inner.state.numbers_for_phone(phone, inner.now())
    }

    pub fn templates(&self, waba_id: &str) -> Vec<TemplateSnapshot> {
        let mut inner = self.shared.lock();
        let now = inner.now();
        inner.state.settle_template_reviews(now);
        inner.state.templates_of(waba_id)
    }

    /// One report per verified migration: copied, rejected, left out for the limit, ...
    pub fn template_reports(&self) -> Vec<TemplateReport> {
        self.shared.lock().state.template_reports().to_vec()
    }

    /// The outbox file a code for `phone` is written to.
    pub fn outbox_path(&self, phone: &str) -> PathBuf {
        self.shared.outbox.join(world::digits_of(phone))
    }

    /// Applies a change made "in WhatsApp Manager" to a number, given by node id or by phone
    /// (e.g. turning two-step verification off before a migration).
    pub fn patch_number(&self, id_or_phone: &str, patch: &NumberPatch) -> Result<NumberSnapshot, String> {
        let mut inner = self.shared.lock();
        let now = inner.now();
        inner.state.patch_number(id_or_phone, patch, now)
    }

    /// Applies a change made "in Business settings" to a WABA (payment method, review, ...).
    pub fn patch_waba(&self, id: &str, patch: &WabaPatch) -> Result<(), String> {
        self.shared.lock().state.patch_waba(id, patch)
    }

    /// Switches Graph behaviours (read lag, ...) as the world's `options:` would.
    pub fn patch_options(&self, patch: &OptionsPatch) -> Result<Behaviour, String> {
        self.shared.lock().state.patch_options(patch)
    }

    /// Changes which WABA fields the token named `who` (its `name` or `user_id`) is refused.
    pub fn patch_token(&self, who: &str, patch: &TokenPatch) -> Result<TokenBehaviour, String> {
        self.shared.lock().state.patch_token(who, patch)
    }

    /// Holds the next Graph request with this method and path (without the version, e.g.
    /// `/104996122399160/phone_numbers`) once it has arrived, before it is handled, until
    /// [`release`](Self::release). Tests use it to change the world between a client's read
    /// and its write without relying on timing. Returns the hold's id.
    pub fn hold(&self, method: &str, path: &str) -> u64 {
        self.shared.lock().add_hold(method, path)
    }

    /// The holds not yet released, and whether a request is waiting in each.
    pub fn holds(&self) -> Vec<Hold> {
        self.shared.lock().holds()
    }

    /// Lets the request caught by hold `id` go on (or cancels the hold if none came yet).
    /// False when there is no such hold.
    pub fn release(&self, id: u64) -> bool {
        self.shared.lock().release_hold(id)
    }

    /// Stops accepting, lets in-flight requests finish, and waits (at most 5 s).
    pub async fn shutdown(mut self) {
        self.shared.lock().release_all_holds();
        if let Some(sender) = self.shutdown.take() {
            let _ = sender.send(());
        }
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), task).await.is_err() {
                abort.abort();
            }
        }
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        self.shared.lock().release_all_holds();
        if let Some(sender) = self.shutdown.take() {
            let _ = sender.send(());
        }
    }
}

/// A warning when the sandbox listens beyond this machine (`--listen 0.0.0.0:4010`, say): it
/// serves plain http, accepts its world's tokens and hands out verification codes to anyone
/// who can reach it.
fn exposure_warning(addr: SocketAddr) -> Option<String> {
    let ip = addr.ip();
    let loopback = match ip {
        std::net::IpAddr::V4(v4) => v4.is_loopback(),
        std::net::IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    };
    (!loopback).then(|| {
        format!(
            "listening on {addr}, which other machines can reach: the sandbox speaks plain http and \
             accepts its world's tokens from anyone who can connect; use --listen 127.0.0.1:{} unless \
             other machines must reach it",
            addr.port()
        )
    })
}

/// What `wamig sandbox` was asked for; flags left out keep the world's defaults.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub world: PathBuf,
    pub listen: String,
    pub outbox: PathBuf,
    pub latency: Option<Duration>,
    pub error_rate: Option<f64>,
    pub drop_rate: Option<f64>,
    pub throttle_burst: Option<u32>,
    pub seed: Option<u64>,
    pub request_log: Option<PathBuf>,
}

/// Runs `wamig sandbox` until Ctrl-C: prints `wamig sandbox listening on http://ADDR` on stdout
/// (with the real port when asked for port 0).
pub fn run(options: RunOptions, ui: &Ui) -> Result<(), SandboxError> {
    let world = World::load(&options.world)?;
    let mut faults = Faults::from_world(&world);
    if let Some(latency) = options.latency {
        faults.latency = latency;
    }
    if let Some(rate) = options.error_rate {
        faults.error_rate = rate;
    }
    if let Some(rate) = options.drop_rate {
        faults.drop_rate = rate;
    }
    if let Some(burst) = options.throttle_burst {
        faults.throttle_burst = burst;
    }
    if let Some(seed) = options.seed {
        faults.seed = seed;
    }
    let summary = format!(
        "{} WABA(s), {} phone number(s), {} token(s); codes go to {}",
        world.wabas.len(),
        world.wabas.iter().map(|w| w.phone_numbers.len()).sum::<usize>(),
        world.tokens.len(),
        options.outbox.display()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(SandboxError::Serve)?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&options.listen)
            .await
            .map_err(|source| SandboxError::Bind { addr: options.listen.clone(), source })?;
        let handle = start(
            listener,
            SandboxOptions {
                world,
                outbox: options.outbox.clone(),
                faults,
                request_log: options.request_log.clone(),
            },
        )
        .await?;
        ui.out(&format!("wamig sandbox listening on {}\n", handle.base_url()));
        if let Some(warning) = exposure_warning(handle.addr()) {
            ui.warn("sandbox.exposed", &warning);
        }
        ui.info("sandbox.world", &summary);
        ui.info(
            "sandbox.admin",
            &format!(
                "admin endpoints under {}/_sandbox/ (requests, state, clock, faults, options, tokens, numbers, wabas, holds); Ctrl-C stops",
                handle.base_url()
            ),
        );
        let _ = tokio::signal::ctrl_c().await;
        ui.info("sandbox.stop", "stopping the sandbox");
        handle.shutdown().await;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_beyond_loopback_is_warned_about() {
        for exposed in ["0.0.0.0:4010", "[::]:4010", "192.0.2.7:80"] {
            let warning = exposure_warning(exposed.parse().unwrap()).unwrap();
            assert!(warning.contains("other machines can reach"), "{warning}");
        }
        for local in ["127.0.0.1:4010", "[::1]:4010", "[::ffff:127.0.0.1]:1"] {
            assert_eq!(exposure_warning(local.parse().unwrap()), None, "{local}");
        }
    }

    #[test]
    fn durations_in_cli_style() {
        assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("72h"), Ok(Duration::from_secs(72 * 3600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        for bad in ["", "10", "1.5s", "s", "1w", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn world_errors_render_with_hints() {
        let error = World::from_yaml_str("wabas: 3").unwrap_err();
        let diagnostics = error.diagnostics();
        assert!(diagnostics[0].hint.is_some());
    }
}
