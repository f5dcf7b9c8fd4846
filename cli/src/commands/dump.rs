//! `hindsight dump FILE`: JSON lines, one whole state (docs/spec/values.md)
//! per step; with `--changes`, the first state whole and then each step's
//! changes only (the format is in docs/spec/cli.md), a line a step either
//! way. The states are kept by applying each step's ops to one state in
//! place, never copied.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, Result};
use serde_json::{Map, Value};
use store::{FrameRec, ObjAddr, OpView, State, Step};
use values::render;

use crate::args::RangeArgs;
use crate::out;
use crate::recording::Recording;

pub fn dump(file: &Path, range: RangeArgs, changes: bool) -> Result<i32> {
    let rec = Recording::open(file)?;
    let Some((from, to)) = rec.range(range.from, range.to)? else {
        return Ok(0);
    };
    let mut state = rec
        .reader
        .state(Step(from))
        .map_err(|e| crate::recording::store_error(file, e))?;
    let mut o = out::stdout();
    let mut last = Shown::of(&state);
    write_line(&mut o, &render::state_json(&state))?;
    if from == to {
        o.flush()?;
        return Ok(0);
    }
    rec.reader
        .scan_steps(Step(from + 1), Step(to), |s| {
            let mut heap_changed = false;
            let mut ops = Vec::with_capacity(s.op_count() as usize + 1);
            ops.push(store::Op::Step(s.meta.to_meta()));
            for op in s.ops() {
                let op = op?;
                heap_changed |= matches!(
                    op,
                    OpView::HeapSet(..) | OpView::HeapItems { .. } | OpView::HeapDel(_)
                );
                ops.push(
                    op.to_op()
                        .map_err(|e| anyhow!("step {}: {e}", s.meta.step.0))?,
                );
            }
            store::apply_owned(&mut state, ops)?;
            let line = if changes {
                last.change_json(&state, heap_changed)
            } else {
                render::state_json(&state)
            };
            write_line(&mut o, &line)?;
            Ok::<_, anyhow::Error>(true)
        })
        .map_err(|e| rec.with_path(e))?;
    o.flush()?;
    Ok(0)
}

fn write_line(o: &mut impl Write, v: &Value) -> Result<()> {
    serde_json::to_writer(&mut *o, v)?;
    o.write_all(b"\n")?;
    Ok(())
}

/// One scope as the previous line left it: names in order, the object
/// each is bound to, and its rendered value.
type Scope = Vec<(Arc<str>, ObjAddr, Value)>;

/// What the reader of `--changes` knows after the previous line.
struct Shown {
    stack: Vec<FrameRec>,
    locals: Scope,
    globals: Scope,
}

impl Shown {
    fn of(state: &State) -> Shown {
        Shown {
            stack: state.stack.clone(),
            locals: scope(state, &state.locals, false),
            globals: scope(state, &state.globals, true),
        }
    }

    /// The `--changes` line of a step: its meta, and what differs from
    /// the previous line (docs/spec/cli.md); `self` becomes this step's.
    fn change_json(&mut self, state: &State, heap_changed: bool) -> Value {
        let mut out = Map::new();
        let Some(meta) = &state.meta else {
            return render::state_json(state);
        };
        // The meta keys, as in a whole state (the same function makes both).
        if let Value::Object(m) = render::meta_json(meta) {
            out.extend(m);
        }
        if !same_but_innermost_line(&self.stack, &state.stack, meta.line) {
            out.insert("stack".into(), render::stack_json(&state.stack));
        }
        self.stack.clone_from(&state.stack);
        let mut changed = Map::new();
        for (key, old, names, globals) in [
            ("locals", &mut self.locals, &state.locals, false),
            ("globals", &mut self.globals, &state.globals, true),
        ] {
            match scope_change(state, old, names, globals, heap_changed) {
                Change::Same => {}
                Change::Some(m) => {
                    changed.insert(key.into(), Value::Object(m));
                }
                Change::Whole => {
                    let whole = old.iter().map(|(n, _, v)| (n.to_string(), v.clone()));
                    out.insert(key.into(), Value::Object(whole.collect()));
                }
            }
        }
        if !changed.is_empty() {
            out.insert("changed".into(), Value::Object(changed));
        }
        if let Some((k, v)) = render::outcome_json(state, meta) {
            out.insert(k.into(), v);
        }
        Value::Object(out)
    }
}

/// Whether a state shows this name of a scope: globals leave out
/// `__dunder__` names, as `render::state_json` does.
fn shown(name: &str, globals: bool) -> bool {
    !(globals && name.starts_with("__") && name.ends_with("__"))
}

/// The names of a scope a state shows, with their values.
fn scope(state: &State, names: &[(Arc<str>, ObjAddr)], globals: bool) -> Scope {
    names
        .iter()
        .filter(|(n, _)| shown(n, globals))
        .map(|(n, a)| (n.clone(), *a, render::value_json(state, *a, 1)))
        .collect()
}

/// Whether `new` is `old` with the innermost frame's line set to `line`.
fn same_but_innermost_line(old: &[FrameRec], new: &[FrameRec], line: u32) -> bool {
    old.len() == new.len()
        && old.iter().zip(new).enumerate().all(|(i, (a, b))| {
            a.function == b.function
                && a.file == b.file
                && (a.line == b.line || (i + 1 == new.len() && b.line == line))
        })
}

/// How a scope changed since the previous line.
enum Change {
    Same,
    /// Names rebound, added at the end, removed (`null`), or whose value
    /// changed.
    Some(Map<String, Value>),
    /// Another order of names (another frame): given whole.
    Whole,
}

/// Compare a scope with what the previous line showed, and bring `old` to
/// it. Values are rendered again only for new bindings, or for every name
/// when the heap changed at this step (which objects changed is not
/// known without walking them: rendering is that walk).
fn scope_change(
    state: &State,
    old: &mut Scope,
    names: &[(Arc<str>, ObjAddr)],
    globals: bool,
    heap_changed: bool,
) -> Change {
    let new = names.iter().filter(|(n, _)| shown(n, globals));
    // Survivors must keep their order, and come before the new names.
    let kept: Vec<&Arc<str>> = old
        .iter()
        .map(|(n, _, _)| n)
        .filter(|n| names.iter().any(|(m, _)| m == *n))
        .collect();
    let mut in_order = true;
    let (mut k, mut added) = (0, false);
    for (n, _) in new.clone() {
        if k < kept.len() && kept[k] == n && !added {
            k += 1;
        } else if old.iter().any(|(m, _, _)| m == n) {
            in_order = false;
            break;
        } else {
            added = true;
        }
    }
    in_order &= k == kept.len();
    let mut m = Map::new();
    let mut next: Scope = Vec::with_capacity(names.len());
    for (n, a) in new {
        let before = old.iter().find(|(m, _, _)| m == n);
        let value = match before {
            Some((_, b, v)) if b == a && !heap_changed => v.clone(),
            _ => render::value_json(state, *a, 1),
        };
        if before.is_none_or(|(_, b, v)| b != a || *v != value) {
            m.insert(n.to_string(), value.clone());
        }
        next.push((n.clone(), *a, value));
    }
    for (n, _, _) in old.iter() {
        if !next.iter().any(|(m, _, _)| m == n) {
            m.insert(n.to_string(), Value::Null);
        }
    }
    *old = next;
    if !in_order {
        Change::Whole
    } else if m.is_empty() {
        Change::Same
    } else {
        Change::Some(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(f: &str, line: u32) -> FrameRec {
        FrameRec {
            function: f.into(),
            file: "/a.py".into(),
            line,
        }
    }

    #[test]
    fn a_moved_innermost_line_is_not_a_stack_change() {
        let old = [frame("<module>", 3), frame("f", 7)];
        assert!(same_but_innermost_line(
            &old,
            &[frame("<module>", 3), frame("f", 8)],
            8
        ));
        assert!(!same_but_innermost_line(
            &old,
            &[frame("<module>", 4), frame("f", 7)],
            7
        ));
        assert!(!same_but_innermost_line(&old, &old[..1], 3));
    }

    #[test]
    fn scopes_change_by_name_or_whole() {
        let mut state = State::default();
        for (a, t) in [(1, "1"), (2, "2"), (3, "3")] {
            state.heap.insert(
                ObjAddr(a),
                store::Node {
                    type_name: "int".into(),
                    kind: values::kinds::ATOM,
                    text: t.into(),
                    items: vec![],
                    attrs: None,
                    truncated: false,
                },
            );
        }
        let names = |v: &[(&str, u64)]| -> Vec<(Arc<str>, ObjAddr)> {
            v.iter()
                .map(|(n, a)| (Arc::from(*n), ObjAddr(*a)))
                .collect()
        };
        let mut old = scope(&state, &names(&[("a", 1), ("b", 2)]), false);
        // b rebound, c added, a removed: by name.
        let Change::Some(m) = scope_change(
            &state,
            &mut old,
            &names(&[("b", 3), ("c", 1)]),
            false,
            false,
        ) else {
            panic!("by name")
        };
        assert_eq!(m["a"], Value::Null);
        assert_eq!(m["b"]["repr"], "3");
        assert_eq!(m["c"]["repr"], "1");
        assert!(matches!(
            scope_change(&state, &mut old, &names(&[("b", 3), ("c", 1)]), false, true),
            Change::Same
        ));
        // Another order: whole.
        assert!(matches!(
            scope_change(
                &state,
                &mut old,
                &names(&[("c", 1), ("b", 3)]),
                false,
                false
            ),
            Change::Whole
        ));
        // A new name before a survivor: whole (added names go at the end).
        assert!(matches!(
            scope_change(
                &state,
                &mut old,
                &names(&[("a", 1), ("c", 1)]),
                false,
                false
            ),
            Change::Whole
        ));
    }
}
