//! The objects of a state as the page draws them (as Python Tutor does):
//! every object reachable from the locals, the globals and the returned
//! value that is not an atom, once each, by id, with its elements as cells
//! that hold either an atom's repr or a reference to another object. The
//! walk is bounded in objects and in elements per object, so a state of any
//! size draws in bounded time.

use std::collections::{HashMap, VecDeque};

use serde_json::{json, Map, Value};
use store::{EventKind, ObjAddr, State};
use values::kinds;
use values::render::{repr_in, Budget};

/// Objects drawn at most; references to the others show a short repr.
pub const MAX_OBJECTS: usize = 300;
/// Elements (dict entries, attributes) shown per object at most.
pub const MAX_CELLS: usize = 100;
/// Bytes of an atom's repr shown in a cell at most.
pub const MAX_CELL_TEXT: usize = 200;

/// The objects drawn for `state`: `{id: object}`, in the order they were
/// reached (bindings in order, then breadth first).
pub fn objects(state: &State) -> Value {
    let mut roots: Vec<ObjAddr> = state.locals.iter().map(|(_, a)| *a).collect();
    roots.extend(
        state
            .globals
            .iter()
            .filter(|(n, _)| !(n.starts_with("__") && n.ends_with("__")))
            .map(|(_, a)| *a),
    );
    if let Some(m) = &state.meta {
        if m.event == EventKind::Return {
            roots.extend(m.value);
        }
    }
    let mut order: Vec<ObjAddr> = Vec::new();
    let mut index: HashMap<ObjAddr, usize> = HashMap::new();
    let mut todo: VecDeque<ObjAddr> = roots.into_iter().collect();
    while let Some(a) = todo.pop_front() {
        if order.len() >= MAX_OBJECTS || index.contains_key(&a) || !drawn(state, a) {
            continue;
        }
        index.insert(a, order.len());
        order.push(a);
        if let Some(n) = state.heap.get(&a) {
            todo.extend(n.items.iter().take(2 * MAX_CELLS).copied());
            todo.extend(n.attrs.iter().flatten().take(MAX_CELLS).map(|(_, v)| *v));
        }
    }
    let mut out = Map::new();
    for a in &order {
        out.insert(hex(*a), object(state, *a, &index));
    }
    Value::Object(out)
}

/// Whether the object at `a` is drawn as a box (not an atom, not missing).
fn drawn(state: &State, a: ObjAddr) -> bool {
    state.heap.get(&a).is_some_and(|n| n.kind != kinds::ATOM)
}

fn hex(a: ObjAddr) -> String {
    format!("{:#x}", a.0)
}

/// One object: `type`, `kind`, `label`, and its cells.
fn object(state: &State, a: ObjAddr, index: &HashMap<ObjAddr, usize>) -> Value {
    let Some(n) = state.heap.get(&a) else {
        return Value::Null;
    };
    let kind = match n.kind {
        kinds::LIST => "list",
        kinds::TUPLE => "tuple",
        kinds::DICT => "dict",
        kinds::SET => "set",
        kinds::FROZENSET => "frozenset",
        kinds::UNREADABLE => "unreadable",
        _ if n.attrs.is_some() => "instance",
        _ => "object",
    };
    let mut o = Map::new();
    o.insert("type".into(), json!(&*n.type_name));
    o.insert("kind".into(), json!(kind));
    o.insert("label".into(), json!(label(state, a)));
    let cell = |c: ObjAddr| cell(state, c, index);
    match n.kind {
        kinds::DICT => {
            let entries: Vec<Value> = n
                .items
                .chunks(2)
                .take(MAX_CELLS)
                .map(|kv| json!([cell(kv[0]), kv.get(1).map_or(Value::Null, |v| cell(*v))]))
                .collect();
            o.insert("entries".into(), Value::Array(entries));
            o.insert(
                "more".into(),
                json!((n.items.len() / 2).saturating_sub(MAX_CELLS)),
            );
        }
        kinds::LIST | kinds::TUPLE | kinds::SET | kinds::FROZENSET => {
            let items: Vec<Value> = n.items.iter().take(MAX_CELLS).map(|c| cell(*c)).collect();
            o.insert("items".into(), Value::Array(items));
            o.insert(
                "more".into(),
                json!(n.items.len().saturating_sub(MAX_CELLS)),
            );
        }
        _ => {}
    }
    if let Some(attrs) = &n.attrs {
        let attrs: Vec<Value> = attrs
            .iter()
            .take(MAX_CELLS)
            .map(|(name, v)| json!([&**name, cell(*v)]))
            .collect();
        o.insert("attrs".into(), Value::Array(attrs));
    }
    if n.truncated {
        o.insert("truncated".into(), json!(true));
    }
    Value::Object(o)
}

/// A cell: `{"ref": id}` for a drawn object, else `{"repr": text, "type": t}`.
fn cell(state: &State, a: ObjAddr, index: &HashMap<ObjAddr, usize>) -> Value {
    if index.contains_key(&a) {
        return json!({ "ref": hex(a) });
    }
    let (text, cut) = repr_in(state, a, &mut Budget::of(MAX_CELL_TEXT));
    let ty = state.heap.get(&a).map_or("<missing>", |n| &*n.type_name);
    let mut c = json!({ "repr": text, "type": ty });
    if cut {
        c["cut"] = json!(true);
    }
    c
}

/// The heading of an object's box: its type, or for a function, class or
/// module what CPython's repr names (`function bubble`).
fn label(state: &State, a: ObjAddr) -> String {
    let Some(n) = state.heap.get(&a) else {
        return String::new();
    };
    let ty: &str = &n.type_name;
    if n.kind != kinds::OPAQUE || n.text.is_empty() {
        return ty.to_string();
    }
    let name: String = n.text.chars().take(MAX_CELL_TEXT).collect();
    match ty {
        "function" => format!("function {name}"),
        "module" => format!("module {name}"),
        _ => format!("class {name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use store::Node;

    fn node(kind: u8, text: &str, items: &[u64]) -> Node {
        Node {
            type_name: Arc::from(if kind == kinds::ATOM { "int" } else { "list" }),
            kind,
            text: text.into(),
            items: items.iter().map(|a| ObjAddr(*a)).collect(),
            attrs: None,
            truncated: false,
        }
    }

    #[test]
    fn shared_objects_are_drawn_once() {
        let mut s = State::default();
        s.heap.insert(ObjAddr(1), node(kinds::LIST, "", &[3, 2]));
        s.heap.insert(ObjAddr(2), node(kinds::LIST, "", &[1]));
        s.heap.insert(ObjAddr(3), node(kinds::ATOM, "7", &[]));
        s.locals = vec![("a".into(), ObjAddr(1)), ("b".into(), ObjAddr(1))];
        s.globals = vec![("n".into(), ObjAddr(3)), ("c".into(), ObjAddr(2))];
        let o = objects(&s);
        let o = o.as_object().unwrap();
        assert_eq!(o.keys().collect::<Vec<_>>(), ["0x1", "0x2"]);
        assert_eq!(
            o["0x1"]["items"],
            json!([{"repr": "7", "type": "int"}, {"ref": "0x2"}])
        );
        assert_eq!(
            o["0x2"]["items"],
            json!([{"ref": "0x1"}]),
            "a cycle is a reference"
        );
    }

    #[test]
    fn the_walk_is_bounded() {
        let mut s = State::default();
        let n = 10 * MAX_OBJECTS as u64;
        for i in 1..n {
            s.heap.insert(ObjAddr(i), node(kinds::LIST, "", &[i + 1]));
        }
        s.locals = vec![("x".into(), ObjAddr(1))];
        let o = objects(&s);
        assert_eq!(o.as_object().unwrap().len(), MAX_OBJECTS);
        let last = &o[format!("{:#x}", MAX_OBJECTS)]["items"][0];
        assert!(last.get("repr").is_some(), "{last}");
    }
}
