//! Shared helpers of the integration tests: interpreters, fixtures, the oracle and hindsight runs.
//!
//! Everything runs real processes; a child that hangs is killed after a
//! deadline (a watchdog, never a sleep waiting for readiness).
#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

/// Minor versions hindsight records today; extend when a version module lands.
pub const SUPPORTED: &[&str] = &["3.8", "3.9", "3.10", "3.11", "3.12", "3.13"];

/// Every interpreter the tests look for, as pyenv installs them.
pub const KNOWN_VERSIONS: &[&str] = &["3.8.18", "3.9.18", "3.10.13", "3.11.7", "3.12.1", "3.13.0"];

/// Where pyenv keeps the interpreters: `$PYENV_ROOT/versions`, by default
/// `~/.pyenv/versions` (what scripts/setup looks for).
pub fn pyenv_versions() -> PathBuf {
    let root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into())).join(".pyenv")
        });
    root.join("versions")
}

/// The pyenv build of CPython `version` (e.g. "3.11.7").
pub fn pyenv_python(version: &str) -> PathBuf {
    let minor: String = version.split('.').take(2).collect::<Vec<_>>().join(".");
    pyenv_versions()
        .join(version)
        .join("bin")
        .join(format!("python{minor}"))
}

/// Fixtures that end with an uncaught exception, and their exit status.
pub const EXPECTED_STATUS: &[(&str, i32)] = &[("uncaught.py", 1)];

/// Parallel workers: the test machines have 2 cores.
pub const JOBS: usize = 2;

/// Deadline of one oracle or plain Python run.
pub const PYTHON_TIMEOUT: Duration = Duration::from_secs(120);

/// Deadline of one `hindsight record` or `dump` run.
pub const HINDSIGHT_TIMEOUT: Duration = Duration::from_secs(300);

/// One interpreter found on this machine.
#[derive(Debug, Clone)]
pub struct Interpreter {
    /// "3.11"
    pub minor: String,
    /// Absolute path of the executable.
    pub path: PathBuf,
}

impl Interpreter {
    /// Whether hindsight is expected to record this interpreter today.
    pub fn supported(&self) -> bool {
        SUPPORTED.contains(&self.minor.as_str())
    }
}

/// The repository root (the parent of the `cli` package).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("cli/ has a parent")
        .to_path_buf()
}

/// tests/oracle: sitecustomize.py, compare.py, selfcheck.py.
pub fn oracle_dir() -> PathBuf {
    repo_root().join("tests").join("oracle")
}

/// The fixture programs: every `*.py` directly in tests/fixtures, sorted.
pub fn fixtures() -> Vec<PathBuf> {
    let dir = repo_root().join("tests").join("fixtures");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "py") && p.is_file())
        .collect();
    out.sort();
    out
}

/// The exit status a fixture ends with when run plainly.
pub fn expected_status(fixture: &Path) -> i32 {
    let name = fixture.file_name().and_then(|n| n.to_str()).unwrap_or("");
    EXPECTED_STATUS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(0, |(_, s)| *s)
}

/// The "3.X" of an interpreter, asked from the interpreter itself.
fn minor_of(path: &Path) -> Option<String> {
    let out = Command::new(path)
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The interpreter executables to test: HINDSIGHT_TEST_PYTHONS (paths separated
/// by ':' or ',') or the pyenv versions of KNOWN_VERSIONS.
pub fn candidate_paths() -> Vec<PathBuf> {
    if let Ok(list) = std::env::var("HINDSIGHT_TEST_PYTHONS") {
        return list
            .split([':', ','])
            .filter(|s| !s.trim().is_empty())
            .map(|s| PathBuf::from(s.trim()))
            .collect();
    }
    KNOWN_VERSIONS.iter().map(|v| pyenv_python(v)).collect()
}

/// The interpreters present, saying loudly on stderr which ones are not.
pub fn interpreters() -> Vec<Interpreter> {
    let mut found = Vec::new();
    for path in candidate_paths() {
        match minor_of(&path) {
            Some(minor) => found.push(Interpreter { minor, path }),
            None => eprintln!("SKIPPED: interpreter {} not present", path.display()),
        }
    }
    found
}

/// The supported interpreters present, saying so on stderr when there is
/// none (the caller's test then has nothing to check).
pub fn supported_interpreters() -> Vec<Interpreter> {
    let found: Vec<_> = interpreters()
        .into_iter()
        .filter(|p| p.supported())
        .collect();
    if found.is_empty() {
        eprintln!("SKIPPED: no supported interpreter present");
    }
    found
}

/// The interpreter of minor version `minor` ("3.11"), if present.
pub fn interpreter(minor: &str) -> Option<Interpreter> {
    candidate_paths()
        .into_iter()
        .find_map(|path| match minor_of(&path) {
            Some(m) if m == minor => Some(Interpreter { minor: m, path }),
            _ => None,
        })
}

/// An interpreter to run the Python tooling (compare.py, selfcheck.py) with.
pub fn tool_python() -> PathBuf {
    interpreter("3.11")
        .or_else(|| interpreters().into_iter().next())
        .map_or_else(|| PathBuf::from("python3"), |i| i.path)
}

/// Run `cmd` to completion with its output captured, killing it after `limit`.
pub fn run_with_timeout(mut cmd: Command, limit: Duration) -> Result<Output, String> {
    let what = format!("{cmd:?}");
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {what}: {e}"))?;
    let pid = child.id();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if done_rx.recv_timeout(limit) == Err(mpsc::RecvTimeoutError::Timeout) {
            // The child is still ours (not yet reaped), so the pid is not reused.
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            return true;
        }
        false
    });
    let out = child.wait_with_output();
    let _ = done_tx.send(());
    let killed = watchdog.join().unwrap_or(false);
    let out = out.map_err(|e| format!("waiting for {what}: {e}"))?;
    if killed {
        return Err(format!(
            "{what} did not finish within {limit:?} and was killed"
        ));
    }
    Ok(out)
}

/// The environment every compared run shares.
pub fn base_env(cmd: &mut Command) {
    cmd.env("PYTHONHASHSEED", "0")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("PYTHONPATH")
        .env_remove("HINDSIGHT_ORACLE_OUT")
        .env_remove("HINDSIGHT_ORACLE_ALL")
        .env_remove("HINDSIGHT_ORACLE_GRANULARITY")
        .env_remove("PYTHONSTARTUP");
}

/// Run `fixture` under the oracle, writing its steps to `out`.
pub fn run_oracle(python: &Path, fixture: &Path, out: &Path) -> Result<Output, String> {
    run_oracle_in(python, fixture, out, &Mode::default())
}

/// How a fixture is run under the oracle and recorded, beside the plain
/// way: the oracle's environment, `record`'s arguments and environment.
#[derive(Debug, Default, Clone, Copy)]
pub struct Mode {
    pub oracle_env: &'static [(&'static str, &'static str)],
    pub record_args: &'static [&'static str],
    pub record_env: &'static [(&'static str, &'static str)],
}

/// [`run_oracle`] in `mode`.
fn run_oracle_in(python: &Path, fixture: &Path, out: &Path, mode: &Mode) -> Result<Output, String> {
    let mut cmd = Command::new(python);
    cmd.arg(fixture);
    base_env(&mut cmd);
    cmd.env("PYTHONPATH", oracle_dir())
        .env("HINDSIGHT_ORACLE_OUT", out)
        .envs(mode.oracle_env.iter().copied());
    run_with_timeout(cmd, PYTHON_TIMEOUT)
}

/// `hindsight record -o HSR -- PYTHON FIXTURE`.
pub fn run_record(
    hindsight: &Path,
    python: &Path,
    fixture: &Path,
    hsr: &Path,
) -> Result<Output, String> {
    run_record_in(hindsight, python, fixture, hsr, &Mode::default())
}

/// [`run_record`] in `mode`.
pub fn run_record_in(
    hindsight: &Path,
    python: &Path,
    fixture: &Path,
    hsr: &Path,
    mode: &Mode,
) -> Result<Output, String> {
    let mut cmd = Command::new(hindsight);
    cmd.arg("record")
        .arg("-o")
        .arg(hsr)
        .args(mode.record_args)
        .arg("--")
        .arg(python)
        .arg(fixture);
    base_env(&mut cmd);
    cmd.envs(mode.record_env.iter().copied());
    run_with_timeout(cmd, HINDSIGHT_TIMEOUT)
}

/// `hindsight dump HSR`, its stdout written to `jsonl`.
pub fn run_dump(hindsight: &Path, hsr: &Path, jsonl: &Path) -> Result<(), String> {
    let mut cmd = Command::new(hindsight);
    cmd.arg("dump").arg(hsr);
    let out = run_with_timeout(cmd, HINDSIGHT_TIMEOUT)?;
    if !out.status.success() {
        return Err(format!(
            "hindsight dump {} failed ({}): {}",
            hsr.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    std::fs::write(jsonl, &out.stdout).map_err(|e| format!("cannot write {}: {e}", jsonl.display()))
}

/// compare.py A B: Ok(summary) when equal, Err(report) at the first difference.
pub fn compare(a: &Path, b: &Path) -> Result<String, String> {
    let mut cmd = Command::new(tool_python());
    cmd.arg(oracle_dir().join("compare.py")).arg(a).arg(b);
    let out = run_with_timeout(cmd, PYTHON_TIMEOUT)?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text.trim().to_string())
    } else {
        Err(text)
    }
}

/// The exit status as `record` reports it: the code, or 128+N for signal N.
pub fn status_code(out: &Output) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    out.status
        .code()
        .unwrap_or_else(|| 128 + out.status.signal().unwrap_or(0))
}

/// Run `check` on every item with JOBS threads; return every failure as (item, reason).
pub fn run_all<T, F>(items: &[T], check: F) -> Vec<(String, String)>
where
    T: Sync + std::fmt::Debug,
    F: Fn(&T) -> Result<(), String> + Sync,
{
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..JOBS {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(item) = items.get(i) else { break };
                let result = check(item);
                eprintln!("{} {item:?}", if result.is_ok() { "ok  " } else { "FAIL" });
                if let Err(reason) = result {
                    failures
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((format!("{item:?}"), reason));
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap_or_else(|p| p.into_inner());
    failures.sort();
    failures
}

/// Print every failure, then panic with a summary when there is any.
pub fn report(what: &str, total: usize, failures: &[(String, String)]) {
    for (item, reason) in failures {
        eprintln!("\n=== {what}: {item}\n{reason}");
    }
    assert!(
        failures.is_empty(),
        "{what}: {} of {total} failed: {}",
        failures.len(),
        failures
            .iter()
            .map(|(i, _)| i.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
}

/// Record `fixture` with hindsight and run it under the oracle: same exit
/// status, same stdout, and every step equal (compare.py).
pub fn check_program(
    hindsight: &Path,
    python: &Interpreter,
    fixture: &Path,
    dir: &Path,
    expected: i32,
) -> Result<(), String> {
    check_program_in(hindsight, python, fixture, dir, expected, &Mode::default())
}

/// [`check_program`] in `mode`.
pub fn check_program_in(
    hindsight: &Path,
    python: &Interpreter,
    fixture: &Path,
    dir: &Path,
    expected: i32,
    mode: &Mode,
) -> Result<(), String> {
    let stem = fixture
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or("fixture without a name")?;
    let oracle_out = dir.join(format!("{stem}.oracle.jsonl"));
    let hsr = dir.join(format!("{stem}.hsr"));
    let dumped = dir.join(format!("{stem}.hindsight.jsonl"));

    let oracle = run_oracle_in(&python.path, fixture, &oracle_out, mode)?;
    let oracle_status = status_code(&oracle);
    if oracle_status != expected {
        return Err(format!(
            "the oracle run exited {oracle_status}, expected {expected}; stderr:\n{}",
            String::from_utf8_lossy(&oracle.stderr)
        ));
    }

    let record = run_record_in(hindsight, &python.path, fixture, &hsr, mode)?;
    let record_status = status_code(&record);
    if record_status != oracle_status {
        return Err(format!(
            "hindsight record exited {record_status}, the program exits {oracle_status}; stderr:\n{}",
            String::from_utf8_lossy(&record.stderr)
        ));
    }
    if record.stdout != oracle.stdout {
        return Err(format!(
            "the program's stdout differs under hindsight record\n  oracle run: {:?}\n  record run: {:?}",
            String::from_utf8_lossy(&oracle.stdout),
            String::from_utf8_lossy(&record.stdout)
        ));
    }

    run_dump(hindsight, &hsr, &dumped)?;
    compare(&oracle_out, &dumped).map(|_| ()).map_err(|report| {
        format!(
            "oracle ({}) vs hindsight ({}):\n{report}",
            oracle_out.display(),
            dumped.display()
        )
    })
}
