//! `hindsight record --stream PATH|-` (issue 20): each step's state as a
//! JSON line, written as the step is recorded.
//!
//! - the stream is, line for line, what `hindsight dump` prints of the
//!   finished recording (the recording itself is the independent answer),
//!   to a file and to stdout, on every supported interpreter present;
//! - it is live: a program that waits for a file the test creates only
//!   once the stream showed the step before the wait ends, which it could
//!   not if the stream were written at the end.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

fn hindsight() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hindsight"))
}

fn dump(hsr: &Path) -> Vec<u8> {
    let out = Command::new(hindsight())
        .arg("dump")
        .arg(hsr)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn the_stream_is_the_dump_of_the_recording() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = common::repo_root().join("tests/fixtures/aliasing.py");
    for py in common::supported_interpreters() {
        let hsr = dir.path().join(format!("{}.hsr", py.minor));
        let jsonl = dir.path().join(format!("{}.jsonl", py.minor));
        let out = Command::new(hindsight())
            .args(["record", "--force", "-o"])
            .arg(&hsr)
            .arg("--stream")
            .arg(&jsonl)
            .arg("--")
            .arg(&py.path)
            .arg(&fixture)
            .env("PYTHONHASHSEED", "0")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            py.minor,
            String::from_utf8_lossy(&out.stderr)
        );
        let streamed = std::fs::read(&jsonl).unwrap();
        assert!(!streamed.is_empty(), "{}: empty stream", py.minor);
        assert!(
            streamed == dump(&hsr),
            "{}: the stream differs from the dump",
            py.minor
        );
    }
}

#[test]
fn the_stream_goes_to_stdout_with_a_dash() {
    let Some(py) = common::interpreter("3.11") else {
        eprintln!("SKIPPED: no 3.11");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("quiet.py");
    std::fs::write(&script, "a = [1]\nb = a\nb.append(2)\n").unwrap();
    let hsr = dir.path().join("q.hsr");
    let out = Command::new(hindsight())
        .args(["record", "-o"])
        .arg(&hsr)
        .args(["--stream", "-", "--"])
        .arg(&py.path)
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&dump(&hsr))
    );
}

#[test]
fn the_stream_is_written_as_steps_happen() {
    let Some(py) = common::interpreter("3.11") else {
        eprintln!("SKIPPED: no 3.11");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("go");
    let script = dir.path().join("wait.py");
    std::fs::write(
        &script,
        format!(
            "import os, time\nready = 1\nwhile not os.path.exists({:?}):\n    time.sleep(0.01)\ndone = 1\n",
            flag.to_str().unwrap()
        ),
    )
    .unwrap();
    let mut child = Command::new(hindsight())
        .args(["record", "-o"])
        .arg(dir.path().join("w.hsr"))
        .args(["--stream", "-", "--max-time", "60", "--"])
        .arg(&py.path)
        .arg(&script)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut saw_ready = false;
    let mut saw_done = false;
    for line in lines.by_ref() {
        let v: Value = serde_json::from_str(&line.unwrap()).unwrap();
        if v["globals"].get("ready").is_some() && !saw_ready {
            saw_ready = true;
            // Only now may the program go on.
            std::fs::write(&flag, "").unwrap();
        }
        if v["globals"].get("done").is_some() {
            saw_done = true;
        }
    }
    let status = child.wait().unwrap();
    assert!(status.success());
    // Had the stream been written at the end only, the program would have
    // waited for the flag until --max-time ended it: `done` never bound.
    assert!(
        saw_ready && saw_done,
        "the stream never showed `ready` and `done`"
    );
}
