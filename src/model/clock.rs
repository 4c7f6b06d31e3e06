//! The cadence clock: which snapshot instants are due, on event time.
//!
//! Instants are minute boundaries on the clock (every 5th also refreshes cycle time, every 15th
//! the trends). The snapshot at T holds every transaction whose commit is dated before T, and is
//! due once the stream has passed T: an event stamped ≥ T arrived, or the server said it is idle
//! after the wall clock passed T. Replaying the same binlog therefore yields the same instants.

use chrono::{DateTime, NaiveDateTime};
use chrono_tz::Tz;

use super::views::{Cadence, View};

/// A snapshot instant: epoch seconds (UTC), a multiple of 60.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(pub i64);

impl Instant {
    /// The cadences this instant is one of (every instant is a one-minute one).
    pub fn cadences(self) -> Vec<Cadence> {
        Cadence::ALL
            .into_iter()
            .filter(|c| c.falls_on(self.0))
            .collect()
    }

    /// The views refreshed at this instant.
    pub fn views(self) -> Vec<View> {
        View::ALL
            .into_iter()
            .filter(|v| v.cadence().falls_on(self.0))
            .collect()
    }

    /// The wall-clock time of the factory at this instant, as written to snapshot_at.
    pub fn local(self, tz: Tz) -> NaiveDateTime {
        local_time(self.0, tz)
    }
}

/// Epoch seconds as naive wall-clock time in `tz`.
pub fn local_time(epoch_secs: i64, tz: Tz) -> NaiveDateTime {
    DateTime::from_timestamp(epoch_secs, 0)
        .unwrap_or_default()
        .with_timezone(&tz)
        .naive_local()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clock {
    next: Instant,
}

impl Clock {
    /// A clock whose first instant is the first boundary after `epoch_secs`.
    pub fn after(epoch_secs: i64) -> Clock {
        Clock {
            next: Instant((epoch_secs.div_euclid(60) + 1) * 60),
        }
    }

    /// A clock resuming after the last instant written.
    pub fn resume(last_written: Instant) -> Clock {
        Clock {
            next: Instant(last_written.0 + 60),
        }
    }

    pub fn next(&self) -> Instant {
        self.next
    }

    /// The instant to take next, if an event stamped `event_secs` proves the stream passed it.
    pub fn pass_event(&mut self, event_secs: i64) -> Option<Instant> {
        self.take_if(event_secs >= self.next.0)
    }

    /// The instant to take next, if the server is idle and the wall clock (`now_secs`) passed it.
    pub fn pass_idle(&mut self, now_secs: i64) -> Option<Instant> {
        self.take_if(now_secs >= self.next.0)
    }

    fn take_if(&mut self, due: bool) -> Option<Instant> {
        due.then(|| {
            let t = self.next;
            self.next = Instant(t.0 + 60);
            t
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_instant_is_the_next_boundary() {
        assert_eq!(Clock::after(120).next(), Instant(180));
        assert_eq!(Clock::after(121).next(), Instant(180));
        assert_eq!(Clock::after(179).next(), Instant(180));
        assert_eq!(Clock::resume(Instant(600)).next(), Instant(660));
    }

    #[test]
    fn events_release_every_passed_instant_in_order() {
        let mut c = Clock::after(100); // next 120
        assert_eq!(c.pass_event(119), None, "dated before T: not passed");
        let mut due = Vec::new();
        while let Some(t) = c.pass_event(245) {
            due.push(t.0);
        }
        assert_eq!(due, vec![120, 180, 240], "backfill of every minute missed");
        assert_eq!(c.pass_idle(299), None);
        assert_eq!(c.pass_idle(300), Some(Instant(300)));
    }

    #[test]
    fn cadences() {
        assert_eq!(
            Instant(60).views(),
            vec![View::Summary, View::Bottlenecks, View::Workload]
        );
        assert_eq!(Instant(300).views().len(), 4);
        assert_eq!(Instant(900).views(), View::ALL.to_vec());
        assert_eq!(
            Instant(600).cadences(),
            vec![Cadence::OneMinute, Cadence::FiveMinutes]
        );
    }

    #[test]
    fn local_time_in_the_factory_zone() {
        let tz: Tz = "Asia/Bangkok".parse().unwrap();
        // 2026-01-01 00:00:00 UTC is 07:00 in Bangkok.
        assert_eq!(
            Instant(1_767_225_600).local(tz).to_string(),
            "2026-01-01 07:00:00"
        );
    }
}
