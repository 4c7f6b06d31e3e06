//! Live updates: one feed per tenant with open dashboards, shared by all of them. Once a
//! second (on the second, so the instant shown is a whole second), the feed computes the
//! tenant's dashboard at that instant, renders its sections in each language that has a
//! client, and publishes a [`Frame`] per language on that language's `watch` channel; every
//! `EventSource` client of the tenant streams its language's frames as server-sent events. The
//! cost per second is one computation per tenant, and one rendering per language watched,
//! whatever the number of clients; a client costs the bytes it is sent.
//!
//! A frame carries only the sections whose HTML changed since the frame before (`delta`);
//! a client that joins, or missed a frame, gets every section (`full`). A feed stops (and
//! leaves the map) when its last client has gone.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::{Stream, StreamExt};
use serde_json::json;
use tokio::sync::watch;

use super::i18n::{Lang, Tr};
use super::{compute, Computed};
use crate::http::now_secs;
use crate::live::{LiveView, TenantKey};
use crate::shutdown::Shutdown;

/// What one second's computation published.
#[derive(Debug)]
pub struct Frame {
    pub seq: u64,
    /// T, `YYYY-MM-DD HH:MM:SS` in the factory's time zone.
    pub at: String,
    /// Every section's HTML (unchanged ones share the previous frame's string).
    pub sections: Vec<(&'static str, Arc<str>)>,
    /// The event data for a client that has the frame before.
    pub delta: Arc<str>,
    /// The event data for any other client.
    pub full: Arc<str>,
}

type Slot = watch::Sender<Option<Arc<Frame>>>;
type Subscription = watch::Receiver<Option<Arc<Frame>>>;
/// A feed's channels, one per language, in [`Lang::ALL`] order.
type Subscriptions = Vec<Subscription>;

pub struct Feeds {
    live: LiveView,
    /// Every event stream ends when it fires (the server's graceful shutdown waits for them).
    shutdown: Shutdown,
    /// A receiver of each running feed's channels: clients get clones. The senders are the
    /// feed task's alone, so a feed whose task ended (by a panic, say) is seen here and
    /// started again.
    feeds: Mutex<HashMap<TenantKey, Subscriptions>>,
}

impl Feeds {
    pub fn new(live: LiveView, shutdown: Shutdown) -> Arc<Feeds> {
        Arc::new(Feeds {
            live,
            shutdown,
            feeds: Mutex::new(HashMap::new()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TenantKey, Subscriptions>> {
        self.feeds.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Feeds running now (for tests and the bench).
    pub fn running(&self) -> usize {
        self.lock().len()
    }

    /// A receiver of tenant `key`'s frames in `lang`, starting its feed if none runs.
    pub fn subscribe(self: &Arc<Self>, key: &TenantKey, lang: Lang) -> Subscription {
        let mut feeds = self.lock();
        if let Some(rxs) = feeds.get(key).filter(|rxs| rxs[0].has_changed().is_ok()) {
            return rxs[lang.index()].clone();
        }
        let (txs, rxs): (Vec<Slot>, Subscriptions) =
            Lang::ALL.iter().map(|_| watch::channel(None)).unzip();
        let rx = rxs[lang.index()].clone();
        feeds.insert(key.clone(), rxs);
        drop(feeds);
        tokio::spawn(run(self.clone(), key.clone(), txs));
        rx
    }

    /// The server-sent event stream of tenant `key` in `lang`, for one client.
    pub fn events(
        self: &Arc<Self>,
        key: &TenantKey,
        lang: Lang,
    ) -> Sse<impl Stream<Item = Result<Event, Infallible>> + Send + 'static> {
        let rx = self.subscribe(key, lang);
        let stream = futures_util::stream::unfold((rx, None::<u64>), |(mut rx, last)| async move {
            loop {
                // The frame there is now for a new client, then each new one.
                if last.is_some() && rx.changed().await.is_err() {
                    return None;
                }
                let frame = rx.borrow_and_update().clone();
                let Some(frame) = frame else {
                    if rx.changed().await.is_err() {
                        return None;
                    }
                    continue;
                };
                let data = if last.is_some_and(|l| l + 1 == frame.seq) {
                    frame.delta.clone()
                } else {
                    frame.full.clone()
                };
                let mut event = Event::default().event("frame").data(&*data);
                if last.is_none() {
                    event = event.retry(Duration::from_secs(2));
                }
                return Some((Ok(event), (rx, Some(frame.seq))));
            }
        });
        let stream = stream.take_until(self.shutdown.fired_owned());
        Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
    }
}

/// The feed of one tenant, until its last client (in any language) has gone.
async fn run(feeds: Arc<Feeds>, key: TenantKey, txs: Vec<Slot>) {
    let mut prev: Vec<Option<Arc<Frame>>> = vec![None; txs.len()];
    loop {
        // The map's own receiver is one; a client is any other.
        let watched: Vec<Lang> = Lang::ALL
            .into_iter()
            .filter(|l| txs[l.index()].receiver_count() > 1)
            .collect();
        let (live, k) = (feeds.live.clone(), key.clone());
        let now = now_secs();
        // Off the runtime's threads: a large tenant's views take milliseconds.
        let rendered = tokio::task::spawn_blocking(move || render(&live, &k, now, &watched)).await;
        if let Ok(frames) = rendered {
            for (lang, (at, state, sections)) in frames {
                let i = lang.index();
                let frame = Arc::new(frame(prev[i].as_deref(), at, state, sections));
                txs[i].send_replace(Some(frame.clone()));
                prev[i] = Some(frame);
            }
        }
        tokio::time::sleep(until_next_second()).await;
        let unwatched = |txs: &[Slot]| txs.iter().all(|tx| tx.receiver_count() <= 1);
        if unwatched(&txs) {
            let mut map = feeds.lock();
            // Checked again under the lock `subscribe` takes: no client slips in meanwhile.
            if unwatched(&txs) {
                map.remove(&key);
                return;
            }
        }
    }
}

/// Time until 5 ms past the next whole second of the wall clock.
fn until_next_second() -> Duration {
    let now = chrono::Utc::now();
    let ms = now.timestamp_subsec_millis() as u64;
    Duration::from_millis(1005 - ms.min(999))
}

/// What one language's frame is made of: T, the state (`ready`, `loading`, `gone`), the
/// sections' HTML.
pub type Rendered = (String, &'static str, Vec<(&'static str, String)>);

/// The tenant's dashboard at `now`, computed once and rendered in each of `langs`.
pub fn render(live: &LiveView, key: &TenantKey, now: i64, langs: &[Lang]) -> Vec<(Lang, Rendered)> {
    let at = super::render::time(crate::model::clock::local_time(now, live.timezone()));
    let computed = compute(live, key, now);
    langs
        .iter()
        .map(|lang| {
            let t = Tr::new(*lang);
            let rendered = match &computed {
                Computed::Ready(d) => (at.clone(), "ready", super::render::sections(d, &t)),
                Computed::Loading(code) => (
                    at.clone(),
                    "loading",
                    vec![("status", super::placeholder_status("loading", code, &t))],
                ),
                Computed::Unknown => (
                    at.clone(),
                    "gone",
                    vec![("status", super::placeholder_status("gone", "", &t))],
                ),
            };
            (*lang, rendered)
        })
        .collect()
}

/// A frame from the sections, sharing the unchanged ones with `prev`.
fn frame(
    prev: Option<&Frame>,
    at: String,
    state: &'static str,
    sections: Vec<(&'static str, String)>,
) -> Frame {
    let seq = prev.map_or(1, |p| p.seq + 1);
    let mut shared: Vec<(&'static str, Arc<str>)> = Vec::with_capacity(sections.len());
    let mut changed = serde_json::Map::new();
    let mut all = serde_json::Map::new();
    for (id, html) in sections {
        let old = prev.and_then(|p| p.sections.iter().find(|(i, _)| *i == id));
        let s: Arc<str> = match old {
            Some((_, o)) if **o == *html => o.clone(),
            _ => {
                changed.insert(id.to_string(), json!(html));
                Arc::from(html)
            }
        };
        all.insert(id.to_string(), json!(&*s));
        shared.push((id, s));
    }
    let delta = json!({ "seq": seq, "at": at, "state": state, "sections": changed }).to_string();
    let full =
        json!({ "seq": seq, "at": at, "state": state, "sections": all, "full": true }).to_string();
    Frame {
        seq,
        at,
        sections: shared,
        delta: Arc::from(delta),
        full: Arc::from(full),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_only_changed_sections() {
        let a = frame(
            None,
            "2026-05-01 10:00:00".into(),
            "ready",
            vec![("kpi", "1".into()), ("trends", "t".into())],
        );
        assert_eq!(a.seq, 1);
        let b = frame(
            Some(&a),
            "2026-05-01 10:00:01".into(),
            "ready",
            vec![("kpi", "2".into()), ("trends", "t".into())],
        );
        assert_eq!(b.seq, 2);
        let delta: serde_json::Value = serde_json::from_str(&b.delta).unwrap();
        assert_eq!(delta["sections"], json!({"kpi": "2"}));
        let full: serde_json::Value = serde_json::from_str(&b.full).unwrap();
        assert_eq!(full["sections"], json!({"kpi": "2", "trends": "t"}));
        assert!(Arc::ptr_eq(&a.sections[1].1, &b.sections[1].1));
        assert!(until_next_second() <= Duration::from_millis(1005));
    }

    #[tokio::test]
    async fn a_feed_whose_task_is_gone_is_started_again() {
        let live = crate::live::LiveWriter::new(chrono_tz::UTC);
        let feeds = Feeds::new(live.view(), Shutdown::never());
        let key = TenantKey::of_db("bgerp_t_gone");
        // A feed whose task ended (its sender dropped, as a panic drops it).
        let (txs, rxs): (Vec<Slot>, Subscriptions) =
            Lang::ALL.iter().map(|_| watch::channel(None)).unzip();
        feeds.lock().insert(key.clone(), rxs);
        drop(txs);
        let mut fresh = feeds.subscribe(&key, Lang::Th);
        assert!(
            tokio::time::timeout(Duration::from_secs(5), fresh.changed())
                .await
                .is_ok_and(|r| r.is_ok()),
            "a new feed publishes"
        );
        assert_eq!(feeds.running(), 1);
    }
}
