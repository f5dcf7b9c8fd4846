//! One damaged segment loses only what it holds: for a flipped byte in
//! each kind of segment (deltas, key and diff checkpoints, end, index,
//! footer, source, postings), in a complete file and in one whose writer was killed, every
//! step before the damaged segment reads back exactly, and a step that
//! cannot be read fails with advice naming a command that works. A byte
//! appended to a finished file loses nothing.

mod common;

use common::{random_recording, write, Rng};
use store::format::{parse_frame, SegKind, FRAME_LEN, PREAMBLE_LEN};
use store::{Reader, State, Step, StoreError};

/// Kind, first step and byte range of every segment of a well-formed file.
fn segments(bytes: &[u8]) -> Vec<(SegKind, u64, std::ops::Range<usize>)> {
    let header_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as u64;
    let mut off = (PREAMBLE_LEN + header_len) as usize;
    let mut out = Vec::new();
    while off < bytes.len() {
        let fb: [u8; FRAME_LEN as usize] = bytes[off..off + 32].try_into().unwrap();
        let f = parse_frame(&fb, off as u64).unwrap();
        let end = off + f.total_len() as usize;
        out.push((f.kind, f.first_step, off..end));
        off = end;
    }
    out
}

/// A few segments of each kind: the first, one in the middle, the last.
fn picks(segs: &[(SegKind, u64, std::ops::Range<usize>)]) -> Vec<usize> {
    let mut out = Vec::new();
    for kind in [
        SegKind::Deltas,
        SegKind::Checkpoint,
        SegKind::DiffCheckpoint,
        SegKind::End,
        SegKind::Index,
        SegKind::Footer,
        SegKind::Source,
        SegKind::Postings,
    ] {
        let of: Vec<usize> = (0..segs.len()).filter(|&i| segs[i].0 == kind).collect();
        assert!(!of.is_empty(), "the file has no {kind:?} segment");
        for i in [0, of.len() / 2, of.len() - 1] {
            if !out.contains(&of[i]) {
                out.push(of[i]);
            }
        }
    }
    out
}

/// The steps that must stay readable when segment `i` is damaged.
fn readable(
    segs: &[(SegKind, u64, std::ops::Range<usize>)],
    i: usize,
    total: u64,
    scan: bool,
) -> u64 {
    match segs[i].0 {
        SegKind::Deltas => segs[i].1,
        // Reading through the index, a damaged checkpoint costs time only.
        SegKind::Checkpoint | SegKind::DiffCheckpoint if !scan => total,
        // A scan stops there; the deltas before it end at its step.
        SegKind::Checkpoint | SegKind::DiffCheckpoint => segs[i].1 + 1,
        SegKind::End | SegKind::Index | SegKind::Footer => total,
        // A flight recording's first segment: nothing comes before it.
        SegKind::Ring => 0,
        // Read through the index, a damaged source costs its file only.
        // Likewise a damaged times segment costs the times of its steps,
        // and a damaged postings segment the index of its steps.
        SegKind::Source | SegKind::Times | SegKind::Postings if !scan => total,
        // A scan stops there: the steps of the deltas written before it.
        SegKind::Source | SegKind::Times | SegKind::Postings => segs[i..]
            .iter()
            .find(|s| s.0 == SegKind::Deltas)
            .map_or(total, |s| s.1),
    }
}

fn check(path: &std::path::Path, states: &[State], must: u64, what: &str) {
    let r = Reader::open(path).unwrap_or_else(|e| panic!("{what}: does not open: {e}"));
    assert!(
        r.step_count() >= must,
        "{what}: {} steps readable, {must} expected",
        r.step_count()
    );
    if must > 0 {
        let metas = r
            .metas(Step(0), Step(must - 1))
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(metas.len() as u64, must);
        let mut n = 0;
        r.for_each_state(Step(0), Step(must - 1), |s| {
            assert_eq!(s, &states[n], "{what}: step {n}");
            n += 1;
            true
        })
        .unwrap_or_else(|e| panic!("{what}: step {n}: {e}"));
        let mut rng = Rng(must);
        for _ in 0..10 {
            let k = rng.below(must);
            assert_eq!(
                r.state(Step(k)).unwrap(),
                states[k as usize],
                "{what}: state({k})"
            );
        }
    }
    // Past what must be readable: right or a corruption whose advice names
    // a command for the steps before it, never a wrong state.
    for k in must..r.step_count() {
        match r.state(Step(k)) {
            Ok(s) => assert_eq!(s, states[k as usize], "{what}: state({k})"),
            Err(e @ StoreError::Corrupt { .. }) => {
                let text = e.to_string();
                assert!(
                    text.contains("hindsight steps") || text.contains("record the program again"),
                    "{what}: {text}"
                );
                if let Some(to) = text.split("--to ").nth(1) {
                    let last: u64 = to.trim_end_matches('`').parse().unwrap();
                    assert!(
                        r.state(Step(last)).is_ok(),
                        "{what}: the advice names step {last}"
                    );
                }
            }
            Err(e) => panic!("{what}: state({k}): {e}"),
        }
    }
}

#[test]
fn a_flipped_byte_in_any_kind_of_segment_keeps_the_steps_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.hsr");
    let (ops, states) = random_recording(5, 400);
    write(&good, &ops, 20, true);
    let bytes = std::fs::read(&good).unwrap();
    let segs = segments(&bytes);
    let total = states.len() as u64;
    let bad = dir.path().join("bad.hsr");
    let mut rng = Rng(11);
    let mut tried = 0;
    for i in picks(&segs) {
        let (kind, first, range) = segs[i].clone();
        // In the frame, and in the payload.
        for at in [
            range.start + 4 + rng.below(28) as usize,
            range.end - 1 - rng.below(8) as usize,
        ] {
            let at = at.max(range.start).min(range.end - 1);
            let mut b = bytes.clone();
            b[at] ^= 1 << rng.below(8);
            std::fs::write(&bad, &b).unwrap();
            let what = format!("complete file, {kind:?} at step {first}, byte {at}");
            check(&bad, &states, readable(&segs, i, total, false), &what);
            // The same without end, index and footer: read by scanning.
            if !matches!(kind, SegKind::End | SegKind::Index | SegKind::Footer) {
                let cut = segs.iter().find(|s| s.0 == SegKind::End).unwrap().2.start;
                std::fs::write(&bad, &b[..cut]).unwrap();
                let what = format!("killed writer, {kind:?} at step {first}, byte {at}");
                check(&bad, &states, readable(&segs, i, total, true), &what);
                let r = Reader::open(&bad).unwrap();
                // Damage is reported, except where it looks like a tear: the
                // last segment of a cut file, or a length that now runs past
                // the end of the file (as a segment being written does).
                let last = segs.iter().rposition(|s| s.2.end <= cut).unwrap();
                let fb: [u8; 32] = b[range.start..range.start + 32].try_into().unwrap();
                let past_end = parse_frame(&fb, 0)
                    .is_ok_and(|f| range.start as u64 + f.total_len() > cut as u64);
                assert_eq!(r.damage().is_some(), i != last && !past_end, "{what}");
            }
            tried += 1;
        }
    }
    eprintln!("{tried} damaged files, every step before the damage read back");
}

#[test]
fn bytes_appended_to_a_finished_file_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.hsr");
    let (ops, states) = random_recording(6, 120);
    write(&good, &ops, 20, true);
    let bytes = std::fs::read(&good).unwrap();
    for extra in [&b"\n"[..], b"\0", b"HSEG", &[0xffu8; 100][..]] {
        let mut b = bytes.clone();
        b.extend_from_slice(extra);
        std::fs::write(&good, &b).unwrap();
        let r = Reader::open(&good).unwrap();
        assert!(r.is_complete(), "{extra:?}");
        assert_eq!(r.step_count(), 120);
        assert_eq!(r.state(Step(119)).unwrap(), states[119]);
        let d = r.damage().expect("the extra bytes are reported");
        assert_eq!(d.offset, bytes.len() as u64);
        assert_eq!(d.steps_before, 120);
    }
}

#[test]
fn a_damaged_header_says_to_record_again() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.hsr");
    let (ops, _) = random_recording(6, 30);
    write(&good, &ops, 20, true);
    let mut b = std::fs::read(&good).unwrap();
    b[PREAMBLE_LEN as usize + 3] ^= 4;
    std::fs::write(&good, &b).unwrap();
    let e = Reader::open(&good).err().expect("refused");
    assert!(e.to_string().contains("record the program again"), "{e}");
}
