//! Dict keys of CPython 3.11+: a `PyDictKeysObject` with log2 sizes and a
//! kind (`dk_kind`: general entries of hash, key and value, unicode entries
//! of key and value, or split keys whose values live apart), and the
//! iteration of a combined table over its entries.

use super::{DictItems, CHUNK, MAX_ENTRIES};
use crate::addr::RemoteAddr;
use crate::cpython::objects::read::{i64_at, ptr_at, u8_at};
use crate::cpython::version::DictKinds;
use crate::cpython::Python;
use crate::memory::Memory;

/// The header of one keys object.
pub(super) struct Keys {
    pub kind: u8,
    pub nentries: usize,
    /// The first entry (after the index slots).
    pub entries: RemoteAddr,
}

/// The keys object at `keys`.
pub(super) fn read_keys(
    mem: &dyn Memory,
    py: &Python,
    kinds: &DictKinds,
    keys: RemoteAddr,
) -> Result<Keys, String> {
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
    if log2_size > 26 || log2_index_bytes > log2_size + 3 || kind > kinds.split {
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

/// Items of a combined table (keys and values in the entries).
pub(super) fn combined_items(
    mem: &dyn Memory,
    py: &Python,
    kinds: &DictKinds,
    k: &Keys,
    limit: usize,
) -> Result<DictItems, String> {
    let o = &py.layout.objects;
    if k.kind == kinds.split {
        return Err("split keys without values".into());
    }
    let (esz, koff, voff) = if k.kind == kinds.general {
        (o.dict_key_entry_size, o.dict_entry_key, o.dict_entry_value)
    } else {
        let (Some(esz), Some(koff), Some(voff)) = (
            o.dict_unicode_entry_size,
            o.dict_uentry_key,
            o.dict_uentry_value,
        ) else {
            return Err("no PyDictUnicodeEntry in the layout".into());
        };
        (esz, koff, voff)
    };
    let esz = esz as usize;
    if esz == 0 || esz > 64 || voff as usize + 8 > esz {
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
            let key = ptr_at(e, koff).unwrap_or_default();
            let val = ptr_at(e, voff).unwrap_or_default();
            if !out.push(key, val, limit) {
                return Ok(out);
            }
        }
        i += n;
    }
    Ok(out)
}
