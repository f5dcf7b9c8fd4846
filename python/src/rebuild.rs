//! A recorded state's values rebuilt as Python objects: `None`, `bool`,
//! `int`, `float`, `str`, `bytes`, `list`, `tuple`, `dict`, `set` and
//! `frozenset` as themselves, every other object as a read-only
//! [`Object`]. Identity is kept within one rebuild: each recorded address
//! becomes one Python object, however many names or containers refer to
//! it, cycles included.
//!
//! The heap comes from a file: a node that is missing, cut at a limit
//! (`truncated`), nested deeper than [`MAX_DEPTH`] or not what its kind
//! says becomes an [`Object`] with the repr the CLI shows, never a panic.

use std::collections::{HashMap, HashSet};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFrozenSet, PyList, PySet, PyString, PyTuple};
use store::{Node, ObjAddr, State};
use values::{kinds, render};

use crate::literal;

/// Containers nested deeper than this come back as an [`Object`] (the
/// rebuild recurses; this bounds its stack whatever the file holds).
const MAX_DEPTH: u32 = 1000;

/// An object of a recording that is not rebuilt as itself: an instance of
/// a class, a function, a module, a truncated container... Read-only.
#[pyclass(frozen, module = "hindsight", name = "Object")]
pub(crate) struct Object {
    type_name: String,
    id: u64,
    repr: String,
    attrs: Option<Py<PyDict>>,
    truncated: bool,
}

#[pymethods]
impl Object {
    /// The type as the recording shows it: `type(x).__qualname__`, after
    /// `module.` unless the module is `builtins`.
    #[getter(r#type)]
    fn type_name(&self) -> &str {
        &self.type_name
    }

    /// `id(x)` in the recorded program: its address there.
    #[getter]
    fn id(&self) -> u64 {
        self.id
    }

    /// `object.__repr__(x)` for instances (`<mod.Point object at 0x...>`),
    /// exactly `repr(x)` for the built-in values shown that way (a
    /// `complex`, a `range`, a truncated list), per docs/spec/values.md.
    #[getter]
    fn repr(&self) -> &str {
        &self.repr
    }

    /// The instance's `__dict__` entries and set `__slots__`, rebuilt, as
    /// a read-only mapping; `None` for objects without them.
    #[getter]
    fn attrs<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let Some(a) = &self.attrs else {
            return Ok(None);
        };
        let proxy = py.import("types")?.getattr("MappingProxyType")?;
        Ok(Some(proxy.call1((a.bind(py),))?))
    }

    /// Whether the recording holds only part of it (a container over
    /// 10,000 elements, a string over 1,000,000 characters).
    #[getter]
    fn truncated(&self) -> bool {
        self.truncated
    }

    fn __repr__(&self) -> String {
        self.repr.clone()
    }

    fn __getattr__(&self, py: Python<'_>, name: &str) -> PyResult<Py<PyAny>> {
        if let Some(v) = self
            .attrs
            .as_ref()
            .and_then(|a| a.bind(py).get_item(name).ok().flatten().map(|v| v.unbind()))
        {
            return Ok(v);
        }
        Err(pyo3::exceptions::PyAttributeError::new_err(format!(
            "the recorded {} object has no attribute '{name}'",
            self.type_name
        )))
    }
}

/// A slot filled once the tuple it refers to is built (a cycle that runs
/// through a tuple: `t = ([],); t[0].append(t)`).
enum Fixup<'py> {
    ListItem(Bound<'py, PyList>, usize, ObjAddr),
    DictValue(Bound<'py, PyDict>, Bound<'py, PyAny>, ObjAddr),
}

/// One rebuild: every value it makes shares objects by address.
pub(crate) struct Rebuild<'s, 'py> {
    py: Python<'py>,
    state: &'s State,
    memo: HashMap<ObjAddr, Bound<'py, PyAny>>,
    /// Tuples and frozensets being built (they cannot exist before their items).
    building: HashSet<ObjAddr>,
    fixups: Vec<Fixup<'py>>,
}

impl<'s, 'py> Rebuild<'s, 'py> {
    /// A rebuild of values of `state`.
    pub(crate) fn new(py: Python<'py>, state: &'s State) -> Self {
        Rebuild {
            py,
            state,
            memo: HashMap::new(),
            building: HashSet::new(),
            fixups: Vec::new(),
        }
    }

    /// The object at `addr`, rebuilt (the same Python object each time).
    pub(crate) fn value(&mut self, addr: ObjAddr) -> PyResult<Bound<'py, PyAny>> {
        let v = self.at(addr, 1)?;
        self.fix()?;
        Ok(v)
    }

    /// An opaque [`Object`] for `addr` with the given repr (an exception
    /// shown as `ValueError('x')`).
    pub(crate) fn object_with_repr(
        &mut self,
        addr: ObjAddr,
        repr: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let type_name = self
            .state
            .heap
            .get(&addr)
            .map_or("<missing>".to_string(), |n| n.type_name.to_string());
        self.object(addr, type_name, repr, None, false)
    }

    fn at(&mut self, addr: ObjAddr, depth: u32) -> PyResult<Bound<'py, PyAny>> {
        if let Some(v) = self.memo.get(&addr) {
            return Ok(v.clone());
        }
        let state = self.state;
        let Some(node) = state.heap.get(&addr) else {
            let repr = render::repr(state, addr);
            return self.object(addr, "<missing>".into(), repr, None, false);
        };
        let per = if node.kind == kinds::DICT { 2 } else { 1 };
        let cut = node.truncated || node.items.len() > render::MAX_ELEMENTS * per;
        if cut || depth > MAX_DEPTH {
            return self.opaque(addr, node, true, depth);
        }
        match node.kind {
            kinds::ATOM => match literal::atom(self.py, &node.type_name, &node.text)? {
                Some(v) => {
                    self.memo.insert(addr, v.clone());
                    Ok(v)
                }
                None => self.opaque(addr, node, false, depth),
            },
            kinds::LIST if node.type_name.as_ref() == "list" => self.list(addr, node, depth),
            kinds::DICT if node.type_name.as_ref() == "dict" && node.items.len() % 2 == 0 => {
                self.dict(addr, node, depth)
            }
            kinds::SET if node.type_name.as_ref() == "set" => self.set(addr, node, depth),
            kinds::TUPLE | kinds::FROZENSET => self.frozen(addr, node, depth),
            _ => self.opaque(addr, node, false, depth),
        }
    }

    /// A child of a container: `None` when it is a tuple still being built.
    fn child(&mut self, addr: ObjAddr, depth: u32) -> PyResult<Option<Bound<'py, PyAny>>> {
        if self.building.contains(&addr) {
            return Ok(None);
        }
        self.at(addr, depth + 1).map(Some)
    }

    fn list(&mut self, addr: ObjAddr, node: &Node, depth: u32) -> PyResult<Bound<'py, PyAny>> {
        let list = PyList::empty(self.py);
        self.memo.insert(addr, list.clone().into_any());
        for (i, item) in node.items.iter().enumerate() {
            match self.child(*item, depth)? {
                Some(v) => list.append(v)?,
                None => {
                    list.append(self.py.None())?;
                    self.fixups.push(Fixup::ListItem(list.clone(), i, *item));
                }
            }
        }
        Ok(list.into_any())
    }

    fn dict(&mut self, addr: ObjAddr, node: &Node, depth: u32) -> PyResult<Bound<'py, PyAny>> {
        let dict = PyDict::new(self.py);
        self.memo.insert(addr, dict.clone().into_any());
        for pair in node.items.chunks_exact(2) {
            let key = match self.child(pair[0], depth)? {
                Some(k) => k,
                // A key that is a tuple in a cycle: not in a real program.
                None => continue,
            };
            match self.child(pair[1], depth)? {
                Some(v) => dict.set_item(&key, v)?,
                None => {
                    dict.set_item(&key, self.py.None())?;
                    self.fixups
                        .push(Fixup::DictValue(dict.clone(), key.clone(), pair[1]));
                }
            }
        }
        Ok(dict.into_any())
    }

    fn set(&mut self, addr: ObjAddr, node: &Node, depth: u32) -> PyResult<Bound<'py, PyAny>> {
        let set = PySet::empty(self.py)?;
        self.memo.insert(addr, set.clone().into_any());
        for item in &node.items {
            if let Some(v) = self.child(*item, depth)? {
                set.add(v)?;
            }
        }
        Ok(set.into_any())
    }

    /// A tuple or frozenset: its items first.
    fn frozen(&mut self, addr: ObjAddr, node: &Node, depth: u32) -> PyResult<Bound<'py, PyAny>> {
        let tuple = node.kind == kinds::TUPLE;
        let exact = if tuple { "tuple" } else { "frozenset" };
        if node.type_name.as_ref() != exact {
            return self.opaque(addr, node, false, depth);
        }
        self.building.insert(addr);
        let mut items = Vec::with_capacity(node.items.len());
        for item in &node.items {
            match self.child(*item, depth) {
                Ok(v) => items.push(v.unwrap_or_else(|| self.py.None().into_bound(self.py))),
                Err(e) => {
                    self.building.remove(&addr);
                    return Err(e);
                }
            }
        }
        self.building.remove(&addr);
        let v = if tuple {
            PyTuple::new(self.py, items)?.into_any()
        } else {
            PyFrozenSet::new(self.py, items)?.into_any()
        };
        self.memo.insert(addr, v.clone());
        Ok(v)
    }

    /// Any other object: an [`Object`] with the CLI's repr; its attributes
    /// after it exists (they may refer back to it).
    fn opaque(
        &mut self,
        addr: ObjAddr,
        node: &Node,
        cut: bool,
        depth: u32,
    ) -> PyResult<Bound<'py, PyAny>> {
        let repr = render::repr(self.state, addr);
        // Past the depth bound the attributes are left out (a chain of
        // objects as long as the recording holds).
        let deep = depth > MAX_DEPTH;
        let attrs = node
            .attrs
            .as_ref()
            .filter(|_| !deep)
            .map(|_| PyDict::new(self.py));
        let obj = self.object(
            addr,
            node.type_name.to_string(),
            repr,
            attrs.clone(),
            cut || deep || node.truncated,
        )?;
        if let (Some(dict), Some(names)) = (attrs, &node.attrs) {
            for (name, child) in names {
                let key = PyString::new(self.py, name).into_any();
                match self.child(*child, depth)? {
                    Some(v) => dict.set_item(&key, v)?,
                    None => {
                        dict.set_item(&key, self.py.None())?;
                        self.fixups
                            .push(Fixup::DictValue(dict.clone(), key, *child));
                    }
                }
            }
        }
        Ok(obj)
    }

    fn object(
        &mut self,
        addr: ObjAddr,
        type_name: String,
        repr: String,
        attrs: Option<Bound<'py, PyDict>>,
        truncated: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let obj = Bound::new(
            self.py,
            Object {
                type_name,
                id: addr.0,
                repr,
                attrs: attrs.map(Bound::unbind),
                truncated,
            },
        )?
        .into_any();
        self.memo.insert(addr, obj.clone());
        Ok(obj)
    }

    /// Fill the slots that waited for a tuple.
    fn fix(&mut self) -> PyResult<()> {
        for f in std::mem::take(&mut self.fixups) {
            match f {
                Fixup::ListItem(list, i, addr) => {
                    if let Some(v) = self.memo.get(&addr) {
                        list.set_item(i, v)?;
                    }
                }
                Fixup::DictValue(dict, key, addr) => {
                    if let Some(v) = self.memo.get(&addr) {
                        dict.set_item(key, v)?;
                    }
                }
            }
        }
        Ok(())
    }
}
