//! `hindsight attach PID`: seize a running CPython process, hook every one
//! of its threads (and every thread it starts meanwhile), and hand it to
//! the stop loop ([`super::stops`]), which records steps from the next one
//! on and ends on a signal to hindsight, a bound, or the target's own end.
//! Ending removes every trap, restores every hooked thread state and
//! detaches: the target runs on as if never attached. On 3.12+ hooking and
//! unhooking are calls in the target at a safe point ([`super::safe_hook`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::config::{AttachConfig, Attached, RecordOutcome};
use super::error::{need_symbol, RecordError};
use super::letgo::release_seized;
use super::open::{cmdline, create_placeholder, create_writer, file_filter, recording_header};
use super::recorder::Recorder;
use super::safe_hook::{Installed, MonitoringHook};
use super::session::{Bounds, Hooked, Origin, Session};
use super::stops;
use super::waker::Waker;
use crate::cpython::version::OpcodeTrace;
use crate::cpython::{DecodeError, Decoder, Python};
use crate::interp::own_trace;
use crate::interp::{hook, threads};
use crate::memory::Memory;
use crate::probe::Probe;
use crate::ptrace::{Stop, Tracee};
use store::{ProgramEnd, RecordingEnd};

/// Minor versions of CPython 3 `attach` records: 3.8-3.11 by writes to
/// thread states (c_tracefunc and use_tracing), 3.12+ by calls of
/// `_PyEval_SetTrace` in the target at a safe point ([`super::safe_hook`]).
pub const ATTACH_MINORS: std::ops::RangeInclusive<u8> = 8..=13;

/// How long `attach` waits for a 3.12+ program to reach a safe point before
/// it says it is attached (a program blocked in a system call reaches one
/// when it next runs Python code, and is hooked then).
const FIRST_WAIT: Duration = Duration::from_secs(1);

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
    let live = super::beside::pin_tracer(cpu, cfg.delta);
    let tracee = Tracee::seize(pid)?;
    // Every thread is stopped; nothing in the target is changed yet, so an
    // error up to the hook just lets go (dropping a seized tracee detaches).
    let python = Arc::new(attachable_python(pid, cfg.debug_file.as_deref())?);
    let (mut tracee, hooked, mut hook) = hook_all(tracee, python.clone(), &cfg)?;

    // From here on, an error must unhook before it lets go.
    let unhook = |tracee, h: &Hooked, probe: Option<Probe>| {
        let monitoring = match h.origin {
            Origin::Seized { monitoring } => monitoring,
            Origin::Launched { .. } => None,
        };
        if let Some(mut p) = probe {
            p.disarm();
            let _ = release_seized(tracee, h, monitoring, None, Some(&p));
        } else {
            let _ = release_seized(tracee, h, monitoring, None, None);
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
    if cfg.granularity == super::config::Granularity::Opcode
        && python.facts.tracing.opcode_trace == OpcodeTrace::PerCodeCall
    {
        // 3.13: instruction events are switched on per code object, by a
        // call at the trap of its first event.
        let func = need_symbol(&python, hook::SET_OPCODE_TRACE)?;
        rec.opcodes.set_opcode_trace = Some((func, tracee.entry_point()?));
    }
    if let Some(p) = hook.probe.take() {
        rec.cache.attach_probe(p);
    }
    if let Some(m) = hook.pending {
        // 3.12+, no safe point reached yet: attached all the same (what the
        // program runs from now on is recorded), hooked at the first one.
        if let Some(f) = cfg.on_attached.take() {
            f(&Attached {
                pid,
                interpreter: format!("CPython {}", python.version),
                threads: hook.thread_states,
            });
        }
        let until = cfg.max_time.map(|m| started + m);
        let mut probe = rec.cache.probe_mut();
        let done = m.install(
            &mut tracee,
            &python,
            hooked.hook_fn,
            probe.as_mut(),
            until,
            Some(&cfg.stop),
        );
        drop(probe);
        match done {
            Ok(Installed::Now(_)) => {
                tracee.clear_watch();
                let w = own_trace::watch(&mut tracee, &python);
                let mut hooked = hooked;
                hooked.set_trace_watch = w;
                let n = hook.thread_states;
                return run_attached(tracee, hooked, writer, rec, &mut cfg, waker, started, n);
            }
            // Ctrl-C, SIGTERM or --max-time first: the stop loop ends at once.
            Ok(Installed::NotYet) => {}
            Ok(Installed::Ended(stop)) => return ended_unhooked(tracee, *stop, writer, started),
            Err(e) => {
                let probe = rec.cache.probe_mut().take();
                unhook(tracee, &hooked, probe);
                return Err(e);
            }
        }
    }
    let n = hook.thread_states;
    run_attached(tracee, hooked, writer, rec, &mut cfg, waker, started, n)
}

/// Resume every thread and record until the end; `threads`: thread states
/// hooked, for the "attached" line.
#[allow(clippy::too_many_arguments)]
fn run_attached(
    mut tracee: Tracee,
    hooked: Hooked,
    writer: store::Writer,
    rec: Recorder,
    cfg: &mut AttachConfig,
    waker: Waker,
    started: Instant,
    threads: usize,
) -> Result<RecordOutcome, RecordError> {
    tracee.resume_all()?;
    if let Some(f) = cfg.on_attached.take() {
        let python = &hooked.python;
        f(&Attached {
            pid: tracee.pid(),
            interpreter: format!("CPython {}", python.version),
            threads,
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
        stop: Some(cfg.stop.clone()),
        progress: cfg.progress.take(),
    };
    stops::run(session, bounds, Some(waker), started)
}

/// The program ended (or exec'd) before any thread of it reached a safe
/// point: nothing was hooked; finish the empty recording.
fn ended_unhooked(
    tracee: Tracee,
    stop: Stop,
    writer: store::Writer,
    started: Instant,
) -> Result<RecordOutcome, RecordError> {
    let (end, reason) = match stop {
        Stop::Exited { code } => (
            ProgramEnd::Exited(code),
            format!("the program exited with status {code}"),
        ),
        Stop::Killed { sig } => (
            ProgramEnd::Signaled(sig),
            format!("the program was killed by signal {sig}"),
        ),
        _ => {
            tracee.detach()?;
            (ProgramEnd::Detached, super::session::EXECED.to_string())
        }
    };
    let summary = writer.finish(RecordingEnd {
        end,
        reason,
        steps: 0,
        threads: Vec::new(),
        duration_ms: started.elapsed().as_millis() as u64,
    })?;
    Ok(RecordOutcome {
        end,
        command_end: end,
        steps: summary.steps,
        bytes: summary.bytes,
        bound: None,
        note: Some("recorded 0 steps: the program ended before it ran Python code".into()),
        cut: summary.cut,
    })
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
    /// Thread states that carry the hook (3.12+ not hooked yet: all).
    pub(crate) thread_states: usize,
    /// The probe, when the hook is its entry.
    pub(crate) probe: Option<Probe>,
    /// 3.12+: no thread reached a safe point yet; hook them at the first.
    pub(crate) pending: Option<MonitoringHook>,
}

/// Set the trap (the probe's, placed as `record` places it, when it can
/// be), then point every thread state's trace function at it (the trap
/// first, so no thread can call the trace function before the breakpoint
/// is there): by writes on 3.8-3.11, by calls at a safe point on 3.12+
/// (pending when none is reached within [`FIRST_WAIT`]). On failure the
/// target is let go, unhooked. `exec` and `reload` hook the program this
/// way too.
pub(crate) fn hook_all(
    mut tracee: Tracee,
    python: Arc<Python>,
    cfg: &AttachConfig,
) -> Result<(Tracee, Hooked, HookAll), RecordError> {
    let pid = tracee.pid();
    let trap_function = need_symbol(&python, hook::TRAP_FUNCTION)?;
    let runtime = need_symbol(&python, "_PyRuntime")?;
    let mut monitoring = if hook::uses_monitoring(python.version) {
        Some(MonitoringHook::of(&tracee, &python, runtime)?)
    } else {
        None
    };
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
    if monitoring.is_some()
        && cfg.granularity == super::config::Granularity::Opcode
        && python.facts.tracing.opcode_trace == OpcodeTrace::InterpFlag
    {
        // 3.12: what `frame.f_trace_opcodes = True` does in the program:
        // `_PyEval_SetTrace` then switches instruction events on too.
        if let (Some(flag), Some(m)) = (
            layout.runtime.interp_f_opcode_trace_set,
            monitoring.as_mut(),
        ) {
            let interp = tracee
                .mem()
                .read_ptr(runtime.at(layout.runtime.interpreters_head))?;
            let mut was = [0u8; 1];
            tracee.mem().read(interp.at(flag), &mut was)?;
            tracee.mem().write(interp.at(flag), &[1])?;
            m.restore_at_detach(interp.at(flag), was[0]);
        }
    }
    let mut pending = None;
    let hooked = match monitoring {
        None => threads::hook_all(tracee.mem(), layout, runtime, hook_fn, probe.as_mut(), None)
            .map_err(RecordError::Hook),
        Some(m) => {
            let until = Instant::now() + FIRST_WAIT;
            let stop = Some(&*cfg.stop);
            match m.install(
                &mut tracee,
                &python,
                hook_fn,
                probe.as_mut(),
                Some(until),
                stop,
            ) {
                Ok(Installed::Now(c)) => Ok(c),
                Ok(Installed::NotYet) => {
                    pending = Some(m);
                    threads::thread_states(tracee.mem(), layout, runtime)
                        .map(|t| threads::HookCount {
                            hooked: t.len(),
                            ..Default::default()
                        })
                        .map_err(RecordError::Hook)
                }
                Ok(Installed::Ended(_)) => {
                    return Err(RecordError::Other(format!(
                        "process {pid} ended while hindsight attached to it"
                    )))
                }
                Err(e) => Err(e),
            }
        }
    };
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
            let set_trace_watch = match pending {
                // Armed once hooked: the hook's own calls go through it.
                Some(_) => None,
                None => own_trace::watch(&mut tracee, &python),
            };
            let h = Hooked {
                set_trace_watch,
                python,
                runtime,
                trap,
                hook_fn,
                origin: Origin::Seized { monitoring },
            };
            let found = HookAll {
                returning,
                thread_states: c.hooked + c.already,
                probe,
                pending,
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
        Err(e) => e,
    };
    if let Some(p) = probe.as_mut() {
        p.disarm();
    }
    let h = Hooked {
        set_trace_watch: None,
        python,
        runtime,
        trap,
        hook_fn,
        origin: Origin::Seized { monitoring },
    };
    let _ = release_seized(tracee, &h, monitoring, None, probe.as_ref());
    Err(why)
}
