//! The key that signs session cookies. It is kept in a file (`[http] session_key_file`, by
//! default `http-session.key` in the state directory), so that a wall screen's session outlives
//! a restart of flowtally; instances that share the file (high availability behind one
//! address) accept each other's sessions. Replacing the file signs every browser out.

use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rand::RngCore;

/// The 32 bytes sessions are signed with.
#[derive(Clone)]
pub struct SessionKey(pub(super) [u8; 32]);

/// A key file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SessionKeyError {
    #[error(
        "cannot use the session key file {path} (check the path and its permissions, or point \
         [http] session_key_file elsewhere)"
    )]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "session key file {path} does not hold 64 hex digits: replace it (e.g. \
         `openssl rand -hex 32 > {path}`) or delete it to have a new one made (either signs every \
         browser out)"
    )]
    Malformed { path: PathBuf },
}

impl SessionKey {
    /// A key of this process alone (tests, and the routes without a state directory).
    pub fn random() -> SessionKey {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        SessionKey(key)
    }

    /// The key in the file at `path`, made there (readable by its owner only) if there is
    /// none.
    pub fn load_or_create(path: &Path) -> Result<SessionKey, SessionKeyError> {
        let io = |source| SessionKeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => parse(text.trim()).ok_or_else(|| SessionKeyError::Malformed {
                path: path.to_path_buf(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = SessionKey::random();
                let mut hex = String::with_capacity(65);
                for b in key.0 {
                    let _ = write!(hex, "{b:02x}");
                }
                hex.push('\n');
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(io)?;
                f.write_all(hex.as_bytes()).map_err(io)?;
                f.sync_all().map_err(io)?;
                Ok(key)
            }
            Err(e) => Err(io(e)),
        }
    }
}

fn parse(hex: &str) -> Option<SessionKey> {
    if hex.len() != 64 {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, b) in key.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(SessionKey(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_is_made_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("http-session.key");
        let made = SessionKey::load_or_create(&path).unwrap();
        let again = SessionKey::load_or_create(&path).unwrap();
        assert_eq!(made.0, again.0);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // Another file, another key.
        let other = SessionKey::load_or_create(&dir.path().join("other.key")).unwrap();
        assert_ne!(made.0, other.0);
    }

    #[test]
    fn a_file_an_operator_wrote_is_taken_and_a_bad_one_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, format!("{}\n", "ab".repeat(32))).unwrap();
        assert_eq!(SessionKey::load_or_create(&path).unwrap().0, [0xab; 32]);
        std::fs::write(&path, "not a key").unwrap();
        let e = SessionKey::load_or_create(&path).err().unwrap().to_string();
        assert!(
            e.contains("64 hex digits") && e.contains("openssl rand"),
            "{e}"
        );
        let e = SessionKey::load_or_create(&dir.path().join("missing/k"))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("session_key_file"), "{e}");
    }
}
