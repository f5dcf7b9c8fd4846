//! The values a query watches across steps, kept from the heap ops alone
//! (no state is rebuilt): for each watched object (a root: what some frame
//! last saw an expression evaluate to) the nodes reachable from it. A heap
//! op on any of those nodes marks the root changed, wherever in the value
//! the node lies; the root's fingerprint (a hash of everything reachable)
//! is recomputed only then, at the next step that looks at it, so an
//! unchanged value costs one lookup per step. Atoms inside a value (ints,
//! strs, ...) count by their value, not their address: CPython shares and
//! remakes them on its own.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hash, Hasher};

use store::{Node, ObjAddr, State};
use values::kinds;

/// What a value looked like when a frame saw it: the object, a hash of
/// everything reachable from it, and how many times the recorder said it
/// changed past a size limit (a re-sent, equal, truncated node).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Look {
    /// The object the expression evaluated to ([`ObjAddr`] 0 for a value
    /// the query computed, whose fingerprint is its hash).
    pub addr: ObjAddr,
    fingerprint: u64,
    marks: u64,
}

impl Look {
    /// The look of a computed value (no object), from its hash.
    pub fn computed(fingerprint: u64) -> Look {
        Look {
            addr: ObjAddr(0),
            fingerprint,
            marks: 0,
        }
    }
}

impl Look {
    /// Whether `self` differs from `before` only past a size limit: the
    /// same object, everything shown equal, but the recorder said it changed.
    pub fn only_past_cut(&self, before: &Look) -> bool {
        self.addr == before.addr
            && self.fingerprint == before.fingerprint
            && self.marks != before.marks
    }
}

/// A fast hash for the maps of small keys (addresses, frame keys) looked
/// up at every step: these keys come from our own file, not from an
/// adversary, and SipHash cost a tenth of a scan.
#[derive(Default, Clone, Copy)]
pub struct Fx(u64);

impl Hasher for Fx {
    fn finish(&self) -> u64 {
        // Addresses are multiples of 16: move the mixed high bits down to
        // where the table takes its bucket index.
        self.0.rotate_left(26)
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0xf135_7aea_2e62_a9c5);
    }
}

/// A `HashMap` with [`Fx`].
pub type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<Fx>>;

/// A `HashSet` with [`Fx`].
type FxSet<K> = HashSet<K, BuildHasherDefault<Fx>>;

/// The hash of a value's fingerprint: every byte mixed in, eight at a time
/// (SipHash, which the standard library's maps use against adversaries,
/// took a third of a scan that re-fingerprints a 1,000-item list at each
/// of its changes). Order matters: a swap of two items changes it.
#[derive(Default)]
struct FpHasher(u64);

impl FpHasher {
    fn mix(&mut self, x: u64) {
        self.0 = (self.0 ^ x)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(31);
    }
}

impl Hasher for FpHasher {
    fn finish(&self) -> u64 {
        // The final mix of MurmurHash3: every bit of the state reaches
        // every bit of the result.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.mix(u64::from_le_bytes(c.try_into().unwrap_or_default()));
        }
        let rest = chunks.remainder();
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        self.mix(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
    }
    fn write_u8(&mut self, i: u8) {
        self.mix(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.mix(u64::from(i));
    }
    fn write_usize(&mut self, i: usize) {
        self.mix(i as u64);
    }
    fn write_u64(&mut self, i: u64) {
        self.mix(i);
    }
}

/// A watched object.
struct Root {
    /// Whether no node it reaches changed since its fingerprint was taken.
    fresh: bool,
    /// The nodes registered as its (in `Watch::owners`): every node it
    /// reached at any look while watched, a superset of those it reaches
    /// now (a node it no longer reaches only makes it stale for nothing;
    /// registering anew at each change cost more than the whole scan).
    registered: FxSet<ObjAddr>,
    /// How many nodes it reached at the last look (a capacity hint).
    reached: usize,
    fingerprint: u64,
    marks: u64,
    /// How many frames' memories hold it.
    refs: u32,
}

/// The watched roots, and which roots each node belongs to. The heap is
/// the caller's ([`crate::replay::Replay`]): it calls [`Watch::set`] and
/// [`Watch::touch`] before each heap op changes it.
#[derive(Default)]
pub struct Watch {
    roots: FxMap<ObjAddr, Root>,
    owners: FxMap<ObjAddr, Vec<ObjAddr>>,
    /// The hash of each atom a look met, until a heap op changes it (an
    /// atom is hashed once, not at each change of a list holding it).
    atoms: FxMap<ObjAddr, u64>,
}

impl Watch {
    /// `Op::HeapSet` of `node` at `addr`, before `state` gets it.
    pub fn set(&mut self, state: &State, addr: ObjAddr, node: &Node) {
        self.atoms.remove(&addr);
        if self.owners.contains_key(&addr) {
            // The recorder re-sends an equal node that was cut at a size
            // limit when the object changed past the cut (a dict entry
            // beyond the first 10,000): a change no node shows.
            if node.truncated && state.heap.get(&addr) == Some(node) {
                for r in self.owners.get(&addr).into_iter().flatten() {
                    if let Some(root) = self.roots.get_mut(r) {
                        root.marks += 1;
                    }
                }
            } else {
                self.touch(addr);
            }
        }
    }

    /// The node at `addr` changes (`Op::HeapItems`, `Op::HeapDel`, or a
    /// `HeapSet`): every root it belongs to is stale.
    pub fn touch(&mut self, addr: ObjAddr) {
        self.atoms.remove(&addr);
        let Some(roots) = self.owners.get(&addr) else {
            return;
        };
        for r in roots {
            if let Some(root) = self.roots.get_mut(r) {
                root.fresh = false;
            }
        }
    }

    /// Forget the nodes registered as `root`'s.
    fn unwatch(&mut self, root: ObjAddr) {
        let Some(registered) = self
            .roots
            .get_mut(&root)
            .map(|r| std::mem::take(&mut r.registered))
        else {
            return;
        };
        for a in registered {
            if let Some(v) = self.owners.get_mut(&a) {
                v.retain(|r| *r != root);
                if v.is_empty() {
                    self.owners.remove(&a);
                }
            }
        }
    }

    /// How the object at `addr` looks now (its fingerprint recomputed if a
    /// node it reaches changed since the last look).
    pub fn look(&mut self, state: &State, addr: ObjAddr) -> Look {
        let root = self.roots.entry(addr).or_insert_with(|| Root {
            fresh: false,
            registered: FxSet::default(),
            reached: 0,
            fingerprint: 0,
            marks: 0,
            refs: 0,
        });
        if !root.fresh {
            let (reach, fingerprint) = reach(state, addr, root.reached, &mut self.atoms);
            for a in &reach {
                if root.registered.insert(*a) {
                    self.owners.entry(*a).or_default().push(addr);
                }
            }
            root.reached = reach.len();
            root.fingerprint = fingerprint;
            root.fresh = true;
        }
        let r = &self.roots[&addr];
        Look {
            addr,
            fingerprint: r.fingerprint,
            marks: r.marks,
        }
    }

    /// A frame's memory now holds `addr` (watch it while one does).
    pub fn hold(&mut self, addr: ObjAddr) {
        if let Some(r) = self.roots.get_mut(&addr) {
            r.refs += 1;
        }
    }

    /// A frame's memory no longer holds `addr`.
    pub fn release(&mut self, addr: ObjAddr) {
        let Some(r) = self.roots.get_mut(&addr) else {
            return;
        };
        r.refs = r.refs.saturating_sub(1);
        if r.refs == 0 {
            self.unwatch(addr);
            self.roots.remove(&addr);
        }
    }

    /// Roots watched (memories must not leak them).
    pub fn watched(&self) -> usize {
        self.roots.len()
    }
}

/// The nodes reachable from `root` (items and attribute values, depth
/// first) and a hash of all of them, addresses included (but those of
/// atoms below the root), so that any change of content or of which object
/// sits where changes the hash.
fn reach(
    state: &State,
    root: ObjAddr,
    hint: usize,
    atoms: &mut FxMap<ObjAddr, u64>,
) -> (Vec<ObjAddr>, u64) {
    let mut h = FpHasher::default();
    let mut seen: FxSet<ObjAddr> = FxSet::with_capacity_and_hasher(hint, Default::default());
    let mut order = Vec::with_capacity(hint);
    let mut todo = vec![root];
    while let Some(a) = todo.pop() {
        let node = state.heap.get(&a);
        if let Some(n) = node.filter(|n| a != root && n.kind == kinds::ATOM) {
            // By value: an equal int at another address is no change.
            2u8.hash(&mut h);
            let own = *atoms.entry(a).or_insert_with(|| {
                let mut ah = FpHasher::default();
                hash_node(n, &mut ah);
                ah.finish()
            });
            own.hash(&mut h);
            if seen.insert(a) {
                order.push(a);
            }
            continue;
        }
        if !seen.insert(a) {
            a.hash(&mut h);
            continue;
        }
        order.push(a);
        a.hash(&mut h);
        match node {
            None => 0u8.hash(&mut h),
            Some(n) => {
                1u8.hash(&mut h);
                hash_node(n, &mut h);
                // Pushed in reverse so the walk is in item order.
                for (_, v) in n.attrs.iter().flatten().rev() {
                    todo.push(*v);
                }
                todo.extend(n.items.iter().rev());
            }
        }
    }
    (order, h.finish())
}

/// Hash a node's own content: its children are hashed by the walk, in
/// order, so only their count and the attribute names are hashed here.
fn hash_node(n: &Node, h: &mut FpHasher) {
    n.type_name.hash(h);
    n.kind.hash(h);
    n.text.hash(h);
    n.items.len().hash(h);
    for (name, _) in n.attrs.iter().flatten() {
        name.hash(h);
    }
    n.attrs.is_some().hash(h);
    n.truncated.hash(h);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn node(kind: u8, text: &str, items: &[u64], truncated: bool) -> Node {
        Node {
            type_name: Arc::from("t"),
            kind,
            text: text.into(),
            items: items.iter().map(|a| ObjAddr(*a)).collect(),
            attrs: None,
            truncated,
        }
    }

    /// A watch with the heap it watches, as the replay keeps them.
    #[derive(Default)]
    struct W {
        w: Watch,
        s: State,
    }

    impl W {
        fn set(&mut self, a: ObjAddr, n: Node) {
            self.w.set(&self.s, a, &n);
            self.s.heap.insert(a, n);
        }
        fn del(&mut self, a: ObjAddr) {
            self.w.touch(a);
            self.s.heap.remove(&a);
        }
        fn look(&mut self, a: ObjAddr) -> Look {
            self.w.look(&self.s, a)
        }
        fn hold(&mut self, a: ObjAddr) {
            self.w.hold(a)
        }
        fn release(&mut self, a: ObjAddr) {
            self.w.release(a)
        }
        fn watched(&self) -> usize {
            self.w.watched()
        }
    }

    #[test]
    fn a_change_deep_inside_changes_the_look() {
        let mut w = W::default();
        w.set(ObjAddr(1), node(2, "", &[2, 3], false));
        w.set(ObjAddr(2), node(1, "a", &[], false));
        w.set(ObjAddr(3), node(2, "", &[4], false));
        w.set(ObjAddr(4), node(1, "b", &[], false));
        let before = w.look(ObjAddr(1));
        w.hold(ObjAddr(1));
        assert_eq!(w.look(ObjAddr(1)), before, "nothing changed");
        // Another object changing does not matter.
        w.set(ObjAddr(9), node(1, "z", &[], false));
        assert_eq!(w.look(ObjAddr(1)), before);
        // The innermost one does.
        w.set(ObjAddr(4), node(1, "c", &[], false));
        let after = w.look(ObjAddr(1));
        assert_ne!(after, before);
        // Deleted and sent back equal (a frame's objects leaving and coming
        // back): the same look.
        w.del(ObjAddr(4));
        w.set(ObjAddr(4), node(1, "c", &[], false));
        assert_eq!(w.look(ObjAddr(1)), after);
        w.release(ObjAddr(1));
        assert_eq!(w.watched(), 0);
        assert!(w.w.owners.is_empty());
    }

    #[test]
    fn an_equal_truncated_node_sent_again_is_a_change() {
        let mut w = W::default();
        w.set(ObjAddr(1), node(4, "", &[2, 2], true));
        w.set(ObjAddr(2), node(1, "0", &[], false));
        let before = w.look(ObjAddr(1));
        w.hold(ObjAddr(1));
        w.set(ObjAddr(1), node(4, "", &[2, 2], true));
        assert_ne!(w.look(ObjAddr(1)), before);
        // Not so for a node that shows everything.
        w.set(ObjAddr(2), node(1, "0", &[], false));
        let now = w.look(ObjAddr(1));
        w.set(ObjAddr(2), node(1, "0", &[], false));
        assert_eq!(w.look(ObjAddr(1)), now);
    }

    #[test]
    fn cycles_and_missing_nodes() {
        let mut w = W::default();
        w.set(ObjAddr(1), node(2, "", &[1, 5], false));
        let a = w.look(ObjAddr(1));
        w.hold(ObjAddr(1));
        w.set(ObjAddr(5), node(1, "x", &[], false));
        assert_ne!(w.look(ObjAddr(1)), a, "a missing child arrived");
    }

    #[test]
    fn atoms_inside_count_by_value() {
        let mut w = W::default();
        w.set(ObjAddr(1), node(2, "", &[5, 6], false));
        w.set(ObjAddr(5), node(1, "1000", &[], false));
        w.set(ObjAddr(6), node(1, "7", &[], false));
        let a = w.look(ObjAddr(1));
        w.hold(ObjAddr(1));
        // The same int at another address: no change.
        w.set(ObjAddr(1), node(2, "", &[9, 6], false));
        w.set(ObjAddr(9), node(1, "1000", &[], false));
        assert_eq!(w.look(ObjAddr(1)), a);
        // Another int made at the same address: a change.
        w.set(ObjAddr(9), node(1, "1001", &[], false));
        assert_ne!(w.look(ObjAddr(1)), a);
    }
}
