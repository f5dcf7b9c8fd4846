//! The AST node of a step (docs/spec/values.md, `node`): the recorded
//! source of the step's file parsed once per file, the node looked up by
//! the step's instruction position. Computed at query time from the
//! source segments the recording keeps, so recordings need nothing more.

use std::collections::HashMap;

use serde_json::{json, Map, Value};
use store::{EventKind, Position, Reader};

/// The most characters of a node's text shown: a definition's node is
/// its whole body.
pub const MAX_NODE_TEXT: usize = 200;

/// The most parsed files kept at once: a listing that goes through more
/// files parses some again rather than holding every file's tree.
const MAX_PARSED_FILES: usize = 32;

/// The parsed sources of the files steps name, each parsed at its first use.
pub struct NodeFinder<'r> {
    reader: &'r Reader,
    files: HashMap<String, Option<nodes::Nodes>>,
    /// Whether the recorded interpreter gives `FOR_ITER` its loop's
    /// iterator's range (3.12.5+).
    for_iter_at_iterator: bool,
}

impl<'r> NodeFinder<'r> {
    /// A finder reading the sources `reader` keeps.
    pub fn new(reader: &'r Reader) -> NodeFinder<'r> {
        let version = interpreter_version(&reader.header().interpreter);
        NodeFinder {
            reader,
            files: HashMap::new(),
            for_iter_at_iterator: version
                .is_some_and(|(a, b, c)| nodes::Context::for_iter_at_iterator(a, b, c)),
        }
    }

    /// The node at `position` in `file`: `None` with no position (before
    /// 3.11, a call step), no kept text, text that does not parse, or no
    /// node with that range.
    pub fn node(
        &mut self,
        file: &str,
        event: EventKind,
        position: Option<Position>,
    ) -> Option<nodes::Node<'_>> {
        let p = position?;
        if !self.files.contains_key(file) {
            if self.files.len() >= MAX_PARSED_FILES {
                self.files.clear();
            }
            let parsed = self
                .reader
                .source(file)
                .and_then(|s| s.text.as_deref().and_then(nodes::Nodes::parse));
            self.files.insert(file.to_string(), parsed);
        }
        let context = nodes::Context {
            line_step: event == EventKind::Line,
            for_iter_at_iterator: self.for_iter_at_iterator,
        };
        let span = nodes::Span {
            line: p.line,
            end_line: p.end_line,
            col: p.col,
            end_col: p.end_col,
        };
        self.files.get(file)?.as_ref()?.at(span, context)
    }

    /// The node as JSON: `{"type", "text"}` (and `"truncated": true` when
    /// the text was cut), or `null`.
    pub fn node_json(&mut self, file: &str, event: EventKind, position: Option<Position>) -> Value {
        match self.node(file, event, position) {
            Some(n) => {
                let (text, cut) = n.text_cut(MAX_NODE_TEXT);
                let mut v = json!({"type": n.kind, "text": text});
                if let (true, Value::Object(o)) = (cut, &mut v) {
                    o.insert("truncated".into(), Value::Bool(true));
                }
                v
            }
            None => Value::Null,
        }
    }
}

/// `(3, 12, 1)` of a recording's `CPython 3.12.1`.
fn interpreter_version(interpreter: &str) -> Option<(u32, u32, u32)> {
    let version = interpreter.strip_prefix("CPython ")?;
    let mut parts = version.split('.').map(|p| {
        let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u32>().ok()
    });
    Some((
        parts.next()??,
        parts.next()??,
        parts.next().flatten().unwrap_or(0),
    ))
}

/// Put `node` into a step's JSON object after its `position` (and its
/// `instruction`, on an opcode step).
pub fn insert_node(step: &mut Value, node: Value) {
    let Value::Object(o) = step else {
        return;
    };
    let at = position_end(o);
    o.shift_insert(at, "node".to_string(), node);
}

/// The index just past `position` and `instruction` (or the end).
fn position_end(o: &Map<String, Value>) -> usize {
    ["instruction", "position"]
        .iter()
        .find_map(|k| o.keys().position(|key| key == k))
        .map_or(o.len(), |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_of_interpreters() {
        assert_eq!(interpreter_version("CPython 3.12.1"), Some((3, 12, 1)));
        assert_eq!(interpreter_version("CPython 3.13.0rc2"), Some((3, 13, 0)));
        assert_eq!(interpreter_version("CPython 3.14"), Some((3, 14, 0)));
        assert_eq!(interpreter_version(""), None);
        assert_eq!(interpreter_version("PyPy 7.3"), None);
    }

    #[test]
    fn node_goes_after_position_and_instruction() {
        let mut v = json!({"step": 1, "position": null, "instruction": {}, "stack": []});
        insert_node(&mut v, Value::Null);
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["step", "position", "instruction", "node", "stack"]);
    }
}
