//! Tests of the planner and its renderings: rules asserted directly, and whole scenarios kept as
//! insta snapshots of all three renderings (text, markdown, json) so a reviewer of this code sees
//! what a reviewer of a plan would. Test code only.

use super::fixtures::*;
use super::model::{Action, CheckStatus, Plan, Step};
use super::render::{MAX_CHARS, json, markdown, text};
use super::{exit_status, plan_digest};
use crate::ExitStatus;
use crate::observe::{Access, BusinessRef, Presence, TokenView};
use crate::ui::Styles;

const A: &str = "+1 631-555-0101";
const B: &str = "+1 631-555-0102";
const C: &str = "+1 631-555-0103";
const D: &str = "+1 631-555-0104";
const E: &str = "+1 631-555-0105";

/// Snapshots the three renderings. Digests are replaced: they are checked by the determinism
/// tests, and would otherwise change with every unrelated field added to the snapshot types.
fn snapshot_all(name: &str, plan: &Plan) {
    for number in &plan.numbers {
        if number.action == Action::InSync {
            assert_eq!(number.current, number.desired, "{}: in sync shows no difference", number.phone);
        } else {
            assert_ne!(number.current, number.desired, "{}: a change shows in the diff", number.phone);
        }
    }
    insta::with_settings!({
        filters => vec![(r"\b[0-9a-f]{64}\b", "[sha256]"), (r"`[0-9a-f]{12}`", "`[sha256-12]`")],
        prepend_module_to_snapshot => false,
    }, {
        insta::assert_snapshot!(format!("{name}.text"), text(plan, &Styles::plain()));
        insta::assert_snapshot!(format!("{name}.md"), markdown(plan));
        insta::assert_snapshot!(format!("{name}.json"), json(plan));
    });
}

fn failing(plan: &Plan, phone: &str) -> Vec<String> {
    let e164: String = format!("+{}", phone.chars().filter(char::is_ascii_digit).collect::<String>());
    let number = plan.number(&e164).expect("number in plan");
    number.checks.iter().filter(|c| c.status == CheckStatus::Fail).map(|c| c.id.to_string()).collect()
}

fn status_of(plan: &Plan, phone: &str, check: &str) -> CheckStatus {
    let e164: String = format!("+{}", phone.chars().filter(char::is_ascii_digit).collect::<String>());
    let number = plan.number(&e164).expect("number in plan");
    number.checks.iter().find(|c| c.id == check).map(|c| c.status).expect("check present")
}

/// A world where A is eligible in the source and not yet started.
fn ready() -> World {
    let mut world = World::new();
    world.list(SOURCE, live_number(A, "200000000000001"));
    world.want(A, DEST, Some(SOURCE));
    world
}

// ---------------------------------------------------------------------------------------------
// Actions and steps

#[test]
fn an_eligible_number_is_migrated_with_every_step() {
    let plan = ready().plan();
    let number = &plan.numbers[0];
    assert_eq!(number.action, Action::Migrate);
    assert_eq!(
        number.steps,
        [Step::InitiateMigration, Step::RequestCode, Step::VerifyCode, Step::Register, Step::VerifyTemplates]
    );
    assert_eq!(number.checks.len(), super::planner::CHECK_IDS.len());
    let ids: Vec<&str> = number.checks.iter().map(|c| c.id.as_ref()).collect();
    assert_eq!(ids, super::planner::CHECK_IDS);
    assert!(number.checks.iter().all(|c| c.status == CheckStatus::Pass), "{:#?}", number.checks);
    assert!(number.checks.iter().all(|c| c.hint.is_none()));
    assert_eq!(plan.summary.migrate, 1);
    assert_eq!(exit_status(&plan, false), ExitStatus::Success);
    assert_eq!(exit_status(&plan, true), ExitStatus::Changes);
}

#[test]
fn register_false_drops_the_register_step_and_the_messaging_permission() {
    let mut world = ready();
    world.desired.numbers[0].register = false;
    world.snapshot.token.permissions = Some(vec!["whatsapp_business_management".into()]);
    let plan = world.plan();
    assert_eq!(plan.numbers[0].action, Action::Migrate);
    assert!(!plan.numbers[0].steps.contains(&Step::Register));
    assert_eq!(status_of(&plan, A, "token.permissions"), CheckStatus::Pass);
}

#[test]
fn a_verified_number_is_never_blocked_by_eligibility() {
    let mut world = World::new();
    // After registration 2FA is on again by design, and the source forgets the number.
    let mut node = live_number(A, "300000000000001");
    node.is_pin_enabled = Some(true);
    node.account_mode = Some("SANDBOX".into());
    world.list(DEST, node);
    world.waba(DEST).payment_method = Presence::Absent;
    world.want(A, DEST, Some(SOURCE));
    let plan = world.plan();
    assert_eq!(plan.numbers[0].action, Action::InSync);
    assert!(plan.numbers[0].checks.is_empty());
    assert!(plan.numbers[0].steps.is_empty());
    assert_eq!(exit_status(&plan, true), ExitStatus::Success);
}

#[test]
fn verified_but_unregistered_resumes_at_register_unless_register_is_false() {
    let mut world = World::new();
    world.list(DEST, verified_number(A, "300000000000001"));
    world.want(A, DEST, Some(SOURCE));
    let plan = world.plan();
    assert_eq!(plan.numbers[0].action, Action::Resume);
    assert_eq!(plan.numbers[0].steps, [Step::Register, Step::VerifyTemplates]);
    assert!(plan.numbers[0].checks.is_empty());

    world.desired.numbers[0].register = false;
    assert_eq!(world.plan().numbers[0].action, Action::InSync);
}

#[test]
fn an_initiated_number_resumes_from_request_code_or_from_the_awaited_code() {
    let mut world = ready();
    world.list(DEST, initiated_number(A, "300000000000001"));
    let plan = world.plan();
    let number = &plan.numbers[0];
    assert_eq!(number.action, Action::Resume);
    assert_eq!(number.phone_number_id.as_deref(), Some("300000000000001"));
    assert_eq!(number.steps, [Step::RequestCode, Step::VerifyCode, Step::Register, Step::VerifyTemplates]);
    assert!(!number.awaiting_code);

    world.code_requested(A, DEST, "2026-09-11T09:55:00Z");
    let plan = world.plan();
    let number = &plan.numbers[0];
    assert!(number.awaiting_code);
    assert_eq!(number.code_requested_at.as_deref(), Some("2026-09-11T09:55:00Z"));
    assert_eq!(number.steps, [Step::VerifyCode, Step::Register, Step::VerifyTemplates]);
}

#[test]
fn a_journal_record_for_another_destination_or_attempt_is_ignored() {
    let mut world = ready();
    world.list(DEST, initiated_number(A, "300000000000001"));
    world.code_requested(A, "999", "2026-09-11T09:55:00Z");
    assert!(!world.plan().numbers[0].awaiting_code);

    let mut world = ready();
    world.list(DEST, initiated_number(A, "300000000000001"));
    world.code_requested(A, DEST, "2026-09-11T09:55:00Z").phone_number_id = Some("300000000000999".into());
    assert!(!world.plan().numbers[0].awaiting_code);
}

#[test]
fn eligibility_still_gates_an_unverified_migration() {
    let mut world = ready();
    world.list(DEST, initiated_number(A, "300000000000001"));
    world.waba(SOURCE).numbers.as_mut().unwrap()[0].is_pin_enabled = Some(true);
    let plan = world.plan();
    assert_eq!(plan.numbers[0].action, Action::Blocked);
    assert_eq!(failing(&plan, A), ["number.two_step_verification"]);
    // What would run once unblocked is kept.
    assert_eq!(plan.numbers[0].steps[0], Step::RequestCode);
    assert_eq!(exit_status(&plan, false), ExitStatus::Blocked);
    assert_eq!(exit_status(&plan, true), ExitStatus::Blocked);
}

#[test]
fn a_number_verified_once_then_unverified_asks_for_a_new_code_and_is_not_blocked() {
    let mut world = ready();
    world.list(DEST, initiated_number(A, "300000000000001"));
    // It has left its source when it was verified.
    world.waba(SOURCE).numbers.as_mut().unwrap().clear();
    world.code_requested(A, DEST, "2026-09-11T07:55:00Z").phone_number_id = Some("300000000000001".into());
    assert_eq!(world.plan().numbers[0].action, Action::Blocked, "a migration never verified is gated");

    // Verified long enough ago that the destination's NOT_VERIFIED is no read lag.
    world.record(A, DEST).verified_at = Some("2026-09-11T07:57:00Z".parse().unwrap());
    world.record(A, DEST).phone_number_id = None;
    assert_eq!(world.plan().numbers[0].action, Action::Blocked, "not known to be this node");
    world.record(A, DEST).phone_number_id = Some("300000000000001".into());
    let plan = world.plan();
    let number = &plan.numbers[0];
    assert_eq!(number.action, Action::Resume);
    assert!(number.checks.is_empty(), "{:?}", number.checks);
    assert!(!number.awaiting_code, "the code requested was used by that verification");
    assert_eq!(number.steps[0], Step::RequestCode);
}

// ---------------------------------------------------------------------------------------------
// Each failing check, alone

#[test]
fn each_failing_check_blocks_on_its_own() {
    type Mutation = fn(&mut World);
    let cases: Vec<(&str, Mutation)> = vec![
        ("token.permissions", |w| {
            w.snapshot.token.permissions = Some(vec!["whatsapp_business_management".into()])
        }),
        ("destination.access", |w| w.put(unreadable(DEST, "(#200) Permissions error"))),
        ("destination.review", |w| w.waba(DEST).account_review_status = Some("PENDING".into())),
        ("destination.verification", |w| {
            w.waba(DEST).business_verification_status = Some("pending_submission".into())
        }),
        ("destination.payment_method", |w| w.waba(DEST).payment_method = Presence::Absent),
        ("destination.webhooks", |w| w.waba(DEST).subscribed_apps = Some(Vec::new())),
        ("source.review", |w| w.waba(SOURCE).account_review_status = Some("REJECTED".into())),
        ("source.verification", |w| w.waba(SOURCE).business_verification_status = Some("revoked".into())),
        ("same_business", |w| {
            w.waba(SOURCE).owner_business = Some(BusinessRef { id: "777".into(), name: Some("Other".into()) })
        }),
        ("number.in_source", |w| w.waba(SOURCE).numbers = Some(Vec::new())),
        ("number.in_source", |w| {
            w.waba(SOURCE).numbers.as_mut().unwrap()[0].status = Some("MIGRATED".into())
        }),
        ("number.name_status", |w| {
            w.waba(SOURCE).numbers.as_mut().unwrap()[0].name_status = Some("PENDING_REVIEW".into())
        }),
        ("number.pending_name_change", |w| {
            w.waba(SOURCE).numbers.as_mut().unwrap()[0].new_name_status = Some("PENDING_REVIEW".into())
        }),
        ("number.test_number", |w| {
            w.waba(SOURCE).numbers.as_mut().unwrap()[0].account_mode = Some("SANDBOX".into())
        }),
        ("number.business_app", |w| w.waba(SOURCE).numbers.as_mut().unwrap()[0].is_on_biz_app = Some(true)),
        ("number.two_step_verification", |w| {
            w.waba(SOURCE).numbers.as_mut().unwrap()[0].is_pin_enabled = Some(true)
        }),
    ];
    for (id, mutate) in cases {
        let mut world = ready();
        mutate(&mut world);
        let plan = world.plan();
        assert_eq!(plan.numbers[0].action, Action::Blocked, "{id}");
        assert_eq!(failing(&plan, A), [id], "{id}");
        let check = plan.numbers[0].checks.iter().find(|c| c.id == id).unwrap();
        assert!(check.hint.as_deref().is_some_and(|h| h.len() > 20), "{id} needs a concrete hint");
        let names_it = [DEST, SOURCE, "+1631555", "token"].iter().any(|what| check.message.contains(what));
        assert!(names_it, "{id}: the message names what it saw: {}", check.message);
        assert_eq!(exit_status(&plan, false), ExitStatus::Blocked);
    }
}

#[test]
fn two_step_hint_says_where_to_turn_it_off() {
    let mut world = ready();
    world.waba(SOURCE).numbers.as_mut().unwrap()[0].is_pin_enabled = Some(true);
    let plan = world.plan();
    let check = plan.numbers[0].checks.iter().find(|c| c.id == "number.two_step_verification").unwrap();
    assert_eq!(
        check.hint.as_deref(),
        Some(
            "turn off two-step verification in WhatsApp Manager: Phone numbers → Two-step verification → Turn off"
        )
    );
}

#[test]
fn webhooks_are_not_needed_for_an_unregistered_on_premises_number() {
    let mut world = ready();
    world.desired.numbers[0].register = false;
    world.waba(SOURCE).numbers.as_mut().unwrap()[0].platform_type = Some("ON_PREMISE".into());
    world.waba(DEST).subscribed_apps = Some(Vec::new());
    let plan = world.plan();
    assert_eq!(status_of(&plan, A, "destination.webhooks"), CheckStatus::Pass);
    assert_eq!(plan.numbers[0].action, Action::Migrate);
    assert!(plan.numbers[0].notes.iter().any(|n| n.contains("On-Premises")));
}

// ---------------------------------------------------------------------------------------------
// Unknowns never block

#[test]
fn unknown_permissions_fields_and_an_unreadable_source_do_not_block() {
    let mut world = ready();
    world.snapshot.token =
        TokenView { permissions: None, unknown_reason: Some("debug_token refused".into()) };
    world.put(unreadable(SOURCE, "(#200) the token may not read this WABA"));
    let plan = world.plan();
    assert_eq!(plan.numbers[0].action, Action::Migrate);
    for id in
        ["token.permissions", "source.access", "source.review", "number.in_source", "number.name_status"]
    {
        assert_eq!(status_of(&plan, A, id), CheckStatus::Unknown, "{id}");
    }
    assert!(plan.numbers[0].checks.iter().all(|c| c.status != CheckStatus::Unknown || c.hint.is_some()));
    assert_eq!(exit_status(&plan, false), ExitStatus::Success);
}

#[test]
fn a_missing_field_is_unknown_not_a_failure() {
    let mut world = ready();
    {
        let node = &mut world.waba(SOURCE).numbers.as_mut().unwrap()[0];
        node.name_status = None;
        node.account_mode = None;
        node.is_on_biz_app = None;
        node.is_pin_enabled = None;
    }
    world.waba(DEST).account_review_status = None;
    world.waba(DEST).payment_method = Presence::Unknown;
    world.waba(DEST).owner_business = None;
    let plan = world.plan();
    assert_eq!(plan.numbers[0].action, Action::Migrate);
    assert!(failing(&plan, A).is_empty());
    for id in [
        "destination.review",
        "destination.payment_method",
        "same_business",
        "number.name_status",
        "number.pending_name_change",
        "number.test_number",
        "number.business_app",
        "number.two_step_verification",
    ] {
        assert_eq!(status_of(&plan, A, id), CheckStatus::Unknown, "{id}");
    }
}

#[test]
fn the_source_is_found_among_observed_wabas_when_the_manifest_omits_it() {
    let mut world = ready();
    world.desired.numbers[0].source_waba = None;
    let plan = world.plan();
    assert_eq!(plan.numbers[0].source_waba.as_deref(), Some(SOURCE));
    assert_eq!(status_of(&plan, A, "source.known"), CheckStatus::Pass);

    world.waba(SOURCE).numbers = Some(Vec::new());
    let plan = world.plan();
    assert_eq!(plan.numbers[0].source_waba, None);
    assert_eq!(status_of(&plan, A, "source.known"), CheckStatus::Unknown);
    assert_eq!(plan.numbers[0].action, Action::Migrate);
}

// ---------------------------------------------------------------------------------------------
// Unmanaged, templates, determinism, secrets

#[test]
fn unmanaged_numbers_are_listed_sorted_and_are_not_changes() {
    let mut world = World::new();
    world.list(DEST, live_number("+1 631-555-0199", "300000000000099"));
    world.list(DEST, live_number("+1 631-555-0150", "300000000000050"));
    world.list(DEST, migrated_number("+1 631-555-0160", "300000000000060"));
    let plan = world.plan();
    let phones: Vec<&str> = plan.unmanaged.iter().map(|u| u.phone.as_str()).collect();
    assert_eq!(phones, ["+16315550150", "+16315550199"]);
    assert_eq!(plan.summary.unmanaged, 2);
    assert!(!plan.has_changes());
    assert_eq!(exit_status(&plan, true), ExitStatus::Success);
}

#[test]
fn the_template_forecast_fills_the_room_by_name_and_leaves_the_rest_out() {
    let mut world = ready();
    let dest_templates: Vec<_> =
        (0..248).map(|i| template(&format!("dest_{i:03}"), "APPROVED", "GREEN")).collect();
    world.waba(DEST).templates = Some(dest_templates);
    // Translations count once; a deleted template frees its slot.
    world.waba(DEST).templates.as_mut().unwrap().push(template("dest_000", "APPROVED", "GREEN"));
    world.waba(DEST).templates.as_mut().unwrap().push(template("old_deleted", "DELETED", "UNKNOWN"));
    world.waba(SOURCE).templates = Some(vec![
        template("zeta", "APPROVED", "GREEN"),
        template("alpha", "APPROVED", "GREEN"),
        template("beta", "APPROVED", "GREEN"),
        template("dest_001", "APPROVED", "GREEN"),
        template("pending_one", "PENDING", "UNKNOWN"),
        template("yellow_one", "APPROVED", "YELLOW"),
    ]);
    let plan = world.plan();
    let forecast = plan.numbers[0].templates.as_ref().unwrap();
    assert!(forecast.known);
    assert_eq!(forecast.eligible, 4);
    assert_eq!(forecast.already_in_destination, 1);
    assert_eq!(forecast.destination_room, 2);
    assert_eq!(forecast.left_out, ["zeta (en_US)"]);
    assert_eq!(forecast.not_eligible.len(), 2);
}

#[test]
fn planning_is_deterministic_and_ignores_listing_order_and_time() {
    let world = scenario_actions();
    let first = world.plan();
    assert_eq!(json(&first), json(&world.plan()));
    assert_eq!(first.digest, plan_digest(&first));

    let later = crate::plan::plan(
        &world.desired,
        &manifest_digest(),
        &world.snapshot,
        &world.journal,
        at("2026-09-12T08:00:00Z"),
    );
    assert_ne!(first.created_at, later.created_at);
    assert_eq!(first.digest, later.digest, "the digest ignores when the plan was made");

    let mut shuffled = scenario_actions();
    for waba in shuffled.snapshot.wabas.values_mut() {
        if let Some(numbers) = waba.numbers.as_mut() {
            numbers.reverse();
        }
        if let Some(templates) = waba.templates.as_mut() {
            templates.reverse();
        }
    }
    let reordered = shuffled.plan();
    assert_eq!(
        serde_json::to_value(&first.numbers).unwrap(),
        serde_json::to_value(&reordered.numbers).unwrap()
    );
    assert_eq!(first.unmanaged, reordered.unmanaged);

    let mut moved = scenario_actions();
    for number in &mut moved.desired.numbers {
        number.line += 7;
    }
    assert_eq!(moved.plan().digest, first.digest, "manifest lines are not part of the digest");
}

#[test]
fn a_plan_never_carries_the_pin_reference() {
    let plan = scenario_actions().plan();
    let rendered = format!("{}{}{}", json(&plan), markdown(&plan), text(&plan, &Styles::plain()));
    assert!(!rendered.contains("WAMIG_PIN"));
}

#[test]
fn text_is_coloured_only_when_styles_allow() {
    let plan = scenario_actions().plan();
    assert!(!text(&plan, &Styles::plain()).contains('\u{1b}'));
    assert!(text(&plan, &Styles::new(true)).contains('\u{1b}'));
}

#[test]
fn json_round_trips() {
    let plan = scenario_actions().plan();
    let back: Plan = serde_json::from_str(&json(&plan)).unwrap();
    assert_eq!(back, plan);
}

#[test]
fn markdown_of_5000_numbers_fits_a_github_comment_and_keeps_the_summary() {
    let mut world = World::new();
    for i in 0..5000 {
        let phone = format!("+1631{:07}", 1_000_000 + i);
        world.list(SOURCE, live_number(&phone, &format!("2{i:014}")));
        world.want(&phone, DEST, Some(SOURCE));
        if i % 3 == 0 {
            // A third are blocked: their details must come first.
            world.waba(SOURCE).numbers.as_mut().unwrap()[i].is_pin_enabled = Some(true);
        }
    }
    for i in 0..300 {
        world.list(DEST, live_number(&format!("+1632{:07}", 1_000_000 + i), &format!("3{i:014}")));
    }
    let plan = world.plan();
    assert_eq!(plan.summary.blocked, 1667);
    let md = markdown(&plan);
    assert!(md.chars().count() < MAX_CHARS, "{} characters", md.chars().count());
    assert!(md.len() < MAX_CHARS);
    assert!(md.contains("| 3333 | 0 | 0 | 1667 | 300 |"), "the summary table is whole");
    assert!(md.contains(&plan.digest));
    assert!(md.contains("- `+16321000000` in WABA"), "some unmanaged numbers are listed");
    assert!(md.contains("more numbers not listed in this table"));
    assert!(
        md.contains("more numbers cut to fit the comment; run `wamig show plan.json` or see the JSON plan")
    );
    let first_details = md.find("<details>\n<summary><b>").unwrap();
    assert!(md[first_details..].starts_with("<details>\n<summary><b>!</b>"), "blocked details first");
    assert!(md.ends_with("see the JSON plan.*\n"));
}

#[test]
fn markdown_escapes_text_read_from_graph() {
    let mut world = ready();
    world.waba(SOURCE).numbers.as_mut().unwrap()[0].verified_name = Some("</details> *Acme* | `x".into());
    world.waba(SOURCE).numbers.as_mut().unwrap()[0].name_status = Some("DECLINED".into());
    let md = markdown(&world.plan());
    // Structure lines stay balanced; inside the fenced diff the name is literal code.
    let closing = md.lines().filter(|line| *line == "</details>").count();
    assert_eq!(closing, md.matches("<details>").count());
    assert!(md.contains("\n display name: </details> *Acme* | `x (DECLINED)\n"));
    assert!(md.contains("&lt;/details&gt; \\*Acme\\* \\| \\`x"), "escaped outside code");
}

// ---------------------------------------------------------------------------------------------
// Scenarios, snapshotted in all three renderings

/// One number per action, and an unmanaged one.
fn scenario_actions() -> World {
    let mut world = World::new();
    // Migrate: eligible, templates to duplicate.
    world.list(SOURCE, live_number(A, "200000000000001"));
    world.want(A, DEST, Some(SOURCE));
    world.waba(SOURCE).templates = Some(vec![
        template("order_update", "APPROVED", "GREEN"),
        template("welcome", "APPROVED", "GREEN"),
        template("spring_sale", "APPROVED", "YELLOW"),
        template("draft_offer", "PENDING", "UNKNOWN"),
    ]);
    world.waba(DEST).templates = Some(vec![template("welcome", "APPROVED", "GREEN")]);
    // Resume: initiated, code awaited.
    world.list(SOURCE, live_number(B, "200000000000002"));
    world.list(DEST, initiated_number(B, "300000000000002"));
    world.want(B, DEST, Some(SOURCE));
    world.code_requested(B, DEST, "2026-09-11T09:55:00Z").initiated_at = Some(at("2026-09-11T09:54:00Z"));
    // In sync.
    world.list(DEST, live_number(C, "300000000000003"));
    world.list(SOURCE, migrated_number(C, "200000000000003"));
    world.want(C, DEST, Some(SOURCE));
    // Blocked: two-step verification on, display name pending.
    let mut blocked = live_number(D, "200000000000004");
    blocked.is_pin_enabled = Some(true);
    blocked.new_name_status = Some("PENDING_REVIEW".into());
    world.list(SOURCE, blocked);
    world.want(D, DEST, Some(SOURCE));
    // Unmanaged.
    world.list(DEST, live_number("+1 631-555-0199", "300000000000099"));
    world
}

#[test]
fn scenario_each_action() {
    let plan = scenario_actions().plan();
    let actions: Vec<Action> = plan.numbers.iter().map(|n| n.action).collect();
    assert_eq!(actions, [Action::Migrate, Action::Resume, Action::InSync, Action::Blocked]);
    snapshot_all("each_action", &plan);
}

/// A migration seen at every stage: initiated without a code, code awaited, verified but not
/// registered, registered, and verified with `register: false`.
#[test]
fn scenario_mid_migration() {
    let mut world = World::new();
    world.list(SOURCE, live_number(A, "200000000000001"));
    world.list(DEST, initiated_number(A, "300000000000001"));
    world.want(A, DEST, Some(SOURCE));
    world.record(A, DEST).initiated_at = Some(at("2026-09-11T09:00:00Z"));

    world.list(SOURCE, live_number(B, "200000000000002"));
    world.list(DEST, initiated_number(B, "300000000000002"));
    world.want(B, DEST, Some(SOURCE));
    world.code_requested(B, DEST, "2026-09-11T09:58:00Z").phone_number_id = Some("300000000000002".into());

    world.list(SOURCE, migrated_number(C, "200000000000003"));
    world.list(DEST, verified_number(C, "300000000000003"));
    world.want(C, DEST, Some(SOURCE));
    {
        let record = world.code_requested(C, DEST, "2026-09-11T08:00:00Z");
        record.verified_at = Some(at("2026-09-11T08:03:00Z"));
        record.register_attempts = vec![at("2026-09-11T08:04:00Z")];
        record.last_error = Some(crate::journal::RecordedError {
            at: at("2026-09-11T08:04:00Z"),
            step: crate::migration::Step::Register,
            class: Some(crate::graph::ErrorClass::DisplayNameProvisioning),
            code: Some(100),
            subcode: Some(2388001),
            message: "Cannot Create Certificate".into(),
            fbtrace_id: Some("AbCdEf123".into()),
        });
    }

    world.list(DEST, live_number(D, "300000000000004"));
    world.want(D, DEST, Some(SOURCE));

    world.list(DEST, verified_number(E, "300000000000005"));
    world.want(E, DEST, Some(SOURCE)).register = false;

    let plan = world.plan();
    let actions: Vec<Action> = plan.numbers.iter().map(|n| n.action).collect();
    assert_eq!(actions, [Action::Resume, Action::Resume, Action::Resume, Action::InSync, Action::InSync]);
    assert_eq!(plan.numbers[0].steps[0], Step::RequestCode);
    assert_eq!(plan.numbers[1].steps[0], Step::VerifyCode);
    assert_eq!(plan.numbers[2].steps, [Step::Register, Step::VerifyTemplates]);
    snapshot_all("mid_migration", &plan);
}

/// Several failures at once, on three numbers: destination unreadable; a number that fails
/// every number check; a source of another business that does not list the number.
#[test]
fn scenario_blocked() {
    let mut world = World::new();
    let locked = "104996122399999";
    world.destination(locked, Some("acme-eu"));
    world.put(unreadable(locked, "(#200) Permissions error"));
    world.list(SOURCE, live_number(A, "200000000000001"));
    world.want(A, locked, Some(SOURCE));

    let mut bad = live_number(B, "200000000000002");
    bad.name_status = Some("PENDING_REVIEW".into());
    bad.account_mode = Some("SANDBOX".into());
    bad.is_on_biz_app = Some(true);
    bad.is_pin_enabled = Some(true);
    world.list(SOURCE, bad);
    world.want(B, DEST, Some(SOURCE));

    let elsewhere = "102289599300000";
    let mut other = waba(elsewhere, "Other BSP");
    other.owner_business = Some(BusinessRef { id: "999000111".into(), name: Some("Someone Else".into()) });
    other.account_review_status = Some("REJECTED".into());
    world.put(other);
    world.list(SOURCE, live_number(C, "200000000000003"));
    world.want(C, DEST, Some(elsewhere));

    let plan = world.plan();
    assert_eq!(plan.summary.blocked, 3);
    assert_eq!(failing(&plan, A), ["destination.access"]);
    assert_eq!(
        failing(&plan, B),
        ["number.name_status", "number.test_number", "number.business_app", "number.two_step_verification"]
    );
    assert_eq!(failing(&plan, C), ["source.review", "same_business", "number.in_source"]);
    snapshot_all("blocked", &plan);
}

/// What the token could not see: permissions, an unreadable source, missing fields, a number
/// whose source nobody names, and unreadable templates and webhooks on the destination.
#[test]
fn scenario_unknowns() {
    let mut world = World::new();
    world.snapshot.token =
        TokenView { permissions: None, unknown_reason: Some("debug_token needs an app token".into()) };
    world.waba(DEST).payment_method = Presence::Unknown;
    world.waba(DEST).subscribed_apps = None;
    world.waba(DEST).templates = None;
    let hidden = "102289599311111";
    world.put(unreadable(hidden, "(#100) Object does not exist or missing permissions"));
    world.want(A, DEST, Some(hidden));

    let mut sparse = live_number(B, "200000000000002");
    sparse.name_status = None;
    sparse.new_name_status = None;
    sparse.account_mode = None;
    sparse.is_on_biz_app = None;
    sparse.is_pin_enabled = None;
    sparse.platform_type = None;
    world.list(SOURCE, sparse);
    world.waba(SOURCE).owner_business = None;
    world.waba(SOURCE).business_verification_status = None;
    world.want(B, DEST, Some(SOURCE));

    world.want(C, DEST, None);

    let plan = world.plan();
    assert_eq!(plan.summary.migrate, 3);
    assert_eq!(plan.summary.blocked, 0);
    snapshot_all("unknowns", &plan);
}

/// A full destination: room for two, four eligible; a same-name template in the destination
/// counts as there whatever its category or status; ineligible ones say why.
#[test]
fn scenario_templates() {
    let mut world = ready();
    let mut dest: Vec<_> =
        (0..247).map(|i| template(&format!("promo_{i:03}"), "APPROVED", "GREEN")).collect();
    let mut recategorised = template("order_update", "REJECTED", "UNKNOWN");
    recategorised.category = Some("MARKETING".into());
    dest.push(recategorised);
    dest.push(template("old_notice", "DELETED", "UNKNOWN"));
    world.waba(DEST).templates = Some(dest);
    let mut es = template("welcome", "REJECTED", "UNKNOWN");
    es.language = Some("es_ES".into());
    world.waba(SOURCE).templates = Some(vec![
        template("welcome", "APPROVED", "GREEN"),
        es,
        template("order_update", "APPROVED", "GREEN"),
        template("shipping_notice", "APPROVED", "GREEN"),
        template("zz_survey", "APPROVED", "GREEN"),
        template("appointment_reminder", "APPROVED", "GREEN"),
        template("flash_sale", "APPROVED", "RED"),
        template("new_offer", "PENDING", "UNKNOWN"),
        template("paused_one", "PAUSED", "YELLOW"),
    ]);
    let plan = world.plan();
    let forecast = plan.numbers[0].templates.as_ref().unwrap();
    assert_eq!(forecast.eligible, 5);
    assert_eq!(forecast.already_in_destination, 1);
    assert_eq!(forecast.destination_room, 2);
    assert_eq!(forecast.left_out, ["welcome (en_US)", "zz_survey (en_US)"]);
    snapshot_all("templates", &plan);
}

/// `templates: { ensure: true }`: what is missing in the destination from each source, by the
/// method the businesses allow: migrated (same business, GREEN and UNKNOWN quality), re-created
/// (another business, media headers excepted), left out by the limit, left alone by `except`,
/// and what cannot be known.
#[test]
fn scenario_templates_ensure() {
    let mut world = ready();
    world.ensure_templates(DEST, &["winback_offer"]);
    let mut dest: Vec<_> =
        (0..244).map(|i| template(&format!("promo_{i:03}"), "APPROVED", "GREEN")).collect();
    dest.push(template("welcome", "APPROVED", "GREEN"));
    dest.push(template("spring_sale", "REJECTED", "UNKNOWN"));
    dest.push(template("old_notice", "DELETED", "UNKNOWN"));
    world.waba(DEST).templates = Some(dest);
    let mut welcome_es = template("welcome", "APPROVED", "UNKNOWN");
    welcome_es.language = Some("es_ES".into());
    world.waba(SOURCE).templates = Some(vec![
        template("welcome", "APPROVED", "GREEN"),
        welcome_es,
        template("spring_sale", "APPROVED", "GREEN"),
        template("order_update", "APPROVED", "GREEN"),
        with_media_header(template("catalog_drop", "APPROVED", "UNKNOWN")),
        template("zz_survey", "APPROVED", "GREEN"),
        template("loyalty_points", "APPROVED", "YELLOW"),
        template("new_offer", "PENDING", "UNKNOWN"),
        template("winback_offer", "APPROVED", "GREEN"),
    ]);
    // A second source run for another business: its templates can only be submitted anew.
    let other = "102289599333333";
    let mut other_waba = waba(other, "Acme Outlet");
    other_waba.owner_business =
        Some(BusinessRef { id: "999999999999999".into(), name: Some("Outlet Co".into()) });
    other_waba.templates = Some(vec![
        template("store_hours", "APPROVED", "GREEN"),
        with_media_header(template("flyer", "APPROVED", "GREEN")),
        template("order_update", "APPROVED", "GREEN"),
        template("zz_extra", "APPROVED", "GREEN"),
    ]);
    world.put(other_waba);
    world.list(other, live_number(B, "200000000000002"));
    world.want(B, DEST, Some(other));
    world.want(C, DEST, None);

    let plan = world.plan();
    let templates = &plan.destinations[0].templates;
    let names = |list: &[crate::plan::PlannedTemplate]| list.iter().map(|t| t.display()).collect::<Vec<_>>();
    // Room for 4 new names, taken source by source in name order; welcome (es_ES) is a
    // translation of a name already there and takes no slot; order_update is the first
    // source's.
    assert_eq!(
        names(&templates.to_migrate),
        ["catalog_drop (en_US)", "order_update (en_US)", "welcome (es_ES)", "zz_survey (en_US)"]
    );
    assert_eq!(names(&templates.to_recreate), ["store_hours (en_US)"]);
    assert_eq!(names(&templates.left_out), ["zz_extra (en_US)"]);
    assert_eq!(templates.present, ["spring_sale (en_US) [REJECTED there]", "welcome (en_US)"]);
    assert_eq!(templates.excepted, ["winback_offer (en_US)"]);
    let cannot: Vec<&str> = templates.cannot.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(cannot, ["loyalty_points (en_US)", "new_offer (en_US)", "flyer (en_US)"]);
    assert!(!templates.known, "the source of C is not known");
    assert_eq!(plan.summary.templates, 5);
    assert!(plan.numbers[0].templates.as_ref().unwrap().managed);
    snapshot_all("templates_ensure", &plan);
}

#[test]
fn ensured_templates_all_there_are_in_sync_and_only_missing_ones_are_changes() {
    let mut world = World::new();
    world.list(DEST, live_number(A, "300000000000001"));
    world.want(A, DEST, Some(SOURCE));
    world.ensure_templates(DEST, &[]);
    world.waba(SOURCE).templates = Some(vec![
        template("welcome", "APPROVED", "GREEN"),
        template("fresh", "APPROVED", "UNKNOWN"),
        template("draft", "PENDING", "UNKNOWN"),
    ]);
    world.waba(DEST).templates = Some(vec![template("welcome", "APPROVED", "UNKNOWN")]);
    let plan = world.plan();
    assert_eq!(plan.summary.in_sync, 1);
    assert_eq!(plan.summary.templates, 1, "fresh (UNKNOWN quality) is missing");
    assert!(plan.has_changes());
    assert_eq!(exit_status(&plan, true), ExitStatus::Changes);
    assert!(text(&plan, &Styles::plain()).contains("1 template to add."));

    world.waba(DEST).templates.as_mut().unwrap().push(template("fresh", "PENDING", "UNKNOWN"));
    let plan = world.plan();
    assert_eq!(plan.summary.templates, 0);
    assert!(!plan.has_changes());
    assert_eq!(exit_status(&plan, true), ExitStatus::Success);
    let shown = text(&plan, &Styles::plain());
    assert!(shown.contains("= templates of WABA 104996122399160 (acme-prod) are in sync: 2 already there, 1 cannot be migrated"), "{shown}");

    // Without `ensure`, the same world has no template section and no template changes.
    world.desired.destinations[0].templates = Default::default();
    world.waba(DEST).templates.as_mut().unwrap().pop();
    let plan = world.plan();
    assert!(plan.destinations.is_empty());
    assert!(!plan.has_changes());
    assert!(!json(&plan).contains("\"destinations\""));
}

#[test]
fn template_eligibility_for_duplication_and_for_the_migration_api() {
    use super::templates::{duplication_eligibility, migration_eligibility};
    let green = template("a", "APPROVED", "GREEN");
    let unknown = template("a", "APPROVED", "UNKNOWN");
    assert!(duplication_eligibility(&green).is_ok() && migration_eligibility(&green).is_ok());
    assert_eq!(duplication_eligibility(&unknown), Err("quality UNKNOWN".into()));
    assert!(migration_eligibility(&unknown).is_ok());
    assert_eq!(migration_eligibility(&template("a", "APPROVED", "YELLOW")), Err("quality YELLOW".into()));
    assert_eq!(migration_eligibility(&template("a", "PAUSED", "GREEN")), Err("status PAUSED".into()));
    let mut silent = template("a", "APPROVED", "GREEN");
    silent.quality = None;
    assert_eq!(migration_eligibility(&silent), Err("quality not known".into()));
    assert!(with_media_header(green.clone()).has_media_header());
    assert!(!green.has_media_header());
}

/// Sources that list a number as MIGRATED: after verification (resume at register), as the
/// manifest's source although the number moved on (blocked), and as the only trace of a number
/// that now lives in a WABA wamig does not observe (migrate, source unknown).
#[test]
fn scenario_source_lists_migrated() {
    let mut world = World::new();
    world.list(SOURCE, migrated_number(A, "200000000000001"));
    world.list(DEST, verified_number(A, "300000000000001"));
    world.want(A, DEST, None);

    world.list(SOURCE, migrated_number(B, "200000000000002"));
    world.want(B, DEST, Some(SOURCE));

    let old = "102289599322222";
    world.put(waba(old, "Old BSP"));
    world.list(old, migrated_number(C, "200000000000003"));
    world.want(C, DEST, None);

    let plan = world.plan();
    let actions: Vec<Action> = plan.numbers.iter().map(|n| n.action).collect();
    assert_eq!(actions, [Action::Resume, Action::Blocked, Action::Migrate]);
    // Once verified, the one WABA listing it as MIGRATED is where it came from.
    assert_eq!(plan.numbers[0].source_waba.as_deref(), Some(SOURCE));
    assert_eq!(failing(&plan, B), ["number.in_source"]);
    assert_eq!(plan.numbers[2].source_waba, None);
    snapshot_all("source_migrated", &plan);
}

#[test]
fn scenario_nothing_to_do() {
    let mut world = World::new();
    world.list(DEST, live_number(A, "300000000000001"));
    world.want(A, DEST, Some(SOURCE));
    let plan = world.plan();
    assert!(plan.notes.is_empty(), "no billing note when nothing moves");
    assert_eq!(exit_status(&plan, true), ExitStatus::Success);
    snapshot_all("nothing_to_do", &plan);
}

#[test]
fn unreadable_destination_access_is_a_failure_but_source_access_is_unknown() {
    let mut world = ready();
    world.put(unreadable(SOURCE, "(#200) Permissions error"));
    assert_eq!(status_of(&world.plan(), A, "source.access"), CheckStatus::Unknown);
    world.put(unreadable(DEST, "(#200) Permissions error"));
    let plan = world.plan();
    assert_eq!(status_of(&plan, A, "destination.access"), CheckStatus::Fail);
    let check = plan.numbers[0].checks.iter().find(|c| c.id == "destination.access").unwrap();
    assert!(check.hint.as_deref().unwrap().contains("whatsapp_business_management"));
    assert!(matches!(world.snapshot.wabas[DEST].access, Access::Unreadable { .. }));
}
