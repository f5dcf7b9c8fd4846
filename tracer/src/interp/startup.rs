//! Getting a launched command to the point where its CPython is about to
//! run the program: follow the command's processes (a shell or launcher
//! may exec CPython or start it as a child: [`crate::ptrace::family`]),
//! take the first one whose program is a supported CPython, and run it to
//! `Py_RunMain`. Also a one-shot run of a thread to a chosen address.

use std::path::Path;

use store::ProgramEnd;

use crate::addr::{RemoteAddr, Tid};
use crate::cpython::{DecodeError, Python};
use crate::ptrace::family::{self, AtEntry, Followed};
use crate::ptrace::{Ended, Stop, TraceError, Tracee, Wrapper};

/// Getting to the interpreter failed.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// Controlling the command's processes failed.
    #[error(transparent)]
    Trace(#[from] TraceError),
    /// Finding or reading an interpreter failed (an unsupported version
    /// among them).
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// Where the start-up of a launched command got to.
pub enum Startup {
    /// A CPython of the command is about to run its program: stopped at
    /// `Py_RunMain`.
    Python {
        /// Its process.
        tracee: Box<Tracee>,
        /// Its interpreter, resolved.
        python: Box<Python>,
        /// The launched command, when CPython is another process of it.
        wrapper: Option<Wrapper>,
    },
    /// No CPython of the command ran a program.
    NoPython {
        /// How the command ended.
        end: Ended,
        /// The programs it ran, in order (at most [`RAN_LISTED`]).
        ran: Vec<String>,
    },
}

/// How many programs a command ran are named when none was CPython.
pub const RAN_LISTED: usize = 8;

/// Where running to an address got to.
pub enum RunTo {
    /// The address was reached; the thread is stopped there, breakpoint removed.
    Reached,
    /// The program exec'd a new image first; stopped right after the exec.
    Exec,
    /// The program ended first.
    Ended(ProgramEnd),
}

/// Follow the freshly launched (exec-stopped) command until one of its
/// processes is a supported CPython about to run its program. A CPython
/// that ends before that (`python3 --version`) is passed over; an
/// unsupported one, or one whose symbols are missing, is an error (every
/// process of the command is then killed).
pub fn wait_for_python(root: Tracee, debug_file: Option<&Path>) -> Result<Startup, StartupError> {
    let mut ran: Vec<String> = Vec::new();
    let followed = family::follow(root, |t: &Tracee| -> Result<_, StartupError> {
        let pid = t.pid();
        let name = exe_name(pid);
        match Python::discover(pid, debug_file) {
            Ok(python) => {
                let at =
                    python
                        .symbol_addr("Py_RunMain")
                        .ok_or_else(|| DecodeError::MissingSymbol {
                            name: "Py_RunMain".into(),
                            path: python.image_path.clone(),
                        })?;
                log::debug!(target: "tracer::session", "{name} (pid {pid}) is CPython {}", python.version);
                // Listed only if it ends before running a program.
                note(
                    &mut ran,
                    format!(
                        "{name} (CPython {}, which ended before running a program)",
                        python.version
                    ),
                );
                Ok(AtEntry::RunTo {
                    at,
                    value: Box::new(python),
                })
            }
            Err(DecodeError::NotPython(why)) => {
                log::debug!(target: "tracer::session", "{name} (pid {pid}) is not CPython: {why}");
                note(&mut ran, name);
                Ok(AtEntry::Pass)
            }
            Err(e) => Err(StartupError::Decode(e)),
        }
    })?;
    Ok(match followed {
        Followed::Found {
            tracee,
            value,
            wrapper,
        } => Startup::Python {
            tracee: Box::new(tracee),
            python: value,
            wrapper,
        },
        Followed::Ended(end) => Startup::NoPython { end, ran },
    })
}

/// Add `name` to the programs run, unless it is there or the list is full.
fn note(ran: &mut Vec<String>, name: String) {
    if ran.len() < RAN_LISTED && !ran.contains(&name) {
        ran.push(name);
    }
}

/// The file name of the program process `pid` runs.
fn exe_name(pid: i32) -> String {
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| format!("process {pid}"))
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
            // Nothing is watched yet.
            Stop::Watch { tid, .. } => tracee.resume(tid, None)?,
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
