//! Steps the probe takes without a trap: which words of the shadow the
//! last stop read (a change of one makes the next step trap, unless it is
//! a slot or a word of an immutable object: `steplog.rs`), and the frame armed.

use super::*;

impl Probe {
    /// Forget which words the stop read (before [`Probe::watch`] says it
    /// again for this stop).
    pub fn clear_watch(&mut self) {
        for k in 0..self.placed.len() {
            let (r, at) = self.placed[k];
            let end = (at + r.len).div_ceil(CHUNK);
            for mask in [WATCH, SLOT, FROZEN] {
                self.ctx_mut()[mask + at / CHUNK..mask + end].fill(0);
            }
        }
    }

    /// The stop read `[addr, addr + len)`, which the `k`-th placed range
    /// holds: a change of any of its words makes the next step trap.
    /// Ranges are 8-byte aligned, so the shadow's words are the target's.
    pub fn watch(&mut self, k: usize, addr: u64, len: usize) {
        self.mark(WATCH, k, addr, len, false);
    }

    /// The words of `[addr, addr + len)` in the `k`-th placed range are
    /// object pointers the decoders follow (`slots`: a change to an object
    /// the probe copies needs no trap) or the bytes of an immutable object
    /// (a change means it was freed: no trap). Only whole words inside the
    /// range are marked.
    pub fn mark_words(&mut self, k: usize, addr: u64, len: usize, slots: bool) {
        self.mark(if slots { SLOT } else { FROZEN }, k, addr, len, true);
    }

    /// The words of `[addr, addr + len)` in the `k`-th placed range were
    /// read as something else than an immutable object: not frozen.
    pub fn unfreeze(&mut self, k: usize, addr: u64, len: usize) {
        let (r, at) = self.placed[k];
        let Some(off) = addr.checked_sub(r.addr.0).map(|o| o as usize) else {
            return;
        };
        let end = (off + len).min(r.len);
        if off < end {
            let bits = &mut self.ctx_mut()[FROZEN..FROZEN + SHADOW_BYTES / CHUNK];
            clear_bits(bits, (at + off) / 8, (at + end).div_ceil(8));
        }
    }

    /// Set the bits of `mask` for the words of `[addr, addr + len)` in the
    /// `k`-th placed range (`whole`: only words entirely inside it).
    fn mark(&mut self, mask: usize, k: usize, addr: u64, len: usize, whole: bool) {
        let (r, at) = self.placed[k];
        let Some(off) = addr.checked_sub(r.addr.0).map(|o| o as usize) else {
            return;
        };
        let end = (off + len).min(r.len);
        if off < end {
            let (first, last) = if whole {
                ((at + off).div_ceil(8), (at + end) / 8)
            } else {
                ((at + off) / 8, (at + end).div_ceil(8))
            };
            if first < last {
                set_bits(
                    &mut self.ctx_mut()[mask..mask + SHADOW_BYTES / CHUNK],
                    first,
                    last,
                );
            }
        }
    }

    /// The word at `addr` may change without a trap (the frame's position):
    /// no longer watched in the `k`-th range.
    pub fn unwatch(&mut self, k: usize, addr: u64) {
        let (r, at) = self.placed[k];
        let Some(off) = addr.checked_sub(r.addr.0) else {
            return;
        };
        if addr.is_multiple_of(8) && off as usize + 8 <= r.len {
            let w = (at + off as usize) / 8;
            self.ctx_mut()[WATCH + w / 8] &= !(1 << (w % 8));
        }
    }

    /// Let line steps of `frame` at the next stops go without a trap (at
    /// most `budget`) while no watched word changes, logging the words at
    /// `line_at` (8-byte aligned, in the plan).
    pub fn arm(&mut self, frame: RemoteAddr, line_at: [RemoteAddr; 2], budget: u64) {
        self.set_word(OFF_ARMED, 0);
        self.set_word(OFF_LINE_AT, line_at[0].0);
        self.set_word(OFF_LINE_AT + 8, line_at[1].0);
        self.set_word(OFF_BUDGET, budget.min(LOG_MAX as u64));
        self.set_word(OFF_ARMED_GEN, self.plan_gen);
        self.set_word(OFF_ARMED, frame.0);
    }
}

/// Set bits `first..last` of `bits` (bit i: bit i % 8 of byte i / 8).
pub(super) fn set_bits(bits: &mut [u8], first: usize, last: usize) {
    let (mut i, last) = (first, last.min(bits.len() * 8));
    while i < last && i % 8 != 0 {
        bits[i / 8] |= 1 << (i % 8);
        i += 1;
    }
    let whole = (last - i.min(last)) / 8;
    if whole > 0 {
        bits[i / 8..i / 8 + whole].fill(0xff);
        i += whole * 8;
    }
    while i < last {
        bits[i / 8] |= 1 << (i % 8);
        i += 1;
    }
}

/// Clear bits `first..last` of `bits` (bit `i` is bit `i % 8` of byte
/// `i / 8`), whole bytes at a time between the ends: a stop clears the
/// bits of every range it read.
pub(super) fn clear_bits(bits: &mut [u8], first: usize, last: usize) {
    let (mut i, last) = (first, last.min(bits.len() * 8));
    while i < last && i % 8 != 0 {
        bits[i / 8] &= !(1 << (i % 8));
        i += 1;
    }
    let whole = (last - i.min(last)) / 8;
    if whole > 0 {
        bits[i / 8..i / 8 + whole].fill(0);
        i += whole * 8;
    }
    while i < last {
        bits[i / 8] &= !(1 << (i % 8));
        i += 1;
    }
}
