//! Owns the sandbox world file: its serde types (unknown keys are errors), defaults, and the
//! semantic checks that run after parsing (ids, references, uniqueness). It describes the world
//! as it is at start-up; it must not hold run-time state (codes, attempts, migrations), which
//! `state.rs` derives from it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::SandboxError;
use super::faults::Refusal;
use crate::secret::Secret;

/// Declares a closed set of Graph string values; unknown values in the world file are errors that
/// list the accepted ones, and `as_str` gives the exact text Graph returns.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize, serde::Serialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

mod health;
pub use health::{CanSendMessage, Chain, HealthDef, render as render_health};

string_enum!(
    /// What Meta's review decides for a template submitted with `POST /{waba}/message_templates`.
    ReviewDecision {
        Approve => "approve",
        Reject => "reject",
    }
);

string_enum!(
    /// What happens to the source's node once ownership is verified in the destination.
    MigratedSource {
        Remove => "remove",
        MarkMigrated => "mark_migrated",
    }
);

string_enum!(
    TokenType {
        SystemUser => "SYSTEM_USER",
        User => "USER",
        App => "APP",
    }
);

// Graph's values, from wamig's one vocabulary: closed sets, so a world file names only values
// Meta documents (an unknown one is an error listing the accepted ones).
pub use crate::vocabulary::KnownAccountMode as AccountMode;
pub use crate::vocabulary::KnownAccountReviewStatus as ReviewStatus;
pub use crate::vocabulary::KnownBusinessVerificationStatus as VerificationStatus;
pub use crate::vocabulary::KnownCodeVerificationStatus as CodeVerificationStatus;
pub use crate::vocabulary::KnownMessagingLimitTier as MessagingLimitTier;
pub use crate::vocabulary::KnownNameStatus as NameStatus;
pub use crate::vocabulary::KnownOwnershipType as OwnershipType;
pub use crate::vocabulary::KnownPhoneNumberStatus as NumberStatus;
pub use crate::vocabulary::KnownPlatformType as PlatformType;
pub use crate::vocabulary::KnownQualityRating as QualityRating;
pub use crate::vocabulary::KnownQualityRating as TemplateQuality;
pub use crate::vocabulary::KnownTemplateCategory as TemplateCategory;
pub use crate::vocabulary::KnownTemplateHeaderFormat as HeaderFormat;
pub use crate::vocabulary::KnownTemplateStatus as TemplateStatus;

/// The whole world file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct World {
    #[serde(default)]
    pub options: Options,
    #[serde(default)]
    pub app: App,
    #[serde(default)]
    pub businesses: Vec<Business>,
    #[serde(default)]
    pub wabas: Vec<Waba>,
    #[serde(default)]
    pub tokens: Vec<TokenDef>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// Items per page on edges when the request gives no `limit`.
    pub page_size: u32,
    /// How long a verification code stays valid.
    #[serde(deserialize_with = "duration_text")]
    pub code_lifetime: Duration,
    /// Wrong codes accepted before verification locks.
    pub verify_attempts: u32,
    /// How long verification stays locked after too many wrong codes.
    #[serde(deserialize_with = "duration_text")]
    pub verify_lockout: Duration,
    pub migrated_source: MigratedSource,
    pub rate_limit: RateLimitOptions,
    /// Register (and deregister) calls allowed per number in `register_window`.
    pub register_limit: u32,
    #[serde(deserialize_with = "duration_text")]
    pub register_window: Duration,
    /// Faults active from start-up; `wamig sandbox` flags and the admin API override them.
    pub faults: FaultOptions,
    /// For this long after a write that changes a phone-number node, reads show the node as it
    /// was before the write (Graph is eventually consistent). Zero: reads show writes at once.
    #[serde(deserialize_with = "duration_text")]
    pub read_lag: Duration,
    /// A node created by the migration POST reads `code_verification_status: VERIFIED` at once
    /// (carried over from the source), although ownership is not proven: register still needs
    /// a successful verify_code.
    pub verified_on_migration: bool,
    /// After verify_code the source keeps listing the number (CONNECTED) until the destination
    /// registers it; only then does `migrated_source` apply.
    pub source_keeps_until_registered: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            page_size: 25,
            code_lifetime: Duration::from_secs(10 * 60),
            verify_attempts: 5,
            verify_lockout: Duration::from_secs(60 * 60),
            migrated_source: MigratedSource::Remove,
            rate_limit: RateLimitOptions::default(),
            register_limit: 10,
            register_window: Duration::from_secs(72 * 60 * 60),
            faults: FaultOptions::default(),
            read_lag: Duration::ZERO,
            verified_on_migration: false,
            source_keeps_until_registered: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitOptions {
    /// Calls per rolling hour per WABA (WhatsApp Business Management API BUC).
    pub calls_per_hour: u32,
    /// The same for a WABA with at least one registered (CONNECTED) number.
    pub calls_per_hour_active: u32,
}

impl Default for RateLimitOptions {
    fn default() -> Self {
        Self { calls_per_hour: 200, calls_per_hour_active: 5000 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultOptions {
    #[serde(deserialize_with = "duration_text")]
    pub latency: Duration,
    pub error_rate: f64,
    pub drop_rate: f64,
    pub throttle_burst: u32,
    pub seed: u64,
    /// Writes answered with a definite refusal, without acting.
    pub refuse: Vec<Refusal>,
}

impl Default for FaultOptions {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            error_rate: 0.0,
            drop_rate: 0.0,
            throttle_burst: 0,
            seed: 1,
            refuse: Vec::new(),
        }
    }
}

/// The app the tokens belong to. With a `secret`, every call must carry `appsecret_proof`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct App {
    pub id: String,
    pub name: String,
    #[serde(deserialize_with = "optional_secret")]
    pub secret: Option<Secret>,
}

impl Default for App {
    fn default() -> Self {
        Self { id: "100000000000001".to_owned(), name: "wamig sandbox app".to_owned(), secret: None }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Business {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Waba {
    pub id: String,
    pub name: String,
    /// Id of the owning business.
    pub business: String,
    /// How the WABA is owned; `ON_BEHALF_OF` when `on_behalf_of_business` is set, else
    /// `CLIENT_OWNED`.
    #[serde(default)]
    pub ownership_type: Option<OwnershipType>,
    /// The client business a partner runs this WABA for (`on_behalf_of_business_info`): the
    /// business the WABA represents.
    #[serde(default)]
    pub on_behalf_of_business: Option<String>,
    #[serde(default = "default_review")]
    pub account_review_status: ReviewStatus,
    #[serde(default = "default_verification")]
    pub business_verification_status: VerificationStatus,
    /// The payment method; absent means none.
    #[serde(default)]
    pub primary_funding_id: Option<String>,
    #[serde(default = "default_currency")]
    pub currency: String,
    /// ISO 3166 alpha-2 code, as Meta's WABA example shows it.
    #[serde(default = "default_country")]
    pub country: String,
    #[serde(default = "default_timezone")]
    pub timezone_id: String,
    #[serde(default)]
    pub message_template_namespace: Option<String>,
    /// Apps subscribed to the WABA's webhooks.
    #[serde(default)]
    pub subscribed_apps: Vec<SubscribedApp>,
    /// How many distinct template names the WABA may hold.
    #[serde(default = "default_template_limit")]
    pub template_limit: u32,
    #[serde(default)]
    pub templates: Vec<TemplateDef>,
    #[serde(default)]
    pub phone_numbers: Vec<NumberDef>,
    /// What Meta's review decides, and when, for templates created in this WABA.
    #[serde(default)]
    pub template_review: TemplateReview,
    /// A `migrate_message_templates` page of more than this many templates runs past Meta's
    /// 30 seconds: it fails (code 1, "reduce the amount of data") and nothing is migrated.
    #[serde(default)]
    pub template_migration_timeout_above: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TemplateReview {
    pub decision: ReviewDecision,
    /// How long a created template stays PENDING, on the sandbox clock.
    #[serde(deserialize_with = "duration_text")]
    pub after: Duration,
    /// Names whose review always ends REJECTED, whatever `decision` says.
    pub reject: Vec<String>,
}

impl Default for TemplateReview {
    fn default() -> Self {
        Self { decision: ReviewDecision::Approve, after: Duration::from_secs(60), reject: Vec::new() }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscribedApp {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateDef {
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    #[serde(default = "default_language")]
    pub language: String,
    pub category: TemplateCategory,
    pub status: TemplateStatus,
    #[serde(default = "default_template_quality")]
    pub quality_score: TemplateQuality,
    /// Body text; the sandbox builds a one-component template from it.
    #[serde(default)]
    pub body: Option<String>,
    /// When the template is duplicated into a destination by a migration (or copied by
    /// `migrate_message_templates`), the copy is re-categorised and becomes REJECTED.
    #[serde(default)]
    pub rejected_when_duplicated: bool,
    /// A HEADER component of this format; the media ones list a sample URL as Graph does.
    #[serde(default)]
    pub header: Option<HeaderFormat>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberDef {
    pub id: String,
    /// As Graph shows it, e.g. "+1 631-555-0101"; its digits are the number in E.164.
    pub display_phone_number: String,
    pub verified_name: String,
    #[serde(default = "default_name_status")]
    pub name_status: NameStatus,
    /// Status of a display-name change request; PENDING_REVIEW blocks migration.
    #[serde(default)]
    pub new_name_status: Option<NameStatus>,
    #[serde(default = "default_account_mode")]
    pub account_mode: AccountMode,
    #[serde(default = "default_quality")]
    pub quality_rating: QualityRating,
    /// Two-step verification on.
    #[serde(default)]
    pub is_pin_enabled: bool,
    #[serde(default)]
    pub is_on_biz_app: bool,
    #[serde(default = "default_platform")]
    pub platform_type: PlatformType,
    #[serde(default = "default_number_status")]
    pub status: NumberStatus,
    #[serde(default = "default_code_verification")]
    pub code_verification_status: CodeVerificationStatus,
    #[serde(default = "default_tier")]
    pub messaging_limit_tier: MessagingLimitTier,
    #[serde(default)]
    pub is_official_business_account: bool,
    /// The first N register calls for this number (after it is migrated) fail with code 100,
    /// subcode 2388001 "Cannot Create Certificate", as while the display name is provisioned.
    #[serde(default)]
    pub register_failures: u32,
    /// The number is in maintenance: starting its migration fails with 2494100.
    #[serde(default)]
    pub maintenance: bool,
    /// Whether it can send messages, and why not (`health_status`); absent: it can.
    #[serde(default)]
    pub health_status: Option<HealthDef>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenDef {
    #[serde(deserialize_with = "secret")]
    pub token: Secret,
    /// A label shown in logs and `debug_token` (`application` is the app's name).
    #[serde(default)]
    pub name: Option<String>,
    /// The system user behind the token (`user_id` in `debug_token`, `id` of `/me`).
    #[serde(default)]
    pub user_id: Option<String>,
    /// App the token belongs to; defaults to the world's app.
    #[serde(default)]
    pub app_id: Option<String>,
    #[serde(default = "default_token_type", rename = "type")]
    pub kind: TokenType,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// WABAs the token may read.
    #[serde(default)]
    pub read: Vec<String>,
    /// WABAs the token may manage (implies read).
    #[serde(default)]
    pub manage: Vec<String>,
    /// An expired token: every call fails with 190 / subcode 463.
    #[serde(default)]
    pub expired: bool,
    /// WABA fields this kind of token is refused (an app without a Solution Partner's access,
    /// say): a WABA read asking for any of them fails as a whole.
    #[serde(default)]
    pub refused_fields: Vec<String>,
    /// The code of that refusal: 200 or 10.
    #[serde(default = "default_refused_field_code")]
    pub refused_field_code: i64,
}

fn default_review() -> ReviewStatus {
    ReviewStatus::Approved
}
fn default_verification() -> VerificationStatus {
    VerificationStatus::Verified
}
fn default_currency() -> String {
    "USD".to_owned()
}
fn default_country() -> String {
    "US".to_owned()
}
fn default_timezone() -> String {
    "1".to_owned()
}
fn default_template_limit() -> u32 {
    250
}
fn default_language() -> String {
    "en_US".to_owned()
}
fn default_template_quality() -> TemplateQuality {
    TemplateQuality::Unknown
}
fn default_name_status() -> NameStatus {
    NameStatus::Approved
}
fn default_account_mode() -> AccountMode {
    AccountMode::Live
}
fn default_quality() -> QualityRating {
    QualityRating::Green
}
fn default_platform() -> PlatformType {
    PlatformType::CloudApi
}
fn default_number_status() -> NumberStatus {
    NumberStatus::Connected
}
fn default_code_verification() -> CodeVerificationStatus {
    CodeVerificationStatus::Verified
}
fn default_tier() -> MessagingLimitTier {
    MessagingLimitTier::Tier1K
}
fn default_token_type() -> TokenType {
    TokenType::SystemUser
}
fn default_refused_field_code() -> i64 {
    200
}
fn default_scopes() -> Vec<String> {
    vec!["whatsapp_business_management".to_owned(), "whatsapp_business_messaging".to_owned()]
}

fn duration_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    super::parse_duration(&text).map_err(serde::de::Error::custom)
}

fn secret<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Secret, D::Error> {
    String::deserialize(deserializer).map(Secret::new)
}

fn optional_secret<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Secret>, D::Error> {
    Option::<String>::deserialize(deserializer).map(|value| value.map(Secret::new))
}

/// The digits of a phone number as written anywhere (E.164 without `+`).
pub fn digits_of(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// Digits, as Graph ids are (bounded, so a hostile world file cannot make them huge).
pub(crate) fn is_id(text: &str) -> bool {
    !text.is_empty() && text.len() <= 32 && text.bytes().all(|b| b.is_ascii_digit())
}

impl World {
    /// Parses and checks a world; `path` only names the file in errors.
    pub fn from_yaml_str(text: &str) -> Result<World, SandboxError> {
        Self::parse(text, None)
    }

    pub fn load(path: &Path) -> Result<World, SandboxError> {
        // Bounded like a manifest: a world is YAML a person wrote, never more than a few MiB.
        let text = crate::files::read_text_bounded(path, 16 * 1024 * 1024, crate::files::Links::Follow)
            .map_err(|source| SandboxError::ReadWorld { path: path.to_owned(), source })?;
        Self::parse(&text, Some(path))
    }

    fn parse(text: &str, path: Option<&Path>) -> Result<World, SandboxError> {
        let world: World = serde_yaml::from_str(text).map_err(|error| {
            let location = error.location();
            SandboxError::WorldSyntax {
                path: path.map(Path::to_owned),
                line: location.as_ref().map(|l| l.line()),
                column: location.as_ref().map(|l| l.column()),
                message: error.to_string(),
            }
        })?;
        let problems = world.problems();
        if problems.is_empty() {
            Ok(world)
        } else {
            Err(SandboxError::WorldInvalid { path: path.map(Path::to_owned), problems })
        }
    }

    /// Every semantic problem, each naming the key it is about.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut ids: BTreeMap<String, String> = BTreeMap::new();
        let mut claim = |id: &str, what: String, problems: &mut Vec<String>| {
            if !is_id(id) {
                problems.push(format!(
                    "{what}: id \"{id}\" must be a string of 1 to 32 digits, as Graph ids are"
                ));
            } else if let Some(first) = ids.get(id) {
                problems.push(format!(
                    "{what}: id {id} is already used by {first}; Graph ids are unique across all objects"
                ));
            } else {
                ids.insert(id.to_owned(), what);
            }
        };

        let o = &self.options;
        if o.page_size == 0 || o.page_size > 100 {
            problems.push("options.page_size: must be between 1 and 100".to_owned());
        }
        if o.verify_attempts == 0 {
            problems.push("options.verify_attempts: must be at least 1".to_owned());
        }
        if o.code_lifetime.is_zero() {
            problems.push("options.code_lifetime: must be longer than 0s".to_owned());
        }
        if o.register_limit == 0 {
            problems.push("options.register_limit: must be at least 1".to_owned());
        }
        if o.rate_limit.calls_per_hour == 0 || o.rate_limit.calls_per_hour_active == 0 {
            problems.push("options.rate_limit: limits must be at least 1".to_owned());
        }
        for (name, rate) in [("error_rate", o.faults.error_rate), ("drop_rate", o.faults.drop_rate)] {
            if !(0.0..=1.0).contains(&rate) {
                problems
                    .push(format!("options.faults.{name}: must be between 0 and 1 (a share of requests)"));
            }
        }
        for (i, refusal) in o.faults.refuse.iter().enumerate() {
            if let Some(problem) = refusal.problem() {
                problems.push(format!("options.faults.refuse[{i}]: {problem}"));
            }
        }
        claim(&self.app.id, "app.id".to_owned(), &mut problems);

        let mut businesses = BTreeSet::new();
        for (i, business) in self.businesses.iter().enumerate() {
            claim(&business.id, format!("businesses[{i}]"), &mut problems);
            businesses.insert(business.id.as_str());
        }

        let mut wabas = BTreeSet::new();
        let mut phones: BTreeMap<String, String> = BTreeMap::new();
        for (w, waba) in self.wabas.iter().enumerate() {
            let at = format!("wabas[{w}] ({})", waba.name);
            claim(&waba.id, at.clone(), &mut problems);
            wabas.insert(waba.id.as_str());
            if !businesses.contains(waba.business.as_str()) {
                problems.push(format!(
                    "{at}.business: no business with id \"{}\" under `businesses`",
                    waba.business
                ));
            }
            if let Some(client) = &waba.on_behalf_of_business {
                if !businesses.contains(client.as_str()) {
                    problems.push(format!(
                        "{at}.on_behalf_of_business: no business with id \"{client}\" under `businesses`"
                    ));
                }
                if waba.ownership_type.is_some_and(|t| t != OwnershipType::OnBehalfOf) {
                    problems.push(format!(
                        "{at}.ownership_type: a WABA run on behalf of a business is ON_BEHALF_OF (or leave the key out)"
                    ));
                }
            }
            if waba.template_limit == 0 {
                problems.push(format!("{at}.template_limit: must be at least 1"));
            }
            if waba.template_migration_timeout_above == Some(0) {
                problems.push(format!(
                    "{at}.template_migration_timeout_above: must be at least 1 (leave it out for never)"
                ));
            }
            if waba.country.len() != 2 || !waba.country.bytes().all(|b| b.is_ascii_uppercase()) {
                problems.push(format!(
                    "{at}.country: \"{}\" must be a two-letter country code in capitals, such as US",
                    waba.country
                ));
            }
            if let Some(funding) = &waba.primary_funding_id
                && !is_id(funding)
            {
                problems.push(format!(
                    "{at}.primary_funding_id: \"{funding}\" must be digits (or leave the key out for no payment method)"
                ));
            }
            for (a, app) in waba.subscribed_apps.iter().enumerate() {
                if !is_id(&app.id) {
                    problems.push(format!("{at}.subscribed_apps[{a}].id: \"{}\" must be digits", app.id));
                }
            }
            let mut names = BTreeSet::new();
            for (t, template) in waba.templates.iter().enumerate() {
                let tat = format!("{at}.templates[{t}] ({})", template.name);
                if let Some(id) = &template.id {
                    claim(id, tat.clone(), &mut problems);
                }
                if template.name.is_empty()
                    || !template
                        .name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                {
                    problems.push(format!(
                        "{tat}.name: template names use lower-case letters, digits and underscores"
                    ));
                }
                if !names.insert((template.name.as_str(), template.language.as_str())) {
                    problems.push(format!(
                        "{tat}: the WABA already has a template {} in {}",
                        template.name, template.language
                    ));
                }
            }
            for (n, number) in waba.phone_numbers.iter().enumerate() {
                let nat = format!("{at}.phone_numbers[{n}] ({})", number.display_phone_number);
                claim(&number.id, nat.clone(), &mut problems);
                let digits = digits_of(&number.display_phone_number);
                if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
                    problems.push(format!(
                        "{nat}.display_phone_number: must hold an E.164 number (country code first, 8 to 15 digits)"
                    ));
                } else if let Some(first) = phones.get(&digits) {
                    problems.push(format!(
                        "{nat}: the number +{digits} is already listed at {first}; a number lives in one WABA"
                    ));
                } else {
                    phones.insert(digits, nat.clone());
                }
            }
        }

        let mut tokens = BTreeSet::new();
        for (t, token) in self.tokens.iter().enumerate() {
            let at = format!("tokens[{t}]{}", label(token.name.as_deref()));
            if token.token.expose().trim().is_empty() {
                problems.push(format!("{at}.token: must not be empty"));
            } else if token.token.expose().chars().any(char::is_whitespace) {
                problems.push(format!("{at}.token: must not contain whitespace"));
            } else if !tokens.insert(token.token.expose().to_owned()) {
                problems.push(format!("{at}.token: the same token is defined twice"));
            }
            if let Some(user) = &token.user_id
                && !is_id(user)
            {
                problems.push(format!("{at}.user_id: \"{user}\" must be digits"));
            }
            problems.extend(refused_field_problems(&at, &token.refused_fields, token.refused_field_code));
            for (key, list) in [("read", &token.read), ("manage", &token.manage)] {
                for id in list {
                    if !wabas.contains(id.as_str()) {
                        problems.push(format!("{at}.{key}: no WABA with id \"{id}\" under `wabas`"));
                    }
                }
            }
        }
        problems
    }
}

/// What is wrong with a token's `refused_fields` and `refused_field_code` (`at` names the token).
pub(crate) fn refused_field_problems(at: &str, fields: &[String], code: i64) -> Vec<String> {
    let mut problems = Vec::new();
    if !matches!(code, 10 | 200) {
        problems.push(format!(
            "{at}.refused_field_code: {code} is not a code Graph refuses fields with; use 200 or 10"
        ));
    }
    for field in fields {
        if !super::state::WABA_FIELDS.contains(&field.as_str()) {
            problems.push(format!(
                "{at}.refused_fields: \"{field}\" is not a WABA field; the sandbox knows {}",
                super::state::WABA_FIELDS.join(", ")
            ));
        }
    }
    problems
}

fn label(name: Option<&str>) -> String {
    name.map(|n| format!(" ({n})")).unwrap_or_default()
}

#[cfg(test)]
mod tests;
