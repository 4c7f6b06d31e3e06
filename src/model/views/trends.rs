//! mv_dashboard_trends — for each period_date D ∈ [today − 29, today], over tokens with
//! token_type ∈ {piece, batch}, groups (production_type, graph_id) where graph_id = id_graph of
//! the token's instance:
//! - tokens_spawned = tokens with DATE(spawned_at) = D;
//! - tokens_completed = tokens with status completed and DATE(completed_at) = D;
//! - avg_lead_time_hours = mean of (completed_at − spawned_at)/3600 over those completed tokens
//!   with completed_at ≥ spawned_at; NULL if none;
//! - throughput_per_day = (Σ tokens_completed over D−6 … D) / 7 (days before the 30-day window
//!   count too).
//!
//! Rows with tokens_spawned = tokens_completed = 0 are not written. A token whose instance is
//! unknown counts in the group (NULL, NULL).

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::Serialize;

use super::Ctx;
use crate::model::decimal::Dec2;
use crate::model::token_days::{DayCell, Group, TokenDays};

/// Days written: today and the 29 before it.
pub const WINDOW_DAYS: u64 = 30;
/// Days read: the window plus the 6 days the first day's throughput looks back on.
pub const LOOKBACK_DAYS: u64 = WINDOW_DAYS + 6;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrendRow {
    pub period_date: NaiveDate,
    pub production_type: Option<String>,
    pub graph_id: Option<i64>,
    pub tokens_completed: i64,
    pub tokens_spawned: i64,
    pub avg_lead_time_hours: Option<Dec2>,
    pub throughput_per_day: Dec2,
}

/// The days of the window a snapshot's trends rows stand for: the writer replaces the rows of
/// those days and keeps the others. A day's rows change only when a token counted on it, or on
/// one of the six days before it (its throughput looks back on them), changes; so a snapshot
/// after another covers the days changed since and the six after each, mostly today alone,
/// instead of 30 days of rows every 15 minutes for every tenant. Each written snapshot builds
/// on the one before it, which was written first (snapshots are written in order, each by one
/// instance); a state with no snapshot before it (a load, a restore) covers the window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Cover {
    #[default]
    Window,
    /// These days of the window, ascending.
    Days(Vec<NaiveDate>),
}

impl Cover {
    /// What a snapshot on `ctx`'s day covers when the days in `changed` changed since the
    /// one before it (`None`: unknown).
    pub fn of(ctx: &Ctx, changed: Option<BTreeSet<NaiveDate>>) -> Cover {
        let Some(changed) = changed else {
            return Cover::Window;
        };
        let (first, today) = (ctx.days_ago(WINDOW_DAYS - 1), ctx.today());
        let days: BTreeSet<NaiveDate> = changed
            .into_iter()
            .flat_map(|d| (0..7).map(move |ahead| d + chrono::Days::new(ahead)))
            .filter(|d| (first..=today).contains(d))
            .collect();
        Cover::Days(days.into_iter().collect())
    }

    pub fn covers(&self, day: NaiveDate) -> bool {
        match self {
            Cover::Window => true,
            Cover::Days(days) => days.binary_search(&day).is_ok(),
        }
    }
}

/// The days on which `written` (what a table holds) and `rows` (a snapshot's) differ, in either
/// direction, ascending: replacing those days alone leaves the table as replacing every day
/// of both would.
pub fn days_differing(written: &[TrendRow], rows: &[TrendRow]) -> Vec<NaiveDate> {
    fn by_day(rows: &[TrendRow]) -> BTreeMap<NaiveDate, Vec<&TrendRow>> {
        let mut days: BTreeMap<NaiveDate, Vec<&TrendRow>> = BTreeMap::new();
        for r in rows {
            days.entry(r.period_date).or_default().push(r);
        }
        for day in days.values_mut() {
            day.sort_by(|a, b| {
                (&a.production_type, a.graph_id).cmp(&(&b.production_type, b.graph_id))
            });
        }
        days
    }
    let (before, after) = (by_day(written), by_day(rows));
    let days: BTreeSet<NaiveDate> = before.keys().chain(after.keys()).copied().collect();
    days.into_iter()
        .filter(|d| before.get(d) != after.get(d))
        .collect()
}

pub fn rows(ctx: &Ctx, days: &TokenDays) -> Vec<TrendRow> {
    let first = ctx.days_ago(WINDOW_DAYS - 1);
    let mut by_day: BTreeMap<(NaiveDate, Group), DayCell> = BTreeMap::new();
    for (day, cells) in days.days(ctx.days_ago(LOOKBACK_DAYS - 1), ctx.today()) {
        for (group, cell) in cells {
            by_day.insert((*day, group.clone()), *cell);
        }
    }
    let completed_on = |day: NaiveDate, group: &Group| {
        by_day.get(&(day, group.clone())).map_or(0, |c| c.completed)
    };
    by_day
        .iter()
        .filter(|((day, _), c)| *day >= first && (c.spawned != 0 || c.completed != 0))
        .map(|((day, group), c)| {
            let week: i64 = (0..7)
                .map(|back| completed_on(*day - chrono::Days::new(back), group))
                .sum();
            TrendRow {
                period_date: *day,
                production_type: group.0.clone(),
                graph_id: group.1,
                tokens_completed: c.completed,
                tokens_spawned: c.spawned,
                avg_lead_time_hours: (c.leads > 0)
                    .then(|| Dec2::ratio(c.lead_secs_sum as i128, 3_600 * c.leads as i128)),
                throughput_per_day: Dec2::ratio(week as i128, 7),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(day: u32, kind: &str, graph: i64, completed: i64) -> TrendRow {
        TrendRow {
            period_date: NaiveDate::from_ymd_opt(2026, 12, day).expect("a date"),
            production_type: Some(kind.into()),
            graph_id: Some(graph),
            tokens_completed: completed,
            tokens_spawned: 1,
            avg_lead_time_hours: None,
            throughput_per_day: Dec2::ratio(completed as i128, 7),
        }
    }

    fn dates(days: &[u32]) -> Vec<NaiveDate> {
        days.iter()
            .map(|d| NaiveDate::from_ymd_opt(2026, 12, *d).expect("a date"))
            .collect()
    }

    #[test]
    fn only_the_days_whose_rows_differ_are_replaced() {
        let written = vec![
            row(1, "batch", 1, 3),
            row(1, "hatthasilpa", 2, 4),
            row(2, "batch", 1, 5),
            row(3, "batch", 1, 6),
            row(5, "batch", 1, 1),
        ];
        let rows = vec![
            // Day 1 the same, in another order.
            row(1, "hatthasilpa", 2, 4),
            row(1, "batch", 1, 3),
            // Day 2 with a value changed; day 3 with a group more; day 4 new; day 5 gone.
            row(2, "batch", 1, 6),
            row(3, "batch", 1, 6),
            row(3, "batch", 2, 1),
            row(4, "batch", 1, 2),
        ];
        assert_eq!(days_differing(&written, &rows), dates(&[2, 3, 4, 5]));
        assert_eq!(days_differing(&rows, &rows), Vec::<NaiveDate>::new());
        assert_eq!(days_differing(&[], &rows), dates(&[1, 2, 3, 4]));
    }
}
