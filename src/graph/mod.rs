//! The Graph API client: configuration and token loading, authenticated requests, Meta's error
//! envelope and its classification, retries of reads and throttling, paging, multi-id reads and
//! typed nodes. It is a faithful, typed, safe client and knows nothing of migrations nor of
//! wamig's commands: no planning, no step ordering, no hints naming a command (those are
//! `crate::hints`). `observe` and `apply` build on it.
//!
//! Wiring from the CLI: [`load_token`] (`--token-file` / `WAMIG_ACCESS_TOKEN`),
//! [`GraphConfig::new`] (`--graph-url` / `WAMIG_GRAPH_URL`, `--api-version` /
//! `WAMIG_API_VERSION`), [`GraphConfig::with_app_secret`] with [`app_secret_from_env`]
//! (`WAMIG_APP_SECRET`), [`GraphConfig::with_ui`], then [`GraphClient::new`].

mod class;
mod classify;
mod client;
mod config;
mod envelope;
mod error;
mod nodes;
mod paging;
mod retry;
mod usage;

pub use crate::vocabulary::CodeMethod;
pub use class::{ConfigProblem, ErrorClass, MigrationBlock, Operation, by_name as class_by_name};
pub use classify::{classify, migration_block};
pub use client::{
    CreatedTemplate, GraphClient, MAX_IDS_PER_REQUEST, TEMPLATE_MIGRATION_MAX, TEMPLATE_MIGRATION_TIMEOUT,
    TemplateMigration, appsecret_proof,
};
pub use config::{
    ApiVersion, DEFAULT_API_VERSION, DEFAULT_GRAPH_URL, ENV_ACCESS_TOKEN, ENV_APP_SECRET, GraphConfig,
    Resolver, app_secret_from_env, is_loopback, is_loopback_ip, load_token, parse_base_url, pinned_loopback,
    system_resolver, token_from_sources,
};
pub use envelope::ApiError;
pub(crate) use error::human_duration;
pub use error::{GraphError, RequestInfo, WriteOutcome};
pub use nodes::{
    AccountMode, AccountReviewStatus, AppData, BusinessInfo, BusinessVerificationStatus, CanSendMessage,
    CodeVerificationStatus, DebugTokenData, EDGE_PAGE_LIMIT, FieldSpec, GranularScope, HealthEntity,
    HealthIssue, HealthStatus, MESSAGE_TEMPLATE_FIELDS, MessageTemplate, MessagingLimitTier, NameStatus,
    OwnershipType, PHONE_NUMBER_FIELDS, PermissionEntry, PhoneNumber, PhoneNumberStatus, PlatformType,
    QualityRating, SCOPE_MANAGEMENT, SCOPE_MESSAGING, SUBSCRIBED_APP_FIELDS, SubscribedApp, TemplateCategory,
    TemplateQuality, TemplateStatus, Throughput, ThroughputLevel, TokenInfo, TokenInfoSource, WABA_FIELDS,
    WABA_RESTRICTED_FIELDS, Waba, message_template_fields, phone_number_fields, subscribed_app_fields,
    waba_fields, waba_fields_with_edges,
};
pub use paging::{Cursors, Edge, Paging, sanitize_next};
pub use retry::{Decision, RetryPolicy, Sleeper, decide};
pub use usage::{
    ACTIVE_WABA_CALLS_PER_HOUR, AppUsage, BucEntry, BusinessUsage, Usage, WABA_CALLS_PER_HOUR,
    parse_app_usage, parse_buc, regain_wait,
};

/// Error builders for the unit tests of modules outside `graph/` (the hints).
#[cfg(test)]
pub(crate) mod test_support {
    pub(crate) use super::classify::tests::migration_2388103;
    pub(crate) use super::error::tests::error_for;
}
