//! The `[andon] webhook_url` poster: the board hands it every raise, level change and clear of
//! a floor alert through a bounded queue (never waiting: a full queue drops the notice and
//! counts it); this task posts each as JSON, in order, retrying a failed post with backoff
//! (`[andon] webhook_retries`, each try within `webhook_timeout_secs`). A notice that fails
//! every try is logged and counted, and the next one is posted. Under `[ha]` only the leader
//! posts: a standby evaluates the same alerts and stays quiet.
//!
//! The body: `{"tenant", "timezone", "event" (raise | level | clear), "kind", "subject",
//! "label", "level", "figure", "limit", "since", "cleared_at"}`; times are the factory's local
//! time, `YYYY-MM-DD HH:MM:SS` (docs/dashboard.md, "Webhook").

use std::time::Duration;

use serde_json::json;
use tokio::sync::mpsc;

use crate::backoff::backoff;
use crate::config::Andon;
use crate::live::andon::Outgoing;
use crate::live::LiveView;
use crate::shutdown::Shutdown;

/// Notices waiting to be posted, at most.
pub const QUEUE: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("cannot build the webhook's HTTP client")]
    Client(#[source] reqwest::Error),
}

/// The JSON body of one notice.
pub fn body(out: &Outgoing, timezone: &str) -> serde_json::Value {
    let mut v = json!({ "tenant": out.tenant, "timezone": timezone });
    if let (Some(map), Ok(serde_json::Value::Object(notice))) =
        (v.as_object_mut(), serde_json::to_value(&out.notice))
    {
        map.extend(notice);
    }
    v
}

/// The queue's two ends: the board's sender, and this task's receiver.
pub fn queue() -> (mpsc::Sender<Outgoing>, mpsc::Receiver<Outgoing>) {
    mpsc::channel(QUEUE)
}

/// Posts what arrives on `rx` to `cfg`'s webhook until the shutdown (or the queue closes).
pub async fn run(
    cfg: Andon,
    live: LiveView,
    mut rx: mpsc::Receiver<Outgoing>,
    mut shutdown: Shutdown,
) -> Result<(), WebhookError> {
    let Some(url) = cfg.webhook_url.clone() else {
        return Ok(());
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(cfg.webhook_timeout_secs))
        .user_agent(concat!("flowtally/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(WebhookError::Client)?;
    let timezone = live.timezone().name().to_string();
    loop {
        let out = tokio::select! {
            _ = shutdown.fired() => return Ok(()),
            out = rx.recv() => match out {
                Some(out) => out,
                None => return Ok(()),
            },
        };
        // Under [ha] every instance sees the same alerts: the writer alone announces them.
        if live.status().current_role() == crate::live::Role::Standby {
            continue;
        }
        let body = body(&out, &timezone).to_string();
        let mut attempt = 0;
        loop {
            let result = client
                .post(url.clone())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
                .send()
                .await;
            let why = match result {
                Ok(r) if r.status().is_success() => {
                    live.andon().sent();
                    break;
                }
                Ok(r) => format!("answered {}", r.status()),
                Err(e) => crate::causes::Causes(&e).to_string(),
            };
            attempt += 1;
            if attempt > cfg.webhook_retries {
                live.andon().failed();
                tracing::warn!(
                    tenant = %out.tenant,
                    kind = out.notice.alert.breach.kind.name(),
                    error = %why,
                    attempts = attempt,
                    "andon webhook: notice not delivered; going on with the next"
                );
                break;
            }
            tracing::debug!(error = %why, attempt, "andon webhook: post failed, retrying");
            tokio::select! {
                _ = shutdown.fired() => return Ok(()),
                _ = tokio::time::sleep(backoff(attempt)) => {}
            }
        }
    }
}
