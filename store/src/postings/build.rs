//! Building the postings of the pending steps from the ops the writer
//! applies, and their encoding (docs/store-format.md, "Postings").

use std::collections::HashMap;
use std::sync::Arc;

use super::{
    PostingKey, OPEN, TAG_CLEAR_GLOBALS, TAG_CLEAR_LOCALS, TAG_FRAMES, TAG_GLOBAL, TAG_ITEMS,
    TAG_LOCAL, TAG_OBJECT,
};
use crate::model::{EventKind, ObjAddr, Op, Scope, State};

/// What a step wrote of a node's items: the step's position in the
/// segment, the first item, one past the last ([`OPEN`]: to the end).
type Written = (u32, u32, u32);

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
    ranges: HashMap<ObjAddr, Vec<Written>>,
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
        let mut ranges: Vec<(ObjAddr, Vec<Written>)> = self.ranges.drain().collect();
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
