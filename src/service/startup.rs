//! Start-up: resume from the checkpoint when it is usable (this server's, and its binlog file
//! still on the server; or, after a failover, another member's of the same replication
//! topology whose GTID state this server holds with everything after it), else start over from
//! the end of the binlog read before any load, with the reason said and counted. Tenants the
//! checkpoint lacks are loaded by the applier, like any new tenant.

use std::collections::BTreeMap;

use std::time::Duration;

use sqlx::{MySqlPool, Row as _};

use crate::checkpoint::{self, Manifest, Refused, Restored};
use crate::db::{describe, name_column};
use crate::model::clock::Clock;
use crate::model::views::Cadence;
use crate::source::binlog::{BinlogOptions, BinlogStream, Flavor, ServerInfo, StreamError};
use crate::source::snapshot::LoadPoint;
use crate::source::Position;

/// Where the service starts.
pub struct Start {
    /// The first binlog event to apply.
    pub position: Position,
    pub clock: Clock,
    /// The last instant written per cadence, as the checkpoint recorded them.
    pub written: BTreeMap<Cadence, i64>,
    /// Tenants restored from the checkpoint.
    pub restored: Vec<Restored>,
    /// The checkpoint resumed from (the checkpoint writer continues its parts).
    pub manifest: Option<Manifest>,
    /// Why the checkpoint was not used, when it was not.
    pub refused: Option<Refused>,
}

/// Resumes from the checkpoint in `state_dir`, or starts over at `server`'s binlog end (read
/// before anything was loaded).
pub async fn start(
    state_dir: &std::path::Path,
    server: &ServerInfo,
    source: &MySqlPool,
    binlog: &BinlogOptions,
) -> Start {
    let now = chrono::Utc::now().timestamp();
    match usable(state_dir, server, source, binlog).await {
        Ok((manifest, restored)) => {
            tracing::info!(
                position = %manifest.position,
                tenants = restored.len(),
                "resuming from checkpoint"
            );
            Start {
                position: manifest.position.clone(),
                clock: match manifest.last_instant() {
                    Some(last) => Clock::resume(crate::model::clock::Instant(last)),
                    None => Clock::after(manifest.taken_at),
                },
                written: manifest.written.clone(),
                restored,
                manifest: Some(manifest),
                refused: None,
            }
        }
        Err(why) => {
            tracing::warn!(reason = %why, "full recompute from the source tables");
            Start {
                position: server.position.clone(),
                clock: Clock::after(now),
                written: BTreeMap::new(),
                restored: Vec::new(),
                manifest: None,
                refused: Some(why),
            }
        }
    }
}

async fn usable(
    dir: &std::path::Path,
    server: &ServerInfo,
    source: &MySqlPool,
    binlog: &BinlogOptions,
) -> Result<(Manifest, Vec<Restored>), Refused> {
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
            .map_err(|e| Refused::Corrupt(checkpoint::path(dir), describe(&e)))?;
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
    let (d, m) = (dir.to_path_buf(), manifest.clone());
    let mut restored = tokio::task::spawn_blocking(move || m.restore(&d))
        .await
        .map_err(|e| Refused::Corrupt(checkpoint::path(dir), e.to_string()))??;
    if manifest.position.resumes_by_gtid() {
        // Another server's file offsets mean nothing here; GTIDs still do.
        for r in &mut restored {
            if matches!(r.entry.loaded_at, Some(LoadPoint::Position(_))) {
                r.entry.loaded_at = None;
            }
        }
    }
    Ok((manifest, restored))
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
