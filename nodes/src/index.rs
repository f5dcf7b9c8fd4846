//! One walk of Ruff's syntax tree: every node CPython's compiler can give
//! an instruction the range of (an expression, statement, `except`
//! handler, pattern or type parameter), under CPython's class name and
//! with CPython's range.
//!
//! Left out as `executing` leaves them out: an expression statement (its
//! range is its expression's) and a `case` value pattern (its value's).
//! Where Ruff's range is not CPython's: a decorated `def`/`class` starts at
//! its keyword, not its first decorator; an `elif` is an `If` from the
//! `elif` to the end of the whole statement; a generator expression that
//! is a call's only argument includes the call's parentheses. A line step
//! can also be at a node's instruction with another node's range
//! ([`Alias`]).

use std::collections::HashMap;

use ruff_python_ast::visitor::source_order::{SourceOrderVisitor, TraversalSignal};
use ruff_python_ast::{AnyNodeRef, Expr, ModModule};
use ruff_text_size::{Ranged, TextRange, TextSize};

/// Deeper than any tree CPython compiles (its parser and compiler stop
/// far before): such a text is not indexed at all.
const MAX_DEPTH: u32 = 1000;

/// A node found: its kind, range and depth; for an attribute (or a call
/// of one), where the attribute's name starts.
pub(crate) struct Found {
    pub kind: &'static str,
    pub range: TextRange,
    pub depth: u32,
    pub name_start: Option<TextSize>,
    /// Other ranges at which a line step runs this node's instruction
    /// (a `for` loop's `FOR_ITER`, a decorated definition's decorator call).
    pub line_aliases: Vec<(TextRange, Alias)>,
}

/// When a line step at another node's range is at this node's instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alias {
    /// Always: no instruction of the other node starts a line.
    Always,
    /// When the interpreter gives `FOR_ITER` the iterator's range: the
    /// iterator is loaded by one instruction, which starts the line too.
    ForIterAtIterator,
}

/// Every node of `text`, or `None` when it does not parse or nests too deep.
pub(crate) fn index(text: &str) -> Option<Vec<Found>> {
    let parsed = match ruff_python_parser::parse_module(text) {
        Ok(p) => p,
        Err(e) => {
            log::debug!(target: "nodes", "source not parsed: {e}");
            return None;
        }
    };
    let module: ModModule = parsed.into_syntax();
    let mut walk = Walk {
        text,
        depth: 0,
        too_deep: false,
        found: Vec::new(),
        generator_ranges: HashMap::new(),
    };
    walk.visit_body(&module.body);
    if walk.too_deep {
        // Dropping the tree recurses as deep as it nests.
        std::mem::forget(module);
        log::debug!(target: "nodes", "source nests deeper than {MAX_DEPTH}: not indexed");
        return None;
    }
    Some(walk.found)
}

struct Walk<'t> {
    text: &'t str,
    depth: u32,
    too_deep: bool,
    found: Vec<Found>,
    /// CPython's range of a generator expression that is a call's only
    /// argument (the call's parentheses), by the generator's start.
    generator_ranges: HashMap<TextSize, TextRange>,
}

impl Walk<'_> {
    fn push(&mut self, kind: &'static str, range: TextRange, name_start: Option<TextSize>) {
        self.found.push(Found {
            kind,
            range,
            depth: self.depth,
            name_start,
            line_aliases: Vec::new(),
        });
    }

    /// Make the decorators' ranges (but a lone name's, which is also the
    /// range of the line's first load) line aliases of the node just pushed:
    /// a line step there is at the call applying the decorator, which
    /// `executing` names as the definition.
    fn alias_decorators(&mut self, decorators: &[ruff_python_ast::Decorator]) {
        let aliases = decorators
            .iter()
            .filter(|d| !d.expression.is_name_expr())
            .map(|d| (d.expression.range(), Alias::Always));
        if let Some(last) = self.found.last_mut() {
            last.line_aliases.extend(aliases);
        }
    }

    /// Where a decorated definition starts for CPython: its keyword, the
    /// first token after its last decorator.
    fn after_decorators(&self, last_decorator_end: TextSize, range: TextRange) -> TextRange {
        let bytes = self.text.as_bytes();
        let mut at = last_decorator_end.to_usize();
        let end = range.end().to_usize().min(bytes.len());
        while at < end {
            match bytes[at] {
                b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b'\\' => at += 1,
                b'#' => {
                    while at < end && bytes[at] != b'\n' {
                        at += 1;
                    }
                }
                _ => break,
            }
        }
        match TextSize::try_from(at) {
            Ok(start) if start <= range.end() => TextRange::new(start, range.end()),
            _ => range,
        }
    }
}

impl<'a> SourceOrderVisitor<'a> for Walk<'_> {
    fn enter_node(&mut self, node: AnyNodeRef<'a>) -> TraversalSignal {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            self.too_deep = true;
            return TraversalSignal::Skip;
        }
        let range = node.range();
        match node {
            AnyNodeRef::StmtFunctionDef(f) => {
                let range = match f.decorator_list.last() {
                    Some(d) => self.after_decorators(d.end(), range),
                    None => range,
                };
                let kind = if f.is_async {
                    "AsyncFunctionDef"
                } else {
                    "FunctionDef"
                };
                self.push(kind, range, None);
                self.alias_decorators(&f.decorator_list);
            }
            AnyNodeRef::StmtClassDef(c) => {
                let range = match c.decorator_list.last() {
                    Some(d) => self.after_decorators(d.end(), range),
                    None => range,
                };
                self.push("ClassDef", range, None);
                self.alias_decorators(&c.decorator_list);
            }
            AnyNodeRef::StmtIf(s) => {
                self.push("If", range, None);
                for clause in s.elif_else_clauses.iter().filter(|c| c.test.is_some()) {
                    let elif = TextRange::new(clause.start(), range.end());
                    self.push("If", elif, None);
                }
            }
            AnyNodeRef::ExprCall(call) => {
                let args = &call.arguments;
                if let ([Expr::Generator(g)], true) = (&args.args[..], args.keywords.is_empty()) {
                    if !g.parenthesized {
                        self.generator_ranges.insert(g.start(), args.range());
                    }
                }
                let name = match &*call.func {
                    Expr::Attribute(a) => Some(a.attr.start()),
                    _ => None,
                };
                self.push("Call", range, name);
            }
            AnyNodeRef::ExprGenerator(g) => {
                let range = self
                    .generator_ranges
                    .get(&g.start())
                    .copied()
                    .unwrap_or(range);
                self.push("GeneratorExp", range, None);
            }
            AnyNodeRef::StmtFor(f) if !f.is_async => {
                self.push("For", range, None);
                let alias = if loaded_at_once(&f.iter) {
                    Alias::ForIterAtIterator
                } else {
                    Alias::Always
                };
                if let Some(last) = self.found.last_mut() {
                    last.line_aliases.push((f.iter.range(), alias));
                }
            }
            AnyNodeRef::ExprAttribute(a) => self.push("Attribute", range, Some(a.attr.start())),
            other => {
                if let Some(kind) = kind_of(other) {
                    self.push(kind, range, None);
                }
            }
        }
        TraversalSignal::Traverse
    }

    fn leave_node(&mut self, _node: AnyNodeRef<'a>) {
        self.depth -= 1;
    }
}

/// Whether one instruction loads the value of `e`: a name, a constant, or
/// a list, tuple or set of constants (which the compiler folds into one).
fn loaded_at_once(e: &Expr) -> bool {
    let constant = |e: &Expr| e.is_literal_expr();
    match e {
        Expr::Name(_) => true,
        Expr::List(l) => l.elts.iter().all(constant),
        Expr::Tuple(t) => t.elts.iter().all(constant),
        Expr::Set(s) => s.elts.iter().all(constant),
        other => constant(other),
    }
}

/// CPython's `ast` class name of the nodes not handled on their own in
/// [`Walk::enter_node`]; `None` for the nodes no instruction is given the
/// range of.
fn kind_of(node: AnyNodeRef<'_>) -> Option<&'static str> {
    use AnyNodeRef as N;
    Some(match node {
        N::StmtReturn(_) => "Return",
        N::StmtDelete(_) => "Delete",
        N::StmtTypeAlias(_) => "TypeAlias",
        N::StmtAssign(_) => "Assign",
        N::StmtAugAssign(_) => "AugAssign",
        N::StmtAnnAssign(_) => "AnnAssign",
        N::StmtFor(_) => "AsyncFor",
        N::StmtWhile(_) => "While",
        N::StmtWith(s) if s.is_async => "AsyncWith",
        N::StmtWith(_) => "With",
        N::StmtMatch(_) => "Match",
        N::StmtRaise(_) => "Raise",
        N::StmtTry(s) if s.is_star => "TryStar",
        N::StmtTry(_) => "Try",
        N::StmtAssert(_) => "Assert",
        N::StmtImport(_) => "Import",
        N::StmtImportFrom(_) => "ImportFrom",
        N::StmtGlobal(_) => "Global",
        N::StmtNonlocal(_) => "Nonlocal",
        N::StmtPass(_) => "Pass",
        N::StmtBreak(_) => "Break",
        N::StmtContinue(_) => "Continue",
        N::ExprBoolOp(_) => "BoolOp",
        N::ExprNamed(_) => "NamedExpr",
        N::ExprBinOp(_) => "BinOp",
        N::ExprUnaryOp(_) => "UnaryOp",
        N::ExprLambda(_) => "Lambda",
        N::ExprIf(_) => "IfExp",
        N::ExprDict(_) => "Dict",
        N::ExprSet(_) => "Set",
        N::ExprListComp(_) => "ListComp",
        N::ExprSetComp(_) => "SetComp",
        N::ExprDictComp(_) => "DictComp",
        N::ExprAwait(_) => "Await",
        N::ExprYield(_) => "Yield",
        N::ExprYieldFrom(_) => "YieldFrom",
        N::ExprCompare(_) => "Compare",
        N::ExprFString(_) => "JoinedStr",
        N::ExprTString(_) => "TemplateStr",
        N::ExprStringLiteral(_)
        | N::ExprBytesLiteral(_)
        | N::ExprNumberLiteral(_)
        | N::ExprBooleanLiteral(_)
        | N::ExprNoneLiteral(_)
        | N::ExprEllipsisLiteral(_)
        | N::InterpolatedStringLiteralElement(_) => "Constant",
        N::ExprSubscript(_) => "Subscript",
        N::ExprStarred(_) => "Starred",
        N::ExprName(_) => "Name",
        N::ExprList(_) => "List",
        N::ExprTuple(_) => "Tuple",
        N::ExprSlice(_) => "Slice",
        N::ExceptHandlerExceptHandler(_) => "ExceptHandler",
        N::InterpolatedElement(_) => "FormattedValue",
        N::PatternMatchSingleton(_) => "MatchSingleton",
        N::PatternMatchSequence(_) => "MatchSequence",
        N::PatternMatchMapping(_) => "MatchMapping",
        N::PatternMatchClass(_) => "MatchClass",
        N::PatternMatchStar(_) => "MatchStar",
        N::PatternMatchAs(_) => "MatchAs",
        N::PatternMatchOr(_) => "MatchOr",
        N::TypeParamTypeVar(_) => "TypeVar",
        N::TypeParamTypeVarTuple(_) => "TypeVarTuple",
        N::TypeParamParamSpec(_) => "ParamSpec",
        _ => return None,
    })
}
