//! The TCP load balancer example (chan/examples/tcp_balancer.rs) in front
//! of two echo examples: bytes pass both ways unchanged, a dead backend's
//! clients go to the live one, and over --max-conns a new client is
//! closed at once while the others are served.

mod common;

use common::{frame, read_frame, Example, PATIENCE};
use std::io::{Read, Write};
use std::net::TcpStream;

fn client(example: &Example) -> TcpStream {
    let s = TcpStream::connect(example.addr).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s
}

/// One frame through the balancer and back.
fn round_trip(lb: &Example, seq: u32) {
    let mut s = client(lb);
    let sent = frame(seq, &vec![seq as u8; 3000]);
    s.write_all(&sent).unwrap();
    assert_eq!(read_frame(&mut s), sent, "frame {seq} came back");
}

#[test]
fn clients_reach_a_live_backend_and_a_dead_one_is_skipped() {
    let first = Example::start("echo", &["127.0.0.1:0"]);
    let second = Example::start("echo", &["127.0.0.1:0"]);
    let (a, b) = (first.addr.to_string(), second.addr.to_string());
    let lb = Example::start(
        "tcp_balancer",
        &["127.0.0.1:0", &a, &b, "--connect-timeout-ms", "300"],
    );
    for seq in 0..6 {
        round_trip(&lb, seq);
    }
    drop(first); // killed: connects to it are refused from now on
    for seq in 6..16 {
        round_trip(&lb, seq);
    }
}

#[test]
fn over_max_conns_a_new_client_is_closed_and_the_others_go_on() {
    let backend = Example::start("echo", &["127.0.0.1:0"]);
    let b = backend.addr.to_string();
    let lb = Example::start(
        "tcp_balancer",
        &["127.0.0.1:0", &b, "--max-conns", "2", "--least-conn"],
    );
    let mut one = client(&lb);
    let mut two = client(&lb);
    for (s, seq) in [(&mut one, 1), (&mut two, 2)] {
        let sent = frame(seq, b"held open");
        s.write_all(&sent).unwrap();
        assert_eq!(read_frame(s), sent);
    }
    let mut three = client(&lb);
    let mut rest = Vec::new();
    let closed = three.read_to_end(&mut rest);
    assert!(
        matches!(closed, Ok(0))
            || closed
                .as_ref()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "the third client is closed at once: {closed:?}"
    );
    let sent = frame(3, b"still served");
    one.write_all(&sent).unwrap();
    assert_eq!(read_frame(&mut one), sent);
    drop((one, two));
}

#[test]
fn sigterm_stops_accepting_and_lets_open_connections_finish() {
    let backend = Example::start("echo", &["127.0.0.1:0"]);
    let b = backend.addr.to_string();
    let mut lb = Example::start("tcp_balancer", &["127.0.0.1:0", &b]);
    let mut open = client(&lb);
    let sent = frame(1, b"before");
    open.write_all(&sent).unwrap();
    assert_eq!(read_frame(&mut open), sent);
    lb.signal(libc::SIGTERM);
    // The listener closes: a new client is refused (or closed unserved).
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        match TcpStream::connect(lb.addr) {
            Err(_) => break,
            Ok(mut s) => {
                s.set_read_timeout(Some(PATIENCE)).unwrap();
                let _ = s.write_all(&frame(2, b"late"));
                let mut buf = Vec::new();
                if matches!(s.read_to_end(&mut buf), Ok(0)) {
                    break;
                }
            }
        }
        assert!(std::time::Instant::now() < deadline, "still accepting");
    }
    let sent = frame(3, b"after the signal");
    open.write_all(&sent).unwrap();
    assert_eq!(
        read_frame(&mut open),
        sent,
        "an open connection is still served"
    );
    drop(open);
    let status = lb.wait_exit().expect("exits once its connections are done");
    assert!(status.success(), "{status}");
}

/// A backend that answers once its client has finished sending: it reads
/// to EOF, then writes how many bytes it got, then closes.
fn count_to_eof_backend() -> (std::net::SocketAddr, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let serve = std::thread::spawn(move || {
        // The balancer's health probes connect and close at once; the
        // client's connection is the one that sends something.
        loop {
            let (mut s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(PATIENCE)).unwrap();
            let mut got = Vec::new();
            if s.read_to_end(&mut got).is_err() || got.is_empty() {
                continue;
            }
            s.write_all(format!("got {} bytes", got.len()).as_bytes())
                .unwrap();
            return;
        }
    });
    (addr, serve)
}

#[test]
fn a_client_that_stops_sending_still_gets_the_backends_answer() {
    let (backend, serve) = count_to_eof_backend();
    let lb = Example::start("tcp_balancer", &["127.0.0.1:0", &backend.to_string()]);
    let mut s = client(&lb);
    s.write_all(&[7u8; 5000]).unwrap();
    // Half-close: the backend must see EOF, and its answer come back.
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert_eq!(answer, "got 5000 bytes");
    serve.join().unwrap();
}
