//! Tagged GTIDs (MySQL 8.3+: `SET gtid_next = 'AUTOMATIC:<tag>'` gives a session's
//! transactions GTIDs `uuid:<tag>:n`, numbered per tag): the binlog stream reports each
//! transaction's GTID with its tag and positions whose GTID set holds the tagged intervals, as
//! `@@gtid_executed` prints them; a stream resumed from a transaction's end by file and offset,
//! and one resumed by the GTID state there (a dump request by GTID set, tags included), both
//! yield exactly the transactions that followed; `flowtally run` over tagged traffic checkpoints
//! the tags and resumes from that checkpoint after a restart, writing every minute once.

use std::time::Duration;

use flowtally::checkpoint::Manifest;
use flowtally::source::binlog::{BinlogStream, StreamEvent, Transaction};
use flowtally::source::gtid::{Gtid, MySqlGtidSet};
use flowtally::source::Position;
use sqlx::mysql::MySqlPoolOptions;
use sqlx::{MySqlPool, Row};

use crate::binlog::{end_of_binlog, exec_at, options, read_stamped, tenant_changes};
use crate::common::process::{next_minute, traffic_on, Flowtally};
use crate::common::{self, Flavor, Server};

on_mysql!(
    a_stream_reports_tagged_gtids_in_transactions_and_positions,
    "GTID tags are MySQL's (8.3+); MariaDB's GTIDs are domain-server-sequence"
);
on_mysql!(
    resuming_by_position_or_by_gtid_state_yields_what_followed_tagged_or_not,
    "GTID tags are MySQL's (8.3+); MariaDB's resume by GTID state is covered by failover"
);
on_mysql!(
    run_checkpoints_tagged_gtids_and_resumes_from_them,
    "GTID tags are MySQL's (8.3+)"
);

/// The server's uuid and its untagged transaction count (the gno of its last untagged GTID).
async fn uuid_and_untagged(db: &Server) -> (String, u64) {
    let mut conn = db.connect().await;
    let row = sqlx::raw_sql("SELECT @@GLOBAL.server_uuid, @@GLOBAL.gtid_executed")
        .fetch_all(&mut conn)
        .await
        .expect("server_uuid")
        .into_iter()
        .next()
        .expect("a row");
    let uuid = common::text(&row, 0);
    let executed: String = common::text(&row, 1).split_whitespace().collect();
    let set = MySqlGtidSet::parse(&executed).expect("gtid_executed parses");
    let untagged = (1..)
        .take_while(|n| set.contains_gtid(&uuid, "", *n))
        .last()
        .unwrap_or(0);
    (uuid, untagged)
}

/// `@@GLOBAL.gtid_executed`, without the line breaks MySQL puts in it.
async fn gtid_executed(db: &Server) -> String {
    let mut conn = db.connect().await;
    let row = sqlx::raw_sql("SELECT @@GLOBAL.gtid_executed")
        .fetch_all(&mut conn)
        .await
        .expect("gtid_executed")
        .into_iter()
        .next()
        .expect("a row");
    common::text(&row, 0).split_whitespace().collect()
}

/// Six transactions stamped `ts` on tenant database `tdb`, each inserting token `base + i`:
/// untagged, `alpha`, `alpha`, untagged, `beta` (two statements in one transaction), untagged.
/// Returns the tags in order.
async fn mixed_traffic(db: &Server, tdb: &str, ts: i64, base: i64) -> Vec<&'static str> {
    let insert = |i: i64| {
        format!(
            "INSERT INTO {tdb}.flow_token (id_token, id_instance, status, spawned_at) \
             VALUES ({}, 1, 'ready', '2026-01-10 00:00:00');",
            base + i
        )
    };
    exec_at(
        db,
        ts,
        &format!(
            "{}
             SET gtid_next = 'AUTOMATIC:alpha';
             {}
             {}
             SET gtid_next = 'AUTOMATIC';
             {}
             SET gtid_next = 'AUTOMATIC:beta';
             BEGIN;
             {}
             UPDATE {tdb}.flow_token SET status = 'active' WHERE id_token = {};
             COMMIT;
             SET gtid_next = 'AUTOMATIC';
             {}",
            insert(1),
            insert(2),
            insert(3),
            insert(4),
            insert(5),
            base + 5,
            insert(6),
        ),
    )
    .await;
    vec!["", "alpha", "alpha", "", "beta", ""]
}

async fn a_stream_reports_tagged_gtids_in_transactions_and_positions(flavor: Flavor) {
    // Private: the GTID state is exactly this test's.
    let db = common::start_server(flavor, &[]);
    let code = common::unique_code("Tag");
    common::create_tenant(&db, &code, false).await;
    let tdb = common::tenant_db(&code);
    let (uuid, untagged) = uuid_and_untagged(&db).await;
    let from = end_of_binlog(&db).await;
    let mut stream = BinlogStream::connect(&options(&db, Duration::from_secs(1)), &from)
        .await
        .expect("connect");

    let ts = 1_767_230_000;
    let tags = mixed_traffic(&db, &tdb, ts, 100).await;
    let txs = read_stamped(&mut stream, ts, tags.len()).await;
    assert_eq!(txs.len(), tags.len(), "{txs:#?}");

    // Each tag numbers its own transactions from 1; the untagged ones go on from the server's.
    let mut next: std::collections::BTreeMap<&str, u64> =
        [("", untagged + 1), ("alpha", 1), ("beta", 1)].into();
    let mut expected_set = MySqlGtidSet::parse(from.gtid.as_deref().unwrap_or_default())
        .expect("the starting GTID set");
    for (t, tag) in txs.iter().zip(&tags) {
        let gno = next[tag];
        next.insert(tag, gno + 1);
        assert_eq!(
            t.gtid,
            Some(Gtid::MySql {
                uuid: uuid.clone(),
                tag: tag.to_string(),
                gno
            }),
            "{t:#?}"
        );
        assert!(
            !tenant_changes(t, &tdb).is_empty(),
            "a tracked table's changes: {t:#?}"
        );
        expected_set.add(&uuid, tag, gno);
        assert_eq!(
            t.end.gtid.as_deref(),
            Some(expected_set.to_string().as_str()),
            "the GTID set after each transaction holds it"
        );
    }
    let last = txs.last().expect("transactions");
    let last_set = last.end.gtid.clone().unwrap_or_default();
    assert_eq!(
        last_set,
        format!("{uuid}:1-{}:alpha:1-2:beta:1", untagged + 3),
        "the tagged intervals, in MySQL's form"
    );
    assert_eq!(
        last_set,
        gtid_executed(&db).await,
        "as the server prints it"
    );
    assert_eq!(
        Some(last.end.clone()),
        Some(end_of_binlog(&db).await),
        "the last end is the server's end of binlog, GTID state included"
    );
}

/// Transactions until the server is idle (a heartbeat).
async fn until_idle(stream: &mut BinlogStream) -> Vec<Transaction> {
    let mut seen = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(30), stream.next()).await {
            Ok(Ok(StreamEvent::Transaction(t))) => seen.push(t),
            Ok(Ok(StreamEvent::Heartbeat)) => return seen,
            Ok(Err(e)) => panic!("stream failed: {e}"),
            Err(_) => panic!("no heartbeat within 30 s; got {seen:#?}"),
        }
    }
}

async fn resuming_by_position_or_by_gtid_state_yields_what_followed_tagged_or_not(flavor: Flavor) {
    let db = common::start_server(flavor, &[]);
    let code = common::unique_code("TagR");
    common::create_tenant(&db, &code, false).await;
    let tdb = common::tenant_db(&code);
    let from = end_of_binlog(&db).await;
    let options = options(&db, Duration::from_secs(1));
    let mut first = BinlogStream::connect(&options, &from)
        .await
        .expect("connect");
    let ts = 1_767_231_000;
    let tags = mixed_traffic(&db, &tdb, ts, 200).await;
    let all = until_idle(&mut first).await;
    assert_eq!(all.len(), tags.len(), "{all:#?}");

    // From the end of every transaction but the last: after an untagged one, after a tagged
    // one, between two of the same tag.
    for k in 0..all.len() - 1 {
        let at = &all[k].end;
        let mut by_position = BinlogStream::connect(&options, at)
            .await
            .expect("resume by file and offset");
        assert_eq!(
            until_idle(&mut by_position).await,
            all[k + 1..].to_vec(),
            "resumed by file and offset from {at}"
        );
        let state = Position::at_gtids(at.gtid.clone().expect("a GTID state"));
        let mut by_gtid = BinlogStream::connect(&options, &state)
            .await
            .expect("resume by GTID state");
        let again = until_idle(&mut by_gtid).await;
        assert_eq!(
            again,
            all[k + 1..].to_vec(),
            "resumed by GTID state {state}: the same transactions, ends and GTIDs"
        );
    }
}

/// The tag of the simulated traffic of `run_checkpoints_tagged_gtids_and_resumes_from_them`.
const TAG_SESSION: &str = "SET SESSION gtid_next = 'AUTOMATIC:erp_sim'";

/// A pool whose sessions give every transaction a GTID tagged as `set_tag` says.
async fn tagged_pool(server: &Server, set_tag: &'static str) -> MySqlPool {
    MySqlPoolOptions::new()
        .max_connections(4)
        .after_connect(move |conn, _| {
            // Boxed by db::text: sqlx's executor lifetimes defeat a plain async block here.
            Box::pin(async move { flowtally::db::text(conn, set_tag).await.map(|_| ()) })
        })
        .connect_with(server.connect_options())
        .await
        .expect("tagged pool")
}

/// Whether GTID set `a` is contained in `b`, as the server decides.
async fn subset(pool: &MySqlPool, a: &str, b: &str) -> bool {
    sqlx::query("SELECT GTID_SUBSET(?, ?)")
        .bind(a)
        .bind(b)
        .fetch_one(pool)
        .await
        .expect("GTID_SUBSET")
        .get::<i64, _>(0)
        == 1
}

async fn run_checkpoints_tagged_gtids_and_resumes_from_them(flavor: Flavor) {
    let server = common::start_server(flavor, &[]);
    let pool = server.pool().await;
    let tagged = tagged_pool(&server, TAG_SESSION).await;
    let code = common::unique_code("TagRun");
    let db = common::process::seeded_tenant(&pool, &code, 81).await;
    let dbs = vec![db.clone()];
    // History, tagged: loaded by the first start's recompute.
    traffic_on(
        &tagged,
        &dbs,
        81,
        chrono::Utc::now().timestamp() - 86_400,
        300,
        100,
        true,
    )
    .await;
    let mut ft = Flowtally::start(server.port, &[&code]);
    ft.wait_started();

    let first = next_minute(chrono::Utc::now().timestamp()) + 60;
    let s1 = traffic_on(&tagged, &dbs, 82, first, 1, 300, true).await;
    let executed = gtid_executed(&server).await;
    assert!(executed.contains(":erp_sim:"), "{executed}");
    let written = crate::recovery::assert_consistent(&pool, &db, first, s1.last_epoch, &ft).await;
    let (status, log) = ft.stop();
    assert!(status.success(), "exit {status}:\n{log}");

    let state = ft.dir.path().join("state");
    let manifest = Manifest::load(&state).expect("the checkpoint");
    let gtids = manifest
        .position
        .gtid
        .clone()
        .expect("the checkpoint's GTID state");
    eprintln!("checkpoint at {}", manifest.position);
    assert!(
        gtids.contains(":erp_sim:"),
        "the tag is in the checkpoint: {gtids}"
    );
    assert!(
        subset(&pool, &executed, &gtids).await,
        "every transaction of the traffic, tagged or not, is in the checkpoint's state \
         {gtids} (executed then: {executed})"
    );
    assert!(
        subset(&pool, &gtids, &gtid_executed(&server).await).await,
        "and nothing the server has not executed: {gtids}"
    );

    // Restarted: resumes from the checkpoint, no recompute; more tagged traffic, and every
    // minute from the first is written once, as a recompute would.
    ft.clear_log();
    ft.restart();
    ft.wait_until_log("resuming from checkpoint");
    let s2 = traffic_on(&tagged, &dbs, 83, written + 1, 1, 300, true).await;
    let executed = gtid_executed(&server).await;
    crate::recovery::assert_consistent(&pool, &db, first, s2.last_epoch, &ft).await;
    let log = ft.log();
    assert!(!log.contains("full recompute"), "{log}");
    let (status, log) = ft.stop();
    assert!(status.success(), "exit {status}:\n{log}");
    let manifest = Manifest::load(&state).expect("the checkpoint");
    let gtids = manifest.position.gtid.clone().unwrap_or_default();
    assert!(
        subset(&pool, &executed, &gtids).await,
        "the resumed run's checkpoint holds the tagged traffic after the restart too: {gtids} \
         (executed then: {executed})"
    );
}
