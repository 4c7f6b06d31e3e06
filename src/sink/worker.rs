//! The snapshot writer task: takes snapshots from a bounded channel and writes them in order,
//! retrying a failing sink with capped backoff rather than dropping a snapshot. The applier
//! waits on the channel when the sink falls behind (lag, not memory), and can flush it before
//! taking a checkpoint.

use std::time::{Duration, Instant};

use sqlx::MySqlPool;
use tokio::sync::{mpsc, oneshot};

use super::writer;
use crate::db::describe;
use crate::model::Snapshot;
use crate::source::reader::backoff;

pub struct Job {
    pub code: String,
    pub db: String,
    pub snapshot: Snapshot,
}

pub enum Msg {
    Write(Job),
    /// Answered once every job sent before it is written.
    Flush(oneshot::Sender<()>),
}

/// Errors that retrying cannot fix: the tenant's database or mv_ tables are gone.
fn is_permanent(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if matches!(d.code().as_deref(), Some("42S02") | Some("42000")))
}

pub async fn run(sink: MySqlPool, mut rx: mpsc::Receiver<Msg>) {
    while let Some(msg) = rx.recv().await {
        match msg {
            Msg::Flush(ack) => {
                let _ = ack.send(());
            }
            Msg::Write(job) => write_with_retry(&sink, &job).await,
        }
    }
}

async fn write_with_retry(sink: &MySqlPool, job: &Job) {
    let mut attempt = 0;
    loop {
        let started = Instant::now();
        let result = match sink.acquire().await {
            Ok(mut conn) => writer::write(&mut conn, &job.db, &job.snapshot).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(rows) => {
                tracing::info!(
                    tenant = %job.code,
                    at = %job.snapshot.at.map(|t| t.to_string()).unwrap_or_default(),
                    rows,
                    ms = started.elapsed().as_millis() as u64,
                    "snapshot written"
                );
                return;
            }
            Err(e) if is_permanent(&e) => {
                tracing::error!(
                    tenant = %job.code, error = %describe(&e),
                    "snapshot dropped: the tenant's mv_ tables are missing (run flowtally migrate)"
                );
                return;
            }
            Err(e) => {
                attempt += 1;
                let wait = backoff(attempt).min(Duration::from_secs(30));
                tracing::warn!(tenant = %job.code, error = %describe(&e), attempt, "snapshot write failed; retrying");
                tokio::time::sleep(wait).await;
            }
        }
    }
}
