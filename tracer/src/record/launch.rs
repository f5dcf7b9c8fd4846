//! `hindsight record`: launch a program under ptrace, wait for its
//! interpreter to be ready, install the trace hook in its main thread, and
//! hand the program to the stop loop ([`super::stops`]).

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use store::ProgramEnd;

use super::config::{RecordConfig, RecordOutcome};
use super::error::{need_symbol, RecordError};
use super::open::{cmdline, create_placeholder, create_writer, file_filter, recording_header};
use super::recorder::Recorder;
use super::stops::{self, Bounds, Hooked, Origin, Session};
use super::waker::Waker;
use crate::addr::{RemoteAddr, Tid};
use crate::cpython::{Decoder, Python};
use crate::interp::hook;
use crate::interp::startup::{self, RunTo, Startup};
use crate::probe::ProbeMode;
use crate::ptrace::Tracee;

/// Names of programs that may start Python by exec'ing it (pyenv shims are
/// shell scripts): the recorder follows their exec instead of refusing them.
const LAUNCHERS: &[&str] = &["sh", "bash", "dash", "zsh", "env"];

/// Launch `cfg.program` and record it into `cfg.output`. While it runs,
/// this process ignores SIGINT and SIGQUIT: they are the program's.
pub fn record(cfg: RecordConfig) -> Result<RecordOutcome, RecordError> {
    let Some(program) = cfg.program.first().cloned() else {
        return Err(RecordError::Other(
            "no program given: hindsight record -- python3 script.py".into(),
        ));
    };
    // The file first: refused before the program runs, and there with its
    // header from now on, whatever happens to this process.
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let file = create_placeholder(&cfg.output, cfg.create, &cfg.program, &cwd, None, "record")?;
    let cpu = crate::sys::pick_cpu();
    crate::sys::pin_current_thread(cpu);
    let mut tracee = Tracee::launch(&program, &cfg.program[1..], Some(cpu))?;
    // Ctrl-C in the terminal reaches the program too; it is the program's to
    // handle, and hindsight must outlive it to finish the recording.
    crate::sys::ignore_interactive_signals();
    let python = match start_python(&mut tracee, &cfg, &program)? {
        Ok(python) => python,
        Err(end) => {
            // The program ended before it ran any Python code.
            return Ok(RecordOutcome {
                end,
                steps: 0,
                bytes: 0,
                bound: None,
            });
        }
    };
    let (hooked, trap) = hook_main(&mut tracee, python, &cfg)?;

    let pid = tracee.pid();
    // The interpreter's own argv: after a launcher (env, a pyenv shim) exec'd
    // it, hindsight's argument list no longer says which file is the script.
    let argv = cmdline(pid);
    let python_args = if argv.len() > 1 {
        &argv[1..]
    } else {
        &cfg.program[1..]
    };
    let python = hooked.python.clone();
    let filter = file_filter(cfg.filter.clone(), python_args, &cwd, &python);
    let header = recording_header(&cfg.program, &cwd, pid, &python, "record");
    let writer = create_writer(file, header, cpu)?;
    let mut rec = Recorder::new(
        Decoder::new(python),
        filter,
        cfg.granularity,
        vec![pid as u32],
        trap.returning,
    );
    rec.max_steps = cfg.max_steps;
    rec.trapless_allowed = cfg.trapless;
    if let Some(p) = trap.probe {
        rec.cache.attach_probe(p);
    }
    // With --max-time, a helper process whose death ends the wait lets the
    // bound fire while the program is blocked (sleep, read, accept).
    let waker = match cfg.max_time {
        Some(_) => Some(Waker::spawn().map_err(|e| {
            RecordError::Other(format!(
                "cannot start the helper process that ends a wait: {e}"
            ))
        })?),
        None => None,
    };
    let started = Instant::now();
    tracee.resume(Tid(pid), None)?;
    let session = Session {
        tracee,
        hooked,
        writer,
        rec,
    };
    let bounds = Bounds {
        max_steps: cfg.max_steps,
        max_time: cfg.max_time,
        stop: None,
        progress: cfg.progress,
    };
    stops::run(session, bounds, waker, started)
}

/// Run the launched program until its interpreter is initialised and about
/// to run the program (`Py_RunMain`); `Err` with its end when it ends
/// before that. The program is killed on any error.
fn start_python(
    tracee: &mut Tracee,
    cfg: &RecordConfig,
    program: &OsString,
) -> Result<Result<Arc<Python>, ProgramEnd>, RecordError> {
    let main = Tid(tracee.pid());
    let python = match startup::wait_for_python(tracee, cfg.debug_file.as_deref(), LAUNCHERS)? {
        Startup::Python(p) => *p,
        Startup::Ended(end) => return Ok(Err(end)),
        Startup::NotPython(why) => {
            return Err(RecordError::NotPython {
                program: program.to_string_lossy().into_owned(),
                why,
            });
        }
    };
    if python.version.major != 3
        || !crate::cpython::SUPPORTED_MINORS.contains(&python.version.minor)
    {
        return Err(RecordError::Unsupported {
            version: python.version.to_string(),
        });
    }
    let run_main = need_symbol(&python, "Py_RunMain")?;
    match startup::run_to(tracee, main, Some(run_main))? {
        RunTo::Reached => Ok(Ok(Arc::new(python))),
        RunTo::Ended(end) => Ok(Err(end)),
        RunTo::Exec => Err(RecordError::Other(
            "the interpreter exec'd another program before running any Python code".into(),
        )),
    }
}

/// Point the main thread's trace function at the trap (the probe's entry
/// when it can be placed): by a call of `_PyEval_SetTrace` in the target on
/// 3.12+, by writing its thread state before. The main thread is stopped at
/// `Py_RunMain`.
fn hook_main(
    tracee: &mut Tracee,
    python: Arc<Python>,
    cfg: &RecordConfig,
) -> Result<(Hooked, hook::Trap), RecordError> {
    let main = Tid(tracee.pid());
    let trap_function = need_symbol(&python, hook::TRAP_FUNCTION)?;
    let runtime = need_symbol(&python, "_PyRuntime")?;
    let mode: ProbeMode = cfg.probe;
    let mut trap = hook::choose_trap(tracee, main, trap_function, mode)?;
    if let Some(p) = trap.probe.as_mut().filter(|_| cfg.probe_filter) {
        p.enable_filter(&python.layout);
    }
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
    let tstate = install(tracee, &python, runtime, trap.hook_fn, set_trace)?;
    if trap.probe.is_some() {
        tracee.adopt_breakpoint(trap.addr);
    } else {
        tracee.set_breakpoint(trap.addr)?;
    }
    let hooked = Hooked {
        python,
        runtime,
        trap: trap.addr,
        hook_fn: trap.hook_fn,
        origin: Origin::Launched {
            tstate,
            set_trace,
            at_bound: cfg.at_bound,
        },
    };
    Ok((hooked, trap))
}

/// Install `hook_fn` as the main thread's trace function; its thread state.
fn install(
    tracee: &mut Tracee,
    python: &Python,
    runtime: RemoteAddr,
    hook_fn: RemoteAddr,
    set_trace: Option<(hook::SetTraceFns, RemoteAddr)>,
) -> Result<RemoteAddr, RecordError> {
    let main = Tid(tracee.pid());
    if let Some((fns, ret_trap)) = set_trace {
        return hook::install_by_call(tracee, main, fns, hook_fn, ret_trap).map_err(|e| {
            RecordError::Other(format!("cannot switch tracing on in the interpreter: {e}"))
        });
    }
    let layout = &python.layout;
    let tstate = hook::current_tstate(tracee.mem(), layout, runtime)?;
    if tstate.is_null() {
        return Err(RecordError::Other(
            "the interpreter has no current thread state at Py_RunMain".into(),
        ));
    }
    hook::install(tracee.mem(), layout, tstate, hook_fn)?;
    hook::count_trace_function(tracee.mem(), layout, runtime, tstate, 1)?;
    Ok(tstate)
}
