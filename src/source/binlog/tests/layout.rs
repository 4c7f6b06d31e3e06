//! The recorded files themselves, read without the decoder: each is a whole binlog file (magic,
//! format description, events, the rotate to the next file), every event's header length and
//! end position agree with its place, every checksum holds, and the flavours write the event
//! kinds the decoder expects of them.

use mysql_async::binlog::events::RotateEvent;
use mysql_async::binlog::EventType;

use super::super::bytes::le_u32;
use super::*;

#[test]
fn every_file_is_whole_events_with_good_checksums() {
    for fx in FIXTURES {
        let events = fx.events();
        let mut at = 4;
        for r in &events {
            let h = r.event.header();
            assert_eq!(r.at, at, "{}: events are back to back", fx.name);
            assert_eq!(u64::from(h.log_pos()), r.end(), "{}: end_log_pos", fx.name);
            let bytes = &fx.bytes[r.at as usize..r.end() as usize];
            let (body, crc) = bytes.split_at(bytes.len() - 4);
            assert_eq!(
                le_u32(Some(crc)),
                Some(crc32fast::hash(body)),
                "{}: CRC32 of the event at {}",
                fx.name,
                r.at
            );
            at = r.end();
        }
        assert_eq!(at as usize, fx.bytes.len(), "{}: nothing after", fx.name);

        let first = &events[0];
        assert_eq!(first.kind(), EventType::FORMAT_DESCRIPTION_EVENT as u8);
        assert!(
            matches!(
                first.event.footer().get_checksum_alg(),
                Ok(Some(
                    mysql_async::binlog::BinlogChecksumAlg::BINLOG_CHECKSUM_ALG_CRC32
                ))
            ),
            "{}: the format description announces CRC32",
            fx.name
        );

        let last = events.last().expect("events");
        assert_eq!(last.kind(), EventType::ROTATE_EVENT as u8);
        let rotate = last.event.read_event::<RotateEvent>().expect("rotate");
        assert_eq!(rotate.name_raw(), next_file(fx.file).as_bytes());
        assert_eq!(rotate.position(), 4);
    }
}

/// `bin.000003` -> `bin.000004`.
fn next_file(file: &str) -> String {
    let (base, n) = file.rsplit_once('.').expect("numbered file");
    let n: u32 = n.parse().expect("number");
    format!("{base}.{:06}", n + 1)
}

fn kinds(fx: &Fixture) -> Vec<u8> {
    fx.events().iter().map(Recorded::kind).collect()
}

// Event type codes, as the files hold them.
const FDE: u8 = 15;
const ROTATE: u8 = 4;
const QUERY: u8 = 2;
const XID: u8 = 16;
const XA_PREPARE: u8 = 38;
const TABLE_MAP: u8 = 19;
const WRITE_V1: u8 = 23;
const UPDATE_V1: u8 = 24;
const DELETE_V1: u8 = 25;
const WRITE: u8 = 30;
const UPDATE: u8 = 31;
const DELETE: u8 = 32;
const PARTIAL_UPDATE: u8 = 39;
const MARIA_CHECKPOINT: u8 = 161;
const MARIA_GTID: u8 = 162;
const MARIA_GTID_LIST: u8 = 163;
const PREVIOUS_GTIDS: u8 = 35;
const GTID: u8 = 33;
const GTID_TAGGED: u8 = 42;

/// MariaDB: the format description, its GTID list and two binlog checkpoints open every file;
/// each transaction is a GTID event (no BEGIN query), then a table map before every rows event
/// (re-sent within a transaction), version 1 rows events, and an XID. DDL is a GTID event and
/// the query; an XA PREPARE ends on an XA_PREPARE event and its XA COMMIT is a query.
#[test]
fn mariadb_files_hold_the_event_kinds_of_mariadb() {
    let head = [FDE, MARIA_GTID_LIST, MARIA_CHECKPOINT, MARIA_CHECKPOINT];
    let tables = [
        &head[..],
        &[
            MARIA_GTID, TABLE_MAP, WRITE_V1, TABLE_MAP, WRITE_V1, TABLE_MAP, WRITE_V1,
        ],
        &[TABLE_MAP, WRITE_V1, TABLE_MAP, WRITE_V1, XID],
        &[MARIA_GTID, TABLE_MAP, WRITE_V1, XID],
        &[MARIA_GTID, TABLE_MAP, WRITE_V1, TABLE_MAP, WRITE_V1, XID],
        &[MARIA_GTID, TABLE_MAP, WRITE_V1, XID, ROTATE],
    ]
    .concat();
    assert_eq!(kinds(&MARIADB_TABLES), tables);
    let rows = [
        &head[..],
        &[
            MARIA_GTID, TABLE_MAP, WRITE_V1, TABLE_MAP, UPDATE_V1, TABLE_MAP, UPDATE_V1,
        ],
        &[TABLE_MAP, DELETE_V1, XID],
        &[
            MARIA_GTID, TABLE_MAP, WRITE_V1, TABLE_MAP, UPDATE_V1, TABLE_MAP, DELETE_V1, XID,
        ],
        &[
            MARIA_GTID, TABLE_MAP, WRITE_V1, TABLE_MAP, WRITE_V1, TABLE_MAP, WRITE_V1, XID,
        ],
        &[
            MARIA_GTID, TABLE_MAP, WRITE_V1, TABLE_MAP, UPDATE_V1, TABLE_MAP, UPDATE_V1,
        ],
        &[TABLE_MAP, DELETE_V1, XID, ROTATE],
    ]
    .concat();
    assert_eq!(kinds(&MARIADB_ROWS), rows);
    let transactions = [
        &head[..],
        &[MARIA_GTID, QUERY],
        &[
            MARIA_GTID, TABLE_MAP, WRITE_V1, TABLE_MAP, WRITE_V1, TABLE_MAP, UPDATE_V1, XID,
        ],
        &[MARIA_GTID, TABLE_MAP, WRITE_V1, XID],
        &[MARIA_GTID, TABLE_MAP, WRITE_V1, XID],
        &[MARIA_GTID, TABLE_MAP, WRITE_V1, QUERY, XA_PREPARE],
        &[MARIA_GTID, QUERY],
        &[MARIA_GTID, QUERY, ROTATE],
    ]
    .concat();
    assert_eq!(kinds(&MARIADB_TRANSACTIONS), transactions);
}

/// MySQL: the format description and Previous-GTIDs open every file; each transaction is a GTID
/// event (a tagged one for `AUTOMATIC:tag`), a BEGIN query, table maps before every rows event,
/// version 2 rows events, and an XID; DDL is a GTID event and the query (atomic DDL: no XID
/// event); an XA PREPARE ends on an XA_PREPARE event; a partial JSON update is a
/// PARTIAL_UPDATE_ROWS_EVENT.
#[test]
fn mysql_files_hold_the_event_kinds_of_mysql() {
    let head = [FDE, PREVIOUS_GTIDS];
    let tables = [
        &head[..],
        &[
            GTID, QUERY, TABLE_MAP, WRITE, TABLE_MAP, WRITE, TABLE_MAP, WRITE,
        ],
        &[TABLE_MAP, WRITE, TABLE_MAP, WRITE, XID],
        &[GTID, QUERY, TABLE_MAP, WRITE, XID],
        &[GTID, QUERY, TABLE_MAP, WRITE, TABLE_MAP, WRITE, XID],
        &[GTID, QUERY, TABLE_MAP, WRITE, XID, ROTATE],
    ]
    .concat();
    assert_eq!(kinds(&MYSQL_TABLES), tables);
    let rows = [
        &head[..],
        &[
            GTID, QUERY, TABLE_MAP, WRITE, TABLE_MAP, UPDATE, TABLE_MAP, UPDATE,
        ],
        &[TABLE_MAP, DELETE, XID],
        &[
            GTID, QUERY, TABLE_MAP, WRITE, TABLE_MAP, UPDATE, TABLE_MAP, DELETE, XID,
        ],
        &[
            GTID, QUERY, TABLE_MAP, WRITE, TABLE_MAP, WRITE, TABLE_MAP, WRITE, XID,
        ],
        &[
            GTID, QUERY, TABLE_MAP, WRITE, TABLE_MAP, UPDATE, TABLE_MAP, UPDATE,
        ],
        &[TABLE_MAP, DELETE, XID, ROTATE],
    ]
    .concat();
    assert_eq!(kinds(&MYSQL_ROWS), rows);
    let transactions = [
        &head[..],
        &[GTID, QUERY],
        &[
            GTID, QUERY, TABLE_MAP, WRITE, TABLE_MAP, WRITE, TABLE_MAP, UPDATE, XID,
        ],
        &[GTID, QUERY, TABLE_MAP, WRITE, XID],
        &[GTID_TAGGED, QUERY, TABLE_MAP, WRITE, XID],
        &[GTID, QUERY, TABLE_MAP, WRITE, QUERY, XA_PREPARE],
        &[GTID, QUERY],
        &[GTID, QUERY, ROTATE],
    ]
    .concat();
    assert_eq!(kinds(&MYSQL_TRANSACTIONS), transactions);
    let partial = [
        &head[..],
        &[GTID, QUERY, TABLE_MAP, WRITE, XID],
        &[GTID, QUERY, TABLE_MAP, PARTIAL_UPDATE, XID, ROTATE],
    ]
    .concat();
    assert_eq!(kinds(&MYSQL_PARTIAL_JSON), partial);
}

/// The fixtures stay small: the whole set is well under 64 KiB.
#[test]
fn fixtures_are_small() {
    let total: usize = FIXTURES.iter().map(|f| f.bytes.len()).sum();
    assert!(total < 64 * 1024, "{total} bytes");
    assert!(FIXTURES.iter().all(|f| f.bytes.len() < 8 * 1024));
}
