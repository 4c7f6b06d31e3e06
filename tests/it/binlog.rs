//! The binlog source against real MariaDB and MySQL servers: decoded values, transaction
//! grouping, positions, heartbeats, settings checks, schema drift, large events, compressed
//! events and login failures.
//!
//! Tests on the shared server see each other's transactions: each one stamps its own with
//! `SET timestamp = <epoch unique to the test>` and picks them out by `commit_ts` or database.
//! Tests that need an idle or exactly known binlog start a private server.

use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use flowtally::model::row::{Assignment, AssignmentStatus, Key, Node, Token, TokenStatus};
use flowtally::model::{Change, Row};
use flowtally::schema::{SchemaProblem, TableProblem};
use flowtally::source::binlog::{
    check_server, BinlogOptions, BinlogStream, Flavor as SourceFlavor, SetupError, StreamError,
    StreamEvent, Transaction,
};
use flowtally::source::{Organization, Position, SourceChange};
use mysql_async::{Conn, Opts, OptsBuilder};

use crate::common::{self, Flavor, Server};

on_all!(
    token_and_assignment_changes_decode_with_their_values,
    primary_key_update_gives_delete_then_upsert,
    invalid_enum_and_non_utf8_text_decode_without_error,
    untracked_writes_and_ddl_are_transactions_without_changes,
    one_transaction_across_two_tenants_keeps_its_order,
    organization_rows_become_organization_changes,
    schema_drift_is_reported_and_other_tables_still_decode,
    extra_columns_of_many_types_are_skipped_by_name,
    a_row_event_over_16_mb_does_not_break_the_stream,
    check_server_accepts_the_standard_server,
    check_server_reports_every_wrong_setting_at_once,
    check_server_without_binlog_names_log_bin,
    resuming_from_a_transaction_end_yields_exactly_what_followed,
    idle_server_sends_heartbeats_and_silence_times_out,
    refused_logins_are_fatal_and_never_show_the_password,
    an_unknown_binlog_file_means_the_position_is_lost,
    a_malformed_event_is_a_retryable_decode_error_not_a_crash,
    a_minimal_row_image_stops_the_stream_instead_of_reading_nulls,
);
on_mariadb!(
    compressed_events_stop_the_stream,
    "MariaDB's log_bin_compress writes compressed row events flowtally refuses; MySQL has no \
     such setting (its compressed transaction payloads are decoded: \
     compressed_transaction_payloads_are_decoded)"
);
on_mysql!(
    compressed_transaction_payloads_are_decoded,
    "MySQL's binlog_transaction_compression writes TRANSACTION_PAYLOAD events, which flowtally \
     decodes; MariaDB has no such events (its log_bin_compress is refused: \
     compressed_events_stop_the_stream)"
);

fn opts(db: &Server, user: &str, password: Option<&str>) -> Opts {
    OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(db.port)
        .user(Some(user))
        .pass(password)
        .prefer_socket(false)
        .into()
}

pub(crate) fn options(db: &Server, heartbeat: Duration) -> BinlogOptions {
    BinlogOptions {
        opts: opts(db, "root", None),
        server_id: common::next_server_id(),
        heartbeat,
        core_db: "bgerp".into(),
        db_prefix: "bgerp_t_".into(),
    }
}

/// The current end of the binlog.
pub(crate) async fn end_of_binlog(db: &Server) -> Position {
    let mut conn = Conn::new(opts(db, "root", None)).await.expect("connect");
    let info = check_server(&mut conn).await.expect("server passes checks");
    let _ = conn.disconnect().await;
    info.position
}

/// A stream from the current end of the binlog.
async fn stream_from_now(db: &Server, heartbeat: Duration) -> BinlogStream {
    let from = end_of_binlog(db).await;
    BinlogStream::connect(&options(db, heartbeat), &from)
        .await
        .expect("connect the binlog stream")
}

/// Runs a script on one session, its events stamped with `ts`.
pub(crate) async fn exec_at(db: &Server, ts: i64, sql: &str) {
    db.exec(&format!("SET timestamp = {ts};\n{sql}")).await;
}

/// Reads transactions until one satisfies `done`; returns them all (heartbeats skipped).
pub(crate) async fn read_until(
    stream: &mut BinlogStream,
    mut done: impl FnMut(&Transaction) -> bool,
) -> Vec<Transaction> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    loop {
        assert!(
            Instant::now() < deadline,
            "the expected transaction did not arrive; got {} transactions: {seen:#?}",
            seen.len()
        );
        match stream.next().await {
            Ok(StreamEvent::Transaction(t)) => {
                let stop = done(&t);
                seen.push(t);
                if stop {
                    return seen;
                }
            }
            Ok(StreamEvent::Heartbeat) => {}
            Err(e) => panic!("stream failed: {e}"),
        }
    }
}

/// The transactions stamped `ts`, read until `count` of them arrived.
pub(crate) async fn read_stamped(
    stream: &mut BinlogStream,
    ts: i64,
    count: usize,
) -> Vec<Transaction> {
    let mut n = 0;
    read_until(stream, |t| {
        n += usize::from(t.commit_ts == ts);
        n == count
    })
    .await
    .into_iter()
    .filter(|t| t.commit_ts == ts)
    .collect()
}

pub(crate) fn tenant_changes(t: &Transaction, db: &str) -> Vec<Change> {
    t.changes
        .iter()
        .filter_map(|c| match c {
            SourceChange::Tenant { db: d, change } if d == db => Some(change.clone()),
            _ => None,
        })
        .collect()
}

fn dt(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").expect("test datetime")
}

fn upserted_token(change: &Change) -> &Token {
    match change {
        Change::Upsert(Row::Token(t)) => t,
        other => panic!("expected a token upsert, got {other:?}"),
    }
}

async fn token_and_assignment_changes_decode_with_their_values(flavor: Flavor) {
    let db = common::shared(flavor);
    let code = common::unique_code("Vals");
    common::create_tenant(db, &code, false).await;
    let tdb = common::tenant_db(&code);
    let mut stream = stream_from_now(db, Duration::from_secs(1)).await;

    let ts = 1_767_225_600; // 2026-01-01 00:00:00 UTC
    exec_at(
        db,
        ts,
        &format!(
            "USE {tdb};
             INSERT INTO flow_token (id_token, id_instance, graph_version, token_type, serial_number,
                 current_node_id, status, qty, metadata, spawned_at, completed_at)
               VALUES (11, 7, 'v2', 'piece', 'SN-1', 5, 'active', 2.50, '{{\"k\": [1,2]}}',
                 '2026-01-02 03:04:05', NULL);
             UPDATE flow_token SET status = 'completed', current_node_id = NULL,
                 completed_at = '2026-01-02 04:05:06' WHERE id_token = 11;
             INSERT INTO token_assignment (id_assignment, id_token, id_node, assigned_to_user_id,
                 assigned_by_user_id, status, pinned_by, assigned_at, started_at, completed_at)
               VALUES (21, 11, 5, 900, 1, 'started', NULL, '2026-01-02 03:00:00',
                 '2026-01-02 03:10:00', NULL);
             DELETE FROM flow_token WHERE id_token = 11;"
        ),
    )
    .await;

    let txs = read_stamped(&mut stream, ts, 4).await;
    assert_eq!(txs.len(), 4, "one transaction per autocommit statement");
    for t in &txs {
        assert_eq!(t.commit_ts, ts);
        assert!(t.drift.is_empty());
    }
    let changes: Vec<Vec<Change>> = txs.iter().map(|t| tenant_changes(t, &tdb)).collect();

    let inserted = Token {
        id: 11,
        instance: Some(7),
        is_product: true,
        node: Some(5),
        status: TokenStatus::Active,
        spawned_at: Some(dt("2026-01-02 03:04:05")),
        completed_at: None,
    };
    assert_eq!(
        changes[0],
        vec![Change::Upsert(Row::Token(inserted.clone()))]
    );
    let completed = Token {
        node: None,
        status: TokenStatus::Completed,
        completed_at: Some(dt("2026-01-02 04:05:06")),
        ..inserted
    };
    assert_eq!(changes[1], vec![Change::Upsert(Row::Token(completed))]);
    assert_eq!(
        changes[2],
        vec![Change::Upsert(Row::Assignment(Assignment {
            id: 21,
            token: Some(11),
            node: Some(5),
            operator: Some(900),
            status: AssignmentStatus::Started,
            assigned_at: Some(dt("2026-01-02 03:00:00")),
            started_at: Some(dt("2026-01-02 03:10:00")),
            completed_at: None,
        }))]
    );
    assert_eq!(changes[3], vec![Change::Delete(Key::Token(11))]);

    // Positions advance and carry the GTID state of each commit: MariaDB's GTID list (domain
    // 0, server 1), MySQL's GTID set (this server's interval).
    for pair in txs.windows(2) {
        assert_eq!(pair[0].end.file, pair[1].end.file);
        assert!(pair[0].end.pos < pair[1].end.pos);
    }
    let server_uuid = match flavor {
        Flavor::MariaDb | Flavor::MariaDb118 => String::new(),
        Flavor::MySql => sqlx::query_scalar::<_, String>("SELECT CAST(@@server_uuid AS CHAR)")
            .fetch_one(&db.pool().await)
            .await
            .expect("server_uuid"),
    };
    let seqs: Vec<u64> = txs
        .iter()
        .map(|t| {
            let gtid = t.end.gtid.as_deref().expect("GTID state in positions");
            let seq = match flavor {
                Flavor::MariaDb | Flavor::MariaDb118 => gtid
                    .split(',')
                    .find(|g| g.starts_with("0-1-"))
                    .and_then(|g| g.rsplit('-').next())
                    .and_then(|s| s.parse().ok()),
                // uuid:1-41[:43-50]: the last transaction number.
                Flavor::MySql => gtid
                    .split(',')
                    .map(str::trim)
                    .find(|g| g.to_lowercase().starts_with(&server_uuid.to_lowercase()))
                    .and_then(|g| g.rsplit(['-', ':']).next())
                    .and_then(|s| s.parse().ok()),
            };
            seq.unwrap_or_else(|| panic!("this server's GTIDs in {gtid}"))
        })
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_eq!(stream.skipped_rows(), 0);
}

async fn primary_key_update_gives_delete_then_upsert(flavor: Flavor) {
    let db = common::shared(flavor);
    let code = common::unique_code("Pk");
    common::create_tenant(db, &code, false).await;
    let tdb = common::tenant_db(&code);
    let mut stream = stream_from_now(db, Duration::from_secs(1)).await;

    let ts = 1_767_225_700;
    exec_at(
        db,
        ts,
        &format!(
            "USE {tdb};
             INSERT INTO token_assignment (id_assignment, id_token, id_node, assigned_to_user_id,
                 status, assigned_at) VALUES (1, 2, 3, 4, 'assigned', '2026-01-03 08:00:00');
             UPDATE token_assignment SET id_assignment = 99, status = 'accepted'
                 WHERE id_assignment = 1;
             UPDATE token_assignment SET status = 'paused' WHERE id_assignment = 99;"
        ),
    )
    .await;
    let txs = read_stamped(&mut stream, ts, 3).await;

    let moved = tenant_changes(&txs[1], &tdb);
    assert_eq!(moved.len(), 2, "{moved:?}");
    assert_eq!(moved[0], Change::Delete(Key::Assignment(1)));
    match &moved[1] {
        Change::Upsert(Row::Assignment(a)) => {
            assert_eq!(a.id, 99);
            assert_eq!(a.status, AssignmentStatus::Accepted);
            assert_eq!(a.assigned_at, Some(dt("2026-01-03 08:00:00")));
        }
        other => panic!("expected the moved assignment, got {other:?}"),
    }
    // Same key: a plain upsert, no delete.
    let same = tenant_changes(&txs[2], &tdb);
    assert!(
        matches!(same.as_slice(), [Change::Upsert(Row::Assignment(a))] if a.id == 99 && a.status == AssignmentStatus::Paused),
        "{same:?}"
    );
}

async fn invalid_enum_and_non_utf8_text_decode_without_error(flavor: Flavor) {
    let db = common::shared(flavor);
    let code = common::unique_code("Odd");
    common::create_tenant(db, &code, false).await;
    let tdb = common::tenant_db(&code);
    // Production tables may hold bytes that are not UTF-8 (binary or latin1 columns).
    db.exec(&format!(
        "ALTER TABLE {tdb}.routing_node MODIFY node_name VARBINARY(200) NOT NULL"
    ))
    .await;
    let mut stream = stream_from_now(db, Duration::from_secs(1)).await;

    let ts = 1_767_225_800;
    exec_at(
        db,
        ts,
        &format!(
            "USE {tdb};
             SET SESSION sql_mode = '';
             INSERT INTO flow_token (id_token, id_instance, token_type, status, spawned_at)
               VALUES (5, 6, 'component', 'no-such-status', '2026-01-04 00:00:00');
             INSERT INTO routing_node (id_node, id_graph, node_code, node_name, node_type,
                 team_category) VALUES (8, 9, 'CUT', X'4e6f6465ff20c328', 'operation', 'cutting');"
        ),
    )
    .await;
    let txs = read_stamped(&mut stream, ts, 2).await;

    let token = tenant_changes(&txs[0], &tdb);
    let t = upserted_token(&token[0]);
    assert_eq!(
        t.status,
        TokenStatus::Invalid,
        "'' decodes as an invalid status"
    );
    assert!(!t.is_product, "component");

    let node = tenant_changes(&txs[1], &tdb);
    assert_eq!(
        node,
        vec![Change::Upsert(Row::Node(Node {
            id: 8,
            graph: Some(9),
            code: Some("CUT".into()),
            name: Some(String::from_utf8_lossy(b"Node\xff \xc3(").into_owned()),
            team_category: Some("cutting".into()),
            wip_limit: None,
        }))]
    );
}

async fn untracked_writes_and_ddl_are_transactions_without_changes(flavor: Flavor) {
    let db = common::shared(flavor);
    let code = common::unique_code("Untr");
    common::create_tenant(db, &code, false).await;
    let tdb = common::tenant_db(&code);
    let mut stream = stream_from_now(db, Duration::from_secs(1)).await;

    let ts = 1_767_225_900;
    exec_at(
        db,
        ts,
        &format!(
            "USE {tdb};
             CREATE TABLE scratch_notes (id INT PRIMARY KEY, note TEXT);
             INSERT INTO scratch_notes VALUES (1, 'not tracked');"
        ),
    )
    .await;
    let txs = read_stamped(&mut stream, ts, 2).await;
    assert_eq!(
        txs.len(),
        2,
        "the DDL and the insert are one transaction each"
    );
    for t in &txs {
        assert!(t.changes.is_empty(), "{t:?}");
        assert!(t.drift.is_empty());
    }
    assert!(txs[0].end.pos < txs[1].end.pos);
}

async fn one_transaction_across_two_tenants_keeps_its_order(flavor: Flavor) {
    let db = common::shared(flavor);
    let (a, b) = (common::unique_code("TwoA"), common::unique_code("TwoB"));
    common::create_tenant(db, &a, false).await;
    common::create_tenant(db, &b, false).await;
    let (adb, bdb) = (common::tenant_db(&a), common::tenant_db(&b));
    let mut stream = stream_from_now(db, Duration::from_secs(1)).await;

    let ts = 1_767_226_000;
    exec_at(
        db,
        ts,
        &format!(
            "START TRANSACTION;
             INSERT INTO {adb}.flow_token (id_token, id_instance, status, spawned_at)
               VALUES (1, 1, 'ready', '2026-01-05 00:00:00');
             INSERT INTO {bdb}.flow_token (id_token, id_instance, status, spawned_at)
               VALUES (2, 1, 'waiting', '2026-01-05 00:00:00');
             UPDATE {adb}.flow_token SET status = 'paused' WHERE id_token = 1;
             COMMIT;"
        ),
    )
    .await;
    let txs = read_stamped(&mut stream, ts, 1).await;
    let order: Vec<(String, i64, TokenStatus)> = txs[0]
        .changes
        .iter()
        .map(|c| match c {
            SourceChange::Tenant { db, change } => {
                let t = upserted_token(change);
                (db.clone(), t.id, t.status)
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        order,
        vec![
            (adb.clone(), 1, TokenStatus::Ready),
            (bdb, 2, TokenStatus::Waiting),
            (adb, 1, TokenStatus::Paused),
        ]
    );
}

async fn organization_rows_become_organization_changes(flavor: Flavor) {
    let db = common::shared(flavor);
    db.create_core().await;
    let mut stream = stream_from_now(db, Duration::from_secs(1)).await;
    let code = common::unique_code("Org");

    let ts = 1_767_226_100;
    exec_at(
        db,
        ts,
        &format!(
            "INSERT INTO bgerp.organization (id_org, code, name, status)
               VALUES (700001, '{code}', 'x', 'active');
             UPDATE bgerp.organization SET status = 'inactive' WHERE id_org = 700001;
             DELETE FROM bgerp.organization WHERE id_org = 700001;"
        ),
    )
    .await;
    let txs = read_stamped(&mut stream, ts, 3).await;
    let changes: Vec<&SourceChange> = txs.iter().flat_map(|t| &t.changes).collect();
    assert_eq!(
        changes,
        vec![
            &SourceChange::Organization {
                id: 700001,
                after: Some(Organization {
                    id: 700001,
                    code: code.clone(),
                    active: true
                })
            },
            &SourceChange::Organization {
                id: 700001,
                after: Some(Organization {
                    id: 700001,
                    code,
                    active: false
                })
            },
            &SourceChange::Organization {
                id: 700001,
                after: None
            },
        ]
    );
}

async fn schema_drift_is_reported_and_other_tables_still_decode(flavor: Flavor) {
    let db = common::shared(flavor);
    let code = common::unique_code("Drift");
    common::create_tenant(db, &code, false).await;
    let tdb = common::tenant_db(&code);
    let mut stream = stream_from_now(db, Duration::from_secs(1)).await;

    let ts = 1_767_226_200;
    exec_at(
        db,
        ts,
        &format!(
            "USE {tdb};
             ALTER TABLE flow_token DROP COLUMN completed_at;
             START TRANSACTION;
             INSERT INTO flow_token (id_token, id_instance, status, spawned_at)
               VALUES (1, 1, 'ready', '2026-01-06 00:00:00');
             INSERT INTO token_assignment (id_assignment, id_token, id_node, assigned_to_user_id,
                 status) VALUES (3, 1, 2, 5, 'assigned');
             COMMIT;"
        ),
    )
    .await;
    let txs = read_stamped(&mut stream, ts, 2).await;
    assert!(txs[0].changes.is_empty(), "the ALTER itself");
    let t = &txs[1];
    assert_eq!(
        t.drift,
        vec![TableProblem {
            db: tdb.clone(),
            problem: SchemaProblem::MissingColumns {
                table: "flow_token".into(),
                columns: vec!["completed_at".into()],
            },
        }]
    );
    let changes = tenant_changes(t, &tdb);
    assert!(
        matches!(changes.as_slice(), [Change::Upsert(Row::Assignment(a))] if a.id == 3),
        "only the assignment decodes: {changes:?}"
    );
}

async fn extra_columns_of_many_types_are_skipped_by_name(flavor: Flavor) {
    let db = common::shared(flavor);
    let code = common::unique_code("Types");
    common::create_tenant(db, &code, false).await;
    let tdb = common::tenant_db(&code);
    // Columns of every width class between the ones read, an UNSIGNED id above 2^31 after a YEAR
    // (both own a signedness bit), and fractional seconds on a DATETIME that is read.
    db.exec(&format!(
        "USE {tdb};
         ALTER TABLE flow_token
           ADD COLUMN yr YEAR NULL AFTER id_token,
           MODIFY id_instance INT UNSIGNED NOT NULL,
           ADD COLUMN b10 BIT(10) NULL AFTER id_instance,
           ADD COLUMN tags SET('a','b','c') NULL AFTER b10,
           ADD COLUMN amount DECIMAL(20,6) NULL AFTER tags,
           ADD COLUMN t3 TIME(3) NULL AFTER amount,
           ADD COLUMN ts6 TIMESTAMP(6) NULL AFTER t3,
           ADD COLUMN f FLOAT NULL AFTER ts6,
           ADD COLUMN d DOUBLE NULL AFTER f,
           ADD COLUMN m MEDIUMINT UNSIGNED NULL AFTER d,
           ADD COLUMN big BIGINT NULL AFTER m,
           ADD COLUMN c100 CHAR(100) NULL AFTER token_type,
           ADD COLUMN tt TINYTEXT NULL AFTER c100,
           ADD COLUMN bl BLOB NULL AFTER tt,
           ADD COLUMN day DATE NULL AFTER bl,
           MODIFY completed_at DATETIME(6) NULL;"
    ))
    .await;
    let mut stream = stream_from_now(db, Duration::from_secs(1)).await;

    let ts = 1_767_226_300;
    exec_at(
        db,
        ts,
        &format!(
            "USE {tdb};
             INSERT INTO flow_token (id_token, yr, id_instance, b10, tags, amount, t3, ts6, f, d,
                 m, big, token_type, c100, tt, bl, day, current_node_id, status, spawned_at,
                 completed_at)
               VALUES (31, 2024, 4000000000, b'1010101010', 'a,c', -12345678.123456,
                 '12:34:56.789', '2026-01-01 00:00:00.123456', 1.5, -2.25, 16777215,
                 -9000000000, 'batch', REPEAT('é', 100), 'tiny', X'00ff00', '2026-02-03', 44,
                 'completed', '2026-01-07 01:02:03', '2026-01-07 02:03:04.567891');"
        ),
    )
    .await;
    let txs = read_stamped(&mut stream, ts, 1).await;
    let changes = tenant_changes(&txs[0], &tdb);
    assert_eq!(
        changes,
        vec![Change::Upsert(Row::Token(Token {
            id: 31,
            instance: Some(4_000_000_000),
            is_product: true,
            node: Some(44),
            status: TokenStatus::Completed,
            spawned_at: Some(dt("2026-01-07 01:02:03")),
            completed_at: Some(dt("2026-01-07 02:03:04.567891")),
        }))]
    );
}

async fn a_row_event_over_16_mb_does_not_break_the_stream(flavor: Flavor) {
    let db = common::shared(flavor);
    let code = common::unique_code("Big");
    common::create_tenant(db, &code, false).await;
    let tdb = common::tenant_db(&code);
    let mut stream = stream_from_now(db, Duration::from_secs(2)).await;

    let ts = 1_767_226_400;
    exec_at(
        db,
        ts,
        &format!(
            "USE {tdb};
             INSERT INTO flow_token (id_token, id_instance, status, metadata, spawned_at)
               VALUES (1, 2, 'ready', JSON_OBJECT('blob', REPEAT('x', 20000000)),
                 '2026-01-08 00:00:00');
             INSERT INTO flow_token (id_token, id_instance, status, spawned_at)
               VALUES (2, 2, 'active', '2026-01-08 00:00:00');"
        ),
    )
    .await;
    let txs = read_stamped(&mut stream, ts, 2).await;
    let ids: Vec<(i64, TokenStatus)> = txs
        .iter()
        .flat_map(|t| tenant_changes(t, &tdb))
        .map(|c| {
            let t = upserted_token(&c);
            (t.id, t.status)
        })
        .collect();
    assert_eq!(ids, vec![(1, TokenStatus::Ready), (2, TokenStatus::Active)]);
}

async fn check_server_accepts_the_standard_server(flavor: Flavor) {
    let db = common::shared(flavor);
    let mut conn = Conn::new(opts(db, "root", None)).await.expect("connect");
    let info = check_server(&mut conn).await.expect("standard flags pass");
    match flavor {
        Flavor::MariaDb | Flavor::MariaDb118 => {
            assert_eq!(info.flavor, SourceFlavor::MariaDb);
            assert!(info.version.contains("MariaDB"), "{}", info.version);
            // server_id first; neither 10.11 nor 11.8 has a server_uid status value (11.8 only
            // logs one at start-up), so host and data directory tell servers apart.
            assert!(
                info.identity.starts_with("1@")
                    && info.identity.contains(&*db.datadir.to_string_lossy()),
                "server_id@host:datadir: {}",
                info.identity
            );
        }
        Flavor::MySql => {
            assert_eq!(info.flavor, SourceFlavor::MySql);
            assert!(
                !info.version.contains("MariaDB") && info.version.starts_with(char::is_numeric),
                "{}",
                info.version
            );
            // MySQL servers are told apart by their server_uuid.
            let uuid: String = sqlx::query_scalar("SELECT CAST(@@server_uuid AS CHAR)")
                .fetch_one(&db.pool().await)
                .await
                .expect("server_uuid");
            assert_eq!(info.identity, uuid, "server_uuid");
        }
    }
    assert!(
        info.position.file.starts_with("bin."),
        "{:?}",
        info.position
    );
    assert!(info.position.pos >= 4);
}

async fn check_server_reports_every_wrong_setting_at_once(flavor: Flavor) {
    // Later flags override the harness defaults (ROW / FULL metadata). MySQL has no
    // log_bin_compress: its third wrong setting is the row image, and its transaction
    // compression, which flowtally decodes, must not be reported.
    let (flags, expected): (&[&str], _) = match flavor {
        Flavor::MariaDb | Flavor::MariaDb118 => (
            &[
                "--binlog-row-metadata=MINIMAL",
                "--binlog-format=MIXED",
                "--log-bin-compress=ON",
            ],
            vec![
                ("binlog_format", "MIXED"),
                ("binlog_row_metadata", "MINIMAL"),
                ("log_bin_compress", "ON"),
            ],
        ),
        Flavor::MySql => (
            &[
                "--binlog-row-metadata=MINIMAL",
                "--binlog-format=MIXED",
                "--binlog-row-image=MINIMAL",
                "--binlog-transaction-compression=ON",
            ],
            vec![
                ("binlog_format", "MIXED"),
                ("binlog_row_image", "MINIMAL"),
                ("binlog_row_metadata", "MINIMAL"),
            ],
        ),
    };
    let db = common::start_server(flavor, flags);
    let mut conn = Conn::new(opts(&db, "root", None)).await.expect("connect");
    let err = check_server(&mut conn)
        .await
        .expect_err("wrong settings are refused");
    let settings: Vec<(&str, &str)> = err
        .problems()
        .into_iter()
        .filter_map(|p| match p {
            SetupError::Setting { setting, found, .. } => Some((*setting, found.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(settings, expected, "{err}");
    let text = err.to_string();
    assert!(
        text.contains(
            "binlog_row_metadata is MINIMAL, flowtally needs FULL: run SET GLOBAL \
             binlog_row_metadata=FULL and add binlog_row_metadata=FULL to the server config"
        ),
        "{text}"
    );
    assert_eq!(text.lines().count(), 3, "one line per problem: {text}");
}

async fn check_server_without_binlog_names_log_bin(flavor: Flavor) {
    let db = common::start_server(flavor, &["--skip-log-bin"]);
    let mut conn = Conn::new(opts(&db, "root", None)).await.expect("connect");
    let err = check_server(&mut conn).await.expect_err("no binlog");
    assert!(
        err.problems().iter().any(
            |p| matches!(p, SetupError::Setting { setting: "log_bin", found, .. } if found == "OFF")
        ),
        "{err}"
    );
}

async fn compressed_events_stop_the_stream(flavor: Flavor) {
    let db = common::start_server(
        flavor,
        &["--log-bin-compress=ON", "--log-bin-compress-min-len=10"],
    );
    let code = common::unique_code("Zip");
    common::create_tenant(&db, &code, false).await;
    let tdb = common::tenant_db(&code);
    // check_server refuses the setting; the position is still readable for this test.
    let mut conn = Conn::new(opts(&db, "root", None)).await.expect("connect");
    let refused = check_server(&mut conn)
        .await
        .expect_err("compression refused");
    assert!(
        refused.to_string().contains("log_bin_compress"),
        "{refused}"
    );
    let (file, pos) = common::binlog_end(&db).await;
    let from = Position {
        file,
        pos,
        gtid: None,
    };
    let mut stream = BinlogStream::connect(&options(&db, Duration::from_secs(1)), &from)
        .await
        .expect("connect");
    db.exec(&format!(
        "INSERT INTO {tdb}.flow_token (id_token, id_instance, status, serial_number, spawned_at)
           VALUES (1, 1, 'ready', REPEAT('s', 90), '2026-01-09 00:00:00');"
    ))
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let err = loop {
        assert!(Instant::now() < deadline, "no error for compressed events");
        match stream.next().await {
            Ok(StreamEvent::Transaction(t)) => assert!(
                tenant_changes(&t, &tdb).is_empty(),
                "compressed rows must not be decoded silently"
            ),
            Ok(StreamEvent::Heartbeat) => {}
            Err(e) => break e,
        }
    };
    assert!(matches!(err, StreamError::Fatal(_)), "{err:?}");
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("log_bin_compress=OFF"), "{err}");
}

async fn compressed_transaction_payloads_are_decoded(flavor: Flavor) {
    // Private: every transaction on this server is compressed.
    let db = common::start_server(flavor, &["--binlog-transaction-compression=ON"]);
    let code = common::unique_code("Zstd");
    common::create_tenant(&db, &code, false).await;
    let tdb = common::tenant_db(&code);
    // Unlike MariaDB's log_bin_compress, the setting passes the start-up checks.
    let mut conn = Conn::new(opts(&db, "root", None)).await.expect("connect");
    let info = check_server(&mut conn)
        .await
        .expect("compressed transaction payloads are accepted");
    let _ = conn.disconnect().await;
    let mut stream = BinlogStream::connect(&options(&db, Duration::from_secs(1)), &info.position)
        .await
        .expect("connect");

    let ts = 1_767_226_450;
    exec_at(
        &db,
        ts,
        &format!(
            "USE {tdb};
             START TRANSACTION;
             INSERT INTO flow_token (id_token, id_instance, token_type, serial_number,
                 current_node_id, status, spawned_at)
               VALUES (1, 2, 'piece', REPEAT('s', 90), 3, 'ready', '2026-01-09 00:00:00');
             INSERT INTO token_assignment (id_assignment, id_token, id_node, assigned_to_user_id,
                 status, assigned_at) VALUES (4, 1, 3, 1001, 'assigned', '2026-01-09 00:01:00');
             UPDATE flow_token SET status = 'active' WHERE id_token = 1;
             COMMIT;
             DELETE FROM token_assignment WHERE id_assignment = 4;"
        ),
    )
    .await;
    let txs = read_stamped(&mut stream, ts, 2).await;

    // The server did compress them (ZSTD payloads), so what follows was decompressed.
    let compressed: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(transaction_counter), 0) AS SIGNED) \
         FROM performance_schema.binary_log_transaction_compression_stats \
         WHERE log_type = 'BINARY' AND compression_type = 'ZSTD'",
    )
    .fetch_one(&db.pool().await)
    .await
    .expect("compression stats");
    assert!(compressed >= 2, "{compressed} compressed transactions");

    let ready = Token {
        id: 1,
        instance: Some(2),
        is_product: true,
        node: Some(3),
        status: TokenStatus::Ready,
        spawned_at: Some(dt("2026-01-09 00:00:00")),
        completed_at: None,
    };
    assert_eq!(
        tenant_changes(&txs[0], &tdb),
        vec![
            Change::Upsert(Row::Token(ready.clone())),
            Change::Upsert(Row::Assignment(Assignment {
                id: 4,
                token: Some(1),
                node: Some(3),
                operator: Some(1001),
                status: AssignmentStatus::Assigned,
                assigned_at: Some(dt("2026-01-09 00:01:00")),
                started_at: None,
                completed_at: None,
            })),
            Change::Upsert(Row::Token(Token {
                status: TokenStatus::Active,
                ..ready
            })),
        ]
    );
    assert_eq!(
        tenant_changes(&txs[1], &tdb),
        vec![Change::Delete(Key::Assignment(4))]
    );
    for t in &txs {
        assert!(t.drift.is_empty());
    }
    assert!(txs[1].end.is_after(&txs[0].end));
    assert_eq!(
        txs[1].end,
        end_of_binlog(&db).await,
        "a resume point after the payload: the server's own end of binlog"
    );
    assert_eq!(stream.skipped_rows(), 0);
}

async fn resuming_from_a_transaction_end_yields_exactly_what_followed(flavor: Flavor) {
    let db = common::start_server(flavor, &[]);
    let code = common::unique_code("Resume");
    common::create_tenant(&db, &code, false).await;
    let tdb = common::tenant_db(&code);
    let start = end_of_binlog(&db).await;
    let mut first = BinlogStream::connect(&options(&db, Duration::from_secs(1)), &start)
        .await
        .expect("connect");

    for i in 1..=5 {
        exec_at(
            &db,
            1_767_226_500 + i,
            &format!(
                "INSERT INTO {tdb}.flow_token (id_token, id_instance, status, spawned_at)
                   VALUES ({i}, 1, 'ready', '2026-01-10 00:00:00');"
            ),
        )
        .await;
    }
    let all = read_until(&mut first, |t| t.commit_ts == 1_767_226_505).await;
    assert_eq!(all.len(), 5, "{all:#?}");

    let mut resumed = BinlogStream::connect(&options(&db, Duration::from_secs(1)), &all[1].end)
        .await
        .expect("resume");
    let mut again = Vec::new();
    // Until idle (a heartbeat): then everything after the resume point has been delivered.
    while let StreamEvent::Transaction(t) = resumed.next().await.expect("resumed stream") {
        again.push(t);
    }
    assert_eq!(again, all[2..].to_vec());
    assert_eq!(
        again.last().map(|t| t.end.clone()),
        Some(end_of_binlog(&db).await),
        "the last end is the server's own end of binlog, GTID state included"
    );
}

async fn idle_server_sends_heartbeats_and_silence_times_out(flavor: Flavor) {
    let mut db = common::start_server(flavor, &[]);
    let mut stream = stream_from_now(&db, Duration::from_secs(1)).await;

    let started = Instant::now();
    let event = stream.next().await.expect("heartbeat");
    assert_eq!(event, StreamEvent::Heartbeat);
    assert!(started.elapsed() < Duration::from_secs(3));

    // A frozen server sends nothing: the read gives up after 3 heartbeat periods.
    let pid = db.pid().expect("server pid").to_string();
    let kill = |sig: &str| {
        std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .expect("kill")
    };
    // Drain heartbeats queued before the freeze.
    kill("-STOP");
    let started = Instant::now();
    let err = loop {
        match stream.next().await {
            Ok(StreamEvent::Heartbeat) => continue,
            Ok(other) => panic!("unexpected {other:?}"),
            Err(e) => break e,
        }
    };
    kill("-CONT");
    assert_eq!(err, StreamError::Timeout(Duration::from_secs(3)));
    assert!(err.is_retryable());
    assert!(started.elapsed() >= Duration::from_secs(3));
    // A failed stream stays failed: the caller reconnects.
    assert!(stream.next().await.is_err());

    // A clean shutdown ends a live stream with a retryable disconnect.
    let mut stream = stream_from_now(&db, Duration::from_secs(1)).await;
    tokio::task::block_in_place(|| db.stop());
    let err = loop {
        match stream.next().await {
            Ok(StreamEvent::Heartbeat) => continue,
            Ok(other) => panic!("unexpected {other:?}"),
            Err(e) => break e,
        }
    };
    assert!(
        matches!(
            err,
            StreamError::Disconnected { .. } | StreamError::Closed(_)
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

async fn refused_logins_are_fatal_and_never_show_the_password(flavor: Flavor) {
    let db = common::shared(flavor);
    let user = format!("ft_{}", common::unique_code("u").to_lowercase());
    db.exec(&format!(
        "CREATE USER '{user}'@'%' IDENTIFIED BY 'right-pass-1';
         GRANT SELECT ON *.* TO '{user}'@'%';"
    ))
    .await;
    let from = end_of_binlog(db).await;

    let mut wrong = options(db, Duration::from_secs(1));
    wrong.opts = opts(db, &user, Some("Wr0ng-Secret-77"));
    let err = BinlogStream::connect(&wrong, &from)
        .await
        .err()
        .expect("wrong password refused");
    assert!(matches!(err, StreamError::Fatal(_)), "{err:?}");
    assert!(!err.is_retryable());
    let text = err.to_string();
    assert!(text.contains("access denied"), "{text}");
    assert!(!text.contains("Wr0ng-Secret-77"), "{text}");

    // Right password, no REPLICATION SLAVE: refused too, naming the grant.
    let mut ungranted = options(db, Duration::from_secs(1));
    ungranted.opts = opts(db, &user, Some("right-pass-1"));
    let err = BinlogStream::connect(&ungranted, &from)
        .await
        .err()
        .expect("dump without grant refused");
    assert!(matches!(err, StreamError::Fatal(_)), "{err:?}");
    assert!(err.to_string().contains("REPLICATION SLAVE"), "{err}");
    assert!(!err.to_string().contains("right-pass-1"), "{err}");

    // The start-up check names both missing grants (MySQL's name for the position grant is
    // REPLICATION CLIENT, which MariaDB 10.5 renamed BINLOG MONITOR).
    let mut conn = Conn::new(opts(db, &user, Some("right-pass-1")))
        .await
        .expect("login");
    let err = check_server(&mut conn).await.expect_err("missing grants");
    let text = err.to_string();
    let position_grant = match flavor {
        Flavor::MariaDb | Flavor::MariaDb118 => "BINLOG MONITOR",
        Flavor::MySql => "REPLICATION CLIENT",
    };
    assert!(text.contains(position_grant), "{text}");
    assert!(text.contains("REPLICATION SLAVE"), "{text}");
    assert!(err
        .problems()
        .iter()
        .all(|p| matches!(p, SetupError::Privilege(_))));
}

/// Decoding throughput over a backlog, on each selected flavour:
/// `cargo test --release --test it binlog::measure -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn measure_decoded_rows_per_second() {
    for flavor in Flavor::selected() {
        measure_decoded_rows_per_second_on(flavor).await;
    }
}

async fn measure_decoded_rows_per_second_on(flavor: Flavor) {
    let db = common::start_server(flavor, &[]);
    let code = common::unique_code("Perf");
    common::create_tenant(&db, &code, false).await;
    let tdb = common::tenant_db(&code);
    let start = end_of_binlog(&db).await;
    let rows = 200_000;
    // The numbers 1..=rows: MariaDB's sequence engine, a recursive CTE on MySQL.
    let (setup, seq) = match flavor {
        Flavor::MariaDb | Flavor::MariaDb118 => (String::new(), format!("seq_1_to_{rows}")),
        Flavor::MySql => (
            format!(
                "SET SESSION cte_max_recursion_depth = {rows};
                 CREATE TABLE perf_seq (seq INT PRIMARY KEY);
                 INSERT INTO perf_seq WITH RECURSIVE s (n) AS
                   (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {rows}) SELECT n FROM s;"
            ),
            "perf_seq".to_string(),
        ),
    };
    db.exec(&format!(
        "USE {tdb};
         {setup}
         INSERT INTO flow_token (id_token, id_instance, token_type, serial_number, current_node_id,
             status, qty, spawned_at)
           SELECT seq, seq % 97, 'piece', CONCAT('SN', seq), seq % 50, 'ready', 1.00,
             '2026-01-01 00:00:00' FROM {seq};
         UPDATE flow_token SET status = 'active', current_node_id = current_node_id + 1;
         INSERT INTO token_assignment (id_assignment, id_token, id_node, assigned_to_user_id,
             status, assigned_at)
           SELECT seq, seq, seq % 50, seq % 300, 'started', '2026-01-01 01:00:00'
           FROM {seq};
         DELETE FROM token_assignment;
         SET timestamp = 1999999999; DO 1; CREATE TABLE perf_end (i INT);"
    ))
    .await;
    let started = Instant::now();
    let mut stream = BinlogStream::connect(&options(&db, Duration::from_secs(5)), &start)
        .await
        .expect("connect");
    let mut changes = 0usize;
    read_until(&mut stream, |t| {
        changes += t.changes.len();
        t.commit_ts == 1_999_999_999
    })
    .await;
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(changes, 4 * rows as usize);
    eprintln!(
        "{flavor}: decoded {} row changes in {secs:.2} s: {:.0} rows/s",
        stream.decoded_rows(),
        stream.decoded_rows() as f64 / secs
    );
}

async fn an_unknown_binlog_file_means_the_position_is_lost(flavor: Flavor) {
    let db = common::shared(flavor);
    let from = Position {
        file: "bin.999999".into(),
        pos: 4,
        gtid: None,
    };
    let result = match BinlogStream::connect(&options(db, Duration::from_secs(1)), &from).await {
        Ok(mut stream) => stream.next().await.map(|_| ()),
        Err(e) => Err(e),
    };
    let err = result.expect_err("no such binlog file");
    assert!(matches!(err, StreamError::PositionLost(_)), "{err:?}");
    assert!(!err.is_retryable());
}

/// Forwards a client's connection to `server_port`; once the client has sent COM_BINLOG_DUMP,
/// the first TABLE_MAP event the server sends gets an event size larger than its packet.
async fn corrupting_proxy(server_port: u16) -> u16 {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    async fn packet(r: &mut (impl AsyncReadExt + Unpin)) -> Option<Vec<u8>> {
        let mut head = [0u8; 4];
        r.read_exact(&mut head).await.ok()?;
        let len = usize::from(head[0]) | usize::from(head[1]) << 8 | usize::from(head[2]) << 16;
        let mut buf = head.to_vec();
        buf.resize(4 + len, 0);
        r.read_exact(&mut buf[4..]).await.ok()?;
        Some(buf)
    }

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let port = listener.local_addr().expect("proxy addr").port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(("127.0.0.1", server_port)).await else {
                return;
            };
            let (mut cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            let dumping = Arc::new(AtomicBool::new(false));
            let seen = Arc::clone(&dumping);
            tokio::spawn(async move {
                while let Some(p) = packet(&mut cr).await {
                    if p.get(4) == Some(&0x12) {
                        seen.store(true, Ordering::SeqCst);
                    }
                    if sw.write_all(&p).await.is_err() {
                        return;
                    }
                }
            });
            tokio::spawn(async move {
                let mut done = false;
                while let Some(mut p) = packet(&mut sr).await {
                    // Payload: 0x00, then the event header (type at 4, size at 9..13).
                    let table_map = p.len() > 24 && p[4] == 0 && p[4 + 1 + 4] == 19;
                    if !done && table_map && dumping.load(Ordering::SeqCst) {
                        let size = u32::from_le_bytes([p[14], p[15], p[16], p[17]]) + 1000;
                        p[14..18].copy_from_slice(&size.to_le_bytes());
                        done = true;
                    }
                    if cw.write_all(&p).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

async fn a_malformed_event_is_a_retryable_decode_error_not_a_crash(flavor: Flavor) {
    let db = common::shared(flavor);
    let code = common::unique_code("Bad");
    common::create_tenant(db, &code, false).await;
    let tdb = common::tenant_db(&code);
    let from = end_of_binlog(db).await;
    let proxy = corrupting_proxy(db.port).await;
    let mut options = options(db, Duration::from_secs(1));
    options.opts = OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(proxy)
        .user(Some("root"))
        .prefer_socket(false)
        .into();
    let mut stream = BinlogStream::connect(&options, &from)
        .await
        .expect("connect through the proxy");
    db.exec(&format!(
        "INSERT INTO {tdb}.flow_token (id_token, id_instance, status, spawned_at)
           VALUES (1, 1, 'ready', '2026-01-11 00:00:00');"
    ))
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let err = loop {
        assert!(
            Instant::now() < deadline,
            "the corrupted event went unnoticed"
        );
        match stream.next().await {
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    // mysql_common unwraps the short read: the panic is caught and reported as a decode error.
    assert!(matches!(err, StreamError::Decode(_)), "{err:?}");
    assert!(err.to_string().contains("panic"), "{err}");
    assert!(err.is_retryable());
    drop(stream);

    // The process lives on, and a fresh connection (not through the proxy) reads the change.
    let mut stream = BinlogStream::connect(&self::options(db, Duration::from_secs(1)), &from)
        .await
        .expect("reconnect");
    let txs = read_until(&mut stream, |t| !tenant_changes(t, &tdb).is_empty()).await;
    let last = txs.last().map(|t| tenant_changes(t, &tdb));
    assert!(
        matches!(last.as_deref(), Some([Change::Upsert(Row::Token(t))]) if t.id == 1),
        "{last:?}"
    );
}

async fn a_minimal_row_image_stops_the_stream_instead_of_reading_nulls(flavor: Flavor) {
    // Private: every stream on the shared server would stop at this tenant's events too.
    let db = common::start_server(flavor, &[]);
    let code = common::unique_code("Min");
    common::create_tenant(&db, &code, false).await;
    let tdb = common::tenant_db(&code);
    let mut stream = stream_from_now(&db, Duration::from_secs(1)).await;
    db.exec(&format!(
        "INSERT INTO {tdb}.flow_token (id_token, id_instance, status, spawned_at)
           VALUES (1, 1, 'ready', '2026-01-12 00:00:00');
         SET SESSION binlog_row_image = 'MINIMAL';
         UPDATE {tdb}.flow_token SET status = 'active' WHERE id_token = 1;"
    ))
    .await;
    let first = stream.next().await.expect("the FULL insert");
    assert!(
        matches!(&first, StreamEvent::Transaction(t) if tenant_changes(t, &tdb).len() == 1),
        "{first:?}"
    );
    let err = stream.next().await.expect_err("the MINIMAL update");
    assert!(matches!(err, StreamError::Fatal(_)), "{err:?}");
    assert!(err.to_string().contains("binlog_row_image=FULL"), "{err}");
}
