//! How a connection ends: half-close, reset, and writing to a dead peer
//! (scenarios 4, 5 and 6), plus outbound connects.

mod common;

use chan::{ChanError, Event};
use common::*;
use socket2::{Domain, Socket, Type};
use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

#[test]
fn peer_shutdown_write_delivers_queued_frames_before_eof() {
    let mut chans = chans();
    let (_l, mut client, server) = connected(&mut chans);
    let frames: Vec<Vec<u8>> = (0..3).map(|i| frame(i, b"before eof")).collect();
    client.write_all(&frames.concat()).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mut seen = Vec::new();
    wait_for(&mut chans, "eof", |_, e| match e {
        Event::Frame { frame, .. } => {
            seen.push(frame.as_bytes().to_vec());
            None
        }
        Event::Eof { id } if id == server => Some(()),
        other => panic!("unexpected {other:?}"),
    });
    assert_eq!(seen, frames);
    // Half-closed: we can still answer the peer.
    chans.send(server, &frame(9, b"reply")).unwrap();
}

#[test]
fn our_half_close_sends_the_queue_then_eof_and_reading_goes_on() {
    let mut chans = chans();
    let (_l, mut client, server) = connected(&mut chans);
    // More than the socket takes at once: the shutdown must wait for it.
    let queued = frame(1, &vec![5u8; 4 << 20]);
    chans.send(server, &queued).unwrap();
    chans.shutdown_when_flushed(server).unwrap();
    assert!(matches!(
        chans.send(server, b"late"),
        Err(ChanError::WriteShut(id)) if id == server
    ));
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        std::io::Read::read_to_end(&mut client, &mut got).unwrap();
        (client, got)
    });
    // Keep the loop turning until the reader has seen EOF.
    let deadline = Instant::now() + PATIENCE;
    while !reader.is_finished() {
        assert!(Instant::now() < deadline, "the peer never read EOF");
        let _ = events_during(&mut chans, Duration::from_millis(20));
    }
    let (mut client, got) = reader.join().unwrap();
    assert_eq!(got.len(), queued.len(), "everything queued, then EOF");
    assert!(got == queued);
    // Our side is shut, the peer's is not: its frames still arrive.
    client.write_all(&frame(2, b"after our eof")).unwrap();
    wait_for(&mut chans, "a frame after the half-close", |_, e| match e {
        Event::Frame { id, frame } if id == server => Some(frame.body().to_vec()),
        _ => None,
    });
}

fn reset_by_peer(client: std::net::TcpStream) {
    let sock = Socket::from(client);
    sock.set_linger(Some(Duration::ZERO)).unwrap();
    drop(sock); // linger 0: RST instead of FIN
}

#[test]
fn peer_reset_is_one_error_event_then_silence() {
    let mut chans = chans();
    let (_l, client, server) = connected(&mut chans);
    reset_by_peer(client);
    wait_for(&mut chans, "reset error", |_, e| match e {
        Event::Error { id, .. } if id == server => Some(()),
        Event::Eof { id } if id == server => panic!("reset reported as EOF"),
        _ => None,
    });
    let waits_before = chans.counters().syscalls.epoll_wait;
    let after = events_during(&mut chans, Duration::from_millis(200));
    assert!(after.is_empty(), "events after the error: {after:?}");
    let waits = chans.counters().syscalls.epoll_wait - waits_before;
    assert!(
        waits < 10,
        "{waits} wakeups in 200 ms: the loop is spinning"
    );
}

#[test]
fn send_after_peer_reset_errors_without_sigpipe() {
    let mut chans = chans();
    // Blocked SIGPIPE stays pending even though Rust ignores it, so the
    // signal channel would show one if send raised it.
    let pipe = chans.signals(&[libc::SIGPIPE]).unwrap();
    let (_l, client, server) = connected(&mut chans);
    reset_by_peer(client);
    wait_for(&mut chans, "reset", |_, e| {
        matches!(e, Event::Error { .. }).then_some(())
    });
    let mut failed = false;
    for _ in 0..3 {
        failed |= chans.send(server, &frame(1, b"into the void")).is_err();
    }
    assert!(failed, "send to a reset peer must fail");
    let signals: Vec<_> = events_during(&mut chans, Duration::from_millis(50))
        .into_iter()
        .filter(|e| e.id() == pipe)
        .collect();
    assert!(signals.is_empty(), "SIGPIPE was raised: {signals:?}");
}

#[test]
fn connect_completes_and_refused_connect_is_an_error_event() {
    let mut chans = chans();
    let l = chans.tcp_listen(loopback()).unwrap();
    let addr = chans.local_addr(l).unwrap();
    let c = chans.tcp_connect(addr, PATIENCE).unwrap();
    // Frames sent while connecting are queued, then delivered.
    chans.send(c, &frame(5, b"early")).unwrap();
    let mut accepted = None;
    let mut connected = false;
    let got = wait_for(&mut chans, "frame from client", |_, e| match e {
        Event::Accepted { id, .. } => {
            accepted = Some(id);
            None
        }
        Event::Connected { id } if id == c => {
            connected = true;
            None
        }
        Event::Frame { id, frame } if Some(id) == accepted => Some(frame),
        _ => None,
    });
    assert!(connected);
    assert_eq!(got.body(), b"early");

    let free = TcpListener::bind(loopback()).unwrap();
    let closed_port = free.local_addr().unwrap();
    drop(free);
    let c2 = chans.tcp_connect(closed_port, PATIENCE).unwrap();
    let err = wait_for(&mut chans, "refusal", |_, e| match e {
        Event::Error { id, error } if id == c2 => Some(error),
        _ => None,
    });
    assert!(
        matches!(err, ChanError::Io(ref e) if e.kind() == std::io::ErrorKind::ConnectionRefused),
        "{err:?}"
    );
}

/// Fills a never-accepting listener's backlog until a connect stalls,
/// which proves new SYNs are being dropped.
fn saturated_listener() -> (Socket, SocketAddr, Vec<TcpStream>) {
    let l = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    l.bind(&loopback().into()).unwrap();
    l.listen(0).unwrap();
    let addr = l.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..16 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(s) => fillers.push(s),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => return (l, addr, fillers),
            Err(e) => panic!("filler connect: {e}"),
        }
    }
    panic!("backlog never filled");
}

#[test]
fn connect_that_never_completes_times_out() {
    let mut chans = chans();
    let (_listener, addr, _fillers) = saturated_listener();
    let start = Instant::now();
    let c = chans.tcp_connect(addr, Duration::from_millis(300)).unwrap();
    let outcome = wait_for(&mut chans, "connect timeout", |_, e| match e {
        Event::Error { id, error } if id == c => Some(Ok(error)),
        Event::Connected { id } if id == c => Some(Err("connected")),
        _ => None,
    });
    assert!(
        matches!(outcome, Ok(ChanError::ConnectTimeout)),
        "{outcome:?}"
    );
    assert!(
        start.elapsed() >= Duration::from_millis(300),
        "timed out early"
    );
}
