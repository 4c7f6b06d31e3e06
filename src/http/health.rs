//! `GET /healthz`: 200 `{"status":"ok",...}` while streaming and caught up; otherwise 503
//! `{"status":"unavailable","reason":...,"detail":...}` with reason `connecting`,
//! `recomputing`, `reconnecting`, `sink_failing` or `lagging`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::now_secs;
use crate::live::status::{Phase, Report, CAUGHT_UP_SECS};
use crate::live::LiveView;

/// Why the service is not healthy: a reason label and a human detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unhealthy {
    pub reason: &'static str,
    pub detail: String,
}

/// Healthy means streaming and caught up within [`CAUGHT_UP_SECS`], with a sink that takes the
/// snapshots.
pub fn health(r: &Report, now: i64) -> Result<(), Unhealthy> {
    let unhealthy = |reason, detail: String| Err(Unhealthy { reason, detail });
    match r.phase {
        Phase::Connecting => unhealthy(
            "connecting",
            "connecting to the source server and reading the tenants".into(),
        ),
        Phase::Recomputing => unhealthy(
            "recomputing",
            format!(
                "full recompute from the source tables: {} rows loaded so far",
                r.rows_loaded
            ),
        ),
        Phase::Reconnecting => unhealthy(
            "reconnecting",
            format!(
                "binlog stream lost, reconnecting: {}",
                r.reason.as_deref().unwrap_or("unknown reason")
            ),
        ),
        Phase::Streaming if !r.writes.failing.is_empty() => unhealthy(
            "sink_failing",
            format!(
                "snapshot writes of {} tenant(s) fail and are retried: {}",
                r.writes.failing.len(),
                r.writes
                    .failing
                    .iter()
                    .map(|(t, (n, e))| format!("{t} ({n} attempt(s)): {e}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        ),
        Phase::Streaming if !r.caught_up(now) => unhealthy(
            "lagging",
            match r.last_commit {
                Some(c) => format!(
                    "the last commit applied is {} s old and the server has not said it is idle \
                     within {CAUGHT_UP_SECS} s",
                    now - c
                ),
                None => {
                    format!("no commit and no heartbeat from the server within {CAUGHT_UP_SECS} s")
                }
            },
        ),
        Phase::Streaming => Ok(()),
    }
}

pub async fn healthz(State(live): State<LiveView>) -> Response {
    let now = now_secs();
    let r = live.status().report();
    match health(&r, now) {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({
                "status": "ok",
                "phase": r.phase,
                "instance": r.instance,
                "role": r.role,
                "term": r.term,
                "lag_seconds": r.lag_secs(now),
                "position": r.position.as_ref().map(|p| p.to_string()),
                "last_commit": r.last_commit,
                "last_idle": r.last_idle,
                "tenants": live.len(),
            })),
        )
            .into_response(),
        Err(u) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "unavailable",
                "reason": u.reason,
                "detail": u.detail,
                "phase": r.phase,
                "instance": r.instance,
                "role": r.role,
                "term": r.term,
                "lag_seconds": r.lag_secs(now),
            })),
        )
            .into_response(),
    }
}

/// `GET /livez`: 200 while the process and its tasks run (a task that fails stops the service,
/// so an answer is proof enough; a long recompute is alive).
pub async fn livez(State(live): State<LiveView>) -> Response {
    let r = live.status().report();
    Json(json!({
        "status": "alive",
        "phase": r.phase,
        "instance": r.instance,
        "role": r.role,
    }))
    .into_response()
}

/// Ready means serving current figures: streaming and caught up within [`CAUGHT_UP_SECS`], and
/// no served tenant still loading. Unlike [`health`], a failing sink does not make an instance
/// unready: its figures are current, and readers may still be sent to it.
pub fn readiness(r: &Report, loading: usize, now: i64) -> Result<(), Unhealthy> {
    match health(r, now) {
        Err(u) if u.reason != "sink_failing" => Err(u),
        _ if loading > 0 => Err(Unhealthy {
            reason: "loading",
            detail: format!("{loading} tenant(s) still loading from their source tables"),
        }),
        _ => Ok(()),
    }
}

/// `GET /readyz`: 200 when [`readiness`] holds, else 503 with the reason.
pub async fn readyz(State(live): State<LiveView>) -> Response {
    let now = now_secs();
    let r = live.status().report();
    let loading = live.iter().filter(|t| t.is_loading()).count();
    let (status, body) = match readiness(&r, loading, now) {
        Ok(()) => (StatusCode::OK, json!({"status": "ready"})),
        Err(u) => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"status": "unavailable", "reason": u.reason, "detail": u.detail}),
        ),
    };
    let mut body = body;
    body["instance"] = json!(r.instance);
    body["role"] = json!(r.role);
    (status, Json(body)).into_response()
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::status::Status;

    #[test]
    fn health_reasons() {
        let now = chrono::Utc::now().timestamp();
        let status = Status::default();
        let reason = |s: &Status| health(&s.report(), now).err().map(|u| u.reason);
        assert_eq!(reason(&status), Some("connecting"));
        status.recompute("no_checkpoint");
        assert_eq!(reason(&status), Some("recomputing"));
        status.streaming();
        assert_eq!(reason(&status), Some("lagging"), "nothing heard yet");
        status.idle();
        assert_eq!(reason(&status), None);
        status.write_failed("A", "lost connection", true);
        let u = health(&status.report(), now).unwrap_err();
        assert_eq!(u.reason, "sink_failing");
        assert!(u.detail.contains("lost connection"));
        status.snapshot_written("A", None, &[], 0, 0.01);
        assert_eq!(reason(&status), None);
        status.reconnecting("read timeout");
        assert_eq!(reason(&status), Some("reconnecting"));
        status.idle();
        assert_eq!(reason(&status), None);
        assert_eq!(
            health(&status.report(), now + CAUGHT_UP_SECS + 1)
                .unwrap_err()
                .reason,
            "lagging"
        );
    }
}
