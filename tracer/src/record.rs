//! `hindsight record`: launch a program under ptrace, wait for its
//! interpreter to be ready, install the trace hook, and turn every trap into
//! a recorded step until the program ends or a bound is reached.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use store::{ProgramEnd, RecordingEnd, RecordingHeader, Writer, WriterOptions};

use crate::addr::{RemoteAddr, Tid};
use crate::cpython::{DecodeError, Decoder, Python};
pub use crate::filter::FilterSpec;
use crate::filter::{main_script_dir, stdlib_dirs, FileFilter};
use crate::hook;
use crate::probe::ProbeMode;
use crate::ptrace::{Stop, TraceError, Tracee};
use crate::recorder::{pass_stray_breakpoint, release_forked_child, tick_progress, Recorder};
use crate::session;

/// Which events become steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// call, line, return and exception steps.
    Line,
    /// call and return steps only.
    Call,
}

/// What happens to the program when a bound is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtBound {
    /// End the program.
    Stop,
    /// Let it run on, untraced.
    Detach,
}

/// Handed to the progress callback a few times a second.
#[derive(Debug, Clone)]
pub struct Progress {
    pub steps: u64,
    pub bytes: u64,
    pub elapsed: Duration,
}

/// Called with the recording's progress a few times a second.
pub type ProgressFn = Box<dyn FnMut(&Progress) + Send>;

/// Everything `record` needs.
pub struct RecordConfig {
    /// `PYTHON ARGS...`.
    pub program: Vec<OsString>,
    pub output: PathBuf,
    pub filter: FilterSpec,
    pub granularity: Granularity,
    pub max_steps: Option<u64>,
    pub max_time: Option<Duration>,
    pub at_bound: AtBound,
    pub debug_file: Option<PathBuf>,
    pub progress: Option<ProgressFn>,
    /// Place the probe in the target ([`crate::probe`]): each stop's reads
    /// refreshed in shared memory before the trap. Without it (or when it
    /// cannot be set up) the stop reads with `process_vm_readv`.
    pub probe: ProbeMode,
    /// Let the probe take line steps that change nothing but the line
    /// without a trap (`docs/probe.md`); off, every step traps.
    pub trapless: bool,
}

/// How a recording ended.
#[derive(Debug, Clone)]
pub struct RecordOutcome {
    pub end: ProgramEnd,
    pub steps: u64,
    pub bytes: u64,
    /// Set when a bound (`--max-steps`, `--max-time`) ended the recording.
    pub bound: Option<String>,
}

/// Why recording failed.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Trace(#[from] TraceError),
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(
        "{program} is not a CPython program: {why}. Run `hindsight record -- python3 script.py`"
    )]
    NotPython { program: String, why: String },
    #[error(
        "CPython {version} is not supported yet (supported: {}); run the program with one of those",
        crate::cpython::supported_list()
    )]
    Unsupported { version: String },
    #[error("cannot switch tracing on in the interpreter: {0}")]
    Hook(#[from] crate::mem::MemError),
    #[error("{0}")]
    Other(String),
}

/// Names of programs that may start Python by exec'ing it (pyenv shims are
/// shell scripts): the recorder follows their exec instead of refusing them.
const LAUNCHERS: &[&str] = &["sh", "bash", "dash", "zsh", "env"];

/// Launch `cfg.program` and record it into `cfg.output`. While it runs,
/// this process ignores SIGINT and SIGQUIT: they are the program's.
pub fn record(mut cfg: RecordConfig) -> Result<RecordOutcome, RecordError> {
    let Some(program) = cfg.program.first().cloned() else {
        return Err(RecordError::Other(
            "no program given: hindsight record -- python3 script.py".into(),
        ));
    };
    let cpu = crate::sys::pick_cpu();
    crate::sys::pin_current_thread(cpu);
    let mut tracee = Tracee::launch(&program, &cfg.program[1..], Some(cpu))?;
    // Ctrl-C in the terminal reaches the program too; it is the program's to
    // handle, and hindsight must outlive it to finish the recording.
    crate::sys::ignore_interactive_signals();
    let pid = tracee.pid();
    let main = Tid(pid);

    let python = match session::wait_for_python(&mut tracee, cfg.debug_file.as_deref(), LAUNCHERS)?
    {
        session::Startup::Python(p) => *p,
        session::Startup::Ended(end) => {
            // The program ended before an interpreter ever started.
            return Ok(RecordOutcome {
                end,
                steps: 0,
                bytes: 0,
                bound: None,
            });
        }
        session::Startup::NotPython(why) => {
            let _ = tracee.kill();
            return Err(RecordError::NotPython {
                program: program.to_string_lossy().into_owned(),
                why,
            });
        }
    };
    if python.version.major != 3
        || !crate::cpython::SUPPORTED_MINORS.contains(&python.version.minor)
    {
        let _ = tracee.kill();
        return Err(RecordError::Unsupported {
            version: python.version.to_string(),
        });
    }
    let python = Arc::new(python);
    let layout = &python.layout;

    // Run until the interpreter is initialised and about to run the program.
    let run_main = need_symbol(&python, "Py_RunMain")?;
    let trap_function = need_symbol(&python, hook::TRAP_FUNCTION)?;
    let runtime = need_symbol(&python, "_PyRuntime")?;
    match session::run_to(&mut tracee, main, Some(run_main))? {
        session::RunTo::Reached => {}
        session::RunTo::Ended(end) => {
            return Ok(RecordOutcome {
                end,
                steps: 0,
                bytes: 0,
                bound: None,
            })
        }
        session::RunTo::Exec => {
            let _ = tracee.kill();
            return Err(RecordError::Other(
                "the interpreter exec'd another program before running any Python code".into(),
            ));
        }
    }
    // `hook_fn` is what the interpreter calls, `trap` where it stops.
    let hook::Trap {
        hook_fn,
        addr: trap,
        returning,
        probe,
    } = hook::choose_trap(&mut tracee, main, trap_function, cfg.probe)?;
    // 3.12+: tracing is switched on by calling _PyEval_SetTrace in the target.
    let set_trace = if hook::uses_monitoring(python.version) {
        Some((
            hook::SetTraceFns {
                thread_state_get: need_symbol(&python, hook::THREAD_STATE_GET)?,
                set_trace: need_symbol(&python, hook::SET_TRACE)?,
            },
            tracee.entry_point()?,
        ))
    } else {
        None
    };
    let tstate = if let Some((fns, ret_trap)) = set_trace {
        match hook::install_by_call(&mut tracee, main, fns, hook_fn, ret_trap) {
            Ok(t) => t,
            Err(e) => {
                let _ = tracee.kill();
                return Err(RecordError::Other(format!(
                    "cannot switch tracing on in the interpreter: {e}"
                )));
            }
        }
    } else {
        let tstate = hook::current_tstate(tracee.mem(), layout, runtime)?;
        if tstate.is_null() {
            let _ = tracee.kill();
            return Err(RecordError::Other(
                "the interpreter has no current thread state at Py_RunMain".into(),
            ));
        }
        hook::install(tracee.mem(), layout, tstate, hook_fn)?;
        hook::count_trace_function(tracee.mem(), layout, runtime, tstate, 1)?;
        tstate
    };
    if probe.is_some() {
        tracee.adopt_breakpoint(trap);
    } else {
        tracee.set_breakpoint(trap)?;
    }

    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    // The interpreter's own argv: after a launcher (env, a pyenv shim) exec'd
    // it, hindsight's argument list no longer says which file is the script.
    let argv = crate::attach::cmdline(pid);
    let python_args = if argv.len() > 1 {
        &argv[1..]
    } else {
        &cfg.program[1..]
    };
    let base = main_script_dir(python_args, &cwd);
    let filter = FileFilter::new(
        cfg.filter.clone(),
        Some(&base),
        &stdlib_dirs(&python.image_path, python.version.minor),
    );
    let header = recording_header(&cfg.program, &cwd, pid, &python, "record");
    // The writer thread would inherit this thread's pinning: its compression
    // and disk writes belong on another CPU than the target's.
    let off_cpu = Box::new(move || crate::sys::pin_current_thread_away_from(cpu));
    let writer =
        match Writer::create_with_init(&cfg.output, header, WriterOptions::default(), off_cpu) {
            Ok(w) => w,
            Err(e) => {
                let _ = tracee.kill();
                return Err(e.into());
            }
        };

    let started = Instant::now();
    let mut rec = Recorder::new(
        Decoder::new(python.clone()),
        filter,
        cfg.granularity,
        vec![pid as u32],
        returning,
    );
    rec.max_steps = cfg.max_steps;
    rec.trapless_allowed = cfg.trapless;
    if let Some(p) = probe {
        rec.cache.attach_probe(p);
    }
    let mut last_progress = Instant::now();
    // Every stop at the trace hook, recorded or not: what filtering and
    // `--granularity call` save shows here (tests/granularity_test.rs).
    let mut traps = 0u64;
    tracee.resume(main, None)?;
    // With --max-time, a helper process whose death ends the wait lets the
    // bound fire while the program is blocked (sleep, read, accept).
    let deadline = cfg.max_time.map(|d| started + d);
    let mut waker = match deadline {
        Some(_) => Some(crate::attach::Waker::spawn().map_err(|e| {
            RecordError::Other(format!(
                "cannot start the helper process that ends a wait: {e}"
            ))
        })?),
        None => None,
    };
    let watcher = waker.as_ref().map(|w| {
        crate::attach::Watcher::start(Arc::new(AtomicBool::new(false)), deadline, w.pid.clone())
    });
    let (end, bound) = loop {
        let stop = match waker.as_mut() {
            None => tracee.wait()?,
            Some(w) => match tracee.wait_or_woken(w.current())? {
                Some(stop) => stop,
                None if deadline.is_some_and(|d| Instant::now() >= d) => {
                    // The program is not running Python: end the recording now.
                    let bound = bound_reached(&cfg, rec.steps, started)
                        .unwrap_or_else(|| "--max-time reached".into());
                    match (cfg.at_bound, set_trace) {
                        (AtBound::Stop, _) => {
                            tracee.kill()?;
                            break (ProgramEnd::Signaled(libc::SIGKILL), Some(bound));
                        }
                        (AtBound::Detach, None) => {
                            let mut undo = Ok(());
                            rec.disarm_probe();
                            tracee.detach_with(|t| {
                                undo =
                                    hook::unhook_running(t.mem(), layout, runtime, tstate, hook_fn);
                            })?;
                            undo?;
                            break (ProgramEnd::Detached, Some(bound));
                        }
                        (AtBound::Detach, Some(_)) => {
                            // 3.12+: switching tracing off takes a call into
                            // the interpreter at a safe point; the next trap
                            // is one (bound_reached fires there).
                            waker = None;
                            continue;
                        }
                    }
                }
                None => {
                    w.respawn().map_err(|e| RecordError::Other(e.to_string()))?;
                    continue;
                }
            },
        };
        match stop {
            Stop::Breakpoint {
                tid,
                addr,
                mut regs,
            } if addr == trap => {
                traps += 1;
                // The steps before this one that took no trap come first.
                if let Err(e) = rec.drain_trapless(&writer) {
                    log::warn!(target: "tracer::record", "steps not recorded: {e}");
                }
                let (frame, what, arg) =
                    (RemoteAddr(regs.rsi), regs.rdx as i32, RemoteAddr(regs.rcx));
                rec.answer_trap(&mut tracee, tid, &mut regs)?;
                let bound = bound_reached(&cfg, rec.steps, started);
                if let Some(bound) = bound {
                    rec.cache.end();
                    let end = match cfg.at_bound {
                        AtBound::Stop => {
                            tracee.kill()?;
                            ProgramEnd::Signaled(libc::SIGKILL)
                        }
                        AtBound::Detach => {
                            if let Some((fns, ret_trap)) = set_trace {
                                hook::uninstall_by_call(&mut tracee, tid, fns, tstate, ret_trap)
                                    .map_err(|e| {
                                        RecordError::Other(format!(
                                            "cannot switch tracing off in the interpreter: {e}"
                                        ))
                                    })?;
                            } else {
                                hook::uninstall_running(tracee.mem(), layout, runtime, tstate)?;
                            }
                            crate::threads::unhook_all(tracee.mem(), layout, runtime, hook_fn)?;
                            rec.disarm_probe();
                            tracee.detach()?;
                            ProgramEnd::Detached
                        }
                    };
                    break (end, Some(bound));
                }
                if let Err(e) = rec.on_trap(&tracee, &writer, tid, frame, what, arg) {
                    log::warn!(target: "tracer::record", "step not recorded: {e}");
                }
                tracee.resume(tid, None)?;
            }
            Stop::Breakpoint {
                tid,
                addr,
                mut regs,
            } => pass_stray_breakpoint(&mut tracee, tid, &mut regs, addr)?,
            Stop::Signal { tid, sig } => {
                if rec.probe_fault(&mut tracee, tid, sig)? {
                    tracee.resume(tid, None)?
                } else {
                    tracee.resume(tid, Some(sig))?
                }
            }
            Stop::NewThread { parent, tid } => {
                rec.on_new_thread(&mut tracee, parent, tid, runtime, hook_fn)?
            }
            Stop::Forked { parent, child } => {
                release_forked_child(&mut tracee, child, layout, runtime, hook_fn)?;
                tracee.resume(parent, None)?;
            }
            Stop::ThreadExit { .. } => {}
            Stop::Exec { .. } => {
                // The program replaced itself with another: nothing of it is left to record.
                tracee.detach()?;
                break (
                    ProgramEnd::Detached,
                    Some("the program exec'd another program; it runs on untraced".into()),
                );
            }
            Stop::Exited { code } => break (ProgramEnd::Exited(code), None),
            Stop::Killed { sig } => break (ProgramEnd::Signaled(sig), None),
        }
        tick_progress(&mut cfg.progress, &mut last_progress, &writer, started);
    };
    if let Some(w) = watcher {
        w.finish();
    }
    drop(waker);
    // Steps taken without a trap since the last stop (the program may have
    // ended right after them): their words are in the probe's memory, here.
    rec.drain_trapless(&writer)?;
    let reason = match (&bound, &end) {
        (Some(b), _) => b.clone(),
        (None, ProgramEnd::Exited(c)) => format!("the program exited with status {c}"),
        (None, ProgramEnd::Signaled(s)) => format!("the program was killed by signal {s}"),
        (None, _) => "recording ended".into(),
    };
    let summary = writer.finish(RecordingEnd {
        end,
        reason,
        steps: rec.steps,
        threads: rec.threads.clone(),
        duration_ms: started.elapsed().as_millis() as u64,
    })?;
    log::info!(target: "tracer::record", "{traps} traps taken for {} steps", summary.steps);
    if let Some((user, system)) = crate::sys::thread_cpu_times() {
        log::info!(target: "tracer::record", "tracer thread CPU: user {:.2} s, system {:.2} s", user.as_secs_f64(), system.as_secs_f64());
    }
    let (hits, misses) = rec.cache.counts();
    let (ranges, bytes, pages) = rec.cache.plan_size();
    log::info!(target: "tracer::record", "stop cache: {hits} reads answered, {misses} missed; last plan {ranges} ranges, {bytes} bytes, {pages} pages");
    if let Some(p) = rec.cache.probe_mut().as_ref() {
        let (calls, faults, trapless) = p.counts();
        log::info!(target: "tracer::probe", "probe: {calls} calls, {trapless} steps without a trap, {faults} faults recovered");
    }
    Ok(RecordOutcome {
        end,
        steps: summary.steps,
        bytes: summary.bytes,
        bound,
    })
}

/// The header of a new recording of process `pid` running `program`.
pub(crate) fn recording_header(
    program: &[OsString],
    cwd: &Path,
    pid: i32,
    python: &Python,
    mode: &str,
) -> RecordingHeader {
    RecordingHeader {
        format_version: 0,
        program: program
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
        cwd: cwd.to_string_lossy().into_owned(),
        pid: pid as u32,
        interpreter: format!("CPython {}", python.version),
        interpreter_path: python.image_path.to_string_lossy().into_owned(),
        mode: mode.into(),
        started_unix_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0),
        recorder: format!("hindsight {}", env!("CARGO_PKG_VERSION")),
    }
}

fn bound_reached(cfg: &RecordConfig, steps: u64, started: Instant) -> Option<String> {
    if let Some(max) = cfg.max_steps {
        if steps >= max {
            return Some(format!("--max-steps {max} reached"));
        }
    }
    if let Some(max) = cfg.max_time {
        if started.elapsed() >= max {
            return Some(format!("--max-time {}s reached", max.as_secs_f64()));
        }
    }
    None
}

pub(crate) fn need_symbol(python: &Python, name: &str) -> Result<RemoteAddr, RecordError> {
    python.symbol_addr(name).ok_or_else(|| {
        RecordError::Other(format!(
            "the interpreter {} has no symbol {name}; is its debug info complete?",
            python.image_path.display()
        ))
    })
}
