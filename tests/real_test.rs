//! Real programs nobody on the project wrote: pure-Python packages from the
//! package registry (pinned in tests/real/requirements.txt), installed next
//! to small driver scripts and recorded; every step must equal the oracle.
//!
//! The packages are installed with pip into a folder beside the drivers (not
//! a site-packages folder), so the default file filter records their code.
//! A machine where pip cannot reach the registry fails this test loudly.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The drivers, each using one package.
///
/// Packages were left out for cause: toolz hashes objects by address while it
/// imports (its steps differ from run to run), and pyparsing's import alone is
/// hundreds of thousands of steps.
const DRIVERS: &[&str] = &["sorted_ops.py", "table.py", "slug.py"];

fn install_packages(python: &Path, into: &Path) -> Result<(), String> {
    let reqs = common::repo_root().join("tests/real/requirements.txt");
    let mut cmd = Command::new(python);
    cmd.args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
    ])
    .arg("--target")
    .arg(into)
    .arg("-r")
    .arg(&reqs);
    let out = common::run_with_timeout(cmd, common::PYTHON_TIMEOUT)?;
    if !out.status.success() {
        return Err(format!(
            "pip could not install {}: {}",
            reqs.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

fn real_programs_match_oracle(minor: &str) {
    let Some(python) = common::interpreter(minor) else {
        eprintln!("SKIPPED: interpreter {minor} not present");
        return;
    };
    if !python.supported() {
        eprintln!("NOT YET SUPPORTED: hindsight does not record Python {minor} yet");
        return;
    }
    let hindsight = PathBuf::from(env!("CARGO_BIN_EXE_hindsight"));
    let dir = tempfile::Builder::new()
        .prefix(&format!("hindsight-real-{minor}-"))
        .tempdir()
        .expect("a temporary directory");
    install_packages(&python.path, &dir.path().join("pkgs")).unwrap_or_else(|e| panic!("{e}"));
    let mut programs = Vec::new();
    for d in DRIVERS {
        let to = dir.path().join(d);
        std::fs::copy(common::repo_root().join("tests/real").join(d), &to)
            .unwrap_or_else(|e| panic!("cannot copy {d}: {e}"));
        programs.push(to);
    }
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).expect("an output folder");
    let failures = common::run_all(&programs, |p| {
        common::check_program(&hindsight, &python, p, &out, 0)
    });
    if !failures.is_empty() {
        eprintln!("outputs kept in {}", dir.keep().display());
    }
    common::report(
        &format!("real programs vs oracle on Python {minor}"),
        programs.len(),
        &failures,
    );
}

macro_rules! per_version {
    ($($name:ident => $minor:literal),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                real_programs_match_oracle($minor);
            }
        )*
    };
}

per_version! {
    real_programs_3_8 => "3.8",
    real_programs_3_9 => "3.9",
    real_programs_3_10 => "3.10",
    real_programs_3_11 => "3.11",
    real_programs_3_12 => "3.12",
    real_programs_3_13 => "3.13",
}

/// `hindsight record -- python3 app.py` where `python3` is a launcher (pyenv
/// shims are shell scripts that exec the interpreter): the recorder follows
/// the execs to the interpreter and records the same steps as a direct run.
#[test]
fn record_through_launchers() {
    let Some(python) = common::interpreter("3.11") else {
        eprintln!("SKIPPED: interpreter 3.11 not present");
        return;
    };
    let hindsight = PathBuf::from(env!("CARGO_BIN_EXE_hindsight"));
    let dir = tempfile::tempdir().expect("a temporary directory");
    let script = common::repo_root().join("tests/fixtures/functions.py");
    let shim = dir.path().join("python3");
    std::fs::write(
        &shim,
        format!(
            "#!/bin/sh\n# a launcher like pyenv's shims\nexec {} \"$@\"\n",
            python.path.display()
        ),
    )
    .expect("write the shim");
    let mut perms = std::fs::metadata(&shim)
        .expect("shim metadata")
        .permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&shim, perms).expect("make the shim executable");

    let steps_of = |launcher: &[&std::ffi::OsStr], name: &str| -> String {
        let hsr = dir.path().join(format!("{name}.hsr"));
        let mut cmd = Command::new(&hindsight);
        cmd.arg("record")
            .arg("-o")
            .arg(&hsr)
            .arg("--")
            .args(launcher)
            .arg(&script);
        let out = common::run_with_timeout(cmd, common::HINDSIGHT_TIMEOUT).expect("record runs");
        assert!(
            out.status.success(),
            "record through {name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut steps = Command::new(&hindsight);
        steps.arg("steps").arg(&hsr);
        let out = common::run_with_timeout(steps, common::HINDSIGHT_TIMEOUT).expect("steps runs");
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let direct = steps_of(&[python.path.as_os_str()], "direct");
    assert!(direct.lines().count() > 10, "too few steps: {direct}");
    let via_env = steps_of(&["/usr/bin/env".as_ref(), python.path.as_os_str()], "env");
    let via_shim = steps_of(&[shim.as_os_str()], "shim");
    assert_eq!(direct, via_env, "steps differ when launched through env");
    assert_eq!(
        direct, via_shim,
        "steps differ when launched through a shell script"
    );
}
