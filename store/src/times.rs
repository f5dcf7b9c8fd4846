//! Each step's time: the `CLOCK_MONOTONIC` nanoseconds at which it
//! happened, kept beside the steps' ops in a times segment (kind 9) per
//! deltas segment, as the first step's time and then each step's delta
//! from the one before it (unsigned LEB128), so a step costs a byte or
//! three however long the recording runs.

use crate::error::StoreError;

/// The most bytes one delta takes (a u64 in LEB128).
const MAX_VARINT: usize = 10;

/// The raw payload of a times segment for `times` (non-decreasing; a
/// time before the previous one is written as the previous one).
pub fn encode_times(times: &[u64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + times.len() * 3);
    let Some(&first) = times.first() else {
        return out;
    };
    out.extend_from_slice(&first.to_le_bytes());
    let mut prev = first;
    for &t in &times[1..] {
        let mut d = t.saturating_sub(prev);
        prev = prev.max(t);
        loop {
            let b = (d & 0x7f) as u8;
            d >>= 7;
            if d == 0 {
                out.push(b);
                break;
            }
            out.push(b | 0x80);
        }
    }
    out
}

/// The `count` times a times segment's raw payload holds; an error when it
/// holds another number of them or a delta runs past a u64.
pub fn decode_times(raw: &[u8], count: u32, offset: u64) -> Result<Vec<u64>, StoreError> {
    let bad = |what: &str| StoreError::corrupt(format!("a times segment {what}"), offset);
    if count == 0 {
        return Err(bad("of no step"));
    }
    let first = raw
        .get(..8)
        .ok_or_else(|| bad("shorter than its first time"))?;
    let mut t = u64::from_le_bytes(first.try_into().unwrap_or_default());
    // At least a byte a step: the count cannot ask for more than the bytes.
    if raw.len() - 8 < count as usize - 1 {
        return Err(bad("with fewer deltas than steps"));
    }
    let mut out = Vec::with_capacity(count as usize);
    out.push(t);
    let mut at = 8;
    for _ in 1..count {
        let mut d = 0u64;
        let mut shift = 0;
        loop {
            let b = *raw
                .get(at)
                .ok_or_else(|| bad("with fewer deltas than steps"))?;
            at += 1;
            if shift >= 7 * MAX_VARINT as u32 || (shift == 63 && b > 1) {
                return Err(bad("with a delta past 64 bits"));
            }
            d |= u64::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        t = t.saturating_add(d);
        out.push(t);
    }
    if at != raw.len() {
        return Err(bad("with bytes past its last delta"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip() {
        let t = [5, 5, 130, 1 << 40, (1 << 40) + 300, u64::MAX];
        assert_eq!(decode_times(&encode_times(&t), 6, 0).unwrap(), t);
    }

    #[test]
    fn a_time_going_back_is_kept_at_the_one_before() {
        let raw = encode_times(&[100, 90, 120]);
        assert_eq!(decode_times(&raw, 3, 0).unwrap(), [100, 100, 120]);
    }

    #[test]
    fn damage_is_an_error() {
        let raw = encode_times(&[1, 2, 3]);
        assert!(decode_times(&raw, 4, 0).is_err());
        assert!(decode_times(&raw[..5], 1, 0).is_err());
        let mut long = raw.clone();
        long.push(0);
        assert!(decode_times(&long, 3, 0).is_err());
        let mut huge = 1u64.to_le_bytes().to_vec();
        huge.extend_from_slice(&[0xff; 11]);
        assert!(decode_times(&huge, 2, 0).is_err());
    }
}
