//! What the integration tests share: the flavour switch ([`run_on`]), the servers and ERP
//! fixtures of `flowtally_testkit`, tenants with flowtally's own mv_ tables, and `flowtally
//! run` as a child process ([`process`]).

#![allow(dead_code)]

pub mod process;

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::mysql::{MySqlPool, MySqlRow};
use sqlx::{Connection, Row};

use flowtally_testkit::fixtures::{CORE_DDL, TENANT_SOURCE_DDL};
pub use flowtally_testkit::server::accepts_connections;
use flowtally_testkit::simulate;
pub use flowtally_testkit::{shared, tenant_db, unique_code, Flavor, Server};

/// Runs `test` against `flavor`, unless `FLOWTALLY_TEST_SERVERS` leaves that flavour out.
pub async fn run_on<F, Fut>(flavor: Flavor, test: F)
where
    F: FnOnce(Flavor) -> Fut,
    Fut: Future<Output = ()>,
{
    if !flavor.is_selected() {
        eprintln!("{flavor}: not selected by FLOWTALLY_TEST_SERVERS, skipped");
        return;
    }
    test(flavor).await
}

/// A private server of `flavor` with the standard flags plus `extra` (see
/// [`Server::start`]); the shared one is [`shared`].
pub fn start_server(flavor: Flavor, extra: &[&str]) -> Server {
    tokio::task::block_in_place(|| Server::start(flavor, extra))
}

/// (Re)creates tenant `code` on `server` from the ERP fixtures, with flowtally's mv_ tables
/// (made by `flowtally migrate`'s code) when `with_mv_tables`.
pub async fn create_tenant(server: &Server, code: &str, with_mv_tables: bool) {
    server.create_tenant(code).await;
    if with_mv_tables {
        migrate(server, &tenant_db(code)).await;
    }
}

/// Creates or upgrades the mv_ tables of database `db`, as `flowtally migrate` does.
pub async fn migrate(server: &Server, db: &str) {
    let mut conn = server.connect().await;
    flowtally::sink::migrate::migrate(&mut conn, db)
        .await
        .unwrap_or_else(|e| panic!("migrate {db} on {}: {e}", server.flavor));
}

/// The seven source tables of a tenant database, as the ERP names them: the tests' own list
/// (grants are given from it), not the product's.
pub const SOURCE_TABLES: [&str; 7] = [
    "flow_token",
    "token_assignment",
    "job_graph_instance",
    "routing_node",
    "routing_graph",
    "team",
    "team_member",
];

/// A replica `server_id` that no other binlog client of this process uses: all tests share one
/// process and the shared servers, and a server drops the older of two replicas with the same
/// id. (The servers themselves have ids 1 and 2.)
pub fn next_server_id() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(1000);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The end of `server`'s binlog, (file, position): MariaDB's `SHOW MASTER STATUS`, MySQL's
/// `SHOW BINARY LOG STATUS` (MySQL 8.4 dropped the former). Panics if the binlog is off.
pub async fn binlog_end(server: &Server) -> (String, u64) {
    let sql = match server.flavor {
        Flavor::MariaDb | Flavor::MariaDb118 => "SHOW MASTER STATUS",
        Flavor::MySql => "SHOW BINARY LOG STATUS",
    };
    let mut conn = server.connect().await;
    // As text (raw_sql's fetch_optional is its fetch_one: take the rows).
    let row = sqlx::raw_sql(sql)
        .fetch_all(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql} on {}: {e}", server.flavor))
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{sql} on {}: no row, is the binlog off?", server.flavor));
    let file = text(&row, 0);
    let pos = row
        .try_get::<u64, _>(1)
        .or_else(|_| row.try_get::<i64, _>(1).map(|p| p as u64))
        .unwrap_or_else(|e| panic!("{sql}: position: {e}"));
    (file, pos)
}

/// The binlog files `server` has (`SHOW BINARY LOGS`), oldest first.
pub async fn binlog_files(server: &Server) -> Vec<String> {
    let mut conn = server.connect().await;
    sqlx::raw_sql("SHOW BINARY LOGS")
        .fetch_all(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("SHOW BINARY LOGS on {}: {e}", server.flavor))
        .iter()
        .map(|r| text(r, 0))
        .collect()
}

/// Column `i` of `row` as text, whether the server typed it as characters or bytes (MySQL
/// reports many names as VARBINARY).
pub fn text(row: &MySqlRow, i: usize) -> String {
    row.try_get::<String, _>(i)
        .or_else(|_| {
            row.try_get::<Vec<u8>, _>(i)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
        })
        .unwrap_or_else(|e| panic!("column {i} as text: {e}"))
}

/// Tenant `code` as the ERP brings one in, every event dated `at` (`SET timestamp`): its
/// database with the source tables and flowtally's mv_ tables (`flowtally migrate`'s code),
/// then its active organization row (so a running flowtally that discovers it finds every
/// table), then the simulator's graphs, nodes and teams.
pub async fn tenant_at(
    server: &Server,
    pool: &MySqlPool,
    code: &str,
    seed: u64,
    at: i64,
) -> String {
    let db = tenant_db(code);
    let mut conn = server.connect().await;
    sqlx::raw_sql(&format!(
        "SET timestamp = {at};\n{CORE_DDL}\n\
         DROP DATABASE IF EXISTS `{db}`;\n\
         CREATE DATABASE `{db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;\n\
         USE `{db}`;\n{TENANT_SOURCE_DDL}"
    ))
    .execute(&mut conn)
    .await
    .unwrap_or_else(|e| panic!("create {db}: {e}"));
    flowtally::sink::migrate::migrate(&mut conn, &db)
        .await
        .unwrap_or_else(|e| panic!("migrate {db}: {e}"));
    sqlx::raw_sql(&format!(
        "INSERT INTO bgerp.organization (code, name, status) \
         VALUES ('{code}', 'Factory {code}', 'active') \
         ON DUPLICATE KEY UPDATE code = VALUES(code), status = 'active'"
    ))
    .execute(&mut conn)
    .await
    .unwrap_or_else(|e| panic!("organization {code}: {e}"));
    let _ = conn.close().await;
    simulate::seed_dimensions_at(pool, &db, seed, Some(at))
        .await
        .expect("seed");
    db
}
