//! CPython's `repr` of the atoms, computed from their raw contents: int
//! (from base-2**30 digits), float (shortest round trip), complex, str
//! (`unicode_repr`), bytes and bytearray.

/// Largest int (in 30-bit digits) converted to decimal; bigger ones would
/// cost quadratic time (CPython itself refuses more than 4300 decimal digits).
pub const MAX_INT_DIGITS: usize = 4000;

/// Decimal text of an int given its little-endian base-2**`shift` digits.
pub fn int_repr(negative: bool, digits: &[u32], shift: u32) -> String {
    // Repeatedly divide by 10**9, collecting base-10**9 limbs.
    let mut n: Vec<u64> = digits.iter().map(|&d| d as u64).collect();
    while n.last() == Some(&0) {
        n.pop();
    }
    if n.is_empty() {
        return "0".to_string();
    }
    const BASE: u64 = 1_000_000_000;
    let mut limbs: Vec<u32> = Vec::new();
    while !n.is_empty() {
        let mut rem: u64 = 0;
        for d in n.iter_mut().rev() {
            let cur = (rem << shift) | *d;
            *d = cur / BASE;
            rem = cur % BASE;
        }
        limbs.push(rem as u32);
        while n.last() == Some(&0) {
            n.pop();
        }
    }
    let mut s = String::with_capacity(limbs.len() * 9 + 1);
    if negative {
        s.push('-');
    }
    let mut it = limbs.iter().rev();
    if let Some(first) = it.next() {
        s.push_str(&first.to_string());
    }
    for l in it {
        s.push_str(&format!("{l:09}"));
    }
    s
}

/// Shortest round-trip digits and decimal exponent of a finite, non-zero
/// `|x|`: `x = 0.d1d2d3... * 10**decpt`.
fn shortest_digits(x: f64) -> (String, i32) {
    // Rust's `{:e}` prints the shortest round-trip digits, like dtoa mode 0.
    let s = format!("{:e}", x.abs());
    let (mant, exp) = s.split_once('e').unwrap_or((s.as_str(), "0"));
    let digits: String = mant.chars().filter(|c| c.is_ascii_digit()).collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    (digits, exp + 1)
}

/// `PyOS_double_to_string(x, 'r', 0, flags)`: `add_dot_0` as
/// `Py_DTSF_ADD_DOT_0`, `sign` as `Py_DTSF_SIGN`.
fn double_to_string(x: f64, add_dot_0: bool, sign: bool) -> String {
    if x.is_nan() {
        // CPython ignores the sign of a nan.
        return if sign { "+nan".into() } else { "nan".into() };
    }
    let neg = x.is_sign_negative();
    let mut out = String::new();
    if neg {
        out.push('-');
    } else if sign {
        out.push('+');
    }
    if x.is_infinite() {
        out.push_str("inf");
        return out;
    }
    if x == 0.0 {
        out.push('0');
        if add_dot_0 {
            out.push_str(".0");
        }
        return out;
    }
    let (digits, decpt) = shortest_digits(x);
    let nd = digits.len() as i32;
    if decpt <= -4 || decpt > 16 {
        // Exponent form: d[.ddd]e[+-]XX (at least two exponent digits).
        out.push_str(&digits[..1]);
        if nd > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = decpt - 1;
        out.push('e');
        out.push(if e < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", e.unsigned_abs()));
    } else if decpt <= 0 {
        out.push_str("0.");
        for _ in 0..(-decpt) {
            out.push('0');
        }
        out.push_str(&digits);
    } else if decpt >= nd {
        out.push_str(&digits);
        for _ in 0..(decpt - nd) {
            out.push('0');
        }
        if add_dot_0 {
            out.push_str(".0");
        }
    } else {
        out.push_str(&digits[..decpt as usize]);
        out.push('.');
        out.push_str(&digits[decpt as usize..]);
    }
    out
}

/// `repr(float)`.
pub fn float_repr(x: f64) -> String {
    double_to_string(x, true, false)
}

/// `repr(complex)` (`complex_repr`).
pub fn complex_repr(real: f64, imag: f64) -> String {
    if real == 0.0 && real.is_sign_positive() {
        format!("{}j", double_to_string(imag, false, false))
    } else {
        format!(
            "({}{}j)",
            double_to_string(real, false, false),
            double_to_string(imag, false, true)
        )
    }
}

/// `repr(str)` (`unicode_repr`) of the code points `chars`; `printable`
/// answers `Py_UNICODE_ISPRINTABLE` for non-ASCII code points. `truncated`
/// puts `...` before the closing quote.
pub fn str_repr(chars: &[u32], printable: &dyn Fn(u32) -> bool, truncated: bool) -> String {
    let has_single = chars.contains(&(b'\'' as u32));
    let has_double = chars.contains(&(b'"' as u32));
    let quote = if has_single && !has_double { '"' } else { '\'' };
    let mut out = String::with_capacity(chars.len() + 2);
    out.push(quote);
    for &c in chars {
        match c {
            _ if c == quote as u32 || c == '\\' as u32 => {
                out.push('\\');
                out.push(char::from_u32(c).unwrap_or('?'));
            }
            0x09 => out.push_str("\\t"),
            0x0a => out.push_str("\\n"),
            0x0d => out.push_str("\\r"),
            _ if c < 0x20 || c == 0x7f => out.push_str(&format!("\\x{c:02x}")),
            _ if c < 0x7f => out.push(c as u8 as char),
            _ => match char::from_u32(c) {
                // Lone surrogates are never printable and have no `char`.
                Some(ch) if printable(c) => out.push(ch),
                _ if c <= 0xff => out.push_str(&format!("\\x{c:02x}")),
                _ if c <= 0xffff => out.push_str(&format!("\\u{c:04x}")),
                _ => out.push_str(&format!("\\U{c:08x}")),
            },
        }
    }
    if truncated {
        out.push_str("...");
    }
    out.push(quote);
    out
}

/// `repr(bytes)`: `b'...'`.
pub fn bytes_repr(data: &[u8], truncated: bool) -> String {
    bytes_literal(data, truncated, false)
}

/// `b'...'`; `always_escape_single` is bytearray's quirk (it escapes `'`
/// even inside double quotes).
fn bytes_literal(data: &[u8], truncated: bool, always_escape_single: bool) -> String {
    let has_single = data.contains(&b'\'');
    let has_double = data.contains(&b'"');
    let quote = if has_single && !has_double { '"' } else { '\'' };
    let mut out = String::with_capacity(data.len() + 3);
    out.push('b');
    out.push(quote);
    for &b in data {
        match b {
            _ if b == quote as u8 || b == b'\\' || (always_escape_single && b == b'\'') => {
                out.push('\\');
                out.push(b as char);
            }
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            _ if !(0x20..0x7f).contains(&b) => out.push_str(&format!("\\x{b:02x}")),
            _ => out.push(b as char),
        }
    }
    if truncated {
        out.push_str("...");
    }
    out.push(quote);
    out
}

/// `repr(bytearray)`: `bytearray(b'...')`.
pub fn bytearray_repr(data: &[u8], truncated: bool) -> String {
    format!("bytearray({})", bytes_literal(data, truncated, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints() {
        assert_eq!(int_repr(false, &[], 30), "0");
        assert_eq!(int_repr(true, &[5], 30), "-5");
        // 2**30 = 1073741824
        assert_eq!(int_repr(false, &[0, 1], 30), "1073741824");
        // 2**90
        assert_eq!(
            int_repr(false, &[0, 0, 0, 1], 30),
            "1237940039285380274899124224"
        );
        assert_eq!(int_repr(false, &[1_000_000_000], 30), "1000000000");
    }

    #[test]
    fn floats() {
        let cases: &[(f64, &str)] = &[
            (0.1, "0.1"),
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (123456789012345680.0, "1.2345678901234568e+17"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1.5e-7, "1.5e-07"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
            (std::f64::consts::PI, "3.141592653589793"),
            (1e300, "1e+300"),
            (5e-324, "5e-324"),
            (-2.5, "-2.5"),
            (100.0, "100.0"),
        ];
        for (x, want) in cases {
            assert_eq!(float_repr(*x), *want, "{x:?}");
        }
    }

    #[test]
    fn complexes() {
        assert_eq!(complex_repr(0.0, 1.0), "1j");
        assert_eq!(complex_repr(1.0, 2.0), "(1+2j)");
        assert_eq!(complex_repr(-0.0, -1.5), "(-0-1.5j)");
        assert_eq!(complex_repr(1.0, f64::NAN), "(1+nanj)");
        assert_eq!(complex_repr(f64::INFINITY, -0.0), "(inf-0j)");
        assert_eq!(complex_repr(0.0, 1e16), "1e+16j");
    }

    #[test]
    fn strs() {
        let p = |c: u32| c != 0x85 && c != 0xa0;
        let s = |t: &str| t.chars().map(|c| c as u32).collect::<Vec<_>>();
        assert_eq!(str_repr(&s("abc"), &p, false), "'abc'");
        assert_eq!(str_repr(&s("it's"), &p, false), "\"it's\"");
        assert_eq!(str_repr(&s("'\""), &p, false), "'\\'\"'");
        assert_eq!(
            str_repr(&s("a\tb\n\r\\\x01\x7f"), &p, false),
            "'a\\tb\\n\\r\\\\\\x01\\x7f'"
        );
        assert_eq!(str_repr(&s("é\u{a0}"), &p, false), "'é\\xa0'");
        assert_eq!(str_repr(&[0xd800], &p, false), "'\\ud800'");
        assert_eq!(str_repr(&s("abc"), &p, true), "'abc...'");
    }

    #[test]
    fn bytes() {
        assert_eq!(bytes_repr(b"a'b", false), "b\"a'b\"");
        assert_eq!(bytes_repr(b"\x00\xff\t", false), "b'\\x00\\xff\\t'");
        assert_eq!(bytearray_repr(b"xy", true), "bytearray(b'xy...')");
        assert_eq!(bytearray_repr(b"x'y", false), "bytearray(b\"x\\'y\")");
    }
}
