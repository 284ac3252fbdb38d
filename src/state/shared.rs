//! Owns the journal and its lock in an object store, under one prefix:
//!
//! - `<prefix>/journal.json`: the journal, in an envelope naming the lock generation that wrote
//!   it. Every write is a conditional update on the version last read or written here.
//! - `<prefix>/lock.json`: the lease (`state::lease`). Taken by a conditional create, or by a
//!   conditional update when it is released or its lease has ended; renewed and released by
//!   conditional updates; never deleted.
//! - `<prefix>/store-check.json`: that this store refuses a create over an existing object and
//!   an update with a wrong version, checked once before the prefix is first written.
//!
//! Whoever takes the lock (or force-unlocks it) rewrites the journal at once with the new
//! generation. That write changes the journal's version, so a holder whose lease was taken over
//! can no longer write: its next conditional update is refused and it stops.
//!
//! All store I/O runs on a small runtime of its own. The apply engine saves the journal from
//! synchronous code under a lock all numbers share, and a lock guard releases from `Drop`: both
//! block on this runtime, never on the one they run on. Errors from the store are scrubbed of
//! query strings and credential values before they are shown.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, UpdateVersion};
use serde::{Deserialize, Serialize};

mod objects;

pub use objects::{describe, scrub_store_text};
use objects::{put, put_json, read_bytes, read_versioned};

use super::StateError;
use super::lease::{Holder, LockRecord, lease_end, new_lock_id};
use super::location::{ObjectUrl, Scheme, SharedLocation};
use crate::journal::{FORMAT_VERSION, Journal};
use crate::ui::Ui;

/// A journal object this large is not one wamig wrote; reading it is refused.
pub const MAX_OBJECT_BYTES: u64 = 64 * 1024 * 1024;
/// Envelope format of `journal.json`.
const ENVELOPE_VERSION: u32 = 1;

/// What `object_store` answered, sorted by what wamig does next.
enum Failure {
    /// A conditional write was refused, or the object it updates is gone: someone else wrote.
    Conflict,
    Other(String),
}

/// A prefix of one bucket, with the runtime its I/O runs on.
#[derive(Clone)]
pub struct SharedStore {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn ObjectStore>,
    url: ObjectUrl,
    journal: ObjectPath,
    lock: ObjectPath,
    check: ObjectPath,
    worker: Worker,
}

/// The store's own runtime: one thread, so a caller blocking on it never blocks the work.
struct Worker {
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        // May run inside another runtime (an apply's guard dropped in async code), where a
        // plain drop would panic.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The journal object.
#[derive(Serialize, Deserialize)]
struct Envelope {
    wamig_shared_journal: u32,
    lock_generation: u64,
    lock_id: String,
    /// Counts this holder's writes, so no two writes have the same bytes (some stores derive
    /// versions from content).
    sequence: u64,
    written_at: Timestamp,
    journal: serde_json::Value,
}

/// The remembered result of the conditional-write check.
#[derive(Serialize, Deserialize)]
struct StoreCheck {
    conditional_create: bool,
    conditional_update: bool,
    checked_at: Timestamp,
    wamig_version: String,
}

impl SharedStore {
    /// A store configured from its usual environment (`AWS_*`, `GOOGLE_*`, `AZURE_*`).
    pub fn open(location: &SharedLocation) -> Result<SharedStore, StateError> {
        let url = &location.url;
        let setup = |error: object_store::Error| StateError::Setup {
            url: url.to_string(),
            message: describe(&error),
        };
        let retry = object_store::RetryConfig {
            backoff: object_store::BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(2),
                base: 2.0,
            },
            max_retries: 3,
            retry_timeout: Duration::from_secs(20),
        };
        let options = object_store::ClientOptions::new()
            .with_timeout(Duration::from_secs(30))
            .with_connect_timeout(Duration::from_secs(5))
            .with_user_agent(object_store::HeaderValue::from_static(concat!(
                "wamig/",
                env!("CARGO_PKG_VERSION")
            )));
        // The object store's HTTP client is wamig's reqwest, built without a default crypto
        // provider; a second install changes nothing.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let store: Arc<dyn ObjectStore> = match url.scheme {
            Scheme::S3 => {
                let loopback_endpoint = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT"]
                    .iter()
                    .find_map(|name| std::env::var(name).ok())
                    .is_some_and(|endpoint| is_loopback_http(&endpoint));
                let mut builder = object_store::aws::AmazonS3Builder::from_env()
                    .with_bucket_name(&url.bucket)
                    .with_client_options(options)
                    .with_retry(retry)
                    // wamig's lock and fencing are conditional writes on ETags; a setting that
                    // turned them off would leave the journal unprotected.
                    .with_conditional_put(object_store::aws::S3ConditionalPut::ETagMatch);
                if loopback_endpoint {
                    builder = builder.with_allow_http(true);
                }
                Arc::new(builder.build().map_err(setup)?)
            }
            Scheme::Gcs => Arc::new(
                object_store::gcp::GoogleCloudStorageBuilder::from_env()
                    .with_bucket_name(&url.bucket)
                    .with_client_options(options)
                    .with_retry(retry)
                    .build()
                    .map_err(setup)?,
            ),
            Scheme::Azure => Arc::new(
                object_store::azure::MicrosoftAzureBuilder::from_env()
                    .with_container_name(&url.bucket)
                    .with_client_options(options)
                    .with_retry(retry)
                    .build()
                    .map_err(setup)?,
            ),
        };
        SharedStore::with_store(url.clone(), store)
    }

    /// Any store, for tests (`object_store`'s in-memory one).
    pub fn with_store(url: ObjectUrl, store: Arc<dyn ObjectStore>) -> Result<SharedStore, StateError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("wamig-state")
            .enable_all()
            .build()
            .map_err(|e| StateError::Setup { url: url.to_string(), message: e.to_string() })?;
        let object = |name: &str| {
            if url.prefix.is_empty() {
                ObjectPath::from(name)
            } else {
                ObjectPath::from(format!("{}/{name}", url.prefix))
            }
        };
        Ok(SharedStore {
            inner: Arc::new(Inner {
                journal: object("journal.json"),
                lock: object("lock.json"),
                check: object("store-check.json"),
                store,
                url,
                worker: Worker { runtime: Some(runtime) },
            }),
        })
    }

    pub fn url(&self) -> &ObjectUrl {
        &self.inner.url
    }

    /// Runs `future` on the store's runtime and waits for it, from async code.
    async fn run<T: Send + 'static>(
        &self,
        future: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, StateError> {
        let handle = self.spawn(future)?;
        handle.await.map_err(|_| self.stopped())
    }

    /// Runs `future` on the store's runtime and waits for it, from synchronous code (which may
    /// itself be running on another runtime's thread).
    fn block<T: Send + 'static>(
        &self,
        future: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, StateError> {
        let (sender, receiver) = std::sync::mpsc::channel();
        self.spawn(async move {
            let _ = sender.send(future.await);
        })?;
        receiver.recv().map_err(|_| self.stopped())
    }

    fn spawn<T: Send + 'static>(
        &self,
        future: impl Future<Output = T> + Send + 'static,
    ) -> Result<tokio::task::JoinHandle<T>, StateError> {
        match &self.inner.worker.runtime {
            Some(runtime) => Ok(runtime.spawn(future)),
            None => Err(self.stopped()),
        }
    }

    fn stopped(&self) -> StateError {
        StateError::Setup {
            url: self.inner.url.to_string(),
            message: "the store's runtime stopped".to_owned(),
        }
    }

    /// The journal as stored (empty when there is none yet), for `plan`, `status` and `state show`.
    pub async fn load(&self) -> Result<Journal, StateError> {
        let inner = self.inner.clone();
        let read = self.run(async move { read_journal(&inner).await }).await??;
        Ok(read.map(|read| read.journal).unwrap_or_else(Journal::new))
    }

    /// The lock as stored, for `wamig state lock`.
    pub async fn lock_record(&self) -> Result<Option<LockRecord>, StateError> {
        let inner = self.inner.clone();
        let read = self.run(async move { read_lock(&inner).await }).await??;
        Ok(read.map(|(record, _)| record))
    }

    /// Takes the lock at once or fails naming its holder; never waits for it. A lock whose lease
    /// has ended is taken over (the returned lease says from whom). The journal is rewritten with
    /// the new generation before this returns, so the previous holder cannot write any more.
    pub async fn acquire(
        &self,
        operation: &str,
        lease: Duration,
        holder: Holder,
        ui: &Ui,
    ) -> Result<Arc<Lease>, StateError> {
        let inner = self.inner.clone();
        let operation = operation.to_owned();
        let taken = self
            .run(async move {
                ensure_protected(&inner).await?;
                let (record, version, taken_over) = take_lock(&inner, &operation, lease, holder).await?;
                match fence(&inner, &record).await {
                    Ok((journal, journal_version)) => {
                        Ok((record, version, taken_over, journal, journal_version))
                    }
                    Err(error) => {
                        // The lock is of no use without the journal; give it back.
                        let released = record.clone().released(Timestamp::now(), None);
                        let _ = put_json(&inner, &inner.lock, &released, PutMode::Update(version)).await;
                        Err(error)
                    }
                }
            })
            .await??;
        let (record, version, taken_over, journal, journal_version) = taken;
        let lease = Arc::new(Lease {
            store: self.clone(),
            lease,
            generation: record.generation,
            id: record.id.clone(),
            taken_over,
            lock: tokio::sync::Mutex::new(LockSlot { record, version, released: false }),
            journal: Mutex::new(JournalSlot { version: journal_version, sequence: 0, first: Some(journal) }),
            lost: Mutex::new(None),
            stopping: AtomicBool::new(false),
            stop: tokio::sync::Notify::new(),
            ui: ui.clone(),
        });
        self.spawn(renew(lease.clone()))?;
        Ok(lease)
    }

    /// `wamig state unlock ID`: releases the lock whoever holds it, if `id` is its id, and
    /// fences the journal so its holder, if it still runs, cannot write any more. Returns the
    /// record as it was.
    pub async fn force_unlock(&self, id: &str, by: String) -> Result<Option<LockRecord>, StateError> {
        let inner = self.inner.clone();
        let id = id.to_owned();
        self.run(async move {
            ensure_protected(&inner).await?;
            let url = inner.url.to_string();
            let Some((record, version)) = read_lock(&inner).await? else { return Ok(None) };
            if record.id != id {
                return Err(StateError::WrongLockId { url, given: id, record: Box::new(record) });
            }
            if record.status == super::lease::LockStatus::Released {
                return Ok(None);
            }
            let mut released = record.clone().released(Timestamp::now(), Some(by));
            released.generation += 1;
            match put_json(&inner, &inner.lock, &released, PutMode::Update(version)).await {
                Ok(_) => {}
                Err(Failure::Conflict) => return Err(StateError::Contended { url }),
                Err(Failure::Other(message)) => {
                    return Err(StateError::Write { url, object: "lock.json", message });
                }
            }
            fence(&inner, &released).await?;
            Ok(Some(record))
        })
        .await?
    }
}

/// A lock this process holds on a shared journal.
pub struct Lease {
    store: SharedStore,
    lease: Duration,
    generation: u64,
    id: String,
    /// The holder whose lease had ended when this one took the lock.
    pub taken_over: Option<LockRecord>,
    lock: tokio::sync::Mutex<LockSlot>,
    journal: Mutex<JournalSlot>,
    /// Why this process may no longer write: set when the lock or journal changed under it.
    lost: Mutex<Option<String>>,
    stopping: AtomicBool,
    stop: tokio::sync::Notify,
    ui: Ui,
}

struct LockSlot {
    record: LockRecord,
    version: UpdateVersion,
    released: bool,
}

struct JournalSlot {
    version: UpdateVersion,
    sequence: u64,
    /// The journal as read when the lock was taken, until `load` hands it out.
    first: Option<Journal>,
}

impl Lease {
    pub fn url(&self) -> &ObjectUrl {
        self.store.url()
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The journal as it was when the lock was taken.
    pub fn load(&self) -> Result<Journal, StateError> {
        let mut slot = self.journal.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(journal) = slot.first.take() {
            return Ok(journal);
        }
        let inner = self.store.inner.clone();
        let read = self.store.block(async move { read_journal(&inner).await })??;
        Ok(read.map(|read| read.journal).unwrap_or_else(Journal::new))
    }

    /// Writes the journal with a conditional update on the version this process last wrote, so
    /// a write after the lock was taken over is refused instead of overwriting the new holder's.
    pub fn save(&self, journal: &Journal) -> Result<(), StateError> {
        let url = self.store.url().to_string();
        if let Some(why) = self.lost.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            return Err(StateError::Fenced { url, why });
        }
        let mut slot = self.journal.lock().unwrap_or_else(|e| e.into_inner());
        let envelope = Envelope {
            wamig_shared_journal: ENVELOPE_VERSION,
            lock_generation: self.generation,
            lock_id: self.id.clone(),
            sequence: slot.sequence + 1,
            written_at: Timestamp::now(),
            journal: serde_json::to_value(journal).unwrap_or_default(),
        };
        let inner = self.store.inner.clone();
        let mode = PutMode::Update(slot.version.clone());
        let written = self.store.block(async move {
            let result = put_json(&inner, &inner.journal, &envelope, mode).await;
            // Name whoever holds the lock now, while still on the store's runtime.
            let holder = match &result {
                Err(Failure::Conflict) => read_lock(&inner).await.ok().flatten().map(|(record, _)| record),
                _ => None,
            };
            (result, holder)
        })?;
        match written {
            (Ok(version), _) => {
                slot.version = version;
                slot.sequence += 1;
                Ok(())
            }
            (Err(Failure::Conflict), holder) => {
                let why = match holder {
                    Some(record) if record.generation != self.generation => lost_to(&record),
                    _ => "the journal was changed by another process".to_owned(),
                };
                *self.lost.lock().unwrap_or_else(|e| e.into_inner()) = Some(why.clone());
                Err(StateError::Fenced { url, why })
            }
            (Err(Failure::Other(message)), _) => {
                Err(StateError::Write { url, object: "journal.json", message })
            }
        }
    }

    /// Gives the lock back with a conditional update; what goes wrong is a warning (the lock
    /// frees itself when its lease ends). Safe to call more than once.
    pub fn release(self: &Arc<Self>) {
        self.stopping.store(true, Ordering::SeqCst);
        self.stop.notify_one();
        let lease = self.clone();
        let outcome = self.store.block(async move {
            let mut slot = lease.lock.lock().await;
            if slot.released {
                return Ok(());
            }
            slot.released = true;
            if lease.lost.lock().unwrap_or_else(|e| e.into_inner()).is_some() {
                return Err(format!(
                    "the lock on {} is no longer this process's: it was left as it is",
                    lease.url()
                ));
            }
            let released = slot.record.clone().released(Timestamp::now(), None);
            match put_json(
                &lease.store.inner,
                &lease.store.inner.lock,
                &released,
                PutMode::Update(slot.version.clone()),
            )
            .await
            {
                Ok(_) => Ok(()),
                Err(Failure::Conflict) => Err(format!(
                    "the lock on {} was taken over or force-unlocked meanwhile; it was left as it is",
                    lease.url()
                )),
                Err(Failure::Other(message)) => Err(format!(
                    "cannot release the lock on {} ({message}); it frees itself when its lease ends at {}",
                    lease.url(),
                    super::lease::at(slot.record.lease_until)
                )),
            }
        });
        let warning = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(warning)) => Some(warning),
            Err(error) => Some(error.to_string()),
        };
        if let Some(warning) = warning {
            self.ui.warn("lock_not_released", &warning);
        }
    }
}

/// Why a holder lost its lock to `record`, the lock as it is now.
fn lost_to(record: &LockRecord) -> String {
    match (&record.status, &record.released_by) {
        (super::lease::LockStatus::Released, Some(by)) => format!(
            "its lock was force-unlocked by {by} at {} (generation {})",
            super::lease::at(record.released_at.unwrap_or(record.lease_until)),
            record.generation
        ),
        (super::lease::LockStatus::Released, None) => {
            format!("its lock was taken over and released since (generation {})", record.generation)
        }
        (super::lease::LockStatus::Held, _) => format!(
            "its lock was taken over (generation {}) by {}",
            record.generation,
            record.describe(Timestamp::now())
        ),
    }
}

/// Renews the lease every third of it until released. A renewal refused by the store means the
/// lock was taken over or force-unlocked: nothing more may be written.
async fn renew(lease: Arc<Lease>) {
    // A lease of nothing (a test's `--lock-lease 0s`) must not become a busy loop.
    let every = (lease.lease / 3).max(Duration::from_millis(100));
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = lease.stop.notified() => return,
        }
        if lease.stopping.load(Ordering::SeqCst) {
            return;
        }
        let mut slot = lease.lock.lock().await;
        if slot.released {
            return;
        }
        let mut renewed = slot.record.clone();
        renewed.lease_until = lease_end(Timestamp::now(), lease.lease);
        let inner = &lease.store.inner;
        match put_json(inner, &inner.lock, &renewed, PutMode::Update(slot.version.clone())).await {
            Ok(version) => {
                slot.record = renewed;
                slot.version = version;
            }
            Err(Failure::Conflict) => {
                let why = "its lock was taken over or force-unlocked while it ran".to_owned();
                lease.ui.warn("lock_lost", &format!("{} on {}: no more journal writes", why, lease.url()));
                *lease.lost.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
                return;
            }
            Err(Failure::Other(message)) => lease.ui.warn(
                "lock_not_renewed",
                &format!(
                    "cannot renew the lock on {} ({message}); trying again; its lease ends at {}",
                    lease.url(),
                    super::lease::at(slot.record.lease_until)
                ),
            ),
        }
    }
}

/// Checks once per prefix that the store refuses what wamig relies on it refusing, and
/// remembers a pass in `store-check.json`.
async fn ensure_protected(inner: &Inner) -> Result<(), StateError> {
    let url = inner.url.to_string();
    if let Some(bytes) = read_bytes(inner, &inner.check, "store-check.json").await?
        && let Ok(check) = serde_json::from_slice::<StoreCheck>(&bytes)
        && check.conditional_create
        && check.conditional_update
    {
        return Ok(());
    }
    let probe = match inner.url.prefix.as_str() {
        "" => ObjectPath::from(format!("store-check-probe-{}", new_lock_id())),
        prefix => ObjectPath::from(format!("{prefix}/store-check-probe-{}", new_lock_id())),
    };
    let write_error = |message| StateError::Write { url: url.clone(), object: "store-check-probe", message };
    let first = match put(inner, &probe, b"1".to_vec(), PutMode::Create).await {
        Ok(version) => version,
        Err(Failure::Conflict) => return Err(StateError::Contended { url }),
        Err(Failure::Other(message)) => return Err(write_error(message)),
    };
    let unprotected = |what: &'static str| StateError::Unprotected { url: url.clone(), what };
    let verdict = async {
        match put(inner, &probe, b"2".to_vec(), PutMode::Create).await {
            Ok(_) => return Err(unprotected("a create over an existing object was accepted")),
            Err(Failure::Conflict) => {}
            Err(Failure::Other(message)) => return Err(write_error(message)),
        }
        let wrong = UpdateVersion {
            e_tag: Some("\"00000000000000000000000000000000\"".to_owned()),
            version: Some(if first.version.as_deref() == Some("1") { "2" } else { "1" }.to_owned()),
        };
        match put(inner, &probe, b"3".to_vec(), PutMode::Update(wrong)).await {
            Ok(_) => return Err(unprotected("an update with a wrong version was accepted")),
            Err(Failure::Conflict) => {}
            Err(Failure::Other(message)) => return Err(write_error(message)),
        }
        match put(inner, &probe, b"4".to_vec(), PutMode::Update(first.clone())).await {
            Ok(_) => Ok(()),
            Err(Failure::Conflict) => Err(unprotected("an update with the right version was refused")),
            Err(Failure::Other(message)) => Err(write_error(message)),
        }
    }
    .await;
    let _ = inner.store.delete(&probe).await;
    verdict?;
    let check = StoreCheck {
        conditional_create: true,
        conditional_update: true,
        checked_at: Timestamp::now(),
        wamig_version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    let bytes = serde_json::to_vec_pretty(&check).unwrap_or_default();
    put(inner, &inner.check, bytes, PutMode::Overwrite).await.map_err(|failure| match failure {
        Failure::Conflict => StateError::Contended { url: url.clone() },
        Failure::Other(message) => {
            StateError::Write { url: url.clone(), object: "store-check.json", message }
        }
    })?;
    Ok(())
}

/// Takes the lock: a conditional create when there is none, a conditional update when it is
/// released or its lease has ended. Another process winning the race is read again.
async fn take_lock(
    inner: &Inner,
    operation: &str,
    lease: Duration,
    holder: Holder,
) -> Result<(LockRecord, UpdateVersion, Option<LockRecord>), StateError> {
    let url = inner.url.to_string();
    for _ in 0..4 {
        let now = Timestamp::now();
        let (generation, mode, taken_over) = match read_lock(inner).await? {
            None => (1, PutMode::Create, None),
            Some((record, _)) if record.is_live(now) => {
                return Err(StateError::Locked { url, record: Box::new(record) });
            }
            Some((record, version)) => {
                let expired = record.is_expired(now).then(|| record.clone());
                (record.generation + 1, PutMode::Update(version), expired)
            }
        };
        let record = LockRecord::new(new_lock_id(), generation, operation, holder.clone(), now, lease);
        match put_json(inner, &inner.lock, &record, mode).await {
            Ok(version) => return Ok((record, version, taken_over)),
            // Another process moved first: read the lock again.
            Err(Failure::Conflict) => {}
            Err(Failure::Other(message)) => {
                return Err(StateError::Write { url, object: "lock.json", message });
            }
        }
    }
    Err(StateError::Contended { url })
}

/// Rewrites the journal with `record`'s generation, conditionally on the version just read;
/// a write by the previous holder in between is read again, so nothing it recorded is lost.
async fn fence(inner: &Inner, record: &LockRecord) -> Result<(Journal, UpdateVersion), StateError> {
    let url = inner.url.to_string();
    for _ in 0..5 {
        let (journal, mode) = match read_journal(inner).await? {
            Some(read) => (read.journal, PutMode::Update(read.version)),
            None => (Journal::new(), PutMode::Create),
        };
        let envelope = Envelope {
            wamig_shared_journal: ENVELOPE_VERSION,
            lock_generation: record.generation,
            lock_id: record.id.clone(),
            sequence: 0,
            written_at: Timestamp::now(),
            journal: serde_json::to_value(&journal).unwrap_or_default(),
        };
        match put_json(inner, &inner.journal, &envelope, mode).await {
            Ok(version) => return Ok((journal, version)),
            // The previous holder wrote in between: read what it recorded, and fence again.
            Err(Failure::Conflict) => {}
            Err(Failure::Other(message)) => {
                return Err(StateError::Write { url, object: "journal.json", message });
            }
        }
    }
    Err(StateError::Contended { url })
}

struct ReadJournal {
    journal: Journal,
    version: UpdateVersion,
}

async fn read_journal(inner: &Inner) -> Result<Option<ReadJournal>, StateError> {
    let url = inner.url.to_string();
    let Some((bytes, version)) = read_versioned(inner, &inner.journal, "journal.json").await? else {
        return Ok(None);
    };
    let corrupt = |message: String| StateError::Corrupt { url: url.clone(), object: "journal.json", message };
    let envelope: Envelope = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
    if envelope.wamig_shared_journal != ENVELOPE_VERSION {
        return Err(corrupt(format!(
            "envelope version {}; this wamig reads {ENVELOPE_VERSION}",
            envelope.wamig_shared_journal
        )));
    }
    let found = envelope.journal.get("format_version").and_then(serde_json::Value::as_u64).unwrap_or(0);
    if found != u64::from(FORMAT_VERSION) {
        return Err(StateError::Version { url, found });
    }
    let journal = serde_json::from_value(envelope.journal).map_err(|e| corrupt(e.to_string()))?;
    Ok(Some(ReadJournal { journal, version }))
}

async fn read_lock(inner: &Inner) -> Result<Option<(LockRecord, UpdateVersion)>, StateError> {
    let Some((bytes, version)) = read_versioned(inner, &inner.lock, "lock.json").await? else {
        return Ok(None);
    };
    let record = serde_json::from_slice(&bytes).map_err(|e| StateError::Corrupt {
        url: inner.url.to_string(),
        object: "lock.json",
        message: e.to_string(),
    })?;
    Ok(Some((record, version)))
}

fn is_loopback_http(endpoint: &str) -> bool {
    let Some(rest) = endpoint.strip_prefix("http://") else { return false };
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let host = match host.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => host,
    };
    host == "localhost"
        || host == "[::1]"
        || host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests;
