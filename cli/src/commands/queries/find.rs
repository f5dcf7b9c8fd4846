//! `hindsight find FILE CONDITION [--all] [--from A] [--to B] [--json]`.

use std::io::Write;
use std::path::Path;

use anyhow::{anyhow, Result};
use query::QueryError;
use serde_json::Value as Json;

use super::{explain, parse, step_json};
use crate::args::RangeArgs;
use crate::out;
use crate::recording::{meta_line, Recording};

/// Print the first step (or every step) at which CONDITION holds.
pub fn find(file: &Path, src: &str, all: bool, range: RangeArgs, as_json: bool) -> Result<i32> {
    let cond = parse(src)?;
    let rec = Recording::open(file)?;
    let Some((from, to)) = rec.range(range.from, range.to)? else {
        eprintln!("hindsight: {}", rec.holds());
        return Ok(0);
    };
    let mut o = out::stdout();
    let found = query::find(&rec.reader, &cond, from, to, |m, _| {
        if as_json {
            serde_json::to_writer(&mut o, &Json::Object(step_json(&m.to_meta())))?;
            o.write_all(b"\n")?;
        } else {
            writeln!(o, "{}", meta_line(m))?;
        }
        Ok::<_, anyhow::Error>(all)
    });
    let found = match found {
        Ok(f) => f,
        Err(e) => {
            let whole = from == rec.first() && to + 1 == rec.count();
            return Err(match e.downcast::<QueryError>() {
                Ok(QueryError::NeverBound { name }) if !whole => {
                    anyhow!("no step from {from} to {to} binds `{name}`, which the condition reads")
                }
                Ok(q) => explain(&rec, q.into()),
                Err(e) => explain(&rec, e),
            });
        }
    };
    o.flush()?;
    if found.matched == 0 {
        let why = match &found.first_error {
            Some((s, e)) => format!(" (at step {s} it could not be evaluated: {e})"),
            None => String::new(),
        };
        eprintln!(
            "hindsight: `{}` holds at no step from {from} to {to}{why}",
            src.trim()
        );
    }
    Ok(0)
}
