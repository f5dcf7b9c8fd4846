//! Filling [`Layout`] from DWARF with a declarative table.
//!
//! Each row says: this Rust field <- this C struct (candidate typedef names or
//! `struct` tags), this member path, for these minor versions. Supporting a
//! new version is editing the rows. A field whose rows cover every supported
//! version is a plain `u32`; any other is an `Option<u32>`, left `None` in the
//! versions no row applies to. Every applicable row that cannot be resolved
//! is collected and reported at once in [`SymbolsError::MissingFields`].

use std::ops::RangeInclusive;

use crate::dwarf::TypeIndex;
use crate::error::SymbolsError;
use crate::layout::Layout;
use crate::version::PythonVersion;

/// What a row reads from DWARF.
#[derive(Debug, Clone, Copy)]
enum What {
    /// Byte offset of the member path from the struct's start.
    Offset,
    /// `sizeof` the struct (the path is empty).
    Size,
    /// Bit offset of a bitfield, counted from the start of the member path
    /// given here (e.g. `state`).
    BitFrom(&'static str),
}

/// One line of the table.
struct Row {
    /// The Rust field, `group.field`, for messages.
    field: &'static str,
    /// Candidate C names for the struct, typedef or tag.
    structs: &'static [&'static str],
    /// The C member path.
    path: &'static str,
    what: What,
    /// Minor versions of 3.x this row applies to.
    minors: RangeInclusive<u8>,
    set: fn(&mut Layout, u32),
    /// The field's value; `None` while it is unset (an optional field).
    get: fn(&Layout) -> Option<u32>,
}

macro_rules! rows {
    ($( $g:ident . $f:ident <- $structs:expr, $kind:ident $path:literal $( from $parent:literal )?, $lo:literal ..= $hi:literal; )*) => {
        &[ $( Row {
            field: concat!(stringify!($g), ".", stringify!($f)),
            structs: $structs,
            path: $path,
            what: rows!(@what $kind $( $parent )?),
            minors: $lo..=$hi,
            // `into()`: the field is a `u32` or an `Option<u32>`.
            set: |l: &mut Layout, v: u32| l.$g.$f = v.into(),
            get: |l: &Layout| l.$g.$f.into(),
        }, )* ]
    };
    (@what off) => { What::Offset };
    (@what size) => { What::Size };
    (@what bit $parent:literal) => { What::BitFrom($parent) };
}

const OBJECT: &[&str] = &["PyObject", "_object"];
const VAROBJECT: &[&str] = &["PyVarObject"];
const TYPE: &[&str] = &["PyTypeObject", "_typeobject"];
const HEAPTYPE: &[&str] = &["PyHeapTypeObject", "_heaptypeobject"];
const MEMBERDEF: &[&str] = &["PyMemberDef"];
const RUNTIME: &[&str] = &["_PyRuntimeState", "pyruntimestate"];
const INTERP: &[&str] = &["PyInterpreterState", "_is"];
const TSTATE: &[&str] = &["PyThreadState", "_ts"];
const CFRAME: &[&str] = &["_PyCFrame", "CFrame"];
const FRAME: &[&str] = &["PyFrameObject", "_frame"];
const IFRAME: &[&str] = &["_PyInterpreterFrame"];
const CODE: &[&str] = &["PyCodeObject"];
const LONG: &[&str] = &["PyLongObject", "_longobject"];
const FLOAT: &[&str] = &["PyFloatObject"];
const COMPLEX: &[&str] = &["PyComplexObject"];
const ASCII: &[&str] = &["PyASCIIObject"];
const COMPACT: &[&str] = &["PyCompactUnicodeObject"];
const BYTES: &[&str] = &["PyBytesObject"];
const BYTEARRAY: &[&str] = &["PyByteArrayObject"];
const TUPLE: &[&str] = &["PyTupleObject"];
const LIST: &[&str] = &["PyListObject"];
const DICT: &[&str] = &["PyDictObject"];
const DICTKEYS: &[&str] = &["PyDictKeysObject", "_dictkeysobject"];
const DICTENTRY: &[&str] = &["PyDictKeyEntry"];
const DICTUENTRY: &[&str] = &["PyDictUnicodeEntry"];
const SET: &[&str] = &["PySetObject"];
const SETENTRY: &[&str] = &["setentry"];
const RANGE: &[&str] = &["rangeobject"];
const CELL: &[&str] = &["PyCellObject"];
const EXC: &[&str] = &["PyBaseExceptionObject"];
const DICTVALUES: &[&str] = &["PyDictValues", "_dictvalues"];
const FUNCTION: &[&str] = &["PyFunctionObject"];
const MODULE: &[&str] = &["PyModuleObject"];
const MONDATA: &[&str] = &["_PyCoMonitoringData"];
const LINEDATA: &[&str] = &["_PyCoLineInstrumentationData"];

/// The table. Version ranges follow the comments in `layout.rs` and CPython's headers.
static ROWS: &[Row] = rows! {
    object.ob_refcnt <- OBJECT, off "ob_refcnt", 8..=13;
    object.ob_type <- OBJECT, off "ob_type", 8..=13;
    object.ob_size <- VAROBJECT, off "ob_size", 8..=13;

    type_.tp_name <- TYPE, off "tp_name", 8..=13;
    type_.tp_basicsize <- TYPE, off "tp_basicsize", 8..=13;
    type_.tp_itemsize <- TYPE, off "tp_itemsize", 8..=13;
    type_.tp_flags <- TYPE, off "tp_flags", 8..=13;
    type_.tp_dictoffset <- TYPE, off "tp_dictoffset", 8..=13;
    type_.tp_dict <- TYPE, off "tp_dict", 8..=13;
    type_.tp_mro <- TYPE, off "tp_mro", 8..=13;
    type_.tp_members <- TYPE, off "tp_members", 8..=13;
    type_.tp_base <- TYPE, off "tp_base", 8..=13;
    type_.ht_name <- HEAPTYPE, off "ht_name", 8..=13;
    type_.ht_qualname <- HEAPTYPE, off "ht_qualname", 8..=13;
    type_.ht_cached_keys <- HEAPTYPE, off "ht_cached_keys", 11..=13;
    type_.heap_type_size <- HEAPTYPE, size "", 8..=13;

    member_def.name <- MEMBERDEF, off "name", 8..=13;
    member_def.type_code <- MEMBERDEF, off "type", 8..=13;
    member_def.offset <- MEMBERDEF, off "offset", 8..=13;
    member_def.flags <- MEMBERDEF, off "flags", 8..=13;
    member_def.size <- MEMBERDEF, size "", 8..=13;

    runtime.interpreters_head <- RUNTIME, off "interpreters.head", 8..=13;
    runtime.gilstate_tstate_current <- RUNTIME, off "gilstate.tstate_current", 8..=11;
    runtime.interp_tstate_head <- INTERP, off "tstate_head", 8..=10;
    runtime.interp_tstate_head <- INTERP, off "threads.head", 11..=13;
    runtime.interp_next <- INTERP, off "next", 8..=13;
    runtime.ts_prev <- TSTATE, off "prev", 8..=13;
    runtime.ts_next <- TSTATE, off "next", 8..=13;
    runtime.ts_interp <- TSTATE, off "interp", 8..=13;
    runtime.ts_frame <- TSTATE, off "frame", 8..=10;
    runtime.ts_cframe <- TSTATE, off "cframe", 10..=12;
    runtime.ts_root_cframe <- TSTATE, off "root_cframe", 10..=12;
    runtime.ts_current_frame <- TSTATE, off "current_frame", 13..=13;
    runtime.ts_use_tracing <- TSTATE, off "use_tracing", 8..=9;
    runtime.runtime_tracing_possible <- RUNTIME, off "ceval.tracing_possible", 8..=8;
    runtime.interp_tracing_possible <- INTERP, off "ceval.tracing_possible", 9..=9;
    runtime.interp_sys_tracing_threads <- INTERP, off "sys_tracing_threads", 12..=13;
    runtime.interp_f_opcode_trace_set <- INTERP, off "f_opcode_trace_set", 12..=12;
    runtime.interp_eval_breaker <- INTERP, off "ceval.eval_breaker", 12..=12;
    runtime.interp_gc_scheduled <- INTERP, off "ceval.gc_scheduled", 12..=12;
    runtime.ts_eval_breaker <- TSTATE, off "eval_breaker", 13..=13;
    runtime.ts_tracing <- TSTATE, off "tracing", 8..=13;
    runtime.ts_c_tracefunc <- TSTATE, off "c_tracefunc", 8..=13;
    runtime.ts_c_traceobj <- TSTATE, off "c_traceobj", 8..=13;
    runtime.ts_c_profilefunc <- TSTATE, off "c_profilefunc", 8..=13;
    runtime.ts_thread_id <- TSTATE, off "thread_id", 8..=13;
    runtime.ts_native_thread_id <- TSTATE, off "native_thread_id", 11..=13;
    runtime.cframe_use_tracing <- CFRAME, off "use_tracing", 10..=11;
    runtime.cframe_current_frame <- CFRAME, off "current_frame", 11..=12;
    runtime.cframe_previous <- CFRAME, off "previous", 10..=12;

    frame.f_back <- FRAME, off "f_back", 8..=13;
    frame.f_frame <- FRAME, off "f_frame", 11..=13;
    frame.f_lineno <- FRAME, off "f_lineno", 8..=13;
    frame.f_trace <- FRAME, off "f_trace", 8..=13;
    frame.f_trace_lines <- FRAME, off "f_trace_lines", 8..=13;
    frame.f_trace_opcodes <- FRAME, off "f_trace_opcodes", 8..=13;
    frame.f_code <- FRAME, off "f_code", 8..=10;
    frame.f_globals <- FRAME, off "f_globals", 8..=10;
    frame.f_locals <- FRAME, off "f_locals", 8..=10;
    frame.f_lasti <- FRAME, off "f_lasti", 8..=10;
    frame.f_localsplus <- FRAME, off "f_localsplus", 8..=10;
    frame.f_valuestack <- FRAME, off "f_valuestack", 8..=10;
    frame.f_stacktop <- FRAME, off "f_stacktop", 8..=9;
    frame.f_stackdepth <- FRAME, off "f_stackdepth", 10..=10;
    frame.f_gen <- FRAME, off "f_gen", 8..=10;

    iframe.f_func <- IFRAME, off "f_func", 11..=11;
    iframe.f_func <- IFRAME, off "f_funcobj", 12..=13;
    iframe.f_globals <- IFRAME, off "f_globals", 11..=13;
    iframe.f_builtins <- IFRAME, off "f_builtins", 11..=13;
    iframe.f_locals <- IFRAME, off "f_locals", 11..=13;
    iframe.f_code <- IFRAME, off "f_code", 11..=12;
    iframe.f_code <- IFRAME, off "f_executable", 13..=13;
    iframe.frame_obj <- IFRAME, off "frame_obj", 11..=13;
    iframe.previous <- IFRAME, off "previous", 11..=13;
    iframe.prev_instr <- IFRAME, off "prev_instr", 11..=12;
    iframe.prev_instr <- IFRAME, off "instr_ptr", 13..=13;
    iframe.stacktop <- IFRAME, off "stacktop", 11..=13;
    iframe.owner <- IFRAME, off "owner", 11..=13;
    iframe.localsplus <- IFRAME, off "localsplus", 11..=13;

    code.co_filename <- CODE, off "co_filename", 8..=13;
    code.co_name <- CODE, off "co_name", 8..=13;
    code.co_qualname <- CODE, off "co_qualname", 11..=13;
    code.co_flags <- CODE, off "co_flags", 8..=13;
    code.co_firstlineno <- CODE, off "co_firstlineno", 8..=13;
    code.co_argcount <- CODE, off "co_argcount", 8..=13;
    code.co_nlocals <- CODE, off "co_nlocals", 8..=13;
    code.co_nlocalsplus <- CODE, off "co_nlocalsplus", 11..=13;
    code.co_localsplusnames <- CODE, off "co_localsplusnames", 11..=13;
    code.co_localspluskinds <- CODE, off "co_localspluskinds", 11..=13;
    code.co_varnames <- CODE, off "co_varnames", 8..=10;
    code.co_cellvars <- CODE, off "co_cellvars", 8..=10;
    code.co_freevars <- CODE, off "co_freevars", 8..=10;
    code.co_cell2arg <- CODE, off "co_cell2arg", 8..=10;
    code.co_linetable <- CODE, off "co_linetable", 10..=13;
    code.co_lnotab <- CODE, off "co_lnotab", 8..=9;
    code.co_code <- CODE, off "co_code", 8..=10;
    code.co_code_adaptive <- CODE, off "co_code_adaptive", 11..=13;
    code.co_firsttraceable <- CODE, off "_co_firsttraceable", 11..=13;
    code.co_monitoring <- CODE, off "_co_monitoring", 12..=13;
    code.mon_lines <- MONDATA, off "lines", 12..=13;
    code.mon_per_instruction_opcodes <- MONDATA, off "per_instruction_opcodes", 12..=13;
    code.line_data_original_opcode <- LINEDATA, off "original_opcode", 12..=13;
    code.line_data_size <- LINEDATA, size "", 12..=13;

    objects.long_digit <- LONG, off "ob_digit", 8..=11;
    objects.long_digit <- LONG, off "long_value.ob_digit", 12..=13;
    objects.long_lv_tag <- LONG, off "long_value.lv_tag", 12..=13;
    objects.float_ob_fval <- FLOAT, off "ob_fval", 8..=13;
    objects.complex_cval <- COMPLEX, off "cval", 8..=13;
    objects.ascii_size <- ASCII, size "", 8..=13;
    objects.compact_unicode_size <- COMPACT, size "", 8..=13;
    objects.unicode_length <- ASCII, off "length", 8..=13;
    objects.unicode_hash <- ASCII, off "hash", 8..=13;
    objects.unicode_state <- ASCII, off "state", 8..=13;
    objects.unicode_state_kind_bit <- ASCII, bit "state.kind" from "state", 8..=13;
    objects.unicode_state_compact_bit <- ASCII, bit "state.compact" from "state", 8..=13;
    objects.unicode_state_ascii_bit <- ASCII, bit "state.ascii" from "state", 8..=13;
    objects.bytes_ob_shash <- BYTES, off "ob_shash", 8..=13;
    objects.bytes_ob_sval <- BYTES, off "ob_sval", 8..=13;
    objects.bytearray_ob_alloc <- BYTEARRAY, off "ob_alloc", 8..=13;
    objects.bytearray_ob_bytes <- BYTEARRAY, off "ob_bytes", 8..=13;
    objects.bytearray_ob_start <- BYTEARRAY, off "ob_start", 8..=13;
    objects.tuple_ob_item <- TUPLE, off "ob_item", 8..=13;
    objects.list_ob_item <- LIST, off "ob_item", 8..=13;
    objects.list_allocated <- LIST, off "allocated", 8..=13;
    objects.dict_ma_used <- DICT, off "ma_used", 8..=13;
    objects.dict_ma_version_tag <- DICT, off "ma_version_tag", 8..=13;
    objects.dict_ma_keys <- DICT, off "ma_keys", 8..=13;
    objects.dict_ma_values <- DICT, off "ma_values", 8..=13;
    objects.dictkeys_dk_refcnt <- DICTKEYS, off "dk_refcnt", 8..=13;
    objects.dictkeys_dk_size <- DICTKEYS, off "dk_size", 8..=10;
    objects.dictkeys_dk_log2_size <- DICTKEYS, off "dk_log2_size", 11..=13;
    objects.dictkeys_dk_log2_index_bytes <- DICTKEYS, off "dk_log2_index_bytes", 11..=13;
    objects.dictkeys_dk_kind <- DICTKEYS, off "dk_kind", 11..=13;
    objects.dictkeys_dk_nentries <- DICTKEYS, off "dk_nentries", 8..=13;
    objects.dictkeys_dk_indices <- DICTKEYS, off "dk_indices", 8..=13;
    objects.dict_key_entry_size <- DICTENTRY, size "", 8..=13;
    objects.dict_unicode_entry_size <- DICTUENTRY, size "", 11..=13;
    objects.dict_entry_key <- DICTENTRY, off "me_key", 8..=13;
    objects.dict_entry_value <- DICTENTRY, off "me_value", 8..=13;
    objects.dict_uentry_key <- DICTUENTRY, off "me_key", 11..=13;
    objects.dict_uentry_value <- DICTUENTRY, off "me_value", 11..=13;
    objects.set_fill <- SET, off "fill", 8..=13;
    objects.set_used <- SET, off "used", 8..=13;
    objects.set_mask <- SET, off "mask", 8..=13;
    objects.set_table <- SET, off "table", 8..=13;
    objects.set_entry_size <- SETENTRY, size "", 8..=13;
    objects.range_start <- RANGE, off "start", 8..=13;
    objects.range_stop <- RANGE, off "stop", 8..=13;
    objects.range_step <- RANGE, off "step", 8..=13;
    objects.cell_ob_ref <- CELL, off "ob_ref", 8..=13;
    objects.func_closure <- FUNCTION, off "func_closure", 8..=13;
    objects.func_qualname <- FUNCTION, off "func_qualname", 8..=13;
    objects.module_md_name <- MODULE, off "md_name", 8..=13;
    objects.exception_args <- EXC, off "args", 8..=13;
    objects.exception_dict <- EXC, off "dict", 8..=13;
    objects.dictvalues_capacity <- DICTVALUES, off "capacity", 13..=13;
    objects.dictvalues_size <- DICTVALUES, off "size", 13..=13;
    objects.dictvalues_valid <- DICTVALUES, off "valid", 13..=13;
    objects.dictvalues_values <- DICTVALUES, off "values", 13..=13;
};

/// Resolves every row that applies to `version` from `types`. Optional fields
/// no row applies to stay `None`; all applicable fields that could not be
/// found are returned together in [`SymbolsError::MissingFields`].
pub fn resolve(types: &TypeIndex<'_>, version: PythonVersion) -> Result<Layout, SymbolsError> {
    // Plain fields start at 0 and optional ones at `None`: every plain
    // field has a row for every version (`every_layout_field_has_a_row`).
    let mut layout = Layout {
        version,
        ..Layout::default()
    };
    let mut missing = Vec::new();
    for row in ROWS
        .iter()
        .filter(|r| version.major == 3 && r.minors.contains(&version.minor))
    {
        match value(types, row) {
            Some(v) => (row.set)(&mut layout, v),
            None => {
                let what = if row.path.is_empty() {
                    "<sizeof>"
                } else {
                    row.path
                };
                log::debug!("{}: {}.{what} not found", row.field, row.structs[0]);
                missing.push(format!("{}.{what}", row.structs[0]));
            }
        }
    }
    if missing.is_empty() {
        Ok(layout)
    } else {
        Err(SymbolsError::MissingFields {
            version,
            fields: missing,
        })
    }
}

fn value(types: &TypeIndex<'_>, row: &Row) -> Option<u32> {
    let v = match row.what {
        What::Size => types.struct_size(row.structs)?,
        What::Offset => {
            let p = types.member_path(row.structs, row.path)?;
            if p.bit_size.is_some() {
                // A bitfield has no byte offset a reader could use.
                return None;
            }
            p.byte_offset()
        }
        What::BitFrom(parent) => {
            let base = types.member_path(row.structs, parent)?;
            let p = types.member_path(row.structs, row.path)?;
            p.bit_offset.checked_sub(base.bit_offset)?
        }
    };
    u32::try_from(v).ok()
}

/// One applicable table row, for diagnostics and cross-checks (e.g. against gdb).
#[derive(Debug, Clone)]
pub struct RowInfo {
    /// The Rust field, `group.field`.
    pub field: &'static str,
    /// Candidate C names of the struct (typedef or tag), first preferred.
    pub structs: &'static [&'static str],
    /// The C member path; empty for a `sizeof` row.
    pub path: &'static str,
    /// `Some(parent)` for a bitfield row: the value is bits from `parent`'s start.
    pub bit_from: Option<&'static str>,
    /// The value resolved in `layout` (`None` only for a layout that was
    /// not resolved for its version).
    pub value: Option<u32>,
}

/// Every row that applies to `layout.version`, with its resolved value.
pub fn rows_for(layout: &Layout) -> Vec<RowInfo> {
    let v = layout.version;
    ROWS.iter()
        .filter(|r| v.major == 3 && r.minors.contains(&v.minor))
        .map(|r| RowInfo {
            field: r.field,
            structs: r.structs,
            path: r.path,
            bit_from: match r.what {
                What::BitFrom(p) => Some(p),
                _ => None,
            },
            value: (r.get)(layout),
        })
        .collect()
}

/// The Rust field names of every row (for tests and diagnostics).
pub fn table_fields() -> impl Iterator<Item = &'static str> {
    ROWS.iter().map(|r| r.field)
}

/// Every field of `layout` once, as (`group.field`, value), in the order of
/// the table (that of layout.rs): `None` for an optional field the version
/// does not have.
pub fn layout_fields(layout: &Layout) -> Vec<(&'static str, Option<u32>)> {
    let mut out: Vec<(&'static str, Option<u32>)> = Vec::new();
    for r in ROWS {
        if !out.iter().any(|(f, _)| *f == r.field) {
            out.push((r.field, (r.get)(layout)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elf::ElfFile;

    #[test]
    fn every_missing_field_is_reported_at_once() {
        let lib = &crate::pyenv("3.11.7/lib/libpython3.11.so.1.0");
        if !lib.exists() {
            return;
        }
        let elf = ElfFile::open(lib).unwrap();
        // 3.10's rows against 3.11's DWARF: the 3.10-only fields are missing.
        let err = crate::dwarf::with_types(&elf, |t| {
            resolve(t, PythonVersion::new(3, 10, 0)).unwrap_err()
        })
        .unwrap();
        let msg = err.to_string();
        let SymbolsError::MissingFields { fields, version } = err else {
            panic!("{msg}")
        };
        assert_eq!(version, PythonVersion::new(3, 10, 0));
        for f in [
            "PyFrameObject.f_code",
            "PyInterpreterState.tstate_head",
            "PyThreadState.frame",
            "PyDictKeysObject.dk_size",
            "PyCodeObject.co_varnames",
        ] {
            assert!(fields.iter().any(|x| x == f), "{f} not in {fields:?}");
            assert!(msg.contains(f), "{msg}");
        }
    }

    #[test]
    fn rows_cover_every_group() {
        let groups: std::collections::BTreeSet<&str> = table_fields()
            .map(|f| f.split('.').next().unwrap())
            .collect();
        let expect = [
            "code",
            "frame",
            "iframe",
            "member_def",
            "object",
            "objects",
            "runtime",
            "type_",
        ];
        assert_eq!(groups.into_iter().collect::<Vec<_>>(), expect);
    }

    /// Every field of every group in layout.rs has a row (a field with no
    /// row would silently stay 0 or `None`); a plain `u32` field has rows
    /// for every version, an `Option<u32>` one does not (it would be plain);
    /// and the table lists the fields in the order they are declared.
    #[test]
    fn every_layout_field_has_a_row() {
        let src = include_str!("layout.rs");
        let mut fields_of: std::collections::HashMap<&str, Vec<(&str, bool)>> = Default::default();
        let mut group_type = Vec::new();
        let mut current: Option<&str> = None;
        for line in src.lines().map(str::trim) {
            if let Some(rest) = line.strip_prefix("pub struct ") {
                current = rest.split_whitespace().next();
            } else if let (Some(cur), Some(rest)) = (current, line.strip_prefix("pub ")) {
                let Some((name, ty)) = rest.trim_end_matches(',').split_once(": ") else {
                    continue;
                };
                if cur == "Layout" {
                    group_type.push((name, ty));
                } else if ty == "u32" || ty == "Option<u32>" {
                    fields_of.entry(cur).or_default().push((name, ty == "u32"));
                }
            }
        }
        let rows: Vec<&str> = table_fields().collect();
        let every: Vec<u8> = (8..=13).collect();
        let minors_of = |field: &str| -> Vec<u8> {
            let mut m: Vec<u8> = ROWS
                .iter()
                .filter(|r| r.field == field)
                .flat_map(|r| r.minors.clone())
                .collect();
            m.sort_unstable();
            m.dedup();
            m
        };
        let mut missing = Vec::new();
        let mut wrong_type = Vec::new();
        let mut declared = Vec::new();
        let parsed: usize = group_type
            .iter()
            .map(|(_, ty)| fields_of.get(ty).map_or(0, Vec::len))
            .sum();
        assert!(parsed > 100, "parsed only {parsed} fields of layout.rs");
        for (group, ty) in group_type {
            for (f, plain) in fields_of.get(ty).into_iter().flatten() {
                let full = format!("{group}.{f}");
                declared.push(full.clone());
                if !rows.contains(&full.as_str()) {
                    missing.push(full);
                } else if *plain != (minors_of(&full) == every) {
                    wrong_type.push(full);
                }
            }
        }
        assert!(rows.len() > 100);
        assert!(missing.is_empty(), "no table row for {missing:?}");
        assert!(
            wrong_type.is_empty(),
            "u32 for a field of some versions, or Option<u32> for one of all: {wrong_type:?}"
        );
        // `layout_fields` (doctor's listing) follows the declarations.
        let listed: Vec<&str> = layout_fields(&Layout::default())
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(listed, declared);
    }
}
