//! Turning a byte stream into whole frames (scenario 16).

mod common;

use chan::{ChanError, Config, Event};
use common::*;
use proto::{Header, HeaderError};
use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

/// Runs the loop until `bytes_in` passes `before`; returns the events.
fn events_until_read(chans: &mut chan::Channels, before: u64) -> Vec<Event> {
    let deadline = Instant::now() + PATIENCE;
    let mut got = Vec::new();
    while chans.counters().bytes_in <= before {
        assert!(Instant::now() < deadline, "byte never read");
        chans.chan_epoll(Some(PATIENCE)).unwrap();
        got.extend(std::iter::from_fn(|| chans.next_event()));
    }
    got
}

#[test]
fn frame_trickled_one_byte_per_wakeup_arrives_whole_once() {
    let mut chans = chans();
    let (_l, mut client, server) = connected(&mut chans);
    client.set_nodelay(true).unwrap();
    let f = frame(11, b"slowly");
    for (i, byte) in f.iter().enumerate() {
        let before = chans.counters().bytes_in;
        client.write_all(&[*byte]).unwrap();
        let events = events_until_read(&mut chans, before);
        if i + 1 < f.len() {
            assert!(
                events.is_empty(),
                "{events:?} after {} of {} bytes",
                i + 1,
                f.len()
            );
        } else {
            assert!(
                matches!(events.as_slice(), [Event::Frame { id, frame }] if *id == server && frame.as_bytes() == f)
            );
        }
    }
}

/// `wait_for` stops at a matching event; this collects frames until `n`.
fn frames_on(chans: &mut chan::Channels, n: usize) -> Vec<chan::Frame> {
    let mut out = Vec::new();
    wait_for(chans, "frames", |_, e| {
        if let Event::Frame { frame, .. } = e {
            out.push(frame);
        }
        (out.len() == n).then_some(())
    });
    out
}

#[test]
fn many_frames_in_one_read_are_all_handed_out() {
    let mut chans = chans();
    let (_l, mut client, _server) = connected(&mut chans);
    let frames: Vec<Vec<u8>> = (0..50).map(|i| frame(i, b"pipelined")).collect();
    client.write_all(&frames.concat()).unwrap();
    let reads_before = chans.counters().syscalls.read;
    let got = frames_on(&mut chans, 50);
    let reads = chans.counters().syscalls.read - reads_before;
    assert_eq!(
        got.iter()
            .map(|f| f.as_bytes().to_vec())
            .collect::<Vec<_>>(),
        frames
    );
    assert!(reads <= 2, "50 small frames took {reads} reads");
}

#[test]
fn frame_larger_than_the_socket_buffer_arrives_whole() {
    let mut chans = chans_with(Config {
        max_frame_body: 8 << 20,
        ..Config::default()
    });
    let (_l, mut client, _server) = connected(&mut chans);
    let body: Vec<u8> = (0..6 << 20).map(|i| (i % 253) as u8).collect();
    let f = frame(3, &body);
    let sent = f.clone();
    let writer = thread::spawn(move || client.write_all(&sent).map(|_| client));
    let got = frames_on(&mut chans, 1);
    assert_eq!(got[0].as_bytes(), &f[..]);
    writer.join().unwrap().unwrap();
}

#[test]
fn oversized_and_negative_lengths_are_rejected_and_others_still_served() {
    let mut chans = chans_with(Config {
        max_frame_body: 1000,
        ..Config::default()
    });
    let (l, mut good, good_id) = connected(&mut chans);
    let addr = chans.local_addr(l).unwrap();
    for length in [1001u32, 0x8000_0000, 0xFFFF_FFFF] {
        let mut bad = std::net::TcpStream::connect(addr).unwrap();
        bad.write_all(&Header::request(1, 1, length).to_bytes())
            .unwrap();
        let error = wait_for(&mut chans, "frame error", |_, e| match e {
            Event::Error { error, .. } => Some(error),
            _ => None,
        });
        assert!(
            matches!(error, ChanError::Frame(HeaderError::TooLong { length: l, limit: 1000 }) if l == length),
            "{error:?}"
        );
    }
    // The limit itself is allowed.
    good.write_all(&frame(2, &[0u8; 1000])).unwrap();
    assert_eq!(next_frame(&mut chans, good_id).body().len(), 1000);
    let _ = events_during(&mut chans, Duration::from_millis(10));
}

#[test]
fn after_a_bad_header_a_last_reply_still_reaches_the_peer() {
    let mut chans = chans_with(Config {
        max_frame_body: 1000,
        ..Config::default()
    });
    let (_l, mut client, server) = connected(&mut chans);
    // A good frame and a bad header in one write, as a hostile peer sends.
    let mut both = frame(1, b"fine");
    both.extend_from_slice(&Header::request(2, 1, 0xFFFF_FFFF).to_bytes());
    client.write_all(&both).unwrap();
    assert_eq!(next_frame(&mut chans, server).body(), b"fine");
    let error = wait_for(&mut chans, "frame error", |_, e| match e {
        Event::Error { id, error } if id == server => Some(error),
        _ => None,
    });
    assert!(matches!(error, ChanError::Frame(_)), "{error:?}");
    // Its input is not frames any more, but its output still works.
    chans.send(server, &frame(1, b"refused")).unwrap();
    chans.close_when_flushed(server).unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    let reader = thread::spawn(move || {
        let mut got = Vec::new();
        let _ = std::io::Read::read_to_end(&mut client, &mut got);
        got
    });
    let deadline = Instant::now() + PATIENCE;
    while chans.is_open(server) && Instant::now() < deadline {
        let _ = events_during(&mut chans, Duration::from_millis(10));
    }
    assert_eq!(reader.join().unwrap(), frame(1, b"refused"));
}
