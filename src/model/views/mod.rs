//! The five dashboard views: one file per mv_ table, each a pure function from the tenant's
//! aggregates and dimensions at instant T to the rows its table gets. The docs/metrics.md section of a
//! table is the doc comment of its file.

pub mod bottlenecks;
pub mod cycle_time;
pub mod summary;
pub mod trends;
pub mod workload;

use std::fmt;
use std::str::FromStr;

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::dims::{Dims, TeamResolver};

/// One of the five mv_ tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum View {
    Summary,
    Bottlenecks,
    Workload,
    CycleTime,
    Trends,
}

impl View {
    pub const ALL: [View; 5] = [
        View::Summary,
        View::Bottlenecks,
        View::Workload,
        View::CycleTime,
        View::Trends,
    ];

    /// The name used by `--tables` and the HTTP API.
    pub fn short_name(self) -> &'static str {
        match self {
            View::Summary => "summary",
            View::Bottlenecks => "bottlenecks",
            View::Workload => "workload",
            View::CycleTime => "cycle_time",
            View::Trends => "trends",
        }
    }

    pub fn table(self) -> &'static str {
        match self {
            View::Summary => "mv_token_flow_summary",
            View::Bottlenecks => "mv_node_bottlenecks",
            View::Workload => "mv_team_workload",
            View::CycleTime => "mv_cycle_time_analytics",
            View::Trends => "mv_dashboard_trends",
        }
    }

    /// How often this table gets a snapshot.
    pub fn cadence(self) -> Cadence {
        match self {
            View::Summary | View::Bottlenecks | View::Workload => Cadence::OneMinute,
            View::CycleTime => Cadence::FiveMinutes,
            View::Trends => Cadence::FifteenMinutes,
        }
    }

    /// How long snapshot rows are kept, in seconds; trends keep days instead (see trends.rs).
    pub fn retention_secs(self) -> i64 {
        match self {
            View::CycleTime => 7 * 86_400,
            _ => 86_400,
        }
    }
}

/// How often a table gets a snapshot: every minute, every 5th or every 15th minute on the
/// clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Cadence {
    OneMinute,
    FiveMinutes,
    FifteenMinutes,
}

impl Cadence {
    pub const ALL: [Cadence; 3] = [
        Cadence::OneMinute,
        Cadence::FiveMinutes,
        Cadence::FifteenMinutes,
    ];

    pub fn minutes(self) -> i64 {
        match self {
            Cadence::OneMinute => 1,
            Cadence::FiveMinutes => 5,
            Cadence::FifteenMinutes => 15,
        }
    }

    /// `1m`, `5m`, `15m`: metric labels and displays.
    pub fn label(self) -> &'static str {
        match self {
            Cadence::OneMinute => "1m",
            Cadence::FiveMinutes => "5m",
            Cadence::FifteenMinutes => "15m",
        }
    }

    /// Whether the instant `epoch_secs` (a minute boundary) is one of this cadence's.
    pub fn falls_on(self, epoch_secs: i64) -> bool {
        epoch_secs.rem_euclid(60 * self.minutes()) == 0
    }

    /// The views refreshed on this cadence.
    pub fn views(self) -> impl Iterator<Item = View> {
        View::ALL.into_iter().filter(move |v| v.cadence() == self)
    }
}

/// The rows one view yields at one instant: what one mv_ table gets in a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ViewRows {
    Summary(Vec<summary::SummaryRow>),
    Bottlenecks(Vec<bottlenecks::BottleneckRow>),
    Workload(Vec<workload::WorkloadRow>),
    CycleTime(Vec<cycle_time::CycleTimeRow>),
    Trends(Vec<trends::TrendRow>),
}

impl ViewRows {
    pub fn view(&self) -> View {
        match self {
            ViewRows::Summary(_) => View::Summary,
            ViewRows::Bottlenecks(_) => View::Bottlenecks,
            ViewRows::Workload(_) => View::Workload,
            ViewRows::CycleTime(_) => View::CycleTime,
            ViewRows::Trends(_) => View::Trends,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ViewRows::Summary(r) => r.len(),
            ViewRows::Bottlenecks(r) => r.len(),
            ViewRows::Workload(r) => r.len(),
            ViewRows::CycleTime(r) => r.len(),
            ViewRows::Trends(r) => r.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Display for View {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.short_name())
    }
}

impl FromStr for View {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        View::ALL
            .into_iter()
            .find(|v| v.short_name() == s || v.table() == s)
            .ok_or_else(|| {
                format!(
                    "unknown table '{s}': use summary, bottlenecks, workload, cycle_time or trends"
                )
            })
    }
}

/// Parses a `--tables` list such as `summary,trends`.
pub fn parse_list(list: &str) -> Result<Vec<View>, String> {
    let mut views = Vec::new();
    for part in list.split(',').filter(|p| !p.trim().is_empty()) {
        let v: View = part.parse()?;
        if !views.contains(&v) {
            views.push(v);
        }
    }
    if views.is_empty() {
        return Err("--tables is empty: name at least one table".into());
    }
    views.sort();
    Ok(views)
}

/// What every view reads besides its aggregate: the instant and the tenant's dimensions.
pub struct Ctx<'a> {
    pub at: NaiveDateTime,
    pub dims: &'a Dims,
    pub teams: TeamResolver<'a>,
}

impl<'a> Ctx<'a> {
    pub fn new(at: NaiveDateTime, dims: &'a Dims) -> Self {
        Ctx {
            at,
            dims,
            teams: TeamResolver::new(dims),
        }
    }

    /// The local date of T.
    pub fn today(&self) -> NaiveDate {
        self.at.date()
    }

    /// T as naive epoch seconds, the unit of every duration.
    pub fn at_secs(&self) -> i64 {
        self.at.and_utc().timestamp()
    }

    pub fn days_ago(&self, n: u64) -> NaiveDate {
        self.today() - chrono::Days::new(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_lists_parse_short_and_full_names() {
        assert_eq!(
            parse_list("trends,summary,mv_team_workload,summary"),
            Ok(vec![View::Summary, View::Workload, View::Trends])
        );
        assert!(parse_list("summary,bogus").unwrap_err().contains("bogus"));
        assert!(parse_list("").is_err());
    }
}
