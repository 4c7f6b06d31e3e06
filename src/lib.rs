//! flowtally keeps the ERP's Production Dashboard tables (mv_*) current by reading the
//! MySQL/MariaDB binlog as a replica, instead of recomputing them with SQL every minute.
//!
//! Data flows one way, and imports point down the layers of `docs/architecture.md` (a test
//! checks it):
//!
//! ```text
//!  source::binlog ──┐                         ┌─► http (live reads)
//!  source::snapshot ┴─► Change ─► model::TenantState ─► Snapshot ─► sink::writer ─► mv_ tables
//!                     (per tenant)  (rows by PK + aggregates;       (one tx per tenant)
//!                                    views resolved at instant T)
//!                 checkpoint: position + rows, atomically, in state/
//! ```
//!
//! - [`model`]: pure logic. Typed source rows ([`model::row`]), per-tenant state and its
//!   aggregates ([`model::tenant`]), the five views ([`model::views`]), the cadence clock
//!   ([`model::clock`]).
//! - [`source`]: the binlog stream ([`source::binlog`]), the reconnecting reader task
//!   ([`source::reader`]) and consistent-snapshot loads ([`source::snapshot`]), all producing
//!   [`model::Change`]s.
//! - [`service`]: `flowtally run`'s tasks under one supervisor ([`service::tasks`]): start-up
//!   from a [`checkpoint`] or a full recompute, the applier (transactions applied in binlog
//!   order, snapshots taken as the clock releases them, tenants joining and leaving), the
//!   watcher, the loader, and under `[ha]` the writer's lease.
//! - [`sink`]: idempotent snapshot writes ([`sink::writer`]) by a writer task with retries
//!   ([`sink::worker`]), the writer's lease of `[ha]` ([`sink::lease`]), and the mv_ DDL
//!   ([`sink::migrate`]).
//! - [`tenants`]: which tenants exist and where their databases are.
//! - [`refresh`]: the one-shot recompute that replaces the cron script.
//! - [`verify`]: an independent SQL implementation of the metrics, to check written snapshots.
//! - [`live`]: the state shared by the applier (its one writer) and its readers, and what the
//!   service reports about itself ([`live::status`]).
//! - [`http`]: the read-only HTTP surface of `run` (health, Prometheus metrics, live JSON).
//! - [`ratelimit`]: at most one line per key per 10 s for warnings that can repeat.
//! - [`causes`]: an error and its causes on one line; [`shutdown`]: the one shutdown token.
//! - [`config`], [`db`], [`cli`]: configuration, connections, the command line.

pub mod backoff;
pub mod catalog;
pub mod causes;
pub mod checkpoint;
pub mod cli;
pub mod commands;
pub mod config;
pub mod db;
pub mod http;
#[cfg(test)]
mod layering;
pub mod live;
pub mod model;
pub mod ratelimit;
pub mod refresh;
pub mod schema;
pub mod service;
pub mod shutdown;
pub mod sink;
pub mod source;
pub mod tenants;
pub mod verify;
