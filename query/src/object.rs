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

use store::{Node, ObjAddr, Op, OpView, PostingKey, Postings, State, Step, StepMeta, StoreError};
use values::kinds;

use crate::error::QueryError;
use crate::eval::eval;
use crate::expr::Expr;
use crate::replay::Replay;
use crate::skip::{scan_touching, walk, Interest};
use crate::value::Value;
use crate::watch::full_walk;

mod parts;

use self::parts::{items_written, parts, simulate, Label};
pub use self::parts::{Part, PartChange, Shown};

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
    // Its events are at the steps whose heap ops touch it: the segments
    // where none does are skipped.
    let interest = |_: &Replay| {
        let mut i = Interest::default();
        i.object(addr);
        Some(i)
    };
    walk(reader, born, count - 1, &mut r, interest, |r, s| {
        ops.borrow_mut().clear();
        let mut pending: Vec<Pending> = Vec::new();
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
                        pending.push(Pending {
                            label: Label::Part(Part::Item(i)),
                            after: a,
                            before: shown,
                        });
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
                    pending.push(Pending {
                        label: part,
                        after: a,
                        before: shown,
                    });
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
                .map(|p| PartChange {
                    part: match p.label {
                        Label::Part(p) => p,
                        Label::Key(k) => Part::Key(values::render::repr(state, k)),
                    },
                    before: p.before,
                    after: p.after.map(|a| Shown::of(state, a, json)),
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

/// The step the life of the object at `addr` that holds at `step` began,
/// from the heap ops on `addr` alone (no state is kept: the node at
/// `addr` is all a birth depends on).
fn birth(reader: &store::Reader, step: u64, addr: ObjAddr) -> Result<u64, QueryError> {
    let mut node: Option<Node> = None;
    let mut born = 0;
    let key = PostingKey::Object(addr);
    let touched = |p: &Postings| p.has(&key);
    scan_touching(reader, reader.first_step(), step, touched, |s| {
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

/// A part found changed before the step is applied: its value before is
/// rendered then, its value after once the step is.
struct Pending {
    label: Label,
    after: Option<ObjAddr>,
    before: Option<Shown>,
}

/// Whether a heap op is on `addr`.
fn touches(op: &OpView<'_>, addr: ObjAddr) -> bool {
    match op {
        OpView::HeapSet(a, _) | OpView::HeapDel(a) => *a == addr,
        OpView::HeapItems { addr: a, .. } => *a == addr,
        _ => false,
    }
}
