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

use crate::error::StoreError;
use crate::model::{EventKind, ObjAddr, Op, Scope, State};

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

/// The writer's postings of the steps not yet sealed.
#[derive(Default)]
pub(crate) struct PostingsBuilder {
    map: HashMap<PostingKey, Vec<u32>>,
    /// The thread of the last step seen, over segments.
    last_thread: Option<u32>,
    /// Scratch: the stack's frames from the first one a step's ops pop.
    shape: Vec<(Arc<str>, Arc<str>)>,
    /// For the objects changed by `HeapItems`: (step, lo, hi) per step,
    /// `hi` [`OPEN`] for the length or the whole node.
    ranges: HashMap<ObjAddr, Vec<(u32, u32, u32)>>,
}

impl PostingsBuilder {
    /// Note the keys step `at` (its position in the pending segment)
    /// changes with `ops`, to be applied to `state` right after: call
    /// [`PostingsBuilder::after`] once they are.
    pub(crate) fn before(&mut self, at: u32, ops: &[Op], state: &State) -> Option<usize> {
        let mut cut: Option<usize> = None;
        let mut frames = false;
        for op in ops {
            let key = match op {
                Op::Step(m) => {
                    frames |= matches!(m.event, EventKind::Call | EventKind::Return)
                        || self.last_thread.is_some_and(|t| t != m.thread);
                    self.last_thread = Some(m.thread);
                    continue;
                }
                Op::StackTruncate(n) => {
                    let n = (*n as usize).min(state.stack.len());
                    cut = Some(cut.map_or(n, |c| c.min(n)));
                    continue;
                }
                Op::StackPush(_) => {
                    cut.get_or_insert(state.stack.len());
                    continue;
                }
                Op::HeapSet(a, _) | Op::HeapDel(a) => {
                    if let Some(r) = self.ranges.get_mut(a).and_then(|v| v.last_mut()) {
                        if r.0 == at {
                            *r = (at, 0, OPEN);
                        }
                    }
                    PostingKey::Object(*a)
                }
                Op::HeapItems {
                    addr,
                    start,
                    new,
                    len,
                } => {
                    self.items_written(at, state, *addr, *start, new.len(), *len);
                    PostingKey::Object(*addr)
                }
                Op::Bind { scope, name, .. } | Op::Unbind { scope, name } => {
                    PostingKey::Name(*scope, name.clone())
                }
                Op::ClearScope(scope) => PostingKey::Clear(*scope),
            };
            self.post(key, at);
        }
        if frames {
            self.post(PostingKey::Frames, at);
            return None;
        }
        let cut = cut?;
        self.shape.clear();
        self.shape.extend(
            state.stack[cut..]
                .iter()
                .map(|f| (f.function.clone(), f.file.clone())),
        );
        Some(cut)
    }

    /// The stack ops of step `at` are applied: a posting of
    /// [`PostingKey::Frames`] when they changed more than lines (`cut`:
    /// what [`PostingsBuilder::before`] returned).
    pub(crate) fn after(&mut self, at: u32, cut: Option<usize>, state: &State) {
        let Some(cut) = cut else { return };
        let now = state.stack.get(cut..).unwrap_or_default();
        let same = now.len() == self.shape.len()
            && now
                .iter()
                .zip(&self.shape)
                .all(|(f, (func, file))| f.function == *func && f.file == *file);
        if !same {
            self.post(PostingKey::Frames, at);
        }
    }

    /// A `HeapItems` of step `at` on `addr` wrote `n` items from `start`
    /// and left `len` (the node's length before the step is `state`'s).
    fn items_written(
        &mut self,
        at: u32,
        state: &State,
        addr: ObjAddr,
        start: u32,
        n: usize,
        len: u32,
    ) {
        // Set or deleted whole earlier in this step: the whole node.
        let whole = self
            .map
            .get(&PostingKey::Object(addr))
            .is_some_and(|v| v.last() == Some(&at))
            && self
                .ranges
                .get(&addr)
                .is_none_or(|v| v.last().is_none_or(|r| r.0 != at));
        let old = state
            .heap
            .get(&addr)
            .map_or(0, |node| u32::try_from(node.items.len()).unwrap_or(OPEN));
        let (lo, hi) = if whole {
            (0, OPEN)
        } else if len != old {
            (start.min(len).min(old), OPEN)
        } else {
            let end = u32::try_from(n).map_or(OPEN, |n| start.saturating_add(n.max(1)));
            (start, end)
        };
        let v = self.ranges.entry(addr).or_default();
        match v.last_mut() {
            Some(r) if r.0 == at => *r = (at, r.1.min(lo), r.2.max(hi)),
            _ => v.push((at, lo, hi)),
        }
    }

    fn post(&mut self, key: PostingKey, at: u32) {
        let v = self.map.entry(key).or_default();
        if v.last() != Some(&at) {
            v.push(at);
        }
    }

    /// The raw payload of the pending postings (then emptied): the number
    /// of keys, then each key (in key order) and its steps, as unsigned
    /// LEB128 varints (docs/store-format.md).
    pub(crate) fn take(&mut self) -> Vec<u8> {
        let mut ranges: Vec<(ObjAddr, Vec<(u32, u32, u32)>)> = self.ranges.drain().collect();
        ranges.sort_unstable_by_key(|r| r.0);
        let mut keys: Vec<(PostingKey, Vec<u32>)> = self.map.drain().collect();
        keys.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut out = Vec::with_capacity(16 + keys.len() * 4);
        varint(&mut out, (keys.len() + ranges.len()) as u64);
        let (mut last_obj, mut last_items) = (0u64, 0u64);
        for (key, steps) in &keys {
            match key {
                PostingKey::Object(a) => {
                    out.push(TAG_OBJECT);
                    // In address order: each as its distance from the one before.
                    varint(&mut out, a.0.wrapping_sub(last_obj));
                    last_obj = a.0;
                }
                PostingKey::Name(scope, name) => {
                    out.push(match scope {
                        Scope::Locals => TAG_LOCAL,
                        Scope::Globals => TAG_GLOBAL,
                    });
                    varint(&mut out, name.len() as u64);
                    out.extend_from_slice(name.as_bytes());
                }
                PostingKey::Clear(Scope::Locals) => out.push(TAG_CLEAR_LOCALS),
                PostingKey::Clear(Scope::Globals) => out.push(TAG_CLEAR_GLOBALS),
                PostingKey::Frames => out.push(TAG_FRAMES),
            }
            varint(&mut out, steps.len() as u64);
            let mut prev = 0u32;
            for (i, s) in steps.iter().enumerate() {
                // The first as is, the others as their distance (>= 1).
                varint(&mut out, u64::from(if i == 0 { *s } else { s - prev }));
                prev = *s;
            }
        }
        for (addr, written) in ranges {
            // Every step that changed the object: those of no HeapItems
            // set or deleted it whole.
            let steps = keys
                .binary_search_by(|k| k.0.cmp(&PostingKey::Object(addr)))
                .map_or(&[][..], |i| keys[i].1.as_slice());
            out.push(TAG_ITEMS);
            varint(&mut out, addr.0.wrapping_sub(last_items));
            last_items = addr.0;
            varint(&mut out, steps.len() as u64);
            let mut w = written.iter().peekable();
            let mut prev = 0u32;
            for (i, s) in steps.iter().enumerate() {
                let (lo, hi) = match w.peek().copied().filter(|r| r.0 == *s) {
                    Some(r) => {
                        w.next();
                        (r.1, r.2)
                    }
                    None => (0, OPEN),
                };
                varint(&mut out, u64::from(if i == 0 { *s } else { s - prev }));
                prev = *s;
                varint(&mut out, u64::from(lo));
                // 0: open; else the number of items.
                varint(&mut out, if hi == OPEN { 0 } else { u64::from(hi - lo) });
            }
        }
        out
    }

    /// Forget the postings of step `at`, which was not applied.
    pub(crate) fn drop_step(&mut self, at: u32) {
        self.ranges.retain(|_, v| {
            if v.last().is_some_and(|r| r.0 == at) {
                v.pop();
            }
            !v.is_empty()
        });
        self.map.retain(|_, v| {
            if v.last() == Some(&at) {
                v.pop();
            }
            !v.is_empty()
        });
    }

    /// Forget the pending postings (the steps were dropped).
    pub(crate) fn clear(&mut self) {
        self.map.clear();
        self.ranges.clear();
    }
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// Reads a postings payload, every length checked against what is left.
struct Bytes<'a> {
    raw: &'a [u8],
    at: usize,
    offset: u64,
}

impl Bytes<'_> {
    fn bad(&self, what: &str) -> StoreError {
        StoreError::corrupt(
            format!("a postings segment {what} (byte {})", self.at),
            self.offset,
        )
    }

    fn byte(&mut self) -> Result<u8, StoreError> {
        let b = *self
            .raw
            .get(self.at)
            .ok_or_else(|| self.bad("ends early"))?;
        self.at += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64, StoreError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            if shift == 63 && b > 1 {
                break;
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.bad("holds a number past 64 bits"))
    }

    /// A count of things of at least one byte each.
    fn count(&mut self) -> Result<usize, StoreError> {
        let n = self.varint()?;
        if n > (self.raw.len() - self.at) as u64 {
            return Err(self.bad("counts more than its bytes hold"));
        }
        Ok(n as usize)
    }
}

/// The postings of the deltas segment of steps `first_step ..
/// first_step + count` from the raw payload of its postings segment (at
/// `offset` in the file). Every step must be in the segment and each
/// key's steps increasing; an error otherwise (the index is then not
/// used for that segment).
pub fn decode_postings(
    raw: &[u8],
    first_step: u64,
    count: u32,
    offset: u64,
) -> Result<Postings, StoreError> {
    let mut b = Bytes { raw, at: 0, offset };
    let keys = b.count()?;
    let mut map = HashMap::with_capacity(keys);
    let mut items = HashMap::new();
    let (mut last_obj, mut last_items) = (0u64, 0u64);
    for _ in 0..keys {
        let key = match b.byte()? {
            TAG_ITEMS => {
                last_items = last_items.wrapping_add(b.varint()?);
                let addr = ObjAddr(last_items);
                let written = decode_ranges(&mut b, first_step, count)?;
                if items.insert(addr, written).is_some() {
                    return Err(b.bad("lists the items of an object twice"));
                }
                continue;
            }
            TAG_OBJECT => {
                last_obj = last_obj.wrapping_add(b.varint()?);
                PostingKey::Object(ObjAddr(last_obj))
            }
            tag @ (TAG_LOCAL | TAG_GLOBAL) => {
                let len = b.varint()?;
                if len > MAX_NAME || len > (raw.len() - b.at) as u64 {
                    return Err(b.bad("holds a name longer than its bytes"));
                }
                let bytes = &raw[b.at..b.at + len as usize];
                b.at += len as usize;
                let name =
                    std::str::from_utf8(bytes).map_err(|_| b.bad("holds a name not in UTF-8"))?;
                let scope = if tag == TAG_LOCAL {
                    Scope::Locals
                } else {
                    Scope::Globals
                };
                PostingKey::Name(scope, Arc::from(name))
            }
            TAG_CLEAR_LOCALS => PostingKey::Clear(Scope::Locals),
            TAG_CLEAR_GLOBALS => PostingKey::Clear(Scope::Globals),
            TAG_FRAMES => PostingKey::Frames,
            _ => return Err(b.bad("holds a key of unknown kind")),
        };
        let n = b.count()?;
        if n == 0 || n > count as usize {
            return Err(b.bad("lists more steps than its segment holds, or none"));
        }
        let mut steps = Vec::with_capacity(n);
        let mut at = 0u64;
        for i in 0..n {
            let d = b.varint()?;
            if i > 0 && d == 0 {
                return Err(b.bad("lists a step twice"));
            }
            at = at.saturating_add(d);
            if at >= u64::from(count) {
                return Err(b.bad("lists a step past its segment"));
            }
            steps.push(first_step.saturating_add(at));
        }
        if map.insert(key, steps).is_some() {
            return Err(b.bad("lists a key twice"));
        }
    }
    if b.at != raw.len() {
        return Err(b.bad("has bytes after its last key"));
    }
    // Each object's item ranges name the steps that changed it.
    for (addr, written) in &items {
        let steps = map
            .get(&PostingKey::Object(*addr))
            .map_or(&[][..], |v| v.as_slice());
        if written.len() != steps.len() || written.iter().zip(steps).any(|(r, s)| r.step != *s) {
            return Err(b.bad("lists items at steps that did not change their object"));
        }
    }
    Ok(Postings {
        first_step,
        count,
        map,
        items,
    })
}

/// The item ranges of one object: a count, then per step its distance,
/// its first item and its number of items (0: open).
fn decode_ranges(
    b: &mut Bytes<'_>,
    first_step: u64,
    count: u32,
) -> Result<Vec<ItemRange>, StoreError> {
    let n = b.count()?;
    if n == 0 || n > count as usize {
        return Err(b.bad("lists more steps than its segment holds, or none"));
    }
    let mut out = Vec::with_capacity(n);
    let mut at = 0u64;
    for i in 0..n {
        let d = b.varint()?;
        if i > 0 && d == 0 {
            return Err(b.bad("lists a step twice"));
        }
        at = at.saturating_add(d);
        if at >= u64::from(count) {
            return Err(b.bad("lists a step past its segment"));
        }
        let lo =
            u32::try_from(b.varint()?).map_err(|_| b.bad("holds an item index past 32 bits"))?;
        let span = b.varint()?;
        let hi = match span {
            0 => None,
            s => Some(
                u32::try_from(u64::from(lo) + s)
                    .ok()
                    .filter(|hi| *hi != OPEN)
                    .ok_or_else(|| b.bad("holds an item range past 32 bits"))?,
            ),
        };
        out.push(ItemRange {
            step: first_step.saturating_add(at),
            lo,
            hi,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
