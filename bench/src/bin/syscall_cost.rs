//! `syscall_cost [--calls N]`: what the one syscall that separates chan
//! from mio costs on this machine. mio is edge-triggered, so its server
//! reads until `recv` says `WouldBlock`; chan does not make that call.
//! Times N such empty `recv`s on a connected loopback socket, against N
//! `getppid`s (the cheapest syscall: the price of entering the kernel).
//! Pin it to a core (`taskset -c 0`) for a steady figure.

use clap::Parser;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

/// What an empty `recv` costs on this machine, against `getppid`.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Calls of each kind to time.
    #[arg(long, default_value_t = 2_000_000, value_parser = clap::value_parser!(u32).range(1..))]
    calls: u32,
}

fn main() -> anyhow::Result<()> {
    let calls = Args::parse().calls;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let _client = TcpStream::connect(listener.local_addr()?)?;
    let (mut server, _) = listener.accept()?;
    server.set_nonblocking(true)?;
    let mut buf = [0u8; 4096];

    let started = Instant::now();
    for _ in 0..calls {
        if !matches!(server.read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock) {
            anyhow::bail!("the socket was expected to be empty");
        }
    }
    let recv_ns = started.elapsed().as_nanos() as f64 / f64::from(calls);

    let started = Instant::now();
    let mut sum = 0u64;
    for _ in 0..calls {
        sum = sum.wrapping_add(u64::from(std::os::unix::process::parent_id()));
    }
    let getppid_ns = started.elapsed().as_nanos() as f64 / f64::from(calls);
    std::hint::black_box(sum);

    let report = serde_json::json!({
        "calls": calls,
        "recv_would_block_ns": recv_ns,
        "getppid_ns": getppid_ns,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
