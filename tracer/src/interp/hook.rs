//! Making the interpreter report its steps: point `tstate->c_tracefunc` of
//! CPython 3.11 at a trap address (a libpython function that only returns 0)
//! and turn on `use_tracing`, so that CPython's own tracing machinery calls it
//! with (obj, frame, what, arg) for every call, line, return and exception
//! event: one trap a step, semantics of `sys.settrace` by construction.
//! 3.12+ implement `sys.settrace` on sys.monitoring, so there the same trap
//! is installed by calling `_PyEval_SetTrace` in the target
//! ([`install_by_call`]). Undone on detach, except that the padding after
//! the trap function keeps the copy of it the trap was (`nop; xor eax,eax;
//! ret`): a thread inside it when the trap is removed still returns 0, and
//! nothing else ever runs it.

use symbols::Layout;

use crate::addr::RemoteAddr;
use crate::cpython::version::Facts;
use crate::memory::procmem::ProcMem;
use crate::memory::{MemError, Memory};
use crate::probe::{Probe, ProbeMode};
use crate::ptrace::{TraceError, Tracee};

/// The libpython function trapped on: `none_bool` is `xor eax,eax; ret`.
/// The trap is a copy of it in the padding after it, led by an int3
/// ([`trap_address`]), or, without room there, the function itself with its
/// `return 0` performed by the tracer; either way a caller that is not the
/// tracing machinery gets exactly its behaviour.
pub const TRAP_FUNCTION: &str = "none_bool";

/// Where the trace function points: a returning trap next to
/// [`TRAP_FUNCTION`] when its padding allows one (the trap then costs no
/// register write), else the function itself (its `return 0` performed by
/// the tracer); and which of the two.
pub fn trap_address(
    tracee: &mut Tracee,
    function: RemoteAddr,
) -> Result<(RemoteAddr, bool), TraceError> {
    Ok(match tracee.prepare_returning_trap(function)? {
        Some(stub) => (stub, true),
        None => {
            log::info!(target: "tracer::hook", "no room for a returning trap after {TRAP_FUNCTION}: its return is emulated");
            (function, false)
        }
    })
}

/// Where the trace function points (`hook_fn`) and where a thread calling
/// it stops (`addr`), as [`choose_trap`] set them up.
pub struct Trap {
    pub hook_fn: RemoteAddr,
    pub addr: RemoteAddr,
    /// The stopped thread returns 0 by itself when resumed.
    pub returning: bool,
    /// The probe, when the trace function is its entry.
    pub probe: Option<Probe>,
}

/// The probe (placed with the stopped thread `tid`) unless `probe` is off
/// or the target does not allow it, else [`trap_address`]'s trap next to
/// `function`.
pub fn choose_trap(
    tracee: &mut Tracee,
    tid: crate::addr::Tid,
    function: RemoteAddr,
    probe: ProbeMode,
) -> Result<Trap, TraceError> {
    if probe != ProbeMode::Off {
        let at = tracee.entry_point()?;
        match Probe::install(tracee, tid, at, probe) {
            Ok(p) => {
                return Ok(Trap {
                    hook_fn: p.entry(),
                    addr: p.trap(),
                    returning: true,
                    probe: Some(p),
                })
            }
            Err(e) => {
                log::warn!(target: "tracer::hook", "recording without the probe (each stop reads the target with process_vm_readv): {e}");
            }
        }
    }
    let (addr, returning) = trap_address(tracee, function)?;
    Ok(Trap {
        hook_fn: addr,
        addr,
        returning,
        probe: None,
    })
}

/// `use_tracing` value CPython 3.11 stores when a trace function is set.
const USE_TRACING_ON: u8 = 255;

/// The thread state that currently holds the GIL (3.8-3.11:
/// `_PyRuntime.gilstate.tstate_current`; NULL in versions without it).
pub fn current_tstate(
    mem: &ProcMem,
    layout: &Layout,
    runtime: RemoteAddr,
) -> Result<RemoteAddr, MemError> {
    match layout.runtime.gilstate_tstate_current {
        Some(off) => mem.read_ptr(runtime.at(off)),
        None => Ok(RemoteAddr::NULL),
    }
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
    if let Some(use_tracing) = rt.ts_use_tracing {
        return install_38_39(mem, layout, tstate, trap, use_tracing);
    }
    mem.write(tstate.at(rt.ts_c_tracefunc), &trap.0.to_ne_bytes())?;
    // 3.12+ has C frames but no `use_tracing` in them.
    let (Some(ts_cframe), Some(use_tracing)) = (rt.ts_cframe, rt.cframe_use_tracing) else {
        return Ok(());
    };
    let cframe = mem.read_ptr(tstate.at(ts_cframe))?;
    if !cframe.is_null() {
        mem.write(cframe.at(use_tracing), &[USE_TRACING_ON])?;
    }
    log::debug!(target: "tracer::hook", "trace hook at {trap} installed in thread state {tstate}");
    Ok(())
}

/// Make `func` the C trace function of `tstate`, changing nothing else
/// (tracing is on for it already: swapping the probe and the program's own
/// trace function).
pub fn set_trace_function(
    mem: &ProcMem,
    layout: &Layout,
    tstate: RemoteAddr,
    func: RemoteAddr,
) -> Result<(), MemError> {
    mem.write(
        tstate.at(layout.runtime.ts_c_tracefunc),
        &func.0.to_ne_bytes(),
    )
}

/// Remove the trace function from `tstate` and switch `use_tracing` off on
/// every C frame of its chain, leaving the thread as if never traced.
pub fn uninstall(mem: &ProcMem, layout: &Layout, tstate: RemoteAddr) -> Result<(), MemError> {
    let rt = &layout.runtime;
    if let Some(use_tracing) = rt.ts_use_tracing {
        return uninstall_38_39(mem, layout, tstate, use_tracing);
    }
    mem.write(tstate.at(rt.ts_c_tracefunc), &0u64.to_ne_bytes())?;
    let profiling = mem.read_u64(tstate.at(rt.ts_c_profilefunc))? != 0;
    let (Some(ts_cframe), Some(use_tracing), Some(previous)) =
        (rt.ts_cframe, rt.cframe_use_tracing, rt.cframe_previous)
    else {
        // The C frames have no use_tracing (3.12+).
        return Ok(());
    };
    if profiling {
        // Another profiler still needs use_tracing: leave the flags to it.
        return Ok(());
    }
    let mut cframe = mem.read_ptr(tstate.at(ts_cframe))?;
    let root = root_cframe(layout, tstate);
    // C frames chain through `previous`; bound the walk against corrupt memory.
    for _ in 0..100_000 {
        if cframe.is_null() {
            break;
        }
        mem.write(cframe.at(use_tracing), &[0])?;
        if Some(cframe) == root {
            break;
        }
        cframe = mem.read_ptr(cframe.at(previous))?;
    }
    Ok(())
}

/// 3.8/3.9: install `trap` as the C trace function of `tstate` and set
/// `tstate->use_tracing`, as `_PyEval_SetTrace` does. The eval loop also
/// needs `tracing_possible`: see [`count_trace_function`].
/// `use_tracing` is `tstate->use_tracing`'s offset.
fn install_38_39(
    mem: &ProcMem,
    layout: &Layout,
    tstate: RemoteAddr,
    trap: RemoteAddr,
    use_tracing: u32,
) -> Result<(), MemError> {
    let rt = &layout.runtime;
    mem.write(tstate.at(rt.ts_c_tracefunc), &trap.0.to_ne_bytes())?;
    mem.write(tstate.at(use_tracing), &1i32.to_ne_bytes())?;
    log::debug!(target: "tracer::hook", "trace hook at {trap} installed in thread state {tstate} (3.8/3.9)");
    Ok(())
}

/// 3.8/3.9: remove the trace function and clear `use_tracing` (at that
/// offset of the thread state) unless a profiler still needs it.
fn uninstall_38_39(
    mem: &ProcMem,
    layout: &Layout,
    tstate: RemoteAddr,
    use_tracing: u32,
) -> Result<(), MemError> {
    let rt = &layout.runtime;
    mem.write(tstate.at(rt.ts_c_tracefunc), &0u64.to_ne_bytes())?;
    let profiling = mem.read_u64(tstate.at(rt.ts_c_profilefunc))? != 0;
    mem.write(tstate.at(use_tracing), &i32::from(profiling).to_ne_bytes())
}

/// 3.8/3.9: add `delta` (+1 after [`install`], -1 after [`uninstall`]) to
/// the count of threads with a C trace function, `tracing_possible`
/// (3.8: `_PyRuntime.ceval`, 3.9: the thread's interpreter's `ceval`), as
/// `_PyEval_SetTrace` does: while it is 0 the eval loop never reports line
/// events. 3.12+: `sys_tracing_threads` of the interpreter. Does nothing in
/// 3.10-3.11, where there is no count. Never takes the count below 0.
pub fn count_trace_function(
    mem: &ProcMem,
    layout: &Layout,
    runtime: RemoteAddr,
    tstate: RemoteAddr,
    delta: i32,
) -> Result<(), MemError> {
    let rt = &layout.runtime;
    if let Some(sys_tracing_threads) = rt.interp_sys_tracing_threads {
        // 3.12+: `_PyEval_SetTrace` counts traced threads in a Py_ssize_t,
        // and `PyThreadState_Clear` takes one off for a thread that ends
        // with a trace function: keep the count matching.
        let interp = mem.read_ptr(tstate.at(rt.ts_interp))?;
        if interp.is_null() {
            return Ok(());
        }
        let at = interp.at(sys_tracing_threads);
        let now = mem.read_u64(at)? as i64;
        let new = now.saturating_add(i64::from(delta)).max(0);
        return mem.write(at, &new.to_ne_bytes());
    }
    let at = if let Some(off) = rt.runtime_tracing_possible {
        runtime.at(off)
    } else if let Some(off) = rt.interp_tracing_possible {
        let interp = mem.read_ptr(tstate.at(rt.ts_interp))?;
        if interp.is_null() {
            return Ok(());
        }
        interp.at(off)
    } else {
        return Ok(());
    };
    let mut b = [0u8; 4];
    mem.read(at, &mut b)?;
    let now = i32::from_ne_bytes(b);
    let new = now.saturating_add(delta).max(0);
    mem.write(at, &new.to_ne_bytes())
}

/// Hook a thread of an interpreter that is already running (attach, or a
/// thread born while recording): [`install`], the count of traced threads
/// ([`count_trace_function`]), and, where C frames carry `use_tracing`
/// (3.10-3.11), the same flag on EVERY C frame of the thread's chain: each
/// eval loop below the current one reads its own `_PyCFrame` when it
/// resumes, and a thread that has not started yet only has its root one.
/// A thread stopped between two lines of the eval loop that copy the flag
/// loses it again as it goes on: see [`retrace_lost`].
pub fn install_running(
    mem: &ProcMem,
    layout: &Layout,
    runtime: RemoteAddr,
    tstate: RemoteAddr,
    trap: RemoteAddr,
) -> Result<(), MemError> {
    install(mem, layout, tstate, trap)?;
    count_trace_function(mem, layout, runtime, tstate, 1)?;
    trace_older_cframes(mem, layout, tstate)
}

/// 3.10-3.11: switch tracing on again for `tstate` if it lost it, which
/// happens when the thread was stopped to be hooked between two lines of
/// `_PyEval_EvalFrameDefault` that copy `use_tracing` from one C frame to
/// the next: on entry (the new frame took the old value before it became
/// the current one) or on exit (the frame left writes its value back into
/// the one that is current again). Lost means: its trace function is
/// `hook_fn`, it is not inside a trace call (CPython switches the flag off
/// there itself) and its current C frame's `use_tracing` is 0; then every
/// C frame of its chain gets the flag. Every thread must be stopped: a C
/// frame no longer current is a stale slot of the C stack. Whether it was
/// lost.
pub fn retrace_lost(
    mem: &ProcMem,
    layout: &Layout,
    tstate: RemoteAddr,
    hook_fn: RemoteAddr,
) -> Result<bool, MemError> {
    let rt = &layout.runtime;
    let (Some(ts_cframe), Some(use_tracing)) = (rt.ts_cframe, rt.cframe_use_tracing) else {
        return Ok(false);
    };
    if mem.read_u64(tstate.at(rt.ts_c_tracefunc))? != hook_fn.0 {
        return Ok(false);
    }
    let mut tracing = [0u8; 4];
    mem.read(tstate.at(rt.ts_tracing), &mut tracing)?;
    let cframe = mem.read_ptr(tstate.at(ts_cframe))?;
    if i32::from_ne_bytes(tracing) != 0 || cframe.is_null() {
        return Ok(false);
    }
    let mut on = [0u8; 1];
    mem.read(cframe.at(use_tracing), &mut on)?;
    if on[0] != 0 {
        return Ok(false);
    }
    mem.write(cframe.at(use_tracing), &[USE_TRACING_ON])?;
    trace_older_cframes(mem, layout, tstate)?;
    Ok(true)
}

/// Where C frames carry `use_tracing` (3.10-3.11): copy the value of
/// `tstate`'s current C frame to every older one of its chain.
fn trace_older_cframes(mem: &ProcMem, layout: &Layout, tstate: RemoteAddr) -> Result<(), MemError> {
    let rt = &layout.runtime;
    let (Some(ts_cframe), Some(use_tracing), Some(previous)) =
        (rt.ts_cframe, rt.cframe_use_tracing, rt.cframe_previous)
    else {
        return Ok(());
    };
    let mut cframe = mem.read_ptr(tstate.at(ts_cframe))?;
    if cframe.is_null() {
        return Ok(());
    }
    // Copy what `install` wrote on the current C frame (its width and
    // value are the version's) to every older one.
    let mut on = [0u8; 1];
    mem.read(cframe.at(use_tracing), &mut on)?;
    let root = root_cframe(layout, tstate);
    // Bounded walk: the chain is in untrusted memory.
    for _ in 0..100_000 {
        if Some(cframe) == root {
            break;
        }
        cframe = mem.read_ptr(cframe.at(previous))?;
        if cframe.is_null() {
            break;
        }
        mem.write(cframe.at(use_tracing), &on)?;
    }
    Ok(())
}

/// The C frame a thread state holds itself, the last of its chain: its
/// `previous` is not to be followed (3.10 never sets it: whatever the
/// allocator left there, which a walk would take for a C frame).
fn root_cframe(layout: &Layout, tstate: RemoteAddr) -> Option<RemoteAddr> {
    layout.runtime.ts_root_cframe.map(|off| tstate.at(off))
}

/// Undo [`install_running`]: [`uninstall`] and the count of traced threads.
pub fn uninstall_running(
    mem: &ProcMem,
    layout: &Layout,
    runtime: RemoteAddr,
    tstate: RemoteAddr,
) -> Result<(), MemError> {
    uninstall(mem, layout, tstate)?;
    count_trace_function(mem, layout, runtime, tstate, -1)
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

/// Whether this CPython implements `sys.settrace` on `sys.monitoring`
/// (3.12+, Python/legacy_tracing.c): writing `c_tracefunc` alone reports
/// nothing there, the code objects must be instrumented, which only
/// `_PyEval_SetTrace` itself does ([`install_by_call`]).
pub fn uses_monitoring(version: symbols::PythonVersion) -> bool {
    Facts::for_version(version).is_some_and(|f| f.tracing.on_monitoring)
}

/// The functions [`install_by_call`] and [`uninstall_by_call`] call in the
/// target: `PyThreadState_Get` and `_PyEval_SetTrace(tstate, func, arg)`.
#[derive(Debug, Clone, Copy)]
pub struct SetTraceFns {
    pub thread_state_get: RemoteAddr,
    pub set_trace: RemoteAddr,
}

/// Names of [`SetTraceFns`]' functions in libpython (3.13 keeps
/// `_PyEval_SetTrace` local to the library: found in the symbol table).
pub const THREAD_STATE_GET: &str = "PyThreadState_Get";
pub const SET_TRACE: &str = "_PyEval_SetTrace";
/// 3.13: `_PyEval_SetOpcodeTrace(frame, enable)`, what setting
/// `frame.f_trace_opcodes` calls: switches the instruction events of the
/// frame's code object on (local to the library: in the symbol table).
pub const SET_OPCODE_TRACE: &str = "_PyEval_SetOpcodeTrace";

/// 3.12+: install `trap` as the C trace function of the thread `tid`
/// (stopped where it holds the GIL, e.g. at `Py_RunMain`) by an inferior
/// call of `_PyEval_SetTrace(PyThreadState_Get(), trap, NULL)`, exactly as
/// `sys.settrace` would: it switches the legacy-tracing events of
/// sys.monitoring on for every code object. `ret_trap` is an address the
/// program never runs again. Returns the thread state.
pub fn install_by_call(
    tracee: &mut crate::ptrace::Tracee,
    tid: crate::addr::Tid,
    fns: SetTraceFns,
    trap: RemoteAddr,
    ret_trap: RemoteAddr,
) -> Result<RemoteAddr, crate::ptrace::inferior::InferiorError> {
    let tstate = RemoteAddr(tracee.call_function(tid, fns.thread_state_get, &[], ret_trap)?);
    if tstate.is_null() {
        return Err(crate::ptrace::inferior::InferiorError::Lost {
            func: fns.thread_state_get,
            tid,
            why: "it returned no thread state".into(),
        });
    }
    set_trace_call(tracee, tid, fns, tstate, trap.0, ret_trap)?;
    log::debug!(target: "tracer::hook", "trace hook at {trap} installed in thread state {tstate} by _PyEval_SetTrace");
    Ok(tstate)
}

/// 3.12+: undo [`install_by_call`]: `_PyEval_SetTrace(tstate, NULL, NULL)`
/// in thread `tid`, which must hold the GIL (stopped at the trap, i.e.
/// inside the trace function, is such a place).
pub fn uninstall_by_call(
    tracee: &mut crate::ptrace::Tracee,
    tid: crate::addr::Tid,
    fns: SetTraceFns,
    tstate: RemoteAddr,
    ret_trap: RemoteAddr,
) -> Result<(), crate::ptrace::inferior::InferiorError> {
    set_trace_call(tracee, tid, fns, tstate, 0, ret_trap)
}

/// `_PyEval_SetTrace(tstate, func, NULL)` in thread `tid`, which must hold
/// the GIL at a safe point (every other thread stopped); `func` 0 switches
/// the thread state's tracing off.
pub fn set_trace_call(
    tracee: &mut crate::ptrace::Tracee,
    tid: crate::addr::Tid,
    fns: SetTraceFns,
    tstate: RemoteAddr,
    func: u64,
    ret_trap: RemoteAddr,
) -> Result<(), crate::ptrace::inferior::InferiorError> {
    let rc = tracee.call_function(tid, fns.set_trace, &[tstate.0, func, 0], ret_trap)?;
    // An int: 0 on success, -1 when an audit hook refused sys.settrace.
    if rc as u32 != 0 {
        return Err(crate::ptrace::inferior::InferiorError::Lost {
            func: fns.set_trace,
            tid,
            why: format!("_PyEval_SetTrace returned {}", rc as u32 as i32),
        });
    }
    Ok(())
}
