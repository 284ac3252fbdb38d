//! Owns the shared lock's record (`<prefix>/lock.json`): who holds it (host, user, CI run),
//! for which operation, since when and until when its lease runs, and the generation that
//! fences journal writes. Pure: the store reads and writes these in `state::shared`.

use std::fmt;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockStatus {
    Held,
    Released,
}

/// The lock object. It is never deleted: a release or a force-unlock is a conditional update
/// to `released`, so the generation only ever grows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRecord {
    /// What `wamig state unlock` must be given.
    pub id: String,
    /// One more at every acquisition and force-unlock; journal writes carry it.
    pub generation: u64,
    pub status: LockStatus,
    pub operation: String,
    pub holder: Holder,
    pub since: Timestamp,
    pub lease_until: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released_at: Option<Timestamp>,
    /// Who force-unlocked it, when it was not its holder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released_by: Option<String>,
}

/// Who runs the operation. Nothing here is secret: CI run URLs are what CI systems print.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub host: String,
    pub user: String,
    pub pid: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_run: Option<String>,
}

impl Holder {
    /// This process, as the environment describes it.
    pub fn current(env: &dyn Fn(&str) -> Option<String>) -> Holder {
        let var = |name: &str| env(name).filter(|value| !value.trim().is_empty());
        let github = match (var("GITHUB_SERVER_URL"), var("GITHUB_REPOSITORY"), var("GITHUB_RUN_ID")) {
            (Some(server), Some(repository), Some(run)) => {
                Some(format!("{}/{repository}/actions/runs/{run}", server.trim_end_matches('/')))
            }
            _ => None,
        };
        Holder {
            host: crate::journal::lock::hostname(),
            user: var("USER").or_else(|| var("USERNAME")).unwrap_or_else(|| "unknown user".to_owned()),
            pid: std::process::id(),
            ci_run: github.or_else(|| var("CI_JOB_URL")),
        }
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} on {} (pid {})", self.user, self.host, self.pid)?;
        if let Some(run) = &self.ci_run {
            write!(f, ", CI run {run}")?;
        }
        Ok(())
    }
}

impl LockRecord {
    pub fn new(
        id: String,
        generation: u64,
        operation: &str,
        holder: Holder,
        now: Timestamp,
        lease: Duration,
    ) -> Self {
        LockRecord {
            id,
            generation,
            status: LockStatus::Held,
            operation: operation.to_owned(),
            holder,
            since: now,
            lease_until: lease_end(now, lease),
            released_at: None,
            released_by: None,
        }
    }

    /// Held and its lease still running: nobody else may take it.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.status == LockStatus::Held && self.lease_until > now
    }

    /// Held, but its holder stopped renewing it (killed, cancelled, or cut off from the store).
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.status == LockStatus::Held && self.lease_until <= now
    }

    /// The lock released, by its holder or by `released_by`.
    pub fn released(mut self, now: Timestamp, by: Option<String>) -> LockRecord {
        self.status = LockStatus::Released;
        self.released_at = Some(now);
        self.lease_until = now;
        self.released_by = by;
        self
    }

    /// One line naming the holder, for errors and `wamig state lock`.
    pub fn describe(&self, now: Timestamp) -> String {
        let lease = if self.lease_until > now {
            format!("its lease ends at {} (in {})", at(self.lease_until), remaining(self.lease_until, now))
        } else {
            format!("its lease ended at {}", at(self.lease_until))
        };
        format!(
            "`{}` by {}, since {}; {lease}; lock id {}",
            self.operation,
            self.holder,
            at(self.since),
            self.id
        )
    }
}

/// A lock time as people read it: to the second, in UTC (the record keeps the full precision).
pub fn at(time: Timestamp) -> String {
    time.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

pub fn lease_end(now: Timestamp, lease: Duration) -> Timestamp {
    let lease = SignedDuration::try_from(lease).unwrap_or(SignedDuration::MAX);
    now.checked_add(lease).unwrap_or(Timestamp::MAX)
}

/// Whole seconds left, as wamig writes durations (`90s`, `2m 5s`).
fn remaining(until: Timestamp, now: Timestamp) -> String {
    let seconds = until.duration_since(now).as_secs().max(0);
    crate::duration::display_seconds(Duration::from_secs(seconds.unsigned_abs()))
}

/// A lock id nobody can guess or collide with: 128 random bits in hex.
pub fn new_lock_id() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    // The system's random source failing is not something to carry on after; fall back to
    // the time and pid so the id is at least unique.
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        let fallback = format!("{}{}", Timestamp::now().as_nanosecond(), std::process::id());
        for (byte, digit) in bytes.iter_mut().zip(fallback.bytes().rev()) {
            *byte = digit;
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_owned())
    }

    #[test]
    fn the_holder_names_the_ci_run() {
        let github = Holder::current(&env(&[
            ("USER", "runner"),
            ("GITHUB_SERVER_URL", "https://github.com/"),
            ("GITHUB_REPOSITORY", "acme/numbers"),
            ("GITHUB_RUN_ID", "42"),
        ]));
        assert_eq!(github.user, "runner");
        assert_eq!(github.ci_run.as_deref(), Some("https://github.com/acme/numbers/actions/runs/42"));
        let gitlab = Holder::current(&env(&[("CI_JOB_URL", "https://gitlab.com/acme/numbers/-/jobs/7")]));
        assert_eq!(gitlab.ci_run.as_deref(), Some("https://gitlab.com/acme/numbers/-/jobs/7"));
        assert_eq!(gitlab.user, "unknown user");
        assert_eq!(Holder::current(&env(&[])).ci_run, None);
    }

    #[test]
    fn a_lease_is_live_until_it_ends_and_a_release_ends_it() {
        let now: Timestamp = "2026-11-25T12:00:00Z".parse().unwrap();
        let holder = Holder { host: "runner-7".into(), user: "ci".into(), pid: 9, ci_run: None };
        let record = LockRecord::new(new_lock_id(), 3, "wamig apply", holder, now, Duration::from_secs(180));
        assert_eq!(record.id.len(), 32);
        assert!(record.is_live(now) && !record.is_expired(now));
        let later = "2026-11-25T12:03:00Z".parse().unwrap();
        assert!(!record.is_live(later) && record.is_expired(later));
        assert!(
            record.describe(now).contains("its lease ends at 2026-11-25 12:03:00 UTC (in 3m00s)"),
            "{}",
            record.describe(now)
        );
        let released = record.released(now, None);
        assert!(!released.is_live(now) && !released.is_expired(later));
    }
}
