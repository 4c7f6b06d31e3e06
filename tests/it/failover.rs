//! Failover in a replicated deployment, without a recompute: a primary and a replica of each
//! flavour on this machine (GTID replication, the replica writing what it replicates to its own
//! binlog). flowtally reads the replica and writes to the primary; the replica fails and
//! flowtally is pointed at the primary: it resumes from the checkpoint's GTID state (the minutes
//! missed meanwhile are backfilled, nothing is written twice, the tables equal a recompute).
//! Failing back to the replica, a checkpoint taken before any transaction followed (it names a
//! GTID state only) is resumed from too. A stream resumed by GTID state on the other member
//! yields the transactions that followed. A checkpoint of a server outside the topology means a
//! full recompute, with the reason said and counted.

use std::time::{Duration, Instant};

use flowtally::checkpoint::Manifest;
use flowtally::source::binlog::{BinlogStream, StreamEvent, Transaction};
use flowtally::source::Position;
use sqlx::MySqlPool;

use crate::binlog::{end_of_binlog, options};
use crate::common::process::{
    http_get, local, mark, next_minute, traffic, traffic_on, wait_for_instant, Flowtally,
};
use crate::common::{self, Flavor, Server};
use crate::privileges::write_config;
use crate::recovery::assert_consistent;

on_all!(
    a_replicas_checkpoint_resumes_on_the_primary_by_gtid_state,
    a_stream_resumed_by_gtid_state_on_the_other_member_yields_what_followed,
    a_checkpoint_of_a_server_outside_the_topology_means_a_recompute_saying_why,
);

/// The flags of a replica that writes what it replicates to its own binlog (on by default on
/// MySQL, `log_replica_updates`).
fn replica_args(flavor: Flavor) -> &'static [&'static str] {
    match flavor {
        Flavor::MariaDb | Flavor::MariaDb118 => &["--log-slave-updates"],
        Flavor::MySql => &[],
    }
}

/// A primary (server id 1) and a replica of it (server id 2), replicating by GTID, caught up.
async fn pair(flavor: Flavor) -> (Server, Server) {
    let (primary, replica) = tokio::task::block_in_place(|| {
        (
            Server::start_with_id(flavor, 1, &[]),
            Server::start_with_id(flavor, 2, replica_args(flavor)),
        )
    });
    let sql = match flavor {
        Flavor::MariaDb | Flavor::MariaDb118 => format!(
            "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={}, MASTER_USER='root', \
             MASTER_USE_GTID=slave_pos; START SLAVE;",
            primary.port
        ),
        Flavor::MySql => format!(
            "CHANGE REPLICATION SOURCE TO SOURCE_HOST='127.0.0.1', SOURCE_PORT={}, \
             SOURCE_USER='root', SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1; START REPLICA;",
            primary.port
        ),
    };
    replica.exec(&sql).await;
    caught_up(&primary, &replica).await;
    (primary, replica)
}

/// The server's GTID state: MariaDB's `@@gtid_binlog_pos`, MySQL's `@@gtid_executed`.
async fn gtid_state(server: &Server) -> String {
    let sql = match server.flavor {
        Flavor::MariaDb | Flavor::MariaDb118 => "SELECT @@GLOBAL.gtid_binlog_pos",
        Flavor::MySql => "SELECT @@GLOBAL.gtid_executed",
    };
    let mut conn = server.connect().await;
    let rows = sqlx::raw_sql(sql)
        .fetch_all(&mut conn)
        .await
        .expect("GTID state");
    common::text(&rows[0], 0).split_whitespace().collect()
}

/// Waits (60 s at most) until `replica` has applied everything `primary` has.
async fn caught_up(primary: &Server, replica: &Server) {
    let state = gtid_state(primary).await;
    let sql = match primary.flavor {
        Flavor::MariaDb | Flavor::MariaDb118 => format!("SELECT MASTER_GTID_WAIT('{state}', 60)"),
        Flavor::MySql => format!("SELECT WAIT_FOR_EXECUTED_GTID_SET('{state}', 60)"),
    };
    let mut conn = replica.connect().await;
    let rows = sqlx::raw_sql(&sql)
        .fetch_all(&mut conn)
        .await
        .expect("wait for GTIDs");
    let waited = {
        use sqlx::Row;
        rows[0]
            .try_get::<i64, _>(0)
            .or_else(|_| rows[0].try_get::<i32, _>(0).map(i64::from))
            .expect("the wait's result")
    };
    if waited != 0 {
        let status = match primary.flavor {
            Flavor::MariaDb | Flavor::MariaDb118 => "SHOW SLAVE STATUS",
            Flavor::MySql => "SHOW REPLICA STATUS",
        };
        let rows = sqlx::raw_sql(status)
            .fetch_all(&mut conn)
            .await
            .expect("replica status");
        let errors: Vec<String> = rows
            .iter()
            .flat_map(|r| {
                use sqlx::{Column, Row};
                r.columns()
                    .iter()
                    .filter(|c| c.name().ends_with("_Error"))
                    .map(|c| format!("{}={}", c.name(), common::text(r, c.ordinal())))
                    .collect::<Vec<_>>()
            })
            .collect();
        panic!("the replica did not catch up with {state} within 60 s: {errors:?}");
    }
}

/// `[source]` or `[sink]` at `server`.
fn at(server: &Server) -> String {
    format!("url = \"{}\"", server.url())
}

/// Waits (60 s at most) until flowtally's checkpoint stands at the end of `server`'s binlog:
/// it has read everything there, its own last writes included.
async fn checkpoint_at_end(ft: &Flowtally, server: &Server) -> Manifest {
    let state = ft.dir.path().join("state");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (file, pos) = common::binlog_end(server).await;
        if let Ok(m) = Manifest::load(&state) {
            if m.position.file == file && m.position.pos == pos {
                return m;
            }
            assert!(
                Instant::now() < deadline,
                "the checkpoint stays at {} while the binlog ends at {file}:{pos}:\n{}",
                m.position,
                ft.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The transactions of a stream until the server is idle (a heartbeat).
async fn until_idle(stream: &mut BinlogStream) -> Vec<Transaction> {
    let mut seen = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(30), stream.next()).await {
            Ok(Ok(StreamEvent::Transaction(t))) => seen.push(t),
            Ok(Ok(StreamEvent::Heartbeat)) => return seen,
            Ok(Err(e)) => panic!("stream failed: {e}"),
            Err(_) => panic!("no heartbeat within 30 s; got {} transactions", seen.len()),
        }
    }
}

/// `/metrics` of a running flowtally.
async fn metrics(ft: &mut Flowtally) -> String {
    let port = ft.http_port();
    tokio::task::spawn_blocking(move || http_get(port, "/metrics"))
        .await
        .expect("metrics")
        .body
}

/// Traffic on the primary that, on MySQL, carries tagged GTIDs (`SET gtid_next =
/// 'AUTOMATIC:<tag>'`): the failover's GTID checks and its dump request by GTID set must take
/// tags. A pool of one session, so the tag holds for all of it.
async fn tagged_or_plain(primary: &Server) -> MySqlPool {
    let options = sqlx::mysql::MySqlPoolOptions::new().max_connections(1);
    let options = match primary.flavor {
        Flavor::MySql => options.after_connect(|conn, _| {
            Box::pin(async move {
                flowtally::db::text(conn, "SET SESSION gtid_next = 'AUTOMATIC:downtime'")
                    .await
                    .map(|_| ())
            })
        }),
        Flavor::MariaDb | Flavor::MariaDb118 => options,
    };
    options
        .connect_with(primary.connect_options())
        .await
        .expect("pool")
}

async fn a_replicas_checkpoint_resumes_on_the_primary_by_gtid_state(flavor: Flavor) {
    let (primary, mut replica) = pair(flavor).await;
    let pool = primary.pool().await;
    let code = common::unique_code("Fo");
    let db = common::process::seeded_tenant(&pool, &code, 61).await;
    traffic(
        &pool,
        &db,
        61,
        chrono::Utc::now().timestamp() - 86_400,
        300,
        200,
    )
    .await;
    caught_up(&primary, &replica).await;

    // Reading the replica, writing to the primary.
    let dir = tempfile::tempdir().expect("tempdir");
    write_config(dir.path(), &at(&replica), &at(&primary), &[&code]);
    let mut ft = Flowtally::start_in(dir);
    ft.wait_started();
    let first = next_minute(chrono::Utc::now().timestamp()) + 60;
    // Replicated events keep the primary's commit timestamps: the same event time.
    let s1 = traffic(&pool, &db, 62, first, 1, 240).await;
    wait_for_instant(&pool, &db, local(s1.last_epoch / 60 * 60), &ft).await;

    // The replica fails. Ten minutes of traffic meanwhile, which nothing reads.
    tokio::task::block_in_place(|| replica.stop());
    let downtime = tagged_or_plain(&primary).await;
    let s2 = traffic_on(
        &downtime,
        std::slice::from_ref(&db),
        63,
        s1.last_epoch + 1,
        3,
        200,
        true,
    )
    .await;
    let (status, log) = ft.stop();
    assert!(status.success(), "exit {status}:\n{log}");
    let from_replica = Manifest::load(&ft.dir.path().join("state")).expect("the checkpoint");
    eprintln!("checkpoint of the replica at {}", from_replica.position);

    // Pointed at the primary (source and sink): a failover resume, not a recompute.
    write_config(ft.dir.path(), &at(&primary), &at(&primary), &[&code]);
    ft.clear_log();
    ft.restart();
    ft.wait_until_log("resuming from checkpoint");
    let log = ft.log();
    assert!(
        log.contains("failover: the checkpoint's GTID state is on this server"),
        "{log}"
    );
    assert!(!log.contains("full recompute"), "{log}");
    let s3 = traffic(&pool, &db, 64, s2.last_epoch + 1, 1, 200).await;
    // Every minute from the first live one written once, nothing twice, as a recompute.
    let written = assert_consistent(&pool, &db, first, s3.last_epoch + 1, &ft).await;
    let m = metrics(&mut ft).await;
    assert!(
        !m.contains("flowtally_recomputes_total{"),
        "no recompute counted:\n{m}"
    );
    assert!(!ft.log().contains("full recompute"), "{}", ft.log());

    // Fail back to the replica, brought back and caught up, from a checkpoint at the end of
    // the primary's binlog: nothing follows its GTID state on the replica, so the first
    // checkpoint of that run names a GTID state only; a restart resumes from it too.
    checkpoint_at_end(&ft, &primary).await;
    let (status, log) = ft.stop();
    assert!(status.success(), "exit {status}:\n{log}");
    tokio::task::block_in_place(|| replica.restart());
    caught_up(&primary, &replica).await;
    write_config(ft.dir.path(), &at(&replica), &at(&primary), &[&code]);
    ft.clear_log();
    ft.restart();
    ft.wait_until_log("resuming from checkpoint");
    assert!(ft.log().contains("failover"), "{}", ft.log());
    ft.wait_until_log("checkpoint written");
    let (status, log) = ft.stop();
    assert!(status.success(), "exit {status}:\n{log}");
    let idle = Manifest::load(&ft.dir.path().join("state")).expect("the checkpoint");
    eprintln!("checkpoint after the fail-back: {}", idle.position);
    ft.clear_log();
    ft.restart();
    ft.wait_until_log("resuming from checkpoint");
    let s4 = traffic(&pool, &db, 65, written + 1, 1, 200).await;
    assert_consistent(&pool, &db, first, s4.last_epoch + 1, &ft).await;
    let log = ft.log();
    assert!(!log.contains("full recompute"), "{log}");
    let (status, log) = ft.stop();
    assert!(status.success(), "exit {status}:\n{log}");
}

async fn a_stream_resumed_by_gtid_state_on_the_other_member_yields_what_followed(flavor: Flavor) {
    let (primary, replica) = pair(flavor).await;
    let code = common::unique_code("FoS");
    common::create_tenant(&primary, &code, false).await;
    let tdb = common::tenant_db(&code);
    caught_up(&primary, &replica).await;
    let from = end_of_binlog(&replica).await;
    let mut on_replica = BinlogStream::connect(&options(&replica, Duration::from_secs(1)), &from)
        .await
        .expect("stream from the replica");
    for i in 1..=4 {
        primary
            .exec(&format!(
                "SET timestamp = {};
                 INSERT INTO {tdb}.flow_token (id_token, id_instance, status, spawned_at)
                   VALUES ({i}, 1, 'ready', '2026-01-10 00:00:00');",
                1_767_232_000 + i
            ))
            .await;
    }
    caught_up(&primary, &replica).await;
    let replicated = until_idle(&mut on_replica).await;
    assert_eq!(replicated.len(), 4, "{replicated:#?}");

    // From the GTID state after the first, on the primary: the other three, the same
    // transactions (changes, commit times, GTIDs, GTID states), at the primary's own offsets.
    let state = Position::at_gtids(replicated[0].end.gtid.clone().expect("a GTID state"));
    let mut on_primary = BinlogStream::connect(&options(&primary, Duration::from_secs(1)), &state)
        .await
        .expect("stream from the primary by GTID state");
    let followed = until_idle(&mut on_primary).await;
    let summary = |t: &Transaction| {
        (
            t.changes.clone(),
            t.commit_ts,
            t.gtid.clone(),
            t.end.gtid.clone(),
        )
    };
    assert_eq!(
        followed.iter().map(summary).collect::<Vec<_>>(),
        replicated[1..].iter().map(summary).collect::<Vec<_>>(),
        "resumed on the primary from {state}"
    );
    let end = end_of_binlog(&primary).await;
    assert_eq!(
        followed.last().map(|t| (t.end.file.clone(), t.end.pos)),
        Some((end.file, end.pos)),
        "the primary's own file and offset"
    );
}

async fn a_checkpoint_of_a_server_outside_the_topology_means_a_recompute_saying_why(
    flavor: Flavor,
) {
    // Another server id: MariaDB's GTIDs name the server that wrote them, so the outsider's
    // are its own (with the same id and domain, MariaDB could not tell its GTIDs apart).
    let (a, outsider) = tokio::task::block_in_place(|| {
        (
            Server::start_with_id(flavor, 1, &[]),
            Server::start_with_id(flavor, 3, &[]),
        )
    });
    let pool_a = a.pool().await;
    let pool_o = outsider.pool().await;
    let code = common::unique_code("FoX");
    let db = common::process::seeded_tenant(&pool_a, &code, 71).await;
    let now = chrono::Utc::now().timestamp();
    traffic(&pool_a, &db, 71, now - 7_200, 30, 150).await;
    // The same tenant on the outsider, with other data (and more transactions than A has).
    common::process::seeded_tenant(&pool_o, &code, 72).await;
    traffic(&pool_o, &db, 72, now - 3_600, 10, 300).await;

    let mut ft = Flowtally::start(a.port, &[&code]);
    ft.wait_started();
    let (status, log) = ft.stop();
    assert!(status.success(), "{log}");
    write_config(ft.dir.path(), &at(&outsider), &at(&outsider), &[&code]);
    ft.clear_log();
    ft.restart();
    ft.wait_until_log("full recompute");
    let log = ft.log();
    let line = log
        .lines()
        .find(|l| l.contains("full recompute"))
        .expect("the line");
    eprintln!("{line}");
    assert!(
        line.contains("checkpoint was taken from server") && line.contains("no failover resume"),
        "{line}"
    );
    let why = match flavor {
        // GTID_SUBSET against its gtid_executed.
        Flavor::MySql => "this server has not executed every GTID of the checkpoint",
        // The dump request by GTID state, strict: the server's own error.
        Flavor::MariaDb | Flavor::MariaDb118 => "not in the master's binlog",
    };
    assert!(line.contains(why), "{why}: {line}");
    let m = metrics(&mut ft).await;
    assert!(
        m.contains("flowtally_recomputes_total{reason=\"other_server\"} 1"),
        "{m}"
    );
    ft.wait_until_log(&format!("tenant loaded tenant={code}"));
    let last = (chrono::Utc::now().timestamp() / 900 + 1) * 900;
    mark(&pool_o, last + 1).await;
    wait_for_instant(&pool_o, &db, local(last), &ft).await;
    let diffs = common::process::differences(&pool_o, &db).await;
    assert!(diffs.is_empty(), "{diffs:#?}");
}
