//! Owns the manifest's types exactly as users write them (README.md). serde reads them and
//! schemars derives `schemas/manifest.schema.json` from them, so these types are the single
//! source of truth for the format; the doc comments become the schema's descriptions that
//! editors show. Checks that need more than types live in `check`.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A wamig manifest: which WhatsApp business phone numbers must live in which destination
/// WhatsApp Business Account (WABA).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "wamig manifest")]
pub struct Manifest {
    /// Format version of this manifest. Only 1 exists.
    #[schemars(range(min = 1, max = 1))]
    pub version: u32,
    /// Graph API settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph: Option<GraphSettings>,
    /// Settings every number inherits unless it overrides them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<NumberSettings>,
    /// Destination WABAs and the numbers that must live in each.
    pub destinations: Vec<Destination>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GraphSettings {
    /// Graph API version to call, like `v23.0`. `--api-version` overrides it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^v[0-9]+\.0$"), example = &"v23.0")]
    pub api_version: Option<String>,
}

/// Settings a number can take from `defaults` or set itself.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NumberSettings {
    /// How Meta sends the verification code: `SMS` (default) or `VOICE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_method: Option<CodeMethod>,
    /// Language of the verification message, like `en_US` (default) or `es`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-z]{2,3}(_[A-Z]{2})?$"), example = &"en_US")]
    pub language: Option<String>,
    /// Register the number on the Cloud API after verification (default `true`). Needs `pin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub register: Option<bool>,
    /// Where the 6-digit PIN used to register lives; it becomes the number's new two-step
    /// verification PIN. Never the PIN itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<SecretRef>,
    /// For numbers whose data Meta stores in one country (local storage): that country's
    /// 2-letter code, like `IN`, sent with register.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Z]{2}$"), example = &"IN")]
    pub data_localization_region: Option<String>,
    /// Template settings every destination inherits unless it sets them itself (templates
    /// belong to a destination, not to a number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub templates: Option<TemplateSettings>,
}

/// Which message templates wamig makes sure exist in a destination.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateSettings {
    /// `true`: every template of the destination's source WABAs that Meta would migrate
    /// (APPROVED, quality GREEN or UNKNOWN) must exist here with the same name and language;
    /// `apply` migrates the missing ones. `false` (the default): the plan only reports which
    /// templates Meta duplicates when a number moves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ensure: Option<bool>,
    /// Template names wamig leaves alone, in every language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(inner(regex(pattern = r"^[a-z0-9_]+$")), example = &["winback_offer"])]
    pub except: Option<Vec<String>>,
}

/// A destination WhatsApp Business Account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    /// The destination WABA id (digits).
    #[schemars(regex(pattern = r"^[0-9]+$"), example = &"104996122399160")]
    pub waba: String,
    /// A label shown in plans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Numbers that must live in this WABA.
    pub numbers: Vec<NumberSpec>,
    /// Overrides `defaults.templates`, key by key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub templates: Option<TemplateSettings>,
}

/// A phone number that must live in its destination WABA.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NumberSpec {
    /// The number in E.164 form; spaces, dashes, dots and parentheses are allowed.
    #[schemars(regex(pattern = r"^\+[0-9 ().-]+$"), example = &"+1 631-555-5555")]
    pub phone: String,
    /// Country calling code, when the one derived from the number is wrong for an odd case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]{1,3}$"))]
    pub cc: Option<String>,
    /// The WABA the number lives in now (digits); lets `plan` check the source side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]+$"))]
    pub source_waba: Option<String>,
    /// Overrides `defaults.code_method`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_method: Option<CodeMethod>,
    /// Overrides `defaults.language`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-z]{2,3}(_[A-Z]{2})?$"))]
    pub language: Option<String>,
    /// Overrides `defaults.register`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub register: Option<bool>,
    /// Overrides `defaults.pin`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<SecretRef>,
    /// Overrides `defaults.data_localization_region`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Z]{2}$"))]
    pub data_localization_region: Option<String>,
}

pub use crate::vocabulary::CodeMethod;

/// A reference to a secret kept outside the manifest: `{ env: NAME }` or `{ file: PATH }`.
// Untagged one-key structs rather than an externally tagged enum: serde_yaml reads the latter
// from YAML tags (`!env NAME`), which is not the form users write.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(untagged, deny_unknown_fields)]
pub enum SecretRef {
    /// The name of an environment variable holding the secret.
    Env {
        /// Environment variable name, like `WAMIG_PIN`.
        env: String,
    },
    /// A file holding the secret (relative paths are relative to the manifest).
    File {
        /// Path of the file; its content, trimmed, is the secret.
        file: PathBuf,
    },
}

impl std::fmt::Display for SecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretRef::Env { env } => write!(f, "environment variable {env}"),
            SecretRef::File { file } => write!(f, "file {}", file.display()),
        }
    }
}

/// The JSON Schema of the manifest, as committed in `schemas/manifest.schema.json`.
pub fn json_schema() -> serde_json::Value {
    schemars::schema_for!(Manifest).to_value()
}

/// The schema text exactly as `wamig schema` prints it and the repository commits it.
pub fn json_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&json_schema()).unwrap_or_default();
    text.push('\n');
    text
}
