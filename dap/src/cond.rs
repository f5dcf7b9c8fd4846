//! Breakpoint conditions: an expression of the query grammar
//! (`query::Expr`, docs/spec/cli.md), true at a step when its value there
//! is truthy (`i == 3`, `p.name != 'ann' and len(xs) > 2`, `done`). A
//! condition that does not parse is refused when the breakpoint is set
//! (the client shows the message); one that cannot be evaluated at a step
//! (a name not bound there, an item out of range) is false there.

use query::Expr;
use store::State;

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    expr: Expr,
}

impl Condition {
    /// Parse an expression of the query grammar.
    pub fn parse(text: &str) -> Result<Condition, String> {
        Expr::parse(text)
            .map(|expr| Condition { expr })
            .map_err(|e| query::QueryError::parse(text.trim(), e).to_string())
    }

    /// Whether the condition holds in `state`.
    pub fn holds(&self, state: &State) -> bool {
        query::find::holds(&self.expr, state).unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use store::{Node, ObjAddr};
    use values::kinds;

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
        assert!(holds("i + 1 == 4 and len(name) == 3"));
        assert!(!holds("unbound == 1"));
        assert!(!holds("i == x"), "x is not bound: false, not an error");
        assert!(Condition::parse("i +").is_err());
        assert!(Condition::parse("== 2").is_err());
    }
}
