//! Readers of the small immutable objects everything else is built from:
//! `str` (as code points and as cached names), `bytes`, `tuple` item
//! pointers and `int` digits, each bounded by a limit.

use std::sync::Arc;

use super::read::{chars_to_string, i64_at, ptr_at, read_upto, u32_at, u64_at};
use super::text;
use crate::addr::RemoteAddr;
use crate::cpython::version::IntSign;
use crate::cpython::{Caches, Python};
use crate::memory::Memory;

/// A cached `str` read as a name (interned names live long).
pub(crate) struct CachedName {
    fingerprint: [u64; 3],
    text: Arc<str>,
}

/// Bound on a name's length (identifiers, file names).
const MAX_NAME: usize = 1 << 16;

/// Code points of the `str` at `addr`, at most `limit` of them; also says
/// whether the string is longer, and its hash/state fingerprint.
pub(crate) fn str_chars(
    mem: &dyn Memory,
    py: &Python,
    addr: RemoteAddr,
    limit: usize,
) -> Result<(Vec<u32>, bool, [u64; 3]), String> {
    let o = &py.layout.objects;
    let hdr_len = o.compact_unicode_size as usize + 8;
    // Read header plus some inline data in one request when possible.
    let first = read_upto(mem, addr, hdr_len + 64, hdr_len).map_err(|e| e.to_string())?;
    let ty = ptr_at(&first, py.layout.object.ob_type).unwrap_or_default();
    if ty != py.types.str_ {
        return Err(format!("not a str (type {ty})"));
    }
    let len = i64_at(&first, o.unicode_length).ok_or("no length")?;
    let hash = u64_at(&first, o.unicode_hash).unwrap_or(0);
    let state = u32_at(&first, o.unicode_state).ok_or("no state")?;
    let bit = |b: u32, w: u32| (state >> b) & ((1 << w) - 1);
    let kind = bit(o.unicode_state_kind_bit, py.facts.strs.kind_bits);
    let compact = bit(o.unicode_state_compact_bit, 1) == 1;
    let ascii = bit(o.unicode_state_ascii_bit, 1) == 1;
    if !(0..=(1i64 << 40)).contains(&len) {
        return Err(format!("implausible str length {len}"));
    }
    let Some(width) = py.facts.strs.char_width(kind) else {
        return Err(format!("str of kind {kind} (not ready)"));
    };
    let fp = [len as u64, hash, state as u64];
    let n = (len as usize).min(limit);
    let (data_off, data) = if compact && ascii {
        (o.ascii_size as usize, None)
    } else if compact {
        (o.compact_unicode_size as usize, None)
    } else {
        let p = ptr_at(&first, o.compact_unicode_size).ok_or("no data pointer")?;
        (0, Some(p))
    };
    let nbytes = n * width;
    let raw = match data {
        None if data_off + nbytes <= first.len() => first[data_off..data_off + nbytes].to_vec(),
        None => mem
            .read_vec(addr.at(data_off as u32), nbytes)
            .map_err(|e| e.to_string())?,
        Some(p) => mem.read_vec(p, nbytes).map_err(|e| e.to_string())?,
    };
    let chars = match width {
        1 => raw.iter().map(|&b| b as u32).collect(),
        2 => raw
            .chunks_exact(2)
            .map(|c| u16::from_ne_bytes([c[0], c[1]]) as u32)
            .collect(),
        _ => raw
            .chunks_exact(4)
            .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    };
    Ok((chars, (len as usize) > n, fp))
}

/// The `str` at `addr` as Rust text (names, keys), cached.
pub(crate) fn read_name(
    mem: &dyn Memory,
    py: &Python,
    caches: &mut Caches,
    addr: RemoteAddr,
) -> Result<Arc<str>, String> {
    if addr.is_null() {
        return Err("NULL name".into());
    }
    let (chars, _, fp) = str_chars(mem, py, addr, MAX_NAME)?;
    if let Some(c) = caches.names.get(&addr) {
        if c.fingerprint == fp && fp[1] != u64::MAX {
            return Ok(c.text.clone());
        }
    }
    let text = chars_to_string(&chars);
    if caches.names.len() > 200_000 {
        caches.names.clear();
    }
    caches.names.insert(
        addr,
        CachedName {
            fingerprint: fp,
            text: text.clone(),
        },
    );
    Ok(text)
}

/// Item pointers of the tuple at `addr` (at most `limit`).
pub(crate) fn tuple_items(
    mem: &dyn Memory,
    py: &Python,
    addr: RemoteAddr,
    limit: usize,
) -> Result<Vec<RemoteAddr>, String> {
    let (items, _) = tuple_items_trunc(mem, py, addr, limit)?;
    Ok(items)
}

pub(crate) fn tuple_items_trunc(
    mem: &dyn Memory,
    py: &Python,
    addr: RemoteAddr,
    limit: usize,
) -> Result<(Vec<RemoteAddr>, bool), String> {
    let hdr = mem
        .read_vec(addr, py.layout.objects.tuple_ob_item as usize)
        .map_err(|e| e.to_string())?;
    let ty = ptr_at(&hdr, py.layout.object.ob_type).unwrap_or_default();
    if ty != py.types.tuple {
        return Err(format!("not a tuple (type {ty})"));
    }
    let size = i64_at(&hdr, py.layout.object.ob_size).ok_or("no size")?;
    if !(0..=(1i64 << 32)).contains(&size) {
        return Err(format!("implausible tuple size {size}"));
    }
    let n = (size as usize).min(limit);
    let items = read_ptrs(mem, addr.at(py.layout.objects.tuple_ob_item), n)?;
    Ok((items, size as usize > n))
}

pub(crate) fn read_ptrs(
    mem: &dyn Memory,
    at: RemoteAddr,
    n: usize,
) -> Result<Vec<RemoteAddr>, String> {
    if n > crate::memory::MAX_READ / 8 {
        return Err(format!("refused to read {n} pointers at {at}"));
    }
    // In page-sized pieces through a stack buffer: no zeroed heap buffer
    // besides the result (a list's item array is read at every step).
    let mut out = Vec::with_capacity(n);
    let mut buf = [0u8; 4096];
    let mut done = 0usize;
    while done < n {
        let k = (n - done).min(buf.len() / 8);
        let piece = &mut buf[..k * 8];
        mem.read(RemoteAddr(at.0.wrapping_add(done as u64 * 8)), piece)
            .map_err(|e| e.to_string())?;
        out.extend(
            piece
                .chunks_exact(8)
                .map(|c| RemoteAddr(u64::from_ne_bytes(c.try_into().unwrap_or_default()))),
        );
        done += k;
    }
    Ok(out)
}

/// Contents of the `bytes` object at `addr` (at most `limit` bytes) and
/// whether it is longer.
pub(crate) fn bytes_data(
    mem: &dyn Memory,
    py: &Python,
    addr: RemoteAddr,
    limit: usize,
) -> Result<(Vec<u8>, bool), String> {
    let o = &py.layout.objects;
    let hdr = mem
        .read_vec(addr, o.bytes_ob_sval as usize)
        .map_err(|e| e.to_string())?;
    let ty = ptr_at(&hdr, py.layout.object.ob_type).unwrap_or_default();
    if ty != py.types.bytes {
        return Err(format!("not a bytes object (type {ty})"));
    }
    let size = i64_at(&hdr, py.layout.object.ob_size).ok_or("no size")?;
    if !(0..=(1i64 << 40)).contains(&size) {
        return Err(format!("implausible bytes size {size}"));
    }
    let n = (size as usize).min(limit);
    let data = mem
        .read_vec(addr.at(o.bytes_ob_sval), n)
        .map_err(|e| e.to_string())?;
    Ok((data, size as usize > n))
}

/// Decimal repr of the int at `addr` (a `PyLongObject`, or a `bool`).
pub(crate) fn int_text(
    mem: &dyn Memory,
    py: &Python,
    addr: RemoteAddr,
) -> Result<(String, bool), String> {
    let o = &py.layout.objects;
    let hdr = mem
        .read_vec(addr, o.long_digit as usize)
        .map_err(|e| e.to_string())?;
    let (negative, n) = int_sign(py, &hdr)?;
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    let shift = py.facts.ints.digit_bits;
    if n > text::MAX_INT_DIGITS {
        return Ok((
            format!("<int of {} bits>", (n as u64).saturating_mul(shift.into())),
            true,
        ));
    }
    let raw = mem
        .read_vec(addr.at(o.long_digit), n * 4)
        .map_err(|e| e.to_string())?;
    let digits: Vec<u32> = raw
        .chunks_exact(4)
        .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    if digits.iter().any(|&d| d >= 1 << shift) {
        return Err("int digit out of range".into());
    }
    Ok((text::int_repr(negative, &digits, shift), false))
}

/// Sign (true: negative) and digit count of the int whose header (up to its
/// digits) is `hdr`.
pub(crate) fn int_sign(py: &Python, hdr: &[u8]) -> Result<(bool, u64), &'static str> {
    match &py.facts.ints.sign {
        IntSign::SignedSize => {
            let size = i64_at(hdr, py.layout.object.ob_size).ok_or("no size")?;
            Ok((size < 0, size.unsigned_abs()))
        }
        IntSign::Tag(tag) => {
            let t = u64_at(hdr, py.layout.objects.long_lv_tag).ok_or("no lv_tag")?;
            Ok(tag.split(t))
        }
    }
}
