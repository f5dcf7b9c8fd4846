//! A quick step of the [`Mirror`]: a step whose only changes are slots
//! (locals of the top frame, items of lists the last walk visited) coming
//! to point at other immutable atoms. Its heap ops are made from those
//! changes alone, without a walk: the new atoms are decoded (or found
//! held), the lists' nodes take their new items, and each atom no root and
//! no node refers to any more leaves the state, as the walk's sweep would
//! have it. Anything else declines, having changed nothing, and the step
//! is walked.

use store::{ObjAddr, Op};

use super::keys::{atom_key, WINDOW};
use super::{kids, Mirror};
use crate::addr::RemoteAddr;
use crate::cpython::objects::window::WindowMem;
use crate::cpython::objects::{self, Limits};
use crate::cpython::{Caches, Python};
use crate::memory::Memory;
use values::kinds;

/// A list item a step changed: the list, the item's index, and the object
/// it pointed to before and points to now.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ItemChange {
    pub list: RemoteAddr,
    pub index: u32,
    pub old: RemoteAddr,
    pub new: RemoteAddr,
}

/// What a quick step changes: list items, the objects local slots now
/// point to and those they pointed to, every root after the step, the
/// other words it changed (not slots), and the objects the probe copied
/// (address and length).
pub(crate) struct QuickStep<'a> {
    pub items: &'a [ItemChange],
    pub news: &'a [RemoteAddr],
    pub olds: &'a [RemoteAddr],
    pub roots: &'a [RemoteAddr],
    pub words: &'a [RemoteAddr],
    pub copied: &'a [(RemoteAddr, usize)],
}

/// How far back from a changed word atoms are looked for, at most.
const MAX_REACH: u64 = 256;

/// An atom found for a new slot value: held live already, held dormant
/// (to wake, its node still right or replaced), or new to the mirror.
enum Found {
    Live,
    Decoded(store::Node, Vec<u8>),
}

impl Mirror {
    /// The list (an exact list of the last walk, not cut, not too deep)
    /// whose item array holds the word at `addr`, and the item's index.
    pub(crate) fn list_item_at(&self, addr: RemoteAddr) -> Option<(RemoteAddr, u32)> {
        let i = self.lists.partition_point(|&(items, _, _)| items <= addr.0);
        let &(items, len, slot) = self.lists.get(i.checked_sub(1)?)?;
        let off = addr.0 - items;
        if !off.is_multiple_of(8) || off / 8 >= u64::from(len) {
            return None;
        }
        Some((self.slab[slot as usize].addr, (off / 8) as u32))
    }

    /// Make the heap ops of a quick step into `ops`; false (and nothing
    /// changed, no op made) when the step is not one.
    pub(crate) fn quick(
        &mut self,
        mem: &dyn Memory,
        py: &Python,
        caches: &mut Caches,
        limits: &Limits,
        q: &QuickStep<'_>,
        ops: &mut Vec<Op>,
    ) -> bool {
        if self.exhausted {
            log::trace!(target: "tracer::quick", "declined: the last walk ran out of budget");
            return false;
        }
        if let Some(w) = q
            .words
            .iter()
            .find(|&&w| !self.word_is_harmless(w, q.copied))
        {
            log::trace!(target: "tracer::quick", "declined: word {:#x} may be an atom's", w.0);
            return false;
        }
        // Check everything first: nothing is changed unless all of it can be.
        let mut found = Vec::with_capacity(q.news.len() + q.items.len());
        let news = q.news.iter().chain(q.items.iter().map(|c| &c.new));
        for &n in news {
            match self.atom(mem, py, caches, limits, n) {
                Some(f) => found.push((n, f)),
                None => {
                    log::trace!(target: "tracer::quick", "declined: {:#x} is not an atom", n.0);
                    return false;
                }
            }
        }
        let olds = q.olds.iter().chain(q.items.iter().map(|c| &c.old));
        if !olds.into_iter().all(|&o| self.live_atom(o)) {
            log::trace!(target: "tracer::quick", "declined: an old value is not a live atom");
            return false;
        }
        if !q.items.iter().all(|c| self.item_is(c)) {
            log::trace!(target: "tracer::quick", "declined: a list item is not as held");
            return false;
        }
        for (n, f) in found {
            self.take_atom(n, f, ops);
        }
        for c in q.items {
            self.set_item(c, ops);
        }
        for &o in q.olds {
            self.retire_unreached(o, q.roots, ops);
        }
        while let Some(slot) = self.zeroed.pop() {
            let addr = self.slab[slot as usize].addr;
            self.retire_unreached(addr, q.roots, ops);
        }
        true
    }

    /// Whether a changed word that is not a slot leaves every node as it
    /// was: a byte of an object just copied (decoded from the copy), or a
    /// word no atom of the state has a byte of after its reference count
    /// (the allocator's, or a freed object's). Every object of the state is
    /// an entry, and none has a key longer than the longest the mirror ever
    /// kept: entries are looked for that far back. A byte of an atom the
    /// state holds, freed and made again in place within the step, is not
    /// harmless: the walk finds that one by its key. (Words of containers
    /// the walk reads change only with a trap: the probe watches them as
    /// words the decoders follow.)
    fn word_is_harmless(&self, w: RemoteAddr, copied: &[(RemoteAddr, usize)]) -> bool {
        if copied
            .iter()
            .any(|&(a, len)| a.0 <= w.0 && w.0 < a.0 + len as u64)
        {
            return true;
        }
        let reach = (8 + self.max_key).next_multiple_of(8) as u64;
        if reach > MAX_REACH {
            return false;
        }
        let mut at = w.0.saturating_sub(reach) & !7;
        while at < w.0 {
            if let Some(&i) = self.index.get(&RemoteAddr(at)) {
                let e = &self.slab[i as usize];
                if !e.dormant && w.0 < at + 8 + e.key.len() as u64 {
                    return false;
                }
            }
            at += 8;
        }
        true
    }

    /// Whether `addr` is a stable atom of the last step's state.
    fn live_atom(&self, addr: RemoteAddr) -> bool {
        self.index.get(&addr).is_some_and(|&i| {
            let e = &self.slab[i as usize];
            e.stable && !e.dormant && !e.key.is_empty() && e.node.is_some()
        })
    }

    /// Whether the change's list holds its old item where it says.
    fn item_is(&self, c: &ItemChange) -> bool {
        self.index.get(&c.list).is_some_and(|&i| {
            let e = &self.slab[i as usize];
            !e.dormant
                && e.node.as_ref().is_some_and(|n| {
                    n.kind == kinds::LIST
                        && n.attrs.is_none()
                        && !n.truncated
                        && n.items.get(c.index as usize) == Some(&ObjAddr(c.old.0))
                })
        })
    }

    /// The atom at `addr` as the walk would find it: held live with the
    /// same bytes (an atom of the last step's state is alive, and does not
    /// change; an address is not trusted alone, as in the walk), or decoded
    /// now. `None` when it is not a stable atom, or the mirror holds another
    /// kind of object there, alive.
    fn atom(
        &mut self,
        mem: &dyn Memory,
        py: &Python,
        caches: &mut Caches,
        limits: &Limits,
        addr: RemoteAddr,
    ) -> Option<Found> {
        if addr.is_null() {
            return None;
        }
        let len = WINDOW.min((4096 - addr.0 % 4096) as usize);
        let data = mem.read_vec(addr, len).ok()?;
        if let Some(&i) = self.index.get(&addr) {
            let e = &self.slab[i as usize];
            let k = e.key.len();
            if self.live_atom(addr) && data.get(8..8 + k) == Some(&e.key[..]) {
                return Some(Found::Live);
            }
            if !e.dormant && !self.live_atom(addr) {
                return None;
            }
        }
        let wm = WindowMem {
            inner: mem,
            base: addr,
            data: &data,
        };
        let (node, stable) = objects::decode_one(&wm, py, caches, limits, addr, 1, 1);
        if !stable || kids(&node).next().is_some() {
            return None;
        }
        let key = atom_key(py, &node, &data, mem, addr);
        if key.is_empty() {
            return None;
        }
        Some(Found::Decoded(node, key))
    }

    /// Hold the atom found at `addr` in the state.
    fn take_atom(&mut self, addr: RemoteAddr, f: Found, ops: &mut Vec<Op>) {
        let Found::Decoded(node, key) = f else {
            return;
        };
        let slot = self.slot_of(addr);
        let (dormant, parked) = self.wake(slot);
        let e = &mut self.slab[slot as usize];
        let same = e.node.as_ref() == Some(&node) && e.key == key;
        // The store still has the node unless it left the state unparked.
        if !(same && (!dormant || parked)) {
            ops.push(Op::HeapSet(ObjAddr(addr.0), node.clone()));
        }
        e.node = Some(node);
        self.max_key = self.max_key.max(key.len());
        let e = &mut self.slab[slot as usize];
        e.key = key;
        e.stable = true;
        e.kids_stable = false;
        e.kid_pages = None;
        e.dict_tag = None;
        e.list_fp = None;
        e.tail_fp = None;
        self.mark(slot, 1);
    }

    /// Put a list's new item in its node, its pages and the references.
    fn set_item(&mut self, c: &ItemChange, ops: &mut Vec<Op>) {
        let Some(&slot) = self.index.get(&c.list) else {
            return;
        };
        let (old, new) = (ObjAddr(c.old.0), ObjAddr(c.new.0));
        let mut pages = self.slab[slot as usize].kid_pages.take();
        if let Some(k) = pages.as_mut() {
            if !self.edit_kid_pages(k, &[old], &[new]) {
                pages = None;
            }
        }
        let e = &mut self.slab[slot as usize];
        if pages.is_none() {
            e.kids_stable = false;
        }
        e.kid_pages = pages;
        e.list_fp = None;
        let Some(node) = e.node.as_mut() else {
            return;
        };
        node.items[c.index as usize] = new;
        ops.push(Op::HeapItems {
            addr: ObjAddr(c.list.0),
            start: c.index,
            new: vec![new],
            len: node.items.len() as u32,
        });
        self.add_ref(c.new);
        self.drop_ref(c.old);
    }

    /// An atom a slot or an item no longer points to: gone from the state
    /// unless a root or a node still refers to it.
    fn retire_unreached(&mut self, addr: RemoteAddr, roots: &[RemoteAddr], ops: &mut Vec<Op>) {
        let Some(&slot) = self.index.get(&addr) else {
            return;
        };
        let e = &self.slab[slot as usize];
        if e.dormant || e.refs > 0 || e.node.is_none() || roots.contains(&addr) {
            return;
        }
        self.retire(slot, None, ops);
    }
}
