//! Objects in the target's memory: bounded field readers (`read`), the
//! small immutable objects everything is built from (`atoms`) and their
//! Python reprs (`text`), type objects (`types`), batched reads of many
//! objects at once (`window`), and the [`Walker`] that turns every object
//! reachable from a set of roots into `store::Node`s.

pub(crate) mod atoms;
mod opaque;
pub(crate) mod read;
pub(crate) mod text;
pub(crate) mod types;
mod walker;
pub(crate) mod window;

pub(crate) use atoms::{bytes_data, read_name, tuple_items, CachedName};
pub(crate) use types::TypeInfo;
pub(crate) use values::kinds::unreadable;
pub use walker::Limits;
pub(crate) use walker::{attr_child_depth, decode_one, Walker};
