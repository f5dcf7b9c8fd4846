//! Renders a recorded [`State`] as the JSON of docs/spec/values.md, reading each
//! node's `kind` as [`crate::kinds`] defines it. The test oracle applies
//! the same rules in Python, so every rule here is part of the contract.
//!
//! The heap is untrusted (it comes from a file that came from target memory):
//! missing children, cycles and malformed nodes render as text, never panic,
//! and every walk is bounded in depth, in elements per container and in
//! output: the reprs of one state share [`MAX_STATE_REPR_BYTES`], so a heap
//! that shares one large container many times over (a thousand references
//! to a list of a thousand, nested) renders in bounded time and size.

use std::collections::HashSet;

use serde_json::{json, Map, Value};
use store::{FrameRec, ObjAddr, State, StepMeta};

use crate::kinds;

/// Containers nested deeper than this print as `...` (docs/spec/values.md).
pub const MAX_REPR_NESTING: u32 = 64;
/// Values nested this deep or less carry `attrs` (a local or global is depth 1).
pub const MAX_ATTRS_DEPTH: u32 = 3;
/// Containers show at most this many elements (docs/spec/values.md): the
/// recorder keeps no more, and a file that holds more is cut here too.
pub const MAX_ELEMENTS: usize = 10_000;
/// The reprs (and attribute values) of one state together stop at this
/// many bytes: past it, a repr ends in `...` and its value carries
/// `"truncated": true`. Sixteen times a `str` at the recorder's limit.
pub const MAX_STATE_REPR_BYTES: usize = 16 << 20;

/// What is left of one state's repr budget ([`MAX_STATE_REPR_BYTES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    left: usize,
}

impl Budget {
    /// The budget of one state.
    pub fn new() -> Budget {
        Budget {
            left: MAX_STATE_REPR_BYTES,
        }
    }

    /// A budget of `bytes` (for tests and callers that show less).
    pub fn of(bytes: usize) -> Budget {
        Budget { left: bytes }
    }

    /// Bytes still to spend.
    pub fn left(&self) -> usize {
        self.left
    }

    /// Charge `bytes` to it.
    pub fn spend(&mut self, bytes: usize) {
        self.left = self.left.saturating_sub(bytes);
    }
}

impl Default for Budget {
    fn default() -> Budget {
        Budget::new()
    }
}

/// The state at one step as a JSON object, keys in the order of
/// docs/spec/values.md, with `return` / `exception` on those steps.
pub fn state_json(state: &State) -> Value {
    let mut budget = Budget::new();
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
        locals.insert(
            name.to_string(),
            value_json_in(state, *addr, 1, &mut budget),
        );
    }
    out.insert("locals".into(), Value::Object(locals));
    let mut globals = Map::new();
    for (name, addr) in &state.globals {
        if is_dunder(name) {
            continue;
        }
        globals.insert(
            name.to_string(),
            value_json_in(state, *addr, 1, &mut budget),
        );
    }
    out.insert("globals".into(), Value::Object(globals));
    if let Some((k, v)) = state
        .meta
        .as_ref()
        .and_then(|m| outcome_json_in(state, m, &mut budget))
    {
        out.insert(k.into(), v);
    }
    Value::Object(out)
}

/// A step's own keys, in the order of a state: `step`, `event`, `thread`,
/// `file`, `function`, `line`, `position`, and on an `opcode` step
/// `instruction` (`{"name", "offset"}`).
pub fn meta_json(meta: &StepMeta) -> Value {
    let position = match meta.position {
        Some(p) => {
            json!({"line": p.line, "end_line": p.end_line, "col": p.col, "end_col": p.end_col})
        }
        None => Value::Null,
    };
    let mut out = json!({
        "step": meta.step.0,
        "event": meta.event.as_str(),
        "thread": meta.thread,
        "file": &*meta.file,
        "function": &*meta.function,
        "line": line_json(meta.event, meta.line),
        "position": position,
    });
    if let (Some(i), Value::Object(m)) = (&meta.instruction, &mut out) {
        m.insert(
            "instruction".into(),
            json!({"name": &*i.name, "offset": i.offset}),
        );
    }
    out
}

/// A step's `line`: `null` for an opcode step at an instruction without a
/// line number (code the compiler adds, such as the cleanup of `except E
/// as e`, where `f_lineno` is `None`), recorded as line 0.
pub fn line_json(event: store::EventKind, line: u32) -> Value {
    if event == store::EventKind::Opcode && line == 0 {
        Value::Null
    } else {
        json!(line)
    }
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
    outcome_json_in(state, meta, &mut Budget::new())
}

/// [`outcome_json`] charging `budget`.
fn outcome_json_in(
    state: &State,
    meta: &StepMeta,
    budget: &mut Budget,
) -> Option<(&'static str, Value)> {
    match meta.event {
        store::EventKind::Return => Some((
            "return",
            meta.value
                .map_or(Value::Null, |a| value_json_in(state, a, 1, budget)),
        )),
        store::EventKind::Exception => Some((
            "exception",
            meta.value
                .map_or(Value::Null, |a| exception_json_in(state, a, budget)),
        )),
        _ => None,
    }
}

/// Names left out of `globals`: those that both start and end with `__`
/// (the oracle tests `startswith("__") and endswith("__")`, so `__` is one).
pub fn is_dunder(name: &str) -> bool {
    name.starts_with("__") && name.ends_with("__")
}

/// One value: `type`, `id`, `repr`, plus `attrs` (when the node has them and
/// `depth <= 3`) and `truncated`. A local or global is depth 1.
pub fn value_json(state: &State, addr: ObjAddr, depth: u32) -> Value {
    value_json_in(state, addr, depth, &mut Budget::new())
}

/// [`value_json`], spending the repr budget `budget` (shared by the values
/// of one state).
pub fn value_json_in(state: &State, addr: ObjAddr, depth: u32, budget: &mut Budget) -> Value {
    let mut out = Map::new();
    let Some(node) = state.heap.get(&addr) else {
        out.insert("type".into(), json!("<missing>"));
        out.insert("id".into(), json!(hex(addr)));
        out.insert("repr".into(), json!(missing(addr)));
        return Value::Object(out);
    };
    out.insert("type".into(), json!(&*node.type_name));
    out.insert("id".into(), json!(hex(addr)));
    let (text, cut) = repr_in(state, addr, budget);
    out.insert("repr".into(), json!(text));
    let mut truncated = node.truncated || cut;
    if let Some(attrs) = &node.attrs {
        if depth <= MAX_ATTRS_DEPTH {
            let mut m = Map::new();
            for (name, child) in attrs {
                // Each attribute shows its name, type and id besides its
                // repr: they are paid for too, or a million attributes
                // would render in full after the budget ran out.
                if budget.left() == 0 {
                    truncated = true;
                    break;
                }
                budget.spend(name.len() + 32);
                m.insert(
                    name.to_string(),
                    value_json_in(state, *child, depth + 1, budget),
                );
            }
            out.insert("attrs".into(), Value::Object(m));
        }
    }
    if truncated {
        out.insert("truncated".into(), json!(true));
    }
    Value::Object(out)
}

/// `{"type": ..., "repr": "Name(args)"}` for an exception object, whose
/// `items[0]` is its `args` tuple (kinds::OPAQUE).
pub fn exception_json(state: &State, addr: ObjAddr) -> Value {
    exception_json_in(state, addr, &mut Budget::new())
}

/// [`exception_json`], spending the repr budget `budget`.
pub fn exception_json_in(state: &State, addr: ObjAddr, budget: &mut Budget) -> Value {
    let (type_name, text) = exception_repr(state, addr, budget, false);
    json!({"type": type_name, "repr": text})
}

/// The repr of an exception object as the text form shows it (its
/// arguments' named objects with their names, [`text_repr_in`]).
pub fn exception_text(state: &State, addr: ObjAddr) -> String {
    exception_repr(state, addr, &mut Budget::new(), true).1
}

/// An exception's type and `Name(args)` repr, in the JSON form's style or
/// the text form's (`named`).
fn exception_repr(
    state: &State,
    addr: ObjAddr,
    budget: &mut Budget,
    named: bool,
) -> (String, String) {
    let Some(node) = state.heap.get(&addr) else {
        return ("<missing>".into(), missing(addr));
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
            format!(
                "{name}({})",
                styled_repr(state, args_node.items[0], budget, named).0
            )
        }
        Some((a, _)) => format!("{name}{}", styled_repr(state, a, budget, named).0),
        None => format!("{name}()"),
    };
    (type_name.to_string(), text)
}

/// The repr of the object at `addr` (docs/spec/values.md), within a
/// budget of its own.
pub fn repr(state: &State, addr: ObjAddr) -> String {
    repr_in(state, addr, &mut Budget::new()).0
}

/// The repr of the object at `addr`, spending `budget`, and whether it was
/// cut because the budget ran out (it then ends in `...`).
pub fn repr_in(state: &State, addr: ObjAddr, budget: &mut Budget) -> (String, bool) {
    styled_repr(state, addr, budget, false)
}

/// The repr of the object at `addr` as the text form shows it: the JSON
/// form's ([`repr_in`]), except that a function, class or module whose
/// node carries its name shows it as CPython's own repr does, wherever it
/// lies in the value (`[<function bubble at 0x...>]`; docs/spec/cli.md).
pub fn text_repr_in(state: &State, addr: ObjAddr, budget: &mut Budget) -> (String, bool) {
    styled_repr(state, addr, budget, true)
}

/// CPython's repr of a named object (an [`kinds::OPAQUE`] node with a
/// `text`): `<function f at 0x..>`, `<module 'os'>`, else a class (of
/// `type` or of a metaclass: the only other OPAQUE nodes the recorder
/// names) `<class 'app.P'>`.
pub fn named_repr(type_name: &str, name: &str, addr: ObjAddr) -> String {
    match type_name {
        "function" => format!("<function {name} at {:#x}>", addr.0),
        "module" => format!("<module '{name}'>"),
        _ => format!("<class '{name}'>"),
    }
}

fn styled_repr(state: &State, addr: ObjAddr, budget: &mut Budget, named: bool) -> (String, bool) {
    let mut r = Renderer {
        state,
        active: HashSet::new(),
        out: String::new(),
        limit: budget.left(),
        cut: false,
        named,
    };
    r.write(addr, 1);
    if r.out.is_empty() && r.cut {
        // Nothing was left for it: the repr is the mark of a cut alone.
        r.out.push_str("...");
    }
    budget.spend(r.out.len());
    (r.out, r.cut)
}

/// `0x7f...`, as Python's `hex(id(x))`.
fn hex(addr: ObjAddr) -> String {
    format!("{:#x}", addr.0)
}

fn missing(addr: ObjAddr) -> String {
    format!("<missing object at {:#x}>", addr.0)
}

/// One repr in progress: the containers being rendered further up (for
/// CPython's recursion markers), the text so far, and where it must stop.
struct Renderer<'a> {
    state: &'a State,
    active: HashSet<ObjAddr>,
    out: String,
    /// The budget left when this repr began.
    limit: usize,
    /// The budget ran out: the text ends in `...` where it was cut.
    cut: bool,
    /// The text form: named objects show their names ([`named_repr`]).
    named: bool,
}

impl Renderer<'_> {
    fn full(&self) -> bool {
        self.out.len() >= self.limit
    }

    /// Render the object at `addr`; `depth` is its container nesting (the
    /// top container is 1).
    fn write(&mut self, addr: ObjAddr, depth: u32) {
        if self.full() {
            self.cut = true;
            return;
        }
        let state = self.state;
        let Some(node) = state.heap.get(&addr) else {
            self.out.push_str(&missing(addr));
            return;
        };
        let (open, close, recursed, empty) = match node.kind {
            kinds::ATOM => {
                let room = self.limit.saturating_sub(self.out.len());
                if node.text.len() <= room {
                    self.out.push_str(&node.text);
                } else {
                    // Cut at a character boundary, as a `str` over the
                    // recorder's limit is: the text, then `...`.
                    let mut end = room;
                    while !node.text.is_char_boundary(end) {
                        end -= 1;
                    }
                    self.out.push_str(&node.text[..end]);
                    self.out.push_str("...");
                    self.cut = true;
                }
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
            kinds::OPAQUE if self.named && !node.text.is_empty() => {
                self.out
                    .push_str(&named_repr(&node.type_name, &node.text, addr));
                return;
            }
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
        // More elements than a recorder keeps: cut as the recorder cuts.
        let per = if node.kind == kinds::DICT { 2 } else { 1 };
        let shown = &node.items[..node.items.len().min(MAX_ELEMENTS * per)];
        let over = shown.len() < node.items.len();
        if node.kind == kinds::DICT {
            for pair in shown.chunks_exact(2) {
                if self.full() {
                    self.cut = true;
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
            for item in shown {
                if self.full() {
                    self.cut = true;
                    break;
                }
                if !first {
                    self.out.push_str(", ");
                }
                first = false;
                self.write(*item, depth + 1);
            }
        }
        if over || self.full() {
            self.cut = true;
        }
        if node.truncated || over || self.full() {
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
