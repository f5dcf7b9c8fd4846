//! `hindsight state`: one step's state, as text or JSON.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use store::{State, Step};
use values::render;

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
    if json {
        let mut v = render::state_json(&state);
        rec.add_time(step, &mut v);
        serde_json::to_writer_pretty(&mut o, &v)?;
        o.write_all(b"\n")?;
    } else {
        write_text(&mut o, &rec.reader, &state)?;
    }
    o.flush()?;
    Ok(0)
}

/// The text form of docs/spec/values.md, with the step's source line when
/// the recording keeps its file's text (the program's files are never read
/// again: they may have changed since, or be a FIFO).
fn write_text(o: &mut impl Write, reader: &store::Reader, state: &State) -> Result<()> {
    let source = state.meta.as_ref().and_then(|m| {
        let file = reader.source(&m.file)?;
        file.line(m.line).map(str::to_string)
    });
    values::text::write_state(o, state, source.as_deref())?;
    Ok(())
}
