//! Nodes found at CPython's ranges of small sources.

use super::*;

fn span(line: u32, col: u32, end_line: u32, end_col: u32) -> Span {
    Span {
        line,
        end_line,
        col,
        end_col,
    }
}

fn at(nodes: &Nodes, s: Span) -> Option<(&'static str, &str)> {
    nodes.at(s, Context::default()).map(|n| (n.kind, n.text))
}

impl Nodes {
    fn at_plain(&self, s: Span) -> Option<Node<'_>> {
        self.at(s, Context::default())
    }
}

#[test]
fn a_line_step_at_a_loops_iterator_is_its_for_iter() {
    let n = Nodes::parse(
        "for i in range(3):
    pass
for x in xs:
    pass
",
    )
    .unwrap();
    let line = Context {
        line_step: true,
        for_iter_at_iterator: false,
    };
    let new = Context {
        line_step: true,
        for_iter_at_iterator: true,
    };
    let call = span(1, 9, 1, 17);
    assert_eq!(n.at(call, Context::default()).unwrap().kind, "Call");
    assert_eq!(n.at(call, line).unwrap().kind, "For");
    let name = span(3, 9, 3, 11);
    assert_eq!(n.at(name, line).unwrap().kind, "Name");
    assert_eq!(n.at(name, new).unwrap().kind, "For");
    assert!(Context::for_iter_at_iterator(3, 12, 5));
    assert!(Context::for_iter_at_iterator(3, 13, 0));
    assert!(!Context::for_iter_at_iterator(3, 12, 1));
}

#[test]
fn a_line_step_at_a_decorator_call_is_the_definition() {
    let n = Nodes::parse("@repeat(3)\n@logged\ndef f():\n    pass\n").unwrap();
    let line = Context {
        line_step: true,
        for_iter_at_iterator: true,
    };
    assert_eq!(n.at(span(1, 1, 1, 10), line).unwrap().kind, "FunctionDef");
    assert_eq!(n.at_plain(span(1, 1, 1, 10)).unwrap().kind, "Call");
    // A lone name: also the range of the line's first load.
    assert_eq!(n.at(span(2, 1, 2, 7), line).unwrap().kind, "Name");
}

#[test]
fn expressions_by_exact_range() {
    let n = Nodes::parse("x = arr[j] + (1, 2)\nf(a.b)\n").unwrap();
    assert_eq!(at(&n, span(1, 4, 1, 10)), Some(("Subscript", "arr[j]")));
    assert_eq!(
        at(&n, span(1, 4, 1, 19)),
        Some(("BinOp", "arr[j] + (1, 2)"))
    );
    assert_eq!(at(&n, span(1, 13, 1, 19)), Some(("Tuple", "(1, 2)")));
    assert_eq!(
        at(&n, span(1, 0, 1, 19)),
        Some(("Assign", "x = arr[j] + (1, 2)"))
    );
    assert_eq!(at(&n, span(1, 15, 1, 16)), None);
    // The expression statement shares its call's range: the call is found.
    assert_eq!(at(&n, span(2, 0, 2, 6)), Some(("Call", "f(a.b)")));
    assert_eq!(at(&n, span(2, 2, 2, 5)), Some(("Attribute", "a.b")));
    assert_eq!(at(&n, span(9, 0, 9, 1)), None);
}

#[test]
fn cpython_ranges_where_ruff_differs() {
    let src = "@dec\n# c\n@dec2(1)\ndef f(a):\n    if a:\n        pass\n    elif a > 1:\n        pass\n    else:\n        pass\ng(x for x in y)\n";
    let n = Nodes::parse(src).unwrap();
    let def = n.at_plain(span(4, 0, 10, 12)).unwrap();
    assert_eq!(def.kind, "FunctionDef");
    assert!(def.text.starts_with("def f(a):"), "{}", def.text);
    assert_eq!(at(&n, span(7, 4, 10, 12)).map(|x| x.0), Some("If"));
    assert_eq!(
        at(&n, span(11, 1, 11, 15)),
        Some(("GeneratorExp", "(x for x in y)"))
    );
}

#[test]
fn attribute_spanning_lines_by_its_name() {
    let src = "r = (obj\n     .meth(1))\n";
    let n = Nodes::parse(src).unwrap();
    // CPython: the method load and the call start at the name `meth`.
    assert_eq!(at(&n, span(2, 6, 2, 10)).map(|x| x.0), Some("Attribute"));
    assert_eq!(at(&n, span(2, 6, 2, 13)).map(|x| x.0), Some("Call"));
    assert_eq!(at(&n, span(1, 5, 2, 13)).map(|x| x.0), Some("Call"));
}

#[test]
fn columns_are_utf8_bytes() {
    let n = Nodes::parse("s = 'é' + t\n").unwrap();
    assert_eq!(at(&n, span(1, 11, 1, 12)), Some(("Name", "t")));
    let bom = Nodes::parse("\u{feff}y = z\n").unwrap();
    assert_eq!(at(&bom, span(1, 4, 1, 5)), Some(("Name", "z")));
}

#[test]
fn text_that_is_not_python_has_no_nodes() {
    assert!(Nodes::parse("def (:\n").is_none());
    let deep = format!("x = {}1{}\n", "(".repeat(5000), ")".repeat(5000));
    // Parenthesised, so one Constant deep: fine.
    assert!(Nodes::parse(&deep).is_some());
    let deep = format!("x = {}1{}\n", "[".repeat(5000), "]".repeat(5000));
    assert!(Nodes::parse(&deep).is_none());
    let chain = format!("x = 1{}\n", " + 1".repeat(200_000));
    assert!(Nodes::parse(&chain).is_none());
}

#[test]
fn long_text_is_cut_at_a_character() {
    let n = Nodes::parse("x = 'ééé'\n").unwrap();
    let node = n.at_plain(span(1, 4, 1, 12)).unwrap();
    assert_eq!(node.text_cut(3), ("'éé", true));
    assert_eq!(node.text_cut(30), ("'ééé'", false));
}
