//! The incremental object walk: a [`Mirror`] of every object the store
//! holds, kept across steps, so that each step reads all reachable objects
//! in a few batched system calls, re-decodes only those whose bytes changed,
//! and emits heap ops (set, splice, delete) instead of a whole heap.
//!
//! The walk visits objects in exactly the order and with exactly the
//! attribute depths of [`super::objects::Walker`] (breadth first, an object
//! re-decoded when reached again at a better depth), so the state it leaves
//! in the store is the state a full walk would produce.

use store::{ObjAddr, Op};

mod entry;
mod held;
mod life;

use entry::{better, is_items_container, kids, node_bytes, same_items, Entry, Visit, FIXED};
pub(crate) use entry::{Roots, Stop};

use super::keys::{atom_key, dict_tag, list_head, ListFp, WINDOW};
use super::objects::{self, Limits};
use super::splice;
use super::window::{WindowMem, Windows};
use super::{Caches, Python};
use crate::addr::{AddrMap, RemoteAddr};
use crate::memory::Memory;
use values::kinds;

/// Objects of the previous step, by address, with their decoded nodes.
///
/// After each walk the store holds the objects reachable at that step:
/// every object visited, plus stable objects held (`refs`) by the nodes of
/// visited containers at positions that did not change; and the objects
/// outer frames of the thread left behind, parked (`life.rs`). Mutable
/// objects are visited at every step they are reachable, so liveness is a
/// sweep of what was visited at the previous step and is not now, and of
/// stable objects no node refers to any more.
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
    /// Slots visited at this step, and at the previous one.
    touched: Vec<u32>,
    touched_prev: Vec<u32>,
    /// Slots whose `refs` fell to 0 at this step.
    zeroed: Vec<u32>,
    /// Times a stable object turned out not to be (its address was reused
    /// by an object of another kind): `kids_stable` decided before cannot
    /// be trusted.
    breaks: u64,
    /// Dormant entries held, and roughly the bytes of their nodes.
    dormant: usize,
    dormant_bytes: usize,
    /// Parked entries, per thread, with the depth of the frame they left
    /// with (never decreasing towards the end of each list).
    parked: Vec<(u32, Vec<(u32, u32)>)>,
    /// The previous walk's place.
    last: Option<Stop>,
}

/// Bounds on dormant entries: past either they are all forgotten.
const MAX_DORMANT: usize = 200_000;
const MAX_DORMANT_BYTES: usize = 64 << 20;

impl Mirror {
    fn slot_of(&mut self, addr: RemoteAddr) -> u32 {
        if let Some(&i) = self.index.get(&addr) {
            return i;
        }
        let e = Entry::new(addr);
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

    /// Mark a slot visited at this step; false if it was already.
    fn mark(&mut self, slot: u32, depth: u8) -> bool {
        let step = self.step;
        let e = &mut self.slab[slot as usize];
        let first = e.visited != step;
        if first {
            self.touched.push(slot);
        }
        e.visited = step;
        e.vdepth = depth;
        first
    }

    fn add_ref(&mut self, addr: RemoteAddr) {
        let slot = self.slot_of(addr);
        let e = &mut self.slab[slot as usize];
        e.refs = e.refs.saturating_add(1);
    }

    fn drop_ref(&mut self, addr: RemoteAddr) {
        if let Some(&slot) = self.index.get(&addr) {
            let e = &mut self.slab[slot as usize];
            e.refs = e.refs.saturating_sub(1);
            if e.refs == 0 {
                self.zeroed.push(slot);
            }
        }
    }

    /// Whether the object at `addr`, a value of a dict whose version tag has
    /// not changed since the previous step, is a stable node the mirror
    /// holds: the dict has referenced it all along and changed nothing, so
    /// it is the same object, unchanged (not even a `str` appended to in
    /// place: that takes a reference count of 1). It is marked visited.
    fn reuse_held(&mut self, addr: RemoteAddr, depth: u8) -> bool {
        let Some(&i) = self.index.get(&addr) else {
            return false;
        };
        let e = &self.slab[i as usize];
        if !e.stable || e.dormant || e.node.is_none() || e.visited == self.step {
            return false;
        }
        self.mark(i, depth);
        true
    }

    /// Whether the mirror holds a stable node for `addr` (a root read again
    /// at this step counts: it is read, and stays stable unless it changed).
    fn known_stable(&self, addr: RemoteAddr) -> bool {
        self.index.get(&addr).is_some_and(|&i| {
            let e = &self.slab[i as usize];
            e.stable && !e.dormant && e.node.is_some()
        })
    }

    /// Walk everything reachable from the roots (each at attribute depth 1)
    /// and append the ops that bring the previous step's heap to this one.
    pub fn walk(
        &mut self,
        mem: &dyn Memory,
        py: &Python,
        caches: &mut Caches,
        limits: &Limits,
        from: Roots<'_>,
        ops: &mut Vec<Op>,
    ) {
        let Roots { roots, stop } = from;
        self.step += 1;
        let step = self.step;
        std::mem::swap(&mut self.touched, &mut self.touched_prev);
        self.touched.clear();
        self.zeroed.clear();
        let mut decoded = 0usize;
        self.queue.clear();
        let d0 = 1.min(limits.attr_depth);
        for &(r, held) in roots {
            if held && decoded < limits.max_objects && self.reuse_held(r, d0) {
                decoded += 1;
            } else {
                self.queue.push((r, d0, 0));
            }
        }
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
                self.mark(slot, depth);
                let e = &self.slab[slot as usize];
                // An immutable atom in static storage cannot change or be
                // freed: what the mirror knows of it is what it is.
                let fixed = e.stable && !e.key.is_empty() && e.node.is_some() && py.is_static(addr);
                let win = if decoded >= limits.max_objects {
                    None
                } else if fixed {
                    decoded += 1;
                    Some(FIXED)
                } else {
                    decoded += 1;
                    Some(if e.key.is_empty() {
                        self.windows.want(addr, WINDOW)
                    } else {
                        // The key says how long the object was: read all of
                        // it even across a page end.
                        self.windows.want_exact(addr, 8 + e.key.len())
                    })
                };
                self.visits.push(Visit {
                    slot,
                    depth,
                    level,
                    win,
                });
            }
            self.queue = queue;
            self.windows.read(mem);
            self.next.clear();
            for vi in 0..self.visits.len() {
                let v = &self.visits[vi];
                let (slot, depth, level, win) = (v.slot, v.depth, v.level, v.win);
                let addr = self.slab[slot as usize].addr;
                // Parked: still in the store, so nothing to send back.
                let (dormant, parked) = self.wake(slot);
                let e = &self.slab[slot as usize];
                let mut tag = None;
                let mut head = None;
                // A list whose header and item array are as they were at
                // the previous stop: its node is the one held (its items
                // are still checked below, by their pages or a visit).
                let mut reused = false;
                let (node, key, stable) = match win {
                    None => (
                        objects::unreadable("?", "object budget of this snapshot exhausted"),
                        Vec::new(),
                        false,
                    ),
                    Some(FIXED) => {
                        if dormant && !parked {
                            self.put_back(slot, ops);
                        }
                        continue;
                    }
                    Some(w) => {
                        let (base, data) = self.windows.get(w);
                        let k = e.key.len();
                        if e.node.is_some() && k != 0 && data.get(8..8 + k) == Some(&e.key[..]) {
                            // The same immutable atom: same node, no children.
                            if dormant && !parked {
                                self.put_back(slot, ops);
                            }
                            continue;
                        }
                        let deep = level >= limits.max_depth;
                        tag = dict_tag(py, data, deep);
                        head = list_head(py, data);
                        let same_dict = e.node.is_some() && tag.is_some() && tag == e.dict_tag;
                        reused = !dormant
                            && e.node.is_some()
                            && e.list_fp.is_some_and(|fp| {
                                head == Some(fp.head)
                                    && fp.deep == deep
                                    && (fp.read == 0
                                        || mem.unchanged_since(
                                            fp.serial,
                                            RemoteAddr(fp.head[2]),
                                            fp.read * 8,
                                        ))
                            });
                        let kids_ok = e.kids_stable && e.kids_epoch == self.breaks;
                        if same_dict || reused {
                            if same_dict && kids_ok {
                                if !dormant {
                                    // The same items, all of them held stable
                                    // objects: nothing to visit.
                                    continue;
                                }
                                if self.revive_kids(slot, parked, ops) {
                                    continue;
                                }
                            }
                            let old = self.slab[slot as usize].node.clone();
                            (old.expect("checked"), Vec::new(), false)
                        } else {
                            let wm = WindowMem {
                                inner: mem,
                                base,
                                data,
                            };
                            let (node, stable) =
                                objects::decode_one(&wm, py, caches, limits, addr, depth, level);
                            let key = atom_key(py, &node, data, mem, addr);
                            (node, key, stable)
                        }
                    }
                };
                if node.kind != kinds::DICT {
                    tag = None;
                }
                // A dict cut at the item limit whose version tag moved while
                // the items kept did not: it changed past the cut.
                let past_cut = node.truncated
                    && tag.is_some()
                    && self.slab[slot as usize]
                        .dict_tag
                        .is_some_and(|old| Some(old) != tag);
                let e = &mut self.slab[slot as usize];
                // A dormant node that is not parked is not in the store: it
                // is sent whole. Its items are still what its pages were
                // checked against; the references of a dormant node's items
                // went when it left the state.
                let (old_node, dormant_node) = match e.node.take() {
                    Some(n) if dormant && !parked => (None, Some(n)),
                    n => (n, None),
                };
                // Items at unchanged positions are not trusted on their
                // address alone (one may have been freed and another made
                // at its address and stored in its place within one line):
                // they are checked against their pages, or visited again.
                let fast = e.kids_stable
                    && e.kids_epoch == self.breaks
                    && is_items_container(&node)
                    && old_node
                        .as_ref()
                        .or(dormant_node.as_ref())
                        .is_some_and(|o| o.kind == node.kind && o.attrs.is_none());
                let mut kp = e.kid_pages.take();
                let mut all_stable = true;
                let mut handled = false;
                if fast {
                    let base = old_node.as_ref().or(dormant_node.as_ref());
                    let old = &base.expect("checked").items;
                    let (p, s) = if reused {
                        (old.len(), 0)
                    } else {
                        splice::common_ends(old, &node.items)
                    };
                    let n = node.items.len();
                    let (mid_old, mid_new) = (&old[p..old.len() - s], &node.items[p..n - s]);
                    // The same items in another order are on the same pages;
                    // a few replaced (or appended) ones are moved one by one.
                    let kept = kp.take().and_then(|mut k| {
                        (same_items(mid_old, mid_new)
                            || (mid_old.len() + mid_new.len() <= held::MAX_EDIT
                                && self.edit_kid_pages(&mut k, mid_old, mid_new)))
                        .then_some(k)
                    });
                    let checked = match kept {
                        Some(mut k) => self.check_kid_pages(mem, &mut k).map(|c| (k, c)),
                        None => self.build_kid_pages(mem, &node.items),
                    };
                    if let Some((k, changed)) = checked {
                        handled = true;
                        decoded += n;
                        all_stable = changed.is_empty();
                        for &a in changed.iter().chain(&k.extras) {
                            self.next.push((a, 0, level + 1));
                        }
                        if dormant {
                            // Its items' references went when it left the
                            // state: hold them again, and put back in the
                            // store those that left with it (unchanged, the
                            // pages say; the changed ones and the extras are
                            // visited).
                            for a in &node.items {
                                self.add_ref(RemoteAddr(a.0));
                            }
                            for a in &node.items {
                                let a = RemoteAddr(a.0);
                                if !changed.contains(&a) && !k.extras.contains(&a) {
                                    self.revive_held(a, ops);
                                }
                            }
                        } else {
                            for a in mid_new {
                                self.add_ref(RemoteAddr(a.0));
                            }
                            for a in mid_old {
                                self.drop_ref(RemoteAddr(a.0));
                            }
                        }
                        if all_stable {
                            kp = Some(k);
                        }
                    }
                }
                if !handled {
                    kp = None;
                    let d = objects::attr_child_depth(depth, limits);
                    let n = node.items.len();
                    for (i, a) in kids(&node).enumerate() {
                        let d = if i < n { 0 } else { d };
                        all_stable &= self.known_stable(a);
                        self.next.push((a, d, level + 1));
                    }
                    for a in kids(&node) {
                        self.add_ref(a);
                    }
                    if let Some(old) = old_node.as_ref().filter(|_| !dormant) {
                        for a in kids(old) {
                            self.drop_ref(a);
                        }
                    }
                }
                let kids_stable = all_stable && is_items_container(&node);
                let mut old_node = old_node;
                let oaddr = ObjAddr(addr.0);
                match &mut old_node {
                    Some(_) if reused => {}
                    // Sent again, equal, so that a reader knows the object
                    // changed where its node does not show (store-format.md).
                    Some(old) if *old == node && past_cut => {
                        ops.push(Op::HeapSet(oaddr, node.clone()));
                    }
                    Some(old) if *old == node => {}
                    Some(old) if splice::items_only_change(old, &node) => {
                        if let Some(op) = splice::items_op(oaddr, &old.items, &node.items) {
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
                if e.stable && !stable {
                    self.breaks += 1;
                }
                e.node = old_node;
                e.key = key;
                e.stable = stable;
                e.kids_stable = kids_stable;
                e.kids_epoch = self.breaks;
                e.kid_pages = kp;
                e.dict_tag = tag;
                let serial = mem.stop_serial();
                e.list_fp = head.filter(|_| serial != 0).and_then(|head| {
                    let node = e.node.as_ref()?;
                    (node.kind == kinds::LIST && node.attrs.is_none()).then_some(ListFp {
                        head,
                        read: node.items.len(),
                        deep: level >= limits.max_depth,
                        serial,
                    })
                });
            }
            std::mem::swap(&mut self.queue, &mut self.next);
        }
        self.sweep(stop, ops);
    }

    /// Forget everything (the next walk sends every node again).
    pub fn reset(&mut self) {
        self.slab.clear();
        self.free.clear();
        self.index.clear();
        self.touched.clear();
        self.touched_prev.clear();
        self.zeroed.clear();
        self.dormant = 0;
        self.dormant_bytes = 0;
        self.parked.clear();
        self.last = None;
    }
}
