//! Reading back the reprs a recording keeps of atoms, for the formats that
//! want values, not text: a `str`'s repr to its characters, a `float`'s
//! repr to the number Python Tutor shows.

use serde_json::{json, Value};

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
        let hex = |chars: &mut std::str::Chars<'_>, n: usize| -> Option<char> {
            let digits: String = chars.by_ref().take(n).collect();
            if digits.len() != n {
                return None;
            }
            char::from_u32(u32::from_str_radix(&digits, 16).ok()?)
        };
        out.push(match e {
            '\\' => '\\',
            '\'' => '\'',
            '"' => '"',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'x' => hex(&mut chars, 2)?,
            'u' => hex(&mut chars, 4)?,
            'U' => hex(&mut chars, 8)?,
            _ => return None,
        });
    }
    Some(out)
}

/// A float as Python Tutor's encoder shows it (`pg_encoder.encode_primitive`):
/// infinities and NaN as `["SPECIAL_FLOAT", "Infinity" | "-Infinity" | "NaN"]`,
/// a whole number as `["SPECIAL_FLOAT", "3.0"]` (so it does not look like an
/// int), anything else rounded to 4 decimals. `None` when `repr` is not a
/// float's repr.
pub fn float_value(repr: &str) -> Option<Value> {
    let special = |s: &str| Some(json!(["SPECIAL_FLOAT", s]));
    match repr {
        "inf" => return special("Infinity"),
        "-inf" => return special("-Infinity"),
        "nan" | "-nan" => return special("NaN"),
        _ => {}
    }
    let x: f64 = repr.parse().ok()?;
    if !x.is_finite() {
        return None;
    }
    if x == x.trunc() {
        return special(&format!("{x:.1}"));
    }
    // Python's round(x, 4): the nearest decimal of 4 places, read back.
    let rounded: f64 = format!("{x:.4}").parse().ok()?;
    serde_json::Number::from_f64(rounded).map(Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn str_reprs() {
        assert_eq!(unrepr_str("'abc'").as_deref(), Some("abc"));
        assert_eq!(unrepr_str("\"it's\"").as_deref(), Some("it's"));
        assert_eq!(unrepr_str(r"'a\nb\t\\'").as_deref(), Some("a\nb\t\\"));
        assert_eq!(unrepr_str(r"'\x00\u20ac\U0001f600'").as_deref(), Some("\0€😀"));
        assert_eq!(unrepr_str(r#"'\'"'"#).as_deref(), Some("'\""));
        assert_eq!(unrepr_str("'é'").as_deref(), Some("é"));
        assert_eq!(unrepr_str("'abc..."), None);
        assert_eq!(unrepr_str("abc"), None);
        assert_eq!(unrepr_str("'"), None);
        assert_eq!(unrepr_str(r"'\q'"), None);
        assert_eq!(unrepr_str(r"'\x4'"), None);
    }

    #[test]
    fn floats() {
        assert_eq!(float_value("3.0"), Some(json!(["SPECIAL_FLOAT", "3.0"])));
        assert_eq!(float_value("-2.0"), Some(json!(["SPECIAL_FLOAT", "-2.0"])));
        assert_eq!(float_value("inf"), Some(json!(["SPECIAL_FLOAT", "Infinity"])));
        assert_eq!(float_value("nan"), Some(json!(["SPECIAL_FLOAT", "NaN"])));
        assert_eq!(float_value("0.123456"), Some(json!(0.1235)));
        assert_eq!(float_value("1e+100"), Some(json!(["SPECIAL_FLOAT", format!("{:.1}", 1e100)])));
        assert_eq!(float_value("x"), None);
    }
}
