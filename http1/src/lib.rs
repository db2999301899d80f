//! `http1` owns HTTP/1.1 as chan's servers speak it, without I/O: cutting
//! requests out of what a connection received (keep-alive and pipelining
//! are the caller reading on after each one), and writing responses.
//! chan's example responder and the daemons' metrics endpoints share it,
//! the latter with the text format they serve (`prometheus`).
//!
//! It takes what small servers need and refuses the rest plainly: no
//! chunked request bodies, no header folding, a head of at most
//! [`MAX_HEAD`] bytes and a body of at most [`MAX_BODY`]. A request that
//! breaks the grammar is an error the server answers with 400 and a close
//! (the stream can no longer be trusted to be in step).

use std::fmt;

pub mod prometheus;

/// Largest request line plus headers.
pub const MAX_HEAD: usize = 8 * 1024;
/// Largest request body (`Content-Length`).
pub const MAX_BODY: usize = 1 << 20;

/// One request, borrowed from the receive buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The request target as sent (`/metrics`, `/a?b=c`).
    pub target: &'a str,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
    /// Whether the connection stays open after the response: HTTP/1.1
    /// unless `Connection: close`, HTTP/1.0 only with `keep-alive`.
    pub keep_alive: bool,
    pub body: &'a [u8],
}

impl Request<'_> {
    /// The target without its query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or(self.target)
    }
}

/// What the front of a receive buffer holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// A whole request and the bytes it took (read on from there).
    Request(Request<'a>, usize),
    /// Not all of it yet.
    Partial,
}

/// Why the bytes are not a request this parser takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpError {
    /// Answer 400: the text says what was wrong.
    Malformed(&'static str),
    /// Answer 431: no end of the head within [`MAX_HEAD`].
    HeadTooLarge,
    /// Answer 413: a body over [`MAX_BODY`].
    BodyTooLarge,
    /// Answer 505.
    Version,
    /// Answer 501: `Transfer-Encoding` (chunked bodies).
    Unsupported,
}

impl HttpError {
    /// The response status and reason phrase.
    pub fn status(self) -> (u16, &'static str) {
        match self {
            HttpError::Malformed(_) => (400, "Bad Request"),
            HttpError::HeadTooLarge => (431, "Request Header Fields Too Large"),
            HttpError::BodyTooLarge => (413, "Content Too Large"),
            HttpError::Version => (505, "HTTP Version Not Supported"),
            HttpError::Unsupported => (501, "Not Implemented"),
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Malformed(why) => write!(f, "malformed request: {why}"),
            HttpError::HeadTooLarge => write!(f, "request head over {MAX_HEAD} bytes"),
            HttpError::BodyTooLarge => write!(f, "request body over {MAX_BODY} bytes"),
            HttpError::Version => f.write_str("not HTTP/1.0 or HTTP/1.1"),
            HttpError::Unsupported => f.write_str("Transfer-Encoding is not supported"),
        }
    }
}

impl std::error::Error for HttpError {}

/// The request at the front of `buf`, if it is all there.
pub fn parse(buf: &[u8]) -> Result<Parsed<'_>, HttpError> {
    let Some(head_len) = find_head_end(buf) else {
        return if buf.len() > MAX_HEAD {
            Err(HttpError::HeadTooLarge)
        } else {
            // A stream that cannot be a request line gets its 400 at once.
            check_prefix(buf).map(|()| Parsed::Partial)
        };
    };
    if head_len > MAX_HEAD {
        return Err(HttpError::HeadTooLarge);
    }
    let head = std::str::from_utf8(&buf[..head_len - 4])
        .map_err(|_| HttpError::Malformed("the head is not text"))?;
    let mut lines = head.split("\r\n");
    let (method, target, minor) = request_line(lines.next().unwrap_or(""))?;
    let mut keep_alive = minor == 1;
    let mut content_length: Option<usize> = None;
    for line in lines {
        let (name, value) = header(line)?;
        if name.eq_ignore_ascii_case("connection") {
            for option in value.split(',').map(str::trim) {
                if option.eq_ignore_ascii_case("close") {
                    keep_alive = false;
                } else if option.eq_ignore_ascii_case("keep-alive") {
                    keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            let n = content_length_value(value)?;
            if content_length.is_some_and(|m| m != n) {
                return Err(HttpError::Malformed("two different Content-Length values"));
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(HttpError::Unsupported);
        }
    }
    let body_len = content_length.unwrap_or(0);
    if body_len > MAX_BODY {
        return Err(HttpError::BodyTooLarge);
    }
    let total = head_len + body_len;
    if buf.len() < total {
        return Ok(Parsed::Partial);
    }
    let request = Request {
        method,
        target,
        minor,
        keep_alive,
        body: &buf[head_len..total],
    };
    Ok(Parsed::Request(request, total))
}

/// What a server answers one request with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response<'a> {
    pub status: u16,
    pub reason: &'a str,
    pub content_type: &'a str,
    pub body: std::borrow::Cow<'a, [u8]>,
}

impl<'a> Response<'a> {
    pub fn new(
        status: u16,
        reason: &'a str,
        content_type: &'a str,
        body: impl Into<std::borrow::Cow<'a, [u8]>>,
    ) -> Response<'a> {
        Response {
            status,
            reason,
            content_type,
            body: body.into(),
        }
    }
}

/// Answers every whole request at the front of `buf` with `route`, in
/// order (pipelining), appending the responses to `out` (a HEAD's without
/// its body) and dropping what it answered from `buf`. Returns whether
/// the connection ends once `out` is sent: a request that asked for that,
/// or one that could not be parsed (answered with its error; the rest of
/// `buf` is dropped, it can no longer be trusted to be in step).
pub fn serve<'r>(
    buf: &mut Vec<u8>,
    out: &mut Vec<u8>,
    mut route: impl FnMut(&Request<'_>) -> Response<'r>,
) -> bool {
    let mut taken = 0;
    let close = loop {
        match parse(&buf[taken..]) {
            Ok(Parsed::Request(request, len)) => {
                taken += len;
                let r = route(&request);
                respond(
                    out,
                    r.status,
                    r.reason,
                    r.content_type,
                    &r.body,
                    request.keep_alive,
                );
                if request.method == "HEAD" {
                    out.truncate(out.len() - r.body.len());
                }
                if !request.keep_alive {
                    break true;
                }
            }
            Ok(Parsed::Partial) => break false,
            Err(e) => {
                respond_error(out, e);
                break true;
            }
        }
    };
    if close {
        buf.clear();
    } else {
        buf.drain(..taken);
    }
    close
}

/// Appends a whole response to `out`.
pub fn respond(
    out: &mut Vec<u8>,
    status: u16,
    reason: &str,
    content_type: &str,
    body: &[u8],
    keep_alive: bool,
) {
    let connection = if keep_alive { "keep-alive" } else { "close" };
    out.extend_from_slice(
        format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(body);
}

/// Appends the response an error gets (the connection is then closed).
pub fn respond_error(out: &mut Vec<u8>, error: HttpError) {
    let (status, reason) = error.status();
    let body = format!("{error}\n");
    respond(out, status, reason, "text/plain", body.as_bytes(), false);
}

/// Where the head ends (after its blank line), if it has.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    let window = &buf[..buf.len().min(MAX_HEAD + 4)];
    window
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}

/// Refuses early what cannot start a request line: a method is letters.
fn check_prefix(buf: &[u8]) -> Result<(), HttpError> {
    let method_end = buf.iter().position(|&b| b == b' ').unwrap_or(buf.len());
    let method_ok = buf[..method_end].iter().all(u8::is_ascii_uppercase) && method_end <= 16;
    let line_ok = !buf.contains(&b'\n') || buf.windows(2).any(|w| w == b"\r\n");
    if method_ok && line_ok {
        Ok(())
    } else {
        Err(HttpError::Malformed("not an HTTP request line"))
    }
}

fn request_line(line: &str) -> Result<(&str, &str, u8), HttpError> {
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HttpError::Malformed(
            "the request line is not METHOD TARGET VERSION",
        ));
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(HttpError::Malformed("bad method"));
    }
    if !target.starts_with('/') && target != "*" {
        return Err(HttpError::Malformed("the target is not a path"));
    }
    let minor = match version {
        "HTTP/1.1" => 1,
        "HTTP/1.0" => 0,
        v if v.starts_with("HTTP/") => return Err(HttpError::Version),
        _ => return Err(HttpError::Malformed("bad version")),
    };
    Ok((method, target, minor))
}

fn header(line: &str) -> Result<(&str, &str), HttpError> {
    if line.starts_with([' ', '\t']) {
        return Err(HttpError::Malformed("folded header line"));
    }
    let (name, value) = line
        .split_once(':')
        .ok_or(HttpError::Malformed("a header line without ':'"))?;
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Err(HttpError::Malformed("bad header name"));
    }
    Ok((name, value.trim_matches([' ', '\t'])))
}

fn content_length_value(value: &str) -> Result<usize, HttpError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HttpError::Malformed("bad Content-Length"));
    }
    value.parse().map_err(|_| HttpError::BodyTooLarge)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn request(buf: &[u8]) -> (Request<'_>, usize) {
        match parse(buf) {
            Ok(Parsed::Request(r, n)) => (r, n),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn pipelined_requests_come_out_one_after_the_other() {
        let buf = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b?q=1 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /c HTTP/1.0\r\n\r\n";
        let (a, n) = request(buf);
        assert_eq!((a.method, a.target, a.keep_alive), ("GET", "/a", true));
        let (b, m) = request(&buf[n..]);
        assert_eq!((b.method, b.path(), b.body), ("POST", "/b", &b"abc"[..]));
        let (c, k) = request(&buf[n + m..]);
        assert_eq!((c.minor, c.keep_alive), (0, false), "1.0 closes by default");
        assert_eq!(n + m + k, buf.len());
    }

    #[test]
    fn connection_headers_decide_keep_alive() {
        let (r, _) = request(b"GET / HTTP/1.1\r\nConnection: Close\r\n\r\n");
        assert!(!r.keep_alive);
        let (r, _) = request(b"GET / HTTP/1.0\r\nconnection: keep-alive\r\n\r\n");
        assert!(r.keep_alive);
    }

    #[test]
    fn incomplete_requests_wait_and_bad_ones_are_refused() {
        assert_eq!(parse(b"GET / HTTP/1.1\r\nHo"), Ok(Parsed::Partial));
        assert_eq!(
            parse(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab"),
            Ok(Parsed::Partial)
        );
        let bad: [(&[u8], HttpError); 8] = [
            (
                b"\x16\x03\x01\x02\x00",
                HttpError::Malformed("not an HTTP request line"),
            ),
            (
                b"GET /\r\n\r\n",
                HttpError::Malformed("the request line is not METHOD TARGET VERSION"),
            ),
            (b"GET / HTTP/2.0\r\n\r\n", HttpError::Version),
            (
                b"GET x HTTP/1.1\r\n\r\n",
                HttpError::Malformed("the target is not a path"),
            ),
            (
                b"GET / HTTP/1.1\r\nNo colon\r\n\r\n",
                HttpError::Malformed("a header line without ':'"),
            ),
            (
                b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
                HttpError::Malformed("bad Content-Length"),
            ),
            (
                b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                HttpError::Unsupported,
            ),
            (
                b"GET / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n",
                HttpError::BodyTooLarge,
            ),
        ];
        for (bytes, want) in bad {
            assert_eq!(
                parse(bytes),
                Err(want),
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
        let huge = [b"GET / HTTP/1.1\r\nX: ".as_slice(), &[b'a'; MAX_HEAD]].concat();
        assert_eq!(parse(&huge), Err(HttpError::HeadTooLarge));
    }

    #[test]
    fn responses_carry_their_length_and_connection() {
        let mut out = Vec::new();
        respond(&mut out, 200, "OK", "text/plain", b"hi\n", true);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.contains("Content-Length: 3\r\nConnection: keep-alive\r\n\r\nhi\n"));
        let mut out = Vec::new();
        respond_error(&mut out, HttpError::Malformed("bad method"));
        assert!(String::from_utf8(out)
            .unwrap()
            .starts_with("HTTP/1.1 400 Bad Request"));
    }

    #[test]
    fn serve_answers_pipelined_requests_and_stops_at_a_bad_one() {
        let route = |r: &Request<'_>| match r.path() {
            "/" => Response::new(200, "OK", "text/plain", &b"hello\n"[..]),
            _ => Response::new(404, "Not Found", "text/plain", &b"no\n"[..]),
        };
        let mut buf =
            b"GET / HTTP/1.1\r\n\r\nHEAD / HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\n\r\nGET / HT"
                .to_vec();
        let mut out = Vec::new();
        assert!(!serve(&mut buf, &mut out, route), "kept alive");
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches("HTTP/1.1 200").count(), 2);
        assert_eq!(
            text.matches("hello\n").count(),
            1,
            "HEAD has no body: {text}"
        );
        assert!(text.contains("HTTP/1.1 404"));
        assert_eq!(buf, b"GET / HT", "the partial request waits");
        buf.extend_from_slice(b"TP/9\r\n\r\nGET / HTTP/1.1\r\n\r\n");
        let mut out = Vec::new();
        assert!(serve(&mut buf, &mut out, route), "closed after the error");
        assert!(String::from_utf8(out).unwrap().starts_with("HTTP/1.1 505"));
        assert!(buf.is_empty());
    }

    proptest! {
        #[test]
        fn any_bytes_parse_or_fail_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
            if let Ok(Parsed::Request(_, n)) = parse(&bytes) {
                prop_assert!(n <= bytes.len());
            }
        }

        #[test]
        fn a_request_cut_anywhere_is_partial_until_whole(cut in 0usize..60) {
            let whole = b"POST /x HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody";
            let cut = cut.min(whole.len() - 1);
            prop_assert_eq!(parse(&whole[..cut]), Ok(Parsed::Partial));
            prop_assert!(matches!(parse(whole), Ok(Parsed::Request(_, n)) if n == whole.len()));
        }
    }
}
