//! Evaluating an [`Expr`] over one recorded state, never in the program:
//! names are looked up as Python does at that step (the locals of the
//! step's frame, then its module's globals), `a.b` among the attributes
//! the recording holds, `a[k]` among a list's, tuple's, dict's, str's or
//! bytes' items. Object identity is kept: a name, attribute or item
//! evaluates to the recorded object itself ([`Value::Obj`]).

use std::cmp::Ordering;

use store::{ObjAddr, State};
use values::kinds;

use crate::compare::Cmp;
pub use crate::error::EvalError;
use crate::expr::Expr;
use crate::syntax::{ArithOp, CmpOp};
use crate::value::Value;

/// A value and where its names were found.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluated {
    /// The value.
    pub value: Value,
    /// Some name was found among the frame's locals (else every name was
    /// a global, or there was none): the value belongs to the frame, not
    /// to the module.
    pub local: bool,
}

/// The value of `expr` at the step of `state`.
pub fn eval(expr: &Expr, state: &State) -> Result<Value, EvalError> {
    eval_scoped(expr, state).map(|e| e.value)
}

/// [`eval`], saying whether a name was a local.
pub fn eval_scoped(expr: &Expr, state: &State) -> Result<Evaluated, EvalError> {
    let mut ev = Evaluator {
        state,
        cmp: Cmp::new(state),
        local: false,
    };
    let value = ev.eval(expr)?;
    Ok(Evaluated {
        value,
        local: ev.local,
    })
}

/// The address a name is bound to at the step of `state` (locals first)
/// and whether it is a local.
pub fn lookup(state: &State, name: &str) -> Option<(ObjAddr, bool)> {
    let find = |names: &[(std::sync::Arc<str>, ObjAddr)]| {
        names.iter().find(|(n, _)| **n == *name).map(|(_, a)| *a)
    };
    find(&state.locals)
        .map(|a| (a, true))
        .or_else(|| find(&state.globals).map(|a| (a, false)))
}

struct Evaluator<'s> {
    state: &'s State,
    cmp: Cmp<'s>,
    local: bool,
}

impl Evaluator<'_> {
    fn eval(&mut self, e: &Expr) -> Result<Value, EvalError> {
        match e {
            Expr::Name(n) => {
                let (a, local) =
                    lookup(self.state, n).ok_or_else(|| EvalError::Unbound(n.clone()))?;
                self.local |= local;
                Ok(Value::Obj(a))
            }
            Expr::Lit(l) => Ok(Value::of_literal(l)),
            Expr::Attr(base, name) => {
                let v = self.eval(base)?;
                self.attr(base, &v, name)
            }
            Expr::Index(base, key) => {
                let v = self.eval(base)?;
                let k = self.eval(key)?;
                self.index(base, &v, &k)
            }
            Expr::Len(base) => {
                let v = self.eval(base)?;
                self.len(base, &v).map(|n| Value::Int(n as i128))
            }
            Expr::Compare(first, rest) => {
                let mut left = self.eval(first)?;
                for (op, e) in rest {
                    let right = self.eval(e)?;
                    if !self.compare(*op, &left, &right)? {
                        return Ok(Value::Bool(false));
                    }
                    left = right;
                }
                Ok(Value::Bool(true))
            }
            Expr::Not(e) => {
                let v = self.eval(e)?;
                Ok(Value::Bool(!self.cmp.truth(&v)?))
            }
            Expr::And(v) | Expr::Or(v) => {
                let want = matches!(e, Expr::Or(_));
                let mut last = Value::None;
                for e in v {
                    last = self.eval(e)?;
                    if self.cmp.truth(&last)? == want {
                        return Ok(last);
                    }
                }
                Ok(last)
            }
            Expr::Neg(e) => {
                let v = self.eval(e)?.plain(self.state);
                match v {
                    Value::Int(i) => i.checked_neg().map(Value::Int).ok_or_else(overflow),
                    Value::Bool(b) => Ok(Value::Int(-i128::from(b))),
                    Value::Float(f) => Ok(Value::Float(-f)),
                    v => Err(EvalError::Invalid(format!(
                        "`-` needs a number; `{e}` is a {}",
                        v.type_name(self.state)
                    ))),
                }
            }
            Expr::Arith(a, op, b) => {
                let x = self.eval(a)?.plain(self.state);
                let y = self.eval(b)?.plain(self.state);
                arith(*op, &x, &y).ok_or_else(|| {
                    EvalError::Invalid(format!(
                        "`{}` is not defined between {} and {} here",
                        op.as_str(),
                        x.type_name(self.state),
                        y.type_name(self.state)
                    ))
                })?
            }
        }
    }

    fn attr(&mut self, base: &Expr, v: &Value, name: &str) -> Result<Value, EvalError> {
        let node = match v {
            Value::Obj(a) => self.state.heap.get(a),
            _ => None,
        };
        let found = node
            .and_then(|n| n.attrs.as_ref())
            .and_then(|attrs| attrs.iter().find(|(k, _)| **k == *name))
            .map(|(_, a)| Value::Obj(*a));
        found.ok_or_else(|| {
            EvalError::Invalid(format!(
                "`{base}` ({}) has no attribute `{name}` in the recording",
                v.type_name(self.state)
            ))
        })
    }

    fn index(&mut self, base: &Expr, v: &Value, k: &Value) -> Result<Value, EvalError> {
        let state = self.state;
        let node = match v {
            Value::Obj(a) => state.heap.get(a),
            _ => None,
        };
        if let Some(n) = node.filter(|n| matches!(n.kind, kinds::LIST | kinds::TUPLE)) {
            let i = self.int_key(base, k)?;
            let len = n.items.len() as i128;
            let at = if i < 0 { i + len } else { i };
            if n.truncated && (i < 0 || at >= len) {
                return Err(EvalError::Invalid(format!(
                    "`{base}` was cut at the recorder's size limit: item {i} is not recorded"
                )));
            }
            return usize::try_from(at)
                .ok()
                .and_then(|at| n.items.get(at))
                .map(|a| Value::Obj(*a))
                .ok_or_else(|| {
                    EvalError::Invalid(format!(
                        "index {i} is out of range: `{base}` has {len} items"
                    ))
                });
        }
        if let Some(n) = node.filter(|n| n.kind == kinds::DICT) {
            return match self.cmp.dict_get(n, k, 0)? {
                Some(a) => Ok(Value::Obj(a)),
                None if n.truncated => Err(EvalError::Invalid(format!(
                    "`{base}` was cut at the recorder's size limit and the key is not among \
                     the items recorded"
                ))),
                None => Err(EvalError::Invalid(format!(
                    "key {} is not in `{base}`",
                    k.text(state)
                ))),
            };
        }
        match v.clone().plain(state) {
            Value::Str(s) => {
                let i = self.int_key(base, k)?;
                let n = s.chars().count() as i128;
                let at = if i < 0 { i + n } else { i };
                usize::try_from(at)
                    .ok()
                    .and_then(|at| s.chars().nth(at))
                    .map(|c| Value::Str(c.to_string()))
                    .ok_or_else(|| {
                        EvalError::Invalid(format!(
                            "index {i} is out of range: `{base}` has {n} characters"
                        ))
                    })
            }
            Value::Bytes(b) => {
                let i = self.int_key(base, k)?;
                let n = b.len() as i128;
                let at = if i < 0 { i + n } else { i };
                usize::try_from(at)
                    .ok()
                    .and_then(|at| b.get(at))
                    .map(|c| Value::Int(i128::from(*c)))
                    .ok_or_else(|| {
                        EvalError::Invalid(format!(
                            "index {i} is out of range: `{base}` has {n} bytes"
                        ))
                    })
            }
            other => Err(EvalError::Invalid(format!(
                "`{base}` ({}) cannot be indexed: only lists, tuples, dicts, strs and bytes",
                other.type_name(state)
            ))),
        }
    }

    fn int_key(&self, base: &Expr, k: &Value) -> Result<i128, EvalError> {
        match k.clone().plain(self.state) {
            Value::Int(i) => Ok(i),
            Value::Bool(b) => Ok(i128::from(b)),
            other => Err(EvalError::Invalid(format!(
                "`{base}` takes int indices, not {}",
                other.type_name(self.state)
            ))),
        }
    }

    fn len(&self, base: &Expr, v: &Value) -> Result<usize, EvalError> {
        if let Value::Obj(a) = v {
            if let Some(n) = self.state.heap.get(a) {
                let per = match n.kind {
                    kinds::LIST | kinds::TUPLE | kinds::SET | kinds::FROZENSET => 1,
                    kinds::DICT => 2,
                    _ => 0,
                };
                if let Some(len) = n.items.len().checked_div(per) {
                    if n.truncated {
                        return Err(EvalError::Invalid(format!(
                            "`{base}` was cut at the recorder's size limit: its length is not recorded"
                        )));
                    }
                    return Ok(len);
                }
            }
        }
        match v.clone().plain(self.state) {
            Value::Str(s) => Ok(s.chars().count()),
            Value::Bytes(b) => Ok(b.len()),
            other => Err(EvalError::Invalid(format!(
                "`len({base})`: a {} has no length the recording knows",
                other.type_name(self.state)
            ))),
        }
    }

    fn compare(&mut self, op: CmpOp, a: &Value, b: &Value) -> Result<bool, EvalError> {
        Ok(match op {
            CmpOp::Eq => self.cmp.eq(a, b)?,
            CmpOp::Ne => !self.cmp.eq(a, b)?,
            CmpOp::Lt => self.cmp.order(a, b)? == Ordering::Less,
            CmpOp::Le => self.cmp.order(a, b)? != Ordering::Greater,
            CmpOp::Gt => self.cmp.order(a, b)? == Ordering::Greater,
            CmpOp::Ge => self.cmp.order(a, b)? != Ordering::Less,
            CmpOp::In => self.cmp.contains(b, a)?,
            CmpOp::NotIn => !self.cmp.contains(b, a)?,
            CmpOp::Is => self.is(a, b)?,
            CmpOp::IsNot => !self.is(a, b)?,
        })
    }

    /// Identity: two recorded objects are the same when their addresses
    /// are; `None`, `True` and `False` are singletons; any other computed
    /// value has no identity to compare.
    fn is(&self, a: &Value, b: &Value) -> Result<bool, EvalError> {
        if let (Value::Obj(x), Value::Obj(y)) = (a, b) {
            return Ok(x == y);
        }
        let singleton = |v: &Value| matches!(v, Value::None | Value::Bool(_));
        let (x, y) = (a.clone().plain(self.state), b.clone().plain(self.state));
        if singleton(&x) || singleton(&y) {
            return Ok(x == y);
        }
        Err(EvalError::Invalid(
            "`is` compares recorded objects (or None, True, False); use `==` for computed values"
                .into(),
        ))
    }
}

fn overflow() -> EvalError {
    EvalError::Invalid("the int is too large for the query's arithmetic".into())
}

/// Arithmetic on computed values; `None` when the types do not take it.
fn arith(op: ArithOp, x: &Value, y: &Value) -> Option<Result<Value, EvalError>> {
    let int = |v: &Value| match v {
        Value::Int(i) => Some(*i),
        Value::Bool(b) => Some(i128::from(*b)),
        _ => None,
    };
    let float = |v: &Value| match v {
        Value::Float(f) => Some(*f),
        v => int(v).map(|i| i as f64),
    };
    if let (Some(a), Some(b)) = (int(x), int(y)) {
        let zero = || EvalError::Invalid("division by zero".into());
        return Some(match op {
            ArithOp::Add => a.checked_add(b).map(Value::Int).ok_or_else(overflow),
            ArithOp::Sub => a.checked_sub(b).map(Value::Int).ok_or_else(overflow),
            ArithOp::Mul => a.checked_mul(b).map(Value::Int).ok_or_else(overflow),
            ArithOp::Div if b == 0 => Err(zero()),
            ArithOp::Div => Ok(Value::Float(a as f64 / b as f64)),
            ArithOp::FloorDiv | ArithOp::Mod if b == 0 => Err(zero()),
            ArithOp::FloorDiv => Ok(Value::Int(
                a.div_euclid(b) - i128::from(b < 0 && a.rem_euclid(b) != 0),
            )),
            ArithOp::Mod => {
                let r = a.rem_euclid(b);
                Ok(Value::Int(if b < 0 && r != 0 { r + b } else { r }))
            }
        });
    }
    if let (Some(a), Some(b)) = (float(x), float(y)) {
        return Some(match op {
            ArithOp::Add => Ok(Value::Float(a + b)),
            ArithOp::Sub => Ok(Value::Float(a - b)),
            ArithOp::Mul => Ok(Value::Float(a * b)),
            _ if b == 0.0 => Err(EvalError::Invalid("float division by zero".into())),
            ArithOp::Div => Ok(Value::Float(a / b)),
            ArithOp::FloorDiv => Ok(Value::Float((a / b).floor())),
            ArithOp::Mod => Ok(Value::Float(a - b * (a / b).floor())),
        });
    }
    match (op, x, y) {
        (ArithOp::Add, Value::Str(a), Value::Str(b)) => Some(Ok(Value::Str(format!("{a}{b}")))),
        (ArithOp::Add, Value::Bytes(a), Value::Bytes(b)) => {
            Some(Ok(Value::Bytes([a.as_slice(), b].concat())))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
