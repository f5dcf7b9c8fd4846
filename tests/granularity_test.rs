//! What users reach for when only part of a program matters (issue 6, part 4):
//! `--granularity call` records call and return steps only, and frames
//! outside the recorded files cost no trap per line. Traps are counted by the
//! recorder's own log line (`N traps taken for M steps`, target
//! `tracer::record`), so these tests count stops, never time.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// Iterations of the loops below: far more than any call/return overhead, so
/// one trap per line would be unmistakable.
const LOOP: u32 = 5_000;

/// A recorded main script that calls functions, loops, raises and catches.
const CALLS_PY: &str = r#"
def leaf(x):
    total = 0
    for i in range(x):
        total += i
    return total

def middle(x):
    try:
        if x % 2:
            raise ValueError(x)
    except ValueError:
        x += 1
    return leaf(x) + leaf(1)

class Box:
    def __init__(self, v):
        self.v = v
    def get(self):
        return self.v

out = [middle(i) for i in range(4)]
b = Box(out)
print(b.get())
busy = 0
for k in range(LOOP):
    busy += k
print(busy)
"#;

/// The helper module that lives outside the recorded files.
const LIB_PY: &str = r#"
def spin(n):
    acc = 0
    for i in range(n):
        acc += i * 2
    return acc
"#;

/// A helper outside the recorded files, called once per turn of a recorded
/// loop.
const TINY_PY: &str = r#"
def tiny(i):
    return i + 1
"#;

/// The recorded main script that calls the tiny helper in a loop.
const CALLER_PY: &str = r#"
import os, sys
sys.path.insert(0, os.environ["LIBDIR"])
import tiny

def run():
    total = 0
    for i in range(LOOP):
        total = tiny.tiny(total)
    return total

print(run())
"#;

/// The recorded main script that calls into the helper.
const MAIN_PY: &str = r#"
import os, sys
sys.path.insert(0, os.environ["LIBDIR"])
import helper

def run():
    return helper.spin(LOOP)

print(run())
"#;

fn python311() -> Option<PathBuf> {
    let found = common::interpreter("3.11").map(|i| i.path);
    if found.is_none() {
        eprintln!("SKIPPED: CPython 3.11 not present");
    }
    found
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text.replace("LOOP", &LOOP.to_string())).expect("write program");
    p
}

/// `hindsight record [opts] -o out -- python script`, with the trap count
/// logged; returns (output, traps, steps from the log line).
fn record(
    python: &Path,
    script: &Path,
    out: &Path,
    opts: &[&str],
    env: &[(&str, &Path)],
) -> (Output, u64, u64) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hindsight"));
    cmd.arg("record")
        .args(opts)
        .arg("-o")
        .arg(out)
        .arg("--")
        .arg(python)
        .arg(script)
        .env("RUST_LOG", "tracer::record=info")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("PYTHONPATH");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = common::run_with_timeout(cmd, common::HINDSIGHT_TIMEOUT).expect("run hindsight record");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "record failed: {:?}\n{err}", o.status);
    let (traps, steps) = err
        .lines()
        .find_map(parse_traps)
        .unwrap_or_else(|| panic!("no `N traps taken for M steps` line in:\n{err}"));
    (o, traps, steps)
}

/// `... N traps taken for M steps` -> (N, M).
fn parse_traps(line: &str) -> Option<(u64, u64)> {
    let (head, tail) = line.split_once(" traps taken for ")?;
    let traps = head.rsplit(' ').next()?.parse().ok()?;
    let steps = tail.split_whitespace().next()?.parse().ok()?;
    Some((traps, steps))
}

/// (event, function) of every step, from `hindsight steps --json`.
fn events(hsr: &Path) -> Vec<(String, String)> {
    let o = Command::new(env!("CARGO_BIN_EXE_hindsight"))
        .args(["steps", "--json"])
        .arg(hsr)
        .output()
        .expect("run hindsight steps");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("steps --json line");
            (
                v["event"].as_str().unwrap_or("?").to_string(),
                v["function"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect()
}

#[test]
fn granularity_call_records_only_calls_and_returns() {
    let Some(py) = python311() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let script = write(dir.path(), "calls.py", CALLS_PY);

    let line_hsr = dir.path().join("line.hsr");
    let (plain, line_traps, _) = record(&py, &script, &line_hsr, &[], &[]);
    let call_hsr = dir.path().join("call.hsr");
    let (o, call_traps, call_steps) =
        record(&py, &script, &call_hsr, &["--granularity", "call"], &[]);
    assert_eq!(o.stdout, plain.stdout, "the program's output changed");

    let by_call = events(&call_hsr);
    assert_eq!(by_call.len() as u64, call_steps);
    assert!(
        by_call.iter().all(|(e, _)| e == "call" || e == "return"),
        "not only call/return steps: {by_call:?}"
    );
    // The same calls and returns, in the same order, as a line recording has.
    let by_line: Vec<(String, String)> = events(&line_hsr)
        .into_iter()
        .filter(|(e, _)| e == "call" || e == "return")
        .collect();
    assert_eq!(by_call, by_line);
    let calls = by_call.iter().filter(|(e, _)| e == "call").count();
    assert_eq!(calls * 2, by_call.len(), "unbalanced calls and returns");
    // <module>, 4 x (middle, 2 x leaf), listcomp, Box.__init__, Box.get.
    assert!(calls >= 16, "only {calls} calls recorded");

    // The module-level loop of LOOP iterations traps per line at line
    // granularity, and not at call granularity: its frame's line events are
    // switched off at its call.
    assert!(
        line_traps > 2 * u64::from(LOOP),
        "line recording took {line_traps} traps"
    );
    assert!(
        call_traps < u64::from(LOOP) / 10,
        "--granularity call took {call_traps} traps for {call_steps} steps"
    );
}

#[test]
fn frames_outside_the_recorded_files_take_no_trap_per_line() {
    let Some(py) = python311() else { return };
    let app = tempfile::tempdir().expect("temp dir");
    let lib = tempfile::tempdir().expect("temp dir");
    let script = write(app.path(), "main.py", MAIN_PY);
    write(lib.path(), "helper.py", LIB_PY);
    let env = [("LIBDIR", lib.path())];

    // By default only main.py's directory is recorded: helper.spin runs its
    // LOOP iterations without a trap per line.
    let out = app.path().join("partial.hsr");
    let (o, traps, steps) = record(&py, &script, &out, &[], &env);
    let expected = format!("{}\n", (0..u64::from(LOOP)).map(|i| i * 2).sum::<u64>());
    assert_eq!(String::from_utf8_lossy(&o.stdout), expected);
    let recorded = events(&out);
    assert_eq!(recorded.len() as u64, steps);
    assert!(
        recorded.iter().all(|(_, f)| f != "spin"),
        "a step of the unrecorded helper was recorded"
    );
    assert!(recorded.iter().any(|(_, f)| f == "run"));
    assert!(
        traps < u64::from(LOOP) / 5,
        "{traps} traps for {steps} steps: unrecorded lines were trapped"
    );

    // Control: with the helper included, and every step made to trap, every
    // one of its lines is a trap and a step, so the counter above does count
    // line traps.
    let out = app.path().join("full.hsr");
    let every = [
        ("LIBDIR", lib.path()),
        ("HINDSIGHT_NO_TRAPLESS", Path::new("1")),
    ];
    let (_, all_traps, all_steps) =
        record(&py, &script, &out, &["--include", "*/helper.py"], &every);
    assert!(all_steps > 2 * u64::from(LOOP), "{all_steps} steps");
    assert!(all_traps >= all_steps);
    assert!(events(&out).iter().any(|(_, f)| f == "spin"));
}

#[test]
fn calls_into_unrecorded_files_take_no_trap() {
    // The probe answers the calls and returns of code from a file it was
    // told is not recorded: after the first call, none traps. On every
    // supported interpreter present.
    for py in common::supported_interpreters() {
        let app = tempfile::tempdir().expect("temp dir");
        let lib = tempfile::tempdir().expect("temp dir");
        let script = write(app.path(), "main.py", CALLER_PY);
        write(lib.path(), "tiny.py", TINY_PY);
        let env = [("LIBDIR", lib.path())];
        let out = app.path().join("filtered.hsr");
        let (o, traps, steps) = record(&py.path, &script, &out, &[], &env);
        assert_eq!(String::from_utf8_lossy(&o.stdout), format!("{LOOP}\n"));
        assert!(
            events(&out).iter().all(|(_, f)| f != "tiny"),
            "{}: a step of the unrecorded helper was recorded",
            py.minor
        );
        assert!(
            traps <= steps + 10,
            "{}: {traps} traps for {steps} steps: calls into the unrecorded file trapped",
            py.minor
        );

        // Control: with the filter off every call and return of the helper
        // traps, so the count above does count them.
        let off = [
            ("LIBDIR", lib.path()),
            ("HINDSIGHT_NO_PROBE_FILTER", Path::new("1")),
        ];
        let out = app.path().join("unfiltered.hsr");
        let (_, off_traps, off_steps) = record(&py.path, &script, &out, &[], &off);
        assert_eq!(
            off_steps, steps,
            "{}: the filter changed the steps",
            py.minor
        );
        assert!(
            off_traps >= traps + 2 * u64::from(LOOP),
            "{}: {off_traps} traps without the filter, {traps} with it",
            py.minor
        );
    }
}

#[test]
fn trap_log_line_parses() {
    assert_eq!(
        parse_traps("[2026-01-01T00:00:00Z INFO  tracer::record] 541 traps taken for 22 steps"),
        Some((541, 22))
    );
    assert_eq!(parse_traps("recorded 22 steps"), None);
}
