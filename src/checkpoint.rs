//! Checkpoints: where in the binlog the service stands, which snapshot instant it wrote last,
//! and the source rows it holds per tenant, so a restart resumes without scanning the source
//! tables. Written atomically (temp file, fsync, rename) into the state directory; versioned;
//! tied to one server's identity.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::clock::Instant;
use crate::model::{Change, Row, TenantState, View};
use crate::source::Position;

/// Bumped whenever the layout changes; an older file is refused and the service recomputes.
pub const FORMAT_VERSION: u32 = 2;
const MAGIC: &[u8; 8] = b"FLOWTALY";
const FILE: &str = "checkpoint.bin";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TenantRows {
    pub code: String,
    pub db: String,
    /// Transactions ending at or before this position are already in the rows (the tenant was
    /// loaded from a snapshot the stream had not reached yet).
    pub loaded_at: Option<Position>,
    pub rows: Vec<Row>,
}

impl TenantRows {
    pub fn capture(
        code: &str,
        db: &str,
        loaded_at: Option<&Position>,
        state: &TenantState,
    ) -> Self {
        TenantRows {
            code: code.to_string(),
            db: db.to_string(),
            loaded_at: loaded_at.cloned(),
            rows: state.all_rows().collect(),
        }
    }

    pub fn restore(&self) -> TenantState {
        let mut s = TenantState::default();
        for r in &self.rows {
            s.apply(Change::Upsert(r.clone()));
        }
        s
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The server it was taken from (MySQL server_uuid; MariaDB server_id:server_uid).
    pub server: String,
    /// The first binlog event not yet applied: a transaction boundary.
    pub position: Position,
    /// The last snapshot instant written (epoch seconds), if any.
    pub last_instant: Option<i64>,
    /// Epoch seconds when it was taken.
    pub taken_at: i64,
    pub tenants: Vec<TenantRows>,
}

/// Why a checkpoint cannot be used; the service then recomputes from the source tables.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("no checkpoint in {0}")]
    Missing(PathBuf),
    #[error("checkpoint {0} is unreadable or corrupt ({1})")]
    Corrupt(PathBuf, String),
    #[error(
        "checkpoint {path} has format version {found}, this flowtally writes {FORMAT_VERSION}"
    )]
    OldFormat { path: PathBuf, found: u32 },
    #[error("checkpoint was taken from server {found}, but this server is {expected}")]
    OtherServer { found: String, expected: String },
    #[error("the binlog file {0} the checkpoint resumes from is no longer on the server (purged)")]
    Purged(String),
}

impl Refused {
    /// A short reason for metrics labels.
    pub fn label(&self) -> &'static str {
        match self {
            Refused::Missing(_) => "no_checkpoint",
            Refused::Corrupt(..) => "corrupt_checkpoint",
            Refused::OldFormat { .. } => "old_format",
            Refused::OtherServer { .. } => "other_server",
            Refused::Purged(_) => "binlog_purged",
        }
    }
}

impl Checkpoint {
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(FILE)
    }

    /// The last instant written per cadence, for display.
    pub fn last_per_cadence(&self) -> BTreeMap<&'static str, i64> {
        let mut out = BTreeMap::new();
        if let Some(last) = self.last_instant {
            for v in View::ALL {
                let step = 60 * v.cadence().minutes();
                out.insert(v.short_name(), last - last.rem_euclid(step));
            }
        }
        out
    }

    pub fn last(&self) -> Option<Instant> {
        self.last_instant.map(Instant)
    }

    /// Writes atomically: a crash leaves either the old checkpoint or the new one.
    pub fn save(&self, dir: &Path) -> std::io::Result<u64> {
        fs::create_dir_all(dir)?;
        let body = bincode::serialize(self).map_err(std::io::Error::other)?;
        let tmp = dir.join(format!("{FILE}.tmp"));
        {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(MAGIC)?;
            f.write_all(&FORMAT_VERSION.to_le_bytes())?;
            f.write_all(&body)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, Self::path(dir))?;
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(body.len() as u64 + 12)
    }

    /// Reads the checkpoint in `dir`, checking format and, when given, the server identity.
    pub fn load(dir: &Path, server: Option<&str>) -> Result<Checkpoint, Refused> {
        let path = Self::path(dir);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Refused::Missing(dir.to_path_buf()))
            }
            Err(e) => return Err(Refused::Corrupt(path, e.to_string())),
        };
        if bytes.len() < 12 || &bytes[..8] != MAGIC {
            return Err(Refused::Corrupt(path, "not a flowtally checkpoint".into()));
        }
        let mut v = [0u8; 4];
        v.copy_from_slice(&bytes[8..12]);
        let found = u32::from_le_bytes(v);
        if found != FORMAT_VERSION {
            return Err(Refused::OldFormat { path, found });
        }
        let cp: Checkpoint = bincode::deserialize(&bytes[12..])
            .map_err(|e| Refused::Corrupt(path, e.to_string()))?;
        if let Some(expected) = server {
            if cp.server != expected {
                return Err(Refused::OtherServer {
                    found: cp.server,
                    expected: expected.to_string(),
                });
            }
        }
        Ok(cp)
    }

    /// Discards the whole checkpoint; true if there was one.
    pub fn reset(dir: &Path) -> std::io::Result<bool> {
        match fs::remove_file(Self::path(dir)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Drops one tenant's rows (matched case-insensitively); it is recomputed at next start.
    pub fn reset_tenant(&mut self, code: &str) -> bool {
        let before = self.tenants.len();
        self.tenants.retain(|t| !t.code.eq_ignore_ascii_case(code));
        before != self.tenants.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::row::Graph;

    fn sample() -> Checkpoint {
        Checkpoint {
            server: "1:abc".into(),
            position: Position {
                file: "bin.000002".into(),
                pos: 1234,
                gtid: Some("0-1-42".into()),
            },
            last_instant: Some(1_800),
            taken_at: 1_900,
            tenants: vec![TenantRows {
                code: "DEFAULT".into(),
                db: "bgerp_t_default".into(),
                loaded_at: None,
                rows: vec![Row::Graph(Graph {
                    id: 1,
                    production_type: Some("classic".into()),
                })],
            }],
        }
    }

    #[test]
    fn round_trip_and_identity_check() {
        let dir = tempfile::tempdir().unwrap();
        sample().save(dir.path()).unwrap();
        let cp = Checkpoint::load(dir.path(), Some("1:abc")).unwrap();
        assert_eq!(cp.position, sample().position);
        assert_eq!(cp.tenants[0].rows, sample().tenants[0].rows);
        assert_eq!(cp.last_per_cadence()["cycle_time"], 1_800);
        assert_eq!(cp.last_per_cadence()["trends"], 1_800);
        let other = Checkpoint::load(dir.path(), Some("2:def")).unwrap_err();
        assert!(matches!(other, Refused::OtherServer { .. }), "{other}");
        assert!(other.to_string().contains("1:abc"));
    }

    #[test]
    fn corrupt_old_and_missing_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            Checkpoint::load(dir.path(), None),
            Err(Refused::Missing(_))
        ));
        std::fs::write(Checkpoint::path(dir.path()), b"garbage").unwrap();
        assert!(matches!(
            Checkpoint::load(dir.path(), None),
            Err(Refused::Corrupt(..))
        ));
        let mut old = MAGIC.to_vec();
        old.extend_from_slice(&0u32.to_le_bytes());
        std::fs::write(Checkpoint::path(dir.path()), old).unwrap();
        assert!(matches!(
            Checkpoint::load(dir.path(), None),
            Err(Refused::OldFormat { found: 0, .. })
        ));
        assert!(Checkpoint::reset(dir.path()).unwrap());
        assert!(!Checkpoint::reset(dir.path()).unwrap());
    }

    #[test]
    fn reset_one_tenant() {
        let mut cp = sample();
        assert!(cp.reset_tenant("default"));
        assert!(cp.tenants.is_empty());
        assert!(!cp.reset_tenant("default"));
    }
}
