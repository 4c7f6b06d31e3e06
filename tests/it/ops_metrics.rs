//! What operators get from `/metrics` and `deploy/`, without a database server: `/metrics` of an
//! in-memory live state (tenants ready, loading, failing, with a problem, late), served by the
//! real router and checked by `promtool check metrics`; every `expr` of the Grafana dashboard
//! parsed by `promtool check rules`; every alert of the shipped rules covered, firing and not,
//! by their `promtool test rules` file. promtool is Debian's `prometheus` package
//! (`scripts/ensure-promtool.sh`, which CI runs): without it on PATH the promtool parts are
//! skipped with a printed reason.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use flowtally::live::{History, LiveWriter, Ready, Role, Stage, TenantKey, TenantSlot};
use flowtally::model::clock::Instant;
use flowtally::model::views::Cadence;
use flowtally::model::TenantState;
use serde_yaml::Value;

use crate::common::process::http_get;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Whether promtool can run here; says why not when it cannot.
fn promtool() -> bool {
    match Command::new("promtool").arg("--version").output() {
        Ok(o) if o.status.success() => true,
        _ => {
            println!("skipped: promtool is not on PATH (scripts/ensure-promtool.sh installs it)");
            false
        }
    }
}

/// Runs promtool with `args`, `stdin` piped in; panics with its output unless it succeeds.
fn run_promtool(args: &[&str], stdin: &str) -> String {
    let mut child = Command::new("promtool")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool starts");
    child
        .stdin
        .take()
        .expect("stdin piped")
        .write_all(stdin.as_bytes())
        .expect("writing to promtool");
    let out = child.wait_with_output().expect("promtool runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

fn ready(now: i64) -> Stage {
    Stage::Ready(Ready {
        state: TenantState::default(),
        loaded_at: None,
        first_instant: Instant(now - 3600),
        base: None,
        history: History::new(),
    })
}

/// Five tenants: OK (snapshot a minute old), LATE (an hour old), FAIL (writes retried), LOAD
/// (loading), and GONE with a problem and no slot; this instance leads under term 3.
fn live_state(now: i64) -> LiveWriter {
    let live = LiveWriter::new(chrono_tz::UTC);
    let status = live.status();
    status.instance("host-a");
    status.role(Role::Leader, Some(3));
    status.recompute("no_checkpoint");
    status.streaming();
    status.idle();
    status.checkpointed(4096);
    for (code, age) in [("OK", 60), ("LATE", 3600), ("FAIL", 60)] {
        status.snapshot_written(code, Some(now - age), &Cadence::ALL, 5, 0.03);
        live.insert(
            TenantKey::of_db(&format!("erp_{code}")),
            TenantSlot {
                code: code.into(),
                db: format!("erp_{code}"),
                stage: ready(now),
            },
        );
    }
    status.write_failed("FAIL", "Lock wait timeout exceeded", true);
    status.write_failed("FAIL", "Lock wait timeout exceeded", true);
    live.insert(
        TenantKey::of_db("erp_LOAD"),
        TenantSlot::loading("LOAD".into(), "erp_LOAD".into(), 1, now),
    );
    status.tenant_problem("GONE", "no database on the server");
    // A checkpoint that waited 40 ms for a core while working 1.5 ms, then a shorter one.
    status.applier_step("checkpoint", 0.04, Some(0.0015));
    status.applier_step("checkpoint", 0.002, Some(0.001));
    live
}

#[tokio::test]
async fn metrics_exposition_passes_promtool() {
    let now = chrono::Utc::now().timestamp();
    let live = live_state(now);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let port = listener.local_addr().expect("bound").port();
    let server = tokio::spawn(flowtally::http::serve(listener, live.view()));
    let r = tokio::task::spawn_blocking(move || http_get(port, "/metrics"))
        .await
        .expect("http task");
    server.abort();
    assert_eq!(r.status, 200, "{}", r.body);
    for expected in [
        "flowtally_ha_role{role=\"leader\"} 1",
        "flowtally_ha_term 3",
        "flowtally_tenants{state=\"ready\"} 2",
        "flowtally_tenants{state=\"failing\"} 1",
        "flowtally_tenants{state=\"loading\"} 1",
        "flowtally_tenants{state=\"problem\"} 1",
        "flowtally_tenants_snapshot_late 1",
        "flowtally_tenant_write_failing_attempts{tenant=\"FAIL\"} 2",
        "flowtally_tenant_problem{tenant=\"GONE\"} 1",
        "flowtally_tenant_series_dropped 0",
        "flowtally_applier_step_max_seconds{step=\"checkpoint\"} 0.04",
        "flowtally_applier_step_cpu_max_seconds{step=\"checkpoint\"} 0.0015",
        "flowtally_applier_step_seconds_total{step=\"checkpoint\"} 0.042",
    ] {
        assert!(
            r.body.lines().any(|l| l == expected),
            "{expected} not in\n{}",
            r.body
        );
    }
    assert!(r
        .body
        .contains("flowtally_tenant_snapshot_age_seconds{tenant=\"LATE\"}"));
    if !promtool() {
        return;
    }
    let out = run_promtool(&["check", "metrics"], &r.body);
    println!("promtool check metrics: ok {out}");
}

/// Every `expr` anywhere under `v`.
fn exprs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("expr", serde_json::Value::String(e)) => out.push(e.clone()),
                    _ => exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

#[test]
fn dashboard_queries_parse() {
    let path = repo("deploy/grafana/flowtally.json");
    let board: serde_json::Value =
        serde_json::from_str(&read(&path)).expect("deploy/grafana/flowtally.json is JSON");
    let mut all = Vec::new();
    exprs(&board, &mut all);
    assert!(all.len() > 20, "{} queries", all.len());
    // Every query reads flowtally's metrics (or up/process_*), by names /metrics has.
    let text = read(&repo("src/http/metrics.rs"));
    for e in &all {
        for name in e
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("flowtally_") || w.starts_with("process_"))
        {
            let family = ["_total", "_bucket", "_count", "_sum"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .unwrap_or(name);
            assert!(
                text.contains(&format!("\"{family}\"")),
                "{name} in {e:?} is not a metric of src/http/metrics.rs"
            );
        }
    }
    if !promtool() {
        return;
    }
    // Grafana's variables are not PromQL: replaced by what they stand for.
    let rules: Vec<String> = all
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let e = e
                .replace("$__rate_interval", "5m")
                .replace("$__interval", "1m")
                .replace("$instance", ".*");
            format!(
                "      - record: dashboard:query_{i}\n        expr: {}\n",
                serde_json::to_string(&e).expect("a string")
            )
        })
        .collect();
    let file = tempfile::Builder::new()
        .suffix(".yml")
        .tempfile()
        .expect("temp file");
    std::fs::write(
        file.path(),
        format!(
            "groups:\n  - name: dashboard\n    rules:\n{}",
            rules.concat()
        ),
    )
    .expect("writing the rules");
    let path = file.path().to_string_lossy().to_string();
    let out = run_promtool(&["check", "rules", &path], "");
    assert!(out.contains(&format!("{} rules found", all.len())), "{out}");
}

fn yaml(path: &str) -> Value {
    serde_yaml::from_str(&read(&repo(path))).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn every_alert_is_tested_firing_and_not() {
    let rules = yaml("deploy/prometheus/flowtally-alerts.yml");
    let alerts: BTreeSet<String> = rules["groups"]
        .as_sequence()
        .expect("groups")
        .iter()
        .flat_map(|g| g["rules"].as_sequence().cloned().unwrap_or_default())
        .filter_map(|r| r["alert"].as_str().map(str::to_string))
        .collect();
    assert!(alerts.len() >= 10, "{alerts:?}");
    let tests = yaml("deploy/prometheus/flowtally-alerts.test.yml");
    // Per alert: (checked not firing, checked firing).
    let mut seen: BTreeMap<String, (bool, bool)> = BTreeMap::new();
    for t in tests["tests"].as_sequence().expect("tests") {
        for a in t["alert_rule_test"]
            .as_sequence()
            .cloned()
            .unwrap_or_default()
        {
            let name = a["alertname"].as_str().expect("alertname").to_string();
            let firing = a["exp_alerts"].as_sequence().is_some_and(|s| !s.is_empty());
            let e = seen.entry(name).or_default();
            if firing {
                e.1 = true;
            } else {
                e.0 = true;
            }
        }
    }
    for alert in &alerts {
        assert_eq!(
            seen.get(alert),
            Some(&(true, true)),
            "{alert}: needs a test where it fires and one where it does not"
        );
    }
    let unknown: Vec<_> = seen.keys().filter(|a| !alerts.contains(*a)).collect();
    assert!(unknown.is_empty(), "tests of no alert: {unknown:?}");
}
