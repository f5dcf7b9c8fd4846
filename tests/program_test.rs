//! By default `hindsight record` records the program the user ran, however
//! it was given, as a new user types it: `python3 -c CODE` (file
//! `<string>`), a program on stdin (`python3 - < app.py`, `echo ... |
//! python3`), and `python3 -m package`, the package found where Python
//! finds it (here on PYTHONPATH, outside the working directory). A
//! recording that ends with no step says why and which option records the
//! code that ran. On every supported interpreter present.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CODE: &str = "def double(x):\n    return 2 * x\n\nprint('got', double(21))\n";

fn hindsight() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hindsight"))
}

/// `sh -c LINE` in `dir`: the command line as a user types it.
fn shell(dir: &Path, line: &str, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(line)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env_remove("PYTHONPATH")
        .envs(env.iter().copied());
    common::run_with_timeout(cmd, common::HINDSIGHT_TIMEOUT).unwrap()
}

/// `hindsight steps HSR`.
fn steps(hsr: &Path) -> String {
    let o = Command::new(hindsight())
        .arg("steps")
        .arg(hsr)
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The run printed what CODE prints, and the recording holds CODE's call
/// of `double` and its module's end, in `file`.
#[track_caller]
fn check(name: &str, o: &Output, hsr: &Path, file: &str) {
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{name}: {stderr}");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "got 42\n",
        "{name}: {stderr}"
    );
    assert!(!stderr.contains("0 steps"), "{name}: {stderr}");
    let s = steps(hsr);
    assert!(
        s.lines()
            .any(|l| l.ends_with(&format!("call {file}:1 double"))),
        "{name}: no call of double in {file}: {s}"
    );
    assert!(
        s.lines()
            .last()
            .is_some_and(|l| l.ends_with(&format!("return {file}:4 <module>"))),
        "{name}: the recording does not end at the program's last line: {s}"
    );
}

#[test]
fn code_of_dash_c_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    for py in &common::supported_interpreters() {
        let hsr = dir.path().join(format!("c-{}.hsr", py.minor));
        let line = format!(
            "{} record -o {} -- {} -c \"$CODE\"",
            hindsight().display(),
            hsr.display(),
            py.path.display()
        );
        let o = shell(dir.path(), &line, &[("CODE", CODE)]);
        check(&format!("{} -c", py.minor), &o, &hsr, "<string>");
    }
}

#[test]
fn a_program_on_stdin_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app.py");
    std::fs::write(&app, CODE).unwrap();
    for py in &common::supported_interpreters() {
        let (h, p) = (hindsight(), &py.path);
        let hsr = dir.path().join(format!("dash-{}.hsr", py.minor));
        let line = format!(
            "{} record -o {} -- {} - < app.py",
            h.display(),
            hsr.display(),
            p.display()
        );
        let o = shell(dir.path(), &line, &[]);
        check(&format!("{} - < app.py", py.minor), &o, &hsr, "<stdin>");

        let hsr = dir.path().join(format!("pipe-{}.hsr", py.minor));
        let line = format!(
            "printf '%s' \"$CODE\" | {} record -o {} -- {}",
            h.display(),
            hsr.display(),
            p.display()
        );
        let o = shell(dir.path(), &line, &[("CODE", CODE)]);
        check(&format!("{} piped", py.minor), &o, &hsr, "<stdin>");
    }
}

#[test]
fn the_package_of_dash_m_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    // The package lives on PYTHONPATH, away from the working directory.
    let lib = dir.path().join("lib");
    let pkg = lib.join("tool");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("__init__.py"), "").unwrap();
    std::fs::write(pkg.join("__main__.py"), CODE).unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let main = pkg.join("__main__.py");
    let main = main.to_str().unwrap();
    for py in &common::supported_interpreters() {
        let hsr = dir.path().join(format!("m-{}.hsr", py.minor));
        let line = format!(
            "{} record -o {} -- {} -m tool",
            hindsight().display(),
            hsr.display(),
            py.path.display()
        );
        let o = shell(&work, &line, &[("PYTHONPATH", lib.to_str().unwrap())]);
        check(&format!("{} -m tool", py.minor), &o, &hsr, main);
    }
}

#[test]
fn an_empty_recording_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app.py");
    std::fs::write(&app, CODE).unwrap();
    let Some(py) = common::supported_interpreters().into_iter().last() else {
        return;
    };
    let hsr = dir.path().join("none.hsr");
    let mut cmd = Command::new(hindsight());
    cmd.args(["record", "--exclude", "*/app.py", "-o"])
        .arg(&hsr)
        .arg("--")
        .arg(&py.path)
        .arg(&app)
        .env_remove("RUST_LOG");
    let o = common::run_with_timeout(cmd, common::HINDSIGHT_TIMEOUT).unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    let note = stderr
        .lines()
        .find(|l| l.starts_with("hindsight: recorded 0 steps: "))
        .unwrap_or_else(|| panic!("no note: {stderr}"));
    assert!(
        note.contains(app.to_str().unwrap())
            && note.contains(&format!("--include '{}/*'", dir.path().display()))
            && note.contains("--all"),
        "{note}"
    );

    // A script that is not there: Python says so, hindsight says nothing
    // of it ran.
    let mut cmd = Command::new(hindsight());
    cmd.args(["record", "-o"])
        .arg(&hsr)
        .arg("--")
        .arg(&py.path)
        .arg(dir.path().join("missing.py"))
        .env_remove("RUST_LOG");
    let o = common::run_with_timeout(cmd, common::HINDSIGHT_TIMEOUT).unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("can't open file")
            && stderr.contains("hindsight: recorded 0 steps: no Python code of the program ran"),
        "{stderr}"
    );
}
