//! Owns the field lists wamig asks Graph for and the `fields=` syntax that carries them (plain
//! fields and expanded edges with a limit). It must not decode answers (the node types do).

use std::fmt;

pub const WABA_FIELDS: &[&str] = &[
    "id",
    "name",
    "account_review_status",
    "business_verification_status",
    "primary_funding_id",
    "owner_business_info",
    "on_behalf_of_business_info",
    "ownership_type",
    "status",
];

/// WABA fields Graph may refuse to an app that is not a Solution Partner's (error 10 or 200):
/// a refused read is retried without them (see `GraphClient::waba`).
pub const WABA_RESTRICTED_FIELDS: &[&str] =
    &["primary_funding_id", "owner_business_info", "on_behalf_of_business_info", "ownership_type"];

pub const PHONE_NUMBER_FIELDS: &[&str] = &[
    "id",
    "display_phone_number",
    "verified_name",
    "name_status",
    "new_name_status",
    "code_verification_status",
    "quality_rating",
    "status",
    "platform_type",
    "account_mode",
    "is_on_biz_app",
    "is_pin_enabled",
    "is_official_business_account",
    "messaging_limit_tier",
    "throughput",
    "health_status",
];

pub const SUBSCRIBED_APP_FIELDS: &[&str] = &["whatsapp_business_api_data"];

/// `components` tells a media header apart and is what a template is re-created from;
/// `parameter_format` goes with it.
pub const MESSAGE_TEMPLATE_FIELDS: &[&str] =
    &["id", "name", "language", "status", "category", "quality_score", "components", "parameter_format"];

/// Page size asked for on edges (Graph's maximum for `phone_numbers` is 100).
pub const EDGE_PAGE_LIMIT: u32 = 100;

/// A `fields=` value: plain fields and expanded edges, e.g.
/// `name,phone_numbers.limit(100){id,display_phone_number}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSpec(Vec<Field>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Field {
    Plain(String),
    Edge { name: String, limit: Option<u32>, fields: FieldSpec },
}

impl FieldSpec {
    pub fn new(fields: &[&str]) -> Self {
        FieldSpec(fields.iter().map(|f| Field::Plain((*f).to_owned())).collect())
    }

    /// Adds an expanded edge: `name.limit(n){fields}`.
    pub fn edge(mut self, name: &str, limit: Option<u32>, fields: FieldSpec) -> Self {
        self.0.push(Field::Edge { name: name.to_owned(), limit, fields });
        self
    }

    /// The same spec without plain field `name`, at any depth (used when Graph says a field
    /// does not exist on this API version). Edges are kept.
    pub fn without(&self, name: &str) -> Self {
        FieldSpec(
            self.0
                .iter()
                .filter(|f| !matches!(f, Field::Plain(n) if n == name))
                .map(|f| match f {
                    Field::Edge { name: edge, limit, fields } => {
                        Field::Edge { name: edge.clone(), limit: *limit, fields: fields.without(name) }
                    }
                    plain => plain.clone(),
                })
                .collect(),
        )
    }

    /// Whether plain field `name` appears at any depth.
    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|f| match f {
            Field::Plain(n) => n == name,
            Field::Edge { fields, .. } => fields.contains(name),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for FieldSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, field) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match field {
                Field::Plain(name) => f.write_str(name)?,
                Field::Edge { name, limit, fields } => {
                    f.write_str(name)?;
                    if let Some(limit) = limit {
                        write!(f, ".limit({limit})")?;
                    }
                    if !fields.is_empty() {
                        write!(f, "{{{fields}}}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

pub fn phone_number_fields() -> FieldSpec {
    FieldSpec::new(PHONE_NUMBER_FIELDS)
}

pub fn subscribed_app_fields() -> FieldSpec {
    FieldSpec::new(SUBSCRIBED_APP_FIELDS)
}

pub fn message_template_fields() -> FieldSpec {
    FieldSpec::new(MESSAGE_TEMPLATE_FIELDS)
}

/// The WABA node fields only.
pub fn waba_fields() -> FieldSpec {
    FieldSpec::new(WABA_FIELDS)
}

/// The WABA with its three edges expanded: one round trip for a whole WABA.
pub fn waba_fields_with_edges() -> FieldSpec {
    waba_fields()
        .edge("phone_numbers", Some(EDGE_PAGE_LIMIT), phone_number_fields())
        .edge("subscribed_apps", None, subscribed_app_fields())
        .edge("message_templates", Some(EDGE_PAGE_LIMIT), message_template_fields())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_specs_render_like_graph_expects() {
        let spec = FieldSpec::new(&["name"]).edge(
            "phone_numbers",
            Some(100),
            FieldSpec::new(&["id", "display_phone_number"]),
        );
        assert_eq!(spec.to_string(), "name,phone_numbers.limit(100){id,display_phone_number}");
        let full = waba_fields_with_edges().to_string();
        assert!(full.starts_with("id,name,account_review_status,"));
        assert!(full.contains(",phone_numbers.limit(100){id,display_phone_number,verified_name,"));
        assert!(full.contains(",subscribed_apps{whatsapp_business_api_data},"));
        assert!(
            full.ends_with(
                ",message_templates.limit(100){id,name,language,status,category,quality_score,components,parameter_format}"
            )
        );
        let without = waba_fields_with_edges().without("is_pin_enabled");
        assert!(waba_fields_with_edges().contains("is_pin_enabled"));
        assert!(!without.contains("is_pin_enabled"));
        assert!(without.to_string().contains("is_on_biz_app,is_official_business_account"));
        assert_eq!(FieldSpec::new(&[]).edge("x", None, FieldSpec::default()).to_string(), "x");
    }
}
