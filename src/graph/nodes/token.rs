//! Owns what wamig learns about its token: `debug_token`'s data, `/me/permissions`, and the
//! [`TokenInfo`] both are read into (scopes, the assets each covers). It must not decide what a
//! plan needs from the token.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::{lenient, lenient_bool, lenient_i64, lenient_id, lenient_string, lenient_strings};

/// One `granular_scopes` entry of debug_token. `target_ids` absent = the scope is not limited
/// to particular assets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GranularScope {
    #[serde(deserialize_with = "lenient_id")]
    pub scope: String,
    #[serde(deserialize_with = "lenient_optional_strings")]
    pub target_ids: Option<Vec<String>>,
}

fn lenient_optional_strings<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    let value = Value::deserialize(d)?;
    if value.is_null() {
        return Ok(None);
    }
    lenient_strings(value).map(Some).map_err(serde::de::Error::custom)
}

/// `data` of `GET /debug_token`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DebugTokenData {
    #[serde(deserialize_with = "lenient_string")]
    pub app_id: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub application: Option<String>,
    #[serde(rename = "type", deserialize_with = "lenient_string")]
    pub token_type: Option<String>,
    #[serde(deserialize_with = "lenient_bool")]
    pub is_valid: Option<bool>,
    #[serde(deserialize_with = "lenient_i64")]
    pub expires_at: Option<i64>,
    #[serde(deserialize_with = "lenient_i64")]
    pub data_access_expires_at: Option<i64>,
    #[serde(deserialize_with = "lenient_string")]
    pub user_id: Option<String>,
    #[serde(deserialize_with = "lenient_strings")]
    pub scopes: Vec<String>,
    #[serde(deserialize_with = "lenient")]
    pub granular_scopes: Option<Vec<GranularScope>>,
}

/// One entry of `GET /me/permissions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PermissionEntry {
    #[serde(deserialize_with = "lenient_id")]
    pub permission: String,
    #[serde(deserialize_with = "lenient_string")]
    pub status: Option<String>,
}

/// Where [`TokenInfo`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenInfoSource {
    DebugToken,
    /// debug_token was refused; only granted permissions are known, not their targets.
    Permissions,
}

pub const SCOPE_MANAGEMENT: &str = "whatsapp_business_management";
pub const SCOPE_MESSAGING: &str = "whatsapp_business_messaging";

/// What the token may do, as far as Graph tells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenInfo {
    pub source: TokenInfoSource,
    pub is_valid: Option<bool>,
    pub token_type: Option<String>,
    pub app_id: Option<String>,
    pub application: Option<String>,
    /// Unix seconds; 0 = never expires.
    pub expires_at: Option<i64>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    pub granular_scopes: Vec<GranularScope>,
    /// Permissions the user declined or that expired (only from `/me/permissions`).
    pub declined: Vec<String>,
}

impl TokenInfo {
    pub(crate) fn from_debug_token(data: DebugTokenData) -> Self {
        TokenInfo {
            source: TokenInfoSource::DebugToken,
            is_valid: data.is_valid,
            token_type: data.token_type,
            app_id: data.app_id,
            application: data.application,
            expires_at: data.expires_at,
            scopes: data.scopes,
            granular_scopes: data.granular_scopes.unwrap_or_default(),
            declined: Vec::new(),
        }
    }

    pub(crate) fn from_permissions(entries: Vec<PermissionEntry>) -> Self {
        let (granted, other): (Vec<_>, Vec<_>) =
            entries.into_iter().partition(|e| e.status.as_deref().unwrap_or("granted") == "granted");
        TokenInfo {
            source: TokenInfoSource::Permissions,
            is_valid: Some(true),
            token_type: None,
            app_id: None,
            application: None,
            expires_at: None,
            scopes: granted.into_iter().map(|e| e.permission).collect(),
            granular_scopes: Vec::new(),
            declined: other.into_iter().map(|e| e.permission).collect(),
        }
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Whether `scope` covers asset `id`: `Some(false)` when the scope is missing or its
    /// `target_ids` exclude `id`, `Some(true)` when included, `None` when Graph did not say.
    pub fn covers(&self, scope: &str, id: &str) -> Option<bool> {
        if !self.has_scope(scope) {
            return Some(false);
        }
        let granular = self.granular_scopes.iter().find(|g| g.scope == scope)?;
        match &granular.target_ids {
            Some(ids) => Some(ids.iter().any(|t| t == id)),
            None => Some(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn token_info_from_both_sources() {
        let data: DebugTokenData = serde_json::from_value(json!({
            "app_id": "000000000000000", "type": "SYSTEM_USER", "application": "wamig",
            "data_access_expires_at": 0, "expires_at": 0, "is_valid": true,
            "scopes": ["whatsapp_business_management", "whatsapp_business_messaging"],
            "granular_scopes": [
                {"scope": "whatsapp_business_management", "target_ids": ["104996122399160"]},
                {"scope": "whatsapp_business_messaging"}
            ],
            "user_id": "111"
        }))
        .unwrap();
        let info = TokenInfo::from_debug_token(data);
        assert_eq!(info.expires_at, Some(0));
        assert_eq!(info.covers(SCOPE_MANAGEMENT, "104996122399160"), Some(true));
        assert_eq!(info.covers(SCOPE_MANAGEMENT, "999"), Some(false));
        assert_eq!(info.covers(SCOPE_MESSAGING, "999"), Some(true));
        assert_eq!(info.covers("business_management", "1"), Some(false));

        let entries: Vec<PermissionEntry> = serde_json::from_value(json!([
            {"permission": "whatsapp_business_management", "status": "granted"},
            {"permission": "whatsapp_business_messaging", "status": "declined"}
        ]))
        .unwrap();
        let info = TokenInfo::from_permissions(entries);
        assert!(info.has_scope(SCOPE_MANAGEMENT));
        assert!(!info.has_scope(SCOPE_MESSAGING));
        assert_eq!(info.declined, vec![SCOPE_MESSAGING.to_owned()]);
        assert_eq!(info.covers(SCOPE_MANAGEMENT, "1"), None);
    }
}
