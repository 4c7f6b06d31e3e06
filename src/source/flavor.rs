//! Which server family flowtally talks to: GTIDs, status statements, grant names and a few
//! settings differ between MariaDB and MySQL.

/// Which server family we talk to: GTIDs, status statements and a few settings differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    MariaDb,
    MySql,
}

impl Flavor {
    /// From `SELECT VERSION()`.
    pub fn of_version(version: &str) -> Flavor {
        if version.to_ascii_lowercase().contains("mariadb") {
            Flavor::MariaDb
        } else {
            Flavor::MySql
        }
    }

    /// The statement that shows the end of the binlog (MySQL 8.2 renamed it; 8.4 dropped the
    /// old name).
    pub fn binlog_status_statement(self) -> &'static str {
        match self {
            Flavor::MariaDb => "SHOW MASTER STATUS",
            Flavor::MySql => "SHOW BINARY LOG STATUS",
        }
    }

    /// The grant that lets a login read binlog positions.
    pub fn monitor_grant(self) -> &'static str {
        match self {
            Flavor::MariaDb => "BINLOG MONITOR",
            Flavor::MySql => "REPLICATION CLIENT",
        }
    }

    /// The setting that makes a replica write what it replicates to its own binlog.
    pub fn replica_updates_setting(self) -> &'static str {
        match self {
            Flavor::MariaDb => "log_slave_updates",
            Flavor::MySql => "log_replica_updates",
        }
    }

    /// What a login needs to stream the binlog, as a GRANT statement.
    pub fn replication_grants(self) -> String {
        format!(
            "GRANT REPLICATION SLAVE, {} ON *.* TO the flowtally user",
            self.monitor_grant()
        )
    }
}
