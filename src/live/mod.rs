//! The live state: every served tenant's [`TenantSlot`] by [`TenantKey`], the service's
//! [`Status`], and the factory's time zone. It sits below the code that fills it (the
//! service's applier) and the code that reads it (the snapshot writer, HTTP), and imports
//! neither.
//!
//! Who may do what is in the types: [`LiveWriter`], the one handle that changes the tenants'
//! slots, is made once and not cloned, and the applier holds it; everyone else holds a
//! [`LiveView`], which only reads. Both reach the [`Status`] recorder, which the applier, the
//! snapshot writer and the checkpoint writer each report to. A reader holds a tenant's shard
//! lock only for the time of one view, never across an await.

pub mod andon;
pub mod slot;
pub mod status;

use std::sync::Arc;

use chrono_tz::Tz;
use dashmap::mapref::multiple::{RefMulti, RefMutMulti};
use dashmap::mapref::one::{Ref, RefMut};
use dashmap::DashMap;

pub use self::slot::{History, Loading, Ready, Stage, TenantSlot, Totals, TxPoint};
pub use self::status::{Phase, Report, Role, Status, Steps};
pub use crate::tenants::TenantKey;

struct Shared {
    tenants: DashMap<TenantKey, TenantSlot>,
    status: Status,
    timezone: Tz,
    andon: andon::Board,
}

/// A served tenant's slot, read.
pub type TenantRef<'a> = Ref<'a, TenantKey, TenantSlot>;
/// A served tenant's slot met while iterating, read.
pub type TenantEntry<'a> = RefMulti<'a, TenantKey, TenantSlot>;

/// The read-only view: for HTTP, the snapshot writer, and anyone but the applier. Cheap to
/// clone.
#[derive(Clone)]
pub struct LiveView(Arc<Shared>);

/// The only handle that changes the tenants' slots: the applier's. It reads as a [`LiveView`]
/// does (through `Deref`), and is made once and never cloned.
pub struct LiveWriter(LiveView);

impl LiveView {
    pub fn status(&self) -> &Status {
        &self.0.status
    }

    pub fn timezone(&self) -> Tz {
        self.0.timezone
    }

    /// The floor's alerts: every tenant's andon memory, and the webhook's queue.
    pub fn andon(&self) -> &andon::Board {
        &self.0.andon
    }

    pub fn get(&self, key: &TenantKey) -> Option<TenantRef<'_>> {
        self.0.tenants.get(key)
    }

    /// The served tenant with this code (any case).
    pub fn find(&self, code: &str) -> Option<TenantEntry<'_>> {
        self.0
            .tenants
            .iter()
            .find(|t| t.code.eq_ignore_ascii_case(code))
    }

    /// The key of the served tenant with this code (any case).
    pub fn key_of(&self, code: &str) -> Option<TenantKey> {
        self.find(code).map(|t| t.key().clone())
    }

    pub fn contains(&self, key: &TenantKey) -> bool {
        self.0.tenants.contains_key(key)
    }

    pub fn len(&self) -> usize {
        self.0.tenants.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.tenants.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = TenantEntry<'_>> {
        self.0.tenants.iter()
    }
}

impl LiveWriter {
    /// A new, empty live state and its one writer, with the default andon limits.
    pub fn new(timezone: Tz) -> LiveWriter {
        Self::with_limits(timezone, crate::model::andon::Limits::default())
    }

    /// A new, empty live state whose andon uses `limits` (`[andon]`).
    pub fn with_limits(timezone: Tz, limits: crate::model::andon::Limits) -> LiveWriter {
        LiveWriter(LiveView(Arc::new(Shared {
            tenants: DashMap::new(),
            status: Status::default(),
            timezone,
            andon: andon::Board::new(limits),
        })))
    }

    /// A read-only view of the same state.
    pub fn view(&self) -> LiveView {
        self.0.clone()
    }

    fn tenants(&self) -> &DashMap<TenantKey, TenantSlot> {
        &(self.0).0.tenants
    }

    pub fn get_mut(&self, key: &TenantKey) -> Option<RefMut<'_, TenantKey, TenantSlot>> {
        self.tenants().get_mut(key)
    }

    pub fn iter_mut(&self) -> impl Iterator<Item = RefMutMulti<'_, TenantKey, TenantSlot>> {
        self.tenants().iter_mut()
    }

    /// Serves `slot` under `key`, in place of whatever was there.
    pub fn insert(&self, key: TenantKey, slot: TenantSlot) {
        self.tenants().insert(key, slot);
    }

    /// Stops serving the tenant; its slot, if it had one.
    pub fn remove(&self, key: &TenantKey) -> Option<TenantSlot> {
        self.tenants().remove(key).map(|(_, slot)| slot)
    }

    /// Stops serving every tenant.
    pub fn clear(&self) {
        self.tenants().clear();
    }
}

impl std::ops::Deref for LiveWriter {
    type Target = LiveView;

    fn deref(&self) -> &LiveView {
        &self.0
    }
}
