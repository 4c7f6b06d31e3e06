//! The live source: flowtally connected to MySQL/MariaDB as a replica, reading the binlog.
//!
//! This module owns everything that knows about the wire: the start-up checks of the server's
//! binlog settings and grants ([`check_server`]), the replica connection ([`BinlogStream`]), the
//! flavour differences (MariaDB GTID events, MySQL GTID sets), binlog positions, heartbeats and
//! read timeouts, and the decoding of row events of the tracked tables into [`SourceChange`]s,
//! grouped into whole committed [`Transaction`]s. Reconnecting is the caller's business: every
//! error says whether it is worth retrying, and a [`Transaction::end`] is a safe resume point.
//!
//! Row images are decoded here rather than by mysql_common's `BinlogRow`, which builds a named
//! `Column` for every value of every row (most of its cost, see the binlog-readers notes): only the
//! columns flowtally reads are converted, located by name through the table map's FULL metadata,
//! and every other column is merely skipped over by its binary width.

use std::collections::{BTreeMap, HashMap};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime};
use futures_util::{FutureExt, StreamExt};
use mysql_async::binlog::events::{
    Event, EventData, GtidEvent, OptionalMetadataField, QueryEvent, RotateEvent, RowsEventData,
    TableMapEvent, TransactionPayloadEvent,
};
use mysql_async::binlog::{EventType, TransactionPayloadCompressionType};
use mysql_async::consts::ColumnType;
use mysql_async::prelude::Queryable;
use mysql_async::{BinlogStreamRequest, Conn, OptsBuilder};

use super::{Organization, Position, SourceChange};
use crate::model::{Change, Row, Table, Value};

/// Which server family we talk to: GTIDs, status statements and a few settings differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    MariaDb,
    MySql,
}

/// What [`check_server`] learnt about the server.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerInfo {
    pub flavor: Flavor,
    pub version: String,
    /// Who the server is, to refuse a checkpoint taken elsewhere: MySQL `@@server_uuid`;
    /// MariaDB `<@@server_id>:<server_uid status value>` (or `@@server_id` alone without it).
    pub identity: String,
    /// The current end of the binlog, with the GTID state there (`None` when GTIDs are unused).
    pub position: Position,
}

/// A server that cannot feed flowtally, said so that an operator can fix it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SetupError {
    /// A server setting with the wrong value.
    #[error("{setting} is {found}, flowtally needs {needed}: {fix}")]
    Setting {
        setting: &'static str,
        found: String,
        needed: &'static str,
        fix: String,
    },
    /// The login lacks a grant flowtally needs; the message names the grant.
    #[error("{0}")]
    Privilege(String),
    /// More than one of the above: all are reported at once, one per line.
    #[error("{}", lines(.0))]
    Several(Vec<SetupError>),
    /// The checks themselves could not run (connection lost, unexpected answer).
    #[error("could not check the server: {0}")]
    Query(String),
}

fn lines(errors: &[SetupError]) -> String {
    errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

impl SetupError {
    /// The individual problems (a [`SetupError::Several`] flattened).
    pub fn problems(&self) -> Vec<&SetupError> {
        match self {
            SetupError::Several(all) => all.iter().flat_map(|e| e.problems()).collect(),
            other => vec![other],
        }
    }

    fn from_list(mut list: Vec<SetupError>) -> Option<SetupError> {
        match list.len() {
            0 => None,
            1 => list.pop(),
            _ => Some(SetupError::Several(list)),
        }
    }
}

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
    /// The connection ended (server shutdown, network, crash).
    #[error("binlog connection lost: {0}")]
    Disconnected(String),
    /// One event could not be read or decoded (including a panic inside the driver).
    #[error("could not decode a binlog event: {0}")]
    Decode(String),
}

impl StreamError {
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            StreamError::Timeout(_) | StreamError::Disconnected(_) | StreamError::Decode(_)
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
    /// Tracked tables whose table map lacks needed columns; their rows were skipped.
    pub drift: Vec<SchemaDrift>,
}

/// A tracked table missing columns flowtally reads (dropped or renamed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaDrift {
    pub db: String,
    pub table: String,
    pub missing: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// Start-up checks
// ---------------------------------------------------------------------------------------------

const ER_SPECIFIC_ACCESS_DENIED: u16 = 1227;
const ER_PARSE_ERROR: u16 = 1064;
/// Codes of a refused login or a missing grant: retrying with the same credentials is futile.
const ACCESS_DENIED: &[u16] = &[1044, 1045, 1130, 1142, 1227, 1251, 1698, 3118, 4151];
/// ER_MASTER_FATAL_ERROR_READING_BINLOG: purged or unknown file, impossible position.
const ER_MASTER_FATAL_READING_BINLOG: u16 = 1236;

/// Verifies that the server writes a binlog flowtally can read, and that this login may read it.
/// Reports every problem found, not just the first.
pub async fn check_server(conn: &mut Conn) -> Result<ServerInfo, SetupError> {
    let version: String = query_text(conn, "SELECT VERSION()")
        .await?
        .and_then(|row| row.into_iter().next().flatten())
        .unwrap_or_default();
    let flavor = if version.to_ascii_lowercase().contains("mariadb") {
        Flavor::MariaDb
    } else {
        Flavor::MySql
    };

    let vars: HashMap<String, String> = query_rows(
        conn,
        "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('log_bin', 'binlog_format', \
         'binlog_row_image', 'binlog_row_metadata', 'log_bin_compress', 'server_id', \
         'server_uuid', 'gtid_binlog_pos', 'gtid_executed', 'hostname', 'datadir')",
    )
    .await?
    .into_iter()
    .filter_map(|row| {
        let mut it = row.into_iter();
        let name = it.next().flatten()?;
        Some((
            name.to_ascii_lowercase(),
            it.next().flatten().unwrap_or_default(),
        ))
    })
    .collect();
    let var = |name: &str| vars.get(name).map(|v| v.trim().to_string());

    let mut problems = setting_problems(flavor, &var);

    let identity = match flavor {
        Flavor::MySql => var("server_uuid").unwrap_or_default(),
        Flavor::MariaDb => {
            let server_id = var("server_id").unwrap_or_default();
            let uid = query_rows(conn, "SHOW GLOBAL STATUS LIKE 'server_uid'")
                .await?
                .into_iter()
                .find_map(|row| row.into_iter().nth(1).flatten())
                .filter(|v| !v.is_empty());
            match uid {
                Some(uid) => format!("{server_id}:{uid}"),
                // MariaDB before 11.x has no server_uid: the host and data directory tell two
                // servers with the same server_id apart (a moved server recomputes once).
                None => format!(
                    "{server_id}@{}:{}",
                    var("hostname").unwrap_or_default(),
                    var("datadir").unwrap_or_default()
                ),
            }
        }
    };

    let position = match master_status(conn, flavor).await {
        Ok(p) => p,
        Err(StatusError::Denied(msg)) => {
            let grant = match flavor {
                Flavor::MariaDb => "BINLOG MONITOR (REPLICATION CLIENT)",
                Flavor::MySql => "REPLICATION CLIENT",
            };
            problems.push(SetupError::Privilege(format!(
                "the login may not read the binlog position ({msg}): GRANT {grant} ON *.* TO the \
                 flowtally user"
            )));
            None
        }
        Err(StatusError::Other(msg)) => return Err(SetupError::Query(msg)),
    };

    if let Some(missing) = replication_grant_missing(conn).await? {
        problems.push(SetupError::Privilege(missing));
    }

    if let Some(err) = SetupError::from_list(problems) {
        return Err(err);
    }
    let position = position.ok_or_else(|| {
        SetupError::Query("SHOW MASTER STATUS returned no row although log_bin is ON".into())
    })?;
    Ok(ServerInfo {
        flavor,
        version,
        identity,
        position,
    })
}

fn setting_problems(flavor: Flavor, var: &dyn Fn(&str) -> Option<String>) -> Vec<SetupError> {
    let mut problems = Vec::new();
    let shown = |v: Option<String>| v.unwrap_or_else(|| "absent".to_string());
    let log_bin = var("log_bin");
    if !log_bin
        .as_deref()
        .is_some_and(|v| v.eq_ignore_ascii_case("ON") || v == "1")
    {
        problems.push(SetupError::Setting {
            setting: "log_bin",
            found: shown(log_bin),
            needed: "ON",
            fix: "add log_bin=<basename> (e.g. log_bin=mysql-bin) to the [mysqld] section of the \
                  server config and restart the server"
                .into(),
        });
    }
    let mut dynamic = |setting: &'static str, needed: &'static str| {
        let found = var(setting);
        if !found
            .as_deref()
            .is_some_and(|v| v.eq_ignore_ascii_case(needed))
        {
            let fix = match (&found, setting) {
                (None, "binlog_row_metadata") => "the server is too old for it: upgrade to \
                     MariaDB 10.5 or MySQL 8.0.1 or later, with binlog_row_metadata=FULL"
                    .to_string(),
                _ => format!(
                    "run SET GLOBAL {setting}={needed} and add {setting}={needed} to the server \
                     config"
                ),
            };
            problems.push(SetupError::Setting {
                setting,
                found: shown(found),
                needed,
                fix,
            });
        }
    };
    dynamic("binlog_format", "ROW");
    dynamic("binlog_row_image", "FULL");
    dynamic("binlog_row_metadata", "FULL");
    if flavor == Flavor::MariaDb {
        // Absent before MariaDB 10.2.3: nothing is compressed then.
        if let Some(found) = var("log_bin_compress") {
            if !(found.eq_ignore_ascii_case("OFF") || found == "0") {
                problems.push(SetupError::Setting {
                    setting: "log_bin_compress",
                    found,
                    needed: "OFF",
                    fix: "run SET GLOBAL log_bin_compress=OFF and add log_bin_compress=OFF to \
                          the server config"
                        .into(),
                });
            }
        }
    }
    problems
}

enum StatusError {
    Denied(String),
    Other(String),
}

/// The end of the binlog and the GTID state there, read so that both describe the same instant.
async fn master_status(conn: &mut Conn, flavor: Flavor) -> Result<Option<Position>, StatusError> {
    let classify = |e: mysql_async::Error| match e {
        mysql_async::Error::Server(se) if ACCESS_DENIED.contains(&se.code) => {
            StatusError::Denied(se.message)
        }
        other => StatusError::Other(other.to_string()),
    };
    // A commit between reading the position and the GTID state would pair them wrongly: read the
    // GTID state on both sides and retry until it did not move.
    for _ in 0..20 {
        let gtid_before = match flavor {
            Flavor::MariaDb => scalar(conn, "SELECT @@GLOBAL.gtid_binlog_pos").await,
            Flavor::MySql => Ok(None),
        }
        .map_err(classify)?;
        let rows = match conn
            .query::<mysql_async::Row, _>("SHOW MASTER STATUS")
            .await
        {
            Err(mysql_async::Error::Server(se)) if se.code == ER_PARSE_ERROR => {
                // MySQL 8.4 dropped SHOW MASTER STATUS.
                conn.query::<mysql_async::Row, _>("SHOW BINARY LOG STATUS")
                    .await
                    .map_err(classify)?
            }
            other => other.map_err(classify)?,
        };
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let file = value_text(row.as_ref(0)).unwrap_or_default();
        let pos = value_text(row.as_ref(1))
            .and_then(|p| p.trim().parse::<u64>().ok())
            .unwrap_or(4);
        let gtid = match flavor {
            // MySQL reports the executed set in the same row: consistent by construction.
            Flavor::MySql => value_text(row.as_ref(4)),
            Flavor::MariaDb => {
                let after = scalar(conn, "SELECT @@GLOBAL.gtid_binlog_pos")
                    .await
                    .map_err(classify)?;
                if after != gtid_before {
                    continue;
                }
                after
            }
        };
        let gtid = gtid
            .map(|g| g.split_whitespace().collect::<String>())
            .filter(|g| !g.is_empty());
        return Ok(Some(Position { file, pos, gtid }));
    }
    Err(StatusError::Other(
        "the GTID state kept moving while reading the binlog position".into(),
    ))
}

/// `Some(message)` when SHOW GRANTS proves that REPLICATION SLAVE is missing. Roles make the
/// answer uncertain: then the dump request itself will tell.
async fn replication_grant_missing(conn: &mut Conn) -> Result<Option<String>, SetupError> {
    let grants = match query_rows(conn, "SHOW GRANTS").await {
        Ok(rows) => rows,
        Err(_) => return Ok(None),
    };
    let grants: Vec<String> = grants
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .map(|g| g.to_ascii_uppercase())
        .collect();
    let has = grants.iter().any(|g| {
        (g.contains("ALL PRIVILEGES ON *.*")
            || g.contains("REPLICATION SLAVE")
            || g.contains("REPLICATION REPLICA"))
            && g.contains(" ON *.*")
    });
    let uses_roles = grants
        .iter()
        .any(|g| g.starts_with("GRANT `") || g.starts_with("GRANT '") || g.contains(" ROLE "));
    Ok((!has && !uses_roles && !grants.is_empty()).then(|| {
        "the login may not stream the binlog: GRANT REPLICATION SLAVE ON *.* TO the flowtally user"
            .to_string()
    }))
}

fn value_text(v: Option<&mysql_async::Value>) -> Option<String> {
    match v? {
        mysql_async::Value::NULL => None,
        mysql_async::Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        mysql_async::Value::Int(i) => Some(i.to_string()),
        mysql_async::Value::UInt(u) => Some(u.to_string()),
        other => Some(format!("{other:?}")),
    }
}

async fn scalar(conn: &mut Conn, sql: &str) -> Result<Option<String>, mysql_async::Error> {
    let row: Option<mysql_async::Row> = conn.query_first(sql).await?;
    Ok(row.and_then(|r| value_text(r.as_ref(0))))
}

async fn query_rows(conn: &mut Conn, sql: &str) -> Result<Vec<Vec<Option<String>>>, SetupError> {
    let rows: Vec<mysql_async::Row> = conn
        .query(sql)
        .await
        .map_err(|e| SetupError::Query(format!("{sql}: {e}")))?;
    Ok(rows
        .iter()
        .map(|r| (0..r.len()).map(|i| value_text(r.as_ref(i))).collect())
        .collect())
}

async fn query_text(conn: &mut Conn, sql: &str) -> Result<Option<Vec<Option<String>>>, SetupError> {
    Ok(query_rows(conn, sql).await?.into_iter().next())
}

// ---------------------------------------------------------------------------------------------
// The stream
// ---------------------------------------------------------------------------------------------

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
            .map_err(|e| connect_error(e, Stage::Login))?;

        let version = scalar(&mut conn, "SELECT VERSION()")
            .await
            .map_err(|e| connect_error(e, Stage::Session))?
            .unwrap_or_default();
        let flavor = if version.to_ascii_lowercase().contains("mariadb") {
            Flavor::MariaDb
        } else {
            Flavor::MySql
        };

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
        // No SET @master_binlog_checksum here: mysql_async sets it (to 'ALL') itself when it
        // registers as a replica, after anything we set, and MariaDB only checks that it exists.
        // Checksummed events are then sent as the server writes them.
        for sql in &setup {
            conn.query_drop(sql.as_str())
                .await
                .map_err(|e| connect_error(e, Stage::Session))?;
        }

        let request = BinlogStreamRequest::new(options.server_id)
            .with_filename(from.file.as_bytes())
            .with_pos(from.pos);
        let inner = conn
            .get_binlog_stream(request)
            .await
            .map_err(|e| connect_error(e, Stage::Dump))?;

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
            Ok(None) => Err(StreamError::Disconnected(
                "the server ended the binlog stream (shutdown or replica kicked out)".into(),
            )),
            Ok(Some(Ok(event))) => Ok(event),
            Ok(Some(Err(err))) => Err(stream_error(err)),
        }
    }

    /// Rows left out because their primary key was NULL, since this stream connected.
    pub fn skipped_rows(&self) -> u64 {
        self.decoder.skipped
    }

    /// Rows of tracked tables decoded since this stream connected.
    pub fn decoded_rows(&self) -> u64 {
        self.decoder.decoded
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
fn connect_error(err: mysql_async::Error, stage: Stage) -> StreamError {
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
                _ => {
                    "the flowtally user needs GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* \
                      (REPLICATION CLIENT is BINLOG MONITOR on MariaDB)"
                }
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
        other => StreamError::Disconnected(format!("{doing}: {other}")),
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
            other => StreamError::Disconnected(other.to_string()),
        },
        mysql_async::Error::Driver(mysql_async::DriverError::UnexpectedPacket { payload }) => {
            StreamError::Decode(format!("unexpected packet of {} bytes", payload.len()))
        }
        other => StreamError::Disconnected(other.to_string()),
    }
}

// ---------------------------------------------------------------------------------------------
// Event handling: transactions, positions, GTIDs
// ---------------------------------------------------------------------------------------------

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

struct Decoder {
    flavor: Flavor,
    core_db: String,
    db_prefix: String,
    file: String,
    pos: u64,
    gtid: GtidState,
    tables: HashMap<u64, Mapped>,
    /// A BEGIN (or a non-standalone MariaDB GTID) opened a group that a commit will close.
    in_txn: bool,
    pending_gtid: Option<PendingGtid>,
    changes: Vec<SourceChange>,
    drift: Vec<SchemaDrift>,
    skipped: u64,
    decoded: u64,
    scratch_before: Vec<Value>,
    scratch_after: Vec<Value>,
}

/// The table behind a table id, and the table map bytes it was built from (tracked tables only,
/// so that an unchanged map re-sent with every transaction is not analysed again).
struct Mapped {
    raw: Option<Vec<u8>>,
    plan: Arc<Plan>,
}

enum PendingGtid {
    MariaDb {
        domain: u32,
        server: u32,
        seq: u64,
    },
    MySql {
        sid: String,
        gno: u64,
    },
    /// An anonymous or tagged MySQL transaction: the set can no longer be tracked.
    Untrackable,
}

enum GtidState {
    None,
    MariaDb(BTreeMap<u32, (u32, u64)>),
    MySql(Option<MySqlGtidSet>),
}

impl Decoder {
    fn new(flavor: Flavor, options: &BinlogOptions, from: &Position) -> Decoder {
        let gtid = match flavor {
            Flavor::MariaDb => GtidState::MariaDb(
                from.gtid
                    .as_deref()
                    .map(parse_mariadb_gtids)
                    .unwrap_or_default(),
            ),
            // Without a starting set, single GTIDs would make a wrong partial set: keep None.
            Flavor::MySql => match from.gtid.as_deref().map(MySqlGtidSet::parse) {
                Some(set) => GtidState::MySql(set),
                None => GtidState::None,
            },
        };
        Decoder {
            flavor,
            core_db: options.core_db.clone(),
            db_prefix: options.db_prefix.clone(),
            file: from.file.clone(),
            pos: from.pos,
            gtid,
            tables: HashMap::new(),
            in_txn: false,
            pending_gtid: None,
            changes: Vec::new(),
            drift: Vec::new(),
            skipped: 0,
            decoded: 0,
            scratch_before: Vec::new(),
            scratch_after: Vec::new(),
        }
    }

    fn position(&self) -> Position {
        Position {
            file: self.file.clone(),
            pos: self.pos,
            gtid: self.gtid_string(),
        }
    }

    fn gtid_string(&self) -> Option<String> {
        match &self.gtid {
            GtidState::None => None,
            GtidState::MariaDb(map) if map.is_empty() => None,
            GtidState::MariaDb(map) => Some(format_mariadb_gtids(map)),
            GtidState::MySql(set) => set
                .as_ref()
                .map(|s| s.to_string())
                .filter(|s| !s.is_empty()),
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
        if log_pos > self.pos {
            self.pos = log_pos;
        }

        match kind {
            k if k == EventType::HEARTBEAT_EVENT as u8 || k == MYSQL_HEARTBEAT_V2 => {
                Ok(Some(StreamEvent::Heartbeat))
            }
            k if k == EventType::TABLE_MAP_EVENT as u8 => {
                self.table_map(event)?;
                Ok(None)
            }
            k if is_rows_event(k) => {
                self.rows(event)?;
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
                        self.pending_gtid = Some(PendingGtid::MariaDb {
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
                self.pending_gtid = Some(match event.read_event::<GtidEvent>() {
                    Ok(g) if !g.is_tagged() => PendingGtid::MySql {
                        sid: format_uuid(&g.sid()),
                        gno: g.gno(),
                    },
                    _ => PendingGtid::Untrackable,
                });
                Ok(None)
            }
            k if k == EventType::ANONYMOUS_GTID_EVENT as u8 => {
                self.pending_gtid = Some(PendingGtid::Untrackable);
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
        match (self.pending_gtid.take(), &mut self.gtid) {
            (
                Some(PendingGtid::MariaDb {
                    domain,
                    server,
                    seq,
                }),
                GtidState::MariaDb(map),
            ) => {
                map.insert(domain, (server, seq));
            }
            (Some(PendingGtid::MySql { sid, gno }), GtidState::MySql(Some(set))) => {
                set.add(&sid, gno);
            }
            (Some(PendingGtid::Untrackable), GtidState::MySql(set)) => *set = None,
            _ => {}
        }
        self.in_txn = false;
        StreamEvent::Transaction(Transaction {
            changes: std::mem::take(&mut self.changes),
            commit_ts: i64::from(timestamp),
            end: self.position(),
            drift: std::mem::take(&mut self.drift),
        })
    }

    fn gtid_list(&mut self, data: &[u8]) {
        let GtidState::MariaDb(map) = &mut self.gtid else {
            return;
        };
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
            // The list describes the start of a file: it only fills domains we know nothing of.
            map.entry(domain).or_insert((server, seq));
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

    fn table_map(&mut self, event: &Event) -> Result<(), StreamError> {
        let tme = event.read_event::<TableMapEvent>().map_err(|e| {
            StreamError::Decode(format!("table map event at {}: {e}", self.position()))
        })?;
        let table_id = tme.table_id();
        let target = self.target(tme.database_name_raw(), tme.table_name_raw());
        let Some(target) = target else {
            self.tables.insert(
                table_id,
                Mapped {
                    raw: None,
                    plan: Arc::new(Plan::Ignore),
                },
            );
            return Ok(());
        };
        if let Some(known) = self.tables.get(&table_id) {
            if known.raw.as_deref() == Some(event.data()) {
                return Ok(());
            }
        }
        let plan = build_plan(&tme, target)?;
        if let Plan::Drifted(drift) = &plan {
            tracing::warn!(
                db = %drift.db,
                table = %drift.table,
                missing = ?drift.missing,
                "tracked table lacks columns flowtally reads; its changes are skipped"
            );
            self.drift.push(drift.clone());
        }
        self.tables.insert(
            table_id,
            Mapped {
                raw: Some(event.data().to_vec()),
                plan: Arc::new(plan),
            },
        );
        Ok(())
    }

    fn target(&self, db: &[u8], table: &[u8]) -> Option<Target> {
        let prefix = self.db_prefix.as_bytes();
        if db.len() > prefix.len() && db[..prefix.len()].eq_ignore_ascii_case(prefix) {
            let table = Table::from_name(std::str::from_utf8(table).ok()?)?;
            return Some(Target::Tenant {
                db: String::from_utf8_lossy(db).into_owned(),
                table,
            });
        }
        if db.eq_ignore_ascii_case(self.core_db.as_bytes()) && table == b"organization" {
            return Some(Target::Organization);
        }
        None
    }

    fn rows(&mut self, event: &Event) -> Result<(), StreamError> {
        // Cheap peek at the table id (first field of every rows event) before parsing anything.
        let Some(table_id) = rows_table_id(event) else {
            return Err(StreamError::Decode(format!(
                "rows event too short at {}",
                self.position()
            )));
        };
        let plan = match self.tables.get(&table_id) {
            Some(mapped) => match &*mapped.plan {
                Plan::Decode(_) => Arc::clone(&mapped.plan),
                Plan::Ignore | Plan::Drifted(_) => return Ok(()),
            },
            None => return Ok(()),
        };
        let Plan::Decode(plan) = &*plan else {
            return Ok(());
        };
        let data = match event.read_data() {
            Ok(Some(EventData::RowsEvent(data))) => data,
            Ok(_) => return Ok(()),
            Err(e) => {
                return Err(StreamError::Decode(format!(
                    "rows event at {}: {e}",
                    self.position()
                )))
            }
        };
        // With a MINIMAL or NOBLOB row image a needed column can be absent and would read as
        // NULL: refuse rather than apply wrong rows.
        for (image, present) in [
            ("before", data.columns_before_image()),
            ("after", data.columns_after_image()),
        ] {
            let Some(present) = present else { continue };
            let absent = plan.slots.iter().enumerate().find_map(|(i, slot)| {
                let slot = (*slot)?;
                let here = present.get(i).is_some_and(|b| *b);
                (!here).then(|| plan.target.columns().get(slot).copied().unwrap_or("?"))
            });
            if let Some(column) = absent {
                return Err(StreamError::Fatal(format!(
                    "the {image} image of a row of {} at {} lacks column {column}: \
                     binlog_row_image is not FULL on the server; run SET GLOBAL \
                     binlog_row_image=FULL, add binlog_row_image=FULL to the server config, then \
                     reset the checkpoint",
                    plan.target_name(),
                    self.position()
                )));
            }
        }
        self.decode_rows(&data, plan).map_err(|e| {
            StreamError::Decode(format!(
                "rows of {} at {}: {e}",
                plan.target_name(),
                self.position()
            ))
        })
    }

    fn decode_rows(&mut self, data: &RowsEventData, plan: &Decoding) -> Result<(), String> {
        let num_columns = data.num_columns() as usize;
        if num_columns != plan.columns.len() {
            return Err(format!(
                "rows event has {num_columns} columns, its table map {}",
                plan.columns.len()
            ));
        }
        let before_cols: Option<Vec<bool>> = data
            .columns_before_image()
            .map(|bits| bits.iter().by_vals().collect());
        let after_cols: Option<Vec<bool>> = data
            .columns_after_image()
            .map(|bits| bits.iter().by_vals().collect());
        let partial = matches!(data, RowsEventData::PartialUpdateRowsEvent(_));
        let mut buf = data.rows_data();
        let mut before = std::mem::take(&mut self.scratch_before);
        let mut after = std::mem::take(&mut self.scratch_after);
        let result = (|| {
            while !buf.is_empty() {
                let has_before = match &before_cols {
                    Some(cols) => {
                        read_image(&mut buf, cols, plan, false, &mut before)?;
                        true
                    }
                    None => false,
                };
                let has_after = match &after_cols {
                    Some(cols) => {
                        read_image(&mut buf, cols, plan, partial, &mut after)?;
                        true
                    }
                    None => false,
                };
                self.emit(
                    plan,
                    has_before.then_some(before.as_slice()),
                    has_after.then_some(after.as_slice()),
                );
            }
            Ok(())
        })();
        self.scratch_before = before;
        self.scratch_after = after;
        result
    }

    /// Turns one row change (before and/or after image) into changes.
    fn emit(&mut self, plan: &Decoding, before: Option<&[Value]>, after: Option<&[Value]>) {
        self.decoded += 1;
        match &plan.target {
            Target::Tenant { db, table } => {
                let before = before.map(|v| Row::decode(*table, v));
                let after = after.map(|v| Row::decode(*table, v));
                let mut push = |change| {
                    self.changes.push(SourceChange::Tenant {
                        db: db.clone(),
                        change,
                    })
                };
                match (before, after) {
                    (_, Some(None)) | (Some(None), None) => self.skipped += 1,
                    (Some(Some(old)), Some(Some(new))) => {
                        if old.key() != new.key() {
                            push(Change::Delete(old.key()));
                        }
                        push(Change::Upsert(new));
                    }
                    (_, Some(Some(new))) => push(Change::Upsert(new)),
                    (Some(Some(old)), None) => push(Change::Delete(old.key())),
                    (None, None) => {}
                }
            }
            Target::Organization => {
                let decode = |v: &[Value]| {
                    let id = match v.first() {
                        Some(Value::Int(id)) => *id,
                        Some(Value::Text(t)) => t.trim().parse().ok()?,
                        _ => return None,
                    };
                    let text = |i: usize| match v.get(i) {
                        Some(Value::Text(t)) => Some(t.clone()),
                        Some(Value::Int(n)) => Some(n.to_string()),
                        _ => None,
                    };
                    Some(Organization {
                        id,
                        code: text(1).unwrap_or_default(),
                        active: text(2).as_deref() == Some("active"),
                    })
                };
                let before = before.map(decode);
                let after = after.map(decode);
                match (before, after) {
                    (_, Some(None)) | (Some(None), None) => self.skipped += 1,
                    (old, Some(Some(new))) => {
                        if let Some(Some(old)) = old {
                            if old.id != new.id {
                                self.changes.push(SourceChange::Organization {
                                    id: old.id,
                                    after: None,
                                });
                            }
                        }
                        self.changes.push(SourceChange::Organization {
                            id: new.id,
                            after: Some(new),
                        });
                    }
                    (Some(Some(old)), None) => self.changes.push(SourceChange::Organization {
                        id: old.id,
                        after: None,
                    }),
                    (None, None) => {}
                }
            }
        }
    }
}

fn is_rows_event(kind: u8) -> bool {
    use EventType::*;
    [
        WRITE_ROWS_EVENT_V1,
        UPDATE_ROWS_EVENT_V1,
        DELETE_ROWS_EVENT_V1,
        WRITE_ROWS_EVENT,
        UPDATE_ROWS_EVENT,
        DELETE_ROWS_EVENT,
        PARTIAL_UPDATE_ROWS_EVENT,
    ]
    .iter()
    .any(|t| *t as u8 == kind)
}

/// The table id of a rows event: 6 bytes little endian (4 on pre-5.1 formats, never met here).
fn rows_table_id(event: &Event) -> Option<u64> {
    let post_header = event
        .fde()
        .get_event_type_header_length(event.header().event_type().ok()?);
    let data = event.data();
    if post_header == 6 {
        return le_u32(data.get(0..4)).map(u64::from);
    }
    let b = data.get(0..6)?;
    Some(
        b.iter()
            .rev()
            .fold(0u64, |acc, x| (acc << 8) | u64::from(*x)),
    )
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

// ---------------------------------------------------------------------------------------------
// Table maps and row images
// ---------------------------------------------------------------------------------------------

enum Target {
    Tenant { db: String, table: Table },
    Organization,
}

const ORGANIZATION_COLUMNS: &[&str] = &["id_org", "code", "status"];

impl Target {
    fn columns(&self) -> &'static [&'static str] {
        match self {
            Target::Tenant { table, .. } => table.columns(),
            Target::Organization => ORGANIZATION_COLUMNS,
        }
    }
}

enum Plan {
    Ignore,
    Drifted(SchemaDrift),
    Decode(Decoding),
}

struct Decoding {
    target: Target,
    /// Every column of the table, to walk over a row image.
    columns: Vec<Column>,
    /// For each column, where its value goes in the output (a needed column) or nowhere.
    slots: Vec<Option<usize>>,
    needed: usize,
    /// JSON columns of the table (a partial update's after image has a bitmap over them).
    json_columns: usize,
}

impl Decoding {
    fn target_name(&self) -> String {
        match &self.target {
            Target::Tenant { db, table } => format!("{db}.{}", table.name()),
            Target::Organization => "organization".to_string(),
        }
    }
}

#[derive(Debug, Clone)]
struct Column {
    width: Width,
    conv: Conv,
}

#[derive(Debug, Clone, Copy)]
enum Width {
    Fixed(usize),
    /// A little-endian length of this many bytes, then the value.
    Prefixed(usize),
}

#[derive(Debug, Clone)]
enum Conv {
    Int {
        unsigned: bool,
    },
    Enum(Arc<[String]>),
    Set,
    Bytes,
    DateTime2 {
        fsp: u8,
    },
    DateTimeOld,
    Date,
    Year,
    Float,
    Double,
    Decimal {
        precision: usize,
        scale: usize,
    },
    Bit,
    TimestampOld,
    Timestamp2,
    /// TIME, JSON (binary), GEOMETRY, VECTOR: never read by flowtally, delivered as NULL.
    Unsupported,
}

fn build_plan(tme: &TableMapEvent, target: Target) -> Result<Plan, StreamError> {
    let db = String::from_utf8_lossy(tme.database_name_raw()).into_owned();
    let table = String::from_utf8_lossy(tme.table_name_raw()).into_owned();
    let bad = |why: String| StreamError::Decode(format!("table map of {db}.{table}: {why}"));

    let mut names: Vec<String> = Vec::new();
    let mut unsigned: Vec<bool> = Vec::new();
    let mut enums: Vec<Arc<[String]>> = Vec::new();
    for field in tme.iter_optional_meta() {
        match field.map_err(|e| bad(format!("optional metadata: {e}")))? {
            OptionalMetadataField::ColumnName(cols) => {
                for name in cols.iter_names() {
                    let name = name.map_err(|e| bad(format!("column names: {e}")))?;
                    names.push(String::from_utf8_lossy(name.name_raw()).into_owned());
                }
            }
            OptionalMetadataField::Signedness(bits) => {
                unsigned = bits.iter().by_vals().collect();
            }
            OptionalMetadataField::EnumStrValue(values) => {
                for labels in values.iter_values() {
                    let labels = labels.map_err(|e| bad(format!("enum labels: {e}")))?;
                    enums.push(
                        labels
                            .values()
                            .iter()
                            .map(|l| String::from_utf8_lossy(l.value_raw()).into_owned())
                            .collect(),
                    );
                }
            }
            _ => {}
        }
    }
    let count = tme.columns_count() as usize;
    if names.is_empty() && count > 0 {
        return Err(StreamError::Fatal(format!(
            "the table map of {db}.{table} carries no column names: binlog_row_metadata is not \
             FULL on the server; run SET GLOBAL binlog_row_metadata=FULL and add \
             binlog_row_metadata=FULL to the server config"
        )));
    }
    if names.len() != count {
        return Err(bad(format!(
            "{} column names for {count} columns",
            names.len()
        )));
    }

    let wanted = target.columns();
    let mut slots = vec![None; count];
    let mut missing = Vec::new();
    for (slot, want) in wanted.iter().enumerate() {
        match names.iter().position(|n| n.eq_ignore_ascii_case(want)) {
            Some(i) => slots[i] = Some(slot),
            None => missing.push(want.to_string()),
        }
    }
    if !missing.is_empty() {
        let table = match &target {
            Target::Tenant { table, .. } => table.name().to_string(),
            Target::Organization => table,
        };
        return Ok(Plan::Drifted(SchemaDrift { db, table, missing }));
    }

    let mut columns = Vec::with_capacity(count);
    let mut numeric_seen = 0;
    let mut enum_seen = 0;
    let mut json_columns = 0;
    for i in 0..count {
        let raw = tme
            .get_raw_column_type(i)
            .map_err(|e| bad(format!("column {}: {e}", names[i])))?
            .ok_or_else(|| bad(format!("no type for column {}", names[i])))?;
        let meta = tme.get_column_metadata(i).unwrap_or(&[]);
        let col = column(raw, meta).map_err(|why| {
            let msg = format!("column {} ({why})", names[i]);
            if slots[i].is_some() {
                bad(msg)
            } else {
                // Without its width no later column can be found either.
                StreamError::Fatal(format!(
                    "table {db}.{table} has a column type flowtally cannot skip: {msg}"
                ))
            }
        })?;
        let col = match col.conv {
            Conv::Int { .. } => {
                let u = unsigned.get(numeric_seen).copied().unwrap_or(false);
                numeric_seen += 1;
                Column {
                    conv: Conv::Int { unsigned: u },
                    ..col
                }
            }
            Conv::Enum(_) => {
                let labels = enums
                    .get(enum_seen)
                    .cloned()
                    .unwrap_or_else(|| Arc::from([]));
                enum_seen += 1;
                Column {
                    conv: Conv::Enum(labels),
                    ..col
                }
            }
            _ => {
                if is_numeric(raw) {
                    numeric_seen += 1;
                }
                col
            }
        };
        if raw == ColumnType::MYSQL_TYPE_JSON {
            json_columns += 1;
        }
        columns.push(col);
    }
    Ok(Plan::Decode(Decoding {
        target,
        columns,
        slots,
        needed: wanted.len(),
        json_columns,
    }))
}

/// Columns that own a bit of the SIGNEDNESS metadata (YEAR and DECIMAL included, as the server
/// counts them).
fn is_numeric(t: ColumnType) -> bool {
    use ColumnType::*;
    matches!(
        t,
        MYSQL_TYPE_TINY
            | MYSQL_TYPE_SHORT
            | MYSQL_TYPE_INT24
            | MYSQL_TYPE_LONG
            | MYSQL_TYPE_LONGLONG
            | MYSQL_TYPE_DECIMAL
            | MYSQL_TYPE_NEWDECIMAL
            | MYSQL_TYPE_FLOAT
            | MYSQL_TYPE_DOUBLE
            | MYSQL_TYPE_YEAR
    )
}

/// Width and conversion of a column from its binlog type and type metadata.
fn column(t: ColumnType, meta: &[u8]) -> Result<Column, String> {
    use ColumnType::*;
    let m = |i: usize| {
        meta.get(i)
            .copied()
            .ok_or_else(|| format!("type {t:?} without metadata"))
    };
    let fixed = |n: usize, conv: Conv| {
        Ok(Column {
            width: Width::Fixed(n),
            conv,
        })
    };
    let prefixed = |n: usize, conv: Conv| {
        if (1..=4).contains(&n) {
            Ok(Column {
                width: Width::Prefixed(n),
                conv,
            })
        } else {
            Err(format!("type {t:?} with a {n}-byte length"))
        }
    };
    let frac = |fsp: u8| usize::from(fsp).div_ceil(2);
    match t {
        MYSQL_TYPE_TINY => fixed(1, Conv::Int { unsigned: false }),
        MYSQL_TYPE_SHORT => fixed(2, Conv::Int { unsigned: false }),
        MYSQL_TYPE_INT24 => fixed(3, Conv::Int { unsigned: false }),
        MYSQL_TYPE_LONG => fixed(4, Conv::Int { unsigned: false }),
        MYSQL_TYPE_LONGLONG => fixed(8, Conv::Int { unsigned: false }),
        MYSQL_TYPE_FLOAT => fixed(4, Conv::Float),
        MYSQL_TYPE_DOUBLE => fixed(8, Conv::Double),
        MYSQL_TYPE_NULL => fixed(0, Conv::Unsupported),
        MYSQL_TYPE_TIMESTAMP => fixed(4, Conv::TimestampOld),
        MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE => fixed(3, Conv::Date),
        MYSQL_TYPE_TIME => fixed(3, Conv::Unsupported),
        MYSQL_TYPE_DATETIME => fixed(8, Conv::DateTimeOld),
        MYSQL_TYPE_YEAR => fixed(1, Conv::Year),
        MYSQL_TYPE_TIMESTAMP2 => fixed(4 + frac(m(0)?), Conv::Timestamp2),
        MYSQL_TYPE_DATETIME2 => {
            let fsp = m(0)?;
            fixed(5 + frac(fsp), Conv::DateTime2 { fsp })
        }
        MYSQL_TYPE_TIME2 => fixed(3 + frac(m(0)?), Conv::Unsupported),
        MYSQL_TYPE_NEWDECIMAL => {
            let (precision, scale) = (usize::from(m(0)?), usize::from(m(1)?));
            if scale > precision || precision == 0 {
                return Err(format!("DECIMAL({precision},{scale})"));
            }
            fixed(
                decimal_size(precision, scale),
                Conv::Decimal { precision, scale },
            )
        }
        MYSQL_TYPE_BIT => {
            let (bits, bytes) = (usize::from(m(0)?), usize::from(m(1)?));
            fixed(bytes + bits.div_ceil(8), Conv::Bit)
        }
        MYSQL_TYPE_VARCHAR | MYSQL_TYPE_VAR_STRING => {
            let max = usize::from(m(0)?) | (usize::from(m(1)?) << 8);
            prefixed(if max < 256 { 1 } else { 2 }, Conv::Bytes)
        }
        MYSQL_TYPE_ENUM => fixed(usize::from(m(1)?), Conv::Enum(Arc::from([]))),
        MYSQL_TYPE_SET => fixed(usize::from(m(1)?), Conv::Set),
        MYSQL_TYPE_STRING => {
            let (b0, b1) = (m(0)?, m(1)?);
            // CHAR, ENUM and SET share this type; the real one hides in the metadata, and a
            // CHAR over 255 bytes borrows two bits of it for its length.
            let real = if b0 != 0 { b0 | 0x30 } else { b0 };
            match real {
                0xf7 => match b1 {
                    1 | 2 => fixed(usize::from(b1), Conv::Enum(Arc::from([]))),
                    n => Err(format!("ENUM of {n} bytes")),
                },
                0xf8 => fixed(usize::from(b1), Conv::Set),
                0xfe | 0 => {
                    let len = if b0 & 0x30 != 0x30 {
                        usize::from(b1) | ((usize::from(b0 & 0x30) ^ 0x30) << 4)
                    } else {
                        usize::from(b1)
                    };
                    prefixed(if len < 256 { 1 } else { 2 }, Conv::Bytes)
                }
                other => Err(format!("STRING with real type {other}")),
            }
        }
        MYSQL_TYPE_TINY_BLOB | MYSQL_TYPE_MEDIUM_BLOB | MYSQL_TYPE_LONG_BLOB | MYSQL_TYPE_BLOB => {
            prefixed(usize::from(m(0)?), Conv::Bytes)
        }
        MYSQL_TYPE_JSON => prefixed(usize::from(m(0).unwrap_or(4)), Conv::Unsupported),
        MYSQL_TYPE_GEOMETRY | MYSQL_TYPE_VECTOR => prefixed(usize::from(m(0)?), Conv::Unsupported),
        other => Err(format!("unsupported type {other:?}")),
    }
}

/// Reads one row image (null bitmap, then the present non-NULL values) into `out`, in the
/// order of the needed columns.
fn read_image(
    buf: &mut &[u8],
    present: &[bool],
    plan: &Decoding,
    partial: bool,
    out: &mut Vec<Value>,
) -> Result<(), String> {
    out.clear();
    out.resize(plan.needed, Value::Null);
    if partial {
        // A partial update's after image starts with its value options and, for partial JSON,
        // a bitmap over the table's JSON columns; the JSON values themselves keep their length.
        let options = lenenc(buf).ok_or("truncated value options")?;
        if options & 1 != 0 {
            take(buf, plan.json_columns.div_ceil(8)).ok_or("truncated partial JSON bitmap")?;
        }
    }
    let n_present = present.iter().filter(|p| **p).count();
    let nulls = take(buf, n_present.div_ceil(8)).ok_or("truncated null bitmap")?;
    let mut image_idx = 0;
    for (i, col) in plan.columns.iter().enumerate() {
        if !present.get(i).copied().unwrap_or(false) {
            continue;
        }
        let is_null = nulls
            .get(image_idx / 8)
            .is_some_and(|b| b & (1 << (image_idx % 8)) != 0);
        image_idx += 1;
        if is_null {
            continue;
        }
        let bytes = match col.width {
            Width::Fixed(n) => take(buf, n),
            Width::Prefixed(n) => {
                let len = take(buf, n).map(le_uint);
                len.and_then(|len| take(buf, usize::try_from(len).ok()?))
            }
        }
        .ok_or("truncated row image")?;
        if let Some(slot) = plan.slots.get(i).copied().flatten() {
            if let Some(v) = out.get_mut(slot) {
                *v = convert(&col.conv, bytes);
            }
        }
    }
    Ok(())
}

fn convert(conv: &Conv, b: &[u8]) -> Value {
    match conv {
        Conv::Int { unsigned } => {
            let raw = le_uint(b);
            let bits = b.len() * 8;
            if *unsigned || bits == 0 {
                i64::try_from(raw)
                    .map(Value::Int)
                    .unwrap_or_else(|_| Value::Text(raw.to_string()))
            } else if bits >= 64 {
                Value::Int(raw as i64)
            } else {
                // Sign-extend from the column's width.
                let shift = 64 - bits;
                Value::Int(((raw << shift) as i64) >> shift)
            }
        }
        Conv::Enum(labels) => {
            let ordinal = le_uint(b) as usize;
            // Ordinal 0 is what the server stores for an invalid value ('' in SELECTs).
            match ordinal.checked_sub(1).and_then(|i| labels.get(i)) {
                Some(label) => Value::Text(label.clone()),
                None => Value::Text(String::new()),
            }
        }
        // SET is a little-endian bitmask, BIT a big-endian number.
        Conv::Set => Value::Int(le_uint(b) as i64),
        Conv::Bit => Value::Int(be_uint(b) as i64),
        Conv::Bytes => Value::Text(String::from_utf8_lossy(b).into_owned()),
        Conv::DateTime2 { fsp } => datetime2(b, *fsp).map_or(Value::Null, Value::DateTime),
        Conv::DateTimeOld => {
            let v = le_uint(b);
            let (d, t) = (v / 1_000_000, v % 1_000_000);
            ymd_hms(
                d / 10_000,
                d / 100 % 100,
                d % 100,
                t / 10_000,
                t / 100 % 100,
                t % 100,
                0,
            )
            .map_or(Value::Null, Value::DateTime)
        }
        Conv::Date => {
            let v = le_uint(b);
            ymd_hms(v >> 9, (v >> 5) & 15, v & 31, 0, 0, 0, 0).map_or(Value::Null, Value::DateTime)
        }
        Conv::Year => match le_uint(b) {
            0 => Value::Int(0),
            y => Value::Int(1900 + y as i64),
        },
        Conv::Float => match b.try_into() {
            Ok(a) => Value::Text(f32::from_le_bytes(a).to_string()),
            Err(_) => Value::Null,
        },
        Conv::Double => match b.try_into() {
            Ok(a) => Value::Text(f64::from_le_bytes(a).to_string()),
            Err(_) => Value::Null,
        },
        Conv::Decimal { precision, scale } => {
            decode_decimal(b, *precision, *scale).map_or(Value::Null, Value::Text)
        }
        // Epoch seconds: flowtally's tables use DATETIME, which is local wall-clock time.
        Conv::TimestampOld => Value::Int(le_uint(b) as i64),
        Conv::Timestamp2 => Value::Int(be_uint(b.get(0..4).unwrap_or(&[])) as i64),
        Conv::Unsupported => Value::Null,
    }
}

fn datetime2(b: &[u8], fsp: u8) -> Option<NaiveDateTime> {
    let packed = be_uint(b.get(0..5)?) as i64 - 0x80_0000_0000;
    if packed < 0 {
        return None;
    }
    let micros = match fsp {
        1 | 2 => be_uint(b.get(5..6)?) * 10_000,
        3 | 4 => be_uint(b.get(5..7)?) * 100,
        5 | 6 => be_uint(b.get(5..8)?),
        _ => 0,
    };
    let packed = packed as u64;
    let ymd = packed >> 17;
    let ym = ymd >> 5;
    let hms = packed & 0x1_ffff;
    ymd_hms(
        ym / 13,
        ym % 13,
        ymd & 31,
        hms >> 12,
        (hms >> 6) & 63,
        hms & 63,
        micros,
    )
}

/// A zero or partly zero date (`0000-00-00`, `2024-00-10`) is no instant: NULL.
fn ymd_hms(y: u64, mo: u64, d: u64, h: u64, mi: u64, s: u64, micros: u64) -> Option<NaiveDateTime> {
    NaiveDate::from_ymd_opt(
        i32::try_from(y).ok()?,
        u32::try_from(mo).ok()?,
        u32::try_from(d).ok()?,
    )?
    .and_hms_micro_opt(
        u32::try_from(h).ok()?,
        u32::try_from(mi).ok()?,
        u32::try_from(s).ok()?,
        u32::try_from(micros).ok()?,
    )
}

const DIG2BYTES: [usize; 10] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];

fn decimal_size(precision: usize, scale: usize) -> usize {
    let intg = precision - scale;
    intg / 9 * 4 + DIG2BYTES[intg % 9] + scale / 9 * 4 + DIG2BYTES[scale % 9]
}

/// MySQL's binary DECIMAL: groups of 9 digits in 4 big-endian bytes, a shorter leading and
/// trailing group, the sign in the top bit and negatives stored inverted.
fn decode_decimal(b: &[u8], precision: usize, scale: usize) -> Option<String> {
    if scale > precision || b.len() != decimal_size(precision, scale) || b.is_empty() {
        return None;
    }
    let negative = b[0] & 0x80 == 0;
    let mut bytes = b.to_vec();
    bytes[0] ^= 0x80;
    if negative {
        for x in bytes.iter_mut() {
            *x = !*x;
        }
    }
    let mut rest = bytes.as_slice();
    let mut group = |n: usize| -> Option<u64> { take(&mut rest, n).map(be_uint) };
    let intg = precision - scale;
    let mut int_digits = String::new();
    if !intg.is_multiple_of(9) {
        let v = group(DIG2BYTES[intg % 9])?;
        int_digits.push_str(&format!("{v:0width$}", width = intg % 9));
    }
    for _ in 0..intg / 9 {
        int_digits.push_str(&format!("{:09}", group(4)?));
    }
    let int_part = int_digits.trim_start_matches('0');
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    out.push_str(if int_part.is_empty() { "0" } else { int_part });
    if scale > 0 {
        out.push('.');
        for _ in 0..scale / 9 {
            out.push_str(&format!("{:09}", group(4)?));
        }
        if !scale.is_multiple_of(9) {
            let v = group(DIG2BYTES[scale % 9])?;
            out.push_str(&format!("{v:0width$}", width = scale % 9));
        }
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------------
// Bytes
// ---------------------------------------------------------------------------------------------

fn take<'a>(buf: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if buf.len() < n {
        return None;
    }
    let (head, tail) = buf.split_at(n);
    *buf = tail;
    Some(head)
}

fn lenenc(buf: &mut &[u8]) -> Option<u64> {
    let first = *take(buf, 1)?.first()?;
    match first {
        0xfc => take(buf, 2).map(le_uint),
        0xfd => take(buf, 3).map(le_uint),
        0xfe => take(buf, 8).map(le_uint),
        0xfb | 0xff => None,
        n => Some(u64::from(n)),
    }
}

fn le_uint(b: &[u8]) -> u64 {
    b.iter()
        .take(8)
        .rev()
        .fold(0u64, |acc, x| (acc << 8) | u64::from(*x))
}

fn be_uint(b: &[u8]) -> u64 {
    b.iter()
        .take(8)
        .fold(0u64, |acc, x| (acc << 8) | u64::from(*x))
}

fn le_u32(b: Option<&[u8]>) -> Option<u32> {
    Some(u32::from_le_bytes(b?.try_into().ok()?))
}

fn le_u64(b: Option<&[u8]>) -> Option<u64> {
    Some(u64::from_le_bytes(b?.try_into().ok()?))
}

const CRC32_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

fn crc32(parts: &[&[u8]]) -> u32 {
    let mut c = !0u32;
    for part in parts {
        for b in *part {
            c = CRC32_TABLE[((c ^ u32::from(*b)) & 0xff) as usize] ^ (c >> 8);
        }
    }
    !c
}

/// Whether the event's last 4 data bytes are the CRC32 of everything before them.
fn trailing_crc_matches(event: &Event) -> bool {
    let h = event.header();
    let data = event.data();
    let Some(split) = data.len().checked_sub(4) else {
        return false;
    };
    let mut header = Vec::with_capacity(19);
    header.extend_from_slice(&h.timestamp().to_le_bytes());
    header.push(h.event_type_raw());
    header.extend_from_slice(&h.server_id().to_le_bytes());
    header.extend_from_slice(&h.event_size().to_le_bytes());
    header.extend_from_slice(&h.log_pos().to_le_bytes());
    header.extend_from_slice(&h.flags_raw().to_le_bytes());
    let (body, crc) = data.split_at(split);
    le_u32(Some(crc)) == Some(crc32(&[&header, body]))
}

// ---------------------------------------------------------------------------------------------
// GTIDs
// ---------------------------------------------------------------------------------------------

/// `domain-server-seq,...` as MariaDB prints `@@gtid_binlog_pos`.
fn parse_mariadb_gtids(s: &str) -> BTreeMap<u32, (u32, u64)> {
    s.split(',')
        .filter_map(|g| {
            let mut parts = g.trim().splitn(3, '-');
            let domain = parts.next()?.parse().ok()?;
            let server = parts.next()?.parse().ok()?;
            let seq = parts.next()?.parse().ok()?;
            Some((domain, (server, seq)))
        })
        .collect()
}

fn format_mariadb_gtids(map: &BTreeMap<u32, (u32, u64)>) -> String {
    map.iter()
        .map(|(d, (s, n))| format!("{d}-{s}-{n}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn format_uuid(sid: &[u8; 16]) -> String {
    let hex: String = sid.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A MySQL GTID set (`uuid:1-5:7,uuid2:1-3`), kept as sorted disjoint intervals per source.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct MySqlGtidSet(BTreeMap<String, Vec<(u64, u64)>>);

impl MySqlGtidSet {
    /// `None` for sets this tracker does not model (tagged GTIDs of MySQL 8.4).
    fn parse(s: &str) -> Option<MySqlGtidSet> {
        let mut set = MySqlGtidSet::default();
        for source in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let mut parts = source.split(':');
            let uuid = parts.next()?.trim().to_ascii_lowercase();
            for range in parts {
                let (a, b) = match range.split_once('-') {
                    Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
                    None => {
                        let n = range.trim().parse().ok()?;
                        (n, n)
                    }
                };
                set.add_range(&uuid, a, b);
            }
        }
        Some(set)
    }

    fn add(&mut self, uuid: &str, gno: u64) {
        self.add_range(uuid, gno, gno);
    }

    fn add_range(&mut self, uuid: &str, start: u64, end: u64) {
        let ranges = self.0.entry(uuid.to_string()).or_default();
        ranges.push((start, end));
        ranges.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
        for (a, b) in ranges.drain(..) {
            match merged.last_mut() {
                Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        *ranges = merged;
    }
}

impl std::fmt::Display for MySqlGtidSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut first = true;
        for (uuid, ranges) in &self.0 {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            f.write_str(uuid)?;
            for (a, b) in ranges {
                if a == b {
                    write!(f, ":{a}")?;
                } else {
                    write!(f, ":{a}-{b}")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_decodes_positive_negative_and_fraction() {
        // DECIMAL(10,2) 1234.50: intg 8 -> 4 bytes, frac 2 -> 1 byte.
        let mut b = vec![0x80, 0x00, 0x04, 0xd2, 0x32];
        assert_eq!(decode_decimal(&b, 10, 2).as_deref(), Some("1234.50"));
        for x in b.iter_mut() {
            *x = !*x;
        }
        assert_eq!(decode_decimal(&b, 10, 2).as_deref(), Some("-1234.50"));
        assert_eq!(
            decode_decimal(&[0x80, 0, 0, 0, 1], 10, 2).as_deref(),
            Some("0.01")
        );
        // DECIMAL(20,0): 20 digits = a 2-digit leading group (1 byte) and two 9-digit groups.
        let size = decimal_size(20, 0);
        assert_eq!(size, 1 + 4 + 4);
        let mut big = vec![0x80 | 12, 0, 0, 0, 0, 0x3b, 0x9a, 0xc9, 0xff];
        big[1..5].copy_from_slice(&345_678_901u32.to_be_bytes());
        assert_eq!(
            decode_decimal(&big, 20, 0).as_deref(),
            Some("12345678901999999999")
        );
        assert_eq!(decode_decimal(&[0x80], 10, 2), None, "wrong length");
    }

    #[test]
    fn datetime2_decodes_and_zero_date_is_null() {
        // 2026-01-02 03:04:05 packed as MySQL does.
        let ym = 2026u64 * 13 + 1;
        let ymd = (ym << 5) | 2;
        let hms = (3u64 << 12) | (4 << 6) | 5;
        let packed = ((ymd << 17) | hms) + 0x80_0000_0000;
        let b = &packed.to_be_bytes()[3..8];
        assert_eq!(
            datetime2(b, 0).map(|d| d.to_string()).as_deref(),
            Some("2026-01-02 03:04:05")
        );
        let mut with_frac = b.to_vec();
        with_frac.extend_from_slice(&[0x01, 0xe2, 0x40]); // 123456 µs
        assert_eq!(
            datetime2(&with_frac, 6).map(|d| d.to_string()).as_deref(),
            Some("2026-01-02 03:04:05.123456")
        );
        let zero = 0x80_0000_0000u64.to_be_bytes();
        assert_eq!(datetime2(&zero[3..8], 0), None);
    }

    #[test]
    fn ints_follow_signedness_and_width() {
        let signed = Conv::Int { unsigned: false };
        let unsigned = Conv::Int { unsigned: true };
        assert_eq!(convert(&signed, &[0xff]), Value::Int(-1));
        assert_eq!(convert(&unsigned, &[0xff]), Value::Int(255));
        assert_eq!(convert(&signed, &[0xff, 0xff, 0x7f]), Value::Int(0x7f_ffff));
        assert_eq!(
            convert(&signed, &[0x00, 0x00, 0x80]),
            Value::Int(-0x80_0000)
        );
        assert_eq!(
            convert(&unsigned, &u64::MAX.to_le_bytes()),
            Value::Text(u64::MAX.to_string())
        );
        assert_eq!(convert(&signed, &(-5i64).to_le_bytes()), Value::Int(-5));
    }

    #[test]
    fn enum_ordinal_zero_is_the_empty_string() {
        let labels: Arc<[String]> = vec!["ready".to_string(), "active".to_string()].into();
        assert_eq!(
            convert(&Conv::Enum(labels.clone()), &[2]),
            Value::Text("active".into())
        );
        assert_eq!(
            convert(&Conv::Enum(labels.clone()), &[0]),
            Value::Text(String::new())
        );
        assert_eq!(
            convert(&Conv::Enum(labels), &[9]),
            Value::Text(String::new())
        );
    }

    #[test]
    fn crc32_matches_the_reference_value() {
        assert_eq!(crc32(&[b"123456789"]), 0xcbf4_3926);
        assert_eq!(crc32(&[b"1234", b"56789"]), 0xcbf4_3926);
    }

    #[test]
    fn mariadb_gtids_round_trip() {
        let map = parse_mariadb_gtids("1-2-30, 0-1-5");
        assert_eq!(format_mariadb_gtids(&map), "0-1-5,1-2-30");
        assert!(parse_mariadb_gtids("").is_empty());
    }

    #[test]
    fn mysql_gtid_set_merges_intervals() {
        let mut set = MySqlGtidSet::parse(
            "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5:7,\n4e11fa47-71ca-11e1-9e33-c80aa9429562:1",
        )
        .unwrap_or_default();
        set.add("3e11fa47-71ca-11e1-9e33-c80aa9429562", 6);
        set.add("3e11fa47-71ca-11e1-9e33-c80aa9429562", 9);
        assert_eq!(
            set.to_string(),
            "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-7:9,4e11fa47-71ca-11e1-9e33-c80aa9429562:1"
        );
        assert_eq!(
            format_uuid(&[
                0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, 0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42,
                0x95, 0x62
            ]),
            "3e11fa47-71ca-11e1-9e33-c80aa9429562"
        );
    }

    #[test]
    fn queries_are_classified() {
        assert!(matches!(classify_query(b"BEGIN"), QueryKind::Begin));
        assert!(matches!(classify_query(b"COMMIT"), QueryKind::End));
        assert!(matches!(classify_query(b"rollback"), QueryKind::End));
        assert!(matches!(
            classify_query(b"ROLLBACK TO SAVEPOINT a"),
            QueryKind::Other
        ));
        assert!(matches!(
            classify_query(b"XA COMMIT 'x' ONE PHASE"),
            QueryKind::End
        ));
        assert!(matches!(
            classify_query(b"ALTER TABLE t ADD c INT"),
            QueryKind::Other
        ));
    }

    #[test]
    fn string_metadata_resolves_enum_set_and_long_char() {
        let c = column(ColumnType::MYSQL_TYPE_STRING, &[0xf7, 1]).map(|c| c.conv);
        assert!(matches!(c, Ok(Conv::Enum(_))));
        let c = column(ColumnType::MYSQL_TYPE_STRING, &[0xf8, 2]).map(|c| c.width);
        assert!(matches!(c, Ok(Width::Fixed(2))));
        // CHAR(100) utf8mb4 = 400 bytes: 0x190 -> b0 = 0xfe ^ 0x10, b1 = 0x90.
        let c = column(ColumnType::MYSQL_TYPE_STRING, &[0xee, 0x90]).map(|c| c.width);
        assert!(matches!(c, Ok(Width::Prefixed(2))));
        let c = column(ColumnType::MYSQL_TYPE_STRING, &[0xfe, 40]).map(|c| c.width);
        assert!(matches!(c, Ok(Width::Prefixed(1))));
    }
}
