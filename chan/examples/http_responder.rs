//! `http_responder ADDR`: a small HTTP/1.1 server on chan's raw channels
//! and the `http1` parser. `GET /` answers `hello`, `GET /health` `ok`;
//! other paths 404, other methods 405. Connections are kept alive (HTTP/1.1
//! unless `Connection: close`) and pipelined requests are answered in
//! order; a malformed request gets its 4xx/5xx and the connection is
//! closed once it is sent. SIGTERM or SIGINT: stop accepting, let each
//! connection's answers go out, close, and exit (at most 5 s later).
//!
//! It prints `listening on IP:PORT` once ready (`http_responder
//! 127.0.0.1:0` for a port the kernel picks).

use anyhow::Context;
use chan::{ChanId, Channels, Config, Event};
use http1::{Request, Response};
use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How long a stop waits for connections to finish.
const DRAIN: Duration = Duration::from_secs(5);

/// A connection's bytes not yet parsed, by table slot (reused, never
/// freed: a steady stream of connections allocates nothing new).
struct Conns(Vec<Vec<u8>>);

impl Conns {
    fn buf(&mut self, id: ChanId) -> &mut Vec<u8> {
        let i = id.index();
        if self.0.len() <= i {
            self.0.resize_with(i + 1, Vec::new);
        }
        &mut self.0[i]
    }
}

fn main() -> anyhow::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let addr: SocketAddr = match std::env::args().nth(1).map(|a| a.parse()) {
        Some(Ok(addr)) => addr,
        Some(Err(e)) => anyhow::bail!("bad address: {e} (usage: http_responder IP:PORT)"),
        None => anyhow::bail!("usage: http_responder IP:PORT"),
    };
    let mut chans = Channels::new(Config::default())?;
    let listener = chans
        .tcp_listen_raw(addr)
        .with_context(|| format!("listen on {addr}"))?;
    chans.signals(&[libc::SIGTERM, libc::SIGINT])?;
    println!("listening on {}", chans.local_addr(listener)?);
    std::io::stdout().flush()?;
    let mut conns = Conns(Vec::with_capacity(1024));
    let mut out = Vec::with_capacity(4096);
    let mut stopping: Option<Instant> = None;
    loop {
        if stopping.is_some_and(|at| at.elapsed() > DRAIN)
            || (stopping.is_some() && chans.len() <= 1)
        {
            log::info!("stopped: {:?}", chans.counters());
            return Ok(());
        }
        chans.chan_epoll(stopping.map(|_| Duration::from_millis(50)))?;
        while let Some(event) = chans.next_event() {
            match event {
                Event::Data { id, data } => {
                    conns.buf(id).extend_from_slice(&data);
                    answer(&mut chans, &mut conns, &mut out, id);
                }
                Event::Accepted { id, .. } => conns.buf(id).clear(),
                Event::Eof { id } => {
                    let _ = chans.close_when_flushed(id);
                }
                Event::Error { id, error } => {
                    log::debug!("closing {id}: {error}");
                    let _ = chans.close(id);
                }
                Event::Signal { info, .. } if stopping.is_none() => {
                    log::info!("signal {}: draining", info.signo);
                    stopping = Some(Instant::now());
                    let _ = chans.close(listener);
                    let open: Vec<ChanId> = chans.ids().collect();
                    for id in open {
                        let _ = chans.close_when_flushed(id);
                    }
                }
                _ => {}
            }
        }
    }
}

/// Answers every whole request buffered on `id`, in order.
fn answer(chans: &mut Channels, conns: &mut Conns, out: &mut Vec<u8>, id: ChanId) {
    out.clear();
    let close = http1::serve(conns.buf(id), out, route);
    if !out.is_empty() && chans.send(id, out).is_err() {
        let _ = chans.close(id);
        return;
    }
    if close {
        let _ = chans.close_when_flushed(id);
    }
}

fn route(request: &Request<'_>) -> Response<'static> {
    let text = "text/plain";
    match (request.method, request.path()) {
        ("GET" | "HEAD", "/") => Response::new(200, "OK", text, &b"hello\n"[..]),
        ("GET" | "HEAD", "/health") => Response::new(200, "OK", text, &b"ok\n"[..]),
        ("GET" | "HEAD", _) => Response::new(404, "Not Found", text, &b"not found\n"[..]),
        _ => Response::new(405, "Method Not Allowed", text, &b"GET only\n"[..]),
    }
}
