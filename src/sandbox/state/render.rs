//! Owns reads: rendering nodes and edges as Graph does, with `fields=` selection (defaults,
//! sub-fields, unknown fields refused), multi-id reads, filters, `summary` and cursor paging.
//! It must not change state (reads never write) nor decide access (`access.rs`).

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::access::Caller;
use super::templates::{TemplateSnapshot, template_field, template_matches};
use super::{NumberState, State, WabaState, graph_time};
use crate::sandbox::envelope::GraphError;
use crate::sandbox::fields::{self, FieldSpec};
use crate::sandbox::world::{Chain, render_health};

/// Largest page an edge returns, whatever `limit` asks for.
const MAX_PAGE: u32 = 100;

/// Where edge `paging.next` / `previous` URLs point, and when the read happens.
#[derive(Debug, Clone)]
pub struct PageCtx {
    /// `http://host:port`, no trailing slash.
    pub base_url: String,
    /// `v23.0`.
    pub version: String,
    /// The sandbox time of the read: shortly after a write, reads may not show it yet
    /// (`options.read_lag`).
    pub now: Timestamp,
}

/// Paging and filter parameters of a top-level edge request.
#[derive(Debug, Clone, Default)]
pub struct EdgeQuery {
    pub fields: Option<Vec<FieldSpec>>,
    pub limit: Option<u32>,
    pub after: Option<String>,
    pub before: Option<String>,
    /// `summary=total_count`: add `{"summary": {"total_count": N}}`.
    pub summary: bool,
    /// Filters carried into `next` URLs (`name`, `status`, ... on message_templates).
    pub filters: Vec<(String, String)>,
}

impl State {
    /// `GET /{id}`.
    pub fn read_node(
        &self,
        caller: &Caller,
        id: &str,
        fields: Option<&[FieldSpec]>,
        ctx: &PageCtx,
    ) -> Result<Value, GraphError> {
        if self.numbers.contains_key(id) {
            // A node reads as it is visible now: one a lagging read does not show yet answers
            // as an unknown id does.
            let number = self
                .visible(id, ctx.now)
                .filter(|n| n.exists && caller.can_read(&n.waba))
                .ok_or_else(|| GraphError::unsupported("get", id))?;
            return render_fields("WhatsAppBusinessPhoneNumber", &number_defaults(false), fields, |name| {
                Ok(self.number_field(number, name))
            });
        }
        self.readable(caller, id, "get")?;
        if let Some(waba) = self.wabas.get(id) {
            self.render_waba(caller, waba, fields, ctx)
        } else if let Some(template) = self.templates.get(id) {
            render_fields("WhatsAppMessageTemplate", TEMPLATE_DEFAULTS, fields, |name| {
                Ok(template_field(template, name))
            })
        } else {
            Err(GraphError::unsupported("get", id))
        }
    }

    /// `GET /?ids=a,b,c`: all or nothing.
    pub fn read_many(
        &self,
        caller: &Caller,
        ids: &[String],
        fields: Option<&[FieldSpec]>,
        ctx: &PageCtx,
    ) -> Result<Value, GraphError> {
        let mut out = Map::new();
        for id in ids {
            out.insert(id.clone(), self.read_node(caller, id, fields, ctx)?);
        }
        Ok(Value::Object(out))
    }

    /// `GET /{waba}/{edge}`.
    pub fn read_edge(
        &self,
        caller: &Caller,
        id: &str,
        edge: &str,
        query: &EdgeQuery,
        ctx: &PageCtx,
    ) -> Result<Value, GraphError> {
        self.readable(caller, id, "get")?;
        let Some(waba) = self.wabas.get(id) else {
            let node_type = if self.numbers.contains_key(id) {
                "WhatsAppBusinessPhoneNumber"
            } else {
                "WhatsAppMessageTemplate"
            };
            return Err(GraphError::nonexisting_field(edge, node_type));
        };
        if !WABA_EDGES.contains(&edge) {
            return Err(GraphError::nonexisting_field(edge, "WhatsAppBusinessAccount"));
        }
        self.edge(waba, edge, query, ctx)
    }

    fn render_waba(
        &self,
        caller: &Caller,
        waba: &WabaState,
        fields: Option<&[FieldSpec]>,
        ctx: &PageCtx,
    ) -> Result<Value, GraphError> {
        let business_name = self.businesses.get(&waba.business).cloned().unwrap_or_default();
        let fields = match fields {
            Some(f) if !f.is_empty() => f.to_vec(),
            _ => WABA_DEFAULTS.iter().map(|n| FieldSpec::named(n)).collect(),
        };
        // Graph refuses the whole read, without naming the field.
        if fields.iter().any(|spec| caller.refused_fields.contains(&spec.name)) {
            return Err(GraphError::field_refused(caller.refused_field_code));
        }
        let mut out = Map::new();
        for spec in &fields {
            let value = match spec.name.as_str() {
                "id" => Some(json!(waba.id)),
                "name" => Some(json!(waba.name)),
                "account_review_status" => Some(json!(waba.review.as_str())),
                "business_verification_status" => Some(json!(waba.verification.as_str())),
                "currency" => Some(json!(waba.currency)),
                "country" => Some(json!(waba.country)),
                // Only WABAs a partner runs on behalf of a client have one.
                "on_behalf_of_business_info" => waba.on_behalf_of.as_ref().map(|client| {
                    json!({"id": client, "name": self.businesses.get(client).cloned().unwrap_or_default()})
                }),
                "timezone_id" => Some(json!(waba.timezone_id)),
                "message_template_namespace" => Some(json!(waba.namespace)),
                "primary_funding_id" => waba.funding.as_ref().map(|f| json!(f)),
                "status" => Some(json!("ACTIVE")),
                "ownership_type" => Some(json!(waba.ownership.as_str())),
                "owner_business_info" | "owner_business" => {
                    Some(json!({"id": waba.business, "name": business_name}))
                }
                edge @ ("phone_numbers" | "subscribed_apps" | "message_templates") => {
                    let query = EdgeQuery {
                        fields: spec.children.clone(),
                        limit: spec.limit,
                        after: spec.after.clone(),
                        before: spec.before.clone(),
                        summary: spec.summary,
                        filters: Vec::new(),
                    };
                    Some(self.edge(waba, edge, &query, ctx)?)
                }
                other => {
                    return Err(GraphError::nonexisting_field(other, "WhatsAppBusinessAccount"));
                }
            };
            if let Some(value) = value {
                let value = if WABA_EDGES.contains(&spec.name.as_str()) {
                    value
                } else {
                    select_object(value, spec, "WhatsAppBusinessAccount")?
                };
                out.insert(spec.name.clone(), value);
            }
        }
        out.entry("id").or_insert_with(|| json!(waba.id));
        Ok(Value::Object(out))
    }

    fn edge(
        &self,
        waba: &WabaState,
        edge: &str,
        query: &EdgeQuery,
        ctx: &PageCtx,
    ) -> Result<Value, GraphError> {
        let fields = query.fields.as_deref();
        let filters = query.filters.as_slice();
        let mut items: Vec<(u64, Value)> = Vec::new();
        match edge {
            "phone_numbers" => {
                let mut numbers: Vec<&NumberState> = self
                    .by_waba
                    .get(&waba.id)
                    .into_iter()
                    .flatten()
                    .filter_map(|id| self.visible(id, ctx.now))
                    .filter(|n| n.exists && n.waba == waba.id)
                    .collect();
                numbers.sort_by_key(|n| n.ordinal);
                for number in numbers {
                    let value = render_fields(
                        "WhatsAppBusinessPhoneNumber",
                        &number_defaults(true),
                        fields,
                        |name| Ok(self.number_field(number, name)),
                    )?;
                    items.push((number.ordinal, value));
                }
            }
            "message_templates" => {
                let mut templates: Vec<&TemplateSnapshot> = self
                    .templates
                    .values()
                    .filter(|t| t.waba_id == waba.id)
                    .filter(|t| template_matches(t, filters))
                    .collect();
                templates.sort_by_key(|t| t.ordinal);
                for template in templates {
                    let value =
                        render_fields("WhatsAppMessageTemplate", TEMPLATE_DEFAULTS, fields, |name| {
                            Ok(template_field(template, name))
                        })?;
                    items.push((template.ordinal, value));
                }
            }
            _ => {
                for (ordinal, id, name) in &waba.subscribed {
                    let app = json!({
                        "id": id,
                        "name": name,
                        "link": format!("https://www.facebook.com/games/?app_id={id}"),
                    });
                    let value = render_fields(
                        "WhatsAppBusinessAccountSubscribedApp",
                        &["whatsapp_business_api_data"],
                        fields,
                        |name| match name {
                            "whatsapp_business_api_data" => Ok(FieldValue::Value(app.clone())),
                            _ => Ok(FieldValue::Unknown),
                        },
                    )?;
                    items.push((*ordinal, value));
                }
            }
        }
        // `limit=0` is allowed, as on Graph: no items, only the summary when asked for.
        let limit = query.limit.unwrap_or(self.options.page_size).min(MAX_PAGE) as usize;
        let after = query.after.as_deref().map(|c| decode_cursor(c, "after")).transpose()?;
        let before = query.before.as_deref().map(|c| decode_cursor(c, "before")).transpose()?;
        let total = items.len();
        let (page, more_before, more_after) = paginate(&items, limit, after, before);

        let mut out = Map::new();
        out.insert("data".into(), Value::Array(page.iter().map(|(_, v)| v.clone()).collect()));
        if let (Some((first, _)), Some((last, _))) = (page.first(), page.last()) {
            let mut paging = Map::new();
            let first_cursor = encode_cursor(*first);
            let last_cursor = encode_cursor(*last);
            paging.insert("cursors".into(), json!({"before": first_cursor, "after": last_cursor}));
            let base = format!("{}/{}/{}/{}", ctx.base_url, ctx.version, waba.id, edge);
            let link = |cursor_key: &str, cursor: &str| {
                let mut params: Vec<(String, String)> = Vec::new();
                if let Some(fields) = fields
                    && !fields.is_empty()
                {
                    params.push(("fields".into(), fields::join(fields)));
                }
                params.push(("limit".into(), limit.to_string()));
                params.extend(filters.iter().cloned());
                params.push((cursor_key.into(), cursor.to_owned()));
                let query: Vec<String> = params
                    .iter()
                    .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
                    .collect();
                format!("{base}?{}", query.join("&"))
            };
            if more_before {
                paging.insert("previous".into(), json!(link("before", &first_cursor)));
            }
            if more_after {
                paging.insert("next".into(), json!(link("after", &last_cursor)));
            }
            out.insert("paging".into(), Value::Object(paging));
        }
        if query.summary {
            out.insert("summary".into(), json!({ "total_count": total }));
        }
        Ok(Value::Object(out))
    }

    fn number_field(&self, n: &NumberState, name: &str) -> FieldValue {
        match name {
            "id" => Some(json!(n.id)),
            "display_phone_number" => Some(json!(n.display)),
            "verified_name" => Some(json!(n.verified_name)),
            "name_status" => Some(json!(n.name_status.as_str())),
            "new_name_status" => n.new_name_status.map(|s| json!(s.as_str())),
            "code_verification_status" => Some(json!(n.code_verification.as_str())),
            "quality_rating" => Some(json!(n.quality_rating.as_str())),
            "status" => Some(json!(n.status.as_str())),
            "platform_type" => Some(json!(n.platform.as_str())),
            "account_mode" => Some(json!(n.account_mode.as_str())),
            "is_pin_enabled" => Some(json!(n.is_pin_enabled)),
            "is_on_biz_app" => Some(json!(n.is_on_biz_app)),
            "is_official_business_account" => Some(json!(n.official)),
            "messaging_limit_tier" => n.tier.map(|t| json!(t.as_str())),
            "throughput" => Some(json!({"level": n.throughput})),
            "health_status" => Some(render_health(
                n.health.as_ref(),
                &Chain {
                    number: &n.id,
                    waba: &n.waba,
                    business: self.wabas.get(&n.waba).map_or("", |w| w.business.as_str()),
                    app: &self.app_id,
                },
            )),
            "last_onboarded_time" => n.last_onboarded.map(|t| json!(graph_time(t))),
            "country_dial_code" => Some(json!(country_code_guess(&n.digits))),
            _ => return FieldValue::Unknown,
        }
        .into()
    }
}

/// A field's value: present, absent (Graph omits it), or not a field of the node.
pub(super) enum FieldValue {
    Value(Value),
    Absent,
    Unknown,
}

impl From<Option<Value>> for FieldValue {
    fn from(value: Option<Value>) -> Self {
        match value {
            Some(v) => FieldValue::Value(v),
            None => FieldValue::Absent,
        }
    }
}

/// Every field of a WABA node the sandbox renders (edges included).
pub const WABA_FIELDS: &[&str] = &[
    "id",
    "name",
    "account_review_status",
    "business_verification_status",
    "currency",
    "country",
    "on_behalf_of_business_info",
    "timezone_id",
    "message_template_namespace",
    "primary_funding_id",
    "status",
    "ownership_type",
    "owner_business_info",
    "owner_business",
    "phone_numbers",
    "subscribed_apps",
    "message_templates",
];

const WABA_DEFAULTS: &[&str] = &["id", "name", "timezone_id", "message_template_namespace"];
const WABA_EDGES: &[&str] = &["phone_numbers", "subscribed_apps", "message_templates"];
const TEMPLATE_DEFAULTS: &[&str] = &["name", "components", "language", "status", "category", "id"];

fn number_defaults(edge: bool) -> Vec<&'static str> {
    if edge {
        vec![
            "verified_name",
            "code_verification_status",
            "display_phone_number",
            "quality_rating",
            "platform_type",
            "throughput",
            "id",
        ]
    } else {
        vec!["verified_name", "code_verification_status", "display_phone_number", "quality_rating", "id"]
    }
}

/// Renders one object from its field getter: the requested fields (or the defaults), `id`
/// always included as Graph does, sub-field selection on object values.
fn render_fields(
    node_type: &str,
    defaults: &[&str],
    fields: Option<&[FieldSpec]>,
    get: impl Fn(&str) -> Result<FieldValue, GraphError>,
) -> Result<Value, GraphError> {
    let specs: Vec<FieldSpec> = match fields {
        Some(f) if !f.is_empty() => f.to_vec(),
        _ => defaults.iter().map(|n| FieldSpec::named(n)).collect(),
    };
    let mut out = Map::new();
    for spec in &specs {
        match get(&spec.name)? {
            FieldValue::Value(value) => {
                out.insert(spec.name.clone(), select_object(value, spec, node_type)?);
            }
            FieldValue::Absent => {}
            FieldValue::Unknown => {
                return Err(GraphError::nonexisting_field(&spec.name, node_type));
            }
        }
    }
    if let Ok(FieldValue::Value(id)) = get("id") {
        out.entry("id").or_insert(id);
    }
    Ok(Value::Object(out))
}

/// Applies `{a,b}` to an object-valued field.
fn select_object(value: Value, spec: &FieldSpec, node_type: &str) -> Result<Value, GraphError> {
    let Some(children) = &spec.children else {
        return Ok(value);
    };
    let Value::Object(object) = value else {
        return Err(GraphError::nonexisting_field(&children[0].name, node_type));
    };
    let mut out = Map::new();
    for child in children {
        match object.get(&child.name) {
            Some(v) => {
                out.insert(child.name.clone(), v.clone());
            }
            None => return Err(GraphError::nonexisting_field(&child.name, &spec.name)),
        }
    }
    Ok(Value::Object(out))
}

/// Returns the page and whether items exist before and after it.
fn paginate(
    items: &[(u64, Value)],
    limit: usize,
    after: Option<u64>,
    before: Option<u64>,
) -> (Vec<(u64, Value)>, bool, bool) {
    let candidates: Vec<&(u64, Value)> = items
        .iter()
        .filter(|(o, _)| after.is_none_or(|a| *o > a))
        .filter(|(o, _)| before.is_none_or(|b| *o < b))
        .collect();
    let page: Vec<(u64, Value)> = if before.is_some() && after.is_none() {
        let start = candidates.len().saturating_sub(limit);
        candidates[start..].iter().map(|item| (*item).clone()).collect()
    } else {
        candidates.iter().take(limit).map(|item| (*item).clone()).collect()
    };
    let (Some(first), Some(last)) = (page.first(), page.last()) else {
        return (page, false, false);
    };
    let more_before = items.iter().any(|(o, _)| *o < first.0);
    let more_after = items.iter().any(|(o, _)| *o > last.0);
    (page, more_before, more_after)
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Graph's cursors are base64 of an internal key; these are base64 of the item's position key.
pub(super) fn encode_cursor(ordinal: u64) -> String {
    let bytes = ordinal.to_string().into_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(BASE64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub(super) fn decode_cursor(cursor: &str, which: &str) -> Result<u64, GraphError> {
    let invalid = || GraphError::invalid_param(which, "is not a valid cursor");
    let mut bits: u32 = 0;
    let mut count = 0;
    let mut bytes = Vec::new();
    for c in cursor.trim_end_matches('=').bytes() {
        let value = BASE64.iter().position(|b| *b == c).ok_or_else(invalid)? as u32;
        bits = (bits << 6) | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            bytes.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    String::from_utf8(bytes).ok().and_then(|text| text.parse().ok()).ok_or_else(invalid)
}

fn encode_component(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Enough of the ITU table for `country_dial_code` in the sandbox's examples.
fn country_code_guess(digits: &str) -> String {
    const THREE: &[&str] = &["351", "353", "358", "971", "972", "966", "234", "254", "880"];
    const TWO: &[&str] = &[
        "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47", "48",
        "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65", "66", "81",
        "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
    ];
    if let Some(cc) = THREE.iter().find(|c| digits.starts_with(**c)) {
        return (*cc).to_owned();
    }
    if let Some(cc) = TWO.iter().find(|c| digits.starts_with(**c)) {
        return (*cc).to_owned();
    }
    digits.chars().take(1).collect()
}
