//! A program that traces itself (`sys.settrace`, `threading.settrace`, as
//! coverage tools, pdb and IDE debuggers do) is recorded through it: its
//! tracer sees what it sees in a plain run (its output is the plain run's,
//! `sys.gettrace()` included), and the recording goes on to the program's
//! end, step for step the recording of the same program that never sets a
//! tracer. With the probe's int3 trap forced too. On every supported
//! interpreter present. And `attach` to a program that already traces
//! itself leaves its tracer running, during and after.

mod common;
#[path = "attach/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::path::Path;
use std::process::Command;

use common::{repo_root, supported_interpreters};

fn fixture() -> std::path::PathBuf {
    repo_root().join("tests/fixtures/tracing/own_tracer.py")
}

/// `hindsight record` of the fixture; its stdout.
fn record(py: &Path, hsr: &Path, env: &[(&str, &str)]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_hindsight"))
        .args(["record", "-o"])
        .arg(hsr)
        .arg("--")
        .arg(py)
        .arg(fixture())
        .envs(env.iter().copied())
        .env("PYTHONHASHSEED", "0")
        .output()
        .expect("run hindsight");
    assert!(out.status.success(), "{}: {:?}", py.display(), out);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A step as (event, function, line).
type Step = (String, String, i64);

/// Each thread's steps as (event, function, line), the main thread's
/// first (the interleaving of threads is the scheduler's), the fixture's
/// wrappers of `settrace` left out (they run different lines in the two
/// runs).
fn sequence(hsr: &Path) -> Vec<Vec<Step>> {
    let out = Command::new(env!("CARGO_BIN_EXE_hindsight"))
        .args(["steps", "--json"])
        .arg(hsr)
        .output()
        .expect("run hindsight steps");
    assert!(out.status.success(), "{out:?}");
    let mut threads: Vec<(u64, Vec<Step>)> = Vec::new();
    for l in String::from_utf8_lossy(&out.stdout).lines() {
        let s: serde_json::Value = serde_json::from_str(l).expect("a step");
        if s["function"].as_str().unwrap_or("").starts_with("settrace") {
            continue;
        }
        let tid = s["thread"].as_u64().unwrap_or(0);
        let step = (
            s["event"].as_str().unwrap_or("").to_string(),
            s["function"].as_str().unwrap_or("").to_string(),
            s["line"].as_i64().unwrap_or(-1),
        );
        match threads.iter_mut().find(|t| t.0 == tid) {
            Some(t) => t.1.push(step),
            None => threads.push((tid, vec![step])),
        }
    }
    threads.into_iter().map(|t| t.1).collect()
}

fn info(hsr: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_hindsight"))
        .arg("info")
        .arg(hsr)
        .output()
        .expect("run hindsight info");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_program_that_traces_itself_is_recorded_through_it() {
    let dir = tempfile::tempdir().unwrap();
    for py in supported_interpreters() {
        let plain = Command::new(&py.path)
            .arg(fixture())
            .env("PYTHONHASHSEED", "0")
            .output()
            .expect("plain run");
        let plain = String::from_utf8_lossy(&plain.stdout).into_owned();
        assert!(plain.contains("gettrace: None tracer None"), "{plain}");
        let without = dir.path().join(format!("without-{}.hsr", py.minor));
        record(&py.path, &without, &[("OWN_TRACER", "0")]);
        for (name, env) in [
            ("signal", vec![]),
            ("int3", vec![("HINDSIGHT_INT3_TRAP", "1")]),
        ] {
            let hsr = dir.path().join(format!("own-{}-{name}.hsr", py.minor));
            let got = record(&py.path, &hsr, &env);
            assert_eq!(
                got, plain,
                "{} ({name}): the program's tracer saw otherwise",
                py.minor
            );
            let i = info(&hsr);
            assert!(
                i.contains("complete; the program exited with status 0"),
                "{i}"
            );
            assert!(!i.contains("own trace function"), "{i}");
            assert_eq!(
                sequence(&hsr),
                sequence(&without),
                "{} ({name}): the steps differ from the run that sets no tracer",
                py.minor
            );
        }
    }
}

#[test]
fn without_the_probe_the_lost_recording_is_said() {
    let dir = tempfile::tempdir().unwrap();
    for py in supported_interpreters() {
        let hsr = dir.path().join(format!("noprobe-{}.hsr", py.minor));
        let got = record(&py.path, &hsr, &[("HINDSIGHT_NO_PROBE", "1")]);
        assert!(got.contains("gettrace: None tracer None"), "{got}");
        let i = info(&hsr);
        assert!(
            i.contains("the program set its own trace function"),
            "{}: {i}",
            py.minor
        );
    }
}

/// A program that traces itself is recorded, and its own tracer runs on
/// as in an untraced run: the events it counts for the same work are the
/// same before, during and after the attach, `sys.gettrace()` shows its
/// tracer, and it can remove and set it again while recorded.
#[test]
fn a_program_that_traces_itself_is_attached_to_and_left_tracing() {
    for py in harness::recent_pythons() {
        self_traced_attached(&py);
    }
}

fn self_traced_attached(py: &str) {
    eprintln!("on {py}");
    let dir = tempfile::tempdir().unwrap();
    let mut target =
        harness::Target::start_with(py, &[harness::fixture("self_traced.py").to_str().unwrap()]);
    target.expect("READY");
    target.send("work 4");
    let plain = target.expect("done");
    let hsr = dir.path().join("self.hsr");
    let a = harness::Attach::start(target.pid(), &hsr, &[]);
    target.send("work 4");
    assert_eq!(
        target.expect("done"),
        plain,
        "its tracer saw otherwise while recorded"
    );
    target.send("gettrace");
    assert_eq!(target.expect("gettrace"), "gettrace tracer");
    target.send("off");
    target.expect("off");
    target.send("on");
    target.expect("on");
    target.send("work 4");
    assert_eq!(target.expect("done"), plain);
    a.signal(libc::SIGTERM);
    assert!(a.finish().contains("detached"));
    assert_eq!(target.tracer_pid(), 0, "still traced");
    target.send("work 4");
    assert_eq!(
        target.expect("done"),
        plain,
        "its tracer is not back after the detach"
    );
    // Nothing watches its calls any more.
    target.send("off");
    target.expect("off");
    target.send("on");
    target.expect("on");
    target.send("gettrace");
    assert_eq!(target.expect("gettrace"), "gettrace tracer");
    let f = harness::functions(&harness::steps(&hsr));
    assert!(f.contains("handle"), "{f:?}");
    assert!(
        !f.contains("tracer"),
        "its tracer's own frames were recorded: {f:?}"
    );
}

/// 3.12+: a program with a sys.monitoring tool of its own (a profiler or
/// coverage tool built on it) is attached to and detached from while its
/// tool runs: the events its tool counts for the same work are the same
/// before, during and after, and its tool id stays registered with its
/// events. hindsight touches only the legacy-tracing tool of
/// `sys.settrace`.
#[test]
fn a_program_with_its_own_monitoring_tool_is_attached_to_unharmed() {
    for py in harness::recent_pythons() {
        if py.ends_with("3.11") {
            continue;
        }
        eprintln!("on {py}");
        let dir = tempfile::tempdir().unwrap();
        let fixture = harness::fixture("self_monitored.py");
        let mut target = harness::Target::start_with(&py, &[fixture.to_str().unwrap()]);
        target.expect("READY");
        target.send("work 4");
        let plain = target.expect("done");
        target.send("tool");
        let tool = target.expect("tool");
        assert!(tool.starts_with("tool selfmon "), "{py}: {tool}");
        let hsr = dir.path().join("selfmon.hsr");
        let a = harness::Attach::start(target.pid(), &hsr, &[]);
        target.send("work 4");
        assert_eq!(target.expect("done"), plain, "{py}: its tool saw otherwise");
        a.signal(libc::SIGTERM);
        assert!(a.finish().contains("detached"));
        assert_eq!(target.tracer_pid(), 0, "still traced");
        target.send("work 4");
        assert_eq!(target.expect("done"), plain, "{py}: after the detach");
        target.send("tool");
        assert_eq!(target.expect("tool"), tool, "{py}: its tool changed");
        let f = harness::functions(&harness::steps(&hsr));
        assert!(f.contains("handle"), "{py}: {f:?}");
        assert!(!f.contains("on_event"), "{py}: its tool's frames: {f:?}");
    }
}
