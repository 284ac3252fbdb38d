//! Owns the plan's renderings (README.md): `text` for terminals, `markdown` for pull-request
//! comments, `json` for tools. Each is a pure function of a [`Plan`] returning a `String`; none
//! decides anything about the migration (that is the planner's job) and none writes anywhere.
//! Phrases shared by the text and markdown renderings live here so both say the same thing.

mod json;
mod markdown;
mod text;

pub use json::json;
pub use markdown::{MAX_CHARS, markdown};
pub use text::text;

use std::borrow::Cow;

use super::drift::Severity;
use super::model::{
    Action, CheckStatus, DestinationPlan, NumberPlan, Plan, PlannedTemplate, Step, Summary, TemplateForecast,
    TemplateMethod,
};

/// The plan with every text escaped for a terminal (control and bidirectional characters), for
/// the text and markdown renderings: names, ids and messages come from the manifest, from Graph
/// or from a saved plan anyone could have edited. Done on the plan's JSON form, so every text
/// field is covered, whatever fields the plan grows.
pub(crate) fn terminal_safe(plan: &Plan) -> Cow<'_, Plan> {
    fn escape_strings(value: &mut serde_json::Value) -> bool {
        match value {
            serde_json::Value::String(text) => match crate::text::escape(text) {
                Cow::Owned(escaped) => {
                    *text = escaped;
                    true
                }
                Cow::Borrowed(_) => false,
            },
            serde_json::Value::Array(items) => {
                items.iter_mut().fold(false, |changed, item| escape_strings(item) | changed)
            }
            serde_json::Value::Object(map) => {
                map.values_mut().fold(false, |changed, item| escape_strings(item) | changed)
            }
            _ => false,
        }
    }
    let Ok(mut value) = serde_json::to_value(plan) else { return Cow::Borrowed(plan) };
    if !escape_strings(&mut value) {
        return Cow::Borrowed(plan);
    }
    serde_json::from_value(value).map_or(Cow::Borrowed(plan), Cow::Owned)
}

/// The one-line summary both human renderings end or start with.
pub fn summary_line(summary: &Summary) -> String {
    let templates = match summary.templates {
        0 => String::new(),
        1 => ", 1 template to add".to_owned(),
        n => format!(", {n} templates to add"),
    };
    format!(
        "Plan: {} to migrate, {} to resume, {} in sync, {} blocked, {} unmanaged{templates}.",
        summary.migrate, summary.resume, summary.in_sync, summary.blocked, summary.unmanaged
    )
}

/// What a line of a destination's template plan is about, so each rendering can mark it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TemplateLine {
    /// Will be written.
    Add,
    /// Missing, and wamig will not write it.
    Missing,
    /// For information.
    Info,
    /// Something could not be read.
    Unknown,
}

/// The symbol of a destination's templates: `+` when templates will be added, `=` otherwise.
pub(crate) fn template_symbol(destination: &DestinationPlan) -> &'static str {
    if destination.templates.changes() > 0 { "+" } else { "=" }
}

/// `templates of WABA <id> (<name>)`, then what the plan does there, in one sentence.
pub(crate) fn template_headline(destination: &DestinationPlan) -> String {
    let plan = &destination.templates;
    let label = match &destination.name {
        Some(name) => format!("WABA {} ({name})", destination.waba),
        None => format!("WABA {}", destination.waba),
    };
    let mut parts = Vec::new();
    if !plan.to_migrate.is_empty() {
        parts.push(format!("{} to migrate", plan.to_migrate.len()));
    }
    if !plan.to_recreate.is_empty() {
        parts.push(format!("{} to re-create", plan.to_recreate.len()));
    }
    parts.push(format!("{} already there", plan.present.len()));
    if !plan.left_out.is_empty() {
        parts.push(format!("{} left out by the limit", plan.left_out.len()));
    }
    if !plan.cannot.is_empty() {
        parts.push(format!("{} cannot be migrated", plan.cannot.len()));
    }
    let in_sync = plan.changes() == 0 && plan.known && plan.left_out.is_empty();
    let state = if in_sync { " are in sync" } else { "" };
    format!("templates of {label}{state}: {}", parts.join(", "))
}

fn names(templates: &[PlannedTemplate]) -> Vec<String> {
    templates.iter().map(PlannedTemplate::display).collect()
}

/// The lines under a destination's template headline, each with what it is about.
pub(crate) fn template_lines(destination: &DestinationPlan) -> Vec<(TemplateLine, String)> {
    let plan = &destination.templates;
    let mut lines = Vec::new();
    for source in &plan.sources {
        let of = |list: &[PlannedTemplate]| -> Vec<PlannedTemplate> {
            list.iter().filter(|t| t.source_waba == source.waba).cloned().collect()
        };
        let (list, what) = match source.method {
            TemplateMethod::Migrate => {
                (of(&plan.to_migrate), "migrate from WABA {} with Meta's template migration")
            }
            TemplateMethod::Recreate => {
                (of(&plan.to_recreate), "re-create from WABA {} as new submissions that Meta reviews again")
            }
        };
        if !list.is_empty() {
            lines.push((
                TemplateLine::Add,
                format!("{}: {}", what.replace("{}", &source.waba), bounded_list(&names(&list), ", ")),
            ));
        }
        lines.push((TemplateLine::Info, format!("source WABA {}: {}", source.waba, source.reason)));
    }
    if !plan.left_out.is_empty() {
        lines.push((
            TemplateLine::Missing,
            format!(
                "left out, no room under the destination's limit (Meta's usual {}; ask Meta for more, or free slots): {}",
                super::planner::TEMPLATE_LIMIT,
                bounded_list(&names(&plan.left_out), ", ")
            ),
        ));
    }
    if !plan.present.is_empty() {
        lines.push((TemplateLine::Info, format!("already there: {}", bounded_list(&plan.present, ", "))));
    }
    if !plan.cannot.is_empty() {
        let items: Vec<String> = plan.cannot.iter().map(|(name, why)| format!("{name}: {why}")).collect();
        lines.push((TemplateLine::Info, format!("cannot be migrated: {}", bounded_list(&items, "; "))));
    }
    if !plan.excepted.is_empty() {
        lines.push((
            TemplateLine::Info,
            format!("left alone (`except`): {}", bounded_list(&plan.excepted, ", ")),
        ));
    }
    for reason in &plan.unknown_reasons {
        lines.push((TemplateLine::Unknown, reason.clone()));
    }
    lines
}

/// Terraform's change symbols, extended with blocked.
pub fn symbol(action: Action) -> &'static str {
    match action {
        Action::Migrate => "+",
        Action::Resume => "~",
        Action::InSync => "=",
        Action::Blocked => "!",
    }
}

pub(crate) fn step_label(step: Step, number: &NumberPlan) -> String {
    match step {
        Step::InitiateMigration => "initiate migration".into(),
        Step::RequestCode => format!("request code by {} ({})", number.code_method, number.language),
        Step::VerifyCode if number.awaiting_code => "verify the awaited code".into(),
        Step::VerifyCode => "verify code".into(),
        Step::Register => "register on the Cloud API".into(),
        Step::VerifyTemplates => "verify templates".into(),
    }
}

pub(crate) fn steps_line(number: &NumberPlan) -> String {
    let steps: Vec<String> = number.steps.iter().map(|step| step_label(*step, number)).collect();
    steps.join(" → ")
}

pub(crate) fn count_checks(number: &NumberPlan, status: CheckStatus) -> usize {
    number.checks.iter().filter(|check| check.status == status).count()
}

/// What the action means for this number, after its symbol and phone.
pub(crate) fn headline(number: &NumberPlan) -> String {
    let failed = count_checks(number, CheckStatus::Fail);
    match number.action {
        Action::Migrate => "will be migrated".into(),
        Action::Resume if number.awaiting_code => "will be resumed: its verification code is awaited".into(),
        Action::Resume if number.steps.first() == Some(&Step::Register) => {
            "will be resumed: verified, not yet registered".into()
        }
        Action::Resume => "will be resumed: migration started, not verified yet".into(),
        Action::InSync => "is in sync".into(),
        Action::Blocked => {
            format!("is blocked: {failed} check{} failed", if failed == 1 { "" } else { "s" })
        }
    }
}

/// `, but 2 things drifted` after a number's headline (`; 2 things drifted` after a change), when
/// anything did.
pub(crate) fn drift_suffix(number: &NumberPlan) -> String {
    let joint = if number.action == Action::InSync { ", but" } else { ";" };
    match number.drift.len() {
        0 => String::new(),
        1 => format!("{joint} 1 thing drifted"),
        n => format!("{joint} {n} things drifted"),
    }
}

/// One sentence on the plan's drift, when there is any: how many numbers, how many critical.
pub(crate) fn drift_line(plan: &Plan) -> Option<String> {
    let drifted = plan.numbers.iter().filter(|n| !n.drift.is_empty()).count();
    if drifted == 0 {
        return None;
    }
    let critical =
        plan.numbers.iter().filter(|n| n.drift.iter().any(|d| d.severity == Severity::Critical)).count();
    Some(format!(
        "Drift: {drifted} number{} to look at ({critical} critical). Drift is not a change: wamig applies nothing for it.",
        if drifted == 1 { "" } else { "s" }
    ))
}

/// `WABA <id> (<name>)` for the destination of a number.
pub(crate) fn destination_label(number: &NumberPlan) -> String {
    match &number.destination_name {
        Some(name) => format!("WABA {} ({name})", number.destination_waba),
        None => format!("WABA {}", number.destination_waba),
    }
}

pub(crate) fn source_label(number: &NumberPlan) -> String {
    match &number.source_waba {
        Some(id) => format!("WABA {id}"),
        None => "an unknown WABA".into(),
    }
}

/// How many names a list shows before saying "and N more": keeps every rendering bounded.
const LIST_LIMIT: usize = 10;

pub(crate) fn bounded_list(items: &[String], separator: &str) -> String {
    let shown: Vec<&str> = items.iter().take(LIST_LIMIT).map(String::as_str).collect();
    let more = items.len().saturating_sub(LIST_LIMIT);
    if more > 0 {
        format!("{}{separator}and {more} more", shown.join(separator))
    } else {
        shown.join(separator)
    }
}

/// The template forecast in one sentence, then lines of detail (left out, not eligible).
pub(crate) fn template_summary(forecast: &TemplateForecast, number: &NumberPlan) -> (String, Vec<String>) {
    let mut details = Vec::new();
    if !forecast.known {
        let reason = forecast.unknown_reason.as_deref().unwrap_or("a side's templates could not be read");
        let mut line = format!("cannot be forecast: {reason}");
        if forecast.eligible > 0 {
            line.push_str(&format!(" ({} eligible in the source)", forecast.eligible));
        }
        return (line, details);
    }
    // Meta duplicates templates when ownership is verified: after that the forecast is a report
    // of what arrived, not of what will.
    let moved = number.action == Action::InSync || !number.steps.contains(&Step::VerifyCode);
    let by_hand = if forecast.managed {
        "wamig adds them (`templates: ensure`, below)"
    } else {
        "re-create them by hand"
    };
    let left_out = forecast.left_out.len();
    let to_copy = forecast.eligible.saturating_sub(forecast.already_in_destination + left_out);
    let headline = if forecast.eligible == 0 && forecast.not_eligible.is_empty() {
        "the source has no templates".to_owned()
    } else if moved {
        if forecast.already_in_destination == forecast.eligible {
            format!("all {} eligible source templates are in the destination", forecast.eligible)
        } else {
            format!(
                "{} of {} eligible source templates are in the destination; {} missing, {by_hand}",
                forecast.already_in_destination,
                forecast.eligible,
                forecast.eligible - forecast.already_in_destination
            )
        }
    } else if forecast.eligible == 0 {
        "none of the source's templates is eligible (APPROVED, GREEN) to be duplicated".to_owned()
    } else {
        let mut parts = vec![format!("{to_copy} to be duplicated")];
        if forecast.already_in_destination > 0 {
            parts.push(format!("{} already in the destination", forecast.already_in_destination));
        }
        if left_out > 0 {
            parts.push(format!("{left_out} will not fit"));
        }
        format!(
            // Graph does not report a WABA's own template limit, so the room is a forecast.
            "{} eligible (APPROVED, GREEN): {}; the destination has room for {} if its limit is Meta's usual {}",
            forecast.eligible,
            parts.join(", "),
            forecast.destination_room,
            super::planner::TEMPLATE_LIMIT
        )
    };
    if moved {
        return (headline, details);
    }
    if left_out > 0 {
        let then =
            if forecast.managed { "see the destination's templates below" } else { "re-create by hand" };
        details.push(format!(
            "will not fit under the {}-template limit, {then} (Meta picks which): {}",
            super::planner::TEMPLATE_LIMIT,
            bounded_list(&forecast.left_out, ", ")
        ));
    }
    if to_copy > 0 {
        details.push(
            "duplicates start with quality UNKNOWN, and Meta may re-categorise or reject them".to_owned(),
        );
    }
    if !forecast.not_eligible.is_empty() {
        let items: Vec<String> =
            forecast.not_eligible.iter().map(|(name, reason)| format!("{name}: {reason}")).collect();
        details.push(format!("not eligible, will not move: {}", bounded_list(&items, "; ")));
    }
    (headline, details)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::Styles;

    #[test]
    fn text_from_outside_is_escaped_even_as_a_colour_sequence() {
        // A colour sequence would pass the terminal's last line of defence: the renderings
        // escape every text of the plan themselves.
        let hidden = "acme\u{1b}[8m hidden";
        let plan = Plan {
            format_version: 1,
            summary: Summary::default(),
            numbers: Vec::new(),
            destinations: Vec::new(),
            unmanaged: vec![crate::plan::model::Unmanaged {
                phone: "+16315550199".into(),
                waba: "104996122399160".into(),
                id: Some("1".into()),
                status: Some(hidden.into()),
            }],
            digest: "0".repeat(64),
            manifest_digest: "0".repeat(64),
            snapshot_digest: "0".repeat(64),
            created_at: "2026-11-25T12:00:00Z".into(),
            ttl_seconds: 3600,
            api_version: "v23.0".into(),
            notes: vec![format!("note{hidden}")],
            cost: Vec::new(),
        };
        for rendered in [text(&plan, &Styles::new(true)), markdown(&plan)] {
            assert!(!rendered.contains("\u{1b}[8m"), "{rendered}");
            // Shown as text (markdown escapes the backslash and bracket once more).
            assert!(rendered.contains("u{1b}"), "{rendered}");
        }
    }
}
