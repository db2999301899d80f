//! A connection that received one large frame gives its buffer back once
//! the frame is handed out and dropped. Alone in its binary so no other
//! test allocates while it measures live bytes.

mod common;

use chan::sys::CountingAllocator;
use chan::Event;
use common::*;
use std::io::Write;

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

#[test]
fn a_large_frame_does_not_pin_its_receive_buffer() {
    let mut chans = chans();
    let (_l, mut client, _server) = connected(&mut chans);
    let request = frame(1, &vec![7u8; 1 << 20]);
    let before = ALLOC.live_bytes();
    client.write_all(&request).unwrap();
    let body_len = wait_for(&mut chans, "the large frame", |_, event| match event {
        Event::Frame { frame, .. } => Some(frame.body().len()),
        _ => None,
    });
    assert_eq!(body_len, 1 << 20);
    // The frame was dropped; its buffer must not stay with the connection.
    let held = ALLOC.live_bytes().saturating_sub(before);
    assert!(held < 256 << 10, "{held} bytes still held after the frame");
}
