//! A recorded value in Python Tutor's encoding (its `pg_encoder.py`):
//! `None`, `bool`, `int`, `float` and `str` inline as JSON values, every
//! other object as `["REF", id]` to an entry of the step's `heap`:
//! `["LIST", ...]`, `["TUPLE", ...]`, `["SET", ...]`, `["DICT", [k, v], ...]`,
//! `["INSTANCE", class, [attr, value], ...]`, `["CLASS", name, []]`,
//! `["FUNCTION", name, null]`, `["module", name]`, else `[type, repr]`.
//!
//! The id of an object is a small number given to its address the first
//! time the export meets it (as Python Tutor numbers `id()`s), the same for
//! the whole export: two names bound to one object refer to one heap entry.

use std::collections::HashMap;

use serde_json::{json, Map, Value};
use store::{ObjAddr, State};
use values::{kinds, render};

use super::pyrepr::{float_value, unrepr_str};

/// Containers nested deeper than this are shown as `[type, "..."]`.
const MAX_DEPTH: u32 = render::MAX_REPR_NESTING;
/// Heap entries of one step past which objects are shown as `[type, "..."]`.
const MAX_HEAP_ENTRIES: usize = 100_000;

/// The object ids of one export, kept across its steps.
#[derive(Debug, Default)]
pub struct Encoder {
    ids: HashMap<ObjAddr, u64>,
}

impl Encoder {
    /// The small id of the object at `addr` (1, 2, 3, ... by first meeting).
    pub fn id(&mut self, addr: ObjAddr) -> u64 {
        let next = self.ids.len() as u64 + 1;
        *self.ids.entry(addr).or_insert(next)
    }

    /// The encoding of the object at `addr` in `state`; objects it refers
    /// to are added to `heap` (the step's).
    pub fn encode(&mut self, state: &State, addr: ObjAddr, heap: &mut Map<String, Value>) -> Value {
        self.value(state, addr, heap, 1)
    }

    fn value(
        &mut self,
        state: &State,
        addr: ObjAddr,
        heap: &mut Map<String, Value>,
        depth: u32,
    ) -> Value {
        let Some(node) = state.heap.get(&addr) else {
            return self.leaf(
                addr,
                heap,
                json!(["missing", format!("<missing object at {:#x}>", addr.0)]),
            );
        };
        if node.kind == kinds::ATOM {
            if let Some(v) = primitive(&node.type_name, &node.text, node.truncated) {
                return v;
            }
        }
        let id = self.id(addr);
        let key = id.to_string();
        let reference = json!(["REF", id]);
        if heap.contains_key(&key) {
            return reference;
        }
        if depth > MAX_DEPTH || heap.len() >= MAX_HEAP_ENTRIES {
            heap.insert(key, json!([&*node.type_name, "..."]));
            return reference;
        }
        // In the heap before its elements, as Python Tutor does: a
        // container that holds itself refers to its own entry.
        heap.insert(key.clone(), Value::Null);
        let encoded = self.compound(state, addr, heap, depth);
        heap.insert(key, encoded);
        reference
    }

    /// The heap entry of the object at `addr`, which is not a primitive.
    fn compound(
        &mut self,
        state: &State,
        addr: ObjAddr,
        heap: &mut Map<String, Value>,
        depth: u32,
    ) -> Value {
        let Some(node) = state.heap.get(&addr) else {
            return Value::Null;
        };
        let per = if node.kind == kinds::DICT { 2 } else { 1 };
        let items = &node.items[..node.items.len().min(render::MAX_ELEMENTS * per)];
        let tag = match node.kind {
            kinds::LIST => Some("LIST"),
            kinds::TUPLE => Some("TUPLE"),
            kinds::SET => Some("SET"),
            _ => None,
        };
        if let Some(tag) = tag {
            let mut out = vec![json!(tag)];
            for a in items {
                out.push(self.value(state, *a, heap, depth + 1));
            }
            return Value::Array(out);
        }
        if node.kind == kinds::DICT {
            let mut out = vec![json!("DICT")];
            for pair in items.chunks_exact(2) {
                let k = self.value(state, pair[0], heap, depth + 1);
                let v = self.value(state, pair[1], heap, depth + 1);
                out.push(json!([k, v]));
            }
            return Value::Array(out);
        }
        let name = short_name(&node.type_name);
        if node.kind == kinds::OPAQUE {
            if let Some(attrs) = &node.attrs {
                let mut sorted: Vec<_> = attrs.iter().collect();
                sorted.sort_by(|a, b| a.0.cmp(&b.0));
                let mut out = vec![json!("INSTANCE"), json!(name)];
                for (attr, a) in sorted.into_iter().take(render::MAX_ELEMENTS) {
                    out.push(json!([&**attr, self.value(state, *a, heap, depth + 1)]));
                }
                return Value::Array(out);
            }
            if !node.text.is_empty() {
                return match &*node.type_name {
                    "function" => json!(["FUNCTION", short_name(&node.text), null]),
                    "module" => json!(["module", &node.text]),
                    _ => json!(["CLASS", short_name(&node.text), []]),
                };
            }
        }
        // Anything else (frozenset, bytes, complex, range, objects of C
        // types, unreadable ones): its type and repr, as Python Tutor shows
        // the objects it does not decode.
        let mut budget = render::Budget::of(64 * 1024);
        json!([
            &*node.type_name,
            render::repr_in(state, addr, &mut budget).0
        ])
    }

    /// A heap entry of its own for a value that is only text.
    fn leaf(&mut self, addr: ObjAddr, heap: &mut Map<String, Value>, entry: Value) -> Value {
        let id = self.id(addr);
        heap.insert(id.to_string(), entry);
        json!(["REF", id])
    }
}

/// The inline JSON of a primitive atom (`None`, `bool`, `int` within what
/// JSON readers keep exactly, `float`, `str`), else `None`.
fn primitive(type_name: &str, text: &str, truncated: bool) -> Option<Value> {
    if truncated {
        return None;
    }
    match type_name {
        "NoneType" => Some(Value::Null),
        "bool" => match text {
            "True" => Some(json!(true)),
            "False" => Some(json!(false)),
            _ => None,
        },
        // Beyond 2^53 a JavaScript reader would round it: a heap entry
        // with its digits instead.
        "int" => text
            .parse::<i64>()
            .ok()
            .filter(|n| n.unsigned_abs() <= 1 << 53)
            .map(|n| json!(n)),
        "float" => float_value(text),
        "str" => unrepr_str(text).map(Value::String),
        _ => None,
    }
}

/// The last part of a dotted name: a class's `__name__` from
/// `module.Qualname`, a function's from its qualname.
pub fn short_name(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}
