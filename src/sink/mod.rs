//! Where snapshots go: the mv_ tables of each tenant database. `writer` writes snapshots
//! idempotently; `migrate` creates and upgrades the tables (the only DDL flowtally runs).

pub mod migrate;
pub mod worker;
pub mod writer;
