//! Stopping every thread of a [`Tracee`] and letting them go again: for a
//! detach, or for a moment's change to what running threads would race with
//! (the trace hook of a seized program). [`Tracee::stop_all`] absorbs what
//! the threads report meanwhile (for a detach nothing more is answered);
//! [`Tracee::pause_all`] keeps it for the stop loop, so a pause in the
//! middle of a recording loses no trap, new thread or signal.

use std::io;

use crate::addr::Tid;
use crate::ptrace::{Thread, TraceError, Tracee};
use crate::sys;

/// Bound on wait statuses handled while stopping one thread for detach.
const DETACH_WAIT_LIMIT: usize = 1000;

/// What a thread being stopped reported, once absorbed.
enum Absorbed {
    /// Stopped by our interrupt (or SIGSTOP), or gone.
    Done,
    /// Stopped for something else, now handled: it must run on to reach our stop.
    RunOn,
}

impl Tracee {
    /// Stop every running thread (new ones too) and keep it traced; a
    /// signal one reported meanwhile is delivered when it is next resumed.
    /// What a [`Tracee::pause_all`] kept and nobody answered is absorbed
    /// the same way: a trap on a breakpoint is rewound, a signal kept.
    pub fn stop_all(&mut self) -> Result<(), TraceError> {
        for (tid, status) in std::mem::take(&mut self.deferred) {
            let mut deliver = None;
            // Stopped already: whatever it reported, it stays stopped.
            self.absorb(tid, status, &mut deliver)?;
            if let Some(sig) = deliver {
                self.pending.push((tid, sig));
            }
        }
        let mut i = 0;
        while i < self.threads.len() {
            let t = self.threads[i];
            if t.running {
                if let Some(sig) = self.stop_for_detach(t.tid)? {
                    self.pending.push((t.tid, sig));
                }
            }
            i += 1;
        }
        Ok(())
    }

    /// Resume every stopped thread (with the signal it has pending).
    pub fn resume_all(&mut self) -> Result<(), TraceError> {
        let stopped: Vec<Tid> = self
            .threads
            .iter()
            .filter(|t| !t.running)
            .map(|t| t.tid)
            .collect();
        for tid in stopped {
            match self.resume(tid, None) {
                Err(TraceError::Gone { .. }) => {}
                r => r?,
            }
        }
        Ok(())
    }

    /// Stop every running thread of a seized tracee (PTRACE_INTERRUPT) for
    /// a moment; returns those that stopped for it, which
    /// [`Tracee::resume_paused`] lets go again. A thread that reports
    /// anything else first (a trap, a signal, a new thread, its end) is
    /// stopped too, but that stop is kept for the next wait of this tracee
    /// ([`Tracee::wait`], [`Tracee::poll`]), which returns it before any
    /// other: the thread runs on once the loop answers it. A launched
    /// tracee cannot be interrupted so: nothing is paused.
    pub fn pause_all(&mut self) -> Result<Vec<Tid>, TraceError> {
        if !self.seized {
            return Ok(Vec::new());
        }
        let running: Vec<Tid> = self
            .threads
            .iter()
            .filter(|t| t.running)
            .map(|t| t.tid)
            .collect();
        let mut asked = Vec::new();
        for tid in running {
            match nix::sys::ptrace::interrupt(nix::unistd::Pid::from_raw(tid.0)) {
                Ok(()) => asked.push(tid),
                // Gone: its end comes through the wait.
                Err(nix::errno::Errno::ESRCH) => {}
                Err(e) => {
                    return Err(TraceError::ptrace(
                        "INTERRUPT",
                        tid,
                        io::Error::from_raw_os_error(e as i32),
                    ))
                }
            }
        }
        let mut paused = Vec::new();
        for tid in asked {
            // One status each: the interrupt's stop, or what came first,
            // after which the thread is stopped (or gone) all the same.
            let Ok((_, status)) = sys::wait_any(tid.0, 0) else {
                continue;
            };
            let ours = libc::WIFSTOPPED(status) && status >> 16 == libc::PTRACE_EVENT_STOP;
            if libc::WIFSTOPPED(status) {
                self.set_running(tid, false);
            }
            if ours {
                paused.push(tid);
            } else {
                self.deferred.push((tid, status));
            }
        }
        Ok(paused)
    }

    /// Let the threads [`Tracee::pause_all`] stopped run on.
    pub fn resume_paused(&mut self, paused: &[Tid]) -> Result<(), TraceError> {
        for &tid in paused {
            match self.resume(tid, None) {
                Err(TraceError::Gone { .. }) => {}
                r => r?,
            }
        }
        Ok(())
    }

    /// The next wait status: one [`Tracee::pause_all`] kept, else
    /// `waitpid` of any thread with `flags` (`(0, 0)`: none with WNOHANG).
    pub(crate) fn next_status(&mut self, flags: i32) -> Result<(i32, i32), TraceError> {
        if !self.deferred.is_empty() {
            let (tid, status) = self.deferred.remove(0);
            return Ok((tid.0, status));
        }
        sys::wait_any(-1, flags).map_err(TraceError::Wait)
    }

    /// Bring running thread `tid` to a stop with SIGSTOP, absorbing what it
    /// reports first. Returns a signal to deliver on detach, if it had one.
    fn stop_for_detach(&mut self, tid: Tid) -> Result<Option<i32>, TraceError> {
        // A seized thread is stopped without a signal (PTRACE_EVENT_STOP).
        let sent = if self.seized {
            nix::sys::ptrace::interrupt(nix::unistd::Pid::from_raw(tid.0))
                .map_err(|e| io::Error::from_raw_os_error(e as i32))
        } else {
            sys::tgkill(self.pid, tid.0, libc::SIGSTOP)
        };
        if let Err(e) = sent {
            if e.raw_os_error() == Some(libc::ESRCH) {
                return Ok(None);
            }
            return Err(TraceError::ptrace("tgkill", tid, e));
        }
        let mut deliver = None;
        for _ in 0..DETACH_WAIT_LIMIT {
            let (_, status) = match sys::wait_any(tid.0, 0) {
                Ok(s) => s,
                Err(_) => return Ok(deliver),
            };
            match self.absorb(tid, status, &mut deliver)? {
                Absorbed::Done => return Ok(deliver),
                Absorbed::RunOn => {
                    sys::ptrace_cont(tid.0, 0).map_err(|e| TraceError::ptrace("CONT", tid, e))?;
                    self.set_running(tid, true);
                }
            }
        }
        Err(TraceError::NotStopped { what: "detach" })
    }

    /// Handle wait status `status` of thread `tid` that is being stopped
    /// for good: a signal for the program goes to `deliver`.
    fn absorb(
        &mut self,
        tid: Tid,
        status: i32,
        deliver: &mut Option<i32>,
    ) -> Result<Absorbed, TraceError> {
        if !libc::WIFSTOPPED(status) {
            // It exited.
            self.set_running(tid, false);
            self.threads.retain(|t| t.tid != tid);
            return Ok(Absorbed::Done);
        }
        self.set_running(tid, false);
        let sig = libc::WSTOPSIG(status);
        let event = status >> 16;
        if event == libc::PTRACE_EVENT_FORK || event == libc::PTRACE_EVENT_VFORK {
            // A process born now (when forks are followed) was attached
            // stopped: let it go too, or it would wait for us forever.
            if let Ok(child) = self.take_new(tid) {
                let _ = sys::ptrace_detach(child.0, 0);
            }
        } else if event == libc::PTRACE_EVENT_CLONE {
            // A thread born now must be detached too; its own SIGSTOP
            // is already queued, so count it as running.
            if let Ok(msg) = sys::ptrace_geteventmsg(tid.0) {
                let new = Tid(msg as i32);
                if !self.is_known(new) {
                    self.threads.push(Thread {
                        tid: new,
                        running: true,
                    });
                }
            }
        } else if (event == 0 && sig == libc::SIGSTOP && !self.seized)
            || (event == libc::PTRACE_EVENT_STOP && self.seized)
        {
            // Our SIGSTOP, or our PTRACE_INTERRUPT of a seized thread.
            return Ok(Absorbed::Done);
        } else if event == 0 && sig == libc::SIGTRAP {
            // A trap on one of our breakpoints: rewind so the original
            // instruction runs once the breakpoints are gone.
            let mut regs = self.regs(tid)?;
            let at = regs.rip.wrapping_sub(1);
            if self.breakpoints.contains_key(&at) {
                regs.rip = at;
                self.set_regs(tid, &regs)?;
            } else if self.watch == Some(regs.rip) || self.safe_watch == Some(regs.rip) {
                // A watch (debug register): not the program's signal;
                // resumed, the thread runs the watched instruction.
            } else {
                *deliver = Some(sig);
            }
        } else if event == 0 && sig != (libc::SIGTRAP | 0x80) {
            *deliver = Some(sig);
        }
        Ok(Absorbed::RunOn)
    }
}
