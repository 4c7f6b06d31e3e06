//! `GET /metrics`: the Prometheus text exposition format (version 0.0.4), encoded by the
//! `prometheus-client` crate from what the service reports about itself at the scrape
//! ([`MetricsInput`]). The metric names are the constants of [`names`].
//!
//! Cardinality is bounded whatever the number of tenants: every family is a fixed set of series
//! (by table, reason, cadence, state, role, step) except the `flowtally_tenant_*` ones, which
//! name only tenants in a bad state (writes failing, a problem, a late snapshot, bad rows), at
//! most [`TENANT_SERIES_CAP`] of them; the rest are counted in
//! `flowtally_tenant_series_dropped`. docs/metrics.md has the list and the cost of a scrape.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::now_secs;
use crate::live::andon::{TenantAlerts, WebhookCounts};
use crate::live::status::{Phase, Report, Role, Steps, TableCounts};
use crate::live::LiveView;
use crate::model::row::LeftOut;
use crate::model::views::Cadence;
use crate::model::Table;

/// Every metric's name (counters without the `_total` the encoder appends).
pub mod names {
    pub const BUILD_INFO: &str = "flowtally_build_info";
    pub const PROCESS_CPU: &str = "process_cpu_seconds";
    pub const PROCESS_RESIDENT: &str = "process_resident_memory_bytes";
    pub const PROCESS_VIRTUAL: &str = "process_virtual_memory_bytes";
    pub const PROCESS_OPEN_FDS: &str = "process_open_fds";
    pub const PROCESS_MAX_FDS: &str = "process_max_fds";
    pub const PROCESS_START: &str = "process_start_time_seconds";
    pub const PHASE: &str = "flowtally_phase";
    pub const HA_ROLE: &str = "flowtally_ha_role";
    pub const HA_TERM: &str = "flowtally_ha_term";
    pub const BINLOG_TRANSACTIONS: &str = "flowtally_binlog_transactions";
    pub const BINLOG_LAG: &str = "flowtally_binlog_lag_seconds";
    pub const BINLOG_PROGRESS: &str = "flowtally_binlog_last_progress_timestamp_seconds";
    pub const BINLOG_RECONNECTS: &str = "flowtally_binlog_reconnects";
    pub const CHANGES_APPLIED: &str = "flowtally_changes_applied";
    pub const LAST_SNAPSHOT: &str = "flowtally_last_snapshot_timestamp_seconds";
    pub const WRITE_DURATION: &str = "flowtally_snapshot_write_duration_seconds";
    pub const ROWS_WRITTEN: &str = "flowtally_snapshot_rows_written";
    pub const WRITE_FAILURES: &str = "flowtally_snapshot_write_failures";
    pub const RECOMPUTES: &str = "flowtally_recomputes";
    pub const BAD_ROWS: &str = "flowtally_bad_rows";
    pub const CHECKPOINT_AGE: &str = "flowtally_checkpoint_age_seconds";
    pub const CHECKPOINT_TIME: &str = "flowtally_checkpoint_timestamp_seconds";
    pub const CHECKPOINT_BYTES: &str = "flowtally_checkpoint_bytes";
    pub const CACHED_ROWS: &str = "flowtally_cached_rows";
    pub const TENANTS: &str = "flowtally_tenants";
    pub const TENANTS_LATE: &str = "flowtally_tenants_snapshot_late";
    pub const OLDEST_SNAPSHOT_AGE: &str = "flowtally_tenant_snapshot_oldest_age_seconds";
    pub const TENANT_WRITE_FAILING: &str = "flowtally_tenant_write_failing_attempts";
    pub const TENANT_PROBLEM: &str = "flowtally_tenant_problem";
    pub const TENANT_SNAPSHOT_AGE: &str = "flowtally_tenant_snapshot_age_seconds";
    pub const TENANT_BAD_ROWS: &str = "flowtally_tenant_bad_rows";
    pub const TENANT_SERIES_DROPPED: &str = "flowtally_tenant_series_dropped";
    pub const APPLIER_STEP_MAX: &str = "flowtally_applier_step_max_seconds";
    pub const APPLIER_STEP: &str = "flowtally_applier_step_seconds";
    pub const APPLIER_STEP_CPU_MAX: &str = "flowtally_applier_step_cpu_max_seconds";
    pub const ANDON_ALERTS: &str = "flowtally_andon_alerts";
    pub const TENANT_ANDON_ALERTS: &str = "flowtally_tenant_andon_alerts";
    pub const ANDON_WEBHOOK: &str = "flowtally_andon_webhook_notices";

    /// Names of earlier releases and what replaced them (docs/metrics.md keeps the same list).
    pub const RENAMED: &[(&str, &str)] = &[
        ("flowtally_lag_seconds", BINLOG_LAG),
        (
            "flowtally_reconnects_total",
            "flowtally_binlog_reconnects_total",
        ),
        ("flowtally_resident_memory_bytes", PROCESS_RESIDENT),
    ];
}

/// At most this many tenants get `flowtally_tenant_*` series in one scrape: a scrape stays
/// small however many tenants are in trouble at once.
pub const TENANT_SERIES_CAP: usize = 100;

/// A writing instance's tenant is late when its latest snapshot written (or, before any, the
/// first one due) is older than this: three one-minute snapshots missed.
pub const LATE_SECS: i64 = 180;

/// One served tenant, as the metrics see it.
#[derive(Debug, Clone, Default)]
pub struct TenantMetrics {
    pub code: String,
    pub loading: bool,
    pub rows: usize,
    pub left_out: BTreeMap<LeftOut, i64>,
    /// Epoch seconds of its first snapshot instant (ready tenants).
    pub first_instant: Option<i64>,
}

/// The process, from /proc (Linux); the standard `process_*` metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessMetrics {
    pub cpu_secs: f64,
    pub resident_bytes: u64,
    pub virtual_bytes: u64,
    pub open_fds: u64,
    /// The soft limit; `None` when unlimited.
    pub max_fds: Option<u64>,
    /// Epoch seconds.
    pub start_time: f64,
}

/// Clock ticks per second of /proc's times: USER_HZ, 100 on every Linux architecture's ABI.
const USER_HZ: f64 = 100.0;

impl ProcessMetrics {
    /// This process's figures; `None` where /proc is not there to read.
    pub fn read() -> Option<ProcessMetrics> {
        let read = |p: &str| std::fs::read_to_string(p).ok();
        let (cpu_secs, start_ticks, virtual_bytes) = parse_stat(&read("/proc/self/stat")?)?;
        let boot = parse_btime(&read("/proc/stat")?)?;
        Some(ProcessMetrics {
            cpu_secs,
            resident_bytes: read("/proc/self/status")
                .and_then(|s| parse_status_kb(&s, "VmRSS:"))
                .unwrap_or(0),
            virtual_bytes,
            open_fds: std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64),
            max_fds: read("/proc/self/limits").and_then(|s| parse_max_fds(&s)),
            start_time: boot as f64 + start_ticks as f64 / USER_HZ,
        })
    }
}

/// `(utime + stime in seconds, starttime in ticks since boot, vsize in bytes)` of a
/// `/proc/<pid>/stat` line. The command name may hold spaces and parentheses: fields are counted
/// from the last `)`.
fn parse_stat(text: &str) -> Option<(f64, u64, u64)> {
    let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    // After the name: state is field 3 of proc(5), so field n is at index n - 3.
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    let cpu = (field(14)? + field(15)?) as f64 / USER_HZ;
    Some((cpu, field(22)?, field(23)?))
}

/// A `kB` line of `/proc/<pid>/status`, in bytes.
fn parse_status_kb(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line[key.len()..].split_whitespace().next()?.parse().ok()?;
    Some(kb * 1024)
}

/// Boot time, epoch seconds, from `/proc/stat`.
fn parse_btime(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()
}

/// The soft limit of open files from `/proc/<pid>/limits`; `None` when unlimited.
fn parse_max_fds(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Everything `/metrics` renders, gathered at one instant.
#[derive(Debug, Clone)]
pub struct MetricsInput {
    pub now: i64,
    pub report: Report,
    pub transactions: u64,
    pub changes: TableCounts,
    pub tenants: Vec<TenantMetrics>,
    pub process: Option<ProcessMetrics>,
    pub steps: BTreeMap<&'static str, Steps>,
    /// The tenants with floor alerts, as of their last evaluation.
    pub andon: Vec<TenantAlerts>,
    pub webhook: WebhookCounts,
}

impl MetricsInput {
    pub fn gather(live: &LiveView) -> Self {
        let mut tenants = Vec::with_capacity(live.len());
        live.each(|_, s| {
            tenants.push(TenantMetrics {
                code: s.code.clone(),
                loading: s.is_loading(),
                rows: s.ready().map_or(0, |r| r.state.rows()),
                left_out: s.ready().map(|r| r.state.left_out()).unwrap_or_default(),
                first_instant: s.ready().map(|r| r.first_instant.0),
            })
        });
        MetricsInput {
            now: now_secs(),
            report: live.status().report(),
            transactions: live.status().transactions(),
            changes: live.status().changes_by_table(),
            tenants,
            process: ProcessMetrics::read(),
            steps: live.status().applier_steps(),
            andon: live.andon().counts(),
            webhook: live.andon().webhook_counts(),
        }
    }

    /// The tenants whose alerts get series (most red first, then most amber, at most
    /// [`TENANT_SERIES_CAP`]), and how many series the others would have had.
    fn andon_shown(&self) -> (Vec<&TenantAlerts>, usize) {
        let mut all: Vec<&TenantAlerts> = self.andon.iter().collect();
        all.sort_by(|a, b| {
            (b.red, b.amber)
                .cmp(&(a.red, a.amber))
                .then(a.code.cmp(&b.code))
        });
        let dropped = all
            .iter()
            .skip(TENANT_SERIES_CAP)
            .map(|t| usize::from(t.red > 0) + usize::from(t.amber > 0))
            .sum();
        all.truncate(TENANT_SERIES_CAP);
        (all, dropped)
    }
}

type Labels = Vec<(&'static str, String)>;

/// What puts one tenant in a bad state, which earns it `flowtally_tenant_*` series.
#[derive(Debug, Default)]
struct Trouble {
    /// Failed write attempts in a row, while retried.
    failing: Option<u32>,
    problem: bool,
    /// Snapshot age, when past [`LATE_SECS`].
    late: Option<i64>,
    bad_rows: Vec<(LeftOut, i64)>,
}

impl Trouble {
    fn series(&self) -> usize {
        usize::from(self.failing.is_some())
            + usize::from(self.problem)
            + usize::from(self.late.is_some())
            + self.bad_rows.len()
    }

    /// Worst first: failing writes, then problems, then late snapshots, then bad rows; the
    /// larger figure first within each.
    fn rank(&self) -> (u8, i64) {
        if let Some(n) = self.failing {
            (0, -i64::from(n))
        } else if self.problem {
            (1, 0)
        } else if let Some(age) = self.late {
            (2, -age)
        } else {
            (3, -self.bad_rows.iter().map(|(_, n)| n).sum::<i64>())
        }
    }
}

/// The input as metric families, encoded at the scrape.
#[derive(Debug)]
struct Families(MetricsInput);

/// Writes one family: its descriptor, then one sample per label set.
fn family<M: EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    samples: impl IntoIterator<Item = (Labels, M)>,
) -> Result<(), std::fmt::Error> {
    let mut e = encoder.encode_descriptor(name, help, None, kind)?;
    for (labels, metric) in samples {
        metric.encode(e.encode_family(&labels)?)?;
    }
    Ok(())
}

fn counter(v: u64) -> ConstCounter<u64> {
    ConstCounter::new(v)
}

fn gauge(v: i64) -> ConstGauge<i64> {
    ConstGauge::new(v)
}

fn label(key: &'static str, value: impl Into<String>) -> Labels {
    vec![(key, value.into())]
}

/// The per-tenant view of the input: the aggregates, and the tenants in trouble.
struct Tenants<'a> {
    ready: usize,
    loading: usize,
    failing: usize,
    late: usize,
    oldest_age: Option<i64>,
    rows: usize,
    bad_rows: BTreeMap<LeftOut, i64>,
    troubled: BTreeMap<&'a str, Trouble>,
}

impl<'a> Tenants<'a> {
    fn of(m: &'a MetricsInput) -> Tenants<'a> {
        let r = &m.report;
        // A standby writes no snapshot: its tenants' snapshot ages mean nothing.
        let writer = r.role != Role::Standby;
        // Snapshots written by an earlier process are not in the report: a tenant with none
        // written by this one is due from its first instant or this process's start.
        let started = m.process.map_or(0, |p| p.start_time as i64);
        let mut t = Tenants {
            ready: 0,
            loading: 0,
            failing: 0,
            late: 0,
            oldest_age: None,
            rows: 0,
            bad_rows: LeftOut::ALL.into_iter().map(|l| (l, 0)).collect(),
            troubled: BTreeMap::new(),
        };
        for (code, (n, _)) in &r.writes.failing {
            t.troubled.entry(code).or_default().failing = Some(*n);
        }
        for code in r.tenant_problems.keys() {
            t.troubled.entry(code).or_default().problem = true;
        }
        for tm in &m.tenants {
            if tm.loading {
                t.loading += 1;
                continue;
            }
            if r.writes.failing.contains_key(&tm.code) {
                t.failing += 1;
            } else {
                t.ready += 1;
            }
            t.rows += tm.rows;
            let bad: Vec<(LeftOut, i64)> = tm
                .left_out
                .iter()
                .filter(|(_, n)| **n != 0)
                .map(|(l, n)| (*l, *n))
                .collect();
            for (l, n) in &bad {
                *t.bad_rows.entry(*l).or_default() += n;
            }
            let age = match r.writes.last_by_tenant.get(&tm.code) {
                Some(at) => Some(m.now - at),
                None => tm.first_instant.map(|f| m.now - f.max(started)),
            }
            .filter(|_| writer)
            .map(|a| a.max(0));
            if let Some(age) = age {
                t.oldest_age = Some(t.oldest_age.map_or(age, |o| o.max(age)));
            }
            let late = age.filter(|a| *a > LATE_SECS);
            t.late += usize::from(late.is_some());
            if late.is_some() || !bad.is_empty() {
                let trouble = t.troubled.entry(&tm.code).or_default();
                trouble.late = late;
                trouble.bad_rows = bad;
            }
        }
        t
    }

    /// The tenants that get series (worst first, at most [`TENANT_SERIES_CAP`]), and how many
    /// series the others would have had.
    fn shown(&self) -> (Vec<(&'a str, &Trouble)>, usize) {
        let mut all: Vec<(&'a str, &Trouble)> =
            self.troubled.iter().map(|(c, t)| (*c, t)).collect();
        all.sort_by_key(|(code, t)| (t.rank(), *code));
        let dropped = all
            .iter()
            .skip(TENANT_SERIES_CAP)
            .map(|(_, t)| t.series())
            .sum();
        all.truncate(TENANT_SERIES_CAP);
        (all, dropped)
    }
}

impl Collector for Families {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        use names::*;
        let m = &self.0;
        let r = &m.report;
        let tenants = Tenants::of(m);
        let (shown, dropped) = tenants.shown();
        let (andon_shown, andon_dropped) = m.andon_shown();
        let dropped = dropped + andon_dropped;
        family(
            &mut e,
            BUILD_INFO,
            "Always 1: the version of flowtally running, and the machine it is built for.",
            MetricType::Gauge,
            [(
                vec![
                    ("version", env!("CARGO_PKG_VERSION").to_string()),
                    ("arch", std::env::consts::ARCH.to_string()),
                    ("os", std::env::consts::OS.to_string()),
                ],
                gauge(1),
            )],
        )?;
        let p = m.process;
        family(
            &mut e,
            PROCESS_CPU,
            "Total user and system CPU time spent in seconds.",
            MetricType::Counter,
            p.map(|p| (vec![], ConstCounter::new(p.cpu_secs))),
        )?;
        family(
            &mut e,
            PROCESS_RESIDENT,
            "Resident memory size in bytes.",
            MetricType::Gauge,
            p.map(|p| (vec![], gauge(p.resident_bytes as i64))),
        )?;
        family(
            &mut e,
            PROCESS_VIRTUAL,
            "Virtual memory size in bytes.",
            MetricType::Gauge,
            p.map(|p| (vec![], gauge(p.virtual_bytes as i64))),
        )?;
        family(
            &mut e,
            PROCESS_OPEN_FDS,
            "Number of open file descriptors.",
            MetricType::Gauge,
            p.map(|p| (vec![], gauge(p.open_fds as i64))),
        )?;
        family(
            &mut e,
            PROCESS_MAX_FDS,
            "Maximum number of open file descriptors (absent when unlimited).",
            MetricType::Gauge,
            p.and_then(|p| p.max_fds).map(|n| (vec![], gauge(n as i64))),
        )?;
        family(
            &mut e,
            PROCESS_START,
            "Start time of the process since unix epoch in seconds.",
            MetricType::Gauge,
            p.map(|p| (vec![], ConstGauge::new(p.start_time))),
        )?;
        family(
            &mut e,
            PHASE,
            "1 for the phase the binlog stream is in (connecting, recomputing, streaming, reconnecting), 0 for the others.",
            MetricType::Gauge,
            [
                Phase::Connecting,
                Phase::Recomputing,
                Phase::Streaming,
                Phase::Reconnecting,
            ]
            .map(|ph| (label("phase", ph.label()), gauge(i64::from(ph == r.phase)))),
        )?;
        family(
            &mut e,
            HA_ROLE,
            "1 for this instance's role (single: no [ha]; leader: holds the writer's lease; standby), 0 for the others.",
            MetricType::Gauge,
            [Role::Single, Role::Leader, Role::Standby]
                .map(|ro| (label("role", ro.label()), gauge(i64::from(ro == r.role)))),
        )?;
        family(
            &mut e,
            HA_TERM,
            "The writer's lease term this instance holds (absent unless leader).",
            MetricType::Gauge,
            r.term.map(|t| (vec![], gauge(t as i64))),
        )?;
        family(
            &mut e,
            BINLOG_TRANSACTIONS,
            "Binlog transactions applied since start.",
            MetricType::Counter,
            [(vec![], counter(m.transactions))],
        )?;
        family(
            &mut e,
            BINLOG_LAG,
            "Now minus the commit time of the last transaction applied; 0 while the server is idle and caught up.",
            MetricType::Gauge,
            [(vec![], gauge(r.lag_secs(m.now)))],
        )?;
        family(
            &mut e,
            BINLOG_PROGRESS,
            "Unix time (this host's clock) when the binlog stream last moved: a transaction applied or a heartbeat from an idle server (absent before either).",
            MetricType::Gauge,
            r.last_applied_at
                .max(r.last_idle)
                .map(|at| (vec![], gauge(at))),
        )?;
        family(
            &mut e,
            BINLOG_RECONNECTS,
            "Times the binlog stream was lost and reconnected.",
            MetricType::Counter,
            [(vec![], counter(r.reconnects))],
        )?;
        family(
            &mut e,
            CHANGES_APPLIED,
            "Source row changes applied to the in-memory state since start, every tenant's, by source table.",
            MetricType::Counter,
            Table::ALL.map(|t| (label("table", t.name()), counter(m.changes[t as usize]))),
        )?;
        family(
            &mut e,
            LAST_SNAPSHOT,
            "Unix time of the latest snapshot instant written, by cadence (0: none yet).",
            MetricType::Gauge,
            Cadence::ALL.map(|c| {
                let at = r.writes.last_snapshot.get(&c).copied().unwrap_or(0);
                (label("cadence", c.label()), gauge(at))
            }),
        )?;
        let h = &r.writes.duration;
        let buckets = h.buckets();
        e.encode_descriptor(
            WRITE_DURATION,
            "Duration of one tenant's snapshot write transaction.",
            None,
            MetricType::Histogram,
        )?
        .encode_histogram::<Labels>(h.sum, h.count(), &buckets, None)?;
        family(
            &mut e,
            ROWS_WRITTEN,
            "mv_ rows written in snapshots since start, every tenant's.",
            MetricType::Counter,
            [(vec![], counter(r.writes.rows))],
        )?;
        family(
            &mut e,
            WRITE_FAILURES,
            "Snapshot write attempts that failed (retried or dropped).",
            MetricType::Counter,
            [(vec![], counter(r.writes.failures))],
        )?;
        family(
            &mut e,
            RECOMPUTES,
            "Full recomputes from the source tables, by reason.",
            MetricType::Counter,
            r.recomputes
                .iter()
                .map(|(reason, n)| (label("reason", reason.clone()), counter(*n))),
        )?;
        family(
            &mut e,
            BAD_ROWS,
            "Source rows held now that are left out of some metric, every served tenant's, by reason.",
            MetricType::Gauge,
            tenants
                .bad_rows
                .iter()
                .map(|(reason, n)| (label("reason", reason.label()), gauge(*n))),
        )?;
        family(
            &mut e,
            CHECKPOINT_AGE,
            "Seconds since the last checkpoint was written.",
            MetricType::Gauge,
            r.checkpoint_at
                .map(|at| (vec![], gauge((m.now - at).max(0)))),
        )?;
        family(
            &mut e,
            CHECKPOINT_TIME,
            "Unix time the last checkpoint was written: a restart resumes from there, if the server's binlog still holds it.",
            MetricType::Gauge,
            r.checkpoint_at.map(|at| (vec![], gauge(at))),
        )?;
        family(
            &mut e,
            CHECKPOINT_BYTES,
            "Size of the checkpoint on disk.",
            MetricType::Gauge,
            [(vec![], gauge(r.checkpoint_bytes as i64))],
        )?;
        family(
            &mut e,
            CACHED_ROWS,
            "Source rows held in memory, every served tenant's.",
            MetricType::Gauge,
            [(vec![], gauge(tenants.rows as i64))],
        )?;
        family(
            &mut e,
            TENANTS,
            "Tenants by state: ready (served, snapshots written), failing (served, snapshot writes retried), loading, problem (not served: no database, tables missing, load failed, column drift).",
            MetricType::Gauge,
            [
                ("ready", tenants.ready),
                ("failing", tenants.failing),
                ("loading", tenants.loading),
                ("problem", r.tenant_problems.len()),
            ]
            .map(|(state, n)| (label("state", state), gauge(n as i64))),
        )?;
        family(
            &mut e,
            TENANTS_LATE,
            "Served tenants whose latest snapshot written is more than 180 s old (0 on a standby, which writes none).",
            MetricType::Gauge,
            [(vec![], gauge(tenants.late as i64))],
        )?;
        family(
            &mut e,
            OLDEST_SNAPSHOT_AGE,
            "The largest age of a served tenant's latest snapshot written (seconds since it, or since one was first due), across tenants; absent on a standby.",
            MetricType::Gauge,
            tenants.oldest_age.map(|a| (vec![], gauge(a))),
        )?;
        family(
            &mut e,
            TENANT_WRITE_FAILING,
            "Failed snapshot write attempts in a row of a tenant whose write is being retried (tenants in a bad state only, capped).",
            MetricType::Gauge,
            shown.iter().filter_map(|(code, t)| {
                t.failing
                    .map(|n| (label("tenant", *code), gauge(i64::from(n))))
            }),
        )?;
        family(
            &mut e,
            TENANT_PROBLEM,
            "1 for a tenant not served for a problem (its text: /api/v1/tenants and the log; capped).",
            MetricType::Gauge,
            shown
                .iter()
                .filter(|(_, t)| t.problem)
                .map(|(code, _)| (label("tenant", *code), gauge(1))),
        )?;
        family(
            &mut e,
            TENANT_SNAPSHOT_AGE,
            "Age of a late tenant's latest snapshot written, over 180 s (late tenants only, capped).",
            MetricType::Gauge,
            shown
                .iter()
                .filter_map(|(code, t)| t.late.map(|a| (label("tenant", *code), gauge(a)))),
        )?;
        family(
            &mut e,
            TENANT_BAD_ROWS,
            "Source rows of a tenant left out of some metric, by reason (non-zero only, capped).",
            MetricType::Gauge,
            shown.iter().flat_map(|(code, t)| {
                t.bad_rows.iter().map(|(reason, n)| {
                    (
                        vec![
                            ("tenant", code.to_string()),
                            ("reason", reason.label().to_string()),
                        ],
                        gauge(*n),
                    )
                })
            }),
        )?;
        family(
            &mut e,
            ANDON_ALERTS,
            "Floor alerts (andon) that last now, every served tenant's, by level (amber: near a limit; red: over it).",
            MetricType::Gauge,
            [
                ("amber", m.andon.iter().map(|t| t.amber).sum::<usize>()),
                ("red", m.andon.iter().map(|t| t.red).sum()),
            ]
            .map(|(level, n)| (label("level", level), gauge(n as i64))),
        )?;
        family(
            &mut e,
            TENANT_ANDON_ALERTS,
            "A tenant's floor alerts that last now, by level (tenants with alerts only, non-zero levels, capped: most red first).",
            MetricType::Gauge,
            andon_shown.iter().flat_map(|t| {
                [("amber", t.amber), ("red", t.red)]
                    .into_iter()
                    .filter(|(_, n)| *n > 0)
                    .map(|(level, n)| {
                        (
                            vec![("tenant", t.code.clone()), ("level", level.to_string())],
                            gauge(n as i64),
                        )
                    })
            }),
        )?;
        family(
            &mut e,
            ANDON_WEBHOOK,
            "Alert notices for the [andon] webhook, by outcome: sent, failed (after every retry), dropped (its queue was full).",
            MetricType::Counter,
            [
                ("sent", m.webhook.sent),
                ("failed", m.webhook.failed),
                ("dropped", m.webhook.dropped),
            ]
            .map(|(outcome, n)| (label("outcome", outcome), counter(n))),
        )?;
        family(
            &mut e,
            TENANT_SERIES_DROPPED,
            "flowtally_tenant_* series left out of this scrape: tenants in a bad state (and tenants with floor alerts) beyond the first 100 of each, worst first.",
            MetricType::Gauge,
            [(vec![], gauge(dropped as i64))],
        )?;
        family(
            &mut e,
            APPLIER_STEP_MAX,
            "The longest time the applier spent on one input (and so did not read the binlog), by kind: transaction, boundary, snapshots, survey (a slice of 500 of its tenants), load, checkpoint.",
            MetricType::Gauge,
            m.steps
                .iter()
                .map(|(step, s)| (label("step", *step), ConstGauge::new(s.max_secs))),
        )?;
        family(
            &mut e,
            APPLIER_STEP_CPU_MAX,
            "The most CPU the applier's thread used on one input, by kind: no input of that kind worked longer, so the rest of flowtally_applier_step_max_seconds was waiting (for a core, a lock or the snapshot writer).",
            MetricType::Gauge,
            m.steps
                .iter()
                .map(|(step, s)| (label("step", *step), ConstGauge::new(s.max_cpu_secs))),
        )?;
        family(
            &mut e,
            APPLIER_STEP,
            "Time the applier spent on its inputs, by kind (seconds, summed).",
            MetricType::Counter,
            m.steps
                .iter()
                .map(|(step, s)| (label("step", *step), ConstCounter::new(s.total_secs))),
        )?;
        Ok(())
    }
}

/// The Prometheus text exposition of `m`.
pub fn render_metrics(m: MetricsInput) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Families(m)));
    let mut out = String::with_capacity(4096);
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry);
    out
}

pub async fn metrics(State(live): State<LiveView>) -> Response {
    let body = render_metrics(MetricsInput::gather(&live));
    (
        [(
            header::CONTENT_TYPE,
            prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
        )],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::status::Status;
    use crate::live::{History, LiveWriter, Ready, Stage, TenantKey, TenantSlot};
    use crate::model::clock::Instant;
    use crate::model::TenantState;

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
        status.write_failed("A\"\\\n", "lost connection", true);
        status.checkpointed(1234);
        status.tenant_problem("C", "no database on the server");
        status.role(Role::Leader, Some(7));
        let mut left_out = BTreeMap::new();
        left_out.insert(LeftOut::NodeMissing, 4);
        let report = status.report();
        let now = report.checkpoint_at.expect("checkpointed");
        MetricsInput {
            now,
            report,
            transactions: status.transactions(),
            changes: status.changes_by_table(),
            tenants: vec![
                TenantMetrics {
                    code: "A\"\\\n".into(),
                    loading: false,
                    rows: 8,
                    left_out: BTreeMap::new(),
                    first_instant: Some(now - 60),
                },
                TenantMetrics {
                    code: "B".into(),
                    loading: false,
                    rows: 42,
                    left_out,
                    first_instant: Some(600),
                },
                TenantMetrics {
                    code: "D".into(),
                    loading: true,
                    rows: 0,
                    left_out: BTreeMap::new(),
                    first_instant: None,
                },
            ],
            process: Some(ProcessMetrics {
                cpu_secs: 1.5,
                resident_bytes: 8192,
                virtual_bytes: 65536,
                open_fds: 9,
                max_fds: Some(1024),
                start_time: 500.0,
            }),
            steps: BTreeMap::new(),
            andon: vec![
                TenantAlerts {
                    code: "B".into(),
                    amber: 2,
                    red: 1,
                },
                TenantAlerts {
                    code: "E".into(),
                    amber: 0,
                    red: 3,
                },
            ],
            webhook: WebhookCounts {
                sent: 4,
                failed: 1,
                dropped: 2,
            },
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

    /// The families declared and the number of samples of `text`, checking its shape.
    fn families_and_samples(text: &str) -> (Vec<String>, usize) {
        let mut typed: Vec<String> = Vec::new();
        let mut samples = 0;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("name and type");
                assert!(["counter", "gauge", "histogram"].contains(&kind));
                typed.push(name.to_string());
            } else if !line.starts_with("# HELP ") && line != "# EOF" {
                let (name, _, _) = parse_sample(line);
                let family = typed.last().expect("a TYPE line before any sample");
                assert!(name.starts_with(family.as_str()), "{name} under {family}");
                samples += 1;
            }
        }
        (typed, samples)
    }

    #[test]
    fn exposition_is_well_formed_and_complete() {
        let text = render_metrics(input());
        let (typed, _) = families_and_samples(&text);
        let mut unique = typed.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), typed.len(), "each family once");
        assert_eq!(typed.len(), 39);
        for (old, new) in names::RENAMED {
            assert!(!typed.iter().any(|t| t == old), "{old} is gone");
            assert!(typed.iter().any(|t| t == new), "{new} is there");
        }
        let build = format!(
            "flowtally_build_info{{version=\"{}\",arch=\"{}\",os=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION"),
            std::env::consts::ARCH,
            std::env::consts::OS
        );
        assert!(text.lines().any(|l| l == build), "{build} not in\n{text}");
        for expected in [
            "process_cpu_seconds_total 1.5",
            "process_resident_memory_bytes 8192",
            "process_max_fds 1024",
            "process_start_time_seconds 500.0",
            "flowtally_phase{phase=\"streaming\"} 1",
            "flowtally_phase{phase=\"recomputing\"} 0",
            "flowtally_ha_role{role=\"leader\"} 1",
            "flowtally_ha_role{role=\"standby\"} 0",
            "flowtally_ha_role{role=\"single\"} 0",
            "flowtally_ha_term 7",
            "flowtally_binlog_transactions_total 1",
            "flowtally_binlog_reconnects_total 0",
            "flowtally_changes_applied_total{table=\"flow_token\"} 2",
            "flowtally_changes_applied_total{table=\"team_member\"} 1",
            "flowtally_changes_applied_total{table=\"routing_graph\"} 0",
            "flowtally_last_snapshot_timestamp_seconds{cadence=\"1m\"} 960",
            "flowtally_last_snapshot_timestamp_seconds{cadence=\"15m\"} 900",
            "flowtally_snapshot_write_duration_seconds_bucket{le=\"0.025\"} 1",
            "flowtally_snapshot_write_duration_seconds_bucket{le=\"2.5\"} 2",
            "flowtally_snapshot_write_duration_seconds_bucket{le=\"+Inf\"} 2",
            "flowtally_snapshot_write_duration_seconds_sum 2.02",
            "flowtally_snapshot_write_duration_seconds_count 2",
            "flowtally_snapshot_rows_written_total 15",
            "flowtally_snapshot_write_failures_total 1",
            "flowtally_recomputes_total{reason=\"no_checkpoint\"} 1",
            "flowtally_bad_rows{reason=\"node_missing\"} 4",
            "flowtally_bad_rows{reason=\"null_id\"} 0",
            "flowtally_checkpoint_age_seconds 0",
            "flowtally_checkpoint_bytes 1234",
            "flowtally_cached_rows 50",
            "flowtally_tenants{state=\"ready\"} 1",
            "flowtally_tenants{state=\"failing\"} 1",
            "flowtally_tenants{state=\"loading\"} 1",
            "flowtally_tenants{state=\"problem\"} 1",
            "flowtally_tenants_snapshot_late 1",
            "flowtally_tenant_write_failing_attempts{tenant=\"A\\\"\\\\\\n\"} 1",
            "flowtally_tenant_problem{tenant=\"C\"} 1",
            "flowtally_tenant_bad_rows{tenant=\"B\",reason=\"node_missing\"} 4",
            "flowtally_tenant_series_dropped 0",
            "flowtally_andon_alerts{level=\"amber\"} 2",
            "flowtally_andon_alerts{level=\"red\"} 4",
            "flowtally_tenant_andon_alerts{tenant=\"E\",level=\"red\"} 3",
            "flowtally_tenant_andon_alerts{tenant=\"B\",level=\"amber\"} 2",
            "flowtally_tenant_andon_alerts{tenant=\"B\",level=\"red\"} 1",
            "flowtally_andon_webhook_notices_total{outcome=\"dropped\"} 2",
        ] {
            assert!(
                text.lines().any(|l| l == expected),
                "{expected:?} not in\n{text}"
            );
        }
        // B's latest snapshot is 960, and the checkpoint (now) is much later.
        let age = text
            .lines()
            .find_map(|l| l.strip_prefix("flowtally_tenant_snapshot_age_seconds{tenant=\"B\"} "))
            .expect("B is late");
        assert!(age.parse::<i64>().is_ok_and(|a| a > LATE_SECS), "{age}");
        assert!(
            text.contains("flowtally_tenant_snapshot_oldest_age_seconds "),
            "{text}"
        );
        assert!(
            !text.contains("tenant=\"A\\\"\\\\\\n\"} 0") && !text.contains("tenant=\"D\""),
            "a failing tenant due for a minute is not late; a loading one has no series"
        );
    }

    #[test]
    fn andon_series_name_only_tenants_with_alerts_and_no_zero_level() {
        let text = render_metrics(input());
        assert!(!text.contains("flowtally_tenant_andon_alerts{tenant=\"E\",level=\"amber\"}"));
        assert!(!text.contains("flowtally_tenant_andon_alerts{tenant=\"A"));
        let mut m = input();
        m.andon = (0..TENANT_SERIES_CAP + 5)
            .map(|i| TenantAlerts {
                code: format!("T{i:04}"),
                amber: 1,
                red: i % 2,
            })
            .collect();
        let text = render_metrics(m);
        let series = text
            .lines()
            .filter(|l| l.starts_with("flowtally_tenant_andon_alerts{"))
            .count();
        let reds = (TENANT_SERIES_CAP + 5) / 2;
        // The 52 with red (2 series each) first, then 48 with amber only.
        assert_eq!(series, reds * 2 + (TENANT_SERIES_CAP - reds));
        assert!(text.contains("flowtally_tenant_series_dropped 5"), "{text}");
    }

    #[test]
    fn a_standby_reports_no_snapshot_age() {
        let mut m = input();
        m.report.role = Role::Standby;
        m.report.term = None;
        let text = render_metrics(m);
        assert!(text
            .lines()
            .any(|l| l == "flowtally_tenants_snapshot_late 0"));
        assert!(text
            .lines()
            .any(|l| l == "flowtally_ha_role{role=\"standby\"} 1"));
        for absent in [
            "flowtally_ha_term ",
            "flowtally_tenant_snapshot_oldest_age_seconds ",
            "flowtally_tenant_snapshot_age_seconds{",
        ] {
            assert!(
                !text
                    .lines()
                    .any(|l| !l.starts_with('#') && l.starts_with(absent)),
                "{absent} in\n{text}"
            );
        }
    }

    /// A live state of `n` ready tenants, every one with a latest snapshot `age` seconds old
    /// at `now`, the first `bad` of them with bad rows and failing writes.
    fn many(n: usize, now: i64, age: i64, bad: usize) -> LiveWriter {
        let live = LiveWriter::new(chrono_tz::UTC);
        for i in 0..n {
            let code = format!("T{i:05}");
            live.status()
                .snapshot_written(&code, Some(now - age), &[Cadence::OneMinute], 10, 0.01);
            if i < bad {
                live.status().write_failed(&code, "lock wait timeout", true);
            }
            live.insert(
                TenantKey::of_db(&format!("erp_{code}")),
                TenantSlot {
                    code,
                    db: format!("erp_T{i:05}"),
                    stage: Stage::Ready(Ready {
                        state: TenantState::default(),
                        loaded_at: None,
                        first_instant: Instant(now - 3600),
                        base: None,
                        history: History::new(),
                    }),
                },
            );
        }
        live
    }

    #[test]
    fn series_stay_bounded_at_ten_thousand_tenants() {
        let now = now_secs();
        // Healthy: not one per-tenant series.
        let live = many(10_000, now, 30, 0);
        let mut m = MetricsInput::gather(&live.view());
        m.now = now;
        let text = render_metrics(m);
        let (_, healthy) = families_and_samples(&text);
        assert!(!text.contains("tenant=\""), "no per-tenant series");
        assert!(text.contains("flowtally_tenants{state=\"ready\"} 10000"));
        // Every tenant late and failing: the cap holds, the rest is counted.
        let live = many(10_000, now, 3600, 10_000);
        let mut m = MetricsInput::gather(&live.view());
        m.now = now;
        let text = render_metrics(m);
        let (_, troubled) = families_and_samples(&text);
        let per_tenant = text
            .lines()
            .filter(|l| l.starts_with("flowtally_tenant_") && l.contains("tenant=\""))
            .count();
        assert_eq!(
            per_tenant,
            2 * TENANT_SERIES_CAP,
            "failing and late, 100 tenants"
        );
        assert!(text.contains(&format!(
            "flowtally_tenant_series_dropped {}",
            2 * (10_000 - TENANT_SERIES_CAP)
        )));
        assert!(text.contains("flowtally_tenants_snapshot_late 10000"));
        assert!(text.contains("flowtally_tenants{state=\"failing\"} 10000"));
        // Every family has a fixed number of series but the capped per-tenant ones.
        let bound = 120 + TENANT_SERIES_CAP * (3 + LeftOut::ALL.len());
        assert!(healthy < 120 && troubled <= bound, "{healthy} {troubled}");
        assert!(text.len() < 64 * 1024, "{} bytes", text.len());
    }

    #[test]
    fn proc_files_parse() {
        let stat = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 800 0 0 0 250 50 0 0 20 0 9 0 \
                    12345 987654321 2048 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1";
        assert_eq!(parse_stat(stat), Some((3.0, 12345, 987_654_321)));
        assert_eq!(
            parse_status_kb("Name:\tx\nVmRSS:\t  2048 kB\n", "VmRSS:"),
            Some(2048 * 1024)
        );
        assert_eq!(
            parse_btime("cpu 1 2\nbtime 1700000000\n"),
            Some(1_700_000_000)
        );
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1024                 524288               files\n";
        assert_eq!(parse_max_fds(limits), Some(1024));
        assert_eq!(
            parse_max_fds(
                "Max open files            unlimited            unlimited            files\n"
            ),
            None
        );
        if cfg!(target_os = "linux") {
            let p = ProcessMetrics::read().expect("/proc on Linux");
            assert!(
                p.resident_bytes > 0 && p.open_fds > 0 && p.start_time > 1e9,
                "{p:?}"
            );
        }
    }
}
