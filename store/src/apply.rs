//! Applying one step's ops to a state: the single definition of what the
//! ops mean, shared by the writer (to keep its running state for
//! checkpoints), the reader (to rebuild states) and the tracer's tests.

use crate::bounds::{binding_cost, frame_cost, node_cost, Budget};
use crate::error::StoreError;
use crate::model::{Node, ObjAddr, Op, Scope, State};
use std::sync::Arc;

pub use crate::bounds::{MAX_ITEMS, MAX_STACK};

/// Apply one step's ops to `state`.
///
/// The first op must be [`Op::Step`] and no other op may be one. Removing
/// something absent (`Unbind` of an unknown name, `HeapDel` of an unknown
/// address, `StackTruncate` beyond the depth) is a no-op, because the result
/// is the same state either way. `HeapItems` on an absent node, beyond
/// [`MAX_ITEMS`], or leaving items it does not write (see [`Op::HeapItems`])
/// is an error. On error the state may be partly updated.
pub fn apply(state: &mut State, ops: &[Op]) -> Result<(), StoreError> {
    let step = first_step(state, ops)?;
    let mut budget = Budget::unlimited();
    for (i, op) in ops.iter().enumerate() {
        apply_one(state, step, i, op.clone(), &mut budget)?;
    }
    Ok(())
}

/// [`apply`], consuming the ops: nodes, frames and names move into the
/// state instead of being copied (the reader's hot path).
pub fn apply_owned(state: &mut State, ops: Vec<Op>) -> Result<(), StoreError> {
    apply_counted(state, ops, &mut Budget::unlimited())
}

/// [`apply_owned`], counting what the state holds in `budget` (which must
/// count `state` as it is: [`Budget::of`]) and failing when a step would
/// take it past its bound ([`crate::bounds::MAX_STATE_BYTES`]). The reader
/// and the writer apply ops this way, so the states of a file stay bounded.
pub fn apply_counted(
    state: &mut State,
    ops: Vec<Op>,
    budget: &mut Budget,
) -> Result<(), StoreError> {
    let step = first_step(state, &ops)?;
    for (i, op) in ops.into_iter().enumerate() {
        apply_one(state, step, i, op, budget)?;
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

/// Apply the `i`-th op of step `step`, counting the state's size in `budget`.
fn apply_one(
    state: &mut State,
    step: u64,
    i: usize,
    op: Op,
    budget: &mut Budget,
) -> Result<(), StoreError> {
    let bad = |what: String| StoreError::BadOps { step, what };
    let over = |bytes: u64| StoreError::StateTooLarge { step, bytes };
    match op {
        Op::Step(meta) => {
            if i != 0 {
                return Err(bad(format!("a second Op::Step at position {i}")));
            }
            state.meta = Some(meta);
        }
        Op::StackTruncate(n) => {
            let n = (n as usize).min(state.stack.len());
            let freed = state.stack[n..].iter().map(frame_cost).sum();
            budget.change(0, freed).map_err(over)?;
            state.stack.truncate(n);
        }
        Op::StackPush(frame) => {
            if state.stack.len() >= MAX_STACK {
                return Err(bad(format!("the stack would exceed {MAX_STACK} frames")));
            }
            budget.change(frame_cost(&frame), 0).map_err(over)?;
            state.stack.push(frame);
        }
        Op::ClearScope(scope) => {
            let names = scope_mut(state, scope);
            let freed = names.iter().map(|(n, _)| binding_cost(n)).sum();
            budget.change(0, freed).map_err(over)?;
            names.clear();
        }
        Op::Bind { scope, name, value } => {
            let names = scope_mut(state, scope);
            match names.iter_mut().find(|(n, _)| *n == name) {
                // Rebind in place, keeping the name's position.
                Some(slot) => slot.1 = value,
                None => {
                    budget.change(binding_cost(&name), 0).map_err(over)?;
                    names.push((name, value));
                }
            }
        }
        Op::Unbind { scope, name } => {
            let names = scope_mut(state, scope);
            if let Some(pos) = names.iter().position(|(n, _)| *n == name) {
                budget.change(0, binding_cost(&name)).map_err(over)?;
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
            let cost = node_cost(&node);
            let old = state.heap.insert(addr, node);
            if let Err(used) = budget.change(cost, old.as_ref().map_or(0, node_cost)) {
                // Refused: the heap as it was (one lookup on the hot path).
                match old {
                    Some(o) => state.heap.insert(addr, o),
                    None => state.heap.remove(&addr),
                };
                return Err(over(used));
            }
        }
        Op::HeapItems {
            addr,
            start,
            new,
            len,
        } => {
            let end = u64::from(start) + new.len() as u64;
            if end > u64::from(MAX_ITEMS) || len > MAX_ITEMS {
                return Err(bad(format!(
                    "HeapItems on {:#x} reaches {} items, more than {MAX_ITEMS}",
                    addr.0,
                    end.max(u64::from(len))
                )));
            }
            let node = state.heap.get_mut(&addr).ok_or_else(|| {
                bad(format!(
                    "HeapItems on {:#x}, which is not in the heap",
                    addr.0
                ))
            })?;
            let had = node.items.len() as u64;
            if u64::from(start) > had || u64::from(len) > had.max(end) {
                return Err(bad(format!(
                    "HeapItems on {:#x} (of {had} items) writes items {start}..{end} and \
                     keeps {len}: items that nothing writes",
                    addr.0
                )));
            }
            budget.change(8 * u64::from(len), 8 * had).map_err(over)?;
            splice_items(node, start, &new, len)
                .map_err(|e| bad(format!("HeapItems on {:#x} {e}", addr.0)))?;
        }
        Op::HeapDel(addr) => {
            if let Some(old) = state.heap.remove(&addr) {
                budget.change(0, node_cost(&old)).map_err(over)?;
            }
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
            instruction: None,
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
        // Items nothing writes: a gap before `start`, or a length past both
        // the old items and the new ones.
        s.heap.insert(ObjAddr(1), node(vec![1, 2]));
        for (start, new, len) in [
            (3, vec![], 3),
            (0, vec![], 3),
            (1, vec![ObjAddr(5)], 1 << 20),
        ] {
            let op = Op::HeapItems {
                addr: ObjAddr(1),
                start,
                new,
                len,
            };
            assert!(apply(&mut s, &[meta(0), op]).is_err(), "{start} {len}");
        }
    }

    #[test]
    fn a_counted_state_stays_within_its_bound() {
        let mut s = State::default();
        let mut b = Budget::with_limit(10 << 20);
        let big = Node {
            text: "x".repeat(1 << 16),
            ..node(vec![1; 1 << 14])
        };
        let mut ops = vec![meta(0)];
        for a in 0..2000 {
            ops.push(Op::HeapSet(ObjAddr(a), big.clone()));
        }
        let e = apply_counted(&mut s, ops, &mut b).unwrap_err();
        assert!(e.to_string().contains("bound"), "{e}");
        assert!(b.used() <= 10 << 20);
        assert_eq!(
            b.used(),
            Budget::of(&s).used(),
            "the count follows the state"
        );
        // Removing what was counted gives the count back.
        let dels = (0..2000).map(|a| Op::HeapDel(ObjAddr(a)));
        apply_counted(
            &mut s,
            std::iter::once(meta(1)).chain(dels).collect(),
            &mut b,
        )
        .unwrap();
        assert_eq!(b.used(), 0);
    }
}
