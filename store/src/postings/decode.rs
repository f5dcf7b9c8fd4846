//! Decoding a postings payload read from a file: every count and length
//! checked against the bytes left and the segment's steps, so a damaged
//! or hostile payload is an error, never a panic or an unbounded
//! allocation.

use std::collections::HashMap;
use std::sync::Arc;

use super::{
    ItemRange, PostingKey, Postings, MAX_NAME, OPEN, TAG_CLEAR_GLOBALS, TAG_CLEAR_LOCALS,
    TAG_FRAMES, TAG_GLOBAL, TAG_ITEMS, TAG_LOCAL, TAG_OBJECT,
};
use crate::error::StoreError;
use crate::model::{ObjAddr, Scope};

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
