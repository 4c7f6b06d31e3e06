//! The binlog reader task: keeps one replica stream open, hands whole transactions and idle
//! signals to the applier in binlog order through a bounded channel, and reconnects with capped
//! exponential backoff from the last transaction it delivered, so nothing is lost or repeated.

use std::time::Duration;

use tokio::sync::mpsc;

use super::binlog::{BinlogOptions, BinlogStream, StreamError, StreamEvent};
use super::Position;
use crate::ratelimit::WARNINGS;

/// What the applier hears from the reader.
#[derive(Debug)]
pub enum SourceEvent {
    Stream(StreamEvent),
    /// The stream broke and the reader is reconnecting (for health and metrics).
    Reconnecting {
        reason: String,
        attempt: u32,
    },
    /// The binlog at the position is gone (purged): only a full recompute can go on.
    PositionLost(String),
    /// The stream cannot go on (compressed events, revoked grant).
    Fatal(String),
}

const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Reads from `from` until the receiver is dropped or a fatal error.
pub async fn run(options: BinlogOptions, from: Position, out: mpsc::Sender<SourceEvent>) {
    let mut position = from;
    let mut attempt = 0u32;
    loop {
        let reason = match BinlogStream::connect(&options, &position).await {
            Ok(mut stream) => loop {
                match stream.next().await {
                    Ok(event) => {
                        attempt = 0;
                        if let StreamEvent::Transaction(tx) = &event {
                            position = tx.end.clone();
                        }
                        if out.send(SourceEvent::Stream(event)).await.is_err() {
                            return;
                        }
                    }
                    Err(e) if e.is_retryable() => break e.to_string(),
                    Err(e) => {
                        let _ = out.send(stopped(e)).await;
                        return;
                    }
                }
            },
            Err(e) if e.is_retryable() => e.to_string(),
            Err(e) => {
                let _ = out.send(stopped(e)).await;
                return;
            }
        };
        attempt += 1;
        if let Some(suppressed) = WARNINGS.check("binlog reconnect") {
            tracing::warn!(%reason, attempt, resume = %position, suppressed, "binlog stream lost; reconnecting");
        }
        if out
            .send(SourceEvent::Reconnecting { reason, attempt })
            .await
            .is_err()
        {
            return;
        }
        tokio::time::sleep(backoff(attempt)).await;
    }
}

fn stopped(e: StreamError) -> SourceEvent {
    match e {
        StreamError::PositionLost(reason) => SourceEvent::PositionLost(reason),
        other => SourceEvent::Fatal(other.to_string()),
    }
}

/// 0.5 s, 1 s, 2 s, … capped at 30 s.
pub fn backoff(attempt: u32) -> Duration {
    let ms = 500u64.saturating_mul(1 << attempt.saturating_sub(1).min(16));
    Duration::from_millis(ms).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_thirty_seconds() {
        assert_eq!(backoff(1), Duration::from_millis(500));
        assert_eq!(backoff(2), Duration::from_secs(1));
        assert_eq!(backoff(4), Duration::from_secs(4));
        assert_eq!(backoff(7), Duration::from_secs(30));
        assert_eq!(backoff(100), Duration::from_secs(30));
    }
}
