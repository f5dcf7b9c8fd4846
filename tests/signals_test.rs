//! SIGTERM and SIGINT to `hindsight record` are the program's: passed on to
//! it (once, even when they were sent to the whole process group, as
//! `timeout` does), recorded while its handler runs, and the recording is
//! complete. A program killed by a signal kills `hindsight record` by the
//! same signal once the recording is complete. A bound reached with `--at-bound stop` ends the program with
//! SIGTERM: its handlers and `finally` blocks run and are recorded; one that
//! ignores SIGTERM is killed 2 s later. As a new user types it, on every
//! supported interpreter present.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// Handles SIGTERM by printing and exiting; busy (and recorded) till then.
const HANDLES_TERM: &str = "\
import signal, sys, time

def on_term(signum, frame):
    print('handled', signum, flush=True)
    sys.exit(0)

signal.signal(signal.SIGTERM, on_term)
print('ready', flush=True)
while True:
    time.sleep(0.01)
";

/// Turns SIGTERM into SystemExit, so the `finally` block runs (it calls a
/// function: its steps are recorded on every version, where a line event
/// at the start of a `finally` reached by an exception is not, on 3.9).
const FINALLY: &str = "\
import signal, sys

def cleanup():
    print('finally ran', flush=True)

signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(3))
try:
    i = 0
    while True:
        i += 1
finally:
    cleanup()
";

/// Ignores SIGTERM.
const IGNORES_TERM: &str = "\
import signal

signal.signal(signal.SIGTERM, signal.SIG_IGN)
i = 0
while True:
    i += 1
";

fn hindsight() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hindsight"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `hindsight steps HSR` and `hindsight info HSR`.
fn read(hsr: &Path) -> (String, String) {
    let out = |cmd: &str| {
        let o = Command::new(hindsight())
            .arg(cmd)
            .arg(hsr)
            .output()
            .unwrap();
        text(&o.stdout)
    };
    (out("steps"), out("info"))
}

/// The recording is complete, ended by the program's exit with `status`,
/// and holds the steps of the SIGTERM handler `on_term`.
#[track_caller]
fn check_handler_recorded(name: &str, hsr: &Path, status: i32) {
    let (steps, info) = read(hsr);
    assert!(
        info.contains(&format!("the program exited with status {status}"))
            && !info.contains("incomplete"),
        "{name}: {info}"
    );
    assert!(
        steps.lines().any(|l| l.ends_with(":4 on_term")),
        "{name}: the handler's steps are not recorded: {steps}"
    );
}

#[test]
fn timeout_sends_sigterm_to_the_program_once() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("term.py");
    std::fs::write(&app, HANDLES_TERM).unwrap();
    for py in &common::supported_interpreters() {
        let name = format!("{} under timeout", py.minor);
        let hsr = dir.path().join(format!("timeout-{}.hsr", py.minor));
        // timeout signals hindsight and its whole process group, the
        // program included: the program must get it once.
        let mut cmd = Command::new("timeout");
        cmd.args(["-s", "TERM", "4"])
            .arg(hindsight())
            .args(["record", "-o"])
            .arg(&hsr)
            .arg("--")
            .arg(&py.path)
            .arg(&app)
            .env_remove("RUST_LOG");
        let o = common::run_with_timeout(cmd, common::HINDSIGHT_TIMEOUT).unwrap();
        assert_eq!(o.status.code(), Some(124), "{name}: {}", text(&o.stderr));
        assert_eq!(
            text(&o.stdout),
            "ready\nhandled 15\n",
            "{name}: {}",
            text(&o.stderr)
        );
        check_handler_recorded(&name, &hsr, 0);
    }
}

/// `hindsight record -o HSR -- COMMAND...`; once the program printed its
/// first line, SIGTERM to hindsight's process only, as `kill PID` or a
/// supervisor sends it. The exit status and what the program printed
/// after; hindsight is killed if it does not end in time.
fn sigterm_hindsight_alone(hsr: &Path, command: &[&std::ffi::OsStr]) -> (ExitStatus, String) {
    signal_hindsight_alone(hsr, command, &["-TERM"])
}

/// As [`sigterm_hindsight_alone`], sending hindsight `signals` in turn.
fn signal_hindsight_alone(
    hsr: &Path,
    command: &[&std::ffi::OsStr],
    signals: &[&str],
) -> (ExitStatus, String) {
    let mut child = Command::new(hindsight())
        .args(["record", "-o"])
        .arg(hsr)
        .arg("--")
        .args(command)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let (done, watched) = std::sync::mpsc::channel::<()>();
    let watchdog = {
        let pid = pid.clone();
        std::thread::spawn(move || {
            if watched.recv_timeout(common::HINDSIGHT_TIMEOUT).is_err() {
                let _ = Command::new("kill").args(["-KILL", &pid]).status();
            }
        })
    };
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    for sig in signals {
        let st = Command::new("kill")
            .args([*sig, pid.as_str()])
            .status()
            .unwrap();
        assert!(st.success());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let status = child.wait().unwrap();
    let _ = done.send(());
    watchdog.join().unwrap();
    (status, rest)
}

#[test]
fn sigterm_to_hindsight_alone_is_passed_on() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("term.py");
    std::fs::write(&app, HANDLES_TERM).unwrap();
    for py in &common::supported_interpreters() {
        let name = format!("{} kill -TERM hindsight", py.minor);
        let hsr = dir.path().join(format!("kill-{}.hsr", py.minor));
        let (status, rest) = sigterm_hindsight_alone(&hsr, &[py.path.as_os_str(), app.as_os_str()]);
        assert_eq!(status.code(), Some(0), "{name}");
        assert_eq!(rest, "handled 15\n", "{name}");
        check_handler_recorded(&name, &hsr, 0);
    }
}

/// SIGUSR1 (a flight recording's "write now") to a `record` that is not a
/// ring changes nothing: hindsight and the program go on, and the SIGTERM
/// after it is passed on as usual.
#[test]
fn sigusr1_without_a_ring_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("term.py");
    std::fs::write(&app, HANDLES_TERM).unwrap();
    let Some(py) = common::supported_interpreters().into_iter().last() else {
        return;
    };
    let hsr = dir.path().join("usr1.hsr");
    let command = [py.path.as_os_str(), app.as_os_str()];
    let (status, rest) = signal_hindsight_alone(&hsr, &command, &["-USR1", "-TERM"]);
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_eq!(rest, "handled 15\n");
    check_handler_recorded("kill -USR1, then -TERM", &hsr, 0);
}

/// Through a shell that runs python as a child, the signal reaches both:
/// python's handler runs (recorded), and the shell ends of it too, as both
/// would of a signal to the process group.
#[test]
fn sigterm_to_hindsight_reaches_a_wrapper_and_its_python() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("term.py");
    std::fs::write(&app, HANDLES_TERM).unwrap();
    let Some(py) = common::supported_interpreters().into_iter().last() else {
        return;
    };
    let hsr = dir.path().join("wrapped.hsr");
    let script = format!("{} {}; echo after", py.path.display(), app.display());
    let sh = ["/bin/sh", "-c", &script].map(std::ffi::OsStr::new);
    let (status, rest) = sigterm_hindsight_alone(&hsr, &sh);
    // The shell ended of SIGTERM, and so does hindsight.
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");
    assert_eq!(rest, "handled 15\n");
    check_handler_recorded("through sh", &hsr, 0);
}

/// `record --max-steps N [--at-bound stop] -- PYTHON APP`.
fn record_bounded(dir: &Path, py: &common::Interpreter, app: &str, tag: &str) -> (Output, PathBuf) {
    let path = dir.join(format!("{tag}-{}.py", py.minor));
    std::fs::write(&path, app).unwrap();
    let hsr = dir.join(format!("{tag}-{}.hsr", py.minor));
    let mut cmd = Command::new(hindsight());
    cmd.args(["record", "--max-steps", "300", "--at-bound", "stop", "-o"])
        .arg(&hsr)
        .arg("--")
        .arg(&py.path)
        .arg(&path)
        .env_remove("RUST_LOG");
    let o = common::run_with_timeout(cmd, common::HINDSIGHT_TIMEOUT).unwrap();
    (o, hsr)
}

#[test]
fn at_bound_stop_lets_finally_run_and_records_it() {
    let dir = tempfile::tempdir().unwrap();
    for py in &common::supported_interpreters() {
        let name = format!("{} --at-bound stop", py.minor);
        let (o, hsr) = record_bounded(dir.path(), py, FINALLY, "finally");
        let stderr = text(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{name}: {stderr}");
        assert_eq!(text(&o.stdout), "finally ran\n", "{name}: {stderr}");
        assert!(
            stderr.contains("--max-steps 300 reached"),
            "{name}: {stderr}"
        );
        let (steps, info) = read(&hsr);
        assert!(
            info.contains("the program exited with status 3")
                && info.contains("--max-steps 300 reached")
                && !info.contains("incomplete"),
            "{name}: {info}"
        );
        // The finally block, after the bound, to the program's end.
        let after: Vec<&str> = steps
            .lines()
            .skip_while(|l| !l.ends_with(":3 cleanup"))
            .collect();
        assert!(
            after.first().is_some_and(|l| l.contains(" call "))
                && after
                    .iter()
                    .any(|l| l.contains(" line ") && l.ends_with(":4 cleanup"))
                && after
                    .last()
                    .is_some_and(|l| l.contains(" return ") && l.ends_with(" <module>")),
            "{name}: the finally block is not recorded to the end: {after:?}"
        );
    }
}

#[test]
fn at_bound_stop_kills_a_program_that_ignores_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let Some(py) = common::supported_interpreters().into_iter().next() else {
        return;
    };
    let started = Instant::now();
    let (o, hsr) = record_bounded(dir.path(), &py, IGNORES_TERM, "ignores");
    let took = started.elapsed();
    assert_eq!(
        o.status.signal(),
        Some(libc::SIGKILL),
        "{}",
        text(&o.stderr)
    );
    assert!(took >= Duration::from_secs(2), "killed after {took:?}");
    let (_, info) = read(&hsr);
    assert!(
        info.contains("did not end within 2 s of SIGTERM") && !info.contains("incomplete"),
        "{info}"
    );
}

/// Programs that end by a signal: SIGSEGV (through ctypes), SIGABRT
/// (`os.abort`) and SIGKILL (sent to itself).
const KILLED_BY: &[(&str, i32)] = &[
    (
        "import ctypes\nprint('before', flush=True)\nctypes.string_at(0)\n",
        libc::SIGSEGV,
    ),
    (
        "import os\nprint('before', flush=True)\nos.abort()\n",
        libc::SIGABRT,
    ),
    (
        "import os, signal\nprint('before', flush=True)\nos.kill(os.getpid(), signal.SIGKILL)\n",
        libc::SIGKILL,
    ),
];

#[test]
fn a_program_killed_by_a_signal_kills_record_by_the_same_signal() {
    let dir = tempfile::tempdir().unwrap();
    for py in &common::supported_interpreters() {
        for (i, (app, sig)) in KILLED_BY.iter().enumerate() {
            let name = format!("{} signal {sig}", py.minor);
            let path = dir.path().join(format!("killed{i}-{}.py", py.minor));
            std::fs::write(&path, app).unwrap();
            let hsr = dir.path().join(format!("killed{i}-{}.hsr", py.minor));
            let mut cmd = Command::new(hindsight());
            cmd.args(["record", "-o"])
                .arg(&hsr)
                .arg("--")
                .arg(&py.path)
                .arg(&path)
                .env_remove("RUST_LOG");
            let o = common::run_with_timeout(cmd, common::HINDSIGHT_TIMEOUT).unwrap();
            let stderr = text(&o.stderr);
            assert_eq!(
                o.status.signal(),
                Some(*sig),
                "{name}: {:?} {stderr}",
                o.status
            );
            assert!(
                !o.status.core_dumped(),
                "{name}: hindsight left a core of its own"
            );
            assert_eq!(text(&o.stdout), "before\n", "{name}: {stderr}");
            let (steps, info) = read(&hsr);
            assert!(
                info.contains(&format!("the program was ended by signal {sig}"))
                    && !info.contains("incomplete"),
                "{name}: {info}"
            );
            assert!(steps.lines().count() >= 2, "{name}: {steps}");
        }
    }
}
