//! Owns what the sandbox lets tests and rehearsals do outside the Graph API: patches to
//! numbers and WABAs (as if made in WhatsApp Manager) and the snapshots the handle and the admin
//! routes inspect. It must not change anything Graph calls could not also observe.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::templates::{TemplateReport, TemplateSnapshot};
use super::{NumberState, State, WabaState, since};
use crate::sandbox::world::{
    AccountMode, CanSendMessage, CodeVerificationStatus, HealthDef, MessagingLimitTier, MigratedSource,
    NameStatus, NumberStatus, OwnershipType, PlatformType, QualityRating, ReviewStatus, SubscribedApp,
    VerificationStatus, digits_of, is_id,
};

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
    /// Meta lowering (or raising) the number's messaging limit.
    pub messaging_limit_tier: Option<MessagingLimitTier>,
    /// Whether it can send messages, and why not; `{"can_send_message": "AVAILABLE"}` heals it.
    pub health_status: Option<HealthDef>,
    /// Someone else migrates the number to this WABA (another partner, by hand): a new verified
    /// node there carries it, and this one goes as `migrated_source` says. Applied after the
    /// other keys, which the new node inherits.
    pub move_to: Option<String>,
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
    /// The apps subscribed to its webhooks, replacing the list; `[]` unsubscribes every app.
    pub subscribed_apps: Option<Vec<SubscribedApp>>,
    pub ownership_type: Option<OwnershipType>,
    /// The client business the WABA is run for; an empty string removes it.
    pub on_behalf_of_business: Option<String>,
}

/// Ownership as a partner changes it in Business settings: setting the client makes the WABA
/// ON_BEHALF_OF unless the patch says otherwise, removing it makes it CLIENT_OWNED again.
fn patch_ownership(waba: &mut WabaState, patch: &WabaPatch) -> Result<(), String> {
    let mut on_behalf_of = waba.on_behalf_of.clone();
    let mut ownership = waba.ownership;
    if let Some(client) = &patch.on_behalf_of_business {
        on_behalf_of = (!client.is_empty()).then(|| client.clone());
        ownership = if on_behalf_of.is_some() {
            OwnershipType::OnBehalfOf
        } else if ownership == OwnershipType::OnBehalfOf {
            OwnershipType::ClientOwned
        } else {
            ownership
        };
    }
    if let Some(value) = patch.ownership_type {
        ownership = value;
    }
    if on_behalf_of.is_some() && ownership != OwnershipType::OnBehalfOf {
        return Err("a WABA run on behalf of a business is ON_BEHALF_OF".to_owned());
    }
    waba.on_behalf_of = on_behalf_of;
    waba.ownership = ownership;
    Ok(())
}

impl State {
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
        // Checked before any change, so a refused move leaves the number as it was.
        if let Some(to) = &patch.move_to {
            self.check_move(&id, to)?;
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
        if let Some(value) = patch.messaging_limit_tier {
            number.tier = Some(value);
        }
        if let Some(value) = &patch.health_status {
            number.health = (value.can_send_message != CanSendMessage::Available || !value.errors.is_empty())
                .then(|| value.clone());
        }
        let id = match &patch.move_to {
            Some(to) => self.move_number(&id, to, now)?,
            None => id,
        };
        let number = &self.numbers[&id];
        Ok(self.snapshot(number, now))
    }

    /// Moves the number from node `id` to a new verified node in WABA `to`, as a migration made
    /// by someone else would; returns the new node's id.
    fn check_move(&self, id: &str, to: &str) -> Result<(), String> {
        if !self.wabas.contains_key(to) {
            return Err(format!("move_to: no WABA \"{to}\""));
        }
        let number = &self.numbers[id];
        if number.waba == to {
            return Err(format!("move_to: phone number node {id} is already in WABA {to}"));
        }
        if !number.is_live() {
            return Err(format!(
                "move_to: phone number node {id} does not carry the number now (a migration under way, or moved already)"
            ));
        }
        Ok(())
    }

    fn move_number(&mut self, id: &str, to: &str, now: Timestamp) -> Result<String, String> {
        self.check_move(id, to)?;
        let old = self.numbers[id].clone();
        let new_id = self.new_id();
        let ordinal = self.next_ordinal();
        let moved = NumberState {
            id: new_id.clone(),
            ordinal,
            waba: to.to_owned(),
            code_verification: CodeVerificationStatus::Verified,
            register_attempts: Vec::new(),
            pin: None,
            last_onboarded: Some(now),
            migration: None,
            migrated_to: None,
            ..old
        };
        self.add_number(moved);
        if let Some(old) = self.numbers.get_mut(id) {
            old.migrated_to = Some(new_id.clone());
            match self.options.migrated_source {
                MigratedSource::Remove => old.exists = false,
                MigratedSource::MarkMigrated => old.status = NumberStatus::Migrated,
            }
        }
        Ok(new_id)
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
        if let Some(client) = patch.on_behalf_of_business.as_ref().filter(|c| !c.is_empty())
            && !self.businesses.contains_key(client)
        {
            return Err(format!("on_behalf_of_business: no business \"{client}\""));
        }
        if let Some(app) = patch.subscribed_apps.iter().flatten().find(|app| !is_id(&app.id)) {
            return Err(format!("subscribed_apps: app id \"{}\" must be digits", app.id));
        }
        let subscribed: Option<Vec<(u64, String, String)>> = patch.subscribed_apps.as_ref().map(|apps| {
            apps.iter().map(|app| (self.next_ordinal(), app.id.clone(), app.name.clone())).collect()
        });
        let waba = self.wabas.get_mut(id).ok_or_else(|| format!("no WABA \"{id}\""))?;
        patch_ownership(waba, patch)?;
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
        if let Some(subscribed) = subscribed {
            waba.subscribed = subscribed;
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
                "ownership_type": waba.ownership,
                "on_behalf_of_business": waba.on_behalf_of,
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
