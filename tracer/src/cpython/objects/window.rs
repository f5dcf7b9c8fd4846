//! Batched object reads: the windows (first bytes) of many objects fetched
//! in one `process_vm_readv`, nearby windows merged into one range, and a
//! [`WindowMem`] that serves the decoders' small reads from a window so the
//! existing per-object readers need no change to be batched.

use super::atoms::read_name;
use crate::addr::RemoteAddr;
use crate::cpython::{Caches, Python};
use crate::memory::{MemError, Memory, ReadReq};

/// Page size: windows never cross a page end, so a window next to an
/// unmapped page still reads.
const PAGE: u64 = 4096;
/// Windows closer than this are read as one range (the bytes between are
/// cheaper to copy than another iovec costs the kernel).
const MERGE_GAP: u64 = 256;

/// One read request of a batch and where its bytes ended up.
#[derive(Debug, Clone, Copy)]
struct Want {
    addr: RemoteAddr,
    len: usize,
    /// Offset of this window's bytes in `Windows::buf`, or `usize::MAX`
    /// when it could not be read.
    at: usize,
    got: usize,
}

/// The windows of one batch, read together.
#[derive(Default)]
pub(crate) struct Windows {
    wants: Vec<Want>,
    order: Vec<u32>,
    spans: Vec<ReadReq>,
    /// For each span, its first byte in `buf`.
    span_at: Vec<usize>,
    buf: Vec<u8>,
    ok: Vec<bool>,
    retry: Vec<ReadReq>,
}

impl Windows {
    /// Forget the previous batch (keeps the allocations).
    pub fn clear(&mut self) {
        self.wants.clear();
    }

    /// Ask for `len` bytes at `addr` (cut at the end of its page); returns
    /// the window's index in this batch.
    pub fn want(&mut self, addr: RemoteAddr, len: usize) -> usize {
        let to_page = (PAGE - addr.0 % PAGE) as usize;
        self.want_exact(addr, len.min(to_page))
    }

    /// Ask for exactly `len` bytes at `addr` (known to be one object).
    pub fn want_exact(&mut self, addr: RemoteAddr, len: usize) -> usize {
        self.wants.push(Want {
            addr,
            len,
            at: usize::MAX,
            got: 0,
        });
        self.wants.len() - 1
    }

    /// Read every window asked for since [`Windows::clear`].
    pub fn read(&mut self, mem: &dyn Memory) {
        let n = self.wants.len();
        if n == 0 {
            return;
        }
        self.order.clear();
        self.order.extend(0..n as u32);
        let wants = &self.wants;
        self.order
            .sort_unstable_by_key(|&i| wants[i as usize].addr.0);
        // Merge windows in address order into spans.
        self.spans.clear();
        self.span_at.clear();
        let mut total = 0usize;
        for &i in &self.order {
            let w = self.wants[i as usize];
            if w.len == 0 || w.addr.is_null() {
                continue;
            }
            let end = w.addr.0.saturating_add(w.len as u64);
            match self.spans.last_mut() {
                Some(s)
                    if w.addr.0 <= s.addr.0 + s.len as u64 + MERGE_GAP
                        && end.saturating_sub(s.addr.0) <= 1 << 20 =>
                {
                    let new_end = end.max(s.addr.0 + s.len as u64);
                    let grow = (new_end - s.addr.0) as usize - s.len;
                    s.len += grow;
                    total += grow;
                }
                _ => {
                    self.span_at.push(total);
                    self.spans.push(ReadReq {
                        addr: w.addr,
                        len: w.len,
                    });
                    total += w.len;
                }
            }
            let s = self.spans.len() - 1;
            self.wants[i as usize].at =
                self.span_at[s] + (w.addr.0 - self.spans[s].addr.0) as usize;
            self.wants[i as usize].got = w.len;
        }
        // Not zeroed first: the read writes every byte (zeros where a span
        // is unreadable).
        self.buf.resize(total, 0);
        mem.read_batch(&self.spans, &mut self.buf, &mut self.ok);
        if self.ok.iter().all(|&b| b) {
            return;
        }
        // A merged span failed (one of its windows points at unmapped
        // memory): read the windows of failed spans one by one.
        let bad: Vec<(u64, u64)> = self
            .spans
            .iter()
            .zip(&self.ok)
            .filter(|(_, ok)| !**ok)
            .map(|(s, _)| (s.addr.0, s.addr.0 + s.len as u64))
            .collect();
        let mut idx = Vec::new();
        self.retry.clear();
        for (i, w) in self.wants.iter().enumerate() {
            if w.at != usize::MAX && bad.iter().any(|&(a, b)| w.addr.0 >= a && w.addr.0 < b) {
                idx.push(i);
                self.retry.push(ReadReq {
                    addr: w.addr,
                    len: w.len,
                });
            }
        }
        let mut rbuf = vec![0u8; self.retry.iter().map(|r| r.len).sum()];
        let mut ok = Vec::new();
        mem.read_batch(&self.retry, &mut rbuf, &mut ok);
        let mut off = 0usize;
        for (k, &i) in idx.iter().enumerate() {
            let len = self.retry[k].len;
            let w = &mut self.wants[i];
            if ok.get(k).copied().unwrap_or(false) {
                // Put the good bytes where the failed span held them.
                self.buf[w.at..w.at + len].copy_from_slice(&rbuf[off..off + len]);
            } else {
                w.at = usize::MAX;
                w.got = 0;
            }
            off += len;
        }
    }

    /// Window `i` of this batch: its address and the bytes read (empty when
    /// unreadable).
    pub fn get(&self, i: usize) -> (RemoteAddr, &[u8]) {
        match self.wants.get(i) {
            Some(w) if w.at != usize::MAX => (w.addr, &self.buf[w.at..w.at + w.got]),
            Some(w) => (w.addr, &[]),
            None => (RemoteAddr::NULL, &[]),
        }
    }
}

/// The `str`s at `keys` as names ([`read_name`]), their
/// headers and short texts read in one batch.
pub(crate) fn read_names(
    mem: &dyn Memory,
    py: &Python,
    caches: &mut Caches,
    keys: &[RemoteAddr],
) -> Vec<Result<std::sync::Arc<str>, String>> {
    let mut w = Windows::default();
    for &k in keys {
        w.want(k, NAME_WINDOW);
    }
    w.read(mem);
    (0..keys.len())
        .map(|i| {
            let (base, data) = w.get(i);
            let wm = WindowMem {
                inner: mem,
                base,
                data,
            };
            read_name(&wm, py, caches, keys[i])
        })
        .collect()
}

/// Bytes prefetched per name: a compact `str` header and a short name.
const NAME_WINDOW: usize = 160;

/// [`Memory`] that answers reads inside one prefetched window from it and
/// everything else from the process.
pub(crate) struct WindowMem<'a> {
    pub inner: &'a dyn Memory,
    pub base: RemoteAddr,
    pub data: &'a [u8],
}

impl Memory for WindowMem<'_> {
    fn read(&self, addr: RemoteAddr, buf: &mut [u8]) -> Result<(), MemError> {
        if let Some(off) = addr.0.checked_sub(self.base.0) {
            let off = off as usize;
            if let Some(src) = off
                .checked_add(buf.len())
                .and_then(|end| self.data.get(off..end))
            {
                buf.copy_from_slice(src);
                return Ok(());
            }
        }
        self.inner.read(addr, buf)
    }

    fn read_batch(&self, reqs: &[ReadReq], out: &mut [u8], ok: &mut Vec<bool>) {
        self.inner.read_batch(reqs, out, ok)
    }

    fn note(&self, addr: RemoteAddr, len: usize, what: crate::memory::Words) {
        self.inner.note(addr, len, what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::testmem::VecMem;

    #[test]
    fn merged_and_failed_windows() {
        let mem = VecMem::new((0..8192u32).map(|i| (i % 251) as u8).collect());
        let mut w = Windows::default();
        w.clear();
        let a = w.want(RemoteAddr(0x1010), 16);
        let b = w.want(RemoteAddr(0x1000), 32); // overlaps a
        let c = w.want(RemoteAddr(0x1ff8), 64); // cut at the page end
        let d = w.want(RemoteAddr(0x9000), 16); // unmapped
        let e = w.want(RemoteAddr(0x1fc0), 16); // merged with c
        w.read(&mem);
        let byte = |addr: u64| ((addr - 0x1000) % 251) as u8;
        for (i, addr, len) in [
            (a, 0x1010, 16),
            (b, 0x1000, 32),
            (c, 0x1ff8, 8),
            (e, 0x1fc0, 16),
        ] {
            let (at, data) = w.get(i);
            assert_eq!(at.0, addr);
            assert_eq!(data.len(), len);
            for (k, &v) in data.iter().enumerate() {
                assert_eq!(v, byte(addr + k as u64));
            }
        }
        assert!(w.get(d).1.is_empty());
        // A window merged into a span with an unreadable one still reads.
        w.clear();
        let x = w.want(RemoteAddr(0x2ff0), 16);
        let y = w.want(RemoteAddr(0x3000), 16); // unmapped, merged with x
        w.read(&mem);
        assert_eq!(w.get(x).1.len(), 16);
        assert!(w.get(y).1.is_empty());

        let (base, data) = w.get(x);
        let wm = WindowMem {
            inner: &mem,
            base,
            data,
        };
        let mut buf = [0u8; 8];
        wm.read(RemoteAddr(0x2ff4), &mut buf).unwrap();
        assert_eq!(buf[0], byte(0x2ff4));
        wm.read(RemoteAddr(0x1004), &mut buf).unwrap();
        assert_eq!(buf[0], byte(0x1004));
    }
}
