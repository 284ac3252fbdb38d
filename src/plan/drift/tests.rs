//! Each drift kind from a hand-built world, through the planner: what it reports, how severe,
//! and that it is never a change.

use crate::ExitStatus;
use crate::observe::{HealthEntity, HealthError, HealthView, NumberView};
use crate::plan::fixtures::{DEST, SOURCE, World, at, live_number, migrated_number, waba};
use crate::plan::{Action, NumberPlan, Severity, exit_status};

const PHONE: &str = "+1 631-555-0101";

/// A number in sync in the destination, looking like `number`.
fn in_sync(edit: impl FnOnce(&mut NumberView)) -> World {
    let mut world = World::new();
    world.want(PHONE, DEST, Some(SOURCE));
    let mut node = live_number(PHONE, "7001");
    edit(&mut node);
    world.list(DEST, node);
    world
}

fn only(world: &World) -> NumberPlan {
    let plan = world.plan();
    assert_eq!(plan.numbers.len(), 1);
    plan.numbers[0].clone()
}

fn ids(number: &NumberPlan) -> Vec<(&str, Severity)> {
    number.drift.iter().map(|d| (d.id.as_str(), d.severity)).collect()
}

#[test]
fn a_healthy_number_in_sync_has_no_drift() {
    let number = only(&in_sync(|_| {}));
    assert_eq!(number.action, Action::InSync);
    assert!(number.drift.is_empty(), "{:?}", number.drift);
}

#[test]
fn status_quality_and_name_drift_with_their_severity() {
    let number = only(&in_sync(|n| {
        n.status = Some("DISCONNECTED".into());
        n.quality_rating = Some("RED".into());
        n.name_status = Some("DECLINED".into());
        n.new_name_status = Some("PENDING_REVIEW".into());
    }));
    assert_eq!(
        ids(&number),
        [
            ("number.status", Severity::Critical),
            ("number.quality", Severity::Critical),
            ("number.name_status", Severity::Warning),
            ("number.pending_name_change", Severity::Warning),
        ]
    );
    assert_eq!(number.drift[0].message, "+16315550101 has status DISCONNECTED, not CONNECTED");
    let flagged = only(&in_sync(|n| {
        n.status = Some("FLAGGED".into());
        n.quality_rating = Some("YELLOW".into());
    }));
    assert_eq!(ids(&flagged), [("number.status", Severity::Warning), ("number.quality", Severity::Warning)]);
}

#[test]
fn an_unregistered_number_kept_so_on_purpose_has_no_status_to_keep() {
    let mut world = in_sync(|n| {
        n.status = Some("PENDING".into());
        n.platform_type = Some("NOT_APPLICABLE".into());
    });
    world.desired.numbers[0].register = false;
    let number = only(&world);
    assert_eq!(number.action, Action::InSync);
    assert!(number.drift.is_empty(), "{:?}", number.drift);
}

#[test]
fn health_drift_carries_metas_error_codes_and_possible_solutions() {
    let number = only(&in_sync(|n| {
        n.health = Some(HealthView {
            can_send_message: "BLOCKED".into(),
            entities: vec![
                HealthEntity {
                    entity_type: Some("PHONE_NUMBER".into()),
                    id: Some("7001".into()),
                    can_send_message: Some("AVAILABLE".into()),
                    ..HealthEntity::default()
                },
                HealthEntity {
                    entity_type: Some("WABA".into()),
                    id: Some(DEST.into()),
                    can_send_message: Some("BLOCKED".into()),
                    additional_info: Vec::new(),
                    errors: vec![HealthError {
                        code: Some(141006),
                        description: Some("There is an error with the payment method.".into()),
                        possible_solution: Some("Please add a new payment method to the account.".into()),
                    }],
                },
            ],
        });
    }));
    assert_eq!(ids(&number), [("number.health", Severity::Critical)]);
    let drift = &number.drift[0];
    assert_eq!(
        drift.message,
        format!(
            "+16315550101 can_send_message is BLOCKED (WABA {DEST}: error 141006: There is an error with the payment method.)"
        )
    );
    assert_eq!(drift.hint, format!("WABA {DEST} 141006: Please add a new payment method to the account."));
    let limited = only(&in_sync(|n| {
        n.health = Some(HealthView { can_send_message: "LIMITED".into(), entities: vec![] })
    }));
    assert_eq!(ids(&limited), [("number.health", Severity::Warning)]);
    assert!(limited.drift[0].hint.contains("health_status"));
    let fine = only(&in_sync(|n| {
        n.health = Some(HealthView { can_send_message: "AVAILABLE".into(), entities: vec![] })
    }));
    assert!(fine.drift.is_empty());
}

#[test]
fn a_destination_without_webhooks_loses_inbound_messages() {
    let mut world = in_sync(|_| {});
    world.waba(DEST).subscribed_apps = Some(Vec::new());
    assert_eq!(ids(&only(&world)), [("destination.webhooks", Severity::Critical)]);
    // On-Premises numbers receive through their own client.
    let mut world = in_sync(|n| n.platform_type = Some("ON_PREMISE".into()));
    world.waba(DEST).subscribed_apps = Some(Vec::new());
    assert!(only(&world).drift.is_empty());
}

#[test]
fn a_lower_messaging_limit_than_it_arrived_with() {
    let mut world = in_sync(|n| n.messaging_limit_tier = Some("TIER_1K".into()));
    world.record(PHONE, DEST).messaging_limit_tier = Some("TIER_10K".into());
    let number = only(&world);
    assert_eq!(ids(&number), [("number.messaging_limit", Severity::Warning)]);
    assert_eq!(
        number.drift[0].message,
        "+16315550101's messaging limit is TIER_1K, lower than the TIER_10K it arrived with"
    );
    world.record(PHONE, DEST).messaging_limit_tier = Some("TIER_1K".into());
    assert!(only(&world).drift.is_empty(), "same tier");
    world.record(PHONE, DEST).messaging_limit_tier = Some("TIER_SOMETHING_NEW".into());
    assert!(only(&world).drift.is_empty(), "an unknown tier is not compared");
}

fn moved_by_wamig(world: &mut World) {
    let record = world.record(PHONE, DEST);
    record.phone_number_id = Some("7001".into());
    record.verified_at = Some(at("2026-09-01T10:00:00Z"));
    record.registered_at = Some(at("2026-09-01T10:05:00Z"));
}

#[test]
fn a_number_moved_away_since_wamig_moved_it() {
    let mut world = World::new();
    world.want(PHONE, DEST, Some(SOURCE));
    world.put(waba("109000000000001", "someone-else"));
    world.list("109000000000001", live_number(PHONE, "9001"));
    world.list(SOURCE, migrated_number(PHONE, "6001"));
    moved_by_wamig(&mut world);
    let number = only(&world);
    assert_ne!(number.action, Action::InSync);
    assert_eq!(ids(&number), [("number.moved_away", Severity::Critical)]);
    assert_eq!(
        number.drift[0].message,
        format!(
            "wamig moved +16315550101 to WABA {DEST} on 2026-09-01, and it has been moved away since: it now lives in WABA 109000000000001"
        )
    );
    // The destination saying MIGRATED is enough, wherever the number went.
    let mut world = World::new();
    world.want(PHONE, DEST, Some(SOURCE));
    world.list(DEST, migrated_number(PHONE, "7001"));
    moved_by_wamig(&mut world);
    assert!(
        only(&world).drift[0]
            .message
            .ends_with("lists it as MIGRATED: it moved to a WABA wamig does not observe")
    );
}

#[test]
fn right_after_a_write_a_missing_number_is_graph_lagging_not_moved_away() {
    let mut world = World::new();
    world.want(PHONE, DEST, Some(SOURCE));
    world.list(SOURCE, migrated_number(PHONE, "6001"));
    let record = world.record(PHONE, DEST);
    record.phone_number_id = Some("7001".into());
    record.initiated_at = Some(at("2026-09-11T09:30:00Z"));
    record.verified_at = Some(at("2026-09-11T09:40:00Z"));
    record.registered_at = Some(at("2026-09-11T09:45:00Z"));
    assert!(only(&world).drift.is_empty(), "the destination's reads lag its writes");
    // Listed live elsewhere, it cannot be lagging.
    world.put(waba("109000000000001", "someone-else"));
    world.list("109000000000001", live_number(PHONE, "9001"));
    assert_eq!(ids(&only(&world)), [("number.moved_away", Severity::Critical)]);
}

#[test]
fn moved_away_needs_the_journal_and_a_readable_destination() {
    let mut world = World::new();
    world.want(PHONE, DEST, Some(SOURCE));
    world.list(SOURCE, live_number(PHONE, "6001"));
    assert!(only(&world).drift.is_empty(), "never moved by wamig: a plain migration");
    moved_by_wamig(&mut world);
    world.put(crate::plan::fixtures::unreadable(DEST, "no access"));
    assert!(only(&world).drift.is_empty(), "an unreadable destination tells nothing");
    // Only started, never verified: an unfinished migration, not a move away.
    let mut world = World::new();
    world.want(PHONE, DEST, Some(SOURCE));
    world.list(SOURCE, live_number(PHONE, "6001"));
    world.record(PHONE, DEST).initiated_at = Some(at("2026-09-01T10:00:00Z"));
    assert!(only(&world).drift.is_empty());
}

#[test]
fn drift_is_not_a_change() {
    let world = in_sync(|n| n.status = Some("BANNED".into()));
    let plan = world.plan();
    assert!(!plan.numbers[0].drift.is_empty());
    assert!(!plan.has_changes());
    assert_eq!(exit_status(&plan, true), ExitStatus::Success);
    assert_eq!(plan.summary.in_sync, 1);
}

/// Every rendering shows drift: an in-sync number with two kinds, a clean one, and a number moved
/// away since wamig moved it.
#[test]
fn drift_is_shown_in_every_rendering() {
    use crate::plan::render::{json, markdown, text};
    let mut world = in_sync(|n| {
        n.status = Some("FLAGGED".into());
        n.quality_rating = Some("RED".into());
    });
    world.want("+1 631-555-0102", DEST, Some(SOURCE));
    world.list(DEST, live_number("+1 631-555-0102", "7002"));
    world.want("+1 631-555-0103", DEST, Some(SOURCE));
    world.put(waba("109000000000001", "someone-else"));
    world.list("109000000000001", live_number("+1 631-555-0103", "9003"));
    let record = world.record("+1 631-555-0103", DEST);
    record.verified_at = Some(at("2026-09-01T10:00:00Z"));
    let plan = world.plan();
    insta::with_settings!({
        filters => vec![(r"\b[0-9a-f]{64}\b", "[sha256]"), (r"`[0-9a-f]{12}`", "`[sha256-12]`")],
        prepend_module_to_snapshot => false,
    }, {
        insta::assert_snapshot!("drift.text", text(&plan, &crate::ui::Styles::plain()));
        insta::assert_snapshot!("drift.md", markdown(&plan));
        insta::assert_snapshot!("drift.json", json(&plan));
    });
}
