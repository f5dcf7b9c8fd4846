//! `_Py_DebugOffsets` (3.13+): CPython's own table of struct offsets at the
//! start of `_PyRuntime`, cross-checked against the DWARF layout. A
//! disagreement means the DWARF does not describe this binary (a debug file
//! of another build), so it is an error naming the field.
//!
//! python.rs runs the check while it resolves the layout; this file takes
//! the interpreter's ELF files, not the `PythonImage`, so as not to import
//! python.rs back.

use crate::dwarf::TypeIndex;
use crate::elf::ElfPair;
use crate::error::SymbolsError;
use crate::layout::Layout;

/// The cookie `_Py_DebugOffsets` starts with.
const COOKIE: &[u8; 8] = b"xdebugpy";

/// `_Py_DebugOffsets` member path <- the Layout field it must equal (`None`:
/// the layout has no such field for this version).
type Check = (&'static str, &'static str, fn(&Layout) -> Option<u32>);

macro_rules! checks {
    ($( $path:literal => $g:ident . $f:ident, )*) => {
        // `into()`: the field is a `u32` or an `Option<u32>`.
        &[ $( ($path, concat!(stringify!($g), ".", stringify!($f)), |l: &Layout| l.$g.$f.into()), )* ]
    };
}

static CHECKS: &[Check] = checks! {
    "runtime_state.interpreters_head" => runtime.interpreters_head,
    "interpreter_state.next" => runtime.interp_next,
    "interpreter_state.threads_head" => runtime.interp_tstate_head,
    "thread_state.prev" => runtime.ts_prev,
    "thread_state.next" => runtime.ts_next,
    "thread_state.interp" => runtime.ts_interp,
    "thread_state.current_frame" => runtime.ts_current_frame,
    "thread_state.thread_id" => runtime.ts_thread_id,
    "thread_state.native_thread_id" => runtime.ts_native_thread_id,
    "interpreter_frame.previous" => iframe.previous,
    "interpreter_frame.executable" => iframe.f_code,
    "interpreter_frame.instr_ptr" => iframe.prev_instr,
    "interpreter_frame.localsplus" => iframe.localsplus,
    "interpreter_frame.owner" => iframe.owner,
    "code_object.filename" => code.co_filename,
    "code_object.name" => code.co_name,
    "code_object.qualname" => code.co_qualname,
    "code_object.linetable" => code.co_linetable,
    "code_object.firstlineno" => code.co_firstlineno,
    "code_object.argcount" => code.co_argcount,
    "code_object.localsplusnames" => code.co_localsplusnames,
    "code_object.localspluskinds" => code.co_localspluskinds,
    "code_object.co_code_adaptive" => code.co_code_adaptive,
    "pyobject.ob_type" => object.ob_type,
    "type_object.tp_name" => type_.tp_name,
    "type_object.tp_flags" => type_.tp_flags,
    "tuple_object.ob_item" => objects.tuple_ob_item,
    "tuple_object.ob_size" => object.ob_size,
    "list_object.ob_item" => objects.list_ob_item,
    "list_object.ob_size" => object.ob_size,
    "dict_object.ma_keys" => objects.dict_ma_keys,
    "dict_object.ma_values" => objects.dict_ma_values,
    "float_object.ob_fval" => objects.float_ob_fval,
    "long_object.lv_tag" => objects.long_lv_tag,
    "long_object.ob_digit" => objects.long_digit,
    "bytes_object.ob_size" => object.ob_size,
    "bytes_object.ob_sval" => objects.bytes_ob_sval,
    "unicode_object.state" => objects.unicode_state,
    "unicode_object.length" => objects.unicode_length,
    "unicode_object.asciiobject_size" => objects.ascii_size,
};

/// One value read from `_Py_DebugOffsets`: (debug path, layout field, value, getter).
type Value = (&'static str, &'static str, u64, fn(&Layout) -> Option<u32>);

/// Values read from `_Py_DebugOffsets`.
pub(crate) struct DebugOffsets {
    values: Vec<Value>,
}

/// Reads `_Py_DebugOffsets` from the static bytes of `_PyRuntime` in the
/// interpreter's `files`, placing each member by DWARF. `None` when the binary
/// has no such table (before 3.13) or `_PyRuntime` has no static bytes.
pub(crate) fn read(
    files: ElfPair<'_>,
    types: &TypeIndex<'_>,
) -> Result<Option<DebugOffsets>, SymbolsError> {
    const NAMES: &[&str] = &["_Py_DebugOffsets"];
    let Some(size) = types.struct_size(NAMES) else {
        log::debug!("no _Py_DebugOffsets in DWARF; skipping the cross-check");
        return Ok(None);
    };
    let Some(rt) = files.symbol("_PyRuntime") else {
        return Ok(None);
    };
    let Some(bytes) = usize::try_from(size)
        .ok()
        .and_then(|n| files.read_static(rt.addr, n))
    else {
        log::debug!("_PyRuntime has no static bytes; skipping the _Py_DebugOffsets cross-check");
        return Ok(None);
    };
    if bytes.get(..8) != Some(&COOKIE[..]) {
        return Err(SymbolsError::BadData {
            path: files.path().to_path_buf(),
            what: "_PyRuntime does not start with the _Py_DebugOffsets cookie \"xdebugpy\"".into(),
        });
    }
    let mut values = Vec::new();
    for &(path, field, get) in CHECKS {
        let Some(pos) = types.member_path(NAMES, path) else {
            log::debug!("_Py_DebugOffsets.{path} not in this version");
            continue;
        };
        let o = pos.byte_offset() as usize;
        let Some(b) = bytes.get(o..o + 8) else {
            continue;
        };
        let mut v = [0u8; 8];
        v.copy_from_slice(b);
        values.push((path, field, u64::from_le_bytes(v), get));
    }
    Ok(Some(DebugOffsets { values }))
}

/// Every value must equal the DWARF layout's (which must have the field).
pub(crate) fn check(dbg: &DebugOffsets, layout: &Layout) -> Result<(), SymbolsError> {
    for &(path, field, value, get) in &dbg.values {
        let ours = get(layout).map(u64::from);
        if ours != Some(value) {
            return Err(SymbolsError::DebugOffsetsMismatch {
                field: format!("{field} (_Py_DebugOffsets.{path})"),
                debug_offsets: value,
                dwarf: ours,
            });
        }
    }
    log::debug!(
        "_Py_DebugOffsets agrees with DWARF on {} fields",
        dbg.values.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elf::ElfFile;
    use crate::version::PythonVersion;

    const LIB313: &str = "3.13.0/lib/libpython3.13.so.1.0";

    /// Runs `f` on a pyenv libpython (DWARF embedded, no debug file) and its
    /// type index; `None` when the file is absent.
    fn with_lib<T>(rel: &str, f: impl FnOnce(ElfPair<'_>, &TypeIndex<'_>) -> T) -> Option<T> {
        let path = crate::pyenv(rel);
        if !path.exists() {
            eprintln!("{} absent; skipping", path.display());
            return None;
        }
        let elf = ElfFile::open(&path).unwrap();
        let files = ElfPair {
            main: &elf,
            debug: None,
        };
        Some(crate::dwarf::with_types(&elf, |t| f(files, t)).unwrap())
    }

    #[test]
    fn cross_check_313_and_detect_a_mismatch() {
        let Some((layout, dbg)) = with_lib(LIB313, |files, t| {
            (
                crate::resolve::resolve(t, PythonVersion::new(3, 13, 0)).unwrap(),
                read(files, t).unwrap().expect("3.13 has _Py_DebugOffsets"),
            )
        }) else {
            return;
        };
        assert!(
            dbg.values.len() >= 35,
            "only {} fields checked",
            dbg.values.len()
        );
        check(&dbg, &layout).unwrap();
        let mut wrong = layout.clone();
        wrong.iframe.prev_instr = wrong.iframe.prev_instr.map(|o| o + 8);
        let err = check(&dbg, &wrong).unwrap_err().to_string();
        assert!(err.contains("iframe.prev_instr"), "{err}");
        assert!(err.contains("interpreter_frame.instr_ptr"), "{err}");
    }

    #[test]
    fn older_versions_have_no_table() {
        let lib = "3.11.7/lib/libpython3.11.so.1.0";
        if let Some(none) = with_lib(lib, |files, t| read(files, t).unwrap().is_none()) {
            assert!(none);
        }
    }
}
