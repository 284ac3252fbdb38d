//! Owns message templates: their snapshot, duplication into the destination when a migration is
//! verified (eligibility, the destination's limit, re-categorisation) with its report, Meta's
//! template migration API (`migrate_message_templates`: parameters, limits, pages, eligibility,
//! the same-business rule, `failed_templates` with reasons), creation with review (PENDING, then
//! APPROVED or REJECTED by the WABA's `template_review` on the sandbox clock), and how a
//! template renders as a node. It must not decide when a migration is verified.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::access::Caller;
use super::render::FieldValue;
use super::{State, add};
use crate::sandbox::envelope::GraphError;
use crate::sandbox::world::{
    HeaderFormat, ReviewDecision, TemplateCategory, TemplateQuality, TemplateStatus,
};
use crate::vocabulary::TemplateComponentType;

/// Meta's most templates per `migrate_message_templates` page, and per `template_ids`.
pub const MIGRATION_PAGE_MAX: usize = 500;

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
    /// The source template `migrate_message_templates` copied this one from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migrated_from: Option<String>,
    #[serde(skip)]
    pub(super) ordinal: u64,
    #[serde(skip)]
    pub(super) body: String,
    #[serde(skip)]
    pub(super) rejected_when_duplicated: bool,
    #[serde(skip)]
    pub(super) quality_date: i64,
    #[serde(skip)]
    pub(super) header: Option<HeaderFormat>,
    /// Components as submitted, for a template created through the API.
    #[serde(skip)]
    pub(super) components: Option<Value>,
    #[serde(skip)]
    pub(super) parameter_format: Option<String>,
    /// A created template's pending review: when it ends, and how.
    #[serde(skip)]
    pub(super) review: Option<(Timestamp, TemplateStatus)>,
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
                    migrated_from: None,
                    ordinal,
                    rejected_when_duplicated: false,
                    ..template
                },
            );
        }
        report
    }
}

/// Meta's template migration copies APPROVED templates of quality GREEN or UNKNOWN.
fn migration_refusal(template: &TemplateSnapshot) -> Option<String> {
    if template.status != TemplateStatus::Approved {
        return Some(format!(
            "Template status is {}; only APPROVED templates can be migrated",
            template.status
        ));
    }
    if !matches!(template.quality_score, TemplateQuality::Green | TemplateQuality::Unknown) {
        return Some(format!(
            "Template quality is {}; only templates of quality GREEN or UNKNOWN can be migrated",
            template.quality_score
        ));
    }
    None
}

/// `template_ids` as a JSON array (of strings or numbers) or a comma-separated list.
fn id_list(text: &str) -> Result<Vec<String>, GraphError> {
    let bad = || GraphError::invalid_param("template_ids", "must be an array of template IDs");
    let items: Vec<String> = match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                Value::String(s) => Ok(s),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(bad()),
            })
            .collect::<Result<_, _>>()?,
        Ok(Value::Number(n)) => vec![n.to_string()],
        _ => text.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect(),
    };
    if items.iter().any(|id| id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit())) {
        return Err(bad());
    }
    Ok(items)
}

fn count_param(params: &BTreeMap<String, String>, name: &str, max: usize) -> Result<usize, GraphError> {
    let text = params.get(name).ok_or_else(|| GraphError::missing_param(name))?;
    let value = text
        .trim()
        .parse::<usize>()
        .map_err(|_| GraphError::invalid_param(name, "must be a non-negative integer"))?;
    if value > max {
        return Err(GraphError::invalid_param(name, &format!("must be at most {max}")));
    }
    Ok(value)
}

impl State {
    /// Created templates whose review has ended get their decision.
    pub fn settle_template_reviews(&mut self, now: Timestamp) {
        for template in self.templates.values_mut() {
            if let Some((at, status)) = template.review
                && at <= now
            {
                template.status = status;
                template.review = None;
            }
        }
    }

    fn distinct_names(&self, waba: &str) -> BTreeSet<String> {
        self.templates
            .values()
            .filter(|t| t.waba_id == waba && t.status != TemplateStatus::Deleted)
            .map(|t| t.name.clone())
            .collect()
    }

    fn has_template(&self, waba: &str, name: &str, language: &str) -> bool {
        self.templates.values().any(|t| {
            t.waba_id == waba
                && t.status != TemplateStatus::Deleted
                && t.name == name
                && t.language == language
        })
    }

    /// `POST /{dest}/migrate_message_templates` with `source_waba_id`, `page_number`, `count`
    /// and optionally `template_ids`: the page `page_number` (of `count` templates) of the
    /// source's templates in creation order, or of the listed ones in their order, is copied
    /// into the destination; each template that is not is in `failed_templates` with why.
    pub fn migrate_templates(
        &mut self,
        caller: &Caller,
        dest_id: &str,
        params: &BTreeMap<String, String>,
    ) -> Result<Value, GraphError> {
        let dest_waba = self.readable(caller, dest_id, "post")?;
        if dest_waba != dest_id {
            return Err(GraphError::unsupported("post", dest_id));
        }
        self.require_manage(caller, dest_id, "this WhatsApp Business Account")?;
        let source_id =
            params.get("source_waba_id").ok_or_else(|| GraphError::missing_param("source_waba_id"))?.trim();
        let source_waba = self.readable(caller, source_id, "post").map_err(|_| {
            GraphError::invalid_param(
                "source_waba_id",
                "must be a WhatsApp Business Account this token can read",
            )
        })?;
        if source_waba != source_id || source_id == dest_id {
            return Err(GraphError::invalid_param(
                "source_waba_id",
                "must be another WhatsApp Business Account",
            ));
        }
        let page = count_param(params, "page_number", usize::MAX)?;
        let count = count_param(params, "count", MIGRATION_PAGE_MAX)?;
        if count == 0 {
            return Err(GraphError::invalid_param("count", "must be between 1 and 500"));
        }
        let listed = match params.get("template_ids") {
            Some(text) => {
                let ids = id_list(text)?;
                if ids.len() > MIGRATION_PAGE_MAX {
                    return Err(GraphError::invalid_param("template_ids", "must list at most 500 templates"));
                }
                Some(ids)
            }
            None => None,
        };
        let (dest, source) = (&self.wabas[dest_id], &self.wabas[source_id]);
        if dest.represented_business() != source.represented_business() {
            return Err(GraphError::templates_different_business());
        }
        let limit = dest.template_limit as usize;
        let timeout_above = dest.template_migration_timeout_above;

        let mut failed = Map::new();
        let selection: Vec<String> = match listed {
            Some(ids) => {
                let mut found = Vec::new();
                for id in ids {
                    match self.templates.get(&id) {
                        Some(t) if t.waba_id == source_id => found.push(id),
                        _ => {
                            failed.insert(
                                id,
                                json!("Template not found in the source WhatsApp Business Account"),
                            );
                        }
                    }
                }
                found
            }
            None => {
                let mut all: Vec<&TemplateSnapshot> =
                    self.templates.values().filter(|t| t.waba_id == source_id).collect();
                all.sort_by_key(|t| t.ordinal);
                all.into_iter().map(|t| t.id.clone()).collect()
            }
        };
        let start = page.saturating_mul(count).min(selection.len());
        let chosen: Vec<String> = selection[start..(start + count).min(selection.len())].to_vec();
        if timeout_above.is_some_and(|above| chosen.len() > above as usize) {
            return Err(GraphError::reduce_data());
        }

        let mut names = self.distinct_names(dest_id);
        let mut migrated = Vec::new();
        for id in chosen {
            let template = self.templates[&id].clone();
            if let Some(why) = migration_refusal(&template) {
                failed.insert(id, json!(why));
                continue;
            }
            if self.has_template(dest_id, &template.name, &template.language) {
                failed.insert(
                    id,
                    json!(format!(
                        "A template named {} in {} already exists in the destination WhatsApp Business Account",
                        template.name, template.language
                    )),
                );
                continue;
            }
            if !names.contains(&template.name) && names.len() >= limit {
                failed.insert(
                    id,
                    json!(format!("The destination WhatsApp Business Account has reached its limit of {limit} message templates")),
                );
                continue;
            }
            names.insert(template.name.clone());
            let new_id = self.new_id();
            let ordinal = self.next_ordinal();
            let status = if template.rejected_when_duplicated {
                TemplateStatus::Rejected
            } else {
                TemplateStatus::Approved
            };
            self.templates.insert(
                new_id.clone(),
                TemplateSnapshot {
                    id: new_id,
                    waba_id: dest_id.to_owned(),
                    status,
                    quality_score: TemplateQuality::Unknown,
                    duplicated_for: None,
                    migrated_from: Some(id.clone()),
                    ordinal,
                    rejected_when_duplicated: false,
                    review: None,
                    ..template
                },
            );
            migrated.push(id);
        }
        Ok(json!({ "migrated_templates": migrated, "failed_templates": failed }))
    }

    /// `POST /{waba}/message_templates` with `name`, `language`, `category`, `components` and
    /// optionally `parameter_format`: a new template, PENDING until the WABA's review decides.
    pub fn create_template(
        &mut self,
        caller: &Caller,
        waba_id: &str,
        params: &BTreeMap<String, String>,
        now: Timestamp,
    ) -> Result<Value, GraphError> {
        let waba = self.readable(caller, waba_id, "post")?;
        if waba != waba_id {
            return Err(GraphError::unsupported("post", waba_id));
        }
        self.require_manage(caller, waba_id, "this WhatsApp Business Account")?;
        let param = |name: &str| params.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let name = param("name").ok_or_else(|| GraphError::missing_param("name"))?.to_owned();
        if name.len() > 512
            || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(GraphError::invalid_param(
                "name",
                "must be lower-case letters, digits and underscores",
            ));
        }
        let language = param("language").ok_or_else(|| GraphError::missing_param("language"))?.to_owned();
        let category_text = param("category").ok_or_else(|| GraphError::missing_param("category"))?;
        let allowed = ["AUTHENTICATION", "MARKETING", "UTILITY"];
        let category = match category_text {
            "AUTHENTICATION" => TemplateCategory::Authentication,
            "MARKETING" => TemplateCategory::Marketing,
            "UTILITY" => TemplateCategory::Utility,
            other => return Err(GraphError::enum_param("category", &allowed, other)),
        };
        let parameter_format = match param("parameter_format") {
            None => None,
            Some(format @ ("NAMED" | "POSITIONAL")) => Some(format.to_owned()),
            Some(other) => {
                return Err(GraphError::enum_param("parameter_format", &["NAMED", "POSITIONAL"], other));
            }
        };
        let components_text = param("components").ok_or_else(|| GraphError::missing_param("components"))?;
        let components: Vec<Value> = match serde_json::from_str(components_text) {
            Ok(Value::Array(items)) if items.iter().all(Value::is_object) => items,
            _ => {
                return Err(GraphError::invalid_param("components", "must be an array of component objects"));
            }
        };
        let text_of = |component: &Value, key: &str| {
            component.get(key).and_then(Value::as_str).unwrap_or_default().to_ascii_uppercase()
        };
        let kind = |c: &Value| TemplateComponentType::parse(&text_of(c, "type"));
        let Some(body) = components.iter().find(|c| kind(c) == TemplateComponentType::Body) else {
            return Err(GraphError::invalid_param("components", "must include a BODY component"));
        };
        let body = body.get("text").and_then(Value::as_str).unwrap_or_default().to_owned();
        if components.iter().any(crate::vocabulary::is_media_header)
            && !components.iter().any(|c| {
                c.pointer("/example/header_handle/0")
                    .and_then(Value::as_str)
                    .is_some_and(|h| h.starts_with("4::"))
            })
        {
            return Err(GraphError::template_media_handle());
        }
        if self.has_template(waba_id, &name, &language) {
            return Err(GraphError::template_exists(&name, &language));
        }
        let dest = &self.wabas[waba_id];
        let limit = dest.template_limit as usize;
        let names = self.distinct_names(waba_id);
        if !names.contains(&name) && names.len() >= limit {
            return Err(GraphError::template_limit(limit));
        }
        let review = &dest.template_review;
        let decision = if review.decision == ReviewDecision::Reject || review.reject.contains(&name) {
            TemplateStatus::Rejected
        } else {
            TemplateStatus::Approved
        };
        let decided_at = add(now, review.after);
        let id = self.new_id();
        let ordinal = self.next_ordinal();
        self.templates.insert(
            id.clone(),
            TemplateSnapshot {
                id: id.clone(),
                waba_id: waba_id.to_owned(),
                name,
                language,
                category,
                status: TemplateStatus::Pending,
                quality_score: TemplateQuality::Unknown,
                duplicated_for: None,
                migrated_from: None,
                ordinal,
                body,
                rejected_when_duplicated: false,
                quality_date: now.as_second(),
                header: None,
                components: Some(Value::Array(components)),
                parameter_format,
                review: Some((decided_at, decision)),
            },
        );
        self.settle_template_reviews(now);
        let status = self.templates[&id].status;
        Ok(json!({"id": id, "status": status.as_str(), "category": category.as_str()}))
    }
}

pub(super) fn template_field(t: &TemplateSnapshot, name: &str) -> FieldValue {
    match name {
        "id" => Some(json!(t.id)),
        "name" => Some(json!(t.name)),
        "language" => Some(json!(t.language)),
        "status" => Some(json!(t.status.as_str())),
        "category" => Some(json!(t.category.as_str())),
        "components" => Some(t.components.clone().unwrap_or_else(|| {
            let mut components: Vec<Value> =
                t.header.map(|h| header_component(h, &t.name)).into_iter().collect();
            components.push(body_component(&t.body));
            Value::Array(components)
        })),
        "parameter_format" => {
            Some(json!(t.parameter_format.clone().unwrap_or_else(|| parameter_format(&t.body).to_owned())))
        }
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

/// A HEADER component as Graph lists it: a media header's sample is a URL of Meta's CDN, not
/// an upload handle, so it cannot be submitted again as it is.
fn header_component(format: HeaderFormat, name: &str) -> Value {
    match format {
        HeaderFormat::Text => json!({
            "type": TemplateComponentType::Header.as_str(),
            "format": HeaderFormat::Text.as_str(),
            "text": name.replace('_', " ")
        }),
        media => json!({
            "type": TemplateComponentType::Header.as_str(),
            "format": media.as_str(),
            "example": {"header_handle": [format!("https://scontent.whatsapp.net/v/t61/{name}-sample")]}
        }),
    }
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

#[cfg(test)]
mod tests;
