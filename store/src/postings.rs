//! The step index written with a recording: for each deltas segment, a
//! postings segment (kind 10) that lists, per key, the steps of that
//! segment whose ops changed it: an object (any heap op on its address), a
//! name (a bind or unbind in either scope), a whole scope (cleared), or
//! the shape of the stack (frames pushed or popped other than a line step
//! moving the top frame's line, a call or return, another thread). A query
//! that knows which keys its answer depends on skips every segment whose
//! postings name none of them, without reading its ops
//! (docs/store-format.md, "Postings").
//!
//! A list written in place (`HeapItems`: a swap, an item set, an append)
//! also has the items each step wrote, so a query that reads one item of a
//! list being sorted skips the steps that write others.
//!
//! The writer builds the postings from the ops it already applies, so the
//! index costs no extra pass; they are held for the steps not yet sealed
//! only (as their ops are).

use std::collections::HashMap;
use std::sync::Arc;

use crate::model::{ObjAddr, Scope};

mod build;
mod decode;

pub(crate) use build::PostingsBuilder;
pub use decode::decode_postings;

/// What a posting is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PostingKey {
    /// A heap op on this address (set, items written, deleted).
    Object(ObjAddr),
    /// A bind or unbind of this name in this scope.
    Name(Scope, Arc<str>),
    /// Every binding of this scope removed.
    Clear(Scope),
    /// The stack's frames (by function and file) or the running thread
    /// changed, or the step is a call or a return.
    Frames,
}

/// Tag bytes of the keys in a postings payload.
const TAG_OBJECT: u8 = 0;
const TAG_LOCAL: u8 = 1;
const TAG_GLOBAL: u8 = 2;
const TAG_CLEAR_LOCALS: u8 = 3;
const TAG_CLEAR_GLOBALS: u8 = 4;
const TAG_FRAMES: u8 = 5;
const TAG_ITEMS: u8 = 6;

/// The end of an item range that reaches past the last item: the node's
/// length changed, or the whole node was set or deleted.
const OPEN: u32 = u32::MAX;

/// The items of a node one step changed: `lo..hi`, or `lo..` with the
/// length (or the whole node) when `hi` is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemRange {
    /// The step.
    pub step: u64,
    /// The first item index changed.
    pub lo: u32,
    /// One past the last item changed; `None`: every item from `lo` on
    /// and the length.
    pub hi: Option<u32>,
}

impl ItemRange {
    /// Whether it may have changed item `i`.
    pub fn covers(&self, i: u32) -> bool {
        self.lo <= i && self.hi.is_none_or(|hi| i < hi)
    }

    /// Whether it may have changed the node's length (or all of it).
    pub fn resizes(&self) -> bool {
        self.hi.is_none()
    }
}

/// The longest name a postings payload may hold (as a string of a step).
const MAX_NAME: u64 = 16 << 20;

/// The postings of one deltas segment: for each key, the steps (sorted,
/// each once) of the segment that changed it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Postings {
    /// The segment's first step.
    pub first_step: u64,
    /// Its number of steps.
    pub count: u32,
    map: HashMap<PostingKey, Vec<u64>>,
    /// For the objects some step changed by `HeapItems`: what each step
    /// that changed them changed.
    items: HashMap<ObjAddr, Vec<ItemRange>>,
}

impl Postings {
    /// The steps at which `key` changed (empty when it did not).
    pub fn steps(&self, key: &PostingKey) -> &[u64] {
        self.map.get(key).map_or(&[], |v| v.as_slice())
    }

    /// Whether `key` changed at some step of the segment.
    pub fn has(&self, key: &PostingKey) -> bool {
        self.map.contains_key(key)
    }

    /// What each step that changed the object at `addr` changed of its
    /// items, when some step changed it by `HeapItems` (`None`: it was
    /// only ever set or deleted whole, or not changed).
    pub fn items(&self, addr: ObjAddr) -> Option<&[ItemRange]> {
        self.items.get(&addr).map(|v| v.as_slice())
    }

    /// The addresses some heap op of the segment touched.
    pub fn objects(&self) -> impl Iterator<Item = ObjAddr> + '_ {
        self.map.keys().filter_map(|k| match k {
            PostingKey::Object(a) => Some(*a),
            _ => None,
        })
    }

    /// Every key and its steps, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&PostingKey, &[u64])> {
        self.map.iter().map(|(k, v)| (k, v.as_slice()))
    }

    /// The step after the segment's last.
    pub fn end(&self) -> u64 {
        self.first_step + u64::from(self.count)
    }
}

#[cfg(test)]
mod tests;
