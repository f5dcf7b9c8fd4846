//! A safe point in a running CPython 3.12+: a thread stopped where it holds
//! the interpreter's lock and may call into it, which is what switching
//! `sys.settrace`-style tracing on or off there takes (`_PyEval_SetTrace`
//! instruments code objects; hook.rs).
//!
//! The eval loop checks its "eval breaker" at every backward jump, function
//! start and most calls, and when it is set calls `_Py_HandlePending` with
//! the lock held; signal handlers and pending calls run there, so the
//! interpreter expects anything, `sys.settrace` included, at its entry.
//! hindsight watches that entry with a debug register of every thread
//! (nothing written in the program's code) and makes the breaker fire with
//! the one condition `_Py_HandlePending` handles that does nothing when
//! nothing is due: "a collection is scheduled" (it then collects only a
//! generation over its threshold). The interpreter computes its breaker
//! again from such conditions at some moments (a thread taking the lock),
//! so the condition is set, not just the breaker:
//!
//! - 3.12: `interp->ceval.gc_scheduled = 1` and `interp->ceval.eval_breaker
//!   = 1` (`int`s the interpreter only ever stores whole);
//! - 3.13: the `_PY_GC_SCHEDULED_BIT` of every thread state's
//!   `eval_breaker` (bits changed atomically by the program: changed by
//!   hindsight only while every thread is stopped).
//!
//! Where hindsight set the condition, it clears it again once a thread is
//! at the entry (every thread stopped, before the function reads it), so
//! nothing is collected that the program did not schedule.
//!
//! A thread stopped in the trap (the trace function) is at a safe point
//! too. A thread blocked in a system call without the lock never reaches
//! one; the first thread that runs Python code does.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use symbols::Layout;

use crate::addr::{RemoteAddr, Tid};
use crate::cpython::Python;
use crate::interp::threads::thread_states;
use crate::memory::procmem::ProcMem;
use crate::memory::{MemError, Memory};
use crate::ptrace::{Stop, TraceError, Tracee};

/// The function whose entry is the safe point.
pub const HANDLE_PENDING: &str = "_Py_HandlePending";

/// 3.13's `_PY_GC_SCHEDULED_BIT` of `PyThreadState.eval_breaker`.
const GC_SCHEDULED_BIT: u64 = 1 << 4;

/// How long one wait for a stop lasts before the breaker is checked again.
const POLL: Duration = Duration::from_millis(20);

/// How long the program may run without reaching a safe point before every
/// thread is stopped to arm the watch and set the condition again (a
/// thread that took the interpreter's lock may have consumed it unseen).
const REARM: Duration = Duration::from_millis(200);

/// How long a program whose threads could not be armed has to show that
/// it was killed.
const GONE_WAIT: Duration = Duration::from_millis(500);

/// Bound on interpreters walked.
const MAX_INTERPRETERS: usize = 256;

/// Where the eval breaker is.
#[derive(Debug, Clone, Copy)]
enum Breaker {
    /// 3.12: offsets of `PyInterpreterState.ceval.eval_breaker` and
    /// `.ceval.gc_scheduled`.
    Interp {
        eval_breaker: u32,
        gc_scheduled: u32,
    },
    /// 3.13: `PyThreadState.eval_breaker`, at this offset.
    Thread(u32),
}

/// How to bring a thread of one interpreter to a safe point.
#[derive(Debug, Clone, Copy)]
pub struct SafePoint {
    handle_pending: RemoteAddr,
    breaker: Breaker,
    runtime: RemoteAddr,
}

/// What [`SafePoint::reach`] came to. In every case but `Ended` every
/// thread is stopped.
#[derive(Debug)]
pub enum Reached {
    /// Thread `tid` is at a safe point.
    At(Tid),
    /// The deadline passed first.
    TimedOut,
    /// The stop flag was raised first.
    Stopped,
    /// The program exited, was killed or exec'd: this stop says how.
    Ended(Box<Stop>),
}

/// Why there is no safe point to reach in this interpreter.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NoSafePoint(String);

impl SafePoint {
    /// The safe point of `python` (3.12+), whose `_PyRuntime` is `runtime`.
    pub fn of(python: &Python, runtime: RemoteAddr) -> Result<SafePoint, NoSafePoint> {
        let handle_pending = python.symbol_addr(HANDLE_PENDING).ok_or_else(|| {
            NoSafePoint(format!(
                "no {HANDLE_PENDING} in the interpreter's symbols (a stripped libpython? give \
                 its debug file with --debug-file)"
            ))
        })?;
        let rt = &python.layout.runtime;
        let breaker = match (
            rt.interp_eval_breaker,
            rt.interp_gc_scheduled,
            rt.ts_eval_breaker,
        ) {
            (Some(eval_breaker), Some(gc_scheduled), _) => Breaker::Interp {
                eval_breaker,
                gc_scheduled,
            },
            (_, _, Some(off)) => Breaker::Thread(off),
            _ => {
                return Err(NoSafePoint(format!(
                    "the debug info of CPython {} lacks PyInterpreterState.ceval.eval_breaker \
                     and .ceval.gc_scheduled (3.12) or PyThreadState.eval_breaker (3.13)",
                    python.version
                )))
            }
        };
        Ok(SafePoint {
            handle_pending,
            breaker,
            runtime,
        })
    }

    /// With every thread of `tracee` stopped: run the program until one of
    /// its threads is at a safe point (the entry of `_Py_HandlePending`, or
    /// `trap` when given: a thread in the trace function), `until` passes,
    /// or `stop` is raised. Signals meanwhile reach the program; a thread
    /// born meanwhile is watched too; a forked child is let go; a program
    /// killed before its threads are armed is [`Reached::Ended`] too.
    pub fn reach(
        &self,
        tracee: &mut Tracee,
        layout: &Layout,
        trap: Option<RemoteAddr>,
        until: Option<Instant>,
        stop: Option<&AtomicBool>,
    ) -> Result<Reached, TraceError> {
        let mut set = Vec::new();
        let armed = tracee
            .set_safe_watch(self.handle_pending)
            .and_then(|()| Ok(self.trip(tracee.mem(), layout, &mut set)?));
        if let Err(e) = armed {
            tracee.clear_safe_watch();
            self.untrip(tracee.mem(), &set);
            return ended_meanwhile(tracee).map_or(Err(e), |s| Ok(Reached::Ended(Box::new(s))));
        }
        tracee.resume_all()?;
        let reached = self.wait(tracee, layout, trap, until, stop, &mut set);
        if !matches!(reached, Ok(Reached::Ended(_))) {
            tracee.stop_all()?;
            tracee.clear_safe_watch();
            self.untrip(tracee.mem(), &set);
        }
        reached
    }

    /// Stop every thread, arm the watch and the breaker again, and let
    /// them run.
    fn rearm(
        &self,
        tracee: &mut Tracee,
        layout: &Layout,
        set: &mut Vec<RemoteAddr>,
    ) -> Result<(), TraceError> {
        tracee.stop_all()?;
        tracee.set_safe_watch(self.handle_pending)?;
        if let Err(e) = self.trip(tracee.mem(), layout, set) {
            log::debug!(target: "tracer::hook", "eval breaker not set again: {e}");
        }
        tracee.resume_all()
    }

    fn wait(
        &self,
        tracee: &mut Tracee,
        layout: &Layout,
        trap: Option<RemoteAddr>,
        until: Option<Instant>,
        stop: Option<&AtomicBool>,
        set: &mut Vec<RemoteAddr>,
    ) -> Result<Reached, TraceError> {
        let mut armed = Instant::now();
        loop {
            let Some(s) = tracee.wait_timeout(POLL)? else {
                if stop.is_some_and(|f| f.load(Ordering::SeqCst)) {
                    return Ok(Reached::Stopped);
                }
                if until.is_some_and(|u| Instant::now() >= u) {
                    return Ok(Reached::TimedOut);
                }
                if armed.elapsed() >= REARM {
                    log::debug!(target: "tracer::hook", "no safe point reached in {REARM:?}: watch and breaker set again");
                    armed = Instant::now();
                    if let Err(e) = self.rearm(tracee, layout, set) {
                        // A program killed or ending has no thread left to
                        // stop or arm: its end comes through the wait.
                        log::debug!(target: "tracer::hook", "watch not set again: {e}");
                        let _ = tracee.resume_all();
                    }
                    continue;
                }
                // 3.12: the interpreter computes its breaker again at some
                // moments (a thread taking the lock after a drop request):
                // set it again if it was cleared with nobody at the entry.
                if let Err(e) = self.retrip(tracee.mem(), layout) {
                    log::debug!(target: "tracer::hook", "eval breaker not set again: {e}");
                }
                continue;
            };
            match s {
                Stop::Watch { tid, addr, .. } if addr == self.handle_pending => {
                    log::debug!(target: "tracer::hook", "thread {tid} at the safe point {HANDLE_PENDING}");
                    return Ok(Reached::At(tid));
                }
                Stop::Breakpoint {
                    tid,
                    addr,
                    mut regs,
                } if Some(addr) == trap => {
                    if regs.rip == addr.0.wrapping_add(1) && tracee.has_breakpoint(addr) {
                        // Past an int3 of ours: once it is removed (the
                        // detach this is for), the instruction under it runs.
                        regs.rip = addr.0;
                        tracee.set_regs(tid, &regs)?;
                    }
                    log::debug!(target: "tracer::hook", "thread {tid} at the safe point of the trap");
                    return Ok(Reached::At(tid));
                }
                Stop::Breakpoint {
                    tid,
                    addr,
                    mut regs,
                } => {
                    tracee.step_back_over(tid, &mut regs, addr)?;
                    tracee.resume(tid, None)?;
                }
                Stop::Watch { tid, .. } => tracee.resume(tid, None)?,
                Stop::Signal { tid, sig } => tracee.resume(tid, Some(sig))?,
                Stop::NewThread { parent, tid } => {
                    // Its thread state is new: its breaker too (3.13).
                    if let Breaker::Thread(_) = self.breaker {
                        if let Err(e) = self.trip(tracee.mem(), layout, set) {
                            log::debug!(target: "tracer::hook", "eval breaker of a new thread not set: {e}");
                        }
                    }
                    tracee.resume(tid, None)?;
                    tracee.resume(parent, None)?;
                }
                Stop::Forked { parent, child } => {
                    tracee.release_fork(child)?;
                    tracee.resume(parent, None)?;
                }
                Stop::ThreadExit { .. } => {}
                s @ (Stop::Exec { .. } | Stop::Exited { .. } | Stop::Killed { .. }) => {
                    return Ok(Reached::Ended(Box::new(s)))
                }
            }
        }
    }

    /// Make the eval breaker of every interpreter (3.12) or thread state
    /// (3.13) fire, with nothing due behind it; every thread is stopped.
    /// `set` gets the words whose condition hindsight set (not the
    /// program): [`SafePoint::untrip`] clears them.
    fn trip(
        &self,
        mem: &ProcMem,
        layout: &Layout,
        set: &mut Vec<RemoteAddr>,
    ) -> Result<(), MemError> {
        match self.breaker {
            Breaker::Interp {
                eval_breaker,
                gc_scheduled,
            } => {
                for interp in self.interpreters(mem, layout)? {
                    let at = interp.at(gc_scheduled);
                    if read_i32(mem, at)? == 0 {
                        mem.write(at, &1i32.to_ne_bytes())?;
                        set.push(at);
                    }
                    mem.write(interp.at(eval_breaker), &1i32.to_ne_bytes())?;
                }
            }
            Breaker::Thread(off) => {
                for ts in thread_states(mem, layout, self.runtime)? {
                    let at = ts.at(off);
                    let now = mem.read_u64(at)?;
                    if now & GC_SCHEDULED_BIT == 0 {
                        mem.write(at, &(now | GC_SCHEDULED_BIT).to_ne_bytes())?;
                        set.push(at);
                    }
                }
            }
        }
        Ok(())
    }

    /// Clear the conditions [`SafePoint::trip`] set (every thread stopped:
    /// no collection the program did not schedule). A breaker left set
    /// costs one call of `_Py_HandlePending`, which computes it again.
    fn untrip(&self, mem: &ProcMem, set: &[RemoteAddr]) {
        for &at in set {
            let done = match self.breaker {
                Breaker::Interp { .. } => mem.write(at, &0i32.to_ne_bytes()),
                Breaker::Thread(_) => mem
                    .read_u64(at)
                    .and_then(|v| mem.write(at, &(v & !GC_SCHEDULED_BIT).to_ne_bytes())),
            };
            if let Err(e) = done {
                log::debug!(target: "tracer::hook", "scheduled collection not cleared at {at}: {e}");
            }
        }
    }

    /// 3.12: set the breaker again where it reads 0 (a whole `int` store, as
    /// the interpreter's own; threads may be running: a store of theirs
    /// in between only costs one more call of `_Py_HandlePending`). 3.13's
    /// bits are left alone: only the thread that handles them clears them.
    fn retrip(&self, mem: &ProcMem, layout: &Layout) -> Result<(), MemError> {
        let Breaker::Interp { eval_breaker, .. } = self.breaker else {
            return Ok(());
        };
        for interp in self.interpreters(mem, layout)? {
            let at = interp.at(eval_breaker);
            if read_i32(mem, at)? == 0 {
                mem.write(at, &1i32.to_ne_bytes())?;
            }
        }
        Ok(())
    }

    /// Every interpreter of the runtime, in list order.
    fn interpreters(&self, mem: &ProcMem, layout: &Layout) -> Result<Vec<RemoteAddr>, MemError> {
        let rt = &layout.runtime;
        let mut out = Vec::new();
        let mut interp = mem.read_ptr(self.runtime.at(rt.interpreters_head))?;
        while !interp.is_null() && out.len() < MAX_INTERPRETERS && !out.contains(&interp) {
            out.push(interp);
            interp = mem.read_ptr(interp.at(rt.interp_next))?;
        }
        Ok(out)
    }
}

/// After the watch or the breaker could not be set: the end of a program
/// killed meanwhile (SIGKILL takes its threads out of their stops, and
/// ptrace and its memory then fail), if it comes within [`GONE_WAIT`].
/// Other stops of a program that does not end are not answered: the caller
/// fails and lets it go.
fn ended_meanwhile(tracee: &mut Tracee) -> Option<Stop> {
    let until = Instant::now() + GONE_WAIT;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match tracee.wait_timeout(left) {
            Ok(Some(s @ (Stop::Exited { .. } | Stop::Killed { .. } | Stop::Exec { .. }))) => {
                return Some(s)
            }
            Ok(Some(_)) if !left.is_zero() => {}
            _ => return None,
        }
    }
}

/// The `int` at `at`.
fn read_i32(mem: &ProcMem, at: RemoteAddr) -> Result<i32, MemError> {
    let mut b = [0u8; 4];
    mem.read(at, &mut b)?;
    Ok(i32::from_ne_bytes(b))
}
