//! CPython's own "is printable" table (`Objects/unicodectype.c`), read out of
//! the interpreter binary so that `str` reprs escape exactly what that
//! interpreter escapes.
//!
//! This file reads the tables from the interpreter's ELF files only; the
//! public entry taking a whole interpreter, [`UnicodePrintable::load`], is in
//! python.rs, which calls `record_shape` here while it indexes the DWARF
//! (so this file cannot import python.rs back).

use crate::dwarf::TypeIndex;
use crate::elf::{ElfPair, Symbol};
use crate::error::SymbolsError;

/// `PRINTABLE_MASK` in unicodectype.c (the same in 3.8-3.13).
const PRINTABLE_MASK: u16 = 0x400;
/// One past the last code point.
const NCODES: u32 = 0x110000;
/// `sizeof(_PyUnicode_TypeRecord)` and the offset of its `flags` when DWARF
/// does not say: `{int upper, lower, title; uchar decimal, digit; ushort flags}`.
const RECORD_SIZE: u64 = 16;
const FLAGS_OFFSET: u64 = 14;

/// A bitset over every code point: printable per the interpreter's tables.
/// Made by [`UnicodePrintable::load`] (in python.rs).
#[derive(Debug, Clone)]
pub struct UnicodePrintable {
    bits: Vec<u64>,
}

impl UnicodePrintable {
    /// Built from the interpreter's own `_PyUnicode_TypeRecords`, `index1`,
    /// `index2` (the two-level table `makeunicodedata.py` emits), looked up
    /// and read in `files`. `shape` is [`record_shape`] from the DWARF, `None`
    /// for CPython's own (the same in 3.8-3.13). The table's `SHIFT` and
    /// element widths are not in the binary as such; they are derived from
    /// the arrays' sizes (see `split`), and every index is bounds-checked.
    pub(crate) fn from_files(
        files: ElfPair<'_>,
        shape: Option<(u64, u64)>,
    ) -> Result<UnicodePrintable, SymbolsError> {
        let bad = |what: String| SymbolsError::BadData {
            path: files.path().to_path_buf(),
            what,
        };
        let (rec_size, flags_off) = shape.unwrap_or((RECORD_SIZE, FLAGS_OFFSET));
        let records = one(files, "_PyUnicode_TypeRecords")?;
        let nrec = records.size / rec_size.max(1);
        if nrec == 0 || nrec > 0x10000 || flags_off + 2 > rec_size {
            return Err(bad(format!(
                "_PyUnicode_TypeRecords has {} bytes",
                records.size
            )));
        }
        let rec_bytes = read(files, records)?;
        let printable: Vec<bool> = (0..nrec as usize)
            .map(|i| {
                let o = i * rec_size as usize + flags_off as usize;
                u16::from_le_bytes([rec_bytes[o], rec_bytes[o + 1]]) & PRINTABLE_MASK != 0
            })
            .collect();
        // index1/index2 are file-local statics; a static interpreter may also
        // carry unicodedata's arrays of the same names: try every pair.
        let mut last_err = bad("no index1/index2 symbols".into());
        for i1 in files.symbols_named("index1") {
            for i2 in files.symbols_named("index2") {
                match build(files, *i1, *i2, &printable) {
                    Ok(t) => return Ok(t),
                    Err(e) => last_err = e,
                }
            }
        }
        Err(last_err)
    }

    /// Whether `str.isprintable()` is true for this code point in that interpreter.
    pub fn is_printable(&self, c: u32) -> bool {
        let c = if c >= NCODES { 0 } else { c };
        self.bits
            .get((c / 64) as usize)
            .is_some_and(|w| w >> (c % 64) & 1 == 1)
    }
}

/// `(sizeof(_PyUnicode_TypeRecord), offsetof(_PyUnicode_TypeRecord, flags))` from DWARF.
pub(crate) fn record_shape(t: &TypeIndex<'_>) -> Option<(u64, u64)> {
    let names = ["_PyUnicode_TypeRecord"];
    Some((
        t.struct_size(&names)?,
        t.member_path(&names, "flags")?.byte_offset(),
    ))
}

fn one(files: ElfPair<'_>, name: &str) -> Result<Symbol, SymbolsError> {
    files
        .symbol(name)
        .ok_or_else(|| SymbolsError::MissingSymbol {
            name: name.into(),
            path: files.path().to_path_buf(),
        })
}

fn read(files: ElfPair<'_>, s: Symbol) -> Result<&[u8], SymbolsError> {
    let len = usize::try_from(s.size).unwrap_or(usize::MAX);
    files
        .read_static(s.addr, len)
        .ok_or_else(|| SymbolsError::BadData {
            path: files.path().to_path_buf(),
            what: format!("cannot read {} bytes of static data at {}", s.size, s.addr),
        })
}

/// Smallest element width `makeunicodedata.py` picks for values up to `max`.
fn width_for(max: u64) -> u64 {
    match max {
        0..=0xff => 1,
        0x100..=0xffff => 2,
        _ => 4,
    }
}

fn get(bytes: &[u8], width: u64, i: usize) -> Option<u32> {
    let w = width as usize;
    let b = bytes.get(i.checked_mul(w)?..i.checked_mul(w)?.checked_add(w)?)?;
    Some(match w {
        1 => u32::from(b[0]),
        2 => u32::from(u16::from_le_bytes([b[0], b[1]])),
        _ => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
    })
}

/// `(shift, width1, width2)` consistent with the array sizes: `index2` holds
/// record numbers (width from the record count), `index1` block numbers
/// (width from the block count), and `index1` has `0x110000 >> shift` entries.
fn split(size1: u64, size2: u64, nrec: u64) -> Option<(u32, u64, u64)> {
    let w2 = width_for(nrec.saturating_sub(1));
    if size2.checked_rem(w2) != Some(0) {
        return None;
    }
    let len2 = size2 / w2;
    (1..=16u32).find_map(|shift| {
        let block = 1u64 << shift;
        if len2.checked_rem(block) != Some(0) {
            return None;
        }
        let len1 = u64::from(NCODES).div_ceil(block);
        let w1 = width_for((len2 / block).saturating_sub(1));
        (len1 * w1 == size1).then_some((shift, w1, w2))
    })
}

fn build(
    files: ElfPair<'_>,
    i1: Symbol,
    i2: Symbol,
    printable: &[bool],
) -> Result<UnicodePrintable, SymbolsError> {
    let bad = |what: String| SymbolsError::BadData {
        path: files.path().to_path_buf(),
        what,
    };
    let (shift, w1, w2) = split(i1.size, i2.size, printable.len() as u64).ok_or_else(|| {
        bad(format!(
            "index1/index2 sizes {}/{} fit no table shape",
            i1.size, i2.size
        ))
    })?;
    let b1 = read(files, i1)?;
    let b2 = read(files, i2)?;
    let mask = (1u32 << shift) - 1;
    let mut bits = vec![0u64; (NCODES as usize).div_ceil(64)];
    for c in 0..NCODES {
        let block = get(b1, w1, (c >> shift) as usize)
            .ok_or_else(|| bad(format!("index1 too short for U+{c:04X}")))?;
        let i = ((block as usize) << shift) + (c & mask) as usize;
        let rec = get(b2, w2, i)
            .ok_or_else(|| bad(format!("index1 points outside index2 at U+{c:04X}")))?;
        let p = printable
            .get(rec as usize)
            .copied()
            .ok_or_else(|| bad(format!("index2 points outside the records at U+{c:04X}")))?;
        if p {
            bits[(c / 64) as usize] |= 1 << (c % 64);
        }
    }
    log::debug!(
        "unicode printable table: shift {shift}, widths {w1}/{w2}, {} records",
        printable.len()
    );
    Ok(UnicodePrintable { bits })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_shape_from_dwarf_matches_the_fallback() {
        let lib = &crate::pyenv("3.11.7/lib/libpython3.11.so.1.0");
        if !lib.exists() {
            return;
        }
        let elf = crate::elf::ElfFile::open(lib).unwrap();
        let shape = crate::dwarf::with_types(&elf, record_shape).unwrap();
        assert_eq!(shape, Some((RECORD_SIZE, FLAGS_OFFSET)));
    }

    #[test]
    fn split_finds_the_3_11_shape() {
        // 3.11.7: index1 0x4400 bytes, index2 0x11800, 0x1f90/16 records.
        assert_eq!(split(0x4400, 0x11800, 0x1f90 / 16), Some((7, 2, 2)));
        assert_eq!(split(0x4400, 0x10e00, 0x1f70 / 16), Some((7, 2, 2)));
        assert_eq!(split(3, 5, 10), None);
    }
}
