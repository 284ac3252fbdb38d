//! `wamig validate` on every bad manifest under tests/manifests/bad: each must exit 1 with a
//! rendered error naming file, line and column and ending with a hint; never a panic.

use crate::support::{repo_root, transcript, wamig};

fn bad_dir() -> std::path::PathBuf {
    repo_root().join("tests/manifests/bad")
}

fn bad_manifests() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(bad_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yaml"))
        .collect();
    names.sort();
    names
}

#[test]
fn there_are_at_least_thirty_bad_manifests() {
    assert!(bad_manifests().len() >= 30, "only {} bad manifests", bad_manifests().len());
}

#[test]
fn every_bad_manifest_is_rejected_with_a_located_error_and_a_hint() {
    for name in bad_manifests() {
        let output = wamig(&bad_dir()).args(["validate", "-f", &name]).output().unwrap();
        let text = transcript(&output);
        assert_eq!(output.status.code(), Some(1), "{name}:\n{text}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.starts_with("error: "), "{name}:\n{text}");
        assert!(stderr.contains(&format!("{name}:")), "{name} is not named with a position:\n{text}");
        assert!(stderr.contains("\nhint: "), "{name} has no hint:\n{text}");
        assert!(!stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"), "{name}:\n{text}");
        assert!(output.stdout.is_empty(), "{name}:\n{text}");
        insta::assert_snapshot!(format!("validate_bad__{}", name.trim_end_matches(".yaml")), text);
    }
}

#[test]
fn a_literal_pin_is_never_echoed() {
    for name in ["literal-pin.yaml", "pin-env-name-invalid.yaml"] {
        let output = wamig(&bad_dir()).args(["validate", "-f", name]).output().unwrap();
        let text = transcript(&output);
        assert!(!text.contains("483920"), "{name} echoed the PIN:\n{text}");
    }
}

#[test]
fn a_missing_manifest_says_how_to_point_at_one() {
    let output = wamig(&bad_dir()).args(["validate", "-f", "does-not-exist.yaml"]).output().unwrap();
    insta::assert_snapshot!(transcript(&output));
}

#[test]
fn a_directory_is_not_a_manifest() {
    let output = wamig(&repo_root()).args(["validate", "-f", "tests"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("hint: "));
}

#[test]
fn the_manifest_path_comes_from_wamig_manifest() {
    let output =
        wamig(&repo_root()).arg("validate").env("WAMIG_MANIFEST", "examples/minimal.yaml").output().unwrap();
    assert_eq!(
        transcript(&output),
        "exit: 0\n--- stdout ---\nexamples/minimal.yaml is valid: 1 destination, 1 number\n--- stderr ---\n"
    );
}

#[test]
fn color_is_used_only_when_asked() {
    let plain = wamig(&bad_dir()).args(["validate", "-f", "phone-too-short.yaml"]).output().unwrap();
    assert!(!String::from_utf8_lossy(&plain.stderr).contains('\u{1b}'));
    let coloured = wamig(&bad_dir())
        .args(["--color", "always", "validate", "-f", "phone-too-short.yaml"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&coloured.stderr).contains('\u{1b}'));
}
