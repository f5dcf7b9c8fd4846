//! The atoms of a recording (docs/spec/values.md: `None`, `bool`, `int`,
//! `float`, `str`, `bytes`, whose recorded text is exactly their `repr`)
//! turned back into the Python values they print. The text comes from a
//! file, so it is parsed, never evaluated: what does not parse as the repr
//! CPython prints comes back as `None` (the caller then keeps it as an
//! opaque object).

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyFloat, PyInt, PyString};

/// The value of an atom of type `type_name` whose repr is `text`; `None`
/// for another type, or a text that is not such a repr.
pub(crate) fn atom<'py>(
    py: Python<'py>,
    type_name: &str,
    text: &str,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    Ok(match type_name {
        "NoneType" if text == "None" => Some(py.None().into_bound(py)),
        "bool" if text == "True" => Some(true.into_pyobject(py)?.to_owned().into_any()),
        "bool" if text == "False" => Some(false.into_pyobject(py)?.to_owned().into_any()),
        "int" => int(py, text)?,
        "float" => float(text).map(|f| PyFloat::new(py, f).into_any()),
        "str" => match unquote(text, false) {
            Some(Unquoted::Text(s)) => Some(PyString::new(py, &s).into_any()),
            // A lone surrogate: valid in a Python str, not in a Rust one.
            Some(Unquoted::Surrogates) => surrogates(py, text)?,
            _ => None,
        },
        "bytes" => match text.strip_prefix('b').and_then(|t| unquote(t, true)) {
            Some(Unquoted::Bytes(b)) => Some(PyBytes::new(py, &b).into_any()),
            _ => None,
        },
        _ => None,
    })
}

/// An `int` repr: optional `-`, then decimal digits.
fn int<'py>(py: Python<'py>, text: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    if let Ok(v) = text.parse::<i64>() {
        return Ok(Some(v.into_pyobject(py)?.into_any()));
    }
    // Larger than 64 bits: Python's own int() of the digits (its parse
    // is linear up to the 4300-digit limit, which repr respects too).
    let int_type = py.get_type::<PyInt>();
    Ok(int_type.call1((text,)).ok())
}

/// A `float` repr (`1.5`, `1e+100`, `inf`, `-inf`, `nan`): Rust's parse
/// reads the shortest round-trip form CPython prints exactly.
fn float(text: &str) -> Option<f64> {
    let ok = text
        .bytes()
        .all(|b| b.is_ascii_digit() || b"+-.eEinfa".contains(&b));
    if !ok {
        return None;
    }
    text.parse::<f64>().ok()
}

/// A `str` repr that holds lone surrogates: read by Python's own
/// `ast.literal_eval`, which only reads literals.
fn surrogates<'py>(py: Python<'py>, text: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
    let ast = py.import("ast")?;
    Ok(ast
        .call_method1("literal_eval", (text,))
        .ok()
        .filter(|v| v.is_instance_of::<PyString>()))
}

/// What a quoted repr holds.
#[derive(Debug, PartialEq, Eq)]
enum Unquoted {
    Text(String),
    Bytes(Vec<u8>),
    /// A `\ud800`-style escape: not representable in a Rust `String`.
    Surrogates,
}

/// The content of `'...'` or `"..."` with the escapes `repr` writes
/// undone: `\\ \' \" \t \n \r \xNN`, and for text `\uNNNN \UNNNNNNNN`.
fn unquote(text: &str, bytes: bool) -> Option<Unquoted> {
    let quote = text.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let body = text.strip_prefix(quote)?.strip_suffix(quote)?;
    let mut out = String::with_capacity(body.len());
    let mut raw = Vec::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            if c == quote || (bytes && !c.is_ascii()) {
                return None;
            }
            if bytes {
                raw.push(c as u8);
            } else {
                out.push(c);
            }
            continue;
        }
        let e = chars.next()?;
        let code = match e {
            '\\' | '\'' | '"' => e as u32,
            't' => 9,
            'n' => 10,
            'r' => 13,
            'x' => hex(&mut chars, 2)?,
            'u' if !bytes => hex(&mut chars, 4)?,
            'U' if !bytes => hex(&mut chars, 8)?,
            _ => return None,
        };
        if bytes {
            raw.push(u8::try_from(code).ok()?);
        } else if (0xd800..0xe000).contains(&code) {
            return Some(Unquoted::Surrogates);
        } else {
            out.push(char::from_u32(code)?);
        }
    }
    Some(if bytes {
        Unquoted::Bytes(raw)
    } else {
        Unquoted::Text(out)
    })
}

/// `n` hex digits from `chars`, as a number.
fn hex(chars: &mut std::str::Chars<'_>, n: usize) -> Option<u32> {
    let mut v = 0u32;
    for _ in 0..n {
        v = v.checked_mul(16)? + chars.next()?.to_digit(16)?;
    }
    Some(v)
}
