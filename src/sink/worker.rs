//! The snapshot writer task: takes snapshots from a bounded channel and writes them in order,
//! retrying a failing sink with capped backoff rather than dropping a snapshot. The applier
//! waits on the channel when the sink falls behind (lag, not memory), and can flush it before
//! taking a checkpoint. Each write's duration, rows and failures go to the service's
//! [`Status`](crate::status::Status).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::TimeZone;

use sqlx::MySqlPool;
use tokio::sync::{mpsc, oneshot};

use super::writer;
use crate::db::describe;
use crate::live::Live;
use crate::model::Snapshot;
use crate::ratelimit::WARNINGS;
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

/// Errors that retrying cannot fix: the tenant's database or mv_ tables are gone (SQLSTATE
/// 42000: ER_BAD_DB_ERROR 1049, and the other errors of that class; 42S02: ER_NO_SUCH_TABLE
/// 1146). The applier stops serving a tenant whose database is gone. A denied command (also
/// 42000) is not: the sink is failing until the operator grants what the message names.
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

pub async fn run(sink: MySqlPool, mut rx: mpsc::Receiver<Msg>, live: Arc<Live>) {
    while let Some(msg) = rx.recv().await {
        match msg {
            Msg::Flush(ack) => {
                let _ = ack.send(());
            }
            Msg::Write(job) => write_with_retry(&sink, &job, &live).await,
        }
    }
}

async fn write_with_retry(sink: &MySqlPool, job: &Job, live: &Live) {
    let mut attempt = 0;
    loop {
        let started = Instant::now();
        let result = match sink.acquire().await {
            Ok(mut conn) => writer::write(&mut conn, &job.db, &job.snapshot).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(rows) => {
                let took = started.elapsed();
                tracing::info!(
                    tenant = %job.code,
                    at = %job.snapshot.at,
                    rows,
                    ms = took.as_millis() as u64,
                    "snapshot written"
                );
                let at = live
                    .timezone
                    .from_local_datetime(&job.snapshot.at)
                    .earliest()
                    .map(|t| t.timestamp());
                live.status.snapshot_written(
                    &job.code,
                    at,
                    &job.snapshot.cadences(),
                    rows,
                    took.as_secs_f64(),
                );
                return;
            }
            Err(e) if is_permanent(&e) => {
                live.status.write_failed(&describe(&e), false);
                if let Some(suppressed) = WARNINGS.check(&format!("snapshot dropped {}", job.code))
                {
                    tracing::error!(
                        tenant = %job.code, error = %describe(&e), suppressed,
                        "snapshot dropped: the tenant's database or mv_ tables are gone (run \
                         flowtally migrate if the database is there)"
                    );
                }
                return;
            }
            Err(e) => {
                attempt += 1;
                let wait = backoff(attempt).min(Duration::from_secs(30));
                let error = describe(&e);
                live.status.write_failed(&error, true);
                if let Some(suppressed) = WARNINGS.check(&format!("snapshot write {}", job.code)) {
                    tracing::warn!(tenant = %job.code, %error, attempt, suppressed, "snapshot write failed; retrying");
                }
                tokio::time::sleep(wait).await;
            }
        }
    }
}
