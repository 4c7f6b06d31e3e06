//! Completed assignments counted by day, node and operator: the aggregate behind the summary's
//! completed_count (today) and the 7-day cycle-time view.
//!
//! Each cell keeps a count, the exact sum of cycle seconds, and an HDR histogram of them (two
//! significant digits: at most 1% relative error) for p50/p95. Days before the horizon are
//! dropped; the horizon only moves forward, so a dropped day is never read again.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use hdrhistogram::Histogram;

use super::row::Assignment;
use super::stored::FastMap;

pub type Cycles = Histogram<u32>;

/// A histogram of cycle seconds with at most 1% relative error.
pub fn new_cycles() -> Cycles {
    // 2 significant digits is a valid precision; creation only fails for sigfig > 5.
    Histogram::new(2).unwrap_or_else(|_| unreachable!("sigfig 2 is valid"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CompletionKey {
    pub node: i64,
    pub operator: i64,
}

#[derive(Debug, Clone)]
pub struct CompletionCell {
    /// Completed assignments (status completed, completed_at on this day).
    pub completed: i64,
    /// Of those, the ones counting for cycle time: their number, sum of seconds, distribution.
    pub cycles: i64,
    pub cycle_secs_sum: i64,
    pub histogram: Cycles,
}

impl Default for CompletionCell {
    fn default() -> Self {
        CompletionCell {
            completed: 0,
            cycles: 0,
            cycle_secs_sum: 0,
            histogram: new_cycles(),
        }
    }
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
    /// Reused to take one value out of a histogram (hdrhistogram subtracts histograms).
    scratch: Option<Box<Cycles>>,
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
            // `saturating_record` would not grow an auto-resizing histogram; `record` only fails
            // past 2^62 seconds.
            let _ = self.histogram.record(secs);
        }
    }

    /// Takes `e` out; `one` holds just its cycle seconds (when it has some).
    fn remove(&mut self, e: &CompletionEntry, one: &Cycles) {
        self.completed -= 1;
        if let Some(secs) = e.cycle_secs {
            self.cycles -= 1;
            self.cycle_secs_sum -= secs as i64;
            // Cannot fail: the value was recorded into this cell when the entry was added.
            let _ = self.histogram.subtract(one);
        }
    }

    fn absorb(&mut self, other: &CompletionCell) {
        self.completed += other.completed;
        self.cycles += other.cycles;
        self.cycle_secs_sum += other.cycle_secs_sum;
        let _ = self.histogram.add(&other.histogram);
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
        let one = self.scratch.get_or_insert_with(|| Box::new(new_cycles()));
        one.reset();
        if let Some(secs) = e.cycle_secs {
            let _ = one.record(secs);
        }
        cell.remove(e, one);
        if cell.completed == 0 {
            day.remove(&e.key);
            if day.is_empty() {
                self.days.remove(&e.day);
            }
        }
        if let Some((end, cells)) = &mut self.week {
            if (week_start(*end)..=*end).contains(&e.day) {
                if let Some(cell) = cells.get_mut(&e.key) {
                    cell.remove(e, one);
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

/// Nearest-rank percentile (smallest v with at least ⌈q·n⌉ values ≤ v) of a histogram, for
/// `q = numer / 100`; `None` when empty. The bucket's midpoint is returned: within 1% of the
/// exact order statistic.
pub fn percentile(h: &Cycles, numer: u64) -> Option<u64> {
    let n = h.len();
    if n == 0 {
        return None;
    }
    let rank = (numer * n).div_ceil(100).max(1);
    let mut seen = 0u64;
    for v in h.iter_recorded() {
        seen += v.count_at_value() as u64;
        if seen >= rank {
            return Some(h.median_equivalent(v.value_iterated_to()));
        }
    }
    Some(h.median_equivalent(h.max()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(values: &[u64]) -> Cycles {
        let mut h = new_cycles();
        for v in values {
            h.record(*v).unwrap();
        }
        h
    }

    #[test]
    fn nearest_rank_on_small_exact_values() {
        // n = 4: p50 rank 2, p95 rank 4.
        let h = hist(&[10, 20, 30, 40]);
        assert_eq!(percentile(&h, 50), Some(20));
        assert_eq!(percentile(&h, 95), Some(40));
        // n = 20: p95 rank 19.
        let h = hist(&(1..=20).collect::<Vec<_>>());
        assert_eq!(percentile(&h, 95), Some(19));
        assert_eq!(percentile(&h, 50), Some(10));
        assert_eq!(percentile(&new_cycles(), 50), None);
    }

    #[test]
    fn large_values_within_one_percent() {
        let values: Vec<u64> = (0..1000).map(|i| 3_600 + i * 97).collect();
        let h = hist(&values);
        for (q, rank) in [(50u64, 500usize), (95, 950)] {
            let exact = values[rank - 1] as f64;
            let got = percentile(&h, q).unwrap() as f64;
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
        let p50 = percentile(&cell.histogram, 50).unwrap();
        assert!((594..=606).contains(&p50), "{p50} is not within 1% of 600");
        idx.remove(&e(600));
        assert_eq!(idx.cells(), 0);
    }

    /// The prepared week stays equal to a fresh merge of its days through adds and removes.
    #[test]
    fn the_week_is_kept_current() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::SmallRng::seed_from_u64(5);
        let end = NaiveDate::from_ymd_opt(2026, 3, 10).unwrap();
        let mut idx = CompletionIndex::default();
        let mut live: Vec<CompletionEntry> = Vec::new();
        let entry = |rng: &mut rand::rngs::SmallRng| CompletionEntry {
            day: end - chrono::Days::new(rng.gen_range(0..10)),
            key: CompletionKey {
                node: rng.gen_range(1..3),
                operator: rng.gen_range(1..3),
            },
            cycle_secs: rng.gen_bool(0.8).then(|| rng.gen_range(1..100_000)),
        };
        for step in 0..2_000 {
            if step == 500 {
                idx.prepare_week(end);
            }
            if !live.is_empty() && rng.gen_bool(0.4) {
                let e = live.swap_remove(rng.gen_range(0..live.len()));
                idx.remove(&e);
            } else {
                let e = entry(&mut rng);
                idx.add(&e);
                live.push(e);
            }
        }
        let cells = |idx: &CompletionIndex| {
            let mut v: Vec<_> = idx
                .week(end)
                .unwrap()
                .iter()
                .map(|(k, c)| {
                    let h = c.histogram.clone();
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
                assert_eq!(percentile(&a.4, q), percentile(&b.4, q));
            }
        }
        assert!(idx.week(end - chrono::Days::new(1)).is_none());
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
