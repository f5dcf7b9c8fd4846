//! The typed table of CPython struct field offsets, resolved once from DWARF.
//!
//! Field names are CPython's own. Every field is a byte offset from the start of
//! its struct. A field that exists in every supported version is a `u32`; one
//! that some versions lack is an `Option<u32>`, `None` in those versions. The
//! resolver (`resolve`) fills every field that applies to the version and
//! reports every applicable field it could not find in one error. Nothing
//! here is looked up by string after resolution.

use crate::version::PythonVersion;

/// `PyObject` / `PyVarObject`.
#[derive(Debug, Clone, Default)]
pub struct PyObjectLayout {
    /// The offset of `PyObject.ob_refcnt`.
    pub ob_refcnt: u32,
    /// The offset of `PyObject.ob_type`.
    pub ob_type: u32,
    /// `PyVarObject.ob_size`.
    pub ob_size: u32,
}

/// `PyTypeObject` and `PyHeapTypeObject`.
#[derive(Debug, Clone, Default)]
pub struct PyTypeLayout {
    /// The offset of `PyTypeObject.tp_name`.
    pub tp_name: u32,
    /// The offset of `PyTypeObject.tp_basicsize`.
    pub tp_basicsize: u32,
    /// The offset of `PyTypeObject.tp_itemsize`.
    pub tp_itemsize: u32,
    /// The offset of `PyTypeObject.tp_flags`.
    pub tp_flags: u32,
    /// The offset of `PyTypeObject.tp_dictoffset`.
    pub tp_dictoffset: u32,
    /// The offset of `PyTypeObject.tp_dict`.
    pub tp_dict: u32,
    /// The offset of `PyTypeObject.tp_mro`.
    pub tp_mro: u32,
    /// The offset of `PyTypeObject.tp_members`.
    pub tp_members: u32,
    /// The offset of `PyTypeObject.tp_base`.
    pub tp_base: u32,
    /// `PyHeapTypeObject.ht_name`.
    pub ht_name: u32,
    /// `PyHeapTypeObject.ht_qualname`.
    pub ht_qualname: u32,
    /// `PyHeapTypeObject.ht_cached_keys` (3.11+).
    pub ht_cached_keys: Option<u32>,
    /// `sizeof(PyHeapTypeObject)`: a heap type's `PyMemberDef`s follow it.
    pub heap_type_size: u32,
}

/// `PyMemberDef`.
#[derive(Debug, Clone, Default)]
pub struct PyMemberDefLayout {
    /// The offset of `PyMemberDef.name`.
    pub name: u32,
    /// `type` (the T_* code).
    pub type_code: u32,
    /// The offset of `PyMemberDef.offset`.
    pub offset: u32,
    /// The offset of `PyMemberDef.flags`.
    pub flags: u32,
    /// The offset of `PyMemberDef.size`.
    pub size: u32,
}

/// `_PyRuntimeState`, `PyInterpreterState`, `PyThreadState`, `_PyCFrame`.
#[derive(Debug, Clone, Default)]
pub struct RuntimeLayout {
    /// `_PyRuntimeState.interpreters.head`.
    pub interpreters_head: u32,
    /// `_PyRuntimeState.gilstate.tstate_current` (3.8-3.11).
    pub gilstate_tstate_current: Option<u32>,
    /// `PyInterpreterState.tstate_head` (3.8-3.10) or `.threads.head` (3.11+).
    pub interp_tstate_head: u32,
    /// `PyInterpreterState.next`.
    pub interp_next: u32,
    /// The offset of `PyThreadState.prev`.
    pub ts_prev: u32,
    /// The offset of `PyThreadState.next`.
    pub ts_next: u32,
    /// The offset of `PyThreadState.interp`.
    pub ts_interp: u32,
    /// `PyThreadState.frame` (3.8-3.10).
    pub ts_frame: Option<u32>,
    /// `PyThreadState.cframe` (3.10-3.12).
    pub ts_cframe: Option<u32>,
    /// `PyThreadState.root_cframe` (3.10-3.12).
    pub ts_root_cframe: Option<u32>,
    /// `PyThreadState.current_frame` (3.13).
    pub ts_current_frame: Option<u32>,
    /// `PyThreadState.use_tracing` (3.8-3.9).
    pub ts_use_tracing: Option<u32>,
    /// `_PyRuntimeState.ceval.tracing_possible` (3.8): the eval loop checks
    /// for line events only while it is non-zero.
    pub runtime_tracing_possible: Option<u32>,
    /// `PyInterpreterState.ceval.tracing_possible` (3.9).
    pub interp_tracing_possible: Option<u32>,
    /// `PyInterpreterState.sys_tracing_threads` (3.12+, a `Py_ssize_t`):
    /// threads with a C trace function; the legacy-tracing events stay on
    /// while it is non-zero.
    pub interp_sys_tracing_threads: Option<u32>,
    /// `PyInterpreterState.f_opcode_trace_set` (3.12, a `bool`): while it
    /// is set, `_PyEval_SetTrace` switches instruction events on too.
    pub interp_f_opcode_trace_set: Option<u32>,
    /// `PyInterpreterState.ceval.eval_breaker` (3.12, an `int`): while it
    /// is non-zero the eval loop calls `_Py_HandlePending`, which computes
    /// it again from what is really pending.
    pub interp_eval_breaker: Option<u32>,
    /// `PyInterpreterState.ceval.gc_scheduled` (3.12, an `int`): a
    /// collection is due; part of what the eval breaker is computed from.
    pub interp_gc_scheduled: Option<u32>,
    /// `PyThreadState.eval_breaker` (3.13, a `uintptr_t` of bits and the
    /// instrumentation version): the same, one per thread.
    pub ts_eval_breaker: Option<u32>,
    /// The offset of `PyThreadState.tracing`.
    pub ts_tracing: u32,
    /// The offset of `PyThreadState.c_tracefunc`.
    pub ts_c_tracefunc: u32,
    /// The offset of `PyThreadState.c_traceobj`.
    pub ts_c_traceobj: u32,
    /// The offset of `PyThreadState.c_profilefunc`.
    pub ts_c_profilefunc: u32,
    /// The offset of `PyThreadState.thread_id`.
    pub ts_thread_id: u32,
    /// `PyThreadState.native_thread_id` (3.11+).
    pub ts_native_thread_id: Option<u32>,
    /// `_PyCFrame.use_tracing` (3.10-3.11).
    pub cframe_use_tracing: Option<u32>,
    /// `_PyCFrame.current_frame` (3.11-3.12).
    pub cframe_current_frame: Option<u32>,
    /// `_PyCFrame.previous` (3.10-3.12).
    pub cframe_previous: Option<u32>,
}

/// `PyFrameObject` (`struct _frame`).
#[derive(Debug, Clone, Default)]
pub struct PyFrameLayout {
    /// The offset of `PyFrameObject.f_back`.
    pub f_back: u32,
    /// `f_frame`: the `_PyInterpreterFrame` (3.11+).
    pub f_frame: Option<u32>,
    /// The offset of `PyFrameObject.f_lineno`.
    pub f_lineno: u32,
    /// The offset of `PyFrameObject.f_trace`.
    pub f_trace: u32,
    /// The offset of `PyFrameObject.f_trace_lines`.
    pub f_trace_lines: u32,
    /// The offset of `PyFrameObject.f_trace_opcodes`: the frame reports an
    /// opcode event before each instruction while it is set.
    pub f_trace_opcodes: u32,
    /// 3.8-3.10 only: the frame object is the frame.
    pub f_code: Option<u32>,
    /// The offset of `PyFrameObject.f_globals`.
    pub f_globals: Option<u32>,
    /// The offset of `PyFrameObject.f_locals`.
    pub f_locals: Option<u32>,
    /// The offset of `PyFrameObject.f_lasti`.
    pub f_lasti: Option<u32>,
    /// The offset of `PyFrameObject.f_localsplus`.
    pub f_localsplus: Option<u32>,
    /// The offset of `PyFrameObject.f_valuestack`.
    pub f_valuestack: Option<u32>,
    /// `f_stacktop` (3.8-3.9) .
    pub f_stacktop: Option<u32>,
    /// `f_stackdepth` (3.10).
    pub f_stackdepth: Option<u32>,
    /// The offset of `PyFrameObject.f_gen`.
    pub f_gen: Option<u32>,
}

/// `_PyInterpreterFrame` (3.11+).
#[derive(Debug, Clone, Default)]
pub struct InterpFrameLayout {
    /// `f_func` (3.11) or `f_funcobj` (3.12+).
    pub f_func: Option<u32>,
    /// The offset of `_PyInterpreterFrame.f_globals`.
    pub f_globals: Option<u32>,
    /// The offset of `_PyInterpreterFrame.f_builtins`.
    pub f_builtins: Option<u32>,
    /// The offset of `_PyInterpreterFrame.f_locals`.
    pub f_locals: Option<u32>,
    /// `f_code` (3.11-3.12) or `f_executable` (3.13).
    pub f_code: Option<u32>,
    /// The offset of `_PyInterpreterFrame.frame_obj`.
    pub frame_obj: Option<u32>,
    /// The offset of `_PyInterpreterFrame.previous`.
    pub previous: Option<u32>,
    /// `prev_instr` (3.11-3.12) or `instr_ptr` (3.13).
    pub prev_instr: Option<u32>,
    /// The offset of `_PyInterpreterFrame.stacktop`.
    pub stacktop: Option<u32>,
    /// The offset of `_PyInterpreterFrame.owner`.
    pub owner: Option<u32>,
    /// The offset of `_PyInterpreterFrame.localsplus`.
    pub localsplus: Option<u32>,
}

/// `PyCodeObject`.
#[derive(Debug, Clone, Default)]
pub struct PyCodeLayout {
    /// The offset of `PyCodeObject.co_filename`.
    pub co_filename: u32,
    /// The offset of `PyCodeObject.co_name`.
    pub co_name: u32,
    /// 3.11+.
    pub co_qualname: Option<u32>,
    /// The offset of `PyCodeObject.co_flags`.
    pub co_flags: u32,
    /// The offset of `PyCodeObject.co_firstlineno`.
    pub co_firstlineno: u32,
    /// The offset of `PyCodeObject.co_argcount`.
    pub co_argcount: u32,
    /// The offset of `PyCodeObject.co_nlocals`.
    pub co_nlocals: u32,
    /// 3.11+.
    pub co_nlocalsplus: Option<u32>,
    /// 3.11+.
    pub co_localsplusnames: Option<u32>,
    /// 3.11+.
    pub co_localspluskinds: Option<u32>,
    /// 3.8-3.10.
    pub co_varnames: Option<u32>,
    /// The offset of `PyCodeObject.co_cellvars`.
    pub co_cellvars: Option<u32>,
    /// The offset of `PyCodeObject.co_freevars`.
    pub co_freevars: Option<u32>,
    /// 3.8-3.10.
    pub co_cell2arg: Option<u32>,
    /// `co_linetable` (3.10+).
    pub co_linetable: Option<u32>,
    /// `co_lnotab` (3.8-3.9).
    pub co_lnotab: Option<u32>,
    /// `co_code` (3.8-3.10): a bytes object.
    pub co_code: Option<u32>,
    /// `co_code_adaptive` (3.11+): the instructions themselves, inline.
    pub co_code_adaptive: Option<u32>,
    /// `_co_firsttraceable` (3.11+).
    pub co_firsttraceable: Option<u32>,
    /// `_co_monitoring` (3.12+): the code's `_PyCoMonitoringData`, where an
    /// instrumented instruction keeps the opcode it replaced.
    pub co_monitoring: Option<u32>,
    /// `_PyCoMonitoringData.lines` (3.12+): one `_PyCoLineInstrumentationData`
    /// per code unit.
    pub mon_lines: Option<u32>,
    /// `_PyCoMonitoringData.per_instruction_opcodes` (3.12+): one opcode
    /// per code unit.
    pub mon_per_instruction_opcodes: Option<u32>,
    /// `_PyCoLineInstrumentationData.original_opcode` (3.12+).
    pub line_data_original_opcode: Option<u32>,
    /// `sizeof(_PyCoLineInstrumentationData)` (3.12+).
    pub line_data_size: Option<u32>,
}

/// The objects whose contents are decoded.
#[derive(Debug, Clone, Default)]
pub struct ObjectsLayout {
    /// `PyLongObject.ob_digit` (3.8-3.11) or `.long_value.ob_digit` (3.12+).
    pub long_digit: u32,
    /// `PyLongObject.long_value.lv_tag` (3.12+).
    pub long_lv_tag: Option<u32>,
    /// The offset of `PyFloatObject.ob_fval`.
    pub float_ob_fval: u32,
    /// `PyComplexObject.cval` (two doubles, real then imag).
    pub complex_cval: u32,
    /// `sizeof(PyASCIIObject)`.
    pub ascii_size: u32,
    /// `sizeof(PyCompactUnicodeObject)`.
    pub compact_unicode_size: u32,
    /// The offset of `PyASCIIObject.length`.
    pub unicode_length: u32,
    /// The offset of `PyASCIIObject.hash`.
    pub unicode_hash: u32,
    /// Byte offset of `PyASCIIObject.state`.
    pub unicode_state: u32,
    /// Bit offsets inside `state` (from the start of `state`) and widths.
    pub unicode_state_kind_bit: u32,
    /// The bit of `state.compact`, from the start of `state`.
    pub unicode_state_compact_bit: u32,
    /// The bit of `state.ascii`, from the start of `state`.
    pub unicode_state_ascii_bit: u32,
    /// The offset of `PyBytesObject.ob_shash`.
    pub bytes_ob_shash: u32,
    /// The offset of `PyBytesObject.ob_sval`.
    pub bytes_ob_sval: u32,
    /// The offset of `PyByteArrayObject.ob_alloc`.
    pub bytearray_ob_alloc: u32,
    /// The offset of `PyByteArrayObject.ob_bytes`.
    pub bytearray_ob_bytes: u32,
    /// The offset of `PyByteArrayObject.ob_start`.
    pub bytearray_ob_start: u32,
    /// The offset of `PyTupleObject.ob_item`.
    pub tuple_ob_item: u32,
    /// The offset of `PyListObject.ob_item`.
    pub list_ob_item: u32,
    /// The offset of `PyListObject.allocated`.
    pub list_allocated: u32,
    /// The offset of `PyDictObject.ma_used`.
    pub dict_ma_used: u32,
    /// The offset of `PyDictObject.ma_version_tag`.
    pub dict_ma_version_tag: u32,
    /// The offset of `PyDictObject.ma_keys`.
    pub dict_ma_keys: u32,
    /// The offset of `PyDictObject.ma_values`.
    pub dict_ma_values: u32,
    /// The offset of `PyDictKeysObject.dk_refcnt`.
    pub dictkeys_dk_refcnt: u32,
    /// `dk_size` (3.8-3.10).
    pub dictkeys_dk_size: Option<u32>,
    /// `dk_log2_size` (3.11+).
    pub dictkeys_dk_log2_size: Option<u32>,
    /// `dk_log2_index_bytes` (3.11+).
    pub dictkeys_dk_log2_index_bytes: Option<u32>,
    /// `dk_kind` (3.11+).
    pub dictkeys_dk_kind: Option<u32>,
    /// The offset of `PyDictKeysObject.dk_nentries`.
    pub dictkeys_dk_nentries: u32,
    /// The offset of `PyDictKeysObject.dk_indices`.
    pub dictkeys_dk_indices: u32,
    /// `sizeof(PyDictKeyEntry)`.
    pub dict_key_entry_size: u32,
    /// `sizeof(PyDictUnicodeEntry)` (3.11+).
    pub dict_unicode_entry_size: Option<u32>,
    /// `PyDictKeyEntry.me_key` (the entry is hash, key, value).
    pub dict_entry_key: u32,
    /// `PyDictKeyEntry.me_value`.
    pub dict_entry_value: u32,
    /// `PyDictUnicodeEntry.me_key` (3.11+: the entry is key, value).
    pub dict_uentry_key: Option<u32>,
    /// `PyDictUnicodeEntry.me_value` (3.11+).
    pub dict_uentry_value: Option<u32>,
    /// The offset of `PySetObject.fill`.
    pub set_fill: u32,
    /// The offset of `PySetObject.used`.
    pub set_used: u32,
    /// The offset of `PySetObject.mask`.
    pub set_mask: u32,
    /// The offset of `PySetObject.table`.
    pub set_table: u32,
    /// `sizeof(setentry)`.
    pub set_entry_size: u32,
    /// The offset of `rangeobject.start`.
    pub range_start: u32,
    /// The offset of `rangeobject.stop`.
    pub range_stop: u32,
    /// The offset of `rangeobject.step`.
    pub range_step: u32,
    /// The offset of `PyCellObject.ob_ref`.
    pub cell_ob_ref: u32,
    /// `PyFunctionObject.func_closure`: the cells of a closure's free
    /// variables.
    pub func_closure: u32,
    /// `PyFunctionObject.func_qualname`: the name a function's repr shows.
    pub func_qualname: u32,
    /// `PyModuleObject.md_name`: the name a module's repr shows.
    pub module_md_name: u32,
    /// `PyBaseExceptionObject.args`.
    pub exception_args: u32,
    /// `PyBaseExceptionObject.dict`.
    pub exception_dict: u32,
    /// `PyDictValues.capacity` (3.13+): slots in `values`.
    pub dictvalues_capacity: Option<u32>,
    /// `PyDictValues.size` (3.13+): entries of the insertion order, which
    /// follows `values[capacity]`.
    pub dictvalues_size: Option<u32>,
    /// `PyDictValues.valid` (3.13+): inline values still hold the attributes.
    pub dictvalues_valid: Option<u32>,
    /// `PyDictValues.values` (3.13+).
    pub dictvalues_values: Option<u32>,
}

/// Every field offset hindsight reads, for one interpreter.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// The interpreter's version.
    pub version: PythonVersion,
    /// `PyObject` and `PyVarObject`.
    pub object: PyObjectLayout,
    /// Type objects.
    pub type_: PyTypeLayout,
    /// `PyMemberDef`: `__slots__` members.
    pub member_def: PyMemberDefLayout,
    /// The runtime, interpreters and thread states.
    pub runtime: RuntimeLayout,
    /// Frame objects.
    pub frame: PyFrameLayout,
    /// `_PyInterpreterFrame` (3.11+).
    pub iframe: InterpFrameLayout,
    /// Code objects.
    pub code: PyCodeLayout,
    /// The objects whose contents are decoded.
    pub objects: ObjectsLayout,
}
