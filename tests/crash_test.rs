//! Crash safety and damaged files, with the real recorder.
//!
//! - `hindsight record` SIGKILLed at 20 seeded random moments: every file it
//!   leaves opens, says it is incomplete, and answers every step it holds.
//! - `hindsight info` on a recording while it grows.
//! - A finished real recording, damaged at random (bit flips, runs of random
//!   bytes, truncation): a clear error or correct states, never a panic.
//!
//! Readiness is a READY line printed by the fixture, never a sleep; the
//! random delays only choose *when* to kill, and nothing asserts on timing.
//! Set HINDSIGHT_CRASH_SEED to replay another set of moments.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use store::{Reader, State, Step};

/// How many times the recorder is killed.
const KILLS: usize = 20;

fn hindsight() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hindsight"))
}

/// The repository root (the parent of the `cli` package).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("cli/ has a parent")
        .to_path_buf()
}

/// The pyenv build of CPython 3.11 (`$PYENV_ROOT`, by default `~/.pyenv`).
fn pyenv_python311() -> PathBuf {
    let root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into())).join(".pyenv")
        });
    root.join("versions/3.11.7/bin/python3.11")
}

fn long_fixture() -> PathBuf {
    repo_root()
        .join("tests")
        .join("fixtures")
        .join("long")
        .join("churn.py")
}

/// Python 3.11 (HINDSIGHT_CRASH_PYTHON overrides the pyenv path).
fn python() -> Option<PathBuf> {
    let p = std::env::var_os("HINDSIGHT_CRASH_PYTHON").map_or_else(pyenv_python311, PathBuf::from);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("SKIPPED: no Python 3.11 at {}", p.display());
        None
    }
}

/// xorshift64*, seeded.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn seed() -> u64 {
    std::env::var("HINDSIGHT_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x00c0_ffee_d00d_f00d)
}

/// Start `hindsight record` on the long fixture and wait for its READY line.
fn start_recording(python: &Path, hsr: &Path) -> Child {
    let mut child = Command::new(hindsight())
        .arg("record")
        .arg("-o")
        .arg(hsr)
        .arg("--")
        .arg(python)
        .arg(long_fixture())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("hindsight record starts");
    let stdout = child.stdout.take().expect("stdout piped");
    let mut lines = BufReader::new(stdout).lines();
    loop {
        match lines.next() {
            Some(Ok(l)) if l.trim() == "READY" => break,
            Some(Ok(_)) => continue,
            _ => {
                let _ = child.kill();
                let status = child.wait();
                panic!("the recording ended before the fixture printed READY ({status:?})");
            }
        }
    }
    // Keep draining the target's output so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.by_ref() {});
    child
}

/// Run the CLI; returns (success, stdout, stderr) and fails on a panic.
fn cli(args: &[&str], file: &Path) -> (bool, String, String) {
    let out = Command::new(hindsight())
        .args(&args[..1])
        .arg(file)
        .args(&args[1..])
        .output()
        .expect("hindsight runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stderr.contains("panicked") && out.status.code().is_some(),
        "hindsight {args:?} {} crashed: {stderr}",
        file.display()
    );
    (out.status.success(), stdout, stderr)
}

/// The file a killed recorder left: opens, incomplete, every step answers.
fn check_killed_file(hsr: &Path, round: usize) -> u64 {
    let r = Reader::open(hsr)
        .unwrap_or_else(|e| panic!("round {round}: the killed recording does not open: {e}"));
    assert!(
        !r.is_complete(),
        "round {round}: a killed recording says complete"
    );
    let count = r.step_count();
    let (ok, info, err) = cli(&["info"], hsr);
    assert!(ok, "round {round}: hindsight info failed: {err}");
    assert!(
        info.contains("incomplete"),
        "round {round}: info does not say incomplete:\n{info}"
    );
    if count == 0 {
        return 0;
    }
    let mut n = 0u64;
    r.for_each_state(Step(0), Step(count - 1), |s| {
        assert_eq!(s.meta.as_ref().map(|m| m.step), Some(Step(n)));
        n += 1;
        true
    })
    .unwrap_or_else(|e| panic!("round {round}: step {n} of {count} does not answer: {e}"));
    assert_eq!(n, count, "round {round}: not every step answered");
    // Random access from the checkpoints, and the CLI on the last step.
    let mut rng = Rng(seed() ^ round as u64);
    for _ in 0..20 {
        let k = rng.below(count);
        let s = r
            .state(Step(k))
            .unwrap_or_else(|e| panic!("round {round}: state({k}) of {count}: {e}"));
        assert_eq!(s.meta.map(|m| m.step), Some(Step(k)));
    }
    let last = (count - 1).to_string();
    let (ok, _, err) = cli(&["state", &last], hsr);
    assert!(ok, "round {round}: hindsight state {last} failed: {err}");
    count
}

#[test]
fn sigkill_at_random_moments_leaves_readable_files() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rng = Rng(seed());
    let mut counts = Vec::new();
    for round in 0..KILLS {
        let hsr = dir.path().join(format!("killed-{round}.hsr"));
        let mut child = start_recording(&python, &hsr);
        // The moment: 0 to 2.5 s after READY (about 0 to 2,500 steps today).
        std::thread::sleep(Duration::from_millis(rng.below(2500)));
        child.kill().expect("SIGKILL hindsight");
        let status = child.wait().expect("reap hindsight");
        assert!(
            status.code().is_none(),
            "round {round}: hindsight ended on its own ({status}) before the kill"
        );
        counts.push(check_killed_file(&hsr, round));
        let _ = std::fs::remove_file(&hsr);
    }
    eprintln!("steps readable after each kill: {counts:?}");
}

/// The "steps:" figure of `hindsight info`.
fn info_steps(info: &str) -> Option<u64> {
    info.lines()
        .find_map(|l| l.trim().strip_prefix("steps:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn info_reads_a_recording_while_it_grows() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let hsr = dir.path().join("growing.hsr");
    let mut child = start_recording(&python, &hsr);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen: Vec<u64> = Vec::new();
    while Instant::now() < deadline {
        let (ok, info, err) = cli(&["info"], &hsr);
        assert!(ok, "hindsight info on a growing file failed: {err}");
        assert!(info.contains("incomplete"), "{info}");
        let steps = info_steps(&info).unwrap_or_else(|| panic!("no steps line in:\n{info}"));
        assert!(
            seen.last().is_none_or(|&prev| steps >= prev),
            "steps went down: {seen:?} then {steps}"
        );
        seen.push(steps);
        // Seen growing: a later count above the first non-zero one.
        if seen
            .iter()
            .find(|&&s| s > 0)
            .is_some_and(|&first| steps > first)
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        seen.len() >= 2 && seen.last() > seen.iter().find(|&&s| s > 0),
        "the recording was not seen growing: {seen:?}"
    );
    check_killed_file(&hsr, 0);
}

#[test]
fn damaged_real_recordings_fail_cleanly() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let good = dir.path().join("bubble.hsr");
    let fixture = repo_root().join("tests").join("fixtures").join("bubble.py");
    let out = Command::new(hindsight())
        .arg("record")
        .arg("-o")
        .arg(&good)
        .arg("--")
        .arg(&python)
        .arg(&fixture)
        .stdin(Stdio::null())
        .output()
        .expect("hindsight record runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = Reader::open(&good).expect("the good recording opens");
    assert!(r.is_complete());
    let count = r.step_count();
    let mut states: Vec<State> = Vec::new();
    r.for_each_state(Step(0), Step(count - 1), |s| {
        states.push(s.clone());
        true
    })
    .expect("every state");
    let bytes = std::fs::read(&good).expect("read");
    let bad = dir.path().join("bad.hsr");
    let mut rng = Rng(seed());
    for round in 0..300 {
        let mut b = bytes.clone();
        match round % 4 {
            0 | 1 => {
                let i = rng.below(b.len() as u64) as usize;
                b[i] ^= 1 << rng.below(8);
            }
            2 => {
                let i = rng.below(b.len() as u64) as usize;
                let end = (i + 1 + rng.below(64) as usize).min(b.len());
                for x in &mut b[i..end] {
                    *x = rng.next() as u8;
                }
            }
            _ => {
                b.truncate(rng.below(b.len() as u64) as usize);
                b.extend((0..rng.below(100)).map(|_| rng.next() as u8));
            }
        }
        std::fs::write(&bad, &b).expect("write");
        if round % 25 == 0 {
            // The CLI: a one-line error or an answer, never a panic.
            for args in [&["info"][..], &["dump"][..]] {
                let (ok, _, err) = cli(args, &bad);
                if !ok {
                    assert_eq!(
                        err.trim().lines().count(),
                        1,
                        "round {round}: hindsight {args:?} error is not one line:\n{err}"
                    );
                }
            }
        }
        let Ok(r) = Reader::open(&bad) else { continue };
        assert!(r.step_count() <= count, "round {round}: steps appeared");
        if r.step_count() == 0 {
            continue;
        }
        let mut n = 0usize;
        let _ = r.for_each_state(Step(0), Step(r.step_count() - 1), |s| {
            assert_eq!(s, &states[n], "round {round}: a wrong state at step {n}");
            n += 1;
            true
        });
        for _ in 0..10 {
            let k = rng.below(r.step_count());
            if let Ok(s) = r.state(Step(k)) {
                assert_eq!(s, states[k as usize], "round {round}: wrong state({k})");
            }
        }
    }
}
