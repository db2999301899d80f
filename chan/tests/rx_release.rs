//! A connection that received one large frame gives its buffer back once
//! the frame is handed out (or lent) and dropped. Alone in its binary, the
//! tests one at a time, so nothing else allocates while one measures live
//! bytes.

mod common;

use chan::sys::CountingAllocator;
use chan::{Channels, Event, Lent};
use common::*;
use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

/// Sends a 1 MiB frame; `receive` takes it and returns its body's length.
/// Once the frame is dropped its buffer must not stay with the connection.
fn large_frame_is_let_go(receive: impl FnOnce(&mut Channels) -> usize) {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut chans = chans();
    let (_l, mut client, _server) = connected(&mut chans);
    let request = frame(1, &vec![7u8; 1 << 20]);
    let before = ALLOC.live_bytes();
    client.write_all(&request).unwrap();
    assert_eq!(receive(&mut chans), 1 << 20);
    let held = ALLOC.live_bytes().saturating_sub(before);
    assert!(held < 256 << 10, "{held} bytes still held after the frame");
}

#[test]
fn a_large_frame_does_not_pin_its_receive_buffer() {
    large_frame_is_let_go(|chans| {
        wait_for(chans, "the large frame", |_, event| match event {
            Event::Frame { frame, .. } => Some(frame.body().len()),
            _ => None,
        })
    });
}

#[test]
fn a_large_lent_frame_does_not_pin_its_receive_buffer() {
    large_frame_is_let_go(|chans| {
        let deadline = Instant::now() + PATIENCE;
        loop {
            assert!(Instant::now() < deadline, "the large frame never came");
            chans.chan_epoll(Some(PATIENCE / 10)).unwrap();
            while let Some(lent) = chans.next_lent() {
                if let Lent::Frame(frame) = lent {
                    return frame.body().len();
                }
            }
        }
    });
}
