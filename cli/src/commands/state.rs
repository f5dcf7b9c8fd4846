//! `hindsight state` (one step, text or JSON) and `hindsight dump` (JSON
//! lines, one state per step).

use std::io::{Read, Write};
use std::path::Path;

use anyhow::Result;
use serde_json::Value;
use store::{EventKind, State, Step};
use values::render;

use crate::args::RangeArgs;
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

pub fn dump(file: &Path, range: RangeArgs) -> Result<i32> {
    let rec = Recording::open(file)?;
    let Some((from, to)) = rec.range(range.from, range.to)? else {
        return Ok(0);
    };
    let states = rec
        .reader
        .states(Step(from), Step(to))
        .map_err(|e| store_error(file, e))?;
    let mut o = out::stdout();
    for state in states {
        let state = state.map_err(|e| store_error(file, e))?;
        serde_json::to_writer(&mut o, &render::state_json(&state))?;
        o.write_all(b"\n")?;
    }
    o.flush()?;
    Ok(0)
}

/// The text form: header, source line with the position underlined,
/// stack, locals, globals, and the returned value or raised exception.
fn write_text(o: &mut impl Write, state: &State) -> Result<()> {
    let Some(meta) = &state.meta else {
        writeln!(o, "(no step)")?;
        return Ok(());
    };
    writeln!(
        o,
        "step {}  {}  thread {}  {}:{} in {}",
        meta.step.0,
        meta.event.as_str(),
        meta.thread,
        meta.file,
        meta.line,
        meta.function
    )?;
    if let Some(src) = source_line(&meta.file, meta.line) {
        let num = meta.line.to_string();
        writeln!(o, "  {num} | {src}")?;
        if let Some(p) = meta
            .position
            .filter(|p| p.line == meta.line && p.end_line == p.line)
        {
            if let Some(marks) = underline(&src, p.col, p.end_col) {
                writeln!(o, "  {} | {marks}", " ".repeat(num.len()))?;
            }
        }
    }
    writeln!(o, "Stack:")?;
    for f in &state.stack {
        writeln!(o, "  {} {}:{}", f.function, f.file, f.line)?;
    }
    let json = render::state_json(state);
    write_names(o, "Locals:", &json["locals"])?;
    write_names(o, "Globals:", &json["globals"])?;
    match meta.event {
        EventKind::Return => {
            let r = json["return"]["repr"].as_str().unwrap_or("(unknown)");
            writeln!(o, "Return: {r}")?;
        }
        EventKind::Exception => {
            let r = json["exception"]["repr"].as_str().unwrap_or("(unknown)");
            writeln!(o, "Exception: {r}")?;
        }
        _ => {}
    }
    Ok(())
}

/// `  name = repr` lines, with an instance's attributes after its repr.
fn write_names(o: &mut impl Write, title: &str, names: &Value) -> Result<()> {
    writeln!(o, "{title}")?;
    if let Some(map) = names.as_object() {
        for (name, v) in map {
            writeln!(
                o,
                "  {name} = {}{}",
                v["repr"].as_str().unwrap_or("?"),
                attrs_suffix(v)
            )?;
        }
    }
    Ok(())
}

/// ` {x=1, y=2}` for a value with `attrs`, one level deep.
fn attrs_suffix(v: &Value) -> String {
    match v.get("attrs").and_then(Value::as_object) {
        Some(attrs) => {
            let parts: Vec<String> = attrs
                .iter()
                .map(|(k, a)| format!("{k}={}", a["repr"].as_str().unwrap_or("?")))
                .collect();
            format!(" {{{}}}", parts.join(", "))
        }
        None => String::new(),
    }
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

/// `^^^^` under the UTF-8 byte columns `col..end_col` of `src`, keeping tabs
/// so the marks line up; `None` when the range does not fit the line.
fn underline(src: &str, col: u32, end_col: u32) -> Option<String> {
    let (col, end) = (col as usize, end_col as usize);
    if col >= end || end > src.len() || !src.is_char_boundary(col) || !src.is_char_boundary(end) {
        return None;
    }
    let pad: String = src[..col]
        .chars()
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    Some(format!(
        "{pad}{}",
        "^".repeat(src[col..end].chars().count())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn underline_columns() {
        assert_eq!(
            underline("    x = f(y)", 8, 12).as_deref(),
            Some("        ^^^^")
        );
        assert_eq!(underline("\tx = 1", 1, 2).as_deref(), Some("\t^"));
        // Columns are UTF-8 bytes; marks are characters.
        assert_eq!(underline("s = 'é' + t", 4, 8).as_deref(), Some("    ^^^"));
        assert_eq!(underline("x", 0, 5), None);
        assert_eq!(underline("x", 1, 1), None);
        assert_eq!(underline("é", 1, 2), None);
    }

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

    #[test]
    fn attrs_are_shown_inline() {
        let v = serde_json::json!({"repr": "<P object at 0x1>", "attrs": {"x": {"repr": "1"}, "y": {"repr": "'a'"}}});
        assert_eq!(attrs_suffix(&v), " {x=1, y='a'}");
        assert_eq!(attrs_suffix(&serde_json::json!({"repr": "1"})), "");
    }
}
