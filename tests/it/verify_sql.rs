//! `flowtally verify`'s SQL recomputation (src/verify.rs) against a hand-seeded tenant whose
//! dashboard rows at a fixed instant T were computed by hand from SPEC §2/§3, and `verify_tenant`
//! against mv_ rows written with known defects.
//!
//! T = 2025-03-10 12:00:00, so today = 2025-03-10, the cycle-time window is 03-04..03-10 and the
//! trends window is 02-09..03-10 (2025 is not a leap year).
//!
//! The seed (ids chosen by hand, see the comments in [`SEED`]):
//! - graphs 1 'classic', 2 'hatthasilpa'; instances 1 (graph 1, 'hybrid'), 2 (graph 2, NULL →
//!   falls back to the graph's 'hatthasilpa'); instance 99 is missing;
//! - nodes 10 CUT (graph 1, cutting), 11 SEW (graph 1, sewing), 20 QC (graph 2, category NULL);
//!   node 99 is missing;
//! - teams 1 Alpha general, 2 Cutters cutting, 3 Ghost sewing (active 0), 4 Sewers sewing (active
//!   NULL), 5 Idle (no active member, no token), 6 Finishers, 7 Cutters B cutting, 8 Solo qc;
//! - operator 100 is in teams 1, 2, 3 (inactive) and 7: at a cutting node both 2 and 7 match →
//!   2; at the sewing node only the inactive team 3 would match → lowest candidate 1; at the
//!   missing node and at node 20 (NULL category) → 1. Operator 101 → 1; 102 only in inactive
//!   teams → NULL; 105 → 6; 108 → 2; 110 → 8.

use chrono::{NaiveDate, NaiveDateTime};
use flowtally::model::views::View;
use flowtally::verify::{self, Record};

use crate::common::{self, Flavor};

on_all!(
    expected_matches_hand_computed_rows,
    trends_window_moves_with_t,
    verify_tenant_reports_exactly_the_introduced_differences,
);

fn t() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2025, 3, 10)
        .unwrap()
        .and_hms_opt(12, 0, 0)
        .unwrap()
}

const SEED: &str = "
SET SESSION sql_mode = '';
-- Production tables may hold NULL ids; the fixture DDL does not allow them, so relax it.
ALTER TABLE flow_token MODIFY id_instance INT NULL;
ALTER TABLE token_assignment MODIFY id_token INT NULL, MODIFY assigned_to_user_id INT NULL;

INSERT INTO routing_graph (id_graph, code, name, production_type) VALUES
  (1, 'G1', 'Graph one', 'classic'),
  (2, 'G2', 'Graph two', 'hatthasilpa');
INSERT INTO job_graph_instance (id_instance, id_job_ticket, id_graph, production_type) VALUES
  (1, 1, 1, 'hybrid'),
  (2, 2, 2, NULL);
INSERT INTO routing_node (id_node, id_graph, node_code, node_name, node_type, team_category) VALUES
  (10, 1, 'CUT', 'Cutting', 'operation', 'cutting'),
  (11, 1, 'SEW', 'Sewing', 'operation', 'sewing'),
  (20, 2, 'QC', 'Quality', 'qc', NULL);

INSERT INTO team (id_team, code, name, team_category, active) VALUES
  (1, 'A', 'Alpha', 'general', 1),
  (2, 'C', 'Cutters', 'cutting', 1),
  (3, 'G', 'Ghost', 'sewing', 0),
  (4, 'S', 'Sewers', 'sewing', NULL),
  (5, 'I', 'Idle', NULL, 1),
  (6, 'F', 'Finishers', 'finishing', 1),
  (7, 'C2', 'Cutters B', 'cutting', 1),
  (8, 'Q', 'Solo', 'qc', 1);
INSERT INTO team_member (id_team, id_member, capacity_per_day, active) VALUES
  (1, 100, 8, 1), (2, 100, 5, 1), (3, 100, 1, 1), (7, 100, 6, 1),
  (1, 101, NULL, 1),
  (3, 102, 7, 1), (4, 102, 7, 1),
  (2, 103, 0, 0), (1, 103, 4, NULL),
  (5, 104, 3, 0),
  (6, 105, NULL, 1), (6, 106, 0, 1), (6, 107, -5, 1),
  (2, 108, 2, 1),
  (8, 110, 1, 1);

INSERT INTO flow_token (id_token, id_instance, token_type, current_node_id, status, spawned_at, completed_at) VALUES
  (1, 1, 'piece', 10, 'ready', '2025-03-10 08:00:00', NULL),
  (2, 1, 'piece', 10, 'waiting', '2025-03-09 10:00:00', NULL),
  (3, 1, 'piece', 10, 'active', '2025-03-08 09:00:00', NULL),
  (4, 1, 'batch', 10, 'ready', '2025-03-10 09:00:00', NULL),
  (5, 1, 'piece', 10, 'waiting', '2025-03-10 09:30:00', NULL),
  (6, 2, 'piece', 20, 'paused', '2025-03-05 12:00:00', NULL),
  (7, 2, 'piece', 20, 'ready', '2025-03-10 07:00:00', NULL),
  -- at a node missing from routing_node: counts for its team only
  (8, 1, 'piece', 99, 'active', '2025-03-10 06:00:00', NULL),
  (9, 1, 'piece', 11, 'ready', '2025-03-07 08:00:00', NULL),
  -- invalid status, stored as '': out of everything (trends spawned included)
  (10, 1, 'piece', 11, 'bogus', '2025-03-10 05:00:00', NULL),
  -- component: live, so in summary/bottlenecks, but not in trends
  (11, 1, 'component', 11, 'waiting', '2025-03-10 10:00:00', NULL),
  -- missing instance: trends group (NULL, NULL)
  (12, 99, 'piece', 20, 'active', '2025-03-10 03:00:00', NULL),
  -- NULL id_instance: out of everything
  (13, NULL, 'piece', 10, 'ready', '2025-03-10 04:00:00', NULL),
  (14, 2, 'piece', 20, 'waiting', '2025-03-10 11:00:00', NULL),
  (15, 2, 'piece', 20, 'active', '2025-03-03 10:00:00', NULL),
  (20, 1, 'piece', NULL, 'completed', '2025-03-09 10:00:00', '2025-03-10 10:00:00'),
  (21, 1, 'batch', NULL, 'completed', '2025-03-10 08:00:00', '2025-03-10 09:30:00'),
  (22, 2, 'piece', NULL, 'completed', '2025-03-01 00:00:00', '2025-03-04 12:00:00'),
  -- completed before spawned: counted, but not in the lead time
  (23, 1, 'piece', NULL, 'completed', '2025-03-08 10:00:00', '2025-03-08 09:00:00'),
  (24, 1, 'component', NULL, 'completed', '2025-03-10 01:00:00', '2025-03-10 02:00:00'),
  (25, 1, 'piece', NULL, 'scrapped', '2025-03-06 10:00:00', NULL),
  -- completed before the window: counts in the throughput of 02-09 and 02-10
  (26, 1, 'piece', NULL, 'completed', '2025-02-01 10:00:00', '2025-02-05 10:00:00'),
  (27, 1, 'piece', NULL, 'completed', '2025-02-10 08:00:00', '2025-02-10 20:00:00'),
  (28, 1, 'piece', NULL, 'completed', '2025-02-08 23:00:00', '2025-02-09 01:00:00');

INSERT INTO token_assignment (id_assignment, id_token, id_node, assigned_to_user_id, status, assigned_at, started_at, completed_at) VALUES
  (1, 1, 10, 100, 'assigned', '2025-03-10 11:00:00', NULL, NULL),
  (2, 2, 10, 101, 'cancelled', '2025-03-10 09:00:00', NULL, NULL),
  (3, 2, 10, 100, 'accepted', '2025-03-10 11:30:00', NULL, NULL),
  -- token 2's open assignment: the highest id among 3 and 4
  (4, 2, 10, 101, 'assigned', '2025-03-10 11:50:01', NULL, NULL),
  (5, 3, 10, 100, 'started', '2025-03-10 10:00:00', '2025-03-10 10:05:00', NULL),
  -- NULL assigned_at: token 4 counts in queue_depth, not in the wait mean
  (6, 4, 10, 100, 'assigned', NULL, NULL, NULL),
  -- open at another node than the token's: not in the wait mean of node 10
  (7, 5, 11, 100, 'assigned', '2025-03-10 11:00:00', NULL, NULL),
  (8, 6, 20, 105, 'paused', '2025-03-09 12:00:00', NULL, NULL),
  (9, 8, 99, 100, 'started', '2025-03-10 06:30:00', '2025-03-10 06:35:00', NULL),
  (10, 9, 11, 102, 'assigned', '2025-03-10 11:45:00', NULL, NULL),
  (11, 10, 11, 100, 'assigned', '2025-03-10 11:00:00', NULL, NULL),
  -- NULL operator: out of everything, so token 1 keeps assignment 1
  (12, 1, 10, NULL, 'assigned', '2025-03-10 11:59:00', NULL, NULL),
  -- invalid status: not token 3's open assignment
  (13, 3, 10, 101, 'bogus', '2025-03-10 11:58:00', NULL, NULL),
  (14, 14, 20, 110, 'assigned', '2025-03-10 11:00:00', NULL, NULL),
  (15, 15, 20, 110, 'started', '2025-03-10 10:00:00', '2025-03-10 10:01:00', NULL),
  (20, 20, 10, 100, 'completed', '2025-03-10 07:50:00', '2025-03-10 08:00:00', '2025-03-10 08:30:00'),
  (21, 20, 11, 100, 'completed', NULL, '2025-03-10 09:00:00', '2025-03-10 09:45:30'),
  (22, 21, 10, 108, 'completed', NULL, '2025-03-09 10:00:00', '2025-03-09 10:10:00'),
  (23, 21, 10, 102, 'completed', NULL, '2025-03-10 07:00:00', '2025-03-10 07:20:00'),
  -- completed on today - 6: in the cycle-time window
  (24, 22, 20, 105, 'completed', NULL, '2025-03-04 00:00:00', '2025-03-04 01:00:00'),
  -- completed on today - 7: out of it
  (25, 22, 20, 105, 'completed', NULL, '2025-03-03 23:00:00', '2025-03-03 23:30:00'),
  -- completed before started: in the summary's completed_count, not in cycle time
  (26, 23, 10, 100, 'completed', NULL, '2025-03-10 10:00:00', '2025-03-10 09:00:00'),
  -- node missing: neither summary nor cycle time
  (27, 20, 99, 100, 'completed', NULL, '2025-03-10 10:30:00', '2025-03-10 11:00:00'),
  (28, 3, 10, 101, 'bogus', NULL, '2025-03-10 08:00:00', '2025-03-10 08:10:00'),
  (30, 21, 10, 100, 'completed', NULL, '2025-03-07 10:00:00', '2025-03-07 10:05:00'),
  (31, 21, 10, 100, 'completed', NULL, '2025-03-06 10:00:00', '2025-03-06 11:40:00'),
  (32, 22, 20, 102, 'completed', NULL, '2025-03-05 10:00:00', '2025-03-05 10:00:59'),
  -- NULL id_token: out of everything
  (34, NULL, 10, 100, 'completed', NULL, '2025-03-10 08:00:00', '2025-03-10 08:20:00');
";

/// (key cells, value cells) in the column order of `verify::key_columns` / `value_columns`.
type Rows = &'static [(&'static [&'static str], &'static [&'static str])];

// Live tokens at existing nodes: node 10: 1 (T2, ready), 2 (T1 via assignment 4, waiting),
// 3 (T2, active), 4 (T2, ready), 5 (T1 via assignment 7 at the sewing node, waiting); node 11:
// 9 (NULL, ready), 11 (no assignment, waiting); node 20: 6 (T6, paused), 7 (NULL, ready),
// 12 (NULL, active), 14 (T8, waiting), 15 (T8, active). Completed today: assignments 20 and 26
// (node 10, T2), 21 (node 11, T1), 23 (node 10, NULL).
const SUMMARY: Rows = &[
    (&["1", "10", "1"], &["2", "0", "2"]),
    (&["1", "10", "2"], &["3", "2", "2"]),
    (&["1", "10", "NULL"], &["0", "1", "0"]),
    (&["1", "11", "1"], &["0", "1", "0"]),
    (&["1", "11", "NULL"], &["2", "0", "2"]),
    (&["2", "20", "6"], &["1", "0", "0"]),
    (&["2", "20", "8"], &["2", "0", "1"]),
    (&["2", "20", "NULL"], &["2", "0", "1"]),
];

// node 10: queued 1, 2, 4, 5; waits 3600 s (token 1) and 599 s (token 2): mean 2099.5 s =
// 34.991 min; score 4 × (1 + 34.991/60) = 6.3328. node 11: queued 9, 11; wait 900 s (token 9).
// node 20: queued 7, 14; wait 3600 s (token 14); score 2 × 2.
const BOTTLENECKS: Rows = &[
    (&["10"], &["CUT", "Cutting", "4", "34.99", "6.33"]),
    (&["11"], &["SEW", "Sewing", "2", "15.00", "2.50"]),
    (&["20"], &["QC", "Quality", "2", "60.00", "4.00"]),
];

// T1: tokens 8 (active, missing node), 2 and 5 (waiting); capacity 8 + 10 (NULL) = 18 (member
// 103 has active NULL). T2: 3 / 1, 4; capacity 5 + 2. T6: 6 (paused); capacity 3 × 10.
// T7: member only, capacity 6. T8: 15 / 14, capacity 1 → 200% capped at 100.
const WORKLOAD: Rows = &[
    (&["1"], &["Alpha", "general", "1", "2", "16.67"]),
    (&["2"], &["Cutters", "cutting", "1", "2", "42.86"]),
    (&["6"], &["Finishers", "finishing", "1", "0", "3.33"]),
    (&["7"], &["Cutters B", "cutting", "0", "0", "0.00"]),
    (&["8"], &["Solo", "qc", "1", "1", "100.00"]),
];

// (10, T2): 300, 600, 1800, 6000 s; (10, NULL) adds 1200 s (assignment 23).
// (11, T1): 2730 s. (20, T6): 3600 s; (20, NULL) adds 59 s (assignment 32, operator 102).
const CYCLE_TIME: Rows = &[
    (
        &["10", "2"],
        &["2025-03-04", "2025-03-10", "4", "10.00", "100.00", "36.25"],
    ),
    (
        &["10", "NULL"],
        &["2025-03-04", "2025-03-10", "5", "20.00", "100.00", "33.00"],
    ),
    (
        &["11", "1"],
        &["2025-03-04", "2025-03-10", "1", "45.50", "45.50", "45.50"],
    ),
    (
        &["11", "NULL"],
        &["2025-03-04", "2025-03-10", "1", "45.50", "45.50", "45.50"],
    ),
    (
        &["20", "6"],
        &["2025-03-04", "2025-03-10", "1", "60.00", "60.00", "60.00"],
    ),
    (
        &["20", "NULL"],
        &["2025-03-04", "2025-03-10", "2", "0.98", "60.00", "30.49"],
    ),
];

// (tokens_completed, tokens_spawned, avg_lead_time_hours, throughput_per_day)
const TRENDS: Rows = &[
    // 28 completed (2 h); throughput 02-03..02-09: 26, 28
    (&["2025-02-09", "hybrid", "1"], &["1", "0", "2.00", "0.29"]),
    // 27 (12 h); throughput 26, 28, 27
    (&["2025-02-10", "hybrid", "1"], &["1", "1", "12.00", "0.43"]),
    (
        &["2025-03-01", "hatthasilpa", "2"],
        &["0", "1", "NULL", "0.00"],
    ),
    (
        &["2025-03-03", "hatthasilpa", "2"],
        &["0", "1", "NULL", "0.00"],
    ),
    // 22: 84 h
    (
        &["2025-03-04", "hatthasilpa", "2"],
        &["1", "0", "84.00", "0.14"],
    ),
    (
        &["2025-03-05", "hatthasilpa", "2"],
        &["0", "1", "NULL", "0.14"],
    ),
    (&["2025-03-06", "hybrid", "1"], &["0", "1", "NULL", "0.00"]),
    (&["2025-03-07", "hybrid", "1"], &["0", "1", "NULL", "0.00"]),
    // spawned 3, 23; completed 23 (before its spawn: no lead time)
    (&["2025-03-08", "hybrid", "1"], &["1", "2", "NULL", "0.14"]),
    (&["2025-03-09", "hybrid", "1"], &["0", "2", "NULL", "0.14"]),
    (&["2025-03-10", "NULL", "NULL"], &["0", "1", "NULL", "0.00"]),
    (
        &["2025-03-10", "hatthasilpa", "2"],
        &["0", "2", "NULL", "0.14"],
    ),
    // spawned 1, 4, 5, 8, 21; completed 20 (24 h), 21 (1.5 h); throughput 23, 20, 21
    (&["2025-03-10", "hybrid", "1"], &["2", "5", "12.75", "0.43"]),
];

fn hand(view: View) -> Rows {
    match view {
        View::Summary => SUMMARY,
        View::Bottlenecks => BOTTLENECKS,
        View::Workload => WORKLOAD,
        View::CycleTime => CYCLE_TIME,
        View::Trends => TRENDS,
    }
}

fn record(view: View, key: &[&str], values: &[&str]) -> Record {
    let kc = verify::key_columns(view);
    let vc = verify::value_columns(view);
    assert_eq!(kc.len(), key.len(), "{view} key arity");
    assert_eq!(vc.len(), values.len(), "{view} value arity");
    Record {
        key: kc
            .iter()
            .zip(key)
            .map(|(c, v)| (c.to_string(), v.to_string()))
            .collect(),
        values: vc
            .iter()
            .zip(values)
            .map(|(c, v)| (c.to_string(), v.to_string()))
            .collect(),
    }
}

fn hand_records(view: View) -> Vec<Record> {
    hand(view).iter().map(|(k, v)| record(view, k, v)).collect()
}

/// One line per record, sorted, for readable assertion failures.
fn lines(records: &[Record]) -> Vec<String> {
    let mut out: Vec<String> = records
        .iter()
        .map(|r| {
            let vals: Vec<String> = r.values.iter().map(|(c, v)| format!("{c}={v}")).collect();
            format!("{} | {}", r.key_string(), vals.join(" "))
        })
        .collect();
    out.sort();
    out
}

async fn seeded_tenant(flavor: Flavor, prefix: &str) -> String {
    let db = common::shared(flavor);
    let code = common::unique_code(prefix);
    common::create_tenant(db, &code, true).await;
    let name = common::tenant_db(&code);
    db.exec(&format!("USE `{name}`;\n{SEED}")).await;
    name
}

async fn expected_matches_hand_computed_rows(flavor: Flavor) {
    let name = seeded_tenant(flavor, "VerifyHand").await;
    let mut conn = common::shared(flavor).connect().await;
    // The seed really holds the bad rows it claims: invalid enums stored as '' and NULL ids.
    let bad: (i64, i64, i64) = sqlx::query_as(&format!(
        "SELECT (SELECT COUNT(*) FROM `{name}`.flow_token WHERE status = ''),
                (SELECT COUNT(*) FROM `{name}`.token_assignment WHERE status = ''),
                (SELECT COUNT(*) FROM `{name}`.token_assignment
                  WHERE id_token IS NULL OR assigned_to_user_id IS NULL)"
    ))
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(bad, (1, 2, 2));
    for view in View::ALL {
        let got = verify::expected(&mut conn, &name, view, t()).await.unwrap();
        assert_eq!(
            lines(&got),
            lines(&hand_records(view)),
            "{} at {}",
            view.table(),
            t()
        );
    }
}

async fn trends_window_moves_with_t(flavor: Flavor) {
    // One day later, 02-09 leaves the window; 02-10 stays with the same throughput.
    let name = seeded_tenant(flavor, "VerifyWin").await;
    let mut conn = common::shared(flavor).connect().await;
    let later = t() + chrono::Duration::days(1);
    let got = verify::expected(&mut conn, &name, View::Trends, later)
        .await
        .unwrap();
    let first = got.iter().map(|r| r.key[0].1.clone()).min().unwrap();
    assert_eq!(first, "2025-02-10");
    let tp = |d: &str, pt: &str| {
        got.iter()
            .find(|r| r.key[0].1 == d && r.key[1].1 == pt)
            .and_then(|r| r.get("throughput_per_day").map(str::to_string))
    };
    assert_eq!(tp("2025-02-10", "hybrid").as_deref(), Some("0.43"));
    // 03-11: nothing spawned or completed → no row; 03-10 unchanged.
    assert_eq!(tp("2025-03-10", "hybrid").as_deref(), Some("0.43"));
    assert!(got.iter().all(|r| r.key[0].1 != "2025-03-11"));

    // Cycle time one day later: the 03-04 completion (assignment 24) leaves the window.
    let ct = verify::expected(&mut conn, &name, View::CycleTime, later)
        .await
        .unwrap();
    assert!(ct
        .iter()
        .all(|r| !(r.key[0].1 == "20" && r.key[1].1 == "6")));
    // Summary one day later: nothing completed "today" any more.
    let s = verify::expected(&mut conn, &name, View::Summary, later)
        .await
        .unwrap();
    assert!(s.iter().all(|r| r.get("completed_count") == Some("0")));
}

fn sql_value(v: &str) -> String {
    if v == "NULL" {
        v.to_string()
    } else {
        format!("'{}'", v.replace('\'', "''"))
    }
}

/// INSERT statements writing `records` into the table of `view` at `snapshot_at`.
fn inserts(view: View, snapshot_at: &str, records: &[Record]) -> String {
    let mut sql = String::new();
    for r in records {
        let cols: Vec<&str> = r
            .key
            .iter()
            .chain(r.values.iter())
            .map(|(c, _)| c.as_str())
            .collect();
        let vals: Vec<String> = r
            .key
            .iter()
            .chain(r.values.iter())
            .map(|(_, v)| sql_value(v))
            .collect();
        sql.push_str(&format!(
            "INSERT INTO {} (snapshot_at, {}) VALUES ('{snapshot_at}', {});\n",
            view.table(),
            cols.join(", "),
            vals.join(", ")
        ));
    }
    sql
}

async fn verify_tenant_reports_exactly_the_introduced_differences(flavor: Flavor) {
    let name = seeded_tenant(flavor, "VerifyDiff").await;
    let server = common::shared(flavor);
    let mut conn = server.connect().await;
    let mut conn2 = server.connect().await;

    // verify runs at T (its `now`): the seed's present. Nothing written yet, while the sources
    // give every view rows: each table is missing work, said so, once.
    let diffs = verify::verify_tenant(&mut conn, &mut conn2, &name, &View::ALL, t())
        .await
        .unwrap();
    let missing: Vec<(&str, &str, &str)> = diffs
        .iter()
        .map(|d| (d.table, d.column.as_str(), d.got.as_str()))
        .collect();
    assert_eq!(
        missing,
        View::ALL
            .iter()
            .map(|v| (v.table(), "snapshot_at", "none written"))
            .collect::<Vec<_>>(),
        "{diffs:#?}"
    );

    let mut script = format!("USE `{name}`;\n");
    for view in View::ALL {
        let mut records = hand_records(view);
        // An older snapshot with different contents must be ignored (trends: an old day outside
        // the window).
        let mut stale = records[0].clone();
        match view {
            View::Trends => {
                stale.key[0].1 = "2025-01-01".into();
                stale.values[0].1 = "99".into();
                script.push_str(&inserts(view, "2025-01-01 00:15:00", &[stale]));
            }
            View::Workload | View::Bottlenecks => {
                stale.values[0].1 = "stale".into();
                script.push_str(&inserts(view, "2025-03-10 11:59:00", &[stale]));
            }
            View::Summary | View::CycleTime => {
                let count = if view == View::Summary { 0 } else { 2 };
                stale.values[count].1 = "77".into();
                script.push_str(&inserts(view, "2025-03-10 11:55:00", &[stale]));
            }
        }
        if view == View::CycleTime {
            // Histogram values within the 1% bound are not differences: 10.00 → 10.09.
            records[0].values[3].1 = "10.09".into();
            records[0].values[4].1 = "99.00".into();
        }
        script.push_str(&inserts(view, "2025-03-10 12:00:00", &records));
    }
    server.exec(&script).await;

    let diffs = verify::verify_tenant(&mut conn, &mut conn2, &name, &View::ALL, t())
        .await
        .unwrap();
    assert!(diffs.is_empty(), "{diffs:#?}");

    // Introduce one wrong count and one missing row.
    server
        .exec(&format!(
            "USE `{name}`;
             UPDATE mv_node_bottlenecks SET queue_depth = 3
              WHERE snapshot_at = '2025-03-10 12:00:00' AND node_id = 10;
             DELETE FROM mv_token_flow_summary
              WHERE snapshot_at = '2025-03-10 12:00:00'
                AND graph_id = 1 AND node_id = 11 AND team_id IS NULL;"
        ))
        .await;
    let diffs = verify::verify_tenant(&mut conn, &mut conn2, &name, &View::ALL, t())
        .await
        .unwrap();
    let text: Vec<String> = diffs.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        text,
        [
            "mv_token_flow_summary graph_id=1 node_id=11 team_id=NULL (row): expected present, got missing",
            "mv_node_bottlenecks node_id=10 queue_depth: expected 4, got 3",
        ],
        "{diffs:#?}"
    );
    assert_eq!(diffs[1].table, "mv_node_bottlenecks");
    assert_eq!(diffs[1].key, "node_id=10");
    assert_eq!(diffs[1].column, "queue_depth");
    assert_eq!(diffs[1].expected, "4");
    assert_eq!(diffs[1].got, "3");

    // An extra row, and a percentile outside the bound, in views passed alone.
    server
        .exec(&format!(
            "USE `{name}`;
             INSERT INTO mv_team_workload (snapshot_at, team_id, team_name, team_category,
                 active_tokens, waiting_tokens, avg_load)
               VALUES ('2025-03-10 12:00:00', 5, 'Idle', NULL, 0, 0, NULL);
             UPDATE mv_cycle_time_analytics SET p95_minutes = 101.02
              WHERE snapshot_at = '2025-03-10 12:00:00' AND node_id = 10 AND team_id IS NULL;"
        ))
        .await;
    let diffs = verify::verify_tenant(
        &mut conn,
        &mut conn2,
        &name,
        &[View::Workload, View::CycleTime],
        t(),
    )
    .await
    .unwrap();
    let text: Vec<String> = diffs.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        text,
        [
            "mv_team_workload team_id=5 (row): expected absent, got present",
            "mv_cycle_time_analytics node_id=10 team_id=NULL p95_minutes: expected 100.00, got 101.02",
        ],
        "{diffs:#?}"
    );

    // actual() reads the latest snapshot only (trends: the 30-day window of its date).
    let (at, rows) = verify::actual(&mut conn, &name, View::Trends)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(at, t());
    assert_eq!(lines(&rows), lines(&hand_records(View::Trends)));
    let (at, rows) = verify::actual(&mut conn, &name, View::Bottlenecks)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(at, t());
    assert_eq!(rows.len(), 3);
}
