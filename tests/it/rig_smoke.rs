//! The rig itself works: the example world answers and a plan can be made against it.

use crate::support::{DESTINATION_WABA, Rig, SOURCE_WABA, transcript, with_filters};

#[test]
fn a_plan_against_the_example_world() {
    let rig = Rig::new(&format!(
        "version: 1\ndefaults:\n  pin: {{ env: WAMIG_PIN }}\ndestinations:\n  - waba: \"{DESTINATION_WABA}\"\n    numbers:\n      - phone: \"+1 631-555-0102\"\n        source_waba: \"{SOURCE_WABA}\"\n"
    ));
    let output = rig.wamig().args(["plan", "--detailed-exitcode"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", transcript(&output));
    with_filters(&rig.filters(), || insta::assert_snapshot!(transcript(&output)));
}
