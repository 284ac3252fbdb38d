//! Owns drift: what has degraded, for a number that is where the manifest wants it, since it got
//! there, and what a person must look at — status, quality, display name, messaging limit,
//! `health_status`, webhooks of its WABA — and a number wamig moved that has been moved away
//! since. Drift is a report, never a change: wamig applies nothing for it and it does not count
//! in the summary or the exit code. A pure function of what the planner already read; it must not
//! decide a number's action.

use serde::{Deserialize, Serialize};

use super::model::Action;
use crate::journal::NumberRecord;
use crate::observe::{HealthView, NumberView, WabaView};
use crate::vocabulary::{
    CanSendMessage, MessagingLimitTier, NameStatus, PhoneNumberStatus, PlatformType, QualityRating,
};

/// One thing that drifted (stable `id`, e.g. `number.quality`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drift {
    pub id: String,
    pub severity: Severity,
    pub message: String,
    pub hint: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The number cannot work as it should: messages fail or are lost.
    Critical,
    /// It works, but is getting worse or needs a person's eye.
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
        }
    }
}

/// Stable drift ids, in the order a number lists them.
pub const DRIFT_IDS: [&str; 8] = [
    "number.moved_away",
    "number.status",
    "number.health",
    "destination.webhooks",
    "number.quality",
    "number.messaging_limit",
    "number.name_status",
    "number.pending_name_change",
];

/// What the planner knows about one number that drift reads.
pub struct Input<'a> {
    pub e164: &'a str,
    /// The digits the snapshot matches numbers by.
    pub digits: &'a str,
    pub action: Action,
    /// `register` from the manifest: an unregistered number has no status to keep.
    pub register: bool,
    pub destination_waba: &'a str,
    /// The destination as observed; `None` when it was not.
    pub destination: Option<&'a WabaView>,
    /// The journal's record for this number in this destination, when it applies.
    pub record: Option<&'a NumberRecord>,
    /// Graph accepted a write that its reads do not show yet: a number missing from the
    /// destination may only be lagging, unless another WABA lists it.
    pub confirming: bool,
    /// Every observed WABA listing the number.
    pub listings: &'a [(&'a WabaView, &'a NumberView)],
}

/// Drift of one number: the degradations of an in-sync number, and for any number the journal
/// remembers wamig moving here, whether it has been moved away since.
pub fn drift(input: &Input<'_>) -> Vec<Drift> {
    let mut found = Vec::new();
    if let Some(moved) = moved_away(input) {
        found.push(moved);
    }
    let node = input.destination.and_then(|w| w.number(input.digits)).filter(|n| !n.is_migrated_away());
    if let (Action::InSync, Some(node)) = (input.action, node) {
        found.extend(status(input, node));
        found.extend(health(input, node));
        found.extend(webhooks(input, node));
        found.extend(quality(input, node));
        found.extend(messaging_limit(input, node));
        found.extend(name(input, node));
    }
    found
}

fn item(id: &str, severity: Severity, message: String, hint: impl Into<String>) -> Drift {
    Drift { id: id.to_owned(), severity, message, hint: hint.into() }
}

/// wamig verified the number in this destination, which no longer holds it.
fn moved_away(input: &Input<'_>) -> Option<Drift> {
    let record = input.record?;
    let moved_here = record.destination_waba == input.destination_waba
        && (record.verified_at.is_some() || record.registered_at.is_some());
    let destination = input.destination.filter(|w| w.is_readable() && w.numbers.is_some())?;
    let listing = destination.number(input.digits);
    if !moved_here || listing.is_some_and(|n| !n.is_migrated_away()) {
        return None;
    }
    let e164 = input.e164;
    let when =
        record.registered_at.or(record.verified_at).map(|at| format!(" on {}", at.strftime("%Y-%m-%d")));
    let elsewhere: Vec<&str> = input
        .listings
        .iter()
        .filter(|(waba, node)| waba.id != input.destination_waba && !node.is_migrated_away())
        .map(|(waba, _)| waba.id.as_str())
        .collect();
    if elsewhere.is_empty() && listing.is_none() && input.confirming {
        return None;
    }
    let now = match (elsewhere.as_slice(), listing) {
        ([one], _) => format!("it now lives in WABA {one}"),
        ([], Some(_)) => format!(
            "WABA {} lists it as MIGRATED: it moved to a WABA wamig does not observe",
            input.destination_waba
        ),
        ([], None) => format!("WABA {} no longer lists it", input.destination_waba),
        (many, _) => format!("WABAs {} list it", many.join(", ")),
    };
    Some(item(
        "number.moved_away",
        Severity::Critical,
        format!(
            "wamig moved {e164} to WABA {}{}, and it has been moved away since: {now}",
            input.destination_waba,
            when.unwrap_or_default()
        ),
        format!(
            "find out who moved it (WhatsApp Manager → Phone numbers of both WABAs); if that was intended, change {e164}'s destination in the manifest or remove it; if not, the plan shows how to bring it back"
        ),
    ))
}

fn status(input: &Input<'_>, node: &NumberView) -> Option<Drift> {
    let status = node.status.as_ref()?;
    // A number left unregistered on purpose has no connection to keep.
    if *status == PhoneNumberStatus::Connected || (!input.register && !crate::migration::is_registered(node))
    {
        return None;
    }
    let e164 = input.e164;
    let register_again = format!(
        "it is not connected to the API, so it cannot send or receive: check WhatsApp Manager → Phone numbers for why, and register it again (`POST /{}/register` with its PIN)",
        node.id
    );
    let (severity, hint) = match status {
        PhoneNumberStatus::Flagged => (
            Severity::Warning,
            "its quality is low: if it does not improve within 7 days Meta lowers its messaging limit; review what it sends and why users block or report it (WhatsApp Manager → Insights)",
        ),
        PhoneNumberStatus::RateLimited => {
            (Severity::Warning, "it is sending faster than Meta allows: slow down what sends through it")
        }
        PhoneNumberStatus::Restricted => (
            Severity::Critical,
            "it may not start conversations for now (quality or policy): see WhatsApp Manager → Account quality for why and until when",
        ),
        PhoneNumberStatus::Banned => (
            Severity::Critical,
            "Meta banned it: request a review at https://business.facebook.com/accountquality",
        ),
        PhoneNumberStatus::Disconnected | PhoneNumberStatus::Pending | PhoneNumberStatus::Unverified => {
            (Severity::Critical, register_again.as_str())
        }
        _ => (Severity::Critical, "check the number in WhatsApp Manager → Phone numbers"),
    };
    Some(item("number.status", severity, format!("{e164} has status {status}, not CONNECTED"), hint))
}

fn health(input: &Input<'_>, node: &NumberView) -> Option<Drift> {
    let health: &HealthView = node.health.as_ref()?;
    let severity = match health.can_send_message {
        CanSendMessage::Available => return None,
        CanSendMessage::Blocked => Severity::Critical,
        _ => Severity::Warning,
    };
    // Meta says per entity (number, WABA, business, app) what is wrong and how to solve it.
    let mut causes = Vec::new();
    let mut solutions = Vec::new();
    for entity in &health.entities {
        let who = match (&entity.entity_type, &entity.id) {
            (Some(kind), Some(id)) => format!("{kind} {id}"),
            (Some(kind), None) => kind.clone(),
            (None, Some(id)) => id.clone(),
            (None, None) => "an entity".to_owned(),
        };
        for error in &entity.errors {
            let code = error.code.map(|c| format!(" {c}")).unwrap_or_default();
            let description = error.description.as_deref().unwrap_or("no description");
            causes.push(format!("{who}: error{code}: {description}"));
            if let Some(solution) = &error.possible_solution {
                solutions.push(format!("{who}{code}: {solution}"));
            }
        }
        for info in &entity.additional_info {
            causes.push(format!("{who}: {info}"));
        }
    }
    let causes = if causes.is_empty() { String::new() } else { format!(" ({})", causes.join("; ")) };
    let hint = if solutions.is_empty() {
        format!("see why in WhatsApp Manager, or with `GET /{}?fields=health_status`", node.id)
    } else {
        solutions.join("; ")
    };
    Some(item(
        "number.health",
        severity,
        format!("{} can_send_message is {}{causes}", input.e164, health.can_send_message),
        hint,
    ))
}

fn webhooks(input: &Input<'_>, node: &NumberView) -> Option<Drift> {
    let apps = input.destination?.subscribed_apps.as_ref()?;
    // An On-Premises number receives through its own client, not through app webhooks.
    if !apps.is_empty() || node.platform_type != Some(PlatformType::CloudApi) {
        return None;
    }
    let id = input.destination_waba;
    Some(item(
        "destination.webhooks",
        Severity::Critical,
        format!(
            "no app is subscribed to the webhooks of WABA {id}: messages sent to {} are lost",
            input.e164
        ),
        format!(
            "subscribe your app again: `POST /{id}/subscribed_apps` with the app's token, or the App Dashboard's WhatsApp configuration"
        ),
    ))
}

fn quality(input: &Input<'_>, node: &NumberView) -> Option<Drift> {
    let rating = node.quality_rating.as_ref()?;
    let severity = match rating {
        QualityRating::Yellow => Severity::Warning,
        QualityRating::Red => Severity::Critical,
        _ => return None,
    };
    Some(item(
        "number.quality",
        severity,
        format!("{} has quality rating {rating}", input.e164),
        "users block or report its messages: review what it sends (WhatsApp Manager → Insights); a low rating can lower its messaging limit",
    ))
}

/// A tier's place among Meta's tiers, lowest first; a tier wamig does not know is never compared.
fn rank(tier: &MessagingLimitTier) -> Option<usize> {
    MessagingLimitTier::KNOWN.iter().position(|known| *known == tier.as_str())
}

fn messaging_limit(input: &Input<'_>, node: &NumberView) -> Option<Drift> {
    let arrived = input.record?.messaging_limit_tier.as_ref()?;
    let now = node.messaging_limit_tier.as_ref()?;
    if rank(now)? >= rank(arrived)? {
        return None;
    }
    Some(item(
        "number.messaging_limit",
        Severity::Warning,
        format!("{}'s messaging limit is {now}, lower than the {arrived} it arrived with", input.e164),
        "Meta lowers the limit when quality drops: check its quality rating and what it sends (WhatsApp Manager → Insights)",
    ))
}

fn name(input: &Input<'_>, node: &NumberView) -> Vec<Drift> {
    let e164 = input.e164;
    let mut found = Vec::new();
    let display = node.verified_name.as_deref().map(|n| format!(" \"{n}\"")).unwrap_or_default();
    match &node.name_status {
        Some(NameStatus::Approved | NameStatus::AvailableWithoutReview) | None => {}
        Some(status) => found.push(item(
            "number.name_status",
            Severity::Warning,
            format!("{e164}'s display name{display} has name_status {status}, not APPROVED"),
            "fix the display name in WhatsApp Manager → Phone numbers and wait for Meta's review; a number whose name is not approved cannot be registered again or migrated",
        )),
    }
    match &node.new_name_status {
        None | Some(NameStatus::Approved | NameStatus::None) => {}
        Some(status) => found.push(item(
            "number.pending_name_change",
            Severity::Warning,
            format!("{e164} has a display-name change waiting (new_name_status {status})"),
            "Meta is reviewing a new display name: the old one shows until then, and a migration is refused meanwhile; follow it in WhatsApp Manager → Phone numbers",
        )),
    }
    found
}

#[cfg(test)]
mod tests;
