//! The HTTP responder example (chan/examples/http_responder.rs): kept-alive
//! and pipelined requests answered in order, a malformed one refused and
//! its connection closed, HTTP/1.0 closed after its answer, and the other
//! connections served throughout.

mod common;

use common::{Example, PATIENCE};
use std::io::{Read, Write};
use std::net::TcpStream;

fn client(example: &Example) -> TcpStream {
    let s = TcpStream::connect(example.addr).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s
}

/// Reads until `n` responses have come (each ends with its body, whose
/// length its header gives).
fn responses(s: &mut TcpStream, n: usize) -> Vec<String> {
    let mut got = Vec::new();
    let mut buf = Vec::new();
    while got.len() < n {
        let mut chunk = [0u8; 4096];
        let k = s.read(&mut chunk).unwrap();
        assert!(k > 0, "closed after {} responses", got.len());
        buf.extend_from_slice(&chunk[..k]);
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let len: usize = (head.lines())
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .and_then(|v| v.parse().ok())
                .unwrap();
            if buf.len() < end + 4 + len {
                break;
            }
            let whole: Vec<u8> = buf.drain(..end + 4 + len).collect();
            got.push(String::from_utf8_lossy(&whole).into_owned());
        }
    }
    got
}

fn closed(s: &mut TcpStream) -> bool {
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).is_ok() && rest.is_empty()
}

#[test]
fn keep_alive_and_pipelined_requests_are_answered_in_order() {
    let example = Example::start("http_responder", &["127.0.0.1:0"]);
    let mut s = client(&example);
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let first = responses(&mut s, 1);
    assert!(first[0].starts_with("HTTP/1.1 200 OK") && first[0].ends_with("hello\n"));
    s.write_all(b"GET /health HTTP/1.1\r\n\r\nGET /nope HTTP/1.1\r\n\r\nPUT / HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi")
        .unwrap();
    let three = responses(&mut s, 3);
    assert!(three[0].ends_with("\r\n\r\nok\n"), "{three:?}");
    assert!(three[1].starts_with("HTTP/1.1 404"), "{three:?}");
    assert!(three[2].starts_with("HTTP/1.1 405"), "{three:?}");
    s.write_all(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert!(responses(&mut s, 1)[0].contains("Connection: close"));
    assert!(closed(&mut s), "closed after a Connection: close answer");
}

#[test]
fn a_malformed_request_is_refused_and_only_its_connection_closed() {
    let example = Example::start("http_responder", &["127.0.0.1:0"]);
    let mut good = client(&example);
    let mut bad = client(&example);
    bad.write_all(b"\x16\x03\x01\x00\xa5\x01\x00").unwrap();
    let refused = responses(&mut bad, 1);
    assert!(
        refused[0].starts_with("HTTP/1.1 400 Bad Request"),
        "{refused:?}"
    );
    assert!(closed(&mut bad));
    let mut old = client(&example);
    old.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    assert!(responses(&mut old, 1)[0].ends_with("hello\n"));
    assert!(closed(&mut old), "HTTP/1.0 closes after its answer");
    good.write_all(b"HEAD / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n")
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let mut text = String::new();
    while text.matches("HTTP/1.1 200").count() < 2 || !text.ends_with("hello\n") {
        let k = good.read(&mut buf).unwrap();
        assert!(k > 0);
        text.push_str(&String::from_utf8_lossy(&buf[..k]));
    }
    assert_eq!(
        text.matches("hello\n").count(),
        1,
        "HEAD has no body: {text}"
    );
}
