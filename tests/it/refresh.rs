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
