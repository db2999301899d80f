//! Any frames, cut anywhere: a client writes random frames (bodies either
//! side of the receive buffer's 2 KiB refill point) in random-sized
//! pieces, letting chan run between pieces; chan must hand out exactly
//! those frames, whole and in order, and echo them back byte for byte —
//! cut out as owned frames or lent in place alike.
//! (Partial writes of a queue are write_queue.rs's.)

mod common;

use chan::{ChanId, Channels, Event, Lent};
use common::*;
use proptest::prelude::*;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn bodies() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let size = prop_oneof![0usize..64, 1900usize..2200, 4000usize..9000];
    let body = |n: usize| (0..n).map(|k| (k * 7 + n) as u8).collect();
    prop::collection::vec(size.prop_map(body), 1..40)
}

/// Runs chan once without waiting; echoes each frame it hands out, lent
/// in place (`lend`) or cut out.
fn pump(chans: &mut Channels, server: ChanId, got: &mut Vec<Vec<u8>>, lend: bool) {
    chans.chan_epoll(Some(Duration::ZERO)).expect("chan_epoll");
    loop {
        let event = if lend {
            match chans.next_lent() {
                Some(Lent::Frame(mut frame)) => {
                    assert_eq!(frame.id(), server);
                    got.push(frame.as_bytes().to_vec());
                    frame.echo().expect("echo");
                    continue;
                }
                Some(Lent::Event(event)) => event,
                None => return,
            }
        } else {
            match chans.next_event() {
                Some(Event::Frame { id, frame }) if id == server => {
                    chans.send(server, frame.as_bytes()).expect("echo");
                    got.push(frame.as_bytes().to_vec());
                    continue;
                }
                Some(event) => event,
                None => return,
            }
        };
        match event {
            Event::Error { error, .. } => panic!("chan error: {error}"),
            Event::Eof { .. } => panic!("unexpected end of stream"),
            _ => {}
        }
    }
}

/// Reads what the echo has sent so far.
fn read_some(client: &mut TcpStream, echoed: &mut Vec<u8>) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match client.read(&mut buf) {
            Ok(0) => panic!("server closed"),
            Ok(n) => echoed.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) => panic!("read: {e}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn frames_cut_anywhere_arrive_whole_and_echo_back(
        bodies in bodies(),
        cuts in prop::collection::vec(1usize..3000, 1..64),
        lend in any::<bool>(),
    ) {
        let sent: Vec<Vec<u8>> = (bodies.iter().enumerate())
            .map(|(i, b)| frame(i as u32, b))
            .collect();
        let stream: Vec<u8> = sent.concat();
        let mut chans = chans();
        let (_listener, mut client, server) = connected(&mut chans);
        client.set_nonblocking(true).unwrap();
        let (mut got, mut echoed, mut at, mut turn) = (Vec::new(), Vec::new(), 0, 0);
        let deadline = Instant::now() + PATIENCE;
        while echoed.len() < stream.len() {
            prop_assert!(Instant::now() < deadline, "stalled: {} of {} bytes echoed", echoed.len(), stream.len());
            turn += 1;
            if at < stream.len() {
                let piece = cuts[turn % cuts.len()].min(stream.len() - at);
                match client.write(&stream[at..at + piece]) {
                    Ok(n) => at += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) => panic!("write: {e}"),
                }
            }
            pump(&mut chans, server, &mut got, lend);
            read_some(&mut client, &mut echoed);
        }
        prop_assert_eq!(&got, &sent);
        prop_assert!(echoed == stream, "the echo differs from what was sent");
    }
}
