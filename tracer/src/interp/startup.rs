//! Getting a launched program to the point where its interpreter exists:
//! run to the executable's entry point (all libraries mapped), find the
//! interpreter, follow a launcher's exec (pyenv shims are shell scripts),
//! and run to a chosen function with a one-shot breakpoint.

use std::path::Path;

use store::ProgramEnd;

use crate::addr::{RemoteAddr, Tid};
use crate::cpython::{DecodeError, Python};
use crate::ptrace::{Stop, TraceError, Tracee};

/// Getting to the interpreter failed.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// Controlling the program failed.
    #[error(transparent)]
    Trace(#[from] TraceError),
    /// Finding or reading its interpreter failed.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// Where the start-up of a launched program got to.
pub enum Startup {
    /// An interpreter is mapped and resolved; the main thread is stopped.
    Python(Box<Python>),
    /// The program ended before any interpreter started.
    Ended(ProgramEnd),
    /// The program is not CPython (and not a launcher of it); why.
    NotPython(String),
}

/// Where running to an address got to.
pub enum RunTo {
    /// The address was reached; the thread is stopped there, breakpoint removed.
    Reached,
    /// The program exec'd a new image first; stopped right after the exec.
    Exec,
    /// The program ended first.
    Ended(ProgramEnd),
}

/// Run the freshly launched (exec-stopped) program to its entry point and
/// resolve its interpreter, following execs of launcher programs.
pub fn wait_for_python(
    tracee: &mut Tracee,
    debug_file: Option<&Path>,
    launchers: &[&str],
) -> Result<Startup, StartupError> {
    let main = Tid(tracee.pid());
    // A chain of launchers (env -> bash -> pyenv -> python) is short; bound it.
    for _ in 0..16 {
        let entry = tracee.entry_point()?;
        match run_to(tracee, main, Some(entry))? {
            RunTo::Ended(end) => return Ok(Startup::Ended(end)),
            RunTo::Exec => continue,
            RunTo::Reached => {}
        }
        match Python::discover(tracee.pid(), debug_file) {
            Ok(p) => return Ok(Startup::Python(Box::new(p))),
            Err(DecodeError::NotPython(why)) => {
                let exe = std::fs::read_link(format!("/proc/{}/exe", tracee.pid()))
                    .ok()
                    .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .unwrap_or_default();
                if !launchers.contains(&exe.as_str()) {
                    return Ok(Startup::NotPython(why));
                }
                log::debug!(target: "tracer::session", "{exe} is a launcher: following its exec");
                match run_to(tracee, main, None)? {
                    RunTo::Ended(end) => return Ok(Startup::Ended(end)),
                    RunTo::Exec | RunTo::Reached => continue,
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Startup::NotPython(
        "it exec'd too many programs without starting Python".into(),
    ))
}

/// Resume `tid` and run until it reaches `addr` (a one-shot breakpoint,
/// removed and rewound so the original instruction runs next), or, with
/// `None`, until the program execs. Signals meant for the target are
/// delivered unchanged.
pub fn run_to(
    tracee: &mut Tracee,
    tid: Tid,
    addr: Option<RemoteAddr>,
) -> Result<RunTo, TraceError> {
    if let Some(addr) = addr {
        tracee.set_breakpoint(addr)?;
    }
    tracee.resume(tid, None)?;
    loop {
        match tracee.wait()? {
            Stop::Breakpoint {
                tid,
                addr: at,
                mut regs,
            } => {
                tracee.step_back_over(tid, &mut regs, at)?;
                if Some(at) == addr {
                    return Ok(RunTo::Reached);
                }
                tracee.resume(tid, None)?;
            }
            Stop::Signal { tid, sig } => tracee.resume(tid, Some(sig))?,
            Stop::NewThread { parent, tid } => {
                tracee.resume(tid, None)?;
                tracee.resume(parent, None)?;
            }
            Stop::Forked { parent, child } => {
                // Nothing is hooked yet: the child goes as it is.
                tracee.release_fork(child)?;
                tracee.resume(parent, None)?;
            }
            Stop::ThreadExit { .. } => {}
            Stop::Exec { .. } => {
                // The old image and its breakpoints are gone.
                tracee.forget_breakpoints();
                return Ok(RunTo::Exec);
            }
            Stop::Exited { code } => return Ok(RunTo::Ended(ProgramEnd::Exited(code))),
            Stop::Killed { sig } => return Ok(RunTo::Ended(ProgramEnd::Signaled(sig))),
        }
    }
}
