//! Rows events to [`SourceChange`]s on `rows.bin` (both flavours) and MySQL's `partial_json.bin`:
//! write, update and delete events of tenant tables and of `organization`, several rows per
//! event, a key change giving a delete then an upsert, NULLs, an invalid ENUM value, a zero date,
//! bytes that are not UTF-8, a NULL key skipped and counted, a partial JSON update, and a rows
//! event cut short.

use mysql_async::binlog::events::{EventData, RowsEventData, TableMapEvent};
use mysql_async::binlog::value::BinlogValue;

use super::super::StreamError;
use super::*;
use crate::model::row::{Assignment, AssignmentStatus, Key, Node, Token, TokenStatus};
use crate::model::{Change, Row};
use crate::source::Organization;

const ACME: &str = "bgerp_t_acme";

fn token(id: i64, node: Option<i64>, status: TokenStatus) -> Token {
    Token {
        id,
        instance: Some(100),
        is_product: false,
        node,
        status,
        spawned_at: Some(dt("2026-01-02 08:00:00")),
        completed_at: None,
    }
}

fn upsert(row: Row) -> SourceChange {
    tenant(ACME, Change::Upsert(row))
}

fn delete(key: Key) -> SourceChange {
    tenant(ACME, Change::Delete(key))
}

fn rows_files() -> [&'static Fixture; 2] {
    [&MARIADB_ROWS, &MYSQL_ROWS]
}

/// One statement each: an insert leaving the nullable needed columns (and every extra column)
/// NULL, an update of the same key (an upsert only), an update of the key (a delete of the old
/// key, then the upsert), a delete.
#[test]
fn token_insert_updates_and_delete() {
    for fx in rows_files() {
        let t = &fx.replay().transactions[0];
        assert_eq!(
            t.changes,
            vec![
                upsert(Row::Token(token(10, None, TokenStatus::Ready))),
                upsert(Row::Token(token(10, Some(7), TokenStatus::Active))),
                delete(Key::Token(10)),
                upsert(Row::Token(token(11, Some(7), TokenStatus::Active))),
                delete(Key::Token(11)),
            ],
            "{:?}",
            fx.flavor
        );
        assert_eq!(t.commit_ts, 1_767_232_800);
    }
}

/// A two-row insert, a two-row update (one event each) and a delete: one change per row, in
/// the order of the rows.
#[test]
fn statements_of_several_rows_give_a_change_per_row() {
    let assignment = |id, node, operator, status, assigned_at: Option<&str>, started: bool| {
        Row::Assignment(Assignment {
            id,
            token: Some(11),
            node: Some(node),
            operator: Some(operator),
            status,
            assigned_at: assigned_at.map(dt),
            started_at: started.then(|| dt("2026-01-02 09:30:00")),
            completed_at: None,
        })
    };
    let first = Some("2026-01-02 09:00:00");
    for fx in rows_files() {
        let t = &fx.replay().transactions[1];
        assert_eq!(
            t.changes,
            vec![
                upsert(assignment(
                    1,
                    7,
                    501,
                    AssignmentStatus::Assigned,
                    first,
                    false
                )),
                upsert(assignment(
                    2,
                    8,
                    502,
                    AssignmentStatus::Accepted,
                    None,
                    false
                )),
                upsert(assignment(
                    1,
                    7,
                    501,
                    AssignmentStatus::Started,
                    first,
                    true
                )),
                upsert(assignment(2, 8, 502, AssignmentStatus::Started, None, true)),
                delete(Key::Assignment(2)),
            ],
            "{:?}",
            fx.flavor
        );
    }
}

/// Written with sql_mode '': an ENUM value outside the enum (stored as ordinal 0, '' in
/// SELECTs) is an invalid status, a zero date is no date, a VARBINARY name that is not UTF-8 is
/// decoded lossily; and in the keyless table a row whose `id_token` is NULL is skipped (and
/// counted), the next row of the same event still decoded.
#[test]
fn bad_values_decode_and_a_null_key_is_skipped() {
    for fx in rows_files() {
        let replay = fx.replay();
        let t = &replay.transactions[2];
        assert_eq!(
            t.changes,
            vec![
                upsert(Row::Token(Token {
                    id: 12,
                    instance: Some(100),
                    is_product: true,
                    node: None,
                    status: TokenStatus::Invalid,
                    spawned_at: Some(dt("2026-01-02 10:00:00")),
                    completed_at: None,
                })),
                upsert(Row::Node(Node {
                    id: 8,
                    graph: Some(9),
                    code: Some("CUT".into()),
                    name: Some("Node\u{fffd} \u{fffd}(".into()),
                    team_category: Some("cutting".into()),
                    wip_limit: None,
                })),
                tenant(
                    "bgerp_t_loose",
                    Change::Upsert(Row::Token(Token {
                        id: 5,
                        instance: Some(1),
                        is_product: true,
                        node: Some(3),
                        status: TokenStatus::Paused,
                        spawned_at: Some(dt("2026-01-02 11:00:00")),
                        completed_at: None,
                    }))
                ),
            ],
            "{:?}",
            fx.flavor
        );
        // 4 + 5 + 4 + 4 rows of tracked tables in the file, the NULL key among them.
        assert_eq!(replay.decoder.rows.decoded, 17, "{:?}", fx.flavor);
        assert_eq!(replay.decoder.rows.skipped, 1, "{:?}", fx.flavor);
    }
}

/// The core table's rows: inserted, deactivated, its id changed (the old id goes), deleted.
#[test]
fn organization_rows_become_organization_changes() {
    let org = |id, active| {
        Some(Organization {
            id,
            code: "BETA".into(),
            active,
        })
    };
    for fx in rows_files() {
        let t = &fx.replay().transactions[3];
        assert_eq!(
            t.changes,
            vec![
                SourceChange::Organization {
                    id: 2,
                    after: org(2, true)
                },
                SourceChange::Organization {
                    id: 2,
                    after: org(2, false)
                },
                SourceChange::Organization { id: 2, after: None },
                SourceChange::Organization {
                    id: 3,
                    after: org(3, false)
                },
                SourceChange::Organization { id: 3, after: None },
            ],
            "{:?}",
            fx.flavor
        );
    }
}

/// MySQL with `binlog_row_value_options = PARTIAL_JSON`: the update is a
/// PARTIAL_UPDATE_ROWS_EVENT whose after image starts with the value options and a bitmap over
/// the JSON columns, and holds a diff for `metadata`; `status` and `spawned_at`, after it, still
/// decode.
#[test]
fn a_partial_json_update_decodes_the_columns_after_the_diff() {
    let fx = &MYSQL_PARTIAL_JSON;
    let events = fx.events();
    let map = events
        .iter()
        .rfind(|r| r.kind() == EventType::TABLE_MAP_EVENT as u8)
        .expect("a table map");
    let tme = map.event.read_event::<TableMapEvent>().expect("table map");
    let partial = events
        .iter()
        .find(|r| r.kind() == EventType::PARTIAL_UPDATE_ROWS_EVENT as u8)
        .expect("a partial update");
    let Ok(Some(EventData::RowsEvent(RowsEventData::PartialUpdateRowsEvent(ev)))) =
        partial.event.read_data()
    else {
        panic!("not a partial update rows event")
    };
    let (_, after) = ev.rows(&tme).next().expect("a row").expect("parsed");
    let metadata = 24;
    assert!(
        matches!(
            after.as_ref().and_then(|a| a.as_ref(metadata)),
            Some(BinlogValue::JsonDiff(_))
        ),
        "the after image holds a JSON diff"
    );

    let replay = fx.replay();
    let token = |status| {
        upsert(Row::Token(Token {
            id: 20,
            instance: Some(200),
            is_product: true,
            node: None,
            status,
            spawned_at: Some(dt("2026-01-03 08:00:00")),
            completed_at: None,
        }))
    };
    assert_eq!(
        replay.changes(),
        vec![token(TokenStatus::Ready), token(TokenStatus::Active)]
    );
}

/// A rows event shorter than its rows (its header and checksum made to agree) is a decode error
/// that names the table, not a panic nor wrong rows.
#[test]
fn a_rows_event_cut_short_is_a_decode_error() {
    for fx in rows_files() {
        let events = fx.events();
        let mut decoder = fx.decoder();
        // Up to the first rows event: the format description, ..., the token's map.
        let rows_at = events
            .iter()
            .position(|r| super::super::rows::is_rows_event(r.kind()))
            .expect("a rows event");
        for r in &events[..rows_at] {
            decoder.handle(&r.event).expect("handled");
        }
        let r = &events[rows_at];
        let mut bytes = fx.bytes[r.at as usize..r.end() as usize - 4].to_vec();
        bytes.truncate(bytes.len() - 3);
        let size = (bytes.len() + 4) as u32;
        bytes[9..13].copy_from_slice(&size.to_le_bytes());
        let crc = crc32fast::hash(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        let cut = mysql_async::binlog::events::Event::read(r.event.fde(), &bytes[..])
            .expect("an event still");
        match decoder.handle(&cut) {
            Err(StreamError::Decode(msg)) => assert!(
                msg.contains("rows of bgerp_t_acme.flow_token at bin.")
                    && msg.contains("truncated"),
                "{msg}"
            ),
            other => panic!("{:?}: {other:?}", fx.flavor),
        }
    }
}
