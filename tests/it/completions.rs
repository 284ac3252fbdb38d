//! `wamig completions SHELL` prints a script that knows wamig's commands.

use crate::support::wamig;

#[test]
fn every_shell_gets_a_script_naming_the_commands() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let output = wamig(dir.path()).args(["completions", shell]).output().unwrap();
        assert!(output.status.success(), "{shell}: {}", String::from_utf8_lossy(&output.stderr));
        let script = String::from_utf8(output.stdout).unwrap();
        assert!(!script.trim().is_empty(), "{shell}: empty script");
        assert!(script.contains("wamig"), "{shell}: does not name wamig");
        for command in ["plan", "apply", "sandbox", "demo"] {
            assert!(script.contains(command), "{shell}: does not mention {command}");
        }
    }
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = wamig(dir.path()).args(["completions", "tcsh"]).output().unwrap();
    // Exit 1, as for any bad input: 2 is "the plan has changes".
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("possible values"));
}
