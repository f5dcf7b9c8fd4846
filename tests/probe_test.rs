//! The probe (tracer/src/probe.rs): the code hindsight places in the
//! target to refresh each stop's reads in shared memory. Recordings made
//! with it equal recordings made without it (HINDSIGHT_NO_PROBE=1, every
//! read through process_vm_readv), and a probe that faults on memory the
//! program unmapped since the plan was made is recovered without the
//! program noticing. Both builds of the probe (AVX2 where the CPU has it,
//! and the baseline one). On every supported interpreter present.

mod common;

use std::path::PathBuf;
use std::process::Command;

/// Fixtures whose steps change objects in place, inside C calls too, and
/// reuse addresses: what the shadow must follow exactly.
const SAME_FIXTURES: &[&str] = &[
    "held.py",
    "c_mutations.py",
    "address_reuse.py",
    "unmapped.py",
    "quiet_lines.py",
    "delta_lines.py",
    "rebound.py",
];

/// The fixture whose quiet lines the probe takes without a trap.
const QUIET: &str = "quiet_lines.py";

/// The fixture whose lines change locals and list items (ints, floats,
/// bools, None) that the probe takes without a trap, from its log.
const DELTA: &str = "delta_lines.py";

/// Steps the probe logged with changed words, from the log's "probe log: N
/// steps ..." line.
fn delta_count(stderr: &str) -> Option<u64> {
    let line = stderr.lines().find(|l| l.contains("probe log: "))?;
    line.split("probe log: ")
        .nth(1)?
        .split(' ')
        .next()?
        .parse()
        .ok()
}

/// How a recording uses the probe.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    /// The build for this CPU.
    Best,
    /// The baseline x86-64 build (HINDSIGHT_PROBE_BASELINE).
    Baseline,
    /// No probe (HINDSIGHT_NO_PROBE).
    Off,
    /// The probe, every step with a trap (HINDSIGHT_NO_TRAPLESS).
    Trapped,
    /// The probe without its file filter: every event of code that is not
    /// recorded traps (HINDSIGHT_NO_PROBE_FILTER).
    Unfiltered,
    /// The probe, without a trap only for steps that change nothing but the
    /// line: none decoded from its log (HINDSIGHT_NO_DELTA).
    NoDelta,
    /// The logged steps decoded while the program runs, by the tracer on
    /// another CPU (HINDSIGHT_LIVE_DRAIN).
    Live,
}

fn record(py: &common::Interpreter, file: &str, hsr: &std::path::Path, mode: Mode) -> String {
    record_with(py, file, hsr, mode, &[])
}

fn record_with(
    py: &common::Interpreter,
    file: &str,
    hsr: &std::path::Path,
    mode: Mode,
    args: &[&str],
) -> String {
    let script = common::repo_root().join("tests/fixtures").join(file);
    record_script(py, &script, hsr, mode, args)
}

fn record_path(
    py: &common::Interpreter,
    script: &std::path::Path,
    hsr: &std::path::Path,
    mode: Mode,
) -> String {
    record_script(py, script, hsr, mode, &[])
}

fn record_script(
    py: &common::Interpreter,
    script: &std::path::Path,
    hsr: &std::path::Path,
    mode: Mode,
    args: &[&str],
) -> String {
    let file = script.display();
    let hindsight = PathBuf::from(env!("CARGO_BIN_EXE_hindsight"));
    let mut cmd = Command::new(&hindsight);
    cmd.arg("record")
        .args(args)
        .arg("-o")
        .arg(hsr)
        .arg("--")
        .arg(&py.path)
        .arg(script)
        .env("RUST_LOG", "tracer::probe=info")
        .env("PYTHONHASHSEED", "0")
        .env_remove("HINDSIGHT_NO_PROBE")
        .env_remove("HINDSIGHT_NO_TRAPLESS")
        .env_remove("HINDSIGHT_NO_PROBE_FILTER")
        .env_remove("HINDSIGHT_NO_DELTA")
        .env_remove("HINDSIGHT_PROBE_BASELINE")
        .env_remove("HINDSIGHT_LIVE_DRAIN");
    match mode {
        Mode::Best => {}
        Mode::Trapped => {
            cmd.env("HINDSIGHT_NO_TRAPLESS", "1");
        }
        Mode::Baseline => {
            cmd.env("HINDSIGHT_PROBE_BASELINE", "1");
        }
        Mode::Off => {
            cmd.env("HINDSIGHT_NO_PROBE", "1");
        }
        Mode::Unfiltered => {
            cmd.env("HINDSIGHT_NO_PROBE_FILTER", "1");
        }
        Mode::NoDelta => {
            cmd.env("HINDSIGHT_NO_DELTA", "1");
        }
        Mode::Live => {
            cmd.env("HINDSIGHT_LIVE_DRAIN", "1");
        }
    }
    let out = common::run_with_timeout(cmd, common::HINDSIGHT_TIMEOUT).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{file} on {}: record failed ({}): {stderr}",
        py.minor,
        out.status
    );
    stderr
}

/// "probe: N calls, M faults recovered" from the log, as (N, M).
/// The interpreters to run on (none present: the test is skipped), the
/// hindsight binary, and a scratch directory.
fn setup() -> Option<(Vec<common::Interpreter>, PathBuf, tempfile::TempDir)> {
    let pythons = common::supported_interpreters();
    let hindsight = PathBuf::from(env!("CARGO_BIN_EXE_hindsight"));
    (!pythons.is_empty()).then(|| (pythons, hindsight, tempfile::tempdir().unwrap()))
}

/// The probe's counts the recording logged: (calls, steps taken without
/// a trap, faults recovered).
fn probe_counts(stderr: &str) -> Option<(u64, u64, u64)> {
    let line = stderr.lines().find(|l| l.contains("faults recovered"))?;
    let nums: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    let n = nums.len();
    (n >= 3).then(|| (nums[n - 3], nums[n - 2], nums[n - 1]))
}

/// Events of unrecorded files the probe answered without a trap, from
/// the log's "probe filter: N events ..." line.
fn filtered_count(stderr: &str) -> Option<u64> {
    let line = stderr.lines().find(|l| l.contains("probe filter: "))?;
    line.split("probe filter: ")
        .nth(1)?
        .split(' ')
        .next()?
        .parse()
        .ok()
}

/// The fixture whose steps call the standard library's Python code
/// (`random.shuffle`): what the probe's file filter answers.
const CALLS_STDLIB: &str = "c_mutations.py";

#[test]
fn recordings_with_and_without_the_probe_are_equal() {
    let Some((pythons, hindsight, dir)) = setup() else {
        return;
    };
    let mut failures = Vec::new();
    for py in &pythons {
        for &file in SAME_FIXTURES {
            let name = format!("{file} on {}", py.minor);
            let mut dumps = Vec::new();
            let modes = [
                Mode::Off,
                Mode::Best,
                Mode::Baseline,
                Mode::Unfiltered,
                Mode::NoDelta,
                Mode::Live,
            ];
            for mode in modes {
                let hsr = dir.path().join(format!("{file}-{}-{mode:?}.hsr", py.minor));
                let stderr = record(py, file, &hsr, mode);
                let counts = probe_counts(&stderr);
                if mode != Mode::Off {
                    // The probe ran at every trap (none of this is a silent fallback).
                    assert!(
                        counts.is_some_and(|(calls, _, _)| calls > 0),
                        "{name}: the probe was not used: {stderr}"
                    );
                    // Its quiet lines went without a trap (what is compared).
                    assert!(
                        file != QUIET || counts.is_some_and(|(_, trapless, _)| trapless > 0),
                        "{name}: no step without a trap: {stderr}"
                    );
                    // Lines that change locals and items went without a
                    // trap too, decoded from the probe's log, but with that
                    // turned off.
                    let deltas = delta_count(&stderr).unwrap_or(0);
                    if mode == Mode::NoDelta {
                        assert_eq!(deltas, 0, "{name}: {stderr}");
                    } else if file == DELTA {
                        assert!(deltas > 0, "{name}, {mode:?}: none from the log: {stderr}");
                    }
                } else {
                    assert!(counts.is_none(), "{name}: the probe was used: {stderr}");
                }
                // Calls into the standard library went without a trap,
                // except with the filter off.
                let filtered = filtered_count(&stderr).unwrap_or(0);
                match mode {
                    Mode::Unfiltered | Mode::Off => {
                        assert_eq!(filtered, 0, "{name}, {mode:?}: {stderr}")
                    }
                    _ if file == CALLS_STDLIB => {
                        assert!(filtered > 0, "{name}, {mode:?}: nothing filtered: {stderr}")
                    }
                    _ => {}
                }
                let jsonl = hsr.with_extension("jsonl");
                common::run_dump(&hindsight, &hsr, &jsonl).unwrap();
                dumps.push(jsonl);
            }
            for (mode, dump) in modes.iter().zip(&dumps).skip(1) {
                if let Err(e) = common::compare(&dumps[0], dump) {
                    failures.push((format!("{name}, {mode:?} build"), e));
                }
            }
        }
    }
    common::report(
        "probe vs plain reads",
        pythons.len() * SAME_FIXTURES.len(),
        &failures,
    );
}

#[test]
fn a_probe_fault_on_unmapped_memory_is_recovered() {
    let Some((pythons, _, dir)) = setup() else {
        return;
    };
    for py in &pythons {
        let hsr = dir.path().join(format!("unmapped-{}.hsr", py.minor));
        let stderr = record(py, "unmapped.py", &hsr, Mode::Best);
        let (calls, _, faults) = probe_counts(&stderr)
            .unwrap_or_else(|| panic!("on {}: no probe counts in: {stderr}", py.minor));
        // The freed lists' item arrays were in the plan when they went
        // back to the system: the probe met them unmapped.
        assert!(
            calls > 0 && faults > 0,
            "on {}: {calls} calls, {faults} faults: {stderr}",
            py.minor
        );
    }
}

/// `record` arguments: at most `max` steps, then the program runs on.
fn bounded(max: &str) -> [&str; 4] {
    ["--max-steps", max, "--at-bound", "detach"]
}

/// Steps taken without a trap count toward `--max-steps` like the others:
/// the recording holds exactly the bound's steps, the same as when every
/// step traps.
#[test]
fn a_step_bound_counts_steps_taken_without_a_trap() {
    let Some((pythons, hindsight, dir)) = setup() else {
        return;
    };
    let mut failures = Vec::new();
    for py in &pythons {
        // Bounds that fall next to quiet lines (one in two of these does).
        for bound in 56..=63 {
            let hsr = dir.path().join(format!("bound-{}-{bound}.hsr", py.minor));
            let max = bound.to_string();
            let stderr = record_with(py, QUIET, &hsr, Mode::Best, &bounded(&max));
            assert!(
                stderr.contains(&format!("recorded {bound} steps")),
                "on {} to {bound} steps: {stderr}",
                py.minor
            );
        }
        let mut dumps = Vec::new();
        for mode in [Mode::Best, Mode::Trapped] {
            let hsr = dir.path().join(format!("bound-{}-{mode:?}.hsr", py.minor));
            let stderr = record_with(py, QUIET, &hsr, mode, &bounded("57"));
            let trapless = probe_counts(&stderr).map(|(_, t, _)| t);
            match mode {
                Mode::Best => assert!(trapless > Some(0), "on {}: {stderr}", py.minor),
                _ => assert_eq!(trapless, Some(0), "on {}: {stderr}", py.minor),
            }
            let jsonl = hsr.with_extension("jsonl");
            common::run_dump(&hindsight, &hsr, &jsonl).unwrap();
            dumps.push(jsonl);
        }
        if let Err(e) = common::compare(&dumps[1], &dumps[0]) {
            failures.push((format!("{QUIET} on {} to 57 steps", py.minor), e));
        }
    }
    common::report(
        "steps without a trap under a bound",
        pythons.len(),
        &failures,
    );
}

/// `record --max-steps N --at-bound detach`: the probe's trap is disarmed
/// and the hook removed before hindsight lets go, and the program runs on
/// to its end unharmed (its last act writes a file).
#[test]
fn a_program_detached_at_a_bound_runs_on() {
    let Some((pythons, hindsight, dir)) = setup() else {
        return;
    };
    let script = dir.path().join("long.py");
    std::fs::write(
        &script,
        "import sys\n\
         def work(n):\n    t = []\n    for i in range(n):\n        t.append(i * i)\n    return sum(t)\n\
         total = sum(work(200) for _ in range(50))\n\
         open(sys.argv[1], 'w').write(str(total))\n",
    )
    .unwrap();
    for py in &pythons {
        let done = dir.path().join(format!("done-{}", py.minor));
        let hsr = dir.path().join(format!("detach-{}.hsr", py.minor));
        let mut cmd = Command::new(&hindsight);
        cmd.args(["record", "--max-steps", "500", "--at-bound", "detach", "-o"])
            .arg(&hsr)
            .arg("--")
            .arg(&py.path)
            .arg(&script)
            .arg(&done)
            .env("RUST_LOG", "tracer::probe=info")
            .env_remove("HINDSIGHT_NO_PROBE");
        let out = common::run_with_timeout(cmd, common::HINDSIGHT_TIMEOUT).unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "on {}: {}: {stderr}",
            py.minor,
            out.status
        );
        assert!(
            probe_counts(&stderr).is_some(),
            "on {}: no probe: {stderr}",
            py.minor
        );
        // The program goes on by itself after hindsight has gone.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !done.exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        let text = std::fs::read_to_string(&done)
            .unwrap_or_else(|e| panic!("on {}: the program did not finish: {e}", py.minor));
        assert_eq!(text, "132335000", "on {}", py.minor);
    }
}

/// Two threads switching the interpreter between them every few
/// instructions, mid-line, while each runs lines that change nothing: every
/// thread's own steps (event, line, locals) are those of a recording where
/// every step traps, and some steps went without a trap.
#[test]
fn threads_switching_between_quiet_lines_keep_their_steps() {
    let Some((pythons, hindsight, dir)) = setup() else {
        return;
    };
    let script = dir.path().join("switching.py");
    std::fs::write(
        &script,
        "import sys, threading\n\
         sys.setswitchinterval(1e-6)\n\
         def work(name, n):\n    total = 0\n    for k in range(n):\n        if k < 0:\n            pass\n        total += k\n        k == total\n    return total\n\
         ts = [threading.Thread(target=work, args=(nm, 200)) for nm in ('a', 'b')]\n\
         for t in ts:\n    t.start()\n\
         for t in ts:\n    t.join()\n",
    )
    .unwrap();
    for py in &pythons {
        let mut per_name = Vec::new();
        for mode in [Mode::Best, Mode::Trapped] {
            let hsr = dir
                .path()
                .join(format!("switching-{}-{mode:?}.hsr", py.minor));
            let stderr = record_path(py, &script, &hsr, mode);
            let trapless = probe_counts(&stderr).map(|(_, t, _)| t);
            if mode == Mode::Best {
                assert!(trapless > Some(0), "on {}: {stderr}", py.minor);
            }
            let jsonl = hsr.with_extension("jsonl");
            common::run_dump(&hindsight, &hsr, &jsonl).unwrap();
            per_name.push(steps_of_work(&std::fs::read_to_string(&jsonl).unwrap()));
        }
        assert_eq!(per_name[0].len(), 2, "on {}: both threads", py.minor);
        assert_eq!(per_name[0], per_name[1], "on {}", py.minor);
    }
}

/// The steps of `work` in a dump, per thread, keyed by its `name` local:
/// (event, line, each local's name and repr).
fn steps_of_work(dump: &str) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut by_thread: std::collections::BTreeMap<i64, Vec<serde_json::Value>> = Default::default();
    for line in dump.lines() {
        let step: serde_json::Value = serde_json::from_str(line).unwrap();
        if step["function"] == "work" {
            let tid = step["thread"].as_i64().unwrap();
            by_thread.entry(tid).or_default().push(step);
        }
    }
    by_thread
        .into_values()
        .map(|steps| {
            let name = steps[0]["locals"]["name"]["repr"].to_string();
            let seq = steps
                .iter()
                .map(|s| {
                    let locals: Vec<String> = s["locals"]
                        .as_object()
                        .unwrap()
                        .iter()
                        .map(|(k, v)| format!("{k}={}", v["repr"]))
                        .collect();
                    format!("{} {} {}", s["event"], s["line"], locals.join(","))
                })
                .collect();
            (name, seq)
        })
        .collect()
}

/// A loop longer than the probe's log holds between two traps: the log
/// fills, the step that finds it full traps, and no step is lost (the
/// recording equals one without steps from the log, to the last step,
/// logged just before the program exits).
#[test]
fn a_full_log_traps_and_no_step_is_lost() {
    let Some((pythons, hindsight, dir)) = setup() else {
        return;
    };
    let mut failures = Vec::new();
    for py in &pythons {
        let mut dumps = Vec::new();
        let mut counts = Vec::new();
        for mode in [Mode::Best, Mode::NoDelta, Mode::Live] {
            let hsr = dir.path().join(format!("long-{}-{mode:?}.hsr", py.minor));
            let stderr = record(py, "long_loop.py", &hsr, mode);
            counts.push((delta_count(&stderr), probe_counts(&stderr)));
            let jsonl = hsr.with_extension("jsonl");
            common::run_dump(&hindsight, &hsr, &jsonl).unwrap();
            dumps.push(jsonl);
        }
        // 3,000 turns of three line steps, nearly all from the log: more
        // than twice what it holds between two traps, so it filled.
        let deltas = counts[0].0.unwrap_or(0);
        assert!(
            deltas > 2 * probe::LOG_MAX,
            "on {}: {deltas} steps from the log: {counts:?}",
            py.minor
        );
        if let Err(e) = common::compare(&dumps[1], &dumps[0]) {
            failures.push((format!("long_loop.py on {}", py.minor), e));
        }
        // Decoded while the program ran, the log filling as well.
        assert!(
            counts[2].0.unwrap_or(0) > 2 * probe::LOG_MAX,
            "on {}, live: {counts:?}",
            py.minor
        );
        if let Err(e) = common::compare(&dumps[1], &dumps[2]) {
            failures.push((format!("long_loop.py on {}, live", py.minor), e));
        }
    }
    common::report("a log that fills", pythons.len(), &failures);
}

/// The probe's log holds at most this many steps between two traps
/// (tracer/probe/layout.rs `LOG_MAX`).
mod probe {
    pub const LOG_MAX: u64 = 4096;
}
