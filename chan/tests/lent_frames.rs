//! Frames lent in place (`next_lent`): each one seen once and in order
//! however reads cut the stream, replies queued and flushed like `send`'s,
//! and the end of the stream reported after the last frame.

mod common;

use chan::{ChanId, Channels, Config, Event, Lent};
use common::*;
use proto::Header;
use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

/// What a lending loop saw.
#[derive(Default)]
struct Seen {
    /// Every lent frame's bytes, in order.
    frames: Vec<Vec<u8>>,
    /// Every other event.
    events: Vec<Event>,
    /// A reply found the socket full and was queued.
    queued: bool,
}

/// Lends frames until `done`, failing after PATIENCE; `reply` answers
/// each frame (`None`: echo it).
fn lend_until(
    chans: &mut Channels,
    what: &str,
    reply: impl Fn(&Header) -> Option<Vec<u8>>,
    mut done: impl FnMut(&Seen) -> bool,
) -> Seen {
    let mut seen = Seen::default();
    let deadline = Instant::now() + PATIENCE;
    while !done(&seen) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        chans
            .chan_epoll(Some(Duration::from_millis(20)))
            .expect("chan_epoll");
        loop {
            let replied = match chans.next_lent() {
                None => break,
                Some(Lent::Frame(mut frame)) => {
                    seen.frames.push(frame.as_bytes().to_vec());
                    let sent = match reply(frame.header()) {
                        Some(answer) => frame.reply(&answer),
                        None => frame.echo(),
                    };
                    sent.map(|()| frame.id())
                }
                Some(Lent::Event(event)) => {
                    seen.events.push(event);
                    continue;
                }
            };
            let id = replied.expect("reply");
            seen.queued |= chans.queued_bytes(id).unwrap() > 0;
        }
    }
    seen
}

fn echo_until(chans: &mut Channels, what: &str, done: impl FnMut(&Seen) -> bool) -> Seen {
    lend_until(chans, what, |_| None, done)
}

/// Reads `n` frames from `s` on a thread.
fn read_frames_later(mut s: TcpStream, n: usize) -> thread::JoinHandle<Vec<Vec<u8>>> {
    thread::spawn(move || {
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        (0..n).map(|_| read_frame(&mut s)).collect()
    })
}

#[test]
fn frames_that_arrive_in_one_read_are_each_lent_once_in_order() {
    let mut chans = chans();
    let (_l, mut client, _server) = connected(&mut chans);
    let frames: Vec<Vec<u8>> = (0..50)
        .map(|i| frame(i, &vec![i as u8; (i as usize * 37) % 300]))
        .collect();
    let echoes = read_frames_later(client.try_clone().unwrap(), frames.len());
    client.write_all(&frames.concat()).unwrap();
    let seen = echo_until(&mut chans, "50 frames", |s| s.frames.len() >= 50);
    assert_eq!(seen.frames, frames);
    assert_eq!(echoes.join().unwrap(), frames);
    assert_eq!(chans.counters().frames_in, 50);
}

#[test]
fn a_frame_cut_by_the_end_of_a_read_waits_for_its_rest() {
    let mut chans = chans();
    let (_l, mut client, _server) = connected(&mut chans);
    let (first, second) = (frame(1, b"whole"), frame(2, b"arrives in two parts"));
    let mut wire = first.clone();
    wire.extend_from_slice(&second[..25]);
    client.write_all(&wire).unwrap();
    let seen = echo_until(&mut chans, "the first frame", |s| !s.frames.is_empty());
    assert_eq!(seen.frames, std::slice::from_ref(&first));
    // Nothing more until the rest arrives: half a frame is never lent.
    let early = events_during(&mut chans, Duration::from_millis(50));
    assert!(early.is_empty(), "{early:?}");
    client.write_all(&second[25..]).unwrap();
    let seen = echo_until(&mut chans, "the second frame", |s| !s.frames.is_empty());
    assert_eq!(seen.frames, std::slice::from_ref(&second));
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    assert_eq!(read_frame(&mut client), first);
    assert_eq!(read_frame(&mut client), second);
}

#[test]
fn replies_to_a_peer_that_does_not_read_are_queued_and_flushed_in_order() {
    let mut chans = chans_with(Config {
        high_water: 256 << 10,
        ..Config::default()
    });
    let (_l, client, _server) = connected(&mut chans);
    let frames: Vec<Vec<u8>> = (0..400).map(|i| frame(i, &[i as u8; 16 << 10])).collect();
    let mut writer = client.try_clone().unwrap();
    let wire = frames.concat();
    // 6.4 MB of echoes: more than the socket buffers, so replies queue,
    // and reading pauses over the high-water mark until the peer reads.
    let sender = thread::spawn(move || writer.write_all(&wire).unwrap());
    let mut queued = false;
    let seen = echo_until(&mut chans, "a queued reply", |s| {
        queued |= s.queued;
        queued
    });
    let mut lent = seen.frames.len();
    let echoes = read_frames_later(client, frames.len());
    // The loop turns until the peer has read every echo: the queue is
    // flushed only as the loop runs.
    let seen = echo_until(&mut chans, "every echo read", |_| echoes.is_finished());
    lent += seen.frames.len();
    assert_eq!(lent, 400);
    sender.join().unwrap();
    assert!(echoes.join().unwrap() == frames, "order or content changed");
}

#[test]
fn the_end_of_the_stream_comes_after_every_lent_frame() {
    let mut chans = chans();
    let (_l, mut client, server) = connected(&mut chans);
    let frames: Vec<Vec<u8>> = (0..3).map(|i| frame(i, b"before eof")).collect();
    client.write_all(&frames.concat()).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let seen = echo_until(&mut chans, "eof", |s| !s.events.is_empty());
    assert_eq!(seen.frames, frames);
    assert!(matches!(seen.events[..], [Event::Eof { id }] if id == server));
}

#[test]
fn a_reply_is_any_bytes_and_the_frame_shows_its_header_and_body() {
    let mut chans = chans();
    let (_l, mut client, _server) = connected(&mut chans);
    let request = frame(41, b"question");
    client.write_all(&request).unwrap();
    let answer = |h: &Header| Some(frame(h.sequence + 1, b"answer"));
    let seen = lend_until(&mut chans, "the request", answer, |s| !s.frames.is_empty());
    assert_eq!(seen.frames, [request]);
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    assert_eq!(read_frame(&mut client), frame(42, b"answer"));
}

#[test]
fn lending_and_cutting_frames_can_take_turns_on_one_buffer() {
    let mut chans = chans();
    let (_l, mut client, server) = connected(&mut chans);
    let frames: Vec<Vec<u8>> = (0..4).map(|i| frame(i, &[i as u8; 10])).collect();
    client.write_all(&frames.concat()).unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    while got.len() < 4 {
        assert!(Instant::now() < deadline, "timed out: {} frames", got.len());
        chans.chan_epoll(Some(Duration::from_millis(20))).unwrap();
        // Alternate: lend one frame, then cut the next out as an owned one.
        loop {
            let lent = match chans.next_lent() {
                Some(Lent::Frame(frame)) => (frame.id(), frame.as_bytes().to_vec()),
                Some(Lent::Event(other)) => panic!("unexpected {other:?}"),
                None => break,
            };
            got.push(lent);
            match chans.next_event() {
                Some(Event::Frame { id, frame }) => got.push((id, frame.as_bytes().to_vec())),
                Some(other) => panic!("unexpected {other:?}"),
                None => break,
            }
        }
    }
    let expected: Vec<(ChanId, Vec<u8>)> = frames.into_iter().map(|f| (server, f)).collect();
    assert_eq!(got, expected);
}
