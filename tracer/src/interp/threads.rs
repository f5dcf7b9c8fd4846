//! The thread states of a running interpreter, and hooking all of them: at
//! attach every existing thread, and while recording every thread born since
//! (its `PyThreadState` is allocated and linked by the parent before the
//! clone, so it is in the list when the clone event stops the parent, and
//! the new thread has not run a single instruction yet). Unhooking finds its
//! work by the trap address in `c_tracefunc`, so no list has to be kept.

use symbols::Layout;

use crate::addr::RemoteAddr;
use crate::interp::hook;
use crate::memory::procmem::ProcMem;
use crate::memory::{MemError, Memory};
use crate::probe::Probe;

/// Bound on interpreters walked (sub-interpreters are rare).
const MAX_INTERPRETERS: usize = 256;

/// Bound on thread states walked per interpreter.
const MAX_THREADS: usize = 100_000;

/// Every `PyThreadState` of every interpreter of the runtime at `runtime`
/// (`_PyRuntime`), in list order. Reading stops at a bound or at the first
/// unreadable link (the target's memory is untrusted).
pub fn thread_states(
    mem: &ProcMem,
    layout: &Layout,
    runtime: RemoteAddr,
) -> Result<Vec<RemoteAddr>, MemError> {
    let rt = &layout.runtime;
    let mut out = Vec::new();
    let mut interp = mem.read_ptr(runtime.at(rt.interpreters_head))?;
    for _ in 0..MAX_INTERPRETERS {
        if interp.is_null() {
            break;
        }
        let mut ts = mem.read_ptr(interp.at(rt.interp_tstate_head))?;
        for _ in 0..MAX_THREADS {
            if ts.is_null() || out.contains(&ts) {
                break;
            }
            out.push(ts);
            ts = mem.read_ptr(ts.at(rt.ts_next))?;
        }
        interp = mem.read_ptr(interp.at(rt.interp_next))?;
    }
    Ok(out)
}

/// What [`hook_all`] found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HookCount {
    /// Thread states hooked by this call.
    pub hooked: usize,
    /// Thread states that already had the trap as trace function.
    pub already: usize,
    /// Of those hooked, thread states whose own trace function (the
    /// program's `sys.settrace`) now runs from the probe.
    pub chained: usize,
    /// Thread states left alone: another trace function is set, and there
    /// is no probe to run it from.
    pub foreign: usize,
}

/// Hook every thread state that has no C trace function yet with
/// [`hook::install_running`], or the probe an earlier hindsight left (it
/// was killed: its probe was disarmed, and stays the trace function). A
/// thread state with the program's own trace function gets the probe,
/// which runs that function after itself (its chain, [`own_trace`]);
/// without a probe it is left alone and counted.
///
/// With `calls` (3.12+ at attach: tracing is switched on by a call of
/// `_PyEval_SetTrace` in the target, not by writes), a thread state with no
/// trace function is only listed there, for the caller to call for; the
/// others are tracing already, and only their function changes.
///
/// [`own_trace`]: crate::interp::own_trace
pub fn hook_all(
    mem: &ProcMem,
    layout: &Layout,
    runtime: RemoteAddr,
    trap: RemoteAddr,
    mut probe: Option<&mut Probe>,
    mut calls: Option<&mut Vec<RemoteAddr>>,
) -> Result<HookCount, MemError> {
    let mut count = HookCount::default();
    let left = left_probes(mem.pid());
    let rt = &layout.runtime;
    for ts in thread_states(mem, layout, runtime)? {
        let func = mem.read_u64(ts.at(rt.ts_c_tracefunc))?;
        let obj = mem.read_u64(ts.at(rt.ts_c_traceobj))?;
        if func == trap.0 {
            count.already += 1;
        } else if func == 0 {
            match calls.as_deref_mut() {
                Some(list) => list.push(ts),
                None => hook::install_running(mem, layout, runtime, ts, trap)?,
            }
            count.hooked += 1;
        } else if left.iter().any(|m| m.contains(func)) {
            // The killed hindsight's chain, if it had one, goes on here.
            if let Some(p) = probe.as_deref_mut() {
                if let Some(f) = p.left_chain(mem, RemoteAddr(func), obj) {
                    p.set_chain(obj, f);
                    count.chained += 1;
                }
            }
            if calls.is_some() {
                hook::set_trace_function(mem, layout, ts, trap)?;
            } else {
                hook::install_running(mem, layout, runtime, ts, trap)?;
            }
            count.hooked += 1;
        } else if let Some(p) = probe.as_deref_mut().filter(|_| obj != 0) {
            if p.set_chain(obj, func) {
                // Tracing is already on for it (its counts and flags are
                // the program's): only the function changes.
                hook::set_trace_function(mem, layout, ts, trap)?;
                count.hooked += 1;
                count.chained += 1;
            } else {
                count.foreign += 1;
            }
        } else {
            count.foreign += 1;
        }
    }
    if count.hooked > 0 {
        log::debug!(target: "tracer::threads", "hooked {} thread states ({} with the program's own trace function)", count.hooked, count.chained);
    }
    Ok(count)
}

/// Unhook every thread state whose C trace function is `trap`: the
/// program's own trace function, where the probe ran one for its trace
/// object, becomes its trace function again; the others are left as if
/// never traced. Every thread of the target must be stopped. Returns how
/// many were unhooked; keeps going past a thread state it cannot restore
/// and reports the first failure after the others are done.
pub fn unhook_all(
    mem: &ProcMem,
    layout: &Layout,
    runtime: RemoteAddr,
    trap: RemoteAddr,
    probe: Option<&Probe>,
) -> Result<usize, MemError> {
    let mut n = 0;
    let mut first_err = None;
    for ts in thread_states(mem, layout, runtime)? {
        let func = mem.read_u64(ts.at(layout.runtime.ts_c_tracefunc))?;
        if func != trap.0 {
            continue;
        }
        match unhook_one(mem, layout, runtime, ts, probe) {
            Ok(()) => n += 1,
            Err(e) => {
                log::warn!(target: "tracer::threads", "cannot unhook thread state {ts}: {e}");
                first_err.get_or_insert(e);
            }
        }
    }
    first_err.map_or(Ok(n), Err)
}

/// Unhook one thread state: its program's own trace function back, or
/// [`hook::uninstall_running`].
pub fn unhook_one(
    mem: &ProcMem,
    layout: &Layout,
    runtime: RemoteAddr,
    ts: RemoteAddr,
    probe: Option<&Probe>,
) -> Result<(), MemError> {
    let obj = mem.read_u64(ts.at(layout.runtime.ts_c_traceobj))?;
    match probe.and_then(|p| p.chain_of(obj)) {
        Some(f) => hook::set_trace_function(mem, layout, ts, RemoteAddr(f)),
        None => hook::uninstall_running(mem, layout, runtime, ts),
    }
}

/// Every thread stopped: [`hook::retrace_lost`] for every thread state of
/// the runtime at `runtime`; how many had lost tracing.
pub fn retrace_all(
    mem: &ProcMem,
    layout: &Layout,
    runtime: RemoteAddr,
    hook_fn: RemoteAddr,
) -> Result<usize, MemError> {
    let mut n = 0;
    for ts in thread_states(mem, layout, runtime)? {
        if hook::retrace_lost(mem, layout, ts, hook_fn)? {
            log::debug!(target: "tracer::threads", "thread state {ts} had lost tracing: switched on again");
            n += 1;
        }
    }
    Ok(n)
}

/// Bound on frames walked per thread.
const MAX_FRAMES: usize = 100_000;

/// Turn line events back on (`f_trace_lines = 1`, CPython's default) for
/// every frame object on every thread's stack: the recorder switched them
/// off in frames it does not record. Frames not on a stack (suspended
/// generators) are not reached; frames that are gone need nothing. Every
/// thread must be stopped. Versions whose stack cannot be walked here
/// (3.13's `current_frame`) are left as they are.
pub fn restore_line_events(
    mem: &ProcMem,
    layout: &Layout,
    runtime: RemoteAddr,
) -> Result<usize, MemError> {
    let rt = &layout.runtime;
    let ifr = &layout.iframe;
    let mut n = 0;
    for ts in thread_states(mem, layout, runtime)? {
        // The frame objects of this thread, innermost first.
        let mut objs = Vec::new();
        if let Some(ts_frame) = rt.ts_frame {
            // 3.8-3.10: the frame object is the frame.
            let mut f = mem.read_ptr(ts.at(ts_frame))?;
            while !f.is_null() && objs.len() < MAX_FRAMES {
                objs.push(f);
                f = mem.read_ptr(f.at(layout.frame.f_back))?;
            }
        } else if let (Some(ts_cframe), Some(current_frame), Some(frame_obj), Some(previous)) = (
            rt.ts_cframe,
            rt.cframe_current_frame,
            ifr.frame_obj,
            ifr.previous,
        ) {
            // 3.11-3.12: interpreter frames, each with its frame object if
            // one was ever made (the trace function's argument is one).
            let cframe = mem.read_ptr(ts.at(ts_cframe))?;
            if cframe.is_null() {
                continue;
            }
            let mut f = mem.read_ptr(cframe.at(current_frame))?;
            let mut walked = 0;
            while !f.is_null() && walked < MAX_FRAMES {
                let obj = mem.read_ptr(f.at(frame_obj))?;
                if !obj.is_null() {
                    objs.push(obj);
                }
                f = mem.read_ptr(f.at(previous))?;
                walked += 1;
            }
        }
        for obj in objs {
            let at = obj.at(layout.frame.f_trace_lines);
            let mut b = [0u8; 1];
            mem.read(at, &mut b)?;
            if b[0] == 0 {
                mem.write(at, &[1])?;
                n += 1;
            }
        }
    }
    Ok(n)
}

/// Undo the trace hook of a 3.8-3.11 interpreter (every thread state, and
/// line events of the frames on the stacks) while every thread is stopped
/// but none is in the trap: detaching in the middle of a blocked wait.
pub fn unhook_running(
    mem: &ProcMem,
    layout: &Layout,
    runtime: RemoteAddr,
    tstate: RemoteAddr,
    trap: RemoteAddr,
    probe: Option<&Probe>,
) -> Result<(), MemError> {
    unhook_one(mem, layout, runtime, tstate, probe)?;
    unhook_all(mem, layout, runtime, trap, probe)?;
    if let Err(e) = restore_line_events(mem, layout, runtime) {
        log::warn!(target: "tracer::hook", "line events not restored in some frame: {e}");
    }
    Ok(())
}

/// The code of probes earlier runs of hindsight placed in process `pid`
/// (mappings named `hindsight-probe`, executable).
fn left_probes(pid: i32) -> Vec<symbols::maps::Mapping> {
    let maps = symbols::maps::read_maps(pid).unwrap_or_default();
    maps.into_iter()
        .filter(|m| {
            m.is_exec()
                && m.path
                    .as_ref()
                    .is_some_and(|p| p.to_string_lossy().contains("hindsight-probe"))
        })
        .collect()
}
