//! Start-up: resume from the checkpoint when it is usable (this server's, and its binlog file
//! still on the server; or, after a failover, another member's of the same replication
//! topology whose GTID state this server holds with everything after it: decided by
//! [`checkpoint::resume`], which `flowtally check` shares), else start over from
//! the end of the binlog read before any load, with the reason said and counted. Tenants the
//! checkpoint lacks are loaded by the applier, like any new tenant.

use std::collections::BTreeMap;

use sqlx::MySqlPool;

use crate::checkpoint::{self, Manifest, Refused, Restored};
use crate::model::clock::Clock;
use crate::model::views::Cadence;
use crate::source::binlog::{BinlogOptions, ServerInfo};
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
    let manifest = checkpoint::resume::resumable(dir, server, source, binlog).await?;
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
