//! What a recording's heap holds: at every step the oracle compares what is
//! shown, which needs every reachable object; this checks the other side,
//! that nothing is left behind. Objects of a caller are kept in the store
//! while its callees run (they usually come back when it resumes), so the
//! check is made where no caller is left: at every module-level step the
//! heap holds exactly the objects reachable from the step's bindings and
//! value. On every supported interpreter present.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use store::{ObjAddr, Reader, State, Step};

/// Fixtures whose functions return to module level between calls.
const FIXTURES: &[&str] = &["parked.py", "recursion.py", "generators.py", "held.py"];

fn reachable(state: &State) -> HashSet<ObjAddr> {
    let mut seen = HashSet::new();
    let mut todo: Vec<ObjAddr> = state
        .locals
        .iter()
        .chain(&state.globals)
        .map(|(_, a)| *a)
        .chain(state.meta.as_ref().and_then(|m| m.value))
        .collect();
    while let Some(a) = todo.pop() {
        if !seen.insert(a) {
            continue;
        }
        if let Some(n) = state.heap.get(&a) {
            todo.extend(n.items.iter().copied());
            todo.extend(n.attrs.iter().flatten().map(|(_, v)| *v));
        }
    }
    seen
}

#[test]
fn module_level_steps_hold_only_reachable_objects() {
    let pythons = common::supported_interpreters();
    if pythons.is_empty() {
        return;
    }
    let hindsight = PathBuf::from(env!("CARGO_BIN_EXE_hindsight"));
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let runs = pythons
        .iter()
        .flat_map(|p| FIXTURES.iter().map(move |&f| (p, f)));
    for (py, file) in runs {
        let name = format!("{file} on {}", py.minor);
        let fixture = common::repo_root().join("tests/fixtures").join(file);
        let hsr = dir.path().join(format!("{file}-{}.hsr", py.minor));
        let out = common::run_record(&hindsight, &py.path, &fixture, &hsr).unwrap();
        assert!(out.status.success(), "{name}: {out:?}");
        let reader = Reader::open(&hsr).unwrap();
        let last = Step(reader.step_count() - 1);
        let mut checked = 0;
        reader
            .for_each_state(Step(0), last, |s| {
                if s.stack.len() != 1 {
                    return true;
                }
                checked += 1;
                let keep = reachable(s);
                let extra: HashMap<_, _> = s
                    .heap
                    .iter()
                    .filter(|(a, _)| !keep.contains(a))
                    .map(|(a, n)| (*a, n.type_name.clone()))
                    .collect();
                if !extra.is_empty() {
                    let step = s.meta.as_ref().map_or(0, |m| m.step.0);
                    failures.push(format!(
                        "{name} step {step}: {} unreachable objects in the heap, e.g. {:?}",
                        extra.len(),
                        extra.iter().take(3).collect::<Vec<_>>()
                    ));
                    return false;
                }
                true
            })
            .unwrap();
        assert!(checked > 0, "{name}: no module-level step");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
