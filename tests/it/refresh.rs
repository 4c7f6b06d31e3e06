//! `flowtally refresh` and `flowtally migrate` against the shared server: the cron drop-in writes
//! exactly what `verify`'s independent SQL expects, idempotently, with the cron script's output,
//! retention, and clear failures for missing databases, tables, tenants and table names.

use std::path::PathBuf;

use chrono::{NaiveDateTime, Timelike};
use flowtally::model::View;
use flowtally_testkit::simulate::{self, EventTime, SimOptions};
use sqlx::{MySqlPool, Row};

use crate::common::process::flowtally_cmd;
use crate::common::{self, Flavor, Server};

on_all!(
    refresh_writes_what_verify_expects_idempotently,
    refresh_command_prints_the_cron_lines_and_honours_flags,
    usage_errors_exit_2_before_writing,
    failing_tenants_fail_alone,
    migrate_creates_and_upgrades_the_erp_tables,
    the_service_rewrites_only_the_trend_days_that_differ_from_the_table,
    after_a_takeover_each_tenant_gets_only_its_differing_trend_days,
);

const TZ: chrono_tz::Tz = chrono_tz::Asia::Bangkok;

async fn tenant_with_traffic(pool: &MySqlPool, code: &str, seed: u64) -> String {
    let db = common::tenant_db(code);
    common::process::seeded_tenant(pool, code, seed).await;
    simulate::run(
        pool,
        &SimOptions {
            seed,
            tenants: vec![db.clone()],
            transactions: Some(300),
            event_time: Some(EventTime {
                start_epoch: chrono::Utc::now().timestamp() - 2 * 86_400,
                step_secs: 400,
            }),
            bad_rows: true,
            tz: TZ,
            ..SimOptions::default()
        },
    )
    .await
    .expect("traffic");
    db
}

fn config(server: &Server, codes: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let include: Vec<String> = codes.iter().map(|c| format!("\"{c}\"")).collect();
    let path = dir.path().join("flowtally.toml");
    std::fs::write(
        &path,
        format!(
            "[source]\nurl = \"mysql://root@127.0.0.1:{}\"\n[tenants]\ninclude = [{}]\n",
            server.port,
            include.join(", ")
        ),
    )
    .expect("config");
    (dir, path)
}

async fn count(pool: &MySqlPool, sql: &str) -> i64 {
    sqlx::query(sql)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .get(0)
}

fn now_local() -> NaiveDateTime {
    let now = chrono::Utc::now().with_timezone(&TZ).naive_local();
    now.with_nanosecond(0).expect("second")
}

async fn refresh_writes_what_verify_expects_idempotently(flavor: Flavor) {
    let server = common::shared(flavor);
    let pool = server.pool().await;
    let code = common::unique_code("Ref");
    let db = tenant_with_traffic(&pool, &code, 3).await;
    let cfg_text = format!(
        "[source]\nurl = \"mysql://root@127.0.0.1:{}\"\n[tenants]\ninclude = [\"{code}\"]\n",
        server.port
    );
    let cfg = flowtally::config::Config::parse(&cfg_text, "test", &Default::default()).unwrap();
    let tenants = vec![flowtally::tenants::Tenant {
        code: code.clone(),
        db: Some(db.clone()),
    }];
    let at = now_local();
    // Old rows: past retention (deleted) and within it (kept).
    let older = |secs: i64| (at - chrono::Duration::seconds(secs)).to_string();
    server
        .exec(&format!(
            "INSERT INTO `{db}`.mv_token_flow_summary (snapshot_at, node_id, wip_count) VALUES ('{}', 1, 5), ('{}', 1, 5);
             INSERT INTO `{db}`.mv_cycle_time_analytics (snapshot_at, node_id, period_start, period_end, token_count)
               VALUES ('{}', 1, '2020-01-01', '2020-01-07', 1), ('{}', 1, '2020-01-01', '2020-01-07', 1);
             INSERT INTO `{db}`.mv_dashboard_trends (snapshot_at, period_date, tokens_spawned) VALUES ('{}', '{}', 1);",
            older(2 * 86_400),
            older(3_600),
            older(8 * 86_400),
            older(3 * 86_400),
            older(86_400),
            (at.date() - chrono::Days::new(40))
        ))
        .await;
    for _ in 0..2 {
        let mut out = Vec::new();
        let ok = flowtally::refresh::run(&pool, &pool, &tenants, &View::ALL, at, &mut out).await;
        assert!(ok, "{}", String::from_utf8_lossy(&out));
    }
    let mut conn = pool.acquire().await.unwrap();
    let mut conn2 = pool.acquire().await.unwrap();
    let diffs = flowtally::verify::verify_tenant(&mut conn, &mut conn2, &db, &View::ALL, at)
        .await
        .unwrap();
    assert!(diffs.is_empty(), "{diffs:#?}");
    // Hand check: the summary's WIP is every valid live token at a known node.
    let wip = count(
        &pool,
        &format!("SELECT CAST(SUM(wip_count) AS SIGNED) FROM `{db}`.mv_token_flow_summary WHERE snapshot_at = '{at}'"),
    )
    .await;
    let live = count(
        &pool,
        &format!(
            "SELECT COUNT(*) FROM `{db}`.flow_token WHERE status IN ('ready','active','waiting','paused') \
             AND current_node_id IN (SELECT id_node FROM `{db}`.routing_node)"
        ),
    )
    .await;
    assert_eq!(wip, live);
    assert!(live > 0, "the simulator left live tokens");
    // Written twice at one instant: no duplicate groups.
    let dups = count(
        &pool,
        &format!(
            "SELECT COUNT(*) FROM (SELECT graph_id, node_id, team_id FROM `{db}`.mv_token_flow_summary \
             WHERE snapshot_at = '{at}' GROUP BY 1, 2, 3 HAVING COUNT(*) > 1) d"
        ),
    )
    .await;
    assert_eq!(dups, 0);
    // Retention: 2-day-old summary and 8-day-old cycle rows gone, the others kept.
    let kept = count(
        &pool,
        &format!("SELECT COUNT(*) FROM `{db}`.mv_token_flow_summary WHERE snapshot_at < '{at}'"),
    )
    .await;
    assert_eq!(kept, 1);
    let cycle_old = count(
        &pool,
        &format!("SELECT COUNT(*) FROM `{db}`.mv_cycle_time_analytics WHERE snapshot_at < '{at}'"),
    )
    .await;
    assert_eq!(cycle_old, 1);
    let trend_old = count(
        &pool,
        &format!(
            "SELECT COUNT(*) FROM `{db}`.mv_dashboard_trends WHERE period_date < '{}'",
            at.date() - chrono::Days::new(29)
        ),
    )
    .await;
    assert_eq!(trend_old, 0);
    let _ = cfg;
}

async fn refresh_command_prints_the_cron_lines_and_honours_flags(flavor: Flavor) {
    let server = common::shared(flavor);
    let pool = server.pool().await;
    let code = common::unique_code("Cli");
    let db = tenant_with_traffic(&pool, &code, 5).await;
    let (_dir, cfg) = config(server, &[&code]);
    let lower = code.to_lowercase();
    let out = flowtally_cmd(
        &cfg,
        &[
            "refresh",
            &format!("--tenant={lower}"),
            "--tables=summary,trends",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout,
        format!(
            "=== Refreshing Dashboard Materialized Tables for Tenant: {code} ===\n\n\
             Refreshing mv_token_flow_summary...\n✓ Done\n\
             Refreshing mv_dashboard_trends...\n✓ Done\n\n\
             === Refresh Complete ===\n"
        )
    );
    for (table, expect_rows) in [
        ("mv_token_flow_summary", true),
        ("mv_dashboard_trends", true),
        ("mv_node_bottlenecks", false),
        ("mv_team_workload", false),
        ("mv_cycle_time_analytics", false),
    ] {
        let n = count(&pool, &format!("SELECT COUNT(*) FROM `{db}`.{table}")).await;
        assert_eq!(n > 0, expect_rows, "{table} has {n} rows");
    }
    // The other spelling of the flags works too.
    let out = flowtally_cmd(
        &cfg,
        &["refresh", "--tenant", &code, "--tables", "workload"],
    );
    assert!(out.status.success());
    assert!(
        count(
            &pool,
            &format!("SELECT COUNT(*) FROM `{db}`.mv_team_workload")
        )
        .await
            > 0
    );
}

async fn usage_errors_exit_2_before_writing(flavor: Flavor) {
    let server = common::shared(flavor);
    let pool = server.pool().await;
    let code = common::unique_code("Use");
    let db = tenant_with_traffic(&pool, &code, 6).await;
    let (_dir, cfg) = config(server, &[&code]);
    let out = flowtally_cmd(&cfg, &["refresh", "--tables=summary,bogus"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bogus"));
    let out = flowtally_cmd(&cfg, &["refresh", "--tenant=nobody"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown tenant 'nobody'"));
    let n = count(
        &pool,
        &format!("SELECT COUNT(*) FROM `{db}`.mv_token_flow_summary"),
    )
    .await;
    assert_eq!(n, 0, "nothing written");
    // Bad config: one line naming the key.
    let (dir, _) = config(server, &[&code]);
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[source]\nurl = \"mysql://root@127.0.0.1:1\"\nbogus_key = 1\n",
    )
    .unwrap();
    let out = flowtally_cmd(&bad, &["refresh"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bogus_key"));
}

async fn failing_tenants_fail_alone(flavor: Flavor) {
    let server = common::shared(flavor);
    let pool = server.pool().await;
    let good = common::unique_code("Good");
    let bare = common::unique_code("Bare");
    let ghost = common::unique_code("Ghost");
    tenant_with_traffic(&pool, &good, 8).await;
    common::create_tenant(server, &bare, false).await; // no mv_ tables
    server
        .exec(&format!(
            "INSERT INTO bgerp.organization (code, name, status) VALUES ('{ghost}', 'no database', 'active')"
        ))
        .await;
    let (_dir, cfg) = config(server, &[&ghost, &bare, &good]);
    let out = flowtally_cmd(&cfg, &["refresh", "--tables=summary"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let section = |code: &str| {
        let start = stdout
            .find(&format!("Tenant: {code} ==="))
            .unwrap_or_else(|| panic!("no section for {code}: {stdout}"));
        stdout[start..]
            .lines()
            .nth(3)
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        section(&ghost).starts_with("✗ Failed: no database"),
        "{stdout}"
    );
    assert!(section(&bare).contains("flowtally migrate"), "{stdout}");
    assert_eq!(section(&good), "✓ Done", "{stdout}");
    assert!(stdout.ends_with("=== Refresh Complete ===\n"));
}

async fn migrate_creates_and_upgrades_the_erp_tables(flavor: Flavor) {
    let server = common::shared(flavor);
    let pool = server.pool().await;
    let fresh = common::unique_code("Mig");
    let old = common::unique_code("Old");
    common::create_tenant(server, &fresh, false).await;
    common::create_tenant(server, &old, false).await;
    let old_db = common::tenant_db(&old);
    // The ERP's original shape: no name columns.
    server
        .exec(&format!(
            "CREATE TABLE `{old_db}`.mv_node_bottlenecks (id INT AUTO_INCREMENT PRIMARY KEY, snapshot_at DATETIME NOT NULL,
               node_id INT NOT NULL, queue_depth INT NOT NULL DEFAULT 0, avg_wait_minutes DECIMAL(10,2) NULL,
               bottleneck_score DECIMAL(10,2) NULL);
             INSERT INTO `{old_db}`.mv_node_bottlenecks (snapshot_at, node_id, queue_depth) VALUES ('2025-11-01 10:00:00', 4, 2);
             CREATE TABLE `{old_db}`.mv_team_workload (id INT AUTO_INCREMENT PRIMARY KEY, snapshot_at DATETIME NOT NULL,
               team_id INT NOT NULL, active_tokens INT NOT NULL DEFAULT 0, waiting_tokens INT NOT NULL DEFAULT 0,
               avg_load DECIMAL(5,2) NULL);"
        ))
        .await;
    let (_dir, cfg) = config(server, &[&fresh, &old]);
    let out = flowtally_cmd(&cfg, &["migrate"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for db in [common::tenant_db(&fresh), old_db.clone()] {
        let n = count(
            &pool,
            &format!("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{db}' AND TABLE_NAME LIKE 'mv\\_%'"),
        )
        .await;
        assert_eq!(n, 5, "{db}");
    }
    let cols = count(
        &pool,
        &format!(
            "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '{old_db}' \
             AND TABLE_NAME IN ('mv_node_bottlenecks', 'mv_team_workload') AND COLUMN_NAME IN ('node_code', 'node_name', 'team_name', 'team_category')"
        ),
    )
    .await;
    assert_eq!(cols, 4);
    let kept = count(
        &pool,
        &format!("SELECT queue_depth FROM `{old_db}`.mv_node_bottlenecks WHERE node_id = 4"),
    )
    .await;
    assert_eq!(kept, 2, "rows untouched");
    assert!(
        stdout.contains("added columns [mv_node_bottlenecks.node_code"),
        "{stdout}"
    );
    // Idempotent.
    let again = flowtally_cmd(&cfg, &["migrate"]);
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success());
    assert_eq!(
        stdout.matches("created [], added columns []").count(),
        2,
        "{stdout}"
    );
}

/// `(id, period_date, snapshot_at, the values)` of every trends row of `db`, by period_date.
async fn trend_rows(pool: &MySqlPool, db: &str) -> Vec<(i64, String, String, String)> {
    sqlx::query(&format!(
        "SELECT id, CAST(period_date AS CHAR), CAST(snapshot_at AS CHAR), \
         CONCAT_WS('|', COALESCE(production_type, '-'), COALESCE(graph_id, '-'), tokens_completed, \
         tokens_spawned, COALESCE(avg_lead_time_hours, '-'), throughput_per_day) \
         FROM `{db}`.mv_dashboard_trends ORDER BY period_date, 4"
    ))
    .fetch_all(pool)
    .await
    .expect("trend rows")
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
    .collect()
}

/// Each row's day and values, without its id and instant.
fn values(rows: &[(i64, String, String, String)]) -> Vec<(String, String)> {
    rows.iter().map(|r| (r.1.clone(), r.3.clone())).collect()
}

/// The first trends snapshot after a load covers the whole window; the service's writer
/// replaces only the days whose rows differ from the table's (refresh replaces them all).
async fn the_service_rewrites_only_the_trend_days_that_differ_from_the_table(flavor: Flavor) {
    use flowtally::sink::writer;
    let server = common::shared(flavor);
    let pool = server.pool().await;
    let code = common::unique_code("Trd");
    let db = tenant_with_traffic(&pool, &code, 11).await;
    let at = now_local();
    let snap = {
        let mut conn = pool.acquire().await.expect("conn");
        let mut loaded = flowtally::source::snapshot::load_tenant(&mut conn, &db, at.date())
            .await
            .expect("load");
        loaded.state.snapshot(at, &[View::Trends])
    };
    let replace = writer::Window::Replace;
    let mut conn = pool.acquire().await.expect("conn");
    writer::write_as(
        &mut conn,
        &db,
        &snap,
        None,
        writer::Sending::Together,
        replace,
    )
    .await
    .expect("replace");
    let before = trend_rows(&pool, &db).await;
    let days: std::collections::BTreeSet<&str> = before.iter().map(|r| r.1.as_str()).collect();
    // The traffic spans two or three days, as the time of day falls.
    assert!(days.len() >= 2, "traffic over more than a day: {before:?}");
    // The table drifts from the truth on one day (a value) and gains a row on a day with none.
    let changed_day = before[0].1.clone();
    let empty_day = (at.date() - chrono::Days::new(25))
        .format("%Y-%m-%d")
        .to_string();
    assert!(!days.contains(empty_day.as_str()));
    server
        .exec(&format!(
            "UPDATE `{db}`.mv_dashboard_trends SET tokens_spawned = tokens_spawned + 7 WHERE id = {};
             INSERT INTO `{db}`.mv_dashboard_trends (snapshot_at, period_date, tokens_spawned) VALUES ('{at}', '{empty_day}', 1)",
            before[0].0
        ))
        .await;
    // The same state's window, 15 minutes later, written as the service writes it.
    let later = at + chrono::Duration::minutes(15);
    let mut next = snap.clone();
    next.at = later;
    let mut conn = pool.acquire().await.expect("conn");
    writer::write(&mut conn, &db, &next, None)
        .await
        .expect("write");
    let after = trend_rows(&pool, &db).await;
    // Every row as it was but the changed day's, which is the truth again at the later
    // instant; the stray row is gone.
    assert_eq!(values(&after), values(&before));
    let later_text = later.format("%Y-%m-%d %H:%M:%S").to_string();
    for row in &after {
        if row.1 == changed_day {
            assert_eq!(row.2, later_text, "{row:?}: rewritten");
            assert!(before.iter().all(|b| b.0 != row.0), "{row:?}: a new row");
        } else {
            assert!(
                before.contains(row),
                "{row:?}: left as it was; before {before:?}"
            );
        }
    }
    // Refresh's writer replaces every day.
    let mut conn = pool.acquire().await.expect("conn");
    writer::write_as(
        &mut conn,
        &db,
        &next,
        None,
        writer::Sending::Together,
        writer::Window::Replace,
    )
    .await
    .expect("replace");
    let replaced = trend_rows(&pool, &db).await;
    assert_eq!(values(&replaced), values(&before));
    assert!(replaced
        .iter()
        .all(|r| r.2 == later_text && before.iter().all(|b| b.0 != r.0)));
}

/// Under the lease, with three tenants: the new leader's first trends after a takeover (its
/// loads cover the whole window) rewrite only the days of each tenant that differ from what the
/// old leader left, and record each tenant's instant; the old leader's term commits nothing.
async fn after_a_takeover_each_tenant_gets_only_its_differing_trend_days(flavor: Flavor) {
    use flowtally::live::TenantKey;
    use flowtally::sink::lease::{self, Fence};
    use flowtally::sink::writer::{self, Leased, WriteError};
    let server = common::shared(flavor);
    let pool = server.pool().await;
    let core_db = format!("core_{}", common::unique_code("Ha").to_lowercase());
    server
        .exec(&format!(
            "CREATE DATABASE `{core_db}`; {}",
            lease::create_sql(&core_db)
        ))
        .await;
    let mut conn = pool.acquire().await.expect("conn");
    lease::ensure_writer_row(&mut conn, &core_db)
        .await
        .expect("writer row");
    async fn take(conn: &mut sqlx::MySqlConnection, core_db: &str, me: &str) -> Fence {
        let term = lease::take(conn, core_db, me, 60)
            .await
            .expect("take")
            .expect("the lease is free");
        Fence {
            core_db: core_db.into(),
            holder: me.into(),
            term,
            lease_secs: 60,
        }
    }
    let old = take(&mut conn, &core_db, "old").await;
    let mut dbs = Vec::new();
    for seed in [21, 22, 23] {
        dbs.push(tenant_with_traffic(&pool, &common::unique_code("Tko"), seed).await);
    }
    let at = now_local();
    let later = at + chrono::Duration::minutes(15);
    let epoch = |t: NaiveDateTime| t.and_utc().timestamp();
    let mut snaps = Vec::new();
    for db in &dbs {
        let mut loaded = flowtally::source::snapshot::load_tenant(&mut conn, db, at.date())
            .await
            .expect("load");
        let snap = loaded.state.snapshot(at, &[View::Trends]);
        let key = TenantKey::of_db(db);
        let leased = Leased {
            fence: &old,
            key: &key,
            instant: epoch(at),
        };
        writer::write_as(
            &mut conn,
            db,
            &snap,
            Some(leased),
            writer::Sending::Together,
            writer::Window::Replace,
        )
        .await
        .expect("the old leader's write");
        snaps.push(snap);
    }
    let mut before = Vec::new();
    for db in &dbs {
        before.push(trend_rows(&pool, db).await);
    }
    let days: std::collections::BTreeSet<&str> = before[1].iter().map(|r| r.1.as_str()).collect();
    assert!(days.len() >= 2, "traffic over more than a day: {before:?}");
    // The middle tenant's table drifted from the truth on one day.
    let changed = &before[1][0];
    server
        .exec(&format!(
            "UPDATE `{}`.mv_dashboard_trends SET tokens_spawned = tokens_spawned + 7 WHERE id = {}",
            dbs[1], changed.0
        ))
        .await;
    // The old leader's lease runs out; another instance takes it.
    server
        .exec(&format!(
            "UPDATE `{core_db}`.{} SET expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND \
             WHERE name = 'writer'",
            lease::TABLE
        ))
        .await;
    let new = take(&mut conn, &core_db, "new").await;
    assert_eq!(new.term, old.term + 1);
    for (db, snap) in dbs.iter().zip(&snaps) {
        let mut next = snap.clone();
        next.at = later;
        let key = TenantKey::of_db(db);
        // The old leader, still running, tries a later instant of its own: refused, and
        // nothing of it committed.
        let mut stale_next = snap.clone();
        stale_next.at = later + chrono::Duration::minutes(5);
        let stale = Leased {
            fence: &old,
            key: &key,
            instant: epoch(stale_next.at),
        };
        let rows = trend_rows(&pool, db).await;
        let refused = writer::write(&mut conn, db, &stale_next, Some(stale)).await;
        assert!(
            matches!(refused, Err(WriteError::Fenced(_))),
            "the old term writes nothing: {refused:?}"
        );
        assert_eq!(
            trend_rows(&pool, db).await,
            rows,
            "{db}: the old term's rows"
        );
        let recorded = lease::written(&mut conn, &core_db).await.expect("written");
        assert_eq!(
            recorded.get(&key),
            Some(&epoch(at)),
            "{db}: the old term's instant"
        );
        let leased = Leased {
            fence: &new,
            key: &key,
            instant: epoch(later),
        };
        writer::write(&mut conn, db, &next, Some(leased))
            .await
            .expect("the new leader's write");
    }
    let later_text = later.format("%Y-%m-%d %H:%M:%S").to_string();
    for (i, db) in dbs.iter().enumerate() {
        let after = trend_rows(&pool, db).await;
        if i != 1 {
            assert_eq!(
                after, before[i],
                "{db}: every row as the old leader left it"
            );
            continue;
        }
        assert_eq!(values(&after), values(&before[i]), "{db}: the truth again");
        for row in &after {
            if row.1 == changed.1 {
                assert_eq!(row.2, later_text, "{row:?}: rewritten by the new leader");
                assert!(before[i].iter().all(|b| b.0 != row.0), "{row:?}: a new row");
            } else {
                assert!(before[i].contains(row), "{row:?}: left as it was");
            }
        }
    }
    let written = lease::written(&mut conn, &core_db).await.expect("written");
    for db in &dbs {
        assert_eq!(
            written.get(&TenantKey::of_db(db)),
            Some(&epoch(later)),
            "{db}: the new leader's instant recorded with its write"
        );
    }
}
