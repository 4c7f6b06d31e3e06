//! The floor's drill-downs, read from a tenant's state at instant T (no query on the ERP): the
//! live tokens at one node, oldest first, with who holds them; and one team's operators with
//! their load.
//!
//! A token's age at its node is measured from its open assignment there (`assigned_at`): the
//! source tables record when a token was assigned at a node, not when it reached it. A token
//! without an open assignment at its node has no age (it waits to be dispatched); those come
//! after the others, by token id (older tokens first). This is the same clock the
//! bottlenecks' `avg_wait_minutes` uses.
//!
//! The tokens listed at a node are exactly those the summary's `wip_count` and the
//! bottlenecks' `queue_depth` count there (live, not bad rows), so the figures and the lists
//! agree.

use chrono::NaiveDateTime;
use serde::Serialize;

use super::decimal::Dec2;
use super::dims::{Dims, TeamResolver};
use super::row::{AssignmentStatus, TokenStatus};
use super::TenantState;

/// One live token at a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenAt {
    pub token_id: i64,
    pub instance_id: Option<i64>,
    /// `ready`, `waiting` (queued) or `active`, `paused` (in work).
    pub status: &'static str,
    pub queued: bool,
    /// The token's open assignment, if it has one (it may be at another node).
    pub assignment_id: Option<i64>,
    pub assignment_status: Option<&'static str>,
    pub operator_id: Option<i64>,
    /// The team of the token (of its open assignment's operator at that assignment's node).
    pub team_id: Option<i64>,
    /// When the open assignment at this node was made: here since then.
    pub since: Option<NaiveDateTime>,
    /// Seconds from `since` to T.
    pub age_secs: Option<i64>,
    pub spawned_at: Option<NaiveDateTime>,
}

/// The oldest tokens at a node, and how many there are in all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeTokens {
    pub node_id: i64,
    /// Live tokens at the node (the summary's WIP there).
    pub total: usize,
    pub queued: usize,
    pub in_work: usize,
    /// The oldest `limit`, oldest first.
    pub tokens: Vec<TokenAt>,
}

fn status_name(s: TokenStatus) -> &'static str {
    match s {
        TokenStatus::Ready => "ready",
        TokenStatus::Active => "active",
        TokenStatus::Waiting => "waiting",
        TokenStatus::Paused => "paused",
        TokenStatus::Completed => "completed",
        TokenStatus::Scrapped => "scrapped",
        TokenStatus::Invalid => "invalid",
    }
}

fn assignment_name(s: AssignmentStatus) -> &'static str {
    match s {
        AssignmentStatus::Assigned => "assigned",
        AssignmentStatus::Accepted => "accepted",
        AssignmentStatus::Started => "started",
        AssignmentStatus::Paused => "paused",
        AssignmentStatus::Completed => "completed",
        AssignmentStatus::Cancelled => "cancelled",
        AssignmentStatus::Rejected => "rejected",
        AssignmentStatus::Invalid => "invalid",
    }
}

/// The live tokens at `node` at T, oldest first (see the module doc), at most `limit` of them.
pub fn tokens_at(state: &TenantState, at: NaiveDateTime, node: i64, limit: usize) -> NodeTokens {
    let teams = TeamResolver::new(state.dims());
    let mut tokens: Vec<TokenAt> = state
        .live_at(Some(node))
        .map(|(t, open)| {
            let here = open.as_ref().filter(|a| a.node == Some(node));
            let since = here.and_then(|a| a.assigned_at);
            TokenAt {
                token_id: t.id,
                instance_id: t.instance,
                status: status_name(t.status),
                queued: t.status.is_queued(),
                assignment_id: open.as_ref().map(|a| a.id),
                assignment_status: open.as_ref().map(|a| assignment_name(a.status)),
                operator_id: open.as_ref().and_then(|a| a.operator),
                team_id: open
                    .as_ref()
                    .and_then(|a| teams.team_of(a.operator?, a.node?)),
                since,
                age_secs: since.map(|s| (at - s).num_seconds()),
                spawned_at: t.spawned_at,
            }
        })
        .collect();
    let queued = tokens.iter().filter(|t| t.queued).count();
    let total = tokens.len();
    tokens.sort_by(|a, b| {
        // Known ages first (oldest first), then the others by id.
        (a.since.is_none(), a.since, a.token_id).cmp(&(b.since.is_none(), b.since, b.token_id))
    });
    tokens.truncate(limit);
    NodeTokens {
        node_id: node,
        total,
        queued,
        in_work: total - queued,
        tokens,
    }
}

/// One operator of a team, and the tokens the team holds through them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OperatorLoad {
    pub operator_id: i64,
    /// In-work and queued tokens whose team is this team, held by this operator.
    pub active_tokens: i64,
    pub waiting_tokens: i64,
    /// What the operator adds to the team's capacity (capacity_per_day if > 0, else 10); 0 for
    /// an operator who is not an active member.
    pub capacity: i64,
    /// 100 × tokens ÷ capacity, uncapped; NULL without capacity.
    pub load: Option<Dec2>,
    pub active_member: bool,
}

/// A team's operators: its active members, and anyone holding tokens the team counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TeamOperators {
    pub team_id: i64,
    pub capacity: i64,
    pub operators: Vec<OperatorLoad>,
}

/// The operators of `team` at T with their load, busiest first. The tokens add up to the
/// team's `active_tokens` and `waiting_tokens` in the workload view.
pub fn team_operators(state: &TenantState, team: i64) -> TeamOperators {
    use std::collections::BTreeMap;
    let dims: &Dims = state.dims();
    let teams = TeamResolver::new(dims);
    let mut ops: BTreeMap<i64, OperatorLoad> = BTreeMap::new();
    let blank = |operator_id| OperatorLoad {
        operator_id,
        active_tokens: 0,
        waiting_tokens: 0,
        capacity: 0,
        load: None,
        active_member: false,
    };
    for m in dims.members.values().filter(|m| m.team == team && m.active) {
        let o = ops.entry(m.operator).or_insert_with(|| blank(m.operator));
        o.capacity = m.capacity();
        o.active_member = true;
    }
    for (node, _) in state.live_counts() {
        for (t, open) in state.live_at(node) {
            let Some(a) = open else { continue };
            let (Some(operator), Some(at)) = (a.operator, a.node) else {
                continue;
            };
            if teams.team_of(operator, at) != Some(team) {
                continue;
            }
            let o = ops.entry(operator).or_insert_with(|| blank(operator));
            if t.status.is_queued() {
                o.waiting_tokens += 1;
            } else {
                o.active_tokens += 1;
            }
        }
    }
    let mut operators: Vec<OperatorLoad> = ops
        .into_values()
        .map(|mut o| {
            let tokens = o.active_tokens + o.waiting_tokens;
            o.load =
                (o.capacity > 0).then(|| Dec2::ratio(100 * tokens as i128, o.capacity as i128));
            o
        })
        .collect();
    operators.sort_by(|a, b| {
        (b.active_tokens + b.waiting_tokens)
            .cmp(&(a.active_tokens + a.waiting_tokens))
            .then(a.operator_id.cmp(&b.operator_id))
    });
    TeamOperators {
        team_id: team,
        capacity: operators.iter().map(|o| o.capacity).sum(),
        operators,
    }
}
