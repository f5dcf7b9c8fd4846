//! The harness of the attach tests (attach_test.rs, attach_waiting_test.rs,
//! attach_kill_test.rs, live and own-trace tests): target programs that print
//! what they do, `hindsight attach` runs, and the reading commands, each
//! waited on under a deadline.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// Where pyenv keeps the interpreters: $PYENV_ROOT, else ~/.pyenv.
fn python_root() -> PathBuf {
    std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into())).join(".pyenv")
        })
}

fn py311() -> &'static str {
    static PATH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PATH.get_or_init(|| {
        python_root()
            .join("versions/3.11.7/bin/python3.11")
            .display()
            .to_string()
    })
}

/// Deadline for any one expected line or process end.
pub const DEADLINE: Duration = Duration::from_secs(120);

pub fn hindsight_bin() -> &'static str {
    env!("CARGO_BIN_EXE_hindsight")
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .join("tests/fixtures/attach")
        .join(name)
}

pub fn python() -> Option<&'static str> {
    if Path::new(py311()).exists() {
        Some(py311())
    } else {
        eprintln!("skipped: {} is not installed", py311());
        None
    }
}

/// Lines of a child's stream, read on a thread.
pub fn lines_of(r: impl Read + Send + 'static) -> Receiver<String> {
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

/// Wait for a line satisfying `pred`; returns it. Panics at the deadline
/// or when the stream ends, with the lines seen.
#[track_caller]
pub fn expect(rx: &Receiver<String>, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let end = Instant::now() + DEADLINE;
    let mut seen = Vec::new();
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) if pred(&l) => return l,
            Ok(l) => seen.push(l),
            Err(e) => panic!("no line {what} ({e:?}); saw: {seen:?}"),
        }
    }
}

/// A target program: a python3.11 child of the test (not of hindsight).
pub struct Target {
    child: Child,
    stdin: Option<ChildStdin>,
    out: Receiver<String>,
}

/// The interpreters `attach` records (3.8-3.13) that are installed.
pub fn attach_pythons() -> Vec<String> {
    installed(&["3.8.18", "3.9.18", "3.10.13", "3.11.7", "3.12.1", "3.13.0"])
}

/// 3.11 (written to) and 3.12, 3.13 (hooked by calls at a safe point):
/// the interpreters most attach tests run on, those installed.
pub fn recent_pythons() -> Vec<String> {
    installed(&["3.11.7", "3.12.1", "3.13.0"])
}

/// The python executables of these versions that are installed.
fn installed(versions: &[&str]) -> Vec<String> {
    let py = python_root();
    let found: Vec<String> = versions
        .iter()
        .map(|v| {
            let minor = &v[..v.rfind('.').unwrap_or(v.len())];
            py.join(format!("versions/{v}/bin/python{minor}"))
                .display()
                .to_string()
        })
        .filter(|p| Path::new(p).exists())
        .collect();
    if found.is_empty() {
        eprintln!("skipped: none of {versions:?} under {}", py.display());
    }
    found
}

impl Target {
    pub fn start(args: &[&str]) -> Target {
        Target::start_with(python().expect("python"), args)
    }

    /// The target run by the interpreter at `py`.
    pub fn start_with(py: &str, args: &[&str]) -> Target {
        let mut child = Command::new(py)
            .arg("-u")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start python");
        let out = lines_of(child.stdout.take().expect("stdout"));
        let stdin = child.stdin.take();
        Target { child, stdin, out }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn send(&mut self, line: &str) {
        let s = self.stdin.as_mut().expect("stdin");
        writeln!(s, "{line}").expect("write to the target");
        s.flush().expect("flush");
    }

    #[track_caller]
    pub fn expect(&self, what: &str) -> String {
        expect(&self.out, what, |l| l.starts_with(what))
    }

    /// Whether the program is still running (not a zombie or gone).
    pub fn alive(&self) -> bool {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        let state = stat
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().next());
        !matches!(state, None | Some("Z" | "X"))
    }

    pub fn tracer_pid(&self) -> i32 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        s.lines()
            .find_map(|l| l.strip_prefix("TracerPid:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(-1)
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running `hindsight attach`, past its "attached" line.
pub struct Attach {
    child: Child,
    err: Receiver<String>,
}

impl Attach {
    #[track_caller]
    pub fn start(pid: i32, out: &Path, extra: &[&str]) -> Attach {
        let mut child = Command::new(hindsight_bin())
            .arg("attach")
            .arg(pid.to_string())
            .arg("-o")
            .arg(out)
            .args(extra)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start hindsight");
        let err = lines_of(child.stderr.take().expect("stderr"));
        expect(&err, "hindsight: attached", |l| {
            assert!(!l.contains("hindsight: ") || l.contains("attached"), "{l}");
            l.starts_with("hindsight: attached")
        });
        Attach { child, err }
    }

    pub fn signal(&self, sig: i32) {
        let r = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(r.success());
    }

    /// The pids of the helper processes hindsight started to end its waits
    /// (`sleep`), from /proc.
    pub fn wakers(&self) -> Vec<i32> {
        let pid = self.child.id();
        let mut out = Vec::new();
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return out;
        };
        for t in tasks.flatten() {
            let kids = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
            for k in kids
                .split_whitespace()
                .filter_map(|k| k.parse::<i32>().ok())
            {
                let cmd = std::fs::read(format!("/proc/{k}/cmdline")).unwrap_or_default();
                if cmd.starts_with(b"sleep\0") {
                    out.push(k);
                }
            }
        }
        out
    }

    /// Wait for hindsight to end, however it ends.
    pub fn wait(mut self) -> std::process::ExitStatus {
        self.child.wait().expect("wait hindsight")
    }

    /// Wait for hindsight to end; its last stderr line.
    #[track_caller]
    pub fn finish(mut self) -> String {
        let last = expect(&self.err, "hindsight's final line", |l| {
            l.starts_with("hindsight: ")
        });
        let status = self.child.wait().expect("wait hindsight");
        assert!(status.success(), "hindsight failed: {status:?}: {last}");
        last
    }
}

pub fn hindsight(args: &[&str]) -> Output {
    Command::new(hindsight_bin())
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run hindsight")
}

/// Every step of a recording as JSON (`hindsight steps --json`).
#[track_caller]
pub fn steps(hsr: &Path) -> Vec<serde_json::Value> {
    let o = hindsight(&["steps", hsr.to_str().unwrap(), "--json"]);
    assert!(
        o.status.success(),
        "steps: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON step"))
        .collect()
}

pub fn info(hsr: &Path) -> String {
    let o = hindsight(&["info", hsr.to_str().unwrap()]);
    assert!(o.status.success(), "info: {o:?}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn functions(steps: &[serde_json::Value]) -> HashSet<String> {
    steps
        .iter()
        .filter_map(|s| s["function"].as_str().map(str::to_string))
        .collect()
}

/// Every line read from the worker (`worker.py`, run by `py`) is one an
/// unattached run of it prints: the lines read are a subsequence of its
/// output, so a plain run up to the last round seen prints them all.
#[track_caller]
pub fn same_as_an_unattached_run(py: &str, worker: &Path, got: &[String]) {
    let last_round: u64 = got
        .last()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|n| n.parse().ok())
        .expect("a checksum line");
    let plain = Command::new(py)
        .arg(worker)
        .arg((last_round / 500).to_string())
        .output()
        .expect("plain run");
    let plain: HashSet<String> = String::from_utf8_lossy(&plain.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    for line in got {
        assert!(
            plain.contains(line),
            "{py}: {line} differs from the unattached run"
        );
    }
}
