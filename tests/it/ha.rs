//! High availability: two `flowtally run` instances with `[ha] enabled` against one server,
//! three tenants under simulated traffic, and the one that writes killed, paused past its
//! lease, or cut off from the sink; the standby restarted while the leader runs. After each:
//! every minute of every tenant has its snapshot, none twice, each instant committed by exactly
//! one instance — counted in the sink itself, by triggers on the lease table's progress rows,
//! which every snapshot transaction updates — and `verify` finds no difference. And one process
//! per state directory; one replica id per instance.

use std::time::{Duration, Instant};

use sqlx::{MySqlPool, Row};

use crate::common::process::{flowtally_cmd, http_get, next_minute, traffic_on, Flowtally};
use crate::common::{self, Flavor, Server};
use crate::recovery::assert_consistent;

on_all!(
    the_leader_killed_before_a_boundary_costs_no_minute,
    a_paused_leader_is_fenced_and_comes_back_as_standby,
    a_leader_cut_off_from_the_sink_hands_over,
    one_process_per_state_directory_and_one_instance_per_replica_id,
);

const LEASE_SECS: u64 = 3;

/// Three seeded tenants with a day of history; their codes and databases.
async fn tenants(pool: &MySqlPool, prefix: &str) -> (Vec<String>, Vec<String>) {
    let mut codes = Vec::new();
    let mut dbs = Vec::new();
    for i in 0..3u64 {
        let code = common::unique_code(prefix);
        let db = common::process::seeded_tenant(pool, &code, 70 + i).await;
        codes.push(code);
        dbs.push(db);
    }
    let day_ago = chrono::Utc::now().timestamp() - 86_400;
    traffic_on(pool, &dbs, 7, day_ago, 60, 300, false).await;
    (codes, dbs)
}

/// An instance with `[ha]` on (and its sink through `sink_port` when given), started.
fn instance(server: &Server, codes: &[String], sink_port: Option<u16>) -> Flowtally {
    Flowtally::start_in(configured(server, codes, sink_port))
}

/// The directory and configuration of such an instance, not started.
fn configured(server: &Server, codes: &[String], sink_port: Option<u16>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let codes: Vec<&str> = codes.iter().map(String::as_str).collect();
    let mut extra = format!("[ha]\nenabled = true\nlease_secs = {LEASE_SECS}\n");
    if let Some(port) = sink_port {
        extra.push_str(&format!(
            "[sink]\nurl = \"mysql://root@127.0.0.1:{port}\"\n"
        ));
    }
    Flowtally::config(dir.path(), server.port, &codes, &extra);
    dir
}

/// The lease table (by `flowtally migrate`, as an operator makes it) and the audit of every
/// snapshot commit: a row per progress-row insert or update, with who committed which instant.
async fn lease_table_and_audit(pool: &MySqlPool, dir: &std::path::Path) {
    let out = flowtally_cmd(&dir.join("flowtally.toml"), &["migrate"]);
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "migrate: {said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("[ha] lease table bgerp.flowtally_lease: ready"),
        "{said}"
    );
    let mut conn = pool.acquire().await.expect("conn");
    for sql in [
        "CREATE DATABASE IF NOT EXISTS flowtally_test",
        "CREATE TABLE IF NOT EXISTS flowtally_test.commits (id INT AUTO_INCREMENT PRIMARY KEY, \
         name VARCHAR(100), holder VARCHAR(255), term BIGINT, written_at BIGINT)",
        "CREATE TRIGGER bgerp.commit_ins AFTER INSERT ON bgerp.flowtally_lease FOR EACH ROW \
         INSERT INTO flowtally_test.commits (name, holder, term, written_at) \
         SELECT NEW.name, NEW.holder, NEW.term, NEW.written_at FROM DUAL \
         WHERE NEW.name LIKE 'written:%'",
        "CREATE TRIGGER bgerp.commit_upd AFTER UPDATE ON bgerp.flowtally_lease FOR EACH ROW \
         INSERT INTO flowtally_test.commits (name, holder, term, written_at) \
         SELECT NEW.name, NEW.holder, NEW.term, NEW.written_at FROM DUAL \
         WHERE NEW.name LIKE 'written:%'",
    ] {
        sqlx::raw_sql(sql).execute(&mut *conn).await.expect(sql);
    }
}

/// `/healthz`'s role of `ft`.
async fn role(ft: &mut Flowtally) -> String {
    let port = tokio::task::block_in_place(|| ft.http_port());
    let r = tokio::task::spawn_blocking(move || http_get(port, "/healthz"))
        .await
        .expect("healthz");
    r.json()["role"].as_str().unwrap_or("").to_string()
}

async fn wait_role(ft: &mut Flowtally, want: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let now = role(ft).await;
        if now == want {
            return;
        }
        if let Some(status) = ft.exited() {
            panic!("flowtally exited with {status}:\n{}", ft.log());
        }
        assert!(
            Instant::now() < deadline,
            "role {now}, not {want}, after {within:?}:\n{}",
            ft.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Every snapshot instant committed once, by one instance; instants per committer.
async fn assert_each_instant_committed_once(
    pool: &MySqlPool,
    dbs: &[String],
    first: i64,
) -> Vec<String> {
    let dups: Vec<(String, i64, i64)> = sqlx::query(
        "SELECT name, written_at, COUNT(*) FROM flowtally_test.commits \
         GROUP BY name, written_at HAVING COUNT(*) > 1",
    )
    .fetch_all(pool)
    .await
    .expect("audit")
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect();
    assert!(
        dups.is_empty(),
        "instants committed more than once: {dups:?}"
    );
    for db in dbs {
        let instants: Vec<i64> = sqlx::query(
            "SELECT written_at FROM flowtally_test.commits WHERE name = ? AND written_at >= ? \
             ORDER BY written_at",
        )
        .bind(format!("written:{db}"))
        .bind(first)
        .fetch_all(pool)
        .await
        .expect("audit")
        .iter()
        .map(|r| r.get(0))
        .collect();
        let (Some(lo), Some(hi)) = (instants.first(), instants.last()) else {
            panic!("{db}: no commit audited from {first}");
        };
        let every: Vec<i64> = (lo / 60..=hi / 60).map(|m| m * 60).collect();
        assert_eq!(instants, every, "{db}: every minute committed, once");
    }
    sqlx::query("SELECT DISTINCT holder FROM flowtally_test.commits WHERE written_at >= ?")
        .bind(first)
        .fetch_all(pool)
        .await
        .expect("holders")
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect()
}

/// Leader A, then standby B, both started and serving.
async fn pair(
    server: &Server,
    pool: &MySqlPool,
    codes: &[String],
    a_sink: Option<u16>,
) -> (Flowtally, Flowtally) {
    let a_dir = configured(server, codes, a_sink);
    lease_table_and_audit(pool, a_dir.path()).await;
    let mut a = Flowtally::start_in(a_dir);
    tokio::task::block_in_place(|| a.wait_started());
    wait_role(&mut a, "leader", Duration::from_secs(30)).await;
    let mut b = instance(server, codes, None);
    tokio::task::block_in_place(|| b.wait_started());
    wait_role(&mut b, "standby", Duration::from_secs(30)).await;
    (a, b)
}

/// Transactions over `dbs` one a second from `start` up to `end` (event time); the next stamp.
async fn traffic_until(pool: &MySqlPool, dbs: &[String], seed: u64, start: i64, end: i64) -> i64 {
    let n = (end - start + 1).max(1) as u64;
    traffic_on(pool, dbs, seed, start, 1, n, false)
        .await
        .last_epoch
        + 1
}

async fn consistent(pool: &MySqlPool, dbs: &[String], first: i64, next: i64, ft: &Flowtally) {
    for db in dbs {
        assert_consistent(pool, db, first, next, ft).await;
    }
}

async fn the_leader_killed_before_a_boundary_costs_no_minute(flavor: Flavor) {
    let server = common::start_server(flavor, &[]);
    let pool = server.pool().await;
    let (codes, dbs) = tenants(&pool, "Hak").await;
    let (mut a, mut b) = pair(&server, &pool, &codes, None).await;
    let first = next_minute(chrono::Utc::now().timestamp()) + 60;
    let mut next = traffic_until(&pool, &dbs, 1, first, first + 90).await;
    // The standby restarted while the leader runs: back as a standby, nothing written twice.
    b.clear_log();
    b.restart();
    tokio::task::block_in_place(|| b.wait_started());
    wait_role(&mut b, "standby", Duration::from_secs(30)).await;
    // Up to 5 s before a boundary, then the leader dies; the stream goes on past it.
    let boundary = next_minute(next + 30);
    next = traffic_until(&pool, &dbs, 2, next, boundary - 5).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.kill9();
    next = traffic_until(&pool, &dbs, 3, next, boundary + 100).await;
    wait_role(&mut b, "leader", Duration::from_secs(4 * LEASE_SECS)).await;
    consistent(&pool, &dbs, first, next, &b).await;
    let holders = assert_each_instant_committed_once(&pool, &dbs, first).await;
    assert_eq!(holders.len(), 2, "both instances committed: {holders:?}");
    let (status, log) = b.stop();
    assert!(status.success(), "{log}");
}

async fn a_paused_leader_is_fenced_and_comes_back_as_standby(flavor: Flavor) {
    let server = common::start_server(flavor, &[]);
    let pool = server.pool().await;
    let (codes, dbs) = tenants(&pool, "Hap").await;
    let (mut a, mut b) = pair(&server, &pool, &codes, None).await;
    let first = next_minute(chrono::Utc::now().timestamp()) + 60;
    let mut next = traffic_until(&pool, &dbs, 1, first, first + 60).await;
    // Paused just as a boundary is crossed, with that boundary's writes starting.
    let boundary = next_minute(next);
    next = traffic_until(&pool, &dbs, 2, next, boundary + 1).await;
    a.signal("STOP");
    // Past its lease, across more boundaries: the standby takes over and writes them.
    wait_role(&mut b, "leader", Duration::from_secs(6 * LEASE_SECS)).await;
    next = traffic_until(&pool, &dbs, 3, next, boundary + 150).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    a.signal("CONT");
    // What it had under way is refused by the fence; it comes back as a standby.
    wait_role(&mut a, "standby", Duration::from_secs(4 * LEASE_SECS)).await;
    next = traffic_until(&pool, &dbs, 4, next, next + 60).await;
    consistent(&pool, &dbs, first, next, &b).await;
    let holders = assert_each_instant_committed_once(&pool, &dbs, first).await;
    assert_eq!(holders.len(), 2, "both instances committed: {holders:?}");
    assert_eq!(role(&mut a).await, "standby", "{}", a.log());
    for ft in [&mut a, &mut b] {
        let (status, log) = ft.stop();
        assert!(status.success(), "{log}");
    }
}

async fn a_leader_cut_off_from_the_sink_hands_over(flavor: Flavor) {
    let server = common::start_server(flavor, &[]);
    let pool = server.pool().await;
    let (codes, dbs) = tenants(&pool, "Hac").await;
    let proxy = flowtally_testkit::proxy::Proxy::start(server.port).expect("proxy");
    let (mut a, mut b) = pair(&server, &pool, &codes, Some(proxy.port)).await;
    let first = next_minute(chrono::Utc::now().timestamp()) + 60;
    let mut next = traffic_until(&pool, &dbs, 1, first, first + 70).await;
    // The leader loses the sink (not the source): it stops writing by its own clock, and the
    // standby, which reaches the sink, takes over.
    proxy.cut();
    wait_role(&mut a, "standby", Duration::from_secs(4 * LEASE_SECS)).await;
    wait_role(&mut b, "leader", Duration::from_secs(4 * LEASE_SECS)).await;
    next = traffic_until(&pool, &dbs, 2, next, next + 120).await;
    proxy.restore();
    next = traffic_until(&pool, &dbs, 3, next, next + 60).await;
    consistent(&pool, &dbs, first, next, &b).await;
    assert_each_instant_committed_once(&pool, &dbs, first).await;
    assert_eq!(role(&mut a).await, "standby", "{}", a.log());
    for ft in [&mut a, &mut b] {
        let (status, log) = ft.stop();
        assert!(status.success(), "{log}");
    }
}

async fn one_process_per_state_directory_and_one_instance_per_replica_id(flavor: Flavor) {
    let server = common::start_server(flavor, &[]);
    let pool = server.pool().await;
    let (codes, _) = tenants(&pool, "Hal").await;
    let a_dir = configured(&server, &codes, None);
    lease_table_and_audit(&pool, a_dir.path()).await;
    let mut a = Flowtally::start_in(a_dir);
    tokio::task::block_in_place(|| a.wait_started());
    // A second `run` on the same configuration, so the same state directory (and listener).
    let config = a.dir.path().join("flowtally.toml");
    let started = Instant::now();
    let out = flowtally_cmd(&config, &["run"]);
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{said}");
    let state = a.dir.path().join("state");
    assert!(
        said.contains(&format!(
            "the state directory {} is in use",
            state.display()
        )),
        "{said}"
    );
    assert!(started.elapsed() < Duration::from_secs(10), "at once");
    // A lock left by a dead process does not block.
    a.kill9();
    a.clear_log();
    a.restart();
    tokio::task::block_in_place(|| a.wait_started());
    wait_role(&mut a, "leader", Duration::from_secs(6 * LEASE_SECS)).await;
    // Another instance given the same replica id is refused, naming it.
    let server_id = |path: &std::path::Path| {
        let text = std::fs::read_to_string(path).expect("config");
        let line = text
            .lines()
            .find(|l| l.starts_with("server_id"))
            .expect("server_id")
            .to_string();
        (text, line)
    };
    let (_, id_line) = server_id(&config);
    let dir = tempfile::tempdir().expect("tempdir");
    let codes_ref: Vec<&str> = codes.iter().map(String::as_str).collect();
    let c_config = Flowtally::config(
        dir.path(),
        server.port,
        &codes_ref,
        &format!("[ha]\nenabled = true\nlease_secs = {LEASE_SECS}\n"),
    );
    let (c_text, c_line) = server_id(&c_config);
    assert_ne!(c_line, id_line);
    std::fs::write(&c_config, c_text.replace(&c_line, &id_line)).expect("config");
    let out = flowtally_cmd(&c_config, &["run"]);
    let said = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{said}");
    let id = id_line.trim_start_matches("server_id = ").trim();
    assert!(
        said.contains(&format!(
            "[source] server_id = {id} is in use by another flowtally instance"
        )),
        "{said}"
    );
    let (status, log) = a.stop();
    assert!(status.success(), "{log}");
}
