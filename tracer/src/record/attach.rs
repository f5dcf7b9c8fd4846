//! `hindsight attach PID`: seize a running CPython process, hook every one
//! of its threads (and every thread it starts meanwhile), and hand it to
//! the stop loop ([`super::stops`]), which records steps from the next one
//! on and ends on a signal to hindsight, a bound, or the target's own end.
//! Ending removes every trap, restores every hooked thread state and
//! detaches: the target runs on as if never attached.

use std::sync::Arc;
use std::time::Instant;

use super::config::{AttachConfig, Attached, RecordOutcome};
use super::error::{need_symbol, RecordError};
use super::letgo::release;
use super::open::{cmdline, create_placeholder, create_writer, file_filter, recording_header};
use super::recorder::Recorder;
use super::session::{Bounds, Hooked, Origin, Session};
use super::stops;
use super::waker::Waker;
use crate::cpython::{DecodeError, Decoder, Python};
use crate::interp::own_trace;
use crate::interp::{hook, threads};
use crate::probe::Probe;
use crate::ptrace::Tracee;

/// Minor versions of CPython 3 whose hook is plain writes to thread states
/// (c_tracefunc and use_tracing), which is what attaching to a running
/// interpreter needs. 3.12+ installs tracing with a call into the target.
pub const ATTACH_MINORS: std::ops::RangeInclusive<u8> = 8..=11;

/// Attach to `cfg.pid`, record into `cfg.output`, detach.
pub fn attach(mut cfg: AttachConfig) -> Result<RecordOutcome, RecordError> {
    let pid = cfg.pid;
    // A file size limit must fail the recording's writes, not end
    // hindsight (and the program with it): the writer stops recording.
    crate::sys::ignore_file_size_signal();
    // The file first: refused before the process is touched, and there
    // with its header from now on, whatever happens to this process.
    let program = cmdline(pid);
    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap_or_else(|_| "/".into());
    let file = create_placeholder(&cfg.output, cfg.create, &program, &cwd, Some(pid), "attach")?;
    let cpu = crate::sys::pick_cpu();
    let live = super::drain::pin_tracer(cpu, cfg.delta);
    let tracee = Tracee::seize(pid)?;
    // Every thread is stopped; nothing in the target is changed yet, so an
    // error up to the hook just lets go (dropping a seized tracee detaches).
    let python = Arc::new(attachable_python(pid, cfg.debug_file.as_deref())?);
    let (mut tracee, hooked, mut hook) = hook_all(tracee, python.clone(), &cfg)?;

    // From here on, an error must unhook before it lets go.
    let unhook = |tracee, h: &Hooked, probe: Option<Probe>| {
        if let Some(mut p) = probe {
            p.disarm();
            let _ = release(tracee, &h.python, h.runtime, h.hook_fn, Some(&p));
        } else {
            let _ = release(tracee, &h.python, h.runtime, h.hook_fn, None);
        }
    };

    let filter = file_filter(
        cfg.filter.clone(),
        program.get(1..).unwrap_or(&[]),
        &cwd,
        &python,
    );
    let header = recording_header(&program, &cwd, pid, &python, "attach");
    let mut writer = match create_writer(file, header, cpu, cfg.ring.as_ref()) {
        Ok(w) => w,
        Err(e) => {
            unhook(tracee, &hooked, hook.probe);
            return Err(e.into());
        }
    };
    if let Some(observer) = cfg.on_step.take() {
        writer.observe(observer);
    }
    let waker = match Waker::spawn() {
        Ok(w) => w,
        Err(e) => {
            unhook(tracee, &hooked, hook.probe);
            return Err(RecordError::Other(format!(
                "cannot start the helper process that ends a wait: {e}"
            )));
        }
    };
    let started = Instant::now();
    let threads = tracee.threads().iter().map(|t| t.0 as u32).collect();
    let mut rec = Recorder::new(
        Decoder::new(python.clone()),
        filter,
        cfg.granularity,
        threads,
        hook.returning,
    );
    rec.sources = super::sources::Sources::new(&cwd);
    rec.max_steps = cfg.max_steps;
    rec.profile = cfg
        .profile
        .as_deref()
        .map(super::profile::ProfileFilter::new);
    rec.trapless_allowed = cfg.trapless;
    rec.delta_allowed = cfg.delta;
    rec.live.allowed = live;
    if let Some(p) = hook.probe.take() {
        rec.cache.attach_probe(p);
    }
    for tid in tracee.threads() {
        tracee.resume(tid, None)?;
    }
    if let Some(f) = cfg.on_attached.take() {
        f(&Attached {
            pid,
            interpreter: format!("CPython {}", python.version),
            threads: hook.thread_states,
        });
    }
    let session = Session {
        tracee,
        hooked,
        writer,
        rec,
        command: None,
    };
    let bounds = Bounds {
        max_steps: cfg.max_steps,
        max_time: cfg.max_time,
        stop: Some(cfg.stop),
        progress: cfg.progress,
    };
    stops::run(session, bounds, Some(waker), started)
}

/// The interpreter of process `pid`, if attach supports it (`exec` and
/// `reload` take hold of a running program the same way).
pub(crate) fn attachable_python(
    pid: i32,
    debug_file: Option<&std::path::Path>,
) -> Result<Python, RecordError> {
    let python = match Python::discover(pid, debug_file) {
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
    Ok(python)
}

/// What [`hook_all`] found.
pub(crate) struct HookAll {
    /// The trap returns by itself.
    pub(crate) returning: bool,
    /// Thread states that carry the hook.
    pub(crate) thread_states: usize,
    /// The probe, when the hook is its entry.
    pub(crate) probe: Option<Probe>,
}

/// Set the trap (the probe's, placed as `record` places it, when it can
/// be), then point every thread state's trace function at it (the trap
/// first, so no thread can call the trace function before the breakpoint
/// is there). On failure the target is let go, unhooked. `exec` and
/// `reload` hook the program this way too.
pub(crate) fn hook_all(
    mut tracee: Tracee,
    python: Arc<Python>,
    cfg: &AttachConfig,
) -> Result<(Tracee, Hooked, HookAll), RecordError> {
    let pid = tracee.pid();
    let trap_function = need_symbol(&python, hook::TRAP_FUNCTION)?;
    let runtime = need_symbol(&python, "_PyRuntime")?;
    let any_thread = tracee.threads()[0];
    let hook::Trap {
        hook_fn,
        addr: trap,
        returning,
        mut probe,
    } = hook::choose_trap(&mut tracee, any_thread, trap_function, cfg.probe)?;
    if let Some(p) = probe.as_mut() {
        p.adopt_traps(&mut tracee);
        if cfg.probe_filter {
            p.enable_filter(&python.layout);
        }
        if cfg.granularity == super::config::Granularity::Opcode {
            p.enable_opcode_filter(&python.layout, &super::open::opcode_steps(&python));
        }
    } else {
        tracee.set_breakpoint(trap)?;
    }
    let layout = &python.layout;
    let hooked = threads::hook_all(tracee.mem(), layout, runtime, hook_fn, probe.as_mut());
    let why = match hooked {
        Ok(c) if c.hooked + c.already > 0 => {
            if c.foreign > 0 {
                log::warn!(
                    target: "tracer::attach",
                    "{} thread(s) already have a trace function (sys.settrace) and are not recorded",
                    c.foreign
                );
            }
            if c.chained > 0 {
                log::info!(
                    target: "tracer::attach",
                    "{} thread(s) trace themselves (sys.settrace): their trace function runs on from the probe",
                    c.chained
                );
            }
            let h = Hooked {
                set_trace_watch: own_trace::watch(&mut tracee, &python),
                python,
                runtime,
                trap,
                hook_fn,
                origin: Origin::Seized,
            };
            let found = HookAll {
                returning,
                thread_states: c.hooked + c.already,
                probe,
            };
            return Ok((tracee, h, found));
        }
        Ok(c) if c.foreign > 0 => RecordError::Other(format!(
            "cannot record process {pid}: every thread already has a trace function (a \
             debugger or coverage tool using sys.settrace?); stop that tool first"
        )),
        Ok(_) => RecordError::Other(format!(
            "cannot record process {pid}: its interpreter has no thread state yet (still \
             starting?); try again"
        )),
        Err(e) => RecordError::Hook(e),
    };
    if let Some(p) = probe.as_mut() {
        p.disarm();
    }
    let _ = release(tracee, &python, runtime, hook_fn, probe.as_ref());
    Err(why)
}
