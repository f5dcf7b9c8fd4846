//! The step index against the full walk. Queries skip the deltas
//! segments whose postings (store/src/postings.rs) change nothing the
//! query follows; `HINDSIGHT_QUERY_FULL_WALK` reads every step instead.
//! Every query kind (`history`, `last-write`, `find`, `diff`, `object`)
//! must print the same both ways, on the fixtures of the omniscient
//! queries (swaps, aliasing, mutations inside C calls, objects freed and
//! made again at the same address), recursion and generators (frames
//! called again at the same depth), on line and opcode recordings. The
//! fixtures are short, so each recording is written again with a
//! checkpoint (and so a segment) every few steps, where a query has
//! segments to skip; the test checks that some were.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{run_with_timeout, HINDSIGHT_TIMEOUT};
use store::{Reader, Step, Writer, WriterOptions};

fn hindsight(args: &[&str], full_walk: bool) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hindsight"));
    cmd.args(args)
        .env_remove("RUST_LOG")
        .env_remove("HINDSIGHT_QUERY_NO_INDEX");
    if full_walk {
        cmd.env("HINDSIGHT_QUERY_FULL_WALK", "1");
    } else {
        cmd.env_remove("HINDSIGHT_QUERY_FULL_WALK");
    }
    run_with_timeout(cmd, HINDSIGHT_TIMEOUT).expect("hindsight ran")
}

/// What a query prints, the same with the index and with the full walk.
fn same_both_ways(args: &[&str]) -> String {
    let indexed = hindsight(args, false);
    let full = hindsight(args, true);
    assert_eq!(
        indexed.status.code(),
        full.status.code(),
        "{args:?}: status"
    );
    assert_eq!(
        String::from_utf8_lossy(&indexed.stdout),
        String::from_utf8_lossy(&full.stdout),
        "{args:?}: stdout"
    );
    assert_eq!(
        String::from_utf8_lossy(&indexed.stderr),
        String::from_utf8_lossy(&full.stderr),
        "{args:?}: stderr"
    );
    String::from_utf8_lossy(&indexed.stdout).into_owned()
}

/// Steps a query skipped with the index (from its debug log line).
fn skipped(args: &[&str]) -> u64 {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hindsight"));
    cmd.args(args)
        .env("RUST_LOG", "query=debug")
        .env_remove("HINDSIGHT_QUERY_FULL_WALK")
        .env_remove("HINDSIGHT_QUERY_NO_INDEX");
    let out = run_with_timeout(cmd, HINDSIGHT_TIMEOUT).expect("hindsight ran");
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| l.split("step index: ").nth(1))
        .filter_map(|l| l.split(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// Record `fixture`, then write its steps again with a checkpoint every
/// `every` steps (the recorder's is 500: a fixture would be one segment).
fn record(py: &common::Interpreter, dir: &Path, fixture: &str, opcode: bool) -> PathBuf {
    let src = common::repo_root().join("tests/fixtures").join(fixture);
    let tag = if opcode { "op" } else { "line" };
    let hsr = dir.join(format!("{fixture}.{}.{tag}.hsr", py.minor));
    let mode = common::Mode {
        record_args: if opcode {
            &["--granularity", "opcode"]
        } else {
            &[]
        },
        ..common::Mode::default()
    };
    let out = common::run_record_in(
        Path::new(env!("CARGO_BIN_EXE_hindsight")),
        &py.path,
        &src,
        &hsr,
        &mode,
    )
    .unwrap();
    assert!(
        out.status.success(),
        "{fixture} on {}: {}",
        py.minor,
        String::from_utf8_lossy(&out.stderr)
    );
    let small = dir.join(format!("{fixture}.{}.{tag}.small.hsr", py.minor));
    rewrite(&hsr, &small, 3);
    small
}

/// The recording at `from` written again at `to` by the store's writer,
/// with a checkpoint every `every` steps: the same steps, sources and
/// times, in many small segments, each with its postings.
fn rewrite(from: &Path, to: &Path, every: u64) {
    let r = Reader::open(from).unwrap();
    let opts = WriterOptions {
        checkpoint_every: every,
        channel_capacity: 64,
        key_every: 4,
    };
    let w = Writer::create(to, r.header().clone(), opts).unwrap();
    for f in r.source_files() {
        if let Some(s) = r.source(&f) {
            w.keep_source((*s).clone());
        }
    }
    for n in r.first_step()..r.step_count() {
        w.send_at(r.ops(Step(n)).unwrap(), r.time(n)).unwrap();
    }
    w.finish(r.end().expect("a finished recording").clone())
        .unwrap();
}

/// Expressions asked of each fixture, and conditions for `find`.
const ASKED: &[(&str, &[&str], &[&str])] = &[
    (
        "omniscient.py",
        &["X", "X[0]", "Y", "mine", "table", "box.count", "vals", "a"],
        &[
            "len(X) > 4",
            "box.count == 10",
            "a == 2 and b == 1",
            "size < 4",
        ],
    ),
    (
        "c_mutations.py",
        &["data", "data[0]", "conf", "rec.name", "chars"],
        &[
            "len(data) < 3",
            "popped == 8",
            "len(chars) == 4 and chars[0] == 'a'",
        ],
    ),
    (
        "aliasing.py",
        &["a", "b", "lst", "nested", "h.items"],
        &["len(lst) > 2", "a == b"],
    ),
    (
        "address_reuse.py",
        &["vals", "words", "swap", "counts"],
        &["len(vals) > 3", "swap == 1"],
    ),
    (
        "bubble.py",
        &["values", "values[3]", "items", "i", "j", "self.swaps"],
        &[
            "i == 5",
            "self.swaps > 10",
            "values[0] < 10",
            "j == 0 and i == 3",
        ],
    ),
    (
        "recursion.py",
        &["n", "moves", "src"],
        &["n == 3", "len(moves) == 7"],
    ),
    (
        "generators.py",
        &["n", "received", "values", "x"],
        &["n == 1", "len(received) > 1"],
    ),
];

fn steps(info: &str) -> u64 {
    info.lines()
        .find_map(|l| l.strip_prefix("steps:"))
        .and_then(|s| s.trim().parse().ok())
        .expect("info says how many steps")
}

#[test]
fn queries_with_the_index_answer_as_the_full_walk() {
    let dir = tempfile::tempdir().unwrap();
    let mut passed = 0;
    for py in common::supported_interpreters() {
        for (k, (fixture, exprs, conds)) in ASKED.iter().enumerate() {
            // Opcode recordings for two fixtures (all of them would double
            // the test's time for the same paths).
            for opcode in [false, k < 2] {
                if opcode && k >= 2 {
                    continue;
                }
                let hsr = record(&py, dir.path(), fixture, opcode);
                let r = hsr.to_str().unwrap();
                let info =
                    String::from_utf8_lossy(&hindsight(&["info", r], false).stdout).into_owned();
                let count = steps(&info);
                let last = (count - 1).to_string();
                let every = (count / 12).max(1) as usize;
                for e in *exprs {
                    same_both_ways(&["history", r, e]);
                    same_both_ways(&["history", r, e, "--json"]);
                    passed += skipped(&["history", r, e]);
                    for s in (0..count).step_by(every).chain([count - 1]) {
                        same_both_ways(&["last-write", r, &s.to_string(), e, "--json"]);
                    }
                    passed += skipped(&["last-write", r, &last, e]);
                    same_both_ways(&["object", r, &last, e]);
                    same_both_ways(&["object", r, &last, e, "--json"]);
                    passed += skipped(&["object", r, &last, e]);
                    let never = format!("{e} != {e}");
                    same_both_ways(&["find", r, &never]);
                    passed += skipped(&["find", r, &never]);
                }
                for c in *conds {
                    same_both_ways(&["find", r, c, "--json"]);
                    same_both_ways(&["find", r, c, "--all", "--json"]);
                    let mid = (count / 2).to_string();
                    same_both_ways(&["find", r, c, "--all", "--from", &mid]);
                    same_both_ways(&["find", r, c, "--to", &mid]);
                    passed += skipped(&["find", r, c, "--all"]);
                }
                for (a, b) in [(0, count - 1), (count / 3, 2 * count / 3)] {
                    same_both_ways(&["diff", r, &a.to_string(), &b.to_string(), "--json"]);
                }
            }
        }
    }
    assert!(passed > 0, "no query skipped a step with the index");
}
