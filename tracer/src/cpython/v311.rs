//! Facts about CPython 3.11 that DWARF does not carry: flag bits, digit size,
//! dict kinds, local kinds. Another minor version gets its own module with the
//! same items, chosen once in [`super::VersionFacts::for_version`].

/// `Py_TPFLAGS_MANAGED_DICT`: the instance dict (or its inline values) sits
/// before the object header.
pub const TPFLAGS_MANAGED_DICT: u64 = 1 << 4;
/// `Py_TPFLAGS_HEAPTYPE`: a class created at run time (by a `class` statement).
pub const TPFLAGS_HEAPTYPE: u64 = 1 << 9;
/// `Py_TPFLAGS_BASE_EXC_SUBCLASS`: the type derives from `BaseException`.
pub const TPFLAGS_BASE_EXC_SUBCLASS: u64 = 1 << 30;
/// `Py_TPFLAGS_TYPE_SUBCLASS`: instances are classes.
pub const TPFLAGS_TYPE_SUBCLASS: u64 = 1 << 31;

/// `PyLong_SHIFT`: bits per digit of an int.
pub const LONG_SHIFT: u32 = 30;

/// `DICT_KEYS_GENERAL`: entries are `PyDictKeyEntry` (hash, key, value).
pub const DICT_KEYS_GENERAL: u8 = 0;
/// `DICT_KEYS_UNICODE`: entries are `PyDictUnicodeEntry` (key, value).
pub const DICT_KEYS_UNICODE: u8 = 1;
/// `DICT_KEYS_SPLIT`: keys shared, values in `ma_values`.
pub const DICT_KEYS_SPLIT: u8 = 2;

/// `co_flags & CO_OPTIMIZED`: a function body using fast locals.
pub const CO_OPTIMIZED: u32 = 0x1;

/// `co_localspluskinds` bits.
pub const CO_FAST_LOCAL: u8 = 0x20;
pub const CO_FAST_CELL: u8 = 0x40;
pub const CO_FAST_FREE: u8 = 0x80;

/// `FRAME_OWNED_BY_GENERATOR` (`_PyInterpreterFrame.owner`).
pub const FRAME_OWNED_BY_GENERATOR: u8 = 1;

/// `T_OBJECT_EX`: a `__slots__` member holding an object (unset = NULL).
pub const T_OBJECT_EX: i32 = 16;

/// Words before the object header: inline values pointer (`obj - 4 words`)
/// and managed dict pointer (`obj - 3 words`) for `Py_TPFLAGS_MANAGED_DICT`.
pub const MANAGED_VALUES_WORDS_BEFORE: u64 = 4;
pub const MANAGED_DICT_WORDS_BEFORE: u64 = 3;

/// `sizeof(_Py_CODEUNIT)`.
pub const CODE_UNIT: u64 = 2;

/// `PyUnicode` kinds (`state.kind`).
pub const UNICODE_1BYTE: u8 = 1;
pub const UNICODE_2BYTE: u8 = 2;
pub const UNICODE_4BYTE: u8 = 4;
/// Width of `state.kind` in bits.
pub const UNICODE_KIND_BITS: u32 = 3;

/// Opcode `COPY_FREE_VARS` (never quickened): a closure's first instruction.
pub const OP_COPY_FREE_VARS: u8 = 149;

/// `PyFunctionObject.func_closure` (not in the DWARF layout table yet).
pub const FUNC_CLOSURE: u32 = 72;

/// `PyDictKeyEntry` (hash, key, value) and `PyDictUnicodeEntry` (key, value)
/// field offsets.
pub const DICT_ENTRY_KEY: usize = 8;
pub const DICT_ENTRY_VALUE: usize = 16;
pub const DICT_UENTRY_KEY: usize = 0;
pub const DICT_UENTRY_VALUE: usize = 8;

/// `sizeof(PyMemberDef)` and its fields, when the layout table lacks them.
pub const MEMBER_DEF_SIZE: u32 = 40;

/// `PyTrace_CALL` and `PyTrace_RETURN`: the `what` of a trace function call
/// (the same in every supported version).
pub const PY_TRACE_CALL: i32 = 0;
pub const PY_TRACE_RETURN: i32 = 3;
