//! Type objects as the decoder sees them: which builtin an exact type is,
//! a type's shown name (`module.qualname`), its flags, sizes, dict offset and
//! `__slots__`, read once and cached per type object.

use std::sync::Arc;

use super::atoms::{read_name, tuple_items};
use super::read::{c_string, i64_at, ptr_at, read_upto, u32_at, u64_at};
use crate::addr::RemoteAddr;
use crate::cpython::dicts;
use crate::cpython::{Caches, Python};
use crate::memory::Memory;

/// Which builtin an exact type is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Builtin {
    None,
    Bool,
    Int,
    Float,
    Complex,
    Str,
    Bytes,
    ByteArray,
    Range,
    List,
    Tuple,
    Dict,
    Set,
    FrozenSet,
    Other,
}

/// What the decoder knows about one type object.
#[derive(Debug)]
pub(crate) struct TypeInfo {
    pub name: Arc<str>,
    pub flags: u64,
    pub basicsize: i64,
    pub itemsize: i64,
    pub dictoffset: i64,
    pub builtin: Builtin,
    pub cached_keys: RemoteAddr,
    /// `__slots__` members (`T_OBJECT_EX`) of the heap types of the MRO.
    pub slots: Vec<(Arc<str>, i64)>,
    fingerprint: [u64; 3],
}

/// Type information for the type object at `tp`, cached (heap types are
/// re-validated once per snapshot, as a type's address can be reused).
pub(crate) fn type_info(
    mem: &dyn Memory,
    py: &Python,
    caches: &mut Caches,
    tp: RemoteAddr,
) -> Result<Arc<TypeInfo>, String> {
    if let Some(t) = caches.types.get(&tp) {
        if t.flags & py.facts.types.heap_type == 0 || caches.types_checked.contains(&tp) {
            return Ok(t.clone());
        }
    }
    let tl = &py.layout.type_;
    let full = tl.heap_type_size as usize;
    let min = (tl.tp_flags as usize + 8)
        .max(tl.tp_dictoffset as usize + 8)
        .max(tl.tp_mro as usize + 8);
    let buf = read_upto(mem, tp, full, min).map_err(|e| format!("bad type pointer {tp}: {e}"))?;
    let flags = u64_at(&buf, tl.tp_flags).unwrap_or(0);
    let name_ptr = ptr_at(&buf, tl.tp_name).unwrap_or_default();
    let basicsize = i64_at(&buf, tl.tp_basicsize).unwrap_or(0);
    let fp = [name_ptr.0, flags, basicsize as u64];
    if let Some(t) = caches.types.get(&tp) {
        if t.fingerprint == fp {
            caches.types_checked.insert(tp);
            return Ok(t.clone());
        }
    }
    // The type of a type is a type: its own type must be readable.
    if basicsize <= 0 || basicsize > (1 << 24) {
        return Err(format!("bad type pointer {tp}: basic size {basicsize}"));
    }
    let heap = flags & py.facts.types.heap_type != 0;
    let t = &py.types;
    let builtin = match tp {
        _ if tp == t.none => Builtin::None,
        _ if tp == t.bool_ => Builtin::Bool,
        _ if tp == t.int => Builtin::Int,
        _ if tp == t.float => Builtin::Float,
        _ if tp == t.complex => Builtin::Complex,
        _ if tp == t.str_ => Builtin::Str,
        _ if tp == t.bytes => Builtin::Bytes,
        _ if tp == t.bytearray => Builtin::ByteArray,
        _ if tp == t.range => Builtin::Range,
        _ if tp == t.list => Builtin::List,
        _ if tp == t.tuple => Builtin::Tuple,
        _ if tp == t.dict => Builtin::Dict,
        _ if tp == t.set => Builtin::Set,
        _ if tp == t.frozenset => Builtin::FrozenSet,
        _ => Builtin::Other,
    };
    let tp_name =
        c_string(mem, name_ptr, 1024).map_err(|e| format!("type name at {name_ptr}: {e}"))?;
    let name: Arc<str> = if heap {
        heap_type_name(mem, py, caches, &buf).unwrap_or_else(|| Arc::from(tp_name.as_str()))
    } else {
        Arc::from(tp_name.as_str())
    };
    let slots = if heap {
        slots_of(mem, py, caches, &buf)
    } else {
        Vec::new()
    };
    let info = Arc::new(TypeInfo {
        name,
        flags,
        basicsize,
        itemsize: i64_at(&buf, tl.tp_itemsize).unwrap_or(0),
        dictoffset: i64_at(&buf, tl.tp_dictoffset).unwrap_or(0),
        builtin,
        cached_keys: if heap {
            ptr_at(&buf, tl.ht_cached_keys).unwrap_or_default()
        } else {
            RemoteAddr::NULL
        },
        slots,
        fingerprint: fp,
    });
    if caches.types.len() > 100_000 {
        caches.types.clear();
    }
    caches.types.insert(tp, info.clone());
    caches.types_checked.insert(tp);
    Ok(info)
}

/// `__module__` + "." + `__qualname__` (without the module for builtins).
fn heap_type_name(
    mem: &dyn Memory,
    py: &Python,
    caches: &mut Caches,
    buf: &[u8],
) -> Option<Arc<str>> {
    let tl = &py.layout.type_;
    let qual = read_name(mem, py, caches, ptr_at(buf, tl.ht_qualname)?).ok()?;
    let dict = ptr_at(buf, tl.tp_dict)?;
    let mut module = None;
    if let Ok(items) = dicts::dict_items(mem, py, dict, 100_000) {
        for (k, v) in items.items {
            if read_name(mem, py, caches, k).ok().as_deref() == Some("__module__") {
                module = read_name(mem, py, caches, v).ok();
                break;
            }
        }
    }
    Some(match module {
        Some(m) if &*m != "builtins" => Arc::from(format!("{m}.{qual}")),
        _ => qual,
    })
}

/// The `T_OBJECT_EX` members of every heap type in the MRO (`__slots__`).
fn slots_of(
    mem: &dyn Memory,
    py: &Python,
    caches: &mut Caches,
    buf: &[u8],
) -> Vec<(Arc<str>, i64)> {
    let tl = &py.layout.type_;
    let md = &py.layout.member_def;
    let mut out = Vec::new();
    let Some(mro) = ptr_at(buf, tl.tp_mro) else {
        return out;
    };
    let Ok(types) = tuple_items(mem, py, mro, 256) else {
        return out;
    };
    let msize = md.size as usize;
    if msize == 0 {
        return out;
    }
    for t in types {
        let Ok(hdr) = mem.read_vec(t, tl.heap_type_size as usize) else {
            continue;
        };
        let flags = u64_at(&hdr, tl.tp_flags).unwrap_or(0);
        if flags & py.facts.types.heap_type == 0 {
            continue;
        }
        let n = i64_at(&hdr, py.layout.object.ob_size).unwrap_or(0);
        if !(1..=4096).contains(&n) {
            continue;
        }
        let Ok(defs) = mem.read_vec(t.at(tl.heap_type_size), n as usize * msize) else {
            continue;
        };
        for d in defs.chunks_exact(msize) {
            let ty = u32_at(d, md.type_code).unwrap_or(0) as i32;
            let off = i64_at(d, md.offset).unwrap_or(0);
            let Some(name_ptr) = ptr_at(d, md.name) else {
                continue;
            };
            if ty != py.facts.types.t_object_ex || off <= 0 || name_ptr.is_null() {
                continue;
            }
            let Ok(name) = c_string(mem, name_ptr, 1024) else {
                continue;
            };
            if name == "__dict__" || name == "__weakref__" {
                continue;
            }
            out.push((Arc::from(name.as_str()), off));
        }
    }
    let _ = caches;
    out
}
