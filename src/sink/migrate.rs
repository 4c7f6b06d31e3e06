//! `flowtally migrate`: creates the five mv_ tables in a tenant database and upgrades tables
//! left by the ERP's original migration (no name columns) by adding what is missing, without
//! touching rows. Idempotent. The SQL lives in `migrations/`.

use sqlx::{MySqlConnection, Row};

use crate::db::ident;
use crate::model::View;

const CREATE: &str = include_str!("../../migrations/0001_mv_tables.sql");
const UPGRADE: &str = include_str!("../../migrations/0002_denormalised_names.sql");

/// The statements of a migration file: `--` comment lines dropped first (they may hold `;`).
fn statements(sql: &str) -> Vec<String> {
    let body: String = sql
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    body.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `ALTER TABLE t ADD COLUMN IF NOT EXISTS c ...` → (t, c, the statement without IF NOT EXISTS),
/// so the check also works on MySQL, which lacks that clause.
fn added_column(stmt: &str) -> Option<(String, String, String)> {
    let words: Vec<&str> = stmt.split_whitespace().collect();
    match words.as_slice() {
        ["ALTER", "TABLE", table, "ADD", "COLUMN", "IF", "NOT", "EXISTS", column, ..] => Some((
            table.to_string(),
            column.to_string(),
            stmt.replacen("IF NOT EXISTS ", "", 1),
        )),
        _ => None,
    }
}

/// What `migrate` did to one database.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Migrated {
    pub created: Vec<String>,
    pub columns_added: Vec<String>,
}

pub async fn migrate(conn: &mut MySqlConnection, db: &str) -> Result<Migrated, sqlx::Error> {
    let before = existing_tables(conn, db).await?;
    sqlx::query(&format!("USE {}", ident(db)))
        .execute(&mut *conn)
        .await?;
    let mut done = Migrated::default();
    for stmt in statements(CREATE) {
        sqlx::query(&stmt).execute(&mut *conn).await?;
    }
    for v in View::ALL {
        if !before.iter().any(|t| t == v.table()) {
            done.created.push(v.table().to_string());
        }
    }
    for stmt in statements(UPGRADE) {
        let Some((table, column, plain)) = added_column(&stmt) else {
            sqlx::query(&stmt).execute(&mut *conn).await?;
            continue;
        };
        let present: i64 = sqlx::query(
            "SELECT COUNT(*) FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ?",
        )
        .bind(db)
        .bind(&table)
        .bind(&column)
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
        if present == 0 {
            sqlx::query(&plain).execute(&mut *conn).await?;
            done.columns_added.push(format!("{table}.{column}"));
        }
    }
    Ok(done)
}

async fn existing_tables(conn: &mut MySqlConnection, db: &str) -> Result<Vec<String>, sqlx::Error> {
    let rows =
        sqlx::query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?")
            .bind(db)
            .fetch_all(&mut *conn)
            .await?;
    rows.iter()
        .map(|r| {
            r.try_get::<Vec<u8>, _>(0)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
        })
        .collect()
}

/// The mv_ tables `db` lacks (all five when the database itself is missing).
pub async fn missing_tables(
    conn: &mut MySqlConnection,
    db: &str,
) -> Result<Vec<&'static str>, sqlx::Error> {
    let have = existing_tables(conn, db).await?;
    Ok(View::ALL
        .iter()
        .map(|v| v.table())
        .filter(|t| !have.iter().any(|h| h == t))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_files_parse() {
        assert_eq!(statements(CREATE).len(), 5);
        let adds: Vec<_> = statements(UPGRADE)
            .iter()
            .filter_map(|s| added_column(s))
            .collect();
        assert_eq!(adds.len(), 4);
        assert_eq!(adds[0].0, "mv_node_bottlenecks");
        assert_eq!(adds[0].1, "node_code");
        assert!(!adds[0].2.contains("IF NOT EXISTS"));
    }
}
