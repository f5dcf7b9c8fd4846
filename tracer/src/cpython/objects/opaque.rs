//! The objects the walker does not decode by kind: `<type object at
//! 0x..>`, with the attributes of instances of classes defined in Python,
//! the args of exceptions, and the name of a function, class or module.

use std::sync::Arc;

use store::{Node, ObjAddr};

use super::atoms::read_name;
use super::types::{type_info, TypeInfo};
use super::walker::Walker;
use crate::addr::RemoteAddr;
use crate::cpython::dicts::{self, Managed};
use values::kinds;

impl Walker<'_> {
    /// Any other object: `<type object at 0x..>`, with attrs for instances
    /// of heap types at attribute depth 1..=3, args for exceptions, and
    /// the name of a function, class or module (`repr_name`).
    pub(super) fn opaque(
        &mut self,
        addr: RemoteAddr,
        ty: RemoteAddr,
        ti: &TypeInfo,
        depth: u8,
    ) -> Result<Node, String> {
        let mut node = Node {
            type_name: ti.name.clone(),
            kind: kinds::OPAQUE,
            text: self.repr_name(addr, ty, ti),
            items: Vec::new(),
            attrs: None,
            truncated: false,
        };
        let t = &self.py.facts.types;
        if ti.flags & t.base_exc_subclass != 0 {
            let args = self
                .mem
                .read_ptr(addr.at(self.py.layout.objects.exception_args));
            if let Ok(a) = args {
                if !a.is_null() {
                    node.items.push(ObjAddr(a.0));
                }
            }
        }
        if depth != 0 && ti.flags & t.heap_type != 0 {
            let attrs = self.attrs(addr, ti)?;
            node.attrs = Some(attrs.into_iter().map(|(k, v)| (k, ObjAddr(v.0))).collect());
        }
        Ok(node)
    }

    /// The name CPython's repr of a function, class or module shows, kept in
    /// the OPAQUE node's `text` for the text form (values::kinds::OPAQUE):
    /// a function's `__qualname__`; a class's `module.qualname` (a heap
    /// type, as `type_info` names it) or `tp_name` (a static type); a
    /// module's `md_name`. Empty for any other object, or when the name
    /// cannot be read (each read is bounded: `read_name`, `type_info`).
    fn repr_name(&mut self, addr: RemoteAddr, ty: RemoteAddr, ti: &TypeInfo) -> String {
        let (mem, py) = (self.mem, self.py);
        let o = &py.layout.objects;
        let field = if ty == py.types.function {
            Some(o.func_qualname)
        } else if ty == py.types.module {
            Some(o.module_md_name)
        } else {
            None
        };
        let name = match field {
            Some(off) => mem
                .read_ptr(addr.at(off))
                .ok()
                .and_then(|p| read_name(mem, py, self.caches, p).ok()),
            // A class: its type is `type` or a subclass of it (a metaclass).
            None if ti.flags & py.facts.types.type_subclass != 0 => {
                type_info(mem, py, self.caches, addr)
                    .ok()
                    .map(|t| t.name.clone())
            }
            None => None,
        };
        name.map(|n| n.to_string()).unwrap_or_default()
    }

    /// The instance `__dict__` entries with str keys, then set `__slots__`.
    fn attrs(
        &mut self,
        addr: RemoteAddr,
        ti: &TypeInfo,
    ) -> Result<Vec<(Arc<str>, RemoteAddr)>, String> {
        let (mem, py) = (self.mem, self.py);
        let lim = self.limits.max_items;
        let t = &py.facts.types;
        let items = if ti.flags & t.type_subclass != 0 {
            // A class (say one whose metaclass is abc.ABCMeta) exposes its
            // namespace as a read-only mappingproxy, not an instance dict:
            // its methods are not attributes of a value (values.md).
            Vec::new()
        } else if t.has_managed_dict(ti.flags) {
            match dicts::managed_dict(mem, py, addr, ti.flags, ti.basicsize)? {
                Managed::Values(values) => {
                    dicts::values_items(mem, py, ti.cached_keys, values, lim)?.items
                }
                Managed::Dict(d) => self.dict_of(d, lim)?,
                Managed::Nothing => Vec::new(),
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
