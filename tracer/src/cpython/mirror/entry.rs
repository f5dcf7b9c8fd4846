//! What the mirror keeps per object ([`Entry`]), the small types of a walk
//! (where it starts, what it visits) and the node helpers they share.

use store::{Node, ObjAddr};

use super::held;
use super::keys::ListFp;
use super::tail::TailFp;
use crate::addr::RemoteAddr;
use values::kinds;

/// What the mirror knows about one object of the last step.
pub(super) struct Entry {
    pub(super) addr: RemoteAddr,
    /// The node the store holds (`None` until first decoded).
    pub(super) node: Option<Node>,
    /// For immutable atoms: the object's bytes after the refcount, which
    /// determine its node completely; equal bytes mean an equal node.
    pub(super) key: Vec<u8>,
    /// The node cannot change while the object lives (immutable atoms,
    /// instances of static types whose class cannot be reassigned). Such
    /// nodes have no children.
    pub(super) stable: bool,
    /// Step of the last visit, and the attribute depth of that visit.
    pub(super) visited: u64,
    pub(super) vdepth: u8,
    /// How many times the nodes of the mirror refer to this object.
    pub(super) refs: u32,
    /// A container every item of which was a stable object the mirror held
    /// when its items were last looked at: items at unchanged positions
    /// need no visit.
    pub(super) kids_stable: bool,
    /// [`Mirror::breaks`] when `kids_stable` was decided.
    pub(super) kids_epoch: u64,
    /// For such a container: the pages its items' keys lie on, to check
    /// them all with a few page compares (`held`).
    pub(super) kid_pages: Option<Box<held::KidPages>>,
    /// For a dict: its version tag when decoded, and whether it was too deep
    /// for items then. CPython gives a dict a new version, never used
    /// before, at every change and at its creation: the same tag is the same
    /// items.
    pub(super) dict_tag: Option<(u64, bool)>,
    /// For an exact list: what showed its items unchanged at the last visit
    /// (with a memory that tells what changed between stops).
    pub(super) list_fp: Option<ListFp>,
    /// For an exact list cut at the item limit: what its items past the
    /// cut were at the last visit (`tail.rs`).
    pub(super) tail_fp: Option<TailFp>,
    /// Not reachable any more (the store has deleted it unless it is
    /// `parked`), but kept: when it is reached again, the key or the dict
    /// version may show it unchanged without decoding it.
    pub(super) dormant: bool,
    /// Dormant, but still in the store: it left the state at a call, held
    /// by the caller (see [`Stop`]), and is deleted from the store only if
    /// a step of that frame or an outer one does not reach it again.
    pub(super) parked: bool,
}

impl Entry {
    pub(super) fn new(addr: RemoteAddr) -> Entry {
        Entry {
            addr,
            node: None,
            key: Vec::new(),
            stable: false,
            visited: 0,
            vdepth: 0,
            refs: 0,
            kids_stable: false,
            kids_epoch: 0,
            kid_pages: None,
            dict_tag: None,
            list_fp: None,
            tail_fp: None,
            dormant: false,
            parked: false,
        }
    }
}

/// The window of a visit that needs none (an object that cannot change).
pub(super) const FIXED: usize = usize::MAX;

/// Where the step of a walk is: objects that leave the state at a step
/// deeper in the same thread than the previous one are that step's
/// caller's (or an outer frame's), and usually come back when it resumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stop {
    pub thread: u32,
    /// Frames on the thread's stack.
    pub depth: u32,
}

/// What a walk starts from: the roots (each with whether it is held, see
/// [`Mirror::reuse_held`]), and where the step is.
pub(crate) struct Roots<'a> {
    pub roots: &'a [(RemoteAddr, bool)],
    pub stop: Option<Stop>,
}

/// One object to (re)decode in the current wave.
pub(super) struct Visit {
    pub(super) slot: u32,
    pub(super) depth: u8,
    pub(super) level: u32,
    /// Its window in the wave's batch ([`FIXED`]: none needed), `None`
    /// over the object budget.
    pub(super) win: Option<usize>,
}

/// Roughly the memory a node holds.
pub(super) fn node_bytes(n: &Node) -> usize {
    64 + n.text.len() + n.items.len() * 8 + n.attrs.as_ref().map_or(0, |a| a.len() * 24)
}

pub(super) fn better(new: u8, old: u8) -> bool {
    new != 0 && (old == 0 || new < old)
}

/// The objects a node refers to (items, then attribute values).
pub(super) fn kids(node: &Node) -> impl Iterator<Item = RemoteAddr> + '_ {
    node.items
        .iter()
        .chain(node.attrs.iter().flatten().map(|(_, v)| v))
        .map(|a| RemoteAddr(a.0))
}

/// Whether two short runs of items hold the same objects (in any order).
pub(super) fn same_items(a: &[ObjAddr], b: &[ObjAddr]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort_unstable_by_key(|x| x.0);
    b.sort_unstable_by_key(|x| x.0);
    a == b
}

/// A container node whose children are exactly its items.
pub(super) fn is_items_container(node: &Node) -> bool {
    matches!(
        node.kind,
        kinds::LIST | kinds::TUPLE | kinds::DICT | kinds::SET | kinds::FROZENSET
    ) && node.attrs.is_none()
}
