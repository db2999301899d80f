//! `bsub_storm [--clients N] [--secs S]`: submission acknowledgements per
//! second against the mbd of `$LL_CONF_DIR`, each client a thread sending
//! one signed SUBMIT at a time (a new connection each, like bsub) and
//! waiting for the durable acknowledgement. Runs one client first, as the
//! baseline measured in the same run, then N; prints JSON with both rates,
//! their ratio, round-trip percentiles and mbd's fdatasync count.

use bench::report::quantile_ms;
use clap::Parser;
use mbd::client::BatchClient;
use proto::mbd::{op, SubmitReply, SubmitRequest};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Durable submission acknowledgements per second against `$LL_CONF_DIR`'s mbd.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Concurrent clients (threads) in the second run; the first has one.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..))]
    clients: u16,
    /// Seconds each run lasts.
    #[arg(long, default_value_t = 5)]
    secs: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let (clients, secs) = (usize::from(args.clients), Duration::from_secs(args.secs));
    let serial = storm(1, secs)?;
    let parallel = storm(clients, secs)?;
    let report = serde_json::json!({
        "clients": clients,
        "seconds": secs.as_secs(),
        "acks_per_sec_1_client": serial.rate,
        "acks_per_sec": parallel.rate,
        "ratio_vs_1_client": parallel.rate / serial.rate.max(f64::MIN_POSITIVE),
        "p50_ms_1_client": serial.p50_ms,
        "p50_ms": parallel.p50_ms,
        "p99_ms": parallel.p99_ms,
        "errors": serial.errors + parallel.errors,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

struct Storm {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: usize,
}

fn storm(clients: usize, secs: Duration) -> anyhow::Result<Storm> {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || -> anyhow::Result<(Vec<Duration>, usize)> {
                let client = BatchClient::from_env()?;
                let request = SubmitRequest {
                    command: "true".into(),
                    cpus: 1,
                    nhosts: 1,
                    hold: true,
                    ..SubmitRequest::default()
                };
                let (mut times, mut errors) = (Vec::new(), 0);
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    match client.call::<_, SubmitReply>(op::SUBMIT, &request) {
                        Ok(_) => times.push(t.elapsed()),
                        Err(_) => errors += 1,
                    }
                }
                Ok((times, errors))
            })
        })
        .collect();
    std::thread::sleep(secs);
    stop.store(true, Ordering::Relaxed);
    let mut times = Vec::new();
    let mut errors = 0;
    for t in threads {
        let (mut t, e) = t.join().map_err(|_| anyhow::anyhow!("client panicked"))??;
        times.append(&mut t);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    times.sort();
    Ok(Storm {
        rate: times.len() as f64 / elapsed,
        p50_ms: quantile_ms(&times, 0.5),
        p99_ms: quantile_ms(&times, 0.99),
        errors,
    })
}
