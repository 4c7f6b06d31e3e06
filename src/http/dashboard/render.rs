//! HTML from the [`Dashboard`] model: askama templates (`templates/`, compiled into the
//! binary), one per page and one per live section, in the viewer's language ([`Tr`]). A
//! section renders alone, so that a live update sends only the sections whose HTML changed;
//! the page is its sections in a layout.
//!
//! Every figure is formatted here, once ([`int`], [`dec`], and [`Tr`]'s durations and dates),
//! so the page and its tests agree on how a number reads. Cells carry `data-col` (the view's
//! column name), and `data-value` (the view's own number) where the text is a duration; rows
//! carry their ids (`data-node`, `data-team` ...), so the browser test can read the DOM back as
//! rows. Names that come from the ERP (stations, teams, categories, codes) are marked
//! `translate="no"`: they are data, not words of the page.

use askama::Template;
use chrono::NaiveDateTime;

use super::charts::{self, TrendFigure, PALETTE};
use super::i18n::Tr;
use super::model::{Dashboard, Notice};
use super::prefs::Prefs;
use crate::live::status::{Phase, Role};
use crate::model::decimal::Dec2;

/// `1234567` → `1,234,567` (Thai writes numbers alike).
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

/// The view's own number, for `data-value` (empty for NULL).
fn raw(v: Option<Dec2>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

/// The instant as the API writes it (`data-at`).
pub fn time(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// One cell: its column name, its text.
pub struct Cell {
    pub col: &'static str,
    pub text: String,
    /// The view's number behind a text that is not a number (a duration); empty otherwise.
    pub value: String,
    /// Right-aligned (numbers).
    pub num: bool,
    /// ERP data (a name), not a word of the page.
    pub data: bool,
    /// The drill-down this figure opens, if any.
    pub href: Option<String>,
}

fn num(col: &'static str, text: String) -> Cell {
    Cell {
        col,
        text,
        value: String::new(),
        num: true,
        data: false,
        href: None,
    }
}

/// A number that opens its drill-down.
fn linked(col: &'static str, text: String, href: &str) -> Cell {
    Cell {
        href: Some(href.to_string()),
        ..num(col, text)
    }
}

/// A duration cell: the text as people say it, the view's minutes or hours in `data-value`.
fn span(col: &'static str, text: String, value: Option<Dec2>) -> Cell {
    Cell {
        col,
        text,
        value: raw(value),
        num: true,
        data: false,
        href: None,
    }
}

fn name(col: &'static str, text: String) -> Cell {
    Cell {
        col,
        text,
        value: String::new(),
        num: false,
        data: true,
        href: None,
    }
}

/// A production type as the page says it: the two the ERP knows in the page's language, the
/// others as the ERP names them.
pub fn type_label(name: &str, t: &Tr) -> (String, bool) {
    match name {
        "hatthasilpa" => (t.s("ptype-hatthasilpa"), false),
        "classic" => (t.s("ptype-classic"), false),
        "unspecified" => (t.s("ptype-unspecified"), false),
        other => (other.to_string(), true),
    }
}

// ----------------------------------------------------------------------------------------
// Sections
// ----------------------------------------------------------------------------------------

/// A banner line, worded.
pub struct NoticeLine {
    pub level: &'static str,
    pub kind: &'static str,
    pub text: String,
    /// The service's own words about the cause (English), or empty.
    pub detail: String,
}

#[derive(Template)]
#[template(path = "status.html", config = "src/http/dashboard/askama.toml")]
struct StatusSection {
    t: Tr,
    notices: Vec<NoticeLine>,
}

/// A notice in the page's language; `code` is the tenant's.
pub fn notice_line(n: &Notice, code: &str, t: &Tr) -> NoticeLine {
    let text = match n.kind {
        "tenant_problem" => t.f("notice-tenant-problem", &[("code", code.into())]),
        "sink_failing" => t.f(
            "notice-sink-failing",
            &[("code", code.into()), ("attempts", n.figure.into())],
        ),
        "lagging" if n.figure >= 0 => {
            t.f("notice-lagging", &[("lag", t.duration(n.figure).into())])
        }
        "lagging" => t.s("notice-lagging-unknown"),
        "reconnecting" => t.s("notice-reconnecting"),
        "connecting" => t.s("notice-connecting"),
        "recomputing" => t.f("notice-recomputing", &[("rows", int(n.figure).into())]),
        _ => String::new(),
    };
    NoticeLine {
        level: n.level.class(),
        kind: n.kind,
        text,
        detail: n.detail.clone(),
    }
}

pub struct Kpi {
    pub key: &'static str,
    pub title: String,
    /// The figure as it reads (`8 h 20 min`), its numbers in `<b class="n">` (drawn larger
    /// than the words between them), escaped.
    pub value: String,
    /// The figure as a plain number (`data-value`), whatever the text says.
    pub raw: String,
    pub unit: String,
    pub note: String,
    /// Against yesterday at this time (`yesterday 10:45: 118 (+7)`), or empty; and yesterday's
    /// figure (`data-compare`).
    pub compare: String,
    pub compare_raw: String,
}

#[derive(Template)]
#[template(path = "kpi.html", config = "src/http/dashboard/askama.toml")]
struct KpiSection {
    t: Tr,
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
    t: Tr,
    /// The CSV of the section's table.
    csv: String,
    rows: Vec<BarRow>,
}

#[derive(Template)]
#[template(path = "workload.html", config = "src/http/dashboard/askama.toml")]
struct WorkloadSection {
    t: Tr,
    /// The CSV of the section's table.
    csv: String,
    rows: Vec<BarRow>,
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
    /// The caption is the graph's name from the ERP (not a word of the page).
    pub graph_data: bool,
    pub graph_id: String,
    /// Per column: the team's id (`none`), its label, whether the label is ERP data.
    pub teams: Vec<(String, String, bool)>,
    pub rows: Vec<HeatLine>,
}

#[derive(Template)]
#[template(path = "heatmap.html", config = "src/http/dashboard/askama.toml")]
struct HeatmapSection {
    t: Tr,
    /// The CSV of the section's table.
    csv: String,
    maps: Vec<HeatTable>,
}

pub struct Line {
    pub id: String,
    pub label: String,
    /// The label is ERP data (a name), not a word of the page.
    pub data: bool,
    pub cells: Vec<Cell>,
}

#[derive(Template)]
#[template(path = "cycle.html", config = "src/http/dashboard/askama.toml")]
struct CycleSection {
    t: Tr,
    /// The CSV of the section's table.
    csv: String,
    period: String,
    rows: Vec<Line>,
}

pub struct Chart {
    pub id: &'static str,
    pub title: String,
    pub svg: String,
}

pub struct Legend {
    pub name: String,
    pub data: bool,
    pub color: usize,
}

pub struct TrendLine {
    pub kind: String,
    pub kind_text: String,
    pub data: bool,
    pub day: String,
    pub day_text: String,
    pub cells: Vec<Cell>,
}

#[derive(Template)]
#[template(path = "trends.html", config = "src/http/dashboard/askama.toml")]
struct TrendsSection {
    t: Tr,
    /// The CSV of the section's table.
    csv: String,
    charts: Vec<Chart>,
    legend: Vec<Legend>,
    compare: Vec<Line>,
    table: Vec<TrendLine>,
}

#[derive(Template)]
#[template(path = "sparkline.html", config = "src/http/dashboard/askama.toml")]
struct SparklineSection {
    t: Tr,
    /// The CSV of the section's table.
    csv: String,
    svg: String,
    rows: Vec<(String, String, String)>,
    hours: String,
}

#[derive(Template)]
#[template(path = "eng.html", config = "src/http/dashboard/askama.toml")]
struct EngSection {
    t: Tr,
    at: String,
    at_text: String,
    timezone: String,
    freshness: String,
    lag_secs: i64,
    last_snapshot: String,
    instance: String,
    role: String,
    api: String,
}

/// The live sections, by element id, in page order. `alerts` is the andon list (what needs a
/// person); `eng` is the engineers' footer: the instant, the delay, the last snapshot saved,
/// the instance.
pub const SECTIONS: [&str; 10] = [
    "status",
    "kpi",
    "alerts",
    "bottlenecks",
    "workload",
    "heatmap",
    "cycle",
    "sparkline",
    "trends",
    "eng",
];

/// The sections that take turns in the third panel of the wall screen (15 s each).
pub const ROTATING: [&str; 4] = ["heatmap", "cycle", "trends", "sparkline"];

/// Every section's HTML in language `t`, in [`SECTIONS`] order.
pub fn sections(d: &Dashboard, t: &Tr) -> Vec<(&'static str, String)> {
    SECTIONS
        .iter()
        .map(|id| {
            (
                *id,
                section(d, id, t).unwrap_or_else(|e| render_error(&e, t)),
            )
        })
        .collect()
}

fn render_error(e: &askama::Error, t: &Tr) -> String {
    format!(
        "<p class=\"error\">{} <span lang=\"en\">{}</span></p>",
        escape(&t.s("section-error")),
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

/// The status section alone (a tenant that is loading or gone has only this).
pub fn status_section(notices: Vec<NoticeLine>, t: &Tr) -> String {
    StatusSection { t: *t, notices }
        .render()
        .unwrap_or_else(|e| render_error(&e, t))
}

fn section(d: &Dashboard, id: &str, t: &Tr) -> askama::Result<String> {
    let t = *t;
    let csv = |table: &str| super::floor::csv_href(&d.code, table, t.lang());
    let node_href = |id: i64| super::floor::node_href(&d.code, id);
    let team_href = |id: i64| super::floor::team_href(&d.code, id);
    match id {
        "alerts" => super::floor::alerts_section(d, &t),
        "status" => StatusSection {
            t,
            notices: d
                .notices
                .iter()
                .map(|n| notice_line(n, &d.code, &t))
                .collect(),
        }
        .render(),
        "kpi" => KpiSection {
            t,
            kpis: kpis(d, &t),
        }
        .render(),
        "bottlenecks" => BottlenecksSection {
            t,
            rows: d
                .bottlenecks
                .iter()
                .map(|b| BarRow {
                    id: b.row.node_id.to_string(),
                    label: b.label.clone(),
                    href: node_href(b.row.node_id),
                    andon: d.marks.node_class(b.row.node_id),
                    cells: vec![
                        linked(
                            "queue_depth",
                            int(b.row.queue_depth),
                            &node_href(b.row.node_id),
                        ),
                        span(
                            "avg_wait_minutes",
                            t.minutes(b.row.avg_wait_minutes),
                            b.row.avg_wait_minutes,
                        ),
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
            t,
            rows: d
                .workload
                .iter()
                .map(|w| BarRow {
                    id: w.row.team_id.to_string(),
                    label: w.label.clone(),
                    href: team_href(w.row.team_id),
                    andon: d.marks.team_class(w.row.team_id),
                    cells: vec![
                        name(
                            "team_category",
                            w.row.team_category.clone().unwrap_or_else(|| "—".into()),
                        ),
                        linked(
                            "active_tokens",
                            int(w.row.active_tokens),
                            &team_href(w.row.team_id),
                        ),
                        linked(
                            "waiting_tokens",
                            int(w.row.waiting_tokens),
                            &team_href(w.row.team_id),
                        ),
                        num("avg_load", opt_dec(w.row.avg_load)),
                    ],
                    bar: w.row.avg_load.map(|l| (l.0.clamp(0, 10_000) / 100) as u32),
                    bar_text: w
                        .row
                        .avg_load
                        .map_or_else(|| t.s("workload-no-capacity"), |l| format!("{}%", dec(l))),
                })
                .collect(),
            csv: csv("workload"),
        }
        .render(),
        "heatmap" => HeatmapSection {
            t,
            maps: d
                .heatmaps
                .iter()
                .map(|h| {
                    // "No team" in the page's words; a team's name as the ERP has it.
                    let team_label = |team: &Option<i64>, label: &String| match team {
                        None => (t.s("team-none"), false),
                        Some(_) => (label.clone(), true),
                    };
                    // The graph's name from the ERP (routing_graph.name), else its number.
                    let named = h.graph.as_ref().filter(|n| !n.is_empty());
                    HeatTable {
                        graph: match (named, h.graph_id) {
                            (Some(name), _) => name.clone(),
                            (None, Some(g)) => {
                                t.f("heatmap-graph", &[("id", g.to_string().into())])
                            }
                            (None, None) => t.s("heatmap-no-graph"),
                        },
                        graph_data: named.is_some(),
                        graph_id: h.graph_id.map_or_else(|| "none".into(), |g| g.to_string()),
                        teams: h
                            .teams
                            .iter()
                            .zip(&h.team_labels)
                            .map(|(id, l)| {
                                let (label, data) = team_label(id, l);
                                (
                                    id.map_or_else(|| "none".into(), |t| t.to_string()),
                                    label,
                                    data,
                                )
                            })
                            .collect(),
                        rows: h
                            .rows
                            .iter()
                            .map(|r| HeatLine {
                                node_id: r.node_id,
                                label: r.label.clone(),
                                href: node_href(r.node_id),
                                andon: d.marks.node_class(r.node_id),
                                total: int(r.total),
                                cells: r
                                    .cells
                                    .iter()
                                    .zip(&h.teams)
                                    .map(|(c, team)| {
                                        let (wip, queued) = c.unwrap_or((0, 0));
                                        HeatCell {
                                            team: team
                                                .map_or_else(|| "none".into(), |t| t.to_string()),
                                            href: node_href(r.node_id),
                                            wip: if c.is_some() { int(wip) } else { String::new() },
                                            queued: int(queued),
                                            level: shade(wip, h.max_wip),
                                            // The row and column headers name the
                                            // station and the team.
                                            title: t.f(
                                                "heat-cell-title",
                                                &[
                                                    ("wip", int(wip).into()),
                                                    ("queued", int(queued).into()),
                                                ],
                                            ),
                                        }
                                    })
                                    .collect(),
                            })
                            .collect(),
                    }
                })
                .collect(),
            csv: csv("summary"),
        }
        .render(),
        "cycle" => CycleSection {
            t,
            csv: csv("cycle_time"),
            period: d.cycle.period.map_or_else(
                || t.s("cycle-period-none"),
                |(a, b)| {
                    t.f(
                        "cycle-period",
                        &[("from", t.date(a).into()), ("to", t.date(b).into())],
                    )
                },
            ),
            rows: d
                .cycle
                .nodes
                .iter()
                .map(|(r, l)| Line {
                    id: r.node_id.to_string(),
                    label: l.clone(),
                    data: true,
                    cells: vec![
                        span("p50_minutes", t.minutes(r.p50_minutes), r.p50_minutes),
                        span("p95_minutes", t.minutes(r.p95_minutes), r.p95_minutes),
                        span("avg_minutes", t.minutes(r.avg_minutes), r.avg_minutes),
                        num("token_count", int(r.token_count)),
                    ],
                })
                .collect(),
        }
        .render(),
        "sparkline" => SparklineSection {
            t,
            csv: csv("history"),
            svg: charts::sparkline(&d.history),
            rows: d
                .history
                .iter()
                .rev()
                .map(|p| (p.at.format("%H:%M").to_string(), int(p.wip), int(p.queued)))
                .collect(),
            hours: match d.history.len() {
                0 => t.s("spark-sub-none"),
                n => t.f("spark-sub", &[("n", int(n as i64).into())]),
            },
        }
        .render(),
        "trends" => trends(d, &t).render(),
        "eng" => eng(d, &t).render(),
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

/// The figures for the floor: pieces in progress, waiting and in work, assignments completed
/// today, pieces finished a day, lead time. (The service's own figures are in [`eng`].)
fn kpis(d: &Dashboard, t: &Tr) -> Vec<Kpi> {
    let k = &d.kpi;
    let count = |key, title: &str, v: i64, unit: &str, note: &str| Kpi {
        key,
        title: t.s(title),
        value: numbers_large(&int(v)),
        raw: v.to_string(),
        unit: t.s(unit),
        note: t.s(note),
        compare: String::new(),
        compare_raw: String::new(),
    };
    // WIP and completions against the same figures yesterday at this time, when kept.
    let against = |kpi: Kpi, now: i64, then: Option<(NaiveDateTime, i64)>| match then {
        Some((at, then)) => Kpi {
            compare: super::floor::against_yesterday(at, then, now, t),
            compare_raw: then.to_string(),
            ..kpi
        },
        None => kpi,
    };
    let y = k.yesterday;
    vec![
        against(
            count("wip", "kpi-wip-title", k.wip, "unit-pieces", "kpi-wip-note"),
            k.wip,
            y.map(|y| (y.at, y.wip)),
        ),
        count(
            "queued",
            "kpi-queued-title",
            k.queued,
            "unit-pieces",
            "kpi-queued-note",
        ),
        count(
            "in_work",
            "kpi-in-work-title",
            k.in_work,
            "unit-pieces",
            "kpi-in-work-note",
        ),
        against(
            count(
                "completed_today",
                "kpi-completed-title",
                k.completed_today,
                "unit-assignments",
                "kpi-completed-note",
            ),
            k.completed_today,
            y.map(|y| (y.at, y.completed)),
        ),
        Kpi {
            key: "throughput_7d",
            title: t.s("kpi-throughput-title"),
            value: numbers_large(&dec(k.throughput_7d)),
            raw: k.throughput_7d.to_string(),
            unit: t.s("unit-pieces-per-day"),
            note: t.s("kpi-throughput-note"),
            compare: String::new(),
            compare_raw: String::new(),
        },
        Kpi {
            key: "lead_time_7d",
            title: t.s("kpi-lead-title"),
            value: numbers_large(&t.hours(k.lead_time_7d_hours)),
            raw: raw(k.lead_time_7d_hours),
            unit: String::new(),
            note: t.s("kpi-lead-note"),
            compare: String::new(),
            compare_raw: String::new(),
        },
    ]
}

/// `text`, escaped, with each number (`1,234.50`) in `<b class="n">`: a key figure's numbers
/// are drawn large and its words (`ชม.`, `min`) small.
pub fn numbers_large(text: &str) -> String {
    let mut out = String::new();
    let mut number = String::new();
    let flush = |out: &mut String, number: &mut String| {
        if !number.is_empty() {
            out.push_str(&format!("<b class=\"n\">{}</b>", escape(number)));
            number.clear();
        }
    };
    for c in text.chars() {
        if c.is_ascii_digit() || (!number.is_empty() && (c == ',' || c == '.')) {
            number.push(c);
        } else {
            flush(&mut out, &mut number);
            out.push_str(&escape(&c.to_string()));
        }
    }
    flush(&mut out, &mut number);
    out
}

/// The footer for the engineers: the instant, the delay behind the ERP, the last snapshot
/// saved to the mv_ tables, the instance and its role.
fn eng(d: &Dashboard, t: &Tr) -> EngSection {
    let k = &d.kpi;
    let freshness = match (k.phase, k.lag_secs) {
        (Phase::Streaming, 0) => t.s("eng-caught-up"),
        (Phase::Streaming, lag) => t.f("eng-behind", &[("lag", t.duration(lag).into())]),
        (Phase::Connecting, _) => t.s("phase-connecting"),
        (Phase::Recomputing, _) => t.s("phase-recomputing"),
        (Phase::Reconnecting, _) => t.s("phase-reconnecting"),
    };
    EngSection {
        t: *t,
        at: time(d.at),
        at_text: t.date_time(d.at),
        timezone: d.timezone.clone(),
        freshness,
        lag_secs: k.lag_secs,
        last_snapshot: k
            .last_snapshot
            .map_or_else(|| t.s("eng-none-yet"), |s| t.date_time(s)),
        instance: d.instance.clone(),
        role: t.s(match d.role {
            Role::Single => "role-single",
            Role::Leader => "role-leader",
            Role::Standby => "role-standby",
        }),
        api: format!("/api/v1/tenants/{}/…", url_segment(&d.code)),
    }
}

fn trends(d: &Dashboard, t: &Tr) -> TrendsSection {
    let tr = &d.trends;
    let charts = TrendFigure::ALL
        .iter()
        .map(|f| Chart {
            id: f.id(),
            title: t.s(f.title_id()),
            svg: charts::trend_chart(tr, *f, t),
        })
        .collect();
    let legend = tr
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (name, data) = type_label(&s.name, t);
            Legend {
                name,
                data,
                color: i % PALETTE.len(),
            }
        })
        .collect();
    let compare = tr
        .compare
        .iter()
        .map(|c| {
            let (label, data) = type_label(&c.name, t);
            Line {
                id: c.name.clone(),
                label,
                data,
                cells: vec![
                    num("completed_7", int(c.completed_7)),
                    num("throughput_7", dec(c.throughput_7)),
                    span("lead_7", t.hours(c.lead_7), c.lead_7),
                    num("completed_30", int(c.completed_30)),
                    num("throughput_30", dec(c.throughput_30)),
                    span("lead_30", t.hours(c.lead_30), c.lead_30),
                ],
            }
        })
        .collect();
    let mut table = Vec::new();
    for (i, day) in tr.days.iter().enumerate().rev() {
        for s in &tr.series {
            if s.spawned[i] == 0 && s.completed[i] == 0 && s.throughput[i].is_none() {
                continue;
            }
            let (kind_text, data) = type_label(&s.name, t);
            table.push(TrendLine {
                kind: s.name.clone(),
                kind_text,
                data,
                day: day.to_string(),
                day_text: t.date(*day),
                cells: vec![
                    num("tokens_spawned", int(s.spawned[i])),
                    num("tokens_completed", int(s.completed[i])),
                    num("throughput_per_day", opt_dec(s.throughput[i])),
                    span(
                        "avg_lead_time_hours",
                        t.hours(s.lead_hours[i]),
                        s.lead_hours[i],
                    ),
                ],
            });
        }
    }
    TrendsSection {
        t: *t,
        csv: super::floor::csv_href(&d.code, "trends", t.lang()),
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
}

#[derive(Template)]
#[template(path = "dashboard.html", config = "src/http/dashboard/askama.toml")]
struct DashboardPage<'a> {
    t: Tr,
    p: &'a Prefs,
    code: &'a str,
    at: String,
    events: String,
    probe: String,
    sections: Vec<(&'static str, String)>,
    /// The sections that take turns in one panel on the wall screen.
    rotating: &'static [&'static str],
    script: String,
    viewer: &'a Viewer,
    assets: &'a str,
}

pub fn dashboard_page(
    d: &Dashboard,
    p: &Prefs,
    viewer: &Viewer,
    assets: &str,
) -> askama::Result<String> {
    let t = p.t();
    DashboardPage {
        t,
        p,
        code: &d.code,
        at: time(d.at),
        events: format!(
            "/tenants/{}/events?lang={}",
            url_segment(&d.code),
            t.lang().code()
        ),
        probe: format!("/api/v1/tenants/{}", url_segment(&d.code)),
        sections: sections(d, &t),
        rotating: &ROTATING,
        script: t.script_messages(),
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
    /// A problem as the service words it (English), or empty.
    pub detail: String,
    pub wip: String,
    pub last_snapshot: String,
}

#[derive(Template)]
#[template(path = "tenant_rows.html", config = "src/http/dashboard/askama.toml")]
struct TenantRows<'a> {
    t: Tr,
    tenants: &'a [TenantLine],
}

#[derive(Template)]
#[template(path = "index.html", config = "src/http/dashboard/askama.toml")]
struct IndexPage<'a> {
    t: Tr,
    p: &'a Prefs,
    rows: String,
    service: NoticeLine,
    viewer: &'a Viewer,
    assets: &'a str,
}

pub fn tenant_rows(tenants: &[TenantLine], t: &Tr) -> askama::Result<String> {
    TenantRows { t: *t, tenants }.render()
}

pub fn index_page(
    tenants: &[TenantLine],
    service: NoticeLine,
    p: &Prefs,
    viewer: &Viewer,
    assets: &str,
) -> askama::Result<String> {
    let t = p.t();
    IndexPage {
        t,
        p,
        rows: tenant_rows(tenants, &t)?,
        service,
        viewer,
        assets,
    }
    .render()
}

#[derive(Template)]
#[template(path = "login.html", config = "src/http/dashboard/askama.toml")]
struct LoginPage<'a> {
    t: Tr,
    p: &'a Prefs,
    next: &'a str,
    error: bool,
    assets: &'a str,
}

/// The login form; `error`: the last attempt was not recognised.
pub fn login_page(next: &str, error: bool, p: &Prefs, assets: &str) -> askama::Result<String> {
    LoginPage {
        t: p.t(),
        p,
        next,
        error,
        assets,
    }
    .render()
}

#[derive(Template)]
#[template(path = "message.html", config = "src/http/dashboard/askama.toml")]
struct MessagePage<'a> {
    t: Tr,
    p: &'a Prefs,
    title: &'a str,
    text: &'a str,
    detail: &'a str,
    assets: &'a str,
}

/// A page that only says something (403, 404, loading): a title and a text in the viewer's
/// language, and the service's own words (`detail`, English) if any.
pub fn message_page(title: &str, text: &str, detail: &str, p: &Prefs, assets: &str) -> String {
    MessagePage {
        t: p.t(),
        p,
        title,
        text,
        detail,
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
        assert_eq!(numbers_large("1,234.50"), "<b class=\"n\">1,234.50</b>");
        assert_eq!(
            numbers_large("33 ชม. 21 นาที"),
            "<b class=\"n\">33</b> ชม. <b class=\"n\">21</b> นาที"
        );
        assert_eq!(numbers_large("<—>"), "&lt;—&gt;");
        assert_eq!(url_segment("A B/é"), "A%20B%2F%C3%A9");
    }
}
