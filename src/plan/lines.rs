//! Owns the human side of a number's plan: the `key: value` lines of where it stands and where
//! it must end (renderers diff them) and the notes a reviewer should read. Pure.

use super::model::{Action, Label};
use super::planner::{Ctx, ON_PREMISE_NOTE, PERMISSION_MESSAGING};
use crate::journal::CODE_COOLDOWN;
use crate::migration::{self, OwnershipDoubt, Stage, Step};
use crate::observe::NumberView;
use crate::vocabulary::{CodeVerificationStatus, PhoneNumberStatus, PlatformType};

/// `key: value` lines of a number's state, as `NumberPlan::current` and `desired` hold them.
type Lines = Vec<(Label, String)>;

fn platform(node: &NumberView) -> &str {
    node.platform_type.as_ref().map_or("", |p| p.as_str())
}

pub(super) fn lines(ctx: &Ctx<'_>) -> (Lines, Lines) {
    let line = |key: &'static str, mut value: String| {
        // As for check messages: no spare room in what a plan of thousands of numbers holds.
        value.shrink_to_fit();
        (Label::Borrowed(key), value)
    };
    let dest_role = match &ctx.dest_name {
        Some(name) => format!("{} (destination, {name})", ctx.dest_id),
        None => format!("{} (destination)", ctx.dest_id),
    };
    let mut current = Vec::new();
    let mut desired = Vec::new();
    let stage = &ctx.position.stage;

    let source_role = |id: &str| {
        let name = ctx.source.and_then(|w| w.name.as_deref());
        match name {
            Some(name) => format!("{id} (source, {name})"),
            None => format!("{id} (source)"),
        }
    };
    let here = match stage {
        Stage::NotStarted => match ctx.source_id {
            Some(id) => source_role(id),
            None => "unknown (no source_waba, and no observed WABA holds it)".into(),
        },
        // While unverified the number still lives in the source; the destination only lists it.
        Stage::Started { .. } => match ctx.source_id {
            Some(id) => format!("{}, listed by the destination", source_role(id)),
            None => "unknown, listed by the destination".into(),
        },
        Stage::Verified { .. } | Stage::Registered { .. } => dest_role.clone(),
    };
    current.push(line("waba", here));
    desired.push(line("waba", dest_role));

    let (id_now, id_then) = match stage.node_id() {
        None => (
            ctx.node.map(|n| format!("{} (in the source)", n.id)).unwrap_or_else(|| "unknown".into()),
            "given by the destination when the migration starts".to_owned(),
        ),
        Some(id) => (id.to_owned(), id.to_owned()),
    };
    current.push(line("phone number id", id_now));
    desired.push(line("phone number id", id_then));

    let verification = match stage {
        Stage::NotStarted => "not started".into(),
        Stage::Started { .. } => {
            let status = ctx
                .dest_node
                .and_then(|n| n.code_verification_status.as_ref())
                .map_or(CodeVerificationStatus::NotVerified.as_str(), |s| s.as_str());
            let status = match ctx.position.doubt {
                Some(_) => format!("{status} (not counted: see notes)"),
                None => status.to_owned(),
            };
            match ctx.code_awaited() {
                Some(request) => {
                    format!("{status}, code requested by {} at {}", request.method, request.at)
                }
                None => format!("{status}, no code requested yet"),
            }
        }
        Stage::Verified { .. } | Stage::Registered { .. } => CodeVerificationStatus::Verified.to_string(),
    };
    current.push(line("verification", verification));
    desired.push(line("verification", CodeVerificationStatus::Verified.to_string()));

    let not_required = "no (register: false)";
    let dest_registered = ctx.dest_node.filter(|n| migration::is_registered(n));
    let registered_now = match (stage, dest_registered) {
        (Stage::Verified { .. } | Stage::Registered { .. }, Some(node)) => {
            format!("in the destination ({})", platform(node))
        }
        (Stage::Registered { .. }, None) => "in the destination (Graph accepted it; not shown yet)".into(),
        (Stage::Verified { .. }, None) if !ctx.will_register() => not_required.into(),
        (Stage::Verified { .. }, None) => "no".into(),
        _ => match ctx.source_listing.filter(|n| !n.is_migrated_away()) {
            Some(node) if node.is_on_api_platform() => format!("in the source ({})", platform(node)),
            Some(node) if node.platform_type.is_some() => "no".into(),
            _ => "unknown".into(),
        },
    };
    let registered_in_dest = ctx.verified() && dest_registered.is_some();
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
        if let Some(status) = &node.status
            && (ctx.will_register() || ctx.verified())
        {
            current.push(line("status", status.to_string()));
            // A registered number keeps the status it has: a degraded one is drift for a
            // person to look at, not a change this plan makes.
            let then = if ctx.will_register() && !registered_in_dest {
                PhoneNumberStatus::Connected.to_string()
            } else {
                status.to_string()
            };
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
            ("quality rating", node.quality_rating.as_ref().map(ToString::to_string)),
            ("messaging limit", node.messaging_limit_tier.as_ref().map(ToString::to_string)),
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

pub(super) fn notes(ctx: &Ctx<'_>, action: Action) -> Vec<String> {
    let mut notes = Vec::new();
    let e164 = ctx.e164();
    let stage = &ctx.position.stage;
    let on_premise =
        |n: Option<&NumberView>| n.is_some_and(|n| n.platform_type == Some(PlatformType::OnPremise));
    if action != Action::InSync
        && (on_premise(ctx.source_listing.filter(|n| !n.is_migrated_away())) || on_premise(ctx.dest_node))
    {
        notes.push(ON_PREMISE_NOTE.to_owned());
    }
    if !ctx.source_from_manifest
        && let Some(id) = ctx.source_id
        && !ctx.verified()
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
    if matches!(stage, Stage::NotStarted) && ctx.source_id.is_none() {
        let gone: Vec<&str> = ctx
            .listings
            .iter()
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
    if let Some(step) = ctx.position.confirming {
        let what = match step {
            Step::InitiateMigration => "the migration",
            Step::VerifyCode => "the verification",
            _ => "the registration",
        };
        notes.push(format!(
            "Graph accepted {what} (see `wamig status`), but its reads do not show it yet (Graph is eventually consistent): apply confirms it by reading, and never repeats it for this"
        ));
    }
    match ctx.position.doubt {
        Some(OwnershipDoubt::StartedHereWithoutVerification) => notes.push(format!(
            "the destination shows {e164} as VERIFIED, but wamig started this migration and no code was verified for it: apply requests a code (if Meta answers that it is verified already, apply goes on to register)"
        )),
        Some(OwnershipDoubt::MetaAskedForVerification) => notes.push(format!(
            "Meta answered register for {e164} with \"verify ownership first\": apply requests a new code and verifies it before registering again"
        )),
        None => {}
    }
    if let Some(request) = ctx.code_awaited() {
        let next = request.at.checked_add(CODE_COOLDOWN).unwrap_or(request.at);
        let times = ctx.record.map(|r| r.code_requests.max(1)).unwrap_or(1);
        let times = if times == 1 { "once".to_owned() } else { format!("{times} times") };
        notes.push(format!(
            "a code was requested {times} so far; another is requested only after {next}, or earlier with `wamig apply --resend-code`"
        ));
    }
    if let Some(record) = ctx.record.filter(|_| action != Action::InSync) {
        if !record.register_attempts.is_empty() && ctx.verified() {
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
        && ctx.verified()
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
