//! `hindsight export` on a recording of the aliasing fixture (two names
//! bound to one list, the list inside other lists, a dict and two
//! instances, a function that returns): Python Tutor's trace checked
//! field by field against the recording's own states (`hindsight dump`),
//! its REF ids against their object ids; the Chrome trace read as JSON
//! with begin and end events balanced per thread and one slice per call;
//! JSON lines equal to `dump`.

#[path = "export/checks.rs"]
mod checks;
mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use checks::{balanced, refs_resolve, short, Ids};
use common::{run_with_timeout, HINDSIGHT_TIMEOUT};
use serde_json::Value;

fn hindsight() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hindsight"))
}

fn run(args: &[&str]) -> Output {
    let mut cmd = Command::new(hindsight());
    cmd.args(args);
    run_with_timeout(cmd, HINDSIGHT_TIMEOUT).unwrap()
}

fn ok(args: &[&str]) -> Vec<u8> {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A recording of tests/fixtures/aliasing.py, and its states.
fn recording(dir: &Path) -> Option<(PathBuf, PathBuf, Vec<Value>)> {
    recording_of(dir, "aliasing.py")
}

/// A recording of a fixture, and its states.
fn recording_of(dir: &Path, name: &str) -> Option<(PathBuf, PathBuf, Vec<Value>)> {
    let py = common::interpreter("3.11")
        .or_else(|| common::supported_interpreters().into_iter().next())?;
    let fixture = common::repo_root().join("tests/fixtures").join(name);
    let rec = dir.join(name).with_extension("hsr");
    let out = common::run_record(&hindsight(), &py.path, &fixture, &rec).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let states = String::from_utf8(ok(&["dump", rec.to_str().unwrap()]))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    Some((fixture, rec, states))
}

#[test]
fn python_tutor_trace_follows_the_recording() {
    let dir = tempfile::tempdir().unwrap();
    let Some((fixture, rec, states)) = recording(dir.path()) else {
        return;
    };
    let out = dir.path().join("pt.json");
    ok(&[
        "export",
        rec.to_str().unwrap(),
        "--format",
        "pythontutor",
        "-o",
        out.to_str().unwrap(),
    ]);
    let pt: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(pt["code"], std::fs::read_to_string(&fixture).unwrap());
    let trace = pt["trace"].as_array().unwrap();
    let main_file = &states[0]["file"];
    let shown: Vec<&Value> = states.iter().filter(|s| &s["file"] == main_file).collect();
    assert_eq!(
        trace.len(),
        shown.len(),
        "an entry per step of the main file (the fixture ends normally)"
    );
    let mut ids = Ids::default();
    let mut first_seen: Vec<String> = Vec::new();
    let mut aliased = 0;
    for (k, (e, s)) in trace.iter().zip(&shown).enumerate() {
        let what = format!("entry {k} (step {})", s["step"]);
        let mut keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort();
        let mut want = vec![
            "event",
            "func_name",
            "globals",
            "heap",
            "line",
            "ordered_globals",
            "stack_to_render",
            "stdout",
        ];
        if s["event"] == "exception" {
            want.push("exception_msg");
            want.sort();
        }
        assert_eq!(keys, want, "{what}");
        let event = match s["event"].as_str().unwrap() {
            "line" => "step_line",
            other => other,
        };
        assert_eq!(e["event"], event, "{what}");
        assert_eq!(e["line"], s["line"], "{what}");
        assert_eq!(
            e["func_name"],
            short(s["function"].as_str().unwrap()),
            "{what}"
        );
        assert_eq!(e["stdout"], "", "{what}");
        let heap = &e["heap"];
        refs_resolve(e, heap, &what);
        // Globals: the state's, in the order the trace first met them.
        let globals = s["globals"].as_object().unwrap();
        for name in globals.keys() {
            if !first_seen.contains(name) {
                first_seen.push(name.clone());
            }
        }
        let order: Vec<&str> = first_seen
            .iter()
            .filter(|n| globals.contains_key(*n))
            .map(String::as_str)
            .collect();
        assert_eq!(e["ordered_globals"], serde_json::json!(order), "{what}");
        assert_eq!(
            e["globals"].as_object().unwrap().len(),
            globals.len(),
            "{what}"
        );
        for (name, sv) in globals {
            ids.check(
                &e["globals"][name],
                sv,
                heap,
                &format!("{what}: global {name}"),
            );
        }
        if let (Some(a), Some(b)) = (globals.get("a"), globals.get("b")) {
            if a["id"] == b["id"] {
                assert_eq!(
                    e["globals"]["a"], e["globals"]["b"],
                    "{what}: a and b are one list"
                );
                aliased += 1;
            }
        }
        // The stack: the function frames, the innermost highlighted and
        // holding the state's locals.
        let frames = e["stack_to_render"].as_array().unwrap();
        if s["function"] == "<module>" {
            assert!(frames.is_empty(), "{what}");
            continue;
        }
        let top = frames.last().unwrap_or_else(|| panic!("{what}: no frame"));
        for (i, f) in frames.iter().enumerate() {
            assert_eq!(f["is_highlighted"], i + 1 == frames.len(), "{what}");
            assert_eq!(
                (&f["is_parent"], &f["is_zombie"]),
                (&Value::Bool(false), &Value::Bool(false))
            );
            assert_eq!(f["parent_frame_id_list"], serde_json::json!([]));
            assert_eq!(
                f["unique_hash"],
                format!("{}_f{}", f["func_name"].as_str().unwrap(), f["frame_id"])
            );
        }
        assert_eq!(
            top["func_name"],
            short(s["function"].as_str().unwrap()),
            "{what}"
        );
        let locals = s["locals"].as_object().unwrap();
        let mut names: Vec<&str> = locals.keys().map(String::as_str).collect();
        if s["event"] == "return" {
            names.push("__return__");
            ids.check(
                &top["encoded_locals"]["__return__"],
                &s["return"],
                heap,
                &format!("{what}: __return__"),
            );
        }
        assert_eq!(top["ordered_varnames"], serde_json::json!(names), "{what}");
        assert_eq!(
            top["encoded_locals"].as_object().unwrap().len(),
            names.len(),
            "{what}"
        );
        for (name, sv) in locals {
            ids.check(
                &top["encoded_locals"][name],
                sv,
                heap,
                &format!("{what}: local {name}"),
            );
        }
    }
    assert!(
        aliased > 5,
        "the fixture binds a and b to one list for a while"
    );
    // `touch(a, b)`: lst and also are one object, one REF.
    let both = trace.iter().filter(|e| {
        e["stack_to_render"]
            .as_array()
            .and_then(|f| f.last())
            .is_some_and(|f| {
                let l = &f["encoded_locals"];
                l.get("also").is_some() && l["lst"] == l["also"]
            })
    });
    assert!(
        both.count() > 0,
        "touch(a, b) shows lst and also as one list"
    );
}

#[test]
fn chrome_trace_has_a_track_per_thread() {
    let Some(py) =
        common::interpreter("3.11").or_else(|| common::supported_interpreters().into_iter().next())
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("threads.py");
    std::fs::write(
        &app,
        "import threading\n\n\ndef work(n):\n    t = 0\n    for i in range(n):\n        t += i\n    return t\n\n\nths = [threading.Thread(target=work, args=(k,)) for k in range(3)]\nfor th in ths:\n    th.start()\nfor th in ths:\n    th.join()\nwork(2)\n",
    )
    .unwrap();
    let rec = dir.path().join("threads.hsr");
    let out = common::run_record(&hindsight(), &py.path, &app, &rec).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rec = rec.to_str().unwrap();
    let states: Vec<Value> = String::from_utf8(ok(&["dump", rec]))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let trace: Value = serde_json::from_slice(&ok(&["export", rec, "--format", "chrome"])).unwrap();
    let begun = balanced(&trace, 0, states.len() as u64 - 1);
    let threads: HashSet<u64> = states
        .iter()
        .map(|s| s["thread"].as_u64().unwrap())
        .collect();
    let tracks: HashSet<u64> = begun.iter().map(|(t, _)| *t).collect();
    assert_eq!(tracks, threads);
    assert_eq!(threads.len(), 4, "the main thread and three workers");
    for t in threads {
        let calls = states
            .iter()
            .filter(|s| s["thread"] == t && s["event"] == "call" && s["function"] == "work")
            .count();
        let slices = begun
            .iter()
            .filter(|(bt, n)| *bt == t && n == "work")
            .count();
        assert_eq!(slices, calls, "thread {t}");
    }
}

#[test]
fn chrome_trace_is_balanced_and_jsonl_is_dump() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_, rec, states)) = recording(dir.path()) else {
        return;
    };
    let rec = rec.to_str().unwrap();
    let last = states.len() - 1;
    for (from, to) in [(0, last), (22, 30), (last, last)] {
        let (f, t) = (from.to_string(), to.to_string());
        let out = ok(&[
            "export", rec, "--format", "chrome", "--from", &f, "--to", &t,
        ]);
        let trace: Value = serde_json::from_slice(&out).expect("the Chrome trace is JSON");
        let begun: Vec<String> = balanced(&trace, from as u64, to as u64)
            .into_iter()
            .map(|(_, name)| name)
            .collect();
        // One slice per call step, plus the frames already open at the range's start.
        let calls = states[from + 1..=to]
            .iter()
            .filter(|s| s["event"] == "call")
            .count();
        let at_start = states[from]["stack"].as_array().unwrap().len();
        assert_eq!(begun.len(), calls + at_start, "{from}..{to}: {begun:?}");
    }
    let full = ok(&["export", rec, "--format", "jsonl"]);
    assert_eq!(full, ok(&["dump", rec]));
    let part = ok(&[
        "export", rec, "--format", "jsonl", "--from", "5", "--to", "9",
    ]);
    assert_eq!(part, ok(&["dump", rec, "--from", "5", "--to", "9"]));
    // The recording is never the output; a bad range is an error.
    let before = std::fs::read(rec).unwrap();
    let r = run(&["export", rec, "--format", "jsonl", "-o", rec]);
    assert_eq!(r.status.code(), Some(2));
    assert_eq!(std::fs::read(rec).unwrap(), before);
    assert_eq!(
        run(&["export", rec, "--format", "chrome", "--from", "9", "--to", "5"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        run(&["export", rec, "--format", "svg"]).status.code(),
        Some(2)
    );
}

/// `Type: message` as `str()` of the exception gives it, from the state's
/// `Name(args)` repr.
fn expected_message(ty: &str, repr: &str) -> String {
    let inner = &repr[repr.find('(').unwrap() + 1..repr.len() - 1];
    let quoted = inner.len() >= 2
        && (inner.starts_with('\'') && inner.ends_with('\'')
            || inner.starts_with('"') && inner.ends_with('"'))
        && !inner.contains("', ");
    let text = if quoted && short(ty) != "KeyError" {
        inner[1..inner.len() - 1].to_string()
    } else if inner.is_empty() || !inner.contains(", ") {
        inner.to_string()
    } else {
        format!("({inner})")
    };
    format!("{}: {text}", short(ty))
}

#[test]
fn python_tutor_exceptions_carry_their_message() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_, rec, states)) = recording_of(dir.path(), "exceptions.py") else {
        return;
    };
    let out = ok(&["export", rec.to_str().unwrap(), "--format", "pythontutor"]);
    let pt: Value = serde_json::from_slice(&out).unwrap();
    let trace = pt["trace"].as_array().unwrap();
    let shown: Vec<&Value> = states
        .iter()
        .filter(|s| s["file"] == states[0]["file"])
        .collect();
    assert_eq!(trace.len(), shown.len());
    let mut seen = HashSet::new();
    for (e, s) in trace.iter().zip(&shown) {
        if s["event"] != "exception" {
            assert!(e.get("exception_msg").is_none());
            continue;
        }
        assert_eq!(e["event"], "exception");
        let x = &s["exception"];
        let want = expected_message(x["type"].as_str().unwrap(), x["repr"].as_str().unwrap());
        assert_eq!(e["exception_msg"], want.as_str(), "step {}", s["step"]);
        seen.insert(want);
    }
    assert!(seen.len() >= 4, "several kinds of exceptions: {seen:?}");
}
