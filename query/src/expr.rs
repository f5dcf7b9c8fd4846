//! The expressions hindsight reads over recorded values (a small part of
//! Python's grammar, never evaluated in the program): names, `a.b`, `a[k]`,
//! `len(a)`, comparisons (chained as in Python), `and`, `or`, `not`,
//! `+ - * / // %`, and int, float, str, bytes, `None`, `True` and `False`
//! literals. [`Expr::parse`] reads one; anything else is a [`ParseError`]
//! that says where and what.

use std::fmt;

pub use crate::error::ParseError;
use crate::lex::{tokens, Tok, Token};
pub use crate::syntax::{ArithOp, CmpOp, Literal};
use crate::value::literal_repr;

/// The deepest nesting the parser follows (brackets, chains, operators):
/// a bound on recursion for any input.
pub const MAX_DEPTH: usize = 64;

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A name: a local of the step's frame, else a global of its module.
    Name(String),
    /// A literal.
    Lit(Literal),
    /// `value.name`: an attribute the recording holds (an instance's).
    Attr(Box<Expr>, String),
    /// `value[key]`: an item of a list, tuple, dict, str or bytes.
    Index(Box<Expr>, Box<Expr>),
    /// `len(value)`.
    Len(Box<Expr>),
    /// A comparison chain `a < b <= c` (as Python: `a < b and b <= c`).
    Compare(Box<Expr>, Vec<(CmpOp, Expr)>),
    /// `not value`.
    Not(Box<Expr>),
    /// `a and b and ...` (Python's: the first false operand, else the last).
    And(Vec<Expr>),
    /// `a or b or ...` (the first true operand, else the last).
    Or(Vec<Expr>),
    /// `-value`.
    Neg(Box<Expr>),
    /// `a + b` and the other arithmetic operators.
    Arith(Box<Expr>, ArithOp, Box<Expr>),
}

impl Expr {
    /// Read an expression. The whole text must be one expression.
    pub fn parse(src: &str) -> Result<Expr, ParseError> {
        if src.trim().is_empty() {
            return Err(ParseError::new(0, "the expression is empty"));
        }
        let mut p = Parser {
            toks: tokens(src)?,
            at: 0,
            depth: 0,
        };
        let e = p.or()?;
        match p.peek() {
            Tok::End => Ok(e),
            t => Err(ParseError::new(
                p.col(),
                format!("unexpected {} after the expression", describe(t)),
            )),
        }
    }

    /// The names the expression reads, in order of first use.
    pub fn names(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.walk(&mut |e| {
            if let Expr::Name(n) = e {
                if !out.contains(&n.as_str()) {
                    out.push(n.as_str());
                }
            }
        });
        out
    }

    /// Whether the expression is one name.
    pub fn as_name(&self) -> Option<&str> {
        match self {
            Expr::Name(n) => Some(n),
            _ => None,
        }
    }

    /// Call `f` on this expression and every one inside it.
    fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Expr)) {
        f(self);
        match self {
            Expr::Name(_) | Expr::Lit(_) => {}
            Expr::Attr(e, _) | Expr::Len(e) | Expr::Not(e) | Expr::Neg(e) => e.walk(f),
            Expr::Index(a, b) | Expr::Arith(a, _, b) => {
                a.walk(f);
                b.walk(f);
            }
            Expr::Compare(a, rest) => {
                a.walk(f);
                for (_, e) in rest {
                    e.walk(f);
                }
            }
            Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| e.walk(f)),
        }
    }
}

/// Python's text of the expression (fully bracketed where precedence could
/// be misread).
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Name(n) => write!(f, "{n}"),
            Expr::Lit(l) => write!(f, "{}", literal_repr(l)),
            Expr::Attr(e, a) => write!(f, "{e}.{a}"),
            Expr::Index(e, k) => write!(f, "{e}[{k}]"),
            Expr::Len(e) => write!(f, "len({e})"),
            Expr::Compare(a, rest) => {
                write!(f, "{a}")?;
                for (op, e) in rest {
                    write!(f, " {} {e}", op.as_str())?;
                }
                Ok(())
            }
            Expr::Not(e) => write!(f, "not ({e})"),
            Expr::And(v) | Expr::Or(v) => {
                let sep = if matches!(self, Expr::And(_)) {
                    " and "
                } else {
                    " or "
                };
                let parts: Vec<String> = v.iter().map(|e| format!("({e})")).collect();
                write!(f, "{}", parts.join(sep))
            }
            Expr::Neg(e) => write!(f, "-({e})"),
            Expr::Arith(a, op, b) => write!(f, "({a} {} {b})", op.as_str()),
        }
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Name(n) => format!("name `{n}`"),
        Tok::Int(v) => format!("number `{v}`"),
        Tok::Float(v) => format!("number `{v}`"),
        Tok::Str(_) | Tok::Bytes(_) => "a string".into(),
        Tok::Op(o) => format!("`{o}`"),
        Tok::End => "the end".into(),
    }
}

/// A recursive-descent parser over the tokens, by Python's precedence:
/// `or` < `and` < `not` < comparisons < `+ -` < `* / // %` < unary `-` <
/// `.`, `[]`, calls.
struct Parser {
    toks: Vec<Token>,
    at: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.at.min(self.toks.len() - 1)].kind
    }

    fn col(&self) -> usize {
        self.toks[self.at.min(self.toks.len() - 1)].col
    }

    fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.at < self.toks.len() - 1 {
            self.at += 1;
        }
        t
    }

    fn eat(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Tok::Op(o) if *o == op) {
            self.next();
            return true;
        }
        false
    }

    fn expect(&mut self, op: &str) -> Result<(), ParseError> {
        if self.eat(op) {
            return Ok(());
        }
        Err(ParseError::new(
            self.col(),
            format!("expected `{op}`, found {}", describe(self.peek())),
        ))
    }

    /// Count one level of nesting, refusing past [`MAX_DEPTH`].
    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ParseError::new(
                self.col(),
                format!("the expression nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        let mut v = vec![self.and()?];
        while self.eat("or") {
            v.push(self.and()?);
        }
        self.depth -= 1;
        Ok(if v.len() == 1 {
            v.pop().unwrap_or(Expr::Lit(Literal::None))
        } else {
            Expr::Or(v)
        })
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut v = vec![self.not()?];
        while self.eat("and") {
            v.push(self.not()?);
        }
        Ok(if v.len() == 1 {
            v.pop().unwrap_or(Expr::Lit(Literal::None))
        } else {
            Expr::And(v)
        })
    }

    fn not(&mut self) -> Result<Expr, ParseError> {
        if self.eat("not") {
            self.enter()?;
            let e = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(e)));
        }
        self.compare()
    }

    fn compare(&mut self) -> Result<Expr, ParseError> {
        let first = self.sum()?;
        let mut rest = Vec::new();
        loop {
            let op = match self.peek() {
                Tok::Op("==") => CmpOp::Eq,
                Tok::Op("!=") => CmpOp::Ne,
                Tok::Op("<") => CmpOp::Lt,
                Tok::Op("<=") => CmpOp::Le,
                Tok::Op(">") => CmpOp::Gt,
                Tok::Op(">=") => CmpOp::Ge,
                Tok::Op("in") => CmpOp::In,
                Tok::Op("is") => {
                    self.next();
                    if self.eat("not") {
                        rest.push((CmpOp::IsNot, self.sum()?));
                    } else {
                        rest.push((CmpOp::Is, self.sum()?));
                    }
                    continue;
                }
                Tok::Op("not") => {
                    self.next();
                    self.expect("in")?;
                    rest.push((CmpOp::NotIn, self.sum()?));
                    continue;
                }
                _ => break,
            };
            self.next();
            rest.push((op, self.sum()?));
        }
        Ok(if rest.is_empty() {
            first
        } else {
            Expr::Compare(Box::new(first), rest)
        })
    }

    fn sum(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.term()?;
        loop {
            let op = match self.peek() {
                Tok::Op("+") => ArithOp::Add,
                Tok::Op("-") => ArithOp::Sub,
                _ => return Ok(e),
            };
            self.next();
            e = Expr::Arith(Box::new(e), op, Box::new(self.term()?));
        }
    }

    fn term(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.unary()?;
        loop {
            let op = match self.peek() {
                Tok::Op("*") => ArithOp::Mul,
                Tok::Op("/") => ArithOp::Div,
                Tok::Op("//") => ArithOp::FloorDiv,
                Tok::Op("%") => ArithOp::Mod,
                Tok::Op("**") => {
                    return Err(ParseError::new(self.col(), "`**` is not read"));
                }
                _ => return Ok(e),
            };
            self.next();
            e = Expr::Arith(Box::new(e), op, Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.eat("-") {
            self.enter()?;
            let e = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Neg(Box::new(e)));
        }
        if self.eat("+") {
            self.enter()?;
            let e = self.unary()?;
            self.depth -= 1;
            return Ok(e);
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Expr, ParseError> {
        let mut e = self.atom()?;
        let mut links = 0;
        loop {
            if self.eat(".") {
                match self.next() {
                    Tok::Name(a) => e = Expr::Attr(Box::new(e), a),
                    t => {
                        return Err(ParseError::new(
                            self.col(),
                            format!(
                                "expected an attribute name after `.`, found {}",
                                describe(&t)
                            ),
                        ))
                    }
                }
            } else if self.eat("[") {
                if matches!(self.peek(), Tok::Op(":")) {
                    return Err(ParseError::new(self.col(), "slices are not read"));
                }
                let k = self.or()?;
                if matches!(self.peek(), Tok::Op(":")) {
                    return Err(ParseError::new(self.col(), "slices are not read"));
                }
                if self.eat(",") {
                    return Err(ParseError::new(self.col(), "tuple keys are not read"));
                }
                self.expect("]")?;
                e = Expr::Index(Box::new(e), Box::new(k));
            } else if matches!(self.peek(), Tok::Op("(")) {
                let col = self.col();
                let Expr::Name(f) = &e else {
                    return Err(ParseError::new(col, "only `len(...)` can be called"));
                };
                if f != "len" {
                    return Err(ParseError::new(
                        col,
                        format!("`{f}(...)`: only `len(...)` can be called (nothing runs in the program)"),
                    ));
                }
                self.next();
                let arg = self.or()?;
                self.expect(")")?;
                e = Expr::Len(Box::new(arg));
            } else {
                return Ok(e);
            }
            links += 1;
            if links > MAX_DEPTH {
                return Err(ParseError::new(
                    self.col(),
                    format!("a chain longer than {MAX_DEPTH} links"),
                ));
            }
        }
    }

    fn atom(&mut self) -> Result<Expr, ParseError> {
        let col = self.col();
        Ok(match self.next() {
            Tok::Name(n) => Expr::Name(n),
            Tok::Int(v) => Expr::Lit(Literal::Int(v)),
            Tok::Float(v) => Expr::Lit(Literal::Float(v)),
            Tok::Str(mut s) => {
                // Adjacent literals are one, as in Python.
                while let Tok::Str(more) = self.peek() {
                    s.push_str(more);
                    self.next();
                }
                Expr::Lit(Literal::Str(s))
            }
            Tok::Bytes(b) => Expr::Lit(Literal::Bytes(b)),
            Tok::Op("None") => Expr::Lit(Literal::None),
            Tok::Op("True") => Expr::Lit(Literal::Bool(true)),
            Tok::Op("False") => Expr::Lit(Literal::Bool(false)),
            Tok::Op("(") => {
                if self.eat(")") {
                    return Err(ParseError::new(col, "tuples are not read"));
                }
                let e = self.or()?;
                if self.eat(",") {
                    return Err(ParseError::new(col, "tuples are not read"));
                }
                self.expect(")")?;
                e
            }
            Tok::Op("[") => return Err(ParseError::new(col, "list displays are not read")),
            Tok::End => {
                return Err(ParseError::new(
                    col,
                    "the expression ends where a value is expected",
                ))
            }
            t => {
                return Err(ParseError::new(
                    col,
                    format!("expected a value, found {}", describe(&t)),
                ))
            }
        })
    }
}

#[cfg(test)]
mod tests;
