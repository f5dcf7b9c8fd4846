//! What a query can fail with: the recording (a store error), the
//! expression (it does not parse, [`ParseError`], or has no value where it
//! must have one, [`EvalError`]), or a name no step binds. The errors live
//! here, apart from the lexer, parser, evaluation and comparisons that
//! raise them, so that those files need not import one another for them.

use store::StoreError;

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

/// Why an expression does not parse: the byte column and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at column {col}: {what}")]
pub struct ParseError {
    /// 0-based byte column in the expression.
    pub col: usize,
    /// What the parser met, and what it reads instead.
    pub what: String,
}

impl ParseError {
    pub(crate) fn new(col: usize, what: impl Into<String>) -> ParseError {
        ParseError {
            col,
            what: what.into(),
        }
    }
}

/// Why an expression has no value at a step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// A name the step's frame and module do not bind.
    #[error("`{0}` is not bound")]
    Unbound(String),
    /// Anything else: a missing attribute or item, a type that does not
    /// take the operation, a value cut at a size limit.
    #[error("{0}")]
    Invalid(String),
}
