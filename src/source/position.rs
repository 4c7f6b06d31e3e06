//! Binlog positions: a file and the offset of the next event in it, plus the GTID state there
//! when GTIDs are in use. Files are ordered by their numeric suffix (`bin.999999` comes before
//! `bin.1000000`), never as text; positions of different servers are not comparable, which is
//! what the GTID state is for.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A point in the binlog: file and the offset of the next event, plus the GTID state there
/// (MariaDB `domain-server-seq` list, or a MySQL GTID set) when GTIDs are in use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub file: String,
    pub pos: u64,
    #[serde(default)]
    pub gtid: Option<String>,
}

impl Position {
    /// A position that names only a GTID state: where a stream from another server of the
    /// same replication topology resumes (its file and offset would mean nothing there).
    pub fn at_gtids(gtid: String) -> Position {
        Position {
            file: String::new(),
            pos: 4,
            gtid: Some(gtid),
        }
    }

    /// Whether a stream from here starts by GTID state rather than by file and offset.
    pub fn resumes_by_gtid(&self) -> bool {
        self.file.is_empty() && self.gtid.is_some()
    }

    /// Where `self` stands relative to `other` in the same server's binlog (the GTID state is
    /// not compared).
    pub fn cmp_in_binlog(&self, other: &Position) -> Ordering {
        file_order(&self.file, &other.file).then(self.pos.cmp(&other.pos))
    }

    /// Strictly after `other` in the same server's binlog.
    pub fn is_after(&self, other: &Position) -> bool {
        self.cmp_in_binlog(other) == Ordering::Greater
    }
}

/// Binlog file names are `basename.NNNNNN`: the same basename, then the number. A name
/// without a numeric suffix (never written by a server) sorts by text.
fn file_order(a: &str, b: &str) -> Ordering {
    match (split(a), split(b)) {
        (Some((base_a, n_a)), Some((base_b, n_b))) if base_a == base_b => n_a.cmp(&n_b),
        _ => a.cmp(b),
    }
}

fn split(file: &str) -> Option<(&str, u64)> {
    let (base, digits) = file.rsplit_once('.')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((base, digits.parse().ok()?))
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.pos)?;
        if let Some(g) = &self.gtid {
            write!(f, " (gtid {g})")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(file: &str, pos: u64) -> Position {
        Position {
            file: file.into(),
            pos,
            gtid: None,
        }
    }

    #[test]
    fn files_compare_by_number_across_the_million_rotation() {
        assert!(at("mysql-bin.1000000", 4).is_after(&at("mysql-bin.999999", 999_999)));
        assert!(!at("mysql-bin.999999", 5).is_after(&at("mysql-bin.1000000", 4)));
        assert!(at("bin.000010", 4).is_after(&at("bin.000009", 500)));
        assert!(at("bin.000009", 501).is_after(&at("bin.000009", 500)));
        assert_eq!(
            at("bin.000009", 500).cmp_in_binlog(&at("bin.000009", 500)),
            Ordering::Equal
        );
        // As text, the rotation would sort backwards.
        assert!("mysql-bin.1000000" < "mysql-bin.999999");
        let mut files = [at("b.1000001", 4), at("b.999999", 4), at("b.1000000", 4)];
        files.sort_by(|x, y| x.cmp_in_binlog(y));
        let names: Vec<&str> = files.iter().map(|p| p.file.as_str()).collect();
        assert_eq!(names, ["b.999999", "b.1000000", "b.1000001"]);
    }
}
