//! Owns the plan's data: what `wamig plan` prints, `--out` saves, `show` renders and `apply`
//! executes. Its JSON form is a documented interface (docs/plan-json.md): `format_version`,
//! `summary`, `numbers[]` with `phone`, `destination_waba`, `source_waba`, `action`, `checks`,
//! `steps`, and `unmanaged` are fixed; other fields may be added, never renamed. No secret.

use serde::{Deserialize, Serialize};

pub use super::cost::{WabaCost, WabaRole};
use crate::vocabulary::PhoneNumberStatus;

pub const FORMAT_VERSION: u32 = 1;
/// A saved plan older than this is refused by `apply` (docs/plan-json.md, `ttl_seconds`).
pub const DEFAULT_TTL_SECONDS: u64 = 24 * 60 * 60;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub format_version: u32,
    pub summary: Summary,
    pub numbers: Vec<NumberPlan>,
    pub unmanaged: Vec<Unmanaged>,
    /// Destinations whose templates wamig manages (`templates: { ensure: true }`), in manifest
    /// order; absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destinations: Vec<DestinationPlan>,
    /// Digest of everything above plus the two inputs' digests; shown in reviews so an approved
    /// plan can be matched with the one applied.
    pub digest: String,
    /// SHA-256 of the manifest's desired state.
    pub manifest_digest: String,
    /// SHA-256 of the observed live state (without the observation time).
    pub snapshot_digest: String,
    /// RFC 3339.
    pub created_at: String,
    pub ttl_seconds: u64,
    pub api_version: String,
    /// Notes that apply to the whole plan (billing after migration, say).
    #[serde(default)]
    pub notes: Vec<String>,
    /// What the apply of this plan costs in Graph calls, per WABA.
    #[serde(default)]
    pub cost: Vec<WabaCost>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Summary {
    pub migrate: usize,
    pub resume: usize,
    pub in_sync: usize,
    pub blocked: usize,
    pub unmanaged: usize,
    /// Templates to migrate or re-create in destinations with `templates: { ensure: true }`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub templates: usize,
}

#[allow(clippy::trivially_copy_pass_by_ref, reason = "serde's skip_serializing_if passes a reference")]
fn is_zero(count: &usize) -> bool {
    *count == 0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Action {
    #[serde(rename = "migrate")]
    Migrate,
    #[serde(rename = "resume")]
    Resume,
    #[serde(rename = "in-sync")]
    InSync,
    #[serde(rename = "blocked")]
    Blocked,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Migrate => "migrate",
            Action::Resume => "resume",
            Action::InSync => "in-sync",
            Action::Blocked => "blocked",
        }
    }
}

pub use crate::migration::Step;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Pass,
    Fail,
    Unknown,
}

/// A name fixed in wamig's code (a check's id, a line's key): borrowed when planned, so 20,000
/// numbers do not each hold their own copies; owned when read back from a saved plan.
pub type Label = std::borrow::Cow<'static, str>;

/// One eligibility check (stable `id`, e.g. `destination.payment_method`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub id: Label,
    pub status: CheckStatus,
    pub message: String,
    pub hint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NumberPlan {
    /// E.164, `+<digits>`.
    pub phone: String,
    pub destination_waba: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_name: Option<String>,
    /// `null` when neither the manifest nor the live state tells it.
    pub source_waba: Option<String>,
    pub action: Action,
    pub checks: Vec<Check>,
    pub steps: Vec<Step>,
    /// The number's id in the destination once the migration has started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_id: Option<String>,
    /// A code was requested and is awaited.
    #[serde(default)]
    pub awaiting_code: bool,
    /// When the awaited code was requested (RFC 3339) and how.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_requested_at: Option<String>,
    pub code_method: String,
    pub language: String,
    pub register: bool,
    /// Where the number stands now and where it must end, as `key: value` lines that renderers
    /// diff (current against desired).
    pub current: Vec<(Label, String)>,
    pub desired: Vec<(Label, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub templates: Option<TemplateForecast>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// What degraded since the number arrived (for an in-sync number), or that it was moved away
    /// since wamig moved it: for people to look at, never a change. Absent when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<super::drift::Drift>,
    /// Manifest line of this number's entry, for messages; not part of the digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_line: Option<usize>,
}

/// Which source templates will be duplicated into the destination when the number moves.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TemplateForecast {
    /// `false` when the source's or destination's templates could not be read.
    pub known: bool,
    /// APPROVED, high-quality templates of the source (eligible for duplication).
    pub eligible: usize,
    /// Eligible ones the destination already has (same name), left untouched.
    pub already_in_destination: usize,
    /// Free template slots in the destination (limit minus distinct names there).
    pub destination_room: usize,
    /// Eligible ones that will not fit: they must be re-created by hand.
    pub left_out: Vec<String>,
    /// Source templates not eligible, with the reason (`PENDING`, `REJECTED`, low quality).
    pub not_eligible: Vec<(String, String)>,
    /// Why the forecast is incomplete, when `known` is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_reason: Option<String>,
    /// The destination has `templates: { ensure: true }`: what Meta does not duplicate, wamig
    /// migrates (see the plan's `destinations`), so nothing is left to do by hand.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub managed: bool,
}

/// A destination whose templates wamig manages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestinationPlan {
    pub waba: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub templates: TemplatePlan,
}

/// How the templates of one source WABA reach the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TemplateMethod {
    /// Meta's template migration API: both WABAs represent the same business (or that could
    /// not be read, and Meta decides).
    Migrate,
    /// The WABAs represent different businesses, which Meta's migration API refuses: each
    /// template is submitted anew from the source's definition, and Meta reviews it again.
    Recreate,
}

/// A source WABA of the destination's numbers, whose templates must be there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateSource {
    pub waba: String,
    pub method: TemplateMethod,
    /// Why the method was chosen, for people.
    pub reason: String,
}

/// One source template that must arrive in the destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedTemplate {
    pub name: String,
    pub language: Option<String>,
    pub source_waba: String,
    /// The template's id in the source.
    pub id: Option<String>,
}

impl PlannedTemplate {
    /// `name (language)`, as every rendering names a template.
    pub fn display(&self) -> String {
        match &self.language {
            Some(language) => format!("{} ({language})", self.name),
            None => self.name.clone(),
        }
    }
}

/// What `templates: { ensure: true }` asks of one destination against the live state.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TemplatePlan {
    /// `false` when a source's or the destination's templates could not be read (or a number's
    /// source is not known): the lists are then incomplete.
    pub known: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown_reasons: Vec<String>,
    pub sources: Vec<TemplateSource>,
    /// Missing, to be copied with Meta's template migration API.
    pub to_migrate: Vec<PlannedTemplate>,
    /// Missing, to be submitted anew (another business): new submissions Meta reviews again.
    pub to_recreate: Vec<PlannedTemplate>,
    /// Already in the destination (same name and language), with its status there when it is
    /// not APPROVED.
    pub present: Vec<String>,
    /// Missing, but the destination's template limit leaves no room for them.
    pub left_out: Vec<PlannedTemplate>,
    /// Source templates that cannot be migrated, with why (status, quality, media header).
    pub cannot: Vec<(String, String)>,
    /// Source templates the manifest's `except` leaves alone.
    pub excepted: Vec<String>,
    /// Free template slots in the destination if its limit is Meta's usual 250.
    pub destination_room: usize,
}

impl TemplatePlan {
    /// Templates this plan would write.
    pub fn changes(&self) -> usize {
        self.to_migrate.len() + self.to_recreate.len()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unmanaged {
    pub phone: String,
    pub waba: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<PhoneNumberStatus>,
}

impl Plan {
    pub fn has_changes(&self) -> bool {
        self.summary.migrate + self.summary.resume + self.summary.templates > 0
    }

    pub fn has_blocked(&self) -> bool {
        self.summary.blocked > 0
    }

    pub fn number(&self, e164: &str) -> Option<&NumberPlan> {
        self.numbers.iter().find(|n| n.phone == e164)
    }
}
