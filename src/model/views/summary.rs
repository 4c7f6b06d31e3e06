//! mv_token_flow_summary — groups (graph_id, node_id, team_id) over live tokens with a non-NULL
//! current_node_id (graph_id = graph of the node, team_id = team of the token), united with
//! groups of assignments completed today (node = the assignment's id_node, team = team of the
//! assignment):
//! - wip_count = live tokens in the group; waiting_count = queued tokens in the group;
//! - completed_count = assignments with status completed and DATE(completed_at) = today.
//!
//! Rows whose three counts are all 0 are not written. Tokens and assignments whose node is
//! missing from routing_node are left out.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Ctx;
use crate::model::completions::CompletionIndex;
use crate::model::wip::WipIndex;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SummaryRow {
    pub graph_id: Option<i64>,
    pub node_id: i64,
    pub team_id: Option<i64>,
    pub wip_count: i64,
    pub completed_count: i64,
    pub waiting_count: i64,
}

/// (graph, node, team)
type Group = (Option<i64>, i64, Option<i64>);
/// (wip, completed, waiting)
type Counts = (i64, i64, i64);

pub fn rows(ctx: &Ctx, wip: &WipIndex, completions: &CompletionIndex) -> Vec<SummaryRow> {
    let mut groups: BTreeMap<Group, Counts> = BTreeMap::new();
    for (key, cell) in wip.cells() {
        let Some(node) = key.node.and_then(|n| ctx.dims.nodes.get(&n)) else {
            continue;
        };
        let team = key
            .holder
            .and_then(|h| ctx.teams.team_of(h.operator, h.node));
        let g = groups.entry((node.graph, node.id, team)).or_default();
        g.0 += cell.live;
        g.2 += cell.queued;
    }
    let today = ctx.today();
    for (_, cells) in completions.days(today, today) {
        for (key, cell) in cells {
            let Some(node) = ctx.dims.nodes.get(&key.node) else {
                continue;
            };
            let team = ctx.teams.team_of(key.operator, key.node);
            groups.entry((node.graph, node.id, team)).or_default().1 += cell.completed;
        }
    }
    groups
        .into_iter()
        .filter(|(_, c)| *c != (0, 0, 0))
        .map(
            |((graph_id, node_id, team_id), (wip_count, completed_count, waiting_count))| {
                SummaryRow {
                    graph_id,
                    node_id,
                    team_id,
                    wip_count,
                    completed_count,
                    waiting_count,
                }
            },
        )
        .collect()
}
