//! chan_epoll_add/mod/del semantics and level triggering
//! (scenarios 1, 2 and 3).

mod common;

use chan::{ChanError, Config, Event, Interest};
use common::*;
use std::io::Write;
use std::time::Duration;

#[test]
fn level_triggered_partial_read_still_reports_readable() {
    // A tiny read budget forces one wakeup to leave data in the socket.
    let mut chans = chans_with(Config {
        read_budget: 16,
        ..Config::default()
    });
    let (_l, mut client, server) = connected(&mut chans);
    let frames: Vec<Vec<u8>> = (0..4).map(|i| frame(i, &[i as u8; 30])).collect();
    client.write_all(&frames.concat()).unwrap();
    // Nothing more is sent; only level triggering can bring the rest.
    let mut got = Vec::new();
    let mut waits = 0;
    while got.len() < frames.len() {
        waits += 1;
        assert!(waits < 100, "stalled after {} frames", got.len());
        chans.chan_epoll(Some(PATIENCE)).unwrap();
        while let Some(event) = chans.next_event() {
            if let Event::Frame { id, frame } = event {
                assert_eq!(id, server);
                got.push(frame.as_bytes().to_vec());
            }
        }
    }
    assert_eq!(got, frames);
    assert!(waits > 1, "budget should have split the reads");
    assert!(chans.counters().budget_exhausted > 0);
}

#[test]
fn no_event_after_del_and_del_then_add_works() {
    let mut chans = chans();
    let (_l, mut client, server) = connected(&mut chans);
    chans.chan_epoll_del(server).unwrap();
    client.write_all(&frame(1, b"while deleted")).unwrap();
    let silent = events_during(&mut chans, Duration::from_millis(100));
    assert!(silent.is_empty(), "events after del: {silent:?}");
    chans.chan_epoll_add(server, Interest::READ).unwrap();
    assert_eq!(next_frame(&mut chans, server).body(), b"while deleted");
}

#[test]
fn mod_or_del_without_add_fails_cleanly() {
    let mut chans = chans();
    let (_l, mut client, server) = connected(&mut chans);
    chans.chan_epoll_del(server).unwrap();
    assert!(
        matches!(chans.chan_epoll_mod(server, Interest::READ), Err(ChanError::NotAdded(id)) if id == server)
    );
    assert!(matches!(
        chans.chan_epoll_del(server),
        Err(ChanError::NotAdded(_))
    ));
    chans.chan_epoll_add(server, Interest::READ).unwrap();
    assert!(matches!(
        chans.chan_epoll_add(server, Interest::READ),
        Err(ChanError::AlreadyAdded(_))
    ));
    // The channel is unharmed by the refused calls.
    client.write_all(&frame(2, b"ok")).unwrap();
    assert_eq!(next_frame(&mut chans, server).body(), b"ok");
    // Every call on a closed id is refused as stale.
    chans.close(server).unwrap();
    assert!(matches!(
        chans.chan_epoll_mod(server, Interest::READ),
        Err(ChanError::Stale(_))
    ));
    assert!(matches!(chans.close(server), Err(ChanError::Stale(_))));
}
