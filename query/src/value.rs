//! What an expression evaluates to: a recorded object (by its address in
//! the program, so identity is kept), or a value the query computed (a
//! literal, `len()`, a comparison, arithmetic). Recorded atoms (ints,
//! floats, strs, bytes, None, bools) are read back into computed values to
//! be compared; their text forms and JSON follow docs/spec/values.md.

use serde_json::{json, Value as Json};
use store::{ObjAddr, State};
use values::kinds;

use crate::syntax::Literal;

/// The value of an expression at one step.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A recorded object, by identity.
    Obj(ObjAddr),
    /// `None`.
    None,
    /// `True` / `False`.
    Bool(bool),
    /// An int that fits 128 bits.
    Int(i128),
    /// A larger int, as its decimal digits (with a leading `-` when negative).
    BigInt(String),
    /// A float.
    Float(f64),
    /// A str.
    Str(String),
    /// A bytes object.
    Bytes(Vec<u8>),
}

impl Value {
    /// The value of a literal.
    pub fn of_literal(l: &Literal) -> Value {
        match l {
            Literal::None => Value::None,
            Literal::Bool(b) => Value::Bool(*b),
            Literal::Int(d) => int_of_digits(d),
            Literal::Float(f) => Value::Float(*f),
            Literal::Str(s) => Value::Str(s.clone()),
            Literal::Bytes(b) => Value::Bytes(b.clone()),
        }
    }

    /// A recorded atom read back as a computed value (an object as is when
    /// it is not one of the atoms read, or was cut at a size limit).
    pub fn plain(self, state: &State) -> Value {
        match self {
            Value::Obj(a) => atom_value(state, a).unwrap_or(Value::Obj(a)),
            v => v,
        }
    }

    /// The type name, as docs/spec/values.md shows it.
    pub fn type_name(&self, state: &State) -> String {
        match self {
            Value::Obj(a) => state
                .heap
                .get(a)
                .map_or_else(|| "<missing>".into(), |n| n.type_name.to_string()),
            Value::None => "NoneType".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) | Value::BigInt(_) => "int".into(),
            Value::Float(_) => "float".into(),
            Value::Str(_) => "str".into(),
            Value::Bytes(_) => "bytes".into(),
        }
    }

    /// The text form: a recorded object as `hindsight state` shows it, a
    /// computed value as Python's repr.
    pub fn text(&self, state: &State) -> String {
        match self {
            Value::Obj(a) => values::text::value_text(state, *a),
            v => computed_repr(v),
        }
    }

    /// The JSON form: a recorded object as docs/spec/values.md renders a
    /// local (`type`, `id`, `repr`, `attrs`); a computed value has `type`
    /// and `repr` and no `id`.
    pub fn json(&self, state: &State) -> Json {
        match self {
            Value::Obj(a) => values::render::value_json(state, *a, 1),
            v => json!({"type": v.type_name(state), "repr": computed_repr(v)}),
        }
    }
}

/// An int literal's value.
fn int_of_digits(d: &str) -> Value {
    d.parse::<i128>()
        .map(Value::Int)
        .unwrap_or_else(|_| Value::BigInt(d.to_string()))
}

/// The repr of a computed value, as Python prints it.
fn computed_repr(v: &Value) -> String {
    match v {
        Value::Obj(a) => format!("<object at {:#x}>", a.0),
        Value::None => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Int(i) => i.to_string(),
        Value::BigInt(d) => d.clone(),
        Value::Float(f) => float_repr(*f),
        Value::Str(s) => str_repr(s),
        Value::Bytes(b) => bytes_repr(b),
    }
}

/// The text of a literal as Python writes it.
pub(crate) fn literal_repr(l: &Literal) -> String {
    computed_repr(&Value::of_literal(l))
}

/// Python's repr of a float (shortest round trip, `1.0`, `1e+16`, `inf`).
fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-4..1e16).contains(&abs) {
        // Rust writes `1e16`; Python `1e+16`.
        let s = format!("{f:e}");
        return match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e:0>2}"),
            Some((m, e)) => format!("{m}e-{:0>2}", &e[1..]),
            None => s,
        };
    }
    let s = format!("{f}");
    if s.contains('.') {
        s
    } else {
        format!("{s}.0")
    }
}

/// Python's repr of a str.
fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Python's repr of a bytes object.
fn bytes_repr(b: &[u8]) -> String {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        b'"'
    } else {
        b'\''
    };
    let mut out = String::from("b");
    out.push(quote as char);
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c as char);
            }
            0x20..=0x7e => out.push(c as char),
            c => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push(quote as char);
    out
}

/// A recorded atom as a computed value: `None` for other objects, atoms
/// of other types (complex, range, bytearray) and atoms cut at a limit.
pub fn atom_value(state: &State, addr: ObjAddr) -> Option<Value> {
    let node = state.heap.get(&addr)?;
    if node.kind != kinds::ATOM || node.truncated {
        return None;
    }
    let t = &node.text;
    match &*node.type_name {
        "NoneType" => Some(Value::None),
        "bool" => Some(Value::Bool(t == "True")),
        "int" => {
            let ok = t.strip_prefix('-').unwrap_or(t);
            (!ok.is_empty() && ok.bytes().all(|c| c.is_ascii_digit())).then(|| {
                t.parse::<i128>()
                    .map(Value::Int)
                    .unwrap_or_else(|_| Value::BigInt(t.clone()))
            })
        }
        "float" => t.parse::<f64>().ok().map(Value::Float),
        "str" => unrepr(t, false).and_then(|b| String::from_utf8(b).ok().map(Value::Str)),
        "bytes" => t
            .strip_prefix('b')
            .and_then(|r| unrepr(r, true))
            .map(Value::Bytes),
        _ => None,
    }
}

/// The contents of a Python str or bytes repr (`'a\n'`, `"it's"`), as bytes
/// (UTF-8 for a str); `None` for anything else.
fn unrepr(r: &str, bytes: bool) -> Option<Vec<u8>> {
    let q = r.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let body = r.strip_prefix(q)?.strip_suffix(q)?;
    let mut out = Vec::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let e = chars.next()?;
        let n = match e {
            'n' => {
                out.push(b'\n');
                continue;
            }
            'r' => {
                out.push(b'\r');
                continue;
            }
            't' => {
                out.push(b'\t');
                continue;
            }
            '\\' | '\'' | '"' => {
                out.push(e as u8);
                continue;
            }
            'x' => 2,
            'u' => 4,
            'U' => 8,
            _ => return None,
        };
        let hex: String = chars.by_ref().take(n).collect();
        let v = u32::from_str_radix(&hex, 16).ok()?;
        if bytes {
            out.push(u8::try_from(v).ok()?);
        } else {
            let mut buf = [0u8; 4];
            out.extend_from_slice(char::from_u32(v)?.encode_utf8(&mut buf).as_bytes());
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reprs_read_back() {
        for s in ["a", "it's", "say \"hi\"", "tab\tnew\nline\\", "é\u{1}"] {
            let r = str_repr(s);
            assert_eq!(unrepr(&r, false).unwrap(), s.as_bytes(), "{r}");
        }
        let b = b"\x00ab'\xff".to_vec();
        let r = bytes_repr(&b);
        assert_eq!(unrepr(&r[1..], true).unwrap(), b, "{r}");
        assert_eq!(float_repr(1.0), "1.0");
        assert_eq!(float_repr(1e16), "1e+16");
        assert_eq!(float_repr(0.5), "0.5");
        assert_eq!(float_repr(1.5e-7), "1.5e-07");
    }
}
