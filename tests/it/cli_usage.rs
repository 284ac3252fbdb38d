//! Command-line misuse: a mistyped flag or command is bad input (exit 1), never exit 2, which
//! pipelines read as "the plan has changes". Help and version still succeed.

use crate::support::wamig;

fn exit_code(args: &[&str]) -> Option<i32> {
    let dir = tempfile::tempdir().unwrap();
    wamig(dir.path()).args(args).output().unwrap().status.code()
}

#[test]
fn unknown_flags_and_commands_exit_one() {
    assert_eq!(exit_code(&["plan", "--detailed-exitcod"]), Some(1));
    assert_eq!(exit_code(&["plna"]), Some(1));
    assert_eq!(exit_code(&["apply", "--parallelism", "0"]), Some(1));
}

#[test]
fn help_and_version_exit_zero() {
    assert_eq!(exit_code(&["--help"]), Some(0));
    assert_eq!(exit_code(&["plan", "--help"]), Some(0));
    assert_eq!(exit_code(&["--version"]), Some(0));
}
