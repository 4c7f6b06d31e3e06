//! `flowtally migrate`: creates the five mv_ tables in a tenant database and upgrades tables
//! left by the ERP's original migration (no name columns) by adding what is missing, without
//! touching rows. Idempotent. The SQL lives in `migrations/`.
//!
//! Every statement names its table with the database (`db`.`mv_...`) and goes as plain text:
//! nothing depends on the connection's current database, and no DDL sits in a statement cache
//! (MariaDB runs a cached statement in the database it was prepared in). What it reports is
//! read from information_schema after the statements, not guessed before them.

use sqlx::MySqlConnection;

use crate::catalog;
use crate::db::{ident, text};
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

/// A statement of the migration files, understood well enough to aim it at one database.
#[derive(Debug, PartialEq, Eq)]
enum Statement {
    /// `CREATE TABLE IF NOT EXISTS t (...)`: the text after the table name.
    Create { table: String, rest: String },
    /// `ALTER TABLE t ADD COLUMN IF NOT EXISTS c ...`: run without IF NOT EXISTS (MySQL lacks
    /// it) when information_schema says the column is missing.
    AddColumn {
        table: String,
        column: String,
        definition: String,
    },
}

fn parse(stmt: &str) -> Option<Statement> {
    let words: Vec<&str> = stmt.split_whitespace().collect();
    match words.as_slice() {
        ["CREATE", "TABLE", "IF", "NOT", "EXISTS", table, ..] => {
            let at = stmt.find(table)? + table.len();
            Some(Statement::Create {
                table: table.to_string(),
                rest: stmt[at..].to_string(),
            })
        }
        ["ALTER", "TABLE", table, "ADD", "COLUMN", "IF", "NOT", "EXISTS", column, ..] => {
            let at = stmt.find(&format!(" {column} "))? + column.len() + 2;
            Some(Statement::AddColumn {
                table: table.to_string(),
                column: column.to_string(),
                definition: stmt[at..].to_string(),
            })
        }
        _ => None,
    }
}

/// The migration files' statements; a statement of another shape is a bug in `migrations/`.
fn plan() -> Vec<Statement> {
    statements(CREATE)
        .iter()
        .chain(statements(UPGRADE).iter())
        .map(|s| parse(s).unwrap_or_else(|| panic!("migrations/: unsupported statement {s}")))
        .collect()
}

/// What `migrate` did to one database.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Migrated {
    pub created: Vec<String>,
    pub columns_added: Vec<String>,
}

pub async fn migrate(conn: &mut MySqlConnection, db: &str) -> Result<Migrated, sqlx::Error> {
    let tables: Vec<&str> = View::ALL.iter().map(|v| v.table()).collect();
    let dbs = [db.to_string()];
    let before = catalog::read(conn, &dbs, &tables).await?;
    let q = ident(db);
    for stmt in plan() {
        match &stmt {
            Statement::Create { table, rest } => {
                text(
                    conn,
                    &format!("CREATE TABLE IF NOT EXISTS {q}.{} {rest}", ident(table)),
                )
                .await?;
            }
            Statement::AddColumn {
                table,
                column,
                definition,
            } => {
                let now = catalog::read(conn, &dbs, &[table.as_str()]).await?;
                let present = now
                    .columns(db, table)
                    .is_some_and(|cols| cols.iter().any(|c| c.eq_ignore_ascii_case(column)));
                if !present {
                    text(
                        conn,
                        &format!(
                            "ALTER TABLE {q}.{} ADD COLUMN {} {definition}",
                            ident(table),
                            ident(column)
                        ),
                    )
                    .await?;
                }
            }
        }
    }
    let after = catalog::read(conn, &dbs, &tables).await?;
    let mut done = Migrated::default();
    for t in &tables {
        if before.columns(db, t).is_none() && after.columns(db, t).is_some() {
            done.created.push(t.to_string());
        }
    }
    for stmt in plan() {
        if let Statement::AddColumn { table, column, .. } = stmt {
            let had = |c: &catalog::Catalog| {
                c.columns(db, &table)
                    .is_some_and(|cols| cols.iter().any(|c| c.eq_ignore_ascii_case(&column)))
            };
            // A column of a table created just now came with it: not an upgrade.
            if before.columns(db, &table).is_some() && !had(&before) && had(&after) {
                done.columns_added.push(format!("{table}.{column}"));
            }
        }
    }
    Ok(done)
}

/// The mv_ tables `db` lacks (all five when the database itself is missing).
pub async fn missing_tables(
    conn: &mut MySqlConnection,
    db: &str,
) -> Result<Vec<&'static str>, sqlx::Error> {
    let tables: Vec<&'static str> = View::ALL.iter().map(|v| v.table()).collect();
    let catalog = catalog::read(conn, &[db.to_string()], &tables).await?;
    Ok(catalog.missing_tables(db, &tables))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_files_parse() {
        let plan = plan();
        let creates = plan
            .iter()
            .filter(|s| matches!(s, Statement::Create { .. }))
            .count();
        assert_eq!(creates, 5);
        let adds: Vec<_> = plan
            .iter()
            .filter_map(|s| match s {
                Statement::AddColumn {
                    table,
                    column,
                    definition,
                } => Some((table.as_str(), column.as_str(), definition.as_str())),
                _ => None,
            })
            .collect();
        assert_eq!(adds.len(), 4);
        assert_eq!(adds[0].0, "mv_node_bottlenecks");
        assert_eq!(adds[0].1, "node_code");
        assert!(!adds[0].2.contains("IF NOT EXISTS"));
        assert!(adds[0].2.starts_with("VARCHAR"), "{}", adds[0].2);
        let Some(Statement::Create { table, rest }) = plan.first() else {
            panic!("{plan:?}")
        };
        assert_eq!(table, "mv_token_flow_summary");
        assert!(rest.trim_start().starts_with('('), "{rest}");
    }
}
