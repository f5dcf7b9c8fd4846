//! What the client sees at a stop: the frames, their scopes and the
//! variables inside them, each expandable object by a `variablesReference`
//! valid until the next motion.
//!
//! A recorded state holds the names of the frame that ran its step only.
//! An outer frame's names are those of its own last step before this one
//! (when it made the call in progress), read from the state at that step:
//! that frame's view. A frame that took no step (code that is not
//! recorded) shows no names.

use std::collections::HashMap;

use serde_json::{json, Value};
use store::{Node, ObjAddr, Reader, State, Step, StoreError};
use values::{kinds, render};

use crate::travel;

/// A value's repr shown to the client is cut at this many bytes.
const MAX_VALUE_BYTES: usize = 4096;
/// References handed out at one stop, at most (past it, values do not expand).
const MAX_REFS: usize = 1_000_000;

/// What a `variablesReference` stands for.
#[derive(Debug, Clone)]
enum Target {
    /// A frame's locals or globals, in view `view`.
    Scope { view: usize, globals: bool },
    /// An object's items or attributes, in view `view`; `eval` is the
    /// expression that names it, when one does.
    Object {
        view: usize,
        addr: ObjAddr,
        eval: Option<String>,
    },
    /// Nothing (a frame whose names are not known).
    Empty,
}

/// The program stopped at one step.
pub struct Stop {
    /// The step.
    pub step: u64,
    /// The state after it (view 0).
    pub state: State,
    /// The states frames' names are read from; 0 is `state`.
    views: Vec<State>,
    /// The view of each frame, by its index from the outermost (`None`:
    /// its names are not known).
    frame_views: HashMap<usize, Option<usize>>,
    refs: Vec<Target>,
}

impl Stop {
    /// Stop at `step`.
    pub fn at(reader: &Reader, step: u64) -> Result<Stop, StoreError> {
        let state = reader.state(Step(step))?;
        Ok(Stop {
            step,
            views: vec![state.clone()],
            state,
            frame_views: HashMap::new(),
            refs: Vec::new(),
        })
    }

    /// The thread of the stop's step.
    pub fn thread(&self) -> u32 {
        self.state.meta.as_ref().map_or(0, |m| m.thread)
    }

    fn new_ref(&mut self, t: Target) -> u64 {
        if self.refs.len() >= MAX_REFS {
            return 0;
        }
        self.refs.push(t);
        self.refs.len() as u64
    }

    /// The view of the frame at `index` (0 the outermost), found the
    /// first time it is asked for.
    fn view_of(&mut self, reader: &Reader, index: usize) -> Result<Option<usize>, StoreError> {
        let depth = self.state.stack.len();
        if index + 1 == depth {
            return Ok(Some(0));
        }
        if index >= depth {
            return Ok(None);
        }
        if let Some(v) = self.frame_views.get(&index) {
            return Ok(*v);
        }
        let found = travel::frame_step(reader, self.step, self.thread(), index + 1)?;
        let view = match found {
            Some(step) => {
                let then = reader.state(Step(step))?;
                let same = then.meta.as_ref().map(|m| &m.function)
                    == Some(&self.state.stack[index].function);
                same.then(|| {
                    self.views.push(frame_view(&self.state, then));
                    self.views.len() - 1
                })
            }
            None => None,
        };
        self.frame_views.insert(index, view);
        Ok(view)
    }

    /// The `scopes` of the frame at `index`: Locals and Globals.
    pub fn scopes(&mut self, reader: &Reader, index: usize) -> Result<Value, StoreError> {
        let view = self.view_of(reader, index)?;
        let (locals, globals) = match view {
            Some(view) => (
                self.new_ref(Target::Scope {
                    view,
                    globals: false,
                }),
                self.new_ref(Target::Scope {
                    view,
                    globals: true,
                }),
            ),
            None => (self.new_ref(Target::Empty), self.new_ref(Target::Empty)),
        };
        let count = |globals: bool| {
            view.map_or(0, |v| {
                let s = &self.views[v];
                if globals {
                    s.globals
                        .iter()
                        .filter(|(n, _)| !render::is_dunder(n))
                        .count()
                } else {
                    s.locals.len()
                }
            })
        };
        Ok(json!({"scopes": [
            {"name": "Locals", "presentationHint": "locals", "variablesReference": locals,
             "namedVariables": count(false), "expensive": false},
            {"name": "Globals", "variablesReference": globals,
             "namedVariables": count(true), "expensive": false},
        ]}))
    }

    /// The `variables` of a reference, `start` and `count` paging them.
    pub fn variables(
        &mut self,
        reference: u64,
        start: usize,
        count: Option<usize>,
        filter: Option<&str>,
    ) -> Result<Value, String> {
        let target = usize::try_from(reference)
            .ok()
            .and_then(|r| r.checked_sub(1))
            .and_then(|i| self.refs.get(i))
            .cloned()
            .ok_or_else(|| format!("variablesReference {reference} is not one of this stop's"))?;
        let (view, named) = match target {
            Target::Empty => return Ok(json!({"variables": []})),
            Target::Scope { view, globals } => {
                let s = &self.views[view];
                let names: Vec<(String, ObjAddr, Option<String>)> = if globals {
                    s.globals
                        .iter()
                        .filter(|(n, _)| !render::is_dunder(n))
                        .map(|(n, a)| (n.to_string(), *a, Some(n.to_string())))
                        .collect()
                } else {
                    s.locals
                        .iter()
                        .map(|(n, a)| (n.to_string(), *a, Some(n.to_string())))
                        .collect()
                };
                (view, names)
            }
            Target::Object { view, addr, eval } => {
                let s = &self.views[view];
                let Some(node) = s.heap.get(&addr) else {
                    return Ok(json!({"variables": []}));
                };
                let indexed = is_indexed(node);
                let wanted = match filter {
                    Some("indexed") => indexed,
                    Some("named") => !indexed,
                    _ => true,
                };
                let kids = if wanted {
                    children(s, node, eval.as_deref())
                } else {
                    Vec::new()
                };
                (view, kids)
            }
        };
        let end = count.map_or(named.len(), |c| start.saturating_add(c).min(named.len()));
        let mut out = Vec::new();
        for (name, addr, eval) in named.into_iter().take(end).skip(start) {
            out.push(self.variable(view, &name, addr, eval));
        }
        Ok(json!({"variables": out}))
    }

    /// One variable: its repr, type, and a reference when it has insides.
    fn variable(&mut self, view: usize, name: &str, addr: ObjAddr, eval: Option<String>) -> Value {
        let (value, ty, expandable, indexed, size) = self.describe(view, addr);
        let reference = if expandable {
            self.new_ref(Target::Object {
                view,
                addr,
                eval: eval.clone(),
            })
        } else {
            0
        };
        let mut v =
            json!({"name": name, "value": value, "type": ty, "variablesReference": reference});
        if reference != 0 {
            v[if indexed {
                "indexedVariables"
            } else {
                "namedVariables"
            }] = json!(size);
        }
        if let Some(e) = eval {
            v["evaluateName"] = json!(e);
        }
        v
    }

    /// Repr, type, whether it expands, whether by index, how many insides.
    fn describe(&self, view: usize, addr: ObjAddr) -> (String, String, bool, bool, usize) {
        let s = &self.views[view];
        let mut budget = render::Budget::of(MAX_VALUE_BYTES);
        let (value, _) = render::repr_in(s, addr, &mut budget);
        let Some(node) = s.heap.get(&addr) else {
            return (value, "<missing>".into(), false, false, 0);
        };
        let size = children_count(node);
        (
            value,
            node.type_name.to_string(),
            size > 0,
            is_indexed(node),
            size,
        )
    }

    /// `evaluate`: the value of an expression of the query grammar
    /// (`query::Expr`) in the frame at `index`: a recorded object as a
    /// variable (expandable), a computed value (`len(xs)`, `i + 1`,
    /// `a == b`) as its repr.
    pub fn evaluate(
        &mut self,
        reader: &Reader,
        expression: &str,
        index: Option<usize>,
    ) -> Result<Value, String> {
        let expr = query::Expr::parse(expression)
            .map_err(|e| query::QueryError::parse(expression.trim(), e).to_string())?;
        let index = index.unwrap_or(self.state.stack.len().saturating_sub(1));
        let view = self
            .view_of(reader, index)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "the names of this frame are not recorded".to_string())?;
        let state = &self.views[view];
        let addr = match query::eval(&expr, state).map_err(|e| e.to_string())? {
            query::Value::Obj(addr) => addr,
            computed => {
                return Ok(json!({"result": computed.text(state),
                    "type": computed.type_name(state), "variablesReference": 0}))
            }
        };
        let v = self.variable(view, expression, addr, Some(expression.trim().to_string()));
        let mut out = json!({"result": v["value"], "type": v["type"],
            "variablesReference": v["variablesReference"]});
        for k in ["indexedVariables", "namedVariables"] {
            if let Some(n) = v.get(k) {
                out[k] = n.clone();
            }
        }
        Ok(out)
    }
}

/// An outer frame's view: the names it had at its last step (`then`),
/// their objects as they are now where the state holds them (the call in
/// progress may have changed them), else as they were then.
fn frame_view(now: &State, then: State) -> State {
    let mut view = now.clone();
    view.locals = then.locals;
    view.globals = then.globals;
    for (addr, node) in then.heap {
        view.heap.entry(addr).or_insert(node);
    }
    view
}

/// Lists, tuples and sets expand by index; dicts and instances by name.
fn is_indexed(node: &Node) -> bool {
    matches!(
        node.kind,
        kinds::LIST | kinds::TUPLE | kinds::SET | kinds::FROZENSET
    )
}

/// How many children [`children`] lists.
fn children_count(node: &Node) -> usize {
    let n = match node.kind {
        kinds::LIST | kinds::TUPLE | kinds::SET | kinds::FROZENSET => node.items.len(),
        kinds::DICT => node.items.len() / 2,
        kinds::OPAQUE => {
            node.attrs.as_ref().map_or(0, Vec::len) + usize::from(!node.items.is_empty())
        }
        _ => 0,
    };
    n.min(render::MAX_ELEMENTS)
}

/// The insides of an object: items by index, dict values by key repr,
/// attributes by name (an exception's `args`), with the expression that
/// names each when its parent's is known.
fn children(
    state: &State,
    node: &Node,
    eval: Option<&str>,
) -> Vec<(String, ObjAddr, Option<String>)> {
    let n = render::MAX_ELEMENTS;
    match node.kind {
        kinds::LIST | kinds::TUPLE => node
            .items
            .iter()
            .take(n)
            .enumerate()
            .map(|(i, a)| (i.to_string(), *a, eval.map(|e| format!("{e}[{i}]"))))
            .collect(),
        kinds::SET | kinds::FROZENSET => node
            .items
            .iter()
            .take(n)
            .enumerate()
            .map(|(i, a)| (i.to_string(), *a, None))
            .collect(),
        kinds::DICT => node
            .items
            .chunks_exact(2)
            .take(n)
            .map(|pair| {
                let mut budget = render::Budget::of(MAX_VALUE_BYTES);
                let key = render::repr_in(state, pair[0], &mut budget).0;
                let is_atom = state
                    .heap
                    .get(&pair[0])
                    .is_some_and(|k| k.kind == kinds::ATOM);
                let e = eval.filter(|_| is_atom).map(|e| format!("{e}[{key}]"));
                (key, pair[1], e)
            })
            .collect(),
        kinds::OPAQUE => {
            let mut out: Vec<_> = node
                .attrs
                .iter()
                .flatten()
                .take(n)
                .map(|(name, a)| (name.to_string(), *a, eval.map(|e| format!("{e}.{name}"))))
                .collect();
            if let Some(args) = node.items.first() {
                out.push(("args".into(), *args, None));
            }
            out
        }
        _ => Vec::new(),
    }
}
