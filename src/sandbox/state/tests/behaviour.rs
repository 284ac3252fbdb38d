//! The sandbox's Graph behaviours beyond the documentation, each switched on in a world of its
//! own: read lag after writes, verified on migration, fields refused to a token, on-behalf-of
//! ownership, and a source that keeps the number until the destination registers it (injected
//! refusals are faults, tested in `faults.rs` and over HTTP).

use serde_json::Value;

use crate::sandbox::world::MigratedSource;

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

fn waba_read(state: &State, token: &str, ids: &[&str], fields: &str) -> Result<Value, GraphError> {
    let who = caller(state, token);
    let ids: Vec<String> = ids.iter().map(|id| (*id).to_owned()).collect();
    let fields = fields::parse(fields).unwrap();
    state.read_many(&who, &ids, Some(&fields).filter(|f| !f.is_empty()).map(Vec::as_slice), &ctx())
}

#[test]
fn fields_refused_to_a_token_fail_the_whole_read_without_naming_the_field() {
    let mut state = world_with(|w| {
        let token =
            w.tokens.iter_mut().find(|t| t.name.as_deref() == Some("acme-cloud-system-user")).unwrap();
        token.refused_fields = vec!["primary_funding_id".into(), "owner_business_info".into()];
        token.refused_field_code = 10;
    });
    for fields in
        ["id,name,primary_funding_id", "owner_business_info{id,name}", "primary_funding_id,phone_numbers"]
    {
        for ids in [&[SOURCE][..], &[SOURCE, DEST][..]] {
            let error = waba_read(&state, ACME, ids, fields).unwrap_err();
            assert_eq!((error.code, error.status), (10, 403), "{fields}");
            assert!(
                !error.message.contains("primary_funding_id") && !error.message.contains("owner"),
                "{}",
                error.message
            );
        }
    }
    // Reads without those fields work, with their edges; other tokens are not refused.
    let read = waba_read(&state, ACME, &[SOURCE, DEST], "id,name,currency,phone_numbers{id}").unwrap();
    assert!(read[DEST]["phone_numbers"]["data"].is_array());
    assert!(waba_read(&state, ACME, &[SOURCE], "").is_ok(), "the default fields");
    assert!(waba_read(&state, READ_ONLY, &[DEST], "primary_funding_id").is_ok());

    let code_200 = TokenPatch { refused_field_code: Some(200), ..TokenPatch::default() };
    let token = state.patch_token("acme-cloud-system-user", &code_200).unwrap();
    assert_eq!(token.refused_fields, ["primary_funding_id", "owner_business_info"]);
    let error = waba_read(&state, ACME, &[SOURCE], "primary_funding_id").unwrap_err();
    assert_eq!(error.code, 200);
    assert_eq!(error.message, "(#200) The app does not have permission for this action");
    let none = TokenPatch { refused_fields: Some(Vec::new()), ..TokenPatch::default() };
    state.patch_token("122100000000001", &none).unwrap();
    assert!(waba_read(&state, ACME, &[SOURCE], "primary_funding_id").is_ok());

    let typo = TokenPatch { refused_fields: Some(vec!["primary_fundig_id".into()]), ..TokenPatch::default() };
    assert!(state.patch_token("acme-cloud-system-user", &typo).unwrap_err().contains("not a WABA field"));
    let odd = TokenPatch { refused_field_code: Some(190), ..TokenPatch::default() };
    assert!(state.patch_token("acme-cloud-system-user", &odd).unwrap_err().contains("200 or 10"));
    assert!(state.patch_token("nobody", &none).is_err());
}

#[test]
fn every_listed_waba_field_renders() {
    let state = state();
    let all = WABA_FIELDS.join(",");
    let read = waba_read(&state, ACME, &[SOURCE], &all).unwrap();
    assert!(read[SOURCE]["owner_business_info"]["id"].is_string(), "{read}");
}

const PARTNER: &str = "333333333333333";
const ACME_RETAIL: &str = "111111111111111";

/// The example world with a partner business that owns the source WABA, run on behalf of
/// `on_behalf_of` (or for itself).
fn partner_owned_source(on_behalf_of: Option<&str>) -> State {
    world_with(|w| {
        w.businesses
            .push(crate::sandbox::world::Business { id: PARTNER.into(), name: "Legacy BSP Ltd".into() });
        let source = w.wabas.iter_mut().find(|waba| waba.id == SOURCE).unwrap();
        source.business = PARTNER.into();
        source.on_behalf_of_business = on_behalf_of.map(str::to_owned);
    })
}

#[test]
fn on_behalf_of_ownership_is_rendered_and_migrations_compare_represented_businesses() {
    let mut state = partner_owned_source(Some(ACME_RETAIL));
    let fields = "ownership_type,on_behalf_of_business_info,owner_business_info{id}";
    let read = waba_read(&state, ACME, &[SOURCE, DEST], fields).unwrap();
    assert_eq!(read[SOURCE]["ownership_type"], "ON_BEHALF_OF");
    assert_eq!(
        read[SOURCE]["on_behalf_of_business_info"],
        json!({"id": ACME_RETAIL, "name": "Acme Retail Ltd"})
    );
    assert_eq!(read[SOURCE]["owner_business_info"], json!({"id": PARTNER}));
    assert_eq!(read[DEST]["ownership_type"], "CLIENT_OWNED");
    assert!(read[DEST].get("on_behalf_of_business_info").is_none(), "{read}");
    // Both represent Acme Retail: the migration goes through.
    migrate(&mut state, DEST, "6315550102");

    // A source the partner runs for itself represents another business.
    let mut state = partner_owned_source(None);
    let error = initiate(&mut state, DEST, "6315550102").unwrap_err();
    assert_eq!(error.code, 2388103);
    assert_eq!(error.user_title.as_deref(), Some("Phone number belongs to a different business"));

    // A partner-owned destination run on behalf of Acme Retail takes Acme's numbers, and
    // changing that in Business settings takes effect at once.
    let mut state = world_with(|w| {
        w.businesses
            .push(crate::sandbox::world::Business { id: PARTNER.into(), name: "Legacy BSP Ltd".into() });
    });
    let moved = WabaPatch { on_behalf_of_business: Some(PARTNER.into()), ..WabaPatch::default() };
    state.patch_waba(DEST, &moved).unwrap();
    assert_eq!(
        waba_read(&state, ACME, &[DEST], "ownership_type").unwrap()[DEST]["ownership_type"],
        "ON_BEHALF_OF"
    );
    assert_eq!(initiate(&mut state, DEST, "6315550102").unwrap_err().code, 2388103);
    let back = WabaPatch { on_behalf_of_business: Some(ACME_RETAIL.into()), ..WabaPatch::default() };
    state.patch_waba(DEST, &back).unwrap();
    initiate(&mut state, DEST, "6315550102").unwrap();
    let removed = WabaPatch { on_behalf_of_business: Some(String::new()), ..WabaPatch::default() };
    state.patch_waba(DEST, &removed).unwrap();
    assert_eq!(
        waba_read(&state, ACME, &[DEST], "ownership_type").unwrap()[DEST]["ownership_type"],
        "CLIENT_OWNED"
    );
    let unknown = WabaPatch { on_behalf_of_business: Some("999".into()), ..WabaPatch::default() };
    assert!(state.patch_waba(DEST, &unknown).is_err());
    let contradiction = WabaPatch {
        on_behalf_of_business: Some(ACME_RETAIL.into()),
        ownership_type: Some(crate::sandbox::world::OwnershipType::SelfOwned),
        ..WabaPatch::default()
    };
    assert!(state.patch_waba(DEST, &contradiction).is_err());
}

#[test]
fn a_source_that_keeps_the_number_lets_it_go_when_the_destination_registers() {
    for (migrated_source, after) in
        [(MigratedSource::Remove, None), (MigratedSource::MarkMigrated, Some("MIGRATED"))]
    {
        let mut state = world_with(|w| {
            w.options.source_keeps_until_registered = true;
            w.options.migrated_source = migrated_source;
        });
        let id = migrate(&mut state, DEST, "6315550102");
        let source = listed(&state, SOURCE, &at(0));
        assert!(source.contains(&(ORDERS_SOURCE_NODE.to_owned(), "CONNECTED".to_owned())), "{source:?}");
        assert_eq!(node(&state, ORDERS_SOURCE_NODE, &at(0)).unwrap()["status"], "CONNECTED");
        assert_eq!(state.number(ORDERS_SOURCE_NODE, t0()).unwrap().migrated_to.as_deref(), Some(id.as_str()));

        // A failed register changes nothing.
        let acme = caller(&state, ACME);
        state.register(&acme, &id, Some("whatsapp"), Some("12"), t0()).unwrap_err();
        assert_eq!(node(&state, ORDERS_SOURCE_NODE, &at(0)).unwrap()["status"], "CONNECTED");

        register(&mut state, &id, t0()).unwrap();
        let status = listed(&state, SOURCE, &at(0))
            .into_iter()
            .find(|(n, _)| n == ORDERS_SOURCE_NODE)
            .map(|(_, status)| status);
        assert_eq!(status.as_deref(), after, "{migrated_source:?}");
    }
}

#[test]
fn by_default_the_source_lets_the_number_go_at_verification() {
    let mut state = state();
    assert!(!state.behaviour().source_keeps_until_registered);
    migrate(&mut state, DEST, "6315550102");
    assert!(!listed(&state, SOURCE, &at(0)).iter().any(|(n, _)| n == ORDERS_SOURCE_NODE));
    let patch = OptionsPatch {
        source_keeps_until_registered: Some(true),
        migrated_source: Some(MigratedSource::MarkMigrated),
        ..OptionsPatch::default()
    };
    let behaviour = state.patch_options(&patch).unwrap();
    assert!(behaviour.source_keeps_until_registered);
    assert_eq!(behaviour.migrated_source, MigratedSource::MarkMigrated);
    migrate(&mut state, DEST, "6315550101");
    assert!(listed(&state, SOURCE, &at(0)).contains(&("106540352242922".to_owned(), "CONNECTED".to_owned())));
}
