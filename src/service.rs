//! `flowtally run`: the applier at the centre of the service. It starts from a checkpoint or a
//! full recompute, then applies the binlog's transactions in order to the per-tenant states,
//! takes the snapshots the cadence clock releases and hands them to the writer, adds and drops
//! tenants as the organization table says, and checkpoints at transaction boundaries.
//!
//! Order is the correctness argument: one task applies everything, so a snapshot at T holds
//! exactly the transactions committed before T, whatever the timing of the reader and writer.
//!
//! A tenant whose source tables lose something flowtally reads (a needed column dropped or
//! renamed, a table dropped: seen in the binlog's table maps, or by the periodic check of
//! information_schema) is *degraded*: its state is dropped, it is not snapshotted, and its
//! problem is reported; once its tables are whole again it is reloaded like a new tenant. A
//! tenant whose database is gone is no longer served. Other tenants are not affected.

mod health;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use health::LeftOutLog;
use sqlx::{MySqlPool, Row as _};
use tokio::sync::{mpsc, oneshot};

use crate::checkpoint::{Checkpoint, Refused, TenantRows};
use crate::config::Config;
use crate::db::{binlog_opts, describe, ident};
use crate::live::{Live, Served};
use crate::model::clock::{Clock, Instant};
use crate::model::TenantState;
use crate::ratelimit::WARNINGS;
use crate::schema::SchemaProblem;
use crate::sink::migrate::missing_tables;
use crate::sink::worker::{self, Job, Msg};
use crate::source::binlog::{check_server, BinlogOptions, ServerInfo, StreamEvent, Transaction};
use crate::source::reader::{self, SourceEvent};
use crate::source::snapshot::{load_tenant, LoadError, Loaded};
use crate::source::{Organization, Position, SourceChange};
use crate::tenants::{self, Tenant};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Setup(String),
    #[error("binlog stream stopped: {0}")]
    Stream(String),
}

/// How often served tenants' source tables are checked, and their left-out rows logged.
const HEALTH_SECS: u64 = 30;

struct LoadDone {
    db: String,
    /// Which load of the tenant this is: the result of an abandoned one is dropped.
    gen: u64,
    result: Result<Loaded, LoadError>,
}

pub struct Service {
    cfg: Config,
    source: MySqlPool,
    /// Where the mv_ tables are: their presence is checked as the writer (a reader login
    /// without grants on them does not see them in information_schema).
    sink: MySqlPool,
    server: ServerInfo,
    live: Arc<Live>,
    orgs: HashMap<i64, Organization>,
    clock: Clock,
    last_instant: Option<Instant>,
    position: Position,
    writer: mpsc::Sender<Msg>,
    loads: (mpsc::Sender<LoadDone>, mpsc::Receiver<LoadDone>),
    /// The load each loading tenant waits for, by key.
    loading: HashMap<String, u64>,
    next_load: u64,
    left_out: LeftOutLog,
}

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

fn key(db: &str) -> String {
    db.to_lowercase()
}

/// Runs the service until `shutdown` fires; then flushes, checkpoints and returns.
pub async fn run(
    mut cfg: Config,
    live: Arc<Live>,
    shutdown: oneshot::Receiver<()>,
) -> Result<(), RunError> {
    let source = crate::db::pool(&cfg.source, 4).await.map_err(|e| {
        RunError::Setup(format!(
            "cannot connect to the source server {}: {}",
            cfg.source,
            crate::db::connect_error(&cfg.source, &e)
        ))
    })?;
    let sink = crate::db::pool(&cfg.sink, 2).await.map_err(|e| {
        RunError::Setup(format!(
            "cannot connect to the sink server {}: {}",
            cfg.sink,
            crate::db::connect_error(&cfg.sink, &e)
        ))
    })?;
    let server = {
        let (mut conn, tls) = crate::db::binlog_conn(&cfg.source)
            .await
            .map_err(|e| RunError::Setup(format!("cannot connect to {}: {e}", cfg.source)))?;
        // `preferred` is now TLS or plain, for every later binlog connection too.
        cfg.source.ssl_mode = tls;
        let info = check_server(&mut conn)
            .await
            .map_err(|e| RunError::Setup(e.to_string()))?;
        let _ = conn.disconnect().await;
        info
    };
    tracing::info!(server = %server.identity, version = %server.version, "connected");
    let (writer, writer_rx) = mpsc::channel(64);
    let writer_task = tokio::spawn(worker::run(sink.clone(), writer_rx, live.clone()));
    let mut service = Service {
        clock: Clock::after(now_secs()),
        position: server.position.clone(),
        cfg,
        source,
        sink,
        server,
        live: live.clone(),
        orgs: HashMap::new(),
        last_instant: None,
        writer,
        loads: mpsc::channel(16),
        loading: HashMap::new(),
        next_load: 0,
        left_out: LeftOutLog::default(),
    };
    service.start().await?;
    let result = service.stream(shutdown).await;
    // Whatever stopped the stream, what was applied is kept for the next start.
    service.checkpoint().await;
    drop(service);
    let _ = writer_task.await;
    result
}

impl Service {
    /// Resumes from a valid checkpoint, else recomputes every tenant from the source tables.
    async fn start(&mut self) -> Result<(), RunError> {
        self.load_orgs().await?;
        match self.usable_checkpoint().await {
            Ok(cp) => {
                tracing::info!(position = %cp.position, tenants = cp.tenants.len(), "resuming from checkpoint");
                self.position = cp.position.clone();
                self.clock = match cp.last() {
                    Some(last) => Clock::resume(last),
                    None => Clock::after(cp.taken_at),
                };
                self.last_instant = cp.last();
                for t in &cp.tenants {
                    self.live.tenants.insert(
                        key(&t.db),
                        Served {
                            code: t.code.clone(),
                            db: t.db.clone(),
                            state: t.restore(),
                            loaded_at: t.loaded_at.clone(),
                            pending: None,
                        },
                    );
                }
                self.live.status.resumed();
            }
            Err(why) => {
                tracing::warn!(reason = %why, "full recompute from the source tables");
                self.live.status.recompute(why.label());
            }
        }
        // Tenants the checkpoint lacks (or all, after a refusal) are loaded now; the stream
        // starts at the checkpoint or at the position read before any load began.
        self.reconcile_tenants(true).await?;
        self.checkpoint().await;
        Ok(())
    }

    async fn usable_checkpoint(&self) -> Result<Checkpoint, Refused> {
        let cp = Checkpoint::load(&self.cfg.state_dir, Some(&self.server.identity))?;
        let logs = sqlx::query("SHOW BINARY LOGS")
            .fetch_all(&self.source)
            .await
            .map_err(|e| Refused::Corrupt(Checkpoint::path(&self.cfg.state_dir), describe(&e)))?;
        let present = logs
            .iter()
            .filter_map(|r| crate::db::name_column(r, 0).ok())
            .any(|f| f == cp.position.file);
        if !present {
            return Err(Refused::Purged(cp.position.file));
        }
        Ok(cp)
    }

    async fn load_orgs(&mut self) -> Result<(), RunError> {
        let sql = format!(
            "SELECT id_org, code, status = 'active' FROM {}.organization",
            ident(&self.cfg.core_db)
        );
        let rows = sqlx::query(&sql)
            .fetch_all(&self.source)
            .await
            .map_err(|e| {
                RunError::Setup(format!(
                    "cannot read {}.organization: {}",
                    self.cfg.core_db,
                    describe(&e)
                ))
            })?;
        for r in rows {
            let (Ok(id), Ok(code)) = (r.try_get::<i64, _>(0), crate::db::name_column(&r, 1)) else {
                continue;
            };
            let active = r.try_get::<Option<i64>, _>(2).ok().flatten() == Some(1);
            self.orgs.insert(id, Organization { id, code, active });
        }
        Ok(())
    }

    /// Serves the tenants the registry lists now: loads new ones (inline at start-up, in the
    /// background later), skips those without database, mv_ tables or whole source tables, and
    /// stops serving those whose database is gone.
    async fn reconcile_tenants(&mut self, inline: bool) -> Result<(), RunError> {
        let wanted = {
            let mut conn = self
                .source
                .acquire()
                .await
                .map_err(|e| RunError::Setup(describe(&e)))?;
            tenants::discover(&mut conn, &self.cfg)
                .await
                .map_err(|e| RunError::Setup(describe(&e)))?
        };
        let today = Instant(now_secs()).local(self.cfg.timezone).date();
        for Tenant { code, db } in wanted {
            let Some(db) = db else {
                let problem = SchemaProblem::NoDatabase.to_string();
                self.unserve(&Tenant::expected_db(&self.cfg.db_prefix, &code), &problem);
                self.live.status.tenant_problem(&code, &problem);
                continue;
            };
            if self.live.tenants.contains_key(&key(&db)) {
                continue;
            }
            let missing = match self.sink_missing_tables(&db).await {
                Ok(m) => m,
                Err(e) => {
                    self.live.status.tenant_problem(&code, &e);
                    continue;
                }
            };
            if !missing.is_empty() {
                self.live.status.tenant_problem(
                    &code,
                    &format!("lacks {}: run flowtally migrate", missing.join(", ")),
                );
                continue;
            }
            match self.source_problem(&db).await {
                Ok(None) => {}
                Ok(Some(problem)) => {
                    self.live.status.tenant_problem(&code, &problem.to_string());
                    continue;
                }
                Err(e) => {
                    self.live.status.tenant_problem(&code, &e);
                    continue;
                }
            }
            self.live.status.tenant_ok(&code);
            let slot = Served {
                code: code.clone(),
                db: db.clone(),
                state: TenantState::default(),
                loaded_at: None,
                pending: Some(Vec::new()),
            };
            self.live.tenants.insert(key(&db), slot);
            self.next_load += 1;
            let gen = self.next_load;
            self.loading.insert(key(&db), gen);
            if inline {
                let result = self.load(&db, today).await;
                self.on_loaded(LoadDone { db, gen, result });
            } else {
                let source = self.source.clone();
                let done = self.loads.0.clone();
                tokio::spawn(async move {
                    let result = match source.acquire().await {
                        Ok(mut conn) => load_tenant(&mut conn, &db, today).await,
                        Err(e) => Err(LoadError::Db(e)),
                    };
                    let _ = done.send(LoadDone { db, gen, result }).await;
                });
            }
        }
        Ok(())
    }

    async fn sink_missing_tables(&self, db: &str) -> Result<Vec<&'static str>, String> {
        let mut conn = self.sink.acquire().await.map_err(|e| describe(&e))?;
        missing_tables(&mut conn, db)
            .await
            .map_err(|e| describe(&e))
    }

    /// What keeps `db`'s source tables from being followed, if anything.
    async fn source_problem(&self, db: &str) -> Result<Option<SchemaProblem>, String> {
        let mut conn = self.source.acquire().await.map_err(|e| describe(&e))?;
        crate::catalog::read_sources(&mut conn, &[db.to_string()])
            .await
            .map(|c| c.source_problem(db))
            .map_err(|e| format!("cannot check the source tables: {}", describe(&e)))
    }

    /// Stops serving the tenant with key `k` (its state is dropped, a load under way is
    /// abandoned); its code if it was served. The caller reports the problem.
    fn unserve(&mut self, k: &str, why: &str) -> Option<String> {
        self.loading.remove(k);
        self.left_out.forget(k);
        let (_, slot) = self.live.tenants.remove(k)?;
        tracing::error!(tenant = %slot.code, problem = %why, "tenant no longer served");
        Some(slot.code)
    }

    /// Every served tenant's source tables are still whole (else it is degraded), and what its
    /// rows left out of the metrics are (logged when they grow).
    async fn check_health(&mut self) {
        let served: Vec<(String, String, String)> = self
            .live
            .tenants
            .iter()
            .filter(|s| s.pending.is_none())
            .map(|s| (s.key().clone(), s.code.clone(), s.db.clone()))
            .collect();
        for (k, code, db) in served {
            match self.source_problem(&db).await {
                Ok(None) => {}
                Ok(Some(problem)) => {
                    let problem = problem.to_string();
                    if self.unserve(&k, &problem).is_some() {
                        self.live.status.tenant_problem(&code, &problem);
                    }
                    continue;
                }
                Err(e) => {
                    if let Some(suppressed) = WARNINGS.check(&format!("schema check {code}")) {
                        tracing::warn!(tenant = %code, error = %e, suppressed, "tenant check failed");
                    }
                }
            }
            let Some(left_out) = self.live.tenants.get(&k).map(|s| s.state.left_out()) else {
                continue;
            };
            self.left_out.check(&k, &code, left_out);
        }
    }

    async fn load(&self, db: &str, today: chrono::NaiveDate) -> Result<Loaded, LoadError> {
        let mut conn = self.source.acquire().await?;
        load_tenant(&mut conn, db, today).await
    }

    fn on_loaded(&mut self, done: LoadDone) {
        let k = key(&done.db);
        if self.loading.get(&k) != Some(&done.gen) {
            // Abandoned: the tenant was dropped or degraded (and maybe reloaded) meanwhile.
            tracing::debug!(db = %done.db, "result of an abandoned tenant load dropped");
            return;
        }
        self.loading.remove(&k);
        match done.result {
            Ok(loaded) => {
                // None: deactivated while loading.
                if let Some(mut slot) = self.live.tenants.get_mut(&k) {
                    tracing::info!(tenant = %slot.code, rows = loaded.rows, at = ?loaded.position, "tenant loaded");
                    self.live.status.rows_loaded(loaded.rows);
                    slot.finish_load(loaded);
                }
            }
            Err(e) => {
                if let Some((_, slot)) = self.live.tenants.remove(&k) {
                    tracing::error!(tenant = %slot.code, error = %e, "tenant load failed; it is skipped");
                    self.live.status.tenant_problem(&slot.code, &e.to_string());
                }
            }
        }
    }

    fn spawn_reader(&self) -> (tokio::task::JoinHandle<()>, mpsc::Receiver<SourceEvent>) {
        let (tx, rx) = mpsc::channel(256);
        let options = BinlogOptions {
            opts: binlog_opts(&self.cfg.source),
            server_id: self.cfg.server_id,
            heartbeat: Duration::from_secs(self.cfg.heartbeat_secs),
            core_db: self.cfg.core_db.clone(),
            db_prefix: self.cfg.db_prefix.clone(),
        };
        (
            tokio::spawn(reader::run(options, self.position.clone(), tx)),
            rx,
        )
    }

    async fn stream(&mut self, mut shutdown: oneshot::Receiver<()>) -> Result<(), RunError> {
        let (mut reader, mut rx) = self.spawn_reader();
        let mut checkpoints = tokio::time::interval(Duration::from_secs(self.cfg.checkpoint_secs));
        let mut rediscover = tokio::time::interval(Duration::from_secs(10));
        let mut health = tokio::time::interval(Duration::from_secs(HEALTH_SECS));
        health.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.live.status.streaming();
        let result = loop {
            tokio::select! {
                _ = &mut shutdown => break Ok(()),
                event = rx.recv() => match event {
                    Some(SourceEvent::Stream(StreamEvent::Transaction(tx))) => self.on_transaction(tx).await,
                    Some(SourceEvent::Stream(StreamEvent::Heartbeat)) => self.on_idle().await,
                    Some(SourceEvent::Reconnecting { reason, .. }) => self.live.status.reconnecting(&reason),
                    Some(SourceEvent::PositionLost(reason)) => {
                        reader.abort();
                        if let Err(e) = self.recompute_all(&reason).await {
                            break Err(e);
                        }
                        (reader, rx) = self.spawn_reader();
                        self.live.status.streaming();
                    }
                    Some(SourceEvent::Fatal(reason)) => break Err(RunError::Stream(reason)),
                    None => break Err(RunError::Stream("the binlog reader stopped".into())),
                },
                Some(done) = self.loads.1.recv() => self.on_loaded(done),
                _ = checkpoints.tick() => self.checkpoint().await,
                _ = rediscover.tick() => {
                    if let Err(e) = self.reconcile_tenants(false).await {
                        tracing::warn!(error = %e, "tenant discovery failed");
                    }
                }
                _ = health.tick() => self.check_health().await,
            }
        };
        reader.abort();
        result
    }

    /// The binlog the stream needs is gone (purged while behind): start over from the source
    /// tables at the server's current position.
    async fn recompute_all(&mut self, reason: &str) -> Result<(), RunError> {
        tracing::warn!(%reason, "binlog position lost; full recompute from the source tables");
        self.live.status.recompute("binlog_purged");
        let mut conn = mysql_async::Conn::new(binlog_opts(&self.cfg.source))
            .await
            .map_err(|e| RunError::Setup(format!("cannot connect to {}: {e}", self.cfg.source)))?;
        let info = check_server(&mut conn)
            .await
            .map_err(|e| RunError::Setup(e.to_string()))?;
        let _ = conn.disconnect().await;
        self.live.tenants.clear();
        self.loading.clear();
        self.left_out.clear();
        self.position = info.position;
        self.clock = Clock::after(now_secs());
        self.reconcile_tenants(true).await?;
        self.checkpoint().await;
        Ok(())
    }

    async fn on_transaction(&mut self, tx: Transaction) {
        while let Some(t) = self.clock.pass_event(tx.commit_ts) {
            self.emit(t).await;
        }
        let mut org_changed = false;
        for change in tx.changes {
            match change {
                SourceChange::Tenant { db, change } => {
                    if let Some(mut slot) = self.live.tenants.get_mut(&key(&db)) {
                        self.live.status.change_applied(&slot.code, change.table());
                        health::log_bad_row(&slot.code, &change);
                        slot.apply(&tx.end, change);
                    }
                }
                SourceChange::Organization { id, after } => {
                    org_changed = true;
                    let before = self.orgs.remove(&id);
                    if let Some(org) = &after {
                        self.orgs.insert(id, org.clone());
                    }
                    let gone = before
                        .filter(|b| after.as_ref().is_none_or(|a| !a.active || a.code != b.code));
                    if let Some(b) = gone {
                        self.drop_tenant(&b.code);
                    }
                }
            }
        }
        // A served table lost columns: its changes from here on cannot be read, so the tenant's
        // state would silently diverge. Unless its load already saw past this transaction, it
        // is degraded (and reloaded once the columns are back).
        for d in &tx.drift {
            let k = key(&d.db);
            let stale =
                self.live.tenants.get(&k).map(|s| {
                    s.pending.is_some() || s.loaded_at.as_ref().is_none_or(|p| tx.end.is_after(p))
                });
            if stale != Some(true) {
                continue;
            }
            let problem = d.problem.to_string();
            if let Some(code) = self.unserve(&k, &problem) {
                self.live.status.tenant_problem(&code, &problem);
            }
        }
        self.position = tx.end;
        self.live.status.transaction_applied();
        self.live.status.position(&self.position, tx.commit_ts);
        if org_changed {
            if let Err(e) = self.reconcile_tenants(false).await {
                tracing::warn!(error = %e, "tenant discovery failed");
            }
        }
    }

    fn drop_tenant(&mut self, code: &str) {
        let prefix_db = Tenant::expected_db(&self.cfg.db_prefix, code);
        self.loading.remove(&prefix_db);
        self.left_out.forget(&prefix_db);
        if self.live.tenants.remove(&prefix_db).is_some() {
            tracing::info!(tenant = %code, "organization inactive: tenant no longer served");
            self.live.status.tenant_gone(code);
        }
    }

    async fn on_idle(&mut self) {
        while let Some(t) = self.clock.pass_idle(now_secs()) {
            self.emit(t).await;
        }
        self.live.status.idle();
    }

    /// Takes the snapshot at `t` for every loaded tenant and queues it for the writer.
    async fn emit(&mut self, t: Instant) {
        let views = t.views();
        let at = t.local(self.cfg.timezone);
        // Computed first, sent after: no map lock is held while waiting on the writer.
        let jobs: Vec<Job> = self
            .live
            .tenants
            .iter_mut()
            .filter(|s| s.pending.is_none())
            .map(|mut slot| Job {
                code: slot.code.clone(),
                db: slot.db.clone(),
                snapshot: slot.state.snapshot(at, &views),
            })
            .collect();
        for job in jobs {
            if self.writer.send(Msg::Write(job)).await.is_err() {
                tracing::error!("snapshot writer stopped");
            }
        }
        self.last_instant = Some(t);
        self.live.status.instant(t.0);
    }

    /// Waits until the writer has written everything queued, then saves state and position.
    async fn checkpoint(&mut self) {
        let (ack, done) = oneshot::channel();
        if self.writer.send(Msg::Flush(ack)).await.is_ok() {
            let _ = done.await;
        }
        let cp = Checkpoint {
            server: self.server.identity.clone(),
            position: self.position.clone(),
            last_instant: self.last_instant.map(|t| t.0),
            taken_at: now_secs(),
            tenants: self
                .live
                .tenants
                .iter()
                .filter(|s| s.pending.is_none())
                .map(|s| TenantRows::capture(&s.code, &s.db, s.loaded_at.as_ref(), &s.state))
                .collect(),
        };
        let dir = self.cfg.state_dir.clone();
        match tokio::task::spawn_blocking(move || cp.save(&dir)).await {
            Ok(Ok(bytes)) => self.live.status.checkpointed(bytes),
            Ok(Err(e)) => tracing::error!(error = %e, "checkpoint not written"),
            Err(e) => tracing::error!(error = %e, "checkpoint task failed"),
        }
    }
}
