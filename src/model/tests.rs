//! docs/metrics.md by hand: one seeded factory, every rule of every view checked against numbers worked
//! out on paper (see the comments), and a randomized check that incremental upkeep equals a
//! fresh build from the final rows.

use chrono::NaiveDateTime;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::dims::tests::{member, node, team};
use super::row::*;
use super::views::bottlenecks::BottleneckRow;
use super::views::cycle_time::CycleTimeRow;
use super::views::summary::SummaryRow;
use super::views::trends::TrendRow;
use super::views::workload::WorkloadRow;
use super::{decimal::Dec2, Change, TenantState, View};

/// The rows of one view in a snapshot (which must hold it).
macro_rules! rows_of {
    ($snap:expr, $view:ident) => {
        match $snap.get(View::$view) {
            Some(super::views::ViewRows::$view(rows)) => rows.clone(),
            other => panic!("no {} rows: {other:?}", stringify!($view)),
        }
    };
}

fn at(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("test datetime")
}

fn d(s: &str) -> Dec2 {
    let v: f64 = s.parse().expect("test decimal");
    Dec2((v * 100.0).round() as i64)
}

fn token(id: i64, node: Option<i64>, status: TokenStatus) -> Token {
    Token {
        id,
        instance: Some(1),
        is_product: true,
        node,
        status,
        spawned_at: None,
        completed_at: None,
    }
}

fn asg(id: i64, token: i64, node: i64, op: i64, status: AssignmentStatus) -> Assignment {
    Assignment {
        id,
        token: Some(token),
        node: Some(node),
        operator: Some(op),
        status,
        assigned_at: None,
        started_at: None,
        completed_at: None,
    }
}

fn done(mut a: Assignment, started: &str, completed: &str) -> Assignment {
    a.status = AssignmentStatus::Completed;
    a.started_at = Some(at(started));
    a.completed_at = Some(at(completed));
    a
}

fn assigned(mut a: Assignment, when: &str) -> Assignment {
    a.assigned_at = Some(at(when));
    a
}

const T: &str = "2026-03-10 12:00:00";

/// Graph 10 (classic): node 1 sewing, node 2 qc. Graph 20 (no type): node 3 without category.
/// Teams: 5 cutting, 7 sewing, 8 qc, 9 sewing (inactive), 12 general (empty), 13 finishing.
/// Operators: 100 in 5 and 7; 200 in 8; 300 only in inactive 9; 400 inactive in 7; 500 in 13.
fn factory() -> TenantState {
    use AssignmentStatus::*;
    use TokenStatus::*;
    let mut s = TenantState::default();
    let mut up = |r: Row| s.apply(Change::Upsert(r));
    up(Row::Graph(Graph {
        id: 10,
        production_type: Some("classic".into()),
        name: None,
    }));
    up(Row::Graph(Graph {
        id: 20,
        production_type: None,
        name: None,
    }));
    up(Row::Node(node(1, 10, Some("sewing"))));
    up(Row::Node(node(2, 10, Some("qc"))));
    up(Row::Node(node(3, 20, None)));
    for t in [
        team(5, Some("cutting"), true),
        team(7, Some("sewing"), true),
        team(8, Some("qc"), true),
        team(9, Some("sewing"), false),
        team(12, Some("general"), true),
        team(13, Some("finishing"), true),
    ] {
        up(Row::Team(t));
    }
    for m in [
        member(5, 100, None, true),
        member(7, 100, Some(0), true),
        member(7, 400, Some(50), false),
        member(8, 200, Some(20), true),
        member(9, 300, Some(5), true),
        member(13, 500, Some(1), true),
    ] {
        up(Row::Member(m));
    }
    // Live tokens and their open assignments.
    let tokens = [
        (1, Some(1), Waiting),
        (2, Some(1), Ready),
        (3, Some(1), Active),
        (4, Some(1), Ready),
        (5, Some(2), TokenStatus::Paused),
        (6, Some(999), Waiting),
        (7, Some(1), Waiting),
        (8, Some(1), TokenStatus::Completed),
        (9, Some(1), TokenStatus::Invalid),
        (10, Some(1), Waiting),
        (11, Some(1), Waiting),
        (12, Some(3), Active),
        (13, Some(3), Waiting),
    ];
    for (id, n, st) in tokens {
        up(Row::Token(token(id, n, st)));
    }
    for a in [
        assigned(asg(1, 1, 1, 100, Assigned), "2026-03-10 11:30:00"), // waits 30 min, team 7
        assigned(asg(2, 2, 1, 200, Accepted), "2026-03-10 11:00:00"), // waits 60 min, team 8
        asg(3, 3, 1, 100, Started),                                   // in work, team 7
        asg(5, 5, 2, 100, AssignmentStatus::Paused),                  // qc node: no match → 5
        assigned(asg(6, 6, 999, 200, Assigned), "2026-03-10 11:50:00"), // node missing
        assigned(asg(7, 7, 2, 100, Assigned), "2026-03-10 11:00:00"), // other node: no wait
        asg(10, 10, 1, 300, Assigned),                                // NULL assigned_at
        assigned(asg(110, 11, 1, 200, Assigned), "2026-03-10 11:40:00"), // superseded
        assigned(asg(111, 11, 1, 100, Assigned), "2026-03-10 11:20:00"), // holds token 11
        asg(12, 12, 3, 500, Started),
        assigned(asg(13, 13, 3, 500, Assigned), "2026-03-10 11:45:00"),
        asg(14, 4, 1, 100, Cancelled), // closed: token 4 has no holder
    ] {
        up(Row::Assignment(a));
    }
    // Completed assignments.
    for a in [
        done(
            asg(20, 8, 1, 100, Assigned),
            "2026-03-10 09:00:00",
            "2026-03-10 10:00:00",
        ),
        done(
            asg(21, 8, 2, 200, Assigned),
            "2026-03-10 10:50:00",
            "2026-03-10 11:00:00",
        ),
        done(
            asg(22, 8, 1, 100, Assigned),
            "2026-03-09 10:00:00",
            "2026-03-09 10:30:00",
        ),
        done(
            asg(23, 8, 1, 300, Assigned),
            "2026-03-05 10:00:00",
            "2026-03-05 10:45:00",
        ),
        done(
            asg(24, 8, 1, 100, Assigned),
            "2026-03-03 10:00:00",
            "2026-03-03 10:45:00",
        ),
        done(
            asg(25, 8, 1, 100, Assigned),
            "2026-03-10 10:00:00",
            "2026-03-10 09:00:00",
        ),
        done(
            asg(26, 8, 999, 100, Assigned),
            "2026-03-10 10:00:00",
            "2026-03-10 10:05:00",
        ),
    ] {
        up(Row::Assignment(a));
    }
    s
}

#[test]
fn summary_groups_tokens_by_node_graph_and_team_plus_completions_today() {
    let mut s = factory();
    let rows = rows_of!(s.snapshot(at(T), &[View::Summary]), Summary);
    let row = |g, n, t, wip, completed, waiting| SummaryRow {
        graph_id: Some(g),
        node_id: n,
        team_id: t,
        wip_count: wip,
        completed_count: completed,
        waiting_count: waiting,
    };
    assert_eq!(
        rows,
        vec![
            row(10, 1, None, 2, 0, 2), // tokens 4 (no holder) and 10 (operator without team)
            row(10, 1, Some(5), 1, 0, 1), // token 7: holder's node 2 (qc) decides: team 5
            row(10, 1, Some(7), 3, 2, 2), // tokens 1, 3, 11; completed 20 and 25 today
            row(10, 1, Some(8), 1, 0, 1), // token 2
            row(10, 2, Some(5), 1, 0, 0), // token 5, paused
            row(10, 2, Some(8), 0, 1, 0), // assignment 21 completed today
            row(20, 3, Some(13), 2, 0, 1),
        ]
    );
}

#[test]
fn bottlenecks_per_node_with_exact_wait_mean() {
    let mut s = factory();
    let rows = rows_of!(s.snapshot(at(T), &[View::Bottlenecks]), Bottlenecks);
    let row = |n: i64, q, avg: Option<&str>, score: &str| BottleneckRow {
        node_id: n,
        node_code: Some(format!("N{n}")),
        node_name: Some(format!("Node {n}")),
        queue_depth: q,
        avg_wait_minutes: avg.map(d),
        bottleneck_score: d(score),
    };
    assert_eq!(
        rows,
        vec![
            // queued 1, 2, 4, 7, 10, 11; waits of 1, 2, 11: (30 + 60 + 40) / 3 = 43.333…
            // score 6 × (1 + 43.333…/60) = 10.333…
            row(1, 6, Some("43.33"), "10.33"),
            row(2, 0, None, "0"), // one paused token: a row, no wait
            row(3, 1, Some("15"), "1.25"),
        ]
    );
}

#[test]
fn workload_per_active_team_with_capped_load() {
    let mut s = factory();
    let rows = rows_of!(s.snapshot(at(T), &[View::Workload]), Workload);
    let row = |t: i64, cat: &str, active, waiting, load: &str| WorkloadRow {
        team_id: t,
        team_name: Some(format!("Team {t}")),
        team_category: Some(cat.into()),
        active_tokens: active,
        waiting_tokens: waiting,
        avg_load: Some(d(load)),
    };
    assert_eq!(
        rows,
        vec![
            row(5, "cutting", 1, 1, "20"), // tokens 5, 7 over capacity 10 (NULL → 10)
            row(7, "sewing", 1, 2, "30"),  // tokens 1, 3, 11; 400 is inactive; 0 → 10
            row(8, "qc", 0, 2, "10"),      // tokens 2 and 6 (node missing still counts)
            row(13, "finishing", 1, 1, "100"), // 200% capped
        ]
    );
}

#[test]
fn cycle_time_rolling_week_per_node_team_and_node() {
    let mut s = factory();
    let rows = rows_of!(s.snapshot(at(T), &[View::CycleTime]), CycleTime);
    let (start, end) = (at("2026-03-04 00:00:00").date(), at(T).date());
    let keys: Vec<(i64, Option<i64>, i64, Option<Dec2>)> = rows
        .iter()
        .map(|r| (r.node_id, r.team_id, r.token_count, r.avg_minutes))
        .collect();
    assert_eq!(
        keys,
        vec![
            (1, None, 3, Some(d("45"))), // 20 (60), 22 (30), 23 (45, no team); 24 too old, 25 reversed
            (1, Some(7), 2, Some(d("45"))), // 20, 22
            (2, None, 1, Some(d("10"))),
            (2, Some(8), 1, Some(d("10"))),
        ]
    );
    let close = |got: Option<Dec2>, want: f64| {
        let got = got.expect("percentile").as_f64();
        assert!((got - want).abs() <= want * 0.01 + 0.01, "{got} vs {want}");
    };
    for r in &rows {
        assert_eq!((r.period_start, r.period_end), (start, end));
    }
    let CycleTimeRow {
        p50_minutes,
        p95_minutes,
        ..
    } = &rows[0];
    close(*p50_minutes, 45.0); // rank ⌈1.5⌉ = 2 of 30, 45, 60
    close(*p95_minutes, 60.0); // rank ⌈2.85⌉ = 3
    close(rows[1].p50_minutes, 30.0); // rank 1 of 30, 60
    close(rows[1].p95_minutes, 60.0);
}

#[test]
fn left_out_rows_are_counted_by_reason() {
    let s = factory();
    let out = s.left_out();
    assert_eq!(out.get(&LeftOut::InvalidStatus), Some(&1)); // token 9
    assert_eq!(out.get(&LeftOut::CompletedBeforeStarted), Some(&1)); // assignment 25
    assert_eq!(out.get(&LeftOut::NodeMissing), Some(&2)); // token 6, assignment 26
    assert_eq!(out.get(&LeftOut::NoAssignedAt), Some(&1)); // token 10
}

fn product(
    id: i64,
    instance: i64,
    status: TokenStatus,
    spawned: &str,
    completed: Option<&str>,
) -> Row {
    Row::Token(Token {
        id,
        instance: Some(instance),
        is_product: true,
        node: None,
        status,
        spawned_at: Some(at(spawned)),
        completed_at: completed.map(at),
    })
}

#[test]
fn trends_daily_per_production_type_and_instance_graph() {
    use TokenStatus::*;
    let mut s = factory();
    let mut up = |r: Row| s.apply(Change::Upsert(r));
    for (id, graph, ptype) in [(1, 10, None), (2, 20, Some("hybrid")), (3, 20, None)] {
        up(Row::Instance(Instance {
            id,
            graph: Some(graph),
            production_type: ptype.map(str::to_string),
        }));
    }
    up(product(
        101,
        1,
        Completed,
        "2026-03-08 08:00:00",
        Some("2026-03-10 08:00:00"),
    ));
    up(product(102, 1, Ready, "2026-03-10 09:00:00", None));
    let mut component = product(103, 1, Ready, "2026-03-10 09:00:00", None);
    if let Row::Token(t) = &mut component {
        t.is_product = false;
    }
    up(component);
    up(product(
        104,
        1,
        Completed,
        "2026-03-01 00:00:00",
        Some("2026-03-04 12:00:00"),
    ));
    up(product(
        105,
        2,
        Completed,
        "2026-03-10 10:00:00",
        Some("2026-03-10 09:00:00"),
    ));
    up(product(
        106,
        3,
        Scrapped,
        "2026-03-09 10:00:00",
        Some("2026-03-10 09:00:00"),
    ));
    up(product(107, 77, Ready, "2026-03-10 10:00:00", None));
    up(product(
        108,
        1,
        Completed,
        "2026-02-01 10:00:00",
        Some("2026-02-05 10:00:00"),
    ));
    up(product(
        109,
        1,
        Completed,
        "2026-02-09 10:00:00",
        Some("2026-02-10 10:00:00"),
    ));
    let rows = rows_of!(s.snapshot(at(T), &[View::Trends]), Trends);
    let row = |day: &str, pt: Option<&str>, g: Option<i64>, c, sp, lead: Option<&str>, tp: &str| {
        TrendRow {
            period_date: at(&format!("{day} 00:00:00")).date(),
            production_type: pt.map(str::to_string),
            graph_id: g,
            tokens_completed: c,
            tokens_spawned: sp,
            avg_lead_time_hours: lead.map(d),
            throughput_per_day: d(tp),
        }
    };
    let classic = Some("classic");
    let expected = [
        row("2026-02-09", classic, Some(10), 0, 1, None, "0.14"),
        row("2026-02-10", classic, Some(10), 1, 0, Some("24"), "0.29"),
        row("2026-03-01", classic, Some(10), 0, 1, None, "0"),
        row("2026-03-04", classic, Some(10), 1, 0, Some("84"), "0.14"),
        row("2026-03-08", classic, Some(10), 0, 1, None, "0.14"),
        row("2026-03-09", None, Some(20), 0, 1, None, "0"),
        row("2026-03-10", None, None, 0, 1, None, "0"),
        row("2026-03-10", classic, Some(10), 1, 1, Some("48"), "0.29"),
        row("2026-03-10", Some("hybrid"), Some(20), 1, 1, None, "0.14"),
    ];
    // 108 completed 02-05, before the window: it still counts in the throughput of 02-09/10.
    // 103 is a component, 105 has a reversed lead (no mean), 106 was scrapped (spawned only),
    // 107's instance is unknown.
    assert_eq!(rows, expected);
}

#[test]
fn a_trends_snapshot_after_another_holds_the_days_changed_since_and_the_six_after() {
    use crate::model::views::trends::Cover;
    use TokenStatus::*;
    let mut s = factory();
    s.apply(Change::Upsert(Row::Instance(Instance {
        id: 1,
        graph: Some(10),
        production_type: None,
    })));
    for (id, spawned, completed) in [
        (101, "2026-02-20 08:00:00", "2026-02-21 08:00:00"),
        (102, "2026-03-01 08:00:00", "2026-03-04 08:00:00"),
        (103, "2026-03-09 08:00:00", "2026-03-10 08:00:00"),
    ] {
        s.apply(Change::Upsert(product(
            id,
            1,
            Completed,
            spawned,
            Some(completed),
        )));
    }
    // A fresh state: the whole window.
    let first = s.snapshot(at(T), &[View::Trends]);
    assert_eq!(first.trends_cover, Cover::Window);
    assert_eq!(rows_of!(first, Trends).len(), 6);
    // Nothing changed since: no day.
    let none = s.snapshot(at(T), &[View::Trends]);
    assert_eq!(none.trends_cover, Cover::Days(Vec::new()));
    assert!(rows_of!(none, Trends).is_empty());
    // 102 completed a day later: 03-04 and 03-05 changed, and the throughput of the six days
    // after each (up to today, 03-10).
    s.apply(Change::Upsert(product(
        102,
        1,
        Completed,
        "2026-03-01 08:00:00",
        Some("2026-03-05 08:00:00"),
    )));
    let day = |d: &str| at(&format!("{d} 00:00:00")).date();
    let next = s.snapshot(at(T), &[View::Trends]);
    let want: Vec<_> = (4..=10).map(|n| day(&format!("2026-03-{n:02}"))).collect();
    assert_eq!(next.trends_cover, Cover::Days(want.clone()));
    // Its rows are the full view's rows of those days, and only those.
    let full = rows_of!(s.view(at(T), &[View::Trends]), Trends);
    let of_days: Vec<_> = full
        .into_iter()
        .filter(|r| want.contains(&r.period_date))
        .collect();
    assert!(!of_days.is_empty());
    assert_eq!(rows_of!(next, Trends), of_days);
}

#[test]
fn moving_a_token_and_deleting_rows_update_every_view() {
    let mut s = factory();
    // Token 1 moves from node 1 to node 2 and is taken over by operator 200 (team 8 at qc).
    s.apply(Change::Upsert(Row::Token(token(
        1,
        Some(2),
        TokenStatus::Waiting,
    ))));
    s.apply(Change::Upsert(Row::Assignment(assigned(
        asg(1, 1, 2, 200, AssignmentStatus::Assigned),
        "2026-03-10 11:56:00",
    ))));
    // Token 12 is deleted, assignment 20 is deleted.
    s.apply(Change::Delete(Key::Token(12)));
    s.apply(Change::Delete(Key::Assignment(20)));
    let snap = s.snapshot(at(T), &[View::Summary, View::Bottlenecks]);
    let summary = rows_of!(snap, Summary);
    let find = |n, t| {
        summary
            .iter()
            .find(|r| r.node_id == n && r.team_id == t)
            .cloned()
    };
    let sewing = find(1, Some(7)).unwrap();
    assert_eq!(
        (
            sewing.wip_count,
            sewing.waiting_count,
            sewing.completed_count
        ),
        (2, 1, 1)
    );
    let qc = find(2, Some(8)).unwrap();
    assert_eq!(
        (qc.wip_count, qc.waiting_count, qc.completed_count),
        (1, 1, 1)
    );
    let b = rows_of!(snap, Bottlenecks);
    assert_eq!(b[1].node_id, 2);
    assert_eq!((b[1].queue_depth, b[1].avg_wait_minutes), (1, Some(d("4"))));
    // Node 1 waits: tokens 2 and 11 (60 and 40 minutes).
    assert_eq!(b[0].avg_wait_minutes, Some(d("50")));
    assert_eq!(b[2].queue_depth, 1, "node 3 keeps token 13 only");
}

#[test]
fn membership_change_reattributes_past_work() {
    let mut s = factory();
    // Operator 100 leaves team 7: sewing work now falls to team 5 (lowest of the rest).
    s.apply(Change::Upsert(Row::Member(member(7, 100, Some(0), false))));
    let snap = s.snapshot(at(T), &[View::CycleTime]);
    let teams: Vec<_> = rows_of!(snap, CycleTime)
        .iter()
        .filter(|r| r.node_id == 1)
        .map(|r| (r.team_id, r.token_count))
        .collect();
    assert_eq!(teams, vec![(None, 3), (Some(5), 2)]);
}

#[test]
fn applying_the_same_change_twice_is_applying_it_once() {
    let mut once = factory();
    let mut twice = factory();
    let change = Change::Upsert(Row::Assignment(done(
        asg(3, 3, 1, 100, AssignmentStatus::Started),
        "2026-03-10 11:00:00",
        "2026-03-10 11:30:00",
    )));
    once.apply(change.clone());
    twice.apply(change.clone());
    twice.apply(change);
    assert_eq!(
        once.snapshot(at(T), &View::ALL),
        twice.snapshot(at(T), &View::ALL)
    );
}

/// Random upserts and deletes over a small key space, then the same final rows loaded into a
/// fresh state: the views must agree exactly.
#[test]
fn incremental_upkeep_equals_a_fresh_build() {
    use AssignmentStatus as A;
    use TokenStatus as S;
    let statuses = [
        S::Ready,
        S::Active,
        S::Waiting,
        S::Paused,
        S::Completed,
        S::Scrapped,
        S::Invalid,
    ];
    let astatuses = [
        A::Assigned,
        A::Accepted,
        A::Started,
        A::Paused,
        A::Completed,
        A::Cancelled,
        A::Invalid,
    ];
    for seed in 0..20u64 {
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut s = factory();
        let time = |rng: &mut SmallRng| {
            Some(at(T) - chrono::Duration::seconds(rng.gen_range(-600..10 * 86_400)))
        };
        for _ in 0..400 {
            let change = match rng.gen_range(0..13) {
                0..=3 => Change::Upsert(Row::Token(Token {
                    id: rng.gen_range(1..30),
                    instance: Some(rng.gen_range(1..4)),
                    is_product: rng.gen_bool(0.8),
                    node: [None, Some(1), Some(2), Some(3), Some(999)][rng.gen_range(0..5)],
                    status: statuses[rng.gen_range(0..statuses.len())],
                    spawned_at: time(&mut rng),
                    completed_at: time(&mut rng),
                })),
                4..=7 => Change::Upsert(Row::Assignment(Assignment {
                    id: rng.gen_range(1..60),
                    token: Some(rng.gen_range(1..30)),
                    node: Some([1, 2, 3, 999][rng.gen_range(0..4)]),
                    operator: Some([100, 200, 300, 400, 500][rng.gen_range(0..5)]),
                    status: astatuses[rng.gen_range(0..astatuses.len())],
                    assigned_at: time(&mut rng),
                    started_at: time(&mut rng),
                    completed_at: time(&mut rng),
                })),
                8 => Change::Delete(if rng.gen_bool(0.5) {
                    Key::Token(rng.gen_range(1..30))
                } else {
                    Key::Assignment(rng.gen_range(1..60))
                }),
                10 => Change::Upsert(Row::Instance(Instance {
                    id: rng.gen_range(1..5),
                    graph: [None, Some(10), Some(20)][rng.gen_range(0..3)],
                    production_type: [None, Some("classic"), Some("hybrid")][rng.gen_range(0..3)]
                        .map(str::to_string),
                })),
                11 => Change::Upsert(Row::Graph(Graph {
                    id: [10, 20][rng.gen_range(0..2)],
                    production_type: [None, Some("classic"), Some("hatthasilpa")]
                        [rng.gen_range(0..3)]
                    .map(str::to_string),
                    name: None,
                })),
                12 => Change::Delete(if rng.gen_bool(0.7) {
                    Key::Instance(rng.gen_range(1..5))
                } else {
                    Key::Graph([10, 20][rng.gen_range(0..2)])
                }),
                _ => Change::Upsert(Row::Member(member(
                    [5, 7, 8, 13][rng.gen_range(0..4)],
                    [100, 200, 300][rng.gen_range(0..3)],
                    Some(rng.gen_range(-1..5)),
                    rng.gen_bool(0.7),
                ))),
            };
            s.apply(change);
            // Now and then a snapshot: it prepares the cycle-time week, which the changes after
            // it must keep current.
            if rng.gen_ratio(1, 100) {
                s.snapshot(at(T), &View::ALL);
            }
        }
        let mut fresh = TenantState::default();
        for row in s.all_rows() {
            fresh.apply(Change::Upsert(row));
        }
        assert_eq!(
            s.view(at(T), &View::ALL),
            fresh.view(at(T), &View::ALL),
            "seed {seed}"
        );
        // Tokens before the dimension rows they resolve through: filed, then moved.
        let mut rows: Vec<Row> = s.all_rows().collect();
        rows.sort_by_key(|r| !matches!(r, Row::Token(_) | Row::Assignment(_)));
        let mut reversed = TenantState::default();
        for row in rows {
            reversed.apply(Change::Upsert(row));
        }
        assert_eq!(
            s.view(at(T), &View::ALL),
            reversed.view(at(T), &View::ALL),
            "seed {seed}, tokens first"
        );
        // Left-out counts are of rows held and within the windows: evict both on the same day.
        let next_day = at(T) + chrono::Duration::days(1);
        s.snapshot(next_day, &[]);
        fresh.snapshot(next_day, &[]);
        assert_eq!(s.left_out(), fresh.left_out(), "seed {seed}");
    }
}

#[test]
fn rows_that_can_no_longer_count_are_evicted_and_come_back_whole() {
    let mut s = factory();
    s.apply(Change::Upsert(product(
        201,
        1,
        TokenStatus::Completed,
        "2026-01-01 08:00:00",
        Some("2026-01-02 08:00:00"),
    )));
    let held = s.rows();
    let later = at("2026-04-30 12:00:00");
    let snap = s.snapshot(later, &View::ALL);
    // Tokens 201 and 8 (done), the seven completed assignments and the cancelled one are gone;
    // token 9 (invalid status) stays, counted as bad, as a fresh load would read it.
    assert_eq!(held - s.rows(), 10);
    let fresh = |s: &TenantState| {
        let mut f = TenantState::default();
        for r in s.all_rows() {
            f.apply(Change::Upsert(r));
        }
        f
    };
    assert_eq!(snap, fresh(&s).snapshot(later, &View::ALL));
    // Reopened, evicted assignment 22 takes token 2 over from operator 200: its after-image is
    // all it needs.
    s.apply(Change::Upsert(Row::Assignment(assigned(
        asg(22, 2, 1, 100, AssignmentStatus::Assigned),
        "2026-04-30 11:00:00",
    ))));
    let workload = rows_of!(s.snapshot(later, &[View::Workload]), Workload);
    let sewing = workload.iter().find(|r| r.team_id == 7).unwrap();
    assert_eq!(sewing.waiting_tokens, 3, "tokens 1, 11 and now 2");
    // (The rows: the trends cover differs, a fresh state's being the whole window.)
    assert_eq!(
        s.snapshot(later, &View::ALL).views,
        fresh(&s).snapshot(later, &View::ALL).views
    );
}

/// The loader prepares a state for its day before the applier's first snapshot: what that
/// snapshot holds is the same as without the preparation, changes applied in between included,
/// and the preparation has done the eviction already.
#[test]
fn a_state_prepared_for_its_day_snapshots_as_one_that_was_not() {
    let later = at("2026-04-30 12:00:00");
    let mut prepared = factory();
    let mut plain = factory();
    prepared.prepare(later.date());
    let evicted = plain.rows() - prepared.rows();
    assert_eq!(
        evicted, 9,
        "token 8, the seven completed assignments and the cancelled one"
    );
    let reopened = Change::Upsert(Row::Assignment(assigned(
        asg(22, 2, 1, 100, AssignmentStatus::Assigned),
        "2026-04-30 11:00:00",
    )));
    prepared.apply(reopened.clone());
    plain.apply(reopened);
    assert_eq!(
        prepared.snapshot(later, &View::ALL),
        plain.snapshot(later, &View::ALL)
    );
    assert_eq!(prepared.rows(), plain.rows());
}

/// A busy cell grows past the cycle-time list limit (a histogram), then most of its work is
/// deleted: the state that went through the histogram and a fresh build from the same rows (a
/// list again) write the same cycle-time rows, and so does a state loaded while it was large.
#[test]
fn cycle_time_is_the_same_whichever_way_a_cell_is_held() {
    let mut rng = SmallRng::seed_from_u64(11);
    let mut s = factory();
    let fresh = |s: &TenantState| {
        let mut f = TenantState::default();
        for r in s.all_rows() {
            f.apply(Change::Upsert(r));
        }
        f
    };
    let ids: Vec<i64> = (10_000..11_500).collect();
    for id in &ids {
        // Operator 100 at node 1 (team 7), within the week, cycles from seconds to hours.
        let done_at = at(T) - chrono::Duration::seconds(rng.gen_range(60..6 * 86_400));
        let secs = [rng.gen_range(0..300), rng.gen_range(300..20_000)][rng.gen_range(0..2)];
        let mut a = asg(*id, 1, 1, 100, AssignmentStatus::Completed);
        a.started_at = Some(done_at - chrono::Duration::seconds(secs));
        a.completed_at = Some(done_at);
        s.apply(Change::Upsert(Row::Assignment(a)));
        if *id == 10_700 {
            s.snapshot(at(T), &[View::CycleTime]);
        }
    }
    let large = rows_of!(s.snapshot(at(T), &[View::CycleTime]), CycleTime);
    assert_eq!(
        large,
        rows_of!(fresh(&s).snapshot(at(T), &[View::CycleTime]), CycleTime)
    );
    assert!(large.iter().any(|r| r.token_count > 1_000));
    for id in &ids[..1_480] {
        s.apply(Change::Delete(Key::Assignment(*id)));
    }
    let small = rows_of!(s.snapshot(at(T), &[View::CycleTime]), CycleTime);
    assert_eq!(
        small,
        rows_of!(fresh(&s).snapshot(at(T), &[View::CycleTime]), CycleTime)
    );
    assert_eq!(s.view(at(T), &View::ALL), fresh(&s).view(at(T), &View::ALL));
}
