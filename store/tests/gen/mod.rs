//! A generator of hostile recordings for the reader's fuzz test
//! (tests/hostile.rs): every file has a valid preamble, valid segment frames
//! and valid CRC32s, so it gets past the checks that catch random damage;
//! what the frames hold is hostile: lengths that lie (counts of 2^32 with
//! nothing behind them), sizes at and past every bound (items, texts,
//! stacks), payloads that compress a thousandfold, frames whose raw length
//! is wrong, indexes and footers that point anywhere, and junk msgpack.
//!
//! msgpack is written by hand here, in rmp-serde's compact layout (a struct
//! is an array, an enum variant a one-entry map), so a list can announce one
//! length and hold another; `encoding_matches_rmp_serde` checks the layout.

#![allow(dead_code)]

mod mp;

use crate::common::Rng;
pub use mp::Mp;
use store::format::{array32_prefix, encode_preamble, FLAG_ZSTD, MAX_PAYLOAD_LEN};
use store::{bounds, RecordingHeader};

/// A count: mostly small, sometimes at or past a bound, sometimes a lie.
fn count(rng: &mut Rng) -> u32 {
    match rng.below(30) {
        0 => bounds::MAX_ITEMS,
        1 => bounds::MAX_ITEMS + 1,
        2 => 1 << 22,
        3 => u32::MAX,
        4 => 1000,
        _ => rng.below(6) as u32,
    }
}

/// `n` items announced; how many are really written (a lie past 1<<22).
fn items(rng: &mut Rng, mp: &mut Mp, n: u32) {
    mp.arr(n);
    let real = if n > 1 << 22 { rng.below(4) as u32 } else { n };
    for _ in 0..real {
        // One-byte addresses: the most items per byte.
        mp.u(rng.below(8) * 16);
    }
}

fn text(rng: &mut Rng, mp: &mut Mp) {
    match rng.below(40) {
        0 => mp.s_rep(bounds::MAX_TEXT + 1, b'x'),
        1 => mp.s_rep(1 << 20, b'y'),
        // A length with nothing behind it.
        2 => mp.str_head(u32::MAX),
        3 => {
            // Not UTF-8.
            mp.str_head(2);
            mp.0.extend([0xff, 0xfe]);
            mp
        }
        _ => mp.s(["", "1", "'abc'", "[...]"][rng.below(4) as usize]),
    };
}

fn meta(rng: &mut Rng, mp: &mut Mp) {
    mp.variant("Step").arr(8).u(rng.below(3));
    let e = rng.below(40) as usize;
    mp.s(if e == 0 {
        "Bogus"
    } else {
        ["Line", "Call", "Return", "Exception"][e % 4]
    });
    mp.u(4242);
    text(rng, mp);
    mp.s("f");
    mp.u(rng.below(100));
    if rng.below(2) == 0 {
        mp.nil();
    } else {
        mp.arr(4).u(1).u(1).u(0).u(3);
    }
    if rng.below(2) == 0 {
        mp.nil();
    } else {
        mp.u(rng.below(8) * 16);
    }
}

fn node(rng: &mut Rng, mp: &mut Mp) {
    mp.arr(6).s(["list", "int", "str"][rng.below(3) as usize]);
    mp.u(rng.below(8));
    text(rng, mp);
    let n = count(rng);
    items(rng, mp, n);
    if rng.below(3) == 0 {
        let n = count(rng);
        mp.arr(n);
        for i in 0..n.min(1 << 20) {
            mp.arr(2).s(&format!("a{}", i % 7)).u(16);
        }
    } else {
        mp.nil();
    }
    mp.b(rng.below(2) == 0);
}

/// One op, hostile in its sizes.
fn op(rng: &mut Rng, mp: &mut Mp) {
    let addr = rng.below(8) * 16;
    match rng.below(20) {
        0 | 10 | 11 | 12 => {
            mp.variant("HeapSet").arr(2).u(addr);
            node(rng, mp);
        }
        1 | 2 => {
            mp.variant("HeapItems").arr(4).u(addr);
            mp.u(
                [0, 1, 5, u64::from(bounds::MAX_ITEMS), u64::from(u32::MAX)][rng.below(5) as usize]
            );
            let n = count(rng);
            items(rng, mp, n);
            mp.u([0, 1, 3, u64::from(bounds::MAX_ITEMS), 1 << 26][rng.below(5) as usize]);
        }
        3 => {
            mp.variant("StackPush").arr(3);
            text(rng, mp);
            text(rng, mp);
            mp.u(1);
        }
        4 => {
            mp.variant("StackTruncate").u(rng.below(3));
        }
        5 => {
            mp.variant("Bind")
                .arr(3)
                .s(["Locals", "Globals"][rng.below(2) as usize]);
            text(rng, mp);
            mp.u(addr);
        }
        6 => {
            mp.variant("HeapDel").u(addr);
        }
        7 => {
            mp.variant("ClearScope").s("Locals");
        }
        8 => meta(rng, mp),
        9 => junk(rng, mp),
        _ => {
            // A splice that may well be valid.
            mp.variant("HeapItems").arr(4).u(addr).u(rng.below(3));
            let n = rng.below(4) as u32;
            items(rng, mp, n);
            mp.u(rng.below(5));
        }
    }
}

/// msgpack that is no op at all.
fn junk(rng: &mut Rng, mp: &mut Mp) {
    match rng.below(6) {
        // Deep nesting.
        0 => {
            mp.0.extend(std::iter::repeat_n(0x91, 1 + rng.below(5000) as usize))
        }
        // The reserved marker.
        1 => mp.0.push(0xc1),
        // A map of 2^32-1 pairs, an ext of 4 GiB.
        2 => mp.0.extend([0xdf, 0xff, 0xff, 0xff, 0xff]),
        3 => mp.0.extend([0xc9, 0xff, 0xff, 0xff, 0xff, 0x01]),
        _ => {
            for _ in 0..rng.below(40) {
                mp.0.push(rng.next() as u8);
            }
        }
    }
}

/// A deltas payload announcing `count` steps.
fn deltas(rng: &mut Rng, count: u32) -> Vec<u8> {
    let mut mp = Mp::default();
    let announced = if rng.below(10) == 0 {
        count.wrapping_add(1)
    } else {
        count
    };
    mp.0.extend(array32_prefix(announced));
    for _ in 0..count.min(64) {
        match rng.below(12) {
            // Many equal ops: a payload that compresses a thousandfold.
            0 if rng.below(2) == 0 => {
                let n = [1_000, 100_000, 1_000_000][rng.below(3) as usize];
                mp.arr(n + 1);
                meta(rng, &mut mp);
                let mut one = Mp::default();
                op(rng, &mut one);
                if one.0.len() * n as usize > 16 << 20 {
                    one.0.truncate(0);
                    one.variant("HeapDel").u(16);
                }
                for _ in 0..n {
                    mp.0.extend_from_slice(&one.0);
                }
            }
            1 => {
                mp.arr(count_ops(rng));
                for _ in 0..rng.below(4) {
                    op(rng, &mut mp);
                }
            }
            _ => {
                let n = 1 + rng.below(5) as u32;
                mp.arr(n);
                meta(rng, &mut mp);
                for _ in 1..n {
                    op(rng, &mut mp);
                }
            }
        }
    }
    mp.0
}

fn count_ops(rng: &mut Rng) -> u32 {
    [0, 1, 3, u32::MAX][rng.below(4) as usize]
}

/// A checkpoint payload: `[meta, stack, locals, globals, heap]`.
fn checkpoint(rng: &mut Rng) -> Vec<u8> {
    let mut mp = Mp::default();
    mp.arr(5);
    if rng.below(4) == 0 {
        mp.nil();
    } else {
        // The meta without its variant wrapper.
        let mut m = Mp::default();
        meta(rng, &mut m);
        mp.0.extend_from_slice(&m.0[6..]);
    }
    let n = count(rng);
    mp.arr(n);
    for _ in 0..n.min(1 << 16) {
        mp.arr(3).s("f").s("/a.py").u(1);
    }
    for _ in 0..2 {
        let n = count(rng);
        mp.arr(n);
        for i in 0..n.min(1 << 16) {
            mp.arr(2).s(&format!("v{i}")).u(16);
        }
    }
    let n = count(rng);
    mp.arr(n);
    for i in 0..n.min(64) {
        mp.arr(2).u(u64::from(i) * 16);
        node(rng, &mut mp);
    }
    mp.0
}

fn end_record(rng: &mut Rng) -> Vec<u8> {
    let mut mp = Mp::default();
    mp.arr(5).variant("Exited").u(0);
    text(rng, &mut mp);
    mp.u(rng.below(1000));
    let n = count(rng);
    items(rng, &mut mp, n);
    mp.u(12);
    mp.0
}

/// A segment: frame and payload, with a CRC32 that matches whatever it holds.
pub fn segment(
    kind: u8,
    first: u64,
    count: u32,
    raw: &[u8],
    zstd: bool,
    raw_len: Option<u32>,
) -> Vec<u8> {
    let stored = if zstd {
        zstd::bulk::compress(raw, 3).expect("zstd")
    } else {
        raw.to_vec()
    };
    let mut out = Vec::with_capacity(32 + stored.len());
    out.extend_from_slice(b"HSEG");
    out.push(kind);
    out.push(if zstd { FLAG_ZSTD } else { 0 });
    out.extend([0, 0]);
    out.extend(first.to_le_bytes());
    out.extend(count.to_le_bytes());
    out.extend((stored.len() as u32).to_le_bytes());
    out.extend(raw_len.unwrap_or(raw.len() as u32).to_le_bytes());
    let mut h = crc32fast::Hasher::new();
    h.update(&out[..28]);
    h.update(&stored);
    out.extend(h.finalize().to_le_bytes());
    out.extend(stored);
    out
}

pub fn header() -> RecordingHeader {
    RecordingHeader {
        format_version: 0,
        program: vec!["python3".into(), "hostile.py".into()],
        cwd: "/tmp".into(),
        pid: 1,
        interpreter: "CPython 3.11.7".into(),
        interpreter_path: "/usr/bin/python3.11".into(),
        mode: "record".into(),
        started_unix_ms: 0,
        recorder: "hostile generator".into(),
    }
}

/// A hostile recording.
pub fn file(rng: &mut Rng) -> Vec<u8> {
    let mut out = encode_preamble(&header()).expect("preamble");
    let mut steps = 0u64;
    // (kind, first, count, offset, stored_len) of what was written.
    let mut index: Vec<(u8, u64, u32, u64, u32)> = Vec::new();
    for _ in 0..1 + rng.below(6) {
        let (kind, raw, first, cnt) = match rng.below(10) {
            0..=5 => {
                let c = if rng.below(8) == 0 {
                    count(rng)
                } else {
                    1 + rng.below(4) as u32
                };
                (2u8, deltas(rng, c), steps, c)
            }
            6 | 7 => (
                if rng.below(3) == 0 { 6 } else { 1 },
                checkpoint(rng),
                steps.saturating_sub(1),
                1,
            ),
            8 => (3, end_record(rng), steps, 0),
            _ => (
                rng.below(8) as u8,
                {
                    let mut m = Mp::default();
                    junk(rng, &mut m);
                    m.0
                },
                steps,
                0,
            ),
        };
        // Now and then a frame that says another step than expected.
        let first = if rng.below(10) == 0 {
            rng.next()
        } else {
            first
        };
        let zstd = kind == 6 || rng.below(3) != 0;
        let raw_len = match rng.below(12) {
            0 => Some(MAX_PAYLOAD_LEN),
            1 => Some(raw.len() as u32 / 2),
            _ => None,
        };
        let seg = segment(kind, first, cnt, &raw, zstd, raw_len);
        index.push((kind, first, cnt, out.len() as u64, seg.len() as u32 - 32));
        out.extend(seg);
        if kind == 2 {
            steps = steps.saturating_add(u64::from(cnt));
        }
    }
    if rng.below(3) == 0 {
        // A finish: end, index (true or not), footer (pointing right or not).
        let end_at = out.len() as u64;
        let seg = segment(3, steps, 0, &end_record(rng), true, None);
        index.push((3, steps, 0, end_at, seg.len() as u32 - 32));
        out.extend(seg);
        let mut mp = Mp::default();
        let n = if rng.below(6) == 0 {
            u32::MAX
        } else {
            index.len() as u32
        };
        mp.arr(n);
        for e in &index {
            let off = if rng.below(10) == 0 { rng.next() } else { e.3 };
            mp.arr(5)
                .u(u64::from(e.0))
                .u(e.1)
                .u(u64::from(e.2))
                .u(off)
                .u(u64::from(e.4));
        }
        let index_at = out.len() as u64;
        out.extend(segment(4, steps, 0, &mp.0, rng.below(2) == 0, None));
        let mut footer = Vec::new();
        footer.extend(
            if rng.below(8) == 0 {
                rng.next()
            } else {
                index_at
            }
            .to_le_bytes(),
        );
        footer.extend(
            if rng.below(8) == 0 {
                rng.next()
            } else {
                end_at
            }
            .to_le_bytes(),
        );
        out.extend(segment(5, steps, 0, &footer, false, None));
    }
    out
}

/// A valid recording of random steps with one hostile op spliced into one
/// step, and the true states (those before the hostile step must read back
/// exactly). Checkpoints are the true states; segments of a few steps.
pub fn spliced(rng: &mut Rng) -> (Vec<u8>, usize, Vec<store::State>) {
    let steps = 20 + rng.below(200);
    let (ops, states) = crate::common::random_recording(rng.next(), steps);
    let bad = rng.below(steps) as usize;
    let mut out = encode_preamble(&header()).expect("preamble");
    let mut index: Vec<(u8, u64, u32, u64, u32)> = Vec::new();
    let mut push = |out: &mut Vec<u8>, kind: u8, first: u64, count: u32, seg: Vec<u8>| {
        index.push((kind, first, count, out.len() as u64, seg.len() as u32 - 32));
        out.extend(seg);
    };
    let per = 1 + rng.below(12) as usize;
    let k = 10 + rng.below(30) as usize;
    let mut n = 0;
    while n < ops.len() {
        let end = (n + per).min(ops.len());
        let mut raw = array32_prefix((end - n) as u32).to_vec();
        for (s, step) in ops.iter().enumerate().take(end).skip(n) {
            let mut step = step.clone();
            if let Some(store::Op::Step(m)) = step.first_mut() {
                m.step = store::Step(0);
            }
            if s == bad {
                let mut mp = Mp::default();
                mp.arr(step.len() as u32 + 1);
                for o in &step {
                    mp.0.extend(rmp_serde::to_vec(o).unwrap());
                }
                op(rng, &mut mp);
                raw.extend(mp.0);
            } else {
                raw.extend(rmp_serde::to_vec(&step).unwrap());
            }
        }
        let seg = segment(2, n as u64, (end - n) as u32, &raw, rng.below(4) != 0, None);
        push(&mut out, 2, n as u64, (end - n) as u32, seg);
        if end / k > n / k {
            let at = end - 1;
            let raw = store::checkpoint::encode_checkpoint(&states[at]).unwrap();
            push(
                &mut out,
                1,
                at as u64,
                1,
                segment(1, at as u64, 1, &raw, true, None),
            );
        }
        n = end;
    }
    if rng.below(2) == 0 {
        let steps = ops.len() as u64;
        let end_at = out.len() as u64;
        let mut mp = Mp::default();
        mp.arr(5)
            .variant("Exited")
            .u(0)
            .s("program exited")
            .u(steps)
            .arr(0)
            .u(1);
        push(
            &mut out,
            3,
            steps,
            0,
            segment(3, steps, 0, &mp.0, true, None),
        );
        let mut mp = Mp::default();
        mp.arr(index.len() as u32);
        for e in &index {
            mp.arr(5)
                .u(u64::from(e.0))
                .u(e.1)
                .u(u64::from(e.2))
                .u(e.3)
                .u(u64::from(e.4));
        }
        let index_at = out.len() as u64;
        out.extend(segment(4, steps, 0, &mp.0, true, None));
        let mut footer = index_at.to_le_bytes().to_vec();
        footer.extend(end_at.to_le_bytes());
        out.extend(segment(5, steps, 0, &footer, false, None));
    }
    (out, bad, states)
}
