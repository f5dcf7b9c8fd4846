//! The incremental object walk: a [`Mirror`] of every object the store
//! holds, kept across steps, so that each step reads all reachable objects
//! in a few batched system calls, re-decodes only those whose bytes changed,
//! and emits heap ops (set, splice, delete) instead of a whole heap.
//!
//! The walk visits objects in exactly the order and with exactly the
//! attribute depths of [`super::objects::Walker`] (breadth first, an object
//! re-decoded when reached again at a better depth), so the state it leaves
//! in the store is the state a full walk would produce.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use store::{Node, ObjAddr, Op};

use super::objects::{self, Child, Limits};
use super::read::{i64_at, ptr_at, read_upto, u32_at};
use super::v311;
use super::window::{WindowMem, Windows};
use super::{Caches, Python};
use crate::addr::RemoteAddr;
use crate::diff::{self, common_ends};
use crate::kinds;
use crate::mem::{Memory, ReadReq};

/// Bytes read at an object not seen before: enough for the header of every
/// builtin and the inline data of small ints, floats and short strs.
const WINDOW: usize = 160;
const PAGE: u64 = 4096;
/// Pages one container's atom cache may cover (1 MiB).
const MAX_PAGES: usize = 256;
/// Atoms longer than this are decoded at every visit instead.
const MAX_KEY: usize = 4096;
/// Containers with fewer items validate them one by one.
const MIN_KIDS: usize = 16;

/// A multiplicative hash for addresses (SipHash costs more than the rest of
/// a visit); the high half is folded in because addresses are aligned.
#[derive(Default, Clone, Copy)]
struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 29)
    }
}

type AddrMap<V> = HashMap<RemoteAddr, V, BuildHasherDefault<AddrHasher>>;

/// What the mirror knows about one object of the last step.
struct Entry {
    addr: RemoteAddr,
    /// The node the store holds (`None` until first decoded).
    node: Option<Node>,
    /// For immutable atoms: the object's bytes after the refcount, which
    /// determine its node completely; equal bytes mean an equal node.
    key: Vec<u8>,
    /// Step of the last visit, and the attribute depth of that visit.
    visited: u64,
    vdepth: u8,
    /// For a container whose items are all keyed atoms: their entries and
    /// the memory pages holding them, to skip them while the pages hold the
    /// same bytes.
    kids: Option<Box<AtomKids>>,
    /// The items were not all keyed atoms when last looked at; look again
    /// only when the items change.
    mixed: bool,
}

struct AtomKids {
    /// Slab index of each item, aligned with `node.items`.
    idx: Vec<u32>,
    /// Page addresses covering every item's key, sorted.
    pages: Vec<u64>,
    /// Those pages' bytes when the items were last validated.
    bytes: Vec<u8>,
}

/// One object to (re)decode in the current wave.
struct Visit {
    slot: u32,
    depth: u8,
    level: u32,
    /// Its window in the wave's batch, `None` over the object budget.
    win: Option<usize>,
    /// First window of its atom pages (see [`AtomKids`]).
    pages_win: usize,
}

/// A container whose atom cache is rebuilt at the end of the walk.
struct Fixup {
    slot: u32,
    /// Items and cache before this step's change, to reuse what is unchanged.
    old: Option<(Vec<ObjAddr>, Box<AtomKids>)>,
}

/// Objects of the previous step, by address, with their decoded nodes.
#[derive(Default)]
pub(crate) struct Mirror {
    slab: Vec<Entry>,
    free: Vec<u32>,
    index: AddrMap<u32>,
    step: u64,
    queue: Vec<(RemoteAddr, u8, u32)>,
    next: Vec<(RemoteAddr, u8, u32)>,
    visits: Vec<Visit>,
    windows: Windows,
    fixups: Vec<Fixup>,
}

fn better(new: u8, old: u8) -> bool {
    new != 0 && (old == 0 || new < old)
}

impl Mirror {
    fn slot_of(&mut self, addr: RemoteAddr) -> u32 {
        if let Some(&i) = self.index.get(&addr) {
            return i;
        }
        let e = Entry {
            addr,
            node: None,
            key: Vec::new(),
            visited: 0,
            vdepth: 0,
            kids: None,
            mixed: false,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.slab[i as usize] = e;
                i
            }
            None => {
                self.slab.push(e);
                (self.slab.len() - 1) as u32
            }
        };
        self.index.insert(addr, i);
        i
    }

    /// Walk everything reachable from `roots` (each at attribute depth 1)
    /// and append the ops that bring the previous step's heap to this one.
    pub fn walk(
        &mut self,
        mem: &dyn Memory,
        py: &Python,
        caches: &mut Caches,
        limits: &Limits,
        roots: &[RemoteAddr],
        ops: &mut Vec<Op>,
    ) {
        self.step += 1;
        let step = self.step;
        let mut decoded = 0usize;
        self.queue.clear();
        self.fixups.clear();
        let d0 = 1.min(limits.attr_depth);
        self.queue.extend(roots.iter().map(|&r| (r, d0, 0)));
        while !self.queue.is_empty() {
            // Which queued objects are visited, in queue order (the same
            // decisions the full walker makes), and their windows.
            self.visits.clear();
            self.windows.clear();
            let queue = std::mem::take(&mut self.queue);
            for &(addr, depth, level) in &queue {
                let slot = self.slot_of(addr);
                let e = &mut self.slab[slot as usize];
                if e.visited == step && !better(depth, e.vdepth) {
                    continue;
                }
                e.visited = step;
                e.vdepth = depth;
                let mut pages_win = 0;
                let win = if decoded >= limits.max_objects {
                    None
                } else {
                    decoded += 1;
                    let w = if e.key.is_empty() {
                        self.windows.want(addr, WINDOW)
                    } else {
                        // The key says how long the object was: read all of
                        // it even across a page end.
                        self.windows.want_exact(addr, 8 + e.key.len())
                    };
                    if let Some(k) = &e.kids {
                        if !k.bytes.is_empty() {
                            pages_win = w + 1;
                            for &p in &k.pages {
                                self.windows.want(RemoteAddr(p), PAGE as usize);
                            }
                        }
                    }
                    Some(w)
                };
                self.visits.push(Visit {
                    slot,
                    depth,
                    level,
                    win,
                    pages_win,
                });
            }
            self.queue = queue;
            self.windows.read(mem);
            self.next.clear();
            for vi in 0..self.visits.len() {
                let v = &self.visits[vi];
                let (slot, depth, level, pages_win) = (v.slot, v.depth, v.level, v.pages_win);
                let e = &mut self.slab[slot as usize];
                let addr = e.addr;
                let (node, key, children) = match v.win {
                    None => (
                        objects::unreadable("?", "object budget of this snapshot exhausted"),
                        Vec::new(),
                        Vec::new(),
                    ),
                    Some(w) => {
                        let (base, data) = self.windows.get(w);
                        let k = e.key.len();
                        if e.node.is_some() && k != 0 && data.get(8..8 + k) == Some(&e.key[..]) {
                            // The same immutable atom: same node, no children.
                            continue;
                        }
                        let wm = WindowMem {
                            inner: mem,
                            base,
                            data,
                        };
                        let (node, children) =
                            objects::decode_one(&wm, py, caches, limits, addr, depth, level);
                        let key = atom_key(py, &node, data, mem, addr);
                        (node, key, children)
                    }
                };
                let is_cont = is_items_container(&node, &children);
                let mut old_node = e.node.take();
                let old_items = old_node.as_ref().map(|n| &n.items[..]);
                let items_changed = old_items != Some(&node.items[..]);
                let kids = if pages_win != 0 && is_cont {
                    e.kids.take()
                } else {
                    None
                };
                match (kids, old_items) {
                    (Some(k), Some(old)) => {
                        // Items at unchanged positions are atoms the store
                        // holds: check each key against the fresh pages.
                        let (p, s) = common_ends(old, &node.items);
                        let fresh = self.windows.pages(pages_win, k.pages.len());
                        let all_same = fresh.as_deref() == Some(&k.bytes[..]);
                        let olen = old.len();
                        let mut failed = false;
                        let reused = (0..p).chain(olen - s..olen);
                        for oi in reused {
                            let j = k.idx[oi];
                            let c = &mut self.slab[j as usize];
                            if c.visited == step {
                                continue;
                            }
                            let same = all_same
                                || fresh
                                    .as_deref()
                                    .is_some_and(|f| key_in_pages(&k.pages, f, c.addr, &c.key));
                            if same {
                                c.visited = step;
                                c.vdepth = 0;
                                decoded += 1;
                            } else {
                                failed = true;
                                self.next.push((c.addr, 0, level + 1));
                            }
                        }
                        let n = node.items.len();
                        for a in &node.items[p..n - s] {
                            self.next.push((RemoteAddr(a.0), 0, level + 1));
                        }
                        let e = &mut self.slab[slot as usize];
                        if failed || fresh.is_none() {
                            self.fixups.push(Fixup { slot, old: None });
                        } else if items_changed {
                            let old = old.to_vec();
                            self.fixups.push(Fixup {
                                slot,
                                old: Some((old, k)),
                            });
                        } else {
                            let mut k = k;
                            if !all_same {
                                if let Some(f) = fresh {
                                    k.bytes = f;
                                }
                            }
                            e.kids = Some(k);
                        }
                    }
                    _ => {
                        for c in children {
                            self.next.push(match c {
                                Child::Item(a) => (a, 0, level + 1),
                                Child::Attr(a) => {
                                    let d = if depth != 0 && depth < limits.attr_depth {
                                        depth + 1
                                    } else {
                                        0
                                    };
                                    (a, d, level + 1)
                                }
                            });
                        }
                        let e = &mut self.slab[slot as usize];
                        e.kids = None;
                        if is_cont && node.items.len() >= MIN_KIDS && (!e.mixed || items_changed) {
                            self.fixups.push(Fixup { slot, old: None });
                        }
                    }
                }
                let oaddr = ObjAddr(addr.0);
                match &mut old_node {
                    Some(old) if *old == node => {}
                    Some(old) if diff::items_only_change(old, &node) => {
                        if let Some(op) = diff::items_op(oaddr, &old.items, &node.items) {
                            ops.push(op);
                        }
                        *old = node;
                    }
                    slot => {
                        ops.push(Op::HeapSet(oaddr, node.clone()));
                        *slot = Some(node);
                    }
                }
                let e = &mut self.slab[slot as usize];
                e.node = old_node;
                e.key = key;
            }
            std::mem::swap(&mut self.queue, &mut self.next);
        }
        self.sweep(ops);
        self.fix_kids(mem);
    }

    /// Whatever was not reached this step is gone from the state.
    fn sweep(&mut self, ops: &mut Vec<Op>) {
        let step = self.step;
        for (i, e) in self.slab.iter_mut().enumerate() {
            if e.visited == step || e.visited == u64::MAX {
                // Reached this step, or a free slot.
                continue;
            }
            if e.node.is_some() {
                ops.push(Op::HeapDel(ObjAddr(e.addr.0)));
            }
            self.index.remove(&e.addr);
            *e = Entry {
                addr: RemoteAddr::NULL,
                node: None,
                key: Vec::new(),
                visited: u64::MAX,
                vdepth: 0,
                kids: None,
                mixed: false,
            };
            self.free.push(i as u32);
        }
    }

    /// (Re)build the atom caches of the containers that changed this step,
    /// reading their pages now (the target is stopped: the same state the
    /// items were validated in).
    fn fix_kids(&mut self, mem: &dyn Memory) {
        let fixups = std::mem::take(&mut self.fixups);
        let mut reqs: Vec<ReadReq> = Vec::new();
        let mut built: Vec<(u32, AtomKids)> = Vec::new();
        for f in fixups {
            let e = &self.slab[f.slot as usize];
            if e.visited != self.step {
                continue;
            }
            let Some(node) = &e.node else { continue };
            let items = &node.items;
            let (lo, hi, old_idx) = match &f.old {
                Some((old, k)) => {
                    let (p, s) = common_ends(old, items);
                    (p, items.len() - s, Some((k, old.len())))
                }
                None => (0, 0, None),
            };
            let mut idx = Vec::with_capacity(items.len());
            let mut pages: Vec<u64> = match &old_idx {
                Some((k, _)) => k.pages.clone(),
                None => Vec::new(),
            };
            let mut ok = true;
            for (i, a) in items.iter().enumerate() {
                let reuse = old_idx.as_ref().and_then(|(k, olen)| {
                    if i < lo {
                        k.idx.get(i).copied()
                    } else if i >= hi {
                        k.idx.get(olen - (items.len() - i)).copied()
                    } else {
                        None
                    }
                });
                let j = match reuse {
                    Some(j) => j,
                    None => {
                        let Some(&j) = self.index.get(&RemoteAddr(a.0)) else {
                            ok = false;
                            break;
                        };
                        let c = &self.slab[j as usize];
                        if c.key.is_empty() || c.visited != self.step {
                            ok = false;
                            break;
                        }
                        let end = a.0 + 8 + c.key.len() as u64;
                        let mut p = a.0 & !(PAGE - 1);
                        while p < end {
                            pages.push(p);
                            p += PAGE;
                        }
                        j
                    }
                };
                idx.push(j);
            }
            pages.sort_unstable();
            pages.dedup();
            if !ok || items.is_empty() || pages.len() > MAX_PAGES {
                self.slab[f.slot as usize].mixed = true;
                continue;
            }
            for &p in &pages {
                reqs.push(ReadReq {
                    addr: RemoteAddr(p),
                    len: PAGE as usize,
                });
            }
            built.push((
                f.slot,
                AtomKids {
                    idx,
                    pages,
                    bytes: Vec::new(),
                },
            ));
        }
        if built.is_empty() {
            return;
        }
        let mut buf = vec![0u8; reqs.len() * PAGE as usize];
        let mut ok = Vec::new();
        mem.read_batch(&reqs, &mut buf, &mut ok);
        let mut at = 0usize;
        for (slot, mut k) in built {
            let n = k.pages.len();
            let e = &mut self.slab[slot as usize];
            e.mixed = false;
            if ok[at..at + n].iter().all(|&b| b) {
                k.bytes = buf[at * PAGE as usize..(at + n) * PAGE as usize].to_vec();
                e.kids = Some(Box::new(k));
            } else {
                e.kids = None;
            }
            at += n;
        }
    }

    /// Forget everything (the next walk sends every node again).
    pub fn reset(&mut self) {
        self.slab.clear();
        self.free.clear();
        self.index.clear();
    }
}

/// Whether the atom at `addr` still has bytes `key` after its refcount in
/// `bytes`, the contents of the sorted `pages`.
fn key_in_pages(pages: &[u64], bytes: &[u8], addr: RemoteAddr, key: &[u8]) -> bool {
    let start = addr.0.wrapping_add(8);
    let page = start & !(PAGE - 1);
    let Ok(i) = pages.binary_search(&page) else {
        return false;
    };
    let off = i * PAGE as usize + (start - page) as usize;
    // A key crossing into the next page needs that page next in the list.
    let end = off + key.len();
    let last_page = (start + key.len() as u64 - 1) & !(PAGE - 1);
    let pages_needed = ((last_page - page) / PAGE) as usize;
    if pages.get(i + pages_needed) != Some(&last_page) {
        return false;
    }
    bytes.get(off..end) == Some(key)
}

/// A container node whose children are exactly its items.
fn is_items_container(node: &Node, children: &[Child]) -> bool {
    matches!(
        node.kind,
        kinds::LIST | kinds::TUPLE | kinds::DICT | kinds::SET | kinds::FROZENSET
    ) && node.attrs.is_none()
        && children.len() == node.items.len()
}

/// The validation key of an atom whose node depends on nothing but its own
/// bytes after the refcount (exact `int`, `bool`, `float`, `complex`, `str`,
/// `bytes`, `None`), when the whole object is inside `data`; else empty.
///
/// An atom that goes on past its window (a page end cut it) is read whole.
fn atom_key(py: &Python, node: &Node, data: &[u8], mem: &dyn Memory, addr: RemoteAddr) -> Vec<u8> {
    if node.kind != kinds::ATOM || py.version.minor_pair() != (3, 11) {
        return Vec::new();
    }
    // A window cut by a page end may not even hold the size fields.
    let end = match atom_end(py, data) {
        Some(end) => Some(end),
        None if data.len() < WINDOW => read_upto(mem, addr, 96, 32)
            .ok()
            .filter(|more| more.get(..data.len()) == Some(data))
            .and_then(|more| atom_end(py, &more)),
        None => None,
    };
    let end = match end {
        Some(end) if end <= data.len() => end,
        Some(end) if end <= MAX_KEY => {
            let Ok(whole) = mem.read_vec(addr, end) else {
                return Vec::new();
            };
            // The object must still be the one just decoded.
            if whole.get(..data.len()) != Some(data) {
                return Vec::new();
            }
            return whole[8..].to_vec();
        }
        _ => return Vec::new(),
    };
    match data.get(8..end) {
        Some(k) if end > 8 => k.to_vec(),
        _ => Vec::new(),
    }
}

/// Where the atom starting `data` ends (3.11 layouts).
fn atom_end(py: &Python, data: &[u8]) -> Option<usize> {
    let t = &py.types;
    let o = &py.layout.objects;
    let ob = &py.layout.object;
    let ty = ptr_at(data, ob.ob_type)?;
    let size = || i64_at(data, ob.ob_size).map(|s| s.unsigned_abs() as usize);
    let end = if ty == t.none {
        ob.ob_type as usize + 8
    } else if ty == t.int || ty == t.bool_ {
        o.long_digit as usize + 4 * size()?.max(1)
    } else if ty == t.float {
        o.float_ob_fval as usize + 8
    } else if ty == t.complex {
        o.complex_cval as usize + 16
    } else if ty == t.bytes {
        o.bytes_ob_sval as usize + size()? + 1
    } else if ty == t.str_ {
        let len = usize::try_from(i64_at(data, o.unicode_length)?).ok()?;
        let state = u32_at(data, o.unicode_state)?;
        let bit = |b: u32, w: u32| (state >> b) & ((1 << w) - 1);
        let kind = bit(o.unicode_state_kind_bit, v311::UNICODE_KIND_BITS) as usize;
        let compact = bit(o.unicode_state_compact_bit, 1) == 1;
        let ascii = bit(o.unicode_state_ascii_bit, 1) == 1;
        if !compact || !matches!(kind, 1 | 2 | 4) {
            return None;
        }
        let head = if ascii {
            o.ascii_size
        } else {
            o.compact_unicode_size
        } as usize;
        head.checked_add(len.checked_add(1)?.checked_mul(kind)?)?
    } else {
        return None;
    };
    (end > 8).then_some(end)
}
