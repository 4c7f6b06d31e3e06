//! flowtally's integration tests: one test binary, one shared server per flavour (MariaDB 10.11,
//! MySQL 9.7 and MariaDB 11.8, from `flowtally_testkit`), plus private servers for the tests that
//! restart, kill or reconfigure theirs.
//!
//! Every test that talks to a server runs once per flavour: `on_all!(name)` turns
//! `async fn name(flavor: Flavor)` into the tests `name::mariadb`, `name::mysql` and
//! `name::mariadb_11_8`; `FLOWTALLY_TEST_SERVERS` (`all`, the default; `both` = MariaDB 10.11
//! and MySQL; or a list of `mariadb`, `mysql`, `mariadb-11.8`) picks which run. A test that only
//! makes sense on MariaDB (both release lines) uses `on_mariadb!(name, "why")`, one that only
//! makes sense on MySQL `on_mysql!(name, "why")`.

/// One test per server flavour for each `async fn name(flavor: Flavor)` named.
macro_rules! on_all {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn mariadb() {
                    crate::common::run_on(flowtally_testkit::Flavor::MariaDb, super::$name).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn mysql() {
                    crate::common::run_on(flowtally_testkit::Flavor::MySql, super::$name).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn mariadb_11_8() {
                    crate::common::run_on(flowtally_testkit::Flavor::MariaDb118, super::$name)
                        .await
                }
            }
        )+
    };
}

/// A test of `async fn name(flavor: Flavor)` on MariaDB only (10.11 and 11.8); the reason is
/// its doc.
#[allow(unused_macros)]
macro_rules! on_mariadb {
    ($name:ident, $why:literal) => {
        mod $name {
            #[doc = $why]
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mariadb() {
                crate::common::run_on(flowtally_testkit::Flavor::MariaDb, super::$name).await
            }
            #[doc = $why]
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mariadb_11_8() {
                crate::common::run_on(flowtally_testkit::Flavor::MariaDb118, super::$name).await
            }
        }
    };
}

/// A test of `async fn name(flavor: Flavor)` on MySQL only; the reason is its doc.
#[allow(unused_macros)]
macro_rules! on_mysql {
    ($name:ident, $why:literal) => {
        mod $name {
            #[doc = $why]
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mysql() {
                crate::common::run_on(flowtally_testkit::Flavor::MySql, super::$name).await
            }
        }
    };
}

mod common;

mod andon;
mod bad_input;
mod binlog;
mod check;
mod cli;
mod dashboard;
mod dashboard_words;
mod docker_files;
mod failover;
mod flavor_words;
mod floor_browser;
mod ha;
mod harness;
mod http;
mod load_point;
mod many_tenants;
mod ops_metrics;
mod privileges;
mod recovery;
mod refresh;
mod service;
mod simulate;
mod tagged_gtids;
mod tenants;
mod tls_modes;
mod verify_sql;
