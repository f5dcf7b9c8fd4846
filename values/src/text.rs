//! The text form of a recorded state, as `hindsight state` prints it: the
//! same values as the JSON form ([`crate::render`]), laid out for a person.

use std::io::{self, Write};

use serde_json::Value;
use store::{EventKind, State};

use crate::render::state_json;

/// The text form of a state: header, the step's source line (`source`,
/// when the caller could read it) with the position underlined, stack,
/// locals, globals, and the returned value or raised exception.
pub fn write_state(o: &mut impl Write, state: &State, source: Option<&str>) -> io::Result<()> {
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
    if let Some(src) = source {
        let num = meta.line.to_string();
        writeln!(o, "  {num} | {src}")?;
        if let Some(p) = meta
            .position
            .filter(|p| p.line == meta.line && p.end_line == p.line)
        {
            if let Some(marks) = underline(src, p.col, p.end_col) {
                writeln!(o, "  {} | {marks}", " ".repeat(num.len()))?;
            }
        }
    }
    writeln!(o, "Stack:")?;
    for f in &state.stack {
        writeln!(o, "  {} {}:{}", f.function, f.file, f.line)?;
    }
    let json = state_json(state);
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
fn write_names(o: &mut impl Write, title: &str, names: &Value) -> io::Result<()> {
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

/// `^^^^` under the UTF-8 byte columns `col..end_col` of `src`, keeping tabs
/// so the marks line up; `None` when the range does not fit the line.
pub fn underline(src: &str, col: u32, end_col: u32) -> Option<String> {
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
    fn attrs_are_shown_inline() {
        let v = serde_json::json!({"repr": "<P object at 0x1>", "attrs": {"x": {"repr": "1"}, "y": {"repr": "'a'"}}});
        assert_eq!(attrs_suffix(&v), " {x=1, y='a'}");
        assert_eq!(attrs_suffix(&serde_json::json!({"repr": "1"})), "");
    }
}
