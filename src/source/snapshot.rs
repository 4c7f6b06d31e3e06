//! The consistent-snapshot loader: one tenant's source rows read inside
//! `START TRANSACTION WITH CONSISTENT SNAPSHOT` (REPEATABLE READ, no locks), streamed row by row
//! into a fresh [`TenantState`] as the same [`Change`]s the binlog produces.
//!
//! Only rows that can still matter are read: live tokens, tokens spawned or completed within the
//! trends look-back, open assignments, assignments completed within the cycle-time week, and all
//! dimension rows. Columns are read by name with casts, so production tables with other column
//! types or many more columns load the same way.

use chrono::NaiveDate;
use futures_util::TryStreamExt;
use sqlx::{MySqlConnection, Row as _};

use serde::{Deserialize, Serialize};

use super::gtid::{Gtid, MySqlGtidSet};
use super::Flavor;
use super::Position;
use crate::db::{ident, name_column, text, text_column, u64_column};
use crate::model::views::trends::LOOKBACK_DAYS;
use crate::model::{Change, Row, TenantState, Value};
use crate::schema::{Column, Kind, SchemaProblem, Table, TableProblem};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A source table or column is missing: the tenant cannot be served until it is fixed.
    #[error("{0}")]
    Schema(TableProblem),
    #[error("{0}")]
    Db(#[from] sqlx::Error),
}

pub struct Loaded {
    pub state: TenantState,
    /// What the snapshot saw, as precisely as the server tells.
    pub point: Option<LoadPoint>,
    /// The server's clock (epoch seconds) when the snapshot started: every transaction in it
    /// is dated no later (commit events are dated by that same clock).
    pub server_time: i64,
    pub rows: u64,
    /// Rows that could not be keyed (NULL primary key).
    pub unkeyed: u64,
}

/// The transactions a consistent-snapshot load saw. It only ever names transactions the
/// snapshot holds; a transaction it does not name may still be in the snapshot (replaying it
/// onto the load is harmless, see `service::slot`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LoadPoint {
    /// MariaDB's `binlog_snapshot_file` / `binlog_snapshot_position` of the snapshot (exact);
    /// on MySQL without GTIDs, the end of the binlog when it did not move while the snapshot
    /// started. Transactions ending at or before it.
    Position(Position),
    /// MySQL with GTIDs: `@@gtid_executed` read just before the snapshot started. A GTID
    /// joins that set only after its transaction committed in the storage engine, so every
    /// transaction in it is in the snapshot.
    Gtids(String),
}

impl LoadPoint {
    /// Whether the load saw the transaction ending at `end` with GTID `gtid`.
    pub fn includes(&self, end: &Position, gtid: Option<&Gtid>) -> bool {
        match self {
            LoadPoint::Position(p) => !end.is_after(p),
            LoadPoint::Gtids(set) => gtid.and_then(|g| g.is_in(set)).unwrap_or(false),
        }
    }

    /// Whether the stream, at `end`, is past everything the load saw.
    pub fn passed_by(&self, end: &Position) -> bool {
        match self {
            LoadPoint::Position(p) => !p.is_after(end),
            LoadPoint::Gtids(set) => match (
                end.gtid.as_deref().and_then(MySqlGtidSet::parse),
                MySqlGtidSet::parse(set),
            ) {
                (Some(stream), Some(load)) => stream.contains(&load),
                _ => false,
            },
        }
    }
}

/// Dimensions first, so each token finds its instance (and trends group) when it is filed
/// rather than being moved once its instance arrives.
const LOAD_ORDER: [Table; 7] = [
    Table::Graph,
    Table::Node,
    Table::Team,
    Table::Member,
    Table::Instance,
    Table::Token,
    Table::Assignment,
];

/// The SELECT list for `table`'s needed columns, normalised by casts, so production tables with
/// other column types read the same way. An optional column the table lacks (`present` says
/// which it has) reads as NULL.
fn select_list(table: Table, present: &[String]) -> String {
    table
        .columns()
        .iter()
        .map(|c| {
            let col = if c.optional && !present.iter().any(|p| p.eq_ignore_ascii_case(c.name)) {
                "NULL".to_string()
            } else {
                ident(c.name)
            };
            match c.kind {
                Kind::Int => format!("CAST({col} AS SIGNED)"),
                // Bytes, so a name that is not valid UTF-8 still loads (replaced, not rejected).
                Kind::Text => format!("CAST({col} AS BINARY)"),
                // A zero date (allowed by a lax sql_mode) reads as NULL; compared with a valid
                // literal, since MySQL's default NO_ZERO_DATE refuses a zero-date literal.
                Kind::DateTime => {
                    format!("CAST(IF({col} < '1000-01-01', NULL, {col}) AS DATETIME)")
                }
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn filter(table: Table, today: NaiveDate) -> String {
    let trends_from = today - chrono::Days::new(LOOKBACK_DAYS - 1);
    let week_from = crate::model::completions::week_start(today);
    match table {
        Table::Token => format!(
            " WHERE status IS NULL OR status NOT IN ('completed','scrapped') \
             OR spawned_at >= '{trends_from}' OR completed_at >= '{trends_from}'"
        ),
        Table::Assignment => format!(
            " WHERE status IS NULL OR status NOT IN ('completed','cancelled','rejected') \
             OR (status = 'completed' AND completed_at >= '{week_from}')"
        ),
        _ => String::new(),
    }
}

fn value(row: &sqlx::mysql::MySqlRow, i: usize, column: &Column) -> Result<Value, sqlx::Error> {
    Ok(match column.kind {
        Kind::Int => row
            .try_get::<Option<i64>, _>(i)?
            .map_or(Value::Null, Value::Int),
        Kind::Text => text_column(row, i)?.map_or(Value::Null, Value::Text),
        Kind::DateTime => row
            .try_get::<Option<chrono::NaiveDateTime>, _>(i)?
            .map_or(Value::Null, Value::DateTime),
    })
}

/// Loads tenant database `db` as of one consistent snapshot. `today` (the factory's local date
/// now) bounds the history read.
pub async fn load_tenant(
    conn: &mut MySqlConnection,
    db: &str,
    today: NaiveDate,
) -> Result<Loaded, LoadError> {
    text(
        conn,
        "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
    )
    .await?;
    let server_time: i64 = sqlx::query_scalar("SELECT CAST(UNIX_TIMESTAMP() AS SIGNED)")
        .fetch_one(&mut *conn)
        .await?;
    let point = start_snapshot(conn).await?;
    let result = load_in_transaction(conn, db, today, point, server_time).await;
    // Read-only: ending it either way changes nothing.
    let _ = text(conn, "ROLLBACK").await;
    result
}

const START: &str = "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY";

/// Starts the snapshot transaction, and tells what it saw (see [`LoadPoint`]).
async fn start_snapshot(conn: &mut MySqlConnection) -> Result<Option<LoadPoint>, sqlx::Error> {
    let version = sqlx::query("SELECT VERSION()")
        .fetch_one(&mut *conn)
        .await?;
    if Flavor::of_version(&name_column(&version, 0)?) == Flavor::MariaDb {
        text(conn, START).await?;
        return mariadb_snapshot_position(conn).await;
    }
    let gtids = sqlx::query("SELECT @@GLOBAL.gtid_executed")
        .fetch_one(&mut *conn)
        .await?;
    let gtids: String = name_column(&gtids, 0)?.split_whitespace().collect();
    if !gtids.is_empty() {
        text(conn, START).await?;
        return Ok(Some(LoadPoint::Gtids(gtids)));
    }
    // No GTIDs: a binlog end that did not move while the snapshot started.
    for _ in 0..3 {
        let before = binlog_end(conn).await?;
        text(conn, START).await?;
        if before.is_some() && binlog_end(conn).await? == before {
            return Ok(before.map(LoadPoint::Position));
        }
        text(conn, "ROLLBACK").await?;
    }
    text(conn, START).await?;
    Ok(None)
}

/// The end of the binlog: `SHOW BINARY LOG STATUS` (MySQL 8.2+; 8.4 dropped the old name), else
/// `SHOW MASTER STATUS` (MariaDB, older MySQL).
pub async fn binlog_end(conn: &mut MySqlConnection) -> Result<Option<Position>, sqlx::Error> {
    let rows = match sqlx::query("SHOW BINARY LOG STATUS")
        .fetch_all(&mut *conn)
        .await
    {
        Ok(rows) => rows,
        Err(_) => {
            sqlx::query("SHOW MASTER STATUS")
                .fetch_all(&mut *conn)
                .await?
        }
    };
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let pos = u64_column(row, 1);
    Ok(pos.map(|pos| Position {
        file: name_column(row, 0).unwrap_or_default(),
        pos,
        gtid: None,
    }))
}

async fn load_in_transaction(
    conn: &mut MySqlConnection,
    db: &str,
    today: NaiveDate,
    point: Option<LoadPoint>,
    server_time: i64,
) -> Result<Loaded, LoadError> {
    let mut loaded = Loaded {
        state: TenantState::default(),
        point,
        server_time,
        rows: 0,
        unkeyed: 0,
    };
    for table in LOAD_ORDER {
        let present = optional_columns_present(conn, db, table).await?;
        let sql = format!(
            "SELECT {} FROM {}.{}{}",
            select_list(table, &present),
            ident(db),
            ident(table.name()),
            filter(table, today)
        );
        let mut rows = sqlx::query(&sql).fetch(&mut *conn);
        let mut values = Vec::with_capacity(table.columns().len());
        loop {
            let row = match rows.try_next().await {
                Ok(Some(row)) => row,
                Ok(None) => break,
                Err(e) => return Err(schema_error(db, table, e)),
            };
            values.clear();
            for (i, c) in table.columns().iter().enumerate() {
                values.push(value(&row, i, c)?);
            }
            match Row::decode(table, &values) {
                Some(r) => loaded.state.apply(Change::Upsert(r)),
                None => loaded.unkeyed += 1,
            }
            loaded.rows += 1;
        }
    }
    Ok(loaded)
}

/// Which of `table`'s optional columns the table has (as the login sees them in
/// information_schema); none asked when it reads none.
async fn optional_columns_present(
    conn: &mut MySqlConnection,
    db: &str,
    table: Table,
) -> Result<Vec<String>, sqlx::Error> {
    let optional: Vec<&str> = table
        .columns()
        .iter()
        .filter(|c| c.optional)
        .map(|c| c.name)
        .collect();
    if optional.is_empty() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
    )
    .bind(db)
    .bind(table.name())
    .fetch_all(&mut *conn)
    .await?;
    let mut present = Vec::new();
    for r in &rows {
        let name = name_column(r, 0)?;
        if optional.iter().any(|o| o.eq_ignore_ascii_case(&name)) {
            present.push(name);
        }
    }
    Ok(present)
}

/// A missing table, column or database is a [`SchemaProblem`]; other errors pass through.
fn schema_error(db: &str, table: Table, e: sqlx::Error) -> LoadError {
    let (code, message) = match &e {
        sqlx::Error::Database(d) => (d.code().map(|c| c.to_string()), d.message().to_string()),
        _ => (None, String::new()),
    };
    let problem = match code.as_deref() {
        // ER_NO_SUCH_TABLE
        Some("42S02") => SchemaProblem::MissingTable {
            table: table.name().to_string(),
        },
        // ER_BAD_FIELD_ERROR: "Unknown column 'x' in 'field list'"
        Some("42S22") => SchemaProblem::MissingColumns {
            table: table.name().to_string(),
            columns: match message.split('\'').nth(1) {
                Some(column) => vec![column.to_string()],
                None => table.columns().iter().map(|c| c.name.to_string()).collect(),
            },
        },
        // ER_BAD_DB_ERROR (42000 is also the class of denied commands: those pass through)
        Some("42000") if message.contains("Unknown database") => SchemaProblem::NoDatabase,
        _ => return LoadError::Db(e),
    };
    LoadError::Schema(TableProblem {
        db: db.to_string(),
        problem,
    })
}

/// MariaDB reports the exact binlog position of a consistent snapshot.
async fn mariadb_snapshot_position(
    conn: &mut MySqlConnection,
) -> Result<Option<LoadPoint>, sqlx::Error> {
    let rows = sqlx::query("SHOW STATUS LIKE 'binlog_snapshot_%'")
        .fetch_all(&mut *conn)
        .await?;
    let mut file = None;
    let mut pos = None;
    for r in &rows {
        let name = name_column(r, 0)?;
        let value = name_column(r, 1)?;
        match name.to_ascii_lowercase().as_str() {
            "binlog_snapshot_file" if !value.is_empty() => file = Some(value),
            "binlog_snapshot_position" => pos = value.parse().ok(),
            _ => {}
        }
    }
    Ok(file.zip(pos).map(|(file, pos)| {
        LoadPoint::Position(Position {
            file,
            pos,
            gtid: None,
        })
    }))
}
