//! Owns the taxonomy of Graph failures: which client call failed ([`Operation`]), what kind of
//! failure it is ([`ErrorClass`], with the 2388103 causes in [`MigrationBlock`]) and the stable
//! names logs and the journal use for them. It must not read bodies (`envelope.rs`), decide a
//! class (`classify.rs`) or word a hint (`crate::hints`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Which client call produced an error; classification and the write/read rules depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Any GET (nodes, edges, multi-id reads, token info).
    Read,
    /// `POST /{waba}/phone_numbers` with `migrate_phone_number=true`.
    InitiateMigration,
    RequestCode,
    VerifyCode,
    Register,
    /// `POST /{dest_waba}/migrate_message_templates`.
    MigrateTemplates,
    /// `POST /{waba}/message_templates`.
    CreateTemplate,
}

impl Operation {
    pub fn is_write(self) -> bool {
        !matches!(self, Operation::Read)
    }
}

/// What a configuration error found before any request is about. The client names the problem;
/// the application words the fix (`crate::hints`), since only it knows the flags, environment
/// variables and manifest keys that set each value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigProblem {
    /// Not a Graph API version (`vN.0`).
    ApiVersion,
    /// A Graph URL that is not a plain https base URL (bad syntax, scheme, host, query).
    GraphUrl,
    /// Plain http:// to a host that is not loopback.
    PlainHttp,
    /// A Graph URL with `user:password@`.
    UrlCredentials,
    /// A Graph URL with a path (`https://graph.facebook.com/v23.0`): wamig adds the version.
    GraphUrlPath,
    /// A loopback name of a plain http:// URL that resolves to no address or to one that is not
    /// loopback.
    LoopbackNameElsewhere,
    /// The token (from a file or the environment) is empty.
    TokenEmpty,
    /// The token holds spaces, line breaks or non-ASCII characters.
    TokenNotOneWord,
    /// The token file cannot be read.
    TokenFileUnreadable,
    /// The token file holds nothing.
    TokenFileEmpty,
    /// The token's environment variable is set but empty.
    TokenEnvEmpty,
    /// No token at all.
    NoToken,
}

/// The causes Meta reports under the one code 2388103, told apart by their texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MigrationBlock {
    WebhooksMissing,
    NoPaymentMethod,
    DisplayNameNotApproved,
    SourceWabaNotApproved,
    DifferentBusiness,
    DestinationNotApproved,
    MessagingForPending,
    EligibleToAddDirectly,
    TwoStepVerificationEnabled,
    /// A WhatsApp test number (`account_mode` SANDBOX): never migratable.
    TestNumber,
    /// A number in use with the WhatsApp Business app: Meta has a separate onboarding flow.
    BusinessAppNumber,
    Generic,
}

/// What kind of failure an error is; callers match on this, users read its hint (`crate::hints`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "class", content = "cause")]
pub enum ErrorClass {
    // --- found before any request ---
    /// Bad base URL, API version or token source.
    Config,
    /// A bad argument to a client call (an id that is not digits, a code that is not 6 digits).
    Input,
    // --- transport ---
    /// Could not connect (nothing was sent), or a read's connection dropped.
    Network,
    /// A read got no answer in time.
    Timeout,
    /// A write was (or may have been) sent and no answer came: it may or may not have happened.
    OutcomeUnknown,
    /// The answer was not what Graph sends: not JSON, truncated, wrong shape, a redirect, a
    /// paging link to another host.
    InvalidResponse,
    // --- generic Graph classes ---
    Auth,
    /// `appsecret_proof` missing or wrong (the app requires it, or WAMIG_APP_SECRET is wrong).
    AppSecretProof,
    Permission,
    NotFound,
    Throttled,
    Transient,
    InvalidParameter,
    // --- migration ---
    /// 2388012: the number is already in the destination WABA.
    AlreadyInDestination,
    /// "Duplicate phone number" on step 2: the migration was already started.
    MigrationAlreadyStarted,
    /// 2388091 / 2388093: the number is not being migrated, so codes cannot be requested.
    NotBeingMigrated,
    /// 2388103 and its causes (and the two-step text, whatever its code).
    MigrationBlocked(MigrationBlock),
    /// 2494100 (and 131057): maintenance mode, retry in a few minutes.
    Maintenance,
    /// 136024: request_code on an already verified number.
    AlreadyVerified,
    /// 133005: two-step PIN mismatch on register.
    WrongPin,
    /// 133006 (and "only after confirming ownership"): verify before register.
    VerifyBeforeRegister,
    /// 133016: more than 10 register calls in 72 h.
    RegisterLimit,
    /// 100 / 2388001 "Cannot Create Certificate": display name still provisioning.
    DisplayNameProvisioning,
    /// verify_code refused the code (codes unconfirmed; recognised by texts).
    WrongCode,
    CodeExpired,
    /// Too many code or PIN attempts (133008, "too many ... attempts").
    TooManyAttempts,
    /// 200000 "Cannot add phone number to WhatsApp Business Account" on the migration POST.
    CannotAddNumber,
    /// 133015: the number was deleted recently; Meta asks to wait about 5 minutes.
    RecentlyDeleted,
    /// 131031: the account is locked (a data mismatch, such as a wrong two-step PIN).
    AccountLocked,
    /// 368: the WABA is restricted by Meta for a policy reason.
    WabaRestricted,
    /// 2388019: the WABA holds as many message templates as it may.
    TemplateLimit,
    /// 2388024: a template of that name and language already exists.
    TemplateExists,
    /// A Graph error wamig has no special knowledge of.
    Other,
}

impl ErrorClass {
    /// A short stable name for logs, JSON events and the journal.
    pub fn name(self) -> &'static str {
        match self {
            ErrorClass::Config => "config",
            ErrorClass::Input => "input",
            ErrorClass::Network => "network",
            ErrorClass::Timeout => "timeout",
            ErrorClass::OutcomeUnknown => "outcome_unknown",
            ErrorClass::InvalidResponse => "invalid_response",
            ErrorClass::Auth => "auth",
            ErrorClass::AppSecretProof => "appsecret_proof",
            ErrorClass::Permission => "permission",
            ErrorClass::NotFound => "not_found",
            ErrorClass::Throttled => "throttled",
            ErrorClass::Transient => "transient",
            ErrorClass::InvalidParameter => "invalid_parameter",
            ErrorClass::AlreadyInDestination => "already_in_destination",
            ErrorClass::MigrationAlreadyStarted => "migration_already_started",
            ErrorClass::NotBeingMigrated => "not_being_migrated",
            ErrorClass::MigrationBlocked(block) => match block {
                MigrationBlock::WebhooksMissing => "migration_blocked.webhooks_missing",
                MigrationBlock::NoPaymentMethod => "migration_blocked.no_payment_method",
                MigrationBlock::DisplayNameNotApproved => "migration_blocked.display_name_not_approved",
                MigrationBlock::SourceWabaNotApproved => "migration_blocked.source_waba_not_approved",
                MigrationBlock::DifferentBusiness => "migration_blocked.different_business",
                MigrationBlock::DestinationNotApproved => "migration_blocked.destination_not_approved",
                MigrationBlock::MessagingForPending => "migration_blocked.messaging_for_pending",
                MigrationBlock::EligibleToAddDirectly => "migration_blocked.eligible_to_add_directly",
                MigrationBlock::TwoStepVerificationEnabled => {
                    "migration_blocked.two_step_verification_enabled"
                }
                MigrationBlock::TestNumber => "migration_blocked.test_number",
                MigrationBlock::BusinessAppNumber => "migration_blocked.business_app_number",
                MigrationBlock::Generic => "migration_blocked.generic",
            },
            ErrorClass::Maintenance => "maintenance",
            ErrorClass::AlreadyVerified => "already_verified",
            ErrorClass::WrongPin => "wrong_pin",
            ErrorClass::VerifyBeforeRegister => "verify_before_register",
            ErrorClass::RegisterLimit => "register_limit",
            ErrorClass::DisplayNameProvisioning => "display_name_provisioning",
            ErrorClass::WrongCode => "wrong_code",
            ErrorClass::CodeExpired => "code_expired",
            ErrorClass::TooManyAttempts => "too_many_attempts",
            ErrorClass::CannotAddNumber => "cannot_add_number",
            ErrorClass::RecentlyDeleted => "recently_deleted",
            ErrorClass::AccountLocked => "account_locked",
            ErrorClass::WabaRestricted => "waba_restricted",
            ErrorClass::TemplateLimit => "template_limit",
            ErrorClass::TemplateExists => "template_exists",
            ErrorClass::Other => "other",
        }
    }

    /// Every class, for reading a stored name back.
    const ALL: [ErrorClass; 43] = [
        ErrorClass::Config,
        ErrorClass::Input,
        ErrorClass::Network,
        ErrorClass::Timeout,
        ErrorClass::OutcomeUnknown,
        ErrorClass::InvalidResponse,
        ErrorClass::Auth,
        ErrorClass::AppSecretProof,
        ErrorClass::Permission,
        ErrorClass::NotFound,
        ErrorClass::Throttled,
        ErrorClass::Transient,
        ErrorClass::InvalidParameter,
        ErrorClass::AlreadyInDestination,
        ErrorClass::MigrationAlreadyStarted,
        ErrorClass::NotBeingMigrated,
        ErrorClass::MigrationBlocked(MigrationBlock::WebhooksMissing),
        ErrorClass::MigrationBlocked(MigrationBlock::NoPaymentMethod),
        ErrorClass::MigrationBlocked(MigrationBlock::DisplayNameNotApproved),
        ErrorClass::MigrationBlocked(MigrationBlock::SourceWabaNotApproved),
        ErrorClass::MigrationBlocked(MigrationBlock::DifferentBusiness),
        ErrorClass::MigrationBlocked(MigrationBlock::DestinationNotApproved),
        ErrorClass::MigrationBlocked(MigrationBlock::MessagingForPending),
        ErrorClass::MigrationBlocked(MigrationBlock::EligibleToAddDirectly),
        ErrorClass::MigrationBlocked(MigrationBlock::TwoStepVerificationEnabled),
        ErrorClass::MigrationBlocked(MigrationBlock::TestNumber),
        ErrorClass::MigrationBlocked(MigrationBlock::BusinessAppNumber),
        ErrorClass::MigrationBlocked(MigrationBlock::Generic),
        ErrorClass::Maintenance,
        ErrorClass::AlreadyVerified,
        ErrorClass::WrongPin,
        ErrorClass::VerifyBeforeRegister,
        ErrorClass::RegisterLimit,
        ErrorClass::DisplayNameProvisioning,
        ErrorClass::WrongCode,
        ErrorClass::CodeExpired,
        ErrorClass::TooManyAttempts,
        ErrorClass::CannotAddNumber,
        ErrorClass::RecentlyDeleted,
        ErrorClass::AccountLocked,
        ErrorClass::WabaRestricted,
        ErrorClass::TemplateLimit,
        ErrorClass::TemplateExists,
    ];

    /// The class a [`ErrorClass::name`] stands for; `None` for a name this version does not know
    /// (a journal written by a newer wamig), which then reads as [`ErrorClass::Other`].
    pub fn from_name(name: &str) -> Option<ErrorClass> {
        Self::ALL.into_iter().chain([ErrorClass::Other]).find(|class| class.name() == name)
    }

    /// Reads may be repeated on these: repeating a GET changes nothing at Meta.
    pub fn is_retryable_read(self) -> bool {
        matches!(
            self,
            ErrorClass::Network | ErrorClass::Timeout | ErrorClass::Throttled | ErrorClass::Transient
        )
    }
}

/// Stored (in the journal) by its stable name, so a stored class reads back as a type.
pub mod by_name {
    use super::*;

    pub fn serialize<S: Serializer>(class: &Option<ErrorClass>, serializer: S) -> Result<S::Ok, S::Error> {
        match class {
            Some(class) => serializer.serialize_some(class.name()),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<ErrorClass>, D::Error> {
        let name: Option<String> = Option::deserialize(deserializer)?;
        Ok(name.map(|name| ErrorClass::from_name(&name).unwrap_or(ErrorClass::Other)))
    }
}

#[cfg(test)]
mod name_tests {
    use super::*;

    #[test]
    fn every_class_reads_back_from_its_name() {
        for class in ErrorClass::ALL.into_iter().chain([ErrorClass::Other]) {
            assert_eq!(ErrorClass::from_name(class.name()), Some(class));
        }
        let names: std::collections::BTreeSet<&str> = ErrorClass::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), ErrorClass::ALL.len(), "names are unique");
        assert_eq!(ErrorClass::from_name("no_such_class"), None);
    }
}
