//! Owns the template forecast of a plan, and the one rule of which templates Meta duplicates
//! when a number moves (`duplication_eligibility`), which apply's report uses too. Pure.

use std::collections::BTreeSet;

use super::model::TemplateForecast;
use super::planner::Ctx;
use crate::observe::TemplateView;
use crate::vocabulary::{QualityRating, TemplateStatus};

/// Meta's default per-WABA template limit (names; translations count once).
pub const TEMPLATE_LIMIT: usize = 250;

/// Whether Meta duplicates `template` into the destination when a number moves: only APPROVED
/// templates of high quality (GREEN). `Err` says why not.
pub fn duplication_eligibility(template: &TemplateView) -> Result<(), String> {
    match (&template.status, &template.quality) {
        (Some(TemplateStatus::Approved), Some(QualityRating::Green)) => Ok(()),
        (Some(TemplateStatus::Approved), Some(quality)) => Err(format!("quality {quality}")),
        (Some(TemplateStatus::Approved), None) => Err("quality not known".into()),
        (Some(status), _) => Err(format!("status {status}")),
        (None, _) => Err("status not known".into()),
    }
}

/// A template is the same in two WABAs when it has the same name and language (a listing that
/// leaves the language out matches any).
pub fn same_template(a: &TemplateView, b: &TemplateView) -> bool {
    a.name == b.name && (a.language == b.language || a.language.is_none() || b.language.is_none())
}

/// How a template is named to people: `name (language)`.
pub fn display_name(template: &TemplateView) -> String {
    match &template.language {
        Some(language) => format!("{} ({language})", template.name),
        None => template.name.clone(),
    }
}

/// Still counts against the destination's limit and blocks a duplicate of the same name.
fn occupies(template: &TemplateView) -> bool {
    template.status != Some(TemplateStatus::Deleted)
}

pub(super) fn forecast(ctx: &Ctx<'_>) -> TemplateForecast {
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
    let present: Vec<&TemplateView> = dest_templates.into_iter().flatten().filter(|t| occupies(t)).collect();
    let dest_names: BTreeSet<&str> = present.iter().map(|t| t.name.as_str()).collect();
    if dest_templates.is_some() {
        forecast.destination_room = TEMPLATE_LIMIT.saturating_sub(dest_names.len());
    }
    let Some(source_templates) = source_templates else {
        return forecast;
    };

    let mut eligible: Vec<&TemplateView> = Vec::new();
    let mut not_eligible: Vec<(String, String)> = Vec::new();
    for template in source_templates {
        match duplication_eligibility(template) {
            Ok(()) => eligible.push(template),
            Err(reason) => not_eligible.push((display_name(template), reason)),
        }
    }
    not_eligible.sort();
    not_eligible.dedup();
    eligible.sort_by_key(|t| display_name(t));
    eligible.dedup_by(|a, b| same_template(a, b));
    forecast.eligible = eligible.len();
    forecast.not_eligible = not_eligible;
    if dest_templates.is_some() {
        let missing: Vec<&TemplateView> =
            eligible.iter().copied().filter(|t| !present.iter().any(|d| same_template(t, d))).collect();
        forecast.already_in_destination = eligible.len() - missing.len();
        // A missing translation of a name the destination has takes no new slot; each new name
        // takes one while there is room.
        let mut new_names: BTreeSet<&str> = BTreeSet::new();
        for template in missing {
            let name = template.name.as_str();
            if dest_names.contains(name) || new_names.contains(name) {
                continue;
            }
            if new_names.len() < forecast.destination_room {
                new_names.insert(name);
            } else {
                forecast.left_out.push(display_name(template));
            }
        }
    }
    forecast
}
