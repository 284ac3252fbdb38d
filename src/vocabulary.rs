//! Owns Graph's vocabulary: every enumerated value wamig reads from or sends to the Graph API
//! (statuses, modes, ratings, categories, the code method), defined once and used by the
//! manifest, the Graph client, observation, the planner, the journal and the sandbox. A value
//! Meta adds tomorrow is kept as `Other(..)`, never dropped or refused, so a live answer always
//! parses; the sandbox, which must only emit values Meta documents, refuses `Other` in its world
//! file. What a value *means* for a migration is decided in `crate::migration`, not here.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// Defines, from one list of Graph's values, two enums: `$name`, open, with an `Other(String)`
/// catch-all (known values matched case-insensitively; anything else, even a non-string, kept,
/// never refused), which everything reading Graph uses; and `$known`, closed and `Copy`, which
/// refuses any other value, for the sandbox, which must only ever emit values Meta documents.
macro_rules! graph_enum {
    ($(#[$meta:meta])* $name:ident / $known:ident { $($variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $known {
            $(#[serde(rename = $wire)] $variant,)+
        }

        impl $known {
            pub fn as_str(self) -> &'static str {
                match self {
                    $($known::$variant => $wire,)+
                }
            }
        }

        impl fmt::Display for $known {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl From<$known> for $name {
            fn from(known: $known) -> Self {
                match known {
                    $($known::$variant => $name::$variant,)+
                }
            }
        }

        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($variant,)+
            /// A value this version of wamig does not know, as Meta sent it.
            Other(String),
        }

        impl $name {
            /// Every value this version of wamig knows, as Graph spells it.
            pub const KNOWN: &'static [&'static str] = &[$($wire),+];

            pub fn parse(text: &str) -> Self {
                $(if text.eq_ignore_ascii_case($wire) {
                    return $name::$variant;
                })+
                $name::Other(text.to_owned())
            }

            /// False for a value Meta sent that this version of wamig does not know.
            pub fn is_known(&self) -> bool {
                !matches!(self, $name::Other(_))
            }

            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $wire,)+
                    $name::Other(text) => text,
                }
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                $name::parse(text)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                Ok(match Value::deserialize(deserializer)? {
                    Value::String(text) => $name::parse(&text),
                    other => $name::Other(other.to_string()),
                })
            }
        }
    };
}

graph_enum!(
    /// `account_review_status` of a WABA.
    AccountReviewStatus / KnownAccountReviewStatus {
        Approved => "APPROVED",
        Pending => "PENDING",
        Rejected => "REJECTED",
        Deferred => "DEFERRED",
    }
);

graph_enum!(
    /// `business_verification_status` of a WABA (Meta sends these in lower case).
    BusinessVerificationStatus / KnownBusinessVerificationStatus {
        Verified => "verified",
        NotVerified => "not_verified",
        Pending => "pending",
        PendingNeedMoreInfo => "pending_need_more_info",
        PendingSubmission => "pending_submission",
        Rejected => "rejected",
        Revoked => "revoked",
        Expired => "expired",
        Failed => "failed",
        Ineligible => "ineligible",
    }
);

graph_enum!(
    /// `ownership_type` of a WABA (Meta's sources disagree on the vocabulary).
    OwnershipType / KnownOwnershipType {
        ClientOwned => "CLIENT_OWNED",
        OnBehalfOf => "ON_BEHALF_OF",
        SelfOwned => "SELF",
    }
);

graph_enum!(
    /// `name_status` / `new_name_status` of a phone number's display name.
    NameStatus / KnownNameStatus {
        Approved => "APPROVED",
        AvailableWithoutReview => "AVAILABLE_WITHOUT_REVIEW",
        Declined => "DECLINED",
        Expired => "EXPIRED",
        PendingReview => "PENDING_REVIEW",
        None => "NONE",
    }
);

graph_enum!(
    /// `code_verification_status` of a phone number.
    CodeVerificationStatus / KnownCodeVerificationStatus {
        Verified => "VERIFIED",
        NotVerified => "NOT_VERIFIED",
        Unverified => "UNVERIFIED",
        Expired => "EXPIRED",
    }
);

graph_enum!(
    /// `quality_rating` of a number, and a template's quality score.
    QualityRating / KnownQualityRating {
        Green => "GREEN",
        Yellow => "YELLOW",
        Red => "RED",
        Na => "NA",
        Unknown => "UNKNOWN",
    }
);

graph_enum!(
    /// `status` of a phone number.
    PhoneNumberStatus / KnownPhoneNumberStatus {
        Connected => "CONNECTED",
        Pending => "PENDING",
        Migrated => "MIGRATED",
        Deleted => "DELETED",
        Disconnected => "DISCONNECTED",
        Banned => "BANNED",
        Restricted => "RESTRICTED",
        RateLimited => "RATE_LIMITED",
        Flagged => "FLAGGED",
        Unverified => "UNVERIFIED",
        Unknown => "UNKNOWN",
    }
);

graph_enum!(
    /// `platform_type`: where the number is registered; `NOT_APPLICABLE` = not registered.
    PlatformType / KnownPlatformType {
        CloudApi => "CLOUD_API",
        OnPremise => "ON_PREMISE",
        NotApplicable => "NOT_APPLICABLE",
    }
);

graph_enum!(
    /// `account_mode`: `SANDBOX` marks a test number.
    AccountMode / KnownAccountMode {
        Live => "LIVE",
        Sandbox => "SANDBOX",
    }
);

graph_enum!(
    /// `messaging_limit_tier` (deprecated by Meta in favour of portfolio limits, still read).
    MessagingLimitTier / KnownMessagingLimitTier {
        Tier50 => "TIER_50",
        Tier250 => "TIER_250",
        Tier1K => "TIER_1K",
        Tier2K => "TIER_2K",
        Tier10K => "TIER_10K",
        Tier100K => "TIER_100K",
        Unlimited => "TIER_UNLIMITED",
    }
);

graph_enum!(
    /// `can_send_message` of a phone number's `health_status`.
    CanSendMessage / KnownCanSendMessage {
        Available => "AVAILABLE",
        Limited => "LIMITED",
        Blocked => "BLOCKED",
    }
);

graph_enum!(
    /// `throughput.level`.
    ThroughputLevel / KnownThroughputLevel {
        Standard => "STANDARD",
        High => "HIGH",
        NotApplicable => "NOT_APPLICABLE",
    }
);

graph_enum!(
    /// `status` of a message template.
    TemplateStatus / KnownTemplateStatus {
        Approved => "APPROVED",
        Pending => "PENDING",
        Rejected => "REJECTED",
        Paused => "PAUSED",
        Disabled => "DISABLED",
        InAppeal => "IN_APPEAL",
        LimitExceeded => "LIMIT_EXCEEDED",
        PendingDeletion => "PENDING_DELETION",
        Deleted => "DELETED",
    }
);

graph_enum!(
    /// `category` of a message template.
    TemplateCategory / KnownTemplateCategory {
        Authentication => "AUTHENTICATION",
        Marketing => "MARKETING",
        Utility => "UTILITY",
    }
);

graph_enum!(
    /// `type` of a message template's component.
    TemplateComponentType / KnownTemplateComponentType {
        Header => "HEADER",
        Body => "BODY",
        Footer => "FOOTER",
        Buttons => "BUTTONS",
    }
);

graph_enum!(
    /// `format` of a template's HEADER component; the media formats carry an upload handle.
    TemplateHeaderFormat / KnownTemplateHeaderFormat {
        Text => "TEXT",
        Image => "IMAGE",
        Video => "VIDEO",
        Document => "DOCUMENT",
    }
);

impl TemplateHeaderFormat {
    /// Media whose upload handle is valid only in the WABA it was uploaded to: a template with
    /// such a header cannot be re-created elsewhere without a fresh upload.
    pub fn is_media(&self) -> bool {
        matches!(
            self,
            TemplateHeaderFormat::Image | TemplateHeaderFormat::Video | TemplateHeaderFormat::Document
        )
    }
}

/// A template component (as Graph lists it) that is a header with media.
pub fn is_media_header(component: &Value) -> bool {
    let text = |key: &str| component.get(key).and_then(Value::as_str).unwrap_or_default();
    TemplateComponentType::parse(text("type")) == TemplateComponentType::Header
        && TemplateHeaderFormat::parse(text("format")).is_media()
}

/// How Meta delivers a verification code (`code_method`). A parameter wamig sends, never a
/// value it reads, so the set is closed: the manifest's schema lists exactly these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum CodeMethod {
    Sms,
    Voice,
}

impl CodeMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            CodeMethod::Sms => "SMS",
            CodeMethod::Voice => "VOICE",
        }
    }

    /// How people call the channel the code travels by.
    pub fn channel(self) -> &'static str {
        match self {
            CodeMethod::Sms => "SMS",
            CodeMethod::Voice => "voice call",
        }
    }
}

impl fmt::Display for CodeMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_parse_case_insensitively_and_unknown_ones_are_kept() {
        assert_eq!(PhoneNumberStatus::parse("connected"), PhoneNumberStatus::Connected);
        assert_eq!(PhoneNumberStatus::Connected.as_str(), "CONNECTED");
        let odd = PhoneNumberStatus::parse("LINKED");
        assert_eq!(odd, PhoneNumberStatus::Other("LINKED".into()));
        assert!(!odd.is_known());
        assert_eq!(odd.as_str(), "LINKED");
        assert!(PhoneNumberStatus::KNOWN.contains(&"MIGRATED"));
        let parsed: PlatformType = serde_json::from_value(serde_json::json!(7)).unwrap();
        assert_eq!(parsed, PlatformType::Other("7".into()));
        assert_eq!(serde_json::to_value(PlatformType::CloudApi).unwrap(), serde_json::json!("CLOUD_API"));
    }
}
