//! The writer's inbox: many steps through a small inbox (the producer blocks
//! on a full one), steps of an unfinished recording reaching readers within
//! `FLUSH_INTERVAL + POLL`, and the init hook running on the writer thread.

mod common;

use common::{header, random_recording};
use std::time::{Duration, Instant};
use store::writer::{FLUSH_INTERVAL, POLL};
use store::{EventKind, Op, Reader, Step, StepMeta, Writer, WriterOptions};

fn small_step(n: u64) -> Vec<Op> {
    vec![Op::Step(StepMeta {
        step: Step(n),
        event: EventKind::Line,
        thread: 1,
        file: "/src/app.py".into(),
        function: "f".into(),
        line: (n % 97) as u32 + 1,
        position: None,
        value: None,
        instruction: None,
    })]
}

#[test]
fn many_steps_through_a_small_inbox_all_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.hsr");
    let opts = WriterOptions {
        checkpoint_every: 1000,
        channel_capacity: 64,
        key_every: 4,
    };
    let w = Writer::create(&path, header(), opts).unwrap();
    for n in 0..20_000 {
        w.send(small_step(n)).unwrap();
    }
    assert_eq!(w.progress().0, 20_000);
    let summary = w.finish(common::end()).unwrap();
    assert_eq!(summary.steps, 20_000);
    let r = Reader::open(&path).unwrap();
    assert!(r.is_complete());
    assert_eq!(r.step_count(), 20_000);
    let metas = r.metas(Step(0), Step(19_999)).unwrap();
    for (n, m) in metas.iter().enumerate() {
        assert_eq!(m.step, Step(n as u64));
        assert_eq!(m.line, (n % 97) as u32 + 1);
    }
}

#[test]
fn random_steps_through_a_one_step_inbox_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.hsr");
    let (ops, states) = random_recording(31, 600);
    let opts = WriterOptions {
        checkpoint_every: 50,
        channel_capacity: 1,
        key_every: 3,
    };
    let w = Writer::create(&path, header(), opts).unwrap();
    for o in &ops {
        w.send(o.clone()).unwrap();
    }
    w.finish(common::end()).unwrap();
    let r = Reader::open(&path).unwrap();
    assert_eq!(r.step_count(), 600);
    for n in (0..600).step_by(13) {
        assert_eq!(r.state(Step(n)).unwrap(), states[n as usize]);
    }
}

#[test]
fn a_reader_sees_steps_of_an_unfinished_writer_within_the_flush_interval() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.hsr");
    // No checkpoint, no full segment, no half-full inbox: only the timers
    // bring these steps to the file.
    let opts = WriterOptions {
        checkpoint_every: 1_000_000,
        channel_capacity: 4096,
        key_every: 4,
    };
    let w = Writer::create(&path, header(), opts).unwrap();
    let mut sent = 0;
    for round in 0..3 {
        for _ in 0..5 {
            w.send(small_step(sent)).unwrap();
            sent += 1;
        }
        let t = Instant::now();
        // Bounded well above FLUSH_INTERVAL + POLL (a loaded test machine);
        // the assertion below checks the bound that matters, loosely.
        let deadline = t + Duration::from_secs(10);
        loop {
            let r = Reader::open(&path).unwrap();
            if r.step_count() == sent {
                assert!(!r.is_complete());
                assert_eq!(r.metas(Step(0), Step(sent - 1)).unwrap().len() as u64, sent);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "round {round}: steps not visible"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let took = t.elapsed();
        assert!(
            took < Duration::from_secs(1),
            "round {round}: took {took:?}, expected about {:?}",
            FLUSH_INTERVAL + POLL
        );
    }
    drop(w);
    let r = Reader::open(&path).unwrap();
    assert_eq!(r.step_count(), sent);
    assert!(!r.is_complete());
}

#[test]
fn init_runs_first_on_the_writer_thread() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.hsr");
    let (seen_tx, seen_rx) = std::sync::mpsc::channel();
    let w = Writer::create_with_init(
        &path,
        header(),
        WriterOptions::default(),
        Box::new(move || {
            let name = std::thread::current().name().map(str::to_owned);
            seen_tx.send(name).unwrap();
        }),
    )
    .unwrap();
    let name = seen_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(name.as_deref(), Some("hindsight-store"));
    w.send(small_step(0)).unwrap();
    assert_eq!(w.finish(common::end()).unwrap().steps, 1);
}

#[test]
fn a_writer_that_stopped_says_why_and_drops_later_steps() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.hsr");
    let opts = WriterOptions {
        channel_capacity: 2,
        ..WriterOptions::default()
    };
    let w = Writer::create(&path, header(), opts).unwrap();
    w.send(small_step(0)).unwrap();
    let mut bad = small_step(1);
    bad.push(Op::HeapItems {
        addr: store::ObjAddr(0xbeef),
        start: 0,
        new: vec![],
        len: 1,
    });
    w.send(bad).unwrap();
    // The writer stops on step 1; later sends (through a full inbox) are
    // dropped, never blocked, and `stopped` says why.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut n = 2;
    let cause = loop {
        w.send(small_step(n)).unwrap();
        n += 1;
        if let Some(c) = w.stopped() {
            break c;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the writer never stopped"
        );
    };
    assert!(cause.contains("0xbeef"), "{cause}");
    let summary = w.finish(common::end()).unwrap();
    assert_eq!(summary.steps, 1, "step 0 is kept, the rest dropped");
    assert!(summary.cut.is_some_and(|c| c.contains("0xbeef")));
    let r = store::Reader::open(&path).unwrap();
    assert_eq!(r.step_count(), 1);
}
