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
