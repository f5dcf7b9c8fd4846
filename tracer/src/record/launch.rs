//! `hindsight record`: launch a command under ptrace, follow it to the
//! CPython it runs (exec'd or started as a child, through shells, `env`,
//! launchers: [`crate::interp::startup`]) until that interpreter is about
//! to run the program, install the trace hook in its main thread, and hand
//! it to the stop loop ([`super::stops`]).

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use super::command::Command;
use super::config::{Granularity, RecordConfig, RecordOutcome};
use super::error::{need_symbol, RecordError};
use super::open::{cmdline, create_placeholder, create_writer, file_filter, recording_header};
use super::profile::ProfileFilter;
use super::recorder::Recorder;
use super::session::{Bounds, Hooked, Origin, Session};
use super::stops;
use super::waker::Waker;
use crate::addr::{RemoteAddr, Tid};
use crate::cpython::version::OpcodeTrace;
use crate::cpython::{Decoder, Python};
use crate::interp::hook;
use crate::interp::own_trace;
use crate::interp::startup::{self, Startup};
use crate::memory::Memory;
use crate::probe::ProbeMode;
use crate::ptrace::Tracee;

/// Launch `cfg.program` and record the first CPython it runs into
/// `cfg.output`. While it runs, this process ignores SIGQUIT, and SIGINT
/// unless the caller passes signals on ([`RecordConfig::pass_on`]): they
/// are the program's.
pub fn record(mut cfg: RecordConfig) -> Result<RecordOutcome, RecordError> {
    let Some(program) = cfg.program.first().cloned() else {
        return Err(RecordError::Other(
            "no program given: hindsight record -- python3 script.py".into(),
        ));
    };
    // A file size limit must fail the recording's writes, not end
    // hindsight (and the program with it): the writer stops recording.
    crate::sys::ignore_file_size_signal();
    // The file first: refused before the program runs, and there with its
    // header from now on, whatever happens to this process.
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let file = create_placeholder(&cfg.output, cfg.create, &cfg.program, &cwd, None, "record")?;
    let cpu = crate::sys::pick_cpu();
    let live = super::beside::pin_tracer(cpu, cfg.delta);
    let root = Tracee::launch_with(&program, &cfg.program[1..], Some(cpu), cfg.stdio.take())?;
    // Ctrl-C in the terminal reaches the program too; it is the program's to
    // handle, and hindsight must outlive it to finish the recording.
    crate::sys::ignore_interactive_signals(cfg.pass_on.is_none());
    let (mut tracee, python, wrapper) =
        match startup::wait_for_python(root, cfg.debug_file.as_deref())? {
            Startup::Python {
                tracee,
                python,
                wrapper,
            } => (*tracee, Arc::new(*python), wrapper),
            Startup::NoPython { end, ran } => {
                return Err(RecordError::NoPython {
                    command: command_line(&cfg.program),
                    ran: if ran.is_empty() {
                        "no program".into()
                    } else {
                        ran.join(", ")
                    },
                    end,
                })
            }
        };
    if let Some(w) = &wrapper {
        log::info!(target: "tracer::record", "recording process {}, which the command (process {}) started", tracee.pid(), w.pid());
    }
    let (hooked, trap) = hook_main(&mut tracee, python, &cfg)?;

    let pid = tracee.pid();
    // The interpreter's own working directory and argv: a wrapper may have
    // changed directory, and after a launcher hindsight's arguments no
    // longer say which file is the script.
    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd"))
        .or_else(|_| std::env::current_dir())
        .unwrap_or_else(|_| PathBuf::from("/"));
    let argv = cmdline(pid);
    let python = hooked.python.clone();
    let filter = file_filter(
        cfg.filter.clone(),
        argv.get(1..).unwrap_or(&[]),
        &cwd,
        &python,
    );
    let header = recording_header(&cfg.program, &cwd, pid, &python, "record");
    let mut writer = create_writer(file, header, cpu, cfg.ring.as_ref())?;
    if let Some(observer) = cfg.on_step.take() {
        writer.observe(observer);
    }
    let mut rec = Recorder::new(
        Decoder::new(python),
        filter,
        cfg.granularity,
        vec![pid as u32],
        trap.returning,
    );
    rec.sources = super::sources::Sources::new(&cwd);
    rec.max_steps = cfg.max_steps;
    rec.profile = cfg.profile.as_deref().map(ProfileFilter::new);
    if cfg.granularity == Granularity::Opcode
        && rec.decoder.python().facts.tracing.opcode_trace == OpcodeTrace::PerCodeCall
    {
        let func = need_symbol(rec.decoder.python(), hook::SET_OPCODE_TRACE)?;
        rec.opcodes.set_opcode_trace = Some((func, tracee.entry_point()?));
    }
    rec.trapless_allowed = cfg.trapless;
    rec.delta_allowed = cfg.delta;
    rec.live.allowed = live;
    if let Some(p) = trap.probe {
        rec.cache.attach_probe(p);
    }
    // A helper process whose death ends the wait lets the loop act while
    // the program is blocked (sleep, read, accept): at the time bound, at
    // the end of the grace period of --at-bound stop, on a signal to pass on.
    let waker = Waker::spawn().map_err(|e| {
        RecordError::Other(format!(
            "cannot start the helper process that ends a wait: {e}"
        ))
    })?;
    let started = Instant::now();
    tracee.resume(Tid(pid), None)?;
    let session = Session {
        tracee,
        hooked,
        writer,
        rec,
        command: Some(Command::new(cfg.pass_on.clone(), wrapper)),
    };
    let bounds = Bounds {
        max_steps: cfg.max_steps,
        max_time: cfg.max_time,
        stop: None,
        progress: cfg.progress,
    };
    stops::run(session, bounds, Some(waker), started)
}

/// The command as it would be typed in a shell, for messages.
fn command_line(program: &[OsString]) -> String {
    program
        .iter()
        .map(|a| {
            let a = a.to_string_lossy();
            let plain = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
            if plain {
                a.into_owned()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
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
    if let Some(p) = trap.probe.as_mut() {
        if cfg.granularity == Granularity::Opcode {
            p.enable_opcode_filter(&python.layout, &super::open::opcode_steps(&python));
        }
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
    if cfg.granularity == Granularity::Opcode
        && python.facts.tracing.opcode_trace == OpcodeTrace::InterpFlag
    {
        // What `frame.f_trace_opcodes = True` does in the program: from
        // then on `_PyEval_SetTrace` switches instruction events on too.
        let Some(flag) = python.layout.runtime.interp_f_opcode_trace_set else {
            return Err(RecordError::Other(
                "the layout table lacks PyInterpreterState.f_opcode_trace_set of CPython 3.12"
                    .into(),
            ));
        };
        let interp = tracee
            .mem()
            .read_ptr(runtime.at(python.layout.runtime.interpreters_head))?;
        tracee.mem().write(interp.at(flag), &[1])?;
    }
    let tstate = install(tracee, &python, runtime, trap.hook_fn, set_trace)?;
    if let Some(p) = trap.probe.as_ref() {
        p.adopt_traps(tracee);
    } else {
        tracee.set_breakpoint(trap.addr)?;
    }
    let set_trace_watch = own_trace::watch(tracee, &python);
    let hooked = Hooked {
        set_trace_watch,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_quoted_for_the_shell() {
        let c: Vec<OsString> = ["sh", "-c", "python3 app.py; echo 'done'"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(
            command_line(&c),
            r"sh -c 'python3 app.py; echo '\''done'\'''"
        );
        assert_eq!(
            command_line(&[OsString::from("/usr/bin/python3")]),
            "/usr/bin/python3"
        );
    }
}
