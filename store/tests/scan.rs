//! `Reader::scan` against the serde reading path: every step's meta and
//! ops, read as views, equal what `Reader::metas` and `Reader::ops` decode,
//! on random recordings and a version-1 file. (Damaged payloads: the unit
//! tests of store/src/reader/scan.rs.)

mod common;

use common::{random_recording, write};
use store::{Op, Reader, Step, StoreError};

/// Every step from `from` to `to` through the scan, as owned ops.
fn scanned(r: &Reader, from: u64, to: u64) -> Vec<Vec<Op>> {
    let mut out = Vec::new();
    r.scan_steps(Step(from), Step(to), |s| {
        let mut ops = vec![Op::Step(s.meta.to_meta())];
        for op in s.ops() {
            ops.push(op?.to_op().unwrap());
        }
        assert_eq!(ops.len(), s.op_count() as usize + 1);
        out.push(ops);
        Ok::<_, StoreError>(true)
    })
    .unwrap();
    out
}

#[test]
fn views_equal_the_decoded_ops() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.hsr");
    let (ops, _) = random_recording(11, 1500);
    write(&path, &ops, 100, true);
    let r = Reader::open(&path).unwrap();
    assert_eq!(scanned(&r, 0, 1499), ops);
    // From the middle of a segment to the middle of another.
    assert_eq!(scanned(&r, 333, 1001), ops[333..=1001]);
    assert_eq!(scanned(&r, 1499, 1499), ops[1499..]);
}

#[test]
fn the_scan_stops_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.hsr");
    let (ops, _) = random_recording(5, 300);
    write(&path, &ops, 50, false);
    let r = Reader::open(&path).unwrap();
    let mut seen = Vec::new();
    r.scan_steps(Step(10), Step(299), |s| {
        seen.push(s.meta.step.0);
        Ok::<_, StoreError>(s.meta.step.0 < 20)
    })
    .unwrap();
    assert_eq!(seen, (10..=20).collect::<Vec<_>>());
    let err = r.scan_steps(Step(0), Step(300), |_| Ok::<_, StoreError>(true));
    assert!(matches!(err, Err(StoreError::StepOutOfRange { .. })));
}

#[test]
fn version_1_files_scan() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/v1_bsort_prefix.hsr");
    let r = Reader::open(&path).unwrap();
    let last = r.step_count() - 1;
    let got = scanned(&r, 0, last);
    for (n, ops) in got.iter().enumerate() {
        assert_eq!(*ops, r.ops(Step(n as u64)).unwrap(), "step {n}");
    }
}
