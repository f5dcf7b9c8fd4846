//! Reading back the reprs a recording keeps of atoms, for Python Tutor,
//! which wants values, not text: a `str`'s repr to its characters
//! ([`values::atoms`]), a `float`'s repr to the number it shows.

use serde_json::{json, Value};

pub use values::atoms::unrepr_str;

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
    fn floats() {
        assert_eq!(float_value("3.0"), Some(json!(["SPECIAL_FLOAT", "3.0"])));
        assert_eq!(float_value("-2.0"), Some(json!(["SPECIAL_FLOAT", "-2.0"])));
        assert_eq!(
            float_value("inf"),
            Some(json!(["SPECIAL_FLOAT", "Infinity"]))
        );
        assert_eq!(float_value("nan"), Some(json!(["SPECIAL_FLOAT", "NaN"])));
        assert_eq!(float_value("0.123456"), Some(json!(0.1235)));
        assert_eq!(
            float_value("1e+100"),
            Some(json!(["SPECIAL_FLOAT", format!("{:.1}", 1e100)]))
        );
        assert_eq!(float_value("x"), None);
    }
}
