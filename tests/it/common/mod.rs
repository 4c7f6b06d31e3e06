//! What the integration tests share: the flavour switch ([`run_on`]), the servers and ERP
//! fixtures of `flowtally_testkit`, tenants with flowtally's own mv_ tables, and `flowtally
//! run` as a child process ([`process`]).

#![allow(dead_code)]

pub mod process;

use std::future::Future;

pub use flowtally_testkit::server::accepts_connections;
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
