//! Unit tests of the binlog decoder on recorded bytes: whole binlog files that a private MariaDB
//! 10.11 and a private MySQL 9.7 wrote (`src/source/binlog/fixtures/{mariadb,mysql}/*.bin`, made
//! by `generate`, which also holds the SQL behind each file), fed event by event through
//! [`Decoder::handle`] exactly as the replica stream would feed them, with no server.
//!
//! This file owns the fixtures and the means to replay them; the tests are in
//!
//! - `layout`: the files themselves: event boundaries, checksums, the flavours' event kinds;
//! - `tables`: table maps ([`TableMaps`]): tracked, untracked, core, re-sent, drifted tables,
//!   and the width and conversion of every column type met;
//! - `rows`: rows events to [`SourceChange`]s (upserts, deletes, key changes, NULLs, bad values,
//!   NULL keys, MySQL's partial JSON updates);
//! - `transactions`: grouping into [`Transaction`]s, commit times, positions, GTIDs (MariaDB
//!   domains, MySQL tags), XA, DDL, the rotate at the end of a file.
//!
//! Regenerating the files: see `generate`.

mod generate;
mod layout;
mod rows;
mod tables;
mod transactions;

use std::time::Duration;

use chrono::NaiveDateTime;
use mysql_async::binlog::events::{Event, FormatDescriptionEvent};
use mysql_async::binlog::{BinlogVersion, EventType};

use super::{BinlogOptions, Decoder, StreamEvent, Transaction};
use crate::source::{Flavor, Position, SourceChange};

use generate::MYSQL_UUID;

/// One recorded binlog file.
pub(super) struct Fixture {
    pub(super) flavor: Flavor,
    /// The file's name under `fixtures/<flavour>/`, without `.bin`.
    pub(super) name: &'static str,
    /// The binlog file it was on the server (positions name it).
    pub(super) file: &'static str,
    /// The GTID state a stream starting at the file's beginning brings along: MySQL's is the
    /// file's Previous-GTIDs; MariaDB's stays unset, so that the file's GTID list fills it.
    pub(super) gtid_before: Option<&'static str>,
    pub(super) bytes: &'static [u8],
}

macro_rules! fixture {
    ($flavor:ident, $dir:literal, $name:literal, $file:literal, $gtid:expr) => {
        Fixture {
            flavor: Flavor::$flavor,
            name: $name,
            file: $file,
            gtid_before: $gtid,
            bytes: include_bytes!(concat!("../fixtures/", $dir, "/", $name, ".bin")),
        }
    };
}

pub(super) const MARIADB_TABLES: Fixture =
    fixture!(MariaDb, "mariadb", "tables", "bin.000002", None);
pub(super) const MARIADB_ROWS: Fixture = fixture!(MariaDb, "mariadb", "rows", "bin.000003", None);
pub(super) const MARIADB_TRANSACTIONS: Fixture =
    fixture!(MariaDb, "mariadb", "transactions", "bin.000004", None);
pub(super) const MYSQL_TABLES: Fixture = fixture!(
    MySql,
    "mysql",
    "tables",
    "bin.000003",
    Some("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-14")
);
pub(super) const MYSQL_ROWS: Fixture = fixture!(
    MySql,
    "mysql",
    "rows",
    "bin.000004",
    Some("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-18")
);
pub(super) const MYSQL_TRANSACTIONS: Fixture = fixture!(
    MySql,
    "mysql",
    "transactions",
    "bin.000005",
    Some("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-22")
);
pub(super) const MYSQL_PARTIAL_JSON: Fixture = fixture!(
    MySql,
    "mysql",
    "partial_json",
    "bin.000006",
    Some("3e11fa47-71ca-11e1-9e33-c80aa9429562:1-28:fixture:1")
);

/// Every fixture, in the order the generator writes them.
pub(super) const FIXTURES: [&Fixture; 7] = [
    &MARIADB_TABLES,
    &MARIADB_ROWS,
    &MARIADB_TRANSACTIONS,
    &MYSQL_TABLES,
    &MYSQL_ROWS,
    &MYSQL_TRANSACTIONS,
    &MYSQL_PARTIAL_JSON,
];

/// One event of a fixture and the offset it starts at.
pub(super) struct Recorded {
    pub(super) at: u64,
    pub(super) event: Event,
}

impl Recorded {
    pub(super) fn kind(&self) -> u8 {
        self.event.header().event_type_raw()
    }

    /// The offset just after the event.
    pub(super) fn end(&self) -> u64 {
        self.at + u64::from(self.event.header().event_size())
    }
}

impl Fixture {
    /// The file's events, parsed as mysql_common parses the stream's: the format description
    /// first (it tells the checksum algorithm and the post-header lengths of the others).
    pub(super) fn events(&self) -> Vec<Recorded> {
        let (magic, mut rest) = self.bytes.split_at(4);
        assert_eq!(magic, b"\xfebin", "{}: not a binlog file", self.name);
        let mut fde = FormatDescriptionEvent::new(BinlogVersion::Version4);
        let mut out = Vec::new();
        let mut at = 4u64;
        while !rest.is_empty() {
            let event = Event::read(&fde, &mut rest)
                .unwrap_or_else(|e| panic!("{}: event at {at}: {e}", self.name));
            if event.header().event_type_raw() == EventType::FORMAT_DESCRIPTION_EVENT as u8 {
                fde = event
                    .read_event::<FormatDescriptionEvent>()
                    .expect("format description")
                    .into_owned()
                    .with_footer(event.footer());
            }
            let next = at + u64::from(event.header().event_size());
            out.push(Recorded { at, event });
            at = next;
        }
        out
    }

    /// A decoder as [`BinlogStream::connect`](super::BinlogStream::connect) makes one for a
    /// stream from the start of this file, following tenants `bgerp_t_*` and core db `bgerp`.
    pub(super) fn decoder(&self) -> Decoder {
        self.decoder_from(self.gtid_before)
    }

    /// [`Self::decoder`] with another GTID state at the start of the file.
    pub(super) fn decoder_from(&self, gtid: Option<&str>) -> Decoder {
        let options = BinlogOptions {
            opts: mysql_async::Opts::default(),
            server_id: 1001,
            heartbeat: Duration::from_secs(1),
            core_db: "bgerp".into(),
            db_prefix: "bgerp_t_".into(),
        };
        let from = Position {
            file: self.file.to_string(),
            pos: 4,
            gtid: gtid.map(str::to_string),
        };
        Decoder::new(self.flavor, &options, &from)
    }

    /// Every event through a fresh decoder; what it yielded, and the decoder after the last.
    pub(super) fn replay(&self) -> Replay {
        self.replay_from(self.gtid_before)
    }

    /// [`Self::replay`] with another GTID state at the start of the file.
    pub(super) fn replay_from(&self, gtid: Option<&str>) -> Replay {
        let mut decoder = self.decoder_from(gtid);
        let mut transactions = Vec::new();
        for r in self.events() {
            match decoder.handle(&r.event) {
                Ok(None) => {}
                Ok(Some(StreamEvent::Transaction(t))) => transactions.push(t),
                Ok(Some(StreamEvent::Heartbeat)) => panic!("{}: a heartbeat in a file", self.name),
                Err(e) => panic!("{}: event at {}: {e}", self.name, r.at),
            }
        }
        Replay {
            transactions,
            decoder,
        }
    }

    /// Where each transaction of the file ends, found without the decoder: both servers begin
    /// every transaction with a GTID event, and a transaction ends with the last event before
    /// the next GTID event (or the closing rotate), leaving out MariaDB's binlog checkpoints,
    /// which the server writes between transactions when it likes.
    pub(super) fn transaction_ends(&self) -> Vec<u64> {
        let mut ends = Vec::new();
        let mut last_end = None;
        for r in self.events() {
            let kind = r.kind();
            if is_gtid(kind) || kind == EventType::ROTATE_EVENT as u8 {
                ends.extend(last_end.take());
            }
            if is_gtid(kind) || (last_end.is_some() && kind != MARIA_BINLOG_CHECKPOINT) {
                last_end = Some(r.end());
            }
        }
        ends
    }

    /// A position in this file.
    pub(super) fn at(&self, pos: u64, gtid: &str) -> Position {
        Position {
            file: self.file.to_string(),
            pos,
            gtid: Some(gtid.to_string()),
        }
    }
}

/// MariaDB's BINLOG_CHECKPOINT_EVENT.
const MARIA_BINLOG_CHECKPOINT: u8 = 161;

fn is_gtid(kind: u8) -> bool {
    kind == super::MARIA_GTID
        || kind == EventType::GTID_EVENT as u8
        || kind == EventType::GTID_TAGGED_LOG_EVENT as u8
}

/// What a fixture's replay gave.
pub(super) struct Replay {
    pub(super) transactions: Vec<Transaction>,
    pub(super) decoder: Decoder,
}

impl Replay {
    /// All changes of all transactions, in order.
    pub(super) fn changes(&self) -> Vec<SourceChange> {
        self.transactions
            .iter()
            .flat_map(|t| t.changes.iter().cloned())
            .collect()
    }
}

/// `2026-01-02 03:04:05[.ffffff]`.
pub(super) fn dt(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// A change of tenant `db`.
pub(super) fn tenant(db: &str, change: crate::model::Change) -> SourceChange {
    SourceChange::Tenant {
        db: db.to_string(),
        change,
    }
}

/// The classification of queries (BEGIN, COMMIT, XA ..., anything else).
#[test]
fn queries_are_classified() {
    use super::{classify_query, QueryKind};
    assert!(matches!(classify_query(b"BEGIN"), QueryKind::Begin));
    assert!(matches!(classify_query(b"COMMIT"), QueryKind::End));
    assert!(matches!(classify_query(b"rollback"), QueryKind::End));
    assert!(matches!(
        classify_query(b"ROLLBACK TO SAVEPOINT a"),
        QueryKind::Other
    ));
    assert!(matches!(
        classify_query(b"XA COMMIT 'x' ONE PHASE"),
        QueryKind::End
    ));
    assert!(matches!(
        classify_query(b"ALTER TABLE t ADD c INT"),
        QueryKind::Other
    ));
}
