//! Turns each step's full snapshot into the ops that change the previous
//! step's state into it, keeping a mirror of what the store holds so that
//! nothing unchanged is sent twice.

use std::collections::HashMap;
use std::sync::Arc;

use store::{FrameRec, Node, ObjAddr, Op, Scope, StepMeta};

use crate::kinds;

/// The recorder's copy of the state the store has after the last step.
#[derive(Debug, Default)]
pub struct Differ {
    stack: Vec<FrameRec>,
    locals: Vec<(Arc<str>, ObjAddr)>,
    globals: Vec<(Arc<str>, ObjAddr)>,
    heap: HashMap<ObjAddr, Node>,
}

/// One step's full state, as the decoder read it.
pub struct StepState<'a> {
    pub meta: StepMeta,
    pub stack: &'a [FrameRec],
    pub locals: &'a [(Arc<str>, ObjAddr)],
    pub globals: &'a [(Arc<str>, ObjAddr)],
    /// Every object reachable from the bindings and `meta.value`.
    pub heap: HashMap<ObjAddr, Node>,
}

impl Differ {
    pub fn new() -> Differ {
        Differ::default()
    }

    /// The ops for one step, appended to `ops` (which starts with the step's
    /// `Op::Step`).
    pub fn diff(&mut self, step: StepState<'_>, ops: &mut Vec<Op>) {
        ops.push(Op::Step(step.meta));
        self.diff_stack(step.stack, ops);
        self.diff_heap(step.heap, ops);
        diff_scope(Scope::Locals, &mut self.locals, step.locals, ops);
        diff_scope(Scope::Globals, &mut self.globals, step.globals, ops);
    }

    /// The ops for one step whose heap changes were computed by the decoder
    /// itself (`Decoder::snapshot_ops`): `heap_ops` is moved into `ops`, and
    /// the stack and scopes are diffed. The heap mirror of [`Differ::diff`]
    /// is not used.
    pub fn diff_with_heap_ops(
        &mut self,
        meta: StepMeta,
        stack: &[FrameRec],
        locals: &[(Arc<str>, ObjAddr)],
        globals: &[(Arc<str>, ObjAddr)],
        heap_ops: &mut Vec<Op>,
        ops: &mut Vec<Op>,
    ) {
        ops.push(Op::Step(meta));
        self.diff_stack(stack, ops);
        ops.append(heap_ops);
        diff_scope(Scope::Locals, &mut self.locals, locals, ops);
        diff_scope(Scope::Globals, &mut self.globals, globals, ops);
    }

    /// The ops of a step whose state is the last step's but for the top
    /// frame's line (`meta.line`): what [`Differ::diff`] would send.
    pub fn line_step(&mut self, meta: StepMeta, ops: &mut Vec<Op>) {
        let line = meta.line;
        ops.push(Op::Step(meta));
        let depth = self.stack.len();
        if let Some(top) = self.stack.last_mut() {
            if top.line != line {
                top.line = line;
                ops.push(Op::StackTruncate(depth as u32 - 1));
                ops.push(Op::StackPush(top.clone()));
            }
        }
    }

    fn diff_stack(&mut self, new: &[FrameRec], ops: &mut Vec<Op>) {
        let common = self
            .stack
            .iter()
            .zip(new)
            .take_while(|(a, b)| a == b)
            .count();
        if common < self.stack.len() {
            ops.push(Op::StackTruncate(common as u32));
            self.stack.truncate(common);
        }
        for f in &new[common..] {
            ops.push(Op::StackPush(f.clone()));
            self.stack.push(f.clone());
        }
    }

    fn diff_heap(&mut self, new: HashMap<ObjAddr, Node>, ops: &mut Vec<Op>) {
        let gone: Vec<ObjAddr> = self
            .heap
            .keys()
            .filter(|a| !new.contains_key(a))
            .copied()
            .collect();
        for addr in gone {
            self.heap.remove(&addr);
            ops.push(Op::HeapDel(addr));
        }
        for (addr, node) in new {
            match self.heap.get_mut(&addr) {
                Some(old) if *old == node => {}
                Some(old) if items_only_change(old, &node) => {
                    if let Some(op) = items_op(addr, &old.items, &node.items) {
                        ops.push(op);
                    }
                    *old = node;
                }
                _ => {
                    ops.push(Op::HeapSet(addr, node.clone()));
                    self.heap.insert(addr, node);
                }
            }
        }
    }
}

/// Whether `new` differs from `old` in its items alone, where a splice is
/// cheaper than sending the node again.
pub(crate) fn items_only_change(old: &Node, new: &Node) -> bool {
    old.kind == new.kind
        && matches!(
            new.kind,
            kinds::LIST | kinds::TUPLE | kinds::DICT | kinds::SET | kinds::FROZENSET
        )
        && old.type_name == new.type_name
        && old.text == new.text
        && old.attrs == new.attrs
        && old.truncated == new.truncated
        && new.items.len() >= 8
}

/// Common prefix and suffix lengths of two item lists (never overlapping).
pub(crate) fn common_ends(old: &[ObjAddr], new: &[ObjAddr]) -> (usize, usize) {
    let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let max_suffix = old.len().min(new.len()) - prefix;
    let suffix = old
        .iter()
        .rev()
        .zip(new.iter().rev())
        .take(max_suffix)
        .take_while(|(a, b)| a == b)
        .count();
    (prefix, suffix)
}

/// The smallest single splice turning `old` into `new`: the changed middle
/// between the common prefix and the common suffix.
pub(crate) fn items_op(addr: ObjAddr, old: &[ObjAddr], new: &[ObjAddr]) -> Option<Op> {
    if old == new {
        return None;
    }
    let (prefix, suffix) = common_ends(old, new);
    if old.len() == new.len() {
        // Same length: overwrite the changed middle.
        return Some(Op::HeapItems {
            addr,
            start: prefix as u32,
            new: new[prefix..new.len() - suffix].to_vec(),
            len: new.len() as u32,
        });
    }
    // Different lengths (appends, cuts, insertions or removals in the
    // middle): everything after the common prefix is sent again.
    Some(Op::HeapItems {
        addr,
        start: prefix as u32,
        new: new[prefix..].to_vec(),
        len: new.len() as u32,
    })
}

/// Bring one scope's bindings from `old` to `new`: unbinds and binds when
/// that reproduces `new`'s order, else clear and bind everything.
fn diff_scope(
    scope: Scope,
    old: &mut Vec<(Arc<str>, ObjAddr)>,
    new: &[(Arc<str>, ObjAddr)],
    ops: &mut Vec<Op>,
) {
    if old.as_slice() == new {
        return;
    }
    let in_new = |name: &Arc<str>| new.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
    let in_old = |name: &Arc<str>| old.iter().any(|(n, _)| n == name);
    // Result order of the incremental ops: survivors in old order, then new names.
    let survivors: Vec<&Arc<str>> = old
        .iter()
        .filter(|(n, _)| in_new(n).is_some())
        .map(|(n, _)| n)
        .collect();
    let added: Vec<&(Arc<str>, ObjAddr)> = new.iter().filter(|(n, _)| !in_old(n)).collect();
    let order_ok = survivors.len() + added.len() == new.len()
        && survivors.iter().zip(new.iter()).all(|(a, (b, _))| *a == b);
    if !order_ok || (old.len() > 4 && survivors.is_empty()) {
        ops.push(Op::ClearScope(scope));
        for (name, value) in new {
            ops.push(Op::Bind {
                scope,
                name: name.clone(),
                value: *value,
            });
        }
    } else {
        for (name, _) in old.iter() {
            if in_new(name).is_none() {
                ops.push(Op::Unbind {
                    scope,
                    name: name.clone(),
                });
            }
        }
        for (name, value) in old.iter() {
            if let Some(v) = in_new(name) {
                if v != *value {
                    ops.push(Op::Bind {
                        scope,
                        name: name.clone(),
                        value: v,
                    });
                }
            }
        }
        for (name, value) in added {
            ops.push(Op::Bind {
                scope,
                name: name.clone(),
                value: *value,
            });
        }
    }
    old.clear();
    old.extend(new.iter().cloned());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[(&str, u64)]) -> Vec<(Arc<str>, ObjAddr)> {
        v.iter()
            .map(|(n, a)| (Arc::from(*n), ObjAddr(*a)))
            .collect()
    }

    /// Applies scope ops the way the store does, to check the differ's ops
    /// reproduce the new bindings in order.
    fn apply_scope(state: &mut Vec<(Arc<str>, ObjAddr)>, ops: &[Op]) {
        for op in ops {
            match op {
                Op::ClearScope(_) => state.clear(),
                Op::Bind { name, value, .. } => {
                    if let Some(e) = state.iter_mut().find(|(n, _)| n == name) {
                        e.1 = *value;
                    } else {
                        state.push((name.clone(), *value));
                    }
                }
                Op::Unbind { name, .. } => state.retain(|(n, _)| n != name),
                _ => {}
            }
        }
    }

    #[test]
    fn scope_diffs_reproduce_order() {
        let cases = [
            (vec![("a", 1), ("b", 2)], vec![("a", 1), ("b", 3)]),
            (vec![("a", 1), ("b", 2)], vec![("b", 2)]),
            (vec![("a", 1)], vec![("a", 1), ("c", 5)]),
            (vec![("a", 1), ("b", 2)], vec![("b", 2), ("a", 1)]),
            (vec![], vec![("x", 9)]),
            (vec![("x", 9)], vec![]),
        ];
        for (old, new) in cases {
            let mut mirror = names(&old);
            let mut store_side = names(&old);
            let mut ops = Vec::new();
            diff_scope(Scope::Locals, &mut mirror, &names(&new), &mut ops);
            apply_scope(&mut store_side, &ops);
            assert_eq!(store_side, names(&new), "{old:?} -> {new:?}: {ops:?}");
            assert_eq!(mirror, names(&new));
        }
    }

    fn apply_items(items: &mut Vec<ObjAddr>, op: &Op) {
        if let Op::HeapItems {
            start, new, len, ..
        } = op
        {
            let start = *start as usize;
            if items.len() < start + new.len() {
                items.resize(start + new.len(), ObjAddr(0));
            }
            items[start..start + new.len()].copy_from_slice(new);
            items.resize(*len as usize, ObjAddr(0));
        }
    }

    #[test]
    fn item_splices() {
        let a = |v: &[u64]| v.iter().map(|&x| ObjAddr(x)).collect::<Vec<_>>();
        let cases = [
            (a(&[1, 2, 3, 4]), a(&[1, 3, 2, 4])),
            (a(&[1, 2, 3]), a(&[1, 2, 3, 4, 5])),
            (a(&[1, 2, 3, 4]), a(&[1, 2])),
            (a(&[1, 2, 3, 4]), a(&[1, 9, 2, 3, 4])),
            (a(&[1, 2, 3, 4]), a(&[1, 3, 4])),
            (a(&[1, 2]), a(&[])),
            (a(&[]), a(&[7])),
        ];
        for (old, new) in cases {
            let mut items = old.clone();
            if let Some(op) = items_op(ObjAddr(1), &old, &new) {
                apply_items(&mut items, &op);
            }
            assert_eq!(items, new, "{old:?} -> {new:?}");
        }
    }

    #[test]
    fn a_line_step_sends_what_a_full_diff_would() {
        let frame = |f: &str, line: u32| FrameRec {
            function: Arc::from(f),
            file: Arc::from("a.py"),
            line,
        };
        let meta = |line: u32| StepMeta {
            step: store::Step(1),
            event: store::EventKind::Line,
            thread: 1,
            file: Arc::from("a.py"),
            function: Arc::from("f"),
            line,
            position: None,
            value: None,
        };
        let locals = names(&[("x", 7)]);
        for line in [3, 4] {
            let stack = [frame("<module>", 10), frame("f", 3)];
            let (mut full, mut quick) = (Differ::new(), Differ::new());
            for d in [&mut full, &mut quick] {
                let mut ops = Vec::new();
                d.diff_with_heap_ops(meta(3), &stack, &locals, &[], &mut Vec::new(), &mut ops);
            }
            let moved = [frame("<module>", 10), frame("f", line)];
            let (mut a, mut b) = (Vec::new(), Vec::new());
            full.diff_with_heap_ops(meta(line), &moved, &locals, &[], &mut Vec::new(), &mut a);
            quick.line_step(meta(line), &mut b);
            assert_eq!(format!("{a:?}"), format!("{b:?}"), "to line {line}");
            assert_eq!(full.stack, quick.stack);
        }
    }
}
