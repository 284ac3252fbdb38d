//! The committed JSON Schema matches the manifest types.

use crate::support::{repo_root, wamig};

#[test]
fn committed_schema_is_up_to_date() {
    let committed = std::fs::read_to_string(repo_root().join("schemas/manifest.schema.json")).unwrap();
    assert_eq!(
        committed,
        wamig::manifest::model::json_schema_text(),
        "schemas/manifest.schema.json is stale: run `cargo run -- schema > schemas/manifest.schema.json`"
    );
}

#[test]
fn schema_check_passes_in_the_repository_and_fails_on_a_stale_copy() {
    let output = wamig(&repo_root()).args(["schema", "--check"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("schemas")).unwrap();
    std::fs::write(dir.path().join("schemas/manifest.schema.json"), "{}\n").unwrap();
    let output = wamig(dir.path()).args(["schema", "--check"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("out of date") && stderr.contains("hint: "), "{stderr}");
}
