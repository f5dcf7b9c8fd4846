//! The probe: a trace function of ours placed in the target (tracer/probe/
//! probe.c, built by build.rs) that, before the step's trap, copies the
//! ranges the stop will read (the stop cache's plan) into memory shared with
//! the tracer. The stop then reads them there, with no system call, instead
//! of through a `process_vm_readv` whose cost grows with every page.
//!
//! Set up at launch by system calls the target makes for us (memfd_create,
//! ftruncate, two mmaps, close): a memfd mapped read-execute (the code) and
//! read-write (the context: saved registers, generations, the plan's ranges,
//! the frame's bytes, the shadow) in the target, and read-write here. A
//! planned page unmapped since the plan was made faults in the probe: the
//! thread stops with SIGSEGV before any handler sees it, [`Probe::recover`]
//! puts back the registers the entry saved and lets it go on to the trap,
//! and that stop reads its plan itself.

use std::fs::OpenOptions;

use crate::addr::{RemoteAddr, Tid};
use crate::inferior::InferiorError;
use crate::mem::ReadReq;
use crate::ptrace::{Regs, TraceError, Tracee};
use crate::sys::SharedMap;

/// One build of the probe: its machine code and where its labels are.
#[derive(Debug)]
pub struct Blob {
    name: &'static str,
    code: &'static [u8],
    /// The trace function.
    entry: usize,
    /// The 8-byte immediate that becomes the context's address.
    ctx_imm: usize,
    /// Where a fault's recovery resumes (after the call of the refresh).
    back: usize,
    /// The `nop` that becomes the trap.
    trap: usize,
}

mod code {
    include!(concat!(env!("OUT_DIR"), "/probe_code.rs"));
}

/// Whether and how the recorder uses the probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeMode {
    /// Every stop reads the target with `process_vm_readv`.
    Off,
    /// The fastest build this CPU runs (the target runs on the same machine).
    Best,
    /// The build for the baseline x86-64 instruction set, whatever the CPU.
    Baseline,
}

fn blob(mode: ProbeMode) -> &'static Blob {
    if mode == ProbeMode::Best && std::arch::is_x86_feature_detected!("avx2") {
        &code::AVX2
    } else {
        &code::SSE2
    }
}

/// The x86 `int3` and `nop` opcodes: the probe's trap armed and disarmed.
const INT3: u8 = 0xcc;
const NOP: u8 = 0x90;
/// Bytes of the code mapping (the probe's code is well under a page).
const CODE_BYTES: usize = 4096;
const _: () = assert!(code::SSE2.code.len() <= CODE_BYTES && code::AVX2.code.len() <= CODE_BYTES);

// The context, at the start of the data mapping (keep in step with probe.c).
/// rsp after the entry's pushes, then rbx, rbp, r12-r15.
const OFF_SAVED: usize = 0x00;
const OFF_PLAN_GEN: usize = 0x40;
const OFF_DONE_GEN: usize = 0x48;
const OFF_NRANGES: usize = 0x50;
const OFF_FRAME: usize = 0x58;
const OFF_FRAME_LEN: usize = 0x60;
const OFF_CALLS: usize = 0x68;
const FRAME_BUF: usize = 0x100;
const FRAME_MAX: usize = 0x200;
const RANGES: usize = 0x1000;
/// Ranges of a plan the probe refreshes (16 bytes each: addr, len, at).
pub const MAX_RANGES: usize = 8192;
/// One byte per 64-byte chunk of the shadow: whether the last refresh
/// changed it.
const DIRTY: usize = RANGES + MAX_RANGES * 16;
/// Bytes of the shadow: a plan beyond it is read the usual way past this.
pub const SHADOW_BYTES: usize = 4 << 20;
const CHUNK: usize = 64;
const SHADOW: usize = DIRTY + SHADOW_BYTES / CHUNK;
const DATA_BYTES: usize = SHADOW + SHADOW_BYTES;

// Linux x86-64 system call numbers and flags the setup uses.
const SYS_MMAP: i64 = 9;
const SYS_MUNMAP: i64 = 11;
const SYS_CLOSE: i64 = 3;
const SYS_FTRUNCATE: i64 = 77;
const SYS_MEMFD_CREATE: i64 = 319;
const MFD_CLOEXEC: u64 = 1;
/// Asks for an executable memfd where the kernel knows the flag (6.3+,
/// whose `vm.memfd_noexec` may otherwise seal it against PROT_EXEC).
const MFD_EXEC: u64 = 0x10;
const EINVAL: i64 = 22;
/// The memfd's name, as /proc/PID/maps shows it.
const NAME: &[u8] = b"hindsight-probe\0";

/// The probe could not be set up; recording goes on without it.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(transparent)]
    Call(#[from] InferiorError),
    #[error(transparent)]
    Trace(#[from] TraceError),
    #[error("{call} failed in the target: errno {errno}")]
    Syscall { call: &'static str, errno: i64 },
    #[error("cannot map the target's probe memory here: {0}")]
    Map(std::io::Error),
}

/// The probe of one target: where its code and context are mapped there,
/// and the same memory mapped here.
#[derive(Debug)]
pub struct Probe {
    map: SharedMap,
    blob: &'static Blob,
    code: RemoteAddr,
    /// The plan's generation last written; the probe copies it to
    /// `done_gen` once it has refreshed that plan.
    plan_gen: u64,
    /// Ranges of the current plan the shadow holds (a prefix of the plan),
    /// with their offsets in it.
    placed: Vec<(ReadReq, usize)>,
    /// For each of them, whether the previous plan had it at the same
    /// offset (its dirty bytes then say what changed since that stop).
    stable: Vec<bool>,
    /// The previous plan's `placed`.
    before: Vec<(ReadReq, usize)>,
    faults: u64,
}

impl Probe {
    /// Create the probe's memory in the target through system calls made by
    /// the stopped thread `tid`, and write its code. `at` is an address the
    /// program never runs again (for the `syscall` instruction).
    pub fn install(
        tracee: &mut Tracee,
        tid: Tid,
        at: RemoteAddr,
        mode: ProbeMode,
    ) -> Result<Probe, ProbeError> {
        let regs = tracee.regs(tid)?;
        let pid = tracee.pid();
        // The name goes below the thread's stack pointer, past the red zone.
        let name = RemoteAddr((regs.rsp - 512) & !15);
        tracee.mem().write(name, NAME).map_err(TraceError::from)?;
        let mut sys = |nr: i64, args: &[u64], call: &'static str| -> Result<u64, ProbeError> {
            let r = tracee.call_syscall(tid, nr, args, at)?;
            if (-4095..0).contains(&r) {
                return Err(ProbeError::Syscall { call, errno: -r });
            }
            Ok(r as u64)
        };
        let fd = match sys(
            SYS_MEMFD_CREATE,
            &[name.0, MFD_CLOEXEC | MFD_EXEC],
            "memfd_create",
        ) {
            Err(ProbeError::Syscall { errno: EINVAL, .. }) => {
                sys(SYS_MEMFD_CREATE, &[name.0, MFD_CLOEXEC], "memfd_create")?
            }
            r => r?,
        };
        let total = (CODE_BYTES + DATA_BYTES) as u64;
        let mapped = (|| {
            sys(SYS_FTRUNCATE, &[fd, total], "ftruncate")?;
            let prot_rx = (libc::PROT_READ | libc::PROT_EXEC) as u64;
            let prot_rw = (libc::PROT_READ | libc::PROT_WRITE) as u64;
            let shared = libc::MAP_SHARED as u64;
            let code = sys(
                SYS_MMAP,
                &[0, CODE_BYTES as u64, prot_rx, shared, fd, 0],
                "mmap",
            )?;
            let data = sys(
                SYS_MMAP,
                &[0, DATA_BYTES as u64, prot_rw, shared, fd, CODE_BYTES as u64],
                "mmap",
            );
            match data {
                Ok(data) => Ok((code, data)),
                Err(e) => {
                    let _ = sys(SYS_MUNMAP, &[code, CODE_BYTES as u64], "munmap");
                    Err(e)
                }
            }
        })();
        // Mapped here through the target's descriptor, which then closes:
        // the mappings keep the memory.
        let here = mapped.and_then(|(code, data)| {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(format!("/proc/{pid}/fd/{fd}"))
                .map_err(ProbeError::Map)?;
            let map = SharedMap::new(&file, CODE_BYTES + DATA_BYTES).map_err(ProbeError::Map)?;
            Ok((code, data, map))
        });
        let _ = sys(SYS_CLOSE, &[fd], "close");
        let (code, data, mut map) = here?;
        let blob = blob(mode);
        let bytes = map.bytes_mut();
        bytes[..blob.code.len()].copy_from_slice(blob.code);
        bytes[blob.ctx_imm..blob.ctx_imm + 8].copy_from_slice(&data.to_ne_bytes());
        bytes[blob.trap] = INT3;
        log::info!(target: "tracer::probe", "probe ({}) at {code:#x}, context at {data:#x}", blob.name);
        Ok(Probe {
            map,
            blob,
            code: RemoteAddr(code),
            plan_gen: 0,
            placed: Vec::new(),
            stable: Vec::new(),
            before: Vec::new(),
            faults: 0,
        })
    }

    /// The trace function to install: the probe's entry.
    pub fn entry(&self) -> RemoteAddr {
        RemoteAddr(self.code.0 + self.blob.entry as u64)
    }

    /// Where its trap is: an int3 (for [`Tracee::adopt_breakpoint`]) that
    /// a stopped thread runs past (the probe then returns 0).
    pub fn trap(&self) -> RemoteAddr {
        RemoteAddr(self.code.0 + self.blob.trap as u64)
    }

    /// Make the trap a `nop` before detaching: a thread still in the probe
    /// then returns 0 without a stop nobody would answer.
    pub fn disarm(&mut self) {
        let trap = self.blob.trap;
        self.map.bytes_mut()[trap] = NOP;
    }

    fn ctx(&self) -> &[u8] {
        &self.map.bytes()[CODE_BYTES..]
    }

    fn ctx_mut(&mut self) -> &mut [u8] {
        &mut self.map.bytes_mut()[CODE_BYTES..]
    }

    fn word(&self, off: usize) -> u64 {
        let b = &self.ctx()[off..off + 8];
        u64::from_ne_bytes(b.try_into().unwrap_or_default())
    }

    fn set_word(&mut self, off: usize, v: u64) {
        self.ctx_mut()[off..off + 8].copy_from_slice(&v.to_ne_bytes());
    }

    /// Make `plan` (sorted ranges) the probe's for the next stop; returns
    /// how many of its first ranges the shadow will hold, one after the
    /// other from offset 0, each at a multiple of 64 (the rest does not
    /// fit).
    pub fn set_plan(&mut self, plan: &[ReadReq]) -> usize {
        std::mem::swap(&mut self.before, &mut self.placed);
        self.placed.clear();
        self.stable.clear();
        let mut at = 0usize;
        for r in plan.iter().take(MAX_RANGES) {
            if r.len > SHADOW_BYTES - at {
                break;
            }
            let e = RANGES + self.placed.len() * 16;
            let ctx = self.ctx_mut();
            ctx[e..e + 8].copy_from_slice(&r.addr.0.to_ne_bytes());
            ctx[e + 8..e + 12].copy_from_slice(&(r.len as u32).to_ne_bytes());
            ctx[e + 12..e + 16].copy_from_slice(&(at as u32).to_ne_bytes());
            let was = self
                .before
                .binary_search_by_key(&r.addr.0, |(b, _)| b.addr.0);
            self.stable
                .push(was.is_ok_and(|i| self.before[i].0.len == r.len && self.before[i].1 == at));
            self.placed.push((*r, at));
            at = (at + r.len).next_multiple_of(CHUNK).min(SHADOW_BYTES);
        }
        let n = self.placed.len();
        self.set_word(OFF_NRANGES, n as u64);
        self.plan_gen += 1;
        self.set_word(OFF_PLAN_GEN, self.plan_gen);
        n
    }

    /// Whether the probe refreshed the current plan (just before this
    /// stop's trap: every trap follows a refresh, or a fault).
    fn refreshed(&self) -> bool {
        self.word(OFF_DONE_GEN) == self.plan_gen
    }

    /// The ranges of the plan the shadow holds at this stop, with their
    /// offsets in it: none unless the probe refreshed the current plan just
    /// before the trap.
    pub fn fresh(&self) -> &[(ReadReq, usize)] {
        if self.refreshed() {
            &self.placed
        } else {
            &[]
        }
    }

    /// For the 4096 bytes at offset `at` of the shadow, in the `k`-th placed
    /// range: which of their 64-byte blocks the refresh may have changed
    /// (bit b: bytes `at + 64b..`), when the range was placed the same at
    /// the previous stop. A block not aligned with the shadow's chunks
    /// counts as changed when either chunk under it did.
    pub fn dirty_blocks(&self, k: usize, at: usize) -> Option<u64> {
        if !self.stable.get(k).copied().unwrap_or(false) {
            return None;
        }
        let dirty = &self.ctx()[DIRTY..SHADOW];
        let (q, shifted) = (at / CHUNK, !at.is_multiple_of(CHUNK));
        let flags = dirty.get(q..q + 64 + shifted as usize)?;
        // Most pages did not change at all.
        if all_clear(flags) {
            return Some(0);
        }
        let mut mask = 0u64;
        for b in 0..64 {
            if flags[b] != 0 || (shifted && flags[b + 1] != 0) {
                mask |= 1 << b;
            }
        }
        Some(mask)
    }

    /// Whether the `k`-th placed range was placed the same at the previous
    /// stop, and its bytes at `at..at + len` of the shadow are as they were
    /// then (the refresh found every chunk they touch unchanged).
    pub fn unchanged(&self, k: usize, at: usize, len: usize) -> bool {
        if len == 0 || !self.stable.get(k).copied().unwrap_or(false) {
            return false;
        }
        let dirty = &self.ctx()[DIRTY..SHADOW];
        dirty
            .get(at / CHUNK..=(at + len - 1) / CHUNK)
            .is_some_and(all_clear)
    }

    /// The shadow: the plan's ranges back to back, as [`Probe::set_plan`]
    /// placed them.
    pub fn shadow(&self) -> &[u8] {
        &self.ctx()[SHADOW..]
    }

    /// The bytes at the frame the trace function got at this stop, when the
    /// probe copied them.
    pub fn frame(&self, frame: RemoteAddr) -> Option<&[u8]> {
        let len = self.word(OFF_FRAME_LEN) as usize;
        if !self.refreshed() || self.word(OFF_FRAME) != frame.0 || len > FRAME_MAX {
            return None;
        }
        Some(&self.ctx()[FRAME_BUF..FRAME_BUF + len])
    }

    /// Calls of the probe so far, and faults recovered.
    pub fn counts(&self) -> (u64, u64) {
        (self.word(OFF_CALLS), self.faults)
    }

    /// Thread `tid` stopped with SIGSEGV or SIGBUS at `regs`: when it was
    /// running the probe, put back the registers its entry saved and send
    /// it on to the trap (the signal is not delivered; the stop then finds
    /// its plan stale and reads it itself). Whether it was the probe's.
    pub fn recover(
        &mut self,
        tracee: &mut Tracee,
        tid: Tid,
        regs: &mut Regs,
    ) -> Result<bool, TraceError> {
        if !(self.code.0..self.code.0 + self.blob.code.len() as u64).contains(&regs.rip) {
            return Ok(false);
        }
        let saved: [u64; 7] = std::array::from_fn(|i| self.word(OFF_SAVED + 8 * i));
        [
            regs.rsp, regs.rbx, regs.rbp, regs.r12, regs.r13, regs.r14, regs.r15,
        ] = saved;
        log::debug!(target: "tracer::probe", "probe faulted at {:#x} in thread {tid}: its stop reads the plan itself", regs.rip);
        regs.rip = self.code.0 + self.blob.back as u64;
        tracee.set_regs(tid, regs)?;
        // Not refreshed: this stop must not take the shadow for current.
        self.set_word(OFF_DONE_GEN, u64::MAX);
        self.faults += 1;
        Ok(true)
    }
}

/// Whether every dirty flag in `flags` is clear (eight at a time: a page
/// is 64 of them).
fn all_clear(flags: &[u8]) -> bool {
    let mut words = flags.chunks_exact(8);
    let any = words.by_ref().fold(0u64, |acc, w| {
        acc | u64::from_ne_bytes(w.try_into().unwrap_or([1; 8]))
    });
    any == 0 && words.remainder().iter().all(|&b| b == 0)
}

#[cfg(test)]
impl Probe {
    /// A probe over a plain file, with no target: the tests play the
    /// probe's part ([`Probe::run_here`]).
    pub(crate) fn for_tests() -> Probe {
        let file = tempfile::tempfile().unwrap();
        file.set_len((CODE_BYTES + DATA_BYTES) as u64).unwrap();
        Probe {
            map: SharedMap::new(&file, CODE_BYTES + DATA_BYTES).unwrap(),
            blob: blob(ProbeMode::Best),
            code: RemoteAddr(0x1000),
            plan_gen: 0,
            placed: Vec::new(),
            stable: Vec::new(),
            before: Vec::new(),
            faults: 0,
        }
    }

    /// What the probe does before a trap, with `read` as the target's
    /// memory: copy the plan into the shadow and the frame's bytes.
    pub(crate) fn run_here(&mut self, frame: u64, read: &dyn Fn(u64, &mut [u8])) {
        let n = self.word(OFF_NRANGES) as usize;
        for k in 0..n {
            let e = RANGES + k * 16;
            let c = self.ctx();
            let addr = u64::from_ne_bytes(c[e..e + 8].try_into().unwrap());
            let len = u32::from_ne_bytes(c[e + 8..e + 12].try_into().unwrap()) as usize;
            let at = u32::from_ne_bytes(c[e + 12..e + 16].try_into().unwrap()) as usize;
            let mut now = vec![0u8; len];
            read(addr, &mut now);
            for (c, chunk) in now.chunks(CHUNK).enumerate() {
                let o = SHADOW + at + c * CHUNK;
                let changed = self.ctx()[o..o + chunk.len()] != *chunk;
                self.ctx_mut()[o..o + chunk.len()].copy_from_slice(chunk);
                self.ctx_mut()[DIRTY + at / CHUNK + c] = changed as u8;
            }
        }
        let flen = (4096 - (frame & 4095) as usize).min(FRAME_MAX);
        read(frame, &mut self.ctx_mut()[FRAME_BUF..FRAME_BUF + flen]);
        self.set_word(OFF_FRAME, frame);
        self.set_word(OFF_FRAME_LEN, flen as u64);
        let gen = self.word(OFF_PLAN_GEN);
        self.set_word(OFF_DONE_GEN, gen);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(addr: u64, len: usize) -> ReadReq {
        ReadReq {
            addr: RemoteAddr(addr),
            len,
        }
    }

    #[test]
    fn a_plan_is_held_only_once_the_probe_ran_for_it() {
        let mut p = Probe::for_tests();
        assert_eq!(p.set_plan(&[req(0x1000, 64), req(0x3000, 4096)]), 2);
        assert!(p.fresh().is_empty(), "the probe has not run");
        p.run_here(0x5f00, &|addr, buf| buf.fill(addr as u8 ^ 0x5a));
        let at: Vec<usize> = p.fresh().iter().map(|&(_, at)| at).collect();
        assert_eq!(at, [0, 64]);
        assert!(p.shadow()[..64].iter().all(|&b| b == 0x5a));
        assert!(p.shadow()[64..64 + 4096].iter().all(|&b| b == 0x5a));
        assert!(!p.unchanged(1, 64, 4096), "new in this plan");
        // The frame's bytes up to its page's end.
        assert_eq!(p.frame(RemoteAddr(0x5f00)).map(|b| b.len()), Some(0x100));
        assert!(p.frame(RemoteAddr(0x6000)).is_none(), "another frame");
        // A new plan is not held until the probe runs again.
        p.set_plan(&[req(0x1000, 64), req(0x3000, 4096)]);
        assert!(p.fresh().is_empty());
        assert!(p.frame(RemoteAddr(0x5f00)).is_none());
        // The same plan again: what did not change since is known.
        p.run_here(0x5f00, &|addr, buf| {
            buf.fill(addr as u8 ^ 0x5a);
            if addr == 0x3000 {
                buf[100] = 1;
            }
        });
        assert!(p.unchanged(0, 0, 64));
        assert!(p.unchanged(1, 64 + 128, 64 * 10), "chunks after the change");
        assert!(!p.unchanged(1, 64, 4096));
        assert!(!p.unchanged(1, 64 + 100, 1));
        // A range that moved in the shadow is not known unchanged.
        p.set_plan(&[req(0x2000, 100), req(0x3000, 4096)]);
        p.run_here(0x5f00, &|addr, buf| buf.fill(addr as u8 ^ 0x5a));
        assert!(!p.unchanged(1, 128, 64));
    }

    #[test]
    fn dirty_blocks_of_a_page_follow_the_chunks_under_them() {
        let mut p = Probe::for_tests();
        // The page starts 32 bytes into a range: its blocks straddle chunks.
        let plan = [req(0x2fe0, 4096 + 32)];
        p.set_plan(&plan);
        p.run_here(0x5f00, &|_, buf| buf.fill(7));
        assert_eq!(p.dirty_blocks(0, 32), None, "new in this plan");
        p.set_plan(&plan);
        p.run_here(0x5f00, &|addr, buf| {
            buf.fill(7);
            // Byte 0x3000 + 100 of the page: chunk 2 of the range.
            if addr == 0x2fe0 {
                buf[(0x3000 + 100 - addr) as usize] = 8;
            }
        });
        // Block 1 (bytes 64..128) lies on chunks 1 and 2; block 2 on 2 and 3.
        assert_eq!(p.dirty_blocks(0, 32), Some(0b110));
        // Aligned, a block is one chunk.
        let plan = [req(0x3000, 4096)];
        p.set_plan(&plan);
        p.run_here(0x5f00, &|_, buf| buf.fill(7));
        p.set_plan(&plan);
        p.run_here(0x5f00, &|addr, buf| {
            buf.fill(7);
            if addr == 0x3000 {
                buf[4095] = 9;
            }
        });
        assert_eq!(p.dirty_blocks(0, 0), Some(1 << 63));
    }

    #[test]
    fn what_does_not_fit_is_left_to_the_stop() {
        let mut p = Probe::for_tests();
        let big = SHADOW_BYTES / 2 + 1;
        let plan = [req(0x10000, big), req(0x900000, big), req(0x2000000, 8)];
        assert_eq!(p.set_plan(&plan), 1, "the second range does not fit");
        let many: Vec<ReadReq> = (0..MAX_RANGES as u64 + 10)
            .map(|i| req(0x10000 + i * 64, 8))
            .collect();
        assert_eq!(p.set_plan(&many), MAX_RANGES);
    }
}
