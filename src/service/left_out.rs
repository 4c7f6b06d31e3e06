//! Which of a tenant's rows are left out of the metrics (the bad rows), said in rate-limited
//! log lines.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::live::LiveView;
use crate::model::row::LeftOut;
use crate::model::{Change, Row};
use crate::ratelimit::WARNINGS;
use crate::tenants::TenantKey;

/// Why a changed row counts in no metric or only in some, as far as the row alone tells (a
/// node missing from routing_node needs the tenant's state: see [`LeftOutLog`]), with its id.
fn row_left_out(change: &Change) -> Option<(LeftOut, i64)> {
    match change {
        Change::Upsert(Row::Token(t)) => t.bad().map(|r| (r, t.id)),
        Change::Upsert(Row::Assignment(a)) => a.left_out().map(|r| (r, a.id)),
        _ => None,
    }
}

/// Logs a changed row that is left out of the metrics: at most one line per tenant and reason
/// per rate-limit period, saying how many were not logged since.
pub(super) fn log_bad_row(tenant: &str, change: &Change) {
    let Some((reason, id)) = row_left_out(change) else {
        return;
    };
    if let Some(suppressed) = WARNINGS.check(&format!("bad row {tenant} {}", reason.label())) {
        tracing::warn!(
            %tenant,
            table = change.table().name(),
            id,
            reason = reason.label(),
            suppressed,
            "source row left out of the metrics"
        );
    }
}

/// The rows each served tenant had left out at the last check, to log what is new.
#[derive(Default)]
pub(super) struct LeftOutLog {
    seen: HashMap<TenantKey, BTreeMap<LeftOut, i64>>,
}

impl LeftOutLog {
    /// Logs every reason whose count grew since the last check of tenant `key` (rate-limited
    /// per tenant and reason), and remembers `now`.
    pub(super) fn check(&mut self, key: &TenantKey, tenant: &str, now: BTreeMap<LeftOut, i64>) {
        let seen = self.seen.entry(key.clone()).or_default();
        for (reason, &rows) in &now {
            let before = seen.get(reason).copied().unwrap_or(0);
            if rows <= before {
                continue;
            }
            let limit_key = format!("left out {tenant} {}", reason.label());
            if let Some(suppressed) = WARNINGS.check(&limit_key) {
                tracing::warn!(
                    %tenant,
                    reason = reason.label(),
                    rows,
                    new = rows - before,
                    suppressed,
                    "source rows left out of the metrics (see flowtally_bad_rows)"
                );
            }
        }
        *seen = now;
    }

    /// Checks every served tenant, and forgets those no longer served. Run by the watcher,
    /// beside the applier: it walks every tenant's aggregates, which with a thousand tenants
    /// took the applier tens of milliseconds when it ran there (docs/benchmarks.md).
    pub(super) fn pass(&mut self, live: &LiveView) {
        let mut served = HashSet::new();
        live.each(|key, slot| {
            if let Some(r) = slot.ready() {
                self.check(key, &slot.code, r.state.left_out());
                served.insert(key.clone());
            }
        });
        self.seen.retain(|k, _| served.contains(k));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::row::{Assignment, AssignmentStatus, Token, TokenStatus};

    fn dt(s: &str) -> Option<chrono::NaiveDateTime> {
        chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").ok()
    }

    #[test]
    fn rows_left_out_by_the_row_alone() {
        let token = Token {
            id: 7,
            instance: Some(1),
            is_product: true,
            node: Some(3),
            status: TokenStatus::Ready,
            spawned_at: None,
            completed_at: None,
        };
        assert_eq!(
            row_left_out(&Change::Upsert(Row::Token(token.clone()))),
            None
        );
        let invalid = Token {
            status: TokenStatus::Invalid,
            ..token.clone()
        };
        assert_eq!(
            row_left_out(&Change::Upsert(Row::Token(invalid))),
            Some((LeftOut::InvalidStatus, 7))
        );
        let orphan = Token {
            instance: None,
            ..token
        };
        assert_eq!(
            row_left_out(&Change::Upsert(Row::Token(orphan))),
            Some((LeftOut::NullId, 7))
        );
        let a = Assignment {
            id: 9,
            token: Some(7),
            node: Some(3),
            operator: Some(1001),
            status: AssignmentStatus::Completed,
            assigned_at: None,
            started_at: dt("2026-01-02 10:00:00"),
            completed_at: dt("2026-01-02 09:00:00"),
        };
        assert_eq!(
            row_left_out(&Change::Upsert(Row::Assignment(a.clone()))),
            Some((LeftOut::CompletedBeforeStarted, 9))
        );
        let fine = Assignment {
            completed_at: dt("2026-01-02 11:00:00"),
            ..a
        };
        assert_eq!(row_left_out(&Change::Upsert(Row::Assignment(fine))), None);
    }
}
