//! Code objects: names, local-variable tables and the decoded location table,
//! read once per code object and cached with a fingerprint that detects the
//! address being reused by another code object.

use std::sync::Arc;

use super::linetable::LocTable;
use super::read::{ptr_at, read_upto, u32_at};
use super::{objects, Caches, DecodeError, Python};
use crate::addr::RemoteAddr;
use crate::memory::Memory;

/// Bound on `co_nlocalsplus` (CPython's own limit is far lower in practice).
const MAX_LOCALSPLUS: usize = 1 << 16;
/// Bound on a location table's size.
const MAX_LINETABLE: usize = 16 << 20;

/// What the decoder knows about one code object.
#[derive(Debug, Clone)]
pub struct CodeInfo {
    /// `co_filename`.
    pub file: Arc<str>,
    /// `co_qualname` (3.11+), `co_name` before.
    pub function: Arc<str>,
    /// The code object's address.
    pub addr: RemoteAddr,
    pub flags: u32,
    pub firstlineno: i64,
    /// Names of the `localsplus` slots, in slot order.
    pub localsplus_names: Vec<Arc<str>>,
    /// `co_localspluskinds`, one byte per slot.
    pub localsplus_kinds: Vec<u8>,
    /// `_co_firsttraceable`, in code units.
    pub first_traceable: u32,
    /// Address of the first code unit (`co_code_adaptive`).
    pub code_start: RemoteAddr,
    /// Number of free variables (slots at the end of `localsplus`).
    pub nfreevars: usize,
    /// First opcode (to tell whether `COPY_FREE_VARS` still has to run).
    pub first_opcode: u8,
    /// The location table.
    pub lines: LocTable,
    pub(super) fingerprint: [u64; 4],
}

impl CodeInfo {
    /// Code unit index of `prev_instr` (negative before the first instruction).
    pub fn lasti(&self, prev_instr: RemoteAddr) -> i64 {
        (prev_instr.0 as i64).wrapping_sub(self.code_start.0 as i64) / 2
    }

    /// `PyCode_Addr2Line` at code unit `lasti`.
    pub fn line_at(&self, lasti: i64) -> u32 {
        if lasti < 0 {
            return u32::try_from(self.firstlineno).unwrap_or(0);
        }
        u32::try_from(lasti)
            .ok()
            .and_then(|u| self.lines.line(u))
            .unwrap_or(0)
    }
}

fn header_len(py: &Python) -> usize {
    let c = &py.layout.code;
    // Everything up to the inline instructions, plus the first code unit.
    (c.co_code_adaptive as usize).saturating_add(2).min(4096)
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

fn u64_or0(buf: &[u8], off: u32) -> u64 {
    super::read::u64_at(buf, off).unwrap_or(0)
}

/// The [`CodeInfo`] of the code object at `addr`, from the cache when its
/// fingerprint still matches.
pub(crate) fn code_info(
    mem: &dyn Memory,
    py: &Python,
    caches: &mut Caches,
    addr: RemoteAddr,
    top: bool,
) -> Result<Arc<CodeInfo>, DecodeError> {
    if caches.stops.code_trusted(addr, top) {
        if let Some(ci) = caches.codes.get(&addr) {
            let ci = ci.clone();
            caches.stops.saw_code(addr);
            return Ok(ci);
        }
    }
    let ci = read_code_info(mem, py, caches, addr)?;
    caches.stops.saw_code(addr);
    Ok(ci)
}

/// [`code_info`], reading the code object (the cache is validated against
/// its header).
fn read_code_info(
    mem: &dyn Memory,
    py: &Python,
    caches: &mut Caches,
    addr: RemoteAddr,
) -> Result<Arc<CodeInfo>, DecodeError> {
    if addr.is_null() {
        return Err(DecodeError::inconsistent("frame without a code object"));
    }
    if py.layout.code.co_varnames != symbols::NA {
        return super::code_legacy::code_info(mem, py, caches, addr);
    }
    let len = header_len(py);
    let buf = read_upto(mem, addr, len, len)?;
    let fp = fingerprint(py, &buf);
    if let Some(ci) = caches.codes.get(&addr) {
        if ci.fingerprint == fp {
            return Ok(ci.clone());
        }
    }
    let c = &py.layout.code;
    let ob_type = ptr_at(&buf, py.layout.object.ob_type).unwrap_or_default();
    if ob_type != py.types.code {
        return Err(DecodeError::inconsistent(format!(
            "object at {addr} is not a code object (type {ob_type})"
        )));
    }
    let name_off = if c.co_qualname != symbols::NA {
        c.co_qualname
    } else {
        c.co_name
    };
    let file = objects::read_name(
        mem,
        py,
        caches,
        ptr_at(&buf, c.co_filename).unwrap_or_default(),
    )
    .map_err(|e| DecodeError::inconsistent(format!("co_filename of code at {addr}: {e}")))?;
    let function = objects::read_name(mem, py, caches, ptr_at(&buf, name_off).unwrap_or_default())
        .map_err(|e| DecodeError::inconsistent(format!("co_qualname of code at {addr}: {e}")))?;
    let flags = u32_at(&buf, c.co_flags).unwrap_or(0);
    let firstlineno = u32_at(&buf, c.co_firstlineno).unwrap_or(0) as i32 as i64;
    let first_traceable = u32_at(&buf, c.co_firsttraceable).unwrap_or(0);
    let code_start = addr.at(c.co_code_adaptive);
    let first_opcode = buf.get(c.co_code_adaptive as usize).copied().unwrap_or(0);

    // Names: a tuple of str.
    let names_tuple = ptr_at(&buf, c.co_localsplusnames).unwrap_or_default();
    let name_ptrs = objects::tuple_items(mem, py, names_tuple, MAX_LOCALSPLUS).map_err(|e| {
        DecodeError::inconsistent(format!("co_localsplusnames of code at {addr}: {e}"))
    })?;
    let mut localsplus_names = Vec::with_capacity(name_ptrs.len());
    for p in name_ptrs {
        let n = objects::read_name(mem, py, caches, p)
            .map_err(|e| DecodeError::inconsistent(format!("local name of code at {addr}: {e}")))?;
        localsplus_names.push(n);
    }
    // Kinds: a bytes object, one byte per slot.
    let kinds = ptr_at(&buf, c.co_localspluskinds).unwrap_or_default();
    let localsplus_kinds = objects::bytes_data(mem, py, kinds, MAX_LOCALSPLUS)
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
        .filter(|&&k| k & super::v311::CO_FAST_FREE != 0)
        .count();
    let table = ptr_at(&buf, c.co_linetable).unwrap_or_default();
    let lines = match objects::bytes_data(mem, py, table, MAX_LINETABLE) {
        Ok((t, _)) => LocTable::decode(&t, firstlineno),
        Err(e) => {
            log::debug!(target: "tracer::cpython", "code at {addr}: no line table: {e}");
            LocTable::default()
        }
    };
    let ci = Arc::new(CodeInfo {
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
    });
    if caches.codes.len() > 100_000 {
        caches.codes.clear();
    }
    caches.codes.insert(addr, ci.clone());
    Ok(ci)
}
