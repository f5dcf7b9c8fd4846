//! Dicts of CPython 3.8-3.10: a `PyDictKeysObject` with `dk_size` and index
//! slots sized by it (1, 2, 4 or 8 bytes each), one entry kind
//! (`PyDictKeyEntry`: hash, key, value), and split tables whose
//! `ma_values[i]` pairs with the shared keys' entry `i`. Instance dicts are
//! only reached through `tp_dictoffset` in these versions.

use super::{DictItems, CHUNK, MAX_ENTRIES};
use crate::addr::RemoteAddr;
use crate::cpython::objects::read::i64_at;
use crate::cpython::Python;
use crate::memory::Memory;

/// `DK_IXSIZE`: bytes of one index slot for a table of `size` slots.
fn index_bytes(size: u64) -> u64 {
    if size <= 0xff {
        1
    } else if size <= 0xffff {
        2
    } else if size <= 0xffff_ffff {
        4
    } else {
        8
    }
}

fn ptr_in(e: &[u8], off: usize) -> RemoteAddr {
    e.get(off..off + 8)
        .and_then(|b| b.try_into().ok())
        .map(|b| RemoteAddr(u64::from_ne_bytes(b)))
        .unwrap_or_default()
}

/// Items of the 3.8-3.10 dict whose `ma_keys` is `keys` and `ma_values`
/// `values` (NULL for a combined table), in iteration order, cut at `limit`.
pub(super) fn items(
    mem: &dyn Memory,
    py: &Python,
    keys: RemoteAddr,
    values: RemoteAddr,
    limit: usize,
) -> Result<DictItems, String> {
    let o = &py.layout.objects;
    if keys.is_null() {
        return Err("dict without keys".into());
    }
    let hdr = mem
        .read_vec(keys, o.dictkeys_dk_indices as usize)
        .map_err(|e| e.to_string())?;
    let size = i64_at(&hdr, o.dictkeys_dk_size).ok_or("no dk_size")?;
    let nentries = i64_at(&hdr, o.dictkeys_dk_nentries).ok_or("no dk_nentries")?;
    if !(1..=MAX_ENTRIES).contains(&size) || size & (size - 1) != 0 {
        return Err(format!("implausible dict keys size {size}"));
    }
    if !(0..=size).contains(&nentries) {
        return Err(format!("implausible dict entry count {nentries}"));
    }
    let esz = o.dict_key_entry_size as usize;
    let (koff, voff) = (o.dict_entry_key as usize, o.dict_entry_value as usize);
    if !(voff + 8..=64).contains(&esz) {
        return Err(format!("implausible dict entry size {esz}"));
    }
    let entries = keys
        .at(o.dictkeys_dk_indices)
        .offset(size as u64 * index_bytes(size as u64))
        .ok_or("dict entries beyond the address space")?;
    let n = nentries as usize;
    // Split table: values live apart, slot i pairs with entry i.
    let vals = if values.is_null() {
        None
    } else {
        Some(mem.read_vec(values, n * 8).map_err(|e| e.to_string())?)
    };
    let mut out = DictItems::default();
    let mut i = 0usize;
    while i < n {
        let m = CHUNK.min(n - i);
        let at = entries
            .offset((i * esz) as u64)
            .ok_or("dict entries overflow")?;
        let chunk = mem.read_vec(at, m * esz).map_err(|e| e.to_string())?;
        for (j, e) in chunk.chunks_exact(esz).enumerate() {
            let key = ptr_in(e, koff);
            let val = match &vals {
                Some(v) => ptr_in(v, (i + j) * 8),
                None => ptr_in(e, voff),
            };
            if !out.push(key, val, limit) {
                return Ok(out);
            }
        }
        i += m;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::index_bytes;

    #[test]
    fn index_width_follows_dk_ixsize() {
        assert_eq!(index_bytes(8), 1);
        assert_eq!(index_bytes(256), 2);
        assert_eq!(index_bytes(1 << 16), 4);
        assert_eq!(index_bytes(1 << 33), 8);
    }
}
