//! The row-image decoder: the bytes of one row image to [`Value`]s of the columns flowtally
//! reads.
//!
//! Row images are decoded here rather than by mysql_common's `BinlogRow`, which builds a named
//! `Column` for every value of every row (most of its cost, see the binlog-readers notes): only the
//! columns flowtally reads are converted, located by name through the table map's FULL metadata
//! (see `tables`), and every other column is merely skipped over by its binary width.

use std::sync::Arc;

use chrono::{NaiveDate, NaiveDateTime};
use mysql_async::consts::ColumnType;

use super::bytes::{be_uint, le_uint, lenenc, take};
use crate::model::Value;

/// One column of a table as a row image stores it: how many bytes to step over, and what to make
/// of them when flowtally reads the column.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ImageColumn {
    pub(super) width: Width,
    pub(super) conv: Conv,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Width {
    Fixed(usize),
    /// A little-endian length of this many bytes, then the value.
    Prefixed(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Conv {
    Int {
        unsigned: bool,
    },
    Enum(Arc<[String]>),
    Set,
    Bytes,
    DateTime2 {
        fsp: u8,
    },
    DateTimeOld,
    Date,
    Year,
    Float,
    Double,
    Decimal {
        precision: usize,
        scale: usize,
    },
    Bit,
    TimestampOld,
    Timestamp2,
    /// TIME, JSON (binary), GEOMETRY, VECTOR: never read by flowtally, delivered as NULL.
    Unsupported,
}

/// A column type (with its metadata) the decoder cannot walk over.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(super) struct UnknownColumn(String);

/// A row image shorter than its table map says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("truncated {0}")]
pub(super) struct Truncated(&'static str);

/// Width and conversion of a column from its binlog type and type metadata.
pub(super) fn column(t: ColumnType, meta: &[u8]) -> Result<ImageColumn, UnknownColumn> {
    use ColumnType::*;
    let m = |i: usize| {
        meta.get(i)
            .copied()
            .ok_or_else(|| UnknownColumn(format!("type {t:?} without metadata")))
    };
    let fixed = |n: usize, conv: Conv| {
        Ok(ImageColumn {
            width: Width::Fixed(n),
            conv,
        })
    };
    let prefixed = |n: usize, conv: Conv| {
        if (1..=4).contains(&n) {
            Ok(ImageColumn {
                width: Width::Prefixed(n),
                conv,
            })
        } else {
            Err(UnknownColumn(format!("type {t:?} with a {n}-byte length")))
        }
    };
    let frac = |fsp: u8| usize::from(fsp).div_ceil(2);
    match t {
        MYSQL_TYPE_TINY => fixed(1, Conv::Int { unsigned: false }),
        MYSQL_TYPE_SHORT => fixed(2, Conv::Int { unsigned: false }),
        MYSQL_TYPE_INT24 => fixed(3, Conv::Int { unsigned: false }),
        MYSQL_TYPE_LONG => fixed(4, Conv::Int { unsigned: false }),
        MYSQL_TYPE_LONGLONG => fixed(8, Conv::Int { unsigned: false }),
        MYSQL_TYPE_FLOAT => fixed(4, Conv::Float),
        MYSQL_TYPE_DOUBLE => fixed(8, Conv::Double),
        MYSQL_TYPE_NULL => fixed(0, Conv::Unsupported),
        MYSQL_TYPE_TIMESTAMP => fixed(4, Conv::TimestampOld),
        MYSQL_TYPE_DATE | MYSQL_TYPE_NEWDATE => fixed(3, Conv::Date),
        MYSQL_TYPE_TIME => fixed(3, Conv::Unsupported),
        MYSQL_TYPE_DATETIME => fixed(8, Conv::DateTimeOld),
        MYSQL_TYPE_YEAR => fixed(1, Conv::Year),
        MYSQL_TYPE_TIMESTAMP2 => fixed(4 + frac(m(0)?), Conv::Timestamp2),
        MYSQL_TYPE_DATETIME2 => {
            let fsp = m(0)?;
            fixed(5 + frac(fsp), Conv::DateTime2 { fsp })
        }
        MYSQL_TYPE_TIME2 => fixed(3 + frac(m(0)?), Conv::Unsupported),
        MYSQL_TYPE_NEWDECIMAL => {
            let (precision, scale) = (usize::from(m(0)?), usize::from(m(1)?));
            if scale > precision || precision == 0 {
                return Err(UnknownColumn(format!("DECIMAL({precision},{scale})")));
            }
            fixed(
                decimal_size(precision, scale),
                Conv::Decimal { precision, scale },
            )
        }
        MYSQL_TYPE_BIT => {
            let (bits, bytes) = (usize::from(m(0)?), usize::from(m(1)?));
            fixed(bytes + bits.div_ceil(8), Conv::Bit)
        }
        MYSQL_TYPE_VARCHAR | MYSQL_TYPE_VAR_STRING => {
            let max = usize::from(m(0)?) | (usize::from(m(1)?) << 8);
            prefixed(if max < 256 { 1 } else { 2 }, Conv::Bytes)
        }
        MYSQL_TYPE_ENUM => fixed(usize::from(m(1)?), Conv::Enum(Arc::from([]))),
        MYSQL_TYPE_SET => fixed(usize::from(m(1)?), Conv::Set),
        MYSQL_TYPE_STRING => {
            let (b0, b1) = (m(0)?, m(1)?);
            // CHAR, ENUM and SET share this type; the real one hides in the metadata, and a
            // CHAR over 255 bytes borrows two bits of it for its length.
            let real = if b0 != 0 { b0 | 0x30 } else { b0 };
            match real {
                0xf7 => match b1 {
                    1 | 2 => fixed(usize::from(b1), Conv::Enum(Arc::from([]))),
                    n => Err(UnknownColumn(format!("ENUM of {n} bytes"))),
                },
                0xf8 => fixed(usize::from(b1), Conv::Set),
                0xfe | 0 => {
                    let len = if b0 & 0x30 != 0x30 {
                        usize::from(b1) | ((usize::from(b0 & 0x30) ^ 0x30) << 4)
                    } else {
                        usize::from(b1)
                    };
                    prefixed(if len < 256 { 1 } else { 2 }, Conv::Bytes)
                }
                other => Err(UnknownColumn(format!("STRING with real type {other}"))),
            }
        }
        MYSQL_TYPE_TINY_BLOB | MYSQL_TYPE_MEDIUM_BLOB | MYSQL_TYPE_LONG_BLOB | MYSQL_TYPE_BLOB => {
            prefixed(usize::from(m(0)?), Conv::Bytes)
        }
        MYSQL_TYPE_JSON => prefixed(usize::from(m(0).unwrap_or(4)), Conv::Unsupported),
        MYSQL_TYPE_GEOMETRY | MYSQL_TYPE_VECTOR => prefixed(usize::from(m(0)?), Conv::Unsupported),
        other => Err(UnknownColumn(format!("unsupported type {other:?}"))),
    }
}

/// How a table's row images are laid out, and where the values flowtally reads sit in them.
pub(super) struct Layout {
    /// Every column of the table, to walk over a row image.
    pub(super) columns: Vec<ImageColumn>,
    /// For each column, where its value goes in the output (a needed column) or nowhere.
    pub(super) slots: Vec<Option<usize>>,
    pub(super) needed: usize,
    /// JSON columns of the table (a partial update's after image has a bitmap over them).
    pub(super) json_columns: usize,
}

/// Reads one row image (null bitmap, then the present non-NULL values) into `out`, in the
/// order of the needed columns.
pub(super) fn read_image(
    buf: &mut &[u8],
    present: &[bool],
    layout: &Layout,
    partial: bool,
    out: &mut Vec<Value>,
) -> Result<(), Truncated> {
    out.clear();
    out.resize(layout.needed, Value::Null);
    if partial {
        // A partial update's after image starts with its value options and, for partial JSON,
        // a bitmap over the table's JSON columns; the JSON values themselves keep their length.
        let options = lenenc(buf).ok_or(Truncated("value options"))?;
        if options & 1 != 0 {
            take(buf, layout.json_columns.div_ceil(8)).ok_or(Truncated("partial JSON bitmap"))?;
        }
    }
    let n_present = present.iter().filter(|p| **p).count();
    let nulls = take(buf, n_present.div_ceil(8)).ok_or(Truncated("null bitmap"))?;
    let mut image_idx = 0;
    for (i, col) in layout.columns.iter().enumerate() {
        if !present.get(i).copied().unwrap_or(false) {
            continue;
        }
        let is_null = nulls
            .get(image_idx / 8)
            .is_some_and(|b| b & (1 << (image_idx % 8)) != 0);
        image_idx += 1;
        if is_null {
            continue;
        }
        let bytes = match col.width {
            Width::Fixed(n) => take(buf, n),
            Width::Prefixed(n) => {
                let len = take(buf, n).map(le_uint);
                len.and_then(|len| take(buf, usize::try_from(len).ok()?))
            }
        }
        .ok_or(Truncated("row image"))?;
        if let Some(slot) = layout.slots.get(i).copied().flatten() {
            if let Some(v) = out.get_mut(slot) {
                *v = convert(&col.conv, bytes);
            }
        }
    }
    Ok(())
}

fn convert(conv: &Conv, b: &[u8]) -> Value {
    match conv {
        Conv::Int { unsigned } => {
            let raw = le_uint(b);
            let bits = b.len() * 8;
            if *unsigned || bits == 0 {
                i64::try_from(raw)
                    .map(Value::Int)
                    .unwrap_or_else(|_| Value::Text(raw.to_string()))
            } else if bits >= 64 {
                Value::Int(raw as i64)
            } else {
                // Sign-extend from the column's width.
                let shift = 64 - bits;
                Value::Int(((raw << shift) as i64) >> shift)
            }
        }
        Conv::Enum(labels) => {
            let ordinal = le_uint(b) as usize;
            // Ordinal 0 is what the server stores for an invalid value ('' in SELECTs).
            match ordinal.checked_sub(1).and_then(|i| labels.get(i)) {
                Some(label) => Value::Text(label.clone()),
                None => Value::Text(String::new()),
            }
        }
        // SET is a little-endian bitmask, BIT a big-endian number.
        Conv::Set => Value::Int(le_uint(b) as i64),
        Conv::Bit => Value::Int(be_uint(b) as i64),
        Conv::Bytes => Value::Text(String::from_utf8_lossy(b).into_owned()),
        Conv::DateTime2 { fsp } => datetime2(b, *fsp).map_or(Value::Null, Value::DateTime),
        Conv::DateTimeOld => {
            let v = le_uint(b);
            let (d, t) = (v / 1_000_000, v % 1_000_000);
            ymd_hms(
                d / 10_000,
                d / 100 % 100,
                d % 100,
                t / 10_000,
                t / 100 % 100,
                t % 100,
                0,
            )
            .map_or(Value::Null, Value::DateTime)
        }
        Conv::Date => {
            let v = le_uint(b);
            ymd_hms(v >> 9, (v >> 5) & 15, v & 31, 0, 0, 0, 0).map_or(Value::Null, Value::DateTime)
        }
        Conv::Year => match le_uint(b) {
            0 => Value::Int(0),
            y => Value::Int(1900 + y as i64),
        },
        Conv::Float => match b.try_into() {
            Ok(a) => Value::Text(f32::from_le_bytes(a).to_string()),
            Err(_) => Value::Null,
        },
        Conv::Double => match b.try_into() {
            Ok(a) => Value::Text(f64::from_le_bytes(a).to_string()),
            Err(_) => Value::Null,
        },
        Conv::Decimal { precision, scale } => {
            decode_decimal(b, *precision, *scale).map_or(Value::Null, Value::Text)
        }
        // Epoch seconds: flowtally's tables use DATETIME, which is local wall-clock time.
        Conv::TimestampOld => Value::Int(le_uint(b) as i64),
        Conv::Timestamp2 => Value::Int(be_uint(b.get(0..4).unwrap_or(&[])) as i64),
        Conv::Unsupported => Value::Null,
    }
}

fn datetime2(b: &[u8], fsp: u8) -> Option<NaiveDateTime> {
    let packed = be_uint(b.get(0..5)?) as i64 - 0x80_0000_0000;
    if packed < 0 {
        return None;
    }
    let micros = match fsp {
        1 | 2 => be_uint(b.get(5..6)?) * 10_000,
        3 | 4 => be_uint(b.get(5..7)?) * 100,
        5 | 6 => be_uint(b.get(5..8)?),
        _ => 0,
    };
    let packed = packed as u64;
    let ymd = packed >> 17;
    let ym = ymd >> 5;
    let hms = packed & 0x1_ffff;
    ymd_hms(
        ym / 13,
        ym % 13,
        ymd & 31,
        hms >> 12,
        (hms >> 6) & 63,
        hms & 63,
        micros,
    )
}

/// A zero or partly zero date (`0000-00-00`, `2024-00-10`) is no instant: NULL.
fn ymd_hms(y: u64, mo: u64, d: u64, h: u64, mi: u64, s: u64, micros: u64) -> Option<NaiveDateTime> {
    NaiveDate::from_ymd_opt(
        i32::try_from(y).ok()?,
        u32::try_from(mo).ok()?,
        u32::try_from(d).ok()?,
    )?
    .and_hms_micro_opt(
        u32::try_from(h).ok()?,
        u32::try_from(mi).ok()?,
        u32::try_from(s).ok()?,
        u32::try_from(micros).ok()?,
    )
}

const DIG2BYTES: [usize; 10] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];

fn decimal_size(precision: usize, scale: usize) -> usize {
    let intg = precision - scale;
    intg / 9 * 4 + DIG2BYTES[intg % 9] + scale / 9 * 4 + DIG2BYTES[scale % 9]
}

/// MySQL's binary DECIMAL: groups of 9 digits in 4 big-endian bytes, a shorter leading and
/// trailing group, the sign in the top bit and negatives stored inverted.
fn decode_decimal(b: &[u8], precision: usize, scale: usize) -> Option<String> {
    if scale > precision || b.len() != decimal_size(precision, scale) || b.is_empty() {
        return None;
    }
    let negative = b[0] & 0x80 == 0;
    let mut bytes = b.to_vec();
    bytes[0] ^= 0x80;
    if negative {
        for x in bytes.iter_mut() {
            *x = !*x;
        }
    }
    let mut rest = bytes.as_slice();
    let mut group = |n: usize| -> Option<u64> { take(&mut rest, n).map(be_uint) };
    let intg = precision - scale;
    let mut int_digits = String::new();
    if !intg.is_multiple_of(9) {
        let v = group(DIG2BYTES[intg % 9])?;
        int_digits.push_str(&format!("{v:0width$}", width = intg % 9));
    }
    for _ in 0..intg / 9 {
        int_digits.push_str(&format!("{:09}", group(4)?));
    }
    let int_part = int_digits.trim_start_matches('0');
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    out.push_str(if int_part.is_empty() { "0" } else { int_part });
    if scale > 0 {
        out.push('.');
        for _ in 0..scale / 9 {
            out.push_str(&format!("{:09}", group(4)?));
        }
        if !scale.is_multiple_of(9) {
            let v = group(DIG2BYTES[scale % 9])?;
            out.push_str(&format!("{v:0width$}", width = scale % 9));
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_decodes_positive_negative_and_fraction() {
        // DECIMAL(10,2) 1234.50: intg 8 -> 4 bytes, frac 2 -> 1 byte.
        let mut b = vec![0x80, 0x00, 0x04, 0xd2, 0x32];
        assert_eq!(decode_decimal(&b, 10, 2).as_deref(), Some("1234.50"));
        for x in b.iter_mut() {
            *x = !*x;
        }
        assert_eq!(decode_decimal(&b, 10, 2).as_deref(), Some("-1234.50"));
        assert_eq!(
            decode_decimal(&[0x80, 0, 0, 0, 1], 10, 2).as_deref(),
            Some("0.01")
        );
        // DECIMAL(20,0): 20 digits = a 2-digit leading group (1 byte) and two 9-digit groups.
        let size = decimal_size(20, 0);
        assert_eq!(size, 1 + 4 + 4);
        let mut big = vec![0x80 | 12, 0, 0, 0, 0, 0x3b, 0x9a, 0xc9, 0xff];
        big[1..5].copy_from_slice(&345_678_901u32.to_be_bytes());
        assert_eq!(
            decode_decimal(&big, 20, 0).as_deref(),
            Some("12345678901999999999")
        );
        assert_eq!(decode_decimal(&[0x80], 10, 2), None, "wrong length");
    }

    #[test]
    fn datetime2_decodes_and_zero_date_is_null() {
        // 2026-01-02 03:04:05 packed as MySQL does.
        let ym = 2026u64 * 13 + 1;
        let ymd = (ym << 5) | 2;
        let hms = (3u64 << 12) | (4 << 6) | 5;
        let packed = ((ymd << 17) | hms) + 0x80_0000_0000;
        let b = &packed.to_be_bytes()[3..8];
        assert_eq!(
            datetime2(b, 0).map(|d| d.to_string()).as_deref(),
            Some("2026-01-02 03:04:05")
        );
        let mut with_frac = b.to_vec();
        with_frac.extend_from_slice(&[0x01, 0xe2, 0x40]); // 123456 µs
        assert_eq!(
            datetime2(&with_frac, 6).map(|d| d.to_string()).as_deref(),
            Some("2026-01-02 03:04:05.123456")
        );
        let zero = 0x80_0000_0000u64.to_be_bytes();
        assert_eq!(datetime2(&zero[3..8], 0), None);
    }

    #[test]
    fn ints_follow_signedness_and_width() {
        let signed = Conv::Int { unsigned: false };
        let unsigned = Conv::Int { unsigned: true };
        assert_eq!(convert(&signed, &[0xff]), Value::Int(-1));
        assert_eq!(convert(&unsigned, &[0xff]), Value::Int(255));
        assert_eq!(convert(&signed, &[0xff, 0xff, 0x7f]), Value::Int(0x7f_ffff));
        assert_eq!(
            convert(&signed, &[0x00, 0x00, 0x80]),
            Value::Int(-0x80_0000)
        );
        assert_eq!(
            convert(&unsigned, &u64::MAX.to_le_bytes()),
            Value::Text(u64::MAX.to_string())
        );
        assert_eq!(convert(&signed, &(-5i64).to_le_bytes()), Value::Int(-5));
    }

    #[test]
    fn enum_ordinal_zero_is_the_empty_string() {
        let labels: Arc<[String]> = vec!["ready".to_string(), "active".to_string()].into();
        assert_eq!(
            convert(&Conv::Enum(labels.clone()), &[2]),
            Value::Text("active".into())
        );
        assert_eq!(
            convert(&Conv::Enum(labels.clone()), &[0]),
            Value::Text(String::new())
        );
        assert_eq!(
            convert(&Conv::Enum(labels), &[9]),
            Value::Text(String::new())
        );
    }

    #[test]
    fn string_metadata_resolves_enum_set_and_long_char() {
        let c = column(ColumnType::MYSQL_TYPE_STRING, &[0xf7, 1]).map(|c| c.conv);
        assert!(matches!(c, Ok(Conv::Enum(_))));
        let c = column(ColumnType::MYSQL_TYPE_STRING, &[0xf8, 2]).map(|c| c.width);
        assert!(matches!(c, Ok(Width::Fixed(2))));
        // CHAR(100) utf8mb4 = 400 bytes: 0x190 -> b0 = 0xfe ^ 0x10, b1 = 0x90.
        let c = column(ColumnType::MYSQL_TYPE_STRING, &[0xee, 0x90]).map(|c| c.width);
        assert!(matches!(c, Ok(Width::Prefixed(2))));
        let c = column(ColumnType::MYSQL_TYPE_STRING, &[0xfe, 40]).map(|c| c.width);
        assert!(matches!(c, Ok(Width::Prefixed(1))));
    }
}
