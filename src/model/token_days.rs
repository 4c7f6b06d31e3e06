//! Product tokens (piece, batch) counted by day and instance: the aggregate behind the daily
//! trends. A token adds one "spawned" on the day of spawned_at and, once completed, one
//! "completed" (with its lead time) on the day of completed_at.
//!
//! Cells are keyed by the raw instance id; graph and production type are resolved at snapshot
//! time. Days before the horizon are dropped for good.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;

use super::row::{Token, TokenStatus};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DayCell {
    pub spawned: i64,
    pub completed: i64,
    /// Completed tokens with completed_at ≥ spawned_at: how many, and their lead seconds.
    pub leads: i64,
    pub lead_secs_sum: i64,
}

/// What one token adds; empty for a bad or non-product token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenDayEntry {
    instance: Option<i64>,
    spawned: Option<NaiveDate>,
    completed: Option<(NaiveDate, Option<i64>)>,
}

impl TokenDayEntry {
    pub fn of(t: &Token) -> Option<TokenDayEntry> {
        if t.bad().is_some() || !t.is_product {
            return None;
        }
        let completed = match (t.status, t.completed_at) {
            (TokenStatus::Completed, Some(done)) => {
                let lead = t
                    .spawned_at
                    .map(|s| (done - s).num_seconds())
                    .filter(|s| *s >= 0);
                Some((done.date(), lead))
            }
            _ => None,
        };
        Some(TokenDayEntry {
            instance: t.instance,
            spawned: t.spawned_at.map(|s| s.date()),
            completed,
        })
    }
}

#[derive(Debug, Default, Clone)]
pub struct TokenDays {
    days: BTreeMap<NaiveDate, HashMap<Option<i64>, DayCell>>,
    horizon: Option<NaiveDate>,
}

impl TokenDays {
    pub fn add(&mut self, e: &TokenDayEntry) {
        self.adjust(e, 1);
    }

    pub fn remove(&mut self, e: &TokenDayEntry) {
        self.adjust(e, -1);
    }

    fn adjust(&mut self, e: &TokenDayEntry, sign: i64) {
        if let Some(day) = e.spawned {
            self.cell(day, e.instance, sign, |c| c.spawned += sign);
        }
        if let Some((day, lead)) = e.completed {
            self.cell(day, e.instance, sign, |c| {
                c.completed += sign;
                if let Some(secs) = lead {
                    c.leads += sign;
                    c.lead_secs_sum += sign * secs;
                }
            });
        }
    }

    /// Applies `f` to the cell of (day, instance): created when adding, removed when emptied.
    fn cell(
        &mut self,
        day: NaiveDate,
        instance: Option<i64>,
        sign: i64,
        f: impl FnOnce(&mut DayCell),
    ) {
        if self.horizon.is_some_and(|h| day < h) {
            return;
        }
        let cells = if sign > 0 {
            self.days.entry(day).or_default()
        } else {
            match self.days.get_mut(&day) {
                Some(cells) => cells,
                None => return,
            }
        };
        let cell = if sign > 0 {
            cells.entry(instance).or_default()
        } else {
            match cells.get_mut(&instance) {
                Some(cell) => cell,
                None => return,
            }
        };
        f(cell);
        if *cell == DayCell::default() {
            cells.remove(&instance);
            if cells.is_empty() {
                self.days.remove(&day);
            }
        }
    }

    pub fn drop_before(&mut self, day: NaiveDate) {
        if self.horizon.is_some_and(|h| h >= day) {
            return;
        }
        self.horizon = Some(day);
        self.days = self.days.split_off(&day);
    }

    pub fn days(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> impl Iterator<Item = (&NaiveDate, &HashMap<Option<i64>, DayCell>)> {
        self.days.range(from..=to)
    }

    pub fn cells(&self) -> usize {
        self.days.values().map(HashMap::len).sum()
    }
}
