//! HTML from the [`Dashboard`] model: askama templates (`templates/`, compiled into the
//! binary), one per page and one per live section. A section renders alone, so that a live
//! update sends only the sections whose HTML changed; the page is its sections in a layout.
//!
//! Every figure is formatted here, once ([`int`], [`dec`]), so the page and its tests agree on
//! how a number reads; cells carry `data-col` (the view's column name) and rows their ids
//! (`data-node`, `data-team` ...), so the browser test can read the DOM back as rows.

use askama::Template;
use chrono::NaiveDateTime;

use super::charts::{self, TrendFigure, PALETTE};
use super::model::{Dashboard, Level, Notice};
use crate::model::decimal::Dec2;

/// `1234567` → `1,234,567`.
pub fn int(v: i64) -> String {
    let digits = v.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if v < 0 {
        out.push('-');
    }
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A DECIMAL(…,2) as the tables hold it, with thousands separators: `1,234.50`.
pub fn dec(v: Dec2) -> String {
    let s = v.to_string();
    let (whole, frac) = s.split_once('.').unwrap_or((&s, "00"));
    let whole: i64 = whole.parse().unwrap_or(0);
    let sign = if v.0 < 0 && whole == 0 { "-" } else { "" };
    format!("{sign}{}.{frac}", int(whole))
}

/// [`dec`], or an em dash for NULL.
pub fn opt_dec(v: Option<Dec2>) -> String {
    v.map_or_else(|| "—".to_string(), dec)
}

pub fn time(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// `5 s`, `3 min 20 s`, `2 h 5 min`.
pub fn duration(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

/// One cell: its column name, its text.
pub struct Cell {
    pub col: &'static str,
    pub text: String,
    /// Right-aligned (numbers).
    pub num: bool,
    /// The drill-down this figure opens, if any.
    pub href: Option<String>,
}

fn num(col: &'static str, text: String) -> Cell {
    Cell {
        col,
        text,
        num: true,
        href: None,
    }
}

fn label(col: &'static str, text: String) -> Cell {
    Cell {
        col,
        text,
        num: false,
        href: None,
    }
}

/// A number that links to its drill-down.
fn linked(col: &'static str, text: String, href: &str) -> Cell {
    Cell {
        href: Some(href.to_string()),
        ..num(col, text)
    }
}

// ----------------------------------------------------------------------------------------
// Sections
// ----------------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "status.html", config = "src/http/dashboard/askama.toml")]
struct StatusSection<'a> {
    notices: &'a [Notice],
}

pub struct Kpi {
    pub key: &'static str,
    pub title: &'static str,
    pub value: String,
    pub unit: &'static str,
    pub note: String,
    /// Against yesterday at this time (`yesterday 10:45: 118, +7`), or empty.
    pub compare: String,
}

#[derive(Template)]
#[template(path = "kpi.html", config = "src/http/dashboard/askama.toml")]
struct KpiSection {
    kpis: Vec<Kpi>,
}

pub struct BarRow {
    pub id: String,
    pub label: String,
    /// The row's drill-down, and its andon class (`andon-red`, `andon-amber` or empty).
    pub href: String,
    pub andon: &'static str,
    pub cells: Vec<Cell>,
    /// 0–100; `None`: no bar.
    pub bar: Option<u32>,
    pub bar_text: String,
}

#[derive(Template)]
#[template(path = "bottlenecks.html", config = "src/http/dashboard/askama.toml")]
struct BottlenecksSection {
    rows: Vec<BarRow>,
    csv: String,
}

#[derive(Template)]
#[template(path = "workload.html", config = "src/http/dashboard/askama.toml")]
struct WorkloadSection {
    rows: Vec<BarRow>,
    csv: String,
}

pub struct HeatCell {
    pub team: String,
    /// The node's drill-down.
    pub href: String,
    pub wip: String,
    pub queued: String,
    /// Shade class 0–5 (0: empty).
    pub level: u8,
    pub title: String,
}

pub struct HeatLine {
    pub node_id: i64,
    pub label: String,
    pub href: String,
    pub andon: &'static str,
    pub cells: Vec<HeatCell>,
    pub total: String,
}

pub struct HeatTable {
    pub graph: String,
    pub graph_id: String,
    pub teams: Vec<(String, String)>,
    pub rows: Vec<HeatLine>,
}

#[derive(Template)]
#[template(path = "heatmap.html", config = "src/http/dashboard/askama.toml")]
struct HeatmapSection {
    maps: Vec<HeatTable>,
    csv: String,
}

pub struct Line {
    pub id: String,
    pub label: String,
    pub cells: Vec<Cell>,
}

#[derive(Template)]
#[template(path = "cycle.html", config = "src/http/dashboard/askama.toml")]
struct CycleSection {
    period: String,
    rows: Vec<Line>,
    csv: String,
}

pub struct Chart {
    pub id: &'static str,
    pub title: &'static str,
    pub svg: String,
}

pub struct Legend {
    pub name: String,
    pub color: usize,
}

pub struct TrendLine {
    pub kind: String,
    pub day: String,
    pub cells: Vec<Cell>,
}

#[derive(Template)]
#[template(path = "trends.html", config = "src/http/dashboard/askama.toml")]
struct TrendsSection {
    csv: String,
    charts: Vec<Chart>,
    legend: Vec<Legend>,
    compare: Vec<Line>,
    table: Vec<TrendLine>,
}

#[derive(Template)]
#[template(path = "sparkline.html", config = "src/http/dashboard/askama.toml")]
struct SparklineSection {
    csv: String,
    svg: String,
    rows: Vec<(String, String, String)>,
    hours: String,
}

/// The live sections, by element id, in page order.
pub const SECTIONS: [&str; 9] = [
    "status",
    "alerts",
    "kpi",
    "bottlenecks",
    "workload",
    "heatmap",
    "cycle",
    "sparkline",
    "trends",
];

/// Every section's HTML, in [`SECTIONS`] order.
pub fn sections(d: &Dashboard) -> Vec<(&'static str, String)> {
    SECTIONS
        .iter()
        .map(|id| (*id, section(d, id).unwrap_or_else(|e| render_error(&e))))
        .collect()
}

fn render_error(e: &askama::Error) -> String {
    format!(
        "<p class=\"error\">This section could not be drawn: {}</p>",
        escape(&e.to_string())
    )
}

/// Minimal HTML escaping for text put together outside a template.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn section(d: &Dashboard, id: &str) -> askama::Result<String> {
    let csv = |table: &str| super::floor::csv_href(&d.code, table);
    match id {
        "alerts" => super::floor::alerts_section(d),
        "status" => StatusSection {
            notices: &d.notices,
        }
        .render(),
        "kpi" => KpiSection { kpis: kpis(d) }.render(),
        "bottlenecks" => BottlenecksSection {
            rows: d
                .bottlenecks
                .iter()
                .map(|b| BarRow {
                    id: b.row.node_id.to_string(),
                    label: b.label.clone(),
                    href: super::floor::node_href(&d.code, b.row.node_id),
                    andon: d.marks.node_class(b.row.node_id),
                    cells: vec![
                        linked(
                            "queue_depth",
                            int(b.row.queue_depth),
                            &super::floor::node_href(&d.code, b.row.node_id),
                        ),
                        num("avg_wait_minutes", opt_dec(b.row.avg_wait_minutes)),
                        num("bottleneck_score", dec(b.row.bottleneck_score)),
                    ],
                    bar: Some(b.bar),
                    bar_text: dec(b.row.bottleneck_score),
                })
                .collect(),
            csv: csv("bottlenecks"),
        }
        .render(),
        "workload" => WorkloadSection {
            rows: d
                .workload
                .iter()
                .map(|w| BarRow {
                    id: w.row.team_id.to_string(),
                    label: w.label.clone(),
                    href: super::floor::team_href(&d.code, w.row.team_id),
                    andon: d.marks.team_class(w.row.team_id),
                    cells: vec![
                        label(
                            "team_category",
                            w.row.team_category.clone().unwrap_or_else(|| "—".into()),
                        ),
                        linked(
                            "active_tokens",
                            int(w.row.active_tokens),
                            &super::floor::team_href(&d.code, w.row.team_id),
                        ),
                        linked(
                            "waiting_tokens",
                            int(w.row.waiting_tokens),
                            &super::floor::team_href(&d.code, w.row.team_id),
                        ),
                        num("avg_load", opt_dec(w.row.avg_load)),
                    ],
                    bar: w.row.avg_load.map(|l| (l.0.clamp(0, 10_000) / 100) as u32),
                    bar_text: w
                        .row
                        .avg_load
                        .map_or_else(|| "no capacity".into(), |l| format!("{}%", dec(l))),
                })
                .collect(),
            csv: csv("workload"),
        }
        .render(),
        "heatmap" => HeatmapSection {
            maps: d
                .heatmaps
                .iter()
                .map(|h| HeatTable {
                    graph: h.graph.clone(),
                    graph_id: h.graph_id.map_or_else(|| "none".into(), |g| g.to_string()),
                    teams: h
                        .teams
                        .iter()
                        .zip(&h.team_labels)
                        .map(|(t, l)| {
                            (
                                t.map_or_else(|| "none".into(), |t| t.to_string()),
                                l.clone(),
                            )
                        })
                        .collect(),
                    rows: h
                        .rows
                        .iter()
                        .map(|r| HeatLine {
                            node_id: r.node_id,
                            label: r.label.clone(),
                            href: super::floor::node_href(&d.code, r.node_id),
                            andon: d.marks.node_class(r.node_id),
                            total: int(r.total),
                            cells: r
                                .cells
                                .iter()
                                .zip(&h.teams)
                                .zip(&h.team_labels)
                                .map(|((c, t), tl)| {
                                    let (wip, queued) = c.unwrap_or((0, 0));
                                    HeatCell {
                                        team: t.map_or_else(|| "none".into(), |t| t.to_string()),
                                        href: super::floor::node_href(&d.code, r.node_id),
                                        wip: if c.is_some() { int(wip) } else { String::new() },
                                        queued: int(queued),
                                        level: shade(wip, h.max_wip),
                                        title: format!(
                                            "{} × {tl}: WIP {}, queued {}",
                                            r.label,
                                            int(wip),
                                            int(queued)
                                        ),
                                    }
                                })
                                .collect(),
                        })
                        .collect(),
                })
                .collect(),
            csv: csv("summary"),
        }
        .render(),
        "cycle" => CycleSection {
            csv: csv("cycle_time"),
            period: d.cycle.period.map_or_else(
                || "no completed work in the last 7 days".into(),
                |(a, b)| format!("{a} to {b}"),
            ),
            rows: d
                .cycle
                .nodes
                .iter()
                .map(|(r, l)| Line {
                    id: r.node_id.to_string(),
                    label: l.clone(),
                    cells: vec![
                        num("p50_minutes", opt_dec(r.p50_minutes)),
                        num("p95_minutes", opt_dec(r.p95_minutes)),
                        num("avg_minutes", opt_dec(r.avg_minutes)),
                        num("token_count", int(r.token_count)),
                    ],
                })
                .collect(),
        }
        .render(),
        "sparkline" => SparklineSection {
            csv: csv("history"),
            svg: charts::sparkline(&d.history),
            rows: d
                .history
                .iter()
                .rev()
                .map(|p| (p.at.format("%H:%M").to_string(), int(p.wip), int(p.queued)))
                .collect(),
            hours: match d.history.len() {
                0 => "no snapshot instant yet".into(),
                n => format!("the last {} one-minute instants", n),
            },
        }
        .render(),
        "trends" => trends(d).render(),
        _ => Ok(String::new()),
    }
}

/// 0 for no WIP, else 1–5 by the share of the graph's largest cell.
fn shade(wip: i64, max: i64) -> u8 {
    if wip <= 0 || max <= 0 {
        return 0;
    }
    (1 + (wip * 4) / max).clamp(1, 5) as u8
}

fn kpis(d: &Dashboard) -> Vec<Kpi> {
    let k = &d.kpi;
    let compare = |now: i64, then: Option<(chrono::NaiveDateTime, i64)>| {
        then.map_or_else(String::new, |(at, v)| {
            super::floor::against_yesterday(at, v, now)
        })
    };
    let y = k.yesterday;
    let freshness = match (k.phase, k.lag_secs) {
        (crate::live::status::Phase::Streaming, 0) => "caught up".to_string(),
        (crate::live::status::Phase::Streaming, lag) => format!("{} behind", duration(lag)),
        (phase, _) => phase.label().to_string(),
    };
    vec![
        Kpi {
            key: "wip",
            title: "WIP",
            value: int(k.wip),
            unit: "tokens",
            note: "live tokens at a node".into(),
            compare: compare(k.wip, y.map(|y| (y.at, y.wip))),
        },
        Kpi {
            key: "queued",
            title: "Queued",
            value: int(k.queued),
            unit: "tokens",
            note: "ready or waiting".into(),
            compare: String::new(),
        },
        Kpi {
            key: "in_work",
            title: "In work",
            value: int(k.in_work),
            unit: "tokens",
            note: "active or paused".into(),
            compare: String::new(),
        },
        Kpi {
            key: "completed_today",
            title: "Completed today",
            value: int(k.completed_today),
            unit: "assignments",
            note: format!("since 00:00 {}", d.timezone),
            compare: compare(k.completed_today, y.map(|y| (y.at, y.completed))),
        },
        Kpi {
            key: "throughput_7d",
            title: "Throughput",
            value: dec(k.throughput_7d),
            unit: "tokens/day",
            note: "mean of the last 7 days".into(),
            compare: String::new(),
        },
        Kpi {
            key: "lead_time_7d",
            title: "Lead time",
            value: opt_dec(k.lead_time_7d_hours),
            unit: "hours",
            note: "average, last 7 days".into(),
            compare: String::new(),
        },
        Kpi {
            key: "freshness",
            title: "Data freshness",
            value: freshness,
            unit: "",
            note: format!("binlog lag {} s", k.lag_secs),
            compare: String::new(),
        },
        Kpi {
            key: "last_snapshot",
            title: "Last snapshot written",
            value: k
                .last_snapshot
                .map_or_else(|| "none yet".into(), |t| t.format("%H:%M").to_string()),
            unit: "",
            note: k.last_snapshot.map_or_else(
                || "to the mv_ tables".into(),
                |t| t.format("%Y-%m-%d").to_string(),
            ),
            compare: String::new(),
        },
    ]
}

fn trends(d: &Dashboard) -> TrendsSection {
    let t = &d.trends;
    let charts = TrendFigure::ALL
        .iter()
        .map(|f| Chart {
            id: f.id(),
            title: f.title(),
            svg: charts::trend_chart(t, *f),
        })
        .collect();
    let legend = t
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| Legend {
            name: s.name.clone(),
            color: i % PALETTE.len(),
        })
        .collect();
    let compare = t
        .compare
        .iter()
        .map(|c| Line {
            id: c.name.clone(),
            label: c.name.clone(),
            cells: vec![
                num("completed_7", int(c.completed_7)),
                num("throughput_7", dec(c.throughput_7)),
                num("lead_7", opt_dec(c.lead_7)),
                num("completed_30", int(c.completed_30)),
                num("throughput_30", dec(c.throughput_30)),
                num("lead_30", opt_dec(c.lead_30)),
            ],
        })
        .collect();
    let mut table = Vec::new();
    for (i, day) in t.days.iter().enumerate().rev() {
        for s in &t.series {
            if s.spawned[i] == 0 && s.completed[i] == 0 && s.throughput[i].is_none() {
                continue;
            }
            table.push(TrendLine {
                kind: s.name.clone(),
                day: day.to_string(),
                cells: vec![
                    num("tokens_spawned", int(s.spawned[i])),
                    num("tokens_completed", int(s.completed[i])),
                    num("throughput_per_day", opt_dec(s.throughput[i])),
                    num("avg_lead_time_hours", opt_dec(s.lead_hours[i])),
                ],
            });
        }
    }
    TrendsSection {
        csv: super::floor::csv_href(&d.code, "trends"),
        charts,
        legend,
        compare,
        table,
    }
}

// ----------------------------------------------------------------------------------------
// Pages
// ----------------------------------------------------------------------------------------

/// What the header shows about who is logged in.
pub struct Viewer {
    /// The access entry, when access control is on.
    pub entry: Option<String>,
    /// Which flowtally instance serves the page, and its role (`host#7 · leader`).
    pub instance: String,
}

#[derive(Template)]
#[template(path = "dashboard.html", config = "src/http/dashboard/askama.toml")]
struct DashboardPage<'a> {
    code: &'a str,
    at: String,
    timezone: &'a str,
    events: String,
    probe: String,
    sections: Vec<(&'static str, String)>,
    viewer: &'a Viewer,
    assets: &'a str,
}

pub fn dashboard_page(d: &Dashboard, viewer: &Viewer, assets: &str) -> askama::Result<String> {
    DashboardPage {
        code: &d.code,
        at: time(d.at),
        timezone: &d.timezone,
        events: format!("/tenants/{}/events", url_segment(&d.code)),
        probe: format!("/api/v1/tenants/{}", url_segment(&d.code)),
        sections: sections(d),
        viewer,
        assets,
    }
    .render()
}

/// One row of the tenant list.
pub struct TenantLine {
    pub code: String,
    pub href: String,
    pub state: &'static str,
    pub state_text: String,
    pub wip: String,
    pub last_snapshot: String,
}

#[derive(Template)]
#[template(path = "tenant_rows.html", config = "src/http/dashboard/askama.toml")]
struct TenantRows<'a> {
    tenants: &'a [TenantLine],
}

#[derive(Template)]
#[template(path = "index.html", config = "src/http/dashboard/askama.toml")]
struct IndexPage<'a> {
    rows: String,
    service: String,
    service_level: &'static str,
    viewer: &'a Viewer,
    assets: &'a str,
}

pub fn tenant_rows(tenants: &[TenantLine]) -> askama::Result<String> {
    TenantRows { tenants }.render()
}

pub fn index_page(
    tenants: &[TenantLine],
    service: (Level, String),
    viewer: &Viewer,
    assets: &str,
) -> askama::Result<String> {
    IndexPage {
        rows: tenant_rows(tenants)?,
        service: service.1,
        service_level: service.0.class(),
        viewer,
        assets,
    }
    .render()
}

#[derive(Template)]
#[template(path = "login.html", config = "src/http/dashboard/askama.toml")]
struct LoginPage<'a> {
    next: &'a str,
    error: Option<&'a str>,
    assets: &'a str,
}

pub fn login_page(next: &str, error: Option<&str>, assets: &str) -> askama::Result<String> {
    LoginPage {
        next,
        error,
        assets,
    }
    .render()
}

#[derive(Template)]
#[template(path = "message.html", config = "src/http/dashboard/askama.toml")]
struct MessagePage<'a> {
    title: &'a str,
    text: &'a str,
    assets: &'a str,
}

/// A page that only says something (403, 404, loading).
pub fn message_page(title: &str, text: &str, assets: &str) -> String {
    MessagePage {
        title,
        text,
        assets,
    }
    .render()
    .unwrap_or_else(|_| escape(text))
}

/// A tenant code as one URL path segment.
pub fn url_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_the_same_everywhere() {
        assert_eq!(int(0), "0");
        assert_eq!(int(999), "999");
        assert_eq!(int(1000), "1,000");
        assert_eq!(int(-1234567), "-1,234,567");
        assert_eq!(dec(Dec2(123456)), "1,234.56");
        assert_eq!(dec(Dec2(-5)), "-0.05");
        assert_eq!(dec(Dec2(-123456)), "-1,234.56");
        assert_eq!(opt_dec(None), "—");
        assert_eq!(duration(3725), "1 h 2 min");
        assert_eq!(url_segment("A B/é"), "A%20B%2F%C3%A9");
    }
}
