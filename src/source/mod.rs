//! Where changes come from: the binlog stream (live) and consistent-snapshot scans (start-up,
//! new tenants). Both speak [`Change`](crate::model::Change) per tenant database.

pub mod binlog;
mod flavor;
pub mod gtid;
pub mod position;
pub mod reader;
pub mod snapshot;

use serde::{Deserialize, Serialize};

use crate::model::Change;
pub use flavor::Flavor;
pub use position::Position;

/// A row of the core `organization` table: the tenant registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    pub id: i64,
    pub code: String,
    pub active: bool,
}

/// One change the binlog carries, for a tracked table.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceChange {
    /// A change to a source table of a tenant database (named as on the server).
    Tenant { db: String, change: Change },
    /// An organization row set to its after-image (`Some`) or deleted (`None`), by id.
    Organization {
        id: i64,
        after: Option<Organization>,
    },
}
