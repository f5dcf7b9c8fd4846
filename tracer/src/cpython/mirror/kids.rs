//! The children of a visited container: checked by the pages their keys
//! lie on when all were held stable atoms (`held.rs`), else queued for the
//! next wave of the walk, with the references the mirror counts moved from
//! the old node's children to the new one's.

use store::{Node, Op};

use super::entry::{kids, same_items};
use super::held::{self, KidPages};
use super::walk::{Found, Here, Kids};
use super::{splice, Mirror};
use crate::addr::RemoteAddr;
use crate::cpython::objects::{self, Limits};
use crate::memory::Memory;

impl Mirror {
    /// The items of a container whose items were all held stable objects
    /// (`old` its node then), checked by their pages: the changed ones and
    /// the ones not on them are visited in the next wave. With how many
    /// items that was; `None` when the pages could not be read.
    pub(super) fn kids_by_pages(
        &mut self,
        mem: &dyn Memory,
        h: Here,
        found: &Found,
        old: &Node,
        pages: Option<Box<KidPages>>,
        ops: &mut Vec<Op>,
    ) -> Option<(usize, Kids)> {
        let node = &found.node;
        let old = &old.items;
        let (p, s) = if found.reused {
            (old.len(), 0)
        } else {
            splice::common_ends(old, &node.items)
        };
        let n = node.items.len();
        let (mid_old, mid_new) = (&old[p..old.len() - s], &node.items[p..n - s]);
        // The same items in another order are on the same pages; a few
        // replaced (or appended) ones are moved one by one.
        let kept = pages.and_then(|mut k| {
            (same_items(mid_old, mid_new)
                || (mid_old.len() + mid_new.len() <= held::MAX_EDIT
                    && self.edit_kid_pages(&mut k, mid_old, mid_new)))
            .then_some(k)
        });
        let (k, changed) = match kept {
            Some(mut k) => self.check_kid_pages(mem, &mut k).map(|c| (k, c)),
            None => self.build_kid_pages(mem, &node.items),
        }?;
        let all_stable = changed.is_empty();
        for &a in changed.iter().chain(&k.extras) {
            self.next.push((a, 0, h.level + 1));
        }
        if h.dormant {
            // Its items' references went when it left the state: hold them
            // again, and put back in the store those that left with it
            // (unchanged, the pages say; the changed ones and the extras
            // are visited).
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
        let pages = all_stable.then_some(k);
        Some((n, Kids { all_stable, pages }))
    }

    /// Every child of `node` (items at depth 0, attribute values at the
    /// next attribute depth) queued for the next wave, and referenced
    /// instead of the children of `old`; whether all are stable objects the
    /// mirror holds.
    pub(super) fn kids_by_visit(
        &mut self,
        limits: &Limits,
        h: Here,
        node: &Node,
        old: Option<&Node>,
    ) -> bool {
        let mut all_stable = true;
        let d = objects::attr_child_depth(h.depth, limits);
        let n = node.items.len();
        for (i, a) in kids(node).enumerate() {
            let d = if i < n { 0 } else { d };
            all_stable &= self.known_stable(a);
            self.next.push((a, d, h.level + 1));
        }
        for a in kids(node) {
            self.add_ref(a);
        }
        if let Some(old) = old.filter(|_| !h.dormant) {
            for a in kids(old) {
                self.drop_ref(a);
            }
        }
        all_stable
    }
}
