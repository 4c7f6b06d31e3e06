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

use std::collections::BTreeMap;

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
