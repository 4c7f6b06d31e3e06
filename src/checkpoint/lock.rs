//! One process per state directory: `run` holds an OS file lock on `<state dir>/lock` for as
//! long as it runs. The kernel releases it when the process ends, however it ends, so a lock
//! left by a dead process never blocks a start (a pid file would). The file holds the pid of
//! the holder, for the message a second process prints.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The lock, held while this lives.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "the state directory {} is in use by another flowtally process{}: run one process per \
         state directory (give a second instance its own [state] dir)",
        dir.display(),
        pid.as_deref().map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    InUse { dir: PathBuf, pid: Option<String> },
    #[error("cannot lock the state directory {}", dir.display())]
    Io {
        dir: PathBuf,
        #[source]
        cause: std::io::Error,
    },
}

/// Locks state directory `dir` (created if missing) for this process.
pub fn lock(dir: &Path) -> Result<StateLock, LockError> {
    let io = |cause| LockError::Io {
        dir: dir.to_path_buf(),
        cause,
    };
    fs::create_dir_all(dir).map_err(io)?;
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join("lock"))
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let pid = pid.trim();
            return Err(LockError::InUse {
                dir: dir.to_path_buf(),
                pid: (!pid.is_empty()).then(|| pid.to_string()),
            });
        }
        Err(TryLockError::Error(e)) => return Err(io(e)),
    }
    file.set_len(0).map_err(io)?;
    file.rewind().map_err(io)?;
    write!(file, "{}", std::process::id()).map_err(io)?;
    Ok(StateLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_directory_and_freed_on_drop() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let first = lock(dir.path()).expect("the first lock");
        let second = lock(dir.path()).expect_err("the directory is in use");
        let said = second.to_string();
        assert!(said.contains(&dir.path().display().to_string()), "{said}");
        assert!(
            said.contains(&format!("pid {}", std::process::id())),
            "{said}"
        );
        drop(first);
        assert!(lock(dir.path()).is_ok(), "free once the holder is gone");
    }
}
