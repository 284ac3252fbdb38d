//! Owns `wamig state show|lock|unlock|push`: the journal and its lock, local or shared, seen
//! and handled from the command line. Each reads or writes through `state`, never the files or
//! objects directly.

use std::fmt::Write as _;

use jiff::Timestamp;
use serde_json::json;

use super::lease::{LockStatus, at};
use super::{SharedStore, StateLocation};
use crate::journal::Journal;
use crate::journal::lock::{JournalLock, lock_path};
use crate::ui::Ui;
use crate::{Error, ExitStatus};

/// `--format` of `wamig state show` and `wamig state lock`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum StateFormat {
    #[default]
    Text,
    Json,
}

/// `wamig state show`: the journal as text, or as JSON in the local journal's own format (so
/// `--format json > state.json` makes a local copy of a shared one).
pub async fn show(location: &StateLocation, format: StateFormat, ui: &Ui) -> Result<ExitStatus, Error> {
    let journal = super::load(location).await?;
    if format == StateFormat::Json {
        let mut text = serde_json::to_string_pretty(&journal).unwrap_or_default();
        text.push('\n');
        ui.out(&text);
        return Ok(ExitStatus::Success);
    }
    ui.out(&render_journal(location, &journal, Timestamp::now(), ui));
    Ok(ExitStatus::Success)
}

fn render_journal(location: &StateLocation, journal: &Journal, now: Timestamp, ui: &Ui) -> String {
    let mut out = String::new();
    let count = journal.numbers.len();
    if count == 0 {
        let _ = writeln!(out, "The journal {location} records no number yet.");
        return out;
    }
    let _ =
        writeln!(out, "The journal {location} records {count} number{}:", if count == 1 { "" } else { "s" });
    for (phone, record) in &journal.numbers {
        let _ = writeln!(out, "\n{}  → {}", ui.styles.bold.paint(phone), record.destination_waba);
        if let Some(id) = &record.phone_number_id {
            let _ = writeln!(out, "  id:       {id}");
        }
        crate::status::journal_lines(&mut out, record, now);
    }
    out
}

/// `wamig state lock`: who holds the lock, since when and until when; exit 0 either way.
pub async fn lock(location: &StateLocation, format: StateFormat, ui: &Ui) -> Result<ExitStatus, Error> {
    let now = Timestamp::now();
    let (locked, text, details) = match location {
        StateLocation::File(path) => {
            // Nobody has ever locked a journal whose lock file does not exist; trying the lock
            // would create it.
            let holder = if lock_path(path).exists() {
                match JournalLock::acquire(path, "wamig state lock") {
                    Ok(_probe) => None,
                    Err(crate::journal::JournalError::Locked { holder, .. }) => Some(holder),
                    Err(error) => return Err(error.into()),
                }
            } else {
                None
            };
            let text = match &holder {
                Some(holder) => format!("The journal {location} is locked by {holder}.\n"),
                None => format!("Nobody holds the lock on {location}.\n"),
            };
            (holder.is_some(), text, json!({"holder": holder}))
        }
        StateLocation::Shared(shared) => {
            let record = SharedStore::open(shared)?.lock_record().await?;
            let mut text = String::new();
            let live = record.as_ref().is_some_and(|r| r.is_live(now));
            match &record {
                Some(record) if record.status == LockStatus::Held => {
                    let _ = writeln!(text, "The journal {location} is locked by `{}`", record.operation);
                    let _ = writeln!(text, "  lock id:     {}", record.id);
                    let _ = writeln!(
                        text,
                        "  holder:      {} on {} (pid {})",
                        record.holder.user, record.holder.host, record.holder.pid
                    );
                    if let Some(run) = &record.holder.ci_run {
                        let _ = writeln!(text, "  CI run:      {run}");
                    }
                    let _ = writeln!(text, "  since:       {}", at(record.since));
                    if live {
                        let left = crate::duration::display_seconds(
                            record.lease_until.duration_since(now).unsigned_abs(),
                        );
                        let _ = writeln!(
                            text,
                            "  lease ends:  {} (in {left}; its holder renews it while it runs)",
                            at(record.lease_until)
                        );
                    } else {
                        let _ = writeln!(
                            text,
                            "  lease ended: {} (its holder stopped renewing it: the next apply takes it over)",
                            at(record.lease_until)
                        );
                    }
                }
                Some(record) => {
                    let _ = writeln!(text, "Nobody holds the lock on {location}.");
                    let by = record
                        .released_by
                        .as_deref()
                        .map(|by| format!(" (force-unlocked by {by})"))
                        .unwrap_or_default();
                    let released = at(record.released_at.unwrap_or(record.lease_until));
                    let _ = writeln!(
                        text,
                        "It was last held by `{}` of {}, released at {released}{by}.",
                        record.operation, record.holder
                    );
                }
                None => {
                    let _ = writeln!(text, "Nobody holds the lock on {location}; it was never taken.");
                }
            }
            let expired = record.as_ref().is_some_and(|r| r.is_expired(now));
            (live, text, json!({"lease_expired": expired, "lock": record}))
        }
    };
    if format == StateFormat::Json {
        let mut value = json!({"location": location.to_string(), "locked": locked});
        if let (Some(object), serde_json::Value::Object(details)) = (value.as_object_mut(), details) {
            object.extend(details);
        }
        let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
        text.push('\n');
        ui.out(&text);
    } else {
        ui.out(&text);
    }
    Ok(ExitStatus::Success)
}

/// `wamig state unlock LOCK_ID`: force-unlocks a shared journal's lock, if it has that id.
pub async fn unlock(location: &StateLocation, id: &str, ui: &Ui) -> Result<ExitStatus, Error> {
    let shared = match location {
        StateLocation::File(path) => {
            return Err(Error::usage(
                format!(
                    "the local journal {} has no lock to force: its lock is the operating system's, and ends with the process that holds it",
                    path.display()
                ),
                "if `wamig state lock` names a holder, that process still runs: stop it, or wait for it",
            ));
        }
        StateLocation::Shared(shared) => shared,
    };
    let me = super::lease::Holder::current(&|name| std::env::var(name).ok());
    let by = format!("`wamig state unlock` by {me}");
    match SharedStore::open(shared)?.force_unlock(id, by).await? {
        Some(record) => ui.out(&format!(
            "Unlocked {location}: it was held by {}.\nIf that process still runs, it stops at its next journal write, and what it recorded before is kept.\n",
            record.describe(Timestamp::now())
        )),
        None => ui.out(&format!("Nobody holds the lock on {location}; nothing to unlock.\n")),
    }
    Ok(ExitStatus::Success)
}

/// `wamig state push URL`: copies the local journal into a shared one that holds no number yet
/// (or any, with `--force`), under both locks.
pub async fn push(source: &StateLocation, target: &str, force: bool, ui: &Ui) -> Result<ExitStatus, Error> {
    let StateLocation::File(path) = source else {
        return Err(Error::usage(
            format!("wamig state push copies a local journal, but --state names the shared journal {source}"),
            "give the local journal with --state PATH, or leave --state out for .wamig/state.json beside the manifest",
        ));
    };
    let target = StateLocation::parse(std::ffi::OsStr::new(target))?;
    if !matches!(target, StateLocation::Shared(_)) {
        return Err(Error::usage(
            format!("wamig state push copies into a shared journal, and {target} is a path"),
            "give s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or az://CONTAINER/PREFIX",
        ));
    }
    if !path.exists() {
        return Err(Error::usage(
            format!("there is no local journal at {}", path.display()),
            "give the journal's path with --state PATH (by default it is .wamig/state.json beside the manifest)",
        ));
    }
    // No apply may write the local journal while it is copied.
    let _local = JournalLock::acquire(path, "wamig state push")?;
    let journal = Journal::load(path)?;
    let held = super::lock(&target, "wamig state push", ui).await?;
    let existing = held.load()?;
    if !existing.numbers.is_empty() && !force {
        return Err(Error::usage(
            format!(
                "{target} already holds a journal with {} number{}; nothing was copied",
                existing.numbers.len(),
                if existing.numbers.len() == 1 { "" } else { "s" }
            ),
            format!(
                "see it with `wamig state show --state {target}`; pass --force to replace it with {}",
                path.display()
            ),
        ));
    }
    held.save(&journal)?;
    held.release();
    let count = journal.numbers.len();
    ui.out(&format!(
        "Copied {} ({count} number{}) to {target}.\nFrom now on run wamig with --state {target} (or WAMIG_STATE={target}); keep {} as a backup, wamig no longer writes it.\n",
        path.display(),
        if count == 1 { "" } else { "s" },
        path.display()
    ));
    Ok(ExitStatus::Success)
}
