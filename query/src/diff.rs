//! `diff`: what changed between two steps. Bindings: the locals of the
//! step's frame when both steps run in the same frame (by place: thread,
//! depth, function and file; a recording holds the locals of the running
//! frame only), and the globals when both run in the same module. Objects
//! by identity: every object both states hold at the same address,
//! reached from the bindings of B then A, whose items, keys or attributes
//! differ (an item of a list or tuple by index, a dict's entry by key, a
//! set's elements, an attribute by name), or that is another object at the
//! same address (another type, or an atom with another value: the first
//! was freed and the address reused).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use store::{Node, ObjAddr, State, Step};
use values::kinds;

use crate::error::QueryError;

/// The most objects [`diff`] walks in each state.
pub const MAX_OBJECTS: usize = 1_000_000;

/// A binding that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingChange {
    /// `"locals"` or `"globals"`.
    pub scope: &'static str,
    /// The name.
    pub name: Arc<str>,
    /// What it was bound to at A (`None`: not bound).
    pub before: Option<ObjAddr>,
    /// What it is bound to at B (`None`: not bound).
    pub after: Option<ObjAddr>,
}

/// What part of an object changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Item `i` of a list or tuple.
    Item(usize),
    /// The entry of a dict whose key has this repr.
    Key(String),
    /// A set's element (before: removed; after: added).
    Element,
    /// An attribute.
    Attr(Arc<str>),
    /// The whole object: another object now lives at the address.
    Replaced,
}

/// One change of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectChange {
    /// The object.
    pub addr: ObjAddr,
    /// How it was reached at B (or A): `data`, `p.items`, `d['k'][0]`.
    pub path: String,
    /// Its type at B.
    pub type_name: Arc<str>,
    /// Which part.
    pub part: Part,
    /// The part's value at A (`None`: absent).
    pub before: Option<ObjAddr>,
    /// The part's value at B (`None`: absent).
    pub after: Option<ObjAddr>,
}

/// The answer of [`diff`].
#[derive(Debug, Clone)]
pub struct Diff {
    /// The state at A.
    pub a: State,
    /// The state at B.
    pub b: State,
    /// The two steps run in the same frame: their locals were compared.
    pub same_frame: bool,
    /// The two steps run in the same module: their globals were compared.
    pub same_module: bool,
    /// Bindings added, removed or rebound (to another object, or to another
    /// atom made at the same address), locals first, in B's order.
    pub bindings: Vec<BindingChange>,
    /// Objects changed.
    pub objects: Vec<ObjectChange>,
}

/// What changed from step `a` to step `b`.
pub fn diff(reader: &store::Reader, a: u64, b: u64) -> Result<Diff, QueryError> {
    let sa = reader.state(Step(a))?;
    let sb = reader.state(Step(b))?;
    Ok(diff_states(sa, sb))
}

/// [`diff`] of two states.
pub fn diff_states(a: State, b: State) -> Diff {
    let place = |s: &State| {
        (
            s.meta.as_ref().map(|m| m.thread),
            s.stack.len(),
            s.stack.last().cloned().map(|f| (f.function, f.file)),
        )
    };
    let same_frame = place(&a) == place(&b);
    let same_module = a.stack.last().map(|f| &f.file) == b.stack.last().map(|f| &f.file);
    let mut bindings = Vec::new();
    if same_frame {
        bindings.extend(scope_changes("locals", &a, &b));
    }
    if same_module {
        bindings.extend(scope_changes("globals", &a, &b));
    }
    let objects = object_changes(&a, &b);
    Diff {
        a,
        b,
        same_frame,
        same_module,
        bindings,
        objects,
    }
}

fn scope_changes(scope: &'static str, sa: &State, sb: &State) -> Vec<BindingChange> {
    let (a, b) = match scope {
        "locals" => (&sa.locals, &sb.locals),
        _ => (&sa.globals, &sb.globals),
    };
    let before: HashMap<&str, ObjAddr> = a.iter().map(|(n, v)| (&**n, *v)).collect();
    let after: HashSet<&str> = b.iter().map(|(n, _)| &**n).collect();
    let mut out = Vec::new();
    for (n, v) in b {
        let was = before.get(&**n).copied();
        if was != Some(*v) || !same(sa, was, sb, Some(*v)) {
            out.push(BindingChange {
                scope,
                name: n.clone(),
                before: was,
                after: Some(*v),
            });
        }
    }
    for (n, v) in a {
        if !after.contains(&**n) {
            out.push(BindingChange {
                scope,
                name: n.clone(),
                before: Some(*v),
                after: None,
            });
        }
    }
    out
}

/// Whether two addresses hold the same value for a reader: two atoms of
/// one type and text (wherever they live: an atom freed and another made
/// at its address is another value), else the same object.
fn same(a: &State, x: Option<ObjAddr>, b: &State, y: Option<ObjAddr>) -> bool {
    let (n, m) = (
        x.and_then(|x| a.heap.get(&x)),
        y.and_then(|y| b.heap.get(&y)),
    );
    match (n, m) {
        (Some(n), Some(m)) if n.kind == kinds::ATOM || m.kind == kinds::ATOM => {
            n.kind == m.kind && n.type_name == m.type_name && n.text == m.text
        }
        _ => x == y,
    }
}

/// The objects held at the same address by both states whose parts
/// differ, in the order they are reached from B's bindings, then A's.
fn object_changes(a: &State, b: &State) -> Vec<ObjectChange> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut todo: Vec<(ObjAddr, String)> = Vec::new();
    let roots = b.locals.iter().chain(&b.globals);
    let roots = roots.chain(a.locals.iter().chain(&a.globals));
    for (n, v) in roots.collect::<Vec<_>>().into_iter().rev() {
        todo.push((*v, n.to_string()));
    }
    while let Some((addr, path)) = todo.pop() {
        if seen.len() >= MAX_OBJECTS || !seen.insert(addr) {
            continue;
        }
        let (na, nb) = (a.heap.get(&addr), b.heap.get(&addr));
        if let (Some(x), Some(y)) = (na, nb) {
            node_changes(a, b, addr, &path, x, y, &mut out);
        }
        // Children of B's node first (the value now), then A's.
        let mut next = Vec::new();
        for n in [nb, na].into_iter().flatten() {
            children(b, n, &path, &mut next);
        }
        todo.extend(next.into_iter().rev());
    }
    out
}

/// The children of a node with their paths.
fn children(s: &State, n: &Node, path: &str, out: &mut Vec<(ObjAddr, String)>) {
    match n.kind {
        kinds::LIST | kinds::TUPLE => {
            for (i, c) in n.items.iter().enumerate() {
                out.push((*c, format!("{path}[{i}]")));
            }
        }
        kinds::DICT => {
            for pair in n.items.chunks(2) {
                if let [k, v] = pair {
                    out.push((*v, format!("{path}[{}]", values::render::repr(s, *k))));
                }
            }
        }
        _ => {}
    }
    for (name, v) in n.attrs.iter().flatten() {
        out.push((*v, format!("{path}.{name}")));
    }
}

fn node_changes(
    a: &State,
    b: &State,
    addr: ObjAddr,
    path: &str,
    x: &Node,
    y: &Node,
    out: &mut Vec<ObjectChange>,
) {
    if x == y && !x.items.iter().any(|i| !same(a, Some(*i), b, Some(*i))) {
        return;
    }
    let mut push = |part: Part, before: Option<ObjAddr>, after: Option<ObjAddr>| {
        out.push(ObjectChange {
            addr,
            path: path.to_string(),
            type_name: y.type_name.clone(),
            part,
            before,
            after,
        })
    };
    if x.kind == kinds::ATOM && y.kind == kinds::ATOM {
        // Another atom at the address: shown where it is bound or held
        // (a binding or an item that changed value).
        return;
    }
    if x.type_name != y.type_name || x.kind != y.kind {
        push(Part::Replaced, Some(addr), Some(addr));
        return;
    }
    match y.kind {
        kinds::LIST | kinds::TUPLE => {
            for i in 0..x.items.len().max(y.items.len()) {
                let (p, q) = (x.items.get(i).copied(), y.items.get(i).copied());
                if !same(a, p, b, q) {
                    push(Part::Item(i), p, q);
                }
            }
        }
        kinds::DICT => {
            let entries = |s: &State, n: &Node| -> Vec<(String, ObjAddr)> {
                n.items
                    .chunks(2)
                    .filter_map(|p| match p {
                        [k, v] => Some((values::render::repr(s, *k), *v)),
                        _ => None,
                    })
                    .collect()
            };
            let (ea, eb) = (entries(a, x), entries(b, y));
            let before: HashMap<&str, ObjAddr> = ea.iter().map(|(k, v)| (k.as_str(), *v)).collect();
            let after: HashSet<&str> = eb.iter().map(|(k, _)| k.as_str()).collect();
            for (k, v) in &eb {
                let was = before.get(k.as_str()).copied();
                if !same(a, was, b, Some(*v)) {
                    push(Part::Key(k.clone()), was, Some(*v));
                }
            }
            for (k, v) in &ea {
                if !after.contains(k.as_str()) {
                    push(Part::Key(k.clone()), Some(*v), None);
                }
            }
        }
        kinds::SET | kinds::FROZENSET => {
            let reprs = |s: &State, n: &Node| -> Vec<(String, ObjAddr)> {
                n.items
                    .iter()
                    .map(|e| (values::render::repr(s, *e), *e))
                    .collect()
            };
            let (ea, eb) = (reprs(a, x), reprs(b, y));
            let ka: HashSet<&str> = ea.iter().map(|(k, _)| k.as_str()).collect();
            let kb: HashSet<&str> = eb.iter().map(|(k, _)| k.as_str()).collect();
            for (k, e) in &eb {
                if !ka.contains(k.as_str()) {
                    push(Part::Element, None, Some(*e));
                }
            }
            for (k, e) in &ea {
                if !kb.contains(k.as_str()) {
                    push(Part::Element, Some(*e), None);
                }
            }
        }
        _ => {}
    }
    let (xa, ya) = (
        x.attrs.as_deref().unwrap_or(&[]),
        y.attrs.as_deref().unwrap_or(&[]),
    );
    let before: HashMap<&str, ObjAddr> = xa.iter().map(|(k, v)| (&**k, *v)).collect();
    let after: HashSet<&str> = ya.iter().map(|(k, _)| &**k).collect();
    for (k, v) in ya {
        let was = before.get(&**k).copied();
        if !same(a, was, b, Some(*v)) {
            push(Part::Attr(k.clone()), was, Some(*v));
        }
    }
    for (k, v) in xa {
        if !after.contains(&**k) {
            push(Part::Attr(k.clone()), Some(*v), None);
        }
    }
}
