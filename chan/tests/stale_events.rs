//! An event for a channel closed earlier in the same batch never reaches
//! the channel that reused its slot (scenario 15).

mod common;

use chan::{ChanId, Event};
use common::*;
use std::io::Write;
use std::time::Duration;

#[test]
fn stale_event_after_close_and_id_reuse_in_the_same_batch_is_dropped() {
    let mut chans = chans();
    let (l, mut client_a, a) = connected(&mut chans);
    let (mut client_b, b) = connect_another(&mut chans, l);
    client_a.write_all(&frame(1, b"a")).unwrap();
    client_b.write_all(&frame(2, b"b")).unwrap();
    wait_all_readable(&[chans.raw_fd(a).unwrap(), chans.raw_fd(b).unwrap()]);

    assert_eq!(
        chans.chan_epoll(Some(PATIENCE)).unwrap(),
        2,
        "both must be in one batch"
    );
    let first = chans.next_event().expect("an event");
    let (handled, other): (ChanId, ChanId) = if first.id() == a { (a, b) } else { (b, a) };
    assert!(matches!(first, Event::Frame { id, .. } if id == handled));
    // Handling the first event closes the other channel, and a new
    // channel takes its slot before the batch is finished.
    chans.close(other).unwrap();
    let reused = chans
        .timer(Duration::from_secs(3600), Duration::ZERO)
        .unwrap();
    assert_eq!(
        reused.index(),
        other.index(),
        "slot was not reused: test proves nothing"
    );
    assert_ne!(reused.generation(), other.generation());

    let rest: Vec<Event> = std::iter::from_fn(|| chans.next_event()).collect();
    assert!(rest.is_empty(), "stale event delivered: {rest:?}");
    assert_eq!(chans.counters().stale_events, 1);
    assert!(events_during(&mut chans, Duration::from_millis(30)).is_empty());
}
