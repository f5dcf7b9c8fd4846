//! [`CachedMem`]: the memory a stop's decoders read, answered from the
//! stop cache (and the probe's shadow), the rest read from the target and
//! kept for the stop and planned for the next.

use super::{StopCache, MAX_CACHED_READ, MISS_PAGES_BYTES, NOT_SHADOW, PAGE};
use crate::addr::RemoteAddr;
use crate::memory::{MemError, Memory, ReadReq};
use crate::probe::Probe;

/// [`Memory`] over a [`StopCache`].
pub struct CachedMem<'a> {
    pub(super) cache: &'a StopCache,
    pub(super) inner: &'a dyn Memory,
}

impl CachedMem<'_> {
    /// Ask `known` (the probe, the range's index among its placed ones,
    /// and the offset of `addr` in the shadow) about `[addr, addr + len)`
    /// when what changed since stop `serial` can be told there: that stop
    /// was the previous one and both refreshed the plan. What it answers
    /// true for counts as read (and is planned again).
    fn since(
        &self,
        serial: u64,
        addr: RemoteAddr,
        len: usize,
        known: impl FnOnce(&Probe, usize, usize) -> bool,
    ) -> bool {
        let mut g = self.cache.inner.borrow_mut();
        if serial == 0 || serial + 1 != g.stops || !g.fresh || !g.was_fresh {
            return false;
        }
        // A logged step's dirty flags are its recorded words: they tell
        // only of words the armed stop read.
        if g.replay.active && !g.replay_watched(addr.0, len) {
            return false;
        }
        let told = match (g.span_of(addr.0, len), &g.probe) {
            (Some((s, off)), Some(p)) if s.placed != NOT_SHADOW => known(p, s.placed as usize, off),
            _ => false,
        };
        if told {
            g.hit(addr.0, len);
        }
        told
    }
}

impl Memory for CachedMem<'_> {
    fn read(&self, addr: RemoteAddr, buf: &mut [u8]) -> Result<(), MemError> {
        let mut g = self.cache.inner.borrow_mut();
        if g.replay.active {
            return match g.replay_read(addr.0, buf) {
                true => Ok(()),
                false => {
                    g.replay.misses += 1;
                    log::debug!(target: "tracer::prefetch", "a logged step read {} bytes at {addr} that its log does not hold", buf.len());
                    Err(MemError::Read {
                        addr,
                        len: buf.len(),
                        source: std::io::Error::other("not in the probe's log of this step"),
                    })
                }
            };
        }
        if let Some(d) = g.find(addr.0, buf.len()) {
            buf.copy_from_slice(d);
            g.hit(addr.0, buf.len());
            return Ok(());
        }
        g.misses += 1;
        // A miss costs a system call and the pages it touches: read those
        // pages whole (the objects next to this one are likely read next,
        // an instance's attributes, a new loop's objects). Within the pages
        // of the range, so the wider read fails only where the range does.
        if let Some(end) = addr.0.checked_add(buf.len() as u64) {
            let first = addr.0 & !(PAGE - 1);
            let last = end.saturating_sub(1) & !(PAGE - 1);
            let wide = (last - first + PAGE) as usize;
            if !buf.is_empty() && wide <= MISS_PAGES_BYTES {
                let mut page = std::mem::take(&mut g.miss_buf);
                page.resize(wide, 0);
                let read = self.inner.read(RemoteAddr(first), &mut page);
                if read.is_ok() {
                    let off = (addr.0 - first) as usize;
                    buf.copy_from_slice(&page[off..off + buf.len()]);
                    g.insert(first, &page);
                    g.touch(addr.0, buf.len());
                }
                g.miss_buf = page;
                if read.is_ok() {
                    return Ok(());
                }
            }
        }
        let read = self.inner.read(addr, buf);
        if read.is_err() || buf.len() > MAX_CACHED_READ {
            g.untracked = true;
        } else {
            g.insert(addr.0, buf);
            g.touch(addr.0, buf.len());
        }
        read
    }

    fn view(
        &self,
        addr: RemoteAddr,
        len: usize,
        scratch: &mut Vec<u8>,
        f: &mut dyn FnMut(&[u8]),
    ) -> bool {
        {
            let mut g = self.cache.inner.borrow_mut();
            if g.replay.active {
                if let Some(d) = g.replay_view(addr.0, len) {
                    f(d);
                    return true;
                }
                drop(g);
                return crate::memory::view_by_read(self, addr, len, scratch, f);
            }
            if let Some(d) = g.find(addr.0, len) {
                f(d);
                g.hit(addr.0, len);
                return true;
            }
        }
        crate::memory::view_by_read(self, addr, len, scratch, f)
    }

    fn note(&self, addr: RemoteAddr, len: usize, what: crate::memory::Words) {
        self.cache.inner.borrow_mut().note(addr.0, len, what);
    }

    fn stop_serial(&self) -> u64 {
        let g = self.cache.inner.borrow();
        if g.fresh {
            g.stops
        } else {
            0
        }
    }

    fn unchanged_since(&self, serial: u64, addr: RemoteAddr, len: usize) -> bool {
        self.since(serial, addr, len, |p, k, off| p.unchanged(k, off, len))
    }

    fn changed_blocks_since(&self, serial: u64, page: RemoteAddr) -> Option<u64> {
        let mut mask = None;
        self.since(serial, page, PAGE as usize, |p, k, off| {
            mask = p.dirty_blocks(k, off);
            mask.is_some()
        });
        mask
    }

    fn read_batch(&self, reqs: &[ReadReq], out: &mut [u8], ok: &mut Vec<bool>) {
        ok.clear();
        ok.resize(reqs.len(), false);
        let mut g = self.cache.inner.borrow_mut();
        if g.replay.active {
            let mut off = 0usize;
            for (i, r) in reqs.iter().enumerate() {
                let Some(dst) = out.get_mut(off..off + r.len) else {
                    break;
                };
                ok[i] = g.replay_read(r.addr.0, dst);
                if !ok[i] {
                    dst.fill(0);
                }
                off += r.len;
            }
            return;
        }
        let mut missed: Vec<(usize, usize)> = Vec::new();
        let mut off = 0usize;
        for (i, r) in reqs.iter().enumerate() {
            let Some(dst) = out.get_mut(off..off + r.len) else {
                break;
            };
            if let Some(d) = g.find(r.addr.0, r.len) {
                dst.copy_from_slice(d);
                ok[i] = true;
                g.hit(r.addr.0, r.len);
            } else {
                missed.push((i, off));
            }
            off += r.len;
        }
        if missed.is_empty() {
            return;
        }
        g.misses += missed.len() as u64;
        let mreqs: Vec<ReadReq> = missed.iter().map(|&(i, _)| reqs[i]).collect();
        let mut mbuf = vec![0u8; mreqs.iter().map(|r| r.len).sum()];
        let mut mok = Vec::new();
        self.inner.read_batch(&mreqs, &mut mbuf, &mut mok);
        let mut moff = 0usize;
        for (k, &(i, o)) in missed.iter().enumerate() {
            let len = reqs[i].len;
            let data = &mbuf[moff..moff + len];
            out[o..o + len].copy_from_slice(data);
            if mok.get(k).copied().unwrap_or(false) && len <= MAX_CACHED_READ {
                ok[i] = true;
                g.insert(reqs[i].addr.0, data);
                g.touch(reqs[i].addr.0, len);
            } else {
                ok[i] = mok.get(k).copied().unwrap_or(false);
                g.untracked = true;
            }
            moff += len;
        }
    }
}
