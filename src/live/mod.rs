//! The live state: every served tenant's [`TenantSlot`] by [`TenantKey`], the service's
//! [`Status`], and the factory's time zone. It sits below the code that fills it (the
//! service's applier) and the code that reads it (the snapshot writer, HTTP), and imports
//! neither.
//!
//! Who may do what is in the types: [`LiveWriter`], the one handle that changes the tenants'
//! slots, is made once and not cloned, and the applier holds it; everyone else holds a
//! [`LiveView`], which only reads. Both reach the [`Status`] recorder, which the applier, the
//! snapshot writer and the checkpoint writer each report to. A reader holds a tenant's shard
//! lock only for the time of one view, never across an await, and walks that do real work per
//! tenant take one tenant's lock at a time ([`LiveView::each`]).

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

    /// Every served tenant, each shard's lock held while its tenants are walked: for walks that
    /// do little per tenant (see [`LiveView::each`]).
    pub fn iter(&self) -> impl Iterator<Item = TenantEntry<'_>> {
        self.0.tenants.iter()
    }

    /// Calls `f` on every served tenant, holding its shard's lock only for that tenant, and
    /// taking the shards in turn. A walk under [`LiveView::iter`] holds each shard (an eighth
    /// of the tenants on two cores) for all of its tenants, and the applier waits for the
    /// shard meanwhile; and a reader that took the same shard again at once would mostly win
    /// it back before the woken applier could. For walks that do real work per tenant.
    pub fn each(&self, mut f: impl FnMut(&TenantKey, &TenantSlot)) {
        let map = &self.0.tenants;
        let mut by_shard: Vec<Vec<TenantKey>> = vec![Vec::new(); map.shards().len()];
        for t in map.iter() {
            by_shard[map.determine_map(t.key())].push(t.key().clone());
        }
        let rounds = by_shard.iter().map(Vec::len).max().unwrap_or(0);
        for i in 0..rounds {
            for k in by_shard.iter().filter_map(|keys| keys.get(i)) {
                if let Some(t) = map.get(k) {
                    f(t.key(), t.value());
                }
            }
        }
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

#[cfg(test)]
mod tests {
    use dashmap::try_result::TryResult;

    use super::*;

    #[test]
    fn each_visits_every_tenant_once_taking_the_shards_in_turn() {
        let live = LiveWriter::new(chrono_tz::UTC);
        let keys: Vec<TenantKey> = (0..64)
            .map(|i| {
                let db = format!("bgerp_t_t{i:02}");
                let key = TenantKey::of_db(&db);
                live.insert(
                    key.clone(),
                    TenantSlot::loading(format!("T{i:02}"), db, 1, 0),
                );
                key
            })
            .collect();
        let shard = |k: &TenantKey| live.tenants().determine_map(k);
        let mut seen: Vec<TenantKey> = Vec::new();
        live.each(|key, slot| {
            assert_eq!(&TenantKey::of_db(&slot.db), key, "the slot is the key's");
            // What the applier does meanwhile: change a tenant of another shard.
            for other in keys.iter().filter(|k| shard(k) != shard(key)) {
                assert!(
                    matches!(live.tenants().try_get_mut(other), TryResult::Present(_)),
                    "{other} is free while {key} is read"
                );
            }
            seen.push(key.clone());
        });
        let mut visited = seen.clone();
        visited.sort();
        assert_eq!(visited, keys, "every tenant once");
        // The same shard twice in a row only once every other shard is done.
        for (i, pair) in seen.windows(2).enumerate() {
            if shard(&pair[0]) == shard(&pair[1]) {
                let rest = &seen[i + 2..];
                assert!(
                    rest.iter().all(|k| shard(k) == shard(&pair[0])),
                    "{} and {} of one shard in a row with other shards left",
                    pair[0],
                    pair[1]
                );
            }
        }
    }
}
