//! The traffic simulator (crates/testkit/src/simulate.rs) against the shared test servers: the
//! rows it writes are realistic and consistent, stay inside the simulated time range, are the
//! same for the same seed, survive bad rows and a second run on the same databases; bulk history
//! has ≈5% live tokens.

use std::time::Instant;

use chrono::NaiveDateTime;
use flowtally_testkit::simulate::{self, EventTime, SimOptions, SimStats};
use sqlx::{MySqlPool, Row};

use crate::common::{self, Flavor};

on_all!(
    five_hundred_transactions_are_realistic_and_consistent,
    same_seed_same_rows,
    two_tenants_bad_rows_and_a_second_run,
    setup_and_seed_with_event_time,
    bulk_history_is_about_five_percent_live,
    binlog_events_carry_the_simulated_time,
    a_bottleneck_piles_tokens_up_past_its_wip_limit,
);

const CORE: &str = "bgerp";
const PREFIX: &str = "bgerp_t_";
/// 2025-01-01 00:00:00 UTC = 07:00 in Bangkok.
const START: i64 = 1_735_689_600;

async fn int(pool: &MySqlPool, sql: &str) -> i64 {
    let row = sqlx::query(sql)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    row.try_get::<Option<i64>, _>(0)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .unwrap_or(0)
}

/// `(status, count)` of a table, ordered by status.
async fn by_status(pool: &MySqlPool, db: &str, table: &str) -> Vec<(String, i64)> {
    let sql = format!(
        "SELECT CAST(status AS CHAR), CAST(COUNT(*) AS SIGNED) FROM `{db}`.{table} \
         GROUP BY status ORDER BY CAST(status AS CHAR)"
    );
    sqlx::query(&sql)
        .fetch_all(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1)))
        .collect()
}

async fn new_tenant(pool: &MySqlPool, prefix: &str, seed: u64) -> String {
    let code = common::unique_code(prefix);
    simulate::setup_tenant(pool, CORE, PREFIX, &code)
        .await
        .expect("setup_tenant");
    let db = simulate::tenant_db(PREFIX, &code);
    simulate::seed_dimensions_at(pool, &db, seed, Some(START - 3_600))
        .await
        .expect("seed_dimensions");
    db
}

fn opts(tenants: Vec<String>, seed: u64, n: u64, bad_rows: bool) -> SimOptions {
    SimOptions {
        seed,
        tenants,
        transactions: Some(n),
        rate_per_sec: None,
        event_time: Some(EventTime {
            start_epoch: START,
            step_secs: 7,
        }),
        bad_rows,
        tz: chrono_tz::Asia::Bangkok,
        bottleneck: None,
    }
}

/// Every DATETIME column the simulator writes, per table.
const DATETIMES: [(&str, &[&str]); 3] = [
    ("flow_token", &["spawned_at", "completed_at", "scrapped_at"]),
    (
        "token_assignment",
        &[
            "assigned_at",
            "accepted_at",
            "started_at",
            "paused_at",
            "completed_at",
            "cancelled_at",
        ],
    ),
    ("job_graph_instance", &["started_at"]),
];

/// The consistency rules that hold without bad rows.
async fn assert_consistent(pool: &MySqlPool, db: &str) {
    let open = "('assigned','accepted','started','paused')";
    // A token in work has its open assignment in the matching state.
    let bad_active = int(
        pool,
        &format!(
            "SELECT COUNT(*) FROM `{db}`.flow_token t WHERE t.status IN ('active','paused') \
             AND NOT EXISTS (SELECT 1 FROM `{db}`.token_assignment a WHERE a.id_token = t.id_token \
             AND a.status = IF(t.status = 'active', 'started', 'paused'))"
        ),
    )
    .await;
    assert_eq!(
        bad_active, 0,
        "{db}: tokens in work without a matching open assignment"
    );
    let multi_open = int(
        pool,
        &format!(
            "SELECT COUNT(*) FROM (SELECT id_token FROM `{db}`.token_assignment \
             WHERE status IN {open} GROUP BY id_token HAVING COUNT(*) > 1) x"
        ),
    )
    .await;
    assert_eq!(multi_open, 0, "{db}: tokens with two open assignments");
    // Open assignments belong to live tokens, at the token's node.
    let stray_open = int(
        pool,
        &format!(
            "SELECT COUNT(*) FROM `{db}`.token_assignment a JOIN `{db}`.flow_token t \
             USING (id_token) WHERE a.status IN {open} AND (t.status NOT IN \
             ('ready','active','waiting','paused') OR a.id_node <> t.current_node_id)"
        ),
    )
    .await;
    assert_eq!(
        stray_open, 0,
        "{db}: open assignments of terminal or moved tokens"
    );
    let bad_completed = int(
        pool,
        &format!(
            "SELECT COUNT(*) FROM `{db}`.flow_token WHERE status = 'completed' \
             AND (completed_at IS NULL OR current_node_id IS NOT NULL)"
        ),
    )
    .await;
    assert_eq!(
        bad_completed, 0,
        "{db}: completed tokens need completed_at and no node"
    );
    let lost_live = int(
        pool,
        &format!(
            "SELECT COUNT(*) FROM `{db}`.flow_token t LEFT JOIN `{db}`.routing_node n \
             ON n.id_node = t.current_node_id \
             WHERE t.status IN ('ready','active','waiting','paused') AND n.id_node IS NULL"
        ),
    )
    .await;
    assert_eq!(
        lost_live, 0,
        "{db}: live tokens must be at an existing node"
    );
    let backwards = int(
        pool,
        &format!(
            "SELECT COUNT(*) FROM `{db}`.token_assignment WHERE status = 'completed' \
             AND (started_at IS NULL OR completed_at IS NULL OR completed_at < started_at \
             OR assigned_at IS NULL OR started_at < assigned_at)"
        ),
    )
    .await;
    assert_eq!(
        backwards, 0,
        "{db}: completed assignments need ordered times"
    );
    let no_assigned_at = int(
        pool,
        &format!("SELECT COUNT(*) FROM `{db}`.token_assignment WHERE assigned_at IS NULL"),
    )
    .await;
    assert_eq!(no_assigned_at, 0, "{db}: assignments without assigned_at");
}

/// Row counts agree with what the simulator says it wrote (fresh tenant, no deletes outside it).
async fn assert_counts_match(pool: &MySqlPool, db: &str, stats: &SimStats) {
    for table in ["flow_token", "token_assignment", "job_graph_instance"] {
        let t = stats.table(table);
        let n = int(pool, &format!("SELECT COUNT(*) FROM `{db}`.{table}")).await;
        assert_eq!(n as u64, t.inserted - t.deleted, "{db}.{table} vs {t:?}");
    }
}

async fn five_hundred_transactions_are_realistic_and_consistent(flavor: Flavor) {
    let pool = common::shared(flavor).pool().await;
    let db = new_tenant(&pool, "sim", 7).await;
    let o = opts(vec![db.clone()], 42, 500, false);
    let stats = simulate::run(&pool, &o).await.expect("run");
    eprintln!("500 tx: {stats:?}\n{:.0} tx/s", stats.tx_per_sec());
    assert_eq!(stats.transactions, 500);
    assert_eq!(stats.failed_transactions, 0);
    assert_eq!(stats.bad_rows, 0);
    assert_eq!(stats.by_tenant.get(&db), Some(&500));

    let tokens = by_status(&pool, &db, "flow_token").await;
    let asgs = by_status(&pool, &db, "token_assignment").await;
    eprintln!("tokens {tokens:?}\nassignments {asgs:?}");
    let statuses = |v: &[(String, i64)]| v.iter().map(|(s, _)| s.clone()).collect::<Vec<_>>();
    let ts = statuses(&tokens);
    assert!(ts.len() >= 4, "token statuses: {tokens:?}");
    for s in ["ready", "active", "completed"] {
        assert!(ts.iter().any(|x| x == s), "no {s} token: {tokens:?}");
    }
    let asg_statuses = statuses(&asgs);
    assert!(asg_statuses.len() >= 4, "assignment statuses: {asgs:?}");
    for s in ["assigned", "started", "completed"] {
        assert!(
            asg_statuses.iter().any(|x| x == s),
            "no {s} assignment: {asgs:?}"
        );
    }
    // Tokens of all three types, instances with and without their own production type.
    let types = int(
        &pool,
        &format!("SELECT COUNT(DISTINCT token_type) FROM `{db}`.flow_token"),
    )
    .await;
    assert_eq!(types, 3);
    let null_pt = int(
        &pool,
        &format!("SELECT COUNT(*) FROM `{db}`.job_graph_instance WHERE production_type IS NULL"),
    )
    .await;
    let instances = int(
        &pool,
        &format!("SELECT COUNT(*) FROM `{db}`.job_graph_instance"),
    )
    .await;
    assert!(
        null_pt > 0 && null_pt < instances,
        "{null_pt} of {instances}"
    );
    // Some work went to operators without a team.
    let teamless = int(
        &pool,
        &format!(
            "SELECT COUNT(*) FROM `{db}`.token_assignment a WHERE NOT EXISTS \
             (SELECT 1 FROM `{db}`.team_member m WHERE m.id_member = a.assigned_to_user_id)"
        ),
    )
    .await;
    assert!(teamless > 0, "no assignment of a teamless operator");

    assert_consistent(&pool, &db).await;
    assert_counts_match(&pool, &db, &stats).await;

    // Every DATETIME written is the local (Bangkok) time of a simulated instant.
    let tz = chrono_tz::Asia::Bangkok;
    let lo = simulate::local_naive(START, tz).expect("start");
    let hi = simulate::local_naive(stats.last_epoch, tz).expect("end");
    assert_eq!(stats.last_epoch, START + 7 * 499);
    let mut seen = 0;
    for (table, cols) in DATETIMES {
        for col in cols {
            let sql = format!(
                "SELECT MIN({col}), MAX({col}), CAST(COUNT({col}) AS SIGNED) FROM `{db}`.{table}"
            );
            let row = sqlx::query(&sql).fetch_one(&pool).await.expect(&sql);
            let (min, max): (Option<NaiveDateTime>, Option<NaiveDateTime>) =
                (row.get(0), row.get(1));
            seen += row.get::<i64, _>(2);
            if let (Some(min), Some(max)) = (min, max) {
                assert!(
                    min >= lo && max <= hi,
                    "{table}.{col} in [{min}, {max}], not in [{lo}, {hi}]"
                );
            }
        }
    }
    assert!(seen > 500, "only {seen} DATETIME values");
    // The first spawn happened at the very first instant.
    let first = sqlx::query(&format!("SELECT MIN(spawned_at) FROM `{db}`.flow_token"))
        .fetch_one(&pool)
        .await
        .expect("min spawned_at")
        .get::<Option<NaiveDateTime>, _>(0);
    assert_eq!(first, Some(lo));
}

async fn same_seed_same_rows(flavor: Flavor) {
    let pool = common::shared(flavor).pool().await;
    let mut sums = Vec::new();
    let mut all_stats = Vec::new();
    for _ in 0..2 {
        let db = new_tenant(&pool, "det", 3).await;
        let mut stats = simulate::run(&pool, &opts(vec![db.clone()], 99, 300, true))
            .await
            .expect("run");
        stats.elapsed = Default::default();
        stats.by_tenant.clear();
        all_stats.push(stats);
        let mut sum = Vec::new();
        for table in [
            "flow_token",
            "token_assignment",
            "job_graph_instance",
            "team",
            "team_member",
            "routing_node",
        ] {
            let n = int(&pool, &format!("SELECT COUNT(*) FROM `{db}`.{table}")).await;
            let row = sqlx::query(&format!("CHECKSUM TABLE `{db}`.{table}"))
                .fetch_one(&pool)
                .await
                .expect("checksum");
            let checksum: Option<i64> = row.try_get(1).ok().flatten().or_else(|| {
                row.try_get::<Option<u64>, _>(1)
                    .ok()
                    .flatten()
                    .map(|v| v as i64)
            });
            sum.push((table, n, checksum));
        }
        sum.push((
            "token statuses",
            by_status(&pool, &db, "flow_token").await.len() as i64,
            None,
        ));
        sums.push(sum);
    }
    assert_eq!(all_stats[0], all_stats[1]);
    assert_eq!(sums[0], sums[1]);
    assert!(sums[0]
        .iter()
        .all(|(t, _, c)| *t == "token statuses" || c.is_some()));
}

async fn two_tenants_bad_rows_and_a_second_run(flavor: Flavor) {
    let pool = common::shared(flavor).pool().await;
    let a = new_tenant(&pool, "multi", 11).await;
    let b = new_tenant(&pool, "multi", 12).await;
    let o = opts(vec![a.clone(), b.clone()], 5, 2_000, true);
    let t0 = Instant::now();
    let stats = simulate::run(&pool, &o).await.expect("run");
    let secs = t0.elapsed().as_secs_f64();
    eprintln!(
        "2,000 tx over 2 tenants with bad rows: {:.0} tx/s, {} rows written ({:.0} rows/s)\n{stats:?}",
        2_000.0 / secs,
        stats.rows_written(),
        stats.rows_written() as f64 / secs
    );
    assert_eq!(stats.transactions, 2_000);
    assert_eq!(stats.failed_transactions, 0);
    assert!(
        stats.cross_tenant_transactions > 0,
        "no cross-tenant transaction"
    );
    assert!(stats.bad_rows >= 5, "{} bad rows", stats.bad_rows);
    assert!(stats.by_tenant[&a] > 500 && stats.by_tenant[&b] > 500);
    assert!(stats.table("team_member").updated > 0);
    assert!(stats.table("token_assignment").deleted > 0);

    // The four kinds of bad rows, over both tenants.
    let mut empty_status = 0;
    let mut missing_node = 0;
    let mut backwards = 0;
    let mut null_assigned = 0;
    for db in [&a, &b] {
        empty_status += int(
            &pool,
            &format!("SELECT COUNT(*) FROM `{db}`.flow_token WHERE status = ''"),
        )
        .await;
        missing_node += int(
            &pool,
            &format!(
                "SELECT COUNT(*) FROM `{db}`.flow_token WHERE current_node_id = {}",
                simulate::MISSING_NODE_ID
            ),
        )
        .await;
        backwards += int(
            &pool,
            &format!(
                "SELECT COUNT(*) FROM `{db}`.token_assignment WHERE completed_at < started_at"
            ),
        )
        .await;
        null_assigned += int(
            &pool,
            &format!(
                "SELECT COUNT(*) FROM `{db}`.token_assignment WHERE assigned_at IS NULL \
                 AND status IN ('assigned','accepted','started','paused','completed')"
            ),
        )
        .await;
    }
    eprintln!(
        "bad rows: '' status {empty_status}, missing node {missing_node}, backwards {backwards}, \
         NULL assigned_at {null_assigned}"
    );
    assert!(empty_status > 0 && missing_node > 0 && backwards > 0 && null_assigned > 0);

    // A second run continues on the same databases (its mirror is re-read from them).
    let mut o2 = opts(vec![a.clone(), b.clone()], 6, 300, false);
    o2.event_time = Some(EventTime {
        start_epoch: stats.last_epoch + 7,
        step_secs: 7,
    });
    let before = int(
        &pool,
        &format!("SELECT COUNT(*) FROM `{a}`.token_assignment"),
    )
    .await;
    let stats2 = simulate::run(&pool, &o2).await.expect("second run");
    assert_eq!(stats2.transactions, 300);
    assert_eq!(stats2.failed_transactions, 0);
    let after = int(
        &pool,
        &format!("SELECT COUNT(*) FROM `{a}`.token_assignment"),
    )
    .await;
    assert!(after > before);
}

async fn setup_and_seed_with_event_time(flavor: Flavor) {
    let server = common::shared(flavor);
    let pool = server.pool().await;
    let code = common::unique_code("SETUP");
    simulate::setup_tenant_at(&pool, "flowtally_core_sim", PREFIX, &code, Some(START))
        .await
        .expect("setup_tenant_at");
    let db = simulate::tenant_db(PREFIX, &code);
    // The mv_ tables are flowtally's (`flowtally migrate`), not the simulator's.
    common::migrate(server, &db).await;
    assert_eq!(db, format!("bgerp_t_{}", code.to_lowercase()));
    let status: String = sqlx::query(
        "SELECT CAST(status AS CHAR) FROM flowtally_core_sim.organization WHERE code = ?",
    )
    .bind(&code)
    .fetch_one(&pool)
    .await
    .expect("organization row")
    .get(0);
    assert_eq!(status, "active");
    let mv = int(
        &pool,
        &format!(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '{db}' \
             AND table_name LIKE 'mv\\_%'"
        ),
    )
    .await;
    assert_eq!(mv, 5);
    simulate::seed_dimensions_at(&pool, &db, 1, Some(START))
        .await
        .expect("seed");
    // Seeding again is a no-op.
    simulate::seed_dimensions(&pool, &db, 2)
        .await
        .expect("reseed");
    let q = |t: &str| format!("SELECT COUNT(*) FROM `{db}`.{t}");
    assert_eq!(int(&pool, &q("routing_graph")).await, 2);
    assert_eq!(int(&pool, &q("routing_node")).await, 8);
    assert_eq!(int(&pool, &q("team")).await, 5);
    assert_eq!(
        int(
            &pool,
            &format!("SELECT COUNT(DISTINCT id_member) FROM `{db}`.team_member")
        )
        .await,
        13
    );
    assert_eq!(
        int(
            &pool,
            &format!("{} WHERE production_type IS NULL", q("routing_graph"))
        )
        .await,
        1
    );
    assert_eq!(
        int(
            &pool,
            &format!("{} WHERE team_category IS NULL", q("routing_node"))
        )
        .await,
        1
    );
    assert_eq!(
        int(&pool, &format!("{} WHERE active = 0", q("team"))).await,
        1
    );
    let two_teams = int(
        &pool,
        &format!(
            "SELECT COUNT(*) FROM (SELECT id_member FROM `{db}`.team_member GROUP BY id_member \
             HAVING COUNT(*) = 2) x"
        ),
    )
    .await;
    assert!(two_teams >= 3, "{two_teams} operators in two teams");
    let tm = |w: &str| format!("SELECT COUNT(*) FROM `{db}`.team_member WHERE {w}");
    assert!(int(&pool, &tm("active = 0 OR active IS NULL")).await >= 2);
    assert!(int(&pool, &tm("capacity_per_day IS NULL")).await >= 1);
    assert!(int(&pool, &tm("capacity_per_day = 0")).await >= 1);
    assert!(int(&pool, &tm("capacity_per_day > 0")).await >= 5);
    // `SET timestamp` dated the seed: DEFAULT CURRENT_TIMESTAMP took the simulated instant
    // (sqlx sessions run in UTC).
    assert_eq!(
        int(
            &pool,
            &format!("SELECT CAST(MAX(UNIX_TIMESTAMP(created_at)) AS SIGNED) FROM `{db}`.team")
        )
        .await,
        START
    );
}

async fn bulk_history_is_about_five_percent_live(flavor: Flavor) {
    let pool = common::shared(flavor).pool().await;
    let db = new_tenant(&pool, "bulk", 4).await;
    let now = START + 90 * 86_400;
    let t0 = Instant::now();
    simulate::bulk_history(&pool, &db, 20_000, 30, 8, chrono_tz::Asia::Bangkok, now)
        .await
        .expect("bulk_history");
    let secs = t0.elapsed().as_secs_f64();
    let tokens = int(&pool, &format!("SELECT COUNT(*) FROM `{db}`.flow_token")).await;
    let asgs = int(
        &pool,
        &format!("SELECT COUNT(*) FROM `{db}`.token_assignment"),
    )
    .await;
    let instances = int(
        &pool,
        &format!("SELECT COUNT(*) FROM `{db}`.job_graph_instance"),
    )
    .await;
    eprintln!(
        "bulk_history 20k tokens: {} rows in {secs:.2}s = {:.0} rows/s",
        tokens + asgs + instances,
        (tokens + asgs + instances) as f64 / secs
    );
    assert_eq!(tokens, 20_000);
    let live = int(
        &pool,
        &format!(
            "SELECT COUNT(*) FROM `{db}`.flow_token WHERE status IN ('ready','active','waiting','paused')"
        ),
    )
    .await;
    let pct = 100.0 * live as f64 / tokens as f64;
    assert!((4.0..=6.0).contains(&pct), "{pct:.2}% live");
    let completed = int(
        &pool,
        &format!("SELECT COUNT(*) FROM `{db}`.flow_token WHERE status = 'completed'"),
    )
    .await;
    assert_eq!(completed + live, tokens);
    assert!(asgs >= tokens && asgs <= 3 * tokens, "{asgs} assignments");
    assert_consistent(&pool, &db).await;
    // Completions spread over the 30 days before now (local time).
    let tz = chrono_tz::Asia::Bangkok;
    let lo = simulate::local_naive(now - 30 * 86_400, tz).expect("lo");
    let hi = simulate::local_naive(now, tz).expect("hi");
    let row = sqlx::query(&format!(
        "SELECT MIN(completed_at), MAX(completed_at), CAST(COUNT(DISTINCT DATE(completed_at)) AS SIGNED) \
         FROM `{db}`.flow_token"
    ))
    .fetch_one(&pool)
    .await
    .expect("range");
    let (min, max): (Option<NaiveDateTime>, Option<NaiveDateTime>) = (row.get(0), row.get(1));
    assert!(
        min.is_some_and(|m| m >= lo) && max.is_some_and(|m| m <= hi),
        "{min:?}..{max:?}"
    );
    assert!(row.get::<i64, _>(2) >= 30);
    let max_spawn = sqlx::query(&format!("SELECT MAX(spawned_at) FROM `{db}`.flow_token"))
        .fetch_one(&pool)
        .await
        .expect("spawn")
        .get::<Option<NaiveDateTime>, _>(0);
    assert!(max_spawn.is_some_and(|m| m <= hi));

    // The simulator continues on bulk history.
    let mut o = opts(vec![db.clone()], 1, 200, false);
    o.event_time = Some(EventTime {
        start_epoch: now + 1,
        step_secs: 5,
    });
    let stats = simulate::run(&pool, &o).await.expect("run after bulk");
    assert_eq!(stats.failed_transactions, 0);
    assert_consistent(&pool, &db).await;
}

/// Throughput numbers for the record, on each selected flavour: `cargo test --release --test it
/// simulate::throughput -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn throughput() {
    for flavor in Flavor::selected() {
        eprintln!("{flavor}:");
        throughput_on(flavor).await;
    }
}

async fn throughput_on(flavor: Flavor) {
    let pool = common::shared(flavor).pool().await;
    let a = new_tenant(&pool, "perf", 1).await;
    let b = new_tenant(&pool, "perf", 2).await;
    let mut o = opts(vec![a.clone(), b.clone()], 1, 10_000, true);
    o.event_time = None;
    let stats = simulate::run(&pool, &o).await.expect("run");
    eprintln!(
        "run: {} tx in {:.2}s = {:.0} tx/s ({} rows)",
        stats.transactions,
        stats.elapsed.as_secs_f64(),
        stats.tx_per_sec(),
        stats.rows_written()
    );
    for db in [&a, &b] {
        eprintln!(
            "{db}: tokens {:?}\n  assignments {:?}",
            by_status(&pool, db, "flow_token").await,
            by_status(&pool, db, "token_assignment").await
        );
    }
    let db = new_tenant(&pool, "perfbulk", 1).await;
    let t0 = Instant::now();
    simulate::bulk_history(
        &pool,
        &db,
        1_000_000,
        30,
        1,
        chrono_tz::Asia::Bangkok,
        START,
    )
    .await
    .expect("bulk");
    let secs = t0.elapsed().as_secs_f64();
    let rows = int(
        &pool,
        &format!(
            "SELECT (SELECT COUNT(*) FROM `{db}`.flow_token) + (SELECT COUNT(*) FROM \
             `{db}`.token_assignment) + (SELECT COUNT(*) FROM `{db}`.job_graph_instance)"
        ),
    )
    .await;
    eprintln!(
        "bulk_history 1M tokens: {rows} rows in {secs:.1}s = {:.0} rows/s",
        rows as f64 / secs
    );
}

/// `SET timestamp` dates the binlog events: every commit (XID event) of a run with event time
/// carries its simulated instant.
async fn binlog_events_carry_the_simulated_time(flavor: Flavor) {
    // Private: events dated 2030 on the shared server would move the clock of every flowtally
    // following it by four years.
    let server = common::start_server(flavor, &[]);
    let pool = server.pool().await;
    let db = new_tenant(&pool, "binlog", 9).await;
    // 2030-01-01 00:00:00 UTC: no other test uses that year.
    let start = 1_893_456_000;
    let mut o = opts(vec![db], 3, 50, false);
    o.event_time = Some(EventTime {
        start_epoch: start,
        step_secs: 60,
    });
    let stats = simulate::run(&pool, &o).await.expect("run");
    assert_eq!(stats.last_epoch, start + 49 * 60);
    let mut files: Vec<_> = std::fs::read_dir(&server.datadir)
        .expect("datadir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                // MariaDB 11.4+ keeps a GTID index (bin.000001.idx) beside each binlog file.
                .and_then(|n| n.strip_prefix("bin."))
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .collect();
    files.sort();
    // The server's own binlog reader (the unpacked ones take --no-defaults first: /etc/mysql
    // is MariaDB 10.11's here).
    let unpacked = |bin: Result<std::path::PathBuf, String>| {
        let mut cmd = std::process::Command::new(bin.unwrap_or_else(|e| panic!("{e}")));
        cmd.arg("--no-defaults");
        cmd
    };
    let mut cmd = match flavor {
        Flavor::MariaDb => std::process::Command::new("mariadb-binlog"),
        Flavor::MySql => unpacked(flowtally_testkit::server::mysql_bin("mysqlbinlog")),
        Flavor::MariaDb118 => unpacked(flowtally_testkit::server::mariadb118_bin("mariadb-binlog")),
    };
    let out = cmd
        .env("TZ", "UTC")
        .args(&files)
        .output()
        .expect("run the binlog reader");
    let text = String::from_utf8_lossy(&out.stdout);
    let xids: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("#300101") && l.contains("Xid = "))
        .collect();
    assert_eq!(xids.len(), 50, "XID events dated 2030-01-01");
    assert!(xids[0].starts_with("#300101  0:00:00"), "{}", xids[0]);
    assert!(xids[49].starts_with("#300101  0:49:00"), "{}", xids[49]);
}

/// `--bottleneck SEW`: the same traffic with SEW's work ten times slower piles tokens up there,
/// past the WIP limit the seed gives SEW, where the free-flowing factory keeps fewer.
async fn a_bottleneck_piles_tokens_up_past_its_wip_limit(flavor: Flavor) {
    let pool = common::shared(flavor).pool().await;
    let mut at_sew = Vec::new();
    for bottleneck in [None, Some("SEW".to_string())] {
        let db = new_tenant(&pool, "bn", 5).await;
        let limit = int(
            &pool,
            &format!("SELECT wip_limit FROM `{db}`.routing_node WHERE node_code = 'SEW'"),
        )
        .await;
        assert_eq!(
            limit,
            simulate::SEW_WIP_LIMIT,
            "the seed gives SEW its limit"
        );
        let opts = SimOptions {
            bottleneck,
            ..opts(vec![db.clone()], 31, 1_500, false)
        };
        simulate::run(&pool, &opts).await.expect("run");
        at_sew.push(
            int(
                &pool,
                &format!(
                    "SELECT COUNT(*) FROM `{db}`.flow_token t JOIN `{db}`.routing_node n \
                     ON n.id_node = t.current_node_id WHERE n.node_code = 'SEW' \
                     AND t.status IN ('ready','active','waiting','paused')"
                ),
            )
            .await,
        );
    }
    assert!(
        at_sew[1] > simulate::SEW_WIP_LIMIT && at_sew[1] > at_sew[0],
        "live tokens at SEW: {} free-flowing, {} with the bottleneck (limit {})",
        at_sew[0],
        at_sew[1],
        simulate::SEW_WIP_LIMIT
    );
    let unknown = SimOptions {
        bottleneck: Some("NOPE".into()),
        ..opts(vec![new_tenant(&pool, "bn", 5).await], 31, 10, false)
    };
    let e = simulate::run(&pool, &unknown)
        .await
        .expect_err("an unknown node");
    assert!(format!("{e:#}").contains("no node with that code"), "{e:#}");
}
