//! Reading the traced process's memory: the [`Memory`] trait every decoder
//! reads through, with batching, and its errors; [`procmem`] implements it
//! over `process_vm_readv` and `/proc/PID/mem`.

pub mod procmem;

use crate::addr::RemoteAddr;

/// A read of target memory failed (unmapped, or the process is gone).
#[derive(Debug, thiserror::Error)]
pub enum MemError {
    /// A read failed.
    #[error("cannot read {len} bytes of the target's memory at {addr}: {source}")]
    Read {
        /// Where.
        addr: RemoteAddr,
        /// How many bytes.
        len: usize,
        /// What the kernel said.
        source: std::io::Error,
    },
    /// A write failed.
    #[error("cannot write {len} bytes of the target's memory at {addr}: {source}")]
    Write {
        /// Where.
        addr: RemoteAddr,
        /// How many bytes.
        len: usize,
        /// What the kernel said.
        source: std::io::Error,
    },
    /// A read larger than any one read may be (a size read from the target
    /// is untrusted).
    #[error("refused to read {len} bytes at {addr}: over the {limit}-byte bound for one read")]
    TooLarge {
        /// Where.
        addr: RemoteAddr,
        /// How many bytes were asked for.
        len: usize,
        /// The bound.
        limit: usize,
    },
}

/// One range of a batched read.
#[derive(Debug, Clone, Copy)]
pub struct ReadReq {
    /// Where.
    pub addr: RemoteAddr,
    /// How many bytes.
    pub len: usize,
}

/// What the decoders know of a range of words they read, for the probe's
/// steps without a trap (docs/probe.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Words {
    /// Object pointers the decoders follow (a frame's locals, a list's
    /// items): the object one comes to point at is all a change brings.
    Slots,
    /// The bytes of an immutable object: they change only once it is freed
    /// and another made in its place.
    Frozen,
    /// A page of immutable objects a container holds, checked by its bytes
    /// (the mirror's held pages): frozen but where another read than of
    /// such an object or of the page says otherwise.
    Held,
    /// Not words: `len` is the longest immutable object (from its start)
    /// on the held pages noted, so far as its value goes.
    Extent,
}

/// Bytes larger than this are never read in one request: target sizes are untrusted.
pub const MAX_READ: usize = 64 << 20;

/// Read access to the traced process.
pub trait Memory {
    /// Read exactly `buf.len()` bytes at `addr`.
    fn read(&self, addr: RemoteAddr, buf: &mut [u8]) -> Result<(), MemError>;

    /// Read many ranges in as few system calls as possible. `out` receives
    /// the ranges back to back (its length must be the sum of the lengths);
    /// `ok[i]` says whether range `i` was read completely (an unreadable
    /// range is left zero-filled, and does not spoil the others).
    fn read_batch(&self, reqs: &[ReadReq], out: &mut [u8], ok: &mut Vec<bool>);

    /// Call `f` with the bytes of `[addr, addr + len)`: where they already
    /// are when this memory holds them (no copy), else read into `scratch`.
    /// False, and `f` not called, when they are unreadable. `f` must not
    /// read through this memory.
    fn view(
        &self,
        addr: RemoteAddr,
        len: usize,
        scratch: &mut Vec<u8>,
        f: &mut dyn FnMut(&[u8]),
    ) -> bool {
        view_by_read(self, addr, len, scratch, f)
    }

    /// A number naming this stop, when this memory can tell what changed
    /// since the previous stop ([`Memory::unchanged_since`]); 0 when not.
    fn stop_serial(&self) -> u64 {
        0
    }

    /// Whether `[addr, addr + len)` certainly holds what it held at stop
    /// `serial` (false when that cannot be told: only the previous stop's
    /// serial can answer true).
    fn unchanged_since(&self, _serial: u64, _addr: RemoteAddr, _len: usize) -> bool {
        false
    }

    /// For the page at page-aligned `page`: a mask of its 64-byte blocks
    /// (bit k: bytes 64k..64k+64) that may differ from what they were at
    /// stop `serial`; every other block certainly holds the same bytes.
    /// `None` when that cannot be told.
    fn changed_blocks_since(&self, _serial: u64, _page: RemoteAddr) -> Option<u64> {
        None
    }

    /// The words of `[addr, addr + len)`, just read, are `what`
    /// ([`Words`]); a memory that cannot use it ignores it.
    fn note(&self, _addr: RemoteAddr, _len: usize, _what: Words) {}

    /// Read a native-endian `u64`.
    fn read_u64(&self, addr: RemoteAddr) -> Result<u64, MemError> {
        let mut b = [0u8; 8];
        self.read(addr, &mut b)?;
        Ok(u64::from_ne_bytes(b))
    }

    /// Read a pointer.
    fn read_ptr(&self, addr: RemoteAddr) -> Result<RemoteAddr, MemError> {
        self.read_u64(addr).map(RemoteAddr)
    }

    /// Read `len` bytes into a new vector, refusing absurd lengths.
    fn read_vec(&self, addr: RemoteAddr, len: usize) -> Result<Vec<u8>, MemError> {
        if len > MAX_READ {
            return Err(MemError::TooLarge {
                addr,
                len,
                limit: MAX_READ,
            });
        }
        let mut v = vec![0u8; len];
        self.read(addr, &mut v)?;
        Ok(v)
    }
}

/// [`Memory::view`] by reading into `scratch` (what a memory that holds
/// no bytes of its own does).
pub fn view_by_read<M: Memory + ?Sized>(
    mem: &M,
    addr: RemoteAddr,
    len: usize,
    scratch: &mut Vec<u8>,
    f: &mut dyn FnMut(&[u8]),
) -> bool {
    scratch.resize(len, 0);
    if mem.read(addr, &mut scratch[..len]).is_err() {
        return false;
    }
    f(&scratch[..len]);
    true
}

/// Test memory: bytes at address 0x1000, counting the calls made to it.
#[cfg(test)]
pub(crate) mod testmem {
    use super::{MemError, Memory, ReadReq};
    use crate::addr::RemoteAddr;
    use std::cell::{Cell, RefCell};

    /// Memory over a byte vector at 0x1000 that counts its calls.
    pub(crate) struct VecMem {
        pub data: RefCell<Vec<u8>>,
        pub calls: Cell<u32>,
    }

    impl VecMem {
        pub fn new(data: Vec<u8>) -> VecMem {
            VecMem {
                data: RefCell::new(data),
                calls: Cell::new(0),
            }
        }

        /// The bytes at `[addr, addr + len)`, if all are held.
        pub fn get(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
            let off = usize::try_from(addr.checked_sub(0x1000)?).ok()?;
            self.data
                .borrow()
                .get(off..off.checked_add(len)?)
                .map(|s| s.to_vec())
        }
    }

    impl Memory for VecMem {
        fn read(&self, addr: RemoteAddr, buf: &mut [u8]) -> Result<(), MemError> {
            self.calls.set(self.calls.get() + 1);
            match self.get(addr.0, buf.len()) {
                Some(d) => {
                    buf.copy_from_slice(&d);
                    Ok(())
                }
                None => Err(MemError::Read {
                    addr,
                    len: buf.len(),
                    source: std::io::Error::from_raw_os_error(libc::EFAULT),
                }),
            }
        }

        fn read_batch(&self, reqs: &[ReadReq], out: &mut [u8], ok: &mut Vec<bool>) {
            self.calls.set(self.calls.get() + 1);
            ok.clear();
            let mut off = 0;
            for r in reqs {
                match self.get(r.addr.0, r.len) {
                    Some(d) => {
                        out[off..off + r.len].copy_from_slice(&d);
                        ok.push(true);
                    }
                    None => {
                        out[off..off + r.len].fill(0);
                        ok.push(false);
                    }
                }
                off += r.len;
            }
        }
    }
}
