//! The grammar: what parses, how it groups, and the errors of what does not.

use super::*;

fn p(s: &str) -> Expr {
    Expr::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn err(s: &str) -> ParseError {
    Expr::parse(s).expect_err(s)
}

#[test]
fn chains_and_precedence() {
    assert_eq!(
        p("self.items[3].x"),
        Expr::Attr(
            Box::new(Expr::Index(
                Box::new(Expr::Attr(
                    Box::new(Expr::Name("self".into())),
                    "items".into()
                )),
                Box::new(Expr::Lit(Literal::Int("3".into())))
            )),
            "x".into()
        )
    );
    assert_eq!(
        p("a or b and not c").to_string(),
        "(a) or ((b) and (not (c)))"
    );
    assert_eq!(
        p("1 + 2 * x < 3 <= y").to_string(),
        "(1 + (2 * x)) < 3 <= y"
    );
    assert_eq!(
        p("x not in d and y is not None").to_string(),
        "(x not in d) and (y is not None)"
    );
    assert_eq!(p("len(X) > 5 and X[0] < 10").names(), ["X"]);
    assert_eq!(p("d['k'] == b'\\x00' or e[-1] == 0x10").names(), ["d", "e"]);
    assert_eq!(p("'a' 'b'"), Expr::Lit(Literal::Str("ab".into())));
    assert_eq!(p("1_000 + .5 + 1e3").to_string(), "((1000 + 0.5) + 1000.0)");
    assert_eq!(p("ünï"), Expr::Name("ünï".into()));
}

#[test]
fn what_the_grammar_does_not_take() {
    for (s, says) in [
        ("", "empty"),
        ("f(x)", "only `len(...)`"),
        ("a[1:2]", "slices"),
        ("lambda: 1", "`lambda`"),
        ("a +", "ends where a value"),
        ("(a, b)", "tuples"),
        ("a b", "name `b`"),
        ("'abc", "not closed"),
        ("a ** 2", "`**`"),
        ("x = 1", "unexpected `=`"),
        ("[1]", "list displays"),
        ("a.1", "unexpected number"),
        ("a.(b)", "attribute name"),
        ("'\\q'", "unknown escape"),
    ] {
        let e = err(s);
        assert!(e.to_string().contains(says), "{s}: {e}");
    }
    let deep = format!("{}x{}", "(".repeat(200), ")".repeat(200));
    assert!(err(&deep).to_string().contains("deeper"));
    let long = "x+".repeat(3000) + "x";
    assert!(err(&long).to_string().contains("longer"));
    let nots = "not ".repeat(500) + "x";
    assert!(err(&nots).to_string().contains("deeper"));
}
