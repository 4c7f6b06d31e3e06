//! `flowtally refresh`: the drop-in for the cron script. Each selected tenant is loaded from
//! one consistent snapshot, its views computed at T (the command's start, truncated to the
//! second) and written like any snapshot, with the cron script's progress lines.

use std::io::Write;

use chrono::{NaiveDateTime, Timelike};
use sqlx::MySqlPool;

use crate::config::Config;
use crate::db::describe;
use crate::model::View;
use crate::sink::lease::Fenced;
use crate::sink::writer::WriteError;
use crate::sink::{migrate::missing_tables, writer};
use crate::source::snapshot::{load_tenant, LoadError};
use crate::tenants::Tenant;

/// T for a refresh started now.
pub fn instant_now(cfg: &Config) -> NaiveDateTime {
    let now = chrono::Utc::now()
        .with_timezone(&cfg.timezone)
        .naive_local();
    now.with_nanosecond(0).unwrap_or(now)
}

/// Why a tenant's refresh failed: the reason printed after `✗ Failed:`.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("no database for tenant {code} on the server (expected one named like its code)")]
    NoDatabase { code: String },
    #[error("{db} lacks {}: run `flowtally migrate --tenant {code}` first", tables.join(", "))]
    NoMvTables {
        db: String,
        code: String,
        tables: Vec<&'static str>,
    },
    #[error("{0}")]
    Load(#[from] LoadError),
    #[error("{}", describe(.0))]
    Db(#[from] sqlx::Error),
    /// Only a leased write can be fenced, and refresh writes without a lease: never met.
    #[error(transparent)]
    Fenced(#[from] Fenced),
}

impl From<WriteError> for RefreshError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Db(e) => RefreshError::Db(e),
            WriteError::Fenced(f) => RefreshError::Fenced(f),
        }
    }
}

/// Refreshes one tenant: rows written.
pub async fn refresh_tenant(
    source: &MySqlPool,
    sink: &MySqlPool,
    tenant: &Tenant,
    views: &[View],
    at: NaiveDateTime,
) -> Result<u64, RefreshError> {
    let Some(db) = &tenant.db else {
        return Err(RefreshError::NoDatabase {
            code: tenant.code.clone(),
        });
    };
    let mut w = sink.acquire().await?;
    let missing = missing_tables(&mut w, db).await?;
    if !missing.is_empty() {
        return Err(RefreshError::NoMvTables {
            db: db.clone(),
            code: tenant.code.clone(),
            tables: missing,
        });
    }
    let mut r = source.acquire().await?;
    let mut loaded = load_tenant(&mut r, db, at.date()).await?;
    drop(r);
    let snapshot = loaded.state.snapshot(at, views);
    // Every day recomputed is written, as the cron script wrote it.
    Ok(writer::write_as(
        &mut w,
        db,
        &snapshot,
        None,
        writer::Sending::Together,
        writer::Window::Replace,
    )
    .await?)
}

/// Runs the refresh of `tenants`, printing the cron script's lines to `out`. Returns whether
/// every tenant succeeded.
pub async fn run(
    source: &MySqlPool,
    sink: &MySqlPool,
    tenants: &[Tenant],
    views: &[View],
    at: NaiveDateTime,
    out: &mut impl Write,
) -> bool {
    let mut all_ok = true;
    for tenant in tenants {
        let _ = writeln!(
            out,
            "=== Refreshing Dashboard Materialized Tables for Tenant: {} ===\n",
            tenant.code
        );
        let _ = out.flush();
        let started = std::time::Instant::now();
        let result = refresh_tenant(source, sink, tenant, views, at).await;
        for v in views {
            let _ = writeln!(out, "Refreshing {}...", v.table());
            match &result {
                Ok(_) => {
                    let _ = writeln!(out, "✓ Done");
                }
                Err(reason) => {
                    let _ = writeln!(out, "✗ Failed: {reason}");
                }
            }
        }
        let _ = writeln!(out);
        match result {
            Ok(rows) => tracing::info!(
                tenant = %tenant.code, %at, rows, ms = started.elapsed().as_millis() as u64,
                "refreshed"
            ),
            Err(reason) => {
                all_ok = false;
                tracing::error!(tenant = %tenant.code, %reason, "refresh failed");
            }
        }
    }
    let _ = writeln!(out, "=== Refresh Complete ===");
    all_ok
}
