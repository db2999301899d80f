//! Many peers at once, and a full table (scenarios 13 and 17).

mod common;

use chan::{ChanError, Config, Event};
use common::*;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A fixed pseudo-random permutation (no randomness crate needed).
fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    let mut x = seed;
    for i in (1..n).rev() {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        v.swap(i, (x >> 33) as usize % (i + 1));
    }
    v
}

#[test]
fn hundred_connections_in_random_order_each_delivered_exactly_once() {
    let mut chans = chans();
    let l = chans.tcp_listen(loopback()).unwrap();
    let addr = chans.local_addr(l).unwrap();
    let mut clients: Vec<TcpStream> = (0..100)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    let mut accepted = 0;
    wait_for(&mut chans, "100 accepts", |_, e| {
        accepted += matches!(e, Event::Accepted { .. }) as usize;
        (accepted == 100).then_some(())
    });
    for i in shuffled(100, 42) {
        clients[i].write_all(&frame(i as u32, b"once")).unwrap();
    }
    let mut by_channel: HashMap<chan::ChanId, Vec<u32>> = HashMap::new();
    let mut total = 0;
    wait_for(&mut chans, "100 frames", |_, e| match e {
        Event::Frame { id, frame } => {
            by_channel
                .entry(id)
                .or_default()
                .push(frame.header().sequence);
            total += 1;
            (total == 100).then_some(())
        }
        _ => None,
    });
    assert_eq!(by_channel.len(), 100, "some channel got two frames");
    let mut seqs: Vec<u32> = by_channel.values().flatten().copied().collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (0..100).collect::<Vec<_>>());
    assert!(
        events_during(&mut chans, Duration::from_millis(30)).is_empty(),
        "duplicate delivery"
    );
}

#[test]
fn table_full_is_a_clear_error_and_the_loop_keeps_serving() {
    let mut chans = chans_with(Config {
        capacity: 3,
        ..Config::default()
    });
    let (_l, mut client, server) = connected(&mut chans);
    let _t = chans
        .timer(Duration::from_secs(3600), Duration::ZERO)
        .unwrap();
    assert_eq!(chans.len(), 3);
    assert!(matches!(
        chans.timer(Duration::from_secs(1), Duration::ZERO),
        Err(ChanError::TableFull { capacity: 3 })
    ));
    // A connection beyond capacity is accepted by the kernel, then shed.
    let mut extra = TcpStream::connect(chans.local_addr(_l).unwrap()).unwrap();
    extra.set_read_timeout(Some(PATIENCE)).unwrap();
    client.write_all(&frame(1, b"still served")).unwrap();
    assert_eq!(next_frame(&mut chans, server).body(), b"still served");
    let mut buf = [0u8; 1];
    assert!(
        matches!(extra.read(&mut buf), Ok(0) | Err(_)),
        "shed peer must see its connection closed"
    );
    assert!(chans.counters().shed_connections >= 1);
    assert!(chans.counters().table_full >= 2);
}
