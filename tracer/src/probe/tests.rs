//! The probe's plan and shadow, with the tests playing the probe's part.

use super::steps::{clear_bits, set_bits};
use super::*;

impl Probe {
    /// A probe over a plain file, with no target: the tests play the
    /// probe's part ([`Probe::run_here`]).
    pub(crate) fn for_tests() -> Probe {
        let file = tempfile::tempfile().unwrap();
        file.set_len((CODE_BYTES + DATA_BYTES) as u64).unwrap();
        Probe::new(
            SharedMap::new(&file, CODE_BYTES + DATA_BYTES).unwrap(),
            blob(ProbeMode::Best),
            RemoteAddr(0x1000),
        )
    }

    /// What the probe does before a trap, with `read` as the target's
    /// memory: copy the plan into the shadow and the frame's bytes.
    pub(crate) fn run_here(&mut self, frame: u64, read: &dyn Fn(u64, &mut [u8])) {
        let n = self.word(OFF_NRANGES) as usize;
        for k in 0..n {
            let e = RANGES + k * RANGE_BYTES;
            let c = self.ctx();
            let addr = u64::from_ne_bytes(c[e..e + 8].try_into().unwrap());
            let len = u32::from_ne_bytes(c[e + 8..e + 12].try_into().unwrap()) as usize;
            let at = u32::from_ne_bytes(c[e + 12..e + 16].try_into().unwrap()) as usize;
            let mut now = vec![0u8; len];
            read(addr, &mut now);
            for (c, chunk) in now.chunks(CHUNK).enumerate() {
                let o = SHADOW + at + c * CHUNK;
                let changed = self.ctx()[o..o + chunk.len()] != *chunk;
                self.ctx_mut()[o..o + chunk.len()].copy_from_slice(chunk);
                self.ctx_mut()[DIRTY + at / CHUNK + c] = changed as u8;
            }
        }
        let flen = (4096 - (frame & 4095) as usize).min(FRAME_MAX);
        read(frame, &mut self.ctx_mut()[FRAME_BUF..FRAME_BUF + flen]);
        self.set_word(OFF_FRAME, frame);
        self.set_word(OFF_FRAME_LEN, flen as u64);
        let gen = self.word(OFF_PLAN_GEN);
        self.set_word(OFF_DONE_GEN, gen);
    }
}

fn req(addr: u64, len: usize) -> ReadReq {
    ReadReq {
        addr: RemoteAddr(addr),
        len,
    }
}

#[test]
fn a_plan_is_held_only_once_the_probe_ran_for_it() {
    let mut p = Probe::for_tests();
    assert_eq!(p.set_plan(&[req(0x1000, 64), req(0x3000, 4096)]), 2);
    assert!(p.fresh().is_empty(), "the probe has not run");
    p.run_here(0x5f00, &|addr, buf| buf.fill(addr as u8 ^ 0x5a));
    let at: Vec<usize> = p.fresh().iter().map(|&(_, at)| at).collect();
    assert_eq!(at, [0, 64]);
    assert!(p.shadow()[..64].iter().all(|&b| b == 0x5a));
    assert!(p.shadow()[64..64 + 4096].iter().all(|&b| b == 0x5a));
    assert!(!p.unchanged(1, 64, 4096), "new in this plan");
    // The frame's bytes up to its page's end.
    assert_eq!(p.frame(RemoteAddr(0x5f00)).map(|b| b.len()), Some(0x100));
    assert!(p.frame(RemoteAddr(0x6000)).is_none(), "another frame");
    // A new plan is not held until the probe runs again.
    p.set_plan(&[req(0x1000, 64), req(0x3000, 4096)]);
    assert!(p.fresh().is_empty());
    assert!(p.frame(RemoteAddr(0x5f00)).is_none());
    // The same plan again: what did not change since is known.
    p.run_here(0x5f00, &|addr, buf| {
        buf.fill(addr as u8 ^ 0x5a);
        if addr == 0x3000 {
            buf[100] = 1;
        }
    });
    assert!(p.unchanged(0, 0, 64));
    assert!(p.unchanged(1, 64 + 128, 64 * 10), "chunks after the change");
    assert!(!p.unchanged(1, 64, 4096));
    assert!(!p.unchanged(1, 64 + 100, 1));
    // A range that moved in the shadow is not known unchanged.
    p.set_plan(&[req(0x2000, 100), req(0x3000, 4096)]);
    p.run_here(0x5f00, &|addr, buf| buf.fill(addr as u8 ^ 0x5a));
    assert!(!p.unchanged(1, 128, 64));
}

#[test]
fn dirty_blocks_of_a_page_follow_the_chunks_under_them() {
    let mut p = Probe::for_tests();
    // The page starts 32 bytes into a range: its blocks straddle chunks.
    let plan = [req(0x2fe0, 4096 + 32)];
    p.set_plan(&plan);
    p.run_here(0x5f00, &|_, buf| buf.fill(7));
    assert_eq!(p.dirty_blocks(0, 32), None, "new in this plan");
    p.set_plan(&plan);
    p.run_here(0x5f00, &|addr, buf| {
        buf.fill(7);
        // Byte 0x3000 + 100 of the page: chunk 2 of the range.
        if addr == 0x2fe0 {
            buf[(0x3000 + 100 - addr) as usize] = 8;
        }
    });
    // Block 1 (bytes 64..128) lies on chunks 1 and 2; block 2 on 2 and 3.
    assert_eq!(p.dirty_blocks(0, 32), Some(0b110));
    // Aligned, a block is one chunk.
    let plan = [req(0x3000, 4096)];
    p.set_plan(&plan);
    p.run_here(0x5f00, &|_, buf| buf.fill(7));
    p.set_plan(&plan);
    p.run_here(0x5f00, &|addr, buf| {
        buf.fill(7);
        if addr == 0x3000 {
            buf[4095] = 9;
        }
    });
    let at = p.placed().0[0].1;
    assert_eq!(at % 64, 0);
    assert_eq!(p.dirty_blocks(0, at), Some(1 << 63));
}

#[test]
fn a_range_kept_in_the_plan_keeps_its_place() {
    let mut p = Probe::for_tests();
    p.set_plan(&[req(0x1000, 100), req(0x3000, 64)]);
    let first: Vec<usize> = p.placed().0.iter().map(|&(_, at)| at).collect();
    assert_eq!(first, [0, 128]);
    // A range before the kept one does not move it; new ones go past both.
    p.set_plan(&[req(0x800, 8), req(0x3000, 64), req(0x4000, 16)]);
    let (placed, stable) = p.placed();
    let at: Vec<usize> = placed.iter().map(|&(_, at)| at).collect();
    assert_eq!(at, [192, 128, 256]);
    assert_eq!(stable, [false, true, false]);
    assert!(!p.repacked());
    // A range of another length is another range.
    p.set_plan(&[req(0x3000, 128)]);
    assert_eq!(p.placed().0[0].1, 320);
    assert_eq!(p.placed().1, [false]);
    // Out of free space: every range placed anew from 0.
    let big = SHADOW_BYTES - 200;
    p.set_plan(&[req(0x3000, 128), req(0x100000, big)]);
    assert!(p.repacked());
    let at: Vec<usize> = p.placed().0.iter().map(|&(_, at)| at).collect();
    assert_eq!(at, [0, 128]);
}

#[test]
fn watched_words_are_the_ones_read_but_the_position() {
    let mut p = Probe::for_tests();
    p.set_plan(&[req(0x1000, 256)]);
    p.clear_watch();
    // Bytes 0x1008..0x1011 read: words 1 and 2; a whole chunk from 0x1040.
    p.watch(0, 0x1008, 9);
    p.watch(0, 0x1040, 64);
    let watch = |p: &Probe, c: usize| p.ctx()[WATCH + c];
    assert_eq!(watch(&p, 0), 0b110);
    assert_eq!(watch(&p, 1), 0xff);
    assert_eq!(watch(&p, 2), 0);
    p.unwatch(0, 0x1048);
    assert_eq!(watch(&p, 1), 0xfd);
    // Not 8-byte aligned: left watched.
    p.unwatch(0, 0x100c);
    assert_eq!(watch(&p, 0), 0b110);
    p.clear_watch();
    assert_eq!((watch(&p, 0), watch(&p, 1)), (0, 0));
}

#[test]
fn set_bits_sets_exactly_the_range() {
    for (first, last) in [(0, 0), (3, 5), (0, 8), (5, 27), (8, 24), (1, 63), (60, 64)] {
        let mut bits = [0u8; 8];
        set_bits(&mut bits, first, last);
        for i in 0..64 {
            let set = bits[i / 8] & (1 << (i % 8)) != 0;
            assert_eq!(
                set,
                (first..last).contains(&i),
                "bit {i} of {first}..{last}"
            );
        }
    }
}

#[test]
fn clear_bits_clears_exactly_the_range() {
    for (first, last) in [
        (0, 0),
        (3, 5),
        (0, 8),
        (5, 27),
        (8, 24),
        (1, 63),
        (60, 64),
        (9, 7),
    ] {
        let mut bits = [0xffu8; 8];
        clear_bits(&mut bits, first, last);
        for i in 0..64 {
            let set = bits[i / 8] & (1 << (i % 8)) != 0;
            assert_eq!(
                set,
                !(first..last).contains(&i),
                "bit {i} of {first}..{last}"
            );
        }
    }
}

#[test]
fn what_does_not_fit_is_left_to_the_stop() {
    let mut p = Probe::for_tests();
    let big = SHADOW_BYTES / 2 + 1;
    let plan = [req(0x10000, big), req(0x900000, big), req(0x2000000, 8)];
    assert_eq!(p.set_plan(&plan), 1, "the second range does not fit");
    let many: Vec<ReadReq> = (0..MAX_RANGES as u64 + 10)
        .map(|i| req(0x10000 + i * 64, 8))
        .collect();
    assert_eq!(p.set_plan(&many), MAX_RANGES);
}

#[test]
fn the_probe_is_built_with_the_crate_s_layout() {
    let header = include_str!(concat!(env!("OUT_DIR"), "/probe_layout.h"));
    for &(name, value, _) in layout::ALL {
        let define = format!("#define {name} {value:#x}\n");
        assert!(
            header.contains(&define),
            "{define:?} missing from probe_layout.h"
        );
    }
}

/// Write a log entry as the probe does: position words, word records,
/// copied objects; returns its length.
fn write_entry(
    p: &mut Probe,
    at: usize,
    pos: [u64; 2],
    words: &[(usize, u64, u64)],
    caps: &[(u64, &[u8], usize)],
) -> usize {
    let mut o = at + ENTRY_HDR;
    for &(off, old, new) in words {
        for (i, v) in [off as u64, old, new].into_iter().enumerate() {
            p.set_word(DLOG + o + 8 * i, v);
        }
        o += WORD_REC_BYTES;
    }
    for &(addr, bytes, objlen) in caps {
        p.set_word(DLOG + o, addr);
        p.set_word(DLOG + o + 8, bytes.len() as u64 | (objlen as u64) << 32);
        let d = DLOG + o + CAP_HDR_BYTES;
        p.ctx_mut()[d..d + bytes.len()].copy_from_slice(bytes);
        o += CAP_HDR_BYTES + bytes.len().next_multiple_of(8);
    }
    let len = o - at;
    p.set_word(DLOG + at, pos[0]);
    p.set_word(DLOG + at + 8, pos[1]);
    p.set_word(
        DLOG + at + 16,
        words.len() as u64 | (caps.len() as u64) << 32,
    );
    p.set_word(DLOG + at + 24, len as u64);
    len
}

#[test]
fn the_log_is_read_back_and_puts_the_shadow_back_step_by_step() {
    let mut p = Probe::for_tests();
    // The shadow as the trapping refresh left it: word 0 = 3, word 1 = 9.
    p.set_shadow_word(0, 3);
    p.set_shadow_word(8, 9);
    let obj = [7u8; 40];
    let a = write_entry(&mut p, 0, [1, 2], &[(0, 1, 2)], &[(0x5000, &obj, 32)]);
    let b = write_entry(&mut p, a, [3, 4], &[], &[]);
    let c = write_entry(&mut p, a + b, [5, 6], &[(0, 2, 3), (8, 7, 8)], &[]);
    // The trapping step's words follow the last entry.
    let t = a + b + c;
    p.set_word(DLOG + t + ENTRY_HDR, 8);
    p.set_word(DLOG + t + ENTRY_HDR + 8, 8);
    p.set_word(DLOG + t + ENTRY_HDR + 16, 9);
    p.set_word(OFF_LOG_N, 3);
    p.set_word(OFF_DLOG_USED, t as u64);
    p.set_word(OFF_CUR_N, 1);
    let mut log = Log::default();
    p.take_log(&mut log);
    assert_eq!(log.steps.len(), 3);
    assert_eq!(log.steps[0].pos, [1, 2]);
    assert_eq!(log.steps[0].caps.len(), 1);
    assert_eq!(log.steps[0].caps[0].addr, RemoteAddr(0x5000));
    assert_eq!(log.steps[0].caps[0].objlen, 32);
    assert_eq!(log.steps[0].caps[0].bytes, obj.to_vec());
    assert!(log.steps[1].words.is_empty());
    assert_eq!(log.steps[2].words.len(), 2);
    assert_eq!(log.trap.len(), 1);
    assert_eq!(p.word(OFF_LOG_N), 0, "the log is emptied");
    // Back to the last stop: word 0 was 1, word 1 was 7 (before step 2's
    // change and the trap's).
    p.rewind(&log.trap);
    for s in log.steps.iter().rev() {
        p.rewind(&s.words);
    }
    assert_eq!((p.shadow_word(0), p.shadow_word(8)), (Some(1), Some(7)));
    let mut seen = Vec::new();
    for s in &log.steps {
        p.replay(&s.words);
        seen.push((p.shadow_word(0).unwrap(), p.shadow_word(8).unwrap()));
    }
    assert_eq!(seen, [(2, 7), (2, 7), (3, 8)]);
    p.replay(&log.trap);
    assert_eq!((p.shadow_word(0), p.shadow_word(8)), (Some(3), Some(9)));
}

#[test]
fn a_damaged_log_is_read_up_to_the_damage() {
    let mut p = Probe::for_tests();
    let a = write_entry(&mut p, 0, [1, 2], &[(0, 1, 2)], &[]);
    // The second entry claims more words than its length holds.
    write_entry(&mut p, a, [3, 4], &[], &[]);
    p.set_word(DLOG + a + 16, 1 << 20);
    p.set_word(OFF_LOG_N, 2);
    p.set_word(OFF_DLOG_USED, (a + ENTRY_HDR) as u64);
    p.set_word(OFF_CUR_N, u64::MAX);
    let mut log = Log::default();
    p.take_log(&mut log);
    assert_eq!(log.steps.len(), 1);
}
