//! The writer's lease, for two or more instances in high availability (`[ha] enabled`): one
//! table in the sink's core database, [`TABLE`], which `migrate` creates. Its rows:
//!
//! - `writer`: who may write snapshots (`holder`), under which `term`, until `expires_at` (the
//!   server's clock, so the instances' clocks never matter). A takeover raises the term.
//! - `written:<tenant database>`: the last snapshot instant committed for that tenant
//!   (`written_at`, epoch seconds) and by whom: updated inside each snapshot transaction, so it
//!   is exactly what the sink holds. A new leader reads them to write every instant no leader
//!   committed, and nothing twice; a standby reads them to let go of what the leader wrote.
//! - `replica:<server_id>`: which instance uses that replica id, so that two instances given one
//!   `server_id` (their binlog connections would cut each other off) are told apart at start.
//!
//! Fencing: a snapshot transaction first reads the `writer` row with a shared lock and goes on
//! only if it still holds the term it was written under ([`fence`]). A takeover's UPDATE needs
//! the row exclusively, so it waits for snapshot transactions under way, and every later one
//! sees the new term: an instance that lost the lease commits nothing afterwards. A leader
//! paused inside a transaction holds that shared lock; its session's `wait_timeout` is set to
//! the lease for the transaction, so the server ends it and the takeover waits about a lease.
//!
//! Every statement names the table with its database and goes as plain text (no statement
//! cache: MariaDB runs a cached statement in the database it was prepared in).

use std::collections::HashMap;

use futures_util::future::BoxFuture;
use sqlx::{MySqlConnection, Row as _};

use crate::db::{ident, text, text_column};
use crate::live::TenantKey;
use crate::sink::literal::{tuple, Literal};

pub const TABLE: &str = "flowtally_lease";

const WRITER: &str = "writer";

/// The table, as `migrate` creates it.
pub fn create_sql(core_db: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {}.{} (\n  \
           name VARCHAR(100) NOT NULL PRIMARY KEY,\n  \
           holder VARCHAR(255) NOT NULL DEFAULT '',\n  \
           term BIGINT UNSIGNED NOT NULL DEFAULT 0,\n  \
           expires_at DATETIME(3) NULL,\n  \
           written_at BIGINT NULL\n\
         ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
        ident(core_db),
        ident(TABLE)
    )
}

fn table(core_db: &str) -> String {
    format!("{}.{}", ident(core_db), ident(TABLE))
}

/// The name of tenant `key`'s progress row.
fn written_row(key: &TenantKey) -> String {
    format!("written:{key}")
}

/// Who holds the writer's lease now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub holder: String,
    pub term: u64,
    /// Whether the lease runs out later than now, by the server's clock.
    pub live: bool,
}

/// Makes sure the `writer` row exists (a table fresh from `migrate` has none).
pub async fn ensure_writer_row(
    conn: &mut MySqlConnection,
    core_db: &str,
) -> Result<(), sqlx::Error> {
    text(
        conn,
        &format!(
            "INSERT IGNORE INTO {} (name, holder, term, expires_at) VALUES ('{WRITER}', '', 0, NULL)",
            table(core_db)
        ),
    )
    .await
    .map(drop)
}

/// The lease's holder, term and whether it is live.
pub async fn holder(
    conn: &mut MySqlConnection,
    core_db: &str,
) -> Result<Option<Holder>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT holder, CAST(term AS SIGNED), CAST(COALESCE(expires_at > UTC_TIMESTAMP(3), 0) AS SIGNED) \
         FROM {} WHERE name = '{WRITER}'",
        table(core_db)
    ))
    .persistent(false)
    .fetch_all(&mut *conn)
    .await?;
    let Some(row) = row.first() else {
        return Ok(None);
    };
    Ok(Some(Holder {
        holder: text_column(row, 0)?.unwrap_or_default(),
        term: row.try_get::<i64, _>(1)?.max(0) as u64,
        live: row.try_get::<i64, _>(2)? != 0,
    }))
}

/// Takes the lease for `secs` if it ran out (or was never held): the new term, or `None` when
/// another instance holds it. Waits at most the session's `innodb_lock_wait_timeout` for a
/// snapshot transaction under way.
pub async fn take(
    conn: &mut MySqlConnection,
    core_db: &str,
    me: &str,
    secs: u64,
) -> Result<Option<u64>, sqlx::Error> {
    let taken = sqlx::query(&format!(
        "UPDATE {} SET holder = ?, term = term + 1, \
         expires_at = UTC_TIMESTAMP(3) + INTERVAL ? SECOND \
         WHERE name = '{WRITER}' AND (expires_at IS NULL OR expires_at <= UTC_TIMESTAMP(3))",
        table(core_db)
    ))
    .bind(me)
    .bind(secs)
    .persistent(false)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if taken == 0 {
        return Ok(None);
    }
    Ok(holder(conn, core_db)
        .await?
        .filter(|h| h.holder == me)
        .map(|h| h.term))
}

/// Extends the lease `me` holds under `term` by `secs` from now; false when it is no longer
/// ours (taken over, or run out: then a new term must be taken).
pub async fn renew(
    conn: &mut MySqlConnection,
    core_db: &str,
    me: &str,
    term: u64,
    secs: u64,
) -> Result<bool, sqlx::Error> {
    let renewed = sqlx::query(&format!(
        "UPDATE {} SET expires_at = UTC_TIMESTAMP(3) + INTERVAL ? SECOND \
         WHERE name = '{WRITER}' AND holder = ? AND term = ? AND expires_at > UTC_TIMESTAMP(3)",
        table(core_db)
    ))
    .bind(secs)
    .bind(me)
    .bind(term)
    .persistent(false)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(renewed == 1)
}

/// Lets the lease go at once (a leader shutting down), so a standby need not wait it out.
pub async fn release(
    conn: &mut MySqlConnection,
    core_db: &str,
    me: &str,
    term: u64,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "UPDATE {} SET expires_at = UTC_TIMESTAMP(3) WHERE name = '{WRITER}' AND holder = ? AND term = ?",
        table(core_db)
    ))
    .bind(me)
    .bind(term)
    .persistent(false)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The last instant committed per tenant.
pub async fn written(
    conn: &mut MySqlConnection,
    core_db: &str,
) -> Result<HashMap<TenantKey, i64>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT SUBSTRING(name, 9), written_at FROM {} \
         WHERE name LIKE 'written:%' AND written_at IS NOT NULL",
        table(core_db)
    ))
    .persistent(false)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for row in &rows {
        if let (Some(db), Some(at)) = (text_column(row, 0)?, row.try_get::<Option<i64>, _>(1)?) {
            out.insert(TenantKey::of_db(&db), at);
        }
    }
    Ok(out)
}

/// A snapshot transaction's proof of leadership.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub core_db: String,
    pub holder: String,
    pub term: u64,
    /// The lease, seconds: the session's `wait_timeout` while the transaction is open.
    pub lease_secs: u64,
}

/// The lease was taken over: this instance may no longer write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the writer's lease is now {holder}'s (term {term}, ours was {ours}): snapshot not committed"
)]
pub struct Fenced {
    pub holder: String,
    pub term: u64,
    pub ours: u64,
}

/// Inside a snapshot transaction: locks the `writer` row shared and checks the term. Boxed,
/// as [`crate::db::text`] is, so the snapshot writer's futures stay `Send`.
pub fn fence<'c>(
    conn: &'c mut MySqlConnection,
    f: &'c Fence,
) -> BoxFuture<'c, Result<Result<(), Fenced>, sqlx::Error>> {
    Box::pin(fence_in(conn, f))
}

async fn fence_in(
    conn: &mut MySqlConnection,
    f: &Fence,
) -> Result<Result<(), Fenced>, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT holder, CAST(term AS SIGNED) FROM {} WHERE name = '{WRITER}' LOCK IN SHARE MODE",
        table(&f.core_db)
    ))
    .persistent(false)
    .fetch_all(&mut *conn)
    .await?;
    let (holder, term) = match row.first() {
        Some(row) => (
            text_column(row, 0)?.unwrap_or_default(),
            row.try_get::<i64, _>(1)?.max(0) as u64,
        ),
        None => (String::new(), 0),
    };
    if holder == f.holder && term == f.term {
        Ok(Ok(()))
    } else {
        Ok(Err(Fenced {
            holder,
            term,
            ours: f.term,
        }))
    }
}

/// The statement that, inside a snapshot transaction, records tenant `key`'s instant `at` as
/// committed (text: it travels with the snapshot's other statements, `super::literal`).
pub fn record_written_sql(f: &Fence, key: &TenantKey, at: i64) -> String {
    let mut values = String::new();
    tuple(&mut values, &[&written_row(key), &f.holder, &f.term, &at]);
    let (mut holder, mut term) = (String::new(), String::new());
    f.holder.push(&mut holder);
    f.term.push(&mut term);
    format!(
        "INSERT INTO {} (name, holder, term, written_at) VALUES {values} \
         ON DUPLICATE KEY UPDATE holder = {holder}, term = {term}, \
         written_at = GREATEST(COALESCE(written_at, 0), {at})",
        table(&f.core_db)
    )
}

/// Another live instance uses the same replica id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "[source] server_id = {server_id} is in use by another flowtally instance ({other}): two \
     binlog connections with one replica id cut each other off; give each instance its own \
     server_id (distinct from every server's and replica's too)"
)]
pub struct ServerIdInUse {
    pub server_id: u32,
    pub other: String,
}

/// Claims replica id `server_id` for `me` for `secs` (renewed with the lease): refused while
/// another instance's claim is live.
pub async fn claim_server_id(
    conn: &mut MySqlConnection,
    core_db: &str,
    server_id: u32,
    me: &str,
    secs: u64,
) -> Result<Result<(), ServerIdInUse>, sqlx::Error> {
    let name = format!("replica:{server_id}");
    let t = table(core_db);
    sqlx::query(&format!(
        "INSERT IGNORE INTO {t} (name, holder, term, expires_at) VALUES (?, '', 0, NULL)"
    ))
    .bind(&name)
    .persistent(false)
    .execute(&mut *conn)
    .await?;
    let claimed = sqlx::query(&format!(
        "UPDATE {t} SET holder = ?, expires_at = UTC_TIMESTAMP(3) + INTERVAL ? SECOND \
         WHERE name = ? AND (holder = ? OR expires_at IS NULL OR expires_at <= UTC_TIMESTAMP(3))"
    ))
    .bind(me)
    .bind(secs)
    .bind(&name)
    .bind(me)
    .persistent(false)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if claimed == 1 {
        return Ok(Ok(()));
    }
    let row = sqlx::query(&format!("SELECT holder FROM {t} WHERE name = ?"))
        .bind(&name)
        .persistent(false)
        .fetch_optional(&mut *conn)
        .await?;
    let other = match row {
        Some(r) => text_column(&r, 0)?.unwrap_or_default(),
        None => String::new(),
    };
    // Claimed by ourselves a moment ago with the same expiry: MySQL counts no row changed.
    if other == me {
        return Ok(Ok(()));
    }
    Ok(Err(ServerIdInUse { server_id, other }))
}
