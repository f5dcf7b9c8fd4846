//! The flight recorder (`--ring N`, issue 18), on every supported
//! interpreter present:
//!
//! - a program that dies of an exception nothing catches about 100,000
//!   steps in, recorded with `--ring 10`: the file keeps the last steps (at
//!   least 10, from a full state), the raise is its last step but the
//!   frame's unwinding, and every state it holds equals the state of the
//!   same step in a recording of every step of the same run (compare.py);
//!   a step before the ring is an error naming the steps held;
//! - SIGUSR1 to `hindsight record --ring` writes the file while the
//!   program runs on: readable then, replaced at the end;
//! - an exception nothing catches in the main thread, while another thread
//!   keeps the program alive: the file holds the raise before it ends;
//! - `hindsight attach --ring` (3.8-3.11), with SIGUSR1 and detach;
//! - two million steps with `--ring 50` leave a file of a few KiB.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use common::{compare, report, run_all, run_with_timeout, Interpreter, HINDSIGHT_TIMEOUT};
use serde_json::Value;

/// Deadline of any one wait on a running process.
const DEADLINE: Duration = Duration::from_secs(180);

fn hindsight() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hindsight"))
}

fn program(name: &str) -> PathBuf {
    common::repo_root().join("tests/ring").join(name)
}

/// `hindsight ARGS`, run to its end under the deadline.
fn run(args: &[&std::ffi::OsStr]) -> Result<std::process::Output, String> {
    let mut cmd = Command::new(hindsight());
    cmd.args(args).env_remove("RUST_LOG");
    run_with_timeout(cmd, HINDSIGHT_TIMEOUT)
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

/// `hindsight record [EXTRA] -o HSR -- PYTHON ARGS`, without address-space
/// randomisation and with a fixed hash seed, so two runs are alike.
fn record(
    py: &Path,
    hsr: &Path,
    extra: &[&str],
    args: &[&Path],
) -> Result<std::process::Output, String> {
    let mut cmd = if Path::new("/usr/bin/setarch").exists() {
        let mut c = Command::new("setarch");
        c.arg("-R").arg(hindsight());
        c
    } else {
        Command::new(hindsight())
    };
    cmd.arg("record")
        .args(extra)
        .arg("-o")
        .arg(hsr)
        .arg("--")
        .arg(py)
        .args(args)
        .env("PYTHONHASHSEED", "0")
        .env_remove("RUST_LOG");
    run_with_timeout(cmd, HINDSIGHT_TIMEOUT)
}

/// The steps a file holds, from `hindsight steps --json`.
fn steps(hsr: &Path) -> Result<Vec<Value>, String> {
    let o = run(&[os("steps"), hsr.as_os_str(), os("--json")])?;
    if !o.status.success() {
        return Err(format!(
            "steps failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect())
}

fn info(hsr: &Path) -> String {
    let o = run(&[os("info"), hsr.as_os_str()]).expect("info");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `hindsight dump HSR [--from A --to B]` written to `out`.
fn dump(hsr: &Path, range: Option<(u64, u64)>, out: &Path) -> Result<(), String> {
    let mut args = vec![os("dump"), hsr.as_os_str()];
    let (a, b);
    if let Some((from, to)) = range {
        (a, b) = (from.to_string(), to.to_string());
        args.extend([os("--from"), os(&a), os("--to"), os(&b)]);
    }
    let o = run(&args)?;
    if !o.status.success() {
        return Err(format!(
            "dump failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    std::fs::write(out, &o.stdout).map_err(|e| e.to_string())
}

fn step_no(v: &Value) -> u64 {
    v["step"].as_u64().expect("a step number")
}

/// The must-show of issue 18 on one interpreter.
fn ring_of_a_death(py: &Interpreter, dir: &Path) -> Result<(), String> {
    let tag = py.minor.replace('.', "");
    let (ring, full) = (
        dir.join(format!("ring{tag}.hsr")),
        dir.join(format!("full{tag}.hsr")),
    );
    let dies = program("dies.py");
    let r = record(&py.path, &ring, &["--ring", "10"], &[&dies])?;
    let f = record(&py.path, &full, &[], &[&dies])?;
    for (what, o) in [("ring", &r), ("full", &f)] {
        if common::status_code(o) != 1 {
            return Err(format!(
                "{what}: record exited {:?}, the program exits 1: {}",
                o.status,
                String::from_utf8_lossy(&o.stderr)
            ));
        }
    }
    let kept = steps(&ring)?;
    let all = steps(&full)?;
    let total = all.len() as u64;
    if total < 100_000 {
        return Err(format!(
            "the full run took {total} steps, fewer than 100,000"
        ));
    }
    let (first, last) = (step_no(&kept[0]), step_no(&kept[kept.len() - 1]));
    // At least 10, from a full state written every 500 steps at most.
    if last + 1 != total || kept.len() < 10 || kept.len() >= 10 + 500 || first == 0 {
        return Err(format!(
            "the ring holds steps {first} to {last} ({} steps) of {total}",
            kept.len()
        ));
    }
    let numbers: Vec<u64> = kept.iter().map(step_no).collect();
    if numbers != (first..=last).collect::<Vec<_>>() {
        return Err("the ring's steps are not numbered as in the run".into());
    }
    // The raise, then the interpreter's report of the frame it ended.
    let (raise, end) = (&kept[kept.len() - 2], &kept[kept.len() - 1]);
    let source = std::fs::read_to_string(&dies).map_err(|e| e.to_string())?;
    let raise_line = 1 + source
        .lines()
        .position(|l| l.starts_with("raise "))
        .ok_or("dies.py has no raise")?;
    if raise["event"] != "exception"
        || raise["function"] != "<module>"
        || raise["line"] != raise_line
        || end["event"] != "return"
        || end["function"] != "<module>"
    {
        return Err(format!("the ring ends with {raise} and {end}"));
    }
    let state = run(&[
        os("state"),
        ring.as_os_str(),
        os(&(last - 1).to_string()),
        os("--json"),
    ])?;
    let state: Value = serde_json::from_slice(&state.stdout).map_err(|e| e.to_string())?;
    let exc = state["exception"]["repr"].as_str().unwrap_or_default();
    if !exc.contains("gave up after 16700 rounds") {
        return Err(format!(
            "the state at the raise shows the exception as {exc:?}"
        ));
    }
    // Every state held is the full recording's state at the same step.
    let (a, b) = (
        dir.join(format!("ring{tag}.jsonl")),
        dir.join(format!("full{tag}.jsonl")),
    );
    dump(&ring, None, &a)?;
    dump(&full, Some((first, last)), &b)?;
    compare(&a, &b).map_err(|report| format!("ring vs full recording:\n{report}"))?;
    // The steps let go are refused, naming those held.
    let before = run(&[os("state"), ring.as_os_str(), os(&(first - 1).to_string())])?;
    let msg = String::from_utf8_lossy(&before.stderr);
    if before.status.success() || !msg.contains(&format!("holds steps {first} to {last}")) {
        return Err(format!("state {} of the ring: {msg}", first - 1));
    }
    let i = info(&ring);
    if !i.contains("flight recording (--ring 10)")
        || !i.contains(&format!("steps {first} to {last} of the {total}"))
    {
        return Err(format!("info says:\n{i}"));
    }
    Ok(())
}

#[test]
fn a_ring_keeps_the_last_steps_of_a_program_that_dies() {
    let pythons = common::supported_interpreters();
    let dir = tempfile::tempdir().unwrap();
    let failures = run_all(&pythons, |py| ring_of_a_death(py, dir.path()));
    report("ring of a program that dies", pythons.len(), &failures);
}

/// Lines of a child's stream, read on a thread.
fn lines_of(r: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

#[track_caller]
fn expect(rx: &Receiver<String>, what: &str) -> String {
    let end = Instant::now() + DEADLINE;
    let mut seen = Vec::new();
    loop {
        match rx.recv_timeout(end.saturating_duration_since(Instant::now())) {
            Ok(l) if l.contains(what) => return l,
            Ok(l) => seen.push(l),
            Err(e) => panic!("no line with {what:?} ({e:?}); saw {seen:?}"),
        }
    }
}

/// Send SIGUSR1 to `hindsight` until the flight recording at `hsr` holds
/// a step after `after` (a snapshot written since); its steps. A snapshot
/// holds the steps taken when it was asked for, maybe none yet: the signal
/// is sent again until one holds a newer step.
#[track_caller]
fn snapshot(hindsight: &Child, hsr: &Path, after: Option<u64>) -> Vec<Value> {
    let end = Instant::now() + DEADLINE;
    loop {
        signal(hindsight, "-USR1");
        let again = Instant::now() + Duration::from_secs(1);
        while Instant::now() < again {
            if info(hsr).contains(" held, steps ") {
                let s = steps(hsr).expect("the snapshot's steps");
                if s.last().map(step_no) > after {
                    return s;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(
            Instant::now() < end,
            "no snapshot in {}: {}",
            hsr.display(),
            info(hsr)
        );
    }
}

/// Snapshots until one holds `n` steps or more (the first may come before
/// the program took them).
#[track_caller]
fn full_snapshot(hindsight: &Child, hsr: &Path, n: usize) -> Vec<Value> {
    let mut s = snapshot(hindsight, hsr, None);
    while s.len() < n {
        s = snapshot(hindsight, hsr, s.last().map(step_no));
    }
    s
}

/// A child process killed when the test ends, however it ends.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(
        ok.success(),
        "kill {sig} {} failed: hindsight ended",
        child.id()
    );
}

/// Steps numbered one by one, at least `n` of them, and the last one's
/// state readable.
#[track_caller]
fn check_ring(hsr: &Path, s: &[Value], n: usize) {
    assert!(s.len() >= n, "{} steps: {s:?}", s.len());
    let first = step_no(&s[0]);
    for (i, v) in s.iter().enumerate() {
        assert_eq!(step_no(v), first + i as u64);
    }
    let last = step_no(&s[s.len() - 1]).to_string();
    let o = run(&[os("state"), hsr.as_os_str(), os(&last)]).unwrap();
    assert!(o.status.success(), "{o:?}");
}

#[test]
fn sigusr1_writes_the_ring_while_recording_goes_on() {
    for py in common::supported_interpreters() {
        let dir = tempfile::tempdir().unwrap();
        let (hsr, stop) = (dir.path().join("spin.hsr"), dir.path().join("stop"));
        let mut child = Guard(
            Command::new(hindsight())
                .args(["record", "--ring", "50", "-o"])
                .arg(&hsr)
                .arg("--")
                .arg(&py.path)
                .arg(program("spin.py"))
                .arg(&stop)
                .env_remove("RUST_LOG")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap(),
        );
        let out = lines_of(child.0.stdout.take().unwrap());
        expect(&out, "READY");
        let snap = full_snapshot(&child.0, &hsr, 50);
        check_ring(&hsr, &snap, 50);
        let i = info(&hsr);
        assert!(
            i.contains("still running") && i.contains("SIGUSR1"),
            "{py:?}: {i}"
        );
        std::fs::write(&stop, "").unwrap();
        expect(&out, "stopped after");
        let status = child.0.wait().unwrap();
        assert!(status.success(), "{py:?}: {status:?}");
        // The end replaced the snapshot: later steps, the program's end.
        let fin = steps(&hsr).unwrap();
        check_ring(&hsr, &fin, 50);
        assert!(step_no(&fin[fin.len() - 1]) > step_no(&snap[snap.len() - 1]));
        assert!(info(&hsr).contains("exited with status 0"), "{py:?}");
    }
}

#[test]
fn an_exception_nothing_catches_writes_the_file_before_the_program_ends() {
    for py in common::supported_interpreters() {
        let dir = tempfile::tempdir().unwrap();
        let (hsr, stop) = (dir.path().join("linger.hsr"), dir.path().join("stop"));
        let mut child = Guard(
            Command::new(hindsight())
                .args(["record", "--ring", "100", "-o"])
                .arg(&hsr)
                .arg("--")
                .arg(&py.path)
                .arg(program("linger.py"))
                .arg(&stop)
                .env_remove("RUST_LOG")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let err = lines_of(child.0.stderr.take().unwrap());
        expect(&err, "ValueError: the main thread gives up");
        // The other thread keeps the program alive: no SIGUSR1, yet the
        // file comes to hold the raise.
        let end = Instant::now() + DEADLINE;
        let raise = loop {
            if info(&hsr).contains(" held, steps ") {
                let s = steps(&hsr).unwrap();
                let found = s.iter().find(|v| {
                    v["event"] == "exception" && v["function"] == "<module>" && v["line"] == 19
                });
                if let Some(v) = found {
                    break step_no(v);
                }
            }
            assert!(Instant::now() < end, "{py:?}: no raise in {}", info(&hsr));
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(info(&hsr).contains("still running"), "{py:?}");
        std::fs::write(&stop, "").unwrap();
        assert_eq!(child.0.wait().unwrap().code(), Some(1), "{py:?}");
        let fin = steps(&hsr).unwrap();
        check_ring(&hsr, &fin, 100);
        assert!(step_no(&fin[fin.len() - 1]) > raise, "{py:?}");
        assert!(info(&hsr).contains("exited with status 1"), "{py:?}");
    }
}

/// `attach --ring 50` to a waiting program, which then works for about
/// 100,000 steps and dies of an exception nothing catches: on every
/// interpreter, the file holds the last steps, the raise among them, and
/// says how the program ended.
#[test]
fn attach_with_a_ring_to_a_program_that_dies() {
    for py in common::supported_interpreters() {
        let dir = tempfile::tempdir().unwrap();
        let hsr = dir.path().join("dies.hsr");
        let script = program("dies_on_go.py");
        let mut target = Guard(
            Command::new(&py.path)
                .arg(&script)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let out = lines_of(target.0.stdout.take().unwrap());
        expect(&out, "READY");
        let mut a = Guard(
            Command::new(hindsight())
                .args(["attach", "--ring", "50", "-o"])
                .arg(&hsr)
                .arg(target.0.id().to_string())
                .env_remove("RUST_LOG")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let err = lines_of(a.0.stderr.take().unwrap());
        expect(&err, "hindsight: attached");
        let mut stdin = target.0.stdin.take().unwrap();
        std::io::Write::write_all(&mut stdin, b"go\n").unwrap();
        drop(stdin);
        expect(&err, "exited with status 1");
        assert!(a.0.wait().unwrap().success(), "{py:?}");
        assert_eq!(target.0.wait().unwrap().code(), Some(1), "{py:?}");
        let fin = steps(&hsr).unwrap();
        check_ring(&hsr, &fin, 50);
        let source = std::fs::read_to_string(&script).unwrap();
        let raise_line = 1 + source
            .lines()
            .position(|l| l.starts_with("raise "))
            .unwrap();
        let raise = fin
            .iter()
            .rposition(|v| v["event"] == "exception")
            .unwrap_or_else(|| panic!("{py:?}: no exception step in the ring"));
        assert_eq!(fin[raise]["line"], raise_line, "{py:?}: {}", fin[raise]);
        assert_eq!(fin[raise]["function"], "<module>", "{py:?}");
        assert!(fin.len() - raise <= 2, "{py:?}: steps after the raise");
        assert!(step_no(&fin[0]) > 90_000, "{py:?}: {}", fin[0]);
        let i = info(&hsr);
        assert!(i.contains("exited with status 1"), "{py:?}: {i}");
    }
}

#[test]
fn attach_with_a_ring() {
    for py in common::supported_interpreters() {
        let dir = tempfile::tempdir().unwrap();
        let (hsr, stop) = (dir.path().join("attach.hsr"), dir.path().join("stop"));
        let mut target = Guard(
            Command::new(&py.path)
                .arg(program("spin.py"))
                .arg(&stop)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let out = lines_of(target.0.stdout.take().unwrap());
        expect(&out, "READY");
        let mut a = Guard(
            Command::new(hindsight())
                .args(["attach", "--ring", "30", "-o"])
                .arg(&hsr)
                .arg(target.0.id().to_string())
                .env_remove("RUST_LOG")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
        let err = lines_of(a.0.stderr.take().unwrap());
        expect(&err, "hindsight: attached");
        let snap = full_snapshot(&a.0, &hsr, 30);
        check_ring(&hsr, &snap, 30);
        signal(&a.0, "-TERM");
        expect(&err, "detached");
        expect(&err, "flight recording");
        assert!(a.0.wait().unwrap().success());
        let fin = steps(&hsr).unwrap();
        check_ring(&hsr, &fin, 30);
        assert!(step_no(&fin[fin.len() - 1]) >= step_no(&snap[snap.len() - 1]));
        let i = info(&hsr);
        assert!(
            i.contains("attach (pid") && i.contains("--ring 30") && i.contains("detached"),
            "{i}"
        );
        // The target runs on, untraced, to its own end.
        std::fs::write(&stop, "").unwrap();
        expect(&out, "stopped after");
        assert!(target.0.wait().unwrap().success());
    }
}

#[test]
fn two_million_steps_leave_a_small_file() {
    let Some(py) = common::interpreter("3.11").or_else(|| common::supported_interpreters().pop())
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let hsr = dir.path().join("long.hsr");
    let o = record(
        &py.path,
        &hsr,
        &["--ring", "50"],
        &[&program("loop.py"), Path::new("1000000")],
    )
    .unwrap();
    assert_eq!(common::status_code(&o), 1, "{o:?}");
    let s = steps(&hsr).unwrap();
    let last = step_no(&s[s.len() - 1]);
    assert!(last >= 2_000_000, "{last}");
    check_ring(&hsr, &s, 50);
    assert!(s.len() < 50 + 500, "{} steps kept", s.len());
    let size = std::fs::metadata(&hsr).unwrap().len();
    assert!(size < 64 * 1024, "{size} bytes for {} steps", s.len());
}
