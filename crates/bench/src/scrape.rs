//! `flowtally-bench --only scrape`: what one `/metrics` scrape costs at many tenants, in
//! process, no database server. A live state of N tenants (`--tenants`, default 10,000) of 100
//! tokens each (the dashboard part's builder), every one ready with a snapshot written 30 s
//! ago, is scraped as the handler does (`MetricsInput::gather`, then `render_metrics`) in three
//! cases: every tenant healthy; 1% of them with failing writes and late snapshots; every one of
//! them failing and late (the cap on per-tenant series at work). Per case: the body's size and
//! sample lines, and the time of gather + render, min / median / max over 5 runs.

use std::time::Instant;

use flowtally::http::metrics::{render_metrics, MetricsInput};
use flowtally::live::{History, LiveWriter, Ready, Stage, TenantKey, TenantSlot};
use flowtally::model::clock;
use flowtally::model::views::Cadence;

/// Tokens per tenant: small, so that 10,000 states build in seconds.
const TOKENS: u64 = 100;
const RUNS: usize = 5;

/// One case's scrape.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: &'static str,
    pub bytes: usize,
    pub samples: usize,
    pub secs: Vec<f64>,
}

#[derive(Debug, Clone)]
pub struct ScrapeResult {
    pub tenants: usize,
    pub build_secs: f64,
    pub cases: Vec<Case>,
}

fn scrape(live: &LiveWriter, name: &'static str) -> Case {
    let mut secs = Vec::new();
    let mut body = String::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        body = render_metrics(MetricsInput::gather(&live.view()));
        secs.push(t.elapsed().as_secs_f64());
    }
    Case {
        name,
        bytes: body.len(),
        samples: body.lines().filter(|l| !l.starts_with('#')).count(),
        secs,
    }
}

pub fn run(tenants: usize, seed: u64) -> ScrapeResult {
    let now = chrono::Utc::now().timestamp();
    let started = Instant::now();
    let live = LiveWriter::new(crate::TZ);
    let code = |i: usize| format!("T{i:05}");
    for i in 0..tenants {
        let state = crate::dashboard::build_state(TOKENS, now, seed.wrapping_add(i as u64));
        live.status()
            .snapshot_written(&code(i), Some(now - 30), &[Cadence::OneMinute], 40, 0.01);
        live.insert(
            TenantKey::of_db(&format!("{}{}", crate::PREFIX, code(i))),
            TenantSlot {
                code: code(i),
                db: format!("{}{}", crate::PREFIX, code(i)),
                stage: Stage::Ready(Ready {
                    state,
                    loaded_at: None,
                    first_instant: clock::Instant(now - 3600),
                    base: None,
                    history: History::new(),
                }),
            },
        );
    }
    let build_secs = started.elapsed().as_secs_f64();
    let mut cases = vec![scrape(&live, "every tenant healthy")];
    let trouble = |from: usize, to: usize| {
        for i in from..to {
            // Forgets its snapshot of 30 s ago (the latest is kept otherwise).
            live.status().tenant_gone(&code(i));
            live.status()
                .snapshot_written(&code(i), Some(now - 3600), &[], 0, 0.01);
            live.status()
                .write_failed(&code(i), "Lock wait timeout exceeded", true);
        }
    };
    trouble(0, tenants / 100);
    cases.push(scrape(&live, "1% failing and late"));
    trouble(tenants / 100, tenants);
    cases.push(scrape(&live, "every tenant failing and late"));
    ScrapeResult {
        tenants,
        build_secs,
        cases,
    }
}

impl ScrapeResult {
    pub fn render(&self) -> String {
        let mut out = format!(
            "## /metrics scrape, in memory\n\n{} tenants of {} tokens (built in {:.2} s); \
             gather + render, {} runs:\n\n",
            crate::fmt_int(self.tenants as f64),
            TOKENS,
            self.build_secs,
            RUNS
        );
        let mut t = crate::Table::new(&["case", "body", "samples", "min / median / max"]);
        for c in &self.cases {
            let time = crate::stats(&c.secs).map_or("-".to_string(), |s| {
                format!(
                    "{} / {} / {}",
                    crate::fmt_secs(s.min),
                    crate::fmt_secs(s.median),
                    crate::fmt_secs(s.max)
                )
            });
            t.row(vec![
                c.name.to_string(),
                crate::fmt_bytes(c.bytes as f64),
                crate::fmt_int(c.samples as f64),
                time,
            ]);
        }
        out.push_str(&t.render());
        out
    }
}
