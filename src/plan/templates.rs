//! Owns the template side of a plan: the forecast of what Meta duplicates when a number moves,
//! the plan of a destination with `templates: { ensure: true }`, and Meta's two eligibility
//! rules, which apply uses too: what it duplicates with a number (`duplication_eligibility`)
//! and what its template migration API copies (`migration_eligibility`). Pure.

use std::collections::BTreeSet;

use super::checks::{Represented, represented_business};
use super::model::{
    DestinationPlan, NumberPlan, PlannedTemplate, TemplateForecast, TemplateMethod, TemplatePlan,
    TemplateSource,
};
use super::planner::Ctx;
use crate::manifest::DesiredDestination;
use crate::observe::{Snapshot, TemplateView, WabaView};
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

/// Whether Meta's template migration API (`migrate_message_templates`) copies `template`:
/// APPROVED with quality GREEN or UNKNOWN. `Err` says why not.
pub fn migration_eligibility(template: &TemplateView) -> Result<(), String> {
    match (&template.status, &template.quality) {
        (Some(TemplateStatus::Approved), Some(QualityRating::Green | QualityRating::Unknown)) => Ok(()),
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

/// Why a template with a media header cannot be re-created by wamig.
pub const MEDIA_HEADER_REASON: &str =
    "media header: re-creating it needs a new upload of the media, so submit it in WhatsApp Manager";

/// Whether the two WABAs represent the same business; `Err` says why that is not known.
fn same_business(dest: &WabaView, source: &WabaView) -> Result<bool, String> {
    let side = |waba: &WabaView| match represented_business(waba) {
        Represented::Known(business) => Ok(business.id.clone()),
        Represented::Unclear(why) => Err(format!("for WABA {}, {why}", waba.id)),
    };
    Ok(side(dest)? == side(source)?)
}

fn readable_templates(waba: Option<&WabaView>) -> Option<&Vec<TemplateView>> {
    waba.filter(|w| w.is_readable()).and_then(|w| w.templates.as_ref())
}

/// The plan of a destination with `templates: { ensure: true }`: every template of its numbers'
/// source WABAs that Meta's migration API would copy must be there (same name and language),
/// except the names the manifest lists. `numbers` are the plan's numbers, which say each
/// number's source.
pub(super) fn destination_plan(
    destination: &DesiredDestination,
    numbers: &[NumberPlan],
    snapshot: &Snapshot,
) -> DestinationPlan {
    let dest_id = destination.waba.as_str();
    let dest_view = snapshot.waba(dest_id);
    let mut plan = TemplatePlan { known: true, ..TemplatePlan::default() };
    let mut sources: Vec<&str> = Vec::new();
    for number in numbers.iter().filter(|n| n.destination_waba == dest_id) {
        match &number.source_waba {
            Some(source) if !sources.contains(&source.as_str()) => sources.push(source),
            Some(_) => {}
            None => {
                plan.known = false;
                plan.unknown_reasons.push(format!(
                    "the source of {} is not known: set its `source_waba` so its templates can be compared",
                    number.phone
                ));
            }
        }
    }
    let name = destination.name.clone().or_else(|| dest_view.and_then(|w| w.name.clone()));
    let readable = dest_view.and_then(|d| readable_templates(Some(d)).map(|t| (d, t)));
    let Some((dest, dest_templates)) = readable else {
        plan.known = false;
        plan.unknown_reasons.push(format!("the templates of destination WABA {dest_id} could not be read"));
        return DestinationPlan { waba: dest_id.to_owned(), name, templates: plan };
    };

    let present: Vec<&TemplateView> = dest_templates.iter().filter(|t| occupies(t)).collect();
    let dest_names: BTreeSet<&str> = present.iter().map(|t| t.name.as_str()).collect();
    plan.destination_room = TEMPLATE_LIMIT.saturating_sub(dest_names.len());
    let mut new_names: BTreeSet<String> = BTreeSet::new();
    let mut seen: Vec<&TemplateView> = Vec::new();
    for source_id in sources {
        let readable = snapshot.waba(source_id).and_then(|s| readable_templates(Some(s)).map(|t| (s, t)));
        let Some((source, source_templates)) = readable else {
            plan.known = false;
            plan.unknown_reasons.push(format!("the templates of source WABA {source_id} could not be read"));
            continue;
        };
        let (method, reason) = match same_business(dest, source) {
            Ok(true) => (TemplateMethod::Migrate, "both WABAs represent the same business".to_owned()),
            Ok(false) => (
                TemplateMethod::Recreate,
                "the WABAs represent different businesses, which Meta's template migration refuses: templates without a media header are submitted anew, and Meta reviews them again".to_owned(),
            ),
            Err(why) => (
                TemplateMethod::Migrate,
                format!(
                    "whether both WABAs represent the same business is not known ({why}); Meta refuses the migration if they do not"
                ),
            ),
        };
        plan.sources.push(TemplateSource { waba: source_id.to_owned(), method, reason });

        let mut ordered: Vec<&TemplateView> = source_templates.iter().collect();
        ordered.sort_by_key(|t| display_name(t));
        for template in ordered {
            let shown = display_name(template);
            if destination.templates.excepts(&template.name) {
                plan.excepted.push(shown);
                continue;
            }
            if seen.iter().any(|t| same_template(t, template)) {
                continue;
            }
            seen.push(template);
            if let Some(there) = present.iter().find(|d| same_template(d, template)) {
                plan.present.push(match &there.status {
                    Some(status) if *status != TemplateStatus::Approved => {
                        format!("{shown} [{status} there]")
                    }
                    _ => shown,
                });
                continue;
            }
            if let Err(reason) = migration_eligibility(template) {
                plan.cannot.push((shown, reason));
                continue;
            }
            if method == TemplateMethod::Recreate && template.has_media_header() {
                plan.cannot.push((shown, MEDIA_HEADER_REASON.to_owned()));
                continue;
            }
            let planned = PlannedTemplate {
                name: template.name.clone(),
                language: template.language.clone(),
                source_waba: source_id.to_owned(),
                id: template.id.clone(),
            };
            // A missing translation of a name already there, or planned, takes no new slot.
            let name = template.name.as_str();
            if !dest_names.contains(name) && !new_names.contains(name) {
                if new_names.len() >= plan.destination_room {
                    plan.left_out.push(planned);
                    continue;
                }
                new_names.insert(name.to_owned());
            }
            match method {
                TemplateMethod::Migrate => plan.to_migrate.push(planned),
                TemplateMethod::Recreate => plan.to_recreate.push(planned),
            }
        }
    }
    plan.excepted.sort();
    plan.excepted.dedup();
    DestinationPlan { waba: dest_id.to_owned(), name, templates: plan }
}
