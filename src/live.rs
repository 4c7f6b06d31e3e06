//! The live state shared by the applier and the readers: every served tenant's
//! [`TenantState`] in a concurrent map, the service's [`Status`], and the factory time zone.
//! The applier is the only writer; HTTP readers take a tenant's shard lock only for the time of
//! one view.

use chrono_tz::Tz;
use dashmap::DashMap;

use crate::model::{Change, TenantState};
use crate::source::snapshot::Loaded;
use crate::source::Position;
use crate::status::Status;

pub struct Live {
    /// Served tenants by lowercased database name.
    pub tenants: DashMap<String, Served>,
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

/// One tenant being served.
pub struct Served {
    pub code: String,
    pub db: String,
    pub state: TenantState,
    /// Transactions ending at or before this position are already in `state` (its snapshot).
    pub loaded_at: Option<Position>,
    /// While a load runs (`Some`), the tenant is not snapshotted;, the tenant's changes wait here with their transaction's end.
    pub pending: Option<Vec<(Position, Change)>>,
}

impl Served {
    pub fn apply(&mut self, end: &Position, change: Change) {
        if let Some(pending) = &mut self.pending {
            pending.push((end.clone(), change));
        } else if self.loaded_at.as_ref().is_none_or(|p| end.is_after(p)) {
            self.state.apply(change);
        }
    }

    pub fn finish_load(&mut self, loaded: Loaded) {
        self.state = loaded.state;
        self.loaded_at = loaded.position;
        for (end, change) in self.pending.take().unwrap_or_default() {
            self.apply(&end, change);
        }
    }
}
