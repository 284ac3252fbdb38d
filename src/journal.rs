//! Owns the journal (`--state`, README.md): per number, only what the live API cannot tell —
//! the phone-number id, when each step ran, code requests, verify and register attempts, the last
//! error. It is written atomically with mode 0600 and never holds a token, code or PIN: nothing
//! here has a field that could. Locking is in `journal::lock`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::diag::{Diagnostic, ToDiagnostics};
use crate::graph::ErrorClass;
use crate::migration::Step;
use crate::vocabulary::{CodeMethod, MessagingLimitTier};

pub mod lock;

pub const FORMAT_VERSION: u32 = 1;

/// The whole journal file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Journal {
    pub format_version: u32,
    /// Keyed by E.164 (`+16315555555`).
    #[serde(default)]
    pub numbers: BTreeMap<String, NumberRecord>,
}

/// What wamig did for one number.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberRecord {
    pub destination_waba: String,
    /// The id Graph gave the number in the destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiated_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_code_request: Option<CodeRequest>,
    #[serde(default)]
    pub code_requests: u32,
    #[serde(default)]
    pub verify_attempts: u32,
    /// When a verification of this node succeeded (or Meta answered that it was verified
    /// already): ownership is proven, whatever a lagging read says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_at: Option<Timestamp>,
    /// When Meta answered register with "verify ownership first" (133006): the number is back
    /// at the code step until a verification succeeds after this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ownership_required_at: Option<Timestamp>,
    /// Every register call made, for the 10-per-72-hours budget.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub register_attempts: Vec<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub templates_checked_at: Option<Timestamp>,
    /// The messaging limit tier the number had when apply last saw it arrive in the
    /// destination: the baseline `plan` reports a lowered limit against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging_limit_tier: Option<MessagingLimitTier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<RecordedError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    pub at: Timestamp,
    pub method: CodeMethod,
    pub language: String,
}

/// A Graph error as recorded: enough to diagnose, never a secret (messages are scrubbed before
/// they get here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedError {
    pub at: Timestamp,
    pub step: Step,
    /// What kind of failure it was, as wamig classified it.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::graph::class_by_name")]
    pub class: Option<ErrorClass>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subcode: Option<i64>,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fbtrace_id: Option<String>,
}

/// How long a requested code is waited for before another may be requested (README.md).
pub const CODE_COOLDOWN: jiff::SignedDuration = jiff::SignedDuration::from_mins(10);
/// Meta allows 10 register calls per number in a moving 72-hour window (error 133016).
pub const REGISTER_LIMIT: usize = 10;
pub const REGISTER_WINDOW: jiff::SignedDuration = jiff::SignedDuration::from_hours(72);

impl NumberRecord {
    pub fn new(destination_waba: &str) -> Self {
        Self { destination_waba: destination_waba.to_owned(), ..Self::default() }
    }

    /// True while the last code request is younger than the cooldown.
    pub fn code_cooldown_active(&self, now: Timestamp) -> bool {
        self.last_code_request.as_ref().is_some_and(|request| now.duration_since(request.at) < CODE_COOLDOWN)
    }

    /// The last code request, unless a verification already used its code: a number that became
    /// unverified afterwards (Meta asks for ownership to be proven again) needs a new one.
    pub fn unspent_code_request(&self) -> Option<&CodeRequest> {
        self.last_code_request.as_ref().filter(|request| self.verified_at.is_none_or(|at| at < request.at))
    }

    /// Makes `id` the node this record speaks of. Facts about another node (its start, its
    /// verification, its registration) no longer apply; what Meta counts per number (code
    /// requests and their cooldown, register attempts) stays. A start recorded before any id
    /// was known (its answer was lost) is this node's.
    pub fn adopt_node(&mut self, id: &str) {
        if self.phone_number_id.as_deref() == Some(id) {
            return;
        }
        if self.phone_number_id.is_some() {
            self.initiated_at = None;
        }
        self.phone_number_id = Some(id.to_owned());
        self.verify_attempts = 0;
        self.verified_at = None;
        self.ownership_required_at = None;
        self.registered_at = None;
        self.templates_checked_at = None;
    }

    /// Register calls made inside the 72-hour window ending `now`.
    pub fn register_attempts_in_window(&self, now: Timestamp) -> usize {
        self.register_attempts.iter().filter(|at| now.duration_since(**at) < REGISTER_WINDOW).count()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot read the journal {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the journal {} is not a wamig journal: {message}", path.display())]
    Corrupt { path: PathBuf, message: String },
    #[error("the journal {} has format version {found}; this wamig reads version {FORMAT_VERSION}", path.display())]
    Version { path: PathBuf, found: u64 },
    #[error("cannot write the journal {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the journal {} is locked by {holder}", path.display())]
    Locked { path: PathBuf, holder: String },
    #[error("cannot lock the journal {}", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A shared journal (`--state s3://...`) could not be read or written; `state` says why.
    #[error(transparent)]
    Shared(Box<crate::state::StateError>),
    #[error("{} is not a wamig lock file, and wamig will not overwrite it", path.display())]
    ForeignLock { path: PathBuf },
}

/// The hint for an I/O error on the journal or its lock: what went wrong decides what to do.
fn io_hint(source: &std::io::Error, path: &Path, writing: bool) -> String {
    use crate::files::Refusal;
    match crate::files::refusal(source) {
        Some(Refusal::Symlink) => format!(
            "{} is a symbolic link (planted, or restored from a cache): remove the link itself \
             (`rm {}`), not what it points to, or point --state at a real file",
            path.display(),
            path.display()
        ),
        Some(Refusal::NotRegular(_)) => {
            format!("{} must be a regular file: move what is there away, or choose another path with --state or WAMIG_STATE", path.display())
        }
        Some(Refusal::TooLarge { .. }) => {
            "a wamig journal is far smaller: check that --state names the journal, not another file".to_owned()
        }
        Some(Refusal::NotUtf8) => "the file is not a wamig journal: check --state".to_owned(),
        None if source.kind() == std::io::ErrorKind::PermissionDenied => {
            format!("let the user running wamig {} {}", if writing { "write" } else { "read" }, path.display())
        }
        None if writing => {
            "check that the directory exists and is writable, or choose another path with --state or WAMIG_STATE"
                .to_owned()
        }
        None => "check that the file is readable, or choose another path with --state or WAMIG_STATE".to_owned(),
    }
}

impl ToDiagnostics for JournalError {
    fn diagnostics(&self) -> Vec<Diagnostic> {
        let hint = match self {
            JournalError::Shared(error) => return error.diagnostics(),
            JournalError::Read { path, source } => io_hint(source, path, false),
            JournalError::Write { path, source } | JournalError::Lock { path, source } => {
                io_hint(source, path, true)
            }
            JournalError::Corrupt { .. } => "restore the journal from your CI artifact or backup; if it is lost, move it away: wamig rebuilds what it can from live state, but code requests and register attempts recorded in it are forgotten".to_owned(),
            JournalError::Version { .. } => "use the wamig version that wrote this journal, or a newer one".to_owned(),
            JournalError::Locked { .. } => "another wamig apply is running on this journal: wait for it to finish (in CI, put applies in one concurrency group)".to_owned(),
            JournalError::ForeignLock { path } => format!(
                "move {} away (it holds something else) or choose another journal path with --state",
                path.display()
            ),
        };
        vec![Diagnostic::from_error(self).with_hint(hint)]
    }
}

/// How far ahead of this machine's clock a time in the journal may be (a runner whose clock
/// was ahead wrote it).
const MAX_CLOCK_AHEAD: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

/// Every time in a journal is one wamig saw happen; one far in the future is an edited or
/// corrupt journal, and the arithmetic done on it (cooldowns, register windows) must not be
/// able to overflow. Checked on the JSON, so every time field is covered, whatever its name.
fn check_times(value: &serde_json::Value, latest: Timestamp) -> Result<(), String> {
    match value {
        serde_json::Value::String(text) => match text.parse::<Timestamp>() {
            Ok(at) if at > latest => Err(format!("it records the time {at}, which is in the future")),
            _ => Ok(()),
        },
        serde_json::Value::Array(items) => items.iter().try_for_each(|item| check_times(item, latest)),
        serde_json::Value::Object(map) => map.values().try_for_each(|item| check_times(item, latest)),
        _ => Ok(()),
    }
}

/// Far above any real journal (10,000 numbers take a few MiB), far below what would exhaust
/// memory: a bigger file is not a journal.
pub const MAX_JOURNAL_BYTES: u64 = 64 * 1024 * 1024;

impl Journal {
    pub fn new() -> Self {
        Self { format_version: FORMAT_VERSION, numbers: BTreeMap::new() }
    }

    /// Reads the journal; a missing file is an empty journal. A symbolic link, a FIFO or a file
    /// larger than [`MAX_JOURNAL_BYTES`] is refused.
    pub fn load(path: &Path) -> Result<Journal, JournalError> {
        match crate::files::read_bounded(path, MAX_JOURNAL_BYTES, crate::files::Links::Refuse) {
            Ok(bytes) => Journal::parse(&bytes, path),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Journal::new()),
            Err(source) => Err(JournalError::Read { path: path.to_path_buf(), source }),
        }
    }

    /// Reads a journal from its bytes; `path` is named in errors.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<Journal, JournalError> {
        let corrupt = |message: String| JournalError::Corrupt { path: path.to_path_buf(), message };
        let text = std::str::from_utf8(bytes)
            .map_err(|e| corrupt(format!("it is not UTF-8 text (bad byte at offset {})", e.valid_up_to())))?;
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| corrupt(e.to_string()))?;
        let found = match value.get("format_version") {
            None => return Err(corrupt("it has no format_version".to_owned())),
            Some(version) => version
                .as_u64()
                .ok_or_else(|| corrupt("its format_version is not a version number".to_owned()))?,
        };
        if found != u64::from(FORMAT_VERSION) {
            return Err(JournalError::Version { path: path.to_path_buf(), found });
        }
        check_times(&value, Timestamp::now() + MAX_CLOCK_AHEAD).map_err(corrupt)?;
        serde_json::from_value(value).map_err(|e| corrupt(e.to_string()))
    }

    /// Writes the journal atomically (a temporary file in the same directory, then a rename), so
    /// a crash leaves either the old or the new journal, never half of one. Mode 0600. A symbolic
    /// link at the path is refused, never written through.
    pub fn save(&self, path: &Path) -> Result<(), JournalError> {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        crate::files::write_atomic(path, text.as_bytes(), true)
            .map_err(|source| JournalError::Write { path: path.to_path_buf(), source })
    }

    pub fn get(&self, e164: &str) -> Option<&NumberRecord> {
        self.numbers.get(e164)
    }

    pub fn entry(&mut self, e164: &str, destination_waba: &str) -> &mut NumberRecord {
        self.numbers.entry(e164.to_owned()).or_insert_with(|| NumberRecord::new(destination_waba))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_used_by_a_verification_is_spent() {
        let at = |text: &str| text.parse::<Timestamp>().unwrap();
        let mut record = NumberRecord::new("104996122399160");
        assert!(record.unspent_code_request().is_none());
        record.last_code_request = Some(CodeRequest {
            at: at("2026-09-11T09:55:00Z"),
            method: CodeMethod::Sms,
            language: "en_US".into(),
        });
        assert!(record.unspent_code_request().is_some());
        record.verified_at = Some(at("2026-09-11T09:57:00Z"));
        assert!(record.unspent_code_request().is_none(), "verified after the request");
        record.last_code_request.as_mut().unwrap().at = at("2026-09-11T10:30:00Z");
        assert!(record.unspent_code_request().is_some(), "requested again after that verification");
    }

    #[test]
    fn round_trips_atomically_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/state.json");
        let mut journal = Journal::new();
        let record = journal.entry("+16315555555", "104996122399160");
        record.phone_number_id = Some("5550001".into());
        record.code_requests = 1;
        record.last_code_request = Some(CodeRequest {
            at: Timestamp::UNIX_EPOCH,
            method: CodeMethod::Sms,
            language: "en_US".into(),
        });
        journal.save(&path).unwrap();
        assert_eq!(Journal::load(&path).unwrap(), journal);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left behind");
    }

    #[test]
    fn a_missing_journal_is_empty_and_a_foreign_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Journal::load(&dir.path().join("none.json")).unwrap(), Journal::new());
        let path = dir.path().join("bad.json");
        std::fs::write(&path, "{\"format_version\": 9}").unwrap();
        assert!(matches!(Journal::load(&path), Err(JournalError::Version { found: 9, .. })));
        std::fs::write(&path, "not json").unwrap();
        assert!(matches!(Journal::load(&path), Err(JournalError::Corrupt { .. })));
    }

    #[test]
    fn hostile_journals_get_errors_that_say_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let hint = |error: &JournalError| error.diagnostics()[0].hint.clone().unwrap_or_default();

        // A version past u32 is reported as it is written, not wrapped around to 1.
        std::fs::write(&path, r#"{"format_version": 4294967297, "numbers": {}}"#).unwrap();
        let error = Journal::load(&path).unwrap_err();
        assert!(matches!(error, JournalError::Version { found: 4_294_967_297, .. }), "{error:?}");
        assert!(error.to_string().contains("format version 4294967297"), "{error}");
        std::fs::write(&path, r#"{"format_version": "1"}"#).unwrap();
        assert!(matches!(Journal::load(&path), Err(JournalError::Corrupt { .. })));

        // A time at the end of the calendar would overflow the cooldown arithmetic.
        let future = r#"{"format_version": 1, "numbers": {"+16315555555": {"destination_waba": "1",
            "last_code_request": {"at": "9999-12-30T21:59:00Z", "method": "SMS", "language": "en_US"}}}}"#;
        let error = Journal::parse(future.as_bytes(), &path).unwrap_err();
        assert!(error.to_string().contains("in the future"), "{error}");
        let past = future.replace("9999-12-30T21:59:00Z", "0001-01-01T00:00:00Z");
        let journal = Journal::parse(past.as_bytes(), &path).unwrap();
        assert!(!journal.numbers["+16315555555"].code_cooldown_active(Timestamp::now()));

        // Bytes that are not UTF-8 make a corrupt journal, not a directory problem.
        std::fs::write(&path, b"{\"format_version\": 1, \"numbers\": {\"\xff\": {}}}").unwrap();
        let error = Journal::load(&path).unwrap_err();
        assert!(error.to_string().contains("not UTF-8"), "{error}");
        assert!(!hint(&error).contains("writable"), "{}", hint(&error));

        // A file far larger than any journal is refused before it is buffered.
        let big = std::fs::File::create(&path).unwrap();
        big.set_len(MAX_JOURNAL_BYTES + 1).unwrap();
        let error = Journal::load(&path).unwrap_err();
        assert!(
            matches!(&error, JournalError::Read { source, .. } if crate::files::refusal(source).is_some())
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_journal_behind_a_symbolic_link_is_refused_and_its_target_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let precious = dir.path().join("precious");
        std::fs::write(&precious, "keep me").unwrap();
        let path = dir.path().join("state.json");
        std::os::unix::fs::symlink(&precious, &path).unwrap();
        let error = Journal::load(&path).unwrap_err();
        assert!(error.to_string().contains("cannot read the journal"), "{error}");
        assert!(error.diagnostics()[0].causes.iter().any(|c| c.contains("symbolic link")), "{error:?}");
        let error = Journal::new().save(&path).unwrap_err();
        assert!(matches!(error, JournalError::Write { .. }));
        assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me");
    }

    #[test]
    fn cooldown_and_register_window() {
        let now: Timestamp = "2026-11-25T12:00:00Z".parse().unwrap();
        let mut record = NumberRecord::new("1");
        assert!(!record.code_cooldown_active(now));
        record.last_code_request = Some(CodeRequest {
            at: "2026-11-25T11:55:00Z".parse().unwrap(),
            method: CodeMethod::Sms,
            language: "en_US".into(),
        });
        assert!(record.code_cooldown_active(now));
        assert!(!record.code_cooldown_active("2026-11-25T12:06:00Z".parse().unwrap()));
        record.register_attempts =
            vec!["2026-11-21T12:00:00Z".parse().unwrap(), "2026-11-25T11:00:00Z".parse().unwrap()];
        assert_eq!(record.register_attempts_in_window(now), 1);
    }
}
