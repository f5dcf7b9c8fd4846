//! `hindsight history FILE EXPR [--function F] [--thread T] [--json]`.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Result};
use query::Filters;
use serde_json::{json, Value as Json};

use super::{explain, parse, step_json};
use crate::out;
use crate::recording::Recording;

/// Print every step at which EXPR's value changed.
pub fn history(file: &Path, src: &str, filters: Filters, as_json: bool) -> Result<i32> {
    if src.trim().is_empty() {
        bail!("give a variable or an expression: `hindsight history FILE NAME`");
    }
    let expr = parse(src)?;
    let rec = Recording::open(file)?;
    if rec.count() <= rec.first() {
        bail!("no step binds `{}`: {}", src.trim(), rec.holds());
    }
    let shown = src.trim();
    let mut o = out::stdout();
    query::history(&rec.reader, &expr, &filters, |m, c, state| {
        if as_json {
            let mut j = step_json(&m.to_meta());
            j.insert("value".into(), c.value.json(state));
            j.insert("past_cut".into(), json!(c.past_cut));
            serde_json::to_writer(&mut o, &Json::Object(j))?;
            o.write_all(b"\n")?;
        } else {
            let note = if c.past_cut {
                "  (changed past the items shown)"
            } else {
                ""
            };
            writeln!(
                o,
                "{} {}:{} {} {shown} = {}{note}",
                m.step.0,
                m.file,
                m.line,
                m.function,
                c.value.text(state)
            )?;
        }
        Ok::<_, anyhow::Error>(true)
    })
    .map_err(|e| explain(&rec, e))?;
    o.flush()?;
    Ok(0)
}
