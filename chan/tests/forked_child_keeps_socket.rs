//! A child process that keeps a copy of a socket must not keep its epoll
//! registration alive after the parent closes the channel (scenario 11).
//! Alone in its binary: it spawns a child that inherits an fd.

mod common;

use chan::sys;
use common::*;
use std::io::Write;
use std::process::Command;
use std::time::Duration;

#[test]
fn forked_child_holding_the_socket_causes_no_events_after_close() {
    let mut chans = chans();
    let (_l, mut client, server) = connected(&mut chans);
    let copy = sys::dup_inheritable(chans.raw_fd(server).unwrap()).unwrap();
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    drop(copy); // only the child holds the socket now, besides the channel

    chans.close(server).unwrap();
    client.write_all(&frame(1, b"to a closed channel")).unwrap();
    let events = events_during(&mut chans, Duration::from_millis(200));
    let stale = chans.counters().stale_events;
    child.kill().unwrap();
    child.wait().unwrap();
    // Without EPOLL_CTL_DEL before close, the child's copy keeps the
    // registration alive and the kernel keeps reporting the old token.
    assert!(events.is_empty(), "{events:?}");
    assert_eq!(stale, 0, "the kernel still reported the closed channel");
}
