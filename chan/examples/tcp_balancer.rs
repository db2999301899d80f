//! `tcp_balancer LISTEN BACKEND... [--least-conn] [--max-conns N]
//! [--connect-timeout-ms MS] [--idle-timeout-s S]`: a TCP load balancer on
//! chan's raw channels. Each client connection goes to one backend (round
//! robin, or the one with the fewest connections), bytes are copied both
//! ways, and a side whose peer is not reading stops being read (its
//! output queue over 1 MiB) until the peer catches up.
//!
//! Backends are probed every second (a connect); one is down after 3
//! failed probes or connects, and back after 2 good probes. A connect that
//! fails or times out is retried on the next backend that is up; what the
//! client sent meanwhile waits. Over `--max-conns` clients, a new one is
//! closed at once (and that is logged, once per second at most); a pair
//! silent for `--idle-timeout-s` is closed. A side that stops sending
//! (EOF) has that passed on (its peer's sending side is shut once what is
//! queued for it is sent) while the other direction goes on; the pair
//! closes once both have stopped, or either fails. SIGTERM or SIGINT:
//! stop accepting, let open pairs finish for up to 10 s, exit.
//!
//! A connection's own state is allocated up front or reused: the pairs'
//! table is sized for `--max-conns`, the backends tried are a bit set (64
//! backends at most), and the buffer of what a client sends before its
//! backend answers comes back to a free list, as chan's receive buffers
//! do (a closed connection's go to the next one).
//!
//! It prints `listening on IP:PORT` once ready.

use anyhow::{bail, Context};
use chan::{ChanId, Channels, Config, Event, Interest};
use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const PROBE_EVERY: Duration = Duration::from_secs(1);
const DOWN_AFTER: u32 = 3;
const UP_AFTER: u32 = 2;
/// Output queued for a side past which its peer is no longer read.
const BACKLOG: usize = 1 << 20;
const DRAIN: Duration = Duration::from_secs(10);

struct Options {
    listen: SocketAddr,
    backends: Vec<SocketAddr>,
    least_conn: bool,
    max_conns: usize,
    connect_timeout: Duration,
    idle_timeout: Duration,
}

fn options() -> anyhow::Result<Options> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: tcp_balancer LISTEN BACKEND... [--least-conn] [--max-conns N] [--connect-timeout-ms MS] [--idle-timeout-s S]";
    let mut o = Options {
        listen: args.next().context(usage)?.parse().context(usage)?,
        backends: Vec::new(),
        least_conn: false,
        max_conns: 10_000,
        connect_timeout: Duration::from_millis(1000),
        idle_timeout: Duration::from_secs(300),
    };
    while let Some(a) = args.next() {
        let mut value = || {
            args.next()
                .with_context(|| format!("{a} needs a value ({usage})"))
        };
        match a.as_str() {
            "--least-conn" => o.least_conn = true,
            "--max-conns" => o.max_conns = value()?.parse()?,
            "--connect-timeout-ms" => o.connect_timeout = Duration::from_millis(value()?.parse()?),
            "--idle-timeout-s" => o.idle_timeout = Duration::from_secs(value()?.parse()?),
            addr => o
                .backends
                .push(addr.parse().with_context(|| format!("{addr}: {usage}"))?),
        }
    }
    if o.backends.is_empty() {
        bail!("{usage}");
    }
    if o.backends.len() > Tried::MAX_BACKENDS {
        bail!("at most {} backends", Tried::MAX_BACKENDS);
    }
    Ok(o)
}

/// The backends a client's connect has tried: a set of pool indexes, kept
/// in the connection's state without an allocation.
#[derive(Clone, Copy, Default)]
struct Tried(u64);

impl Tried {
    const MAX_BACKENDS: usize = 64;

    fn contains(self, i: usize) -> bool {
        self.0 & (1 << i) != 0
    }

    fn with(self, i: usize) -> Tried {
        Tried(self.0 | 1 << i)
    }
}

/// The backends and which of them are up: pure, so its rules are plain.
struct Pool {
    backends: Vec<Backend>,
    next: usize,
    least_conn: bool,
}

struct Backend {
    addr: SocketAddr,
    up: bool,
    /// Failures (or successes) in a row.
    fails: u32,
    oks: u32,
    active: usize,
}

impl Pool {
    fn new(addrs: &[SocketAddr], least_conn: bool) -> Pool {
        let backends = (addrs.iter())
            .map(|&addr| Backend {
                addr,
                up: true,
                fails: 0,
                oks: 0,
                active: 0,
            })
            .collect();
        Pool {
            backends,
            next: 0,
            least_conn,
        }
    }

    /// The backend for a new connection, skipping `tried`.
    fn pick(&mut self, tried: Tried) -> Option<usize> {
        let n = self.backends.len();
        let usable = |i: &usize| self.backends[*i].up && !tried.contains(*i);
        let chosen = if self.least_conn {
            (0..n)
                .filter(usable)
                .min_by_key(|&i| (self.backends[i].active, (i + n - self.next) % n))
        } else {
            (0..n).map(|k| (self.next + k) % n).find(usable)
        }?;
        self.next = (chosen + 1) % n;
        Some(chosen)
    }

    /// A probe or a connect to backend `i` worked (`ok`) or failed.
    fn report(&mut self, i: usize, ok: bool) {
        let b = &mut self.backends[i];
        if ok {
            (b.oks, b.fails) = (b.oks + 1, 0);
            if !b.up && b.oks >= UP_AFTER {
                b.up = true;
                log::info!("backend {} is up", b.addr);
            }
        } else {
            (b.fails, b.oks) = (b.fails + 1, 0);
            if b.up && b.fails >= DOWN_AFTER {
                b.up = false;
                log::warn!("backend {} is down", b.addr);
            }
        }
    }
}

/// One side of a proxied connection.
struct Side {
    peer: ChanId,
    backend: usize,
    /// For the client side: what it sent before its backend connected
    /// (kept to send again if the connect fails); `None` once connected.
    waiting: Option<Vec<u8>>,
    tried: Tried,
    client: bool,
    heard: Instant,
    /// This side's remote end has stopped sending.
    done_sending: bool,
}

struct Balancer {
    chans: Channels,
    pool: Pool,
    o: Options,
    sides: HashMap<ChanId, Side>,
    /// Probe connects in flight, by backend.
    probes: HashMap<ChanId, usize>,
    clients: usize,
    /// Emptied `waiting` buffers, for the next connections to reuse.
    spare: Vec<Vec<u8>>,
    refused: u64,
    refusal_logged: Option<Instant>,
}

fn main() -> anyhow::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let o = options()?;
    let mut chans = Channels::new(Config {
        capacity: 2 * o.max_conns + o.backends.len() + 16,
        high_water: usize::MAX,
        ..Config::default()
    })?;
    let listener = chans
        .tcp_listen_raw(o.listen)
        .with_context(|| format!("listen on {}", o.listen))?;
    chans.signals(&[libc::SIGTERM, libc::SIGINT])?;
    chans.timer(PROBE_EVERY, PROBE_EVERY)?;
    println!("listening on {}", chans.local_addr(listener)?);
    std::io::stdout().flush()?;
    let mut b = Balancer {
        pool: Pool::new(&o.backends, o.least_conn),
        sides: HashMap::with_capacity(2 * o.max_conns.min(1 << 16)),
        probes: HashMap::new(),
        clients: 0,
        spare: Vec::new(),
        refused: 0,
        refusal_logged: None,
        chans,
        o,
    };
    let mut stopping: Option<Instant> = None;
    loop {
        if let Some(at) = stopping {
            if b.sides.is_empty() || at.elapsed() > DRAIN {
                log::info!(
                    "stopped; {} clients refused; {:?}",
                    b.refused,
                    b.chans.counters()
                );
                return Ok(());
            }
        }
        // While draining, wake to check the deadline even if all is quiet.
        b.chans
            .chan_epoll(stopping.map(|_| Duration::from_millis(100)))?;
        while let Some(event) = b.chans.next_event() {
            match event {
                Event::Accepted { id, .. } => b.accepted(id),
                Event::Connected { id } => b.connected(id),
                Event::Data { id, data } => b.data(id, &data),
                Event::Writable { id } => b.writable(id),
                Event::Eof { id } => b.eof(id),
                Event::Error { id, error } => b.failed(id, &error),
                Event::Timer { .. } => b.tick(),
                Event::Signal { info, .. } if stopping.is_none() => {
                    log::info!("signal {}: draining {} connections", info.signo, b.clients);
                    stopping = Some(Instant::now());
                    let _ = b.chans.close(listener);
                }
                _ => {}
            }
        }
    }
}

impl Balancer {
    fn accepted(&mut self, client: ChanId) {
        if self.clients >= self.o.max_conns {
            self.refused += 1;
            if self
                .refusal_logged
                .is_none_or(|at| at.elapsed() > Duration::from_secs(1))
            {
                self.refusal_logged = Some(Instant::now());
                log::warn!(
                    "{} connections open (--max-conns): refusing new ones ({} so far)",
                    self.clients,
                    self.refused
                );
            }
            let _ = self.chans.close(client);
            return;
        }
        self.clients += 1;
        let waiting = self.spare.pop().unwrap_or_default();
        self.connect(client, waiting, Tried::default());
    }

    /// Connects `client` to the next backend up it has not tried.
    fn connect(&mut self, client: ChanId, waiting: Vec<u8>, tried: Tried) {
        let Some(backend) = self.pool.pick(tried) else {
            log::warn!("no backend up for {client}: closing it");
            self.clients -= 1;
            self.sides.remove(&client);
            self.give_back(waiting);
            let _ = self.chans.close(client);
            return;
        };
        let tried = tried.with(backend);
        let addr = self.pool.backends[backend].addr;
        let server = match self.chans.tcp_connect(addr, self.o.connect_timeout) {
            Ok(id) => id,
            Err(e) => {
                log::warn!("connect to {addr}: {e}");
                self.pool.report(backend, false);
                return self.connect(client, waiting, tried);
            }
        };
        let _ = self.chans.set_raw(server);
        self.pool.backends[backend].active += 1;
        let now = Instant::now();
        self.sides.insert(
            client,
            Side {
                peer: server,
                backend,
                waiting: Some(waiting),
                tried,
                client: true,
                heard: now,
                done_sending: false,
            },
        );
        self.sides.insert(
            server,
            Side {
                peer: client,
                backend,
                waiting: None,
                tried: Tried::default(),
                client: false,
                heard: now,
                done_sending: false,
            },
        );
    }

    fn connected(&mut self, id: ChanId) {
        if let Some(backend) = self.probes.remove(&id) {
            self.pool.report(backend, true);
            let _ = self.chans.close(id);
            return;
        }
        let Some(server) = self.sides.get(&id) else {
            return;
        };
        let (client, backend) = (server.peer, server.backend);
        self.pool.report(backend, true);
        let waiting = self.sides.get_mut(&client).and_then(|c| c.waiting.take());
        if let Some(bytes) = waiting {
            if !bytes.is_empty() {
                self.send(id, &bytes);
            }
            self.give_back(bytes);
        }
        // The client stopped sending while its backend connected.
        if self.sides.get(&client).is_some_and(|c| c.done_sending) {
            self.pass_on_eof(id);
        }
    }

    /// `id`'s remote end stopped sending: its peer is told the same once
    /// what is queued for it is sent; once both have, the pair closes.
    fn eof(&mut self, id: ChanId) {
        let Some(side) = self.sides.get_mut(&id) else {
            let _ = self.chans.close(id);
            return;
        };
        side.done_sending = true;
        let (peer, connecting) = (side.peer, side.waiting.is_some());
        if self.sides.get(&peer).is_none_or(|p| p.done_sending) {
            return self.close_pair(id);
        }
        // A backend still connecting is told once it has connected.
        if !connecting {
            self.pass_on_eof(peer);
        }
    }

    fn pass_on_eof(&mut self, to: ChanId) {
        if self.chans.shutdown_when_flushed(to).is_err() {
            self.close_pair(to);
        }
    }

    fn data(&mut self, from: ChanId, data: &[u8]) {
        let Some(side) = self.sides.get_mut(&from) else {
            return;
        };
        side.heard = Instant::now();
        let to = side.peer;
        if let Some(waiting) = side.waiting.as_mut() {
            waiting.extend_from_slice(data);
            return;
        }
        if let Some(peer) = self.sides.get_mut(&to) {
            peer.heard = Instant::now();
        }
        self.send(to, data);
        // The peer is not keeping up: stop reading this side until it does.
        if self.chans.queued_bytes(to).is_ok_and(|q| q > BACKLOG) {
            let _ = self.chans.chan_epoll_mod(from, Interest::NONE);
        }
    }

    /// `id`'s queue drained: read its peer again.
    fn writable(&mut self, id: ChanId) {
        if let Some(side) = self.sides.get(&id) {
            let _ = self.chans.chan_epoll_mod(side.peer, Interest::READ);
        }
    }

    fn send(&mut self, to: ChanId, bytes: &[u8]) {
        if self.chans.send(to, bytes).is_err() {
            self.close_pair(to);
        }
    }

    fn failed(&mut self, id: ChanId, error: &chan::ChanError) {
        if let Some(backend) = self.probes.remove(&id) {
            self.pool.report(backend, false);
            let _ = self.chans.close(id);
            return;
        }
        let Some(side) = self.sides.get(&id) else {
            let _ = self.chans.close(id);
            return;
        };
        let client = side.peer;
        let connecting =
            !side.client && self.sides.get(&client).is_some_and(|c| c.waiting.is_some());
        if connecting {
            // The backend did not answer: the client tries the next one.
            let backend = side.backend;
            self.pool.report(backend, false);
            self.pool.backends[backend].active -= 1;
            self.sides.remove(&id);
            let _ = self.chans.close(id);
            log::info!(
                "backend {} failed ({error}); trying another",
                self.pool.backends[backend].addr
            );
            if let Some(c) = self.sides.remove(&client) {
                self.connect(client, c.waiting.unwrap_or_default(), c.tried);
            }
            return;
        }
        log::debug!("{id}: {error}");
        self.close_pair(id);
    }

    /// Keeps an emptied buffer for the next connection.
    fn give_back(&mut self, mut buffer: Vec<u8>) {
        if self.spare.len() < self.o.max_conns {
            buffer.clear();
            self.spare.push(buffer);
        }
    }

    /// Closes both sides once what is queued for them is sent.
    fn close_pair(&mut self, id: ChanId) {
        let Some(side) = self.sides.remove(&id) else {
            let _ = self.chans.close_when_flushed(id);
            return;
        };
        let mut peer = self.sides.remove(&side.peer);
        let buffers = [side.waiting, peer.as_mut().and_then(|p| p.waiting.take())];
        for buffer in buffers.into_iter().flatten() {
            self.give_back(buffer);
        }
        self.pool.backends[side.backend].active =
            self.pool.backends[side.backend].active.saturating_sub(1);
        self.clients -= 1;
        let _ = self.chans.close_when_flushed(id);
        if peer.is_some() {
            let _ = self.chans.close_when_flushed(side.peer);
        }
    }

    fn tick(&mut self) {
        for (i, b) in self.pool.backends.iter().enumerate() {
            if self.probes.values().any(|&p| p == i) {
                continue;
            }
            match self.chans.tcp_connect(b.addr, self.o.connect_timeout) {
                Ok(id) => {
                    self.probes.insert(id, i);
                }
                Err(e) => log::debug!("probe of {}: {e}", b.addr),
            }
        }
        let idle: Vec<ChanId> = (self.sides.iter())
            .filter(|(_, s)| s.client && s.heard.elapsed() > self.o.idle_timeout)
            .map(|(id, _)| *id)
            .collect();
        for id in idle {
            log::info!("{id}: idle over {:?}, closing", self.o.idle_timeout);
            self.close_pair(id);
        }
    }
}
