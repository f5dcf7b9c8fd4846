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

use self::flat::Flat;

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

/// A watched object.
struct Root {
    /// The nodes reachable from it when its fingerprint was last computed;
    /// each lists it among its owners.
    reach: Vec<ObjAddr>,
    /// One of them changed since: the fingerprint is stale until the next
    /// look.
    stale: bool,
    fingerprint: u64,
    marks: u64,
    /// Nodes of `reach` re-sent equal and cut while it was stale: a mark,
    /// if one of them is still reachable at the next look.
    pending: Vec<ObjAddr>,
    /// How many frames' memories hold it.
    refs: u32,
    /// Its value was flat at the last look: its fingerprint is kept up to
    /// date from the items that change (`reach` then holds the root only,
    /// the items are counted in the flat form).
    flat: Option<Flat>,
    /// A node it reaches other than itself changed since the last look
    /// (a flat value is then walked whole).
    deep: bool,
}

impl Root {
    /// The nodes it reaches, in no particular order.
    fn reached(&self) -> impl Iterator<Item = ObjAddr> + '_ {
        self.reach
            .iter()
            .copied()
            .chain(self.flat.iter().flat_map(|f| f.counts.keys().copied()))
    }
}

/// The watched roots, and which roots each node belongs to. The heap is
/// the caller's ([`crate::replay::Replay`]): it calls [`Watch::set`] and
/// [`Watch::touch`] before each heap op changes it.
///
/// A root whose value changes at many steps (a list being sorted) is
/// walked again at each look after a change: what a change costs is that
/// walk, with the owners of its nodes updated by difference (the same
/// nodes in another order, as a swap leaves them, update nothing).
#[derive(Default)]
pub struct Watch {
    roots: FxMap<ObjAddr, Root>,
    owners: FxMap<ObjAddr, Vec<ObjAddr>>,
    /// Scratch of the walks: the nodes reached, in order and as a set,
    /// and the nodes a root reached before.
    order: Vec<ObjAddr>,
    seen: FxSet<ObjAddr>,
    before: FxSet<ObjAddr>,
    /// The hash of each node's own content a walk computed, and whether it
    /// is an atom, until a heap op changes the node ([`Watch::set`],
    /// [`Watch::touch`]): the ints of a large list are hashed once, not at
    /// every change of the list.
    memo: Memo,
}

/// [`Watch::memo`].
type Memo = FxMap<ObjAddr, (bool, u64)>;

/// A `HashSet` with [`Fx`].
type FxSet<K> = HashSet<K, BuildHasherDefault<Fx>>;

impl Watch {
    /// `Op::HeapSet` of `node` at `addr`, before `state` gets it.
    pub fn set(&mut self, state: &State, addr: ObjAddr, node: &Node) {
        self.memo.remove(&addr);
        if self.owners.contains_key(&addr) {
            // The recorder re-sends an equal node that was cut at a size
            // limit when the object changed past the cut (a dict entry
            // beyond the first 10,000): a change no node shows.
            if node.truncated && state.heap.get(&addr) == Some(node) {
                self.past_cut(addr);
            } else {
                self.touch(addr);
            }
        }
    }

    /// `Op::HeapItems` at `addr` writing no item and keeping the length
    /// `len`, before `state` gets it: on a node cut at a size limit, the
    /// recorder's mark of a change past the cut (docs/store-format.md).
    pub fn items_unchanged(&mut self, state: &State, addr: ObjAddr, len: u32) {
        self.memo.remove(&addr);
        let cut = state
            .heap
            .get(&addr)
            .is_some_and(|n| n.truncated && n.items.len() == len as usize);
        if cut && self.owners.contains_key(&addr) {
            self.past_cut(addr);
        } else {
            self.touch(addr);
        }
    }

    /// The object at `addr` changed where its node does not show.
    fn past_cut(&mut self, addr: ObjAddr) {
        for r in self.owners.get(&addr).into_iter().flatten() {
            let Some(root) = self.roots.get_mut(r) else {
                continue;
            };
            if !root.stale {
                root.marks += 1;
            } else if !root.pending.contains(&addr) {
                // Its nodes may have changed: it counts if the node is
                // still one of them at the next look.
                root.pending.push(addr);
            }
        }
    }

    /// The node at `addr` changes (`Op::HeapItems`, `Op::HeapDel`, or a
    /// `HeapSet`): every root it belongs to is stale.
    pub fn touch(&mut self, addr: ObjAddr) {
        self.memo.remove(&addr);
        let Some(roots) = self.owners.get(&addr) else {
            return;
        };
        for r in roots {
            if let Some(root) = self.roots.get_mut(r) {
                root.stale = true;
                root.deep |= *r != addr;
            }
        }
    }

    /// Forget which nodes `root` reaches.
    fn unwatch(&mut self, root: ObjAddr) {
        let Some(reach) = self.roots.get_mut(&root).map(|r| {
            let all: Vec<ObjAddr> = r.reached().collect();
            r.reach.clear();
            r.flat = None;
            all
        }) else {
            return;
        };
        for a in reach {
            unregister(&mut self.owners, a, root);
        }
    }

    /// How the object at `addr` looks now (its fingerprint recomputed if a
    /// node it reaches changed since the last look).
    pub fn look(&mut self, state: &State, addr: ObjAddr) -> Look {
        let fresh = self.roots.get(&addr).is_some_and(|r| !r.stale);
        if !fresh && (full_walk() || !self.update_flat(state, addr)) {
            self.walk_again(state, addr);
        }
        let r = &self.roots[&addr];
        Look {
            addr,
            fingerprint: r.fingerprint,
            marks: r.marks,
        }
    }

    /// Bring a flat value's fingerprint up to date from the items that
    /// changed; `false` when it cannot be (not flat, a node inside changed,
    /// a cut node sent again): then it is walked whole.
    fn update_flat(&mut self, state: &State, addr: ObjAddr) -> bool {
        let Some(root) = self.roots.get_mut(&addr) else {
            return false;
        };
        if root.deep || !root.pending.is_empty() {
            return false;
        }
        let Some(flat) = root.flat.as_mut() else {
            return false;
        };
        let (mut added, mut dropped) = (Vec::new(), Vec::new());
        let Some(fp) = flat.update(state, addr, &mut self.memo, &mut added, &mut dropped) else {
            return false;
        };
        root.fingerprint = fp;
        root.stale = false;
        for a in dropped {
            unregister(&mut self.owners, a, addr);
        }
        for a in added {
            self.owners.entry(a).or_default().push(addr);
        }
        true
    }

    /// Walk what `addr` reaches again: its fingerprint, its pending marks,
    /// and the owners of the nodes it reaches now and did not, or no
    /// longer does.
    fn walk_again(&mut self, state: &State, addr: ObjAddr) {
        let flat = Flat::of(state, addr, &mut self.memo);
        let fingerprint = match (&flat, state.heap.get(&addr)) {
            (Some(f), Some(node)) => {
                self.order.clear();
                self.seen.clear();
                self.order.push(addr);
                self.order.extend(f.counts.keys().copied());
                self.seen.extend(self.order.iter().copied());
                f.fingerprint(addr, node)
            }
            _ => reach(state, addr, &mut self.order, &mut self.seen, &mut self.memo),
        };
        let root = self.roots.entry(addr).or_insert(Root {
            reach: Vec::new(),
            stale: true,
            fingerprint: 0,
            marks: 0,
            pending: Vec::new(),
            refs: 0,
            flat: None,
            deep: false,
        });
        if root.pending.iter().any(|a| self.seen.contains(a)) {
            root.marks += 1;
        }
        root.pending.clear();
        root.fingerprint = fingerprint;
        root.stale = false;
        root.deep = false;
        let mut old: Vec<ObjAddr> = root.reached().collect();
        root.reach.clear();
        let is_flat = flat.is_some();
        root.flat = flat;
        if old != self.order {
            let mut same_set = old.len() == self.order.len();
            for a in &old {
                if !self.seen.contains(a) {
                    same_set = false;
                    unregister(&mut self.owners, *a, addr);
                }
            }
            if !same_set {
                self.before.clear();
                self.before.extend(old.iter().copied());
                for a in &self.order {
                    if !self.before.contains(a) {
                        self.owners.entry(*a).or_default().push(addr);
                    }
                }
            }
        }
        old.clear();
        if is_flat {
            old.push(addr);
        } else {
            old.extend_from_slice(&self.order);
        }
        if let Some(root) = self.roots.get_mut(&addr) {
            root.reach = old;
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

    /// Every node a watched value reached when it was last walked.
    pub fn owned(&self) -> impl Iterator<Item = ObjAddr> + '_ {
        self.owners.keys().copied()
    }

    /// Roots watched (memories must not leak them).
    pub fn watched(&self) -> usize {
        self.roots.len()
    }
}

/// Whether `HINDSIGHT_QUERY_FULL_WALK` is set: every value is walked
/// whole at each look after a change, and `object` compares whole nodes
/// (the paths the incremental ones are tested against).
pub fn full_walk() -> bool {
    static FULL: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FULL.get_or_init(|| std::env::var_os("HINDSIGHT_QUERY_FULL_WALK").is_some())
}

/// `root` no longer owns the node at `a`.
fn unregister(owners: &mut FxMap<ObjAddr, Vec<ObjAddr>>, a: ObjAddr, root: ObjAddr) {
    if let Some(v) = owners.get_mut(&a) {
        v.retain(|r| *r != root);
        if v.is_empty() {
            owners.remove(&a);
        }
    }
}

/// The nodes reachable from `root` (items and attribute values, depth
/// first) into `order` (and as a set into `seen`), and a hash of all of
/// them, addresses included (but those of atoms below the root), so that
/// any change of content or of which object sits where changes the hash.
/// Each node's own content is hashed once while it does not change
/// (`memo`).
fn reach(
    state: &State,
    root: ObjAddr,
    order: &mut Vec<ObjAddr>,
    seen: &mut FxSet<ObjAddr>,
    memo: &mut Memo,
) -> u64 {
    let mut h = Fp::default();
    order.clear();
    seen.clear();
    let mut todo = vec![root];
    while let Some(a) = todo.pop() {
        let known = memo.get(&a).copied();
        if let Some((true, own)) = known.filter(|_| a != root) {
            // An atom, by value: an equal int at another address is no
            // change.
            h.write_u64(2);
            h.write_u64(own);
            if seen.insert(a) {
                order.push(a);
            }
            continue;
        }
        let node = state.heap.get(&a);
        let own = |n: &Node, memo: &mut Memo| match known {
            Some((_, own)) => own,
            None => {
                let own = node_hash(n);
                memo.insert(a, (n.kind == kinds::ATOM, own));
                own
            }
        };
        if let Some(n) = node.filter(|n| a != root && n.kind == kinds::ATOM) {
            h.write_u64(2);
            h.write_u64(own(n, memo));
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
            None => h.write_u64(0),
            Some(n) => {
                h.write_u64(1);
                h.write_u64(own(n, memo));
                // Pushed in reverse so the walk is in item order.
                for (_, v) in n.attrs.iter().flatten().rev() {
                    todo.push(*v);
                }
                todo.extend(n.items.iter().rev());
            }
        }
    }
    h.finish()
}

/// The hash of a node's own content: its children are hashed by the walk,
/// in order, so only their count and the attribute names are hashed here.
fn node_hash(n: &Node) -> u64 {
    let mut h = Fp::default();
    n.type_name.hash(&mut h);
    n.kind.hash(&mut h);
    n.text.hash(&mut h);
    n.items.len().hash(&mut h);
    for (name, _) in n.attrs.iter().flatten() {
        name.hash(&mut h);
    }
    n.attrs.is_some().hash(&mut h);
    n.truncated.hash(&mut h);
    h.finish()
}

/// The fingerprint's hash: each word folded in by a 128-bit multiply
/// (as wyhash does), fast on the long runs of small nodes a large value
/// is, and mixed well enough that two different values agree by chance
/// about once in 2^64 (SipHash, which resists chosen keys, cost most of
/// a `history` of a value that changes at every step; a recording is
/// read, not attacked, here: a collision would hide one change).
#[derive(Default)]
struct Fp(u64);

impl Fp {
    fn fold(&mut self, w: u64) {
        let m = u128::from(self.0 ^ 0xa076_1d64_78bd_642f) * u128::from(w ^ 0xe703_7ed1_a0b4_28db);
        // The state and the word are kept besides the product, which a
        // factor of 0 would empty.
        self.0 = ((m as u64) ^ ((m >> 64) as u64)) ^ self.0.rotate_left(29).wrapping_add(w);
    }
}

impl Hasher for Fp {
    fn finish(&self) -> u64 {
        let mut f = Fp(self.0);
        f.fold(0x8ebc_6af0_9c88_c6e3);
        f.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.fold(u64::from_le_bytes(c.try_into().unwrap_or_default()));
        }
        let rest = chunks.remainder();
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        self.fold(u64::from_le_bytes(last) ^ ((rest.len() as u64) << 56));
    }
    fn write_u8(&mut self, i: u8) {
        self.fold(u64::from(i) | 0x100);
    }
    fn write_u64(&mut self, i: u64) {
        self.fold(i);
    }
    fn write_usize(&mut self, i: usize) {
        self.fold(i as u64);
    }
}

mod flat;
#[cfg(test)]
mod tests;
