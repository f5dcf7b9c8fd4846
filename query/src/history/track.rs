//! Whether the value of an expression changed at a step: the expression is
//! evaluated on the step's state (its names looked up in the locals of the
//! step's frame, else in its module's globals) and compared with what that
//! same frame (or module, when no name was a local) saw the last time it
//! ran. Control coming back to a frame from a call therefore shows nothing
//! new; a rebinding, an unbinding, or a change anywhere inside the value
//! (`watch.rs`) does, unless the line listed just before showed that very
//! object and value (the change was made, and listed, through another
//! frame's binding).
//!
//! Frames are known by their place (`frames.rs`): a generator resumed at
//! the same depth is the same frame; a new call of a function at a depth
//! where it ran before remembers what the last call saw there (an argument
//! bound to the same object as last time is not a change; a local bound
//! again after the call began is).

use std::hash::{Hash, Hasher};

use crate::error::EvalError;
use crate::eval::eval_scoped;
use crate::expr::Expr;
use crate::frames::Key;
use crate::replay::Replay;
use crate::value::Value;
use crate::watch::{Fx, FxMap, Look};

/// A step at which the value changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The value now.
    pub value: Value,
    /// Nothing the recording shows of it changed: it changed past a size
    /// limit (a dict beyond its first 10,000 items).
    pub past_cut: bool,
}

/// An expression followed across the steps of a recording.
pub struct Tracker<'e> {
    expr: &'e Expr,
    /// What each frame or module saw last.
    memory: FxMap<Key, Look>,
    /// What the last listed step showed.
    last_listed: Option<Look>,
    /// The first step at which the expression had no value for another
    /// reason than an unbound name, and why.
    pub first_error: Option<(u64, EvalError)>,
    /// Whether the expression had a value at some step.
    pub valued: bool,
}

impl<'e> Tracker<'e> {
    /// A tracker of `expr`, before the first step.
    pub fn new(expr: &'e Expr) -> Tracker<'e> {
        Tracker {
            expr,
            memory: FxMap::default(),
            last_listed: None,
            first_error: None,
            valued: false,
        }
    }

    /// Look at the step `r` was just brought to (run by `thread`): the
    /// value when it changed.
    pub fn step(&mut self, r: &mut Replay, step: u64, thread: u32) -> Option<Change> {
        let (slot, module) = r.frames.keys(thread);
        let ev = match eval_scoped(self.expr, &r.state) {
            Ok(ev) => ev,
            Err(e) => {
                if !matches!(e, EvalError::Unbound(_)) && self.first_error.is_none() {
                    self.first_error = Some((step, e));
                }
                self.forget(r, slot);
                self.forget(r, module);
                return None;
            }
        };
        self.valued = true;
        let key = if ev.local {
            slot
        } else {
            // Not a local of this frame (now): its next binding is one.
            self.forget(r, slot);
            module
        };
        let look = match &ev.value {
            Value::Obj(a) => r.watch.look(&r.state, *a),
            v => Look::computed(hash_computed(v)),
        };
        if self.memory.get(&key) == Some(&look) {
            return None;
        }
        r.watch.hold(look.addr);
        let old = self.memory.insert(key, look);
        if let Some(old) = old {
            r.watch.release(old.addr);
        }
        // A frame catching up with a change the line before already showed
        // (made through another frame's binding: `grow(p)` changed `p`,
        // and the caller's `p` is that object): nothing new to list. A
        // fresh binding is still listed.
        if old.is_some() && self.last_listed == Some(look) {
            return None;
        }
        self.last_listed = Some(look);
        Some(Change {
            value: ev.value,
            past_cut: old.is_some_and(|o| look.only_past_cut(&o)),
        })
    }

    fn forget(&mut self, r: &mut Replay, key: Key) {
        if let Some(old) = self.memory.remove(&key) {
            r.watch.release(old.addr);
        }
    }

    /// Values still remembered (for tests: memories must not leak).
    #[cfg(test)]
    pub fn remembered(&self) -> usize {
        self.memory.len()
    }
}

/// A computed value's hash (its type and repr).
pub(crate) fn hash_computed(v: &Value) -> u64 {
    let mut h = Fx::default();
    let s = store::State::default();
    v.type_name(&s).hash(&mut h);
    v.text(&s).hash(&mut h);
    h.finish()
}
