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

/// A word-at-a-time multiply-fold hash: the strings are short and come
/// from our own file, so a fast hash beats SipHash's flooding resistance
/// here (the table is bounded). Eight bytes a multiply: FNV's
/// byte-at-a-time chain over a file path cost a tenth of a query's replay.
#[derive(Default)]
struct Fold(u64);

impl Fold {
    fn word(&mut self, w: u64) {
        let m = u128::from(self.0 ^ w ^ 0xa076_1d64_78bd_642f) * 0xe703_7ed1_a0b4_28db;
        self.0 = (m as u64) ^ ((m >> 64) as u64);
    }
}

impl Hasher for Fold {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.word(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        self.word(u64::from_le_bytes(last) ^ ((rest.len() as u64) << 59));
    }
}

type Table = HashSet<Arc<str>, BuildHasherDefault<Fold>>;

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
        crate::bounds::check_text(v.len())?;
        Ok(intern(v))
    }

    fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Arc<str>, E> {
        crate::bounds::check_text(v.len())?;
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

/// `deserialize_with` for named children ([`Attrs`]): at most
/// [`crate::bounds::MAX_ITEMS`] of them, each name charged as it is read.
pub fn de_attrs<'de, D: Deserializer<'de>>(d: D) -> Result<Attrs, D::Error> {
    use crate::bounds::MAX_ITEMS;
    use serde::de::SeqAccess;
    use serde::Deserialize;
    #[derive(Deserialize)]
    struct Named(
        #[serde(deserialize_with = "de_arc_str")] Arc<str>,
        crate::model::ObjAddr,
    );
    struct List;
    impl<'de> Visitor<'de> for List {
        type Value = Vec<(Arc<str>, crate::model::ObjAddr)>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "a list of at most {MAX_ITEMS} named children")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
            while let Some(Named(n, a)) = seq.next_element::<Named>()? {
                if out.len() >= MAX_ITEMS as usize {
                    return Err(A::Error::custom(format!(
                        "more than {MAX_ITEMS} named children"
                    )));
                }
                out.push((n, a));
            }
            Ok(out)
        }
    }
    struct Maybe;
    impl<'de> Visitor<'de> for Maybe {
        type Value = Attrs;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("nil or a list of named children")
        }
        fn visit_none<E: Error>(self) -> Result<Attrs, E> {
            Ok(None)
        }
        fn visit_unit<E: Error>(self) -> Result<Attrs, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Attrs, D2::Error> {
            d.deserialize_seq(List).map(Some)
        }
    }
    d.deserialize_option(Maybe)
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
