//! The AST node a step's instruction runs: the recorded source parsed with
//! Ruff's Python parser, its nodes indexed by the source range CPython gives
//! the same node (PEP 657 positions), looked up by an instruction's range.
//!
//! CPython 3.11+ gives each instruction the range of the AST node it was
//! compiled from, so the node with exactly that range is the one running
//! (the rule of the `executing` library). The node kinds are CPython's
//! `ast` class names, and the ranges are CPython's where Ruff's differ
//! (decorated definitions, `elif`, a generator that is a call's only
//! argument): see [`index`].

mod index;

use index::Alias;

use std::collections::HashMap;

use ruff_text_size::TextRange;

/// An instruction's source range, as CPython's `co_positions()` gives it:
/// 1-based lines, 0-based columns in UTF-8 bytes of their line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    /// The line the range starts on.
    pub line: u32,
    /// The line the range ends on.
    pub end_line: u32,
    /// The column the range starts at, on `line`.
    pub col: u32,
    /// The column just past the range's end, on `end_line`.
    pub end_col: u32,
}

/// What is known of a step's instruction beyond its range.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Context {
    /// The step is a line step: its instruction is the first of its line,
    /// or the `FOR_ITER` a loop jumps back to.
    pub line_step: bool,
    /// The interpreter gives a `for` loop's `FOR_ITER` the range of the
    /// loop's iterator (CPython 3.12.5+), not the whole loop's.
    pub for_iter_at_iterator: bool,
}

impl Context {
    /// Whether CPython `major.minor.micro` gives `FOR_ITER` the iterator's
    /// range (python/cpython#93691, in 3.12.5).
    pub fn for_iter_at_iterator(major: u32, minor: u32, micro: u32) -> bool {
        (major, minor, micro) >= (3, 12, 5)
    }
}

/// One node found at a span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node<'a> {
    /// CPython's `ast` class name of the node (`Subscript`, `Call`, ...).
    pub kind: &'static str,
    /// The node's source text (the whole of it: a `def` spans its body).
    pub text: &'a str,
    /// Where the node is.
    pub span: Span,
}

impl Node<'_> {
    /// The text cut to at most `max` characters (whole characters), and
    /// whether it was cut: a definition's node is its whole body.
    pub fn text_cut(&self, max: usize) -> (&str, bool) {
        match self.text.char_indices().nth(max) {
            Some((at, _)) => (&self.text[..at], true),
            None => (self.text, false),
        }
    }
}

/// The nodes of one source file, by their CPython ranges.
#[derive(Debug)]
pub struct Nodes {
    text: String,
    /// Byte offset of each line's start (line 1 at index 0).
    line_starts: Vec<usize>,
    /// The node of each exact range: the innermost one where several
    /// share it.
    exact: HashMap<Span, Entry>,
    /// Attributes (and method calls) spanning lines, by the range CPython
    /// gives their instructions: it starts at the attribute's name.
    shifted: HashMap<Span, Entry>,
    /// The nodes a line step at another node's range is at (a `for`
    /// loop at its iterator's, a definition at a decorator's), and when.
    line_aliases: HashMap<Span, (Entry, Alias)>,
}

/// A node in the index.
#[derive(Debug, Clone, Copy)]
struct Entry {
    kind: &'static str,
    range: TextRange,
    depth: u32,
}

impl Nodes {
    /// Parse `text`; `None` when it is not Python the parser accepts (or
    /// nests deeper than any program CPython compiles).
    pub fn parse(text: &str) -> Option<Nodes> {
        let mut nodes = Nodes {
            text: text.to_string(),
            line_starts: line_starts(text),
            exact: HashMap::new(),
            shifted: HashMap::new(),
            line_aliases: HashMap::new(),
        };
        for found in index::index(text)? {
            let Some(span) = nodes.span_of(found.range) else {
                continue;
            };
            let entry = Entry {
                kind: found.kind,
                range: found.range,
                depth: found.depth,
            };
            insert_innermost(&mut nodes.exact, span, entry);
            // CPython starts the range of an attribute spanning lines (and
            // of a call of one) at the attribute's name.
            let shifted = found
                .name_start
                .and_then(|at| nodes.span_of(TextRange::new(at, found.range.end())))
                .filter(|s| s.line != span.line);
            if let Some(s) = shifted {
                insert_innermost(&mut nodes.shifted, s, entry);
            }
            for (range, alias) in &found.line_aliases {
                if let Some(s) = nodes.span_of(*range) {
                    nodes.line_aliases.insert(s, (entry, *alias));
                }
            }
        }
        log::debug!(target: "nodes", "{} node ranges indexed", nodes.exact.len());
        Some(nodes)
    }

    /// The node CPython compiled an instruction with range `span` from:
    /// the node with exactly that range, or else the attribute (or method
    /// call) spanning lines whose instructions start at its name.
    ///
    /// A line step at a `for` loop's iterator is at the loop's `FOR_ITER`
    /// (the loop's node, as `executing` names it) when one instruction
    /// cannot be both: the iterator takes several to compute (the first
    /// of its line would be another's), or the interpreter gives
    /// `FOR_ITER` the iterator's range (then the more frequent of the
    /// two, an iteration's, is named rather than the loop's first load).
    /// A line step at a decorator that is not a lone name is at the call
    /// applying it: the decorated definition's node.
    pub fn at(&self, span: Span, context: Context) -> Option<Node<'_>> {
        let alias = self
            .line_aliases
            .get(&span)
            .filter(|(_, alias)| {
                context.line_step && (*alias == Alias::Always || context.for_iter_at_iterator)
            })
            .map(|(entry, _)| entry);
        let entry = alias
            .or_else(|| self.exact.get(&span))
            .or_else(|| self.shifted.get(&span))?;
        let text = self
            .text
            .get(entry.range.start().to_usize()..entry.range.end().to_usize())?;
        let span = self.span_of(entry.range)?;
        Some(Node {
            kind: entry.kind,
            text,
            span,
        })
    }

    /// CPython's range of a byte range of the text.
    fn span_of(&self, range: TextRange) -> Option<Span> {
        let (line, col) = self.line_col(range.start().to_usize())?;
        let (end_line, end_col) = self.line_col(range.end().to_usize())?;
        Some(Span {
            line,
            end_line,
            col,
            end_col,
        })
    }

    /// 1-based line and 0-based byte column of a byte offset. A byte
    /// order mark is not part of line 1 for CPython's columns.
    fn line_col(&self, offset: usize) -> Option<(u32, u32)> {
        let idx = self.line_starts.partition_point(|&s| s <= offset) - 1;
        let mut start = self.line_starts[idx];
        if idx == 0 && self.text.starts_with('\u{feff}') {
            start = '\u{feff}'.len_utf8();
        }
        let col = offset.checked_sub(start)?;
        Some((u32::try_from(idx + 1).ok()?, u32::try_from(col).ok()?))
    }
}

/// Keep the innermost of the nodes sharing a range: the one an
/// instruction with that range runs (an outer node sharing its inner
/// node's range adds no instruction of its own there).
fn insert_innermost(map: &mut HashMap<Span, Entry>, span: Span, entry: Entry) {
    if map.get(&span).is_none_or(|old| old.depth < entry.depth) {
        map.insert(span, entry);
    }
}

/// The byte offset at which each line starts.
fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

#[cfg(test)]
mod tests;
