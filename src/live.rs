//! The live state shared by the applier and its readers: every served tenant's
//! [`TenantSlot`] in a concurrent map, the service's [`Status`], and the factory time zone.
//! The applier is the only writer; HTTP readers take a tenant's shard lock only for the time of
//! one view.

use chrono_tz::Tz;
use dashmap::DashMap;

use crate::service::slot::TenantSlot;
use crate::status::Status;

pub struct Live {
    /// Served tenants by lowercased database name.
    pub tenants: DashMap<String, TenantSlot>,
    pub status: Status,
    pub timezone: Tz,
}

impl Live {
    pub fn new(timezone: Tz) -> Self {
        Live {
            tenants: DashMap::new(),
            status: Status::default(),
            timezone,
        }
    }

    /// The lowercased database name of the tenant with this code (any case), if served.
    pub fn key_of(&self, code: &str) -> Option<String> {
        self.tenants
            .iter()
            .find(|t| t.code.eq_ignore_ascii_case(code))
            .map(|t| t.key().clone())
    }
}
