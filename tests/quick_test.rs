//! Quick steps (tracer/src/record/quick/) leave the store exactly what the
//! whole decode of each logged step leaves: the oracle compares what a step
//! shows, and this compares the rest, the heap, objects no binding shows
//! included. Each fixture is recorded with quick steps on and with them off
//! (`HINDSIGHT_NO_QUICK`); at every step the two heaps must hold the same
//! objects (the same nodes, up to addresses: the two runs' addresses
//! differ), and the same bindings. With quick steps on, some steps must be
//! quick, or the comparison would prove nothing.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use store::{Reader, State, Step};

/// Loops over ints and lists: remade items, rebound locals, swaps.
const FIXTURES: &[&str] = &[
    "remade.py",
    "remade_local.py",
    "rebound.py",
    "held.py",
    "long_loop.py",
];

/// A state up to addresses: each heap node as (type, text, items, attrs),
/// counted; the bindings as names with their nodes' texts.
fn shape(s: &State) -> (BTreeMap<String, usize>, Vec<String>) {
    let mut nodes = BTreeMap::new();
    for n in s.heap.values() {
        let k = format!(
            "{}|{}|{}|{}|{}",
            n.type_name,
            n.text,
            n.items.len(),
            n.attrs.as_ref().map_or(0, |a| a.len()),
            n.truncated
        );
        *nodes.entry(k).or_insert(0) += 1;
    }
    let text = |a| s.heap.get(a).map_or("?".to_string(), |n| n.text.clone());
    let names = s
        .locals
        .iter()
        .chain(&s.globals)
        .map(|(k, a)| format!("{k}={}", text(a)))
        .collect();
    (nodes, names)
}

/// What differs between two shapes (quick, whole), briefly.
fn differences(
    (na, ba): &(BTreeMap<String, usize>, Vec<String>),
    (nb, bb): &(BTreeMap<String, usize>, Vec<String>),
) -> String {
    let keys = na.keys().chain(nb.keys());
    let nodes: Vec<String> = keys
        .filter(|k| na.get(*k) != nb.get(*k))
        .map(|k| format!("{k}: {:?} quick, {:?} whole", na.get(k), nb.get(k)))
        .collect();
    format!("nodes {nodes:?}; bindings quick {ba:?}, whole {bb:?}")
}

/// Record `fixture` with `env`; the recording and how many steps were quick.
fn record(
    hindsight: &Path,
    python: &Path,
    fixture: &Path,
    hsr: &Path,
    env: &'static [(&'static str, &'static str)],
) -> u64 {
    let mode = common::Mode {
        record_env: env,
        ..common::Mode::default()
    };
    let out = common::run_record_in(hindsight, python, fixture, hsr, &mode).unwrap();
    assert!(out.status.success(), "{}: {out:?}", fixture.display());
    let err = String::from_utf8_lossy(&out.stderr);
    err.lines()
        .find_map(|l| {
            let rest = l.split("logged steps that changed words: ").nth(1)?;
            rest.split(' ').next()?.parse().ok()
        })
        .unwrap_or(0)
}

#[test]
fn quick_steps_leave_the_heap_a_whole_decode_leaves() {
    let hindsight = PathBuf::from(env!("CARGO_BIN_EXE_hindsight"));
    let dir = tempfile::tempdir().unwrap();
    let mut quick_by_version: Vec<(String, u64)> = Vec::new();
    let mut failures = Vec::new();
    for py in common::supported_interpreters() {
        for file in FIXTURES {
            let fixture = common::repo_root().join("tests/fixtures").join(file);
            let on = dir.path().join(format!("{file}-{}-on.hsr", py.minor));
            let off = dir.path().join(format!("{file}-{}-off.hsr", py.minor));
            let info = &[("RUST_LOG", "tracer::record=info")];
            let quick = record(&hindsight, &py.path, &fixture, &on, info);
            let no_quick = &[
                ("RUST_LOG", "tracer::record=info"),
                ("HINDSIGHT_NO_QUICK", "1"),
            ];
            assert_eq!(record(&hindsight, &py.path, &fixture, &off, no_quick), 0);
            match quick_by_version.iter_mut().find(|(m, _)| *m == py.minor) {
                Some((_, q)) => *q += quick,
                None => quick_by_version.push((py.minor.clone(), quick)),
            }
            let (a, b) = (Reader::open(&on).unwrap(), Reader::open(&off).unwrap());
            let n = a.step_count();
            if n != b.step_count() {
                failures.push(format!(
                    "{file} on {}: {n} steps against {}",
                    py.minor,
                    b.step_count()
                ));
                continue;
            }
            let (sa, sb) = (
                a.states(Step(0), Step(n - 1)).unwrap(),
                b.states(Step(0), Step(n - 1)).unwrap(),
            );
            for (i, (x, y)) in sa.zip(sb).enumerate() {
                let (x, y) = (shape(&x.unwrap()), shape(&y.unwrap()));
                if x != y {
                    failures.push(format!(
                        "{file} on {}, step {i}: {}",
                        py.minor,
                        differences(&x, &y)
                    ));
                    break;
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Every interpreter takes quick steps somewhere in these fixtures.
    for (minor, quick) in &quick_by_version {
        assert!(
            *quick > 0,
            "no step was quick on {minor}: the comparison proves nothing"
        );
    }
}
