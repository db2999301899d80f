//! Timeouts, timers and the waker (scenarios 12 and 14).

mod common;

use chan::Event;
use common::*;
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn wait_timeout_never_ends_early() {
    let mut chans = chans();
    for ms in [1u64, 7, 30] {
        let want = Duration::from_millis(ms) + Duration::from_micros(300);
        let start = Instant::now();
        chans.chan_epoll(Some(want)).unwrap();
        assert!(
            start.elapsed() >= want,
            "{:?} wait returned after {:?}",
            want,
            start.elapsed()
        );
    }
}

#[test]
fn timer_never_fires_early() {
    let mut chans = chans();
    let start = Instant::now();
    let t = chans
        .timer(Duration::from_millis(40), Duration::ZERO)
        .unwrap();
    let expirations = wait_for(&mut chans, "timer", |_, e| match e {
        Event::Timer { id, expirations } if id == t => Some(expirations),
        _ => None,
    });
    assert!(start.elapsed() >= Duration::from_millis(40));
    assert_eq!(expirations, 1);
    // One-shot: it does not fire again.
    assert!(events_during(&mut chans, Duration::from_millis(60)).is_empty());
}

#[test]
fn periodic_timer_reports_missed_expirations() {
    let mut chans = chans();
    let t = chans
        .timer(Duration::from_millis(10), Duration::from_millis(10))
        .unwrap();
    // The loop is "busy" (not waiting) for 65 ms: six ticks are missed.
    thread::sleep(Duration::from_millis(65));
    let expirations = wait_for(&mut chans, "timer", |_, e| match e {
        Event::Timer { id, expirations } if id == t => Some(expirations),
        _ => None,
    });
    assert!(expirations >= 6, "only {expirations} expirations reported");
}

#[test]
fn waker_from_several_threads_coalesces() {
    let mut chans = chans();
    let (w, waker) = chans.waker().unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let waker = waker.clone();
            thread::spawn(move || {
                for _ in 0..250 {
                    waker.wake().unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    chans.chan_epoll(Some(PATIENCE)).unwrap();
    let mut wakes = 0;
    while let Some(e) = chans.next_event() {
        assert!(matches!(e, Event::Wake { id } if id == w), "{e:?}");
        wakes += 1;
    }
    assert_eq!(wakes, 1, "1000 wakes must coalesce into one event");
    assert!(events_during(&mut chans, Duration::from_millis(30)).is_empty());
}

#[test]
fn waker_interrupts_a_blocked_wait() {
    let mut chans = chans();
    let (w, waker) = chans.waker().unwrap();
    let t = thread::spawn(move || waker.wake().unwrap());
    // wait_for fails the test if the wake never interrupts the wait.
    wait_for(&mut chans, "wake", |_, e| {
        matches!(e, Event::Wake { id } if id == w).then_some(())
    });
    t.join().unwrap();
}
