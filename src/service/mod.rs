//! `flowtally run`: the service, as tasks that hand each other messages.
//!
//! ```text
//!   reader (binlog) ──transactions──► applier ──snapshots──► snapshot writer ──► mv_ tables
//!   watcher (tenants, schemas) ─surveys─┘ │ ▲                       (sink::worker)
//!   loader (tenant loads) ◄───requests────┘ └──states──── loader
//!                                          └──journals──► checkpoint writer ──► state/
//! ```
//!
//! - `startup`: resume from the checkpoint, or start over at the binlog's end.
//! - `applier`: the one ordered loop that applies transactions and takes snapshots; it does
//!   no I/O of its own.
//! - `watcher`: surveys which tenants there are and whether their tables are whole.
//! - `loader`: consistent-snapshot loads of tenants, a few at a time.
//! - `left_out`: rows left out of the metrics, in rate-limited log lines.
//! - [`andon`]: the floor's alerts evaluated every few seconds from the read view;
//!   [`webhook`]: their raises and clears posted to `[andon] webhook_url`.
//! - `stopwatch`: an applier step's time, on the wall clock and on its thread's CPU.
//! - [`tasks`]: the supervisor: every task by name, one shutdown, a failure said and acted on.
//!
//! This file only wires them together. The applier runs in `run`'s own task; the other tasks
//! are spawned under the supervisor, which the caller also gives its own (the HTTP server).
//! The binlog reader is the applier's: started (and, after a lost position, restarted) by it,
//! and seen to stop as its channel closing.

pub mod andon;
mod applier;
mod lease;
mod left_out;
mod loader;
mod startup;
mod stopwatch;
pub mod tasks;
pub mod watcher;
pub mod webhook;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Notify};

use crate::checkpoint::lock::StateLock;
use crate::checkpoint::writer::Checkpointer;
use crate::config::{Config, Endpoint};
use crate::db::{binlog_conn, binlog_connect_error, connect_error};
use crate::live::{History, LiveWriter, Ready, Stage, TenantKey, TenantSlot};
use crate::model::clock::Instant;
use crate::sink::worker;
use crate::source::binlog::{check_server, BinlogOptions, SetupError, StreamError};
use crate::source::reader;
use crate::tenants;
use applier::{Applier, Wiring};
use tasks::{TaskFailed, Tasks};

/// How long the tasks may take to end after the applier stopped (the SPEC's 30 s at
/// shutdown, less what the applier's last writes may take).
const TASKS_GRACE: Duration = Duration::from_secs(8);

type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Why `flowtally run` stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot connect to the {role} server {endpoint}: {detail}")]
    Connect {
        role: &'static str,
        endpoint: String,
        /// What failed, in words, with what to check.
        detail: String,
        #[source]
        cause: Cause,
    },
    /// The server cannot feed flowtally (settings, grants).
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error("cannot read the tenants from {core_db}.organization")]
    Registry {
        core_db: String,
        #[source]
        cause: sqlx::Error,
    },
    #[error("binlog stream stopped")]
    Stream(#[source] StreamError),
    #[error("binlog stream stopped: the binlog reader stopped")]
    ReaderStopped,
    #[error(transparent)]
    Task(#[from] TaskFailed),
    #[error(transparent)]
    Lease(#[from] lease::LeaseError),
}

/// This host's name, for the instance's name and its lease.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// How the instance is named on its pages and in `/healthz`: its host and replica id.
fn instance_name(server_id: u32) -> String {
    format!("{}#{server_id}", host_name())
}

/// Who holds the lease: unique per instance (a state directory has one process), and stable
/// across its restarts.
fn lease_holder(state_dir: &std::path::Path) -> String {
    let dir = std::fs::canonicalize(state_dir).unwrap_or_else(|_| state_dir.to_path_buf());
    format!("{}:{}", host_name(), dir.display())
}

fn connect_failed(role: &'static str, ep: &Endpoint, e: sqlx::Error) -> RunError {
    RunError::Connect {
        role,
        endpoint: ep.to_string(),
        detail: connect_error(ep, &e),
        cause: Box::new(e),
    }
}

/// Runs the service until `tasks`' shutdown fires (or a task fails); then writes what is
/// queued, checkpoints, waits for the tasks and returns.
pub async fn run(
    mut cfg: Config,
    _lock: StateLock,
    live: LiveWriter,
    mut tasks: Tasks,
) -> Result<(), RunError> {
    live.status().instance(&instance_name(cfg.server_id));
    let source = crate::db::pool(&cfg.source, 2 + cfg.load_concurrency as u32)
        .await
        .map_err(|e| connect_failed("source", &cfg.source, e))?;
    let sink = crate::db::pool(&cfg.sink, 1 + cfg.write_concurrency as u32)
        .await
        .map_err(|e| connect_failed("sink", &cfg.sink, e))?;
    let server = {
        let (mut conn, tls) = binlog_conn(&cfg.source)
            .await
            .map_err(|e| RunError::Connect {
                role: "source",
                endpoint: cfg.source.to_string(),
                detail: binlog_connect_error(&cfg.source, &e),
                cause: Box::new(e),
            })?;
        // `preferred` is now TLS or plain, for every later binlog connection too.
        cfg.source.ssl_mode = tls;
        let info = check_server(&mut conn).await?;
        let _ = conn.disconnect().await;
        info
    };
    tracing::info!(server = %server.identity, version = %server.version, "connected");
    let orgs = async {
        let mut conn = source.acquire().await?;
        tenants::organizations(&mut conn, &cfg.core_db).await
    }
    .await
    .map_err(|cause| RunError::Registry {
        core_db: cfg.core_db.clone(),
        cause,
    })?;

    let options = BinlogOptions::of(&cfg);
    let start = startup::start(&cfg.state_dir, &server, &source, &options).await;
    match &start.refused {
        None => live.status().resumed(),
        Some(why) => live.status().recompute(why.label()),
    }
    for r in start.restored {
        let e = r.entry;
        let slot = TenantSlot {
            code: e.code,
            db: e.db.clone(),
            stage: Stage::Ready(Ready {
                state: {
                    let mut state = r.state;
                    state.keep_journal();
                    state
                },
                loaded_at: e.loaded_at,
                first_instant: Instant(e.first_instant),
                base: None,
                history: History::new(),
            }),
        };
        live.insert(TenantKey::of_db(&e.db), slot);
    }

    let cfg = Arc::new(cfg);
    let lease = match cfg.ha.enabled.then_some(cfg.ha) {
        Some(ha) => {
            let candidate = lease::Candidate {
                core_db: cfg.core_db.clone(),
                me: lease_holder(&cfg.state_dir),
                server_id: cfg.server_id,
                lease_secs: ha.lease_secs,
            };
            let (tell, hear) = lease::prepare(&sink, &candidate).await?;
            tasks.spawn_infallible(
                "lease",
                lease::run(sink.clone(), candidate, tell, live.view(), tasks.shutdown()),
            );
            Some(hear)
        }
        None => None,
    };
    let (snapshots, writer) = worker::writer(
        worker::pool_write(sink.clone()),
        lease,
        live.view(),
        cfg.write_concurrency,
    );
    tasks.spawn_infallible("snapshot writer", writer);
    let resync = Arc::new(AtomicBool::new(false));
    let (checkpointer, checkpoint_writer) = {
        let (live, resync) = (live.view(), resync.clone());
        Checkpointer::writer(cfg.state_dir.clone(), start.manifest, move |outcome| {
            if outcome.written {
                live.status().checkpointed(outcome.bytes);
                tracing::debug!(
                    bytes = outcome.bytes,
                    written = outcome.bytes_written,
                    ms = (outcome.secs * 1000.0) as u64,
                    "checkpoint written"
                );
            } else {
                tracing::error!(
                    error = outcome.error.as_deref().unwrap_or("unknown"),
                    "checkpoint not written; the next one starts every tenant's part afresh"
                );
            }
            if outcome.resync {
                resync.store(true, Ordering::SeqCst);
            }
        })
    };
    tasks.spawn("checkpoint writer", checkpoint_writer);
    if cfg.andon.webhook_url.is_some() {
        let (tx, rx) = webhook::queue();
        live.andon().announce_to(tx);
        tasks.spawn(
            "andon webhook",
            webhook::run(cfg.andon.clone(), live.view(), rx, tasks.shutdown()),
        );
    }
    tasks.spawn_infallible(
        "andon",
        andon::run(
            live.view(),
            Duration::from_secs(cfg.andon.evaluate_secs),
            tasks.shutdown(),
        ),
    );
    let (loads, load_results, loader) = loader::loader(
        loader::pool_load(source.clone()),
        cfg.load_concurrency,
        cfg.timezone,
        tasks.shutdown(),
    );
    tasks.spawn_infallible("tenant loader", loader);
    let poke = Arc::new(Notify::new());
    let (surveys_tx, surveys) = mpsc::channel(2);
    tasks.spawn_infallible(
        "tenant watcher",
        watcher::watch(
            cfg.clone(),
            source.clone(),
            sink.clone(),
            live.view(),
            poke.clone(),
            surveys_tx,
            tasks.shutdown(),
        ),
    );
    let reader: applier::Reader = Box::new(move |from| {
        let (tx, rx) = mpsc::channel(256);
        tokio::spawn(reader::run(options.clone(), from, tx));
        rx
    });
    let applier = Applier::new(
        Wiring {
            live,
            server: server.identity.clone(),
            db_prefix: cfg.db_prefix.clone(),
            registry: cfg.discover,
            timezone: cfg.timezone,
            checkpoint_every: Duration::from_secs(cfg.checkpoint_secs),
            snapshots,
            checkpointer,
            resync,
            loads,
            poke,
            reader,
            now: applier::wall_clock,
        },
        orgs,
        start.clock,
        start.position,
        start.written,
        start.refused.is_some(),
    );
    let applying = applier.run(surveys, load_results, tasks.shutdown());
    tokio::pin!(applying);
    // A task that fails fires the shutdown: the applier then stops as at a signal, writing
    // what is queued and the checkpoint, and the failure is what `run` returns.
    let mut failed = None;
    let applied = loop {
        tokio::select! {
            result = &mut applying => break result,
            Some(failure) = tasks.next_failure(), if failed.is_none() => failed = Some(failure),
        }
    };
    let late = tasks.join_all(TASKS_GRACE).await;
    // The first failure is the one to tell: it is what stopped the rest.
    if let Some(failure) = failed {
        return Err(failure.into());
    }
    applied?;
    late.map_or(Ok(()), |failure| Err(failure.into()))
}
