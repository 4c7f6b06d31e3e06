//! `GET /metrics`: the Prometheus text exposition format (version 0.0.4), encoded by the
//! `prometheus-client` crate from what the service reports about itself at the scrape
//! ([`MetricsInput`]). The metric names are the constants of [`names`].

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
use crate::live::status::{Report, Steps};
use crate::live::LiveView;
use crate::model::row::LeftOut;
use crate::model::views::Cadence;
use crate::model::Table;

/// Every metric's name (counters without the `_total` the encoder appends).
pub mod names {
    pub const BINLOG_TRANSACTIONS: &str = "flowtally_binlog_transactions";
    pub const CHANGES_APPLIED: &str = "flowtally_changes_applied";
    pub const LAG_SECONDS: &str = "flowtally_lag_seconds";
    pub const LAST_SNAPSHOT: &str = "flowtally_last_snapshot_timestamp_seconds";
    pub const WRITE_DURATION: &str = "flowtally_snapshot_write_duration_seconds";
    pub const ROWS_WRITTEN: &str = "flowtally_snapshot_rows_written";
    pub const WRITE_FAILURES: &str = "flowtally_snapshot_write_failures";
    pub const RECONNECTS: &str = "flowtally_reconnects";
    pub const RECOMPUTES: &str = "flowtally_recomputes";
    pub const BAD_ROWS: &str = "flowtally_bad_rows";
    pub const CHECKPOINT_AGE: &str = "flowtally_checkpoint_age_seconds";
    pub const CHECKPOINT_BYTES: &str = "flowtally_checkpoint_bytes";
    pub const CACHED_ROWS: &str = "flowtally_cached_rows";
    pub const RESIDENT_MEMORY: &str = "flowtally_resident_memory_bytes";
    pub const TENANTS: &str = "flowtally_tenants";
    pub const APPLIER_STEP_MAX: &str = "flowtally_applier_step_max_seconds";
    pub const APPLIER_STEP: &str = "flowtally_applier_step_seconds";
}

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
    pub steps: BTreeMap<&'static str, Steps>,
}

impl MetricsInput {
    pub fn gather(live: &LiveView) -> Self {
        let mut tenants: Vec<TenantMetrics> = live
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
            report: live.status().report(),
            transactions: live.status().transactions(),
            changes: live.status().changes(),
            tenants,
            resident_bytes: resident_memory_bytes(),
            steps: live.status().applier_steps(),
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

type Labels = Vec<(&'static str, String)>;

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
        if labels.is_empty() {
            metric.encode(e.encode_family(&Labels::new())?)?;
        } else {
            metric.encode(e.encode_family(&labels)?)?;
        }
    }
    Ok(())
}

fn counter(v: u64) -> ConstCounter<u64> {
    ConstCounter::new(v)
}

fn gauge(v: i64) -> ConstGauge<i64> {
    ConstGauge::new(v)
}

impl Collector for Families {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        use names::*;
        let m = &self.0;
        let r = &m.report;
        family(
            &mut e,
            BINLOG_TRANSACTIONS,
            "Binlog transactions applied since start.",
            MetricType::Counter,
            [(vec![], counter(m.transactions))],
        )?;
        family(
            &mut e,
            CHANGES_APPLIED,
            "Source row changes applied to the in-memory state, by tenant and source table.",
            MetricType::Counter,
            m.changes.iter().map(|(tenant, table, n)| {
                (
                    vec![
                        ("tenant", tenant.clone()),
                        ("table", table.name().to_string()),
                    ],
                    counter(*n),
                )
            }),
        )?;
        family(
            &mut e,
            LAG_SECONDS,
            "Now minus the commit time of the last transaction applied; 0 while the server is idle and caught up.",
            MetricType::Gauge,
            [(vec![], gauge(r.lag_secs(m.now)))],
        )?;
        family(
            &mut e,
            LAST_SNAPSHOT,
            "Unix time of the latest snapshot instant written, by cadence (0: none yet).",
            MetricType::Gauge,
            Cadence::ALL.map(|c| {
                let at = r.writes.last_snapshot.get(&c).copied().unwrap_or(0);
                (vec![("cadence", c.label().to_string())], gauge(at))
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
            "mv_ rows written in snapshots, by tenant.",
            MetricType::Counter,
            r.writes
                .rows_by_tenant
                .iter()
                .map(|(t, n)| (vec![("tenant", t.clone())], counter(*n))),
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
            RECONNECTS,
            "Times the binlog stream was lost and reconnected.",
            MetricType::Counter,
            [(vec![], counter(r.reconnects))],
        )?;
        family(
            &mut e,
            RECOMPUTES,
            "Full recomputes from the source tables, by reason.",
            MetricType::Counter,
            r.recomputes
                .iter()
                .map(|(reason, n)| (vec![("reason", reason.clone())], counter(*n))),
        )?;
        family(
            &mut e,
            BAD_ROWS,
            "Source rows held now that are left out of some metric, by tenant and reason.",
            MetricType::Gauge,
            m.tenants.iter().filter(|t| !t.loading).flat_map(|t| {
                LeftOut::ALL.map(|reason| {
                    let n = t.left_out.get(&reason).copied().unwrap_or(0);
                    (
                        vec![
                            ("tenant", t.code.clone()),
                            ("reason", reason.label().to_string()),
                        ],
                        gauge(n),
                    )
                })
            }),
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
            CHECKPOINT_BYTES,
            "Size of the checkpoint on disk.",
            MetricType::Gauge,
            [(vec![], gauge(r.checkpoint_bytes as i64))],
        )?;
        family(
            &mut e,
            CACHED_ROWS,
            "Source rows held in memory, by tenant.",
            MetricType::Gauge,
            m.tenants
                .iter()
                .map(|t| (vec![("tenant", t.code.clone())], gauge(t.rows as i64))),
        )?;
        family(
            &mut e,
            RESIDENT_MEMORY,
            "Resident memory of the process.",
            MetricType::Gauge,
            [(vec![], gauge(m.resident_bytes as i64))],
        )?;
        let loading = m.tenants.iter().filter(|t| t.loading).count();
        family(
            &mut e,
            TENANTS,
            "Tenants by state: served (snapshotted), loading, or with a problem.",
            MetricType::Gauge,
            [
                ("served", m.tenants.len() - loading),
                ("loading", loading),
                ("problem", r.tenant_problems.len()),
            ]
            .map(|(state, n)| (vec![("state", state.to_string())], gauge(n as i64))),
        )?;
        family(
            &mut e,
            APPLIER_STEP_MAX,
            "The longest time the applier spent on one input (and so did not read the binlog), by kind: transaction, snapshots, survey, load, checkpoint.",
            MetricType::Gauge,
            m.steps.iter().map(|(step, s)| {
                (vec![("step", step.to_string())], ConstGauge::new(s.max_secs))
            }),
        )?;
        family(
            &mut e,
            APPLIER_STEP,
            "Time the applier spent on its inputs, by kind (seconds, summed).",
            MetricType::Counter,
            m.steps.iter().map(|(step, s)| {
                (
                    vec![("step", step.to_string())],
                    ConstCounter::new(s.total_secs),
                )
            }),
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
            steps: BTreeMap::new(),
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
        let text = render_metrics(input());
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
        assert_eq!(typed.len(), 17, "each family once");
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
}
