//! `flowtally verify`: a second, independent implementation of the metrics of
//! docs/metrics.md, written as SQL over the
//! current source rows of one tenant database, and the cell-by-cell comparison of its result with
//! the latest snapshot written to each mv_ table.
//!
//! This module owns:
//! - [`expected`]: the rows a table should hold for a snapshot at instant T, computed with GROUP BY
//!   queries (exact integer sums and counts, rounded once with [`Dec2::ratio`]) plus exact
//!   nearest-rank percentiles computed here from the sorted durations;
//! - [`actual`]: the rows of the latest snapshot of a table, every cell read as text;
//! - [`compare`] and [`Difference`]: cell-by-cell comparison (p50/p95 within the 1% histogram
//!   bound, everything else exact);
//! - [`verify_tenant`]: the three together, for the views of one tenant database.
//!
//! It deliberately shares no logic with `crate::model` (only the [`View`] enum and [`Dec2`]'s
//! rounding and parsing): the point of `verify` is that two implementations cross-check each other.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{Days, NaiveDate, NaiveDateTime};
use sqlx::mysql::MySqlRow;
use sqlx::{MySqlConnection, Row};

use crate::db::{ident, text_column};
use crate::model::decimal::Dec2;
use crate::model::views::{Cadence, View};

/// One row of an mv_ table, as text: the key columns of its table and the other output columns
/// (everything but `id` and `snapshot_at`). NULL is the text `NULL`, DECIMALs have two places,
/// dates are `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub key: Vec<(String, String)>,
    pub values: Vec<(String, String)>,
}

impl Record {
    fn new(view: View, key: Vec<String>, values: Vec<String>) -> Record {
        let kc = key_columns(view);
        let vc = value_columns(view);
        debug_assert_eq!(kc.len(), key.len());
        debug_assert_eq!(vc.len(), values.len());
        Record {
            key: kc.iter().map(|c| c.to_string()).zip(key).collect(),
            values: vc.iter().map(|c| c.to_string()).zip(values).collect(),
        }
    }

    /// The key as printed in a difference: `graph_id=1 node_id=2 team_id=NULL`.
    pub fn key_string(&self) -> String {
        self.key
            .iter()
            .map(|(c, v)| format!("{c}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The value of an output column (key or value), if the record has it.
    pub fn get(&self, column: &str) -> Option<&str> {
        self.key
            .iter()
            .chain(self.values.iter())
            .find(|(c, _)| c == column)
            .map(|(_, v)| v.as_str())
    }
}

/// The key columns of a table, in the order they are printed.
pub fn key_columns(view: View) -> &'static [&'static str] {
    match view {
        View::Summary => &["graph_id", "node_id", "team_id"],
        View::Bottlenecks => &["node_id"],
        View::Workload => &["team_id"],
        View::CycleTime => &["node_id", "team_id"],
        View::Trends => &["period_date", "production_type", "graph_id"],
    }
}

/// The compared non-key columns of a table (all output columns but id and snapshot_at).
pub fn value_columns(view: View) -> &'static [&'static str] {
    match view {
        View::Summary => &["wip_count", "completed_count", "waiting_count"],
        View::Bottlenecks => &[
            "node_code",
            "node_name",
            "queue_depth",
            "avg_wait_minutes",
            "bottleneck_score",
        ],
        View::Workload => &[
            "team_name",
            "team_category",
            "active_tokens",
            "waiting_tokens",
            "avg_load",
        ],
        View::CycleTime => &[
            "period_start",
            "period_end",
            "token_count",
            "p50_minutes",
            "p95_minutes",
            "avg_minutes",
        ],
        View::Trends => &[
            "tokens_completed",
            "tokens_spawned",
            "avg_lead_time_hours",
            "throughput_per_day",
        ],
    }
}

/// One cell (or row) where the written snapshot and the SQL recomputation disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub table: &'static str,
    pub key: String,
    pub column: String,
    pub expected: String,
    pub got: String,
}

impl Difference {
    /// Work that was not done: `table` has no snapshot that could be compared, or only one
    /// older than the sources' last change by more than its cadence.
    fn missing(view: View, expected: String, got: String) -> Difference {
        Difference {
            table: view.table(),
            key: "(latest snapshot)".into(),
            column: "snapshot_at".into(),
            expected,
            got,
        }
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}: expected {}, got {}",
            self.table, self.key, self.column, self.expected, self.got
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Formatting helpers

const NULL: &str = "NULL";

fn opt_int(v: Option<i64>) -> String {
    v.map_or_else(|| NULL.to_string(), |v| v.to_string())
}

fn opt_str(v: Option<String>) -> String {
    v.unwrap_or_else(|| NULL.to_string())
}

fn opt_dec(v: Option<Dec2>) -> String {
    v.map_or_else(|| NULL.to_string(), |v| v.to_string())
}

fn date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

fn days_before(d: NaiveDate, n: u64) -> NaiveDate {
    d.checked_sub_days(Days::new(n)).unwrap_or(NaiveDate::MIN)
}

// ---------------------------------------------------------------------------------------------
// Row decoding: every integer the queries return is CAST(... AS SIGNED) (BIGINT), every text
// CAST(... AS CHAR).

fn get_i64(row: &MySqlRow, i: usize) -> Result<Option<i64>, sqlx::Error> {
    row.try_get::<Option<i64>, _>(i)
}

fn get_i64_or0(row: &MySqlRow, i: usize) -> Result<i64, sqlx::Error> {
    Ok(get_i64(row, i)?.unwrap_or(0))
}

/// Text, or bytes decoded as the binlog decoder does (invalid UTF-8 replaced): names are
/// selected as BINARY so both implementations agree on names that are not valid UTF-8.
fn get_text(row: &MySqlRow, i: usize) -> Result<Option<String>, sqlx::Error> {
    text_column(row, i)
}

// ---------------------------------------------------------------------------------------------
// The SQL. `{db}` is replaced by the quoted database name and `{since}` by the first day of the
// cycle-time window (the oldest completion any view looks at with its team), so the team of an
// assignment is only resolved for the assignments that can matter. The common table expressions
// encode the vocabulary and bad-row rules of docs/metrics.md; they take no bind parameters.

const BASE_CTES: &str = "
WITH
cand AS (
  SELECT tm.id_member AS id_member, t.id_team AS id_team,
         CAST(t.team_category AS CHAR) AS team_category
  FROM {db}.team_member tm
  JOIN {db}.team t ON t.id_team = tm.id_team
  WHERE COALESCE(tm.active, 0) <> 0 AND COALESCE(t.active, 0) <> 0
),
va AS (
  SELECT a.id_assignment AS id_assignment, a.id_token AS id_token, a.id_node AS id_node,
         a.assigned_to_user_id AS user_id, CAST(a.status AS CHAR) AS status,
         a.assigned_at AS assigned_at, a.started_at AS started_at, a.completed_at AS completed_at,
         n.id_node AS node_found, n.id_graph AS node_graph,
         CAST(n.team_category AS CHAR) AS node_category
  FROM {db}.token_assignment a
  LEFT JOIN {db}.routing_node n ON n.id_node = a.id_node
  WHERE a.id_assignment IS NOT NULL AND a.id_token IS NOT NULL AND a.id_node IS NOT NULL
    AND a.assigned_to_user_id IS NOT NULL
    AND a.status IN ('assigned','accepted','started','paused','completed','cancelled','rejected')
),
vat AS (
  SELECT va.*,
         COALESCE(
           (SELECT MIN(c.id_team) FROM cand c
             WHERE c.id_member = va.user_id AND c.team_category = va.node_category),
           (SELECT MIN(c.id_team) FROM cand c WHERE c.id_member = va.user_id)
         ) AS team_id
  FROM va
  WHERE va.status IN ('assigned','accepted','started','paused')
     OR (va.status = 'completed' AND va.completed_at >= '{since}')
),
vt AS (
  SELECT t.id_token AS id_token, t.id_instance AS id_instance,
         CAST(t.token_type AS CHAR) AS token_type, CAST(t.status AS CHAR) AS status,
         t.current_node_id AS current_node_id, t.spawned_at AS spawned_at,
         t.completed_at AS completed_at
  FROM {db}.flow_token t
  WHERE t.id_token IS NOT NULL AND t.id_instance IS NOT NULL
    AND t.status IN ('ready','active','waiting','paused','completed','scrapped')
),
oa AS (
  SELECT id_token, MAX(id_assignment) AS id_assignment
  FROM va
  WHERE status IN ('assigned','accepted','started','paused')
  GROUP BY id_token
),
lt AS (
  SELECT t.id_token AS id_token, t.status AS status, t.current_node_id AS current_node_id,
         n.id_node AS node_found, n.id_graph AS node_graph,
         a.id_node AS oa_node, a.assigned_at AS oa_assigned_at, a.team_id AS team_id
  FROM vt t
  LEFT JOIN {db}.routing_node n ON n.id_node = t.current_node_id
  LEFT JOIN oa ON oa.id_token = t.id_token
  LEFT JOIN vat a ON a.id_assignment = oa.id_assignment
  WHERE t.status IN ('ready','active','waiting','paused')
)
";

fn sql(db: &str, at: NaiveDateTime, body: &str) -> String {
    let since = date(days_before(at.date(), 6));
    // `{since}` first: the database name may contain anything, even a `{since}`.
    format!("{BASE_CTES}{body}")
        .replace("{since}", &since)
        .replace("{db}", &ident(db))
}

/// The rows table `view` should hold for a snapshot at instant `at` (naive local wall-clock time;
/// today is `at.date()`), computed with SQL over the current source rows of tenant database `db`.
/// Sorted by key.
pub async fn expected(
    conn: &mut MySqlConnection,
    db: &str,
    view: View,
    at: NaiveDateTime,
) -> Result<Vec<Record>, sqlx::Error> {
    let mut rows = match view {
        View::Summary => expected_summary(conn, db, at).await?,
        View::Bottlenecks => expected_bottlenecks(conn, db, at).await?,
        View::Workload => expected_workload(conn, db, at).await?,
        View::CycleTime => expected_cycle_time(conn, db, at).await?,
        View::Trends => expected_trends(conn, db, at).await?,
    };
    rows.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(rows)
}

async fn expected_summary(
    conn: &mut MySqlConnection,
    db: &str,
    at: NaiveDateTime,
) -> Result<Vec<Record>, sqlx::Error> {
    type GroupKey = (Option<i64>, Option<i64>, Option<i64>);
    // (wip, completed, waiting)
    let mut groups: BTreeMap<GroupKey, (i64, i64, i64)> = BTreeMap::new();

    let live = sql(
        db,
        at,
        "SELECT CAST(node_graph AS SIGNED), CAST(current_node_id AS SIGNED), CAST(team_id AS SIGNED),
                CAST(COUNT(*) AS SIGNED),
                CAST(SUM(CASE WHEN status IN ('ready','waiting') THEN 1 ELSE 0 END) AS SIGNED)
         FROM lt
         WHERE current_node_id IS NOT NULL AND node_found IS NOT NULL
         GROUP BY node_graph, current_node_id, team_id",
    );
    for row in sqlx::query(&live).fetch_all(&mut *conn).await? {
        let key = (get_i64(&row, 0)?, get_i64(&row, 1)?, get_i64(&row, 2)?);
        let g = groups.entry(key).or_default();
        g.0 += get_i64_or0(&row, 3)?;
        g.2 += get_i64_or0(&row, 4)?;
    }

    let done = sql(
        db,
        at,
        "SELECT CAST(node_graph AS SIGNED), CAST(id_node AS SIGNED), CAST(team_id AS SIGNED),
                CAST(COUNT(*) AS SIGNED)
         FROM vat
         WHERE status = 'completed' AND node_found IS NOT NULL
           AND completed_at IS NOT NULL AND DATE(completed_at) = ?
         GROUP BY node_graph, id_node, team_id",
    );
    for row in sqlx::query(&done)
        .bind(at.date())
        .fetch_all(&mut *conn)
        .await?
    {
        let key = (get_i64(&row, 0)?, get_i64(&row, 1)?, get_i64(&row, 2)?);
        groups.entry(key).or_default().1 += get_i64_or0(&row, 3)?;
    }

    Ok(groups
        .into_iter()
        .filter(|(_, (w, c, q))| *w != 0 || *c != 0 || *q != 0)
        .map(|((g, n, t), (w, c, q))| {
            Record::new(
                View::Summary,
                vec![opt_int(g), opt_int(n), opt_int(t)],
                vec![w.to_string(), c.to_string(), q.to_string()],
            )
        })
        .collect())
}

async fn expected_bottlenecks(
    conn: &mut MySqlConnection,
    db: &str,
    at: NaiveDateTime,
) -> Result<Vec<Record>, sqlx::Error> {
    let q = sql(
        db,
        at,
        "SELECT CAST(lt.current_node_id AS SIGNED), CAST(n.node_code AS CHAR),
                CAST(n.node_name AS BINARY),
                CAST(SUM(CASE WHEN lt.status IN ('ready','waiting') THEN 1 ELSE 0 END) AS SIGNED),
                CAST(SUM(CASE WHEN lt.status IN ('ready','waiting')
                               AND lt.oa_node = lt.current_node_id
                               AND lt.oa_assigned_at IS NOT NULL
                          THEN TIMESTAMPDIFF(SECOND, lt.oa_assigned_at, ?) ELSE 0 END) AS SIGNED),
                CAST(SUM(CASE WHEN lt.status IN ('ready','waiting')
                               AND lt.oa_node = lt.current_node_id
                               AND lt.oa_assigned_at IS NOT NULL
                          THEN 1 ELSE 0 END) AS SIGNED)
         FROM lt
         JOIN {db}.routing_node n ON n.id_node = lt.current_node_id
         GROUP BY lt.current_node_id, n.node_code, n.node_name",
    );
    let mut out = Vec::new();
    for row in sqlx::query(&q).bind(at).fetch_all(&mut *conn).await? {
        let node = get_i64(&row, 0)?;
        let code = get_text(&row, 1)?;
        let name = get_text(&row, 2)?;
        let depth = get_i64_or0(&row, 3)?;
        let wait_secs = get_i64_or0(&row, 4)? as i128;
        let waited = get_i64_or0(&row, 5)? as i128;
        let (avg, score) = if waited == 0 {
            (None, Dec2::from_int(depth))
        } else {
            // mean minutes = wait_secs / (60 waited);
            // score = depth × (1 + mean/60) = depth × (3600 waited + wait_secs) / (3600 waited)
            (
                Some(Dec2::ratio(wait_secs, 60 * waited)),
                Dec2::ratio(depth as i128 * (3600 * waited + wait_secs), 3600 * waited),
            )
        };
        out.push(Record::new(
            View::Bottlenecks,
            vec![opt_int(node)],
            vec![
                opt_str(code),
                opt_str(name),
                depth.to_string(),
                opt_dec(avg),
                score.to_string(),
            ],
        ));
    }
    Ok(out)
}

async fn expected_workload(
    conn: &mut MySqlConnection,
    db: &str,
    at: NaiveDateTime,
) -> Result<Vec<Record>, sqlx::Error> {
    let q = sql(
        db,
        at,
        "SELECT CAST(t.id_team AS SIGNED), CAST(t.name AS BINARY), CAST(t.team_category AS CHAR),
                CAST(COALESCE(m.members, 0) AS SIGNED), CAST(COALESCE(m.capacity, 0) AS SIGNED),
                CAST(COALESCE(k.in_work, 0) AS SIGNED), CAST(COALESCE(k.queued, 0) AS SIGNED)
         FROM {db}.team t
         LEFT JOIN (
           SELECT id_team, COUNT(*) AS members,
                  SUM(CASE WHEN capacity_per_day > 0 THEN capacity_per_day ELSE 10 END) AS capacity
           FROM {db}.team_member
           WHERE COALESCE(active, 0) <> 0
           GROUP BY id_team
         ) m ON m.id_team = t.id_team
         LEFT JOIN (
           SELECT team_id,
                  SUM(CASE WHEN status IN ('active','paused') THEN 1 ELSE 0 END) AS in_work,
                  SUM(CASE WHEN status IN ('ready','waiting') THEN 1 ELSE 0 END) AS queued
           FROM lt
           WHERE team_id IS NOT NULL
           GROUP BY team_id
         ) k ON k.team_id = t.id_team
         WHERE COALESCE(t.active, 0) <> 0",
    );
    let mut out = Vec::new();
    for row in sqlx::query(&q).fetch_all(&mut *conn).await? {
        let team = get_i64(&row, 0)?;
        let name = get_text(&row, 1)?;
        let category = get_text(&row, 2)?;
        let members = get_i64_or0(&row, 3)?;
        let capacity = get_i64_or0(&row, 4)?;
        let in_work = get_i64_or0(&row, 5)?;
        let queued = get_i64_or0(&row, 6)?;
        if members == 0 && in_work + queued == 0 {
            continue;
        }
        let load = (capacity != 0).then(|| {
            Dec2::ratio(100 * (in_work + queued) as i128, capacity as i128).min(Dec2(10_000))
        });
        out.push(Record::new(
            View::Workload,
            vec![opt_int(team)],
            vec![
                opt_str(name),
                opt_str(category),
                in_work.to_string(),
                queued.to_string(),
                opt_dec(load),
            ],
        ));
    }
    Ok(out)
}

/// Nearest-rank percentile of sorted values: the smallest v with at least ⌈pct·n/100⌉ values ≤ v.
fn nearest_rank(sorted: &[i64], pct: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (pct * sorted.len()).div_ceil(100).max(1);
    Some(sorted[rank - 1])
}

async fn expected_cycle_time(
    conn: &mut MySqlConnection,
    db: &str,
    at: NaiveDateTime,
) -> Result<Vec<Record>, sqlx::Error> {
    let today = at.date();
    let start = days_before(today, 6);
    const QUALIFYING: &str = "
         FROM vat
         WHERE status = 'completed' AND node_found IS NOT NULL
           AND started_at IS NOT NULL AND completed_at IS NOT NULL
           AND completed_at >= started_at
           AND DATE(completed_at) BETWEEN ? AND ?";

    // Exact counts and sums per (node, team), team NULL included; the per-node rows add them up.
    let agg = sql(
        db,
        at,
        &format!(
            "SELECT CAST(id_node AS SIGNED), CAST(team_id AS SIGNED), CAST(COUNT(*) AS SIGNED),
                    CAST(SUM(TIMESTAMPDIFF(SECOND, started_at, completed_at)) AS SIGNED)
             {QUALIFYING}
             GROUP BY id_node, team_id"
        ),
    );
    // (count, sum of seconds)
    let mut per_group: BTreeMap<(Option<i64>, Option<i64>), (i64, i128)> = BTreeMap::new();
    for row in sqlx::query(&agg)
        .bind(start)
        .bind(today)
        .fetch_all(&mut *conn)
        .await?
    {
        let node = get_i64(&row, 0)?;
        let team = get_i64(&row, 1)?;
        let n = get_i64_or0(&row, 2)?;
        let s = get_i64_or0(&row, 3)? as i128;
        if team.is_some() {
            let g = per_group.entry((node, team)).or_default();
            g.0 += n;
            g.1 += s;
        }
        let g = per_group.entry((node, None)).or_default();
        g.0 += n;
        g.1 += s;
    }

    // The durations, for the percentiles.
    let durations = sql(
        db,
        at,
        &format!(
            "SELECT CAST(id_node AS SIGNED), CAST(team_id AS SIGNED),
                    CAST(TIMESTAMPDIFF(SECOND, started_at, completed_at) AS SIGNED) AS secs
             {QUALIFYING}
             ORDER BY id_node, team_id, secs"
        ),
    );
    let mut values: BTreeMap<(Option<i64>, Option<i64>), Vec<i64>> = BTreeMap::new();
    for row in sqlx::query(&durations)
        .bind(start)
        .bind(today)
        .fetch_all(&mut *conn)
        .await?
    {
        let node = get_i64(&row, 0)?;
        let team = get_i64(&row, 1)?;
        let secs = get_i64_or0(&row, 2)?;
        if team.is_some() {
            values.entry((node, team)).or_default().push(secs);
        }
        values.entry((node, None)).or_default().push(secs);
    }

    let mut out = Vec::new();
    for (key, (n, sum)) in per_group {
        let mut v = values.remove(&key).unwrap_or_default();
        // Per-node rows merge several ordered groups; per-(node, team) rows are ordered already.
        v.sort_unstable();
        if v.len() as i64 != n {
            return Err(sqlx::Error::Protocol(format!(
                "verify: cycle time group {key:?} counted {n} assignments but fetched {} durations \
                 (source rows changed between the queries?)",
                v.len()
            )));
        }
        let minutes = |s: i64| Dec2::ratio(s as i128, 60);
        let avg = (n > 0).then(|| Dec2::ratio(sum, 60 * n as i128));
        out.push(Record::new(
            View::CycleTime,
            vec![opt_int(key.0), opt_int(key.1)],
            vec![
                date(start),
                date(today),
                n.to_string(),
                opt_dec(nearest_rank(&v, 50).map(minutes)),
                opt_dec(nearest_rank(&v, 95).map(minutes)),
                opt_dec(avg),
            ],
        ));
    }
    Ok(out)
}

async fn expected_trends(
    conn: &mut MySqlConnection,
    db: &str,
    at: NaiveDateTime,
) -> Result<Vec<Record>, sqlx::Error> {
    let today = at.date();
    let first = days_before(today, 29);
    // Throughput of the first day of the window looks 6 days further back.
    let first_completed = days_before(first, 6);
    const TT: &str = "
         FROM (
           SELECT t.status AS status, t.spawned_at AS spawned_at, t.completed_at AS completed_at,
                  CAST(COALESCE(i.production_type, g.production_type) AS CHAR) AS production_type,
                  i.id_graph AS graph_id
           FROM vt t
           LEFT JOIN {db}.job_graph_instance i ON i.id_instance = t.id_instance
           LEFT JOIN {db}.routing_graph g ON g.id_graph = i.id_graph
           WHERE t.token_type IN ('piece','batch')
         ) tt";

    type GroupKey = (Option<String>, Option<i64>);
    #[derive(Default)]
    struct Day {
        spawned: i64,
        completed: i64,
        lead_secs: i128,
        lead_n: i128,
    }
    let mut days: BTreeMap<GroupKey, BTreeMap<NaiveDate, Day>> = BTreeMap::new();

    let spawned = sql(
        db,
        at,
        &format!(
            "SELECT production_type, CAST(graph_id AS SIGNED), DATE(spawned_at) AS d,
                    CAST(COUNT(*) AS SIGNED)
             {TT}
             WHERE spawned_at IS NOT NULL AND DATE(spawned_at) BETWEEN ? AND ?
             GROUP BY production_type, graph_id, DATE(spawned_at)"
        ),
    );
    for row in sqlx::query(&spawned)
        .bind(first)
        .bind(today)
        .fetch_all(&mut *conn)
        .await?
    {
        let key = (get_text(&row, 0)?, get_i64(&row, 1)?);
        let Some(d) = row.try_get::<Option<NaiveDate>, _>(2)? else {
            continue;
        };
        days.entry(key).or_default().entry(d).or_default().spawned += get_i64_or0(&row, 3)?;
    }

    let completed = sql(
        db,
        at,
        &format!(
            "SELECT production_type, CAST(graph_id AS SIGNED), DATE(completed_at) AS d,
                    CAST(COUNT(*) AS SIGNED),
                    CAST(SUM(CASE WHEN completed_at >= spawned_at
                                  THEN TIMESTAMPDIFF(SECOND, spawned_at, completed_at)
                                  ELSE 0 END) AS SIGNED),
                    CAST(SUM(CASE WHEN completed_at >= spawned_at THEN 1 ELSE 0 END) AS SIGNED)
             {TT}
             WHERE status = 'completed' AND completed_at IS NOT NULL
               AND DATE(completed_at) BETWEEN ? AND ?
             GROUP BY production_type, graph_id, DATE(completed_at)"
        ),
    );
    for row in sqlx::query(&completed)
        .bind(first_completed)
        .bind(today)
        .fetch_all(&mut *conn)
        .await?
    {
        let key = (get_text(&row, 0)?, get_i64(&row, 1)?);
        let Some(d) = row.try_get::<Option<NaiveDate>, _>(2)? else {
            continue;
        };
        let day = days.entry(key).or_default().entry(d).or_default();
        day.completed += get_i64_or0(&row, 3)?;
        day.lead_secs += get_i64_or0(&row, 4)? as i128;
        day.lead_n += get_i64_or0(&row, 5)? as i128;
    }

    let mut out = Vec::new();
    for ((pt, graph), per_day) in &days {
        for (d, day) in per_day.range(first..=today) {
            if day.spawned == 0 && day.completed == 0 {
                continue;
            }
            let week: i64 = per_day
                .range(days_before(*d, 6)..=*d)
                .map(|(_, x)| x.completed)
                .sum();
            let lead = (day.lead_n > 0).then(|| Dec2::ratio(day.lead_secs, 3600 * day.lead_n));
            out.push(Record::new(
                View::Trends,
                vec![date(*d), opt_str(pt.clone()), opt_int(*graph)],
                vec![
                    day.completed.to_string(),
                    day.spawned.to_string(),
                    opt_dec(lead),
                    Dec2::ratio(week as i128, 7).to_string(),
                ],
            ));
        }
    }
    Ok(out)
}

/// The rows of the latest snapshot written to the table of `view`, with its snapshot_at; None when
/// the table is empty. For mv_dashboard_trends, the rows whose period_date lies in the 30-day
/// window ending on the date of the latest snapshot_at. Sorted by key.
pub async fn actual(
    conn: &mut MySqlConnection,
    db: &str,
    view: View,
) -> Result<Option<(NaiveDateTime, Vec<Record>)>, sqlx::Error> {
    let Some(at) = latest(conn, db, view).await? else {
        return Ok(None);
    };
    Ok(Some((at, rows_at(conn, db, view, at).await?)))
}

/// The latest snapshot_at written to `view`'s table, if any.
pub async fn latest(
    conn: &mut MySqlConnection,
    db: &str,
    view: View,
) -> Result<Option<NaiveDateTime>, sqlx::Error> {
    let table = format!("{}.{}", ident(db), ident(view.table()));
    sqlx::query_scalar(&format!("SELECT MAX(snapshot_at) FROM {table}"))
        .fetch_one(&mut *conn)
        .await
}

/// The rows `view`'s table holds for the snapshot at `at` (trends: the 30 days ending then).
pub async fn rows_at(
    conn: &mut MySqlConnection,
    db: &str,
    view: View,
    at: NaiveDateTime,
) -> Result<Vec<Record>, sqlx::Error> {
    let table = format!("{}.{}", ident(db), ident(view.table()));
    let keys = key_columns(view);
    let vals = value_columns(view);
    let select = keys
        .iter()
        .chain(vals.iter())
        .map(|c| format!("CAST({} AS CHAR)", ident(c)))
        .collect::<Vec<_>>()
        .join(", ");
    let rows = if view == View::Trends {
        let today = at.date();
        sqlx::query(&format!(
            "SELECT {select} FROM {table} WHERE period_date BETWEEN ? AND ?"
        ))
        .bind(days_before(today, 29))
        .bind(today)
        .fetch_all(&mut *conn)
        .await?
    } else {
        sqlx::query(&format!(
            "SELECT {select} FROM {table} WHERE snapshot_at = ?"
        ))
        .bind(at)
        .fetch_all(&mut *conn)
        .await?
    };
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut cells = Vec::with_capacity(keys.len() + vals.len());
        for i in 0..keys.len() + vals.len() {
            cells.push(opt_str(get_text(&row, i)?));
        }
        let values = cells.split_off(keys.len());
        out.push(Record::new(view, cells, values));
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// Hundredths of a decimal text like `12.34`, `-0.5`, `7`.
fn parse_hundredths(s: &str) -> Option<i128> {
    Dec2::parse(s).map(|d| d.0 as i128)
}

/// Whether a written cell matches the expected one: p50/p95 within 1% of the expected value plus
/// 0.01 (the histogram bound and rounding), everything else exactly.
fn cell_matches(column: &str, expected: &str, got: &str) -> bool {
    if expected == got {
        return true;
    }
    if column == "p50_minutes" || column == "p95_minutes" {
        if let (Some(e), Some(g)) = (parse_hundredths(expected), parse_hundredths(got)) {
            // |g − e| ≤ |e|/100 + 0.01, in hundredths: 100·|g − e| ≤ |e| + 100
            return 100 * (g - e).abs() <= e.abs() + 100;
        }
    }
    false
}

/// Cell-by-cell comparison of the expected rows of a table with the written ones. Rows are matched
/// by key; a missing row is one difference in column `(row)`, as is an extra one.
pub fn compare(view: View, expected: &[Record], actual: &[Record]) -> Vec<Difference> {
    let table = view.table();
    let row_diff = |key: String, expected: &str, got: &str| Difference {
        table,
        key,
        column: "(row)".to_string(),
        expected: expected.to_string(),
        got: got.to_string(),
    };
    let mut got: BTreeMap<String, Vec<&Record>> = BTreeMap::new();
    for r in actual {
        got.entry(r.key_string()).or_default().push(r);
    }
    let mut diffs = Vec::new();
    let mut seen = BTreeSet::new();
    for e in expected {
        let key = e.key_string();
        if !seen.insert(key.clone()) {
            continue;
        }
        let Some(found) = got.get(&key) else {
            diffs.push(row_diff(key, "present", "missing"));
            continue;
        };
        if found.len() > 1 {
            diffs.push(row_diff(
                key.clone(),
                "1 row",
                &format!("{} rows", found.len()),
            ));
        }
        let a = found[0];
        for (column, want) in &e.values {
            let have = a.get(column).unwrap_or("(no column)");
            if !cell_matches(column, want, have) {
                diffs.push(Difference {
                    table,
                    key: key.clone(),
                    column: column.clone(),
                    expected: want.clone(),
                    got: have.to_string(),
                });
            }
        }
    }
    for (key, rows) in got {
        if !seen.contains(&key) {
            diffs.push(row_diff(key.clone(), "absent", "present"));
            if rows.len() > 1 {
                diffs.push(row_diff(key, "0 rows", &format!("{} rows", rows.len())));
            }
        }
    }
    diffs
}

/// The sources' last recorded change: the latest of the DATETIMEs of flow_token and
/// token_assignment that is not after `now` (the ERP stamps each change with them).
pub async fn last_change(
    conn: &mut MySqlConnection,
    db: &str,
    now: NaiveDateTime,
) -> Result<Option<NaiveDateTime>, sqlx::Error> {
    let db = ident(db);
    let one = |table: &str, column: &str| {
        format!(
            "SELECT MAX({column}) AS t FROM {db}.{table} \
             WHERE {column} >= '1000-01-01' AND {column} <= ?"
        )
    };
    let parts = [
        one("flow_token", "spawned_at"),
        one("flow_token", "completed_at"),
        one("token_assignment", "assigned_at"),
        one("token_assignment", "started_at"),
        one("token_assignment", "completed_at"),
    ];
    let sql = format!(
        "SELECT CAST(MAX(t) AS DATETIME) FROM ({}) changes",
        parts.join(" UNION ALL ")
    );
    let mut q = sqlx::query_scalar(&sql);
    for _ in 0..parts.len() {
        q = q.bind(now);
    }
    q.fetch_one(&mut *conn).await
}

/// For each view: the latest written snapshot against the SQL recomputation at its
/// snapshot_at. Missing work is a difference too: a table with no snapshot while the sources
/// give it rows now, and a 1-minute snapshot older than the sources' last change (at `now` or
/// before) by more than a minute.
/// `sources` reads the source tables (the reader's grants), `written` the mv_ tables (the
/// writer's); with one login for both, pass two connections of one pool.
pub async fn verify_tenant(
    sources: &mut MySqlConnection,
    written: &mut MySqlConnection,
    db: &str,
    views: &[View],
    now: NaiveDateTime,
) -> Result<Vec<Difference>, sqlx::Error> {
    // The 1-minute tables are written together; one whose snapshot had no rows keeps an older
    // latest snapshot_at, so they are compared at the latest instant any of them has.
    let mut minute: Option<NaiveDateTime> = None;
    for v in View::ALL
        .into_iter()
        .filter(|v| v.cadence() == Cadence::OneMinute)
    {
        minute = minute.max(latest(written, db, v).await?);
    }
    let changed = last_change(sources, db, now).await?;
    let mut diffs = Vec::new();
    for &view in views {
        let at = if view.cadence() == Cadence::OneMinute {
            minute
        } else {
            latest(written, db, view).await?
        };
        let Some(at) = at else {
            if !expected(sources, db, view, now).await?.is_empty() {
                diffs.push(Difference::missing(
                    view,
                    format!("a snapshot (the sources give rows at {now})"),
                    "none written".into(),
                ));
            }
            continue;
        };
        let cadence = chrono::Duration::minutes(view.cadence().minutes());
        if let Some(changed) =
            changed.filter(|c| view.cadence() == Cadence::OneMinute && *c > at + cadence)
        {
            diffs.push(Difference::missing(
                view,
                format!(
                    "a snapshot at or after {} (the sources changed at {changed})",
                    changed - cadence
                ),
                format!("{at}: flowtally is not writing (is `flowtally run` up and caught up?)"),
            ));
        }
        let got = rows_at(written, db, view, at).await?;
        let want = expected(sources, db, view, at).await?;
        diffs.extend(compare(view, &want, &got));
    }
    Ok(diffs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(view: View, key: &[&str], values: &[&str]) -> Record {
        Record::new(
            view,
            key.iter().map(|s| s.to_string()).collect(),
            values.iter().map(|s| s.to_string()).collect(),
        )
    }

    fn bn(node: &str, depth: &str, avg: &str, score: &str) -> Record {
        rec(View::Bottlenecks, &[node], &["C", "Cut", depth, avg, score])
    }

    #[test]
    fn equal_sets_have_no_difference() {
        let e = vec![bn("1", "2", "3.00", "2.10"), bn("2", "0", "NULL", "0.00")];
        let a = vec![bn("2", "0", "NULL", "0.00"), bn("1", "2", "3.00", "2.10")];
        assert!(compare(View::Bottlenecks, &e, &a).is_empty());
        assert!(compare(View::Bottlenecks, &[], &[]).is_empty());
    }

    #[test]
    fn wrong_cell_missing_and_extra_rows() {
        let e = vec![bn("1", "2", "3.00", "2.10"), bn("3", "2", "NULL", "2.00")];
        let a = vec![
            bn("1", "2", "3.00", "2.10"),
            bn("3", "1", "NULL", "2.00"),
            bn("4", "1", "NULL", "1.00"),
        ];
        let d = compare(View::Bottlenecks, &e, &a);
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(
            d[0].to_string(),
            "mv_node_bottlenecks node_id=3 queue_depth: expected 2, got 1"
        );
        assert_eq!(
            d[1].to_string(),
            "mv_node_bottlenecks node_id=4 (row): expected absent, got present"
        );

        let d = compare(View::Bottlenecks, &e, &a[..1]);
        assert_eq!(d.len(), 1);
        assert_eq!(
            d[0].to_string(),
            "mv_node_bottlenecks node_id=3 (row): expected present, got missing"
        );
    }

    #[test]
    fn null_versus_value_and_decimal_text_are_exact() {
        let e = vec![bn("1", "2", "NULL", "2.00")];
        let a = vec![bn("1", "2", "0.00", "2.00")];
        let d = compare(View::Bottlenecks, &e, &a);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].column, "avg_wait_minutes");
        assert_eq!(d[0].expected, "NULL");
        assert_eq!(d[0].got, "0.00");
        // A 0.01 difference outside p50/p95 is a difference.
        let a = vec![bn("1", "2", "NULL", "2.01")];
        assert_eq!(compare(View::Bottlenecks, &e, &a).len(), 1);
    }

    fn ct(p50: &str, p95: &str, avg: &str) -> Record {
        rec(
            View::CycleTime,
            &["5", "NULL"],
            &["2025-01-01", "2025-01-07", "4", p50, p95, avg],
        )
    }

    #[test]
    fn percentiles_within_one_percent_plus_rounding() {
        let e = vec![ct("100.00", "200.00", "150.00")];
        // 1% of 100 + 0.01 = 1.01
        assert!(compare(View::CycleTime, &e, &[ct("101.01", "198.00", "150.00")]).is_empty());
        assert!(compare(View::CycleTime, &e, &[ct("98.99", "201.99", "150.00")]).is_empty());
        let d = compare(View::CycleTime, &e, &[ct("101.02", "202.02", "150.00")]);
        assert_eq!(
            d.iter().map(|d| d.column.as_str()).collect::<Vec<_>>(),
            ["p50_minutes", "p95_minutes"]
        );
        // Small values: 0.01 of rounding slack.
        let e = vec![ct("0.50", "0.00", "0.25")];
        assert!(compare(View::CycleTime, &e, &[ct("0.51", "0.01", "0.25")]).is_empty());
        assert_eq!(
            compare(View::CycleTime, &e, &[ct("0.52", "0.02", "0.25")]).len(),
            2
        );
        // avg_minutes is exact.
        assert_eq!(
            compare(View::CycleTime, &e, &[ct("0.50", "0.00", "0.26")]).len(),
            1
        );
        // NULL never matches a number.
        assert_eq!(
            compare(View::CycleTime, &e, &[ct("NULL", "0.00", "0.25")]).len(),
            1
        );
    }

    #[test]
    fn keys_with_nulls_and_duplicate_rows() {
        let s = |t: &str, w: &str| rec(View::Summary, &["1", "2", t], &[w, "0", "0"]);
        let e = vec![s("NULL", "1"), s("3", "2")];
        let a = vec![s("3", "2"), s("NULL", "1"), s("NULL", "1")];
        let d = compare(View::Summary, &e, &a);
        assert_eq!(d.len(), 1);
        assert_eq!(
            d[0].to_string(),
            "mv_token_flow_summary graph_id=1 node_id=2 team_id=NULL (row): expected 1 row, got 2 rows"
        );
    }

    #[test]
    fn hundredths_parse() {
        assert_eq!(parse_hundredths("12.34"), Some(1234));
        assert_eq!(parse_hundredths("-0.5"), Some(-50));
        assert_eq!(parse_hundredths("7"), Some(700));
        assert_eq!(parse_hundredths("1.500"), Some(150));
        assert_eq!(parse_hundredths("1.505"), None);
        assert_eq!(parse_hundredths("NULL"), None);
        assert_eq!(parse_hundredths(""), None);
    }

    #[test]
    fn nearest_rank_percentiles() {
        assert_eq!(nearest_rank(&[], 50), None);
        assert_eq!(nearest_rank(&[7], 50), Some(7));
        assert_eq!(nearest_rank(&[7], 95), Some(7));
        // n = 4: ranks ceil(2) = 2 and ceil(3.8) = 4
        assert_eq!(nearest_rank(&[1, 2, 3, 4], 50), Some(2));
        assert_eq!(nearest_rank(&[1, 2, 3, 4], 95), Some(4));
        // n = 20: ranks 10 and 19
        let v: Vec<i64> = (1..=20).collect();
        assert_eq!(nearest_rank(&v, 50), Some(10));
        assert_eq!(nearest_rank(&v, 95), Some(19));
    }
}
