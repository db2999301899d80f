//! `echo ADDR`: listens on ADDR and sends every frame back unchanged.
//!
//! A connection whose frame is invalid (length over the limit) is closed;
//! the others keep being served. After a peer's EOF its replies are
//! flushed, then the connection is closed. SIGTERM or SIGINT stops it.
//!
//! It prints `listening on IP:PORT` once ready, so `echo 127.0.0.1:0`
//! can be used with a port the kernel picks.

use anyhow::Context;
use chan::{ChanError, ChanId, Channels, Config, Event};
use std::io::Write;
use std::net::SocketAddr;

/// Large enough for 1 MiB frames with room to spare.
const MAX_FRAME_BODY: u32 = 16 << 20;

fn main() -> anyhow::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let addr: SocketAddr = match std::env::args().nth(1).map(|a| a.parse()) {
        Some(Ok(addr)) => addr,
        Some(Err(e)) => anyhow::bail!("bad address: {e} (usage: echo IP:PORT)"),
        None => anyhow::bail!("usage: echo IP:PORT"),
    };
    let mut chans = Channels::new(Config {
        max_frame_body: MAX_FRAME_BODY,
        ..Config::default()
    })?;
    let listener = chans
        .tcp_listen(addr)
        .with_context(|| format!("listen on {addr}"))?;
    chans.signals(&[libc::SIGTERM, libc::SIGINT])?;
    println!("listening on {}", chans.local_addr(listener)?);
    std::io::stdout().flush()?;
    serve(&mut chans)?;
    log::info!("stopping: {:?}", chans.counters());
    Ok(())
}

/// The event loop: returns when a stop signal arrives.
fn serve(chans: &mut Channels) -> Result<(), ChanError> {
    loop {
        chans.chan_epoll(None)?;
        while let Some(event) = chans.next_event() {
            match event {
                Event::Frame { id, frame } => {
                    if let Err(e) = chans.send(id, frame.as_bytes()) {
                        drop_peer(chans, id, &e);
                    }
                }
                Event::Eof { id } => chans.close_when_flushed(id)?,
                Event::Error { id, error } => drop_peer(chans, id, &error),
                Event::Signal { info, .. } => {
                    log::info!("signal {} received", info.signo);
                    return Ok(());
                }
                _ => {}
            }
        }
    }
}

fn drop_peer(chans: &mut Channels, id: ChanId, why: &ChanError) {
    let peer = chans
        .peer_addr(id)
        .map_or_else(|_| "?".to_string(), |a| a.to_string());
    log::info!("closing {id} ({peer}): {why}");
    // Already closed is fine: there is nothing left to do for it.
    let _ = chans.close(id);
}
