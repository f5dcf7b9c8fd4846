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
    let fixtures = common::fixtures();
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
            let name = step["instruction"]["name"].as_str().expect("an instruction name");
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
