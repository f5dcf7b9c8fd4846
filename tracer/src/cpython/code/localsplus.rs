//! Code objects of CPython 3.11+: the slot names and kinds of
//! `localsplus` (`co_localsplusnames`, `co_localspluskinds`), the
//! qualified name, the instructions inline (`co_code_adaptive`) and the
//! PEP 657 location table.

use std::sync::Arc;

use super::linetable::LocTable;
use super::{remember, CodeInfo, MAX_LINETABLE};
use crate::addr::RemoteAddr;
use crate::cpython::objects::read::{ptr_at, read_upto, u32_at, u64_at};
use crate::cpython::objects::{bytes_data, read_name, tuple_items};
use crate::cpython::{Caches, DecodeError, Python};
use crate::memory::Memory;

/// Bound on `co_nlocalsplus` (CPython's own limit is far lower in practice).
const MAX_LOCALSPLUS: usize = 1 << 16;

/// Bytes read of a code object whose instructions start at byte `adaptive`:
/// everything up to them, plus the first code unit.
fn header_len(adaptive: u32) -> usize {
    (adaptive as usize).saturating_add(2).min(4096)
}

fn fingerprint(py: &Python, buf: &[u8]) -> [u64; 4] {
    let c = &py.layout.code;
    [
        u64_or0(buf, py.layout.object.ob_type),
        u64_or0(buf, c.co_filename),
        u64_or0(buf, c.co_linetable),
        u64_or0(buf, c.co_localsplusnames),
    ]
}

fn u64_or0(buf: &[u8], off: impl Into<Option<u32>>) -> u64 {
    u64_at(buf, off).unwrap_or(0)
}

/// The [`CodeInfo`] of the 3.11+ code object at `addr` (not NULL), from the
/// cache when its fingerprint still matches.
pub(super) fn code_info(
    mem: &dyn Memory,
    py: &Python,
    caches: &mut Caches,
    addr: RemoteAddr,
) -> Result<Arc<CodeInfo>, DecodeError> {
    let c = &py.layout.code;
    let Some(adaptive) = c.co_code_adaptive else {
        return Err(DecodeError::inconsistent(
            "the layout table lacks co_code_adaptive of CPython 3.11+",
        ));
    };
    let len = header_len(adaptive);
    let buf = read_upto(mem, addr, len, len)?;
    let fp = fingerprint(py, &buf);
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
    let name_off = c.co_qualname.unwrap_or(c.co_name);
    let file = read_name(
        mem,
        py,
        caches,
        ptr_at(&buf, c.co_filename).unwrap_or_default(),
    )
    .map_err(|e| DecodeError::inconsistent(format!("co_filename of code at {addr}: {e}")))?;
    let function = read_name(mem, py, caches, ptr_at(&buf, name_off).unwrap_or_default())
        .map_err(|e| DecodeError::inconsistent(format!("co_qualname of code at {addr}: {e}")))?;
    let flags = u32_at(&buf, c.co_flags).unwrap_or(0);
    let firstlineno = u32_at(&buf, c.co_firstlineno).unwrap_or(0) as i32 as i64;
    let first_traceable = u32_at(&buf, c.co_firsttraceable).unwrap_or(0);
    let code_start = addr.at(adaptive);
    let first_opcode = buf.get(adaptive as usize).copied().unwrap_or(0);

    // Names: a tuple of str.
    let names_tuple = ptr_at(&buf, c.co_localsplusnames).unwrap_or_default();
    let name_ptrs = tuple_items(mem, py, names_tuple, MAX_LOCALSPLUS).map_err(|e| {
        DecodeError::inconsistent(format!("co_localsplusnames of code at {addr}: {e}"))
    })?;
    let mut localsplus_names = Vec::with_capacity(name_ptrs.len());
    for p in name_ptrs {
        let n = read_name(mem, py, caches, p)
            .map_err(|e| DecodeError::inconsistent(format!("local name of code at {addr}: {e}")))?;
        localsplus_names.push(n);
    }
    // Kinds: a bytes object, one byte per slot.
    let kinds = ptr_at(&buf, c.co_localspluskinds).unwrap_or_default();
    let localsplus_kinds = bytes_data(mem, py, kinds, MAX_LOCALSPLUS)
        .map_err(|e| {
            DecodeError::inconsistent(format!("co_localspluskinds of code at {addr}: {e}"))
        })?
        .0;
    if localsplus_kinds.len() != localsplus_names.len() {
        return Err(DecodeError::inconsistent(format!(
            "code at {addr}: {} local names but {} kinds",
            localsplus_names.len(),
            localsplus_kinds.len()
        )));
    }
    let nfreevars = localsplus_kinds
        .iter()
        .filter(|&&k| k & py.facts.code.kinds.free != 0)
        .count();
    let table = ptr_at(&buf, c.co_linetable).unwrap_or_default();
    let lines = match bytes_data(mem, py, table, MAX_LINETABLE) {
        Ok((t, _)) => LocTable::decode(&t, firstlineno),
        Err(e) => {
            log::debug!(target: "tracer::cpython", "code at {addr}: no line table: {e}");
            LocTable::default()
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
            first_traceable,
            code_start,
            nfreevars,
            first_opcode,
            lines,
            fingerprint: fp,
        },
    ))
}
