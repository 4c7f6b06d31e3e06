//! The lease task, under `[ha] enabled`: keeps this instance's role and tells the snapshot
//! writer. A standby tries to take the lease every [`tick`] (it can once the leader's ran out);
//! the leader renews it as often, well before it runs out, and gives it up when a renewal is
//! refused or its own clock says the lease is past (whatever the server can be reached). Both
//! read which instants the sink holds per tenant: a standby to let go of the snapshots the
//! leader wrote, a new leader — read after it took the lease, so nothing the old leader
//! committed is missed — to write every instant no leader committed, and nothing twice.
//!
//! The lease is on its own connection with `innodb_lock_wait_timeout` at the lease: a takeover
//! waits for the snapshot transactions under way, at most that long, and tries again.

use std::sync::Arc;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::{MySql, MySqlPool};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::causes::Causes;
use crate::db::text;
use crate::live::{LiveView, Role};
use crate::ratelimit::WARNINGS;
use crate::shutdown::Shutdown;
use crate::sink::lease::{self, Fence, ServerIdInUse};
use crate::sink::worker::{Lease, Writing};

/// Who this instance is, and the lease it competes for.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub core_db: String,
    /// This instance's name in the lease (unique per instance: host and state directory).
    pub me: String,
    pub server_id: u32,
    pub lease_secs: u64,
}

/// How often the lease is renewed or tried: a third of it (so a renewal can fail twice and the
/// lease still hold), at least once a second.
pub fn tick(lease_secs: u64) -> Duration {
    Duration::from_millis((lease_secs * 1000 / 3).max(1000))
}

/// Why the lease task cannot start.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error(
        "cannot use the lease table {core_db}.{table} (`flowtally migrate` with [ha] enabled \
         creates it; the sink's user needs SELECT, INSERT, UPDATE on it)",
        table = lease::TABLE
    )]
    Table {
        core_db: String,
        #[source]
        cause: sqlx::Error,
    },
    #[error(transparent)]
    ServerId(#[from] ServerIdInUse),
}

/// Checks at start that the lease table is there and that no other live instance uses this
/// replica id; the writer's channel, starting as a standby.
pub async fn prepare(
    sink: &MySqlPool,
    c: &Candidate,
) -> Result<(watch::Sender<Lease>, watch::Receiver<Lease>), LeaseError> {
    let table = |cause| LeaseError::Table {
        core_db: c.core_db.clone(),
        cause,
    };
    let mut conn = sink.acquire().await.map_err(table)?;
    lease::ensure_writer_row(&mut conn, &c.core_db)
        .await
        .map_err(table)?;
    lease::claim_server_id(&mut conn, &c.core_db, c.server_id, &c.me, 3 * c.lease_secs)
        .await
        .map_err(table)??;
    Ok(watch::channel(Lease {
        writing: Writing::Standby,
        committed: Arc::default(),
    }))
}

/// Runs until shutdown; a leader then lets the lease go, so a standby need not wait it out.
pub async fn run(
    sink: MySqlPool,
    c: Candidate,
    tell: watch::Sender<Lease>,
    live: LiveView,
    mut shutdown: Shutdown,
) {
    let mut held: Option<(u64, Instant)> = None;
    let mut conn: Option<PoolConnection<MySql>> = None;
    let mut ticks = tokio::time::interval(tick(c.lease_secs));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    live.status().role(Role::Standby, None);
    loop {
        tokio::select! {
            _ = shutdown.fired() => break,
            _ = ticks.tick() => {}
        }
        match round(&sink, &mut conn, &c, held).await {
            Ok((now_held, committed)) => {
                if now_held.map(|h| h.0) != held.map(|h| h.0) {
                    match now_held {
                        Some((term, _)) => {
                            tracing::info!(term, instance = %c.me, "took the writer's lease: leader")
                        }
                        None => {
                            tracing::warn!(instance = %c.me, "lost the writer's lease: standby")
                        }
                    }
                }
                held = now_held;
                publish(&tell, &live, &c, held, Some(committed));
            }
            Err(e) => {
                conn = None;
                if let Some(suppressed) = WARNINGS.check("lease") {
                    tracing::warn!(error = %Causes(&e), suppressed, "lease: the sink cannot be reached");
                }
                // Unrenewed, the lease runs out by the server's clock; stop writing a little
                // before, by ours.
                if held.is_some_and(|(_, until)| Instant::now() >= until) {
                    tracing::warn!(instance = %c.me, "the writer's lease ran out unrenewed: standby");
                    held = None;
                    publish(&tell, &live, &c, held, None);
                }
            }
        }
    }
    if let (Some((term, _)), Ok(mut conn)) = (held, sink.acquire().await) {
        publish(&tell, &live, &c, None, None);
        if let Err(e) = lease::release(&mut conn, &c.core_db, &c.me, term).await {
            tracing::warn!(error = %Causes(&e), "could not release the writer's lease; it runs out");
        }
    }
}

/// One renewal or attempt: the lease held after it (term, and until when by this host's
/// clock), and what the sink holds.
async fn round(
    sink: &MySqlPool,
    conn: &mut Option<PoolConnection<MySql>>,
    c: &Candidate,
    held: Option<(u64, Instant)>,
) -> Result<
    (
        Option<(u64, Instant)>,
        Arc<std::collections::HashMap<crate::live::TenantKey, i64>>,
    ),
    sqlx::Error,
> {
    if conn.is_none() {
        let mut fresh = sink.acquire().await?;
        let secs = c.lease_secs.max(1);
        text(
            &mut fresh,
            &format!("SET SESSION innodb_lock_wait_timeout = {secs}"),
        )
        .await?;
        *conn = Some(fresh);
    }
    let Some(conn) = conn.as_mut() else {
        unreachable!("connected above")
    };
    // The deadline by this host's clock: the lease less a tick, measured from before the
    // statement (the server's expiry is later than that).
    let asked = Instant::now();
    let until = asked + Duration::from_secs(c.lease_secs).saturating_sub(tick(c.lease_secs));
    let now_held = match held {
        Some((term, _)) => lease::renew(conn, &c.core_db, &c.me, term, c.lease_secs)
            .await?
            .then_some((term, until)),
        None => lease::take(conn, &c.core_db, &c.me, c.lease_secs)
            .await?
            .map(|term| (term, until)),
    };
    lease::claim_server_id(conn, &c.core_db, c.server_id, &c.me, 3 * c.lease_secs)
        .await?
        .ok();
    let committed = Arc::new(lease::written(conn, &c.core_db).await?);
    Ok((now_held, committed))
}

fn publish(
    tell: &watch::Sender<Lease>,
    live: &LiveView,
    c: &Candidate,
    held: Option<(u64, Instant)>,
    committed: Option<Arc<std::collections::HashMap<crate::live::TenantKey, i64>>>,
) {
    let writing = match held {
        Some((term, _)) => Writing::Leader(Fence {
            core_db: c.core_db.clone(),
            holder: c.me.clone(),
            term,
            lease_secs: c.lease_secs,
        }),
        None => Writing::Standby,
    };
    live.status().role(
        if held.is_some() {
            Role::Leader
        } else {
            Role::Standby
        },
        held.map(|h| h.0),
    );
    tell.send_modify(|lease| {
        lease.writing = writing;
        if let Some(committed) = committed {
            lease.committed = committed;
        }
    });
}
