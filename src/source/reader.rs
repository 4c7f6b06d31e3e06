//! The binlog reader task: keeps one replica stream open, hands whole transactions and idle
//! signals to the applier in binlog order through a bounded channel, and reconnects with capped
//! exponential backoff from the last transaction it delivered, so nothing is lost or repeated.

use tokio::sync::mpsc;

use super::binlog::{
    check_server, BinlogOptions, BinlogStream, ServerInfo, StreamError, StreamEvent,
};
use super::Position;
use crate::backoff::backoff;
use crate::causes::Causes;
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
    /// The binlog at the position is gone (purged): only a full recompute can go on, from the
    /// end of the binlog read now. The reader has stopped.
    PositionLost {
        reason: String,
        now: Result<ServerInfo, StreamError>,
    },
    /// The stream cannot go on (compressed events, revoked grant). The reader has stopped.
    Fatal(StreamError),
}

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
                    Err(e) if e.is_retryable() => break Causes(&e).to_string(),
                    Err(e) => {
                        let _ = out.send(stopped(&options, e).await).await;
                        return;
                    }
                }
            },
            Err(e) if e.is_retryable() => Causes(&e).to_string(),
            Err(e) => {
                let _ = out.send(stopped(&options, e).await).await;
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

async fn stopped(options: &BinlogOptions, e: StreamError) -> SourceEvent {
    match e {
        StreamError::PositionLost(reason) => SourceEvent::PositionLost {
            reason,
            now: server_now(options).await,
        },
        other => SourceEvent::Fatal(other),
    }
}

/// The server as it is now (its binlog end, for a restart from there).
async fn server_now(options: &BinlogOptions) -> Result<ServerInfo, StreamError> {
    let mut conn = mysql_async::Conn::new(options.opts.clone())
        .await
        .map_err(|e| StreamError::Disconnected {
            doing: "reading the binlog end".into(),
            cause: e.into(),
        })?;
    let info = check_server(&mut conn)
        .await
        .map_err(|e| StreamError::Fatal(e.to_string()));
    let _ = conn.disconnect().await;
    info
}
