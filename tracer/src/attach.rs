//! `hindsight attach PID`: seize a running CPython process, hook every one
//! of its threads (and every thread it starts meanwhile), record steps from
//! the next one on, and end on a signal to hindsight, a bound, or the
//! target's own end. Ending removes every trap, restores every hooked
//! thread state and detaches: the target runs on as if never attached.
//!
//! The per-step work is record.rs's [`Recorder`]; only taking hold of the
//! process and letting go of it differ from `record`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use store::{ProgramEnd, RecordingEnd, Writer, WriterOptions};

use crate::addr::RemoteAddr;
use crate::cpython::{DecodeError, Decoder, Python};
use crate::filter::{main_script_dir, stdlib_dirs, FileFilter, FilterSpec};
use crate::ptrace::{Stop, Tracee};
use crate::record::{need_symbol, Granularity, ProgressFn, RecordError, RecordOutcome};
use crate::recorder::{pass_stray_breakpoint, release_forked_child, tick_progress, Recorder};
use crate::seize::SeizeError;
use crate::threads;

/// Minor versions of CPython 3 whose hook is plain writes to thread states
/// (c_tracefunc and use_tracing), which is what attaching to a running
/// interpreter needs. 3.12+ installs tracing with a call into the target.
const ATTACH_MINORS: std::ops::RangeInclusive<u8> = 8..=11;

/// How often the watcher thread looks at the stop flag and the clock.
const WATCH_PERIOD: Duration = Duration::from_millis(10);

/// Everything `attach` needs.
pub struct AttachConfig {
    pub pid: i32,
    pub output: PathBuf,
    pub filter: FilterSpec,
    pub granularity: Granularity,
    pub max_steps: Option<u64>,
    pub max_time: Option<Duration>,
    pub debug_file: Option<PathBuf>,
    pub progress: Option<ProgressFn>,
    /// Set (by hindsight's SIGINT/SIGTERM handler) to end the recording and
    /// detach.
    pub stop: Arc<AtomicBool>,
    /// Called once every thread is hooked and the target runs again.
    pub on_attached: Option<OnAttached>,
}

/// Called once with what was found on attaching.
pub type OnAttached = Box<dyn FnOnce(&Attached)>;

/// What was found on attaching, for the caller's message.
#[derive(Debug, Clone)]
pub struct Attached {
    pub pid: i32,
    /// "CPython 3.11.7".
    pub interpreter: String,
    /// Thread states hooked.
    pub threads: usize,
}

impl From<SeizeError> for RecordError {
    fn from(e: SeizeError) -> RecordError {
        match e {
            SeizeError::Trace(t) => RecordError::Trace(t),
            other => RecordError::Other(other.to_string()),
        }
    }
}

/// The command line of process `pid` (/proc/PID/cmdline).
pub(crate) fn cmdline(pid: i32) -> Vec<OsString> {
    use std::os::unix::ffi::OsStrExt;
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|&c| c == 0)
                .filter(|a| !a.is_empty())
                .map(|a| std::ffi::OsStr::from_bytes(a).to_os_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Attach to `cfg.pid`, record into `cfg.output`, detach.
pub fn attach(mut cfg: AttachConfig) -> Result<RecordOutcome, RecordError> {
    let pid = cfg.pid;
    let cpu = crate::sys::pick_cpu();
    crate::sys::pin_current_thread(cpu);
    let mut tracee = Tracee::seize(pid)?;
    // Every thread is stopped; nothing in the target is changed yet, so an
    // error up to the hook just lets go (dropping a seized tracee detaches).
    let python = match Python::discover(pid, cfg.debug_file.as_deref()) {
        Ok(p) => p,
        Err(DecodeError::NotPython(why)) => {
            return Err(RecordError::Other(format!(
                "process {pid} is not a CPython process: {why}; attach to a python3 process"
            )))
        }
        Err(DecodeError::Unsupported { version }) => {
            return Err(RecordError::Unsupported { version })
        }
        Err(e) => return Err(e.into()),
    };
    if python.version.major != 3 || !ATTACH_MINORS.contains(&python.version.minor) {
        return Err(RecordError::Other(format!(
            "attaching to CPython {} is not supported yet (attach supports 3.{}-3.{}); record \
             the program from its start with `hindsight record -- python3 script.py` instead",
            python.version,
            ATTACH_MINORS.start(),
            ATTACH_MINORS.end()
        )));
    }
    let python = Arc::new(python);
    let layout = &python.layout;
    let trap_function = need_symbol(&python, crate::hook::TRAP_FUNCTION)?;
    let runtime = need_symbol(&python, "_PyRuntime")?;
    let (trap, returning) = crate::hook::trap_address(&mut tracee, trap_function)?;

    // The hook: the trap first, so no thread can call the trace function
    // before the breakpoint is there.
    tracee.set_breakpoint(trap)?;
    let hooked = match threads::hook_all(tracee.mem(), layout, runtime, trap) {
        Ok(c) if c.hooked + c.already > 0 => c,
        Ok(c) => {
            let why = if c.foreign > 0 {
                "every thread already has a trace function (a debugger or coverage tool \
                 using sys.settrace?); stop that tool first"
                    .to_string()
            } else {
                "its interpreter has no thread state yet (still starting?); try again".to_string()
            };
            let _ = release(tracee, &python, runtime, trap);
            return Err(RecordError::Other(format!(
                "cannot record process {pid}: {why}"
            )));
        }
        Err(e) => {
            let _ = release(tracee, &python, runtime, trap);
            return Err(RecordError::Hook(e));
        }
    };
    if hooked.foreign > 0 {
        log::warn!(
            target: "tracer::attach",
            "{} thread(s) already have a trace function (sys.settrace) and are not recorded",
            hooked.foreign
        );
    }

    let program = cmdline(pid);
    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap_or_else(|_| "/".into());
    let base = main_script_dir(program.get(1..).unwrap_or(&[]), &cwd);
    let filter = FileFilter::new(
        cfg.filter.clone(),
        Some(&base),
        &stdlib_dirs(&python.image_path, python.version.minor),
    );
    let header = crate::record::recording_header(&program, &cwd, pid, &python, "attach");
    // The writer thread would inherit this thread's pinning: its compression
    // and disk writes belong on another CPU than the target's.
    let off_cpu = Box::new(move || crate::sys::pin_current_thread_away_from(cpu));
    let writer =
        match Writer::create_with_init(&cfg.output, header, WriterOptions::default(), off_cpu) {
            Ok(w) => w,
            Err(e) => {
                let _ = release(tracee, &python, runtime, trap);
                return Err(e.into());
            }
        };
    let mut waker = match Waker::spawn() {
        Ok(w) => w,
        Err(e) => {
            let _ = release(tracee, &python, runtime, trap);
            return Err(RecordError::Other(format!(
                "cannot start the helper process that ends a wait: {e}"
            )));
        }
    };
    let started = Instant::now();
    let deadline = cfg.max_time.map(|d| started + d);
    let watcher = Watcher::start(cfg.stop.clone(), deadline, waker.pid.clone());

    let mut rec = Recorder::new(
        Decoder::new(python.clone()),
        filter,
        cfg.granularity,
        tracee.threads().iter().map(|t| t.0 as u32).collect(),
        returning,
    );
    for tid in tracee.threads() {
        tracee.resume(tid, None)?;
    }
    if let Some(f) = cfg.on_attached.take() {
        f(&Attached {
            pid,
            interpreter: format!("CPython {}", python.version),
            threads: hooked.hooked + hooked.already,
        });
    }
    let mut last_progress = Instant::now();
    // `None` as the end: detach (the reason says why).
    let (end, reason, bound): (Option<ProgramEnd>, String, Option<String>) = loop {
        let Some(stop) = tracee.wait_or_woken(waker.current())? else {
            if cfg.stop.load(Ordering::SeqCst) {
                break (
                    None,
                    "hindsight was interrupted (SIGINT or SIGTERM)".into(),
                    None,
                );
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                let b = time_bound(&cfg);
                break (None, b.clone(), Some(b));
            }
            // The helper ended for another reason: start a new one.
            waker
                .respawn()
                .map_err(|e| RecordError::Other(e.to_string()))?;
            continue;
        };
        match stop {
            Stop::Breakpoint {
                tid,
                addr,
                mut regs,
            } if addr == trap => {
                let (frame, what, arg) =
                    (RemoteAddr(regs.rsi), regs.rdx as i32, RemoteAddr(regs.rcx));
                rec.answer_trap(&mut tracee, tid, &mut regs)?;
                let ending = if let Some(max) = cfg.max_steps.filter(|&m| rec.steps >= m) {
                    let b = format!("--max-steps {max} reached");
                    Some((b.clone(), Some(b)))
                } else if deadline.is_some_and(|d| Instant::now() >= d) {
                    let b = time_bound(&cfg);
                    Some((b.clone(), Some(b)))
                } else if cfg.stop.load(Ordering::Relaxed) {
                    Some(("hindsight was interrupted (SIGINT or SIGTERM)".into(), None))
                } else {
                    None
                };
                if let Some((reason, bound)) = ending {
                    rec.cache.end();
                    break (None, reason, bound);
                }
                if let Err(e) = rec.on_trap(&tracee, &writer, tid, frame, what, arg) {
                    log::warn!(target: "tracer::attach", "step not recorded: {e}");
                }
                tracee.resume(tid, None)?;
            }
            Stop::Breakpoint {
                tid,
                addr,
                mut regs,
            } => pass_stray_breakpoint(&mut tracee, tid, &mut regs, addr)?,
            Stop::Signal { tid, sig } => tracee.resume(tid, Some(sig))?,
            Stop::NewThread { parent, tid } => {
                rec.on_new_thread(&mut tracee, parent, tid, runtime, trap)?
            }
            Stop::Forked { parent, child } => {
                release_forked_child(&mut tracee, child, layout, runtime, trap)?;
                tracee.resume(parent, None)?;
            }
            Stop::ThreadExit { .. } => {}
            Stop::Exec { .. } => {
                // The image we hooked is gone, and its traps with it.
                break (
                    None,
                    "the program exec'd another program; it runs on untraced".into(),
                    None,
                );
            }
            Stop::Exited { code } => {
                break (
                    Some(ProgramEnd::Exited(code)),
                    format!("the program exited with status {code}"),
                    None,
                )
            }
            Stop::Killed { sig } => {
                break (
                    Some(ProgramEnd::Signaled(sig)),
                    format!("the program was killed by signal {sig}"),
                    None,
                )
            }
        }
        tick_progress(&mut cfg.progress, &mut last_progress, &writer, started);
    };
    watcher.finish();
    drop(waker);
    let end = match end {
        Some(end) => end,
        None => {
            release(tracee, &python, runtime, trap)?;
            ProgramEnd::Detached
        }
    };
    let summary = writer.finish(RecordingEnd {
        end,
        reason,
        steps: rec.steps,
        threads: rec.threads.clone(),
        duration_ms: started.elapsed().as_millis() as u64,
    })?;
    Ok(RecordOutcome {
        end,
        steps: summary.steps,
        bytes: summary.bytes,
        bound,
    })
}

fn time_bound(cfg: &AttachConfig) -> String {
    let secs = cfg.max_time.map_or(0.0, |d| d.as_secs_f64());
    format!("--max-time {secs}s reached")
}

/// Stop every thread, unhook every thread state, remove the traps, detach.
fn release(
    tracee: Tracee,
    python: &Python,
    runtime: RemoteAddr,
    trap: RemoteAddr,
) -> Result<(), RecordError> {
    let layout = &python.layout;
    let mut unhook_err = None;
    tracee.detach_with(|t| {
        if let Err(e) = threads::unhook_all(t.mem(), layout, runtime, trap) {
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

/// A child process of the tracer thread whose only job is to end when the
/// watcher kills it: that ends the tracer's blocking wait (see
/// [`Tracee::wait_or_woken`]) without touching the target.
pub(crate) struct Waker {
    child: Child,
    /// Shared with the watcher, which kills whatever process it names.
    pub(crate) pid: Arc<AtomicI32>,
}

impl Waker {
    pub(crate) fn spawn() -> std::io::Result<Waker> {
        let child = Self::start()?;
        let pid = Arc::new(AtomicI32::new(child.id() as i32));
        Ok(Waker { child, pid })
    }

    fn start() -> std::io::Result<Child> {
        Command::new("sleep")
            .arg("1000000000")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
    }

    pub(crate) fn current(&self) -> i32 {
        self.child.id() as i32
    }

    /// The previous helper ended (and was reaped by the wait): start another.
    pub(crate) fn respawn(&mut self) -> std::io::Result<()> {
        self.child = Self::start()?;
        self.pid.store(self.child.id() as i32, Ordering::SeqCst);
        Ok(())
    }
}

impl Drop for Waker {
    fn drop(&mut self) {
        // Already reaped if it was the one that woke us: then kill fails
        // harmlessly (ESRCH), and wait returns ECHILD.
        let _ = crate::sys::kill(self.current(), libc::SIGKILL);
        let _ = crate::sys::wait_any(self.current(), 0);
    }
}

/// A thread that kills the waker once the stop flag is set or the deadline
/// passes.
pub(crate) struct Watcher {
    done: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Watcher {
    pub(crate) fn start(
        stop: Arc<AtomicBool>,
        deadline: Option<Instant>,
        waker: Arc<AtomicI32>,
    ) -> Watcher {
        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        let handle = std::thread::Builder::new()
            .name("hindsight-watch".into())
            .spawn(move || loop {
                if d.load(Ordering::SeqCst) {
                    return;
                }
                let expired = deadline.is_some_and(|t| Instant::now() >= t);
                if stop.load(Ordering::SeqCst) || expired {
                    let _ = crate::sys::kill(waker.load(Ordering::SeqCst), libc::SIGKILL);
                    // Keep watching: if the tracer was busy with traps, it
                    // checks the flag itself; one kill is enough.
                    while !d.load(Ordering::SeqCst) {
                        std::thread::sleep(WATCH_PERIOD);
                    }
                    return;
                }
                std::thread::sleep(WATCH_PERIOD);
            })
            .ok();
        Watcher { done, handle }
    }

    pub(crate) fn finish(mut self) {
        self.done.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
