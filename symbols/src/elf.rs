//! An ELF file, read into memory: its symbols, build-id, static data and load bias.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol, SectionKind};

use crate::addr::FileAddr;
use crate::error::SymbolsError;
use crate::maps::Mapping;

/// A symbol's place in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Symbol {
    /// Its file virtual address.
    pub addr: FileAddr,
    /// Its size in bytes (0 when the symbol table does not say).
    pub size: u64,
}

/// A section or segment range whose bytes are in the file.
#[derive(Debug, Clone, Copy)]
struct FileRange {
    vaddr: u64,
    /// Bytes present in the file (may be less than the memory size).
    filesz: u64,
    offset: u64,
}

/// A `PT_LOAD` segment.
#[derive(Debug, Clone, Copy)]
struct Load {
    vaddr: u64,
    offset: u64,
    filesz: u64,
}

/// An ELF file and what was read from its headers.
pub struct ElfFile {
    path: PathBuf,
    /// The file's bytes. Read, not mmapped: the house rule keeps `unsafe` out of
    /// this crate, and reading a 30 MB libpython from the page cache takes ~10 ms.
    map: Vec<u8>,
    symbols: HashMap<String, Vec<Symbol>>,
    sections: Vec<FileRange>,
    loads: Vec<Load>,
    build_id: Option<Vec<u8>>,
    has_debug_info: bool,
}

impl std::fmt::Debug for ElfFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElfFile")
            .field("path", &self.path)
            .field("build_id", &self.build_id.as_deref().map(hex))
            .field("has_debug_info", &self.has_debug_info)
            .finish()
    }
}

/// Lower-case hex of some bytes (build-ids).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl ElfFile {
    /// Reads and parses an ELF file.
    pub fn open(path: &Path) -> Result<ElfFile, SymbolsError> {
        let io = |source| SymbolsError::Io {
            path: path.to_path_buf(),
            source,
        };
        let map = read_bounded(path).map_err(io)?;
        let parse_err = |what: String| SymbolsError::Parse {
            path: path.to_path_buf(),
            what,
        };
        let obj =
            object::File::parse(&*map).map_err(|e| parse_err(format!("not an ELF file: {e}")))?;
        if obj.format() != object::BinaryFormat::Elf {
            return Err(parse_err("not an ELF file".into()));
        }
        let mut symbols: HashMap<String, Vec<Symbol>> = HashMap::new();
        // .symtab first (it also has static symbols), then .dynsym.
        for sym in obj.symbols().chain(obj.dynamic_symbols()) {
            if sym.is_undefined() || sym.address() == 0 {
                continue;
            }
            let Ok(name) = sym.name() else { continue };
            if name.is_empty() {
                continue;
            }
            let s = Symbol {
                addr: FileAddr(sym.address()),
                size: sym.size(),
            };
            let v = symbols.entry(name.to_string()).or_default();
            if !v.contains(&s) {
                v.push(s);
            }
        }
        let mut sections = Vec::new();
        let mut has_debug_info = false;
        for sec in obj.sections() {
            if sec.name() == Ok(".debug_info") && sec.kind() != SectionKind::UninitializedData {
                has_debug_info = sec.size() > 0;
            }
            if sec.kind() == SectionKind::UninitializedData || sec.address() == 0 {
                continue;
            }
            if let Some((offset, filesz)) = sec.file_range() {
                sections.push(FileRange {
                    vaddr: sec.address(),
                    filesz,
                    offset,
                });
            }
        }
        let loads = obj
            .segments()
            .map(|seg| {
                let (offset, filesz) = seg.file_range();
                Load {
                    vaddr: seg.address(),
                    offset,
                    filesz,
                }
            })
            .collect();
        let build_id = obj.build_id().ok().flatten().map(|b| b.to_vec());
        Ok(ElfFile {
            path: path.to_path_buf(),
            map,
            symbols,
            sections,
            loads,
            build_id,
            has_debug_info,
        })
    }

    /// The path the file was opened with.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The GNU build-id note, if any.
    pub fn build_id(&self) -> Option<&[u8]> {
        self.build_id.as_deref()
    }

    /// The whole file's bytes.
    pub fn data(&self) -> &[u8] {
        &self.map
    }

    /// A symbol by name, from `.symtab` (static functions and objects too) then `.dynsym`.
    /// With several symbols of one name (file-local statics), the first.
    pub fn symbol(&self, name: &str) -> Option<Symbol> {
        self.symbols.get(name).and_then(|v| v.first().copied())
    }

    /// The bytes of a section by name (`None` if absent, NOBITS or compressed).
    pub fn section_data(&self, name: &str) -> Option<&[u8]> {
        let obj = object::File::parse(&*self.map).ok()?;
        let sec = obj.section_by_name(name)?;
        let (off, size) = sec
            .compressed_file_range()
            .ok()
            .filter(|r| r.format == object::CompressionFormat::None)
            .map(|r| (r.offset, r.compressed_size))?;
        let start = usize::try_from(off).ok()?;
        self.map
            .get(start..start.checked_add(usize::try_from(size).ok()?)?)
    }

    /// Every symbol of that name (file-local statics may repeat).
    pub fn symbols_named(&self, name: &str) -> &[Symbol] {
        self.symbols.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Whether the file has a non-empty `.debug_info`.
    pub fn has_debug_info(&self) -> bool {
        self.has_debug_info
    }

    /// Bytes of initialized data at a file vaddr (from the section/segment
    /// that holds it; `None` if NOBITS or out of range).
    pub fn read_static(&self, addr: FileAddr, len: usize) -> Option<&[u8]> {
        let len = len as u64;
        let end = addr.0.checked_add(len)?;
        let ranges = self
            .sections
            .iter()
            .copied()
            .chain(self.loads.iter().map(|l| FileRange {
                vaddr: l.vaddr,
                filesz: l.filesz,
                offset: l.offset,
            }));
        for r in ranges {
            if addr.0 >= r.vaddr && end <= r.vaddr.saturating_add(r.filesz) {
                let off = r.offset.checked_add(addr.0 - r.vaddr)?;
                let start = usize::try_from(off).ok()?;
                let stop = start.checked_add(usize::try_from(len).ok()?)?;
                return self.map.get(start..stop);
            }
        }
        None
    }

    /// `runtime_addr = file vaddr + bias`, computed from this file's `PT_LOAD`
    /// segments and its mappings in `/proc/PID/maps`. `None` when the file is
    /// not mapped there.
    pub fn load_bias(&self, maps: &[Mapping]) -> Option<u64> {
        let canon = std::fs::canonicalize(&self.path).ok();
        let ino = file_inode(&self.path);
        for m in maps {
            let Some(p) = &m.path else { continue };
            let same = p == &self.path
                || canon.as_deref() == Some(p.as_path())
                || (ino.is_some()
                    && ino == Some(m.inode)
                    && p.file_name() == self.path.file_name());
            if !same {
                continue;
            }
            // The mapping at file offset O lies in the PT_LOAD whose page-aligned
            // file range contains O; vaddr and offset are congruent mod the page
            // size, so bias = start - O - (p_vaddr - p_offset).
            for l in &self.loads {
                let page_off = l.offset & !0xfff;
                if m.offset >= page_off && m.offset < l.offset.saturating_add(l.filesz.max(1)) {
                    let bias = m
                        .start
                        .wrapping_sub(m.offset)
                        .wrapping_sub(l.vaddr.wrapping_sub(l.offset));
                    return Some(bias);
                }
            }
        }
        None
    }
}

/// An interpreter's ELF file with its separate debug file, if any, read as
/// one: what debug_offsets.rs and unicode.rs need of an interpreter, without
/// the rest of `PythonImage` (python.rs calls them, so they must not know it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ElfPair<'a> {
    /// The file that is mapped and run.
    pub(crate) main: &'a ElfFile,
    /// Its separate debug file (`None` when the DWARF is embedded).
    pub(crate) debug: Option<&'a ElfFile>,
}

impl<'a> ElfPair<'a> {
    /// The main file's path, for messages.
    pub(crate) fn path(self) -> &'a Path {
        self.main.path()
    }

    /// A symbol by name, from the main file then the debug file: a stripped
    /// library keeps `.symtab` (static functions and objects) only in the latter.
    pub(crate) fn symbol(self, name: &str) -> Option<Symbol> {
        self.main
            .symbol(name)
            .or_else(|| self.debug.and_then(|d| d.symbol(name)))
    }

    /// Every symbol of that name (main file, else debug file): file-local
    /// statics such as `index1` can repeat.
    pub(crate) fn symbols_named(self, name: &str) -> &'a [Symbol] {
        let main = self.main.symbols_named(name);
        if !main.is_empty() {
            return main;
        }
        self.debug.map(|d| d.symbols_named(name)).unwrap_or(&[])
    }

    /// Static initialized bytes, from the main file: a debug file's data
    /// sections are NOBITS.
    pub(crate) fn read_static(self, addr: FileAddr, len: usize) -> Option<&'a [u8]> {
        self.main.read_static(addr, len)
    }

    /// The file that holds the DWARF.
    pub(crate) fn dwarf_file(self) -> &'a ElfFile {
        self.debug.unwrap_or(self.main)
    }
}

/// Largest file we read: far above any libpython (~30 MB with DWARF), small
/// enough that a wrong path to a huge file fails instead of eating memory.
const MAX_FILE: u64 = 2 << 30;

fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let f = File::open(path)?;
    let len = f.metadata()?.len();
    if len > MAX_FILE {
        return Err(std::io::Error::other(format!(
            "file is {len} bytes, over the {MAX_FILE}-byte limit"
        )));
    }
    let mut buf = Vec::with_capacity(len as usize);
    f.take(MAX_FILE).read_to_end(&mut buf)?;
    Ok(buf)
}

fn file_inode(path: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| m.ino())
}
