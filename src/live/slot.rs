//! A served tenant's slot in the live map: loading (its changes wait in a queue while its
//! consistent-snapshot load runs beside the applier) or ready (its state follows the stream and
//! is snapshotted from its first instant on).
//!
//! Why replaying the queue onto the load is exact: the queue starts before the load's snapshot
//! is taken, so it holds every transaction after that snapshot (and maybe a few before it).
//! Every change sets a row to its after-image or removes it, so after the whole queue each row
//! is at its last image, whichever of those transactions the snapshot already saw. The same
//! holds for the stream that replays from a position read before a full recompute. What the
//! load saw matters only for schema drift: a tracked table whose binlog table map lacks a
//! column skips that transaction's rows, which is harmless only if the load saw it
//! ([`Ready::saw`]).

use crate::model::clock::Instant;
use crate::model::{Change, TenantState};
use crate::schema::TableProblem;
use crate::source::binlog::Transaction;
use crate::source::snapshot::LoadPoint;
use crate::source::Position;

pub struct TenantSlot {
    /// The code as stored in `organization` (or as configured).
    pub code: String,
    /// The tenant database, named as on the server.
    pub db: String,
    pub stage: Stage,
}

// Nearly every slot is ready: boxing that variant would only add an indirection to every change.
#[allow(clippy::large_enum_variant)]
pub enum Stage {
    Loading(Loading),
    Ready(Ready),
}

pub struct Loading {
    /// Which load this slot waits for: the result of an earlier, abandoned one is dropped.
    pub load: u64,
    /// Epoch seconds when the load was asked for.
    pub since: i64,
    /// The tenant's changes since then, in binlog order.
    pub queue: Vec<Change>,
    /// Schema drift seen meanwhile, with the end and GTID of its transaction: decided once
    /// the load tells what it saw.
    pub drift: Vec<(TxPoint, TableProblem)>,
}

pub struct Ready {
    pub state: TenantState,
    /// What the tenant's last load saw, while the stream may not be past it.
    pub loaded_at: Option<LoadPoint>,
    /// No snapshot before this instant: the first boundary after the load (a tenant restored
    /// from a checkpoint keeps the one it had).
    pub first_instant: Instant,
    /// A part to start at the next checkpoint (the base frame of a fresh load, and its rows).
    pub base: Option<(Vec<u8>, u64)>,
    /// WIP and queued totals at the last snapshot instants, oldest first (for the dashboard's
    /// sparkline; kept in memory since the tenant was loaded or restored).
    pub history: History,
}

/// WIP and queued totals at the last [`HISTORY_POINTS`] one-minute instants (the sparkline),
/// and at the quarter hours of the last [`DAY_POINTS`] (yesterday at this time). It reads as
/// its minutes, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    minutes: std::collections::VecDeque<Totals>,
    quarters: std::collections::VecDeque<Totals>,
}

/// Six hours of minutes.
pub const HISTORY_POINTS: usize = 360;

/// A day and an hour of quarter hours: yesterday at this time, and then some.
pub const DAY_POINTS: usize = 100;

/// A tenant's totals at one snapshot instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Totals {
    /// Epoch seconds.
    pub at: i64,
    pub wip: i64,
    pub queued: i64,
    /// Assignments completed on that instant's day by then (the summary's `completed_count`).
    pub completed: i64,
}

impl History {
    pub fn new() -> History {
        History::default()
    }

    /// Keeps `t` (the totals of a one-minute instant).
    pub fn push_back(&mut self, t: Totals) {
        // The last six hours only, however the instants came (a restart leaves a gap).
        let from = t.at - 60 * HISTORY_POINTS as i64;
        while self.minutes.len() == HISTORY_POINTS
            || self.minutes.front().is_some_and(|m| m.at <= from)
        {
            self.minutes.pop_front();
        }
        self.minutes.push_back(t);
        if t.at.rem_euclid(900) == 0 {
            if self.quarters.len() == DAY_POINTS {
                self.quarters.pop_front();
            }
            self.quarters.push_back(t);
        }
    }

    /// The quarter-hour totals nearest to 24 hours before `now` (epoch seconds), if one is
    /// kept within 7.5 minutes of it.
    pub fn day_before(&self, now: i64) -> Option<Totals> {
        let then = now - 86_400;
        self.quarters
            .iter()
            .filter(|t| (t.at - then).abs() <= 450)
            .min_by_key(|t| (t.at - then).abs())
            .copied()
    }
}

impl std::ops::Deref for History {
    type Target = std::collections::VecDeque<Totals>;

    /// The minutes, oldest first.
    fn deref(&self) -> &Self::Target {
        &self.minutes
    }
}

impl Ready {
    /// Remembers the totals of the summary just taken at `at`.
    pub fn record(&mut self, at: i64, summary: &[crate::model::views::summary::SummaryRow]) {
        let (wip, queued, completed) = summary.iter().fold((0, 0, 0), |(w, q, c), r| {
            (w + r.wip_count, q + r.waiting_count, c + r.completed_count)
        });
        self.history.push_back(Totals {
            at,
            wip,
            queued,
            completed,
        });
    }
}

#[cfg(test)]
mod history_tests {
    use super::*;

    #[test]
    fn minutes_for_six_hours_quarters_for_a_day() {
        let mut h = History::new();
        let start: i64 = 1_700_001_000 / 900 * 900;
        for m in 0..(26 * 60) {
            let at = start + 60 * m;
            h.push_back(Totals {
                at,
                wip: m,
                queued: 0,
                completed: m / 2,
            });
        }
        assert_eq!(h.len(), HISTORY_POINTS);
        assert_eq!(h.iter().last().map(|t| t.wip), Some(26 * 60 - 1));
        let now = start + 60 * (26 * 60 - 1);
        let day = h.day_before(now).expect("a quarter hour near 24 h ago");
        assert_eq!(day.at % 900, 0);
        assert!((day.at - (now - 86_400)).abs() <= 450, "{day:?}");
        assert_eq!(day.completed, day.wip / 2);
        assert_eq!(History::new().day_before(now), None, "nothing kept yet");
    }
}

/// Where a transaction ends in the binlog, and its GTID.
#[derive(Debug, Clone, PartialEq)]
pub struct TxPoint {
    pub end: Position,
    pub gtid: Option<crate::source::gtid::Gtid>,
}

impl TxPoint {
    pub fn of(tx: &Transaction) -> TxPoint {
        TxPoint {
            end: tx.end.clone(),
            gtid: tx.gtid.clone(),
        }
    }
}

impl TenantSlot {
    pub fn loading(code: String, db: String, load: u64, since: i64) -> TenantSlot {
        TenantSlot {
            code,
            db,
            stage: Stage::Loading(Loading {
                load,
                since,
                queue: Vec::new(),
                drift: Vec::new(),
            }),
        }
    }

    pub fn ready(&self) -> Option<&Ready> {
        match &self.stage {
            Stage::Ready(r) => Some(r),
            Stage::Loading(_) => None,
        }
    }

    pub fn ready_mut(&mut self) -> Option<&mut Ready> {
        match &mut self.stage {
            Stage::Ready(r) => Some(r),
            Stage::Loading(_) => None,
        }
    }

    pub fn is_loading(&self) -> bool {
        matches!(self.stage, Stage::Loading(_))
    }

    /// The load this slot waits for, if it is loading.
    pub fn awaited_load(&self) -> Option<u64> {
        match &self.stage {
            Stage::Loading(l) => Some(l.load),
            Stage::Ready(_) => None,
        }
    }

    pub fn apply(&mut self, change: Change) {
        match &mut self.stage {
            Stage::Loading(l) => l.queue.push(change),
            Stage::Ready(r) => r.state.apply(change),
        }
    }

    /// A tracked table of this tenant lost columns in `tx`: its rows there were skipped. Some
    /// problem when that makes the state wrong (see the module doc); decided later while
    /// loading.
    pub fn drifted(&mut self, tx: &Transaction, problem: TableProblem) -> Option<TableProblem> {
        match &mut self.stage {
            Stage::Loading(l) => {
                l.drift.push((TxPoint::of(tx), problem));
                None
            }
            Stage::Ready(r) => (!r.saw(&TxPoint::of(tx))).then_some(problem),
        }
    }

    /// The load finished with `state`, which saw `point`: replays the queue onto it. Some
    /// problem if drift seen while loading was not in what the load saw.
    pub fn finish_load(
        &mut self,
        mut state: TenantState,
        point: Option<LoadPoint>,
        base: (Vec<u8>, u64),
        first_instant: Instant,
    ) -> Option<TableProblem> {
        let Stage::Loading(loading) = std::mem::replace(
            &mut self.stage,
            Stage::Loading(Loading {
                load: 0,
                since: 0,
                queue: Vec::new(),
                drift: Vec::new(),
            }),
        ) else {
            return None;
        };
        state.keep_journal();
        for change in loading.queue {
            state.apply(change);
        }
        let ready = Ready {
            state,
            loaded_at: point,
            first_instant,
            base: Some(base),
            history: History::new(),
        };
        let problem = loading
            .drift
            .into_iter()
            .find(|(tx, _)| !ready.saw(tx))
            .map(|(_, p)| p);
        self.stage = Stage::Ready(ready);
        problem
    }
}

impl Ready {
    /// Whether the load this state came from already saw the transaction at `tx` (a tenant
    /// that follows the stream from a checkpoint saw nothing beyond it).
    pub fn saw(&self, tx: &TxPoint) -> bool {
        self.loaded_at
            .as_ref()
            .is_some_and(|load| load.includes(&tx.end, tx.gtid.as_ref()))
    }

    /// The stream passed what the load saw: nothing more to tell apart.
    pub fn passed(&mut self, end: &Position) {
        if self
            .loaded_at
            .as_ref()
            .is_some_and(|load| load.passed_by(end))
        {
            self.loaded_at = None;
        }
    }
}
