//! The same small daemon loop written twice: the legacy way, as a
//! `chanSelect_`/`FD_ISSET` call site ports line for line onto the `Masks`
//! shim, and the native way on `chan_epoll`/`next_event`.
//!
//! The daemon answers every request frame with a reply carrying the same
//! sequence and operation, status 0 and the body reversed; a timer logs a
//! heartbeat. `legacy_select [legacy|native] [IP:PORT]` runs one of them;
//! both print `listening on IP:PORT` and serve until SIGTERM/SIGINT.

use chan::{ChanError, ChanId, Channels, Config, Event, Masks, Select};
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

const HEARTBEAT: Duration = Duration::from_secs(5);

/// The daemon's logic, shared by both loops: request in, reply out.
fn reply_to(chans: &mut Channels, id: ChanId, frame: &chan::Frame) -> Result<(), ChanError> {
    let mut body = frame.body().to_vec();
    body.reverse();
    let header = frame.header().reply(0, body.len() as u32);
    chans.send_frame(id, &header, &body)
}

/// Before: the C shape. Build the watch masks, select, then test each
/// channel's bits and dequeue — exactly the call sequence of the C code.
fn legacy_loop(
    chans: &mut Channels,
    listener: ChanId,
    timer: ChanId,
    stop: ChanId,
) -> Result<(), ChanError> {
    let mut select = Select::new();
    let mut clients: Vec<ChanId> = Vec::new();
    let mut sockmask = Masks::default();
    let mut chanmask = Masks::default();
    loop {
        // FD_ZERO + FD_SET for every channel we listen to.
        sockmask.zero();
        for &ch in [listener, timer, stop].iter().chain(&clients) {
            sockmask.rmask.set(ch);
        }
        // chanSelect_(&sockmask, &chanmask, NULL)
        select.chan_select(chans, &sockmask, &mut chanmask, None)?;

        if chanmask.rmask.is_set(stop) {
            return Ok(());
        }
        if chanmask.rmask.is_set(timer) {
            select.take_event(timer);
            log::info!("heartbeat: {} clients", clients.len());
        }
        if chanmask.rmask.is_set(listener) {
            while let Some(ch) = select.accept(listener) {
                clients.push(ch);
            }
        }
        for ch in clients.clone() {
            if chanmask.emask.is_set(ch) {
                select.forget(ch);
                chans.close(ch)?;
                clients.retain(|&c| c != ch);
                continue;
            }
            if chanmask.rmask.is_set(ch) {
                while let Some(frame) = select.dequeue(ch) {
                    reply_to(chans, ch, &frame)?;
                }
            }
        }
    }
}

/// After: the native shape. Wait, then one match arm per kind of event.
fn native_loop(chans: &mut Channels, stop: ChanId) -> Result<(), ChanError> {
    loop {
        chans.chan_epoll(None)?;
        while let Some(event) = chans.next_event() {
            match event {
                Event::Frame { id, frame } => reply_to(chans, id, &frame)?,
                Event::Eof { id } | Event::Error { id, .. } => chans.close(id)?,
                Event::Timer { .. } => log::info!("heartbeat: {} channels", chans.len()),
                Event::Signal { id, .. } if id == stop => return Ok(()),
                _ => {}
            }
        }
    }
}

fn main() -> anyhow::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let mut args = std::env::args().skip(1);
    let style = args.next().unwrap_or_else(|| "native".into());
    let addr: SocketAddr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:0".into())
        .parse()?;
    let mut chans = Channels::new(Config::default())?;
    let listener = chans.tcp_listen(addr)?;
    let timer = chans.timer(HEARTBEAT, HEARTBEAT)?;
    let stop = chans.signals(&[libc::SIGTERM, libc::SIGINT])?;
    println!("listening on {}", chans.local_addr(listener)?);
    std::io::stdout().flush()?;
    match style.as_str() {
        "legacy" => legacy_loop(&mut chans, listener, timer, stop)?,
        "native" => native_loop(&mut chans, stop)?,
        other => anyhow::bail!("unknown style {other:?}: use legacy or native"),
    }
    log::info!("stopped");
    Ok(())
}
