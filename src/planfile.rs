//! Owns saved plans (`plan --out FILE`, `show FILE`, `apply FILE`): writing them, reading them
//! back, and refusing one that no longer matches — a different manifest, a changed live state,
//! or older than its time to live. The plan format itself belongs to `plan::model`.

use std::path::{Path, PathBuf};

use jiff::Timestamp;

use crate::diag::{Diagnostic, ToDiagnostics};
use crate::plan::Plan;

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
        };
        vec![Diagnostic::from_error(self).with_hint(hint)]
    }
}

pub fn save(plan: &Plan, path: &Path) -> Result<(), PlanFileError> {
    let mut text = serde_json::to_string_pretty(plan).unwrap_or_default();
    text.push('\n');
    std::fs::write(path, text).map_err(|source| PlanFileError::Write { path: path.to_path_buf(), source })
}

pub fn load(path: &Path) -> Result<Plan, PlanFileError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| PlanFileError::Read { path: path.to_path_buf(), source })?;
    let value: serde_json::Value = serde_json::from_str(&text)
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
    serde_json::from_value(value)
        .map_err(|e| PlanFileError::Invalid { path: path.to_path_buf(), message: e.to_string() })
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
    let created: Timestamp = saved.created_at.parse().map_err(|_| PlanFileError::Invalid {
        path: path.to_path_buf(),
        message: "created_at is not a time".into(),
    })?;
    // A plan from a clock slightly ahead of ours is fine; its age counts from now on.
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
}
