//! How long to wait before the next attempt of something that failed and is retried (a lost
//! binlog connection, a failing snapshot write): 0.5 s, doubling, capped at 30 s.

use std::time::Duration;

pub const MAX: Duration = Duration::from_secs(30);

/// The wait before attempt `attempt` + 1, after `attempt` failures.
pub fn backoff(attempt: u32) -> Duration {
    let ms = 500u64.saturating_mul(1 << attempt.saturating_sub(1).min(16));
    Duration::from_millis(ms).min(MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_thirty_seconds() {
        assert_eq!(backoff(1), Duration::from_millis(500));
        assert_eq!(backoff(2), Duration::from_secs(1));
        assert_eq!(backoff(4), Duration::from_secs(4));
        assert_eq!(backoff(7), Duration::from_secs(30));
        assert_eq!(backoff(100), Duration::from_secs(30));
    }
}
