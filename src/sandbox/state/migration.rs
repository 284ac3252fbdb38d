//! Owns the migration state machine over phone numbers: initiate (with every eligibility rule
//! and its text), request_code, verify_code (attempts, expiry), register and deregister (PIN,
//! the register limit), two-step PINs and webhook subscriptions. It must not render nodes
//! (`render.rs`) nor do I/O: an issued code is returned, the server delivers it.

use jiff::Timestamp;

use super::access::Caller;
use super::{CodeState, MESSAGING, MigrationIn, NumberState, State, add, ceil_minutes, is_six_digits, since};
use crate::sandbox::envelope::GraphError;
use crate::sandbox::world::{
    AccountMode, CodeVerificationStatus, MigratedSource, NameStatus, NumberStatus, PlatformType,
    QualityRating, ReviewStatus, VerificationStatus,
};
use crate::secret::Secret;

/// A code the server must deliver to `<outbox>/<digits>`.
#[derive(Debug, Clone)]
pub struct IssuedCode {
    pub digits: String,
    pub code: Secret,
}

impl State {
    /// `POST /{dest_waba}/phone_numbers` with `cc`, `phone_number`, `migrate_phone_number`.
    pub fn initiate_migration(
        &mut self,
        caller: &Caller,
        dest_id: &str,
        cc: Option<&str>,
        phone_number: Option<&str>,
        migrate: Option<&str>,
        now: Timestamp,
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
        if source_waba.represented_business() != dest.represented_business() {
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
            code_verification: if self.options.verified_on_migration {
                CodeVerificationStatus::Verified
            } else {
                CodeVerificationStatus::NotVerified
            },
            tier: None,
            official: false,
            health: None,
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
        self.add_number(NumberState { id: id.clone(), ordinal, ..node });
        self.remember(&id, None, now);
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
        let before = self.numbers.get(id).cloned();
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
        self.remember(id, before, now);
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
        }
        if !self.options.source_keeps_until_registered {
            self.leave_source(&source_id, now);
        }
        let report = self.duplicate_templates(id, &source_waba, &dest_waba);
        self.reports.push(report);
        Ok(())
    }
}

impl State {
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
        let before = self.numbers.get(id).cloned();
        let number = self.numbers.get_mut(id).ok_or_else(|| GraphError::unsupported("post", id))?;
        // What a node says is not proof: a migration whose code was not verified yet is refused
        // even when its node reads VERIFIED (`options.verified_on_migration`).
        if number.pending_migration() || number.code_verification != CodeVerificationStatus::Verified {
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
        let source = number.migration.as_ref().map(|m| m.source_number.clone());
        self.remember(id, before, now);
        // A source that kept the number until now lets it go (`source_keeps_until_registered`).
        if let Some(source) = source
            && self.numbers.get(&source).is_some_and(|s| s.exists && s.status != NumberStatus::Migrated)
        {
            self.leave_source(&source, now);
        }
        Ok(())
    }

    /// The source's node once the number has left it: removed or marked MIGRATED as
    /// `migrated_source` says.
    fn leave_source(&mut self, source_id: &str, now: Timestamp) {
        let before = self.numbers.get(source_id).cloned();
        self.remember(source_id, before, now);
        if let Some(old) = self.numbers.get_mut(source_id) {
            match self.options.migrated_source {
                MigratedSource::Remove => old.exists = false,
                MigratedSource::MarkMigrated => old.status = NumberStatus::Migrated,
            }
        }
    }

    /// `POST /{pn}/deregister`: shares the register limit.
    pub fn deregister(&mut self, caller: &Caller, id: &str, now: Timestamp) -> Result<(), GraphError> {
        self.number_for_write(caller, id)?;
        self.count_register_attempt(id, now)?;
        let before = self.numbers.get(id).cloned();
        self.remember(id, before, now);
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
