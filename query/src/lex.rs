//! The tokens of an expression (a small part of Python's): names,
//! keywords, numbers, string and bytes literals, and operators. Anything
//! else is a [`ParseError`] that says where and what.

use crate::error::ParseError;

/// The longest expression read, in bytes: an expression is typed by a
/// person or sent by a client, and a bound keeps its parse bounded.
pub const MAX_EXPR_BYTES: usize = 4096;

/// One token, with the byte column it starts at.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub kind: Tok,
    pub col: usize,
}

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Name(String),
    Int(String),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    /// An operator or punctuation: `.`, `[`, `==`, `not`, `in`, ...
    Op(&'static str),
    End,
}

const KEYWORDS: &[&str] = &["and", "or", "not", "in", "is", "None", "True", "False"];
/// Python keywords the grammar does not take: named in the error.
const REFUSED: &[&str] = &[
    "lambda", "if", "else", "for", "while", "def", "class", "import", "from", "return", "yield",
    "await", "async", "with", "del", "global", "nonlocal", "assert", "raise", "try", "except",
    "finally", "pass", "break", "continue", "as",
];
/// Operators, longest first so that `<=` is read before `<`.
const OPS: &[&str] = &[
    "**", "//", "==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "%", ".", "[", "]", "(", ")",
    ",", ":",
];

/// The tokens of `src`, ending with [`Tok::End`].
pub(crate) fn tokens(src: &str) -> Result<Vec<Token>, ParseError> {
    if src.len() > MAX_EXPR_BYTES {
        return Err(ParseError::new(
            0,
            format!("the expression is longer than {MAX_EXPR_BYTES} bytes"),
        ));
    }
    let mut out = Vec::new();
    let b = src.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = src[i..].chars().next().unwrap_or(' ');
        if c.is_whitespace() {
            i += c.len_utf8();
            continue;
        }
        let col = i;
        if is_string_start(src, i) {
            let (kind, next) = string(src, i)?;
            out.push(Token { kind, col });
            i = next;
        } else if c.is_ascii_digit() || (c == '.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            let (kind, next) = number(src, i)?;
            out.push(Token { kind, col });
            i = next;
        } else if c == '_' || c.is_alphabetic() {
            let end = src[i..]
                .char_indices()
                .find(|(_, ch)| !(*ch == '_' || ch.is_alphanumeric()))
                .map_or(src.len(), |(k, _)| i + k);
            let word = &src[i..end];
            if let Some(k) = KEYWORDS.iter().find(|k| **k == word) {
                out.push(Token {
                    kind: Tok::Op(k),
                    col,
                });
            } else if REFUSED.contains(&word) {
                return Err(ParseError::new(
                    col,
                    format!("`{word}` is not part of the expressions hindsight reads"),
                ));
            } else {
                out.push(Token {
                    kind: Tok::Name(word.to_string()),
                    col,
                });
            }
            i = end;
        } else if let Some(op) = OPS.iter().find(|o| src[i..].starts_with(**o)) {
            out.push(Token {
                kind: Tok::Op(op),
                col,
            });
            i += op.len();
        } else {
            return Err(ParseError::new(col, format!("unexpected `{c}`")));
        }
    }
    out.push(Token {
        kind: Tok::End,
        col: src.len(),
    });
    Ok(out)
}

/// Whether a string or bytes literal starts at `i` (with a prefix of
/// `b`, `r`, `u` or two of them).
fn is_string_start(src: &str, i: usize) -> bool {
    let rest = &src.as_bytes()[i..];
    let prefix = rest
        .iter()
        .take(2)
        .take_while(|c| matches!(c.to_ascii_lowercase(), b'b' | b'r' | b'u'))
        .count();
    matches!(rest.get(prefix), Some(b'\'' | b'"'))
}

/// A string or bytes literal starting at `i`; the token and where it ends.
fn string(src: &str, i: usize) -> Result<(Tok, usize), ParseError> {
    let mut j = i;
    let (mut bytes, mut raw) = (false, false);
    while let Some(c) = src.as_bytes().get(j).map(u8::to_ascii_lowercase) {
        match c {
            b'b' => bytes = true,
            b'r' => raw = true,
            b'u' => {}
            _ => break,
        }
        j += 1;
    }
    let quote = src.as_bytes()[j];
    if src[j..].starts_with(
        &[quote; 3][..]
            .iter()
            .map(|&q| q as char)
            .collect::<String>(),
    ) {
        return Err(ParseError::new(i, "triple-quoted strings are not read"));
    }
    let body_start = j + 1;
    let mut out: Vec<u8> = Vec::new();
    let mut chars = src[body_start..].char_indices();
    while let Some((k, c)) = chars.next() {
        let at = body_start + k;
        if c as u32 == u32::from(quote) {
            let kind = if bytes {
                Tok::Bytes(out)
            } else {
                Tok::Str(String::from_utf8(out).map_err(|_| {
                    ParseError::new(i, "the string's escapes do not make UTF-8 text")
                })?)
            };
            return Ok((kind, at + 1));
        }
        if bytes && !c.is_ascii() {
            return Err(ParseError::new(
                at,
                "bytes literals hold ASCII characters only",
            ));
        }
        if c != '\\' || raw {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let Some((_, e)) = chars.next() else { break };
        let simple = match e {
            'n' => Some(b'\n'),
            't' => Some(b'\t'),
            'r' => Some(b'\r'),
            '0' => Some(0),
            '\\' => Some(b'\\'),
            '\'' => Some(b'\''),
            '"' => Some(b'"'),
            'a' => Some(7),
            'b' => Some(8),
            'f' => Some(12),
            'v' => Some(11),
            _ => None,
        };
        if let Some(v) = simple {
            out.push(v);
            continue;
        }
        let digits = match e {
            'x' => 2,
            'u' if !bytes => 4,
            'U' if !bytes => 8,
            _ => return Err(ParseError::new(at, format!("unknown escape `\\{e}`"))),
        };
        let hex: String = (0..digits)
            .filter_map(|_| chars.next().map(|(_, h)| h))
            .collect();
        let v = u32::from_str_radix(&hex, 16)
            .ok()
            .filter(|_| hex.len() == digits)
            .ok_or_else(|| ParseError::new(at, format!("`\\{e}` needs {digits} hex digits")))?;
        if bytes {
            out.push(v as u8);
        } else {
            let ch = char::from_u32(v)
                .ok_or_else(|| ParseError::new(at, format!("`\\{e}{hex}` is not a character")))?;
            let mut buf = [0u8; 4];
            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        }
    }
    Err(ParseError::new(i, "the string is not closed"))
}

/// A number starting at `i`: an int (decimal, `0x`, `0o`, `0b`, with `_`)
/// or a float; the token and where it ends.
fn number(src: &str, i: usize) -> Result<(Tok, usize), ParseError> {
    let rest = &src[i..];
    let end = rest
        .char_indices()
        .find(|&(k, c)| {
            !(c.is_ascii_alphanumeric()
                || c == '_'
                || c == '.'
                || ((c == '+' || c == '-') && k > 0 && rest[..k].ends_with(['e', 'E'])))
        })
        .map_or(src.len(), |(k, _)| i + k);
    let text: String = src[i..end].chars().filter(|c| *c != '_').collect();
    let bad = || ParseError::new(i, format!("`{}` is not a number", &src[i..end]));
    let lower = text.to_ascii_lowercase();
    let radix = match lower.get(..2) {
        Some("0x") => Some(16),
        Some("0o") => Some(8),
        Some("0b") => Some(2),
        _ => None,
    };
    if let Some(radix) = radix {
        let v = u128::from_str_radix(&lower[2..], radix).map_err(|_| bad())?;
        return Ok((Tok::Int(v.to_string()), end));
    }
    if text.bytes().all(|c| c.is_ascii_digit()) {
        let trimmed = text.trim_start_matches('0');
        return Ok((
            Tok::Int(if trimmed.is_empty() { "0" } else { trimmed }.to_string()),
            end,
        ));
    }
    let v: f64 = text.parse().map_err(|_| bad())?;
    Ok((Tok::Float(v), end))
}
