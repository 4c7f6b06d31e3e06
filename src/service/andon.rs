//! The periodic andon: every `[andon] evaluate_secs`, each ready tenant's alerts are evaluated
//! at that instant from the read view (never in the applier) and observed on the board, so
//! that raises and clears are announced (the webhook) and the metrics are current with no page
//! open. Tenants no longer served are forgotten, their alerts cleared.

use std::time::Duration;

use crate::config::Andon;
use crate::live::andon::alerts_at;
use crate::live::{LiveView, TenantKey};
use crate::model::andon::Limits;
use crate::model::clock::local_time;
use crate::shutdown::Shutdown;

/// The model's limits from `[andon]`.
pub fn limits(cfg: &Andon) -> Limits {
    Limits {
        amber_percent: cfg.amber_percent,
        wait_minutes: cfg.wait_minutes,
        growth_tokens: cfg.queue_growth_tokens,
        growth_minutes: cfg.queue_growth_minutes,
        token_age_hours: cfg.token_age_hours,
    }
}

/// One round: every ready tenant observed at `now` (epoch seconds).
pub fn evaluate_all(live: &LiveView, now: i64) {
    let at = local_time(now, live.timezone());
    let keys: Vec<TenantKey> = live.iter().map(|t| t.key().clone()).collect();
    for key in &keys {
        // A loading or vanished tenant is simply not evaluated this round.
        let _ = alerts_at(live, key, at);
    }
    live.andon().forget_gone(|k| live.contains(k), at);
}

/// Evaluates every `every` until the shutdown.
pub async fn run(live: LiveView, every: Duration, mut shutdown: Shutdown) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.fired() => return,
            _ = tick.tick() => {}
        }
        let view = live.clone();
        let now = chrono::Utc::now().timestamp();
        // Off the runtime's threads, as the dashboard's feed: a large tenant takes milliseconds.
        if let Err(e) = tokio::task::spawn_blocking(move || evaluate_all(&view, now)).await {
            tracing::warn!(error = %e, "andon: one round of evaluation failed; the next one runs as usual");
        }
    }
}
