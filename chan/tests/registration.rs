//! chan_epoll_add/mod/del semantics, and no readiness lost between waits
//! (scenarios 1, 2 and 3).

mod common;

use chan::{ChanError, Channels, Config, Event, Interest};
use common::*;
use std::io::Write;
use std::time::{Duration, Instant};

/// Runs the loop, handing out at most `per_wait` events after each wait,
/// until `done` holds for the events seen; fails after PATIENCE.
/// Returns the events and how many waits it took.
fn collect_until(
    chans: &mut Channels,
    per_wait: usize,
    done: impl Fn(&[Event]) -> bool,
) -> (Vec<Event>, usize) {
    let deadline = Instant::now() + PATIENCE;
    let (mut seen, mut waits) = (Vec::new(), 0);
    while !done(&seen) {
        assert!(
            Instant::now() < deadline,
            "stalled after {waits} waits with {} events: {seen:?}",
            seen.len()
        );
        waits += 1;
        chans.chan_epoll(Some(Duration::from_millis(50))).unwrap();
        for _ in 0..per_wait {
            match chans.next_event() {
                Some(event) => seen.push(event),
                None => break,
            }
        }
    }
    (seen, waits)
}

fn frames_of(events: &[Event]) -> Vec<Vec<u8>> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Frame { frame, .. } => Some(frame.as_bytes().to_vec()),
            _ => None,
        })
        .collect()
}

/// A tiny read budget forces one wakeup to leave data in the socket.
fn with_read_budget_16() -> Channels {
    chans_with(Config {
        read_budget: 16,
        ..Config::default()
    })
}

#[test]
fn a_read_that_leaves_data_in_the_socket_is_finished_without_new_data() {
    let mut chans = with_read_budget_16();
    let (_l, mut client, _server) = connected(&mut chans);
    let frames: Vec<Vec<u8>> = (0..4).map(|i| frame(i, &[i as u8; 30])).collect();
    client.write_all(&frames.concat()).unwrap();
    // Nothing more is sent: no new edge will come for the rest.
    let (events, waits) = collect_until(&mut chans, usize::MAX, |seen| {
        frames_of(seen).len() == frames.len()
    });
    assert_eq!(frames_of(&events), frames);
    assert!(waits > 1, "budget should have split the reads");
    assert!(chans.counters().budget_exhausted > 0);
}

#[test]
fn eof_behind_a_budget_limited_read_is_reported() {
    let mut chans = with_read_budget_16();
    let (_l, mut client, server) = connected(&mut chans);
    let frames: Vec<Vec<u8>> = (0..3).map(|i| frame(i, &[7; 40])).collect();
    client.write_all(&frames.concat()).unwrap();
    client.shutdown(std::net::Shutdown::Write).unwrap();
    // The peer's shutdown is announced once, with the first read; the
    // reads that finish the data must still end in Eof.
    let (events, _) = collect_until(&mut chans, usize::MAX, |seen| {
        seen.iter().any(|e| matches!(e, Event::Eof { .. }))
    });
    assert_eq!(frames_of(&events), frames);
    assert!(matches!(events.last(), Some(Event::Eof { id }) if *id == server));
}

#[test]
fn waiting_again_before_the_batch_is_handed_out_loses_no_connection() {
    let mut chans = chans();
    let (listener, mut first, _) = connected(&mut chans);
    let mut others: Vec<_> = (0..3)
        .map(|_| connect_another(&mut chans, listener).0)
        .collect();
    let frames: Vec<Vec<u8>> = (0..4).map(|i| frame(i, b"one each")).collect();
    first.write_all(&frames[0]).unwrap();
    for (client, f) in others.iter_mut().zip(&frames[1..]) {
        client.write_all(f).unwrap();
    }
    // Take one event per wait: the connections reported with it but not
    // reached must be served after the next wait, with no new data.
    let (events, _) = collect_until(&mut chans, 1, |seen| frames_of(seen).len() == frames.len());
    let mut got = frames_of(&events);
    got.sort();
    assert_eq!(got, frames);
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
