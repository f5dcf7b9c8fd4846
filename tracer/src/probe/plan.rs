//! The plan in the probe: where each range the next stop reads lies in
//! the shadow (kept where it was while it stays in the plan), and what
//! the refresh found changed since the previous stop.

use super::*;

impl Probe {
    /// Make `plan` (sorted ranges) the probe's for the next stop; returns
    /// how many of its first ranges the shadow will hold, each at a
    /// multiple of 64 (the rest does not fit). A range of the previous plan
    /// keeps its offset (its bytes there are those of this stop); a new one
    /// goes to free space, where [`Probe::shadow_mut`] can fill it, until
    /// there is none: then every range is placed anew from offset 0.
    pub fn set_plan(&mut self, plan: &[ReadReq]) -> usize {
        std::mem::swap(&mut self.before, &mut self.placed);
        self.placed.clear();
        self.stable.clear();
        self.repacked = false;
        let mut free = self.free_at;
        for r in plan.iter().take(MAX_RANGES) {
            let was = self.placed_before(r);
            let at = match was {
                Some(at) => at,
                None if r.len <= SHADOW_BYTES - free => {
                    let at = free;
                    free = (free + r.len).next_multiple_of(CHUNK).min(SHADOW_BYTES);
                    at
                }
                None => {
                    self.repack(plan);
                    return self.publish();
                }
            };
            self.stable.push(was.is_some());
            self.placed.push((*r, at));
        }
        self.free_at = free;
        self.publish()
    }

    /// Place `plan` back to back from offset 0 (ranges that land where the
    /// previous plan had them stay stable).
    fn repack(&mut self, plan: &[ReadReq]) {
        self.placed.clear();
        self.stable.clear();
        self.repacked = true;
        let mut at = 0usize;
        for r in plan.iter().take(MAX_RANGES) {
            if r.len > SHADOW_BYTES - at {
                break;
            }
            self.stable.push(self.placed_before(r) == Some(at));
            self.placed.push((*r, at));
            at = (at + r.len).next_multiple_of(CHUNK).min(SHADOW_BYTES);
        }
        self.free_at = at;
    }

    /// Where the previous plan placed the range `r` (same address and
    /// length), if it had it.
    fn placed_before(&self, r: &ReadReq) -> Option<usize> {
        let i = self
            .before
            .binary_search_by_key(&r.addr.0, |(b, _)| b.addr.0)
            .ok()?;
        let (b, at) = self.before[i];
        (b.len == r.len).then_some(at)
    }

    /// Write the placed ranges into the context, for the next refresh.
    fn publish(&mut self) -> usize {
        for k in 0..self.placed.len() {
            let (r, at) = self.placed[k];
            let e = RANGES + k * RANGE_BYTES;
            let ctx = self.ctx_mut();
            ctx[e..e + 8].copy_from_slice(&r.addr.0.to_ne_bytes());
            ctx[e + 8..e + 12].copy_from_slice(&(r.len as u32).to_ne_bytes());
            ctx[e + 12..e + 16].copy_from_slice(&(at as u32).to_ne_bytes());
        }
        let n = self.placed.len();
        self.set_word(OFF_NRANGES, n as u64);
        self.plan_gen += 1;
        self.set_word(OFF_PLAN_GEN, self.plan_gen);
        n
    }

    /// Whether the last plan was placed anew from offset 0 (the bytes of
    /// the previous plan are no longer where it had them).
    pub fn repacked(&self) -> bool {
        self.repacked
    }

    /// The ranges of the current plan with their offsets in the shadow,
    /// and whether each held the same place in the previous plan.
    pub fn placed(&self) -> (&[(ReadReq, usize)], &[bool]) {
        (&self.placed, &self.stable)
    }

    /// The `k`-th range now holds in the shadow the bytes the previous
    /// plan's range would: its dirty flags say what changed since.
    pub fn mark_stable(&mut self, k: usize) {
        if let Some(s) = self.stable.get_mut(k) {
            *s = true;
        }
    }

    /// Whether the probe refreshed the current plan (just before this
    /// stop's trap: every trap follows a refresh, or a fault).
    fn refreshed(&self) -> bool {
        self.word(OFF_DONE_GEN) == self.plan_gen
    }

    /// The ranges of the plan the shadow holds at this stop, with their
    /// offsets in it: none unless the probe refreshed the current plan just
    /// before the trap.
    pub fn fresh(&self) -> &[(ReadReq, usize)] {
        if self.refreshed() {
            &self.placed
        } else {
            &[]
        }
    }

    /// For the 4096 bytes at offset `at` of the shadow, in the `k`-th placed
    /// range: which of their 64-byte blocks the refresh may have changed
    /// (bit b: bytes `at + 64b..`), when the range was placed the same at
    /// the previous stop. A block not aligned with the shadow's chunks
    /// counts as changed when either chunk under it did.
    pub fn dirty_blocks(&self, k: usize, at: usize) -> Option<u64> {
        if !self.stable.get(k).copied().unwrap_or(false) {
            return None;
        }
        let dirty = self.dirty_view();
        let (q, shifted) = (at / CHUNK, !at.is_multiple_of(CHUNK));
        let flags = dirty.get(q..q + 64 + shifted as usize)?;
        // Most pages did not change at all.
        if all_clear(flags) {
            return Some(0);
        }
        let mut mask = 0u64;
        for b in 0..64 {
            if flags[b] != 0 || (shifted && flags[b + 1] != 0) {
                mask |= 1 << b;
            }
        }
        Some(mask)
    }

    /// Whether the `k`-th placed range was placed the same at the previous
    /// stop, and its bytes at `at..at + len` of the shadow are as they were
    /// then (the refresh found every chunk they touch unchanged).
    pub fn unchanged(&self, k: usize, at: usize, len: usize) -> bool {
        if len == 0 || !self.stable.get(k).copied().unwrap_or(false) {
            return false;
        }
        let dirty = self.dirty_view();
        dirty
            .get(at / CHUNK..=(at + len - 1) / CHUNK)
            .is_some_and(all_clear)
    }

    /// The shadow: the plan's ranges where [`Probe::set_plan`] placed them.
    pub fn shadow(&self) -> &[u8] {
        match self.replica.view() {
            Some((shadow, _)) => shadow,
            None => &self.ctx()[SHADOW..],
        }
    }

    /// The shadow, to fill ranges new in the plan with this stop's bytes.
    pub fn shadow_mut(&mut self) -> &mut [u8] {
        if self.replica.in_use() {
            return self.replica.shadow_mut();
        }
        &mut self.ctx_mut()[SHADOW..]
    }

    /// The bytes at the frame the trace function got at this stop, when the
    /// probe copied them.
    pub fn frame(&self, frame: RemoteAddr) -> Option<&[u8]> {
        let len = self.word(OFF_FRAME_LEN) as usize;
        if !self.refreshed() || self.word(OFF_FRAME) != frame.0 || len > FRAME_MAX {
            return None;
        }
        Some(&self.ctx()[FRAME_BUF..FRAME_BUF + len])
    }
}

/// Whether every dirty flag in `flags` is clear (eight at a time: a page
/// is 64 of them).
fn all_clear(flags: &[u8]) -> bool {
    let mut words = flags.chunks_exact(8);
    let any = words.by_ref().fold(0u64, |acc, w| {
        acc | u64::from_ne_bytes(w.try_into().unwrap_or([1; 8]))
    });
    any == 0 && words.remainder().iter().all(|&b| b == 0)
}
