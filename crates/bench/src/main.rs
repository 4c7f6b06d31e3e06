//! `flowtally-bench [--quick] [--server mariadb|mysql]`: measures flowtally side by side with what
//! it replaces (the cron job that recomputed every dashboard table with SQL each minute), on a
//! throwaway server that the command starts and kills itself ([`flowtally_testkit::Server`]:
//! MariaDB by default, MySQL 9.7 with `--server mysql`). One command runs everything; it prints
//! numbers and never fails on a timing. The results and their reading are in
//! `docs/benchmarks.md`.
//!
//! The server runs with the test flags (binlog on, ROW format, FULL row image and metadata,
//! utf8mb4) plus `--innodb-buffer-pool-size=2G --innodb-flush-log-at-trx-commit=0
//! --sync-binlog=0` for speed: the datasets fit in memory and commits do not wait for the disk,
//! so the figures measure flowtally and the SQL, not this machine's fsync.
//! With the many-tenants part, [`ServerSizing`] also sizes its table caches, buffer pool and
//! redo log for the tenants, as docs/operations.md advises an operator to.
//!
//! What it measures (each figure is min / median / max over several runs: 3 for the 1M-token
//! dataset and the 1M-row backlog, 5 for smaller ones):
//!
//! 1. **Refresh cost as history grows**, for datasets of 10k, 100k and 1M tokens made by
//!    [`simulate::bulk_history`] (about 5% live, the rest completed over 60 days, with
//!    assignments): (a) the cron job's work, one full recompute of the tenant through the
//!    `refresh` path ([`refresh::refresh_tenant`]: consistent-snapshot load, the five views,
//!    the write); (b) [`verify::expected`] for the five views at one instant, the SQL closest to
//!    the PHP cron's; (c) one incremental snapshot of the five views from the in-memory state
//!    ([`TenantState::snapshot`], after one untimed call, as in the running service where each
//!    minute's snapshot follows the previous one), and, separately, writing it
//!    ([`writer::write`]). The ratios (a)/(c) and (b)/(c) say how much cheaper a minute is.
//! 2. **Catch-up rate**: a backlog of row events on flow_token and token_assignment (multi-row
//!    INSERTs, UPDATEs moving tokens between nodes and assignments through their statuses, then
//!    DELETEs; 100 rows per transaction) in a binlog file of its own, read by [`BinlogStream`]
//!    from its first to its last position and applied to a [`TenantState`], in rows/s; the same
//!    stream without applying (decoding only); and the server's own dumper (`mariadb-binlog` or
//!    `mysqlbinlog`) with `--verbose FILES > /dev/null` on the same files, timed as a process.
//! 3. **Freshness**: [`simulate::run`] drives a tenant at 1,000 transactions/s while the bench
//!    runs a [`BinlogStream`] reader applying every transaction to a [`TenantState`], as the
//!    service does. A probe task commits one marked transaction every 20 ms on its own connection
//!    (an INSERT of a flow_token row whose id encodes the probe number, autocommit) and records
//!    `Instant::now()` just before sending it and just after the server acknowledged the COMMIT;
//!    the reader records `Instant::now()` once the transaction holding that row is applied. Both
//!    clocks are the same monotonic clock of one process, so the difference is exact: the delay
//!    from COMMIT to "applied in memory" of a transaction that queued behind the simulator's
//!    traffic in the same binlog. Reported as p50 / p99 from the COMMIT being sent (an upper
//!    bound: it includes the commit itself) and from its acknowledgement.
//! 4. **Start-up**, on the largest dataset: cold full recompute ([`load_tenant`]); the checkpoint
//!    of that state (a fresh part: base frame and manifest, time and size); warm resume
//!    ([`Manifest::load`] + [`Manifest::restore`]).
//! 5. **Memory**: resident bytes per cached source row (RSS from `/proc/self/statm` before and
//!    after a load, divided by [`TenantState::rows`]; glibc's free memory is first returned to
//!    the system with `malloc_trim` so the baseline is honest), and the peak RSS during the cold
//!    recompute (a thread samples `/proc/self/statm` every 10 ms).
//! 6. **Many tenants** (`tenants`): 1,000 tenants of ~1,000 tokens each served by one instance
//!    (`--tenants N`, `--tokens-each K`): cold start, per-boundary cost, memory, the applier's
//!    longest stall and freshness through checkpoints and tenant passes, and the cron job's
//!    minute over every tenant.
//! 7. **Dashboard** (`dashboard`): the page, its live update and 100 live clients at 1M tokens,
//!    in memory.
//! 8. **Small tenants** (`small-tenants`): resident bytes per tenant and per row of 1,000 small
//!    tenants' states (`--tenants`, `--tokens-each`) and of one large one, in memory.
//! 9. **Scrape** (`scrape`): one `/metrics` scrape of 10,000 tenants (`--tenants`), healthy and
//!    in trouble: its size and time, in memory.
//! 10. **High availability** (`ha`, only when named): two `flowtally run` processes with `[ha]`
//!     on, 100 tenants (`--tenants`) under traffic: takeover after kill -9 and after SIGSTOP of
//!     the leader, minutes missed or committed twice, the standby's cost (see [`ha`]).
//!
//! `--quick` runs 10k and 100k tokens and a 100k-row backlog (under 5 minutes on 2 cores); the
//! full run takes about 15 minutes.

mod ha;
mod tenants;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use chrono::Timelike;
use chrono_tz::Tz;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlPoolOptions};
use sqlx::{ConnectOptions, Connection, MySqlPool, Row as _};

use flowtally::checkpoint::{self, part, Manifest, TenantEntry};
use flowtally::model::{Change, Row, TenantState, View};
use flowtally::refresh;
use flowtally::sink::writer;
use flowtally::source::binlog::{BinlogOptions, BinlogStream, StreamEvent};
use flowtally::source::snapshot::{load_tenant, LoadPoint};
use flowtally::source::{Position, SourceChange};
use flowtally::tenants::Tenant;
use flowtally::verify;
use flowtally_testkit::{simulate, Flavor};

mod dashboard;
mod scrape;
mod small_tenants;

const CORE_DB: &str = "bgerp";
const PREFIX: &str = "bgerp_t_";
const TZ: Tz = chrono_tz::Asia::Bangkok;
/// Days of history behind each dataset.
const HISTORY_DAYS: u32 = 60;
/// Rows per backlog transaction (one statement each).
const BACKLOG_TX_ROWS: u64 = 100;
/// Backlog statements per round trip (each its own autocommit transaction).
const BACKLOG_STATEMENTS_PER_TRIP: usize = 20;
/// Probe token ids start here (far above anything the simulator allocates).
const PROBE_BASE: i64 = 1_900_000_000;
const PROBE_EVERY: Duration = Duration::from_millis(20);
const FRESHNESS_RATE: f64 = 1_000.0;

/// Which parts to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Refresh cost by dataset size, plus start-up and memory on the largest.
    Refresh,
    CatchUp,
    Freshness,
    /// Many tenants on one instance (see `tenants`).
    Tenants,
    /// The dashboard page, its live update and 100 live clients at 1M tokens, in memory (no
    /// server): see [`dashboard`].
    Dashboard,
    /// Resident bytes per tenant and per row of many small tenants' states, in memory (no
    /// server): see [`small_tenants`].
    SmallTenants,
    /// One `/metrics` scrape at 10,000 tenants, in memory (no server): see [`scrape`].
    Scrape,
    /// Two `flowtally run` processes with `[ha]` on: takeover, pause, the standby's cost (see
    /// [`ha`]). Not part of a run without `--only`: it needs the release `flowtally` binary.
    Ha,
}

impl Part {
    pub const ALL: [Part; 7] = [
        Part::Refresh,
        Part::CatchUp,
        Part::Freshness,
        Part::Tenants,
        Part::Dashboard,
        Part::SmallTenants,
        Part::Scrape,
    ];

    /// Whether the part needs the bench server.
    pub fn needs_server(self) -> bool {
        !matches!(self, Part::Dashboard | Part::SmallTenants | Part::Scrape)
    }

    pub fn parse(name: &str) -> Option<Part> {
        match name.trim().to_ascii_lowercase().as_str() {
            "refresh" | "startup" | "memory" => Some(Part::Refresh),
            "catchup" | "catch-up" | "catch_up" => Some(Part::CatchUp),
            "freshness" => Some(Part::Freshness),
            "tenants" => Some(Part::Tenants),
            "dashboard" => Some(Part::Dashboard),
            "small-tenants" | "small_tenants" | "smalltenants" => Some(Part::SmallTenants),
            "scrape" | "metrics" => Some(Part::Scrape),
            "ha" => Some(Part::Ha),
            _ => None,
        }
    }
}

/// What `flowtally bench` runs.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub quick: bool,
    /// Dataset sizes in tokens (default 10k, 100k, 1M; quick: 10k, 100k).
    pub sizes: Option<Vec<u64>>,
    /// Row events in the catch-up backlog (default 1M; quick: 100k).
    pub backlog_rows: Option<u64>,
    /// Seconds of each freshness run (default 20; quick: 8).
    pub freshness_secs: Option<u64>,
    pub parts: Vec<Part>,
    pub seed: u64,
    pub flavor: Flavor,
    /// Tenants of the many-tenants part (default 1,000; quick: 100), and tokens each.
    pub tenants: Option<usize>,
    pub tokens_each: u64,
    /// `[tenants] load_concurrency` of the many-tenants part (default: the service's).
    pub load_concurrency: Option<usize>,
    /// `[sink] write_concurrency` of the many-tenants part (default: the service's).
    pub write_concurrency: Option<usize>,
    /// The many-tenants part without the cron job's minute and the round-trips comparison
    /// (the service alone, sooner).
    pub service_only: bool,
    /// The many-tenants part without the round-trips comparison (the cron job's minute, after
    /// the service, still runs).
    pub no_round_trips: bool,
    /// 15-minute boundaries the many-tenants part's traffic runs through (default 1).
    pub fifteen_minute_boundaries: usize,
    /// How the server is sized for the tenants (see [`ServerSizing`]).
    pub sizing: ServerSizing,
}

/// The bench server's table caches, buffer pool and redo log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerSizing {
    /// When the many-tenants part runs, as docs/operations.md advises for that many tenants:
    /// table caches of 12 × tenants + 1,000, a buffer pool of 512 KiB and a redo log of 256 KiB
    /// per tenant (at least 2 GiB and 512 MiB); otherwise the server's defaults.
    Advised,
    /// The server's defaults (MariaDB: 2,000 open tables, 400 definitions, a 96 MiB redo log),
    /// but for the bench's 2 GiB buffer pool.
    ServerDefaults,
    /// Table caches of this many entries each, the rest the server's defaults.
    TableCache(u64),
}

impl ServerSizing {
    fn parse(s: &str) -> Option<ServerSizing> {
        match s {
            "advised" => Some(ServerSizing::Advised),
            "default" | "defaults" => Some(ServerSizing::ServerDefaults),
            n => n.parse().ok().map(ServerSizing::TableCache),
        }
    }

    /// The server flags for it, with `tenants` in the many-tenants part (if it runs).
    fn flags(self, tenants: Option<usize>, flavor: Flavor) -> Vec<String> {
        let (entries, tenants) = match (self, tenants) {
            (ServerSizing::TableCache(n), _) => (n, None),
            (ServerSizing::Advised, Some(n)) => (12 * n as u64 + 1_000, Some(n as u64)),
            _ => return Vec::new(),
        };
        let mut flags = vec![
            format!("--table-open-cache={entries}"),
            format!("--table-definition-cache={entries}"),
            // A table open in the cache may hold a file; the server asks for this many at
            // start (as root, above the shell's limit).
            format!("--open-files-limit={}", entries + 10_000),
        ];
        if let Some(n) = tenants {
            // Every boundary dirties a few pages of each of a tenant's five mv_ tables: a pool
            // that holds them and a redo log that spans several boundaries let the server
            // flush each page once in a while instead of at every boundary. 512 KiB and
            // 256 KiB per tenant, in MiB.
            let pool_mib = (n / 2).max(2 * 1024).next_multiple_of(1024);
            let redo_mib = (n / 4).max(512);
            flags.push(format!("--innodb-buffer-pool-size={pool_mib}M"));
            flags.push(match flavor {
                Flavor::MySql => format!("--innodb-redo-log-capacity={redo_mib}M"),
                Flavor::MariaDb | Flavor::MariaDb118 => {
                    format!("--innodb-log-file-size={redo_mib}M")
                }
            });
        }
        flags
    }
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            quick: false,
            sizes: None,
            backlog_rows: None,
            freshness_secs: None,
            parts: Part::ALL.to_vec(),
            seed: 7,
            flavor: Flavor::MariaDb,
            tenants: None,
            tokens_each: 1_000,
            load_concurrency: None,
            write_concurrency: None,
            service_only: false,
            no_round_trips: false,
            fifteen_minute_boundaries: 1,
            sizing: ServerSizing::Advised,
        }
    }
}

impl BenchOptions {
    fn sizes(&self) -> Vec<u64> {
        let mut s = self.sizes.clone().unwrap_or_else(|| {
            if self.quick {
                vec![10_000, 100_000]
            } else {
                vec![10_000, 100_000, 1_000_000]
            }
        });
        s.sort_unstable();
        s.dedup();
        s
    }

    /// Tenants of the many-tenants part, if it runs.
    fn many_tenants(&self) -> Option<usize> {
        self.parts
            .contains(&Part::Tenants)
            .then(|| self.tenants.unwrap_or(if self.quick { 100 } else { 1_000 }))
    }

    /// The flags the bench adds to the server's.
    fn server_flags(&self) -> Vec<String> {
        SPEED_FLAGS
            .iter()
            .map(|f| f.to_string())
            .chain(self.sizing.flags(self.many_tenants(), self.flavor))
            .collect()
    }

    fn backlog_rows(&self) -> u64 {
        self.backlog_rows
            .unwrap_or(if self.quick { 100_000 } else { 1_000_000 })
            .max(1_000)
    }

    fn freshness_secs(&self) -> u64 {
        self.freshness_secs
            .unwrap_or(if self.quick { 8 } else { 20 })
            .max(1)
    }
}

/// Runs for a measurement on `size` items: 3 for a million or more, 5 below.
pub fn runs_for(size: u64) -> usize {
    if size >= 1_000_000 {
        3
    } else {
        5
    }
}

// ---------------------------------------------------------------------------------------------
// Statistics and /proc parsing (pure)
// ---------------------------------------------------------------------------------------------

/// Min, median and max of a set of runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    pub runs: usize,
    pub min: f64,
    pub median: f64,
    pub max: f64,
}

/// Min / median / max of the finite `samples` (the median of an even count is the mean of the
/// two middle values); `None` without any.
pub fn stats(samples: &[f64]) -> Option<Stats> {
    let mut v: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some(Stats {
        runs: n,
        min: v[0],
        median,
        max: v[n - 1],
    })
}

/// Nearest-rank percentile: the smallest sample with at least ⌈q·n⌉ samples ≤ it (`q` in
/// (0, 1]); `None` without samples.
pub fn percentile(samples: &[f64], q: f64) -> Option<f64> {
    let mut v: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    Some(v[rank - 1])
}

/// The resident set size in pages: the second field of `/proc/<pid>/statm`.
pub fn parse_statm_resident(text: &str) -> Option<u64> {
    text.split_whitespace().nth(1)?.parse().ok()
}

/// A `kB` line of `/proc/<pid>/status` (`VmHWM:    12345 kB`), in bytes.
pub fn parse_status_kb(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, rest) = line.split_once(':')?;
        if k.trim() != key {
            return None;
        }
        let mut parts = rest.split_whitespace();
        let n: u64 = parts.next()?.parse().ok()?;
        match parts.next() {
            Some("kB") | None => Some(n * 1024),
            Some(_) => None,
        }
    })
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod sys {
    extern "C" {
        fn sysconf(name: i32) -> i64;
        fn malloc_trim(pad: usize) -> i32;
    }
    const SC_PAGESIZE: i32 = 30;
    const SC_CLK_TCK: i32 = 2;

    pub fn page_size() -> u64 {
        // SAFETY: sysconf has no preconditions; it returns -1 for an unknown name.
        let p = unsafe { sysconf(SC_PAGESIZE) };
        u64::try_from(p).ok().filter(|p| *p > 0).unwrap_or(4096)
    }

    /// Clock ticks per second, the unit of `/proc/<pid>/stat`'s CPU times.
    pub fn clock_ticks() -> u64 {
        // SAFETY: as above.
        let t = unsafe { sysconf(SC_CLK_TCK) };
        u64::try_from(t).ok().filter(|t| *t > 0).unwrap_or(100)
    }

    /// Returns glibc's free memory to the system, so an RSS baseline holds no reusable garbage.
    pub fn trim() {
        // SAFETY: malloc_trim only walks the allocator's own free lists.
        unsafe {
            malloc_trim(0);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod sys {
    pub fn page_size() -> u64 {
        4096
    }
    pub fn clock_ticks() -> u64 {
        100
    }
    pub fn trim() {}
}

/// This process's resident set size now, in bytes (`None` off Linux).
pub fn rss_bytes() -> Option<u64> {
    let text = fs::read_to_string("/proc/self/statm").ok()?;
    Some(parse_statm_resident(&text)? * sys::page_size())
}

/// Samples the RSS every 10 ms on a thread until dropped or stopped; keeps the maximum.
struct PeakSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PeakSampler {
    fn start() -> PeakSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(rss_bytes().unwrap_or(0)));
        let (s, p) = (stop.clone(), peak.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if let Some(r) = rss_bytes() {
                    p.fetch_max(r, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        PeakSampler {
            stop,
            peak,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> u64 {
        self.halt();
        if let Some(r) = rss_bytes() {
            self.peak.fetch_max(r, Ordering::Relaxed);
        }
        self.peak.load(Ordering::Relaxed)
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for PeakSampler {
    fn drop(&mut self) {
        self.halt();
    }
}

// ---------------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------------

/// A duration in seconds, with a unit that keeps 3 significant digits.
pub fn fmt_secs(s: f64) -> String {
    if !s.is_finite() {
        return "-".into();
    }
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.1} µs", s * 1e6)
    }
}

/// A rate or count with thousands separators (`1,234,567`).
pub fn fmt_int(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let n = v.round() as i64;
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

fn fmt_bytes(b: f64) -> String {
    if b >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    } else if b >= 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else {
        format!("{b:.0} B")
    }
}

fn size_label(n: u64) -> String {
    if n >= 1_000_000 && n.is_multiple_of(1_000_000) {
        format!("{}M", n / 1_000_000)
    } else if n >= 1_000 && n.is_multiple_of(1_000) {
        format!("{}k", n / 1_000)
    } else {
        n.to_string()
    }
}

/// A markdown table.
struct Table {
    head: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(head: &[&str]) -> Table {
        Table {
            head: head.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn render(&self) -> String {
        let cols = self.head.len();
        let mut width: Vec<usize> = self.head.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(cols) {
                width[i] = width[i].max(c.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let mut s = String::from("|");
            for (i, w) in width.iter().enumerate() {
                let c = cells.get(i).map(String::as_str).unwrap_or("");
                s.push(' ');
                s.push_str(c);
                s.push_str(&" ".repeat(w - c.chars().count()));
                s.push_str(" |");
            }
            s.push('\n');
            s
        };
        let mut out = line(&self.head);
        out.push('|');
        for w in &width {
            out.push_str(&"-".repeat(w + 2));
            out.push('|');
        }
        out.push('\n');
        for r in &self.rows {
            out.push_str(&line(r));
        }
        out
    }
}

fn mmm_secs(s: &Option<Stats>) -> [String; 3] {
    match s {
        Some(s) => [fmt_secs(s.min), fmt_secs(s.median), fmt_secs(s.max)],
        None => ["-".into(), "-".into(), "-".into()],
    }
}

fn mmm_int(s: &Option<Stats>) -> [String; 3] {
    match s {
        Some(s) => [fmt_int(s.min), fmt_int(s.median), fmt_int(s.max)],
        None => ["-".into(), "-".into(), "-".into()],
    }
}

fn by_view(medians: &[(View, f64)]) -> String {
    medians
        .iter()
        .map(|(v, m)| format!("{} {}", v.short_name(), fmt_secs(*m)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn progress(msg: impl AsRef<str>) {
    eprintln!("bench: {}", msg.as_ref());
}

// ---------------------------------------------------------------------------------------------
// The throwaway server
// ---------------------------------------------------------------------------------------------

/// The bench's private server: testkit's, with the speed flags (see the module doc).
pub struct Server {
    inner: flowtally_testkit::Server,
}

/// The extra server flags of the bench (speed; see the module doc).
pub const SPEED_FLAGS: [&str; 3] = [
    "--innodb-buffer-pool-size=2G",
    "--innodb-flush-log-at-trx-commit=0",
    "--sync-binlog=0",
];

impl Server {
    /// A server with `flags` added (the bench's: [`BenchOptions::server_flags`]).
    pub fn start(flavor: Flavor, flags: &[&str]) -> Result<Server> {
        let inner = flowtally_testkit::Server::try_start(flavor, flags).map_err(|e| anyhow!(e))?;
        Ok(Server { inner })
    }

    pub fn port(&self) -> u16 {
        self.inner.port
    }

    pub fn root(&self) -> &Path {
        self.inner.dir()
    }

    pub fn datadir(&self) -> &Path {
        &self.inner.datadir
    }

    /// The flavour's own binlog dumper (`mariadb-binlog`, `mysqlbinlog`), the yardstick of the
    /// catch-up rate.
    pub fn binlog_tool(&self) -> Result<PathBuf> {
        match self.inner.flavor {
            Flavor::MariaDb => Ok(flowtally_testkit::server::find_bin("mariadb-binlog")),
            Flavor::MySql => {
                flowtally_testkit::server::mysql_bin("mysqlbinlog").map_err(|e| anyhow!(e))
            }
            Flavor::MariaDb118 => {
                flowtally_testkit::server::mariadb118_bin("mariadb-binlog").map_err(|e| anyhow!(e))
            }
        }
    }

    /// The server's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.inner.pid()
    }

    pub fn pool_options(&self) -> MySqlConnectOptions {
        self.inner
            .connect_options()
            .charset("utf8mb4")
            .disable_statement_logging()
    }

    pub fn binlog_options(&self, server_id: u32) -> BinlogOptions {
        let opts = mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(self.inner.port)
            .user(Some("root"))
            .prefer_socket(false);
        BinlogOptions {
            opts: opts.into(),
            server_id,
            heartbeat: Duration::from_secs(1),
            core_db: CORE_DB.into(),
            db_prefix: PREFIX.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers on the server
// ---------------------------------------------------------------------------------------------

async fn connection(pool: &MySqlPool) -> Result<MySqlConnection> {
    Ok(pool
        .acquire()
        .await
        .context("acquiring a connection")?
        .detach())
}

/// The end of the binlog now.
async fn master_position(conn: &mut MySqlConnection) -> Result<Position> {
    flowtally::source::snapshot::binlog_end(conn)
        .await
        .context("reading the binlog status")?
        .context("the server shows no binlog status: is --log-bin on?")
}

fn reached(at: &Position, end: &Position) -> bool {
    !end.is_after(at)
}

fn now_epoch() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The factory's local time now, truncated to the second (what `refresh` uses as T).
fn local_now() -> chrono::NaiveDateTime {
    let now = chrono::Utc::now().with_timezone(&TZ).naive_local();
    now.with_nanosecond(0).unwrap_or(now)
}

async fn create_tenant(pool: &MySqlPool, code: &str, with_mv: bool) -> Result<String> {
    simulate::setup_tenant(pool, CORE_DB, PREFIX, code).await?;
    let db = simulate::tenant_db(PREFIX, code);
    if with_mv {
        let mut conn = connection(pool).await?;
        flowtally::sink::migrate::migrate(&mut conn, &db)
            .await
            .with_context(|| format!("creating the mv_ tables of {db}"))?;
    }
    Ok(db)
}

// ---------------------------------------------------------------------------------------------
// Part 1 (+4, 5): refresh cost, start-up, memory
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Default)]
pub struct SizeResult {
    pub tokens: u64,
    pub runs: usize,
    pub generate_secs: f64,
    /// Source rows the state holds after a load.
    pub state_rows: usize,
    pub snapshot_rows: usize,
    pub refresh: Option<Stats>,
    pub verify_sql: Option<Stats>,
    /// Per view, the medians of verify's queries.
    pub verify_by_view: Vec<(View, f64)>,
    pub snapshot: Option<Stats>,
    /// Per view, the medians of `TenantState::view` for that view alone.
    pub snapshot_by_view: Vec<(View, f64)>,
    pub write: Option<Stats>,
    pub load: Option<Stats>,
    pub bytes_per_row: Option<f64>,
    pub rss_delta: Option<u64>,
    pub peak_rss: Option<u64>,
    pub peak_above_baseline: Option<u64>,
    pub checkpoint_save: Option<Stats>,
    pub checkpoint_bytes: Option<u64>,
    pub resume: Option<Stats>,
    /// The two halves of a resume: reading the file, rebuilding the state.
    pub resume_read: Option<Stats>,
    pub resume_restore: Option<Stats>,
}

impl SizeResult {
    fn ratio(a: &Option<Stats>, c: &Option<Stats>) -> Option<f64> {
        match (a, c) {
            (Some(a), Some(c)) if c.median > 0.0 => Some(a.median / c.median),
            _ => None,
        }
    }

    pub fn refresh_over_snapshot(&self) -> Option<f64> {
        Self::ratio(&self.refresh, &self.snapshot)
    }

    pub fn sql_over_snapshot(&self) -> Option<f64> {
        Self::ratio(&self.verify_sql, &self.snapshot)
    }
}

async fn bench_size(
    pool: &MySqlPool,
    server: &Server,
    tokens: u64,
    largest: bool,
    seed: u64,
) -> Result<SizeResult> {
    let label = size_label(tokens);
    let code = format!("BENCH{}", label.to_uppercase());
    let runs = runs_for(tokens);
    let mut r = SizeResult {
        tokens,
        runs,
        ..SizeResult::default()
    };
    progress(format!("{label}: generating {tokens} tokens of history"));
    let db = create_tenant(pool, &code, true).await?;
    let t0 = Instant::now();
    simulate::bulk_history(pool, &db, tokens, HISTORY_DAYS, seed, TZ, now_epoch())
        .await
        .with_context(|| format!("generating the {label} dataset"))?;
    r.generate_secs = t0.elapsed().as_secs_f64();
    progress(format!(
        "{label}: generated in {}",
        fmt_secs(r.generate_secs)
    ));
    // Fresh optimizer statistics, as on a server that has been running: otherwise InnoDB
    // recomputes them in the background part-way through the runs and the plans change.
    let q = flowtally::db::ident(&db);
    sqlx::raw_sql(&format!(
        "ANALYZE TABLE {q}.flow_token, {q}.token_assignment, {q}.job_graph_instance, \
         {q}.routing_node, {q}.routing_graph, {q}.team, {q}.team_member"
    ))
    .execute(pool)
    .await
    .context("ANALYZE TABLE")?;
    let tenant = Tenant {
        code: code.clone(),
        db: Some(db.clone()),
    };
    let at = local_now();

    // (a) The cron job's minute: a full recompute through the refresh path.
    let mut a = Vec::new();
    for i in 0..runs {
        let t = Instant::now();
        let rows = refresh::refresh_tenant(pool, pool, &tenant, &View::ALL, at)
            .await
            .map_err(|e| anyhow!("refresh of {code}: {e}"))?;
        a.push(t.elapsed().as_secs_f64());
        progress(format!(
            "{label}: (a) refresh run {}: {} ({rows} rows written)",
            i + 1,
            fmt_secs(a[i])
        ));
    }
    r.refresh = stats(&a);

    // (b) verify's SQL for the five views at one instant, each run on a new connection as the
    // cron job ran it. (On a connection that already ran them, MariaDB 10.11 re-executes the
    // cached prepared statements of these CTE queries with a far worse plan: minutes instead of
    // a second at 100k tokens.)
    let mut b = Vec::new();
    let mut by_view: Vec<Vec<f64>> = vec![Vec::new(); View::ALL.len()];
    for i in 0..runs {
        let mut vconn = server
            .pool_options()
            .connect()
            .await
            .context("connecting for verify")?;
        let t = Instant::now();
        for (vi, v) in View::ALL.iter().enumerate() {
            let tv = Instant::now();
            verify::expected(&mut vconn, &db, *v, at)
                .await
                .with_context(|| format!("verify SQL of {} on {db}", v.table()))?;
            by_view[vi].push(tv.elapsed().as_secs_f64());
        }
        b.push(t.elapsed().as_secs_f64());
        let _ = vconn.close().await;
        progress(format!(
            "{label}: (b) verify SQL run {}: {}",
            i + 1,
            fmt_secs(b[i])
        ));
    }
    r.verify_sql = stats(&b);
    r.verify_by_view = View::ALL
        .iter()
        .zip(&by_view)
        .filter_map(|(v, s)| stats(s).map(|s| (*v, s.median)))
        .collect();

    // Cold loads (start-up), with memory: baseline after returning free memory to the system.
    let mut conn = connection(pool).await?;
    let mut loads = Vec::new();
    let mut state: Option<TenantState> = None;
    let mut position = None;
    let mut peak_delta = 0u64;
    let mut peak_abs = 0u64;
    for i in 0..runs {
        drop(state.take());
        sys::trim();
        let before = rss_bytes();
        let sampler = PeakSampler::start();
        let t = Instant::now();
        let loaded = load_tenant(&mut conn, &db, at.date())
            .await
            .with_context(|| format!("loading {db}"))?;
        let secs = t.elapsed().as_secs_f64();
        let peak = sampler.finish();
        let after = rss_bytes();
        loads.push(secs);
        let rows = loaded.state.rows();
        r.state_rows = rows;
        if let Some(b0) = before {
            peak_abs = peak_abs.max(peak);
            peak_delta = peak_delta.max(peak.saturating_sub(b0));
        }
        if i == 0 {
            if let (Some(b0), Some(a0)) = (before, after) {
                let delta = a0.saturating_sub(b0);
                r.rss_delta = Some(delta);
                if rows > 0 {
                    r.bytes_per_row = Some(delta as f64 / rows as f64);
                }
            }
        }
        progress(format!(
            "{label}: cold load run {}: {} ({rows} rows, peak RSS {})",
            i + 1,
            fmt_secs(secs),
            fmt_bytes(peak as f64)
        ));
        position = match &loaded.point {
            Some(LoadPoint::Position(p)) => Some(p.clone()),
            _ => None,
        };
        state = Some(loaded.state);
    }
    r.load = stats(&loads);
    r.peak_rss = Some(peak_abs).filter(|p| *p > 0);
    r.peak_above_baseline = Some(peak_delta).filter(|p| *p > 0);
    let Some(mut state) = state else {
        bail!("no state loaded");
    };

    // (c) The incremental snapshot from memory, and its write, separately.
    let warm = state.snapshot(at, &View::ALL);
    r.snapshot_rows = warm.row_count();
    let mut c = Vec::new();
    let mut w = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let snap = state.snapshot(at, &View::ALL);
        c.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        writer::write(&mut conn, &db, &snap, None)
            .await
            .with_context(|| format!("writing a snapshot to {db}"))?;
        w.push(t.elapsed().as_secs_f64());
    }
    r.snapshot = stats(&c);
    r.write = stats(&w);
    for v in View::ALL {
        let mut t = Vec::new();
        for _ in 0..runs {
            let t0 = Instant::now();
            let snap = state.view(at, &[v]);
            t.push(t0.elapsed().as_secs_f64());
            drop(snap);
        }
        if let Some(s) = stats(&t) {
            r.snapshot_by_view.push((v, s.median));
        }
    }
    progress(format!(
        "{label}: (c) snapshot median {} ({} rows), write median {}",
        fmt_secs(r.snapshot.map_or(f64::NAN, |s| s.median)),
        r.snapshot_rows,
        fmt_secs(r.write.map_or(f64::NAN, |s| s.median))
    ));

    if largest {
        // Checkpoint save and warm resume.
        let dir = server.root().join(format!("state-{label}"));
        let parts = checkpoint::parts_dir(&dir);
        std::fs::create_dir_all(&parts)?;
        let file = checkpoint::part_name(&db, 1);
        let mut manifest = Manifest {
            server: "bench".into(),
            position: position.clone().unwrap_or(Position {
                file: "bin.000001".into(),
                pos: 4,
                gtid: None,
            }),
            written: Default::default(),
            taken_at: now_epoch(),
            tenants: vec![TenantEntry {
                code: code.clone(),
                db: db.clone(),
                file: file.clone(),
                len: 0,
                base_len: 0,
                base_rows: state.rows() as u64,
                changes: 0,
                loaded_at: None,
                first_instant: 0,
            }],
        };
        let mut saves = Vec::new();
        for _ in 0..runs {
            // A fresh tenant's part: every row in a base frame, then the manifest.
            let t = Instant::now();
            let rows: Vec<Row> = state.all_rows().collect();
            let base = part::base_frame(&rows).context("encoding the checkpoint part")?;
            let len = part::create(&parts.join(&file), &[&base]).context("writing the part")?;
            manifest.tenants[0].len = len;
            manifest.tenants[0].base_len = len;
            let bytes = manifest.save(&dir).context("saving the manifest")?;
            saves.push(t.elapsed().as_secs_f64());
            r.checkpoint_bytes = Some(len + bytes);
        }
        drop(state);
        r.checkpoint_save = stats(&saves);
        let mut resumes = Vec::new();
        let (mut reads, mut restores) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            let t = Instant::now();
            let m = Manifest::load(&dir).map_err(|e| anyhow!("{e}"))?;
            let read = t.elapsed().as_secs_f64();
            let restored: Vec<TenantState> = m
                .restore(&dir)
                .map_err(|e| anyhow!("{e}"))?
                .into_iter()
                .map(|r| r.state)
                .collect();
            let total = t.elapsed().as_secs_f64();
            resumes.push(total);
            reads.push(read);
            restores.push(total - read);
            let rows: usize = restored.iter().map(TenantState::rows).sum();
            if rows != r.state_rows {
                progress(format!(
                    "{label}: warning: restored {rows} rows, loaded {}",
                    r.state_rows
                ));
            }
        }
        r.resume = stats(&resumes);
        r.resume_read = stats(&reads);
        r.resume_restore = stats(&restores);
        progress(format!(
            "{label}: checkpoint save median {} ({}), resume median {}",
            fmt_secs(r.checkpoint_save.map_or(f64::NAN, |s| s.median)),
            fmt_bytes(r.checkpoint_bytes.unwrap_or(0) as f64),
            fmt_secs(r.resume.map_or(f64::NAN, |s| s.median))
        ));
        let _ = fs::remove_dir_all(&dir);
    }
    let _ = conn.close().await;
    sys::trim();
    Ok(r)
}

// ---------------------------------------------------------------------------------------------
// Part 2: catch-up
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Default)]
pub struct CatchUpResult {
    pub rows: u64,
    pub inserts: u64,
    pub updates: u64,
    pub deletes: u64,
    pub transactions: u64,
    pub binlog_bytes: u64,
    pub files: Vec<String>,
    pub generate_secs: f64,
    pub runs: usize,
    /// rows/s, stream + apply.
    pub apply_rate: Option<Stats>,
    pub apply_secs: Option<Stats>,
    /// rows/s, stream only.
    pub decode_rate: Option<Stats>,
    pub decode_secs: Option<Stats>,
    /// The server's own binlog dumper (`mariadb-binlog` or `mysqlbinlog`) and its rows/s with
    /// `--verbose`.
    pub tool: String,
    pub tool_rate: Option<Stats>,
    pub tool_secs: Option<Stats>,
    /// Rows flowtally saw in the backlog (should equal `rows`).
    pub rows_seen: u64,
}

struct Backlog {
    db: String,
    start: Position,
    end: Position,
}

/// Writes the backlog: `rows` row events on flow_token and token_assignment (20% inserts, 60%
/// updates, 20% deletes), 100 rows per transaction, in a binlog file of its own.
async fn make_backlog(pool: &MySqlPool, rows: u64, r: &mut CatchUpResult) -> Result<Backlog> {
    let db = create_tenant(pool, "BACKLOG", false).await?;
    simulate::seed_dimensions(pool, &db, 3).await?;
    let q = flowtally::db::ident(&db);
    let mut conn = connection(pool).await?;
    let nodes: Vec<i64> = sqlx::query(&format!(
        "SELECT CAST(id_node AS SIGNED) FROM {q}.routing_node ORDER BY id_node"
    ))
    .fetch_all(&mut conn)
    .await?
    .iter()
    .filter_map(|r| r.try_get::<i64, _>(0).ok())
    .collect();
    if nodes.len() < 4 {
        bail!("{db}: expected seeded routing nodes");
    }
    sqlx::raw_sql("FLUSH BINARY LOGS")
        .execute(&mut conn)
        .await
        .context("FLUSH BINARY LOGS")?;
    let start = master_position(&mut conn).await?;
    let t0 = Instant::now();
    // One tenth of the rows are tokens, one tenth assignments: each inserted, updated 3 times
    // and deleted.
    let n = (rows / 10).max(BACKLOG_TX_ROWS);
    let batches = n.div_ceil(BACKLOG_TX_ROWS);
    let now = local_now().format("'%Y-%m-%d %H:%M:%S'").to_string();
    let mut statements: Vec<String> = Vec::new();
    let range = |b: u64| {
        let lo = b * BACKLOG_TX_ROWS + 1;
        (lo, ((b + 1) * BACKLOG_TX_ROWS).min(n))
    };
    // Inserts.
    for b in 0..batches {
        let (lo, hi) = range(b);
        let mut tok = format!(
            "INSERT INTO {q}.flow_token (id_token, id_instance, token_type, current_node_id, \
             status, qty, spawned_at) VALUES "
        );
        let mut asg = format!(
            "INSERT INTO {q}.token_assignment (id_assignment, id_token, id_node, \
             assigned_to_user_id, status, assigned_at) VALUES "
        );
        for id in lo..=hi {
            let sep = if id > lo { "," } else { "" };
            let node = nodes[(id as usize) % 2];
            let op = simulate::OPERATOR_FIRST + (id as i64 % 13);
            tok.push_str(&format!(
                "{sep}({id},{},'piece',{node},'ready',1,{now})",
                1 + id % 1000
            ));
            asg.push_str(&format!("{sep}({id},{id},{node},{op},'assigned',{now})"));
        }
        statements.push(tok);
        statements.push(asg);
        r.inserts += 2 * (hi - lo + 1);
    }
    // Updates: tokens move along nodes, assignments through started, paused, completed.
    let moves = [
        (nodes[1], "active", "started", "started_at"),
        (nodes[2], "waiting", "paused", "started_at"),
        (nodes[3], "ready", "completed", "completed_at"),
    ];
    for (node, tstatus, astatus, acol) in moves {
        for b in 0..batches {
            let (lo, hi) = range(b);
            statements.push(format!(
                "UPDATE {q}.flow_token SET current_node_id = {node}, status = '{tstatus}' \
                 WHERE id_token BETWEEN {lo} AND {hi}"
            ));
            statements.push(format!(
                "UPDATE {q}.token_assignment SET status = '{astatus}', {acol} = {now} \
                 WHERE id_assignment BETWEEN {lo} AND {hi}"
            ));
            r.updates += 2 * (hi - lo + 1);
        }
    }
    // Deletes.
    for b in 0..batches {
        let (lo, hi) = range(b);
        statements.push(format!(
            "DELETE FROM {q}.token_assignment WHERE id_assignment BETWEEN {lo} AND {hi}"
        ));
        statements.push(format!(
            "DELETE FROM {q}.flow_token WHERE id_token BETWEEN {lo} AND {hi}"
        ));
        r.deletes += 2 * (hi - lo + 1);
    }
    r.transactions = statements.len() as u64;
    for chunk in statements.chunks(BACKLOG_STATEMENTS_PER_TRIP) {
        sqlx::raw_sql(&chunk.join(";\n"))
            .execute(&mut conn)
            .await
            .with_context(|| format!("writing the backlog into {db}"))?;
    }
    let end = master_position(&mut conn).await?;
    r.generate_secs = t0.elapsed().as_secs_f64();
    r.rows = r.inserts + r.updates + r.deletes;
    // The binlog files the backlog is in.
    let logs = sqlx::query("SHOW BINARY LOGS").fetch_all(&mut conn).await?;
    for row in &logs {
        let name: String = row.try_get(0)?;
        if name.as_str() >= start.file.as_str() && name.as_str() <= end.file.as_str() {
            r.binlog_bytes += flowtally::db::u64_column(row, 1).unwrap_or(0);
            r.files.push(name);
        }
    }
    let _ = conn.close().await;
    Ok(Backlog { db, start, end })
}

static NEXT_SERVER_ID: AtomicU64 = AtomicU64::new(4_100);

fn server_id() -> u32 {
    NEXT_SERVER_ID.fetch_add(1, Ordering::Relaxed) as u32
}

/// Streams `from..end`, applying the changes of `db` to `state` when given. Returns the time
/// (connect included) and the rows of `db` seen.
async fn stream_to_end(
    server: &Server,
    db: &str,
    from: &Position,
    end: &Position,
    mut state: Option<&mut TenantState>,
) -> Result<(f64, u64)> {
    let t0 = Instant::now();
    let mut stream = BinlogStream::connect(&server.binlog_options(server_id()), from)
        .await
        .map_err(|e| anyhow!("connecting the binlog stream: {e}"))?;
    let mut rows = 0u64;
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(60), stream.next())
            .await
            .map_err(|_| anyhow!("the binlog stream stalled"))?
            .map_err(|e| anyhow!("binlog stream: {e}"))?;
        match ev {
            StreamEvent::Transaction(tx) => {
                for c in tx.changes {
                    if let SourceChange::Tenant { db: d, change } = c {
                        if d.eq_ignore_ascii_case(db) {
                            rows += 1;
                            if let Some(s) = state.as_deref_mut() {
                                s.apply(change);
                            }
                        }
                    }
                }
                if reached(&tx.end, end) {
                    break;
                }
            }
            StreamEvent::Heartbeat => {
                if reached(&stream.position(), end) {
                    break;
                }
            }
        }
    }
    Ok((t0.elapsed().as_secs_f64(), rows))
}

fn run_binlog_tool(bin: &Path, files: &[String], server: &Server) -> Result<f64> {
    let devnull = fs::File::create("/dev/null")?;
    let t = Instant::now();
    let out = Command::new(bin)
        .arg("--verbose")
        .args(files.iter().map(|f| server.datadir().join(f)))
        .stdin(Stdio::null())
        .stdout(devnull)
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    let secs = t.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!(
            "{} failed ({}): {}",
            bin.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    Ok(secs)
}

async fn bench_catch_up(pool: &MySqlPool, server: &Server, rows: u64) -> Result<CatchUpResult> {
    let mut r = CatchUpResult::default();
    progress(format!("catch-up: writing a backlog of {rows} row events"));
    let backlog = make_backlog(pool, rows, &mut r).await?;
    progress(format!(
        "catch-up: {} rows in {} transactions, {} of binlog ({}), written in {}",
        r.rows,
        r.transactions,
        fmt_bytes(r.binlog_bytes as f64),
        r.files.join(" "),
        fmt_secs(r.generate_secs)
    ));
    let runs = runs_for(r.rows);
    r.runs = runs;
    // The tenant as the stream finds it: its dimensions, no tokens yet.
    let mut conn = connection(pool).await?;
    let base = load_tenant(&mut conn, &backlog.db, local_now().date())
        .await?
        .state;
    let _ = conn.close().await;

    let tool = server.binlog_tool()?;
    r.tool = tool
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut apply_secs = Vec::new();
    let mut decode_secs = Vec::new();
    let mut tool_secs = Vec::new();
    for i in 0..runs {
        let mut state = base.clone();
        let (secs, seen) = stream_to_end(
            server,
            &backlog.db,
            &backlog.start,
            &backlog.end,
            Some(&mut state),
        )
        .await?;
        drop(state);
        r.rows_seen = seen;
        apply_secs.push(secs);
        let (dsecs, _) =
            stream_to_end(server, &backlog.db, &backlog.start, &backlog.end, None).await?;
        decode_secs.push(dsecs);
        let tsecs = run_binlog_tool(&tool, &r.files, server)?;
        tool_secs.push(tsecs);
        progress(format!(
            "catch-up run {}: stream+apply {} ({} rows/s), stream only {}, {} {}",
            i + 1,
            fmt_secs(secs),
            fmt_int(seen as f64 / secs),
            fmt_secs(dsecs),
            r.tool,
            fmt_secs(tsecs)
        ));
    }
    let rate = |secs: &[f64], n: u64| -> Vec<f64> { secs.iter().map(|s| n as f64 / s).collect() };
    r.apply_secs = stats(&apply_secs);
    r.decode_secs = stats(&decode_secs);
    r.tool_secs = stats(&tool_secs);
    r.apply_rate = stats(&rate(&apply_secs, r.rows_seen));
    r.decode_rate = stats(&rate(&decode_secs, r.rows_seen));
    r.tool_rate = stats(&rate(&tool_secs, r.rows));
    Ok(r)
}

// ---------------------------------------------------------------------------------------------
// Part 3: freshness
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Default)]
pub struct FreshnessRun {
    pub achieved_tx_per_sec: f64,
    pub transactions: u64,
    pub probes: usize,
    pub missing: usize,
    /// Seconds, from COMMIT sent / acknowledged to applied.
    pub from_send_p50: f64,
    pub from_send_p99: f64,
    pub from_ack_p50: f64,
    pub from_ack_p99: f64,
    pub max: f64,
}

#[derive(Debug, Clone, Default)]
pub struct FreshnessResult {
    pub secs: u64,
    pub runs: Vec<FreshnessRun>,
}

impl FreshnessResult {
    fn stat(&self, f: impl Fn(&FreshnessRun) -> f64) -> Option<Stats> {
        stats(&self.runs.iter().map(f).collect::<Vec<_>>())
    }
}

/// One marked autocommit INSERT every 20 ms for `secs`: (probe, sent, acknowledged).
async fn probes(
    conn: &mut MySqlConnection,
    db: &str,
    base: i64,
    secs: u64,
) -> Result<Vec<(i64, Instant, Instant)>> {
    let q = flowtally::db::ident(db);
    let mut sent = Vec::new();
    // Give the simulator and the reader a moment to settle before the first probe.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tick = tokio::time::interval(PROBE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut k = 0i64;
    while Instant::now() < deadline {
        tick.tick().await;
        let now = local_now().format("'%Y-%m-%d %H:%M:%S'").to_string();
        let sql = format!(
            "INSERT INTO {q}.flow_token (id_token, id_instance, token_type, current_node_id, \
             status, qty, spawned_at, completed_at) \
             VALUES ({}, 1, 'component', NULL, 'completed', 1, {now}, {now})",
            base + k
        );
        let t_send = Instant::now();
        sqlx::raw_sql(&sql)
            .execute(&mut *conn)
            .await
            .context("probe insert")?;
        let t_ack = Instant::now();
        sent.push((k, t_send, t_ack));
        k += 1;
    }
    Ok(sent)
}

async fn freshness_run(
    pool: &MySqlPool,
    server: &Server,
    db: &str,
    secs: u64,
    run: usize,
) -> Result<FreshnessRun> {
    let base = PROBE_BASE + (run as i64) * 1_000_000;
    let mut conn = connection(pool).await?;
    let loaded = load_tenant(&mut conn, db, local_now().date()).await?;
    let from = match loaded.point {
        Some(LoadPoint::Position(p)) => p,
        _ => master_position(&mut conn).await?,
    };
    let mut state = loaded.state;

    // The reader: apply every transaction; note when each probe's transaction is applied.
    let applied: Arc<Mutex<Vec<(i64, Instant)>>> = Arc::default();
    let stop = Arc::new(tokio::sync::Notify::new());
    let reader = {
        let opts = server.binlog_options(server_id());
        let applied = applied.clone();
        let stop = stop.clone();
        let db = db.to_string();
        tokio::spawn(async move {
            let mut stream = BinlogStream::connect(&opts, &from)
                .await
                .map_err(|e| anyhow!("connecting the binlog stream: {e}"))?;
            loop {
                let ev = tokio::select! {
                    ev = stream.next() => ev.map_err(|e| anyhow!("binlog stream: {e}"))?,
                    _ = stop.notified() => break,
                };
                let StreamEvent::Transaction(tx) = ev else {
                    continue;
                };
                let mut probe = None;
                for c in tx.changes {
                    if let SourceChange::Tenant { db: d, change } = c {
                        if !d.eq_ignore_ascii_case(&db) {
                            continue;
                        }
                        if let Change::Upsert(Row::Token(t)) = &change {
                            if (base..base + 1_000_000).contains(&t.id) {
                                probe = Some(t.id - base);
                            }
                        }
                        state.apply(change);
                    }
                }
                if let Some(k) = probe {
                    let now = Instant::now();
                    if let Ok(mut a) = applied.lock() {
                        a.push((k, now));
                    }
                }
            }
            anyhow::Ok(state.rows())
        })
    };

    // The load: the simulator at 1,000 transactions/s, and the probes beside it (one task:
    // the simulator's future is not `Send`-general enough for `tokio::spawn`).
    let opts = simulate::SimOptions {
        seed: 100 + run as u64,
        tenants: vec![db.to_string()],
        transactions: Some((FRESHNESS_RATE * secs as f64) as u64),
        rate_per_sec: Some(FRESHNESS_RATE),
        event_time: None,
        bad_rows: false,
        tz: TZ,
        bottleneck: None,
    };
    let (stats_sim, sent) = tokio::join!(
        simulate::run(pool, &opts),
        probes(&mut conn, db, base, secs)
    );
    let stats_sim = stats_sim.context("simulator failed")?;
    let sent = sent?;
    // Let the reader drain what is in flight, then stop it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.notify_one();
    let reader_result = reader.await.context("reader task")?;
    if let Err(e) = reader_result {
        progress(format!("freshness: reader: {e:#}"));
    }
    // Remove the probes so the next run's simulator allocates ids as before.
    sqlx::raw_sql(&format!(
        "DELETE FROM {}.flow_token WHERE id_token >= {PROBE_BASE}",
        flowtally::db::ident(db)
    ))
    .execute(&mut conn)
    .await?;
    let _ = conn.close().await;

    let applied = applied.lock().map(|a| a.clone()).unwrap_or_default();
    let at: std::collections::HashMap<i64, Instant> = applied.into_iter().collect();
    let mut from_send = Vec::new();
    let mut from_ack = Vec::new();
    let mut missing = 0;
    for (k, s, a) in &sent {
        match at.get(k) {
            Some(t) => {
                from_send.push(t.saturating_duration_since(*s).as_secs_f64());
                from_ack.push(t.saturating_duration_since(*a).as_secs_f64());
            }
            None => missing += 1,
        }
    }
    Ok(FreshnessRun {
        achieved_tx_per_sec: stats_sim.tx_per_sec(),
        transactions: stats_sim.transactions,
        probes: sent.len(),
        missing,
        from_send_p50: percentile(&from_send, 0.50).unwrap_or(f64::NAN),
        from_send_p99: percentile(&from_send, 0.99).unwrap_or(f64::NAN),
        from_ack_p50: percentile(&from_ack, 0.50).unwrap_or(f64::NAN),
        from_ack_p99: percentile(&from_ack, 0.99).unwrap_or(f64::NAN),
        max: from_send.iter().copied().fold(f64::NAN, f64::max),
    })
}

async fn bench_freshness(pool: &MySqlPool, server: &Server, secs: u64) -> Result<FreshnessResult> {
    progress("freshness: preparing a tenant with 10k tokens of history");
    let db = create_tenant(pool, "FRESH", false).await?;
    simulate::bulk_history(pool, &db, 10_000, HISTORY_DAYS, 11, TZ, now_epoch()).await?;
    let mut out = FreshnessResult {
        secs,
        runs: Vec::new(),
    };
    for run in 0..3 {
        let r = freshness_run(pool, server, &db, secs, run).await?;
        progress(format!(
            "freshness run {}: {:.0} tx/s, {} probes ({} missing), p50 {} p99 {} (from COMMIT sent)",
            run + 1,
            r.achieved_tx_per_sec,
            r.probes,
            r.missing,
            fmt_secs(r.from_send_p50),
            fmt_secs(r.from_send_p99)
        ));
        out.runs.push(r);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// The whole bench and its report
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub quick: bool,
    pub machine: Vec<(String, String)>,
    pub sizes: Vec<SizeResult>,
    pub catch_up: Option<CatchUpResult>,
    pub freshness: Option<FreshnessResult>,
    pub tenants: Option<tenants::TenantsResult>,
    pub ha: Option<ha::HaResult>,
    pub total_secs: f64,
}

fn command_line(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn machine() -> Vec<(String, String)> {
    let mut m = Vec::new();
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get().to_string())
        .unwrap_or_else(|_| "?".into());
    m.push(("cores (nproc)".to_string(), cpus));
    if let Some(model) = fs::read_to_string("/proc/cpuinfo").ok().and_then(|c| {
        c.lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    }) {
        m.push(("cpu".into(), model));
    }
    if let Some(mem) = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| parse_status_kb(&t, "MemTotal"))
    {
        m.push(("memory".into(), fmt_bytes(mem as f64)));
    }
    if let Some(v) = command_line("rustc", &["--version"]) {
        m.push(("rustc".into(), v));
    }
    m
}

/// Runs the bench: starts the server, runs the parts asked for, stops the server.
pub async fn run(opts: &BenchOptions) -> Result<Report> {
    let started = Instant::now();
    let mut report = Report {
        quick: opts.quick,
        machine: machine(),
        ..Report::default()
    };
    progress(format!("starting a throwaway {}", opts.flavor));
    let flags = opts.server_flags();
    report
        .machine
        .push(("server flags added".into(), flags.join(" ")));
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let server = tokio::task::block_in_place(|| Server::start(opts.flavor, &flags))?;
    progress(format!(
        "{} on 127.0.0.1:{} in {}",
        opts.flavor,
        server.port(),
        server.root().display()
    ));
    let result = async {
        let pool = MySqlPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(server.pool_options())
            .await
            .context("connecting to the bench server")?;
        let version: String = sqlx::query_scalar("SELECT CAST(VERSION() AS CHAR)")
            .fetch_one(&pool)
            .await
            .context("the server's version")?;
        let at = report.machine.len().min(2);
        report
            .machine
            .insert(at, ("server".into(), format!("{} {version}", opts.flavor)));
        // What the server made of the flags (it lowers the open tables to fit its file limit).
        let redo = match opts.flavor {
            Flavor::MySql => "@@innodb_redo_log_capacity",
            Flavor::MariaDb | Flavor::MariaDb118 => "@@innodb_log_file_size",
        };
        let sizing: (u64, u64, u64, u64, u64) = sqlx::query_as(&format!(
            "SELECT CAST(@@table_open_cache AS UNSIGNED), \
             CAST(@@table_definition_cache AS UNSIGNED), CAST(@@open_files_limit AS UNSIGNED), \
             CAST(@@innodb_buffer_pool_size AS UNSIGNED), CAST({redo} AS UNSIGNED)"
        ))
        .fetch_one(&pool)
        .await
        .context("the server's sizing")?;
        report.machine.push((
            "server's sizing".into(),
            format!(
                "table_open_cache {}, table_definition_cache {}, open_files_limit {}, \
                 buffer pool {}, redo log {}",
                sizing.0,
                sizing.1,
                sizing.2,
                fmt_bytes(sizing.3 as f64),
                fmt_bytes(sizing.4 as f64)
            ),
        ));
        if opts.parts.contains(&Part::Refresh) {
            let sizes = opts.sizes();
            let largest = sizes.last().copied();
            for (i, s) in sizes.iter().enumerate() {
                let r = bench_size(
                    &pool,
                    &server,
                    *s,
                    Some(*s) == largest,
                    opts.seed + i as u64,
                )
                .await?;
                report.sizes.push(r);
                // The dataset is no longer needed: free the buffer pool for the next one.
                let db = simulate::tenant_db(PREFIX, &format!("BENCH{}", size_label(*s)));
                let _ = sqlx::raw_sql(&format!(
                    "DROP DATABASE IF EXISTS {}",
                    flowtally::db::ident(&db)
                ))
                .execute(&pool)
                .await;
            }
        }
        if opts.parts.contains(&Part::CatchUp) {
            report.catch_up = Some(bench_catch_up(&pool, &server, opts.backlog_rows()).await?);
        }
        if opts.parts.contains(&Part::Freshness) {
            report.freshness = Some(bench_freshness(&pool, &server, opts.freshness_secs()).await?);
        }
        if opts.parts.contains(&Part::Tenants) {
            let n = opts.many_tenants().unwrap_or(1_000);
            let secs = if opts.quick { 75 } else { 130 };
            report.tenants = Some(tenants::bench_tenants(&pool, &server, n, opts, secs).await?);
        }
        if opts.parts.contains(&Part::Ha) {
            let n = opts.tenants.unwrap_or(100);
            report.ha = Some(ha::bench_ha(&pool, &server, n, opts.seed).await?);
        }
        pool.close().await;
        anyhow::Ok(())
    }
    .await;
    tokio::task::block_in_place(|| drop(server));
    report.total_secs = started.elapsed().as_secs_f64();
    result.map(|()| report)
}

impl Report {
    /// The report as markdown.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "# flowtally bench{} — {}\n\n",
            if self.quick { " --quick" } else { "" },
            chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
        ));
        let mut m = Table::new(&["machine", ""]);
        for (k, v) in &self.machine {
            m.row(vec![k.clone(), v.clone()]);
        }
        out.push_str(&m.render());
        out.push('\n');

        if !self.sizes.is_empty() {
            out.push_str("## 1. Refresh cost as history grows (min / median / max)\n\n");
            let mut t = Table::new(&[
                "tokens",
                "runs",
                "rows in memory",
                "measurement",
                "min",
                "median",
                "max",
            ]);
            for s in &self.sizes {
                let rows = [
                    ("(a) full recompute: refresh path", &s.refresh),
                    ("(b) verify SQL, 5 views", &s.verify_sql),
                    ("(c) incremental snapshot, 5 views", &s.snapshot),
                    ("(c') write of that snapshot", &s.write),
                    ("cold load (load_tenant)", &s.load),
                ];
                for (name, st) in rows {
                    let [a, b, c] = mmm_secs(st);
                    t.row(vec![
                        size_label(s.tokens),
                        s.runs.to_string(),
                        fmt_int(s.state_rows as f64),
                        name.to_string(),
                        a,
                        b,
                        c,
                    ]);
                }
            }
            out.push_str(&t.render());
            out.push('\n');
            let mut t = Table::new(&[
                "tokens",
                "generated in",
                "snapshot rows",
                "(a)/(c)",
                "(b)/(c)",
                "(a)/((c)+(c'))",
                "verify SQL by view (median)",
                "snapshot by view (median)",
            ]);
            for s in &self.sizes {
                let with_write = match (&s.refresh, &s.snapshot, &s.write) {
                    (Some(a), Some(c), Some(w)) => Some(a.median / (c.median + w.median)),
                    _ => None,
                };
                let ratio = |r: Option<f64>| r.map_or("-".into(), |r| format!("{}×", fmt_int(r)));
                t.row(vec![
                    size_label(s.tokens),
                    fmt_secs(s.generate_secs),
                    s.snapshot_rows.to_string(),
                    ratio(s.refresh_over_snapshot()),
                    ratio(s.sql_over_snapshot()),
                    ratio(with_write),
                    by_view(&s.verify_by_view),
                    by_view(&s.snapshot_by_view),
                ]);
            }
            out.push_str(&t.render());
            out.push('\n');

            out.push_str("## 4–5. Start-up and memory\n\n");
            let mut t = Table::new(&["tokens", "measurement", "min", "median", "max"]);
            for s in &self.sizes {
                let [a, b, c] = mmm_secs(&s.load);
                t.row(vec![
                    size_label(s.tokens),
                    "cold full recompute (load_tenant)".into(),
                    a,
                    b,
                    c,
                ]);
                if s.checkpoint_save.is_some() {
                    let [a, b, c] = mmm_secs(&s.checkpoint_save);
                    t.row(vec![
                        size_label(s.tokens),
                        format!(
                            "checkpoint save ({})",
                            fmt_bytes(s.checkpoint_bytes.unwrap_or(0) as f64)
                        ),
                        a,
                        b,
                        c,
                    ]);
                    for (name, st) in [
                        ("warm resume (Manifest::load + restore)", &s.resume),
                        ("  of which Manifest::load", &s.resume_read),
                        ("  of which Manifest::restore", &s.resume_restore),
                    ] {
                        let [a, b, c] = mmm_secs(st);
                        t.row(vec![size_label(s.tokens), name.into(), a, b, c]);
                    }
                }
            }
            out.push_str(&t.render());
            out.push('\n');
            let mut t = Table::new(&[
                "tokens",
                "rows in memory",
                "RSS delta",
                "bytes / row",
                "peak RSS (process)",
                "peak above baseline",
            ]);
            for s in &self.sizes {
                t.row(vec![
                    size_label(s.tokens),
                    fmt_int(s.state_rows as f64),
                    s.rss_delta.map_or("-".into(), |b| fmt_bytes(b as f64)),
                    s.bytes_per_row.map_or("-".into(), |b| format!("{b:.0}")),
                    s.peak_rss.map_or("-".into(), |b| fmt_bytes(b as f64)),
                    s.peak_above_baseline
                        .map_or("-".into(), |b| fmt_bytes(b as f64)),
                ]);
            }
            out.push_str(&t.render());
            out.push('\n');
        }

        if let Some(c) = &self.catch_up {
            out.push_str(&format!(
                "## 2. Catch-up: {} row events ({} inserts, {} updates, {} deletes) in {} \
                 transactions, {} of binlog\n\n",
                fmt_int(c.rows as f64),
                fmt_int(c.inserts as f64),
                fmt_int(c.updates as f64),
                fmt_int(c.deletes as f64),
                fmt_int(c.transactions as f64),
                fmt_bytes(c.binlog_bytes as f64)
            ));
            let mut t = Table::new(&[
                "reader",
                "runs",
                "time min",
                "time median",
                "time max",
                "rows/s min",
                "rows/s median",
                "rows/s max",
            ]);
            let tool = format!("{} --verbose > /dev/null", c.tool);
            for (name, secs, rate) in [
                (
                    "flowtally BinlogStream + TenantState::apply",
                    &c.apply_secs,
                    &c.apply_rate,
                ),
                (
                    "flowtally BinlogStream only (decode)",
                    &c.decode_secs,
                    &c.decode_rate,
                ),
                (tool.as_str(), &c.tool_secs, &c.tool_rate),
            ] {
                let [a, b, cc] = mmm_secs(secs);
                let [d, e, f] = mmm_int(rate);
                t.row(vec![name.into(), c.runs.to_string(), a, b, cc, d, e, f]);
            }
            out.push_str(&t.render());
            out.push_str(&format!(
                "\nRows flowtally decoded from the backlog: {} (written: {}).\n\n",
                fmt_int(c.rows_seen as f64),
                fmt_int(c.rows as f64)
            ));
        }

        if let Some(f) = &self.freshness {
            out.push_str(&format!(
                "## 3. Freshness at {} transactions/s ({} runs of {} s; a probe every {} ms)\n\n",
                FRESHNESS_RATE,
                f.runs.len(),
                f.secs,
                PROBE_EVERY.as_millis()
            ));
            let mut t = Table::new(&[
                "run",
                "achieved tx/s",
                "probes (missing)",
                "p50 from COMMIT sent",
                "p99 from COMMIT sent",
                "p50 from COMMIT ack",
                "p99 from COMMIT ack",
                "max",
            ]);
            for (i, r) in f.runs.iter().enumerate() {
                t.row(vec![
                    (i + 1).to_string(),
                    format!("{:.0}", r.achieved_tx_per_sec),
                    format!("{} ({})", r.probes, r.missing),
                    fmt_secs(r.from_send_p50),
                    fmt_secs(r.from_send_p99),
                    fmt_secs(r.from_ack_p50),
                    fmt_secs(r.from_ack_p99),
                    fmt_secs(r.max),
                ]);
            }
            out.push_str(&t.render());
            out.push('\n');
            let mut t = Table::new(&["over the runs", "min", "median", "max"]);
            for (name, st) in [
                ("p50 from COMMIT sent", f.stat(|r| r.from_send_p50)),
                ("p99 from COMMIT sent", f.stat(|r| r.from_send_p99)),
                ("p99 from COMMIT ack", f.stat(|r| r.from_ack_p99)),
            ] {
                let [a, b, c] = mmm_secs(&st);
                t.row(vec![name.into(), a, b, c]);
            }
            let [a, b, c] = mmm_int(&f.stat(|r| r.achieved_tx_per_sec));
            t.row(vec!["achieved tx/s".into(), a, b, c]);
            out.push_str(&t.render());
            out.push('\n');
        }

        if let Some(t) = &self.tenants {
            t.render(&mut out);
        }
        if let Some(h) = &self.ha {
            h.render(&mut out);
        }

        out.push_str("## Targets\n\n");
        let mut t = Table::new(&["target", "measured", "verdict"]);
        for (target, measured, met) in self.verdicts() {
            t.row(vec![
                target,
                measured,
                match met {
                    Some(true) => "met".into(),
                    Some(false) => "not met".into(),
                    None => "not measured".into(),
                },
            ]);
        }
        out.push_str(&t.render());
        out.push_str(&format!(
            "\nTotal bench time: {}.\n",
            fmt_secs(self.total_secs)
        ));
        out
    }

    /// (target, measured, met) for each target of the benchmarks issue.
    pub fn verdicts(&self) -> Vec<(String, String, Option<bool>)> {
        let mut v = Vec::new();
        let largest = self.sizes.last();
        let smallest = self.sizes.first();
        let at = largest.map_or("-".to_string(), |s| size_label(s.tokens));
        match largest.and_then(SizeResult::refresh_over_snapshot) {
            Some(r) => v.push((
                format!("incremental snapshot ≥ 100× cheaper than a full recompute ({at} tokens)"),
                format!("{}×", fmt_int(r)),
                Some(r >= 100.0),
            )),
            None => v.push(("incremental ≥ 100× cheaper".into(), "-".into(), None)),
        }
        match (
            smallest.and_then(|s| s.snapshot.map(|c| (s.tokens, c.median))),
            largest.and_then(|s| s.snapshot.map(|c| (s.tokens, c.median))),
        ) {
            (Some((t0, c0)), Some((t1, c1))) if t1 > t0 && c0 > 0.0 => v.push((
                format!(
                    "incremental flat as history grows (≤ 2× from {} to {} tokens)",
                    size_label(t0),
                    size_label(t1)
                ),
                format!("{} → {} ({:.1}×)", fmt_secs(c0), fmt_secs(c1), c1 / c0),
                Some(c1 / c0 <= 2.0),
            )),
            _ => v.push(("incremental flat as history grows".into(), "-".into(), None)),
        }
        match &self.catch_up {
            Some(c) => match (c.apply_rate, c.tool_rate) {
                (Some(a), Some(m)) => v.push((
                    format!("catch-up ≥ {}'s decoding rate", c.tool),
                    format!(
                        "{} vs {} rows/s ({:.2}×)",
                        fmt_int(a.median),
                        fmt_int(m.median),
                        a.median / m.median
                    ),
                    Some(a.median >= m.median),
                )),
                _ => v.push((format!("catch-up ≥ {}", c.tool), "-".into(), None)),
            },
            None => v.push(("catch-up ≥ the binlog dumper".into(), "-".into(), None)),
        }
        match self.freshness.as_ref().and_then(|f| {
            f.stat(|r| r.from_send_p99)
                .zip(f.stat(|r| r.achieved_tx_per_sec))
        }) {
            Some((p99, rate)) => v.push((
                "freshness p99 < 100 ms at 1,000 tx/s".into(),
                format!(
                    "p99 {} (worst run {}) at {} tx/s",
                    fmt_secs(p99.median),
                    fmt_secs(p99.max),
                    fmt_int(rate.median)
                ),
                Some(p99.max < 0.100),
            )),
            None => v.push(("freshness p99 < 100 ms".into(), "-".into(), None)),
        }
        let cold = largest.and_then(|s| s.load);
        v.push((
            format!("cold full recompute ≤ 5 s ({at} tokens)"),
            cold.map_or("-".into(), |c| fmt_secs(c.median)),
            cold.map(|c| c.median <= 5.0),
        ));
        let warm = largest.and_then(|s| s.resume);
        v.push((
            format!("warm resume from a checkpoint ≤ 1 s ({at} tokens)"),
            warm.map_or("-".into(), |c| fmt_secs(c.median)),
            warm.map(|c| c.median <= 1.0),
        ));
        let bpr = largest.and_then(|s| s.bytes_per_row);
        v.push((
            format!("≤ 200 resident bytes per cached source row ({at} tokens)"),
            bpr.map_or("-".into(), |b| format!("{b:.0} B")),
            bpr.map(|b| b <= 200.0),
        ));
        if let Some(h) = &self.ha {
            v.extend(h.verdicts());
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_min_median_max() {
        let s = stats(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.runs, s.min, s.median, s.max), (3, 1.0, 2.0, 3.0));
        let s = stats(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!((s.min, s.median, s.max), (1.0, 2.5, 4.0));
        let s = stats(&[5.0]).unwrap();
        assert_eq!((s.min, s.median, s.max), (5.0, 5.0, 5.0));
        assert_eq!(stats(&[]), None);
        let s = stats(&[f64::NAN, 2.0, f64::INFINITY]).unwrap();
        assert_eq!((s.runs, s.median), (1, 2.0));
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.50), Some(50.0));
        assert_eq!(percentile(&v, 0.99), Some(99.0));
        assert_eq!(percentile(&v, 1.0), Some(100.0));
        assert_eq!(percentile(&[7.0, 1.0], 0.01), Some(1.0));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn statm_and_status_parsing() {
        assert_eq!(parse_statm_resident("12345 678 90 1 0 2000 0\n"), Some(678));
        assert_eq!(parse_statm_resident("12345"), None);
        assert_eq!(parse_statm_resident(""), None);
        let status =
            "Name:\tflowtally\nVmPeak:\t  200000 kB\nVmHWM:\t   51200 kB\nVmRSS:\t 1024 kB\n";
        assert_eq!(parse_status_kb(status, "VmHWM"), Some(51_200 * 1024));
        assert_eq!(parse_status_kb(status, "VmRSS"), Some(1024 * 1024));
        assert_eq!(parse_status_kb(status, "VmSwap"), None);
        assert_eq!(
            parse_status_kb("MemTotal:       24576000 kB\n", "MemTotal"),
            Some(24_576_000 * 1024)
        );
    }

    #[test]
    fn this_process_has_a_resident_size() {
        if cfg!(target_os = "linux") {
            let rss = rss_bytes().unwrap();
            assert!(rss > 1024 * 1024, "{rss}");
        }
    }

    #[test]
    fn formatting() {
        assert_eq!(fmt_secs(2.5), "2.50 s");
        assert_eq!(fmt_secs(0.0123), "12.30 ms");
        assert_eq!(fmt_secs(0.000_012_3), "12.3 µs");
        assert_eq!(fmt_int(1_234_567.4), "1,234,567");
        assert_eq!(fmt_int(999.0), "999");
        assert_eq!(fmt_int(-1_000.0), "-1,000");
        assert_eq!(size_label(1_000_000), "1M");
        assert_eq!(size_label(100_000), "100k");
        assert_eq!(size_label(1_234), "1234");
        assert_eq!(runs_for(1_000_000), 3);
        assert_eq!(runs_for(100_000), 5);
    }

    #[test]
    fn positions_compare_by_file_then_offset() {
        let p = |f: &str, pos| Position {
            file: f.into(),
            pos,
            gtid: None,
        };
        assert!(reached(&p("bin.000002", 4), &p("bin.000001", 900)));
        assert!(reached(&p("bin.000001", 900), &p("bin.000001", 900)));
        assert!(!reached(&p("bin.000001", 899), &p("bin.000001", 900)));
    }

    #[test]
    fn parts_and_tables() {
        assert_eq!(Part::parse("Catch-Up"), Some(Part::CatchUp));
        assert_eq!(Part::parse("memory"), Some(Part::Refresh));
        assert_eq!(Part::parse("nope"), None);
        assert_eq!(Part::parse("small-tenants"), Some(Part::SmallTenants));
        assert_eq!(Part::parse("HA"), Some(Part::Ha));
        assert!(Part::Ha.needs_server() && !Part::ALL.contains(&Part::Ha));
        assert!(!Part::SmallTenants.needs_server() && Part::Tenants.needs_server());
        let mut t = Table::new(&["a", "bb"]);
        t.row(vec!["xyz".into(), "1".into()]);
        assert_eq!(t.render(), "| a   | bb |\n|-----|----|\n| xyz | 1  |\n");
    }
}

#[derive(clap::Parser, Debug)]
#[command(
    name = "flowtally-bench",
    about = "flowtally's benchmarks on a throwaway server it starts itself (see docs/benchmarks.md)"
)]
struct Args {
    /// 10k and 100k tokens and a 100k-row backlog only (a few minutes).
    #[arg(long)]
    quick: bool,
    /// Dataset sizes in tokens (default 10000,100000,1000000).
    #[arg(long, value_delimiter = ',')]
    sizes: Option<Vec<u64>>,
    /// Row events in the catch-up backlog (default 1000000; quick 100000).
    #[arg(long)]
    backlog: Option<u64>,
    /// Only these parts: refresh (with start-up and memory), catchup, freshness, tenants,
    /// dashboard, small-tenants; and ha (only when named: two `flowtally run` processes, the
    /// release `flowtally` binary beside this one or `$FLOWTALLY_BIN`).
    #[arg(long, value_delimiter = ',')]
    only: Option<Vec<String>>,
    /// The server: mariadb or mysql.
    #[arg(long, default_value = "mariadb")]
    server: String,
    /// Tenants of the many-tenants part (default 1000; quick 100), of the small-tenants part
    /// (default 1000) and of the ha part (default 100).
    #[arg(long)]
    tenants: Option<usize>,
    /// Tokens of each of those tenants.
    #[arg(long, default_value_t = 1000)]
    tokens_each: u64,
    /// `[tenants] load_concurrency` of the service in the many-tenants part (default: the
    /// service's default).
    #[arg(long)]
    load_concurrency: Option<usize>,
    /// `[sink] write_concurrency` of the service in the many-tenants part (default: the
    /// service's default).
    #[arg(long)]
    write_concurrency: Option<usize>,
    /// The many-tenants part without the cron job's minute and the comparison of round trips.
    #[arg(long)]
    service_only: bool,
    /// The many-tenants part without the comparison of round trips.
    #[arg(long)]
    no_round_trips: bool,
    /// 15-minute boundaries the many-tenants part's traffic runs through: the first after the
    /// cold start writes every tenant's trends window, a second one only the days changed.
    #[arg(long, default_value_t = 1)]
    fifteen_minute_boundaries: usize,
    /// How the server is sized: `advised` (for the many-tenants part, its table caches,
    /// buffer pool and redo log as docs/operations.md advises for that many tenants; otherwise
    /// the server's defaults), `default` (the server's), or a number (table caches of that
    /// many entries).
    #[arg(long, alias = "table-cache", default_value = "advised")]
    server_sizing: String,
}

fn main() -> std::process::ExitCode {
    use clap::Parser as _;
    let args = Args::parse();
    let Some(flavor) = Flavor::parse(&args.server) else {
        eprintln!(
            "flowtally-bench: unknown --server '{}': use mariadb or mysql",
            args.server
        );
        return std::process::ExitCode::from(2);
    };
    let mut opts = BenchOptions {
        quick: args.quick,
        sizes: args.sizes,
        backlog_rows: args.backlog,
        flavor,
        tenants: args.tenants,
        tokens_each: args.tokens_each,
        load_concurrency: args.load_concurrency,
        write_concurrency: args.write_concurrency,
        service_only: args.service_only,
        no_round_trips: args.no_round_trips,
        fifteen_minute_boundaries: args.fifteen_minute_boundaries,
        ..Default::default()
    };
    match ServerSizing::parse(&args.server_sizing) {
        Some(t) => opts.sizing = t,
        None => {
            eprintln!(
                "flowtally-bench: unknown --server-sizing '{}': use advised, default or a number",
                args.server_sizing
            );
            return std::process::ExitCode::from(2);
        }
    }
    if let Some(only) = &args.only {
        let mut parts = Vec::new();
        for p in only {
            match Part::parse(p) {
                Some(part) => parts.push(part),
                None => {
                    eprintln!(
                        "flowtally-bench: unknown part '{p}': refresh, catchup, freshness, tenants, dashboard, small-tenants or ha"
                    );
                    return std::process::ExitCode::from(2);
                }
            }
        }
        opts.parts = parts;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("flowtally-bench: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    let server_parts = opts.parts.iter().any(|p| p.needs_server());
    if server_parts {
        match runtime.block_on(run(&opts)) {
            Ok(report) => println!("{}", report.render()),
            Err(e) => {
                eprintln!("flowtally-bench: {e:#}");
                return std::process::ExitCode::from(1);
            }
        }
    }
    if opts.parts.contains(&Part::Dashboard) {
        let tokens = opts
            .sizes
            .as_ref()
            .and_then(|s| s.iter().max().copied())
            .unwrap_or(if opts.quick { 100_000 } else { 1_000_000 });
        let secs = if opts.quick { 8 } else { 20 };
        match runtime.block_on(dashboard::run(tokens, secs, opts.seed)) {
            Ok(r) => println!("{}", r.render()),
            Err(e) => {
                eprintln!("flowtally-bench: dashboard: {e:#}");
                return std::process::ExitCode::from(1);
            }
        }
    }
    if opts.parts.contains(&Part::SmallTenants) {
        let large = opts
            .sizes
            .as_ref()
            .and_then(|s| s.iter().max().copied())
            .unwrap_or(if opts.quick { 100_000 } else { 1_000_000 });
        let tenants = opts.tenants.unwrap_or(1_000);
        match small_tenants::run(tenants, opts.tokens_each, large, opts.seed) {
            Ok(r) => println!("{}", r.render()),
            Err(e) => {
                eprintln!("flowtally-bench: small tenants: {e:#}");
                return std::process::ExitCode::from(1);
            }
        }
    }
    if opts.parts.contains(&Part::Scrape) {
        println!(
            "{}",
            scrape::run(opts.tenants.unwrap_or(10_000), opts.seed).render()
        );
    }
    std::process::ExitCode::SUCCESS
}
