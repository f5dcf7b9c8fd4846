//! `--granularity opcode` against the in-process oracle in its opcode mode
//! (`HINDSIGHT_ORACLE_GRANULARITY=opcode`: `f_trace_opcodes = True` on every
//! recorded frame, the opcode events of instructions that bind a name or
//! mutate an object in place kept as steps with their instruction), every
//! fixture on every interpreter present, with the probe and without it
//! (`HINDSIGHT_NO_PROBE=1`: the plain trap, every event a stop).

mod common;

use std::path::PathBuf;

use common::Mode;

const ORACLE_ENV: &[(&str, &str)] = &[("HINDSIGHT_ORACLE_GRANULARITY", "opcode")];
const ARGS: &[&str] = &["--granularity", "opcode"];

/// With the probe (the default).
const PROBE: Mode = Mode {
    oracle_env: ORACLE_ENV,
    record_args: ARGS,
    record_env: &[],
};

/// Without the probe.
const NO_PROBE: Mode = Mode {
    oracle_env: ORACLE_ENV,
    record_args: ARGS,
    record_env: &[("HINDSIGHT_NO_PROBE", "1")],
};

/// Fixtures left out here, said on stderr: `long_loop.py` makes the oracle
/// write a state per opcode step (140 MB) and outlasts its 120 s bound on
/// a loaded machine; its loop's stores and in-place adds are those of the
/// other fixtures, and its lines are compared by tests/oracle_test.rs.
const LEFT_OUT: &[&str] = &["long_loop.py"];

/// Every fixture at opcode granularity on one interpreter.
fn opcode_steps_match_oracle(minor: &str, mode: &Mode) {
    let Some(python) = common::interpreter(minor) else {
        eprintln!("SKIPPED: interpreter {minor} not present");
        return;
    };
    if !python.supported() {
        eprintln!("NOT YET SUPPORTED: Python {minor}");
        return;
    }
    let hindsight = PathBuf::from(env!("CARGO_BIN_EXE_hindsight"));
    let dir = tempfile::Builder::new()
        .prefix(&format!("hindsight-opcode-{minor}-"))
        .tempdir()
        .expect("a temporary directory");
    let mut fixtures = common::fixtures();
    fixtures.retain(|f| {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let keep = !LEFT_OUT.contains(&name);
        if !keep {
            eprintln!("LEFT OUT at opcode granularity: {name} (see LEFT_OUT)");
        }
        keep
    });
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
    if failures.is_empty() {
        opcode_steps_are_there(minor, &dir.path().join("opcodes.oracle.jsonl"));
    } else {
        let kept = dir.keep();
        eprintln!("outputs kept in {}", kept.display());
    }
    common::report(
        &format!("opcode steps vs oracle on Python {minor}"),
        fixtures.len(),
        &failures,
    );
}

/// The comparison above passes two empty streams as well: the opcode
/// fixture's steps must hold each kind of instruction it exercises.
fn opcode_steps_are_there(minor: &str, oracle: &std::path::Path) {
    let text = std::fs::read_to_string(oracle).expect("the oracle's steps of opcodes.py");
    let mut names = std::collections::BTreeSet::new();
    for line in text.lines() {
        let step: serde_json::Value = serde_json::from_str(line).expect("a JSON step");
        if step["event"] == "opcode" {
            let name = step["instruction"]["name"]
                .as_str()
                .expect("an instruction name");
            names.insert(name.to_string());
            assert!(step["instruction"]["offset"].is_u64(), "{step}");
        }
    }
    let inplace = if minor == "3.8" || minor == "3.9" || minor == "3.10" {
        "INPLACE_ADD"
    } else {
        "BINARY_OP"
    };
    for want in [
        "STORE_SUBSCR",
        "DELETE_SUBSCR",
        "STORE_ATTR",
        "DELETE_ATTR",
        "STORE_GLOBAL",
        "STORE_NAME",
        "DELETE_NAME",
        "STORE_DEREF",
        "LIST_APPEND",
        "SET_ADD",
        "MAP_ADD",
        inplace,
    ] {
        assert!(
            names.contains(want),
            "Python {minor}: no {want} step in opcodes.py; steps had {names:?}"
        );
    }
}

/// One test per interpreter version and mode, so a failure names both.
macro_rules! per_version {
    ($($name:ident => $minor:literal, $mode:expr),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                opcode_steps_match_oracle($minor, &$mode);
            }
        )*
    };
}

per_version! {
    opcode_3_8 => "3.8", PROBE,
    opcode_3_9 => "3.9", PROBE,
    opcode_3_10 => "3.10", PROBE,
    opcode_3_11 => "3.11", PROBE,
    opcode_3_12 => "3.12", PROBE,
    opcode_3_13 => "3.13", PROBE,
    opcode_no_probe_3_8 => "3.8", NO_PROBE,
    opcode_no_probe_3_11 => "3.11", NO_PROBE,
    opcode_no_probe_3_12 => "3.12", NO_PROBE,
    opcode_no_probe_3_13 => "3.13", NO_PROBE,
}

/// A loop most of whose instructions are not steps (loads, compares,
/// jumps, calls).
const LOOP_PY: &str = r#"
def run(n):
    total = 0
    for i in range(n):
        if i % 3 == 0 and len(str(i)) > 0:
            total += i
    return total

print(run(2000))
"#;

/// `record --granularity opcode` of LOOP_PY; (traps, steps) from the
/// recorder's log line.
fn traps_of(python: &std::path::Path, dir: &std::path::Path, env: &[(&str, &str)]) -> (u64, u64) {
    let script = dir.join("loop.py");
    std::fs::write(&script, LOOP_PY).expect("write the loop");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_hindsight"));
    cmd.args(["record", "--force", "--granularity", "opcode", "-o"])
        .arg(dir.join("loop.hsr"))
        .arg("--")
        .arg(python)
        .arg(&script)
        .env("RUST_LOG", "tracer::record=info")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("HINDSIGHT_NO_PROBE")
        .envs(env.iter().copied());
    let o = common::run_with_timeout(cmd, common::HINDSIGHT_TIMEOUT).expect("record runs");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "record failed: {err}");
    err.lines()
        .find_map(|line| {
            let (head, tail) = line.split_once(" traps taken for ")?;
            let traps = head.rsplit(' ').next()?.parse().ok()?;
            let steps = tail.split_whitespace().next()?.parse().ok()?;
            Some((traps, steps))
        })
        .unwrap_or_else(|| panic!("no `N traps taken for M steps` line in:\n{err}"))
}

/// The probe answers the opcode events of instructions that are not steps
/// itself: about one trap per step with it, several without it (where
/// every opcode event of recorded code stops the program).
#[test]
fn probe_spares_the_traps_of_instructions_that_are_not_steps() {
    for python in common::supported_interpreters() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (traps, steps) = traps_of(&python.path, dir.path(), &[]);
        assert!(
            steps > 6_000 && traps <= steps + 50,
            "Python {}: {traps} traps for {steps} steps with the probe",
            python.minor
        );
        let (plain, plain_steps) =
            traps_of(&python.path, dir.path(), &[("HINDSIGHT_NO_PROBE", "1")]);
        assert_eq!(
            plain_steps, steps,
            "Python {}: steps differ without the probe",
            python.minor
        );
        assert!(
            plain > 2 * steps,
            "Python {}: {plain} traps for {steps} steps without the probe",
            python.minor
        );
    }
}
