//! Renders a recorded [`State`] as the JSON of docs/spec/values.md, reading each
//! node's `kind` as [`crate::kinds`] defines it. The test oracle applies
//! the same rules in Python, so every rule here is part of the contract.
//!
//! The heap is untrusted (it comes from a file that came from target memory):
//! missing children, cycles and malformed nodes render as text, never panic,
//! and every walk is bounded in depth and in output size.

use std::collections::HashSet;

use serde_json::{json, Map, Value};
use store::{FrameRec, ObjAddr, State, StepMeta};

use crate::kinds;

/// Containers nested deeper than this print as `...` (docs/spec/values.md).
pub const MAX_REPR_NESTING: u32 = 64;
/// Values nested this deep or less carry `attrs` (a local or global is depth 1).
pub const MAX_ATTRS_DEPTH: u32 = 3;
/// Stop producing a repr once it is this long: a heap that shares one large
/// container many times over would otherwise render to gigabytes. Well above
/// what the recorder's element limits allow for a single container.
pub const MAX_REPR_BYTES: usize = 64 << 20;

/// The state at one step as a JSON object, keys in the order of
/// docs/spec/values.md, with `return` / `exception` on those steps.
pub fn state_json(state: &State) -> Value {
    let mut out = Map::new();
    match &state.meta {
        Some(meta) => {
            if let Value::Object(m) = meta_json(meta) {
                out.extend(m);
            }
        }
        None => {
            // A state before any step: keep the shape so readers need no special case.
            for key in [
                "step", "event", "thread", "file", "function", "line", "position",
            ] {
                out.insert(key.into(), Value::Null);
            }
        }
    }
    out.insert("stack".into(), stack_json(&state.stack));
    let mut locals = Map::new();
    for (name, addr) in &state.locals {
        locals.insert(name.to_string(), value_json(state, *addr, 1));
    }
    out.insert("locals".into(), Value::Object(locals));
    let mut globals = Map::new();
    for (name, addr) in &state.globals {
        if is_dunder(name) {
            continue;
        }
        globals.insert(name.to_string(), value_json(state, *addr, 1));
    }
    out.insert("globals".into(), Value::Object(globals));
    if let Some((k, v)) = state.meta.as_ref().and_then(|m| outcome_json(state, m)) {
        out.insert(k.into(), v);
    }
    Value::Object(out)
}

/// A step's own keys, in the order of a state: `step`, `event`, `thread`,
/// `file`, `function`, `line`, `position`.
pub fn meta_json(meta: &StepMeta) -> Value {
    let position = match meta.position {
        Some(p) => {
            json!({"line": p.line, "end_line": p.end_line, "col": p.col, "end_col": p.end_col})
        }
        None => Value::Null,
    };
    json!({
        "step": meta.step.0,
        "event": meta.event.as_str(),
        "thread": meta.thread,
        "file": &*meta.file,
        "function": &*meta.function,
        "line": meta.line,
        "position": position,
    })
}

/// The stack as a state shows it, outermost first.
pub fn stack_json(stack: &[FrameRec]) -> Value {
    Value::Array(
        stack
            .iter()
            .map(|f| json!({"function": &*f.function, "file": &*f.file, "line": f.line}))
            .collect(),
    )
}

/// `("return", VALUE)` on a return step, `("exception", ...)` on an
/// exception step, else `None`.
pub fn outcome_json(state: &State, meta: &StepMeta) -> Option<(&'static str, Value)> {
    match meta.event {
        store::EventKind::Return => Some((
            "return",
            meta.value.map_or(Value::Null, |a| value_json(state, a, 1)),
        )),
        store::EventKind::Exception => Some((
            "exception",
            meta.value.map_or(Value::Null, |a| exception_json(state, a)),
        )),
        _ => None,
    }
}

/// Names left out of `globals`: those that both start and end with `__`
/// (the oracle tests `startswith("__") and endswith("__")`, so `__` is one).
pub(crate) fn is_dunder(name: &str) -> bool {
    name.starts_with("__") && name.ends_with("__")
}

/// One value: `type`, `id`, `repr`, plus `attrs` (when the node has them and
/// `depth <= 3`) and `truncated`. A local or global is depth 1.
pub fn value_json(state: &State, addr: ObjAddr, depth: u32) -> Value {
    let mut out = Map::new();
    let Some(node) = state.heap.get(&addr) else {
        out.insert("type".into(), json!("<missing>"));
        out.insert("id".into(), json!(hex(addr)));
        out.insert("repr".into(), json!(missing(addr)));
        return Value::Object(out);
    };
    out.insert("type".into(), json!(&*node.type_name));
    out.insert("id".into(), json!(hex(addr)));
    out.insert("repr".into(), json!(repr(state, addr)));
    if let Some(attrs) = &node.attrs {
        if depth <= MAX_ATTRS_DEPTH {
            let mut m = Map::new();
            for (name, child) in attrs {
                m.insert(name.to_string(), value_json(state, *child, depth + 1));
            }
            out.insert("attrs".into(), Value::Object(m));
        }
    }
    if node.truncated {
        out.insert("truncated".into(), json!(true));
    }
    Value::Object(out)
}

/// `{"type": ..., "repr": "Name(args)"}` for an exception object, whose
/// `items[0]` is its `args` tuple (kinds::OPAQUE).
pub fn exception_json(state: &State, addr: ObjAddr) -> Value {
    let Some(node) = state.heap.get(&addr) else {
        return json!({"type": "<missing>", "repr": missing(addr)});
    };
    let type_name: &str = &node.type_name;
    let name = type_name.rsplit('.').next().unwrap_or(type_name);
    let args = node
        .items
        .first()
        .and_then(|a| state.heap.get(a).map(|n| (*a, n)));
    let text = match args {
        Some((_, args_node))
            if args_node.kind == kinds::TUPLE
                && args_node.items.len() == 1
                && !args_node.truncated =>
        {
            format!("{name}({})", repr(state, args_node.items[0]))
        }
        Some((a, _)) => format!("{name}{}", repr(state, a)),
        None => format!("{name}()"),
    };
    json!({"type": type_name, "repr": text})
}

/// The repr of the object at `addr` (docs/spec/values.md).
pub fn repr(state: &State, addr: ObjAddr) -> String {
    let mut r = Renderer {
        state,
        active: HashSet::new(),
        out: String::new(),
    };
    r.write(addr, 1);
    r.out
}

/// `0x7f...`, as Python's `hex(id(x))`.
fn hex(addr: ObjAddr) -> String {
    format!("{:#x}", addr.0)
}

fn missing(addr: ObjAddr) -> String {
    format!("<missing object at {:#x}>", addr.0)
}

/// One repr in progress: the containers being rendered further up (for
/// CPython's recursion markers) and the text so far.
struct Renderer<'a> {
    state: &'a State,
    active: HashSet<ObjAddr>,
    out: String,
}

impl Renderer<'_> {
    fn full(&self) -> bool {
        self.out.len() >= MAX_REPR_BYTES
    }

    /// Render the object at `addr`; `depth` is its container nesting (the
    /// top container is 1).
    fn write(&mut self, addr: ObjAddr, depth: u32) {
        if self.full() {
            return;
        }
        let state = self.state;
        let Some(node) = state.heap.get(&addr) else {
            self.out.push_str(&missing(addr));
            return;
        };
        let (open, close, recursed, empty) = match node.kind {
            kinds::ATOM => {
                self.out.push_str(&node.text);
                return;
            }
            kinds::UNREADABLE => {
                self.out.push_str(&format!(
                    "<unreadable {} object at {:#x}>",
                    node.type_name, addr.0
                ));
                return;
            }
            kinds::LIST => ("[", "]", "[...]", "[]"),
            kinds::TUPLE => ("(", ")", "(...)", "()"),
            kinds::DICT => ("{", "}", "{...}", "{}"),
            kinds::SET => ("{", "}", "set(...)", "set()"),
            kinds::FROZENSET => ("frozenset({", "})", "frozenset(...)", "frozenset()"),
            // OPAQUE and any tag this renderer does not know: object.__repr__.
            _ => {
                self.out
                    .push_str(&format!("<{} object at {:#x}>", node.type_name, addr.0));
                return;
            }
        };
        // The order of these checks is shared with the oracle
        // (tests/oracle/hindsight_render.py): depth, then empty, then recursion.
        if depth > MAX_REPR_NESTING {
            self.out.push_str("...");
            return;
        }
        if node.items.is_empty() && !node.truncated {
            self.out.push_str(empty);
            return;
        }
        if self.active.contains(&addr) {
            self.out.push_str(recursed);
            return;
        }
        self.active.insert(addr);
        self.out.push_str(open);
        let mut first = true;
        if node.kind == kinds::DICT {
            for pair in node.items.chunks_exact(2) {
                if self.full() {
                    break;
                }
                if !first {
                    self.out.push_str(", ");
                }
                first = false;
                self.write(pair[0], depth + 1);
                self.out.push_str(": ");
                self.write(pair[1], depth + 1);
            }
        } else {
            for item in &node.items {
                if self.full() {
                    break;
                }
                if !first {
                    self.out.push_str(", ");
                }
                first = false;
                self.write(*item, depth + 1);
            }
        }
        if node.truncated || self.full() {
            if !first {
                self.out.push_str(", ");
            }
            self.out.push_str("...");
        } else if node.kind == kinds::TUPLE && node.items.len() == 1 {
            self.out.push(',');
        }
        self.out.push_str(close);
        self.active.remove(&addr);
    }
}

#[cfg(test)]
mod tests;
