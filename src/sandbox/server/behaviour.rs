//! Owns the admin routes that switch Graph behaviours at run time: `/_sandbox/options` (read lag
//! and the other `options:` of the world file that say how Graph behaves beyond its
//! documentation) and `/_sandbox/tokens/{name}` (fields refused to a token). Kept apart from `admin.rs` so either grows without the other. It must not
//! decide any rule (`state/behaviour.rs` applies the changes).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::Path as AxumPath;
use axum::extract::State as AxumState;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::json;

use super::Shared;
use super::admin::{admin_error, admin_json};
use crate::sandbox::state::{OptionsPatch, TokenPatch};

pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sandbox/options", get(options).post(set_options))
        .route("/_sandbox/tokens/{name}", post(patch_token))
}

async fn options(AxumState(shared): AxumState<Arc<Shared>>) -> Response {
    let behaviour = shared.lock().state.behaviour();
    admin_json(StatusCode::OK, json!(behaviour))
}

async fn set_options(AxumState(shared): AxumState<Arc<Shared>>, body: Bytes) -> Response {
    let patch: OptionsPatch = match serde_json::from_slice(&body) {
        Ok(patch) => patch,
        Err(error) => return admin_error(format!("invalid options: {error}")),
    };
    match shared.lock().state.patch_options(&patch) {
        Ok(behaviour) => admin_json(StatusCode::OK, json!(behaviour)),
        Err(message) => admin_error(message),
    }
}

async fn patch_token(
    AxumState(shared): AxumState<Arc<Shared>>,
    AxumPath(name): AxumPath<String>,
    body: Bytes,
) -> Response {
    let patch: TokenPatch = match serde_json::from_slice(&body) {
        Ok(patch) => patch,
        Err(error) => return admin_error(format!("invalid token change: {error}")),
    };
    match shared.lock().state.patch_token(&name, &patch) {
        Ok(token) => admin_json(StatusCode::OK, json!(token)),
        Err(message) => admin_error(message),
    }
}
