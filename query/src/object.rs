//! `object`: the life of the object an expression names at a step. A life
//! is the run of steps at which the recording holds an object at that
//! address, of the same type (and, for an atom, the same value: atoms do
//! not change, so another value there is another object). It begins at the
//! step the object first appears (it was made, or first became reachable
//! from the running frame), changes at each step its own node changes (an
//! item, key or attribute of its own, not deeper), and ends at the step the
//! recording no longer holds it (freed, or no longer reachable from what
//! the running frame sees) or holds another object at that address.
//! At each change the parts of its node that changed are given (item,
//! entry, element, attribute) with their values before and after: a list
//! sorted in place changes at a third of a million steps, and printing it
//! whole at each would be most of the query's time.

use std::cell::RefCell;
use std::sync::Arc;

use store::{Node, ObjAddr, Op, OpView, State, Step, StepMeta, StoreError};
use values::kinds;

use crate::error::QueryError;
use crate::eval::eval;
use crate::expr::Expr;
use crate::replay::Replay;
use crate::value::Value;
use crate::watch::{full_walk, FxMap};

/// What happened to the object at a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// It appears (its life begins).
    Appears,
    /// Its own items, keys or attributes changed.
    Changes,
    /// It is gone: no longer held, or another object took its address.
    Gone,
}

impl Event {
    /// The word the CLI prints.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Appears => "appears",
            Event::Changes => "changes",
            Event::Gone => "gone",
        }
    }
}

/// The names bound to `addr` at the step of `state`: locals, then globals.
pub fn names_bound_to(state: &State, addr: ObjAddr) -> Vec<Arc<str>> {
    state
        .locals
        .iter()
        .chain(&state.globals)
        .filter(|(_, a)| *a == addr)
        .map(|(n, _)| n.clone())
        .collect()
}

/// Whether `new` at an address is another object than `old` was.
fn another(old: &Node, new: &Node) -> bool {
    old.type_name != new.type_name
        || old.kind != new.kind
        || (old.kind == kinds::ATOM && old.text != new.text)
}

/// The object `expr` names at `step`: its address.
pub fn object_at(reader: &store::Reader, step: u64, expr: &Expr) -> Result<ObjAddr, QueryError> {
    let st = reader.state(Step(step))?;
    match eval(expr, &st) {
        Ok(Value::Obj(a)) => Ok(a),
        Ok(v) => Err(QueryError::Usage(format!(
            "`{expr}` is {} at step {step}, a value the query computed, not a recorded object",
            v.text(&st)
        ))),
        Err(err) => Err(QueryError::NoValue {
            expr: expr.to_string(),
            step,
            err,
        }),
    }
}

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
    fn of(state: &State, a: ObjAddr, json: bool) -> Shown {
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

/// What the callback of [`object_life`] gets at each event.
pub struct LifeEvent<'a> {
    /// The step.
    pub meta: &'a StepMeta,
    /// What happened.
    pub event: Event,
    /// The state after the step (the object, the names bound to it).
    pub state: &'a State,
    /// On [`Event::Changes`]: the parts of its own node that changed, in
    /// order (items by index, then entries, elements and attributes).
    pub parts: &'a [PartChange],
}

/// Call `f` on each event of the life of the object at `addr` that holds
/// at `step`, in order, from the step it appears to the step it is gone
/// (or the recording ends). Each step is read once: the step of its birth
/// from the heap ops on `addr` alone, then its life with the state kept
/// from the ops; a change costs the parts that changed, not the object.
/// The parts' values are rendered as JSON when `json`, else as text.
pub fn object_life<E>(
    reader: &store::Reader,
    step: u64,
    addr: ObjAddr,
    json: bool,
    mut f: impl FnMut(&LifeEvent<'_>) -> Result<bool, E>,
) -> Result<(), E>
where
    E: From<QueryError> + From<StoreError>,
{
    let born = birth(reader, step, addr)?;
    let count = reader.step_count();
    let mut r = Replay::before(reader, born)?;
    let mut node: Option<Node> = r.state.heap.get(&addr).cloned();
    let mut first = true;
    // Written by the op callback, read before the step is applied.
    let ops: RefCell<Vec<Op>> = RefCell::new(Vec::new());
    let mut decode_err: Option<String> = None;
    reader.scan_steps(Step(born), Step(count - 1), |s| {
        ops.borrow_mut().clear();
        let mut pending: Vec<(Label, Option<ObjAddr>, Option<ObjAddr>, Option<Shown>)> = Vec::new();
        let mut items_only = false;
        r.apply_inspect(
            s,
            |op| {
                if touches(op, addr) {
                    match op.to_op() {
                        Ok(o) => ops.borrow_mut().push(o),
                        Err(e) => decode_err = Some(e.to_string()),
                    }
                }
            },
            |before| {
                let ops = ops.borrow();
                if first || ops.is_empty() {
                    return;
                }
                if let Some(n) = node.as_mut().filter(|n| {
                    !full_walk()
                        && matches!(n.kind, kinds::LIST | kinds::TUPLE)
                        && ops.iter().all(|o| matches!(o, Op::HeapItems { .. }))
                }) {
                    // Items written in place (a swap): the node is kept
                    // here from the ops, and only the items written are
                    // compared.
                    items_only = true;
                    for (i, b, a) in items_written(n, &ops) {
                        let shown = b.map(|b| Shown::of(before, b, json));
                        pending.push((Label::Part(Part::Item(i)), b, a, shown));
                    }
                    return;
                }
                let (Some(old), Some(new)) = (&node, simulate(node.clone(), &ops, addr)) else {
                    return;
                };
                if another(old, &new) {
                    return;
                }
                for (part, b, a) in parts(before, addr, old, &new) {
                    let shown = b.map(|b| Shown::of(before, b, json));
                    pending.push((part, b, a, shown));
                }
            },
        )?;
        if let Some(e) = decode_err.take() {
            return Err(QueryError::Damaged {
                step: s.meta.step.0,
                what: format!("a node does not decode ({e})"),
            }
            .into());
        }
        let touched = !ops.borrow().is_empty();
        let now = r.state.heap.get(&addr);
        let event = match (first, now, &node) {
            (true, _, _) => Some(Event::Appears),
            _ if items_only => (!pending.is_empty()).then_some(Event::Changes),
            (_, _, _) if !touched => None,
            (_, None, _) => Some(Event::Gone),
            (_, Some(n), Some(old)) if another(old, n) => Some(Event::Gone),
            (_, Some(n), Some(old)) if n != old => Some(Event::Changes),
            _ => None,
        };
        if first || (touched && !items_only) {
            node = now.cloned();
        }
        first = false;
        let Some(e) = event else {
            return Ok(true);
        };
        let meta = s.meta.to_meta();
        let state = &r.state;
        let changes: Vec<PartChange> = if e == Event::Changes {
            pending
                .into_iter()
                .map(|(label, _, a, before)| PartChange {
                    part: match label {
                        Label::Part(p) => p,
                        Label::Key(k) => Part::Key(values::render::repr(state, k)),
                    },
                    before,
                    after: a.map(|a| Shown::of(state, a, json)),
                })
                .collect()
        } else {
            Vec::new()
        };
        let go_on = f(&LifeEvent {
            meta: &meta,
            event: e,
            state,
            parts: &changes,
        })?;
        Ok(go_on && e != Event::Gone)
    })
}

/// Apply `ops` (`Op::HeapItems` on the node) to `node`'s items, and
/// return the items they changed, by index: the item before the step and
/// after it (`None`: absent), items written back as they were left out.
fn items_written(node: &mut Node, ops: &[Op]) -> Vec<(usize, Option<ObjAddr>, Option<ObjAddr>)> {
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
enum Label {
    Part(Part),
    Key(ObjAddr),
}

/// The node at `addr` after `ops` (the step's heap ops on it, in order)
/// change `node`.
fn simulate(mut node: Option<Node>, ops: &[Op], addr: ObjAddr) -> Option<Node> {
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
fn parts(
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

/// The step the life of the object at `addr` that holds at `step` began,
/// from the heap ops on `addr` alone (no state is kept: the node at
/// `addr` is all a birth depends on).
fn birth(reader: &store::Reader, step: u64, addr: ObjAddr) -> Result<u64, QueryError> {
    let mut node: Option<Node> = None;
    let mut born = 0;
    reader.scan_steps(Step(reader.first_step()), Step(step), |s| {
        // The node after the step, compared with the node before it.
        let mut now: Option<Option<Node>> = None;
        for op in s.ops() {
            match op? {
                OpView::HeapSet(a, n) if a == addr => match n.decode() {
                    Ok(n) => now = Some(Some(n)),
                    Err(e) => {
                        return Err(QueryError::Damaged {
                            step: s.meta.step.0,
                            what: format!("a node does not decode ({e})"),
                        })
                    }
                },
                OpView::HeapDel(a) if a == addr => now = Some(None),
                // Items only: the same object (and its type, all a birth
                // looks at, unchanged).
                _ => {}
            }
        }
        let Some(now) = now else {
            return Ok(true);
        };
        let new = match (&node, &now) {
            (None, Some(_)) => true,
            (Some(old), Some(n)) => another(old, n),
            _ => false,
        };
        if new {
            born = s.meta.step.0;
        }
        node = now;
        Ok::<_, QueryError>(true)
    })?;
    Ok(born)
}

/// Whether a heap op is on `addr`.
fn touches(op: &OpView<'_>, addr: ObjAddr) -> bool {
    match op {
        OpView::HeapSet(a, _) | OpView::HeapDel(a) => *a == addr,
        OpView::HeapItems { addr: a, .. } => *a == addr,
        _ => false,
    }
}
