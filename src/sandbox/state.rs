//! Owns the sandbox's live state and Meta's rules over it: who may read or manage what, node
//! and edge rendering with field selection and cursor paging, the migration state machine
//! (initiate, request_code, verify_code, register), template duplication, and the per-WABA
//! rate limit. It is pure: time comes in as `now`, randomness from a seeded PRNG, and it never
//! does I/O (the server writes the outbox file and the request log). It must not know about
//! HTTP beyond the status codes carried by `GraphError`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::envelope::GraphError;
use super::faults::Prng;
use super::fields::{self, FieldSpec};
use super::world::{
    AccountMode, CodeVerificationStatus, MessagingLimitTier, MigratedSource, NameStatus, NumberStatus,
    Options, PlatformType, QualityRating, ReviewStatus, TemplateCategory, TemplateQuality, TemplateStatus,
    TokenType, VerificationStatus, World, digits_of,
};
use crate::secret::Secret;

pub const MANAGEMENT: &str = "whatsapp_business_management";
pub const MESSAGING: &str = "whatsapp_business_messaging";

/// Largest page an edge returns, whatever `limit` asks for.
const MAX_PAGE: u32 = 100;

/// What a valid token may do.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token_index: usize,
    pub app_id: String,
    pub scopes: Vec<String>,
    /// Readable WABAs (includes the managed ones).
    pub read: BTreeSet<String>,
    pub manage: BTreeSet<String>,
}

impl Caller {
    pub fn can_read(&self, waba: &str) -> bool {
        self.read.contains(waba)
    }

    pub fn can_manage(&self, waba: &str) -> bool {
        self.manage.contains(waba)
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// Where edge `paging.next` / `previous` URLs point.
#[derive(Debug, Clone)]
pub struct PageCtx {
    /// `http://host:port`, no trailing slash.
    pub base_url: String,
    /// `v23.0`.
    pub version: String,
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

/// A code the server must deliver to `<outbox>/<digits>`.
#[derive(Debug, Clone)]
pub struct IssuedCode {
    pub digits: String,
    pub code: Secret,
}

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
}

#[derive(Debug, Clone)]
struct WabaState {
    id: String,
    name: String,
    business: String,
    review: ReviewStatus,
    verification: VerificationStatus,
    funding: Option<String>,
    currency: String,
    country: String,
    timezone_id: String,
    namespace: String,
    subscribed: Vec<(u64, String, String)>,
    template_limit: u32,
}

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
    ordinal: u64,
    #[serde(skip)]
    body: String,
    #[serde(skip)]
    rejected_when_duplicated: bool,
    #[serde(skip)]
    quality_date: i64,
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

/// A phone-number node as tests see it.
#[derive(Debug, Clone, Serialize)]
pub struct NumberSnapshot {
    pub id: String,
    pub waba_id: String,
    /// E.164 digits without `+`.
    pub phone: String,
    pub exists: bool,
    pub status: NumberStatus,
    pub code_verification_status: CodeVerificationStatus,
    pub platform_type: PlatformType,
    pub is_pin_enabled: bool,
    pub quality_rating: QualityRating,
    /// Register/deregister calls inside the current window.
    pub register_attempts: usize,
    pub register_failures_left: u32,
    pub migrating_from: Option<String>,
    pub migrated_to: Option<String>,
    pub codes_requested: u32,
    pub wrong_code_attempts: u32,
    pub verification_locked: bool,
    pub has_pin: bool,
}

/// A change made outside the API (in WhatsApp Manager, say: turning two-step verification
/// off, a display name approved), for rehearsals. Absent keys are left alone.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberPatch {
    pub is_pin_enabled: Option<bool>,
    pub name_status: Option<NameStatus>,
    /// `NONE` for no pending display-name change.
    pub new_name_status: Option<NameStatus>,
    pub is_on_biz_app: Option<bool>,
    pub account_mode: Option<AccountMode>,
    pub quality_rating: Option<QualityRating>,
    pub status: Option<NumberStatus>,
    pub maintenance: Option<bool>,
    pub register_failures: Option<u32>,
    /// Meta asking for ownership to be proven again: anything but `VERIFIED` also reopens a
    /// migrated number's code steps (a new code must be requested and verified).
    pub code_verification_status: Option<CodeVerificationStatus>,
}

/// A change to a WABA made outside the API (review approved, payment method added, ...).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WabaPatch {
    pub account_review_status: Option<ReviewStatus>,
    pub business_verification_status: Option<VerificationStatus>,
    /// Digits set the payment method; an empty string removes it.
    pub primary_funding_id: Option<String>,
    pub template_limit: Option<u32>,
}

/// Usage of one WABA's hourly allowance, for `X-Business-Use-Case-Usage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub waba_id: String,
    pub calls: u32,
    pub limit: u32,
    pub percent: u32,
    pub minutes_to_regain: u64,
}

pub struct State {
    options: Options,
    app_id: String,
    app_name: String,
    businesses: BTreeMap<String, String>,
    wabas: BTreeMap<String, WabaState>,
    numbers: BTreeMap<String, NumberState>,
    templates: BTreeMap<String, TemplateSnapshot>,
    tokens: Vec<TokenState>,
    ordinal: u64,
    next_id: u64,
    rng: Prng,
    calls: BTreeMap<String, VecDeque<Timestamp>>,
    reports: Vec<TemplateReport>,
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

impl State {
    pub fn new(world: &World, seed: u64) -> State {
        let mut state = State {
            options: world.options.clone(),
            app_id: world.app.id.clone(),
            app_name: world.app.name.clone(),
            businesses: world.businesses.iter().map(|b| (b.id.clone(), b.name.clone())).collect(),
            wabas: BTreeMap::new(),
            numbers: BTreeMap::new(),
            templates: BTreeMap::new(),
            tokens: Vec::new(),
            ordinal: 0,
            next_id: 0,
            rng: Prng::new(seed ^ 0x5EED_C0DE),
            calls: BTreeMap::new(),
            reports: Vec::new(),
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
                    review: waba.account_review_status,
                    verification: waba.business_verification_status,
                    funding: waba.primary_funding_id.clone(),
                    currency: waba.currency.clone(),
                    country: waba.country.clone(),
                    timezone_id: waba.timezone_id.clone(),
                    namespace,
                    subscribed,
                    template_limit: waba.template_limit,
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
                        ordinal,
                        body: template
                            .body
                            .clone()
                            .unwrap_or_else(|| format!("Hello {{{{1}}}}, this is {}.", template.name)),
                        rejected_when_duplicated: template.rejected_when_duplicated,
                        quality_date: 1_700_000_000,
                    },
                );
            }
            for number in &waba.phone_numbers {
                let ordinal = state.next_ordinal();
                let connected = number.status == NumberStatus::Connected;
                state.numbers.insert(
                    number.id.clone(),
                    NumberState {
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
                        throughput: if connected { "STANDARD" } else { "NOT_APPLICABLE" },
                        maintenance: number.maintenance,
                        register_failures_left: number.register_failures,
                        register_attempts: Vec::new(),
                        pin: None,
                        exists: true,
                        last_onboarded: None,
                        migration: None,
                        migrated_to: None,
                    },
                );
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
            });
        }
        state
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

    // ----- tokens ----------------------------------------------------------------------

    /// Resolves a bearer token. Comparison is over the whole string; unknown → 190.
    pub fn authenticate(&self, token: &str) -> Result<Caller, GraphError> {
        let (index, found) = self
            .tokens
            .iter()
            .enumerate()
            .find(|(_, t)| t.token.expose() == token)
            .ok_or_else(GraphError::invalid_token)?;
        if found.expired {
            return Err(GraphError::expired_token());
        }
        Ok(Caller {
            token_index: index,
            app_id: found.app_id.clone(),
            scopes: found.scopes.clone(),
            read: found.read.clone(),
            manage: found.manage.clone(),
        })
    }

    /// `GET /debug_token?input_token=...`: Graph answers 200 even for a bad input token.
    pub fn debug_token(&self, input: &str) -> Value {
        let Some(token) = self.tokens.iter().find(|t| t.token.expose() == input) else {
            return json!({"data": {
                "error": {"code": 190, "message": "Invalid OAuth access token - Cannot parse access token"},
                "is_valid": false,
                "scopes": [],
            }});
        };
        let granular: Vec<Value> = token
            .scopes
            .iter()
            .map(|scope| {
                let targets: Vec<&String> = if scope == MESSAGING {
                    token.manage.iter().collect()
                } else {
                    token.read.iter().collect()
                };
                json!({"scope": scope, "target_ids": targets})
            })
            .collect();
        let application =
            if token.app_id == self.app_id { self.app_name.clone() } else { format!("App {}", token.app_id) };
        let mut data = json!({
            "app_id": token.app_id,
            "type": token.kind.as_str(),
            "application": application,
            "data_access_expires_at": 0,
            "expires_at": 0,
            "is_valid": !token.expired,
            "scopes": token.scopes,
            "granular_scopes": granular,
            "user_id": token.user_id,
        });
        if token.expired {
            data["error"] = json!({"code": 190, "subcode": 463, "message": "Session has expired"});
        }
        json!({ "data": data })
    }

    pub fn me(&self, caller: &Caller) -> Value {
        let token = &self.tokens[caller.token_index];
        json!({
            "id": token.user_id,
            "name": token.name.clone().unwrap_or_else(|| "System User".to_owned()),
        })
    }

    pub fn permissions(&self, caller: &Caller) -> Value {
        let data: Vec<Value> =
            caller.scopes.iter().map(|s| json!({"permission": s, "status": "granted"})).collect();
        json!({ "data": data })
    }

    // ----- object lookup ----------------------------------------------------------------

    /// The WABA a node belongs to (for permissions and rate limits), whether or not the caller
    /// may see it. `None` for ids that name nothing (or a removed node).
    pub fn waba_of(&self, id: &str) -> Option<String> {
        if self.wabas.contains_key(id) {
            return Some(id.to_owned());
        }
        if let Some(number) = self.numbers.get(id) {
            return number.exists.then(|| number.waba.clone());
        }
        self.templates.get(id).map(|t| t.waba_id.clone())
    }

    /// The WABA of `id` if the caller may read it.
    fn readable(&self, caller: &Caller, id: &str, method: &str) -> Result<String, GraphError> {
        match self.waba_of(id) {
            Some(waba) if caller.can_read(&waba) => Ok(waba),
            _ => Err(GraphError::unsupported(method, id)),
        }
    }

    fn require_manage(&self, caller: &Caller, waba: &str, what: &str) -> Result<(), GraphError> {
        if !caller.has_scope(MANAGEMENT) {
            return Err(GraphError::missing_scope(MANAGEMENT));
        }
        if !caller.can_manage(waba) {
            return Err(GraphError::cannot_manage(what));
        }
        Ok(())
    }

    // ----- rate limits ------------------------------------------------------------------

    fn active(&self, waba: &str) -> bool {
        self.numbers.values().any(|n| n.exists && n.waba == waba && n.status == NumberStatus::Connected)
    }

    fn limit_of(&self, waba: &str) -> u32 {
        if self.active(waba) {
            self.options.rate_limit.calls_per_hour_active
        } else {
            self.options.rate_limit.calls_per_hour
        }
    }

    fn usage(&mut self, waba: &str, now: Timestamp) -> Usage {
        let window = Duration::from_secs(3600);
        let limit = self.limit_of(waba);
        let calls = self.calls.entry(waba.to_owned()).or_default();
        while calls.front().is_some_and(|t| since(now, *t) >= window) {
            calls.pop_front();
        }
        let count = calls.len() as u32;
        let minutes_to_regain = if count >= limit {
            // The allowance comes back when enough of the oldest calls leave the window.
            let index = (count - limit) as usize;
            calls
                .get(index)
                .map(|oldest| ceil_minutes(window.saturating_sub(since(now, *oldest))))
                .unwrap_or(0)
        } else {
            0
        };
        Usage {
            waba_id: waba.to_owned(),
            calls: count,
            limit,
            percent: (u64::from(count) * 100 / u64::from(limit.max(1))).min(100) as u32,
            minutes_to_regain,
        }
    }

    /// Counts one call against each WABA (once per listed occurrence, so a multi-id read pays
    /// per id). Over the limit: nothing is counted and 80008 is returned with the usage.
    pub fn charge(
        &mut self,
        wabas: &[String],
        now: Timestamp,
    ) -> Result<Vec<Usage>, (GraphError, Vec<Usage>)> {
        let mut needed: BTreeMap<&str, u32> = BTreeMap::new();
        for waba in wabas {
            *needed.entry(waba.as_str()).or_default() += 1;
        }
        let mut over = false;
        for (waba, count) in &needed {
            let usage = self.usage(waba, now);
            if usage.calls + count > usage.limit {
                over = true;
            }
        }
        if over {
            let usages = needed.keys().map(|w| self.usage(w, now)).collect();
            return Err((GraphError::buc_rate_limited(), usages));
        }
        for (waba, count) in &needed {
            let calls = self.calls.entry((*waba).to_owned()).or_default();
            for _ in 0..*count {
                calls.push_back(now);
            }
        }
        Ok(needed.keys().map(|w| self.usage(w, now)).collect())
    }

    /// Current usage, counting nothing.
    pub fn peek_usage(&mut self, wabas: &[String], now: Timestamp) -> Vec<Usage> {
        let unique: BTreeSet<&String> = wabas.iter().collect();
        unique.into_iter().map(|w| self.usage(w, now)).collect()
    }

    // ----- reads ------------------------------------------------------------------------

    /// `GET /{id}`.
    pub fn read_node(
        &self,
        caller: &Caller,
        id: &str,
        fields: Option<&[FieldSpec]>,
        ctx: &PageCtx,
    ) -> Result<Value, GraphError> {
        self.readable(caller, id, "get")?;
        if let Some(waba) = self.wabas.get(id) {
            self.render_waba(waba, fields, ctx)
        } else if let Some(number) = self.numbers.get(id) {
            render_fields("WhatsAppBusinessPhoneNumber", &number_defaults(false), fields, |name| {
                Ok(self.number_field(number, name))
            })
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
        waba: &WabaState,
        fields: Option<&[FieldSpec]>,
        ctx: &PageCtx,
    ) -> Result<Value, GraphError> {
        let business_name = self.businesses.get(&waba.business).cloned().unwrap_or_default();
        let fields = match fields {
            Some(f) if !f.is_empty() => f.to_vec(),
            _ => WABA_DEFAULTS.iter().map(|n| FieldSpec::named(n)).collect(),
        };
        let mut out = Map::new();
        for spec in &fields {
            let value = match spec.name.as_str() {
                "id" => Some(json!(waba.id)),
                "name" => Some(json!(waba.name)),
                "account_review_status" => Some(json!(waba.review.as_str())),
                "business_verification_status" => Some(json!(waba.verification.as_str())),
                "currency" => Some(json!(waba.currency)),
                "country" => Some(json!(waba.country)),
                // Only WABAs shared under the (deprecated) On-Behalf-Of model have one, and the
                // sandbox's partners share WABAs with their clients' consent instead.
                "on_behalf_of_business_info" => None,
                "timezone_id" => Some(json!(waba.timezone_id)),
                "message_template_namespace" => Some(json!(waba.namespace)),
                "primary_funding_id" => waba.funding.as_ref().map(|f| json!(f)),
                "status" => Some(json!("ACTIVE")),
                "ownership_type" => Some(json!("CLIENT_OWNED")),
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
                let mut numbers: Vec<&NumberState> =
                    self.numbers.values().filter(|n| n.exists && n.waba == waba.id).collect();
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
            "last_onboarded_time" => n.last_onboarded.map(|t| json!(graph_time(t))),
            "country_dial_code" => Some(json!(country_code_guess(&n.digits))),
            _ => return FieldValue::Unknown,
        }
        .into()
    }

    // ----- writes: migration -------------------------------------------------------------

    /// `POST /{dest_waba}/phone_numbers` with `cc`, `phone_number`, `migrate_phone_number`.
    pub fn initiate_migration(
        &mut self,
        caller: &Caller,
        dest_id: &str,
        cc: Option<&str>,
        phone_number: Option<&str>,
        migrate: Option<&str>,
    ) -> Result<String, GraphError> {
        let dest_waba = self.readable(caller, dest_id, "post")?;
        let Some(dest) = self.wabas.get(&dest_waba).filter(|_| dest_waba == dest_id) else {
            return Err(GraphError::unsupported("post", dest_id));
        };
        self.require_manage(caller, dest_id, "this WhatsApp Business Account")?;
        let cc = cc.ok_or_else(|| GraphError::missing_param("cc"))?.trim();
        let national = phone_number.ok_or_else(|| GraphError::missing_param("phone_number"))?.trim();
        match migrate.map(str::trim) {
            Some("true" | "1") => {}
            _ => return Err(GraphError::migration_only()),
        }
        if cc.is_empty() || cc.len() > 3 || cc.starts_with('0') || !cc.bytes().all(|b| b.is_ascii_digit()) {
            return Err(GraphError::invalid_param(
                "cc",
                "must be a country calling code of 1 to 3 digits, without +",
            ));
        }
        let cleaned: String =
            national.chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')')).collect();
        if cleaned.len() < 4 || cleaned.len() > 14 || !cleaned.bytes().all(|b| b.is_ascii_digit()) {
            return Err(GraphError::invalid_param(
                "phone_number",
                "must be the national number in digits, without the country code or +",
            ));
        }
        let digits = format!("{cc}{cleaned}");

        if let Some(existing) =
            self.numbers.values().find(|n| n.exists && n.waba == dest.id && n.digits == digits)
        {
            if existing.pending_migration() {
                return Err(GraphError::duplicate_pending(&dest.id));
            }
            if existing.status != NumberStatus::Migrated {
                return Err(GraphError::already_in_destination(&dest.id));
            }
        }
        if self.numbers.values().any(|n| n.exists && n.digits == digits && n.pending_migration()) {
            return Err(GraphError::migrating_elsewhere());
        }
        let Some(source) = self.numbers.values().find(|n| n.is_live() && n.digits == digits) else {
            return Err(GraphError::eligible_to_add_directly(&digits));
        };
        if source.code_verification != CodeVerificationStatus::Verified {
            return Err(GraphError::eligible_to_add_directly(&digits));
        }
        let source_waba =
            self.wabas.get(&source.waba).ok_or_else(|| GraphError::internal("number without WABA"))?;

        if source.maintenance {
            return Err(GraphError::maintenance());
        }
        if source.account_mode == AccountMode::Sandbox {
            return Err(GraphError::test_number());
        }
        if source.is_on_biz_app {
            return Err(GraphError::on_business_app());
        }
        if source.is_pin_enabled {
            return Err(GraphError::two_step_enabled());
        }
        if source.name_status != NameStatus::Approved {
            return Err(GraphError::display_name_not_approved(source.name_status.as_str()));
        }
        if source.new_name_status == Some(NameStatus::PendingReview) {
            return Err(GraphError::display_name_change_pending());
        }
        if source_waba.review != ReviewStatus::Approved
            || source_waba.verification != VerificationStatus::Verified
        {
            return Err(GraphError::source_not_set_up(
                source_waba.review.as_str(),
                source_waba.verification.as_str(),
            ));
        }
        if source_waba.business != dest.business {
            return Err(GraphError::different_business());
        }
        if dest.review != ReviewStatus::Approved || dest.verification != VerificationStatus::Verified {
            return Err(GraphError::destination_not_approved(
                &dest.id,
                dest.review.as_str(),
                dest.verification.as_str(),
            ));
        }
        if dest.funding.is_none() {
            return Err(GraphError::no_payment_method(&dest.id));
        }
        if source.platform == PlatformType::CloudApi && dest.subscribed.is_empty() {
            return Err(GraphError::webhooks_not_set_up(&dest.id));
        }

        let node = NumberState {
            id: String::new(),
            ordinal: 0,
            waba: dest.id.clone(),
            digits: digits.clone(),
            display: source.display.clone(),
            verified_name: source.verified_name.clone(),
            name_status: source.name_status,
            new_name_status: None,
            account_mode: AccountMode::Live,
            quality_rating: QualityRating::Unknown,
            is_pin_enabled: false,
            is_on_biz_app: false,
            platform: PlatformType::NotApplicable,
            status: NumberStatus::Pending,
            code_verification: CodeVerificationStatus::NotVerified,
            tier: None,
            official: false,
            throughput: "NOT_APPLICABLE",
            maintenance: false,
            register_failures_left: source.register_failures_left,
            register_attempts: Vec::new(),
            pin: None,
            exists: true,
            last_onboarded: None,
            migration: Some(MigrationIn {
                source_number: source.id.clone(),
                source_waba: source.waba.clone(),
                code: None,
                codes_requested: 0,
                wrong_attempts: 0,
                locked_until: None,
                verified_at: None,
            }),
            migrated_to: None,
        };
        let id = self.new_id();
        let ordinal = self.next_ordinal();
        self.numbers.insert(id.clone(), NumberState { id: id.clone(), ordinal, ..node });
        Ok(id)
    }

    /// Checks shared by the phone-number actions: readable, then manageable.
    fn number_for_write(&self, caller: &Caller, id: &str) -> Result<(), GraphError> {
        let waba = self.readable(caller, id, "post")?;
        if !self.numbers.contains_key(id) {
            return Err(GraphError::unsupported("post", id));
        }
        self.require_manage(caller, &waba, "this phone number")
    }

    /// `POST /{pn}/request_code`.
    pub fn request_code(
        &mut self,
        caller: &Caller,
        id: &str,
        code_method: Option<&str>,
        language: Option<&str>,
        now: Timestamp,
    ) -> Result<IssuedCode, GraphError> {
        self.number_for_write(caller, id)?;
        let method = code_method.ok_or_else(|| GraphError::missing_param("code_method"))?;
        if !matches!(method, "SMS" | "VOICE") {
            return Err(GraphError::enum_param("code_method", &["SMS", "VOICE"], method));
        }
        let language = language.ok_or_else(|| GraphError::missing_param("language"))?;
        if !valid_language(language) {
            return Err(GraphError::invalid_param("language", "must be a language code such as en_US or en"));
        }
        let value = format!("{:06}", self.rng.below(1_000_000));
        let lifetime = self.options.code_lifetime;
        let number = self.numbers.get_mut(id).ok_or_else(|| GraphError::unsupported("post", id))?;
        let Some(migration) = number.migration.as_mut() else {
            return Err(GraphError::not_being_migrated_request());
        };
        if migration.verified_at.is_some() {
            return Err(GraphError::already_verified());
        }
        migration.code =
            Some(CodeState { value: Secret::new(value.clone()), expires_at: add(now, lifetime) });
        migration.codes_requested += 1;
        Ok(IssuedCode { digits: number.digits.clone(), code: Secret::new(value) })
    }

    /// `POST /{pn}/verify_code`.
    pub fn verify_code(
        &mut self,
        caller: &Caller,
        id: &str,
        code: Option<&str>,
        now: Timestamp,
    ) -> Result<(), GraphError> {
        self.number_for_write(caller, id)?;
        let code = code.ok_or_else(|| GraphError::missing_param("code"))?.trim();
        if !is_six_digits(code) {
            return Err(GraphError::invalid_param("code", "must be a 6-digit number"));
        }
        let max_attempts = self.options.verify_attempts;
        let lockout = self.options.verify_lockout;
        let number = self.numbers.get_mut(id).ok_or_else(|| GraphError::unsupported("post", id))?;
        let Some(migration) = number.migration.as_mut() else {
            return Err(GraphError::not_being_migrated_verify());
        };
        if migration.verified_at.is_some() {
            return Err(GraphError::already_verified());
        }
        if let Some(until) = migration.locked_until {
            if until > now {
                return Err(GraphError::verify_locked(ceil_minutes(since(until, now))));
            }
            migration.locked_until = None;
            migration.wrong_attempts = 0;
        }
        let Some(current) = migration.code.as_ref().filter(|c| c.expires_at > now) else {
            return Err(GraphError::code_expired());
        };
        if current.value.expose() != code {
            migration.wrong_attempts += 1;
            if migration.wrong_attempts >= max_attempts {
                migration.locked_until = Some(add(now, lockout));
            }
            return Err(GraphError::wrong_code(max_attempts.saturating_sub(migration.wrong_attempts)));
        }
        migration.verified_at = Some(now);
        migration.code = None;
        let source_id = migration.source_number.clone();
        let source_waba = migration.source_waba.clone();
        let dest_waba = number.waba.clone();

        let source = self
            .numbers
            .get(&source_id)
            .cloned()
            .ok_or_else(|| GraphError::internal("migration without its source"))?;
        if let Some(number) = self.numbers.get_mut(id) {
            number.code_verification = CodeVerificationStatus::Verified;
            number.quality_rating = source.quality_rating;
            number.tier = source.tier;
            number.official = source.official;
            number.verified_name = source.verified_name.clone();
            number.last_onboarded = Some(now);
        }
        if let Some(old) = self.numbers.get_mut(&source_id) {
            old.migrated_to = Some(id.to_owned());
            match self.options.migrated_source {
                MigratedSource::Remove => old.exists = false,
                MigratedSource::MarkMigrated => {
                    old.status = NumberStatus::Migrated;
                }
            }
        }
        let report = self.duplicate_templates(id, &source_waba, &dest_waba);
        self.reports.push(report);
        Ok(())
    }

    /// Copies the source's APPROVED + GREEN templates into the destination as far as its
    /// limit of distinct names allows.
    fn duplicate_templates(&mut self, number: &str, source: &str, dest: &str) -> TemplateReport {
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

    /// Prunes and returns the register/deregister attempts inside the window, refusing with
    /// 133016 when the window is full; otherwise records this attempt.
    fn count_register_attempt(&mut self, id: &str, now: Timestamp) -> Result<(), GraphError> {
        let window = self.options.register_window;
        let limit = self.options.register_limit as usize;
        let number = self.numbers.get_mut(id).ok_or_else(|| GraphError::unsupported("post", id))?;
        number.register_attempts.retain(|t| since(now, *t) < window);
        if number.register_attempts.len() >= limit {
            let index = number.register_attempts.len() - limit;
            let wait = window.saturating_sub(since(now, number.register_attempts[index]));
            return Err(GraphError::register_limit(wait.as_secs().div_ceil(3600)));
        }
        number.register_attempts.push(now);
        Ok(())
    }

    /// `POST /{pn}/register`.
    pub fn register(
        &mut self,
        caller: &Caller,
        id: &str,
        messaging_product: Option<&str>,
        pin: Option<&str>,
        now: Timestamp,
    ) -> Result<(), GraphError> {
        self.number_for_write(caller, id)?;
        if !caller.has_scope(MESSAGING) {
            return Err(GraphError::missing_scope(MESSAGING));
        }
        let product = messaging_product.ok_or_else(|| GraphError::missing_param("messaging_product"))?;
        if product != "whatsapp" {
            return Err(GraphError::enum_param("messaging_product", &["whatsapp"], product));
        }
        let pin = pin.ok_or_else(|| GraphError::missing_param("pin"))?.trim();
        if !is_six_digits(pin) {
            return Err(GraphError::invalid_param("pin", "must be exactly 6 digits"));
        }
        self.count_register_attempt(id, now)?;
        let number = self.numbers.get_mut(id).ok_or_else(|| GraphError::unsupported("post", id))?;
        if number.code_verification != CodeVerificationStatus::Verified {
            return Err(GraphError::verify_before_register());
        }
        if number.register_failures_left > 0 {
            number.register_failures_left -= 1;
            return Err(GraphError::cannot_create_certificate());
        }
        if number.is_pin_enabled
            && let Some(existing) = &number.pin
            && existing.expose() != pin
        {
            return Err(GraphError::wrong_pin());
        }
        number.status = NumberStatus::Connected;
        number.platform = PlatformType::CloudApi;
        number.is_pin_enabled = true;
        number.pin = Some(Secret::new(pin));
        number.throughput = "STANDARD";
        Ok(())
    }

    /// `POST /{pn}/deregister`: shares the register limit.
    pub fn deregister(&mut self, caller: &Caller, id: &str, now: Timestamp) -> Result<(), GraphError> {
        self.number_for_write(caller, id)?;
        self.count_register_attempt(id, now)?;
        if let Some(number) = self.numbers.get_mut(id) {
            number.status = NumberStatus::Disconnected;
            number.platform = PlatformType::NotApplicable;
            number.throughput = "NOT_APPLICABLE";
        }
        Ok(())
    }

    /// `POST /{pn}` with `pin`: sets or changes the two-step verification PIN.
    pub fn set_pin(&mut self, caller: &Caller, id: &str, pin: Option<&str>) -> Result<(), GraphError> {
        self.number_for_write(caller, id)?;
        let pin = pin.ok_or_else(|| GraphError::missing_param("pin"))?.trim();
        if !is_six_digits(pin) {
            return Err(GraphError::invalid_param("pin", "must be exactly 6 digits"));
        }
        if let Some(number) = self.numbers.get_mut(id) {
            number.pin = Some(Secret::new(pin));
            number.is_pin_enabled = true;
        }
        Ok(())
    }

    /// `POST /{waba}/subscribed_apps`: subscribes the token's app.
    pub fn subscribe(&mut self, caller: &Caller, waba_id: &str) -> Result<(), GraphError> {
        let waba = self.waba_for_write(caller, waba_id, "subscribed_apps")?;
        let name = if caller.app_id == self.app_id {
            self.app_name.clone()
        } else {
            format!("App {}", caller.app_id)
        };
        let ordinal = self.next_ordinal();
        if let Some(waba) = self.wabas.get_mut(&waba)
            && !waba.subscribed.iter().any(|(_, id, _)| *id == caller.app_id)
        {
            waba.subscribed.push((ordinal, caller.app_id.clone(), name));
        }
        Ok(())
    }

    /// `DELETE /{waba}/subscribed_apps`: unsubscribes the token's app.
    pub fn unsubscribe(&mut self, caller: &Caller, waba_id: &str) -> Result<(), GraphError> {
        let waba = self.waba_for_write(caller, waba_id, "subscribed_apps")?;
        if let Some(waba) = self.wabas.get_mut(&waba) {
            waba.subscribed.retain(|(_, id, _)| *id != caller.app_id);
        }
        Ok(())
    }

    fn waba_for_write(&self, caller: &Caller, id: &str, edge: &str) -> Result<String, GraphError> {
        let waba = self.readable(caller, id, "post")?;
        if waba != id {
            let node_type = if self.numbers.contains_key(id) {
                "WhatsAppBusinessPhoneNumber"
            } else {
                "WhatsAppMessageTemplate"
            };
            return Err(GraphError::nonexisting_field(edge, node_type));
        }
        self.require_manage(caller, &waba, "this WhatsApp Business Account")?;
        Ok(waba)
    }

    // ----- changes outside the API ---------------------------------------------------------

    /// Applies `patch` to a number given by node id, or by phone (its live node).
    pub fn patch_number(
        &mut self,
        id_or_phone: &str,
        patch: &NumberPatch,
        now: Timestamp,
    ) -> Result<NumberSnapshot, String> {
        let id = if self.numbers.get(id_or_phone).is_some_and(|n| n.exists) {
            id_or_phone.to_owned()
        } else {
            let digits = digits_of(id_or_phone);
            self.numbers
                .values()
                .find(|n| {
                    n.exists
                        && n.digits == digits
                        && !n.pending_migration()
                        && n.status != NumberStatus::Migrated
                })
                .or_else(|| self.numbers.values().find(|n| n.exists && n.digits == digits))
                .map(|n| n.id.clone())
                .ok_or_else(|| format!("no phone number node or number \"{id_or_phone}\""))?
        };
        if patch.register_failures.is_some_and(|n| n > 1000) {
            return Err("register_failures must be at most 1000".to_owned());
        }
        let number = self.numbers.get_mut(&id).ok_or_else(|| format!("no phone number node \"{id}\""))?;
        if let Some(value) = patch.is_pin_enabled {
            number.is_pin_enabled = value;
            if !value {
                number.pin = None;
            }
        }
        if let Some(value) = patch.name_status {
            number.name_status = value;
        }
        if let Some(value) = patch.new_name_status {
            number.new_name_status = (value != NameStatus::None).then_some(value);
        }
        if let Some(value) = patch.is_on_biz_app {
            number.is_on_biz_app = value;
        }
        if let Some(value) = patch.account_mode {
            number.account_mode = value;
        }
        if let Some(value) = patch.quality_rating {
            number.quality_rating = value;
        }
        if let Some(value) = patch.status {
            number.status = value;
        }
        if let Some(value) = patch.maintenance {
            number.maintenance = value;
        }
        if let Some(value) = patch.register_failures {
            number.register_failures_left = value;
        }
        if let Some(value) = patch.code_verification_status {
            number.code_verification = value;
            if value != CodeVerificationStatus::Verified
                && let Some(migration) = number.migration.as_mut()
            {
                migration.verified_at = None;
                migration.code = None;
            }
        }
        let number = &self.numbers[&id];
        Ok(self.snapshot(number, now))
    }

    pub fn patch_waba(&mut self, id: &str, patch: &WabaPatch) -> Result<(), String> {
        if let Some(funding) = &patch.primary_funding_id
            && !funding.is_empty()
            && !funding.bytes().all(|b| b.is_ascii_digit())
        {
            return Err("primary_funding_id must be digits, or empty to remove it".to_owned());
        }
        if patch.template_limit == Some(0) {
            return Err("template_limit must be at least 1".to_owned());
        }
        let waba = self.wabas.get_mut(id).ok_or_else(|| format!("no WABA \"{id}\""))?;
        if let Some(value) = patch.account_review_status {
            waba.review = value;
        }
        if let Some(value) = patch.business_verification_status {
            waba.verification = value;
        }
        if let Some(funding) = &patch.primary_funding_id {
            waba.funding = (!funding.is_empty()).then(|| funding.clone());
        }
        if let Some(limit) = patch.template_limit {
            waba.template_limit = limit;
        }
        Ok(())
    }

    // ----- inspection -------------------------------------------------------------------

    fn snapshot(&self, n: &NumberState, now: Timestamp) -> NumberSnapshot {
        let window = self.options.register_window;
        NumberSnapshot {
            id: n.id.clone(),
            waba_id: n.waba.clone(),
            phone: n.digits.clone(),
            exists: n.exists,
            status: n.status,
            code_verification_status: n.code_verification,
            platform_type: n.platform,
            is_pin_enabled: n.is_pin_enabled,
            quality_rating: n.quality_rating,
            register_attempts: n.register_attempts.iter().filter(|t| since(now, **t) < window).count(),
            register_failures_left: n.register_failures_left,
            migrating_from: n.migration.as_ref().map(|m| m.source_number.clone()),
            migrated_to: n.migrated_to.clone(),
            codes_requested: n.migration.as_ref().map_or(0, |m| m.codes_requested),
            wrong_code_attempts: n.migration.as_ref().map_or(0, |m| m.wrong_attempts),
            verification_locked: n
                .migration
                .as_ref()
                .and_then(|m| m.locked_until)
                .is_some_and(|until| until > now),
            has_pin: n.pin.is_some(),
        }
    }

    pub fn number(&self, id: &str, now: Timestamp) -> Option<NumberSnapshot> {
        self.numbers.get(id).map(|n| self.snapshot(n, now))
    }

    /// Every node (old and new) for a number, oldest first.
    pub fn numbers_for_phone(&self, digits: &str, now: Timestamp) -> Vec<NumberSnapshot> {
        let digits = digits_of(digits);
        let mut nodes: Vec<&NumberState> = self.numbers.values().filter(|n| n.digits == digits).collect();
        nodes.sort_by_key(|n| n.ordinal);
        nodes.into_iter().map(|n| self.snapshot(n, now)).collect()
    }

    pub fn templates_of(&self, waba: &str) -> Vec<TemplateSnapshot> {
        let mut list: Vec<TemplateSnapshot> =
            self.templates.values().filter(|t| t.waba_id == waba).cloned().collect();
        list.sort_by_key(|t| t.ordinal);
        list
    }

    pub fn template_reports(&self) -> &[TemplateReport] {
        &self.reports
    }

    pub fn inspect(&mut self, now: Timestamp) -> Value {
        let waba_ids: Vec<String> = self.wabas.keys().cloned().collect();
        let mut wabas = Vec::new();
        for id in &waba_ids {
            let usage = self.usage(id, now);
            let waba = &self.wabas[id];
            let mut numbers: Vec<&NumberState> =
                self.numbers.values().filter(|n| n.exists && n.waba == *id).collect();
            numbers.sort_by_key(|n| n.ordinal);
            wabas.push(json!({
                "id": waba.id,
                "name": waba.name,
                "business": waba.business,
                "phone_numbers": numbers.iter().map(|n| n.id.clone()).collect::<Vec<_>>(),
                "subscribed_apps": waba.subscribed.iter().map(|(_, id, _)| id.clone()).collect::<Vec<_>>(),
                "template_limit": waba.template_limit,
                "templates": self.templates_of(id),
                "usage": usage,
            }));
        }
        let mut numbers: Vec<&NumberState> = self.numbers.values().collect();
        numbers.sort_by_key(|n| n.ordinal);
        json!({
            "now": now.to_string(),
            "wabas": wabas,
            "numbers": numbers.iter().map(|n| self.snapshot(n, now)).collect::<Vec<_>>(),
            "template_reports": self.reports,
        })
    }
}

/// A field's value: present, absent (Graph omits it), or not a field of the node.
enum FieldValue {
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

fn template_field(t: &TemplateSnapshot, name: &str) -> FieldValue {
    match name {
        "id" => Some(json!(t.id)),
        "name" => Some(json!(t.name)),
        "language" => Some(json!(t.language)),
        "status" => Some(json!(t.status.as_str())),
        "category" => Some(json!(t.category.as_str())),
        "components" => Some(json!([body_component(&t.body)])),
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

/// A BODY component as Graph lists it: a body with positional variables (`{{1}}`) carries the
/// sample values given when the template was submitted, under `example.body_text`, as in Meta's
/// documented template listings. The world gives no samples, so they are made up.
fn body_component(body: &str) -> Value {
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

fn template_matches(t: &TemplateSnapshot, filters: &[(String, String)]) -> bool {
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
fn encode_cursor(ordinal: u64) -> String {
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

fn decode_cursor(cursor: &str, which: &str) -> Result<u64, GraphError> {
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

fn valid_language(text: &str) -> bool {
    let (lang, region) = match text.split_once('_') {
        Some((l, r)) => (l, Some(r)),
        None => (text, None),
    };
    (2..=3).contains(&lang.len())
        && lang.bytes().all(|b| b.is_ascii_lowercase())
        && region.is_none_or(|r| r.len() == 2 && r.bytes().all(|b| b.is_ascii_uppercase()))
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

#[cfg(test)]
mod tests;
