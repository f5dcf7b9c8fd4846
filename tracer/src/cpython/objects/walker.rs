//! The [`Walker`]: turns every object reachable from a set of roots into
//! `store::Node`s by the rules of docs/spec/values.md, with the size limits of a
//! snapshot. Type information comes from `types`, atoms from `atoms`.

use std::collections::{HashMap, VecDeque};

use store::{Node, ObjAddr};

use super::atoms::{bytes_data, int_text, read_ptrs, str_chars, tuple_items_trunc};
use super::text;
use super::types::{type_info, Builtin, TypeInfo};
use crate::addr::RemoteAddr;
use crate::cpython::dicts;
use crate::cpython::{Caches, Python};
use crate::memory::{Memory, Words};
use values::kinds::{self, unreadable};

/// Size limits of one snapshot (docs/spec/values.md defaults).
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

/// Decode the one object at `addr` (reached at attribute depth `depth` and
/// nesting `level`): its node (its children, unwalked, are its items and
/// its attribute values) and whether the node can never change while the
/// object lives.
pub(crate) fn decode_one(
    mem: &dyn Memory,
    py: &Python,
    caches: &mut Caches,
    limits: &Limits,
    addr: RemoteAddr,
    depth: u8,
    level: u32,
) -> (Node, bool) {
    let mut w = Walker::new(mem, py, caches, limits);
    let node = w.decode(addr, depth, level);
    let stable = w.last_stable;
    (node, stable)
}

/// The attribute depth of a child reached through an attribute of an object
/// at depth `depth` (0: no attrs wanted).
pub(crate) fn attr_child_depth(depth: u8, limits: &Limits) -> u8 {
    if depth != 0 && depth < limits.attr_depth {
        depth + 1
    } else {
        0
    }
}

/// Whether instances of a type have a node that cannot change while they
/// live: immutable builtins, and instances of static types other than
/// exceptions (whose `args` may change). A module's `__class__` may be
/// reassigned to a subclass of `ModuleType`; modules do that while they are
/// imported, before anything binds them, so a module is taken as stable too.
fn stable_type(py: &Python, ti: &TypeInfo) -> bool {
    match ti.builtin {
        Builtin::None
        | Builtin::Bool
        | Builtin::Int
        | Builtin::Float
        | Builtin::Complex
        | Builtin::Str
        | Builtin::Bytes
        | Builtin::Range => true,
        Builtin::Other => {
            let t = &py.facts.types;
            ti.flags & (t.heap_type | t.base_exc_subclass) == 0
        }
        _ => false,
    }
}

/// Walks the object graph from roots, breadth first, producing nodes.
pub(crate) struct Walker<'a> {
    pub(super) mem: &'a dyn Memory,
    pub(super) py: &'a Python,
    pub(super) caches: &'a mut Caches,
    pub(super) limits: &'a Limits,
    pub(super) heap: HashMap<ObjAddr, Node>,
    /// Best attribute depth each address was decoded at (0 = no attrs).
    pub(super) seen: HashMap<RemoteAddr, u8>,
    pub(super) queue: VecDeque<(RemoteAddr, u8, u32)>,
    pub(super) decoded: usize,
    /// Whether the last object decoded has a node that cannot change.
    pub(super) last_stable: bool,
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
            last_stable: false,
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
                let node = self.decode(addr, depth, level);
                for a in &node.items {
                    self.queue.push_back((RemoteAddr(a.0), 0, level + 1));
                }
                let d = attr_child_depth(depth, self.limits);
                for (_, a) in node.attrs.iter().flatten() {
                    self.queue.push_back((RemoteAddr(a.0), d, level + 1));
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

    fn decode(&mut self, addr: RemoteAddr, depth: u8, level: u32) -> Node {
        self.last_stable = false;
        if addr.is_null() {
            return unreadable("?", "NULL object pointer");
        }
        let ty = match self.mem.read_ptr(addr.at(self.py.layout.object.ob_type)) {
            Ok(t) => t,
            Err(e) => return unreadable("?", &format!("cannot read object header: {e}")),
        };
        let ti = match type_info(self.mem, self.py, self.caches, ty) {
            Ok(t) => t,
            Err(e) => return unreadable("?", &e),
        };
        match self.decode_typed(addr, ty, &ti, depth, level) {
            Ok(r) => {
                self.last_stable = stable_type(self.py, &ti);
                r
            }
            Err(e) => {
                log::debug!(target: "tracer::cpython", "{} at {addr} unreadable: {e}", ti.name);
                unreadable(&ti.name, &e)
            }
        }
    }

    fn decode_typed(
        &mut self,
        addr: RemoteAddr,
        ty: RemoteAddr,
        ti: &TypeInfo,
        depth: u8,
        level: u32,
    ) -> Result<Node, String> {
        if ti.builtin == Builtin::Other {
            return self.opaque(addr, ty, ti, depth);
        }
        // Containers nested too deep keep their kind but no items.
        let limit = if level >= self.limits.max_depth {
            0
        } else {
            self.limits.max_items
        };
        let node = |kind: u8, text: String, items: Vec<RemoteAddr>, truncated: bool| Node {
            type_name: ti.name.clone(),
            kind,
            text,
            items: items.into_iter().map(|a| ObjAddr(a.0)).collect(),
            attrs: None,
            truncated,
        };
        if let Some((kind, items, truncated)) = self.container_items(addr, ti, limit)? {
            return Ok(node(kind, String::new(), items, truncated));
        }
        let (text, truncated) = self.atom_text(addr, ti)?;
        Ok(node(kinds::ATOM, text, Vec::new(), truncated))
    }

    /// `ob_size` of a variable-size object, if plausible.
    fn size(&self, addr: RemoteAddr) -> Result<usize, String> {
        let s = self
            .mem
            .read_u64(addr.at(self.py.layout.object.ob_size))
            .map_err(|e| e.to_string())? as i64;
        if !(0..=(1i64 << 40)).contains(&s) {
            return Err(format!("implausible size {s}"));
        }
        Ok(s as usize)
    }

    /// The repr of an object whose repr is known when it is read (None,
    /// bool, int, float, complex, str, bytes, bytearray, range), and
    /// whether it was cut.
    fn atom_text(&self, addr: RemoteAddr, ti: &TypeInfo) -> Result<(String, bool), String> {
        let (mem, py, lim) = (self.mem, self.py, self.limits);
        let o = &py.layout.objects;
        let whole = |t: String| Ok((t, false));
        match ti.builtin {
            Builtin::None => whole("None".into()),
            Builtin::Bool => whole(if addr == py.true_ { "True" } else { "False" }.into()),
            Builtin::Int => int_text(mem, py, addr),
            Builtin::Float => {
                let bits = mem
                    .read_u64(addr.at(o.float_ob_fval))
                    .map_err(|e| e.to_string())?;
                whole(text::float_repr(f64::from_bits(bits)))
            }
            Builtin::Complex => {
                let b = mem
                    .read_vec(addr.at(o.complex_cval), 16)
                    .map_err(|e| e.to_string())?;
                let re = f64::from_ne_bytes(b[0..8].try_into().unwrap_or_default());
                let im = f64::from_ne_bytes(b[8..16].try_into().unwrap_or_default());
                whole(text::complex_repr(re, im))
            }
            Builtin::Str => {
                let (chars, tr, _) = str_chars(mem, py, addr, lim.max_str)?;
                Ok((text::str_repr(&chars, &|c| py.is_printable(c), tr), tr))
            }
            Builtin::Bytes => {
                let (data, tr) = bytes_data(mem, py, addr, lim.max_str)?;
                Ok((text::bytes_repr(&data, tr), tr))
            }
            Builtin::ByteArray => {
                let n = self.size(addr)?;
                let start = mem
                    .read_ptr(addr.at(o.bytearray_ob_start))
                    .map_err(|e| e.to_string())?;
                let k = n.min(lim.max_str);
                let data = if k == 0 {
                    Vec::new()
                } else {
                    mem.read_vec(start, k).map_err(|e| e.to_string())?
                };
                Ok((text::bytearray_repr(&data, n > k), n > k))
            }
            Builtin::Range => {
                let get = |off: u32| -> Result<String, String> {
                    let p = mem.read_ptr(addr.at(off)).map_err(|e| e.to_string())?;
                    Ok(int_text(mem, py, p)?.0)
                };
                let (a, b, s) = (get(o.range_start)?, get(o.range_stop)?, get(o.range_step)?);
                if s == "1" {
                    whole(format!("range({a}, {b})"))
                } else {
                    whole(format!("range({a}, {b}, {s})"))
                }
            }
            _ => Err(format!("{} is not an atom", ti.name)),
        }
    }

    /// A container's kind, its first `limit` items (dicts: key, value,
    /// key, value...) and whether they were cut; `None` for other objects.
    fn container_items(
        &mut self,
        addr: RemoteAddr,
        ti: &TypeInfo,
        limit: usize,
    ) -> Result<Option<(u8, Vec<RemoteAddr>, bool)>, String> {
        let (mem, py) = (self.mem, self.py);
        Ok(Some(match ti.builtin {
            Builtin::List => {
                let n = self.size(addr)?;
                let k = n.min(limit);
                let items = if k == 0 {
                    Vec::new()
                } else {
                    let p = mem
                        .read_ptr(addr.at(py.layout.objects.list_ob_item))
                        .map_err(|e| e.to_string())?;
                    let items = read_ptrs(mem, p, k)?;
                    mem.note(p, k * 8, Words::Slots);
                    items
                };
                (kinds::LIST, items, n > k)
            }
            Builtin::Tuple => {
                let (items, tr) = tuple_items_trunc(mem, py, addr, limit)?;
                (kinds::TUPLE, items, tr)
            }
            Builtin::Dict => {
                let d = dicts::dict_items(mem, py, addr, limit)?;
                let items = d.items.iter().flat_map(|&(a, b)| [a, b]).collect();
                (kinds::DICT, items, d.truncated)
            }
            Builtin::Set | Builtin::FrozenSet => {
                let (items, tr) = self.set_items(addr, limit)?;
                let kind = if ti.builtin == Builtin::Set {
                    kinds::SET
                } else {
                    kinds::FROZENSET
                };
                (kind, items, tr)
            }
            _ => return Ok(None),
        }))
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
}
