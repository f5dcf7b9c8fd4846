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

mod compare;
pub mod eval;
pub mod expr;
mod lex;
pub mod value;

pub use eval::{eval, eval_scoped, lookup, EvalError, Evaluated};
pub use expr::{Expr, Literal, ParseError};
pub use lex::MAX_EXPR_BYTES;
pub use value::Value;
