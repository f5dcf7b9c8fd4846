//! Liveness of the mirror's objects: what left the state at a step is
//! deleted from the store but kept dormant, and what comes back unchanged
//! (same atom bytes, same dict version) is put back without decoding it.
//! What left at a call (the caller's objects) is parked instead: kept in
//! the store until a step of the caller or an outer frame does not reach it.

use store::{ObjAddr, Op};

use super::{kids, node_bytes, Entry, Mirror, Stop, MAX_DORMANT, MAX_DORMANT_BYTES};
use crate::addr::RemoteAddr;

impl Mirror {
    /// Whatever is not reachable any more is gone from the state: what was
    /// visited at the previous step and not at this one (unless it is a
    /// stable object a container still holds), and stable objects no node
    /// refers to any more.
    pub(super) fn sweep(&mut self, stop: Option<Stop>, ops: &mut Vec<Op>) {
        let step = self.step;
        if let Some(stop) = stop {
            self.unpark(stop, ops);
        }
        // One or more frames deeper in the same thread: what leaves is the
        // previous step's frame's, still on the stack: parked at its depth.
        let last = std::mem::replace(&mut self.last, stop);
        let park = match (last, stop) {
            (Some(l), Some(s)) if l.thread == s.thread && s.depth > l.depth => {
                Some((l.thread, l.depth))
            }
            _ => None,
        };
        let prev = std::mem::take(&mut self.touched_prev);
        for &slot in &prev {
            let e = &self.slab[slot as usize];
            if e.visited == step || e.visited == u64::MAX || e.dormant || (e.stable && e.refs > 0) {
                continue;
            }
            self.retire(slot, park, ops);
        }
        self.touched_prev = prev;
        while let Some(slot) = self.zeroed.pop() {
            let e = &self.slab[slot as usize];
            if e.visited == step || e.visited == u64::MAX || e.dormant || e.refs > 0 {
                continue;
            }
            self.retire(slot, park, ops);
        }
        if self.dormant > MAX_DORMANT || self.dormant_bytes > MAX_DORMANT_BYTES {
            self.forget_dormant(ops);
        }
    }

    /// A step of `stop.thread` at `stop.depth`: its entries parked by this
    /// frame or deeper ones that this step did not reach are gone from the
    /// state for good; delete them from the store.
    fn unpark(&mut self, stop: Stop, ops: &mut Vec<Op>) {
        let Some(i) = self.parked.iter().position(|(t, _)| *t == stop.thread) else {
            return;
        };
        let mut list = std::mem::take(&mut self.parked[i].1);
        while let Some(&(depth, slot)) = list.last() {
            if depth < stop.depth {
                break;
            }
            list.pop();
            let e = &mut self.slab[slot as usize];
            if e.parked && e.visited != self.step {
                e.parked = false;
                ops.push(Op::HeapDel(ObjAddr(e.addr.0)));
            }
        }
        self.parked[i].1 = list;
    }

    /// An object left the state: delete it from the store (or, `park`ed
    /// by a thread's frame at a depth, keep it there), keep what is known of
    /// it (dormant).
    pub(super) fn retire(&mut self, slot: u32, park: Option<(u32, u32)>, ops: &mut Vec<Op>) {
        let e = &mut self.slab[slot as usize];
        let Some(node) = e.node.take() else {
            self.delete(slot);
            return;
        };
        e.dormant = true;
        self.dormant += 1;
        self.dormant_bytes += node_bytes(&node);
        match park {
            Some((thread, depth)) => {
                e.parked = true;
                let i = match self.parked.iter().position(|(t, _)| *t == thread) {
                    Some(i) => i,
                    None => {
                        self.parked.push((thread, Vec::new()));
                        self.parked.len() - 1
                    }
                };
                self.parked[i].1.push((depth, slot));
            }
            None => ops.push(Op::HeapDel(ObjAddr(e.addr.0))),
        }
        for a in kids(&node) {
            self.drop_ref(a);
        }
        self.slab[slot as usize].node = Some(node);
    }

    /// Drop an entry altogether (nothing of it is in the store).
    fn delete(&mut self, slot: u32) {
        let e = std::mem::replace(&mut self.slab[slot as usize], Entry::new(RemoteAddr::NULL));
        self.slab[slot as usize].visited = u64::MAX;
        self.index.remove(&e.addr);
        self.free.push(slot);
    }

    fn forget_dormant(&mut self, ops: &mut Vec<Op>) {
        for slot in 0..self.slab.len() as u32 {
            let e = &self.slab[slot as usize];
            if e.dormant {
                if e.parked {
                    ops.push(Op::HeapDel(ObjAddr(e.addr.0)));
                }
                self.delete(slot);
            }
        }
        self.dormant = 0;
        self.dormant_bytes = 0;
        self.parked.clear();
    }

    /// An item of a container that came back into the state, found
    /// unchanged by its pages: if it left the state with the container,
    /// put it back in the store as it was.
    pub(super) fn revive_held(&mut self, addr: RemoteAddr, ops: &mut Vec<Op>) {
        let Some(&i) = self.index.get(&addr) else {
            return;
        };
        let e = &self.slab[i as usize];
        if !e.dormant || e.visited == self.step || e.node.is_none() {
            return;
        }
        self.wake_unchanged(i, ops);
        self.mark(i, 0);
    }

    /// Entry `slot` is reached again: neither dormant nor parked any more.
    /// Whether it was (dormant, parked).
    pub(super) fn wake(&mut self, slot: u32) -> (bool, bool) {
        let e = &mut self.slab[slot as usize];
        let dormant = std::mem::replace(&mut e.dormant, false);
        let parked = std::mem::replace(&mut e.parked, false);
        if dormant {
            let b = e.node.as_ref().map_or(0, node_bytes);
            self.dormant = self.dormant.saturating_sub(1);
            self.dormant_bytes = self.dormant_bytes.saturating_sub(b);
        }
        (dormant, parked)
    }

    /// [`Mirror::wake`] an entry whose node is still right, and put the
    /// node back in the store if it left it (dormant, not parked).
    fn wake_unchanged(&mut self, slot: u32, ops: &mut Vec<Op>) {
        if let (true, false) = self.wake(slot) {
            self.put_back(slot, ops);
        }
    }

    /// Send the node of entry `slot` to the store again, whole.
    pub(super) fn put_back(&self, slot: u32, ops: &mut Vec<Op>) {
        let e = &self.slab[slot as usize];
        if let Some(node) = &e.node {
            ops.push(Op::HeapSet(ObjAddr(e.addr.0), node.clone()));
        }
    }

    /// A dormant dict came back with the same version tag and items that
    /// were all stable: it has held the same objects all along, so they are
    /// what the mirror knew. Put them and the dict back in the store (what
    /// of them is not still there, parked; `in_store`: the dict is).
    /// False (nothing done) when one of them is not known any more.
    pub(super) fn revive_kids(&mut self, slot: u32, in_store: bool, ops: &mut Vec<Op>) -> bool {
        let Some(node) = self.slab[slot as usize].node.clone() else {
            return false;
        };
        let mut kid_slots = Vec::with_capacity(node.items.len());
        for a in &node.items {
            match self.index.get(&RemoteAddr(a.0)) {
                Some(&i)
                    if self.slab[i as usize].stable && self.slab[i as usize].node.is_some() =>
                {
                    kid_slots.push(i)
                }
                _ => return false,
            }
        }
        for i in kid_slots {
            let e = &mut self.slab[i as usize];
            e.refs = e.refs.saturating_add(1);
            if e.visited == self.step {
                continue;
            }
            self.wake_unchanged(i, ops);
            self.mark(i, 0);
        }
        if !in_store {
            ops.push(Op::HeapSet(ObjAddr(self.slab[slot as usize].addr.0), node));
        }
        true
    }
}
