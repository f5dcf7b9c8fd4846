//! The omniscient queries (`find`, `history`, `last-write`, `diff`,
//! `object`) against answers built independently from `hindsight dump`
//! (one full JSON state per step) by tests/queries/omniscient_oracle.py,
//! which evaluates the expressions with Python's own semantics over the
//! values the states show. On fixtures with swaps, tuple unpacking,
//! augmented assignment, slices, attributes, mutations inside C calls,
//! aliasing, a callee changing its caller's list, and objects freed and
//! made again at the same addresses; on every supported interpreter present.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{run_with_timeout, HINDSIGHT_TIMEOUT};
use serde_json::{json, Value};

fn hindsight(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hindsight"));
    cmd.args(args).env_remove("RUST_LOG");
    run_with_timeout(cmd, HINDSIGHT_TIMEOUT).expect("hindsight ran")
}

/// The JSON lines hindsight prints, status 0 checked.
fn json_lines(args: &[&str]) -> Vec<Value> {
    let o = hindsight(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {err}");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{args:?}: {e}: {l}")))
        .collect()
}

/// A recording of `fixture` by `py` (`record` given `args` too) and its dump.
fn record(
    py: &common::Interpreter,
    dir: &Path,
    fixture: &str,
    args: &'static [&'static str],
) -> (PathBuf, PathBuf) {
    let src = common::repo_root().join("tests/fixtures").join(fixture);
    let hsr = dir.join(format!("{fixture}.{}.{}.hsr", py.minor, args.len()));
    let mode = common::Mode {
        record_args: args,
        ..Default::default()
    };
    let out = common::run_record_in(
        Path::new(env!("CARGO_BIN_EXE_hindsight")),
        &py.path,
        &src,
        &hsr,
        &mode,
    )
    .unwrap();
    assert!(
        out.status.success(),
        "{fixture} on {}: {}",
        py.minor,
        String::from_utf8_lossy(&out.stderr)
    );
    let dump = dir.join(format!("{fixture}.{}.{}.jsonl", py.minor, args.len()));
    common::run_dump(Path::new(env!("CARGO_BIN_EXE_hindsight")), &hsr, &dump).unwrap();
    (hsr, dump)
}

/// The oracle's answers to `queries`.
fn oracle(dir: &Path, dump: &Path, queries: &[Value]) -> Vec<Value> {
    let q = dir.join("queries.json");
    std::fs::write(&q, serde_json::to_string(queries).unwrap()).unwrap();
    let mut cmd = Command::new(common::tool_python());
    cmd.arg(common::repo_root().join("tests/queries/omniscient_oracle.py"))
        .arg(dump)
        .arg(&q);
    let o = run_with_timeout(cmd, HINDSIGHT_TIMEOUT).unwrap();
    assert!(
        o.status.success(),
        "oracle: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn steps_of(lines: &[Value]) -> Vec<u64> {
    lines.iter().map(|l| l["step"].as_u64().unwrap()).collect()
}

/// Conditions and expressions asked of each fixture.
struct Asked {
    fixture: &'static str,
    conditions: &'static [&'static str],
    /// Expressions of globals only (history compares them module-wide).
    globals: &'static [&'static str],
    /// Expressions asked of last-write (locals too).
    written: &'static [&'static str],
}

const ASKED: &[Asked] = &[
    Asked {
        fixture: "omniscient.py",
        conditions: &[
            "len(X) > 4",
            "a == 2 and b == 1",
            "box.count == 10",
            "X[0] == 2 and Y is X",
            "mine[0] == 0",
            "'n' in table",
            "vals[0] > 2 or e == 3",
            "c is not None and d < e",
        ],
        globals: &[
            "X",
            "len(X)",
            "X[0]",
            "box.count",
            "a",
            "table",
            "vals[0]",
            "box.items is X",
        ],
        written: &[
            "X",
            "X[0]",
            "a",
            "b",
            "e",
            "box.count",
            "mine",
            "mine[0]",
            "size",
            "table",
            "Y",
            "vals[0]",
        ],
    },
    Asked {
        fixture: "c_mutations.py",
        conditions: &[
            "len(data) > 5",
            "data[0] == 0",
            "'b' in conf",
            "rec.count == 1",
        ],
        globals: &["data", "data[-1]", "conf", "rec.name", "chars"],
        written: &["data", "data[0]", "conf", "rec.name", "rec.count", "chars"],
    },
    Asked {
        fixture: "aliasing.py",
        conditions: &["len(a) == 5", "b is None", "h.items is a and h2.items is a"],
        globals: &["a", "b", "c", "nested", "h.items"],
        written: &["a", "b", "lst", "also", "same", "h.items", "d['x']"],
    },
    Asked {
        fixture: "address_reuse.py",
        conditions: &["vals[0] > 2", "words[5] == words[6]", "swap[0] == 5001"],
        globals: &["vals[0]", "words[5]", "swap[3]", "len(swap)"],
        written: &["vals", "vals[1]", "words[6]", "swap[3]", "counts['3']"],
    },
];

#[test]
fn queries_agree_with_the_states() {
    let dir = tempfile::tempdir().unwrap();
    for py in common::supported_interpreters() {
        for asked in ASKED {
            let by_instruction = check(&py, dir.path(), asked, &[]);
            assert_eq!(by_instruction, 0, "{} on {}", asked.fixture, py.minor);
        }
    }
}

/// The same queries on recordings made with `--granularity opcode`, whose
/// writers are then mostly the opcode steps of the instructions that wrote.
#[test]
fn queries_agree_with_the_states_at_opcode_granularity() {
    let dir = tempfile::tempdir().unwrap();
    for py in common::supported_interpreters() {
        let asked = &ASKED[0];
        let by_instruction = check(&py, dir.path(), asked, &["--granularity", "opcode"]);
        assert!(
            by_instruction > 0,
            "{} on {}: no last-write named an instruction",
            asked.fixture,
            py.minor
        );
    }
}

/// Every query of `asked` against the oracle's answers; how many
/// last-write writers were opcode steps naming their instruction.
fn check(
    py: &common::Interpreter,
    dir: &Path,
    asked: &Asked,
    args: &'static [&'static str],
) -> usize {
    let (hsr, dump) = record(py, dir, asked.fixture, args);
    let r = hsr.to_str().unwrap();
    let at = format!("{} on {}", asked.fixture, py.minor);
    let count = std::fs::read_to_string(&dump).unwrap().lines().count() as u64;
    let last = (count - 1).to_string();
    let mut queries = Vec::new();
    for c in asked.conditions {
        queries.push(json!({"kind": "find", "cond": c, "all": true, "from": 0, "to": count - 1}));
        queries.push(
            json!({"kind": "find", "cond": c, "all": false, "from": count / 3, "to": count - 1}),
        );
    }
    for e in asked.globals {
        queries.push(json!({"kind": "history", "expr": e}));
    }
    // last-write at every step where the expression has a value (the
    // oracle says which: history's steps are a subset; ask at a sample).
    let mut lw = Vec::new();
    for e in asked.written {
        for s in (0..count).step_by(4) {
            lw.push((e, s));
            queries.push(json!({"kind": "last_write", "expr": e, "step": s}));
        }
    }
    let pairs: Vec<(u64, u64)> = (0..count - 1)
        .step_by(4)
        .map(|s| (s, s + 1))
        .chain((0..count.saturating_sub(7)).step_by(9).map(|s| (s, s + 7)))
        .collect();
    for (a, b) in &pairs {
        queries.push(json!({"kind": "bindings_diff", "a": a, "b": b}));
        queries.push(json!({"kind": "item_changes", "a": a, "b": b}));
    }
    let answers = oracle(dir, &dump, &queries);
    let mut ans = answers.iter();

    for c in asked.conditions {
        let all = json_lines(&["find", r, c, "--all", "--json"]);
        assert_eq!(
            Some(&json!(steps_of(&all))),
            ans.next(),
            "{at}: find --all {c}"
        );
        let from = (count / 3).to_string();
        let first = json_lines(&["find", r, c, "--from", &from, "--json"]);
        assert_eq!(
            Some(&json!(steps_of(&first))),
            ans.next(),
            "{at}: find {c} --from {from}"
        );
    }
    for e in asked.globals {
        let h = json_lines(&["history", r, e, "--json"]);
        assert_eq!(Some(&json!(steps_of(&h))), ans.next(), "{at}: history {e}");
    }
    let mut asked_lw = 0;
    let mut by_instruction = 0;
    for (e, s) in lw {
        let want = ans.next().unwrap();
        let o = hindsight(&["last-write", r, &s.to_string(), e, "--json"]);
        if o.status.code() == Some(2) {
            // No value at STEP: the oracle must agree (an unbound name, ...).
            continue;
        }
        asked_lw += 1;
        let got: Value = serde_json::from_slice(&o.stdout).unwrap();
        let w = &got["writer"];
        if w["event"] == "opcode" {
            let name = w["instruction"]["name"].as_str().unwrap_or("");
            assert!(
                name.starts_with("STORE_")
                    || name.starts_with("DELETE_")
                    || name.contains("_OP")
                    || name.starts_with("INPLACE_")
                    || name.ends_with("_ADD")
                    || name.ends_with("_APPEND"),
                "{at}: last-write {s} {e}: writer {w}"
            );
            by_instruction += 1;
        }
        let got = json!({
            "writer": got["writer"]["step"],
            "shown_from": got["shown_from"],
            "before_step": got["before_step"],
        });
        assert_eq!(&got, want, "{at}: last-write {s} {e}");
    }
    assert!(asked_lw > 0, "{at}: no last-write answered");
    for (a, b) in &pairs {
        let d = &json_lines(&["diff", r, &a.to_string(), &b.to_string(), "--json"])[0];
        let names = |scope: &str| -> Value {
            match d[scope].as_array() {
                None => Value::Null,
                Some(v) => {
                    let mut n: Vec<&str> = v.iter().map(|c| c["name"].as_str().unwrap()).collect();
                    n.sort();
                    json!(n)
                }
            }
        };
        let want = ans.next().unwrap();
        assert_eq!(names("locals"), want["locals"], "{at}: diff {a} {b} locals");
        assert_eq!(
            names("globals"),
            want["globals"],
            "{at}: diff {a} {b} globals"
        );
        let items = ans.next().unwrap();
        let ids: Vec<&str> = items["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i.as_str().unwrap())
            .collect();
        let mut got: Vec<Value> = d["objects"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| ids.contains(&c["id"].as_str().unwrap()) && c["part"].get("item").is_some())
            .map(|c| json!([c["id"], c["part"]["item"]]))
            .collect();
        got.sort_by_key(|v| v.to_string());
        got.dedup();
        let mut want: Vec<Value> = items["changes"].as_array().unwrap().clone();
        want.sort_by_key(|v| v.to_string());
        assert_eq!(got, want, "{at}: diff {a} {b} items");
    }
    // The life of the first object asked of last-write, at the last step: the names bound
    // to it at each of its steps are the names the states show bound to it.
    let Some(e) = asked.written.first() else {
        return by_instruction;
    };
    let life = json_lines(&["object", r, &last, e, "--json"]);
    assert!(
        !life.is_empty() && life[0]["what"] == "appears",
        "{at}: object {e}"
    );
    let names = &oracle(
        dir,
        &dump,
        &[json!({"kind": "object_names", "step": count - 1, "expr": e})],
    )[0];
    for ev in &life {
        if ev["what"] == "gone" {
            continue;
        }
        let step = ev["step"].as_u64().unwrap().to_string();
        let mut got: Vec<&str> = ev["names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect();
        got.retain(|n| !(n.starts_with("__") && n.ends_with("__")));
        got.sort();
        assert_eq!(json!(got), names[&step], "{at}: object {e} at step {step}");
    }
    // Every change the states show of it while a name holds it is listed.
    let listed: Vec<u64> = steps_of(&life);
    let states: Vec<Value> = std::fs::read_to_string(&dump)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let id = life[0]["id"].as_str().unwrap();
    let shown = |s: &Value| -> Option<String> {
        ["locals", "globals"].iter().find_map(|sc| {
            s[sc]
                .as_object()
                .unwrap()
                .values()
                .find(|v| v["id"] == id)
                .map(|v| format!("{}{}", v["repr"], v["attrs"]))
        })
    };
    for w in states.windows(2) {
        if let (Some(x), Some(y)) = (shown(&w[0]), shown(&w[1])) {
            let n = w[1]["step"].as_u64().unwrap();
            if x != y && n > listed[0] {
                assert!(
                    listed.contains(&n),
                    "{at}: object {e}: the change at step {n} is not listed"
                );
            }
        }
    }
    by_instruction
}

/// Bad expressions and unknown names: one line on stderr, status 2.
#[test]
fn bad_expressions_and_unknown_names_are_one_line_errors() {
    let Some(py) = common::supported_interpreters().into_iter().next() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (hsr, _) = record(&py, dir.path(), "omniscient.py", &[]);
    let r = hsr.to_str().unwrap();
    for (args, says) in [
        (vec!["history", r, "X["], "cannot read the expression"),
        (vec!["find", r, "f(X)"], "only `len(...)`"),
        (vec!["last-write", r, "3", "X[1:2]"], "slices"),
        (vec!["object", r, "3", "lambda: 0"], "`lambda`"),
        (vec!["history", r, "Xs"], "closest to it: `X`"),
        (vec!["find", r, "nosuch > 1"], "binds `nosuch`"),
        (
            vec!["last-write", r, "0", "X"],
            "has no value at step 0: `X` is not bound",
        ),
        (vec!["history", r, "box.nope"], "no attribute `nope`"),
        (vec!["object", r, "40", "len(X)"], "computed"),
        (vec!["diff", r, "0", "999999"], "out of range"),
    ] {
        let o = hindsight(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: {err}");
        assert!(
            lines[0].starts_with("hindsight: ") && lines[0].contains(says),
            "{args:?}: {err}"
        );
    }
}
