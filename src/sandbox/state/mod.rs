//! Owns the sandbox's live state and Meta's rules over it, one room per job: `access` (who may
//! read or manage what), `usage` (the per-WABA rate limit), `render` (nodes and edges with field
//! selection and cursor paging), `migration` (initiate, request_code, verify_code, register),
//! `templates` (duplication and its report), `lag` (what reads show shortly after a write),
//! `behaviour` (switching Graph behaviours at run time) and `admin` (changes outside the API,
//! inspection).
//! This file holds the state itself and its construction from a world. It is pure: time comes
//! in as `now`, randomness from a seeded PRNG, and it never does I/O (the server writes the
//! outbox file and the request log). It must not know about HTTP beyond the status codes carried
//! by `GraphError`.

mod access;
mod admin;
mod behaviour;
mod lag;
mod migration;
mod render;
mod templates;
mod usage;

pub use access::Caller;
pub use admin::{NumberPatch, NumberSnapshot, WabaPatch};
pub use behaviour::{Behaviour, OptionsPatch, TokenBehaviour, TokenPatch};
pub use migration::IssuedCode;
pub use render::{EdgeQuery, PageCtx, WABA_FIELDS};
pub use templates::{SkippedTemplate, TemplateKey, TemplateReport, TemplateSnapshot};
pub use usage::Usage;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use jiff::Timestamp;

use super::faults::Prng;
use super::world::{
    AccountMode, CodeVerificationStatus, HealthDef, MessagingLimitTier, NameStatus, NumberStatus, Options,
    OwnershipType, PlatformType, QualityRating, ReviewStatus, TemplateReview, TokenType, VerificationStatus,
    World, digits_of,
};
use crate::secret::Secret;

pub const MANAGEMENT: &str = "whatsapp_business_management";
pub const MESSAGING: &str = "whatsapp_business_messaging";

#[derive(Debug, Clone)]
struct TokenState {
    token: Secret,
    name: Option<String>,
    user_id: String,
    app_id: String,
    kind: TokenType,
    scopes: Vec<String>,
    read: BTreeSet<String>,
    manage: BTreeSet<String>,
    expired: bool,
    refused_fields: Vec<String>,
    refused_field_code: i64,
}

#[derive(Debug, Clone)]
struct WabaState {
    id: String,
    name: String,
    business: String,
    ownership: OwnershipType,
    /// The client business the owner runs this WABA for, when it does.
    on_behalf_of: Option<String>,
    review: ReviewStatus,
    verification: VerificationStatus,
    funding: Option<String>,
    currency: String,
    country: String,
    timezone_id: String,
    namespace: String,
    subscribed: Vec<(u64, String, String)>,
    template_limit: u32,
    template_review: TemplateReview,
    template_migration_timeout_above: Option<u32>,
}

#[derive(Debug, Clone)]
struct CodeState {
    value: Secret,
    expires_at: Timestamp,
}

#[derive(Debug, Clone)]
struct MigrationIn {
    source_number: String,
    source_waba: String,
    code: Option<CodeState>,
    codes_requested: u32,
    wrong_attempts: u32,
    locked_until: Option<Timestamp>,
    verified_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
struct NumberState {
    id: String,
    ordinal: u64,
    waba: String,
    digits: String,
    display: String,
    verified_name: String,
    name_status: NameStatus,
    new_name_status: Option<NameStatus>,
    account_mode: AccountMode,
    quality_rating: QualityRating,
    is_pin_enabled: bool,
    is_on_biz_app: bool,
    platform: PlatformType,
    status: NumberStatus,
    code_verification: CodeVerificationStatus,
    tier: Option<MessagingLimitTier>,
    official: bool,
    health: Option<HealthDef>,
    throughput: &'static str,
    maintenance: bool,
    register_failures_left: u32,
    register_attempts: Vec<Timestamp>,
    pin: Option<Secret>,
    /// False once the node is gone (migrated away with `migrated_source: remove`).
    exists: bool,
    last_onboarded: Option<Timestamp>,
    migration: Option<MigrationIn>,
    migrated_to: Option<String>,
}

impl NumberState {
    fn pending_migration(&self) -> bool {
        self.migration.as_ref().is_some_and(|m| m.verified_at.is_none())
    }

    /// The node that currently carries the number (not gone, not a left-behind source, not a
    /// migration still waiting for verification).
    fn is_live(&self) -> bool {
        self.exists && self.status != NumberStatus::Migrated && !self.pending_migration()
    }
}

pub struct State {
    options: Options,
    app_id: String,
    app_name: String,
    businesses: BTreeMap<String, String>,
    wabas: BTreeMap<String, WabaState>,
    numbers: BTreeMap<String, NumberState>,
    /// The ids of each WABA's nodes (a node never changes WABA), so listing a WABA's numbers
    /// does not go over every number of the world.
    by_waba: BTreeMap<String, Vec<String>>,
    templates: BTreeMap<String, TemplateSnapshot>,
    tokens: Vec<TokenState>,
    ordinal: u64,
    next_id: u64,
    rng: Prng,
    calls: BTreeMap<String, VecDeque<Timestamp>>,
    reports: Vec<TemplateReport>,
    /// What reads may still show of recently written nodes (`lag.rs`).
    lagging: BTreeMap<String, lag::History>,
}

fn add(at: Timestamp, duration: Duration) -> Timestamp {
    at.checked_add(duration).unwrap_or(Timestamp::MAX)
}

fn since(later: Timestamp, earlier: Timestamp) -> Duration {
    Duration::try_from(later.duration_since(earlier)).unwrap_or_default()
}

fn ceil_minutes(duration: Duration) -> u64 {
    duration.as_secs().div_ceil(60)
}

fn is_six_digits(text: &str) -> bool {
    text.len() == 6 && text.bytes().all(|b| b.is_ascii_digit())
}

/// Graph's timestamp style: `2024-05-01T12:00:00+0000`.
fn graph_time(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S+0000").to_string()
}

impl WabaState {
    /// The business the WABA represents: the client it is run for, else its owner. Meta
    /// migrates numbers only between WABAs that represent the same business.
    fn represented_business(&self) -> &str {
        self.on_behalf_of.as_deref().unwrap_or(&self.business)
    }
}

impl State {
    pub fn new(world: &World, seed: u64) -> State {
        let mut state = State {
            options: world.options.clone(),
            app_id: world.app.id.clone(),
            app_name: world.app.name.clone(),
            businesses: world.businesses.iter().map(|b| (b.id.clone(), b.name.clone())).collect(),
            wabas: BTreeMap::new(),
            numbers: BTreeMap::new(),
            by_waba: BTreeMap::new(),
            templates: BTreeMap::new(),
            tokens: Vec::new(),
            ordinal: 0,
            next_id: 0,
            rng: Prng::new(seed ^ 0x5EED_C0DE),
            calls: BTreeMap::new(),
            reports: Vec::new(),
            lagging: BTreeMap::new(),
        };
        // Generated ids continue after the largest id of the world, so they look alike and
        // never collide.
        let mut largest: u64 = 100_000_000_000_000;
        let mut note = |id: &str| {
            // Ids past 10^18 are left to the collision check so counting never overflows.
            if let Ok(value) = id.parse::<u64>()
                && value < 1_000_000_000_000_000_000
            {
                largest = largest.max(value);
            }
        };
        for waba in &world.wabas {
            note(&waba.id);
            for number in &waba.phone_numbers {
                note(&number.id);
            }
            for template in &waba.templates {
                if let Some(id) = &template.id {
                    note(id);
                }
            }
        }
        state.next_id = largest.saturating_add(1000);

        for waba in &world.wabas {
            // One ordinal per app: cursors are ordinals, so apps sharing one could not be paged.
            let subscribed = waba
                .subscribed_apps
                .iter()
                .map(|app| (state.next_ordinal(), app.id.clone(), app.name.clone()))
                .collect();
            let namespace = waba.message_template_namespace.clone().unwrap_or_else(|| {
                let a = state.rng.next_u64();
                let b = state.rng.next_u64();
                format!(
                    "{:08x}_{:04x}_{:04x}_{:04x}_{:012x}",
                    a >> 32,
                    (a >> 16) & 0xffff,
                    a & 0xffff,
                    b >> 48,
                    b & 0xffff_ffff_ffff
                )
            });
            state.wabas.insert(
                waba.id.clone(),
                WabaState {
                    id: waba.id.clone(),
                    name: waba.name.clone(),
                    business: waba.business.clone(),
                    ownership: waba.ownership_type.unwrap_or(if waba.on_behalf_of_business.is_some() {
                        OwnershipType::OnBehalfOf
                    } else {
                        OwnershipType::ClientOwned
                    }),
                    on_behalf_of: waba.on_behalf_of_business.clone(),
                    review: waba.account_review_status,
                    verification: waba.business_verification_status,
                    funding: waba.primary_funding_id.clone(),
                    currency: waba.currency.clone(),
                    country: waba.country.clone(),
                    timezone_id: waba.timezone_id.clone(),
                    namespace,
                    subscribed,
                    template_limit: waba.template_limit,
                    template_review: waba.template_review.clone(),
                    template_migration_timeout_above: waba.template_migration_timeout_above,
                },
            );
            for template in &waba.templates {
                let id = template.id.clone().unwrap_or_else(|| state.new_id());
                let ordinal = state.next_ordinal();
                state.templates.insert(
                    id.clone(),
                    TemplateSnapshot {
                        id,
                        waba_id: waba.id.clone(),
                        name: template.name.clone(),
                        language: template.language.clone(),
                        category: template.category,
                        status: template.status,
                        quality_score: template.quality_score,
                        duplicated_for: None,
                        migrated_from: None,
                        ordinal,
                        body: template
                            .body
                            .clone()
                            .unwrap_or_else(|| format!("Hello {{{{1}}}}, this is {}.", template.name)),
                        rejected_when_duplicated: template.rejected_when_duplicated,
                        quality_date: 1_700_000_000,
                        header: template.header,
                        components: None,
                        parameter_format: None,
                        review: None,
                    },
                );
            }
            for number in &waba.phone_numbers {
                let ordinal = state.next_ordinal();
                let connected = number.status == NumberStatus::Connected;
                state.add_number(NumberState {
                    id: number.id.clone(),
                    ordinal,
                    waba: waba.id.clone(),
                    digits: digits_of(&number.display_phone_number),
                    display: number.display_phone_number.clone(),
                    verified_name: number.verified_name.clone(),
                    name_status: number.name_status,
                    new_name_status: number.new_name_status,
                    account_mode: number.account_mode,
                    quality_rating: number.quality_rating,
                    is_pin_enabled: number.is_pin_enabled,
                    is_on_biz_app: number.is_on_biz_app,
                    platform: number.platform_type,
                    status: number.status,
                    code_verification: number.code_verification_status,
                    tier: Some(number.messaging_limit_tier),
                    official: number.is_official_business_account,
                    health: number.health_status.clone(),
                    throughput: if connected { "STANDARD" } else { "NOT_APPLICABLE" },
                    maintenance: number.maintenance,
                    register_failures_left: number.register_failures,
                    register_attempts: Vec::new(),
                    pin: None,
                    exists: true,
                    last_onboarded: None,
                    migration: None,
                    migrated_to: None,
                });
            }
        }

        for (index, token) in world.tokens.iter().enumerate() {
            let manage: BTreeSet<String> = token.manage.iter().cloned().collect();
            let mut read: BTreeSet<String> = token.read.iter().cloned().collect();
            read.extend(manage.iter().cloned());
            state.tokens.push(TokenState {
                token: token.token.clone(),
                name: token.name.clone(),
                user_id: token
                    .user_id
                    .clone()
                    .unwrap_or_else(|| format!("{}", 900_000_000_000_000u64 + index as u64)),
                app_id: token.app_id.clone().unwrap_or_else(|| world.app.id.clone()),
                kind: token.kind,
                scopes: token.scopes.clone(),
                read,
                manage,
                expired: token.expired,
                refused_fields: token.refused_fields.clone(),
                refused_field_code: token.refused_field_code,
            });
        }
        state
    }

    /// Adds a phone-number node (every node is added here, so `by_waba` knows them all).
    fn add_number(&mut self, number: NumberState) {
        self.by_waba.entry(number.waba.clone()).or_default().push(number.id.clone());
        self.numbers.insert(number.id.clone(), number);
    }

    fn next_ordinal(&mut self) -> u64 {
        self.ordinal += 1;
        self.ordinal
    }

    fn new_id(&mut self) -> String {
        loop {
            self.next_id = self.next_id.wrapping_add(1 + self.rng.below(97));
            let id = self.next_id.to_string();
            if !self.wabas.contains_key(&id)
                && !self.numbers.contains_key(&id)
                && !self.templates.contains_key(&id)
            {
                return id;
            }
        }
    }
}

#[cfg(test)]
mod tests;
