//! Reading binary binlog data: fixed-width and length-encoded integers off a byte slice, and the
//! CRC32 that checksums events.

use mysql_async::binlog::events::Event;

pub(super) fn take<'a>(buf: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if buf.len() < n {
        return None;
    }
    let (head, tail) = buf.split_at(n);
    *buf = tail;
    Some(head)
}

pub(super) fn lenenc(buf: &mut &[u8]) -> Option<u64> {
    let first = *take(buf, 1)?.first()?;
    match first {
        0xfc => take(buf, 2).map(le_uint),
        0xfd => take(buf, 3).map(le_uint),
        0xfe => take(buf, 8).map(le_uint),
        0xfb | 0xff => None,
        n => Some(u64::from(n)),
    }
}

pub(super) fn le_uint(b: &[u8]) -> u64 {
    b.iter()
        .take(8)
        .rev()
        .fold(0u64, |acc, x| (acc << 8) | u64::from(*x))
}

pub(super) fn be_uint(b: &[u8]) -> u64 {
    b.iter()
        .take(8)
        .fold(0u64, |acc, x| (acc << 8) | u64::from(*x))
}

pub(super) fn le_u32(b: Option<&[u8]>) -> Option<u32> {
    Some(u32::from_le_bytes(b?.try_into().ok()?))
}

pub(super) fn le_u64(b: Option<&[u8]>) -> Option<u64> {
    Some(u64::from_le_bytes(b?.try_into().ok()?))
}

fn crc32(parts: &[&[u8]]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    for part in parts {
        h.update(part);
    }
    h.finalize()
}

/// Whether the event's last 4 data bytes are the CRC32 of everything before them.
pub(super) fn trailing_crc_matches(event: &Event) -> bool {
    let h = event.header();
    let data = event.data();
    let Some(split) = data.len().checked_sub(4) else {
        return false;
    };
    let mut header = Vec::with_capacity(19);
    header.extend_from_slice(&h.timestamp().to_le_bytes());
    header.push(h.event_type_raw());
    header.extend_from_slice(&h.server_id().to_le_bytes());
    header.extend_from_slice(&h.event_size().to_le_bytes());
    header.extend_from_slice(&h.log_pos().to_le_bytes());
    header.extend_from_slice(&h.flags_raw().to_le_bytes());
    let (body, crc) = data.split_at(split);
    le_u32(Some(crc)) == Some(crc32(&[&header, body]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_reference_value() {
        assert_eq!(crc32(&[b"123456789"]), 0xcbf4_3926);
        assert_eq!(crc32(&[b"1234", b"56789"]), 0xcbf4_3926);
    }
}
