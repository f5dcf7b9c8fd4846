//! Step times and `hindsight calls`, on every supported interpreter
//! present: Recompyle's README example (tests/fixtures/recompyle_example.py)
//! profiled names `slow_function` first and its caller over the limit;
//! every step has a time, times never go back, and the steps the probe
//! takes without a trap carry times of their own; `calls --json` has its
//! fields; a function never called is a one-line error with status 2.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{run_with_timeout, Interpreter, HINDSIGHT_TIMEOUT};
use serde_json::Value;

fn hindsight() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hindsight"))
}

fn fixture(name: &str) -> PathBuf {
    common::repo_root().join("tests/fixtures").join(name)
}

fn run(args: &[&str]) -> Output {
    let mut cmd = Command::new(hindsight());
    cmd.args(args);
    run_with_timeout(cmd, HINDSIGHT_TIMEOUT).expect("hindsight ran")
}

fn record(py: &Interpreter, program: &Path, hsr: &Path, env: &[(&str, &str)]) {
    let mut cmd = Command::new(hindsight());
    cmd.arg("record")
        .arg("-o")
        .arg(hsr)
        .arg("--")
        .arg(&py.path)
        .arg(program)
        .envs(env.iter().copied());
    let out = run_with_timeout(cmd, HINDSIGHT_TIMEOUT).expect("record ran");
    assert!(
        out.status.success(),
        "{}: record failed: {}",
        py.minor,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// The steps' times, checked present and never going back; and how many
/// steps have the time of the step before.
fn step_times(py: &Interpreter, hsr: &Path) -> (Vec<u64>, usize) {
    let out = run(&["steps", hsr.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}: steps failed", py.minor);
    let steps = json_lines(&out);
    assert!(!steps.is_empty());
    let mut times = Vec::new();
    for s in &steps {
        let t = s["time_ns"]
            .as_u64()
            .unwrap_or_else(|| panic!("{}: a step without a time: {s}", py.minor));
        assert!(
            s["elapsed"].as_f64().is_some(),
            "{}: no elapsed: {s}",
            py.minor
        );
        times.push(t);
    }
    for w in times.windows(2) {
        assert!(w[0] <= w[1], "{}: a time goes back: {w:?}", py.minor);
    }
    let same = times.windows(2).filter(|w| w[0] == w[1]).count();
    (times, same)
}

#[test]
fn recompyles_example_is_profiled_with_slow_function_first_and_over_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let pys = common::supported_interpreters();
    assert!(!pys.is_empty(), "no supported interpreter present");
    for py in &pys {
        let hsr = dir.path().join(format!("ex-{}.hsr", py.minor));
        record(py, &fixture("recompyle_example.py"), &hsr, &[]);
        let file = hsr.to_str().unwrap();
        step_times(py, &hsr);
        let args = [
            "calls",
            file,
            "--function",
            "example_function",
            "--threshold",
            "0.3",
        ];
        let out = run(&[&args[..], &["--json"]].concat());
        assert!(out.status.success(), "{}: calls failed", py.minor);
        let reports = json_lines(&out);
        assert_eq!(reports.len(), 1, "{}: {reports:?}", py.minor);
        let r = &reports[0];
        for key in [
            "function",
            "file",
            "line",
            "thread",
            "step",
            "end_step",
            "start_ns",
            "total",
            "total_ns",
            "threshold",
            "over",
            "steps",
            "callees",
        ] {
            assert!(r.get(key).is_some(), "{}: no `{key}` in {r}", py.minor);
        }
        assert_eq!(r["function"], "example_function");
        assert_eq!(r["threshold"], 0.3);
        // time.sleep(0.5) inside it: above 0.3 s whatever recording costs.
        assert_eq!(r["over"], true, "{}: {r}", py.minor);
        assert!(r["end_step"].as_u64() > r["step"].as_u64());
        let callees = r["callees"].as_array().unwrap();
        let names: Vec<&str> = callees
            .iter()
            .map(|c| c["function"].as_str().unwrap())
            .collect();
        assert_eq!(
            names[0], "slow_function",
            "{}: slow_function is not first: {r}",
            py.minor
        );
        assert!(names.contains(&"faster_function"), "{}: {r}", py.minor);
        // `<genexpr>`, or its qualified name where the code has one (3.11+).
        let genexpr = names.iter().find(|n| n.ends_with("<genexpr>"));
        assert!(genexpr.is_some(), "{}: {r}", py.minor);
        let calls = |n: &str| callees.iter().find(|c| c["function"] == n).unwrap()["calls"].clone();
        assert_eq!(calls("slow_function"), 1);
        assert_eq!(calls("faster_function"), 1);
        // Created, resumed after each of its two values, and once more to end.
        assert_eq!(calls(genexpr.unwrap()), 3);
        for w in callees.windows(2) {
            assert!(w[0]["total_ns"].as_u64() >= w[1]["total_ns"].as_u64());
        }
        let total = r["total_ns"].as_u64().unwrap();
        let summed: u64 = callees
            .iter()
            .map(|c| c["total_ns"].as_u64().unwrap())
            .sum();
        assert!(
            summed <= total,
            "{}: callees longer than the call: {r}",
            py.minor
        );

        // The text form: the verdict, then slow_function's line first.
        let out = run(&args);
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines();
        let head = lines.next().unwrap_or_default();
        assert!(
            head.starts_with("example_function took ")
                && head.contains("OVER the threshold of 0.3 s"),
            "{}: {text}",
            py.minor
        );
        assert!(
            lines
                .next()
                .unwrap_or_default()
                .contains(" slow_function  (1 call)"),
            "{}: {text}",
            py.minor
        );

        // `state --json` has the step's time too.
        let out = run(&["state", file, "1", "--json"]);
        let st: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(st["time_ns"].as_u64().is_some() && st["elapsed"].as_f64().is_some());

        // A function never called: one line, status 2.
        let out = run(&["calls", file, "--function", "example_functio"]);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("hindsight: no call of `example_functio`")
                && err.contains("`example_function`"),
            "{err}"
        );
    }
}

#[test]
fn steps_taken_without_a_trap_carry_their_own_times() {
    let dir = tempfile::tempdir().unwrap();
    for py in &common::supported_interpreters() {
        let hsr = dir.path().join(format!("loop-{}.hsr", py.minor));
        record(py, &fixture("delta_lines.py"), &hsr, &[]);
        let (times, same) = step_times(py, &hsr);
        // Timed at the trap that reported them, the logged steps of a
        // stop would all share its time.
        assert!(
            same * 10 < times.len(),
            "{}: {same} of {} steps have the time of the step before",
            py.minor,
            times.len()
        );
        let hsr = dir.path().join(format!("loop-noprobe-{}.hsr", py.minor));
        record(
            py,
            &fixture("delta_lines.py"),
            &hsr,
            &[("HINDSIGHT_NO_PROBE", "1")],
        );
        step_times(py, &hsr);
    }
}

#[test]
fn record_profile_reports_each_call_as_it_ends_and_records_it_shallow() {
    let dir = tempfile::tempdir().unwrap();
    for py in &common::supported_interpreters() {
        let hsr = dir.path().join(format!("live-{}.hsr", py.minor));
        let program = fixture("recompyle_example.py");
        let profiled = |threshold: &str| {
            let mut cmd = Command::new(hindsight());
            cmd.arg("record")
                .arg("--force")
                .arg("-o")
                .arg(&hsr)
                .args(["--profile", "example_function", "--threshold", threshold])
                .arg("--")
                .arg(&py.path)
                .arg(&program);
            let out = run_with_timeout(cmd, HINDSIGHT_TIMEOUT).expect("record ran");
            assert!(out.status.success(), "{}: record failed", py.minor);
            String::from_utf8_lossy(&out.stderr).into_owned()
        };
        // Above the call's time: no report.
        let err = profiled("100");
        assert!(!err.contains("hindsight: profile:"), "{}: {err}", py.minor);
        let err = profiled("0.3");
        let lines: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with("hindsight: profile: "))
            .collect();
        assert!(
            lines.len() >= 2
                && lines[0].starts_with("hindsight: profile: example_function took ")
                && lines[0].ends_with("OVER the threshold of 0.3 s")
                && lines[1].contains(" slow_function  (1 call)"),
            "{}: {err}",
            py.minor
        );
        // Only calls and returns of example_function and of its direct
        // callees: what slow_function calls (time.sleep: C) and the module
        // are not steps.
        let out = run(&["steps", hsr.to_str().unwrap(), "--json"]);
        let steps = json_lines(&out);
        assert_eq!(steps.len(), 12, "{}: {steps:?}", py.minor);
        for s in &steps {
            let f = s["function"].as_str().unwrap();
            assert!(
                ["example_function", "slow_function", "faster_function"].contains(&f)
                    || f.ends_with("<genexpr>"),
                "{}: {s}",
                py.minor
            );
            assert!(s["event"] == "call" || s["event"] == "return", "{s}");
            assert!(s["time_ns"].as_u64().is_some());
        }
        let out = run(&[
            "calls",
            hsr.to_str().unwrap(),
            "--function",
            "example_function",
            "--json",
        ]);
        let r = &json_lines(&out)[0];
        assert_eq!(
            r["callees"][0]["function"], "slow_function",
            "{}: {r}",
            py.minor
        );
    }
}

#[test]
fn attach_profile_reports_the_calls_of_a_running_program() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let attachable = ["3.8", "3.9", "3.10", "3.11"];
    for py in common::supported_interpreters()
        .iter()
        .filter(|p| attachable.contains(&p.minor.as_str()))
    {
        let mut worker = Command::new(&py.path)
            .arg(fixture("attach/profiled_worker.py"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("the worker starts");
        let mut ready = String::new();
        BufReader::new(worker.stdout.take().unwrap())
            .read_line(&mut ready)
            .unwrap();
        assert_eq!(ready.trim(), "READY");
        let hsr = dir.path().join(format!("att-{}.hsr", py.minor));
        let out = run(&[
            "attach",
            "-o",
            hsr.to_str().unwrap(),
            "--profile",
            "job",
            "--threshold",
            "0.02",
            "--max-time",
            "1.5",
            &worker.id().to_string(),
        ]);
        let alive = worker.try_wait().unwrap().is_none();
        let _ = worker.kill();
        let _ = worker.wait();
        assert!(alive, "{}: the worker did not survive the attach", py.minor);
        assert!(out.status.success(), "{}: attach failed", py.minor);
        let err = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with("hindsight: profile: "))
            .collect();
        // A call of `job` that slept 50 ms in `slow` is above 20 ms: at
        // least one is reported, and a report that names `slow` names it
        // first.
        let heads: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i].starts_with("hindsight: profile: job took "))
            .collect();
        let with_slow = heads.iter().filter(|&&i| {
            let callees = lines[i + 1..]
                .iter()
                .take_while(|l| !l.starts_with("hindsight: profile: job took "));
            callees.clone().any(|l| l.contains(" slow  (1 call)"))
        });
        assert!(with_slow.clone().count() > 0, "{}: {err}", py.minor);
        for &i in with_slow {
            assert!(lines[i].ends_with("OVER the threshold of 0.02 s"), "{err}");
            assert!(
                lines[i + 1].contains(" slow  (1 call)"),
                "{}: {err}",
                py.minor
            );
        }
    }
}
