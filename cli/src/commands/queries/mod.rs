//! The omniscient queries (docs/spec/cli.md): `history`, `last-write`,
//! `find`, `diff` and `object`, answered by the `query` crate; this wing
//! parses the expression, prints the answers and words the errors.

mod diff;
mod find;
mod history;
mod last_write;
mod object;

pub use diff::diff;
pub use find::find;
pub use history::history;
pub use last_write::last_write;
pub use object::object;

use anyhow::{anyhow, Result};
use query::{Expr, QueryError};
use serde_json::Value as Json;
use store::StepMeta;

use crate::recording::{store_error, Recording};
use crate::suggest;

/// Distinct names gathered for a "not bound anywhere" message, at most.
const MAX_NAMES: usize = 100_000;

/// The expression, or a one-line error saying where it stops being one.
fn parse(src: &str) -> Result<Expr> {
    Expr::parse(src).map_err(|e| anyhow!(QueryError::parse(src.trim(), e)))
}

/// A query's error in the user's words: a store error with the file's
/// path, a name bound nowhere with the names closest to it.
fn explain(rec: &Recording, e: anyhow::Error) -> anyhow::Error {
    let e = match e.downcast::<QueryError>() {
        Ok(QueryError::Store(se)) => return store_error(&rec.path, se),
        Ok(QueryError::NeverBound { name }) => return never_bound(rec, &name),
        Ok(q) => return anyhow!(q),
        Err(e) => e,
    };
    rec.with_path(e)
}

/// "no step binds NAME", with the bound names closest to it.
fn never_bound(rec: &Recording, name: &str) -> anyhow::Error {
    let file = rec.path.display();
    let mut names = match query::history::bound_names(&rec.reader, MAX_NAMES) {
        Ok(n) => n,
        Err(e) => return explain(rec, anyhow!(e)),
    };
    // `__name__` and its kind are bound in every module: noise unless asked for.
    if !name.starts_with("__") {
        names.retain(|n| !(n.starts_with("__") && n.ends_with("__")));
    }
    let close = suggest::closest(name, names.iter(), |s: &String| s.as_str());
    let close: Vec<String> = close.iter().map(|n| format!("`{n}`")).collect();
    if close.is_empty() {
        return anyhow!("no step of {file} binds `{name}` (it binds no names at all)");
    }
    anyhow!(
        "no step of {file} binds `{name}`; the names it binds closest to it: {}",
        close.join(", ")
    )
}

/// The keys of a step in JSON (`step`, `event`, `thread`, `file`,
/// `function`, `line`, `position`, as docs/spec/values.md names them).
fn step_json(m: &StepMeta) -> serde_json::Map<String, Json> {
    match values::render::meta_json(m) {
        Json::Object(o) => o,
        _ => serde_json::Map::new(),
    }
}

/// `STEP FILE:LINE FUNCTION`, and on an opcode step ` INSTRUCTION@OFFSET`
/// (the instruction that wrote, for `last-write`).
fn step_text(m: &StepMeta) -> String {
    let line = format!("{} {}:{} {}", m.step.0, m.file, m.line, m.function);
    match &m.instruction {
        Some(i) => format!("{line} {}@{}", i.name, i.offset),
        None => line,
    }
}
