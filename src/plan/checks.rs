//! Owns the eligibility checks of a number's plan: one `Check` per stable id, each pass, fail
//! or unknown with a hint that says what to do. They read the planner's `Ctx`; they gate only the
//! steps before verification (the planner decides when they run). Pure.

use super::model::{Check, CheckStatus, Label};
use super::planner::Ctx;
use crate::observe::{Access, BusinessRef, Presence, WabaView};
use crate::vocabulary::{
    AccountMode, AccountReviewStatus, BusinessVerificationStatus, NameStatus, OwnershipType, PlatformType,
};

pub const PERMISSION_MANAGEMENT: &str = "whatsapp_business_management";
pub const PERMISSION_MESSAGING: &str = "whatsapp_business_messaging";

/// Stable check ids, in the order every number lists them.
pub const CHECK_IDS: [&str; 17] = [
    "token.permissions",
    "destination.access",
    "destination.review",
    "destination.verification",
    "destination.payment_method",
    "destination.webhooks",
    "source.known",
    "source.access",
    "source.review",
    "source.verification",
    "same_business",
    "number.in_source",
    "number.name_status",
    "number.pending_name_change",
    "number.test_number",
    "number.business_app",
    "number.two_step_verification",
];

const TWO_STEP_HINT: &str =
    "turn off two-step verification in WhatsApp Manager: Phone numbers → Two-step verification → Turn off";
/// The same reminder when wamig cannot see the setting: only a person can check and turn it off.
const TWO_STEP_UNKNOWN_HINT: &str = "if two-step verification is on, turn it off in WhatsApp Manager: Phone numbers → Two-step verification → Turn off (the migration fails otherwise, and wamig cannot do it)";

fn pass(id: &'static str, mut message: String) -> Check {
    // `format!` leaves room to spare, and a plan holds thousands of these (one per check per
    // number): the room adds up to a tenth of a large plan's heap.
    message.shrink_to_fit();
    Check { id: Label::Borrowed(id), status: CheckStatus::Pass, message, hint: None }
}

fn fail(id: &'static str, message: String, hint: String) -> Check {
    Check { id: Label::Borrowed(id), status: CheckStatus::Fail, message, hint: Some(hint) }
}

fn unknown(id: &'static str, message: String, hint: String) -> Check {
    Check { id: Label::Borrowed(id), status: CheckStatus::Unknown, message, hint: Some(hint) }
}

pub(super) fn checks(ctx: &Ctx<'_>) -> Vec<Check> {
    let dest_label = ctx.dest_label();
    let mut checks = vec![
        token_check(ctx),
        access_check("destination.access", &dest_label, ctx.dest_id, ctx.dest),
        review_check("destination.review", &dest_label, ctx.dest_id, ctx.dest),
        verification_check("destination.verification", &dest_label, ctx.dest_id, ctx.dest),
        payment_check(&dest_label, ctx.dest_id, ctx.dest),
        webhooks_check(ctx, &dest_label),
        source_known_check(ctx),
    ];
    match (ctx.source_id, ctx.source_label()) {
        (Some(id), Some(label)) => {
            checks.push(access_check("source.access", &label, id, ctx.source));
            checks.push(review_check("source.review", &label, id, ctx.source));
            checks.push(verification_check("source.verification", &label, id, ctx.source));
        }
        _ => {
            for id in ["source.access", "source.review", "source.verification"] {
                checks.push(unknown(
                    id,
                    "no source WABA is known, so it could not be checked".into(),
                    source_hint(ctx),
                ));
            }
        }
    }
    checks.push(same_business_check(ctx, &dest_label));
    checks.push(in_source_check(ctx));
    checks.extend(number_checks(ctx));
    checks
}

fn source_hint(ctx: &Ctx<'_>) -> String {
    format!(
        "add `source_waba: \"<id>\"` to {} in the manifest (the WABA that holds it now) so wamig can check the source side",
        ctx.e164()
    )
}

fn token_check(ctx: &Ctx<'_>) -> Check {
    const ID: &str = "token.permissions";
    let mut needed = vec![PERMISSION_MANAGEMENT];
    if ctx.will_register() {
        needed.push(PERMISSION_MESSAGING);
    }
    let needed_text = needed.join(" and ");
    match &ctx.snapshot.token.permissions {
        None => unknown(
            ID,
            match &ctx.snapshot.token.unknown_reason {
                Some(reason) => format!("the token's permissions could not be read: {reason}"),
                None => "the token's permissions could not be read".into(),
            },
            format!(
                "make sure the system user's token has {needed_text} (check it with Meta's Access Token Debugger)"
            ),
        ),
        Some(granted) => {
            let missing: Vec<&str> =
                needed.iter().copied().filter(|p| !granted.iter().any(|g| g == p)).collect();
            if missing.is_empty() {
                pass(ID, format!("the token has {needed_text}"))
            } else {
                let lacks_management = missing.contains(&PERMISSION_MANAGEMENT);
                let why = if lacks_management {
                    "every migration call needs whatsapp_business_management"
                } else {
                    "register needs whatsapp_business_messaging"
                };
                let mut hint = format!(
                    "generate a new system-user token with {} (Business settings → Users → System users → Generate new token)",
                    missing.join(" and ")
                );
                if !lacks_management {
                    hint.push_str(", or set `register: false` if the number must not be registered");
                }
                fail(ID, format!("the token lacks {} ({why})", missing.join(" and ")), hint)
            }
        }
    }
}

fn access_hint(id: &str) -> String {
    format!(
        "grant the token access to WABA {id}: in Business settings → Users → System users, assign the WABA to the system user with full control, and make sure the token has {PERMISSION_MANAGEMENT}"
    )
}

fn access_check(check_id: &'static str, label: &str, id: &str, waba: Option<&WabaView>) -> Check {
    match waba.map(|w| &w.access) {
        None => unknown(
            check_id,
            format!("{label} was not observed"),
            format!("run `wamig plan` again; if this persists, check that WABA {id} exists"),
        ),
        // wamig acts on the destination, so it must read it; the source often belongs to another
        // partner, and not seeing it only leaves its checks to Meta.
        Some(Access::Unreadable { reason }) if check_id.starts_with("destination") => {
            fail(check_id, format!("the token cannot read {label}: {reason}"), access_hint(id))
        }
        Some(Access::Unreadable { reason }) => unknown(
            check_id,
            format!("the token cannot read {label}: {reason}"),
            format!(
                "{}; or ask the source's owner to confirm the source-side requirements (number in the WABA, name approved, two-step verification off, WABA approved and verified)",
                access_hint(id)
            ),
        ),
        Some(Access::Readable) if waba.is_some_and(|w| w.numbers.is_none()) => unknown(
            check_id,
            format!("{label} is readable but its phone numbers could not be listed"),
            access_hint(id),
        ),
        Some(Access::Readable) => pass(check_id, format!("the token can read {label} and its phone numbers")),
    }
}

/// A WABA field check's verdict when the WABA itself could not be read: unknown, pointing at
/// the access check rather than repeating its hint.
fn unreadable(check_id: &'static str, label: &str, id: &str, waba: Option<&WabaView>) -> Option<Check> {
    let side = check_id.split('.').next().unwrap_or(check_id);
    match waba.map(|w| &w.access) {
        None => Some(unknown(
            check_id,
            format!("{label} was not observed"),
            format!("run `wamig plan` again; if this persists, check that WABA {id} exists"),
        )),
        Some(Access::Unreadable { .. }) => Some(unknown(
            check_id,
            format!("{label} cannot be read by the token, so this could not be checked"),
            format!(
                "fix {side}.access first (grant the token access to WABA {id}), or check this in WhatsApp Manager"
            ),
        )),
        Some(Access::Readable) => None,
    }
}

fn review_check(check_id: &'static str, label: &str, id: &str, waba: Option<&WabaView>) -> Check {
    if let Some(check) = unreadable(check_id, label, id, waba) {
        return check;
    }
    match waba.and_then(|w| w.account_review_status.as_ref()) {
        Some(AccountReviewStatus::Approved) => {
            pass(check_id, format!("{label} has account review status APPROVED"))
        }
        Some(status) => fail(
            check_id,
            format!("{label} has account review status {status}, not APPROVED"),
            format!(
                "WABA {id} must pass Meta's account review: open it in WhatsApp Manager to see why it is {status}, fix that, and wait for approval"
            ),
        ),
        None => unknown(
            check_id,
            format!("Graph did not return account_review_status for {label}"),
            format!("check in WhatsApp Manager that WABA {id}'s account review is approved"),
        ),
    }
}

fn verification_check(check_id: &'static str, label: &str, id: &str, waba: Option<&WabaView>) -> Check {
    if let Some(check) = unreadable(check_id, label, id, waba) {
        return check;
    }
    match waba.and_then(|w| w.business_verification_status.as_ref()) {
        Some(BusinessVerificationStatus::Verified) => {
            pass(check_id, format!("the business owning {label} is verified"))
        }
        Some(status) => fail(
            check_id,
            format!("the business owning {label} has business verification status {status}, not verified"),
            format!(
                "complete Meta Business Verification for the business that owns WABA {id} (Business settings → Security Center)"
            ),
        ),
        None => unknown(
            check_id,
            format!("Graph did not return business_verification_status for {label}"),
            format!(
                "check in Business settings → Security Center that the business owning WABA {id} is verified"
            ),
        ),
    }
}

fn payment_check(label: &str, id: &str, waba: Option<&WabaView>) -> Check {
    const ID: &str = "destination.payment_method";
    if let Some(check) = unreadable(ID, label, id, waba) {
        return check;
    }
    match waba.map(|w| w.payment_method).unwrap_or_default() {
        Presence::Present => pass(ID, format!("{label} has a payment method")),
        Presence::Absent => fail(
            ID,
            format!("{label} has no payment method (no primary_funding_id)"),
            format!(
                "add a payment method to WABA {id} in WhatsApp Manager, or share your credit line with it; Meta refuses the migration without one"
            ),
        ),
        Presence::Unknown if refused(waba, "primary_funding_id") => unknown(
            ID,
            format!(
                "Graph refused primary_funding_id of {label} to this app, so its payment method could not be checked"
            ),
            format!(
                "check in WhatsApp Manager that WABA {id} has a payment method; Graph shows this field to the WABA's owner and to Solution Partners' apps with advanced access to {PERMISSION_MANAGEMENT}"
            ),
        ),
        Presence::Unknown => unknown(
            ID,
            format!("Graph did not return primary_funding_id for {label}"),
            format!("check in WhatsApp Manager that WABA {id} has a payment method"),
        ),
    }
}

fn webhooks_check(ctx: &Ctx<'_>, label: &str) -> Check {
    const ID: &str = "destination.webhooks";
    let id = ctx.dest_id;
    let platform = ctx.node.and_then(|n| n.platform_type.as_ref());
    // Meta asks for a subscribed app when the number is (or will be) on the Cloud API.
    let needed = if ctx.will_register() || platform == Some(&PlatformType::CloudApi) {
        Some(true)
    } else if platform.is_some() {
        Some(false)
    } else {
        None
    };
    let subscribe_hint = format!(
        "subscribe your app to WABA {id}'s webhooks (`POST /{id}/subscribed_apps` with the app's token, or the App Dashboard's WhatsApp configuration); Meta refuses to migrate a Cloud API number without one"
    );
    if needed == Some(false) {
        return pass(
            ID,
            format!(
                "not required: {} is not on the Cloud API and will not be registered ({})",
                ctx.e164(),
                platform.map(PlatformType::as_str).unwrap_or_default()
            ),
        );
    }
    if let Some(check) = unreadable(ID, label, id, ctx.dest) {
        return check;
    }
    match ctx.dest.and_then(|w| w.subscribed_apps.as_ref()) {
        Some(apps) if !apps.is_empty() => {
            let names: Vec<String> =
                apps.iter().map(|a| a.name.clone().unwrap_or_else(|| format!("app {}", a.id))).collect();
            pass(ID, format!("{label} has webhooks subscribed: {}", names.join(", ")))
        }
        Some(_) if needed == Some(true) => {
            fail(ID, format!("no app is subscribed to the webhooks of {label}"), subscribe_hint)
        }
        Some(_) => unknown(
            ID,
            format!(
                "no app is subscribed to the webhooks of {label}, which a Cloud API number needs; the number's platform is unknown"
            ),
            subscribe_hint,
        ),
        None => unknown(
            ID,
            format!("the apps subscribed to {label} could not be read"),
            format!("check that an app is subscribed to WABA {id}'s webhooks (`GET /{id}/subscribed_apps`)"),
        ),
    }
}

fn source_known_check(ctx: &Ctx<'_>) -> Check {
    const ID: &str = "source.known";
    match ctx.source_id {
        Some(id) if ctx.source_from_manifest => pass(ID, format!("the manifest names source WABA {id}")),
        Some(id) => pass(
            ID,
            format!(
                "WABA {id} lists {} (found among the observed WABAs; not set in the manifest)",
                ctx.e164()
            ),
        ),
        None => unknown(
            ID,
            format!("the manifest gives no source_waba for {} and no observed WABA lists it", ctx.e164()),
            source_hint(ctx),
        ),
    }
}

fn refused(waba: Option<&WabaView>, field: &str) -> bool {
    waba.is_some_and(|w| w.refused_fields.iter().any(|f| f == field))
}

/// The business a WABA represents, as far as its fields tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Represented<'a> {
    Known(&'a BusinessRef),
    /// The fields say nothing certain (refused, missing, or on behalf of a client not shown).
    Unclear(String),
}

/// Meta migrates between WABAs that *represent* the same business: a WABA a partner owns on
/// behalf of a client (`ownership_type` ON_BEHALF_OF, `on_behalf_of_business_info`) represents
/// the client, any other its owner.
pub(super) fn represented_business(waba: &WabaView) -> Represented<'_> {
    let on_behalf = matches!(waba.ownership_type, Some(OwnershipType::OnBehalfOf));
    match (&waba.on_behalf_of_business, &waba.owner_business) {
        (Some(client), _) => Represented::Known(client),
        (None, _) if on_behalf => Represented::Unclear(
            "it is owned on behalf of a client whose business Graph did not show (on_behalf_of_business_info)".into(),
        ),
        (None, Some(owner)) if waba.ownership_type.is_some() || !refused(Some(waba), "ownership_type") => {
            Represented::Known(owner)
        }
        (None, Some(_)) => Represented::Unclear(
            "Graph refused ownership_type, so whether it is owned on behalf of a client is not known".into(),
        ),
        (None, None) if refused(Some(waba), "owner_business_info") => {
            Represented::Unclear("Graph refused owner_business_info to this app".into())
        }
        (None, None) => Represented::Unclear("Graph did not return owner_business_info".into()),
    }
}

fn same_business_check(ctx: &Ctx<'_>, dest_label: &str) -> Check {
    const ID: &str = "same_business";
    let Some(source_label) = ctx.source_label() else {
        return unknown(
            ID,
            "no source WABA is known, so the businesses could not be compared".into(),
            source_hint(ctx),
        );
    };
    let business = |b: &BusinessRef| match &b.name {
        Some(name) => format!("business {} ({name})", b.id),
        None => format!("business {}", b.id),
    };
    let ask = "check in Business settings that both WABAs represent the same business (a WABA a partner runs on behalf of a client represents the client); Meta refuses the migration otherwise";
    fn side<'a>(waba: Option<&'a WabaView>, label: &str) -> Result<&'a BusinessRef, String> {
        match waba.filter(|w| w.is_readable()) {
            Some(waba) => match represented_business(waba) {
                Represented::Known(b) => Ok(b),
                Represented::Unclear(why) => {
                    Err(format!("the business {label} represents is not known: {why}"))
                }
            },
            None => Err(format!("{label} could not be read")),
        }
    }
    match (side(ctx.dest, dest_label), side(ctx.source, &source_label)) {
        (Ok(dest), Ok(source)) if dest.id == source.id => {
            pass(ID, format!("{dest_label} and {source_label} both represent {}", business(dest)))
        }
        (Ok(dest), Ok(source)) => fail(
            ID,
            format!("{dest_label} represents {}, {source_label} {}", business(dest), business(source)),
            format!(
                "Meta migrates numbers only between WABAs that represent the same business: use a destination WABA that represents {}, or move the number with Embedded Signup instead",
                business(source)
            ),
        ),
        (Err(why), _) | (_, Err(why)) => unknown(ID, why, ask.into()),
    }
}

fn in_source_check(ctx: &Ctx<'_>) -> Check {
    const ID: &str = "number.in_source";
    let e164 = ctx.e164();
    let (Some(source_id), Some(label)) = (ctx.source_id, ctx.source_label()) else {
        return unknown(ID, format!("no source WABA is known to list {e164}"), source_hint(ctx));
    };
    let readable = ctx.source.is_some_and(|w| w.is_readable() && w.numbers.is_some());
    if !readable {
        return unknown(
            ID,
            format!(
                "the phone numbers of {label} could not be read, so wamig cannot tell whether it holds {e164}"
            ),
            access_hint(source_id),
        );
    }
    let elsewhere: Vec<&str> = ctx.live_elsewhere.iter().copied().filter(|id| *id != source_id).collect();
    let instead = match elsewhere.as_slice() {
        [] => None,
        [one] => Some(format!("WABA {one} lists {e164}: set `source_waba: \"{one}\"`")),
        many => {
            Some(format!("WABAs {} list {e164}: set `source_waba` to the one that holds it", many.join(", ")))
        }
    };
    match ctx.source_listing {
        Some(node) if node.is_migrated_away() => fail(
            ID,
            format!("{label} lists {e164} as MIGRATED: the number has already moved to another WABA"),
            instead.unwrap_or_else(|| {
                "set `source_waba` to the WABA that holds the number now (WhatsApp Manager shows it)".into()
            }),
        ),
        Some(node) => pass(
            ID,
            format!(
                "{label} lists {e164} (id {}, status {})",
                node.id,
                node.status.as_ref().map_or("unknown", |s| s.as_str())
            ),
        ),
        None => fail(
            ID,
            format!("{label} does not list {e164}"),
            instead.unwrap_or_else(|| {
                "check `source_waba`; if the number is on no WABA at all, Meta will answer that it is \"eligible to be added directly\": add it to the destination with the normal registration instead of migrating it".into()
            }),
        ),
    }
}

fn number_checks(ctx: &Ctx<'_>) -> Vec<Check> {
    let e164 = ctx.e164();
    let Some(node) = ctx.node else {
        // One cause, one hint: the five checks below all wait on the same missing node.
        let (why, fix) = match (ctx.source_id, ctx.source) {
            (None, _) => {
                ("no source WABA is known".to_owned(), "add `source_waba` so wamig can read the number")
            }
            (Some(id), Some(w)) if w.is_readable() && w.numbers.is_some() => match ctx.source_listing {
                Some(_) => (format!("WABA {id} lists it as MIGRATED"), "fix number.in_source first"),
                None => (format!("WABA {id} does not list it"), "fix number.in_source first"),
            },
            (Some(id), _) => {
                (format!("WABA {id} cannot be read"), "grant the token access to the source WABA")
            }
        };
        let message = format!("{e164} could not be read: {why}");
        let hint = format!(
            "{fix}; meanwhile check in WhatsApp Manager → Phone numbers that its display name is approved with no change pending, that it is live and not on the WhatsApp Business app, and that two-step verification is off (Phone numbers → Two-step verification → Turn off)"
        );
        return [
            "number.name_status",
            "number.pending_name_change",
            "number.test_number",
            "number.business_app",
            "number.two_step_verification",
        ]
        .into_iter()
        .map(|id| unknown(id, message.clone(), hint.clone()))
        .collect();
    };
    let field_unknown = |id: &'static str, field: &str, hint: &str| {
        unknown(id, format!("Graph did not return {field} for {e164}"), hint.to_owned())
    };

    let display_name = node
        .verified_name
        .as_deref()
        .map(|n| format!("display name \"{n}\""))
        .unwrap_or_else(|| "its display name".into());
    let name_status = match &node.name_status {
        Some(NameStatus::Approved) => {
            pass("number.name_status", format!("{e164} has {display_name} with name_status APPROVED"))
        }
        Some(status) => fail(
            "number.name_status",
            format!("{e164} has {display_name} with name_status {status}, not APPROVED"),
            format!(
                "the display name must be approved before migrating (it is {status}): wait for Meta's review or fix the name in WhatsApp Manager → Phone numbers"
            ),
        ),
        None => field_unknown(
            "number.name_status",
            "name_status",
            "check in WhatsApp Manager → Phone numbers that the display name is approved",
        ),
    };

    let pending = match (&node.new_name_status, node.name_status.is_some()) {
        (Some(status @ (NameStatus::Approved | NameStatus::None)), _) => pass(
            "number.pending_name_change",
            format!("{e164} has no pending display-name change (new_name_status {status})"),
        ),
        (Some(status), _) => fail(
            "number.pending_name_change",
            format!("{e164} has a pending display-name change (new_name_status {status})"),
            "wait until Meta decides the display-name change, or withdraw it in WhatsApp Manager → Phone numbers, then plan again".into(),
        ),
        // Graph leaves new_name_status out when no change was asked for; that it returned the
        // other name field shows the node was read with the name fields.
        (None, true) => pass("number.pending_name_change", format!("{e164} has no pending display-name change")),
        (None, false) => field_unknown(
            "number.pending_name_change",
            "new_name_status",
            "check in WhatsApp Manager → Phone numbers that no display-name change is pending",
        ),
    };

    let test_number = match &node.account_mode {
        Some(AccountMode::Live) => {
            pass("number.test_number", format!("{e164} is a live number (account_mode LIVE)"))
        }
        Some(AccountMode::Sandbox) => fail(
            "number.test_number",
            format!("{e164} is a WhatsApp test number (account_mode SANDBOX)"),
            "test numbers cannot be migrated: remove this number from the manifest".into(),
        ),
        Some(other) => unknown(
            "number.test_number",
            format!("{e164} has account_mode {other}, which wamig does not know"),
            "make sure the number is not a WhatsApp test number (test numbers cannot be migrated)".into(),
        ),
        None => field_unknown(
            "number.test_number",
            "account_mode",
            "make sure the number is not a WhatsApp test number (test numbers cannot be migrated)",
        ),
    };

    let business_app = match node.is_on_biz_app {
        Some(false) => pass("number.business_app", format!("{e164} is not on the WhatsApp Business app")),
        Some(true) => fail(
            "number.business_app",
            format!("{e164} is in use with the WhatsApp Business app (is_on_biz_app)"),
            "numbers on the WhatsApp Business app cannot be migrated with this API: onboard it through Embedded Signup's Business-app flow instead, or remove it from the manifest".into(),
        ),
        None => field_unknown(
            "number.business_app",
            "is_on_biz_app",
            "make sure the number is not in use with the WhatsApp Business app",
        ),
    };

    let two_step = match node.is_pin_enabled {
        Some(false) => {
            pass("number.two_step_verification", format!("two-step verification is off on {e164}"))
        }
        Some(true) => fail(
            "number.two_step_verification",
            format!("two-step verification is on for {e164}"),
            TWO_STEP_HINT.to_owned(),
        ),
        None => unknown(
            "number.two_step_verification",
            format!("Graph did not say whether two-step verification is on for {e164} (is_pin_enabled)"),
            TWO_STEP_UNKNOWN_HINT.to_owned(),
        ),
    };

    vec![name_status, pending, test_number, business_app, two_step]
}
