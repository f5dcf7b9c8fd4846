//! `hindsight record` of a command that runs CPython through a wrapper, as
//! a new user types it: a shell that runs python as a child and goes on
//! (`sh -c "python3 app.py; echo done"`), `env`, a shell that leaves
//! python running in the background. The first CPython the command runs is
//! recorded, the rest of the command runs on untraced, and `record` exits
//! with the command's own status. A command that runs no CPython is an
//! error that says so. On every supported interpreter present.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const APP: &str = "def double(x):\n    return 2 * x\n\nprint('app', double(21))\n";

fn hindsight() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hindsight"))
}

/// `hindsight record -o HSR -- ARGS...`, run in `dir`.
fn record(dir: &Path, hsr: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(hindsight());
    cmd.arg("record")
        .arg("-o")
        .arg(hsr)
        .arg("--")
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG");
    common::run_with_timeout(cmd, common::HINDSIGHT_TIMEOUT).unwrap()
}

/// `hindsight steps HSR`, and `hindsight info HSR`.
fn read(hsr: &Path) -> (String, String) {
    let out = |cmd: &str| {
        let o = Command::new(hindsight())
            .arg(cmd)
            .arg(hsr)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    (out("steps"), out("info"))
}

/// The recording holds the whole of app.py (run as `app.py` in its
/// directory: 3.8 keeps the file name relative): its call of `double` and
/// its module's return, and it is complete.
fn check_app_recorded(name: &str, hsr: &Path, app: &Path) {
    let (steps, info) = read(hsr);
    let is_app = |l: &str, event: &str, at: &str| {
        let (a, rel) = (app.display().to_string(), "app.py");
        l.split_once(' ').is_some_and(|(_, rest)| {
            rest == format!("{event} {a}:{at}") || rest == format!("{event} {rel}:{at}")
        })
    };
    assert!(
        steps.lines().any(|l| is_app(l, "call", "1 double")),
        "{name}: {steps}"
    );
    assert!(
        steps
            .lines()
            .last()
            .is_some_and(|l| is_app(l, "return", "4 <module>")),
        "{name}: the recording does not end at app.py's last line: {steps}"
    );
    assert!(
        info.contains("the program exited with status 0") && !info.contains("incomplete"),
        "{name}: {info}"
    );
}

#[test]
fn a_shell_that_runs_python_as_a_child() {
    let pythons = common::supported_interpreters();
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app.py");
    std::fs::write(&app, APP).unwrap();
    for py in &pythons {
        let name = format!("{} via sh", py.minor);
        let hsr = dir.path().join(format!("sh-{}.hsr", py.minor));
        let script = format!("{} app.py; echo done", py.path.display());
        let o = record(dir.path(), &hsr, &["/bin/sh", "-c", &script]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{name}: {stderr}");
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            "app 42\ndone\n",
            "{name}: {stderr}"
        );
        check_app_recorded(&name, &hsr, &app);
        let (_, info) = read(&hsr);
        assert!(info.contains("/bin/sh -c"), "{name}: the command: {info}");

        // The command's status is record's, not python's.
        let hsr = dir.path().join(format!("sh3-{}.hsr", py.minor));
        let script = format!("{} app.py && exit 3", py.path.display());
        let o = record(dir.path(), &hsr, &["/bin/sh", "-c", &script]);
        assert_eq!(
            o.status.code(),
            Some(3),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        check_app_recorded(&name, &hsr, &app);
    }
}

#[test]
fn env_and_a_shell_that_does_not_wait() {
    let pythons = common::supported_interpreters();
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app.py");
    std::fs::write(&app, APP).unwrap();
    for py in &pythons {
        let python = py.path.to_str().unwrap();
        // env execs python: the same process.
        let name = format!("{} via env", py.minor);
        let hsr = dir.path().join(format!("env-{}.hsr", py.minor));
        let o = record(dir.path(), &hsr, &["env", "A=1", python, "app.py"]);
        assert_eq!(o.status.code(), Some(0), "{name}");
        assert_eq!(String::from_utf8_lossy(&o.stdout), "app 42\n", "{name}");
        check_app_recorded(&name, &hsr, &app);

        // The shell exits at once; python, in the background, is recorded
        // to its end, and the status is the shell's.
        let name = format!("{} in the background", py.minor);
        let hsr = dir.path().join(format!("bg-{}.hsr", py.minor));
        let script = format!("{python} app.py & exit 5");
        let o = record(dir.path(), &hsr, &["/bin/sh", "-c", &script]);
        assert_eq!(
            o.status.code(),
            Some(5),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        check_app_recorded(&name, &hsr, &app);
    }
}

#[test]
fn a_command_that_runs_no_python_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let hsr = dir.path().join("none.hsr");
    let o = record(dir.path(), &hsr, &["/bin/sh", "-c", "echo hi; exit 4"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "hi\n");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with("hindsight: no CPython program ran:")
            && lines[0].contains("exited with status 4")
            && lines[0].contains("hindsight record -- python3 script.py"),
        "{stderr}"
    );
    assert!(!hsr.exists(), "no recording is written");
}
