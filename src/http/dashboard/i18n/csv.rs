//! The CSV exports in a language's words (`?format=csv&lang=th|en`, what the dashboard's links
//! ask for): the header, and the values that are words (an alert's level and kind, a token's
//! status, yes and no, the two production types the page names). Numbers, instants, ids and
//! the ERP's own names stay as they are, so a spreadsheet still reads them as numbers and dates.
//!
//! Without a language, the exports keep the API's column names and values (stable for scripts).

use super::Tr;
use crate::http::export::Table;

/// A column's value in words (`None`: leave it as it is).
type Words = fn(&str, &Tr) -> Option<String>;

/// Puts `table`'s header and word values in `t`'s language.
pub fn localize(table: &mut Table, t: &Tr) {
    let words: Vec<Option<Words>> = table.header.iter().map(|c| value_words(c)).collect();
    for row in &mut table.rows {
        for (cell, words) in row.iter_mut().zip(&words) {
            if let Some(w) = words.and_then(|f| f(cell, t)) {
                *cell = w;
            }
        }
    }
    for col in &mut table.header {
        if let Some(h) = header(col, t) {
            *col = h;
        }
    }
}

/// How a column's values read in words, for the columns whose values are words.
fn value_words(column: &str) -> Option<Words> {
    match column {
        "level" => Some(level),
        "kind" => Some(kind),
        "subject_type" => Some(subject),
        "status" => Some(token_status),
        "assignment_status" => Some(assignment_status),
        "queued" | "active_member" => Some(yes_no),
        "production_type" => Some(production_type),
        _ => None,
    }
}

fn level(v: &str, t: &Tr) -> Option<String> {
    Some(match v {
        "red" => t.s("andon-red"),
        "amber" => t.s("andon-amber"),
        _ => return None,
    })
}

fn kind(v: &str, t: &Tr) -> Option<String> {
    Some(match v {
        "wip_limit" => t.s("andon-kind-wip-limit"),
        "team_load" => t.s("andon-kind-team-load"),
        "wait" => t.s("andon-kind-wait"),
        "queue_growth" => t.s("andon-kind-queue-growth"),
        "token_age" => t.s("andon-kind-token-age"),
        _ => return None,
    })
}

fn subject(v: &str, t: &Tr) -> Option<String> {
    Some(match v {
        "node" => t.s("csv-subject-node"),
        "team" => t.s("csv-subject-team"),
        "token" => t.s("csv-subject-token"),
        _ => return None,
    })
}

fn token_status(v: &str, t: &Tr) -> Option<String> {
    Some(match v {
        "ready" => t.s("token-ready"),
        "waiting" => t.s("token-waiting"),
        "active" => t.s("token-active"),
        "paused" => t.s("token-paused"),
        _ => return None,
    })
}

fn assignment_status(v: &str, t: &Tr) -> Option<String> {
    Some(match v {
        "assigned" => t.s("assignment-assigned"),
        "accepted" => t.s("assignment-accepted"),
        "started" => t.s("assignment-started"),
        "paused" => t.s("assignment-paused"),
        _ => return None,
    })
}

fn yes_no(v: &str, t: &Tr) -> Option<String> {
    Some(match v {
        "true" => t.s("csv-yes"),
        "false" => t.s("csv-no"),
        _ => return None,
    })
}

fn production_type(v: &str, t: &Tr) -> Option<String> {
    Some(match v {
        "hatthasilpa" => t.s("ptype-hatthasilpa"),
        "classic" => t.s("ptype-classic"),
        _ => return None,
    })
}

/// A column's name in words, with its unit where the figure has one.
fn header(column: &str, t: &Tr) -> Option<String> {
    Some(match column {
        "graph_id" => t.s("csv-graph-id"),
        "graph_name" => t.s("csv-graph-name"),
        "node_id" => t.s("csv-node-id"),
        "node_code" => t.s("csv-node-code"),
        "node_name" => t.s("csv-node-name"),
        "team_id" => t.s("csv-team-id"),
        "team_name" => t.s("csv-team-name"),
        "team_category" => t.s("csv-team-category"),
        "wip_count" => t.s("csv-wip-count"),
        "waiting_count" => t.s("csv-waiting-count"),
        "completed_count" => t.s("csv-completed-count"),
        "queue_depth" => t.s("csv-queue-depth"),
        "avg_wait_minutes" => t.s("csv-avg-wait-minutes"),
        "bottleneck_score" => t.s("csv-bottleneck-score"),
        "wip_limit" => t.s("csv-wip-limit"),
        "active_tokens" => t.s("csv-active-tokens"),
        "waiting_tokens" => t.s("csv-waiting-tokens"),
        "avg_load" => t.s("csv-avg-load"),
        "period_start" => t.s("csv-period-start"),
        "period_end" => t.s("csv-period-end"),
        "token_count" => t.s("csv-token-count"),
        "avg_minutes" => t.s("csv-avg-minutes"),
        "p50_minutes" => t.s("csv-p50-minutes"),
        "p95_minutes" => t.s("csv-p95-minutes"),
        "period_date" => t.s("csv-period-date"),
        "production_type" => t.s("csv-production-type"),
        "tokens_spawned" => t.s("csv-tokens-spawned"),
        "tokens_completed" => t.s("csv-tokens-completed"),
        "avg_lead_time_hours" => t.s("csv-avg-lead-time-hours"),
        "throughput_per_day" => t.s("csv-throughput-per-day"),
        "level" => t.s("csv-level"),
        "kind" => t.s("csv-kind"),
        "subject_type" => t.s("csv-subject-type"),
        "subject_id" => t.s("csv-subject-id"),
        "label" => t.s("csv-label"),
        "figure" => t.s("csv-figure"),
        "limit" => t.s("csv-limit"),
        "since" => t.s("csv-since"),
        "token_id" => t.s("csv-token-id"),
        "status" => t.s("csv-status"),
        "queued" => t.s("csv-queued"),
        "age_minutes" => t.s("csv-age-minutes"),
        "operator_id" => t.s("csv-operator-id"),
        "assignment_id" => t.s("csv-assignment-id"),
        "assignment_status" => t.s("csv-assignment-status"),
        "spawned_at" => t.s("csv-spawned-at"),
        "capacity" => t.s("csv-capacity"),
        "load" => t.s("csv-load"),
        "active_member" => t.s("csv-active-member"),
        "minute" => t.s("csv-minute"),
        "wip" => t.s("csv-wip"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{Lang, Tr};
    use super::*;
    use crate::http::export;
    use crate::model::dims::Dims;
    use crate::model::floor::{NodeTokens, TeamOperators};
    use crate::model::views::ViewRows;

    /// Every table the exports write, without rows: their headers.
    fn every_table() -> Vec<Table> {
        let dims = Dims::default();
        let mut out: Vec<Table> = [
            ViewRows::Summary(Vec::new()),
            ViewRows::Bottlenecks(Vec::new()),
            ViewRows::Workload(Vec::new()),
            ViewRows::CycleTime(Vec::new()),
            ViewRows::Trends(Vec::new()),
        ]
        .iter()
        .map(|v| export::view(v, &dims))
        .collect();
        out.push(export::alerts(&[]));
        out.push(export::node_tokens(
            &NodeTokens {
                node_id: 1,
                total: 0,
                queued: 0,
                in_work: 0,
                tokens: Vec::new(),
            },
            &dims,
        ));
        out.push(export::team_operators(&TeamOperators {
            team_id: 1,
            capacity: 0,
            operators: Vec::new(),
        }));
        out.push(export::history(&[], chrono_tz::Asia::Bangkok));
        out
    }

    #[test]
    fn every_column_of_every_export_has_words_in_both_languages() {
        let tables = every_table();
        assert!(tables.len() >= 9);
        for lang in Lang::ALL {
            let t = Tr::new(lang);
            for table in &tables {
                for col in &table.header {
                    let words = header(col, &t);
                    assert!(
                        words.as_ref().is_some_and(|w| !w.starts_with("csv-")),
                        "{lang:?}: no words for column {col} of {}",
                        table.name
                    );
                }
            }
        }
    }

    #[test]
    fn a_localized_table_keeps_numbers_and_names_and_words_the_rest() {
        let mut table = Table {
            name: "alerts".into(),
            header: ["level", "kind", "label", "figure", "since"]
                .map(String::from)
                .to_vec(),
            rows: vec![[
                "red",
                "wip_limit",
                "SEW · เย็บ",
                "15.00",
                "2026-12-07 14:05:09",
            ]
            .map(String::from)
            .to_vec()],
        };
        localize(&mut table, &Tr::new(Lang::Th));
        assert_eq!(table.header[0], "ระดับ");
        assert_eq!(
            table.rows[0],
            [
                "แดง",
                "งานค้างเกินขีดจำกัด",
                "SEW · เย็บ",
                "15.00",
                "2026-12-07 14:05:09"
            ]
        );
    }
}
