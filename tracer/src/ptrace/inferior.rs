//! Inferior calls: make a stopped thread of the target call one of the
//! target's own functions (System V x86-64 ABI, integer arguments only) and
//! come back with its return value, the thread's registers restored as they
//! were. The return address pushed for the call holds an int3 of ours (an
//! address the program never runs again, e.g. the executable's entry
//! point), so the call ends in a trap, never in a single-step.
//!
//! Nothing here knows CPython: callers choose the function and check what
//! the value means.

use crate::addr::{RemoteAddr, Tid};
use crate::memory::Memory;
use crate::ptrace::{Regs, Stop, TraceError, Tracee};

/// Integer argument registers of the System V x86-64 calling convention.
pub const MAX_ARGS: usize = 6;

/// Bytes skipped below the thread's stack pointer before the call's frame:
/// the 128-byte red zone a leaf function may use without moving rsp, and
/// some slack.
const STACK_GAP: u64 = 256;

/// Stops of the calling thread tolerated during one call (signals passed on
/// to the program) before giving up.
const MAX_STOPS: usize = 10_000;

/// Signals a fault of the calling thread raises, which end a guarded call
/// ([`Tracee::call_function_among`]) instead of reaching the program.
const FAULTS: [i32; 4] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE];

/// What answers the other threads' stops during a call, if they run.
type Others<'a> = Option<&'a mut dyn FnMut(&mut Tracee, Stop) -> Result<(), TraceError>>;

/// Whether `stop` is of another thread than `tid` (or of none: a new
/// thread, a fork, whose parent may be `tid` itself).
fn other_thread(stop: &Stop, tid: Tid) -> bool {
    match *stop {
        Stop::Breakpoint { tid: t, .. }
        | Stop::Watch { tid: t, .. }
        | Stop::Signal { tid: t, .. }
        | Stop::ThreadExit { tid: t } => t != tid,
        Stop::NewThread { .. } | Stop::Forked { .. } => true,
        Stop::Exec { .. } | Stop::Exited { .. } | Stop::Killed { .. } => false,
    }
}

/// `syscall`, the instruction an inferior system call runs.
const SYSCALL: [u8; 2] = [0x0f, 0x05];

/// An inferior call failed.
#[derive(Debug, thiserror::Error)]
pub enum InferiorError {
    #[error(transparent)]
    Trace(#[from] TraceError),
    #[error(transparent)]
    Mem(#[from] crate::memory::MemError),
    #[error("an inferior call takes at most {MAX_ARGS} integer arguments, not {0}")]
    TooManyArgs(usize),
    #[error("the program ended ({0}) during a call of its function at {1}")]
    Ended(String, RemoteAddr),
    #[error(
        "the call of the function at {func} in thread {tid} faulted (signal {sig}); it was \
         abandoned and the thread put back where it was, the signal not delivered"
    )]
    Fault {
        func: RemoteAddr,
        tid: Tid,
        sig: i32,
    },
    #[error("the call of the function at {func} in thread {tid} did not come back: {why}")]
    Lost {
        func: RemoteAddr,
        tid: Tid,
        why: String,
    },
}

impl Tracee {
    /// Call the function at `func` with integer `args` in the stopped thread
    /// `tid`, returning `rax`. `ret_trap` is an address never executed again
    /// by the program (the executable's entry point): an int3 is placed there
    /// for the return and removed afterwards unless one was already there.
    /// The thread is left stopped with exactly the registers it had.
    ///
    /// Only `tid` runs during the call when the other threads are stopped;
    /// a stop of another thread during the call is an error (the caller
    /// picks a moment where no other thread runs Python, e.g. start-up).
    pub fn call_function(
        &mut self,
        tid: Tid,
        func: RemoteAddr,
        args: &[u64],
        ret_trap: RemoteAddr,
    ) -> Result<u64, InferiorError> {
        if args.len() > MAX_ARGS {
            return Err(InferiorError::TooManyArgs(args.len()));
        }
        self.with_return_trap(tid, ret_trap, |t, saved| {
            t.run_call(tid, func, args, ret_trap, saved, None)
        })
    }

    /// [`Tracee::call_function`] while the other threads of the target run
    /// on: each stop of another thread goes to `others`, which answers it
    /// (resumes it); a fault of the calling thread itself (SIGSEGV, SIGBUS,
    /// SIGILL, SIGFPE) abandons the call: the signal is not delivered and
    /// the thread gets its registers back ([`InferiorError::Fault`]).
    pub fn call_function_among(
        &mut self,
        tid: Tid,
        func: RemoteAddr,
        args: &[u64],
        ret_trap: RemoteAddr,
        others: &mut dyn FnMut(&mut Tracee, Stop) -> Result<(), TraceError>,
    ) -> Result<u64, InferiorError> {
        if args.len() > MAX_ARGS {
            return Err(InferiorError::TooManyArgs(args.len()));
        }
        self.with_return_trap(tid, ret_trap, |t, saved| {
            t.run_call(tid, func, args, ret_trap, saved, Some(others))
        })
    }

    /// Run `call` (given the thread's registers) with an int3 at `trap`,
    /// then put the thread back the way it was, whatever happened (unless
    /// the program is gone): the int3 removed unless it was there before,
    /// the registers restored.
    fn with_return_trap(
        &mut self,
        tid: Tid,
        trap: RemoteAddr,
        call: impl FnOnce(&mut Tracee, &Regs) -> Result<u64, InferiorError>,
    ) -> Result<u64, InferiorError> {
        let saved = self.regs(tid)?;
        let ours = !self.has_breakpoint(trap);
        if ours {
            self.set_breakpoint(trap)?;
        }
        let result = call(self, &saved);
        if !matches!(result, Err(InferiorError::Ended(..))) {
            if ours {
                self.clear_breakpoint(trap)?;
            }
            self.set_regs(tid, &saved)?;
        }
        result
    }

    /// Make the stopped thread `tid` run system call `nr` with `args` and
    /// come back with its result (`-errno` on failure, as the kernel gives
    /// it). `at` is an address never executed again by the program (the
    /// executable's entry point): a `syscall` instruction and an int3 are
    /// written there for the call and the original bytes put back. The
    /// thread is left stopped with exactly the registers it had.
    pub fn call_syscall(
        &mut self,
        tid: Tid,
        nr: i64,
        args: &[u64],
        at: RemoteAddr,
    ) -> Result<i64, InferiorError> {
        if args.len() > MAX_ARGS {
            return Err(InferiorError::TooManyArgs(args.len()));
        }
        let mut orig = [0u8; SYSCALL.len()];
        self.mem.read(at, &mut orig)?;
        self.mem.write_via(tid, at, &SYSCALL)?;
        let back = RemoteAddr(at.0 + SYSCALL.len() as u64);
        let result = self.with_return_trap(tid, back, |t, saved| {
            let mut regs = *saved;
            let slots = [
                &mut regs.rdi,
                &mut regs.rsi,
                &mut regs.rdx,
                &mut regs.r10,
                &mut regs.r8,
                &mut regs.r9,
            ];
            for (slot, &a) in slots.into_iter().zip(args) {
                *slot = a;
            }
            regs.rax = nr as u64;
            regs.rip = at.0;
            regs.orig_rax = u64::MAX;
            t.set_regs(tid, &regs)?;
            t.run_until(tid, back, None, at, None)
        });
        if !matches!(result, Err(InferiorError::Ended(..))) {
            self.mem.write_via(tid, at, &orig)?;
        }
        result.map(|rax| rax as i64)
    }

    fn run_call(
        &mut self,
        tid: Tid,
        func: RemoteAddr,
        args: &[u64],
        ret_trap: RemoteAddr,
        saved: &Regs,
        others: Others<'_>,
    ) -> Result<u64, InferiorError> {
        let mut regs = *saved;
        let slots = [
            &mut regs.rdi,
            &mut regs.rsi,
            &mut regs.rdx,
            &mut regs.rcx,
            &mut regs.r8,
            &mut regs.r9,
        ];
        for (slot, &a) in slots.into_iter().zip(args) {
            *slot = a;
        }
        // At a function's first instruction rsp + 8 is 16-byte aligned: align,
        // then push the return address.
        let sp = (saved.rsp.wrapping_sub(STACK_GAP) & !15).wrapping_sub(8);
        self.mem.write(RemoteAddr(sp), &ret_trap.0.to_ne_bytes())?;
        regs.rsp = sp;
        regs.rip = func.0;
        // Varargs callers pass the number of vector registers used in al.
        regs.rax = 0;
        // Not in a system call: the kernel must not restart one on resume.
        regs.orig_rax = u64::MAX;
        self.set_regs(tid, &regs)?;
        self.run_until(tid, ret_trap, Some(sp.wrapping_add(8)), func, others)
    }

    /// Resume `tid` until it stops at the breakpoint `trap` (with the stack
    /// at `rsp`, when given), passing the program's own signals on; its
    /// `rax` then. `what` names the call in errors. With `others`, the
    /// other threads run meanwhile: their stops go to it, and a fault of
    /// `tid` ends the call instead of reaching the program.
    fn run_until(
        &mut self,
        tid: Tid,
        trap: RemoteAddr,
        rsp: Option<u64>,
        what: RemoteAddr,
        mut others: Others<'_>,
    ) -> Result<u64, InferiorError> {
        self.resume(tid, None)?;
        let lost = |why: String| InferiorError::Lost {
            func: what,
            tid,
            why,
        };
        for _ in 0..MAX_STOPS {
            match self.wait()? {
                Stop::Breakpoint { tid: t, addr, regs } if t == tid && addr == trap => {
                    if let Some(sp) = rsp.filter(|&sp| sp != regs.rsp) {
                        return Err(lost(format!(
                            "it returned with the stack at {:#x}, not {sp:#x}",
                            regs.rsp
                        )));
                    }
                    log::debug!(target: "tracer::inferior", "call at {what} in {tid} returned {:#x}", regs.rax);
                    return Ok(regs.rax);
                }
                Stop::Signal { tid: t, sig }
                    if t == tid && others.is_some() && FAULTS.contains(&sig) =>
                {
                    return Err(InferiorError::Fault {
                        func: what,
                        tid,
                        sig,
                    });
                }
                Stop::Signal { tid: t, sig } if t == tid => {
                    // The program's own signal: its handler runs on the
                    // call's stack and returns into it.
                    self.resume(tid, Some(sig))?;
                }
                Stop::Exited { code } => {
                    return Err(InferiorError::Ended(format!("exit status {code}"), what))
                }
                Stop::Killed { sig } => {
                    return Err(InferiorError::Ended(format!("signal {sig}"), what))
                }
                Stop::Exec { .. } => return Err(InferiorError::Ended("it exec'd".into(), what)),
                other => match others.as_mut() {
                    Some(answer) if other_thread(&other, tid) => answer(self, other)?,
                    _ => return Err(lost(format!("unexpected stop {other:?}"))),
                },
            }
        }
        Err(lost(format!("more than {MAX_STOPS} signals")))
    }
}
