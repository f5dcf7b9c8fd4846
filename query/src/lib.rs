//! hindsight's omniscient queries, read from a recording without running
//! the program: expressions over recorded values ([`Expr::parse`],
//! [`eval`]), and the questions asked across steps. The crate uses
//! `store` (the file) and `values` (what a node means) only.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let reader = store::Reader::open(std::path::Path::new("recording.hsr"))?;
//! let expr = query::Expr::parse("len(items) > 3 and items[0] == 'a'")?;
//! let state = reader.state(store::Step(120))?;
//! let value = query::eval(&expr, &state)?;
//! println!("{}", value.text(&state));
//! # Ok(()) }
//! ```

pub mod calls;
mod compare;
pub mod diff;
pub mod error;
pub mod eval;
pub mod expr;
pub mod find;
pub mod frames;
pub mod history;
pub mod last_write;
mod lex;
pub mod object;
pub mod replay;
pub mod skip;
mod syntax;
pub mod value;
pub mod watch;

pub use calls::{calls, CallReport, Callee, Calls, Profiler, StepEvent};
pub use diff::{diff, Diff};
pub use error::{EvalError, ParseError, QueryError};
pub use eval::{eval, eval_scoped, lookup, Evaluated};
pub use expr::Expr;
pub use find::find;
pub use history::{history, Filters};
pub use last_write::{last_write, LastWrite};
pub use lex::MAX_EXPR_BYTES;
pub use object::{object_at, object_life};
pub use replay::Replay;
pub use syntax::Literal;
pub use value::Value;
