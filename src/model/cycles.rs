//! The cycle seconds of one cycle-time cell, stored at what they cost: a sorted list of the
//! values while the cell holds few ([`EXACT_MAX`]), an HDR histogram (two significant digits)
//! once it holds more.
//!
//! A histogram costs 1–6.5 KiB whatever it holds, and a tenant has a few hundred cells (one per
//! day, node and operator of the week, and the week merged): a small tenant's handful of values
//! would pay megabytes. A list costs 4 bytes a value and is never larger than the histogram it
//! becomes (512 values, 2 KiB, against 3.5 KiB for a histogram of cycles up to two hours).
//!
//! Percentiles are the same whichever form holds the values: the nearest-rank value is reported
//! as the midpoint of its histogram bucket (exact below 256 s, within 1% above), as a histogram
//! of the same values would report it. A cell that grew past the limit and shrank back keeps its
//! histogram (the values it dropped cannot be told apart any more), and a state rebuilt from its
//! rows holds lists again: reporting at one precision keeps every snapshot a function of the
//! rows only, whatever their history (replays, restarts from a checkpoint).

use std::cell::RefCell;
use std::sync::OnceLock;

use hdrhistogram::Histogram;

/// Values a cell keeps as a list; one more turns it into a histogram.
pub const EXACT_MAX: usize = 512;

/// The cycle seconds of a cell. `Default` holds nothing and allocates nothing.
#[derive(Debug, Clone)]
pub enum Cycles {
    /// Sorted ascending, at most [`EXACT_MAX`] values.
    Exact(Vec<u32>),
    Histogram(Box<Histogram<u32>>),
}

impl Default for Cycles {
    fn default() -> Self {
        Cycles::Exact(Vec::new())
    }
}

/// An empty histogram with at most 1% relative error (auto-resizing).
fn new_histogram() -> Histogram<u32> {
    // Creation only fails for a significant-figure count above 5.
    Histogram::new(2).unwrap_or_else(|_| unreachable!("sigfig 2 is valid"))
}

/// The midpoint of `v`'s bucket in every histogram of [`new_histogram`]'s precision: what a
/// histogram reports for a value it holds. Bucket bounds depend only on the precision, not on
/// what a histogram holds, so one empty histogram answers for all.
fn quantize(v: u64) -> u64 {
    static REFERENCE: OnceLock<Histogram<u32>> = OnceLock::new();
    REFERENCE.get_or_init(new_histogram).median_equivalent(v)
}

thread_local! {
    /// hdrhistogram takes values out by subtracting a histogram: one per thread, reused, rather
    /// than one per tenant.
    static ONE: RefCell<Option<Histogram<u32>>> = const { RefCell::new(None) };
}

fn merge_sorted(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i] <= b[j] {
            out.push(a[i]);
            i += 1;
        } else {
            out.push(b[j]);
            j += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

impl Cycles {
    /// Values held.
    pub fn len(&self) -> u64 {
        match self {
            Cycles::Exact(v) => v.len() as u64,
            Cycles::Histogram(h) => h.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the values are kept as a list.
    pub fn is_exact(&self) -> bool {
        matches!(self, Cycles::Exact(_))
    }

    /// The histogram, made from the list if the values are still one.
    fn histogram(&mut self) -> &mut Histogram<u32> {
        if let Cycles::Exact(values) = self {
            let mut h = new_histogram();
            for v in values.iter() {
                // `record` only fails past 2^62 (the histogram resizes itself up to there).
                let _ = h.record(u64::from(*v));
            }
            *self = Cycles::Histogram(Box::new(h));
        }
        match self {
            Cycles::Histogram(h) => h,
            Cycles::Exact(_) => unreachable!("just made a histogram"),
        }
    }

    pub fn record(&mut self, secs: u64) {
        if let Cycles::Exact(values) = self {
            if let (true, Ok(v)) = (values.len() < EXACT_MAX, u32::try_from(secs)) {
                let at = values.partition_point(|x| *x <= v);
                values.insert(at, v);
                return;
            }
        }
        let _ = self.histogram().record(secs);
    }

    /// Takes one `secs` out, which must have been recorded (else nothing happens to a list; a
    /// histogram refuses to go below zero in that bucket).
    pub fn remove(&mut self, secs: u64) {
        match self {
            Cycles::Exact(values) => {
                if let Some(at) = u32::try_from(secs)
                    .ok()
                    .and_then(|v| values.binary_search(&v).ok())
                {
                    values.remove(at);
                }
            }
            Cycles::Histogram(h) => ONE.with(|one| {
                let mut one = one.borrow_mut();
                let one = one.get_or_insert_with(new_histogram);
                one.reset();
                if one.record(secs).is_ok() {
                    let _ = h.subtract(&*one);
                }
            }),
        }
    }

    /// Adds every value of `other`.
    pub fn absorb(&mut self, other: &Cycles) {
        match (&mut *self, other) {
            (_, Cycles::Exact(b)) if b.is_empty() => {}
            (Cycles::Exact(a), Cycles::Exact(b)) if a.len() + b.len() <= EXACT_MAX => {
                *a = merge_sorted(a, b);
            }
            (Cycles::Exact(a), Cycles::Histogram(h)) => {
                // Cheaper to copy the histogram than to grow a new one to its range.
                let mut h = h.clone();
                for v in a.iter() {
                    let _ = h.record(u64::from(*v));
                }
                *self = Cycles::Histogram(h);
            }
            (_, Cycles::Exact(b)) => {
                let h = self.histogram();
                for v in b {
                    let _ = h.record(u64::from(*v));
                }
            }
            (_, Cycles::Histogram(b)) => {
                // Cannot fail on an auto-resizing histogram.
                let _ = self.histogram().add(&**b);
            }
        }
    }

    /// Nearest-rank percentile (the smallest v with at least ⌈q·n⌉ values ≤ v) for
    /// `q = numer / 100`, reported as its histogram bucket's midpoint (see the module doc);
    /// `None` when empty.
    pub fn percentile(&self, numer: u64) -> Option<u64> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        let rank = (numer * n).div_ceil(100).clamp(1, n);
        match self {
            Cycles::Exact(values) => values
                .get(rank as usize - 1)
                .map(|v| quantize(u64::from(*v))),
            Cycles::Histogram(h) => {
                let mut seen = 0u64;
                for v in h.iter_recorded() {
                    seen += u64::from(v.count_at_value());
                    if seen >= rank {
                        return Some(quantize(v.value_iterated_to()));
                    }
                }
                Some(quantize(h.max()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    /// Today's answer (before lists): every value in one histogram, read as the model read it.
    fn histogram_percentile(values: &[u64], numer: u64) -> Option<u64> {
        let mut h = new_histogram();
        for v in values {
            h.record(*v).expect("test values fit");
        }
        let n = h.len();
        if n == 0 {
            return None;
        }
        let rank = (numer * n).div_ceil(100).max(1);
        let mut seen = 0u64;
        for v in h.iter_recorded() {
            seen += u64::from(v.count_at_value());
            if seen >= rank {
                return Some(h.median_equivalent(v.value_iterated_to()));
            }
        }
        Some(h.median_equivalent(h.max()))
    }

    /// The exact nearest-rank value.
    fn exact_percentile(values: &[u64], numer: u64) -> Option<u64> {
        let mut v = values.to_vec();
        v.sort_unstable();
        let rank = (numer * v.len() as u64).div_ceil(100).max(1);
        v.get(rank as usize - 1).copied()
    }

    /// `c` holds exactly `values`: its count, and each percentile equal to a histogram's of the
    /// same values, within 1% of the exact one, and equal to it where the histogram's is exact.
    fn check(c: &Cycles, values: &[u64], what: &str) {
        assert_eq!(c.len(), values.len() as u64, "{what}: count");
        for q in [1, 5, 50, 95, 99, 100] {
            let got = c.percentile(q);
            assert_eq!(got, histogram_percentile(values, q), "{what}: p{q}");
            if let (Some(got), Some(exact)) = (got, exact_percentile(values, q)) {
                let err = got.abs_diff(exact) as f64;
                assert!(err <= 0.01 * exact as f64, "{what}: p{q} {got} vs {exact}");
                if exact < 256 {
                    assert_eq!(got, exact, "{what}: p{q} below 256 s is exact");
                }
            }
        }
    }

    /// Cycle seconds as a factory has them: mostly minutes to hours, some seconds, a few days,
    /// now and then a value past u32 (a bad clock), which a list cannot hold.
    fn value(rng: &mut SmallRng) -> u64 {
        match rng.gen_range(0..100) {
            0..=19 => rng.gen_range(0..256),
            20..=89 => rng.gen_range(60..10 * 3_600),
            90..=98 => rng.gen_range(86_400..30 * 86_400),
            _ => rng.gen_range(1u64 << 32..1 << 40),
        }
    }

    fn filled(rng: &mut SmallRng, n: usize) -> (Cycles, Vec<u64>) {
        let mut c = Cycles::default();
        let mut values = Vec::new();
        for _ in 0..n {
            let v = if rng.gen_bool(0.99) {
                rng.gen_range(0..20_000)
            } else {
                value(rng)
            };
            c.record(v);
            values.push(v);
        }
        (c, values)
    }

    #[test]
    fn small_and_large_cells_report_as_a_histogram_would() {
        let mut rng = SmallRng::seed_from_u64(1);
        for n in [
            0,
            1,
            2,
            3,
            7,
            20,
            100,
            EXACT_MAX - 1,
            EXACT_MAX,
            EXACT_MAX + 1,
            3_000,
        ] {
            for _ in 0..5 {
                let mut c = Cycles::default();
                let mut values = Vec::new();
                for _ in 0..n {
                    let v = value(&mut rng);
                    c.record(v);
                    values.push(v);
                }
                check(&c, &values, &format!("{n} values"));
            }
        }
    }

    #[test]
    fn a_cell_is_a_list_up_to_the_limit_and_a_histogram_past_it() {
        let mut c = Cycles::default();
        let mut values = Vec::new();
        for i in 0..EXACT_MAX as u64 {
            let v = 3_600 + (i * 7_919) % 20_000;
            c.record(v);
            values.push(v);
        }
        assert!(c.is_exact(), "{EXACT_MAX} values stay a list");
        check(&c, &values, "at the limit");
        c.record(42);
        values.push(42);
        assert!(!c.is_exact(), "one more makes a histogram");
        check(&c, &values, "past the limit");
        // Back under the limit: still a histogram, still right.
        for v in values.drain(..EXACT_MAX - 10) {
            c.remove(v);
        }
        assert!(!c.is_exact());
        check(&c, &values, "shrunk");
        for v in values.drain(..) {
            c.remove(v);
        }
        assert!(c.is_empty() && c.percentile(50).is_none());
    }

    #[test]
    fn a_value_past_u32_makes_a_histogram() {
        let mut c = Cycles::default();
        c.record(30);
        c.record(1 << 33);
        assert!(!c.is_exact());
        check(&c, &[30, 1 << 33], "past u32");
        c.remove(1 << 33);
        check(&c, &[30], "taken out");
    }

    /// Random records and removals across the limit, both ways, against a plain list.
    #[test]
    fn records_and_removals_across_the_limit() {
        for seed in 0..8u64 {
            let mut rng = SmallRng::seed_from_u64(seed);
            let mut c = Cycles::default();
            let mut values: Vec<u64> = Vec::new();
            // Phases: grow past the limit, shrink to a few, grow again.
            for (steps, p_add) in [(900, 0.8), (900, 0.2), (300, 0.9), (600, 0.5)] {
                for step in 0..steps {
                    if !values.is_empty() && !rng.gen_bool(p_add) {
                        let v = values.swap_remove(rng.gen_range(0..values.len()));
                        c.remove(v);
                    } else {
                        // Repeats are common (whole minutes): removal must take out only one.
                        let v = if rng.gen_bool(0.3) && !values.is_empty() {
                            values[rng.gen_range(0..values.len())]
                        } else {
                            value(&mut rng)
                        };
                        c.record(v);
                        values.push(v);
                    }
                    if step % 37 == 0 {
                        check(
                            &c,
                            &values,
                            &format!("seed {seed}, {} values", values.len()),
                        );
                    }
                }
            }
            check(&c, &values, &format!("seed {seed}, end"));
        }
    }

    /// Merging two cells of either form holds both cells' values.
    #[test]
    fn merging_lists_and_histograms() {
        let mut rng = SmallRng::seed_from_u64(3);
        let sizes = [0, 1, 5, EXACT_MAX / 2, EXACT_MAX, EXACT_MAX + 1, 2_000];
        for a in sizes {
            for b in sizes {
                let (mut ca, va) = filled(&mut rng, a);
                let (cb, vb) = filled(&mut rng, b);
                let both: Vec<u64> = va.iter().chain(&vb).copied().collect();
                ca.absorb(&cb);
                check(&ca, &both, &format!("{a} + {b}"));
                if both.len() > EXACT_MAX {
                    assert!(!ca.is_exact(), "{a} + {b}: past the limit");
                } else if both.iter().all(|v| u32::try_from(*v).is_ok()) {
                    assert!(ca.is_exact(), "{a} + {b}: within the limit");
                }
                check(&cb, &vb, "the absorbed cell is unchanged");
            }
        }
    }

    /// Removing from a merged cell, as the prepared week does, keeps it right in either form.
    #[test]
    fn removal_after_a_merge() {
        let mut rng = SmallRng::seed_from_u64(4);
        for (a, b) in [(10, 10), (300, 300), (10, 1_000), (1_000, 10)] {
            let (mut c, mut values) = filled(&mut rng, a);
            let (other, more) = filled(&mut rng, b);
            c.absorb(&other);
            values.extend(more);
            while values.len() > 3 {
                let v = values.swap_remove(rng.gen_range(0..values.len()));
                c.remove(v);
            }
            check(&c, &values, &format!("{a} + {b}, then removals"));
        }
    }
}
