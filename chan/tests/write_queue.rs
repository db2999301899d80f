//! The send path: write first, queue the rest, arm EPOLLOUT until drained
//! (scenarios 7 and 8), and the high-water mark.

mod common;

use chan::{Config, Event};
use common::*;
use std::io::Write;
use std::net::TcpStream;
use std::thread;

/// Reads `n` frames; hands the stream back so it stays open.
fn read_frames(mut s: TcpStream, n: usize) -> (Vec<Vec<u8>>, TcpStream) {
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    let frames = (0..n).map(|_| read_frame(&mut s)).collect();
    (frames, s)
}

#[test]
fn writable_again_after_buffer_filled_and_order_kept_across_partial_writes() {
    let mut chans = chans();
    let (_l, client, server) = connected(&mut chans);
    // Far more than loopback socket buffers hold while nobody reads.
    let frames: Vec<Vec<u8>> = (0..2000)
        .map(|i| frame(i, &[(i % 256) as u8; 4000]))
        .collect();
    for f in &frames {
        chans.send(server, f).unwrap();
    }
    assert!(
        chans.queued_bytes(server).unwrap() > 0,
        "kernel took everything: test proves nothing"
    );
    let reader = thread::spawn(move || read_frames(client, 2000));
    wait_for(&mut chans, "queue drained", |chans, e| match e {
        Event::Writable { id } if id == server => {
            (chans.queued_bytes(id).unwrap() == 0).then_some(())
        }
        _ => None,
    });
    let (received, _still_open) = reader.join().unwrap();
    assert_eq!(received, frames, "order or content changed");
    // EPOLLOUT is off again once drained: an idle channel stays silent.
    let idle = events_during(&mut chans, std::time::Duration::from_millis(50));
    assert!(idle.is_empty(), "{idle:?}");
}

#[test]
fn peer_that_does_not_read_replies_is_paused_then_resumed() {
    let mut chans = chans_with(Config {
        high_water: 256 << 10,
        ..Config::default()
    });
    let (_l, client, server) = connected(&mut chans);
    let request = frame(1, &[7u8; 16 << 10]);
    let mut writer = client.try_clone().unwrap();
    let n = 400; // 6.4 MB of echoes: well over socket buffers + high water
    let sent = request.clone();
    let sender = thread::spawn(move || {
        for _ in 0..n {
            writer.write_all(&sent).unwrap();
        }
    });
    let mut echoed = 0;
    let mut drained_client = false;
    let deadline = std::time::Instant::now() + PATIENCE;
    while echoed < n {
        assert!(
            std::time::Instant::now() < deadline,
            "stuck after {echoed} echoes: reading never resumed"
        );
        chans.chan_epoll(Some(PATIENCE)).unwrap();
        while let Some(e) = chans.next_event() {
            if let Event::Frame { id, frame } = e {
                chans.send(id, frame.as_bytes()).unwrap();
                echoed += 1;
            }
        }
        if chans.counters().high_water_pauses > 0 && !drained_client {
            // Only now start reading the replies, which lets it resume.
            drained_client = true;
            let reader = client.try_clone().unwrap();
            thread::spawn(move || read_frames(reader, n));
        }
    }
    sender.join().unwrap();
    // Reading stopped at the mark, and every request was still answered.
    assert!(chans.counters().high_water_pauses > 0);
    assert!(chans.is_open(server));
    client.shutdown(std::net::Shutdown::Both).unwrap();
}

#[test]
fn close_when_flushed_channel_is_closed_when_its_peer_vanishes() {
    let mut chans = chans();
    let (_l, client, server) = connected(&mut chans);
    for i in 0..2000 {
        chans.send(server, &frame(i, &[0u8; 4000])).unwrap();
    }
    assert!(chans.queued_bytes(server).unwrap() > 0);
    chans.close_when_flushed(server).unwrap();
    assert!(chans.is_open(server), "closed before its queue was sent");
    // The peer resets instead of reading: the queue can never drain.
    let sock = socket2::Socket::from(client);
    sock.set_linger(Some(std::time::Duration::ZERO)).unwrap();
    drop(sock);
    run_until(&mut chans, "close after the peer vanished", |c| {
        !c.is_open(server)
    });
    assert_eq!(chans.len(), 1, "only the listener is left");
}

#[test]
fn close_when_flushed_sends_every_reply_then_eof_and_closes_on_the_peers_eof() {
    let mut chans = chans();
    let (_l, mut client, server) = connected(&mut chans);
    client
        .write_all(&frame(1, b"input nobody will read"))
        .unwrap();
    let replies: Vec<Vec<u8>> = (0..2000).map(|i| frame(i, &[9u8; 4000])).collect();
    for r in &replies {
        chans.send(server, r).unwrap();
    }
    chans.close_when_flushed(server).unwrap();
    let reader = thread::spawn(move || {
        let (frames, mut s) = read_frames(client, 2000);
        let mut rest = Vec::new();
        let end = std::io::Read::read_to_end(&mut s, &mut rest);
        (frames, end, s)
    });
    // Flushing needs the loop; the reader sees all replies, then EOF.
    run_until(&mut chans, "flush", |c| {
        c.queued_bytes(server).map_or(true, |q| q == 0)
    });
    let (frames, end, client) = reader.join().unwrap();
    assert_eq!(frames, replies);
    assert!(
        matches!(end, Ok(0)),
        "EOF expected after the replies, got {end:?}"
    );
    // The server waits for our EOF (not a reset over unread input) ...
    assert!(chans.is_open(server), "closed before the peer's EOF");
    drop(client);
    // ... and closes as soon as it comes.
    run_until(&mut chans, "close on the peer's EOF", |c| {
        !c.is_open(server)
    });
}

#[test]
fn close_when_flushed_gives_up_waiting_for_eof_after_the_linger() {
    let mut chans = chans_with(Config {
        close_linger: std::time::Duration::from_millis(100),
        ..Config::default()
    });
    let (_l, _silent_client, server) = connected(&mut chans);
    chans.send(server, &frame(1, b"bye")).unwrap();
    let start = std::time::Instant::now();
    chans.close_when_flushed(server).unwrap();
    run_until(&mut chans, "close after the linger", |c| !c.is_open(server));
    assert!(
        start.elapsed() >= std::time::Duration::from_millis(100),
        "closed without waiting"
    );
}

#[test]
fn input_reported_in_a_batch_after_a_high_water_pause_is_ignored() {
    let mut chans = chans_with(Config {
        high_water: 64 << 10,
        ..Config::default()
    });
    let (l, mut client_a, a) = connected(&mut chans);
    let (mut client_b, b) = connect_another(&mut chans, l);
    client_a.write_all(&frame(1, b"in")).unwrap();
    client_b.write_all(&frame(1, b"in")).unwrap();
    wait_all_readable(&[chans.raw_fd(a).unwrap(), chans.raw_fd(b).unwrap()]);
    assert_eq!(chans.chan_epoll(Some(PATIENCE)).unwrap(), 2);
    let first = chans.next_event().unwrap().id();
    let (other, other_client) = if first == a {
        (b, client_b)
    } else {
        (a, client_a)
    };
    // Handling the first event floods the other one past the high-water
    // mark while its EPOLLIN is still ahead in this batch.
    let replies: Vec<Vec<u8>> = (0..2000).map(|i| frame(i, &[9u8; 4000])).collect();
    for r in &replies {
        chans.send(other, r).unwrap();
    }
    assert!(chans.counters().high_water_pauses > 0);
    while chans.next_event().is_some() {}
    let reader = thread::spawn(move || read_frames(other_client, 2000));
    wait_for(&mut chans, "drained", |chans, _| {
        (chans.queued_bytes(other).unwrap() == 0).then_some(())
    });
    let (frames, mut other_client) = reader.join().unwrap();
    assert_eq!(frames, replies);
    // Still healthy: it reads again, and the frame sent before is there.
    other_client.write_all(&frame(2, b"again")).unwrap();
    let mut seqs = Vec::new();
    wait_for(&mut chans, "both frames", |_, e| match e {
        Event::Frame { id, frame } if id == other => {
            seqs.push(frame.header().sequence);
            (seqs.len() == 2).then_some(())
        }
        Event::Error { id, error } if id == other => panic!("channel broke: {error}"),
        _ => None,
    });
    assert_eq!(seqs, [1, 2]);
}
