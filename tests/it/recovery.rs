//! Recovery: `flowtally run` killed, restarted, starved of its binlog or pointed at another
//! server keeps the dashboard tables right — every minute written once, and `verify` finds no
//! difference.

use std::time::Duration;

use chrono::NaiveDateTime;
use rand::{Rng, SeedableRng};
use sqlx::{MySqlPool, Row};

use crate::common::process::{
    differences, flowtally_cmd, local, mark, next_minute, snapshot_instants, traffic,
    wait_for_instant, Flowtally,
};
use crate::common::{self, Flavor, Server};

on_all!(
    kill_nine_at_random_moments_loses_and_repeats_nothing,
    server_restarts_mid_stream_are_ridden_out,
    downtime_is_backfilled_and_a_purged_binlog_means_recompute,
    a_checkpoint_from_another_server_is_refused,
    checkpoint_show_and_reset_one_tenant_or_all,
);

async fn tenant(server: &Server, pool: &MySqlPool, prefix: &str, seed: u64) -> (String, String) {
    let code = common::unique_code(prefix);
    let db = common::tenant_db(&code);
    common::process::seeded_tenant(pool, &code, seed).await;
    traffic(
        pool,
        &db,
        seed,
        chrono::Utc::now().timestamp() - 86_400,
        300,
        200,
    )
    .await;
    let _ = server;
    (code, db)
}

/// Ends the test's event time on a 15-minute boundary, waits for that snapshot, and checks:
/// no difference, one snapshot per minute from `first` on, no duplicate group.
/// Returns the last instant.
pub(crate) async fn assert_consistent(
    pool: &MySqlPool,
    db: &str,
    first: i64,
    last_event: i64,
    ft: &Flowtally,
) -> i64 {
    let last = (last_event / 900 + 1) * 900;
    mark(pool, last + 1).await;
    wait_for_instant(pool, db, local(last), ft).await;
    let diffs = differences(pool, db).await;
    assert!(diffs.is_empty(), "{db}: {diffs:#?}\n{}", ft.log());
    let instants: Vec<NaiveDateTime> = snapshot_instants(pool, db)
        .await
        .into_iter()
        .filter(|t| *t >= local(first))
        .collect();
    let expected: Vec<NaiveDateTime> = (first / 60..=last / 60).map(|m| local(m * 60)).collect();
    assert_eq!(instants, expected, "{db}: one snapshot per minute");
    for table in [
        "mv_token_flow_summary",
        "mv_node_bottlenecks",
        "mv_team_workload",
    ] {
        let key = match table {
            "mv_token_flow_summary" => "graph_id, node_id, team_id",
            "mv_node_bottlenecks" => "node_id",
            _ => "team_id",
        };
        let dups: i64 = sqlx::query(&format!(
            "SELECT COUNT(*) FROM (SELECT snapshot_at, {key} FROM `{db}`.{table} \
             GROUP BY snapshot_at, {key} HAVING COUNT(*) > 1) d"
        ))
        .fetch_one(pool)
        .await
        .expect("dups")
        .get(0);
        assert_eq!(dups, 0, "{db}.{table}: duplicate rows");
    }
    last
}

async fn kill_nine_at_random_moments_loses_and_repeats_nothing(flavor: Flavor) {
    // Private: flowtally follows its server's whole binlog, and other tests' event time on the
    // shared server would move its clock past the instants checked here.
    let server = common::start_server(flavor, &[]);
    let pool = server.pool().await;
    let (code, db) = tenant(&server, &pool, "Kill", 21).await;
    let mut ft = Flowtally::start(server.port, &[&code]);
    ft.wait_started();
    let first = next_minute(chrono::Utc::now().timestamp()) + 60;
    // SIGKILL and restart at random moments from another thread while traffic flows (event
    // time runs on across the slices).
    let killer = std::thread::spawn(move || {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(5);
        for _ in 0..12 {
            std::thread::sleep(Duration::from_millis(rng.gen_range(50..400)));
            ft.kill9();
            std::thread::sleep(Duration::from_millis(rng.gen_range(0..150)));
            ft.restart();
        }
        ft
    });
    let mut next = first;
    let mut slice = 0;
    while !killer.is_finished() {
        let stats = traffic(&pool, &db, 100 + slice, next, 1, 60).await;
        next = stats.last_epoch + 1;
        slice += 1;
    }
    let mut ft = killer.join().expect("killer thread");
    ft.wait_started();
    let kills = 12;
    assert!(kills >= 10);
    assert_consistent(&pool, &db, first, next, &ft).await;
    assert!(
        ft.log().contains("resuming from checkpoint"),
        "{}",
        ft.log()
    );
    let (status, log) = ft.stop();
    assert!(status.success(), "{log}");
}

async fn server_restarts_mid_stream_are_ridden_out(flavor: Flavor) {
    let mut server = common::start_server(flavor, &[]);
    let pool = server.pool().await;
    let (code, db) = tenant(&server, &pool, "Rst", 31).await;
    let mut ft = Flowtally::start(server.port, &[&code]);
    ft.wait_started();
    let first = next_minute(chrono::Utc::now().timestamp()) + 60;
    let mut next = first;
    for round in 0..3u64 {
        let stats = traffic(&pool, &db, 200 + round, next, 1, 150).await;
        next = stats.last_epoch + 1;
        // Clean shutdown (the stream just ends) and crash (the connection breaks), in turn.
        if round % 2 == 0 {
            tokio::task::block_in_place(|| server.stop());
        } else {
            tokio::task::block_in_place(|| server.kill9());
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        tokio::task::block_in_place(|| server.restart());
    }
    let pool = server.pool().await;
    let stats = traffic(&pool, &db, 299, next, 1, 100).await;
    assert_consistent(&pool, &db, first, stats.last_epoch + 1, &ft).await;
    assert!(ft.exited().is_none(), "flowtally died:\n{}", ft.log());
    assert!(ft.log().contains("reconnecting"), "{}", ft.log());
}

async fn downtime_is_backfilled_and_a_purged_binlog_means_recompute(flavor: Flavor) {
    let server = common::start_server(flavor, &[]);
    let pool = server.pool().await;
    let (code, db) = tenant(&server, &pool, "Gap", 41).await;
    let mut ft = Flowtally::start(server.port, &[&code]);
    ft.wait_started();
    let first = next_minute(chrono::Utc::now().timestamp()) + 60;
    let stats = traffic(&pool, &db, 1, first, 1, 200).await;
    let (status, log) = ft.stop();
    assert!(status.success(), "{log}");
    // Down for 10 minutes of event time: restarted, it backfills every one of them.
    let stats = traffic(&pool, &db, 2, stats.last_epoch + 1, 3, 200).await;
    ft.clear_log();
    ft.restart();
    ft.wait_until_log("resuming from checkpoint");
    let written = assert_consistent(&pool, &db, first, stats.last_epoch + 1, &ft).await;
    assert!(
        ft.log().contains("resuming from checkpoint"),
        "{}",
        ft.log()
    );
    let (status, log) = ft.stop();
    assert!(status.success(), "{log}");

    // Stopped, binlog purged past the checkpoint: the next start recomputes, and says why.
    traffic(&pool, &db, 3, chrono::Utc::now().timestamp() - 600, 1, 100).await;
    // As text: MySQL cannot prepare PURGE.
    let mut conn = pool.acquire().await.expect("conn");
    sqlx::raw_sql("FLUSH BINARY LOGS")
        .execute(&mut *conn)
        .await
        .expect("flush");
    let (current, _) = common::binlog_end(&server).await;
    // MariaDB keeps a file until its binlog checkpoint passes it: purge until it is gone.
    for _ in 0..100 {
        sqlx::raw_sql(&format!("PURGE BINARY LOGS TO '{current}'"))
            .execute(&mut *conn)
            .await
            .expect("purge");
        let files = common::binlog_files(&server).await;
        if files.len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ft.clear_log();
    ft.restart();
    ft.wait_until_log("full recompute");
    assert!(ft.log().contains("purged"), "{}", ft.log());
    // The recompute fixes its stream position when it loads the tenant, after saying why: a
    // marker committed before that would never reach the stream.
    ft.wait_until_log(&format!("tenant loaded tenant={code}"));
    // After what the first run wrote, so the snapshot waited for is the recomputed one.
    let last = written + 900;
    mark(&pool, last + 1).await;
    wait_for_instant(&pool, &db, local(last), &ft).await;
    let diffs = differences(&pool, &db).await;
    assert!(diffs.is_empty(), "{diffs:#?}");
}

async fn a_checkpoint_from_another_server_is_refused(flavor: Flavor) {
    let a = common::start_server(flavor, &[]);
    let b = common::start_server(flavor, &["--server-id=2"]);
    let pool_a = a.pool().await;
    let pool_b = b.pool().await;
    let (code, _) = tenant(&a, &pool_a, "Srv", 51).await;
    // The same tenant code on server B, different data.
    let db = common::tenant_db(&code);
    common::process::seeded_tenant(&pool_b, &code, 52).await;
    traffic(
        &pool_b,
        &db,
        53,
        chrono::Utc::now().timestamp() - 3_600,
        10,
        150,
    )
    .await;

    let mut ft = Flowtally::start(a.port, &[&code]);
    ft.wait_started();
    let (status, log) = ft.stop();
    assert!(status.success(), "{log}");
    // Same state directory, now reading server B.
    Flowtally::config(ft.dir.path(), b.port, &[&code], "");
    ft.clear_log();
    ft.restart();
    ft.wait_until_log("full recompute");
    let log = ft.log();
    assert!(
        log.contains("checkpoint was taken from server"),
        "the refusal names the other server:\n{log}"
    );
    // The recompute fixes its stream position when it loads the tenant, after saying why: a
    // marker committed before that would never reach the stream.
    ft.wait_until_log(&format!("tenant loaded tenant={code}"));
    let last = (chrono::Utc::now().timestamp() / 900 + 1) * 900;
    mark(&pool_b, last + 1).await;
    wait_for_instant(&pool_b, &db, local(last), &ft).await;
    let diffs = differences(&pool_b, &db).await;
    assert!(diffs.is_empty(), "{diffs:#?}");
}

fn checkpoint_cmd(ft: &Flowtally, args: &[&str]) -> (bool, String) {
    let args: Vec<&str> = std::iter::once("checkpoint")
        .chain(args.iter().copied())
        .collect();
    let out = flowtally_cmd(&ft.dir.path().join("flowtally.toml"), &args);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

async fn checkpoint_show_and_reset_one_tenant_or_all(flavor: Flavor) {
    let server = common::start_server(flavor, &[]);
    let pool = server.pool().await;
    let (a, _) = tenant(&server, &pool, "Cpa", 71).await;
    let (b, db_b) = tenant(&server, &pool, "Cpb", 72).await;
    let mut ft = Flowtally::start(server.port, &[&a, &b]);
    ft.wait_started();
    let (status, log) = ft.stop();
    assert!(status.success(), "{log}");

    let (ok, shown) = checkpoint_cmd(&ft, &["show"]);
    assert!(ok, "{shown}");
    assert!(shown.contains("position:   bin."), "{shown}");
    for code in [&a, &b] {
        assert!(shown.contains(&format!("tenant {code} (")), "{shown}");
    }
    // One tenant discarded: it alone is recomputed at the next start, the other resumes.
    let (ok, out) = checkpoint_cmd(&ft, &["reset", "--tenant", &b.to_lowercase()]);
    assert!(ok, "{out}");
    let (_, shown) = checkpoint_cmd(&ft, &["show"]);
    assert!(!shown.contains(&format!("tenant {b} (")), "{shown}");
    assert!(shown.contains(&format!("tenant {a} (")), "{shown}");
    ft.clear_log();
    ft.restart();
    ft.wait_until_log(&format!("tenant loaded tenant={b}"));
    let log = ft.log();
    assert!(log.contains("resuming from checkpoint"), "{log}");
    assert!(!log.contains(&format!("tenant loaded tenant={a}")), "{log}");
    let last = (chrono::Utc::now().timestamp() / 900 + 1) * 900;
    mark(&pool, last + 1).await;
    wait_for_instant(&pool, &db_b, local(last), &ft).await;
    assert!(differences(&pool, &db_b).await.is_empty());
    let (status, log) = ft.stop();
    assert!(status.success(), "{log}");

    // All discarded: a full recompute, saying why.
    let (ok, out) = checkpoint_cmd(&ft, &["reset"]);
    assert!(ok && out.contains("checkpoint discarded"), "{out}");
    let (_, shown) = checkpoint_cmd(&ft, &["show"]);
    assert!(shown.contains("no checkpoint"), "{shown}");
    ft.clear_log();
    ft.restart();
    ft.wait_until_log("full recompute");
    assert!(ft.log().contains("no checkpoint"), "{}", ft.log());
}
