//! What the stop cache tells the probe for steps without a trap: the
//! bytes of ranges new in the plan (this stop's, so the next refresh
//! compares with what this stop saw), which words this stop read, and the
//! frame armed; and the log of the steps it took without one.

use super::{Inner, Span, StopCache, NOT_SHADOW};
use crate::addr::RemoteAddr;
use crate::memory::{ReadReq, Words};

impl StopCache {
    /// Let the next line steps of `frame` go without a trap while no word
    /// this stop read changes but those at `line_at` (the frame's
    /// position, logged at each such step), at most `budget` of them. False
    /// when this stop's bytes are not all in the probe.
    pub fn arm(&self, frame: RemoteAddr, line_at: [RemoteAddr; 2], budget: u64) -> bool {
        let mut g = self.inner.borrow_mut();
        let s = &mut *g;
        // Which words the stop read is told only to a probe that will use it.
        if !s.armable || budget == 0 || !s.watch_touched() {
            return false;
        }
        let Some(p) = s.probe.as_mut() else {
            return false;
        };
        for w in line_at {
            let placed = p.placed().0;
            let i = placed.partition_point(|(r, _)| r.addr.0 <= w.0);
            if i > 0 {
                p.unwatch(i - 1, w.0);
            }
        }
        p.arm(frame, line_at, budget);
        true
    }
}

impl Inner {
    /// Fill the ranges new in the probe's plan with this stop's bytes (from
    /// the spans: every byte the stop read is in one), so the next refresh
    /// compares them with what this stop saw. A range filled whole counts as
    /// stable; in one that is not, the bytes no span holds (padding the plan
    /// added) were not read, so neither watched nor asked about as unchanged.
    /// False when the plan was placed anew (the old bytes are gone).
    pub(super) fn fill_new(&mut self) -> bool {
        let Some(p) = self.probe.as_mut() else {
            return false;
        };
        if p.repacked() {
            return false;
        }
        let (placed, stable) = p.placed();
        let new: Vec<(usize, ReadReq, usize)> = placed
            .iter()
            .zip(stable)
            .enumerate()
            .filter(|(_, (_, &st))| !st)
            .map(|(k, (&(r, at), _))| (k, r, at))
            .collect();
        for (k, r, at) in new {
            let (start, end) = (r.addr.0, r.addr.0 + r.len as u64);
            let mut cur = start;
            let mut whole = true;
            while cur < end {
                let i = self.spans.partition_point(|sp| sp.addr <= cur);
                let holds = |sp: &&Span| cur < sp.addr + sp.len as u64;
                // Spans may overlap: a few back from the last one starting
                // at or before `cur`, and only if none of those holds it,
                // all of them (a byte the stop read must not be missed).
                let near = self.spans[..i].iter().rev().take(4).filter(holds);
                let covering = near
                    .max_by_key(|sp| sp.addr + sp.len as u64)
                    .or_else(|| {
                        self.spans[..i]
                            .iter()
                            .filter(holds)
                            .max_by_key(|sp| sp.addr + sp.len as u64)
                    })
                    .copied();
                let Some(sp) = covering else {
                    whole = false;
                    cur = self.spans.get(i).map_or(end, |sp| sp.addr.min(end));
                    continue;
                };
                let n = ((sp.addr + sp.len as u64).min(end) - cur) as usize;
                let src = sp.at + (cur - sp.addr) as usize;
                let dst = at + (cur - start) as usize;
                let shadow = p.shadow_mut();
                if sp.placed != NOT_SHADOW {
                    shadow.copy_within(src..src + n, dst);
                } else {
                    shadow[dst..dst + n].copy_from_slice(&self.buf[src..src + n]);
                }
                cur += n as u64;
            }
            if whole {
                p.mark_stable(k);
            }
        }
        true
    }

    /// Tell the probe which words of its plan this stop read (the frame's
    /// among them: its reads are planned like any other); false if one of
    /// them lies outside the plan.
    pub(super) fn watch_touched(&mut self) -> bool {
        let Some(p) = self.probe.as_mut() else {
            return false;
        };
        p.clear_watch();
        let mut j = 0usize;
        let mut last = (0, 0);
        for &(addr, len) in &self.touched {
            if (addr, len) == last {
                continue;
            }
            last = (addr, len);
            let end = addr + len as u64;
            let placed = p.placed().0;
            while j < placed.len() && placed[j].0.addr.0 + placed[j].0.len as u64 <= addr {
                j += 1;
            }
            match placed.get(j) {
                Some((r, _)) if r.addr.0 <= addr && end <= r.addr.0 + r.len as u64 => {
                    p.watch(j, addr, len)
                }
                _ => return false,
            }
        }
        let mut atoms = crate::addr::AddrSet::default();
        let mut held = crate::addr::AddrSet::default();
        let mut span = 0usize;
        for &(addr, len, what) in &self.notes {
            if what == Words::Extent {
                span = span.max(len);
                continue;
            }
            let placed = p.placed().0;
            let k = placed.partition_point(|(r, _)| r.addr.0 <= addr);
            if let Some(k) = k.checked_sub(1) {
                p.mark_words(k, addr, len, what == Words::Slots);
            }
            match what {
                Words::Frozen => {
                    span = span.max(len);
                    atoms.insert(RemoteAddr(addr))
                }
                Words::Held => held.insert(RemoteAddr(addr)),
                Words::Slots | Words::Extent => false,
            };
        }
        // A note dropped may have been an extent: then none is known.
        if self.notes.len() >= super::replay::MAX_NOTES {
            span = 0;
        }
        p.set_frozen_span(span);
        if held.is_empty() {
            return true;
        }
        // A held page is frozen only where nothing but its own check and
        // the immutable objects on it were read.
        let mut last = (0, 0);
        for &(addr, len) in &self.touched {
            if (addr, len) == last
                || atoms.contains(&RemoteAddr(addr))
                || (len == 4096 && held.contains(&RemoteAddr(addr)))
            {
                continue;
            }
            last = (addr, len);
            let placed = p.placed().0;
            let k = placed.partition_point(|(r, _)| r.addr.0 <= addr);
            if let Some(k) = k.checked_sub(1) {
                p.unfreeze(k, addr, len);
            }
        }
        true
    }
}
