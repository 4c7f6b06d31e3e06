//! `flowtally-bench --only dashboard`: the Production Dashboard at 1M tokens, in-process, no
//! database server: a tenant state built from generated rows with the shape of
//! `simulate::bulk_history` (about 5% of the tokens live at a node with an open assignment, the
//! rest completed over 60 days with 1–3 completed assignments each, instances of 1–5 tokens,
//! two graphs of production types hatthasilpa and classic, 8 nodes, 4 teams, 15 operators),
//! served by `flowtally::http::router` as `flowtally run` serves it. It measures:
//!
//! 1. **Page**: `GET /tenants/BENCH` through the router (the tenant's five views at T, names,
//!    rendering), p50 / p95 / max over the runs; and its two halves (computing the dashboard,
//!    rendering the HTML).
//! 2. **Live update**: what a tenant's feed does once a second for all its clients
//!    ([`feed::render`]: the views at T and every section's HTML), p50 / p95 / max.
//! 3. **100 live clients**: 100 `EventSource`-like clients on real TCP connections to a
//!    listener on 127.0.0.1 for a while, with changes applied to the state meanwhile (200 rows
//!    a second, as a busy factory); the process's CPU (user + system from /proc/self/stat,
//!    over the wall time), its resident memory before and during, frames received per client,
//!    bytes per client per second, and how long after its second a frame reached a client.
//!
//! It prints numbers; it never fails on a timing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::NaiveDateTime;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use flowtally::http::dashboard::i18n::{Lang, Tr};
use flowtally::http::dashboard::{self, feed};
use flowtally::live::{History, LiveWriter, Ready, Stage, TenantKey, TenantSlot, Totals};
use flowtally::model::clock::{local_time, Instant as ClockInstant};
use flowtally::model::row::{
    Assignment, AssignmentStatus, Graph, Instance, Member, Node, Team, Token, TokenStatus,
};
use flowtally::model::{Change, Row, TenantState};

const TZ: chrono_tz::Tz = chrono_tz::Asia::Bangkok;
const KEY: &str = "bgerp_t_bench";
const CLIENTS: usize = 100;

/// What the part measured.
#[derive(Debug, Clone, Default)]
pub struct DashboardResult {
    pub tokens: u64,
    pub rows: usize,
    pub build_secs: f64,
    pub page: Vec<f64>,
    pub compute: Vec<f64>,
    pub render: Vec<f64>,
    pub update: Vec<f64>,
    pub page_bytes: usize,
    pub clients: usize,
    pub client_secs: f64,
    pub cpu_percent: f64,
    pub rss_before: u64,
    pub rss_during: u64,
    pub frames_min: u64,
    pub frames_max: u64,
    pub bytes_per_client_sec: f64,
    pub delivery_ms: Vec<f64>,
}

pub(crate) fn at(epoch: i64) -> NaiveDateTime {
    local_time(epoch, TZ)
}

/// The dimensions and `tokens` tokens of history ending at `now`.
pub(crate) fn build_state(tokens: u64, now: i64, seed: u64) -> TenantState {
    use AssignmentStatus as A;
    use TokenStatus as S;
    let mut s = TenantState::default();
    let up = |s: &mut TenantState, r: Row| s.apply(Change::Upsert(r));
    for (id, ptype) in [(1, "hatthasilpa"), (2, "classic")] {
        up(
            &mut s,
            Row::Graph(Graph {
                id,
                production_type: Some(ptype.into()),
                name: None,
            }),
        );
    }
    let nodes = [
        (1, 1, "PREP", "Material preparation", "cutting"),
        (2, 1, "CUT", "Leather cutting", "cutting"),
        (3, 1, "STITCH", "Hand stitching", "sewing"),
        (4, 1, "EDGE", "Edge painting", "sewing"),
        (5, 2, "SEW", "Machine sewing", "sewing"),
        (6, 2, "QC1", "Quality check", "qc"),
        (7, 2, "PACK", "Packing", "qc"),
        (8, 2, "FINAL", "Final inspection", "qc"),
    ];
    for (id, graph, code, name, cat) in nodes {
        up(
            &mut s,
            Row::Node(Node {
                id,
                graph: Some(graph),
                code: Some(code.into()),
                name: Some(name.into()),
                team_category: Some(cat.into()),
                wip_limit: None,
            }),
        );
    }
    for (id, name, cat) in [
        (1, "Cutting Team A", "cutting"),
        (2, "Sewing Team A", "sewing"),
        (3, "Quality Control", "qc"),
        (4, "Sewing Night Shift", "sewing"),
    ] {
        up(
            &mut s,
            Row::Team(Team {
                id,
                name: Some(name.into()),
                team_category: Some(cat.into()),
                active: true,
            }),
        );
    }
    for op in 1001..=1015i64 {
        up(
            &mut s,
            Row::Member(Member {
                team: 1 + (op % 4),
                operator: op,
                capacity_per_day: Some(8 + op % 5),
                active: true,
            }),
        );
    }
    let mut rng = SmallRng::seed_from_u64(seed);
    let span = 60 * 86_400;
    let (mut token, mut asg, mut instance) = (0i64, 0i64, 0i64);
    while (token as u64) < tokens {
        instance += 1;
        let graph = 1 + (instance % 2);
        up(
            &mut s,
            Row::Instance(Instance {
                id: instance,
                graph: Some(graph),
                production_type: None,
            }),
        );
        for _ in 0..rng.gen_range(1..=5) {
            token += 1;
            let node = if graph == 1 {
                rng.gen_range(1..=4)
            } else {
                rng.gen_range(5..=8)
            };
            let op = rng.gen_range(1001..=1015);
            if rng.gen_bool(0.05) {
                let spawned = now - rng.gen_range(60..12 * 3_600);
                let status = [S::Ready, S::Waiting, S::Active, S::Paused][rng.gen_range(0..4)];
                up(
                    &mut s,
                    Row::Token(Token {
                        id: token,
                        instance: Some(instance),
                        is_product: true,
                        node: Some(node),
                        status,
                        spawned_at: Some(at(spawned)),
                        completed_at: None,
                    }),
                );
                asg += 1;
                let open = match status {
                    S::Active => A::Started,
                    S::Paused => A::Paused,
                    _ => A::Assigned,
                };
                up(
                    &mut s,
                    Row::Assignment(Assignment {
                        id: asg,
                        token: Some(token),
                        node: Some(node),
                        operator: Some(op),
                        status: open,
                        assigned_at: Some(at(spawned + rng.gen_range(0..600))),
                        started_at: None,
                        completed_at: None,
                    }),
                );
            } else {
                let done = now - rng.gen_range(60..span);
                let spawned = done - rng.gen_range(3_600..5 * 86_400);
                up(
                    &mut s,
                    Row::Token(Token {
                        id: token,
                        instance: Some(instance),
                        is_product: true,
                        node: None,
                        status: S::Completed,
                        spawned_at: Some(at(spawned)),
                        completed_at: Some(at(done)),
                    }),
                );
                for k in 0..rng.gen_range(1..=3i64) {
                    asg += 1;
                    let end = done - k * rng.gen_range(600..7_200);
                    up(
                        &mut s,
                        Row::Assignment(Assignment {
                            id: asg,
                            token: Some(token),
                            node: Some(if graph == 1 { 1 + (k % 4) } else { 5 + (k % 4) }),
                            operator: Some(op),
                            status: A::Completed,
                            assigned_at: Some(at(end - 9_000)),
                            started_at: Some(at(end - rng.gen_range(300..7_200))),
                            completed_at: Some(at(end)),
                        }),
                    );
                }
            }
        }
    }
    // As in the service: the first snapshot evicts what no window reads.
    let _ = s.snapshot(at(now), &flowtally::model::View::ALL);
    s
}

/// The live state with one ready tenant, and its writer (the bench plays the applier).
fn live_with(state: TenantState, now: i64) -> LiveWriter {
    let live = LiveWriter::new(TZ);
    let mut history = History::new();
    for m in 0..360 {
        history.push_back(Totals {
            at: (now / 60 - 360 + m) * 60,
            wip: 50_000 + m % 50,
            queued: 25_000,
            completed: 1_000 + m,
        });
    }
    live.insert(
        TenantKey::of_db(KEY),
        TenantSlot {
            code: "BENCH".into(),
            db: KEY.into(),
            stage: Stage::Ready(Ready {
                state,
                loaded_at: None,
                first_instant: ClockInstant(0),
                base: None,
                history,
            }),
        },
    );
    live.status().streaming();
    live.status().idle();
    live
}

fn cpu_secs() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of stat: 12 and 13 after the state field.
    (ticks(11) + ticks(12)) / 100.0
}

fn percentile(v: &[f64], q: f64) -> f64 {
    crate::percentile(v, q).unwrap_or(f64::NAN)
}

fn ms(v: f64) -> String {
    format!("{:.2} ms", v * 1000.0)
}

/// One client: reads the event stream for `secs`, counting frames and bytes, and noting how
/// long after its second each frame arrived.
async fn client(
    port: u16,
    secs: u64,
    delays: Arc<std::sync::Mutex<Vec<f64>>>,
) -> Result<(u64, u64)> {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    s.write_all(
        b"GET /tenants/BENCH/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n",
    )
    .await?;
    let end = Instant::now() + Duration::from_secs(secs);
    let mut buf = vec![0u8; 1 << 16];
    let (mut frames, mut bytes) = (0u64, 0u64);
    let mut pending = String::new();
    while Instant::now() < end {
        let n = match tokio::time::timeout_at(end.into(), s.read(&mut buf)).await {
            Ok(Ok(0)) | Err(_) => break,
            Ok(Ok(n)) => n,
            Ok(Err(e)) => return Err(e.into()),
        };
        bytes += n as u64;
        pending.push_str(&String::from_utf8_lossy(&buf[..n]));
        while let Some(i) = pending.find("event: frame") {
            frames += 1;
            let ms_into_second = chrono::Utc::now().timestamp_subsec_millis() as f64;
            if let Ok(mut d) = delays.lock() {
                d.push(ms_into_second);
            }
            pending.drain(..i + 12);
        }
        if pending.len() > 1 << 20 {
            pending.clear();
        }
    }
    Ok((frames, bytes))
}

pub async fn run(tokens: u64, client_secs: u64, seed: u64) -> Result<DashboardResult> {
    let mut r = DashboardResult {
        tokens,
        clients: CLIENTS,
        client_secs: client_secs as f64,
        ..Default::default()
    };
    let now = chrono::Utc::now().timestamp();
    crate::progress(format!(
        "dashboard: building a tenant of {tokens} tokens in memory"
    ));
    let t = Instant::now();
    let state = tokio::task::spawn_blocking(move || build_state(tokens, now, seed)).await?;
    r.build_secs = t.elapsed().as_secs_f64();
    r.rows = state.rows();
    let applier = live_with(state, now);
    let live = applier.view();
    let app = flowtally::http::router(live.clone());

    crate::progress("dashboard: page and live update timings");
    use tower::ServiceExt as _;
    let runs = 60;
    for i in 0..runs + 3 {
        let t = Instant::now();
        let resp = app
            .clone()
            .oneshot(
                axum::http::Request::builder()
                    .uri("/tenants/BENCH")
                    .body(axum::body::Body::empty())?,
            )
            .await?;
        let body = axum::body::to_bytes(resp.into_body(), 1 << 26).await?;
        let page = t.elapsed().as_secs_f64();
        let (l, n) = (live.clone(), chrono::Utc::now().timestamp());
        let t = Instant::now();
        let d = match dashboard::compute(&l, &TenantKey::of_db(KEY), n) {
            dashboard::Computed::Ready(d) => d,
            _ => anyhow::bail!("the bench tenant is not ready"),
        };
        let compute = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let html = dashboard::render::sections(&d, &Tr::new(Lang::Th));
        let render = t.elapsed().as_secs_f64();
        std::hint::black_box(html);
        let t = Instant::now();
        std::hint::black_box(feed::render(&l, &TenantKey::of_db(KEY), n, &[Lang::Th]));
        let update = t.elapsed().as_secs_f64();
        // The first calls warm caches and the allocator.
        if i >= 3 {
            r.page.push(page);
            r.compute.push(compute);
            r.render.push(render);
            r.update.push(update);
            r.page_bytes = body.len();
        }
    }

    crate::progress(format!(
        "dashboard: {CLIENTS} live clients for {client_secs} s, 200 changes/s applied"
    ));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let port = listener.local_addr()?.port();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let stop = Arc::new(AtomicU64::new(0));
    let writer = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let key = TenantKey::of_db(KEY);
            let mut rng = SmallRng::seed_from_u64(99);
            let mut id = 10_000_000i64;
            while stop.load(Ordering::Relaxed) == 0 {
                for _ in 0..20 {
                    id += 1;
                    let change = Change::Upsert(Row::Token(Token {
                        id,
                        instance: Some(1),
                        is_product: true,
                        node: Some(rng.gen_range(1..=8)),
                        status: TokenStatus::Waiting,
                        spawned_at: Some(at(chrono::Utc::now().timestamp())),
                        completed_at: None,
                    }));
                    if let Some(mut slot) = applier.get_mut(&key) {
                        slot.apply(change);
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    r.rss_before = crate::rss_bytes().unwrap_or(0);
    let delays = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (cpu0, wall0) = (cpu_secs(), Instant::now());
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        tasks.push(tokio::spawn(client(port, client_secs, delays.clone())));
    }
    let mut peak = 0;
    let sampler_end = Instant::now() + Duration::from_secs(client_secs);
    while Instant::now() < sampler_end {
        peak = peak.max(crate::rss_bytes().unwrap_or(0));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (mut fmin, mut fmax, mut bytes) = (u64::MAX, 0, 0);
    for t in tasks {
        let (f, b) = t.await?.context("a live client")?;
        fmin = fmin.min(f);
        fmax = fmax.max(f);
        bytes += b;
    }
    r.cpu_percent = 100.0 * (cpu_secs() - cpu0) / wall0.elapsed().as_secs_f64();
    r.rss_during = peak;
    r.frames_min = fmin;
    r.frames_max = fmax;
    r.bytes_per_client_sec = bytes as f64 / CLIENTS as f64 / client_secs as f64;
    r.delivery_ms = delays.lock().map(|d| d.clone()).unwrap_or_default();
    stop.store(1, Ordering::Relaxed);
    let _ = writer.await;
    server.abort();
    Ok(r)
}

impl DashboardResult {
    pub fn render(&self) -> String {
        let mut out = String::new();
        let p = |v: &[f64]| {
            format!(
                "{} | {} | {}",
                ms(percentile(v, 0.5)),
                ms(percentile(v, 0.95)),
                ms(v.iter().copied().fold(0.0, f64::max))
            )
        };
        out.push_str(&format!(
            "## Dashboard\n\nOne tenant of {} tokens ({} source rows held after eviction; built \
             in memory in {:.1} s), served by `flowtally::http::router`. {} runs each.\n\n",
            crate::fmt_int(self.tokens as f64),
            crate::fmt_int(self.rows as f64),
            self.build_secs,
            self.page.len()
        ));
        out.push_str("| what | p50 | p95 | max |\n|---|---|---|---|\n");
        out.push_str(&format!(
            "| page `GET /tenants/BENCH` ({} KiB of HTML) | {} |\n",
            self.page_bytes / 1024,
            p(&self.page)
        ));
        out.push_str(&format!(
            "| … computing the dashboard (five views at T, names) | {} |\n",
            p(&self.compute)
        ));
        out.push_str(&format!(
            "| … rendering its HTML (sections, SVG charts) | {} |\n",
            p(&self.render)
        ));
        out.push_str(&format!(
            "| live update (a feed's second: views at T and every section) | {} |\n\n",
            p(&self.update)
        ));
        out.push_str(&format!(
            "{} live clients over {:.0} s, 200 changes/s applied meanwhile: process CPU {:.1}% \
             of one core; resident memory {} before, {} at most during; frames per client {}–{}; \
             {} per client per second; a frame reached its client {:.0} ms (p50) / {:.0} ms \
             (p95) after its second began.\n",
            self.clients,
            self.client_secs,
            self.cpu_percent,
            crate::fmt_bytes(self.rss_before as f64),
            crate::fmt_bytes(self.rss_during as f64),
            self.frames_min,
            self.frames_max,
            crate::fmt_bytes(self.bytes_per_client_sec),
            percentile(&self.delivery_ms, 0.5),
            percentile(&self.delivery_ms, 0.95),
        ));
        out
    }
}
