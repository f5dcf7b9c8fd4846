//! Line tables before 3.11, decoded into the same [`LocTable`] the 3.11
//! decoder uses (code units, lines only, no columns): `co_lnotab` of 3.8-3.9
//! and the PEP 626 `co_linetable` of 3.10. Lookups then answer exactly what
//! `PyCode_Addr2Line` answers for the byte offset `2 * unit`.

use super::linetable::{LocEntry, LocTable};

/// Bound on the entries of one table (each input pair yields at most one).
const MAX_ENTRIES: usize = 1 << 22;

/// Bytes per code unit (`sizeof(_Py_CODEUNIT)`): both tables count bytes.
const UNIT: i64 = 2;

fn entry(start: i64, end: i64, line: Option<i64>) -> Option<LocEntry> {
    let start = u32::try_from(start / UNIT).ok()?;
    let end = u32::try_from((end / UNIT).min(u32::MAX as i64)).ok()?;
    if end <= start {
        return None;
    }
    Some(LocEntry {
        start,
        end,
        line: line.and_then(|l| u32::try_from(l).ok()),
        end_line: None,
        col: None,
        end_col: None,
    })
}

/// 3.8-3.9 `co_lnotab`: pairs (address increment, signed line increment).
/// `PyCode_Addr2Line(co, a)` is `co_firstlineno` plus every line increment
/// whose pair's cumulative address is at most `a`; past the last pair the
/// last line holds up to the end of the code.
pub fn decode_lnotab(table: &[u8], firstlineno: i64) -> LocTable {
    let mut entries = Vec::new();
    let mut addr: i64 = 0;
    let mut line = firstlineno;
    for pair in table.chunks_exact(2) {
        if entries.len() >= MAX_ENTRIES {
            break;
        }
        let next = addr + pair[0] as i64;
        if next > addr {
            entries.extend(entry(addr, next, Some(line)));
            addr = next;
        }
        line += pair[1] as i8 as i64;
    }
    entries.extend(entry(addr, u32::MAX as i64 * UNIT, Some(line)));
    LocTable::from_entries(entries)
}

/// 3.10 `co_linetable`: pairs (byte length, signed line delta), delta -128
/// meaning "no line"; the running line advances even over empty ranges (as
/// `PyLineTable_NextAddressRange` does). Addresses past the table have no line.
pub fn decode_linetable_310(table: &[u8], firstlineno: i64) -> LocTable {
    let mut entries = Vec::new();
    let mut end: i64 = 0;
    let mut computed = firstlineno;
    for pair in table.chunks_exact(2) {
        if entries.len() >= MAX_ENTRIES {
            break;
        }
        let start = end;
        end += pair[0] as i64;
        let ldelta = pair[1] as i8;
        let line = if ldelta == -128 {
            None
        } else {
            computed += ldelta as i64;
            Some(computed)
        };
        entries.extend(entry(start, end, line));
    }
    LocTable::from_entries(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lnotab_lines() {
        // line 10 for bytes 0..6, +1 at 6, +2 at 10 (via a 0-byte step), -1 at 14
        let t = [6, 1, 4, 0, 0, 2, 4, 0xff];
        let lt = decode_lnotab(&t, 10);
        assert_eq!(lt.line(0), Some(10));
        assert_eq!(lt.line(2), Some(10));
        assert_eq!(lt.line(3), Some(11));
        assert_eq!(lt.line(5), Some(13));
        assert_eq!(lt.line(7), Some(12));
        assert_eq!(lt.line(1000), Some(12));
        assert_eq!(decode_lnotab(&[], 5).line(3), Some(5));
    }

    #[test]
    fn linetable_310_lines() {
        // 4 bytes at +0 (line 7), 0 bytes +3 (skipped, but counted),
        // 2 bytes no line, 6 bytes +1 (line 11)
        let t = [4, 0, 0, 3, 2, 0x80, 6, 1];
        let lt = decode_linetable_310(&t, 7);
        assert_eq!(lt.line(0), Some(7));
        assert_eq!(lt.line(1), Some(7));
        assert_eq!(lt.line(2), None);
        assert_eq!(lt.line(3), Some(11));
        assert_eq!(lt.line(5), Some(11));
        assert_eq!(lt.line(6), None);
    }
}
