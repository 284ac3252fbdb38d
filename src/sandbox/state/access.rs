//! Owns who may do what in the sandbox: resolving a token to a [`Caller`] (unknown and expired
//! tokens, scopes, readable and managed WABAs), `debug_token`, `/me` and its permissions, and
//! finding which WABA a node belongs to. It must not render nodes or change state.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::{MANAGEMENT, MESSAGING, State};
use crate::sandbox::envelope::GraphError;

/// What a valid token may do.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token_index: usize,
    pub app_id: String,
    pub scopes: Vec<String>,
    /// Readable WABAs (includes the managed ones).
    pub read: BTreeSet<String>,
    pub manage: BTreeSet<String>,
    /// WABA fields refused to this token, and the code of the refusal.
    pub refused_fields: Vec<String>,
    pub refused_field_code: i64,
}

impl Caller {
    pub fn can_read(&self, waba: &str) -> bool {
        self.read.contains(waba)
    }

    pub fn can_manage(&self, waba: &str) -> bool {
        self.manage.contains(waba)
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

impl State {
    // ----- tokens ----------------------------------------------------------------------

    /// Resolves a bearer token. Comparison is over the whole string; unknown → 190.
    pub fn authenticate(&self, token: &str) -> Result<Caller, GraphError> {
        let (index, found) = self
            .tokens
            .iter()
            .enumerate()
            .find(|(_, t)| t.token.expose() == token)
            .ok_or_else(GraphError::invalid_token)?;
        if found.expired {
            return Err(GraphError::expired_token());
        }
        Ok(Caller {
            token_index: index,
            app_id: found.app_id.clone(),
            scopes: found.scopes.clone(),
            read: found.read.clone(),
            manage: found.manage.clone(),
            refused_fields: found.refused_fields.clone(),
            refused_field_code: found.refused_field_code,
        })
    }

    /// `GET /debug_token?input_token=...`: Graph answers 200 even for a bad input token.
    pub fn debug_token(&self, input: &str) -> Value {
        let Some(token) = self.tokens.iter().find(|t| t.token.expose() == input) else {
            return json!({"data": {
                "error": {"code": 190, "message": "Invalid OAuth access token - Cannot parse access token"},
                "is_valid": false,
                "scopes": [],
            }});
        };
        let granular: Vec<Value> = token
            .scopes
            .iter()
            .map(|scope| {
                let targets: Vec<&String> = if scope == MESSAGING {
                    token.manage.iter().collect()
                } else {
                    token.read.iter().collect()
                };
                json!({"scope": scope, "target_ids": targets})
            })
            .collect();
        let application =
            if token.app_id == self.app_id { self.app_name.clone() } else { format!("App {}", token.app_id) };
        let mut data = json!({
            "app_id": token.app_id,
            "type": token.kind.as_str(),
            "application": application,
            "data_access_expires_at": 0,
            "expires_at": 0,
            "is_valid": !token.expired,
            "scopes": token.scopes,
            "granular_scopes": granular,
            "user_id": token.user_id,
        });
        if token.expired {
            data["error"] = json!({"code": 190, "subcode": 463, "message": "Session has expired"});
        }
        json!({ "data": data })
    }

    pub fn me(&self, caller: &Caller) -> Value {
        let token = &self.tokens[caller.token_index];
        json!({
            "id": token.user_id,
            "name": token.name.clone().unwrap_or_else(|| "System User".to_owned()),
        })
    }

    pub fn permissions(&self, caller: &Caller) -> Value {
        let data: Vec<Value> =
            caller.scopes.iter().map(|s| json!({"permission": s, "status": "granted"})).collect();
        json!({ "data": data })
    }

    // ----- object lookup ----------------------------------------------------------------

    /// The WABA a node belongs to (for permissions and rate limits), whether or not the caller
    /// may see it. `None` for ids that name nothing (or a removed node).
    pub fn waba_of(&self, id: &str) -> Option<String> {
        if self.wabas.contains_key(id) {
            return Some(id.to_owned());
        }
        if let Some(number) = self.numbers.get(id) {
            return number.exists.then(|| number.waba.clone());
        }
        self.templates.get(id).map(|t| t.waba_id.clone())
    }

    /// The WABA of `id` if the caller may read it.
    pub(super) fn readable(&self, caller: &Caller, id: &str, method: &str) -> Result<String, GraphError> {
        match self.waba_of(id) {
            Some(waba) if caller.can_read(&waba) => Ok(waba),
            _ => Err(GraphError::unsupported(method, id)),
        }
    }

    pub(super) fn require_manage(&self, caller: &Caller, waba: &str, what: &str) -> Result<(), GraphError> {
        if !caller.has_scope(MANAGEMENT) {
            return Err(GraphError::missing_scope(MANAGEMENT));
        }
        if !caller.can_manage(waba) {
            return Err(GraphError::cannot_manage(what));
        }
        Ok(())
    }
}
