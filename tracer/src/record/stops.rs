//! The one stop loop of a recording, however it started: wait for the
//! target's next stop, turn a trap into a step, pass every other stop on,
//! and end when the program ends, a bound is reached or the user asks;
//! then let go of the program the way its start requires
//! ([`Origin`]) and finish the file.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use store::{ProgramEnd, RecordingEnd, Writer};

use super::config::{AtBound, Progress, ProgressFn, RecordOutcome};
use super::error::RecordError;
use super::recorder::Recorder;
use super::waker::{Waker, Watcher};
use crate::addr::{RemoteAddr, Tid};
use crate::cpython::Python;
use crate::interp::{hook, threads};
use crate::ptrace::{Regs, Stop, TraceError, Tracee};

/// How the recorder took hold of the program, which decides how it lets go.
pub(crate) enum Origin {
    /// Launched by `record`: `tstate` is the main thread's state, hooked at
    /// start-up; on 3.12+ (`set_trace`: the functions and the return trap of
    /// the inferior call) tracing is switched off by a call in the target.
    Launched {
        tstate: RemoteAddr,
        set_trace: Option<(hook::SetTraceFns, RemoteAddr)>,
        at_bound: AtBound,
    },
    /// Seized by `attach`: every thread state was hooked; it always detaches.
    Seized,
}

/// A hooked program and everything the loop records it with.
pub(crate) struct Session {
    pub(crate) tracee: Tracee,
    pub(crate) hooked: Hooked,
    pub(crate) writer: Writer,
    pub(crate) rec: Recorder,
}

/// Where the hook is and how it was put there: what letting go undoes.
pub(crate) struct Hooked {
    pub(crate) python: Arc<Python>,
    /// `_PyRuntime`.
    pub(crate) runtime: RemoteAddr,
    /// Where a thread calling the trace function stops.
    pub(crate) trap: RemoteAddr,
    /// What the thread states' trace function points at: the probe's entry,
    /// or the trap itself.
    pub(crate) hook_fn: RemoteAddr,
    pub(crate) origin: Origin,
}

/// What ends a recording besides the program's own end.
pub(crate) struct Bounds {
    pub(crate) max_steps: Option<u64>,
    pub(crate) max_time: Option<Duration>,
    /// Set from outside (hindsight's signal handler) to end and detach.
    pub(crate) stop: Option<Arc<AtomicBool>>,
    pub(crate) progress: Option<ProgressFn>,
}

/// Why the loop ended, and what is left to do about the program.
enum Exit {
    /// The program ended by itself.
    Ended(ProgramEnd),
    /// End the program (a bound with `--at-bound stop`).
    Kill { bound: String },
    /// Let the program run on untraced: from a trap of thread `at`, or
    /// while it runs (`None`).
    LetGo {
        at: Option<Tid>,
        reason: String,
        bound: Option<String>,
    },
    /// It exec'd another program: the hooked image is gone.
    Exec,
}

const INTERRUPTED: &str = "hindsight was interrupted (SIGINT or SIGTERM)";
const EXECED: &str = "the program exec'd another program; it runs on untraced";

/// Record `s` until it ends (the target is already running), let it go
/// and finish the recording. `waker` ends a blocking wait; it is needed
/// when there is a time bound or a stop flag.
pub(crate) fn run(
    mut s: Session,
    mut bounds: Bounds,
    waker: Option<Waker>,
    started: Instant,
) -> Result<RecordOutcome, RecordError> {
    let deadline = bounds.max_time.map(|d| started + d);
    let stop = bounds.stop.clone().unwrap_or_default();
    let watcher = waker
        .as_ref()
        .map(|w| Watcher::start(stop.clone(), deadline, w.pid.clone()));
    let exit = stop_loop(&mut s, &mut bounds, waker, started);
    if let Some(w) = watcher {
        w.finish();
    }
    let Session {
        tracee,
        hooked,
        writer,
        mut rec,
    } = s;
    let (exit, traps) = exit?;
    let (end, reason, bound) = let_go(tracee, &hooked, &mut rec, exit)?;
    // Steps taken without a trap since the last stop (the program may have
    // ended right after them): their words are in the probe's memory, here.
    rec.drain_trapless(&writer)?;
    let summary = writer.finish(RecordingEnd {
        end,
        reason,
        steps: rec.steps,
        threads: rec.threads.clone(),
        duration_ms: started.elapsed().as_millis() as u64,
    })?;
    log::info!(target: "tracer::record", "{traps} traps taken for {} steps", summary.steps);
    log_counts(&mut rec);
    Ok(RecordOutcome {
        end,
        steps: summary.steps,
        bytes: summary.bytes,
        bound,
    })
}

/// Wait for stops and answer them until the recording must end.
fn stop_loop(
    s: &mut Session,
    bounds: &mut Bounds,
    mut waker: Option<Waker>,
    started: Instant,
) -> Result<(Exit, u64), RecordError> {
    let mut last_progress = Instant::now();
    let mut traps = 0u64;
    let exit = loop {
        let stop = match waker.as_mut() {
            None => s.tracee.wait()?,
            Some(w) => match s.tracee.wait_or_woken(w.current())? {
                Some(stop) => stop,
                None => match woken(s, bounds, started) {
                    Woken::Exit(exit) => break exit,
                    Woken::WaitForTrap => {
                        waker = None;
                        continue;
                    }
                    Woken::Again => {
                        w.respawn().map_err(|e| RecordError::Other(e.to_string()))?;
                        continue;
                    }
                },
            },
        };
        if let Some(exit) = on_stop(s, bounds, started, stop, &mut traps)? {
            break exit;
        }
        tick_progress(&mut bounds.progress, &mut last_progress, &s.writer, started);
    };
    Ok((exit, traps))
}

/// What to do when the helper ended a wait with no stop of the target.
enum Woken {
    Exit(Exit),
    /// Letting go takes a trap (3.12+ switches tracing off by a call at a
    /// safe point): wait for the next one without the helper.
    WaitForTrap,
    /// The helper ended for another reason: start a new one.
    Again,
}

fn woken(s: &Session, bounds: &Bounds, started: Instant) -> Woken {
    if bounds
        .stop
        .as_ref()
        .is_some_and(|f| f.load(Ordering::SeqCst))
    {
        return Woken::Exit(Exit::LetGo {
            at: None,
            reason: INTERRUPTED.into(),
            bound: None,
        });
    }
    let Some(bound) = bound_reached(bounds, s.rec.steps, started) else {
        return Woken::Again;
    };
    match &s.hooked.origin {
        Origin::Launched {
            at_bound: AtBound::Stop,
            ..
        } => Woken::Exit(Exit::Kill { bound }),
        Origin::Launched {
            set_trace: Some(_), ..
        } => Woken::WaitForTrap,
        Origin::Launched { .. } | Origin::Seized => Woken::Exit(Exit::LetGo {
            at: None,
            reason: bound.clone(),
            bound: Some(bound),
        }),
    }
}

/// Answer one stop; `Some` when the recording ends there.
fn on_stop(
    s: &mut Session,
    bounds: &Bounds,
    started: Instant,
    stop: Stop,
    traps: &mut u64,
) -> Result<Option<Exit>, RecordError> {
    match stop {
        Stop::Breakpoint { tid, addr, regs } if addr == s.hooked.trap => {
            *traps += 1;
            return on_trap(s, bounds, started, tid, regs);
        }
        Stop::Breakpoint {
            tid,
            addr,
            mut regs,
        } => pass_stray_breakpoint(&mut s.tracee, tid, &mut regs, addr)?,
        Stop::Signal { tid, sig } => {
            let ours = s.rec.probe_fault(&mut s.tracee, tid, sig)?;
            s.tracee.resume(tid, (!ours).then_some(sig))?
        }
        Stop::NewThread { parent, tid } => s.rec.on_new_thread(
            &mut s.tracee,
            parent,
            tid,
            s.hooked.runtime,
            s.hooked.hook_fn,
        )?,
        Stop::Forked { parent, child } => {
            let h = &s.hooked;
            release_forked_child(&mut s.tracee, child, &h.python.layout, h.runtime, h.hook_fn)?;
            s.tracee.resume(parent, None)?;
        }
        Stop::ThreadExit { .. } => {}
        Stop::Exec { .. } => return Ok(Some(Exit::Exec)),
        Stop::Exited { code } => return Ok(Some(Exit::Ended(ProgramEnd::Exited(code)))),
        Stop::Killed { sig } => return Ok(Some(Exit::Ended(ProgramEnd::Signaled(sig)))),
    }
    Ok(None)
}

/// A thread stopped in the trap: the steps the probe took without one come
/// first, then this one, unless a bound or the user ends the recording.
fn on_trap(
    s: &mut Session,
    bounds: &Bounds,
    started: Instant,
    tid: Tid,
    mut regs: Regs,
) -> Result<Option<Exit>, RecordError> {
    if let Err(e) = s.rec.drain_trapless(&s.writer) {
        log::warn!(target: "tracer::record", "steps not recorded: {e}");
    }
    let (frame, what, arg) = (RemoteAddr(regs.rsi), regs.rdx as i32, RemoteAddr(regs.rcx));
    s.rec.answer_trap(&mut s.tracee, tid, &mut regs)?;
    let interrupted = bounds
        .stop
        .as_ref()
        .is_some_and(|f| f.load(Ordering::Relaxed));
    let ending = match bound_reached(bounds, s.rec.steps, started) {
        Some(bound) => Some((bound.clone(), Some(bound))),
        None if interrupted => Some((INTERRUPTED.to_string(), None)),
        None => None,
    };
    if let Some((reason, bound)) = ending {
        s.rec.cache.end();
        let kill = matches!(
            s.hooked.origin,
            Origin::Launched {
                at_bound: AtBound::Stop,
                ..
            }
        );
        return Ok(Some(match bound {
            Some(bound) if kill => Exit::Kill { bound },
            bound => Exit::LetGo {
                at: Some(tid),
                reason,
                bound,
            },
        }));
    }
    if let Err(e) = s.rec.on_trap(&s.tracee, &s.writer, tid, frame, what, arg) {
        log::warn!(target: "tracer::record", "step not recorded: {e}");
    }
    s.tracee.resume(tid, None)?;
    Ok(None)
}

/// The bound `--max-steps` or `--max-time` that is reached, as the reason.
fn bound_reached(bounds: &Bounds, steps: u64, started: Instant) -> Option<String> {
    if let Some(max) = bounds.max_steps.filter(|&m| steps >= m) {
        return Some(format!("--max-steps {max} reached"));
    }
    let max = bounds.max_time.filter(|&m| started.elapsed() >= m)?;
    Some(format!("--max-time {}s reached", max.as_secs_f64()))
}

/// Do what `exit` leaves to do about the program; how it ended, why, and
/// the bound that ended it.
fn let_go(
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
            (
                ProgramEnd::Signaled(libc::SIGKILL),
                bound.clone(),
                Some(bound),
            )
        }
        Exit::LetGo { at, reason, bound } => {
            rec.disarm_probe();
            match h.origin {
                Origin::Seized => release(tracee, &h.python, h.runtime, h.hook_fn)?,
                Origin::Launched {
                    tstate, set_trace, ..
                } => unhook_launched(tracee, h, at, tstate, set_trace)?,
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
) -> Result<(), RecordError> {
    let layout = &h.python.layout;
    let Some(tid) = at else {
        let mut undo = Ok(());
        tracee.detach_with(|t| {
            undo = threads::unhook_running(t.mem(), layout, h.runtime, tstate, h.hook_fn);
        })?;
        return Ok(undo?);
    };
    if let Some((fns, ret_trap)) = set_trace {
        hook::uninstall_by_call(&mut tracee, tid, fns, tstate, ret_trap).map_err(|e| {
            RecordError::Other(format!("cannot switch tracing off in the interpreter: {e}"))
        })?;
    } else {
        hook::uninstall_running(tracee.mem(), layout, h.runtime, tstate)?;
    }
    threads::unhook_all(tracee.mem(), layout, h.runtime, h.hook_fn)?;
    Ok(tracee.detach()?)
}

/// Stop every thread, unhook every thread state whose trace function is
/// `hook_fn`, remove the traps, detach.
pub(crate) fn release(
    tracee: Tracee,
    python: &Python,
    runtime: RemoteAddr,
    hook_fn: RemoteAddr,
) -> Result<(), RecordError> {
    let layout = &python.layout;
    let mut unhook_err = None;
    tracee.detach_with(|t| {
        if let Err(e) = threads::unhook_all(t.mem(), layout, runtime, hook_fn) {
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

/// A breakpoint that is not the trap (a one-shot one another thread reached
/// late): run the original instruction and go on.
fn pass_stray_breakpoint(
    tracee: &mut Tracee,
    tid: Tid,
    regs: &mut Regs,
    addr: RemoteAddr,
) -> Result<(), TraceError> {
    log::warn!(target: "tracer::record", "unexpected breakpoint at {addr} in thread {tid}");
    tracee.step_back_over(tid, regs, addr)?;
    tracee.resume(tid, None)
}

/// A forked child of the target is a copy of it, trace hook included
/// (`hook_fn` in its thread states): remove the hook from its memory and
/// let it run on untraced (a recording follows one process; left hooked,
/// its first step would stop it on a trap nobody answers).
fn release_forked_child(
    tracee: &mut Tracee,
    child: Tid,
    layout: &symbols::Layout,
    runtime: RemoteAddr,
    hook_fn: RemoteAddr,
) -> Result<(), TraceError> {
    let mem = crate::memory::procmem::ProcMem::new(child.0);
    match threads::unhook_all(&mem, layout, runtime, hook_fn) {
        Ok(n) => {
            log::info!(target: "tracer::record", "forked child {child} runs on untraced ({n} thread states unhooked)")
        }
        Err(e) => {
            log::warn!(target: "tracer::record", "forked child {child}: trace hook not removed: {e}")
        }
    }
    tracee.release_fork(child)
}

/// Call the progress callback, at most every 250 ms.
fn tick_progress(
    progress: &mut Option<ProgressFn>,
    last: &mut Instant,
    writer: &Writer,
    started: Instant,
) {
    if let Some(cb) = progress.as_mut() {
        if last.elapsed() >= Duration::from_millis(250) {
            *last = Instant::now();
            let (steps, bytes) = writer.progress();
            cb(&Progress {
                steps,
                bytes,
                elapsed: started.elapsed(),
            });
        }
    }
}

/// What the tracer thread, the stop cache and the probe did, in the log.
fn log_counts(rec: &mut Recorder) {
    if let Some((user, system)) = crate::sys::thread_cpu_times() {
        log::info!(target: "tracer::record", "tracer thread CPU: user {:.2} s, system {:.2} s", user.as_secs_f64(), system.as_secs_f64());
    }
    let (hits, misses) = rec.cache.counts();
    let (ranges, bytes, pages) = rec.cache.plan_size();
    log::info!(target: "tracer::record", "stop cache: {hits} reads answered, {misses} missed; last plan {ranges} ranges, {bytes} bytes, {pages} pages");
    if let Some(p) = rec.cache.probe_mut().as_ref() {
        let (calls, faults, trapless) = p.counts();
        log::info!(target: "tracer::probe", "probe: {calls} calls, {trapless} steps without a trap, {faults} faults recovered");
        log::info!(target: "tracer::probe", "probe filter: {} events of unrecorded files without a trap", p.filtered());
    }
}
