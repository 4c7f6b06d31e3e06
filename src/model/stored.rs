//! Compact in-memory forms of the two big source tables (flow_token, token_assignment), and the
//! hash map flowtally keeps rows in.
//!
//! [`Token`] and [`Assignment`] spend 16 bytes on each `Option<i64>` and repeat the primary key
//! that already keys their map. Stored here, the key is dropped and optional ids become an `i64`
//! plus a presence bit: 48 instead of 72 bytes per token and 64 instead of 96 per assignment,
//! losslessly ([`StoredToken::token`] gives back exactly what [`StoredToken::new`] took).
//!
//! [`FastMap`] is a `HashMap` with the Fx hash (rustc-hash 1: one multiply and rotate per word)
//! instead of SipHash: its keys are row ids and small id tuples from the source tables, where
//! hash flooding is not a concern, and hashing is most of what applying a change costs.
//! (rustc-hash 2's variant measured slower here: catch-up 1.56M → 1.14M rows/s.)

use chrono::NaiveDateTime;

use super::row::{Assignment, AssignmentStatus, Token, TokenStatus};

/// A `HashMap` hashed with the Fx hash (rustc-hash).
pub type FastMap<K, V> = rustc_hash::FxHashMap<K, V>;
/// A `HashSet` hashed the same way.
pub type FastSet<T> = rustc_hash::FxHashSet<T>;

const HAS_FIRST: u8 = 1;
const HAS_SECOND: u8 = 2;
const HAS_THIRD: u8 = 4;

fn pack(v: Option<i64>, bit: u8, flags: &mut u8) -> i64 {
    match v {
        Some(v) => {
            *flags |= bit;
            v
        }
        None => 0,
    }
}

fn unpack(v: i64, bit: u8, flags: u8) -> Option<i64> {
    (flags & bit != 0).then_some(v)
}

/// A flow_token row without its key.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredToken {
    instance: i64,
    node: i64,
    spawned_at: Option<NaiveDateTime>,
    completed_at: Option<NaiveDateTime>,
    status: TokenStatus,
    is_product: bool,
    /// Which of instance, node are present.
    flags: u8,
}

impl StoredToken {
    pub fn new(t: &Token) -> StoredToken {
        let mut flags = 0;
        StoredToken {
            instance: pack(t.instance, HAS_FIRST, &mut flags),
            node: pack(t.node, HAS_SECOND, &mut flags),
            spawned_at: t.spawned_at,
            completed_at: t.completed_at,
            status: t.status,
            is_product: t.is_product,
            flags,
        }
    }

    /// The row stored under key `id`.
    pub fn token(&self, id: i64) -> Token {
        Token {
            id,
            instance: unpack(self.instance, HAS_FIRST, self.flags),
            is_product: self.is_product,
            node: unpack(self.node, HAS_SECOND, self.flags),
            status: self.status,
            spawned_at: self.spawned_at,
            completed_at: self.completed_at,
        }
    }
}

/// A token_assignment row without its key.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAssignment {
    token: i64,
    node: i64,
    operator: i64,
    assigned_at: Option<NaiveDateTime>,
    started_at: Option<NaiveDateTime>,
    completed_at: Option<NaiveDateTime>,
    status: AssignmentStatus,
    /// Which of token, node, operator are present.
    flags: u8,
}

impl StoredAssignment {
    pub fn new(a: &Assignment) -> StoredAssignment {
        let mut flags = 0;
        StoredAssignment {
            token: pack(a.token, HAS_FIRST, &mut flags),
            node: pack(a.node, HAS_SECOND, &mut flags),
            operator: pack(a.operator, HAS_THIRD, &mut flags),
            assigned_at: a.assigned_at,
            started_at: a.started_at,
            completed_at: a.completed_at,
            status: a.status,
            flags,
        }
    }

    /// The row stored under key `id`.
    pub fn assignment(&self, id: i64) -> Assignment {
        Assignment {
            id,
            token: unpack(self.token, HAS_FIRST, self.flags),
            node: unpack(self.node, HAS_SECOND, self.flags),
            operator: unpack(self.operator, HAS_THIRD, self.flags),
            status: self.status,
            assigned_at: self.assigned_at,
            started_at: self.started_at,
            completed_at: self.completed_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> Option<NaiveDateTime> {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").ok()
    }

    #[test]
    fn rows_come_back_exactly() {
        for (instance, node) in [(Some(3), Some(0)), (None, Some(-7)), (Some(i64::MIN), None)] {
            let t = Token {
                id: 42,
                instance,
                is_product: true,
                node,
                status: TokenStatus::Waiting,
                spawned_at: dt("2026-03-01 10:00:00.250"),
                completed_at: None,
            };
            assert_eq!(StoredToken::new(&t).token(42), t);
        }
        for (token, node, operator) in [
            (Some(1), Some(2), Some(3)),
            (None, None, None),
            (Some(0), None, Some(i64::MAX)),
        ] {
            let a = Assignment {
                id: 9,
                token,
                node,
                operator,
                status: AssignmentStatus::Invalid,
                assigned_at: dt("2026-03-01 10:00:00"),
                started_at: None,
                completed_at: dt("2026-03-02 00:00:01"),
            };
            assert_eq!(StoredAssignment::new(&a).assignment(9), a);
        }
    }

    #[test]
    fn compact_sizes() {
        assert!(std::mem::size_of::<StoredToken>() <= 48);
        assert!(std::mem::size_of::<StoredAssignment>() <= 64);
    }

    #[test]
    fn fx_map_works_as_a_map() {
        let mut m: FastMap<(i64, i64), u32> = FastMap::default();
        for i in 0..1000 {
            m.insert((i, -i), i as u32);
        }
        assert_eq!(m.len(), 1000);
        assert_eq!(m.get(&(500, -500)), Some(&500));
        assert_eq!(m.get(&(500, 500)), None);
    }
}
