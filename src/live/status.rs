//! What the running service reports about itself: its phase, position and lag, per-tenant
//! problems, and the counters behind `/metrics`. The applier and the snapshot writer write it;
//! health checks, metrics and logs read it.
//!
//! Its methods are on the hot path (one call per transaction and per change): per-event counters
//! are an atomic or a short uncontended lock with no allocation once a tenant is known; anything
//! costly (formatting, sorting) happens when a reader asks.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::Serialize;

use crate::model::views::Cadence;
use crate::model::Table;
use crate::source::Position;

/// The service is caught up when the server said it is idle, or the last commit applied is
/// dated, within this many seconds of now.
pub const CAUGHT_UP_SECS: i64 = 30;

/// Upper bounds (seconds) of the snapshot write duration histogram buckets.
pub const WRITE_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Connecting,
    Recomputing,
    Streaming,
    Reconnecting,
}

impl Phase {
    pub fn label(self) -> &'static str {
        match self {
            Phase::Connecting => "connecting",
            Phase::Recomputing => "recomputing",
            Phase::Streaming => "streaming",
            Phase::Reconnecting => "reconnecting",
        }
    }
}

/// Whether this instance writes snapshots (`[ha]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Without `[ha]`: the only instance, and so the writer.
    Single,
    /// Holds the writer's lease.
    Leader,
    /// Keeps every tenant hot and serves reads; writes once it takes the lease.
    Standby,
}

impl Role {
    pub fn label(self) -> &'static str {
        match self {
            Role::Single => "single",
            Role::Leader => "leader",
            Role::Standby => "standby",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub phase: Phase,
    /// This instance's name (its host, and with `[ha]` its replica id).
    pub instance: String,
    pub role: Role,
    /// The lease's term while leader.
    pub term: Option<u64>,
    pub reason: Option<String>,
    /// The end of the last transaction applied.
    pub position: Option<Position>,
    /// Epoch seconds of the last commit applied (its binlog timestamp).
    pub last_commit: Option<i64>,
    /// Epoch seconds (wall clock) when the last commit was applied.
    pub last_applied_at: Option<i64>,
    /// Epoch seconds when the server last said it is idle.
    pub last_idle: Option<i64>,
    pub last_instant: Option<i64>,
    /// Problems by tenant code (no database, no mv_ tables, load failed, column drift).
    pub tenant_problems: BTreeMap<String, String>,
    pub recomputes: BTreeMap<String, u64>,
    pub reconnects: u64,
    pub rows_loaded: u64,
    pub checkpoint_at: Option<i64>,
    pub checkpoint_bytes: u64,
    pub writes: Writes,
}

impl Report {
    /// The server said it is idle after the last commit applied, recently enough.
    pub fn idle(&self, now: i64) -> bool {
        self.last_idle.is_some_and(|i| {
            now - i <= CAUGHT_UP_SECS && self.last_applied_at.is_none_or(|a| i >= a)
        })
    }

    /// The server said it is idle, or the last commit applied is dated, within
    /// [`CAUGHT_UP_SECS`] of `now`.
    pub fn caught_up(&self, now: i64) -> bool {
        self.last_idle.is_some_and(|i| now - i <= CAUGHT_UP_SECS)
            || self.last_commit.is_some_and(|c| now - c <= CAUGHT_UP_SECS)
    }

    /// `now` minus the date of the last commit applied; 0 while the server is idle and caught
    /// up (or before any commit was seen).
    pub fn lag_secs(&self, now: i64) -> i64 {
        if self.idle(now) {
            return 0;
        }
        self.last_commit.map_or(0, |c| (now - c).max(0))
    }
}

/// What the snapshot writer reports.
#[derive(Debug, Clone, Serialize)]
pub struct Writes {
    /// Duration of each successful snapshot write (one tenant, one instant), in seconds.
    pub duration: Histogram,
    pub rows_by_tenant: BTreeMap<String, u64>,
    /// mv_ rows written since start, every tenant's, gone ones too (never decreases).
    pub rows: u64,
    /// Epoch seconds of the latest snapshot instant written, by tenant.
    pub last_by_tenant: BTreeMap<String, i64>,
    /// Failed write attempts, retried or not.
    pub failures: u64,
    /// Tenants whose snapshot write is being retried: failed attempts in a row, last error.
    pub failing: BTreeMap<String, (u32, String)>,
    /// Epoch seconds of the latest snapshot instant written, by cadence.
    pub last_snapshot: BTreeMap<Cadence, i64>,
}

impl Default for Writes {
    fn default() -> Self {
        Writes {
            duration: Histogram::new(WRITE_BUCKETS),
            rows_by_tenant: BTreeMap::new(),
            rows: 0,
            last_by_tenant: BTreeMap::new(),
            failures: 0,
            failing: BTreeMap::new(),
            last_snapshot: BTreeMap::new(),
        }
    }
}

/// A fixed-bucket histogram in the Prometheus sense.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Histogram {
    /// Bucket upper bounds, increasing.
    pub bounds: &'static [f64],
    /// Observations per bucket (not cumulative): `counts[i]` fell in `(bounds[i-1], bounds[i]]`;
    /// the last entry counts those above every bound.
    pub counts: Vec<u64>,
    pub sum: f64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
        }
    }

    pub fn observe(&mut self, v: f64) {
        let i = self.bounds.partition_point(|b| *b < v);
        self.counts[i] += 1;
        self.sum += v;
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// `(upper bound, observations in the bucket)` per bucket, ending with `+∞`.
    pub fn buckets(&self) -> Vec<(f64, u64)> {
        self.bounds
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(self.counts.iter().copied())
            .collect()
    }
}

/// Changes applied per source table, indexed by `Table as usize`.
pub type TableCounts = [u64; Table::ALL.len()];

pub struct Status {
    inner: Mutex<Report>,
    transactions: AtomicU64,
    /// Per tenant code: one lock per change, uncontended but for metric scrapes.
    changes: Mutex<HashMap<String, TableCounts>>,
    /// The changes of tenants no longer served: kept so that totals never decrease.
    changes_gone: Mutex<TableCounts>,
    /// How long the applier was busy with each kind of input, by kind.
    steps: Mutex<BTreeMap<&'static str, Steps>>,
}

/// The applier's work on one kind of input (a transaction, a snapshot boundary, a survey, a
/// finished load, a checkpoint hand-over).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Steps {
    pub count: u64,
    pub total_secs: f64,
    /// The longest: how long the applier did not read the stream for it.
    pub max_secs: f64,
    /// The most CPU one took on the applier's thread (steps that moved threads left out):
    /// below `max_secs` by the time the thread waited for a core, or on the writer.
    pub max_cpu_secs: f64,
}

impl Default for Status {
    fn default() -> Self {
        Status {
            inner: Mutex::new(Report {
                phase: Phase::Connecting,
                instance: String::new(),
                role: Role::Single,
                term: None,
                reason: None,
                position: None,
                last_commit: None,
                last_applied_at: None,
                last_idle: None,
                last_instant: None,
                tenant_problems: BTreeMap::new(),
                recomputes: BTreeMap::new(),
                reconnects: 0,
                rows_loaded: 0,
                checkpoint_at: None,
                checkpoint_bytes: 0,
                writes: Writes::default(),
            }),
            transactions: AtomicU64::new(0),
            changes: Mutex::new(HashMap::new()),
            changes_gone: Mutex::new(TableCounts::default()),
            steps: Mutex::new(BTreeMap::new()),
        }
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Status {
    fn with(&self, f: impl FnOnce(&mut Report)) {
        // A panic elsewhere never makes the report unreadable.
        let mut r = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut r);
    }

    pub fn report(&self) -> Report {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The applier spent `secs` on one input of kind `step`, `cpu_secs` of them on its
    /// thread's CPU (if known).
    pub fn applier_step(&self, step: &'static str, secs: f64, cpu_secs: Option<f64>) {
        let mut steps = self.steps.lock().unwrap_or_else(|p| p.into_inner());
        let s = steps.entry(step).or_default();
        s.count += 1;
        s.total_secs += secs;
        s.max_secs = s.max_secs.max(secs);
        s.max_cpu_secs = s.max_cpu_secs.max(cpu_secs.unwrap_or(0.0));
    }

    /// The applier's work so far, by kind of input.
    pub fn applier_steps(&self) -> BTreeMap<&'static str, Steps> {
        self.steps.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Binlog transactions applied since start (tracked tables or not).
    pub fn transactions(&self) -> u64 {
        self.transactions.load(Ordering::Relaxed)
    }

    /// Changes applied since start, by tenant code and source table, sorted; zeros left out.
    pub fn changes(&self) -> Vec<(String, Table, u64)> {
        let changes = self.changes.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<(String, Table, u64)> = changes
            .iter()
            .flat_map(|(tenant, counts)| {
                Table::ALL
                    .into_iter()
                    .filter(|t| counts[*t as usize] > 0)
                    .map(|t| (tenant.clone(), t, counts[t as usize]))
            })
            .collect();
        out.sort_by(|a, b| (&a.0, a.1.name()).cmp(&(&b.0, b.1.name())));
        out
    }

    /// Changes applied since start by source table, every tenant's (gone ones too).
    pub fn changes_by_table(&self) -> TableCounts {
        let mut out = *self.changes_gone.lock().unwrap_or_else(|p| p.into_inner());
        let changes = self.changes.lock().unwrap_or_else(|p| p.into_inner());
        for counts in changes.values() {
            for (o, n) in out.iter_mut().zip(counts) {
                *o += n;
            }
        }
        out
    }

    pub fn instance(&self, name: &str) {
        self.with(|r| r.instance = name.to_string());
    }

    /// This instance's role now (single, leader, standby).
    pub fn current_role(&self) -> Role {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).role
    }

    pub fn role(&self, role: Role, term: Option<u64>) {
        self.with(|r| {
            r.role = role;
            r.term = term;
        });
    }

    pub fn resumed(&self) {
        self.with(|r| r.phase = Phase::Streaming);
    }

    pub fn recompute(&self, reason: &str) {
        self.with(|r| {
            r.phase = Phase::Recomputing;
            *r.recomputes.entry(reason.to_string()).or_default() += 1;
        });
    }

    pub fn streaming(&self) {
        self.with(|r| {
            r.phase = Phase::Streaming;
            r.reason = None;
        });
    }

    pub fn reconnecting(&self, reason: &str) {
        self.with(|r| {
            r.phase = Phase::Reconnecting;
            r.reason = Some(reason.to_string());
            r.reconnects += 1;
        });
    }

    /// One transaction applied (once per transaction, tracked tables or not).
    pub fn transaction_applied(&self) {
        self.transactions.fetch_add(1, Ordering::Relaxed);
    }

    pub fn position(&self, p: &Position, commit_ts: i64) {
        let applied_at = now();
        self.with(|r| {
            if r.phase == Phase::Reconnecting {
                r.phase = Phase::Streaming;
                r.reason = None;
            }
            match &mut r.position {
                Some(held) => held.clone_from(p),
                None => r.position = Some(p.clone()),
            }
            r.last_commit = Some(commit_ts);
            r.last_applied_at = Some(applied_at);
        });
    }

    pub fn idle(&self) {
        self.with(|r| {
            if r.phase == Phase::Reconnecting {
                r.phase = Phase::Streaming;
                r.reason = None;
            }
            r.last_idle = Some(now());
        });
    }

    pub fn instant(&self, t: i64) {
        self.with(|r| r.last_instant = Some(t));
    }

    /// One change applied to tenant `tenant` (its code), to a row of `table`.
    pub fn change_applied(&self, tenant: &str, table: Table) {
        let mut changes = self.changes.lock().unwrap_or_else(|p| p.into_inner());
        match changes.get_mut(tenant) {
            Some(counts) => counts[table as usize] += 1,
            None => {
                let mut counts = TableCounts::default();
                counts[table as usize] = 1;
                changes.insert(tenant.to_string(), counts);
            }
        }
    }

    pub fn rows_loaded(&self, n: u64) {
        self.with(|r| r.rows_loaded += n);
    }

    pub fn tenant_problem(&self, tenant: &str, problem: &str) {
        self.with(|r| {
            if r.tenant_problems.get(tenant).map(String::as_str) != Some(problem) {
                tracing::warn!(%tenant, %problem, "tenant not served");
                r.tenant_problems
                    .insert(tenant.to_string(), problem.to_string());
            }
        });
    }

    /// Tenants `tenants` have no problem (one lock for a whole survey's worth).
    pub fn tenants_ok<'a>(&self, tenants: impl IntoIterator<Item = &'a str>) {
        self.with(|r| {
            if r.tenant_problems.is_empty() {
                return;
            }
            for t in tenants {
                r.tenant_problems.remove(t);
            }
        });
    }

    /// How many tenants have a snapshot at `instant` or later written (without copying the
    /// report, as [`Status::report`] does).
    pub fn tenants_written_since(&self, instant: i64) -> usize {
        let r = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        r.writes
            .last_by_tenant
            .values()
            .filter(|t| **t >= instant)
            .count()
    }

    pub fn tenant_gone(&self, tenant: &str) {
        self.with(|r| {
            r.tenant_problems.remove(tenant);
            r.writes.rows_by_tenant.remove(tenant);
            r.writes.last_by_tenant.remove(tenant);
        });
        let gone = self
            .changes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(tenant);
        if let Some(gone) = gone {
            let mut kept = self.changes_gone.lock().unwrap_or_else(|p| p.into_inner());
            for (k, n) in kept.iter_mut().zip(gone) {
                *k += n;
            }
        }
    }

    pub fn checkpointed(&self, bytes: u64) {
        self.with(|r| {
            r.checkpoint_at = Some(now());
            r.checkpoint_bytes = bytes;
        });
    }

    /// A snapshot of `tenant` was written: `rows` rows in `secs` seconds, at instant `at`
    /// (epoch seconds) of the given cadences.
    pub fn snapshot_written(
        &self,
        tenant: &str,
        at: Option<i64>,
        cadences: &[Cadence],
        rows: u64,
        secs: f64,
    ) {
        self.with(|r| {
            let w = &mut r.writes;
            w.duration.observe(secs);
            w.rows += rows;
            match w.rows_by_tenant.get_mut(tenant) {
                Some(n) => *n += rows,
                None => {
                    w.rows_by_tenant.insert(tenant.to_string(), rows);
                }
            }
            w.failing.remove(tenant);
            if let Some(at) = at {
                let last = w.last_by_tenant.entry(tenant.to_string()).or_insert(at);
                *last = (*last).max(at);
                for c in cadences {
                    let last = w.last_snapshot.entry(*c).or_insert(at);
                    *last = (*last).max(at);
                }
            }
        });
    }

    /// A snapshot write attempt of `tenant` failed; `retrying` when the writer tries it again
    /// (the sink is failing for it) rather than dropping it (then it is not failing).
    pub fn write_failed(&self, tenant: &str, error: &str, retrying: bool) {
        self.with(|r| {
            let w = &mut r.writes;
            w.failures += 1;
            if retrying {
                let f = w
                    .failing
                    .entry(tenant.to_string())
                    .or_insert((0, String::new()));
                f.0 += 1;
                f.1 = error.to_string();
            } else {
                w.failing.remove(tenant);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_upper_inclusive_and_cumulative() {
        let mut h = Histogram::new(&[0.1, 1.0]);
        for v in [0.05, 0.1, 0.5, 2.0] {
            h.observe(v);
        }
        assert_eq!(h.counts, vec![2, 1, 1]);
        assert_eq!(h.count(), 4);
        assert_eq!(h.buckets(), vec![(0.1, 2), (1.0, 1), (f64::INFINITY, 1)]);
        assert!((h.sum - 2.65).abs() < 1e-9);
    }

    #[test]
    fn lag_is_zero_only_when_idle_after_the_last_commit() {
        let s = Status::default();
        s.position(
            &Position {
                file: "bin.000001".into(),
                pos: 4,
                gtid: None,
            },
            now() - 100,
        );
        let r = s.report();
        assert!(!r.caught_up(now()), "last commit 100 s old, no idle");
        assert!(r.lag_secs(now()) >= 100);
        s.idle();
        let r = s.report();
        assert!(r.caught_up(now()));
        assert_eq!(r.lag_secs(now()), 0);
        assert!(!r.caught_up(now() + 31), "idle too long ago");
        assert!(r.lag_secs(now() + 31) >= 131);
    }

    #[test]
    fn counters() {
        let s = Status::default();
        s.transaction_applied();
        s.transaction_applied();
        s.change_applied("B", Table::Token);
        s.change_applied("A", Table::Assignment);
        s.change_applied("A", Table::Token);
        s.change_applied("A", Table::Token);
        assert_eq!(s.transactions(), 2);
        assert_eq!(
            s.changes(),
            vec![
                ("A".to_string(), Table::Token, 2),
                ("A".to_string(), Table::Assignment, 1),
                ("B".to_string(), Table::Token, 1),
            ]
        );
        s.write_failed("A", "boom", true);
        s.write_failed("A", "boom", true);
        assert_eq!(s.report().writes.failing["A"], (2, "boom".to_string()));
        s.snapshot_written("A", Some(900), &Cadence::ALL, 7, 0.02);
        s.snapshot_written("A", Some(960), &[Cadence::OneMinute], 3, 0.02);
        let w = s.report().writes;
        assert_eq!((w.failures, w.failing.len()), (2, 0));
        assert_eq!(w.rows_by_tenant["A"], 10);
        assert_eq!(w.last_snapshot[&Cadence::OneMinute], 960);
        assert_eq!(w.last_snapshot[&Cadence::FifteenMinutes], 900);
        s.tenant_gone("A");
        assert_eq!(s.changes().len(), 1);
        let by_table = s.changes_by_table();
        assert_eq!(
            (
                by_table[Table::Token as usize],
                by_table[Table::Assignment as usize]
            ),
            (3, 1),
            "a gone tenant's changes still count"
        );
        assert_eq!(s.report().writes.rows, 10);
    }
}
