//! Shared helpers: running the built `wamig` binary with a clean environment, and snapshot
//! filters for what changes between runs (temporary paths, ports, times).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A `wamig` command with no inherited `WAMIG_*` variables and colour off.
pub fn wamig(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wamig"));
    command.current_dir(dir);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("WAMIG_") {
            command.env_remove(key);
        }
    }
    command.env("NO_COLOR", "1").env_remove("CLICOLOR_FORCE");
    command
}

/// Exit code, stdout and stderr in one text, for snapshots.
pub fn transcript(output: &Output) -> String {
    format!(
        "exit: {}\n--- stdout ---\n{}--- stderr ---\n{}",
        output.status.code().map_or("signal".to_string(), |c| c.to_string()),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
