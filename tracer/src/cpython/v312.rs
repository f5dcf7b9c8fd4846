//! Facts about CPython 3.12 (and what 3.13 keeps of them) that DWARF does
//! not carry; everything else is as in [`super::v311`].

/// `PyLongObject.long_value.lv_tag`: the sign in the low 2 bits (0
/// positive, 1 zero, 2 negative), the digit count from bit 3 on.
pub const LONG_SIGN_MASK: u64 = 3;
pub const LONG_SIGN_NEGATIVE: u64 = 2;
pub const LONG_NON_SIZE_BITS: u32 = 3;

/// Sign and digit count of an int from its `lv_tag`.
pub fn long_tag(tag: u64) -> (bool, u64) {
    (
        tag & LONG_SIGN_MASK == LONG_SIGN_NEGATIVE,
        tag >> LONG_NON_SIZE_BITS,
    )
}

/// `FRAME_OWNED_BY_CSTACK`: a shim frame of the C stack, never a Python
/// frame (`PyFrame_GetBack` and tracebacks skip it).
pub const FRAME_OWNED_BY_CSTACK: u8 = 3;

/// `CO_FAST_HIDDEN`: a local of an inlined comprehension (PEP 709), hidden
/// from `f_locals` while it is unbound.
pub const CO_FAST_HIDDEN: u8 = 0x10;

/// Opcode `COPY_FREE_VARS` in 3.12.
pub const OP_COPY_FREE_VARS: u8 = 149;

/// `_PyObject_DictOrValuesPointer`: 3 words before the object, a dict
/// pointer, or the inline values pointer minus 1 (so its low bit is set).
pub const DICT_OR_VALUES_WORDS_BEFORE: u64 = 3;
