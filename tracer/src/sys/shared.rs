//! The memory the tracer shares with the probe in the target
//! ([`SharedMap`]: a file mapped shared and writable), and the
//! [`Watchdog`] process that makes the probe harmless through its own copy
//! of that mapping when hindsight ends. Part of the `sys` module, the one
//! allowed `unsafe`: each block says why it is sound.

use std::io;
use std::num::NonZeroUsize;
use std::ptr::NonNull;

use nix::sys::mman::{mmap, munmap, MapFlags, ProtFlags};

use super::wait_any;

/// A file mapped shared and writable into the tracer: the probe's memory,
/// mapped in the target too. The target writes it only while one of its
/// threads runs the probe, before the trap that stops it; the tracer reads
/// and writes it while that thread is stopped (or before any runs it).
pub struct SharedMap {
    ptr: NonNull<u8>,
    len: usize,
}

impl SharedMap {
    /// Map the first `len` bytes of `file` (opened read-write) shared.
    pub fn new(file: &std::fs::File, len: usize) -> io::Result<SharedMap> {
        // A zero length is refused as mmap itself would refuse it.
        let length =
            NonZeroUsize::new(len).ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: nix marks mmap unsafe because a mapping may alias memory
        // Rust already uses; this is a fresh mapping at an address the
        // kernel chooses (none given), so no existing memory of this process
        // is affected. Its bytes are only reached through `bytes` and
        // `bytes_mut`, whose borrows of `self` end before `drop` unmaps it.
        let ptr = unsafe {
            mmap(
                None,
                length,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
                file,
                0,
            )
        }?;
        Ok(SharedMap {
            ptr: ptr.cast::<u8>(),
            len,
        })
    }

    /// The mapped bytes.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` bytes for as long as `self` lives; the
        // borrow of `self` bounds the slice's life.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The 8-byte word at byte `off` (a multiple of 8), loaded with acquire
    /// ordering: what the other side wrote before it stored that word is
    /// visible in `bytes` afterwards. `None` outside the mapping.
    pub fn load_acquire(&self, off: usize) -> Option<u64> {
        if !off.is_multiple_of(8) || off.checked_add(8)? > self.len {
            return None;
        }
        // SAFETY: the word lies inside the mapping (checked above), is
        // 8-byte aligned (the mapping starts on a page), and `AtomicU64` has
        // the size and alignment of `u64`; the borrow of `self` keeps the
        // mapping alive for the load.
        let word = unsafe {
            &*self
                .ptr
                .as_ptr()
                .add(off)
                .cast::<std::sync::atomic::AtomicU64>()
        };
        Some(word.load(std::sync::atomic::Ordering::Acquire))
    }

    /// The mapped bytes, writable.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, and `&mut self` makes this the only slice.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for SharedMap {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping `new` made (same address and
        // length); no slice of it outlives `self`.
        let _ = unsafe { munmap(self.ptr.cast(), self.len) };
    }
}

/// A process of ours that outlives hindsight only to make the probe
/// harmless: it waits on a pipe whose other end only hindsight holds, and
/// when that end closes (hindsight ended, however: killed too) it writes
/// the given words and byte into the probe's memory (no ranges, no frame
/// armed, the trap a `nop`) through its copy of the shared mapping, and
/// exits. A program hindsight was attached to then runs on whatever
/// happened to hindsight.
#[derive(Debug)]
pub struct Watchdog {
    pid: i32,
    end: Option<std::os::fd::OwnedFd>,
}

impl SharedMap {
    /// Start the [`Watchdog`] of this mapping: at the end, the 8-byte
    /// `words` (offset, value) and then `byte` (offset, value) are written.
    /// Offsets outside the mapping are refused.
    pub fn watchdog(&self, words: &[(usize, u64)], byte: (usize, u8)) -> io::Result<Watchdog> {
        let fits = words.iter().all(|&(o, _)| o % 8 == 0 && o + 8 <= self.len);
        if !fits || byte.0 >= self.len || words.len() > 8 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let mut plan = [(0usize, 0u64); 8];
        plan[..words.len()].copy_from_slice(words);
        let n = words.len();
        let (rx, tx) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        let base = self.ptr.as_ptr();
        // SAFETY: fork is unsafe in a process with threads because only
        // async-signal-safe calls may follow in the child; the child below
        // makes only signal, close, read, plain writes to memory it maps
        // and _exit, and allocates nothing (`plan` is on the stack).
        match unsafe { nix::unistd::fork() }? {
            nix::unistd::ForkResult::Child => {
                use std::os::fd::AsRawFd;
                // SAFETY: async-signal-safe calls on descriptors and
                // signals of this process; the writes stay inside the
                // mapping (offsets checked above) the child inherited.
                unsafe {
                    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
                        libc::signal(sig, libc::SIG_IGN);
                    }
                    libc::close(tx.as_raw_fd());
                    let mut b = 0u8;
                    loop {
                        let r = libc::read(rx.as_raw_fd(), (&mut b as *mut u8).cast(), 1);
                        if r == 0 || (r < 0 && *libc::__errno_location() != libc::EINTR) {
                            break;
                        }
                    }
                    // The byte first (the trap's int3 made harmless),
                    // then the words.
                    base.add(byte.0).write_volatile(byte.1);
                    for &(off, v) in &plan[..n] {
                        base.add(off).cast::<u64>().write_volatile(v);
                    }
                    libc::_exit(0);
                }
            }
            nix::unistd::ForkResult::Parent { child } => {
                drop(rx);
                Ok(Watchdog {
                    pid: child.as_raw(),
                    end: Some(tx),
                })
            }
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        // Closing our end is its signal; then it is reaped.
        drop(self.end.take());
        let _ = wait_any(self.pid, 0);
    }
}

impl std::fmt::Debug for SharedMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SharedMap({:p}, {} bytes)", self.ptr, self.len)
    }
}
