//! The snapshot writer task: takes snapshots from the applier and writes them, up to
//! `concurrency` tenants at a time on the sink's pool, each tenant's in the order they were
//! taken (trends replace days: an older snapshot must not land after a newer one). A failing
//! write is retried with capped backoff without holding up the other tenants; a tenant whose
//! database or mv_ tables are gone has the snapshot dropped. When too many snapshots wait, the
//! task stops taking new ones and the applier waits (lag, not memory). The applier can flush
//! it before a checkpoint or at shutdown. Each write's duration, rows and failures go to the
//! service's [`Status`](crate::live::status::Status).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use futures_util::future::BoxFuture;
use sqlx::MySqlPool;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::writer;
use crate::backoff::backoff;
use crate::db::describe;
use crate::live::{LiveView, TenantKey};
use crate::model::Snapshot;
use crate::ratelimit::WARNINGS;

/// Snapshots waiting in all, beyond which the applier waits.
const MAX_WAITING: usize = 20_000;

pub struct Job {
    pub key: TenantKey,
    pub code: String,
    pub db: String,
    pub snapshot: Snapshot,
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

/// The writer's end of [`Snapshots`]: the task in [`spawn`], or a test standing in for it.
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
        if self.tx.send(Msg::Write(job)).await.is_err() {
            self.unwritten.fetch_sub(1, Ordering::SeqCst);
            tracing::error!("snapshot writer stopped: snapshot not written");
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
    live: LiveView,
    concurrency: usize,
) -> (
    Snapshots,
    impl std::future::Future<Output = ()> + Send + 'static,
) {
    let (snapshots, inbox) = channel(1024);
    (
        snapshots,
        Scheduler::new(write, live, concurrency).run(inbox),
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
}

/// Writes one snapshot to the sink; the rows written. A function, so tests can stand in for the
/// server.
pub type WriteFn =
    Arc<dyn Fn(Arc<Job>) -> BoxFuture<'static, Result<u64, sqlx::Error>> + Send + Sync>;

/// Writes to the sink's pool, one connection per write.
pub fn pool_write(sink: MySqlPool) -> WriteFn {
    Arc::new(move |job: Arc<Job>| {
        let sink = sink.clone();
        Box::pin(async move {
            let mut conn = sink.acquire().await?;
            writer::write(&mut conn, &job.db, &job.snapshot).await
        })
    })
}

struct Scheduler {
    write: WriteFn,
    live: LiveView,
    concurrency: usize,
    queues: HashMap<TenantKey, Queue>,
    waiting: usize,
    writes: JoinSet<(TenantKey, Attempt)>,
    /// Which tenant each write task writes, to know whose write panicked.
    writing: HashMap<tokio::task::Id, TenantKey>,
    flushes: Vec<oneshot::Sender<()>>,
}

impl Scheduler {
    fn new(write: WriteFn, live: LiveView, concurrency: usize) -> Scheduler {
        Scheduler {
            write,
            live,
            concurrency: concurrency.max(1),
            queues: HashMap::new(),
            waiting: 0,
            writes: JoinSet::new(),
            writing: HashMap::new(),
            flushes: Vec::new(),
        }
    }

    async fn run(mut self, mut inbox: Inbox) {
        let mut open = true;
        loop {
            self.start_writes();
            if self.waiting == 0 {
                for f in self.flushes.drain(..) {
                    let _ = f.send(());
                }
                if !open {
                    return;
                }
            }
            let next_retry = self.queues.values().filter_map(|q| q.retry_at).min();
            tokio::select! {
                msg = inbox.recv(), if open && self.waiting < MAX_WAITING => match msg {
                    Some(Msg::Write(job)) => {
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
                _ = sleep_until(next_retry), if next_retry.is_some() => {}
            }
        }
    }

    /// Starts the first waiting snapshot of as many tenants as the concurrency allows.
    fn start_writes(&mut self) {
        let now = Instant::now();
        for (key, q) in self.queues.iter_mut() {
            if self.writes.len() >= self.concurrency {
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
            let (write, key) = (self.write.clone(), key.clone());
            let task = self.writes.spawn({
                let key = key.clone();
                async move {
                    let started = std::time::Instant::now();
                    let attempt = match write(job).await {
                        Ok(rows) => Attempt::Written {
                            rows,
                            took: started.elapsed(),
                        },
                        Err(e) => Attempt::Failed(e),
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
            snapshot: Snapshot {
                at,
                views: Vec::new(),
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
        let write: WriteFn = Arc::new(move |job: Arc<Job>| {
            let n = attempts.fetch_add(1, Ordering::SeqCst);
            let outcome = script(&job, n);
            let log = log.clone();
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                match outcome {
                    Some("panic") => panic!("injected"),
                    Some(_) => Err(transient()),
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
        let (snapshots, task) = writer(write, live.view(), 2);
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
    async fn a_write_that_panics_is_retried_and_nothing_is_lost() {
        let (write, written) = sink(|_, attempt| (attempt == 0).then_some("panic"));
        let live = run_all(write, vec![job("a", 1), job("a", 2)]).await;
        assert_eq!(of(&written, "a"), vec![1, 2]);
        assert_eq!(live.status().report().writes.failures, 1);
    }
}
