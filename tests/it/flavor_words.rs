//! MySQL's words in flowtally's start-up errors and hints on MySQL, MariaDB's on MariaDB: the
//! statement that shows the binlog end (`SHOW BINARY LOG STATUS` / `SHOW MASTER STATUS`), the
//! grant that allows it (`REPLICATION CLIENT` / `BINLOG MONITOR`) and the setting that makes a
//! replica write what it replicates to its own binlog (`log_replica_updates` /
//! `log_slave_updates`), never the other flavour's.

use crate::common::{self, Flavor};
use crate::privileges::{run_to_exit, write_config};

on_all!(
    a_reader_without_the_monitor_grant_is_told_this_servers_statement_and_grant,
    a_replica_that_does_not_log_what_it_replicates_is_refused_naming_the_setting,
);

/// A flavour's words: the binlog status statement, the monitor grant, the replica setting.
struct Words {
    status: &'static str,
    grant: &'static str,
    updates: &'static str,
}

const MARIADB: Words = Words {
    status: "SHOW MASTER STATUS",
    grant: "BINLOG MONITOR",
    updates: "log_slave_updates",
};
const MYSQL: Words = Words {
    status: "SHOW BINARY LOG STATUS",
    grant: "REPLICATION CLIENT",
    updates: "log_replica_updates",
};

/// This flavour's words and the other's.
fn words(flavor: Flavor) -> (&'static Words, &'static Words) {
    match flavor {
        Flavor::MariaDb | Flavor::MariaDb118 => (&MARIADB, &MYSQL),
        Flavor::MySql => (&MYSQL, &MARIADB),
    }
}

/// `line` holds each of `ours` and none of `theirs`.
fn assert_words(line: &str, ours: &[&str], theirs: &[&str]) {
    for w in ours {
        assert!(line.contains(w), "no {w:?} in: {line}");
    }
    for w in theirs {
        assert!(!line.contains(w), "the other flavour's {w:?} in: {line}");
    }
}

async fn a_reader_without_the_monitor_grant_is_told_this_servers_statement_and_grant(
    flavor: Flavor,
) {
    let server = common::shared(flavor);
    let code = common::unique_code("Wg");
    let db = common::tenant_db(&code);
    common::create_tenant(server, &code, true).await;
    let user = common::unique_code("ftw").to_lowercase();
    let mut sql = format!(
        "CREATE USER '{user}'@'%' IDENTIFIED BY 'w-pw-3';\n\
         GRANT REPLICATION SLAVE ON *.* TO '{user}'@'%';\n\
         GRANT SELECT ON bgerp.organization TO '{user}'@'%';\n"
    );
    for t in crate::common::SOURCE_TABLES {
        sql += &format!("GRANT SELECT ON `{db}`.`{t}` TO '{user}'@'%';\n");
    }
    server.exec(&sql).await;
    let dir = tempfile::tempdir().expect("tempdir");
    write_config(
        dir.path(),
        &format!("url = \"mysql://{user}:w-pw-3@127.0.0.1:{}\"", server.port),
        &format!("url = \"{}\"", server.url()),
        &[&code],
    );
    let line = run_to_exit(dir.path(), &[]).failure();
    let (ours, theirs) = words(flavor);
    assert_words(
        &line,
        &[ours.status, &format!("GRANT {} ON *.*", ours.grant)],
        &[theirs.status, theirs.grant],
    );
}

async fn a_replica_that_does_not_log_what_it_replicates_is_refused_naming_the_setting(
    flavor: Flavor,
) {
    let (ours, theirs) = words(flavor);
    let off = format!("--{}=OFF", ours.updates.replace('_', "-"));
    let server = common::start_server(flavor, &[&off]);
    let code = common::unique_code("Wr");
    common::create_tenant(&server, &code, true).await;
    // A replica as far as the server is concerned: a source configured (it need not run).
    let sql = match flavor {
        Flavor::MariaDb | Flavor::MariaDb118 => {
            "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=9, MASTER_USER='repl'"
        }
        Flavor::MySql => {
            "CHANGE REPLICATION SOURCE TO SOURCE_HOST='127.0.0.1', SOURCE_PORT=9, \
             SOURCE_USER='repl'"
        }
    };
    server.exec(sql).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("url = \"{}\"", server.url());
    write_config(dir.path(), &url, &url, &[&code]);
    let line = run_to_exit(dir.path(), &[]).failure();
    assert_words(
        &line,
        &[
            &format!("{} is OFF, flowtally needs ON", ours.updates),
            &format!("add {}=ON", ours.updates),
            "replica",
        ],
        &[theirs.updates],
    );

    // Not a replica any more: it starts.
    let reset = match flavor {
        Flavor::MariaDb | Flavor::MariaDb118 => "RESET SLAVE ALL",
        Flavor::MySql => "RESET REPLICA ALL",
    };
    server.exec(reset).await;
    let mut ft = crate::common::process::Flowtally::start_in(dir);
    ft.wait_started();
    let (status, log) = ft.stop();
    assert!(status.success(), "exit {status}:\n{log}");
}
