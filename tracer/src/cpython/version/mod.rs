//! The version model: what CPython 3.8-3.13 differ in that DWARF does not
//! say. Struct offsets come from the DWARF layout table (`symbols::Layout`,
//! where a field a version lacks is `None`); everything else a decoder must
//! know about the running version is one [`Facts`] value, resolved once per
//! interpreter next to the layout and carried by [`super::Python`] as
//! `py.facts`. Decoders ask it instead of comparing minor versions.
//!
//! This file defines the facts; one module per minor version gives their
//! values, each as the previous version's with what that version changed.

pub(crate) mod opcodes;
mod v310;
mod v311;
mod v312;
mod v313;
mod v38;
mod v39;

pub use opcodes::Opcodes;

use symbols::PythonVersion;

/// Minor versions of CPython 3 this build decodes and records.
pub const SUPPORTED_MINORS: &[u8] = &[8, 9, 10, 11, 12, 13];

/// Everything version-specific about one interpreter that its DWARF does
/// not carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// Type flags and member codes.
    pub types: TypeFacts,
    /// How an `int` keeps its digits and sign.
    pub ints: IntFacts,
    /// How a `str` says how wide its characters are.
    pub strs: StrFacts,
    /// Dict keys objects and split values.
    pub dicts: DictForm,
    /// Where an instance of a managed-dict class keeps its attributes.
    pub managed_dict: ManagedDict,
    /// Code objects: their reader, line table, flags, slot kinds, opcodes.
    pub code: CodeFacts,
    /// The frame model.
    pub frames: FrameFacts,
    /// The trace function's calls.
    pub tracing: TracingFacts,
}

impl Facts {
    /// The facts of CPython `version`; `None` outside [`SUPPORTED_MINORS`].
    pub fn for_version(version: PythonVersion) -> Option<Facts> {
        if version.major != 3 {
            return None;
        }
        Some(match version.minor {
            8 => v38::facts(),
            9 => v39::facts(),
            10 => v310::facts(),
            11 => v311::facts(),
            12 => v312::facts(),
            13 => v313::facts(),
            _ => return None,
        })
    }
}

/// Type object flags (`tp_flags` bits) and `PyMemberDef` type codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeFacts {
    /// `Py_TPFLAGS_HEAPTYPE`: a class created at run time (a `class`
    /// statement).
    pub heap_type: u64,
    /// `Py_TPFLAGS_BASE_EXC_SUBCLASS`: the type derives from `BaseException`.
    pub base_exc_subclass: u64,
    /// `Py_TPFLAGS_TYPE_SUBCLASS`: instances are classes.
    pub type_subclass: u64,
    /// `Py_TPFLAGS_MANAGED_DICT` (3.11+): the instance dict (or its values)
    /// is not at `tp_dictoffset` but where [`ManagedDict`] says.
    pub managed_dict: Option<u64>,
    /// `Py_TPFLAGS_INLINE_VALUES` (3.13+): the instance's values follow the
    /// object, at `tp_basicsize`.
    pub inline_values: Option<u64>,
    /// `T_OBJECT_EX`: a `__slots__` member holding an object (unset = NULL).
    pub t_object_ex: i32,
}

impl TypeFacts {
    /// Whether a type with `flags` keeps its instances' dicts managed.
    pub fn has_managed_dict(&self, flags: u64) -> bool {
        self.managed_dict.is_some_and(|f| flags & f != 0)
    }

    /// Whether a type with `flags` keeps its instances' values inline.
    pub fn has_inline_values(&self, flags: u64) -> bool {
        self.inline_values.is_some_and(|f| flags & f != 0)
    }
}

/// How an `int` (`PyLongObject`) keeps its digits and sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntFacts {
    /// `PyLong_SHIFT`: value bits per digit (each digit a `uint32_t`).
    pub digit_bits: u32,
    /// Where the sign and the digit count are.
    pub sign: IntSign,
}

/// Where an `int` keeps its sign and digit count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntSign {
    /// 3.8-3.11: `ob_size` is the digit count, negated for a negative int.
    SignedSize,
    /// 3.12+: both packed in `long_value.lv_tag`.
    Tag(LvTag),
}

/// The packing of `long_value.lv_tag` (3.12+).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LvTag {
    /// `SIGN_MASK`: the sign bits (0 positive, 1 zero, 2 negative).
    pub sign_mask: u64,
    /// `SIGN_NEGATIVE`: the sign bits of a negative int.
    pub negative: u64,
    /// `NON_SIZE_BITS`: the digit count starts at this bit.
    pub size_shift: u32,
}

impl LvTag {
    /// Sign (true: negative) and digit count of an int from its `lv_tag`.
    pub fn split(&self, tag: u64) -> (bool, u64) {
        (
            tag & self.sign_mask == self.negative,
            tag >> self.size_shift,
        )
    }
}

/// How a `str` (`PyASCIIObject.state`) says how wide its characters are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrFacts {
    /// Width of the `state.kind` bitfield.
    pub kind_bits: u32,
    /// `PyUnicode_1BYTE_KIND`, `PyUnicode_2BYTE_KIND`, `PyUnicode_4BYTE_KIND`:
    /// the kinds of a ready string, with 1, 2 and 4 bytes per character.
    pub kinds: [u32; 3],
}

impl StrFacts {
    /// Bytes per character of a string of `kind`; `None` for any other
    /// kind (3.8-3.11's `PyUnicode_WCHAR_KIND`: a string not ready).
    pub fn char_width(&self, kind: u32) -> Option<usize> {
        let i = self.kinds.iter().position(|&k| k == kind)?;
        Some([1, 2, 4][i])
    }
}

/// The dict keys objects of a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DictForm {
    /// 3.8-3.10: `dk_size` slots with index bytes sized by it, one entry kind
    /// (`PyDictKeyEntry`), and a split table's `ma_values[i]` paired with
    /// entry `i`.
    Sized,
    /// 3.11+: log2 sizes, a kind per keys object, and split values with an
    /// insertion order of their own.
    Kinded(DictKinds),
}

/// `dk_kind` values and the split values' order (3.11+).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DictKinds {
    /// `DICT_KEYS_GENERAL`: entries are `PyDictKeyEntry` (hash, key, value).
    pub general: u8,
    /// `DICT_KEYS_UNICODE`: entries are `PyDictUnicodeEntry` (key, value).
    pub unicode: u8,
    /// `DICT_KEYS_SPLIT`: keys shared, values in `ma_values`; the largest kind.
    pub split: u8,
    /// Where split values keep their insertion order.
    pub order: ValuesOrder,
}

/// Where the values of a split table keep their insertion order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValuesOrder {
    /// 3.11-3.12: in the bytes before the values: the last one is the
    /// prefix's size, the one before it the count, then the order backwards.
    Prefix,
    /// 3.13: in a `PyDictValues` (a header of capacity, size and valid, then
    /// `values[capacity]`, then `size` order bytes).
    Header,
}

/// Where an instance of a type with [`TypeFacts::managed_dict`] keeps its
/// attributes: words before the object header, or after the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManagedDict {
    /// 3.8-3.10: no managed dicts (instance dicts are at `tp_dictoffset`).
    Absent,
    /// 3.11: a values pointer `values_before` words before the object, or,
    /// when it is NULL, the dict pointer `dict_before` words before.
    ValuesOrDict {
        values_before: u64,
        dict_before: u64,
    },
    /// 3.12: one word `before` words before the object
    /// (`_PyObject_DictOrValuesPointer`): a dict pointer, or the values
    /// pointer minus 1 (its low bit set).
    Tagged { before: u64 },
    /// 3.13: the dict pointer `dict_before` words before the object
    /// (`_PyObject_ManagedDictPointer`); without a dict, a type with
    /// [`TypeFacts::inline_values`] keeps the values after the object.
    DictOrInline { dict_before: u64 },
}

/// Code objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeFacts {
    /// How a code object names its slots (which reader reads it).
    pub slots: CodeSlots,
    /// The line table's encoding.
    pub lines: LineTable,
    /// `CO_OPTIMIZED`: a function body using fast locals.
    pub optimized: u32,
    /// The kind bits of the slots.
    pub kinds: SlotKinds,
    /// The opcode `COPY_FREE_VARS` (3.11+: a closure's first instruction,
    /// which moves the closure's cells into the frame).
    pub copy_free_vars: Option<u8>,
    /// The instructions that are steps of `--granularity opcode`.
    pub opcodes: &'static Opcodes,
}

/// How a code object names the slots of a frame's locals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeSlots {
    /// 3.8-3.10: `co_varnames[:co_nlocals] + co_cellvars + co_freevars`.
    NameTuples,
    /// 3.11+: `co_localsplusnames` with a kind per slot in
    /// `co_localspluskinds`; the instructions inline in the code object.
    LocalsPlus,
}

/// The encoding of a code object's line table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineTable {
    /// 3.8-3.9: `co_lnotab`, (byte offset, line) increments.
    Lnotab,
    /// 3.10: the PEP 626 `co_linetable`, (byte length, line delta) pairs.
    Lines,
    /// 3.11+: the PEP 657 `co_linetable`, lines and columns.
    Locations,
}

/// The kind bits of a frame's slots (`co_localspluskinds`, 3.11+). The
/// 3.8-3.10 reader gives the slots it makes from the name tuples the same
/// bits, so every version's slots are told apart alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotKinds {
    /// `CO_FAST_LOCAL`: a plain local.
    pub local: u8,
    /// `CO_FAST_CELL`: a cell of the frame, holding a local.
    pub cell: u8,
    /// `CO_FAST_FREE`: a free variable, a cell of the closure.
    pub free: u8,
    /// `CO_FAST_HIDDEN` (3.12+): a local of an inlined comprehension
    /// (PEP 709), hidden from `f_locals` while it is unbound.
    pub hidden: Option<u8>,
}

/// The frame model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameFacts {
    /// What the frame object passed to the trace function is.
    pub model: FrameModel,
    /// 3.8-3.9: `f_lasti` counts bytes, not code units.
    pub lasti_in_bytes: bool,
    /// `FRAME_OWNED_BY_GENERATOR` (3.11+, `_PyInterpreterFrame.owner`): a
    /// generator's frame, never incomplete.
    pub owned_by_generator: Option<u8>,
    /// `FRAME_OWNED_BY_CSTACK` (3.12+): a shim frame of the C stack, never
    /// a Python frame (`PyFrame_GetBack` and tracebacks skip it).
    pub owned_by_cstack: Option<u8>,
    /// 3.13+ (PEP 667): while an inlined comprehension's hidden locals are
    /// bound, a class body's `f_locals` is a proxy of its fast locals only.
    pub hidden_locals_proxy: bool,
}

/// What the frame object passed to the trace function is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameModel {
    /// 3.8-3.10: the `PyFrameObject` is the frame (code, locals, stack).
    FrameObject,
    /// 3.11+: the frame object points at a `_PyInterpreterFrame`.
    InterpreterFrame,
}

/// The trace function's calls, and how tracing is switched on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracingFacts {
    /// `PyTrace_CALL`: the `what` of a call event.
    pub call: i32,
    /// `PyTrace_EXCEPTION`.
    pub exception: i32,
    /// `PyTrace_LINE`.
    pub line: i32,
    /// `PyTrace_RETURN`.
    pub return_: i32,
    /// 3.12+: `sys.settrace` is built on `sys.monitoring`
    /// (Python/legacy_tracing.c): setting `c_tracefunc` alone reports
    /// nothing, the code objects must be instrumented by `_PyEval_SetTrace`.
    pub on_monitoring: bool,
    /// The function every change of a thread's C trace function goes
    /// through (`sys.settrace`, `PyEval_SetTrace`, `threading`'s), and
    /// whether it takes the thread state first: 3.9+
    /// `_PyEval_SetTrace(tstate, func, arg)`, 3.8 `PyEval_SetTrace(func,
    /// arg)` (the caller's thread).
    pub set_trace: &'static str,
    pub set_trace_takes_tstate: bool,
    /// `PyTrace_OPCODE`: the `what` of an opcode event.
    pub opcode: i32,
    /// How a frame is made to report opcode events.
    pub opcode_trace: OpcodeTrace,
}

/// How a frame is made to report an opcode event before each instruction
/// (what setting `frame.f_trace_opcodes = True` does in the program).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpcodeTrace {
    /// 3.8-3.11: the frame's `f_trace_opcodes` alone.
    FrameFlag,
    /// 3.12: `f_trace_opcodes`, and the interpreter's `f_opcode_trace_set`
    /// set before `_PyEval_SetTrace` (which then switches instruction
    /// events on for every code object).
    InterpFlag,
    /// 3.13: `f_trace_opcodes`, and `_PyEval_SetOpcodeTrace(frame, 1)`
    /// called in the target for each code object (instruction events are
    /// switched on per code object).
    PerCodeCall,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_supported_minor_has_facts() {
        for &m in SUPPORTED_MINORS {
            assert!(Facts::for_version(PythonVersion::new(3, m, 0)).is_some());
        }
        for (major, minor) in [(3, 7), (3, 14), (2, 7)] {
            assert!(Facts::for_version(PythonVersion::new(major, minor, 0)).is_none());
        }
    }

    /// The minors the symbols crate reads are the ones decoded here.
    #[test]
    fn same_minors_as_symbols() {
        let theirs: Vec<u8> = symbols::version::SUPPORTED_MINORS.collect();
        assert_eq!(theirs, SUPPORTED_MINORS);
    }

    #[test]
    fn lv_tag_packs_sign_and_digits() {
        let f = Facts::for_version(PythonVersion::new(3, 12, 0)).unwrap();
        let IntSign::Tag(tag) = f.ints.sign else {
            panic!("3.12 ints have lv_tag")
        };
        // -5: one digit, negative; 0: no digits, sign 1 (zero).
        assert_eq!(tag.split((1 << 3) | 2), (true, 1));
        assert_eq!(tag.split(1), (false, 0));
        assert_eq!(tag.split(3 << 3), (false, 3));
    }

    #[test]
    fn str_kinds_are_widths() {
        let f = Facts::for_version(PythonVersion::new(3, 8, 0)).unwrap();
        assert_eq!(f.strs.char_width(1), Some(1));
        assert_eq!(f.strs.char_width(2), Some(2));
        assert_eq!(f.strs.char_width(4), Some(4));
        assert_eq!(f.strs.char_width(0), None);
        assert_eq!(f.strs.char_width(3), None);
    }
}
