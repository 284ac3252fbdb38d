//! Owns message templates: their snapshot, duplication into the destination when a migration is
//! verified (eligibility, the destination's limit, re-categorisation) with its report, and how
//! a template renders as a node. It must not decide when a migration is verified.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::{Value, json};

use super::State;
use super::render::FieldValue;
use crate::sandbox::world::{TemplateCategory, TemplateQuality, TemplateStatus};

#[derive(Debug, Clone, Serialize)]
pub struct TemplateSnapshot {
    pub id: String,
    pub waba_id: String,
    pub name: String,
    pub language: String,
    pub category: TemplateCategory,
    pub status: TemplateStatus,
    pub quality_score: TemplateQuality,
    /// The number whose migration created this copy.
    pub duplicated_for: Option<String>,
    #[serde(skip)]
    pub(super) ordinal: u64,
    #[serde(skip)]
    pub(super) body: String,
    #[serde(skip)]
    pub(super) rejected_when_duplicated: bool,
    #[serde(skip)]
    pub(super) quality_date: i64,
}

/// A template left in the source, with why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TemplateKey {
    pub name: String,
    pub language: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SkippedTemplate {
    pub name: String,
    pub language: String,
    pub status: TemplateStatus,
    pub quality_score: TemplateQuality,
}

/// What a verified migration did with the source's templates.
#[derive(Debug, Clone, Serialize)]
pub struct TemplateReport {
    pub number_id: String,
    pub source_waba: String,
    pub destination_waba: String,
    /// Copied and APPROVED (quality UNKNOWN).
    pub copied: Vec<TemplateKey>,
    /// Copied, then re-categorised and REJECTED.
    pub rejected: Vec<TemplateKey>,
    /// Eligible but not copied: the destination's template limit was reached.
    pub left_out_for_limit: Vec<TemplateKey>,
    /// Same name and language already in the destination, left untouched.
    pub already_present: Vec<TemplateKey>,
    /// Not APPROVED with quality GREEN: never duplicated.
    pub not_eligible: Vec<SkippedTemplate>,
    pub template_limit: u32,
}

impl State {
    /// Copies the source's APPROVED + GREEN templates into the destination as far as its
    /// limit of distinct names allows.
    pub(super) fn duplicate_templates(&mut self, number: &str, source: &str, dest: &str) -> TemplateReport {
        let limit = self.wabas.get(dest).map(|w| w.template_limit).unwrap_or(250);
        let mut report = TemplateReport {
            number_id: number.to_owned(),
            source_waba: source.to_owned(),
            destination_waba: dest.to_owned(),
            copied: Vec::new(),
            rejected: Vec::new(),
            left_out_for_limit: Vec::new(),
            already_present: Vec::new(),
            not_eligible: Vec::new(),
            template_limit: limit,
        };
        let mut present: BTreeSet<(String, String)> = BTreeSet::new();
        let mut names: BTreeSet<String> = BTreeSet::new();
        for template in self.templates.values().filter(|t| t.waba_id == dest) {
            present.insert((template.name.clone(), template.language.clone()));
            names.insert(template.name.clone());
        }
        let mut sources: Vec<TemplateSnapshot> =
            self.templates.values().filter(|t| t.waba_id == source).cloned().collect();
        sources.sort_by_key(|t| t.ordinal);
        for template in sources {
            let key = TemplateKey { name: template.name.clone(), language: template.language.clone() };
            if template.status != TemplateStatus::Approved || template.quality_score != TemplateQuality::Green
            {
                report.not_eligible.push(SkippedTemplate {
                    name: key.name,
                    language: key.language,
                    status: template.status,
                    quality_score: template.quality_score,
                });
                continue;
            }
            if present.contains(&(key.name.clone(), key.language.clone())) {
                report.already_present.push(key);
                continue;
            }
            // A translation of a name already there does not take a new slot.
            if !names.contains(&key.name) && names.len() >= limit as usize {
                report.left_out_for_limit.push(key);
                continue;
            }
            names.insert(key.name.clone());
            present.insert((key.name.clone(), key.language.clone()));
            let id = self.new_id();
            let ordinal = self.next_ordinal();
            let status = if template.rejected_when_duplicated {
                report.rejected.push(key);
                TemplateStatus::Rejected
            } else {
                report.copied.push(key);
                TemplateStatus::Approved
            };
            self.templates.insert(
                id.clone(),
                TemplateSnapshot {
                    id,
                    waba_id: dest.to_owned(),
                    status,
                    quality_score: TemplateQuality::Unknown,
                    duplicated_for: Some(number.to_owned()),
                    ordinal,
                    rejected_when_duplicated: false,
                    ..template
                },
            );
        }
        report
    }
}

pub(super) fn template_field(t: &TemplateSnapshot, name: &str) -> FieldValue {
    match name {
        "id" => Some(json!(t.id)),
        "name" => Some(json!(t.name)),
        "language" => Some(json!(t.language)),
        "status" => Some(json!(t.status.as_str())),
        "category" => Some(json!(t.category.as_str())),
        "components" => Some(json!([body_component(&t.body)])),
        "parameter_format" => Some(json!(parameter_format(&t.body))),
        "quality_score" => {
            if t.quality_score == TemplateQuality::Unknown {
                Some(json!({"score": "UNKNOWN"}))
            } else {
                Some(json!({"score": t.quality_score.as_str(), "date": t.quality_date}))
            }
        }
        _ => return FieldValue::Unknown,
    }
    .into()
}

/// `NAMED` when the body's variables are names (`{{first_name}}`), else `POSITIONAL`.
pub(super) fn parameter_format(body: &str) -> &'static str {
    let named = body
        .split("{{")
        .skip(1)
        .filter_map(|rest| rest.split_once("}}").map(|(inside, _)| inside.trim()))
        .any(|inside| !inside.is_empty() && inside.parse::<u32>().is_err());
    if named { "NAMED" } else { "POSITIONAL" }
}

/// A BODY component as Graph lists it: a body with positional variables (`{{1}}`) carries the
/// sample values given when the template was submitted, under `example.body_text`, as in Meta's
/// documented template listings. The world gives no samples, so they are made up.
pub(super) fn body_component(body: &str) -> Value {
    let mut variables = 0u32;
    let mut rest = body;
    while let Some(start) = rest.find("{{") {
        rest = &rest[start + 2..];
        let Some(end) = rest.find("}}") else {
            break;
        };
        if let Ok(index) = rest[..end].trim().parse::<u32>() {
            variables = variables.max(index);
        }
        rest = &rest[end + 2..];
    }
    let mut component = json!({"type": "BODY", "text": body});
    if variables > 0 {
        // A template may not have more than a few dozen variables; a world typo must not
        // make the sandbox build a huge answer.
        let samples: Vec<String> = (1..=variables.min(100)).map(|i| format!("sample {i}")).collect();
        component["example"] = json!({ "body_text": [samples] });
    }
    component
}

pub(super) fn template_matches(t: &TemplateSnapshot, filters: &[(String, String)]) -> bool {
    filters.iter().all(|(key, value)| {
        let wanted: Vec<&str> = value.split(',').map(str::trim).collect();
        match key.as_str() {
            "name" => t.name == *value,
            "status" => wanted.contains(&t.status.as_str()),
            "language" => wanted.contains(&t.language.as_str()),
            "category" => wanted.contains(&t.category.as_str()),
            "quality_score" => wanted.contains(&t.quality_score.as_str()),
            _ => true,
        }
    })
}
