//! Facts about CPython 3.13 that DWARF does not carry; everything else is
//! as in [`super::v312`] and [`super::v311`].

/// `Py_TPFLAGS_INLINE_VALUES`: the instance's values follow the object,
/// at `tp_basicsize` (`_PyObject_InlineValues`).
pub const TPFLAGS_INLINE_VALUES: u64 = 1 << 2;

/// `_PyObject_ManagedDictPointer`: the dict pointer 3 words before the
/// object (no tagged values any more).
pub const MANAGED_DICT_WORDS_BEFORE: u64 = 3;

/// Opcode `COPY_FREE_VARS` in 3.13.
pub const OP_COPY_FREE_VARS: u8 = 62;

/// `_PyFrame_HasHiddenLocals`: whether any `CO_FAST_HIDDEN` slot of the
/// `localsplus` array at `localsplus` (kinds `kinds`) is bound.
pub(crate) fn hidden_locals_bound(
    mem: &dyn crate::memory::Memory,
    localsplus: crate::addr::RemoteAddr,
    kinds: &[u8],
) -> Result<bool, crate::memory::MemError> {
    let hidden = super::v312::CO_FAST_HIDDEN;
    if !kinds.iter().any(|k| k & hidden != 0) {
        return Ok(false);
    }
    let raw = mem.read_vec(localsplus, kinds.len() * 8)?;
    Ok(raw
        .chunks_exact(8)
        .zip(kinds)
        .any(|(w, k)| k & hidden != 0 && w.iter().any(|&b| b != 0)))
}
