//! The system calls the tracer needs, each wrapped in a safe function: with
//! its submodule `shared` (the probe's shared memory and its watchdog
//! process), the only module of the project with `unsafe`. Most go through
//! nix's safe API; raw libc remains only where nix has no call or would
//! lose information (each such block says why it is sound). Callers get
//! `io::Result`s and plain integers; nothing here knows about breakpoints
//! or CPython.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::OnceLock;

use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
use nix::sys::ptrace::{self, AddressType, Options};
use nix::sys::signal::{self, SigHandler, Signal};
use nix::sys::uio::{process_vm_readv, process_vm_writev, RemoteIoVec};
use nix::unistd::Pid;

mod shared;
mod signals;

pub use signals::{die_by_signal, ignore_file_size_signal, restore_file_size_signal_in_child};

pub use shared::{SharedMap, Watchdog};

/// One remote range for [`vm_readv`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemoteIov {
    /// Address in the target.
    pub base: u64,
    /// Length in bytes.
    pub len: usize,
}

impl RemoteIov {
    /// nix's form of the range, whose address is a `usize`: the same width
    /// as `u64` on the 64-bit targets the tracer supports, so nothing is lost.
    fn to_nix(self) -> RemoteIoVec {
        RemoteIoVec {
            base: self.base as usize,
            len: self.len,
        }
    }
}

/// The kernel's limit on iovecs in one `process_vm_readv`.
pub const IOV_MAX: usize = 1024;

fn check(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn nix_pid(id: i32) -> Pid {
    Pid::from_raw(id)
}

/// A remote address as the pointer type nix's ptrace calls take; it is only
/// ever an integer to the kernel, never dereferenced here.
fn remote_addr(addr: u64) -> AddressType {
    addr as usize as AddressType
}

/// `process_vm_readv` of the `remote` ranges (at most [`IOV_MAX`]) into
/// `local`, back to back. Returns the number of bytes read; a short count
/// means the read stopped at the first unreadable remote range.
pub fn vm_readv(pid: i32, local: &mut [u8], remote: &[RemoteIov]) -> io::Result<usize> {
    let remote = &remote[..remote.len().min(IOV_MAX)];
    let mut liov = [IoSliceMut::new(local)];
    // The ranges are converted to nix's type: on the stack for the common
    // single range, in a vector for a batch (one allocation per system call
    // of up to IOV_MAX ranges).
    let n = match remote {
        [one] => process_vm_readv(nix_pid(pid), &mut liov, &[one.to_nix()])?,
        _ => {
            let riov: Vec<RemoteIoVec> = remote.iter().map(|r| r.to_nix()).collect();
            process_vm_readv(nix_pid(pid), &mut liov, &riov)?
        }
    };
    Ok(n)
}

/// `process_vm_writev` of `local` to `addr` in the target. Returns the
/// number of bytes written (short if the range crosses into a page that is
/// unmapped or not writable).
pub fn vm_writev(pid: i32, local: &[u8], addr: u64) -> io::Result<usize> {
    let riov = RemoteIov {
        base: addr,
        len: local.len(),
    };
    Ok(process_vm_writev(
        nix_pid(pid),
        &[IoSlice::new(local)],
        &[riov.to_nix()],
    )?)
}

/// A signal number as nix's [`Signal`]: `Ok(None)` for 0 (no signal),
/// `Err(sig)` for a number nix has no variant for (the real-time signals
/// SIGRTMIN..=SIGRTMAX, or an invalid number the kernel is left to refuse).
fn nix_signal(sig: i32) -> Result<Option<Signal>, i32> {
    if sig == 0 {
        return Ok(None);
    }
    Signal::try_from(sig).map(Some).map_err(|_| sig)
}

/// `PTRACE_CONT` or `PTRACE_DETACH` delivering a signal nix cannot name
/// (its calls take a [`Signal`], which has no real-time signals; a target's
/// real-time signal must still be passed on unchanged).
fn ptrace_resume_raw(req: libc::c_uint, tid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: for CONT and DETACH the kernel ignores `addr` and reads `data`
    // as a signal number; no pointer into our memory is passed.
    let ret = unsafe {
        libc::ptrace(
            req,
            tid,
            std::ptr::null_mut::<libc::c_void>(),
            sig as libc::c_long as *mut libc::c_void,
        )
    };
    check(ret).map(|_| ())
}

/// `PTRACE_TRACEME` is requested by the child in [`traceme_on_exec`].
/// `PTRACE_SETOPTIONS`.
pub fn ptrace_setoptions(tid: i32, options: i32) -> io::Result<()> {
    // Every bit is passed on as given, as the kernel would receive it.
    Ok(ptrace::setoptions(
        nix_pid(tid),
        Options::from_bits_retain(options),
    )?)
}

/// `PTRACE_CONT`, delivering signal `sig` (0 for none).
pub fn ptrace_cont(tid: i32, sig: i32) -> io::Result<()> {
    match nix_signal(sig) {
        Ok(s) => Ok(ptrace::cont(nix_pid(tid), s)?),
        Err(raw) => ptrace_resume_raw(libc::PTRACE_CONT, tid, raw),
    }
}

/// `PTRACE_DETACH`, delivering signal `sig` (0 for none).
pub fn ptrace_detach(tid: i32, sig: i32) -> io::Result<()> {
    match nix_signal(sig) {
        Ok(s) => Ok(ptrace::detach(nix_pid(tid), s)?),
        Err(raw) => ptrace_resume_raw(libc::PTRACE_DETACH, tid, raw),
    }
}

/// `PTRACE_POKEDATA`: write one word at `addr` in the (stopped) tracee.
pub fn ptrace_poke(tid: i32, addr: u64, word: u64) -> io::Result<()> {
    Ok(ptrace::write(
        nix_pid(tid),
        remote_addr(addr),
        word as libc::c_long,
    )?)
}

/// `PTRACE_PEEKDATA`: read one word at `addr` in the (stopped) tracee.
pub fn ptrace_peek(tid: i32, addr: u64) -> io::Result<u64> {
    // nix clears errno first, so a word of -1 is not taken for a failure.
    Ok(ptrace::read(nix_pid(tid), remote_addr(addr))? as u64)
}

/// `PTRACE_GETEVENTMSG`: the message of the last ptrace event (new thread id, ...).
pub fn ptrace_geteventmsg(tid: i32) -> io::Result<u64> {
    Ok(ptrace::getevent(nix_pid(tid))? as u64)
}

/// `PTRACE_GETREGS`.
pub fn ptrace_getregs(tid: i32) -> io::Result<libc::user_regs_struct> {
    Ok(ptrace::getregs(nix_pid(tid))?)
}

/// `PTRACE_SETREGS`.
pub fn ptrace_setregs(tid: i32, regs: &libc::user_regs_struct) -> io::Result<()> {
    Ok(ptrace::setregs(nix_pid(tid), *regs)?)
}

/// `PTRACE_GETSIGINFO`: `(si_signo, si_code)` of the signal the tracee is
/// stopped for; fails with EINVAL in a group-stop.
pub fn ptrace_siginfo(tid: i32) -> io::Result<(i32, i32)> {
    let info = ptrace::getsiginfo(nix_pid(tid))?;
    Ok((info.si_signo, info.si_code))
}

/// `PTRACE_POKEUSER` of x86 debug register `n` (0-7) of a stopped tracee:
/// the kernel checks the value (an address in user space, a valid DR7).
pub fn ptrace_set_debugreg(tid: i32, n: usize, value: u64) -> io::Result<()> {
    if n > 7 {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let off = std::mem::offset_of!(libc::user, u_debugreg) + 8 * n;
    ptrace::write_user(nix_pid(tid), off as AddressType, value as libc::c_long)?;
    Ok(())
}

/// `waitpid(pid, __WALL | __WNOTHREAD | extra)`: only children and tracees
/// of the calling thread, so several tracers in one process (test threads)
/// never reap each other's targets. Returns `(pid, status)`; pid 0 with
/// `WNOHANG` means nothing is ready.
///
/// Raw libc, not nix's `waitpid`: nix decodes the status into a
/// `WaitStatus`, which fails with EINVAL for a stop or death by a real-time
/// signal (its `Signal` has none), after the event has been consumed; the
/// callers want the raw status anyway.
pub fn wait_any(pid: i32, extra: i32) -> io::Result<(i32, i32)> {
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: the kernel writes one int to `status`, our local, which
        // outlives the call; the other arguments are integers.
        let ret =
            unsafe { libc::waitpid(pid, &mut status, libc::__WALL | libc::__WNOTHREAD | extra) };
        if ret == -1 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        return Ok((ret, status));
    }
}

/// Send `sig` to one thread `tid` of process `pid` (nix has no `tgkill`).
pub fn tgkill(pid: i32, tid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: tgkill takes three integers; no memory is passed.
    let ret = unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, sig) };
    check(ret).map(|_| ())
}

/// Send `sig` to process `pid`.
pub fn kill(pid: i32, sig: i32) -> io::Result<()> {
    match nix_signal(sig) {
        Ok(s) => Ok(signal::kill(nix_pid(pid), s)?),
        Err(raw) => {
            // A signal nix's `Signal` cannot name (real-time).
            // SAFETY: kill takes two integers; no memory is passed.
            let ret = unsafe { libc::kill(pid, raw) };
            check(ret as libc::c_long).map(|_| ())
        }
    }
}

/// Ignore SIGQUIT, and SIGINT if `sigint`, in this process: while it
/// records a program launched in the same terminal, they are the program's
/// to handle (the program's end then ends the recording). Call it only
/// after the child has exec'd: an ignored signal stays ignored across exec.
pub fn ignore_interactive_signals(sigint: bool) {
    let sigs: &[Signal] = if sigint {
        &[Signal::SIGINT, Signal::SIGQUIT]
    } else {
        &[Signal::SIGQUIT]
    };
    for &sig in sigs {
        // SAFETY: nix marks `signal` unsafe because a handler runs in signal
        // context; SIG_IGN is a constant disposition with no handler code.
        let _ = unsafe { signal::signal(sig, SigHandler::SigIgn) };
    }
}

/// Make `cmd`'s child pin itself to `cpu` (if given) and ask to be traced by
/// its parent before it execs, so it stops with SIGTRAP right after the exec.
pub fn traceme_on_exec(cmd: &mut Command, cpu: Option<usize>) {
    // Build the CPU set before the fork: the child only makes system calls.
    let set = cpu.and_then(|c| {
        let mut s = CpuSet::new();
        s.set(c).ok().map(|_| s)
    });
    let hook = move || -> io::Result<()> {
        if let Some(set) = &set {
            // Pinning is for speed only: a failure must not stop the program.
            let _ = sched_setaffinity(Pid::from_raw(0), set);
        }
        restore_file_size_signal_in_child();
        Ok(ptrace::traceme()?)
    };
    // SAFETY: the closure runs between fork and exec in the child and only
    // makes three system calls (sched_setaffinity, sigaction, ptrace); it allocates
    // nothing (an errno becomes an io::Error without allocating) and takes
    // no locks, so it is async-signal-safe.
    unsafe {
        cmd.pre_exec(hook);
    }
}

/// Make `cmd`'s child receive SIGKILL when the thread that starts it ends,
/// so that a helper process never outlives hindsight (killed or not).
pub fn die_with_parent(cmd: &mut Command) {
    let hook = || -> io::Result<()> {
        // SAFETY: prctl(PR_SET_PDEATHSIG) takes integer arguments only and
        // touches nothing of this process's memory.
        let r = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
        if r != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    };
    // SAFETY: the closure runs between fork and exec in the child and makes
    // one system call; it allocates nothing and takes no locks, so it is
    // async-signal-safe.
    unsafe {
        cmd.pre_exec(hook);
    }
}

/// The CPUs this process was allowed before the first
/// [`pin_current_thread`]: a thread inherits its creator's affinity, so once
/// the tracer is pinned, only this remembers what a helper thread may use.
static ALLOWED: OnceLock<CpuSet> = OnceLock::new();

/// Pin the calling thread to `cpu`. Returns whether it worked (pinning is
/// an optimisation; failure is logged, not fatal).
pub fn pin_current_thread(cpu: usize) -> bool {
    if ALLOWED.get().is_none() {
        if let Ok(set) = sched_getaffinity(Pid::from_raw(0)) {
            let _ = ALLOWED.set(set);
        }
    }
    let mut set = CpuSet::new();
    if set.set(cpu).is_err() {
        log::warn!(target: "tracer::sys", "cannot pin to CPU {cpu}: out of range");
        return false;
    }
    match sched_setaffinity(Pid::from_raw(0), &set) {
        Ok(()) => true,
        Err(e) => {
            log::warn!(target: "tracer::sys", "cannot pin the tracer to CPU {cpu}: {e}");
            false
        }
    }
}

/// Let the calling thread run on every CPU the process may use (its
/// affinity before the tracer pinned itself) except `cpu`, so a helper
/// thread (the recording writer) never takes CPU time from the tracer and
/// the target pinned there. If `cpu` is the only CPU allowed, the affinity
/// is left alone. Failure is logged, not fatal: this is an optimisation.
pub fn pin_current_thread_away_from(cpu: usize) {
    let allowed = match ALLOWED.get() {
        Some(set) => Ok(*set),
        None => sched_getaffinity(Pid::from_raw(0)),
    };
    let mut set = match allowed {
        Ok(set) => set,
        Err(e) => {
            log::debug!(target: "tracer::sys", "cannot read the CPU affinity: {e}");
            return;
        }
    };
    if set.unset(cpu).is_err() {
        log::debug!(target: "tracer::sys", "cannot avoid CPU {cpu}: out of range");
        return;
    }
    if !(0..CpuSet::count()).any(|c| set.is_set(c).unwrap_or(false)) {
        return;
    }
    if let Err(e) = sched_setaffinity(Pid::from_raw(0), &set) {
        log::debug!(target: "tracer::sys", "cannot move a thread off CPU {cpu}: {e}");
    }
}

/// The CPU to run the tracer and the target on: the last CPU the current
/// affinity mask allows (CPU 0 tends to take the most interrupts), or 0.
pub fn pick_cpu() -> usize {
    let Ok(set) = sched_getaffinity(Pid::from_raw(0)) else {
        return 0;
    };
    (0..CpuSet::count())
        .rev()
        .find(|&c| set.is_set(c).unwrap_or(false))
        .unwrap_or(0)
}

/// A CPU other than `cpu` that this process may run on (its affinity before
/// the tracer pinned itself), if there is one.
pub fn other_cpu(cpu: usize) -> Option<usize> {
    let set = match ALLOWED.get() {
        Some(set) => *set,
        None => sched_getaffinity(Pid::from_raw(0)).ok()?,
    };
    (0..CpuSet::count()).find(|&c| c != cpu && set.is_set(c).unwrap_or(false))
}

/// User and system CPU time of the calling thread so far, from
/// `/proc/thread-self/stat` (clock ticks of 10 ms).
pub fn thread_cpu_times() -> Option<(std::time::Duration, std::time::Duration)> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the command name, which may hold spaces: state is the
    // first, utime and stime the 12th and 13th.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |s: &str| {
        s.parse::<u64>()
            .ok()
            .map(|t| std::time::Duration::from_millis(t * 10))
    };
    Some((tick(f.get(11)?)?, tick(f.get(12)?)?))
}

/// `CLOCK_MONOTONIC` in nanoseconds.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

/// The time stamp counter, as the probe reads it (`rdtsc`).
pub fn rdtsc() -> u64 {
    #[allow(unused_unsafe)]
    // SAFETY: `rdtsc` reads a counter; it has no memory effect and every
    // x86-64 CPU has it.
    unsafe {
        core::arch::x86_64::_rdtsc()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed_cpus() -> Vec<usize> {
        let set = sched_getaffinity(Pid::from_raw(0)).unwrap();
        (0..CpuSet::count())
            .filter(|&c| set.is_set(c).unwrap_or(false))
            .collect()
    }

    #[test]
    fn a_helper_thread_moves_off_the_tracers_cpu() {
        // On a thread of its own: pinning must not leak into other tests.
        std::thread::spawn(|| {
            let before = allowed_cpus();
            let cpu = pick_cpu();
            if !pin_current_thread(cpu) {
                return; // pinning not permitted here: nothing to check
            }
            let helper = std::thread::spawn(move || {
                pin_current_thread_away_from(cpu);
                allowed_cpus()
            })
            .join()
            .unwrap();
            if before.len() > 1 {
                assert!(!helper.contains(&cpu), "{helper:?} still has CPU {cpu}");
                assert!(!helper.is_empty());
                assert!(helper.iter().all(|c| before.contains(c)), "{helper:?}");
            } else {
                assert_eq!(helper, [cpu], "the only CPU is kept");
            }
        })
        .join()
        .unwrap();
    }

    #[test]
    fn real_time_signals_reach_the_target() {
        assert_eq!(nix_signal(0), Ok(None));
        assert_eq!(nix_signal(libc::SIGKILL), Ok(Some(Signal::SIGKILL)));
        let rt = libc::SIGRTMIN() + 1;
        assert_eq!(nix_signal(rt), Err(rt));
        // A traced child stopped at its exec, resumed with a real-time
        // signal nix has no name for: the signal is delivered, and it dies
        // of it.
        let mut cmd = Command::new("sleep");
        cmd.arg("5");
        traceme_on_exec(&mut cmd, None);
        // Reaped below by wait_any, as the tracer reaps its targets.
        let pid = cmd.spawn().unwrap().id() as i32;
        let (got, status) = wait_any(pid, 0).unwrap();
        assert_eq!(got, pid);
        assert!(libc::WIFSTOPPED(status) && libc::WSTOPSIG(status) == libc::SIGTRAP);
        ptrace_cont(pid, rt).unwrap();
        let (_, status) = wait_any(pid, 0).unwrap();
        assert!(libc::WIFSIGNALED(status), "{status:#x}");
        assert_eq!(libc::WTERMSIG(status), rt);
        // And kill with one, untraced.
        let pid = Command::new("sleep").arg("5").spawn().unwrap().id() as i32;
        kill(pid, rt).unwrap();
        let (_, status) = wait_any(pid, 0).unwrap();
        assert!(libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == rt);
    }
}
