//! `flowtally run` end to end against a private server (MariaDB or MySQL): simulated factory
//! traffic with controlled event time, then `verify` must find no difference, and every minute
//! must have its snapshot.

use chrono::NaiveDateTime;
use flowtally_testkit::simulate::{self, EventTime, SimOptions};
use sqlx::Row;

use crate::common::process::{
    differences, local, mark, next_minute, snapshot_instants, wait_for_instant, Flowtally,
};
use crate::common::{self, Flavor};

on_all!(run_follows_simulated_traffic_and_verify_agrees);

const TZ: chrono_tz::Tz = chrono_tz::Asia::Bangkok;

async fn run_follows_simulated_traffic_and_verify_agrees(flavor: Flavor) {
    // Private: flowtally follows its server's whole binlog, and other tests' event time on the
    // shared server would add instants or pass them early.
    let server = common::start_server(flavor, &[]);
    let pool = server.pool().await;
    let codes = [common::unique_code("Sa"), common::unique_code("SB")];
    let dbs: Vec<String> = codes.iter().map(|c| common::tenant_db(c)).collect();
    let history = chrono::Utc::now().timestamp() - 3 * 86_400;
    for (i, code) in codes.iter().enumerate() {
        common::process::seeded_tenant(&pool, code, i as u64 + 7).await;
    }
    // History before the service starts: loaded by the full recompute.
    simulate::run(
        &pool,
        &SimOptions {
            seed: 11,
            tenants: dbs.clone(),
            transactions: Some(400),
            event_time: Some(EventTime {
                start_epoch: history,
                step_secs: 300,
            }),
            bad_rows: true,
            tz: TZ,
            ..SimOptions::default()
        },
    )
    .await
    .expect("history");

    let code_refs: Vec<&str> = codes.iter().map(String::as_str).collect();
    let mut ft = Flowtally::start(server.port, &code_refs);
    ft.wait_started();

    // Live traffic, dated from the next minute on, one transaction per simulated second.
    let start = next_minute(chrono::Utc::now().timestamp()) + 60;
    let stats = simulate::run(
        &pool,
        &SimOptions {
            seed: 12,
            tenants: dbs.clone(),
            transactions: Some(1_500),
            event_time: Some(EventTime {
                start_epoch: start,
                step_secs: 1,
            }),
            bad_rows: true,
            tz: TZ,
            ..SimOptions::default()
        },
    )
    .await
    .expect("traffic");
    // End on a 15-minute boundary, so every table has a snapshot at the final instant.
    let last = (stats.last_epoch / 900 + 1) * 900;
    mark(&pool, last + 1).await;
    for db in &dbs {
        wait_for_instant(&pool, db, local(last), &ft).await;
    }
    for db in &dbs {
        let diffs = differences(&pool, db).await;
        assert!(diffs.is_empty(), "{db}: {diffs:#?}");
        // Every minute from the first live instant to the last has its snapshot, once.
        let instants = snapshot_instants(&pool, db).await;
        let expected: Vec<NaiveDateTime> =
            (start / 60..=last / 60).map(|m| local(m * 60)).collect();
        let live: Vec<NaiveDateTime> = instants
            .into_iter()
            .filter(|t| *t >= local(start))
            .collect();
        assert_eq!(live, expected, "{db}: one snapshot per minute");
        let dup: i64 = sqlx::query(&format!(
            "SELECT COUNT(*) FROM (SELECT snapshot_at, graph_id, node_id, team_id, COUNT(*) c \
             FROM `{db}`.mv_token_flow_summary GROUP BY 1, 2, 3, 4 HAVING c > 1) d"
        ))
        .fetch_one(&pool)
        .await
        .expect("dups")
        .get(0);
        assert_eq!(dup, 0, "{db}: duplicate summary rows");
    }
    let (status, log) = ft.stop();
    assert!(status.success(), "exit {status}:\n{log}");
}
