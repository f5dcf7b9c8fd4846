//! `hindsight exec` and `hindsight reload` against a running worker that
//! prints (tests/fixtures/attach/live_worker.py), on every interpreter
//! `attach` takes: a local of the running loop changed (the output goes on
//! from the new value), an expression's value, code that prints, code that
//! raises (the traceback shown, status 1, the worker running on), `--at`,
//! `--thread`, a fault inside the code, the wait interrupted by SIGTERM
//! or SIGKILL; a function's code replaced
//! from its edited source (the next calls' results change), and a closure
//! whose new code needs other free variables refused. After each: the
//! worker is no longer traced and goes on printing.

use std::path::Path;
use std::process::{Command, Output, Stdio};

#[path = "attach/harness.rs"]
#[allow(dead_code)]
mod harness;
use harness::*;

/// The line `n += step` of live_worker.py.
const STEP_LINE: u32 = 31;

#[test]
fn exec_and_reload_change_a_running_worker() {
    for py in attach_pythons() {
        exec_and_reload_on(&py);
    }
}

#[test]
fn exec_in_one_thread_of_several_and_reload_a_method() {
    for py in attach_pythons() {
        threads_on(&py);
    }
}

/// A line `NAME TID K` of live_threads.py.
fn thread_round(line: &str) -> (String, String, i64) {
    let f: Vec<&str> = line.split(' ').collect();
    assert_eq!(f.len(), 3, "{line}");
    (f[0].into(), f[1].into(), f[2].parse().expect("a number"))
}

/// The next line of thread `name`, skipping the other's.
#[track_caller]
fn next_of(target: &Target, name: &str) -> (String, i64) {
    loop {
        let (n, tid, k) = thread_round(&target.expect(""));
        if n == name {
            return (tid, k);
        }
    }
}

fn threads_on(py: &str) {
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("threads.py");
    std::fs::copy(fixture("live_threads.py"), &program).unwrap();
    let target = Target::start_with(py, &[program.to_str().unwrap()]);
    target.expect("READY");
    let pid = target.pid().to_string();
    let (a, _) = next_of(&target, "a");
    let (b, _) = next_of(&target, "b");
    assert_ne!(a, b, "{py}");

    // Thread a's local changed at its line; b's count goes on as it was.
    let o = run(&[
        "exec",
        &pid,
        "k = 100000",
        "--thread",
        &a,
        "--at",
        "threads.py:23",
    ]);
    assert!(o.status.success(), "{py}: {o:?}");
    assert!(
        text(&o.stderr).contains(&format!("in thread {a} at ")),
        "{py}: {o:?}"
    );
    loop {
        let (_, k) = next_of(&target, "a");
        if k > 100000 {
            break;
        }
    }
    assert_eq!(target.tracer_pid(), 0, "{py}: still traced");
    let (_, k) = next_of(&target, "b");
    assert!(k < 100000, "{py}: b's count {k}");

    // A method reloaded: both threads' next calls run its new code.
    edit(&program, "return k + 1", "return k + 1000");
    let o = run(&["reload", &pid, "__main__:Job.run"]);
    assert!(o.status.success(), "{py}: {o:?}");
    for name in ["a", "b"] {
        let mut prev = next_of(&target, name).1;
        loop {
            let k = next_of(&target, name).1;
            match k - prev {
                1 => prev = k,
                1000 => break,
                d => panic!("{py}: {name} went from {prev} to {k} (+{d})"),
            }
        }
    }
    assert_eq!(target.tracer_pid(), 0, "{py}: still traced");
}

/// One round of the worker's output: (n, compute(n), adder(n)).
fn round(line: &str) -> (i64, i64, i64) {
    let f: Vec<i64> = line
        .split(' ')
        .skip(1)
        .map(|v| v.parse().expect("a number"))
        .collect();
    assert_eq!(f.len(), 3, "{line}");
    (f[0], f[1], f[2])
}

/// Run hindsight to its end; it is killed, and the test fails, if it runs
/// past the harness's deadline (a line that never comes).
#[track_caller]
fn run(args: &[&str]) -> Output {
    let child = Command::new(hindsight_bin())
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run hindsight");
    let id = child.id().to_string();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if rx.recv_timeout(DEADLINE).is_err() {
            let _ = Command::new("kill").args(["-KILL", &id]).status();
        }
    });
    let out = child.wait_with_output().expect("wait hindsight");
    let _ = tx.send(());
    let _ = watchdog.join();
    assert!(
        out.status.code().is_some(),
        "hindsight {args:?} ran past the deadline: {out:?}"
    );
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The worker is no longer traced and prints on; its next round.
#[track_caller]
fn unharmed(py: &str, target: &Target) -> (i64, i64, i64) {
    assert_eq!(target.tracer_pid(), 0, "{py}: still traced");
    assert!(target.alive(), "{py}: the worker is gone");
    // Two rounds: one may have been printed before hindsight was done.
    target.expect("n ");
    round(&target.expect("n "))
}

fn exec_and_reload_on(py: &str) {
    let dir = tempfile::tempdir().unwrap();
    let worker = dir.path().join("worker.py");
    std::fs::copy(fixture("live_worker.py"), &worker).unwrap();
    let target = Target::start_with(py, &[worker.to_str().unwrap()]);
    target.expect("READY");
    let pid = target.pid().to_string();
    let at = format!("worker.py:{STEP_LINE}");

    // A local of the running loop, changed at the line that uses it.
    let o = run(&["exec", &pid, "step = 1000", "--at", &at]);
    assert!(o.status.success(), "{py}: {o:?}");
    let err = text(&o.stderr);
    assert!(
        err.contains(&format!("worker.py:{STEP_LINE} (main)")),
        "{py}: {err}"
    );
    let mut prev = round(&target.expect("n ")).0;
    loop {
        let n = round(&target.expect("n ")).0;
        match n - prev {
            1 => prev = n,
            1000 => break,
            d => panic!("{py}: n went from {prev} to {n} (+{d})"),
        }
    }
    let next = unharmed(py, &target).0;
    assert_eq!((next - prev) % 1000, 0, "{py}: {prev} then {next}");

    // An expression: its value, as repr shows it.
    let o = run(&["exec", &pid, "(step, 'step', n > 0)", "--at", &at]);
    assert!(o.status.success(), "{py}: {o:?}");
    assert_eq!(text(&o.stdout), "(1000, 'step', True)\n", "{py}");
    unharmed(py, &target);

    // Code that prints: hindsight shows it, the program's output does not.
    let o = run(&["exec", &pid, "print('hello from', __name__)\nx = 1"]);
    assert!(o.status.success(), "{py}: {o:?}");
    assert_eq!(text(&o.stdout), "hello from __main__\n", "{py}");
    unharmed(py, &target);

    // Code that raises: the traceback, status 1, the worker unharmed;
    // SystemExit does not end the program either.
    let o = run(&["exec", &pid, "undefined_name + 1", "--at", &at]);
    assert_eq!(o.status.code(), Some(1), "{py}: {o:?}");
    let err = text(&o.stderr);
    assert!(
        err.contains("NameError") && err.contains("undefined_name"),
        "{py}: {err}"
    );
    assert!(err.contains("the code raised"), "{py}: {err}");
    unharmed(py, &target);
    let o = run(&["exec", &pid, "raise SystemExit(3)"]);
    assert_eq!(o.status.code(), Some(1), "{py}: {o:?}");
    assert!(text(&o.stderr).contains("SystemExit"), "{py}: {o:?}");
    let (n, twice, added) = unharmed(py, &target);
    assert_eq!((twice, added), (2 * n, n + 5), "{py}");

    // A fault inside the code (a C function reading address 0): the call
    // is abandoned, the signal kept from the program, its frames and
    // sys.stdout put back; it runs and prints on, and takes more code.
    let o = run(&[
        "exec",
        &pid,
        "import ctypes; ctypes.string_at(0)",
        "--at",
        &at,
    ]);
    assert_eq!(o.status.code(), Some(2), "{py}: {o:?}");
    assert!(text(&o.stderr).contains("fault (signal 11)"), "{py}: {o:?}");
    unharmed(py, &target);
    let o = run(&["exec", &pid, "print(step)", "--at", &at]);
    assert_eq!(text(&o.stdout), "1000\n", "{py}: {o:?}");
    unharmed(py, &target);

    // --thread: the main thread (its id is the process id); a thread the
    // process does not have is an error, before anything is changed.
    let o = run(&["exec", &pid, "step", "--thread", &pid, "--at", &at]);
    assert!(o.status.success(), "{py}: {o:?}");
    assert_eq!(text(&o.stdout), "1000\n", "{py}");
    let o = run(&["exec", &pid, "step", "--thread", "1"]);
    assert_eq!(o.status.code(), Some(2), "{py}: {o:?}");
    assert!(text(&o.stderr).contains("has no thread 1"), "{py}: {o:?}");
    unharmed(py, &target);

    // Interrupted, or killed, while waiting for a line that never runs:
    // nothing ran, the worker runs on.
    interrupted_wait(py, &target, &pid, libc::SIGTERM);
    interrupted_wait(py, &target, &pid, libc::SIGKILL);

    // reload: the edited function's next calls run its new code.
    edit(&worker, "return i * 2", "return i * 3");
    let o = run(&["reload", &pid, "__main__:compute"]);
    assert!(o.status.success(), "{py}: {o:?}");
    assert!(text(&o.stdout).contains("compute"), "{py}: {o:?}");
    loop {
        let (n, twice, _) = round(&target.expect("n "));
        if twice == 3 * n {
            break;
        }
        assert_eq!(twice, 2 * n, "{py}");
    }
    let (n, thrice, _) = unharmed(py, &target);
    assert_eq!(thrice, 3 * n, "{py}");

    // A closure whose new code needs another free variable: refused, the
    // running code unchanged.
    edit(
        &worker,
        "        return x + k\n",
        "        return x + k + m\n",
    );
    edit(
        &worker,
        "def make_adder(k):\n",
        "def make_adder(k):\n    m = 1\n",
    );
    let o = run(&["reload", &pid, "__main__:adder"]);
    assert_eq!(o.status.code(), Some(1), "{py}: {o:?}");
    let err = text(&o.stderr);
    assert!(err.contains("cannot reload __main__:adder"), "{py}: {err}");
    assert!(err.contains("other free variables (k, m)"), "{py}: {err}");
    let (n, _, added) = unharmed(py, &target);
    assert_eq!(added, n + 5, "{py}");
}

/// `sig` to `exec` waiting for a line that never runs: SIGTERM ends it
/// with status 2 and a message saying nothing ran; either way the worker
/// runs on unharmed.
fn interrupted_wait(py: &str, target: &Target, pid: &str, sig: i32) {
    let mut child = Command::new(hindsight_bin())
        .args(["exec", pid, "step = 0", "--at", "worker.py:1"])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hindsight");
    let err = lines_of(child.stderr.take().expect("stderr"));
    expect(&err, "hindsight: attached", |l| {
        l.starts_with("hindsight: attached")
    });
    // Traced all the while: every line of the worker traps.
    let (n, ..) = round(&target.expect("n "));
    let (m, ..) = round(&target.expect("n "));
    assert_eq!(m - n, 1000, "{py}");
    let r = Command::new("kill")
        .args([format!("-{sig}"), child.id().to_string()])
        .status()
        .expect("kill");
    assert!(r.success());
    if sig == libc::SIGKILL {
        let status = child.wait().expect("wait hindsight");
        assert_eq!(status.code(), None, "{py}");
    } else {
        let last = expect(&err, "hindsight's error", |l| l.starts_with("hindsight: "));
        assert!(
            last.contains("interrupted") && last.contains("nothing ran"),
            "{py}: {last}"
        );
        let status = child.wait().expect("wait hindsight");
        assert_eq!(status.code(), Some(2), "{py}: {last}");
    }
    let (n, ..) = unharmed(py, target);
    let (m, ..) = round(&target.expect("n "));
    assert_eq!(m - n, 1000, "{py}: step is still 1000");
}

/// Replace `from` by `to` in the file (it must be there).
#[track_caller]
fn edit(path: &Path, from: &str, to: &str) {
    let s = std::fs::read_to_string(path).unwrap();
    assert!(s.contains(from), "{from:?} not in {}", path.display());
    std::fs::write(path, s.replacen(from, to, 1)).unwrap();
}
