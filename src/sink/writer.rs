//! Idempotent snapshot writes (docs/architecture.md, "Writes"): one transaction per tenant
//! that deletes the rows of that snapshot_at, inserts the new ones, and deletes what fell out of retention in bounded
//! batches. Trends replace the rows of the days they cover. Writing a snapshot twice leaves the
//! tables as writing it once.

use chrono::{NaiveDate, NaiveDateTime};
use sqlx::MySqlConnection;

use crate::db::{ident, text, text_column, text_each, text_rows};
use crate::live::TenantKey;
use crate::model::decimal::Dec2;
use crate::model::views::trends::{self, Cover, WINDOW_DAYS};
use crate::model::views::ViewRows;
use crate::model::views::{
    bottlenecks::BottleneckRow, cycle_time::CycleTimeRow, summary::SummaryRow, trends::TrendRow,
    workload::WorkloadRow,
};
use crate::model::{Snapshot, View};
use crate::sink::lease::{self, Fence, Fenced};
use crate::sink::literal::{tuple, Literal};

/// Rows per INSERT statement and per retention DELETE.
const BATCH: usize = 1_000;
/// The most SQL text sent in one round trip: far under any server's `max_allowed_packet`
/// (16 MiB on MariaDB, 64 MiB on MySQL), and a few hundred small tenants' snapshots each.
const TEXT_BYTES: usize = 1 << 20;

/// Why a snapshot was not written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    /// Another instance took the lease: nothing was committed.
    #[error(transparent)]
    Fenced(#[from] Fenced),
}

/// Under high availability: the lease the transaction must still hold, and the tenant's
/// instant to record as committed with it.
pub struct Leased<'a> {
    pub fence: &'a Fence,
    pub key: &'a TenantKey,
    pub instant: i64,
}

/// Writes every view present in `snap` to database `db`, in one transaction. Returns rows
/// inserted. With `leased`, the transaction first checks the lease (and commits nothing if it
/// was taken over) and records the instant as written; the session's `wait_timeout` is the
/// lease's while it is open, so that a paused process's locks do not outlive its lease by much.
///
/// The statements go as text, as few round trips as their size allows (one for most tenants):
/// see [`super::literal`]. Trends of the whole window (the first after a load or a restore)
/// replace only the days whose rows differ from the table's ([`Window::Differing`]).
pub async fn write(
    conn: &mut MySqlConnection,
    db: &str,
    snap: &Snapshot,
    leased: Option<Leased<'_>>,
) -> Result<u64, WriteError> {
    write_as(conn, db, snap, leased, Sending::Together, Window::Differing).await
}

/// How a write's statements travel (the bench compares the two).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sending {
    /// As few round trips as [`TEXT_BYTES`] allows: what `write` does.
    Together,
    /// One round trip per statement, as a writer of prepared statements sends them.
    OneByOne,
}

/// What trends of the whole window ([`Cover::Window`]) replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// Every day of it: `refresh`, whose every day is recomputed and written at its instant.
    Replace,
    /// The days whose rows differ from the table's: the service, after a load or a restore,
    /// when the table most likely holds every day as it is (the rows left keep the instant
    /// they were last changed at, as between two snapshots). A cold start of 10,000 tenants
    /// otherwise rewrites 30 days of every tenant at its first 15-minute boundary.
    Differing,
}

/// [`write`], its statements sent as `sending` says, trends of the window as `window` says.
pub async fn write_as(
    conn: &mut MySqlConnection,
    db: &str,
    snap: &Snapshot,
    leased: Option<Leased<'_>>,
    sending: Sending,
    window: Window,
) -> Result<u64, WriteError> {
    let result = write_in_transaction(conn, db, snap, leased.as_ref(), sending, window).await;
    let result = match result {
        Ok(n) => text(conn, "COMMIT")
            .await
            .map(|_| n)
            .map_err(WriteError::from),
        Err(e) => {
            let _ = text(conn, "ROLLBACK").await;
            Err(e)
        }
    };
    if leased.is_some() {
        // Back to the server's default for a connection resting in the pool (a connection
        // that cannot take it is broken, and the pool drops it; what was committed stands).
        let _ = text(
            conn,
            "SET SESSION wait_timeout = @@GLOBAL.wait_timeout, \
             innodb_lock_wait_timeout = @@GLOBAL.innodb_lock_wait_timeout",
        )
        .await;
    }
    result
}

/// Everything of [`write_as`] but the COMMIT or ROLLBACK.
async fn write_in_transaction(
    conn: &mut MySqlConnection,
    db: &str,
    snap: &Snapshot,
    leased: Option<&Leased<'_>>,
    sending: Sending,
    window: Window,
) -> Result<u64, WriteError> {
    let compare = window == Window::Differing
        && snap.trends_cover == Cover::Window
        && snap.get(View::Trends).is_some();
    // The transaction starts with the script's first text, unless something must be read or
    // checked in it first.
    let mut begin = Some("START TRANSACTION".to_string());
    if let Some(l) = leased {
        let secs = l.fence.lease_secs.max(1);
        text(
            conn,
            &format!(
                "SET SESSION wait_timeout = {secs}, innodb_lock_wait_timeout = {secs}; \
                 START TRANSACTION"
            ),
        )
        .await?;
        lease::fence(conn, l.fence).await??;
        begin = None;
    } else if compare {
        text(conn, "START TRANSACTION").await?;
        begin = None;
    }
    let written = if compare {
        written_trends(conn, db, snap.at.date()).await?
    } else {
        None
    };
    let mut script = Script::of(db, snap, written.as_ref());
    script.text_bytes = match sending {
        Sending::Together => TEXT_BYTES,
        Sending::OneByOne => 0,
    };
    if let Some(sql) = begin {
        script.statements.insert(0, (Kind::Other, sql));
    }
    if let Some(l) = leased {
        script.other(lease::record_written_sql(l.fence, l.key, l.instant));
    }
    Ok(script.run(conn).await?)
}

/// What a tenant's trends table holds for the window.
struct WrittenTrends {
    /// The rows that read as the writer writes them.
    rows: Vec<TrendRow>,
    /// The days of rows that do not (written by hand, or by something else): those days are
    /// replaced, whatever the snapshot says of them.
    odd_days: Vec<NaiveDate>,
}

impl WrittenTrends {
    /// The days a snapshot's `rows` of the window must replace.
    fn days_to_replace(&self, rows: &[TrendRow]) -> Vec<NaiveDate> {
        let mut days = trends::days_differing(&self.rows, rows);
        days.extend(&self.odd_days);
        days.sort_unstable();
        days.dedup();
        days
    }
}

/// The trends rows `db` holds for the window ending on `today`; `None` if a row's day cannot
/// be read (then the whole window is replaced).
async fn written_trends(
    conn: &mut MySqlConnection,
    db: &str,
    today: NaiveDate,
) -> Result<Option<WrittenTrends>, sqlx::Error> {
    let first = today - chrono::Days::new(WINDOW_DAYS - 1);
    // Text protocol, every column as text: no statement prepared per tenant database.
    let sql = format!(
        "SELECT CAST(period_date AS CHAR), CAST(production_type AS CHAR), \
         CAST(graph_id AS CHAR), CAST(tokens_completed AS CHAR), CAST(tokens_spawned AS CHAR), \
         CAST(avg_lead_time_hours AS CHAR), CAST(throughput_per_day AS CHAR) \
         FROM {}.{} WHERE period_date BETWEEN {} AND {}",
        ident(db),
        View::Trends.table(),
        lit(&first),
        lit(&today)
    );
    let mut written = WrittenTrends {
        rows: Vec::new(),
        odd_days: Vec::new(),
    };
    for row in &text_rows(conn, &sql).await? {
        let cells = (0..7)
            .map(|i| text_column(row, i))
            .collect::<Result<Vec<_>, _>>()?;
        let Some(day) = cells[0]
            .as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        else {
            return Ok(None);
        };
        let parsed = trend_row(day, &cells);
        match parsed {
            Some(r) => written.rows.push(r),
            None => written.odd_days.push(day),
        }
    }
    Ok(Some(written))
}

/// A trends row read back as text (`cells` in the writer's column order), as the writer wrote
/// it; `None` if a cell is not what the writer writes.
fn trend_row(day: NaiveDate, cells: &[Option<String>]) -> Option<TrendRow> {
    let int = |i: usize| cells[i].as_deref().and_then(|v| v.parse::<i64>().ok());
    let dec = |i: usize| cells[i].as_deref().and_then(Dec2::parse);
    Some(TrendRow {
        period_date: day,
        production_type: cells[1].clone(),
        graph_id: match &cells[2] {
            None => None,
            Some(_) => Some(int(2)?),
        },
        tokens_completed: int(3)?,
        tokens_spawned: int(4)?,
        avg_lead_time_hours: match &cells[5] {
            None => None,
            Some(_) => Some(dec(5)?),
        },
        throughput_per_day: dec(6)?,
    })
}

/// What a statement of a [`Script`] is, for reading its result.
enum Kind {
    Other,
    /// Its affected rows are rows inserted.
    Insert,
    /// A retention DELETE of at most [`BATCH`] rows: if it took that many, it runs again.
    Trim,
}

/// The statements of one snapshot's write, in order.
struct Script {
    statements: Vec<(Kind, String)>,
    /// The most text per round trip (0: one statement each).
    text_bytes: usize,
}

impl Script {
    /// For each view of `snap`: delete the rows of its instant (or, for trends, of the days
    /// it covers), insert the new ones, and trim what fell out of retention. Trends of the
    /// window cover only the days that differ from `written_trends`, when given.
    fn of(db: &str, snap: &Snapshot, written_trends: Option<&WrittenTrends>) -> Script {
        let mut s = Script {
            statements: Vec::new(),
            text_bytes: TEXT_BYTES,
        };
        for rows in &snap.views {
            let view = rows.view();
            let table = format!("{}.{}", ident(db), view.table());
            match rows {
                ViewRows::Summary(r) => s.series(&table, view, snap.at, r),
                ViewRows::Bottlenecks(r) => s.series(&table, view, snap.at, r),
                ViewRows::Workload(r) => s.series(&table, view, snap.at, r),
                ViewRows::CycleTime(r) => s.series(&table, view, snap.at, r),
                ViewRows::Trends(r) => match (&snap.trends_cover, written_trends) {
                    (Cover::Window, Some(written)) => {
                        let days = written.days_to_replace(r);
                        let rows: Vec<TrendRow> = r
                            .iter()
                            .filter(|row| days.binary_search(&row.period_date).is_ok())
                            .cloned()
                            .collect();
                        s.days(&table, snap.at, &rows, &Cover::Days(days))
                    }
                    (cover, _) => s.days(&table, snap.at, r, cover),
                },
            }
        }
        s
    }

    fn other(&mut self, sql: String) {
        self.statements.push((Kind::Other, sql));
    }

    /// An append-only snapshot series: replace the rows of `at`, then trim past retention.
    fn series<R: MvRow>(&mut self, table: &str, view: View, at: NaiveDateTime, rows: &[R]) {
        self.other(format!(
            "DELETE FROM {table} WHERE snapshot_at = {}",
            lit(&at)
        ));
        self.insert(table, at, rows);
        let oldest = at - chrono::Duration::seconds(view.retention_secs());
        self.trim(table, "snapshot_at", &oldest);
    }

    /// The trends: replace the rows of the days `cover` says (the window, or some days of
    /// it), then drop days before the window.
    fn days(&mut self, table: &str, at: NaiveDateTime, rows: &[TrendRow], cover: &Cover) {
        let today = at.date();
        let first: NaiveDate = today - chrono::Days::new(WINDOW_DAYS - 1);
        match cover {
            Cover::Window => self.other(format!(
                "DELETE FROM {table} WHERE period_date BETWEEN {} AND {}",
                lit(&first),
                lit(&today)
            )),
            Cover::Days(days) if days.is_empty() => {}
            Cover::Days(days) => {
                let list: Vec<String> = days.iter().map(|d| lit(d)).collect();
                self.other(format!(
                    "DELETE FROM {table} WHERE period_date IN ({})",
                    list.join(", ")
                ));
            }
        }
        self.insert(table, at, rows);
        self.trim(table, "period_date", &first);
    }

    fn insert<R: MvRow>(&mut self, table: &str, at: NaiveDateTime, rows: &[R]) {
        for chunk in rows.chunks(BATCH) {
            let mut sql = format!("INSERT INTO {table} (snapshot_at, {}) VALUES ", R::COLUMNS);
            for (i, r) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                r.values(at, &mut sql);
            }
            self.statements.push((Kind::Insert, sql));
        }
    }

    /// Deletes rows whose `column` is before `before`, at most [`BATCH`] rows per statement.
    fn trim(&mut self, table: &str, column: &str, before: &dyn Literal) {
        self.statements.push((
            Kind::Trim,
            format!(
                "DELETE FROM {table} WHERE {column} < {} LIMIT {BATCH}",
                lit(before)
            ),
        ));
    }

    /// Sends the statements, as many per round trip as `text_bytes` allows, then repeats
    /// every trim that took a full batch until one takes less. Returns rows inserted.
    async fn run(self, conn: &mut MySqlConnection) -> Result<u64, sqlx::Error> {
        let mut inserted = 0;
        let mut again = Vec::new();
        let mut rest = self.statements.as_slice();
        while !rest.is_empty() {
            let mut bytes = 0;
            let n = rest
                .iter()
                .take_while(|(_, sql)| {
                    bytes += sql.len() + 1;
                    bytes <= self.text_bytes
                })
                .count()
                .max(1);
            let (batch, after) = rest.split_at(n);
            rest = after;
            let sql = batch
                .iter()
                .map(|(_, sql)| sql.as_str())
                .collect::<Vec<_>>()
                .join(";\n");
            let affected = text_each(conn, &sql).await?;
            for ((kind, sql), rows) in batch.iter().zip(affected) {
                match kind {
                    Kind::Insert => inserted += rows,
                    Kind::Trim if rows >= BATCH as u64 => again.push(sql.as_str()),
                    _ => {}
                }
            }
        }
        for sql in again {
            while text(conn, sql).await? >= BATCH as u64 {}
        }
        Ok(inserted)
    }
}

fn lit(v: &dyn Literal) -> String {
    let mut s = String::new();
    v.push(&mut s);
    s
}

/// The columns the writer fills in `view`'s mv_ table, `snapshot_at` first: a table lacking
/// one is not migrated (`flowtally check` asks).
pub fn written_columns(view: View) -> Vec<&'static str> {
    let rest = match view {
        View::Summary => SummaryRow::COLUMNS,
        View::Bottlenecks => BottleneckRow::COLUMNS,
        View::Workload => WorkloadRow::COLUMNS,
        View::CycleTime => CycleTimeRow::COLUMNS,
        View::Trends => TrendRow::COLUMNS,
    };
    std::iter::once("snapshot_at")
        .chain(rest.split(',').map(str::trim))
        .collect()
}

/// A view row as its mv_ table stores it (after snapshot_at).
trait MvRow {
    const COLUMNS: &'static str;
    /// Appends `(snapshot_at, the columns...)` as SQL.
    fn values(&self, at: NaiveDateTime, sql: &mut String);
}

impl MvRow for SummaryRow {
    const COLUMNS: &'static str =
        "graph_id, node_id, team_id, wip_count, completed_count, waiting_count";
    fn values(&self, at: NaiveDateTime, sql: &mut String) {
        tuple(
            sql,
            &[
                &at,
                &self.graph_id,
                &self.node_id,
                &self.team_id,
                &self.wip_count,
                &self.completed_count,
                &self.waiting_count,
            ],
        );
    }
}

impl MvRow for BottleneckRow {
    const COLUMNS: &'static str =
        "node_id, node_code, node_name, queue_depth, avg_wait_minutes, bottleneck_score";
    fn values(&self, at: NaiveDateTime, sql: &mut String) {
        tuple(
            sql,
            &[
                &at,
                &self.node_id,
                &self.node_code,
                &self.node_name,
                &self.queue_depth,
                &self.avg_wait_minutes,
                &self.bottleneck_score,
            ],
        );
    }
}

impl MvRow for WorkloadRow {
    const COLUMNS: &'static str =
        "team_id, team_name, team_category, active_tokens, waiting_tokens, avg_load";
    fn values(&self, at: NaiveDateTime, sql: &mut String) {
        tuple(
            sql,
            &[
                &at,
                &self.team_id,
                &self.team_name,
                &self.team_category,
                &self.active_tokens,
                &self.waiting_tokens,
                &self.avg_load,
            ],
        );
    }
}

impl MvRow for CycleTimeRow {
    const COLUMNS: &'static str = "node_id, team_id, period_start, period_end, token_count, \
        p50_minutes, p95_minutes, avg_minutes";
    fn values(&self, at: NaiveDateTime, sql: &mut String) {
        tuple(
            sql,
            &[
                &at,
                &self.node_id,
                &self.team_id,
                &self.period_start,
                &self.period_end,
                &self.token_count,
                &self.p50_minutes,
                &self.p95_minutes,
                &self.avg_minutes,
            ],
        );
    }
}

impl MvRow for TrendRow {
    const COLUMNS: &'static str = "period_date, production_type, graph_id, tokens_completed, \
        tokens_spawned, avg_lead_time_hours, throughput_per_day";
    fn values(&self, at: NaiveDateTime, sql: &mut String) {
        tuple(
            sql,
            &[
                &at,
                &self.period_date,
                &self.production_type,
                &self.graph_id,
                &self.tokens_completed,
                &self.tokens_spawned,
                &self.avg_lead_time_hours,
                &self.throughput_per_day,
            ],
        );
    }
}
