//! Applying one step's ops to a state: the single definition of what the
//! ops mean, shared by the writer (to keep its running state for
//! checkpoints), the reader (to rebuild states) and the tracer's tests.

use crate::error::StoreError;
use crate::model::{Node, ObjAddr, Op, Scope, State};
use std::sync::Arc;

/// The most items a node may have after a [`Op::HeapItems`]; bounds memory
/// when ops come from a damaged or hostile file.
pub const MAX_ITEMS: u32 = 1 << 26;

/// The deepest stack a state may hold.
pub const MAX_STACK: usize = 1 << 20;

/// Apply one step's ops to `state`.
///
/// The first op must be [`Op::Step`] and no other op may be one. Removing
/// something absent (`Unbind` of an unknown name, `HeapDel` of an unknown
/// address, `StackTruncate` beyond the depth) is a no-op, because the result
/// is the same state either way. `HeapItems` on an absent node, or beyond
/// [`MAX_ITEMS`], is an error. On error the state may be partly updated.
pub fn apply(state: &mut State, ops: &[Op]) -> Result<(), StoreError> {
    let step = first_step(state, ops)?;
    for (i, op) in ops.iter().enumerate() {
        apply_one(state, step, i, op.clone())?;
    }
    Ok(())
}

/// [`apply`], consuming the ops: nodes, frames and names move into the
/// state instead of being copied (the reader's hot path).
pub fn apply_owned(state: &mut State, ops: Vec<Op>) -> Result<(), StoreError> {
    let step = first_step(state, &ops)?;
    for (i, op) in ops.into_iter().enumerate() {
        apply_one(state, step, i, op)?;
    }
    Ok(())
}

/// The step number of a step's ops, checking they start with `Op::Step`.
fn first_step(state: &State, ops: &[Op]) -> Result<u64, StoreError> {
    Ok(match ops.first() {
        Some(Op::Step(meta)) => meta.step.0,
        Some(_) => {
            return Err(StoreError::BadOps {
                step: state.meta.as_ref().map_or(0, |m| m.step.0 + 1),
                what: "the first op is not Op::Step".into(),
            })
        }
        None => {
            return Err(StoreError::BadOps {
                step: state.meta.as_ref().map_or(0, |m| m.step.0 + 1),
                what: "a step with no ops (it needs at least Op::Step)".into(),
            })
        }
    })
}

/// Apply the `i`-th op of step `step`.
fn apply_one(state: &mut State, step: u64, i: usize, op: Op) -> Result<(), StoreError> {
    let bad = |what: String| StoreError::BadOps { step, what };
    match op {
        Op::Step(meta) => {
            if i != 0 {
                return Err(bad(format!("a second Op::Step at position {i}")));
            }
            state.meta = Some(meta);
        }
        Op::StackTruncate(n) => state.stack.truncate(n as usize),
        Op::StackPush(frame) => {
            if state.stack.len() >= MAX_STACK {
                return Err(bad(format!("the stack would exceed {MAX_STACK} frames")));
            }
            state.stack.push(frame);
        }
        Op::ClearScope(scope) => scope_mut(state, scope).clear(),
        Op::Bind { scope, name, value } => bind(scope_mut(state, scope), name, value),
        Op::Unbind { scope, name } => {
            let names = scope_mut(state, scope);
            if let Some(pos) = names.iter().position(|(n, _)| *n == name) {
                names.remove(pos);
            }
        }
        Op::HeapSet(addr, node) => {
            if node.items.len() > MAX_ITEMS as usize {
                return Err(bad(format!(
                    "node {:#x} has {} items, more than {MAX_ITEMS}",
                    addr.0,
                    node.items.len()
                )));
            }
            state.heap.insert(addr, node);
        }
        Op::HeapItems {
            addr,
            start,
            new,
            len,
        } => {
            let node = state.heap.get_mut(&addr).ok_or_else(|| {
                bad(format!(
                    "HeapItems on {:#x}, which is not in the heap",
                    addr.0
                ))
            })?;
            splice_items(node, start, &new, len)
                .map_err(|e| bad(format!("HeapItems on {:#x} {e}", addr.0)))?;
        }
        Op::HeapDel(addr) => {
            state.heap.remove(&addr);
        }
    }
    Ok(())
}

/// What [`Op::HeapItems`] does to a node: overwrite `items[start..]` with
/// `new` (growing the items where needed), then cut or pad them to `len`.
/// Refused (the node unchanged) beyond [`MAX_ITEMS`].
pub fn splice_items(node: &mut Node, start: u32, new: &[ObjAddr], len: u32) -> Result<(), String> {
    let end = u64::from(start) + new.len() as u64;
    if end > u64::from(MAX_ITEMS) || len > MAX_ITEMS {
        return Err(format!(
            "reaches {} items, more than {MAX_ITEMS}",
            end.max(u64::from(len))
        ));
    }
    let start = start as usize;
    let end = end as usize;
    if node.items.len() < end {
        node.items.resize(end, ObjAddr(0));
    }
    node.items[start..end].copy_from_slice(new);
    node.items.resize(len as usize, ObjAddr(0));
    Ok(())
}

fn scope_mut(state: &mut State, scope: Scope) -> &mut Vec<(Arc<str>, ObjAddr)> {
    match scope {
        Scope::Locals => &mut state.locals,
        Scope::Globals => &mut state.globals,
    }
}

/// Rebind in place (keeping the name's position) or append a new name.
fn bind(names: &mut Vec<(Arc<str>, ObjAddr)>, name: Arc<str>, value: ObjAddr) {
    match names.iter_mut().find(|(n, _)| *n == name) {
        Some(slot) => slot.1 = value,
        None => names.push((name, value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EventKind, FrameRec, Step, StepMeta};

    fn meta(n: u64) -> Op {
        Op::Step(StepMeta {
            step: Step(n),
            event: EventKind::Line,
            thread: 1,
            file: "f.py".into(),
            function: "<module>".into(),
            line: 1,
            position: None,
            value: None,
        })
    }

    fn node(items: Vec<u64>) -> Node {
        Node {
            type_name: "list".into(),
            kind: 1,
            text: String::new(),
            items: items.into_iter().map(ObjAddr).collect(),
            attrs: None,
            truncated: false,
        }
    }

    #[test]
    fn ops_change_the_state() {
        let mut s = State::default();
        let frame = FrameRec {
            function: "f".into(),
            file: "f.py".into(),
            line: 3,
        };
        apply(
            &mut s,
            &[
                meta(0),
                Op::StackPush(frame.clone()),
                Op::StackPush(frame.clone()),
                Op::Bind {
                    scope: Scope::Locals,
                    name: "a".into(),
                    value: ObjAddr(1),
                },
                Op::Bind {
                    scope: Scope::Locals,
                    name: "b".into(),
                    value: ObjAddr(2),
                },
                Op::HeapSet(ObjAddr(1), node(vec![5, 6, 7])),
            ],
        )
        .unwrap();
        apply(
            &mut s,
            &[
                meta(1),
                Op::StackTruncate(1),
                Op::Bind {
                    scope: Scope::Locals,
                    name: "a".into(),
                    value: ObjAddr(3),
                },
                Op::Unbind {
                    scope: Scope::Globals,
                    name: "absent".into(),
                },
                Op::HeapItems {
                    addr: ObjAddr(1),
                    start: 2,
                    new: vec![ObjAddr(8), ObjAddr(9)],
                    len: 4,
                },
            ],
        )
        .unwrap();
        assert_eq!(s.stack, vec![frame]);
        assert_eq!(
            s.locals,
            vec![("a".into(), ObjAddr(3)), ("b".into(), ObjAddr(2))]
        );
        assert_eq!(s.heap[&ObjAddr(1)], node(vec![5, 6, 8, 9]));
        apply(
            &mut s,
            &[
                meta(2),
                Op::HeapItems {
                    addr: ObjAddr(1),
                    start: 0,
                    new: vec![],
                    len: 1,
                },
                Op::ClearScope(Scope::Locals),
                Op::HeapDel(ObjAddr(7)),
            ],
        )
        .unwrap();
        assert_eq!(s.heap[&ObjAddr(1)], node(vec![5]));
        assert!(s.locals.is_empty());
        assert_eq!(s.meta.unwrap().step, Step(2));
    }

    #[test]
    fn malformed_steps_are_refused() {
        let mut s = State::default();
        assert!(apply(&mut s, &[]).is_err());
        assert!(apply(&mut s, &[Op::HeapDel(ObjAddr(1))]).is_err());
        assert!(apply(&mut s, &[meta(0), meta(0)]).is_err());
        let items = Op::HeapItems {
            addr: ObjAddr(1),
            start: 0,
            new: vec![],
            len: 0,
        };
        assert!(apply(&mut s, &[meta(0), items]).is_err());
        s.heap.insert(ObjAddr(1), node(vec![]));
        let huge = Op::HeapItems {
            addr: ObjAddr(1),
            start: u32::MAX,
            new: vec![ObjAddr(1)],
            len: 0,
        };
        assert!(apply(&mut s, &[meta(0), huge]).is_err());
    }
}
