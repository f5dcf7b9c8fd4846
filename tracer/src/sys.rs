//! The raw system calls the tracer needs, each wrapped in a safe function:
//! the only file of the project with `unsafe`. Callers get `io::Result`s and
//! plain integers; nothing here knows about breakpoints or CPython.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::OnceLock;

use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
use nix::unistd::Pid;

/// One remote range for `process_vm_readv`: laid out exactly like
/// `struct iovec` on Linux (a pointer-sized base and a `size_t` length), but
/// holding a plain integer because the address is never dereferenced here.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemoteIov {
    /// Address in the target.
    pub base: u64,
    /// Length in bytes.
    pub len: usize,
}

// The cast of `&[RemoteIov]` to `*const libc::iovec` below relies on this.
const _: () = assert!(std::mem::size_of::<RemoteIov>() == std::mem::size_of::<libc::iovec>());
const _: () = assert!(std::mem::align_of::<RemoteIov>() == std::mem::align_of::<libc::iovec>());

/// The kernel's limit on iovecs in one `process_vm_readv`.
pub const IOV_MAX: usize = 1024;

fn check(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// `process_vm_readv` of the `remote` ranges (at most [`IOV_MAX`]) into
/// `local`, back to back. Returns the number of bytes read; a short count
/// means the read stopped at the first unreadable remote range.
pub fn vm_readv(pid: i32, local: &mut [u8], remote: &[RemoteIov]) -> io::Result<usize> {
    let n = remote.len().min(IOV_MAX);
    let liov = libc::iovec {
        iov_base: local.as_mut_ptr().cast(),
        iov_len: local.len(),
    };
    // SAFETY: the one local iovec covers exactly `local`, which we borrow
    // mutably, so the kernel writes only into memory we own (it never writes
    // more than `local.len()` bytes); the remote iovecs are addresses in
    // another process and are only read by the kernel; RemoteIov has
    // iovec's layout (asserted above) and `n <= remote.len()`.
    let ret = unsafe {
        libc::process_vm_readv(
            pid,
            &liov,
            1,
            remote.as_ptr().cast::<libc::iovec>(),
            n as libc::c_ulong,
            0,
        )
    };
    check(ret as libc::c_long).map(|r| r as usize)
}

/// `process_vm_writev` of `local` to `addr` in the target. Returns the
/// number of bytes written (short if the range crosses into a page that is
/// unmapped or not writable).
pub fn vm_writev(pid: i32, local: &[u8], addr: u64) -> io::Result<usize> {
    let liov = libc::iovec {
        iov_base: local.as_ptr() as *mut libc::c_void,
        iov_len: local.len(),
    };
    let riov = RemoteIov {
        base: addr,
        len: local.len(),
    };
    // SAFETY: the kernel only reads `local` (borrowed for the call, length
    // exact) and writes into the other process; `riov` has iovec's layout.
    let ret = unsafe {
        libc::process_vm_writev(
            pid,
            &liov,
            1,
            (&riov as *const RemoteIov).cast::<libc::iovec>(),
            1,
            0,
        )
    };
    check(ret as libc::c_long).map(|r| r as usize)
}

/// A ptrace request that passes no pointers to our memory (CONT, DETACH,
/// SETOPTIONS, POKEDATA, INTERRUPT, ...). `addr` and `data` are integers to
/// the kernel for these requests.
fn ptrace_plain(req: libc::c_uint, tid: i32, addr: u64, data: u64) -> io::Result<()> {
    // SAFETY: for the requests routed here the kernel treats addr/data as
    // integers (or as addresses in the tracee), never as pointers into our
    // address space.
    let ret = unsafe {
        libc::ptrace(
            req,
            tid,
            addr as *mut libc::c_void,
            data as *mut libc::c_void,
        )
    };
    check(ret).map(|_| ())
}

/// `PTRACE_TRACEME` is requested by the child in [`traceme_on_exec`].
/// `PTRACE_SETOPTIONS`.
pub fn ptrace_setoptions(tid: i32, options: i32) -> io::Result<()> {
    ptrace_plain(libc::PTRACE_SETOPTIONS, tid, 0, options as u64)
}

/// `PTRACE_CONT`, delivering signal `sig` (0 for none).
pub fn ptrace_cont(tid: i32, sig: i32) -> io::Result<()> {
    ptrace_plain(libc::PTRACE_CONT, tid, 0, sig as u64)
}

/// `PTRACE_DETACH`, delivering signal `sig` (0 for none).
pub fn ptrace_detach(tid: i32, sig: i32) -> io::Result<()> {
    ptrace_plain(libc::PTRACE_DETACH, tid, 0, sig as u64)
}

/// `PTRACE_POKEDATA`: write one word at `addr` in the (stopped) tracee.
pub fn ptrace_poke(tid: i32, addr: u64, word: u64) -> io::Result<()> {
    ptrace_plain(libc::PTRACE_POKEDATA, tid, addr, word)
}

/// `PTRACE_PEEKDATA`: read one word at `addr` in the (stopped) tracee.
pub fn ptrace_peek(tid: i32, addr: u64) -> io::Result<u64> {
    clear_errno();
    // SAFETY: PEEKDATA returns the word; addr is an address in the tracee
    // and data is unused.
    let ret = unsafe {
        libc::ptrace(
            libc::PTRACE_PEEKDATA,
            tid,
            addr as *mut libc::c_void,
            0usize,
        )
    };
    if ret == -1 {
        // -1 is also a valid word: only errno tells them apart.
        let e = io::Error::last_os_error();
        if e.raw_os_error().unwrap_or(0) != 0 {
            return Err(e);
        }
    }
    Ok(ret as u64)
}

fn clear_errno() {
    // SAFETY: __errno_location returns this thread's errno slot, always valid.
    unsafe { *libc::__errno_location() = 0 };
}

/// `PTRACE_GETEVENTMSG`: the message of the last ptrace event (new thread id, ...).
pub fn ptrace_geteventmsg(tid: i32) -> io::Result<u64> {
    let mut msg: libc::c_ulong = 0;
    // SAFETY: the kernel writes one unsigned long to `data`, which points to
    // our local `msg`.
    let ret = unsafe {
        libc::ptrace(
            libc::PTRACE_GETEVENTMSG,
            tid,
            std::ptr::null_mut::<libc::c_void>(),
            &mut msg as *mut libc::c_ulong,
        )
    };
    check(ret).map(|_| msg as u64)
}

/// `PTRACE_GETREGS`.
pub fn ptrace_getregs(tid: i32) -> io::Result<libc::user_regs_struct> {
    let mut regs = std::mem::MaybeUninit::<libc::user_regs_struct>::uninit();
    // SAFETY: the kernel fills the whole user_regs_struct `data` points to.
    let ret = unsafe {
        libc::ptrace(
            libc::PTRACE_GETREGS,
            tid,
            std::ptr::null_mut::<libc::c_void>(),
            regs.as_mut_ptr(),
        )
    };
    check(ret)?;
    // SAFETY: the call succeeded, so the kernel initialised every byte.
    Ok(unsafe { regs.assume_init() })
}

/// `PTRACE_SETREGS`.
pub fn ptrace_setregs(tid: i32, regs: &libc::user_regs_struct) -> io::Result<()> {
    // SAFETY: the kernel only reads the user_regs_struct `data` points to.
    let ret = unsafe {
        libc::ptrace(
            libc::PTRACE_SETREGS,
            tid,
            std::ptr::null_mut::<libc::c_void>(),
            regs as *const libc::user_regs_struct,
        )
    };
    check(ret).map(|_| ())
}

/// `PTRACE_GETSIGINFO`: `(si_signo, si_code)` of the signal the tracee is
/// stopped for; fails with EINVAL in a group-stop.
pub fn ptrace_siginfo(tid: i32) -> io::Result<(i32, i32)> {
    let mut info = std::mem::MaybeUninit::<libc::siginfo_t>::zeroed();
    // SAFETY: the kernel fills the siginfo_t `data` points to.
    let ret = unsafe {
        libc::ptrace(
            libc::PTRACE_GETSIGINFO,
            tid,
            std::ptr::null_mut::<libc::c_void>(),
            info.as_mut_ptr(),
        )
    };
    check(ret)?;
    // SAFETY: zero-initialised and then filled by the kernel.
    let info = unsafe { info.assume_init() };
    Ok((info.si_signo, info.si_code))
}

/// `waitpid(pid, __WALL | __WNOTHREAD | extra)`: only children and tracees
/// of the calling thread, so several tracers in one process (test threads)
/// never reap each other's targets. Returns `(pid, status)`; pid 0 with
/// `WNOHANG` means nothing is ready.
pub fn wait_any(pid: i32, extra: i32) -> io::Result<(i32, i32)> {
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: the kernel writes one int to `status`, our local.
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

/// Send `sig` to one thread `tid` of process `pid`.
pub fn tgkill(pid: i32, tid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: tgkill takes three integers.
    let ret = unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, sig) };
    check(ret).map(|_| ())
}

/// Send `sig` to process `pid`.
pub fn kill(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: kill takes two integers.
    let ret = unsafe { libc::kill(pid, sig) };
    check(ret as libc::c_long).map(|_| ())
}

/// Ignore SIGINT and SIGQUIT in this process: while it records a program
/// launched in the same terminal, Ctrl-C is the program's to handle (the
/// program's end then ends the recording). Call it only after the child has
/// exec'd: an ignored signal stays ignored across exec.
pub fn ignore_interactive_signals() {
    for sig in [libc::SIGINT, libc::SIGQUIT] {
        // SAFETY: installing SIG_IGN, a constant disposition, has no handler code to be unsafe.
        unsafe { libc::signal(sig, libc::SIG_IGN) };
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
        ptrace_plain(libc::PTRACE_TRACEME as libc::c_uint, 0, 0, 0)
    };
    // SAFETY: the closure runs between fork and exec in the child and only
    // makes two system calls (sched_setaffinity, ptrace); it allocates
    // nothing and takes no locks, so it is async-signal-safe.
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

/// A file mapped shared and writable into the tracer: the probe's memory,
/// mapped in the target too. The target writes it only while one of its
/// threads runs the probe, before the trap that stops it; the tracer reads
/// and writes it while that thread is stopped (or before any runs it).
pub struct SharedMap {
    ptr: std::ptr::NonNull<u8>,
    len: usize,
}

impl SharedMap {
    /// Map the first `len` bytes of `file` (opened read-write) shared.
    pub fn new(file: &std::fs::File, len: usize) -> io::Result<SharedMap> {
        use std::os::fd::AsRawFd;
        // SAFETY: a fresh mapping chosen by the kernel (no address given), so
        // no existing memory of this process is affected; the result is checked.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = std::ptr::NonNull::new(ptr.cast::<u8>()).ok_or_else(io::Error::last_os_error)?;
        Ok(SharedMap { ptr, len })
    }

    /// The mapped bytes.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` bytes for as long as `self` lives; the
        // borrow of `self` bounds the slice's life.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The mapped bytes, writable.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, and `&mut self` makes this the only slice.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for SharedMap {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping `new` made; no slice of it
        // outlives `self`.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

impl std::fmt::Debug for SharedMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharedMap({:p}, {} bytes)", self.ptr, self.len)
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
}
