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
        let Some(body) = components.iter().find(|c| text_of(c, "type") == "BODY") else {
            return Err(GraphError::invalid_param("components", "must include a BODY component"));
        };
        let body = body.get("text").and_then(Value::as_str).unwrap_or_default().to_owned();
        if components.iter().any(|c| {
            text_of(c, "type") == "HEADER"
                && matches!(text_of(c, "format").as_str(), "IMAGE" | "VIDEO" | "DOCUMENT")
        }) && !components.iter().any(|c| {
            c.pointer("/example/header_handle/0")
                .and_then(Value::as_str)
                .is_some_and(|h| h.starts_with("4::"))
        }) {
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
        HeaderFormat::Text => json!({"type": "HEADER", "format": "TEXT", "text": name.replace('_', " ")}),
        media => json!({
            "type": "HEADER",
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
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::sandbox::state::WabaPatch;
    use crate::sandbox::world::World;

    const ACME: &str = "sandbox-token-acme-system-user";
    const SOURCE: &str = "102289599326934";
    const DEST: &str = "104996122399160";

    fn example_text() -> &'static str {
        include_str!("../../../examples/sandbox/world.yaml")
    }

    fn state_of(text: &str) -> State {
        State::new(&World::from_yaml_str(text).unwrap(), 3)
    }

    fn t0() -> Timestamp {
        Timestamp::from_second(1_800_000_000).unwrap()
    }

    fn value(field: FieldValue) -> Option<Value> {
        match field {
            FieldValue::Value(value) => Some(value),
            _ => None,
        }
    }

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn migrate(state: &mut State, pairs: &[(&str, &str)]) -> Result<Value, GraphError> {
        let acme = state.authenticate(ACME).unwrap();
        let mut all = params(&[("source_waba_id", SOURCE)]);
        all.extend(params(pairs));
        state.migrate_templates(&acme, DEST, &all)
    }

    fn id_of(state: &State, waba: &str, name: &str) -> String {
        state.templates_of(waba).into_iter().find(|t| t.name == name).unwrap().id
    }

    /// Names of the answer's failed templates, with their reasons.
    fn failures(state: &State, answer: &Value) -> Vec<(String, String)> {
        let mut found: Vec<(String, String)> = answer["failed_templates"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(id, why)| (state.templates[id].name.clone(), why.as_str().unwrap().to_owned()))
            .collect();
        found.sort();
        found
    }

    fn migrated(state: &State, answer: &Value) -> Vec<String> {
        answer["migrated_templates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| state.templates[id.as_str().unwrap()].name.clone())
            .collect()
    }

    #[test]
    fn migration_pages_through_the_source_and_says_why_each_failure_failed() {
        let mut state = state_of(example_text());
        let first = migrate(&mut state, &[("page_number", "0"), ("count", "4")]).unwrap();
        assert_eq!(migrated(&state, &first), ["order_confirmation", "order_confirmation", "spring_sale"]);
        let failed = failures(&state, &first);
        assert_eq!(failed.len(), 1);
        assert!(failed[0].1.contains("already exists in the destination"), "{failed:?}");

        // The destination's limit (4 names) is now reached; ineligible ones say why.
        let second = migrate(&mut state, &[("page_number", "1"), ("count", "4")]).unwrap();
        assert!(migrated(&state, &second).is_empty());
        let failed = failures(&state, &second);
        let reasons: Vec<(&str, &str)> = failed.iter().map(|(n, r)| (n.as_str(), r.as_str())).collect();
        assert!(reasons[0].0 == "delivery_reminder" && reasons[0].1.contains("limit of 4"), "{reasons:?}");
        assert!(reasons[1].0 == "login_code" && reasons[1].1.contains("limit of 4"));
        assert!(reasons[2].0 == "loyalty_points" && reasons[2].1.contains("quality is YELLOW"));
        assert!(reasons[3].0 == "winback_offer" && reasons[3].1.contains("quality is RED"));
        let third = migrate(&mut state, &[("page_number", "2"), ("count", "4")]).unwrap();
        let failed = failures(&state, &third);
        assert!(failed[0].1.contains("status is REJECTED") && failed[1].1.contains("status is PENDING"));
        let past = migrate(&mut state, &[("page_number", "3"), ("count", "4")]).unwrap();
        assert_eq!(past, json!({"migrated_templates": [], "failed_templates": {}}));

        // Copies are APPROVED with quality UNKNOWN (spring_sale is re-categorised), and say
        // what they were copied from.
        let dest = state.templates_of(DEST);
        let copy = dest.iter().find(|t| t.name == "order_confirmation" && t.language == "es_ES").unwrap();
        assert_eq!((copy.status, copy.quality_score), (TemplateStatus::Approved, TemplateQuality::Unknown));
        assert!(copy.migrated_from.is_some() && copy.duplicated_for.is_none());
        assert_eq!(dest.iter().find(|t| t.name == "spring_sale").unwrap().status, TemplateStatus::Rejected);

        // With room made, the failures are retried by id, in any page size.
        state.patch_waba(DEST, &WabaPatch { template_limit: Some(250), ..WabaPatch::default() }).unwrap();
        let ids = format!(
            "[\"{}\", {}]",
            id_of(&state, SOURCE, "delivery_reminder"),
            id_of(&state, SOURCE, "login_code")
        );
        let retry =
            migrate(&mut state, &[("page_number", "0"), ("count", "500"), ("template_ids", &ids)]).unwrap();
        assert_eq!(migrated(&state, &retry), ["delivery_reminder", "login_code"]);
        let unknown =
            migrate(&mut state, &[("page_number", "0"), ("count", "5"), ("template_ids", "123")]).unwrap();
        assert_eq!(
            unknown["failed_templates"]["123"],
            "Template not found in the source WhatsApp Business Account"
        );
    }

    #[test]
    fn migration_parameters_follow_meta_limits() {
        let mut state = state_of(example_text());
        let message = |result: Result<Value, GraphError>| result.unwrap_err().message.clone();
        assert!(message(migrate(&mut state, &[("page_number", "0")])).contains("count is required"));
        assert!(message(migrate(&mut state, &[("count", "5")])).contains("page_number is required"));
        assert!(
            message(migrate(&mut state, &[("page_number", "0"), ("count", "501")])).contains("at most 500")
        );
        assert!(
            message(migrate(&mut state, &[("page_number", "0"), ("count", "0")]))
                .contains("between 1 and 500")
        );
        assert!(
            message(migrate(&mut state, &[("page_number", "-1"), ("count", "5")])).contains("non-negative")
        );
        let many =
            format!("[{}]", (0..501).map(|i| format!("\"{}\"", 900 + i)).collect::<Vec<_>>().join(","));
        assert!(
            message(migrate(&mut state, &[("page_number", "0"), ("count", "5"), ("template_ids", &many)]))
                .contains("at most 500 templates")
        );
        assert!(
            message(migrate(&mut state, &[("page_number", "0"), ("count", "5"), ("template_ids", "[{}]")]))
                .contains("template_ids")
        );
        let acme = state.authenticate(ACME).unwrap();
        let without_source =
            state.migrate_templates(&acme, DEST, &params(&[("page_number", "0"), ("count", "5")]));
        assert!(message(without_source).contains("source_waba_id is required"));
        // Initech's WABA is out of this token's reach.
        let hidden = params(&[("source_waba_id", "201000000000001"), ("page_number", "0"), ("count", "5")]);
        assert!(message(state.migrate_templates(&acme, DEST, &hidden)).contains("source_waba_id"));
        // The read-only token may not write to the destination.
        let auditor = state.authenticate("sandbox-token-acme-read-only").unwrap();
        let all = params(&[("source_waba_id", SOURCE), ("page_number", "0"), ("count", "5")]);
        assert_eq!(state.migrate_templates(&auditor, DEST, &all).unwrap_err().code, 200);
    }

    #[test]
    fn a_page_too_big_runs_past_the_time_limit_and_migrates_nothing() {
        let text = example_text().replace(
            "    template_limit: 4\n",
            "    template_limit: 4\n    template_migration_timeout_above: 2\n",
        );
        let mut state = state_of(&text);
        let error = migrate(&mut state, &[("page_number", "0"), ("count", "4")]).unwrap_err();
        assert_eq!((error.status, error.code), (500, 1));
        assert!(error.message.contains("reduce the amount of data"));
        assert_eq!(state.templates_of(DEST).len(), 2, "nothing was migrated");
        let smaller = migrate(&mut state, &[("page_number", "0"), ("count", "2")]).unwrap();
        assert_eq!(migrated(&state, &smaller).len(), 2);
    }

    #[test]
    fn migration_needs_both_wabas_in_the_same_business() {
        let text = example_text().replace(
            "read: [\"102289599326934\", \"103000000000001\"]",
            "read: [\"102289599326934\", \"103000000000001\", \"201000000000001\"]",
        );
        let mut state = state_of(&text);
        let acme = state.authenticate(ACME).unwrap();
        let all = params(&[("source_waba_id", "201000000000001"), ("page_number", "0"), ("count", "5")]);
        let error = state.migrate_templates(&acme, DEST, &all).unwrap_err();
        assert!(error.message.contains("must belong to the same business"), "{}", error.message);
    }

    fn create(state: &mut State, name: &str, components: &str, now: Timestamp) -> Result<Value, GraphError> {
        let acme = state.authenticate(ACME).unwrap();
        let all = params(&[
            ("name", name),
            ("language", "en_US"),
            ("category", "UTILITY"),
            ("components", components),
            ("parameter_format", "POSITIONAL"),
        ]);
        state.create_template(&acme, DEST, &all, now)
    }

    const BODY: &str = r#"[{"type": "BODY", "text": "Hello {{1}}", "example": {"body_text": [["Ann"]]}}]"#;

    #[test]
    fn a_created_template_is_pending_until_its_review_ends() {
        let text = example_text().replace(
            "    template_limit: 4\n",
            "    template_limit: 4\n    template_review: { decision: approve, after: 10m, reject: [promo_blast] }\n",
        );
        let mut state = state_of(&text);
        let answer = create(&mut state, "holiday_hours", BODY, t0()).unwrap();
        assert_eq!(answer["status"], "PENDING");
        assert_eq!(answer["category"], "UTILITY");
        let id = answer["id"].as_str().unwrap().to_owned();
        create(&mut state, "promo_blast", BODY, t0()).unwrap();
        state.settle_template_reviews(add(t0(), Duration::from_secs(599)));
        assert_eq!(state.templates[&id].status, TemplateStatus::Pending);
        state.settle_template_reviews(add(t0(), Duration::from_secs(600)));
        assert_eq!(state.templates[&id].status, TemplateStatus::Approved);
        assert_eq!(
            state.templates_of(DEST).iter().find(|t| t.name == "promo_blast").unwrap().status,
            TemplateStatus::Rejected
        );
        // It lists the components it was created with.
        let listed = value(template_field(&state.templates[&id], "components"));
        assert_eq!(listed, Some(serde_json::from_str::<Value>(BODY).unwrap()));

        let again = create(&mut state, "holiday_hours", BODY, t0()).unwrap_err();
        assert_eq!(again.subcode, Some(2388024));
        let full = create(&mut state, "one_too_many", BODY, t0()).unwrap_err();
        assert_eq!(full.subcode, Some(2388019), "4 names: welcome, shipping, holiday and promo");
    }

    #[test]
    fn creation_checks_its_parameters_and_refuses_copied_media() {
        let mut state = state_of(&example_text().replace(
            "    template_limit: 4\n",
            "    template_limit: 250\n    template_review: { decision: reject, after: 0s }\n",
        ));
        let rejected = create(&mut state, "anything", BODY, t0()).unwrap();
        assert_eq!(rejected["status"], "REJECTED", "a review of 0s decides at once");
        let media = r#"[{"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["https://scontent.whatsapp.net/x"]}}, {"type": "BODY", "text": "Hi"}]"#;
        assert_eq!(create(&mut state, "with_image", media, t0()).unwrap_err().subcode, Some(2388047));
        let uploaded = media.replace("https://scontent.whatsapp.net/x", "4::aW1hZ2U=");
        assert!(create(&mut state, "with_image", &uploaded, t0()).is_ok());
        assert!(create(&mut state, "Bad-Name", BODY, t0()).unwrap_err().message.contains("name"));
        assert!(
            create(&mut state, "no_body", r#"[{"type": "FOOTER", "text": "x"}]"#, t0())
                .unwrap_err()
                .message
                .contains("BODY")
        );
        assert!(create(&mut state, "not_json", "nope", t0()).unwrap_err().message.contains("components"));
        let acme = state.authenticate(ACME).unwrap();
        let odd =
            params(&[("name", "x"), ("language", "en_US"), ("category", "PROMO"), ("components", BODY)]);
        assert!(state.create_template(&acme, DEST, &odd, t0()).unwrap_err().message.contains("category"));
    }

    #[test]
    fn world_templates_list_their_header_and_parameter_format() {
        let text = example_text().replace(
            "      - { name: login_code,",
            "      - { name: menu_card, language: en_US, category: MARKETING, status: APPROVED, quality_score: GREEN, header: IMAGE, body: \"Hi {{first_name}}\" }\n      - { name: login_code,",
        );
        let state = state_of(&text);
        let menu = state.templates_of(SOURCE).into_iter().find(|t| t.name == "menu_card").unwrap();
        let Some(Value::Array(components)) = value(template_field(&menu, "components")) else {
            panic!("no components")
        };
        assert_eq!(components[0]["format"], "IMAGE");
        assert!(components[0]["example"]["header_handle"][0].as_str().unwrap().starts_with("https://"));
        assert_eq!(value(template_field(&menu, "parameter_format")), Some(json!("NAMED")));
        assert_eq!(parameter_format("Hi {{1}} and {{2}}"), "POSITIONAL");
    }
}
