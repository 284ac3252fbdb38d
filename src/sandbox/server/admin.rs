//! Owns the sandbox's admin routes under `/_sandbox/`: the request log, the state, the clock,
//! faults, patches to numbers and WABAs, and request holds, for tests and rehearsals. It must not
//! answer Graph paths nor decide Graph rules (patches are applied by `state/admin.rs`).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::Path as AxumPath;
use axum::extract::State as AxumState;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Inner, Shared};
use crate::sandbox::faults::{Faults, FaultsPatch};
use crate::sandbox::state::{NumberPatch, WabaPatch};

/// The routes under `/_sandbox/`.
pub(super) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sandbox/requests", get(admin_requests))
        .route("/_sandbox/state", get(admin_state))
        .route("/_sandbox/clock", get(admin_clock).post(admin_advance_clock))
        .route("/_sandbox/faults", get(admin_faults).post(admin_set_faults))
        .route("/_sandbox/numbers/{id}", post(admin_patch_number))
        .route("/_sandbox/wabas/{id}", post(admin_patch_waba))
        .route("/_sandbox/holds", get(admin_holds).post(admin_add_hold))
        .route("/_sandbox/holds/{id}/release", post(admin_release_hold))
}

pub(super) fn admin_json(status: StatusCode, value: Value) -> Response {
    let mut response = (status, value.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

pub(super) fn admin_error(message: String) -> Response {
    admin_json(StatusCode::BAD_REQUEST, json!({ "error": message }))
}

async fn admin_requests(AxumState(shared): AxumState<Arc<Shared>>) -> Response {
    let log = shared.lock().log.clone();
    admin_json(StatusCode::OK, json!(log))
}

async fn admin_state(AxumState(shared): AxumState<Arc<Shared>>) -> Response {
    let mut inner = shared.lock();
    let now = inner.now();
    let state = inner.state.inspect(now);
    admin_json(StatusCode::OK, state)
}

fn clock_json(inner: &Inner) -> Value {
    json!({
        "now": inner.now().to_string(),
        "offset_seconds": inner.clock_offset.as_secs(),
    })
}

async fn admin_clock(AxumState(shared): AxumState<Arc<Shared>>) -> Response {
    let inner = shared.lock();
    admin_json(StatusCode::OK, clock_json(&inner))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvanceClock {
    advance_seconds: u64,
}

async fn admin_advance_clock(AxumState(shared): AxumState<Arc<Shared>>, body: Bytes) -> Response {
    let request: AdvanceClock = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            return admin_error(format!("expected {{\"advance_seconds\": N}}: {error}"));
        }
    };
    let mut inner = shared.lock();
    inner.clock_offset = inner.clock_offset.saturating_add(Duration::from_secs(request.advance_seconds));
    admin_json(StatusCode::OK, clock_json(&inner))
}

fn faults_json(faults: &Faults) -> Value {
    json!({
        "latency_ms": faults.latency.as_millis() as u64,
        "answer_delay_ms": faults.answer_delay.as_millis() as u64,
        "error_rate": faults.error_rate,
        "drop_rate": faults.drop_rate,
        "throttle_burst": faults.throttle_burst,
        "seed": faults.seed,
        "drop_phase": faults.drop_phase,
        "refuse": faults.refuse,
    })
}

async fn admin_faults(AxumState(shared): AxumState<Arc<Shared>>) -> Response {
    let faults = shared.lock().faults.faults();
    admin_json(StatusCode::OK, faults_json(&faults))
}

async fn admin_set_faults(AxumState(shared): AxumState<Arc<Shared>>, body: Bytes) -> Response {
    let patch: FaultsPatch = match serde_json::from_slice(&body) {
        Ok(patch) => patch,
        Err(error) => return admin_error(format!("invalid faults: {error}")),
    };
    let mut inner = shared.lock();
    match patch.apply(inner.faults.faults()) {
        Ok(faults) => {
            inner.set_faults(faults.clone());
            admin_json(StatusCode::OK, faults_json(&faults))
        }
        Err(message) => admin_error(message),
    }
}

async fn admin_patch_number(
    AxumState(shared): AxumState<Arc<Shared>>,
    AxumPath(id): AxumPath<String>,
    body: Bytes,
) -> Response {
    let patch: NumberPatch = match serde_json::from_slice(&body) {
        Ok(patch) => patch,
        Err(error) => return admin_error(format!("invalid number change: {error}")),
    };
    let mut inner = shared.lock();
    let now = inner.now();
    match inner.state.patch_number(&id, &patch, now) {
        Ok(snapshot) => admin_json(StatusCode::OK, json!(snapshot)),
        Err(message) => admin_json(StatusCode::NOT_FOUND, json!({ "error": message })),
    }
}

async fn admin_patch_waba(
    AxumState(shared): AxumState<Arc<Shared>>,
    AxumPath(id): AxumPath<String>,
    body: Bytes,
) -> Response {
    let patch: WabaPatch = match serde_json::from_slice(&body) {
        Ok(patch) => patch,
        Err(error) => return admin_error(format!("invalid WABA change: {error}")),
    };
    match shared.lock().state.patch_waba(&id, &patch) {
        Ok(()) => admin_json(StatusCode::OK, json!({ "success": true })),
        Err(message) => admin_error(message),
    }
}

async fn admin_holds(AxumState(shared): AxumState<Arc<Shared>>) -> Response {
    admin_json(StatusCode::OK, json!(shared.lock().holds()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddHold {
    method: String,
    path: String,
}

async fn admin_add_hold(AxumState(shared): AxumState<Arc<Shared>>, body: Bytes) -> Response {
    let request: AddHold = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            return admin_error(format!(
                "expected {{\"method\": \"POST\", \"path\": \"/<node>/<edge>\"}}: {error}"
            ));
        }
    };
    if !request.path.starts_with('/') || request.method.trim().is_empty() {
        return admin_error("a hold needs a method and a path starting with /, without the version".into());
    }
    let id = shared.lock().add_hold(&request.method, &request.path);
    admin_json(StatusCode::OK, json!({ "id": id }))
}

async fn admin_release_hold(
    AxumState(shared): AxumState<Arc<Shared>>,
    AxumPath(id): AxumPath<u64>,
) -> Response {
    if shared.lock().release_hold(id) {
        admin_json(StatusCode::OK, json!({ "success": true }))
    } else {
        admin_json(StatusCode::NOT_FOUND, json!({ "error": format!("no hold {id}") }))
    }
}
