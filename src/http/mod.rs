//! The HTTP surface of `flowtally run`: health, Prometheus metrics, and live JSON reads of the
//! in-memory tenant states.
//!
//! - `GET /healthz` ([`health`]): 200 while streaming and caught up, else 503 with a reason.
//! - `GET /metrics` ([`metrics`]): the Prometheus text exposition format.
//! - `GET /api/v1/tenants[/{code}[/{view}]]` ([`api`]): the tenants, and one view of one tenant
//!   at the current second, computed from its live state.
//!
//! Nothing here writes. A tenant's map entry is held only while one view (or its row counts) is
//! computed, never across an await, so readers delay the applier by at most that long.

pub mod api;
pub mod health;
pub mod metrics;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::live::Live;

/// Serves the API on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, live: Arc<Live>) -> std::io::Result<()> {
    axum::serve(listener, router(live)).await
}

pub fn router(live: Arc<Live>) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(metrics::metrics))
        .route("/api/v1/tenants", get(api::tenants))
        .route("/api/v1/tenants/{code}", get(api::tenant))
        .route("/api/v1/tenants/{code}/{view}", get(api::tenant_view))
        .fallback(not_found)
        .with_state(live)
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no such endpoint: use /healthz, /metrics, /api/v1/tenants or /api/v1/tenants/{code}/{view}",
    )
}
