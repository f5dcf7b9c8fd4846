//! Evaluation over a state built by hand: lookups, chains, identity,
//! comparisons, and the errors of what a step does not hold.

use std::sync::Arc;

use store::{Node, ObjAddr, State};
use values::kinds;

use crate::{eval, EvalError, Expr, Value};

fn node(type_name: &str, kind: u8, text: &str, items: &[u64]) -> Node {
    Node {
        type_name: Arc::from(type_name),
        kind,
        text: text.into(),
        items: items.iter().map(|a| ObjAddr(*a)).collect(),
        attrs: None,
        truncated: false,
    }
}

/// locals: xs = [3, 'a', None] (0x10), p = P(items=xs, n=3) (0x20), ys = xs;
/// globals: xs = 7 (shadowed), d = {'k': 3, 1: 'a'} (0x30), t = (3,) (0x40), s = 'héllo'.
fn state() -> State {
    let mut s = State::default();
    let h = &mut s.heap;
    h.insert(ObjAddr(1), node("int", kinds::ATOM, "3", &[]));
    h.insert(ObjAddr(2), node("str", kinds::ATOM, "'a'", &[]));
    h.insert(ObjAddr(3), node("NoneType", kinds::ATOM, "None", &[]));
    h.insert(ObjAddr(4), node("int", kinds::ATOM, "7", &[]));
    h.insert(ObjAddr(5), node("str", kinds::ATOM, "'k'", &[]));
    h.insert(ObjAddr(6), node("int", kinds::ATOM, "1", &[]));
    h.insert(ObjAddr(7), node("str", kinds::ATOM, "'héllo'", &[]));
    h.insert(ObjAddr(0x10), node("list", kinds::LIST, "", &[1, 2, 3]));
    let mut p = node("app.P", kinds::OPAQUE, "", &[]);
    p.attrs = Some(vec![
        (Arc::from("items"), ObjAddr(0x10)),
        (Arc::from("n"), ObjAddr(1)),
    ]);
    h.insert(ObjAddr(0x20), p);
    h.insert(ObjAddr(0x30), node("dict", kinds::DICT, "", &[5, 1, 6, 2]));
    h.insert(ObjAddr(0x40), node("tuple", kinds::TUPLE, "", &[1]));
    for (n, a) in [("xs", 0x10), ("p", 0x20), ("ys", 0x10)] {
        s.locals.push((Arc::from(n), ObjAddr(a)));
    }
    for (n, a) in [("xs", 4), ("d", 0x30), ("t", 0x40), ("s", 7)] {
        s.globals.push((Arc::from(n), ObjAddr(a)));
    }
    s
}

fn ev(src: &str) -> Result<Value, EvalError> {
    eval(&Expr::parse(src).unwrap(), &state())
}

fn yes(src: &str) {
    assert_eq!(ev(src), Ok(Value::Bool(true)), "{src}");
}

#[test]
fn names_chains_and_identity() {
    assert_eq!(ev("xs"), Ok(Value::Obj(ObjAddr(0x10))), "locals first");
    assert_eq!(ev("p.items[-1]"), Ok(Value::Obj(ObjAddr(3))));
    assert_eq!(ev("d['k']"), Ok(Value::Obj(ObjAddr(1))));
    assert_eq!(ev("d[1]"), Ok(Value::Obj(ObjAddr(2))));
    assert_eq!(ev("len(d) + len(xs) * 2"), Ok(Value::Int(8)));
    yes("p.items is xs and ys is xs and xs is not t");
    yes("xs[2] is None and xs[0] is not None");
    yes("p.n == 3 == t[0] and 'a' in xs and 'k' in d and 2 not in t");
}

#[test]
fn comparisons_follow_python() {
    yes("1 < 2 <= 2 and not 2 < 1 and 3 == 3.0 and True == 1");
    yes("s[1] == 'é' and len(s) == 5 and 'llo' in s");
    yes("'abc' < 'abd' and b'a' < b'b' and -7 // 2 == -4 and -7 % 2 == 1");
    yes("(xs or 0) is xs and (0 or xs) is xs and not (0 and xs)");
    yes("123456789012345678901234567890123456789012 > 5");
    assert_eq!(ev("p.n > 2 and d"), Ok(Value::Obj(ObjAddr(0x30))));
}

#[test]
fn what_a_step_does_not_hold() {
    assert_eq!(ev("nope"), Err(EvalError::Unbound("nope".into())));
    for (src, says) in [
        ("xs[3]", "out of range"),
        ("d['z']", "not in `d`"),
        ("p.missing", "no attribute `missing`"),
        ("xs['a']", "int indices"),
        ("len(p)", "no length"),
        ("xs < 3", "not defined"),
        ("p.n is 3", "`is` compares"),
        ("1 // 0", "division by zero"),
        ("p[0]", "cannot be indexed"),
    ] {
        match ev(src) {
            Err(EvalError::Invalid(m)) => assert!(m.contains(says), "{src}: {m}"),
            other => panic!("{src}: {other:?}"),
        }
    }
}
