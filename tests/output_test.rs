//! The recording file `record -o` writes, with the real recorder:
//!
//! - it is created 0600 (the program's variables, secrets included, are in
//!   it), or with `--mode`;
//! - a file that is not a recording is refused, untouched, before the
//!   program runs, unless `--force`; a symbolic link at the path is never
//!   followed (`--force` replaces the link, never its target);
//! - it exists with its header before the program runs any Python code, so
//!   `hindsight record` SIGKILLed at any moment, its start included, leaves
//!   a file `hindsight info` opens (a sitecustomize.py that runs at the
//!   interpreter's start marks when Python began).
//!
//! - a recording that can no longer be written stops, the program running
//!   on (`full_disk`);
//! - it keeps the text of the source files, which queries show, never
//!   reading the program's files again (`sources`).
//!
//! Set HINDSIGHT_KILL_SEED to replay another set of kill moments.

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;
#[path = "output/full_disk.rs"]
mod full_disk;
#[path = "output/sources.rs"]
mod sources;

/// How many times the recorder is killed early.
const KILLS: usize = 20;

fn hindsight() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hindsight"))
}

/// The pyenv build of CPython 3.11 (`$PYENV_ROOT`, by default `~/.pyenv`).
fn python() -> Option<PathBuf> {
    let root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into())).join(".pyenv")
        });
    let p = root.join("versions/3.11.7/bin/python3.11");
    if p.exists() {
        Some(p)
    } else {
        eprintln!("SKIPPED: no Python 3.11 at {}", p.display());
        None
    }
}

/// A script that marks that it ran, and the file it marks.
fn script(dir: &Path) -> (PathBuf, PathBuf) {
    let marker = dir.join("ran");
    let script = dir.join("app.py");
    std::fs::write(
        &script,
        format!("open({:?}, 'w').close()\nx = 1\n", marker.to_str().unwrap()),
    )
    .unwrap();
    (script, marker)
}

fn record(args: &[&str], out: &Path, python: &Path, script: &Path) -> Output {
    Command::new(hindsight())
        .arg("record")
        .args(args)
        .arg("-o")
        .arg(out)
        .arg("--")
        .arg(python)
        .arg(script)
        .stdin(Stdio::null())
        .output()
        .expect("hindsight runs")
}

fn mode_of(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_recording_is_private_unless_asked() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (script, _) = script(dir.path());
    let out = dir.path().join("r.hsr");
    let o = record(&[], &out, &python, &script);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(mode_of(&out), 0o600);
    // An existing recording is replaced, with the mode asked for.
    let o = record(&["--mode", "640"], &out, &python, &script);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(mode_of(&out), 0o640);
    let o = record(&["--mode", "rw"], &out, &python, &script);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("octal"), "{}", stderr(&o));
}

#[test]
fn what_is_not_a_recording_is_not_overwritten() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (script, marker) = script(dir.path());
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, "precious").unwrap();
    let o = record(&[], &notes, &python, &script);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("not a hindsight recording") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read(&notes).unwrap(), b"precious");
    assert!(
        !marker.exists(),
        "the program ran although the output was refused"
    );
    // A symbolic link, to it or anywhere: never followed.
    let link = dir.path().join("link.hsr");
    symlink(&notes, &link).unwrap();
    let o = record(&[], &link, &python, &script);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("symbolic link"), "{}", stderr(&o));
    let o = record(&["--force"], &link, &python, &script);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(&notes).unwrap(), b"precious");
    assert!(!std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    // With --force, the file itself.
    let o = record(&["--force"], &notes, &python, &script);
    assert!(o.status.success(), "{}", stderr(&o));
    let info = Command::new(hindsight())
        .arg("info")
        .arg(&notes)
        .output()
        .unwrap();
    assert!(info.status.success(), "{}", stderr(&info));
    // A directory, even with --force.
    let o = record(&["--force"], dir.path(), &python, &script);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("directory"), "{}", stderr(&o));
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

#[test]
fn a_recorder_killed_at_any_moment_leaves_a_file_info_opens() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    // Python's start is marked by a sitecustomize.py, which the interpreter
    // imports before it runs the script (and before any step).
    let site = dir.path().join("site");
    std::fs::create_dir(&site).unwrap();
    let started = dir.path().join("python-started");
    std::fs::write(
        site.join("sitecustomize.py"),
        format!("open({:?}, 'w').close()\n", started.to_str().unwrap()),
    )
    .unwrap();
    let script = dir.path().join("loop.py");
    std::fs::write(&script, "x = 0\nfor i in range(2_000_000):\n    x += i\n").unwrap();
    let seed = std::env::var("HINDSIGHT_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x6b11_1ea7_u64);
    let mut rng = Rng(seed | 1);
    let (mut with_file, mut python_ran, mut with_steps) = (0, 0, 0);
    let mut appeared = Vec::new();
    for round in 0..KILLS {
        let out = dir.path().join(format!("k{round}.hsr"));
        let _ = std::fs::remove_file(&started);
        // Moments from the very start: most fall in the recorder's start
        // (finding the interpreter takes 0.05 to 3 s), some after it.
        let delay = Duration::from_millis(match round % 4 {
            0 => rng.below(20),
            1 | 2 => rng.below(600),
            _ => 600 + rng.below(2000),
        });
        let spawned = Instant::now();
        let mut child = Command::new(hindsight())
            .arg("record")
            .arg("-o")
            .arg(&out)
            .arg("--")
            .arg(&python)
            .arg(&script)
            .env("PYTHONPATH", &site)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut seen_at = None;
        while spawned.elapsed() < delay {
            if seen_at.is_none() && out.exists() {
                seen_at = Some(spawned.elapsed());
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        // Python ran before the kill: the file was there before it.
        let python_before = started.exists();
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert!(status.code().is_none(), "round {round}: ended by itself");
        if python_before {
            python_ran += 1;
            assert!(
                out.exists(),
                "round {round}: Python had started ({delay:?} after the spawn) but no recording file exists"
            );
        }
        if !out.exists() {
            continue;
        }
        with_file += 1;
        appeared.extend(seen_at);
        let info = Command::new(hindsight())
            .arg("info")
            .arg(&out)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&info.stdout);
        assert!(
            info.status.success(),
            "round {round}: killed after {delay:?}, info fails: {}",
            stderr(&info)
        );
        assert!(text.contains("incomplete"), "round {round}:\n{text}");
        let steps: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix("steps:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap();
        if steps > 0 {
            with_steps += 1;
        } else if !python_before {
            assert!(text.contains("not known yet"), "round {round}:\n{text}");
        }
    }
    eprintln!(
        "{KILLS} kills: {with_file} left a file (all open), {python_ran} after Python had started, \
         {with_steps} with steps; the file appeared {appeared:?} after the spawn"
    );
    assert!(python_ran > 0, "no kill came after Python had started");
}
