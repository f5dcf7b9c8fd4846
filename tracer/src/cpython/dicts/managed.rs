//! Where an instance of a `Py_TPFLAGS_MANAGED_DICT` class keeps its
//! attributes, as the version's [`ManagedDict`] says: 3.11 a values pointer
//! or a dict pointer before the object; 3.12 one tagged word before it (low
//! bit set: the values pointer minus 1); 3.13 a dict pointer before it, or
//! the values inline after the object (`Py_TPFLAGS_INLINE_VALUES`), each
//! with its own `PyDictValues` header and insertion order (read by `split`).

use crate::addr::RemoteAddr;
use crate::cpython::version::ManagedDict;
use crate::cpython::Python;
use crate::memory::Memory;

/// Where the attributes of one managed-dict instance are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Managed {
    /// Values of a split table whose keys are the type's `ht_cached_keys`.
    Values(RemoteAddr),
    /// A materialised dict.
    Dict(RemoteAddr),
    /// No attributes.
    Nothing,
}

/// Where the instance at `obj` (of a type with `flags` and `basicsize`)
/// keeps its attributes.
pub(crate) fn managed_dict(
    mem: &dyn Memory,
    py: &Python,
    obj: RemoteAddr,
    flags: u64,
    basicsize: i64,
) -> Result<Managed, String> {
    let word = |n: u64| -> Result<RemoteAddr, String> {
        mem.read_ptr(RemoteAddr(obj.0.wrapping_sub(8 * n)))
            .map_err(|e| e.to_string())
    };
    let dict = |d: RemoteAddr| {
        if d.is_null() {
            Managed::Nothing
        } else {
            Managed::Dict(d)
        }
    };
    match py.facts.managed_dict {
        ManagedDict::Absent => Ok(Managed::Nothing),
        ManagedDict::ValuesOrDict {
            values_before,
            dict_before,
        } => {
            let values = word(values_before)?;
            if !values.is_null() {
                return Ok(Managed::Values(values));
            }
            Ok(dict(word(dict_before)?))
        }
        ManagedDict::Tagged { before } => {
            let p = word(before)?;
            if p.0 & 1 != 0 {
                // `_PyDictOrValues_SetValues` stores `values - 1`.
                Ok(Managed::Values(RemoteAddr(p.0.wrapping_add(1))))
            } else {
                Ok(dict(p))
            }
        }
        ManagedDict::DictOrInline { dict_before } => {
            let d = word(dict_before)?;
            if !d.is_null() || !py.facts.types.has_inline_values(flags) {
                return Ok(dict(d));
            }
            if !(16..=(1 << 24)).contains(&basicsize) {
                return Err(format!("implausible basic size {basicsize}"));
            }
            let values = RemoteAddr(obj.0.wrapping_add(basicsize as u64));
            let valid = py
                .layout
                .objects
                .dictvalues_valid
                .ok_or("no PyDictValues.valid")?;
            let mut b = [0u8; 1];
            mem.read(values.at(valid), &mut b)
                .map_err(|e| e.to_string())?;
            Ok(if b[0] != 0 {
                Managed::Values(values)
            } else {
                Managed::Nothing
            })
        }
    }
}
