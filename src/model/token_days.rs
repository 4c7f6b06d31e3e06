//! Product tokens (piece, batch) counted by day and trends group: the aggregate behind the daily
//! trends. A token adds one "spawned" on the day of spawned_at and, once completed, one
//! "completed" (with its lead time) on the day of completed_at.
//!
//! Cells are keyed by day and by the group the token's instance resolves to now (production type,
//! graph of the instance), so a snapshot reads a handful of cells per day whatever the history
//! behind them. The caller resolves the group when it files or unfiles a token and re-files the
//! tokens of an instance whose group changes (see `TenantState`), so every token is always counted
//! under its instance's current group, as the cron job's SQL joins the current instance rows.
//! Days before the horizon are dropped for good. The days whose cells changed are noted, so that
//! a snapshot need only rewrite those (see `views::trends::Cover`).

use std::collections::{BTreeMap, BTreeSet};

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

impl DayCell {
    fn add(&mut self, d: &DayCell, sign: i64) {
        self.spawned += sign * d.spawned;
        self.completed += sign * d.completed;
        self.leads += sign * d.leads;
        self.lead_secs_sum += sign * d.lead_secs_sum;
    }
}

/// A trends group: production type and graph, as resolved from an instance.
pub type Group = (Option<String>, Option<i64>);

/// A group borrowed from the dimension rows.
pub type GroupRef<'a> = (Option<&'a str>, Option<i64>);

/// What one token adds; empty for a bad or non-product token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenDayEntry {
    pub instance: Option<i64>,
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

    /// The cells it adds to: (day, what it adds there).
    fn parts(&self) -> impl Iterator<Item = (NaiveDate, DayCell)> {
        let spawned = self.spawned.map(|day| {
            (
                day,
                DayCell {
                    spawned: 1,
                    ..DayCell::default()
                },
            )
        });
        let completed = self.completed.map(|(day, lead)| {
            (
                day,
                DayCell {
                    completed: 1,
                    leads: i64::from(lead.is_some()),
                    lead_secs_sum: lead.unwrap_or(0),
                    ..DayCell::default()
                },
            )
        });
        spawned.into_iter().chain(completed)
    }
}

#[derive(Debug, Default, Clone)]
pub struct TokenDays {
    /// Day → the cells of the groups with tokens that day (a few per day: a list).
    days: BTreeMap<NaiveDate, Vec<(Group, DayCell)>>,
    horizon: Option<NaiveDate>,
    /// The days whose cells changed since [`TokenDays::take_changed`]; `None` (a fresh state, or
    /// every token filed again): every day counts as changed.
    changed: Option<BTreeSet<NaiveDate>>,
}

impl TokenDays {
    /// Files `e` under `group`.
    pub fn add(&mut self, e: &TokenDayEntry, group: GroupRef) {
        self.adjust(e, group, 1);
    }

    /// Takes `e` out of `group` (where it was filed).
    pub fn remove(&mut self, e: &TokenDayEntry, group: GroupRef) {
        self.adjust(e, group, -1);
    }

    /// A token's entry changes from `old` to `new` (each with its group): the days noted as
    /// changed are only those whose counts differ (an update of a token's completion leaves
    /// its spawned day as it was).
    pub fn replace(
        &mut self,
        old: Option<(&TokenDayEntry, GroupRef)>,
        new: Option<(&TokenDayEntry, GroupRef)>,
    ) {
        let noted = self.changed.take();
        if let Some((e, g)) = old {
            self.adjust(e, g, -1);
        }
        if let Some((e, g)) = new {
            self.adjust(e, g, 1);
        }
        self.changed = noted;
        let Some(changed) = &mut self.changed else {
            return;
        };
        fn parts<'a>(
            x: Option<(&TokenDayEntry, GroupRef<'a>)>,
        ) -> Vec<(NaiveDate, DayCell, GroupRef<'a>)> {
            x.map(|(e, g)| e.parts().map(|(d, c)| (d, c, g)).collect())
                .unwrap_or_default()
        }
        let (before, after) = (parts(old), parts(new));
        for (day, _, _) in before.iter().chain(&after) {
            let on = |p: &&(NaiveDate, DayCell, GroupRef)| p.0 == *day;
            if before.iter().filter(on).ne(after.iter().filter(on)) {
                changed.insert(*day);
            }
        }
    }

    /// Forgets every cell (the horizon stays): the caller files every token again.
    pub fn clear(&mut self) {
        self.days.clear();
        self.changed = None;
    }

    /// The days changed since the last call (`None`: every day), and none from now on.
    pub fn take_changed(&mut self) -> Option<BTreeSet<NaiveDate>> {
        self.changed.replace(BTreeSet::new())
    }

    fn adjust(&mut self, e: &TokenDayEntry, group: GroupRef, sign: i64) {
        for (day, delta) in e.parts() {
            if self.horizon.is_some_and(|h| day < h) {
                continue;
            }
            let cells = if sign > 0 {
                self.days.entry(day).or_default()
            } else {
                match self.days.get_mut(&day) {
                    Some(cells) => cells,
                    None => continue,
                }
            };
            let at = cells
                .iter()
                .position(|((p, g), _)| *g == group.1 && p.as_deref() == group.0);
            let i = match at {
                Some(i) => i,
                None if sign > 0 => {
                    cells.push(((group.0.map(str::to_string), group.1), DayCell::default()));
                    cells.len() - 1
                }
                None => continue,
            };
            cells[i].1.add(&delta, sign);
            if let Some(changed) = &mut self.changed {
                changed.insert(day);
            }
            if cells[i].1 == DayCell::default() {
                cells.swap_remove(i);
                if cells.is_empty() {
                    self.days.remove(&day);
                }
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

    /// The cells of the days in `from..=to`, by group.
    pub fn days(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> impl Iterator<Item = (&NaiveDate, &Vec<(Group, DayCell)>)> {
        self.days.range(from..=to)
    }

    pub fn cells(&self) -> usize {
        self.days.values().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(spawned: &str, completed: Option<(&str, Option<i64>)>) -> TokenDayEntry {
        let day = |s: &str| s.parse::<NaiveDate>().unwrap();
        TokenDayEntry {
            instance: Some(1),
            spawned: Some(day(spawned)),
            completed: completed.map(|(d, lead)| (day(d), lead)),
        }
    }

    #[test]
    fn cells_per_day_and_group_come_and_go() {
        let mut t = TokenDays::default();
        let a = entry("2026-03-01", Some(("2026-03-02", Some(3_600))));
        let b = entry("2026-03-01", None);
        t.add(&a, (Some("classic"), Some(1)));
        t.add(&b, (Some("classic"), Some(1)));
        t.add(&b, (None, Some(2)));
        assert_eq!(t.cells(), 3);
        let (_, first) = t
            .days(a.spawned.unwrap(), a.spawned.unwrap())
            .next()
            .unwrap();
        let classic = first
            .iter()
            .find(|(g, _)| g.0.as_deref() == Some("classic"))
            .unwrap();
        assert_eq!(classic.1.spawned, 2);
        t.remove(&a, (Some("classic"), Some(1)));
        t.remove(&b, (Some("classic"), Some(1)));
        t.remove(&b, (None, Some(2)));
        assert_eq!(t.cells(), 0);
        // Removing what is not there changes nothing.
        t.remove(&b, (None, Some(2)));
        assert_eq!(t.cells(), 0);
    }

    #[test]
    fn days_before_the_horizon_stay_out() {
        let mut t = TokenDays::default();
        let old = entry("2026-03-01", None);
        let new = entry("2026-03-05", None);
        t.add(&old, (None, None));
        t.add(&new, (None, None));
        t.drop_before("2026-03-03".parse().unwrap());
        assert_eq!(t.cells(), 1);
        t.add(&old, (None, None));
        assert_eq!(t.cells(), 1);
    }
}
