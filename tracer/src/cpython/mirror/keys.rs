//! What shows an object unchanged without decoding it again: the bytes of
//! an immutable atom after its refcount (its key), and a dict's version tag.

use store::Node;

use crate::addr::RemoteAddr;
use crate::cpython::objects::atoms::int_sign;
use crate::cpython::objects::read::{i64_at, ptr_at, read_upto, u32_at, u64_at};
use crate::cpython::Python;
use crate::memory::Memory;
use values::kinds;

/// Bytes read at an object not seen before (the mirror's window).
pub(super) const WINDOW: usize = 160;
/// Atoms longer than this are decoded at every visit instead.
const MAX_KEY: usize = 4096;

/// The version tag of the exact `dict` whose first bytes are `data`, and
/// whether it is reached too deep for items (`None` for anything else, or a
/// dict without a version).
pub(super) fn dict_tag(py: &Python, data: &[u8], deep: bool) -> Option<(u64, bool)> {
    if ptr_at(data, py.layout.object.ob_type)? != py.types.dict {
        return None;
    }
    let v = u64_at(data, py.layout.objects.dict_ma_version_tag)?;
    (v != 0).then_some((v, deep))
}

/// What says a list's items are the ones it had: its type, size and item
/// array (from its window), the number of items read, whether it was too
/// deep for items, and the stop at which its items were those.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ListFp {
    pub head: [u64; 3],
    pub read: usize,
    pub deep: bool,
    pub serial: u64,
}

/// The type, size and item array pointer of an exact `list` in `data`.
pub(super) fn list_head(py: &Python, data: &[u8]) -> Option<[u64; 3]> {
    let ty = ptr_at(data, py.layout.object.ob_type)?;
    if ty != py.types.list {
        return None;
    }
    Some([
        ty.0,
        u64_at(data, py.layout.object.ob_size)?,
        u64_at(data, py.layout.objects.list_ob_item)?,
    ])
}

/// The validation key of an atom whose node depends on nothing but its own
/// bytes after the refcount (exact `int`, `bool`, `float`, `complex`, `str`,
/// `bytes`, `None`), when the whole object is inside `data`; else empty.
///
/// An atom that goes on past its window (a page end cut it) is read whole.
pub(super) fn atom_key(
    py: &Python,
    node: &Node,
    data: &[u8],
    mem: &dyn Memory,
    addr: RemoteAddr,
) -> Vec<u8> {
    if node.kind != kinds::ATOM {
        return Vec::new();
    }
    // A window cut by a page end may not even hold the size fields.
    let end = match atom_end(py, data) {
        Some(end) => Some(end),
        None if data.len() < WINDOW => read_upto(mem, addr, 96, 32)
            .ok()
            .filter(|more| more.get(..data.len()) == Some(data))
            .and_then(|more| atom_end(py, &more)),
        None => None,
    };
    let end = match end {
        Some(end) if end <= data.len() => end,
        Some(end) if end <= MAX_KEY => {
            let Ok(whole) = mem.read_vec(addr, end) else {
                return Vec::new();
            };
            // The object must still be the one just decoded.
            if whole.get(..data.len()) != Some(data) {
                return Vec::new();
            }
            return whole[8..].to_vec();
        }
        _ => return Vec::new(),
    };
    match data.get(8..end) {
        Some(k) if end > 8 => k.to_vec(),
        _ => Vec::new(),
    }
}

/// Where the atom starting `data` ends.
fn atom_end(py: &Python, data: &[u8]) -> Option<usize> {
    let t = &py.types;
    let o = &py.layout.objects;
    let ob = &py.layout.object;
    let ty = ptr_at(data, ob.ob_type)?;
    let size = || i64_at(data, ob.ob_size).map(|s| s.unsigned_abs() as usize);
    let end = if ty == t.none {
        ob.ob_type as usize + 8
    } else if ty == t.int || ty == t.bool_ {
        let digits = int_sign(py, data).ok()?.1 as usize;
        o.long_digit as usize + 4 * digits.max(1)
    } else if ty == t.float {
        o.float_ob_fval as usize + 8
    } else if ty == t.complex {
        o.complex_cval as usize + 16
    } else if ty == t.bytes {
        o.bytes_ob_sval as usize + size()? + 1
    } else if ty == t.str_ {
        let len = usize::try_from(i64_at(data, o.unicode_length)?).ok()?;
        let state = u32_at(data, o.unicode_state)?;
        let bit = |b: u32, w: u32| (state >> b) & ((1 << w) - 1);
        let kind = bit(o.unicode_state_kind_bit, py.facts.strs.kind_bits);
        let compact = bit(o.unicode_state_compact_bit, 1) == 1;
        let ascii = bit(o.unicode_state_ascii_bit, 1) == 1;
        let width = py.facts.strs.char_width(kind).filter(|_| compact)?;
        let head = if ascii {
            o.ascii_size
        } else {
            o.compact_unicode_size
        } as usize;
        head.checked_add(len.checked_add(1)?.checked_mul(width)?)?
    } else {
        return None;
    };
    (end > 8).then_some(end)
}
