//! The live source: flowtally connected to MySQL/MariaDB as a replica, reading the binlog.
//!
//! This module owns everything that knows about the wire: the start-up checks of the server's
//! binlog settings and grants ([`check_server`]), the replica connection ([`BinlogStream`]), the
//! flavour differences (MariaDB GTID events, MySQL GTID sets), binlog positions, heartbeats and
//! read timeouts, and the decoding of row events of the tracked tables into [`SourceChange`]s,
//! grouped into whole committed [`Transaction`]s. Reconnecting is the caller's business: every
//! error says whether it is worth retrying, and a [`Transaction::end`] is a safe resume point.
//!
//! This file holds the stream itself: connecting, reading events (timeouts, driver panics,
//! errors classified), and the event loop that follows positions and groups events into
//! transactions. The rest:
//!
//! - `checks`: the start-up checks ([`check_server`], [`SetupError`]).
//! - `tables`: table-map tracking: which table ids are tracked tables, their needed columns
//!   located by name, the schema drift of a tracked table ([`TableProblem`]).
//! - `rows`: rows events of tracked tables to [`SourceChange`]s.
//! - `decode`: the row-image decoder, row bytes to values of the needed columns.
//! - `bytes`: integer readers and the event CRC32.
//! - `tests`: unit tests that replay binlog files recorded from real servers (`fixtures/`).
//!
//! The GTID state itself is `source::gtid`. Imports run one way: rows → tables → decode.

mod bytes;
mod checks;
mod decode;
mod rows;
mod tables;

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use mysql_async::binlog::events::{
    Event, GtidEvent, QueryEvent, RotateEvent, TransactionPayloadEvent,
};
use mysql_async::binlog::{EventType, TransactionPayloadCompressionType};
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStreamRequest, Conn, OptsBuilder};

pub use crate::source::Flavor;
pub use checks::{
    check_server, inspect_server, ServerInfo, ServerReport, SettingCheck, SetupError,
};

use super::{Position, SourceChange};
use crate::schema::TableProblem;
use crate::source::gtid::{format_uuid, Gtid, GtidState, MySqlGtidSet};
use bytes::{le_u32, le_u64, trailing_crc_matches};
use checks::{scalar, ACCESS_DENIED};
use rows::{is_rows_event, RowDecoder};
use tables::TableMaps;

/// Why the stream stopped. Only [`StreamError::is_retryable`] errors are worth a reconnect from
/// the last applied [`Transaction::end`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StreamError {
    /// Retrying cannot help: refused login, missing grant, compressed events, a server setting
    /// changed under us, a column type we cannot even skip.
    #[error("{0}")]
    Fatal(String),
    /// The server cannot serve the requested position (binlog purged, unknown file): only a
    /// full recompute from a fresh position helps.
    #[error("the server cannot stream from the requested binlog position: {0}")]
    PositionLost(String),
    /// Neither an event nor a heartbeat within 3 heartbeat periods.
    #[error("no binlog event or heartbeat within {0:?}")]
    Timeout(Duration),
    /// The connection ended (server shutdown, network, crash), or could not be made.
    #[error("binlog connection lost: {doing}")]
    Disconnected {
        doing: String,
        #[source]
        cause: DriverError,
    },
    /// The server closed the stream.
    #[error("binlog connection lost: {0}")]
    Closed(String),
    /// One event could not be read or decoded (including a panic inside the driver).
    #[error("could not decode a binlog event: {0}")]
    Decode(String),
}

impl StreamError {
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            StreamError::Timeout(_)
                | StreamError::Disconnected { .. }
                | StreamError::Closed(_)
                | StreamError::Decode(_)
        )
    }
}

/// How to reach the server as a replica, and what to follow.
#[derive(Debug, Clone)]
pub struct BinlogOptions {
    /// Built by the caller (credentials, TLS), without a database.
    pub opts: mysql_async::Opts,
    /// The replica id sent with the dump request; must differ from every other replica's.
    pub server_id: u32,
    /// The server sends a heartbeat after this much idle time; a read fails after 3 of them.
    /// Zero disables both.
    pub heartbeat: Duration,
    pub core_db: String,
    pub db_prefix: String,
}

impl BinlogOptions {
    /// The options `run` and `check` follow the binlog with, from the configuration.
    pub fn of(cfg: &crate::config::Config) -> BinlogOptions {
        BinlogOptions {
            opts: crate::db::binlog_opts(&cfg.source),
            server_id: cfg.server_id,
            heartbeat: Duration::from_secs(cfg.heartbeat_secs),
            core_db: cfg.core_db.clone(),
            db_prefix: cfg.db_prefix.clone(),
        }
    }
}

/// What [`BinlogStream::next`] yields.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    Transaction(Transaction),
    /// The server is idle: everything committed so far has been delivered.
    Heartbeat,
}

/// One committed transaction, delivered whole once its commit event arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct Transaction {
    /// Changes to tracked tables, in binlog order; empty for transactions that touch nothing
    /// tracked (they still advance the caller's clock and position).
    pub changes: Vec<SourceChange>,
    /// Epoch seconds of the commit event (XID, COMMIT query, or the DDL statement itself).
    pub commit_ts: i64,
    /// The position just after the commit event, GTID state included: resume here.
    pub end: Position,
    /// The transaction's GTID, when it has one.
    pub gtid: Option<Gtid>,
    /// Tracked tables whose table map lacks needed columns; their rows were skipped.
    pub drift: Vec<TableProblem>,
}

const ER_SPECIFIC_ACCESS_DENIED: u16 = 1227;
/// ER_MASTER_FATAL_ERROR_READING_BINLOG: purged or unknown file, impossible position.
const ER_MASTER_FATAL_READING_BINLOG: u16 = 1236;

/// Events over 16 MB (one row with a big JSON or TEXT value anywhere on the server) must pass.
const MAX_PACKET: usize = 1 << 30;

/// A replica connection delivering whole committed transactions.
pub struct BinlogStream {
    inner: mysql_async::BinlogStream,
    decoder: Decoder,
    read_timeout: Option<Duration>,
    /// Set once the stream failed: its buffered state is no longer trustworthy.
    broken: Option<StreamError>,
}

impl BinlogStream {
    /// Connects as a replica and asks for the binlog from `from` (file + position; `from.gtid`
    /// seeds the GTID state reported in positions).
    pub async fn connect(
        options: &BinlogOptions,
        from: &Position,
    ) -> Result<BinlogStream, StreamError> {
        if options.server_id == 0 {
            return Err(StreamError::Fatal(
                "source.server_id must not be 0: the server treats id 0 as a one-shot dump".into(),
            ));
        }
        let opts = OptsBuilder::from_opts(options.opts.clone())
            .db_name(None::<String>)
            .max_allowed_packet(Some(MAX_PACKET));
        let mut conn = Conn::new(opts)
            .await
            .map_err(|e| connect_error(e, Stage::Login, None))?;

        let version = scalar(&mut conn, "SELECT VERSION()")
            .await
            .map_err(|e| connect_error(e, Stage::Session, None))?
            .unwrap_or_default();
        let flavor = Flavor::of_version(&version);

        let mut setup = Vec::new();
        if flavor == Flavor::MariaDb {
            // Without it MariaDB rewrites its GTID events into BEGIN query events.
            setup.push("SET @mariadb_slave_capability=4".to_string());
        }
        if !options.heartbeat.is_zero() {
            let ns = options.heartbeat.as_nanos().min(u64::MAX as u128);
            setup.push(format!("SET @master_heartbeat_period={ns}"));
            if flavor == Flavor::MySql {
                // MySQL 8.0.26+ reads the renamed variable.
                setup.push(format!("SET @source_heartbeat_period={ns}"));
            }
        }
        // Resuming by GTID state (after a failover: the file and offset of another server mean
        // nothing here). MariaDB takes the state as a session variable, strictly: a GTID of
        // the state that its binlog lacks is an error, never a resume by sequence number.
        let by_gtid = from.resumes_by_gtid();
        if by_gtid && flavor == Flavor::MariaDb {
            let state = from.gtid.as_deref().unwrap_or_default();
            if !state
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'-' || b == b',')
            {
                return Err(StreamError::Fatal(format!(
                    "cannot resume from GTID state '{state}': not a MariaDB GTID list"
                )));
            }
            setup.push(format!("SET @slave_connect_state='{state}'"));
            setup.push("SET @slave_gtid_strict_mode=1".to_string());
        }
        // No SET @master_binlog_checksum here: mysql_async sets it (to 'ALL') itself when it
        // registers as a replica, after anything we set, and MariaDB only checks that it exists.
        // Checksummed events are then sent as the server writes them.
        for sql in &setup {
            conn.query_drop(sql.as_str())
                .await
                .map_err(|e| connect_error(e, Stage::Session, Some(flavor)))?;
        }

        let sids: Vec<mysql_async::Sid> = if by_gtid && flavor == Flavor::MySql {
            let set = from
                .gtid
                .as_deref()
                .and_then(MySqlGtidSet::parse)
                .ok_or_else(|| {
                    StreamError::Fatal(format!("cannot resume from {from}: no MySQL GTID set"))
                })?;
            set.sids()
                .iter()
                .map(|s| s.parse())
                .collect::<Result<_, _>>()
                .map_err(|e| StreamError::Fatal(format!("GTID set of {from}: {e}")))?
        } else {
            Vec::new()
        };
        let request = match (by_gtid, flavor) {
            (true, Flavor::MySql) => BinlogStreamRequest::new(options.server_id)
                .with_gtid()
                .with_gtid_set(sids),
            // MariaDB: an empty file name with the connect state set above.
            (true, Flavor::MariaDb) => BinlogStreamRequest::new(options.server_id).with_pos(4),
            (false, _) => BinlogStreamRequest::new(options.server_id)
                .with_filename(from.file.as_bytes())
                .with_pos(from.pos),
        };
        let inner = conn
            .get_binlog_stream(request)
            .await
            .map_err(|e| connect_error(e, Stage::Dump, Some(flavor)))?;

        let read_timeout = (!options.heartbeat.is_zero()).then(|| options.heartbeat * 3);
        Ok(BinlogStream {
            inner,
            decoder: Decoder::new(flavor, options, from),
            read_timeout,
            broken: None,
        })
    }

    /// The next committed transaction, or a heartbeat when the server is idle. After an error the
    /// stream is dead: reconnect from the last applied [`Transaction::end`].
    pub async fn next(&mut self) -> Result<StreamEvent, StreamError> {
        if let Some(err) = &self.broken {
            return Err(err.clone());
        }
        let result = self.next_inner().await;
        if let Err(err) = &result {
            self.broken = Some(err.clone());
        }
        result
    }

    async fn next_inner(&mut self) -> Result<StreamEvent, StreamError> {
        loop {
            let event = self.read_event().await?;
            let decoder = &mut self.decoder;
            let handled = std::panic::catch_unwind(AssertUnwindSafe(|| decoder.handle(&event)))
                .map_err(|panic| {
                StreamError::Decode(format!(
                    "panic while decoding a {} event at {}: {}",
                    event.header().event_type_raw(),
                    self.decoder.position(),
                    panic_message(&panic)
                ))
            })??;
            if let Some(out) = handled {
                return Ok(out);
            }
        }
    }

    async fn read_event(&mut self) -> Result<Event, StreamError> {
        // mysql_common unwraps on a packet shorter than its header says: a panic here is a bad
        // packet, not a reason to die.
        let read = AssertUnwindSafe(self.inner.next()).catch_unwind();
        let outcome = match self.read_timeout {
            Some(limit) => tokio::time::timeout(limit, read)
                .await
                .map_err(|_| StreamError::Timeout(limit))?,
            None => read.await,
        };
        match outcome {
            Err(panic) => Err(StreamError::Decode(format!(
                "panic while reading an event after {}: {}",
                self.decoder.position(),
                panic_message(&panic)
            ))),
            Ok(None) => Err(StreamError::Closed(
                "the server ended the binlog stream (shutdown or replica kicked out)".into(),
            )),
            Ok(Some(Ok(event))) => Ok(event),
            Ok(Some(Err(err))) => Err(stream_error(err)),
        }
    }

    /// Rows left out because their primary key was NULL, since this stream connected.
    pub fn skipped_rows(&self) -> u64 {
        self.decoder.rows.skipped
    }

    /// Rows of tracked tables decoded since this stream connected.
    pub fn decoded_rows(&self) -> u64 {
        self.decoder.rows.decoded
    }

    pub fn flavor(&self) -> Flavor {
        self.decoder.flavor
    }

    /// The position after the last event read (a transaction boundary between transactions).
    pub fn position(&self) -> Position {
        self.decoder.position()
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Where a connection attempt failed: the same "access denied" means a bad login at the start
/// and a missing REPLICATION SLAVE grant at the dump request (MariaDB answers 1045 there too).
#[derive(Clone, Copy)]
enum Stage {
    Login,
    Session,
    Dump,
}

/// Server messages never contain the password (only "using password: YES"), and Opts are never
/// formatted, so these messages are safe to log.
fn connect_error(err: mysql_async::Error, stage: Stage, flavor: Option<Flavor>) -> StreamError {
    let doing = match stage {
        Stage::Login => "logging in to the source server",
        Stage::Session => "preparing the replica session",
        Stage::Dump => "requesting the binlog",
    };
    match err {
        mysql_async::Error::Server(se) if ACCESS_DENIED.contains(&se.code) => {
            let hint = match stage {
                Stage::Login if se.code != ER_SPECIFIC_ACCESS_DENIED => {
                    "check the user name, the password (password_env / password_file) and the \
                     host the account allows"
                }
                _ => match flavor {
                    Some(f) => &format!("the flowtally user needs {}", f.replication_grants()),
                    None => {
                        "the flowtally user needs GRANT REPLICATION SLAVE, REPLICATION CLIENT ON \
                         *.* (BINLOG MONITOR on MariaDB)"
                    }
                },
            };
            StreamError::Fatal(format!(
                "{doing}: access denied (server error {}: {}); {hint}",
                se.code, se.message
            ))
        }
        mysql_async::Error::Server(se) if se.code == ER_MASTER_FATAL_READING_BINLOG => {
            StreamError::PositionLost(se.message)
        }
        mysql_async::Error::Url(e) => StreamError::Fatal(format!("{doing}: {e}")),
        other => StreamError::Disconnected {
            doing: doing.to_string(),
            cause: DriverError::from(other),
        },
    }
}

fn stream_error(err: mysql_async::Error) -> StreamError {
    match err {
        mysql_async::Error::Server(se) if se.code == ER_MASTER_FATAL_READING_BINLOG => {
            StreamError::PositionLost(se.message)
        }
        mysql_async::Error::Server(se) if ACCESS_DENIED.contains(&se.code) => {
            StreamError::Fatal(format!(
                "the server refused the binlog dump (server error {}: {}): the flowtally user \
                 needs REPLICATION SLAVE",
                se.code, se.message
            ))
        }
        mysql_async::Error::Io(e) => match e {
            mysql_async::IoError::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => {
                StreamError::Decode(io.to_string())
            }
            other => StreamError::Disconnected {
                doing: "reading the binlog".into(),
                cause: DriverError::from(mysql_async::Error::Io(other)),
            },
        },
        mysql_async::Error::Driver(mysql_async::DriverError::UnexpectedPacket { payload }) => {
            StreamError::Decode(format!("unexpected packet of {} bytes", payload.len()))
        }
        other => StreamError::Disconnected {
            doing: "reading the binlog".into(),
            cause: DriverError::from(other),
        },
    }
}

/// A driver error kept whole as the cause of a [`StreamError`] (shared: stream errors are
/// cloned into status and events).
#[derive(Debug, Clone)]
pub struct DriverError(std::sync::Arc<mysql_async::Error>);

impl From<mysql_async::Error> for DriverError {
    fn from(e: mysql_async::Error) -> Self {
        DriverError(std::sync::Arc::new(e))
    }
}

impl std::fmt::Display for DriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for DriverError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Two stream errors are the same when they say the same (the driver's errors have no
/// equality of their own).
impl PartialEq for DriverError {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

// MariaDB event types mysql_common does not know.
const MARIA_GTID: u8 = 162;
const MARIA_GTID_LIST: u8 = 163;
const MARIA_COMPRESSED_FIRST: u8 = 165;
const MARIA_COMPRESSED_LAST: u8 = 171;
/// MySQL 8.0.26+ heartbeat with a 64-bit position.
const MYSQL_HEARTBEAT_V2: u8 = 41;
/// MariaDB GTID flag: the group is a single statement without BEGIN (DDL, non-transactional).
const FL_STANDALONE: u8 = 1;
/// Events the server made up for the stream (fake rotate, re-sent format description).
const LOG_EVENT_ARTIFICIAL_F: u16 = 0x20;

/// The event loop's state: where in the binlog we are, the GTID state there, the transaction
/// being collected, what the table ids of the current file mean (`tables`) and the rows decoder
/// (`rows`).
struct Decoder {
    flavor: Flavor,
    file: String,
    pos: u64,
    gtid: GtidState,
    tables: TableMaps,
    rows: RowDecoder,
    /// A BEGIN (or a non-standalone MariaDB GTID) opened a group that a commit will close.
    in_txn: bool,
    /// The GTID of the transaction in progress, and whether it is an anonymous one.
    pending_gtid: Option<Gtid>,
    anonymous: bool,
    changes: Vec<SourceChange>,
    drift: Vec<TableProblem>,
}

impl Decoder {
    fn new(flavor: Flavor, options: &BinlogOptions, from: &Position) -> Decoder {
        Decoder {
            flavor,
            file: from.file.clone(),
            pos: from.pos,
            gtid: GtidState::start(flavor, from.gtid.as_deref()),
            tables: TableMaps::new(&options.core_db, &options.db_prefix),
            rows: RowDecoder::default(),
            in_txn: false,
            pending_gtid: None,
            anonymous: false,
            changes: Vec::new(),
            drift: Vec::new(),
        }
    }

    fn position(&self) -> Position {
        Position {
            file: self.file.clone(),
            pos: self.pos,
            gtid: self.gtid.current(),
        }
    }

    fn handle(&mut self, event: &Event) -> Result<Option<StreamEvent>, StreamError> {
        let header = event.header();
        let kind = header.event_type_raw();

        if kind == EventType::ROTATE_EVENT as u8 {
            self.rotate(event)?;
            return Ok(None);
        }
        // Artificial events (log_pos 0) and events inside a MySQL transaction payload carry no
        // usable position; positions only grow within a file.
        let log_pos = u64::from(header.log_pos());
        let jumped = log_pos > self.pos;
        if jumped {
            self.pos = log_pos;
        }

        match kind {
            // A heartbeat past the last event sent is not idleness: it says where the server
            // skipped to (MySQL sends one after the transactions a resume by GTID set skips,
            // before what follows them). An idle server's heartbeat stands where the stream
            // does; it comes one heartbeat period later.
            k if k == EventType::HEARTBEAT_EVENT as u8 || k == MYSQL_HEARTBEAT_V2 => {
                Ok((!jumped).then_some(StreamEvent::Heartbeat))
            }
            k if k == EventType::TABLE_MAP_EVENT as u8 => {
                let at = self.position();
                if let Some(drift) = self.tables.map(event, &at)? {
                    self.drift.push(drift);
                }
                Ok(None)
            }
            k if is_rows_event(k) => {
                let at = self.position();
                self.rows
                    .rows(event, &self.tables, &mut self.changes, &at)?;
                Ok(None)
            }
            k if k == EventType::XID_EVENT as u8 => Ok(Some(self.commit(header.timestamp()))),
            k if k == EventType::XA_PREPARE_LOG_EVENT as u8 => {
                // The prepared branch is in the binlog now; its XA COMMIT comes as a separate
                // query later. An XA ROLLBACK after this is not undone here.
                Ok(Some(self.commit(header.timestamp())))
            }
            k if k == EventType::QUERY_EVENT as u8 => self.query(event),
            MARIA_GTID => {
                let data = event.data();
                let seq = le_u64(data.get(0..8));
                let domain = le_u32(data.get(8..12));
                let flags = data.get(12).copied();
                match (seq, domain, flags) {
                    (Some(seq), Some(domain), Some(flags)) => {
                        self.pending_gtid = Some(Gtid::MariaDb {
                            domain,
                            server: header.server_id(),
                            seq,
                        });
                        self.in_txn = flags & FL_STANDALONE == 0;
                        Ok(None)
                    }
                    _ => Err(StreamError::Decode(format!(
                        "MariaDB GTID event of {} bytes at {}",
                        data.len(),
                        self.position()
                    ))),
                }
            }
            MARIA_GTID_LIST => {
                self.gtid_list(event.data());
                Ok(None)
            }
            k if (MARIA_COMPRESSED_FIRST..=MARIA_COMPRESSED_LAST).contains(&k) => {
                Err(StreamError::Fatal(format!(
                    "the binlog holds a compressed event (type {k}) at {}: flowtally cannot read \
                     compressed binlogs; run SET GLOBAL log_bin_compress=OFF, add \
                     log_bin_compress=OFF to the server config, then reset the checkpoint",
                    self.position()
                )))
            }
            k if k == EventType::GTID_EVENT as u8
                || k == EventType::GTID_TAGGED_LOG_EVENT as u8 =>
            {
                let g = event.read_event::<GtidEvent>().map_err(|e| {
                    StreamError::Decode(format!("GTID event at {}: {e}", self.position()))
                })?;
                self.pending_gtid = Some(Gtid::MySql {
                    uuid: format_uuid(&g.sid()),
                    tag: g.tag().map(|t| t.as_str().to_string()).unwrap_or_default(),
                    gno: g.gno(),
                });
                Ok(None)
            }
            k if k == EventType::ANONYMOUS_GTID_EVENT as u8 => {
                self.anonymous = true;
                Ok(None)
            }
            k if k == EventType::TRANSACTION_PAYLOAD_EVENT as u8 => {
                self.check_payload(event)?;
                Ok(None)
            }
            // FDE, STOP, ANNOTATE_ROWS, binlog checkpoints, previous GTIDs, INTVAR, RAND,
            // USER_VAR, ROWS_QUERY ...: nothing to do beyond the position.
            _ => Ok(None),
        }
    }

    fn rotate(&mut self, event: &Event) -> Result<(), StreamError> {
        let rotate = event
            .read_event::<RotateEvent>()
            .map_err(|e| StreamError::Decode(format!("rotate event: {e}")))?;
        let mut name = rotate.name_raw().to_vec();
        // The first, fake rotate comes before the format description tells mysql_common that
        // events carry a CRC32, so its name still ends with the 4 checksum bytes. They are
        // recognised by being the CRC32 of the rest of the event; nothing else can match that.
        if name.len() > 4 && trailing_crc_matches(event) {
            name.truncate(name.len() - 4);
        }
        self.file = String::from_utf8_lossy(&name).into_owned();
        self.pos = rotate.position();
        // Every transaction re-sends its table maps, so forgetting them at the end of a file
        // loses nothing and keeps the map bounded.
        if event.header().flags_raw() & LOG_EVENT_ARTIFICIAL_F == 0 && event.header().log_pos() != 0
        {
            self.tables.clear();
        }
        Ok(())
    }

    fn query(&mut self, event: &Event) -> Result<Option<StreamEvent>, StreamError> {
        let q = event
            .read_event::<QueryEvent>()
            .map_err(|e| StreamError::Decode(format!("query event at {}: {e}", self.position())))?;
        let text = q.query_raw();
        match classify_query(text) {
            QueryKind::Begin => {
                self.in_txn = true;
                Ok(None)
            }
            QueryKind::End => Ok(Some(self.commit(event.header().timestamp()))),
            QueryKind::Other if self.in_txn => Ok(None),
            // A statement outside any transaction (DDL): its own transaction.
            QueryKind::Other => Ok(Some(self.commit(event.header().timestamp()))),
        }
    }

    fn commit(&mut self, timestamp: u32) -> StreamEvent {
        let gtid = self.pending_gtid.take();
        match &gtid {
            Some(g) => self.gtid.commit(g),
            None if std::mem::take(&mut self.anonymous) => self.gtid.anonymous(),
            None => {}
        }
        self.in_txn = false;
        StreamEvent::Transaction(Transaction {
            changes: std::mem::take(&mut self.changes),
            commit_ts: i64::from(timestamp),
            end: self.position(),
            gtid,
            drift: std::mem::take(&mut self.drift),
        })
    }

    /// A MariaDB GTID list event: a count, then (domain u32, server u32, seq u64) entries.
    fn gtid_list(&mut self, data: &[u8]) {
        let Some(count) = le_u32(data.get(0..4)) else {
            return;
        };
        let count = (count & 0x0fff_ffff) as usize;
        for i in 0..count {
            let at = 4 + i * 16;
            let (Some(domain), Some(server), Some(seq)) = (
                le_u32(data.get(at..at + 4)),
                le_u32(data.get(at + 4..at + 8)),
                le_u64(data.get(at + 8..at + 16)),
            ) else {
                return;
            };
            self.gtid.fill_domain(domain, server, seq);
        }
    }

    fn check_payload(&self, event: &Event) -> Result<(), StreamError> {
        let fatal = |why: String| {
            StreamError::Fatal(format!(
                "the binlog holds a compressed transaction payload flowtally cannot open at {} \
                 ({why}): run SET GLOBAL binlog_transaction_compression=OFF, add \
                 binlog_transaction_compression=OFF to the server config, then reset the \
                 checkpoint",
                self.position()
            ))
        };
        let payload = event
            .read_event::<TransactionPayloadEvent>()
            .map_err(|e| fatal(e.to_string()))?;
        if payload.algorithm() == TransactionPayloadCompressionType::NONE {
            return Ok(());
        }
        let expected = payload.uncompressed_size() as usize;
        // mysql_async swallows decompression failures (it yields an empty payload): decompress
        // once more to tell an empty transaction from a lost one.
        let got = payload.danger_decompress().len();
        if got != expected {
            return Err(fatal(format!(
                "decompressed {got} bytes, expected {expected}"
            )));
        }
        Ok(())
    }
}

enum QueryKind {
    Begin,
    End,
    Other,
}

fn classify_query(text: &[u8]) -> QueryKind {
    let text = String::from_utf8_lossy(&text[..text.len().min(64)]).to_ascii_uppercase();
    let words: Vec<&str> = text.split_whitespace().take(3).collect();
    match words.as_slice() {
        ["BEGIN", ..]
        | ["START", "TRANSACTION", ..]
        | ["XA", "START", ..]
        | ["XA", "BEGIN", ..] => QueryKind::Begin,
        ["ROLLBACK", "TO", ..] | ["ROLLBACK", "WORK", "TO", ..] => QueryKind::Other,
        ["COMMIT", ..] | ["ROLLBACK", ..] | ["XA", "COMMIT", ..] | ["XA", "ROLLBACK", ..] => {
            QueryKind::End
        }
        _ => QueryKind::Other,
    }
}

#[cfg(test)]
mod tests;
