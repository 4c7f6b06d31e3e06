//! Table maps on `tables.bin` (and the maps of the other files): which table ids are tracked
//! tables, where their needed columns are (found by name in the FULL metadata), the width and
//! conversion of every column of a table of many types (and each conversion on the bytes of a
//! row of it), untracked tables ignored, the core
//! `organization` table, a map re-sent unchanged not analysed again, a table id mapped anew
//! analysed again, and the drift of a table that lacks needed columns.

use std::sync::Arc;

use mysql_async::binlog::events::{Event, TableMapEvent};

use mysql_async::binlog::events::EventData;

use super::super::decode::{read_image, Conv, ImageColumn, Layout, Width};
use super::super::tables::{Plan, TableMaps, Target};
use super::*;
use crate::model::row::{Assignment, AssignmentStatus, Token, TokenStatus};
use crate::model::{Change, Row, Value};
use crate::schema::{SchemaProblem, Table, TableProblem};
use crate::source::gtid::Gtid;
use crate::source::Organization;

/// The table map events of a fixture, with the table they name and their table id.
fn maps(fx: &Fixture) -> Vec<(String, u64, Event)> {
    fx.events()
        .into_iter()
        .filter(|r| r.kind() == EventType::TABLE_MAP_EVENT as u8)
        .map(|r| {
            let tme = r.event.read_event::<TableMapEvent>().expect("table map");
            let name = format!("{}.{}", tme.database_name(), tme.table_name());
            (name, tme.table_id(), r.event)
        })
        .collect()
}

/// The first map of `table` (`db.table`) in the fixture.
fn first_map(fx: &Fixture, table: &str) -> (u64, Event) {
    maps(fx)
        .into_iter()
        .find(|(name, ..)| name == table)
        .map(|(_, id, e)| (id, e))
        .unwrap_or_else(|| panic!("{}: no map of {table}", fx.name))
}

fn table_maps() -> TableMaps {
    TableMaps::new("bgerp", "bgerp_t_")
}

fn fixed(n: usize, conv: Conv) -> ImageColumn {
    ImageColumn {
        width: Width::Fixed(n),
        conv,
    }
}

fn prefixed(n: usize, conv: Conv) -> ImageColumn {
    ImageColumn {
        width: Width::Prefixed(n),
        conv,
    }
}

fn int(unsigned: bool) -> Conv {
    Conv::Int { unsigned }
}

fn decimal(precision: usize, scale: usize) -> Conv {
    Conv::Decimal { precision, scale }
}

fn labels(l: &[&str]) -> Conv {
    Conv::Enum(l.iter().map(|s| s.to_string()).collect::<Vec<_>>().into())
}

/// `bgerp_t_acme.flow_token` column by column: the width each takes in a row image and what
/// becomes of it. MariaDB's JSON is a LONGTEXT (text); MySQL's is binary JSON (never read).
/// MySQL's table has a VECTOR column where MariaDB's has an INET6 and a UUID.
#[test]
fn a_tenant_token_map_gives_every_column_its_width_and_the_needed_ones_their_slot() {
    for fx in [&MARIADB_TABLES, &MYSQL_TABLES] {
        let mut tables = table_maps();
        let (id, event) = first_map(fx, "bgerp_t_acme.flow_token");
        assert_eq!(tables.map(&event, &"test"), Ok(None), "{:?}", fx.flavor);
        let plan = tables.decoding(id).expect("a tracked table");
        let Plan::Decode(d) = &*plan else {
            panic!("{:?}: not decoded", fx.flavor)
        };
        assert!(matches!(
            &d.target,
            Target::Tenant { db, table: Table::Token } if db == "bgerp_t_acme"
        ));
        assert_eq!(d.target_name(), "bgerp_t_acme.flow_token");

        let mysql = fx.flavor == Flavor::MySql;
        let json = if mysql {
            Conv::Unsupported
        } else {
            Conv::Bytes
        };
        let status = [
            "ready",
            "active",
            "waiting",
            "paused",
            "completed",
            "scrapped",
        ];
        let mut expected = vec![
            ("id_token", fixed(4, int(false))),
            ("yr", fixed(1, Conv::Year)),
            // DECIMAL(20,6): 14 integer digits in 4 + 3 bytes, 6 fraction digits in 3.
            ("amount", fixed(10, decimal(20, 6))),
            ("f", fixed(4, Conv::Float)),
            ("d", fixed(8, Conv::Double)),
            // UNSIGNED: its signedness bit comes after those of YEAR, DECIMAL, FLOAT, DOUBLE.
            ("id_instance", fixed(4, int(true))),
            // BIT(10): 1 whole byte and 2 bits.
            ("b10", fixed(2, Conv::Bit)),
            ("tags", fixed(1, Conv::Set)),
            // VARCHAR(50) of utf8mb4 holds up to 200 bytes: 1 length byte; VARCHAR(100) 400: 2.
            ("label", prefixed(1, Conv::Bytes)),
            ("serial_number", prefixed(2, Conv::Bytes)),
            // An ENUM before the ENUMs read: the labels are taken in order.
            ("grade", fixed(1, labels(&["x", "y", "z"]))),
            (
                "token_type",
                fixed(1, labels(&["batch", "piece", "component"])),
            ),
            ("dt3", fixed(7, Conv::DateTime2 { fsp: 3 })),
            ("t3", fixed(5, Conv::Unsupported)),
            ("ts6", fixed(7, Conv::Timestamp2)),
            ("m", fixed(3, int(true))),
            ("big", fixed(8, int(false))),
            // CHAR(100) of utf8mb4: 400 bytes, a 2-byte length (MySQL's CHAR over 255 bytes).
            ("c100", prefixed(2, Conv::Bytes)),
            ("c5", prefixed(1, Conv::Bytes)),
            ("current_node_id", fixed(4, int(false))),
            ("tt", prefixed(1, Conv::Bytes)),
            ("bl", prefixed(2, Conv::Bytes)),
            ("mb", prefixed(3, Conv::Bytes)),
            ("lt", prefixed(4, Conv::Bytes)),
            ("metadata", prefixed(4, json)),
            ("day", fixed(3, Conv::Date)),
            ("pt", prefixed(4, Conv::Unsupported)),
        ];
        if mysql {
            expected.push(("vec", prefixed(4, Conv::Unsupported)));
        } else {
            // Stored like BINARY(16): a length byte, trailing zero bytes left out.
            expected.push(("ip", prefixed(1, Conv::Bytes)));
            expected.push(("u", prefixed(1, Conv::Bytes)));
        }
        expected.extend([
            ("status", fixed(1, labels(&status))),
            ("spawned_at", fixed(5, Conv::DateTime2 { fsp: 0 })),
            ("completed_at", fixed(8, Conv::DateTime2 { fsp: 6 })),
        ]);
        assert_eq!(d.layout.columns.len(), expected.len(), "{:?}", fx.flavor);
        let needed: Vec<&str> = Table::Token.columns().iter().map(|c| c.name).collect();
        for (i, (name, column)) in expected.iter().enumerate() {
            assert_eq!(&d.layout.columns[i], column, "{:?} {name}", fx.flavor);
            let slot = needed.iter().position(|n| n == name);
            assert_eq!(d.layout.slots[i], slot, "{:?} {name}", fx.flavor);
        }
        assert_eq!(d.layout.needed, 7);
        assert_eq!(d.layout.json_columns, usize::from(mysql), "{:?}", fx.flavor);
    }
}

/// The row of many types comes out right only if every skipped column took its width.
#[test]
fn a_row_of_many_types_decodes_past_every_skipped_column() {
    for fx in [&MARIADB_TABLES, &MYSQL_TABLES] {
        let first = &fx.replay().transactions[0];
        assert_eq!(
            first.changes[0],
            tenant(
                "bgerp_t_acme",
                Change::Upsert(Row::Token(Token {
                    id: 1,
                    instance: Some(4_000_000_000),
                    is_product: true,
                    node: Some(44),
                    status: TokenStatus::Completed,
                    spawned_at: Some(dt("2026-01-07 01:02:03")),
                    completed_at: Some(dt("2026-01-07 02:03:04.567891")),
                }))
            ),
            "{:?}",
            fx.flavor
        );
    }
}

/// The same row read as if flowtally needed every column: each type's conversion on the bytes
/// the server wrote (`read_image` with every column in a slot of its own).
#[test]
fn every_column_of_the_row_of_many_types_converts_from_its_bytes() {
    for fx in [&MARIADB_TABLES, &MYSQL_TABLES] {
        let mut tables = table_maps();
        let (id, event) = first_map(fx, "bgerp_t_acme.flow_token");
        tables.map(&event, &"test").expect("map");
        let plan = tables.decoding(id).expect("tracked");
        let Plan::Decode(d) = &*plan else {
            panic!("not decoded")
        };
        let n = d.layout.columns.len();
        let every = Layout {
            columns: d.layout.columns.clone(),
            slots: (0..n).map(Some).collect(),
            needed: n,
            json_columns: d.layout.json_columns,
        };
        let events = fx.events();
        let write = events
            .iter()
            .find(|r| super::super::rows::is_rows_event(r.kind()))
            .expect("the first rows event");
        let Ok(Some(EventData::RowsEvent(data))) = write.event.read_data() else {
            panic!("not a rows event")
        };
        let mut buf = data.rows_data();
        let mut values = Vec::new();
        read_image(&mut buf, &vec![true; n], &every, false, &mut values).expect("decoded");
        assert!(buf.is_empty(), "one row");

        let text = |s: &str| Value::Text(s.to_string());
        let lossy = |b: &[u8]| Value::Text(String::from_utf8_lossy(b).into_owned());
        let mut expected = vec![
            Value::Int(1),
            Value::Int(2024),
            text("-12345678.123456"),
            text("1.5"),
            text("-2.25"),
            Value::Int(4_000_000_000),
            Value::Int(0b10_1010_1010),
            Value::Int(0b101), // SET 'a,c': bits 0 and 2
            text("short"),
            text(&"€".repeat(90)),
            text("y"),
            text("batch"),
            Value::DateTime(dt("2026-01-01 00:00:00.123")),
            Value::Null,               // TIME is never read
            Value::Int(1_767_225_600), // TIMESTAMP(6): epoch seconds, the fraction dropped
            Value::Int(16_777_215),
            Value::Int(-9_000_000_000),
            text("ééé"),
            text("c5"),
            Value::Int(44),
            text("tiny"),
            lossy(b"\x00\xff\x00"),
            text(&"m".repeat(300)),
            text("long text"),
        ];
        if fx.flavor == Flavor::MySql {
            expected.extend([
                Value::Null, // binary JSON is never read
                Value::DateTime(dt("2026-02-03 00:00:00")),
                Value::Null, // POINT
                Value::Null, // VECTOR
            ]);
        } else {
            expected.extend([
                text("{\"k\": [1, 2, 3]}"), // MariaDB's JSON is text
                Value::DateTime(dt("2026-02-03 00:00:00")),
                Value::Null, // POINT
                // INET6 and UUID come as their binary form (a UUID without its trailing zero
                // bytes), not as the text a SELECT shows: fine while flowtally reads neither.
                lossy(b"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01"),
                lossy(b"\x12\x3e\x45\x67\xe8\x9b\x12\xd3\xa4\x56\x42\x66\x55\x44"),
            ]);
        }
        expected.extend([
            text("completed"),
            Value::DateTime(dt("2026-01-07 01:02:03")),
            Value::DateTime(dt("2026-01-07 02:03:04.567891")),
        ]);
        assert_eq!(values, expected, "{:?}", fx.flavor);
    }
}

/// Tables outside the tracked set: another table of a tenant, a tracked name in a database
/// without the prefix, another table of the core database. Their ids decode nothing, and
/// their rows events are not even read.
#[test]
fn untracked_tables_are_ignored() {
    for fx in [&MARIADB_TABLES, &MYSQL_TABLES] {
        let mut tables = table_maps();
        for name in [
            "bgerp_t_acme.scratch_notes",
            "other_db.flow_token",
            "bgerp.audit_log",
        ] {
            let (id, event) = first_map(fx, name);
            assert_eq!(tables.map(&event, &"test"), Ok(None));
            assert!(tables.decoding(id).is_none(), "{:?} {name}", fx.flavor);
        }
        // The whole transaction holding them gives the token and the organization only.
        let first = &fx.replay().transactions[0];
        assert_eq!(
            first.changes.len(),
            2,
            "{:?}: {:?}",
            fx.flavor,
            first.changes
        );
        assert!(matches!(
            first.changes[1],
            SourceChange::Organization { id: 1, .. }
        ));
    }
}

#[test]
fn the_core_organization_table_is_tracked() {
    for fx in [&MARIADB_TABLES, &MYSQL_TABLES] {
        let mut tables = table_maps();
        let (id, event) = first_map(fx, "bgerp.organization");
        assert_eq!(tables.map(&event, &"test"), Ok(None));
        let plan = tables.decoding(id).expect("tracked");
        let Plan::Decode(d) = &*plan else {
            panic!("not decoded")
        };
        assert!(matches!(d.target, Target::Organization));
        assert_eq!(
            d.layout.columns,
            vec![
                fixed(4, int(false)),                      // id_org
                prefixed(1, Conv::Bytes),                  // code VARCHAR(50)
                prefixed(2, Conv::Bytes),                  // name VARCHAR(200): 800 bytes
                fixed(1, labels(&["active", "inactive"])), // status
                fixed(5, Conv::DateTime2 { fsp: 0 }),      // created_at
            ]
        );
        assert_eq!(d.layout.slots, vec![Some(0), Some(1), None, Some(2), None]);
        let first = &fx.replay().transactions[0];
        assert_eq!(
            first.changes[1],
            SourceChange::Organization {
                id: 1,
                after: Some(Organization {
                    id: 1,
                    code: "ACME".into(),
                    active: true
                })
            }
        );
    }
}

/// Every statement re-sends its table's map, byte for byte: the plan built from the first is
/// kept (the same `Arc`), not built again.
#[test]
fn a_map_sent_again_unchanged_is_not_analysed_again() {
    for fx in [&MARIADB_TABLES, &MARIADB_ROWS, &MYSQL_TABLES, &MYSQL_ROWS] {
        let mut tables = table_maps();
        let token_maps: Vec<(u64, Event)> = maps(fx)
            .into_iter()
            .filter(|(name, ..)| name == "bgerp_t_acme.flow_token")
            .map(|(_, id, e)| (id, e))
            .collect();
        assert!(token_maps.len() >= 2, "{}: {}", fx.name, token_maps.len());
        let (id, first) = &token_maps[0];
        tables.map(first, &"test").expect("map");
        let plan = tables.decoding(*id).expect("tracked");
        for (again_id, again) in &token_maps[1..] {
            assert_eq!(again_id, id, "{}: the same table id", fx.name);
            assert_eq!(again.data(), first.data(), "{}: the same bytes", fx.name);
            assert_eq!(tables.map(again, &"test"), Ok(None));
            assert!(Arc::ptr_eq(&tables.decoding(*id).expect("tracked"), &plan));
        }
    }
}

/// A table id that comes back naming another table (ids are reused once a table leaves the
/// server's table cache) is analysed anew: here the id of `bgerp_t_acme.flow_token` in a copy
/// of the map of `bgerp_t_drift.flow_token`.
#[test]
fn a_table_id_mapped_anew_is_analysed_again() {
    for fx in [&MARIADB_TABLES, &MYSQL_TABLES] {
        let events = fx.events();
        let fde = events[0].event.fde().clone();
        let (acme_id, acme) = first_map(fx, "bgerp_t_acme.flow_token");
        let (_, drift) = first_map(fx, "bgerp_t_drift.flow_token");
        let mut bytes = Vec::new();
        drift
            .write(mysql_async::binlog::BinlogVersion::Version4, &mut bytes)
            .expect("write the event");
        bytes[19..25].copy_from_slice(&acme_id.to_le_bytes()[..6]);
        let moved = Event::read(&fde, &bytes[..]).expect("read the patched event");

        let mut tables = table_maps();
        tables.map(&acme, &"test").expect("map");
        assert!(tables.decoding(acme_id).is_some());
        let drifted = tables.map(&moved, &"test").expect("map");
        assert_eq!(drifted.map(|d| d.db), Some("bgerp_t_drift".to_string()));
        assert!(tables.decoding(acme_id).is_none(), "{:?}", fx.flavor);
        tables.map(&acme, &"test").expect("map");
        assert!(tables.decoding(acme_id).is_some(), "and back");
    }
}

/// `bgerp_t_drift.flow_token` lacks `status` and `completed_at`: the map names them, its rows
/// decode to nothing, and the same map re-sent is not reported again.
#[test]
fn a_drifted_table_is_reported_once_with_the_missing_columns() {
    let expected = TableProblem {
        db: "bgerp_t_drift".into(),
        problem: SchemaProblem::MissingColumns {
            table: "flow_token".into(),
            columns: vec!["status".into(), "completed_at".into()],
        },
    };
    for fx in [&MARIADB_TABLES, &MYSQL_TABLES] {
        let mut tables = table_maps();
        let drift_maps: Vec<(u64, Event)> = maps(fx)
            .into_iter()
            .filter(|(name, ..)| name == "bgerp_t_drift.flow_token")
            .map(|(_, id, e)| (id, e))
            .collect();
        assert_eq!(drift_maps.len(), 2);
        let (id, first) = &drift_maps[0];
        assert_eq!(tables.map(first, &"test"), Ok(Some(expected.clone())));
        assert!(tables.decoding(*id).is_none());
        assert_eq!(tables.map(&drift_maps[1].1, &"test"), Ok(None));
        assert!(tables.decoding(*id).is_none());
    }
}

/// The whole file: transactions with their changes, drift, commit times, ends and GTIDs.
#[test]
fn the_tables_file_replays_to_its_transactions() {
    for fx in [&MARIADB_TABLES, &MYSQL_TABLES] {
        let replay = fx.replay();
        let ends = fx.transaction_ends();
        let (gtids, states): (Vec<Gtid>, Vec<String>) = match fx.flavor {
            Flavor::MariaDb => (15..=18)
                .map(|seq| {
                    let g = Gtid::MariaDb {
                        domain: 0,
                        server: 1,
                        seq,
                    };
                    (g, format!("0-1-{seq}"))
                })
                .unzip(),
            Flavor::MySql => (15..=18)
                .map(|gno| {
                    let g = Gtid::MySql {
                        uuid: MYSQL_UUID.into(),
                        tag: String::new(),
                        gno,
                    };
                    (g, format!("{MYSQL_UUID}:1-{gno}"))
                })
                .unzip(),
        };
        let token =
            |id, instance, is_product, node, status, spawned: &str, completed: Option<&str>| {
                Row::Token(Token {
                    id,
                    instance: Some(instance),
                    is_product,
                    node,
                    status,
                    spawned_at: Some(dt(spawned)),
                    completed_at: completed.map(dt),
                })
            };
        let changes = [
            vec![
                tenant(
                    "bgerp_t_acme",
                    Change::Upsert(token(
                        1,
                        4_000_000_000,
                        true,
                        Some(44),
                        TokenStatus::Completed,
                        "2026-01-07 01:02:03",
                        Some("2026-01-07 02:03:04.567891"),
                    )),
                ),
                SourceChange::Organization {
                    id: 1,
                    after: Some(Organization {
                        id: 1,
                        code: "ACME".into(),
                        active: true,
                    }),
                },
            ],
            vec![tenant(
                "bgerp_t_acme",
                Change::Upsert(token(
                    2,
                    7,
                    true,
                    None,
                    TokenStatus::Waiting,
                    "2026-01-08 00:00:00",
                    None,
                )),
            )],
            vec![tenant(
                "bgerp_t_acme",
                Change::Upsert(Row::Assignment(Assignment {
                    id: 3,
                    token: Some(1),
                    node: Some(44),
                    operator: Some(5),
                    status: AssignmentStatus::Assigned,
                    assigned_at: Some(dt("2026-01-09 00:00:01")),
                    started_at: None,
                    completed_at: None,
                })),
            )],
            vec![],
        ];
        let drift = [
            vec![],
            vec![],
            vec![TableProblem {
                db: "bgerp_t_drift".into(),
                problem: SchemaProblem::MissingColumns {
                    table: "flow_token".into(),
                    columns: vec!["status".into(), "completed_at".into()],
                },
            }],
            vec![],
        ];
        let expected: Vec<Transaction> = (0..4)
            .map(|i| Transaction {
                changes: changes[i].clone(),
                commit_ts: 1_767_229_200 + i as i64,
                end: fx.at(ends[i], &states[i]),
                gtid: Some(gtids[i].clone()),
                drift: drift[i].clone(),
            })
            .collect();
        assert_eq!(replay.transactions, expected, "{:?}", fx.flavor);
        assert_eq!(
            replay.decoder.rows.decoded, 4,
            "the drifted rows are not decoded"
        );
        assert_eq!(replay.decoder.rows.skipped, 0);
    }
}
