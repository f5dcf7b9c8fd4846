//! Letting go of the program once the stop loop ends ([`super::stops`]):
//! kill it, or undo the hook the way its start requires ([`Origin`]) and
//! detach; and letting a child it forks run on untraced.

use store::ProgramEnd;

use super::error::RecordError;
use super::recorder::Recorder;
use super::safe_hook::MonitoringHook;
use super::session::{Exit, Hooked, Origin, EXECED, GRACE};
use crate::addr::{RemoteAddr, Tid};
use crate::cpython::Python;
use crate::interp::{hook, threads};
use crate::memory::Memory;
use crate::probe::Probe;
use crate::ptrace::{TraceError, Tracee};

/// Do what `exit` leaves to do about the program; how it ended, why, and
/// the bound that ended it.
pub(crate) fn let_go(
    tracee: Tracee,
    h: &Hooked,
    rec: &mut Recorder,
    exit: Exit,
) -> Result<(ProgramEnd, String, Option<String>), RecordError> {
    Ok(match exit {
        Exit::Ended(end) => {
            let reason = match end {
                ProgramEnd::Exited(c) => format!("the program exited with status {c}"),
                ProgramEnd::Signaled(sig) => format!("the program was killed by signal {sig}"),
                _ => "recording ended".into(),
            };
            (end, reason, None)
        }
        Exit::Kill { bound } => {
            tracee.kill()?;
            let reason = format!(
                "{bound}; the program did not end within {} s of SIGTERM and was killed",
                GRACE.as_secs()
            );
            (ProgramEnd::Signaled(libc::SIGKILL), reason, Some(bound))
        }
        Exit::LetGo { at, reason, bound } => {
            rec.disarm_probe();
            let probe = rec.cache.probe_mut();
            match h.origin {
                Origin::Seized { monitoring } => {
                    release_seized(tracee, h, monitoring, at, probe.as_ref())?
                }
                Origin::Launched {
                    tstate, set_trace, ..
                } => unhook_launched(tracee, h, at, tstate, set_trace, probe.as_ref())?,
            }
            (ProgramEnd::Detached, reason, bound)
        }
        Exit::Exec => {
            // Its breakpoints went with the old image: nothing to undo.
            tracee.detach()?;
            (ProgramEnd::Detached, EXECED.into(), Some(EXECED.into()))
        }
    })
}

/// Undo the hook of a launched program and detach: from a trap of thread
/// `at` (3.12+ switches tracing off by a call there), or while it runs.
fn unhook_launched(
    mut tracee: Tracee,
    h: &Hooked,
    at: Option<Tid>,
    tstate: RemoteAddr,
    set_trace: Option<(hook::SetTraceFns, RemoteAddr)>,
    probe: Option<&Probe>,
) -> Result<(), RecordError> {
    let layout = &h.python.layout;
    let Some(tid) = at else {
        let mut undo = Ok(());
        tracee.detach_with(|t| {
            undo = threads::unhook_running(t.mem(), layout, h.runtime, tstate, h.hook_fn, probe);
        })?;
        return Ok(undo?);
    };
    let obj = tracee
        .mem()
        .read_u64(tstate.at(layout.runtime.ts_c_traceobj))?;
    let own = probe.and_then(|p| p.chain_of(obj));
    match set_trace {
        // The program's own trace function takes the probe's place: tracing
        // stays on.
        Some(_) if own.is_some() => {
            threads::unhook_one(tracee.mem(), layout, h.runtime, tstate, probe)?
        }
        Some((fns, ret_trap)) => {
            // Our own call of the watched function: not the program's.
            tracee.clear_watch();
            hook::uninstall_by_call(&mut tracee, tid, fns, tstate, ret_trap).map_err(|e| {
                RecordError::Other(format!("cannot switch tracing off in the interpreter: {e}"))
            })?;
        }
        None => threads::unhook_one(tracee.mem(), layout, h.runtime, tstate, probe)?,
    }
    threads::unhook_all(tracee.mem(), layout, h.runtime, h.hook_fn, probe)?;
    Ok(tracee.detach()?)
}

/// Let go of a seized program: on 3.12+ (`monitoring`) switch tracing off
/// by calls in the target first (from thread `at`, stopped in the trap, or
/// at the next safe point), then [`release`] what is left.
pub(crate) fn release_seized(
    mut tracee: Tracee,
    h: &Hooked,
    monitoring: Option<MonitoringHook>,
    at: Option<Tid>,
    probe: Option<&Probe>,
) -> Result<(), RecordError> {
    if let Some(m) = monitoring {
        let undone = m.uninstall(&mut tracee, &h.python, h.hook_fn, h.trap, probe, at);
        if let Err(e) = undone {
            log::warn!(target: "tracer::attach", "tracing not switched off by a call: {e}");
        }
        m.put_back(&tracee);
    }
    release(tracee, &h.python, h.runtime, h.hook_fn, probe)
}

/// Stop every thread, unhook every thread state whose trace function is
/// `hook_fn`, remove the traps, detach.
pub(crate) fn release(
    tracee: Tracee,
    python: &Python,
    runtime: RemoteAddr,
    hook_fn: RemoteAddr,
    probe: Option<&Probe>,
) -> Result<(), RecordError> {
    let layout = &python.layout;
    let mut unhook_err = None;
    tracee.detach_with(|t| {
        if let Err(e) = threads::unhook_all(t.mem(), layout, runtime, hook_fn, probe) {
            unhook_err = Some(e);
        }
        if let Err(e) = threads::restore_line_events(t.mem(), layout, runtime) {
            log::warn!(target: "tracer::attach", "line events not restored in some frame: {e}");
        }
    })?;
    match unhook_err {
        Some(e) => Err(RecordError::Other(format!(
            "detached, but a thread state could not be restored: {e}"
        ))),
        None => {
            log::debug!(target: "tracer::attach", "detached");
            Ok(())
        }
    }
}

/// A forked child of the target is a copy of it, trace hook included
/// (`hook_fn` in its thread states): remove the hook from its memory and
/// let it run on untraced (a recording follows one process; left hooked,
/// its first step would stop it on a trap nobody answers).
pub(crate) fn release_forked_child(
    tracee: &mut Tracee,
    child: Tid,
    layout: &symbols::Layout,
    runtime: RemoteAddr,
    hook_fn: RemoteAddr,
    probe: Option<&Probe>,
) -> Result<(), TraceError> {
    let mem = crate::memory::procmem::ProcMem::new(child.0);
    match threads::unhook_all(&mem, layout, runtime, hook_fn, probe) {
        Ok(n) => {
            log::info!(target: "tracer::record", "forked child {child} runs on untraced ({n} thread states unhooked)")
        }
        Err(e) => {
            log::warn!(target: "tracer::record", "forked child {child}: trace hook not removed: {e}")
        }
    }
    tracee.release_fork(child)
}
