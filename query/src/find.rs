//! `find`: the steps at which a condition holds. The condition is
//! evaluated on each step's state (kept from the ops, read once); a step
//! at which one of its names is unbound, or at which it cannot be
//! evaluated (an item out of range, a type that does not compare), is a
//! step where it does not hold. When no step matches and one of its names
//! is bound at no step of the range, [`QueryError::NeverBound`] says so.

use store::{MetaView, OpView, State, StoreError};

use crate::compare::Cmp;
use crate::error::{EvalError, QueryError};
use crate::eval::{eval, lookup};
use crate::expr::Expr;
use crate::replay::Replay;
use crate::skip::{walk, Interest};

/// What [`find`] saw besides the matches.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// Steps at which the condition held (those passed to the callback).
    pub matched: u64,
    /// The first step at which the condition could not be evaluated for
    /// another reason than an unbound name, and why.
    pub first_error: Option<(u64, EvalError)>,
}

/// Whether `cond` holds on `state` (`Err` when it cannot be evaluated).
pub fn holds(cond: &Expr, state: &State) -> Result<bool, EvalError> {
    let v = eval(cond, state)?;
    Cmp::new(state).truth(&v)
}

/// Call `f` on the steps from `from` to `to` inclusive at which `cond`
/// holds, in order, with the state there; `f` returns `Ok(false)` to stop
/// (after the first, for the first match only).
pub fn find<E>(
    reader: &store::Reader,
    cond: &Expr,
    from: u64,
    to: u64,
    mut f: impl FnMut(&MetaView<'_>, &State) -> Result<bool, E>,
) -> Result<Found, E>
where
    E: From<QueryError> + From<StoreError>,
{
    let names = cond.names();
    let mut r = Replay::before(reader, from)?;
    let mut bound: Vec<bool> = names
        .iter()
        .map(|n| lookup(&r.state, n).is_some())
        .collect();
    let mut found = Found::default();
    // Whether the condition held at the last step read: where it did not,
    // the segments that change none of its names and objects are skipped.
    let held = std::cell::Cell::new(false);
    let interest = |r: &Replay| (!held.get()).then(|| Interest::of_expr(&r.state, cond, false));
    walk(reader, from, to, &mut r, interest, |r, s| {
        held.set(false);
        r.apply(s, |op| {
            if let OpView::Bind { name, .. } = op {
                if let Some(i) = names.iter().position(|n| n == name) {
                    bound[i] = true;
                }
            }
        })?;
        match holds(cond, &r.state) {
            Ok(true) => {
                held.set(true);
                found.matched += 1;
                f(&s.meta, &r.state)
            }
            Ok(false) | Err(EvalError::Unbound(_)) => Ok(true),
            Err(e) => {
                if found.first_error.is_none() {
                    found.first_error = Some((s.meta.step.0, e));
                }
                Ok(true)
            }
        }
    })?;
    if found.matched == 0 {
        if let Some((n, _)) = names.iter().zip(&bound).find(|(_, b)| !**b) {
            return Err(QueryError::NeverBound {
                name: n.to_string(),
            }
            .into());
        }
    }
    Ok(found)
}
