//! Tenant loads beside the applier: each request becomes a consistent-snapshot load of one
//! tenant, at most `concurrency` at a time on the source pool, and comes back to the applier as
//! a [`LoadDone`] with the state, what the snapshot saw, and the base of the tenant's
//! checkpoint part (made here, so the applier never walks the rows).

use std::sync::Arc;

use chrono_tz::Tz;
use sqlx::MySqlPool;
use tokio::sync::{mpsc, Semaphore};

use super::shutdown::Shutdown;
use crate::checkpoint::part;
use crate::model::clock::local_time;
use crate::model::{Row, TenantState};
use crate::source::snapshot::{load_tenant, LoadError, LoadPoint};

pub struct LoadRequest {
    /// The slot's key (lowercased database name).
    pub key: String,
    pub db: String,
    /// Which load of the slot this is.
    pub load: u64,
}

/// A load's result.
pub struct LoadDone {
    pub key: String,
    pub load: u64,
    /// Epoch seconds (this host's clock) when the load started.
    pub started: i64,
    pub result: Result<Load, LoadError>,
}

pub struct Load {
    pub state: TenantState,
    pub point: Option<LoadPoint>,
    /// The server's clock when the snapshot started.
    pub server_time: i64,
    pub rows: u64,
    /// The checkpoint part's base frame, and the rows in it.
    pub base: (Vec<u8>, u64),
}

/// Starts the loader; requests go in unbounded (one per tenant at most), results come out.
pub fn spawn(
    source: MySqlPool,
    concurrency: usize,
    timezone: Tz,
    mut shutdown: Shutdown,
) -> (mpsc::UnboundedSender<LoadRequest>, mpsc::Receiver<LoadDone>) {
    let (requests, mut incoming) = mpsc::unbounded_channel::<LoadRequest>();
    let (done, results) = mpsc::channel::<LoadDone>(concurrency.max(1) * 2);
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    tokio::spawn(async move {
        loop {
            let request = tokio::select! {
                _ = shutdown.fired() => return,
                r = incoming.recv() => match r {
                    Some(r) => r,
                    None => return,
                },
            };
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            let (source, done) = (source.clone(), done.clone());
            tokio::spawn(async move {
                let started = chrono::Utc::now().timestamp();
                let today = local_time(started, timezone).date();
                let result = load(&source, &request.db, today).await;
                drop(permit);
                let _ = done
                    .send(LoadDone {
                        key: request.key,
                        load: request.load,
                        started,
                        result,
                    })
                    .await;
            });
        }
    });
    (requests, results)
}

async fn load(source: &MySqlPool, db: &str, today: chrono::NaiveDate) -> Result<Load, LoadError> {
    let loaded = {
        let mut conn = source.acquire().await?;
        load_tenant(&mut conn, db, today).await?
    };
    // Walking and encoding the rows is CPU work: off the async threads. The day's upkeep
    // (evicting what no view reads) comes first, so neither the base frame nor the applier's
    // first snapshot carries it.
    let mut state = loaded.state;
    let (state, base) = tokio::task::spawn_blocking(move || {
        state.prepare(today);
        let rows: Vec<Row> = state.all_rows().collect();
        let frame = part::base_frame(&rows);
        (state, frame.map(|f| (f, rows.len() as u64)))
    })
    .await
    .map_err(|e| LoadError::Db(sqlx::Error::Protocol(format!("tenant load task: {e}"))))?;
    let base = base.map_err(|e| LoadError::Db(sqlx::Error::Io(e)))?;
    Ok(Load {
        state,
        point: loaded.point,
        server_time: loaded.server_time,
        rows: loaded.rows,
        base,
    })
}
