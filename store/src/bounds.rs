//! The bounds on what a recording may hold, and their enforcement while a
//! file is decoded and while ops are applied. A recording file is untrusted
//! input (it may be damaged or crafted): no length in it may make a reader
//! allocate more than these bounds allow, however it is compressed.
//!
//! Two mechanisms, both needed:
//! - while msgpack is decoded, a per-thread **decode budget** is charged for
//!   everything decoded (each node, item, string, op), so a payload that
//!   decompresses to a gigabyte of one-byte items cannot become eight
//!   gigabytes of `ObjAddr`s; every decode of a payload gets
//!   [`MAX_STATE_BYTES`];
//! - while ops are applied, a [`Budget`] counts what the state holds, so a
//!   step that grows a node (or many) cannot take the state past
//!   [`MAX_STATE_BYTES`] either. The writer applies the same bound, so every
//!   file it writes can be read back.
//!
//! The costs are approximations of heap memory, not exact sizes; they only
//! need to be proportional to it (docs/store-format.md gives the figures).

use crate::model::{FrameRec, Node, ObjAddr, Op, State};
use serde::de::{Deserializer, Error, SeqAccess, Visitor};
use serde::Deserialize;
use std::cell::Cell;
use std::fmt;
use std::sync::Arc;

/// The most items a node may have, and the most items one
/// [`Op::HeapItems`] may write, and the most attributes a node may have.
/// The recorder keeps at most 10,000 elements of a container (20,000 items
/// for a dict); this leaves room for other recorders' settings.
pub const MAX_ITEMS: u32 = 1 << 20;

/// The longest string (a node's text, a name, a file, a function), in bytes.
/// The recorder keeps at most 1,000,000 characters of a `str`, whose repr is
/// at most 10 bytes a character.
pub const MAX_TEXT: usize = 1 << 24;

/// The deepest stack a state may hold.
pub const MAX_STACK: usize = 1 << 20;

/// The most a state may hold (as counted by [`Budget`]), and the most one
/// decode of a payload may produce. The recorder keeps at most a million
/// objects a step, mostly small: a state of that size counts about 150 MiB.
/// A checkpoint of a state at the bound is about as large as a payload may
/// be (1 GiB).
pub const MAX_STATE_BYTES: u64 = 512 << 20;

/// zstd cannot expand data by more than this: a block holds at most
/// 128 KiB and takes at least 4 bytes (an RLE block). A frame claiming more
/// is damaged, and its claim must not be allocated.
pub const MAX_ZSTD_RATIO: u64 = 32 * 1024;

/// What a node costs besides its strings and items: the `Node` itself and
/// its entry in the heap's map.
const NODE_COST: u64 = std::mem::size_of::<Node>() as u64 + 32;
/// What an `Arc<str>` costs besides its bytes.
const NAME_COST: u64 = 32;

thread_local! {
    /// What the decode in progress on this thread may still produce;
    /// `None` outside [`decode_scope`] (only per-field bounds apply then).
    static DECODE_LEFT: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Run `f` (a decode) with a fresh decode budget of `limit` bytes; the
/// budget in force before is restored afterwards.
pub fn decode_scope<T>(limit: u64, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<u64>);
    impl Drop for Restore {
        fn drop(&mut self) {
            DECODE_LEFT.with(|d| d.set(self.0));
        }
    }
    let _restore = Restore(DECODE_LEFT.with(|d| d.replace(Some(limit))));
    f()
}

/// Charge `bytes` to the decode budget in force, failing once it is spent.
pub fn charge<E: Error>(bytes: u64) -> Result<(), E> {
    DECODE_LEFT.with(|d| match d.get() {
        Some(left) if bytes > left => {
            d.set(Some(0));
            Err(E::custom(format!(
                "its contents exceed the bound of {MAX_STATE_BYTES} bytes a decode may produce"
            )))
        }
        Some(left) => {
            d.set(Some(left - bytes));
            Ok(())
        }
        None => Ok(()),
    })
}

/// `deserialize_with` for a node's items and `HeapItems::new`: at most
/// [`MAX_ITEMS`], each charged to the decode budget as it is read.
pub fn de_items<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ObjAddr>, D::Error> {
    struct Items;
    impl<'de> Visitor<'de> for Items {
        type Value = Vec<ObjAddr>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "a list of at most {MAX_ITEMS} addresses")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<ObjAddr>, A::Error> {
            let announced = seq.size_hint().unwrap_or(0);
            if announced > MAX_ITEMS as usize {
                return Err(A::Error::custom(format!("more than {MAX_ITEMS} items")));
            }
            // Every list of items belongs to a node or an op: charge that,
            // and the items announced, at once (one charge a list, not an
            // item; a length that lies only spends budget, nothing is
            // allocated for it beyond what is read).
            charge(NODE_COST + 8 * announced as u64)?;
            let mut out = Vec::with_capacity(announced.min(4096));
            while let Some(a) = seq.next_element::<ObjAddr>()? {
                if out.len() >= announced.max(1) {
                    // More than announced (a format without lengths): pay
                    // for each, within the bound.
                    if out.len() >= MAX_ITEMS as usize {
                        return Err(A::Error::custom(format!("more than {MAX_ITEMS} items")));
                    }
                    charge(8)?;
                }
                out.push(a);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(Items)
}

/// `deserialize_with` for a node's text: at most [`MAX_TEXT`] bytes, charged.
pub fn de_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    struct Text;
    impl<'de> Visitor<'de> for Text {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "a string of at most {MAX_TEXT} bytes")
        }
        fn visit_str<E: Error>(self, v: &str) -> Result<String, E> {
            check_text(v.len())?;
            Ok(v.to_owned())
        }
        fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<String, E> {
            check_text(v.len())?;
            std::str::from_utf8(v)
                .map(str::to_owned)
                .map_err(|_| E::custom("a string that is not UTF-8"))
        }
    }
    d.deserialize_string(Text)
}

/// Check a string's length and charge it (strings are decoded as copies of
/// the payload's bytes).
pub fn check_text<E: Error>(len: usize) -> Result<(), E> {
    if len > MAX_TEXT {
        return Err(E::custom(format!(
            "a string of {len} bytes, more than {MAX_TEXT}"
        )));
    }
    charge(NAME_COST + len as u64)
}

/// A list decoded from a file, each element charged its size as it is read
/// (elements that hold no string or items of their own, which would charge
/// themselves: index entries, thread ids).
pub struct Charged<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Charged<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Charged<T>, D::Error> {
        struct List<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for List<T> {
            type Value = Charged<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Charged<T>, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
                loop {
                    charge(std::mem::size_of::<T>() as u64)?;
                    match seq.next_element::<T>()? {
                        Some(x) => out.push(x),
                        None => return Ok(Charged(out)),
                    }
                }
            }
        }
        d.deserialize_seq(List(std::marker::PhantomData))
    }
}

/// `deserialize_with` for a list of plain values ([`Charged`]).
pub fn de_charged<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    Charged::deserialize(d).map(|Charged(v)| v)
}

/// One step's ops as decoded from a file: each op charged to the decode
/// budget (ops that hold nothing else still cost their own size).
pub struct StepOps(pub Vec<Op>);

impl<'de> Deserialize<'de> for StepOps {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<StepOps, D::Error> {
        struct Ops;
        impl<'de> Visitor<'de> for Ops {
            type Value = StepOps;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a step's list of ops")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StepOps, A::Error> {
                charge(std::mem::size_of::<Vec<Op>>() as u64)?;
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
                loop {
                    charge(std::mem::size_of::<Op>() as u64)?;
                    match seq.next_element::<Op>()? {
                        Some(op) => out.push(op),
                        None => return Ok(StepOps(out)),
                    }
                }
            }
        }
        d.deserialize_seq(Ops)
    }
}

/// A deltas payload decoded as every step's ops, charged as [`StepOps`].
pub struct SegmentOps(pub Vec<Vec<Op>>);

impl<'de> Deserialize<'de> for SegmentOps {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SegmentOps, D::Error> {
        struct Steps;
        impl<'de> Visitor<'de> for Steps {
            type Value = SegmentOps;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of steps' ops")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SegmentOps, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(StepOps(ops)) = seq.next_element::<StepOps>()? {
                    out.push(ops);
                }
                Ok(SegmentOps(out))
            }
        }
        d.deserialize_seq(Steps)
    }
}

/// What a node costs in a state.
pub fn node_cost(n: &Node) -> u64 {
    let attrs = n.attrs.as_ref().map_or(0, |a| {
        a.iter()
            .map(|(name, _)| NAME_COST + 8 + name.len() as u64)
            .sum()
    });
    NODE_COST + n.type_name.len() as u64 + n.text.len() as u64 + 8 * n.items.len() as u64 + attrs
}

/// What a stack frame costs in a state.
pub fn frame_cost(f: &FrameRec) -> u64 {
    std::mem::size_of::<FrameRec>() as u64 + f.function.len() as u64 + f.file.len() as u64
}

/// What a name binding costs in a state.
pub fn binding_cost(name: &Arc<str>) -> u64 {
    NAME_COST + 8 + name.len() as u64
}

/// What one state holds, as the bounds count it, against [`MAX_STATE_BYTES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    used: u64,
    limit: u64,
}

impl Budget {
    /// The budget of the empty state.
    pub fn new() -> Budget {
        Budget {
            used: 0,
            limit: MAX_STATE_BYTES,
        }
    }

    /// The budget of the empty state, bounded at `limit` bytes instead.
    pub fn with_limit(limit: u64) -> Budget {
        Budget { used: 0, limit }
    }

    /// No bound (for states built in memory, not read from a file).
    pub fn unlimited() -> Budget {
        Budget {
            used: 0,
            limit: u64::MAX,
        }
    }

    /// The budget of a state as it is (a checkpoint just read).
    pub fn of(state: &State) -> Budget {
        let mut b = Budget::new();
        b.used = state.heap.values().map(node_cost).sum::<u64>()
            + state.stack.iter().map(frame_cost).sum::<u64>()
            + state
                .locals
                .iter()
                .chain(&state.globals)
                .map(|(n, _)| binding_cost(n))
                .sum::<u64>();
        b
    }

    /// What the state holds, as counted.
    pub fn used(&self) -> u64 {
        self.used
    }

    /// Count `add` bytes more and `sub` bytes fewer; `Err` with the total
    /// when that passes the limit.
    pub(crate) fn change(&mut self, add: u64, sub: u64) -> Result<(), u64> {
        let used = self.used.saturating_add(add).saturating_sub(sub);
        if used > self.limit {
            return Err(used);
        }
        self.used = used;
        Ok(())
    }
}

impl Default for Budget {
    fn default() -> Budget {
        Budget::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decode_budget_is_scoped_and_charged() {
        let raw = rmp_serde::to_vec(&vec![ObjAddr(1); 1000]).unwrap();
        let de = |raw: &[u8]| -> Result<Vec<ObjAddr>, rmp_serde::decode::Error> {
            de_items(&mut rmp_serde::Deserializer::new(raw))
        };
        assert_eq!(de(&raw).unwrap().len(), 1000);
        assert!(decode_scope(2000, || de(&raw)).is_err());
        assert!(decode_scope(NODE_COST + 8000, || de(&raw)).is_ok());
        // Restored: no bound outside a scope.
        assert!(de(&raw).is_ok());
    }

    #[test]
    fn too_many_items_are_refused_before_they_are_read() {
        // An array32 header announcing 2^26 items, and none of them.
        let mut raw = vec![0xdd];
        raw.extend_from_slice(&(1u32 << 26).to_be_bytes());
        let e = de_items(&mut rmp_serde::Deserializer::new(&raw[..])).unwrap_err();
        assert!(e.to_string().contains("more than"), "{e}");
    }

    #[test]
    fn ops_are_charged() {
        let ops = vec![Op::HeapDel(ObjAddr(3)); 1000];
        let raw = rmp_serde::to_vec(&ops).unwrap();
        let StepOps(all) = rmp_serde::from_slice(&raw).unwrap();
        assert_eq!(all, ops);
        let tight = 500 * std::mem::size_of::<Op>() as u64;
        assert!(decode_scope(tight, || rmp_serde::from_slice::<StepOps>(&raw)).is_err());
    }

    #[test]
    fn budgets_count_and_refuse() {
        let mut b = Budget::new();
        b.change(100, 0).unwrap();
        b.change(0, 40).unwrap();
        assert_eq!(b.used(), 60);
        assert_eq!(b.change(MAX_STATE_BYTES, 0), Err(MAX_STATE_BYTES + 60));
        assert_eq!(b.used(), 60);
    }
}
