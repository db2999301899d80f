//! The `echo` example against real clients: everything issue #2's "done
//! when" lists, driven through the built example binary.

mod common;

use common::{frame, read_frame, Example, PATIENCE};
use proto::Header;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};

fn start_echo() -> Example {
    Example::start("echo", &["127.0.0.1:0"])
}

fn client(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s
}

#[test]
fn echo_answers_a_frame_sent_one_byte_at_a_time() {
    let echo = start_echo();
    let mut c = client(echo.addr);
    c.set_nodelay(true).unwrap();
    let f = frame(7, b"trickle");
    for b in &f {
        c.write_all(&[*b]).unwrap();
    }
    assert_eq!(read_frame(&mut c), f);
}

#[test]
fn echo_answers_200_pipelined_frames_in_order() {
    let echo = start_echo();
    let mut c = client(echo.addr);
    let frames: Vec<Vec<u8>> = (0..200)
        .map(|i| frame(i, format!("msg {i}").as_bytes()))
        .collect();
    c.write_all(&frames.concat()).unwrap();
    for f in &frames {
        assert_eq!(&read_frame(&mut c), f);
    }
}

#[test]
fn echo_answers_a_1_mib_frame() {
    let echo = start_echo();
    let mut c = client(echo.addr);
    let body: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    let f = frame(1, &body);
    let mut writer = c.try_clone().unwrap();
    let sent = f.clone();
    let t = std::thread::spawn(move || writer.write_all(&sent).unwrap());
    assert_eq!(read_frame(&mut c), f);
    t.join().unwrap();
}

#[test]
fn echo_closes_only_the_peer_with_an_oversized_length() {
    let echo = start_echo();
    let mut good = client(echo.addr);
    let mut bad = client(echo.addr);
    bad.write_all(&Header::request(1, 1, 0xFFFF_FFF0).to_bytes())
        .unwrap();
    let mut rest = Vec::new();
    // The bad peer sees its connection closed (EOF or reset), not a hang.
    let closed = match bad.read_to_end(&mut rest) {
        Ok(_) => rest.is_empty(),
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    };
    assert!(closed, "bad peer got data instead of a close");
    let f = frame(2, b"still here");
    good.write_all(&f).unwrap();
    assert_eq!(read_frame(&mut good), f);
}

#[test]
fn echo_replies_then_closes_after_shutdown_write() {
    let echo = start_echo();
    let mut c = client(echo.addr);
    let f = frame(3, b"last words");
    c.write_all(&f).unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let mut all = Vec::new();
    c.read_to_end(&mut all).unwrap();
    assert_eq!(all, f, "reply must arrive, then EOF");
}

#[test]
fn echo_serves_1500_concurrent_connections() {
    chan::sys::raise_nofile_limit().unwrap();
    let echo = start_echo();
    let mut conns: Vec<TcpStream> = (0..1500).map(|_| client(echo.addr)).collect();
    for (i, c) in conns.iter_mut().enumerate() {
        c.write_all(&frame(i as u32, b"hi")).unwrap();
    }
    for (i, c) in conns.iter_mut().enumerate() {
        assert_eq!(read_frame(c), frame(i as u32, b"hi"));
    }
}
