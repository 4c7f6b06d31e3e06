//! The event loop on `transactions.bin` (both flavours): events grouped into whole
//! [`Transaction`]s, commit times, the position after each commit event, GTIDs and the GTID
//! state (MariaDB's GTID list and replication domains, MySQL's GTID sets and tagged GTIDs), DDL
//! as a transaction of its own, XA PREPARE and XA COMMIT, and the rotate that ends a file.

use mysql_async::binlog::events::TableMapEvent;

use super::*;
use crate::model::row::{Token, TokenStatus};
use crate::model::{Change, Row};
use crate::source::gtid::Gtid;

fn token(id: i64, status: TokenStatus, spawned: &str) -> SourceChange {
    tenant(
        "bgerp_t_acme",
        Change::Upsert(Row::Token(Token {
            id,
            instance: Some(300),
            is_product: true,
            node: None,
            status,
            spawned_at: Some(dt(spawned)),
            completed_at: None,
        })),
    )
}

/// The seven transactions: DDL (no changes), two token changes around an untracked row, an
/// untracked row alone (a transaction all the same: it moves the position), a token in another
/// GTID domain (MariaDB) or under a tagged GTID (MySQL), an XA PREPARE (its changes are
/// delivered there), the XA COMMIT (nothing more), DDL.
#[test]
fn the_transactions_file_replays_to_its_transactions() {
    for fx in [&MARIADB_TRANSACTIONS, &MYSQL_TRANSACTIONS] {
        let replay = fx.replay();
        let ends = fx.transaction_ends();
        let (gtids, states): (Vec<Gtid>, Vec<String>) = match fx.flavor {
            Flavor::MariaDb => {
                // Domain 0 continues the file's GTID list [0-1-22]; domain 7 counts on its own.
                let g = |domain, seq| Gtid::MariaDb {
                    domain,
                    server: 1,
                    seq,
                };
                let gtids = vec![
                    g(0, 23),
                    g(0, 24),
                    g(0, 25),
                    g(7, 1),
                    g(0, 26),
                    g(0, 27),
                    g(0, 28),
                ];
                let states = ["0-1-23", "0-1-24", "0-1-25", "0-1-25,7-1-1", "0-1-26,7-1-1"];
                let states = states
                    .into_iter()
                    .chain(["0-1-27,7-1-1", "0-1-28,7-1-1"])
                    .map(String::from)
                    .collect();
                (gtids, states)
            }
            Flavor::MySql => {
                let g = |tag: &str, gno| Gtid::MySql {
                    uuid: MYSQL_UUID.into(),
                    tag: tag.into(),
                    gno,
                };
                let gtids = vec![
                    g("", 23),
                    g("", 24),
                    g("", 25),
                    g("fixture", 1),
                    g("", 26),
                    g("", 27),
                    g("", 28),
                ];
                let states = ["1-23", "1-24", "1-25", "1-25:fixture:1", "1-26:fixture:1"]
                    .into_iter()
                    .chain(["1-27:fixture:1", "1-28:fixture:1"])
                    .map(|s| format!("{MYSQL_UUID}:{s}"))
                    .collect();
                (gtids, states)
            }
        };
        let changes = [
            vec![],
            vec![
                token(30, TokenStatus::Ready, "2026-01-04 08:00:00"),
                token(30, TokenStatus::Paused, "2026-01-04 08:00:00"),
            ],
            vec![],
            vec![token(33, TokenStatus::Waiting, "2026-01-04 08:30:00")],
            vec![token(32, TokenStatus::Active, "2026-01-04 09:00:00")],
            vec![],
            vec![],
        ];
        let expected: Vec<Transaction> = (0..7)
            .map(|i| Transaction {
                changes: changes[i].clone(),
                commit_ts: 1_767_236_400 + i as i64,
                end: fx.at(ends[i], &states[i]),
                gtid: Some(gtids[i].clone()),
                drift: vec![],
            })
            .collect();
        assert_eq!(replay.transactions, expected, "{:?}", fx.flavor);
    }
}

/// The ends found by the fixture helper, checked against `mysqlbinlog`'s end_log_pos of the
/// first two commit events (the DDL query, the first XID); after a regeneration that changes
/// the files, take them from `mysqlbinlog --no-defaults FILE` again.
#[test]
fn transaction_ends_are_just_after_the_commit_events() {
    assert_eq!(MARIADB_TRANSACTIONS.transaction_ends()[..2], [542, 1783]);
    assert_eq!(MYSQL_TRANSACTIONS.transaction_ends()[..2], [422, 1786]);
    for fx in FIXTURES {
        let events = fx.events();
        let ends = fx.transaction_ends();
        let replay = fx.replay();
        assert_eq!(replay.transactions.len(), ends.len(), "{}", fx.name);
        for (t, end) in replay.transactions.iter().zip(&ends) {
            assert_eq!(t.end.pos, *end, "{}", fx.name);
            assert_eq!(t.end.file, fx.file);
            let commit = events.iter().find(|r| r.end() == *end).expect("an event");
            assert_eq!(t.commit_ts, i64::from(commit.event.header().timestamp()));
        }
    }
}

/// The closing rotate moves the position to the start of the next file and forgets the table
/// ids of this one.
#[test]
fn the_rotate_at_the_end_of_a_file_moves_on_and_forgets_the_tables() {
    for fx in [&MARIADB_TRANSACTIONS, &MYSQL_TRANSACTIONS] {
        let events = fx.events();
        let map = events
            .iter()
            .find(|r| r.kind() == EventType::TABLE_MAP_EVENT as u8)
            .expect("a table map");
        let id = map
            .event
            .read_event::<TableMapEvent>()
            .expect("table map")
            .table_id();
        let mut decoder = fx.decoder();
        let (last, rest) = events.split_last().expect("events");
        for r in rest {
            decoder.handle(&r.event).expect("handled");
        }
        assert!(decoder.tables.decoding(id).is_some(), "{:?}", fx.flavor);
        let before = decoder.position();
        assert_eq!(before.pos, last.at);
        assert_eq!(decoder.handle(&last.event), Ok(None));
        let next = format!(
            "bin.{:06}",
            fx.file[4..].parse::<u32>().expect("number") + 1
        );
        assert_eq!(
            decoder.position(),
            Position {
                file: next,
                pos: 4,
                gtid: before.gtid
            }
        );
        assert!(decoder.tables.decoding(id).is_none(), "{:?}", fx.flavor);
    }
}

/// MariaDB: the GTID list that opens a file fills the domains the starting state lacks, and
/// leaves alone those it knows.
#[test]
fn mariadb_gtid_list_fills_only_unknown_domains() {
    let fx = &MARIADB_TRANSACTIONS;
    let events = fx.events();
    assert_eq!(events[1].kind(), super::super::MARIA_GTID_LIST);
    for (start, after) in [
        (None, "0-1-22"),
        (Some("3-2-9"), "0-1-22,3-2-9"),
        (Some("0-2-40"), "0-2-40"),
    ] {
        let mut decoder = fx.decoder_from(start);
        for r in &events[..2] {
            decoder.handle(&r.event).expect("handled");
        }
        assert_eq!(decoder.position().gtid.as_deref(), Some(after), "{start:?}");
    }
}

/// MySQL: without a starting GTID set no state is reported (single GTIDs would make a wrong
/// partial set), though each transaction still carries its GTID.
#[test]
fn mysql_without_a_starting_set_reports_no_gtid_state() {
    let replay = MYSQL_TRANSACTIONS.replay_from(None);
    assert_eq!(replay.transactions.len(), 7);
    for t in &replay.transactions {
        assert_eq!(t.end.gtid, None);
        assert!(matches!(t.gtid, Some(Gtid::MySql { .. })));
    }
}

/// Positions only grow: after every event the decoder stands at that event's end.
#[test]
fn the_position_follows_every_event() {
    for fx in FIXTURES {
        let events = fx.events();
        let mut decoder = fx.decoder();
        let (_, rest) = events.split_last().expect("events");
        for r in rest {
            decoder.handle(&r.event).expect("handled");
            assert_eq!(decoder.position().pos, r.end(), "{} at {}", fx.name, r.at);
        }
    }
}
