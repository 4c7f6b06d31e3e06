//! Checkpoints: where in the binlog the service stands, which snapshot instants it wrote, and
//! per tenant the source rows it holds, so that a restart resumes without scanning the source
//! tables.
//!
//! On disk, in the state directory:
//! - `checkpoint.bin`, the manifest ([`Manifest`]): the server it was taken from, the binlog
//!   position, the last instant written per cadence, and per tenant the name and committed
//!   length of its part. Written atomically (temp file, fsync, rename, fsync of the directory):
//!   it is the commit point of a checkpoint. Versioned, and refused when taken elsewhere.
//! - `tenants/<db>.<generation>`: one part per tenant ([`part`]), a base of rows followed by
//!   the changes of every checkpoint in which that tenant changed.
//!
//! So a checkpoint costs what changed since the previous one (frames appended to the parts of
//! the tenants that changed, then a manifest), not the size of the state; the applier only
//! hands over each tenant's journal of changes. The writer ([`writer`]) does the I/O beside it,
//! and rewrites a part as one base (compaction) once its changes outgrow its base.
//!
//! The manifest and the frames of the parts are encoded with postcard (format version 4 on).
//! Versions up to 3 were bincode 1, which is unmaintained (RUSTSEC-2025-0141): such a
//! checkpoint is refused as from an older flowtally, and the service recomputes once, then
//! writes the new format.

pub mod lock;
pub mod part;
pub mod resume;
pub mod writer;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::views::Cadence;
use crate::model::TenantState;
use crate::source::snapshot::LoadPoint;
use crate::source::Position;

/// Bumped whenever the layout or the encoding changes; a file of another version is refused and
/// the service recomputes. 4: postcard (3 and before: bincode 1). 5: the rows of routing_node
/// and routing_graph carry `wip_limit` and `name`.
pub const FORMAT_VERSION: u32 = 5;
const MAGIC: &[u8; 8] = b"FLOWTALY";
const MANIFEST: &str = "checkpoint.bin";
const PARTS: &str = "tenants";

/// One tenant in a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantEntry {
    pub code: String,
    pub db: String,
    /// The part's file name in `tenants/`.
    pub file: String,
    /// Its committed length in bytes, and the length of its base frame.
    pub len: u64,
    pub base_len: u64,
    /// Rows in its base, and changes appended since (for display).
    pub base_rows: u64,
    pub changes: u64,
    /// Where the tenant's last load stood, when ahead of the stream position (schema drift at
    /// or before it was already seen by the load).
    pub loaded_at: Option<LoadPoint>,
    /// No snapshot of this tenant before this instant (epoch seconds): the first boundary
    /// after its load.
    pub first_instant: i64,
}

/// The commit point of a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The server it was taken from (see `ServerInfo::identity`).
    pub server: String,
    /// The first binlog event not yet applied: a transaction boundary. Every part holds the
    /// tenant's state there.
    pub position: Position,
    /// The last snapshot instant written per cadence (epoch seconds), as written.
    pub written: BTreeMap<Cadence, i64>,
    /// Epoch seconds when it was taken.
    pub taken_at: i64,
    pub tenants: Vec<TenantEntry>,
}

/// Why a checkpoint cannot be used; the service then recomputes from the source tables.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("no checkpoint in {0}")]
    Missing(PathBuf),
    #[error("checkpoint {0} is unreadable or corrupt ({1})")]
    Corrupt(PathBuf, String),
    #[error(
        "checkpoint {path} is from {} flowtally (format version {found}; this one reads and \
         writes version {FORMAT_VERSION}): it is not read, and flowtally recomputes every tenant \
         from the source tables",
        if *found < FORMAT_VERSION { "an older" } else { "a newer" }
    )]
    OldFormat { path: PathBuf, found: u32 },
    #[error("checkpoint was taken from server {found}, but this server is {expected}{why}")]
    OtherServer {
        found: String,
        expected: String,
        /// Why a failover resume was not possible, when it was considered.
        why: String,
    },
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

/// A tenant as restored from a checkpoint.
pub struct Restored {
    pub entry: TenantEntry,
    pub state: TenantState,
}

/// The manifest's path in state directory `dir`.
pub fn path(dir: &Path) -> PathBuf {
    dir.join(MANIFEST)
}

/// The directory of the tenant parts.
pub fn parts_dir(dir: &Path) -> PathBuf {
    dir.join(PARTS)
}

/// A part's file name: the database name, with anything but `[a-z0-9_]` escaped, and the
/// generation.
pub fn part_name(db: &str, generation: u64) -> String {
    let mut name = String::with_capacity(db.len() + 8);
    for b in db.to_lowercase().bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' {
            name.push(char::from(b));
        } else {
            name.push_str(&format!("%{b:02x}"));
        }
    }
    format!("{name}.{generation}")
}

impl Manifest {
    /// The last instant written, whatever its cadence.
    pub fn last_instant(&self) -> Option<i64> {
        self.written.values().copied().max()
    }

    /// Reads the manifest in `dir`, checking its format.
    pub fn load(dir: &Path) -> Result<Manifest, Refused> {
        let path = path(dir);
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
        let found = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        if found != FORMAT_VERSION {
            return Err(Refused::OldFormat { path, found });
        }
        postcard::from_bytes(&bytes[12..]).map_err(|e| Refused::Corrupt(path, e.to_string()))
    }

    /// Writes atomically: a crash leaves either the old manifest or the new one. Its size.
    pub fn save(&self, dir: &Path) -> std::io::Result<u64> {
        fs::create_dir_all(dir)?;
        let body = postcard::to_stdvec(self).map_err(std::io::Error::other)?;
        let tmp = dir.join(format!("{MANIFEST}.tmp"));
        {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(MAGIC)?;
            f.write_all(&FORMAT_VERSION.to_le_bytes())?;
            f.write_all(&body)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, path(dir))?;
        sync_dir(dir);
        Ok(body.len() as u64 + 12)
    }

    /// The bytes of every part the manifest names, plus its own.
    pub fn bytes(&self, dir: &Path) -> u64 {
        let own = fs::metadata(path(dir)).map_or(0, |m| m.len());
        own + self.tenants.iter().map(|t| t.len).sum::<u64>()
    }

    /// Rebuilds every tenant's state from its part, reading parts on all cores.
    pub fn restore(&self, dir: &Path) -> Result<Vec<Restored>, Refused> {
        let parts = parts_dir(dir);
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let chunk = self.tenants.len().div_ceil(threads).max(1);
        std::thread::scope(|s| {
            let handles: Vec<_> = self
                .tenants
                .chunks(chunk)
                .map(|entries| {
                    let parts = &parts;
                    s.spawn(move || {
                        entries
                            .iter()
                            .map(|e| {
                                let file = parts.join(&e.file);
                                part::restore(&file, e.len)
                                    .map(|state| Restored {
                                        entry: e.clone(),
                                        state,
                                    })
                                    .map_err(|err| {
                                        Refused::Corrupt(file, format!("tenant {}: {err}", e.code))
                                    })
                            })
                            .collect::<Result<Vec<_>, _>>()
                    })
                })
                .collect();
            let mut out = Vec::with_capacity(self.tenants.len());
            for h in handles {
                let restored = h
                    .join()
                    .map_err(|_| Refused::Corrupt(parts.clone(), "a reader panicked".into()))?;
                out.extend(restored?);
            }
            Ok(out)
        })
    }

    /// Drops one tenant (matched case-insensitively) and its part; it is recomputed at the
    /// next start. False if the checkpoint does not hold it.
    pub fn reset_tenant(&mut self, dir: &Path, code: &str) -> std::io::Result<bool> {
        let (gone, kept): (Vec<TenantEntry>, Vec<TenantEntry>) = std::mem::take(&mut self.tenants)
            .into_iter()
            .partition(|t| t.code.eq_ignore_ascii_case(code));
        self.tenants = kept;
        if gone.is_empty() {
            return Ok(false);
        }
        self.save(dir)?;
        for t in gone {
            let _ = fs::remove_file(parts_dir(dir).join(t.file));
        }
        Ok(true)
    }
}

/// Discards the whole checkpoint; true if there was one.
pub fn reset(dir: &Path) -> std::io::Result<bool> {
    let existed = match fs::remove_file(path(dir)) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(e),
    };
    match fs::remove_dir_all(parts_dir(dir)) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(existed),
        Err(e) => Err(e),
    }
}

/// Makes a rename in `dir` durable (best effort: not every filesystem can sync a directory).
fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            server: "1:abc".into(),
            position: Position {
                file: "bin.000002".into(),
                pos: 1234,
                gtid: Some("0-1-42".into()),
            },
            written: [(Cadence::OneMinute, 1_860), (Cadence::FifteenMinutes, 900)]
                .into_iter()
                .collect(),
            taken_at: 1_900,
            tenants: vec![TenantEntry {
                code: "DEFAULT".into(),
                db: "bgerp_t_default".into(),
                file: part_name("bgerp_t_default", 1),
                len: 0,
                base_len: 0,
                base_rows: 0,
                changes: 0,
                loaded_at: None,
                first_instant: 120,
            }],
        }
    }

    #[test]
    fn manifest_round_trip_and_refusals() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            Manifest::load(dir.path()),
            Err(Refused::Missing(_))
        ));
        sample().save(dir.path()).unwrap();
        let m = Manifest::load(dir.path()).unwrap();
        assert_eq!(m, sample());
        assert_eq!(m.last_instant(), Some(1_860));

        std::fs::write(path(dir.path()), b"garbage").unwrap();
        assert!(matches!(
            Manifest::load(dir.path()),
            Err(Refused::Corrupt(..))
        ));
        let mut old = MAGIC.to_vec();
        old.extend_from_slice(&2u32.to_le_bytes());
        std::fs::write(path(dir.path()), old).unwrap();
        assert!(matches!(
            Manifest::load(dir.path()),
            Err(Refused::OldFormat { found: 2, .. })
        ));
        let mut newer = MAGIC.to_vec();
        newer.extend_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
        std::fs::write(path(dir.path()), newer).unwrap();
        let e = Manifest::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("from a newer flowtally"), "{e}");
        assert!(reset(dir.path()).unwrap());
        assert!(!reset(dir.path()).unwrap());
    }

    #[test]
    fn reset_one_tenant_removes_its_part() {
        let dir = tempfile::tempdir().unwrap();
        let mut m = sample();
        fs::create_dir_all(parts_dir(dir.path())).unwrap();
        let part = parts_dir(dir.path()).join(&m.tenants[0].file);
        fs::write(&part, b"").unwrap();
        assert!(m.reset_tenant(dir.path(), "default").unwrap());
        assert!(m.tenants.is_empty());
        assert!(!part.exists());
        assert!(Manifest::load(dir.path()).unwrap().tenants.is_empty());
        assert!(!m.reset_tenant(dir.path(), "default").unwrap());
    }

    #[test]
    fn part_names_are_safe_file_names() {
        assert_eq!(part_name("bgerp_t_Default", 3), "bgerp_t_default.3");
        assert_eq!(part_name("a/b.c", 1), "a%2fb%2ec.1");
    }

    /// A format-4 checkpoint (rows without the nodes' WIP limits and the graphs' names) is
    /// refused as older, so the next start recomputes and the new columns are read.
    #[test]
    fn a_format_4_checkpoint_is_refused_as_older() {
        let dir = tempfile::tempdir().unwrap();
        let mut old = MAGIC.to_vec();
        old.extend_from_slice(&4u32.to_le_bytes());
        old.extend_from_slice(&postcard::to_stdvec(&sample()).unwrap());
        std::fs::write(path(dir.path()), old).unwrap();
        let refused = Manifest::load(dir.path()).unwrap_err();
        assert!(
            matches!(refused, Refused::OldFormat { found: 4, .. }),
            "{refused:?}"
        );
        assert_eq!(refused.label(), "old_format");
    }

    /// A manifest written by the bincode-era flowtally (format 3, `testdata/`, made by that
    /// version's `Manifest::save`): refused as older, with a message that says a recompute
    /// follows, counted under its own reason.
    #[test]
    fn a_bincode_era_checkpoint_is_refused_as_older() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            path(dir.path()),
            include_bytes!("testdata/manifest-v3-bincode.bin"),
        )
        .unwrap();
        let refused = Manifest::load(dir.path()).unwrap_err();
        assert!(
            matches!(refused, Refused::OldFormat { found: 3, .. }),
            "{refused:?}"
        );
        assert_eq!(refused.label(), "old_format");
        let e = refused.to_string();
        assert!(
            e.contains(
                "from an older flowtally (format version 3; this one reads and writes \
                        version 5)"
            ) && e.contains("flowtally recomputes every tenant from the source tables"),
            "{e}"
        );
        // The next checkpoint replaces it with the current format.
        sample().save(dir.path()).unwrap();
        assert_eq!(Manifest::load(dir.path()).unwrap(), sample());
    }
}
