//! Rate limiting of repeated log lines: a warning that can fire on every event (a failing sink
//! retried, a binlog stream that keeps dropping) is logged at most once per key per period, and
//! the next line that gets through says how many were suppressed in between.
//!
//! ```
//! use flowtally::ratelimit::WARNINGS;
//! if let Some(suppressed) = WARNINGS.check("binlog reconnect") {
//!     tracing::warn!(suppressed, "binlog stream lost; reconnecting");
//! }
//! ```

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The limiter shared by the service's repeatable warnings: one line per key per 10 s.
pub static WARNINGS: RateLimiter = RateLimiter::new(Duration::from_secs(10));

/// Keys beyond this many are pruned of the ones not seen for a period (keys embed tenant codes).
const MAX_KEYS: usize = 1024;

pub struct RateLimiter {
    period: Duration,
    keys: Mutex<BTreeMap<String, Entry>>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// When a line for this key was last let through.
    logged: Instant,
    /// Lines suppressed since.
    suppressed: u64,
}

impl RateLimiter {
    pub const fn new(period: Duration) -> Self {
        RateLimiter {
            period,
            keys: Mutex::new(BTreeMap::new()),
        }
    }

    /// `Some(n)` if a line for `key` may be logged now, `n` being how many were suppressed since
    /// the last one; `None` if it is to be suppressed (and counted).
    pub fn check(&self, key: &str) -> Option<u64> {
        self.check_at(key, Instant::now())
    }

    /// [`Self::check`] at a given instant.
    pub fn check_at(&self, key: &str, now: Instant) -> Option<u64> {
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = keys.get_mut(key) {
            if now.saturating_duration_since(e.logged) < self.period {
                e.suppressed += 1;
                return None;
            }
            let suppressed = e.suppressed;
            *e = Entry {
                logged: now,
                suppressed: 0,
            };
            return Some(suppressed);
        }
        if keys.len() >= MAX_KEYS {
            let period = self.period;
            keys.retain(|_, e| now.saturating_duration_since(e.logged) < period);
        }
        keys.insert(
            key.to_string(),
            Entry {
                logged: now,
                suppressed: 0,
            },
        );
        Some(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_key_per_period_then_the_suppressed_count() {
        let limiter = RateLimiter::new(Duration::from_secs(10));
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(limiter.check_at("a", at(0)), Some(0));
        assert_eq!(limiter.check_at("a", at(1)), None);
        assert_eq!(limiter.check_at("a", at(9)), None);
        assert_eq!(
            limiter.check_at("b", at(9)),
            Some(0),
            "keys are independent"
        );
        assert_eq!(limiter.check_at("a", at(10)), Some(2), "two suppressed");
        assert_eq!(limiter.check_at("a", at(15)), None);
        assert_eq!(limiter.check_at("a", at(30)), Some(1));
        assert_eq!(limiter.check_at("a", at(41)), Some(0), "nothing suppressed");
    }

    #[test]
    fn many_keys_are_pruned_not_kept_forever() {
        let limiter = RateLimiter::new(Duration::from_secs(10));
        let t0 = Instant::now();
        for i in 0..MAX_KEYS {
            assert_eq!(limiter.check_at(&format!("k{i}"), t0), Some(0));
        }
        let later = t0 + Duration::from_secs(11);
        assert_eq!(limiter.check_at("new", later), Some(0));
        assert_eq!(limiter.keys.lock().unwrap().len(), 1, "stale keys pruned");
        assert_eq!(limiter.check_at("new", later), None);
    }
}
