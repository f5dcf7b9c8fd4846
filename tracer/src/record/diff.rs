//! Turns each step's stack and bindings into the ops that change the
//! previous step's into them, keeping a copy of what the store holds so
//! that nothing unchanged is sent twice. The heap's ops come from the
//! decoder's own mirror (`Decoder::snapshot_ops`).

use std::sync::Arc;

use store::{FrameRec, ObjAddr, Op, Scope, StepMeta};

/// Names bound to objects, in order.
type Bindings = [(Arc<str>, ObjAddr)];

/// The recorder's copy of the state the store has after the last step.
#[derive(Debug, Default)]
pub struct Differ {
    stack: Vec<FrameRec>,
    locals: Vec<(Arc<str>, ObjAddr)>,
    globals: Vec<(Arc<str>, ObjAddr)>,
}

impl Differ {
    /// A differ of an empty state.
    pub fn new() -> Differ {
        Differ::default()
    }

    /// The ops for one step whose heap changes were computed by the decoder
    /// itself (`Decoder::snapshot_ops`): `heap_ops` is moved into `ops`, and
    /// the stack and scopes are diffed.
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
    /// frame's line (`meta.line`): what a full diff would send.
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

    /// The top frame's bindings and the module's, as the store has them.
    pub fn scopes(&self) -> (&Bindings, &Bindings) {
        (&self.locals, &self.globals)
    }

    /// The ops that bring the top frame's bindings to `new` (what a full
    /// diff would send for them).
    pub fn locals_step(&mut self, new: &[(Arc<str>, ObjAddr)], ops: &mut Vec<Op>) {
        diff_scope(Scope::Locals, &mut self.locals, new, ops);
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
            instruction: None,
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
