//! flowtally's integration tests: one test binary, one shared server per flavour (MariaDB and
//! MySQL, from `flowtally_testkit`), plus private servers for the tests that restart, kill or
//! reconfigure theirs.
//!
//! Every test that talks to a server runs once per flavour: `on_both!(name)` turns
//! `async fn name(flavor: Flavor)` into the tests `name::mariadb` and `name::mysql`;
//! `FLOWTALLY_TEST_SERVERS=mariadb|mysql|both` (default both) picks which run. A test that only
//! makes sense on one flavour uses `on_mariadb!(name, "why")` or `on_mysql!(name, "why")`.

/// One test per server flavour for each `async fn name(flavor: Flavor)` named.
macro_rules! on_both {
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
            }
        )+
    };
}

/// A test of `async fn name(flavor: Flavor)` on MariaDB only; the reason is its doc.
#[allow(unused_macros)]
macro_rules! on_mariadb {
    ($name:ident, $why:literal) => {
        mod $name {
            #[doc = $why]
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mariadb() {
                crate::common::run_on(flowtally_testkit::Flavor::MariaDb, super::$name).await
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

mod bad_input;
mod binlog;
mod check;
mod cli;
mod dashboard;
mod docker_files;
mod failover;
mod flavor_words;
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
