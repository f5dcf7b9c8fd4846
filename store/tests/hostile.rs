//! The reader's fuzz test, on the stable toolchain: hostile recordings from
//! a structure-aware generator (tests/gen: valid frames and CRC32s, hostile
//! contents) are opened and queried every way the CLI does (rendering is
//! the values crate's, bounded and tested there), in a child
//! process whose address space is limited (`prlimit --as`), so an unbounded
//! allocation aborts it and fails the test. Every case must give an error
//! or an answer, never a panic, within its time.
//!
//! `cargo test` runs `HOSTILE_CASES` cases (200 by default) from
//! `HOSTILE_SEED`; a longer run (docs/store-format.md, "Hostile files"):
//! `HOSTILE_CASES=20000 cargo test --release -p store --test hostile`.

mod common;
mod gen;

use common::Rng;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use store::{Reader, Step};

/// The child's address-space limit: a query may hold a payload (up to
/// 1 GiB), its decoded ops (512 MiB as counted) and a state (the same).
const AS_LIMIT: u64 = 3 << 30;

/// The longest a case may take (a loaded machine included).
const CASE_TIME: Duration = Duration::from_secs(60);

fn cases() -> u64 {
    std::env::var("HOSTILE_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200)
}

fn seed() -> u64 {
    std::env::var("HOSTILE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x0405_711e)
}

/// What a case came to.
#[derive(Default)]
struct Tally {
    refused: u64,
    opened: u64,
    steps_read: u64,
    errors: u64,
    truths: u64,
    slowest: Duration,
}

/// Query an opened recording as the CLI does: metas, states in order and
/// at random, ops; each error ends that query.
fn exercise(path: &Path, rng: &mut Rng, t: &mut Tally) {
    let r = match Reader::open(path) {
        Ok(r) => r,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            t.refused += 1;
            return;
        }
    };
    t.opened += 1;
    let n = r.step_count();
    if n == 0 {
        return;
    }
    match r.iter_metas(Step(0), Step(n - 1)) {
        Ok(metas) => {
            for m in metas.take(10_000) {
                if m.is_err() {
                    t.errors += 1;
                    break;
                }
            }
        }
        Err(_) => t.errors += 1,
    }
    let mut seen = 0;
    let r2 = r.for_each_state(Step(0), Step(n - 1), |_| {
        seen += 1;
        seen < 200
    });
    t.steps_read += seen;
    t.errors += u64::from(r2.is_err());
    for _ in 0..4 {
        let k = rng.below(n);
        t.errors += u64::from(r.state(Step(k)).is_err());
        let _ = r.ops(Step(k));
    }
}

/// Run by `hostile_files_fail_cleanly_within_bounds` in a child process.
#[test]
#[ignore = "run by hostile_files_fail_cleanly_within_bounds, under an address-space limit"]
fn hostile_child() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hostile.hsr");
    let mut t = Tally::default();
    let (first, n) = (seed(), cases());
    for case in first..first + n {
        let mut rng = Rng(case.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        // Half the cases are hostile throughout; half are valid recordings
        // with one hostile op, whose steps before it must read back exactly.
        let (bytes, truth) = if case % 2 == 0 {
            (gen::file(&mut rng), None)
        } else {
            let (b, bad, states) = gen::spliced(&mut rng);
            (b, Some((bad, states)))
        };
        std::fs::write(&path, &bytes).unwrap();
        // Said before the case runs: if it aborts, this names it.
        eprintln!("case {case}: {} bytes", bytes.len());
        let start = Instant::now();
        exercise(&path, &mut rng, &mut t);
        if let Some((bad, states)) = truth {
            let r = Reader::open(&path).expect("a spliced recording opens");
            assert!(
                r.step_count() > bad as u64,
                "case {case}: steps lost before the bad one"
            );
            for k in (0..bad).step_by(1 + bad / 20) {
                assert_eq!(
                    r.state(Step(k as u64)).unwrap(),
                    states[k],
                    "case {case}: step {k}"
                );
            }
            t.truths += 1;
        }
        let took = start.elapsed();
        assert!(took < CASE_TIME, "case {case} took {took:?}");
        t.slowest = t.slowest.max(took);
    }
    let peak = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_string())
        })
        .unwrap_or_default();
    println!(
        "HOSTILE {n} cases: {} refused at open, {} opened, {} steps read, {} query errors, {} spliced files whose steps before the hostile op read back exactly, slowest case {:?}, peak memory {peak} kB",
        t.refused, t.opened, t.steps_read, t.errors, t.truths, t.slowest
    );
}

#[test]
fn hostile_files_fail_cleanly_within_bounds() {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("prlimit")
        .arg(format!("--as={AS_LIMIT}"))
        .arg("--")
        .arg(&exe)
        .args(["--ignored", "--exact", "hostile_child", "--nocapture"])
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            eprintln!("SKIPPED: prlimit cannot run ({e}); install util-linux");
            return;
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last_case = stderr.lines().rev().find(|l| l.starts_with("case "));
    assert!(
        out.status.success(),
        "a hostile file broke the reader ({}), last {last_case:?}; replay it with HOSTILE_SEED=<case> HOSTILE_CASES=1:\n{}",
        out.status,
        stderr.lines().rev().take(30).collect::<Vec<_>>().join("\n")
    );
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("HOSTILE"))
        .unwrap_or("");
    eprintln!("{summary}");
    assert!(!summary.is_empty(), "the child ran no cases:\n{stdout}");
}

/// The generator writes what rmp-serde writes for the same values.
#[test]
fn encoding_matches_rmp_serde() {
    use store::{ObjAddr, Op};
    let mut mp = gen::Mp::default();
    mp.variant("HeapItems").arr(4).u(16).u(2);
    mp.arr(2).u(5).u(300);
    mp.u(7);
    let op = Op::HeapItems {
        addr: ObjAddr(16),
        start: 2,
        new: vec![ObjAddr(5), ObjAddr(300)],
        len: 7,
    };
    assert_eq!(mp.0, rmp_serde::to_vec(&op).unwrap());
    let mut mp = gen::Mp::default();
    mp.variant("Bind").arr(3).s("Globals").s("x").u(1 << 40);
    let op = Op::Bind {
        scope: store::Scope::Globals,
        name: "x".into(),
        value: ObjAddr(1 << 40),
    };
    assert_eq!(mp.0, rmp_serde::to_vec(&op).unwrap());
}
