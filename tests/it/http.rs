//! The HTTP surface of `flowtally run` end to end: the real binary against a private server
//! (MariaDB or MySQL), simulated traffic, then `/healthz`, `/metrics` and the live JSON API
//! checked against the source tables.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use flowtally_testkit::simulate::{self, EventTime, SimOptions};
use serde_json::Value;
use sqlx::Row;

use crate::common::process::{http_get, Flowtally, Response};
use crate::common::{self, Flavor};

on_all!(http_serves_health_metrics_and_live_views);

const TZ: chrono_tz::Tz = chrono_tz::Asia::Bangkok;

/// Every metric family `/metrics` must expose.
const FAMILIES: &[&str] = &[
    "flowtally_binlog_transactions_total",
    "flowtally_changes_applied_total",
    "flowtally_binlog_lag_seconds",
    "flowtally_last_snapshot_timestamp_seconds",
    "flowtally_snapshot_write_duration_seconds",
    "flowtally_snapshot_rows_written_total",
    "flowtally_snapshot_write_failures_total",
    "flowtally_binlog_reconnects_total",
    "flowtally_recomputes_total",
    "flowtally_bad_rows",
    "flowtally_checkpoint_age_seconds",
    "flowtally_checkpoint_bytes",
    "flowtally_cached_rows",
    "process_resident_memory_bytes",
    "flowtally_tenants",
];

async fn get(port: u16, path: &str) -> Response {
    let path = path.to_string();
    tokio::task::spawn_blocking(move || http_get(port, &path))
        .await
        .expect("http task")
}

/// One sample line of the text exposition format.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses `name{k="v",...} value`; `None` if the line is not exactly that.
fn parse_sample(line: &str) -> Option<Sample> {
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(line.len());
    let name = &line[..name_end];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices();
        let mut key = String::new();
        loop {
            let (i, c) = chars.next()?;
            match c {
                '}' if key.is_empty() => {
                    rest = &inner[i + 1..];
                    break;
                }
                ',' if key.is_empty() => {}
                '=' => {
                    if chars.next()?.1 != '"' {
                        return None;
                    }
                    let mut value = String::new();
                    loop {
                        match chars.next()?.1 {
                            '"' => break,
                            '\\' => match chars.next()?.1 {
                                'n' => value.push('\n'),
                                '\\' => value.push('\\'),
                                '"' => value.push('"'),
                                _ => return None,
                            },
                            c => value.push(c),
                        }
                    }
                    labels.insert(std::mem::take(&mut key), value);
                }
                c if c.is_ascii_alphanumeric() || c == '_' => key.push(c),
                _ => return None,
            }
        }
    }
    let value = rest.strip_prefix(' ')?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v.parse().ok()?,
    };
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// The samples of a `/metrics` body, asserting that every line is a comment or a sample and that
/// every family of [`FAMILIES`] is declared.
fn parse_metrics(body: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    let mut declared = Vec::new();
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            declared.push(rest.split(' ').next().unwrap_or_default().to_string());
        } else if line.starts_with('#') {
            continue;
        } else {
            let sample =
                parse_sample(line).unwrap_or_else(|| panic!("bad metrics line {line:?}\n{body}"));
            samples.push(sample);
        }
    }
    for family in FAMILIES {
        assert!(
            declared.iter().any(|d| d == family),
            "family {family} not declared:\n{body}"
        );
    }
    samples
}

/// Changes applied, every tenant's (the server of this test has one).
fn changes_applied(samples: &[Sample]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == "flowtally_changes_applied_total")
        .map(|s| s.value)
        .sum()
}

fn swap_case(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_uppercase() {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect()
}

fn wip_sum(body: &Value) -> i64 {
    body["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["wip_count"].as_i64().expect("wip_count"))
        .sum()
}

async fn http_serves_health_metrics_and_live_views(flavor: Flavor) {
    // Private: an idle server (lag 0, heartbeats) whose binlog no other test's event time
    // moves (the first snapshot is the next minute boundary, not before now).
    let server = common::start_server(flavor, &[]);
    let pool = server.pool().await;
    let code = common::unique_code("Ht");
    let db = common::tenant_db(&code);
    common::process::seeded_tenant(&pool, &code, 5).await;
    let history = chrono::Utc::now().timestamp() - 2 * 86_400;
    let stats = simulate::run(
        &pool,
        &SimOptions {
            seed: 21,
            tenants: vec![db.clone()],
            transactions: Some(300),
            event_time: Some(EventTime {
                start_epoch: history,
                step_secs: 240,
            }),
            tz: TZ,
            ..SimOptions::default()
        },
    )
    .await
    .expect("history");

    let mut ft = Flowtally::start(server.port, &[&code]);
    let port = ft.http_port();
    ft.wait_started();

    // Healthy once streaming on an idle server (heartbeat every second).
    let deadline = Instant::now() + Duration::from_secs(30);
    let health = loop {
        let r = get(port, "/healthz").await;
        if r.status == 200 {
            break r;
        }
        assert_eq!(r.status, 503, "{}", r.body);
        assert!(
            Instant::now() < deadline,
            "/healthz not 200 after 30 s: {}\n{}",
            r.body,
            ft.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let health = health.json();
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["phase"], "streaming", "{health}");

    // Metrics: well-formed, every family, the tenant's state.
    let m = get(port, "/metrics").await;
    assert_eq!(m.status, 200);
    assert!(
        m.content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("text/plain")),
        "{:?}",
        m.content_type
    );
    let samples = parse_metrics(&m.body);
    let value = |name: &str, label: Option<(&str, &str)>| {
        samples
            .iter()
            .find(|s| {
                s.name == name
                    && label.is_none_or(|(k, v)| s.labels.get(k).map(String::as_str) == Some(v))
            })
            .map(|s| s.value)
            .unwrap_or_else(|| panic!("no sample {name} {label:?}:\n{}", m.body))
    };
    assert_eq!(value("flowtally_tenants", Some(("state", "ready"))), 1.0);
    assert_eq!(value("flowtally_tenants", Some(("state", "loading"))), 0.0);
    assert!(value("flowtally_cached_rows", None) > 0.0);
    assert_eq!(
        value(
            "flowtally_recomputes_total",
            Some(("reason", "no_checkpoint"))
        ),
        1.0
    );
    assert!(value("flowtally_checkpoint_bytes", None) > 0.0);
    assert!(value("process_resident_memory_bytes", None) > 0.0);
    assert_eq!(
        value("flowtally_binlog_lag_seconds", None),
        0.0,
        "idle server"
    );
    assert_eq!(
        value(
            "flowtally_snapshot_write_duration_seconds_bucket",
            Some(("le", "+Inf"))
        ),
        value("flowtally_snapshot_write_duration_seconds_count", None)
    );
    assert_eq!(
        value("flowtally_bad_rows", Some(("reason", "invalid_status"))),
        0.0,
        "simulated without bad rows"
    );
    let applied_before = changes_applied(&samples);
    let tx_before = value("flowtally_binlog_transactions_total", None);

    // Live traffic, dated after the history (and before now: no snapshot instant is passed).
    let live = simulate::run(
        &pool,
        &SimOptions {
            seed: 22,
            tenants: vec![db.clone()],
            transactions: Some(200),
            event_time: Some(EventTime {
                start_epoch: stats.last_epoch + 60,
                step_secs: 1,
            }),
            tz: TZ,
            ..SimOptions::default()
        },
    )
    .await
    .expect("traffic");
    assert!(live.transactions > 0);

    // The applied-changes counter grows with the traffic.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let samples = parse_metrics(&get(port, "/metrics").await.body);
        let applied = changes_applied(&samples);
        let tx = samples
            .iter()
            .find(|s| s.name == "flowtally_binlog_transactions_total")
            .map_or(0.0, |s| s.value);
        if applied > applied_before && tx >= tx_before + live.transactions as f64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "changes applied {applied_before} -> {applied}, transactions {tx_before} -> {tx} \
             after {} transactions:\n{}",
            live.transactions,
            ft.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The tenant list.
    let list = get(port, "/api/v1/tenants").await;
    assert_eq!(list.status, 200);
    let list = list.json();
    let entry = list
        .as_array()
        .expect("a list")
        .iter()
        .find(|t| t["code"] == code.as_str())
        .unwrap_or_else(|| panic!("{code} not listed: {list}"));
    assert_eq!(entry["database"], db.as_str(), "{entry}");
    assert_eq!(entry["loading"], false, "{entry}");
    assert!(entry["rows"].as_u64().unwrap_or(0) > 0, "{entry}");
    assert!(entry["problem"].is_null(), "{entry}");

    // The live summary, by the code in another case, agrees with the source tables.
    let expected_wip: i64 = sqlx::query(&format!(
        "SELECT COUNT(*) FROM `{db}`.flow_token WHERE status IN ('ready','active','waiting','paused') \
         AND current_node_id IN (SELECT id_node FROM `{db}`.routing_node)"
    ))
    .fetch_one(&pool)
    .await
    .expect("wip count")
    .get(0);
    assert!(expected_wip > 0, "the simulation left no work in progress");
    let other_case = swap_case(&code);
    assert_ne!(other_case, code);
    let summary_path = format!("/api/v1/tenants/{other_case}/summary");
    let deadline = Instant::now() + Duration::from_secs(30);
    let summary = loop {
        let r = get(port, &summary_path).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let body = r.json();
        if wip_sum(&body) == expected_wip {
            break body;
        }
        assert!(
            Instant::now() < deadline,
            "summary wip {} != {expected_wip} from SQL:\n{body}",
            wip_sum(&body)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(summary["tenant"], code.as_str());
    let at = summary["at"].as_str().expect("at");
    chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M:%S")
        .unwrap_or_else(|e| panic!("at {at:?}: {e}"));
    let now_local = flowtally::model::clock::local_time(chrono::Utc::now().timestamp(), TZ);
    let at = chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M:%S").unwrap();
    assert!(
        (now_local - at).num_seconds().abs() <= 5,
        "at {at} is the current local time {now_local}"
    );

    for view in ["bottlenecks", "workload", "cycle_time", "trends"] {
        let r = get(port, &format!("/api/v1/tenants/{code}/{view}")).await;
        assert_eq!(r.status, 200, "{view}: {}", r.body);
        let body = r.json();
        assert_eq!(body["tenant"], code.as_str(), "{view}");
        let rows = body["rows"]
            .as_array()
            .unwrap_or_else(|| panic!("{view}: rows {body}"));
        assert!(!rows.is_empty(), "{view}: no rows: {body}");
        assert!(rows.iter().all(Value::is_object), "{view}: {body}");
    }
    let cycle = get(port, &format!("/api/v1/tenants/{code}/cycle_time"))
        .await
        .json();
    assert!(
        cycle["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .any(|r| r["avg_minutes"].is_f64()),
        "decimals are JSON numbers: {cycle}"
    );

    // Unknown view and unknown tenant.
    let r = get(port, &format!("/api/v1/tenants/{code}/nonsense")).await;
    assert_eq!(r.status, 404, "{}", r.body);
    let err = r.json()["error"].as_str().unwrap_or_default().to_string();
    assert!(
        err.contains("nonsense") && err.contains("summary") && err.contains("trends"),
        "{err}"
    );
    let r = get(port, "/api/v1/tenants/NoSuchTenant/summary").await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.json()["error"]
        .as_str()
        .is_some_and(|e| e.contains("NoSuchTenant")));

    // The first snapshot (the next minute boundary, released by a heartbeat) is reported.
    let deadline = Instant::now() + Duration::from_secs(90);
    let samples = loop {
        let samples = parse_metrics(&get(port, "/metrics").await.body);
        let written = samples.iter().any(|s| {
            s.name == "flowtally_last_snapshot_timestamp_seconds"
                && s.labels.get("cadence").map(String::as_str) == Some("1m")
                && s.value > 0.0
        });
        if written {
            break samples;
        }
        assert!(
            Instant::now() < deadline,
            "no snapshot reported after 90 s:\n{}",
            ft.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let find = |name: &str, label: Option<(&str, &str)>| {
        samples
            .iter()
            .find(|s| {
                s.name == name
                    && label.is_none_or(|(k, v)| s.labels.get(k).map(String::as_str) == Some(v))
            })
            .map(|s| s.value)
    };
    let last = find(
        "flowtally_last_snapshot_timestamp_seconds",
        Some(("cadence", "1m")),
    )
    .unwrap_or_default();
    assert_eq!(last % 60.0, 0.0, "a minute boundary: {last}");
    assert!(last <= chrono::Utc::now().timestamp() as f64);
    assert!(find("flowtally_snapshot_rows_written_total", None).unwrap_or(0.0) > 0.0);
    assert!(find("flowtally_snapshot_write_duration_seconds_count", None).unwrap_or(0.0) >= 1.0);
    assert_eq!(
        find("flowtally_snapshot_write_failures_total", None),
        Some(0.0)
    );
    assert!(
        ft.log()
            .lines()
            .any(|l| l.contains("snapshot written") && l.contains(code.as_str())),
        "one info line per snapshot per tenant:\n{}",
        ft.log()
    );

    let (status, log) = ft.stop();
    assert!(status.success(), "exit {status}:\n{log}");
}
