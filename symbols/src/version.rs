//! A CPython version, and the text it is read from: `PY_VERSION_HEX`,
//! `PY_VERSION` strings and the `3.X` in file names.
//!
//! This file imports nothing of the crate: error.rs names a version in its
//! errors, so a version that knew the ELF reader or the error type would make
//! an import loop. Reading the version out of an interpreter binary
//! ([`PythonVersion::detect`]) is in python.rs, which knows both.

use std::fmt;
use std::path::Path;

/// A CPython version, `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PythonVersion {
    /// Always 3 for supported interpreters.
    pub major: u8,
    /// The part that decides layouts.
    pub minor: u8,
    /// Micro (patch) version.
    pub patch: u8,
}

impl PythonVersion {
    /// `major.minor.patch`.
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

/// Oldest and newest minor versions hindsight supports (3.8..=3.13).
pub const SUPPORTED_MINORS: std::ops::RangeInclusive<u8> = 8..=13;

impl PythonVersion {
    /// Whether hindsight supports this version (3.8..=3.13).
    pub fn is_supported(self) -> bool {
        self.major == 3 && SUPPORTED_MINORS.contains(&self.minor)
    }

    /// From a `PY_VERSION_HEX` value (`0x030B07F0` is 3.11.7).
    pub fn from_hex(hex: u32) -> PythonVersion {
        PythonVersion::new((hex >> 24) as u8, (hex >> 16) as u8, (hex >> 8) as u8)
    }
}

/// The `X` of `python3.X` / `libpython3.X.so...` in a file name.
pub fn minor_from_file_name(path: &Path) -> Option<u8> {
    let name = path.file_name()?.to_str()?;
    let i = name.find("python3.")?;
    let rest = &name[i + "python3.".len()..];
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// Every NUL-terminated `3.X.Y` (optionally `a1`/`b2`/`rc1`/`+`) in `data`
/// that is not preceded by a digit or dot, with its count. Linkers merge
/// string tails, so `PY_VERSION` is often the end of a longer string such as
/// the install prefix `/usr/lib/python3.10.13`-like paths; hence no check of
/// what precedes beyond "not part of a number".
pub(crate) fn version_strings(data: &[u8]) -> Vec<(PythonVersion, usize)> {
    let mut out: Vec<(PythonVersion, usize)> = Vec::new();
    let mut i = 0;
    while let Some(pos) = find(&data[i..], b"3.") {
        let at = i + pos;
        i = at + 2;
        if at > 0 && (data[at - 1].is_ascii_digit() || data[at - 1] == b'.') {
            continue;
        }
        if let Some(v) = parse_version_at(&data[at..]) {
            match out.iter_mut().find(|(x, _)| *x == v) {
                Some((_, n)) => *n += 1,
                None => out.push((v, 1)),
            }
        }
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Parses `3.X.Y[suffix]\0` at the start of `b`.
fn parse_version_at(b: &[u8]) -> Option<PythonVersion> {
    let mut nums = [0u32; 3];
    let mut idx = 0;
    let mut p = 0;
    for (k, n) in nums.iter_mut().enumerate() {
        let start = p;
        while p < b.len() && b[p].is_ascii_digit() && p - start < 3 {
            *n = *n * 10 + u32::from(b[p] - b'0');
            p += 1;
        }
        if p == start {
            return None;
        }
        idx = k;
        if k < 2 {
            if b.get(p) != Some(&b'.') {
                return None;
            }
            p += 1;
        }
    }
    debug_assert_eq!(idx, 2);
    // Optional pre-release suffix and local '+'.
    let rest = &b[p..];
    let mut q = 0;
    while q < rest.len() && q < 8 && (rest[q].is_ascii_alphanumeric() || rest[q] == b'+') {
        q += 1;
    }
    if rest.get(q) != Some(&0) {
        return None;
    }
    let suffix = &rest[..q];
    let ok_suffix = suffix.is_empty()
        || suffix == b"+"
        || [&b"a"[..], b"b", b"rc", b"c"].iter().any(|pre| {
            suffix.starts_with(pre)
                && suffix[pre.len()..]
                    .iter()
                    .all(|c| c.is_ascii_digit() || *c == b'+')
        });
    if !ok_suffix || nums[0] != 3 || nums[1] > 99 || nums[2] > 99 {
        return None;
    }
    Some(PythonVersion::new(3, nums[1] as u8, nums[2] as u8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_decodes() {
        assert_eq!(
            PythonVersion::from_hex(0x030B07F0),
            PythonVersion::new(3, 11, 7)
        );
        assert_eq!(
            PythonVersion::from_hex(0x030D00F0),
            PythonVersion::new(3, 13, 0)
        );
    }

    #[test]
    fn finds_tail_merged_version_string() {
        let data =
            b"xx\0/root/.pyenv/versions/3.10.13\0lib/python3.10\0v1.3.10.2\0 3.9.1rc2\0 3.8.x\0";
        let v = version_strings(data);
        assert!(v.contains(&(PythonVersion::new(3, 10, 13), 1)), "{v:?}");
        assert!(v.contains(&(PythonVersion::new(3, 9, 1), 1)), "{v:?}");
        assert_eq!(v.len(), 2, "{v:?}");
    }

    #[test]
    fn minor_from_names() {
        assert_eq!(
            minor_from_file_name(Path::new("/x/libpython3.11.so.1.0")),
            Some(11)
        );
        assert_eq!(
            minor_from_file_name(Path::new("/usr/bin/python3.8")),
            Some(8)
        );
        assert_eq!(minor_from_file_name(Path::new("/usr/bin/python3")), None);
    }
}
