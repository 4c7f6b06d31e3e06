//! The floor's API, beside the views: one tenant's alerts, the tokens at one of its nodes, the
//! operators of one of its teams, and its WIP history, at the current second, from the live
//! state (no query on the ERP). Each answers JSON, or CSV with `?format=csv`.
//!
//! - `GET /api/v1/tenants/{code}/alerts`
//! - `GET /api/v1/tenants/{code}/nodes/{id}/tokens[?limit=N]` (oldest first, 500 by default)
//! - `GET /api/v1/tenants/{code}/teams/{id}/operators`
//! - `GET /api/v1/tenants/{code}/history`
//!
//! The guard in [`super`] has checked the credential and the tenant (as for every tenant route).
//! A tenant's entry is held while its figures are read, never across an await.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::export::{self, Format, Refused};
use super::{error, now_secs};
use crate::live::andon::{alerts_at, NoAlerts};
use crate::live::{LiveView, Ready};
use crate::model::clock::local_time;
use crate::model::floor::{team_operators, tokens_at};

/// Tokens listed at a node unless `?limit=` says otherwise, and the most it may say.
pub const TOKENS_PAGE: usize = 500;
pub const TOKENS_PAGE_MAX: usize = 5_000;

fn unknown(code: &str) -> Refused {
    Refused(StatusCode::NOT_FOUND, format!("unknown tenant '{code}'"))
}

fn loading(code: &str) -> Refused {
    Refused(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("tenant {code} is still loading"),
    )
}

/// Reads tenant `code`'s ready state with `read` (code as stored, the state); the errors a
/// reader gets otherwise.
pub fn with_ready<T>(
    live: &LiveView,
    code: &str,
    read: impl FnOnce(&str, &Ready) -> T,
) -> Result<T, Refused> {
    let key = live.key_of(code).ok_or_else(|| unknown(code))?;
    let slot = live.get(&key).ok_or_else(|| unknown(code))?;
    let ready = slot.ready().ok_or_else(|| loading(&slot.code))?;
    Ok(read(&slot.code, ready))
}

/// A numeric id from the path, or a 400 naming it.
fn id(what: &str, text: &str) -> Result<i64, Refused> {
    text.trim().parse().map_err(|_| {
        Refused(
            StatusCode::BAD_REQUEST,
            format!("{what} id '{text}' is not a number: use the id from the ERP (e.g. 12)"),
        )
    })
}

fn time(t: chrono::NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

pub async fn alerts(
    State(live): State<LiveView>,
    Path(code): Path<String>,
    Query(format): Query<Format>,
) -> Response {
    let csv = match format.csv() {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let Some(key) = live.key_of(&code) else {
        return unknown(&code).into_response();
    };
    let at = local_time(now_secs(), live.timezone());
    match alerts_at(&live, &key, at) {
        Ok((code, alerts)) => match csv {
            Some(csv) => export::response(&code, at, export::alerts(&alerts), csv),
            None => {
                let red = alerts
                    .iter()
                    .filter(|a| a.breach.level == crate::model::andon::Level::Red)
                    .count();
                Json(json!({
                    "tenant": code,
                    "at": time(at),
                    "timezone": live.timezone().name(),
                    "counts": { "red": red, "amber": alerts.len() - red },
                    "alerts": alerts,
                }))
                .into_response()
            }
        },
        Err(NoAlerts::Unknown) => unknown(&code).into_response(),
        Err(NoAlerts::Loading(code)) => loading(&code).into_response(),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct TokensQuery {
    format: Option<String>,
    lang: Option<String>,
    limit: Option<String>,
}

pub async fn node_tokens(
    State(live): State<LiveView>,
    Path((code, node)): Path<(String, String)>,
    Query(q): Query<TokensQuery>,
) -> Response {
    let csv = match (Format {
        format: q.format,
        lang: q.lang,
    })
    .csv()
    {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let node = match id("node", &node) {
        Ok(n) => n,
        Err(r) => return r.into_response(),
    };
    let limit = match q.limit.as_deref().map(str::parse::<usize>) {
        None => TOKENS_PAGE,
        Some(Ok(n)) if (1..=TOKENS_PAGE_MAX).contains(&n) => n,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("limit must be a number from 1 to {TOKENS_PAGE_MAX}"),
            )
        }
    };
    let at = local_time(now_secs(), live.timezone());
    let read = with_ready(&live, &code, |code, ready| {
        let dims = ready.state.dims();
        let known = dims.nodes.get(&node).cloned();
        let tokens = tokens_at(&ready.state, at, node, limit);
        let table = csv.map(|c| (c, export::node_tokens(&tokens, dims)));
        let graph = known
            .as_ref()
            .and_then(|n| n.graph)
            .and_then(|g| dims.graphs.get(&g))
            .and_then(|g| g.name.clone());
        (code.to_string(), known, graph, tokens, table)
    });
    let (code, known, graph, tokens, table) = match read {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    if known.is_none() && tokens.total == 0 {
        return error(
            StatusCode::NOT_FOUND,
            format!("tenant {code} has no node {node} in routing_node"),
        );
    }
    if let Some((csv, table)) = table {
        return export::response(&code, at, table, csv);
    }
    Json(json!({
        "tenant": code,
        "at": time(at),
        "node": {
            "id": node,
            "code": known.as_ref().and_then(|n| n.code.clone()),
            "name": known.as_ref().and_then(|n| n.name.clone()),
            "graph_id": known.as_ref().and_then(|n| n.graph),
            "graph_name": graph,
            "wip_limit": known.as_ref().and_then(|n| n.limit()),
        },
        "total": tokens.total,
        "queued": tokens.queued,
        "in_work": tokens.in_work,
        "shown": tokens.tokens.len(),
        "more": tokens.total - tokens.tokens.len(),
        "tokens": tokens.tokens,
    }))
    .into_response()
}

pub async fn team_ops(
    State(live): State<LiveView>,
    Path((code, team)): Path<(String, String)>,
    Query(format): Query<Format>,
) -> Response {
    let csv = match format.csv() {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let team = match id("team", &team) {
        Ok(n) => n,
        Err(r) => return r.into_response(),
    };
    let at = local_time(now_secs(), live.timezone());
    let read = with_ready(&live, &code, |code, ready| {
        let known = ready.state.dims().teams.get(&team).cloned();
        (code.to_string(), known, team_operators(&ready.state, team))
    });
    let (code, known, ops) = match read {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    let Some(known) = known else {
        return error(
            StatusCode::NOT_FOUND,
            format!("tenant {code} has no team {team}"),
        );
    };
    if let Some(csv) = csv {
        return export::response(&code, at, export::team_operators(&ops), csv);
    }
    Json(json!({
        "tenant": code,
        "at": time(at),
        "team": {
            "id": team,
            "name": known.name,
            "category": known.team_category,
            "active": known.active,
            "capacity": ops.capacity,
        },
        "operators": ops.operators,
    }))
    .into_response()
}

pub async fn history(
    State(live): State<LiveView>,
    Path(code): Path<String>,
    Query(format): Query<Format>,
) -> Response {
    let csv = match format.csv() {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let tz = live.timezone();
    let at = local_time(now_secs(), tz);
    let read = with_ready(&live, &code, |code, ready| {
        (
            code.to_string(),
            ready.history.iter().copied().collect::<Vec<_>>(),
        )
    });
    let (code, points) = match read {
        Ok(r) => r,
        Err(r) => return r.into_response(),
    };
    if let Some(csv) = csv {
        return export::response(&code, at, export::history(&points, tz), csv);
    }
    let points: Vec<_> = points
        .iter()
        .map(|p| json!({ "minute": time(local_time(p.at, tz)), "wip": p.wip, "queued": p.queued }))
        .collect();
    Json(json!({ "tenant": code, "at": time(at), "history": points })).into_response()
}
