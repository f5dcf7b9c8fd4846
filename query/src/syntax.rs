//! The leaves of an expression's syntax tree: the literals and the
//! operators, with how Python writes the operators. They live apart from
//! the parser (expr.rs) because values (value.rs) and evaluation name them
//! too, and the parser imports those: this module imports nothing of the
//! crate, so no file imports in a circle.

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `in`
    In,
    /// `not in`
    NotIn,
    /// `is`
    Is,
    /// `is not`
    IsNot,
}

impl CmpOp {
    /// How Python writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
            CmpOp::In => "in",
            CmpOp::NotIn => "not in",
            CmpOp::Is => "is",
            CmpOp::IsNot => "is not",
        }
    }
}

/// An arithmetic operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `//`
    FloorDiv,
    /// `%`
    Mod,
}

impl ArithOp {
    /// How Python writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
            ArithOp::FloorDiv => "//",
            ArithOp::Mod => "%",
        }
    }
}

/// A literal written in the expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `None`
    None,
    /// `True` / `False`
    Bool(bool),
    /// An int, as decimal digits (any size).
    Int(String),
    /// A float.
    Float(f64),
    /// A str.
    Str(String),
    /// A bytes literal.
    Bytes(Vec<u8>),
}
