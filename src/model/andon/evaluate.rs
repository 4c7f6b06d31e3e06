//! The facts the andon rules read at T, gathered from a tenant's state and the rows of its
//! bottlenecks and workload views at T (so the page, the API and the alerts agree), and the
//! four rules that need nothing but them. Queue growth also needs the depths of the minutes
//! before: it is [`super::memory`]'s.
//!
//! Cost: O(nodes + teams + members) for the rows; the token ages walk the live tokens (not
//! every token held), only while the `token_age` rule is on.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;

use super::{Breach, Kind, Limits, Subject, TOKEN_ALERTS_CAP};
use crate::model::decimal::Dec2;
use crate::model::dims::Dims;
use crate::model::views::bottlenecks::BottleneckRow;
use crate::model::views::workload::WorkloadRow;
use crate::model::TenantState;

/// A node with live tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeFacts {
    pub id: i64,
    pub label: String,
    /// Live tokens at the node (Σ the summary's `wip_count` there).
    pub wip: i64,
    /// The bottlenecks' `queue_depth` and `avg_wait_minutes`.
    pub queued: i64,
    pub avg_wait: Option<Dec2>,
    /// `routing_node.wip_limit`, when positive.
    pub wip_limit: Option<i64>,
}

/// An active team of the workload view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamFacts {
    pub id: i64,
    pub label: String,
    /// In-work and queued tokens whose team it is.
    pub tokens: i64,
    /// Σ its active members' capacity (the workload view's denominator).
    pub capacity: i64,
}

/// A live token that has been at its node since its assignment there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgedToken {
    pub id: i64,
    pub node: i64,
    pub node_label: String,
    pub since: NaiveDateTime,
}

/// What the rules read at T.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Facts {
    pub at: NaiveDateTime,
    pub nodes: Vec<NodeFacts>,
    pub teams: Vec<TeamFacts>,
    /// The tokens old enough to be amber at least, oldest first, at most
    /// [`TOKEN_ALERTS_CAP`].
    pub tokens: Vec<AgedToken>,
}

/// `CODE · Name`, or whichever exists, or `node 12`.
pub fn node_label(dims: &Dims, id: i64) -> String {
    match dims.nodes.get(&id).map(|n| (&n.code, &n.name)) {
        Some((Some(c), Some(n))) if c != n => format!("{c} · {n}"),
        Some((Some(c), _)) => c.clone(),
        Some((None, Some(n))) => n.clone(),
        _ => format!("node {id}"),
    }
}

impl Facts {
    /// The facts at `at`, from `state` and the bottlenecks and workload rows it yields at `at`.
    pub fn gather(
        state: &TenantState,
        at: NaiveDateTime,
        bottlenecks: &[BottleneckRow],
        workload: &[WorkloadRow],
        limits: &Limits,
    ) -> Facts {
        let dims = state.dims();
        let live: BTreeMap<i64, i64> = state
            .live_counts()
            .filter_map(|(node, n)| Some((node?, n as i64)))
            .collect();
        let nodes = bottlenecks
            .iter()
            .map(|b| NodeFacts {
                id: b.node_id,
                label: node_label(dims, b.node_id),
                wip: live.get(&b.node_id).copied().unwrap_or(0),
                queued: b.queue_depth,
                avg_wait: b.avg_wait_minutes,
                wip_limit: dims.nodes.get(&b.node_id).and_then(|n| n.limit()),
            })
            .collect();
        let mut capacity: BTreeMap<i64, i64> = BTreeMap::new();
        for m in dims.members.values().filter(|m| m.active) {
            *capacity.entry(m.team).or_default() += m.capacity();
        }
        let teams = workload
            .iter()
            .map(|w| TeamFacts {
                id: w.team_id,
                label: w
                    .team_name
                    .clone()
                    .unwrap_or_else(|| format!("team {}", w.team_id)),
                tokens: w.active_tokens + w.waiting_tokens,
                capacity: capacity.get(&w.team_id).copied().unwrap_or(0),
            })
            .collect();
        Facts {
            at,
            nodes,
            teams,
            tokens: aged_tokens(state, at, limits),
        }
    }
}

/// The live tokens at a node of routing_node whose assignment there is old enough to be amber,
/// oldest first, capped.
fn aged_tokens(state: &TenantState, at: NaiveDateTime, limits: &Limits) -> Vec<AgedToken> {
    if limits.token_age_hours == 0 {
        return Vec::new();
    }
    // Amber from amber_percent of the limit: anything assigned after this is too young.
    let amber_secs = i64::from(limits.token_age_hours) * 36 * i64::from(limits.amber_percent);
    let cutoff = at - chrono::Duration::seconds(amber_secs);
    let dims = state.dims();
    let mut out: Vec<AgedToken> = Vec::new();
    for (node, _) in state.live_counts() {
        let Some(node) = node.filter(|n| dims.nodes.contains_key(n)) else {
            continue;
        };
        for (t, open) in state.live_at(Some(node)) {
            let Some(since) = open
                .filter(|a| a.node == Some(node))
                .and_then(|a| a.assigned_at)
                .filter(|s| *s <= cutoff)
            else {
                continue;
            };
            out.push(AgedToken {
                id: t.id,
                node,
                node_label: String::new(),
                since,
            });
        }
    }
    out.sort_by_key(|t| (t.since, t.id));
    out.truncate(TOKEN_ALERTS_CAP);
    for t in &mut out {
        t.node_label = node_label(dims, t.node);
    }
    out
}

/// The breaches of the rules that read only the facts: WIP limits, team loads, waits, token
/// ages (queue growth: [`super::memory`]).
pub fn breaches(f: &Facts, limits: &Limits) -> Vec<Breach> {
    let mut out = Vec::new();
    for n in &f.nodes {
        if let Some(limit) = n.wip_limit {
            if let Some(level) = limits.level(n.wip.into(), limit.into(), false) {
                out.push(Breach {
                    kind: Kind::WipLimit,
                    subject: Subject::Node { id: n.id },
                    label: n.label.clone(),
                    level,
                    figure: Dec2::from_int(n.wip),
                    limit: Dec2::from_int(limit),
                });
            }
        }
        if let (Some(wait), true) = (n.avg_wait, limits.wait_minutes > 0) {
            let limit = Dec2::from_int(limits.wait_minutes.into());
            if let Some(level) = limits.level(wait.0.into(), limit.0.into(), false) {
                out.push(Breach {
                    kind: Kind::Wait,
                    subject: Subject::Node { id: n.id },
                    label: n.label.clone(),
                    level,
                    figure: wait,
                    limit,
                });
            }
        }
    }
    for t in &f.teams {
        if let Some(level) = limits.level(t.tokens.into(), t.capacity.into(), true) {
            out.push(Breach {
                kind: Kind::TeamLoad,
                subject: Subject::Team { id: t.id },
                label: t.label.clone(),
                level,
                figure: Dec2::from_int(t.tokens),
                limit: Dec2::from_int(t.capacity),
            });
        }
    }
    let limit_secs = i64::from(limits.token_age_hours) * 3_600;
    for t in &f.tokens {
        let age = (f.at - t.since).num_seconds();
        if let Some(level) = limits.level(age.into(), limit_secs.into(), false) {
            out.push(Breach {
                kind: Kind::TokenAge,
                subject: Subject::Token {
                    id: t.id,
                    node: t.node,
                },
                label: format!("token {} at {}", t.id, t.node_label),
                level,
                figure: Dec2::ratio(age.into(), 3_600),
                limit: Dec2::from_int(limits.token_age_hours.into()),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::Level;
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    fn node(id: i64, wip: i64, queued: i64, wait: Option<i64>, limit: Option<i64>) -> NodeFacts {
        NodeFacts {
            id,
            label: format!("N{id}"),
            wip,
            queued,
            avg_wait: wait.map(Dec2::from_int),
            wip_limit: limit,
        }
    }

    fn kinds(b: &[Breach]) -> Vec<(Kind, Subject, Level)> {
        b.iter().map(|b| (b.kind, b.subject, b.level)).collect()
    }

    #[test]
    fn wip_limits_come_from_the_nodes() {
        let f = Facts {
            at: at("2026-05-01 10:00:00"),
            nodes: vec![
                node(1, 12, 0, None, Some(10)),
                node(2, 8, 0, None, Some(10)),
                node(3, 7, 0, None, Some(10)),
                node(4, 500, 0, None, None),
            ],
            ..Facts::default()
        };
        let b = breaches(&f, &Limits::default());
        assert_eq!(
            kinds(&b),
            vec![
                (Kind::WipLimit, Subject::Node { id: 1 }, Level::Red),
                (Kind::WipLimit, Subject::Node { id: 2 }, Level::Amber),
            ]
        );
        assert_eq!((b[0].figure, b[0].limit), (Dec2(1200), Dec2(1000)));
        assert_eq!(b[0].label, "N1");
    }

    #[test]
    fn team_load_is_red_at_capacity() {
        let team = |id, tokens, capacity| TeamFacts {
            id,
            label: format!("T{id}"),
            tokens,
            capacity,
        };
        let f = Facts {
            teams: vec![
                team(1, 20, 20),
                team(2, 16, 20),
                team(3, 15, 20),
                team(4, 9, 0),
            ],
            ..Facts::default()
        };
        assert_eq!(
            kinds(&breaches(&f, &Limits::default())),
            vec![
                (Kind::TeamLoad, Subject::Team { id: 1 }, Level::Red),
                (Kind::TeamLoad, Subject::Team { id: 2 }, Level::Amber),
            ]
        );
    }

    #[test]
    fn waits_against_the_configured_minutes_and_off_at_zero() {
        let f = Facts {
            nodes: vec![
                node(1, 3, 3, Some(61), None),
                node(2, 3, 3, Some(48), None),
                node(3, 3, 3, Some(47), None),
                node(4, 3, 3, None, None),
            ],
            ..Facts::default()
        };
        assert_eq!(
            kinds(&breaches(&f, &Limits::default())),
            vec![
                (Kind::Wait, Subject::Node { id: 1 }, Level::Red),
                (Kind::Wait, Subject::Node { id: 2 }, Level::Amber),
            ]
        );
        let off = Limits {
            wait_minutes: 0,
            ..Limits::default()
        };
        assert!(breaches(&f, &off).is_empty());
    }

    #[test]
    fn token_ages_in_hours() {
        let now = at("2026-05-01 18:00:00");
        let tok = |id, since| AgedToken {
            id,
            node: 4,
            node_label: "QC1".into(),
            since: at(since),
        };
        let f = Facts {
            at: now,
            tokens: vec![
                tok(1, "2026-05-01 09:30:00"),
                tok(2, "2026-05-01 10:00:00"),
                tok(3, "2026-05-01 11:36:00"),
            ],
            ..Facts::default()
        };
        let b = breaches(&f, &Limits::default());
        assert_eq!(
            kinds(&b),
            vec![
                (
                    Kind::TokenAge,
                    Subject::Token { id: 1, node: 4 },
                    Level::Red
                ),
                (
                    Kind::TokenAge,
                    Subject::Token { id: 2, node: 4 },
                    Level::Amber
                ),
                (
                    Kind::TokenAge,
                    Subject::Token { id: 3, node: 4 },
                    Level::Amber
                ),
            ],
            "8 h 30 min is over 8 h; exactly 8 h is not; 6 h 24 min is 80%"
        );
        assert_eq!(b[0].figure, Dec2(850));
        assert_eq!(b[0].label, "token 1 at QC1");
    }
}
