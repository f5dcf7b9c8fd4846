//! Round trips: random op sequences written and read back, state by state,
//! for complete files, files being written and files whose writer stopped.

mod common;

use common::{random_recording, write, Rng};
use store::{
    format, ObjAddr, Op, Reader, Scope, Step, StoreError, Writer, WriterOptions, FORMAT_VERSION,
};

#[test]
fn every_state_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.hsr");
    let (ops, states) = random_recording(7, 2500);
    write(&path, &ops, 100, true);
    let r = Reader::open(&path).unwrap();
    assert!(r.is_complete());
    assert_eq!(r.step_count(), 2500);
    assert_eq!(r.header().format_version, FORMAT_VERSION);
    assert_eq!(r.header().program, common::header().program);
    let end = r.end().unwrap();
    assert_eq!(end.steps, 2500);
    assert_eq!(end.reason, "program exited");
    assert_eq!(r.file_size(), std::fs::metadata(&path).unwrap().len());
    // In order (the cached path) ...
    for (n, s) in states.iter().enumerate() {
        assert_eq!(&r.state(Step(n as u64)).unwrap(), s, "step {n}");
    }
    // ... and in random order (the checkpoint path).
    let mut rng = Rng(99);
    for _ in 0..500 {
        let n = rng.below(2500) as usize;
        assert_eq!(r.state(Step(n as u64)).unwrap(), states[n], "step {n}");
    }
    // A fresh reader starting in the middle of a segment.
    let r = Reader::open(&path).unwrap();
    assert_eq!(r.state(Step(1234)).unwrap(), states[1234]);
    assert_eq!(r.ops(Step(77)).unwrap(), ops[77]);
}

#[test]
fn ranges_of_metas_and_states() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.hsr");
    let (ops, states) = random_recording(3, 700);
    write(&path, &ops, 64, true);
    let r = Reader::open(&path).unwrap();
    let metas = r.metas(Step(60), Step(300)).unwrap();
    assert_eq!(metas.len(), 241);
    for (i, m) in metas.iter().enumerate() {
        assert_eq!(Some(m), states[60 + i].meta.as_ref());
    }
    let got: Vec<_> = r
        .states(Step(120), Step(260))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(got, states[120..=260]);
    let mut seen = Vec::new();
    r.for_each_state(Step(600), Step(699), |s| {
        seen.push(s.clone());
        true
    })
    .unwrap();
    assert_eq!(seen, states[600..]);
    assert_eq!(r.metas(Step(5), Step(4)).unwrap(), vec![]);
    assert!(matches!(
        r.metas(Step(0), Step(700)),
        Err(StoreError::StepOutOfRange {
            step: Step(700),
            count: 700
        })
    ));
    assert!(r.states(Step(0), Step(701)).is_err());
}

#[test]
fn out_of_range_and_empty_recordings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.hsr");
    write(&path, &[], 10, true);
    let r = Reader::open(&path).unwrap();
    assert!(r.is_complete());
    assert_eq!(r.step_count(), 0);
    let e = r.state(Step(0)).unwrap_err();
    assert!(matches!(e, StoreError::StepOutOfRange { count: 0, .. }));
    let (ops, _) = random_recording(5, 30);
    write(&path, &ops, 1000, true);
    let r = Reader::open(&path).unwrap();
    let e = r.state(Step(30)).unwrap_err();
    assert!(e.to_string().contains("step 30 is out of range"), "{e}");
    assert!(e.to_string().contains("0..=29"), "{e}");
}

#[test]
fn dropped_writer_leaves_a_readable_incomplete_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.hsr");
    let (ops, states) = random_recording(11, 1001);
    write(&path, &ops, 300, false);
    let r = Reader::open(&path).unwrap();
    assert!(!r.is_complete());
    assert!(r.end().is_none());
    assert_eq!(r.step_count(), 1001);
    for n in (0..1001).rev().step_by(7) {
        assert_eq!(r.state(Step(n)).unwrap(), states[n as usize]);
    }
}

#[test]
fn bad_ops_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.hsr");
    let (ops, _) = random_recording(13, 3);
    let w = Writer::create(&path, common::header(), WriterOptions::default()).unwrap();
    // Wrong step number: refused at once, the writer goes on.
    assert!(matches!(
        w.send(ops[1].clone()),
        Err(StoreError::BadOps { .. })
    ));
    assert!(matches!(
        w.send(vec![Op::HeapDel(ObjAddr(1))]),
        Err(StoreError::BadOps { .. })
    ));
    w.send(ops[0].clone()).unwrap();
    // Ops that cannot apply stop the writer, with the cause.
    let mut bad = ops[1].clone();
    bad.push(Op::HeapItems {
        addr: ObjAddr(0xdead),
        start: 0,
        new: vec![],
        len: 1,
    });
    w.send(bad).unwrap();
    // Steps sent after it are dropped (the writer no longer writes).
    w.send(ops[2].clone()).unwrap();
    let summary = w.finish(common::end()).unwrap();
    let cut = summary.cut.expect("the recording is cut");
    assert!(cut.contains("0xdead"), "{cut}");
    assert_eq!(summary.steps, 1);
    // Every step before it reads back, and the end record says where and why.
    let r = Reader::open(&path).unwrap();
    assert_eq!(r.step_count(), 1);
    r.state(Step(0)).unwrap();
    let reason = &r.end().expect("an end record").reason;
    assert!(
        reason.starts_with(store::CUT) && reason.contains("0xdead"),
        "{reason}"
    );
}

#[test]
fn a_file_being_written_can_be_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.hsr");
    let (ops, states) = random_recording(17, 250);
    let w = Writer::create(
        &path,
        common::header(),
        WriterOptions {
            checkpoint_every: 100,
            channel_capacity: 4,
            key_every: 3,
        },
    )
    .unwrap();
    for o in &ops[..200] {
        w.send(o.clone()).unwrap();
    }
    // Steps 0..200 are sealed at the checkpoint after step 199; wait for the
    // writer to report its bytes (a condition, bounded in time).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut r = loop {
        let r = Reader::open(&path).unwrap();
        if r.step_count() >= 200 || std::time::Instant::now() > deadline {
            break r;
        }
        std::thread::yield_now();
    };
    assert!(!r.is_complete());
    assert_eq!(r.step_count(), 200);
    assert_eq!(r.state(Step(199)).unwrap(), states[199]);
    for o in &ops[200..] {
        w.send(o.clone()).unwrap();
    }
    w.finish(common::end()).unwrap();
    assert!(r.refresh().unwrap());
    assert_eq!(r.step_count(), 250);
    assert!(r.is_complete());
    assert_eq!(r.state(Step(249)).unwrap(), states[249]);
    assert!(!r.refresh().unwrap());
}

/// The end offset of every segment of a file and the steps readable once
/// the file holds everything up to it.
fn segment_ends(bytes: &[u8]) -> Vec<(u64, u64)> {
    let hlen = format::le_u32(&bytes[12..16]) as u64;
    let mut off = format::PREAMBLE_LEN + hlen;
    let mut steps = 0;
    let mut out = Vec::new();
    while off < bytes.len() as u64 {
        let fb: [u8; 32] = bytes[off as usize..off as usize + 32].try_into().unwrap();
        let f = format::parse_frame(&fb, off).unwrap();
        if f.kind == format::SegKind::Deltas {
            steps += u64::from(f.count);
        }
        off += f.total_len();
        out.push((off, steps));
    }
    out
}

#[test]
fn truncated_files_answer_up_to_their_last_complete_segment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.hsr");
    let (ops, states) = random_recording(23, 400);
    write(&path, &ops, 10, true);
    let full = std::fs::read(&path).unwrap();
    let ends = segment_ends(&full);
    // The last three segments are the end record, the index and the footer.
    let end_record_done = ends[ends.len() - 3].0;
    let data_start = format::PREAMBLE_LEN + u64::from(format::le_u32(&full[12..16]));
    let cut_path = dir.path().join("cut.hsr");
    let mut rng = Rng(5);
    let mut cuts: Vec<u64> = (0..150).map(|_| rng.below(full.len() as u64)).collect();
    cuts.extend(ends.iter().map(|e| e.0));
    cuts.extend(ends.iter().map(|e| e.0 - 1));
    for cut in cuts {
        std::fs::write(&cut_path, &full[..cut as usize]).unwrap();
        let r = match Reader::open(&cut_path) {
            Ok(r) => r,
            Err(e) => {
                // Only a cut inside the preamble and header may fail.
                assert!(cut < data_start, "cut {cut}: {e}");
                continue;
            }
        };
        let expected = ends
            .iter()
            .filter(|e| e.0 <= cut)
            .map(|e| e.1)
            .max()
            .unwrap_or(0);
        assert_eq!(r.step_count(), expected, "cut at {cut}");
        assert_eq!(r.is_complete(), cut >= end_record_done, "cut {cut}");
        if expected > 0 {
            let n = rng.below(expected);
            assert_eq!(r.state(Step(n)).unwrap(), states[n as usize]);
            assert_eq!(
                r.state(Step(expected - 1)).unwrap(),
                states[expected as usize - 1]
            );
        }
    }
}

#[test]
fn names_keep_their_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.hsr");
    let (mut ops, _) = random_recording(29, 2);
    ops[0].truncate(1);
    ops[1].truncate(1);
    for name in ["z", "a", "m"] {
        ops[0].push(Op::Bind {
            scope: Scope::Globals,
            name: name.into(),
            value: ObjAddr(1),
        });
    }
    ops[1].push(Op::Bind {
        scope: Scope::Globals,
        name: "a".into(),
        value: ObjAddr(2),
    });
    write(&path, &ops, 1, true);
    let r = Reader::open(&path).unwrap();
    let g: Vec<_> = r
        .state(Step(1))
        .unwrap()
        .globals
        .iter()
        .map(|(n, a)| (n.to_string(), a.0))
        .collect();
    assert_eq!(g, [("z".into(), 1), ("a".into(), 2), ("m".into(), 1)]);
}

#[test]
fn reader_and_writer_can_move_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Reader>();
    send_sync::<Writer>();
}

#[test]
fn kept_sources_read_back_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.hsr");
    let (ops, _) = random_recording(23, 300);
    // common::write keeps a source before every 97th step.
    write(&path, &ops, 50, true);
    let r = Reader::open(&path).unwrap();
    let names = r.source_files();
    assert_eq!(
        names,
        ["/src/m0.py", "/src/m97.py", "/src/m194.py", "/src/m291.py"]
    );
    let s = r.source("/src/m97.py").unwrap();
    assert_eq!(s.line(1), Some("x = 97"));
    assert_eq!(
        s.lines().len(),
        1 + 97 % 7 + 1,
        "a line each, and the one after the last newline"
    );
    assert!(r.source("/src/other.py").is_none());
    // The same by scanning, the footer cut off.
    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.path().join("cut.hsr");
    std::fs::write(&cut, &bytes[..bytes.len() - 20]).unwrap();
    let r = Reader::open(&cut).unwrap();
    assert_eq!(r.source("/src/m0.py").unwrap().line(1), Some("x = 0"));
    // A recording of version 1 keeps none.
    let v1 =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/v1_bsort_prefix.hsr");
    let r = Reader::open(&v1).unwrap();
    assert!(r.source_files().is_empty());
}
