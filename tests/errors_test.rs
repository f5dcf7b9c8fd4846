//! The `hindsight` binary on bad input: every failure is one line on stderr
//! starting `hindsight: `, exit status 2, and never a panic. Also the reading
//! commands on a recording written here with `store::Writer`, so that they
//! are tested without depending on the recorder.

use std::path::Path;
use std::process::{Command, Output};

/// The pyenv build of CPython 3.11 (`$PYENV_ROOT`, by default `~/.pyenv`).
fn py311() -> String {
    let root = std::env::var_os("PYENV_ROOT")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
                .join(".pyenv")
        });
    root.join("versions/3.11.7").display().to_string()
}

fn hindsight(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hindsight"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("run hindsight")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The error contract: status 2, exactly one stderr line, `hindsight: `.
#[track_caller]
fn assert_one_error_line(o: &Output) -> String {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(2),
        "status {:?}, stderr: {err}",
        o.status
    );
    assert!(!err.contains("panicked"), "panic: {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "want one line, got: {err}");
    assert!(lines[0].starts_with("hindsight: "), "{err}");
    lines[0].to_string()
}

#[path = "errors/other_user.rs"]
mod other_user;
#[path = "errors/written.rs"]
mod written;
use written::recorded;

// ---- bad command lines ----

#[test]
fn unknown_subcommand() {
    let line = assert_one_error_line(&hindsight(&["frobnicate"]));
    assert!(line.contains("frobnicate"), "{line}");
}

#[test]
fn no_subcommand_and_bad_options() {
    assert_one_error_line(&hindsight(&[]));
    assert_one_error_line(&hindsight(&["state"]));
    assert_one_error_line(&hindsight(&["state", "x.hsr", "minus-one"]));
    assert_one_error_line(&hindsight(&[
        "record",
        "--max-time",
        "soon",
        "--",
        "python3",
    ]));
    assert_one_error_line(&hindsight(&["doctor"]));
}

#[test]
fn help_is_not_an_error() {
    let o = hindsight(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("record"));
}

#[test]
fn attach_to_a_missing_process() {
    // PIDs above /proc/sys/kernel/pid_max (at most 2^22) never exist.
    let line = assert_one_error_line(&hindsight(&["attach", "99999999"]));
    assert!(
        line.contains("99999999"),
        "the error names the process: {line}"
    );
}

// ---- files that are not recordings ----

#[test]
fn not_a_recording() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.hsr");
    std::fs::write(&empty, b"").unwrap();
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "just some text\nover two lines\n").unwrap();
    let random = dir.path().join("random.hsr");
    // Deterministic noise (xorshift), no extra crate.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let bytes: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(&random, bytes).unwrap();
    let missing = dir.path().join("missing.hsr");
    let as_dir = dir.path().to_path_buf();
    for f in [&empty, &text, &random, &missing, &as_dir] {
        let f = f.to_str().unwrap();
        for args in [
            vec!["info", f],
            vec!["steps", f],
            vec!["state", f, "0"],
            vec!["dump", f],
            vec!["visits", f, "app.py:1"],
            vec!["history", f, "x"],
        ] {
            let line = assert_one_error_line(&hindsight(&args));
            assert!(
                line.contains(f) || line.contains("missing.hsr"),
                "{args:?}: {line}"
            );
        }
    }
}

// ---- step ranges ----

#[test]
fn step_out_of_range() {
    let (_dir, rec, _) = recorded(true);
    let r = rec.to_str().unwrap();
    let line = assert_one_error_line(&hindsight(&["state", r, "99"]));
    assert_eq!(
        line,
        format!("hindsight: step 99 is out of range: {r} holds steps 0 to 5")
    );
    assert_one_error_line(&hindsight(&["steps", r, "--from", "6"]));
    assert_one_error_line(&hindsight(&["dump", r, "--to", "99"]));
    let line = assert_one_error_line(&hindsight(&["steps", r, "--from", "4", "--to", "2"]));
    assert!(line.contains("--from 4"), "{line}");
}

#[test]
fn bad_visits_location() {
    let (_dir, rec, _) = recorded(true);
    let r = rec.to_str().unwrap();
    let line = assert_one_error_line(&hindsight(&["visits", r, "app.py"]));
    assert!(line.contains("PATH:LINE"), "{line}");
    let line = assert_one_error_line(&hindsight(&["visits", r, "other.py:2"]));
    assert!(line.contains("app.py"), "lists the recorded files: {line}");
}

// ---- the reading commands on a good recording ----

#[test]
fn info_steps_visits() {
    let (_dir, rec, src) = recorded(true);
    let r = rec.to_str().unwrap();
    let o = hindsight(&["info", r]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let info = stdout(&o);
    assert!(info.contains("CPython 3.11.7"), "{info}");
    assert!(info.contains("steps:       6\n"), "{info}");
    assert!(info.contains("exited with status 0"), "{info}");
    assert!(!info.contains("incomplete"), "{info}");

    let o = hindsight(&["steps", r, "--from", "1", "--to", "2"]);
    let s = src.display();
    assert_eq!(stdout(&o), format!("1 call {s}:1 f\n2 line {s}:2 f\n"));
    let o = hindsight(&["steps", r, "--to", "0", "--json"]);
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(v["event"], "line");
    assert_eq!(v["position"]["col"], 4);

    let o = hindsight(&["visits", r, "app.py:2"]);
    assert_eq!(stdout(&o), format!("2 line {s}:2 f\n4 line {s}:2 f\n"));
    let o = hindsight(&["visits", r, &format!("{s}:3")]);
    assert_eq!(stdout(&o), format!("3 line {s}:3 f\n"));
}

#[test]
fn state_text_and_json() {
    let (_dir, rec, _src) = recorded(true);
    let r = rec.to_str().unwrap();
    let o = hindsight(&["state", r, "3", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["step"], 3);
    assert_eq!(
        v["locals"]["x"],
        serde_json::json!({"type": "int", "id": "0x20", "repr": "2"})
    );
    assert_eq!(v["globals"]["G"]["repr"], "7");
    assert_eq!(v["stack"].as_array().unwrap().len(), 2);

    let o = hindsight(&["state", r, "3"]);
    let text = stdout(&o);
    // The source line 3 of app.py is "    x = 1", position columns 4..9:
    // the assignment's node.
    assert!(text.contains("  3 |     x = 1\n"), "{text}");
    assert!(text.contains("    |     ^^^^^ Assign\n"), "{text}");
    assert_eq!(
        v["node"],
        serde_json::json!({"type": "Assign", "text": "x = 1"})
    );
    assert!(text.contains("Locals:\n  x = 2\n"), "{text}");
    assert!(text.contains("Globals:\n  G = 7\n"), "{text}");

    let o = hindsight(&["state", r, "5"]);
    assert!(stdout(&o).contains("Return: 2"), "{}", stdout(&o));
}

#[test]
fn dump_and_history() {
    let (_dir, rec, src) = recorded(true);
    let r = rec.to_str().unwrap();
    let o = hindsight(&["dump", r, "--from", "1"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[0]["step"], 1);
    assert_eq!(lines[4]["return"]["repr"], "2");

    let o = hindsight(&["history", r, "x"]);
    let s = src.display();
    // Step 4 rebinds x to another object with the same repr: a change of id.
    assert_eq!(
        stdout(&o),
        format!("2 {s}:2 f x = 1\n3 {s}:3 f x = 2\n4 {s}:2 f x = 2\n")
    );
    let o = hindsight(&["history", r, "G"]);
    assert_eq!(stdout(&o), format!("0 {s}:1 <module> G = 7\n"));
}

#[test]
fn incomplete_recordings_are_read() {
    let (_dir, rec, _) = recorded(false);
    let r = rec.to_str().unwrap();
    let o = hindsight(&["info", r]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("(incomplete)"), "{}", stdout(&o));
    let o = hindsight(&["state", r, "5", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let line = assert_one_error_line(&hindsight(&["state", r, "6"]));
    assert!(line.contains("(incomplete)"), "{line}");
}

// ---- recording failures (need the recorder) ----

#[test]
fn record_a_program_that_is_not_python() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.hsr");
    let o = hindsight(&[
        "record",
        "-o",
        out.to_str().unwrap(),
        "--",
        "/bin/echo",
        "hi",
    ]);
    let line = assert_one_error_line(&o);
    assert!(line.to_lowercase().contains("python"), "{line}");
}

#[test]
fn record_a_script_that_does_not_exist() {
    // Python itself refuses: its own message and status (2) pass through,
    // as they would without hindsight; hindsight does not panic.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.hsr");
    let python = format!("{}/bin/python3.11", py311());
    let o = hindsight(&[
        "record",
        "-o",
        out.to_str().unwrap(),
        "--",
        &python,
        "/nonexistent.py",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("can't open file '/nonexistent.py'"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn record_without_debug_info() {
    let dir = tempfile::tempdir().unwrap();
    let (bin, lib) = (dir.path().join("bin"), dir.path().join("lib"));
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&lib).unwrap();
    let python = bin.join("python3.11");
    std::fs::copy(format!("{}/bin/python3.11", py311()), &python).unwrap();
    let st = Command::new("objcopy")
        .arg("--strip-debug")
        .arg(format!("{}/lib/libpython3.11.so.1.0", py311()))
        .arg(lib.join("libpython3.11.so.1.0"))
        .status()
        .expect("objcopy");
    assert!(st.success());
    let script = dir.path().join("app.py");
    std::fs::write(&script, "print('hi')\n").unwrap();
    let out = dir.path().join("r.hsr");
    let o = Command::new(env!("CARGO_BIN_EXE_hindsight"))
        .args(["record", "-o", out.to_str().unwrap(), "--"])
        .arg(&python)
        .arg(&script)
        .env("LD_LIBRARY_PATH", &lib)
        .env("PYTHONHOME", py311())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let line = assert_one_error_line(&o);
    assert!(line.to_lowercase().contains("debug"), "{line}");
}

#[test]
fn doctor_on_python_without_debug_info_and_on_non_python() {
    let line = assert_one_error_line(&hindsight(&["doctor", "--python", "/bin/ls"]));
    assert!(line.to_lowercase().contains("python"), "{line}");
    assert_one_error_line(&hindsight(&["doctor", "--python", "/nonexistent/python"]));
    assert_one_error_line(&hindsight(&["doctor", "999999999"]));
}

/// An interpreter outside 3.8-3.13 (pyenv's 3.7 where present) is refused
/// with one line naming its version, before the program runs.
#[test]
fn unsupported_version_is_refused() {
    let python = &format!("{}/../3.7.16/bin/python3.7", py311());
    if !Path::new(python).exists() {
        eprintln!("SKIPPED: {python} not present; the unsupported-version check did not run");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("app.py");
    std::fs::write(&script, "print('ran')\n").unwrap();
    let out = dir.path().join("r.hsr");
    let o = Command::new(env!("CARGO_BIN_EXE_hindsight"))
        .args(["record", "-o", out.to_str().unwrap(), "--", python])
        .arg(&script)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let line = assert_one_error_line(&o);
    assert!(
        line.contains("3.7.16") && line.contains("not supported"),
        "{line}"
    );
    assert!(
        !String::from_utf8_lossy(&o.stdout).contains("ran"),
        "the program must not run"
    );
    let line = assert_one_error_line(&hindsight(&["doctor", "--python", python]));
    assert!(line.contains("3.7.16"), "{line}");
}

/// `record --max-time` ends the recording while the program is blocked in a
/// system call, not when it next runs Python: a program asleep for ten
/// minutes is stopped and its recording is complete and says why.
#[test]
fn max_time_fires_while_the_program_sleeps() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("sleepy.py");
    std::fs::write(
        &script,
        "import time\nx = 1\ntime.sleep(600)\nprint('woke')\n",
    )
    .unwrap();
    let out = dir.path().join("r.hsr");
    let o = Command::new(env!("CARGO_BIN_EXE_hindsight"))
        .args([
            "record",
            "--max-time",
            "1",
            "-o",
            out.to_str().unwrap(),
            "--",
        ])
        .arg(format!("{}/bin/python3.11", py311()))
        .arg(&script)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&o.stdout).contains("woke"));
    assert!(stderr(&o).contains("--max-time"), "{}", stderr(&o));
    let info = hindsight(&["info", out.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(
        text.contains("complete") && !text.contains("incomplete") && text.contains("--max-time"),
        "{text}"
    );
}
