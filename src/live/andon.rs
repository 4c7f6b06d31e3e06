//! The floor's alerts, shared by everyone who evaluates them: each served tenant's andon memory
//! ([`Memory`]), the limits, and the webhook's queue when one is set.
//!
//! The page, the API and the periodic andon task each evaluate a tenant's alerts at their own
//! instant T, from the read view (never in the applier), and pass them through
//! [`Board::observe`]: so a breach has one `since` whoever saw it first, and each raise, level
//! change and clear is announced once. Announcing never waits: a notice that does not fit in
//! the webhook's bounded queue is dropped and counted.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use chrono::NaiveDateTime;
use tokio::sync::mpsc;

use super::{LiveView, TenantKey};
use crate::model::andon::evaluate::Facts;
use crate::model::andon::memory::{Memory, Notice};
use crate::model::andon::{Alert, Limits};
use crate::model::views::ViewRows;
use crate::model::View;

/// A notice for the webhook, with its tenant.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The tenant's code, as stored in `organization`.
    pub tenant: String,
    pub notice: Notice,
}

/// What became of the notices handed to the webhook.
#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
}

/// Webhook notices: (sent, failed after every retry, dropped because the queue was full).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WebhookCounts {
    pub sent: u64,
    pub failed: u64,
    pub dropped: u64,
}

/// One tenant's breaches that last, as of its last look: for the metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantAlerts {
    pub code: String,
    pub amber: usize,
    pub red: usize,
}

pub struct Board {
    limits: Limits,
    memories: Mutex<HashMap<TenantKey, (String, Memory)>>,
    outbox: OnceLock<mpsc::Sender<Outgoing>>,
    counters: Counters,
}

impl Board {
    pub fn new(limits: Limits) -> Board {
        Board {
            limits,
            memories: Mutex::new(HashMap::new()),
            outbox: OnceLock::new(),
            counters: Counters::default(),
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TenantKey, (String, Memory)>> {
        self.memories.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// From now on, notices go to `tx` (the webhook task's queue). Set once.
    pub fn announce_to(&self, tx: mpsc::Sender<Outgoing>) {
        let _ = self.outbox.set(tx);
    }

    fn announce(&self, tenant: &str, notices: Vec<Notice>) {
        let Some(tx) = self.outbox.get() else { return };
        for notice in notices {
            let out = Outgoing {
                tenant: tenant.to_string(),
                notice,
            };
            if let Err(mpsc::error::TrySendError::Full(_)) = tx.try_send(out) {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Tenant `key`'s alerts at `facts.at`, remembered; the changes are announced.
    pub fn observe(&self, key: &TenantKey, code: &str, facts: &Facts) -> Vec<Alert> {
        let mut memories = self.lock();
        let (_, memory) = memories
            .entry(key.clone())
            .or_insert_with(|| (code.to_string(), Memory::default()));
        let observed = memory.observe(facts, &self.limits);
        // Under the lock (announcing never waits), so notices leave in the order they arose.
        self.announce(code, observed.notices);
        observed.alerts
    }

    /// Forgets the tenants `served` says are gone, announcing their breaches cleared at `at`.
    pub fn forget_gone(&self, served: impl Fn(&TenantKey) -> bool, at: NaiveDateTime) {
        let mut memories = self.lock();
        let keys: Vec<TenantKey> = memories.keys().filter(|k| !served(k)).cloned().collect();
        for key in keys {
            if let Some((code, mut memory)) = memories.remove(&key) {
                let notices = memory.clear_all(at);
                self.announce(&code, notices);
            }
        }
    }

    /// Every tenant with breaches that last, as of its last look.
    pub fn counts(&self) -> Vec<TenantAlerts> {
        self.lock()
            .values()
            .filter_map(|(code, m)| {
                let (amber, red) = m.counts();
                (amber + red > 0).then(|| TenantAlerts {
                    code: code.clone(),
                    amber,
                    red,
                })
            })
            .collect()
    }

    pub fn sent(&self) {
        self.counters.sent.fetch_add(1, Ordering::Relaxed);
    }

    pub fn failed(&self) {
        self.counters.failed.fetch_add(1, Ordering::Relaxed);
    }

    pub fn webhook_counts(&self) -> WebhookCounts {
        WebhookCounts {
            sent: self.counters.sent.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
        }
    }
}

/// Why a tenant has no alerts to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoAlerts {
    Unknown,
    /// Still loading (its code).
    Loading(String),
}

/// Tenant `key`'s alerts at `at` (the factory's local time), evaluated from the read view and
/// observed on the board; with the tenant's code.
pub fn alerts_at(
    live: &LiveView,
    key: &TenantKey,
    at: NaiveDateTime,
) -> Result<(String, Vec<Alert>), NoAlerts> {
    let board = live.andon();
    // The entry is held while the facts are gathered, and released before the board's lock.
    let (code, facts) = {
        let slot = live.get(key).ok_or(NoAlerts::Unknown)?;
        let ready = slot
            .ready()
            .ok_or_else(|| NoAlerts::Loading(slot.code.clone()))?;
        let snapshot = ready.state.view(at, &[View::Bottlenecks, View::Workload]);
        let (mut bottlenecks, mut workload) = (&[][..], &[][..]);
        for rows in &snapshot.views {
            match rows {
                ViewRows::Bottlenecks(r) => bottlenecks = r,
                ViewRows::Workload(r) => workload = r,
                _ => {}
            }
        }
        let facts = Facts::gather(&ready.state, at, bottlenecks, workload, board.limits());
        (slot.code.clone(), facts)
    };
    let alerts = board.observe(key, &code, &facts);
    Ok((code, alerts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::andon::evaluate::NodeFacts;
    use crate::model::andon::memory::Event;

    fn facts(at: &str, wip: i64) -> Facts {
        Facts {
            at: NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M:%S").unwrap(),
            nodes: vec![NodeFacts {
                id: 3,
                label: "SEW".into(),
                wip,
                queued: 0,
                avg_wait: None,
                wip_limit: Some(4),
            }],
            ..Facts::default()
        }
    }

    #[test]
    fn notices_go_out_in_order_and_a_full_queue_drops_and_counts() {
        let board = Board::new(Limits::default());
        let key = TenantKey::of_db("bgerp_t_a");
        // No webhook: observing announces nothing, and loses nothing.
        assert_eq!(
            board
                .observe(&key, "A", &facts("2026-05-01 10:00:00", 5))
                .len(),
            1
        );
        let (tx, mut rx) = mpsc::channel(2);
        board.announce_to(tx);
        board.observe(&key, "A", &facts("2026-05-01 10:00:01", 1));
        board.observe(&key, "A", &facts("2026-05-01 10:00:02", 6));
        board.observe(&key, "A", &facts("2026-05-01 10:00:03", 0));
        let got: Vec<Event> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|o| o.notice.event)
            .collect();
        assert_eq!(got, vec![Event::Clear, Event::Raise]);
        assert_eq!(board.webhook_counts().dropped, 1, "the third did not fit");
        board.observe(&key, "A", &facts("2026-05-01 10:00:04", 9));
        assert_eq!(board.counts()[0].red, 1);
        board.forget_gone(|_| false, facts("2026-05-01 10:00:05", 0).at);
        let last = rx.try_recv().expect("the clear of a gone tenant");
        assert_eq!(
            (last.tenant.as_str(), last.notice.event),
            ("A", Event::Raise)
        );
        assert_eq!(
            rx.try_recv().map(|o| o.notice.event).ok(),
            Some(Event::Clear)
        );
        assert!(board.counts().is_empty());
    }
}
