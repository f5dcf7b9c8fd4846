//! The step index: the postings of each deltas segment name exactly the
//! steps whose ops change each object, name and scope (built here from
//! the ops alone), and the items each `HeapItems` wrote; a damaged
//! postings segment is not used (the reader logs it and answers `None`)
//! and costs no step; a flight recording keeps the postings of the steps
//! it holds only, and a file cut short reads without them.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{end, header, random_recording, write};
use store::format::{parse_frame, SegKind, FRAME_LEN, PREAMBLE_LEN};
use store::{Op, PostingKey, Reader, RingOptions, Step, Writer, WriterOptions};

/// Per key (but the stack's shape), the steps of `from..to` whose ops change it.
fn expected(ops: &[Vec<Op>], from: u64, to: u64) -> BTreeMap<PostingKey, BTreeSet<u64>> {
    let mut out: BTreeMap<PostingKey, BTreeSet<u64>> = BTreeMap::new();
    for n in from..to {
        for op in &ops[n as usize] {
            let key = match op {
                Op::HeapSet(a, _) | Op::HeapDel(a) | Op::HeapItems { addr: a, .. } => {
                    PostingKey::Object(*a)
                }
                Op::Bind { scope, name, .. } | Op::Unbind { scope, name } => {
                    PostingKey::Name(*scope, name.clone())
                }
                Op::ClearScope(scope) => PostingKey::Clear(*scope),
                _ => continue,
            };
            out.entry(key).or_default().insert(n);
        }
    }
    out
}

/// Check the postings of every segment from `from` on against the ops;
/// returns the segments checked.
fn check_all(r: &Reader, ops: &[Vec<Op>], from: u64) -> usize {
    let mut n = from;
    let mut checked = 0;
    while n < r.step_count() {
        let p = r
            .postings_from(n)
            .unwrap_or_else(|| panic!("no postings from step {n}"));
        assert_eq!(Some(p.end() - 1), r.segment_last(n));
        let got: BTreeMap<PostingKey, BTreeSet<u64>> = p
            .iter()
            .filter(|(k, _)| **k != PostingKey::Frames)
            .map(|(k, s)| (k.clone(), s.iter().copied().collect()))
            .collect();
        assert_eq!(got, expected(ops, n, p.end()), "segment from {n}");
        // Item ranges cover what each HeapItems wrote.
        for s in n..p.end() {
            for op in &ops[s as usize] {
                if let Op::HeapItems {
                    addr, start, new, ..
                } = op
                {
                    let ranges = p.items(*addr).expect("ranges for a HeapItems");
                    let r = ranges.iter().find(|r| r.step == s).expect("its step");
                    for i in 0..new.len() as u32 {
                        assert!(r.covers(start + i), "step {s}: item {}", start + i);
                    }
                }
            }
        }
        checked += 1;
        n = p.end();
    }
    checked
}

/// Kind, first step and frame offset of every segment of a file.
fn segments(bytes: &[u8]) -> Vec<(SegKind, u64, usize)> {
    let header_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as u64;
    let mut off = (PREAMBLE_LEN + header_len) as usize;
    let mut out = Vec::new();
    while off < bytes.len() {
        let fb: [u8; FRAME_LEN as usize] = bytes[off..off + 32].try_into().unwrap();
        let f = parse_frame(&fb, off as u64).unwrap();
        out.push((f.kind, f.first_step, off));
        off += f.total_len() as usize;
    }
    out
}

#[test]
fn postings_name_the_steps_that_change_each_key() {
    let dir = tempfile::tempdir().unwrap();
    let (ops, _) = random_recording(11, 1_500);
    for k in [1, 7, 50, 500] {
        let path = dir.path().join(format!("k{k}.hsr"));
        write(&path, &ops, k, true);
        let r = Reader::open(&path).unwrap();
        assert!(r.has_postings());
        assert!(check_all(&r, &ops, 0) > 0);
        // Cut short (no end, index or footer): read by scanning, the same.
        let cut = dir.path().join(format!("k{k}.cut.hsr"));
        write(&cut, &ops, k, false);
        let r = Reader::open(&cut).unwrap();
        check_all(&r, &ops, 0);
    }
}

#[test]
fn a_damaged_postings_segment_is_not_used_and_costs_no_step() {
    let dir = tempfile::tempdir().unwrap();
    let (ops, states) = random_recording(5, 400);
    let good = dir.path().join("good.hsr");
    write(&good, &ops, 20, true);
    let bytes = std::fs::read(&good).unwrap();
    let postings: Vec<(u64, usize)> = segments(&bytes)
        .into_iter()
        .filter(|s| s.0 == SegKind::Postings)
        .map(|s| (s.1, s.2))
        .collect();
    assert!(postings.len() > 3);
    let (first, off) = postings[postings.len() / 2];
    // A flipped byte in its payload (a CRC that no longer matches) or in
    // its frame.
    for at in [off + FRAME_LEN as usize + 1, off + 9] {
        let mut bad = bytes.clone();
        bad[at] ^= 0x20;
        let path = dir.path().join("bad.hsr");
        std::fs::write(&path, &bad).unwrap();
        let r = Reader::open(&path).unwrap();
        assert_eq!(r.step_count(), ops.len() as u64);
        assert!(r.postings_from(first).is_none(), "damage at {at}");
        assert!(r.postings_from(0).is_some());
        for (k, s) in states.iter().enumerate() {
            assert_eq!(&r.state(Step(k as u64)).unwrap(), s, "state({k})");
        }
    }
}

#[test]
fn a_ring_keeps_the_postings_of_the_steps_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    let (ops, _) = random_recording(9, 3_000);
    let path = dir.path().join("ring.hsr");
    let opts = WriterOptions {
        checkpoint_every: 20,
        channel_capacity: 64,
        key_every: 4,
    };
    let w = Writer::create_ring(&path, header(), opts, RingOptions { steps: 300 }).unwrap();
    for o in &ops {
        w.send(o.clone()).unwrap();
    }
    w.finish(end()).unwrap();
    let r = Reader::open(&path).unwrap();
    let first = r.first_step();
    assert!(first > 0);
    // The ring's first step is its whole state: no postings; the steps
    // after it have theirs, right.
    assert!(r.postings_from(first).is_none());
    assert!(check_all(&r, &ops, first + 1) > 0);
    let bytes = std::fs::read(&path).unwrap();
    for (kind, step, _) in segments(&bytes) {
        if kind == SegKind::Postings {
            assert!(
                step > first,
                "postings of step {step}, before the ring's {first}"
            );
        }
    }
}
