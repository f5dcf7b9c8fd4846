//! hindsight against the in-process oracle, fixture by fixture, interpreter by interpreter.
//!
//! For every fixture in tests/fixtures and every interpreter present: run the
//! program under the oracle (tests/oracle, sys.settrace in-process), record it
//! with `hindsight record`, dump the recording, and compare every step with
//! tests/oracle/compare.py (docs/spec/values.md, "Comparing two states"). Also the
//! exit status and stdout of the two runs must be the program's own.
//!
//! Versions hindsight does not support yet (common::SUPPORTED) and interpreters
//! not installed are reported loudly on stderr, never silently passed over.
//! The oracle's own tests (compare.py unit tests, oracle self-consistency) run
//! here too, so they stay green while the recorder is being built.

mod common;

use std::path::PathBuf;
use std::process::Command;

/// Every fixture under the oracle and under hindsight on one interpreter.
fn hindsight_matches_oracle(minor: &str) {
    hindsight_matches_oracle_in(minor, &common::Mode::default(), "");
}

/// [`hindsight_matches_oracle`] with hindsight run in `mode` (`what` says
/// how, in the report).
fn hindsight_matches_oracle_in(minor: &str, mode: &common::Mode, what: &str) {
    let Some(python) = common::interpreter(minor) else {
        eprintln!(
            "SKIPPED: interpreter {minor} not present (looked in {} and HINDSIGHT_TEST_PYTHONS)",
            common::pyenv_versions().display()
        );
        return;
    };
    if !python.supported() {
        eprintln!(
            "NOT YET SUPPORTED: hindsight does not record Python {minor} ({}) yet; supported: {:?}",
            python.path.display(),
            common::SUPPORTED
        );
        return;
    }
    let hindsight = PathBuf::from(env!("CARGO_BIN_EXE_hindsight"));
    let dir = tempfile::Builder::new()
        .prefix(&format!("hindsight-oracle-{minor}-"))
        .tempdir()
        .expect("a temporary directory");
    let fixtures = common::fixtures();
    assert!(
        fixtures.len() >= 24,
        "expected at least 24 fixtures, found {}",
        fixtures.len()
    );
    let failures = common::run_all(&fixtures, |f| {
        common::check_program_in(
            &hindsight,
            &python,
            f,
            dir.path(),
            common::expected_status(f),
            mode,
        )
    });
    if !failures.is_empty() {
        // Keep the outputs so that the differences can be looked at.
        let kept = dir.keep();
        eprintln!("outputs kept in {}", kept.display());
    }
    common::report(
        &format!("hindsight{what} vs oracle on Python {minor}"),
        fixtures.len(),
        &failures,
    );
}

/// The comparison of every fixture with the logged steps decoded while the
/// program runs (the tracer on another CPU: `HINDSIGHT_LIVE_DRAIN`).
fn hindsight_matches_oracle_live(minor: &str) {
    let mode = common::Mode {
        record_env: &[("HINDSIGHT_LIVE_DRAIN", "1")],
        ..common::Mode::default()
    };
    hindsight_matches_oracle_in(minor, &mode, " (steps decoded while the program runs)");
}

#[test]
fn hindsight_matches_oracle_live_3_11() {
    hindsight_matches_oracle_live("3.11");
}

#[test]
fn hindsight_matches_oracle_live_3_13() {
    hindsight_matches_oracle_live("3.13");
}

/// The comparison of every fixture with every logged step decoded whole
/// (quick steps off: `HINDSIGHT_NO_QUICK`, tracer/src/record/quick/); the
/// per-version tests run with them on.
fn hindsight_matches_oracle_no_quick(minor: &str) {
    let mode = common::Mode {
        record_env: &[("HINDSIGHT_NO_QUICK", "1")],
        ..common::Mode::default()
    };
    hindsight_matches_oracle_in(minor, &mode, " (every logged step decoded whole)");
}

#[test]
fn hindsight_matches_oracle_no_quick_3_11() {
    hindsight_matches_oracle_no_quick("3.11");
}

#[test]
fn hindsight_matches_oracle_no_quick_3_13() {
    hindsight_matches_oracle_no_quick("3.13");
}

/// One test per interpreter version, so a failure names the version.
macro_rules! per_version {
    ($($name:ident => $minor:literal),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                hindsight_matches_oracle($minor);
            }
        )*
    };
}

per_version! {
    hindsight_matches_oracle_3_8 => "3.8",
    hindsight_matches_oracle_3_9 => "3.9",
    hindsight_matches_oracle_3_10 => "3.10",
    hindsight_matches_oracle_3_11 => "3.11",
    hindsight_matches_oracle_3_12 => "3.12",
    hindsight_matches_oracle_3_13 => "3.13",
}

/// compare.py must pass equal streams and fail on changed reprs, broken id
/// bijections, missing steps (tests/oracle/test_compare.py).
#[test]
fn compare_py_unit_tests() {
    let mut cmd = Command::new(common::tool_python());
    cmd.args(["-m", "unittest", "discover", "-s"])
        .arg(common::oracle_dir())
        .args(["-p", "test_*.py"])
        .env("PYTHONHASHSEED", "0")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("HINDSIGHT_ORACLE_OUT");
    let out = common::run_with_timeout(cmd, common::PYTHON_TIMEOUT).expect("unittest runs");
    assert!(
        out.status.success(),
        "compare.py unit tests failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// oracle self-consistency: two oracle runs of every fixture compare equal
/// (ids differ between runs), on every interpreter present; the oracle leaves
/// the program's stdout and exit status alone.
#[test]
fn oracle_self_consistency() {
    let interpreters = common::interpreters();
    assert!(
        !interpreters.is_empty(),
        "no Python interpreter found to run the oracle with"
    );
    let failures = common::run_all(&interpreters, |python| {
        let mut cmd = Command::new(common::tool_python());
        cmd.arg(common::oracle_dir().join("selfcheck.py"))
            .arg("--python")
            .arg(&python.path)
            .args(["--jobs", "1"])
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env_remove("HINDSIGHT_ORACLE_OUT");
        let out = common::run_with_timeout(cmd, common::HINDSIGHT_TIMEOUT)?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    });
    common::report("oracle self-consistency", interpreters.len(), &failures);
}

/// A stripped interpreter (a copy of libpython without DWARF, as distributions
/// ship it) recorded with its debug file given by `--debug-file` (made with
/// `objcopy --only-keep-debug`): every step still equals the oracle.
#[test]
fn stripped_interpreter_with_debug_file() {
    let Some(python) = common::interpreter("3.11") else {
        eprintln!("SKIPPED: interpreter 3.11 not present");
        return;
    };
    let prefix = python
        .path
        .parent()
        .and_then(|b| b.parent())
        .expect("pyenv layout: PREFIX/bin/python3.11")
        .to_path_buf();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (bin, lib) = (dir.path().join("bin"), dir.path().join("lib"));
    std::fs::create_dir_all(&bin).expect("bin");
    std::fs::create_dir_all(&lib).expect("lib");
    let stripped_python = bin.join("python3.11");
    std::fs::copy(&python.path, &stripped_python).expect("copy python");
    let original = prefix.join("lib/libpython3.11.so.1.0");
    let debug_file = dir.path().join("libpython3.11.so.1.0.debug");
    for (flag, out) in [
        ("--strip-debug", lib.join("libpython3.11.so.1.0")),
        ("--only-keep-debug", debug_file.clone()),
    ] {
        let st = Command::new("objcopy")
            .arg(flag)
            .arg(&original)
            .arg(&out)
            .status()
            .expect("objcopy runs (binutils)");
        assert!(st.success(), "objcopy {flag} failed");
    }

    let fixture = common::repo_root().join("tests/fixtures/closures.py");
    let oracle_out = dir.path().join("oracle.jsonl");
    let oracle = common::run_oracle(&python.path, &fixture, &oracle_out).expect("oracle runs");
    assert!(
        oracle.status.success(),
        "{}",
        String::from_utf8_lossy(&oracle.stderr)
    );

    let hindsight = PathBuf::from(env!("CARGO_BIN_EXE_hindsight"));
    let hsr = dir.path().join("r.hsr");
    let mut cmd = Command::new(&hindsight);
    cmd.args(["record", "-o"])
        .arg(&hsr)
        .arg("--debug-file")
        .arg(&debug_file)
        .arg("--")
        .arg(&stripped_python)
        .arg(&fixture)
        .env("LD_LIBRARY_PATH", &lib)
        .env("PYTHONHOME", &prefix)
        .env("PYTHONHASHSEED", "0")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let out = common::run_with_timeout(cmd, common::HINDSIGHT_TIMEOUT).expect("record runs");
    assert!(
        out.status.success(),
        "record with --debug-file failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dumped = dir.path().join("hindsight.jsonl");
    common::run_dump(&hindsight, &hsr, &dumped).expect("dump");
    common::compare(&oracle_out, &dumped).unwrap_or_else(|report| panic!("{report}"));

    // The recording names the stripped library it read, not the original.
    let mut info = Command::new(&hindsight);
    info.arg("info").arg(&hsr);
    let info = common::run_with_timeout(info, common::HINDSIGHT_TIMEOUT).expect("info");
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(text.contains(&lib.display().to_string()), "{text}");
}
