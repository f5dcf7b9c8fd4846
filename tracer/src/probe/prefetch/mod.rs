//! The read cache of one stop: every range the previous stop read is the
//! plan of the next (consecutive steps of a program read mostly the same
//! frames, dicts and lists). With the probe in the target (`probe/`) the
//! plan is refreshed there, in memory shared with us, before the trap; else
//! it is read up front in one batched `process_vm_readv`. The decoders'
//! reads are answered from it; what it misses is read from the target and
//! becomes part of the next stop's plan.
//!
//! Everything it answers was read while the target was stopped at this stop,
//! so a cached answer is exactly what a direct read would give. A write to the
//! target, or letting it run, must be followed by [`StopCache::forget`] or
//! [`StopCache::end`].

use std::cell::RefCell;

use crate::addr::RemoteAddr;
use crate::memory::{Memory, ReadReq, Words};
use crate::probe::Probe;

/// Ranges closer than this are planned as one (the bytes between cost less
/// than another iovec; the gap never reaches a page neither range touches).
const MERGE_GAP: u64 = 256;
/// Page size: the unit of what a remote read costs.
const PAGE: u64 = 4096;
/// Bytes read before and after each range, within its page.
const PAD_BEFORE: u64 = 256;
const PAD_AFTER: u64 = 512;
/// Bound on the bytes prefetched at one stop.
const MAX_PLAN_BYTES: usize = 16 << 20;
/// Reads larger than this are neither cached nor planned.
const MAX_CACHED_READ: usize = 1 << 20;
/// A missed read is widened to its whole pages when they are at most this.
const MISS_PAGES_BYTES: usize = 2 * PAGE as usize;

/// Pages the range `[addr, addr + len)` touches.
fn pages_of(addr: u64, len: usize) -> usize {
    if len == 0 {
        return 0;
    }
    let first = addr / PAGE;
    let last = (addr + len as u64 - 1) / PAGE;
    (last - first + 1) as usize
}

/// One range held by the cache.
#[derive(Debug, Clone, Copy)]
struct Span {
    addr: u64,
    len: usize,
    /// Offset of its bytes in `Inner::buf`, or in the probe's shadow.
    at: usize,
    /// Its index among the probe's placed ranges when its bytes are in the
    /// shadow, else `NOT_SHADOW`.
    placed: u32,
}

/// [`Span::placed`] of bytes in `Inner::buf`.
const NOT_SHADOW: u32 = u32::MAX;

#[derive(Default)]
struct Inner {
    /// Ranges readable at this stop, sorted by address (they may overlap).
    spans: Vec<Span>,
    buf: Vec<u8>,
    /// Ranges the decoders asked for at this stop: the next stop's plan.
    touched: Vec<(u64, usize)>,
    /// Ranges to prefetch at the next stop, sorted and merged.
    plan: Vec<ReadReq>,
    ok: Vec<bool>,
    /// The pages of a missed read (kept: misses happen at most stops).
    miss_buf: Vec<u8>,
    /// Reads answered from the cache and reads that missed, since creation.
    hits: u64,
    misses: u64,
    /// Stops begun, and stops whose whole plan read in one call.
    stops: u64,
    /// The probe in the target, when there is one: it refreshes the plan's
    /// ranges in memory shared with us before each trap.
    probe: Option<Probe>,
    /// Whether the probe refreshed the plan at this stop, and at the one
    /// before (then what it found unchanged is unchanged since that stop).
    fresh: bool,
    was_fresh: bool,
    /// The stop wrote to the target (its bytes were dropped).
    forgot: bool,
    /// The stop read bytes it did not keep (too many at once, or
    /// unreadable): the probe cannot watch them.
    untracked: bool,
    /// The probe holds this stop's bytes of every word it read: the next
    /// step may go without a trap once it is told which words those are
    /// (`touched`, kept until the next stop begins for that).
    armable: bool,
    /// What the decoders said of the words they read at this stop.
    notes: Vec<(u64, usize, Words)>,
    /// A logged step being decoded (`replay.rs`).
    replay: replay::Replay,
}

/// Per-stop read cache with a plan learned from the previous stop.
#[derive(Default)]
pub struct StopCache {
    inner: RefCell<Inner>,
}

impl StopCache {
    /// A cache with an empty plan.
    pub fn new() -> StopCache {
        StopCache::default()
    }

    /// The target has stopped: read the plan (one batched read).
    #[cfg(test)]
    pub fn begin(&self, mem: &dyn Memory) {
        self.begin_with(mem, None);
    }

    /// [`StopCache::begin`], with one more range read in the same call
    /// when the plan does not hold it (what the stop's registers point at).
    pub fn begin_with(&self, mem: &dyn Memory, extra: Option<ReadReq>) {
        let mut g = self.inner.borrow_mut();
        let s = &mut *g;
        s.stops += 1;
        s.spans.clear();
        s.touched.clear();
        s.notes.clear();
        s.buf.clear();
        // What the probe refreshed before the trap is read in place.
        let mut covered = 0usize;
        s.was_fresh = s.fresh;
        s.fresh = false;
        s.forgot = false;
        s.untracked = false;
        s.armable = false;
        if let Some(p) = &s.probe {
            let placed = p.fresh();
            s.fresh = !placed.is_empty();
            covered = placed.len().min(s.plan.len());
            for (k, (r, at)) in placed[..covered].iter().enumerate() {
                s.spans.push(Span {
                    addr: r.addr.0,
                    len: r.len,
                    at: *at,
                    placed: k as u32,
                });
            }
        }
        let mut extra = extra.filter(|x| x.len > 0);
        if let (Some(x), Some(p)) = (extra, &s.probe) {
            if let Some(bytes) = p.frame(x.addr) {
                s.spans.push(Span {
                    addr: x.addr.0,
                    len: bytes.len(),
                    at: 0,
                    placed: NOT_SHADOW,
                });
                s.buf.extend_from_slice(bytes);
                extra = None;
            }
        }
        let n = s.plan.len();
        if let Some(x) = extra {
            let end = x.addr.0.saturating_add(x.len as u64);
            let i = s.plan.partition_point(|r| r.addr.0 <= x.addr.0);
            let held = i > 0 && {
                let r = &s.plan[i - 1];
                end <= r.addr.0 + r.len as u64
            };
            if !held {
                s.plan.push(x);
            }
        }
        let rest = &s.plan[covered..];
        let total: usize = rest.iter().map(|r| r.len).sum();
        let base = s.buf.len();
        // Not zeroed first: the read writes every byte (zeros where a range
        // is unreadable), and the buffer is kept from stop to stop.
        s.buf.resize(base + total, 0);
        if total > 0 {
            mem.read_batch(rest, &mut s.buf[base..], &mut s.ok);
        }
        let mut at = base;
        for (r, &ok) in rest.iter().zip(s.ok.iter()) {
            if ok {
                s.spans.push(Span {
                    addr: r.addr.0,
                    len: r.len,
                    at,
                    placed: NOT_SHADOW,
                });
            }
            at += r.len;
        }
        // The extra range goes back out of the plan (it is planned again
        // only if the decoders read it), and into its place among the spans.
        s.plan.truncate(n);
        s.spans.sort_unstable_by_key(|sp| sp.addr);
    }

    /// Use `probe` to refresh the plan from the next stop on.
    pub fn attach_probe(&self, probe: Probe) {
        let mut g = self.inner.borrow_mut();
        let s = &mut *g;
        let mut probe = probe;
        probe.set_plan(&s.plan);
        s.probe = Some(probe);
    }

    /// The probe in use, if any.
    pub fn probe_mut(&self) -> std::cell::RefMut<'_, Option<Probe>> {
        std::cell::RefMut::map(self.inner.borrow_mut(), |g| &mut g.probe)
    }

    /// Memory that answers from this cache, `inner` for the rest.
    pub fn mem<'a>(&'a self, inner: &'a dyn Memory) -> CachedMem<'a> {
        CachedMem { cache: self, inner }
    }

    /// The target wrote or ran: drop the bytes (the plan keeps learning).
    pub fn forget(&self) {
        let mut g = self.inner.borrow_mut();
        g.spans.clear();
        g.forgot = true;
    }

    /// The stop is over: what was read becomes the next stop's plan.
    pub fn end(&self) {
        let mut g = self.inner.borrow_mut();
        let s = &mut *g;
        s.touched.sort_unstable();
        s.plan.clear();
        let mut total = 0usize;
        for &(addr, len) in &s.touched {
            // Widened within its page: bytes cost little once the page is
            // read, and a loop's new objects land next to its old ones
            // (pymalloc hands out a pool's blocks in order) as a callee's
            // frame lands after its caller's.
            let page = addr & !(PAGE - 1);
            let end = addr + len as u64;
            let page_end = ((end - 1) & !(PAGE - 1)) + PAGE;
            // 8-byte aligned: the probe's words are then the target's.
            let addr = addr.saturating_sub(PAD_BEFORE).max(page) & !7;
            let end = end.saturating_add(PAD_AFTER).min(page_end);
            let len = (end - addr) as usize;
            if let Some(last) = s.plan.last_mut() {
                let last_end = last.addr.0 + last.len as u64;
                // One iovec per page costs less than two: ranges on the
                // same page, or close, are read as one.
                let same_page = (last_end - 1) & !(PAGE - 1) == addr & !(PAGE - 1);
                if addr <= last_end.saturating_add(MERGE_GAP) || same_page {
                    if end > last_end {
                        total += (end - last_end) as usize;
                        last.len = (end - last.addr.0) as usize;
                    }
                    continue;
                }
            }
            if total + len > MAX_PLAN_BYTES {
                break;
            }
            total += len;
            s.plan.push(ReadReq {
                addr: RemoteAddr(addr),
                len,
            });
        }
        if let Some(p) = s.probe.as_mut() {
            let placed = p.set_plan(&s.plan);
            s.armable = s.fresh
                && !s.forgot
                && !s.untracked
                && placed == s.plan.len()
                && !p.repacked()
                && s.fill_new();
        }
        s.spans.clear();
        if s.stops % 100_000 == 1
            && log::log_enabled!(target: "tracer::prefetch", log::Level::Debug)
        {
            let pages: usize = s.plan.iter().map(|r| pages_of(r.addr.0, r.len)).sum();
            log::debug!(target: "tracer::prefetch", "stop {}: plan of {} ranges, {total} bytes, ~{pages} pages", s.stops, s.plan.len());
            for r in &s.plan {
                log::trace!(target: "tracer::prefetch", "  {} +{}", r.addr, r.len);
            }
        }
    }

    /// The current plan: (ranges, bytes, pages).
    pub fn plan_size(&self) -> (usize, usize, usize) {
        let g = self.inner.borrow();
        let bytes = g.plan.iter().map(|r| r.len).sum();
        let pages = g.plan.iter().map(|r| pages_of(r.addr.0, r.len)).sum();
        (g.plan.len(), bytes, pages)
    }

    /// (reads answered from the cache, reads that went to the target).
    pub fn counts(&self) -> (u64, u64) {
        let g = self.inner.borrow();
        (g.hits, g.misses)
    }
}

impl Inner {
    /// The bytes of `[addr, addr + len)` if one span holds them all.
    fn find(&self, addr: u64, len: usize) -> Option<&[u8]> {
        let (s, off) = self.span_of(addr, len)?;
        let bytes = match (&self.probe, s.placed) {
            (Some(p), k) if k != NOT_SHADOW => p.shadow(),
            _ => &self.buf[..],
        };
        bytes.get(off..off + len)
    }

    /// The span holding all of `[addr, addr + len)`, and the offset of
    /// `addr` in its bytes.
    fn span_of(&self, addr: u64, len: usize) -> Option<(&Span, usize)> {
        let end = addr.checked_add(len as u64)?;
        // Spans may overlap: look back a few from the last one starting at
        // or before `addr`.
        let i = self.spans.partition_point(|s| s.addr <= addr);
        let s = self.spans[..i]
            .iter()
            .rev()
            .take(4)
            .find(|s| end <= s.addr + s.len as u64)?;
        Some((s, s.at + (addr - s.addr) as usize))
    }

    /// Keep bytes just read from the target for later reads of this stop.
    fn insert(&mut self, addr: u64, data: &[u8]) {
        let at = self.buf.len();
        self.buf.extend_from_slice(data);
        let i = self.spans.partition_point(|s| s.addr <= addr);
        self.spans.insert(
            i,
            Span {
                addr,
                len: data.len(),
                at,
                placed: NOT_SHADOW,
            },
        );
    }

    /// A read answered from this stop's bytes: counted, and planned again.
    fn hit(&mut self, addr: u64, len: usize) {
        self.hits += 1;
        self.touch(addr, len);
    }

    fn touch(&mut self, addr: u64, len: usize) {
        if len > 0 && len <= MAX_CACHED_READ && addr.checked_add(len as u64).is_some() {
            self.touched.push((addr, len));
        } else if len > 0 {
            self.untracked = true;
        }
    }
}

mod cached;
pub use cached::CachedMem;
mod arming;
mod replay;
#[cfg(test)]
mod tests;
