//! Objects: type information, `str`/`bytes`/`tuple` readers, and the
//! [`Walker`] that turns every object reachable from a set of roots into
//! `store::Node`s by the rules of spec/values.md.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use store::{Node, ObjAddr};

use super::dicts;
use super::read::{c_string, chars_to_string, i64_at, ptr_at, read_upto, u32_at, u64_at};
use super::text;
use super::v311;
use super::{Caches, Python};
use crate::addr::RemoteAddr;
use crate::kinds;
use crate::mem::Memory;

/// Size limits of one snapshot (spec/values.md defaults).
#[derive(Debug, Clone)]
pub struct Limits {
    /// `str` characters, `bytes`/`bytearray` bytes kept.
    pub max_str: usize,
    /// Container items kept.
    pub max_items: usize,
    /// Container nesting followed.
    pub max_depth: u32,
    /// Objects decoded per snapshot; the rest are left unreadable.
    pub max_objects: usize,
    /// Attribute depth down to which instances carry `attrs`.
    pub attr_depth: u8,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_str: 1_000_000,
            max_items: 10_000,
            max_depth: 64,
            max_objects: 1_000_000,
            attr_depth: 3,
        }
    }
}

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

/// A cached `str` read as a name (interned names live long).
pub(crate) struct CachedName {
    fingerprint: [u64; 3],
    text: Arc<str>,
}

/// Bound on a name's length (identifiers, file names).
const MAX_NAME: usize = 1 << 16;

/// Code points of the `str` at `addr`, at most `limit` of them; also says
/// whether the string is longer, and its hash/state fingerprint.
pub(crate) fn str_chars(
    mem: &dyn Memory,
    py: &Python,
    addr: RemoteAddr,
    limit: usize,
) -> Result<(Vec<u32>, bool, [u64; 3]), String> {
    let o = &py.layout.objects;
    let hdr_len = o.compact_unicode_size as usize + 8;
    // Read header plus some inline data in one request when possible.
    let first = read_upto(mem, addr, hdr_len + 64, hdr_len).map_err(|e| e.to_string())?;
    let ty = ptr_at(&first, py.layout.object.ob_type).unwrap_or_default();
    if ty != py.types.str_ {
        return Err(format!("not a str (type {ty})"));
    }
    let len = i64_at(&first, o.unicode_length).ok_or("no length")?;
    let hash = u64_at(&first, o.unicode_hash).unwrap_or(0);
    let state = u32_at(&first, o.unicode_state).ok_or("no state")?;
    let bit = |b: u32, w: u32| (state >> b) & ((1 << w) - 1);
    let kind = bit(o.unicode_state_kind_bit, v311::UNICODE_KIND_BITS) as u8;
    let compact = bit(o.unicode_state_compact_bit, 1) == 1;
    let ascii = bit(o.unicode_state_ascii_bit, 1) == 1;
    if !(0..=(1i64 << 40)).contains(&len) {
        return Err(format!("implausible str length {len}"));
    }
    let width = match kind {
        v311::UNICODE_1BYTE => 1usize,
        v311::UNICODE_2BYTE => 2,
        v311::UNICODE_4BYTE => 4,
        _ => return Err(format!("str of kind {kind} (not ready)")),
    };
    let fp = [len as u64, hash, state as u64];
    let n = (len as usize).min(limit);
    let (data_off, data) = if compact && ascii {
        (o.ascii_size as usize, None)
    } else if compact {
        (o.compact_unicode_size as usize, None)
    } else {
        let p = ptr_at(&first, o.compact_unicode_size).ok_or("no data pointer")?;
        (0, Some(p))
    };
    let nbytes = n * width;
    let raw = match data {
        None if data_off + nbytes <= first.len() => first[data_off..data_off + nbytes].to_vec(),
        None => mem
            .read_vec(addr.at(data_off as u32), nbytes)
            .map_err(|e| e.to_string())?,
        Some(p) => mem.read_vec(p, nbytes).map_err(|e| e.to_string())?,
    };
    let chars = match width {
        1 => raw.iter().map(|&b| b as u32).collect(),
        2 => raw
            .chunks_exact(2)
            .map(|c| u16::from_ne_bytes([c[0], c[1]]) as u32)
            .collect(),
        _ => raw
            .chunks_exact(4)
            .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    };
    Ok((chars, (len as usize) > n, fp))
}

/// The `str` at `addr` as Rust text (names, keys), cached.
pub(crate) fn read_name(
    mem: &dyn Memory,
    py: &Python,
    caches: &mut Caches,
    addr: RemoteAddr,
) -> Result<Arc<str>, String> {
    if addr.is_null() {
        return Err("NULL name".into());
    }
    let (chars, _, fp) = str_chars(mem, py, addr, MAX_NAME)?;
    if let Some(c) = caches.names.get(&addr) {
        if c.fingerprint == fp && fp[1] != u64::MAX {
            return Ok(c.text.clone());
        }
    }
    let text = chars_to_string(&chars);
    if caches.names.len() > 200_000 {
        caches.names.clear();
    }
    caches.names.insert(
        addr,
        CachedName {
            fingerprint: fp,
            text: text.clone(),
        },
    );
    Ok(text)
}

/// Item pointers of the tuple at `addr` (at most `limit`).
pub(crate) fn tuple_items(
    mem: &dyn Memory,
    py: &Python,
    addr: RemoteAddr,
    limit: usize,
) -> Result<Vec<RemoteAddr>, String> {
    let (items, _) = tuple_items_trunc(mem, py, addr, limit)?;
    Ok(items)
}

fn tuple_items_trunc(
    mem: &dyn Memory,
    py: &Python,
    addr: RemoteAddr,
    limit: usize,
) -> Result<(Vec<RemoteAddr>, bool), String> {
    let hdr = mem
        .read_vec(addr, py.layout.objects.tuple_ob_item as usize)
        .map_err(|e| e.to_string())?;
    let ty = ptr_at(&hdr, py.layout.object.ob_type).unwrap_or_default();
    if ty != py.types.tuple {
        return Err(format!("not a tuple (type {ty})"));
    }
    let size = i64_at(&hdr, py.layout.object.ob_size).ok_or("no size")?;
    if !(0..=(1i64 << 32)).contains(&size) {
        return Err(format!("implausible tuple size {size}"));
    }
    let n = (size as usize).min(limit);
    let items = read_ptrs(mem, addr.at(py.layout.objects.tuple_ob_item), n)?;
    Ok((items, size as usize > n))
}

fn read_ptrs(mem: &dyn Memory, at: RemoteAddr, n: usize) -> Result<Vec<RemoteAddr>, String> {
    let raw = mem.read_vec(at, n * 8).map_err(|e| e.to_string())?;
    Ok(raw
        .chunks_exact(8)
        .map(|c| RemoteAddr(u64::from_ne_bytes(c.try_into().unwrap_or_default())))
        .collect())
}

/// Contents of the `bytes` object at `addr` (at most `limit` bytes) and
/// whether it is longer.
pub(crate) fn bytes_data(
    mem: &dyn Memory,
    py: &Python,
    addr: RemoteAddr,
    limit: usize,
) -> Result<(Vec<u8>, bool), String> {
    let o = &py.layout.objects;
    let hdr = mem
        .read_vec(addr, o.bytes_ob_sval as usize)
        .map_err(|e| e.to_string())?;
    let ty = ptr_at(&hdr, py.layout.object.ob_type).unwrap_or_default();
    if ty != py.types.bytes {
        return Err(format!("not a bytes object (type {ty})"));
    }
    let size = i64_at(&hdr, py.layout.object.ob_size).ok_or("no size")?;
    if !(0..=(1i64 << 40)).contains(&size) {
        return Err(format!("implausible bytes size {size}"));
    }
    let n = (size as usize).min(limit);
    let data = mem
        .read_vec(addr.at(o.bytes_ob_sval), n)
        .map_err(|e| e.to_string())?;
    Ok((data, size as usize > n))
}

/// Decimal repr of the int at `addr` (a `PyLongObject`, or a `bool`).
pub(crate) fn int_text(
    mem: &dyn Memory,
    py: &Python,
    addr: RemoteAddr,
) -> Result<(String, bool), String> {
    let o = &py.layout.objects;
    let hdr = mem
        .read_vec(addr, o.long_digit as usize)
        .map_err(|e| e.to_string())?;
    let (negative, n) = if o.long_lv_tag != symbols::NA {
        // 3.12+: sign and digit count packed in lv_tag.
        let (neg, n) = super::v312::long_tag(u64_at(&hdr, o.long_lv_tag).ok_or("no lv_tag")?);
        (neg, usize::try_from(n).unwrap_or(usize::MAX))
    } else {
        let size = i64_at(&hdr, py.layout.object.ob_size).ok_or("no size")?;
        (size < 0, size.unsigned_abs() as usize)
    };
    if n > text::MAX_INT_DIGITS {
        return Ok((
            format!("<int of {} bits>", (n as u64).saturating_mul(30)),
            true,
        ));
    }
    let raw = mem
        .read_vec(addr.at(o.long_digit), n * 4)
        .map_err(|e| e.to_string())?;
    let digits: Vec<u32> = raw
        .chunks_exact(4)
        .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    if digits.iter().any(|&d| d >= 1 << v311::LONG_SHIFT) {
        return Err("int digit out of range".into());
    }
    Ok((text::int_repr(negative, &digits, v311::LONG_SHIFT), false))
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
        if t.flags & v311::TPFLAGS_HEAPTYPE == 0 || caches.types_checked.contains(&tp) {
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
    let heap = flags & v311::TPFLAGS_HEAPTYPE != 0;
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
    let msize = if md.size == symbols::NA || md.size == 0 {
        v311::MEMBER_DEF_SIZE
    } else {
        md.size
    } as usize;
    for t in types {
        let Ok(hdr) = mem.read_vec(t, tl.heap_type_size as usize) else {
            continue;
        };
        let flags = u64_at(&hdr, tl.tp_flags).unwrap_or(0);
        if flags & v311::TPFLAGS_HEAPTYPE == 0 {
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
            if ty != v311::T_OBJECT_EX || off <= 0 || name_ptr.is_null() {
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

/// An edge to a child object found while decoding a node.
pub(crate) enum Child {
    /// A container element (no attrs wanted).
    Item(RemoteAddr),
    /// An attribute value (attrs wanted at the parent's attribute depth + 1).
    Attr(RemoteAddr),
}

/// Decode the one object at `addr` (reached at attribute depth `depth` and
/// nesting `level`): its node and the edges to its children, unwalked.
pub(crate) fn decode_one(
    mem: &dyn Memory,
    py: &Python,
    caches: &mut Caches,
    limits: &Limits,
    addr: RemoteAddr,
    depth: u8,
    level: u32,
) -> (Node, Vec<Child>) {
    Walker::new(mem, py, caches, limits).decode(addr, depth, level)
}

/// Walks the object graph from roots, breadth first, producing nodes.
pub(crate) struct Walker<'a> {
    mem: &'a dyn Memory,
    py: &'a Python,
    caches: &'a mut Caches,
    limits: &'a Limits,
    heap: HashMap<ObjAddr, Node>,
    /// Best attribute depth each address was decoded at (0 = no attrs).
    seen: HashMap<RemoteAddr, u8>,
    queue: VecDeque<(RemoteAddr, u8, u32)>,
    decoded: usize,
}

fn better(new: u8, old: u8) -> bool {
    new != 0 && (old == 0 || new < old)
}

impl<'a> Walker<'a> {
    pub fn new(
        mem: &'a dyn Memory,
        py: &'a Python,
        caches: &'a mut Caches,
        limits: &'a Limits,
    ) -> Self {
        Walker {
            mem,
            py,
            caches,
            limits,
            heap: HashMap::new(),
            seen: HashMap::new(),
            queue: VecDeque::new(),
            decoded: 0,
        }
    }

    /// A binding's value: attribute depth 1.
    pub fn add_root(&mut self, addr: RemoteAddr) {
        self.queue
            .push_back((addr, 1.min(self.limits.attr_depth), 0));
    }

    /// Decode everything queued (nothing when the decoder walks the heap
    /// incrementally itself: `Caches::bindings_only`).
    pub fn run(&mut self) {
        if self.caches.bindings_only {
            return;
        }
        while let Some((addr, depth, level)) = self.queue.pop_front() {
            if let Some(&old) = self.seen.get(&addr) {
                if !better(depth, old) {
                    continue;
                }
            }
            self.seen.insert(addr, depth);
            let node = if self.decoded >= self.limits.max_objects {
                unreadable("?", "object budget of this snapshot exhausted")
            } else {
                self.decoded += 1;
                let (node, children) = self.decode(addr, depth, level);
                for c in children {
                    match c {
                        Child::Item(a) => self.queue.push_back((a, 0, level + 1)),
                        Child::Attr(a) => {
                            let d = if depth != 0 && depth < self.limits.attr_depth {
                                depth + 1
                            } else {
                                0
                            };
                            self.queue.push_back((a, d, level + 1));
                        }
                    }
                }
                node
            };
            self.heap.insert(ObjAddr(addr.0), node);
        }
    }

    /// The nodes decoded so far.
    pub fn into_heap(self) -> HashMap<ObjAddr, Node> {
        self.heap
    }

    fn decode(&mut self, addr: RemoteAddr, depth: u8, level: u32) -> (Node, Vec<Child>) {
        if addr.is_null() {
            return (unreadable("?", "NULL object pointer"), Vec::new());
        }
        let ty = match self.mem.read_ptr(addr.at(self.py.layout.object.ob_type)) {
            Ok(t) => t,
            Err(e) => {
                return (
                    unreadable("?", &format!("cannot read object header: {e}")),
                    Vec::new(),
                )
            }
        };
        let ti = match type_info(self.mem, self.py, self.caches, ty) {
            Ok(t) => t,
            Err(e) => return (unreadable("?", &e), Vec::new()),
        };
        match self.decode_typed(addr, &ti, depth, level) {
            Ok(r) => r,
            Err(e) => {
                log::debug!(target: "tracer::cpython", "{} at {addr} unreadable: {e}", ti.name);
                (unreadable(&ti.name, &e), Vec::new())
            }
        }
    }

    fn decode_typed(
        &mut self,
        addr: RemoteAddr,
        ti: &TypeInfo,
        depth: u8,
        level: u32,
    ) -> Result<(Node, Vec<Child>), String> {
        let (mem, py, lim) = (self.mem, self.py, self.limits);
        let o = &py.layout.objects;
        let atom = |text: String, truncated: bool| {
            (
                Node {
                    type_name: ti.name.clone(),
                    kind: kinds::ATOM,
                    text,
                    items: Vec::new(),
                    attrs: None,
                    truncated,
                },
                Vec::new(),
            )
        };
        let too_deep = level >= lim.max_depth;
        let container = |kind: u8, items: Vec<RemoteAddr>, truncated: bool| {
            let children = items.iter().map(|&a| Child::Item(a)).collect();
            (
                Node {
                    type_name: ti.name.clone(),
                    kind,
                    text: String::new(),
                    items: items.into_iter().map(|a| ObjAddr(a.0)).collect(),
                    attrs: None,
                    truncated,
                },
                children,
            )
        };
        let size = || -> Result<i64, String> {
            let s = mem
                .read_u64(addr.at(py.layout.object.ob_size))
                .map_err(|e| e.to_string())? as i64;
            if !(0..=(1i64 << 40)).contains(&s) {
                return Err(format!("implausible size {s}"));
            }
            Ok(s)
        };
        Ok(match ti.builtin {
            Builtin::None => atom("None".into(), false),
            Builtin::Bool => atom(
                if addr == py.true_ { "True" } else { "False" }.into(),
                false,
            ),
            Builtin::Int => {
                let (t, tr) = int_text(mem, py, addr)?;
                atom(t, tr)
            }
            Builtin::Float => {
                let v = f64::from_bits(
                    mem.read_u64(addr.at(o.float_ob_fval))
                        .map_err(|e| e.to_string())?,
                );
                atom(text::float_repr(v), false)
            }
            Builtin::Complex => {
                let b = mem
                    .read_vec(addr.at(o.complex_cval), 16)
                    .map_err(|e| e.to_string())?;
                let re = f64::from_ne_bytes(b[0..8].try_into().unwrap_or_default());
                let im = f64::from_ne_bytes(b[8..16].try_into().unwrap_or_default());
                atom(text::complex_repr(re, im), false)
            }
            Builtin::Str => {
                let (chars, tr, _) = str_chars(mem, py, addr, lim.max_str)?;
                atom(text::str_repr(&chars, &|c| py.is_printable(c), tr), tr)
            }
            Builtin::Bytes => {
                let (data, tr) = bytes_data(mem, py, addr, lim.max_str)?;
                atom(text::bytes_repr(&data, tr), tr)
            }
            Builtin::ByteArray => {
                let n = size()? as usize;
                let start = mem
                    .read_ptr(addr.at(o.bytearray_ob_start))
                    .map_err(|e| e.to_string())?;
                let k = n.min(lim.max_str);
                let data = if k == 0 {
                    Vec::new()
                } else {
                    mem.read_vec(start, k).map_err(|e| e.to_string())?
                };
                atom(text::bytearray_repr(&data, n > k), n > k)
            }
            Builtin::Range => {
                let get = |off: u32| -> Result<String, String> {
                    let p = mem.read_ptr(addr.at(off)).map_err(|e| e.to_string())?;
                    Ok(int_text(mem, py, p)?.0)
                };
                let (a, b, s) = (get(o.range_start)?, get(o.range_stop)?, get(o.range_step)?);
                if s == "1" {
                    atom(format!("range({a}, {b})"), false)
                } else {
                    atom(format!("range({a}, {b}, {s})"), false)
                }
            }
            Builtin::List => {
                let n = size()? as usize;
                let k = if too_deep { 0 } else { n.min(lim.max_items) };
                let items = if k == 0 {
                    Vec::new()
                } else {
                    let p = mem
                        .read_ptr(addr.at(o.list_ob_item))
                        .map_err(|e| e.to_string())?;
                    read_ptrs(mem, p, k)?
                };
                container(kinds::LIST, items, n > k)
            }
            Builtin::Tuple => {
                let k = if too_deep { 0 } else { lim.max_items };
                let (items, tr) = tuple_items_trunc(mem, py, addr, k)?;
                container(kinds::TUPLE, items, tr)
            }
            Builtin::Dict => {
                let k = if too_deep { 0 } else { lim.max_items };
                let d = dicts::dict_items(mem, py, addr, k)?;
                let items = d.items.iter().flat_map(|&(a, b)| [a, b]).collect();
                container(kinds::DICT, items, d.truncated)
            }
            Builtin::Set | Builtin::FrozenSet => {
                let k = if too_deep { 0 } else { lim.max_items };
                let (items, tr) = self.set_items(addr, k)?;
                let kind = if ti.builtin == Builtin::Set {
                    kinds::SET
                } else {
                    kinds::FROZENSET
                };
                container(kind, items, tr)
            }
            Builtin::Other => self.opaque(addr, ti, depth)?,
        })
    }

    fn set_items(
        &mut self,
        addr: RemoteAddr,
        limit: usize,
    ) -> Result<(Vec<RemoteAddr>, bool), String> {
        let (mem, py) = (self.mem, self.py);
        let o = &py.layout.objects;
        let dummy = match self.caches.set_dummy {
            Some(d) => d,
            None => {
                let d = match py.set_dummy_var {
                    Some(v) => mem.read_ptr(v).unwrap_or_default(),
                    None => RemoteAddr::NULL,
                };
                self.caches.set_dummy = Some(d);
                d
            }
        };
        let used = mem
            .read_u64(addr.at(o.set_used))
            .map_err(|e| e.to_string())? as i64;
        let mask = mem
            .read_u64(addr.at(o.set_mask))
            .map_err(|e| e.to_string())? as i64;
        let table = mem
            .read_ptr(addr.at(o.set_table))
            .map_err(|e| e.to_string())?;
        if !(0..(1 << 26)).contains(&mask) || !(0..=mask + 1).contains(&used) {
            return Err(format!("implausible set (mask {mask}, used {used})"));
        }
        let esz = (o.set_entry_size as usize).clamp(16, 64);
        let mut out = Vec::new();
        let total = mask as usize + 1;
        let mut i = 0;
        while i < total && out.len() < limit {
            let n = 4096.min(total - i);
            let chunk = mem
                .read_vec(table.at((i * esz) as u32), n * esz)
                .map_err(|e| e.to_string())?;
            for e in chunk.chunks_exact(esz) {
                let key = RemoteAddr(u64::from_ne_bytes(e[0..8].try_into().unwrap_or_default()));
                if key.is_null() || key == dummy {
                    continue;
                }
                if out.len() >= limit {
                    break;
                }
                out.push(key);
            }
            i += n;
        }
        let truncated = used as usize > out.len();
        Ok((out, truncated))
    }

    /// Any other object: `<type object at 0x..>`, with attrs for instances
    /// of heap types at attribute depth 1..=3 and args for exceptions.
    fn opaque(
        &mut self,
        addr: RemoteAddr,
        ti: &TypeInfo,
        depth: u8,
    ) -> Result<(Node, Vec<Child>), String> {
        let mut node = Node {
            type_name: ti.name.clone(),
            kind: kinds::OPAQUE,
            text: String::new(),
            items: Vec::new(),
            attrs: None,
            truncated: false,
        };
        let mut children = Vec::new();
        if ti.flags & v311::TPFLAGS_BASE_EXC_SUBCLASS != 0 {
            let args = self
                .mem
                .read_ptr(addr.at(self.py.layout.objects.exception_args));
            if let Ok(a) = args {
                if !a.is_null() {
                    node.items.push(ObjAddr(a.0));
                    children.push(Child::Item(a));
                }
            }
        }
        if depth != 0 && ti.flags & v311::TPFLAGS_HEAPTYPE != 0 {
            let attrs = self.attrs(addr, ti)?;
            for (_, v) in &attrs {
                children.push(Child::Attr(*v));
            }
            node.attrs = Some(attrs.into_iter().map(|(k, v)| (k, ObjAddr(v.0))).collect());
        }
        Ok((node, children))
    }

    /// The instance `__dict__` entries with str keys, then set `__slots__`.
    fn attrs(
        &mut self,
        addr: RemoteAddr,
        ti: &TypeInfo,
    ) -> Result<Vec<(Arc<str>, RemoteAddr)>, String> {
        let (mem, py) = (self.mem, self.py);
        let lim = self.limits.max_items;
        let items = if ti.flags & v311::TPFLAGS_TYPE_SUBCLASS != 0 {
            // A class (say one whose metaclass is abc.ABCMeta) exposes its
            // namespace as a read-only mappingproxy, not an instance dict:
            // its methods are not attributes of a value (values.md).
            Vec::new()
        } else if ti.flags & v311::TPFLAGS_MANAGED_DICT != 0 {
            match super::managed::managed_dict(mem, py, addr, ti.flags, ti.basicsize)? {
                super::managed::Managed::Values(values) => {
                    dicts::values_items(mem, py, ti.cached_keys, values, lim)?.items
                }
                super::managed::Managed::Dict(d) => self.dict_of(d, lim)?,
                super::managed::Managed::Nothing => Vec::new(),
            }
        } else if ti.dictoffset != 0 {
            let mut off = ti.dictoffset;
            if off < 0 {
                let n = (mem
                    .read_u64(addr.at(py.layout.object.ob_size))
                    .map_err(|e| e.to_string())? as i64)
                    .checked_abs()
                    .ok_or("bad size")?;
                let size = ti.basicsize.saturating_add(n.saturating_mul(ti.itemsize));
                off = off.saturating_add((size + 7) & !7);
            }
            let d = mem
                .read_ptr(RemoteAddr(addr.0.wrapping_add(off as u64)))
                .map_err(|e| e.to_string())?;
            self.dict_of(d, lim)?
        } else {
            Vec::new()
        };
        let mut out = Vec::with_capacity(items.len() + ti.slots.len());
        for (k, v) in items {
            // Non-str keys cannot be attribute names: leave them out.
            if let Ok(name) = read_name(mem, py, self.caches, k) {
                out.push((name, v));
            }
        }
        for (name, off) in &ti.slots {
            let v = mem
                .read_ptr(RemoteAddr(addr.0.wrapping_add(*off as u64)))
                .map_err(|e| e.to_string())?;
            if !v.is_null() {
                out.push((name.clone(), v));
            }
        }
        Ok(out)
    }

    fn dict_of(
        &mut self,
        d: RemoteAddr,
        lim: usize,
    ) -> Result<Vec<(RemoteAddr, RemoteAddr)>, String> {
        if d.is_null() {
            return Ok(Vec::new());
        }
        Ok(dicts::dict_items(self.mem, self.py, d, lim)?.items)
    }
}

/// An UNREADABLE node.
pub(crate) fn unreadable(type_name: &str, why: &str) -> Node {
    Node {
        type_name: Arc::from(type_name),
        kind: kinds::UNREADABLE,
        text: why.to_string(),
        items: Vec::new(),
        attrs: None,
        truncated: false,
    }
}
