//! Addresses as they appear in an ELF file, before relocation at load time.

use std::fmt;

/// A virtual address as in the ELF file (not a runtime address): add the
/// file's load bias ([`crate::elf::ElfFile::load_bias`]) to get the address in
/// a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct FileAddr(pub u64);

impl FileAddr {
    /// The runtime address of this file address, given the load bias.
    pub fn runtime(self, bias: u64) -> u64 {
        self.0.wrapping_add(bias)
    }

    /// This address plus `off` bytes (saturating: file addresses never wrap).
    pub fn offset(self, off: u64) -> FileAddr {
        FileAddr(self.0.saturating_add(off))
    }
}

impl fmt::Display for FileAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}
