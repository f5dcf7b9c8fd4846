//! The command `record` launched, when it is not the process recorded: a
//! shell, `env` or a launcher that started CPython as a child. Once its
//! CPython is found it runs on untraced ([`crate::ptrace::family`]), but it
//! stays a child of hindsight: its end is the command's end, and what
//! `record` exits with.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use crate::addr::Tid;
use crate::ptrace::TraceError;
use crate::sys;

/// How long [`Wrapper::wait`] sleeps between looks at the wrapper.
const POLL: Duration = Duration::from_millis(10);

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// It exited with this status.
    Exited(i32),
    /// This signal killed it.
    Killed(i32),
}

impl Ended {
    /// The end a wait status reports, if it reports one.
    pub(crate) fn from_status(status: i32) -> Option<Ended> {
        if libc::WIFEXITED(status) {
            Some(Ended::Exited(libc::WEXITSTATUS(status)))
        } else if libc::WIFSIGNALED(status) {
            Some(Ended::Killed(libc::WTERMSIG(status)))
        } else {
            None
        }
    }
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ended::Exited(code) => write!(f, "exited with status {code}"),
            Ended::Killed(sig) => write!(f, "was killed by signal {sig}"),
        }
    }
}

/// The launched command, untraced, while a process it started is the one
/// traced. Dropped while it runs (an error of the recording), it is killed,
/// as a launched program is.
#[derive(Debug)]
pub struct Wrapper {
    pid: i32,
    /// Filled by whichever wait reaps it: the traced process's tracee
    /// ([`crate::ptrace::Tracee::watch_outside`]) or [`Wrapper::wait`].
    end: Rc<Cell<Option<Ended>>>,
    /// Left running on purpose: not killed on drop.
    released: bool,
}

impl Wrapper {
    /// The wrapper `pid`, a child of this thread; `end` if it ended already.
    pub(crate) fn new(pid: i32, end: Option<Ended>) -> Wrapper {
        Wrapper {
            pid,
            end: Rc::new(Cell::new(end)),
            released: false,
        }
    }

    /// Its process id.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// How it ended, once reaped.
    pub fn end(&self) -> Option<Ended> {
        self.end.get()
    }

    /// Where a wait that reaps it keeps its end.
    pub(crate) fn end_cell(&self) -> Rc<Cell<Option<Ended>>> {
        self.end.clone()
    }

    /// Send it `sig`, unless it was reaped (its pid may be another's now).
    pub fn signal(&self, sig: i32) {
        if self.end().is_none() {
            if let Err(e) = sys::kill(self.pid, sig) {
                log::debug!(target: "tracer::ptrace", "signal {sig} to the command {}: {e}", self.pid);
            }
        }
    }

    /// Wait for it to end, calling `meanwhile` every few milliseconds (to
    /// pass signals on to it).
    pub fn wait(&self, mut meanwhile: impl FnMut(&Wrapper)) -> Result<Ended, TraceError> {
        loop {
            if let Some(end) = self.end() {
                return Ok(end);
            }
            let (got, status) = sys::wait_any(self.pid, libc::WNOHANG).map_err(TraceError::Wait)?;
            if got == self.pid {
                self.end.set(Ended::from_status(status));
                continue;
            }
            meanwhile(self);
            std::thread::sleep(POLL);
        }
    }

    /// Leave it running: nobody waits for it (it is the init process's
    /// once hindsight exits).
    pub fn release(mut self) {
        self.released = true;
    }
}

impl Drop for Wrapper {
    fn drop(&mut self) {
        if self.released || self.end().is_some() {
            return;
        }
        if let Err(e) = sys::kill(self.pid, libc::SIGKILL) {
            log::warn!(target: "tracer::ptrace", "could not kill the command {}: {e}", Tid(self.pid));
            return;
        }
        let _ = sys::wait_any(self.pid, 0);
    }
}
