//! Start-up checks: whether the server writes a binlog flowtally can read (row format, FULL
//! images and metadata, no compression) and whether this login may read it, reported all at once
//! so that an operator fixes everything in one go. Also which server family we talk to.

use std::collections::HashMap;

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use crate::source::{Flavor, Position};

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

const ER_PARSE_ERROR: u16 = 1064;
/// Codes of a refused login or a missing grant: retrying with the same credentials is futile.
pub(super) const ACCESS_DENIED: &[u16] = &[1044, 1045, 1130, 1142, 1227, 1251, 1698, 3118, 4151];

/// Everything [`check_server`] looks at, each verdict kept: `run` wants them as one error,
/// `flowtally check` prints each on its own line.
#[derive(Debug, Clone)]
pub struct ServerReport {
    pub flavor: Flavor,
    pub version: String,
    pub identity: String,
    /// Every setting checked, in the order they are reported.
    pub settings: Vec<SettingCheck>,
    /// Set when the login may not read the binlog position (REPLICATION CLIENT, BINLOG MONITOR).
    pub monitor_grant: Option<SetupError>,
    /// Set when SHOW GRANTS proves REPLICATION SLAVE missing.
    pub replication_grant: Option<SetupError>,
    /// The end of the binlog, when it could be read.
    pub position: Option<Position>,
    /// The global variables read, by lowercased name (the binlog retention among them).
    pub vars: HashMap<String, String>,
}

/// One server setting and what flowtally thinks of it.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingCheck {
    pub setting: &'static str,
    /// Its value, `None` when the server does not have it.
    pub found: Option<String>,
    /// A [`SetupError::Setting`] when it is wrong.
    pub problem: Option<SetupError>,
}

impl ServerReport {
    /// Every problem found, in the order `run` reports them.
    pub fn problems(&self) -> Vec<SetupError> {
        self.settings
            .iter()
            .filter_map(|s| s.problem.clone())
            .chain(self.monitor_grant.clone())
            .chain(self.replication_grant.clone())
            .collect()
    }

    /// What `run` needs: the server's description, or every problem at once.
    pub fn verdict(self) -> Result<ServerInfo, SetupError> {
        if let Some(err) = SetupError::from_list(self.problems()) {
            return Err(err);
        }
        let position = self.position.ok_or_else(|| {
            SetupError::Query(format!(
                "{} returned no row although log_bin is ON",
                self.flavor.binlog_status_statement()
            ))
        })?;
        Ok(ServerInfo {
            flavor: self.flavor,
            version: self.version,
            identity: self.identity,
            position,
        })
    }
}

/// Verifies that the server writes a binlog flowtally can read, and that this login may read it.
/// Reports every problem found, not just the first.
pub async fn check_server(conn: &mut Conn) -> Result<ServerInfo, SetupError> {
    inspect_server(conn).await?.verdict()
}

/// What [`check_server`] checks, every verdict kept; an error only when the checks themselves
/// could not run.
pub async fn inspect_server(conn: &mut Conn) -> Result<ServerReport, SetupError> {
    let version: String = query_text(conn, "SELECT VERSION()")
        .await?
        .and_then(|row| row.into_iter().next().flatten())
        .unwrap_or_default();
    let flavor = Flavor::of_version(&version);

    let vars: HashMap<String, String> = query_rows(
        conn,
        "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('log_bin', 'binlog_format', \
         'binlog_row_image', 'binlog_row_metadata', 'log_bin_compress', 'server_id', \
         'server_uuid', 'gtid_binlog_pos', 'gtid_executed', 'hostname', 'datadir', \
         'log_slave_updates', 'log_replica_updates', 'binlog_expire_logs_seconds', \
         'expire_logs_days', 'binlog_expire_logs_auto_purge')",
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

    let mut settings = setting_checks(flavor, &var);
    // Each server also knows the other's name on some versions: this flavour's name first.
    let replica_updates = var(flavor.replica_updates_setting())
        .or_else(|| var("log_slave_updates"))
        .or_else(|| var("log_replica_updates"));
    settings.push(SettingCheck {
        setting: flavor.replica_updates_setting(),
        found: replica_updates.clone(),
        problem: replica_updates_problem(conn, flavor, replica_updates).await,
    });

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

    let mut monitor_grant = None;
    let position = match master_status(conn, flavor).await {
        Ok(p) => p,
        Err(StatusError::Denied(msg)) => {
            monitor_grant = Some(SetupError::Privilege(format!(
                "the login may not read the binlog position ({msg}): GRANT {} ON *.* TO the \
                 flowtally user",
                flavor.monitor_grant()
            )));
            None
        }
        Err(StatusError::Other(msg)) => return Err(SetupError::Query(msg)),
    };

    let replication_grant = replication_grant_missing(conn)
        .await?
        .map(SetupError::Privilege);

    Ok(ServerReport {
        flavor,
        version,
        identity,
        settings,
        monitor_grant,
        replication_grant,
        position,
        vars,
    })
}

fn setting_checks(flavor: Flavor, var: &dyn Fn(&str) -> Option<String>) -> Vec<SettingCheck> {
    let mut checks = Vec::new();
    let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "absent".to_string());
    let log_bin = var("log_bin");
    let on = log_bin
        .as_deref()
        .is_some_and(|v| v.eq_ignore_ascii_case("ON") || v == "1");
    checks.push(SettingCheck {
        setting: "log_bin",
        problem: (!on).then(|| SetupError::Setting {
            setting: "log_bin",
            found: shown(&log_bin),
            needed: "ON",
            fix: "add log_bin=<basename> (e.g. log_bin=mysql-bin) to the [mysqld] section of the \
                  server config and restart the server"
                .into(),
        }),
        found: log_bin,
    });
    let mut dynamic = |setting: &'static str, needed: &'static str| {
        let found = var(setting);
        let right = found
            .as_deref()
            .is_some_and(|v| v.eq_ignore_ascii_case(needed));
        let problem = (!right).then(|| {
            let fix = match (&found, setting) {
                (None, "binlog_row_metadata") => "the server is too old for it: upgrade to \
                     MariaDB 10.5 or MySQL 8.0.1 or later, with binlog_row_metadata=FULL"
                    .to_string(),
                _ => format!(
                    "run SET GLOBAL {setting}={needed} and add {setting}={needed} to the server \
                     config"
                ),
            };
            SetupError::Setting {
                setting,
                found: shown(&found),
                needed,
                fix,
            }
        });
        checks.push(SettingCheck {
            setting,
            found,
            problem,
        });
    };
    dynamic("binlog_format", "ROW");
    dynamic("binlog_row_image", "FULL");
    dynamic("binlog_row_metadata", "FULL");
    if flavor == Flavor::MariaDb {
        // Absent before MariaDB 10.2.3: nothing is compressed then.
        let found = var("log_bin_compress");
        let problem = found
            .as_ref()
            .filter(|v| !(v.eq_ignore_ascii_case("OFF") || v.as_str() == "0"))
            .map(|v| SetupError::Setting {
                setting: "log_bin_compress",
                found: v.clone(),
                needed: "OFF",
                fix: "run SET GLOBAL log_bin_compress=OFF and add log_bin_compress=OFF to the \
                      server config"
                    .into(),
            });
        checks.push(SettingCheck {
            setting: "log_bin_compress",
            found,
            problem,
        });
    }
    checks
}

/// A replica that does not write what it replicates to its own binlog: reading that binlog,
/// flowtally would never see the replicated changes, and the tables would silently go stale.
/// Whether the server replicates is read from its replica status (REPLICATION CLIENT allows it
/// on MySQL; MariaDB wants SLAVE MONITOR, without which the check is skipped).
async fn replica_updates_problem(
    conn: &mut Conn,
    flavor: Flavor,
    found: Option<String>,
) -> Option<SetupError> {
    let setting = flavor.replica_updates_setting();
    let found = found?;
    if found.eq_ignore_ascii_case("ON") || found == "1" {
        return None;
    }
    let status = match flavor {
        Flavor::MariaDb => "SHOW ALL SLAVES STATUS",
        Flavor::MySql => "SHOW REPLICA STATUS",
    };
    let replicates = conn
        .query::<mysql_async::Row, _>(status)
        .await
        .is_ok_and(|rows| !rows.is_empty());
    replicates.then(|| SetupError::Setting {
        setting,
        found,
        needed: "ON",
        fix: format!(
            "this server is a replica, and without {setting}=ON what it replicates never \
             reaches its binlog; add {setting}=ON to the [mysqld] section of the server config \
             and restart the server, or point [source] url at the primary"
        ),
    })
}

enum StatusError {
    Denied(String),
    Other(String),
}

/// The end of the binlog and the GTID state there, read so that both describe the same instant.
async fn master_status(conn: &mut Conn, flavor: Flavor) -> Result<Option<Position>, StatusError> {
    // A refusal names the statement refused: the operator sees which one needs the grant.
    let refused = |sql: &'static str| {
        move |e: mysql_async::Error| match e {
            mysql_async::Error::Server(se) if ACCESS_DENIED.contains(&se.code) => {
                StatusError::Denied(format!("{sql}: {}", se.message))
            }
            other => StatusError::Other(other.to_string()),
        }
    };
    let classify = refused("SELECT @@GLOBAL.gtid_binlog_pos");
    // A commit between reading the position and the GTID state would pair them wrongly: read the
    // GTID state on both sides and retry until it did not move.
    for _ in 0..20 {
        let gtid_before = match flavor {
            Flavor::MariaDb => scalar(conn, "SELECT @@GLOBAL.gtid_binlog_pos").await,
            Flavor::MySql => Ok(None),
        }
        .map_err(classify)?;
        let rows = match conn
            .query::<mysql_async::Row, _>(flavor.binlog_status_statement())
            .await
        {
            Err(mysql_async::Error::Server(se)) if se.code == ER_PARSE_ERROR => {
                // MySQL before 8.2 knows only the old name.
                conn.query::<mysql_async::Row, _>("SHOW MASTER STATUS")
                    .await
                    .map_err(refused("SHOW MASTER STATUS"))?
            }
            other => other.map_err(refused(flavor.binlog_status_statement()))?,
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

pub(super) async fn scalar(
    conn: &mut Conn,
    sql: &str,
) -> Result<Option<String>, mysql_async::Error> {
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
