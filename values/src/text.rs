//! The text form of a recorded state, as `hindsight state` prints it: the
//! same values as the JSON form ([`crate::render`]), laid out for a person.

use std::io::{self, Write};

use std::collections::HashMap;

use std::sync::Arc;

use store::{EventKind, ObjAddr, State};

use crate::kinds;
use crate::render::{exception_text, named_repr, repr, text_repr_in, Budget};

/// The text form of a state: header, the step's source line (`source`,
/// when the caller could read it) with the position underlined, stack,
/// locals, globals, and the returned value or raised exception.
pub fn write_state(o: &mut impl Write, state: &State, source: Option<&str>) -> io::Result<()> {
    write_state_node(o, state, source, None)
}

/// [`write_state`] naming the AST node of the step's instruction
/// (`node`, its `ast` class name) after the marks under the source line;
/// a node spanning lines is underlined to the end of the first and says
/// where it ends.
pub fn write_state_node(
    o: &mut impl Write,
    state: &State,
    source: Option<&str>,
    node: Option<&str>,
) -> io::Result<()> {
    let Some(meta) = &state.meta else {
        writeln!(o, "(no step)")?;
        return Ok(());
    };
    let event = match &meta.instruction {
        Some(i) => format!("{} {}@{}", meta.event.as_str(), i.name, i.offset),
        None => meta.event.as_str().to_string(),
    };
    writeln!(
        o,
        "step {}  {}  thread {}  {}:{} in {}",
        meta.step.0, event, meta.thread, meta.file, meta.line, meta.function
    )?;
    if let Some(src) = source {
        let num = meta.line.to_string();
        writeln!(o, "  {num} | {src}")?;
        if let Some(marks) = position_marks(src, meta.line, meta.position, node) {
            writeln!(o, "  {} | {marks}", " ".repeat(num.len()))?;
        }
    }
    writeln!(o, "Stack:")?;
    for f in &state.stack {
        writeln!(o, "  {} {}:{}", f.function, f.file, f.line)?;
    }
    let mut shown = HashMap::new();
    writeln!(o, "Locals:")?;
    write_names(o, state, &state.locals, &mut shown)?;
    writeln!(o, "Globals:")?;
    let globals: Vec<_> = state
        .globals
        .iter()
        .filter(|(n, _)| !crate::render::is_dunder(n))
        .cloned()
        .collect();
    write_names(o, state, &globals, &mut shown)?;
    match (meta.event, meta.value) {
        (EventKind::Return, Some(a)) => writeln!(o, "Return: {}", value_text(state, a))?,
        (EventKind::Exception, Some(a)) => {
            writeln!(o, "Exception: {}", exception_text(state, a))?;
        }
        (EventKind::Return | EventKind::Exception, None) => {
            writeln!(o, "{:?}: (unknown)", meta.event)?
        }
        _ => {}
    }
    Ok(())
}

/// `  name = value` lines. A name bound to an object an earlier line showed
/// says so (`  (same object as a)`): what aliasing looks like. Atoms (ints,
/// strs, ...) are left out: CPython shares equal small ones on its own, and
/// they cannot change.
fn write_names(
    o: &mut impl Write,
    state: &State,
    names: &[(std::sync::Arc<str>, ObjAddr)],
    shown: &mut HashMap<ObjAddr, String>,
) -> io::Result<()> {
    for (name, addr) in names {
        let shared = state
            .heap
            .get(addr)
            .filter(|n| n.kind != kinds::ATOM)
            .and_then(|_| shown.get(addr));
        match shared {
            Some(first) => writeln!(
                o,
                "  {name} = {}  (same object as {first})",
                value_text(state, *addr)
            )?,
            None => writeln!(o, "  {name} = {}", value_text(state, *addr))?,
        }
        shown.entry(*addr).or_insert_with(|| name.to_string());
    }
    Ok(())
}

/// How the text form shows one value: its repr, followed by an instance's
/// attributes (` {x=1, y=2}`). A function, class or module whose node
/// carries its name (`text`) shows it as CPython's own repr does, at the
/// top and inside containers and attributes alike ([`text_repr_in`]).
pub fn value_text(state: &State, addr: ObjAddr) -> String {
    let Some(node) = state.heap.get(&addr) else {
        return repr(state, addr);
    };
    if node.kind == kinds::OPAQUE && !node.text.is_empty() {
        // A class of a metaclass defined in Python carries (empty) attrs:
        // its namespace is not attributes of a value (values.md).
        return named_repr(&node.type_name, &node.text, addr);
    }
    let mut budget = Budget::new();
    let shown = text_repr_in(state, addr, &mut budget).0;
    match &node.attrs {
        None => shown,
        Some(attrs) => format!("{shown}{}", attrs_suffix(state, attrs, &mut budget)),
    }
}

/// ` {x=1, y=2}`: an instance's attributes, one level deep, charged to the
/// value's `budget` as the JSON form charges them.
fn attrs_suffix(state: &State, attrs: &[(Arc<str>, ObjAddr)], budget: &mut Budget) -> String {
    let mut parts = Vec::with_capacity(attrs.len());
    for (name, child) in attrs {
        if budget.left() == 0 {
            parts.push("...".to_string());
            break;
        }
        budget.spend(name.len() + 32);
        parts.push(format!("{name}={}", text_repr_in(state, *child, budget).0));
    }
    format!(" {{{}}}", parts.join(", "))
}

/// The marks under the step's line: its position's range, followed by the
/// node's name when there is one (a range spanning lines is marked only
/// when it is a node's: to the end of the line, and where it ends).
fn position_marks(
    src: &str,
    line: u32,
    position: Option<store::Position>,
    node: Option<&str>,
) -> Option<String> {
    let p = position.filter(|p| p.line == line)?;
    match (p.end_line == p.line, node) {
        (true, None) => underline(src, p.col, p.end_col),
        (true, Some(kind)) => Some(format!("{} {kind}", underline(src, p.col, p.end_col)?)),
        (false, Some(kind)) => {
            let end = u32::try_from(src.trim_end().len()).ok()?;
            let marks = underline(src, p.col, end)?;
            Some(format!("{marks} {kind} (to line {})", p.end_line))
        }
        (false, None) => None,
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
    use crate::render::value_json;

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

    fn state_with(nodes: &[(u64, u8, &str, &str)], names: &[(&str, u64)]) -> State {
        let mut s = State::default();
        for (a, kind, ty, text) in nodes {
            s.heap.insert(
                ObjAddr(*a),
                store::Node {
                    type_name: (*ty).into(),
                    kind: *kind,
                    text: (*text).into(),
                    items: vec![],
                    attrs: None,
                    truncated: false,
                },
            );
        }
        s.globals = names
            .iter()
            .map(|(n, a)| ((*n).into(), ObjAddr(*a)))
            .collect();
        s
    }

    #[test]
    fn shared_objects_are_marked() {
        let s = state_with(
            &[(1, kinds::LIST, "list", ""), (2, kinds::ATOM, "int", "5")],
            &[("a", 1), ("b", 1), ("i", 2), ("j", 2), ("__name__", 1)],
        );
        let mut out = Vec::new();
        write_names(&mut out, &s, &s.globals[..4], &mut HashMap::new()).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "  a = []\n  b = []  (same object as a)\n  i = 5\n  j = 5\n"
        );
    }

    #[test]
    fn named_objects_show_their_names() {
        let mut s = state_with(
            &[
                (0x10, kinds::OPAQUE, "function", "bubble"),
                (0x20, kinds::OPAQUE, "type", "app.P"),
                (0x30, kinds::OPAQUE, "module", "os"),
                (0x40, kinds::OPAQUE, "function", ""),
                (0x50, kinds::OPAQUE, "abc.ABCMeta", "app.Shape"),
                (0x60, kinds::OPAQUE, "type", "int"),
                (0x70, kinds::OPAQUE, "module", ""),
                (0x80, kinds::ATOM, "str", "'os'"),
            ],
            &[],
        );
        // A class of a metaclass defined in Python: attrs, and empty ones.
        s.heap.get_mut(&ObjAddr(0x50)).unwrap().attrs = Some(vec![]);
        assert_eq!(value_text(&s, ObjAddr(0x10)), "<function bubble at 0x10>");
        assert_eq!(value_text(&s, ObjAddr(0x20)), "<class 'app.P'>");
        assert_eq!(value_text(&s, ObjAddr(0x30)), "<module 'os'>");
        // A class of a metaclass, a static type.
        assert_eq!(value_text(&s, ObjAddr(0x50)), "<class 'app.Shape'>");
        assert_eq!(value_text(&s, ObjAddr(0x60)), "<class 'int'>");
        // Without a name: what the JSON form says.
        assert_eq!(value_text(&s, ObjAddr(0x40)), "<function object at 0x40>");
        assert_eq!(value_text(&s, ObjAddr(0x70)), "<module object at 0x70>");
        assert_eq!(value_text(&s, ObjAddr(0x80)), "'os'");
        // The JSON form does not change: a name is for the text form only.
        for (a, repr) in [
            (0x10, "<function object at 0x10>"),
            (0x20, "<type object at 0x20>"),
            (0x30, "<module object at 0x30>"),
            (0x50, "<abc.ABCMeta object at 0x50>"),
        ] {
            assert_eq!(value_json(&s, ObjAddr(a), 1)["repr"], repr);
        }
    }

    #[test]
    fn attrs_are_shown_inline() {
        let mut s = state_with(
            &[
                (0x1, kinds::OPAQUE, "app.P", ""),
                (0x2, kinds::ATOM, "int", "1"),
                (0x3, kinds::ATOM, "str", "'a'"),
            ],
            &[],
        );
        s.heap.get_mut(&ObjAddr(0x1)).unwrap().attrs =
            Some(vec![("x".into(), ObjAddr(0x2)), ("y".into(), ObjAddr(0x3))]);
        assert_eq!(
            value_text(&s, ObjAddr(0x1)),
            "<app.P object at 0x1> {x=1, y='a'}"
        );
        s.heap.get_mut(&ObjAddr(0x1)).unwrap().attrs = Some(vec![]);
        assert_eq!(value_text(&s, ObjAddr(0x1)), "<app.P object at 0x1> {}");
    }

    #[test]
    fn named_objects_inside_values_show_their_names() {
        let mut s = state_with(
            &[
                (0x10, kinds::OPAQUE, "function", "bubble"),
                (0x20, kinds::OPAQUE, "type", "app.P"),
                (0x30, kinds::OPAQUE, "module", "os"),
                (0x40, kinds::OPAQUE, "function", ""),
                (0x50, kinds::OPAQUE, "app.Q", ""),
                (0x60, kinds::OPAQUE, "builtins.ValueError", ""),
            ],
            &[],
        );
        let list = |items: &[u64]| store::Node {
            type_name: "list".into(),
            kind: kinds::LIST,
            text: String::new(),
            items: items.iter().map(|a| ObjAddr(*a)).collect(),
            attrs: None,
            truncated: false,
        };
        s.heap
            .insert(ObjAddr(0x100), list(&[0x10, 0x20, 0x30, 0x40]));
        s.heap.insert(ObjAddr(0x101), list(&[0x100]));
        let mut d = list(&[0x30, 0x10]);
        d.kind = kinds::DICT;
        d.type_name = "dict".into();
        s.heap.insert(ObjAddr(0x102), d);
        assert_eq!(
            value_text(&s, ObjAddr(0x101)),
            "[[<function bubble at 0x10>, <class 'app.P'>, <module 'os'>, <function object at 0x40>]]"
        );
        assert_eq!(
            value_text(&s, ObjAddr(0x102)),
            "{<module 'os'>: <function bubble at 0x10>}"
        );
        // An attribute, and an instance's attributes one level deep.
        s.heap.get_mut(&ObjAddr(0x50)).unwrap().attrs = Some(vec![
            ("f".into(), ObjAddr(0x10)),
            ("l".into(), ObjAddr(0x100)),
        ]);
        assert_eq!(
            value_text(&s, ObjAddr(0x50)),
            "<app.Q object at 0x50> {f=<function bubble at 0x10>, \
             l=[<function bubble at 0x10>, <class 'app.P'>, <module 'os'>, <function object at 0x40>]}"
        );
        // The JSON form keeps object.__repr__ inside values too.
        assert_eq!(
            value_json(&s, ObjAddr(0x101), 1)["repr"],
            "[[<function object at 0x10>, <type object at 0x20>, <module object at 0x30>, <function object at 0x40>]]"
        );
        // An exception's arguments.
        let mut args = list(&[0x10]);
        args.kind = kinds::TUPLE;
        args.type_name = "tuple".into();
        s.heap.insert(ObjAddr(0x103), args);
        s.heap.get_mut(&ObjAddr(0x60)).unwrap().items = vec![ObjAddr(0x103)];
        assert_eq!(
            exception_text(&s, ObjAddr(0x60)),
            "ValueError(<function bubble at 0x10>)"
        );
        assert_eq!(
            crate::render::exception_json(&s, ObjAddr(0x60))["repr"],
            "ValueError(<function object at 0x10>)"
        );
    }
}
