//! Taking hold of a running program at a safe step, and letting it go:
//! seize it and hook its threads as `attach` does (with the probe, whose
//! watchdog makes it harmless if hindsight is killed while it waits; the
//! probe records nothing here: no frame is armed, no file filtered, every
//! event traps), let it run until a thread is about to run the line asked
//! for (or any line), keep that thread stopped inside CPython's call of
//! the trace function, where it holds the GIL and may run Python code, as
//! a pdb breakpoint does, with every other thread unhooked and the probe
//! disarmed; finally let it return from that call, and detach.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::addr::{RemoteAddr, Tid};
use crate::cpython::{Decoder, Python};
use crate::interp::threads;
use crate::memory::Memory;
use crate::probe::{Probe, ProbeMode};
use crate::ptrace::{Regs, Stop, TraceError, Tracee};
use crate::record::attach::{attachable_python, hook_all};
use crate::record::error::RecordError;
use crate::record::letgo::{release, release_forked_child};
use crate::record::relook::Looks;
use crate::record::session::Hooked;
use crate::record::waker::{Alarm, Waker, Watcher};
use crate::record::{AttachConfig, Attached, FilterSpec, Granularity};

/// Where the program is to be stopped.
#[derive(Debug, Clone, Default)]
pub struct Wanted {
    /// `FILE:LINE`: a line step of that line (FILE is an absolute path, or
    /// a path that ends the code's file name at a `/`).
    pub at: Option<(String, u32)>,
    /// Only a step of this thread (its kernel thread id).
    pub thread: Option<Tid>,
}

/// Where a thread was stopped.
#[derive(Debug, Clone)]
pub struct Place {
    /// The thread (kernel thread id).
    pub thread: Tid,
    /// The code's file (`co_filename`).
    pub file: String,
    /// The line about to run.
    pub line: u32,
    /// The function (its qualified name on 3.11+).
    pub function: String,
}

/// A program held at a line step: every thread hooked, `tid` stopped in
/// the trap with `regs`, the others running.
pub(crate) struct Halted {
    pub(crate) tracee: Tracee,
    pub(crate) hooked: Hooked,
    pub(crate) returning: bool,
    /// The probe, when the hook is its entry (disarmed once held).
    pub(crate) probe: Option<Probe>,
    pub(crate) regs: Regs,
    /// The frame object the trace function was given.
    pub(crate) frame: RemoteAddr,
    pub(crate) place: Place,
}

impl Halted {
    pub(crate) fn python(&self) -> &Arc<Python> {
        &self.hooked.python
    }

    /// Answer another thread's stop while the held one runs code: pass
    /// it on, or let it go on through the trap (it was reported before
    /// the hook was removed).
    pub(crate) fn answer_other(
        tracee: &mut Tracee,
        trap: RemoteAddr,
        returning: bool,
        stop: Stop,
    ) -> Result<(), TraceError> {
        pass_on(tracee, trap, returning, stop)
    }
}

/// Seize process `pid`, hook it, and wait for the step `wanted` asks for.
/// `stop` (hindsight's SIGINT and SIGTERM) ends the wait: the program is
/// let go, unharmed, and the error says nothing ran.
pub(crate) fn halt(
    pid: i32,
    debug_file: Option<PathBuf>,
    wanted: &Wanted,
    stop: Arc<AtomicBool>,
    probe: ProbeMode,
    on_waiting: Option<super::OnWaiting>,
) -> Result<Halted, RecordError> {
    let tracee = Tracee::seize(pid)?;
    // Nothing is changed yet: an error lets go (dropping the tracee detaches).
    let python = Arc::new(attachable_python(pid, debug_file.as_deref())?);
    if let Some(t) = wanted.thread {
        if !tracee.threads().contains(&t) {
            let all: Vec<String> = tracee.threads().iter().map(|t| t.0.to_string()).collect();
            return Err(RecordError::Other(format!(
                "process {pid} has no thread {t}; its threads are {} (ls /proc/{pid}/task)",
                all.join(", ")
            )));
        }
    }
    let cfg = hook_config(pid, debug_file, stop.clone(), probe);
    let (mut tracee, hooked, mut found) = hook_all(tracee, python.clone(), &cfg)?;
    let unhook = |tracee, h: &Hooked, probe: &mut Option<Probe>| {
        if let Some(p) = probe.as_mut() {
            p.disarm();
        }
        let _ = release(tracee, &h.python, h.runtime, h.hook_fn, probe.as_ref());
    };
    for tid in tracee.threads() {
        if let Err(e) = tracee.resume(tid, None) {
            unhook(tracee, &hooked, &mut found.probe);
            return Err(e.into());
        }
    }
    let waker = match Waker::spawn() {
        Ok(w) => w,
        Err(e) => {
            unhook(tracee, &hooked, &mut found.probe);
            return Err(RecordError::Other(format!(
                "cannot start the helper process that ends a wait: {e}"
            )));
        }
    };
    if let Some(f) = on_waiting {
        f(&Attached {
            pid,
            interpreter: format!("CPython {}", python.version),
            threads: found.thread_states,
        });
    }
    let alarm = Arc::new(Alarm::new(Some(stop.clone()), None));
    let looks = Looks::of(&hooked, Instant::now());
    if let Some(at) = looks.next() {
        alarm.wake_at(at);
    }
    let watcher = Watcher::start(alarm.clone(), waker.pid.clone());
    let mut looking = Looking {
        decoder: Decoder::new(python.clone()),
        wanted,
        waker,
        stop: &stop,
        alarm,
        looks,
    };
    let found_at = looking.wait(&mut tracee, &hooked, found.returning, found.probe.as_mut());
    watcher.finish();
    drop(looking);
    match found_at {
        // Only this thread holds the GIL; it stays in the trap. No other
        // thread is to stop in the trap or run the probe while it runs
        // code (the GIL may pass to them meanwhile).
        Ok((regs, frame, place)) => {
            if let Some(p) = found.probe.as_mut() {
                p.disarm();
            }
            let mem = tracee.mem();
            let layout = &python.layout;
            if let Err(e) = threads::unhook_all(
                mem,
                layout,
                hooked.runtime,
                hooked.hook_fn,
                found.probe.as_ref(),
            ) {
                log::warn!(target: "tracer::live", "a thread state could not be unhooked before the code runs: {e}");
            }
            Ok(Halted {
                tracee,
                hooked,
                returning: found.returning,
                probe: found.probe,
                regs,
                frame,
                place,
            })
        }
        Err(Waited::Gone(e)) => Err(e),
        Err(Waited::Exec(e)) => {
            // Its breakpoints went with the old image: nothing to undo.
            let _ = tracee.detach();
            Err(e)
        }
        Err(Waited::Let(e)) => {
            unhook(tracee, &hooked, &mut found.probe);
            Err(e)
        }
    }
}

/// Let the held program go: the held thread returns from the trace
/// function as from any trap, every hook is removed, every thread detached.
pub(crate) fn let_go(h: Halted) -> Result<(), RecordError> {
    let Halted {
        mut tracee,
        hooked,
        returning,
        mut probe,
        mut regs,
        place,
        ..
    } = h;
    if !returning {
        // The trap is the function itself: perform its `return 0`.
        tracee.emulate_return(place.thread, &mut regs, 0)?;
    }
    if let Some(p) = probe.as_mut() {
        p.disarm();
    }
    release(
        tracee,
        &hooked.python,
        hooked.runtime,
        hooked.hook_fn,
        probe.as_ref(),
    )
}

/// `attach`'s configuration of the hook: the probe (`probe`) answers
/// nothing by itself, every event traps.
fn hook_config(
    pid: i32,
    debug_file: Option<PathBuf>,
    stop: Arc<AtomicBool>,
    probe: ProbeMode,
) -> AttachConfig {
    AttachConfig {
        pid,
        output: PathBuf::new(),
        create: Default::default(),
        filter: FilterSpec::default(),
        granularity: Granularity::Line,
        max_steps: None,
        max_time: None,
        debug_file,
        progress: None,
        stop,
        on_attached: None,
        probe,
        trapless: false,
        delta: false,
        probe_filter: false,
        on_step: None,
        ring: None,
        profile: None,
    }
}

/// Why the wait ended without the step.
enum Waited {
    /// The program is gone: nothing to let go.
    Gone(RecordError),
    /// It exec'd: the hooked image is gone, detach.
    Exec(RecordError),
    /// Let the program go, then report this.
    Let(RecordError),
}

/// The wait for the wanted step.
struct Looking<'a> {
    decoder: Decoder,
    wanted: &'a Wanted,
    waker: Waker,
    stop: &'a AtomicBool,
    alarm: Arc<Alarm>,
    /// Second looks at threads that may have lost tracing as they were
    /// hooked.
    looks: Looks,
}

impl Looking<'_> {
    fn wait(
        &mut self,
        tracee: &mut Tracee,
        hooked: &Hooked,
        returning: bool,
        mut probe: Option<&mut Probe>,
    ) -> Result<(Regs, RemoteAddr, Place), Waited> {
        let pid = tracee.pid();
        let trace = |e: TraceError| Waited::Let(e.into());
        loop {
            let stop = match tracee.wait_or_woken(self.waker.current()).map_err(trace)? {
                Some(s) => s,
                None => {
                    if self.stop.load(Ordering::SeqCst) {
                        return Err(Waited::Let(RecordError::Other(format!(
                            "interrupted before the step came; nothing ran in process {pid}, \
                             which runs on as before"
                        ))));
                    }
                    let now = Instant::now();
                    if let Some(at) = self.looks.take(tracee, hooked, now).map_err(trace)? {
                        self.alarm.wake_at(at);
                    }
                    self.alarm.forget_passed(now);
                    self.waker
                        .respawn()
                        .map_err(|e| Waited::Let(RecordError::Other(e.to_string())))?;
                    continue;
                }
            };
            match stop {
                Stop::Breakpoint { tid, addr, regs } if addr == hooked.trap => {
                    // The probe's stop: its registers no longer hold
                    // CPython's arguments; the probe kept them.
                    let (frame, what) = match probe.as_deref() {
                        Some(p) => {
                            let (frame, what, _) = p.trap_args();
                            (frame, what)
                        }
                        None => (RemoteAddr(regs.rsi), regs.rdx as i32),
                    };
                    if let Some(place) = self.matches(tracee, tid, frame, what) {
                        return Ok((regs, frame, place));
                    }
                    pass_on(tracee, hooked.trap, returning, stop).map_err(trace)?;
                }
                Stop::Signal { tid, sig }
                    if probe.is_some() && (sig == libc::SIGSEGV || sig == libc::SIGBUS) =>
                {
                    // A fault inside the probe is its own to recover from,
                    // as when recording; any other is the program's.
                    let ours = match probe.as_deref_mut() {
                        Some(p) => {
                            let mut regs = tracee.regs(tid).map_err(trace)?;
                            p.recover(tracee, tid, &mut regs).map_err(trace)?
                        }
                        None => false,
                    };
                    tracee.resume(tid, (!ours).then_some(sig)).map_err(trace)?;
                }
                Stop::Forked { parent, child } => {
                    let layout = &hooked.python.layout;
                    release_forked_child(
                        tracee,
                        child,
                        layout,
                        hooked.runtime,
                        hooked.hook_fn,
                        probe.as_deref(),
                    )
                    .map_err(trace)?;
                    tracee.resume(parent, None).map_err(trace)?;
                }
                Stop::Exec { .. } => {
                    return Err(Waited::Exec(RecordError::Other(format!(
                        "process {pid} exec'd another program before the step came; nothing ran"
                    ))));
                }
                Stop::Exited { code } => {
                    return Err(Waited::Gone(RecordError::Other(format!(
                        "process {pid} exited with status {code} before the step came; nothing ran"
                    ))))
                }
                Stop::Killed { sig } => {
                    return Err(Waited::Gone(RecordError::Other(format!(
                        "process {pid} was killed by signal {sig} before the step came; nothing ran"
                    ))))
                }
                other => pass_on(tracee, hooked.trap, returning, other).map_err(trace)?,
            }
        }
    }

    /// The place of a trap of thread `tid` in `frame` at event `what`,
    /// when it is the step wanted.
    fn matches(
        &mut self,
        tracee: &Tracee,
        tid: Tid,
        frame: RemoteAddr,
        what: i32,
    ) -> Option<Place> {
        let py = self.decoder.python().clone();
        if what != py.facts.tracing.line || self.wanted.thread.is_some_and(|t| t != tid) {
            return None;
        }
        let mem = tracee.mem();
        let code = match self.decoder.frame_code(mem, frame) {
            Ok(c) => c,
            Err(e) => {
                log::debug!(target: "tracer::live", "frame {frame} not decoded: {e}");
                return None;
            }
        };
        let mut b = [0u8; 4];
        mem.read(frame.at(py.layout.frame.f_lineno), &mut b).ok()?;
        let line = u32::try_from(i32::from_ne_bytes(b)).ok()?;
        if let Some((file, want)) = &self.wanted.at {
            if line != *want || !path_matches(&code.file, file) {
                return None;
            }
        }
        Some(Place {
            thread: tid,
            file: code.file.to_string(),
            line,
            function: code.function.to_string(),
        })
    }
}

/// Answer a stop that is not the one wanted: a trap returns 0 (by itself,
/// or performed here), a signal is delivered, a new thread runs, a stray
/// breakpoint's instruction runs.
fn pass_on(
    tracee: &mut Tracee,
    trap: RemoteAddr,
    returning: bool,
    stop: Stop,
) -> Result<(), TraceError> {
    match stop {
        Stop::Breakpoint {
            tid,
            addr,
            mut regs,
        } if addr == trap => {
            if !returning {
                tracee.emulate_return(tid, &mut regs, 0)?;
            }
            tracee.resume(tid, None)
        }
        Stop::Breakpoint {
            tid,
            addr,
            mut regs,
        } => {
            log::warn!(target: "tracer::live", "unexpected breakpoint at {addr} in thread {tid}");
            tracee.step_back_over(tid, &mut regs, addr)?;
            tracee.resume(tid, None)
        }
        Stop::Watch { tid, .. } => tracee.resume(tid, None),
        Stop::Signal { tid, sig } => tracee.resume(tid, Some(sig)),
        // The parent may be the held thread running code: it goes on too.
        Stop::NewThread { parent, tid } => {
            tracee.resume(parent, None)?;
            tracee.resume(tid, None)
        }
        Stop::Forked { parent, child } => {
            tracee.release_fork(child)?;
            tracee.resume(parent, None)
        }
        Stop::ThreadExit { .. } | Stop::Exec { .. } | Stop::Exited { .. } | Stop::Killed { .. } => {
            Ok(())
        }
    }
}

/// Whether a code's file is the one the user named: the same absolute
/// path, or (for a relative one) a suffix of the path at a `/` boundary.
pub(crate) fn path_matches(file: &str, wanted: &str) -> bool {
    if wanted.starts_with('/') {
        return file == wanted;
    }
    let wanted = wanted.strip_prefix("./").unwrap_or(wanted);
    file == wanted
        || (file.len() > wanted.len()
            && file.ends_with(wanted)
            && file.as_bytes()[file.len() - wanted.len() - 1] == b'/')
}
