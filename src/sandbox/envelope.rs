//! Owns the catalogue of Graph errors the sandbox can answer with: HTTP status, `code`,
//! `error_subcode`, `type`, and the message / title / user message / details texts, and how they
//! are rendered into Graph's `{"error": {...}}` envelope. Which error applies when is decided in
//! `state.rs` and `server.rs`; texts live only here so they stay consistent and documented
//! (see examples/sandbox/README.md for the table and which codes are unconfirmed).

use serde_json::{Map, Value, json};

/// One Graph error, before it gets its `fbtrace_id`. Boxed: errors travel through every
/// `Result` of the state machine and should stay pointer-sized.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphError(Box<ErrorBody>);

#[derive(Debug, Clone, PartialEq)]
pub struct ErrorBody {
    pub status: u16,
    pub code: i64,
    pub subcode: Option<i64>,
    /// `OAuthException` or `GraphMethodException`.
    pub kind: &'static str,
    pub message: String,
    pub user_title: Option<String>,
    pub user_msg: Option<String>,
    /// `error_data.details`.
    pub details: Option<String>,
    pub is_transient: bool,
    /// Graph adds `WWW-Authenticate` to token errors.
    pub www_authenticate: bool,
}

const OAUTH: &str = "OAuthException";
const METHOD: &str = "GraphMethodException";

impl std::ops::Deref for GraphError {
    type Target = ErrorBody;
    fn deref(&self) -> &ErrorBody {
        &self.0
    }
}

impl std::ops::DerefMut for GraphError {
    fn deref_mut(&mut self) -> &mut ErrorBody {
        &mut self.0
    }
}

impl GraphError {
    fn new(status: u16, code: i64, kind: &'static str, message: impl Into<String>) -> Self {
        Self(Box::new(ErrorBody {
            status,
            code,
            subcode: None,
            kind,
            message: message.into(),
            user_title: None,
            user_msg: None,
            details: None,
            is_transient: false,
            www_authenticate: false,
        }))
    }

    fn subcode(mut self, subcode: i64) -> Self {
        self.subcode = Some(subcode);
        self
    }

    fn user(mut self, title: impl Into<String>, msg: impl Into<String>) -> Self {
        self.user_title = Some(title.into());
        self.user_msg = Some(msg.into());
        self
    }

    fn details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }

    fn transient(mut self) -> Self {
        self.is_transient = true;
        self
    }

    /// A WhatsApp business error: message "(#code) title", the title and user message, and
    /// `error_data.details`.
    fn whatsapp(status: u16, code: i64, title: &str, msg: &str, details: String) -> Self {
        Self::new(status, code, OAUTH, format!("(#{code}) {title}")).user(title, msg).details(details)
    }

    /// The `{"error": {...}}` body.
    pub fn to_json(&self, fbtrace_id: &str) -> Value {
        let mut error = Map::new();
        error.insert("message".into(), json!(self.message));
        error.insert("type".into(), json!(self.kind));
        error.insert("code".into(), json!(self.code));
        if let Some(subcode) = self.subcode {
            error.insert("error_subcode".into(), json!(subcode));
        }
        error.insert("is_transient".into(), json!(self.is_transient));
        if let Some(title) = &self.user_title {
            error.insert("error_user_title".into(), json!(title));
        }
        if let Some(msg) = &self.user_msg {
            error.insert("error_user_msg".into(), json!(msg));
        }
        if let Some(details) = &self.details {
            error.insert("error_data".into(), json!({"messaging_product": "whatsapp", "details": details}));
        }
        error.insert("fbtrace_id".into(), json!(fbtrace_id));
        json!({ "error": Value::Object(error) })
    }

    // ----- path, version, parameters -------------------------------------------------------

    /// A malformed or unknown API version, or a path too deep for any node/edge.
    pub fn unknown_path(rest: &str) -> Self {
        Self::new(400, 2500, OAUTH, format!("Unknown path components: {rest}"))
    }

    pub fn fields_syntax(message: String) -> Self {
        Self::new(400, 2500, OAUTH, message)
    }

    pub fn nonexisting_field(field: &str, node_type: &str) -> Self {
        Self::new(
            400,
            100,
            OAUTH,
            format!("(#100) Tried accessing nonexisting field ({field}) on node type ({node_type})"),
        )
    }

    pub fn missing_param(name: &str) -> Self {
        Self::new(400, 100, OAUTH, format!("(#100) The parameter {name} is required"))
    }

    pub fn invalid_param(name: &str, why: &str) -> Self {
        Self::new(400, 100, OAUTH, format!("(#100) Param {name} {why}"))
    }

    pub fn enum_param(name: &str, allowed: &[&str], got: &str) -> Self {
        Self::new(
            400,
            100,
            OAUTH,
            format!("(#100) Param {name} must be one of {{{}}} - got \"{got}\"", allowed.join(", ")),
        )
    }

    pub fn bad_body(why: &str) -> Self {
        Self::new(400, 100, OAUTH, format!("(#100) {why}"))
    }

    pub fn too_many_ids(count: usize) -> Self {
        Self::new(400, 100, OAUTH, format!("(#100) Too many IDs. Maximum: 50. Requested: {count}."))
    }

    /// The object does not exist, or the token cannot see it: Graph does not tell the two
    /// apart.
    pub fn unsupported(method: &str, id: &str) -> Self {
        Self::new(
            400,
            100,
            METHOD,
            format!(
                "Unsupported {method} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
            ),
        )
        .subcode(33)
    }

    /// A non-numeric alias that names nothing.
    pub fn alias_not_found(alias: &str) -> Self {
        Self::new(404, 803, OAUTH, format!("(#803) Some of the aliases you requested do not exist: {alias}"))
    }

    pub fn method_not_supported(method: &str) -> Self {
        Self::new(
            400,
            100,
            METHOD,
            format!(
                "Unsupported {method} request. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
            ),
        )
    }

    // ----- authentication ----------------------------------------------------------------

    pub fn invalid_token() -> Self {
        let mut error = Self::new(400, 190, OAUTH, "Invalid OAuth access token - Cannot parse access token");
        error.www_authenticate = true;
        error
    }

    pub fn expired_token() -> Self {
        let mut error = Self::new(
            400,
            190,
            OAUTH,
            "Error validating access token: Session has expired. The current time is after the token's expiry time.",
        )
        .subcode(463);
        error.www_authenticate = true;
        error
    }

    /// No token on `/me` style paths (Graph's code 2500).
    pub fn missing_token_me() -> Self {
        Self::new(
            400,
            2500,
            OAUTH,
            "An active access token must be used to query information about the current user.",
        )
    }

    /// No token on an object path (Graph's code 104).
    pub fn missing_token() -> Self {
        Self::new(400, 104, OAUTH, "An access token is required to request this resource.")
    }

    pub fn appsecret_missing() -> Self {
        Self::new(400, 100, METHOD, "API calls from the server require an appsecret_proof argument")
    }

    pub fn appsecret_invalid() -> Self {
        Self::new(400, 100, METHOD, "Invalid appsecret_proof provided in the API argument")
    }

    // ----- permissions -------------------------------------------------------------------

    /// The token lacks a scope (`whatsapp_business_management` / `..._messaging`).
    pub fn missing_scope(scope: &str) -> Self {
        Self::new(403, 200, OAUTH, format!("(#200) Requires {scope} permission to manage the object"))
            .user("Permission Denied", format!("The access token doesn't have the {scope} permission."))
    }

    /// The token can read the object but may not change it.
    /// A read asking for a field the app may not read (`refused_fields` of a token): Graph
    /// refuses the whole read with 200 or 10, without saying which field.
    pub fn field_refused(code: i64) -> Self {
        if code == 10 {
            Self::new(403, 10, OAUTH, "(#10) Application does not have permission for this action")
        } else {
            Self::new(403, 200, OAUTH, "(#200) The app does not have permission for this action")
        }
    }

    /// A refusal injected by `faults.refuse`.
    pub fn injected_refusal(refusal: &crate::sandbox::faults::Refusal) -> Self {
        let message =
            refusal.message.clone().unwrap_or_else(|| format!("(#{}) The request was refused", refusal.code));
        let mut error = Self::new(refusal.status, refusal.code, OAUTH, message);
        error.subcode = refusal.subcode;
        error
    }

    pub fn cannot_manage(object: &str) -> Self {
        Self::new(403, 200, OAUTH, "(#200) Permissions error").user(
            "Permission Denied",
            format!(
                "Your app doesn't have permission to manage {object}. Ask the owner to grant your app access with the Manage permission."
            ),
        )
    }

    // ----- throttling and injected failures ---------------------------------------------

    /// Business Use Case limit of the WhatsApp Business Management API.
    pub fn buc_rate_limited() -> Self {
        Self::new(
            429,
            80008,
            OAUTH,
            "(#80008) There have been too many calls to this WhatsApp Business account. Wait a bit and try again. For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
        )
        .transient()
    }

    pub fn app_rate_limited() -> Self {
        Self::new(429, 4, OAUTH, "(#4) Application request limit reached").transient()
    }

    pub fn server_error(code: i64) -> Self {
        if code == 1 {
            Self::new(500, 1, OAUTH, "An unknown error occurred").transient()
        } else {
            Self::new(503, 2, OAUTH, "An unexpected error has occurred. Please retry your request later.")
                .transient()
        }
    }

    // ----- migration: POST /{waba}/phone_numbers with migrate_phone_number=true -------

    pub fn migration_only() -> Self {
        Self::invalid_param(
            "migrate_phone_number",
            "must be true: the sandbox only emulates migrating an existing number (adding a new number is not emulated)",
        )
    }

    pub fn webhooks_not_set_up(dest: &str) -> Self {
        Self::whatsapp(
            400,
            2388103,
            "Webhooks not set up",
            "Webhooks have not been set up for the destination WhatsApp Business Account. Subscribe at least one app to its webhooks (POST /{waba-id}/subscribed_apps), then try again.",
            format!("No app is subscribed to the webhooks of WhatsApp Business Account {dest}."),
        )
    }

    pub fn no_payment_method(dest: &str) -> Self {
        Self::whatsapp(
            400,
            2388103,
            "No payment method",
            "The destination WhatsApp Business Account doesn't have a payment account. Add a payment method, or share an active credit line with the account, then try again.",
            format!("WhatsApp Business Account {dest} has no payment method (primary_funding_id)."),
        )
    }

    pub fn display_name_not_approved(status: &str) -> Self {
        Self::whatsapp(
            400,
            2388103,
            "Display name not approved",
            "The phone number's display name must be present and approved before the number can be migrated.",
            format!("The display name status of this phone number is {status}; it must be APPROVED."),
        )
    }

    pub fn display_name_change_pending() -> Self {
        Self::whatsapp(
            400,
            2388103,
            "Display name change pending",
            "The phone number has a pending display name change request. Wait until it has been reviewed, then try again.",
            "new_name_status is PENDING_REVIEW.".to_owned(),
        )
    }

    pub fn source_not_set_up(review: &str, verification: &str) -> Self {
        Self::whatsapp(
            400,
            2388103,
            "Source account not set up correctly",
            "The WhatsApp Business Account this number is registered in must have completed business verification and its account review must be approved.",
            format!(
                "Source account: account_review_status {review}, business_verification_status {verification}."
            ),
        )
    }

    pub fn destination_not_approved(dest: &str, review: &str, verification: &str) -> Self {
        Self::whatsapp(
            400,
            2388103,
            "Destination account not approved",
            "The destination WhatsApp Business Account must have completed business verification and its account review must be approved.",
            format!(
                "WhatsApp Business Account {dest}: account_review_status {review}, business_verification_status {verification}."
            ),
        )
    }

    pub fn different_business() -> Self {
        Self::whatsapp(
            400,
            2388103,
            "Phone number belongs to a different business",
            "This phone number is registered in a WhatsApp Business Account of a different business. The source and destination accounts must represent the same business.",
            "Source and destination WhatsApp Business Accounts have different owning businesses.".to_owned(),
        )
    }

    pub fn eligible_to_add_directly(digits: &str) -> Self {
        Self::whatsapp(
            400,
            2388103,
            "Phone number can be added directly",
            "This phone number isn't registered in another WhatsApp Business Account, so it's eligible to be added directly. The migration APIs aren't needed for it.",
            format!("+{digits} is not registered in any WhatsApp Business Account."),
        )
    }

    /// Meta's text; its numeric code is not confirmed (see the README).
    pub fn two_step_enabled() -> Self {
        Self::whatsapp(
            400,
            2388103,
            "Two-step verification enabled",
            "Two-step authentication must be disabled for this phone number",
            "Turn off two-step verification for this number in WhatsApp Manager, then try again. It can't be turned off through the API.".to_owned(),
        )
    }

    pub fn test_number() -> Self {
        Self::whatsapp(
            400,
            2388103,
            "Test numbers can't be migrated",
            "This is a WhatsApp test phone number (account_mode SANDBOX). Test numbers can't be migrated.",
            "Only LIVE phone numbers can be migrated.".to_owned(),
        )
    }

    pub fn on_business_app() -> Self {
        Self::whatsapp(
            400,
            2388103,
            "Number in use with the WhatsApp Business app",
            "This phone number is in use with the WhatsApp Business app and can't be migrated with this API. Onboard it with the WhatsApp Business app flow instead.",
            "is_on_biz_app is true for this phone number.".to_owned(),
        )
    }

    pub fn migrating_elsewhere() -> Self {
        Self::whatsapp(
            400,
            2388103,
            "Error migrating phone number",
            "There was an error migrating this phone number: it is already being migrated to another WhatsApp Business Account. Try again later; if the problem continues, contact support.",
            "A migration of this phone number to another WhatsApp Business Account is pending.".to_owned(),
        )
    }

    /// Re-initiating a migration that is pending in the same destination. The code is a
    /// choice (see the README); the title is what clients look for.
    pub fn duplicate_pending(dest: &str) -> Self {
        Self::new(400, 100, OAUTH, "(#100) Invalid parameter")
            .user(
                "Duplicate phone number",
                "This phone number is already being migrated to this WhatsApp Business Account. Use the phone number ID listed in the account's phone_numbers to continue.",
            )
            .details(format!(
                "A migration of this phone number to WhatsApp Business Account {dest} is already pending verification."
            ))
    }

    pub fn already_in_destination(dest: &str) -> Self {
        Self::whatsapp(
            400,
            2388012,
            "Phone number already exists",
            "This phone number already exists in the destination WhatsApp Business Account's phone number list.",
            format!("The phone number is already in WhatsApp Business Account {dest}."),
        )
    }

    pub fn maintenance() -> Self {
        Self::whatsapp(
            400,
            2494100,
            "Phone number in maintenance mode",
            "This phone number is in maintenance mode. Try again in a few minutes.",
            "Retry the request later.".to_owned(),
        )
        .transient()
    }

    // ----- request_code / verify_code ----------------------------------------------------

    pub fn not_being_migrated_request() -> Self {
        Self::whatsapp(
            400,
            2388091,
            "Phone number not being migrated",
            "Phone ownership verification is only available for a phone number that is being migrated. Register the number directly instead.",
            "Start the migration with POST /{waba-id}/phone_numbers and migrate_phone_number=true first."
                .to_owned(),
        )
    }

    pub fn not_being_migrated_verify() -> Self {
        Self::whatsapp(
            400,
            2388093,
            "Phone number not being migrated",
            "Phone ownership verification is only available for a phone number that is being migrated. Register the number directly instead.",
            "Start the migration with POST /{waba-id}/phone_numbers and migrate_phone_number=true first."
                .to_owned(),
        )
    }

    pub fn already_verified() -> Self {
        Self::whatsapp(
            400,
            136024,
            "Phone number already verified",
            "This phone number has already been verified. Check code_verification_status before requesting a code.",
            "code_verification_status is VERIFIED.".to_owned(),
        )
    }

    /// Wrong code. Code 100 per the OpenAPI description's example; unconfirmed.
    pub fn wrong_code(attempts_left: u32) -> Self {
        Self::new(400, 100, METHOD, "(#100) The verification code is incorrect")
            .user(
                "Verification Failed",
                "The verification code you entered is incorrect. Check the code and try again.",
            )
            .details(format!("{attempts_left} more wrong code(s) will lock verification for this number."))
    }

    /// No valid code: it expired, or none was requested. Unconfirmed code.
    pub fn code_expired() -> Self {
        Self::new(400, 100, METHOD, "(#100) The verification code has expired")
            .user(
                "Verification Code Expired",
                "The verification code has expired or was never requested. Request a new code and try again.",
            )
            .details("Request a new code with POST /{phone-number-id}/request_code.".to_owned())
    }

    /// Too many wrong codes; shape per the OpenAPI description (HTTP 429, code 4).
    pub fn verify_locked(minutes: u64) -> Self {
        Self::new(
            429,
            4,
            OAUTH,
            "(#4) Too many verification attempts. Please try again later",
        )
        .subcode(2446079)
        .user(
            "Too Many Attempts",
            "Too many incorrect verification codes were entered for this phone number. Wait before trying again.",
        )
        .details(format!("Verification is locked for about {minutes} more minute(s)."))
        .transient()
    }

    // ----- register ----------------------------------------------------------------------

    pub fn verify_before_register() -> Self {
        Self::whatsapp(
            400,
            133006,
            "Phone number re-verification needed",
            "The phone number must be verified before it can be registered.",
            "Verify the phone number with request_code and verify_code first.".to_owned(),
        )
    }

    pub fn register_limit(hours: u64) -> Self {
        Self::whatsapp(
            400,
            133016,
            "Account register deregister rate limit exceeded",
            "Too many register or deregister requests for this phone number: at most 10 are allowed in a 72-hour moving window.",
            format!("Registration is blocked for about {hours} more hour(s)."),
        )
    }

    pub fn cannot_create_certificate() -> Self {
        Self::new(400, 100, OAUTH, "(#100) Invalid parameter")
            .subcode(2388001)
            .user(
                "Cannot Create Certificate",
                "A certificate can't be created for this phone number yet: its display name is still being processed. Try again later.",
            )
            .details("The display name certificate is not ready.".to_owned())
    }

    pub fn wrong_pin() -> Self {
        Self::whatsapp(
            400,
            133005,
            "Two step verification PIN Mismatch",
            "The two-step verification PIN in the request doesn't match the PIN set for this phone number.",
            "Use the number's current two-step verification PIN.".to_owned(),
        )
    }

    pub fn internal(what: &str) -> Self {
        Self::new(500, 1, OAUTH, format!("An unknown error occurred: {what}")).transient()
    }

    // ----- templates: migrate_message_templates and message_templates ------------------------

    /// Graph's answer to a request that ran out of time (Meta asks for a smaller `count`).
    pub fn reduce_data() -> Self {
        Self::new(
            500,
            1,
            OAUTH,
            "Please reduce the amount of data you're asking for, then retry your request",
        )
        .transient()
    }

    /// Meta's rule; its code and text are not documented (see the README).
    pub fn templates_different_business() -> Self {
        Self::new(
            400,
            100,
            OAUTH,
            "(#100) The source and destination WhatsApp Business Accounts must belong to the same business to migrate templates",
        )
    }

    pub fn template_exists(name: &str, language: &str) -> Self {
        Self::new(400, 100, OAUTH, "(#100) Invalid parameter").subcode(2388024).user(
            "Content in this language already exists",
            format!("There is already {language} content for the template {name}."),
        )
    }

    pub fn template_limit(limit: usize) -> Self {
        Self::new(400, 100, OAUTH, "(#100) Invalid parameter").subcode(2388019).user(
            "Message template limit exceeded",
            format!("This WhatsApp Business Account has reached its limit of {limit} message templates."),
        )
    }

    pub fn template_media_handle() -> Self {
        Self::new(400, 100, OAUTH, "(#100) Invalid parameter").subcode(2388047).user(
            "Invalid header format",
            "A media header's sample must be a handle from the Resumable Upload API.",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_has_graph_keys() {
        let body = GraphError::cannot_create_certificate().to_json("AbC");
        let error = &body["error"];
        assert_eq!(error["code"], 100);
        assert_eq!(error["error_subcode"], 2388001);
        assert_eq!(error["type"], "OAuthException");
        assert_eq!(error["error_user_title"], "Cannot Create Certificate");
        assert_eq!(error["error_data"]["messaging_product"], "whatsapp");
        assert_eq!(error["is_transient"], false);
        assert_eq!(error["fbtrace_id"], "AbC");
    }

    #[test]
    fn whatsapp_errors_prefix_the_code() {
        let error = GraphError::webhooks_not_set_up("5");
        assert_eq!(error.message, "(#2388103) Webhooks not set up");
        assert!(error.subcode.is_none());
    }
}
