//! int3 breakpoints of a [`Tracee`]: insert, remove, and the one-shot
//! "step back over" that lets the original instruction run.

use crate::addr::{RemoteAddr, Tid};
use crate::mem::Memory;
use crate::ptrace::{Regs, TraceError, Tracee};

/// The x86 `int3` opcode.
const INT3: u8 = 0xcc;

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
    }

    /// Whether there is a breakpoint at `addr`.
    pub fn has_breakpoint(&self, addr: RemoteAddr) -> bool {
        self.breakpoints.contains_key(&addr.0)
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
