//! Hostile files around wamig's own: a symbolic link or a foreign file where the journal or its
//! lock goes, unreadable or endless code inputs, and `plan --out` aimed at a file it must not
//! overwrite. Nothing outside what wamig created is ever emptied or replaced.

use crate::apply_support::*;
use crate::support::*;

/// Plants `.wamig/<name>` as a symbolic link to a precious file holding `content`, runs apply,
/// and checks it refused (exit 1, naming the link, doing nothing) and left the file alone.
#[cfg(unix)]
fn apply_with_planted_link(name: &str, content: &str) -> String {
    let rig = Rig::new(&manifest(&[ORDERS]));
    let precious = rig.path().join("precious");
    std::fs::write(&precious, content).unwrap();
    std::fs::create_dir_all(rig.path().join(".wamig")).unwrap();
    std::os::unix::fs::symlink(&precious, rig.path().join(".wamig").join(name)).unwrap();

    let output = apply(&rig, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    let err = stderr(&output);
    assert!(err.contains("symbolic link"), "{err}");
    assert!(err.contains("hint: ") && err.contains("rm "), "{err}");
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), content, "the link's target is untouched");
    assert_eq!(writes(&rig), 0, "nothing was done");
    err
}

#[cfg(unix)]
#[test]
fn a_planted_lock_link_is_refused_and_its_target_kept() {
    let err = apply_with_planted_link("state.json.lock", "the only copy\n");
    assert!(err.contains("cannot lock the journal"), "{err}");
}

#[cfg(unix)]
#[test]
fn a_planted_journal_link_is_refused_and_its_target_kept() {
    let err = apply_with_planted_link("state.json", "{\"format_version\": 1}\n");
    assert!(err.contains("cannot read the journal"), "{err}");
}

#[test]
fn a_lock_path_holding_something_else_is_left_as_it_is() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    std::fs::create_dir_all(rig.path().join(".wamig")).unwrap();
    std::fs::write(rig.path().join(".wamig/state.json.lock"), "notes\n").unwrap();
    let output = apply(&rig, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    assert!(stderr(&output).contains("is not a wamig lock file"), "{}", transcript(&output));
    assert_eq!(std::fs::read_to_string(rig.path().join(".wamig/state.json.lock")).unwrap(), "notes\n");
}

#[test]
fn a_code_path_that_cannot_be_read_is_an_input_error_naming_it() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    assert_eq!(apply(&rig, &[]).status.code(), Some(3), "the code is requested");
    // Someone made a directory where the code file goes.
    std::fs::create_dir_all(rig.code_file(ORDERS_DIGITS)).unwrap();
    let output = apply(&rig, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    let out = stdout(&output);
    assert!(out.contains("file .wamig/codes/16315550102 is not valid: it is a directory"), "{out}");
    assert!(!out.contains("waiting for a verification code"), "not told to write what is there: {out}");
    assert_eq!(posts(&rig, "/verify_code"), 0);
}

#[test]
fn a_malformed_code_that_appears_while_waiting_is_an_input_error() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    let running = Running::spawn(apply_command(&rig, &["--wait-for-codes", "5s"]));
    running.wait_for_line("waiting for codes for +16315550102");
    std::fs::create_dir_all(rig.code_file(ORDERS_DIGITS).parent().unwrap()).unwrap();
    std::fs::write(rig.code_file(ORDERS_DIGITS), "12345x\n").unwrap();
    let output = running.finish();
    assert_eq!(output.status.code(), Some(1), "{}", transcript(&output));
    assert!(stdout(&output).contains("is not valid"), "{}", transcript(&output));
    assert!(!stdout(&output).contains("12345x"), "the bad value is not echoed");
    assert_eq!(posts(&rig, "/verify_code"), 0);
}

#[test]
fn plan_out_never_overwrites_the_manifest_the_journal_or_a_file_it_did_not_save() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    assert_eq!(apply(&rig, &[]).status.code(), Some(3), "a journal exists");
    std::fs::write(rig.path().join("notes.txt"), "my notes\n").unwrap();
    let before = |name: &str| std::fs::read(rig.path().join(name)).unwrap();
    let kept = [
        ("wamig.yaml", before("wamig.yaml")),
        (".wamig/state.json", before(".wamig/state.json")),
        ("notes.txt", before("notes.txt")),
    ];
    for (out, says) in [
        ("wamig.yaml", "it is the manifest"),
        ("./.wamig/../wamig.yaml", "it is the manifest"),
        (".wamig/state.json", "it is the journal"),
        ("notes.txt", "the file there is not a saved plan"),
    ] {
        let output = rig.wamig().args(["plan", "--out", out]).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{out}: {}", transcript(&output));
        assert!(stderr(&output).contains(says), "{out}: {}", transcript(&output));
    }
    for (name, bytes) in kept {
        assert_eq!(std::fs::read(rig.path().join(name)).unwrap(), bytes, "{name} is untouched");
    }
    // Its own plan it replaces, as often as asked.
    for _ in 0..2 {
        let output = rig.wamig().args(["plan", "--out", "plan.json"]).output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    }
}
