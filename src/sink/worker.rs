//! The snapshot writer task: takes snapshots from the applier and writes them, up to
//! `concurrency` tenants at a time on the sink's pool, each tenant's in the order they were
//! taken (trends replace days: an older snapshot must not land after a newer one). A failing
//! write is retried with capped backoff without holding up the other tenants; a tenant whose
//! database or mv_ tables are gone has the snapshot dropped. When too many snapshots wait, the
//! task stops taking new ones and the applier waits (lag, not memory). The applier can flush
//! it before a checkpoint or at shutdown. Each write's duration, rows and failures go to the
//! service's [`Status`](crate::status::Status).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeZone;
use sqlx::MySqlPool;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::writer;
use crate::backoff::backoff;
use crate::db::describe;
use crate::live::Live;
use crate::model::Snapshot;
use crate::ratelimit::WARNINGS;

/// Snapshots waiting in all, beyond which the applier waits.
const MAX_WAITING: usize = 20_000;

pub struct Job {
    pub code: String,
    pub db: String,
    pub snapshot: Snapshot,
}

enum Msg {
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

impl Snapshots {
    /// Queues a snapshot; waits only when the writer is [`MAX_WAITING`] snapshots behind.
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

/// Starts the writer; it stops once every handle is dropped and its queue is written.
pub fn spawn(
    sink: MySqlPool,
    live: Arc<Live>,
    concurrency: usize,
) -> (Snapshots, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(1024);
    let unwritten = Arc::new(AtomicUsize::new(0));
    let scheduler = Scheduler::new(sink, live, concurrency, unwritten.clone());
    let task = tokio::spawn(scheduler.run(rx));
    (Snapshots { tx, unwritten }, task)
}

/// One tenant's snapshots waiting, oldest first.
#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    writing: bool,
    /// Failed attempts in a row of the first job, and when to try it again.
    attempt: u32,
    retry_at: Option<Instant>,
}

struct Scheduler {
    sink: MySqlPool,
    live: Arc<Live>,
    concurrency: usize,
    queues: HashMap<String, Queue>,
    waiting: usize,
    unwritten: Arc<AtomicUsize>,
    writes: JoinSet<(String, Job, Result<u64, sqlx::Error>, Duration)>,
    flushes: Vec<oneshot::Sender<()>>,
}

impl Scheduler {
    fn new(
        sink: MySqlPool,
        live: Arc<Live>,
        concurrency: usize,
        unwritten: Arc<AtomicUsize>,
    ) -> Scheduler {
        Scheduler {
            sink,
            live,
            concurrency: concurrency.max(1),
            queues: HashMap::new(),
            waiting: 0,
            unwritten,
            writes: JoinSet::new(),
            flushes: Vec::new(),
        }
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
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
                msg = rx.recv(), if open && self.waiting < MAX_WAITING => match msg {
                    Some(Msg::Write(job)) => {
                        self.waiting += 1;
                        self.queues.entry(job.db.to_lowercase()).or_default().jobs.push_back(job);
                    }
                    Some(Msg::Flush(ack)) => self.flushes.push(ack),
                    None => open = false,
                },
                Some(done) = self.writes.join_next(), if !self.writes.is_empty() => match done {
                    Ok((key, job, result, took)) => self.finished(key, job, result, took),
                    Err(e) => tracing::error!(error = %e, "snapshot write task failed"),
                },
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
            let Some(job) = q.jobs.pop_front() else {
                continue;
            };
            q.writing = true;
            q.retry_at = None;
            let (sink, key) = (self.sink.clone(), key.clone());
            self.writes.spawn(async move {
                let started = std::time::Instant::now();
                let result = match sink.acquire().await {
                    Ok(mut conn) => writer::write(&mut conn, &job.db, &job.snapshot).await,
                    Err(e) => Err(e),
                };
                (key, job, result, started.elapsed())
            });
        }
    }

    fn finished(
        &mut self,
        key: String,
        job: Job,
        result: Result<u64, sqlx::Error>,
        took: Duration,
    ) {
        let q = self.queues.entry(key.clone()).or_default();
        q.writing = false;
        match result {
            Ok(rows) => {
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
                    .timezone
                    .from_local_datetime(&job.snapshot.at)
                    .earliest()
                    .map(|t| t.timestamp());
                self.live.status.snapshot_written(
                    &job.code,
                    at,
                    &job.snapshot.cadences(),
                    rows,
                    took.as_secs_f64(),
                );
                self.waiting -= 1;
                self.unwritten.fetch_sub(1, Ordering::SeqCst);
            }
            Err(e) if is_permanent(&e) => {
                q.attempt = 0;
                self.live
                    .status
                    .write_failed(&job.code, &describe(&e), false);
                if let Some(suppressed) = WARNINGS.check(&format!("snapshot dropped {}", job.code))
                {
                    tracing::error!(
                        tenant = %job.code, db = %job.db, error = %describe(&e), suppressed,
                        "snapshot dropped: the tenant's database or mv_ tables are gone (run \
                         flowtally migrate if the database is there)"
                    );
                }
                self.waiting -= 1;
                self.unwritten.fetch_sub(1, Ordering::SeqCst);
            }
            Err(e) => {
                q.attempt += 1;
                let error = describe(&e);
                self.live.status.write_failed(&job.code, &error, true);
                if let Some(suppressed) = WARNINGS.check(&format!("snapshot write {}", job.code)) {
                    tracing::warn!(
                        tenant = %job.code, db = %job.db, %error, attempt = q.attempt, suppressed,
                        "snapshot write failed; retrying"
                    );
                }
                q.retry_at = Some(Instant::now() + backoff(q.attempt));
                q.jobs.push_front(job);
            }
        }
        if q.jobs.is_empty() && !q.writing {
            self.queues.remove(&key);
        }
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
