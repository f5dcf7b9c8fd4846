//! Making the interpreter report its steps: point `tstate->c_tracefunc` of
//! CPython 3.11 at a trap address (a libpython function that only returns 0)
//! and turn on `use_tracing`, so that CPython's own tracing machinery calls it
//! with (obj, frame, what, arg) for every call, line, return and exception
//! event: one trap a step, semantics of `sys.settrace` by construction.
//! Undone on detach.

use symbols::Layout;

use crate::addr::RemoteAddr;
use crate::mem::{MemError, Memory};
use crate::procmem::ProcMem;

/// The libpython function trapped on: `none_bool` is `xor eax,eax; ret`, so
/// a caller that is not the tracing machinery gets exactly its behaviour when
/// the trap handler performs `return 0`.
pub const TRAP_FUNCTION: &str = "none_bool";

/// `use_tracing` value CPython 3.11 stores when a trace function is set.
const USE_TRACING_ON: u8 = 255;

/// The thread state that currently holds the GIL (3.8-3.11:
/// `_PyRuntime.gilstate.tstate_current`).
pub fn current_tstate(
    mem: &ProcMem,
    layout: &Layout,
    runtime: RemoteAddr,
) -> Result<RemoteAddr, MemError> {
    mem.read_ptr(runtime.at(layout.runtime.gilstate_tstate_current))
}

/// Install `trap` as the C trace function of `tstate` and switch tracing on
/// for its current C frame (3.11: new `_PyCFrame`s inherit `use_tracing` from
/// the one that is current when they are pushed).
pub fn install(
    mem: &ProcMem,
    layout: &Layout,
    tstate: RemoteAddr,
    trap: RemoteAddr,
) -> Result<(), MemError> {
    let rt = &layout.runtime;
    mem.write(tstate.at(rt.ts_c_tracefunc), &trap.0.to_ne_bytes())?;
    let cframe = mem.read_ptr(tstate.at(rt.ts_cframe))?;
    if !cframe.is_null() {
        mem.write(cframe.at(rt.cframe_use_tracing), &[USE_TRACING_ON])?;
    }
    log::debug!(target: "tracer::hook", "trace hook at {trap} installed in thread state {tstate}");
    Ok(())
}

/// Remove the trace function from `tstate` and switch `use_tracing` off on
/// every C frame of its chain, leaving the thread as if never traced.
pub fn uninstall(mem: &ProcMem, layout: &Layout, tstate: RemoteAddr) -> Result<(), MemError> {
    let rt = &layout.runtime;
    mem.write(tstate.at(rt.ts_c_tracefunc), &0u64.to_ne_bytes())?;
    let profiling = mem.read_u64(tstate.at(rt.ts_c_profilefunc))? != 0;
    if profiling {
        // Another profiler still needs use_tracing; leave the flags to it.
        return Ok(());
    }
    let mut cframe = mem.read_ptr(tstate.at(rt.ts_cframe))?;
    // C frames chain through `previous`; bound the walk against corrupt memory.
    for _ in 0..100_000 {
        if cframe.is_null() {
            break;
        }
        mem.write(cframe.at(rt.cframe_use_tracing), &[0])?;
        cframe = mem.read_ptr(cframe.at(rt.cframe_previous))?;
    }
    Ok(())
}

/// Stop line events for one frame (a `PyFrameObject`): what a recorder does
/// for frames whose lines it does not record, so they cost no trap per line.
pub fn disable_line_events(
    mem: &ProcMem,
    layout: &Layout,
    frame: RemoteAddr,
) -> Result<(), MemError> {
    mem.write(frame.at(layout.frame.f_trace_lines), &[0])
}
