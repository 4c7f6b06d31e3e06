//! Seeded factory traffic simulator: the only part of flowtally that *writes* the ERP's source
//! tables. Tests, benchmarks and demos use it to produce realistic binlog traffic.
//!
//! It owns:
//! - creating a tenant from the ERP fixtures ([`setup_tenant`]: core database + `organization`
//!   row, tenant database + source tables);
//! - the dimension seed of a fresh tenant ([`seed_dimensions`]: 2 routing graphs, 8 nodes, 5 teams,
//!   15 operators with varied memberships, flags and capacities);
//! - the traffic generator ([`run`]): transactions that spawn, assign, start, pause, resume,
//!   complete, cancel, scrap and delete tokens and assignments, change teams and memberships,
//!   sometimes touch two tenants at once and, on request, write the bad rows flowtally must
//!   leave out (docs/metrics.md);
//! - fast bulk history for benchmarks ([`bulk_history`]).
//!
//! Determinism: one [`SmallRng`] seeded from [`SimOptions::seed`] makes every choice; ids are
//! assigned by the simulator (max id + 1, read at start), and the in-memory mirror of what is in
//! flight is loaded from the database in key order, so the same seed on a fresh database writes
//! the same rows. Every DATETIME written is the transaction's instant (simulated with
//! [`EventTime`], else the real clock) rendered as wall-clock time in [`SimOptions::tz`]; with
//! [`EventTime`] the session also runs `SET timestamp`, so the binlog events carry that time.
//!
//! Mirror: tokens and open assignments the simulator may still move. Rows it made bad (a token
//! with status '' or at [`MISSING_NODE_ID`]) and their open assignments leave the mirror and are
//! never touched again; a later [`run`] on the same databases re-reads live tokens at known nodes,
//! open assignments (the highest id per token), and the latest 1,000 scrapped tokens and
//! cancelled/rejected assignments (candidates for deletion).
//!
//! Not simulated: `job_graph_instance.status` stays 'active' in [`run`] (flowtally does not read
//! it); dimension rows' `created_at` take their DEFAULT (the session's `SET timestamp` if given).
//!
//! Speed: each transaction is one multi-statement round trip
//! (`SET timestamp=..; START TRANSACTION; ...; COMMIT`) on one dedicated connection, detached
//! from the pool so no session state (timestamp, sql_mode) ever leaks back into it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Datelike, NaiveDateTime, Timelike, Utc};
use chrono_tz::Tz;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use sqlx::mysql::MySqlConnection;
use sqlx::{Connection, MySqlPool, Row};

use crate::fixtures::{CORE_DDL, TENANT_SOURCE_DDL};

/// A node id that no `routing_node` row has; bad-row tokens are moved there.
pub const MISSING_NODE_ID: i64 = 999_999;
/// Operators are `OPERATOR_FIRST ..= OPERATOR_LAST`; the last two belong to no team.
pub const OPERATOR_FIRST: i64 = 1001;
pub const OPERATOR_LAST: i64 = 1015;

/// Simulated event time: transaction `n` (counted from 0 over all tenants) happens at
/// `start_epoch + n * step_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventTime {
    pub start_epoch: i64,
    pub step_secs: i64,
}

impl EventTime {
    /// The instant of transaction `n`.
    pub fn at(&self, n: u64) -> i64 {
        self.start_epoch + self.step_secs.saturating_mul(n as i64)
    }
}

/// What [`run`] does.
#[derive(Debug, Clone)]
pub struct SimOptions {
    pub seed: u64,
    /// Tenant database names (already set up and seeded).
    pub tenants: Vec<String>,
    /// Stop after this many committed transactions; `None` runs until cancelled.
    pub transactions: Option<u64>,
    /// Pace to this many transactions per second; `None` runs as fast as possible.
    pub rate_per_sec: Option<f64>,
    pub event_time: Option<EventTime>,
    /// About 1% of transactions write a bad row (docs/metrics.md, "Bad rows").
    pub bad_rows: bool,
    /// The factory time zone DATETIMEs are written in.
    pub tz: Tz,
    /// A node (by `node_code`) whose work goes [`BOTTLENECK_SLOWDOWN`] times slower: its tokens
    /// are assigned, started and completed that much less often, so its queue grows (past the
    /// seeded WIP limit of `SEW`, say) and the dashboard's andon calls it out.
    pub bottleneck: Option<String>,
}

/// How much slower the work at [`SimOptions::bottleneck`] goes.
pub const BOTTLENECK_SLOWDOWN: u32 = 10;

/// The WIP limit [`seed_dimensions`] gives node `SEW` (the demo's bottleneck); the other nodes
/// get a random one, or none.
pub const SEW_WIP_LIMIT: i64 = 12;

impl Default for SimOptions {
    /// Seed 1, no tenants, 1,000 transactions, unpaced, real clock, no bad rows, Asia/Bangkok,
    /// no bottleneck.
    fn default() -> Self {
        SimOptions {
            seed: 1,
            tenants: Vec::new(),
            transactions: Some(1_000),
            rate_per_sec: None,
            event_time: None,
            bad_rows: false,
            tz: chrono_tz::Asia::Bangkok,
            bottleneck: None,
        }
    }
}

/// Rows written to one table (summed over tenants).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableStats {
    pub inserted: u64,
    pub updated: u64,
    pub deleted: u64,
}

impl TableStats {
    fn add(&mut self, o: &TableStats) {
        self.inserted += o.inserted;
        self.updated += o.updated;
        self.deleted += o.deleted;
    }
}

/// What [`run`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SimStats {
    /// Committed transactions.
    pub transactions: u64,
    /// Transactions the server refused (each followed by a reconnect and a reload of the mirror).
    pub failed_transactions: u64,
    /// Committed transactions that touched two tenants.
    pub cross_tenant_transactions: u64,
    /// Bad rows written (only with [`SimOptions::bad_rows`]).
    pub bad_rows: u64,
    /// Rows by table name.
    pub tables: BTreeMap<String, TableStats>,
    /// Committed transactions by tenant database (a cross-tenant one counts for both).
    pub by_tenant: BTreeMap<String, u64>,
    /// Simulated (or real) epoch of the last transaction.
    pub last_epoch: i64,
    pub elapsed: Duration,
}

impl SimStats {
    /// The rows written to `table` (zero if none).
    pub fn table(&self, table: &str) -> TableStats {
        self.tables.get(table).copied().unwrap_or_default()
    }

    /// All rows inserted, updated and deleted.
    pub fn rows_written(&self) -> u64 {
        self.tables
            .values()
            .map(|t| t.inserted + t.updated + t.deleted)
            .sum()
    }

    /// Committed transactions per second of wall time.
    pub fn tx_per_sec(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.transactions as f64 / s
        } else {
            0.0
        }
    }
}

/// `db_prefix + lowercased code`: the tenant database name.
pub fn tenant_db(db_prefix: &str, code: &str) -> String {
    format!("{db_prefix}{}", code.to_lowercase())
}

/// Backquoted identifier. The product has the same three lines (`flowtally::db::ident`), but the
/// testkit does not depend on the product: the product's own tests depend on the testkit.
fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Single-quoted string literal (for the few strings that are not generated here).
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

// ---------------------------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------------------------

/// The wall-clock time in `tz` at `epoch`.
pub fn local_naive(epoch: i64, tz: Tz) -> Result<NaiveDateTime> {
    let utc: DateTime<Utc> = DateTime::from_timestamp(epoch, 0)
        .with_context(|| format!("epoch {epoch} out of range"))?;
    Ok(utc.with_timezone(&tz).naive_local())
}

fn push_num(out: &mut String, v: u32, width: usize) {
    let mut buf = [b'0'; 4];
    let mut v = v;
    for i in (0..width).rev() {
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    for &b in &buf[..width] {
        out.push(char::from(b));
    }
}

/// Appends `'YYYY-MM-DD HH:MM:SS'`.
fn push_dt(out: &mut String, t: &NaiveDateTime) {
    out.push('\'');
    push_num(out, t.year().clamp(0, 9999) as u32, 4);
    out.push('-');
    push_num(out, t.month(), 2);
    out.push('-');
    push_num(out, t.day(), 2);
    out.push(' ');
    push_num(out, t.hour(), 2);
    out.push(':');
    push_num(out, t.minute(), 2);
    out.push(':');
    push_num(out, t.second(), 2);
    out.push('\'');
}

/// `'YYYY-MM-DD HH:MM:SS'` of `epoch` in `tz`.
fn dt_lit(epoch: i64, tz: Tz) -> Result<String> {
    let mut s = String::with_capacity(21);
    push_dt(&mut s, &local_naive(epoch, tz)?);
    Ok(s)
}

// ---------------------------------------------------------------------------------------------
// Setup and dimensions
// ---------------------------------------------------------------------------------------------

/// [`setup_tenant_at`] with the server's clock.
pub async fn setup_tenant(
    pool: &MySqlPool,
    core_db: &str,
    db_prefix: &str,
    code: &str,
) -> Result<()> {
    setup_tenant_at(pool, core_db, db_prefix, code, None).await
}

/// Creates `core_db` and its `organization` table if missing, (re)creates the tenant database
/// `db_prefix + lowercase(code)` with the source tables, and upserts the active organization
/// row. The mv_ tables are flowtally's to create (`flowtally migrate`). With `epoch`, the session runs `SET timestamp` first so
/// the binlog events are dated then.
pub async fn setup_tenant_at(
    pool: &MySqlPool,
    core_db: &str,
    db_prefix: &str,
    code: &str,
    epoch: Option<i64>,
) -> Result<()> {
    let db = tenant_db(db_prefix, code);
    let mut conn = pool
        .acquire()
        .await
        .context("acquiring a connection for setup_tenant")?
        .detach();
    let res = async {
        if let Some(e) = epoch {
            sqlx::raw_sql(&format!("SET timestamp = {e}"))
                .execute(&mut conn)
                .await
                .context("SET timestamp")?;
        }
        let core_sql = if core_db == "bgerp" {
            CORE_DDL.to_string()
        } else {
            CORE_DDL
                .replace(
                    "IF NOT EXISTS bgerp ",
                    &format!("IF NOT EXISTS {} ", ident(core_db)),
                )
                .replace(
                    "bgerp.organization",
                    &format!("{}.organization", ident(core_db)),
                )
        };
        sqlx::raw_sql(&core_sql)
            .execute(&mut conn)
            .await
            .with_context(|| format!("creating core database {core_db}"))?;
        let q = ident(&db);
        sqlx::raw_sql(&format!(
            "DROP DATABASE IF EXISTS {q}; \
             CREATE DATABASE {q} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci; USE {q}"
        ))
        .execute(&mut conn)
        .await
        .with_context(|| format!("creating tenant database {db}"))?;
        sqlx::raw_sql(TENANT_SOURCE_DDL)
            .execute(&mut conn)
            .await
            .with_context(|| format!("creating source tables in {db}"))?;
        sqlx::raw_sql(&format!(
            "INSERT INTO {}.organization (code, name, status) VALUES ({}, {}, 'active') \
             ON DUPLICATE KEY UPDATE code = VALUES(code), status = 'active'",
            ident(core_db),
            lit(code),
            lit(&format!("Factory {code}")),
        ))
        .execute(&mut conn)
        .await
        .with_context(|| format!("upserting organization {code} in {core_db}"))?;
        anyhow::Ok(())
    }
    .await;
    // The session's default database and timestamp must not outlive this call.
    let _ = conn.close().await;
    res
}

/// A seeded routing node: id, graph, code, name, node type, team category, sequence.
type NodeSeed = (
    i64,
    i64,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    i64,
);

/// [`seed_dimensions_at`] with the server's clock.
pub async fn seed_dimensions(pool: &MySqlPool, db: &str, rng_seed: u64) -> Result<()> {
    seed_dimensions_at(pool, db, rng_seed, None).await
}

/// Seeds a fresh tenant: graphs 1 ('classic', 5 nodes) and 2 (NULL production type, 3 nodes,
/// one node without team category), teams 1–5 (team 5 inactive; no team of category
/// 'finishing'), operators 1001–1013 in teams (four in two teams, three inactive memberships,
/// capacities NULL / 0 / positive), 1014–1015 in none. Does nothing if the tenant already has a
/// routing graph. With `epoch`, the transaction is dated then (`SET timestamp`).
pub async fn seed_dimensions_at(
    pool: &MySqlPool,
    db: &str,
    rng_seed: u64,
    epoch: Option<i64>,
) -> Result<()> {
    let q = ident(db);
    let existing: i64 = sqlx::query(&format!(
        "SELECT CAST(COUNT(*) AS SIGNED) FROM {q}.routing_graph"
    ))
    .fetch_one(pool)
    .await
    .with_context(|| format!("reading {db}.routing_graph"))?
    .try_get(0)?;
    if existing > 0 {
        tracing::debug!(
            db,
            "seed_dimensions: tenant already has routing graphs; skipped"
        );
        return Ok(());
    }
    let mut rng = SmallRng::seed_from_u64(rng_seed);
    let mut sql = String::new();
    if let Some(e) = epoch {
        let _ = write!(sql, "SET timestamp = {e};");
    }
    sql.push_str("START TRANSACTION;");
    let _ = write!(
        sql,
        "INSERT INTO {q}.routing_graph (id_graph, code, name, graph_type, production_type) VALUES \
         (1, 'CLASSIC-TOTE', 'Classic tote bag', 'sequential', 'classic'), \
         (2, 'SMALL-GOODS', 'Small leather goods', 'assembly', NULL);"
    );
    let nodes: [NodeSeed; 8] = [
        (1, 1, "CUT", "Leather cutting", "start", Some("cutting"), 1),
        (
            2,
            1,
            "SEW",
            "Machine sewing",
            "operation",
            Some("sewing"),
            2,
        ),
        (
            3,
            1,
            "EDGE",
            "Edge painting",
            "operation",
            Some("finishing"),
            3,
        ),
        (4, 1, "QC1", "Quality check", "qc", Some("qc"), 4),
        (5, 1, "PACK", "Packing", "end", Some("general"), 5),
        (6, 2, "PREP", "Material preparation", "start", None, 1),
        (
            7,
            2,
            "STITCH",
            "Hand stitching",
            "operation",
            Some("sewing"),
            2,
        ),
        // Names as the floor writes them: Thai, and text that must not escape its quotes.
        (8, 2, "FINAL", "ตรวจขั้นสุดท้าย", "end", Some("qc"), 3),
    ];
    let _ = write!(
        sql,
        "INSERT INTO {q}.routing_node (id_node, id_graph, node_code, node_name, node_type, \
         team_category, wip_limit, sequence_no) VALUES "
    );
    for (i, (id, g, code, name, ty, cat, seq)) in nodes.iter().enumerate() {
        let wip = if rng.gen_bool(0.3) {
            "NULL".to_string()
        } else {
            rng.gen_range(10..60).to_string()
        };
        // The demo's bottleneck has a limit whatever the seed (drawn above all the same, so
        // the other nodes' limits and everything after stay as they were).
        let wip = if *code == "SEW" {
            SEW_WIP_LIMIT.to_string()
        } else {
            wip
        };
        let cat = cat.map_or("NULL".to_string(), |c| format!("'{c}'"));
        let sep = if i == 0 { "" } else { ", " };
        let _ = write!(
            sql,
            "{sep}({id}, {g}, '{code}', {}, '{ty}', {cat}, {wip}, {seq})",
            lit(name)
        );
    }
    sql.push(';');
    let _ = write!(
        sql,
        "INSERT INTO {q}.team (id_team, code, name, team_category, production_mode, active) VALUES \
         (1, 'CUT-A', 'Cutting Team A', 'cutting', 'classic', 1), \
         (2, 'SEW-A', 'Sewing Team A', 'sewing', 'hybrid', 1), \
         (3, 'QC', 'Quality Control', 'qc', 'hybrid', 1), \
         (4, 'SUPPORT', 'Line Support (O''Neil\\\\ crew)', 'general', 'hybrid', 1), \
         (5, 'SEW-N', 'Sewing Night Shift', 'sewing', 'hatthasilpa', 0);"
    );
    // Primary teams of operators 1001..=1013, shuffled by the seed.
    let mut primary: Vec<i64> = vec![1, 1, 1, 2, 2, 2, 2, 3, 3, 4, 4, 5, 5];
    primary.shuffle(&mut rng);
    let mut memberships: Vec<(i64, i64)> = primary
        .iter()
        .enumerate()
        .map(|(i, &t)| (t, OPERATOR_FIRST + i as i64))
        .collect();
    // Four operators also work in a second team.
    let mut ops: Vec<i64> = (OPERATOR_FIRST..OPERATOR_FIRST + 13).collect();
    ops.shuffle(&mut rng);
    for &op in ops.iter().take(4) {
        let first = memberships
            .iter()
            .find(|(_, m)| *m == op)
            .map_or(1, |(t, _)| *t);
        let mut second = rng.gen_range(1..=5);
        if second == first {
            second = second % 5 + 1;
        }
        memberships.push((second, op));
    }
    memberships.sort_unstable();
    let _ = write!(
        sql,
        "INSERT INTO {q}.team_member (id_team, id_member, role, capacity_per_day, active) VALUES "
    );
    let mut led: HashSet<i64> = HashSet::new();
    for (i, (team, member)) in memberships.iter().enumerate() {
        let cap = match i % 5 {
            0 => "NULL".to_string(),
            1 => "0".to_string(),
            _ => rng.gen_range(6..=30).to_string(),
        };
        let active = match i {
            2 | 11 => "0",
            7 => "NULL",
            _ => "1",
        };
        let role = if led.insert(*team) {
            "lead"
        } else if rng.gen_bool(0.2) {
            "trainee"
        } else {
            "member"
        };
        let sep = if i == 0 { "" } else { ", " };
        let _ = write!(sql, "{sep}({team}, {member}, '{role}', {cap}, {active})");
    }
    sql.push_str(";COMMIT");
    let mut conn = pool
        .acquire()
        .await
        .context("acquiring a connection for seed_dimensions")?
        .detach();
    let res = sqlx::raw_sql(&sql)
        .execute(&mut conn)
        .await
        .with_context(|| format!("seeding dimensions of {db}"));
    let _ = conn.close().await;
    res.map(|_| ())
}

// ---------------------------------------------------------------------------------------------
// The in-memory mirror of one tenant
// ---------------------------------------------------------------------------------------------

/// A set of ids with O(1) insert, remove and uniform random pick, iterated in a deterministic
/// order (insertion order perturbed only by removals).
#[derive(Debug, Default)]
struct IdPool {
    ids: Vec<i64>,
    pos: HashMap<i64, usize>,
}

impl IdPool {
    fn insert(&mut self, id: i64) {
        if !self.pos.contains_key(&id) {
            self.pos.insert(id, self.ids.len());
            self.ids.push(id);
        }
    }

    fn remove(&mut self, id: i64) {
        if let Some(i) = self.pos.remove(&id) {
            self.ids.swap_remove(i);
            if let Some(&moved) = self.ids.get(i) {
                self.pos.insert(moved, i);
            }
        }
    }

    fn len(&self) -> usize {
        self.ids.len()
    }

    fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    fn pick(&self, rng: &mut SmallRng) -> Option<i64> {
        if self.ids.is_empty() {
            None
        } else {
            Some(self.ids[rng.gen_range(0..self.ids.len())])
        }
    }

    /// The older (lower id) of two random picks: work is dispatched roughly first come, first
    /// served.
    fn pick_old(&self, rng: &mut SmallRng) -> Option<i64> {
        let a = self.pick(rng)?;
        let b = self.pick(rng)?;
        Some(a.min(b))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokSt {
    Ready,
    Active,
    Waiting,
    Paused,
}

impl TokSt {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "ready" => Some(TokSt::Ready),
            "active" => Some(TokSt::Active),
            "waiting" => Some(TokSt::Waiting),
            "paused" => Some(TokSt::Paused),
            _ => None,
        }
    }

    fn queued(self) -> bool {
        matches!(self, TokSt::Ready | TokSt::Waiting)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AsgSt {
    Assigned,
    Accepted,
    Started,
    Paused,
}

impl AsgSt {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "assigned" => Some(AsgSt::Assigned),
            "accepted" => Some(AsgSt::Accepted),
            "started" => Some(AsgSt::Started),
            "paused" => Some(AsgSt::Paused),
            _ => None,
        }
    }
}

/// A live token the simulator may still move.
#[derive(Debug, Clone, Copy)]
struct Tok {
    node: i64,
    status: TokSt,
    /// Its open assignment.
    open: Option<i64>,
}

/// An open assignment.
#[derive(Debug, Clone, Copy)]
struct Asg {
    token: i64,
    status: AsgSt,
}

#[derive(Debug, Clone)]
struct Graph {
    id: i64,
    production_type: Option<String>,
    /// Node ids in route order.
    nodes: Vec<i64>,
}

#[derive(Debug, Clone, Copy)]
struct Member {
    team: i64,
    member: i64,
    active: Option<i64>,
    cap: Option<i64>,
}

const T_INSTANCE: usize = 0;
const T_TOKEN: usize = 1;
const T_ASG: usize = 2;
const T_TEAM: usize = 3;
const T_MEMBER: usize = 4;
const TABLE_NAMES: [&str; 5] = [
    "job_graph_instance",
    "flow_token",
    "token_assignment",
    "team",
    "team_member",
];

/// One transaction being built: its SQL and what it will write.
struct Tx {
    sql: String,
    counts: [TableStats; 5],
    bad: u64,
    tenants: Vec<usize>,
}

impl Tx {
    fn new() -> Self {
        Tx {
            sql: String::with_capacity(1024),
            counts: [TableStats::default(); 5],
            bad: 0,
            tenants: Vec::with_capacity(2),
        }
    }
    fn ins(&mut self, t: usize, n: u64) {
        self.counts[t].inserted += n;
    }
    fn upd(&mut self, t: usize, n: u64) {
        self.counts[t].updated += n;
    }
    fn del(&mut self, t: usize, n: u64) {
        self.counts[t].deleted += n;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Spawn,
    Assign,
    Accept,
    Start,
    Pause,
    Resume,
    Complete,
    Cancel,
    Scrap,
    DeleteAssignment,
    DeleteToken,
    Member,
    Team,
}

const ACTIONS: [Action; 13] = [
    Action::Spawn,
    Action::Assign,
    Action::Accept,
    Action::Start,
    Action::Pause,
    Action::Resume,
    Action::Complete,
    Action::Cancel,
    Action::Scrap,
    Action::DeleteAssignment,
    Action::DeleteToken,
    Action::Member,
    Action::Team,
];

/// Mirror of one tenant's dimensions and of its tokens and assignments in flight.
struct TenantSim {
    db: String,
    t_instance: String,
    t_token: String,
    t_asg: String,
    t_team: String,
    t_member: String,
    graphs: Vec<Graph>,
    /// node → (graph index, position in route)
    node_loc: HashMap<i64, (usize, usize)>,
    teams: Vec<(i64, Option<i64>)>,
    members: Vec<Member>,
    operators: Vec<i64>,
    tokens: HashMap<i64, Tok>,
    asgs: HashMap<i64, Asg>,
    live: IdPool,
    /// Queued tokens without an open assignment.
    queued_free: IdPool,
    assigned: IdPool,
    accepted: IdPool,
    started: IdPool,
    paused: IdPool,
    /// Cancelled or rejected assignments (deletable).
    dead_asgs: IdPool,
    scrapped: IdPool,
    next_instance: i64,
    next_ticket: i64,
    next_token: i64,
    next_asg: i64,
    /// The bottleneck node, whose work goes [`BOTTLENECK_SLOWDOWN`] times slower.
    slow: Option<i64>,
}

async fn fetch_ints(conn: &mut MySqlConnection, sql: &str) -> Result<Vec<Vec<Option<i64>>>> {
    let rows = sqlx::query(sql)
        .fetch_all(&mut *conn)
        .await
        .with_context(|| format!("query failed: {sql}"))?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let mut v = Vec::with_capacity(r.len());
        for i in 0..r.len() {
            v.push(
                r.try_get::<Option<i64>, _>(i)
                    .with_context(|| format!("decoding column {i} of: {sql}"))?,
            );
        }
        out.push(v);
    }
    Ok(out)
}

async fn max_id(conn: &mut MySqlConnection, table: &str, col: &str) -> Result<i64> {
    let rows = fetch_ints(
        conn,
        &format!("SELECT CAST(COALESCE(MAX({col}), 0) AS SIGNED) FROM {table}"),
    )
    .await?;
    Ok(rows
        .first()
        .and_then(|r| r.first().copied().flatten())
        .unwrap_or(0))
}

/// Graphs (with their routes), and the operators, of a tenant.
async fn load_dims(
    conn: &mut MySqlConnection,
    db: &str,
) -> Result<(Vec<Graph>, Vec<(i64, Option<i64>)>, Vec<Member>, Vec<i64>)> {
    let q = ident(db);
    let rows = sqlx::query(&format!(
        "SELECT CAST(id_graph AS SIGNED), CAST(production_type AS CHAR) FROM {q}.routing_graph \
         ORDER BY id_graph"
    ))
    .fetch_all(&mut *conn)
    .await
    .with_context(|| format!("reading {db}.routing_graph"))?;
    let mut graphs = Vec::with_capacity(rows.len());
    for r in rows {
        graphs.push(Graph {
            id: r.try_get(0)?,
            production_type: r.try_get::<Option<String>, _>(1)?.filter(|s| !s.is_empty()),
            nodes: Vec::new(),
        });
    }
    for r in fetch_ints(
        conn,
        &format!(
            "SELECT CAST(id_node AS SIGNED), CAST(id_graph AS SIGNED) FROM {q}.routing_node \
             ORDER BY id_graph, sequence_no, id_node"
        ),
    )
    .await?
    {
        if let (Some(node), Some(graph)) = (r[0], r[1]) {
            if let Some(g) = graphs.iter_mut().find(|g| g.id == graph) {
                g.nodes.push(node);
            }
        }
    }
    graphs.retain(|g| !g.nodes.is_empty());
    let teams = fetch_ints(
        conn,
        &format!(
            "SELECT CAST(id_team AS SIGNED), CAST(active AS SIGNED) FROM {q}.team ORDER BY id_team"
        ),
    )
    .await?
    .into_iter()
    .filter_map(|r| r[0].map(|id| (id, r[1])))
    .collect();
    let members: Vec<Member> = fetch_ints(
        conn,
        &format!(
            "SELECT CAST(id_team AS SIGNED), CAST(id_member AS SIGNED), CAST(active AS SIGNED), \
             CAST(capacity_per_day AS SIGNED) FROM {q}.team_member ORDER BY id_team, id_member"
        ),
    )
    .await?
    .into_iter()
    .filter_map(|r| {
        Some(Member {
            team: r[0]?,
            member: r[1]?,
            active: r[2],
            cap: r[3],
        })
    })
    .collect();
    let mut operators: Vec<i64> = (OPERATOR_FIRST..=OPERATOR_LAST).collect();
    operators.extend(members.iter().map(|m| m.member));
    operators.sort_unstable();
    operators.dedup();
    Ok((graphs, teams, members, operators))
}

impl TenantSim {
    async fn load(conn: &mut MySqlConnection, db: &str) -> Result<Self> {
        let q = ident(db);
        let (graphs, teams, members, operators) = load_dims(conn, db).await?;
        if graphs.is_empty() {
            bail!(
                "tenant database {db} has no routing graph with nodes: run seed_dimensions first"
            );
        }
        let mut node_loc = HashMap::new();
        for (gi, g) in graphs.iter().enumerate() {
            for (p, n) in g.nodes.iter().enumerate() {
                node_loc.insert(*n, (gi, p));
            }
        }
        let t_token = format!("{q}.flow_token");
        let t_asg = format!("{q}.token_assignment");
        let t_instance = format!("{q}.job_graph_instance");
        let mut sim = TenantSim {
            db: db.to_string(),
            next_instance: max_id(conn, &t_instance, "id_instance").await? + 1,
            next_ticket: max_id(conn, &t_instance, "id_job_ticket").await? + 1,
            next_token: max_id(conn, &t_token, "id_token").await? + 1,
            next_asg: max_id(conn, &t_asg, "id_assignment").await? + 1,
            t_team: format!("{q}.team"),
            t_member: format!("{q}.team_member"),
            t_instance,
            t_token,
            t_asg,
            graphs,
            node_loc,
            teams,
            members,
            operators,
            tokens: HashMap::new(),
            asgs: HashMap::new(),
            live: IdPool::default(),
            queued_free: IdPool::default(),
            assigned: IdPool::default(),
            accepted: IdPool::default(),
            started: IdPool::default(),
            paused: IdPool::default(),
            dead_asgs: IdPool::default(),
            scrapped: IdPool::default(),
            slow: None,
        };
        let rows = sqlx::query(&format!(
            "SELECT CAST(id_token AS SIGNED), CAST(current_node_id AS SIGNED), \
             CAST(status AS CHAR) FROM {} \
             WHERE status IN ('ready','active','waiting','paused') ORDER BY id_token",
            sim.t_token
        ))
        .fetch_all(&mut *conn)
        .await
        .with_context(|| format!("reading live tokens of {db}"))?;
        for r in rows {
            let id: i64 = r.try_get(0)?;
            let node: Option<i64> = r.try_get(1)?;
            let status: String = r.try_get(2)?;
            // Tokens at unknown nodes (bad rows) are left alone.
            if let (Some(node), Some(status)) = (node, TokSt::parse(&status)) {
                if sim.node_loc.contains_key(&node) {
                    sim.tokens.insert(
                        id,
                        Tok {
                            node,
                            status,
                            open: None,
                        },
                    );
                }
            }
        }
        let rows = sqlx::query(&format!(
            "SELECT CAST(id_assignment AS SIGNED), CAST(id_token AS SIGNED), CAST(status AS CHAR) \
             FROM {} WHERE status IN ('assigned','accepted','started','paused') \
             ORDER BY id_assignment",
            sim.t_asg
        ))
        .fetch_all(&mut *conn)
        .await
        .with_context(|| format!("reading open assignments of {db}"))?;
        for r in rows {
            let id: i64 = r.try_get(0)?;
            let token: i64 = r.try_get(1)?;
            let status: String = r.try_get(2)?;
            let (Some(st), Some(tok)) = (AsgSt::parse(&status), sim.tokens.get_mut(&token)) else {
                continue;
            };
            // The token's open assignment is the one with the highest id; older ones stay put.
            if let Some(old) = tok.open.replace(id) {
                sim.asgs.remove(&old);
            }
            sim.asgs.insert(id, Asg { token, status: st });
        }
        let mut ids: Vec<i64> = sim.tokens.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            sim.index_token(id);
        }
        let mut ids: Vec<(i64, AsgSt)> = sim.asgs.iter().map(|(k, a)| (*k, a.status)).collect();
        ids.sort_unstable_by_key(|(k, _)| *k);
        for (id, st) in ids {
            sim.pool_mut(st).insert(id);
        }
        for r in fetch_ints(
            conn,
            &format!(
                "SELECT CAST(id_token AS SIGNED) FROM {} WHERE status = 'scrapped' \
                 ORDER BY id_token DESC LIMIT 1000",
                sim.t_token
            ),
        )
        .await?
        .into_iter()
        .rev()
        {
            if let Some(id) = r[0] {
                sim.scrapped.insert(id);
            }
        }
        for r in fetch_ints(
            conn,
            &format!(
                "SELECT CAST(id_assignment AS SIGNED) FROM {} \
                 WHERE status IN ('cancelled','rejected') ORDER BY id_assignment DESC LIMIT 1000",
                sim.t_asg
            ),
        )
        .await?
        .into_iter()
        .rev()
        {
            if let Some(id) = r[0] {
                sim.dead_asgs.insert(id);
            }
        }
        Ok(sim)
    }

    /// Whether work on a token at `node` is held back this time (the bottleneck's slowness).
    fn held_back(&self, node: i64, rng: &mut SmallRng) -> bool {
        self.slow == Some(node) && !rng.gen_bool(1.0 / f64::from(BOTTLENECK_SLOWDOWN))
    }

    fn pool_mut(&mut self, st: AsgSt) -> &mut IdPool {
        match st {
            AsgSt::Assigned => &mut self.assigned,
            AsgSt::Accepted => &mut self.accepted,
            AsgSt::Started => &mut self.started,
            AsgSt::Paused => &mut self.paused,
        }
    }

    /// Puts a token (already in `tokens`) in the pools its state calls for.
    fn index_token(&mut self, id: i64) {
        let Some(t) = self.tokens.get(&id).copied() else {
            self.live.remove(id);
            self.queued_free.remove(id);
            return;
        };
        self.live.insert(id);
        if t.status.queued() && t.open.is_none() {
            self.queued_free.insert(id);
        } else {
            self.queued_free.remove(id);
        }
    }

    fn set_token(&mut self, id: i64, node: i64, status: TokSt, open: Option<i64>) {
        self.tokens.insert(id, Tok { node, status, open });
        self.index_token(id);
    }

    /// The token leaves the simulation (terminal, deleted, or made a bad row).
    fn drop_token(&mut self, id: i64) {
        self.tokens.remove(&id);
        self.index_token(id);
    }

    /// Changes an open assignment's status, or closes it (`None`).
    fn set_asg(&mut self, id: i64, token: i64, status: Option<AsgSt>) {
        if let Some(old) = self.asgs.get(&id).map(|a| a.status) {
            self.pool_mut(old).remove(id);
        }
        match status {
            Some(st) => {
                self.asgs.insert(id, Asg { token, status: st });
                self.pool_mut(st).insert(id);
            }
            None => {
                self.asgs.remove(&id);
            }
        }
    }

    /// How likely each action is: per-item rates times pool sizes (a queueing model, so pools
    /// settle at a steady state), spawning slowed when much is in flight.
    fn weight(&self, a: Action) -> f64 {
        let n = |p: &IdPool| p.len() as f64;
        let live = self.live.len();
        let any = |p: &IdPool, w: f64| if p.is_empty() { 0.0 } else { w };
        match a {
            Action::Spawn => {
                if live < 10 {
                    3.0
                } else if live < 80 {
                    0.5
                } else {
                    0.1
                }
            }
            // A dispatcher assigns at a bounded pace however long the queue.
            Action::Assign => 0.3 * n(&self.queued_free).min(40.0),
            Action::Accept => 0.4 * n(&self.assigned),
            Action::Start => 0.15 * n(&self.assigned) + 0.5 * n(&self.accepted),
            Action::Pause => 0.04 * n(&self.started),
            Action::Resume => 0.3 * n(&self.paused),
            Action::Complete => 0.25 * n(&self.started),
            Action::Cancel => 0.01 * self.asgs.len() as f64,
            Action::Scrap => 0.002 * n(&self.live),
            Action::DeleteAssignment => any(&self.dead_asgs, 0.15),
            Action::DeleteToken => any(&self.scrapped, 0.1),
            Action::Member if !self.members.is_empty() => 0.4,
            Action::Team if !self.teams.is_empty() => 0.08,
            _ => 0.0,
        }
    }

    fn pick_action(&self, rng: &mut SmallRng) -> Action {
        let weights: [f64; 13] = ACTIONS.map(|a| self.weight(a));
        let total: f64 = weights.iter().sum();
        if total.is_nan() || total <= 0.0 {
            return Action::Spawn;
        }
        let mut x = rng.gen_range(0.0..total);
        for (a, w) in ACTIONS.iter().zip(weights) {
            if x < w {
                return *a;
            }
            x -= w;
        }
        Action::Spawn
    }

    /// Appends one action's statements to `tx` and updates the mirror. Returns false if the
    /// action had nothing to act on.
    fn act(&mut self, a: Action, rng: &mut SmallRng, now: &str, tx: &mut Tx) -> bool {
        match a {
            Action::Spawn => self.spawn(rng, now, tx),
            Action::Assign => self.assign(rng, now, tx, false),
            Action::Accept => self.accept(rng, now, tx),
            Action::Start => self.start(rng, now, tx),
            Action::Pause => self.pause(rng, now, tx),
            Action::Resume => self.resume(rng, tx),
            Action::Complete => self.complete(rng, now, tx, false),
            Action::Cancel => self.cancel(rng, now, tx),
            Action::Scrap => self.scrap(rng, now, tx),
            Action::DeleteAssignment => self.delete_assignment(rng, tx),
            Action::DeleteToken => self.delete_token(rng, tx),
            Action::Member => self.change_member(rng, tx),
            Action::Team => self.toggle_team(rng, tx),
        }
    }

    fn spawn(&mut self, rng: &mut SmallRng, now: &str, tx: &mut Tx) -> bool {
        let gi = rng.gen_range(0..self.graphs.len());
        let g = &self.graphs[gi];
        let first = g.nodes[0];
        let inst = self.next_instance;
        let ticket = self.next_ticket;
        self.next_instance += 1;
        self.next_ticket += 1;
        let pt = if rng.gen_bool(0.35) {
            "NULL".to_string()
        } else {
            match (&g.production_type, rng.gen_bool(0.7)) {
                (Some(own), true) => format!("'{own}'"),
                _ => format!(
                    "'{}'",
                    ["classic", "hatthasilpa", "hybrid"][rng.gen_range(0..3)]
                ),
            }
        };
        let _ = write!(
            tx.sql,
            "INSERT INTO {} (id_instance, id_job_ticket, id_graph, status, production_type, \
             started_at) VALUES ({inst}, {ticket}, {}, 'active', {pt}, {now});",
            self.t_instance, g.id
        );
        tx.ins(T_INSTANCE, 1);
        let n = rng.gen_range(1..=5u32);
        let _ = write!(
            tx.sql,
            "INSERT INTO {} (id_token, id_instance, graph_version, token_type, serial_number, \
             current_node_id, status, qty, spawned_at) VALUES ",
            self.t_token
        );
        for k in 0..n {
            let id = self.next_token;
            self.next_token += 1;
            let r: f64 = rng.gen();
            let (ty, qty) = if r < 0.6 {
                ("piece", 1)
            } else if r < 0.85 {
                ("batch", rng.gen_range(5..=50))
            } else {
                ("component", rng.gen_range(1..=4))
            };
            let serial = if ty == "piece" {
                format!("'SN-{inst}-{k}'")
            } else {
                "NULL".to_string()
            };
            let sep = if k == 0 { "" } else { ", " };
            let _ = write!(
                tx.sql,
                "{sep}({id}, {inst}, 'v1', '{ty}', {serial}, {first}, 'ready', {qty}, {now})"
            );
            self.set_token(id, first, TokSt::Ready, None);
        }
        tx.sql.push(';');
        tx.ins(T_TOKEN, u64::from(n));
        true
    }

    /// Assigns 1–3 queued tokens (one INSERT). `null_assigned_at` writes the bad row "open
    /// assignment with NULL assigned_at" (for one token).
    fn assign(
        &mut self,
        rng: &mut SmallRng,
        now: &str,
        tx: &mut Tx,
        null_assigned_at: bool,
    ) -> bool {
        if self.queued_free.is_empty() {
            return false;
        }
        let want = if null_assigned_at {
            1
        } else {
            match rng.gen_range(0..10) {
                0..=6 => 1,
                7 | 8 => 2,
                _ => 3,
            }
        };
        let by = self.operators[rng.gen_range(0..self.operators.len())];
        let mut picked: Vec<(i64, Tok)> = Vec::with_capacity(want);
        for _ in 0..want {
            if let Some(t) = self.queued_free.pick_old(rng) {
                if let Some(tok) = self.tokens.get(&t).copied() {
                    if !picked.iter().any(|(p, _)| *p == t) && !self.held_back(tok.node, rng) {
                        picked.push((t, tok));
                    }
                }
            }
        }
        if picked.is_empty() {
            return false;
        }
        let _ = write!(
            tx.sql,
            "INSERT INTO {} (id_assignment, id_token, id_node, assigned_to_user_id, \
             assigned_by_user_id, status, assigned_at) VALUES ",
            self.t_asg
        );
        let at = if null_assigned_at { "NULL" } else { now };
        for (i, (t, tok)) in picked.iter().enumerate() {
            let id = self.next_asg;
            self.next_asg += 1;
            let op = self.operators[rng.gen_range(0..self.operators.len())];
            let sep = if i == 0 { "" } else { ", " };
            let _ = write!(
                tx.sql,
                "{sep}({id}, {t}, {}, {op}, {by}, 'assigned', {at})",
                tok.node
            );
            self.set_asg(id, *t, Some(AsgSt::Assigned));
            self.set_token(*t, tok.node, tok.status, Some(id));
        }
        tx.sql.push(';');
        tx.ins(T_ASG, picked.len() as u64);
        true
    }

    fn accept(&mut self, rng: &mut SmallRng, now: &str, tx: &mut Tx) -> bool {
        let Some(id) = self.assigned.pick(rng) else {
            return false;
        };
        let Some(a) = self.asgs.get(&id).copied() else {
            return false;
        };
        let _ = write!(
            tx.sql,
            "UPDATE {} SET status = 'accepted', accepted_at = {now} WHERE id_assignment = {id};",
            self.t_asg
        );
        tx.upd(T_ASG, 1);
        self.set_asg(id, a.token, Some(AsgSt::Accepted));
        true
    }

    fn start(&mut self, rng: &mut SmallRng, now: &str, tx: &mut Tx) -> bool {
        let (acc, asg) = (self.accepted.len() as f64, self.assigned.len() as f64);
        if acc + asg == 0.0 {
            return false;
        }
        let from_accepted = rng.gen_bool(0.5 * acc / (0.5 * acc + 0.15 * asg));
        let pick = if from_accepted {
            self.accepted.pick_old(rng)
        } else {
            self.assigned.pick_old(rng)
        };
        let Some(id) = pick else {
            return false;
        };
        let Some(a) = self.asgs.get(&id).copied() else {
            return false;
        };
        let Some(tok) = self.tokens.get(&a.token).copied() else {
            return false;
        };
        if self.held_back(tok.node, rng) {
            return false;
        }
        let accepted = if from_accepted {
            String::new()
        } else {
            format!(", accepted_at = {now}")
        };
        let _ = write!(
            tx.sql,
            "UPDATE {} SET status = 'started'{accepted}, started_at = {now} \
             WHERE id_assignment = {id};UPDATE {} SET status = 'active' WHERE id_token = {};",
            self.t_asg, self.t_token, a.token
        );
        tx.upd(T_ASG, 1);
        tx.upd(T_TOKEN, 1);
        self.set_asg(id, a.token, Some(AsgSt::Started));
        self.set_token(a.token, tok.node, TokSt::Active, Some(id));
        true
    }

    fn pause(&mut self, rng: &mut SmallRng, now: &str, tx: &mut Tx) -> bool {
        let Some(id) = self.started.pick(rng) else {
            return false;
        };
        let Some(a) = self.asgs.get(&id).copied() else {
            return false;
        };
        let Some(tok) = self.tokens.get(&a.token).copied() else {
            return false;
        };
        let _ = write!(
            tx.sql,
            "UPDATE {} SET status = 'paused', paused_at = {now} WHERE id_assignment = {id};\
             UPDATE {} SET status = 'paused' WHERE id_token = {};",
            self.t_asg, self.t_token, a.token
        );
        tx.upd(T_ASG, 1);
        tx.upd(T_TOKEN, 1);
        self.set_asg(id, a.token, Some(AsgSt::Paused));
        self.set_token(a.token, tok.node, TokSt::Paused, Some(id));
        true
    }

    fn resume(&mut self, rng: &mut SmallRng, tx: &mut Tx) -> bool {
        let Some(id) = self.paused.pick(rng) else {
            return false;
        };
        let Some(a) = self.asgs.get(&id).copied() else {
            return false;
        };
        let Some(tok) = self.tokens.get(&a.token).copied() else {
            return false;
        };
        let _ = write!(
            tx.sql,
            "UPDATE {} SET status = 'started', paused_at = NULL WHERE id_assignment = {id};\
             UPDATE {} SET status = 'active' WHERE id_token = {};",
            self.t_asg, self.t_token, a.token
        );
        tx.upd(T_ASG, 1);
        tx.upd(T_TOKEN, 1);
        self.set_asg(id, a.token, Some(AsgSt::Started));
        self.set_token(a.token, tok.node, TokSt::Active, Some(id));
        true
    }

    /// Completes a started assignment and moves its token on (next node, sometimes back one
    /// node for rework, or done after the last node); 30% of the moves also assign the token at
    /// its next node in the same transaction. `backwards_times` writes the bad row "completed_at
    /// before started_at".
    fn complete(
        &mut self,
        rng: &mut SmallRng,
        now: &str,
        tx: &mut Tx,
        backwards_times: bool,
    ) -> bool {
        let Some(id) = self.started.pick(rng) else {
            return false;
        };
        let Some(a) = self.asgs.get(&id).copied() else {
            return false;
        };
        let Some(tok) = self.tokens.get(&a.token).copied() else {
            return false;
        };
        let Some(&(gi, pos)) = self.node_loc.get(&tok.node) else {
            return false;
        };
        if self.held_back(tok.node, rng) {
            return false;
        }
        let completed_at = if backwards_times {
            format!(
                "DATE_SUB(COALESCE(started_at, {now}), INTERVAL {} SECOND)",
                rng.gen_range(60..7200)
            )
        } else {
            now.to_string()
        };
        let _ = write!(
            tx.sql,
            "UPDATE {} SET status = 'completed', completed_at = {completed_at} \
             WHERE id_assignment = {id};",
            self.t_asg
        );
        tx.upd(T_ASG, 1);
        self.set_asg(id, a.token, None);
        let route = &self.graphs[gi].nodes;
        let next = if pos > 0 && rng.gen_bool(0.06) {
            Some(route[pos - 1])
        } else {
            route.get(pos + 1).copied()
        };
        match next {
            None => {
                let _ = write!(
                    tx.sql,
                    "UPDATE {} SET status = 'completed', current_node_id = NULL, \
                     completed_at = {now} WHERE id_token = {};",
                    self.t_token, a.token
                );
                tx.upd(T_TOKEN, 1);
                self.drop_token(a.token);
            }
            Some(node) => {
                let (status, st) = if rng.gen_bool(0.5) {
                    ("waiting", TokSt::Waiting)
                } else {
                    ("ready", TokSt::Ready)
                };
                let _ = write!(
                    tx.sql,
                    "UPDATE {} SET status = '{status}', current_node_id = {node} \
                     WHERE id_token = {};",
                    self.t_token, a.token
                );
                tx.upd(T_TOKEN, 1);
                self.set_token(a.token, node, st, None);
                if rng.gen_bool(0.3) {
                    let nid = self.next_asg;
                    self.next_asg += 1;
                    let op = self.operators[rng.gen_range(0..self.operators.len())];
                    let _ = write!(
                        tx.sql,
                        "INSERT INTO {} (id_assignment, id_token, id_node, assigned_to_user_id, \
                         assigned_by_user_id, status, assigned_at) \
                         VALUES ({nid}, {}, {node}, {op}, 0, 'assigned', {now});",
                        self.t_asg, a.token
                    );
                    tx.ins(T_ASG, 1);
                    self.set_asg(nid, a.token, Some(AsgSt::Assigned));
                    self.set_token(a.token, node, st, Some(nid));
                }
            }
        }
        true
    }

    /// Cancels or rejects an open assignment; a token in work goes back to ready.
    fn cancel(&mut self, rng: &mut SmallRng, now: &str, tx: &mut Tx) -> bool {
        let pools = [&self.assigned, &self.accepted, &self.started, &self.paused];
        let nonempty: Vec<&IdPool> = pools.into_iter().filter(|p| !p.is_empty()).collect();
        if nonempty.is_empty() {
            return false;
        }
        let Some(id) = nonempty[rng.gen_range(0..nonempty.len())].pick(rng) else {
            return false;
        };
        let Some(a) = self.asgs.get(&id).copied() else {
            return false;
        };
        let Some(tok) = self.tokens.get(&a.token).copied() else {
            return false;
        };
        let status = match a.status {
            AsgSt::Assigned | AsgSt::Accepted if rng.gen_bool(0.5) => "rejected",
            _ => "cancelled",
        };
        let _ = write!(
            tx.sql,
            "UPDATE {} SET status = '{status}', cancelled_at = {now} WHERE id_assignment = {id};",
            self.t_asg
        );
        tx.upd(T_ASG, 1);
        self.set_asg(id, a.token, None);
        self.dead_asgs.insert(id);
        let st = if tok.status.queued() {
            tok.status
        } else {
            let _ = write!(
                tx.sql,
                "UPDATE {} SET status = 'ready' WHERE id_token = {};",
                self.t_token, a.token
            );
            tx.upd(T_TOKEN, 1);
            TokSt::Ready
        };
        self.set_token(a.token, tok.node, st, None);
        true
    }

    fn scrap(&mut self, rng: &mut SmallRng, now: &str, tx: &mut Tx) -> bool {
        let Some(id) = self.live.pick(rng) else {
            return false;
        };
        let Some(tok) = self.tokens.get(&id).copied() else {
            return false;
        };
        let _ = write!(
            tx.sql,
            "UPDATE {} SET status = 'scrapped', scrapped_at = {now} WHERE id_token = {id};",
            self.t_token
        );
        tx.upd(T_TOKEN, 1);
        if let Some(open) = tok.open {
            let _ = write!(
                tx.sql,
                "UPDATE {} SET status = 'cancelled', cancelled_at = {now} \
                 WHERE id_assignment = {open};",
                self.t_asg
            );
            tx.upd(T_ASG, 1);
            self.set_asg(open, id, None);
            self.dead_asgs.insert(open);
        }
        self.drop_token(id);
        self.scrapped.insert(id);
        true
    }

    fn delete_assignment(&mut self, rng: &mut SmallRng, tx: &mut Tx) -> bool {
        let Some(id) = self.dead_asgs.pick(rng) else {
            return false;
        };
        let _ = write!(
            tx.sql,
            "DELETE FROM {} WHERE id_assignment = {id};",
            self.t_asg
        );
        tx.del(T_ASG, 1);
        self.dead_asgs.remove(id);
        true
    }

    fn delete_token(&mut self, rng: &mut SmallRng, tx: &mut Tx) -> bool {
        let Some(id) = self.scrapped.pick(rng) else {
            return false;
        };
        let _ = write!(
            tx.sql,
            "DELETE FROM {} WHERE id_token = {id};",
            self.t_token
        );
        tx.del(T_TOKEN, 1);
        self.scrapped.remove(id);
        true
    }

    /// A membership changes: active flag, capacity, moves to another team, joins or leaves.
    fn change_member(&mut self, rng: &mut SmallRng, tx: &mut Tx) -> bool {
        if self.members.is_empty() {
            return false;
        }
        let i = rng.gen_range(0..self.members.len());
        let m = self.members[i];
        let key = format!("id_team = {} AND id_member = {}", m.team, m.member);
        match rng.gen_range(0..100) {
            0..=39 => {
                let active = if m.active.unwrap_or(0) != 0 {
                    if rng.gen_bool(0.3) {
                        None
                    } else {
                        Some(0)
                    }
                } else {
                    Some(1)
                };
                let v = active.map_or("NULL".to_string(), |v| v.to_string());
                let _ = write!(
                    tx.sql,
                    "UPDATE {} SET active = {v} WHERE {key};",
                    self.t_member
                );
                tx.upd(T_MEMBER, 1);
                self.members[i].active = active;
            }
            40..=69 => {
                let cap = match rng.gen_range(0..10) {
                    0 => None,
                    1 => Some(0),
                    _ => Some(rng.gen_range(5..=40)),
                };
                let v = cap.map_or("NULL".to_string(), |v| v.to_string());
                let _ = write!(
                    tx.sql,
                    "UPDATE {} SET capacity_per_day = {v} WHERE {key};",
                    self.t_member
                );
                tx.upd(T_MEMBER, 1);
                self.members[i].cap = cap;
            }
            70..=89 => {
                // Move to another team: the primary key changes.
                let options: Vec<i64> = self
                    .teams
                    .iter()
                    .map(|t| t.0)
                    .filter(|t| {
                        !self
                            .members
                            .iter()
                            .any(|x| x.team == *t && x.member == m.member)
                    })
                    .collect();
                let Some(&to) = options.choose(rng) else {
                    return false;
                };
                let _ = write!(
                    tx.sql,
                    "UPDATE {} SET id_team = {to} WHERE {key};",
                    self.t_member
                );
                tx.upd(T_MEMBER, 1);
                self.members[i].team = to;
            }
            _ => {
                // Leave a team (if in two), or join one.
                let teams_of = self.members.iter().filter(|x| x.member == m.member).count();
                if teams_of > 1 {
                    let _ = write!(tx.sql, "DELETE FROM {} WHERE {key};", self.t_member);
                    tx.del(T_MEMBER, 1);
                    self.members.remove(i);
                } else {
                    let options: Vec<i64> = self
                        .teams
                        .iter()
                        .map(|t| t.0)
                        .filter(|t| *t != m.team)
                        .collect();
                    let Some(&to) = options.choose(rng) else {
                        return false;
                    };
                    let cap = rng.gen_range(5..=30);
                    let _ = write!(
                        tx.sql,
                        "INSERT INTO {} (id_team, id_member, role, capacity_per_day, active) \
                         VALUES ({to}, {}, 'member', {cap}, 1);",
                        self.t_member, m.member
                    );
                    tx.ins(T_MEMBER, 1);
                    self.members.push(Member {
                        team: to,
                        member: m.member,
                        active: Some(1),
                        cap: Some(cap),
                    });
                }
            }
        }
        true
    }

    fn toggle_team(&mut self, rng: &mut SmallRng, tx: &mut Tx) -> bool {
        if self.teams.is_empty() {
            return false;
        }
        let i = rng.gen_range(0..self.teams.len());
        let (id, active) = self.teams[i];
        let new = if active.unwrap_or(0) != 0 { 0 } else { 1 };
        let _ = write!(
            tx.sql,
            "UPDATE {} SET active = {new} WHERE id_team = {id};",
            self.t_team
        );
        tx.upd(T_TEAM, 1);
        self.teams[i].1 = Some(new);
        true
    }

    /// A bad row (docs/metrics.md). The rows it makes unusable leave the mirror.
    fn bad_row(&mut self, rng: &mut SmallRng, now: &str, tx: &mut Tx) -> bool {
        let kind = rng.gen_range(0..4);
        let done = match kind {
            0 | 1 => {
                let Some(id) = self.live.pick(rng) else {
                    return false;
                };
                let Some(tok) = self.tokens.get(&id).copied() else {
                    return false;
                };
                if kind == 0 {
                    // An invalid enum value, stored as '' outside strict mode.
                    let _ = write!(
                        tx.sql,
                        "SET @flowtally_sim_mode = @@SESSION.sql_mode;SET SESSION sql_mode = '';\
                         UPDATE {} SET status = 'bogus' WHERE id_token = {id};\
                         SET SESSION sql_mode = @flowtally_sim_mode;",
                        self.t_token
                    );
                } else {
                    let _ = write!(
                        tx.sql,
                        "UPDATE {} SET current_node_id = {MISSING_NODE_ID} WHERE id_token = {id};",
                        self.t_token
                    );
                }
                tx.upd(T_TOKEN, 1);
                if let Some(open) = tok.open {
                    // Its open assignment stays in the table, frozen.
                    self.set_asg(open, id, None);
                }
                self.drop_token(id);
                true
            }
            2 => self.complete(rng, now, tx, true),
            _ => self.assign(rng, now, tx, true),
        };
        if done {
            tx.bad += 1;
        }
        done
    }
}

// ---------------------------------------------------------------------------------------------
// run
// ---------------------------------------------------------------------------------------------

async fn dedicated(pool: &MySqlPool) -> Result<MySqlConnection> {
    Ok(pool
        .acquire()
        .await
        .context("acquiring the simulator's connection")?
        .detach())
}

async fn load_all(
    conn: &mut MySqlConnection,
    tenants: &[String],
    bottleneck: Option<&str>,
) -> Result<Vec<TenantSim>> {
    let mut sims = Vec::with_capacity(tenants.len());
    for db in tenants {
        let mut sim = TenantSim::load(conn, db)
            .await
            .with_context(|| format!("loading simulator state of {db}"))?;
        if let Some(code) = bottleneck {
            sim.slow = bottleneck_node(conn, db, code).await?;
        }
        sims.push(sim);
    }
    Ok(sims)
}

/// The id of the node with code `code` in tenant `db` (the lowest, if several graphs have one).
async fn bottleneck_node(conn: &mut MySqlConnection, db: &str, code: &str) -> Result<Option<i64>> {
    let rows = sqlx::query(&format!(
        "SELECT CAST(id_node AS SIGNED) FROM {}.routing_node WHERE node_code = ? ORDER BY id_node \
         LIMIT 1",
        ident(db)
    ))
    .bind(code)
    .fetch_all(&mut *conn)
    .await
    .with_context(|| format!("looking up the bottleneck node {code} in {db}"))?;
    match rows.first() {
        Some(r) => Ok(Some(r.try_get(0)?)),
        None => bail!("--bottleneck {code}: tenant database {db} has no node with that code"),
    }
}

/// Runs the simulation (see the module doc) until `opts.transactions` have committed.
pub async fn run(pool: &MySqlPool, opts: &SimOptions) -> Result<SimStats> {
    run_until(pool, opts, &AtomicBool::new(false)).await
}

/// [`run`], also stopping (between transactions) once `stop` is set.
pub async fn run_until(pool: &MySqlPool, opts: &SimOptions, stop: &AtomicBool) -> Result<SimStats> {
    const MAX_CONSECUTIVE_FAILURES: u32 = 30;
    if opts.tenants.is_empty() {
        bail!("simulate: no tenant database given");
    }
    let mut conn = Some(dedicated(pool).await?);
    let mut sims = match conn.as_mut() {
        Some(c) => load_all(c, &opts.tenants, opts.bottleneck.as_deref()).await?,
        None => bail!("simulate: no connection"),
    };
    let mut rng = SmallRng::seed_from_u64(opts.seed);
    let mut stats = SimStats::default();
    let mut counts = [TableStats::default(); 5];
    let started = tokio::time::Instant::now();
    let rate = opts.rate_per_sec.filter(|r| *r > 0.0 && r.is_finite());
    let mut attempt: u64 = 0;
    let mut failures: u32 = 0;
    loop {
        if opts
            .transactions
            .is_some_and(|max| stats.transactions >= max)
            || stop.load(Ordering::Relaxed)
        {
            break;
        }
        if let Some(rate) = rate {
            let due = started + Duration::from_secs_f64(stats.transactions as f64 / rate);
            tokio::time::sleep_until(due).await;
        }
        let epoch = match &opts.event_time {
            Some(et) => et.at(attempt),
            None => Utc::now().timestamp(),
        };
        attempt += 1;
        let now = dt_lit(epoch, opts.tz)?;

        if conn.is_none() {
            // Reconnect after a failure and re-read what is in flight.
            let res = async {
                let mut c = dedicated(pool).await?;
                let s = load_all(&mut c, &opts.tenants, opts.bottleneck.as_deref()).await?;
                anyhow::Ok((c, s))
            }
            .await;
            match res {
                Ok((c, s)) => {
                    sims = s;
                    conn = Some(c);
                }
                Err(e) => {
                    failures += 1;
                    if failures > MAX_CONSECUTIVE_FAILURES {
                        return Err(e.context("simulate: giving up after repeated failures"));
                    }
                    tracing::warn!(error = %format!("{e:#}"), "simulate: reconnect failed");
                    tokio::time::sleep(reconnect_pause(failures)).await;
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else {
            continue;
        };

        let mut tx = Tx::new();
        if opts.event_time.is_some() {
            let _ = write!(tx.sql, "SET timestamp = {epoch};");
        }
        tx.sql.push_str("START TRANSACTION;");
        let body_start = tx.sql.len();
        let n = sims.len();
        if opts.bad_rows && rng.gen_bool(0.01) {
            let t = rng.gen_range(0..n);
            if sims[t].bad_row(&mut rng, &now, &mut tx) {
                tx.tenants.push(t);
            }
        }
        if tx.sql.len() == body_start {
            if n >= 2 && rng.gen_bool(0.03) {
                let a = rng.gen_range(0..n);
                let mut b = rng.gen_range(0..n - 1);
                if b >= a {
                    b += 1;
                }
                for t in [a, b] {
                    for _ in 0..4 {
                        let action = sims[t].pick_action(&mut rng);
                        if sims[t].act(action, &mut rng, &now, &mut tx) {
                            tx.tenants.push(t);
                            break;
                        }
                    }
                }
            } else {
                let t = rng.gen_range(0..n);
                for _ in 0..8 {
                    let action = sims[t].pick_action(&mut rng);
                    if sims[t].act(action, &mut rng, &now, &mut tx) {
                        tx.tenants.push(t);
                        break;
                    }
                }
            }
        }
        if tx.tenants.is_empty() {
            // Nothing to do this instant (cannot normally happen: spawning is always possible).
            continue;
        }
        tx.sql.push_str("COMMIT");
        match sqlx::raw_sql(&tx.sql).execute(&mut *c).await {
            Ok(_) => {
                failures = 0;
                stats.transactions += 1;
                stats.last_epoch = epoch;
                stats.bad_rows += tx.bad;
                if tx.tenants.len() > 1 {
                    stats.cross_tenant_transactions += 1;
                }
                for t in &tx.tenants {
                    *stats.by_tenant.entry(sims[*t].db.clone()).or_default() += 1;
                }
                for (acc, d) in counts.iter_mut().zip(&tx.counts) {
                    acc.add(d);
                }
                if stats.transactions % 1000 == 0 {
                    tracing::debug!(transactions = stats.transactions, "simulate: progress");
                }
            }
            Err(e) => {
                failures += 1;
                stats.failed_transactions += 1;
                // The server stops a multi-statement batch at the failing statement, leaving
                // the transaction open: dropping the connection rolls it back.
                if let Some(c) = conn.take() {
                    let _ = c.close_hard().await;
                }
                if failures > MAX_CONSECUTIVE_FAILURES {
                    return Err(anyhow::Error::new(e)
                        .context("simulate: giving up after repeated failures"));
                }
                tracing::warn!(error = %e, "simulate: transaction failed; reconnecting");
                tokio::time::sleep(reconnect_pause(failures)).await;
            }
        }
    }
    if let Some(c) = conn.take() {
        if let Err(e) = c.close().await {
            tracing::debug!(error = %e, "simulate: closing the connection");
        }
    }
    for (i, c) in counts.iter().enumerate() {
        if *c != TableStats::default() {
            stats.tables.insert(TABLE_NAMES[i].to_string(), *c);
        }
    }
    stats.elapsed = started.elapsed();
    Ok(stats)
}

/// The pause before the simulator reconnects after `failures` failed transactions in a row.
fn reconnect_pause(failures: u32) -> Duration {
    Duration::from_millis((50u64 << failures.min(5)).min(1_000))
}

// ---------------------------------------------------------------------------------------------
// bulk_history
// ---------------------------------------------------------------------------------------------

/// Rows per multi-row INSERT in [`bulk_history`].
const BULK_ROWS: usize = 1_000;
/// INSERT statements per transaction in [`bulk_history`].
const BULK_STATEMENTS_PER_TX: usize = 20;

/// One multi-row INSERT being filled.
struct Batch {
    head: String,
    sql: String,
    rows: usize,
}

impl Batch {
    fn new(head: String) -> Self {
        let mut sql = String::with_capacity(BULK_ROWS * 160);
        sql.push_str(&head);
        Batch { head, sql, rows: 0 }
    }

    /// Starts a row; the caller appends `(...)`.
    fn row(&mut self) -> &mut String {
        if self.rows > 0 {
            self.sql.push(',');
        }
        self.rows += 1;
        &mut self.sql
    }

    fn take_if(&mut self, full: bool) -> Option<String> {
        if self.rows == 0 || (full && self.rows < BULK_ROWS) {
            return None;
        }
        let mut next = String::with_capacity(BULK_ROWS * 160);
        next.push_str(&self.head);
        self.rows = 0;
        Some(std::mem::replace(&mut self.sql, next))
    }
}

struct BulkGen {
    rng: SmallRng,
    tz: Tz,
    now: i64,
    span: i64,
    graphs: Vec<Graph>,
    operators: Vec<i64>,
    next_instance: i64,
    next_ticket: i64,
    next_token: i64,
    next_asg: i64,
    instances: Batch,
    tokens: Batch,
    asgs: Batch,
}

impl BulkGen {
    fn dt(&self, out_epoch: i64) -> Result<NaiveDateTime> {
        local_naive(out_epoch, self.tz)
    }

    fn op(&mut self) -> i64 {
        self.operators[self.rng.gen_range(0..self.operators.len())]
    }

    /// Appends one assignment row.
    #[allow(clippy::too_many_arguments)]
    fn asg(
        &mut self,
        token: i64,
        node: i64,
        status: &str,
        assigned: i64,
        started: Option<i64>,
        completed: Option<i64>,
    ) -> Result<()> {
        let id = self.next_asg;
        self.next_asg += 1;
        let op = self.op();
        let a = self.dt(assigned)?;
        let s = started.map(|e| self.dt(e)).transpose()?;
        let c = completed.map(|e| self.dt(e)).transpose()?;
        let out = self.asgs.row();
        let _ = write!(out, "({id},{token},{node},{op},0,'{status}',");
        push_dt(out, &a);
        out.push(',');
        match &s {
            Some(s) => {
                push_dt(out, s);
                out.push(',');
                push_dt(out, s);
            }
            None => out.push_str("NULL,NULL"),
        }
        out.push(',');
        match &c {
            Some(c) => push_dt(out, c),
            None => out.push_str("NULL"),
        }
        out.push(')');
        Ok(())
    }

    /// One instance with 1–5 tokens (at most `budget`) and their assignments. Returns the
    /// number of tokens.
    fn instance(&mut self, budget: u64) -> Result<u64> {
        let gi = self.rng.gen_range(0..self.graphs.len());
        let graph_id = self.graphs[gi].id;
        let route = self.graphs[gi].nodes.clone();
        let inst = self.next_instance;
        let ticket = self.next_ticket;
        self.next_instance += 1;
        self.next_ticket += 1;
        let n = self.rng.gen_range(1..=5u64).min(budget.max(1));
        let mut any_live = false;
        let mut first_spawn = i64::MAX;
        let mut last_done = i64::MIN;
        for _ in 0..n {
            let id = self.next_token;
            self.next_token += 1;
            let r: f64 = self.rng.gen();
            let (ty, qty) = if r < 0.6 {
                ("piece", 1)
            } else if r < 0.85 {
                ("batch", self.rng.gen_range(5..=50))
            } else {
                ("component", self.rng.gen_range(1..=4))
            };
            if self.rng.gen_bool(0.05) {
                any_live = true;
                // Live: somewhere on its route, spawned in the last 12 hours.
                let pos = self.rng.gen_range(0..route.len());
                let node = route[pos];
                let spawned = self.now - self.rng.gen_range(600..43_200);
                first_spawn = first_spawn.min(spawned);
                let (status, open) = match self.rng.gen_range(0..20) {
                    0..=6 => ("ready", self.rng.gen_bool(0.4).then_some("assigned")),
                    7..=11 => ("waiting", self.rng.gen_bool(0.4).then_some("assigned")),
                    12..=17 => ("active", Some("started")),
                    _ => ("paused", Some("paused")),
                };
                // Completed work at up to two earlier nodes, then the open assignment.
                let done_before = pos.min(2);
                let open_share = if open.is_some() { 1 } else { 0 };
                let slots = (done_before + open_share).max(1) as i64;
                let slot = (self.now - spawned) / (slots + 1);
                for k in 0..done_before {
                    let a0 = spawned + slot * k as i64;
                    let s0 = a0 + slot / 4;
                    let c0 = a0 + slot;
                    self.asg(
                        id,
                        route[pos - done_before + k],
                        "completed",
                        a0,
                        Some(s0),
                        Some(c0),
                    )?;
                }
                if let Some(st) = open {
                    let a0 = spawned + slot * done_before as i64;
                    let s0 = (st != "assigned").then_some(a0 + slot / 4);
                    self.asg(id, node, st, a0, s0, None)?;
                }
                let sp = self.dt(spawned)?;
                let out = self.tokens.row();
                let _ = write!(out, "({id},{inst},'{ty}',{node},'{status}',{qty},");
                push_dt(out, &sp);
                out.push_str(",NULL)");
            } else {
                // Completed within the window, after a lead time of 30 min to 3 days.
                let completed = self.now - self.rng.gen_range(0..self.span);
                let lead = self.rng.gen_range(1_800..259_200);
                let spawned = completed - lead;
                first_spawn = first_spawn.min(spawned);
                last_done = last_done.max(completed);
                let k = self.rng.gen_range(1..=3usize).min(route.len());
                // k nodes of the route, in order, ending at the last one.
                let slot = lead / (k as i64 + 1);
                for j in 0..k {
                    let node = route[route.len() - k + j];
                    let a0 = spawned + slot * (j as i64 + 1) - slot / 2;
                    let s0 = a0 + self.rng.gen_range(0..=slot / 2);
                    let c0 = if j + 1 == k {
                        completed
                    } else {
                        spawned + slot * (j as i64 + 1) + self.rng.gen_range(0..=slot / 2)
                    };
                    self.asg(id, node, "completed", a0, Some(s0), Some(c0.max(s0)))?;
                }
                let sp = self.dt(spawned)?;
                let cp = self.dt(completed)?;
                let out = self.tokens.row();
                let _ = write!(out, "({id},{inst},'{ty}',NULL,'completed',{qty},");
                push_dt(out, &sp);
                out.push(',');
                push_dt(out, &cp);
                out.push(')');
            }
        }
        let pt = if self.rng.gen_bool(0.35) {
            "NULL"
        } else {
            ["'classic'", "'hatthasilpa'", "'hybrid'"][self.rng.gen_range(0..3)]
        };
        let st = self.dt(first_spawn)?;
        let done = if any_live {
            None
        } else {
            Some(self.dt(last_done)?)
        };
        let out = self.instances.row();
        let status = if any_live { "active" } else { "completed" };
        let _ = write!(out, "({inst},{ticket},{graph_id},'{status}',{pt},");
        push_dt(out, &st);
        out.push(',');
        match &done {
            Some(d) => push_dt(out, d),
            None => out.push_str("NULL"),
        }
        out.push(')');
        Ok(n)
    }
}

/// Bulk history for benchmarks: `tokens` tokens in `db` (dimensions seeded first if the tenant
/// has none), about 5% live (spawned in the last 12 hours, at a node of their route, most with an
/// open assignment) and the rest completed at a time uniformly spread over the `days` days
/// before `now_epoch`, each with 1–3 completed assignments. Ids follow the tables' max ids.
/// Multi-row INSERTs of 1,000 rows, 20 per transaction, generated on a blocking thread while two
/// connections (instances and tokens; assignments) insert them; both sessions are dated
/// `now_epoch` (`SET timestamp`).
pub async fn bulk_history(
    pool: &MySqlPool,
    db: &str,
    tokens: u64,
    days: u32,
    seed: u64,
    tz: Tz,
    now_epoch: i64,
) -> Result<()> {
    let q = ident(db);
    let mut conn = dedicated(pool).await?;
    let (mut graphs, _, _, mut operators) = load_dims(&mut conn, db).await?;
    if graphs.is_empty() {
        seed_dimensions_at(pool, db, seed, Some(now_epoch)).await?;
        (graphs, _, _, operators) = load_dims(&mut conn, db).await?;
        if graphs.is_empty() {
            bail!("{db}: no routing graph after seeding");
        }
    }
    let t_instance = format!("{q}.job_graph_instance");
    let t_token = format!("{q}.flow_token");
    let t_asg = format!("{q}.token_assignment");
    let gen = BulkGen {
        rng: SmallRng::seed_from_u64(seed),
        tz,
        now: now_epoch,
        span: i64::from(days.max(1)) * 86_400,
        graphs,
        operators,
        next_instance: max_id(&mut conn, &t_instance, "id_instance").await? + 1,
        next_ticket: max_id(&mut conn, &t_instance, "id_job_ticket").await? + 1,
        next_token: max_id(&mut conn, &t_token, "id_token").await? + 1,
        next_asg: max_id(&mut conn, &t_asg, "id_assignment").await? + 1,
        instances: Batch::new(format!(
            "INSERT INTO {t_instance} (id_instance, id_job_ticket, id_graph, status, \
             production_type, started_at, completed_at) VALUES "
        )),
        tokens: Batch::new(format!(
            "INSERT INTO {t_token} (id_token, id_instance, token_type, current_node_id, status, \
             qty, spawned_at, completed_at) VALUES "
        )),
        asgs: Batch::new(format!(
            "INSERT INTO {t_asg} (id_assignment, id_token, id_node, assigned_to_user_id, \
             assigned_by_user_id, status, assigned_at, accepted_at, started_at, completed_at) \
             VALUES "
        )),
    };
    // Two writers in parallel: instances and tokens on one connection, assignments on another.
    let (send_tok, recv_tok) = tokio::sync::mpsc::channel::<String>(4);
    let (send_asg, recv_asg) = tokio::sync::mpsc::channel::<String>(4);
    let producer = tokio::task::spawn_blocking(move || -> Result<()> {
        let mut gen = gen;
        let mut left = tokens;
        let mut last = false;
        while !last {
            if left > 0 {
                left -= gen.instance(left)?.min(left);
            }
            last = left == 0;
            let full = !last;
            for (sql, to_asg) in [
                (gen.instances.take_if(full), false),
                (gen.tokens.take_if(full), false),
                (gen.asgs.take_if(full), true),
            ] {
                let Some(sql) = sql else { continue };
                let sent = if to_asg {
                    send_asg.blocking_send(sql)
                } else {
                    send_tok.blocking_send(sql)
                };
                if sent.is_err() {
                    // A writer failed; its error is reported by the caller.
                    return Ok(());
                }
            }
        }
        Ok(())
    });
    let conn2 = match dedicated(pool).await {
        Ok(c) => c,
        Err(e) => {
            drop((recv_tok, recv_asg));
            let _ = producer.await;
            let _ = conn.close().await;
            return Err(e);
        }
    };
    let (r1, r2) = tokio::join!(
        bulk_writer(conn, recv_tok, now_epoch, db),
        bulk_writer(conn2, recv_asg, now_epoch, db)
    );
    let produced = producer.await.context("bulk_history: generator panicked")?;
    r1?;
    r2?;
    produced
}

/// Executes the INSERTs it receives, `BULK_STATEMENTS_PER_TX` per transaction, dated `epoch`;
/// closes the connection (dropping the receiver first on failure, so the generator stops).
async fn bulk_writer(
    mut conn: MySqlConnection,
    mut recv: tokio::sync::mpsc::Receiver<String>,
    epoch: i64,
    db: &str,
) -> Result<()> {
    let res = async {
        sqlx::raw_sql(&format!("SET timestamp = {epoch}; START TRANSACTION"))
            .execute(&mut conn)
            .await
            .context("bulk_history: starting")?;
        let mut in_tx = 0;
        while let Some(sql) = recv.recv().await {
            sqlx::raw_sql(&sql)
                .execute(&mut conn)
                .await
                .with_context(|| format!("bulk_history: inserting into {db}"))?;
            in_tx += 1;
            if in_tx >= BULK_STATEMENTS_PER_TX {
                sqlx::raw_sql("COMMIT; START TRANSACTION")
                    .execute(&mut conn)
                    .await
                    .context("bulk_history: committing")?;
                in_tx = 0;
            }
        }
        sqlx::raw_sql("COMMIT")
            .execute(&mut conn)
            .await
            .context("bulk_history: committing")?;
        anyhow::Ok(())
    }
    .await;
    drop(recv);
    if res.is_ok() {
        let _ = conn.close().await;
    } else {
        let _ = conn.close_hard().await;
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_literal_in_bangkok() {
        // 2024-01-01 00:00:00 UTC is 07:00 in Bangkok.
        assert_eq!(
            dt_lit(1_704_067_200, chrono_tz::Asia::Bangkok)
                .ok()
                .as_deref(),
            Some("'2024-01-01 07:00:00'")
        );
        assert_eq!(
            dt_lit(1_704_067_200 + 3_599, chrono_tz::UTC)
                .ok()
                .as_deref(),
            Some("'2024-01-01 00:59:59'")
        );
    }

    #[test]
    fn id_pool_is_a_set() {
        let mut p = IdPool::default();
        for i in 1..=5 {
            p.insert(i);
        }
        p.insert(3);
        p.remove(2);
        p.remove(9);
        assert_eq!(p.len(), 4);
        let mut ids = p.ids.clone();
        ids.sort_unstable();
        assert_eq!(ids, vec![1, 3, 4, 5]);
        for (i, id) in p.ids.iter().enumerate() {
            assert_eq!(p.pos.get(id), Some(&i));
        }
    }

    #[test]
    fn core_ddl_renames() {
        let s = CORE_DDL
            .replace("IF NOT EXISTS bgerp ", "IF NOT EXISTS `core` ")
            .replace("bgerp.organization", "`core`.organization");
        assert!(!s.contains("bgerp ") && !s.contains("bgerp."));
    }

    #[test]
    fn names() {
        assert_eq!(tenant_db("bgerp_t_", "DEFAULT"), "bgerp_t_default");
        assert_eq!(ident("a`b"), "`a``b`");
        assert_eq!(lit("o'k"), "'o''k'");
    }
}
