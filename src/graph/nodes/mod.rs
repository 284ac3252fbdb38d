//! Owns the typed Graph nodes wamig reads (WABA, phone number, subscribed app, message template;
//! token info in `token.rs`); the field lists wamig requests are in `fields.rs`, and Graph's
//! enums live in `crate::vocabulary`. Deserialization is lenient by design: every field is
//! optional, an enum value Meta adds tomorrow is kept as `Other(..)`, ids that arrive as numbers
//! become strings, booleans that arrive as strings are read, and a template's `quality_score`
//! may be a string or an object. A live response must never fail to parse because Meta changed
//! a detail. No migration logic here (what a status *means* for a plan is `plan/`'s business).

mod fields;
mod token;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::paging::Edge;
pub use crate::vocabulary::{
    AccountMode, AccountReviewStatus, BusinessVerificationStatus, CanSendMessage, CodeVerificationStatus,
    MessagingLimitTier, NameStatus, OwnershipType, PhoneNumberStatus, PlatformType, QualityRating,
    TemplateCategory, TemplateStatus, ThroughputLevel,
};
pub use fields::{
    EDGE_PAGE_LIMIT, FieldSpec, MESSAGE_TEMPLATE_FIELDS, PHONE_NUMBER_FIELDS, SUBSCRIBED_APP_FIELDS,
    WABA_FIELDS, WABA_RESTRICTED_FIELDS, message_template_fields, phone_number_fields, subscribed_app_fields,
    waba_fields, waba_fields_with_edges,
};
pub use token::{
    DebugTokenData, GranularScope, PermissionEntry, SCOPE_MANAGEMENT, SCOPE_MESSAGING, TokenInfo,
    TokenInfoSource,
};

/// Reads a string, or a number as its decimal text; anything else is `None`.
fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

fn lenient_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(lenient_string(d)?.unwrap_or_default())
}

/// Reads `true`/`false`, or the strings and numbers some Graph fields use for them.
fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => Some(b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        },
        Value::Number(n) => n.as_i64().map(|n| n != 0),
        _ => None,
    })
}

fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

fn lenient_strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        Value::String(s) => {
            s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
        }
        _ => Vec::new(),
    })
}

/// A list whose items may come in any shape: keep the readable ones.
fn lenient_list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => {
            items.into_iter().filter_map(|item| serde_json::from_value(item).ok()).collect()
        }
        _ => Vec::new(),
    })
}

/// An object wamig does not model may come in any shape: keep what is readable.
fn lenient<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = Value::deserialize(d)?;
    Ok(serde_json::from_value(value).ok())
}

/// `owner_business_info` of a WABA.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BusinessInfo {
    #[serde(deserialize_with = "lenient_string")]
    pub id: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub name: Option<String>,
}

/// A WhatsApp Business Account. Edges are `Some` when they were requested by field expansion
/// and Graph returned them; Graph omits an expanded edge that is empty, so when an edge was
/// requested, `None` means empty (see [`Waba::phone_numbers`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Waba {
    #[serde(deserialize_with = "lenient_id")]
    pub id: String,
    #[serde(deserialize_with = "lenient_string")]
    pub name: Option<String>,
    pub account_review_status: Option<AccountReviewStatus>,
    pub business_verification_status: Option<BusinessVerificationStatus>,
    /// The payment method; absent or empty = none set up.
    #[serde(deserialize_with = "lenient_string")]
    pub primary_funding_id: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub owner_business_info: Option<BusinessInfo>,
    /// For a WABA a partner owns on behalf of a client: the client.
    #[serde(deserialize_with = "lenient")]
    pub on_behalf_of_business_info: Option<BusinessInfo>,
    pub ownership_type: Option<OwnershipType>,
    #[serde(deserialize_with = "lenient_string")]
    pub status: Option<String>,
    pub phone_numbers: Option<Edge<PhoneNumber>>,
    pub subscribed_apps: Option<Edge<SubscribedApp>>,
    pub message_templates: Option<Edge<MessageTemplate>>,
    /// Fields Graph refused to this app when the WABA was read; never sent by Graph, filled in
    /// by the client.
    #[serde(skip)]
    pub refused_fields: Vec<String>,
}

impl Waba {
    /// The numbers of the expanded `phone_numbers` edge (empty when Graph omitted it).
    pub fn phone_numbers(&self) -> &[PhoneNumber] {
        self.phone_numbers.as_ref().map_or(&[], |e| &e.data)
    }

    pub fn subscribed_apps(&self) -> &[SubscribedApp] {
        self.subscribed_apps.as_ref().map_or(&[], |e| &e.data)
    }

    pub fn message_templates(&self) -> &[MessageTemplate] {
        self.message_templates.as_ref().map_or(&[], |e| &e.data)
    }

    /// Takes field `field` (one of [`WABA_RESTRICTED_FIELDS`]) from a read of that field alone.
    pub fn take_field(&mut self, from: Waba, field: &str) {
        match field {
            "primary_funding_id" => self.primary_funding_id = from.primary_funding_id,
            "owner_business_info" => self.owner_business_info = from.owner_business_info,
            "on_behalf_of_business_info" => self.on_behalf_of_business_info = from.on_behalf_of_business_info,
            "ownership_type" => self.ownership_type = from.ownership_type,
            _ => {}
        }
    }

    /// `primary_funding_id` present and not empty.
    pub fn has_payment_method(&self) -> Option<bool> {
        self.primary_funding_id.as_deref().map(|id| !id.trim().is_empty())
    }
}

/// `throughput` of a phone number.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Throughput {
    pub level: Option<ThroughputLevel>,
}

/// A business phone number node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PhoneNumber {
    #[serde(deserialize_with = "lenient_id")]
    pub id: String,
    /// As Meta formats it: `"+1 631-555-5555"` or `"15555555555"`.
    #[serde(deserialize_with = "lenient_string")]
    pub display_phone_number: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub verified_name: Option<String>,
    pub name_status: Option<NameStatus>,
    pub new_name_status: Option<NameStatus>,
    pub code_verification_status: Option<CodeVerificationStatus>,
    pub quality_rating: Option<QualityRating>,
    pub status: Option<PhoneNumberStatus>,
    pub platform_type: Option<PlatformType>,
    pub account_mode: Option<AccountMode>,
    #[serde(deserialize_with = "lenient_bool")]
    pub is_on_biz_app: Option<bool>,
    #[serde(deserialize_with = "lenient_bool")]
    pub is_pin_enabled: Option<bool>,
    #[serde(deserialize_with = "lenient_bool")]
    pub is_official_business_account: Option<bool>,
    pub messaging_limit_tier: Option<MessagingLimitTier>,
    #[serde(deserialize_with = "lenient")]
    pub throughput: Option<Throughput>,
    #[serde(deserialize_with = "lenient")]
    pub health_status: Option<HealthStatus>,
}

/// `health_status` of a phone number: whether it can send messages, and per entity of its chain
/// (number, WABA, business, app) what limits it, with Meta's error codes and possible solutions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthStatus {
    pub can_send_message: Option<CanSendMessage>,
    #[serde(deserialize_with = "lenient_list")]
    pub entities: Vec<HealthEntity>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthEntity {
    #[serde(deserialize_with = "lenient_string")]
    pub id: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub entity_type: Option<String>,
    pub can_send_message: Option<CanSendMessage>,
    #[serde(deserialize_with = "lenient_strings")]
    pub additional_info: Vec<String>,
    #[serde(deserialize_with = "lenient_list")]
    pub errors: Vec<HealthIssue>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthIssue {
    #[serde(deserialize_with = "lenient_i64")]
    pub error_code: Option<i64>,
    #[serde(deserialize_with = "lenient_string")]
    pub error_description: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub possible_solution: Option<String>,
}

impl PhoneNumber {
    /// The digits of `display_phone_number` (country code included), for matching a manifest
    /// number against what Graph lists.
    pub fn digits(&self) -> Option<String> {
        let digits: String =
            self.display_phone_number.as_deref()?.chars().filter(char::is_ascii_digit).collect();
        (!digits.is_empty()).then_some(digits)
    }
}

/// `whatsapp_business_api_data` of a subscribed app.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AppData {
    #[serde(deserialize_with = "lenient_string")]
    pub id: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub name: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub link: Option<String>,
}

/// One entry of `GET /{waba}/subscribed_apps`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SubscribedApp {
    #[serde(deserialize_with = "lenient")]
    pub whatsapp_business_api_data: Option<AppData>,
}

/// A template's `quality_score`: Graph sends either `"GREEN"` or `{"score": "GREEN", ...}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TemplateQuality {
    pub score: Option<QualityRating>,
}

impl<'de> Deserialize<'de> for TemplateQuality {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let score = match Value::deserialize(d)? {
            Value::String(s) => Some(QualityRating::parse(&s)),
            Value::Object(map) => match map.get("score") {
                Some(Value::String(s)) => Some(QualityRating::parse(s)),
                _ => None,
            },
            _ => None,
        };
        Ok(TemplateQuality { score })
    }
}

/// A message template (what wamig needs to report on duplication).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MessageTemplate {
    #[serde(deserialize_with = "lenient_id")]
    pub id: String,
    #[serde(deserialize_with = "lenient_string")]
    pub name: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub language: Option<String>,
    pub status: Option<TemplateStatus>,
    pub category: Option<TemplateCategory>,
    pub quality_score: Option<TemplateQuality>,
    /// HEADER, BODY, FOOTER, BUTTONS objects, kept as Graph sent them: wamig reads only a
    /// header's `format` and hands the rest back unchanged when it re-creates a template.
    #[serde(deserialize_with = "lenient_objects")]
    pub components: Option<Vec<Value>>,
    /// `POSITIONAL` (`{{1}}`) or `NAMED` (`{{first_name}}`) variables.
    #[serde(deserialize_with = "lenient_string")]
    pub parameter_format: Option<String>,
}

/// A list of objects; anything else (or a non-object item) is left out.
fn lenient_objects<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Value>>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => Some(items.into_iter().filter(Value::is_object).collect()),
        _ => None,
    })
}

impl MessageTemplate {
    pub fn quality(&self) -> Option<&QualityRating> {
        self.quality_score.as_ref()?.score.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn waba_with_expanded_edges_from_documented_shapes() {
        let waba: Waba = serde_json::from_value(json!({
            "id": "102290129340398",
            "name": "Lucky Shrub",
            "status": "ACTIVE",
            "business_verification_status": "verified",
            "account_review_status": "APPROVED",
            "ownership_type": "CLIENT_OWNED",
            "primary_funding_id": "1234567890",
            "owner_business_info": {"id": "506914307656634", "name": "Lucky Shrub Inc"},
            "phone_numbers": {
                "data": [{
                    "verified_name": "Lucky Shrub", "display_phone_number": "+1 631-555-5555",
                    "id": "106540352242922", "quality_rating": "GREEN",
                    "code_verification_status": "NOT_VERIFIED", "platform_type": "CLOUD_API",
                    "throughput": {"level": "STANDARD"}, "name_status": "APPROVED",
                    "account_mode": "LIVE", "is_on_biz_app": false, "is_pin_enabled": "true",
                    "messaging_limit_tier": "TIER_1K", "status": "CONNECTED"
                }],
                "paging": {"cursors": {"before": "QVFIUk", "after": "QVFIUl"}}
            },
            "subscribed_apps": {"data": [{"whatsapp_business_api_data": {
                "id": "67084...", "link": "https://www.facebook.com/games/?app_id=67084", "name": "Jaspers Market"}}]},
            "message_templates": {"data": [
                {"name": "order_update", "language": "en_US", "status": "APPROVED", "category": "UTILITY",
                 "id": "594425479261596", "quality_score": {"score": "GREEN", "date": 1699920000},
                 "parameter_format": "POSITIONAL",
                 "components": [{"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["4::aW"]}},
                                {"type": "BODY", "text": "Hi {{1}}"}, "odd"]},
                {"name": "promo", "language": "es", "status": "BRAND_NEW_STATUS", "category": "MARKETING",
                 "id": 594425479261597_u64, "quality_score": "UNKNOWN"}
            ]}
        }))
        .unwrap();
        assert_eq!(waba.business_verification_status, Some(BusinessVerificationStatus::Verified));
        assert_eq!(waba.account_review_status, Some(AccountReviewStatus::Approved));
        assert_eq!(waba.has_payment_method(), Some(true));
        assert_eq!(waba.owner_business_info.as_ref().unwrap().id.as_deref(), Some("506914307656634"));
        let number = &waba.phone_numbers()[0];
        assert_eq!(number.digits().as_deref(), Some("16315555555"));
        assert_eq!(number.is_pin_enabled, Some(true));
        assert_eq!(number.is_on_biz_app, Some(false));
        assert_eq!(number.throughput.as_ref().unwrap().level, Some(ThroughputLevel::Standard));
        assert_eq!(number.name_status, Some(NameStatus::Approved));
        assert_eq!(number.code_verification_status, Some(CodeVerificationStatus::NotVerified));
        assert_eq!(
            waba.subscribed_apps()[0].whatsapp_business_api_data.as_ref().unwrap().name.as_deref(),
            Some("Jaspers Market")
        );
        let templates = waba.message_templates();
        assert_eq!(templates[0].quality(), Some(&QualityRating::Green));
        assert_eq!(templates[1].quality(), Some(&QualityRating::Unknown));
        assert_eq!(templates[1].id, "594425479261597");
        assert_eq!(templates[1].status, Some(TemplateStatus::Other("BRAND_NEW_STATUS".into())));
        assert_eq!(templates[0].components.as_ref().map(Vec::len), Some(2), "a non-object item is left out");
        assert_eq!(templates[0].parameter_format.as_deref(), Some("POSITIONAL"));
        assert_eq!(templates[1].components, None);
    }

    #[test]
    fn unknown_and_odd_values_never_fail() {
        let number: PhoneNumber = serde_json::from_value(json!({
            "id": 123, "status": 5, "name_status": null, "throughput": "weird",
            "is_official_business_account": {"x": 1}, "quality_rating": "green",
            "platform_type": "SOMETHING_NEW", "extra_field": [1, 2]
        }))
        .unwrap();
        assert_eq!(number.id, "123");
        assert_eq!(number.status, Some(PhoneNumberStatus::Other("5".into())));
        assert_eq!(number.name_status, None);
        assert_eq!(number.throughput, None);
        assert_eq!(number.is_official_business_account, None);
        assert_eq!(number.quality_rating, Some(QualityRating::Green));
        assert_eq!(number.platform_type.as_ref().unwrap().as_str(), "SOMETHING_NEW");
        let waba: Waba =
            serde_json::from_value(json!({"id": "1", "business_verification_status": "VERIFIED",
            "owner_business_info": "hidden", "primary_funding_id": ""}))
            .unwrap();
        assert_eq!(waba.business_verification_status, Some(BusinessVerificationStatus::Verified));
        assert_eq!(waba.owner_business_info, None);
        assert_eq!(waba.has_payment_method(), Some(false));
        assert!(waba.phone_numbers().is_empty());
        // Known values serialise back to Meta's spelling.
        assert_eq!(serde_json::to_value(BusinessVerificationStatus::Verified).unwrap(), json!("verified"));
    }

    #[test]
    fn health_status_in_metas_documented_shape_and_odd_ones() {
        // The example of Meta's OpenAPI description (v23.0), trimmed.
        let number: PhoneNumber = serde_json::from_value(json!({
            "id": "106540352242922",
            "health_status": {
                "can_send_message": "BLOCKED",
                "entities": [
                    {"entity_type": "PHONE_NUMBER", "id": "106540352242922", "can_send_message": "AVAILABLE"},
                    {"entity_type": "WABA", "id": 102290129340398_i64, "can_send_message": "BLOCKED",
                     "errors": [
                        {"error_code": 141006,
                         "error_description": "There is an error with the payment method. This will block business initiated conversations.",
                         "possible_solution": "There was an error with your payment method. Please add a new payment method to the account."},
                        "not an object"
                     ]},
                    {"entity_type": "BUSINESS", "can_send_message": "LIMITED", "additional_info": ["a note"]}
                ]
            }
        }))
        .unwrap();
        let health = number.health_status.unwrap();
        assert_eq!(health.can_send_message, Some(CanSendMessage::Blocked));
        assert_eq!(health.entities.len(), 3);
        assert_eq!(health.entities[1].id.as_deref(), Some("102290129340398"));
        assert_eq!(health.entities[1].errors.len(), 1, "an unreadable error is dropped, not fatal");
        assert_eq!(health.entities[1].errors[0].error_code, Some(141006));
        assert_eq!(health.entities[2].additional_info, ["a note"]);
        let odd: PhoneNumber = serde_json::from_value(json!({"id": "1", "health_status": "weird"})).unwrap();
        assert_eq!(odd.health_status, None);
    }
}
