//! Code objects of CPython 3.8-3.10: no `co_localsplusnames` yet, so the
//! slot names are `co_varnames[:co_nlocals] + co_cellvars + co_freevars`
//! (the order of `f_localsplus`), the function name is `co_name`, and the
//! line table is `co_lnotab` (3.8-3.9) or the PEP 626 `co_linetable` (3.10).
//! Produces the same [`CodeInfo`] as the 3.11+ reader (`localsplus`).

use std::sync::Arc;

use super::{lnotab, remember, CodeInfo, MAX_LINETABLE};
use crate::addr::RemoteAddr;
use crate::cpython::objects::read::{ptr_at, read_upto, u32_at, u64_at};
use crate::cpython::objects::{bytes_data, read_name, tuple_items};
use crate::cpython::version::LineTable;
use crate::cpython::{Caches, DecodeError, Python};
use crate::memory::Memory;

/// Bound on names per tuple (CPython's own limits are far lower in practice).
const MAX_NAMES: usize = 1 << 16;

fn u64_or0(buf: &[u8], off: u32) -> u64 {
    u64_at(buf, off).unwrap_or(0)
}

/// Names of one tuple of the code object at `addr` (`what` for messages).
fn names(
    mem: &dyn Memory,
    py: &Python,
    caches: &mut Caches,
    tuple: RemoteAddr,
    addr: RemoteAddr,
    what: &str,
) -> Result<Vec<Arc<str>>, DecodeError> {
    let ptrs = tuple_items(mem, py, tuple, MAX_NAMES)
        .map_err(|e| DecodeError::inconsistent(format!("{what} of code at {addr}: {e}")))?;
    ptrs.into_iter()
        .map(|p| {
            read_name(mem, py, caches, p).map_err(|e| {
                DecodeError::inconsistent(format!("a name in {what} of code at {addr}: {e}"))
            })
        })
        .collect()
}

/// The [`CodeInfo`] of the 3.8-3.10 code object at `addr`, from the cache
/// when its fingerprint still matches.
pub(super) fn code_info(
    mem: &dyn Memory,
    py: &Python,
    caches: &mut Caches,
    addr: RemoteAddr,
) -> Result<Arc<CodeInfo>, DecodeError> {
    let c = &py.layout.code;
    let lnotab = py.facts.code.lines == LineTable::Lnotab;
    let table = if lnotab { c.co_lnotab } else { c.co_linetable };
    let (Some(varnames_off), Some(cellvars_off), Some(freevars_off), Some(table_off)) =
        (c.co_varnames, c.co_cellvars, c.co_freevars, table)
    else {
        return Err(DecodeError::inconsistent(
            "the layout table lacks a code object field of CPython 3.8-3.10",
        ));
    };
    let fields = [
        py.layout.object.ob_type,
        c.co_filename,
        c.co_name,
        c.co_flags,
        c.co_firstlineno,
        c.co_nlocals,
        varnames_off,
        cellvars_off,
        freevars_off,
        table_off,
    ];
    let len = fields.iter().copied().max().unwrap_or(0) as usize + 8;
    let buf = read_upto(mem, addr, len, len)?;
    let fp = [
        u64_or0(&buf, py.layout.object.ob_type),
        u64_or0(&buf, c.co_filename),
        u64_or0(&buf, table_off),
        u64_or0(&buf, varnames_off),
    ];
    if let Some(ci) = caches.codes.get(&addr) {
        if ci.fingerprint == fp {
            return Ok(ci.clone());
        }
    }
    let ob_type = ptr_at(&buf, py.layout.object.ob_type).unwrap_or_default();
    if ob_type != py.types.code {
        return Err(DecodeError::inconsistent(format!(
            "object at {addr} is not a code object (type {ob_type})"
        )));
    }
    let p = |off| ptr_at(&buf, off).unwrap_or_default();
    let file = read_name(mem, py, caches, p(c.co_filename))
        .map_err(|e| DecodeError::inconsistent(format!("co_filename of code at {addr}: {e}")))?;
    let function = read_name(mem, py, caches, p(c.co_name))
        .map_err(|e| DecodeError::inconsistent(format!("co_name of code at {addr}: {e}")))?;
    let flags = u32_at(&buf, c.co_flags).unwrap_or(0);
    let firstlineno = u32_at(&buf, c.co_firstlineno).unwrap_or(0) as i32 as i64;
    let nlocals = u32_at(&buf, c.co_nlocals).unwrap_or(0) as i32;

    // f_localsplus: co_nlocals plain slots, then one per cell, then one per free.
    let mut varnames = names(mem, py, caches, p(varnames_off), addr, "co_varnames")?;
    varnames.truncate(usize::try_from(nlocals).unwrap_or(0));
    let cellvars = names(mem, py, caches, p(cellvars_off), addr, "co_cellvars")?;
    let freevars = names(mem, py, caches, p(freevars_off), addr, "co_freevars")?;
    let nfreevars = freevars.len();
    // The slots get the kinds 3.11+ code objects would give them.
    let kinds = &py.facts.code.kinds;
    let mut localsplus_kinds = Vec::with_capacity(varnames.len() + cellvars.len() + nfreevars);
    localsplus_kinds.resize(varnames.len(), kinds.local);
    localsplus_kinds.resize(varnames.len() + cellvars.len(), kinds.cell);
    localsplus_kinds.resize(varnames.len() + cellvars.len() + nfreevars, kinds.free);
    let mut localsplus_names = varnames;
    localsplus_names.extend(cellvars);
    localsplus_names.extend(freevars);

    let lines = match bytes_data(mem, py, p(table_off), MAX_LINETABLE) {
        Ok((t, _)) if lnotab => lnotab::decode_lnotab(&t, firstlineno),
        Ok((t, _)) => lnotab::decode_linetable_310(&t, firstlineno),
        Err(e) => {
            log::debug!(target: "tracer::cpython", "code at {addr}: no line table: {e}");
            Default::default()
        }
    };
    Ok(remember(
        caches,
        CodeInfo {
            file,
            function,
            addr,
            flags,
            firstlineno,
            localsplus_names,
            localsplus_kinds,
            first_traceable: 0,
            code_start: RemoteAddr::NULL,
            nfreevars,
            first_opcode: 0,
            lines,
            fingerprint: fp,
        },
    ))
}
