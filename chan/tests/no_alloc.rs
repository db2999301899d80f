//! Steady-state request/response allocates nothing: frames are cut out of
//! the receive buffer (or lent in it) and replies written straight from
//! it; and neither do
//! connections that come and go, once closed ones' buffers are there to
//! reuse. In a binary of its own, its tests one at a time, so no other
//! test allocates while one counts.

mod common;

use chan::sys::CountingAllocator;
use chan::{Event, Lent};
use common::*;
use std::io::{Read, Write};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

/// Held by the test counting allocations.
static COUNTING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// How the loop takes frames.
#[derive(Clone, Copy, Debug)]
enum Take {
    Cut,
    Lend,
}

/// One ping-pong: the client sends, the loop echoes, the client reads.
fn round_trip(
    chans: &mut chan::Channels,
    client: &mut std::net::TcpStream,
    request: &[u8],
    reply: &mut [u8],
    take: Take,
) {
    client.write_all(request).unwrap();
    let mut answered = false;
    while !answered {
        chans.chan_epoll(Some(PATIENCE)).unwrap();
        match take {
            Take::Cut => {
                while let Some(event) = chans.next_event() {
                    if let Event::Frame { id, frame } = event {
                        chans.send(id, frame.as_bytes()).unwrap();
                        answered = true;
                    }
                }
            }
            Take::Lend => {
                while let Some(lent) = chans.next_lent() {
                    if let Lent::Frame(mut frame) = lent {
                        frame.echo().unwrap();
                        answered = true;
                    }
                }
            }
        }
    }
    client.read_exact(reply).unwrap();
}

#[test]
fn steady_state_echo_makes_no_allocation_per_message() {
    let _alone = COUNTING.lock().unwrap_or_else(|e| e.into_inner());
    let mut chans = chans();
    let (_l, mut client, _server) = connected(&mut chans);
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    for (size, take) in [64usize, 1024]
        .into_iter()
        .flat_map(|n| [(n, Take::Cut), (n, Take::Lend)])
    {
        let request = frame(1, &vec![5u8; size - 20]);
        let mut reply = vec![0u8; request.len()];
        // Warm up: buffers reach their working size.
        for _ in 0..200 {
            round_trip(&mut chans, &mut client, &request, &mut reply, take);
        }
        // The count is the whole process's: on a loaded machine another
        // thread (the test harness's) may allocate a few times meanwhile.
        // An allocation per message would show in every attempt (2000 of
        // them), so one clean attempt of three is the bar.
        let mut attempts = Vec::new();
        for _ in 0..3 {
            let before = ALLOC.allocations();
            for _ in 0..2000 {
                round_trip(&mut chans, &mut client, &request, &mut reply, take);
            }
            attempts.push(ALLOC.allocations() - before);
            if attempts.last() == Some(&0) {
                break;
            }
        }
        assert_eq!(reply, request);
        assert!(
            attempts.contains(&0),
            "allocations in 3 x 2000 round trips of {size} B, {take:?}: {attempts:?}"
        );
    }
}

#[test]
fn connections_opened_and_closed_reuse_buffers_instead_of_allocating() {
    let _alone = COUNTING.lock().unwrap_or_else(|e| e.into_inner());
    let mut chans = chans();
    let listener = chans.tcp_listen(loopback()).unwrap();
    let request = frame(1, &[5u8; 44]);
    let mut reply = vec![0u8; request.len()];
    let mut one = |chans: &mut chan::Channels| {
        let (mut client, server) = connect_another(chans, listener);
        client.set_read_timeout(Some(PATIENCE)).unwrap();
        round_trip(chans, &mut client, &request, &mut reply, Take::Cut);
        chans.close(server).unwrap();
    };
    // Warm up: the table and the spare buffers reach their working size.
    for _ in 0..50 {
        one(&mut chans);
    }
    let mut attempts = Vec::new();
    for _ in 0..3 {
        let before = ALLOC.allocations();
        for _ in 0..200 {
            one(&mut chans);
        }
        attempts.push(ALLOC.allocations() - before);
        if attempts.last() == Some(&0) {
            break;
        }
    }
    assert!(
        attempts.contains(&0),
        "allocations in 3 x 200 connections: {attempts:?}"
    );
}
