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
//! - [`slot`]: a tenant's slot in the live map, loading or ready.
//! - `health`: rows left out of the metrics, in rate-limited log lines.
//! - [`shutdown`]: the one shutdown signal.
//!
//! This file only wires them together.

mod applier;
mod health;
mod loader;
pub mod shutdown;
pub mod slot;
mod startup;
mod watcher;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Notify};

use crate::checkpoint::writer::Checkpointer;
use crate::config::{Config, Endpoint};
use crate::db::{binlog_conn, binlog_connect_error, binlog_opts, connect_error, describe};
use crate::live::Live;
use crate::model::clock::Instant;
use crate::sink::worker;
use crate::source::binlog::{check_server, BinlogOptions, SetupError, StreamError};
use crate::source::reader;
use crate::tenants;
use applier::{Applier, Wiring};
use shutdown::Shutdown;
use slot::{Phase, Ready, TenantSlot};

/// Why `flowtally run` stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot connect to the {role} server {endpoint}: {detail}")]
    Connect {
        role: &'static str,
        endpoint: String,
        detail: String,
    },
    /// The server cannot feed flowtally (settings, grants).
    #[error("{0}")]
    Setup(#[from] SetupError),
    #[error("cannot read the tenants from {core_db}.organization: {detail}")]
    Registry { core_db: String, detail: String },
    #[error("binlog stream stopped: {0}")]
    Stream(StreamError),
    #[error("binlog stream stopped: the binlog reader stopped")]
    ReaderStopped,
}

fn connect_failed(role: &'static str, ep: &Endpoint, e: &sqlx::Error) -> RunError {
    RunError::Connect {
        role,
        endpoint: ep.to_string(),
        detail: connect_error(ep, e),
    }
}

/// Runs the service until `shutdown` fires; then writes what is queued, checkpoints and
/// returns.
pub async fn run(mut cfg: Config, live: Arc<Live>, shutdown: Shutdown) -> Result<(), RunError> {
    let source = crate::db::pool(&cfg.source, 2 + cfg.load_concurrency as u32)
        .await
        .map_err(|e| connect_failed("source", &cfg.source, &e))?;
    let sink = crate::db::pool(&cfg.sink, 1 + cfg.write_concurrency as u32)
        .await
        .map_err(|e| connect_failed("sink", &cfg.sink, &e))?;
    let server = {
        let (mut conn, tls) = binlog_conn(&cfg.source)
            .await
            .map_err(|e| RunError::Connect {
                role: "source",
                endpoint: cfg.source.to_string(),
                detail: binlog_connect_error(&cfg.source, &e),
            })?;
        // `preferred` is now TLS or plain, for every later binlog connection too.
        cfg.source.ssl_mode = tls;
        let info = check_server(&mut conn).await?;
        let _ = conn.disconnect().await;
        info
    };
    tracing::info!(server = %server.identity, version = %server.version, "connected");
    let orgs = {
        let mut conn = source.acquire().await.map_err(|e| RunError::Registry {
            core_db: cfg.core_db.clone(),
            detail: describe(&e),
        })?;
        tenants::organizations(&mut conn, &cfg.core_db)
            .await
            .map_err(|e| RunError::Registry {
                core_db: cfg.core_db.clone(),
                detail: describe(&e),
            })?
    };

    let options = BinlogOptions {
        opts: binlog_opts(&cfg.source),
        server_id: cfg.server_id,
        heartbeat: Duration::from_secs(cfg.heartbeat_secs),
        core_db: cfg.core_db.clone(),
        db_prefix: cfg.db_prefix.clone(),
    };
    let start = startup::start(&cfg.state_dir, &server, &source, &options).await;
    match &start.refused {
        None => live.status.resumed(),
        Some(why) => live.status.recompute(why.label()),
    }
    for r in start.restored {
        let e = r.entry;
        let slot = TenantSlot {
            code: e.code,
            db: e.db.clone(),
            phase: Phase::Ready(Ready {
                state: {
                    let mut state = r.state;
                    state.keep_journal();
                    state
                },
                loaded_at: e.loaded_at,
                first_instant: Instant(e.first_instant),
                base: None,
                history: slot::History::new(),
            }),
        };
        live.tenants.insert(e.db.to_lowercase(), slot);
    }

    let cfg = Arc::new(cfg);
    let (snapshots, writer_task) = worker::spawn(sink.clone(), live.clone(), cfg.write_concurrency);
    let resync = Arc::new(AtomicBool::new(false));
    let checkpointer = {
        let (live, resync) = (live.clone(), resync.clone());
        Checkpointer::spawn(cfg.state_dir.clone(), start.manifest, move |outcome| {
            if outcome.written {
                live.status.checkpointed(outcome.bytes);
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
    let (loads, load_results) = loader::spawn(
        source.clone(),
        cfg.load_concurrency,
        cfg.timezone,
        shutdown.clone(),
    );
    let poke = Arc::new(Notify::new());
    let (surveys_tx, surveys) = mpsc::channel(2);
    watcher::spawn(
        cfg.clone(),
        source.clone(),
        sink.clone(),
        poke.clone(),
        surveys_tx,
        shutdown.clone(),
    );
    let reader: applier::Reader = Box::new(move |from| {
        let (tx, rx) = mpsc::channel(256);
        tokio::spawn(reader::run(options.clone(), from, tx));
        rx
    });
    let recomputing = start.refused.is_some();
    let applier = Applier::new(
        Wiring {
            live: live.clone(),
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
        },
        orgs,
        start.clock,
        start.position,
        start.written,
        recomputing,
    );
    if !recomputing {
        live.status.streaming();
    }
    let result = applier.run(surveys, load_results, shutdown).await;
    let _ = writer_task.await;
    result
}
