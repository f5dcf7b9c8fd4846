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
