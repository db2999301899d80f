//! The legacy (Masks shim) and native loops of `legacy_select` serve the
//! same answers: the port changes the call sites, not the behaviour.

mod common;

use common::{frame, read_frame, Example, PATIENCE};
use proto::{Header, HEADER_LEN};
use std::io::Write;
use std::net::TcpStream;

fn answers(style: &str) -> Vec<Vec<u8>> {
    let server = Example::start("legacy_select", &[style, "127.0.0.1:0"]);
    let mut out = Vec::new();
    let mut first = TcpStream::connect(server.addr).unwrap();
    let mut second = TcpStream::connect(server.addr).unwrap();
    for s in [&mut first, &mut second] {
        s.set_read_timeout(Some(PATIENCE)).unwrap();
    }
    first
        .write_all(&[frame(1, b"abc"), frame(2, b"hello")].concat())
        .unwrap();
    out.push(read_frame(&mut first));
    out.push(read_frame(&mut first));
    drop(first); // the loop must close it and keep serving the other
    second.write_all(&frame(3, b"xyz")).unwrap();
    out.push(read_frame(&mut second));
    out
}

#[test]
fn legacy_and_native_loops_answer_alike() {
    let legacy = answers("legacy");
    assert_eq!(legacy, answers("native"));
    let h = Header::parse(&legacy[1]).unwrap();
    assert_eq!(
        (h.sequence, h.status, &legacy[1][HEADER_LEN..]),
        (2, 0, &b"olleh"[..])
    );
}
