//! The applier driven in memory: scripted binlog events, surveys and load results go in; the
//! snapshots it hands the writer, the checkpoints it hands the checkpoint writer, the loads it
//! asks for and the live state come out. No server, no disk; time is tokio's paused clock and
//! the wall clock a thread-local the test sets.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::*;
use crate::checkpoint::writer::{self as checkpoint_writer, Outcome};
use crate::live::{LiveView, Phase};
use crate::model::row::{Graph, Instance, Token, TokenStatus};
use crate::model::views::summary::SummaryRow;
use crate::model::TenantState;
use crate::service::loader::{Load, LoadFailed};
use crate::service::watcher::Surveyed;
use crate::shutdown::{self, Trigger};
use crate::sink::worker::{self, Msg};
use crate::source::binlog::ServerInfo;
use crate::source::Flavor;

/// 2026-01-01 00:00:00 UTC, a 15-minute boundary.
const T0: i64 = 1_767_225_600;

thread_local! {
    static NOW: Cell<i64> = const { Cell::new(T0) };
}

fn now() -> i64 {
    NOW.with(Cell::get)
}

fn set_now(t: i64) {
    NOW.with(|n| n.set(t));
}

fn pos(n: u64) -> Position {
    Position {
        file: "bin.000001".into(),
        pos: n,
        gtid: None,
    }
}

fn up(db: &str, row: Row) -> SourceChange {
    SourceChange::Tenant {
        db: db.into(),
        change: crate::model::Change::Upsert(row),
    }
}

fn waiting_token(id: i64) -> Row {
    Row::Token(Token {
        id,
        instance: Some(1),
        is_product: true,
        node: Some(1),
        status: TokenStatus::Waiting,
        spawned_at: None,
        completed_at: None,
    })
}

/// A tenant's routing: graph 10, instance 1, node 1.
fn routing() -> Vec<Row> {
    vec![
        Row::Graph(Graph {
            id: 10,
            production_type: Some("classic".into()),
            name: None,
        }),
        Row::Instance(Instance {
            id: 1,
            graph: Some(10),
            production_type: None,
        }),
        Row::Node(crate::model::dims::tests::node(1, 10, None)),
    ]
}

/// A state holding `rows`.
fn state_of(rows: Vec<Row>) -> TenantState {
    let mut s = TenantState::default();
    for r in rows {
        s.apply(crate::model::Change::Upsert(r));
    }
    s
}

fn ready(code: &str, db: &str, state: TenantState) -> TenantSlot {
    TenantSlot {
        code: code.into(),
        db: db.into(),
        stage: Stage::Ready(Ready {
            state: {
                let mut state = state;
                state.keep_journal();
                state
            },
            loaded_at: None,
            first_instant: Instant(0),
            base: None,
            history: Default::default(),
        }),
    }
}

/// Tokens in work in a snapshot (0 without a summary).
fn wip(job: &Job) -> i64 {
    match job.snapshot.get(View::Summary) {
        Some(ViewRows::Summary(rows)) => rows.iter().map(|r: &SummaryRow| r.wip_count).sum(),
        _ => 0,
    }
}

fn epoch(job: &Job) -> i64 {
    job.snapshot.at.and_utc().timestamp()
}

struct Setup {
    orgs: Vec<Organization>,
    registry: bool,
    slots: Vec<(String, TenantSlot)>,
    /// Room in the snapshot channel before the applier waits.
    snapshot_room: usize,
    /// Started without a checkpoint: streaming once the first survey's loads are done.
    recomputing: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            orgs: Vec::new(),
            registry: false,
            slots: Vec::new(),
            snapshot_room: 64,
            recomputing: false,
        }
    }
}

struct Harness {
    live: LiveView,
    reader: mpsc::Sender<SourceEvent>,
    readers: mpsc::UnboundedReceiver<(Position, mpsc::Sender<SourceEvent>)>,
    snapshots: worker::Inbox,
    checkpoints: checkpoint_writer::Inbox,
    loads: mpsc::UnboundedReceiver<LoadRequest>,
    loaded: mpsc::Sender<LoadDone>,
    surveys: mpsc::Sender<Survey>,
    trigger: Trigger,
    applier: JoinHandle<Result<(), RunError>>,
    next_pos: u64,
}

/// What the applier left once stopped.
struct Stopped {
    result: Result<(), RunError>,
    written: Vec<Job>,
    checkpoints: Vec<CheckpointJob>,
}

impl Harness {
    async fn start(setup: Setup) -> Harness {
        set_now(T0);
        let writer = LiveWriter::new(chrono_tz::UTC);
        for (db, slot) in setup.slots {
            writer.insert(TenantKey::of_db(&db), slot);
        }
        let live = writer.view();
        let (readers_tx, mut readers) = mpsc::unbounded_channel();
        let reader: Reader = Box::new(move |from| {
            let (tx, rx) = mpsc::channel(4);
            let _ = readers_tx.send((from, tx));
            rx
        });
        let (snapshots, snapshot_inbox) = worker::channel(setup.snapshot_room);
        let (checkpointer, checkpoints) = Checkpointer::channel();
        let (loads_tx, loads) = mpsc::unbounded_channel();
        let (loaded, load_results) = mpsc::channel(8);
        let (surveys, survey_rx) = mpsc::channel(2);
        let (trigger, stop) = shutdown::channel();
        let applier = Applier::new(
            Wiring {
                live: writer,
                server: "test".into(),
                db_prefix: "bgerp_t_".into(),
                registry: setup.registry,
                timezone: chrono_tz::UTC,
                checkpoint_every: Duration::from_secs(10),
                snapshots,
                checkpointer,
                resync: Arc::new(AtomicBool::new(false)),
                loads: loads_tx,
                poke: Arc::new(Notify::new()),
                reader,
                now,
            },
            setup.orgs,
            Clock::after(T0),
            pos(4),
            BTreeMap::new(),
            setup.recomputing,
        );
        let applier = tokio::spawn(applier.run(survey_rx, load_results, stop));
        let (from, reader) = readers.recv().await.expect("the applier starts its reader");
        assert_eq!(from, pos(4), "the reader starts where the applier is");
        Harness {
            live,
            reader,
            readers,
            snapshots: snapshot_inbox,
            checkpoints,
            loads,
            loaded,
            surveys,
            trigger,
            applier,
            next_pos: 4,
        }
    }

    /// A committed transaction dated `ts`; the position after it.
    async fn tx(&mut self, ts: i64, changes: Vec<SourceChange>) -> Position {
        self.next_pos += 100;
        let end = pos(self.next_pos);
        let tx = Transaction {
            changes,
            commit_ts: ts,
            end: end.clone(),
            gtid: None,
            drift: Vec::new(),
        };
        self.send(SourceEvent::Stream(StreamEvent::Transaction(tx)))
            .await;
        end
    }

    async fn send(&self, event: SourceEvent) {
        assert!(self.reader.send(event).await.is_ok(), "the applier reads");
    }

    /// The server says it is idle, with the wall clock at `at`.
    async fn idle_at(&self, at: i64) {
        set_now(at);
        self.send(SourceEvent::Stream(StreamEvent::Heartbeat)).await;
    }

    async fn survey(&self, tenants: &[(&str, &str)]) {
        let survey = Survey {
            tenants: tenants
                .iter()
                .map(|(code, db)| Surveyed {
                    code: code.to_string(),
                    db: Some(db.to_string()),
                    problem: None,
                })
                .collect(),
        };
        assert!(self.surveys.send(survey).await.is_ok());
    }

    async fn load_request(&mut self) -> LoadRequest {
        tokio::time::timeout(Duration::from_secs(60), self.loads.recv())
            .await
            .ok()
            .flatten()
            .expect("a load request")
    }

    /// No load asked for once the applier has nothing left to do.
    async fn no_load_request(&mut self) {
        settle().await;
        assert!(self.loads.try_recv().is_err(), "no load expected");
    }

    async fn answer(&self, request: &LoadRequest, result: Result<Load, LoadFailed>) {
        let done = LoadDone {
            key: request.key.clone(),
            load: request.load,
            started: now(),
            result,
        };
        assert!(self.loaded.send(done).await.is_ok());
    }

    /// The next snapshot handed to the writer, written.
    async fn written(&mut self) -> Job {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(60), self.snapshots.recv())
                .await
                .ok()
                .flatten()
                .expect("a snapshot");
            match msg {
                Msg::Write(job) => {
                    self.snapshots.done();
                    return job;
                }
                Msg::Flush(ack) => {
                    let _ = ack.send(());
                }
            }
        }
    }

    /// The next snapshot handed to the writer, left unwritten.
    async fn handed(&mut self) -> Job {
        match tokio::time::timeout(Duration::from_secs(60), self.snapshots.recv()).await {
            Ok(Some(Msg::Write(job))) => job,
            _ => panic!("a snapshot"),
        }
    }

    fn report(&self) -> crate::live::Report {
        self.live.status().report()
    }

    /// Fires the shutdown and plays the writers until the applier is done.
    async fn stop(mut self) -> Stopped {
        self.trigger.fire();
        let (mut written, mut checkpoints) = (Vec::new(), Vec::new());
        loop {
            tokio::select! {
                result = &mut self.applier => {
                    return Stopped {
                        result: result.expect("the applier does not panic"),
                        written,
                        checkpoints,
                    };
                }
                Some(msg) = self.snapshots.recv() => match msg {
                    Msg::Write(job) => {
                        self.snapshots.done();
                        written.push(job);
                    }
                    Msg::Flush(ack) => {
                        let _ = ack.send(());
                    }
                },
                Some(submitted) = self.checkpoints.recv() => {
                    if let Some(done) = submitted.done {
                        let _ = done.send(written_outcome());
                    }
                    checkpoints.push(submitted.job);
                }
            }
        }
    }
}

fn written_outcome() -> Outcome {
    Outcome {
        written: true,
        bytes: 0,
        bytes_written: 0,
        error: None,
        resync: false,
        secs: 0.0,
    }
}

/// Lets every task run until all wait (tokio's paused clock does not move meanwhile, short of
/// a timer that is due).
async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}

fn loaded(state: TenantState, server_time: i64) -> Result<Load, LoadFailed> {
    let rows: Vec<Row> = state.all_rows().collect();
    let base = (part::base_frame(&rows).expect("encodes"), rows.len() as u64);
    Ok(Load {
        state,
        point: None,
        server_time,
        rows: rows.len() as u64,
        base,
    })
}

#[tokio::test(start_paused = true)]
async fn a_snapshot_holds_exactly_the_transactions_dated_before_its_instant() {
    let mut rows = routing();
    rows.push(waiting_token(1));
    let mut h = Harness::start(Setup {
        slots: vec![("bgerp_t_a".into(), ready("A", "bgerp_t_a", state_of(rows)))],
        ..Setup::default()
    })
    .await;
    // Dated before T0+60: in its snapshot, which the next transaction (at T0+60 itself) releases.
    h.tx(T0 + 59, vec![up("bgerp_t_a", waiting_token(2))]).await;
    h.tx(T0 + 60, vec![up("bgerp_t_a", waiting_token(3))]).await;
    let first = h.written().await;
    assert_eq!((epoch(&first), first.code.as_str()), (T0 + 60, "A"));
    assert_eq!(
        wip(&first),
        2,
        "tokens 1 and 2, not 3 (dated at the instant)"
    );
    // Idle: the next instant once the wall clock passed it, with token 3.
    h.idle_at(T0 + 119).await;
    settle().await;
    assert!(h.snapshots.try_recv().is_none(), "T0+120 not passed yet");
    h.idle_at(T0 + 120).await;
    let second = h.written().await;
    assert_eq!((epoch(&second), wip(&second)), (T0 + 120, 3));
    assert_eq!(h.report().last_instant, Some(T0 + 120));
    let stopped = h.stop().await;
    assert!(stopped.result.is_ok());
    let last = stopped
        .checkpoints
        .last()
        .expect("a checkpoint at shutdown");
    assert_eq!(last.written[&Cadence::OneMinute], T0 + 120);
}

#[tokio::test(start_paused = true)]
async fn a_load_gets_the_changes_that_waited_for_it_and_no_snapshot_before_its_first_instant() {
    let mut h = Harness::start(Setup::default()).await;
    h.survey(&[("A", "bgerp_t_a")]).await;
    let request = h.load_request().await;
    assert_eq!(
        (request.db.as_str(), request.key.as_str()),
        ("bgerp_t_a", "bgerp_t_a")
    );
    // While the load runs: the routing and token 1 (which the load will also have seen),
    // token 2 (which it will not), and a boundary.
    let routing_changes: Vec<SourceChange> =
        routing().into_iter().map(|r| up("bgerp_t_a", r)).collect();
    h.tx(T0 + 10, routing_changes).await;
    h.tx(T0 + 20, vec![up("bgerp_t_a", waiting_token(1))]).await;
    h.tx(T0 + 70, vec![up("bgerp_t_a", waiting_token(2))]).await;
    settle().await;
    assert!(
        h.snapshots.try_recv().is_none(),
        "nothing written of a loading tenant"
    );
    // The load saw the routing and token 1, as of the server's T0+25.
    let mut seen = routing();
    seen.push(waiting_token(1));
    h.answer(&request, loaded(state_of(seen), T0 + 25)).await;
    settle().await;
    let a = TenantKey::of_db("bgerp_t_a");
    {
        let slot = h.live.get(&a).expect("served");
        let r = slot.ready().expect("ready once loaded");
        assert!(
            r.state.has_token(1) && r.state.has_token(2),
            "queue replayed"
        );
        assert_eq!(r.first_instant, Instant(T0 + 60));
    }
    // The instant T0+60 was passed while loading, before the load finished: its snapshot is
    // not taken late. The next one is.
    h.tx(T0 + 125, vec![]).await;
    let job = h.written().await;
    assert_eq!((epoch(&job), wip(&job)), (T0 + 120, 2));
    assert!(h.stop().await.result.is_ok());
}

/// Organization 1, tenant A, active or not.
fn org(active: bool) -> Organization {
    Organization {
        id: 1,
        code: "A".into(),
        active,
    }
}

/// Tenants from the registry, A active and ready with one token waiting.
async fn registered_a() -> Harness {
    let mut rows = routing();
    rows.push(waiting_token(1));
    Harness::start(Setup {
        orgs: vec![org(true)],
        registry: true,
        slots: vec![("bgerp_t_a".into(), ready("A", "bgerp_t_a", state_of(rows)))],
        ..Setup::default()
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn a_tenant_deactivated_gets_no_snapshot_after_the_deactivating_commit() {
    let mut h = registered_a().await;
    h.tx(T0 + 61, vec![]).await;
    assert_eq!(epoch(&h.written().await), T0 + 60);
    h.tx(
        T0 + 90,
        vec![SourceChange::Organization {
            id: 1,
            after: Some(org(false)),
        }],
    )
    .await;
    settle().await;
    assert!(h.live.get(&TenantKey::of_db("bgerp_t_a")).is_none());
    // A survey read before the deactivation must not bring the tenant back.
    h.survey(&[("A", "bgerp_t_a")]).await;
    h.no_load_request().await;
    h.tx(T0 + 121, vec![]).await;
    let stopped = h.stop().await;
    assert!(
        stopped.written.is_empty(),
        "no snapshot after the deactivating commit"
    );
}

#[tokio::test(start_paused = true)]
async fn a_lost_position_starts_over_at_the_binlog_end() {
    let mut h = Harness::start(Setup {
        slots: vec![(
            "bgerp_t_a".into(),
            ready("A", "bgerp_t_a", state_of(routing())),
        )],
        ..Setup::default()
    })
    .await;
    set_now(T0 + 300);
    let end = Position {
        file: "bin.000009".into(),
        pos: 4,
        gtid: None,
    };
    h.send(SourceEvent::PositionLost {
        reason: "purged".into(),
        now: Ok(ServerInfo {
            flavor: Flavor::MariaDb,
            version: "10.11".into(),
            identity: "test".into(),
            position: end.clone(),
        }),
    })
    .await;
    let (from, reader) = h.readers.recv().await.expect("a new reader");
    assert_eq!(from, end);
    h.reader = reader;
    assert!(h.live.is_empty(), "every tenant is recomputed");
    assert_eq!(h.report().phase, Phase::Recomputing);
    h.survey(&[("A", "bgerp_t_a")]).await;
    let request = h.load_request().await;
    h.answer(&request, loaded(state_of(routing()), T0 + 300))
        .await;
    settle().await;
    assert_eq!(h.report().phase, Phase::Streaming, "streaming once loaded");
    // The clock starts over too: the first instant is the next boundary after now.
    h.tx(T0 + 361, vec![]).await;
    assert_eq!(epoch(&h.written().await), T0 + 360);
    assert!(h.stop().await.result.is_ok());
}

#[tokio::test(start_paused = true)]
async fn no_checkpoint_passes_a_snapshot_not_yet_written() {
    let mut h = Harness::start(Setup {
        slots: vec![(
            "bgerp_t_a".into(),
            ready("A", "bgerp_t_a", state_of(routing())),
        )],
        ..Setup::default()
    })
    .await;
    let end = h.tx(T0 + 61, vec![]).await;
    let job = h.handed().await;
    assert_eq!(epoch(&job), T0 + 60);
    // Checkpoint periods go by while the snapshot is unwritten: none is taken.
    tokio::time::sleep(Duration::from_secs(35)).await;
    assert!(h.checkpoints.try_recv().is_err());
    h.snapshots.done();
    let submitted = tokio::time::timeout(Duration::from_secs(5), h.checkpoints.recv())
        .await
        .ok()
        .flatten()
        .expect("a checkpoint once it is written");
    assert_eq!(submitted.job.position, end);
    assert_eq!(submitted.job.written[&Cadence::OneMinute], T0 + 60);
    drop(submitted);
    assert!(h.stop().await.result.is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_slow_writer_holds_the_applier_back_and_nothing_is_lost() {
    let mut h = Harness::start(Setup {
        slots: vec![(
            "bgerp_t_a".into(),
            ready("A", "bgerp_t_a", state_of(routing())),
        )],
        snapshot_room: 1,
        ..Setup::default()
    })
    .await;
    // Each crosses a boundary and changes the tenant, which must first hand over the snapshot
    // it owes; the reader's channel holds what the applier does not take.
    let mut last = pos(0);
    for m in 1..=4 {
        last = h
            .tx(T0 + 60 * m + 1, vec![up("bgerp_t_a", waiting_token(m))])
            .await;
    }
    settle().await;
    let stuck = h.report().position.expect("some applied");
    assert!(
        stuck.pos < last.pos,
        "the applier waits for the writer: at {stuck:?}, the stream at {last:?}"
    );
    let mut instants = Vec::new();
    for _ in 1..=4 {
        instants.push(epoch(&h.written().await));
    }
    assert_eq!(instants, (1..=4).map(|m| T0 + 60 * m).collect::<Vec<_>>());
    settle().await;
    assert_eq!(h.report().position, Some(last));
    assert!(h.stop().await.result.is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_full_writer_holds_back_no_transaction_whose_tenants_owe_nothing() {
    let dbs = ["bgerp_t_a", "bgerp_t_b", "bgerp_t_c"];
    let mut h = Harness::start(Setup {
        slots: dbs
            .iter()
            .map(|db| {
                (
                    db.to_string(),
                    ready(&db.to_uppercase(), db, state_of(routing())),
                )
            })
            .collect(),
        snapshot_room: 1,
        ..Setup::default()
    })
    .await;
    // The first passes a boundary: each tenant owes its snapshot, one fills the writer's room.
    h.tx(T0 + 61, vec![]).await;
    // Neither these nor the idle time between them wait for the writer.
    h.idle_at(T0 + 62).await;
    h.tx(T0 + 62, vec![]).await;
    let last = h.tx(T0 + 63, vec![]).await;
    settle().await;
    assert_eq!(h.report().position, Some(last));
    // Each tenant's snapshot, once, as the writer makes room.
    let mut written: Vec<(String, i64)> = Vec::new();
    for _ in &dbs {
        let job = h.written().await;
        let at = epoch(&job);
        written.push((job.db, at));
    }
    written.sort();
    let expected: Vec<(String, i64)> = dbs.iter().map(|d| (d.to_string(), T0 + 60)).collect();
    assert_eq!(written, expected);
    settle().await;
    assert!(h.snapshots.try_recv().is_none());
    assert!(h.stop().await.result.is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_panicked_load_marks_the_tenant_failed_and_is_retried_after_a_back_off() {
    let mut h = Harness::start(Setup::default()).await;
    h.survey(&[("A", "bgerp_t_a")]).await;
    let first = h.load_request().await;
    let panicked = tokio::spawn(async { panic!("injected") })
        .await
        .expect_err("panics");
    h.answer(&first, Err(LoadFailed::Task(panicked))).await;
    settle().await;
    let problems: HashMap<_, _> = h.report().tenant_problems.into_iter().collect();
    let problem = problems.get("A").expect("the failure is shown");
    assert!(
        problem.starts_with("load failed (retried in 1 s): the load task failed"),
        "{problem}"
    );
    assert!(h.live.is_empty(), "not served while failed");
    // A survey within the back-off asks for nothing.
    h.survey(&[("A", "bgerp_t_a")]).await;
    h.no_load_request().await;
    // After it: loaded again, the problem gone.
    set_now(T0 + 2);
    h.survey(&[("A", "bgerp_t_a")]).await;
    let second = h.load_request().await;
    assert!(second.load > first.load);
    h.answer(&second, loaded(state_of(routing()), T0 + 2)).await;
    settle().await;
    assert!(h.report().tenant_problems.is_empty());
    assert!(h
        .live
        .get(&TenantKey::of_db("bgerp_t_a"))
        .is_some_and(|s| s.ready().is_some()));
    assert!(h.stop().await.result.is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_boundary_takes_each_tenant_before_its_next_change_and_the_rest_when_idle() {
    let dbs: Vec<String> = (0..20).map(|i| format!("bgerp_t_t{i:02}")).collect();
    let slots = dbs
        .iter()
        .map(|db| {
            (
                db.clone(),
                ready(&db.to_uppercase(), db, state_of(routing())),
            )
        })
        .collect();
    let mut h = Harness::start(Setup {
        slots,
        ..Setup::default()
    })
    .await;
    // One transaction past T0+60 that changes the even tenants, last first.
    let changed: Vec<&String> = dbs.iter().step_by(2).rev().collect();
    let changes = changed
        .iter()
        .enumerate()
        .map(|(i, db)| up(db, waiting_token(100 + i as i64)))
        .collect();
    h.tx(T0 + 61, changes).await;
    let mut order = Vec::new();
    for _ in 0..dbs.len() {
        let job = h.written().await;
        assert_eq!(epoch(&job), T0 + 60);
        assert_eq!(
            wip(&job),
            0,
            "{}: the change after the boundary is not in it",
            job.db
        );
        order.push(job.db);
    }
    // The changed tenants first, in the order of their changes; every other one after.
    let expected: Vec<String> = changed.iter().map(|d| d.to_string()).collect();
    assert_eq!(&order[..changed.len()], expected.as_slice());
    let mut all = order.clone();
    all.sort();
    assert_eq!(all, dbs, "each tenant's snapshot once");
    settle().await;
    assert!(h.snapshots.try_recv().is_none());
    assert!(h.stop().await.result.is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_tenant_deactivated_just_past_a_boundary_still_gets_that_boundary() {
    let mut h = registered_a().await;
    h.tx(
        T0 + 61,
        vec![SourceChange::Organization {
            id: 1,
            after: Some(org(false)),
        }],
    )
    .await;
    let job = h.written().await;
    assert_eq!((epoch(&job), wip(&job)), (T0 + 60, 1));
    let stopped = h.stop().await;
    assert!(
        stopped.written.is_empty(),
        "nothing after the deactivating commit"
    );
}

#[tokio::test(start_paused = true)]
async fn a_survey_larger_than_a_slice_is_acted_on_in_slices_and_ends_the_recompute() {
    let n = SURVEY_SLICE + 10;
    let mut h = Harness::start(Setup {
        recomputing: true,
        slots: vec![(
            "bgerp_t_gone".into(),
            ready("GONE", "bgerp_t_gone", state_of(routing())),
        )],
        ..Setup::default()
    })
    .await;
    let tenants: Vec<(String, String)> = (0..n)
        .map(|i| (format!("T{i:04}"), format!("bgerp_t_t{i:04}")))
        .collect();
    let listed: Vec<(&str, &str)> = tenants
        .iter()
        .map(|(c, d)| (c.as_str(), d.as_str()))
        .collect();
    h.survey(&listed).await;
    let mut requests = Vec::new();
    for _ in 0..n {
        requests.push(h.load_request().await);
    }
    h.no_load_request().await;
    let asked: HashSet<&TenantKey> = requests.iter().map(|r| &r.key).collect();
    assert_eq!(asked.len(), n, "every listed tenant asked for once");
    assert_eq!(
        h.live.status().applier_steps()["survey"].count,
        2,
        "two slices"
    );
    assert!(
        h.live.get(&TenantKey::of_db("bgerp_t_gone")).is_none(),
        "the tenant no longer listed is not served once the last slice is done"
    );
    let (last, first) = requests.split_last().expect("requests");
    for r in first {
        h.answer(r, loaded(state_of(routing()), T0)).await;
    }
    settle().await;
    assert_ne!(h.report().phase, Phase::Streaming, "one load still awaited");
    h.answer(last, loaded(state_of(routing()), T0)).await;
    settle().await;
    assert_eq!(h.report().phase, Phase::Streaming);
    assert!(h.stop().await.result.is_ok());
}
