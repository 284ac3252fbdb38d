//! Owns saved plans (`plan --out FILE`, `show FILE`, `apply FILE`): writing them, reading them
//! back, and refusing one that no longer matches — a different manifest, a changed live state,
//! or older than its time to live. The plan format itself belongs to `plan::model`.

use std::path::{Path, PathBuf};

use jiff::Timestamp;

use crate::diag::{Diagnostic, ToDiagnostics};
use crate::plan::Plan;
use crate::plan::model::DEFAULT_TTL_SECONDS;

#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("cannot read the saved plan {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a wamig plan: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("cannot write the plan to {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the saved plan {} was made for another manifest (or the manifest changed since)", path.display())]
    ManifestChanged { path: PathBuf },
    #[error("the saved plan {} is stale: the live state changed since it was made at {created_at}", path.display())]
    Stale { path: PathBuf, created_at: String },
    #[error("the saved plan {} expired: made at {created_at}, valid for {hours} h", path.display())]
    Expired { path: PathBuf, created_at: String, hours: u64 },
    #[error("refusing to save the plan to {}: it is {what}", path.display())]
    WouldOverwrite { path: PathBuf, what: &'static str },
    #[error("refusing to save the plan to {}: the file there is not a saved plan", path.display())]
    NotAPlan { path: PathBuf },
}

impl ToDiagnostics for PlanFileError {
    fn diagnostics(&self) -> Vec<Diagnostic> {
        let hint = match self {
            PlanFileError::Read { .. } => "check the path; make a plan with `wamig plan --out plan.json`",
            PlanFileError::Invalid { .. } => "give a file written by `wamig plan --out`",
            PlanFileError::Write { .. } => "check that the directory exists and is writable",
            PlanFileError::ManifestChanged { .. } => {
                "make a new plan from this manifest (`wamig plan --out plan.json`), review it, then apply that one"
            }
            PlanFileError::Stale { .. } => {
                "someone or something changed the numbers since the plan was reviewed: make a new plan, review it, then apply it"
            }
            PlanFileError::Expired { .. } => "make a new plan, review it, then apply it",
            PlanFileError::WouldOverwrite { .. } => "give --out another path, such as plan.json",
            PlanFileError::NotAPlan { .. } => {
                "wamig only replaces a plan it saved: give --out another path, or move that file away first"
            }
        };
        vec![Diagnostic::from_error(self).with_hint(hint)]
    }
}

/// Checks, before anything is observed, that `plan --out` may write to `path`: never over one of
/// the `protected` files (the manifest, the journal, its lock) however it is reached, and never
/// over an existing file that is not a plan wamig saved (an empty file, as `mktemp` makes, is
/// fine).
pub fn check_out_path(path: &Path, protected: &[(&'static str, &Path)]) -> Result<(), PlanFileError> {
    for (what, other) in protected {
        if crate::files::same_file(path, other) {
            return Err(PlanFileError::WouldOverwrite { path: path.to_path_buf(), what });
        }
    }
    let existing = match crate::files::read_bounded(path, MAX_PLAN_BYTES, crate::files::Links::Refuse) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(PlanFileError::Write { path: path.to_path_buf(), source }),
    };
    let is_plan = existing.iter().all(u8::is_ascii_whitespace)
        || serde_json::from_slice::<serde_json::Value>(&existing).is_ok_and(|value| {
            ["format_version", "numbers", "digest", "snapshot_digest"]
                .iter()
                .all(|key| value.get(key).is_some())
        });
    if is_plan { Ok(()) } else { Err(PlanFileError::NotAPlan { path: path.to_path_buf() }) }
}

/// Writes a plan atomically (a crash leaves the old file or the new one); a symbolic link at the
/// path is refused, not written through.
pub fn save(plan: &Plan, path: &Path) -> Result<(), PlanFileError> {
    let mut text = serde_json::to_string_pretty(plan).unwrap_or_default();
    text.push('\n');
    crate::files::write_atomic(path, text.as_bytes(), false)
        .map_err(|source| PlanFileError::Write { path: path.to_path_buf(), source })
}

/// Far above the plan of any real manifest, far below what would exhaust memory.
pub const MAX_PLAN_BYTES: u64 = 64 * 1024 * 1024;
/// How far ahead of this machine's clock a plan's `created_at` may be (another machine's clock).
pub const MAX_CLOCK_SKEW: jiff::SignedDuration = jiff::SignedDuration::from_mins(5);

fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

pub fn load(path: &Path) -> Result<Plan, PlanFileError> {
    let text = crate::files::read_text_bounded(path, MAX_PLAN_BYTES, crate::files::Links::Follow)
        .map_err(|source| PlanFileError::Read { path: path.to_path_buf(), source })?;
    parse(&text, path)
}

/// Reads a saved plan from its text; `path` is named in errors.
pub fn parse(text: &str, path: &Path) -> Result<Plan, PlanFileError> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| PlanFileError::Invalid { path: path.to_path_buf(), message: e.to_string() })?;
    let version = value.get("format_version").and_then(serde_json::Value::as_u64);
    if version != Some(u64::from(crate::plan::model::FORMAT_VERSION)) {
        return Err(PlanFileError::Invalid {
            path: path.to_path_buf(),
            message: match version {
                None => "it has no format_version".to_owned(),
                Some(v) => format!("format_version {v} is not one this wamig reads"),
            },
        });
    }
    let plan: Plan = serde_json::from_value(value)
        .map_err(|e| PlanFileError::Invalid { path: path.to_path_buf(), message: e.to_string() })?;
    for (field, digest) in [
        ("digest", &plan.digest),
        ("manifest_digest", &plan.manifest_digest),
        ("snapshot_digest", &plan.snapshot_digest),
    ] {
        if !is_sha256_hex(digest) {
            return Err(PlanFileError::Invalid {
                path: path.to_path_buf(),
                message: format!("its {field} is not a SHA-256 digest (64 hexadecimal digits)"),
            });
        }
    }
    Ok(plan)
}

/// Checks a saved plan against the manifest it is applied with and the freshly observed state.
pub fn check_fresh(
    saved: &Plan,
    path: &Path,
    manifest_digest: &str,
    snapshot_digest: &str,
    now: Timestamp,
) -> Result<(), PlanFileError> {
    if saved.manifest_digest != manifest_digest {
        return Err(PlanFileError::ManifestChanged { path: path.to_path_buf() });
    }
    let invalid = |message: String| PlanFileError::Invalid { path: path.to_path_buf(), message };
    let created: Timestamp =
        saved.created_at.parse().map_err(|_| invalid("created_at is not a time".into()))?;
    // The file says when it was made and how long it lives; neither may stretch the 24 hours a
    // reviewed plan is trusted for. A clock a little ahead of ours is fine, a plan from the
    // future is an edited one.
    if created.duration_since(now) > MAX_CLOCK_SKEW {
        return Err(invalid(format!(
            "its created_at {} is in the future (this machine's clock says {now})",
            saved.created_at
        )));
    }
    if saved.ttl_seconds > DEFAULT_TTL_SECONDS {
        return Err(invalid(format!(
            "its ttl_seconds {} is longer than the {} h a saved plan may live",
            saved.ttl_seconds,
            DEFAULT_TTL_SECONDS / 3600
        )));
    }
    let age = now.duration_since(created).as_secs().max(0) as u64;
    if age > saved.ttl_seconds {
        return Err(PlanFileError::Expired {
            path: path.to_path_buf(),
            created_at: saved.created_at.clone(),
            hours: saved.ttl_seconds / 3600,
        });
    }
    if saved.snapshot_digest != snapshot_digest {
        return Err(PlanFileError::Stale { path: path.to_path_buf(), created_at: saved.created_at.clone() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_that_are_not_plans_are_named_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let message = |text: &str| {
            let path = dir.path().join("plan.json");
            std::fs::write(&path, text).unwrap();
            load(&path).unwrap_err().to_string()
        };
        assert!(message(r#"{"hello": 1}"#).ends_with("is not a wamig plan: it has no format_version"));
        assert!(
            message(r#"{"format_version": 99}"#).ends_with("format_version 99 is not one this wamig reads")
        );
        assert!(message("not json").contains("is not a wamig plan"));
    }

    const DIGEST: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn saved_plan(created_at: &str) -> Plan {
        Plan {
            format_version: crate::plan::model::FORMAT_VERSION,
            summary: Default::default(),
            numbers: Vec::new(),
            unmanaged: Vec::new(),
            destinations: Vec::new(),
            digest: DIGEST.into(),
            manifest_digest: DIGEST.into(),
            snapshot_digest: DIGEST.into(),
            created_at: created_at.into(),
            ttl_seconds: DEFAULT_TTL_SECONDS,
            api_version: "v23.0".into(),
            notes: Vec::new(),
            cost: Vec::new(),
        }
    }

    #[test]
    fn digests_that_are_not_sha256_are_refused_on_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        for digest in ["abc", "ééééééééééé", &"é".repeat(32), ""] {
            let mut plan = saved_plan("2026-11-25T12:00:00Z");
            plan.digest = digest.to_owned();
            std::fs::write(&path, serde_json::to_string(&plan).unwrap()).unwrap();
            let error = load(&path).unwrap_err();
            assert!(error.to_string().contains("digest is not a SHA-256 digest"), "{digest}: {error}");
        }
        std::fs::write(&path, serde_json::to_string(&saved_plan("2026-11-25T12:00:00Z")).unwrap()).unwrap();
        assert!(load(&path).is_ok());
    }

    #[test]
    fn the_file_cannot_stretch_its_own_time_to_live() {
        let now: Timestamp = "2026-11-25T12:00:00Z".parse().unwrap();
        let fresh = |plan: &Plan| check_fresh(plan, Path::new("plan.json"), DIGEST, DIGEST, now);
        assert!(fresh(&saved_plan("2026-11-25T11:00:00Z")).is_ok());
        // Another machine's clock a little ahead is fine.
        assert!(fresh(&saved_plan("2026-11-25T12:04:00Z")).is_ok());
        let future = fresh(&saved_plan("2999-01-01T00:00:00Z")).unwrap_err();
        assert!(future.to_string().contains("is in the future"), "{future}");
        let mut stretched = saved_plan("2026-11-20T12:00:00Z");
        stretched.ttl_seconds = 30 * 24 * 3600;
        let error = fresh(&stretched).unwrap_err();
        assert!(error.to_string().contains("longer than the 24 h"), "{error}");
        stretched.ttl_seconds = DEFAULT_TTL_SECONDS;
        assert!(matches!(fresh(&stretched), Err(PlanFileError::Expired { .. })));
    }
}
