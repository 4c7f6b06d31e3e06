//! `GET /api/v1/tenants` (served tenants and tenants with problems), `/api/v1/tenants/{code}`
//! and `/api/v1/tenants/{code}/{view}`: one view (summary, bottlenecks, workload, cycle_time,
//! trends) of one tenant at the current second, the rows a snapshot at this instant would write.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::json;

use super::export::{self, Format};
use super::{error, now_secs};
use crate::live::{LiveView, TenantKey};
use crate::model::clock::local_time;
use crate::model::View;

#[derive(Debug, Clone, Serialize)]
pub struct TenantInfo {
    pub code: String,
    /// The tenant's database; `None` for a tenant that is not served.
    pub database: Option<String>,
    pub loading: bool,
    pub rows: usize,
    pub problem: Option<String>,
}

pub fn tenant_list(live: &LiveView) -> Vec<TenantInfo> {
    let mut problems = live.status().report().tenant_problems;
    let mut out: Vec<TenantInfo> = live
        .iter()
        .map(|s| TenantInfo {
            code: s.code.clone(),
            database: Some(s.db.clone()),
            loading: s.is_loading(),
            rows: s.ready().map_or(0, |r| r.state.rows()),
            problem: None,
        })
        .collect();
    for t in &mut out {
        t.problem = problems.remove(&t.code);
    }
    out.extend(problems.into_iter().map(|(code, problem)| TenantInfo {
        code,
        database: None,
        loading: false,
        rows: 0,
        problem: Some(problem),
    }));
    out.sort_by(|a, b| a.code.cmp(&b.code));
    out
}

pub async fn tenants(State(live): State<LiveView>) -> Response {
    Json(tenant_list(&live)).into_response()
}

fn unknown_tenant(live: &LiveView, code: &str) -> Response {
    let mut known: Vec<String> = live.iter().map(|s| s.code.clone()).collect();
    known.sort();
    error(
        StatusCode::NOT_FOUND,
        format!(
            "unknown tenant '{code}': the served tenants are {}",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ),
    )
}

pub async fn tenant(State(live): State<LiveView>, Path(code): Path<String>) -> Response {
    let Some(key) = live.key_of(&code) else {
        return unknown_tenant(&live, &code);
    };
    let info = tenant_list(&live)
        .into_iter()
        .find(|t| t.database.as_deref().map(TenantKey::of_db).as_ref() == Some(&key));
    match info {
        Some(info) => Json(json!({
            "tenant": info,
            "views": View::ALL.map(View::short_name),
        }))
        .into_response(),
        None => unknown_tenant(&live, &code),
    }
}

pub async fn tenant_view(
    State(live): State<LiveView>,
    Path((code, view)): Path<(String, String)>,
    Query(format): Query<Format>,
) -> Response {
    let csv = match format.csv() {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let view: View = match view.parse() {
        Ok(v) => v,
        Err(_) => {
            return error(
                StatusCode::NOT_FOUND,
                format!(
                    "unknown view '{view}': use {}",
                    View::ALL.map(View::short_name).join(", ")
                ),
            )
        }
    };
    let Some(key) = live.key_of(&code) else {
        return unknown_tenant(&live, &code);
    };
    let at = local_time(now_secs(), live.timezone());
    // The entry is held while the view is computed, and released before anything else.
    let (code, mut snapshot, table) = {
        let Some(slot) = live.get(&key) else {
            return unknown_tenant(&live, &code);
        };
        let Some(ready) = slot.ready() else {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("tenant {} is still loading", slot.code),
            );
        };
        let snapshot = ready.state.view(at, &[view]);
        // CSV names the ids, from the dimensions held under the same entry.
        let table = csv.and_then(|c| {
            snapshot
                .get(view)
                .map(|r| (c, export::view(r, ready.state.dims())))
        });
        (slot.code.clone(), snapshot, table)
    };
    if let Some((csv, table)) = table {
        return export::response(&code, at, table, csv);
    }
    let rows = serde_json::to_value(snapshot.take(view));
    match rows {
        Ok(rows) => Json(json!({
            "tenant": code,
            "view": view.short_name(),
            "at": at.format("%Y-%m-%d %H:%M:%S").to_string(),
            "rows": rows,
        }))
        .into_response(),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot serialize the rows: {e}"),
        ),
    }
}
