//! Test fixtures for the planner: a `World` (desired state, snapshot, journal) built by hand, in
//! which every WABA and number starts out eligible, so a test states only what differs. Test
//! code only; it must not grow logic the planner lacks.

use jiff::Timestamp;

use crate::journal::{CodeRequest, Journal, NumberRecord};
use crate::manifest::{
    CodeMethod, DesiredDestination, DesiredNumber, DesiredState, PhoneNumber, SecretRef, TemplatePolicy,
};
use crate::observe::{
    Access, AppRef, BusinessRef, NumberView, Presence, Snapshot, TemplateView, TokenView, WabaView,
};
use crate::plan::Plan;

pub const NOW: &str = "2026-09-11T10:00:00Z";
pub const DEST: &str = "104996122399160";
pub const SOURCE: &str = "102289599326934";
pub const BUSINESS: &str = "506914307656634";

pub fn now() -> Timestamp {
    NOW.parse().expect("fixture time")
}

pub fn at(text: &str) -> Timestamp {
    text.parse().expect("fixture time")
}

/// A WABA that passes every check, listing no numbers and no templates.
pub fn waba(id: &str, name: &str) -> WabaView {
    WabaView {
        id: id.to_owned(),
        access: Access::Readable,
        name: Some(name.to_owned()),
        account_review_status: Some("APPROVED".into()),
        business_verification_status: Some("verified".into()),
        payment_method: Presence::Present,
        owner_business: Some(BusinessRef { id: BUSINESS.into(), name: Some("Acme Corp".into()) }),
        on_behalf_of_business: None,
        ownership_type: None,
        refused_fields: Vec::new(),
        subscribed_apps: Some(vec![AppRef { id: "881234567890".into(), name: Some("acme-bsp".into()) }]),
        templates: Some(Vec::new()),
        numbers: Some(Vec::new()),
    }
}

pub fn unreadable(id: &str, reason: &str) -> WabaView {
    WabaView {
        id: id.to_owned(),
        access: Access::Unreadable { reason: reason.to_owned() },
        payment_method: Presence::Unknown,
        ..WabaView::default()
    }
}

fn digits(phone: &str) -> String {
    phone.chars().filter(char::is_ascii_digit).collect()
}

/// A number as its source lists it: connected on the Cloud API and eligible to migrate.
pub fn live_number(phone: &str, id: &str) -> NumberView {
    NumberView {
        id: id.to_owned(),
        display_phone_number: Some(phone.to_owned()),
        digits: digits(phone),
        verified_name: Some("Acme Support".into()),
        name_status: Some("APPROVED".into()),
        new_name_status: None,
        code_verification_status: Some("VERIFIED".into()),
        status: Some("CONNECTED".into()),
        platform_type: Some("CLOUD_API".into()),
        account_mode: Some("LIVE".into()),
        is_on_biz_app: Some(false),
        is_pin_enabled: Some(false),
        quality_rating: Some("GREEN".into()),
        messaging_limit_tier: Some("TIER_1K".into()),
        is_official_business_account: Some(false),
        health: None,
    }
}

/// A number as the destination lists it right after `initiate_migration`.
pub fn initiated_number(phone: &str, id: &str) -> NumberView {
    NumberView {
        code_verification_status: Some("NOT_VERIFIED".into()),
        status: Some("PENDING".into()),
        platform_type: Some("NOT_APPLICABLE".into()),
        ..live_number(phone, id)
    }
}

/// A number as the destination lists it once ownership is verified, before register.
pub fn verified_number(phone: &str, id: &str) -> NumberView {
    NumberView { code_verification_status: Some("VERIFIED".into()), ..initiated_number(phone, id) }
}

/// A number as its old source lists it after the move.
pub fn migrated_number(phone: &str, id: &str) -> NumberView {
    NumberView { status: Some("MIGRATED".into()), ..live_number(phone, id) }
}

pub fn template(name: &str, status: &str, quality: &str) -> TemplateView {
    TemplateView {
        id: None,
        name: name.to_owned(),
        language: Some("en_US".into()),
        status: Some(status.into()),
        quality: Some(quality.into()),
        category: Some("UTILITY".into()),
        components: None,
        parameter_format: None,
    }
}

/// The same template with an image header, as Graph lists one.
pub fn with_media_header(mut template: TemplateView) -> TemplateView {
    template.components = Some(vec![
        serde_json::json!({"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["4::aW1hZ2U="]}}),
        serde_json::json!({"type": "BODY", "text": "Hello {{1}}"}),
    ]);
    template
}

/// Desired state, live state and journal for one planning run.
pub struct World {
    pub desired: DesiredState,
    pub snapshot: Snapshot,
    pub journal: Journal,
}

impl World {
    /// One destination (`acme-prod`) and one source (`legacy-bsp`), both eligible and empty, and
    /// a token with both permissions.
    pub fn new() -> Self {
        let mut world = World {
            desired: DesiredState {
                api_version: Some("v23.0".into()),
                destinations: Vec::new(),
                numbers: Vec::new(),
            },
            snapshot: Snapshot {
                observed_at: NOW.into(),
                api_version: "v23.0".into(),
                token: TokenView {
                    permissions: Some(vec![
                        "whatsapp_business_management".into(),
                        "whatsapp_business_messaging".into(),
                    ]),
                    unknown_reason: None,
                },
                wabas: Default::default(),
            },
            journal: Journal::new(),
        };
        world.destination(DEST, Some("acme-prod"));
        world.put(waba(DEST, "Acme Prod"));
        world.put(waba(SOURCE, "Legacy BSP"));
        world
    }

    pub fn destination(&mut self, waba: &str, name: Option<&str>) {
        self.desired.destinations.push(DesiredDestination {
            waba: waba.into(),
            name: name.map(str::to_owned),
            templates: Default::default(),
        });
    }

    /// `templates: { ensure: true, except }` for a destination of the manifest.
    pub fn ensure_templates(&mut self, waba: &str, except: &[&str]) {
        let destination =
            self.desired.destinations.iter_mut().find(|d| d.waba == waba).expect("fixture destination");
        destination.templates =
            TemplatePolicy { ensure: true, except: except.iter().map(|name| (*name).to_owned()).collect() };
    }

    pub fn put(&mut self, waba: WabaView) {
        self.snapshot.wabas.insert(waba.id.clone(), waba);
    }

    pub fn waba(&mut self, id: &str) -> &mut WabaView {
        self.snapshot.wabas.get_mut(id).expect("fixture WABA")
    }

    /// Lists a number on a WABA.
    pub fn list(&mut self, waba: &str, number: NumberView) -> &mut Self {
        self.waba(waba).numbers.get_or_insert_with(Vec::new).push(number);
        self
    }

    /// Adds a number to the manifest (SMS, en_US, registered with a PIN from the environment).
    pub fn want(&mut self, phone: &str, destination: &str, source: Option<&str>) -> &mut DesiredNumber {
        let line = 10 + 3 * self.desired.numbers.len();
        self.desired.numbers.push(DesiredNumber {
            phone: PhoneNumber::parse(phone).expect("fixture phone"),
            destination_waba: destination.into(),
            source_waba: source.map(str::to_owned),
            code_method: CodeMethod::Sms,
            language: "en_US".into(),
            register: true,
            pin: Some(SecretRef::Env { env: "WAMIG_PIN".into() }),
            data_localization_region: None,
            line,
        });
        self.desired.numbers.last_mut().expect("just pushed")
    }

    /// The journal's record of a number, created on first use.
    pub fn record(&mut self, phone: &str, destination: &str) -> &mut NumberRecord {
        let e164 = PhoneNumber::parse(phone).expect("fixture phone").e164();
        self.journal.entry(&e164, destination)
    }

    pub fn code_requested(&mut self, phone: &str, destination: &str, when: &str) -> &mut NumberRecord {
        let record = self.record(phone, destination);
        record.last_code_request =
            Some(CodeRequest { at: at(when), method: CodeMethod::Sms, language: "en_US".into() });
        record.code_requests += 1;
        record
    }

    pub fn plan(&self) -> Plan {
        crate::plan::plan(&self.desired, &manifest_digest(), &self.snapshot, &self.journal, now())
    }
}

pub fn manifest_digest() -> String {
    crate::digest::sha256_hex(b"fixture manifest")
}
