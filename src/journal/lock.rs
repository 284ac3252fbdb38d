//! Owns the journal's exclusive lock: `<journal>.lock` held with an OS file lock for the whole
//! apply. The OS releases the lock when its holder dies, even by `kill -9`, so a lock file left
//! behind by a dead process is simply taken over (with a warning naming the old holder). The file
//! also names the live holder, so a second apply can say who is running.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::JournalError;

/// Who holds a lock; written into the lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    pub started_at: String,
    pub command: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The lock file may have been written by anyone: its text is shown escaped.
        use crate::text::escape;
        write!(
            f,
            "`{}` (pid {} on {}, since {})",
            escape(&self.command),
            self.pid,
            escape(&self.host),
            escape(&self.started_at)
        )
    }
}

/// Held for as long as it lives; dropping it releases the lock.
#[derive(Debug)]
pub struct JournalLock {
    file: File,
    path: PathBuf,
    /// The holder whose lock file was left behind by a process that is gone.
    pub taken_over_from: Option<Holder>,
}

pub fn lock_path(journal: &Path) -> PathBuf {
    let mut name = journal.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".lock");
    journal.with_file_name(name)
}

impl JournalLock {
    /// Takes the lock at once or fails naming the holder; never waits. The lock file is opened
    /// without following a symbolic link, and only a file that is empty or names a wamig holder
    /// is ever rewritten: anything else at that path was not made by wamig and is left alone.
    pub fn acquire(journal: &Path, command: &str) -> Result<JournalLock, JournalError> {
        let path = lock_path(journal);
        let lock_error = |source| JournalError::Lock { path: path.clone(), source };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(lock_error)?;
        }
        let mut file = crate::files::open_own(&path).map_err(lock_error)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = read_holder(&mut file)
                    .ok()
                    .flatten()
                    .map(|h| h.to_string())
                    .unwrap_or_else(|| "another wamig process".to_owned());
                return Err(JournalError::Locked { path: journal.to_path_buf(), holder });
            }
            Err(TryLockError::Error(source)) => return Err(lock_error(source)),
        }
        let taken_over_from =
            read_holder(&mut file).map_err(|()| JournalError::ForeignLock { path: path.clone() })?;
        let holder = Holder {
            pid: std::process::id(),
            host: hostname(),
            started_at: jiff::Timestamp::now().to_string(),
            command: command.to_owned(),
        };
        let text = serde_json::to_string(&holder).unwrap_or_default();
        file.set_len(0).map_err(lock_error)?;
        file.seek(SeekFrom::Start(0)).map_err(lock_error)?;
        file.write_all(text.as_bytes()).map_err(lock_error)?;
        file.sync_all().map_err(lock_error)?;
        Ok(JournalLock { file, path, taken_over_from })
    }

    /// The warning for a lock taken over, saying why its recorded holder does not hold it: the
    /// process is gone, or the pid now belongs to another program, or the file came from another
    /// machine (a restored cache).
    pub fn takeover_warning(&self) -> Option<String> {
        let previous = self.taken_over_from.as_ref()?;
        let why = if previous.host != hostname() {
            format!(
                "it was written on {}, not on this machine (a lock file restored from a cache or copied), and nothing here holds it",
                crate::text::escape(&previous.host)
            )
        } else if process_exists(previous.pid) {
            format!(
                "pid {} is running but does not hold the lock: the pid now belongs to another program",
                previous.pid
            )
        } else {
            "it is no longer running".to_owned()
        };
        Some(format!("took over the journal lock left by {previous}: {why}"))
    }
}

impl Drop for JournalLock {
    fn drop(&mut self) {
        // Empty the file before unlocking so the next holder does not mistake a clean exit for
        // a crashed holder; the OS lock itself goes with the file handle.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
        let _ = &self.path;
    }
}

/// A holder record is a few hundred bytes; more is not a lock file of ours.
const MAX_LOCK_BYTES: u64 = 64 * 1024;

/// The holder named in a lock file: `Ok(None)` when it is empty, `Err` when it holds anything
/// but a holder record (a file wamig did not write).
fn read_holder(file: &mut File) -> Result<Option<Holder>, ()> {
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0)).map_err(|_| ())?;
    file.take(MAX_LOCK_BYTES + 1).read_to_end(&mut bytes).map_err(|_| ())?;
    let text = std::str::from_utf8(&bytes).map_err(|_| ())?.trim();
    if text.is_empty() {
        return Ok(None);
    }
    serde_json::from_str(text).map(Some).map_err(|_| ())
}

/// Whether a process with this pid exists on this machine (signal 0 only checks).
#[allow(unsafe_code, reason = "kill(pid, 0) has no safe wrapper in std; it sends nothing")]
fn process_exists(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
        if pid <= 0 {
            return false;
        }
        // SAFETY: kill with signal 0 sends nothing; it only reports whether the pid exists.
        let result = unsafe { libc::kill(pid, 0) };
        result == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        false
    }
}

pub(crate) fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok().map(|h| h.trim().to_owned()))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "this machine".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_fails_naming_the_holder_and_a_released_lock_is_free() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("state.json");
        let first = JournalLock::acquire(&journal, "wamig apply").unwrap();
        assert!(first.taken_over_from.is_none());
        match JournalLock::acquire(&journal, "wamig apply") {
            Err(JournalError::Locked { holder, .. }) => {
                assert!(holder.contains(&format!("pid {}", std::process::id())), "{holder}")
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(first);
        let again = JournalLock::acquire(&journal, "wamig apply").unwrap();
        assert!(again.taken_over_from.is_none(), "a clean release leaves nothing to take over");
    }

    #[test]
    fn a_lock_file_left_by_a_dead_holder_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("state.json");
        let stale = Holder {
            pid: 999_999,
            host: "runner-7".into(),
            started_at: "2026-11-25T10:00:00Z".into(),
            command: "wamig apply".into(),
        };
        std::fs::write(lock_path(&journal), serde_json::to_string(&stale).unwrap()).unwrap();
        let lock = JournalLock::acquire(&journal, "wamig apply").unwrap();
        assert_eq!(lock.taken_over_from, Some(stale));
        let warning = lock.takeover_warning().unwrap();
        assert!(warning.contains("runner-7, not on this machine"), "{warning}");
    }

    #[cfg(unix)]
    #[test]
    fn a_takeover_from_a_live_unrelated_process_does_not_say_it_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("state.json");
        let holder = |pid: u32| Holder {
            pid,
            host: hostname(),
            started_at: "2026-11-25T10:00:00Z".into(),
            command: "wamig apply".into(),
        };
        // Our own parent is alive and does not hold the lock: a reused pid, as far as the lock
        // file can tell.
        let parent = std::os::unix::process::parent_id();
        std::fs::write(lock_path(&journal), serde_json::to_string(&holder(parent)).unwrap()).unwrap();
        let warning = JournalLock::acquire(&journal, "wamig apply").unwrap().takeover_warning().unwrap();
        assert!(!warning.contains("no longer running"), "{warning}");
        assert!(
            warning.contains(&format!("pid {parent} is running but does not hold the lock")),
            "{warning}"
        );

        std::fs::write(lock_path(&journal), serde_json::to_string(&holder(u32::MAX - 1)).unwrap()).unwrap();
        let warning = JournalLock::acquire(&journal, "wamig apply").unwrap().takeover_warning().unwrap();
        assert!(warning.ends_with("it is no longer running"), "{warning}");
    }

    #[cfg(unix)]
    #[test]
    fn a_lock_path_that_is_a_symbolic_link_is_refused_and_its_target_kept() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("state.json");
        let precious = dir.path().join("precious");
        std::fs::write(&precious, "keep me").unwrap();
        std::os::unix::fs::symlink(&precious, lock_path(&journal)).unwrap();
        let error = JournalLock::acquire(&journal, "wamig apply").unwrap_err();
        assert!(
            matches!(&error, JournalError::Lock { source, .. }
            if crate::files::refusal(source) == Some(crate::files::Refusal::Symlink)),
            "{error:?}"
        );
        assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep me");
    }

    #[test]
    fn a_file_that_is_not_a_lock_is_never_emptied() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("state.json");
        std::fs::write(lock_path(&journal), "precious notes\n").unwrap();
        let error = JournalLock::acquire(&journal, "wamig apply").unwrap_err();
        assert!(matches!(error, JournalError::ForeignLock { .. }), "{error:?}");
        assert_eq!(std::fs::read_to_string(lock_path(&journal)).unwrap(), "precious notes\n");
    }
}
