//! Owns the planner: the pure function `(desired state, snapshot, journal, now) -> Plan`. Where
//! a number stands comes from `crate::migration` (the one state machine apply and `status` use
//! too); the eligibility checks are in `checks`, the template forecast and the templates of
//! destinations with `templates: { ensure: true }` in `templates`, the diff
//! lines and notes in `lines`. It must not perform I/O or read the clock (time comes in as
//! `now`, and only `created_at` and the read-lag judgement depend on it, so re-planning later
//! against the same live state yields the same digest). It never copies a secret into the plan:
//! PIN references stay in the manifest and codes never reach here.

use std::collections::BTreeSet;

use jiff::Timestamp;

use super::checks::checks;
use super::lines::{lines, notes};
use super::model::{
    Action, CheckStatus, DEFAULT_TTL_SECONDS, DestinationPlan, FORMAT_VERSION, NumberPlan, Plan, Summary,
    Unmanaged,
};
use super::templates::{destination_plan, forecast};
use crate::ExitStatus;
use crate::journal::{CodeRequest, Journal, NumberRecord};
use crate::manifest::{DesiredDestination, DesiredNumber, DesiredState};
use crate::migration::{self, Position, Stage};
use crate::observe::{Listings, NumberView, Snapshot, WabaView};

pub use super::checks::{CHECK_IDS, PERMISSION_MANAGEMENT, PERMISSION_MESSAGING};
pub use super::templates::TEMPLATE_LIMIT;

pub const BILLING_NOTE: &str = "messages sent after the migration are billed to the destination's business; \
     those sent before it stay billed to the source's, even when delivered later";
pub const ON_PREMISE_NOTE: &str =
    "media and message history do not move when either side is on the On-Premises API";

/// Compares the desired state with what was observed (and what the journal remembers) and says,
/// per number, what remains to be done.
pub fn plan(
    desired: &DesiredState,
    manifest_digest: &str,
    snapshot: &Snapshot,
    journal: &Journal,
    now: Timestamp,
) -> Plan {
    let listings = snapshot.listings();
    let mut numbers: Vec<NumberPlan> = desired
        .numbers
        .iter()
        .map(|number| plan_number(number, desired, snapshot, &listings, journal, now))
        .collect();
    let unmanaged = unmanaged(desired, snapshot);
    let managed: Vec<&DesiredDestination> =
        desired.destinations.iter().filter(|d| d.templates.ensure).collect();
    let destinations: Vec<DestinationPlan> =
        managed.iter().map(|destination| destination_plan(destination, &numbers, snapshot)).collect();
    for number in &mut numbers {
        if let Some(forecast) = &mut number.templates {
            forecast.managed = managed.iter().any(|d| d.waba == number.destination_waba);
        }
    }
    let count = |action: Action| numbers.iter().filter(|n| n.action == action).count();
    let summary = Summary {
        migrate: count(Action::Migrate),
        resume: count(Action::Resume),
        in_sync: count(Action::InSync),
        blocked: count(Action::Blocked),
        unmanaged: unmanaged.len(),
        templates: destinations.iter().map(|d| d.templates.changes()).sum(),
    };
    let mut notes = Vec::new();
    if numbers.iter().any(|n| n.action != Action::InSync) {
        notes.push(BILLING_NOTE.to_owned());
    }
    let cost = super::cost::forecast(&numbers, snapshot);
    notes.extend(cost.iter().filter_map(super::cost::WabaCost::note));
    // Whole seconds: a reviewer reads this, and sub-second noise helps nobody.
    let created_at = Timestamp::from_second(now.as_second()).unwrap_or(now);
    let mut plan = Plan {
        format_version: FORMAT_VERSION,
        summary,
        numbers,
        unmanaged,
        destinations,
        digest: String::new(),
        manifest_digest: manifest_digest.to_owned(),
        snapshot_digest: snapshot.digest(),
        created_at: created_at.to_string(),
        ttl_seconds: DEFAULT_TTL_SECONDS,
        api_version: snapshot.api_version.clone(),
        notes,
        cost,
    };
    plan.digest = canonical_digest(&mut plan);
    plan
}

/// SHA-256 of the plan's JSON with `digest` and `created_at` emptied and manifest lines dropped:
/// two plans with the same content have the same digest whenever they were made and however the
/// manifest was laid out.
pub fn plan_digest(plan: &Plan) -> String {
    canonical_digest(&mut plan.clone())
}

/// [`plan_digest`] without a copy of the plan (tens of megabytes at 20,000 numbers): the fields
/// left out are taken out for the hashing and put back.
fn canonical_digest(plan: &mut Plan) -> String {
    let digest = std::mem::take(&mut plan.digest);
    let created_at = std::mem::take(&mut plan.created_at);
    let lines: Vec<Option<usize>> = plan.numbers.iter_mut().map(|n| n.manifest_line.take()).collect();
    let canonical = crate::digest::of_json(plan);
    plan.digest = digest;
    plan.created_at = created_at;
    for (number, line) in plan.numbers.iter_mut().zip(lines) {
        number.manifest_line = line;
    }
    canonical
}

/// `plan`'s exit status (README.md): blocked outranks changes, which count only when asked for.
pub fn exit_status(plan: &Plan, detailed: bool) -> ExitStatus {
    if plan.has_blocked() {
        ExitStatus::Blocked
    } else if detailed && plan.has_changes() {
        ExitStatus::Changes
    } else {
        ExitStatus::Success
    }
}

/// Everything about one number the checks, lines and notes read.
pub(super) struct Ctx<'a> {
    pub number: &'a DesiredNumber,
    pub snapshot: &'a Snapshot,
    pub dest_id: &'a str,
    pub dest_name: Option<String>,
    /// `None` when the destination was not observed at all.
    pub dest: Option<&'a WabaView>,
    /// Where the number stands, from `crate::migration`.
    pub position: Position,
    /// The destination's node for the number, when it lists one (not as MIGRATED).
    pub dest_node: Option<&'a NumberView>,
    pub source_id: Option<&'a str>,
    pub source_from_manifest: bool,
    pub source: Option<&'a WabaView>,
    /// The source's listing of the number, whatever its status.
    pub source_listing: Option<&'a NumberView>,
    /// The node the number checks read (source while it holds the number, else destination).
    pub node: Option<&'a NumberView>,
    /// Other observed WABAs (not the destination) listing the number and not as MIGRATED.
    pub live_elsewhere: Vec<&'a str>,
    /// Every observed WABA listing the number (as MIGRATED too).
    pub listings: &'a [(&'a WabaView, &'a NumberView)],
    pub record: Option<&'a NumberRecord>,
}

impl Ctx<'_> {
    pub fn e164(&self) -> String {
        self.number.phone.e164()
    }

    pub fn dest_label(&self) -> String {
        waba_label(self.dest_id, self.dest_name.as_deref())
    }

    pub fn source_label(&self) -> Option<String> {
        self.source_id.map(|id| waba_label(id, self.source.and_then(|w| w.name.as_deref())))
    }

    /// The code request a number at the code step waits for.
    pub fn code_awaited(&self) -> Option<&CodeRequest> {
        match &self.position.stage {
            Stage::Started { code, .. } => code.as_ref(),
            _ => None,
        }
    }

    /// Ownership of this very node was proven in the destination.
    pub fn verified(&self) -> bool {
        self.position.stage.is_verified()
    }

    /// This journal saw this very node verified in the destination: the number has left its
    /// source, so the source-side eligibility no longer applies even if Meta asks for ownership
    /// again. A record without the node's id may be of an earlier attempt, which says nothing.
    pub fn verified_once(&self) -> bool {
        let Some(id) = self.position.stage.node_id() else { return false };
        self.record.is_some_and(|r| r.verified_at.is_some() && r.phone_number_id.as_deref() == Some(id))
    }

    pub fn will_register(&self) -> bool {
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
    listings: &Listings<'_>,
    journal: &Journal,
    now: Timestamp,
) -> NumberPlan {
    let ctx = context(number, desired, snapshot, listings, journal, now);
    let steps = ctx.position.remaining_steps(number.register);
    let mut action = match ctx.position.stage {
        Stage::NotStarted => Action::Migrate,
        _ if steps.is_empty() => Action::InSync,
        _ => Action::Resume,
    };

    // Eligibility gates only the steps before verification: once Graph shows the node verified
    // (even where wamig still asks for a code to be sure), the number has left its source.
    let graph_says_verified = ctx.dest_node.is_some_and(NumberView::is_verified);
    let gated = !ctx.verified() && !ctx.verified_once() && !graph_says_verified;
    let checks = if gated { checks(&ctx) } else { Vec::new() };
    if checks.iter().any(|c| c.status == CheckStatus::Fail) {
        action = Action::Blocked;
    }

    let awaiting = ctx.code_awaited();
    let templates = match action {
        Action::InSync => ctx.source.filter(|s| s.templates.is_some()).map(|_| forecast(&ctx)),
        _ => Some(forecast(&ctx)),
    };
    let (current, desired_lines) = lines(&ctx);
    let drift = super::drift::drift(&super::drift::Input {
        e164: &ctx.e164(),
        digits: number.phone.digits(),
        action,
        register: number.register,
        destination_waba: ctx.dest_id,
        destination: ctx.dest,
        record: ctx.record,
        confirming: ctx.position.confirming.is_some(),
        listings: ctx.listings,
    });

    NumberPlan {
        phone: ctx.e164(),
        destination_waba: number.destination_waba.clone(),
        destination_name: ctx.dest_name.clone(),
        source_waba: ctx.source_id.map(str::to_owned),
        action,
        checks,
        steps,
        phone_number_id: ctx.position.stage.node_id().map(str::to_owned),
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
    listings: &'a Listings<'a>,
    journal: &'a Journal,
    now: Timestamp,
) -> Ctx<'a> {
    let digits = number.phone.digits();
    let listings = listings.of(digits);
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
    // A record for another destination says nothing about the migration under way now.
    let record = journal.get(&number.phone.e164()).filter(|record| record.destination_waba == dest_id);
    let position = migration::classify(dest_node, record, now);

    let live_elsewhere: Vec<&str> = listings
        .iter()
        .filter(|(waba, node)| waba.id != dest_id && !node.is_migrated_away())
        .map(|(waba, _)| waba.id.as_str())
        .collect();
    let verified = position.stage.is_verified();
    // Once verified, the number has left its source, which lists it as MIGRATED (or forgets it):
    // a single such listing says where it came from.
    let came_from = || {
        let mut gone = listings
            .iter()
            .filter(|(waba, node)| waba.id != dest_id && node.is_migrated_away())
            .map(|(waba, _)| waba.id.as_str());
        match (gone.next(), gone.next()) {
            (Some(id), None) if verified => Some(id),
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
    // Until verified the source still holds the number and answers for it.
    let node = if verified { dest_node } else { source_live.or(dest_node) };
    // The record of another attempt (another node id) is not this migration's.
    let record = record.filter(|record| match (&record.phone_number_id, dest_node) {
        (Some(recorded), Some(node)) => *recorded == node.id,
        _ => true,
    });
    Ctx {
        number,
        snapshot,
        dest_id,
        dest_name,
        dest,
        position,
        dest_node,
        source_id,
        source_from_manifest,
        source,
        source_listing,
        node,
        live_elsewhere,
        listings,
        record,
    }
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
