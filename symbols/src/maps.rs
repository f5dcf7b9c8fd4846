//! `/proc/PID/maps`: which file is mapped where in a process.

use std::path::PathBuf;

use crate::error::SymbolsError;

/// One line of `/proc/PID/maps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// First address of the mapping.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// `rwxp`-style permissions.
    pub perms: String,
    /// Offset in the file of `start`.
    pub offset: u64,
    /// Inode of the mapped file (0 for anonymous mappings).
    pub inode: u64,
    /// The mapped file, `None` for anonymous and pseudo (`[heap]`, `[stack]`) mappings.
    /// A ` (deleted)` suffix is removed.
    pub path: Option<PathBuf>,
}

impl Mapping {
    /// Whether the mapping is executable.
    pub fn is_exec(&self) -> bool {
        self.perms.as_bytes().get(2) == Some(&b'x')
    }

    /// Whether `addr` is inside the mapping.
    pub fn contains(&self, addr: u64) -> bool {
        self.start <= addr && addr < self.end
    }
}

/// Parses the text of a `/proc/PID/maps` file. Malformed lines are skipped
/// (logged), never an error: the file is produced by the kernel, but a line
/// we do not understand must not hide the others.
pub fn parse_maps(text: &str) -> Vec<Mapping> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|line| {
            let m = parse_line(line);
            if m.is_none() {
                log::debug!("skipping unparsable maps line: {line:?}");
            }
            m
        })
        .collect()
}

fn parse_line(line: &str) -> Option<Mapping> {
    // Fields are separated by single spaces except before the path, which is
    // padded; the path itself may contain spaces, so split only 5 times.
    let mut it = line.splitn(6, ' ');
    let range = it.next()?;
    let perms = it.next()?;
    let offset = it.next()?;
    let _dev = it.next()?;
    let inode = it.next()?;
    let rest = it.next().unwrap_or("").trim_start();
    let (s, e) = range.split_once('-')?;
    let start = u64::from_str_radix(s, 16).ok()?;
    let end = u64::from_str_radix(e, 16).ok()?;
    if end < start || perms.len() != 4 {
        return None;
    }
    let offset = u64::from_str_radix(offset, 16).ok()?;
    let inode = inode.parse::<u64>().ok()?;
    let path = if rest.starts_with('/') {
        let p = rest.strip_suffix(" (deleted)").unwrap_or(rest);
        Some(PathBuf::from(p))
    } else {
        None
    };
    Some(Mapping {
        start,
        end,
        perms: perms.to_string(),
        offset,
        inode,
        path,
    })
}

/// Reads and parses `/proc/PID/maps`.
pub fn read_maps(pid: i32) -> Result<Vec<Mapping>, SymbolsError> {
    let path = PathBuf::from(format!("/proc/{pid}/maps"));
    let text =
        std::fs::read_to_string(&path).map_err(|source| SymbolsError::Io { path, source })?;
    Ok(parse_maps(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
55d0c8a00000-55d0c8a01000 r--p 00000000 08:01 1234567                    /usr/bin/python3.11
7f1e2c000000-7f1e2c100000 r-xp 00100000 fd:00 42 /root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0
7f1e2d000000-7f1e2d021000 rw-p 00000000 00:00 0                          [heap]
7f1e2e000000-7f1e2e001000 rw-p 00000000 00:00 0 
7f1e2f000000-7f1e2f001000 r--p 00002000 08:01 99                         /tmp/a dir/lib x.so (deleted)
garbage line
";

    #[test]
    fn parses_every_kind_of_line() {
        let m = parse_maps(SAMPLE);
        assert_eq!(m.len(), 5);
        assert_eq!(m[0].start, 0x55d0c8a00000);
        assert_eq!(m[0].end, 0x55d0c8a01000);
        assert_eq!(m[0].inode, 1234567);
        assert_eq!(
            m[0].path.as_deref(),
            Some(std::path::Path::new("/usr/bin/python3.11"))
        );
        assert!(m[1].is_exec());
        assert!(!m[0].is_exec());
        assert_eq!(m[1].offset, 0x100000);
        assert_eq!(m[2].path, None);
        assert_eq!(m[3].path, None);
        assert_eq!(
            m[4].path.as_deref(),
            Some(std::path::Path::new("/tmp/a dir/lib x.so"))
        );
        assert!(m[1].contains(0x7f1e2c000000));
        assert!(!m[1].contains(0x7f1e2c100000));
    }

    #[test]
    fn reads_own_maps() {
        let m = read_maps(std::process::id() as i32).unwrap();
        assert!(m.iter().any(|m| m.is_exec() && m.path.is_some()));
    }
}
