//! Breakpoint conditions. Until hindsight has a query expression grammar
//! of its own, a condition is one comparison of a path ([`crate::expr`])
//! with a Python literal (`i == 3`, `p.name != 'ann'`, `xs[0] >= 2.5`), or
//! a path alone (true when its value is truthy: an atom that is not
//! `0`, `''`, `None` or `False`, or a non-empty container). A condition
//! that does not parse is refused when the breakpoint is set (the client
//! shows the message); one that names what is not bound at a step is
//! false there.
//!
//! This module is the seam: [`Condition::parse`] and [`Condition::holds`]
//! are all the adapter uses, so a richer grammar replaces them here.

use store::State;
use values::atoms::Atom;
use values::kinds;

use crate::expr::{atom_at, Path};

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    path: Path,
    test: Option<(Cmp, Atom)>,
}

impl Condition {
    /// Parse `PATH`, or `PATH OP LITERAL` with OP one of `== != < <= > >=`.
    pub fn parse(text: &str) -> Result<Condition, String> {
        let Some((at, op, len)) = operator(text) else {
            return Ok(Condition {
                path: Path::parse(text)?,
                test: None,
            });
        };
        let path = Path::parse(&text[..at])?;
        let right = &text[at + len..];
        let lit = Atom::parse_literal(right).ok_or_else(|| {
            format!(
                "`{}` is not a literal: compare with a number, a quoted string, True, False or None",
                right.trim()
            )
        })?;
        Ok(Condition {
            path,
            test: Some((op, lit)),
        })
    }

    /// Whether the condition holds in `state`.
    pub fn holds(&self, state: &State) -> bool {
        let Ok(addr) = self.path.resolve(state) else {
            return false;
        };
        let Some((op, lit)) = &self.test else {
            return truthy(state, addr);
        };
        let Some(value) = atom_at(state, addr) else {
            // Objects other than atoms are never equal to a literal.
            return *op == Cmp::Ne;
        };
        match op {
            Cmp::Eq => value.py_eq(lit),
            Cmp::Ne => !value.py_eq(lit),
            _ => value.py_cmp(lit).is_some_and(|o| match op {
                Cmp::Lt => o.is_lt(),
                Cmp::Le => o.is_le(),
                Cmp::Gt => o.is_gt(),
                _ => o.is_ge(),
            }),
        }
    }
}

/// Python's truth value of the object at `addr`, as far as the recording says.
fn truthy(state: &State, addr: store::ObjAddr) -> bool {
    if let Some(a) = atom_at(state, addr) {
        return a.truthy();
    }
    match state.heap.get(&addr) {
        Some(n)
            if matches!(
                n.kind,
                kinds::LIST | kinds::TUPLE | kinds::DICT | kinds::SET | kinds::FROZENSET
            ) =>
        {
            !n.items.is_empty()
        }
        Some(_) => true,
        None => false,
    }
}

/// The first comparison operator outside quotes: where, which, its length.
fn operator(text: &str) -> Option<(usize, Cmp, usize)> {
    let b = text.as_bytes();
    let mut quote = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) => {
                if c == b'\\' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None => {
                if c == b'\'' || c == b'"' {
                    quote = Some(c);
                } else {
                    let two = b.get(i + 1) == Some(&b'=');
                    let op = match (c, two) {
                        (b'=', true) => Some((Cmp::Eq, 2)),
                        (b'!', true) => Some((Cmp::Ne, 2)),
                        (b'<', true) => Some((Cmp::Le, 2)),
                        (b'>', true) => Some((Cmp::Ge, 2)),
                        (b'<', false) => Some((Cmp::Lt, 1)),
                        (b'>', false) => Some((Cmp::Gt, 1)),
                        _ => None,
                    };
                    if let Some((op, len)) = op {
                        return Some((i, op, len));
                    }
                }
            }
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use store::{Node, ObjAddr};

    fn atom(state: &mut State, addr: u64, ty: &str, text: &str) -> ObjAddr {
        state.heap.insert(
            ObjAddr(addr),
            Node {
                type_name: Arc::from(ty),
                kind: kinds::ATOM,
                text: text.into(),
                items: Vec::new(),
                attrs: None,
                truncated: false,
            },
        );
        ObjAddr(addr)
    }

    #[test]
    fn comparisons_with_literals() {
        let mut s = State::default();
        let i = atom(&mut s, 1, "int", "3");
        let n = atom(&mut s, 2, "str", "'ann'");
        s.locals = vec![(Arc::from("i"), i), (Arc::from("name"), n)];
        let holds = |c: &str| Condition::parse(c).unwrap().holds(&s);
        assert!(holds("i == 3"));
        assert!(holds("i==3.0"));
        assert!(!holds("i != 3"));
        assert!(holds("i < 4") && holds("i <= 3") && holds("i > 2") && holds("i >= 3"));
        assert!(holds("name == 'ann'") && holds("name == \"ann\""));
        assert!(!holds("name == 'a=b'"));
        assert!(holds("i") && holds("name"));
        assert!(!holds("unbound == 1"));
        assert!(Condition::parse("i == x").is_err());
        assert!(Condition::parse("i + 1 == 2").is_err());
        assert!(Condition::parse("== 2").is_err());
    }
}
