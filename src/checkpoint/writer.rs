//! The checkpoint writer: a task beside the applier that turns what the applier hands over at
//! a transaction boundary (the position, the instants written, and per tenant its journal of
//! changes, or the base of a part to start) into part files and a new manifest, then compacts
//! parts whose changes outgrew their base. The applier never waits for it: it takes a permit
//! ([`Checkpointer::try_begin`]) before taking the tenants' journals, and simply keeps
//! journaling while a checkpoint is being written.
//!
//! When writing fails (a full disk, say), the changes handed over are not on disk, so the parts
//! cannot be continued: the next checkpoint must start every part afresh from the tenants'
//! rows, which [`Outcome::resync`] tells the applier.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

use super::{part, part_name, parts_dir, Manifest, TenantEntry};
use crate::model::views::Cadence;
use crate::model::Change;
use crate::source::snapshot::LoadPoint;
use crate::source::Position;

/// A part whose changes grew past this many times its base (plus some slack) is compacted.
const COMPACT_RATIO: u64 = 2;
const COMPACT_SLACK: u64 = 256 * 1024;
/// Appended parts kept open until synced, at most (well under any file limit).
const SYNC_BATCH: usize = 256;

/// Syncs the appended parts' data, and closes them.
fn sync_data(files: &mut Vec<fs::File>) -> std::io::Result<()> {
    files.drain(..).try_for_each(|f| f.sync_data())
}

/// What a checkpoint does to one tenant's part.
pub enum PartWork {
    /// Nothing changed since the last checkpoint.
    Unchanged,
    /// Append these changes (the tenant's journal).
    Changes(Vec<Change>),
    /// Start the part anew: a base frame (see [`part::base_frame`]), then these changes.
    Start {
        base: Vec<u8>,
        base_rows: u64,
        changes: Vec<Change>,
    },
}

/// One served tenant in a checkpoint.
pub struct TenantUpdate {
    pub code: String,
    pub db: String,
    pub loaded_at: Option<LoadPoint>,
    pub first_instant: i64,
    pub work: PartWork,
}

/// Everything a checkpoint records. Tenants not listed are no longer in it.
pub struct Job {
    pub server: String,
    pub position: Position,
    pub written: BTreeMap<Cadence, i64>,
    pub tenants: Vec<TenantUpdate>,
}

/// What became of a checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Committed: the manifest on disk is this checkpoint's.
    pub written: bool,
    /// Bytes of the checkpoint on disk (manifest and parts).
    pub bytes: u64,
    /// Bytes written by this checkpoint (frames appended, parts started or compacted).
    pub bytes_written: u64,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// The next checkpoint must start every part afresh (this one's changes are not on disk).
    pub resync: bool,
    pub secs: f64,
}

/// A checkpoint handed to the writer.
pub struct Submitted {
    pub job: Job,
    /// Where to say how it went, when the applier waits for it.
    pub done: Option<oneshot::Sender<Outcome>>,
    _permit: OwnedSemaphorePermit,
}

/// The applier's handle on the writer task.
#[derive(Clone)]
pub struct Checkpointer {
    tx: mpsc::Sender<Submitted>,
    idle: Arc<Semaphore>,
}

/// Permission to hand a checkpoint to the writer, held while it is written.
pub struct Permit(OwnedSemaphorePermit);

/// The writer's end of a [`Checkpointer`]: the task of [`Checkpointer::writer`], or a test
/// standing in for it. Dropping a [`Submitted`] ends its permit.
pub type Inbox = mpsc::Receiver<Submitted>;

/// The checkpoint writer's task failed.
#[derive(Debug, thiserror::Error)]
#[error("the checkpoint writer panicked")]
pub struct WriterPanicked(#[source] tokio::task::JoinError);

impl Checkpointer {
    /// A handle and its inbox.
    pub fn channel() -> (Checkpointer, Inbox) {
        let (tx, rx) = mpsc::channel::<Submitted>(1);
        (
            Checkpointer {
                tx,
                idle: Arc::new(Semaphore::new(1)),
            },
            rx,
        )
    }

    /// The writer on state directory `dir`, whose committed manifest is `current`: the
    /// handle, and the task to run (it ends once every handle is dropped). Parts no manifest
    /// names (left by a checkpoint that never committed) are removed. `report` hears every
    /// outcome.
    pub fn writer(
        dir: PathBuf,
        current: Option<Manifest>,
        report: impl Fn(&Outcome) + Send + 'static,
    ) -> (
        Checkpointer,
        impl std::future::Future<Output = Result<(), WriterPanicked>> + Send + 'static,
    ) {
        let (handle, mut rx) = Checkpointer::channel();
        let mut store = Store::new(dir, current);
        let task = async move {
            while let Some(Submitted { job, done, _permit }) = rx.recv().await {
                let (s, outcome) = tokio::task::spawn_blocking(move || {
                    let outcome = store.write(job);
                    (store, outcome)
                })
                .await
                .map_err(WriterPanicked)?;
                store = s;
                report(&outcome);
                if let Some(done) = done {
                    let _ = done.send(outcome);
                }
            }
            Ok(())
        };
        (handle, task)
    }

    /// A permit when no checkpoint is being written (never waits).
    pub fn try_begin(&self) -> Option<Permit> {
        self.idle.clone().try_acquire_owned().ok().map(Permit)
    }

    /// A permit once the checkpoint being written (if any) is done.
    pub async fn begin(&self) -> Option<Permit> {
        self.idle.clone().acquire_owned().await.ok().map(Permit)
    }

    /// Hands `job` to the writer; with `wait`, returns once it is written.
    pub async fn submit(&self, permit: Permit, job: Job, wait: bool) -> Option<Outcome> {
        let (done, outcome) = if wait {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let submitted = Submitted {
            job,
            done,
            _permit: permit.0,
        };
        // The permit guarantees the channel (capacity 1) has room: this never waits.
        if self.tx.send(submitted).await.is_err() {
            tracing::error!("checkpoint writer stopped: checkpoint not written");
            return None;
        }
        match outcome {
            Some(rx) => rx.await.ok(),
            None => None,
        }
    }
}

/// The writer's view of the state directory: the committed manifest and the next generation
/// number of each tenant's part.
struct Store {
    dir: PathBuf,
    committed: Option<Manifest>,
    generations: HashMap<String, u64>,
}

impl Store {
    fn new(dir: PathBuf, committed: Option<Manifest>) -> Store {
        let store = Store {
            dir,
            committed,
            generations: HashMap::new(),
        };
        store.remove_strays();
        store
    }

    fn parts(&self) -> PathBuf {
        parts_dir(&self.dir)
    }

    fn next_part(&mut self, db: &str) -> String {
        let parts = self.parts();
        let generation = self.generations.entry(db.to_lowercase()).or_insert(0);
        loop {
            *generation += 1;
            let name = part_name(db, *generation);
            if !parts.join(&name).exists() {
                return name;
            }
        }
    }

    /// Parts the committed manifest does not name.
    fn remove_strays(&self) {
        let named: BTreeSet<&str> = self
            .committed
            .iter()
            .flat_map(|m| m.tenants.iter().map(|t| t.file.as_str()))
            .collect();
        let Ok(entries) = fs::read_dir(self.parts()) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            if !named.contains(name.to_string_lossy().as_ref()) {
                let _ = fs::remove_file(e.path());
            }
        }
    }

    fn write(&mut self, job: Job) -> Outcome {
        let started = std::time::Instant::now();
        let mut outcome = match self.commit(job) {
            Ok(bytes_written) => {
                let bytes_written = bytes_written + self.compact();
                Outcome {
                    written: true,
                    bytes: 0,
                    bytes_written,
                    error: None,
                    resync: false,
                    secs: 0.0,
                }
            }
            Err(e) => Outcome {
                written: false,
                bytes: 0,
                bytes_written: 0,
                error: Some(e.to_string()),
                resync: true,
                secs: 0.0,
            },
        };
        outcome.bytes = self.committed.as_ref().map_or(0, |m| m.bytes(&self.dir));
        outcome.secs = started.elapsed().as_secs_f64();
        outcome
    }

    /// Writes the parts, then the manifest; removes what the new manifest no longer names.
    fn commit(&mut self, job: Job) -> std::io::Result<u64> {
        let parts = self.parts();
        fs::create_dir_all(&parts)?;
        let old: HashMap<String, TenantEntry> = self
            .committed
            .as_ref()
            .map(|m| {
                m.tenants
                    .iter()
                    .map(|t| (t.db.to_lowercase(), t.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let mut written = 0;
        let mut unsynced = Vec::new();
        let mut tenants = Vec::with_capacity(job.tenants.len());
        for t in job.tenants {
            let previous = old.get(&t.db.to_lowercase());
            let mut entry = match (&t.work, previous) {
                (PartWork::Start { .. }, _) => TenantEntry {
                    code: t.code.clone(),
                    db: t.db.clone(),
                    file: self.next_part(&t.db),
                    len: 0,
                    base_len: 0,
                    base_rows: 0,
                    changes: 0,
                    loaded_at: None,
                    first_instant: 0,
                },
                (_, Some(previous)) => previous.clone(),
                (_, None) => {
                    return Err(std::io::Error::other(format!(
                        "tenant {} has no part to add changes to",
                        t.code
                    )))
                }
            };
            let path = parts.join(&entry.file);
            match t.work {
                PartWork::Unchanged => {}
                PartWork::Changes(changes) if changes.is_empty() => {}
                PartWork::Changes(changes) => {
                    let frame = part::changes_frame(&changes)?;
                    let (file, len) = part::append(&path, entry.len, &frame)?;
                    unsynced.push(file);
                    if unsynced.len() == SYNC_BATCH {
                        sync_data(&mut unsynced)?;
                    }
                    entry.len = len;
                    entry.changes += changes.len() as u64;
                    written += frame.len() as u64;
                }
                PartWork::Start {
                    base,
                    base_rows,
                    changes,
                } => {
                    entry.base_len = base.len() as u64;
                    let frames = if changes.is_empty() {
                        vec![base]
                    } else {
                        vec![base, part::changes_frame(&changes)?]
                    };
                    let refs: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
                    entry.len = part::create(&path, &refs)?;
                    entry.base_rows = base_rows;
                    entry.changes = changes.len() as u64;
                    written += entry.len;
                }
            }
            entry.code = t.code;
            entry.loaded_at = t.loaded_at;
            entry.first_instant = t.first_instant;
            tenants.push(entry);
        }
        sync_data(&mut unsynced)?;
        if written > 0 {
            super::sync_dir(&parts);
        }
        let manifest = Manifest {
            server: job.server,
            position: job.position,
            written: job.written,
            taken_at: chrono::Utc::now().timestamp(),
            tenants,
        };
        written += manifest.save(&self.dir)?;
        let kept: BTreeSet<&str> = manifest.tenants.iter().map(|t| t.file.as_str()).collect();
        for t in old.values().filter(|t| !kept.contains(t.file.as_str())) {
            let _ = fs::remove_file(parts.join(&t.file));
        }
        self.committed = Some(manifest);
        Ok(written)
    }

    /// Rewrites the parts whose changes outgrew their base as one base each; bytes written.
    /// A failure leaves the committed checkpoint as it was.
    fn compact(&mut self) -> u64 {
        let Some(mut manifest) = self.committed.clone() else {
            return 0;
        };
        let parts = self.parts();
        let mut written = 0;
        let mut replaced = Vec::new();
        for i in 0..manifest.tenants.len() {
            let t = &manifest.tenants[i];
            let changes_len = t.len.saturating_sub(t.base_len);
            if changes_len <= COMPACT_RATIO * t.base_len + COMPACT_SLACK {
                continue;
            }
            let result = (|| {
                let rows = part::fold(&parts.join(&t.file), t.len)?;
                let base = part::base_frame(&rows)?;
                let name = self.next_part(&t.db);
                let len = part::create(&parts.join(&name), &[&base])?;
                Ok::<_, Box<dyn std::error::Error>>((name, len, rows.len() as u64))
            })();
            match result {
                Ok((name, len, rows)) => {
                    replaced.push(t.file.clone());
                    let t = &mut manifest.tenants[i];
                    t.file = name;
                    t.len = len;
                    t.base_len = len;
                    t.base_rows = rows;
                    t.changes = 0;
                    written += len;
                }
                Err(e) => {
                    tracing::warn!(tenant = %t.code, error = %e, "checkpoint part not compacted")
                }
            }
        }
        if replaced.is_empty() {
            return written;
        }
        match manifest.save(&self.dir) {
            Ok(n) => {
                for f in replaced {
                    let _ = fs::remove_file(parts.join(f));
                }
                self.committed = Some(manifest);
                written + n
            }
            Err(e) => {
                tracing::warn!(error = %e, "compacted checkpoint not committed");
                written
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::row::{Token, TokenStatus};
    use crate::model::{Key, Row, TenantState};

    fn token(id: i64, status: TokenStatus) -> Row {
        Row::Token(Token {
            id,
            instance: Some(1),
            is_product: true,
            node: Some(2),
            status,
            spawned_at: None,
            completed_at: None,
        })
    }

    fn at(pos: u64) -> Position {
        Position {
            file: "bin.000001".into(),
            pos,
            gtid: None,
        }
    }

    fn update(db: &str, work: PartWork) -> TenantUpdate {
        TenantUpdate {
            code: db.to_uppercase(),
            db: db.into(),
            loaded_at: None,
            first_instant: 60,
            work,
        }
    }

    fn start(rows: &[Row]) -> PartWork {
        PartWork::Start {
            base: part::base_frame(rows).unwrap(),
            base_rows: rows.len() as u64,
            changes: Vec::new(),
        }
    }

    fn rows_of(dir: &std::path::Path) -> Vec<(String, usize, bool)> {
        let m = Manifest::load(dir).unwrap();
        m.restore(dir)
            .unwrap()
            .into_iter()
            .map(|r: super::super::Restored| {
                let s: TenantState = r.state;
                (r.entry.db, s.rows(), s.has_token(2))
            })
            .collect()
    }

    /// A crash can stop a checkpoint anywhere: after some parts were appended, or while the
    /// manifest was being written. The next start must find the previous checkpoint whole.
    #[test]
    fn a_checkpoint_cut_short_leaves_the_previous_one_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::new(dir.path().to_path_buf(), None);
        let job = |pos, tenants| Job {
            server: "s".into(),
            position: at(pos),
            written: BTreeMap::new(),
            tenants,
        };
        let out = store.write(job(
            100,
            vec![
                update("a", start(&[token(1, TokenStatus::Ready)])),
                update("b", start(&[token(1, TokenStatus::Ready)])),
            ],
        ));
        assert!(out.written, "{out:?}");
        let out = store.write(job(
            200,
            vec![
                update(
                    "a",
                    PartWork::Changes(vec![Change::Upsert(token(2, TokenStatus::Active))]),
                ),
                update("b", PartWork::Unchanged),
            ],
        ));
        assert!(out.written);
        assert_eq!(
            rows_of(dir.path()),
            vec![("a".into(), 2, true), ("b".into(), 1, false)]
        );
        let committed = Manifest::load(dir.path()).unwrap();

        // A third checkpoint dies after appending to a's part, before its manifest: a's part
        // has bytes the manifest does not name, and a torn temp manifest lies around.
        let a = parts_dir(dir.path()).join(&committed.tenants[0].file);
        let frame = part::changes_frame(&[Change::Delete(Key::Token(2))]).unwrap();
        part::append(&a, committed.tenants[0].len, &frame).unwrap();
        std::fs::write(dir.path().join("checkpoint.bin.tmp"), b"torn").unwrap();
        // Also a part a load started but no manifest ever named.
        std::fs::write(parts_dir(dir.path()).join("c.1"), b"half").unwrap();

        assert_eq!(Manifest::load(dir.path()).unwrap(), committed);
        assert_eq!(
            rows_of(dir.path()),
            vec![("a".into(), 2, true), ("b".into(), 1, false)],
            "the previous checkpoint, whole"
        );
        // The next start cleans up, and the next checkpoint continues a's part correctly.
        let mut store = Store::new(dir.path().to_path_buf(), Some(committed));
        assert!(!parts_dir(dir.path()).join("c.1").exists());
        let out = store.write(job(
            300,
            vec![
                update(
                    "a",
                    PartWork::Changes(vec![Change::Upsert(token(3, TokenStatus::Ready))]),
                ),
                update("b", PartWork::Unchanged),
            ],
        ));
        assert!(out.written);
        assert_eq!(
            rows_of(dir.path()),
            vec![("a".into(), 3, true), ("b".into(), 1, false)],
            "the cut-off delete never happened"
        );
        assert_eq!(Manifest::load(dir.path()).unwrap().position, at(300));
    }

    #[test]
    fn a_tenant_left_out_is_dropped_and_a_grown_part_is_compacted() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::new(dir.path().to_path_buf(), None);
        let job = |pos, tenants| Job {
            server: "s".into(),
            position: at(pos),
            written: BTreeMap::new(),
            tenants,
        };
        store.write(job(
            1,
            vec![
                update("a", start(&[token(1, TokenStatus::Ready)])),
                update("b", start(&[token(1, TokenStatus::Ready)])),
            ],
        ));
        let b_file = Manifest::load(dir.path()).unwrap().tenants[1].file.clone();
        // b is gone; a changes a lot, the same rows over and over (past the compaction slack:
        // about 11 bytes a change).
        let churn: Vec<Change> = (0..50_000)
            .map(|i| Change::Upsert(token(2 + i % 3, TokenStatus::Active)))
            .collect();
        let out = store.write(job(2, vec![update("a", PartWork::Changes(churn))]));
        assert!(out.written, "{out:?}");
        let m = Manifest::load(dir.path()).unwrap();
        assert_eq!(m.tenants.len(), 1);
        assert!(
            !parts_dir(dir.path()).join(b_file).exists(),
            "b's part removed"
        );
        let a = &m.tenants[0];
        assert_eq!(
            (a.changes, a.base_rows),
            (0, 4),
            "compacted to one base: {a:?}"
        );
        assert_eq!(a.len, a.base_len);
        assert_eq!(rows_of(dir.path()), vec![("a".into(), 4, true)]);
    }
}
