//! Python's comparisons over recorded and computed values: `==` (deep, on
//! lists, tuples, dicts and sets; by identity for other objects, whose own
//! `__eq__` is never run), `<` and friends (numbers, strs, bytes, lists and
//! tuples), membership and truth. A comparison visits at most
//! [`MAX_VISITS`] objects, so a query over huge values stays bounded.

use std::cmp::Ordering;

use store::{Node, State};
use values::kinds;

use crate::error::EvalError;
use crate::value::Value;

/// The most objects one comparison visits before it gives up.
pub const MAX_VISITS: usize = 1_000_000;
/// The deepest nesting a comparison follows.
const MAX_NESTING: u32 = 64;

/// Compares values within one state.
pub(crate) struct Cmp<'s> {
    state: &'s State,
    visits: usize,
}

/// A value as comparisons see it: a computed value, or a recorded node.
enum Seen<'s> {
    Plain(Value),
    Node(&'s Node, Value),
}

impl<'s> Cmp<'s> {
    pub fn new(state: &'s State) -> Cmp<'s> {
        Cmp { state, visits: 0 }
    }

    fn see(&mut self, v: &Value) -> Result<Seen<'s>, EvalError> {
        self.visits += 1;
        if self.visits > MAX_VISITS {
            return Err(EvalError::Invalid(format!(
                "the comparison visits more than {MAX_VISITS} objects"
            )));
        }
        let v = v.clone().plain(self.state);
        Ok(match v {
            Value::Obj(a) => match self.state.heap.get(&a) {
                Some(n) => Seen::Node(n, Value::Obj(a)),
                None => {
                    return Err(EvalError::Invalid(format!(
                        "the object at {:#x} is not in the recorded state",
                        a.0
                    )))
                }
            },
            v => Seen::Plain(v),
        })
    }

    /// `a == b`.
    pub fn eq(&mut self, a: &Value, b: &Value) -> Result<bool, EvalError> {
        self.eq_at(a, b, 0)
    }

    fn eq_at(&mut self, a: &Value, b: &Value, depth: u32) -> Result<bool, EvalError> {
        if let (Value::Obj(x), Value::Obj(y)) = (a, b) {
            if x == y {
                return Ok(true);
            }
        }
        if depth > MAX_NESTING {
            return Err(EvalError::Invalid(format!(
                "values nest deeper than {MAX_NESTING} levels"
            )));
        }
        match (self.see(a)?, self.see(b)?) {
            (Seen::Plain(x), Seen::Plain(y)) => Ok(plain_eq(&x, &y)),
            (Seen::Node(x, xa), Seen::Node(y, ya)) => self.nodes_eq(x, &xa, y, &ya, depth),
            _ => Ok(false),
        }
    }

    fn nodes_eq(
        &mut self,
        x: &Node,
        xa: &Value,
        y: &Node,
        ya: &Value,
        depth: u32,
    ) -> Result<bool, EvalError> {
        let container = matches!(
            x.kind,
            kinds::LIST | kinds::TUPLE | kinds::DICT | kinds::SET | kinds::FROZENSET
        );
        if !container {
            // Atoms of other types by their text; any other object by
            // identity (its own `__eq__` is not known).
            return Ok(x.kind == kinds::ATOM
                && y.kind == kinds::ATOM
                && x.type_name == y.type_name
                && x.text == y.text
                && !x.truncated);
        }
        let sets = |k| k == kinds::SET || k == kinds::FROZENSET;
        let same_kind = x.kind == y.kind || (sets(x.kind) && sets(y.kind));
        if !same_kind || x.items.len() != y.items.len() {
            return Ok(false);
        }
        if x.truncated || y.truncated {
            return Err(cut(xa, ya));
        }
        match x.kind {
            kinds::LIST | kinds::TUPLE => {
                for (p, q) in x.items.iter().zip(&y.items) {
                    if !self.eq_at(&Value::Obj(*p), &Value::Obj(*q), depth + 1)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            kinds::DICT => {
                for pair in x.items.chunks(2) {
                    let [k, v] = pair else { return Ok(false) };
                    match self.dict_get(y, &Value::Obj(*k), depth + 1)? {
                        Some(w) if self.eq_at(&Value::Obj(*v), &Value::Obj(w), depth + 1)? => {}
                        _ => return Ok(false),
                    }
                }
                Ok(true)
            }
            _ => {
                for p in &x.items {
                    if !self.contains_in(&y.items, &Value::Obj(*p), depth + 1)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
        }
    }

    /// The value a dict node holds for `key`.
    pub fn dict_get(
        &mut self,
        dict: &Node,
        key: &Value,
        depth: u32,
    ) -> Result<Option<store::ObjAddr>, EvalError> {
        for pair in dict.items.chunks(2) {
            if let [k, v] = pair {
                if self.eq_at(&Value::Obj(*k), key, depth)? {
                    return Ok(Some(*v));
                }
            }
        }
        Ok(None)
    }

    fn contains_in(
        &mut self,
        items: &[store::ObjAddr],
        v: &Value,
        depth: u32,
    ) -> Result<bool, EvalError> {
        for p in items {
            if self.eq_at(&Value::Obj(*p), v, depth)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// `item in container`.
    pub fn contains(&mut self, container: &Value, item: &Value) -> Result<bool, EvalError> {
        match self.see(container)? {
            Seen::Plain(Value::Str(s)) => match item.clone().plain(self.state) {
                Value::Str(x) => Ok(s.contains(&x)),
                _ => Err(EvalError::Invalid(
                    "`in` a str needs a str on its left".into(),
                )),
            },
            Seen::Plain(Value::Bytes(b)) => match item.clone().plain(self.state) {
                Value::Bytes(x) => Ok(x.is_empty() || b.windows(x.len()).any(|w| w == x)),
                Value::Int(i) => Ok(u8::try_from(i).is_ok_and(|i| b.contains(&i))),
                _ => Err(EvalError::Invalid(
                    "`in` a bytes needs bytes or an int on its left".into(),
                )),
            },
            Seen::Node(n, v) => {
                let found = match n.kind {
                    kinds::LIST | kinds::TUPLE | kinds::SET | kinds::FROZENSET => {
                        self.contains_in(&n.items, item, 0)?
                    }
                    kinds::DICT => self.dict_get(n, item, 0)?.is_some(),
                    _ => {
                        return Err(EvalError::Invalid(format!(
                            "`in` needs a container; this is a {}",
                            n.type_name
                        )))
                    }
                };
                if !found && n.truncated {
                    return Err(cut(&v, &v));
                }
                Ok(found)
            }
            Seen::Plain(p) => Err(EvalError::Invalid(format!(
                "`in` needs a container; this is a {}",
                p.type_name(self.state)
            ))),
        }
    }

    /// `a < b` and the others, as an ordering.
    pub fn order(&mut self, a: &Value, b: &Value) -> Result<Ordering, EvalError> {
        self.order_at(a, b, 0)
    }

    fn order_at(&mut self, a: &Value, b: &Value, depth: u32) -> Result<Ordering, EvalError> {
        if depth > MAX_NESTING {
            return Err(EvalError::Invalid(format!(
                "values nest deeper than {MAX_NESTING} levels"
            )));
        }
        let unordered = |s: &State| {
            EvalError::Invalid(format!(
                "`<` is not defined between {} and {}",
                a.type_name(s),
                b.type_name(s)
            ))
        };
        match (self.see(a)?, self.see(b)?) {
            (Seen::Plain(x), Seen::Plain(y)) => {
                plain_order(&x, &y).ok_or_else(|| unordered(self.state))
            }
            (Seen::Node(x, xa), Seen::Node(y, ya))
                if x.kind == y.kind && matches!(x.kind, kinds::LIST | kinds::TUPLE) =>
            {
                if x.truncated || y.truncated {
                    return Err(cut(&xa, &ya));
                }
                for (p, q) in x.items.iter().zip(&y.items) {
                    let (p, q) = (Value::Obj(*p), Value::Obj(*q));
                    if !self.eq_at(&p, &q, depth + 1)? {
                        return self.order_at(&p, &q, depth + 1);
                    }
                }
                Ok(x.items.len().cmp(&y.items.len()))
            }
            _ => Err(unordered(self.state)),
        }
    }

    /// Python's truth of a value (an object of a class defined in Python
    /// is true: its `__bool__` and `__len__` are not known).
    pub fn truth(&mut self, v: &Value) -> Result<bool, EvalError> {
        Ok(match self.see(v)? {
            Seen::Plain(p) => match p {
                Value::None => false,
                Value::Bool(b) => b,
                Value::Int(i) => i != 0,
                Value::BigInt(_) => true,
                Value::Float(f) => f != 0.0,
                Value::Str(s) => !s.is_empty(),
                Value::Bytes(b) => !b.is_empty(),
                Value::Obj(_) => true,
            },
            Seen::Node(n, _) => match n.kind {
                kinds::LIST | kinds::TUPLE | kinds::DICT | kinds::SET | kinds::FROZENSET => {
                    !n.items.is_empty()
                }
                _ => true,
            },
        })
    }
}

fn cut(a: &Value, b: &Value) -> EvalError {
    let which = match (a, b) {
        (Value::Obj(x), _) | (_, Value::Obj(x)) => format!(" at {:#x}", x.0),
        _ => String::new(),
    };
    EvalError::Invalid(format!(
        "the container{which} was cut at the recorder's size limit: the comparison cannot be answered"
    ))
}

/// A number as a float, for comparing ints with floats.
fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        Value::Int(i) => Some(*i as f64),
        Value::BigInt(d) => d.parse().ok(),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

/// An int (bools are ints in Python).
fn as_int(v: &Value) -> Option<i128> {
    match v {
        Value::Bool(b) => Some(i128::from(*b)),
        Value::Int(i) => Some(*i),
        _ => None,
    }
}

fn plain_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::None, Value::None) => true,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Bytes(x), Value::Bytes(y)) => x == y,
        (Value::BigInt(x), Value::BigInt(y)) => x == y,
        (Value::BigInt(_), Value::Float(_)) | (Value::Float(_), Value::BigInt(_)) => {
            as_f64(a) == as_f64(b)
        }
        (Value::BigInt(_), _) | (_, Value::BigInt(_)) => false,
        _ => match (as_int(a), as_int(b)) {
            (Some(x), Some(y)) => x == y,
            _ => matches!((as_f64(a), as_f64(b)), (Some(x), Some(y)) if x == y),
        },
    }
}

fn plain_order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
        (Value::Bytes(x), Value::Bytes(y)) => Some(x.cmp(y)),
        (Value::BigInt(x), Value::BigInt(y)) => Some(big_order(x, y)),
        _ => match (as_int(a), as_int(b)) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => as_f64(a)?.partial_cmp(&as_f64(b)?),
        },
    }
}

/// Two decimal ints of any size.
fn big_order(x: &str, y: &str) -> Ordering {
    let (xn, yn) = (x.starts_with('-'), y.starts_with('-'));
    let mag = |s: &str, t: &str| {
        let (s, t) = (s.trim_start_matches('-'), t.trim_start_matches('-'));
        s.len().cmp(&t.len()).then_with(|| s.cmp(t))
    };
    match (xn, yn) {
        (false, true) => Ordering::Greater,
        (true, false) => Ordering::Less,
        (false, false) => mag(x, y),
        (true, true) => mag(y, x),
    }
}
