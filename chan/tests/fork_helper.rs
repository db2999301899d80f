//! `Channels::fork` closes the child's copies of every channel, so the
//! parent's close really closes the connection (scenario 11, the helper).
//! Alone in its binary: it forks.

mod common;

use chan::{sys, Fork};
use common::*;
use std::io::Read;
use std::process::Command;
use std::time::Duration;

#[test]
fn fork_helper_closes_the_childs_copies() {
    let mut chans = chans();
    let (_l, mut client, server) = connected(&mut chans);
    let fd = chans.raw_fd(server).unwrap();
    let (pid, mut chans) = match chans.fork().unwrap() {
        Fork::Child => {
            // Async-signal-safe only: report whether our copy is gone, then
            // linger so a kept copy would hold the connection open.
            let code = if sys::fd_is_open(fd) { 1 } else { 0 };
            std::thread::sleep(Duration::from_secs(30));
            sys::exit_now(code);
        }
        Fork::Parent { pid, chans } => (pid, chans),
    };
    chans.close(server).unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut buf = [0u8; 1];
    let eof = client.read(&mut buf);
    let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
    assert!(
        matches!(eof, Ok(0)),
        "peer did not see the close: the child kept a copy ({eof:?})"
    );
}
