//! Tenant loads beside the applier: each request becomes a consistent-snapshot load of one
//! tenant, at most `concurrency` at a time, and comes back to the applier as a [`LoadDone`]
//! with the state, what the snapshot saw, and the base of the tenant's checkpoint part (made
//! here, so the applier never walks the rows). Every request gets an answer: a load that fails,
//! or whose task panics, comes back as failed, so no tenant waits for a load that is gone.
//!
//! How a tenant is read is a [`LoadFn`], so tests can drive the loader without a server.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use chrono::NaiveDate;
use chrono_tz::Tz;
use futures_util::future::BoxFuture;
use sqlx::MySqlPool;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::checkpoint::part;
use crate::live::TenantKey;
use crate::model::clock::local_time;
use crate::model::{Row, TenantState};
use crate::shutdown::Shutdown;
use crate::source::snapshot::{load_tenant, LoadError, LoadPoint};

pub struct LoadRequest {
    pub key: TenantKey,
    pub db: String,
    /// Which load of the slot this is.
    pub load: u64,
}

/// A load's result.
pub struct LoadDone {
    pub key: TenantKey,
    pub load: u64,
    /// Epoch seconds (this host's clock) when the load started.
    pub started: i64,
    pub result: Result<Load, LoadFailed>,
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

/// Why a load gave no state.
#[derive(Debug, thiserror::Error)]
pub enum LoadFailed {
    #[error(transparent)]
    Source(#[from] LoadError),
    #[error("cannot encode the tenant's checkpoint base")]
    Encode(#[source] std::io::Error),
    /// The load's task panicked or was cancelled (a bug: said, and the tenant retried).
    #[error("the load task failed")]
    Task(#[source] tokio::task::JoinError),
}

/// Loads tenant database `db` as of a consistent snapshot; `today` is the factory's date.
pub type LoadFn =
    Arc<dyn Fn(String, NaiveDate) -> BoxFuture<'static, Result<Load, LoadFailed>> + Send + Sync>;

/// Loads from the source server's pool.
pub fn pool_load(source: MySqlPool) -> LoadFn {
    Arc::new(move |db: String, today: NaiveDate| {
        let source = source.clone();
        Box::pin(async move { load(&source, &db, today).await })
    })
}

/// The loader: where requests go (unbounded: one per tenant at most), where results come
/// out, and the task to run until `shutdown`.
pub fn loader(
    load: LoadFn,
    concurrency: usize,
    timezone: Tz,
    mut shutdown: Shutdown,
) -> (
    mpsc::UnboundedSender<LoadRequest>,
    mpsc::Receiver<LoadDone>,
    impl Future<Output = ()> + Send + 'static,
) {
    let concurrency = concurrency.max(1);
    let (requests, mut incoming) = mpsc::unbounded_channel::<LoadRequest>();
    let (done, results) = mpsc::channel::<LoadDone>(concurrency * 2);
    let task = async move {
        let mut loads: JoinSet<Result<Load, LoadFailed>> = JoinSet::new();
        // What each running load was asked, to answer it whatever becomes of its task.
        let mut asked: HashMap<tokio::task::Id, (LoadRequest, i64)> = HashMap::new();
        let mut open = true;
        while open || !loads.is_empty() {
            tokio::select! {
                _ = shutdown.fired() => return,
                r = incoming.recv(), if open && loads.len() < concurrency => match r {
                    Some(request) => {
                        let started = chrono::Utc::now().timestamp();
                        let today = local_time(started, timezone).date();
                        let id = loads.spawn(load(request.db.clone(), today)).id();
                        asked.insert(id, (request, started));
                    }
                    None => open = false,
                },
                Some(finished) = loads.join_next_with_id(), if !loads.is_empty() => {
                    let (id, result) = match finished {
                        Ok((id, result)) => (id, result),
                        Err(e) => (e.id(), Err(LoadFailed::Task(e))),
                    };
                    let Some((request, started)) = asked.remove(&id) else {
                        continue;
                    };
                    let answer = LoadDone {
                        key: request.key,
                        load: request.load,
                        started,
                        result,
                    };
                    if done.send(answer).await.is_err() {
                        return;
                    }
                }
            }
        }
    };
    (requests, results, task)
}

async fn load(source: &MySqlPool, db: &str, today: NaiveDate) -> Result<Load, LoadFailed> {
    let loaded = {
        let mut conn = source.acquire().await.map_err(LoadError::Db)?;
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
    .map_err(LoadFailed::Task)?;
    Ok(Load {
        state,
        point: loaded.point,
        server_time: loaded.server_time,
        rows: loaded.rows,
        base: base.map_err(LoadFailed::Encode)?,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::shutdown;

    fn empty_load() -> Load {
        Load {
            state: TenantState::default(),
            point: None,
            server_time: 0,
            rows: 0,
            base: (Vec::new(), 0),
        }
    }

    fn request(db: &str, load: u64) -> LoadRequest {
        LoadRequest {
            key: TenantKey::of_db(db),
            db: db.to_string(),
            load,
        }
    }

    #[tokio::test]
    async fn a_panicking_load_is_answered_as_failed_and_the_others_go_on() {
        let load: LoadFn = Arc::new(|db: String, _| {
            Box::pin(async move {
                if db == "bad" {
                    panic!("injected");
                }
                Ok(empty_load())
            })
        });
        let (_trigger, stop) = shutdown::channel();
        let (requests, mut results, task) = loader(load, 2, chrono_tz::UTC, stop);
        let task = tokio::spawn(task);
        for (i, db) in ["a", "bad", "c"].into_iter().enumerate() {
            assert!(requests.send(request(db, i as u64)).is_ok());
        }
        let mut answers = HashMap::new();
        for _ in 0..3 {
            let done = results.recv().await.expect("an answer per request");
            answers.insert(done.key.to_string(), (done.load, done.result));
        }
        assert!(matches!(answers["a"], (0, Ok(_))));
        assert!(matches!(answers["c"], (2, Ok(_))));
        match &answers["bad"] {
            (1, Err(LoadFailed::Task(e))) => assert!(e.is_panic()),
            _ => panic!("the panicking load must come back failed"),
        }
        drop(requests);
        assert!(tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn no_more_than_concurrency_loads_at_once() {
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let load: LoadFn = {
            let (running, most) = (running.clone(), most.clone());
            Arc::new(move |_, _| {
                let (running, most) = (running.clone(), most.clone());
                Box::pin(async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    Ok(empty_load())
                })
            })
        };
        let (_trigger, stop) = shutdown::channel();
        let (requests, mut results, task) = loader(load, 3, chrono_tz::UTC, stop);
        tokio::spawn(task);
        for i in 0..10 {
            assert!(requests.send(request(&format!("t{i}"), i)).is_ok());
        }
        for _ in 0..10 {
            assert!(results.recv().await.is_some_and(|d| d.result.is_ok()));
        }
        assert_eq!(most.load(Ordering::SeqCst), 3);
    }
}
