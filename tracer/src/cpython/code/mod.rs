//! Code objects: names, local-variable slots and the decoded line table,
//! read once per code object into a [`CodeInfo`] and cached with a
//! fingerprint that detects the address being reused by another code
//! object. The reader is the version's: `varnames` (3.8-3.10: name tuples,
//! `co_lnotab` or the 3.10 `co_linetable`, decoded by `lnotab`) or
//! `localsplus` (3.11+: slot names and kinds, inline instructions, the
//! PEP 657 location table of `linetable`). `linewatch` follows a frame's
//! line without a trap.

pub(crate) mod linetable;
pub(crate) mod linewatch;
mod lnotab;
mod localsplus;
mod varnames;

pub use linewatch::LineWatch;

use std::sync::Arc;

use linetable::LocTable;

use super::version::CodeSlots;
use super::{Caches, DecodeError, Python};
use crate::addr::RemoteAddr;
use crate::memory::Memory;

/// Bound on a line table's size.
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
    fingerprint: [u64; 4],
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

/// [`code_info`], reading the code object with the version's reader (the
/// cache is validated against its header).
fn read_code_info(
    mem: &dyn Memory,
    py: &Python,
    caches: &mut Caches,
    addr: RemoteAddr,
) -> Result<Arc<CodeInfo>, DecodeError> {
    if addr.is_null() {
        return Err(DecodeError::inconsistent("frame without a code object"));
    }
    match py.facts.code.slots {
        CodeSlots::NameTuples => varnames::code_info(mem, py, caches, addr),
        CodeSlots::LocalsPlus => localsplus::code_info(mem, py, caches, addr),
    }
}

/// Keep `ci` for the code object at its address (the cache is bounded).
fn remember(caches: &mut Caches, ci: CodeInfo) -> Arc<CodeInfo> {
    let ci = Arc::new(ci);
    if caches.codes.len() > 100_000 {
        caches.codes.clear();
    }
    caches.codes.insert(ci.addr, ci.clone());
    ci
}
