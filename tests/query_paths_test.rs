//! The queries' shortcuts against their plain paths, and `object`'s parts
//! against `diff`. A flat value (a container of atoms) has its fingerprint
//! kept from the items that change, and `object` follows a list's items
//! from the ops that write them; `HINDSIGHT_QUERY_FULL_WALK` turns both
//! off (every value walked whole, whole nodes compared). `history`,
//! `last-write` and `object` must print the same with and without it, on
//! the fixtures of tests/omniscient_test.rs (swaps, aliasing, mutations
//! inside C calls, objects freed and made again at the same address). The
//! parts `object` lists at a change are checked against `diff` of the step
//! before and the step, which rebuilds both states from the file.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{run_with_timeout, HINDSIGHT_TIMEOUT};
use serde_json::Value;

fn hindsight(args: &[&str], full_walk: bool) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hindsight"));
    cmd.args(args).env_remove("RUST_LOG");
    if full_walk {
        cmd.env("HINDSIGHT_QUERY_FULL_WALK", "1");
    } else {
        cmd.env_remove("HINDSIGHT_QUERY_FULL_WALK");
    }
    run_with_timeout(cmd, HINDSIGHT_TIMEOUT).expect("hindsight ran")
}

/// What a query prints, the same with and without the full walk.
fn same_both_ways(args: &[&str]) -> String {
    let quick = hindsight(args, false);
    let full = hindsight(args, true);
    assert_eq!(quick.status.code(), full.status.code(), "{args:?}: status");
    assert_eq!(
        String::from_utf8_lossy(&quick.stdout),
        String::from_utf8_lossy(&full.stdout),
        "{args:?}: stdout"
    );
    assert_eq!(
        String::from_utf8_lossy(&quick.stderr),
        String::from_utf8_lossy(&full.stderr),
        "{args:?}: stderr"
    );
    String::from_utf8_lossy(&quick.stdout).into_owned()
}

fn record(py: &common::Interpreter, dir: &Path, fixture: &str) -> PathBuf {
    let src = common::repo_root().join("tests/fixtures").join(fixture);
    let hsr = dir.join(format!("{fixture}.{}.hsr", py.minor));
    let out = common::run_record_in(
        Path::new(env!("CARGO_BIN_EXE_hindsight")),
        &py.path,
        &src,
        &hsr,
        &common::Mode::default(),
    )
    .unwrap();
    assert!(
        out.status.success(),
        "{fixture} on {}: {}",
        py.minor,
        String::from_utf8_lossy(&out.stderr)
    );
    hsr
}

/// Expressions asked of each fixture (values that change in place,
/// aliased, changed in C calls, remade at the same address).
const ASKED: &[(&str, &[&str])] = &[
    (
        "omniscient.py",
        &["X", "X[0]", "Y", "mine", "table", "box.count", "vals"],
    ),
    (
        "c_mutations.py",
        &["data", "data[0]", "conf", "rec.name", "chars"],
    ),
    ("aliasing.py", &["a", "b", "lst", "nested", "h.items"]),
    ("address_reuse.py", &["vals", "words", "swap", "counts"]),
];

fn steps(info: &str) -> u64 {
    info.lines()
        .find_map(|l| l.strip_prefix("steps:"))
        .and_then(|s| s.trim().parse().ok())
        .expect("info says how many steps")
}

#[test]
fn shortcuts_answer_as_the_full_walk() {
    let dir = tempfile::tempdir().unwrap();
    let mut objects = 0;
    let mut changes = 0;
    for py in common::supported_interpreters() {
        for (fixture, exprs) in ASKED {
            let hsr = record(&py, dir.path(), fixture);
            let r = hsr.to_str().unwrap();
            let info = String::from_utf8_lossy(&hindsight(&["info", r], false).stdout).into_owned();
            let count = steps(&info);
            for e in *exprs {
                same_both_ways(&["history", r, e]);
                same_both_ways(&["history", r, e, "--json"]);
                // About 40 steps of each recording, the last one included.
                let every = (count / 40).max(1) as usize;
                for s in (0..count).step_by(every).chain([count - 1]) {
                    same_both_ways(&["last-write", r, &s.to_string(), e, "--json"]);
                }
                let last = (count - 1).to_string();
                same_both_ways(&["object", r, &last, e]);
                let life = same_both_ways(&["object", r, &last, e, "--json"]);
                let life: Vec<Value> = life
                    .lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect();
                if !life.is_empty() {
                    objects += 1;
                }
                changes += parts_agree_with_diff(r, &life, &format!("{fixture} on {}", py.minor));
            }
        }
    }
    if objects > 0 {
        assert!(changes > 0, "no object changed on any fixture");
    }
}

/// Every part `diff` shows changed in the object from the step before a
/// `changes` event to its step is among the event's parts, with the same
/// value after (a part whose object stayed at its address while another
/// atom was made there is `diff`'s only: the object's own node did not
/// change). Returns the events checked.
fn parts_agree_with_diff(r: &str, life: &[Value], at: &str) -> usize {
    let mut checked = 0;
    for ev in life.iter().filter(|e| e["what"] == "changes") {
        let id = ev["id"].as_str().unwrap();
        let step = ev["step"].as_u64().unwrap();
        let parts = ev["changes"].as_array().expect("changes lists its parts");
        assert!(!parts.is_empty(), "{at}: {ev}: a change with no part");
        for p in parts {
            assert_ne!(p["before"], p["after"], "{at}: step {step}: {p}");
        }
        let d = hindsight(
            &[
                "diff",
                r,
                &(step - 1).to_string(),
                &step.to_string(),
                "--json",
            ],
            false,
        );
        let d: Value = serde_json::from_slice(&d.stdout).unwrap();
        for c in d["objects"].as_array().unwrap() {
            if c["id"] != id || c["part"].get("replaced").is_some() {
                continue;
            }
            let moved = c["before"].get("id") != c["after"].get("id")
                || c["before"].is_null()
                || c["after"].is_null();
            if !moved {
                continue;
            }
            let found = parts.iter().any(|p| {
                p["part"] == c["part"] && p["after"].get("repr") == c["after"].get("repr")
            });
            assert!(
                found,
                "{at}: step {step}: diff shows {c}, object lists {parts:?}"
            );
        }
        checked += 1;
    }
    checked
}
