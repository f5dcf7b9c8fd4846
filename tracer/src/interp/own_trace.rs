//! The program's own trace function (`sys.settrace`, `threading.settrace`,
//! a C tracer's `PyEval_SetTrace`): it runs as it would, and recording
//! goes on.
//!
//! Every change of a thread's C trace function goes through one function
//! of the interpreter ([`TracingFacts::set_trace`]). hindsight watches its
//! entry with a debug register of every thread ([`Tracee::set_watch`]:
//! nothing written in the program) and rewrites the call: the function it
//! installs becomes the probe, the trace object stays the program's, and
//! the probe's table of chains gets (object, function). The probe ends
//! each of its calls for that object with a tail call of the program's
//! function with CPython's own arguments (tracer/probe/probe.c). So
//! `sys.gettrace()` returns what the program set, its tracer sees every
//! event it would (its own frames are not traced: CPython's `tracing`
//! guard), and the probe stays the thread's trace function. A detach makes
//! the program's function the thread's trace function again.
//!
//! [`TracingFacts::set_trace`]: crate::cpython::version::TracingFacts

use crate::addr::{RemoteAddr, Tid};
use crate::cpython::Python;
use crate::probe::Probe;
use crate::ptrace::{Regs, TraceError, Tracee};

/// Where the program changes a thread's trace function, and which
/// registers hold the function and the object there.
#[derive(Debug, Clone, Copy)]
pub struct SetTraceWatch {
    /// The entry of the interpreter's set-trace function.
    pub addr: RemoteAddr,
    /// 3.9+: `(tstate, func, arg)`; 3.8: `(func, arg)`.
    takes_tstate: bool,
}

/// What a watched call of the program became.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetTrace {
    /// hindsight's own call (installing the probe).
    Ours,
    /// The program's function runs from the probe, for this object.
    Chained { func: u64, obj: u64 },
    /// The program removed its trace function (`sys.settrace(None)`): the
    /// probe stays, with no object.
    Removed,
    /// The call went through unchanged: the program's function replaces
    /// the probe in that thread, whose recording ends there.
    Through { why: &'static str },
}

impl SetTraceWatch {
    /// The watch for this interpreter, `None` when its set-trace function
    /// is not in its symbols.
    pub fn of(python: &Python) -> Option<SetTraceWatch> {
        let t = &python.facts.tracing;
        let addr = python.symbol_addr(t.set_trace)?;
        Some(SetTraceWatch {
            addr,
            takes_tstate: t.set_trace_takes_tstate,
        })
    }

    /// The thread `tid` stopped at the watch's entry with `regs`: make the
    /// probe (`probe`, whose entry `hook_fn` is) the function it installs,
    /// the program's function chained from it, and resume the thread.
    pub fn answer(
        &self,
        tracee: &mut Tracee,
        tid: Tid,
        mut regs: Regs,
        probe: Option<&mut Probe>,
        hook_fn: RemoteAddr,
    ) -> Result<SetTrace, TraceError> {
        let (func, obj) = if self.takes_tstate {
            (regs.rsi, regs.rdx)
        } else {
            (regs.rdi, regs.rsi)
        };
        let outcome = decide(func, obj, probe, hook_fn);
        if matches!(outcome, SetTrace::Chained { .. } | SetTrace::Removed) {
            if self.takes_tstate {
                regs.rsi = hook_fn.0;
            } else {
                regs.rdi = hook_fn.0;
            }
            tracee.set_regs(tid, &regs)?;
        }
        match outcome {
            SetTrace::Through { why } => {
                log::warn!(target: "tracer::own_trace", "thread {tid}: the program set its own trace function ({func:#x}); {why}: the recording of that thread stops here");
            }
            SetTrace::Chained { func, obj } => {
                log::info!(target: "tracer::own_trace", "thread {tid}: the program's trace function {func:#x} (object {obj:#x}) runs from the probe");
            }
            _ => {}
        }
        tracee.resume(tid, None)?;
        Ok(outcome)
    }
}

/// What to make of a call installing `func` with `obj`.
fn decide(func: u64, obj: u64, probe: Option<&mut Probe>, hook_fn: RemoteAddr) -> SetTrace {
    if func == hook_fn.0 {
        return SetTrace::Ours;
    }
    if func == 0 {
        return SetTrace::Removed;
    }
    let Some(probe) = probe else {
        return SetTrace::Through {
            why: "without the probe (HINDSIGHT_NO_PROBE) it cannot run from it",
        };
    };
    if obj == 0 {
        return SetTrace::Through {
            why: "it has no trace object to tell it by",
        };
    }
    if probe.set_chain(obj, func) {
        SetTrace::Chained { func, obj }
    } else {
        SetTrace::Through {
            why: "the probe's table of trace functions is full",
        }
    }
}

/// Watch the interpreter's set-trace function in every thread of
/// `tracee` (all stopped); `None`, with a warning, where it cannot be
/// (the program's own trace function then ends the recording of its
/// thread, unseen).
pub fn watch(tracee: &mut Tracee, python: &Python) -> Option<SetTraceWatch> {
    let Some(w) = SetTraceWatch::of(python) else {
        log::warn!(target: "tracer::own_trace", "no {} in the interpreter's symbols: a program that sets its own trace function will end its recording", python.facts.tracing.set_trace);
        return None;
    };
    match tracee.set_watch(w.addr) {
        Ok(()) => Some(w),
        Err(e) => {
            log::warn!(target: "tracer::own_trace", "cannot watch {} ({e}): a program that sets its own trace function will end its recording", python.facts.tracing.set_trace);
            None
        }
    }
}
