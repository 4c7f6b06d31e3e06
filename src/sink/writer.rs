//! Idempotent snapshot writes (docs/architecture.md, "Writes"): one transaction per tenant that deletes the rows of
//! that snapshot_at, inserts the new ones, and deletes what fell out of retention in bounded
//! batches. Trends replace the rows of the days they cover. Writing a snapshot twice leaves the
//! tables as writing it once.

use chrono::{NaiveDate, NaiveDateTime};
use sqlx::mysql::MySql;
use sqlx::query_builder::Separated;
use sqlx::{MySqlConnection, QueryBuilder};

use crate::db::{ident, text};
use crate::live::TenantKey;
use crate::model::decimal::Dec2;
use crate::model::views::trends::WINDOW_DAYS;
use crate::model::views::ViewRows;
use crate::model::views::{
    bottlenecks::BottleneckRow, cycle_time::CycleTimeRow, summary::SummaryRow, trends::TrendRow,
    workload::WorkloadRow,
};
use crate::model::{Snapshot, View};
use crate::sink::lease::{self, Fence, Fenced};

/// Rows per INSERT statement and per retention DELETE.
const BATCH: usize = 1_000;

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
pub async fn write(
    conn: &mut MySqlConnection,
    db: &str,
    snap: &Snapshot,
    leased: Option<Leased<'_>>,
) -> Result<u64, WriteError> {
    if let Some(l) = &leased {
        let secs = l.fence.lease_secs.max(1);
        text(
            conn,
            &format!("SET SESSION wait_timeout = {secs}, innodb_lock_wait_timeout = {secs}"),
        )
        .await?;
    }
    text(conn, "START TRANSACTION").await?;
    let result = match &leased {
        Some(l) => match lease::fence(conn, l.fence).await {
            Ok(Ok(())) => write_in_tx(conn, db, snap.at, snap)
                .await
                .map_err(WriteError::from),
            Ok(Err(fenced)) => Err(fenced.into()),
            Err(e) => Err(e.into()),
        },
        None => write_in_tx(conn, db, snap.at, snap)
            .await
            .map_err(WriteError::from),
    };
    let result = match (result, &leased) {
        (Ok(n), Some(l)) => lease::record_written(conn, l.fence, l.key, l.instant)
            .await
            .map(|()| n)
            .map_err(WriteError::from),
        (other, _) => other,
    };
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

async fn write_in_tx(
    conn: &mut MySqlConnection,
    db: &str,
    at: NaiveDateTime,
    snap: &Snapshot,
) -> Result<u64, sqlx::Error> {
    let mut inserted = 0;
    for rows in &snap.views {
        let view = rows.view();
        inserted += match rows {
            ViewRows::Summary(r) => write_series(conn, db, view, at, r).await?,
            ViewRows::Bottlenecks(r) => write_series(conn, db, view, at, r).await?,
            ViewRows::Workload(r) => write_series(conn, db, view, at, r).await?,
            ViewRows::CycleTime(r) => write_series(conn, db, view, at, r).await?,
            ViewRows::Trends(r) => write_days(conn, db, at, r).await?,
        };
    }
    Ok(inserted)
}

/// The trends: replace the rows of the days in the window, then drop days before it.
async fn write_days(
    conn: &mut MySqlConnection,
    db: &str,
    at: NaiveDateTime,
    rows: &[TrendRow],
) -> Result<u64, sqlx::Error> {
    let t = format!("{}.{}", ident(db), View::Trends.table());
    let today = at.date();
    let first: NaiveDate = today - chrono::Days::new(WINDOW_DAYS - 1);
    sqlx::query(&format!(
        "DELETE FROM {t} WHERE period_date BETWEEN ? AND ?"
    ))
    .bind(first)
    .bind(today)
    .execute(&mut *conn)
    .await?;
    let n = insert_rows(conn, &t, at, rows).await?;
    trim(conn, &t, "period_date", first).await?;
    Ok(n)
}

/// An append-only snapshot series: replace the rows of `at`, then trim past retention.
async fn write_series<R: MvRow>(
    conn: &mut MySqlConnection,
    db: &str,
    view: View,
    at: NaiveDateTime,
    rows: &[R],
) -> Result<u64, sqlx::Error> {
    let t = format!("{}.{}", ident(db), view.table());
    sqlx::query(&format!("DELETE FROM {t} WHERE snapshot_at = ?"))
        .bind(at)
        .execute(&mut *conn)
        .await?;
    let n = insert_rows(conn, &t, at, rows).await?;
    let oldest = at - chrono::Duration::seconds(view.retention_secs());
    trim(conn, &t, "snapshot_at", oldest).await?;
    Ok(n)
}

async fn insert_rows<R: MvRow>(
    conn: &mut MySqlConnection,
    table: &str,
    at: NaiveDateTime,
    rows: &[R],
) -> Result<u64, sqlx::Error> {
    let mut n = 0;
    for chunk in rows.chunks(BATCH) {
        let mut q: QueryBuilder<MySql> = QueryBuilder::new(format!(
            "INSERT INTO {table} (snapshot_at, {}) ",
            R::COLUMNS
        ));
        q.push_values(chunk, |mut b, r| {
            b.push_bind(at);
            r.bind(&mut b);
        });
        n += q.build().execute(&mut *conn).await?.rows_affected();
    }
    Ok(n)
}

type Values<'q, 'a> = Separated<'q, 'a, MySql, &'static str>;

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
    fn bind(&self, b: &mut Values<'_, '_>);
}

fn dec(d: Option<Dec2>) -> Option<String> {
    d.map(|d| d.to_string())
}

impl MvRow for SummaryRow {
    const COLUMNS: &'static str =
        "graph_id, node_id, team_id, wip_count, completed_count, waiting_count";
    fn bind(&self, b: &mut Values<'_, '_>) {
        b.push_bind(self.graph_id)
            .push_bind(self.node_id)
            .push_bind(self.team_id)
            .push_bind(self.wip_count)
            .push_bind(self.completed_count)
            .push_bind(self.waiting_count);
    }
}

impl MvRow for BottleneckRow {
    const COLUMNS: &'static str =
        "node_id, node_code, node_name, queue_depth, avg_wait_minutes, bottleneck_score";
    fn bind(&self, b: &mut Values<'_, '_>) {
        b.push_bind(self.node_id)
            .push_bind(self.node_code.clone())
            .push_bind(self.node_name.clone())
            .push_bind(self.queue_depth)
            .push_bind(dec(self.avg_wait_minutes))
            .push_bind(self.bottleneck_score.to_string());
    }
}

impl MvRow for WorkloadRow {
    const COLUMNS: &'static str =
        "team_id, team_name, team_category, active_tokens, waiting_tokens, avg_load";
    fn bind(&self, b: &mut Values<'_, '_>) {
        b.push_bind(self.team_id)
            .push_bind(self.team_name.clone())
            .push_bind(self.team_category.clone())
            .push_bind(self.active_tokens)
            .push_bind(self.waiting_tokens)
            .push_bind(dec(self.avg_load));
    }
}

impl MvRow for CycleTimeRow {
    const COLUMNS: &'static str = "node_id, team_id, period_start, period_end, token_count, \
        p50_minutes, p95_minutes, avg_minutes";
    fn bind(&self, b: &mut Values<'_, '_>) {
        b.push_bind(self.node_id)
            .push_bind(self.team_id)
            .push_bind(self.period_start)
            .push_bind(self.period_end)
            .push_bind(self.token_count)
            .push_bind(dec(self.p50_minutes))
            .push_bind(dec(self.p95_minutes))
            .push_bind(dec(self.avg_minutes));
    }
}

impl MvRow for TrendRow {
    const COLUMNS: &'static str = "period_date, production_type, graph_id, tokens_completed, \
        tokens_spawned, avg_lead_time_hours, throughput_per_day";
    fn bind(&self, b: &mut Values<'_, '_>) {
        b.push_bind(self.period_date)
            .push_bind(self.production_type.clone())
            .push_bind(self.graph_id)
            .push_bind(self.tokens_completed)
            .push_bind(self.tokens_spawned)
            .push_bind(dec(self.avg_lead_time_hours))
            .push_bind(self.throughput_per_day.to_string());
    }
}

/// Deletes rows whose `column` is before `before`, at most BATCH rows per statement.
async fn trim<T>(
    conn: &mut MySqlConnection,
    table: &str,
    column: &str,
    before: T,
) -> Result<(), sqlx::Error>
where
    T: for<'q> sqlx::Encode<'q, MySql> + sqlx::Type<MySql> + Copy + Send,
{
    let sql = format!("DELETE FROM {table} WHERE {column} < ? LIMIT {BATCH}");
    loop {
        let n = sqlx::query(&sql)
            .bind(before)
            .execute(&mut *conn)
            .await?
            .rows_affected();
        if n < BATCH as u64 {
            return Ok(());
        }
    }
}
