//! GTIDs: the id of each transaction (MariaDB `domain-server-seq`, MySQL `uuid[:tag]:gno`)
//! and the GTID state carried in positions, so that a checkpoint names the same point a
//! GTID-based replica would: MariaDB's list (the last sequence number per replication domain)
//! and MySQL's GTID sets (intervals of transaction numbers per source server and tag). A
//! position of one server means nothing on another; its GTID state does, which is what a
//! failover resumes from. Pure: parsing, formatting, containment.

use std::collections::BTreeMap;

use crate::source::Flavor;

/// The GTID of one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gtid {
    MariaDb {
        domain: u32,
        server: u32,
        seq: u64,
    },
    MySql {
        uuid: String,
        /// Empty for an untagged GTID.
        tag: String,
        gno: u64,
    },
}

impl Gtid {
    /// Whether the GTID state `state` (as positions carry it) includes this transaction;
    /// `None` when the state is not of this GTID's kind.
    pub fn is_in(&self, state: &str) -> Option<bool> {
        match self {
            Gtid::MariaDb { domain, seq, .. } => {
                let list = MariaGtids::parse(state)?;
                Some(list.0.get(domain).is_some_and(|(_, last)| seq <= last))
            }
            Gtid::MySql { uuid, tag, gno } => {
                Some(MySqlGtidSet::parse(state)?.contains_gtid(uuid, tag, *gno))
            }
        }
    }
}

/// A MariaDB GTID list (`@@gtid_binlog_pos`): per replication domain, the server and sequence
/// number of its last transaction.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MariaGtids(pub BTreeMap<u32, (u32, u64)>);

impl MariaGtids {
    /// `domain-server-seq,...`; `None` if it is not one.
    pub fn parse(s: &str) -> Option<MariaGtids> {
        let mut map = BTreeMap::new();
        for g in s.split(',').map(str::trim).filter(|g| !g.is_empty()) {
            let mut parts = g.splitn(3, '-');
            let domain = parts.next()?.parse().ok()?;
            let server = parts.next()?.parse().ok()?;
            let seq = parts.next()?.parse().ok()?;
            map.insert(domain, (server, seq));
        }
        Some(MariaGtids(map))
    }
}

impl std::fmt::Display for MariaGtids {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list: Vec<String> = self
            .0
            .iter()
            .map(|(d, (s, n))| format!("{d}-{s}-{n}"))
            .collect();
        f.write_str(&list.join(","))
    }
}

/// The GTID state at the binlog reader's position.
pub(crate) enum GtidState {
    None,
    MariaDb(MariaGtids),
    /// `None` once an anonymous transaction made the set untrackable.
    MySql(Option<MySqlGtidSet>),
}

impl GtidState {
    /// The state at the starting position, given as there (`Position::gtid`).
    pub(crate) fn start(flavor: Flavor, from: Option<&str>) -> GtidState {
        match flavor {
            Flavor::MariaDb => {
                GtidState::MariaDb(from.and_then(MariaGtids::parse).unwrap_or_default())
            }
            // Without a starting set, single GTIDs would make a wrong partial set: keep None.
            Flavor::MySql => match from.map(MySqlGtidSet::parse) {
                Some(set) => GtidState::MySql(set),
                None => GtidState::None,
            },
        }
    }

    /// As a position reports it: `None` when nothing is known or the set is untrackable.
    pub(crate) fn current(&self) -> Option<String> {
        match self {
            GtidState::None => None,
            GtidState::MariaDb(list) if list.0.is_empty() => None,
            GtidState::MariaDb(list) => Some(list.to_string()),
            GtidState::MySql(set) => set
                .as_ref()
                .map(|s| s.to_string())
                .filter(|s| !s.is_empty()),
        }
    }

    /// A transaction with this GTID committed: it joins the state.
    pub(crate) fn commit(&mut self, gtid: &Gtid) {
        match (gtid, self) {
            (
                Gtid::MariaDb {
                    domain,
                    server,
                    seq,
                },
                GtidState::MariaDb(list),
            ) => {
                list.0.insert(*domain, (*server, *seq));
            }
            (Gtid::MySql { uuid, tag, gno }, GtidState::MySql(Some(set))) => {
                set.add(uuid, tag, *gno);
            }
            _ => {}
        }
    }

    /// An anonymous MySQL transaction committed (GTIDs off, or being turned on): the set can
    /// no longer be tracked.
    pub(crate) fn anonymous(&mut self) {
        if let GtidState::MySql(set) = self {
            *set = None;
        }
    }

    /// A domain's entry from a MariaDB GTID list event, which describes the start of a file:
    /// it only fills domains nothing is known of.
    pub(crate) fn fill_domain(&mut self, domain: u32, server: u32, seq: u64) {
        if let GtidState::MariaDb(list) = self {
            list.0.entry(domain).or_insert((server, seq));
        }
    }
}

/// A 16-byte server uuid as MySQL prints it.
pub fn format_uuid(sid: &[u8; 16]) -> String {
    let hex: String = sid.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A MySQL GTID set (`uuid:1-5:7:tag:1-3,uuid2:1-3`), kept as sorted disjoint intervals per
/// source and tag. Tagged GTIDs (MySQL 8.3+, `SET gtid_next='AUTOMATIC:tag'`) are intervals
/// of their own under the same source; the empty tag is the untagged one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MySqlGtidSet(BTreeMap<(String, String), Vec<(u64, u64)>>);

impl MySqlGtidSet {
    /// Parses MySQL's text form (as `@@gtid_executed` prints it); `None` if it is not one.
    pub fn parse(s: &str) -> Option<MySqlGtidSet> {
        let mut set = MySqlGtidSet::default();
        for source in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let mut parts = source.split(':').map(str::trim);
            let uuid = parts.next()?.to_ascii_lowercase();
            if uuid.len() != 36 {
                return None;
            }
            let mut tag = String::new();
            for part in parts {
                if part.starts_with(|c: char| c.is_ascii_lowercase() || c == '_') {
                    let valid = part.len() <= 32
                        && part
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                    if !valid {
                        return None;
                    }
                    tag = part.to_string();
                    continue;
                }
                let (a, b) = match part.split_once('-') {
                    Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
                    None => {
                        let n = part.parse().ok()?;
                        (n, n)
                    }
                };
                if a > b || a == 0 {
                    return None;
                }
                set.add_range(&uuid, &tag, a, b);
            }
        }
        Some(set)
    }

    pub fn add(&mut self, uuid: &str, tag: &str, gno: u64) {
        self.add_range(uuid, tag, gno, gno);
    }

    fn add_range(&mut self, uuid: &str, tag: &str, start: u64, end: u64) {
        let ranges = self
            .0
            .entry((uuid.to_ascii_lowercase(), tag.to_string()))
            .or_default();
        ranges.push((start, end));
        ranges.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
        for (a, b) in ranges.drain(..) {
            match merged.last_mut() {
                Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        *ranges = merged;
    }

    /// Whether GTID `uuid:tag:gno` is in the set.
    pub fn contains_gtid(&self, uuid: &str, tag: &str, gno: u64) -> bool {
        self.0
            .get(&(uuid.to_ascii_lowercase(), tag.to_string()))
            .is_some_and(|r| r.iter().any(|(a, b)| *a <= gno && gno <= *b))
    }

    /// Whether every GTID of `other` is in this set.
    pub fn contains(&self, other: &MySqlGtidSet) -> bool {
        other.0.iter().all(|(key, theirs)| {
            let ours = self.0.get(key).map(Vec::as_slice).unwrap_or(&[]);
            theirs
                .iter()
                .all(|(a, b)| ours.iter().any(|(x, y)| x <= a && b <= y))
        })
    }

    /// Each source and tag with its intervals, as `uuid[:tag]:a-b:c-d` (the form a GTID dump
    /// request takes them in).
    pub fn sids(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|((uuid, tag), ranges)| {
                let mut s = uuid.clone();
                if !tag.is_empty() {
                    s.push(':');
                    s.push_str(tag);
                }
                for (a, b) in ranges {
                    s.push_str(&format!(":{a}-{b}"));
                }
                s
            })
            .collect()
    }
}

impl std::fmt::Display for MySqlGtidSet {
    /// MySQL's own form: sources in order, each with its untagged intervals and then its tags.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut last_uuid: Option<&str> = None;
        for ((uuid, tag), ranges) in &self.0 {
            if last_uuid != Some(uuid) {
                if last_uuid.is_some() {
                    f.write_str(",")?;
                }
                f.write_str(uuid)?;
                last_uuid = Some(uuid);
            }
            if !tag.is_empty() {
                write!(f, ":{tag}")?;
            }
            for (a, b) in ranges {
                if a == b {
                    write!(f, ":{a}")?;
                } else {
                    write!(f, ":{a}-{b}")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mariadb_gtids_round_trip() {
        let list = MariaGtids::parse("1-2-30, 0-1-5").unwrap_or_default();
        assert_eq!(list.to_string(), "0-1-5,1-2-30");
        assert_eq!(MariaGtids::parse(""), Some(MariaGtids::default()));
        assert_eq!(MariaGtids::parse("0-1"), None);
        let g = |domain, seq| Gtid::MariaDb {
            domain,
            server: 1,
            seq,
        };
        assert_eq!(g(0, 5).is_in("0-1-5,1-2-30"), Some(true));
        assert_eq!(g(0, 6).is_in("0-1-5,1-2-30"), Some(false));
        assert_eq!(g(2, 1).is_in("0-1-5,1-2-30"), Some(false));
    }

    #[test]
    fn mysql_gtid_set_merges_intervals() {
        let mut set = MySqlGtidSet::parse(
            "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:7,\n4e11fa47-71ca-11e1-9e33-c80aa9429562:1",
        )
        .unwrap_or_default();
        set.add("3e11fa47-71ca-11e1-9e33-c80aa9429562", "", 6);
        set.add("3e11fa47-71ca-11e1-9e33-c80aa9429562", "", 9);
        assert_eq!(
            set.to_string(),
            "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-7:9,4e11fa47-71ca-11e1-9e33-c80aa9429562:1"
        );
        assert_eq!(MySqlGtidSet::parse("not-a-uuid:1-3"), None);
        assert_eq!(
            MySqlGtidSet::parse("3e11fa47-71ca-11e1-9e33-c80aa9429562:x-1"),
            None
        );
        assert_eq!(
            format_uuid(&[
                0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, 0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42,
                0x95, 0x62
            ]),
            "3e11fa47-71ca-11e1-9e33-c80aa9429562"
        );
    }

    #[test]
    fn tagged_gtids_are_kept_per_tag() {
        let u = "3e11fa47-71ca-11e1-9e33-c80aa9429562";
        let text = format!(
            "{}:1-5:7:aa:1-3:bb_2:4,\n4e11fa47-71ca-11e1-9e33-c80aa9429562:bb_2:1",
            u.to_uppercase()
        );
        let mut set = MySqlGtidSet::parse(&text).unwrap_or_default();
        assert_eq!(
            set.to_string(),
            format!("{u}:1-5:7:aa:1-3:bb_2:4,4e11fa47-71ca-11e1-9e33-c80aa9429562:bb_2:1")
        );
        set.add(u, "aa", 4);
        set.add(u, "", 6);
        assert_eq!(
            set.to_string(),
            format!("{u}:1-7:aa:1-4:bb_2:4,4e11fa47-71ca-11e1-9e33-c80aa9429562:bb_2:1")
        );
        assert!(set.contains_gtid(u, "aa", 4));
        assert!(!set.contains_gtid(u, "bb_2", 3));
        assert!(!set.contains_gtid(u, "", 8));
        assert_eq!(MySqlGtidSet::parse(&set.to_string()), Some(set.clone()));
        let sub = MySqlGtidSet::parse(&format!("{u}:2-3:aa:1")).unwrap_or_default();
        assert!(set.contains(&sub));
        assert!(!sub.contains(&set));
        assert_eq!(sub.sids(), vec![format!("{u}:2-3"), format!("{u}:aa:1-1")]);
    }
}
