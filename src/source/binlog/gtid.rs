//! The GTID state carried in positions, so that a checkpoint names the same point a GTID-based
//! replica would: MariaDB's `domain-server-seq` list (one entry per replication domain) and
//! MySQL's GTID sets (intervals of transaction numbers per source server).

use std::collections::BTreeMap;

use super::bytes::{le_u32, le_u64};
use super::Flavor;

/// The GTID of the transaction in progress, applied to the state once it commits.
pub(super) enum PendingGtid {
    MariaDb {
        domain: u32,
        server: u32,
        seq: u64,
    },
    MySql {
        sid: String,
        gno: u64,
    },
    /// An anonymous or tagged MySQL transaction: the set can no longer be tracked.
    Untrackable,
}

/// The GTID state at the current position.
pub(super) enum GtidState {
    None,
    MariaDb(BTreeMap<u32, (u32, u64)>),
    MySql(Option<MySqlGtidSet>),
}

impl GtidState {
    /// The state at the starting position, given as there (`Position::gtid`).
    pub(super) fn start(flavor: Flavor, from: Option<&str>) -> GtidState {
        match flavor {
            Flavor::MariaDb => {
                GtidState::MariaDb(from.map(parse_mariadb_gtids).unwrap_or_default())
            }
            // Without a starting set, single GTIDs would make a wrong partial set: keep None.
            Flavor::MySql => match from.map(MySqlGtidSet::parse) {
                Some(set) => GtidState::MySql(set),
                None => GtidState::None,
            },
        }
    }

    /// As a position reports it: `None` when nothing is known or the set is untrackable.
    pub(super) fn current(&self) -> Option<String> {
        match self {
            GtidState::None => None,
            GtidState::MariaDb(map) if map.is_empty() => None,
            GtidState::MariaDb(map) => Some(format_mariadb_gtids(map)),
            GtidState::MySql(set) => set
                .as_ref()
                .map(|s| s.to_string())
                .filter(|s| !s.is_empty()),
        }
    }

    /// A transaction committed: its GTID (if any) joins the state.
    pub(super) fn commit(&mut self, pending: Option<PendingGtid>) {
        match (pending, self) {
            (
                Some(PendingGtid::MariaDb {
                    domain,
                    server,
                    seq,
                }),
                GtidState::MariaDb(map),
            ) => {
                map.insert(domain, (server, seq));
            }
            (Some(PendingGtid::MySql { sid, gno }), GtidState::MySql(Some(set))) => {
                set.add(&sid, gno);
            }
            (Some(PendingGtid::Untrackable), GtidState::MySql(set)) => *set = None,
            _ => {}
        }
    }

    /// A MariaDB GTID list event (the body of a `MARIA_GTID_LIST` event).
    pub(super) fn gtid_list(&mut self, data: &[u8]) {
        let GtidState::MariaDb(map) = self else {
            return;
        };
        let Some(count) = le_u32(data.get(0..4)) else {
            return;
        };
        let count = (count & 0x0fff_ffff) as usize;
        for i in 0..count {
            let at = 4 + i * 16;
            let (Some(domain), Some(server), Some(seq)) = (
                le_u32(data.get(at..at + 4)),
                le_u32(data.get(at + 4..at + 8)),
                le_u64(data.get(at + 8..at + 16)),
            ) else {
                return;
            };
            // The list describes the start of a file: it only fills domains we know nothing of.
            map.entry(domain).or_insert((server, seq));
        }
    }
}

/// `domain-server-seq,...` as MariaDB prints `@@gtid_binlog_pos`.
fn parse_mariadb_gtids(s: &str) -> BTreeMap<u32, (u32, u64)> {
    s.split(',')
        .filter_map(|g| {
            let mut parts = g.trim().splitn(3, '-');
            let domain = parts.next()?.parse().ok()?;
            let server = parts.next()?.parse().ok()?;
            let seq = parts.next()?.parse().ok()?;
            Some((domain, (server, seq)))
        })
        .collect()
}

fn format_mariadb_gtids(map: &BTreeMap<u32, (u32, u64)>) -> String {
    map.iter()
        .map(|(d, (s, n))| format!("{d}-{s}-{n}"))
        .collect::<Vec<_>>()
        .join(",")
}

pub(super) fn format_uuid(sid: &[u8; 16]) -> String {
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

/// A MySQL GTID set (`uuid:1-5:7,uuid2:1-3`), kept as sorted disjoint intervals per source.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct MySqlGtidSet(BTreeMap<String, Vec<(u64, u64)>>);

impl MySqlGtidSet {
    /// `None` for sets this tracker does not model (tagged GTIDs of MySQL 8.4).
    fn parse(s: &str) -> Option<MySqlGtidSet> {
        let mut set = MySqlGtidSet::default();
        for source in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let mut parts = source.split(':');
            let uuid = parts.next()?.trim().to_ascii_lowercase();
            for range in parts {
                let (a, b) = match range.split_once('-') {
                    Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
                    None => {
                        let n = range.trim().parse().ok()?;
                        (n, n)
                    }
                };
                set.add_range(&uuid, a, b);
            }
        }
        Some(set)
    }

    fn add(&mut self, uuid: &str, gno: u64) {
        self.add_range(uuid, gno, gno);
    }

    fn add_range(&mut self, uuid: &str, start: u64, end: u64) {
        let ranges = self.0.entry(uuid.to_string()).or_default();
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
}

impl std::fmt::Display for MySqlGtidSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut first = true;
        for (uuid, ranges) in &self.0 {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            f.write_str(uuid)?;
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
        let map = parse_mariadb_gtids("1-2-30, 0-1-5");
        assert_eq!(format_mariadb_gtids(&map), "0-1-5,1-2-30");
        assert!(parse_mariadb_gtids("").is_empty());
    }

    #[test]
    fn mysql_gtid_set_merges_intervals() {
        let mut set = MySqlGtidSet::parse(
            "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:7,\n4e11fa47-71ca-11e1-9e33-c80aa9429562:1",
        )
        .unwrap_or_default();
        set.add("3e11fa47-71ca-11e1-9e33-c80aa9429562", 6);
        set.add("3e11fa47-71ca-11e1-9e33-c80aa9429562", 9);
        assert_eq!(
            set.to_string(),
            "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-7:9,4e11fa47-71ca-11e1-9e33-c80aa9429562:1"
        );
        assert_eq!(
            format_uuid(&[
                0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, 0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42,
                0x95, 0x62
            ]),
            "3e11fa47-71ca-11e1-9e33-c80aa9429562"
        );
    }
}
