//! flowtally's development kit, shared by the integration tests, the benchmarks and the demo,
//! and never linked into the shipped `flowtally` binary:
//!
//! - [`server`]: private MariaDB (10.11, 11.8) and MySQL servers ([`Server`], one [`Flavor`] each), started
//!   in temp dirs on free ports with the binlog settings flowtally needs, and cleaned up even
//!   when their process dies;
//! - [`fixtures`]: the ERP's core and tenant source tables as the tests create them;
//! - [`simulate`]: seeded factory traffic into tenant databases (the only writer of source
//!   tables), with event time under control;
//! - [`proxy`]: a TCP proxy a fault test can cut and restore;
//! - the binaries `flowtally-sim` (the simulator from the command line) and
//!   `flowtally-devserver` (a throwaway server in the foreground, for the demo).

pub mod fixtures;
pub mod proxy;
pub mod server;
pub mod simulate;

use std::sync::OnceLock;

pub use fixtures::{tenant_db, unique_code};
pub use server::{Flavor, Server};

/// The server of `flavor` shared by everything in this process, started on first use with the
/// standard flags. Users must keep to their own tenant codes (see [`unique_code`]).
pub fn shared(flavor: Flavor) -> &'static Server {
    static MARIADB: OnceLock<Server> = OnceLock::new();
    static MYSQL: OnceLock<Server> = OnceLock::new();
    static MARIADB118: OnceLock<Server> = OnceLock::new();
    let cell = match flavor {
        Flavor::MariaDb => &MARIADB,
        Flavor::MySql => &MYSQL,
        Flavor::MariaDb118 => &MARIADB118,
    };
    cell.get_or_init(|| Server::start(flavor, &[]))
}
