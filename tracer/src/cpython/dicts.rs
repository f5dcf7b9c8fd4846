//! Dict iteration over target memory (3.11): combined tables (general and
//! unicode entries), split tables (shared keys + values with their insertion
//! order bytes) and the inline values of managed-dict instances.

use super::read::{i64_at, ptr_at, u8_at};
use super::v311;
use super::Python;
use crate::addr::RemoteAddr;
use crate::memory::Memory;

/// Key/value pairs in iteration order, cut at the item limit.
#[derive(Debug, Default)]
pub(crate) struct DictItems {
    pub items: Vec<(RemoteAddr, RemoteAddr)>,
    pub truncated: bool,
}

impl DictItems {
    /// Add one entry. Empty slots (a NULL key or value: deleted, or not set
    /// in a split table) are skipped. Returns false when `limit` items are
    /// already held: the entry is left out and the items are truncated.
    pub(crate) fn push(&mut self, key: RemoteAddr, val: RemoteAddr, limit: usize) -> bool {
        if key.is_null() || val.is_null() {
            return true;
        }
        if self.items.len() >= limit {
            self.truncated = true;
            return false;
        }
        self.items.push((key, val));
        true
    }
}

/// Bound on a table's entries (2**26: far beyond any dict that fits the
/// object budget, and keeps every read bounded).
const MAX_ENTRIES: i64 = 1 << 26;
/// Entries read per request.
const CHUNK: usize = 4096;

struct Keys {
    kind: u8,
    nentries: usize,
    entries: RemoteAddr,
}

fn read_keys(mem: &dyn Memory, py: &Python, keys: RemoteAddr) -> Result<Keys, String> {
    let o = &py.layout.objects;
    if keys.is_null() {
        return Err("dict without keys".into());
    }
    let hdr = mem
        .read_vec(keys, o.dictkeys_dk_indices as usize)
        .map_err(|e| e.to_string())?;
    let log2_size = u8_at(&hdr, o.dictkeys_dk_log2_size).ok_or("no dk_log2_size")?;
    let log2_index_bytes =
        u8_at(&hdr, o.dictkeys_dk_log2_index_bytes).ok_or("no dk_log2_index_bytes")?;
    let kind = u8_at(&hdr, o.dictkeys_dk_kind).ok_or("no dk_kind")?;
    let nentries = i64_at(&hdr, o.dictkeys_dk_nentries).ok_or("no dk_nentries")?;
    if log2_size > 26 || log2_index_bytes > log2_size + 3 || kind > v311::DICT_KEYS_SPLIT {
        return Err(format!(
            "implausible dict keys (log2 size {log2_size}, index bytes 2**{log2_index_bytes}, kind {kind})"
        ));
    }
    if !(0..=MAX_ENTRIES).contains(&nentries) || nentries > (1i64 << log2_size) {
        return Err(format!("implausible dict entry count {nentries}"));
    }
    let entries = keys
        .at(o.dictkeys_dk_indices)
        .offset(1u64 << log2_index_bytes)
        .ok_or("dict entries beyond the address space")?;
    Ok(Keys {
        kind,
        nentries: nentries as usize,
        entries,
    })
}

/// Items of the dict at `dict`.
pub(crate) fn dict_items(
    mem: &dyn Memory,
    py: &Python,
    dict: RemoteAddr,
    limit: usize,
) -> Result<DictItems, String> {
    let o = &py.layout.objects;
    if o.dictkeys_dk_size != symbols::NA {
        return super::dicts_legacy::dict_items(mem, py, dict, limit);
    }
    let end = [o.dict_ma_used, o.dict_ma_keys, o.dict_ma_values]
        .into_iter()
        .max()
        .unwrap_or(0) as usize
        + 8;
    let buf = mem.read_vec(dict, end).map_err(|e| e.to_string())?;
    let used = i64_at(&buf, o.dict_ma_used).ok_or("no ma_used")?;
    let keys = ptr_at(&buf, o.dict_ma_keys).ok_or("no ma_keys")?;
    let values = ptr_at(&buf, o.dict_ma_values).ok_or("no ma_values")?;
    if !(0..=MAX_ENTRIES).contains(&used) {
        return Err(format!("implausible dict size {used}"));
    }
    let k = read_keys(mem, py, keys)?;
    if !values.is_null() {
        return split_items(mem, py, &k, values, limit);
    }
    if k.kind == v311::DICT_KEYS_SPLIT {
        return Err("split keys without values".into());
    }
    let (esz, koff, voff) = if k.kind == v311::DICT_KEYS_GENERAL {
        (
            o.dict_key_entry_size as usize,
            v311::DICT_ENTRY_KEY,
            v311::DICT_ENTRY_VALUE,
        )
    } else {
        (
            o.dict_unicode_entry_size as usize,
            v311::DICT_UENTRY_KEY,
            v311::DICT_UENTRY_VALUE,
        )
    };
    if esz == 0 || esz > 64 || voff + 8 > esz {
        return Err(format!("implausible dict entry size {esz}"));
    }
    let mut out = DictItems::default();
    let mut i = 0usize;
    while i < k.nentries {
        let n = CHUNK.min(k.nentries - i);
        let at = k
            .entries
            .offset((i * esz) as u64)
            .ok_or("dict entries overflow")?;
        let chunk = mem.read_vec(at, n * esz).map_err(|e| e.to_string())?;
        for e in chunk.chunks_exact(esz) {
            let key = ptr_at(e, koff as u32).unwrap_or_default();
            let val = ptr_at(e, voff as u32).unwrap_or_default();
            if !out.push(key, val, limit) {
                return Ok(out);
            }
        }
        i += n;
    }
    Ok(out)
}

/// Items of a split table (`keys` shared, `values` with insertion order).
fn split_items(
    mem: &dyn Memory,
    py: &Python,
    k: &Keys,
    values: RemoteAddr,
    limit: usize,
) -> Result<DictItems, String> {
    let o = &py.layout.objects;
    if k.kind != v311::DICT_KEYS_SPLIT && k.kind != v311::DICT_KEYS_UNICODE {
        return Err(format!("values with keys of kind {}", k.kind));
    }
    if o.dictvalues_values != symbols::NA {
        // 3.13: a PyDictValues header, the order after the values.
        return super::managed::split_items_313(mem, py, k.entries, k.nentries, values, limit);
    }
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
    let esz = o.dict_unicode_entry_size as usize;
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
        let ko = v311::DICT_UENTRY_KEY;
        let key = ptr_at(e, ko as u32).unwrap_or_default();
        let val = ptr_at(&vals, (ix * 8) as u32).unwrap_or_default();
        if !out.push(key, val, limit) {
            break;
        }
    }
    Ok(out)
}

/// Items of an instance's inline values (`Py_TPFLAGS_MANAGED_DICT` without
/// a materialised dict): `keys` is the type's `ht_cached_keys`.
pub(crate) fn values_items(
    mem: &dyn Memory,
    py: &Python,
    keys: RemoteAddr,
    values: RemoteAddr,
    limit: usize,
) -> Result<DictItems, String> {
    let k = read_keys(mem, py, keys)?;
    split_items(mem, py, &k, values, limit)
}
