//! `object`: the life of the object an expression names at a step. A life
//! is the run of steps at which the recording holds an object at that
//! address, of the same type (and, for an atom, the same value: atoms do
//! not change, so another value there is another object). It begins at the
//! step the object first appears (it was made, or first became reachable
//! from the running frame), changes at each step its own node changes (an
//! item, key or attribute of its own, not deeper), and ends at the step the
//! recording no longer holds it (freed, or no longer reachable from what
//! the running frame sees) or holds another object at that address.

use std::sync::Arc;

use store::{Node, ObjAddr, OpView, State, Step, StepMeta, StoreError};
use values::kinds;

use crate::error::QueryError;
use crate::eval::eval;
use crate::expr::Expr;
use crate::replay::Replay;
use crate::value::Value;

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

/// Call `f` on each event of the life of the object at `addr` that holds
/// at `step` (the step, the event, and the state there: the object, the
/// names bound to it), in order, from the step it appears to the step it
/// is gone (or the recording ends).
pub fn object_life<E>(
    reader: &store::Reader,
    step: u64,
    addr: ObjAddr,
    mut f: impl FnMut(&StepMeta, Event, &State) -> Result<bool, E>,
) -> Result<(), E>
where
    E: From<QueryError> + From<StoreError>,
{
    let born = birth(reader, step, addr)?;
    let count = reader.step_count();
    let mut r = Replay::before(reader, born)?;
    let mut node: Option<Node> = r.state.heap.get(&addr).cloned();
    let mut first = true;
    reader.scan_steps(Step(born), Step(count - 1), |s| {
        let mut touched = false;
        r.apply(s, |op| touched |= touches(op, addr))?;
        let meta = s.meta.to_meta();
        let now = r.state.heap.get(&addr);
        let event = match (first, now, &node) {
            (true, _, _) => Some(Event::Appears),
            (_, _, _) if !touched => None,
            (_, None, _) => Some(Event::Gone),
            (_, Some(n), Some(old)) if another(old, n) => Some(Event::Gone),
            (_, Some(n), Some(old)) if n != old => Some(Event::Changes),
            _ => None,
        };
        if first || touched {
            node = now.cloned();
        }
        first = false;
        match event {
            Some(e) => {
                let go_on = f(&meta, e, &r.state)?;
                Ok(go_on && e != Event::Gone)
            }
            None => Ok(true),
        }
    })
}

/// The step the life of the object at `addr` that holds at `step` began.
fn birth(reader: &store::Reader, step: u64, addr: ObjAddr) -> Result<u64, QueryError> {
    let mut r = Replay::default();
    let mut node: Option<Node> = None;
    let mut born = 0;
    reader.scan_steps(Step(0), Step(step), |s| {
        let mut touched = false;
        r.apply(s, |op| touched |= touches(op, addr))?;
        if !touched {
            return Ok(true);
        }
        let now = r.state.heap.get(&addr);
        let new = match (&node, now) {
            (None, Some(_)) => true,
            (Some(old), Some(n)) => another(old, n),
            _ => false,
        };
        if new {
            born = s.meta.step.0;
        }
        node = now.cloned();
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
