//! [`Tracee`]: a process under ptrace, its threads and the stops they report.
//! Making, launching, detaching and killing live in `launch.rs`,
//! breakpoints in `breakpoints.rs`, errors in `error.rs`, waiting for stops
//! in `wait.rs`; this file holds the types, registers and resuming.

use std::cell::Cell;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::rc::Rc;
use std::time::Instant;

use crate::addr::{RemoteAddr, Tid};
use crate::memory::procmem::ProcMem;
use crate::memory::Memory;
use crate::ptrace::{Ended, TraceError};
use crate::sys;

/// The general-purpose registers of a stopped thread.
pub type Regs = libc::user_regs_struct;

/// What a traced thread stopped for.
// Breakpoint carries the registers by value on purpose: boxing them would
// allocate on every trap, the hot path.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy)]
pub enum Stop {
    /// A thread hit one of our int3 breakpoints. `addr` is the breakpoint
    /// address (rip - 1). regs as read.
    Breakpoint {
        /// The thread that stopped.
        tid: Tid,
        /// The breakpoint's address.
        addr: RemoteAddr,
        /// Its registers at the stop.
        regs: Regs,
    },
    /// A thread is about to run the instruction at the watched address
    /// ([`Tracee::set_watch`]: a debug register, nothing written in the
    /// program). Resumed, it runs it.
    Watch {
        /// The thread that stopped.
        tid: Tid,
        /// The watched address (its rip).
        addr: RemoteAddr,
        /// Its registers at the stop.
        regs: Regs,
    },
    /// A thread stopped for a signal meant for the target: resume it with
    /// `sig` to deliver it unchanged.
    Signal {
        /// The thread the signal stopped.
        tid: Tid,
        /// The signal.
        sig: i32,
    },
    /// A new thread appeared (PTRACE_EVENT_CLONE). Both `parent` and `tid`
    /// are stopped; the caller resumes each of them.
    NewThread {
        /// The thread that cloned.
        parent: Tid,
        /// The new thread.
        tid: Tid,
    },
    /// A thread forked (PTRACE_EVENT_FORK, or PTRACE_EVENT_VFORK when
    /// vforks are followed): the child process, a copy of the target with
    /// its hooks, is attached and stopped. The caller
    /// undoes what it changed in the child's memory, lets it go with
    /// [`Tracee::release_fork`], and resumes `parent`.
    Forked {
        /// The thread that forked.
        parent: Tid,
        /// The child process (its only thread).
        child: Tid,
    },
    /// A thread (not the main one) exited.
    ThreadExit {
        /// The thread.
        tid: Tid,
    },
    /// The process exec'd a new program (PTRACE_EVENT_EXEC): every other
    /// thread is gone, the breakpoints went with the old image (already
    /// forgotten), and the main thread `tid` is stopped after the exec.
    Exec {
        /// The main thread.
        tid: Tid,
    },
    /// The whole process ended.
    Exited {
        /// Its exit status.
        code: i32,
    },
    /// The whole process was killed by signal `sig`.
    Killed {
        /// The signal.
        sig: i32,
    },
}

/// One traced thread.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Thread {
    pub(crate) tid: Tid,
    /// Resumed by us and not seen stopping since.
    pub(crate) running: bool,
}

/// Options set on every tracee: follow threads, see execs, die with us, and
/// mark syscall stops (we do not ask for them, but never confuse them).
pub(crate) const OPTIONS: i32 = libc::PTRACE_O_TRACECLONE
    | libc::PTRACE_O_TRACEFORK
    | libc::PTRACE_O_TRACEEXEC
    | libc::PTRACE_O_EXITKILL
    | libc::PTRACE_O_TRACESYSGOOD;

/// How many recently cleared breakpoint addresses are remembered, to absorb
/// traps other threads took on them before the clear.
const CLEARED_MEMORY: usize = 64;

/// A process under ptrace. Every call must come from the thread that
/// launched it (ptrace is per tracer thread), hence not `Send`.
pub struct Tracee {
    pub(crate) pid: i32,
    pub(crate) mem: ProcMem,
    pub(crate) threads: Vec<Thread>,
    /// New threads whose initial SIGSTOP arrived before their parent's
    /// clone event.
    pub(crate) early: Vec<Tid>,
    /// Breakpoint address -> the original byte under the int3.
    pub(crate) breakpoints: HashMap<u64, u8>,
    /// Breakpoints cleared lately (ring of at most CLEARED_MEMORY).
    pub(crate) cleared: Vec<u64>,
    /// Breakpoints whose int3 their owner writes and removes (code ptrace
    /// cannot write: the probe's shared mapping).
    pub(crate) adopted: Vec<u64>,
    /// Signal traps: a thread stopped with this signal at this address
    /// (it raised it at itself there) is reported as a breakpoint stop at
    /// the third address.
    pub(crate) signal_traps: Vec<(u64, i32, u64)>,
    /// The address every thread's debug register 0 watches, if any.
    pub(crate) watch: Option<u64>,
    /// The address every thread's debug register 1 watches, if any.
    pub(crate) safe_watch: Option<u64>,
    /// Signals threads reported while [`Tracee::stop_all`] stopped them:
    /// delivered when each is next resumed (or detached).
    pub(crate) pending: Vec<(Tid, i32)>,
    /// Wait statuses [`Tracee::pause_all`] took that were not its own
    /// stop: the next waits return them first, in order.
    pub(crate) deferred: Vec<(Tid, i32)>,
    /// The process is gone, detached or killed: nothing left to clean up.
    pub(crate) finished: bool,
    /// Taken with PTRACE_SEIZE (attach), not launched: stopped with
    /// PTRACE_INTERRUPT, never killed on drop.
    pub(crate) seized: bool,
    /// When each signal was last delivered to the target (its latest
    /// signal-delivery stop): tells a signal the target got by itself from
    /// one hindsight is asked to pass on.
    pub(crate) delivered: Vec<(i32, Instant)>,
    /// An untraced child of this thread (the command that started the
    /// target) whose end is kept here when a wait of this tracee reaps it.
    pub(crate) outside: Option<(i32, Rc<Cell<Option<Ended>>>)>,
    pub(crate) _not_send: PhantomData<*mut ()>,
}

impl Tracee {
    /// The process id.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The target's memory.
    pub fn mem(&self) -> &ProcMem {
        &self.mem
    }

    /// All known thread ids (the main thread first).
    pub fn threads(&self) -> Vec<Tid> {
        self.threads.iter().map(|t| t.tid).collect()
    }

    /// AT_ENTRY from /proc/PID/auxv: the executable's entry point (when it
    /// is reached, ld.so has mapped all libraries).
    pub fn entry_point(&self) -> Result<RemoteAddr, TraceError> {
        let auxv_err = |reason: String| TraceError::Auxv {
            pid: self.pid,
            reason,
        };
        let data = std::fs::read(format!("/proc/{}/auxv", self.pid))
            .map_err(|e| auxv_err(e.to_string()))?;
        for pair in data.chunks_exact(16) {
            let key = u64::from_ne_bytes(pair[..8].try_into().unwrap_or_default());
            let val = u64::from_ne_bytes(pair[8..].try_into().unwrap_or_default());
            if key == libc::AT_ENTRY {
                return Ok(RemoteAddr(val));
            }
            if key == libc::AT_NULL {
                break;
            }
        }
        Err(auxv_err("it has no AT_ENTRY entry".into()))
    }

    /// The registers of stopped thread `tid` (one PTRACE_GETREGS).
    pub fn regs(&self, tid: Tid) -> Result<Regs, TraceError> {
        sys::ptrace_getregs(tid.0).map_err(|e| TraceError::ptrace("GETREGS", tid, e))
    }

    /// Set the registers of stopped thread `tid` (one PTRACE_SETREGS).
    pub fn set_regs(&self, tid: Tid, regs: &Regs) -> Result<(), TraceError> {
        sys::ptrace_setregs(tid.0, regs).map_err(|e| TraceError::ptrace("SETREGS", tid, e))
    }

    /// PTRACE_CONT the thread, delivering `sig` if Some.
    pub fn resume(&mut self, tid: Tid, sig: Option<i32>) -> Result<(), TraceError> {
        let sig = match sig {
            None if !self.pending.is_empty() => self.take_pending(tid),
            sig => sig,
        };
        sys::ptrace_cont(tid.0, sig.unwrap_or(0))
            .map_err(|e| TraceError::ptrace("CONT", tid, e))?;
        self.set_running(tid, true);
        Ok(())
    }

    /// Emulate `return value` from a function whose first instruction is the
    /// breakpoint the thread just hit: rax = value, rip = *(u64*)rsp,
    /// rsp += 8 (one read, one SETREGS; no single-step). The thread stays
    /// stopped; resume it next.
    pub fn emulate_return(
        &mut self,
        tid: Tid,
        regs: &mut Regs,
        value: u64,
    ) -> Result<(), TraceError> {
        let ret = self.mem.read_u64(RemoteAddr(regs.rsp))?;
        self.return_to(tid, regs, value, RemoteAddr(ret))
    }

    /// [`Tracee::emulate_return`] with the return address `ret` (the word
    /// at `rsp`) already read.
    pub fn return_to(
        &mut self,
        tid: Tid,
        regs: &mut Regs,
        value: u64,
        ret: RemoteAddr,
    ) -> Result<(), TraceError> {
        regs.rax = value;
        regs.rip = ret.0;
        regs.rsp = regs.rsp.wrapping_add(8);
        self.set_regs(tid, regs)
    }

    /// The signal [`Tracee::stop_all`] kept for `tid`, if any.
    pub(crate) fn take_pending(&mut self, tid: Tid) -> Option<i32> {
        let i = self.pending.iter().position(|p| p.0 == tid)?;
        Some(self.pending.remove(i).1)
    }

    pub(crate) fn is_known(&self, tid: Tid) -> bool {
        self.threads.iter().any(|t| t.tid == tid)
    }

    pub(crate) fn set_running(&mut self, tid: Tid, running: bool) {
        if let Some(t) = self.threads.iter_mut().find(|t| t.tid == tid) {
            t.running = running;
        }
    }

    /// Drop `tid` from the thread list; whether it was there.
    pub(super) fn forget_thread(&mut self, tid: Tid) -> bool {
        match self.threads.iter().position(|t| t.tid == tid) {
            Some(i) => {
                self.threads.remove(i);
                true
            }
            None => false,
        }
    }

    /// A stopped thread to make ptrace memory writes through.
    pub(crate) fn stopped_thread(&self) -> Option<Tid> {
        self.threads.iter().find(|t| !t.running).map(|t| t.tid)
    }

    /// Remember a cleared breakpoint address (bounded ring).
    pub(crate) fn remember_cleared(&mut self, addr: u64) {
        if self.cleared.contains(&addr) {
            return;
        }
        if self.cleared.len() >= CLEARED_MEMORY {
            self.cleared.remove(0);
        }
        self.cleared.push(addr);
    }
}
