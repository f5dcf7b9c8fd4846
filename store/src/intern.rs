//! Shared strings for decoding: the names, files, functions and type names
//! of a recording repeat at almost every step, so decoding them through a
//! small per-thread table of `Arc<str>` costs a lookup instead of two
//! allocations each. Used by `model.rs` via `#[serde(deserialize_with)]`;
//! the bytes written are unchanged.

use serde::de::{Deserializer, Error, Visitor};
use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

/// The table is emptied when it reaches this many strings, so a recording
/// with endless distinct names cannot grow it without bound.
const MAX_INTERNED: usize = 4096;

/// Strings longer than this are not worth keeping.
const MAX_INTERNED_LEN: usize = 256;

/// FNV-1a: the strings are short and come from our own file, so a fast
/// hash beats SipHash's flooding resistance here (the table is bounded).
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
        self.0 = h;
    }
}

type Table = HashSet<Arc<str>, BuildHasherDefault<Fnv>>;

thread_local! {
    static TABLE: RefCell<Table> = RefCell::new(Table::default());
}

/// The shared `Arc<str>` for `s`.
pub fn intern(s: &str) -> Arc<str> {
    if s.len() > MAX_INTERNED_LEN {
        return s.into();
    }
    TABLE.with(|t| {
        let mut t = t.borrow_mut();
        if let Some(a) = t.get(s) {
            return a.clone();
        }
        if t.len() >= MAX_INTERNED {
            t.clear();
        }
        let a: Arc<str> = s.into();
        t.insert(a.clone());
        a
    })
}

struct InternVisitor;

impl<'de> Visitor<'de> for InternVisitor {
    type Value = Arc<str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: Error>(self, v: &str) -> Result<Arc<str>, E> {
        Ok(intern(v))
    }

    fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Arc<str>, E> {
        std::str::from_utf8(v)
            .map(intern)
            .map_err(|_| E::custom("a string that is not UTF-8"))
    }
}

/// `deserialize_with` for an `Arc<str>` field.
pub fn de_arc_str<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<str>, D::Error> {
    d.deserialize_str(InternVisitor)
}

/// Named children, as [`crate::model::Node::attrs`] holds them.
pub type Attrs = Option<Vec<(Arc<str>, crate::model::ObjAddr)>>;

/// `deserialize_with` for named children ([`Attrs`]).
pub fn de_attrs<'de, D: Deserializer<'de>>(d: D) -> Result<Attrs, D::Error> {
    use serde::Deserialize;
    #[derive(Deserialize)]
    struct Named(
        #[serde(deserialize_with = "de_arc_str")] Arc<str>,
        crate::model::ObjAddr,
    );
    let v: Option<Vec<Named>> = Option::deserialize(d)?;
    Ok(v.map(|v| v.into_iter().map(|Named(n, a)| (n, a)).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_strings_share_one_allocation() {
        let a = intern("<module>");
        let b = intern("<module>");
        assert!(Arc::ptr_eq(&a, &b));
        let long = "x".repeat(MAX_INTERNED_LEN + 1);
        assert_eq!(&*intern(&long), long.as_str());
    }

    #[test]
    fn the_table_stays_bounded() {
        for i in 0..MAX_INTERNED * 2 {
            intern(&i.to_string());
        }
        TABLE.with(|t| assert!(t.borrow().len() <= MAX_INTERNED));
    }
}
