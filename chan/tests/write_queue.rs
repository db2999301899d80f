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
