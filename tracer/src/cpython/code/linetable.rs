//! The 3.11 location table (`co_linetable`, CPython's Objects/locations.md):
//! decoded once per code object into ranges of code units with their line
//! and PEP 657 position, as `co_lines()` / `co_positions()` see them.

/// One entry: code units `start..end` share this location. `None` parts are
/// what `co_positions()` returns as `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocEntry {
    pub start: u32,
    pub end: u32,
    pub line: Option<u32>,
    pub end_line: Option<u32>,
    pub col: Option<u32>,
    pub end_col: Option<u32>,
}

/// A decoded location table.
#[derive(Debug, Clone, Default)]
pub struct LocTable {
    entries: Vec<LocEntry>,
    /// The entry found last: consecutive steps of a frame look up the same
    /// or the next entries.
    last: Hint,
}

/// An index remembered across lookups (relaxed: only a starting guess).
#[derive(Debug, Default)]
struct Hint(std::sync::atomic::AtomicU32);

impl Clone for Hint {
    fn clone(&self) -> Self {
        Hint(self.0.load(std::sync::atomic::Ordering::Relaxed).into())
    }
}

/// Bound on the entries of one table (every entry covers at least one code
/// unit, and code objects are far smaller than this).
const MAX_ENTRIES: usize = 1 << 22;

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn byte(&mut self) -> Option<u8> {
        let v = *self.b.get(self.i)?;
        self.i += 1;
        Some(v)
    }
    fn varint(&mut self) -> Option<u64> {
        let mut b = self.byte()?;
        let mut val = (b & 63) as u64;
        let mut shift = 0u32;
        while b & 64 != 0 {
            b = self.byte()?;
            shift += 6;
            if shift > 60 {
                return None;
            }
            val |= ((b & 63) as u64) << shift;
        }
        Some(val)
    }
    fn svarint(&mut self) -> Option<i64> {
        let u = self.varint()?;
        Some(if u & 1 != 0 {
            -((u >> 1) as i64)
        } else {
            (u >> 1) as i64
        })
    }
}

fn to_opt(v: i64) -> Option<u32> {
    if v < 0 {
        None
    } else {
        u32::try_from(v).ok()
    }
}

impl LocTable {
    /// Decode `table` for a code object whose first line is `firstlineno`.
    /// A malformed table yields the entries decoded before the fault.
    pub fn decode(table: &[u8], firstlineno: i64) -> LocTable {
        let mut c = Cursor { b: table, i: 0 };
        let mut entries = Vec::new();
        let mut line = firstlineno;
        let mut unit: u32 = 0;
        while let Some(first) = c.byte() {
            if entries.len() >= MAX_ENTRIES || first & 0x80 == 0 {
                break;
            }
            let len = (first & 7) as u32 + 1;
            let code = (first >> 3) & 15;
            let (l, el, col, ecol): (i64, i64, i64, i64);
            match code {
                15 => {
                    (l, el, col, ecol) = (-1, -1, -1, -1);
                }
                14 => {
                    let Some(d) = c.svarint() else { break };
                    line = line.saturating_add(d);
                    let (Some(ed), Some(cc), Some(ec)) = (c.varint(), c.varint(), c.varint())
                    else {
                        break;
                    };
                    l = line;
                    el = line.saturating_add(ed as i64);
                    col = cc as i64 - 1;
                    ecol = ec as i64 - 1;
                }
                13 => {
                    let Some(d) = c.svarint() else { break };
                    line = line.saturating_add(d);
                    (l, el, col, ecol) = (line, line, -1, -1);
                }
                10..=12 => {
                    line += code as i64 - 10;
                    let (Some(cc), Some(ec)) = (c.byte(), c.byte()) else {
                        break;
                    };
                    (l, el, col, ecol) = (line, line, cc as i64, ec as i64);
                }
                _ => {
                    let Some(second) = c.byte() else { break };
                    let cc = ((code as i64) << 3) | ((second >> 4) as i64);
                    (l, el, col, ecol) = (line, line, cc, cc + (second & 15) as i64);
                }
            }
            let end = unit.saturating_add(len);
            entries.push(LocEntry {
                start: unit,
                end,
                line: to_opt(l),
                end_line: to_opt(el),
                col: to_opt(col),
                end_col: to_opt(ecol),
            });
            unit = end;
        }
        LocTable {
            entries,
            last: Hint::default(),
        }
    }

    /// A table from entries already decoded elsewhere (the line tables of
    /// 3.8-3.10, in `lnotab`): entries must be in code order and not overlap.
    pub fn from_entries(entries: Vec<LocEntry>) -> LocTable {
        LocTable {
            entries,
            last: Hint::default(),
        }
    }

    /// The entry covering code unit `unit`.
    pub fn entry(&self, unit: u32) -> Option<&LocEntry> {
        use std::sync::atomic::Ordering::Relaxed;
        let guess = self.last.0.load(Relaxed) as usize;
        for i in [guess, guess + 1] {
            if let Some(e) = self.entries.get(i) {
                if e.start <= unit && unit < e.end {
                    self.last.0.store(i as u32, Relaxed);
                    return Some(e);
                }
            }
        }
        let i = self.entries.partition_point(|e| e.end <= unit);
        self.last.0.store(i as u32, Relaxed);
        self.entries.get(i).filter(|e| e.start <= unit)
    }

    /// `PyCode_Addr2Line` for code unit `unit` (`None` where it has no line).
    pub fn line(&self, unit: u32) -> Option<u32> {
        self.entry(unit).and_then(|e| e.line)
    }

    /// Every entry, in code order.
    pub fn entries(&self) -> &[LocEntry] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_each_form() {
        // short form code 0, len 1: col = 0<<3 | 2 = 2, end = 2 + 3
        // one-line form code 11 (line +1), len 2: cols 4..9
        // no-columns code 13, len 1: line delta -1 (svarint 3)
        // long form code 14, len 1: +2 lines, end +1, col 0 (1), end 7 (8)
        // none code 15, len 3
        let t = [
            0x80,
            0x23, //
            0x80 | (11 << 3) | 1,
            4,
            9, //
            0x80 | (13 << 3),
            3, //
            0x80 | (14 << 3),
            4,
            1,
            1,
            8, //
            0x80 | (15 << 3) | 2,
        ];
        let lt = LocTable::decode(&t, 10);
        let e = lt.entries();
        assert_eq!(e.len(), 5);
        assert_eq!(
            (e[0].line, e[0].col, e[0].end_col),
            (Some(10), Some(2), Some(5))
        );
        assert_eq!(
            (e[1].start, e[1].end, e[1].line, e[1].col, e[1].end_col),
            (1, 3, Some(11), Some(4), Some(9))
        );
        assert_eq!((e[2].line, e[2].col), (Some(10), None));
        assert_eq!(
            (e[3].line, e[3].end_line, e[3].col, e[3].end_col),
            (Some(12), Some(13), Some(0), Some(7))
        );
        assert_eq!((e[4].line, e[4].start, e[4].end), (None, 5, 8));
        assert_eq!(lt.line(2), Some(11));
        assert_eq!(lt.line(6), None);
        assert!(lt.entry(8).is_none());
    }

    #[test]
    fn malformed_is_bounded() {
        let lt = LocTable::decode(&[0xf0, 0x7f, 0x7f], 1);
        assert!(lt.entries().len() <= 1);
        let lt = LocTable::decode(&[0x80], 1);
        assert!(lt.entries().is_empty());
    }
}
