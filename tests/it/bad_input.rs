//! Bad input: garbage in one tenant's source tables (rows outside the SPEC's rules, odd bytes,
//! schema changes, huge rows, a dropped table or database) never crashes `flowtally run`, never
//! touches another tenant's snapshots, and is counted in `/metrics` and said in the log.
//!
//! Each test runs its own server (MariaDB or MySQL) and two tenants: `bad`, fed the garbage, and
//! `good`, whose snapshots must keep being written and stay right (`verify` finds no
//! difference).

use std::time::{Duration, Instant};

use flowtally_testkit::simulate::{self, EventTime, SimOptions};
use sqlx::{MySqlPool, Row};

use crate::common::process::{
    differences, http_get, local, mark, next_minute, snapshot_instants, wait_for_instant, Flowtally,
};
use crate::common::{self, Flavor, Server};

on_all!(
    a_status_outside_the_enum_is_left_out_and_new_enum_labels_are_read,
    null_ids_are_left_out,
    completed_before_started_is_left_out_of_cycle_time,
    a_node_missing_from_routing_node_is_left_out_of_node_metrics,
    a_name_that_is_not_utf8_is_written_lossily,
    an_added_column_is_harmless_a_dropped_needed_one_degrades_the_tenant_until_restored,
    a_dropped_source_table_degrades_only_its_tenant,
    a_row_event_over_16_mb_is_applied,
    a_dropped_tenant_database_is_no_longer_served,
);

const TZ: chrono_tz::Tz = chrono_tz::Asia::Bangkok;

/// A running service over two tenants on a private server.
struct Scenario {
    server: Server,
    pool: MySqlPool,
    ft: Flowtally,
    port: u16,
    bad: String,
    bad_db: String,
    good: String,
    good_db: String,
    /// Event time of the next simulated transaction.
    next: i64,
    seed: u64,
}

async fn tenant(pool: &MySqlPool, prefix: &str, seed: u64) -> (String, String) {
    let code = common::unique_code(prefix);
    let db = common::tenant_db(&code);
    common::process::seeded_tenant(pool, &code, seed).await;
    // A day of history before the service starts: loaded by the full recompute.
    simulate::run(
        pool,
        &SimOptions {
            seed,
            tenants: vec![db.clone()],
            transactions: Some(200),
            event_time: Some(EventTime {
                start_epoch: chrono::Utc::now().timestamp() - 86_400,
                step_secs: 300,
            }),
            tz: TZ,
            ..SimOptions::default()
        },
    )
    .await
    .expect("history");
    (code, db)
}

impl Scenario {
    async fn start(flavor: Flavor, prefix: &str) -> Scenario {
        let server = common::start_server(flavor, &[]);
        let pool = server.pool().await;
        let (bad, bad_db) = tenant(&pool, &format!("{prefix}Bad"), 1).await;
        let (good, good_db) = tenant(&pool, &format!("{prefix}Ok"), 2).await;
        let mut ft = Flowtally::start(server.port, &[&bad, &good]);
        ft.wait_started();
        let port = ft.http_port();
        Scenario {
            server,
            pool,
            ft,
            port,
            bad,
            bad_db,
            good,
            good_db,
            next: next_minute(chrono::Utc::now().timestamp()) + 60,
            seed: 100,
        }
    }

    /// Runs a SQL script on the server (one connection, stops at the first error).
    async fn exec(&self, sql: &str) {
        self.server.exec(sql).await;
    }

    /// `n` simulated transactions over `dbs`, one per second of event time from `self.next`.
    async fn traffic(&mut self, dbs: &[&str], n: u64) {
        self.seed += 1;
        let stats = simulate::run(
            &self.pool,
            &SimOptions {
                seed: self.seed,
                tenants: dbs.iter().map(|d| d.to_string()).collect(),
                transactions: Some(n),
                event_time: Some(EventTime {
                    start_epoch: self.next,
                    step_secs: 1,
                }),
                tz: TZ,
                ..SimOptions::default()
            },
        )
        .await
        .expect("traffic");
        self.next = stats.last_epoch + 1;
    }

    /// Ends event time on the next 15-minute boundary (every table has a snapshot there) and
    /// waits for that snapshot in `dbs`; returns the instant.
    async fn settle(&mut self, dbs: &[&str]) -> i64 {
        let last = (self.next / 900 + 1) * 900;
        mark(&self.pool, last + 1).await;
        for db in dbs {
            wait_for_instant(&self.pool, db, local(last), &self.ft).await;
        }
        self.next = last + 2;
        last
    }

    /// Healthy traffic for the good tenant, then: its snapshot at the final instant is there
    /// and right, and the service still runs.
    async fn good_stays_right(&mut self) -> i64 {
        let good = self.good_db.clone();
        self.traffic(&[&good], 120).await;
        let last = self.settle(&[&good]).await;
        self.assert_right(&good).await;
        self.assert_running();
        last
    }

    async fn assert_right(&self, db: &str) {
        let diffs = differences(&self.pool, db).await;
        assert!(diffs.is_empty(), "{db}: {diffs:#?}\n{}", self.ft.log());
    }

    fn assert_running(&mut self) {
        assert!(
            self.ft.exited().is_none(),
            "flowtally died:\n{}",
            self.ft.log()
        );
    }

    async fn get(&self, path: &str) -> common::process::Response {
        let (port, path) = (self.port, path.to_string());
        tokio::task::spawn_blocking(move || http_get(port, &path))
            .await
            .expect("http")
    }

    /// `flowtally_tenant_bad_rows{tenant=code,reason=reason}` (a tenant with bad rows is one
    /// in trouble, whose series are exposed), if exposed.
    async fn bad_rows(&self, code: &str, reason: &str) -> Option<f64> {
        let text = self.get("/metrics").await.body;
        let series = format!("flowtally_tenant_bad_rows{{tenant=\"{code}\",reason=\"{reason}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&series))
            .map(|v| v.trim().parse().expect("metric value"))
    }

    /// Waits (up to 60 s) until the metric is positive; returns it.
    async fn wait_bad_rows(&self, code: &str, reason: &str) -> f64 {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(n) = self.bad_rows(code, reason).await.filter(|n| *n > 0.0) {
                return n;
            }
            assert!(
                Instant::now() < deadline,
                "flowtally_tenant_bad_rows{{tenant=\"{code}\",reason=\"{reason}\"}} not > 0:\n{}\n{}",
                self.get("/metrics").await.body,
                self.ft.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The tenant's entry in `/api/v1/tenants`.
    async fn tenant_info(&self, code: &str) -> Option<serde_json::Value> {
        let list = self.get("/api/v1/tenants").await.json();
        list.as_array()
            .expect("tenant list")
            .iter()
            .find(|t| t["code"] == code)
            .cloned()
    }

    /// Waits (up to 90 s) until the tenant's `problem` contains every one of `needles`.
    async fn wait_problem(&self, code: &str, needles: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let info = self.tenant_info(code).await;
            if let Some(p) = info.as_ref().and_then(|t| t["problem"].as_str()) {
                if needles.iter().all(|n| p.contains(n)) {
                    return p.to_string();
                }
            }
            assert!(
                Instant::now() < deadline,
                "{code}: no problem with {needles:?}: {info:?}\n{}",
                self.ft.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits (up to 90 s) until the tenant is served, loaded and without problem.
    async fn wait_served(&self, code: &str) {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let info = self.tenant_info(code).await;
            if info.as_ref().is_some_and(|t| {
                t["problem"].is_null() && t["database"].is_string() && t["loading"] == false
            }) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{code} not served again: {info:?}\n{}",
                self.ft.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Waits until the log has a line with every one of `needles`; returns the line.
    async fn wait_log_line(&self, needles: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(line) = self
                .ft
                .log()
                .lines()
                .find(|l| needles.iter().all(|n| l.contains(n)))
            {
                return line.to_string();
            }
            assert!(
                Instant::now() < deadline,
                "no log line with {needles:?}:\n{}",
                self.ft.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn log_lines_with(&self, needles: &[&str]) -> usize {
        self.ft
            .log()
            .lines()
            .filter(|l| needles.iter().all(|n| l.contains(n)))
            .count()
    }

    async fn scalar(&self, sql: &str) -> i64 {
        sqlx::query(sql)
            .fetch_one(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .get::<Option<i64>, _>(0)
            .unwrap_or_else(|| panic!("{sql}: NULL"))
    }

    async fn affected(&self, sql: &str) -> u64 {
        sqlx::query(sql)
            .execute(&self.pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .rows_affected()
    }

    /// The row-class ending: the metric counts the garbage, one rate-limited log line says it
    /// (not one per row), the bad tenant is still served and right, the good one too.
    async fn rows_left_out(&mut self, reason: &str, rows: u64) {
        assert!(rows > 1, "the scenario wrote {rows} bad rows");
        let n = self.wait_bad_rows(&self.bad.clone(), reason).await;
        assert!(n >= 1.0, "{reason}: {n}");
        // A tenant without bad rows is not in trouble: it has no series of its own (or 0).
        let good_n = self.bad_rows(&self.good.clone(), reason).await;
        assert!(
            good_n.is_none_or(|n| n == 0.0),
            "the good tenant has no {reason} rows: {good_n:?}"
        );
        let bad = self.bad.clone();
        self.wait_log_line(&["left out of the metrics", &bad, reason])
            .await;
        let (bad_db, good_db) = (self.bad_db.clone(), self.good_db.clone());
        self.traffic(&[&good_db], 120).await;
        self.settle(&[&good_db, &bad_db]).await;
        self.assert_right(&good_db).await;
        self.assert_right(&bad_db).await;
        self.assert_running();
        let lines = self.log_lines_with(&["left out of the metrics", &bad, reason]);
        assert!(
            lines < rows as usize || rows <= 2,
            "{lines} log lines for {rows} bad rows: not rate-limited\n{}",
            self.ft.log()
        );
        assert!(self.tenant_info(&bad).await.unwrap()["problem"].is_null());
    }

    async fn stop(mut self) {
        let (status, log) = self.ft.stop();
        assert!(status.success(), "exit {status}:\n{log}");
    }
}

/// A live token and a node with live tokens in `db`.
async fn live_token_and_node(s: &Scenario, db: &str) -> (i64, i64) {
    let node = s
        .scalar(&format!(
            "SELECT current_node_id FROM `{db}`.flow_token \
             WHERE status IN ('ready','waiting','active','paused') AND current_node_id IS NOT NULL \
             GROUP BY current_node_id ORDER BY COUNT(*) DESC, current_node_id LIMIT 1"
        ))
        .await;
    let token = s
        .scalar(&format!(
            "SELECT MIN(id_token) FROM `{db}`.flow_token WHERE current_node_id = {node} \
             AND status IN ('ready','waiting','active','paused')"
        ))
        .await;
    (token, node)
}

/// The factory's local time now, as a DATETIME literal.
fn local_now(offset_secs: i64) -> String {
    local(chrono::Utc::now().timestamp() + offset_secs)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

async fn a_status_outside_the_enum_is_left_out_and_new_enum_labels_are_read(flavor: Flavor) {
    let mut s = Scenario::start(flavor, "Enum").await;
    let db = s.bad_db.clone();
    s.exec(&format!(
        "ALTER TABLE `{db}`.flow_token MODIFY status \
         ENUM('ready','active','waiting','paused','completed','scrapped','on_hold') \
         NOT NULL DEFAULT 'ready'"
    ))
    .await;
    let rows = s
        .affected(&format!(
            "UPDATE `{db}`.flow_token SET status = 'on_hold' \
             WHERE status IN ('ready','waiting','active','paused') ORDER BY id_token LIMIT 6"
        ))
        .await;
    // Labels reordered: every token row decoded with the old labels would get another status.
    s.exec(&format!(
        "ALTER TABLE `{db}`.flow_token MODIFY status \
         ENUM('on_hold','scrapped','completed','paused','waiting','active','ready') \
         NOT NULL DEFAULT 'ready';
         UPDATE `{db}`.flow_token SET qty = qty + 1;"
    ))
    .await;
    let held = s
        .scalar(&format!(
            "SELECT COUNT(*) FROM `{db}`.flow_token WHERE status = 'on_hold'"
        ))
        .await;
    assert_eq!(held as u64, rows);
    s.rows_left_out("invalid_status", rows).await;
    let n = s.bad_rows(&s.bad.clone(), "invalid_status").await;
    assert_eq!(n, Some(rows as f64), "every on_hold token, no other");
    s.good_stays_right().await;
    s.stop().await;
}

async fn null_ids_are_left_out(flavor: Flavor) {
    let mut s = Scenario::start(flavor, "Null").await;
    let db = s.bad_db.clone();
    s.exec(&format!(
        "ALTER TABLE `{db}`.token_assignment MODIFY id_token INT NULL, \
           MODIFY assigned_to_user_id INT NULL;
         ALTER TABLE `{db}`.flow_token MODIFY id_instance INT NULL;"
    ))
    .await;
    let mut rows = 0;
    for sql in [
        format!(
            "UPDATE `{db}`.token_assignment SET assigned_to_user_id = NULL \
             WHERE status IN ('assigned','accepted','started','paused') ORDER BY id_assignment LIMIT 3"
        ),
        format!(
            "UPDATE `{db}`.token_assignment SET id_token = NULL \
             WHERE status = 'completed' ORDER BY id_assignment DESC LIMIT 3"
        ),
        format!(
            "UPDATE `{db}`.flow_token SET id_instance = NULL \
             WHERE status IN ('ready','waiting','active','paused') ORDER BY id_token LIMIT 3"
        ),
    ] {
        let n = s.affected(&sql).await;
        assert!(n > 0, "{sql}");
        rows += n;
    }
    s.rows_left_out("null_id", rows).await;
    s.good_stays_right().await;
    s.stop().await;
}

async fn completed_before_started_is_left_out_of_cycle_time(flavor: Flavor) {
    let mut s = Scenario::start(flavor, "Back").await;
    let db = s.bad_db.clone();
    let (token, node) = live_token_and_node(&s, &db).await;
    let mut sql = format!("USE `{db}`;");
    for i in 0..5 {
        // Completed today, started an hour after.
        sql += &format!(
            "INSERT INTO token_assignment (id_token, id_node, assigned_to_user_id, status, \
               assigned_at, started_at, completed_at) \
             VALUES ({token}, {node}, 1001, 'completed', '{}', '{}', '{}');",
            local_now(-7200 - i * 60),
            local_now(-600 - i * 60),
            local_now(-4200 - i * 60),
        );
    }
    s.exec(&sql).await;
    s.rows_left_out("completed_before_started", 5).await;
    let n = s.bad_rows(&s.bad.clone(), "completed_before_started").await;
    assert_eq!(n, Some(5.0));
    s.good_stays_right().await;
    s.stop().await;
}

async fn a_node_missing_from_routing_node_is_left_out_of_node_metrics(flavor: Flavor) {
    let mut s = Scenario::start(flavor, "Node").await;
    let db = s.bad_db.clone();
    let (_, node) = live_token_and_node(&s, &db).await;
    let moved = s
        .affected(&format!(
            "UPDATE `{db}`.flow_token SET current_node_id = 999999 \
             WHERE status IN ('ready','waiting','active','paused') AND current_node_id <> {node} \
             ORDER BY id_token LIMIT 4"
        ))
        .await;
    // A node deleted under its live tokens.
    let at_node = s
        .scalar(&format!(
            "SELECT COUNT(*) FROM `{db}`.flow_token WHERE current_node_id = {node} \
             AND status IN ('ready','waiting','active','paused')"
        ))
        .await;
    s.exec(&format!(
        "DELETE FROM `{db}`.routing_node WHERE id_node = {node}"
    ))
    .await;
    s.rows_left_out("node_missing", moved + at_node as u64)
        .await;
    s.good_stays_right().await;
    s.stop().await;
}

async fn a_name_that_is_not_utf8_is_written_lossily(flavor: Flavor) {
    let mut s = Scenario::start(flavor, "Bytes").await;
    let db = s.bad_db.clone();
    let (_, node) = live_token_and_node(&s, &db).await;
    s.exec(&format!(
        "ALTER TABLE `{db}`.routing_node MODIFY node_name VARBINARY(200) NOT NULL;
         UPDATE `{db}`.routing_node SET node_name = X'4e6f6465fffe' WHERE id_node = {node};"
    ))
    .await;
    let (bad_db, good_db) = (s.bad_db.clone(), s.good_db.clone());
    s.traffic(&[&good_db], 60).await;
    let last = s.settle(&[&bad_db, &good_db]).await;
    let name: String = sqlx::query(&format!(
        "SELECT node_name FROM `{db}`.mv_node_bottlenecks WHERE snapshot_at = ? AND node_id = ?"
    ))
    .bind(local(last))
    .bind(node)
    .fetch_one(&s.pool)
    .await
    .expect("the node's bottleneck row")
    .get(0);
    assert_eq!(name, "Node\u{fffd}\u{fffd}");
    assert_eq!(
        s.log_lines_with(&["snapshot write failed"]),
        0,
        "{}",
        s.ft.log()
    );
    s.assert_right(&good_db).await;
    // verify reads names as bytes and decodes them the same way.
    let diffs = differences(&s.pool, &bad_db).await;
    assert!(diffs.is_empty(), "{diffs:#?}");
    s.assert_running();
    s.good_stays_right().await;
    s.stop().await;
}

async fn an_added_column_is_harmless_a_dropped_needed_one_degrades_the_tenant_until_restored(
    flavor: Flavor,
) {
    let mut s = Scenario::start(flavor, "Cols").await;
    let (bad_db, good_db) = (s.bad_db.clone(), s.good_db.clone());
    let bad = s.bad.clone();
    // Added between the columns read: decoding is by name.
    s.exec(&format!(
        "ALTER TABLE `{bad_db}`.flow_token ADD COLUMN note VARCHAR(100) NULL AFTER id_token, \
           ADD COLUMN weight DECIMAL(8,3) NULL AFTER status"
    ))
    .await;
    s.traffic(&[&bad_db, &good_db], 150).await;
    let before = s.settle(&[&bad_db, &good_db]).await;
    s.assert_right(&bad_db).await;
    s.assert_right(&good_db).await;
    assert!(s.tenant_info(&bad).await.unwrap()["problem"].is_null());

    // A needed column dropped, then a row of that table changes.
    s.exec(&format!(
        "ALTER TABLE `{bad_db}`.flow_token DROP COLUMN completed_at;
         UPDATE `{bad_db}`.flow_token SET qty = qty + 1 ORDER BY id_token LIMIT 1;"
    ))
    .await;
    let problem = s.wait_problem(&bad, &["flow_token", "completed_at"]).await;
    let info = s.tenant_info(&bad).await.unwrap();
    assert!(info["database"].is_null(), "not served: {info}");
    s.wait_log_line(&["tenant no longer served", &bad, "completed_at"])
        .await;
    // Its snapshots stop (rather than go on wrong); the good tenant's go on, right.
    let last = s.good_stays_right().await;
    let instants = snapshot_instants(&s.pool, &bad_db).await;
    assert!(
        instants.last() == Some(&local(before)),
        "{bad_db} written after it lost a column ({problem}): {instants:?}"
    );
    assert!(last > before);

    // The column comes back: the tenant is reloaded and right again.
    s.exec(&format!(
        "ALTER TABLE `{bad_db}`.flow_token ADD COLUMN completed_at DATETIME NULL AFTER spawned_at"
    ))
    .await;
    s.wait_served(&bad).await;
    s.traffic(&[&bad_db, &good_db], 150).await;
    s.settle(&[&bad_db, &good_db]).await;
    s.assert_right(&bad_db).await;
    s.assert_right(&good_db).await;
    s.assert_running();
    s.stop().await;
}

async fn a_dropped_source_table_degrades_only_its_tenant(flavor: Flavor) {
    let mut s = Scenario::start(flavor, "Table").await;
    let (bad_db, bad) = (s.bad_db.clone(), s.bad.clone());
    s.exec(&format!("DROP TABLE `{bad_db}`.team_member")).await;
    s.wait_problem(&bad, &["team_member", "missing"]).await;
    s.wait_log_line(&["tenant no longer served", &bad, "team_member"])
        .await;
    s.good_stays_right().await;
    s.stop().await;
}

async fn a_row_event_over_16_mb_is_applied(flavor: Flavor) {
    let mut s = Scenario::start(flavor, "Big").await;
    let db = s.bad_db.clone();
    let (token, node) = live_token_and_node(&s, &db).await;
    let instance = s
        .scalar(&format!(
            "SELECT id_instance FROM `{db}`.flow_token WHERE id_token = {token}"
        ))
        .await;
    let id = s
        .scalar(&format!(
            "SELECT MAX(id_token) + 1000 FROM `{db}`.flow_token"
        ))
        .await;
    s.exec(&format!(
        "INSERT INTO `{db}`.flow_token (id_token, id_instance, token_type, current_node_id, \
           status, metadata, spawned_at) \
         VALUES ({id}, {instance}, 'piece', {node}, 'waiting', \
           JSON_OBJECT('blob', REPEAT('x', 20000000)), '{}')",
        local_now(-60)
    ))
    .await;
    let (bad_db, good_db) = (s.bad_db.clone(), s.good_db.clone());
    s.traffic(&[&good_db], 60).await;
    let last = s.settle(&[&bad_db, &good_db]).await;
    // The big token is counted: verify agrees, which it would not if the row were lost.
    s.assert_right(&bad_db).await;
    s.assert_right(&good_db).await;
    let depth: i64 = sqlx::query(&format!(
        "SELECT queue_depth FROM `{db}`.mv_node_bottlenecks WHERE snapshot_at = ? AND node_id = ?"
    ))
    .bind(local(last))
    .bind(node)
    .fetch_one(&s.pool)
    .await
    .expect("bottleneck row")
    .get(0);
    assert!(depth >= 1);
    s.assert_running();
    s.good_stays_right().await;
    s.stop().await;
}

async fn a_dropped_tenant_database_is_no_longer_served(flavor: Flavor) {
    let mut s = Scenario::start(flavor, "Gone").await;
    let (bad_db, bad, good_db) = (s.bad_db.clone(), s.bad.clone(), s.good_db.clone());
    s.exec(&format!("DROP DATABASE `{bad_db}`")).await;
    // Snapshots due at once: the dropped tenant's write fails for good and must not hold up
    // the good tenant's.
    s.traffic(&[&good_db], 60).await;
    s.settle(&[&good_db]).await;
    s.assert_right(&good_db).await;
    let problem = s.wait_problem(&bad, &["no database"]).await;
    let info = s.tenant_info(&bad).await.unwrap();
    assert!(info["database"].is_null(), "{problem}: {info}");
    s.wait_log_line(&["tenant no longer served", &bad]).await;
    assert!(
        s.bad_rows(&bad, "null_id").await.is_none(),
        "a tenant not served has no bad-row series"
    );
    // Still written, and right, after the other tenant is gone.
    s.good_stays_right().await;
    s.stop().await;
}
