//! The interpreter's version, read from its binary.

use std::fmt;

/// A CPython version, `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PythonVersion {
    pub major: u8,
    pub minor: u8,
    pub patch: u8,
}

impl PythonVersion {
    pub const fn new(major: u8, minor: u8, patch: u8) -> Self {
        PythonVersion {
            major,
            minor,
            patch,
        }
    }

    /// `(major, minor)`, the part that decides layouts.
    pub fn minor_pair(self) -> (u8, u8) {
        (self.major, self.minor)
    }
}

impl fmt::Display for PythonVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}
