//! Flight recordings (`--ring N`): the file holds at least the last N
//! steps, each state equal to the one a recording of every step holds, its
//! size bounded whatever the run's length; snapshots while recording goes
//! on; steps before the ring are refused naming the steps held.

mod common;

use common::{end, header, random_recording, Rng};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::{
    EventKind, Op, Reader, RingOptions, Step, StepMeta, StoreError, Writer, WriterOptions,
    RING_FORMAT_VERSION,
};

fn opts(k: u64) -> WriterOptions {
    WriterOptions {
        checkpoint_every: k,
        channel_capacity: 64,
        key_every: 4,
    }
}

fn ring_of(path: &std::path::Path, ops: &[Vec<Op>], k: u64, n: u64) -> Reader {
    let w = Writer::create_ring(path, header(), opts(k), RingOptions { steps: n }).unwrap();
    for o in ops {
        w.send(o.clone()).unwrap();
    }
    let s = w.finish(end()).unwrap();
    assert_eq!(s.steps, ops.len() as u64);
    Reader::open(path).unwrap()
}

#[test]
fn a_ring_holds_the_last_steps_with_their_states() {
    let dir = tempfile::tempdir().unwrap();
    let (ops, states) = random_recording(7, 3_000);
    for (k, n) in [(50, 10), (50, 120), (7, 1), (100, 5_000), (20, 400)] {
        let path = dir.path().join(format!("ring-{k}-{n}.hsr"));
        let r = ring_of(&path, &ops, k, n);
        let total = ops.len() as u64;
        let first = r.first_step();
        let kept = total - first;
        let every = RingOptions { steps: n }.anchor_every(k);
        assert!(kept >= n.min(total), "k {k} n {n}: kept {kept}");
        assert!(
            kept < n + every,
            "k {k} n {n}: kept {kept}, rotated every {every}"
        );
        assert_eq!(r.step_count(), total);
        assert!(r.is_complete());
        assert_eq!(r.header().format_version, RING_FORMAT_VERSION);
        let ring = r.ring().expect("a ring record");
        assert_eq!(ring.capacity, n);
        // Every state held, at random and in order, is the full recording's.
        for s in first..total {
            if s % 13 == 0 || s == first || s + 1 == total {
                assert_eq!(r.state(Step(s)).unwrap(), states[s as usize], "step {s}");
            }
        }
        let mut s = first;
        r.for_each_state(Step(first), Step(total - 1), |st| {
            assert_eq!(st, &states[s as usize], "step {s}");
            s += 1;
            true
        })
        .unwrap();
        // A scan of "every step" starts at the ring's first.
        let mut seen = Vec::new();
        r.scan_steps(Step(0), Step(total - 1), |v| {
            seen.push(v.meta.step.0);
            Ok::<_, StoreError>(true)
        })
        .unwrap();
        assert_eq!(seen, (first..total).collect::<Vec<_>>());
        let metas = r.metas(Step(first), Step(total - 1)).unwrap();
        assert_eq!(metas.len() as u64, kept);
        if first > 0 {
            let e = r.state(Step(first - 1)).unwrap_err();
            assert!(matches!(e, StoreError::NotInRing { .. }), "{e}");
            let msg = e.to_string();
            assert!(
                msg.contains(&format!("steps {first} to {}", total - 1)),
                "{msg}"
            );
        }
    }
}

fn loop_step(n: u64) -> Vec<Op> {
    let mut ops = vec![Op::Step(StepMeta {
        step: Step(n),
        event: EventKind::Line,
        thread: 1,
        file: "/src/app.py".into(),
        function: "<module>".into(),
        line: (n % 3) as u32 + 1,
        position: None,
        value: None,
        instruction: None,
    })];
    ops.push(Op::HeapSet(
        store::ObjAddr(1000 + n % 7),
        store::Node {
            type_name: "int".into(),
            kind: 1,
            text: n.to_string(),
            items: vec![],
            attrs: None,
            truncated: false,
        },
    ));
    ops.push(Op::Bind {
        scope: store::Scope::Globals,
        name: "i".into(),
        value: store::ObjAddr(1000 + n % 7),
    });
    ops
}

#[test]
fn a_long_run_keeps_the_file_small() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.hsr");
    let w = Writer::create_ring(&path, header(), opts(500), RingOptions { steps: 10 }).unwrap();
    let mut sizes = Vec::new();
    for n in 0..400_000u64 {
        w.send(loop_step(n)).unwrap();
        if n % 100_000 == 99_999 {
            sizes.push(w.progress().1);
        }
    }
    w.finish(end()).unwrap();
    let len = std::fs::metadata(&path).unwrap().len();
    // About 500 steps of a few bytes each: the same whatever the run's length.
    assert!(len < 64 * 1024, "{len} bytes");
    assert!(sizes.iter().all(|&s| s < 64 * 1024), "{sizes:?}");
    let r = Reader::open(&path).unwrap();
    assert_eq!(r.step_count(), 400_000);
    assert!(r.first_step() >= 399_000 && r.first_step() <= 399_990);
    let last = r.state(Step(399_999)).unwrap();
    assert_eq!(
        last.heap[&store::ObjAddr(1000 + 399_999 % 7)].text,
        "399999"
    );
}

#[test]
fn a_snapshot_is_readable_while_recording_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snap.hsr");
    let (ops, states) = random_recording(11, 2_000);
    let w = Writer::create_ring(&path, header(), opts(50), RingOptions { steps: 100 }).unwrap();
    let flag = Arc::new(AtomicBool::new(false));
    w.snapshot_on(flag.clone());
    for o in &ops[..1_200] {
        w.send(o.clone()).unwrap();
    }
    flag.store(true, std::sync::atomic::Ordering::SeqCst);
    // The writer takes the flag within its poll; wait for the file.
    let deadline = Instant::now() + Duration::from_secs(20);
    let r = loop {
        let r = Reader::open(&path).unwrap();
        if r.step_count() == 1_200 || Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(r.step_count(), 1_200);
    assert!(r.is_complete());
    assert_eq!(r.end().unwrap().end, store::ProgramEnd::StillRunning);
    let first = r.first_step();
    assert!(first > 0 && 1_200 - first >= 100);
    assert_eq!(r.state(Step(1_199)).unwrap(), states[1_199]);
    assert_eq!(r.state(Step(first)).unwrap(), states[first as usize]);
    for o in &ops[1_200..] {
        w.send(o.clone()).unwrap();
    }
    w.finish(end()).unwrap();
    let r = Reader::open(&path).unwrap();
    assert_eq!(r.step_count(), 2_000);
    assert_eq!(r.end().unwrap().end, store::ProgramEnd::Exited(0));
    assert_eq!(r.state(Step(1_999)).unwrap(), states[1_999]);
    // No temporary file is left next to it.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn a_ring_left_unfinished_reads_by_scanning() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dropped.hsr");
    let (ops, states) = random_recording(5, 1_000);
    let mut rng = Rng(3);
    let n = 50 + rng.below(100);
    {
        let w = Writer::create_ring(&path, header(), opts(30), RingOptions { steps: n }).unwrap();
        for o in &ops {
            w.send(o.clone()).unwrap();
        }
    }
    let r = Reader::open(&path).unwrap();
    assert!(!r.is_complete());
    assert_eq!(r.step_count(), 1_000);
    assert!(1_000 - r.first_step() >= n);
    assert_eq!(r.state(Step(999)).unwrap(), states[999]);
}

#[test]
fn a_damaged_ring_reads_up_to_its_damage() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("whole.hsr");
    let (ops, states) = random_recording(9, 600);
    let r = ring_of(&path, &ops, 40, 100);
    let first = r.first_step();
    let bytes = std::fs::read(&path).unwrap();
    let mut rng = Rng(17);
    for case in 0..60 {
        let mut bad = bytes.clone();
        // Past the preamble and header: damage there leaves nothing.
        let at = 200 + rng.below(bad.len() as u64 - 200) as usize;
        bad[at] ^= 1 << rng.below(8);
        let p = dir.path().join(format!("bad{case}.hsr"));
        std::fs::write(&p, &bad).unwrap();
        let Ok(r) = Reader::open(&p) else { continue };
        // Whatever still reads is the recording's own state.
        for s in r.first_step()..r.step_count() {
            match r.state(Step(s)) {
                Ok(st) => assert_eq!(st, states[s as usize], "case {case}: step {s}"),
                Err(e) => {
                    let msg = e.to_string();
                    assert!(msg.contains("corrupt"), "case {case}: {msg}");
                    break;
                }
            }
        }
        assert!(
            r.first_step() == first || r.step_count() <= first + 1,
            "case {case}"
        );
    }
}
