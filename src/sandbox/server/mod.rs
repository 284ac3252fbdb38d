//! Owns the HTTP side of the sandbox, one room per job: `transport` (connections a handler can
//! drop), `request` (one Graph request on the wire: parameters, token, versions, faults,
//! headers, the request log), `dispatch` (which state operation a path runs), `batch` (Graph
//! batch requests), `params` (query and body decoding), `admin` (routes under `/_sandbox/`) and
//! `behaviour` (admin routes that switch Graph behaviours).
//! This file holds the shared server state and `start`. Migration rules live in `state/`; the
//! server must not decide them.

mod admin;
mod batch;
mod behaviour;
mod dispatch;
mod params;
mod request;
mod transport;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::http::Method;
use axum::routing::any;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

use self::request::{graph, split_version};
use self::transport::{ConnKill, KillableListener};
use crate::sandbox::faults::{FaultEngine, Faults, Prng};
use crate::sandbox::state::State;
use crate::sandbox::{SandboxError, SandboxHandle, SandboxOptions};
use crate::secret::Secret;

/// One Graph request as the log keeps it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LoggedRequest {
    pub seq: u64,
    /// Sandbox (virtual) time, RFC 3339.
    pub time: String,
    pub method: String,
    pub path: String,
    /// Every parameter present (query and body); secret ones read `<redacted>`.
    pub params: BTreeMap<String, String>,
    /// How the token came: `header`, `parameter` or `none`.
    pub auth: String,
    /// `None` when the connection was dropped.
    pub status: Option<u16>,
    pub error_code: Option<i64>,
    pub error_subcode: Option<i64>,
    /// `throttle`, `server_error`, `drop_before_write`, `drop_after_write`, `refuse`.
    pub fault: Option<String>,
    pub fbtrace_id: Option<String>,
}

pub(crate) struct Inner {
    pub state: State,
    pub faults: FaultEngine,
    pub clock_offset: Duration,
    pub log: Vec<LoggedRequest>,
    holds: Vec<HoldState>,
    next_hold: u64,
    trace_rng: Prng,
    seq: u64,
}

/// A request hold as the handle and the admin API report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hold {
    pub id: u64,
    pub method: String,
    /// The Graph path without its version, e.g. `/104996122399160/phone_numbers`.
    pub path: String,
    /// A request matched it and is waiting for the release.
    pub waiting: bool,
}

struct HoldState {
    hold: Hold,
    release: tokio::sync::watch::Sender<bool>,
}

impl Inner {
    pub fn now(&self) -> Timestamp {
        Timestamp::now().checked_add(self.clock_offset).unwrap_or(Timestamp::MAX)
    }

    pub fn set_faults(&mut self, faults: Faults) {
        self.faults = FaultEngine::new(faults);
    }

    /// Adds a hold for the next Graph request with this method and path; returns its id.
    pub fn add_hold(&mut self, method: &str, path: &str) -> u64 {
        self.next_hold += 1;
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let hold = Hold {
            id: self.next_hold,
            method: method.trim().to_ascii_uppercase(),
            path: format!("/{}", segments.join("/")),
            waiting: false,
        };
        let (release, _) = tokio::sync::watch::channel(false);
        self.holds.push(HoldState { hold, release });
        self.next_hold
    }

    pub fn holds(&self) -> Vec<Hold> {
        self.holds.iter().map(|h| h.hold.clone()).collect()
    }

    /// Lets the request a hold caught (if any) go on, and forgets the hold.
    pub fn release_hold(&mut self, id: u64) -> bool {
        let Some(at) = self.holds.iter().position(|h| h.hold.id == id) else {
            return false;
        };
        let _ = self.holds.remove(at).release.send(true);
        true
    }

    pub fn release_all_holds(&mut self) {
        for hold in self.holds.drain(..) {
            let _ = hold.release.send(true);
        }
    }

    /// The first free hold matching this request catches it: the caller waits on the receiver.
    fn catch(&mut self, method: &Method, path: &str) -> Option<tokio::sync::watch::Receiver<bool>> {
        let (_, segments) = split_version(path).ok()?;
        let unversioned = format!("/{}", segments.join("/"));
        let hold = self
            .holds
            .iter_mut()
            .find(|h| !h.hold.waiting && h.hold.method == method.as_str() && h.hold.path == unversioned)?;
        hold.hold.waiting = true;
        Some(hold.release.subscribe())
    }

    fn trace_id(&mut self) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
        let mut id = String::from("A");
        for _ in 0..22 {
            id.push(ALPHABET[self.trace_rng.below(64) as usize] as char);
        }
        id
    }
}

pub(crate) struct Shared {
    inner: Mutex<Inner>,
    pub outbox: PathBuf,
    log_file: Option<Mutex<std::fs::File>>,
    addr: SocketAddr,
    app_secret: Option<Secret>,
}

impl Shared {
    /// Poisoning cannot leave the state half-updated in a way worse than a crash would, and
    /// a sandbox must keep answering, so a poisoned lock is simply taken.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub(crate) async fn start(
    listener: TcpListener,
    options: SandboxOptions,
) -> Result<SandboxHandle, SandboxError> {
    let addr = listener.local_addr().map_err(SandboxError::Serve)?;
    std::fs::create_dir_all(&options.outbox)
        .map_err(|source| SandboxError::Outbox { path: options.outbox.clone(), source })?;
    let log_file = match &options.request_log {
        Some(path) => Some(Mutex::new(
            std::fs::File::create(path)
                .map_err(|source| SandboxError::RequestLog { path: path.clone(), source })?,
        )),
        None => None,
    };
    let seed = options.faults.seed;
    let shared = Arc::new(Shared {
        inner: Mutex::new(Inner {
            state: State::new(&options.world, seed),
            faults: FaultEngine::new(options.faults.clone()),
            clock_offset: Duration::ZERO,
            log: Vec::new(),
            holds: Vec::new(),
            next_hold: 0,
            trace_rng: Prng::new(seed.rotate_left(17) ^ 0xFB7A_CE1D),
            seq: 0,
        }),
        outbox: options.outbox.clone(),
        log_file,
        addr,
        app_secret: options.world.app.secret.clone(),
    });

    let router = admin::routes()
        .merge(behaviour::routes())
        .route("/", any(graph))
        .route("/{version}", any(graph))
        .route("/{version}/", any(graph))
        .route("/{version}/{node}", any(graph))
        .route("/{version}/{node}/{edge}", any(graph))
        .fallback(graph)
        .with_state(shared.clone());

    let (sender, receiver) = tokio::sync::oneshot::channel::<()>();
    let server =
        axum::serve(KillableListener(listener), router.into_make_service_with_connect_info::<ConnKill>())
            .with_graceful_shutdown(async move {
                let _ = receiver.await;
            });
    let task = tokio::spawn(async move {
        let _ = server.await;
    });
    Ok(SandboxHandle { addr, shared, shutdown: Some(sender), task: Some(task) })
}
