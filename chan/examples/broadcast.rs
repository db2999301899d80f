//! `broadcast ADDR [MAX_QUEUE]`: a chat server on chan's raw channels.
//! Every line a client sends goes to every other client. A reader that
//! falls behind gets a bounded queue (MAX_QUEUE bytes of output waiting,
//! 1 MiB unless given): past it, that client is dropped, and the others
//! never wait for it. SIGTERM or SIGINT stops it.
//!
//! It prints `listening on IP:PORT` once ready.

use anyhow::Context;
use chan::{ChanId, Channels, Config, Event};
use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;

/// A line longer than this without its newline is cut off and sent.
const MAX_LINE: usize = 64 * 1024;

fn main() -> anyhow::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let mut args = std::env::args().skip(1);
    let usage = "usage: broadcast IP:PORT [MAX_QUEUE_BYTES]";
    let addr: SocketAddr = match args.next().map(|a| a.parse()) {
        Some(Ok(addr)) => addr,
        Some(Err(e)) => anyhow::bail!("bad address: {e} ({usage})"),
        None => anyhow::bail!("{usage}"),
    };
    let max_queue: usize = match args.next().map(|a| a.parse()) {
        None => 1 << 20,
        Some(Ok(n)) => n,
        Some(Err(e)) => anyhow::bail!("bad queue size: {e} ({usage})"),
    };
    let mut chans = Channels::new(Config {
        // Never pause reading a sender for its own queue: the bound below
        // drops a slow reader instead.
        high_water: usize::MAX,
        ..Config::default()
    })?;
    let listener = chans
        .tcp_listen_raw(addr)
        .with_context(|| format!("listen on {addr}"))?;
    chans.signals(&[libc::SIGTERM, libc::SIGINT])?;
    println!("listening on {}", chans.local_addr(listener)?);
    std::io::stdout().flush()?;
    // Each client and its partial line.
    let mut clients: BTreeMap<ChanId, Vec<u8>> = BTreeMap::new();
    loop {
        chans.chan_epoll(None)?;
        while let Some(event) = chans.next_event() {
            match event {
                Event::Accepted { id, .. } => {
                    clients.insert(id, Vec::new());
                }
                Event::Data { id, data } => {
                    let Some(partial) = clients.get_mut(&id) else {
                        continue;
                    };
                    partial.extend_from_slice(&data);
                    let whole = match partial.iter().rposition(|&b| b == b'\n') {
                        Some(end) => partial.drain(..=end).collect::<Vec<u8>>(),
                        None if partial.len() >= MAX_LINE => std::mem::take(partial),
                        None => continue,
                    };
                    let slow = relay(&mut chans, &clients, id, &whole, max_queue);
                    for gone in slow {
                        log::info!(
                            "dropping {gone}: over {max_queue} bytes queued (a slow reader)"
                        );
                        clients.remove(&gone);
                        let _ = chans.close(gone);
                    }
                }
                Event::Eof { id } | Event::Error { id, .. } => {
                    clients.remove(&id);
                    let _ = chans.close(id);
                }
                Event::Signal { info, .. } => {
                    log::info!("signal {}: stopping; {:?}", info.signo, chans.counters());
                    return Ok(());
                }
                _ => {}
            }
        }
    }
}

/// Sends `lines` to every client but `from`; the ones whose queue would
/// pass `max_queue` (they are not reading) are returned to be dropped.
fn relay(
    chans: &mut Channels,
    clients: &BTreeMap<ChanId, Vec<u8>>,
    from: ChanId,
    lines: &[u8],
    max_queue: usize,
) -> Vec<ChanId> {
    let mut slow = Vec::new();
    for &to in clients.keys().filter(|&&to| to != from) {
        let queued = chans.queued_bytes(to).unwrap_or(usize::MAX);
        if queued.saturating_add(lines.len()) > max_queue || chans.send(to, lines).is_err() {
            slow.push(to);
        }
    }
    slow
}
