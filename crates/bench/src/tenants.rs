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

use std::collections::{BTreeMap, HashSet};
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
use flowtally::sink::writer::{self, Sending, Window};
use flowtally::tenants::Tenant;
use flowtally_testkit::simulate;
use futures_util::{StreamExt, TryStreamExt};
use sqlx::MySqlPool;

use crate::{fmt_bytes, fmt_secs, now_epoch, percentile, progress, rss_bytes, Server, Table};

const PROBE_EVERY: Duration = Duration::from_millis(20);
const PROBE_BASE: i64 = 1_950_000_000;
/// Tenants set up at a time, on a pool of their own: each is mostly DDL, which waits on the
/// server's file system more than it uses a core.
const SETUP_CONCURRENCY: usize = 16;
/// Seconds after a boundary before its writes count as not done.
const WRITES_GIVE_UP: f64 = 600.0;

/// One boundary crossed under traffic.
#[derive(Debug, Clone)]
pub struct Boundary {
    pub instant: i64,
    /// Seconds after it until every tenant's snapshot of it was written (NaN: not within
    /// [`WRITES_GIVE_UP`]).
    pub written_after: f64,
    /// The applier's time on its marking and on due snapshots in idle slices meanwhile (the
    /// snapshots taken before a tenant's change count in that transaction's time).
    pub applier_secs: f64,
}

impl Boundary {
    /// The longest cadence whose boundary this is.
    fn cadence(&self) -> &'static str {
        match self.instant {
            i if i % 900 == 0 => "15-minute",
            i if i % 300 == 0 => "5-minute",
            _ => "1-minute",
        }
    }
}

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
    /// Every boundary crossed under traffic.
    pub boundaries: Vec<Boundary>,
    /// One `/metrics` scrape of the running service: bytes, seconds.
    pub scrape: (usize, f64),
    /// Every tenant's snapshot of the five views written, its statements in one round trip
    /// and one round trip each (seconds, alternating runs).
    pub round_trips: Vec<(Sending, f64)>,
    /// Where the writes' time went on the server (performance_schema, when it is on): per
    /// kind of statement on the mv_ tables, statements and seconds.
    pub server_time: Vec<(String, u64, f64)>,
    pub rss_loaded: u64,
    pub rss_before: u64,
    pub empty_tenant_bytes: f64,
    pub write_concurrency: usize,
    /// Surveys as the service's watcher makes them, seconds, a few times each: reading every
    /// tenant's tables, then reading none.
    pub survey_secs: Vec<Vec<f64>>,
    pub steps: BTreeMap<&'static str, Steps>,
    pub probes: Vec<Probe>,
    pub traffic_tx: u64,
    pub traffic_secs: f64,
    pub checkpoints: u64,
    pub cron_minute_secs: f64,
}

/// One probe transaction: when it was sent (epoch seconds) and how long until the service had
/// applied it (seconds).
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    pub sent_at: f64,
    pub secs: f64,
}

/// Freshness of some of the probes: how many, and p50 / p99 / max.
fn freshness(probes: &[&Probe]) -> (usize, String) {
    let secs: Vec<f64> = probes.iter().map(|p| p.secs).collect();
    let at = |q| fmt_secs(percentile(&secs, q).unwrap_or(f64::NAN));
    (
        probes.len(),
        format!("{} / {} / {}", at(0.5), at(0.99), at(1.0)),
    )
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
    let quick = opts.quick;
    let fifteen_minute_boundaries = opts.fifteen_minute_boundaries.max(1);
    let mut r = TenantsResult {
        tenants: n,
        tokens_each,
        ..Default::default()
    };
    // Tenants, each with its history, a few at a time (the bench's own set-up: 10,000 tenants
    // one after another took most of an hour).
    let t = Instant::now();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let now = now_epoch();
    let setup_pool = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(2 * SETUP_CONCURRENCY as u32)
        .acquire_timeout(Duration::from_secs(120))
        .connect_with(server.pool_options())
        .await
        .context("connecting for the set-up")?;
    let pool_for_setup = &setup_pool;
    let dbs: Vec<String> = futures_util::stream::iter(0..n)
        .map(|i| {
            let done = &done;
            let pool = pool_for_setup;
            async move {
                let code = format!("M{i:05}");
                simulate::setup_tenant(pool, "bgerp", "bgerp_t_", &code).await?;
                let db = simulate::tenant_db("bgerp_t_", &code);
                simulate::bulk_history(pool, &db, tokens_each, 30, 1000 + i as u64, crate::TZ, now)
                    .await?;
                let mut conn = pool.acquire().await?;
                flowtally::sink::migrate::migrate(&mut conn, &db).await?;
                let k = done.fetch_add(1, Ordering::Relaxed) + 1;
                if k.is_multiple_of(500) {
                    progress(format!("tenants: {k} of {n} set up"));
                }
                anyhow::Ok(db)
            }
        })
        .buffered(SETUP_CONCURRENCY)
        .try_collect()
        .await?;
    setup_pool.close().await;
    r.setup_secs = t.elapsed().as_secs_f64();

    // What one of the service's surveys costs at this many tenants (it runs every 10 s, or nine
    // times as long as it took): reading every tenant's tables (at start-up, and every minute),
    // and reading none (every tenant served and whole).
    let survey_cfg = config(server, &server.root().join("state-survey"))?;
    let all_whole: HashSet<String> = dbs.iter().map(|d| d.to_lowercase()).collect();
    for trusted in [HashSet::new(), all_whole] {
        let mut secs = Vec::new();
        for _ in 0..3 {
            let t = Instant::now();
            let surveyed = service::watcher::survey(&survey_cfg, pool, pool, &trusted)
                .await
                .map_err(|e| anyhow!("survey: {e}"))?;
            if let Some(t) = surveyed.tenants.iter().find(|t| t.problem.is_some()) {
                return Err(anyhow!("the survey found a problem: {t:?}"));
            }
            if surveyed.tenants.len() != n {
                return Err(anyhow!(
                    "the survey found {} of {n} tenants",
                    surveyed.tenants.len()
                ));
            }
            secs.push(t.elapsed().as_secs_f64());
        }
        r.survey_secs.push(secs);
    }

    // The service, cold (the server's statement times counted from here, where kept).
    let _ = sqlx::query("TRUNCATE TABLE performance_schema.events_statements_summary_by_digest")
        .execute(pool)
        .await;
    crate::sys::trim();
    r.rss_before = rss_bytes().unwrap_or(0);
    let state = server.root().join("state-tenants");
    let mut cfg = config(server, &state)?;
    if let Some(c) = opts.load_concurrency {
        cfg.load_concurrency = c;
    }
    if let Some(c) = opts.write_concurrency {
        cfg.write_concurrency = c;
    }
    r.load_concurrency = cfg.load_concurrency;
    r.write_concurrency = cfg.write_concurrency;
    let applier = LiveWriter::new(cfg.timezone);
    let live = applier.view();
    let (trigger, stop) = shutdown::channel();
    let started = Instant::now();
    let tasks = flowtally::service::tasks::Tasks::new(trigger.clone(), stop);
    let lock = flowtally::checkpoint::lock::lock(&cfg.state_dir)?;
    // On a thread of its own, as `flowtally run` runs it (on the main thread, its tasks on
    // the runtime's workers): the bench's traffic and probes never hold the applier up.
    let runtime = tokio::runtime::Handle::current();
    let run = std::thread::spawn(move || runtime.block_on(service::run(cfg, lock, applier, tasks)));
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
    while live.status().tenants_written_since(0) < n {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    r.first_snapshots_secs = started.elapsed().as_secs_f64();

    // Traffic over every tenant, probes into the first, for at least `traffic_secs` and (but
    // with --quick) until a 15-minute boundary is written, so that every cadence's boundary,
    // checkpoints and surveys happen under it.
    let stop_traffic = Arc::new(AtomicBool::new(false));
    let traffic = simulate::SimOptions {
        seed: 5,
        tenants: dbs.clone(),
        transactions: None,
        rate_per_sec: Some(1_000.0),
        event_time: None,
        bad_rows: false,
        tz: crate::TZ,
        bottleneck: None,
    };
    let until = Until {
        at_least: Duration::from_secs(traffic_secs),
        fifteen_minute: if quick { 0 } else { fifteen_minute_boundaries },
    };
    let boundaries = tokio::spawn(watch_boundaries(
        live.clone(),
        n,
        until,
        stop_traffic.clone(),
    ));
    // The probes wait on a thread of their own, in sleeps of the operating system's
    // precision: the runtime's timers tick in whole milliseconds, which would be most of a
    // fresh probe's figure.
    let probes = {
        let (pool, live, db, stop) = (
            pool.clone(),
            live.clone(),
            dbs[0].clone(),
            stop_traffic.clone(),
        );
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || runtime.block_on(probe(&pool, &live, &db, &stop)))
    };
    let stats = simulate::run_until(pool, &traffic, &stop_traffic).await;
    let probes = probes.await.map_err(|e| anyhow!("probes: {e}"))?;
    let stats = stats.map_err(|e| anyhow!("traffic: {e:#}"))?;
    r.probes = probes?;
    // When the slowest probes were sent, to tell them by what happened then.
    let mut slowest: Vec<&Probe> = r.probes.iter().collect();
    slowest.sort_by(|a, b| b.secs.total_cmp(&a.secs));
    for p in slowest.iter().take(20) {
        let at = chrono::DateTime::from_timestamp_micros((p.sent_at * 1e6) as i64)
            .map(|t| t.format("%H:%M:%S%.3f").to_string())
            .unwrap_or_default();
        progress(format!(
            "tenants: a slow probe sent at {at} UTC: {}",
            fmt_secs(p.secs)
        ));
    }
    r.traffic_tx = stats.transactions;
    r.traffic_secs = stats.elapsed.as_secs_f64();

    r.boundaries = boundaries
        .await
        .map_err(|e| anyhow!("boundary watch: {e}"))?;
    let t = Instant::now();
    let body = flowtally::http::metrics::render_metrics(
        flowtally::http::metrics::MetricsInput::gather(&live),
    );
    r.scrape = (body.len(), t.elapsed().as_secs_f64());
    r.server_time = server_time(pool).await;
    r.steps = live.status().applier_steps();
    r.checkpoints = r.steps.get("checkpoint").map_or(0, |s| s.count);
    trigger.fire();
    tokio::task::block_in_place(|| run.join())
        .map_err(|_| anyhow!("the service's thread panicked"))?
        .map_err(|e| anyhow!("service: {e}"))?;
    r.empty_tenant_bytes = empty_tenant_bytes();

    // After the service, so that its resident memory is its own.
    if !opts.service_only {
        r.cron_minute_secs = cron_minute(pool, &dbs).await?;
        progress(format!(
            "tenants: the cron job's minute, {n} refreshes in a row: {}",
            fmt_secs(r.cron_minute_secs)
        ));
        if !opts.no_round_trips {
            r.round_trips = round_trips(pool, &dbs).await?;
        }
    }
    Ok(r)
}

/// The cron job's minute: every tenant refreshed, one after another (seconds).
async fn cron_minute(pool: &MySqlPool, dbs: &[String]) -> Result<f64> {
    let t = Instant::now();
    let at = crate::local_now();
    for (i, db) in dbs.iter().enumerate() {
        let tenant = Tenant {
            code: format!("M{i:05}"),
            db: Some(db.clone()),
        };
        flowtally::refresh::refresh_tenant(pool, pool, &tenant, &View::ALL, at)
            .await
            .map_err(|e| anyhow!("refresh {db}: {e}"))?;
    }
    Ok(t.elapsed().as_secs_f64())
}

/// Writes every tenant's snapshot of the five views (a 15-minute boundary's, loaded as
/// `refresh` loads it) 8 tenants at a time, as the service does, with the statements of each
/// write sent in one round trip and one per statement: twice each, alternating, after a pass
/// that is not counted.
async fn round_trips(pool: &MySqlPool, dbs: &[String]) -> Result<Vec<(Sending, f64)>> {
    progress("tenants: one round trip per write against one per statement");
    let at = crate::local_now();
    let mut snaps = Vec::with_capacity(dbs.len());
    for db in dbs {
        let mut conn = pool.acquire().await?;
        let mut loaded = flowtally::source::snapshot::load_tenant(&mut conn, db, at.date())
            .await
            .map_err(|e| anyhow!("load {db}: {e}"))?;
        snaps.push((db.as_str(), loaded.state.snapshot(at, &View::ALL)));
    }
    let mut out = Vec::new();
    // The first pass (not counted) writes rows the others then replace, as at a boundary.
    let passes = [Sending::Together, Sending::OneByOne, Sending::Together];
    for (i, &sending) in passes.iter().chain(&passes[1..]).enumerate() {
        let t = Instant::now();
        futures_util::stream::iter(&snaps)
            .map(|(db, snap)| async move {
                let mut conn = pool.acquire().await?;
                writer::write_as(&mut conn, db, snap, None, sending, Window::Replace)
                    .await
                    .map_err(|e| anyhow!("write {db}: {e}"))
            })
            .buffer_unordered(8)
            .try_collect::<Vec<u64>>()
            .await?;
        if i > 0 {
            let secs = t.elapsed().as_secs_f64();
            progress(format!("tenants: writes {sending:?}: {}", fmt_secs(secs)));
            out.push((sending, secs));
        }
    }
    Ok(out)
}

/// The server's time in statements on the mv_ tables since it started, by kind (the first
/// words of the statement), from performance_schema's digests; empty when performance_schema
/// is off (MariaDB's default).
async fn server_time(pool: &MySqlPool) -> Vec<(String, u64, f64)> {
    let rows: Vec<(Option<String>, u64, u64)> = sqlx::query_as(
        "SELECT DIGEST_TEXT, CAST(COUNT_STAR AS UNSIGNED), CAST(SUM_TIMER_WAIT AS UNSIGNED) \
         FROM performance_schema.events_statements_summary_by_digest \
         WHERE DIGEST_TEXT LIKE '%mv\\_%' OR DIGEST_TEXT LIKE '%information\\_schema%'",
    )
    .fetch_all(pool)
    .await
    .unwrap_or_default();
    let mut by_kind: BTreeMap<String, (u64, f64)> = BTreeMap::new();
    for (text, count, picos) in rows {
        let text = text.unwrap_or_default();
        let kind = if text.contains("information_schema") {
            "the surveys' information_schema reads"
        } else if text.contains("LIMIT") {
            "DELETE past retention on the mv_ tables"
        } else if text.starts_with("DELETE") {
            "DELETE of the instant on the mv_ tables"
        } else if text.starts_with("INSERT") {
            "INSERT on the mv_ tables"
        } else {
            "other"
        };
        let e = by_kind.entry(kind.to_string()).or_default();
        e.0 += count;
        e.1 += picos as f64 / 1e12;
    }
    by_kind.into_iter().map(|(k, (n, s))| (k, n, s)).collect()
}

/// Commits a probe transaction into `db` every 20 ms until `stop`, each time waiting until the
/// service has applied it (its token is in the tenant's state). A failing probe stops the
/// traffic. Blocks its thread while it waits.
async fn probe(
    pool: &MySqlPool,
    live: &LiveView,
    db: &str,
    stop: &AtomicBool,
) -> Result<Vec<Probe>> {
    let result = async {
        let mut probes = Vec::new();
        let mut conn = pool.acquire().await?.detach();
        let key = TenantKey::of_db(db);
        let mut k = 0i64;
        while !stop.load(Ordering::SeqCst) {
            let id = PROBE_BASE + k;
            let now = crate::local_now().format("'%Y-%m-%d %H:%M:%S'").to_string();
            let sql = format!(
                "INSERT INTO `{db}`.flow_token (id_token, id_instance, token_type, \
                 current_node_id, status, qty, spawned_at, completed_at) \
                 VALUES ({id}, 1, 'component', NULL, 'completed', 1, {now}, {now})"
            );
            let sent = Instant::now();
            let sent_at = chrono::Utc::now().timestamp_micros() as f64 / 1e6;
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
                    probes.push(Probe {
                        sent_at,
                        secs: sent.elapsed().as_secs_f64(),
                    });
                    break;
                }
                // A stalled applier is a figure of the report, not a failure of the bench.
                if sent.elapsed() > Duration::from_secs(600) {
                    return Err(anyhow!("probe {k} not applied after 600 s"));
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            k += 1;
            std::thread::sleep(PROBE_EVERY.saturating_sub(sent.elapsed()));
        }
        Ok(probes)
    }
    .await;
    stop.store(true, Ordering::SeqCst);
    result
}

/// How long the traffic runs.
struct Until {
    at_least: Duration,
    /// Until this many 15-minute boundaries (each also a 5- and a 1-minute one) are written:
    /// the first after a cold start covers the whole trends window, a later one the days
    /// changed since.
    fifteen_minute: usize,
}

/// Every boundary crossed until the traffic is to stop (then sets `stop`): how long after it
/// every tenant's snapshot of it was written, and the applier's time on it meanwhile.
async fn watch_boundaries(
    live: LiveView,
    n: usize,
    until: Until,
    stop: Arc<AtomicBool>,
) -> Vec<Boundary> {
    let started = Instant::now();
    let boundary_work = |live: &LiveView| -> f64 {
        let steps = live.status().applier_steps();
        ["boundary", "snapshots"]
            .iter()
            .filter_map(|k| steps.get(k))
            .map(|s| s.total_secs)
            .sum()
    };
    let mut out: Vec<Boundary> = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let next = (now_epoch() / 60 + 1) * 60;
        let wait = next as f64 - chrono::Utc::now().timestamp_millis() as f64 / 1000.0;
        tokio::time::sleep(Duration::from_secs_f64(wait.max(0.0))).await;
        let work_before = boundary_work(&live);
        let written_after = loop {
            let written = live.status().tenants_written_since(next);
            let after = chrono::Utc::now().timestamp_millis() as f64 / 1000.0 - next as f64;
            if written >= n {
                break after;
            }
            if after > WRITES_GIVE_UP || stop.load(Ordering::SeqCst) {
                break f64::NAN;
            }
            // Not too often: the status lock is the applier's too.
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let b = Boundary {
            instant: next,
            written_after,
            applier_secs: boundary_work(&live) - work_before,
        };
        progress(format!(
            "tenants: {} boundary written after {} (applier {})",
            b.cadence(),
            fmt_secs(b.written_after),
            fmt_secs(b.applier_secs)
        ));
        out.push(b);
        let long_enough = started.elapsed() >= until.at_least;
        let cadences = out.iter().filter(|b| b.instant % 900 == 0).count() >= until.fifteen_minute;
        if long_enough && cadences {
            stop.store(true, Ordering::SeqCst);
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
            if self.tenants > 1_000 {
                "≤ 60 s"
            } else {
                "≤ 10 s"
            },
        );
        for (sending, secs) in &self.round_trips {
            row(
                &mut t,
                &format!(
                    "every tenant's snapshot of the five views written, 8 at a time, {}",
                    match sending {
                        Sending::Together => "each write's statements in one round trip",
                        Sending::OneByOne => "one round trip per statement",
                    }
                ),
                fmt_secs(*secs),
                "",
            );
        }
        row(
            &mut t,
            "cold start: every tenant's first snapshot written",
            format!(
                "{} (waits for the first boundary after the loads)",
                fmt_secs(self.first_snapshots_secs)
            ),
            "",
        );
        let writes_target = if self.tenants > 1_000 {
            "≤ 30 s"
        } else {
            "≤ 5 s"
        };
        for b in &self.boundaries {
            let at = flowtally::model::clock::local_time(b.instant, crate::TZ);
            row(
                &mut t,
                &format!(
                    "{} boundary {at}: every tenant's snapshot written ({} at a time) after / \
                     applier's time on it",
                    b.cadence(),
                    self.write_concurrency
                ),
                format!(
                    "{} / {}",
                    fmt_secs(b.written_after),
                    fmt_secs(b.applier_secs)
                ),
                writes_target,
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
                    "applier's longest stall on one {step} ({} of them) / most CPU one took",
                    s.count
                ),
                format!("{} / {}", fmt_secs(s.max_secs), fmt_secs(s.max_cpu_secs)),
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
        let rate = self.traffic_tx as f64 / self.traffic_secs.max(1e-9);
        let (n, all) = freshness(&self.probes.iter().collect::<Vec<_>>());
        row(
            &mut t,
            &format!("freshness, {n} probes at {rate:.0} tx/s over every tenant: p50 / p99 / max"),
            all,
            "p99 ≤ 5 ms, max ≤ 20 ms",
        );
        // A boundary whose writes did not finish counts as writing until the give-up.
        let writing = |p: &&Probe| {
            self.boundaries.iter().any(|b| {
                let end = if b.written_after.is_finite() {
                    b.written_after
                } else {
                    WRITES_GIVE_UP
                };
                (b.instant as f64..b.instant as f64 + end).contains(&p.sent_at)
            })
        };
        let (during, rest): (Vec<&Probe>, Vec<&Probe>) = self.probes.iter().partition(writing);
        for (when, probes) in [
            (
                "sent while a boundary's snapshots were being written",
                during,
            ),
            ("sent at other times", rest),
        ] {
            let (n, figures) = freshness(&probes);
            row(
                &mut t,
                &format!("freshness of the {n} probes {when}: p50 / p99 / max"),
                figures,
                "",
            );
        }
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
            "resident memory per tenant (above the process before, over the tenants)",
            fmt_bytes(
                self.rss_loaded.saturating_sub(self.rss_before) as f64 / self.tenants.max(1) as f64,
            ),
            "",
        );
        for (secs, what) in self.survey_secs.iter().zip([
            "every tenant's tables read (at start-up, then every minute)",
            "no tenant's tables read (each served and whole)",
        ]) {
            row(
                &mut t,
                &format!("one survey of every tenant, {what}, before the service"),
                secs.iter()
                    .map(|s| fmt_secs(*s))
                    .collect::<Vec<_>>()
                    .join(", "),
                "",
            );
        }
        row(
            &mut t,
            "one /metrics scrape of the running service: size / time",
            format!(
                "{} / {}",
                fmt_bytes(self.scrape.0 as f64),
                fmt_secs(self.scrape.1)
            ),
            "",
        );
        for (kind, n, secs) in &self.server_time {
            row(
                &mut t,
                &format!("server time in {kind} (statements; performance_schema)"),
                format!("{} ({n})", fmt_secs(*secs)),
                "",
            );
        }
        row(
            &mut t,
            "fixed cost of one empty tenant",
            fmt_bytes(self.empty_tenant_bytes),
            "",
        );
        if self.cron_minute_secs > 0.0 {
            row(
                &mut t,
                "the cron job's minute: refresh of every tenant, one after another",
                format!(
                    "{}{}",
                    fmt_secs(self.cron_minute_secs),
                    if self.cron_minute_secs > 60.0 {
                        format!(
                            ": {:.1} times the minute, so cron runs overlap",
                            self.cron_minute_secs / 60.0
                        )
                    } else {
                        String::new()
                    }
                ),
                "",
            );
        }
        out.push_str(&t.render());
        out.push('\n');
    }
}
