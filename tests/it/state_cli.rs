//! `wamig state` on a local journal, and `--state` values that look like URLs wamig does not
//! serve: no object store needed.

use crate::apply_support::*;
use crate::support::*;

#[test]
fn a_url_like_state_with_an_unknown_scheme_or_a_bad_shape_is_an_error_not_a_path() {
    let dir = tempfile::tempdir().unwrap();
    let mut transcripts = String::new();
    for value in [
        "s3:/acme-wamig/prod",
        "file:///tmp/state.json",
        "s3://Acme/prod",
        "s3://key:canary-secret@acme-wamig/prod",
    ] {
        let output = wamig(dir.path()).args(["state", "show"]).env("WAMIG_STATE", value).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{value}: {}", transcript(&output));
        transcripts.push_str(&format!("$ wamig state show\n{}\n", transcript(&output)));
    }
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "nothing was written as a path");
    assert!(!transcripts.contains("canary-secret"), "a password in the URL is never shown");
    insta::assert_snapshot!(transcripts);
}

#[test]
fn state_show_and_lock_on_a_local_journal() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    let nobody = rig.wamig().args(["state", "lock"]).output().unwrap();
    assert_eq!(
        (nobody.status.code(), stdout(&nobody).as_str()),
        (Some(0), "Nobody holds the lock on .wamig/state.json.\n")
    );
    assert!(!rig.path().join(".wamig").exists(), "looking leaves nothing behind");

    let hold = rig.sandbox.hold("POST", "/104996122399160/phone_numbers");
    let running = Running::spawn(apply_command(&rig, &[]));
    wait_held(&rig, hold);
    let held = rig.wamig().args(["state", "lock", "--format", "json"]).output().unwrap();
    assert_eq!(held.status.code(), Some(0), "{}", transcript(&held));
    let value: serde_json::Value = serde_json::from_slice(&held.stdout).unwrap();
    assert_eq!(value["locked"], true);
    assert!(
        value["holder"].as_str().unwrap().contains(&format!("`wamig apply` (pid {}", running.pid())),
        "{value}"
    );
    rig.sandbox.release(hold);
    assert_eq!(running.finish().status.code(), Some(3));

    let shown = rig.wamig().args(["state", "show"]).output().unwrap();
    assert_eq!(shown.status.code(), Some(0), "{}", transcript(&shown));
    let mut filters = rig.filters();
    filters.push((r"id:       \d+".into(), "id:       [ID]".into()));
    with_filters(&filters, || insta::assert_snapshot!(transcript(&shown)));
    let json = rig.wamig().args(["state", "show", "--format", "json"]).output().unwrap();
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&json.stdout).unwrap(), rig.journal());
}

#[test]
fn unlock_and_push_say_what_they_need() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    let unlock = rig.wamig().args(["state", "unlock", "0123"]).output().unwrap();
    assert_eq!(unlock.status.code(), Some(1));
    assert!(stderr(&unlock).contains("has no lock to force"), "{}", transcript(&unlock));
    let nothing = rig.wamig().args(["state", "push", "s3://acme-wamig/prod"]).output().unwrap();
    assert_eq!(nothing.status.code(), Some(1));
    assert!(
        stderr(&nothing).contains("there is no local journal at .wamig/state.json"),
        "{}",
        transcript(&nothing)
    );
    let to_a_path = rig.wamig().args(["state", "push", "elsewhere.json"]).output().unwrap();
    assert!(
        stderr(&to_a_path).contains("copies into a shared journal, and elsewhere.json is a path"),
        "{}",
        transcript(&to_a_path)
    );
}
