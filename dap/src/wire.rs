//! The Debug Adapter Protocol's framing: each message is a header
//! (`Content-Length: N`, other header lines ignored, ended by an empty
//! line, lines ended by CRLF) and N bytes of JSON. Every length read is
//! bounded, so no input makes the adapter allocate without bound; a
//! message that cannot be read is reported as [`WireError::Malformed`]
//! and the stream goes on from the next message when it can.

use std::io::{self, BufRead, Write};

use serde_json::Value;
use thiserror::Error;

/// The longest header line read.
const MAX_HEADER_LINE: usize = 4096;
/// The most header lines of one message.
const MAX_HEADER_LINES: usize = 32;
/// The largest message body accepted (DAP requests are small; a
/// `setBreakpoints` of thousands of lines is well under this).
pub const MAX_BODY: usize = 16 << 20;

/// Why a message could not be read.
#[derive(Debug, Error)]
pub enum WireError {
    /// The message is malformed; the stream may go on after it.
    #[error("{0}")]
    Malformed(String),
    /// The stream cannot be read any more.
    #[error("reading the client's messages: {0}")]
    Io(#[from] io::Error),
}

/// Read the next message; `Ok(None)` at the end of the input.
pub fn read_message(r: &mut dyn BufRead) -> Result<Option<Value>, WireError> {
    let mut length: Option<usize> = None;
    let mut lines = 0;
    let mut bad_header = None;
    loop {
        let Some(line) = read_line(r)? else {
            return if lines == 0 {
                Ok(None)
            } else {
                Err(WireError::Malformed(
                    "the input ended inside a message header".into(),
                ))
            };
        };
        lines += 1;
        if line.is_empty() {
            break;
        }
        if lines > MAX_HEADER_LINES {
            bad_header.get_or_insert_with(|| {
                format!("a message header of more than {MAX_HEADER_LINES} lines")
            });
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            bad_header.get_or_insert_with(|| format!("a header line without a colon: {line:?}"));
            continue;
        };
        if name.trim().eq_ignore_ascii_case("content-length") {
            match value.trim().parse::<usize>() {
                Ok(n) if n <= MAX_BODY => length = Some(n),
                Ok(n) => {
                    bad_header.get_or_insert_with(|| {
                        format!("a message of {n} bytes (at most {MAX_BODY} are read)")
                    });
                }
                Err(_) => {
                    bad_header.get_or_insert_with(|| {
                        format!("Content-Length is not a number: {:?}", value.trim())
                    });
                }
            }
        }
    }
    if let Some(why) = bad_header {
        // The body's length is not known: what follows is read as the
        // next message's header (a client that sent this is lost anyway).
        return Err(WireError::Malformed(why));
    }
    let Some(n) = length else {
        return Err(WireError::Malformed(
            "a message header without Content-Length".into(),
        ));
    };
    let mut body = vec![0u8; n];
    r.read_exact(&mut body).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => WireError::Malformed(format!(
            "the input ended inside a message body of {n} bytes"
        )),
        _ => WireError::Io(e),
    })?;
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| WireError::Malformed(format!("a message body that is not JSON: {e}")))
}

/// One header line without its CRLF (or LF); `None` at the end of the
/// input. A line longer than [`MAX_HEADER_LINE`] is cut (the rest skipped).
fn read_line(r: &mut dyn BufRead) -> io::Result<Option<String>> {
    let mut line = Vec::new();
    let mut any = false;
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(any.then(|| finish(line)));
        }
        any = true;
        match buf.iter().position(|b| *b == b'\n') {
            Some(i) => {
                take(&mut line, &buf[..i]);
                r.consume(i + 1);
                return Ok(Some(finish(line)));
            }
            None => {
                let n = buf.len();
                take(&mut line, buf);
                r.consume(n);
            }
        }
    }
}

fn take(line: &mut Vec<u8>, bytes: &[u8]) {
    let room = MAX_HEADER_LINE.saturating_sub(line.len());
    line.extend_from_slice(&bytes[..bytes.len().min(room)]);
}

fn finish(mut line: Vec<u8>) -> String {
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8_lossy(&line).into_owned()
}

/// Write one message with its header.
pub fn write_message(w: &mut dyn Write, msg: &Value) -> io::Result<()> {
    let body = serde_json::to_vec(msg)?;
    write!(w, "Content-Length: {}\r\n\r\n", body.len())?;
    w.write_all(&body)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn framed(body: &str) -> Vec<u8> {
        format!("Content-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
    }

    #[test]
    fn reads_messages_in_turn() {
        let mut input = framed(r#"{"seq":1}"#);
        input.extend(framed(r#"{"seq":2}"#));
        let mut r = &input[..];
        assert_eq!(read_message(&mut r).unwrap(), Some(json!({"seq": 1})));
        assert_eq!(read_message(&mut r).unwrap(), Some(json!({"seq": 2})));
        assert_eq!(read_message(&mut r).unwrap(), None);
    }

    #[test]
    fn malformed_messages_are_reported_and_skipped() {
        let mut input = b"Content-Length: 3\r\n\r\nabc".to_vec();
        input.extend(framed(r#"{"seq":3}"#));
        let mut r = &input[..];
        assert!(matches!(read_message(&mut r), Err(WireError::Malformed(_))));
        assert_eq!(read_message(&mut r).unwrap(), Some(json!({"seq": 3})));
        for bad in [
            "Content-Length: 99999999999\r\n\r\n",
            "Content-Length: x\r\n\r\n",
            "Nothing: here\r\n\r\n",
            "no colon\r\n\r\n",
        ] {
            let mut r = bad.as_bytes();
            assert!(
                matches!(read_message(&mut r), Err(WireError::Malformed(_))),
                "{bad}"
            );
        }
        let long = format!("X: {}\r\n\r\n", "y".repeat(100_000));
        let mut r = long.as_bytes();
        assert!(matches!(read_message(&mut r), Err(WireError::Malformed(_))));
        let mut r = &b"Content-Length: 10\r\n\r\n{}"[..];
        assert!(matches!(read_message(&mut r), Err(WireError::Malformed(_))));
        assert_eq!(read_message(&mut r).unwrap(), None);
    }

    #[test]
    fn writes_the_header() {
        let mut out = Vec::new();
        write_message(&mut out, &json!({"a": 1})).unwrap();
        assert_eq!(out, b"Content-Length: 7\r\n\r\n{\"a\":1}");
    }
}
