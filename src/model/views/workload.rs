//! mv_team_workload — one row per active team that has at least one active member or one token:
//! - team_name, team_category from team;
//! - active_tokens = in-work tokens whose team is this team; waiting_tokens = queued tokens whose
//!   team is this team;
//! - capacity = Σ over the team's active members of (capacity_per_day if > 0 else 10);
//! - avg_load = min(100, 100 × (active_tokens + waiting_tokens) / capacity); NULL if capacity is 0.
//!
//! A token counts for its team even when its node is missing from routing_node.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Ctx;
use crate::model::decimal::Dec2;
use crate::model::wip::WipIndex;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkloadRow {
    pub team_id: i64,
    pub team_name: Option<String>,
    pub team_category: Option<String>,
    pub active_tokens: i64,
    pub waiting_tokens: i64,
    pub avg_load: Option<Dec2>,
}

#[derive(Default)]
struct Team {
    active_members: i64,
    capacity: i64,
    active_tokens: i64,
    waiting_tokens: i64,
}

pub fn rows(ctx: &Ctx, wip: &WipIndex) -> Vec<WorkloadRow> {
    let mut teams: BTreeMap<i64, Team> = BTreeMap::new();
    for m in ctx.dims.members.values().filter(|m| m.active) {
        let t = teams.entry(m.team).or_default();
        t.active_members += 1;
        t.capacity += m.capacity();
    }
    for (key, cell) in wip.cells() {
        let Some(team) = key
            .holder
            .and_then(|h| ctx.teams.team_of(h.operator, h.node))
        else {
            continue;
        };
        let t = teams.entry(team).or_default();
        t.active_tokens += cell.live - cell.queued;
        t.waiting_tokens += cell.queued;
    }
    teams
        .into_iter()
        .filter_map(|(team_id, t)| {
            let team = ctx.dims.teams.get(&team_id).filter(|team| team.active)?;
            let tokens = t.active_tokens + t.waiting_tokens;
            if t.active_members == 0 && tokens == 0 {
                return None;
            }
            let avg_load = (t.capacity != 0).then(|| {
                Dec2::ratio(100 * tokens as i128, t.capacity as i128).min(Dec2::from_int(100))
            });
            Some(WorkloadRow {
                team_id,
                team_name: team.name.clone(),
                team_category: team.team_category.clone(),
                active_tokens: t.active_tokens,
                waiting_tokens: t.waiting_tokens,
                avg_load,
            })
        })
        .collect()
}
