//! The watch on hand-built heaps: changes deep inside, cut nodes sent
//! again, atoms by value, owners kept by difference, cycles.

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
fn owners_follow_the_nodes_a_root_reaches() {
    let mut w = W::default();
    w.set(ObjAddr(1), node(2, "", &[5, 6], false));
    w.set(ObjAddr(5), node(1, "5", &[], false));
    w.set(ObjAddr(6), node(1, "6", &[], false));
    w.set(ObjAddr(7), node(4, "", &[5, 5], true));
    let a = w.look(ObjAddr(1));
    w.hold(ObjAddr(1));
    // Swapped: another value, the same nodes.
    w.set(ObjAddr(1), node(2, "", &[6, 5], false));
    let b = w.look(ObjAddr(1));
    assert_ne!(a, b);
    assert_eq!(w.w.owners.len(), 3);
    // One replaced by a node the root did not reach: owned instead.
    w.set(ObjAddr(1), node(2, "", &[6, 7], false));
    let c = w.look(ObjAddr(1));
    assert_ne!(c, b);
    assert!(!w.w.owners.contains_key(&ObjAddr(5)) || w.w.owners[&ObjAddr(5)] == [ObjAddr(1)]);
    assert!(w.w.owners.contains_key(&ObjAddr(7)));
    // Cut and re-sent equal while the root is stale: a change if it is
    // still reached at the next look...
    w.set(ObjAddr(6), node(1, "6", &[], false));
    w.set(ObjAddr(7), node(4, "", &[5, 5], true));
    let d = w.look(ObjAddr(1));
    assert!(d.only_past_cut(&c), "{d:?} {c:?}");
    // ...and not once the root no longer reaches it.
    w.set(ObjAddr(1), node(2, "", &[6], false));
    w.set(ObjAddr(7), node(4, "", &[5, 5], true));
    let e = w.look(ObjAddr(1));
    assert_eq!(e.marks, d.marks);
    assert!(!w.w.owners.contains_key(&ObjAddr(7)));
    w.release(ObjAddr(1));
    assert!(w.w.owners.is_empty());
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

impl W {
    /// `Op::HeapItems` as the replay sends it: the watch is told, then the
    /// node's items change in place.
    fn items(&mut self, a: ObjAddr, start: usize, new: &[u64], len: usize) {
        self.w.touch(a);
        let n = self.s.heap.get_mut(&a).unwrap();
        let end = start + new.len();
        if n.items.len() < end {
            n.items.resize(end, ObjAddr(0));
        }
        for (k, v) in new.iter().enumerate() {
            n.items[start + k] = ObjAddr(*v);
        }
        n.items.truncate(len);
    }
}

/// A list of atoms at 1 (items 10, 11, 12 with texts "a", "b", "c").
fn flat_list() -> W {
    let mut w = W::default();
    w.set(ObjAddr(10), node(1, "a", &[], false));
    w.set(ObjAddr(11), node(1, "b", &[], false));
    w.set(ObjAddr(12), node(1, "c", &[], false));
    w.set(ObjAddr(1), node(2, "", &[10, 11, 12], false));
    w
}

#[test]
fn a_flat_list_kept_from_its_items_agrees_with_a_whole_walk() {
    let mut w = flat_list();
    w.hold(ObjAddr(1));
    let start = w.look(ObjAddr(1));
    // Swap the first two items: another value.
    w.items(ObjAddr(1), 0, &[11, 10], 3);
    let swapped = w.look(ObjAddr(1));
    assert_ne!(swapped, start);
    // A fresh watch of the same heap agrees (the sum is a function of
    // the content, not of how it was reached).
    let mut fresh = Watch::default();
    assert_eq!(fresh.look(&w.s, ObjAddr(1)), swapped);
    // Swapped back: the first value again.
    w.items(ObjAddr(1), 0, &[10, 11], 3);
    assert_eq!(w.look(ObjAddr(1)), start);
    // Grown, then cut back.
    w.set(ObjAddr(13), node(1, "d", &[], false));
    w.items(ObjAddr(1), 3, &[13], 4);
    let grown = w.look(ObjAddr(1));
    assert_ne!(grown, start);
    assert_eq!(Watch::default().look(&w.s, ObjAddr(1)), grown);
    w.items(ObjAddr(1), 3, &[], 3);
    assert_eq!(w.look(ObjAddr(1)), start);
    // An equal atom at another address is no change; another value is.
    w.set(ObjAddr(14), node(1, "a", &[], false));
    w.items(ObjAddr(1), 0, &[14], 3);
    assert_eq!(w.look(ObjAddr(1)), start);
    w.set(ObjAddr(15), node(1, "z", &[], false));
    w.items(ObjAddr(1), 0, &[15], 3);
    assert_ne!(w.look(ObjAddr(1)), start);
}

#[test]
fn an_item_of_a_flat_list_changed_at_its_address_is_seen() {
    let mut w = flat_list();
    w.hold(ObjAddr(1));
    let start = w.look(ObjAddr(1));
    // The atom at 11 freed and another value made there.
    w.set(ObjAddr(11), node(1, "B", &[], false));
    let now = w.look(ObjAddr(1));
    assert_ne!(now, start);
    assert_eq!(Watch::default().look(&w.s, ObjAddr(1)), now);
    // An item that is not an atom: walked whole, and a change inside it
    // is seen.
    w.set(ObjAddr(20), node(2, "", &[10], false));
    w.items(ObjAddr(1), 2, &[20], 3);
    let nested = w.look(ObjAddr(1));
    w.set(ObjAddr(20), node(2, "", &[12], false));
    assert_ne!(w.look(ObjAddr(1)), nested);
    // Back to atoms only: kept flat again, and the owners follow.
    w.items(ObjAddr(1), 2, &[12], 3);
    let flat_again = w.look(ObjAddr(1));
    w.set(ObjAddr(20), node(2, "", &[11], false));
    assert_eq!(w.look(ObjAddr(1)), flat_again, "20 is no longer reached");
    w.set(ObjAddr(12), node(1, "C", &[], false));
    assert_ne!(w.look(ObjAddr(1)), flat_again);
    w.release(ObjAddr(1));
    assert_eq!(w.watched(), 0);
    assert!(w.w.owners.is_empty(), "owners left: {:?}", w.w.owners);
}
