//! Owns the journal's exclusive lock: `<journal>.lock` held with an OS file lock for the whole
//! apply. The OS releases the lock when its holder dies, even by `kill -9`, so a lock file left
//! behind by a dead process is simply taken over (with a warning naming the old holder). The file
//! also names the live holder, so a second apply can say who is running.

use std::fs::{File, OpenOptions, TryLockError};
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
        write!(f, "`{}` (pid {} on {}, since {})", self.command, self.pid, self.host, self.started_at)
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
    /// Takes the lock at once or fails naming the holder; never waits.
    pub fn acquire(journal: &Path, command: &str) -> Result<JournalLock, JournalError> {
        let path = lock_path(journal);
        let lock_error = |source| JournalError::Lock { path: path.clone(), source };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(lock_error)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(lock_error)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = read_holder(&mut file)
                    .map(|h| h.to_string())
                    .unwrap_or_else(|| "another wamig process".to_owned());
                return Err(JournalError::Locked { path: journal.to_path_buf(), holder });
            }
            Err(TryLockError::Error(source)) => return Err(lock_error(source)),
        }
        let taken_over_from = read_holder(&mut file);
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

fn read_holder(file: &mut File) -> Option<Holder> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(text.trim()).ok()
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
    }
}
