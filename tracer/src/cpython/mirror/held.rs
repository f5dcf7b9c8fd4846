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
use crate::memory::{Memory, ReadReq, Words};

const PAGE: u64 = 4096;
/// Pages one container's check may cover (1 MiB).
const MAX_PAGES: usize = 256;

/// The pages holding the keys of a container's items, as last checked.
pub(super) struct KidPages {
    pages: Vec<u64>,
    bytes: Vec<u8>,
    /// Buffers kept for the check that runs at every step: bytes of a page
    /// the stop's read does not hold, and the pages found changed (with
    /// the mask of their 64-byte blocks that may have).
    scratch: Vec<u8>,
    dirty: Vec<(usize, u64)>,
    /// For each page, the items whose key touches it, once per position
    /// in the container.
    by_page: Vec<Vec<Kid>>,
    /// Items placed on the pages since the last check: their keys are
    /// compared at the next check whatever their pages did.
    recheck: Vec<(u32, u32)>,
    /// Items added since the pages were chosen (appended): not on them,
    /// visited at every step instead, until there are too many.
    pub extras: Vec<RemoteAddr>,
    /// The stop whose bytes `bytes` all are ([`Memory::stop_serial`]; 0:
    /// unknown): pages the memory knows unchanged since are not compared.
    synced: u64,
    /// The longest key of an item ever placed on the pages.
    max_key: usize,
}

/// An item on one of the pages.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Kid {
    /// Its slab index.
    j: u32,
    /// The index of the page its key starts on (a key running into the
    /// next page is read across both, which are then consecutive in
    /// `bytes`).
    fi: u32,
    /// The 64-byte blocks of this page its key has bytes in (bit b: bytes
    /// 64b..64b+64): kept here so that a changed block finds its items
    /// without a look at every item of the page.
    blocks: u64,
}

/// The blocks of `page` the `len` bytes at `start` have bytes in.
fn key_blocks(page: u64, start: u64, len: usize) -> u64 {
    let begin = start.max(page);
    let end = (start + len as u64).min(page + PAGE);
    if begin >= end {
        return 0;
    }
    let (first, last) = ((begin - page) / 64, (end - 1 - page) / 64);
    if last - first >= 63 {
        u64::MAX
    } else {
        ((1u64 << (last - first + 1)) - 1) << first
    }
}

/// Items kept outside the pages before the pages are chosen again.
pub(super) const MAX_EXTRAS: usize = 64;
/// Items replaced at one step that the pages follow one by one; past this
/// the pages are chosen again.
pub(super) const MAX_EDIT: usize = 64;

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
        // Duplicates stay: an item held at two positions is on its pages
        // twice, so that replacing one of them leaves the other.
        kids.sort_unstable();
        let mut pages: Vec<u64> = kids.iter().map(|&(p, _, _)| p).collect();
        pages.dedup();
        if pages.is_empty() || pages.len() > MAX_PAGES {
            return None;
        }
        let mut by_page: Vec<Vec<Kid>> = vec![Vec::new(); pages.len()];
        for &(p, j, first) in &kids {
            let (Ok(pi), Ok(fi)) = (pages.binary_search(&p), pages.binary_search(&first)) else {
                return None;
            };
            let e = &self.slab[j as usize];
            by_page[pi].push(Kid {
                j,
                fi: fi as u32,
                blocks: key_blocks(p, e.addr.0 + 8, e.key.len()),
            });
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
            scratch: Vec::new(),
            dirty: Vec::new(),
            by_page,
            recheck: Vec::new(),
            extras: Vec::new(),
            synced: mem.stop_serial(),
            max_key: 0,
        });
        let all: Vec<(usize, u64)> = (0..kp.pages.len()).map(|i| (i, u64::MAX)).collect();
        let changed = self.changed_keys(&mut kp, &all);
        Some((kp, changed))
    }

    /// Follow a replacement, in the container, of the items `removed` by
    /// `added` (each counted once per position): a removed item leaves its
    /// pages (or the extras), an added one goes on its pages when they are
    /// among them and it is a keyed atom the mirror holds, to the extras
    /// otherwise. False when the pages cannot follow (choose them again).
    pub(super) fn edit_kid_pages(
        &self,
        kp: &mut KidPages,
        removed: &[ObjAddr],
        added: &[ObjAddr],
    ) -> bool {
        for a in removed {
            let addr = RemoteAddr(a.0);
            if let Some(i) = kp.extras.iter().position(|&x| x == addr) {
                kp.extras.swap_remove(i);
                continue;
            }
            match self.index.get(&addr) {
                Some(&j) if kp.remove(j, addr) => {}
                _ => return false,
            }
        }
        for a in added {
            let addr = RemoteAddr(a.0);
            if !self.place(kp, addr) {
                if kp.extras.len() >= MAX_EXTRAS {
                    return false;
                }
                kp.extras.push(addr);
            }
        }
        true
    }

    /// Put one more occurrence of `addr` on the pages, to be compared at
    /// the next check: false when it is not a keyed atom the mirror holds or
    /// its key's pages are not all among them, in order.
    fn place(&self, kp: &mut KidPages, addr: RemoteAddr) -> bool {
        let Some(&j) = self.index.get(&addr) else {
            return false;
        };
        let e = &self.slab[j as usize];
        if e.key.is_empty() || e.dormant || e.node.is_none() {
            return false;
        }
        let Some(start) = addr.0.checked_add(8) else {
            return false;
        };
        let Some(last) = start.checked_add(e.key.len() as u64 - 1) else {
            return false;
        };
        let first = start & !(PAGE - 1);
        let Ok(fi) = kp.pages.binary_search(&first) else {
            return false;
        };
        let n = ((last - first) / PAGE) as usize + 1;
        let fits = (0..n).all(|k| kp.pages.get(fi + k) == Some(&(first + k as u64 * PAGE)));
        if !fits {
            return false;
        }
        kp.max_key = kp.max_key.max(e.key.len());
        for k in 0..n {
            let page = first + k as u64 * PAGE;
            kp.by_page[fi + k].push(Kid {
                j,
                fi: fi as u32,
                blocks: key_blocks(page, start, e.key.len()),
            });
        }
        kp.recheck.push((j, fi as u32));
        true
    }

    /// Look at the pages again (in place, where the stop's read holds
    /// them); the items whose key no longer matches. Changed pages become
    /// the reference. `None` when a page is unreadable.
    pub(super) fn check_kid_pages(
        &self,
        mem: &dyn Memory,
        kp: &mut KidPages,
    ) -> Option<Vec<RemoteAddr>> {
        let p = PAGE as usize;
        let mut scratch = std::mem::take(&mut kp.scratch);
        let mut dirty = std::mem::take(&mut kp.dirty);
        dirty.clear();
        let mut ok = true;
        let since = kp.synced;
        if let Some(&page) = kp.pages.first() {
            mem.note(RemoteAddr(page), 8 + kp.max_key, Words::Extent);
        }
        for (i, &page) in kp.pages.iter().enumerate() {
            let reference = &mut kp.bytes[i * p..(i + 1) * p];
            // Where the memory knows which blocks may have changed since
            // the reference was taken, only those are looked at.
            let known = match since {
                0 => None,
                s => mem.changed_blocks_since(s, RemoteAddr(page)),
            };
            mem.note(RemoteAddr(page), p, Words::Held);
            if known == Some(0) {
                continue;
            }
            let mut mask = 0u64;
            ok = mem.view(RemoteAddr(page), p, &mut scratch, &mut |now| match known {
                Some(blocks) => {
                    for b in (0..64).filter(|b| blocks & (1 << b) != 0) {
                        let r = b * 64..b * 64 + 64;
                        if now[r.clone()] != reference[r.clone()] {
                            reference[r.clone()].copy_from_slice(&now[r]);
                            mask |= 1 << b;
                        }
                    }
                }
                None => {
                    if now != &reference[..] {
                        reference.copy_from_slice(now);
                        mask = u64::MAX;
                    }
                }
            });
            if !ok {
                break;
            }
            if mask != 0 {
                dirty.push((i, mask));
            }
        }
        kp.scratch = scratch;
        kp.synced = if ok { mem.stop_serial() } else { 0 };
        let changed = ok.then(|| self.changed_keys(kp, &dirty));
        kp.dirty = dirty;
        changed
    }

    /// Compare with the reference bytes the keys of the items on pages
    /// `dirty` whose bytes there touch a changed block, and of the items
    /// placed since the last check.
    fn changed_keys(&self, kp: &mut KidPages, dirty: &[(usize, u64)]) -> Vec<RemoteAddr> {
        let mut changed = Vec::new();
        for &(i, mask) in dirty {
            for kid in &kp.by_page[i] {
                if mask & kid.blocks != 0 && self.key_differs(&kp.pages, &kp.bytes, kid.j, kid.fi) {
                    changed.push(self.slab[kid.j as usize].addr);
                }
            }
        }
        for &(j, fi) in &kp.recheck {
            if self.key_differs(&kp.pages, &kp.bytes, j, fi) {
                changed.push(self.slab[j as usize].addr);
            }
        }
        kp.recheck.clear();
        changed
    }
}

impl Mirror {
    /// Whether item `j`, whose key starts on page `fi`, no longer has its
    /// key in `now` (the pages' bytes back to back).
    fn key_differs(&self, pages: &[u64], now: &[u8], j: u32, fi: u32) -> bool {
        let p = PAGE as usize;
        let e = &self.slab[j as usize];
        let fi = fi as usize;
        let off = fi * p + (e.addr.0 + 8 - pages[fi]) as usize;
        let end = off + e.key.len();
        // The key's pages must be consecutive in memory to be consecutive
        // in `now`.
        let last = fi + (end - 1) / p - off / p;
        let consecutive = pages.get(last) == Some(&(pages[fi] + (last - fi) as u64 * PAGE));
        !consecutive || now.get(off..end) != Some(&e.key[..])
    }
}

impl KidPages {
    /// Take one occurrence of item `j` at `addr` off its pages (and off
    /// `recheck`); false when it is not on them.
    fn remove(&mut self, j: u32, addr: RemoteAddr) -> bool {
        let Some(start) = addr.0.checked_add(8) else {
            return false;
        };
        let Ok(fi) = self.pages.binary_search(&(start & !(PAGE - 1))) else {
            return false;
        };
        let want = (j, fi as u32);
        let mut pi = fi;
        while let Some(pos) = self
            .by_page
            .get(pi)
            .and_then(|v| v.iter().position(|x| (x.j, x.fi) == want))
        {
            self.by_page[pi].swap_remove(pos);
            pi += 1;
        }
        if let Some(pos) = self.recheck.iter().position(|&x| x == want) {
            self.recheck.swap_remove(pos);
        }
        pi > fi
    }
}

/// Read `reqs` (whole pages) back to back into `buf`; false if one is
/// unreadable.
fn read_pages(mem: &dyn Memory, reqs: &[ReadReq], buf: &mut Vec<u8>) -> bool {
    // Every byte is written by the read (an unreadable page is zeroed).
    buf.resize(reqs.len() * PAGE as usize, 0);
    let mut ok = Vec::new();
    mem.read_batch(reqs, buf, &mut ok);
    ok.iter().all(|&b| b)
}
