//! `hindsight last-write FILE STEP EXPR [--json]`.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use serde_json::{json, Value as Json};

use super::{explain, parse, step_json, step_text};
use crate::out;
use crate::recording::Recording;

/// Print the step that wrote the value EXPR has at STEP.
pub fn last_write(file: &Path, step: u64, src: &str, as_json: bool) -> Result<i32> {
    let expr = parse(src)?;
    let rec = Recording::open(file)?;
    rec.check_step(step)?;
    let lw = query::last_write(&rec.reader, step, &expr).map_err(|e| explain(&rec, e.into()))?;
    let shown = src.trim();
    let mut o = out::stdout();
    if as_json {
        let before = lw.before.as_ref();
        let j = json!({
            "writer": lw.writer.as_ref().map(|m| Json::Object(step_json(m))),
            "shown_from": lw.shown_from,
            "value": lw.value.json(&lw.state),
            "before": before.map(|(_, v, st)| v.json(st)),
            "before_step": before.map(|(s, _, _)| s),
        });
        writeln!(o, "{j}")?;
    } else {
        let value = lw.value.text(&lw.state);
        match &lw.writer {
            Some(m) => {
                writeln!(o, "{}", step_text(m))?;
                writeln!(o, "  wrote {shown} = {value}  (shown from step {} on)", lw.shown_from)?;
                match &lw.before {
                    Some((_, v, st)) => writeln!(o, "  before: {shown} = {}", v.text(st))?,
                    None => writeln!(o, "  before: {shown} had no value")?,
                }
            }
            None => writeln!(
                o,
                "{shown} = {value} since step {}, the first step that shows it: no recorded step wrote it",
                lw.shown_from
            )?,
        }
    }
    o.flush()?;
    Ok(0)
}
