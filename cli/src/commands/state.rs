//! `hindsight state`: one step's state, as text or JSON.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::Result;
use store::{State, Step};
use values::render;

use crate::out;
use crate::recording::{store_error, Recording};

/// Source files larger than this are not read for the source line.
const MAX_SOURCE_BYTES: u64 = 16 << 20;

pub fn state(file: &Path, step: u64, json: bool) -> Result<i32> {
    let rec = Recording::open(file)?;
    rec.check_step(step)?;
    let state = rec
        .reader
        .state(Step(step))
        .map_err(|e| store_error(file, e))?;
    let mut o = out::stdout();
    if json {
        serde_json::to_writer_pretty(&mut o, &render::state_json(&state))?;
        o.write_all(b"\n")?;
    } else {
        write_text(&mut o, &state)?;
    }
    o.flush()?;
    Ok(0)
}

/// The text form of docs/spec/values.md, with the step's source line when
/// the file can still be read.
fn write_text(o: &mut impl Write, state: &State) -> Result<()> {
    let source = state
        .meta
        .as_ref()
        .and_then(|m| source_line(&m.file, m.line));
    values::text::write_state(o, state, source.as_deref())?;
    Ok(())
}

/// Line `line` (1-based) of a source file, without its newline; `None` when
/// the file cannot be read (it moved, another machine): quietly skipped.
fn source_line(file: &str, line: u32) -> Option<String> {
    let f = std::fs::File::open(file).ok()?;
    let mut bytes = Vec::new();
    f.take(MAX_SOURCE_BYTES).read_to_end(&mut bytes).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let idx = usize::try_from(line).ok()?.checked_sub(1)?;
    let l = text.lines().nth(idx)?;
    Some(l.trim_end_matches('\r').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.py");
        std::fs::write(&p, "one\r\ntwo\nthree").unwrap();
        let f = p.to_str().unwrap();
        assert_eq!(source_line(f, 1).as_deref(), Some("one"));
        assert_eq!(source_line(f, 3).as_deref(), Some("three"));
        assert_eq!(source_line(f, 4), None);
        assert_eq!(source_line(f, 0), None);
        assert_eq!(source_line("/nonexistent/x.py", 1), None);
    }
}
