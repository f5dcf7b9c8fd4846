//! Which file is the interpreter, its version, and where its debug info is.
//!
//! This is the one file that knows a whole interpreter ([`PythonImage`]):
//! the readers it drives are given only what they need (debug_offsets.rs and
//! unicode.rs the ELF files and DWARF index, version.rs bytes and a path), so
//! none imports this file back.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::addr::FileAddr;
use crate::dwarf::TypeIndex;
use crate::elf::{hex, ElfFile, ElfPair, Symbol};
use crate::error::SymbolsError;
use crate::layout::Layout;
use crate::maps::Mapping;
use crate::unicode::{record_shape, UnicodePrintable};
use crate::version::{minor_from_file_name, version_strings, PythonVersion};
use crate::{debug_offsets, dwarf, resolve};

/// Where distributions install separate debug files, searched by build-id.
pub const DEFAULT_DEBUG_ROOT: &str = "/usr/lib/debug";

/// The symbol every CPython interpreter defines (3.7+).
const RUNTIME_SYMBOL: &str = "_PyRuntime";

/// Where the DWARF of the interpreter came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DebugSource {
    /// In the interpreter binary itself.
    Embedded,
    /// A separate file found by build-id (`/usr/lib/debug/.build-id/xx/yyyy.debug`).
    BuildId(PathBuf),
    /// A separate file given by the user (`--debug-file`).
    Given(PathBuf),
}

/// The ELF that holds the interpreter, with its debug info and version.
#[derive(Debug)]
pub struct PythonImage {
    /// The ELF that holds the interpreter (libpython3.X.so.1.0, or the executable if static).
    pub path: PathBuf,
    /// That file.
    pub elf: ElfFile,
    /// A separate debug file when the main one has no DWARF (`None` = embedded).
    pub debug: Option<ElfFile>,
    /// Where the DWARF came from.
    pub debug_source: DebugSource,
    /// The interpreter's version.
    pub version: PythonVersion,
    /// `(sizeof(_PyUnicode_TypeRecord), offsetof flags)`, noted while the DWARF
    /// is indexed for [`PythonImage::layout`] so that
    /// [`UnicodePrintable::load`] need not index it again.
    unicode_record: OnceLock<Option<(u64, u64)>>,
}

impl PythonImage {
    /// Opens an interpreter binary (libpython or a static python executable).
    /// Finds the debug info: a given `debug_file` wins, else embedded DWARF,
    /// else `/usr/lib/debug/.build-id/xx/yyyy.debug` by build-id. No DWARF
    /// anywhere is [`SymbolsError::NoDebugInfo`], saying where it looked.
    pub fn open(path: &Path, debug_file: Option<&Path>) -> Result<PythonImage, SymbolsError> {
        Self::open_with_roots(path, debug_file, &[PathBuf::from(DEFAULT_DEBUG_ROOT)])
    }

    /// [`PythonImage::open`] searching build-id debug files under `debug_roots`
    /// (each holding a `.build-id/` directory) instead of `/usr/lib/debug`.
    pub fn open_with_roots(
        path: &Path,
        debug_file: Option<&Path>,
        debug_roots: &[PathBuf],
    ) -> Result<PythonImage, SymbolsError> {
        let elf = ElfFile::open(path)?;
        if elf.symbol(RUNTIME_SYMBOL).is_none() {
            return Err(SymbolsError::NotPython {
                what: path.display().to_string(),
                checked: path.display().to_string(),
            });
        }
        Self::from_elf(elf, debug_file, debug_roots)
    }

    fn from_elf(
        elf: ElfFile,
        debug_file: Option<&Path>,
        debug_roots: &[PathBuf],
    ) -> Result<PythonImage, SymbolsError> {
        let path = elf.path().to_path_buf();
        let version = PythonVersion::detect(&elf)?;
        let (debug, debug_source) = find_debug(&elf, debug_file, debug_roots, version)?;
        log::debug!(
            "interpreter {} is Python {version}, DWARF: {debug_source:?}",
            path.display()
        );
        Ok(PythonImage {
            path,
            elf,
            debug,
            debug_source,
            version,
            unicode_record: OnceLock::new(),
        })
    }

    /// From a process's mappings (and its executable path): the mapped file
    /// that holds the interpreter (the one defining `_PyRuntime`, preferring a
    /// mapped `libpython*.so*`). Not CPython is [`SymbolsError::NotPython`].
    pub fn find_in_maps(
        maps: &[Mapping],
        exe: &Path,
        debug_file: Option<&Path>,
    ) -> Result<PythonImage, SymbolsError> {
        Self::find_in_maps_with_roots(maps, exe, debug_file, &[PathBuf::from(DEFAULT_DEBUG_ROOT)])
    }

    /// [`PythonImage::find_in_maps`] with other debug roots (see [`PythonImage::open_with_roots`]).
    pub fn find_in_maps_with_roots(
        maps: &[Mapping],
        exe: &Path,
        debug_file: Option<&Path>,
        debug_roots: &[PathBuf],
    ) -> Result<PythonImage, SymbolsError> {
        let mut candidates: Vec<PathBuf> = Vec::new();
        let mut push = |p: &Path| {
            if !candidates.iter().any(|c| c == p) {
                candidates.push(p.to_path_buf());
            }
        };
        let mapped: Vec<&Path> = maps.iter().filter_map(|m| m.path.as_deref()).collect();
        let name_has = |p: &Path, s: &str| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains(s))
        };
        for p in mapped.iter().filter(|p| name_has(p, "libpython")) {
            push(p);
        }
        push(exe);
        for p in mapped.iter().filter(|p| name_has(p, "python")) {
            push(p);
        }
        let mut checked = Vec::new();
        for c in &candidates {
            match ElfFile::open(c) {
                Ok(elf) if elf.symbol(RUNTIME_SYMBOL).is_some() => {
                    return Self::from_elf(elf, debug_file, debug_roots);
                }
                Ok(_) => checked.push(c.display().to_string()),
                Err(e) => {
                    log::debug!("not using {}: {e}", c.display());
                    checked.push(format!("{} (unreadable)", c.display()));
                }
            }
        }
        Err(SymbolsError::NotPython {
            what: format!("the process running {}", exe.display()),
            checked: checked.join(", "),
        })
    }

    /// The main file and the debug file, as the readers that need no more of
    /// the interpreter take them.
    pub(crate) fn files(&self) -> ElfPair<'_> {
        ElfPair {
            main: &self.elf,
            debug: self.debug.as_ref(),
        }
    }

    /// A symbol's file address, looked up in the main file then the debug file.
    pub fn symbol(&self, name: &str) -> Option<Symbol> {
        self.files().symbol(name)
    }

    /// Every symbol of that name (main file, else debug file): file-local
    /// statics such as `index1` can repeat.
    pub fn symbols_named(&self, name: &str) -> &[Symbol] {
        self.files().symbols_named(name)
    }

    /// Static initialized bytes (from the main file: a debug file has NOBITS sections).
    pub fn read_static(&self, addr: FileAddr, len: usize) -> Option<&[u8]> {
        self.files().read_static(addr, len)
    }

    /// The file that holds the DWARF.
    pub fn dwarf_file(&self) -> &ElfFile {
        self.files().dwarf_file()
    }

    /// Runs `f` on an index of the DWARF struct types (built on each call:
    /// ~0.3 s for libpython; keep what you need from it).
    pub fn with_types<T>(&self, f: impl FnOnce(&TypeIndex<'_>) -> T) -> Result<T, SymbolsError> {
        dwarf::with_types(self.dwarf_file(), f)
    }

    /// The struct layout (see layout.rs), resolved from DWARF for `self.version`.
    /// On 3.13+, also checked against `_Py_DebugOffsets` at the start of `_PyRuntime`.
    pub fn layout(&self) -> Result<Layout, SymbolsError> {
        let (layout, debug_offsets) = self.with_types(|types| {
            let _ = self.unicode_record.set(record_shape(types));
            let layout = resolve::resolve(types, self.version);
            let check = if self.version.minor >= 13 {
                debug_offsets::read(self.files(), types)
            } else {
                Ok(None)
            };
            (layout, check)
        })?;
        let layout = layout?;
        if let Some(dbg) = debug_offsets? {
            debug_offsets::check(&dbg, &layout)?;
        }
        Ok(layout)
    }
}

// Reading the version needs the ELF reader and the error type, which
// version.rs must not import (error.rs imports it), hence here.
impl PythonVersion {
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

// Here, not in unicode.rs: `PythonImage::layout` calls unicode.rs while it
// indexes the DWARF, so unicode.rs must not know `PythonImage`.
impl UnicodePrintable {
    /// Built from the interpreter's own `_PyUnicode_TypeRecords`, `index1` and
    /// `index2` (the two-level table `makeunicodedata.py` emits), found with
    /// [`PythonImage::symbol`] and read with [`PythonImage::read_static`]; the
    /// `_PyUnicode_TypeRecord` shape is the one [`PythonImage::layout`] noted,
    /// else it is read from the DWARF now. The table's `SHIFT` and element
    /// widths are derived from the arrays' sizes; every index is bounds-checked.
    pub fn load(image: &PythonImage) -> Result<UnicodePrintable, SymbolsError> {
        let shape = match image.unicode_record.get() {
            Some(s) => *s,
            None => image.with_types(record_shape).ok().flatten(),
        };
        UnicodePrintable::from_files(image.files(), shape)
    }
}

/// The separate debug file path for a build-id under `root`.
pub fn build_id_path(root: &Path, build_id: &[u8]) -> Option<PathBuf> {
    let (first, rest) = build_id.split_first()?;
    if rest.is_empty() {
        return None;
    }
    Some(
        root.join(".build-id")
            .join(format!("{first:02x}"))
            .join(format!("{}.debug", hex(rest))),
    )
}

fn find_debug(
    elf: &ElfFile,
    debug_file: Option<&Path>,
    roots: &[PathBuf],
    version: PythonVersion,
) -> Result<(Option<ElfFile>, DebugSource), SymbolsError> {
    if let Some(given) = debug_file {
        let dbg = ElfFile::open(given)?;
        check_build_id(elf, &dbg)?;
        if !dbg.has_debug_info() {
            return Err(SymbolsError::NoDebugInfo {
                path: elf.path().to_path_buf(),
                looked: format!("{} (given, but it has no .debug_info)", given.display()),
                minor: minor_text(elf, version),
            });
        }
        return Ok((Some(dbg), DebugSource::Given(given.to_path_buf())));
    }
    if elf.has_debug_info() {
        return Ok((None, DebugSource::Embedded));
    }
    let mut looked = vec![format!("{} (no .debug_info)", elf.path().display())];
    match elf.build_id() {
        None => {
            looked.push("/usr/lib/debug/.build-id/ (not searched: the file has no build-id)".into())
        }
        Some(id) => {
            for root in roots {
                let Some(p) = build_id_path(root, id) else {
                    continue;
                };
                if p.is_file() {
                    let dbg = ElfFile::open(&p)?;
                    if dbg.has_debug_info() {
                        check_build_id(elf, &dbg)?;
                        return Ok((Some(dbg), DebugSource::BuildId(p)));
                    }
                    looked.push(format!("{} (no .debug_info)", p.display()));
                } else {
                    looked.push(format!("{} (absent)", p.display()));
                }
            }
        }
    }
    Err(SymbolsError::NoDebugInfo {
        path: elf.path().to_path_buf(),
        looked: looked.join(", "),
        minor: minor_text(elf, version),
    })
}

fn minor_text(elf: &ElfFile, version: PythonVersion) -> String {
    let minor = minor_from_file_name(elf.path()).unwrap_or(version.minor);
    format!("3.{minor}")
}

fn check_build_id(main: &ElfFile, dbg: &ElfFile) -> Result<(), SymbolsError> {
    match (main.build_id(), dbg.build_id()) {
        (Some(a), Some(b)) if a != b => Err(SymbolsError::BuildIdMismatch {
            path: main.path().to_path_buf(),
            debug: dbg.path().to_path_buf(),
            main_id: hex(a),
            debug_id: hex(b),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_notes_the_unicode_record_shape() {
        let lib = &crate::pyenv("3.11.7/lib/libpython3.11.so.1.0");
        if !lib.exists() {
            return;
        }
        let img = PythonImage::open(lib, None).unwrap();
        let shape = img.with_types(record_shape).unwrap();
        assert!(shape.is_some());
        // layout() notes the shape so that load() does not index DWARF again.
        img.layout().unwrap();
        assert_eq!(img.unicode_record.get(), Some(&shape));
    }
}
