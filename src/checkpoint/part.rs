//! One tenant's part of a checkpoint: a file of frames. The first frame holds every row the
//! tenant had when the part was started (a load, a compaction); each later frame holds the
//! changes of one checkpoint in which the tenant changed, rows forgotten by eviction as deletes.
//! Replaying the frames in order onto an empty state rebuilds the tenant exactly.
//!
//! A frame is its payload's length (u32 LE), the payload's CRC32 (u32 LE), then the payload
//! (postcard, see the format version in [`super`]). Only the first `len` bytes that the manifest names belong to the checkpoint:
//! bytes appended after them by a checkpoint that never committed are cut off before the next
//! append, and never read.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::model::{Change, Key, Row, Table, TenantState};

#[derive(Debug, Deserialize)]
enum Frame {
    Base(Vec<Row>),
    Changes(Vec<Change>),
}

/// [`Frame`] as written: borrowed, so nothing is copied to write it (postcard encodes a slice
/// as it encodes a Vec).
#[derive(Serialize)]
enum FrameOut<'a> {
    Base(&'a [Row]),
    Changes(&'a [Change]),
}

/// A part that cannot be read as the manifest describes it.
#[derive(Debug, thiserror::Error)]
pub enum PartError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("frame at byte {at}: {why}")]
    Corrupt { at: u64, why: String },
}

/// The bytes of a frame holding `payload`.
fn frame(payload: &FrameOut) -> io::Result<Vec<u8>> {
    let body = postcard::to_stdvec(payload).map_err(io::Error::other)?;
    let len =
        u32::try_from(body.len()).map_err(|_| io::Error::other("a checkpoint frame over 4 GiB"))?;
    let mut out = Vec::with_capacity(body.len() + 8);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// Rows per base frame: a large part's restore decodes one frame while it applies the one
/// before (see [`restore`]).
const BASE_FRAME_ROWS: usize = 1 << 16;
/// From this size on, a part is restored with decoding and applying on two threads.
const PIPELINE_BYTES: u64 = 4 << 20;

/// The bytes of the base frames holding `rows` (one per [`BASE_FRAME_ROWS`] rows, back to
/// back): made by whoever has the rows at hand (a load, a compaction), written by the
/// checkpoint writer.
pub fn base_frame(rows: &[Row]) -> io::Result<Vec<u8>> {
    if rows.is_empty() {
        return frame(&FrameOut::Base(rows));
    }
    let mut out = Vec::new();
    for chunk in rows.chunks(BASE_FRAME_ROWS) {
        out.extend(frame(&FrameOut::Base(chunk))?);
    }
    Ok(out)
}

/// The bytes of a frame holding `changes`.
pub fn changes_frame(changes: &[Change]) -> io::Result<Vec<u8>> {
    frame(&FrameOut::Changes(changes))
}

/// Starts a part at `path` holding `frames` (base first), durably.
pub fn create(path: &Path, frames: &[&[u8]]) -> io::Result<u64> {
    let tmp = path.with_extension("tmp");
    let mut len = 0;
    {
        let mut f = BufWriter::new(File::create(&tmp)?);
        for fr in frames {
            f.write_all(fr)?;
            len += fr.len() as u64;
        }
        f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    Ok(len)
}

/// Appends `frame` to the part at `path`, whose committed length is `len` (anything after it
/// is an uncommitted leftover and goes). The new length, and the file still open: durable only
/// once it is synced. A checkpoint writes its appends, then syncs them: the first sync commits
/// the file system's journal for all of them, and the others find little left to do (a
/// thousand appends took 0.11 s so, 0.25 s each synced in turn). The file stays open until
/// synced so that a failed write-back is reported to the sync.
pub fn append(path: &Path, len: u64, frame: &[u8]) -> io::Result<(File, u64)> {
    let mut f = OpenOptions::new().write(true).open(path)?;
    if f.metadata()?.len() != len {
        f.set_len(len)?;
    }
    f.seek(SeekFrom::Start(len))?;
    f.write_all(frame)?;
    Ok((f, len + frame.len() as u64))
}

/// Walks the frames in the first `len` bytes of the part at `path`, checking each one's
/// checksum and handing its payload and offset to `on`.
fn frames(
    path: &Path,
    len: u64,
    mut on: impl FnMut(u64, &[u8]) -> Result<(), PartError>,
) -> Result<(), PartError> {
    let f = File::open(path)?;
    let mut r = BufReader::new(f.take(len));
    let mut at = 0u64;
    let mut head = [0u8; 8];
    while at < len {
        r.read_exact(&mut head).map_err(|e| PartError::Corrupt {
            at,
            why: e.to_string(),
        })?;
        let size = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let mut body = vec![0u8; size];
        r.read_exact(&mut body).map_err(|e| PartError::Corrupt {
            at,
            why: format!("{size}-byte frame: {e}"),
        })?;
        if crc32fast::hash(&body) != crc {
            return Err(PartError::Corrupt {
                at,
                why: "checksum mismatch".into(),
            });
        }
        on(at, &body)?;
        at += 8 + size as u64;
    }
    Ok(())
}

/// Reads the first `len` bytes of the part at `path`, calling `on` for every frame in order.
fn read(
    path: &Path,
    len: u64,
    mut on: impl FnMut(Frame) -> Result<(), PartError>,
) -> Result<(), PartError> {
    frames(path, len, |at, body| {
        match postcard::from_bytes::<Frame>(body) {
            Ok(frame) => on(frame),
            Err(e) => Err(PartError::Corrupt {
                at,
                why: e.to_string(),
            }),
        }
    })
}

impl Frame {
    /// Its changes, base rows being upserts.
    fn changes(self) -> Box<dyn Iterator<Item = Change>> {
        match self {
            Frame::Base(rows) => Box::new(rows.into_iter().map(Change::Upsert)),
            Frame::Changes(changes) => Box::new(changes.into_iter()),
        }
    }
}

/// Whether the part at `path` holds `len` committed bytes of whole frames with the right
/// checksums, without decoding them (for `flowtally check`: no state is built).
pub fn check(path: &Path, len: u64) -> Result<(), PartError> {
    frames(path, len, |_, _| Ok(()))
}

/// The tenant state the part describes. A large part (warm resume of one big tenant) is read
/// and decoded on a second thread while this one applies, a frame ahead: the two halves take
/// about as long as each other.
pub fn restore(path: &Path, len: u64) -> Result<TenantState, PartError> {
    restore_from(path, len, PIPELINE_BYTES)
}

/// [`restore`], on two threads from `pipeline_bytes` on.
fn restore_from(path: &Path, len: u64, pipeline_bytes: u64) -> Result<TenantState, PartError> {
    let mut state = TenantState::default();
    if len < pipeline_bytes {
        read(path, len, |frame| {
            frame.changes().for_each(|c| state.apply(c));
            Ok(())
        })?;
        return Ok(state);
    }
    let (tx, rx) = std::sync::mpsc::sync_channel::<Frame>(1);
    std::thread::scope(|s| {
        let reader = s.spawn(move || {
            read(path, len, |frame| {
                // The applier gone means it panicked: that panic is what the caller sees.
                let _ = tx.send(frame);
                Ok(())
            })
        });
        for frame in rx {
            frame.changes().for_each(|c| state.apply(c));
        }
        match reader.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })?;
    Ok(state)
}

/// The rows the part describes, folded (each key at its last image, deletes gone), dimensions
/// first so that a restore files each token with its instance at once.
pub fn fold(path: &Path, len: u64) -> Result<Vec<Row>, PartError> {
    let mut rows = HashMap::<Key, Row>::new();
    read(path, len, |frame| {
        for change in frame.changes() {
            match change {
                Change::Upsert(row) => {
                    rows.insert(row.key(), row);
                }
                Change::Delete(key) => {
                    rows.remove(&key);
                }
            }
        }
        Ok(())
    })?;
    let mut rows: Vec<Row> = rows.into_values().collect();
    rows.sort_by_key(|r| load_rank(r.table()));
    Ok(rows)
}

/// Dimensions before tokens before assignments.
fn load_rank(t: Table) -> u8 {
    match t {
        Table::Graph => 0,
        Table::Node => 1,
        Table::Team => 2,
        Table::Member => 3,
        Table::Instance => 4,
        Table::Token => 5,
        Table::Assignment => 6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::row::{Graph, Token, TokenStatus};

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

    #[test]
    fn a_large_part_is_several_base_frames_and_restores_alike_on_one_thread_or_two() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.1");
        let n = 3 * BASE_FRAME_ROWS as i64 + 5;
        let rows: Vec<Row> = (1..=n).map(|id| token(id, TokenStatus::Ready)).collect();
        let base = base_frame(&rows).unwrap();
        let len = create(&path, &[&base]).unwrap();
        let mut frames_seen = 0;
        frames(&path, len, |_, _| {
            frames_seen += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(frames_seen, (n as usize).div_ceil(BASE_FRAME_ROWS));
        let changes = changes_frame(&[Change::Delete(Key::Token(n))]).unwrap();
        let len = append(&path, len, &changes).unwrap().1;
        for pipeline_bytes in [0, u64::MAX] {
            let state = restore_from(&path, len, pipeline_bytes).unwrap();
            assert_eq!(state.rows() as i64, n - 1);
            assert!(state.has_token(1) && state.has_token(n - 1) && !state.has_token(n));
        }
        let mut folded = fold(&path, len).unwrap();
        folded.sort_by_key(|r| match r {
            Row::Token(t) => t.id,
            _ => 0,
        });
        assert!(
            folded == rows[..rows.len() - 1],
            "fold differs from the rows kept"
        );
    }

    #[test]
    fn frames_replay_and_fold_and_uncommitted_bytes_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.1");
        let graph = Row::Graph(Graph {
            id: 1,
            production_type: Some("classic".into()),
            name: None,
        });
        let base = base_frame(&[token(1, TokenStatus::Ready), graph.clone()]).unwrap();
        let len = create(&path, &[&base]).unwrap();
        let changes = changes_frame(&[
            Change::Upsert(token(2, TokenStatus::Active)),
            Change::Delete(Key::Token(1)),
        ])
        .unwrap();
        let len = append(&path, len, &changes).unwrap().1;
        // A checkpoint that appended but never committed its manifest.
        let junk = changes_frame(&[Change::Delete(Key::Token(2))]).unwrap();
        let _ = append(&path, len, &junk[..junk.len() - 3]).unwrap();

        let state = restore(&path, len).unwrap();
        assert_eq!(state.rows(), 2, "graph and token 2");
        let rows = fold(&path, len).unwrap();
        assert_eq!(rows, vec![graph, token(2, TokenStatus::Active)]);

        // The next append cuts the leftover off first.
        let len2 = append(&path, len, &junk).unwrap().1;
        assert_eq!(std::fs::metadata(&path).unwrap().len(), len2);
        assert_eq!(restore(&path, len2).unwrap().rows(), 1);
        assert!(check(&path, len2).is_ok());

        // Damage inside the committed bytes is reported, not loaded.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[12] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
        assert!(matches!(
            restore(&path, len2),
            Err(PartError::Corrupt { at: 0, .. })
        ));
        assert!(matches!(
            check(&path, len2),
            Err(PartError::Corrupt { at: 0, .. })
        ));
        assert!(check(&path, 0).is_ok());
    }
}
