//! The rendering tags the recorder puts in `store::Node::kind`, and what each
//! one means for the node's `text`, `items` and `attrs`. The decoder writes
//! them; `render` reads them.

/// Any other object: repr is `<{type_name} object at 0x{addr:x}>`.
/// `attrs` is `Some` for instances of classes defined in Python. For
/// exception instances `items[0]` is the `args` tuple (when readable).
/// `text` is empty, or, for the text form only (the JSON repr above does
/// not use it), the name CPython's repr shows of a function (type
/// `function`: its qualname), a module (type `module`: its name) or a
/// class (any other type, `type` or a metaclass: `module.qualname`, or
/// `tp_name` for a static type).
pub const OPAQUE: u8 = 0;
/// An object whose repr is fully known when it is read (None, bool, int,
/// float, complex, str, bytes, bytearray, range): `text` is the repr.
pub const ATOM: u8 = 1;
/// `list`: `items` are the elements.
pub const LIST: u8 = 2;
/// `tuple`: `items` are the elements.
pub const TUPLE: u8 = 3;
/// `dict`: `items` are key, value, key, value, ... in iteration order.
pub const DICT: u8 = 4;
/// `set`: `items` are the elements in iteration order.
pub const SET: u8 = 5;
/// `frozenset`: `items` are the elements in iteration order.
pub const FROZENSET: u8 = 6;
/// The object could not be read consistently: repr is
/// `<unreadable {type_name} object at 0x{addr:x}>` and `text` says why.
pub const UNREADABLE: u8 = 7;

/// An [`UNREADABLE`] node of type `type_name`, saying why in its text.
pub fn unreadable(type_name: &str, why: &str) -> store::Node {
    store::Node {
        type_name: std::sync::Arc::from(type_name),
        kind: UNREADABLE,
        text: why.to_string(),
        items: Vec::new(),
        attrs: None,
        truncated: false,
    }
}
