//! What the applier checks about a tenant besides applying its changes: whether its source
//! tables still have what flowtally reads (a tenant whose schema drifted is not served, rather
//! than served wrong), and which of its rows are left out of the metrics (SPEC §2 "Bad rows"),
//! said in rate-limited log lines.

use std::collections::{BTreeMap, HashMap};

use sqlx::{MySqlConnection, Row as _};

use crate::model::row::LeftOut;
use crate::model::{Change, Row, Table};
use crate::ratelimit::WARNINGS;

/// The problem reported for a tenant whose database is gone.
pub(super) const NO_DATABASE: &str = "no database on the server";

/// The problem reported for a tenant whose `table` lacks needed columns.
pub(super) fn missing_columns(table: &str, missing: &[String]) -> String {
    format!(
        "{table} lacks column(s) {} that flowtally reads (dropped or renamed): the tenant is not \
         served until they are back, then it is reloaded",
        missing.join(", ")
    )
}

fn missing_table(table: &str) -> String {
    format!(
        "table {table} is missing (dropped, or not readable by flowtally's login): the tenant is \
         not served until it is back, then it is reloaded"
    )
}

/// What keeps tenant database `db` from being served, if anything: a source table missing or
/// lacking a column flowtally reads. Read from information_schema, which shows what this login
/// can read.
pub(super) async fn source_problem(
    conn: &mut MySqlConnection,
    db: &str,
) -> Result<Option<String>, sqlx::Error> {
    let names: Vec<String> = Table::ALL
        .iter()
        .map(|t| format!("'{}'", t.name()))
        .collect();
    let sql = format!(
        "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN ({})",
        names.join(", ")
    );
    let rows = sqlx::query(&sql).bind(db).fetch_all(&mut *conn).await?;
    let mut have: HashMap<String, Vec<String>> = HashMap::new();
    for r in &rows {
        let text = |i: usize| {
            r.try_get::<Vec<u8>, _>(i)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
        };
        have.entry(text(0)?).or_default().push(text(1)?);
    }
    if have.is_empty() {
        let dbs =
            sqlx::query("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?")
                .bind(db)
                .fetch_one(&mut *conn)
                .await?
                .try_get::<i64, _>(0)?;
        if dbs == 0 {
            return Ok(Some(NO_DATABASE.to_string()));
        }
    }
    for table in Table::ALL {
        let Some(columns) = have.get(table.name()) else {
            return Ok(Some(missing_table(table.name())));
        };
        let missing: Vec<String> = table
            .columns()
            .iter()
            .filter(|c| !columns.iter().any(|h| h.eq_ignore_ascii_case(c)))
            .map(|c| c.to_string())
            .collect();
        if !missing.is_empty() {
            return Ok(Some(missing_columns(table.name(), &missing)));
        }
    }
    Ok(None)
}

/// Why a changed row counts in no metric or only in some, as far as the row alone tells (a
/// node missing from routing_node needs the tenant's state: see [`LeftOutLog`]), with its id.
fn row_left_out(change: &Change) -> Option<(LeftOut, i64)> {
    match change {
        Change::Upsert(Row::Token(t)) => t.bad().map(|r| (r, t.id)),
        Change::Upsert(Row::Assignment(a)) => a
            .bad()
            .or_else(|| {
                (a.completed_on().is_some() && a.started_at.is_some() && a.cycle_secs().is_none())
                    .then_some(LeftOut::CompletedBeforeStarted)
            })
            .map(|r| (r, a.id)),
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
    seen: HashMap<String, BTreeMap<LeftOut, i64>>,
}

impl LeftOutLog {
    /// Logs every reason whose count grew since the last check of tenant `key` (rate-limited
    /// per tenant and reason), and remembers `now`.
    pub(super) fn check(&mut self, key: &str, tenant: &str, now: BTreeMap<LeftOut, i64>) {
        let seen = self.seen.entry(key.to_string()).or_default();
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

    pub(super) fn forget(&mut self, key: &str) {
        self.seen.remove(key);
    }

    pub(super) fn clear(&mut self) {
        self.seen.clear();
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

    #[test]
    fn problems_name_the_table_and_columns() {
        let p = missing_columns("flow_token", &["completed_at".to_string()]);
        assert!(
            p.starts_with("flow_token lacks column(s) completed_at"),
            "{p}"
        );
        assert!(missing_table("team_member").contains("team_member is missing"));
    }
}
