//! Split tables of CPython 3.11+: keys shared (a type's cached keys, whose
//! entries are unicode entries), values apart with their own insertion
//! order. 3.11-3.12 keep that order in a byte prefix before the values;
//! 3.13 in a `PyDictValues` header and the bytes after `values[capacity]`.

use super::dk_kind::Keys;
use super::DictItems;
use crate::addr::RemoteAddr;
use crate::cpython::objects::read::{ptr_at, u8_at};
use crate::cpython::version::{DictKinds, ValuesOrder};
use crate::cpython::Python;
use crate::memory::Memory;

/// Items of a split table (`k` shared, `values` with insertion order).
pub(super) fn items(
    mem: &dyn Memory,
    py: &Python,
    kinds: &DictKinds,
    k: &Keys,
    values: RemoteAddr,
    limit: usize,
) -> Result<DictItems, String> {
    if k.kind != kinds.split && k.kind != kinds.unicode {
        return Err(format!("values with keys of kind {}", k.kind));
    }
    match kinds.order {
        ValuesOrder::Header => header_items(mem, py, k, values, limit),
        ValuesOrder::Prefix => prefix_items(mem, py, k, values, limit),
    }
}

/// 3.11-3.12: the insertion order in the bytes before `values` (the last
/// one the prefix's size, the one before it the count).
fn prefix_items(
    mem: &dyn Memory,
    py: &Python,
    k: &Keys,
    values: RemoteAddr,
    limit: usize,
) -> Result<DictItems, String> {
    let o = &py.layout.objects;
    let before = |n: u64| RemoteAddr(values.0.wrapping_sub(n));
    let prefix = mem.read_vec(before(1), 1).map_err(|e| e.to_string())?[0] as usize;
    if !(2..=256).contains(&prefix) {
        return Err(format!("implausible values prefix size {prefix}"));
    }
    let pre = mem
        .read_vec(before(prefix as u64), prefix)
        .map_err(|e| e.to_string())?;
    let count = pre[prefix - 2] as usize;
    if count + 2 > prefix {
        return Err(format!(
            "values order of {count} entries in a {prefix}-byte prefix"
        ));
    }
    let esz = o.dict_unicode_entry_size.unwrap_or(0) as usize;
    if !(16..=64).contains(&esz) {
        return Err(format!("implausible dict entry size {esz}"));
    }
    let n = k.nentries;
    let entries = mem
        .read_vec(k.entries, n * esz)
        .map_err(|e| e.to_string())?;
    let vals = mem.read_vec(values, n * 8).map_err(|e| e.to_string())?;
    let mut out = DictItems::default();
    for i in 0..count {
        let ix = pre[prefix - 3 - i] as usize;
        if ix >= n {
            return Err(format!("values order index {ix} beyond {n} keys"));
        }
        let e = &entries[ix * esz..(ix + 1) * esz];
        let key = ptr_at(e, o.dict_uentry_key).unwrap_or_default();
        let val = ptr_at(&vals, (ix * 8) as u32).unwrap_or_default();
        if !out.push(key, val, limit) {
            break;
        }
    }
    Ok(out)
}

/// 3.13: items of the split values at `values` (a `PyDictValues`: header,
/// `values[capacity]`, then `size` insertion-order bytes) over the
/// `nentries` unicode entries at `entries` of their shared keys.
fn header_items(
    mem: &dyn Memory,
    py: &Python,
    k: &Keys,
    values: RemoteAddr,
    limit: usize,
) -> Result<DictItems, String> {
    let o = &py.layout.objects;
    let (entries, nentries) = (k.entries, k.nentries);
    let values_at = o.dictvalues_values.ok_or("no PyDictValues.values")?;
    let hdr_len = values_at as usize;
    if !(4..=64).contains(&hdr_len) {
        return Err(format!(
            "implausible PyDictValues header of {hdr_len} bytes"
        ));
    }
    let hdr = mem.read_vec(values, hdr_len).map_err(|e| e.to_string())?;
    let capacity = u8_at(&hdr, o.dictvalues_capacity).ok_or("no capacity")? as usize;
    let size = u8_at(&hdr, o.dictvalues_size).ok_or("no size")? as usize;
    if size > capacity {
        return Err(format!("values of {size} entries in {capacity} slots"));
    }
    let esz = o.dict_unicode_entry_size.unwrap_or(0) as usize;
    if !(16..=64).contains(&esz) {
        return Err(format!("implausible dict entry size {esz}"));
    }
    // The values, then the order bytes right after them: one read.
    let body = mem
        .read_vec(values.at(values_at), capacity * 8 + size)
        .map_err(|e| e.to_string())?;
    let n = nentries.min(capacity);
    let keys = mem.read_vec(entries, n * esz).map_err(|e| e.to_string())?;
    let mut out = DictItems::default();
    for &ix in &body[capacity * 8..capacity * 8 + size] {
        let ix = ix as usize;
        if ix >= n {
            return Err(format!("values order index {ix} beyond {n} keys"));
        }
        let key = ptr_at(&keys[ix * esz..], o.dict_uentry_key).unwrap_or_default();
        let val = ptr_at(&body, (ix * 8) as u32).unwrap_or_default();
        if !out.push(key, val, limit) {
            break;
        }
    }
    Ok(out)
}
