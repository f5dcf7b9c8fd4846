//! The command `record` launched, as the stop loop sees it: hindsight's own
//! SIGINT and SIGTERM are the program's, passed on to it ([`PassOn`],
//! [`Command::pass_signals_on`]), and the command's end is what `record`
//! exits with: the recorded CPython's, or that of the wrapper that started
//! it (a shell, `env`, a launcher), waited for once the recording is
//! complete ([`Command::finish`]).
//!
//! A signal sent to the whole process group (Ctrl-C in the terminal,
//! `timeout`) reaches the program by itself as well as hindsight; it must
//! not reach it twice. So a signal hindsight caught is passed on only if
//! the program did not get the same signal itself within [`WINDOW`] of it
//! (its signal-delivery stops say when), and is not holding it pending.

use std::sync::Arc;
use std::time::{Duration, Instant};

use store::ProgramEnd;

use super::error::RecordError;
use super::passon::PassOn;
use super::waker::Alarm;
use crate::ptrace::{Ended, Tracee, Wrapper};

/// How close the program's own delivery of a signal must be to hindsight's
/// for the two to be one signal sent to the process group. A signal caught
/// by hindsight alone is passed on this long after it came.
pub(crate) const WINDOW: Duration = Duration::from_millis(250);

/// The launched command, during and after the recording.
pub(crate) struct Command {
    pass_on: Option<Arc<PassOn>>,
    /// Signals caught and not passed on yet, and when they came.
    pending: Vec<(i32, Instant)>,
    /// The command, when the recorded CPython is another process of it.
    wrapper: Option<Wrapper>,
}

impl Command {
    pub(crate) fn new(pass_on: Option<Arc<PassOn>>, wrapper: Option<Wrapper>) -> Command {
        Command {
            pass_on,
            pending: Vec::new(),
            wrapper,
        }
    }

    pub(crate) fn pass_on(&self) -> Option<Arc<PassOn>> {
        self.pass_on.clone()
    }

    /// Take the signals caught since the last call, and pass on to the
    /// program (`tracee`, and the wrapper) those whose window closed by
    /// `now` and that it did not get by itself; the alarm wakes the loop
    /// when the others' windows close.
    pub(crate) fn pass_signals_on(&mut self, tracee: &Tracee, alarm: &Alarm, now: Instant) {
        if let Some(p) = &self.pass_on {
            for (sig, at) in p.take() {
                alarm.wake_at(at + WINDOW);
                self.pending.push((sig, at));
            }
        }
        let pid = tracee.pid();
        let wrapper = self.wrapper.as_ref();
        self.pending.retain(|&(sig, at)| {
            if at + WINDOW > now {
                return true;
            }
            let itself = tracee.last_delivered(sig).is_some_and(|d| d + WINDOW >= at)
                || pending_in(pid, sig);
            if itself {
                log::debug!(target: "tracer::record", "signal {sig}: the program got it itself");
            } else {
                log::info!(target: "tracer::record", "passing signal {sig} on to the program");
                if let Err(e) = crate::sys::kill(pid, sig) {
                    log::warn!(target: "tracer::record", "signal {sig} not passed on to process {pid}: {e}");
                }
                if let Some(w) = wrapper {
                    w.signal(sig);
                }
            }
            false
        });
    }

    /// Once the recording is complete: how the command ended. The program's
    /// own end, or, when a wrapper started it, the wrapper's: waited for
    /// (passing on the signals hindsight gets meanwhile), unless the
    /// program was left running (then so is the wrapper).
    pub(crate) fn finish(self, end: ProgramEnd) -> Result<ProgramEnd, RecordError> {
        let Some(wrapper) = self.wrapper else {
            return Ok(end);
        };
        if matches!(end, ProgramEnd::Detached | ProgramEnd::StillRunning) {
            wrapper.release();
            return Ok(end);
        }
        let pass_on = self.pass_on;
        let ended = wrapper.wait(|w| {
            for (sig, _) in pass_on.as_ref().map(|p| p.take()).unwrap_or_default() {
                // Untraced, it cannot say whether it got the signal by
                // itself; one it holds pending it did.
                if !pending_in(w.pid(), sig) {
                    w.signal(sig);
                }
            }
        })?;
        Ok(program_end(ended))
    }
}

impl Command {
    /// The end of a command whose recorded process `pid` was let go while
    /// it runs: the wrapper's, or that of `pid` itself (still a child of
    /// hindsight), waited for while passing hindsight's signals on.
    pub(crate) fn wait_untraced(self, pid: i32) -> Result<ProgramEnd, RecordError> {
        let pass_on = self.pass_on;
        let pass = |target: i32| {
            for (sig, _) in pass_on.as_ref().map(|p| p.take()).unwrap_or_default() {
                if !pending_in(target, sig) {
                    if let Err(e) = crate::sys::kill(target, sig) {
                        log::debug!(target: "tracer::record", "signal {sig} to process {target}: {e}");
                    }
                }
            }
        };
        let wrapper = self.wrapper.unwrap_or_else(|| Wrapper::new(pid, None));
        let ended = wrapper.wait(|w| pass(w.pid()))?;
        Ok(program_end(ended))
    }
}

/// A process's end as the recording says it.
pub(crate) fn program_end(end: Ended) -> ProgramEnd {
    match end {
        Ended::Exited(code) => ProgramEnd::Exited(code),
        Ended::Killed(sig) => ProgramEnd::Signaled(sig),
    }
}

/// Whether process `pid` holds signal `sig` pending, not yet delivered
/// (/proc/PID/status: `ShdPnd`, for the process, and `SigPnd`, for its
/// main thread).
fn pending_in(pid: i32, sig: i32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    let bit = 1u64 << ((sig - 1) & 63);
    status.lines().any(|l| {
        let mask = l
            .strip_prefix("ShdPnd:")
            .or_else(|| l.strip_prefix("SigPnd:"));
        mask.and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
            .is_some_and(|m| m & bit != 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caught_signals_are_taken_once() {
        let p = PassOn::new();
        assert!(!p.any());
        p.caught(libc::SIGTERM);
        p.caught(libc::SIGINT);
        assert!(p.any());
        let got: Vec<i32> = p.take().into_iter().map(|c| c.0).collect();
        assert_eq!(got, [libc::SIGTERM, libc::SIGINT]);
        assert!(!p.any());
        assert!(p.take().is_empty());
    }

    #[test]
    fn nothing_is_pending_in_this_process() {
        assert!(!pending_in(std::process::id() as i32, libc::SIGTERM));
        assert!(!pending_in(-1, libc::SIGTERM));
    }
}
