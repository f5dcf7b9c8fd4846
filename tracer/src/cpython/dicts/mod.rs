//! Dicts in the target's memory, iterated in CPython's order: the
//! `PyDictObject` header here, then by the version's keys object:
//! `dk_size` tables of 3.8-3.10 (`dk_size`), kinded keys of 3.11+ with
//! combined entries (`dk_kind`) or split values (`split`); and where an
//! instance of a managed-dict class keeps its attributes (`managed`).

mod dk_kind;
mod dk_size;
mod managed;
mod split;

pub(crate) use managed::{managed_dict, Managed};

use super::objects::read::{i64_at, ptr_at};
use super::version::DictForm;
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

/// Bound on a table's slots and entries (2**26: far beyond any dict that
/// fits the object budget, and keeps every read bounded).
const MAX_ENTRIES: i64 = 1 << 26;
/// Entries read per request.
const CHUNK: usize = 4096;

/// Items of the dict at `dict`, in iteration order, cut at `limit`.
pub(crate) fn dict_items(
    mem: &dyn Memory,
    py: &Python,
    dict: RemoteAddr,
    limit: usize,
) -> Result<DictItems, String> {
    let o = &py.layout.objects;
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
    let DictForm::Kinded(kinds) = &py.facts.dicts else {
        return dk_size::items(mem, py, keys, values, limit);
    };
    let k = dk_kind::read_keys(mem, py, kinds, keys)?;
    if !values.is_null() {
        return split::items(mem, py, kinds, &k, values, limit);
    }
    dk_kind::combined_items(mem, py, kinds, &k, limit)
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
    let DictForm::Kinded(kinds) = &py.facts.dicts else {
        return Err("inline values without dict keys kinds (before 3.11)".into());
    };
    let k = dk_kind::read_keys(mem, py, kinds, keys)?;
    split::items(mem, py, kinds, &k, values, limit)
}
