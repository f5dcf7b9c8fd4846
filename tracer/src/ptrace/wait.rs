//! Waiting for the next stop of a [`Tracee`] and telling what it is: the
//! hot path (no allocation per stop, one GETREGS per trap). Group-stops,
//! ptrace events of no interest, the initial stop of new threads and traps
//! on breakpoints cleared meanwhile are handled here and never returned.

use std::time::{Duration, Instant};

use super::error::TraceError;
use super::tracee::{Stop, Thread, Tracee};
use crate::addr::{RemoteAddr, Tid};
use crate::sys;

/// int3 is reported with this si_code.
const SI_KERNEL: i32 = 0x80;

/// What [`Tracee::poll`] found.
#[allow(clippy::large_enum_variant)] // returned once per stop, never stored
pub enum Polled {
    /// A stop of the target.
    Stop(Stop),
    /// The waker ended.
    Woken,
    /// Nothing yet.
    Nothing,
}

impl Tracee {
    /// Wait for the next stop of any traced thread. Handles internally:
    /// group-stops, ptrace events that are not interesting, the initial
    /// SIGSTOP of new threads, traps on breakpoints cleared meanwhile.
    pub fn wait(&mut self) -> Result<Stop, TraceError> {
        loop {
            let (tid, status) = self.next_status(0)?;
            if let Some(stop) = self.classify(Tid(tid), status)? {
                return Ok(stop);
            }
        }
    }

    /// Like [`Tracee::wait`], but returns `Ok(None)` when `waker`, a child
    /// process of this thread that is not traced, ends: another thread kills
    /// the waker to interrupt a wait on a target that may block for a long
    /// time, at no cost on the per-trap path.
    pub fn wait_or_woken(&mut self, waker: i32) -> Result<Option<Stop>, TraceError> {
        loop {
            let (tid, status) = self.next_status(0)?;
            if tid == waker && (libc::WIFEXITED(status) || libc::WIFSIGNALED(status)) {
                return Ok(None);
            }
            if let Some(stop) = self.classify(Tid(tid), status)? {
                return Ok(Some(stop));
            }
        }
    }

    /// One look for a stop, without waiting: a stop, the end of `waker` (as
    /// in [`Tracee::wait_or_woken`]), or nothing yet.
    pub fn poll(&mut self, waker: Option<i32>) -> Result<Polled, TraceError> {
        loop {
            let (tid, status) = self.next_status(libc::WNOHANG)?;
            if tid == 0 {
                return Ok(Polled::Nothing);
            }
            if Some(tid) == waker && (libc::WIFEXITED(status) || libc::WIFSIGNALED(status)) {
                return Ok(Polled::Woken);
            }
            if let Some(stop) = self.classify(Tid(tid), status)? {
                return Ok(Polled::Stop(stop));
            }
        }
    }

    /// Like [`Tracee::wait`] but returns `Ok(None)` when no stop came within
    /// `timeout`. It polls (WNOHANG, sleeping 20 µs growing to 1 ms between
    /// polls), so it adds latency: use it for a target that may block for a
    /// long time (--max-time), not on the per-trap hot path.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<Stop>, TraceError> {
        let deadline = Instant::now() + timeout;
        let mut nap = Duration::from_micros(20);
        loop {
            if let Polled::Stop(stop) = self.poll(None)? {
                return Ok(Some(stop));
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            std::thread::sleep(nap.min(deadline - now));
            nap = (nap * 2).min(Duration::from_millis(1));
        }
    }

    /// Turn one wait status into a stop for the caller, or handle it here
    /// (`None`: keep waiting).
    pub(crate) fn classify(&mut self, tid: Tid, status: i32) -> Result<Option<Stop>, TraceError> {
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            let known = self.forget_thread(tid);
            if tid.0 == self.pid {
                self.finished = true;
                self.threads.clear();
                return Ok(Some(if libc::WIFEXITED(status) {
                    Stop::Exited {
                        code: libc::WEXITSTATUS(status),
                    }
                } else {
                    Stop::Killed {
                        sig: libc::WTERMSIG(status),
                    }
                }));
            }
            // An unknown child is not ours to report (the command that
            // started the target may be: its end is kept).
            self.note_outside_exit(tid.0, status);
            return Ok(known.then_some(Stop::ThreadExit { tid }));
        }
        if !libc::WIFSTOPPED(status) {
            return Ok(None);
        }
        let sig = libc::WSTOPSIG(status);
        let event = status >> 16;
        if !self.is_known(tid) {
            // A new thread's first stop can overtake its parent's clone
            // event: keep it stopped until the event names it.
            if !self.early.contains(&tid) {
                self.early.push(tid);
            }
            return Ok(None);
        }
        self.set_running(tid, false);
        if event != 0 {
            return self.on_event(tid, event);
        }
        if sig == (libc::SIGTRAP | 0x80) {
            // A syscall stop we never asked for: just go on.
            self.resume(tid, None)?;
            return Ok(None);
        }
        if sig == libc::SIGTRAP {
            let mut regs = self.regs(tid)?;
            let at = regs.rip.wrapping_sub(1);
            if self.breakpoints.contains_key(&at) || self.adopted.contains(&at) {
                return Ok(Some(Stop::Breakpoint {
                    tid,
                    addr: RemoteAddr(at),
                    regs,
                }));
            }
            if self.watch == Some(regs.rip) || self.safe_watch == Some(regs.rip) {
                return Ok(Some(Stop::Watch {
                    tid,
                    addr: RemoteAddr(regs.rip),
                    regs,
                }));
            }
            if self.cleared.contains(&at)
                && matches!(sys::ptrace_siginfo(tid.0), Ok((_, SI_KERNEL)))
            {
                // This thread hit a breakpoint another thread removed before
                // we saw this trap: run the restored instruction.
                regs.rip = at;
                self.set_regs(tid, &regs)?;
                self.resume(tid, None)?;
                return Ok(None);
            }
            return Ok(Some(self.signal_stop(tid, sig)));
        }
        if self.signal_traps.iter().any(|t| t.1 == sig) {
            let regs = self.regs(tid)?;
            let trap = self
                .signal_traps
                .iter()
                .find(|t| t.0 == regs.rip && t.1 == sig);
            if let Some(&(_, _, report_as)) = trap {
                return Ok(Some(Stop::Breakpoint {
                    tid,
                    addr: RemoteAddr(report_as),
                    regs,
                }));
            }
        }
        if matches!(
            sig,
            libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU
        ) {
            // Without PTRACE_SEIZE a group-stop looks like a signal stop;
            // GETSIGINFO fails (EINVAL) only in the group-stop. Resuming it
            // keeps the target running (job control is not supported).
            if let Err(e) = sys::ptrace_siginfo(tid.0) {
                if e.raw_os_error() == Some(libc::EINVAL) {
                    self.resume(tid, None)?;
                    return Ok(None);
                }
            }
        }
        Ok(Some(self.signal_stop(tid, sig)))
    }

    /// A signal-delivery stop of `tid`, its time remembered.
    fn signal_stop(&mut self, tid: Tid, sig: i32) -> Stop {
        self.note_delivered(sig, Instant::now());
        Stop::Signal { tid, sig }
    }

    /// Signal `sig` was delivered to the target (or to the command it is
    /// part of) at `at`.
    pub(crate) fn note_delivered(&mut self, sig: i32, at: Instant) {
        match self.delivered.iter_mut().find(|d| d.0 == sig) {
            Some(d) => d.1 = d.1.max(at),
            None => self.delivered.push((sig, at)),
        }
    }

    /// When signal `sig` was last delivered to the target (its latest
    /// signal-delivery stop), if ever.
    pub(crate) fn last_delivered(&self, sig: i32) -> Option<Instant> {
        self.delivered.iter().find(|d| d.0 == sig).map(|d| d.1)
    }

    /// A PTRACE_EVENT stop of known thread `tid`.
    fn on_event(&mut self, tid: Tid, event: i32) -> Result<Option<Stop>, TraceError> {
        match event {
            libc::PTRACE_EVENT_CLONE => {
                let new = self.take_new(tid)?;
                if !self.is_known(new) {
                    self.threads.push(Thread {
                        tid: new,
                        running: false,
                    });
                }
                // Debug registers are not inherited.
                self.arm_watches(new);
                Ok(Some(Stop::NewThread {
                    parent: tid,
                    tid: new,
                }))
            }
            libc::PTRACE_EVENT_FORK | libc::PTRACE_EVENT_VFORK => {
                let child = self.take_new(tid)?;
                Ok(Some(Stop::Forked { parent: tid, child }))
            }
            libc::PTRACE_EVENT_EXEC => {
                // The old image is gone, and with it every other thread and
                // every breakpoint; the thread now has the process id.
                self.threads.clear();
                self.threads.push(Thread {
                    tid: Tid(self.pid),
                    running: false,
                });
                self.early.clear();
                self.forget_breakpoints();
                Ok(Some(Stop::Exec { tid: Tid(self.pid) }))
            }
            _ => {
                // PTRACE_EVENT_STOP and events we did not ask for.
                self.resume(tid, None)?;
                Ok(None)
            }
        }
    }

    /// Let a forked child (stopped, see [`Stop::Forked`]) run on untraced.
    pub fn release_fork(&mut self, child: Tid) -> Result<(), TraceError> {
        match sys::ptrace_detach(child.0, 0) {
            Err(e) if e.raw_os_error() != Some(libc::ESRCH) => {
                Err(TraceError::ptrace("DETACH", child, e))
            }
            _ => Ok(()),
        }
    }

    /// The thread or process that the clone or fork event `tid` stopped
    /// for created, once it is stopped too: its first stop (a SIGSTOP) may
    /// have come already (kept in `early`), else it is imminent and taken
    /// now, so the caller can resume it.
    pub(crate) fn take_new(&mut self, tid: Tid) -> Result<Tid, TraceError> {
        let msg = sys::ptrace_geteventmsg(tid.0)
            .map_err(|e| TraceError::ptrace("GETEVENTMSG", tid, e))?;
        let new = Tid(msg as i32);
        if let Some(i) = self.early.iter().position(|&t| t == new) {
            self.early.swap_remove(i);
        } else {
            self.await_initial_stop(new)?;
        }
        Ok(new)
    }

    /// Wait for the first stop of new thread `tid` (its SIGSTOP).
    fn await_initial_stop(&mut self, tid: Tid) -> Result<(), TraceError> {
        // Bounded: anything but a stop or an exit here is not expected.
        for _ in 0..16 {
            let (got, status) = sys::wait_any(tid.0, 0).map_err(TraceError::Wait)?;
            if got != tid.0 {
                continue;
            }
            if libc::WIFSTOPPED(status) {
                return Ok(());
            }
            if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
                return Err(TraceError::Gone { op: "clone", tid });
            }
        }
        Err(TraceError::Gone { op: "clone", tid })
    }
}
