//! Owns switching the sandbox between Graph behaviours at run time (`POST /_sandbox/options`, the
//! handle's `patch_options`): the same options the world file sets under `options:` for how
//! Graph behaves beyond its documentation. It must not apply the behaviours themselves (they
//! live with the rule or read they change).

use serde::{Deserialize, Serialize};

use super::State;

/// The run-time switchable options as the admin API shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Behaviour {
    pub read_lag_ms: u64,
    pub verified_on_migration: bool,
}

/// A change to those options; absent keys are kept.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionsPatch {
    /// Text like `3s`, `500ms`; `0` turns the lag off.
    pub read_lag: Option<String>,
    pub read_lag_ms: Option<u64>,
    pub verified_on_migration: Option<bool>,
}

impl State {
    pub fn behaviour(&self) -> Behaviour {
        let o = &self.options;
        Behaviour {
            read_lag_ms: o.read_lag.as_millis() as u64,
            verified_on_migration: o.verified_on_migration,
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
        self.options = options;
        Ok(self.behaviour())
    }
}
