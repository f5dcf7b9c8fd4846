//! The interpreter's version, read from its binary.

use std::fmt;
use std::path::Path;

use crate::elf::ElfFile;
use crate::error::SymbolsError;

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

    /// Reads the version of the interpreter in `image`: `Py_Version`
    /// (`PY_VERSION_HEX`, exported by 3.11+) when present, else the
    /// `PY_VERSION` string in `.rodata`, checked against the `3.X` in the file
    /// name (`libpython3.X.so`, `python3.X`). A version outside 3.8..=3.13 is
    /// [`SymbolsError::UnsupportedVersion`], which carries the version found.
    pub fn detect(image: &ElfFile) -> Result<PythonVersion, SymbolsError> {
        let v = detect_any(image)?;
        if !v.is_supported() {
            return Err(SymbolsError::UnsupportedVersion {
                version: v,
                path: image.path().to_path_buf(),
            });
        }
        Ok(v)
    }
}

fn detect_any(image: &ElfFile) -> Result<PythonVersion, SymbolsError> {
    let from_name = minor_from_file_name(image.path());
    if let Some(sym) = image.symbol("Py_Version") {
        if let Some(b) = image.read_static(sym.addr, 4) {
            let hex = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            let v = PythonVersion::from_hex(hex);
            if v.major == 3 {
                return Ok(v);
            }
            log::warn!(
                "Py_Version in {} is {hex:#x}, not 3.x; trying .rodata",
                image.path().display()
            );
        }
    }
    let data = image
        .section_data(".rodata")
        .unwrap_or_else(|| image.data());
    let found = version_strings(data);
    // A build prefix or other path may contain a version-like string too;
    // trust the one agreeing with the file name, then the most frequent.
    let mut best: Option<(PythonVersion, usize)> = None;
    for (v, n) in &found {
        if from_name.is_some_and(|m| m != v.minor) {
            continue;
        }
        match best {
            Some((_, bn)) if bn >= *n => {}
            _ => best = Some((*v, *n)),
        }
    }
    best.map(|(v, _)| v)
        .ok_or_else(|| SymbolsError::UnknownVersion {
            path: image.path().to_path_buf(),
            why: format!(
                "no Py_Version symbol and no version string{} in .rodata",
                from_name.map(|m| format!(" 3.{m}.N")).unwrap_or_default()
            ),
        })
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
fn version_strings(data: &[u8]) -> Vec<(PythonVersion, usize)> {
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
