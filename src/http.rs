//! The read-only HTTP surface of `flowtally run` (SPEC §5 `[http]`): health, Prometheus
//! metrics, and live JSON reads of the in-memory tenant states.
//!
//! - `GET /healthz`: 200 `{"status":"ok",...}` while streaming and caught up; otherwise 503
//!   `{"status":"unavailable","reason":...,"detail":...}` with reason `connecting`,
//!   `recomputing`, `reconnecting`, `sink_failing` or `lagging`.
//! - `GET /metrics`: the Prometheus text exposition format, rendered by hand ([`render_metrics`]).
//! - `GET /api/v1/tenants`: served tenants and tenants with problems.
//! - `GET /api/v1/tenants/{code}/{view}`: one view (summary, bottlenecks, workload, cycle_time,
//!   trends) of one tenant at the current second, computed from its live state.
//!
//! Nothing here writes. A tenant's map entry is held only while one view (or its row counts) is
//! computed, never across an await, so readers delay the applier by at most that long.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::json;

use crate::live::Live;
use crate::model::clock::local_time;
use crate::model::row::LeftOut;
use crate::model::views::Cadence;
use crate::model::{Table, View};
use crate::status::{Phase, Report, CAUGHT_UP_SECS};

/// Serves the API on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, live: Arc<Live>) -> std::io::Result<()> {
    axum::serve(listener, router(live)).await
}

pub fn router(live: Arc<Live>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/v1/tenants", get(tenants))
        .route("/api/v1/tenants/{code}", get(tenant))
        .route("/api/v1/tenants/{code}/{view}", get(tenant_view))
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

// ---------------------------------------------------------------------------------------------
// /healthz

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

async fn healthz(State(live): State<Arc<Live>>) -> Response {
    let now = now_secs();
    let r = live.status.report();
    match health(&r, now) {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({
                "status": "ok",
                "phase": r.phase,
                "lag_seconds": r.lag_secs(now),
                "position": r.position.as_ref().map(|p| p.to_string()),
                "last_commit": r.last_commit,
                "last_idle": r.last_idle,
                "tenants": live.tenants.len(),
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
                "lag_seconds": r.lag_secs(now),
            })),
        )
            .into_response(),
    }
}

// ---------------------------------------------------------------------------------------------
// /metrics

/// One served tenant, as the metrics see it.
#[derive(Debug, Clone, Default)]
pub struct TenantMetrics {
    pub code: String,
    pub loading: bool,
    pub rows: usize,
    pub left_out: BTreeMap<LeftOut, i64>,
}

/// Everything `/metrics` renders, gathered at one instant.
#[derive(Debug, Clone)]
pub struct MetricsInput {
    pub now: i64,
    pub report: Report,
    pub transactions: u64,
    pub changes: Vec<(String, Table, u64)>,
    pub tenants: Vec<TenantMetrics>,
    pub resident_bytes: u64,
}

impl MetricsInput {
    pub fn gather(live: &Live) -> Self {
        let mut tenants: Vec<TenantMetrics> = live
            .tenants
            .iter()
            .map(|s| TenantMetrics {
                code: s.code.clone(),
                loading: s.is_loading(),
                rows: s.ready().map_or(0, |r| r.state.rows()),
                left_out: s.ready().map(|r| r.state.left_out()).unwrap_or_default(),
            })
            .collect();
        tenants.sort_by(|a, b| a.code.cmp(&b.code));
        MetricsInput {
            now: now_secs(),
            report: live.status.report(),
            transactions: live.status.transactions(),
            changes: live.status.changes(),
            tenants,
            resident_bytes: resident_memory_bytes(),
        }
    }
}

/// Resident set size from /proc/self/statm (pages of 4096 bytes); 0 where unavailable.
pub fn resident_memory_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// A label value escaped per the exposition format: `\`, `"` and newline.
pub fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A sample value: Go-style `+Inf`, `-Inf`, `NaN`, else Rust's shortest round-trip form.
fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        v.to_string()
    }
}

/// A text exposition being written: families (HELP and TYPE) followed by their samples.
struct Exposition(String);

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"{}\"", escape_label(v));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {}", format_value(value));
    }
}

/// The Prometheus text exposition of `m`.
pub fn render_metrics(m: &MetricsInput) -> String {
    let r = &m.report;
    let mut e = Exposition(String::with_capacity(4096));

    e.family(
        "flowtally_binlog_transactions_total",
        "counter",
        "Binlog transactions applied since start.",
    );
    e.sample(
        "flowtally_binlog_transactions_total",
        &[],
        m.transactions as f64,
    );

    e.family(
        "flowtally_changes_applied_total",
        "counter",
        "Source row changes applied to the in-memory state, by tenant and source table.",
    );
    for (tenant, table, n) in &m.changes {
        e.sample(
            "flowtally_changes_applied_total",
            &[("tenant", tenant), ("table", table.name())],
            *n as f64,
        );
    }

    e.family(
        "flowtally_lag_seconds",
        "gauge",
        "Now minus the commit time of the last transaction applied; 0 while the server is idle and caught up.",
    );
    e.sample("flowtally_lag_seconds", &[], r.lag_secs(m.now) as f64);

    e.family(
        "flowtally_last_snapshot_timestamp_seconds",
        "gauge",
        "Unix time of the latest snapshot instant written, by cadence (0: none yet).",
    );
    for cadence in Cadence::ALL {
        let at = r.writes.last_snapshot.get(&cadence).copied().unwrap_or(0);
        e.sample(
            "flowtally_last_snapshot_timestamp_seconds",
            &[("cadence", cadence.label())],
            at as f64,
        );
    }

    let h = &r.writes.duration;
    e.family(
        "flowtally_snapshot_write_duration_seconds",
        "histogram",
        "Duration of one tenant's snapshot write transaction.",
    );
    for (le, n) in h.cumulative() {
        e.sample(
            "flowtally_snapshot_write_duration_seconds_bucket",
            &[("le", &format_value(le))],
            n as f64,
        );
    }
    e.sample("flowtally_snapshot_write_duration_seconds_sum", &[], h.sum);
    e.sample(
        "flowtally_snapshot_write_duration_seconds_count",
        &[],
        h.count() as f64,
    );

    e.family(
        "flowtally_snapshot_rows_written_total",
        "counter",
        "mv_ rows written in snapshots, by tenant.",
    );
    for (tenant, n) in &r.writes.rows_by_tenant {
        e.sample(
            "flowtally_snapshot_rows_written_total",
            &[("tenant", tenant)],
            *n as f64,
        );
    }

    e.family(
        "flowtally_snapshot_write_failures_total",
        "counter",
        "Snapshot write attempts that failed (retried or dropped).",
    );
    e.sample(
        "flowtally_snapshot_write_failures_total",
        &[],
        r.writes.failures as f64,
    );

    e.family(
        "flowtally_reconnects_total",
        "counter",
        "Times the binlog stream was lost and reconnected.",
    );
    e.sample("flowtally_reconnects_total", &[], r.reconnects as f64);

    e.family(
        "flowtally_recomputes_total",
        "counter",
        "Full recomputes from the source tables, by reason.",
    );
    for (reason, n) in &r.recomputes {
        e.sample(
            "flowtally_recomputes_total",
            &[("reason", reason)],
            *n as f64,
        );
    }

    e.family(
        "flowtally_bad_rows",
        "gauge",
        "Source rows held now that are left out of some metric, by tenant and reason.",
    );
    for t in m.tenants.iter().filter(|t| !t.loading) {
        for reason in LeftOut::ALL {
            let n = t.left_out.get(&reason).copied().unwrap_or(0);
            e.sample(
                "flowtally_bad_rows",
                &[("tenant", &t.code), ("reason", reason.label())],
                n as f64,
            );
        }
    }

    e.family(
        "flowtally_checkpoint_age_seconds",
        "gauge",
        "Seconds since the last checkpoint was written.",
    );
    if let Some(at) = r.checkpoint_at {
        e.sample(
            "flowtally_checkpoint_age_seconds",
            &[],
            (m.now - at).max(0) as f64,
        );
    }

    e.family(
        "flowtally_checkpoint_bytes",
        "gauge",
        "Size of the last checkpoint written.",
    );
    e.sample("flowtally_checkpoint_bytes", &[], r.checkpoint_bytes as f64);

    e.family(
        "flowtally_cached_rows",
        "gauge",
        "Source rows held in memory, by tenant.",
    );
    for t in &m.tenants {
        e.sample(
            "flowtally_cached_rows",
            &[("tenant", &t.code)],
            t.rows as f64,
        );
    }

    e.family(
        "flowtally_resident_memory_bytes",
        "gauge",
        "Resident memory of the process.",
    );
    e.sample(
        "flowtally_resident_memory_bytes",
        &[],
        m.resident_bytes as f64,
    );

    let loading = m.tenants.iter().filter(|t| t.loading).count();
    e.family(
        "flowtally_tenants",
        "gauge",
        "Tenants by state: served (snapshotted), loading, or with a problem.",
    );
    for (state, n) in [
        ("served", m.tenants.len() - loading),
        ("loading", loading),
        ("problem", r.tenant_problems.len()),
    ] {
        e.sample("flowtally_tenants", &[("state", state)], n as f64);
    }

    e.0
}

async fn metrics(State(live): State<Arc<Live>>) -> Response {
    let body = render_metrics(&MetricsInput::gather(&live));
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

// ---------------------------------------------------------------------------------------------
// /api/v1/tenants

#[derive(Debug, Clone, Serialize)]
pub struct TenantInfo {
    pub code: String,
    /// The tenant's database; `None` for a tenant that is not served.
    pub database: Option<String>,
    pub loading: bool,
    pub rows: usize,
    pub problem: Option<String>,
}

fn tenant_list(live: &Live) -> Vec<TenantInfo> {
    let mut problems = live.status.report().tenant_problems;
    let mut out: Vec<TenantInfo> = live
        .tenants
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

async fn tenants(State(live): State<Arc<Live>>) -> Response {
    Json(tenant_list(&live)).into_response()
}

fn unknown_tenant(live: &Live, code: &str) -> Response {
    let mut known: Vec<String> = live.tenants.iter().map(|s| s.code.clone()).collect();
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

async fn tenant(State(live): State<Arc<Live>>, Path(code): Path<String>) -> Response {
    let Some(key) = live.key_of(&code) else {
        return unknown_tenant(&live, &code);
    };
    let info = tenant_list(&live)
        .into_iter()
        .find(|t| t.database.as_deref().map(str::to_lowercase).as_deref() == Some(&key));
    match info {
        Some(info) => Json(json!({
            "tenant": info,
            "views": View::ALL.map(View::short_name),
        }))
        .into_response(),
        None => unknown_tenant(&live, &code),
    }
}

async fn tenant_view(
    State(live): State<Arc<Live>>,
    Path((code, view)): Path<(String, String)>,
) -> Response {
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
    let at = local_time(now_secs(), live.timezone);
    // The entry is held while the view is computed, and released before anything else.
    let (code, mut snapshot) = {
        let Some(slot) = live.tenants.get(&key) else {
            return unknown_tenant(&live, &code);
        };
        let Some(ready) = slot.ready() else {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("tenant {} is still loading", slot.code),
            );
        };
        (slot.code.clone(), ready.state.view(at, &[view]))
    };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::Status;

    fn input() -> MetricsInput {
        let status = Status::default();
        status.recompute("no_checkpoint");
        status.streaming();
        status.transaction_applied();
        status.change_applied("Acme\"\\\n", Table::Token);
        status.change_applied("Acme\"\\\n", Table::Token);
        status.change_applied("B", Table::Member);
        status.snapshot_written("B", Some(900), &Cadence::ALL, 12, 0.02);
        status.snapshot_written("B", Some(960), &[Cadence::OneMinute], 3, 2.0);
        status.write_failed("A", "lost connection", true);
        status.checkpointed(1234);
        status.tenant_problem("C", "no database on the server");
        let mut left_out = BTreeMap::new();
        left_out.insert(LeftOut::NodeMissing, 4);
        let report = status.report();
        MetricsInput {
            now: report.checkpoint_at.expect("checkpointed"),
            report,
            transactions: status.transactions(),
            changes: status.changes(),
            tenants: vec![
                TenantMetrics {
                    code: "B".into(),
                    loading: false,
                    rows: 42,
                    left_out,
                },
                TenantMetrics {
                    code: "D".into(),
                    loading: true,
                    rows: 0,
                    left_out: BTreeMap::new(),
                },
            ],
            resident_bytes: 8192,
        }
    }

    /// `name{labels} value` split into its parts; panics on anything else.
    fn parse_sample(line: &str) -> (String, String, f64) {
        let (series, value) = line.rsplit_once(' ').expect("name and value");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("value in {line:?}"));
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => {
                assert!(l.ends_with('}'), "labels closed in {line:?}");
                (n.to_string(), l[..l.len() - 1].to_string())
            }
            None => (series.to_string(), String::new()),
        };
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "metric name {name:?}"
        );
        (name, labels, value)
    }

    #[test]
    fn exposition_is_well_formed_and_complete() {
        let text = render_metrics(&input());
        let mut typed: Vec<String> = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert!(["counter", "gauge", "histogram"].contains(&kind));
                typed.push(name.to_string());
            } else if !line.starts_with("# HELP ") {
                let (name, _, _) = parse_sample(line);
                let family = typed.last().expect("a TYPE line before any sample");
                assert!(name.starts_with(family.as_str()), "{name} under {family}");
            }
        }
        for family in [
            "flowtally_binlog_transactions_total",
            "flowtally_changes_applied_total",
            "flowtally_lag_seconds",
            "flowtally_last_snapshot_timestamp_seconds",
            "flowtally_snapshot_write_duration_seconds",
            "flowtally_snapshot_rows_written_total",
            "flowtally_snapshot_write_failures_total",
            "flowtally_reconnects_total",
            "flowtally_recomputes_total",
            "flowtally_bad_rows",
            "flowtally_checkpoint_age_seconds",
            "flowtally_checkpoint_bytes",
            "flowtally_cached_rows",
            "flowtally_resident_memory_bytes",
            "flowtally_tenants",
        ] {
            assert!(typed.iter().any(|t| t == family), "{family} missing");
        }
        assert_eq!(typed.len(), 15, "each family once");
        for expected in [
            "flowtally_binlog_transactions_total 1",
            "flowtally_changes_applied_total{tenant=\"Acme\\\"\\\\\\n\",table=\"flow_token\"} 2",
            "flowtally_changes_applied_total{tenant=\"B\",table=\"team_member\"} 1",
            "flowtally_last_snapshot_timestamp_seconds{cadence=\"1m\"} 960",
            "flowtally_last_snapshot_timestamp_seconds{cadence=\"15m\"} 900",
            "flowtally_snapshot_write_duration_seconds_bucket{le=\"0.025\"} 1",
            "flowtally_snapshot_write_duration_seconds_bucket{le=\"1\"} 1",
            "flowtally_snapshot_write_duration_seconds_bucket{le=\"2.5\"} 2",
            "flowtally_snapshot_write_duration_seconds_bucket{le=\"+Inf\"} 2",
            "flowtally_snapshot_write_duration_seconds_sum 2.02",
            "flowtally_snapshot_write_duration_seconds_count 2",
            "flowtally_snapshot_rows_written_total{tenant=\"B\"} 15",
            "flowtally_snapshot_write_failures_total 1",
            "flowtally_reconnects_total 0",
            "flowtally_recomputes_total{reason=\"no_checkpoint\"} 1",
            "flowtally_bad_rows{tenant=\"B\",reason=\"node_missing\"} 4",
            "flowtally_bad_rows{tenant=\"B\",reason=\"null_id\"} 0",
            "flowtally_checkpoint_age_seconds 0",
            "flowtally_checkpoint_bytes 1234",
            "flowtally_cached_rows{tenant=\"B\"} 42",
            "flowtally_cached_rows{tenant=\"D\"} 0",
            "flowtally_resident_memory_bytes 8192",
            "flowtally_tenants{state=\"served\"} 1",
            "flowtally_tenants{state=\"loading\"} 1",
            "flowtally_tenants{state=\"problem\"} 1",
        ] {
            assert!(
                text.lines().any(|l| l == expected),
                "{expected:?} not in\n{text}"
            );
        }
        assert!(
            !text.contains("flowtally_bad_rows{tenant=\"D\""),
            "no bad rows for a loading tenant"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(escape_label("plain"), "plain");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(0.25), "0.25");
        assert_eq!(format_value(3.0), "3");
    }

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
