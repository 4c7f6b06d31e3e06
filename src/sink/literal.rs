//! SQL literals for the statements the snapshot writer sends as text. A snapshot's write is
//! a dozen statements; sent as one multi-statement text instead of one prepared statement at a
//! time, it costs one round trip instead of a dozen (the cron job's minute of 1,000 tenants,
//! whose writes go this way too, went from 24–35 s to 16 s: docs/benchmarks.md, "Ten thousand
//! tenants", item 2, where the bench's side-by-side comparison is also described).
//! sqlx binds only prepared statements, which cannot be sent several at once, so the values are
//! written here: numbers and dates as the digits they are, text as a hex literal with a
//! character set introducer, which no `sql_mode` or connection character set reinterprets.

use std::fmt::Write;

use chrono::{NaiveDate, NaiveDateTime};

use crate::model::decimal::Dec2;

/// A value written into SQL text.
pub trait Literal {
    fn push(&self, sql: &mut String);
}

impl Literal for i64 {
    fn push(&self, sql: &mut String) {
        let _ = write!(sql, "{self}");
    }
}

impl Literal for u64 {
    fn push(&self, sql: &mut String) {
        let _ = write!(sql, "{self}");
    }
}

impl Literal for Dec2 {
    fn push(&self, sql: &mut String) {
        // Digits, a point and two decimals, maybe a sign: exact as a DECIMAL literal.
        let _ = write!(sql, "{self}");
    }
}

impl Literal for NaiveDate {
    fn push(&self, sql: &mut String) {
        let _ = write!(sql, "'{}'", self.format("%Y-%m-%d"));
    }
}

impl Literal for NaiveDateTime {
    fn push(&self, sql: &mut String) {
        let _ = write!(sql, "'{}'", self.format("%Y-%m-%d %H:%M:%S"));
    }
}

impl Literal for str {
    fn push(&self, sql: &mut String) {
        if self.is_empty() {
            sql.push_str("''");
            return;
        }
        sql.push_str("_utf8mb4 X'");
        for b in self.as_bytes() {
            let _ = write!(sql, "{b:02X}");
        }
        sql.push('\'');
    }
}

impl Literal for String {
    fn push(&self, sql: &mut String) {
        self.as_str().push(sql);
    }
}

impl<T: Literal> Literal for Option<T> {
    fn push(&self, sql: &mut String) {
        match self {
            Some(v) => v.push(sql),
            None => sql.push_str("NULL"),
        }
    }
}

/// Writes `values` as a parenthesised, comma-separated tuple.
pub fn tuple(sql: &mut String, values: &[&dyn Literal]) {
    sql.push('(');
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        v.push(sql);
    }
    sql.push(')');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(v: &dyn Literal) -> String {
        let mut s = String::new();
        v.push(&mut s);
        s
    }

    #[test]
    fn values_are_written_as_sql_reads_them() {
        assert_eq!(lit(&-42i64), "-42");
        assert_eq!(lit(&Dec2::from_int(-3)), "-3.00");
        assert_eq!(lit(&Some(7i64)), "7");
        assert_eq!(lit(&None::<i64>), "NULL");
        let d = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        assert_eq!(lit(&d), "'2026-12-07'");
        assert_eq!(
            lit(&d.and_hms_opt(4, 5, 0).unwrap()),
            "'2026-12-07 04:05:00'"
        );
    }

    #[test]
    fn text_cannot_escape_its_literal() {
        // Quotes, backslashes and Thai are all just bytes of a hex literal.
        assert_eq!(lit(&"a'\\".to_string()), "_utf8mb4 X'61275C'");
        assert_eq!(lit(&"ตัด".to_string()), "_utf8mb4 X'E0B895E0B8B1E0B894'");
        assert_eq!(lit(&String::new()), "''");
        let mut s = String::new();
        tuple(&mut s, &[&1i64, &Some("x".to_string()), &None::<String>]);
        assert_eq!(s, "(1, _utf8mb4 X'78', NULL)");
    }
}
