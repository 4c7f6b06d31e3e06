//! What a tenant's andon remembers from one instant to the next: since when each breach lasts,
//! the raises, level changes and clears to announce, and the queue depth of each node at the
//! first look of each of the last minutes (for queue growth).
//!
//! Memory is bounded: one entry per breach that lasts (token ages are capped), and
//! `growth_minutes + 1` samples of the nodes that had a queue.
//!
//! Observations may come from several readers at once (the page, the API, the periodic task):
//! one older than the last applied is answered from what is remembered, and changes nothing.

use std::collections::{BTreeMap, VecDeque};

use chrono::{NaiveDateTime, Timelike};
use serde::Serialize;

use super::evaluate::{breaches, Facts};
use super::{Alert, Breach, Kind, Level, Limits, Subject};
use crate::model::decimal::Dec2;

/// What changed about one breach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// It began.
    Raise,
    /// It went from amber to red or back, and lasts.
    Level,
    /// It ended (below amber, or its subject is gone).
    Clear,
}

/// A change to announce (the webhook's payload, less the tenant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    pub event: Event,
    #[serde(flatten)]
    pub alert: Alert,
    #[serde(serialize_with = "super::wall::opt_time")]
    pub cleared_at: Option<NaiveDateTime>,
}

/// The alerts at an instant, and what changed since the instant before.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// Red first, by kind, oldest first.
    pub alerts: Vec<Alert>,
    pub notices: Vec<Notice>,
}

/// The queue depths of the nodes at the first look of each recent minute.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Depths {
    /// (minute, node → queue depth, nodes without a queue left out), oldest first.
    samples: VecDeque<(NaiveDateTime, BTreeMap<i64, i64>)>,
}

impl Depths {
    /// Keeps the depths at `at` if it is the first look in its minute, and forgets samples
    /// older than `minutes` before it.
    fn record(&mut self, at: NaiveDateTime, depths: BTreeMap<i64, i64>, minutes: u32) {
        let minute = at
            .with_second(0)
            .and_then(|t| t.with_nanosecond(0))
            .unwrap_or(at);
        if self.samples.back().is_none_or(|(m, _)| *m < minute) {
            self.samples.push_back((minute, depths));
        }
        let from = minute - chrono::Duration::minutes(i64::from(minutes));
        while self.samples.front().is_some_and(|(m, _)| *m < from) {
            self.samples.pop_front();
        }
    }

    /// How much `node`'s queue grew from the oldest sample kept to `now`.
    fn rise(&self, node: i64, now: i64) -> i64 {
        let then = self
            .samples
            .front()
            .map_or(now, |(_, d)| d.get(&node).copied().unwrap_or(0));
        now - then
    }
}

/// One tenant's andon memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Memory {
    last_at: Option<NaiveDateTime>,
    /// The breaches that last, as last seen, with their `since`.
    active: BTreeMap<(Kind, Subject), Alert>,
    depths: Depths,
}

impl Memory {
    /// The alerts at `facts.at` with their `since`, and the changes since the last look.
    pub fn observe(&mut self, facts: &Facts, limits: &Limits) -> Observed {
        let at = facts.at;
        let stale = self.last_at.is_some_and(|last| at < last);
        if !stale && limits.growth_tokens > 0 {
            let depths = facts
                .nodes
                .iter()
                .filter(|n| n.queued > 0)
                .map(|n| (n.id, n.queued))
                .collect();
            self.depths.record(at, depths, limits.growth_minutes);
        }
        let mut found = breaches(facts, limits);
        if limits.growth_tokens > 0 {
            for n in &facts.nodes {
                let rise = self.depths.rise(n.id, n.queued);
                if let Some(level) = limits.level(rise.into(), limits.growth_tokens.into(), true) {
                    found.push(Breach {
                        kind: Kind::QueueGrowth,
                        subject: Subject::Node { id: n.id },
                        label: n.label.clone(),
                        level,
                        figure: Dec2::from_int(rise),
                        limit: Dec2::from_int(limits.growth_tokens.into()),
                    });
                }
            }
        }
        let mut alerts: Vec<Alert> = found
            .into_iter()
            .map(|breach| {
                let since = self
                    .active
                    .get(&(breach.kind, breach.subject))
                    .map_or(at, |a| a.since);
                Alert { breach, since }
            })
            .collect();
        alerts.sort_by_key(|a| a.order());
        if stale {
            return Observed {
                alerts,
                notices: Vec::new(),
            };
        }
        let mut notices = Vec::new();
        let mut now: BTreeMap<(Kind, Subject), Alert> = BTreeMap::new();
        for a in &alerts {
            let key = (a.breach.kind, a.breach.subject);
            match self.active.get(&key) {
                None => notices.push(Notice {
                    event: Event::Raise,
                    alert: a.clone(),
                    cleared_at: None,
                }),
                Some(before) if before.breach.level != a.breach.level => notices.push(Notice {
                    event: Event::Level,
                    alert: a.clone(),
                    cleared_at: None,
                }),
                Some(_) => {}
            }
            now.insert(key, a.clone());
        }
        for (key, gone) in &self.active {
            if !now.contains_key(key) {
                notices.push(Notice {
                    event: Event::Clear,
                    alert: gone.clone(),
                    cleared_at: Some(at),
                });
            }
        }
        self.active = now;
        self.last_at = Some(at);
        Observed { alerts, notices }
    }

    /// Ends every breach at `at` (the tenant is no longer served).
    pub fn clear_all(&mut self, at: NaiveDateTime) -> Vec<Notice> {
        let gone = std::mem::take(&mut self.active);
        self.last_at = Some(at);
        gone.into_values()
            .map(|alert| Notice {
                event: Event::Clear,
                alert,
                cleared_at: Some(at),
            })
            .collect()
    }

    /// The breaches that last, as of the last look: (amber, red).
    pub fn counts(&self) -> (usize, usize) {
        let red = self
            .active
            .values()
            .filter(|a| a.breach.level == Level::Red)
            .count();
        (self.active.len() - red, red)
    }
}

#[cfg(test)]
mod tests {
    use super::super::evaluate::NodeFacts;
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    /// Node 1 with `wip` tokens against a WIP limit of 10, `queued` of them queued.
    fn facts(when: &str, wip: i64, queued: i64) -> Facts {
        Facts {
            at: at(when),
            nodes: vec![NodeFacts {
                id: 1,
                label: "CUT".into(),
                wip,
                queued,
                avg_wait: None,
                wip_limit: Some(10),
            }],
            ..Facts::default()
        }
    }

    fn events(o: &Observed) -> Vec<(Event, Kind, Level)> {
        o.notices
            .iter()
            .map(|n| (n.event, n.alert.breach.kind, n.alert.breach.level))
            .collect()
    }

    const NO_GROWTH: Limits = Limits {
        amber_percent: 80,
        wait_minutes: 60,
        growth_tokens: 0,
        growth_minutes: 15,
        token_age_hours: 8,
    };

    #[test]
    fn since_is_kept_while_it_lasts_and_cleared_when_it_ends() {
        let mut m = Memory::default();
        let o = m.observe(&facts("2026-05-01 10:00:00", 5, 0), &NO_GROWTH);
        assert!(o.alerts.is_empty() && o.notices.is_empty());

        let o = m.observe(&facts("2026-05-01 10:01:00", 9, 0), &NO_GROWTH);
        assert_eq!(
            events(&o),
            vec![(Event::Raise, Kind::WipLimit, Level::Amber)]
        );
        assert_eq!(o.alerts[0].since, at("2026-05-01 10:01:00"));

        let o = m.observe(&facts("2026-05-01 10:02:30", 12, 0), &NO_GROWTH);
        assert_eq!(events(&o), vec![(Event::Level, Kind::WipLimit, Level::Red)]);
        assert_eq!(
            o.alerts[0].since,
            at("2026-05-01 10:01:00"),
            "amber to red keeps since"
        );
        assert_eq!(m.counts(), (0, 1));

        let o = m.observe(&facts("2026-05-01 10:03:00", 12, 0), &NO_GROWTH);
        assert!(o.notices.is_empty(), "nothing new");
        assert_eq!(o.alerts[0].since, at("2026-05-01 10:01:00"));

        // A reader late by a second is answered, and changes nothing.
        let o = m.observe(&facts("2026-05-01 10:02:59", 3, 0), &NO_GROWTH);
        assert!(o.alerts.is_empty() && o.notices.is_empty());
        assert_eq!(m.counts(), (0, 1));

        let o = m.observe(&facts("2026-05-01 10:04:00", 7, 0), &NO_GROWTH);
        assert_eq!(events(&o), vec![(Event::Clear, Kind::WipLimit, Level::Red)]);
        assert_eq!(o.notices[0].cleared_at, Some(at("2026-05-01 10:04:00")));
        assert_eq!(o.notices[0].alert.since, at("2026-05-01 10:01:00"));
        assert_eq!(m.counts(), (0, 0));

        let o = m.observe(&facts("2026-05-01 10:05:00", 11, 0), &NO_GROWTH);
        assert_eq!(
            o.alerts[0].since,
            at("2026-05-01 10:05:00"),
            "a new breach, a new since"
        );
    }

    #[test]
    fn queue_growth_over_the_last_minutes() {
        let limits = Limits {
            growth_tokens: 5,
            growth_minutes: 3,
            ..Limits::default()
        };
        let growth = |o: &Observed| {
            o.alerts
                .iter()
                .find(|a| a.breach.kind == Kind::QueueGrowth)
                .map(|a| (a.breach.level, a.breach.figure))
        };
        let mut m = Memory::default();
        // One sample a minute (the second look of a minute records nothing).
        assert_eq!(
            growth(&m.observe(&facts("2026-05-01 10:00:05", 2, 2), &limits)),
            None
        );
        assert_eq!(
            growth(&m.observe(&facts("2026-05-01 10:00:40", 9, 9), &limits)),
            Some((Level::Red, Dec2(700)))
        );
        assert_eq!(
            growth(&m.observe(&facts("2026-05-01 10:01:00", 6, 6), &limits)),
            Some((Level::Amber, Dec2(400)))
        );
        m.observe(&facts("2026-05-01 10:02:00", 6, 6), &limits);
        m.observe(&facts("2026-05-01 10:03:00", 6, 6), &limits);
        // 10:00 is now more than 3 minutes back: the window starts at 10:01 (6 queued).
        let o = m.observe(&facts("2026-05-01 10:04:00", 7, 7), &limits);
        assert_eq!(growth(&o), None);
        let o = m.observe(&facts("2026-05-01 10:04:30", 12, 12), &limits);
        assert_eq!(growth(&o), Some((Level::Red, Dec2(600))));
        assert!(
            m.depths.samples.len() <= 4,
            "bounded: {:?}",
            m.depths.samples
        );
        // A node whose queue emptied drops from the samples (depth 0).
        let o = m.observe(&facts("2026-05-01 10:05:00", 0, 0), &limits);
        assert_eq!(growth(&o), None);
    }

    #[test]
    fn a_notice_reads_as_the_webhook_sends_it() {
        let mut m = Memory::default();
        let o = m.observe(&facts("2026-05-01 10:00:00", 11, 0), &NO_GROWTH);
        let json = serde_json::to_value(&o.notices[0]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "event": "raise", "kind": "wip_limit", "subject": {"type": "node", "id": 1},
                "label": "CUT", "level": "red", "figure": 11.0, "limit": 10.0,
                "since": "2026-05-01 10:00:00", "cleared_at": null
            })
        );
    }

    #[test]
    fn clear_all_ends_every_breach() {
        let mut m = Memory::default();
        m.observe(&facts("2026-05-01 10:00:00", 11, 0), &NO_GROWTH);
        let n = m.clear_all(at("2026-05-01 10:00:10"));
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].event, Event::Clear);
        assert_eq!(m.counts(), (0, 0));
    }
}
