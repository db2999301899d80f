//! Helpers shared by the integration tests: frames, listeners, and waits
//! that end on a condition or fail loudly at a deadline.
#![allow(dead_code)]

use chan::{ChanId, Channels, Config, Event};
use proto::{Header, HEADER_LEN};
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Generous: CI machines are slow and shared; waits end early on success.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A frame with sequence `seq`, operation 1 and `body`.
pub fn frame(seq: u32, body: &[u8]) -> Vec<u8> {
    proto::frame_bytes(Header::request(seq, 1, 0), body)
}

pub fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

pub fn chans() -> Channels {
    chans_with(Config::default())
}

pub fn chans_with(config: Config) -> Channels {
    Channels::new(config).expect("epoll init")
}

/// Waits until `pick` returns `Some` for an event, failing after PATIENCE.
/// Events `pick` declines are passed over.
pub fn wait_for<T>(
    chans: &mut Channels,
    what: &str,
    mut pick: impl FnMut(&mut Channels, Event) -> Option<T>,
) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "timed out waiting for {what}");
        chans.chan_epoll(Some(left)).expect("chan_epoll");
        while let Some(event) = chans.next_event() {
            if let Some(found) = pick(chans, event) {
                return found;
            }
        }
    }
}

/// Runs the loop (discarding events) until `done` holds, failing after
/// PATIENCE; for conditions that no event announces, like a close.
pub fn run_until(chans: &mut Channels, what: &str, mut done: impl FnMut(&Channels) -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done(chans) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        chans
            .chan_epoll(Some(Duration::from_millis(20)))
            .expect("chan_epoll");
        while chans.next_event().is_some() {}
    }
}

/// Every event that arrives within `window` (for asserting silence).
pub fn events_during(chans: &mut Channels, window: Duration) -> Vec<Event> {
    let deadline = Instant::now() + window;
    let mut out = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return out;
        }
        chans.chan_epoll(Some(left)).expect("chan_epoll");
        while let Some(event) = chans.next_event() {
            out.push(event);
        }
    }
}

/// A listener, a blocking client connected to it, and the server side.
pub fn connected(chans: &mut Channels) -> (ChanId, TcpStream, ChanId) {
    let listener = chans.tcp_listen(loopback()).unwrap();
    let (client, server) = connect_another(chans, listener);
    (listener, client, server)
}

/// One more blocking client of `listener`, and its server side.
pub fn connect_another(chans: &mut Channels, listener: ChanId) -> (TcpStream, ChanId) {
    let client = TcpStream::connect(chans.local_addr(listener).unwrap()).unwrap();
    let server = wait_for(chans, "accept", |_, e| match e {
        Event::Accepted { id, .. } => Some(id),
        _ => None,
    });
    (client, server)
}

/// Waits for the next frame on `id`.
pub fn next_frame(chans: &mut Channels, id: ChanId) -> chan::Frame {
    wait_for(chans, "a frame", |_, e| match e {
        Event::Frame { id: got, frame } if got == id => Some(frame),
        _ => None,
    })
}

/// Reads one whole frame from a blocking stream.
pub fn read_frame(s: &mut TcpStream) -> Vec<u8> {
    let mut head = [0u8; HEADER_LEN];
    s.read_exact(&mut head).unwrap();
    let mut whole = head.to_vec();
    whole.resize(Header::parse(&head).unwrap().frame_len(), 0);
    s.read_exact(&mut whole[HEADER_LEN..]).unwrap();
    whole
}

/// A running example binary that printed `listening on ADDR`; killed on
/// drop.
pub struct Example {
    child: Child,
    pub addr: SocketAddr,
}

impl Example {
    /// `cargo test` builds examples beside the test binaries' `deps/`.
    pub fn start(name: &str, args: &[&str]) -> Example {
        let exe = std::env::current_exe().unwrap();
        let dir: PathBuf = exe
            .parent()
            .and_then(|deps| deps.parent())
            .unwrap()
            .join("examples");
        let path = dir.join(name);
        assert!(
            path.exists(),
            "{} missing: cargo test builds examples",
            path.display()
        );
        let mut child = Command::new(path)
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .expect("banner")
            .parse()
            .unwrap();
        Example { child, addr }
    }
}

impl Example {
    /// Signals the example (SIGTERM to see it stop gracefully).
    pub fn signal(&self, signo: i32) {
        os::process::signal(self.child.id(), signo).unwrap();
    }

    /// Whether it exited within PATIENCE; its status if so.
    pub fn wait_exit(&mut self) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until poll(2) reports every fd readable, so that one epoll_wait
/// returns them all in the same batch.
pub fn wait_all_readable(fds: &[i32]) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut polled: Vec<libc::pollfd> = fds
            .iter()
            .map(|&fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        chan::sys::poll(&mut polled, 10).unwrap();
        if polled.iter().all(|p| p.revents & libc::POLLIN != 0) {
            return;
        }
        assert!(Instant::now() < deadline, "sockets never became readable");
    }
}
