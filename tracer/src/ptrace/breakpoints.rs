//! int3 breakpoints of a [`Tracee`]: insert, remove, the one-shot
//! "step back over" that lets the original instruction run, the
//! returning trap (an int3 that a thread runs past without any help), and
//! the watches: hardware breakpoints of every thread (debug register 0
//! for the program's set-trace function, 1 for the safe point).

use crate::addr::{RemoteAddr, Tid};
use crate::memory::Memory;
use crate::ptrace::{Regs, TraceError, Tracee};

/// The x86 `int3` opcode.
const INT3: u8 = 0xcc;
/// `xor eax, eax; ret`: the whole body of a function that returns 0.
const RETURN_0: [u8; 3] = [0x31, 0xc0, 0xc3];
/// `nop`: what a returning trap becomes when it is removed.
const NOP: u8 = 0x90;
/// Bytes compilers pad between functions with (parts of the multi-byte
/// NOPs `66 2e 0f 1f 84 00 ..`, `0f 1f 40 00`, `90`, and `int3`/zero fill).
const PADDING: [u8; 8] = [0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x40, 0x90];
/// DR7 with debug register 0 enabled for the thread (L0), breaking on
/// execution of one byte (RW0 = LEN0 = 0).
const DR7_L0_EXEC: u64 = 1;
/// The same for debug register 1 (L1).
const DR7_L1_EXEC: u64 = 1 << 2;
/// Function alignment the padding runs up to.
const FUNC_ALIGN: u64 = 16;

impl Tracee {
    /// Insert an int3 at `addr`, saving the original byte; idempotent.
    /// Some thread of the target must be stopped (code pages are written
    /// with ptrace pokes).
    pub fn set_breakpoint(&mut self, addr: RemoteAddr) -> Result<(), TraceError> {
        if self.breakpoints.contains_key(&addr.0) {
            return Ok(());
        }
        let via = self.stopped_thread().ok_or(TraceError::NotStopped {
            what: "insert a breakpoint",
        })?;
        let mut orig = [0u8; 1];
        self.mem.read(addr, &mut orig)?;
        self.mem.write_via(via, addr, &[INT3])?;
        self.breakpoints.insert(addr.0, orig[0]);
        self.cleared.retain(|&a| a != addr.0);
        log::debug!(target: "tracer::ptrace", "breakpoint at {addr} (was {:#04x})", orig[0]);
        Ok(())
    }

    /// Remove the breakpoint at `addr`, restoring the original byte; a no-op
    /// if there is none.
    pub fn clear_breakpoint(&mut self, addr: RemoteAddr) -> Result<(), TraceError> {
        let Some(&orig) = self.breakpoints.get(&addr.0) else {
            return Ok(());
        };
        let via = self.stopped_thread().ok_or(TraceError::NotStopped {
            what: "remove a breakpoint",
        })?;
        self.mem.write_via(via, addr, &[orig])?;
        self.breakpoints.remove(&addr.0);
        self.remember_cleared(addr.0);
        Ok(())
    }

    /// Remove every breakpoint.
    pub fn clear_all_breakpoints(&mut self) -> Result<(), TraceError> {
        let addrs: Vec<u64> = self.breakpoints.keys().copied().collect();
        for a in addrs {
            self.clear_breakpoint(RemoteAddr(a))?;
        }
        Ok(())
    }

    /// Forget every breakpoint without touching memory: after an exec the
    /// image they were written into is gone.
    pub fn forget_breakpoints(&mut self) {
        self.breakpoints.clear();
        self.cleared.clear();
        self.adopted.clear();
        self.signal_traps.clear();
    }

    /// Report stops at the int3 at `addr` as breakpoint stops; its owner
    /// wrote it and removes it (ptrace cannot write there: the probe's code,
    /// mapped shared and read-only in the target).
    pub fn adopt_breakpoint(&mut self, addr: RemoteAddr) {
        if !self.adopted.contains(&addr.0) {
            self.adopted.push(addr.0);
        }
    }

    /// Report a stop of a thread with signal `sig` at `at` (where it
    /// raised the signal at itself) as a breakpoint stop at `report_as`;
    /// the signal is then never delivered (the stop's answer resumes the
    /// thread without it).
    pub fn adopt_signal_trap(&mut self, at: RemoteAddr, sig: i32, report_as: RemoteAddr) {
        let trap = (at.0, sig, report_as.0);
        if !self.signal_traps.contains(&trap) {
            self.signal_traps.push(trap);
        }
    }

    /// Stop every thread, those there now and those it creates, when it is
    /// about to run the instruction at `addr` ([`Stop::Watch`](crate::ptrace::Stop)),
    /// with debug register 0 of each: nothing is written in the program,
    /// and nothing is left if hindsight dies (the kernel drops a tracer's
    /// debug registers with it). A thread resumed from the stop runs the
    /// instruction (the kernel sets the resume flag). Threads that are
    /// running now are not armed; a failure is logged and returned.
    pub fn set_watch(&mut self, addr: RemoteAddr) -> Result<(), TraceError> {
        self.watch = Some(addr.0);
        let stopped: Vec<Tid> = self
            .threads
            .iter()
            .filter(|t| !t.running)
            .map(|t| t.tid)
            .collect();
        for tid in stopped {
            if !self.arm_watch(tid, addr.0) {
                self.watch = None;
                return Err(TraceError::NotStopped {
                    what: "arm a debug register",
                });
            }
        }
        Ok(())
    }

    /// Disarm the watch of every stopped thread (before a detach, or a
    /// call of the watched function of our own); it stays known, and
    /// reported, while some thread still runs with it.
    pub fn clear_watch(&mut self) {
        if self.watch.is_none() {
            return;
        }
        let dr7 = self.safe_watch.map_or(0, |_| DR7_L1_EXEC);
        for t in self.threads.iter().filter(|t| !t.running) {
            let _ = crate::sys::ptrace_set_debugreg(t.tid.0, 7, dr7);
            let _ = crate::sys::ptrace_set_debugreg(t.tid.0, 0, 0);
        }
        if self.threads.iter().all(|t| !t.running) {
            self.watch = None;
        }
    }

    /// Stop every thread, those there now and those it creates, when it is
    /// about to run the instruction at `addr`, with debug register 1 of
    /// each (reported as [`Stop::Watch`](crate::ptrace::Stop) at `addr`):
    /// the safe point where an interpreter thread holds its lock. Every
    /// thread must be stopped.
    pub fn set_safe_watch(&mut self, addr: RemoteAddr) -> Result<(), TraceError> {
        self.safe_watch = Some(addr.0);
        let tids: Vec<Tid> = self.threads.iter().map(|t| t.tid).collect();
        for tid in tids {
            if !self.arm_watches(tid) {
                self.clear_safe_watch();
                return Err(TraceError::NotStopped {
                    what: "arm a debug register",
                });
            }
        }
        Ok(())
    }

    /// Disarm [`Tracee::set_safe_watch`] in every thread (all stopped).
    pub fn clear_safe_watch(&mut self) {
        if self.safe_watch.take().is_none() {
            return;
        }
        let dr7 = self.watch.map_or(0, |_| DR7_L0_EXEC);
        for t in self.threads.iter().filter(|t| !t.running) {
            let _ = crate::sys::ptrace_set_debugreg(t.tid.0, 7, dr7);
            let _ = crate::sys::ptrace_set_debugreg(t.tid.0, 1, 0);
        }
    }

    /// Point debug register 0 of the stopped thread `tid` at `addr`, on
    /// execution; whether it took.
    pub(crate) fn arm_watch(&self, tid: Tid, addr: u64) -> bool {
        let r = crate::sys::ptrace_set_debugreg(tid.0, 0, addr)
            .and_then(|()| crate::sys::ptrace_set_debugreg(tid.0, 7, self.dr7()));
        if let Err(e) = &r {
            log::warn!(target: "tracer::ptrace", "no watch of {addr:#x} in thread {tid} (debug registers refused: {e})");
        }
        r.is_ok()
    }

    /// Arm both watches, as far as they are set, in the stopped thread
    /// `tid` (a new one: debug registers are not inherited); whether it took.
    pub(crate) fn arm_watches(&self, tid: Tid) -> bool {
        if let Some(addr) = self.watch {
            if !self.arm_watch(tid, addr) {
                return false;
            }
        }
        let Some(addr) = self.safe_watch else {
            return true;
        };
        let r = crate::sys::ptrace_set_debugreg(tid.0, 1, addr)
            .and_then(|()| crate::sys::ptrace_set_debugreg(tid.0, 7, self.dr7()));
        if let Err(e) = &r {
            log::warn!(target: "tracer::ptrace", "no watch of {addr:#x} in thread {tid} (debug registers refused: {e})");
        }
        r.is_ok()
    }

    /// DR7 for the watches that are set.
    fn dr7(&self) -> u64 {
        self.watch.map_or(0, |_| DR7_L0_EXEC) | self.safe_watch.map_or(0, |_| DR7_L1_EXEC)
    }

    /// Whether there is a breakpoint at `addr`.
    pub fn has_breakpoint(&self, addr: RemoteAddr) -> bool {
        self.breakpoints.contains_key(&addr.0)
    }

    /// Prepare a returning trap next to `func`, a function whose whole body
    /// is `xor eax, eax; ret`: the alignment padding after it becomes
    /// `nop; xor eax, eax; ret` (a function that returns 0, like `func`).
    /// Its address is returned; [`Tracee::set_breakpoint`] on it then makes
    /// the `nop` an int3 that a stopped thread simply runs past (resumed, it
    /// returns 0 to its caller: no registers to set, nothing to read), and
    /// clearing it leaves the `nop`, so a thread anywhere in it, or about to
    /// call it, still returns 0. `None` (nothing written) when `func` is not
    /// such a function or the padding is too short or not padding.
    pub fn prepare_returning_trap(
        &mut self,
        func: RemoteAddr,
    ) -> Result<Option<RemoteAddr>, TraceError> {
        let via = self.stopped_thread().ok_or(TraceError::NotStopped {
            what: "write a returning trap",
        })?;
        let stub = func.0.wrapping_add(RETURN_0.len() as u64);
        let aligned = stub.next_multiple_of(FUNC_ALIGN);
        if aligned.saturating_sub(stub) < 4 {
            return Ok(None);
        }
        let mut code = [0u8; 7];
        self.mem.read(func, &mut code)?;
        if code[..3] != RETURN_0 || !code[3..].iter().all(|b| PADDING.contains(b) || *b == INT3) {
            return Ok(None);
        }
        let stub = RemoteAddr(stub);
        let mut body = [NOP; 4];
        body[1..].copy_from_slice(&RETURN_0);
        self.mem.write_via(via, stub, &body)?;
        log::debug!(target: "tracer::ptrace", "returning trap prepared at {stub}");
        Ok(Some(stub))
    }

    /// After a one-shot breakpoint at `addr` was hit by `tid`: clear it and
    /// rewind rip to `addr` so the original instruction runs when the thread
    /// is resumed.
    pub fn step_back_over(
        &mut self,
        tid: Tid,
        regs: &mut Regs,
        addr: RemoteAddr,
    ) -> Result<(), TraceError> {
        self.clear_breakpoint(addr)?;
        regs.rip = addr.0;
        self.set_regs(tid, regs)
    }
}
