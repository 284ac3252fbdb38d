//! Owns the snapshot: what wamig observed of the live Graph API, in plain data the pure planner
//! can read and tests can build by hand. It holds no client types and no secrets; its digest
//! (without the observation time) tells whether a saved plan still matches the live state.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::vocabulary::{
    AccountMode, AccountReviewStatus, BusinessVerificationStatus, CanSendMessage, CodeVerificationStatus,
    MessagingLimitTier, NameStatus, OwnershipType, PhoneNumberStatus, PlatformType, QualityRating,
    TemplateCategory, TemplateStatus,
};

/// Everything observed in one `plan`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// When the observation finished (RFC 3339). Not part of the digest.
    pub observed_at: String,
    pub api_version: String,
    pub token: TokenView,
    /// Every WABA the manifest names (destinations and sources), by id.
    pub wabas: BTreeMap<String, WabaView>,
}

impl Snapshot {
    /// Digest of the observed state, ignoring when it was observed.
    pub fn digest(&self) -> String {
        let mut copy = self.clone();
        copy.observed_at.clear();
        crate::digest::of_json(&copy)
    }

    pub fn waba(&self, id: &str) -> Option<&WabaView> {
        self.wabas.get(id)
    }

    /// For each number's digits, every WABA listing it (status `MIGRATED` included), found in
    /// one pass over the WABAs: a plan of thousands of numbers in thousands of WABAs must not go
    /// over every WABA for each number.
    pub fn listings(&self) -> Listings<'_> {
        let mut by_digits: HashMap<&str, Vec<(&WabaView, &NumberView)>> = HashMap::new();
        for waba in self.wabas.values() {
            for number in waba.numbers.iter().flatten() {
                let listed = by_digits.entry(number.digits.as_str()).or_default();
                // A WABA's first node for the digits, as `WabaView::number` finds it.
                if listed.last().is_none_or(|(last, _)| last.id != waba.id) {
                    listed.push((waba, number));
                }
            }
        }
        Listings(by_digits)
    }
}

/// Each number's listings in the observed WABAs, by digits (see [`Snapshot::listings`]).
pub struct Listings<'a>(HashMap<&'a str, Vec<(&'a WabaView, &'a NumberView)>>);

impl<'a> Listings<'a> {
    /// Every WABA listing a number with these digits, in WABA order.
    pub fn of(&self, digits: &str) -> &[(&'a WabaView, &'a NumberView)] {
        self.0.get(digits).map_or(&[], Vec::as_slice)
    }
}

/// What the token may do, from `debug_token` or `me/permissions`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TokenView {
    /// Granted permissions, or `None` when Graph would not tell.
    pub permissions: Option<Vec<String>>,
    /// Why the permissions are unknown, when they are.
    pub unknown_reason: Option<String>,
}

/// One WABA as observed. Fields are `None` when Graph did not return them (not readable by this
/// token, or not requested); `access` says whether the node could be read at all.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct WabaView {
    pub id: String,
    pub access: Access,
    pub name: Option<String>,
    pub account_review_status: Option<AccountReviewStatus>,
    pub business_verification_status: Option<BusinessVerificationStatus>,
    /// Present (non-empty) when a payment method is set up. `Unknown` when Graph refused the field.
    pub payment_method: Presence,
    pub owner_business: Option<BusinessRef>,
    /// The client business a partner-owned WABA is run for (`on_behalf_of_business_info`).
    pub on_behalf_of_business: Option<BusinessRef>,
    pub ownership_type: Option<OwnershipType>,
    /// WABA fields Graph refused to this app (errors 10 and 200 are given for fields some apps
    /// may not read); the checks that need them say unknown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused_fields: Vec<String>,
    /// Apps subscribed to this WABA's webhooks; `None` when they could not be read.
    pub subscribed_apps: Option<Vec<AppRef>>,
    /// Message templates; `None` when they could not be read.
    pub templates: Option<Vec<TemplateView>>,
    /// Numbers listed on the WABA's `phone_numbers` edge; `None` when it could not be read.
    pub numbers: Option<Vec<NumberView>>,
}

impl WabaView {
    pub fn number(&self, digits: &str) -> Option<&NumberView> {
        self.numbers.as_ref()?.iter().find(|number| number.digits == digits)
    }

    pub fn is_readable(&self) -> bool {
        matches!(self.access, Access::Readable)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Access {
    #[default]
    Readable,
    /// The token may not read it (Graph's permission error or "does not exist").
    Unreadable { reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    Present,
    Absent,
    #[default]
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessRef {
    pub id: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppRef {
    pub id: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateView {
    pub id: Option<String>,
    pub name: String,
    pub language: Option<String>,
    pub status: Option<TemplateStatus>,
    pub quality: Option<QualityRating>,
    pub category: Option<TemplateCategory>,
    /// As Graph listed them; what a template is re-created from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter_format: Option<String>,
}

impl TemplateView {
    /// A HEADER component with an image, video or document: its media cannot be copied into a
    /// new template without a fresh upload.
    pub fn has_media_header(&self) -> bool {
        self.components.iter().flatten().any(crate::vocabulary::is_media_header)
    }
}

/// A phone-number node as listed on a WABA (or read by id).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NumberView {
    pub id: String,
    /// As Graph shows it, e.g. `+1 631-555-5555`.
    pub display_phone_number: Option<String>,
    /// Just the digits of `display_phone_number`: how numbers are matched with the manifest.
    pub digits: String,
    pub verified_name: Option<String>,
    pub name_status: Option<NameStatus>,
    /// Status of a pending display-name change, when there is one.
    pub new_name_status: Option<NameStatus>,
    pub code_verification_status: Option<CodeVerificationStatus>,
    pub status: Option<PhoneNumberStatus>,
    /// `NOT_APPLICABLE` = not registered.
    pub platform_type: Option<PlatformType>,
    /// `SANDBOX` marks a test number.
    pub account_mode: Option<AccountMode>,
    pub is_on_biz_app: Option<bool>,
    /// Two-step verification on, where Graph returns it.
    pub is_pin_enabled: Option<bool>,
    pub quality_rating: Option<QualityRating>,
    pub messaging_limit_tier: Option<MessagingLimitTier>,
    pub is_official_business_account: Option<bool>,
    /// `health_status`: whether the number can send messages now, and why not. Absent when Graph
    /// did not return it (older snapshots, or the field refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthView>,
}

/// A number's `health_status` as Graph reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthView {
    pub can_send_message: CanSendMessage,
    /// The number, its WABA, business and app, each with what limits it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entities: Vec<HealthEntity>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HealthEntity {
    /// `PHONE_NUMBER`, `WABA`, `BUSINESS`, `APP`.
    pub entity_type: Option<String>,
    pub id: Option<String>,
    pub can_send_message: Option<CanSendMessage>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_info: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<HealthError>,
}

/// Meta's error code, its description and the possible solution it suggests.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct HealthError {
    pub code: Option<i64>,
    pub description: Option<String>,
    pub possible_solution: Option<String>,
}

impl NumberView {
    pub fn is_verified(&self) -> bool {
        self.code_verification_status == Some(CodeVerificationStatus::Verified)
    }

    /// Registered on a WhatsApp API (Cloud or On-Premises) as far as the platform tells.
    pub fn is_on_api_platform(&self) -> bool {
        matches!(self.platform_type, Some(PlatformType::CloudApi | PlatformType::OnPremise))
    }

    /// A source listing that only remembers a number that has moved away.
    pub fn is_migrated_away(&self) -> bool {
        self.status == Some(PhoneNumberStatus::Migrated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, digits: &str) -> NumberView {
        NumberView { id: id.to_owned(), digits: digits.to_owned(), ..NumberView::default() }
    }

    #[test]
    fn listings_give_each_waba_listing_the_digits_once_in_waba_order() {
        let mut snapshot = Snapshot::default();
        for (waba, numbers) in [
            ("2", vec![node("21", "100"), node("22", "100")]),
            ("1", vec![node("11", "100"), node("12", "200")]),
            ("3", vec![node("31", "300")]),
        ] {
            let view = WabaView { id: waba.to_owned(), numbers: Some(numbers), ..WabaView::default() };
            snapshot.wabas.insert(waba.to_owned(), view);
        }
        let listings = snapshot.listings();
        let found: Vec<(&str, &str)> =
            listings.of("100").iter().map(|(waba, node)| (waba.id.as_str(), node.id.as_str())).collect();
        // The first node of WABA 2 only, as `WabaView::number` finds it.
        assert_eq!(found, [("1", "11"), ("2", "21")]);
        assert_eq!(listings.of("200").len(), 1);
        assert!(listings.of("999").is_empty());
    }
}
