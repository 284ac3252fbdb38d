//! Owns where the journal lives and how it is locked: a local file (the default, kept by
//! `journal` and `journal::lock`, which this module calls and never re-implements), or a
//! shared journal in an S3, GCS or Azure bucket (`state::shared`). `plan`, `status` and
//! `wamig state` read through [`load`]; `apply` takes a [`Held`] lock with [`lock`] and saves
//! through it. What the journal holds is `journal`'s business, not this module's.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::diag::{Diagnostic, ToDiagnostics};
use crate::journal::lock::JournalLock;
use crate::journal::{Journal, JournalError};
use crate::ui::Ui;

pub mod command;
pub mod lease;
pub mod location;
pub mod shared;

pub use location::{DEFAULT_LEASE, ObjectUrl, Scheme, SharedLocation, StateLocation};

use lease::{Holder, LockRecord};
use shared::{Lease, SharedStore};

/// The journal as it is now, for reading only (`plan`, `status`, `wamig state show`).
pub async fn load(location: &StateLocation) -> Result<Journal, StateError> {
    match location {
        StateLocation::File(path) => Ok(Journal::load(path)?),
        StateLocation::Shared(shared) => SharedStore::open(shared)?.load().await,
    }
}

/// Takes the journal's exclusive lock for `operation` (e.g. `wamig apply`), at once or not at
/// all. Warnings (a lock that could not be released, a lease that could not be renewed) go to
/// `ui`.
pub async fn lock(location: &StateLocation, operation: &str, ui: &Ui) -> Result<Arc<Held>, StateError> {
    match location {
        StateLocation::File(path) => lock_file(path, operation),
        StateLocation::Shared(shared) => {
            let store = SharedStore::open(shared)?;
            let holder = Holder::current(&|name| std::env::var(name).ok());
            Ok(Arc::new(Held::Shared(store.acquire(operation, shared.lease, holder, ui).await?)))
        }
    }
}

/// [`lock`] for a local journal file, which needs no runtime.
pub fn lock_file(path: &Path, operation: &str) -> Result<Arc<Held>, StateError> {
    let lock = JournalLock::acquire(path, operation)?;
    Ok(Arc::new(Held::File { path: path.to_path_buf(), lock: Mutex::new(Some(lock)) }))
}

/// The journal under its exclusive lock. Dropping it releases the lock.
pub enum Held {
    File { path: PathBuf, lock: Mutex<Option<JournalLock>> },
    Shared(Arc<Lease>),
}

impl Held {
    /// The warning to give when the lock was taken from a holder that had stopped.
    pub fn taken_over(&self) -> Option<String> {
        match self {
            Held::File { lock, .. } => {
                lock.lock().unwrap_or_else(|e| e.into_inner()).as_ref()?.takeover_warning()
            }
            Held::Shared(lease) => {
                let previous = lease.taken_over.as_ref()?;
                Some(format!(
                    "took over the lock on {} left by {}",
                    lease.url(),
                    previous.describe(jiff::Timestamp::now())
                ))
            }
        }
    }

    /// The journal, read under the lock.
    pub fn load(&self) -> Result<Journal, StateError> {
        match self {
            Held::File { path, .. } => Ok(Journal::load(path)?),
            Held::Shared(lease) => lease.load(),
        }
    }

    /// Writes the whole journal: atomically for a file; fenced by the lock for a shared one.
    /// An error means the write did not happen, so the call it records must not be made.
    pub fn save(&self, journal: &Journal) -> Result<(), StateError> {
        match self {
            Held::File { path, .. } => Ok(journal.save(path)?),
            Held::Shared(lease) => lease.save(journal),
        }
    }

    /// Releases the lock now; dropping does the same. Safe to call more than once.
    pub fn release(&self) {
        match self {
            Held::File { lock, .. } => drop(lock.lock().unwrap_or_else(|e| e.into_inner()).take()),
            Held::Shared(lease) => lease.release(),
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.release();
    }
}

/// The apply engine records through `JournalError`; a shared store's failure travels inside it.
impl From<StateError> for JournalError {
    fn from(error: StateError) -> Self {
        match error {
            StateError::Journal(error) => error,
            other => JournalError::Shared(Box::new(other)),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The local journal file or its lock.
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("--state {value}: wamig keeps a shared journal on s3://, gs:// or az://, not {scheme}://")]
    UnknownScheme { value: String, scheme: String },
    #[error("--state {value} is not a valid shared journal URL: {reason}")]
    BadUrl { value: String, reason: String },
    #[error("cannot set up the object store for {url}: {message}")]
    Setup { url: String, message: String },
    #[error("cannot read {object} in {url}: {message}")]
    Read { url: String, object: &'static str, message: String },
    #[error("cannot write {object} in {url}: {message}")]
    Write { url: String, object: &'static str, message: String },
    #[error("{object} in {url} is not a wamig object: {message}")]
    Corrupt { url: String, object: &'static str, message: String },
    #[error(
        "the journal in {url} has format version {found}; this wamig reads version {}",
        crate::journal::FORMAT_VERSION
    )]
    Version { url: String, found: u64 },
    #[error("the journal {url} is locked by {}", record.describe(jiff::Timestamp::now()))]
    Locked { url: String, record: Box<LockRecord> },
    #[error(
        "this process may no longer write the journal {url}: {why}; it stops here, and everything it recorded before is kept"
    )]
    Fenced { url: String, why: String },
    #[error("the store behind {url} does not protect the journal: {what}")]
    Unprotected { url: String, what: &'static str },
    #[error("another process changed the lock on {url} at the same moment")]
    Contended { url: String },
    #[error("the lock on {url} has id {}, not {given}; it is held by {}", record.id, record.describe(jiff::Timestamp::now()))]
    WrongLockId { url: String, given: String, record: Box<LockRecord> },
}

impl ToDiagnostics for StateError {
    fn diagnostics(&self) -> Vec<Diagnostic> {
        let hint = match self {
            StateError::Journal(error) => return error.diagnostics(),
            StateError::UnknownScheme { .. } => {
                "give s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or az://CONTAINER/PREFIX, or a path for a local journal (write ./NAME for a file name with a colon)".to_owned()
            }
            StateError::BadUrl { .. } => {
                "write it like s3://acme-wamig/prod: the bucket, then the prefix the journal lives under".to_owned()
            }
            StateError::Setup { .. } => {
                "set the store's usual environment: AWS_REGION and credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN or a web identity), GOOGLE_APPLICATION_CREDENTIALS, or AZURE_STORAGE_ACCOUNT_NAME with a key, token or federated identity".to_owned()
            }
            StateError::Read { .. } | StateError::Write { .. } => {
                "check the bucket exists, the credentials in the environment may read and write objects under this prefix, and the store is reachable (AWS_ENDPOINT_URL for S3-compatible stores); nothing was done after the failed step".to_owned()
            }
            StateError::Corrupt { .. } => {
                "only wamig writes under this prefix: if something else does, give wamig a prefix of its own".to_owned()
            }
            StateError::Version { .. } => "use the wamig version that wrote this journal, or a newer one".to_owned(),
            StateError::Locked { record, .. } => format!(
                "another wamig is working on this journal: wait for it (in CI, put applies in one concurrency group); if its runner is gone, the lock frees itself when the lease ends, or run `wamig state unlock {}` once you are sure it no longer runs",
                record.id
            ),
            StateError::Fenced { .. } => {
                "another wamig holds the journal now (its lease was taken over or it was force-unlocked): see `wamig state lock`, and run apply again once it is done".to_owned()
            }
            StateError::Unprotected { .. } => {
                "use a store that honours conditional writes (If-None-Match and If-Match): Amazon S3, Google Cloud Storage, Azure Blob Storage, or a compatible store that supports them; otherwise keep a local journal".to_owned()
            }
            StateError::Contended { .. } => "run the command again; `wamig state lock` shows who holds the lock".to_owned(),
            StateError::WrongLockId { .. } => {
                "check the id with `wamig state lock`: the lock may have changed hands since you looked".to_owned()
            }
        };
        vec![Diagnostic::from_error(self).with_hint(hint)]
    }
}
