//! mv_node_bottlenecks — one row per node having at least one live token at it:
//! - node_code, node_name from routing_node;
//! - queue_depth = queued tokens at the node;
//! - avg_wait_minutes = mean over the queued tokens at the node whose open assignment is at that
//!   same node and has a non-NULL assigned_at, of (T − assigned_at) in minutes; NULL when there
//!   is none;
//! - bottleneck_score = queue_depth × (1 + avg_wait_minutes / 60), from the unrounded mean, a
//!   NULL mean counting as 0.
//!
//! Both DECIMALs are rounded half away from zero to 2 places. Nodes missing from routing_node
//! get no row.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Ctx;
use crate::model::decimal::Dec2;
use crate::model::wip::{WipCell, WipIndex};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BottleneckRow {
    pub node_id: i64,
    pub node_code: Option<String>,
    pub node_name: Option<String>,
    pub queue_depth: i64,
    pub avg_wait_minutes: Option<Dec2>,
    pub bottleneck_score: Dec2,
}

pub fn rows(ctx: &Ctx, wip: &WipIndex) -> Vec<BottleneckRow> {
    let mut per_node: BTreeMap<i64, WipCell> = BTreeMap::new();
    for (key, cell) in wip.cells() {
        let Some(node) = key.node.filter(|n| ctx.dims.nodes.contains_key(n)) else {
            continue;
        };
        let sum = per_node.entry(node).or_default();
        sum.live += cell.live;
        sum.queued += cell.queued;
        sum.waits += cell.waits;
        sum.wait_since_sum += cell.wait_since_sum;
    }
    let t = ctx.at_secs() as i128;
    per_node
        .into_iter()
        .filter(|(_, c)| c.live > 0)
        .map(|(node_id, c)| {
            let node = &ctx.dims.nodes[&node_id];
            let (n, since, queued) = (c.waits as i128, c.wait_since_sum as i128, c.queued as i128);
            // Σ(T − assigned_at) = n·T − Σ assigned_at, all in seconds.
            let waited = n * t - since;
            let (avg_wait_minutes, bottleneck_score) = if n > 0 {
                (
                    Some(Dec2::ratio(waited, 60 * n)),
                    Dec2::ratio(queued * (3_600 * n + waited), 3_600 * n),
                )
            } else {
                (None, Dec2::from_int(c.queued))
            };
            BottleneckRow {
                node_id,
                node_code: node.code.clone(),
                node_name: node.name.clone(),
                queue_depth: c.queued,
                avg_wait_minutes,
                bottleneck_score,
            }
        })
        .collect()
}
