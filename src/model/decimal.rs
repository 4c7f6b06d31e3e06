//! DECIMAL(…,2) outputs: exact rational values rounded half away from zero to two places.
//!
//! Every mean and ratio of docs/metrics.md is a quotient of integers (seconds, counts), so it is computed
//! exactly and rounded once, never through a float.

use std::fmt;

use serde::Serialize;

/// A value with two decimal places, held as hundredths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dec2(pub i64);

impl Dec2 {
    /// `num / den` rounded half away from zero to two places. `den` must not be 0.
    pub fn ratio(num: i128, den: i128) -> Dec2 {
        let (num, den) = if den < 0 { (-num, -den) } else { (num, den) };
        let scaled = num * 100;
        let q = (2 * scaled.abs() + den) / (2 * den);
        let q = if scaled < 0 { -q } else { q };
        Dec2(q.clamp(i64::MIN as i128, i64::MAX as i128) as i64)
    }

    pub fn from_int(v: i64) -> Dec2 {
        Dec2(v.saturating_mul(100))
    }

    pub fn as_f64(self) -> f64 {
        self.0 as f64 / 100.0
    }

    /// A decimal text as a server prints it (`12.34`, `-0.5`, `7`, `1.500`); `None` for what
    /// is not a number or has a nonzero digit past the hundredths.
    pub fn parse(s: &str) -> Option<Dec2> {
        let (neg, s) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if frac.len() > 2 && frac[2..].bytes().any(|b| b != b'0') {
            return None;
        }
        let int: i64 = if int.is_empty() { 0 } else { int.parse().ok()? };
        let mut f: i64 = 0;
        for (i, b) in frac.bytes().take(2).enumerate() {
            f += (b - b'0') as i64 * if i == 0 { 10 } else { 1 };
        }
        let v = int.checked_mul(100)?.checked_add(f)?;
        Some(Dec2(if neg { -v } else { v }))
    }
}

impl fmt::Display for Dec2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl Serialize for Dec2 {
    /// JSON readers get a number, as a DECIMAL column would give them.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.as_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_a_server_prints() {
        assert_eq!(Dec2::parse("12.34"), Some(Dec2(1234)));
        assert_eq!(Dec2::parse("-0.5"), Some(Dec2(-50)));
        assert_eq!(Dec2::parse("7"), Some(Dec2(700)));
        assert_eq!(Dec2::parse("1.500"), Some(Dec2(150)));
        assert_eq!(Dec2::parse("1.505"), None);
        assert_eq!(Dec2::parse("NULL"), None);
        assert_eq!(Dec2::parse(""), None);
        assert_eq!(Dec2::parse("99999999999999999999"), None);
    }

    #[test]
    fn rounds_half_away_from_zero() {
        assert_eq!(Dec2::ratio(1, 8).to_string(), "0.13"); // 0.125
        assert_eq!(Dec2::ratio(-1, 8).to_string(), "-0.13");
        assert_eq!(Dec2::ratio(1, 3).to_string(), "0.33");
        assert_eq!(Dec2::ratio(2, 3).to_string(), "0.67");
        assert_eq!(Dec2::ratio(1, -200).to_string(), "-0.01"); // -0.005
        assert_eq!(Dec2::ratio(1, 201).to_string(), "0.00");
        assert_eq!(Dec2::ratio(7, 1).to_string(), "7.00");
        assert_eq!(Dec2::from_int(-3).to_string(), "-3.00");
    }
}
