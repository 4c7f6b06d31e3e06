//! `--only tenants`: one instance serving many tenants of one server (default 1,000 tenants of
//! about 1,000 tokens each), the service running in this process against the bench server:
//!
//! - cold start: from `service::run` until every tenant is loaded, and until every tenant's
//!   first snapshot is written (that one waits for the first minute boundary after its load);
//! - per boundary: the applier's time to take every tenant's snapshot, and from the boundary
//!   until every tenant's snapshot is written;
//! - resident memory with every tenant loaded, and the fixed cost of one empty tenant;
//! - the applier's longest stall (by kind of input: transactions, snapshot boundaries,
//!   checkpoints, surveys, loads) and freshness p50/p99/max of probe transactions committed
//!   every 20 ms, with traffic of 1,000 transactions/s spread over every tenant, through
//!   checkpoints, surveys and at least one boundary;
//! - beside it, the cron job's minute: `refresh` of every tenant one after another, as the PHP
//!   script did.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use flowtally::config::Config;
use flowtally::live::status::Steps;
use flowtally::live::{LiveView, LiveWriter, TenantKey, TenantSlot};
use flowtally::model::View;
use flowtally::service;
use flowtally::shutdown;
use flowtally::tenants::Tenant;
use flowtally_testkit::simulate;
use sqlx::MySqlPool;

use crate::{fmt_bytes, fmt_secs, now_epoch, percentile, progress, rss_bytes, Server, Table};

const PROBE_EVERY: Duration = Duration::from_millis(20);
const PROBE_BASE: i64 = 1_950_000_000;

#[derive(Debug, Clone, Default)]
pub struct TenantsResult {
    pub tenants: usize,
    pub load_concurrency: usize,
    pub tokens_each: u64,
    pub setup_secs: f64,
    /// From the start of the service until every tenant is loaded (streaming).
    pub loaded_secs: f64,
    /// From the start of the service until every tenant's first snapshot is written.
    pub first_snapshots_secs: f64,
    /// Seconds after its boundary until every tenant's snapshot of it was written.
    pub boundary_written: Vec<(i64, f64)>,
    pub rss_loaded: u64,
    pub rss_before: u64,
    pub empty_tenant_bytes: f64,
    pub steps: BTreeMap<&'static str, Steps>,
    pub probes: usize,
    pub fresh_p50: f64,
    pub fresh_p99: f64,
    pub fresh_max: f64,
    pub traffic_tx: u64,
    pub traffic_secs: f64,
    pub checkpoints: u64,
    pub cron_minute_secs: f64,
}

/// The service's configuration for the bench server.
fn config(server: &Server, state: &std::path::Path) -> Result<Config> {
    let text = format!(
        "[source]\nurl = \"mysql://root@127.0.0.1:{}\"\nserver_id = 4242\nheartbeat_secs = 1\n\
         [state]\ndir = \"{}\"\ncheckpoint_secs = 10\n[http]\nlisten = \"127.0.0.1:0\"\n",
        server.port(),
        state.display()
    );
    Ok(Config::parse(&text, "bench", &Default::default())?)
}

pub async fn bench_tenants(
    pool: &MySqlPool,
    server: &Server,
    n: usize,
    opts: &crate::BenchOptions,
    traffic_secs: u64,
) -> Result<TenantsResult> {
    let tokens_each = opts.tokens_each;
    let mut r = TenantsResult {
        tenants: n,
        tokens_each,
        ..Default::default()
    };
    // Tenants, each with its history.
    let t = Instant::now();
    let mut dbs = Vec::with_capacity(n);
    for i in 0..n {
        let code = format!("M{i:04}");
        simulate::setup_tenant(pool, "bgerp", "bgerp_t_", &code).await?;
        let db = simulate::tenant_db("bgerp_t_", &code);
        simulate::bulk_history(
            pool,
            &db,
            tokens_each,
            30,
            1000 + i as u64,
            crate::TZ,
            now_epoch(),
        )
        .await?;
        let mut conn = pool.acquire().await?;
        flowtally::sink::migrate::migrate(&mut conn, &db).await?;
        dbs.push(db);
        if (i + 1) % 100 == 0 {
            progress(format!("tenants: {} of {n} set up", i + 1));
        }
    }
    r.setup_secs = t.elapsed().as_secs_f64();

    // The cron job's minute: every tenant refreshed, one after another.
    let t = Instant::now();
    let at = crate::local_now();
    for (i, db) in dbs.iter().enumerate() {
        let tenant = Tenant {
            code: format!("M{i:04}"),
            db: Some(db.clone()),
        };
        flowtally::refresh::refresh_tenant(pool, pool, &tenant, &View::ALL, at)
            .await
            .map_err(|e| anyhow!("refresh {db}: {e}"))?;
    }
    r.cron_minute_secs = t.elapsed().as_secs_f64();
    progress(format!(
        "tenants: the cron job's minute, {n} refreshes in a row: {}",
        fmt_secs(r.cron_minute_secs)
    ));

    // The service, cold.
    crate::sys::trim();
    r.rss_before = rss_bytes().unwrap_or(0);
    let state = server.root().join("state-tenants");
    let mut cfg = config(server, &state)?;
    if let Some(c) = opts.load_concurrency {
        cfg.load_concurrency = c;
    }
    r.load_concurrency = cfg.load_concurrency;
    let applier = LiveWriter::new(cfg.timezone);
    let live = applier.view();
    let (trigger, stop) = shutdown::channel();
    let started = Instant::now();
    let tasks = flowtally::service::tasks::Tasks::new(trigger.clone(), stop);
    let lock = flowtally::checkpoint::lock::lock(&cfg.state_dir)?;
    let run = tokio::spawn(service::run(cfg, lock, applier, tasks));
    loop {
        let loaded = live.iter().filter(|s| s.ready().is_some()).count();
        if loaded == n {
            break;
        }
        if run.is_finished() {
            return Err(anyhow!("the service stopped during start-up"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    r.loaded_secs = started.elapsed().as_secs_f64();
    progress(format!(
        "tenants: {n} loaded in {}",
        fmt_secs(r.loaded_secs)
    ));
    crate::sys::trim();
    r.rss_loaded = rss_bytes().unwrap_or(0);
    while live.status().report().writes.last_by_tenant.len() < n {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    r.first_snapshots_secs = started.elapsed().as_secs_f64();

    // Traffic over every tenant, probes into the first, until past a boundary, a checkpoint
    // and a survey.
    let stop_traffic = Arc::new(AtomicBool::new(false));
    let opts = simulate::SimOptions {
        seed: 5,
        tenants: dbs.clone(),
        transactions: None,
        rate_per_sec: Some(1_000.0),
        event_time: None,
        bad_rows: false,
        tz: crate::TZ,
        bottleneck: None,
    };
    let boundaries = tokio::spawn(watch_boundaries(live.clone(), n, stop_traffic.clone()));
    let (stats, latencies) = tokio::join!(
        simulate::run_until(pool, &opts, &stop_traffic),
        probe(pool, &live, &dbs[0], traffic_secs, &stop_traffic)
    );
    let stats = stats.map_err(|e| anyhow!("traffic: {e:#}"))?;
    let mut latencies = latencies?;
    r.traffic_tx = stats.transactions;
    r.traffic_secs = stats.elapsed.as_secs_f64();
    r.probes = latencies.len();
    latencies.sort_by(f64::total_cmp);
    r.fresh_p50 = percentile(&latencies, 0.50).unwrap_or(f64::NAN);
    r.fresh_p99 = percentile(&latencies, 0.99).unwrap_or(f64::NAN);
    r.fresh_max = latencies.last().copied().unwrap_or(f64::NAN);

    r.boundary_written = boundaries
        .await
        .map_err(|e| anyhow!("boundary watch: {e}"))?;
    r.steps = live.status().applier_steps();
    r.checkpoints = r.steps.get("checkpoint").map_or(0, |s| s.count);
    trigger.fire();
    run.await
        .map_err(|e| anyhow!("service task: {e}"))?
        .map_err(|e| anyhow!("service: {e}"))?;
    r.empty_tenant_bytes = empty_tenant_bytes();
    Ok(r)
}

/// Commits a probe transaction into `db` every 20 ms for `secs`, each time waiting until the
/// service has applied it (its token is in the tenant's state): the delays, in seconds. Then
/// stops the traffic.
async fn probe(
    pool: &MySqlPool,
    live: &LiveView,
    db: &str,
    secs: u64,
    stop: &AtomicBool,
) -> Result<Vec<f64>> {
    let result = async {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut latencies = Vec::new();
        let mut conn = pool.acquire().await?.detach();
        let key = TenantKey::of_db(db);
        let mut k = 0i64;
        while Instant::now() < deadline {
            let id = PROBE_BASE + k;
            let now = crate::local_now().format("'%Y-%m-%d %H:%M:%S'").to_string();
            let sql = format!(
                "INSERT INTO `{db}`.flow_token (id_token, id_instance, token_type, \
                 current_node_id, status, qty, spawned_at, completed_at) \
                 VALUES ({id}, 1, 'component', NULL, 'completed', 1, {now}, {now})"
            );
            let sent = Instant::now();
            sqlx::raw_sql(&sql)
                .execute(&mut conn)
                .await
                .context("probe")?;
            loop {
                let applied = live
                    .get(&key)
                    .and_then(|s| s.ready().map(|r| r.state.has_token(id)))
                    .unwrap_or(false);
                if applied {
                    latencies.push(sent.elapsed().as_secs_f64());
                    break;
                }
                if sent.elapsed() > Duration::from_secs(30) {
                    return Err(anyhow!("probe {k} not applied after 30 s"));
                }
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
            k += 1;
            tokio::time::sleep(PROBE_EVERY.saturating_sub(sent.elapsed())).await;
        }
        Ok(latencies)
    }
    .await;
    stop.store(true, Ordering::SeqCst);
    result
}

/// Every boundary crossed until `stop`: how long after it every tenant's snapshot of it was
/// written.
async fn watch_boundaries(live: LiveView, n: usize, stop: Arc<AtomicBool>) -> Vec<(i64, f64)> {
    let mut out = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let next = (now_epoch() / 60 + 1) * 60;
        let wait = next as f64 - chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
        tokio::time::sleep(Duration::from_secs_f64(wait.max(0.0))).await;
        loop {
            let written = live
                .status()
                .report()
                .writes
                .last_by_tenant
                .values()
                .filter(|t| **t >= next)
                .count();
            let after = chrono::Utc::now().timestamp_millis() as f64 / 1000.0 - next as f64;
            if written >= n {
                out.push((next, after));
                break;
            }
            if after > 120.0 {
                out.push((next, f64::NAN));
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    out
}

/// Resident bytes of one tenant with no rows, measured over 10,000 of them in a live map.
fn empty_tenant_bytes() -> f64 {
    const N: usize = 10_000;
    crate::sys::trim();
    let before = rss_bytes().unwrap_or(0);
    let live = LiveWriter::new(crate::TZ);
    for i in 0..N {
        let db = format!("bgerp_t_empty{i:05}");
        live.insert(
            TenantKey::of_db(&db),
            TenantSlot::loading(format!("EMPTY{i:05}"), db, 1, 0),
        );
    }
    let after = rss_bytes().unwrap_or(0);
    let per = after.saturating_sub(before) as f64 / N as f64;
    drop(live);
    per
}

impl TenantsResult {
    pub fn render(&self, out: &mut String) {
        out.push_str(&format!(
            "## Many tenants: {} tenants of {} tokens, one server\n\n",
            self.tenants, self.tokens_each
        ));
        let mut t = Table::new(&["measurement", "value", "target"]);
        let row = |t: &mut Table, a: &str, b: String, c: &str| {
            t.row(vec![a.to_string(), b, c.to_string()])
        };
        row(
            &mut t,
            "set-up of the tenants (bench only)",
            fmt_secs(self.setup_secs),
            "",
        );
        row(
            &mut t,
            &format!(
                "cold start: every tenant loaded ({} at a time)",
                self.load_concurrency
            ),
            fmt_secs(self.loaded_secs),
            "≤ 10 s",
        );
        row(
            &mut t,
            "cold start: every tenant's first snapshot written",
            format!(
                "{} (waits for the first boundary after the loads)",
                fmt_secs(self.first_snapshots_secs)
            ),
            "",
        );
        for (b, secs) in &self.boundary_written {
            let at = flowtally::model::clock::local_time(*b, crate::TZ);
            row(
                &mut t,
                &format!("boundary {at}: every tenant's snapshot written after"),
                fmt_secs(*secs),
                "≤ 5 s",
            );
        }
        if let Some(s) = self.steps.get("snapshots") {
            row(
                &mut t,
                "applier: one slice of due snapshots in idle time (max / mean)",
                format!(
                    "{} / {}",
                    fmt_secs(s.max_secs),
                    fmt_secs(s.total_secs / s.count.max(1) as f64)
                ),
                "",
            );
        }
        for (step, s) in &self.steps {
            row(
                &mut t,
                &format!(
                    "applier's longest stall on one {step} ({} of them)",
                    s.count
                ),
                fmt_secs(s.max_secs),
                if matches!(
                    *step,
                    "checkpoint" | "survey" | "load" | "boundary" | "snapshots"
                ) {
                    "≤ 10 ms"
                } else {
                    ""
                },
            );
        }
        row(
            &mut t,
            &format!(
                "freshness, {} probes at {:.0} tx/s over every tenant: p50 / p99 / max",
                self.probes,
                self.traffic_tx as f64 / self.traffic_secs.max(1e-9)
            ),
            format!(
                "{} / {} / {}",
                fmt_secs(self.fresh_p50),
                fmt_secs(self.fresh_p99),
                fmt_secs(self.fresh_max)
            ),
            "p99 ≤ 5 ms",
        );
        row(
            &mut t,
            "resident memory, every tenant loaded",
            format!(
                "{} ({} above the process before)",
                fmt_bytes(self.rss_loaded as f64),
                fmt_bytes(self.rss_loaded.saturating_sub(self.rss_before) as f64)
            ),
            "",
        );
        row(
            &mut t,
            "fixed cost of one empty tenant",
            fmt_bytes(self.empty_tenant_bytes),
            "",
        );
        row(
            &mut t,
            "the cron job's minute: refresh of every tenant, one after another",
            format!(
                "{}{}",
                fmt_secs(self.cron_minute_secs),
                if self.cron_minute_secs > 60.0 {
                    ": longer than the minute, so cron runs overlap"
                } else {
                    ""
                }
            ),
            "",
        );
        out.push_str(&t.render());
        out.push('\n');
    }
}
