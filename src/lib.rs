//! flowtally keeps the ERP's Production Dashboard tables (mv_*) current by reading the
//! MySQL/MariaDB binlog as a replica, instead of recomputing them with SQL every minute.
//!
//! Data flows one way:
//!
//! ```text
//!  source::binlog ─┐                        ┌─► http (live reads)
//!  source::snapshot┴─► Change ─► model::TenantState ─► Snapshot ─► sink::writer ─► mv_ tables
//!                      (by tenant)   (rows by PK + aggregates;      (one tx per tenant)
//!                                     views resolve at instant T)
//!                 checkpoint: position + rows, atomically, in state/

//!
//! - [`model`]: pure logic. Typed source rows ([`model::row`]), per-tenant state and its
//!   aggregates ([`model::tenant`]), the five views ([`model::views`]), the cadence clock
//!   ([`model::clock`]).
pub mod cli;
pub mod config;
pub mod db;
pub mod model;
pub mod refresh;
pub mod simulate;
pub mod sink;
pub mod source;
pub mod tenants;
pub mod verify;
