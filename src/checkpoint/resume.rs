//! Whether the checkpoint in a state directory can be resumed on the server at hand: `run`'s
//! start-up decides with it whether to resume or recompute, and `flowtally check` reports the
//! same decision without starting anything.

use std::path::Path;
use std::time::Duration;

use sqlx::{MySqlPool, Row as _};

use super::{path, Manifest, Refused};
use crate::db::{describe, name_column};
use crate::source::binlog::{BinlogOptions, BinlogStream, Flavor, ServerInfo, StreamError};
use crate::source::Position;

/// The checkpoint in `dir`, when it can be resumed on `server`: this server's and its binlog
/// file still there; or, after a failover, another member's of the same replication topology
/// whose GTID state this server holds with everything after it. Its position is then the one
/// to resume from (a GTID state after a failover). The parts are not read.
pub async fn resumable(
    dir: &Path,
    server: &ServerInfo,
    source: &MySqlPool,
    binlog: &BinlogOptions,
) -> Result<Manifest, Refused> {
    let mut manifest = Manifest::load(dir)?;
    let same_server = manifest.server == server.identity;
    if same_server && manifest.position.resumes_by_gtid() {
        // Taken after a failover resume, before any transaction gave it this server's file
        // and offset: it names a GTID state only, which is checked as a failover's is.
        let gtids = failover(&manifest, server, source, binlog)
            .await
            .map_err(|why| {
                Refused::Purged(format!(
                    "holding the transactions after GTID state {} ({why})",
                    manifest.position.gtid.as_deref().unwrap_or_default()
                ))
            })?;
        manifest.position = Position::at_gtids(gtids);
    } else if same_server {
        let logs = sqlx::query("SHOW BINARY LOGS")
            .fetch_all(source)
            .await
            .map_err(|e| Refused::Corrupt(path(dir), describe(&e)))?;
        let present = logs
            .iter()
            .filter_map(|r| name_column(r, 0).ok())
            .any(|f| f == manifest.position.file);
        if !present {
            return Err(Refused::Purged(manifest.position.file));
        }
    } else {
        let gtids = failover(&manifest, server, source, binlog)
            .await
            .map_err(|why| Refused::OtherServer {
                found: manifest.server.clone(),
                expected: server.identity.clone(),
                why: format!("; no failover resume: {why}"),
            })?;
        tracing::info!(
            from = %manifest.server,
            to = %server.identity,
            %gtids,
            "failover: the checkpoint's GTID state is on this server; resuming from it"
        );
        manifest.position = Position::at_gtids(gtids);
    }
    Ok(manifest)
}

/// Why a checkpoint of another server cannot be resumed here.
#[derive(Debug, thiserror::Error)]
enum NoFailover {
    #[error("the checkpoint has no GTID state (GTIDs were off)")]
    NoGtids,
    #[error("this server has not executed every GTID of the checkpoint ({0})")]
    NotExecuted(String),
    /// The setting that, off on a replica, keeps what it replicates out of its binlog.
    #[error(
        "this server's binlog lacks transactions after the checkpoint (purged, or applied as a \
         replica with {0}=OFF)"
    )]
    Purged(&'static str),
    #[error("cannot compare GTID sets: {}", describe(.0))]
    Compare(#[from] sqlx::Error),
    #[error("{0}")]
    Refused(#[from] StreamError),
}

/// Whether a checkpoint taken on another server can be resumed here, by its GTID state: GTIDs
/// on, every GTID of the checkpoint executed here, and every transaction after them still in
/// this server's binlog. The GTID state to resume from, or why not.
async fn failover(
    manifest: &Manifest,
    server: &ServerInfo,
    source: &MySqlPool,
    binlog: &BinlogOptions,
) -> Result<String, NoFailover> {
    let Some(gtids) = manifest.position.gtid.clone() else {
        return Err(NoFailover::NoGtids);
    };
    if server.flavor == Flavor::MySql {
        let row = sqlx::query(
            "SELECT GTID_SUBSET(?, @@GLOBAL.gtid_executed), \
             GTID_SUBSET(@@GLOBAL.gtid_purged, ?)",
        )
        .bind(&gtids)
        .bind(&gtids)
        .fetch_one(source)
        .await?;
        let executed: i64 = row.try_get(0)?;
        let kept: i64 = row.try_get(1)?;
        if executed != 1 {
            return Err(NoFailover::NotExecuted(gtids));
        }
        if kept != 1 {
            return Err(NoFailover::Purged(server.flavor.replica_updates_setting()));
        }
    }
    // The dump request itself is the final word (MariaDB checks the exact GTIDs, strictly).
    let at = Position::at_gtids(gtids.clone());
    let mut stream = BinlogStream::connect(binlog, &at).await?;
    match tokio::time::timeout(Duration::from_secs(5), stream.next()).await {
        Ok(Err(e)) if !e.is_retryable() => Err(e.into()),
        _ => Ok(gtids),
    }
}
