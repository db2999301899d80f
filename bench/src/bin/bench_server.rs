//! `bench_server chan|mio|poll ADDR`: a single-threaded echo server on one
//! of three engines, with identical framing and handler. Prints
//! `listening on ADDR`; answers `OP_STATS` frames with its counters.
//!
//! The chan server borrows each frame where it arrived (`next_lent`), as
//! the mio and poll servers read theirs in their own buffers; the daemons'
//! owned frames (`next_event`) cost more per message (docs/performance.md).
//!
//! The poll(2) server stands in for the legacy select() loop: same
//! O(watched fds) scan per wakeup, without select's FD_SETSIZE wall —
//! select() cannot watch an fd numbered 1024 or above, so the select
//! variant of the 10,000-connection workload cannot run at all.

use bench::baseline::{Buffers, Counts, ReadOutcome, MAX_BODY, OP_STATS};
use bench::report::{
    stats_reply, thread_cpu_ns, thread_sleeps, thread_user_sys_ticks, ServerStats,
};
use chan::sys::CountingAllocator;
use clap::{Parser, ValueEnum};
use std::io::Write;
use std::net::SocketAddr;

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

fn snapshot(messages: u64, syscalls: u64) -> ServerStats {
    // Reading /proc allocates: that is measuring, not serving.
    let (cpu_ns, sleeps, (user_ticks, sys_ticks)) =
        ALLOC.uncounted(|| (thread_cpu_ns(), thread_sleeps(), thread_user_sys_ticks()));
    ServerStats {
        messages,
        syscalls,
        allocations: ALLOC.allocations(),
        cpu_ns,
        sleeps,
        user_ticks,
        sys_ticks,
    }
}

/// The reply to `OP_STATS`; building it is not counted as the server's
/// allocations (it is the measurement, not the work measured).
fn stats_frame(request: &proto::Header, counts: &Counts) -> Vec<u8> {
    let stats = snapshot(counts.messages, counts.syscalls);
    ALLOC.uncounted(|| stats_reply(request, &stats))
}

fn announce(addr: SocketAddr) -> anyhow::Result<()> {
    println!("listening on {addr}");
    std::io::stdout().flush()?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let args = Args::parse();
    match args.engine {
        Engine::Chan => chan_server(args.addr),
        Engine::Mio => mio_server::run(args.addr),
        Engine::Poll => poll_server::run(args.addr),
    }
}

/// A single-threaded echo server for `loadgen`, on one of three engines.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The event loop to serve with.
    engine: Engine,
    /// Address to listen on (port 0: any free port, printed at start).
    addr: SocketAddr,
}

#[derive(Clone, Copy, ValueEnum)]
enum Engine {
    /// The channel library.
    Chan,
    /// mio, the baseline chan is compared against.
    Mio,
    /// poll(2), standing in for the legacy select() loop.
    Poll,
}

fn chan_server(addr: SocketAddr) -> anyhow::Result<()> {
    use chan::{Channels, Config, Event, Lent};
    let mut chans = Channels::new(Config {
        max_frame_body: MAX_BODY,
        ..Config::default()
    })?;
    let listener = chans.tcp_listen(addr)?;
    announce(chans.local_addr(listener)?)?;
    let mut messages = 0u64;
    loop {
        chans.chan_epoll(None)?;
        // Frames are lent, not cut out: each is echoed before the next.
        loop {
            // A `match` in a `let`: the loan ends before `chans` is used.
            let broken = match chans.next_lent() {
                None => break,
                Some(Lent::Frame(mut frame)) => {
                    let (id, header) = (frame.id(), *frame.header());
                    let sent = if header.operation == OP_STATS {
                        let counts = Counts {
                            messages,
                            syscalls: frame.counters().syscalls.total(),
                        };
                        frame.reply(&stats_frame(&header, &counts))
                    } else {
                        messages += 1;
                        frame.echo()
                    };
                    sent.is_err().then_some(id)
                }
                Some(Lent::Event(Event::Eof { id } | Event::Error { id, .. })) => Some(id),
                Some(Lent::Event(_)) => None,
            };
            if let Some(id) = broken {
                let _ = chans.close(id);
            }
        }
    }
}

mod mio_server {
    use super::*;
    use mio::net::{TcpListener, TcpStream};
    use mio::{Events, Interest, Poll, Token};

    const LISTENER: Token = Token(usize::MAX);

    struct Conn {
        stream: TcpStream,
        buffers: Buffers,
        writable_armed: bool,
    }

    pub fn run(addr: SocketAddr) -> anyhow::Result<()> {
        let mut poll = Poll::new()?;
        let mut listener = TcpListener::bind(addr)?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        announce(listener.local_addr()?)?;
        let mut events = Events::with_capacity(1024);
        let mut conns: Vec<Option<Conn>> = Vec::new();
        let mut free: Vec<usize> = Vec::new();
        let mut counts = Counts::default();
        loop {
            counts.syscalls += 1;
            match poll.poll(&mut events, None) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => other?,
            }
            for event in events.iter() {
                if event.token() == LISTENER {
                    accept_all(&poll, &listener, &mut conns, &mut free, &mut counts);
                    continue;
                }
                let slot = event.token().0;
                let Some(Some(conn)) = conns.get_mut(slot) else {
                    continue;
                };
                let keep = serve(&poll, conn, slot, &mut counts);
                if !keep {
                    conns[slot] = None;
                    free.push(slot);
                }
            }
        }
    }

    fn accept_all(
        poll: &Poll,
        listener: &TcpListener,
        conns: &mut Vec<Option<Conn>>,
        free: &mut Vec<usize>,
        counts: &mut Counts,
    ) {
        loop {
            counts.syscalls += 1;
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let _ = stream.set_nodelay(true);
            let slot = free.pop().unwrap_or_else(|| {
                conns.push(None);
                conns.len() - 1
            });
            counts.syscalls += 2;
            if poll
                .registry()
                .register(&mut stream, Token(slot), Interest::READABLE)
                .is_ok()
            {
                conns[slot] = Some(Conn {
                    stream,
                    buffers: Buffers::default(),
                    writable_armed: false,
                });
            }
        }
    }

    /// Edge-triggered: read until WouldBlock. Returns false to close.
    fn serve(poll: &Poll, conn: &mut Conn, slot: usize, counts: &mut Counts) -> bool {
        if conn.buffers.flush(&mut conn.stream, counts).is_err() {
            return false;
        }
        loop {
            match conn.buffers.read_once(&mut conn.stream, counts) {
                Ok(ReadOutcome::Data(_)) => {
                    if conn
                        .buffers
                        .echo_frames(&mut conn.stream, counts, stats_frame)
                        .is_err()
                    {
                        return false;
                    }
                }
                Ok(ReadOutcome::WouldBlock) => break,
                Ok(ReadOutcome::Eof) | Err(_) => return false,
            }
        }
        let want_write = conn.buffers.has_output();
        if want_write != conn.writable_armed {
            conn.writable_armed = want_write;
            let interest = if want_write {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            counts.syscalls += 1;
            return poll
                .registry()
                .reregister(&mut conn.stream, Token(slot), interest)
                .is_ok();
        }
        true
    }
}

mod poll_server {
    use super::*;
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    struct Conn {
        stream: TcpStream,
        buffers: Buffers,
    }

    /// The legacy shape: rebuild the fd list and scan it on every wakeup.
    pub fn run(addr: SocketAddr) -> anyhow::Result<()> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        announce(listener.local_addr()?)?;
        let mut conns: Vec<Conn> = Vec::new();
        let mut fds: Vec<libc::pollfd> = Vec::new();
        let mut counts = Counts::default();
        loop {
            fds.clear();
            fds.push(libc::pollfd {
                fd: listener.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
            for c in &conns {
                let events = libc::POLLIN
                    | if c.buffers.has_output() {
                        libc::POLLOUT
                    } else {
                        0
                    };
                fds.push(libc::pollfd {
                    fd: c.stream.as_raw_fd(),
                    events,
                    revents: 0,
                });
            }
            counts.syscalls += 1;
            match chan::sys::poll(&mut fds, -1) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => other?,
            };
            let mut i = conns.len();
            while i > 0 {
                i -= 1;
                let revents = fds[i + 1].revents;
                if revents != 0 && !serve(&mut conns[i], revents, &mut counts) {
                    conns.swap_remove(i);
                }
            }
            if fds[0].revents & libc::POLLIN != 0 {
                accept_all(&listener, &mut conns, &mut counts);
            }
        }
    }

    fn accept_all(listener: &TcpListener, conns: &mut Vec<Conn>, counts: &mut Counts) {
        for _ in 0..64 {
            counts.syscalls += 1;
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            counts.syscalls += 2;
            if stream.set_nonblocking(true).is_ok() && stream.set_nodelay(true).is_ok() {
                conns.push(Conn {
                    stream,
                    buffers: Buffers::default(),
                });
            }
        }
    }

    /// Level-triggered, like select(): one read per readiness.
    fn serve(conn: &mut Conn, revents: i16, counts: &mut Counts) -> bool {
        if revents & libc::POLLOUT != 0 && conn.buffers.flush(&mut conn.stream, counts).is_err() {
            return false;
        }
        if revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) == 0 {
            return true;
        }
        match conn.buffers.read_once(&mut conn.stream, counts) {
            Ok(ReadOutcome::Data(_)) => conn
                .buffers
                .echo_frames(&mut conn.stream, counts, stats_frame)
                .is_ok(),
            Ok(ReadOutcome::WouldBlock) => true,
            Ok(ReadOutcome::Eof) | Err(_) => false,
        }
    }
}
