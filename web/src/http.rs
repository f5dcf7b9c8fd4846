//! The HTTP/1.1 of `hindsight serve`, on a plain `TcpStream`: one GET or
//! HEAD request per connection, its head read within a size and a time
//! bound, and one answer with `Connection: close`. Anything else a client
//! sends is answered with the status that says what was wrong.
//!
//! Written here rather than taken from a crate: the small servers at hand
//! read a request's headers without a size bound, and the page needs no
//! more than GET.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A request's head (request line and headers) may take at most this many bytes.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// At most this many header lines.
pub const MAX_HEADERS: usize = 100;
/// The whole head must arrive within this time.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// An answer must be taken by the client within this time.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// A request the server answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `HEAD` asks for the headers only.
    pub head_only: bool,
    /// The path, percent-decoded (`/api/state/3`).
    pub path: String,
    /// The query's `key=value` pairs, percent-decoded, in order.
    pub query: Vec<(String, String)>,
    /// The `Host` header, when sent.
    pub host: Option<String>,
}

impl Request {
    /// The value of query parameter `key`, if given.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// An answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON answer.
    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        Response {
            status,
            content_type: "application/json",
            body: serde_json::to_vec(value).unwrap_or_default(),
        }
    }

    /// `{"error": message}` with `status`.
    pub fn error(status: u16, message: &str) -> Response {
        Response::json(status, &serde_json::json!({ "error": message }))
    }
}

/// Why a request was not read: each maps to the status that answers it
/// (or to none, when the client is gone).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RequestError {
    /// The client closed the connection (or sent nothing).
    #[error("the client closed the connection")]
    Closed,
    /// The head did not arrive within [`HEAD_TIMEOUT`].
    #[error("the request did not arrive in time")]
    Timeout,
    /// The head is larger than [`MAX_HEAD_BYTES`] or has too many headers.
    #[error("the request's headers are too large")]
    TooLarge,
    /// A method other than GET or HEAD.
    #[error("only GET and HEAD are served")]
    Method,
    /// A request with a body.
    #[error("requests with a body are not served")]
    Body,
    /// Not HTTP/1.0 or HTTP/1.1.
    #[error("only HTTP/1.0 and HTTP/1.1 are served")]
    Version,
    /// Anything else malformed.
    #[error("malformed request: {0}")]
    Malformed(&'static str),
}

impl RequestError {
    /// The status that answers it; `None`: no answer (the client is gone).
    pub fn status(&self) -> Option<u16> {
        match self {
            RequestError::Closed => None,
            RequestError::Timeout => Some(408),
            RequestError::TooLarge => Some(431),
            RequestError::Method => Some(405),
            RequestError::Body => Some(413),
            RequestError::Version => Some(505),
            RequestError::Malformed(_) => Some(400),
        }
    }
}

/// Read one request's head from `stream`, within [`HEAD_TIMEOUT`] and
/// [`MAX_HEAD_BYTES`] whatever the client sends (a byte at a time, or
/// nothing).
pub fn read_request(stream: &mut TcpStream) -> Result<Request, RequestError> {
    let deadline = Instant::now() + HEAD_TIMEOUT;
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 2048];
    loop {
        if let Some(end) = head_end(&head) {
            head.truncate(end);
            break;
        }
        if head.len() > MAX_HEAD_BYTES {
            return Err(RequestError::TooLarge);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(RequestError::Timeout);
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(|_| RequestError::Closed)?;
        // Never read past the bound (a body after the head is not read).
        let room = (MAX_HEAD_BYTES + 4 - head.len()).min(buf.len());
        match stream.read(&mut buf[..room]) {
            Ok(0) => return Err(RequestError::Closed),
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(RequestError::Timeout)
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return Err(RequestError::Closed),
        }
    }
    parse_head(&head)
}

/// Where the head ends (the index of its blank line), if it has arrived.
fn head_end(bytes: &[u8]) -> Option<usize> {
    let crlf = bytes.windows(4).position(|w| w == b"\r\n\r\n");
    let lf = bytes.windows(2).position(|w| w == b"\n\n");
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Parse a request head (request line and headers, without the blank line).
pub fn parse_head(head: &[u8]) -> Result<Request, RequestError> {
    if head.len() > MAX_HEAD_BYTES {
        return Err(RequestError::TooLarge);
    }
    let text = std::str::from_utf8(head).map_err(|_| RequestError::Malformed("not text"))?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let first = lines.next().unwrap_or("");
    let mut parts = first.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(RequestError::Malformed(
            "the request line is not METHOD TARGET VERSION",
        ));
    };
    if !version.starts_with("HTTP/") {
        return Err(RequestError::Malformed("no HTTP version"));
    }
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(RequestError::Version);
    }
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        _ => return Err(RequestError::Method),
    };
    let mut host = None;
    for (i, line) in lines.enumerate() {
        if i >= MAX_HEADERS {
            return Err(RequestError::TooLarge);
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(RequestError::Malformed("a header line without a colon"));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("host") {
            if host.is_some() {
                return Err(RequestError::Malformed("two Host headers"));
            }
            host = Some(value.to_ascii_lowercase());
        } else if name.eq_ignore_ascii_case("content-length") {
            if value != "0" {
                return Err(RequestError::Body);
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(RequestError::Body);
        }
    }
    if version == "HTTP/1.1" && host.is_none() {
        return Err(RequestError::Malformed("an HTTP/1.1 request without Host"));
    }
    let (path, query) = split_target(target)?;
    Ok(Request {
        head_only,
        path,
        query,
        host,
    })
}

/// `/path?a=1&b=2` into the decoded path and pairs.
fn split_target(target: &str) -> Result<(String, Vec<(String, String)>), RequestError> {
    if !target.starts_with('/') {
        return Err(RequestError::Malformed("the target is not a path"));
    }
    let target = target.split('#').next().unwrap_or(target);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let path = decode(path, false)?;
    let mut pairs = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        pairs.push((decode(k, true)?, decode(v, true)?));
    }
    Ok((path, pairs))
}

/// Percent-decoding (and `+` as a space in a query), into UTF-8.
fn decode(s: &str, plus_is_space: bool) -> Result<String, RequestError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or(RequestError::Malformed("a bad percent escape"))?;
                out.push(hex);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| RequestError::Malformed("the target is not UTF-8"))
}

/// The reason phrase of a status.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        421 => "Misdirected Request",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// Write `r` and close the connection: the answer's headers say so. The
/// page's own files may only load scripts and styles from this server.
pub fn write_response(
    stream: &mut TcpStream,
    r: &Response,
    head_only: bool,
) -> std::io::Result<()> {
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n\
         X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\nX-Frame-Options: DENY\r\n\
         Content-Security-Policy: default-src 'self'; img-src 'self' data:; frame-ancestors 'none'\r\n\
         Connection: close\r\n",
        r.status,
        reason(r.status),
        r.content_type,
        r.body.len()
    );
    if r.status == 405 {
        head.push_str("Allow: GET, HEAD\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if !head_only {
        stream.write_all(&r.body)?;
    }
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Request, RequestError> {
        parse_head(s.as_bytes())
    }

    #[test]
    fn a_get_with_a_query() {
        let r = parse("GET /api/history?name=a%20b&x=1+2 HTTP/1.1\r\nHost: 127.0.0.1:80").unwrap();
        assert_eq!(r.path, "/api/history");
        assert_eq!(r.param("name"), Some("a b"));
        assert_eq!(r.param("x"), Some("1 2"));
        assert_eq!(r.host.as_deref(), Some("127.0.0.1:80"));
        assert!(!r.head_only);
        assert!(parse("HEAD / HTTP/1.0").unwrap().head_only);
    }

    #[test]
    fn what_is_refused() {
        use RequestError::*;
        assert_eq!(parse("POST / HTTP/1.1\r\nHost: h"), Err(Method));
        assert_eq!(parse("GET / HTTP/2\r\nHost: h"), Err(Version));
        assert_eq!(
            parse("GET / HTTP/1.1"),
            Err(Malformed("an HTTP/1.1 request without Host"))
        );
        assert_eq!(
            parse("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5"),
            Err(Body)
        );
        assert_eq!(
            parse("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked"),
            Err(Body)
        );
        assert!(matches!(
            parse("GET /%zz HTTP/1.1\r\nHost: h"),
            Err(Malformed(_))
        ));
        assert!(matches!(
            parse("GET /%ff HTTP/1.1\r\nHost: h"),
            Err(Malformed(_))
        ));
        assert!(matches!(
            parse("GET x HTTP/1.1\r\nHost: h"),
            Err(Malformed(_))
        ));
        assert!(matches!(parse("GET  / HTTP/1.1"), Err(Malformed(_))));
        assert!(matches!(parse(""), Err(Malformed(_))));
        assert!(matches!(parse("\u{0}\u{1}"), Err(Malformed(_))));
        let many = format!(
            "GET / HTTP/1.1\r\nHost: h{}",
            "\r\nX: y".repeat(MAX_HEADERS + 1)
        );
        assert_eq!(parse(&many), Err(TooLarge));
        assert_eq!(parse_head(&[b'a'; MAX_HEAD_BYTES + 1]), Err(TooLarge));
    }

    #[test]
    fn the_head_ends_at_the_first_blank_line() {
        assert_eq!(head_end(b"GET / HTTP/1.0\r\n\r\nbody"), Some(14));
        assert_eq!(head_end(b"GET / HTTP/1.0\n\n"), Some(14));
        assert_eq!(head_end(b"GET / HTTP/1.0\r\n"), None);
    }
}
