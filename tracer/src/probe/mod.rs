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
//!
//! Line steps that change nothing the stop read but the position, or only
//! slots and reference counts, go without a trap: `steps` (the watch mask
//! and the frame armed) and `steplog` (the log of those steps, read and
//! used to rewind the shadow). A watchdog process started with the probe
//! disarms it if hindsight is killed.

use std::fs::OpenOptions;

use crate::addr::{RemoteAddr, Tid};
use crate::memory::ReadReq;
use crate::ptrace::inferior::InferiorError;
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
    /// Where a thread stops when it raised the trap's signal.
    sigtrap: usize,
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
/// What `hs_refresh` answers for a stop at the int3 (probe.c).
const TRAP_INT3: u64 = 1;
/// The signal the probe raises at its thread to stop for the tracer. Its
/// default action is to be ignored: a thread left stopped with it, or
/// raising it, after hindsight was killed runs on unharmed (an int3's
/// SIGTRAP would kill the program).
pub const TRAP_SIGNAL: i32 = libc::SIGURG;
/// Set, the probe stops at its int3 only (to compare the two ways).
pub const INT3_KNOB: &str = "HINDSIGHT_INT3_TRAP";
/// Bytes of the code mapping (the probe's code fits in two pages).
const CODE_BYTES: usize = 8192;
const _: () = assert!(code::SSE2.code.len() <= CODE_BYTES && code::AVX2.code.len() <= CODE_BYTES);

/// The context, at the start of the data mapping: offsets (`OFF_*`), sizes
/// and counts, defined once for the crate and, through build.rs, probe.c.
mod layout {
    include!(concat!(env!("CARGO_MANIFEST_DIR"), "/probe/layout.rs"));
}
use layout::*;
pub use layout::{CAP_OBJ_MAX, CHUNK, LOG_MAX, MAX_RANGES, SHADOW_BYTES};
pub use opcodes::OpcodeSteps;
pub use steplog::{CapLen, CapType, Capture, Log, LoggedStep};

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
    /// The shadow's bytes from this offset on hold no range of this plan or
    /// the previous one: new ranges go there, so the bytes of those they
    /// replace can still be copied into them.
    free_at: usize,
    /// Whether the last [`Probe::set_plan`] placed every range anew from
    /// offset 0 (the previous plan's bytes are then overwritten).
    repacked: bool,
    faults: u64,
    /// The process that disarms the probe if hindsight is killed.
    watchdog: Option<crate::sys::Watchdog>,
    /// The shadow as the last stop that armed a frame left it, which the
    /// logged steps are decoded from while the probe runs on.
    replica: replica::Replica,
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
        // Before the trap is armed: from then on the program must never be
        // left with it and nobody to answer it.
        let watchdog = watchdog(&map, blob);
        map.bytes_mut()[blob.trap] = INT3;
        let sig = if std::env::var_os(INT3_KNOB).is_some() {
            0
        } else {
            TRAP_SIGNAL as u64
        };
        let at = CODE_BYTES + OFF_TRAP_SIG;
        map.bytes_mut()[at..at + 8].copy_from_slice(&sig.to_ne_bytes());
        log::info!(target: "tracer::probe", "probe ({}) at {code:#x}, context at {data:#x}", blob.name);
        let mut p = Probe::new(map, blob, RemoteAddr(code));
        p.watchdog = watchdog;
        Ok(p)
    }

    /// The probe whose code is at `code` in the target, with `map` (code
    /// and context) mapped here, before any plan.
    fn new(map: SharedMap, blob: &'static Blob, code: RemoteAddr) -> Probe {
        Probe {
            map,
            blob,
            code,
            plan_gen: 0,
            placed: Vec::new(),
            stable: Vec::new(),
            before: Vec::new(),
            free_at: 0,
            repacked: false,
            faults: 0,
            watchdog: None,
            replica: replica::Replica::default(),
        }
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

    /// Report the probe's stops (at its int3, or where a thread raised
    /// the trap's signal at itself) to `tracee`'s waits as breakpoint stops
    /// at [`Probe::trap`].
    pub fn adopt_traps(&self, tracee: &mut Tracee) {
        let trap = self.trap();
        tracee.adopt_breakpoint(trap);
        let sigtrap = RemoteAddr(self.code.0 + self.blob.sigtrap as u64);
        tracee.adopt_signal_trap(sigtrap, TRAP_SIGNAL, trap);
    }

    /// The frame, event and argument CPython passed to the call of the
    /// probe that stopped (its registers no longer hold them).
    pub fn trap_args(&self) -> (RemoteAddr, i32, RemoteAddr) {
        (
            RemoteAddr(self.word(OFF_CALL_FRAME)),
            self.word(OFF_WHAT) as i32,
            RemoteAddr(self.word(OFF_ARG)),
        )
    }

    /// The time stamp counter when the probe was called for the step that
    /// stopped.
    pub fn trap_tsc(&self) -> u64 {
        self.word(OFF_TRAP_TSC)
    }

    /// Chain the program's trace function `func` for the trace object
    /// `obj`: each call of the probe with that object ends with a call of
    /// `func` (probe.c). Replaces the function an object had; false when
    /// the table is full.
    pub fn set_chain(&mut self, obj: u64, func: u64) -> bool {
        let slot = (0..CHAINS_MAX)
            .find(|&i| self.word(CHAINS + 16 * i) == obj)
            .or_else(|| (0..CHAINS_MAX).find(|&i| self.word(CHAINS + 16 * i) == 0));
        let Some(i) = slot else { return false };
        // The function before the object: a probe call never sees the
        // object with a stale function.
        self.set_word(CHAINS + 16 * i + 8, func);
        self.set_word(CHAINS + 16 * i, obj);
        true
    }

    /// The program's trace function that the probe an earlier, killed
    /// hindsight left (its entry at `left_entry`) chained for `obj`, read
    /// from that probe's context in the target (a build of the same
    /// source: the same entry).
    pub fn left_chain(
        &self,
        mem: &dyn crate::memory::Memory,
        left_entry: RemoteAddr,
        obj: u64,
    ) -> Option<u64> {
        if obj == 0 {
            return None;
        }
        let base = left_entry.0.checked_sub(self.blob.entry as u64)?;
        let ctx = mem
            .read_u64(RemoteAddr(base + self.blob.ctx_imm as u64))
            .ok()?;
        let mut table = [0u8; CHAINS_MAX * 16];
        mem.read(RemoteAddr(ctx.checked_add(CHAINS as u64)?), &mut table)
            .ok()?;
        let word = |i: usize| u64::from_ne_bytes(table[i..i + 8].try_into().unwrap_or_default());
        (0..CHAINS_MAX)
            .find(|&i| word(16 * i) == obj)
            .map(|i| word(16 * i + 8))
            .filter(|&f| f != 0)
    }

    /// The program's trace function chained for trace object `obj`.
    pub fn chain_of(&self, obj: u64) -> Option<u64> {
        if obj == 0 {
            return None;
        }
        (0..CHAINS_MAX)
            .find(|&i| self.word(CHAINS + 16 * i) == obj)
            .map(|i| self.word(CHAINS + 16 * i + 8))
    }

    /// The program's trace function the current stop's call of the probe
    /// will call when it returns, if any.
    pub fn chain_now(&self) -> Option<u64> {
        Some(self.word(OFF_CHAIN_NOW)).filter(|&f| f != 0)
    }

    /// Make the trap a `nop` and raise no signal before detaching: a
    /// thread still in the probe then returns 0 without a stop nobody
    /// would answer.
    pub fn disarm(&mut self) {
        self.set_word(OFF_TRAP_SIG, 0);
        let trap = self.blob.trap;
        self.map.bytes_mut()[trap] = NOP;
        self.set_word(OFF_ARMED, 0);
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

    /// Calls of the probe so far, faults recovered, steps without a trap.
    pub fn counts(&self) -> (u64, u64, u64) {
        (self.word(OFF_CALLS), self.faults, self.word(OFF_TRAPLESS))
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
        // On to the int3 (the signal is this stop's to raise, not the
        // recovered thread's), then to the chained function, if any.
        regs.rax = TRAP_INT3;
        regs.rdx = self.word(OFF_CHAIN_NOW);
        tracee.set_regs(tid, regs)?;
        self.set_word(OFF_ARMED, 0);
        self.set_word(OFF_KEEP, 0);
        // Not refreshed: this stop must not take the shadow for current.
        self.set_word(OFF_DONE_GEN, u64::MAX);
        self.faults += 1;
        Ok(true)
    }
}

/// Start the process that makes the probe harmless (its trap a `nop`, no
/// plan, no frame armed) once hindsight ends, however it ends: killed
/// while attached, the program runs on instead of dying of the trap's
/// SIGTRAP with nobody to answer it. `None` (with a warning) when it
/// cannot be started.
fn watchdog(map: &SharedMap, blob: &Blob) -> Option<crate::sys::Watchdog> {
    let words = [
        (CODE_BYTES + OFF_TRAP_SIG, 0),
        (CODE_BYTES + OFF_NRANGES, 0),
        (CODE_BYTES + OFF_ARMED, 0),
        (CODE_BYTES + OFF_CAP_ON, 0),
    ];
    match map.watchdog(&words, (blob.trap, NOP)) {
        Ok(w) => Some(w),
        Err(e) => {
            log::warn!(target: "tracer::probe", "no watchdog for the probe (if hindsight is killed, an attached program dies of its trap): {e}");
            None
        }
    }
}

mod filter;
mod opcodes;
mod plan;
pub mod prefetch;
mod replica;
mod steplog;
mod steps;
#[cfg(test)]
mod tests;
