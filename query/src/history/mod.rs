//! `history`: the steps at which an expression's value changed, with the
//! value (docs/spec/cli.md). Read straight from each step's ops through
//! the [`Replay`] (`track.rs` decides what is a change): no state is
//! rebuilt, so the cost is that of reading the ops once.

mod track;

pub(crate) use track::hash_computed;
pub use track::{Change, Tracker};

use store::{MetaView, OpView, State, Step, StoreError};

use crate::error::QueryError;
use crate::expr::Expr;
use crate::replay::Replay;
use crate::skip::{walk, Interest};

/// Which of the steps found are listed (every step is still followed).
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// Only steps in this function (its qualname as recorded).
    pub function: Option<String>,
    /// Only steps of this OS thread.
    pub thread: Option<u32>,
}

impl Filters {
    /// Whether a step passes.
    pub fn pass(&self, m: &MetaView<'_>) -> bool {
        self.function.as_deref().is_none_or(|f| f == m.function)
            && self.thread.is_none_or(|t| t == m.thread)
    }
}

/// Call `f` on every step (passing `filters`) at which `expr`'s value
/// changed: the step, the change, and the state there (to render the
/// value). `f` returns `Ok(false)` to stop. Fails when the expression has
/// no value at any step: [`QueryError::NeverBound`] when one of its names
/// is bound nowhere, else [`QueryError::NoValue`] at the first step that
/// said why.
pub fn history<E>(
    reader: &store::Reader,
    expr: &Expr,
    filters: &Filters,
    mut f: impl FnMut(&MetaView<'_>, &Change, &State) -> Result<bool, E>,
) -> Result<(), E>
where
    E: From<QueryError> + From<StoreError>,
{
    let count = reader.step_count();
    let names = expr.names();
    let mut bound = vec![false; names.len()];
    if count > 0 {
        let mut r = Replay::default();
        let mut t = Tracker::new(expr);
        // What a frame's memory, the names and the values they reach
        // depend on: the segments that change none of it show nothing new.
        let interest = |r: &Replay| {
            let mut i = Interest::of_expr(&r.state, expr, true);
            i.watched(&r.watch);
            Some(i)
        };
        walk(reader, 0, count - 1, &mut r, interest, |r, s| {
            r.apply(s, |op| {
                if let OpView::Bind { name, .. } = op {
                    if let Some(i) = names.iter().position(|n| n == name) {
                        bound[i] = true;
                    }
                }
            })?;
            match t.step(r, s.meta.step.0, s.meta.thread) {
                Some(c) if filters.pass(&s.meta) => f(&s.meta, &c, &r.state),
                _ => Ok(true),
            }
        })?;
        if t.valued {
            return Ok(());
        }
        if let Some((step, err)) = t.first_error {
            if bound.iter().all(|b| *b) {
                return Err(QueryError::NoValue {
                    expr: expr.to_string(),
                    step,
                    err,
                }
                .into());
            }
        }
    }
    let unbound = names
        .iter()
        .zip(&bound)
        .find(|(_, b)| !**b)
        .map(|(n, _)| n.to_string());
    Err(match unbound {
        Some(name) => QueryError::NeverBound { name }.into(),
        None => QueryError::Usage(format!("`{expr}` names nothing and has no value")).into(),
    })
}

/// Every name some step binds, at most `max` of them, sorted (for the
/// message of a name bound nowhere).
pub fn bound_names(
    reader: &store::Reader,
    max: usize,
) -> Result<std::collections::BTreeSet<String>, QueryError> {
    let mut names = std::collections::BTreeSet::new();
    let count = reader.step_count();
    if count == 0 {
        return Ok(names);
    }
    reader.scan_steps(Step(0), Step(count - 1), |s| {
        for op in s.ops() {
            if let OpView::Bind { name, .. } = op? {
                if names.len() < max && !names.contains(name) {
                    names.insert(name.to_string());
                }
            }
        }
        Ok::<_, QueryError>(true)
    })?;
    Ok(names)
}

#[cfg(test)]
mod tests;
