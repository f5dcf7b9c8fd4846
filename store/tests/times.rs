//! Step times (format 4): sent with the steps, read back per step from a
//! recording of every step and from a flight recording; a step sent
//! without one leaves its segment without times; the segments read as any
//! other in a file still being written.

mod common;

use common::{end, header, random_recording};
use store::{Reader, RingOptions, Writer, WriterOptions};

fn opts() -> WriterOptions {
    WriterOptions {
        checkpoint_every: 50,
        channel_capacity: 64,
        key_every: 4,
    }
}

/// A time per step: not evenly spaced, never going back.
fn time_of(n: u64) -> u64 {
    1_000_000_000 + n * 1_000 + (n * 7919 % 13) * (n % 3)
}

#[test]
fn every_step_reads_back_its_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.hsr");
    let (ops, _) = random_recording(5, 700);
    let w = Writer::create(&path, header(), opts()).unwrap();
    for (n, o) in ops.iter().enumerate() {
        w.send_at(o.clone(), Some(time_of(n as u64))).unwrap();
    }
    w.finish(end()).unwrap();
    let r = Reader::open(&path).unwrap();
    assert!(r.has_times());
    assert_eq!(r.header().format_version, store::FORMAT_VERSION);
    let mut last = 0;
    for n in 0..700u64 {
        let t = r.time(n).expect("a time");
        let want = time_of(n).max(last);
        assert_eq!(t, want, "step {n}");
        last = t;
    }
    assert_eq!(r.time(700), None);
}

#[test]
fn a_step_without_a_time_leaves_its_segment_without_times() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.hsr");
    let (ops, _) = random_recording(6, 120);
    let w = Writer::create(&path, header(), opts()).unwrap();
    for (n, o) in ops.iter().enumerate() {
        // Step 60 (in the segment of steps 50 to 99) has none.
        let t = (n != 60).then_some(time_of(n as u64));
        w.send_at(o.clone(), t).unwrap();
    }
    w.finish(end()).unwrap();
    let r = Reader::open(&path).unwrap();
    assert_eq!(r.time(49), Some(time_of(49)));
    assert_eq!(r.time(50), None);
    assert_eq!(r.time(99), None);
    assert_eq!(r.time(100), Some(time_of(100)));
    // Sent without times at all: none.
    let plain = dir.path().join("p.hsr");
    common::write(&plain, &ops, 50, true);
    let r = Reader::open(&plain).unwrap();
    assert!(!r.has_times());
    assert_eq!(r.time(3), None);
}

#[test]
fn a_flight_recording_keeps_the_times_of_its_steps() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ring.hsr");
    let (ops, _) = random_recording(8, 2_000);
    let w = Writer::create_ring(&path, header(), opts(), RingOptions { steps: 300 }).unwrap();
    for (n, o) in ops.iter().enumerate() {
        w.send_at(o.clone(), Some(time_of(n as u64))).unwrap();
    }
    w.finish(end()).unwrap();
    let r = Reader::open(&path).unwrap();
    let first = r.first_step();
    assert!(first > 0 && r.step_count() == 2_000);
    // The ring's first step is its whole state, without a time.
    for n in first + 1..2_000 {
        assert_eq!(r.time(n), Some(time_of(n)), "step {n}");
    }
}
