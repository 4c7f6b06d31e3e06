//! mv_cycle_time_analytics — over assignments with status completed, started_at and completed_at
//! not NULL, completed_at ≥ started_at, and DATE(completed_at) ∈ [today − 6, today]:
//! - period_start = today − 6, period_end = today;
//! - one row per (node_id, team_id) group for assignments whose team is not NULL (team = team of
//!   the assignment), plus one row per node with team_id NULL that covers all of that node's
//!   assignments (those without a team appear only there);
//! - token_count = assignments in the group; avg_minutes = exact mean of
//!   (completed_at − started_at)/60;
//! - p50_minutes, p95_minutes = nearest-rank percentiles at a histogram's precision (at most 1%
//!   relative error; see `model::cycles`).
//!
//! Assignments whose node is missing from routing_node are left out.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use super::Ctx;
use crate::model::completions::{
    week_start, CompletionCell, CompletionIndex, CompletionKey, Cycles,
};
use crate::model::decimal::Dec2;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CycleTimeRow {
    pub node_id: i64,
    pub team_id: Option<i64>,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub token_count: i64,
    pub p50_minutes: Option<Dec2>,
    pub p95_minutes: Option<Dec2>,
    pub avg_minutes: Option<Dec2>,
}

#[derive(Default)]
struct Group {
    count: i64,
    secs: i64,
    distribution: Cycles,
}

impl Group {
    fn absorb(&mut self, cell: &CompletionCell) {
        self.count += cell.cycles;
        self.secs += cell.cycle_secs_sum;
        self.distribution.absorb(&cell.distribution);
    }

    fn absorb_group(&mut self, other: &Group) {
        self.count += other.count;
        self.secs += other.secs;
        self.distribution.absorb(&other.distribution);
    }
}

pub fn rows(ctx: &Ctx, completions: &CompletionIndex) -> Vec<CycleTimeRow> {
    let (period_start, period_end) = (week_start(ctx.today()), ctx.today());
    // Cells merged by (node, team of the assignment): a team's row, or (team None) the node's
    // assignments without a team.
    let mut groups: BTreeMap<(i64, Option<i64>), Group> = BTreeMap::new();
    let mut absorb = |key: &CompletionKey, cell: &CompletionCell| {
        if cell.cycles == 0 || !ctx.dims.nodes.contains_key(&key.node) {
            return;
        }
        let team = ctx.teams.team_of(key.operator, key.node);
        groups.entry((key.node, team)).or_default().absorb(cell);
    };
    // The week merged by (node, operator) when the state has it ready (snapshots), else the
    // days one by one (live reads).
    match completions.week(period_end) {
        Some(cells) => cells.iter().for_each(|(k, c)| absorb(k, c)),
        None => {
            for (_, cells) in completions.days(period_start, period_end) {
                cells.iter().for_each(|(k, c)| absorb(k, c));
            }
        }
    }
    // A node's row (team None) covers all of its groups: merged from the few groups rather than
    // from every day's cell again (merging histograms is the cost of this view).
    let mut nodes: BTreeMap<i64, Group> = BTreeMap::new();
    for ((node, _), g) in &groups {
        nodes.entry(*node).or_default().absorb_group(g);
    }
    groups.retain(|(_, team), _| team.is_some());
    for (node, g) in nodes {
        groups.insert((node, None), g);
    }
    let minutes = |secs: u64| Dec2::ratio(secs as i128, 60);
    groups
        .into_iter()
        .filter(|(_, g)| g.count > 0)
        .map(|((node_id, team_id), g)| CycleTimeRow {
            node_id,
            team_id,
            period_start,
            period_end,
            token_count: g.count,
            p50_minutes: g.distribution.percentile(50).map(minutes),
            p95_minutes: g.distribution.percentile(95).map(minutes),
            avg_minutes: Some(Dec2::ratio(g.secs as i128, 60 * g.count as i128)),
        })
        .collect()
}
