//! Address and thread newtypes: a runtime address in the traced process is
//! never confused with an address in an ELF file or with a plain integer.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

/// An address in the traced process's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct RemoteAddr(pub u64);

impl RemoteAddr {
    /// The null pointer.
    pub const NULL: RemoteAddr = RemoteAddr(0);

    /// `self + off`, or `None` on overflow (target pointers are untrusted).
    pub fn offset(self, off: u64) -> Option<RemoteAddr> {
        self.0.checked_add(off).map(RemoteAddr)
    }

    /// `self + off` for a layout offset; wraps on overflow, which makes the
    /// following read fail instead of panicking.
    pub fn at(self, off: u32) -> RemoteAddr {
        RemoteAddr(self.0.wrapping_add(off as u64))
    }

    /// Whether this is the null pointer.
    pub fn is_null(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for RemoteAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// An OS thread id in the traced process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tid(pub i32);

impl fmt::Display for Tid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A multiplicative hash for addresses: SipHash costs more than the work a
/// lookup saves on the per-step path, and addresses are not chosen by an
/// adversary who could flood one bucket. The high half is folded in because
/// addresses are aligned.
#[derive(Default, Clone, Copy)]
pub struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }
}

/// A map keyed by address, with [`AddrHasher`].
pub type AddrMap<V> = HashMap<RemoteAddr, V, BuildHasherDefault<AddrHasher>>;
/// A set of addresses, with [`AddrHasher`].
pub type AddrSet = HashSet<RemoteAddr, BuildHasherDefault<AddrHasher>>;
