//! Reading back the value of an atom (`kinds::ATOM`: None, bool, int,
//! float, str) from the repr the recording keeps, and Python literals
//! typed by a user, so that readers can compare values as Python does
//! (`x == 3`, `name == 'ann'`) without running Python.

use std::cmp::Ordering;

/// A value of one of the atom types whose repr reads back exactly.
#[derive(Debug, Clone, PartialEq)]
pub enum Atom {
    /// `None`.
    None,
    /// `True` or `False`.
    Bool(bool),
    /// An `int` (one beyond 128 bits is not read back).
    Int(i128),
    /// A `float`.
    Float(f64),
    /// A `str`.
    Str(String),
}

impl Atom {
    /// The value of an atom node of type `type_name` whose repr is `text`;
    /// `None` for other types, or a repr cut at a size limit.
    pub fn of_node(type_name: &str, text: &str) -> Option<Atom> {
        match type_name {
            "NoneType" => Some(Atom::None),
            "bool" => match text {
                "True" => Some(Atom::Bool(true)),
                "False" => Some(Atom::Bool(false)),
                _ => None,
            },
            "int" => text.parse().ok().map(Atom::Int),
            "float" => parse_float(text).map(Atom::Float),
            "str" => unrepr_str(text).map(Atom::Str),
            _ => None,
        }
    }

    /// A Python literal: `None`, `True`, `False`, an int (`-3`, `1_000`),
    /// a float (`2.5`, `1e3`), or a string in single or double quotes with
    /// the escapes of a repr.
    pub fn parse_literal(text: &str) -> Option<Atom> {
        let t = text.trim();
        match t {
            "None" => return Some(Atom::None),
            "True" => return Some(Atom::Bool(true)),
            "False" => return Some(Atom::Bool(false)),
            _ => {}
        }
        if t.starts_with('\'') || t.starts_with('"') {
            return unrepr_str(t).map(Atom::Str);
        }
        let digits = t.replace('_', "");
        if let Ok(n) = digits.parse::<i128>() {
            return Some(Atom::Int(n));
        }
        if digits.contains(['.', 'e', 'E']) {
            return digits
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .map(Atom::Float);
        }
        None
    }

    /// The number it is, for `==` and ordering across int, float and bool
    /// (Python's `True == 1`).
    fn number(&self) -> Option<f64> {
        match self {
            Atom::Bool(b) => Some(f64::from(u8::from(*b))),
            Atom::Int(n) => Some(*n as f64),
            Atom::Float(x) => Some(*x),
            _ => None,
        }
    }

    /// `self == other` as Python has it for these types.
    pub fn py_eq(&self, other: &Atom) -> bool {
        match (self, other) {
            (Atom::Int(a), Atom::Int(b)) => a == b,
            (Atom::Str(a), Atom::Str(b)) => a == b,
            (Atom::None, Atom::None) => true,
            _ => match (self.number(), other.number()) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            },
        }
    }

    /// The order of `self` and `other` where Python has one (numbers
    /// among themselves, strings among themselves), else `None`.
    pub fn py_cmp(&self, other: &Atom) -> Option<Ordering> {
        match (self, other) {
            (Atom::Int(a), Atom::Int(b)) => Some(a.cmp(b)),
            (Atom::Str(a), Atom::Str(b)) => Some(a.cmp(b)),
            _ => self.number()?.partial_cmp(&other.number()?),
        }
    }

    /// Python's truth value.
    pub fn truthy(&self) -> bool {
        match self {
            Atom::None => false,
            Atom::Bool(b) => *b,
            Atom::Int(n) => *n != 0,
            Atom::Float(x) => *x != 0.0,
            Atom::Str(s) => !s.is_empty(),
        }
    }
}

/// A float's repr (`1.5`, `1e+100`, `inf`, `nan`) as a number.
fn parse_float(text: &str) -> Option<f64> {
    match text {
        "inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        "nan" | "-nan" => Some(f64::NAN),
        _ => text.parse().ok(),
    }
}

/// The characters of a `str` from its repr (`'a\nb'`, `"it's"`), as
/// CPython's `repr` escapes them; `None` when the text is not such a repr
/// (a repr cut at a size limit, for one).
pub fn unrepr_str(repr: &str) -> Option<String> {
    let quote = repr.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let body = repr.strip_prefix(quote)?.strip_suffix(quote)?;
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == quote {
            return None;
        }
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = chars.next()?;
        out.push(match e {
            '\\' => '\\',
            '\'' => '\'',
            '"' => '"',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'x' => hex_char(&mut chars, 2)?,
            'u' => hex_char(&mut chars, 4)?,
            'U' => hex_char(&mut chars, 8)?,
            _ => return None,
        });
    }
    Some(out)
}

/// The character of the next `n` hex digits.
fn hex_char(chars: &mut std::str::Chars<'_>, n: usize) -> Option<char> {
    let digits: String = chars.by_ref().take(n).collect();
    if digits.len() != n {
        return None;
    }
    char::from_u32(u32::from_str_radix(&digits, 16).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn str_reprs() {
        assert_eq!(unrepr_str("'abc'").as_deref(), Some("abc"));
        assert_eq!(unrepr_str("\"it's\"").as_deref(), Some("it's"));
        assert_eq!(unrepr_str(r"'a\nb\t\\'").as_deref(), Some("a\nb\t\\"));
        assert_eq!(
            unrepr_str(r"'\x00\u20ac\U0001f600'").as_deref(),
            Some("\0€😀")
        );
        assert_eq!(unrepr_str(r#"'\'"'"#).as_deref(), Some("'\""));
        assert_eq!(unrepr_str("'é'").as_deref(), Some("é"));
        assert_eq!(unrepr_str("'abc..."), None);
        assert_eq!(unrepr_str("abc"), None);
        assert_eq!(unrepr_str("'"), None);
        assert_eq!(unrepr_str(r"'\q'"), None);
        assert_eq!(unrepr_str(r"'\x4'"), None);
    }

    #[test]
    fn atoms_and_literals() {
        assert_eq!(Atom::of_node("int", "-12"), Some(Atom::Int(-12)));
        assert_eq!(Atom::of_node("str", "'a'"), Some(Atom::Str("a".into())));
        assert_eq!(Atom::of_node("list", "[1]"), None);
        assert_eq!(Atom::parse_literal(" 1_000 "), Some(Atom::Int(1000)));
        assert_eq!(Atom::parse_literal("\"x\""), Some(Atom::Str("x".into())));
        assert_eq!(Atom::parse_literal("2.5"), Some(Atom::Float(2.5)));
        assert_eq!(Atom::parse_literal("abc"), None);
        assert!(Atom::Int(1).py_eq(&Atom::Float(1.0)));
        assert!(Atom::Bool(true).py_eq(&Atom::Int(1)));
        assert!(!Atom::Str("1".into()).py_eq(&Atom::Int(1)));
        assert_eq!(Atom::Int(2).py_cmp(&Atom::Float(2.5)), Some(Ordering::Less));
        assert_eq!(Atom::Str("a".into()).py_cmp(&Atom::Int(1)), None);
        assert!(!Atom::Str(String::new()).truthy());
    }
}
