//! `flowtally-bench --only small-tenants`: what a tenant's in-memory state costs, in process, no
//! database server. N tenant states (`--tenants`, default 1,000) of ~K tokens each
//! (`--tokens-each`, default 1,000) with the shape of `simulate::bulk_history` (the dashboard
//! part's builder: 60 days of history, ~5% live, 1–3 completed assignments per completed token,
//! 8 nodes, 15 operators), and one tenant of the largest `--sizes` (default 1M tokens; quick
//! 100k). It prints:
//!
//! - resident bytes per tenant and per source row held, for the N small tenants together;
//! - resident bytes per row of the one large tenant (the figure the refresh part measures
//!   through a server load, here without one);
//! - the time to take every small tenant's snapshot of the five views at one instant (a
//!   5-minute boundary's work on the applier), min / median / max over 5 runs.
//!
//! Each state is built as a load builds it: the generated history is applied, the first
//! snapshot evicts what no window reads, and the rows left are applied again to a fresh state
//! (what a load or a checkpoint restore holds: maps sized for the rows kept, not for the whole
//! history), which is then prepared for its day. Memory is the RSS growth (`/proc/self/statm`)
//! over those fresh states, taken after glibc returned its free memory (`malloc_trim`), with the
//! rows they were built from still held so that their memory is not reused.

use std::time::Instant;

use anyhow::Result;

use flowtally::checkpoint::part;
use flowtally::model::{Change, Row, TenantState, View};

/// What the part measured.
#[derive(Debug, Clone, Default)]
pub struct SmallTenantsResult {
    pub tenants: usize,
    pub tokens_each: u64,
    pub rows: usize,
    pub bytes: u64,
    pub build_secs: f64,
    pub snapshot_all: Vec<f64>,
    pub large_tokens: u64,
    pub large_rows: usize,
    pub large_bytes: u64,
    /// The large tenant's checkpoint part (bytes) and its restores (seconds, one per run).
    pub large_part_bytes: u64,
    pub large_restore: Vec<f64>,
}

/// A tenant's rows after its first snapshot: what a load at `now` would read.
fn rows_of(tokens: u64, now: i64, seed: u64) -> Vec<Row> {
    crate::dashboard::build_state(tokens, now, seed)
        .all_rows()
        .collect()
}

fn fresh(rows: &[Row], now: i64) -> TenantState {
    let mut s = TenantState::default();
    for r in rows {
        s.apply(Change::Upsert(r.clone()));
    }
    s.prepare(crate::dashboard::at(now).date());
    s
}

/// RSS growth while `build` runs, after returning free memory to the system first.
fn rss_growth<T>(build: impl FnOnce() -> T) -> (T, u64) {
    crate::sys::trim();
    let before = crate::rss_bytes().unwrap_or(0);
    let out = build();
    let after = crate::rss_bytes().unwrap_or(0);
    (out, after.saturating_sub(before))
}

pub fn run(tenants: usize, tokens_each: u64, large: u64, seed: u64) -> Result<SmallTenantsResult> {
    let now = chrono::Utc::now().timestamp();
    let mut r = SmallTenantsResult {
        tenants,
        tokens_each,
        large_tokens: large,
        ..Default::default()
    };
    crate::progress(format!(
        "small tenants: generating {tenants} tenants of {tokens_each} tokens"
    ));
    let rows: Vec<Vec<Row>> = (0..tenants)
        .map(|i| rows_of(tokens_each, now, seed.wrapping_add(i as u64)))
        .collect();
    crate::progress("small tenants: building their states");
    let t = Instant::now();
    let (mut states, bytes) = rss_growth(|| rows.iter().map(|r| fresh(r, now)).collect::<Vec<_>>());
    r.build_secs = t.elapsed().as_secs_f64();
    r.bytes = bytes;
    r.rows = states.iter().map(TenantState::rows).sum();
    drop(rows);

    crate::progress("small tenants: snapshots of every tenant at one instant");
    // The next 5-minute boundary: every view is due.
    let at = crate::dashboard::at(now - now.rem_euclid(300) + 300);
    for i in 0..6 {
        let t = Instant::now();
        let mut n = 0;
        for s in &mut states {
            n += s.snapshot(at, &View::ALL).row_count();
        }
        std::hint::black_box(n);
        // The first pass warms caches and the allocator.
        if i > 0 {
            r.snapshot_all.push(t.elapsed().as_secs_f64());
        }
    }
    drop(states);

    if large > 0 {
        crate::progress(format!(
            "small tenants: one tenant of {large} tokens, for comparison"
        ));
        let rows = rows_of(large, now, seed);
        let (state, bytes) = rss_growth(|| fresh(&rows, now));
        r.large_rows = state.rows();
        r.large_bytes = bytes;
        drop(state);
        // Warm resume's work: the part (as the loader writes it: one base of every row)
        // read back into a state, from the page cache.
        crate::progress("small tenants: the large tenant's checkpoint restored");
        let path =
            std::env::temp_dir().join(format!("flowtally-bench-{}.part", std::process::id()));
        let base = part::base_frame(&rows)?;
        let len = part::create(&path, &[&base])?;
        r.large_part_bytes = len;
        for _ in 0..3 {
            let t = Instant::now();
            let restored = part::restore(&path, len)?;
            r.large_restore.push(t.elapsed().as_secs_f64());
            anyhow::ensure!(restored.rows() == r.large_rows, "restore lost rows");
        }
        let _ = std::fs::remove_file(&path);
    }
    Ok(r)
}

impl SmallTenantsResult {
    pub fn render(&self) -> String {
        let per = |bytes: u64, n: usize| {
            if n == 0 {
                "-".to_string()
            } else {
                crate::fmt_bytes(bytes as f64 / n as f64)
            }
        };
        let mut out = format!(
            "## Small tenants, in memory\n\n{} tenants of {} tokens ({} source rows held; states \
             built in {:.2} s):\n\n",
            crate::fmt_int(self.tenants as f64),
            crate::fmt_int(self.tokens_each as f64),
            crate::fmt_int(self.rows as f64),
            self.build_secs
        );
        let mut t = crate::Table::new(&["measurement", "value"]);
        t.row(vec![
            "resident memory, every small tenant".into(),
            crate::fmt_bytes(self.bytes as f64),
        ]);
        t.row(vec![
            "resident bytes per small tenant".into(),
            per(self.bytes, self.tenants),
        ]);
        t.row(vec![
            "resident bytes per row, small tenants".into(),
            per(self.bytes, self.rows),
        ]);
        let s = crate::stats(&self.snapshot_all);
        let [lo, med, hi] = crate::mmm_secs(&s);
        t.row(vec![
            format!(
                "every small tenant's snapshot of the five views (min / median / max of {})",
                self.snapshot_all.len()
            ),
            format!("{lo} / {med} / {hi}"),
        ]);
        if self.large_tokens > 0 {
            t.row(vec![
                format!(
                    "one tenant of {} tokens: rows held",
                    crate::fmt_int(self.large_tokens as f64)
                ),
                crate::fmt_int(self.large_rows as f64),
            ]);
            t.row(vec![
                "… its resident memory".into(),
                crate::fmt_bytes(self.large_bytes as f64),
            ]);
            t.row(vec![
                "… resident bytes per row (target ≤ 200 B)".into(),
                per(self.large_bytes, self.large_rows),
            ]);
            let [lo, med, hi] = crate::mmm_secs(&crate::stats(&self.large_restore));
            t.row(vec![
                format!(
                    "… its checkpoint part ({}) restored, from the page cache (min / median / max of {})",
                    crate::fmt_bytes(self.large_part_bytes as f64),
                    self.large_restore.len()
                ),
                format!("{lo} / {med} / {hi}"),
            ]);
        }
        out.push_str(&t.render());
        out
    }
}
