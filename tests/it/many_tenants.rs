//! Many tenants on one instance: every command right with several tenants (`migrate` on one
//! connection and from the command line, its report read back; `refresh`, `verify` and
//! `checkpoint reset --tenant` with three), and a live run with a hundred tenants — loaded at
//! start with bounded concurrency, streaming under traffic, some joining and some leaving —
//! that writes every minute of every tenant exactly once, equal to a fresh recompute; and one
//! tenant's failing writes holding up no other.

use chrono::NaiveDateTime;
use flowtally::model::View;
use sqlx::{MySqlPool, Row};

use crate::common::process::{
    differences, flowtally_cmd, local, mark, next_minute, traffic_on, wait_for_instant, Flowtally,
};
use crate::common::{self, tenant_at, Flavor, Server};

on_all!(
    migrate_on_one_connection_reports_what_it_did_for_each_tenant,
    refresh_verify_and_reset_one_of_three_tenants,
    a_hundred_tenants_join_and_leave_and_every_minute_is_written_once,
    a_hundred_tenants_snapshots_at_a_five_minute_boundary_are_exact,
    a_failing_tenant_does_not_hold_up_the_others,
);

async fn tables(pool: &MySqlPool, db: &str) -> Vec<String> {
    sqlx::query(
        "SELECT CAST(TABLE_NAME AS CHAR) FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = ? AND TABLE_NAME LIKE 'mv\\_%' ORDER BY 1",
    )
    .bind(db)
    .fetch_all(pool)
    .await
    .expect("mv_ tables")
    .iter()
    .map(|r| r.get::<String, _>(0))
    .collect()
}

/// The trap this guards against: a statement sqlx prepared for one database and cached on the
/// connection runs again in that database (MariaDB), so the next tenant's tables were never
/// made and its `ALTER` failed, while the report said "created".
async fn migrate_on_one_connection_reports_what_it_did_for_each_tenant(flavor: Flavor) {
    let server = common::shared(flavor);
    let pool = server.pool().await;
    let codes: Vec<String> = (0..3).map(|_| common::unique_code("Mg")).collect();
    for c in &codes {
        common::create_tenant(server, c, false).await;
    }
    let mut conn = server.connect().await;
    let all: Vec<String> = flowtally::model::View::ALL
        .iter()
        .map(|v| v.table().to_string())
        .collect();
    for c in &codes {
        let db = common::tenant_db(c);
        let m = flowtally::sink::migrate::migrate(&mut conn, &db)
            .await
            .unwrap_or_else(|e| panic!("{db}: {e}"));
        assert_eq!(m.created.len(), 5, "{db}: {m:?}");
        assert!(m.columns_added.is_empty(), "{db}: {m:?}");
        let mut have = tables(&pool, &db).await;
        have.sort();
        let mut want = all.clone();
        want.sort();
        assert_eq!(have, want, "{db}");
    }
    // Again on the same connection: nothing to do, and it says so.
    for c in &codes {
        let db = common::tenant_db(c);
        let m = flowtally::sink::migrate::migrate(&mut conn, &db)
            .await
            .unwrap_or_else(|e| panic!("{db}: {e}"));
        assert_eq!(m, flowtally::sink::migrate::Migrated::default(), "{db}");
    }

    // From the command line, on the pool, a fourth tenant in the ERP's old shape among three
    // fresh ones: each line says what was done to it.
    let more: Vec<String> = (0..3).map(|_| common::unique_code("Mc")).collect();
    let old = common::unique_code("Mo");
    for c in more.iter().chain([&old]) {
        common::create_tenant(server, c, false).await;
    }
    let old_db = common::tenant_db(&old);
    server
        .exec(&format!(
            "CREATE TABLE `{old_db}`.mv_team_workload (id INT AUTO_INCREMENT PRIMARY KEY, \
             snapshot_at DATETIME NOT NULL, team_id INT NOT NULL, active_tokens INT NOT NULL \
             DEFAULT 0, waiting_tokens INT NOT NULL DEFAULT 0, avg_load DECIMAL(5,2) NULL)"
        ))
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let codes: Vec<&str> = more.iter().chain([&old]).map(String::as_str).collect();
    let cfg = Flowtally::config(dir.path(), server.port, &codes, "");
    let out = flowtally_cmd(&cfg, &["migrate"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for c in &more {
        let db = common::tenant_db(c);
        let line = format!("{c} ({db}): created [{}], added columns []", all.join(", "));
        assert!(
            stdout.lines().any(|l| l == line),
            "{line:?} not in\n{stdout}"
        );
    }
    let others: Vec<&str> = all
        .iter()
        .map(String::as_str)
        .filter(|t| *t != "mv_team_workload")
        .collect();
    let line = format!(
        "{old} ({old_db}): created [{}], added columns [mv_team_workload.team_name, \
         mv_team_workload.team_category]",
        others.join(", ")
    );
    assert!(
        stdout.lines().any(|l| l == line),
        "{line:?} not in\n{stdout}"
    );
}

async fn count(pool: &MySqlPool, sql: &str) -> i64 {
    sqlx::query(sql)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get::<i64, _>(0)
}

async fn refresh_verify_and_reset_one_of_three_tenants(flavor: Flavor) {
    let server = common::start_server(flavor, &[]);
    let pool = server.pool().await;
    let codes: Vec<String> = (0..3).map(|_| common::unique_code("Rv")).collect();
    let dbs: Vec<String> = {
        let mut dbs = Vec::new();
        for (i, c) in codes.iter().enumerate() {
            dbs.push(crate::common::process::seeded_tenant(&pool, c, 40 + i as u64).await);
        }
        dbs
    };
    let history = chrono::Utc::now().timestamp() - 2 * 86_400;
    traffic_on(&pool, &dbs, 41, history, 120, 600, true).await;
    let code_refs: Vec<&str> = codes.iter().map(String::as_str).collect();

    // refresh and verify, every tenant.
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = Flowtally::config(dir.path(), server.port, &code_refs, "");
    let out = flowtally_cmd(&cfg, &["refresh"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    for c in &codes {
        assert!(
            stdout.contains(&format!(
                "=== Refreshing Dashboard Materialized Tables for Tenant: {c} ==="
            )),
            "{stdout}"
        );
    }
    assert_eq!(stdout.matches("✓ Done").count(), 3 * 5, "{stdout}");
    let out = flowtally_cmd(&cfg, &["verify"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    for c in &codes {
        assert!(
            stdout.lines().any(|l| l == format!("{c}: 0 difference(s)")),
            "{stdout}"
        );
    }

    // A run, then one tenant's part reset: only that one is loaded again at the next start.
    let mut ft = Flowtally::start(server.port, &code_refs);
    ft.wait_started();
    for c in &codes {
        assert!(
            ft.log().contains(&format!("tenant loaded tenant={c}")),
            "{}",
            ft.log()
        );
    }
    let (status, log) = ft.stop();
    assert!(status.success(), "{log}");
    let cfg = ft.dir.path().join("flowtally.toml");
    let out = flowtally_cmd(&cfg, &["checkpoint", "reset", "--tenant", &codes[1]]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = flowtally_cmd(&cfg, &["checkpoint", "show"]);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        !shown.contains(&format!("tenant {} (", codes[1])),
        "{shown}"
    );
    for c in [&codes[0], &codes[2]] {
        assert!(shown.contains(&format!("tenant {c} (")), "{shown}");
    }
    ft.clear_log();
    ft.restart();
    ft.wait_until_log(&format!("tenant loaded tenant={}", codes[1]));
    let log = ft.log();
    assert!(log.contains("resuming from checkpoint"), "{log}");
    for c in [&codes[0], &codes[2]] {
        assert!(
            !log.contains(&format!("tenant loaded tenant={c}")),
            "{c} was loaded again:\n{log}"
        );
    }
    let (status, log) = ft.stop();
    assert!(status.success(), "{log}");
    assert_eq!(
        count(
            &pool,
            "SELECT COUNT(*) FROM bgerp.organization WHERE status = 'active'"
        )
        .await,
        3
    );
}

/// Snapshot instants of `db` at or after `from`, read from mv_team_workload (which has rows at
/// every instant: every seeded team has active members, tokens or not).
async fn minutes_from(pool: &MySqlPool, db: &str, from: NaiveDateTime) -> Vec<NaiveDateTime> {
    sqlx::query(&format!(
        "SELECT DISTINCT snapshot_at FROM `{db}`.mv_team_workload WHERE snapshot_at >= ? \
         ORDER BY snapshot_at"
    ))
    .bind(from)
    .fetch_all(pool)
    .await
    .expect("instants")
    .iter()
    .map(|r| r.get::<NaiveDateTime, _>(0))
    .collect()
}

async fn a_hundred_tenants_join_and_leave_and_every_minute_is_written_once(flavor: Flavor) {
    const START: usize = 100;
    const JOIN: usize = 4;
    const LEAVE: usize = 4;
    let server: Server = common::start_server(flavor, &[]);
    let pool = server.pool().await;
    let now = chrono::Utc::now().timestamp();
    let codes: Vec<String> = (0..START).map(|i| format!("T{i:03}")).collect();
    let mut dbs = Vec::new();
    for (i, c) in codes.iter().enumerate() {
        dbs.push(tenant_at(&server, &pool, c, 100 + i as u64, now - 86_400).await);
    }
    traffic_on(&pool, &dbs, 7, now - 86_000, 60, 1_000, true).await;

    // Every active tenant, discovered (no include list).
    let mut ft = Flowtally::start(server.port, &[]);
    ft.wait_started();
    let log = ft.log();
    assert_eq!(
        log.matches("tenant loaded tenant=").count(),
        START,
        "each tenant loaded once:\n{log}"
    );

    // Live traffic over every tenant, dated from the second boundary after the loads on (each
    // tenant's first snapshot is the first boundary after its load), one transaction a second;
    // then some tenants join and some leave, and the traffic goes on.
    let first = next_minute(chrono::Utc::now().timestamp()) + 60;
    let s = traffic_on(&pool, &dbs, 8, first, 1, 600, false).await;
    let joined: Vec<String> = (0..JOIN).map(|i| format!("N{i:03}")).collect();
    let mut joined_dbs = Vec::new();
    for (i, c) in joined.iter().enumerate() {
        joined_dbs.push(tenant_at(&server, &pool, c, 300 + i as u64, s.last_epoch + 1).await);
    }
    let left: Vec<&String> = codes.iter().take(LEAVE).collect();
    let off = s.last_epoch + 2;
    let names: Vec<String> = left.iter().map(|c| format!("'{c}'")).collect();
    server
        .exec(&format!(
            "SET timestamp = {off}; UPDATE bgerp.organization SET status = 'inactive' \
             WHERE code IN ({}); SET timestamp = DEFAULT;",
            names.join(", ")
        ))
        .await;
    for c in &joined {
        ft.wait_until_log(&format!("tenant loaded tenant={c}"));
    }
    let staying: Vec<String> = dbs[LEAVE..]
        .iter()
        .chain(joined_dbs.iter())
        .cloned()
        .collect();
    let s = traffic_on(&pool, &staying, 9, off + 1, 1, 600, false).await;
    let last = (s.last_epoch / 900 + 1) * 900;
    mark(&pool, last + 1).await;
    for db in &staying {
        wait_for_instant(&pool, db, local(last), &ft).await;
    }

    // Equal to a fresh recompute, every tenant still served.
    for db in &staying {
        let diffs = differences(&pool, db).await;
        assert!(diffs.is_empty(), "{db}: {diffs:#?}");
    }
    // Every minute once, from the first live one, for the tenants there all along.
    let expected: Vec<NaiveDateTime> = (first / 60..=last / 60).map(|m| local(m * 60)).collect();
    for db in &dbs[LEAVE..] {
        assert_eq!(
            minutes_from(&pool, db, local(first)).await,
            expected,
            "{db}: one snapshot per minute"
        );
    }
    // Joined tenants: every minute from their first one to the last.
    for db in &joined_dbs {
        let minutes = minutes_from(&pool, db, local(first)).await;
        let Some(start) = minutes.first().copied() else {
            panic!("{db}: no snapshot");
        };
        assert!(start > local(off - 60), "{db} starts at {start}");
        let want: Vec<NaiveDateTime> = expected.iter().copied().filter(|t| *t >= start).collect();
        assert_eq!(minutes, want, "{db}: one snapshot per minute once joined");
    }
    // Left tenants: nothing after the deactivating commit.
    for db in &dbs[..LEAVE] {
        let after: Vec<_> = minutes_from(&pool, db, local(off))
            .await
            .into_iter()
            .filter(|t| *t > local(off))
            .collect();
        assert!(after.is_empty(), "{db}: rows after it left: {after:?}");
    }
    // No duplicate rows anywhere.
    for db in &staying {
        let dup = count(
            &pool,
            &format!(
                "SELECT COUNT(*) FROM (SELECT snapshot_at, graph_id, node_id, team_id, COUNT(*) c \
                 FROM `{db}`.mv_token_flow_summary GROUP BY 1, 2, 3, 4 HAVING c > 1) d"
            ),
        )
        .await;
        assert_eq!(dup, 0, "{db}: duplicate summary rows");
    }
    let (status, log) = ft.stop();
    assert!(status.success(), "{log}");
}

/// Lazy boundaries with a hundred tenants: once the stream passes a 5-minute boundary B, each
/// tenant's snapshot at B is only due, and traffic dated at B goes on touching the tenants
/// while theirs are still owed. Each must still be exactly the sources as they were at B:
/// recomputed by SQL before any change dated B was committed, compared after.
async fn a_hundred_tenants_snapshots_at_a_five_minute_boundary_are_exact(flavor: Flavor) {
    const N: usize = 100;
    let server: Server = common::start_server(flavor, &[]);
    let pool = server.pool().await;
    let now = chrono::Utc::now().timestamp();
    let mut dbs = Vec::new();
    for i in 0..N {
        let code = format!("B{i:03}");
        dbs.push(tenant_at(&server, &pool, &code, 500 + i as u64, now - 86_400).await);
    }
    traffic_on(&pool, &dbs, 11, now - 86_000, 60, 500, false).await;
    let mut ft = Flowtally::start(server.port, &[]);
    ft.wait_started();

    // B lies ahead of the wall clock, so that only an event dated B or later passes it (not
    // the idle heartbeat), and the changes dated B are what follows it in the stream.
    let b = ((chrono::Utc::now().timestamp() + 240) / 300 + 1) * 300;
    traffic_on(&pool, &dbs, 12, b - 120, 0, 300, false).await;
    traffic_on(&pool, &dbs, 13, b - 1, 0, 300, false).await;
    let views: Vec<View> = View::ALL
        .into_iter()
        .filter(|v| b % (v.cadence().minutes() * 60) == 0)
        .collect();
    let mut expected = Vec::new();
    let mut conn = pool.acquire().await.expect("conn");
    for db in &dbs {
        for &v in &views {
            let rows = flowtally::verify::expected(&mut conn, db, v, local(b))
                .await
                .expect("expected rows");
            expected.push((db.clone(), v, rows));
        }
    }
    let after = traffic_on(&pool, &dbs, 14, b, 0, 600, false).await;
    assert!(after.transactions >= 600, "{after:?}");
    mark(&pool, b + 61).await;
    for db in &dbs {
        wait_for_instant(&pool, db, local(b), &ft).await;
    }
    let mut differences = Vec::new();
    for (db, v, want) in &expected {
        let got = flowtally::verify::rows_at(&mut conn, db, *v, local(b))
            .await
            .expect("written rows");
        assert!(
            !got.is_empty() || want.is_empty(),
            "{db}: no {v:?} rows at B"
        );
        differences.extend(
            flowtally::verify::compare(*v, want, &got)
                .into_iter()
                .map(|d| format!("{db}: {d}")),
        );
    }
    assert!(differences.is_empty(), "{differences:#?}");
    let (status, log) = ft.stop();
    assert!(status.success(), "{log}");
}

/// One tenant's snapshot writes fail (its writer lacks INSERT on its mv_ tables): it is retried
/// with backoff, the other tenant keeps being written on time, `/healthz` names the failing
/// one, and once the grant comes every minute of it is written, nothing dropped.
async fn a_failing_tenant_does_not_hold_up_the_others(flavor: Flavor) {
    let server = common::start_server(flavor, &[]);
    let pool = server.pool().await;
    let (bad, good) = ("FailA", "FailB");
    let now = chrono::Utc::now().timestamp();
    let bad_db = tenant_at(&server, &pool, bad, 71, now - 3_600).await;
    let good_db = tenant_at(&server, &pool, good, 72, now - 3_600).await;
    let writer = common::unique_code("fw").to_lowercase();
    let mut grants = format!("CREATE USER '{writer}'@'%' IDENTIFIED BY 'Wr1te-pw';\n");
    for v in flowtally::model::View::ALL {
        grants += &format!(
            "GRANT SELECT, INSERT, DELETE ON `{good_db}`.`{t}` TO '{writer}'@'%';\n\
             GRANT SELECT, DELETE ON `{bad_db}`.`{t}` TO '{writer}'@'%';\n",
            t = v.table()
        );
    }
    server.exec(&grants).await;

    let dir = tempfile::tempdir().expect("tempdir");
    Flowtally::config(
        dir.path(),
        server.port,
        &[bad, good],
        &format!(
            "[sink]\nurl = \"mysql://{writer}:Wr1te-pw@127.0.0.1:{}\"\n",
            server.port
        ),
    );
    let mut ft = Flowtally::start_in(dir);
    ft.wait_started();
    let first = next_minute(chrono::Utc::now().timestamp()) + 60;
    let both = [bad_db.clone(), good_db.clone()];
    let s = traffic_on(&pool, &both, 73, first, 1, 300, false).await;
    // A 15-minute boundary: every table has a snapshot of the final state there.
    let last = (s.last_epoch / 900 + 1) * 900;
    mark(&pool, last + 1).await;
    // The good tenant is written to the end while the bad one fails.
    wait_for_instant(&pool, &good_db, local(last), &ft).await;
    assert!(
        minutes_from(&pool, &bad_db, local(0)).await.is_empty(),
        "the bad tenant cannot have been written"
    );
    ft.wait_until_log("snapshot write failed; retrying");
    assert!(
        ft.log()
            .lines()
            .any(|l| l.contains("snapshot write failed; retrying") && l.contains(&bad_db)),
        "the log names the failing tenant's database"
    );
    let port = ft.http_port();
    let health =
        tokio::task::spawn_blocking(move || crate::common::process::http_get(port, "/healthz"))
            .await
            .expect("healthz");
    assert_eq!(health.status, 503, "{}", health.body);
    let body = health.json();
    assert_eq!(body["reason"], "sink_failing", "{body}");
    assert!(
        body["detail"].as_str().unwrap_or("").contains(bad),
        "{body}"
    );

    // Granted: every minute of the bad tenant follows, in order, none dropped.
    server
        .exec(&format!(
            "GRANT INSERT ON `{bad_db}`.* TO '{writer}'@'%'; FLUSH PRIVILEGES;"
        ))
        .await;
    wait_for_instant(&pool, &bad_db, local(last), &ft).await;
    let expected: Vec<NaiveDateTime> = (first / 60..=last / 60).map(|m| local(m * 60)).collect();
    for db in &both {
        assert_eq!(
            minutes_from(&pool, db, local(first)).await,
            expected,
            "{db}: every minute once"
        );
        let diffs = differences(&pool, db).await;
        assert!(diffs.is_empty(), "{db}: {diffs:#?}");
    }
    let (status, log) = ft.stop();
    assert!(status.success(), "{log}");
}
