//! What import decides and writes, from hand-built snapshots: every manifest it writes is read
//! back by the manifest loader and planned against the same snapshot.

use std::path::Path;

use super::*;
use crate::manifest::LoadedManifest;
use crate::observe::NumberView;
use crate::plan::Action;
use crate::plan::fixtures::{
    DEST, SOURCE, World, initiated_number, live_number, migrated_number, verified_number,
};

fn keep(ids: &[&str]) -> Selection {
    Selection::Keep(ids.iter().map(|s| (*s).to_owned()).collect())
}

fn moves(pairs: &[(&str, &str)]) -> Selection {
    Selection::Move(pairs.iter().map(|(s, d)| ((*s).to_owned(), (*d).to_owned())).collect())
}

fn named(number: NumberView, name: &str) -> NumberView {
    NumberView { verified_name: Some(name.into()), ..number }
}

/// Writes, reads back as `wamig validate` would, and plans what was read against the snapshot.
fn round_trip(world: &World, selection: &Selection) -> (String, LoadedManifest, Plan) {
    let imported = build(selection, &world.snapshot, None).expect("import builds");
    let text = write::render(&imported);
    let loaded = crate::manifest::parse(&text, Path::new("wamig.yaml"))
        .unwrap_or_else(|e| panic!("{:?}\n{text}", e.diagnostics()));
    let plan = crate::plan::plan(
        &loaded.desired,
        &loaded.digest,
        &world.snapshot,
        &world.journal,
        jiff::Timestamp::UNIX_EPOCH,
    );
    (text, loaded, plan)
}

#[test]
fn numbers_kept_where_they_live_plan_in_sync() {
    let mut world = World::new();
    world
        .list(DEST, named(live_number("+1 631-555-0199", "7001"), "Acme Cloud"))
        .list(DEST, named(verified_number("+44 20 7946 0958", "7002"), "Acme UK"))
        .list(DEST, named(initiated_number("+1 631-555-0150", "7003"), "Acme Outlet"))
        .list(DEST, migrated_number("+1 631-555-0111", "7004"));
    let (text, loaded, plan) = round_trip(&world, &keep(&[DEST]));
    insta::assert_snapshot!("keep", text);
    assert_eq!(loaded.desired.numbers.len(), 2, "the pending and the MIGRATED listings are not written");
    assert!(plan.numbers.iter().all(|n| n.action == Action::InSync), "{plan:#?}");
    assert!(!plan.has_changes() && !plan.has_blocked());
    let uk = loaded.desired.numbers.iter().find(|n| n.phone.e164() == "+442079460958").unwrap();
    assert!(!uk.register, "a number not registered today is written with register: false");
    assert!(text.contains("# - phone: \"+16315550150\""), "the pending number is commented out");
}

#[test]
fn moves_leave_out_numbers_that_cannot_move_with_the_planners_reasons() {
    let mut world = World::new();
    let mut two_step = live_number("+1 631-555-0105", "6005");
    two_step.is_pin_enabled = Some(true);
    let mut test_number = live_number("+1 631-555-0106", "6006");
    test_number.account_mode = Some("SANDBOX".into());
    let mut declined = live_number("+1 631-555-0104", "6004");
    declined.name_status = Some("DECLINED".into());
    let mut pending_name = live_number("+1 631-555-0107", "6007");
    pending_name.new_name_status = Some("PENDING_REVIEW".into());
    let mut biz_app = live_number("+1 631-555-0108", "6008");
    biz_app.is_on_biz_app = Some(true);
    let mut unregistered = live_number("+1 631-555-0102", "6002");
    unregistered.platform_type = Some("NOT_APPLICABLE".into());
    world
        .list(SOURCE, live_number("+1 631-555-0101", "6001"))
        .list(SOURCE, unregistered)
        .list(SOURCE, declined)
        .list(SOURCE, two_step)
        .list(SOURCE, test_number)
        .list(SOURCE, pending_name)
        .list(SOURCE, biz_app);
    let (text, loaded, plan) = round_trip(&world, &moves(&[(SOURCE, DEST)]));
    insta::assert_snapshot!("moves", text);
    let written: Vec<String> = loaded.desired.numbers.iter().map(|n| n.phone.e164()).collect();
    assert_eq!(written, ["+16315550101", "+16315550102"]);
    assert!(plan.numbers.iter().all(|n| n.action == Action::Migrate), "{plan:#?}");
    assert!(loaded.desired.numbers.iter().all(|n| n.source_waba.as_deref() == Some(SOURCE)));
    for phone in ["0104", "0105", "0106", "0107", "0108"] {
        assert!(text.contains(&format!("# - phone: \"+1631555{phone}\"")), "{phone} commented out");
        assert!(plan.number(&format!("+1631555{phone}")).is_none(), "{phone} is not planned");
    }
    assert!(text.contains("#   fix: turn off two-step verification in WhatsApp Manager"), "{text}");
}

#[test]
fn destination_checks_do_not_take_numbers_out_but_are_warned_about() {
    let mut world = World::new();
    world.waba(DEST).payment_method = crate::observe::Presence::Absent;
    world.list(SOURCE, live_number("+1 631-555-0101", "6001"));
    let imported = build(&moves(&[(SOURCE, DEST)]), &world.snapshot, None).unwrap();
    assert!(imported.entries().all(Entry::is_written));
    assert_eq!(imported.warnings.len(), 1, "{:?}", imported.warnings);
    assert!(imported.warnings[0].starts_with("destination.payment_method:"), "{:?}", imported.warnings);
}

#[test]
fn graph_names_cannot_break_the_yaml() {
    let mut world = World::new();
    let name = "Acme \"Prod\": #1\n- waba: \"999\"\u{2028}\\ end";
    world.waba(DEST).name = Some(name.into());
    world.list(DEST, named(live_number("+1 631-555-0199", "7001"), "Evil\n  numbers: []\r# x"));
    let (text, loaded, _) = round_trip(&world, &keep(&[DEST]));
    assert_eq!(loaded.desired.destinations.len(), 1, "{text}");
    assert_eq!(loaded.desired.destinations[0].name.as_deref(), Some(name), "{text}");
    assert_eq!(loaded.desired.numbers.len(), 1, "{text}");
    assert!(text.contains("# Evil   numbers: [] # x"), "{text}");
}

#[test]
fn a_destination_named_in_two_pairs_gets_both_sources() {
    let mut world = World::new();
    world.put(crate::plan::fixtures::waba("103000000000001", "outlet"));
    world.list(SOURCE, live_number("+1 631-555-0102", "6002"));
    world.list("103000000000001", live_number("+1 631-555-0101", "6001"));
    let selection = moves(&[(SOURCE, DEST), ("103000000000001", DEST)]);
    let (text, loaded, _) = round_trip(&world, &selection);
    assert_eq!(loaded.desired.destinations.len(), 1, "{text}");
    let sources: Vec<_> = loaded.desired.numbers.iter().map(|n| n.source_waba.clone().unwrap()).collect();
    assert_eq!(sources, ["103000000000001", SOURCE], "in E.164 order");
}

#[test]
fn unreadable_wabas_are_errors_naming_them() {
    let mut world = World::new();
    world.put(crate::plan::fixtures::unreadable("201000000000001", "(#100) Unsupported get request"));
    let error = build(&keep(&[DEST, "201000000000001", "999"]), &world.snapshot, None).unwrap_err();
    let text = error.to_string();
    assert!(text.starts_with("WABAs 201000000000001, 999 cannot be read by this token"), "{text}");
    assert!(error.diagnostics()[0].hint.as_deref().unwrap().contains("System users"));
}

#[test]
fn nothing_to_write_is_an_error_with_the_reasons() {
    let mut world = World::new();
    let error = build(&keep(&[DEST]), &world.snapshot, None).unwrap_err();
    assert!(error.to_string().contains("list no phone numbers"), "{error}");
    let mut two_step = live_number("+1 631-555-0105", "6005");
    two_step.is_pin_enabled = Some(true);
    world.list(SOURCE, two_step);
    let error = build(&moves(&[(SOURCE, DEST)]), &world.snapshot, None).unwrap_err();
    let hint = error.diagnostics()[0].hint.clone().unwrap();
    assert!(hint.contains("+16315550105 (two-step verification is on"), "{hint}");
}

#[test]
fn the_command_line_is_checked_before_any_request() {
    let ids = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        Selection::from_args(&ids(&["1", "2", "1"]), &[], &[]).unwrap(),
        keep(&["1", "2"]),
        "repeats are dropped"
    );
    assert_eq!(
        Selection::from_args(&[], &ids(&["1", "3"]), &ids(&["2", "2"])).unwrap(),
        moves(&[("1", "2"), ("3", "2")])
    );
    let error =
        |w: &[&str], f: &[&str], t: &[&str]| Selection::from_args(&ids(w), &ids(f), &ids(t)).unwrap_err();
    assert!(matches!(error(&["acme"], &[], &[]), ImportError::NotAnId { flag: "--waba", .. }));
    assert!(matches!(error(&[], &["1"], &[]), ImportError::Unpaired { from: 1, to: 0 }));
    assert!(matches!(error(&[], &["1"], &["1"]), ImportError::SameWaba { .. }));
    assert!(matches!(error(&[], &["1", "1"], &["2", "3"]), ImportError::SourceTwice { .. }));
    assert!(matches!(error(&["1"], &["1"], &["2"]), ImportError::Mixed));
    assert!(matches!(error(&[], &[], &[]), ImportError::NothingSelected));
}

#[test]
fn quoting_reads_back_verbatim() {
    for text in
        ["plain", "with \"quotes\" and \\", "tab\tnew\nline", "nel\u{85}ls\u{2028}bom\u{feff}", "ünïcødé 📞"]
    {
        let yaml = format!("value: {}\n", write::quote(text));
        let value: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(value["value"].as_str(), Some(text), "{yaml}");
    }
}

#[test]
fn a_version_chosen_on_the_command_line_is_pinned() {
    let mut world = World::new();
    world.list(DEST, live_number("+1 631-555-0199", "7001"));
    let imported = build(&keep(&[DEST]), &world.snapshot, Some("v24.0".into())).unwrap();
    let loaded = crate::manifest::parse(&write::render(&imported), Path::new("wamig.yaml")).unwrap();
    assert_eq!(loaded.desired.api_version.as_deref(), Some("v24.0"));
}
