//! What a query can fail with: the recording (a store error), the
//! expression (it does not parse, or has no value where it must have one),
//! or a name no step binds.

use store::StoreError;

use crate::eval::EvalError;
use crate::expr::ParseError;

/// A query that could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// Reading the recording failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The expression does not parse.
    #[error("cannot read the expression `{expr}` {err}")]
    Parse {
        /// The expression as given.
        expr: String,
        /// Where and why.
        err: ParseError,
    },
    /// The expression has no value at a step where the query needs one.
    #[error("`{expr}` has no value at step {step}: {err}")]
    NoValue {
        /// The expression.
        expr: String,
        /// The step.
        step: u64,
        /// Why.
        err: EvalError,
    },
    /// A name of the expression that no step of the recording binds.
    #[error("no step binds `{name}`")]
    NeverBound {
        /// The name.
        name: String,
    },
    /// A step's ops that the replay cannot apply, or a node that does not
    /// decode: the file's damage.
    #[error("step {step}: {what}")]
    Damaged {
        /// The step.
        step: u64,
        /// What was wrong.
        what: String,
    },
    /// A request the query cannot take (a step out of order, ...).
    #[error("{0}")]
    Usage(String),
}

impl QueryError {
    /// A parse error of `expr`.
    pub fn parse(expr: &str, err: ParseError) -> QueryError {
        QueryError::Parse {
            expr: expr.to_string(),
            err,
        }
    }
}
