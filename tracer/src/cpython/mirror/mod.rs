//! The incremental object walk: a [`Mirror`] of every object the store
//! holds, kept across steps, so that each step reads all reachable objects
//! in a few batched system calls, re-decodes only those whose bytes changed,
//! and emits heap ops (set, splice, delete) instead of a whole heap.
//!
//! The walk visits objects in exactly the order and with exactly the
//! attribute depths of [`super::objects::Walker`] (breadth first, an object
//! re-decoded when reached again at a better depth), so the state it leaves
//! in the store is the state a full walk would produce.

mod entry;
mod held;
mod keys;
mod kids;
mod life;
mod quick;
mod splice;
mod tail;
mod walk;

use entry::{kids, node_bytes, Entry, Visit};
pub(crate) use entry::{Roots, Stop};
pub(crate) use quick::{ItemChange, QuickStep};

use super::objects::window::Windows;
use crate::addr::{AddrMap, RemoteAddr};

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
    /// Reads the pointers of cut lists past the cut (`tail.rs`).
    tails: tail::TailReader,
    /// The exact lists the last walk decoded whole (not cut, not too deep),
    /// by their item arrays: (item array, items, slot), sorted.
    lists: Vec<(u64, u32, u32)>,
    /// The last walk ran out of its object budget (its state is not the
    /// whole one: no quick step after it).
    exhausted: bool,
    /// The longest key an entry ever had.
    max_key: usize,
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
        self.lists.clear();
        self.exhausted = true;
    }
}
