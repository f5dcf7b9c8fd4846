//! The one stop loop of a recording, however it started: wait for the
//! target's next stop, turn a trap into a step, pass every other stop on,
//! pass hindsight's own signals on to a launched program, and end when the
//! program ends, a bound is reached or the user asks; then let go of the
//! program ([`super::letgo`]) and finish the file.
//!
//! A bound reached with `--at-bound stop` does not end the recording at
//! once: the program is sent SIGTERM and recorded while its handlers and
//! `finally` blocks run, until it ends; after [`GRACE`] it is killed.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use store::{ProgramEnd, RecordingEnd, Writer};

use super::command::Command;
use super::config::{AtBound, Progress, ProgressFn, RecordOutcome, STOPPED_BY_OBSERVER};
use super::error::RecordError;
use super::letgo::{let_go, release_forked_child};
use super::relook::Looks;
use super::session::{Bounds, Exit, Origin, Session, GRACE};
use super::waker::{Alarm, Waker, Watcher};
use crate::addr::{RemoteAddr, Tid};
use crate::interp::own_trace::SetTrace;
use crate::ptrace::{Polled, Regs, Stop, TraceError, Tracee};

const INTERRUPTED: &str = "hindsight was interrupted (SIGINT or SIGTERM)";
/// Why a recording whose writer stopped (a full disk) ended; the writer
/// puts where and why in front of it.
const WRITE_STOPPED: &str = "hindsight stopped recording and let the program run on untraced";

/// A bound reached with `--at-bound stop`: the program was sent SIGTERM,
/// is recorded until it ends, and is killed at `kill_at`.
struct Ending {
    bound: String,
    kill_at: Instant,
}

/// The loop's own state.
struct Looping {
    traps: u64,
    ending: Option<Ending>,
    alarm: Arc<Alarm>,
    looks: Looks,
}

/// Record `s` until it ends (the target is already running), let it go
/// and finish the recording. `waker` ends a blocking wait; it is needed
/// for a time bound, a stop flag, signals to pass on and `--at-bound stop`.
pub(crate) fn run(
    mut s: Session,
    mut bounds: Bounds,
    waker: Option<Waker>,
    started: Instant,
) -> Result<RecordOutcome, RecordError> {
    let pass_on = s.command.as_ref().and_then(Command::pass_on);
    let alarm = Arc::new(Alarm::new(bounds.stop.clone(), pass_on));
    if let Some(max) = bounds.max_time {
        alarm.wake_at(started + max);
    }
    let watcher = waker
        .as_ref()
        .map(|w| Watcher::start(alarm.clone(), w.pid.clone()));
    let looks = Looks::of(&s.hooked, Instant::now());
    if let Some(at) = looks.next() {
        alarm.wake_at(at);
    }
    let mut st = Looping {
        traps: 0,
        ending: None,
        alarm,
        looks,
    };
    let exit = stop_loop(&mut s, &mut bounds, waker, started, &mut st);
    if let Some(w) = watcher {
        w.finish();
    }
    let Session {
        tracee,
        hooked,
        writer,
        mut rec,
        command,
    } = s;
    let exit = exit?;
    let ended_at_bound = match (&st.ending, &exit) {
        (Some(e), Exit::Ended(_)) => Some(e.bound.clone()),
        _ => None,
    };
    let pid = tracee.pid();
    let (end, mut reason, mut bound) = let_go(tracee, &hooked, &mut rec, exit)?;
    if let Some(b) = ended_at_bound {
        // It ended of the SIGTERM the bound sent: the bound ended it.
        reason = b.clone();
        bound = Some(b);
    }
    // Steps taken without a trap since the last stop (the program may have
    // ended right after them): their words are in the probe's memory, here.
    rec.clock.stop();
    rec.drain_trapless(&writer)?;
    if let Some((step, why)) = rec.own_trace_lost {
        // The recording is not whole: say where and why, in its end.
        reason = format!(
            "{reason}; at step {step} the program set its own trace function, which could not \
             run from hindsight's ({why}): that thread was not recorded from there"
        );
    }
    let summary = writer.finish(RecordingEnd {
        end,
        reason,
        steps: rec.steps,
        threads: rec.threads.clone(),
        duration_ms: started.elapsed().as_millis() as u64,
    })?;
    log::info!(target: "tracer::record", "{} traps taken for {} steps", st.traps, summary.steps);
    rec.log_counts();
    let note =
        (summary.steps == 0).then(|| format!("recorded 0 steps: {}", rec.filter.why_nothing()));
    let command_end = match command {
        // Let go because the recording could not be written: the program
        // runs on untraced, and `record` ends with it all the same.
        Some(c) if summary.cut.is_some() && end == ProgramEnd::Detached => c.wait_untraced(pid)?,
        Some(c) => c.finish(end)?,
        None => end,
    };
    Ok(RecordOutcome {
        end,
        command_end,
        steps: summary.steps,
        bytes: summary.bytes,
        bound,
        note,
        cut: summary.cut,
    })
}

/// Wait for stops and answer them until the recording must end.
fn stop_loop(
    s: &mut Session,
    bounds: &mut Bounds,
    mut waker: Option<Waker>,
    started: Instant,
    st: &mut Looping,
) -> Result<Exit, RecordError> {
    let mut last_progress = Instant::now();
    loop {
        let got = match super::drain::drain_while_running(s, waker.as_ref().map(Waker::current))? {
            Polled::Stop(stop) => Some(stop),
            Polled::Woken => None,
            Polled::Nothing => match waker.as_mut() {
                None => Some(s.tracee.wait()?),
                Some(w) => s.tracee.wait_or_woken(w.current())?,
            },
        };
        let stop = match (got, waker.as_mut()) {
            (Some(stop), _) => stop,
            (None, None) => continue,
            (None, Some(w)) => match woken(s, bounds, started, st)? {
                Woken::Exit(exit) => return Ok(exit),
                Woken::WaitForTrap => {
                    waker = None;
                    continue;
                }
                Woken::Again => {
                    w.respawn().map_err(|e| RecordError::Other(e.to_string()))?;
                    continue;
                }
            },
        };
        if let Some(exit) = on_stop(s, bounds, started, stop, st)? {
            return Ok(exit);
        }
        tick_progress(&mut bounds.progress, &mut last_progress, &s.writer, started);
    }
}

/// What to do when the helper ended a wait with no stop of the target.
enum Woken {
    Exit(Exit),
    /// Letting go takes a trap (3.12+ switches tracing off by a call at a
    /// safe point): wait for the next one without the helper.
    WaitForTrap,
    /// Go on waiting, with a new helper.
    Again,
}

/// The alarm ended a wait: the user's stop, signals to pass on, the time
/// bound or the end of the grace period.
fn woken(
    s: &mut Session,
    bounds: &Bounds,
    started: Instant,
    st: &mut Looping,
) -> Result<Woken, RecordError> {
    let now = Instant::now();
    if bounds
        .stop
        .as_ref()
        .is_some_and(|f| f.load(Ordering::SeqCst))
    {
        return Ok(Woken::Exit(Exit::LetGo {
            at: None,
            reason: INTERRUPTED.into(),
            bound: None,
        }));
    }
    if let Some(c) = s.command.as_mut() {
        c.pass_signals_on(&s.tracee, &st.alarm, now);
    }
    if let Some(e) = &st.ending {
        if now >= e.kill_at {
            return Ok(Woken::Exit(Exit::Kill {
                bound: e.bound.clone(),
            }));
        }
    } else if let Some(bound) = bound_reached(bounds, s.rec.steps, started, &s.writer) {
        match &s.hooked.origin {
            Origin::Launched {
                at_bound: AtBound::Stop,
                ..
            } => end_program(s, st, bound)?,
            Origin::Launched {
                set_trace: Some(_), ..
            } => {
                st.alarm.forget_passed(now);
                return Ok(Woken::WaitForTrap);
            }
            Origin::Launched { .. } | Origin::Seized { .. } => {
                return Ok(Woken::Exit(Exit::LetGo {
                    at: None,
                    reason: bound.clone(),
                    bound: Some(bound),
                }))
            }
        }
    }
    if let Some(at) = st.looks.take(&mut s.tracee, &s.hooked, now)? {
        st.alarm.wake_at(at);
    }
    st.alarm.forget_passed(now);
    Ok(Woken::Again)
}

/// A bound was reached with `--at-bound stop`: send the program SIGTERM and
/// record on while its handlers and `finally` blocks run; the alarm wakes
/// the loop at the end of the grace period to kill it.
fn end_program(s: &mut Session, st: &mut Looping, bound: String) -> Result<(), RecordError> {
    let pid = s.tracee.pid();
    log::info!(target: "tracer::record", "{bound}: SIGTERM to the program, SIGKILL in {GRACE:?}");
    match crate::sys::kill(pid, libc::SIGTERM) {
        // Already gone: its end is the next stop.
        Err(e) if e.raw_os_error() != Some(libc::ESRCH) => {
            return Err(TraceError::ptrace("kill", Tid(pid), e).into())
        }
        _ => {}
    }
    let kill_at = Instant::now() + GRACE;
    st.alarm.wake_at(kill_at);
    // What it runs from now on is recorded, without a budget of steps.
    s.rec.max_steps = None;
    st.ending = Some(Ending { bound, kill_at });
    Ok(())
}

/// Answer one stop; `Some` when the recording ends there.
fn on_stop(
    s: &mut Session,
    bounds: &Bounds,
    started: Instant,
    stop: Stop,
    st: &mut Looping,
) -> Result<Option<Exit>, RecordError> {
    match stop {
        Stop::Breakpoint { tid, addr, regs } if addr == s.hooked.trap => {
            st.traps += 1;
            return on_trap(s, bounds, started, tid, regs, st);
        }
        Stop::Breakpoint {
            tid,
            addr,
            mut regs,
        } => pass_stray_breakpoint(&mut s.tracee, tid, &mut regs, addr)?,
        Stop::Watch { tid, addr, regs } => on_set_trace(s, tid, addr, regs)?,
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
            let probe = s.rec.cache.probe_mut();
            release_forked_child(
                &mut s.tracee,
                child,
                &h.python.layout,
                h.runtime,
                h.hook_fn,
                probe.as_ref(),
            )?;
            drop(probe);
            s.tracee.resume(parent, None)?;
        }
        Stop::ThreadExit { .. } => {}
        Stop::Exec { .. } => return Ok(Some(Exit::Exec)),
        Stop::Exited { code } => return Ok(Some(Exit::Ended(ProgramEnd::Exited(code)))),
        Stop::Killed { sig } => return Ok(Some(Exit::Ended(ProgramEnd::Signaled(sig)))),
    }
    Ok(None)
}

/// A thread is about to change its trace function (the watch of
/// [`crate::interp::own_trace`]): the program's own runs from the probe.
fn on_set_trace(
    s: &mut Session,
    tid: Tid,
    addr: RemoteAddr,
    regs: Regs,
) -> Result<(), RecordError> {
    let Some(w) = s.hooked.set_trace_watch.filter(|w| w.addr == addr) else {
        s.tracee.resume(tid, None)?;
        return Ok(());
    };
    let mut probe = s.rec.cache.probe_mut();
    let hook_fn = s.hooked.hook_fn;
    let done = w.answer(&mut s.tracee, tid, regs, probe.as_mut(), hook_fn)?;
    drop(probe);
    if let SetTrace::Through { why } = done {
        s.rec.own_trace_lost.get_or_insert((s.rec.steps, why));
    }
    Ok(())
}

/// A thread stopped in the trap: the steps the probe took without one come
/// first, then this one, unless a bound or the user ends the recording.
fn on_trap(
    s: &mut Session,
    bounds: &Bounds,
    started: Instant,
    tid: Tid,
    mut regs: Regs,
    st: &mut Looping,
) -> Result<Option<Exit>, RecordError> {
    s.rec.clock.stop();
    if log::log_enabled!(target: "tracer::delta", log::Level::Debug) {
        if let Some(p) = s.rec.cache.probe_mut().as_ref() {
            let (frame, what, _) = p.trap_args();
            let armed = s.rec.armed_frame();
            log::debug!(target: "tracer::delta", "stop: event {what}, frame {frame}, armed {armed:?}");
        }
    }
    if let Err(e) = s.rec.drain_trapless(&s.writer) {
        log::warn!(target: "tracer::record", "steps not recorded: {e}");
    }
    if let Some(p) = s.rec.cache.probe_mut().as_ref() {
        // The probe's stop: its registers no longer hold CPython's
        // arguments; the probe kept them.
        let (frame, what, arg) = p.trap_args();
        (regs.rsi, regs.rdx, regs.rcx) = (frame.0, what as u64, arg.0);
    }
    let (frame, what, arg) = (RemoteAddr(regs.rsi), regs.rdx as i32, RemoteAddr(regs.rcx));
    s.rec.answer_trap(&mut s.tracee, tid, &mut regs)?;
    let interrupted = bounds
        .stop
        .as_ref()
        .is_some_and(|f| f.load(Ordering::Relaxed));
    // Once the program is ending, it is recorded to its end.
    let reached = match st.ending {
        None => bound_reached(bounds, s.rec.steps, started, &s.writer),
        Some(_) => None,
    };
    let stops_program = matches!(
        s.hooked.origin,
        Origin::Launched {
            at_bound: AtBound::Stop,
            ..
        }
    );
    if s.writer.stopped().is_some() {
        // Nothing more can be written: recording on would cost the program
        // for nothing. It runs on untraced.
        s.rec.cache.end();
        return Ok(Some(Exit::LetGo {
            at: Some(tid),
            reason: WRITE_STOPPED.into(),
            bound: None,
        }));
    }
    match reached {
        Some(bound) if stops_program => end_program(s, st, bound)?,
        Some(bound) => {
            s.rec.cache.end();
            return Ok(Some(Exit::LetGo {
                at: Some(tid),
                reason: bound.clone(),
                bound: Some(bound),
            }));
        }
        None if interrupted => {
            s.rec.cache.end();
            return Ok(Some(Exit::LetGo {
                at: Some(tid),
                reason: INTERRUPTED.into(),
                bound: None,
            }));
        }
        None => {}
    }
    if let Err(e) = s
        .rec
        .on_trap(&mut s.tracee, &s.writer, tid, frame, what, arg)
    {
        log::warn!(target: "tracer::record", "step not recorded: {e}");
    }
    // The step observer may have asked to stop at this very step: end here,
    // before the program runs on (and the probe takes line steps of its own).
    if st.ending.is_none() && s.writer.stop_asked() {
        let bound = STOPPED_BY_OBSERVER.to_string();
        if stops_program {
            end_program(s, st, bound)?;
        } else {
            return Ok(Some(Exit::LetGo {
                at: Some(tid),
                reason: bound.clone(),
                bound: Some(bound),
            }));
        }
    }
    s.tracee.resume(tid, None)?;
    Ok(None)
}

/// The bound `--max-steps` or `--max-time` that is reached, or the step
/// observer's request to stop, as the reason.
fn bound_reached(bounds: &Bounds, steps: u64, started: Instant, writer: &Writer) -> Option<String> {
    if writer.stop_asked() {
        return Some(STOPPED_BY_OBSERVER.into());
    }
    if let Some(max) = bounds.max_steps.filter(|&m| steps >= m) {
        return Some(format!("--max-steps {max} reached"));
    }
    let max = bounds.max_time.filter(|&m| started.elapsed() >= m)?;
    Some(format!("--max-time {}s reached", max.as_secs_f64()))
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
