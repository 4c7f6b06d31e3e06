//! Where snapshots go: the mv_ tables of each tenant database. `writer` writes snapshots
//! idempotently (as SQL text, `literal`), `worker` schedules the writes; `migrate` creates and upgrades the tables (the
//! only DDL flowtally runs); `lease` is the writer's lease when instances run in high
//! availability.

pub mod lease;
pub mod literal;
pub mod migrate;
pub mod worker;
pub mod writer;
