//! `hindsight state`: one step's state, as text or JSON.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use store::{State, Step};
use values::render;

use crate::nodes::{insert_node, NodeFinder};
use crate::out;
use crate::recording::{store_error, Recording};

pub fn state(file: &Path, step: u64, json: bool) -> Result<i32> {
    let rec = Recording::open(file)?;
    rec.check_step(step)?;
    let state = rec
        .reader
        .state(Step(step))
        .map_err(|e| store_error(file, e))?;
    let mut o = out::stdout();
    let mut finder = NodeFinder::new(&rec.reader);
    if json {
        let mut json = render::state_json(&state);
        if let Some(m) = &state.meta {
            insert_node(&mut json, finder.node_json(&m.file, m.event, m.position));
        }
        rec.add_time(step, &mut json);
        serde_json::to_writer_pretty(&mut o, &json)?;
        o.write_all(b"\n")?;
    } else {
        write_text(&mut o, &rec.reader, &mut finder, &state)?;
    }
    o.flush()?;
    Ok(0)
}

/// The text form of docs/spec/values.md, with the step's source line when
/// the recording keeps its file's text (the program's files are never read
/// again: they may have changed since, or be a FIFO), and the marks under
/// the instruction's range naming its AST node.
fn write_text(
    o: &mut impl Write,
    reader: &store::Reader,
    finder: &mut NodeFinder<'_>,
    state: &State,
) -> Result<()> {
    let source = state.meta.as_ref().and_then(|m| {
        let file = reader.source(&m.file)?;
        file.line(m.line).map(str::to_string)
    });
    let node = state
        .meta
        .as_ref()
        .and_then(|m| finder.node(&m.file, m.event, m.position).map(|n| n.kind));
    values::text::write_state_node(o, state, source.as_deref(), node)?;
    Ok(())
}
