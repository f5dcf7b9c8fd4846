//! The fingerprint of a flat value, kept up to date from the items that
//! changed: a container whose items are all atoms (a list of ints, a dict
//! of strs) is the value that changes most often and is largest (a list
//! being sorted), and walking all its items at each of its changes made a
//! query on a million steps cost seconds. Its fingerprint is a sum over
//! its items (each atom's hash mixed with its index), so a swap costs two
//! items, not the list; a look compares the node's items with the copy
//! kept here (a compare of addresses, no lookups) and hashes only those
//! that differ.
//!
//! The fingerprint is a function of the content alone (the node's own
//! hash, its address, and the items' values by index), whether computed
//! whole ([`Flat::of`]) or updated ([`Flat::update`]), so the two agree.

use store::{Node, ObjAddr, State};
use values::kinds;

use super::{node_hash, Fp, FxMap, Memo};
use std::hash::Hasher;

/// A watched root whose value is flat.
pub(super) struct Flat {
    /// The items at the last look.
    items: Vec<ObjAddr>,
    /// Each item's mixed hash, and their wrapping sum.
    contrib: Vec<u64>,
    sum: u64,
    /// How many items are at each address (the nodes the root reaches
    /// besides itself).
    pub(super) counts: FxMap<ObjAddr, u32>,
    /// Scratch of [`Flat::update`]: the items that differ and their
    /// hashes, and the addresses replaced.
    changed: Vec<(usize, u64)>,
    olds: Vec<ObjAddr>,
}

/// An item's hash at index `i`: mixed so that sums of different items at
/// different places do not cancel.
fn mix(i: usize, own: u64) -> u64 {
    let mut h = Fp::default();
    h.write_u64(i as u64);
    h.write_u64(own);
    h.finish()
}

/// Whether `node` can be kept flat (its own fields; its items are checked
/// one by one).
fn eligible(node: &Node) -> bool {
    node.attrs.is_none() && !node.truncated
}

/// The hash of the atom at `a` (from `memo`, else from its node), or
/// `None` when it is not an atom.
fn atom(state: &State, a: ObjAddr, root: ObjAddr, memo: &mut Memo) -> Option<u64> {
    if a == root {
        return None;
    }
    if let Some(&(is_atom, own)) = memo.get(&a) {
        return is_atom.then_some(own);
    }
    let n = state.heap.get(&a)?;
    let own = node_hash(n);
    memo.insert(a, (n.kind == kinds::ATOM, own));
    (n.kind == kinds::ATOM).then_some(own)
}

impl Flat {
    /// The flat form of the value at `root`, or `None` when it is not flat.
    pub(super) fn of(state: &State, root: ObjAddr, memo: &mut Memo) -> Option<Flat> {
        let node = state.heap.get(&root).filter(|n| eligible(n))?;
        let mut contrib = Vec::with_capacity(node.items.len());
        let mut counts = FxMap::default();
        let mut sum = 0u64;
        for (i, a) in node.items.iter().enumerate() {
            let c = mix(i, atom(state, *a, root, memo)?);
            sum = sum.wrapping_add(c);
            contrib.push(c);
            *counts.entry(*a).or_insert(0) += 1;
        }
        Some(Flat {
            items: node.items.clone(),
            contrib,
            sum,
            counts,
            changed: Vec::new(),
            olds: Vec::new(),
        })
    }

    /// The fingerprint of the value at `root`, whose node is `node`.
    pub(super) fn fingerprint(&self, root: ObjAddr, node: &Node) -> u64 {
        let mut h = Fp::default();
        h.write_u64(3);
        h.write_u64(root.0);
        h.write_u64(node_hash(node));
        h.write_u64(self.sum);
        h.finish()
    }

    /// Bring the kept items up to the node at `root` now, hashing the items
    /// that differ; `added` and `dropped` get the addresses the root now
    /// reaches and no longer does. `None` (and nothing changed) when the
    /// value is no longer flat.
    pub(super) fn update(
        &mut self,
        state: &State,
        root: ObjAddr,
        memo: &mut Memo,
        added: &mut Vec<ObjAddr>,
        dropped: &mut Vec<ObjAddr>,
    ) -> Option<u64> {
        let node = state.heap.get(&root).filter(|n| eligible(n))?;
        let new = &node.items;
        // First the hashes of what differs, so that a value no longer flat
        // leaves this untouched (the caller walks it whole).
        let mut changed = std::mem::take(&mut self.changed);
        changed.clear();
        for (i, a) in new.iter().enumerate() {
            if self.items.get(i) != Some(a) {
                match atom(state, *a, root, memo) {
                    Some(own) => changed.push((i, mix(i, own))),
                    None => {
                        self.changed = changed;
                        return None;
                    }
                }
            }
        }
        // The new items are counted before the old ones are let go, so
        // that a swap neither adds nor drops an address.
        let mut olds = std::mem::take(&mut self.olds);
        olds.clear();
        for i in new.len()..self.items.len() {
            self.sum = self.sum.wrapping_sub(self.contrib[i]);
            olds.push(self.items[i]);
        }
        self.items.truncate(new.len());
        self.contrib.truncate(new.len());
        for &(i, c) in &changed {
            let a = new[i];
            if i < self.items.len() {
                self.sum = self.sum.wrapping_sub(self.contrib[i]);
                olds.push(std::mem::replace(&mut self.items[i], a));
                self.contrib[i] = c;
            } else {
                self.items.push(a);
                self.contrib.push(c);
            }
            self.sum = self.sum.wrapping_add(c);
            let n = self.counts.entry(a).or_insert(0);
            *n += 1;
            if *n == 1 {
                added.push(a);
            }
        }
        for &o in &olds {
            if let Some(n) = self.counts.get_mut(&o) {
                *n -= 1;
                if *n == 0 {
                    self.counts.remove(&o);
                    dropped.push(o);
                }
            }
        }
        self.changed = changed;
        self.olds = olds;
        Some(self.fingerprint(root, node))
    }
}
