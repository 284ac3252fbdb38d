//! A WABA's Graph budget: Meta charges calls on a WABA to its hourly budget and answers 80008
//! when it is spent. apply waits for it within `--max-wait`, and beyond that pauses the WABA's
//! numbers with exit 3, naming the WABA and when to come back.

use crate::apply_support::*;
use crate::support::*;

fn world_with_budget(calls_per_hour: u32) -> String {
    let world = std::fs::read_to_string(repo_root().join("examples/sandbox/world.yaml")).unwrap();
    world
        .replacen("    calls_per_hour: 200\n", &format!("    calls_per_hour: {calls_per_hour}\n"), 1)
        .replacen(
            "    calls_per_hour_active: 5000\n",
            &format!("    calls_per_hour_active: {calls_per_hour}\n"),
            1,
        )
}

#[test]
fn a_spent_budget_pauses_the_waba_with_exit_3_and_says_when_to_run_again() {
    let rig = Rig::with_world(&world_with_budget(2), &manifest(&[ORDERS]));
    let output = apply(&rig, &["--max-wait", "2s"]);
    assert_eq!(output.status.code(), Some(3), "{}", transcript(&output));
    let out = stdout(&output);
    assert!(out.contains("paused"), "{out}");
    assert!(out.contains("WABA 104996122399160's Graph budget is spent until"), "{out}");
    assert!(out.contains("run wamig apply again after that"), "{out}");
    // Meta is not asked again and again while the budget is spent: wamig sees it spent in the
    // usage Meta reports, or is told once.
    let throttled = rig.sandbox.requests().iter().filter(|r| r.error_code == Some(80008)).count();
    assert!(throttled <= 1, "{throttled} 80008 answers: wamig waits or pauses after the first");
    let filters =
        [rig.filters(), vec![(r"until \d\d:\d\d UTC".to_owned(), "until [HH:MM] UTC".to_owned())]].concat();
    with_filters(&filters, || insta::assert_snapshot!("budget_paused", summary(&output)));
}
