//! The expressions `evaluate` and breakpoint conditions read: a name, then
//! any chain of `.attribute` and `[literal]` (`p.items[0]`, `d['key']`),
//! resolved in a recorded state: the name among the frame's locals, then
//! its globals; an attribute among an instance's recorded attributes; an
//! index in a list or tuple (negative from the end), a key among a dict's
//! keys whose value equals the literal.

use store::{ObjAddr, State};
use values::atoms::Atom;
use values::kinds;

/// One link of a chain.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// `.name`
    Attr(String),
    /// `[literal]`
    Index(Atom),
}

/// A name and its chain.
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    /// The name looked up first.
    pub name: String,
    /// What follows it.
    pub parts: Vec<Part>,
}

impl Path {
    /// Parse `name(.attr|[literal])*`, spaces allowed around the links.
    pub fn parse(text: &str) -> Result<Path, String> {
        let mut p = Parser { s: text, i: 0 };
        p.space();
        let name = p.ident().ok_or_else(|| {
            format!("`{text}` does not start with a name (hindsight reads names, `a.b` and `a[k]`)")
        })?;
        let mut parts = Vec::new();
        loop {
            p.space();
            match p.peek() {
                None => break,
                Some('.') => {
                    p.i += 1;
                    p.space();
                    let attr = p
                        .ident()
                        .ok_or_else(|| format!("`{text}`: a name must follow `.`"))?;
                    parts.push(Part::Attr(attr));
                }
                Some('[') => {
                    p.i += 1;
                    let lit = p.literal().ok_or_else(|| {
                        format!("`{text}`: `[` must hold a literal (a number, a quoted string, True, False or None) and `]`")
                    })?;
                    parts.push(Part::Index(lit));
                }
                Some(c) => {
                    return Err(format!(
                        "`{text}`: `{c}` is not understood here (hindsight reads names, `a.b` and `a[k]`)"
                    ))
                }
            }
        }
        Ok(Path { name, parts })
    }

    /// The object the path names in `state`, or why it names none.
    pub fn resolve(&self, state: &State) -> Result<ObjAddr, String> {
        let mut addr = lookup(state, &self.name)
            .ok_or_else(|| format!("`{}` is not bound here", self.name))?;
        let mut shown = self.name.clone();
        for part in &self.parts {
            let node = state
                .heap
                .get(&addr)
                .ok_or_else(|| format!("`{shown}` is not in the recording"))?;
            addr = match part {
                Part::Attr(a) => {
                    let found = node
                        .attrs
                        .as_ref()
                        .and_then(|attrs| attrs.iter().find(|(n, _)| &**n == a));
                    shown = format!("{shown}.{a}");
                    found.map(|(_, v)| *v).ok_or_else(|| {
                        format!(
                            "`{shown}`: no attribute `{a}` is recorded on this {}",
                            node.type_name
                        )
                    })?
                }
                Part::Index(key) => {
                    let v = index(state, node, key)
                        .ok_or_else(|| format!("`{shown}[{key:?}]`: no such item"))?;
                    shown = format!("{shown}[..]");
                    v
                }
            };
        }
        Ok(addr)
    }
}

/// A name among the state's locals, then its globals.
pub fn lookup(state: &State, name: &str) -> Option<ObjAddr> {
    state
        .locals
        .iter()
        .chain(&state.globals)
        .find(|(n, _)| &**n == name)
        .map(|(_, a)| *a)
}

/// The item `key` of a list, tuple or dict node.
fn index(state: &State, node: &store::Node, key: &Atom) -> Option<ObjAddr> {
    match node.kind {
        kinds::LIST | kinds::TUPLE => {
            let Atom::Int(i) = key else { return None };
            let len = node.items.len() as i128;
            let i = if *i < 0 { len + i } else { *i };
            usize::try_from(i)
                .ok()
                .and_then(|i| node.items.get(i).copied())
        }
        kinds::DICT => node.items.chunks_exact(2).find_map(|pair| {
            let k = state.heap.get(&pair[0])?;
            let atom = Atom::of_node(&k.type_name, &k.text).filter(|_| k.kind == kinds::ATOM)?;
            atom.py_eq(key).then_some(pair[1])
        }),
        _ => None,
    }
}

/// The value of an atom node, if the object at `addr` is one.
pub fn atom_at(state: &State, addr: ObjAddr) -> Option<Atom> {
    let n = state.heap.get(&addr)?;
    if n.kind != kinds::ATOM || n.truncated {
        return None;
    }
    Atom::of_node(&n.type_name, &n.text)
}

/// A character cursor over an expression.
struct Parser<'a> {
    s: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.s[self.i..].chars().next()
    }

    fn space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.i += self.peek().map_or(1, char::len_utf8);
        }
    }

    fn ident(&mut self) -> Option<String> {
        let start = self.i;
        while let Some(c) = self.peek() {
            let ok = c == '_' || c.is_alphanumeric();
            if !ok || (self.i == start && c.is_numeric()) {
                break;
            }
            self.i += c.len_utf8();
        }
        (self.i > start).then(|| self.s[start..self.i].to_string())
    }

    /// A literal then `]`.
    fn literal(&mut self) -> Option<Atom> {
        self.space();
        let start = self.i;
        let quote = self.peek().filter(|c| *c == '\'' || *c == '"');
        if let Some(q) = quote {
            self.i += 1;
            let mut escaped = false;
            loop {
                let c = self.peek()?;
                self.i += c.len_utf8();
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    break;
                }
            }
        } else {
            while self.peek().is_some_and(|c| c != ']') {
                self.i += self.peek().map_or(1, char::len_utf8);
            }
        }
        let lit = Atom::parse_literal(&self.s[start..self.i])?;
        self.space();
        (self.peek() == Some(']')).then(|| self.i += 1)?;
        Some(lit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse() {
        let p = Path::parse(" a.b [0][ 'k]' ] . c").unwrap();
        assert_eq!(p.name, "a");
        assert_eq!(
            p.parts,
            [
                Part::Attr("b".into()),
                Part::Index(Atom::Int(0)),
                Part::Index(Atom::Str("k]".into())),
                Part::Attr("c".into()),
            ]
        );
        assert_eq!(
            Path::parse("x[-1]").unwrap().parts,
            [Part::Index(Atom::Int(-1))]
        );
        for bad in ["", "1a", "a.", "a[", "a[b]", "a + 1", "a[0", "a['x]"] {
            assert!(Path::parse(bad).is_err(), "{bad}");
        }
    }
}
