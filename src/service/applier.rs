//! The applier: the one ordered loop at the centre of `flowtally run`. It applies the binlog's
//! transactions in order to the tenants' states, takes the snapshots the cadence clock releases
//! and hands them to the snapshot writer, acts on the watcher's surveys and the loader's
//! results, drops a tenant at the commit that deactivates it, and hands checkpoints to the
//! checkpoint writer.
//!
//! Order is the correctness argument: one task applies everything, so a snapshot at T holds
//! exactly the transactions committed before T, whatever the timing of the other tasks. It does
//! no I/O itself: it waits only for its inputs, for the snapshot writer when that is far behind
//! and a tenant that owes snapshots must hand them over now (it changes, or stops being served:
//! backpressure, seen as lag), and for the last writes at shutdown. Idle slices and the take
//! after a transaction take only what the writer's queue has room for.
//!
//! Boundaries are lazy: passing instant T only marks each ready tenant's snapshot at T due (a push
//! per tenant). A tenant's due snapshots are taken before its next change is applied (so each still
//! sees exactly the transactions before its instant), before it stops being served, in the
//! applier's idle time in slices of [`IDLE_SLICE`], and one tenant's after every transaction while
//! the writer's queue has room (so a catch-up with no idle time still takes them, as fast as the
//! writer writes them). No checkpoint is taken while a snapshot is due. So no single input waits
//! for every tenant's snapshots at a boundary.
//!
//! A survey is acted on [`SURVEY_SLICE`] tenants at a time, the stream read between slices: a
//! survey of ten thousand tenants would otherwise hold the stream up for tens of milliseconds.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono_tz::Tz;
use tokio::sync::{mpsc, Notify};

use super::left_out;
use super::loader::{LoadDone, LoadRequest};
use super::stopwatch::Stopwatch;
use super::watcher::{Survey, Surveyed};
use super::RunError;
use crate::backoff::backoff;
use crate::causes::Causes;
use crate::checkpoint::part;
use crate::checkpoint::writer::{Checkpointer, Job as CheckpointJob, PartWork, TenantUpdate};
use crate::live::{LiveWriter, Ready, Stage, TenantKey, TenantSlot};
use crate::model::clock::{Clock, Instant};
use crate::model::views::{Cadence, ViewRows};
use crate::model::Row;
use crate::model::View;
use crate::shutdown::Shutdown;
use crate::sink::worker::{Job, Snapshots};
use crate::source::binlog::{StreamEvent, Transaction};
use crate::source::reader::SourceEvent;
use crate::source::{Organization, Position, SourceChange};

/// How soon a checkpoint that had to wait for snapshot writes is tried again.
const CHECKPOINT_RETRY: Duration = Duration::from_millis(250);
/// How long the last snapshot writes may take at shutdown.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(20);
/// How long the applier spends taking due snapshots at a time when it has nothing else to do,
/// before it looks at its inputs again.
const IDLE_SLICE: Duration = Duration::from_millis(2);
/// Surveyed tenants acted on at a time, before the applier looks at its inputs again (a
/// survey's first slice at start-up, which asks for every load, takes about a millisecond).
const SURVEY_SLICE: usize = 500;

/// Starts a binlog reader at a position; its events come out of the receiver.
pub type Reader = Box<dyn Fn(Position) -> mpsc::Receiver<SourceEvent> + Send>;

/// What the applier is wired to.
pub struct Wiring {
    pub live: LiveWriter,
    pub server: String,
    pub db_prefix: String,
    /// Tenants are the active organizations (`[tenants] discover`): then the organization rows
    /// in the stream decide who is in, and a survey (read at another moment) only adds what it
    /// found about databases and tables.
    pub registry: bool,
    pub timezone: Tz,
    pub checkpoint_every: Duration,
    pub snapshots: Snapshots,
    pub checkpointer: Checkpointer,
    /// Set by the checkpoint writer when a checkpoint failed: the next one starts every part
    /// afresh.
    pub resync: Arc<AtomicBool>,
    pub loads: mpsc::UnboundedSender<LoadRequest>,
    pub poke: Arc<Notify>,
    pub reader: Reader,
    /// The wall clock, epoch seconds (tests set their own).
    pub now: fn() -> i64,
}

pub struct Applier {
    w: Wiring,
    orgs: HashMap<i64, Organization>,
    clock: Clock,
    position: Position,
    written: BTreeMap<Cadence, i64>,
    next_load: u64,
    /// Loads that start-up (or a recompute) waits for before it says it is streaming: `None`
    /// until the first survey after it told which.
    initial: Option<HashSet<TenantKey>>,
    recomputing: bool,
    checkpoint_due: bool,
    /// Tenants whose last load failed: failures in a row, and no new load before this
    /// instant (epoch seconds).
    failed_loads: HashMap<TenantKey, (u32, i64)>,
    /// The snapshot instants passed but not yet taken, per tenant, oldest first.
    due: HashMap<TenantKey, VecDeque<Instant>>,
    /// Tenants with due snapshots, in the order they became due (a key may be listed after its
    /// snapshots were taken: [`Applier::due`] decides).
    due_order: VecDeque<TenantKey>,
    /// The codes the stream's organization rows say are active tenants.
    active: ActiveCodes,
    /// The survey being acted on, if one is.
    surveying: Option<Surveying>,
}

/// The codes (ASCII-lowercased) of the active organizations, each with how many have it: kept
/// as organizations change, where a survey's slices and the tenants' checks look them up.
#[derive(Default)]
struct ActiveCodes(HashMap<String, usize>);

impl ActiveCodes {
    fn add(&mut self, org: &Organization) {
        if org.active {
            *self.0.entry(org.code.to_ascii_lowercase()).or_default() += 1;
        }
    }

    fn remove(&mut self, org: &Organization) {
        let code = org.code.to_ascii_lowercase();
        if let (true, Some(n)) = (org.active, self.0.get_mut(&code)) {
            *n -= 1;
            if *n == 0 {
                self.0.remove(&code);
            }
        }
    }

    fn contains(&self, code: &str) -> bool {
        self.0.contains_key(&code.to_ascii_lowercase())
    }
}

/// A survey being acted on a slice at a time.
#[derive(Default)]
struct Surveying {
    /// The tenants not yet acted on.
    tenants: std::vec::IntoIter<Surveyed>,
    listed: HashSet<TenantKey>,
    /// The codes of the tenants found fine.
    fine: Vec<String>,
    /// The tenants it asked to be loaded.
    requested: HashSet<TenantKey>,
}

/// Epoch seconds by this host's clock: the applier's [`Wiring::now`] in the service.
pub fn wall_clock() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Applier {
    pub fn new(
        w: Wiring,
        orgs: Vec<Organization>,
        clock: Clock,
        position: Position,
        written: BTreeMap<Cadence, i64>,
        recomputing: bool,
    ) -> Applier {
        if !recomputing {
            w.live.status().streaming();
        }
        let mut active = ActiveCodes::default();
        orgs.iter().for_each(|o| active.add(o));
        Applier {
            w,
            orgs: orgs.into_iter().map(|o| (o.id, o)).collect(),
            active,
            surveying: None,
            clock,
            position,
            written,
            next_load: 0,
            initial: None,
            recomputing,
            checkpoint_due: false,
            failed_loads: HashMap::new(),
            due: HashMap::new(),
            due_order: VecDeque::new(),
        }
    }

    /// Applies until shutdown (or a fatal stream error), then writes what is queued and the
    /// last checkpoint.
    pub async fn run(
        mut self,
        mut surveys: mpsc::Receiver<Survey>,
        mut loads: mpsc::Receiver<LoadDone>,
        mut shutdown: Shutdown,
    ) -> Result<(), RunError> {
        let mut source = (self.w.reader)(self.position.clone());
        let writer = self.w.snapshots.clone();
        let mut ticks = tokio::time::interval(self.w.checkpoint_every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.reset();
        let result = loop {
            let retry = self.checkpoint_due;
            tokio::select! {
                biased;
                _ = shutdown.fired() => break Ok(()),
                event = source.recv() => match event {
                    Some(SourceEvent::Stream(StreamEvent::Transaction(tx))) => {
                        let started = Stopwatch::start();
                        self.on_transaction(tx).await;
                        self.step("transaction", started);
                    }
                    Some(SourceEvent::Stream(StreamEvent::Heartbeat)) => self.on_idle().await,
                    Some(SourceEvent::Reconnecting { reason, .. }) => {
                        self.w.live.status().reconnecting(&reason)
                    }
                    Some(SourceEvent::PositionLost { reason, now }) => match now {
                        Ok(info) => {
                            self.start_over(&reason, info.position).await;
                            source = (self.w.reader)(self.position.clone());
                        }
                        Err(e) => break Err(RunError::Stream(e)),
                    },
                    Some(SourceEvent::Fatal(e)) => break Err(RunError::Stream(e)),
                    None => break Err(RunError::ReaderStopped),
                },
                Some(survey) = surveys.recv(), if self.surveying.is_none() => {
                    self.surveying = Some(Surveying {
                        tenants: survey.tenants.into_iter(),
                        ..Surveying::default()
                    });
                }
                _ = std::future::ready(()), if self.surveying.is_some() => {
                    let started = Stopwatch::start();
                    self.survey_slice().await;
                    self.step("survey", started);
                }
                Some(done) = loads.recv() => {
                    let started = Stopwatch::start();
                    self.on_loaded(done).await;
                    self.step("load", started);
                }
                _ = ticks.tick() => self.checkpoint_due = true,
                _ = tokio::time::sleep(CHECKPOINT_RETRY), if retry => {}
                // Nothing else to do: due snapshots, a slice at a time, while the writer has
                // room for them.
                _ = writer.room(self.front_due()), if !self.due.is_empty() => {
                    let started = Stopwatch::start();
                    self.take_due_while_idle(IDLE_SLICE).await;
                    self.step("snapshots", started);
                }
            }
            if self.checkpoint_due {
                let started = Stopwatch::start();
                self.checkpoint(false).await;
                self.step("checkpoint", started);
            }
        };
        // Whatever stopped the stream, what was applied is kept for the next start.
        self.take_all_due().await;
        if tokio::time::timeout(SHUTDOWN_FLUSH, self.w.snapshots.flush())
            .await
            .is_err()
        {
            tracing::warn!(
                "snapshots still unwritten at shutdown: the checkpoint stays behind them"
            );
        }
        self.checkpoint(true).await;
        result
    }

    fn step(&self, kind: &'static str, started: Stopwatch) {
        self.w
            .live
            .status()
            .applier_step(kind, started.wall_secs(), started.cpu_secs());
    }

    async fn on_transaction(&mut self, mut tx: Transaction) {
        while let Some(t) = self.clock.pass_event(tx.commit_ts) {
            self.mark(t);
        }
        for change in std::mem::take(&mut tx.changes) {
            match change {
                SourceChange::Tenant { db, change } => {
                    let key = TenantKey::of_db(&db);
                    // Its snapshots due see the tenant as it was before this transaction.
                    self.take_due(&key).await;
                    if let Some(mut slot) = self.w.live.get_mut(&key) {
                        self.w
                            .live
                            .status()
                            .change_applied(&slot.code, change.table());
                        left_out::log_bad_row(&slot.code, &change);
                        slot.apply(change);
                    }
                }
                SourceChange::Organization { id, after } => self.on_organization(id, after).await,
            }
        }
        for drift in std::mem::take(&mut tx.drift) {
            let k = TenantKey::of_db(&drift.db);
            let problem = match self.w.live.get_mut(&k) {
                Some(mut slot) => slot.drifted(&tx, drift),
                None => None,
            };
            if let Some(p) = problem {
                self.unserve(&k, &p.problem.to_string()).await;
            }
        }
        self.position = tx.end;
        self.w.live.status().transaction_applied();
        self.w.live.status().position(&self.position, tx.commit_ts);
        // However busy the stream, one tenant's due snapshots per transaction (if the writer
        // has room: a tenant that changes takes its own, waiting if it must).
        if self.w.snapshots.has_room(self.front_due()) {
            if let Some(key) = self.due_order.pop_front() {
                self.take_due(&key).await;
            }
        }
    }

    /// An organization row changed: a tenant that became inactive (or lost its code) gets no
    /// snapshot after this commit; a new or reactivated one is surveyed now.
    async fn on_organization(&mut self, id: i64, after: Option<Organization>) {
        let before = self.orgs.remove(&id);
        if let Some(b) = &before {
            self.active.remove(b);
        }
        if let Some(org) = &after {
            self.active.add(org);
            self.orgs.insert(id, org.clone());
            if org.active && before.as_ref() != Some(org) {
                self.w.poke.notify_one();
            }
        }
        let gone = before.filter(|b| after.as_ref().is_none_or(|a| !a.active || a.code != b.code));
        if let Some(b) = gone {
            let k = TenantKey::expected(&self.w.db_prefix, &b.code);
            // The instants before this commit are still the tenant's.
            self.take_due(&k).await;
            if self.w.live.remove(&k).is_some() {
                tracing::info!(tenant = %b.code, "organization inactive: tenant no longer served");
                self.w.live.status().tenant_gone(&b.code);
            }
            if let Some(initial) = &mut self.initial {
                initial.remove(&k);
            }
        }
    }

    async fn on_idle(&mut self) {
        while let Some(t) = self.clock.pass_idle((self.w.now)()) {
            self.mark(t);
        }
        self.w.live.status().idle();
    }

    /// The stream passed instant `t`: every ready tenant whose first instant it has reached
    /// owes its snapshot at `t`, taken later (see the module doc).
    fn mark(&mut self, t: Instant) {
        let started = Stopwatch::start();
        for slot in self.w.live.iter() {
            if slot.ready().is_some_and(|r| r.first_instant <= t) {
                let instants = self.due.entry(slot.key().clone()).or_default();
                if instants.is_empty() {
                    self.due_order.push_back(slot.key().clone());
                }
                instants.push_back(t);
            }
        }
        for c in t.cadences() {
            self.written.insert(c, t.0);
        }
        self.w.live.status().instant(t.0);
        self.step("boundary", started);
    }

    /// Takes tenant `key`'s due snapshots, oldest first, and queues them for the writer.
    async fn take_due(&mut self, key: &TenantKey) {
        if self.due.is_empty() {
            return;
        }
        let Some(instants) = self.due.remove(key) else {
            return;
        };
        // Computed first, sent after: no map lock is held while waiting on the writer.
        let jobs: Vec<Job> = {
            let Some(mut slot) = self.w.live.get_mut(key) else {
                return;
            };
            let (code, db) = (slot.code.clone(), slot.db.clone());
            let Some(ready) = slot.ready_mut() else {
                return;
            };
            instants
                .into_iter()
                .map(|t| {
                    let snapshot = ready.state.snapshot(t.local(self.w.timezone), &t.views());
                    if let Some(ViewRows::Summary(rows)) = snapshot.get(View::Summary) {
                        ready.record(t.0, rows);
                    }
                    Job {
                        key: key.clone(),
                        code: code.clone(),
                        db: db.clone(),
                        instant: t.0,
                        snapshot,
                    }
                })
                .collect()
        };
        for job in jobs {
            self.w.snapshots.write(job).await;
        }
    }

    /// Takes due snapshots, tenant after tenant in the order they became due, for about
    /// `budget`, and only those the writer has room for: an idle slice never waits on the
    /// writer, so the next transaction does not either.
    async fn take_due_while_idle(&mut self, budget: Duration) {
        let started = std::time::Instant::now();
        while self.w.snapshots.has_room(self.front_due()) {
            let Some(key) = self.due_order.pop_front() else {
                return;
            };
            self.take_due(&key).await;
            if started.elapsed() >= budget {
                return;
            }
        }
    }

    /// How many snapshots the next tenant in line owes.
    fn front_due(&self) -> usize {
        self.due_order
            .front()
            .and_then(|k| self.due.get(k))
            .map_or(0, VecDeque::len)
    }

    /// Takes every due snapshot, waiting on the writer as it must.
    async fn take_all_due(&mut self) {
        while let Some(key) = self.due_order.pop_front() {
            self.take_due(&key).await;
        }
    }

    /// Acts on the next [`SURVEY_SLICE`] tenants of the survey under way: loads those listed
    /// and fine that are not served, stops serving those with a problem; after the last, stops
    /// serving those no longer listed and says which tenants are fine.
    async fn survey_slice(&mut self) {
        let Some(mut survey) = self.surveying.take() else {
            return;
        };
        let now = (self.w.now)();
        for t in survey.tenants.by_ref().take(SURVEY_SLICE) {
            let k = match &t.db {
                Some(db) => TenantKey::of_db(db),
                None => TenantKey::expected(&self.w.db_prefix, &t.code),
            };
            survey.listed.insert(k.clone());
            match (t.db, t.problem) {
                (_, Some(problem)) => {
                    let problem = problem.to_string();
                    self.unserve(&k, &problem).await;
                    self.w.live.status().tenant_problem(&t.code, &problem);
                }
                (Some(db), None) => {
                    // A tenant whose load failed waits out its back-off, its problem shown.
                    if self.failed_loads.get(&k).is_some_and(|(_, at)| *at > now) {
                        continue;
                    }
                    survey.fine.push(t.code.clone());
                    if self.w.live.contains(&k) {
                        continue;
                    }
                    // A survey read before the stream deactivated the tenant must not bring it
                    // back.
                    if !self.w.registry || self.active.contains(&t.code) {
                        self.request_load(k.clone(), t.code, db);
                        survey.requested.insert(k);
                    }
                }
                (None, None) => {}
            }
        }
        if !survey.tenants.as_slice().is_empty() {
            self.surveying = Some(survey);
            return;
        }
        self.w
            .live
            .status()
            .tenants_ok(survey.fine.iter().map(String::as_str));
        // Nor must a survey read before the stream activated a tenant take it out again.
        let unlisted: Vec<TenantKey> = self
            .w
            .live
            .iter()
            .filter(|s| !survey.listed.contains(s.key()))
            .filter(|s| !(self.w.registry && self.active.contains(&s.code)))
            .map(|s| s.key().clone())
            .collect();
        for k in unlisted {
            self.unserve(&k, "no longer an active tenant").await;
        }
        if self.initial.is_none() {
            // The loads it asked for that are still awaited: a transaction read between slices
            // may have stopped serving a tenant an earlier slice asked for (its organization
            // deactivated, its table changed), which no load result will then settle.
            let mut requested = survey.requested;
            requested.retain(|k| {
                self.w
                    .live
                    .get(k)
                    .is_some_and(|s| s.awaited_load().is_some())
            });
            self.initial = Some(requested);
            self.initial_done();
        }
    }

    fn request_load(&mut self, k: TenantKey, code: String, db: String) {
        self.next_load += 1;
        let load = self.next_load;
        self.w.live.insert(
            k.clone(),
            TenantSlot::loading(code, db.clone(), load, (self.w.now)()),
        );
        if self.w.loads.send(LoadRequest { key: k, db, load }).is_err() {
            tracing::error!("tenant loader stopped");
        }
    }

    async fn on_loaded(&mut self, done: LoadDone) {
        let outcome = {
            let Some(mut slot) = self.w.live.get_mut(&done.key) else {
                tracing::debug!(db = %done.key, "result of an abandoned tenant load dropped");
                return;
            };
            if slot.awaited_load() != Some(done.load) {
                tracing::debug!(db = %done.key, "result of an abandoned tenant load dropped");
                return;
            }
            let code = slot.code.clone();
            match done.result {
                Ok(load) => {
                    // The first boundary after the snapshot, by the server's clock (the one
                    // commits are dated by): everything dated before it is in the load or in
                    // the queue replayed onto it.
                    let first = Clock::after(load.server_time.max(done.started)).next();
                    tracing::info!(tenant = %code, rows = load.rows, at = ?load.point, "tenant loaded");
                    self.w.live.status().rows_loaded(load.rows);
                    self.failed_loads.remove(&done.key);
                    let problem = slot.finish_load(load.state, load.point, load.base, first);
                    problem.map(|p| (code, p.problem.to_string()))
                }
                Err(e) => {
                    let (failures, retry_at) =
                        self.failed_loads.entry(done.key.clone()).or_default();
                    *failures += 1;
                    let wait = backoff(*failures).as_secs().max(1) as i64;
                    *retry_at = (self.w.now)() + wait;
                    Some((
                        code,
                        format!("load failed (retried in {wait} s): {}", Causes(&e)),
                    ))
                }
            }
        };
        if let Some((code, problem)) = outcome {
            self.unserve(&done.key, &problem).await;
            self.w.live.status().tenant_problem(&code, &problem);
        }
        if let Some(initial) = &mut self.initial {
            initial.remove(&done.key);
        }
        self.initial_done();
    }

    /// Start-up (or a recompute) is done once the loads it waited for are: streaming, and a
    /// first checkpoint.
    fn initial_done(&mut self) {
        if self.recomputing && self.initial.as_ref().is_some_and(HashSet::is_empty) {
            self.recomputing = false;
            self.w.live.status().streaming();
            self.checkpoint_due = true;
        }
    }

    /// Stops serving tenant `k` (its state is dropped, a load under way is abandoned).
    async fn unserve(&mut self, k: &TenantKey, why: &str) {
        // Its instants passed before now are still owed.
        self.take_due(k).await;
        if let Some(initial) = &mut self.initial {
            initial.remove(k);
        }
        if let Some(slot) = self.w.live.remove(k) {
            tracing::error!(tenant = %slot.code, problem = %why, "tenant no longer served");
        }
    }

    /// The binlog the stream needs is gone (purged while behind): start over from the source
    /// tables at the server's current binlog end.
    async fn start_over(&mut self, reason: &str, at: Position) {
        // What was passed before the position was lost is owed all the same.
        self.take_all_due().await;
        tracing::warn!(%reason, "binlog position lost; full recompute from the source tables");
        self.w.live.status().recompute("binlog_purged");
        self.w.live.clear();
        self.position = at;
        self.clock = Clock::after((self.w.now)());
        self.w.resync.store(true, Ordering::SeqCst);
        self.initial = None;
        self.recomputing = true;
        // The survey under way asked for loads that were just dropped: the next one asks
        // again.
        self.surveying = None;
        self.w.poke.notify_one();
    }

    /// Hands a checkpoint to the checkpoint writer, at this transaction boundary. Only once
    /// every snapshot taken is written (a checkpoint past an unwritten snapshot would lose it
    /// on a crash): otherwise it is tried again shortly. With `wait` (shutdown), waits for the
    /// writer and for the checkpoint to be on disk.
    async fn checkpoint(&mut self, wait: bool) {
        if !self.w.snapshots.all_written() || !self.due.is_empty() {
            self.checkpoint_due = !wait;
            return;
        }
        let permit = if wait {
            self.w.checkpointer.begin().await
        } else {
            self.w.checkpointer.try_begin()
        };
        let Some(permit) = permit else {
            return;
        };
        self.checkpoint_due = false;
        let resync = self.w.resync.swap(false, Ordering::SeqCst);
        let mut tenants = Vec::with_capacity(self.w.live.len());
        for mut slot in self.w.live.iter_mut() {
            let (code, db) = (slot.code.clone(), slot.db.clone());
            let Stage::Ready(r) = &mut slot.stage else {
                continue;
            };
            r.passed(&self.position);
            match part_work(r, resync) {
                Ok(work) => tenants.push(TenantUpdate {
                    code,
                    db,
                    loaded_at: r.loaded_at.clone(),
                    first_instant: r.first_instant.0,
                    work,
                }),
                Err(e) => {
                    tracing::error!(tenant = %code, error = %e, "checkpoint not written");
                    self.w.resync.store(true, Ordering::SeqCst);
                    return;
                }
            }
        }
        let job = CheckpointJob {
            server: self.w.server.clone(),
            position: self.position.clone(),
            written: self.written.clone(),
            tenants,
        };
        self.w.checkpointer.submit(permit, job, wait).await;
    }
}

/// What the checkpoint does to a ready tenant's part: start it (a fresh load, or every part
/// after a failed checkpoint), or add its journal.
fn part_work(r: &mut Ready, resync: bool) -> std::io::Result<PartWork> {
    let changes = r.state.take_journal();
    if let Some((base, base_rows)) = r.base.take() {
        return Ok(PartWork::Start {
            base,
            base_rows,
            changes,
        });
    }
    if resync {
        // Rare (a checkpoint failed): the rows are walked here, at the applier's expense.
        let rows: Vec<Row> = r.state.all_rows().collect();
        return Ok(PartWork::Start {
            base: part::base_frame(&rows)?,
            base_rows: rows.len() as u64,
            changes: Vec::new(),
        });
    }
    Ok(if changes.is_empty() {
        PartWork::Unchanged
    } else {
        PartWork::Changes(changes)
    })
}

#[cfg(test)]
mod tests;
