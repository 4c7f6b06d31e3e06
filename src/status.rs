//! What the running service reports about itself: its phase, position and lag, per-tenant
//! problems and counters. The applier writes it; health checks, metrics and logs read it.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;

use crate::source::Position;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Connecting,
    Recomputing,
    Streaming,
    Reconnecting,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub phase: Phase,
    pub reason: Option<String>,
    pub position: Option<String>,
    /// Epoch seconds of the last commit applied.
    pub last_commit: Option<i64>,
    /// Epoch seconds when the server last said it is idle.
    pub last_idle: Option<i64>,
    pub last_instant: Option<i64>,
    pub tenant_problems: BTreeMap<String, String>,
    pub changes_by_tenant: BTreeMap<String, u64>,
    pub recomputes: BTreeMap<String, u64>,
    pub reconnects: u64,
    pub rows_loaded: u64,
    pub checkpoint_at: Option<i64>,
    pub checkpoint_bytes: u64,
}

pub struct Status {
    inner: Mutex<Report>,
}

impl Default for Status {
    fn default() -> Self {
        Status {
            inner: Mutex::new(Report {
                phase: Phase::Connecting,
                reason: None,
                position: None,
                last_commit: None,
                last_idle: None,
                last_instant: None,
                tenant_problems: BTreeMap::new(),
                changes_by_tenant: BTreeMap::new(),
                recomputes: BTreeMap::new(),
                reconnects: 0,
                rows_loaded: 0,
                checkpoint_at: None,
                checkpoint_bytes: 0,
            }),
        }
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Status {
    fn with(&self, f: impl FnOnce(&mut Report)) {
        // A panic elsewhere never makes the report unreadable.
        let mut r = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut r);
    }

    pub fn report(&self) -> Report {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn resumed(&self) {
        self.with(|r| r.phase = Phase::Streaming);
    }

    pub fn recompute(&self, reason: &str) {
        self.with(|r| {
            r.phase = Phase::Recomputing;
            *r.recomputes.entry(reason.to_string()).or_default() += 1;
        });
    }

    pub fn streaming(&self) {
        self.with(|r| {
            r.phase = Phase::Streaming;
            r.reason = None;
        });
    }

    pub fn reconnecting(&self, reason: &str) {
        self.with(|r| {
            r.phase = Phase::Reconnecting;
            r.reason = Some(reason.to_string());
            r.reconnects += 1;
        });
    }

    pub fn position(&self, p: &Position, commit_ts: i64) {
        self.with(|r| {
            if r.phase == Phase::Reconnecting {
                r.phase = Phase::Streaming;
                r.reason = None;
            }
            r.position = Some(p.to_string());
            r.last_commit = Some(commit_ts);
        });
    }

    pub fn idle(&self) {
        self.with(|r| {
            if r.phase == Phase::Reconnecting {
                r.phase = Phase::Streaming;
                r.reason = None;
            }
            r.last_idle = Some(now());
        });
    }

    pub fn instant(&self, t: i64) {
        self.with(|r| r.last_instant = Some(t));
    }

    pub fn change_applied(&self, tenant: &str) {
        self.with(|r| match r.changes_by_tenant.get_mut(tenant) {
            Some(n) => *n += 1,
            None => {
                r.changes_by_tenant.insert(tenant.to_string(), 1);
            }
        });
    }

    pub fn rows_loaded(&self, n: u64) {
        self.with(|r| r.rows_loaded += n);
    }

    pub fn tenant_problem(&self, tenant: &str, problem: &str) {
        self.with(|r| {
            if r.tenant_problems.get(tenant).map(String::as_str) != Some(problem) {
                tracing::warn!(%tenant, %problem, "tenant not served");
            }
            r.tenant_problems
                .insert(tenant.to_string(), problem.to_string());
        });
    }

    pub fn tenant_ok(&self, tenant: &str) {
        self.with(|r| {
            r.tenant_problems.remove(tenant);
        });
    }

    pub fn tenant_gone(&self, tenant: &str) {
        self.with(|r| {
            r.tenant_problems.remove(tenant);
            r.changes_by_tenant.remove(tenant);
        });
    }

    pub fn checkpointed(&self, bytes: u64) {
        self.with(|r| {
            r.checkpoint_at = Some(now());
            r.checkpoint_bytes = bytes;
        });
    }
}
