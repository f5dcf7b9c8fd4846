//! Items of a container checked by their memory pages: a container whose
//! items are all immutable atoms keeps the pages their bytes lie on. At each
//! step those pages are read (with the stop's one batched read) and
//! compared; only the atoms on a page whose bytes changed are compared with
//! their keys. An item freed and another made at its address shows as a
//! changed key, so nothing stale is kept, and a 1,000-int list costs a few
//! page compares instead of 1,000 decodes.

use store::ObjAddr;

use super::Mirror;
use crate::addr::RemoteAddr;
use crate::mem::{Memory, ReadReq};

const PAGE: u64 = 4096;
/// Pages one container's check may cover (1 MiB).
const MAX_PAGES: usize = 256;

/// The pages holding the keys of a container's items, as last checked.
pub(super) struct KidPages {
    pages: Vec<u64>,
    bytes: Vec<u8>,
    /// The pages as reads, and a buffer for a step's fresh bytes (kept: a
    /// check runs at every step).
    reqs: Vec<ReadReq>,
    fresh: Vec<u8>,
    /// For each page, the items whose key touches it: slab index, and the
    /// index of the page the key starts on (a key running into the next
    /// page is read across both, which are then consecutive in `bytes`).
    by_page: Vec<Vec<(u32, u32)>>,
    /// Items added since the pages were chosen (appended): not on them,
    /// visited at every step instead, until there are too many.
    pub extras: Vec<RemoteAddr>,
}

/// Appended items kept outside the pages before the pages are chosen again.
pub(super) const MAX_EXTRAS: usize = 64;

impl Mirror {
    /// Pages for `items` (every one a keyed atom the mirror holds, its key
    /// on one page), read now and checked against the keys: the pages, and
    /// the items whose bytes no longer match. `None` when not possible.
    pub(super) fn build_kid_pages(
        &self,
        mem: &dyn Memory,
        items: &[ObjAddr],
    ) -> Option<(Box<KidPages>, Vec<RemoteAddr>)> {
        // (page, slab index, first page of the key) for every page a key
        // touches: a key may run into the next page.
        let mut kids: Vec<(u64, u32, u64)> = Vec::with_capacity(items.len());
        for a in items {
            let &j = self.index.get(&RemoteAddr(a.0))?;
            let e = &self.slab[j as usize];
            if e.key.is_empty() || e.dormant || e.node.is_none() {
                return None;
            }
            let start = a.0.checked_add(8)?;
            let last = start.checked_add(e.key.len() as u64 - 1)?;
            let first = start & !(PAGE - 1);
            let mut p = first;
            while p <= last {
                kids.push((p, j, first));
                p += PAGE;
            }
        }
        kids.sort_unstable();
        kids.dedup();
        let mut pages: Vec<u64> = kids.iter().map(|&(p, _, _)| p).collect();
        pages.dedup();
        if pages.is_empty() || pages.len() > MAX_PAGES {
            return None;
        }
        let mut by_page: Vec<Vec<(u32, u32)>> = vec![Vec::new(); pages.len()];
        for &(p, j, first) in &kids {
            let (Ok(pi), Ok(fi)) = (pages.binary_search(&p), pages.binary_search(&first)) else {
                return None;
            };
            by_page[pi].push((j, fi as u32));
        }
        let reqs: Vec<ReadReq> = pages
            .iter()
            .map(|&p| ReadReq {
                addr: RemoteAddr(p),
                len: PAGE as usize,
            })
            .collect();
        let mut bytes = Vec::new();
        if !read_pages(mem, &reqs, &mut bytes) {
            return None;
        }
        let mut kp = Box::new(KidPages {
            pages,
            bytes,
            reqs,
            fresh: Vec::new(),
            by_page,
            extras: Vec::new(),
        });
        let changed = self.changed_keys(&mut kp, false);
        Some((kp, changed))
    }

    /// Read the pages again; the items whose key no longer matches (their
    /// pages' bytes become the reference). `None` when a page is unreadable.
    pub(super) fn check_kid_pages(
        &self,
        mem: &dyn Memory,
        kp: &mut KidPages,
    ) -> Option<Vec<RemoteAddr>> {
        let mut fresh = std::mem::take(&mut kp.fresh);
        let ok = read_pages(mem, &kp.reqs, &mut fresh);
        kp.fresh = fresh;
        ok.then(|| self.changed_keys(kp, true))
    }

    /// Compare the keys of the items on every page where `kp.fresh` differs
    /// from the reference (with `fresh` false, every page of the reference,
    /// just read), then take the fresh bytes as the reference.
    fn changed_keys(&self, kp: &mut KidPages, fresh: bool) -> Vec<RemoteAddr> {
        let mut changed = Vec::new();
        let p = PAGE as usize;
        let now: &[u8] = if fresh { &kp.fresh } else { &kp.bytes };
        for i in 0..kp.pages.len() {
            if fresh && now[i * p..(i + 1) * p] == kp.bytes[i * p..(i + 1) * p] {
                continue;
            }
            for &(j, fi) in &kp.by_page[i] {
                let e = &self.slab[j as usize];
                let fi = fi as usize;
                let off = fi * p + (e.addr.0 + 8 - kp.pages[fi]) as usize;
                let end = off + e.key.len();
                // The key's pages must be consecutive in memory to be
                // consecutive in `now`.
                let last = fi + (end - 1) / p - off / p;
                let consecutive =
                    kp.pages.get(last) == Some(&(kp.pages[fi] + (last - fi) as u64 * PAGE));
                if !consecutive || now.get(off..end) != Some(&e.key[..]) {
                    changed.push(e.addr);
                }
            }
        }
        if fresh {
            std::mem::swap(&mut kp.bytes, &mut kp.fresh);
        }
        changed
    }
}

/// Read `reqs` (whole pages) back to back into `buf`; false if one is
/// unreadable.
fn read_pages(mem: &dyn Memory, reqs: &[ReadReq], buf: &mut Vec<u8>) -> bool {
    buf.clear();
    buf.resize(reqs.len() * PAGE as usize, 0);
    let mut ok = Vec::new();
    mem.read_batch(reqs, buf, &mut ok);
    ok.iter().all(|&b| b)
}
