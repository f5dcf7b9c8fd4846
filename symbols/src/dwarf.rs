//! A name index of the struct types in an ELF file's DWARF, and member lookup
//! by C member path (`interpreters.head`, `state.kind`).
//!
//! The index is built in one pass over every compilation unit, looking only at
//! the unit's top-level DIEs (C struct and typedef definitions live there).
//! The same struct is defined in many units; the first complete definition
//! wins, since any complete one describes the same layout.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use gimli::{AttributeValue, EndianSlice, RunTimeEndian, UnitOffset};
use object::{Object, ObjectSection};

use crate::elf::ElfFile;
use crate::error::SymbolsError;

/// The reader every DWARF structure here uses: a slice of the loaded sections.
pub type Reader<'a> = EndianSlice<'a, RunTimeEndian>;

/// How deep typedef chains and anonymous-member nesting may go: real headers
/// use 2-3 levels; the bound keeps a malicious file from looping us.
const MAX_DEPTH: usize = 16;

/// A DIE: the index of its unit in [`TypeIndex::units`] and its offset there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DieRef {
    unit: usize,
    offset: UnitOffset,
}

/// Where a member lies, from the start of the outermost struct of the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberPos {
    /// Offset in bits from the start of the outermost struct (a byte-aligned
    /// member has a multiple of 8).
    pub bit_offset: u64,
    /// Width in bits when the member is a bitfield.
    pub bit_size: Option<u64>,
    /// The member's type, for further path steps (`None` if DWARF gives none).
    ty: Option<DieRef>,
}

impl MemberPos {
    /// Byte offset (the byte holding the first bit for bitfields).
    pub fn byte_offset(&self) -> u64 {
        self.bit_offset / 8
    }
}

/// The decompressed DWARF sections of one ELF file.
pub struct DwarfData<'a> {
    sections: gimli::DwarfSections<Cow<'a, [u8]>>,
    endian: RunTimeEndian,
}

impl<'a> DwarfData<'a> {
    /// Loads (and decompresses) the DWARF sections of `elf`.
    pub fn load(elf: &'a ElfFile) -> Result<DwarfData<'a>, SymbolsError> {
        let path = elf.path();
        let obj =
            object::File::parse(elf.data()).map_err(|e| parse_err(path, format!("ELF: {e}")))?;
        let endian = if obj.is_little_endian() {
            RunTimeEndian::Little
        } else {
            RunTimeEndian::Big
        };
        let sections = gimli::DwarfSections::load(|id| -> Result<Cow<'a, [u8]>, SymbolsError> {
            match obj.section_by_name(id.name()) {
                Some(sec) => sec
                    .uncompressed_data()
                    .map_err(|e| parse_err(path, format!("section {}: {e}", id.name()))),
                None => Ok(Cow::Borrowed(&[][..])),
            }
        })?;
        Ok(DwarfData { sections, endian })
    }

    /// The `gimli::Dwarf` view of the sections.
    pub fn dwarf(&self) -> gimli::Dwarf<Reader<'_>> {
        self.sections.borrow(|s| EndianSlice::new(s, self.endian))
    }
}

/// Runs `f` on an index of the DWARF struct types of `file` (built on each
/// call: ~0.3 s for libpython; keep what you need from it). The index borrows
/// the loaded sections, hence a callback rather than a returned index.
pub fn with_types<T>(
    file: &ElfFile,
    f: impl FnOnce(&TypeIndex<'_>) -> T,
) -> Result<T, SymbolsError> {
    let data = DwarfData::load(file)?;
    let types = TypeIndex::build(&data, file.path())?;
    Ok(f(&types))
}

fn parse_err(path: &Path, what: String) -> SymbolsError {
    SymbolsError::Parse {
        path: path.to_path_buf(),
        what,
    }
}

/// Struct, union and typedef definitions by name.
pub struct TypeIndex<'a> {
    dwarf: gimli::Dwarf<Reader<'a>>,
    units: Vec<gimli::Unit<Reader<'a>>>,
    /// Complete `struct X` / `union X` definitions by tag.
    tags: HashMap<String, DieRef>,
    /// Typedefs by name (first seen).
    typedefs: HashMap<String, DieRef>,
    path: std::path::PathBuf,
}

impl<'a> TypeIndex<'a> {
    /// Indexes every top-level struct/union/typedef of every unit.
    pub fn build(data: &'a DwarfData<'a>, path: &Path) -> Result<TypeIndex<'a>, SymbolsError> {
        let dwarf = data.dwarf();
        let err = |e: gimli::Error| parse_err(path, format!("DWARF: {e}"));
        let mut units = Vec::new();
        let mut tags = HashMap::new();
        let mut typedefs = HashMap::new();
        let mut headers = dwarf.units();
        while let Some(header) = headers.next().map_err(err)? {
            let unit = match dwarf.unit(header) {
                Ok(u) => u,
                Err(e) => {
                    log::debug!("{}: skipping a DWARF unit: {e}", path.display());
                    continue;
                }
            };
            let idx = units.len();
            if let Err(e) = index_unit(&dwarf, &unit, idx, &mut tags, &mut typedefs) {
                log::debug!("{}: DWARF unit {idx} partly indexed: {e}", path.display());
            }
            units.push(unit);
        }
        log::debug!(
            "{}: {} units, {} struct tags, {} typedefs",
            path.display(),
            units.len(),
            tags.len(),
            typedefs.len()
        );
        Ok(TypeIndex {
            dwarf,
            units,
            tags,
            typedefs,
            path: path.to_path_buf(),
        })
    }

    /// The file the index was built from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A complete struct/union by typedef name or tag (`PyThreadState`, `_ts`).
    pub fn find_struct(&self, name: &str) -> Option<DieRef> {
        if let Some(&d) = self.tags.get(name) {
            return Some(d);
        }
        let td = *self.typedefs.get(name)?;
        self.strip(td)
    }

    /// The first of `names` that is a complete struct.
    pub fn find_any(&self, names: &[&str]) -> Option<DieRef> {
        names.iter().find_map(|n| self.find_struct(n))
    }

    /// `sizeof` the struct named by any of `names`.
    pub fn struct_size(&self, names: &[&str]) -> Option<u64> {
        let d = self.find_any(names)?;
        self.with_entry(d, |e| {
            e.attr_value(gimli::DW_AT_byte_size)
                .ok()
                .flatten()?
                .udata_value()
        })
        .flatten()
    }

    /// The position of a member path (`a.b.c`) in the struct named by any of `names`.
    pub fn member_path(&self, names: &[&str], path: &str) -> Option<MemberPos> {
        let mut cur = self.find_any(names)?;
        let mut pos = MemberPos {
            bit_offset: 0,
            bit_size: None,
            ty: None,
        };
        let mut steps = path.split('.').peekable();
        while let Some(step) = steps.next() {
            let m = self.member(cur, step, 0)?;
            pos.bit_offset = pos.bit_offset.checked_add(m.bit_offset)?;
            pos.bit_size = m.bit_size;
            pos.ty = m.ty;
            if steps.peek().is_some() {
                cur = self.strip(m.ty?)?;
            }
        }
        Some(pos)
    }

    /// Follows typedef/const/volatile to a struct or union; a declaration is
    /// replaced by the complete definition of the same tag.
    fn strip(&self, mut d: DieRef) -> Option<DieRef> {
        for _ in 0..MAX_DEPTH {
            let (tag, next, decl, name) = self.with_entry(d, |e| {
                let next = e.attr_value(gimli::DW_AT_type).ok().flatten();
                let decl = matches!(
                    e.attr_value(gimli::DW_AT_declaration).ok().flatten(),
                    Some(AttributeValue::Flag(true))
                );
                (e.tag(), next, decl, self.name_of(d.unit, e))
            })?;
            match tag {
                gimli::DW_TAG_structure_type | gimli::DW_TAG_union_type => {
                    if !decl {
                        return Some(d);
                    }
                    return self.tags.get(name.as_deref()?).copied();
                }
                gimli::DW_TAG_typedef
                | gimli::DW_TAG_const_type
                | gimli::DW_TAG_volatile_type
                | gimli::DW_TAG_atomic_type => {
                    d = self.resolve_ref(d.unit, next?)?;
                }
                _ => return None,
            }
        }
        None
    }

    /// Finds member `name` of struct `s`, looking through anonymous struct and
    /// union members as C does.
    fn member(&self, s: DieRef, name: &str, depth: usize) -> Option<MemberPos> {
        if depth > MAX_DEPTH {
            return None;
        }
        let unit = self.units.get(s.unit)?;
        let mut tree = unit.entries_tree(Some(s.offset)).ok()?;
        let root = tree.root().ok()?;
        let mut children = root.children();
        let mut anonymous = Vec::new();
        while let Ok(Some(child)) = children.next() {
            let e = child.entry();
            if e.tag() != gimli::DW_TAG_member {
                continue;
            }
            let pos = member_pos(e, s.unit, self);
            match self.name_of(s.unit, e) {
                Some(n) if n == name => return pos,
                None => {
                    if let Some(p) = pos {
                        anonymous.push(p);
                    }
                }
                _ => {}
            }
        }
        for a in anonymous {
            let inner = self.strip(a.ty?)?;
            if let Some(m) = self.member(inner, name, depth + 1) {
                return Some(MemberPos {
                    bit_offset: a.bit_offset.checked_add(m.bit_offset)?,
                    ..m
                });
            }
        }
        None
    }

    fn with_entry<T>(
        &self,
        d: DieRef,
        f: impl FnOnce(&gimli::DebuggingInformationEntry<Reader<'a>>) -> T,
    ) -> Option<T> {
        let unit = self.units.get(d.unit)?;
        let e = unit.entry(d.offset).ok()?;
        Some(f(&e))
    }

    fn name_of(
        &self,
        unit: usize,
        e: &gimli::DebuggingInformationEntry<Reader<'a>>,
    ) -> Option<String> {
        let u = self.units.get(unit)?;
        let v = e.attr_value(gimli::DW_AT_name).ok()??;
        let s = self.dwarf.attr_string(u, v).ok()?;
        Some(String::from_utf8_lossy(s.slice()).into_owned())
    }

    /// A type reference from an attribute of a DIE in unit `unit`.
    fn resolve_ref(&self, unit: usize, v: AttributeValue<Reader<'a>>) -> Option<DieRef> {
        match v {
            AttributeValue::UnitRef(offset) => Some(DieRef { unit, offset }),
            AttributeValue::DebugInfoRef(off) => {
                // Units are in section order: the last one starting at or before `off`.
                let i = self.units.partition_point(|u| {
                    u.header
                        .offset()
                        .as_debug_info_offset()
                        .is_some_and(|o| o <= off)
                });
                let i = i.checked_sub(1)?;
                let offset = off.to_unit_offset(&self.units[i].header)?;
                Some(DieRef { unit: i, offset })
            }
            _ => None,
        }
    }
}

/// Offset, bitfield position and type of one `DW_TAG_member`.
fn member_pos<'a>(
    e: &gimli::DebuggingInformationEntry<Reader<'a>>,
    unit: usize,
    idx: &TypeIndex<'a>,
) -> Option<MemberPos> {
    let attr = |a| e.attr_value(a).ok().flatten();
    let ty = attr(gimli::DW_AT_type).and_then(|v| idx.resolve_ref(unit, v));
    let bit_size = attr(gimli::DW_AT_bit_size).and_then(|v| v.udata_value());
    let byte_loc = match attr(gimli::DW_AT_data_member_location) {
        None => 0,
        Some(AttributeValue::Exprloc(expr)) => plus_uconst(expr.0)?,
        Some(v) => v.udata_value()?,
    };
    let mut bit_offset = byte_loc.checked_mul(8)?;
    if let Some(dbo) = attr(gimli::DW_AT_data_bit_offset).and_then(|v| v.udata_value()) {
        // DWARF 4+: bits from the start of the containing struct.
        bit_offset = bit_offset.checked_add(dbo)?;
    } else if let (Some(bo), Some(bs)) = (
        attr(gimli::DW_AT_bit_offset).and_then(|v| v.udata_value()),
        bit_size,
    ) {
        // DWARF 2/3: counted from the most significant bit of the storage unit
        // of DW_AT_byte_size bytes; little-endian targets only (x86_64, aarch64).
        let storage = attr(gimli::DW_AT_byte_size).and_then(|v| v.udata_value())?;
        let from_lsb = storage.checked_mul(8)?.checked_sub(bo)?.checked_sub(bs)?;
        bit_offset = bit_offset.checked_add(from_lsb)?;
    }
    Some(MemberPos {
        bit_offset,
        bit_size,
        ty,
    })
}

/// The constant of a `DW_OP_plus_uconst N` location expression (old DWARF).
fn plus_uconst(mut r: Reader<'_>) -> Option<u64> {
    use gimli::Reader as _;
    let op = r.read_u8().ok()?;
    if op != gimli::DW_OP_plus_uconst.0 {
        return None;
    }
    r.read_uleb128().ok()
}

fn index_unit<'a>(
    dwarf: &gimli::Dwarf<Reader<'a>>,
    unit: &gimli::Unit<Reader<'a>>,
    idx: usize,
    tags: &mut HashMap<String, DieRef>,
    typedefs: &mut HashMap<String, DieRef>,
) -> gimli::Result<()> {
    let mut tree = unit.entries_tree(None)?;
    let root = tree.root()?;
    let mut children = root.children();
    while let Some(child) = children.next()? {
        let e = child.entry();
        let tag = e.tag();
        let is_struct = tag == gimli::DW_TAG_structure_type || tag == gimli::DW_TAG_union_type;
        if !is_struct && tag != gimli::DW_TAG_typedef {
            continue;
        }
        let Some(name) = e.attr_value(gimli::DW_AT_name)? else {
            continue;
        };
        let Ok(name) = dwarf.attr_string(unit, name) else {
            continue;
        };
        let name = String::from_utf8_lossy(name.slice());
        let d = DieRef {
            unit: idx,
            offset: e.offset(),
        };
        if is_struct {
            let decl = matches!(
                e.attr_value(gimli::DW_AT_declaration)?,
                Some(AttributeValue::Flag(true))
            );
            if !decl && !tags.contains_key(name.as_ref()) {
                tags.insert(name.into_owned(), d);
            }
        } else if !typedefs.contains_key(name.as_ref()) {
            typedefs.insert(name.into_owned(), d);
        }
    }
    Ok(())
}
