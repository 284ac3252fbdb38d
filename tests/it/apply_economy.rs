//! What a migration costs in Graph calls: a migrated number needs its four writes and a share of
//! one closing read; the observation and the post-migration report's reads are made once per
//! WABA, not per number. Counted by the sandbox, which charges calls as Meta does.

use std::collections::BTreeMap;

use crate::apply_support::*;
use crate::support::*;

const SOURCE: &str = "310000000000001";
const DESTINATION: &str = "320000000000001";
const NUMBERS: usize = 8;

fn phone(index: usize) -> String {
    format!("+1 415-555-{:04}", 100 + index)
}

/// One source WABA with `NUMBERS` numbers that can all migrate, and one new destination WABA.
fn world() -> String {
    let mut world = format!(
        "app: {{ id: \"100000000000001\", name: economy app }}\n\
         businesses:\n  - {{ id: \"111111111111111\", name: Economy Ltd }}\n\
         wabas:\n\
         \x20 - id: \"{SOURCE}\"\n    name: source\n    business: \"111111111111111\"\n    \
         primary_funding_id: \"5550000000000001\"\n    templates:\n      \
         - {{ name: order_update, category: UTILITY, status: APPROVED }}\n      \
         - {{ name: spring_sale, category: MARKETING, status: APPROVED }}\n    \
         phone_numbers:\n"
    );
    for index in 0..NUMBERS {
        world.push_str(&format!(
            "      - {{ id: \"{}\", display_phone_number: \"{}\", verified_name: Economy {index} }}\n",
            900_000_000_000_001u64 + index as u64,
            phone(index)
        ));
    }
    world.push_str(&format!(
        "  - id: \"{DESTINATION}\"\n    name: destination\n    business: \"111111111111111\"\n    \
         primary_funding_id: \"5550000000000002\"\n    \
         subscribed_apps:\n      - {{ id: \"100000000000001\", name: economy app }}\n\
         tokens:\n  - token: {ACME_TOKEN}\n    name: economy\n    \
         scopes: [whatsapp_business_management, whatsapp_business_messaging]\n    \
         read: [\"{SOURCE}\"]\n    manage: [\"{DESTINATION}\"]\n"
    ));
    world
}

fn manifest() -> String {
    let phones: Vec<String> = (0..NUMBERS).map(phone).collect();
    let text = manifest_to(DESTINATION, &phones.iter().map(String::as_str).collect::<Vec<_>>());
    text.replace(SOURCE_WABA, SOURCE)
}

#[test]
fn a_migrated_number_costs_its_four_writes_and_a_share_of_one_closing_read() {
    let rig = Rig::with_world(&world(), &manifest());
    // Codes ready: the sandbox's outbox is wamig's codes directory, so each code is there the
    // moment it is sent, and one run goes from the plan's observation to the report.
    let codes = rig.outbox.display().to_string();
    let output = apply(&rig, &["--codes-dir", &codes, "--wait-for-codes", "1m"]);
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));

    let log = rig.sandbox.requests();
    let mut charged: BTreeMap<String, u32> = BTreeMap::new();
    for entry in &log {
        for (waba, calls) in &entry.charged {
            *charged.entry(waba.clone()).or_default() += calls;
        }
    }
    let writes = log.iter().filter(|r| r.method == "POST" && !r.params.contains_key("batch")).count();
    let breakdown = format!("{} requests, charged {charged:?}: {log:#?}", log.len());
    assert_eq!(writes, 4 * NUMBERS, "four writes a number, none repeated: {breakdown}");
    assert!(log.iter().all(|r| r.error_code.is_none()), "{breakdown}");

    // HTTP requests: four writes a number, plus a few shared by all of them (the observation
    // and the token's permissions, one closing read, one report read per WABA).
    assert!(log.len() <= 5 * NUMBERS, "at most 5 requests a migrated number: {breakdown}");
    assert!(log.len() - writes <= 5, "the reads are shared: {breakdown}");
    // Calls charged to Meta's budgets: each number's four writes; then, per WABA, the
    // observation, the closing read (the new destination's listing, one call for its 8 numbers,
    // where reading them by id would cost 8) and one report read.
    let numbers = NUMBERS as u32;
    assert_eq!(charged.get(DESTINATION), Some(&(4 * numbers + 3)), "{breakdown}");
    assert_eq!(charged.get(SOURCE), Some(&2), "{breakdown}");
    assert_eq!(charged.len(), 2, "{breakdown}");
}
