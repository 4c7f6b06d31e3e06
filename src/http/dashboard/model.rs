//! The dashboard's figures at one instant T, derived only from the rows the five views yield at
//! T (the rows `/api/v1` serves and a snapshot at T would write), the dimension names, the
//! tenant's WIP history and the service's report. Pure: no lock, no I/O, no clock.
//!
//! The KPIs that are not a column of a view are defined here (and in docs/dashboard.md):
//!
//! - WIP = Σ summary `wip_count`; queued = Σ `waiting_count`; in work = WIP − queued;
//!   completed today = Σ `completed_count`.
//! - 7-day throughput = Σ trends `tokens_completed` over the 7 days ending today ÷ 7.
//! - average lead time = the mean of trends `avg_lead_time_hours` over the 7 days ending today,
//!   weighted by `tokens_completed` (rows without a lead time left out).
//!
//! Per production type and day, the trend charts add up the rows of that day and type (one per
//! graph): spawned and completed are sums, throughput is the sum of `throughput_per_day`, lead
//! time the `tokens_completed`-weighted mean.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{NaiveDate, NaiveDateTime};

use crate::http::health::health;
use crate::live::slot::Totals;
use crate::live::status::{Phase, Report, Role};
use crate::model::andon::{Alert, Level as AndonLevel, Subject};
use crate::model::clock::local_time;
use crate::model::decimal::Dec2;
use crate::model::dims::Dims;
use crate::model::views::bottlenecks::BottleneckRow;
use crate::model::views::cycle_time::CycleTimeRow;
use crate::model::views::summary::SummaryRow;
use crate::model::views::trends::{TrendRow, WINDOW_DAYS};
use crate::model::views::workload::WorkloadRow;
use crate::model::views::ViewRows;
use crate::model::{Snapshot, View};

/// Bottleneck rows shown.
pub const TOP_BOTTLENECKS: usize = 10;

/// The names of the nodes, teams and graphs a snapshot's rows refer to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Names {
    /// Node id → (code, name).
    pub nodes: BTreeMap<i64, (Option<String>, Option<String>)>,
    pub teams: BTreeMap<i64, Option<String>>,
    /// Graph id → `routing_graph.name` (when the table has the column).
    pub graphs: BTreeMap<i64, Option<String>>,
}

impl Names {
    /// The names `snap`'s rows need, copied out of `dims` (so the tenant's entry can be
    /// released before anything is rendered).
    pub fn of(dims: &Dims, snap: &Snapshot) -> Names {
        let mut node_ids = BTreeSet::new();
        let mut team_ids = BTreeSet::new();
        let mut graph_ids = BTreeSet::new();
        for rows in &snap.views {
            match rows {
                ViewRows::Summary(rows) => {
                    for r in rows {
                        node_ids.insert(r.node_id);
                        team_ids.extend(r.team_id);
                        graph_ids.extend(r.graph_id);
                    }
                }
                ViewRows::CycleTime(rows) => node_ids.extend(rows.iter().map(|r| r.node_id)),
                ViewRows::Workload(rows) => team_ids.extend(rows.iter().map(|r| r.team_id)),
                // The alerts' nodes (the bottlenecks' rows are what the rules read).
                ViewRows::Bottlenecks(rows) => node_ids.extend(rows.iter().map(|r| r.node_id)),
                ViewRows::Trends(_) => {}
            }
        }
        Names {
            nodes: node_ids
                .into_iter()
                .filter_map(|id| {
                    let n = dims.nodes.get(&id)?;
                    Some((id, (n.code.clone(), n.name.clone())))
                })
                .collect(),
            teams: team_ids
                .into_iter()
                .filter_map(|id| Some((id, dims.teams.get(&id)?.name.clone())))
                .collect(),
            graphs: graph_ids
                .into_iter()
                .filter_map(|id| Some((id, dims.graphs.get(&id)?.name.clone())))
                .collect(),
        }
    }

    /// The graph's name as the ERP has it, if it has one (the page numbers the others, in its
    /// language).
    pub fn graph(&self, id: Option<i64>) -> Option<String> {
        match self.graphs.get(&id?) {
            Some(Some(name)) if !name.is_empty() => Some(name.clone()),
            _ => None,
        }
    }

    /// `CODE · Name`, or whichever of the two exists, or `#12` (no word: the page's language
    /// is not known here).
    pub fn node(&self, id: i64) -> String {
        match self.nodes.get(&id) {
            Some((Some(c), Some(n))) if c != n => format!("{c} · {n}"),
            Some((Some(c), _)) => c.clone(),
            Some((None, Some(n))) => n.clone(),
            _ => format!("#{id}"),
        }
    }

    /// The team's name, or `#7`; empty for no team (the page says "no team" in its language).
    pub fn team(&self, id: Option<i64>) -> String {
        match id {
            None => String::new(),
            Some(id) => match self.teams.get(&id) {
                Some(Some(name)) => name.clone(),
                _ => format!("#{id}"),
            },
        }
    }
}

/// What [`build`] takes: everything read under the tenant's entry, and the report.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub code: String,
    pub snapshot: Snapshot,
    pub names: Names,
    pub history: Vec<Totals>,
    pub report: Report,
    /// Epoch seconds of T (the snapshot's `at` is T in the factory's time zone).
    pub now: i64,
    pub timezone: chrono_tz::Tz,
    /// The floor's alerts at T (red first), with since-when.
    pub alerts: Vec<Alert>,
    /// The totals kept at the quarter hour nearest to T − 24 h, if any (see [`Yesterday`]).
    pub day_before: Option<Totals>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dashboard {
    pub code: String,
    pub at: NaiveDateTime,
    pub timezone: String,
    pub kpi: Kpis,
    pub notices: Vec<Notice>,
    /// The instance computing the figures, and its role (the page's service details).
    pub instance: String,
    pub role: Role,
    pub bottlenecks: Vec<Bottleneck>,
    pub heatmaps: Vec<Heatmap>,
    pub workload: Vec<Workload>,
    pub cycle: Cycle,
    pub trends: Trends,
    pub history: Vec<HistoryPoint>,
    pub alerts: Vec<Alert>,
    pub marks: Marks,
    /// The names of the nodes and teams the page shows (the alert list names its subjects).
    pub names: Names,
}

/// The worst alert level of each node and team at T: the colour of their rows and cells.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Marks {
    pub nodes: BTreeMap<i64, AndonLevel>,
    pub teams: BTreeMap<i64, AndonLevel>,
}

impl Marks {
    pub fn of(alerts: &[Alert]) -> Marks {
        let mut m = Marks::default();
        for a in alerts {
            let (map, id) = match a.breach.subject {
                // A token's age colours its node too: something there needs a look.
                Subject::Node { id } | Subject::Token { node: id, .. } => (&mut m.nodes, id),
                Subject::Team { id } => (&mut m.teams, id),
            };
            let level = map.entry(id).or_insert(a.breach.level);
            *level = (*level).max(a.breach.level);
        }
        m
    }

    /// `andon-amber`, `andon-red`, or nothing, for a node.
    pub fn node_class(&self, id: i64) -> &'static str {
        class(self.nodes.get(&id))
    }

    pub fn team_class(&self, id: i64) -> &'static str {
        class(self.teams.get(&id))
    }
}

fn class(level: Option<&AndonLevel>) -> &'static str {
    match level {
        Some(AndonLevel::Red) => "andon-red",
        Some(AndonLevel::Amber) => "andon-amber",
        None => "",
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Kpis {
    pub wip: i64,
    pub queued: i64,
    pub in_work: i64,
    pub completed_today: i64,
    pub throughput_7d: Dec2,
    pub lead_time_7d_hours: Option<Dec2>,
    pub lag_secs: i64,
    pub phase: Phase,
    /// The latest snapshot instant written for this tenant, local time.
    pub last_snapshot: Option<NaiveDateTime>,
    /// The same figures yesterday at this time of day, when kept.
    pub yesterday: Option<Yesterday>,
}

/// WIP and completions at the quarter hour nearest to 24 hours before T (within 7.5 minutes),
/// as the one-minute snapshot of that instant counted them: WIP then, and assignments completed
/// that day by then. Kept in memory since the tenant was loaded, so absent for a day after a
/// start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Yesterday {
    pub at: NaiveDateTime,
    pub wip: i64,
    pub completed: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    pub fn class(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// A line of the status banner: what it is about (the page words it in its language), the
/// figure it says, and the service's own words about the cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub level: Level,
    /// A stable label (`lagging`, `tenant_problem` ...): picks the message, and is there for
    /// the page's tests and styles.
    pub kind: &'static str,
    /// Attempts (`sink_failing`), rows read (`recomputing`), seconds behind (`lagging`, -1 when
    /// no commit was seen); 0 otherwise.
    pub figure: i64,
    /// The cause as the service words it (an error's text, in English), or empty.
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Bottleneck {
    pub row: BottleneckRow,
    pub label: String,
    /// The score against the largest shown, 0–100.
    pub bar: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    pub graph_id: Option<i64>,
    /// The graph's name, if the ERP has one (see [`Names::graph`]).
    pub graph: Option<String>,
    pub teams: Vec<Option<i64>>,
    pub team_labels: Vec<String>,
    pub rows: Vec<HeatRow>,
    pub max_wip: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HeatRow {
    pub node_id: i64,
    pub label: String,
    /// Per team column: (WIP, queued), `None` without a summary row.
    pub cells: Vec<Option<(i64, i64)>>,
    pub total: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    pub row: WorkloadRow,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cycle {
    pub period: Option<(NaiveDate, NaiveDate)>,
    /// The per-node rows (`team_id` NULL), slowest p95 first.
    pub nodes: Vec<(CycleTimeRow, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Trends {
    /// The 30 days ending today, oldest first.
    pub days: Vec<NaiveDate>,
    pub series: Vec<TypeSeries>,
    pub compare: Vec<Compare>,
}

/// One production type's daily figures, aligned with [`Trends::days`].
#[derive(Debug, Clone, PartialEq)]
pub struct TypeSeries {
    /// `hatthasilpa`, `classic` ...; `unspecified` for rows without a type.
    pub name: String,
    pub spawned: Vec<i64>,
    pub completed: Vec<i64>,
    /// `None` on a day without a row of this type.
    pub throughput: Vec<Option<Dec2>>,
    pub lead_hours: Vec<Option<Dec2>>,
}

/// One production type over the last 7 and 30 days.
#[derive(Debug, Clone, PartialEq)]
pub struct Compare {
    pub name: String,
    pub completed_7: i64,
    pub completed_30: i64,
    pub throughput_7: Dec2,
    pub throughput_30: Dec2,
    pub lead_7: Option<Dec2>,
    pub lead_30: Option<Dec2>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryPoint {
    pub at: NaiveDateTime,
    pub wip: i64,
    pub queued: i64,
}

/// The name a production type is shown under.
pub fn type_name(t: Option<&str>) -> String {
    match t {
        Some(t) if !t.is_empty() => t.to_string(),
        _ => "unspecified".into(),
    }
}

/// hatthasilpa, classic, then the others by name, unspecified last.
fn type_order(name: &str) -> (u8, String) {
    match name {
        "hatthasilpa" => (0, String::new()),
        "classic" => (1, String::new()),
        "unspecified" => (3, String::new()),
        other => (2, other.to_string()),
    }
}

/// Σ weight × value ÷ Σ weight, rounded once: a mean of means weighted by their counts.
#[derive(Debug, Default, Clone, Copy)]
struct Weighted {
    hundredths: i128,
    weight: i128,
}

impl Weighted {
    fn add(&mut self, value: Option<Dec2>, weight: i64) {
        if let Some(v) = value {
            if weight > 0 {
                self.hundredths += v.0 as i128 * weight as i128;
                self.weight += weight as i128;
            }
        }
    }

    fn mean(self) -> Option<Dec2> {
        (self.weight > 0).then(|| Dec2::ratio(self.hundredths, 100 * self.weight))
    }
}

fn rows_of<'a, T>(
    snap: &'a Snapshot,
    pick: impl Fn(&'a ViewRows) -> Option<&'a Vec<T>>,
) -> &'a [T] {
    snap.views.iter().find_map(pick).map_or(&[], Vec::as_slice)
}

pub fn summary_rows(snap: &Snapshot) -> &[SummaryRow] {
    rows_of(snap, |r| match r {
        ViewRows::Summary(v) => Some(v),
        _ => None,
    })
}

pub fn bottleneck_rows(snap: &Snapshot) -> &[BottleneckRow] {
    rows_of(snap, |r| match r {
        ViewRows::Bottlenecks(v) => Some(v),
        _ => None,
    })
}

pub fn workload_rows(snap: &Snapshot) -> &[WorkloadRow] {
    rows_of(snap, |r| match r {
        ViewRows::Workload(v) => Some(v),
        _ => None,
    })
}

fn cycle_rows(snap: &Snapshot) -> &[CycleTimeRow] {
    rows_of(snap, |r| match r {
        ViewRows::CycleTime(v) => Some(v),
        _ => None,
    })
}

fn trend_rows(snap: &Snapshot) -> &[TrendRow] {
    rows_of(snap, |r| match r {
        ViewRows::Trends(v) => Some(v),
        _ => None,
    })
}

/// WIP and queued of a summary (the index page's figure too).
pub fn wip_and_queued(rows: &[SummaryRow]) -> (i64, i64) {
    rows.iter()
        .fold((0, 0), |(w, q), r| (w + r.wip_count, q + r.waiting_count))
}

/// The views the dashboard reads.
pub const VIEWS: [View; 5] = View::ALL;

pub fn build(input: Inputs) -> Dashboard {
    let snap = &input.snapshot;
    let at = snap.at;
    let today = at.date();
    let summary = summary_rows(snap);
    let (wip, queued) = wip_and_queued(summary);
    let completed_today = summary.iter().map(|r| r.completed_count).sum();
    let trends = trends(trend_rows(snap), today);
    let week_start = today - chrono::Days::new(6);
    let (mut completed_7, mut lead_7) = (0i64, Weighted::default());
    for r in trend_rows(snap)
        .iter()
        .filter(|r| r.period_date >= week_start)
    {
        completed_7 += r.tokens_completed;
        lead_7.add(r.avg_lead_time_hours, r.tokens_completed);
    }
    let report = &input.report;
    let kpi = Kpis {
        wip,
        queued,
        in_work: wip - queued,
        completed_today,
        throughput_7d: Dec2::ratio(completed_7 as i128, 7),
        lead_time_7d_hours: lead_7.mean(),
        lag_secs: report.lag_secs(input.now),
        phase: report.phase,
        last_snapshot: report
            .writes
            .last_by_tenant
            .get(&input.code)
            .map(|t| local_time(*t, input.timezone)),
        yesterday: input.day_before.map(|t| Yesterday {
            at: local_time(t.at, input.timezone),
            wip: t.wip,
            completed: t.completed,
        }),
    };
    Dashboard {
        notices: notices(&input.code, report, input.now),
        bottlenecks: bottlenecks(bottleneck_rows(snap)),
        heatmaps: heatmaps(summary, &input.names),
        workload: workload_rows(snap)
            .iter()
            .map(|r| Workload {
                label: r
                    .team_name
                    .clone()
                    .unwrap_or_else(|| format!("#{}", r.team_id)),
                row: r.clone(),
            })
            .collect(),
        cycle: cycle(cycle_rows(snap), &input.names),
        trends,
        history: input
            .history
            .iter()
            .map(|t| HistoryPoint {
                at: local_time(t.at, input.timezone),
                wip: t.wip,
                queued: t.queued,
            })
            .collect(),
        instance: report.instance.clone(),
        role: report.role,
        marks: Marks::of(&input.alerts),
        alerts: input.alerts,
        code: input.code,
        at,
        timezone: input.timezone.name().to_string(),
        kpi,
        names: input.names,
    }
}

/// What the banner says about the service and this tenant (nothing when all is well).
pub fn notices(code: &str, report: &Report, now: i64) -> Vec<Notice> {
    let mut out = Vec::new();
    if let Some(problem) = report.tenant_problems.get(code) {
        out.push(Notice {
            level: Level::Error,
            kind: "tenant_problem",
            figure: 0,
            detail: problem.clone(),
        });
    }
    if let Some((attempts, error)) = report.writes.failing.get(code) {
        out.push(Notice {
            level: Level::Warn,
            kind: "sink_failing",
            figure: i64::from(*attempts),
            detail: error.clone(),
        });
    }
    out.extend(service_notice(report, now).filter(|n| n.kind != "sink_failing"));
    out.sort_by_key(|n| std::cmp::Reverse(n.level));
    out
}

/// What the service's health says, when it is not healthy (`/healthz`'s reason).
pub fn service_notice(report: &Report, now: i64) -> Option<Notice> {
    let u = health(report, now).err()?;
    let (figure, detail) = match u.reason {
        "connecting" => (0, String::new()),
        "recomputing" => (report.rows_loaded as i64, String::new()),
        "lagging" => (
            report.last_commit.map_or(-1, |c| (now - c).max(0)),
            String::new(),
        ),
        "reconnecting" => (0, report.reason.clone().unwrap_or_default()),
        "sink_failing" => (report.writes.failing.len() as i64, u.detail),
        _ => (0, u.detail),
    };
    Some(Notice {
        level: match u.reason {
            "connecting" | "recomputing" => Level::Info,
            _ => Level::Warn,
        },
        kind: u.reason,
        figure,
        detail,
    })
}

fn bottlenecks(rows: &[BottleneckRow]) -> Vec<Bottleneck> {
    let mut rows: Vec<&BottleneckRow> = rows.iter().collect();
    rows.sort_by(|a, b| {
        b.bottleneck_score
            .cmp(&a.bottleneck_score)
            .then(b.queue_depth.cmp(&a.queue_depth))
            .then(a.node_id.cmp(&b.node_id))
    });
    rows.truncate(TOP_BOTTLENECKS);
    let max = rows.first().map_or(0, |r| r.bottleneck_score.0).max(1);
    rows.into_iter()
        .map(|r| Bottleneck {
            label: match (&r.node_code, &r.node_name) {
                (Some(c), Some(n)) if c != n => format!("{c} · {n}"),
                (Some(c), _) => c.clone(),
                (None, Some(n)) => n.clone(),
                (None, None) => format!("#{}", r.node_id),
            },
            bar: ((r.bottleneck_score.0.max(0) * 100) / max).clamp(0, 100) as u32,
            row: r.clone(),
        })
        .collect()
}

fn heatmaps(rows: &[SummaryRow], names: &Names) -> Vec<Heatmap> {
    let mut graphs: BTreeMap<Option<i64>, Vec<&SummaryRow>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.wip_count > 0) {
        graphs.entry(r.graph_id).or_default().push(r);
    }
    graphs
        .into_iter()
        .map(|(graph_id, rows)| {
            // Teams in id order, "no team" last.
            let mut teams: Vec<Option<i64>> = rows
                .iter()
                .map(|r| r.team_id)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            if teams.first() == Some(&None) {
                teams.rotate_left(1);
            }
            let mut by_node: BTreeMap<i64, Vec<Option<(i64, i64)>>> = BTreeMap::new();
            for r in &rows {
                let col = teams.iter().position(|t| *t == r.team_id).unwrap_or(0);
                let cells = by_node
                    .entry(r.node_id)
                    .or_insert_with(|| vec![None; teams.len()]);
                let c = cells[col].get_or_insert((0, 0));
                c.0 += r.wip_count;
                c.1 += r.waiting_count;
            }
            let rows: Vec<HeatRow> = by_node
                .into_iter()
                .map(|(node_id, cells)| HeatRow {
                    node_id,
                    label: names.node(node_id),
                    total: cells.iter().flatten().map(|c| c.0).sum(),
                    cells,
                })
                .collect();
            let max_wip = rows
                .iter()
                .flat_map(|r| r.cells.iter().flatten().map(|c| c.0))
                .max()
                .unwrap_or(0);
            Heatmap {
                graph: names.graph(graph_id),
                graph_id,
                team_labels: teams.iter().map(|t| names.team(*t)).collect(),
                teams,
                rows,
                max_wip,
            }
        })
        .collect()
}

fn cycle(rows: &[CycleTimeRow], names: &Names) -> Cycle {
    let mut nodes: Vec<(CycleTimeRow, String)> = rows
        .iter()
        .filter(|r| r.team_id.is_none())
        .map(|r| (r.clone(), names.node(r.node_id)))
        .collect();
    nodes.sort_by(|(a, _), (b, _)| {
        b.p95_minutes
            .cmp(&a.p95_minutes)
            .then(a.node_id.cmp(&b.node_id))
    });
    Cycle {
        period: rows.first().map(|r| (r.period_start, r.period_end)),
        nodes,
    }
}

fn trends(rows: &[TrendRow], today: NaiveDate) -> Trends {
    let days: Vec<NaiveDate> = (0..WINDOW_DAYS)
        .rev()
        .map(|back| today - chrono::Days::new(back))
        .collect();
    let first = days[0];
    let week_start = today - chrono::Days::new(6);
    let mut types: BTreeMap<(u8, String), String> = BTreeMap::new();
    for r in rows {
        let name = type_name(r.production_type.as_deref());
        types.insert(type_order(&name), name);
    }
    let mut series = Vec::new();
    let mut compare = Vec::new();
    for name in types.into_values() {
        let n = days.len();
        let mut s = TypeSeries {
            name: name.clone(),
            spawned: vec![0; n],
            completed: vec![0; n],
            throughput: vec![None; n],
            lead_hours: vec![None; n],
        };
        let mut lead = vec![Weighted::default(); n];
        let (mut c7, mut c30) = (0, 0);
        let (mut l7, mut l30) = (Weighted::default(), Weighted::default());
        for r in rows
            .iter()
            .filter(|r| type_name(r.production_type.as_deref()) == name)
        {
            let Some(i) = r
                .period_date
                .signed_duration_since(first)
                .num_days()
                .try_into()
                .ok()
                .filter(|i: &usize| *i < n)
            else {
                continue;
            };
            s.spawned[i] += r.tokens_spawned;
            s.completed[i] += r.tokens_completed;
            let t = s.throughput[i].get_or_insert(Dec2(0));
            t.0 += r.throughput_per_day.0;
            lead[i].add(r.avg_lead_time_hours, r.tokens_completed);
            c30 += r.tokens_completed;
            l30.add(r.avg_lead_time_hours, r.tokens_completed);
            if r.period_date >= week_start {
                c7 += r.tokens_completed;
                l7.add(r.avg_lead_time_hours, r.tokens_completed);
            }
        }
        s.lead_hours = lead.into_iter().map(Weighted::mean).collect();
        compare.push(Compare {
            name,
            completed_7: c7,
            completed_30: c30,
            throughput_7: Dec2::ratio(c7 as i128, 7),
            throughput_30: Dec2::ratio(c30 as i128, WINDOW_DAYS as i128),
            lead_7: l7.mean(),
            lead_30: l30.mean(),
        });
        series.push(s);
    }
    Trends {
        days,
        series,
        compare,
    }
}
