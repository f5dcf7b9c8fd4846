//! `attach` to CPython 3.12+, where `sys.settrace` is built on
//! sys.monitoring: writing a thread state's trace function reports nothing
//! until code is instrumented, which only `_PyEval_SetTrace` does. So the
//! hook is switched on, and off at detach, by calls of it in the target,
//! made by a thread stopped at a safe point ([`SafePoint`]) with every
//! other thread stopped: one call for every thread state without a trace
//! function. Thread states that trace themselves keep tracing on; only
//! their function changes, by a write, as on 3.8-3.11.

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use super::error::{need_symbol, RecordError};
use crate::addr::{RemoteAddr, Tid};
use crate::cpython::Python;
use crate::interp::hook::{self, SetTraceFns};
use crate::interp::safe_point::{Reached, SafePoint};
use crate::interp::threads::{self, HookCount};
use crate::memory::Memory;
use crate::probe::Probe;
use crate::ptrace::{Stop, Tracee};

/// How long a detach waits for a thread to reach a safe point before it
/// switches tracing off by writes (the program is blocked).
const DETACH_WAIT: Duration = Duration::from_secs(1);

/// What [`MonitoringHook::install`] came to.
pub(crate) enum Installed {
    /// Hooked at a safe point: the counts.
    Now(HookCount),
    /// No thread reached a safe point in time, or the stop flag was raised:
    /// nothing is hooked; every thread is stopped.
    NotYet,
    /// The program ended (or exec'd) first: this stop says how.
    Ended(Box<Stop>),
}

/// The functions and the safe point that switch tracing on and off in a
/// running 3.12+ interpreter.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MonitoringHook {
    safe: SafePoint,
    fns: SetTraceFns,
    /// Where an inferior call returns to (the executable's entry point).
    ret_trap: RemoteAddr,
    /// `_PyRuntime`.
    runtime: RemoteAddr,
    /// A byte to put back once tracing is off (3.12's
    /// `f_opcode_trace_set`, set for `--granularity opcode`), and its value.
    restore: Option<(RemoteAddr, u8)>,
}

impl MonitoringHook {
    /// The hook of `python` (whose `_PyRuntime` is `runtime`) in `tracee`.
    pub(crate) fn of(
        tracee: &Tracee,
        python: &Python,
        runtime: RemoteAddr,
    ) -> Result<MonitoringHook, RecordError> {
        let safe = SafePoint::of(python, runtime).map_err(|e| {
            RecordError::Other(format!(
                "cannot attach to CPython {}: {e}; record the program from its start with \
                 `hindsight record` instead",
                python.version
            ))
        })?;
        Ok(MonitoringHook {
            safe,
            fns: SetTraceFns {
                thread_state_get: need_symbol(python, hook::THREAD_STATE_GET)?,
                set_trace: need_symbol(python, hook::SET_TRACE)?,
            },
            ret_trap: tracee.entry_point()?,
            runtime,
            restore: None,
        })
    }

    /// Put `value` back at `at` once tracing is switched off.
    pub(crate) fn restore_at_detach(&mut self, at: RemoteAddr, value: u8) {
        self.restore = Some((at, value));
    }

    /// After [`MonitoringHook::uninstall`], however it went: put back
    /// what [`MonitoringHook::restore_at_detach`] was given.
    pub(crate) fn put_back(&self, tracee: &Tracee) {
        if let Some((at, value)) = self.restore {
            if let Err(e) = tracee.mem().write(at, &[value]) {
                log::warn!(target: "tracer::attach", "the interpreter's opcode-tracing flag not put back: {e}");
            }
        }
    }

    /// With every thread stopped: run the program to a safe point (until
    /// `until`, or `stop`), and there point every thread state's trace
    /// function at `hook_fn` (the probe's entry when `probe` is given: the
    /// program's own trace functions are chained from it). Every thread is
    /// stopped again after, unless the program ended.
    pub(crate) fn install(
        &self,
        tracee: &mut Tracee,
        python: &Python,
        hook_fn: RemoteAddr,
        probe: Option<&mut Probe>,
        until: Option<Instant>,
        stop: Option<&AtomicBool>,
    ) -> Result<Installed, RecordError> {
        let (layout, runtime) = (&python.layout, self.runtime);
        let tid = match self.safe.reach(tracee, layout, None, until, stop)? {
            Reached::At(tid) => tid,
            Reached::TimedOut | Reached::Stopped => return Ok(Installed::NotYet),
            Reached::Ended(s) => return Ok(Installed::Ended(s)),
        };
        let mut calls = Vec::new();
        let count = threads::hook_all(
            tracee.mem(),
            layout,
            runtime,
            hook_fn,
            probe,
            Some(&mut calls),
        )?;
        for ts in calls {
            hook::set_trace_call(tracee, tid, self.fns, ts, hook_fn.0, self.ret_trap).map_err(
                |e| RecordError::Other(format!("cannot switch tracing on in the interpreter: {e}")),
            )?;
        }
        log::debug!(target: "tracer::attach", "tracing switched on from thread {tid} at a safe point");
        Ok(Installed::Now(count))
    }

    /// Undo [`MonitoringHook::install`] (and the hooks of threads born
    /// since) before a detach: from thread `at`, stopped in the trap, or
    /// from the first thread to reach a safe point. A program that is
    /// blocked (no thread reaches one within [`DETACH_WAIT`]) gets its
    /// thread states unhooked by writes instead: nothing calls hindsight's
    /// code any more, but the interpreter's legacy-tracing events stay
    /// switched on (each returns at once) until the program next sets or
    /// removes a trace function; a warning says so. Every thread is left
    /// stopped, unless the program ended.
    pub(crate) fn uninstall(
        &self,
        tracee: &mut Tracee,
        python: &Python,
        hook_fn: RemoteAddr,
        trap: RemoteAddr,
        probe: Option<&Probe>,
        at: Option<Tid>,
    ) -> Result<(), RecordError> {
        let (layout, runtime) = (&python.layout, self.runtime);
        tracee.stop_all()?;
        // The calls below go through the watched function: they are ours.
        tracee.clear_watch();
        let mut ours = Vec::new();
        for ts in threads::thread_states(tracee.mem(), layout, runtime)? {
            let mem = tracee.mem();
            if mem.read_u64(ts.at(layout.runtime.ts_c_tracefunc))? != hook_fn.0 {
                continue;
            }
            let obj = mem.read_u64(ts.at(layout.runtime.ts_c_traceobj))?;
            if probe.and_then(|p| p.chain_of(obj)).is_some() {
                // The program's own function back; its tracing stays on.
                threads::unhook_one(mem, layout, runtime, ts, probe)?;
            } else {
                ours.push(ts);
            }
        }
        if ours.is_empty() {
            return Ok(());
        }
        let tid = match at {
            Some(t) => Some(t),
            None => {
                let until = Instant::now() + DETACH_WAIT;
                match self
                    .safe
                    .reach(tracee, layout, Some(trap), Some(until), None)?
                {
                    Reached::At(t) => Some(t),
                    Reached::TimedOut | Reached::Stopped => None,
                    Reached::Ended(_) => return Ok(()),
                }
            }
        };
        let Some(tid) = tid else {
            log::warn!(
                target: "tracer::attach",
                "no thread of the program reached a point where tracing can be switched off \
                 within {DETACH_WAIT:?} (it is blocked): its thread states were unhooked by \
                 writes; nothing calls hindsight's code any more, but the interpreter keeps its \
                 legacy-tracing events on (each returns at once) until the program next sets or \
                 removes a trace function"
            );
            threads::unhook_all(tracee.mem(), layout, runtime, hook_fn, probe)?;
            return Ok(());
        };
        for ts in ours {
            // Read with every thread stopped: each is still there.
            hook::set_trace_call(tracee, tid, self.fns, ts, 0, self.ret_trap).map_err(|e| {
                RecordError::Other(format!("cannot switch tracing off in the interpreter: {e}"))
            })?;
        }
        log::debug!(target: "tracer::attach", "tracing switched off from thread {tid}");
        Ok(())
    }
}
