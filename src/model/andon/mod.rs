//! Andon: what on the floor needs a person now, from a tenant's state at instant T. Pure: the
//! caller brings the state, the instant and the limits; nothing here reads a clock or does I/O.
//!
//! Five kinds of breach, each with its figure and its limit:
//!
//! | kind | subject | figure | limit | red when |
//! |---|---|---|---|---|
//! | `wip_limit` | node | live tokens at the node | `routing_node.wip_limit` | figure > limit |
//! | `team_load` | team | the team's tokens (in work + queued) | its capacity | figure ≥ limit (load ≥ 100%) |
//! | `wait` | node | the bottlenecks' `avg_wait_minutes` | `[andon] wait_minutes` | figure > limit |
//! | `queue_growth` | node | queue depth now − depth N minutes ago | `[andon] queue_growth_tokens` | figure ≥ limit |
//! | `token_age` | token | hours since its assignment at its node | `[andon] token_age_hours` | figure > limit |
//!
//! Amber is "near": the figure is at least `amber_percent` of the limit (and not red). A
//! breach's `since` is the instant it began (amber or red), kept while it lasts, whatever its
//! level does; it ends when the figure falls below amber ([`memory`]).
//!
//! - [`evaluate`]: the facts read from the state at T, and the four rules that need nothing
//!   else;
//! - [`memory`]: what a tenant's alerts remember between two instants: since-when, the raises
//!   and clears to announce, and the queue depths of the last minutes (queue growth).

pub mod evaluate;
pub mod memory;

use chrono::NaiveDateTime;
use serde::Serialize;

use super::decimal::Dec2;

/// At most this many `token_age` breaches per tenant, the oldest tokens: one old order should
/// not bury the rest of the list.
pub const TOKEN_ALERTS_CAP: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    WipLimit,
    TeamLoad,
    Wait,
    QueueGrowth,
    TokenAge,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::WipLimit,
        Kind::TeamLoad,
        Kind::Wait,
        Kind::QueueGrowth,
        Kind::TokenAge,
    ];

    /// The name in the API, the webhook and the page's `data-kind` (the page words it in its
    /// language).
    pub fn name(self) -> &'static str {
        match self {
            Kind::WipLimit => "wip_limit",
            Kind::TeamLoad => "team_load",
            Kind::Wait => "wait",
            Kind::QueueGrowth => "queue_growth",
            Kind::TokenAge => "token_age",
        }
    }
}

/// How bad: amber is near the limit, red is over it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Amber,
    Red,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Amber => "amber",
            Level::Red => "red",
        }
    }
}

/// What a breach is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Subject {
    Node {
        id: i64,
    },
    Team {
        id: i64,
    },
    /// A token, at its node.
    Token {
        id: i64,
        node: i64,
    },
}

impl Subject {
    /// The node the subject is at, if any.
    pub fn node(self) -> Option<i64> {
        match self {
            Subject::Node { id } => Some(id),
            Subject::Token { node, .. } => Some(node),
            Subject::Team { .. } => None,
        }
    }
}

/// The thresholds that the ERP's data does not give (`[andon]`); a limit of 0 turns its rule
/// off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Amber from this share of a limit, in percent (1–100).
    pub amber_percent: u32,
    /// Red above this average wait at a node, in minutes.
    pub wait_minutes: u32,
    /// Red when a node's queue grew by this many tokens within `growth_minutes`.
    pub growth_tokens: u32,
    pub growth_minutes: u32,
    /// Red when a token has been at its node (since its assignment there) longer than this.
    pub token_age_hours: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            amber_percent: 80,
            wait_minutes: 60,
            growth_tokens: 10,
            growth_minutes: 15,
            token_age_hours: 8,
        }
    }
}

impl Limits {
    /// The level of `figure` against `limit` (both exact, in any one unit): red past it
    /// (`at_limit`: from it on), amber from `amber_percent` of it; `None` below, or without a
    /// limit.
    pub fn level(&self, figure: i128, limit: i128, at_limit: bool) -> Option<Level> {
        if limit <= 0 {
            return None;
        }
        if figure > limit || (at_limit && figure == limit) {
            Some(Level::Red)
        } else if figure * 100 >= limit * i128::from(self.amber_percent) {
            Some(Level::Amber)
        } else {
            None
        }
    }
}

/// One rule broken at T.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Breach {
    pub kind: Kind,
    pub subject: Subject,
    /// The subject's name for people (node `CODE · Name`, team name, `token 12 at CUT`).
    pub label: String,
    pub level: Level,
    pub figure: Dec2,
    pub limit: Dec2,
}

/// A breach that lasts, with the instant it began.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    #[serde(flatten)]
    pub breach: Breach,
    #[serde(serialize_with = "wall::time")]
    pub since: NaiveDateTime,
}

/// Instants as the API writes them: `YYYY-MM-DD HH:MM:SS`, the factory's local time.
pub mod wall {
    use chrono::NaiveDateTime;
    use serde::Serializer;

    pub fn time<S: Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&t.format("%Y-%m-%d %H:%M:%S"))
    }

    pub fn opt_time<S: Serializer>(t: &Option<NaiveDateTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => time(t, s),
            None => s.serialize_none(),
        }
    }
}

impl Alert {
    /// Red first, then by kind, oldest first.
    pub fn order(&self) -> impl Ord {
        (
            std::cmp::Reverse(self.breach.level),
            self.breach.kind,
            self.since,
            self.breach.subject,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_against_a_limit() {
        let l = Limits::default();
        assert_eq!(l.level(7, 10, false), None);
        assert_eq!(l.level(8, 10, false), Some(Level::Amber));
        assert_eq!(l.level(10, 10, false), Some(Level::Amber), "at the limit");
        assert_eq!(
            l.level(10, 10, true),
            Some(Level::Red),
            "at the limit counts"
        );
        assert_eq!(l.level(11, 10, false), Some(Level::Red));
        assert_eq!(l.level(50, 0, false), None, "no limit");
        let strict = Limits {
            amber_percent: 100,
            ..l
        };
        assert_eq!(strict.level(9, 10, false), None);
    }
}
