//! Live tokens counted by where they are and who holds them: the aggregate behind the three
//! 1-minute views (summary, bottlenecks, workload).
//!
//! A live token lands in one cell keyed by its current node and the holder of its open
//! assignment (operator, assignment node). Graphs, teams and names are resolved from those raw
//! ids at snapshot time, so a cell only moves when the token or its open assignment changes.

use super::stored::FastMap;

use super::row::{Assignment, Token};

/// The operator of a token's open assignment, and that assignment's node (whose category picks
/// the operator's team).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Holder {
    pub operator: i64,
    pub node: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WipKey {
    pub node: Option<i64>,
    pub holder: Option<Holder>,
}

/// Counts of the live tokens of one cell.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WipCell {
    pub live: i64,
    pub queued: i64,
    /// Queued tokens whose open assignment is at their node with an assigned_at: how many, and
    /// the sum of those assigned_at as naive epoch seconds (the wait mean is derived at T).
    pub waits: i64,
    pub wait_since_sum: i64,
    /// Queued tokens whose open assignment at their node has no assigned_at (left out of the mean).
    pub waits_unknown: i64,
}

/// What one token adds to its cell; `None` for a token that is not live (or is bad).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WipEntry {
    key: WipKey,
    queued: bool,
    wait_since: Option<i64>,
    wait_unknown: bool,
}

impl WipEntry {
    pub fn of(token: &Token, open: Option<&Assignment>) -> Option<WipEntry> {
        if token.bad().is_some() || !token.status.is_live() {
            return None;
        }
        let holder = open.and_then(|a| {
            Some(Holder {
                operator: a.operator?,
                node: a.node?,
            })
        });
        let queued = token.status.is_queued();
        let waits_here = queued && token.node.is_some() && holder.map(|h| h.node) == token.node;
        let wait_since = open
            .and_then(|a| a.assigned_at)
            .map(|t| t.and_utc().timestamp());
        Some(WipEntry {
            key: WipKey {
                node: token.node,
                holder,
            },
            queued,
            wait_since: wait_since.filter(|_| waits_here),
            wait_unknown: waits_here && wait_since.is_none(),
        })
    }
}

#[derive(Debug, Default, Clone)]
pub struct WipIndex {
    cells: FastMap<WipKey, WipCell>,
}

impl WipIndex {
    pub fn add(&mut self, e: &WipEntry) {
        let cell = self.cells.entry(e.key).or_default();
        Self::adjust(cell, e, 1);
    }

    pub fn remove(&mut self, e: &WipEntry) {
        if let Some(cell) = self.cells.get_mut(&e.key) {
            Self::adjust(cell, e, -1);
            if cell.live == 0 {
                self.cells.remove(&e.key);
            }
        }
    }

    fn adjust(cell: &mut WipCell, e: &WipEntry, sign: i64) {
        cell.live += sign;
        if e.queued {
            cell.queued += sign;
        }
        if let Some(since) = e.wait_since {
            cell.waits += sign;
            cell.wait_since_sum += sign * since;
        }
        if e.wait_unknown {
            cell.waits_unknown += sign;
        }
    }

    pub fn cells(&self) -> impl Iterator<Item = (&WipKey, &WipCell)> {
        self.cells.iter()
    }

    pub fn len(&self) -> usize {
        self.cells.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }
}
