//! Owns classification: which [`ErrorClass`] a Graph answer belongs to, from its codes, its texts
//! and the call that got it (see docs/ and README.md for the codes wamig knows). It must not
//! parse bodies (`envelope.rs`) nor word hints (`crate::hints`).

use super::class::{ErrorClass, MigrationBlock, Operation};
use super::envelope::ApiError;

const AUTH_CODES: &[i64] = &[0, 102, 190];
/// Graph answers 2500 both for a missing token ("An active access token must be used...") and
/// for malformed requests ("Unknown path components", field syntax errors).
const AUTH_OR_REQUEST_CODE: i64 = 2500;
const PERMISSION_CODES: &[i64] = &[3, 10];
const THROTTLE_CODES: &[i64] = &[4, 17, 32, 613, 130429, 131048, 131056, 133009];
const TRANSIENT_CODES: &[i64] = &[1, 2, 131000, 131016, 133004];

fn any(haystack: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| haystack.contains(n))
}

/// Tells the 2388103 causes apart. Order matters: the most distinctive phrases are tried first,
/// since one cause's text may mention words of another (a "source WABA not set up" text talks
/// about "messaging on behalf of", a "destination not approved" text about business
/// verification).
pub fn migration_block(text: &str) -> MigrationBlock {
    if mentions_two_step(text) {
        MigrationBlock::TwoStepVerificationEnabled
    } else if any(text, &["test number", "test phone number", "account_mode sandbox"]) {
        MigrationBlock::TestNumber
    } else if any(text, &["business app", "is_on_biz_app", "coexistence"]) {
        // Before the "different business" phrases: these texts say "business" too.
        MigrationBlock::BusinessAppNumber
    } else if text.contains("webhook") {
        MigrationBlock::WebhooksMissing
    } else if any(text, &["payment", "credit line", "funding"]) {
        MigrationBlock::NoPaymentMethod
    } else if any(
        text,
        &[
            "eligible to be added",
            "added directly",
            "add it directly",
            "migration apis are not",
            "does not need to be migrated",
            "doesn't need to be migrated",
            "not need migration",
        ],
    ) {
        MigrationBlock::EligibleToAddDirectly
    } else if text.contains("messaging for") {
        MigrationBlock::MessagingForPending
    } else if any(text, &["display name", "name_status", "name change", "verified name", "verified_name"]) {
        MigrationBlock::DisplayNameNotApproved
    } else if (text.contains("different") && text.contains("business"))
        || any(text, &["same business", "another business", "other business", "business portfolio"])
        || (text.contains("business manager") && text.contains("belong"))
    {
        MigrationBlock::DifferentBusiness
    } else if text.contains("source") && any(text, &["approv", "set up", "setup", "configured", "verif"]) {
        MigrationBlock::SourceWabaNotApproved
    } else if text.contains("destination") && any(text, &["approv", "verif", "review"]) {
        MigrationBlock::DestinationNotApproved
    } else {
        MigrationBlock::Generic
    }
}

fn mentions_two_step(text: &str) -> bool {
    any(text, &["two-step", "two step", "2-step", "2fa", "two-factor", "two factor"])
}

fn asks_to_disable_two_step(text: &str) -> bool {
    mentions_two_step(text) && any(text, &["disable", "turn off", "turned off", "must be off", "enabled"])
}

/// Classifies an error answer. `status` is the HTTP status; `op` the call that got it (a code
/// text means something else on verify_code than on a read).
pub fn classify(status: Option<u16>, api: &ApiError, op: Operation) -> ErrorClass {
    let text = api.haystack();
    let code = api.code;
    let title = api.error_user_title.as_deref().unwrap_or_default().to_lowercase();

    // Migration-specific codes first: Meta sends some of them as `code` and some as
    // `error_subcode` under a generic code 100, so both are looked at.
    if api.has(2388012) {
        return ErrorClass::AlreadyInDestination;
    }
    if title.contains("duplicate phone number") || text.contains("duplicate phone number") {
        return ErrorClass::MigrationAlreadyStarted;
    }
    if api.has(2388091) || api.has(2388093) {
        return ErrorClass::NotBeingMigrated;
    }
    if api.has(2388103) {
        return ErrorClass::MigrationBlocked(migration_block(&text));
    }
    if api.has(2388001) || text.contains("cannot create certificate") {
        return ErrorClass::DisplayNameProvisioning;
    }
    if api.has(2494100) || api.has(131057) {
        return ErrorClass::Maintenance;
    }
    if api.has(136024) {
        return ErrorClass::AlreadyVerified;
    }
    if api.has(133005) {
        return ErrorClass::WrongPin;
    }
    if api.has(133006) {
        return ErrorClass::VerifyBeforeRegister;
    }
    if api.has(133016) {
        return ErrorClass::RegisterLimit;
    }
    if api.has(133008) {
        return ErrorClass::TooManyAttempts;
    }
    // Codes Meta documents on these endpoints, and integrations report, with no class of
    // their own above.
    if api.has(200000) {
        return ErrorClass::CannotAddNumber;
    }
    if api.has(133015) {
        return ErrorClass::RecentlyDeleted;
    }
    if api.has(131031) {
        return ErrorClass::AccountLocked;
    }
    if api.has(368) {
        return ErrorClass::WabaRestricted;
    }
    if api.has(2388019) {
        return ErrorClass::TemplateLimit;
    }
    if api.has(2388024) {
        return ErrorClass::TemplateExists;
    }
    // Graph's answer to a request that ran out of time; the template migration asks for a
    // smaller `count` then, so it is a timeout, not a transient error to repeat as it was.
    if code == Some(1) && text.contains("reduce the amount of data") {
        return ErrorClass::Timeout;
    }

    // Credentials next, so that an expired token is never mistaken for an expired code.
    if text.contains("appsecret_proof") {
        return ErrorClass::AppSecretProof;
    }
    // 104 is "Incorrect signature", and also Graph's answer to a request without a token.
    if code == Some(104) {
        return if text.contains("access token") { ErrorClass::Auth } else { ErrorClass::AppSecretProof };
    }
    if let Some(c) = code {
        if AUTH_CODES.contains(&c) {
            return ErrorClass::Auth;
        }
        if c == AUTH_OR_REQUEST_CODE {
            return if text.contains("access token") {
                ErrorClass::Auth
            } else {
                ErrorClass::InvalidParameter
            };
        }
        if PERMISSION_CODES.contains(&c) || (200..=299).contains(&c) {
            return ErrorClass::Permission;
        }
    }

    // Texts whose numeric codes Meta does not document.
    if asks_to_disable_two_step(&text) {
        return ErrorClass::MigrationBlocked(MigrationBlock::TwoStepVerificationEnabled);
    }
    if any(
        &text,
        &[
            "after confirming ownership",
            "confirm ownership",
            "verify the phone number before",
            "must be verified before",
        ],
    ) {
        return ErrorClass::VerifyBeforeRegister;
    }
    if text.contains("too many") && any(&text, &["attempt", "tries", "guesses"]) {
        return ErrorClass::TooManyAttempts;
    }
    let about_code = title.contains("verification failed")
        || text.contains("verification code")
        || code.is_some_and(|c| (136000..137000).contains(&c))
        || (op == Operation::VerifyCode && matches!(code, Some(100) | None) && text.contains("code"));
    if about_code {
        let wrong =
            any(&text, &["invalid", "incorrect", "wrong", "mismatch", "does not match", "doesn't match"]);
        if text.contains("expired") && !wrong {
            return ErrorClass::CodeExpired;
        }
        return ErrorClass::WrongCode;
    }

    // Generic Graph classes.
    if code == Some(803) || (code == Some(100) && api.error_subcode == Some(33)) {
        return ErrorClass::NotFound;
    }
    if let Some(c) = code
        && (THROTTLE_CODES.contains(&c) || (80000..80100).contains(&c))
    {
        return ErrorClass::Throttled;
    }
    if let Some(c) = code
        && TRANSIENT_CODES.contains(&c)
    {
        return ErrorClass::Transient;
    }
    if api.is_transient == Some(true) {
        return ErrorClass::Transient;
    }
    if code == Some(100) {
        return ErrorClass::InvalidParameter;
    }
    match status {
        Some(401) => ErrorClass::Auth,
        Some(403) => ErrorClass::Permission,
        Some(404) => ErrorClass::NotFound,
        Some(429) => ErrorClass::Throttled,
        Some(s) if s >= 500 => ErrorClass::Transient,
        _ => ErrorClass::Other,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn api(value: Value) -> ApiError {
        ApiError::from_value(&value).expect("an error envelope")
    }

    fn class_of(status: u16, value: Value, op: Operation) -> ErrorClass {
        classify(Some(status), &api(value), op)
    }

    pub(crate) fn migration_2388103(title: &str, msg: &str) -> Value {
        json!({"error": {
            "message": "(#2388103) Error migrating phone number",
            "type": "OAuthException",
            "code": 2388103,
            "error_user_title": title,
            "error_user_msg": msg,
            "fbtrace_id": "AbCdEfGh123"
        }})
    }
    #[test]
    fn auth_permission_not_found() {
        let r = Operation::Read;
        assert_eq!(
            class_of(
                401,
                json!({"error": {"message": "Error validating access token: Session has expired on Friday, 12-Sep-26 10:00:00 PDT.",
                "type": "OAuthException", "code": 190, "error_subcode": 463, "fbtrace_id": "x"}}),
                Operation::VerifyCode
            ),
            ErrorClass::Auth,
            "an expired token on verify_code is not an expired code"
        );
        for code in [102, 0] {
            assert_eq!(
                class_of(
                    400,
                    json!({"error": {"message": "auth", "type": "OAuthException", "code": code}}),
                    r
                ),
                ErrorClass::Auth
            );
        }
        let code_2500 = |message: &str| {
            class_of(400, json!({"error": {"message": message, "type": "OAuthException", "code": 2500}}), r)
        };
        assert_eq!(
            code_2500("An active access token must be used to query information about the current user."),
            ErrorClass::Auth
        );
        // The same code for a request Graph cannot parse is not a credentials problem.
        assert_eq!(code_2500("Unknown path components: /me/feed"), ErrorClass::InvalidParameter);
        assert_eq!(
            code_2500("Syntax error \"Expected end of string instead of \"{\".\" at character 4: id}{"),
            ErrorClass::InvalidParameter
        );
        for code in [10, 200, 294, 299, 3] {
            assert_eq!(
                class_of(
                    403,
                    json!({"error": {"message": "(#200) Permissions error", "type": "OAuthException", "code": code}}),
                    r
                ),
                ErrorClass::Permission,
                "code {code}"
            );
        }
        assert_eq!(
            class_of(
                404,
                json!({"error": {"message": "Phone number not found", "type": "GraphMethodException", "code": 803}}),
                r
            ),
            ErrorClass::NotFound
        );
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "Unsupported get request. Object with ID '123' does not exist, cannot be loaded due to missing permissions, or does not support this operation.",
                "type": "GraphMethodException", "code": 100, "error_subcode": 33}}),
                r
            ),
            ErrorClass::NotFound
        );
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "Invalid appsecret_proof provided in the API argument", "type": "GraphMethodException", "code": 100}}),
                r
            ),
            ErrorClass::AppSecretProof
        );
        let code_104 = |message: &str| {
            class_of(400, json!({"error": {"message": message, "type": "OAuthException", "code": 104}}), r)
        };
        assert_eq!(code_104("Incorrect signature"), ErrorClass::AppSecretProof);
        assert_eq!(code_104("An access token is required to request this resource."), ErrorClass::Auth);
    }

    #[test]
    fn throttling_and_transient() {
        let r = Operation::Read;
        for code in [4, 17, 32, 613, 80007, 80008, 130429] {
            assert_eq!(
                class_of(
                    400,
                    json!({"error": {"message": "(#80008) There have been too many calls to this WhatsApp Business account. Wait a bit and try again.",
                    "type": "OAuthException", "code": code}}),
                    r
                ),
                ErrorClass::Throttled,
                "code {code}"
            );
        }
        for code in [1, 2, 131016] {
            assert_eq!(
                class_of(
                    500,
                    json!({"error": {"message": "An unexpected error has occurred. Please retry your request later.",
                    "type": "OAuthException", "code": code, "is_transient": true}}),
                    r
                ),
                ErrorClass::Transient
            );
        }
        assert_eq!(
            class_of(400, json!({"error": {"message": "odd", "code": 9999, "is_transient": true}}), r),
            ErrorClass::Transient
        );
        assert_eq!(
            class_of(503, json!({"error": {"message": "odd", "code": 9999}}), r),
            ErrorClass::Transient
        );
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100}}),
                r
            ),
            ErrorClass::InvalidParameter
        );
        assert_eq!(
            class_of(418, json!({"error": {"message": "teapot", "code": 9999}}), r),
            ErrorClass::Other
        );
    }

    #[test]
    fn template_codes_and_the_answer_to_a_request_that_ran_too_long() {
        let w = Operation::CreateTemplate;
        let sub = |subcode: i64| json!({"error": {"message": "(#100) Invalid parameter", "code": 100, "error_subcode": subcode}});
        assert_eq!(class_of(400, sub(2388019), w), ErrorClass::TemplateLimit);
        assert_eq!(class_of(400, sub(2388024), w), ErrorClass::TemplateExists);
        let too_long = json!({"error": {"message": "Please reduce the amount of data you're asking for, then retry your request",
            "type": "OAuthException", "code": 1, "is_transient": true}});
        assert_eq!(class_of(500, too_long, Operation::MigrateTemplates), ErrorClass::Timeout);
    }

    #[test]
    fn migration_codes() {
        let w = Operation::InitiateMigration;
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "(#2388012) Phone number already exists in your account",
                "type": "OAuthException", "code": 2388012, "fbtrace_id": "t"}}),
                w
            ),
            ErrorClass::AlreadyInDestination
        );
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "Invalid parameter", "type": "OAuthException", "code": 100,
                "error_subcode": 2388012}}),
                w
            ),
            ErrorClass::AlreadyInDestination,
            "migration codes also arrive as subcodes"
        );
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100,
                "error_user_title": "Duplicate phone number",
                "error_user_msg": "This phone number is already registered to a WhatsApp Business Account."}}),
                w
            ),
            ErrorClass::MigrationAlreadyStarted
        );
        for code in [2388091, 2388093] {
            assert_eq!(
                class_of(
                    400,
                    json!({"error": {"message": "Phone number not eligible for registration code", "code": code}}),
                    Operation::RequestCode
                ),
                ErrorClass::NotBeingMigrated
            );
        }
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "(#2494100) Phone number is in maintenance mode. Try again in a few minutes.",
                "code": 2494100}}),
                w
            ),
            ErrorClass::Maintenance
        );
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "(#136024) Phone number already verified", "code": 136024}}),
                Operation::RequestCode
            ),
            ErrorClass::AlreadyVerified
        );
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "(#133005) Two step verification PIN Mismatch",
                "code": 133005, "error_data": {"details": "Two step verification PIN incorrect"}}}),
                Operation::Register
            ),
            ErrorClass::WrongPin,
            "a PIN mismatch mentions two-step but is not the 2FA block"
        );
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "(#133006) Phone number re-verification needed", "code": 133006}}),
                Operation::Register
            ),
            ErrorClass::VerifyBeforeRegister
        );
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "(#133016) Account register deregister rate limit exceeded", "code": 133016}}),
                Operation::Register
            ),
            ErrorClass::RegisterLimit
        );
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "Invalid parameter", "type": "OAuthException", "code": 100,
                "error_subcode": 2388001, "error_user_title": "Cannot Create Certificate",
                "error_user_msg": "The certificate for this phone number could not be created."}}),
                Operation::Register
            ),
            ErrorClass::DisplayNameProvisioning
        );
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "(#133008) Too many two step verification PIN guesses for this phone number",
                "code": 133008, "error_data": {"details": "Try again after 2 hours"}}}),
                Operation::Register
            ),
            ErrorClass::TooManyAttempts
        );
    }

    #[test]
    fn every_2388103_cause_is_told_apart() {
        use MigrationBlock::*;
        let cases = [
            (
                "Webhooks not set up",
                "Webhooks have not been set up for the destination WhatsApp Business Account. Subscribe an app to webhooks and try again.",
                WebhooksMissing,
            ),
            (
                "Payment method missing",
                "The destination WhatsApp Business Account has no payment account. Share a credit line with the client and try again.",
                NoPaymentMethod,
            ),
            (
                "Display name not approved",
                "The phone number must have an approved display name and no pending display name change request.",
                DisplayNameNotApproved,
            ),
            (
                "Source account not set up",
                "The source WhatsApp Business Account and its messaging on behalf of relationship must be approved.",
                SourceWabaNotApproved,
            ),
            (
                "Phone number belongs to another business",
                "This phone number belongs to a different Business Manager account. Source and destination must represent the same business.",
                DifferentBusiness,
            ),
            (
                "Destination account not approved",
                "The destination WhatsApp Business Account must pass business verification and review before phone numbers can be migrated to it.",
                DestinationNotApproved,
            ),
            (
                "Messaging For request pending",
                "The Messaging For request of the destination WhatsApp Business Account must be accepted by the client.",
                MessagingForPending,
            ),
            (
                "Migration not needed",
                "This phone number is eligible to be added directly. Migration APIs are not needed.",
                EligibleToAddDirectly,
            ),
            (
                "Two-step verification enabled",
                "Two-step verification must be disabled for this phone number before it can be migrated.",
                TwoStepVerificationEnabled,
            ),
            (
                "Test numbers can't be migrated",
                "This is a WhatsApp test phone number (account_mode SANDBOX). Test numbers can't be migrated.",
                TestNumber,
            ),
            (
                "Number in use with the WhatsApp Business app",
                "This phone number is in use with the WhatsApp Business app and can't be migrated with this API. Onboard it with the WhatsApp Business app flow instead.",
                BusinessAppNumber,
            ),
            (
                "Error migrating phone number",
                "There was an error migrating this phone number. Please try again later.",
                Generic,
            ),
            (
                "Error migrating phone number",
                "There was an error migrating this phone number: it is already being migrated to another WhatsApp Business Account. Try again later; if the problem continues, contact support.",
                Generic,
            ),
        ];
        for (title, msg, expected) in cases {
            assert_eq!(
                class_of(400, migration_2388103(title, msg), Operation::InitiateMigration),
                ErrorClass::MigrationBlocked(expected),
                "{title}"
            );
        }
        // Wording varies: key phrases in details only, upper case, 2FA spelling.
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "(#2388103) Error", "code": 2388103,
                "error_data": {"details": "WEBHOOKS HAVE NOT BEEN SET UP"}}}),
                Operation::InitiateMigration
            ),
            ErrorClass::MigrationBlocked(WebhooksMissing)
        );
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "Please disable 2FA on the number", "code": 2388103}}),
                Operation::InitiateMigration
            ),
            ErrorClass::MigrationBlocked(TwoStepVerificationEnabled)
        );
    }

    #[test]
    fn two_step_text_without_a_known_code() {
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "Two-step authentication must be disabled for this phone number",
                "code": 100}}),
                Operation::InitiateMigration
            ),
            ErrorClass::MigrationBlocked(MigrationBlock::TwoStepVerificationEnabled)
        );
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "Certificate can be downloaded only after confirming ownership of a phone number that is being migrated",
                "code": 100}}),
                Operation::Register
            ),
            ErrorClass::VerifyBeforeRegister
        );
    }

    #[test]
    fn verification_code_texts() {
        let v = Operation::VerifyCode;
        // Meta's OpenAPI example (HTTP 422).
        assert_eq!(
            class_of(
                422,
                json!({"error": {"message": "The verification code is invalid or has expired",
                "type": "GraphMethodException", "code": 100, "error_user_title": "Verification Failed",
                "error_user_msg": "The verification code you entered is invalid or has expired"}}),
                v
            ),
            ErrorClass::WrongCode
        );
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "(#136025) Verification code expired. Request a new code.", "code": 136025}}),
                v
            ),
            ErrorClass::CodeExpired
        );
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "(#136025) Code couldn't be verified, You have entered a wrong code", "code": 136025}}),
                v
            ),
            ErrorClass::WrongCode
        );
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "Invalid parameter", "code": 100, "error_user_msg": "The code you entered is incorrect."}}),
                v
            ),
            ErrorClass::WrongCode
        );
        // Meta's OpenAPI example for HTTP 429 on verify_code uses the throttling code 4.
        assert_eq!(
            class_of(
                429,
                json!({"error": {"message": "Too many verification attempts. Please try again later",
                "type": "OAuthException", "code": 4, "error_subcode": 2446079, "is_transient": true}}),
                v
            ),
            ErrorClass::TooManyAttempts
        );
        // The same code 100 about `code_method` on a read is just a parameter problem.
        assert_eq!(
            class_of(
                400,
                json!({"error": {"message": "(#100) Param code_method must be one of {SMS, VOICE}", "code": 100}}),
                Operation::RequestCode
            ),
            ErrorClass::InvalidParameter
        );
    }
}
