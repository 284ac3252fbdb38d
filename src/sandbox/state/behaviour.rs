//! Owns switching the sandbox between Graph behaviours at run time (`POST /_sandbox/options` and
//! `/_sandbox/tokens/{name}`, the handle's `patch_options` and `patch_token`): what the world file
//! sets under `options:` and per token for how Graph behaves beyond its documentation. It must not apply the behaviours themselves (they
//! live with the rule or read they change).

use serde::{Deserialize, Serialize};

use super::State;
use crate::sandbox::world::MigratedSource;

/// The run-time switchable options as the admin API shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Behaviour {
    pub read_lag_ms: u64,
    pub verified_on_migration: bool,
    pub source_keeps_until_registered: bool,
    pub migrated_source: MigratedSource,
}

/// A change to those options; absent keys are kept.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionsPatch {
    /// Text like `3s`, `500ms`; `0` turns the lag off.
    pub read_lag: Option<String>,
    pub read_lag_ms: Option<u64>,
    pub verified_on_migration: Option<bool>,
    pub source_keeps_until_registered: Option<bool>,
    pub migrated_source: Option<MigratedSource>,
}

/// What a token is refused, as the admin API shows it (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenBehaviour {
    pub name: Option<String>,
    pub user_id: String,
    pub refused_fields: Vec<String>,
    pub refused_field_code: i64,
}

/// A change to what a token is refused; absent keys are kept.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenPatch {
    pub refused_fields: Option<Vec<String>>,
    pub refused_field_code: Option<i64>,
}

impl State {
    /// Changes what the token named `who` (its `name` or `user_id` in the world; tokens
    /// themselves never travel through the admin API) is refused.
    pub fn patch_token(&mut self, who: &str, patch: &TokenPatch) -> Result<TokenBehaviour, String> {
        let token = self
            .tokens
            .iter_mut()
            .find(|t| t.name.as_deref() == Some(who) || t.user_id == who)
            .ok_or_else(|| format!("no token named \"{who}\" (give its name or user_id)"))?;
        let fields = patch.refused_fields.clone().unwrap_or_else(|| token.refused_fields.clone());
        let code = patch.refused_field_code.unwrap_or(token.refused_field_code);
        let problems = crate::sandbox::world::refused_field_problems("token", &fields, code);
        if !problems.is_empty() {
            return Err(problems.join("; "));
        }
        token.refused_fields = fields;
        token.refused_field_code = code;
        Ok(TokenBehaviour {
            name: token.name.clone(),
            user_id: token.user_id.clone(),
            refused_fields: token.refused_fields.clone(),
            refused_field_code: token.refused_field_code,
        })
    }

    pub fn behaviour(&self) -> Behaviour {
        let o = &self.options;
        Behaviour {
            read_lag_ms: o.read_lag.as_millis() as u64,
            verified_on_migration: o.verified_on_migration,
            source_keeps_until_registered: o.source_keeps_until_registered,
            migrated_source: o.migrated_source,
        }
    }

    /// Applies `patch` whole or not at all.
    pub fn patch_options(&mut self, patch: &OptionsPatch) -> Result<Behaviour, String> {
        let mut options = self.options.clone();
        if let Some(ms) = patch.read_lag_ms {
            options.read_lag = std::time::Duration::from_millis(ms);
        }
        if let Some(text) = &patch.read_lag {
            options.read_lag = crate::sandbox::parse_duration(text).map_err(|e| format!("read_lag: {e}"))?;
        }
        if let Some(value) = patch.verified_on_migration {
            options.verified_on_migration = value;
        }
        if let Some(value) = patch.source_keeps_until_registered {
            options.source_keeps_until_registered = value;
        }
        if let Some(value) = patch.migrated_source {
            options.migrated_source = value;
        }
        self.options = options;
        Ok(self.behaviour())
    }
}
