//! The sandbox's Graph behaviours beyond the documentation, each switched on in a world of its
//! own: read lag after writes, ...

use serde_json::Value;

use super::*;

fn world_with(change: impl FnOnce(&mut World)) -> State {
    let mut world = example();
    change(&mut world);
    State::new(&world, 7)
}

fn at(seconds: u64) -> PageCtx {
    PageCtx { now: t0() + Duration::from_secs(seconds), ..ctx() }
}

fn listed(state: &State, waba: &str, read: &PageCtx) -> Vec<(String, String)> {
    let acme = caller(state, ACME);
    let page = state.read_edge(&acme, waba, "phone_numbers", &fields_query("id,status"), read).unwrap();
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["id"].as_str().unwrap().to_owned(), n["status"].as_str().unwrap().to_owned()))
        .collect()
}

fn node(state: &State, id: &str, read: &PageCtx) -> Result<Value, GraphError> {
    let acme = caller(state, ACME);
    let fields = fields::parse("id,status,code_verification_status").unwrap();
    state.read_node(&acme, id, Some(&fields), read)
}

const ORDERS_SOURCE_NODE: &str = "106540352242923";

#[test]
fn reads_show_each_write_only_once_the_read_lag_has_passed() {
    let mut state = world_with(|w| w.options.read_lag = Duration::from_secs(3));
    let acme = caller(&state, ACME);
    let id = initiate(&mut state, DEST, "6315550102").unwrap();

    // Created at t0: absent from the listing, and unknown by id, in every kind of read.
    assert!(!listed(&state, DEST, &at(2)).iter().any(|(n, _)| *n == id));
    assert_eq!(node(&state, &id, &at(2)).unwrap_err().subcode, Some(33));
    let many = state.read_many(&acme, &[DEST.to_owned(), id.clone()], None, &at(2));
    assert_eq!(many.unwrap_err().subcode, Some(33));
    let expanded = state.read_node(&acme, DEST, Some(&fields::parse("phone_numbers{id}").unwrap()), &at(2));
    assert!(!expanded.unwrap().to_string().contains(&id));

    // Writes act on the true state meanwhile.
    let code = request(&mut state, &id, t0()).unwrap();
    verify(&mut state, &id, &code, t0() + Duration::from_secs(1)).unwrap();

    // t0+3: the migration shows, the verification (t0+1) does not yet; the source still lists
    // the number.
    assert_eq!(node(&state, &id, &at(3)).unwrap()["code_verification_status"], "NOT_VERIFIED");
    assert!(listed(&state, DEST, &at(3)).contains(&(id.clone(), "PENDING".to_owned())));
    assert!(listed(&state, SOURCE, &at(3)).iter().any(|(n, _)| n == ORDERS_SOURCE_NODE));
    assert!(node(&state, ORDERS_SOURCE_NODE, &at(3)).is_ok());

    // t0+4: verified, and gone from the source.
    assert_eq!(node(&state, &id, &at(4)).unwrap()["code_verification_status"], "VERIFIED");
    assert!(!listed(&state, SOURCE, &at(4)).iter().any(|(n, _)| n == ORDERS_SOURCE_NODE));
    assert_eq!(node(&state, ORDERS_SOURCE_NODE, &at(4)).unwrap_err().subcode, Some(33));

    register(&mut state, &id, t0() + Duration::from_secs(4)).unwrap();
    assert_eq!(node(&state, &id, &at(6)).unwrap()["status"], "PENDING");
    let expanded = state
        .read_node(&acme, DEST, Some(&fields::parse("phone_numbers{id,status}").unwrap()), &at(6))
        .unwrap();
    assert!(expanded["phone_numbers"]["data"].as_array().unwrap().iter().any(|n| n["status"] == "PENDING"));
    assert_eq!(node(&state, &id, &at(7)).unwrap()["status"], "CONNECTED");
    // The true state never lagged.
    assert_eq!(state.number(&id, t0()).unwrap().status, NumberStatus::Connected);
}

#[test]
fn read_lag_is_off_by_default_and_switchable_at_run_time() {
    let mut state = state();
    assert_eq!(state.behaviour().read_lag_ms, 0);
    let id = initiate(&mut state, DEST, "6315550102").unwrap();
    assert!(node(&state, &id, &at(0)).is_ok(), "no lag by default");

    let patch = OptionsPatch { read_lag: Some("2s".into()), ..OptionsPatch::default() };
    assert_eq!(state.patch_options(&patch).unwrap().read_lag_ms, 2000);
    let code = request(&mut state, &id, t0()).unwrap();
    verify(&mut state, &id, &code, t0()).unwrap();
    assert_eq!(node(&state, &id, &at(1)).unwrap()["code_verification_status"], "NOT_VERIFIED");

    let off = OptionsPatch { read_lag: Some("0".into()), ..OptionsPatch::default() };
    state.patch_options(&off).unwrap();
    assert_eq!(node(&state, &id, &at(1)).unwrap()["code_verification_status"], "VERIFIED");
    let bad = OptionsPatch { read_lag: Some("3".into()), ..OptionsPatch::default() };
    assert!(state.patch_options(&bad).unwrap_err().contains("read_lag"));
}

#[test]
fn verified_on_migration_reads_verified_but_register_waits_for_a_verified_code() {
    let mut state = world_with(|w| w.options.verified_on_migration = true);
    let id = initiate(&mut state, DEST, "6315550102").unwrap();
    assert_eq!(node(&state, &id, &at(0)).unwrap()["code_verification_status"], "VERIFIED");

    let error = register(&mut state, &id, t0()).unwrap_err();
    assert_eq!(error.code, 133006, "ownership is not proven by what the node says");
    let code = request(&mut state, &id, t0()).unwrap();
    assert_eq!(state.number(&id, t0()).unwrap().codes_requested, 1);
    // A wrong code proves nothing either.
    verify(&mut state, &id, &wrong(&code), t0()).unwrap_err();
    assert_eq!(register(&mut state, &id, t0()).unwrap_err().code, 133006);
    verify(&mut state, &id, &code, t0()).unwrap();
    register(&mut state, &id, t0()).unwrap();
    assert_eq!(state.number(&id, t0()).unwrap().status, NumberStatus::Connected);
    assert_eq!(state.number(&id, t0()).unwrap().register_attempts, 3);
}

#[test]
fn without_verified_on_migration_a_migrated_node_starts_not_verified() {
    let mut state = state();
    let id = initiate(&mut state, DEST, "6315550102").unwrap();
    assert_eq!(node(&state, &id, &at(0)).unwrap()["code_verification_status"], "NOT_VERIFIED");
    let patch = OptionsPatch { verified_on_migration: Some(true), ..OptionsPatch::default() };
    assert!(state.patch_options(&patch).unwrap().verified_on_migration);
    let other = initiate(&mut state, DEST, "6315550101").unwrap();
    assert_eq!(node(&state, &other, &at(0)).unwrap()["code_verification_status"], "VERIFIED");
}
