//! SIGTERM, what CI runners send when a job is cancelled, is handled like Ctrl-C: the call in
//! flight finishes, progress is saved, the lock released, the summary printed, exit 143. A
//! second stop of either kind ends the process at once, with the journal whole.

use crate::apply_support::*;
use crate::support::*;

const INITIATE: &str = "/104996122399160/phone_numbers";

/// An apply whose migration call is held by the sandbox (the hold's id returned) when SIGTERM
/// reaches it, once it has said it is winding down.
fn terminated_while_starting_the_migration(rig: &Rig) -> (Running, u64) {
    let hold = rig.sandbox.hold("POST", INITIATE);
    let running = Running::spawn(apply_command(rig, &[]));
    wait_held(rig, hold);
    running.signal("TERM");
    running.wait_for_line("terminated: finishing the calls in flight");
    (running, hold)
}

#[test]
fn sigterm_lets_the_call_in_flight_finish_saves_progress_and_exits_143() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    let (running, hold) = terminated_while_starting_the_migration(&rig);
    rig.sandbox.release(hold);
    let output = running.finish();
    assert_eq!(output.status.code(), Some(143), "{}", transcript(&output));
    assert!(
        stderr(&output).contains("migration started"),
        "the call in flight finished: {}",
        transcript(&output)
    );
    assert!(stdout(&output).contains("Apply summary"), "the summary is printed: {}", transcript(&output));
    assert!(stdout(&output).contains("+16315550102  interrupted"), "{}", transcript(&output));
    assert!(rig.journal()["numbers"]["+16315550102"]["initiated_at"].is_string(), "progress saved");
    let lock = std::fs::read_to_string(rig.path().join(".wamig/state.json.lock")).unwrap_or_default();
    assert!(lock.is_empty(), "the lock was released: {lock}");
    assert_eq!(posts(&rig, "/request_code"), 0, "nothing after the stop");

    let resumed = apply(&rig, &[]);
    assert_eq!(resumed.status.code(), Some(3), "{}", transcript(&resumed));
    assert!(!stderr(&resumed).contains("took over"), "a clean stop leaves no lock to take over");
}

#[test]
fn a_second_stop_ends_at_once_with_the_journal_whole() {
    let rig = Rig::new(&manifest(&[ORDERS]));
    let (running, hold) = terminated_while_starting_the_migration(&rig);
    // The call in flight never finishes: only the second stop can end the run.
    running.signal("INT");
    let output = running.finish();
    assert_eq!(output.status.code(), Some(130), "{}", transcript(&output));
    assert!(stderr(&output).contains("interrupted again: ending now"), "{}", transcript(&output));
    let journal = std::fs::read_to_string(rig.path().join(".wamig/state.json")).unwrap_or_default();
    if !journal.is_empty() {
        let value: serde_json::Value = serde_json::from_str(&journal).expect("the journal is whole JSON");
        assert_eq!(value["format_version"], 1);
    }

    rig.sandbox.release(hold);
    let rerun = apply(&rig, &[]);
    assert_eq!(rerun.status.code(), Some(3), "the next run goes on from live state: {}", transcript(&rerun));
    assert_eq!(posts_applied(&rig, INITIATE), 1, "the migration started once");
}
