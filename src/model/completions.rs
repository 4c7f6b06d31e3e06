//! Completed assignments counted by day, node and operator: the aggregate behind the summary's
//! completed_count (today) and the 7-day cycle-time view.
//!
//! Each cell keeps a count, the exact sum of cycle seconds, and the cycle seconds themselves
//! ([`Cycles`]: a sorted list while few, an HDR histogram of two significant digits past that)
//! for p50/p95 at most 1% off. Days before the horizon are dropped; the horizon only moves
//! forward, so a dropped day is never read again.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::row::Assignment;
use super::stored::FastMap;

pub use super::cycles::Cycles;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CompletionKey {
    pub node: i64,
    pub operator: i64,
}

#[derive(Debug, Clone, Default)]
pub struct CompletionCell {
    /// Completed assignments (status completed, completed_at on this day).
    pub completed: i64,
    /// Of those, the ones counting for cycle time: their number, sum of seconds, distribution.
    pub cycles: i64,
    pub cycle_secs_sum: i64,
    pub distribution: Cycles,
}

/// What one assignment adds; `None` unless it is a valid completed assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompletionEntry {
    day: NaiveDate,
    key: CompletionKey,
    cycle_secs: Option<u64>,
}

impl CompletionEntry {
    pub fn of(a: &Assignment) -> Option<CompletionEntry> {
        Some(CompletionEntry {
            day: a.completed_on()?,
            key: CompletionKey {
                node: a.node?,
                operator: a.operator?,
            },
            cycle_secs: a.cycle_secs(),
        })
    }
}

#[derive(Debug, Default, Clone)]
pub struct CompletionIndex {
    days: BTreeMap<NaiveDate, FastMap<CompletionKey, CompletionCell>>,
    horizon: Option<NaiveDate>,
    /// The cells of the week ending on `.0` merged by key, kept current by `add` and `remove`
    /// once built ([`CompletionIndex::prepare_week`]): the cycle-time view then merges one
    /// histogram per (node, operator) instead of one per day and (node, operator).
    week: Option<(NaiveDate, FastMap<CompletionKey, CompletionCell>)>,
}

/// The first day of the cycle-time week ending on `end`: the 7 days `end − 6 ..= end`.
pub fn week_start(end: NaiveDate) -> NaiveDate {
    end - chrono::Days::new(6)
}

impl CompletionCell {
    fn add(&mut self, e: &CompletionEntry) {
        self.completed += 1;
        if let Some(secs) = e.cycle_secs {
            self.cycles += 1;
            self.cycle_secs_sum += secs as i64;
            self.distribution.record(secs);
        }
    }

    /// Takes out `e`, which was added.
    fn remove(&mut self, e: &CompletionEntry) {
        self.completed -= 1;
        if let Some(secs) = e.cycle_secs {
            self.cycles -= 1;
            self.cycle_secs_sum -= secs as i64;
            self.distribution.remove(secs);
        }
    }

    fn absorb(&mut self, other: &CompletionCell) {
        self.completed += other.completed;
        self.cycles += other.cycles;
        self.cycle_secs_sum += other.cycle_secs_sum;
        self.distribution.absorb(&other.distribution);
    }
}

impl CompletionIndex {
    fn in_horizon(&self, day: NaiveDate) -> bool {
        self.horizon.is_none_or(|h| day >= h)
    }

    pub fn add(&mut self, e: &CompletionEntry) {
        if !self.in_horizon(e.day) {
            return;
        }
        self.days
            .entry(e.day)
            .or_default()
            .entry(e.key)
            .or_default()
            .add(e);
        if let Some((end, cells)) = &mut self.week {
            if (week_start(*end)..=*end).contains(&e.day) {
                cells.entry(e.key).or_default().add(e);
            }
        }
    }

    pub fn remove(&mut self, e: &CompletionEntry) {
        let Some(day) = self.days.get_mut(&e.day) else {
            return;
        };
        let Some(cell) = day.get_mut(&e.key) else {
            return;
        };
        cell.remove(e);
        if cell.completed == 0 {
            day.remove(&e.key);
            if day.is_empty() {
                self.days.remove(&e.day);
            }
        }
        if let Some((end, cells)) = &mut self.week {
            if (week_start(*end)..=*end).contains(&e.day) {
                if let Some(cell) = cells.get_mut(&e.key) {
                    cell.remove(e);
                    if cell.completed == 0 {
                        cells.remove(&e.key);
                    }
                }
            }
        }
    }

    /// Builds (once per `end`) the merged cells of the week ending on `end`.
    pub fn prepare_week(&mut self, end: NaiveDate) {
        if self.week.as_ref().is_some_and(|(e, _)| *e == end) {
            return;
        }
        let mut cells: FastMap<CompletionKey, CompletionCell> = FastMap::default();
        for (_, day) in self.days.range(week_start(end)..=end) {
            for (key, cell) in day {
                cells.entry(*key).or_default().absorb(cell);
            }
        }
        self.week = Some((end, cells));
    }

    /// The merged cells of the week ending on `end`, if prepared.
    pub fn week(&self, end: NaiveDate) -> Option<&FastMap<CompletionKey, CompletionCell>> {
        match &self.week {
            Some((e, cells)) if *e == end => Some(cells),
            _ => None,
        }
    }

    /// Forgets the days before `day`, for good.
    pub fn drop_before(&mut self, day: NaiveDate) {
        if self.horizon.is_some_and(|h| h >= day) {
            return;
        }
        self.horizon = Some(day);
        if self
            .week
            .as_ref()
            .is_some_and(|(end, _)| week_start(*end) < day)
        {
            self.week = None;
        }
        self.days = self.days.split_off(&day);
    }

    /// The cells of the days in `from..=to`.
    pub fn days(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> impl Iterator<Item = (&NaiveDate, &FastMap<CompletionKey, CompletionCell>)> {
        self.days.range(from..=to)
    }

    pub fn cells(&self) -> usize {
        self.days.values().map(FastMap::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cycles(values: &[u64]) -> Cycles {
        let mut c = Cycles::default();
        for v in values {
            c.record(*v);
        }
        c
    }

    #[test]
    fn nearest_rank_on_small_exact_values() {
        // n = 4: p50 rank 2, p95 rank 4.
        let c = cycles(&[10, 20, 30, 40]);
        assert_eq!(c.percentile(50), Some(20));
        assert_eq!(c.percentile(95), Some(40));
        // n = 20: p95 rank 19.
        let c = cycles(&(1..=20).collect::<Vec<_>>());
        assert_eq!(c.percentile(95), Some(19));
        assert_eq!(c.percentile(50), Some(10));
        assert_eq!(Cycles::default().percentile(50), None);
    }

    #[test]
    fn large_values_within_one_percent() {
        let values: Vec<u64> = (0..1000).map(|i| 3_600 + i * 97).collect();
        let c = cycles(&values);
        for (q, rank) in [(50u64, 500usize), (95, 950)] {
            let exact = values[rank - 1] as f64;
            let got = c.percentile(q).unwrap() as f64;
            assert!(
                (got - exact).abs() / exact <= 0.01,
                "q{q}: {got} vs {exact}"
            );
        }
    }

    #[test]
    fn remove_takes_one_value_out() {
        let mut idx = CompletionIndex::default();
        let day = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let key = CompletionKey {
            node: 1,
            operator: 2,
        };
        let e = |secs| CompletionEntry {
            day,
            key,
            cycle_secs: Some(secs),
        };
        idx.add(&e(60));
        idx.add(&e(600));
        idx.remove(&e(60));
        let (_, cells) = idx.days(day, day).next().unwrap();
        let cell = &cells[&key];
        assert_eq!(
            (cell.completed, cell.cycles, cell.cycle_secs_sum),
            (1, 1, 600)
        );
        let p50 = cell.distribution.percentile(50).unwrap();
        assert!((594..=606).contains(&p50), "{p50} is not within 1% of 600");
        idx.remove(&e(600));
        assert_eq!(idx.cells(), 0);
    }

    /// The prepared week stays equal to a fresh merge of its days through adds and removes:
    /// small cells (lists) and, with few keys and many steps, cells past the list limit
    /// (histograms), which removals take back below it.
    #[test]
    fn the_week_is_kept_current() {
        week_kept_current(5, 2_000, 3, 0.4);
        week_kept_current(6, 12_000, 2, 0.3);
    }

    fn week_kept_current(seed: u64, steps: usize, keys: i64, p_remove: f64) {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
        let end = NaiveDate::from_ymd_opt(2026, 3, 10).unwrap();
        let mut idx = CompletionIndex::default();
        let mut live: Vec<CompletionEntry> = Vec::new();
        let entry = |rng: &mut rand::rngs::SmallRng| CompletionEntry {
            day: end - chrono::Days::new(rng.gen_range(0..10)),
            key: CompletionKey {
                node: rng.gen_range(1..keys),
                operator: rng.gen_range(1..keys),
            },
            cycle_secs: rng.gen_bool(0.8).then(|| rng.gen_range(1..100_000)),
        };
        let mut largest = 0;
        for step in 0..steps {
            if step == steps / 4 {
                idx.prepare_week(end);
            }
            // The second half shrinks what the first grew.
            let p = if step < steps / 2 {
                p_remove
            } else {
                p_remove + 0.35
            };
            if !live.is_empty() && rng.gen_bool(p) {
                let e = live.swap_remove(rng.gen_range(0..live.len()));
                idx.remove(&e);
            } else {
                let e = entry(&mut rng);
                idx.add(&e);
                live.push(e);
            }
            if let Some(week) = idx.week(end) {
                largest = week
                    .values()
                    .map(|c| c.cycles)
                    .max()
                    .unwrap_or(0)
                    .max(largest);
            }
        }
        let cells = |idx: &CompletionIndex| {
            let mut v: Vec<_> = idx
                .week(end)
                .unwrap()
                .iter()
                .map(|(k, c)| {
                    let h = c.distribution.clone();
                    (*k, c.completed, c.cycles, c.cycle_secs_sum, h)
                })
                .collect();
            v.sort_by_key(|x| x.0);
            v
        };
        let kept = cells(&idx);
        let mut fresh = idx.clone();
        fresh.week = None;
        fresh.prepare_week(end);
        let rebuilt = cells(&fresh);
        assert_eq!(kept.len(), rebuilt.len());
        for (a, b) in kept.iter().zip(&rebuilt) {
            assert_eq!((a.0, a.1, a.2, a.3), (b.0, b.1, b.2, b.3));
            assert_eq!(a.4.len(), b.4.len());
            for q in [1, 50, 95, 100] {
                assert_eq!(a.4.percentile(q), b.4.percentile(q));
            }
        }
        assert!(idx.week(end - chrono::Days::new(1)).is_none());
        if steps > 10_000 {
            assert!(
                largest > super::super::cycles::EXACT_MAX as i64,
                "week cells reached {largest} values: past the list limit"
            );
            assert!(
                kept.iter()
                    .any(|c| !c.4.is_exact() && c.2 <= super::super::cycles::EXACT_MAX as i64),
                "some cell went back below the limit, as a histogram"
            );
        }
    }

    #[test]
    fn days_before_the_horizon_are_forgotten() {
        let mut idx = CompletionIndex::default();
        let d1 = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let d2 = d1.succ_opt().unwrap();
        let e = |day| CompletionEntry {
            day,
            key: CompletionKey {
                node: 1,
                operator: 1,
            },
            cycle_secs: None,
        };
        idx.add(&e(d1));
        idx.add(&e(d2));
        idx.drop_before(d2);
        assert_eq!(idx.cells(), 1);
        idx.add(&e(d1));
        idx.remove(&e(d1));
        assert_eq!(idx.cells(), 1, "days before the horizon stay out");
    }
}
