//! Owns the planner: the pure function `(desired state, snapshot, journal, now) -> Plan`, the
//! eligibility checks and the template forecast. It must not perform I/O or read the clock (time
//! comes in as `now`, and only `created_at` depends on it, so re-planning later against the same
//! live state yields the same digest). It never copies a secret into the plan: PIN references
//! stay in the manifest and codes never reach here.

use std::collections::BTreeSet;

use jiff::Timestamp;

use super::model::{
    Action, Check, CheckStatus, DEFAULT_TTL_SECONDS, FORMAT_VERSION, NumberPlan, Plan, Step, Summary,
    TemplateForecast, Unmanaged,
};
use crate::ExitStatus;
use crate::journal::{CODE_COOLDOWN, Journal, NumberRecord};
use crate::manifest::{DesiredNumber, DesiredState};
use crate::observe::{Access, NumberView, Presence, Snapshot, WabaView};

/// Meta's default per-WABA template limit (names; translations count once).
pub const TEMPLATE_LIMIT: usize = 250;
pub const PERMISSION_MANAGEMENT: &str = "whatsapp_business_management";
pub const PERMISSION_MESSAGING: &str = "whatsapp_business_messaging";

pub const BILLING_NOTE: &str = "messages sent after the migration are billed to the destination's business; \
     those sent before it stay billed to the source's, even when delivered later";
pub const ON_PREMISE_NOTE: &str =
    "media and message history do not move when either side is on the On-Premises API";

/// Stable check ids, in the order every number lists them.
pub const CHECK_IDS: [&str; 17] = [
    "token.permissions",
    "destination.access",
    "destination.review",
    "destination.verification",
    "destination.payment_method",
    "destination.webhooks",
    "source.known",
    "source.access",
    "source.review",
    "source.verification",
    "same_business",
    "number.in_source",
    "number.name_status",
    "number.pending_name_change",
    "number.test_number",
    "number.business_app",
    "number.two_step_verification",
];

const TWO_STEP_HINT: &str =
    "turn off two-step verification in WhatsApp Manager: Phone numbers → Two-step verification → Turn off";
/// The same reminder when wamig cannot see the setting: only a person can check and turn it off.
const TWO_STEP_UNKNOWN_HINT: &str = "if two-step verification is on, turn it off in WhatsApp Manager: Phone numbers → Two-step verification → Turn off (the migration fails otherwise, and wamig cannot do it)";

/// Compares the desired state with what was observed (and what the journal remembers) and says,
/// per number, what remains to be done.
pub fn plan(
    desired: &DesiredState,
    manifest_digest: &str,
    snapshot: &Snapshot,
    journal: &Journal,
    now: Timestamp,
) -> Plan {
    let numbers: Vec<NumberPlan> =
        desired.numbers.iter().map(|number| plan_number(number, desired, snapshot, journal)).collect();
    let unmanaged = unmanaged(desired, snapshot);
    let count = |action: Action| numbers.iter().filter(|n| n.action == action).count();
    let summary = Summary {
        migrate: count(Action::Migrate),
        resume: count(Action::Resume),
        in_sync: count(Action::InSync),
        blocked: count(Action::Blocked),
        unmanaged: unmanaged.len(),
    };
    let mut notes = Vec::new();
    if numbers.iter().any(|n| n.action != Action::InSync) {
        notes.push(BILLING_NOTE.to_owned());
    }
    // Whole seconds: a reviewer reads this, and sub-second noise helps nobody.
    let created_at = Timestamp::from_second(now.as_second()).unwrap_or(now);
    let mut plan = Plan {
        format_version: FORMAT_VERSION,
        summary,
        numbers,
        unmanaged,
        digest: String::new(),
        manifest_digest: manifest_digest.to_owned(),
        snapshot_digest: snapshot.digest(),
        created_at: created_at.to_string(),
        ttl_seconds: DEFAULT_TTL_SECONDS,
        api_version: snapshot.api_version.clone(),
        notes,
    };
    plan.digest = plan_digest(&plan);
    plan
}

/// SHA-256 of the plan's JSON with `digest` and `created_at` emptied and manifest lines dropped:
/// two plans with the same content have the same digest whenever they were made and however the
/// manifest was laid out.
pub fn plan_digest(plan: &Plan) -> String {
    let mut canonical = plan.clone();
    canonical.digest.clear();
    canonical.created_at.clear();
    for number in &mut canonical.numbers {
        number.manifest_line = None;
    }
    crate::digest::of_json(&canonical)
}

/// `plan`'s exit status (DESIGN §2): blocked outranks changes, which count only when asked for.
pub fn exit_status(plan: &Plan, detailed: bool) -> ExitStatus {
    if plan.has_blocked() {
        ExitStatus::Blocked
    } else if detailed && plan.has_changes() {
        ExitStatus::Changes
    } else {
        ExitStatus::Success
    }
}

/// Where the number stands in its destination.
#[derive(Clone, Copy)]
enum Stage<'a> {
    NotStarted,
    /// Listed by the destination, ownership not verified yet.
    Initiated(&'a NumberView),
    Verified(&'a NumberView),
}

/// Everything about one number the checks and lines read.
struct Ctx<'a> {
    number: &'a DesiredNumber,
    snapshot: &'a Snapshot,
    dest_id: &'a str,
    dest_name: Option<String>,
    /// `None` when the destination was not observed at all.
    dest: Option<&'a WabaView>,
    stage: Stage<'a>,
    source_id: Option<&'a str>,
    source_from_manifest: bool,
    source: Option<&'a WabaView>,
    /// The source's listing of the number, whatever its status.
    source_listing: Option<&'a NumberView>,
    /// The node the number checks read (source while it holds the number, else destination).
    node: Option<&'a NumberView>,
    /// Other observed WABAs (not the destination) listing the number and not as MIGRATED.
    live_elsewhere: Vec<&'a str>,
    record: Option<&'a NumberRecord>,
}

impl Ctx<'_> {
    fn e164(&self) -> String {
        self.number.phone.e164()
    }

    fn dest_label(&self) -> String {
        waba_label(self.dest_id, self.dest_name.as_deref())
    }

    fn source_label(&self) -> Option<String> {
        self.source_id.map(|id| waba_label(id, self.source.and_then(|w| w.name.as_deref())))
    }

    fn code_awaited(&self) -> Option<&crate::journal::CodeRequest> {
        self.record?.unspent_code_request()
    }

    /// This journal saw this very node verified in the destination: the number has left its
    /// source, so the source-side eligibility no longer applies even if Meta asks for ownership
    /// again. A record without the node's id may be of an earlier attempt, which says nothing.
    fn verified_once(&self) -> bool {
        let Stage::Initiated(node) = self.stage else { return false };
        self.record.is_some_and(|r| r.verified_at.is_some() && r.phone_number_id.as_deref() == Some(&node.id))
    }

    fn will_register(&self) -> bool {
        self.number.register
    }
}

fn waba_label(id: &str, name: Option<&str>) -> String {
    match name {
        Some(name) if !name.trim().is_empty() => format!("WABA {id} ({name})"),
        _ => format!("WABA {id}"),
    }
}

fn plan_number(
    number: &DesiredNumber,
    desired: &DesiredState,
    snapshot: &Snapshot,
    journal: &Journal,
) -> NumberPlan {
    let ctx = context(number, desired, snapshot, journal);
    let e164 = ctx.e164();

    let (mut action, steps, phone_number_id) = match ctx.stage {
        Stage::Verified(node) if node.is_registered() || !number.register => {
            (Action::InSync, Vec::new(), Some(node.id.clone()))
        }
        Stage::Verified(node) => {
            (Action::Resume, vec![Step::Register, Step::VerifyTemplates], Some(node.id.clone()))
        }
        Stage::Initiated(node) => {
            let mut steps = Vec::new();
            if ctx.code_awaited().is_none() {
                steps.push(Step::RequestCode);
            }
            steps.push(Step::VerifyCode);
            if number.register {
                steps.push(Step::Register);
            }
            steps.push(Step::VerifyTemplates);
            (Action::Resume, steps, Some(node.id.clone()))
        }
        Stage::NotStarted => {
            let mut steps = vec![Step::InitiateMigration, Step::RequestCode, Step::VerifyCode];
            if number.register {
                steps.push(Step::Register);
            }
            steps.push(Step::VerifyTemplates);
            (Action::Migrate, steps, None)
        }
    };

    // Eligibility gates only the steps before verification (DESIGN §5).
    let gated = !matches!(ctx.stage, Stage::Verified(_)) && !ctx.verified_once();
    let checks = if gated { checks(&ctx) } else { Vec::new() };
    if checks.iter().any(|c| c.status == CheckStatus::Fail) {
        action = Action::Blocked;
    }

    let awaiting = matches!(ctx.stage, Stage::Initiated(_)).then(|| ctx.code_awaited()).flatten();
    let templates = match action {
        Action::InSync => ctx.source.filter(|s| s.templates.is_some()).map(|_| forecast(&ctx)),
        _ => Some(forecast(&ctx)),
    };
    let (current, desired_lines) = lines(&ctx);
    let drift = super::drift::drift(&super::drift::Input {
        e164: &e164,
        digits: number.phone.digits(),
        action,
        register: number.register,
        destination_waba: ctx.dest_id,
        destination: ctx.dest,
        record: ctx.record,
        snapshot,
    });

    NumberPlan {
        phone: e164,
        destination_waba: number.destination_waba.clone(),
        destination_name: ctx.dest_name.clone(),
        source_waba: ctx.source_id.map(str::to_owned),
        action,
        checks,
        steps,
        phone_number_id,
        awaiting_code: awaiting.is_some(),
        code_requested_at: awaiting.map(|request| request.at.to_string()),
        code_method: number.code_method.as_str().to_owned(),
        language: number.language.clone(),
        register: number.register,
        current,
        desired: desired_lines,
        templates,
        notes: notes(&ctx, action),
        drift,
        manifest_line: (number.line > 0).then_some(number.line),
    }
}

fn context<'a>(
    number: &'a DesiredNumber,
    desired: &'a DesiredState,
    snapshot: &'a Snapshot,
    journal: &'a Journal,
) -> Ctx<'a> {
    let digits = number.phone.digits();
    let dest_id = number.destination_waba.as_str();
    let dest = snapshot.waba(dest_id);
    let dest_name = desired
        .destinations
        .iter()
        .find(|d| d.waba == dest_id)
        .and_then(|d| d.name.clone())
        .or_else(|| dest.and_then(|w| w.name.clone()));
    // A destination listing the number as MIGRATED once held it and lost it: the number is not
    // there now, so it is as if never started.
    let dest_node = dest.and_then(|w| w.number(digits)).filter(|n| !n.is_migrated_away());
    let stage = match dest_node {
        Some(node) if node.is_verified() => Stage::Verified(node),
        Some(node) => Stage::Initiated(node),
        None => Stage::NotStarted,
    };

    let live_elsewhere: Vec<&str> = snapshot
        .wabas_listing(digits)
        .filter(|(waba, node)| waba.id != dest_id && !node.is_migrated_away())
        .map(|(waba, _)| waba.id.as_str())
        .collect();
    // Once verified, the number has left its source, which lists it as MIGRATED (or forgets it):
    // a single such listing says where it came from.
    let came_from = || {
        let mut gone = snapshot
            .wabas_listing(digits)
            .filter(|(waba, node)| waba.id != dest_id && node.is_migrated_away())
            .map(|(waba, _)| waba.id.as_str());
        match (gone.next(), gone.next()) {
            (Some(id), None) if matches!(stage, Stage::Verified(_)) => Some(id),
            _ => None,
        }
    };
    let (source_id, source_from_manifest) = match &number.source_waba {
        Some(id) => (Some(id.as_str()), true),
        None => (live_elsewhere.first().copied().or_else(came_from), false),
    };
    let source = source_id.and_then(|id| snapshot.waba(id));
    let source_listing = source.and_then(|w| w.number(digits));
    let source_live = source_listing.filter(|n| !n.is_migrated_away());
    let node = match stage {
        Stage::NotStarted => source_live,
        // Until verified the source still holds the number and answers for it.
        Stage::Initiated(dest_node) => source_live.or(Some(dest_node)),
        Stage::Verified(dest_node) => Some(dest_node),
    };
    let record = journal.get(&number.phone.e164()).filter(|record| {
        // A record for another destination, or for another attempt at this one, says nothing
        // about the migration under way now.
        record.destination_waba == dest_id
            && match (&record.phone_number_id, dest_node) {
                (Some(recorded), Some(node)) => *recorded == node.id,
                _ => true,
            }
    });
    Ctx {
        number,
        snapshot,
        dest_id,
        dest_name,
        dest,
        stage,
        source_id,
        source_from_manifest,
        source,
        source_listing,
        node,
        live_elsewhere,
        record,
    }
}

// ---------------------------------------------------------------------------------------------
// Checks

fn pass(id: &str, message: String) -> Check {
    Check { id: id.to_owned(), status: CheckStatus::Pass, message, hint: None }
}

fn fail(id: &str, message: String, hint: String) -> Check {
    Check { id: id.to_owned(), status: CheckStatus::Fail, message, hint: Some(hint) }
}

fn unknown(id: &str, message: String, hint: String) -> Check {
    Check { id: id.to_owned(), status: CheckStatus::Unknown, message, hint: Some(hint) }
}

fn checks(ctx: &Ctx<'_>) -> Vec<Check> {
    let dest_label = ctx.dest_label();
    let mut checks = vec![
        token_check(ctx),
        access_check("destination.access", &dest_label, ctx.dest_id, ctx.dest),
        review_check("destination.review", &dest_label, ctx.dest_id, ctx.dest),
        verification_check("destination.verification", &dest_label, ctx.dest_id, ctx.dest),
        payment_check(&dest_label, ctx.dest_id, ctx.dest),
        webhooks_check(ctx, &dest_label),
        source_known_check(ctx),
    ];
    match (ctx.source_id, ctx.source_label()) {
        (Some(id), Some(label)) => {
            checks.push(access_check("source.access", &label, id, ctx.source));
            checks.push(review_check("source.review", &label, id, ctx.source));
            checks.push(verification_check("source.verification", &label, id, ctx.source));
        }
        _ => {
            for id in ["source.access", "source.review", "source.verification"] {
                checks.push(unknown(
                    id,
                    "no source WABA is known, so it could not be checked".into(),
                    source_hint(ctx),
                ));
            }
        }
    }
    checks.push(same_business_check(ctx, &dest_label));
    checks.push(in_source_check(ctx));
    checks.extend(number_checks(ctx));
    checks
}

fn source_hint(ctx: &Ctx<'_>) -> String {
    format!(
        "add `source_waba: \"<id>\"` to {} in the manifest (the WABA that holds it now) so wamig can check the source side",
        ctx.e164()
    )
}

fn token_check(ctx: &Ctx<'_>) -> Check {
    const ID: &str = "token.permissions";
    let mut needed = vec![PERMISSION_MANAGEMENT];
    if ctx.will_register() {
        needed.push(PERMISSION_MESSAGING);
    }
    let needed_text = needed.join(" and ");
    match &ctx.snapshot.token.permissions {
        None => unknown(
            ID,
            match &ctx.snapshot.token.unknown_reason {
                Some(reason) => format!("the token's permissions could not be read: {reason}"),
                None => "the token's permissions could not be read".into(),
            },
            format!(
                "make sure the system user's token has {needed_text} (check it with Meta's Access Token Debugger)"
            ),
        ),
        Some(granted) => {
            let missing: Vec<&str> =
                needed.iter().copied().filter(|p| !granted.iter().any(|g| g == p)).collect();
            if missing.is_empty() {
                pass(ID, format!("the token has {needed_text}"))
            } else {
                let lacks_management = missing.contains(&PERMISSION_MANAGEMENT);
                let why = if lacks_management {
                    "every migration call needs whatsapp_business_management"
                } else {
                    "register needs whatsapp_business_messaging"
                };
                let mut hint = format!(
                    "generate a new system-user token with {} (Business settings → Users → System users → Generate new token)",
                    missing.join(" and ")
                );
                if !lacks_management {
                    hint.push_str(", or set `register: false` if the number must not be registered");
                }
                fail(ID, format!("the token lacks {} ({why})", missing.join(" and ")), hint)
            }
        }
    }
}

fn access_hint(id: &str) -> String {
    format!(
        "grant the token access to WABA {id}: in Business settings → Users → System users, assign the WABA to the system user with full control, and make sure the token has {PERMISSION_MANAGEMENT}"
    )
}

fn access_check(check_id: &str, label: &str, id: &str, waba: Option<&WabaView>) -> Check {
    match waba.map(|w| &w.access) {
        None => unknown(
            check_id,
            format!("{label} was not observed"),
            format!("run `wamig plan` again; if this persists, check that WABA {id} exists"),
        ),
        // wamig acts on the destination, so it must read it; the source often belongs to another
        // partner, and not seeing it only leaves its checks to Meta.
        Some(Access::Unreadable { reason }) if check_id.starts_with("destination") => {
            fail(check_id, format!("the token cannot read {label}: {reason}"), access_hint(id))
        }
        Some(Access::Unreadable { reason }) => unknown(
            check_id,
            format!("the token cannot read {label}: {reason}"),
            format!(
                "{}; or ask the source's owner to confirm the source-side requirements (number in the WABA, name approved, two-step verification off, WABA approved and verified)",
                access_hint(id)
            ),
        ),
        Some(Access::Readable) if waba.is_some_and(|w| w.numbers.is_none()) => unknown(
            check_id,
            format!("{label} is readable but its phone numbers could not be listed"),
            access_hint(id),
        ),
        Some(Access::Readable) => pass(check_id, format!("the token can read {label} and its phone numbers")),
    }
}

/// A WABA field check's verdict when the WABA itself could not be read: unknown, pointing at
/// the access check rather than repeating its hint.
fn unreadable(check_id: &str, label: &str, id: &str, waba: Option<&WabaView>) -> Option<Check> {
    let side = check_id.split('.').next().unwrap_or(check_id);
    match waba.map(|w| &w.access) {
        None => Some(unknown(
            check_id,
            format!("{label} was not observed"),
            format!("run `wamig plan` again; if this persists, check that WABA {id} exists"),
        )),
        Some(Access::Unreadable { .. }) => Some(unknown(
            check_id,
            format!("{label} cannot be read by the token, so this could not be checked"),
            format!(
                "fix {side}.access first (grant the token access to WABA {id}), or check this in WhatsApp Manager"
            ),
        )),
        Some(Access::Readable) => None,
    }
}

fn review_check(check_id: &str, label: &str, id: &str, waba: Option<&WabaView>) -> Check {
    if let Some(check) = unreadable(check_id, label, id, waba) {
        return check;
    }
    match waba.and_then(|w| w.account_review_status.as_deref()) {
        Some(status) if status.eq_ignore_ascii_case("APPROVED") => {
            pass(check_id, format!("{label} has account review status APPROVED"))
        }
        Some(status) => fail(
            check_id,
            format!("{label} has account review status {status}, not APPROVED"),
            format!(
                "WABA {id} must pass Meta's account review: open it in WhatsApp Manager to see why it is {status}, fix that, and wait for approval"
            ),
        ),
        None => unknown(
            check_id,
            format!("Graph did not return account_review_status for {label}"),
            format!("check in WhatsApp Manager that WABA {id}'s account review is approved"),
        ),
    }
}

fn verification_check(check_id: &str, label: &str, id: &str, waba: Option<&WabaView>) -> Check {
    if let Some(check) = unreadable(check_id, label, id, waba) {
        return check;
    }
    match waba.and_then(|w| w.business_verification_status.as_deref()) {
        Some(status) if status.eq_ignore_ascii_case("verified") => {
            pass(check_id, format!("the business owning {label} is verified"))
        }
        Some(status) => fail(
            check_id,
            format!("the business owning {label} has business verification status {status}, not verified"),
            format!(
                "complete Meta Business Verification for the business that owns WABA {id} (Business settings → Security Center)"
            ),
        ),
        None => unknown(
            check_id,
            format!("Graph did not return business_verification_status for {label}"),
            format!(
                "check in Business settings → Security Center that the business owning WABA {id} is verified"
            ),
        ),
    }
}

fn payment_check(label: &str, id: &str, waba: Option<&WabaView>) -> Check {
    const ID: &str = "destination.payment_method";
    if let Some(check) = unreadable(ID, label, id, waba) {
        return check;
    }
    match waba.map(|w| w.payment_method).unwrap_or_default() {
        Presence::Present => pass(ID, format!("{label} has a payment method")),
        Presence::Absent => fail(
            ID,
            format!("{label} has no payment method (no primary_funding_id)"),
            format!(
                "add a payment method to WABA {id} in WhatsApp Manager, or share your credit line with it; Meta refuses the migration without one"
            ),
        ),
        Presence::Unknown => unknown(
            ID,
            format!("Graph did not return primary_funding_id for {label}"),
            format!("check in WhatsApp Manager that WABA {id} has a payment method"),
        ),
    }
}

fn webhooks_check(ctx: &Ctx<'_>, label: &str) -> Check {
    const ID: &str = "destination.webhooks";
    let id = ctx.dest_id;
    let platform = ctx.node.and_then(|n| n.platform_type.as_deref());
    // Meta asks for a subscribed app when the number is (or will be) on the Cloud API.
    let needed = if ctx.will_register() || platform == Some("CLOUD_API") {
        Some(true)
    } else if platform.is_some() {
        Some(false)
    } else {
        None
    };
    let subscribe_hint = format!(
        "subscribe your app to WABA {id}'s webhooks (`POST /{id}/subscribed_apps` with the app's token, or the App Dashboard's WhatsApp configuration); Meta refuses to migrate a Cloud API number without one"
    );
    if needed == Some(false) {
        return pass(
            ID,
            format!(
                "not required: {} is not on the Cloud API and will not be registered ({})",
                ctx.e164(),
                platform.unwrap_or_default()
            ),
        );
    }
    if let Some(check) = unreadable(ID, label, id, ctx.dest) {
        return check;
    }
    match ctx.dest.and_then(|w| w.subscribed_apps.as_ref()) {
        Some(apps) if !apps.is_empty() => {
            let names: Vec<String> =
                apps.iter().map(|a| a.name.clone().unwrap_or_else(|| format!("app {}", a.id))).collect();
            pass(ID, format!("{label} has webhooks subscribed: {}", names.join(", ")))
        }
        Some(_) if needed == Some(true) => {
            fail(ID, format!("no app is subscribed to the webhooks of {label}"), subscribe_hint)
        }
        Some(_) => unknown(
            ID,
            format!(
                "no app is subscribed to the webhooks of {label}, which a Cloud API number needs; the number's platform is unknown"
            ),
            subscribe_hint,
        ),
        None => unknown(
            ID,
            format!("the apps subscribed to {label} could not be read"),
            format!("check that an app is subscribed to WABA {id}'s webhooks (`GET /{id}/subscribed_apps`)"),
        ),
    }
}

fn source_known_check(ctx: &Ctx<'_>) -> Check {
    const ID: &str = "source.known";
    match ctx.source_id {
        Some(id) if ctx.source_from_manifest => pass(ID, format!("the manifest names source WABA {id}")),
        Some(id) => pass(
            ID,
            format!(
                "WABA {id} lists {} (found among the observed WABAs; not set in the manifest)",
                ctx.e164()
            ),
        ),
        None => unknown(
            ID,
            format!("the manifest gives no source_waba for {} and no observed WABA lists it", ctx.e164()),
            source_hint(ctx),
        ),
    }
}

fn same_business_check(ctx: &Ctx<'_>, dest_label: &str) -> Check {
    const ID: &str = "same_business";
    let Some(source_label) = ctx.source_label() else {
        return unknown(
            ID,
            "no source WABA is known, so the businesses could not be compared".into(),
            source_hint(ctx),
        );
    };
    let business = |b: &crate::observe::BusinessRef| match &b.name {
        Some(name) => format!("business {} ({name})", b.id),
        None => format!("business {}", b.id),
    };
    match (
        ctx.dest.and_then(|w| w.owner_business.as_ref()),
        ctx.source.and_then(|w| w.owner_business.as_ref()),
    ) {
        (Some(dest), Some(source)) if dest.id == source.id => {
            pass(ID, format!("{dest_label} and {source_label} both belong to {}", business(dest)))
        }
        (Some(dest), Some(source)) => fail(
            ID,
            format!("{dest_label} belongs to {}, {source_label} to {}", business(dest), business(source)),
            format!(
                "Meta migrates numbers only between WABAs of the same business: use a destination WABA owned by {}, or move the number with Embedded Signup instead",
                business(source)
            ),
        ),
        (dest, _) => {
            let unread = if dest.is_none() { dest_label } else { source_label.as_str() };
            unknown(
                ID,
                format!("the owning business of {unread} could not be read"),
                "check in Business settings that both WABAs belong to the same business; Meta refuses the migration otherwise".into(),
            )
        }
    }
}

fn in_source_check(ctx: &Ctx<'_>) -> Check {
    const ID: &str = "number.in_source";
    let e164 = ctx.e164();
    let (Some(source_id), Some(label)) = (ctx.source_id, ctx.source_label()) else {
        return unknown(ID, format!("no source WABA is known to list {e164}"), source_hint(ctx));
    };
    let readable = ctx.source.is_some_and(|w| w.is_readable() && w.numbers.is_some());
    if !readable {
        return unknown(
            ID,
            format!(
                "the phone numbers of {label} could not be read, so wamig cannot tell whether it holds {e164}"
            ),
            access_hint(source_id),
        );
    }
    let elsewhere: Vec<&str> = ctx.live_elsewhere.iter().copied().filter(|id| *id != source_id).collect();
    let instead = match elsewhere.as_slice() {
        [] => None,
        [one] => Some(format!("WABA {one} lists {e164}: set `source_waba: \"{one}\"`")),
        many => {
            Some(format!("WABAs {} list {e164}: set `source_waba` to the one that holds it", many.join(", ")))
        }
    };
    match ctx.source_listing {
        Some(node) if node.is_migrated_away() => fail(
            ID,
            format!("{label} lists {e164} as MIGRATED: the number has already moved to another WABA"),
            instead.unwrap_or_else(|| {
                "set `source_waba` to the WABA that holds the number now (WhatsApp Manager shows it)".into()
            }),
        ),
        Some(node) => pass(
            ID,
            format!(
                "{label} lists {e164} (id {}, status {})",
                node.id,
                node.status.as_deref().unwrap_or("unknown")
            ),
        ),
        None => fail(
            ID,
            format!("{label} does not list {e164}"),
            instead.unwrap_or_else(|| {
                "check `source_waba`; if the number is on no WABA at all, Meta will answer that it is \"eligible to be added directly\": add it to the destination with the normal registration instead of migrating it".into()
            }),
        ),
    }
}

fn number_checks(ctx: &Ctx<'_>) -> Vec<Check> {
    let e164 = ctx.e164();
    let Some(node) = ctx.node else {
        // One cause, one hint: the five checks below all wait on the same missing node.
        let (why, fix) = match (ctx.source_id, ctx.source) {
            (None, _) => {
                ("no source WABA is known".to_owned(), "add `source_waba` so wamig can read the number")
            }
            (Some(id), Some(w)) if w.is_readable() && w.numbers.is_some() => match ctx.source_listing {
                Some(_) => (format!("WABA {id} lists it as MIGRATED"), "fix number.in_source first"),
                None => (format!("WABA {id} does not list it"), "fix number.in_source first"),
            },
            (Some(id), _) => {
                (format!("WABA {id} cannot be read"), "grant the token access to the source WABA")
            }
        };
        let message = format!("{e164} could not be read: {why}");
        let hint = format!(
            "{fix}; meanwhile check in WhatsApp Manager → Phone numbers that its display name is approved with no change pending, that it is live and not on the WhatsApp Business app, and that two-step verification is off (Phone numbers → Two-step verification → Turn off)"
        );
        return [
            "number.name_status",
            "number.pending_name_change",
            "number.test_number",
            "number.business_app",
            "number.two_step_verification",
        ]
        .into_iter()
        .map(|id| unknown(id, message.clone(), hint.clone()))
        .collect();
    };
    let field_unknown = |id: &str, field: &str, hint: &str| {
        unknown(id, format!("Graph did not return {field} for {e164}"), hint.to_owned())
    };

    let display_name = node
        .verified_name
        .as_deref()
        .map(|n| format!("display name \"{n}\""))
        .unwrap_or_else(|| "its display name".into());
    let name_status = match node.name_status.as_deref() {
        Some("APPROVED") => {
            pass("number.name_status", format!("{e164} has {display_name} with name_status APPROVED"))
        }
        Some(status) => fail(
            "number.name_status",
            format!("{e164} has {display_name} with name_status {status}, not APPROVED"),
            format!(
                "the display name must be approved before migrating (it is {status}): wait for Meta's review or fix the name in WhatsApp Manager → Phone numbers"
            ),
        ),
        None => field_unknown(
            "number.name_status",
            "name_status",
            "check in WhatsApp Manager → Phone numbers that the display name is approved",
        ),
    };

    let pending = match (node.new_name_status.as_deref(), node.name_status.is_some()) {
        (Some(status), _) if status == "APPROVED" || status == "NONE" => pass(
            "number.pending_name_change",
            format!("{e164} has no pending display-name change (new_name_status {status})"),
        ),
        (Some(status), _) => fail(
            "number.pending_name_change",
            format!("{e164} has a pending display-name change (new_name_status {status})"),
            "wait until Meta decides the display-name change, or withdraw it in WhatsApp Manager → Phone numbers, then plan again".into(),
        ),
        // Graph leaves new_name_status out when no change was asked for; that it returned the
        // other name field shows the node was read with the name fields.
        (None, true) => pass("number.pending_name_change", format!("{e164} has no pending display-name change")),
        (None, false) => field_unknown(
            "number.pending_name_change",
            "new_name_status",
            "check in WhatsApp Manager → Phone numbers that no display-name change is pending",
        ),
    };

    let test_number = match node.account_mode.as_deref() {
        Some("LIVE") => pass("number.test_number", format!("{e164} is a live number (account_mode LIVE)")),
        Some("SANDBOX") => fail(
            "number.test_number",
            format!("{e164} is a WhatsApp test number (account_mode SANDBOX)"),
            "test numbers cannot be migrated: remove this number from the manifest".into(),
        ),
        Some(other) => unknown(
            "number.test_number",
            format!("{e164} has account_mode {other}, which wamig does not know"),
            "make sure the number is not a WhatsApp test number (test numbers cannot be migrated)".into(),
        ),
        None => field_unknown(
            "number.test_number",
            "account_mode",
            "make sure the number is not a WhatsApp test number (test numbers cannot be migrated)",
        ),
    };

    let business_app = match node.is_on_biz_app {
        Some(false) => pass("number.business_app", format!("{e164} is not on the WhatsApp Business app")),
        Some(true) => fail(
            "number.business_app",
            format!("{e164} is in use with the WhatsApp Business app (is_on_biz_app)"),
            "numbers on the WhatsApp Business app cannot be migrated with this API: onboard it through Embedded Signup's Business-app flow instead, or remove it from the manifest".into(),
        ),
        None => field_unknown(
            "number.business_app",
            "is_on_biz_app",
            "make sure the number is not in use with the WhatsApp Business app",
        ),
    };

    let two_step = match node.is_pin_enabled {
        Some(false) => {
            pass("number.two_step_verification", format!("two-step verification is off on {e164}"))
        }
        Some(true) => fail(
            "number.two_step_verification",
            format!("two-step verification is on for {e164}"),
            TWO_STEP_HINT.to_owned(),
        ),
        None => unknown(
            "number.two_step_verification",
            format!("Graph did not say whether two-step verification is on for {e164} (is_pin_enabled)"),
            TWO_STEP_UNKNOWN_HINT.to_owned(),
        ),
    };

    vec![name_status, pending, test_number, business_app, two_step]
}

// ---------------------------------------------------------------------------------------------
// Template forecast

fn is_eligible(status: Option<&str>, quality: Option<&str>) -> Result<(), String> {
    match (status, quality) {
        (Some("APPROVED"), Some("GREEN")) => Ok(()),
        (Some("APPROVED"), Some(quality)) => Err(format!("quality {quality}")),
        (Some("APPROVED"), None) => Err("quality not known".into()),
        (Some(status), _) => Err(format!("status {status}")),
        (None, _) => Err("status not known".into()),
    }
}

fn forecast(ctx: &Ctx<'_>) -> TemplateForecast {
    let source_templates = ctx.source.filter(|w| w.is_readable()).and_then(|w| w.templates.as_ref());
    let dest_templates = ctx.dest.filter(|w| w.is_readable()).and_then(|w| w.templates.as_ref());
    let mut forecast = TemplateForecast {
        known: source_templates.is_some() && dest_templates.is_some(),
        ..Default::default()
    };
    forecast.unknown_reason = match (ctx.source_id, source_templates, dest_templates) {
        (None, _, _) => Some("the source WABA is not known".to_owned()),
        (Some(id), None, _) => Some(format!("the templates of source WABA {id} could not be read")),
        (_, _, None) => Some(format!("the templates of destination WABA {} could not be read", ctx.dest_id)),
        _ => None,
    };

    // The limit counts names (translations once); a deleted template no longer takes a slot.
    let dest_names: BTreeSet<&str> = dest_templates
        .into_iter()
        .flatten()
        .filter(|t| t.status.as_deref() != Some("DELETED"))
        .map(|t| t.name.as_str())
        .collect();
    if dest_templates.is_some() {
        forecast.destination_room = TEMPLATE_LIMIT.saturating_sub(dest_names.len());
    }
    let Some(source_templates) = source_templates else {
        return forecast;
    };

    let mut eligible: BTreeSet<&str> = BTreeSet::new();
    let mut not_eligible: Vec<(String, String)> = Vec::new();
    for template in source_templates {
        match is_eligible(template.status.as_deref(), template.quality.as_deref()) {
            Ok(()) => {
                eligible.insert(&template.name);
            }
            Err(reason) => {
                let name = match &template.language {
                    Some(language) => format!("{} ({language})", template.name),
                    None => template.name.clone(),
                };
                not_eligible.push((name, reason));
            }
        }
    }
    not_eligible.sort();
    not_eligible.dedup();
    forecast.eligible = eligible.len();
    forecast.not_eligible = not_eligible;
    if dest_templates.is_some() {
        let missing: Vec<&str> = eligible.iter().copied().filter(|name| !dest_names.contains(name)).collect();
        forecast.already_in_destination = eligible.len() - missing.len();
        forecast.left_out =
            missing.iter().skip(forecast.destination_room).map(|name| (*name).to_owned()).collect();
    }
    forecast
}

// ---------------------------------------------------------------------------------------------
// Diff lines and notes

/// `key: value` lines of a number's state, as `NumberPlan::current` and `desired` hold them.
type Lines = Vec<(String, String)>;

fn lines(ctx: &Ctx<'_>) -> (Lines, Lines) {
    let line = |key: &str, value: String| (key.to_owned(), value);
    let dest_role = match &ctx.dest_name {
        Some(name) => format!("{} (destination, {name})", ctx.dest_id),
        None => format!("{} (destination)", ctx.dest_id),
    };
    let mut current = Vec::new();
    let mut desired = Vec::new();

    let source_role = |id: &str| {
        let name = ctx.source.and_then(|w| w.name.as_deref());
        match name {
            Some(name) => format!("{id} (source, {name})"),
            None => format!("{id} (source)"),
        }
    };
    let here = match ctx.stage {
        Stage::NotStarted => match ctx.source_id {
            Some(id) => source_role(id),
            None => "unknown (no source_waba, and no observed WABA holds it)".into(),
        },
        // While unverified the number still lives in the source; the destination only lists it.
        Stage::Initiated(_) => match ctx.source_id {
            Some(id) => format!("{}, listed by the destination", source_role(id)),
            None => "unknown, listed by the destination".into(),
        },
        Stage::Verified(_) => dest_role.clone(),
    };
    current.push(line("waba", here));
    desired.push(line("waba", dest_role));

    let id_now = match ctx.stage {
        Stage::NotStarted => {
            ctx.node.map(|n| format!("{} (in the source)", n.id)).unwrap_or_else(|| "unknown".into())
        }
        Stage::Initiated(node) | Stage::Verified(node) => node.id.clone(),
    };
    let id_then = match ctx.stage {
        Stage::NotStarted => "given by the destination when the migration starts".into(),
        Stage::Initiated(node) | Stage::Verified(node) => node.id.clone(),
    };
    current.push(line("phone number id", id_now));
    desired.push(line("phone number id", id_then));

    let verification = match ctx.stage {
        Stage::NotStarted => "not started".into(),
        Stage::Initiated(node) => {
            let status = node.code_verification_status.clone().unwrap_or_else(|| "NOT_VERIFIED".into());
            match ctx.code_awaited() {
                Some(request) => {
                    format!("{status}, code requested by {} at {}", request.method, request.at)
                }
                None => format!("{status}, no code requested yet"),
            }
        }
        Stage::Verified(_) => "VERIFIED".into(),
    };
    current.push(line("verification", verification));
    desired.push(line("verification", "VERIFIED".into()));

    let not_required = "no (register: false)";
    let registered_now = match ctx.stage {
        Stage::Verified(node) if node.is_registered() => {
            format!("in the destination ({})", node.platform_type.as_deref().unwrap_or_default())
        }
        Stage::Verified(_) if !ctx.will_register() => not_required.into(),
        Stage::Verified(_) => "no".into(),
        _ => match ctx.source_listing.filter(|n| !n.is_migrated_away()) {
            Some(node) if node.is_registered() => {
                format!("in the source ({})", node.platform_type.as_deref().unwrap_or_default())
            }
            Some(node) if node.platform_type.is_some() => "no".into(),
            _ => "unknown".into(),
        },
    };
    let registered_in_dest = matches!(ctx.stage, Stage::Verified(node) if node.is_registered());
    let registered_then = if registered_in_dest {
        registered_now.clone()
    } else if ctx.will_register() {
        "in the destination (CLOUD_API)".into()
    } else {
        not_required.into()
    };
    current.push(line("registered", registered_now));
    desired.push(line("registered", registered_then));

    // What moves with the number: the same on both sides, so the diff shows it as context.
    if let Some(node) = ctx.node {
        // A registered number ends CONNECTED; one left unregistered gets whatever status Meta
        // gives it, which wamig cannot foretell, so it is shown only once it is there.
        let verified = matches!(ctx.stage, Stage::Verified(_));
        if let Some(status) = &node.status
            && (ctx.will_register() || verified)
        {
            current.push(line("status", status.clone()));
            let then = if ctx.will_register() { "CONNECTED".to_owned() } else { status.clone() };
            desired.push(line("status", then));
        }
        let carried = [
            (
                "display name",
                node.verified_name.as_ref().map(|name| match &node.name_status {
                    Some(status) => format!("{name} ({status})"),
                    None => name.clone(),
                }),
            ),
            ("quality rating", node.quality_rating.clone()),
            ("messaging limit", node.messaging_limit_tier.clone()),
            (
                "official business account",
                node.is_official_business_account.map(|oba| if oba { "yes" } else { "no" }.to_owned()),
            ),
        ];
        for (key, value) in carried {
            if let Some(value) = value {
                current.push(line(key, value.clone()));
                desired.push(line(key, value));
            }
        }
    }
    (current, desired)
}

fn notes(ctx: &Ctx<'_>, action: Action) -> Vec<String> {
    let mut notes = Vec::new();
    let e164 = ctx.e164();
    let on_premise =
        |n: Option<&NumberView>| n.is_some_and(|n| n.platform_type.as_deref() == Some("ON_PREMISE"));
    let dest_node = match ctx.stage {
        Stage::Initiated(node) | Stage::Verified(node) => Some(node),
        Stage::NotStarted => None,
    };
    if action != Action::InSync
        && (on_premise(ctx.source_listing.filter(|n| !n.is_migrated_away())) || on_premise(dest_node))
    {
        notes.push(ON_PREMISE_NOTE.to_owned());
    }
    if !ctx.source_from_manifest
        && let Some(id) = ctx.source_id
        && !matches!(ctx.stage, Stage::Verified(_))
    {
        notes.push(format!(
            "source WABA {id} was found among the observed WABAs; add `source_waba: \"{id}\"` to the manifest to make it explicit"
        ));
    }
    if ctx.live_elsewhere.len() > 1 && !ctx.source_from_manifest {
        notes.push(format!(
            "several observed WABAs list {e164}: {}; wamig took the first",
            ctx.live_elsewhere.join(", ")
        ));
    }
    if matches!(ctx.stage, Stage::NotStarted) && ctx.source_id.is_none() {
        let gone: Vec<&str> = ctx
            .snapshot
            .wabas_listing(ctx.number.phone.digits())
            .filter(|(_, node)| node.is_migrated_away())
            .map(|(waba, _)| waba.id.as_str())
            .collect();
        if !gone.is_empty() {
            notes.push(format!(
                "WABA {} lists {e164} as MIGRATED: it has moved to a WABA wamig does not observe",
                gone.join(", ")
            ));
        }
    }
    if matches!(ctx.stage, Stage::Initiated(_))
        && let Some(request) = ctx.code_awaited()
    {
        let next = request.at.checked_add(CODE_COOLDOWN).unwrap_or(request.at);
        let times = ctx.record.map(|r| r.code_requests.max(1)).unwrap_or(1);
        let times = if times == 1 { "once".to_owned() } else { format!("{times} times") };
        notes.push(format!(
            "a code was requested {times} so far; another is requested only after {next}, or earlier with `wamig apply --resend-code`"
        ));
    }
    if let Some(record) = ctx.record.filter(|_| action != Action::InSync) {
        if !record.register_attempts.is_empty() && matches!(ctx.stage, Stage::Verified(_)) {
            let last = record.register_attempts.iter().max().copied();
            if let Some(last) = last {
                let count = record.register_attempts.len();
                notes.push(format!(
                    "{count} register attempt{} recorded, the last at {last}; Meta allows 10 per number in 72 hours",
                    if count == 1 { "" } else { "s" }
                ));
            }
        }
        if let Some(error) = &record.last_error {
            let code = match (error.code, error.subcode) {
                (Some(code), Some(subcode)) => format!(" (code {code}, subcode {subcode})"),
                (Some(code), None) => format!(" (code {code})"),
                _ => String::new(),
            };
            let meaning = match (error.code, error.subcode) {
                (Some(100), Some(2388001)) => {
                    "; the display name was still being set up: register is retried later"
                }
                (Some(133016), _) => "; the register limit was reached: Meta blocks register for 72 hours",
                (Some(133005), _) => "; the PIN was wrong: check the PIN the manifest points to",
                _ => "",
            };
            notes.push(format!(
                "last error, at {} during {}: {}{code}{meaning}",
                error.at, error.step, error.message
            ));
        }
    }
    if action == Action::Resume
        && matches!(ctx.stage, Stage::Verified(_))
        && ctx
            .snapshot
            .token
            .permissions
            .as_ref()
            .is_some_and(|p| !p.iter().any(|p| p == PERMISSION_MESSAGING))
    {
        notes.push(format!("the token lacks {PERMISSION_MESSAGING}, which register needs"));
    }
    notes
}

// ---------------------------------------------------------------------------------------------
// Unmanaged numbers

fn unmanaged(desired: &DesiredState, snapshot: &Snapshot) -> Vec<Unmanaged> {
    let managed: BTreeSet<&str> = desired.numbers.iter().map(|n| n.phone.digits()).collect();
    let destinations: BTreeSet<&str> = desired.destinations.iter().map(|d| d.waba.as_str()).collect();
    let mut found: Vec<Unmanaged> = destinations
        .iter()
        .filter_map(|id| snapshot.waba(id))
        .flat_map(|waba| waba.numbers.iter().flatten().map(move |node| (waba, node)))
        // A MIGRATED listing is a number that has left: nothing lives there to leave alone.
        .filter(|(_, node)| !node.is_migrated_away() && !managed.contains(node.digits.as_str()))
        .map(|(waba, node)| Unmanaged {
            phone: format!("+{}", node.digits),
            waba: waba.id.clone(),
            id: Some(node.id.clone()).filter(|id| !id.is_empty()),
            status: node.status.clone(),
        })
        .collect();
    found.sort_by(|a, b| (&a.waba, &a.phone).cmp(&(&b.waba, &b.phone)));
    found.dedup();
    found
}
