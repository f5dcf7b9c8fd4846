//! One walk of the [`Mirror`]: from the roots, wave by wave (breadth first),
//! each wave's objects read in one batch; each visited object's node is
//! kept (its key, dict tag or list head shows it unchanged) or decoded
//! again, its items are checked by their pages or visited in the next wave,
//! and the store's node is brought up to date with an op. The sweep of what
//! was not reached is `life`'s.

use store::{Node, ObjAddr, Op};

use super::entry::{better, is_items_container, Roots, Visit, FIXED};
use super::held::KidPages;
use super::keys::{atom_key, dict_tag, list_head, ListFp, WINDOW};
use super::tail::TailFp;
use super::{splice, Mirror};
use crate::addr::RemoteAddr;
use crate::cpython::objects::window::WindowMem;
use crate::cpython::objects::{self, Limits};
use crate::cpython::{Caches, Python};
use crate::memory::{Memory, Words};
use values::kinds;

/// What a walk reads with.
struct Cx<'a> {
    mem: &'a dyn Memory,
    py: &'a Python,
    limits: &'a Limits,
}

/// One visit under way: the object's slot, attribute depth and nesting
/// level, its window in the wave's batch, and whether it was dormant (and
/// parked) when reached.
#[derive(Clone, Copy)]
pub(super) struct Here {
    pub(super) slot: u32,
    pub(super) depth: u8,
    pub(super) level: u32,
    pub(super) win: Option<usize>,
    pub(super) dormant: bool,
    pub(super) parked: bool,
}

/// What a visit found of its object: its node (decoded, or the one held),
/// its key, whether it is stable, a dict's version tag, a list's head,
/// whether the held node of an unchanged list was reused, a cut list's
/// fingerprint past the cut, and whether `node` is the held node itself
/// (taken out of the mirror, which gets it back at the end of the visit:
/// an unchanged container is not copied at every step).
pub(super) struct Found {
    pub(super) node: Node,
    pub(super) key: Vec<u8>,
    pub(super) stable: bool,
    pub(super) tag: Option<(u64, bool)>,
    pub(super) head: Option<[u64; 3]>,
    pub(super) reused: bool,
    pub(super) tail: Option<TailFp>,
    pub(super) held: bool,
}

/// What the visit of a container's items found: whether they all are
/// stable objects the mirror holds, and the pages to check them by next.
pub(super) struct Kids {
    pub(super) all_stable: bool,
    pub(super) pages: Option<Box<KidPages>>,
}

impl Mirror {
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
        let cx = Cx { mem, py, limits };
        let Roots { roots, stop } = from;
        self.step += 1;
        std::mem::swap(&mut self.touched, &mut self.touched_prev);
        self.touched.clear();
        self.zeroed.clear();
        self.tails.reset();
        let mut decoded = 0usize;
        self.queue.clear();
        self.lists.clear();
        let d0 = 1.min(limits.attr_depth);
        for &(r, held) in roots {
            if held && decoded < limits.max_objects && self.reuse_held(r, d0) {
                decoded += 1;
            } else {
                self.queue.push((r, d0, 0));
            }
        }
        while !self.queue.is_empty() {
            self.plan_wave(&cx, &mut decoded);
            self.windows.read(mem);
            self.next.clear();
            for vi in 0..self.visits.len() {
                self.visit(&cx, caches, vi, &mut decoded, ops);
            }
            std::mem::swap(&mut self.queue, &mut self.next);
        }
        self.exhausted = decoded >= limits.max_objects;
        self.lists.sort_unstable();
        self.sweep(stop, ops);
    }

    /// Which queued objects this wave visits, in queue order (the same
    /// decisions the full walker makes), and their windows.
    fn plan_wave(&mut self, cx: &Cx<'_>, decoded: &mut usize) {
        let step = self.step;
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
            let fixed = e.stable && !e.key.is_empty() && e.node.is_some() && cx.py.is_static(addr);
            let win = if *decoded >= cx.limits.max_objects {
                None
            } else if fixed {
                *decoded += 1;
                Some(FIXED)
            } else {
                *decoded += 1;
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
    }

    /// Visit the object of `self.visits[vi]`: its node, its children (to
    /// check by their pages or to visit in the next wave), and the op that
    /// brings the store's node up to date.
    fn visit(
        &mut self,
        cx: &Cx<'_>,
        caches: &mut Caches,
        vi: usize,
        decoded: &mut usize,
        ops: &mut Vec<Op>,
    ) {
        let v = &self.visits[vi];
        let (slot, depth, level, win) = (v.slot, v.depth, v.level, v.win);
        // Parked: still in the store, so nothing to send back.
        let (dormant, parked) = self.wake(slot);
        let h = Here {
            slot,
            depth,
            level,
            win,
            dormant,
            parked,
        };
        let Some(mut found) = self.find(cx, caches, h, ops) else {
            return;
        };
        if found.node.kind != kinds::DICT {
            found.tag = None;
        }
        found.tail = match found.head {
            Some(head) if is_cut_list(&found.node) => {
                let old = self.slab[slot as usize].tail_fp;
                self.tails
                    .fingerprint(cx.mem, head, found.node.items.len(), old)
            }
            _ => None,
        };
        let e = &mut self.slab[slot as usize];
        // A dormant node that is not parked is not in the store: it is sent
        // whole. Its items are still what its pages were checked against;
        // the references of a dormant node's items went when it left the
        // state.
        let (old_node, dormant_node) = match e.node.take() {
            Some(n) if dormant && !parked => (None, Some(n)),
            n => (n, None),
        };
        // Items at unchanged positions are not trusted on their address
        // alone (one may have been freed and another made at its address
        // and stored in its place within one line): they are checked
        // against their pages, or visited again.
        let base = if found.held {
            Some(&found.node)
        } else {
            old_node.as_ref().or(dormant_node.as_ref())
        };
        let fast = e.kids_stable
            && e.kids_epoch == self.breaks
            && is_items_container(&found.node)
            && base.is_some_and(|o| o.kind == found.node.kind && o.attrs.is_none());
        let pages = e.kid_pages.take();
        let paged = match base {
            Some(old) if fast => self.kids_by_pages(cx.mem, h, &found, old, pages, ops),
            _ => None,
        };
        let kids = match paged {
            Some((n, kids)) => {
                *decoded += n;
                kids
            }
            None => {
                // A held node taken out stands for the node the store has,
                // unless the store has none (dormant and not parked).
                let old = match found.held {
                    true => (!dormant || parked).then_some(&found.node),
                    false => old_node.as_ref(),
                };
                Kids {
                    all_stable: self.kids_by_visit(cx.limits, h, &found.node, old),
                    pages: None,
                }
            }
        };
        self.store(cx, h, found, old_node, kids, ops);
    }

    /// The node of the visited object: decoded from its window, or the one
    /// held when its dict tag or list head shows it unchanged. `None` when
    /// the visit ends here: the same immutable atom, or a dict unchanged
    /// with all its items held (put back in the store if it had left it).
    fn find(
        &mut self,
        cx: &Cx<'_>,
        caches: &mut Caches,
        h: Here,
        ops: &mut Vec<Op>,
    ) -> Option<Found> {
        let (mem, py, limits) = (cx.mem, cx.py, cx.limits);
        let w = match h.win {
            None => {
                return Some(Found {
                    node: objects::unreadable("?", "object budget of this snapshot exhausted"),
                    key: Vec::new(),
                    stable: false,
                    tag: None,
                    head: None,
                    reused: false,
                    tail: None,
                    held: false,
                })
            }
            Some(FIXED) => {
                if h.dormant && !h.parked {
                    self.put_back(h.slot, ops);
                }
                return None;
            }
            Some(w) => w,
        };
        let e = &self.slab[h.slot as usize];
        let addr = e.addr;
        let (base, data) = self.windows.get(w);
        let k = e.key.len();
        if e.node.is_some() && k != 0 && data.get(8..8 + k) == Some(&e.key[..]) {
            // The same immutable atom: same node, no children.
            mem.note(addr, 8 + k, Words::Frozen);
            if h.dormant && !h.parked {
                self.put_back(h.slot, ops);
            }
            return None;
        }
        let deep = h.level >= limits.max_depth;
        let tag = dict_tag(py, data, deep);
        let head = list_head(py, data);
        let same_dict = e.node.is_some() && tag.is_some() && tag == e.dict_tag;
        // A list whose header and item array are as they were at the
        // previous stop: its node is the one held (its items are still
        // checked, by their pages or a visit).
        let reused = !h.dormant
            && e.node.is_some()
            && e.list_fp.is_some_and(|fp| {
                head == Some(fp.head)
                    && fp.deep == deep
                    && (fp.read == 0
                        || mem.unchanged_since(fp.serial, RemoteAddr(fp.head[2]), fp.read * 8))
            });
        if reused {
            // Its items are object pointers, as when they were read.
            if let Some(fp) = e.list_fp.filter(|fp| fp.read > 0) {
                mem.note(RemoteAddr(fp.head[2]), fp.read * 8, Words::Slots);
            }
        }
        let kids_ok = e.kids_stable && e.kids_epoch == self.breaks;
        if same_dict || reused {
            if same_dict && kids_ok {
                if !h.dormant {
                    // The same items, all of them held stable objects:
                    // nothing to visit.
                    return None;
                }
                if self.revive_kids(h.slot, h.parked, ops) {
                    return None;
                }
            }
            let old = self.slab[h.slot as usize].node.take();
            return Some(Found {
                node: old.expect("checked"),
                key: Vec::new(),
                stable: false,
                tag,
                head,
                reused,
                tail: None,
                held: true,
            });
        }
        let wm = WindowMem {
            inner: mem,
            base,
            data,
        };
        let (node, stable) = objects::decode_one(&wm, py, caches, limits, addr, h.depth, h.level);
        let key = atom_key(py, &node, data, mem, addr);
        if !key.is_empty() {
            mem.note(addr, 8 + key.len(), Words::Frozen);
        }
        Some(Found {
            node,
            key,
            stable,
            tag,
            head,
            reused: false,
            tail: None,
            held: false,
        })
    }

    /// Send the op that turns the store's node of the visited object
    /// (`old_node`) into the one found, and keep what was learnt of it.
    fn store(
        &mut self,
        cx: &Cx<'_>,
        h: Here,
        found: Found,
        old_node: Option<Node>,
        kids: Kids,
        ops: &mut Vec<Op>,
    ) {
        let Found {
            node,
            key,
            stable,
            tag,
            head,
            reused,
            tail,
            held,
        } = found;
        let kids_stable = kids.all_stable && is_items_container(&node);
        // A dict cut at the item limit whose version tag moved, or a list
        // whose items past the cut or length did, while the items kept did
        // not: it changed past the cut.
        let e = &self.slab[h.slot as usize];
        let past_cut = node.truncated
            && ((tag.is_some() && e.dict_tag.is_some_and(|old| Some(old) != tag))
                || tail.is_some_and(|t| e.tail_fp.is_some_and(|old| t.changed_since(&old))));
        let mut old_node = old_node;
        let oaddr = ObjAddr(self.slab[h.slot as usize].addr.0);
        match &mut old_node {
            // The held node, unchanged: the store has it unless it left
            // the state (dormant, not parked), when it is sent whole.
            _ if held => {
                if h.dormant && !h.parked {
                    ops.push(Op::HeapSet(oaddr, node.clone()));
                } else if past_cut {
                    ops.push(changed_past_cut(oaddr, &node));
                }
                old_node = Some(node);
            }
            // Items changed by nothing, so that a reader knows the object
            // changed where its node does not show (store-format.md).
            Some(old) if (reused || *old == node) && past_cut => {
                ops.push(changed_past_cut(oaddr, old));
            }
            Some(_) if reused => {}
            Some(old) if *old == node => {}
            Some(old) if splice::items_only_change(old, &node) => {
                if let Some(op) = splice::items_op(oaddr, &old.items, &node.items) {
                    ops.push(op);
                }
                *old = node;
            }
            place => {
                ops.push(Op::HeapSet(oaddr, node.clone()));
                *place = Some(node);
            }
        }
        let e = &mut self.slab[h.slot as usize];
        if e.stable && !stable {
            self.breaks += 1;
        }
        self.max_key = self.max_key.max(key.len());
        let e = &mut self.slab[h.slot as usize];
        e.node = old_node;
        e.key = key;
        e.stable = stable;
        e.kids_stable = kids_stable;
        e.kids_epoch = self.breaks;
        e.kid_pages = kids.pages;
        e.dict_tag = tag;
        e.tail_fp = tail;
        let deep = h.level >= cx.limits.max_depth;
        if let (Some(head), Some(n)) = (head, e.node.as_ref()) {
            if n.kind == kinds::LIST && n.attrs.is_none() && !n.truncated && !deep {
                self.lists.push((head[2], n.items.len() as u32, h.slot));
            }
        }
        let e = &mut self.slab[h.slot as usize];
        let serial = cx.mem.stop_serial();
        e.list_fp = head.filter(|_| serial != 0).and_then(|head| {
            let node = e.node.as_ref()?;
            (node.kind == kinds::LIST && node.attrs.is_none()).then_some(ListFp {
                head,
                read: node.items.len(),
                deep: h.level >= cx.limits.max_depth,
                serial,
            })
        });
    }
}

/// The mark of a change past the cut of the node `node` at `addr` the store
/// has (docs/store-format.md): its items changed by none, its length kept.
fn changed_past_cut(addr: ObjAddr, node: &Node) -> Op {
    let n = node.items.len() as u32;
    Op::HeapItems {
        addr,
        start: n,
        new: Vec::new(),
        len: n,
    }
}

/// An exact list (no attributes) whose node is cut at the item limit.
fn is_cut_list(node: &Node) -> bool {
    node.kind == kinds::LIST && node.truncated && node.attrs.is_none()
}
