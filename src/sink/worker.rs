//! The snapshot writer task: takes snapshots from the applier and writes them, up to `concurrency`
//! tenants at a time on the sink's pool (two at a time for the first seconds of a boundary's writes,
//! which is all a small boundary needs), each tenant's in the order they were taken (trends replace
//! days: an older snapshot must not land after a newer one). A failing write is retried with capped
//! backoff without holding up the other tenants; a tenant whose database or mv_ tables are gone has
//! the snapshot dropped. When too many snapshots wait, the task stops taking new ones and its queue
//! fills: the applier then leaves the snapshots due (an instant each, not their rows) and waits
//! only for a tenant that must hand its own over (lag, not memory). The applier can flush it before
//! a checkpoint or at shutdown. Each write's duration, rows and failures go to the service's
//! [`Status`](crate::live::status::Status).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use futures_util::future::BoxFuture;
use sqlx::MySqlPool;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::lease::{Fence, Fenced};
use super::writer::{self, WriteError};
use crate::backoff::backoff;
use crate::db::describe;
use crate::live::{LiveView, TenantKey};
use crate::model::Snapshot;
use crate::ratelimit::WARNINGS;

/// Snapshots waiting in all, beyond which the applier waits.
const MAX_WAITING: usize = 20_000;
/// Tenants written at a time when the writer starts on a boundary's snapshots: on a server of
/// two cores, eight at a time made the commits made meanwhile wait up to 80 ms (p99) against
/// 13 ms two at a time, and a thousand tenants' boundary took no longer (docs/benchmarks.md).
const GENTLE: usize = 2;
/// How long the writer writes [`GENTLE`] tenants at a time before it goes up to its
/// concurrency: ten thousand tenants' boundary needs all of it to be written within 30 s.
const RAMP_AFTER: Duration = Duration::from_secs(3);

pub struct Job {
    pub key: TenantKey,
    pub code: String,
    pub db: String,
    /// The snapshot's instant, epoch seconds.
    pub instant: i64,
    pub snapshot: Snapshot,
}

/// Whether this instance writes, as the lease says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Writing {
    /// Without `[ha]`: every snapshot is written.
    Alone,
    /// The leader: snapshots are written under this lease.
    Leader(Fence),
    /// A standby: snapshots are held until the sink shows them committed by the leader.
    Standby,
}

/// What the lease task tells the writer: whether to write, and the last instant the sink holds
/// per tenant (the held snapshots up to it are let go of).
#[derive(Debug, Clone)]
pub struct Lease {
    pub writing: Writing,
    pub committed: Arc<HashMap<TenantKey, i64>>,
}

/// What the applier sends the writer.
pub enum Msg {
    Write(Job),
    /// Answered once every snapshot sent before it is written (or dropped).
    Flush(oneshot::Sender<()>),
}

/// The applier's handle on the writer task.
#[derive(Clone)]
pub struct Snapshots {
    tx: mpsc::Sender<Msg>,
    /// Snapshots sent and not yet written (or dropped).
    unwritten: Arc<AtomicUsize>,
}

/// The writer's end of [`Snapshots`]: the task of [`writer`], or a test standing in for it.
pub struct Inbox {
    rx: mpsc::Receiver<Msg>,
    unwritten: Arc<AtomicUsize>,
}

/// A handle and its inbox, with room for `capacity` messages before the applier waits.
pub fn channel(capacity: usize) -> (Snapshots, Inbox) {
    let (tx, rx) = mpsc::channel(capacity);
    let unwritten = Arc::new(AtomicUsize::new(0));
    (
        Snapshots {
            tx,
            unwritten: unwritten.clone(),
        },
        Inbox { rx, unwritten },
    )
}

impl Snapshots {
    /// Queues a snapshot; waits only when the writer is far behind.
    pub async fn write(&self, job: Job) {
        self.unwritten.fetch_add(1, Ordering::SeqCst);
        // With room, queued at once: `send` would also give up the thread once the task's
        // cooperative budget is spent, and the applier would wait its turn mid-boundary.
        let msg = match self.tx.try_send(Msg::Write(job)) {
            Ok(()) => return,
            Err(mpsc::error::TrySendError::Full(msg)) => msg,
            Err(mpsc::error::TrySendError::Closed(msg)) => msg,
        };
        if self.tx.send(msg).await.is_err() {
            self.unwritten.fetch_sub(1, Ordering::SeqCst);
            tracing::error!("snapshot writer stopped: snapshot not written");
        }
    }

    /// Whether `n` more snapshots can be queued without waiting (or, for more than the queue
    /// holds, whether it is empty).
    pub fn has_room(&self, n: usize) -> bool {
        self.tx.capacity() >= n.min(self.tx.max_capacity())
    }

    /// Returns once there is room for `n` snapshots, and at least one (never, once the writer
    /// has stopped: there is no room to wait for).
    pub async fn room(&self, n: usize) {
        match self
            .tx
            .reserve_many(n.clamp(1, self.tx.max_capacity()))
            .await
        {
            Ok(permits) => drop(permits),
            Err(_) => std::future::pending().await,
        }
    }

    /// Whether every snapshot sent so far is written (or was dropped).
    pub fn all_written(&self) -> bool {
        self.unwritten.load(Ordering::SeqCst) == 0
    }

    /// Returns once everything queued before is written.
    pub async fn flush(&self) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Msg::Flush(ack)).await.is_ok() {
            let _ = done.await;
        }
    }
}

impl Inbox {
    pub async fn recv(&mut self) -> Option<Msg> {
        self.rx.recv().await
    }

    /// A message already waiting, if any.
    pub fn try_recv(&mut self) -> Option<Msg> {
        self.rx.try_recv().ok()
    }

    /// One snapshot received is written, or dropped for good.
    pub fn done(&self) {
        self.unwritten.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The writer: the applier's handle, and the task to run, which ends once every handle is
/// dropped and its queue is written.
pub fn writer(
    write: WriteFn,
    lease: Option<watch::Receiver<Lease>>,
    live: LiveView,
    concurrency: usize,
) -> (
    Snapshots,
    impl std::future::Future<Output = ()> + Send + 'static,
) {
    let (snapshots, inbox) = channel(1024);
    (
        snapshots,
        Scheduler::new(write, lease, live, concurrency).run(inbox),
    )
}

/// One tenant's snapshots waiting, oldest first; the first stays here while it is written, so a
/// write that panics loses nothing.
#[derive(Default)]
struct Queue {
    jobs: VecDeque<Arc<Job>>,
    writing: bool,
    /// Failed attempts in a row of the first job, and when to try it again.
    attempt: u32,
    retry_at: Option<Instant>,
}

/// How one write attempt ended.
enum Attempt {
    Written {
        rows: u64,
        took: Duration,
    },
    Failed(sqlx::Error),
    /// The write task panicked (a bug): retried like a failed write, and said.
    Panicked(String),
    /// The lease was taken over: held until the lease says who writes.
    Fenced(Fenced),
}

/// Writes one snapshot to the sink, under the lease when there is one; the rows written. A
/// function, so tests can stand in for the server.
pub type WriteFn = Arc<
    dyn Fn(Arc<Job>, Option<Fence>) -> BoxFuture<'static, Result<u64, WriteError>> + Send + Sync,
>;

/// Writes to the sink's pool, one connection per write.
pub fn pool_write(sink: MySqlPool) -> WriteFn {
    Arc::new(move |job: Arc<Job>, fence: Option<Fence>| {
        let sink = sink.clone();
        Box::pin(async move {
            let mut conn = sink.acquire().await?;
            let leased = fence.as_ref().map(|fence| writer::Leased {
                fence,
                key: &job.key,
                instant: job.instant,
            });
            writer::write(&mut conn, &job.db, &job.snapshot, leased).await
        })
    })
}

struct Scheduler {
    write: WriteFn,
    /// The lease's word, under `[ha]`; `None` writes everything.
    lease: Option<watch::Receiver<Lease>>,
    writing_as: Writing,
    /// A write was refused under this lease: nothing more is tried under it.
    fenced: Option<u64>,
    live: LiveView,
    concurrency: usize,
    queues: HashMap<TenantKey, Queue>,
    waiting: usize,
    /// Since when snapshots have been written without a break (`None`: none is).
    busy_since: Option<Instant>,
    writes: JoinSet<(TenantKey, Attempt)>,
    /// Which tenant each write task writes, to know whose write panicked.
    writing: HashMap<tokio::task::Id, TenantKey>,
    flushes: Vec<oneshot::Sender<()>>,
}

impl Scheduler {
    fn new(
        write: WriteFn,
        lease: Option<watch::Receiver<Lease>>,
        live: LiveView,
        concurrency: usize,
    ) -> Scheduler {
        let writing_as = match &lease {
            Some(l) => l.borrow().writing.clone(),
            None => Writing::Alone,
        };
        Scheduler {
            write,
            lease,
            writing_as,
            fenced: None,
            live,
            concurrency: concurrency.max(1),
            queues: HashMap::new(),
            waiting: 0,
            busy_since: None,
            writes: JoinSet::new(),
            writing: HashMap::new(),
            flushes: Vec::new(),
        }
    }

    async fn run(mut self, mut inbox: Inbox) {
        let mut open = true;
        loop {
            self.start_writes();
            // A standby's held snapshots are not waited for: the leader writes them.
            let standing_by = self.writing_as == Writing::Standby && self.writes.is_empty();
            if self.waiting == 0 || standing_by {
                for f in self.flushes.drain(..) {
                    let _ = f.send(());
                }
                if !open {
                    return;
                }
            }
            // A stretch of writes ends when none is under way: snapshots waiting out a retry
            // do not make the next boundary's writes start at full concurrency.
            if self.writes.is_empty() {
                self.busy_since = None;
            }
            let next_retry = self.queues.values().filter_map(|q| q.retry_at).min();
            // Woken when the gentle start is over, to start the writes it held back.
            let ramp = self
                .busy_since
                .map(|t| t + RAMP_AFTER)
                .filter(|at| self.concurrency > GENTLE && Instant::now() < *at);
            tokio::select! {
                msg = inbox.recv(), if open && self.waiting < MAX_WAITING => match msg {
                    Some(Msg::Write(job)) => {
                        self.busy_since.get_or_insert_with(Instant::now);
                        self.waiting += 1;
                        self.queues.entry(job.key.clone()).or_default().jobs.push_back(Arc::new(job));
                    }
                    Some(Msg::Flush(ack)) => self.flushes.push(ack),
                    None => open = false,
                },
                Some(done) = self.writes.join_next_with_id(), if !self.writes.is_empty() => {
                    let (id, key, attempt) = match done {
                        Ok((id, (key, attempt))) => (id, key, attempt),
                        Err(e) => {
                            let Some(key) = self.writing.get(&e.id()).cloned() else {
                                continue;
                            };
                            (e.id(), key, Attempt::Panicked(e.to_string()))
                        }
                    };
                    self.writing.remove(&id);
                    if self.finished(key, attempt) {
                        self.waiting -= 1;
                        inbox.done();
                    }
                }
                changed = changed(&mut self.lease), if self.lease.is_some() => match changed {
                    Some(lease) => {
                        let settled = self.on_lease(lease);
                        self.waiting -= settled;
                        for _ in 0..settled {
                            inbox.done();
                        }
                    }
                    None => self.lease = None,
                },
                _ = sleep_until(next_retry), if next_retry.is_some() => {}
                _ = sleep_until(ramp), if ramp.is_some() => {}
            }
        }
    }

    /// The lease changed: writes as it says from now on; lets go of the held snapshots the
    /// sink holds (how many).
    fn on_lease(&mut self, lease: Lease) -> usize {
        if lease.writing != self.writing_as {
            tracing::info!(writing = ?lease.writing, "snapshot writer: lease changed");
            self.fenced = None;
            self.writing_as = lease.writing;
        }
        let mut settled = 0;
        self.queues.retain(|key, q| {
            let Some(&committed) = lease.committed.get(key) else {
                return true;
            };
            // The one being written stays until its write ends.
            let keep = usize::from(q.writing);
            while q.jobs.len() > keep && q.jobs.get(keep).is_some_and(|j| j.instant <= committed) {
                q.jobs.remove(keep);
                settled += 1;
            }
            !q.jobs.is_empty()
        });
        settled
    }

    /// How many tenants may be written at once now: [`GENTLE`] for the first [`RAMP_AFTER`] of
    /// a stretch of waiting snapshots, then the concurrency.
    fn allowed(&self, now: Instant) -> usize {
        match self.busy_since {
            Some(t) if now < t + RAMP_AFTER => self.concurrency.min(GENTLE),
            _ => self.concurrency,
        }
    }

    /// Starts the first waiting snapshot of as many tenants as [`Scheduler::allowed`] (none
    /// while standing by, or fenced).
    fn start_writes(&mut self) {
        let fence = match &self.writing_as {
            Writing::Alone => None,
            Writing::Leader(f) if self.fenced != Some(f.term) => Some(f.clone()),
            Writing::Leader(_) | Writing::Standby => return,
        };
        let now = Instant::now();
        let allowed = self.allowed(now);
        for (key, q) in self.queues.iter_mut() {
            if self.writes.len() >= allowed {
                return;
            }
            if q.writing || q.retry_at.is_some_and(|t| t > now) {
                continue;
            }
            let Some(job) = q.jobs.front().cloned() else {
                continue;
            };
            q.writing = true;
            q.retry_at = None;
            let (write, key, fence) = (self.write.clone(), key.clone(), fence.clone());
            let task = self.writes.spawn({
                let key = key.clone();
                async move {
                    let started = std::time::Instant::now();
                    let attempt = match write(job, fence).await {
                        Ok(rows) => Attempt::Written {
                            rows,
                            took: started.elapsed(),
                        },
                        Err(WriteError::Db(e)) => Attempt::Failed(e),
                        Err(WriteError::Fenced(f)) => Attempt::Fenced(f),
                    };
                    (key, attempt)
                }
            });
            self.writing.insert(task.id(), key);
        }
    }

    /// Records how the write of `key`'s first snapshot ended; true when that snapshot is done
    /// with (written, or dropped for good).
    fn finished(&mut self, key: TenantKey, attempt: Attempt) -> bool {
        let Some(q) = self.queues.get_mut(&key) else {
            return false;
        };
        q.writing = false;
        let Some(job) = q.jobs.front().cloned() else {
            return false;
        };
        let settled = match attempt {
            Attempt::Written { rows, took } => {
                q.attempt = 0;
                tracing::info!(
                    tenant = %job.code,
                    at = %job.snapshot.at,
                    rows,
                    ms = took.as_millis() as u64,
                    "snapshot written"
                );
                let at = self
                    .live
                    .timezone()
                    .from_local_datetime(&job.snapshot.at)
                    .earliest()
                    .map(|t| t.timestamp());
                self.live.status().snapshot_written(
                    &job.code,
                    at,
                    &job.snapshot.cadences(),
                    rows,
                    took.as_secs_f64(),
                );
                true
            }
            Attempt::Failed(e) if is_permanent(&e) => {
                q.attempt = 0;
                self.live
                    .status()
                    .write_failed(&job.code, &describe(&e), false);
                if let Some(suppressed) = WARNINGS.check(&format!("snapshot dropped {}", job.code))
                {
                    tracing::error!(
                        tenant = %job.code, db = %job.db, error = %describe(&e), suppressed,
                        "snapshot dropped: the tenant's database or mv_ tables are gone (run \
                         flowtally migrate if the database is there)"
                    );
                }
                true
            }
            Attempt::Failed(e) => {
                q.attempt += 1;
                let error = describe(&e);
                self.live.status().write_failed(&job.code, &error, true);
                if let Some(suppressed) = WARNINGS.check(&format!("snapshot write {}", job.code)) {
                    tracing::warn!(
                        tenant = %job.code, db = %job.db, %error, attempt = q.attempt, suppressed,
                        "snapshot write failed; retrying"
                    );
                }
                q.retry_at = Some(Instant::now() + backoff(q.attempt));
                false
            }
            Attempt::Fenced(f) => {
                tracing::warn!(tenant = %job.code, error = %f, "no longer the writer: snapshots held");
                self.fenced = Some(f.ours);
                false
            }
            Attempt::Panicked(panic) => {
                q.attempt += 1;
                let error = format!("the write task panicked: {panic}");
                self.live.status().write_failed(&job.code, &error, true);
                tracing::error!(
                    tenant = %job.code, db = %job.db, %error, attempt = q.attempt,
                    "snapshot write failed; retrying"
                );
                q.retry_at = Some(Instant::now() + backoff(q.attempt));
                false
            }
        };
        if settled {
            q.jobs.pop_front();
            if q.jobs.is_empty() {
                self.queues.remove(&key);
            }
        }
        settled
    }
}

/// The lease's next word; `None` once its sender is gone.
async fn changed(lease: &mut Option<watch::Receiver<Lease>>) -> Option<Lease> {
    let rx = lease.as_mut()?;
    rx.changed().await.ok()?;
    Some(rx.borrow_and_update().clone())
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Errors that retrying cannot fix: the tenant's database or mv_ tables are gone (SQLSTATE
/// 42000: ER_BAD_DB_ERROR 1049, and the other errors of that class; 42S02: ER_NO_SUCH_TABLE
/// 1146). A denied command (also 42000) is not: the sink is failing until the operator grants
/// what the message names.
fn is_permanent(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d)
        if matches!(d.code().as_deref(), Some("42S02") | Some("42000")) && !is_denied(d.as_ref()))
}

/// ER_DBACCESS_DENIED_ERROR, ER_TABLEACCESS_DENIED_ERROR, ER_COLUMNACCESS_DENIED_ERROR,
/// ER_SPECIFIC_ACCESS_DENIED_ERROR: a missing grant.
fn is_denied(d: &dyn sqlx::error::DatabaseError) -> bool {
    d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
        .is_some_and(|m| matches!(m.number(), 1044 | 1142 | 1143 | 1227))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::live::LiveWriter;

    fn job(db: &str, minute: u32) -> Job {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
            .and_then(|d| d.and_hms_opt(8, minute, 0))
            .expect("a valid time");
        Job {
            key: TenantKey::of_db(db),
            code: db.to_uppercase(),
            db: db.into(),
            instant: at.and_utc().timestamp(),
            snapshot: Snapshot {
                at,
                views: Vec::new(),
                trends_cover: Default::default(),
            },
        }
    }

    fn transient() -> sqlx::Error {
        sqlx::Error::Io(std::io::Error::other("connection reset"))
    }

    /// What the test sink wrote: database and minute of each snapshot, in order.
    type Log = Arc<Mutex<Vec<(String, u32)>>>;

    /// A sink that records what it wrote, failing or panicking as `script` says per attempt.
    fn sink(
        script: impl Fn(&Job, usize) -> Option<&'static str> + Send + Sync + 'static,
    ) -> (WriteFn, Log) {
        let written = Arc::new(Mutex::new(Vec::new()));
        let attempts = Arc::new(AtomicUsize::new(0));
        let log = written.clone();
        let write: WriteFn = Arc::new(move |job: Arc<Job>, _| {
            let n = attempts.fetch_add(1, Ordering::SeqCst);
            let outcome = script(&job, n);
            let log = log.clone();
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                match outcome {
                    Some("panic") => panic!("injected"),
                    Some(_) => Err(transient().into()),
                    None => {
                        let minute = chrono::Timelike::minute(&job.snapshot.at);
                        log.lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push((job.db.clone(), minute));
                        Ok(1)
                    }
                }
            })
        });
        (write, written)
    }

    async fn run_all(write: WriteFn, jobs: Vec<Job>) -> LiveWriter {
        let live = LiveWriter::new(chrono_tz::UTC);
        let (snapshots, task) = writer(write, None, live.view(), 2);
        let task = tokio::spawn(task);
        for j in jobs {
            snapshots.write(j).await;
        }
        snapshots.flush().await;
        assert!(snapshots.all_written());
        drop(snapshots);
        assert!(
            task.await.is_ok(),
            "the writer ends once its handles are gone"
        );
        live
    }

    fn of(written: &Mutex<Vec<(String, u32)>>, db: &str) -> Vec<u32> {
        written
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(d, _)| d == db)
            .map(|(_, m)| *m)
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn each_tenant_in_order_and_a_failing_one_holds_up_no_other() {
        // Tenant a's first write fails three times; b's go through meanwhile.
        let (write, written) = sink(|job, _| {
            static FAILS: AtomicUsize = AtomicUsize::new(0);
            (job.db == "a" && FAILS.fetch_add(1, Ordering::SeqCst) < 3).then_some("fail")
        });
        let jobs = vec![
            job("a", 1),
            job("b", 1),
            job("a", 2),
            job("b", 2),
            job("a", 3),
        ];
        let live = run_all(write, jobs).await;
        assert_eq!(of(&written, "a"), vec![1, 2, 3]);
        assert_eq!(of(&written, "b"), vec![1, 2]);
        let first_a = written
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .position(|(d, _)| d == "a");
        assert_eq!(
            first_a,
            Some(2),
            "b's two snapshots land while a is retried"
        );
        let w = live.status().report().writes;
        assert_eq!(w.failures, 3);
        assert!(w.failing.is_empty(), "no longer failing once written");
    }

    #[tokio::test(start_paused = true)]
    async fn a_boundarys_writes_start_two_at_a_time_and_go_up_to_the_concurrency() {
        // Each write takes 10 s (so that only the ramp's own timer can start more before then);
        // when each started, and how many were under way then.
        let in_flight = Arc::new(AtomicUsize::new(0));
        let starts = Arc::new(Mutex::new(Vec::new()));
        let t0 = Instant::now();
        let write: WriteFn = {
            let (in_flight, starts) = (in_flight.clone(), starts.clone());
            Arc::new(move |_, _| {
                let n = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                starts
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((t0.elapsed(), n));
                let in_flight = in_flight.clone();
                Box::pin(async move {
                    tokio::time::sleep(Duration::from_secs(10)).await;
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    Ok(1)
                })
            })
        };
        let live = LiveWriter::new(chrono_tz::UTC);
        let (snapshots, task) = writer(write, None, live.view(), 8);
        let task = tokio::spawn(task);
        let boundary = |minute| {
            let snapshots = snapshots.clone();
            async move {
                for t in 0..40 {
                    snapshots.write(job(&format!("t{t:02}"), minute)).await;
                }
                snapshots.flush().await;
            }
        };
        boundary(1).await;
        let first: Vec<(Duration, usize)> =
            std::mem::take(&mut *starts.lock().unwrap_or_else(|p| p.into_inner()));
        assert_eq!(first.len(), 40);
        let most = |from: Duration, to: Duration| {
            first
                .iter()
                .filter(|(at, _)| (from..to).contains(at))
                .map(|(_, n)| *n)
                .max()
                .unwrap_or(0)
        };
        assert_eq!(most(Duration::ZERO, RAMP_AFTER), 2, "{first:?}");
        assert_eq!(
            first[2].0, RAMP_AFTER,
            "the third starts as the ramp is due"
        );
        assert_eq!(most(RAMP_AFTER, Duration::from_secs(3600)), 8, "{first:?}");
        // The next boundary, once the writer was idle, starts gently again.
        tokio::time::sleep(Duration::from_secs(60)).await;
        let t1 = t0.elapsed();
        boundary(2).await;
        let second = starts.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let early = second
            .iter()
            .filter(|(at, _)| *at < t1 + RAMP_AFTER)
            .map(|(_, n)| *n)
            .max();
        assert_eq!(early, Some(2), "{second:?}");
        drop(snapshots);
        assert!(task.await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_that_panics_is_retried_and_nothing_is_lost() {
        let (write, written) = sink(|_, attempt| (attempt == 0).then_some("panic"));
        let live = run_all(write, vec![job("a", 1), job("a", 2)]).await;
        assert_eq!(of(&written, "a"), vec![1, 2]);
        assert_eq!(live.status().report().writes.failures, 1);
    }

    fn fence(term: u64) -> Fence {
        Fence {
            core_db: "bgerp".into(),
            holder: "me".into(),
            term,
            lease_secs: 10,
        }
    }

    fn lease(writing: Writing, committed: &[(&str, u32)]) -> Lease {
        let at = |m: u32| job("x", m).instant;
        Lease {
            writing,
            committed: Arc::new(
                committed
                    .iter()
                    .map(|(db, m)| (TenantKey::of_db(db), at(*m)))
                    .collect(),
            ),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_standby_holds_what_the_leader_has_not_committed_and_writes_it_once_leader() {
        // Terms under which writes were attempted, and a sink that fences term 1.
        let terms = Arc::new(Mutex::new(Vec::new()));
        let (inner, written) = sink(|_, _| None);
        let write: WriteFn = {
            let terms = terms.clone();
            Arc::new(move |job: Arc<Job>, fence: Option<Fence>| {
                let term = fence.as_ref().map(|f| f.term);
                terms.lock().unwrap_or_else(|p| p.into_inner()).push(term);
                if term == Some(1) {
                    return Box::pin(async {
                        Err(WriteError::Fenced(Fenced {
                            holder: "other".into(),
                            term: 2,
                            ours: 1,
                        }))
                    });
                }
                inner(job, fence)
            })
        };
        let live = LiveWriter::new(chrono_tz::UTC);
        let (tell, hear) = watch::channel(lease(Writing::Standby, &[]));
        let (snapshots, task) = writer(write, Some(hear), live.view(), 2);
        let task = tokio::spawn(task);
        for m in 1..=4 {
            snapshots.write(job("a", m)).await;
        }
        snapshots.write(job("b", 1)).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(
            terms.lock().unwrap_or_else(|p| p.into_inner()).is_empty(),
            "a standby writes nothing"
        );
        assert!(!snapshots.all_written());
        // The leader committed a's minutes 1 and 2 and b's minute 1: let go of.
        assert!(tell
            .send(lease(Writing::Standby, &[("a", 2), ("b", 1)]))
            .is_ok());
        tokio::time::sleep(Duration::from_secs(1)).await;
        // Leader under term 1, which turns out to be fenced: nothing committed, still held.
        assert!(tell
            .send(lease(Writing::Leader(fence(1)), &[("a", 2), ("b", 1)]))
            .is_ok());
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(of(&written, "a"), Vec::<u32>::new());
        assert_eq!(
            terms.lock().unwrap_or_else(|p| p.into_inner()).as_slice(),
            &[Some(1)],
            "one try under a fenced term"
        );
        // Term 2: a's minutes 3 and 4, once each, in order; nothing of b again.
        assert!(tell
            .send(lease(Writing::Leader(fence(2)), &[("a", 2), ("b", 1)]))
            .is_ok());
        snapshots.flush().await;
        assert!(snapshots.all_written());
        assert_eq!(of(&written, "a"), vec![3, 4]);
        assert_eq!(of(&written, "b"), Vec::<u32>::new());
        drop(snapshots);
        assert!(task.await.is_ok());
    }
}
