//! `loadgen`: a single-threaded epoll (mio) load generator for the bench
//! servers. Prints one JSON line: messages/s, latency p50/p99, and the
//! server's own counters over the measured window.
//!
//! ```text
//! loadgen --addr IP:PORT [--conns N] [--active M] [--size BYTES]
//!         [--depth D] [--secs S] [--warmup S] [--churn]
//! ```
//! `--active` connections (default all) each keep `--depth` requests of
//! `--size` bytes (header included) in flight; the others stay open and
//! idle. `--churn` instead connects, does one round trip and closes, over
//! and over, on `--conns` slots at once.

use anyhow::Context;
use bench::baseline::OP_STATS;
use bench::report::{parse_stats, thread_cpu_ns, ServerStats};
use clap::Parser;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use proto::{Header, HEADER_LEN};
use serde::Serialize;
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Load for one of the bench servers; prints one JSON line.
#[derive(Parser)]
#[command(version)]
struct Options {
    /// The server's address.
    #[arg(long, default_value = "127.0.0.1:7000")]
    addr: SocketAddr,
    /// Connections to open (with --churn: connection slots).
    #[arg(long, default_value_t = 1)]
    conns: usize,
    /// Connections that send; the others stay open and idle (default: all).
    #[arg(long)]
    active: Option<usize>,
    /// Bytes per request, the 20-byte header included.
    #[arg(long, default_value_t = 64, value_parser = frame_size)]
    size: usize,
    /// Requests each active connection keeps in flight.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    depth: u32,
    /// Measured seconds.
    #[arg(long, default_value_t = 2.0)]
    secs: f64,
    /// Seconds of load before the measured window.
    #[arg(long, default_value_t = 0.5)]
    warmup: f64,
    /// Connect, do one round trip and close, over and over.
    #[arg(long)]
    churn: bool,
}

impl Options {
    fn active(&self) -> usize {
        self.active.unwrap_or(self.conns).min(self.conns)
    }

    fn depth(&self) -> usize {
        self.depth as usize
    }
}

fn frame_size(s: &str) -> Result<usize, String> {
    let size: usize = s.parse().map_err(|e| format!("{e}"))?;
    if size < HEADER_LEN {
        return Err(format!("at least {HEADER_LEN} (the header)"));
    }
    Ok(size)
}

/// Latencies in 1 µs buckets up to 100 ms, plus one overflow bucket.
struct Histogram {
    buckets: Vec<u64>,
    count: u64,
}

impl Histogram {
    fn new() -> Histogram {
        Histogram {
            buckets: vec![0; 100_001],
            count: 0,
        }
    }

    fn record(&mut self, d: Duration) {
        let us = (d.as_micros() as usize).min(self.buckets.len() - 1);
        self.buckets[us] += 1;
        self.count += 1;
    }

    fn quantile_us(&self, q: f64) -> usize {
        let target = ((self.count as f64) * q).ceil() as u64;
        let mut seen = 0;
        for (us, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= target.max(1) {
                return us;
            }
        }
        self.buckets.len() - 1
    }
}

/// One request frame of `size` bytes, repeated `n` times.
fn requests(size: usize, n: usize) -> Vec<u8> {
    proto::frame_bytes(Header::request(1, 1, 0), &vec![0xA5; size - HEADER_LEN]).repeat(n)
}

/// Asks the server for its counters on a blocking control connection.
fn server_stats(control: &mut std::net::TcpStream) -> anyhow::Result<ServerStats> {
    control.write_all(&Header::request(0, OP_STATS, 0).to_bytes())?;
    let mut head = [0u8; HEADER_LEN];
    control.read_exact(&mut head)?;
    let mut body = vec![0u8; Header::parse(&head)?.length as usize];
    control.read_exact(&mut body)?;
    parse_stats(&body).context("bad stats reply")
}

struct Conn {
    stream: TcpStream,
    /// Reply bytes received towards the next whole reply.
    partial: usize,
    sent_at: VecDeque<Instant>,
    /// Request bytes not yet accepted by the kernel.
    unsent: usize,
}

/// The warm-up, then the measured window: only what happens inside it
/// counts, and the server's own counters bracket it.
struct Window {
    warm_end: Instant,
    end: Instant,
    /// When the window opened, the server's counters and our own CPU time then.
    opened: Option<(Instant, ServerStats, u64)>,
    messages: u64,
    latency: Histogram,
}

impl Window {
    fn new(o: &Options) -> Window {
        let warm_end = Instant::now() + Duration::from_secs_f64(o.warmup);
        Window {
            warm_end,
            end: warm_end + Duration::from_secs_f64(o.secs),
            opened: None,
            messages: 0,
            latency: Histogram::new(),
        }
    }

    /// Opens the window once the warm-up is over (forgetting what the
    /// warm-up counted); false once the window has closed.
    fn running(&mut self, now: Instant, control: &mut std::net::TcpStream) -> anyhow::Result<bool> {
        if self.opened.is_none() && now >= self.warm_end {
            self.opened = Some((now, server_stats(control)?, thread_cpu_ns()));
            self.messages = 0;
            self.latency = Histogram::new();
        }
        Ok(now < self.end)
    }

    /// How long one wait may last without overshooting a phase change.
    fn wait_limit(&self, now: Instant) -> Duration {
        let next = if self.opened.is_none() {
            self.warm_end
        } else {
            self.end
        };
        next.saturating_duration_since(now)
            .max(Duration::from_millis(1))
    }

    fn close(self, o: &Options, control: &mut std::net::TcpStream) -> anyhow::Result<Report> {
        let (started, before, cpu_before) = self.opened.context("measurement never started")?;
        let secs = started.elapsed().as_secs_f64();
        let client_cpu_s = (thread_cpu_ns() - cpu_before) as f64 / 1e9;
        let server = server_stats(control)?.since(&before);
        let per_msg = |x: u64| x as f64 / server.messages.max(1) as f64;
        Ok(Report {
            conns: o.conns,
            active: o.active(),
            size: o.size,
            depth: o.depth(),
            churn: o.churn,
            messages: self.messages,
            secs,
            msgs_per_sec: self.messages as f64 / secs,
            p50_us: self.latency.quantile_us(0.5),
            p99_us: self.latency.quantile_us(0.99),
            server_messages: server.messages,
            syscalls_per_msg: per_msg(server.syscalls),
            allocs_per_msg: per_msg(server.allocations),
            cpu_s_per_million: per_msg(server.cpu_ns) * 1e6 / 1e9,
            server_sleeps_per_msg: per_msg(server.sleeps),
            server_busy: server.cpu_ns as f64 / 1e9 / secs,
            server_user_share: server.user_ticks as f64
                / (server.user_ticks + server.sys_ticks).max(1) as f64,
            client_busy: client_cpu_s / secs,
        })
    }
}

/// The line this program prints, read by bench/run_matrix.py.
#[derive(Serialize)]
struct Report {
    conns: usize,
    active: usize,
    size: usize,
    depth: usize,
    churn: bool,
    messages: u64,
    secs: f64,
    msgs_per_sec: f64,
    p50_us: usize,
    p99_us: usize,
    server_messages: u64,
    syscalls_per_msg: f64,
    allocs_per_msg: f64,
    cpu_s_per_million: f64,
    /// How often the server blocked, per message: each block means a
    /// client's send had to wake it (a cross-core wakeup).
    server_sleeps_per_msg: f64,
    /// Share of one core the server's thread used over the window.
    server_busy: f64,
    /// Share of the server's CPU time spent in user space (the rest is
    /// the kernel's): the most an engine's own code could win back.
    server_user_share: f64,
    /// Share of one core this load generator used: near 1.0 means the
    /// client, not the server, may be what limits msgs/s.
    client_busy: f64,
}

fn main() -> anyhow::Result<()> {
    let o = Options::parse();
    chan::sys::raise_nofile_limit()?;
    let mut control = std::net::TcpStream::connect(o.addr).context("control connection")?;
    control.set_nodelay(true)?;
    let report = if o.churn {
        churn(&o, &mut control)?
    } else {
        steady(&o, &mut control)?
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

fn connect_all(o: &Options, poll: &Poll) -> anyhow::Result<Vec<Conn>> {
    (0..o.conns)
        .map(|i| {
            let std =
                std::net::TcpStream::connect(o.addr).with_context(|| format!("connection {i}"))?;
            std.set_nodelay(true)?;
            std.set_nonblocking(true)?;
            let mut stream = TcpStream::from_std(std);
            poll.registry().register(
                &mut stream,
                Token(i),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            Ok(Conn {
                stream,
                partial: 0,
                sent_at: VecDeque::with_capacity(o.depth()),
                unsent: 0,
            })
        })
        .collect()
}

/// Steady load: active connections keep `depth` requests in flight.
fn steady(o: &Options, control: &mut std::net::TcpStream) -> anyhow::Result<Report> {
    let mut poll = Poll::new()?;
    let mut conns = connect_all(o, &poll)?;
    let batch = requests(o.size, o.depth());
    let mut scratch = vec![0u8; 256 << 10];
    let mut events = Events::with_capacity(1024);
    let mut now = Instant::now();
    for c in conns.iter_mut().take(o.active()) {
        c.unsent = batch.len();
        c.sent_at.extend(std::iter::repeat_n(now, o.depth()));
        push(c, &batch)?;
    }
    let mut window = Window::new(o);
    while window.running(now, control)? {
        poll.poll(&mut events, Some(window.wait_limit(now)))?;
        now = Instant::now();
        for ev in events.iter() {
            let c = &mut conns[ev.token().0];
            let done = drain_replies(c, o.size, &mut scratch, now, &mut window.latency)?;
            window.messages += done as u64;
            if done > 0 {
                c.sent_at.extend(std::iter::repeat_n(now, done));
                c.unsent += done * o.size;
            }
            push(c, &batch)?;
        }
    }
    window.close(o, control)
}

/// Reads until the socket is empty; returns how many whole replies
/// completed. A read that does not fill `scratch` emptied the socket, and
/// with edge-triggered readiness (mio) any later byte brings a new event,
/// so the read that would only say `WouldBlock` is skipped: the client
/// should cost less per message than the servers it measures. For the
/// same reason the clock is read once per wakeup, not per message: `now`
/// stamps both the replies read and the requests sent in one batch, so a
/// latency is exact to within one batch's processing time.
fn drain_replies(
    c: &mut Conn,
    size: usize,
    scratch: &mut [u8],
    now: Instant,
    latency: &mut Histogram,
) -> io::Result<usize> {
    let mut done = 0;
    loop {
        match c.stream.read(scratch) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                c.partial += n;
                while c.partial >= size {
                    c.partial -= size;
                    done += 1;
                    if let Some(t) = c.sent_at.pop_front() {
                        latency.record(now.saturating_duration_since(t));
                    }
                }
                if n < scratch.len() {
                    return Ok(done);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(done),
            Err(e) => return Err(e),
        }
    }
}

/// Writes what is owed (all requests are identical, so any tail of the
/// batch will do).
fn push(c: &mut Conn, batch: &[u8]) -> io::Result<()> {
    while c.unsent > 0 {
        let n = c.unsent.min(batch.len());
        match c.stream.write(&batch[batch.len() - n..]) {
            Ok(w) => c.unsent -= w,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Connect, one round trip, close — on `conns` slots at once.
fn churn(o: &Options, control: &mut std::net::TcpStream) -> anyhow::Result<Report> {
    let mut poll = Poll::new()?;
    let request = requests(o.size, 1);
    let mut scratch = vec![0u8; 64 << 10];
    let mut slots: Vec<Option<Conn>> = (0..o.conns).map(|_| None).collect();
    let mut events = Events::with_capacity(1024);
    let mut window = Window::new(o);
    for (i, slot) in slots.iter_mut().enumerate() {
        *slot = Some(open(o.addr, &poll, i, &request)?);
    }
    let mut now = Instant::now();
    while window.running(now, control)? {
        poll.poll(&mut events, Some(window.wait_limit(now)))?;
        now = Instant::now();
        for ev in events.iter() {
            let i = ev.token().0;
            let Some(c) = slots[i].as_mut() else { continue };
            if c.unsent > 0 {
                push(c, &request)?;
            }
            match drain_replies(c, o.size, &mut scratch, now, &mut window.latency) {
                Ok(0) => continue,
                Ok(_) | Err(_) => {
                    window.messages += 1;
                    if let Some(mut old) = slots[i].take() {
                        let _ = poll.registry().deregister(&mut old.stream);
                    }
                    slots[i] = Some(open(o.addr, &poll, i, &request)?);
                }
            }
        }
    }
    window.close(o, control)
}

fn open(addr: SocketAddr, poll: &Poll, i: usize, request: &[u8]) -> anyhow::Result<Conn> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    poll.registry().register(
        &mut stream,
        Token(i),
        Interest::READABLE | Interest::WRITABLE,
    )?;
    let mut sent_at = VecDeque::with_capacity(1);
    sent_at.push_back(Instant::now());
    Ok(Conn {
        stream,
        partial: 0,
        sent_at,
        unsent: request.len(),
    })
}
