//! The parts of an object that changed at a step: which items, entries,
//! elements or attributes of its own node, found by comparing the node
//! before the step with the node after it (or, for a list whose items are
//! written in place, from the items the step's ops write), with the values
//! before and after rendered in the state of each side.

use std::sync::Arc;

use store::{Node, ObjAddr, Op, State};
use values::kinds;

use crate::value::Value;
use crate::watch::FxMap;

/// A part of the object's own node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Item `i` of a list or tuple.
    Item(usize),
    /// A dict's entry, by its key (the repr of the key).
    Key(String),
    /// A set's element (before: removed; after: added).
    Element,
    /// An attribute.
    Attr(Arc<str>),
    /// The object's own value where no item or attribute changed (its
    /// text, or whether it was cut).
    Value,
}

impl Part {
    /// How the CLI names it: `[3]`, `['k']`, `element`, `.x`, `value`.
    pub fn label(&self) -> String {
        match self {
            Part::Item(i) => format!("[{i}]"),
            Part::Key(k) => format!("[{k}]"),
            Part::Element => "element".into(),
            Part::Attr(a) => format!(".{a}"),
            Part::Value => "value".into(),
        }
    }
}

/// A value as the CLI shows it (docs/spec/values.md), in the form asked
/// for: only the changed parts are rendered, in one form.
#[derive(Debug, Clone, PartialEq)]
pub enum Shown {
    /// The text form.
    Text(String),
    /// The JSON form.
    Json(serde_json::Value),
}

impl Shown {
    pub(super) fn of(state: &State, a: ObjAddr, json: bool) -> Shown {
        let v = Value::Obj(a);
        if json {
            Shown::Json(v.json(state))
        } else {
            Shown::Text(v.text(state))
        }
    }
}

/// A part that changed at a step: its value before the step and after
/// (`None`: absent).
#[derive(Debug, Clone, PartialEq)]
pub struct PartChange {
    /// Which part.
    pub part: Part,
    /// Its value in the state before the step.
    pub before: Option<Shown>,
    /// Its value in the state after it.
    pub after: Option<Shown>,
}

/// Apply `ops` (`Op::HeapItems` on the node) to `node`'s items, and
/// return the items they changed, by index: the item before the step and
/// after it (`None`: absent), items written back as they were left out.
pub(super) fn items_written(
    node: &mut Node,
    ops: &[Op],
) -> Vec<(usize, Option<ObjAddr>, Option<ObjAddr>)> {
    let mut out: Vec<(usize, Option<ObjAddr>, Option<ObjAddr>)> = Vec::new();
    let mut at: FxMap<usize, usize> = FxMap::default();
    let mut note = |i: usize, was: Option<ObjAddr>, now: Option<ObjAddr>| match at.get(&i) {
        Some(&p) => out[p].2 = now,
        None => {
            at.insert(i, out.len());
            out.push((i, was, now));
        }
    };
    for op in ops {
        let Op::HeapItems {
            start, new, len, ..
        } = op
        else {
            continue;
        };
        let items = &mut node.items;
        let start = (*start as usize).min(items.len());
        for (k, a) in new.iter().enumerate() {
            note(start + k, items.get(start + k).copied(), Some(*a));
        }
        let end = start + new.len();
        if items.len() < end {
            items.resize(end, ObjAddr(0));
        }
        items[start..end].copy_from_slice(new);
        for (i, a) in items.iter().enumerate().skip(*len as usize) {
            note(i, Some(*a), None);
        }
        items.truncate(*len as usize);
    }
    out.retain(|(_, b, a)| b != a);
    out.sort_by_key(|c| c.0);
    out
}

/// A part as found before the step: named, or a dict's entry whose key
/// is named after the step (a new key's object is not there before it).
pub(super) enum Label {
    /// Named before the step.
    Part(Part),
    /// A dict's entry whose key (at this address) is named after it.
    Key(ObjAddr),
}

/// The node at `addr` after `ops` (the step's heap ops on it, in order)
/// change `node`.
pub(super) fn simulate(mut node: Option<Node>, ops: &[Op], addr: ObjAddr) -> Option<Node> {
    for op in ops {
        match op {
            Op::HeapSet(a, n) if *a == addr => node = Some(n.clone()),
            Op::HeapDel(a) if *a == addr => node = None,
            Op::HeapItems {
                addr: a,
                start,
                new,
                len,
            } if *a == addr => {
                let n = node.as_mut()?;
                let start = (*start as usize).min(n.items.len());
                let end = start + new.len();
                if n.items.len() < end {
                    n.items.resize(end, ObjAddr(0));
                }
                n.items[start..end].copy_from_slice(new);
                n.items.truncate(*len as usize);
            }
            _ => {}
        }
    }
    node
}

/// The parts of `old` that `new` changes (the object's own node: which
/// object each part is, by address), the keys of removed entries named in
/// `state` (before the step), the others left to name after it; the whole
/// value at `addr` when its node changed but none of its parts did.
pub(super) fn parts(
    state: &State,
    addr: ObjAddr,
    old: &Node,
    new: &Node,
) -> Vec<(Label, Option<ObjAddr>, Option<ObjAddr>)> {
    let mut out = Vec::new();
    match new.kind {
        kinds::LIST | kinds::TUPLE => {
            // Blocks of equal items are skipped by a compare of the block
            // (a swap in a long list costs a memcmp, not a loop).
            const BLOCK: usize = 64;
            let (x, y) = (&old.items, &new.items);
            let mut i = 0;
            while i < x.len().max(y.len()) {
                let end = (i + BLOCK).min(x.len().max(y.len()));
                if end <= x.len() && end <= y.len() && x[i..end] == y[i..end] {
                    i = end;
                    continue;
                }
                for j in i..end {
                    let (p, q) = (x.get(j).copied(), y.get(j).copied());
                    if p != q {
                        out.push((Label::Part(Part::Item(j)), p, q));
                    }
                }
                i = end;
            }
        }
        kinds::DICT if old.items != new.items => {
            let pairs = |n: &Node| -> Vec<(ObjAddr, ObjAddr)> {
                n.items
                    .chunks(2)
                    .filter_map(|p| match p {
                        [k, v] => Some((*k, *v)),
                        _ => None,
                    })
                    .collect()
            };
            let (a, b) = (pairs(old), pairs(new));
            let before: FxMap<ObjAddr, ObjAddr> = a.iter().copied().collect();
            let after: FxMap<ObjAddr, ObjAddr> = b.iter().copied().collect();
            for (k, v) in &b {
                let was = before.get(k).copied();
                if was != Some(*v) {
                    out.push((Label::Key(*k), was, Some(*v)));
                }
            }
            for (k, v) in &a {
                if !after.contains_key(k) {
                    let key = Part::Key(values::render::repr(state, *k));
                    out.push((Label::Part(key), Some(*v), None));
                }
            }
        }
        kinds::SET | kinds::FROZENSET if old.items != new.items => {
            let a: FxMap<ObjAddr, ()> = old.items.iter().map(|e| (*e, ())).collect();
            let b: FxMap<ObjAddr, ()> = new.items.iter().map(|e| (*e, ())).collect();
            for e in &new.items {
                if !a.contains_key(e) {
                    out.push((Label::Part(Part::Element), None, Some(*e)));
                }
            }
            for e in &old.items {
                if !b.contains_key(e) {
                    out.push((Label::Part(Part::Element), Some(*e), None));
                }
            }
        }
        _ => {}
    }
    let (xa, ya) = (
        old.attrs.as_deref().unwrap_or(&[]),
        new.attrs.as_deref().unwrap_or(&[]),
    );
    if xa != ya {
        for (k, v) in ya {
            let was = xa.iter().find(|(n, _)| n == k).map(|(_, a)| *a);
            if was != Some(*v) {
                out.push((Label::Part(Part::Attr(k.clone())), was, Some(*v)));
            }
        }
        for (k, v) in xa {
            if !ya.iter().any(|(n, _)| n == k) {
                out.push((Label::Part(Part::Attr(k.clone())), Some(*v), None));
            }
        }
    }
    if out.is_empty() && old != new {
        out.push((Label::Part(Part::Value), Some(addr), Some(addr)));
    }
    out
}
