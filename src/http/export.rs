//! CSV exports of the tenant page's tables and the API's rows (`?format=csv`), written with the
//! `csv` crate: UTF-8 with a byte order mark (so Excel opens Thai names as Thai), numbers as
//! the API gives them (a point for decimals, no thousands separator), instants as
//! `YYYY-MM-DD HH:MM:SS` in the factory's time zone (Gregorian: what a spreadsheet reads as a
//! date), names beside the ids.
//!
//! The header is the API's column names, stable for scripts; with `?lang=th|en` (the
//! dashboard's links add the page's), it is in words for people, and so are the values that
//! are words (levels, kinds, statuses, yes/no): see [`crate::http::dashboard::i18n::csv`].
//!
//! Each table is built here as a [`Table`] (pure: rows and names in, text out), under the
//! tenant's entry; the response is made after it is released.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDateTime;

use super::dashboard::i18n::{self, Lang, Tr};
use crate::live::slot::Totals;
use crate::model::andon::Alert;
use crate::model::clock::local_time;
use crate::model::decimal::Dec2;
use crate::model::dims::Dims;
use crate::model::floor::{NodeTokens, TeamOperators};
use crate::model::views::ViewRows;

/// UTF-8's byte order mark: Excel reads the file as UTF-8 only with it.
pub const BOM: &str = "\u{feff}";

/// A table: its name (for the file name), its header and its rows, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub name: String,
    /// The API's column names, or their words in a language ([`Table::in_lang`]).
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

fn cols(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn dec(v: Dec2) -> String {
    v.to_string()
}

fn opt_dec(v: Option<Dec2>) -> String {
    v.map(dec).unwrap_or_default()
}

fn time(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

fn node_names(dims: &Dims, id: i64) -> (String, String) {
    dims.nodes
        .get(&id)
        .map(|n| (opt(n.code.clone()), opt(n.name.clone())))
        .unwrap_or_default()
}

fn team_name(dims: &Dims, id: Option<i64>) -> String {
    id.and_then(|id| dims.teams.get(&id))
        .and_then(|t| t.name.clone())
        .unwrap_or_default()
}

fn graph_name(dims: &Dims, id: Option<i64>) -> String {
    id.and_then(|id| dims.graphs.get(&id))
        .and_then(|g| g.name.clone())
        .unwrap_or_default()
}

/// A view's rows, with the names of the ids they hold.
pub fn view(rows: &ViewRows, dims: &Dims) -> Table {
    let name = rows.view().short_name().to_string();
    match rows {
        ViewRows::Summary(rows) => Table {
            name,
            header: cols(&[
                "graph_id",
                "graph_name",
                "node_id",
                "node_code",
                "node_name",
                "team_id",
                "team_name",
                "wip_count",
                "waiting_count",
                "completed_count",
            ]),
            rows: rows
                .iter()
                .map(|r| {
                    let (code, node) = node_names(dims, r.node_id);
                    vec![
                        opt(r.graph_id),
                        graph_name(dims, r.graph_id),
                        r.node_id.to_string(),
                        code,
                        node,
                        opt(r.team_id),
                        team_name(dims, r.team_id),
                        r.wip_count.to_string(),
                        r.waiting_count.to_string(),
                        r.completed_count.to_string(),
                    ]
                })
                .collect(),
        },
        ViewRows::Bottlenecks(rows) => Table {
            name,
            header: cols(&[
                "node_id",
                "node_code",
                "node_name",
                "queue_depth",
                "avg_wait_minutes",
                "bottleneck_score",
                "wip_limit",
            ]),
            rows: rows
                .iter()
                .map(|r| {
                    vec![
                        r.node_id.to_string(),
                        opt(r.node_code.clone()),
                        opt(r.node_name.clone()),
                        r.queue_depth.to_string(),
                        opt_dec(r.avg_wait_minutes),
                        dec(r.bottleneck_score),
                        opt(dims.nodes.get(&r.node_id).and_then(|n| n.limit())),
                    ]
                })
                .collect(),
        },
        ViewRows::Workload(rows) => Table {
            name,
            header: cols(&[
                "team_id",
                "team_name",
                "team_category",
                "active_tokens",
                "waiting_tokens",
                "avg_load",
            ]),
            rows: rows
                .iter()
                .map(|r| {
                    vec![
                        r.team_id.to_string(),
                        opt(r.team_name.clone()),
                        opt(r.team_category.clone()),
                        r.active_tokens.to_string(),
                        r.waiting_tokens.to_string(),
                        opt_dec(r.avg_load),
                    ]
                })
                .collect(),
        },
        ViewRows::CycleTime(rows) => Table {
            name,
            header: cols(&[
                "node_id",
                "node_code",
                "node_name",
                "team_id",
                "team_name",
                "period_start",
                "period_end",
                "token_count",
                "avg_minutes",
                "p50_minutes",
                "p95_minutes",
            ]),
            rows: rows
                .iter()
                .map(|r| {
                    let (code, node) = node_names(dims, r.node_id);
                    vec![
                        r.node_id.to_string(),
                        code,
                        node,
                        opt(r.team_id),
                        team_name(dims, r.team_id),
                        r.period_start.to_string(),
                        r.period_end.to_string(),
                        r.token_count.to_string(),
                        opt_dec(r.avg_minutes),
                        opt_dec(r.p50_minutes),
                        opt_dec(r.p95_minutes),
                    ]
                })
                .collect(),
        },
        ViewRows::Trends(rows) => Table {
            name,
            header: cols(&[
                "period_date",
                "production_type",
                "graph_id",
                "graph_name",
                "tokens_spawned",
                "tokens_completed",
                "avg_lead_time_hours",
                "throughput_per_day",
            ]),
            rows: rows
                .iter()
                .map(|r| {
                    vec![
                        r.period_date.to_string(),
                        opt(r.production_type.clone()),
                        opt(r.graph_id),
                        graph_name(dims, r.graph_id),
                        r.tokens_spawned.to_string(),
                        r.tokens_completed.to_string(),
                        opt_dec(r.avg_lead_time_hours),
                        dec(r.throughput_per_day),
                    ]
                })
                .collect(),
        },
    }
}

/// The alert list.
pub fn alerts(alerts: &[Alert]) -> Table {
    Table {
        name: "alerts".into(),
        header: cols(&[
            "level",
            "kind",
            "subject_type",
            "subject_id",
            "node_id",
            "label",
            "figure",
            "limit",
            "since",
        ]),
        rows: alerts
            .iter()
            .map(|a| {
                let b = &a.breach;
                let (kind, id) = match b.subject {
                    crate::model::andon::Subject::Node { id } => ("node", id),
                    crate::model::andon::Subject::Team { id } => ("team", id),
                    crate::model::andon::Subject::Token { id, .. } => ("token", id),
                };
                vec![
                    b.level.name().to_string(),
                    b.kind.name().to_string(),
                    kind.to_string(),
                    id.to_string(),
                    opt(b.subject.node()),
                    b.label.clone(),
                    dec(b.figure),
                    dec(b.limit),
                    time(a.since),
                ]
            })
            .collect(),
    }
}

/// The tokens at a node.
pub fn node_tokens(n: &NodeTokens, dims: &Dims) -> Table {
    Table {
        name: format!("node-{}-tokens", n.node_id),
        header: cols(&[
            "token_id",
            "status",
            "queued",
            "since",
            "age_minutes",
            "operator_id",
            "team_id",
            "team_name",
            "assignment_id",
            "assignment_status",
            "spawned_at",
        ]),
        rows: n
            .tokens
            .iter()
            .map(|t| {
                vec![
                    t.token_id.to_string(),
                    t.status.to_string(),
                    t.queued.to_string(),
                    opt(t.since.map(time)),
                    opt(t.age_secs.map(|s| dec(Dec2::ratio(s.into(), 60)))),
                    opt(t.operator_id),
                    opt(t.team_id),
                    team_name(dims, t.team_id),
                    opt(t.assignment_id),
                    opt(t.assignment_status),
                    opt(t.spawned_at.map(time)),
                ]
            })
            .collect(),
    }
}

/// A team's operators.
pub fn team_operators(t: &TeamOperators) -> Table {
    Table {
        name: format!("team-{}-operators", t.team_id),
        header: cols(&[
            "operator_id",
            "active_tokens",
            "waiting_tokens",
            "capacity",
            "load",
            "active_member",
        ]),
        rows: t
            .operators
            .iter()
            .map(|o| {
                vec![
                    o.operator_id.to_string(),
                    o.active_tokens.to_string(),
                    o.waiting_tokens.to_string(),
                    o.capacity.to_string(),
                    opt_dec(o.load),
                    o.active_member.to_string(),
                ]
            })
            .collect(),
    }
}

/// WIP and queued at the last one-minute instants (the sparkline's table).
pub fn history(points: &[Totals], tz: chrono_tz::Tz) -> Table {
    Table {
        name: "history".into(),
        header: cols(&["minute", "wip", "queued"]),
        rows: points
            .iter()
            .map(|p| {
                vec![
                    time(local_time(p.at, tz)),
                    p.wip.to_string(),
                    p.queued.to_string(),
                ]
            })
            .collect(),
    }
}

/// The table as CSV text, the byte order mark first.
pub fn csv_text(t: &Table) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(BOM.as_bytes().to_vec());
    w.write_record(&t.header)?;
    for r in &t.rows {
        w.write_record(r)?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A safe file name part: letters, digits, `-` and `_`; the rest becomes `_`.
fn file_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The CSV response: `text/csv`, saved as `<tenant>-<table>-<YYYYMMDD-HHMMSS>.csv`; in
/// `csv.lang`'s words if asked.
pub fn response(code: &str, at: NaiveDateTime, mut t: Table, csv: Csv) -> Response {
    if let Some(lang) = csv.lang {
        i18n::csv::localize(&mut t, &Tr::new(lang));
    }
    match csv_text(&t) {
        Ok(body) => {
            let file = format!(
                "{}-{}-{}.csv",
                file_part(code),
                file_part(&t.name),
                at.format("%Y%m%d-%H%M%S")
            );
            let mut r = (StatusCode::OK, body).into_response();
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => super::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot write the CSV: {e}"),
        ),
    }
}

/// A request refused, as a JSON error when answered (small, unlike a `Response`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub StatusCode, pub String);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        super::error(self.0, self.1)
    }
}

/// `?format=json|csv` (JSON when absent), and for CSV `?lang=th|en`.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Format {
    pub format: Option<String>,
    pub lang: Option<String>,
}

/// A CSV asked for: in a language's words, or (`None`) with the API's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Csv {
    pub lang: Option<Lang>,
}

impl Format {
    /// Whether CSV is asked for, and in which words; an unknown format or language is an error
    /// naming the choices.
    pub fn csv(&self) -> Result<Option<Csv>, Refused> {
        let lang = match self.lang.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(l) => Some(Lang::parse(l).ok_or_else(|| {
                Refused(
                    StatusCode::BAD_REQUEST,
                    format!(
                        "unknown lang '{l}': use lang=th or lang=en (or none, for the API's \
                         column names)"
                    ),
                )
            })?),
        };
        match self.format.as_deref() {
            None | Some("json") => Ok(None),
            Some("csv") => Ok(Some(Csv { lang })),
            Some(other) => Err(Refused(
                StatusCode::BAD_REQUEST,
                format!("unknown format '{other}': use format=json or format=csv"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_starts_with_the_bom_and_quotes_what_needs_it() {
        let t = Table {
            name: "workload".into(),
            header: cols(&["team_id", "team_name"]),
            rows: vec![
                vec!["1".into(), "ทีมเย็บ A".into()],
                vec!["2".into(), "Cut, \"fast\"".into()],
            ],
        };
        let text = csv_text(&t).unwrap();
        assert!(text.starts_with(BOM));
        assert_eq!(
            &text[BOM.len()..],
            "team_id,team_name\n1,ทีมเย็บ A\n2,\"Cut, \"\"fast\"\"\"\n"
        );
        let mut r = csv::Reader::from_reader(&text.as_bytes()[BOM.len()..]);
        let names: Vec<String> = r.records().map(|rec| rec.unwrap()[1].to_string()).collect();
        assert_eq!(names, ["ทีมเย็บ A", "Cut, \"fast\""]);
        assert_eq!(file_part("ACME/ทีม"), "ACME____");
    }
}
