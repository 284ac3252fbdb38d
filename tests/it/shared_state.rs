//! The journal on a real S3 API (moto on loopback): runners that share nothing but the bucket
//! take turns on one migration, never hold the lock together, never ask for a second code; a
//! killed holder's lease runs out and is taken over; a holder whose lock was taken cannot write;
//! a store that goes away or ignores conditional writes stops wamig before any harm.

use std::time::Duration;

use crate::apply_support::*;
use crate::shared_support::*;
use crate::support::*;

fn state_url(prefix: &str) -> String {
    format!("s3://{BUCKET}/{prefix}")
}

/// The lock's id as `wamig state lock --format json` prints it.
fn lock_id(runner: &Runner, rig: &Rig) -> String {
    let output = runner.wamig(rig).args(["state", "lock", "--format", "json"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    let value: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    value["lock"]["id"].as_str().unwrap().to_owned()
}

#[test]
fn two_runners_on_one_prefix_never_hold_the_lock_together() {
    let Some(moto) = Moto::start() else { return };
    let rig = Rig::new(&manifest(&[ORDERS]));
    let (first, second) = two_runners(&rig, &moto.endpoint(), "two");
    // The first runner's migration call waits in the sandbox while the second one tries.
    let hold = rig.sandbox.hold("POST", "/104996122399160/phone_numbers");
    let running = Running::spawn(first.apply(&rig, &[]));
    wait_held(&rig, hold);

    let refused = second.apply(&rig, &[]).output().unwrap();
    assert_eq!(refused.status.code(), Some(1), "{}", transcript(&refused));
    let err = stderr(&refused);
    assert!(
        err.contains(&format!("error: the journal {} is locked by `wamig apply` by", state_url("two"))),
        "{err}"
    );
    assert!(err.contains(&format!("(pid {})", running.pid())), "names the holder: {err}");
    assert!(err.contains("its lease ends at"), "{err}");
    let id = lock_id(&second, &rig);
    assert!(err.contains(&format!("`wamig state unlock {id}`")), "{err}");
    let shown = second.wamig(&rig).args(["state", "lock"]).output().unwrap();
    assert_eq!(shown.status.code(), Some(0));
    assert!(stdout(&shown).contains(&format!("lock id:     {id}")), "{}", transcript(&shown));

    rig.sandbox.release(hold);
    let output = running.finish();
    assert_eq!(output.status.code(), Some(3), "{}", transcript(&output));
    assert_eq!(posts(&rig, "/104996122399160/phone_numbers"), 1);
    let after = second.wamig(&rig).args(["state", "lock"]).output().unwrap();
    assert!(
        stdout(&after).starts_with(&format!("Nobody holds the lock on {}.", state_url("two"))),
        "{}",
        transcript(&after)
    );
    first.assert_no_local_state();
    second.assert_no_local_state();
    assert_no_credentials(&[&refused, &shown, &output, &after]);
}

#[test]
fn a_migration_paused_on_one_runner_resumes_on_others_with_its_code_and_register_count() {
    let Some(moto) = Moto::start() else { return };
    let rig = Rig::new(&manifest(&[SUPPORT]));
    let runner = || Runner::new(&rig, &moto.endpoint(), &state_url("resume"));

    // Runner A starts the migration and requests the code.
    let a = runner();
    let paused = a.apply(&rig, &[]).output().unwrap();
    assert_eq!(paused.status.code(), Some(3), "{}", transcript(&paused));
    assert!(
        stdout(&paused).contains(&format!("progress saved in {}", state_url("resume"))),
        "{}",
        transcript(&paused)
    );

    // Runner B waits for the code without asking for another; Ctrl-C there releases the lock.
    let b = runner();
    let running = Running::spawn(b.apply(&rig, &["--wait-for-codes", "30s"]));
    running.wait_for_line("waiting for codes for +16315550101");
    running.signal("INT");
    let interrupted = running.finish();
    assert_eq!(interrupted.status.code(), Some(130), "{}", transcript(&interrupted));
    assert_eq!(moto.lock("resume")["status"], "released", "Ctrl-C released the lock");
    assert_eq!(posts(&rig, "/request_code"), 1, "no second code within the cooldown");

    // Runner C has the code: it verifies and registers (Meta refuses the first register while
    // it provisions the display name, so two register calls).
    let c = runner();
    let done = c
        .apply(&rig, &[])
        .env(format!("WAMIG_CODE_{SUPPORT_DIGITS}"), rig.sent_code(SUPPORT_DIGITS))
        .output()
        .unwrap();
    assert_eq!(done.status.code(), Some(0), "{}", transcript(&done));
    assert!(!stderr(&done).contains("took over"), "{}", transcript(&done));

    // Runner D sees what the others did.
    let d = runner();
    let status = d.wamig(&rig).arg("status").output().unwrap();
    assert!(stdout(&status).contains("code requested 1 time(s)"), "{}", transcript(&status));
    assert!(stdout(&status).contains("register attempts 2 in the last 72 h"), "{}", transcript(&status));
    assert_eq!(posts(&rig, "/request_code"), 1, "one code in all");
    assert_eq!(posts(&rig, "/register"), 2);
    let record = &moto.journal("resume")["numbers"]["+16315550101"];
    assert_eq!(record["register_attempts"].as_array().map(Vec::len), Some(2));
    let plan = d.wamig(&rig).args(["plan", "--detailed-exitcode"]).output().unwrap();
    assert_eq!(plan.status.code(), Some(0), "{}", transcript(&plan));
    for runner in [&a, &b, &c, &d] {
        runner.assert_no_local_state();
    }
    assert_no_credentials(&[&paused, &interrupted, &done, &status, &plan]);
}

#[test]
fn sigterm_releases_the_shared_lock_as_ctrl_c_does() {
    let Some(moto) = Moto::start() else { return };
    let rig = Rig::new(&manifest(&[ORDERS]));
    let (a, b) = two_runners(&rig, &moto.endpoint(), "term");
    // What a CI runner sends when the job is cancelled, while apply waits for the code.
    let running = Running::spawn(a.apply(&rig, &["--wait-for-codes", "30s"]));
    running.wait_for_line("waiting for codes for +16315550102");
    running.signal("TERM");
    let terminated = running.finish();
    assert_eq!(terminated.status.code(), Some(143), "{}", transcript(&terminated));
    assert_eq!(moto.lock("term")["status"], "released");
    let next = b.apply(&rig, &[]).output().unwrap();
    assert_eq!(next.status.code(), Some(3), "{}", transcript(&next));
    assert!(!stderr(&next).contains("took over"), "nothing was left to take over: {}", transcript(&next));
    assert_eq!(posts(&rig, "/request_code"), 1);
    assert_no_credentials(&[&terminated, &next]);
}

fn two_runners(rig: &Rig, endpoint: &str, prefix: &str) -> (Runner, Runner) {
    (Runner::new(rig, endpoint, &state_url(prefix)), Runner::new(rig, endpoint, &state_url(prefix)))
}

/// Until `wamig state lock` says the holder's lease has ended.
fn wait_for_lease_end(rig: &Rig, runner: &Runner) {
    wait_until("the holder's lease ends", || {
        let output = runner.wamig(rig).args(["state", "lock", "--format", "json"]).output().unwrap();
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()["lease_expired"] == true
    });
}

/// An apply on `runner` with the code, its verification held in the sandbox once it arrives
/// (after the journal recorded the attempt); the migration was started and the code requested
/// by a first apply.
fn verifying_held(rig: &Rig, runner: &Runner, extra: &[&str]) -> (Running, u64) {
    let id = started_with_code(rig, runner);
    let hold = rig.sandbox.hold("POST", &format!("/{id}/verify_code"));
    let mut command = runner.apply(rig, extra);
    command.env(format!("WAMIG_CODE_{ORDERS_DIGITS}"), rig.sent_code(ORDERS_DIGITS));
    let running = Running::spawn(command);
    wait_held(rig, hold);
    (running, hold)
}

/// Runs a first apply on `runner` (migration started, code requested) and returns the number's
/// id, for holding its verification in the sandbox.
fn started_with_code(rig: &Rig, runner: &Runner) -> String {
    let first = runner.apply(rig, &[]).output().unwrap();
    assert_eq!(first.status.code(), Some(3), "{}", transcript(&first));
    let shown = runner.wamig(rig).args(["state", "show", "--format", "json"]).output().unwrap();
    let journal: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    journal["numbers"]["+16315550102"]["phone_number_id"].as_str().unwrap().to_owned()
}

#[test]
fn a_killed_holder_lease_runs_out_and_the_next_apply_takes_over() {
    let Some(moto) = Moto::start() else { return };
    let rig = Rig::new(&manifest(&[ORDERS]));
    let (a, b) = two_runners(&rig, &moto.endpoint(), "killed");
    set_latency(&rig, 150);
    // A lease long enough that the next apply surely finds it running, short enough to wait for.
    let running = Running::spawn(a.apply(&rig, &["--lock-lease", "5s"]));
    running.wait_for_line("starting the migration");
    let pid = running.pid();
    running.signal("KILL");
    let killed = running.finish();
    assert_eq!(killed.status.code(), None, "{}", transcript(&killed));
    std::thread::sleep(Duration::from_millis(200));
    set_latency(&rig, 0);

    let early = b.apply(&rig, &[]).output().unwrap();
    assert_eq!(early.status.code(), Some(1), "the lease still runs: {}", transcript(&early));
    wait_for_lease_end(&rig, &b);
    let shown = b.wamig(&rig).args(["state", "lock"]).output().unwrap();
    assert!(stdout(&shown).contains("the next apply takes it over"), "{}", transcript(&shown));

    let resumed = b.apply(&rig, &[]).output().unwrap();
    assert_eq!(resumed.status.code(), Some(3), "{}", transcript(&resumed));
    let err = stderr(&resumed);
    assert!(
        err.contains(&format!("took over the lock on {} left by `wamig apply`", state_url("killed"))),
        "{err}"
    );
    assert!(err.contains(&format!("(pid {pid})")) && err.contains("its lease ended at"), "{err}");
    assert_eq!(posts(&rig, "/104996122399160/phone_numbers"), 1, "the migration started once");
    assert_eq!(posts(&rig, "/request_code"), 1);
    assert_eq!(moto.lock("killed")["status"], "released");
    assert_no_credentials(&[&killed, &early, &shown, &resumed]);
}

#[test]
fn a_holder_whose_lock_was_taken_cannot_write_and_nothing_it_recorded_is_lost() {
    let Some(moto) = Moto::start() else { return };
    let rig = Rig::new(&manifest(&[ORDERS]));
    let (a, b) = two_runners(&rig, &moto.endpoint(), "fenced");
    // A records the verification it is about to make, then its call waits in the sandbox
    // while someone force-unlocks the journal.
    let (running, hold) = verifying_held(&rig, &a, &[]);
    assert_eq!(
        moto.journal("fenced")["numbers"]["+16315550102"]["verify_attempts"],
        1,
        "recorded before the call"
    );
    let lock = lock_id(&b, &rig);
    let unlocked = b.wamig(&rig).args(["state", "unlock", &lock]).output().unwrap();
    assert_eq!(unlocked.status.code(), Some(0), "{}", transcript(&unlocked));
    assert!(
        stdout(&unlocked)
            .starts_with(&format!("Unlocked {}: it was held by `wamig apply`", state_url("fenced"))),
        "{}",
        transcript(&unlocked)
    );
    let wrong = b.wamig(&rig).args(["state", "unlock", &lock]).output().unwrap();
    assert!(stdout(&wrong).contains("nothing to unlock"), "{}", transcript(&wrong));

    rig.sandbox.release(hold);
    let fenced = running.finish();
    assert_eq!(fenced.status.code(), Some(1), "{}", transcript(&fenced));
    let err = stderr(&fenced);
    assert!(
        err.contains(&format!("error: this process may no longer write the journal {}", state_url("fenced"))),
        "{err}"
    );
    assert!(err.contains("its lock was force-unlocked by `wamig state unlock` by"), "{err}");
    assert!(err.contains("hint: another wamig holds the journal now"), "{err}");
    assert_eq!(posts(&rig, "/register"), 0, "no call after a refused write");
    let record = &moto.journal("fenced")["numbers"]["+16315550102"];
    assert_eq!(record["verify_attempts"], 1, "what it recorded before is kept: {record}");
    assert!(record.get("verified_at").is_none(), "its refused write did not land: {record}");
    assert_eq!(moto.lock("fenced")["status"], "released", "its release left the lock alone");

    // The number is verified live: the next apply registers it, with no code and no request.
    let resumed = b.apply(&rig, &[]).output().unwrap();
    assert_eq!(resumed.status.code(), Some(0), "{}", transcript(&resumed));
    assert_eq!(posts(&rig, "/verify_code"), 1);
    assert_eq!(posts(&rig, "/request_code"), 1);
    assert_eq!(posts(&rig, "/register"), 1);
    assert_no_credentials(&[&unlocked, &wrong, &fenced, &resumed]);
}

#[test]
fn the_store_going_away_mid_apply_stops_it_before_the_next_call_with_nothing_lost() {
    let Some(moto) = Moto::start() else { return };
    let proxy = Proxy::start(moto.port, Mode::Pass);
    let rig = Rig::new(&manifest(&[ORDERS]));
    let (a, b) = two_runners(&rig, &proxy.endpoint(), "down");
    let (running, hold) = verifying_held(&rig, &a, &["--lock-lease", "2s"]);
    proxy.set(Mode::Down);
    rig.sandbox.release(hold);
    let stopped = running.finish();
    assert_eq!(stopped.status.code(), Some(1), "{}", transcript(&stopped));
    let err = stderr(&stopped);
    assert!(err.contains(&format!("error: cannot write journal.json in {}:", state_url("down"))), "{err}");
    assert!(err.contains("hint: check the bucket exists"), "{err}");
    assert!(
        err.contains("cannot release the lock on") && err.contains("it frees itself when its lease ends at"),
        "{err}"
    );
    assert_eq!(posts(&rig, "/register"), 0, "no call after a write that failed");

    proxy.set(Mode::Pass);
    let record = &moto.journal("down")["numbers"]["+16315550102"];
    assert_eq!(record["verify_attempts"], 1, "recorded before the call: {record}");
    wait_for_lease_end(&rig, &b);
    let resumed = b.apply(&rig, &[]).output().unwrap();
    assert_eq!(resumed.status.code(), Some(0), "{}", transcript(&resumed));
    assert!(stderr(&resumed).contains("took over the lock"), "{}", transcript(&resumed));
    assert_eq!(posts(&rig, "/request_code"), 1, "no second code");
    assert_eq!(posts(&rig, "/register"), 1);
    assert_no_credentials(&[&stopped, &resumed]);
}

#[test]
fn a_store_that_ignores_conditional_writes_is_refused_before_any_call() {
    let Some(moto) = Moto::start() else { return };
    let proxy = Proxy::start(moto.port, Mode::StripConditions);
    let rig = Rig::new(&manifest(&[ORDERS]));
    let runner = Runner::new(&rig, &proxy.endpoint(), &state_url("unsafe"));
    let refused = runner.apply(&rig, &[]).output().unwrap();
    assert_eq!(refused.status.code(), Some(1), "{}", transcript(&refused));
    with_filters(&rig.filters(), || insta::assert_snapshot!(transcript(&refused)));
    assert_eq!(writes(&rig), 0, "nothing was done");
    assert!(moto.object("unsafe/lock.json").is_none() && moto.object("unsafe/store-check.json").is_none());

    // The same prefix through a store that honours them is checked once, and the pass kept.
    let honest = Runner::new(&rig, &moto.endpoint(), &state_url("unsafe"));
    let output = honest.apply(&rig, &[]).output().unwrap();
    assert_eq!(output.status.code(), Some(3), "{}", transcript(&output));
    assert!(moto.object("unsafe/store-check.json").is_some());
    assert_no_credentials(&[&refused, &output]);
}

#[test]
fn a_local_journal_pushed_to_the_store_carries_on_there() {
    let Some(moto) = Moto::start() else { return };
    let rig = Rig::new(&manifest(&[ORDERS]));
    let local = apply(&rig, &[]);
    assert_eq!(local.status.code(), Some(3), "{}", transcript(&local));
    let runner = Runner::new(&rig, &moto.endpoint(), &state_url("pushed"));
    let push = |extra: &[&str]| {
        let mut command = runner.wamig(&rig);
        command
            .env_remove("WAMIG_STATE")
            .current_dir(rig.path())
            .args(["state", "push", &state_url("pushed")])
            .args(extra);
        command.output().unwrap()
    };
    let pushed = push(&[]);
    assert_eq!(pushed.status.code(), Some(0), "{}", transcript(&pushed));
    assert!(
        stdout(&pushed)
            .starts_with(&format!("Copied .wamig/state.json (1 number) to {}", state_url("pushed"))),
        "{}",
        transcript(&pushed)
    );
    let again = push(&[]);
    assert_eq!(again.status.code(), Some(1), "{}", transcript(&again));
    assert!(
        stderr(&again).contains("already holds a journal with 1 number; nothing was copied"),
        "{}",
        transcript(&again)
    );
    assert_eq!(push(&["--force"]).status.code(), Some(0));

    let shown = runner.wamig(&rig).args(["state", "show", "--format", "json"]).output().unwrap();
    let local_journal: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rig.path().join(".wamig/state.json")).unwrap())
            .unwrap();
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&shown.stdout).unwrap(), local_journal);
    let text = runner.wamig(&rig).args(["state", "show"]).output().unwrap();
    assert!(stdout(&text).contains("code requested 1 time(s), last by SMS"), "{}", transcript(&text));

    let done = runner
        .apply(&rig, &[])
        .env(format!("WAMIG_CODE_{ORDERS_DIGITS}"), rig.sent_code(ORDERS_DIGITS))
        .output()
        .unwrap();
    assert_eq!(done.status.code(), Some(0), "{}", transcript(&done));
    assert_eq!(posts(&rig, "/request_code"), 1, "the pushed journal's code request was honoured");
    runner.assert_no_local_state();
    assert_no_credentials(&[&pushed, &again, &shown, &text, &done]);
}
