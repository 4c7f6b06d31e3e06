//! `--only ha`: two `flowtally run` processes with `[ha] enabled` (the release binary beside
//! this one, or `$FLOWTALLY_BIN`) against the bench server, serving `--tenants` tenants (default
//! 100) of a few hundred tokens each under steady simulated traffic (wall-clock event time):
//!
//! - the standby's cost: CPU seconds and RSS of leader and standby over 60 s, and the server's
//!   (its CPU, `Bytes_sent`, `Threads_connected`) with two instances and then with one;
//! - takeover after `kill -9` of the leader a few seconds before a minute boundary, three
//!   times (the killed one restarted as the new standby each time): from the kill until the
//!   standby says `leader` on `/healthz` and until its first snapshot commit;
//! - a paused leader (SIGSTOP just after a boundary, while its writes are under way): until the
//!   standby leads and commits; after SIGCONT, until the old leader says `standby`;
//! - whether any minute of any tenant was missed or committed twice, counted in the sink by
//!   triggers on the lease table's `written:` rows (as tests/it/ha.rs does), around each
//!   takeover and over the whole run.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use flowtally_testkit::simulate;
use sqlx::{MySqlPool, Row as _};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{fmt_bytes, fmt_int, fmt_secs, now_epoch, progress, stats, Server, Table};

const CODE_PREFIX: &str = "HA";
const LEASE_SECS: u64 = 10;
/// Tokens of history per tenant: enough for real snapshots, little set-up time.
const TOKENS_EACH: u64 = 300;
const TRAFFIC_RATE: f64 = 200.0;
const TAKEOVERS: usize = 3;
/// The leader is killed this long before a boundary: it has committed the previous minute,
/// and the standby holds the next one by the time it takes over.
const KILL_BEFORE: Duration = Duration::from_secs(3);
/// The leader is paused this long after a boundary, with that boundary's writes under way.
const PAUSE_AFTER: Duration = Duration::from_secs(1);
const COST_WINDOW: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(50);
/// The longest any one wait of the part may take (a takeover, a start, a minute's writes).
const WAIT_AT_MOST: Duration = Duration::from_secs(180);
const AUDIT_DB: &str = "flowtally_bench";

/// Where the `flowtally` binary is: `$FLOWTALLY_BIN`, else beside this executable (cargo puts
/// both in `target/release`).
fn flowtally_bin() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("FLOWTALLY_BIN") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().context("locating this executable")?;
    let bin = exe
        .parent()
        .map(|d| d.join("flowtally"))
        .context("this executable has no directory")?;
    if !bin.exists() {
        bail!(
            "no flowtally binary at {}: build it (`cargo build --release --bin flowtally`) or \
             set FLOWTALLY_BIN",
            bin.display()
        );
    }
    Ok(bin)
}

/// One `flowtally run` child process, its directory (config, state, log) under the server's
/// temp dir, so it goes with the server.
struct Instance {
    name: &'static str,
    dir: PathBuf,
    port: u16,
    bin: PathBuf,
    child: Option<Child>,
}

impl Instance {
    fn new(
        name: &'static str,
        root: &Path,
        bin: &Path,
        server_port: u16,
        server_id: u32,
        codes: &[String],
    ) -> Result<Instance> {
        let dir = root.join(format!("ha-{name}"));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let port = free_port()?;
        let include: Vec<String> = codes.iter().map(|c| format!("\"{c}\"")).collect();
        let text = format!(
            "[source]\nurl = \"mysql://root@127.0.0.1:{server_port}\"\nserver_id = {server_id}\n\
             heartbeat_secs = 1\n[tenants]\ninclude = [{}]\n[state]\ndir = \"{}\"\n\
             checkpoint_secs = 10\n[http]\nlisten = \"127.0.0.1:{port}\"\n\
             [ha]\nenabled = true\nlease_secs = {LEASE_SECS}\n",
            include.join(", "),
            dir.join("state").display()
        );
        std::fs::write(dir.join("flowtally.toml"), text).context("writing a config")?;
        Ok(Instance {
            name,
            dir,
            port,
            bin: bin.to_path_buf(),
            child: None,
        })
    }

    fn config(&self) -> PathBuf {
        self.dir.join("flowtally.toml")
    }

    fn start(&mut self) -> Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("flowtally.log"))
            .context("opening the instance's log")?;
        let child = Command::new(&self.bin)
            .arg("--config")
            .arg(self.config())
            .arg("run")
            .env("FLOWTALLY_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.bin.display()))?;
        self.child = Some(child);
        Ok(())
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn signal(&self, signal: &str) -> Result<()> {
        let pid = self.pid().context("the instance is not running")?;
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()
            .context("kill")?;
        if !status.success() {
            bail!("kill -{signal} {pid}: {status}");
        }
        Ok(())
    }

    /// SIGTERM, then SIGKILL if it has not exited within 30 s.
    async fn stop(&mut self) {
        if self.signal("TERM").is_err() {
            self.kill9();
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            match self.child.as_mut().map(Child::try_wait) {
                Some(Ok(None)) => tokio::time::sleep(POLL).await,
                _ => {
                    self.child = None;
                    return;
                }
            }
        }
        progress(format!(
            "ha: {} ignored SIGTERM for 30 s: killed",
            self.name
        ));
        self.kill9();
    }

    fn exited(&mut self) -> bool {
        !matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)))
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("flowtally.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// `/healthz`'s role and term; `None` when it does not answer within a second (a paused
    /// process accepts the connection in the kernel but never replies).
    async fn health(&self) -> Option<(String, i64)> {
        let (_, body) = http_get(self.port, "/healthz").await.ok()?;
        Some((
            json_str(&body, "role")?,
            json_int(&body, "term").unwrap_or(0),
        ))
    }

    async fn role(&self) -> Option<String> {
        self.health().await.map(|(r, _)| r)
    }

    async fn ready(&self) -> bool {
        matches!(http_get(self.port, "/readyz").await, Ok((200, _)))
    }

    /// Waits until `/healthz` says `want` and `/readyz` is 200: seconds waited.
    async fn wait_role_ready(&mut self, want: &str) -> Result<f64> {
        let t = Instant::now();
        while t.elapsed() < WAIT_AT_MOST {
            if self.exited() {
                bail!("{} exited:\n{}", self.name, self.log_tail());
            }
            if self.role().await.as_deref() == Some(want) && self.ready().await {
                return Ok(t.elapsed().as_secs_f64());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!(
            "{} not {want} and ready after {:?}:\n{}",
            self.name,
            WAIT_AT_MOST,
            self.log_tail()
        )
    }

    fn cpu_secs(&self) -> Option<f64> {
        proc_cpu_secs(self.pid()?)
    }

    fn rss(&self) -> Option<(u64, u64)> {
        proc_rss(self.pid()?)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(l.local_addr()?.port())
}

/// `GET path` on 127.0.0.1:`port`, at most a second in all: status and body.
async fn http_get(port: u16, path: &str) -> Result<(u16, String)> {
    let fetch = async {
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await?;
        anyhow::Ok(String::from_utf8_lossy(&raw).into_owned())
    };
    let raw = tokio::time::timeout(Duration::from_secs(1), fetch)
        .await
        .map_err(|_| anyhow!("no answer within a second"))??;
    let (head, body) = raw.split_once("\r\n\r\n").context("no header end")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no status")?;
    Ok((status, body.to_string()))
}

/// A string field of a flat JSON object as `serde_json` prints it (`"key":"value"`).
fn json_str(body: &str, key: &str) -> Option<String> {
    let at = body.find(&format!("\"{key}\":\""))? + key.len() + 4;
    Some(body[at..].split('"').next()?.to_string())
}

/// An integer field of such an object (`"key":123`).
fn json_int(body: &str, key: &str) -> Option<i64> {
    let at = body.find(&format!("\"{key}\":"))? + key.len() + 3;
    let digits: String = body[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '-')
        .collect();
    digits.parse().ok()
}

/// utime + stime of a process, in seconds.
fn proc_cpu_secs(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat_cpu_ticks(&text).map(|t| t as f64 / crate::sys::clock_ticks() as f64)
}

/// utime + stime in clock ticks from `/proc/<pid>/stat` (fields 14 and 15; the command name,
/// field 2, may hold spaces and parentheses, so count from the last `)`).
pub fn parse_stat_cpu_ticks(text: &str) -> Option<u64> {
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Resident bytes now and at the peak (`VmRSS`, `VmHWM`).
fn proc_rss(pid: u32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some((
        crate::parse_status_kb(&text, "VmRSS")?,
        crate::parse_status_kb(&text, "VmHWM")?,
    ))
}

async fn global_status(pool: &MySqlPool, name: &str) -> Option<u64> {
    let row = sqlx::query(&format!("SHOW GLOBAL STATUS LIKE '{name}'"))
        .fetch_optional(pool)
        .await
        .ok()??;
    let v: String = row.try_get(1).ok()?;
    v.parse().ok()
}

/// Sleeps until wall-clock `epoch` plus `offset` (negative: before it).
async fn sleep_until_epoch(epoch: i64, offset_ms: i64) {
    let target_ms = epoch * 1000 + offset_ms;
    let wait = target_ms - chrono::Utc::now().timestamp_millis();
    if wait > 0 {
        tokio::time::sleep(Duration::from_millis(wait as u64)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------

/// The instants around a takeover that were missed or committed more than once.
#[derive(Debug, Clone, Default)]
pub struct Audit {
    /// Boundaries checked (every tenant's), from..=to.
    pub from: i64,
    pub to: i64,
    pub commits: u64,
    /// (tenant database, instant) with no commit.
    pub missed: Vec<(String, i64)>,
    /// (tenant database, instant, commits) committed more than once.
    pub doubled: Vec<(String, i64, u64)>,
}

impl Audit {
    fn verdict(&self) -> String {
        let mut s = if self.missed.is_empty() && self.doubled.is_empty() {
            "none missed, none twice".to_string()
        } else {
            format!(
                "{} missed, {} committed twice",
                self.missed.len(),
                self.doubled.len()
            )
        };
        for (db, at) in self.missed.iter().take(3) {
            s.push_str(&format!("; missed {db} {}", hhmm(*at)));
        }
        for (db, at, n) in self.doubled.iter().take(3) {
            s.push_str(&format!("; {db} {} ×{n}", hhmm(*at)));
        }
        s
    }
}

#[derive(Debug, Clone, Default)]
pub struct Takeover {
    pub boundary: i64,
    /// Seconds from the kill (or the pause) until the standby said `leader`, and until its
    /// first snapshot commit.
    pub to_leader: Option<f64>,
    pub to_first_commit: Option<f64>,
    /// Seconds after the boundary until every tenant's snapshot of it was committed.
    pub boundary_done: Option<f64>,
    /// The same for the boundary after.
    pub next_done: Option<f64>,
    /// Terms that committed the boundary's snapshots.
    pub boundary_terms: Vec<i64>,
    pub audit: Audit,
    /// Seconds from restarting the killed one until it was a ready standby.
    pub restart_to_standby: Option<f64>,
    /// Pause only: how long it was stopped, and from SIGCONT until it said `standby`.
    pub paused_for: Option<f64>,
    pub cont_to_standby: Option<f64>,
}

#[derive(Debug, Clone, Default)]
pub struct Cost {
    pub window_secs: f64,
    pub leader_cpu: f64,
    pub standby_cpu: f64,
    pub leader_rss: (u64, u64),
    pub standby_rss: (u64, u64),
    pub server_cpu_two: Option<f64>,
    pub bytes_sent_two: Option<u64>,
    pub threads_two: Option<u64>,
    pub one_window_secs: f64,
    pub leader_cpu_one: f64,
    pub server_cpu_one: Option<f64>,
    pub bytes_sent_one: Option<u64>,
    pub threads_one: Option<u64>,
}

#[derive(Debug, Clone, Default)]
pub struct HaResult {
    pub tenants: usize,
    pub tokens_each: u64,
    pub setup_secs: f64,
    /// Seconds from starting each until it was leader / standby and ready.
    pub first_start: (f64, f64),
    pub cost: Option<Cost>,
    pub takeovers: Vec<Takeover>,
    pub pause: Option<Takeover>,
    /// Every instant of every tenant over the whole run.
    pub whole: Option<Audit>,
    pub holders: usize,
    pub traffic_tx: u64,
    pub traffic_secs: f64,
}

fn hhmm(epoch: i64) -> String {
    flowtally::model::clock::local_time(epoch, crate::TZ)
        .format("%H:%M")
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// The audit in the sink
// ---------------------------------------------------------------------------------------------

/// The lease table (by `flowtally migrate`, as an operator makes it) and a row per snapshot
/// commit, written by triggers on its `written:` rows inside the same transaction.
async fn lease_table_and_audit(pool: &MySqlPool, bin: &Path, config: &Path) -> Result<()> {
    let out = Command::new(bin)
        .arg("--config")
        .arg(config)
        .arg("migrate")
        .output()
        .context("flowtally migrate")?;
    let said = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || !said.contains("lease table") {
        bail!(
            "flowtally migrate: {said}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let audit = |event: &str| {
        format!(
            "CREATE TRIGGER {core}.bench_commit_{e} AFTER {event} ON {core}.flowtally_lease \
             FOR EACH ROW INSERT INTO {AUDIT_DB}.commits (name, holder, term, written_at, \
             committed_at) SELECT NEW.name, NEW.holder, NEW.term, NEW.written_at, \
             UNIX_TIMESTAMP(SYSDATE(6)) FROM DUAL \
             WHERE NEW.name LIKE 'written:%'",
            core = crate::CORE_DB,
            e = event.to_ascii_lowercase(),
        )
    };
    for sql in [
        format!("CREATE DATABASE IF NOT EXISTS {AUDIT_DB}"),
        format!(
            "CREATE TABLE IF NOT EXISTS {AUDIT_DB}.commits (id BIGINT AUTO_INCREMENT PRIMARY \
             KEY, name VARCHAR(100), holder VARCHAR(255), term BIGINT, written_at BIGINT, \
             committed_at DOUBLE, KEY (name, written_at))"
        ),
        audit("INSERT"),
        audit("UPDATE"),
    ] {
        sqlx::raw_sql(&sql)
            .execute(pool)
            .await
            .with_context(|| sql.clone())?;
    }
    Ok(())
}

async fn last_audit_id(pool: &MySqlPool) -> Result<i64> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT COALESCE(MAX(id), 0) FROM {AUDIT_DB}.commits"
    ))
    .fetch_one(pool)
    .await?)
}

/// Whether a commit with a term above `term` was audited after row `after`.
async fn committed_by_later_term(pool: &MySqlPool, after: i64, term: i64) -> bool {
    sqlx::query_scalar::<_, i64>(&format!(
        "SELECT COUNT(*) FROM {AUDIT_DB}.commits WHERE id > ? AND term > ?"
    ))
    .bind(after)
    .bind(term)
    .fetch_one(pool)
    .await
    .is_ok_and(|n| n > 0)
}

/// How many tenants have every instant up to `at` committed (the lease table's progress rows).
async fn tenants_written_to(pool: &MySqlPool, at: i64) -> usize {
    sqlx::query_scalar::<_, i64>(&format!(
        "SELECT COUNT(*) FROM {}.flowtally_lease WHERE name LIKE 'written:%' AND written_at >= ?",
        crate::CORE_DB
    ))
    .bind(at)
    .fetch_one(pool)
    .await
    .map_or(0, |n| n as usize)
}

/// Waits until every tenant has committed `at`: seconds after `at` (wall clock), if it did
/// within [`WAIT_AT_MOST`].
async fn wait_written(pool: &MySqlPool, n: usize, at: i64) -> Option<f64> {
    let t = Instant::now();
    while t.elapsed() < WAIT_AT_MOST {
        if tenants_written_to(pool, at).await >= n {
            return Some(chrono::Utc::now().timestamp_millis() as f64 / 1000.0 - at as f64);
        }
        tokio::time::sleep(POLL).await;
    }
    None
}

/// Every boundary `from..=to` of each tenant in `dbs`: missed or committed more than once.
/// `None` for `from` or `to`: each tenant's first or last audited instant.
async fn audit(
    pool: &MySqlPool,
    dbs: &[String],
    from: Option<i64>,
    to: Option<i64>,
) -> Result<Audit> {
    let rows = sqlx::query(&format!(
        "SELECT SUBSTRING(name, 9), written_at, COUNT(*) FROM {AUDIT_DB}.commits \
         WHERE written_at IS NOT NULL GROUP BY name, written_at ORDER BY name, written_at"
    ))
    .fetch_all(pool)
    .await
    .context("reading the audit")?;
    let mut by_db: std::collections::HashMap<String, Vec<(i64, u64)>> = Default::default();
    for r in rows {
        let db: String = r.try_get(0)?;
        let at: i64 = r.try_get(1)?;
        let n: i64 = r.try_get(2)?;
        by_db.entry(db).or_default().push((at, n as u64));
    }
    let mut a = Audit {
        from: from.unwrap_or(i64::MAX),
        to: to.unwrap_or(i64::MIN),
        ..Audit::default()
    };
    for db in dbs {
        let seen = by_db.get(db).map(Vec::as_slice).unwrap_or(&[]);
        let lo = from.or(seen.first().map(|s| s.0));
        let hi = to.or(seen.last().map(|s| s.0));
        let (Some(lo), Some(hi)) = (lo, hi) else {
            a.missed.push((db.clone(), from.unwrap_or(0)));
            continue;
        };
        a.from = a.from.min(lo);
        a.to = a.to.max(hi);
        let counts: std::collections::HashMap<i64, u64> = seen.iter().copied().collect();
        let mut m = lo.div_euclid(60) * 60;
        if m < lo {
            m += 60;
        }
        while m <= hi {
            match counts.get(&m).copied().unwrap_or(0) {
                0 => a.missed.push((db.clone(), m)),
                1 => {}
                n => a.doubled.push((db.clone(), m, n)),
            }
            a.commits += counts.get(&m).copied().unwrap_or(0);
            m += 60;
        }
        // An instant off the minute would be a bug of its own: count it as doubled.
        for (at, n) in seen {
            if at.rem_euclid(60) != 0 && (lo..=hi).contains(at) {
                a.doubled.push((db.clone(), *at, *n));
            }
        }
    }
    Ok(a)
}

/// Once every tenant has committed `at`: how long after `at` the last of them was, by the
/// server's clock inside the snapshot transactions (so whenever the bench asks).
async fn committed_after(pool: &MySqlPool, n: usize, at: i64) -> Option<f64> {
    wait_written(pool, n, at).await?;
    sqlx::query_scalar::<_, Option<f64>>(&format!(
        "SELECT MAX(committed_at) - ? FROM {AUDIT_DB}.commits WHERE written_at = ?"
    ))
    .bind(at as f64)
    .bind(at)
    .fetch_one(pool)
    .await
    .ok()
    .flatten()
}

/// The terms that committed `at` (any tenant).
async fn terms_of(pool: &MySqlPool, at: i64) -> Vec<i64> {
    sqlx::query_scalar::<_, i64>(&format!(
        "SELECT DISTINCT term FROM {AUDIT_DB}.commits WHERE written_at = ? ORDER BY term"
    ))
    .bind(at)
    .fetch_all(pool)
    .await
    .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// The part
// ---------------------------------------------------------------------------------------------

pub async fn bench_ha(pool: &MySqlPool, server: &Server, n: usize, seed: u64) -> Result<HaResult> {
    let bin = flowtally_bin()?;
    let mut r = HaResult {
        tenants: n,
        tokens_each: TOKENS_EACH,
        ..HaResult::default()
    };
    let t = Instant::now();
    let mut codes = Vec::with_capacity(n);
    let mut dbs = Vec::with_capacity(n);
    for i in 0..n {
        let code = format!("{CODE_PREFIX}{i:04}");
        simulate::setup_tenant(pool, crate::CORE_DB, crate::PREFIX, &code).await?;
        let db = simulate::tenant_db(crate::PREFIX, &code);
        simulate::bulk_history(
            pool,
            &db,
            TOKENS_EACH,
            30,
            seed + 2000 + i as u64,
            crate::TZ,
            now_epoch(),
        )
        .await?;
        codes.push(code);
        dbs.push(db);
    }
    let root = server.root().to_path_buf();
    let mut a = Instance::new("A", &root, &bin, server.port(), 4301, &codes)?;
    let mut b = Instance::new("B", &root, &bin, server.port(), 4302, &codes)?;
    lease_table_and_audit(pool, &bin, &a.config()).await?;
    r.setup_secs = t.elapsed().as_secs_f64();
    progress(format!(
        "ha: {n} tenants of {TOKENS_EACH} tokens set up in {}",
        fmt_secs(r.setup_secs)
    ));

    // Both instances, then the measurements under traffic; whatever happens, the traffic stops
    // and both processes are stopped.
    let stop_traffic = AtomicBool::new(false);
    let opts = simulate::SimOptions {
        seed: seed + 17,
        tenants: dbs.clone(),
        transactions: None,
        rate_per_sec: Some(TRAFFIC_RATE),
        event_time: None,
        bad_rows: false,
        tz: crate::TZ,
        bottleneck: None,
    };
    let measuring = async {
        let res = measure(pool, server, &dbs, &mut a, &mut b, &mut r).await;
        stop_traffic.store(true, Ordering::SeqCst);
        res
    };
    let (traffic, measured) =
        tokio::join!(simulate::run_until(pool, &opts, &stop_traffic), measuring);
    b.stop().await;
    a.stop().await;
    match traffic {
        Ok(s) => {
            r.traffic_tx = s.transactions;
            r.traffic_secs = s.elapsed.as_secs_f64();
        }
        Err(e) => progress(format!("ha: traffic stopped early: {e:#}")),
    }
    measured?;
    r.whole = Some(audit(pool, &dbs, None, None).await?);
    r.holders = sqlx::query_scalar::<_, i64>(&format!(
        "SELECT COUNT(DISTINCT holder) FROM {AUDIT_DB}.commits"
    ))
    .fetch_one(pool)
    .await
    .map_or(0, |n| n as usize);
    Ok(r)
}

async fn measure(
    pool: &MySqlPool,
    server: &Server,
    dbs: &[String],
    a: &mut Instance,
    b: &mut Instance,
    r: &mut HaResult,
) -> Result<()> {
    let n = dbs.len();
    a.start()?;
    r.first_start.0 = a.wait_role_ready("leader").await?;
    b.start()?;
    r.first_start.1 = b.wait_role_ready("standby").await?;
    progress(format!(
        "ha: A leader after {}, B standby after {}",
        fmt_secs(r.first_start.0),
        fmt_secs(r.first_start.1)
    ));
    // The first boundary after both started, written: from here on every minute is audited.
    wait_written(pool, n, (now_epoch() / 60 + 1) * 60).await;

    r.cost = Some(cost(pool, server, a, b).await?);

    let (mut leader, mut standby) = (a, b);
    for round in 0..TAKEOVERS {
        let k = takeover(pool, dbs, leader, standby).await?;
        progress(format!(
            "ha: takeover {}: leader after {}, first commit after {}, {}",
            round + 1,
            k.to_leader.map_or("-".into(), fmt_secs),
            k.to_first_commit.map_or("-".into(), fmt_secs),
            k.audit.verdict()
        ));
        r.takeovers.push(k);
        std::mem::swap(&mut leader, &mut standby);
    }
    let p = pause(pool, dbs, leader, standby).await?;
    progress(format!(
        "ha: pause: leader after {}, first commit after {}, back to standby {} after SIGCONT, {}",
        p.to_leader.map_or("-".into(), fmt_secs),
        p.to_first_commit.map_or("-".into(), fmt_secs),
        p.cont_to_standby.map_or("-".into(), fmt_secs),
        p.audit.verdict()
    ));
    r.pause = Some(p);
    Ok(())
}

/// The process and server figures over one window.
struct Sample {
    at: Instant,
    leader_cpu: Option<f64>,
    standby_cpu: Option<f64>,
    server_cpu: Option<f64>,
    bytes_sent: Option<u64>,
}

async fn sample(pool: &MySqlPool, server: &Server, l: &Instance, s: &Instance) -> Sample {
    Sample {
        at: Instant::now(),
        leader_cpu: l.cpu_secs(),
        standby_cpu: s.cpu_secs(),
        server_cpu: server.pid().and_then(proc_cpu_secs),
        bytes_sent: global_status(pool, "Bytes_sent").await,
    }
}

fn delta(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(b? - a?)
}

/// Over [`COST_WINDOW`] with both instances running, then with the standby stopped; the
/// standby is started again after.
async fn cost(
    pool: &MySqlPool,
    server: &Server,
    a: &mut Instance,
    b: &mut Instance,
) -> Result<Cost> {
    progress("ha: the standby's cost: 60 s with two instances, 60 s with one");
    let mut c = Cost::default();
    let s0 = sample(pool, server, a, b).await;
    tokio::time::sleep(COST_WINDOW).await;
    let s1 = sample(pool, server, a, b).await;
    c.window_secs = s1.at.duration_since(s0.at).as_secs_f64();
    c.leader_cpu = delta(s0.leader_cpu, s1.leader_cpu).unwrap_or(f64::NAN);
    c.standby_cpu = delta(s0.standby_cpu, s1.standby_cpu).unwrap_or(f64::NAN);
    c.server_cpu_two = delta(s0.server_cpu, s1.server_cpu);
    c.bytes_sent_two = s1.bytes_sent.zip(s0.bytes_sent).map(|(x, y)| x - y);
    c.threads_two = global_status(pool, "Threads_connected").await;
    c.leader_rss = a.rss().unwrap_or_default();
    c.standby_rss = b.rss().unwrap_or_default();

    b.stop().await;
    // Let the server notice the closed binlog connection before counting.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let s0 = sample(pool, server, a, b).await;
    tokio::time::sleep(COST_WINDOW).await;
    let s1 = sample(pool, server, a, b).await;
    c.one_window_secs = s1.at.duration_since(s0.at).as_secs_f64();
    c.leader_cpu_one = delta(s0.leader_cpu, s1.leader_cpu).unwrap_or(f64::NAN);
    c.server_cpu_one = delta(s0.server_cpu, s1.server_cpu);
    c.bytes_sent_one = s1.bytes_sent.zip(s0.bytes_sent).map(|(x, y)| x - y);
    c.threads_one = global_status(pool, "Threads_connected").await;
    b.start()?;
    b.wait_role_ready("standby").await?;
    Ok(c)
}

/// The next boundary at least `margin` ahead (wall clock).
fn boundary_after(margin: Duration) -> i64 {
    let earliest = chrono::Utc::now().timestamp_millis() + margin.as_millis() as i64;
    (earliest.div_euclid(60_000) + 1) * 60
}

/// Kills the leader [`KILL_BEFORE`] a boundary; times the standby's takeover; checks the
/// minutes around it; restarts the killed one as the standby.
async fn takeover(
    pool: &MySqlPool,
    dbs: &[String],
    leader: &mut Instance,
    standby: &mut Instance,
) -> Result<Takeover> {
    let n = dbs.len();
    let boundary = boundary_after(KILL_BEFORE + Duration::from_secs(5));
    let mut k = Takeover {
        boundary,
        ..Takeover::default()
    };
    let term = leader.health().await.map_or(0, |(_, t)| t);
    sleep_until_epoch(boundary, -(KILL_BEFORE.as_millis() as i64)).await;
    let after = last_audit_id(pool).await?;
    let killed = Instant::now();
    leader.kill9();
    (k.to_leader, k.to_first_commit) = watch_takeover(pool, standby, killed, after, term).await;
    k.boundary_done = committed_after(pool, n, boundary).await;
    k.boundary_terms = terms_of(pool, boundary).await;
    k.next_done = committed_after(pool, n, boundary + 60).await;
    k.audit = audit(pool, dbs, Some(boundary - 60), Some(boundary + 60)).await?;
    let t = Instant::now();
    leader.start()?;
    leader.wait_role_ready("standby").await?;
    k.restart_to_standby = Some(t.elapsed().as_secs_f64());
    Ok(k)
}

/// From `since`: until `standby` says `leader`, and until a commit of a term above `term` is
/// audited (row id above `after`).
async fn watch_takeover(
    pool: &MySqlPool,
    standby: &Instance,
    since: Instant,
    after: i64,
    term: i64,
) -> (Option<f64>, Option<f64>) {
    let (mut to_leader, mut to_commit) = (None, None);
    while since.elapsed() < WAIT_AT_MOST && (to_leader.is_none() || to_commit.is_none()) {
        if to_leader.is_none() && standby.role().await.as_deref() == Some("leader") {
            to_leader = Some(since.elapsed().as_secs_f64());
        }
        if to_commit.is_none() && committed_by_later_term(pool, after, term).await {
            to_commit = Some(since.elapsed().as_secs_f64());
        }
        tokio::time::sleep(POLL).await;
    }
    (to_leader, to_commit)
}

/// SIGSTOP of the leader [`PAUSE_AFTER`] a boundary; the standby's takeover; SIGCONT two
/// seconds after the new leader's first commit, and the old one's return as a standby.
async fn pause(
    pool: &MySqlPool,
    dbs: &[String],
    leader: &mut Instance,
    standby: &mut Instance,
) -> Result<Takeover> {
    let n = dbs.len();
    let boundary = boundary_after(Duration::from_secs(5));
    let mut k = Takeover {
        boundary,
        ..Takeover::default()
    };
    let term = leader.health().await.map_or(0, |(_, t)| t);
    sleep_until_epoch(boundary, PAUSE_AFTER.as_millis() as i64).await;
    let after = last_audit_id(pool).await?;
    leader.signal("STOP")?;
    let stopped = Instant::now();
    let watched = watch_takeover(pool, standby, stopped, after, term).await;
    (k.to_leader, k.to_first_commit) = watched;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let resumed = Instant::now();
    // Whatever happened above, the process must not stay stopped.
    leader.signal("CONT")?;
    k.paused_for = Some(resumed.duration_since(stopped).as_secs_f64());
    while resumed.elapsed() < WAIT_AT_MOST {
        if leader.role().await.as_deref() == Some("standby") {
            k.cont_to_standby = Some(resumed.elapsed().as_secs_f64());
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    k.boundary_done = committed_after(pool, n, boundary).await;
    k.boundary_terms = terms_of(pool, boundary).await;
    k.next_done = committed_after(pool, n, boundary + 60).await;
    let last = boundary_after(Duration::ZERO);
    wait_written(pool, n, last).await;
    k.audit = audit(pool, dbs, Some(boundary - 60), Some(last)).await?;
    Ok(k)
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

fn opt_secs(s: Option<f64>) -> String {
    s.map_or("-".into(), fmt_secs)
}

impl HaResult {
    pub fn render(&self, out: &mut String) {
        out.push_str(&format!(
            "## High availability: two instances, {} tenants of {} tokens, {} tx/s, lease {} s\n\n",
            self.tenants,
            self.tokens_each,
            fmt_int(TRAFFIC_RATE),
            LEASE_SECS
        ));
        out.push_str(&format!(
            "Set-up {}; A leader and ready {} after its start, B standby and ready {} after its \
             start. Traffic: {} transactions in {} ({:.0} tx/s).\n\n",
            fmt_secs(self.setup_secs),
            fmt_secs(self.first_start.0),
            fmt_secs(self.first_start.1),
            fmt_int(self.traffic_tx as f64),
            fmt_secs(self.traffic_secs),
            self.traffic_tx as f64 / self.traffic_secs.max(1e-9)
        ));

        out.push_str(&format!(
            "### Takeover after kill -9 of the leader, {} s before a boundary\n\n",
            KILL_BEFORE.as_secs()
        ));
        let mut t = Table::new(&[
            "run",
            "boundary",
            "kill → standby says leader",
            "kill → its first commit",
            "boundary → every tenant's snapshot of it committed",
            "the next boundary → the same",
            "terms that committed it",
            "minutes boundary−1..+1",
            "restart → ready standby",
        ]);
        for (i, k) in self.takeovers.iter().enumerate() {
            t.row(vec![
                (i + 1).to_string(),
                hhmm(k.boundary),
                opt_secs(k.to_leader),
                opt_secs(k.to_first_commit),
                opt_secs(k.boundary_done),
                opt_secs(k.next_done),
                terms(&k.boundary_terms),
                k.audit.verdict(),
                opt_secs(k.restart_to_standby),
            ]);
        }
        let med = |f: fn(&Takeover) -> Option<f64>| {
            let v: Vec<f64> = self.takeovers.iter().filter_map(f).collect();
            stats(&v).map_or("-".into(), |s| fmt_secs(s.median))
        };
        t.row(vec![
            "median".into(),
            String::new(),
            med(|k| k.to_leader),
            med(|k| k.to_first_commit),
            med(|k| k.boundary_done),
            med(|k| k.next_done),
            String::new(),
            String::new(),
            med(|k| k.restart_to_standby),
        ]);
        out.push_str(&t.render());
        out.push('\n');

        if let Some(p) = &self.pause {
            out.push_str(&format!(
                "### Paused leader (SIGSTOP {} s after a boundary, SIGCONT 2 s after the new \
                 leader's first commit)\n\n",
                PAUSE_AFTER.as_secs()
            ));
            let mut t = Table::new(&["measurement", "value"]);
            for (k, v) in [
                ("boundary", hhmm(p.boundary)),
                ("SIGSTOP → standby says leader", opt_secs(p.to_leader)),
                (
                    "SIGSTOP → its first commit (of the first instant it had to write)",
                    opt_secs(p.to_first_commit),
                ),
                ("stopped for", opt_secs(p.paused_for)),
                (
                    "SIGCONT → old leader says standby",
                    opt_secs(p.cont_to_standby),
                ),
                (
                    "boundary → every tenant's snapshot of it committed",
                    opt_secs(p.boundary_done),
                ),
                (
                    "terms that committed the boundary",
                    terms(&p.boundary_terms),
                ),
                (
                    "the next boundary → every tenant's snapshot of it committed",
                    opt_secs(p.next_done),
                ),
                (
                    "minutes from boundary−1 to the first after SIGCONT",
                    p.audit.verdict(),
                ),
            ] {
                t.row(vec![k.to_string(), v]);
            }
            out.push_str(&t.render());
            out.push('\n');
        }

        if let Some(c) = &self.cost {
            out.push_str(&format!(
                "### The standby's cost ({:.0} s windows of steady traffic)\n\n",
                c.window_secs
            ));
            let mut t = Table::new(&["", "two instances", "leader alone"]);
            let cpu = |s: f64, w: f64| format!("{:.2} s ({:.1}% of a core)", s, 100.0 * s / w);
            let ocpu = |s: Option<f64>, w: f64| s.map_or("-".into(), |s| cpu(s, w));
            let bytes = |b: Option<u64>, w: f64| {
                b.map_or("-".into(), |b| {
                    format!("{} ({}/s)", fmt_bytes(b as f64), fmt_bytes(b as f64 / w))
                })
            };
            let rss = |(now, peak): (u64, u64)| {
                format!(
                    "{} (peak {})",
                    fmt_bytes(now as f64),
                    fmt_bytes(peak as f64)
                )
            };
            for (k, two, one) in [
                (
                    "leader CPU (utime+stime)",
                    cpu(c.leader_cpu, c.window_secs),
                    cpu(c.leader_cpu_one, c.one_window_secs),
                ),
                (
                    "standby CPU (utime+stime)",
                    cpu(c.standby_cpu, c.window_secs),
                    "-".into(),
                ),
                ("leader RSS", rss(c.leader_rss), String::new()),
                ("standby RSS", rss(c.standby_rss), String::new()),
                (
                    "server CPU",
                    ocpu(c.server_cpu_two, c.window_secs),
                    ocpu(c.server_cpu_one, c.one_window_secs),
                ),
                (
                    "server Bytes_sent",
                    bytes(c.bytes_sent_two, c.window_secs),
                    bytes(c.bytes_sent_one, c.one_window_secs),
                ),
                (
                    "Threads_connected (end of window)",
                    c.threads_two.map_or("-".into(), |v| v.to_string()),
                    c.threads_one.map_or("-".into(), |v| v.to_string()),
                ),
            ] {
                t.row(vec![k.to_string(), two, one]);
            }
            out.push_str(&t.render());
            out.push('\n');
        }

        if let Some(w) = &self.whole {
            out.push_str(&format!(
                "Whole run, every tenant, {} to {}: {} snapshot commits audited, {}; {} \
                 instances committed.\n\n",
                hhmm(w.from),
                hhmm(w.to),
                fmt_int(w.commits as f64),
                w.verdict(),
                self.holders
            ));
        }
    }

    /// (target, measured, met) of the part.
    pub fn verdicts(&self) -> Vec<(String, String, Option<bool>)> {
        let mut v = Vec::new();
        // After a kill the standby holds the boundary the leader never wrote, so its first
        // commit is the takeover; a paused leader may have committed its boundary already,
        // leaving the new one nothing to write until the next minute: there the lease counts.
        let worst = self
            .takeovers
            .iter()
            .map(|k| k.to_first_commit)
            .chain(self.pause.iter().map(|p| p.to_leader))
            .map(|s| s.unwrap_or(f64::INFINITY))
            .fold(f64::NAN, f64::max);
        let limit = LEASE_SECS as f64 + 5.0;
        if !self.takeovers.is_empty() {
            let kills: Vec<String> = self
                .takeovers
                .iter()
                .map(|k| opt_secs(k.to_first_commit))
                .collect();
            v.push((
                format!("takeover ≤ lease + 5 s ({limit:.0} s)"),
                format!(
                    "kill -9 → first commit: {}; SIGSTOP → leader: {}",
                    kills.join(", "),
                    self.pause
                        .as_ref()
                        .map_or("-".into(), |p| opt_secs(p.to_leader))
                ),
                Some(worst <= limit),
            ));
        }
        if let Some(w) = &self.whole {
            let around = self
                .takeovers
                .iter()
                .chain(self.pause.iter())
                .all(|k| k.audit.missed.is_empty() && k.audit.doubled.is_empty());
            v.push((
                "no minute missed or committed twice".into(),
                w.verdict(),
                Some(around && w.missed.is_empty() && w.doubled.is_empty()),
            ));
        }
        v
    }
}

fn terms(t: &[i64]) -> String {
    if t.is_empty() {
        return "-".into();
    }
    t.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_cpu_ticks() {
        let stat = "1234 (flow tally) S 1 1234 1234 0 -1 4194304 100 0 0 0 250 75 0 0 20 0 9";
        assert_eq!(parse_stat_cpu_ticks(stat), Some(325));
        assert_eq!(parse_stat_cpu_ticks("garbage"), None);
    }

    #[test]
    fn health_fields() {
        let body = r#"{"instance":"h#1","role":"leader","status":"ok","term":7}"#;
        assert_eq!(json_str(body, "role").as_deref(), Some("leader"));
        assert_eq!(json_int(body, "term"), Some(7));
        assert_eq!(json_int(body, "nope"), None);
    }
}
