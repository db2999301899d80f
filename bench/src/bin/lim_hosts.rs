//! `lim_hosts [--hosts 10000] [--secs 30] [--tick 5]`: one real lim master
//! and N-1 simulated hosts, each sending a signed load report every tick
//! from its own loopback address, spread evenly over the tick as real
//! hosts' jitter spreads them. Prints the master's CPU share over the
//! window (target: at most 5% of one core at 10,000 hosts and a 5 s tick)
//! and `lsload` timings against `lsid` (same start-up and round trip,
//! a one-line answer) as the baseline.

use anyhow::Context;
use bench::report::{quantile_ms, user_sys_ticks};
use clap::Parser;
use lavalite::{DaemonSpec, DefaultConfig};
use lim::datagram::{Datagram, DatagramCodec};
use proto::auth::Credentials;
use proto::lim::{LoadReport, LoadVector};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A lim master's CPU share and `lsload` time with N simulated hosts.
#[derive(Parser)]
#[command(version)]
struct Options {
    /// Hosts in the cluster: the master and N-1 simulated ones.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(2..))]
    hosts: u32,
    /// Seconds to measure.
    #[arg(long, default_value_t = 30.0)]
    secs: f64,
    /// Seconds between each host's load reports.
    #[arg(long, default_value_t = 5.0)]
    tick: f64,
}

fn main() -> anyhow::Result<()> {
    let o = Options::parse();
    chan::sys::raise_nofile_limit()?;
    let bins = std::env::current_exe()?
        .parent()
        .context("no binary directory")?
        .to_owned();
    let dir = std::env::temp_dir().join(format!("lim-hosts-{}", std::process::id()));
    let config = DefaultConfig {
        hosts: o.hosts as usize,
        base_addr: Ipv4Addr::new(127, 1, 0, 0),
        port: free_port()?,
        tick: o.tick,
        ..DefaultConfig::default()
    };
    config.validate().map_err(anyhow::Error::msg)?;
    config.write_if_absent(&dir)?;
    let master = DaemonSpec {
        daemon: "lim",
        host: "host1".into(),
    };
    std::fs::create_dir_all(dir.join("log"))?;
    let mut child = master.start(&dir, &bins, &dir.join("log").join("lim.out"))?;
    let result = measure(&o, &config, &dir, &bins, child.id());
    let _ = child.kill();
    let _ = child.wait();
    if result.is_ok() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

fn measure(
    o: &Options,
    config: &DefaultConfig,
    dir: &Path,
    bins: &Path,
    pid: u32,
) -> anyhow::Result<()> {
    let client = lim::LimClient::from_conf(&conf::ConfDir::new(dir))?;
    let deadline = Instant::now() + Duration::from_secs_f64(o.tick * 6.0 + 10.0);
    while !client.cluster_info().is_ok_and(|i| !i.master.is_empty()) {
        anyhow::ensure!(
            Instant::now() < deadline,
            "lim elected no master; logs in {}",
            dir.join("log").display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut hosts = SimulatedHosts::new(config, dir, o.hosts as usize)?;
    let tick = Duration::from_secs_f64(o.tick);
    // One whole tick first, so every host is known before counting.
    hosts.run(tick, Instant::now() + tick)?;
    let cpu_before = process_cpu_s(pid);
    let start = Instant::now();
    let sent = hosts.run(tick, start + Duration::from_secs_f64(o.secs))?;
    let cpu = process_cpu_s(pid) - cpu_before;
    let window = start.elapsed().as_secs_f64();
    let (lsload, lsid) = timings(bins, dir, ["lsload", "lsid"], 30)?;
    let ok = listed_ok(bins, dir)?;
    println!(
        "{} hosts, tick {} s: {} reports in {:.1} s ({:.0}/s); lim master CPU {:.3} s = {:.2}% of one core",
        o.hosts,
        o.tick,
        sent,
        window,
        sent as f64 / window,
        cpu,
        cpu / window * 100.0
    );
    println!(
        "lsload ({ok} hosts ok): p50 {:.1} ms, p99 {:.1} ms; lsid (baseline): p50 {:.1} ms ({:.1}x)",
        quantile_ms(&lsload, 0.5),
        quantile_ms(&lsload, 0.99),
        quantile_ms(&lsid, 0.5),
        quantile_ms(&lsload, 0.5) / quantile_ms(&lsid, 0.5).max(1e-9)
    );
    Ok(())
}

/// Every host but the master: a socket on its address and its report.
struct SimulatedHosts {
    sockets: Vec<UdpSocket>,
    reports: Vec<Datagram>,
    codec: DatagramCodec,
    master: SocketAddr,
}

impl SimulatedHosts {
    fn new(config: &DefaultConfig, dir: &Path, n: usize) -> anyhow::Result<SimulatedHosts> {
        let key = conf::ConfDir::new(dir).auth_key()?;
        let (uid, gid) = os::users::ids();
        let who = Credentials {
            uid,
            gid,
            user: "lim@simulated".into(),
            timestamp: 0,
            nonce: os::random::u64().expect("random bits"),
            challenge: 0,
        };
        let static_info = lim::probe::HostProbe::static_info()?;
        let mut sockets = Vec::with_capacity(n - 1);
        let mut reports = Vec::with_capacity(n - 1);
        for i in 2..=n {
            let socket = UdpSocket::bind((config.host_addr(i), 0))
                .with_context(|| format!("bind {}", config.host_addr(i)))?;
            sockets.push(socket);
            reports.push(Datagram::Report(LoadReport {
                host: format!("host{i}"),
                static_info: static_info.clone(),
                load: LoadVector([0.5; proto::lim::NUM_INDICES]),
            }));
        }
        Ok(SimulatedHosts {
            sockets,
            reports,
            codec: DatagramCodec::new(key, who),
            master: SocketAddr::new(config.host_addr(1).into(), config.port),
        })
    }

    /// Sends every host's report once per `tick`, host k at k/N of the way
    /// through it, until `end`. Returns how many were sent.
    fn run(&mut self, tick: Duration, end: Instant) -> anyhow::Result<u64> {
        let n = self.sockets.len();
        let start = Instant::now();
        let mut sent = 0u64;
        while Instant::now() < end {
            // The report due next: sent counts through the ticks.
            let k = (sent % n as u64) as usize;
            let due = start + tick.mul_f64(sent as f64 / n as f64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait.min(end.saturating_duration_since(Instant::now())));
                continue;
            }
            let bytes = self.codec.encode(&self.reports[k], unix_now());
            self.sockets[k].send_to(&bytes, self.master)?;
            sent += 1;
        }
        Ok(sent)
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// User plus system CPU of a process, in seconds (clock ticks of 10 ms).
fn process_cpu_s(pid: u32) -> f64 {
    let (user, sys) = user_sys_ticks(&format!("/proc/{pid}/stat"));
    (user + sys) as f64 / 100.0
}

/// Times `runs` runs of each of two commands, alternating, so that the
/// machine's slow and fast moments fall on both alike.
fn timings(
    bins: &Path,
    dir: &Path,
    commands: [&str; 2],
    runs: usize,
) -> anyhow::Result<(Vec<Duration>, Vec<Duration>)> {
    let mut times = [Vec::with_capacity(runs), Vec::with_capacity(runs)];
    for _ in 0..runs {
        for (command, times) in commands.iter().zip(&mut times) {
            let start = Instant::now();
            let out = run(bins, dir, command)?;
            times.push(start.elapsed());
            anyhow::ensure!(
                out.status.success(),
                "{command} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let [mut first, mut second] = times;
    first.sort();
    second.sort();
    Ok((first, second))
}

fn listed_ok(bins: &Path, dir: &Path) -> anyhow::Result<usize> {
    let out = run(bins, dir, "lsload")?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some("ok"))
        .count())
}

fn run(bins: &Path, dir: &Path, command: &str) -> anyhow::Result<std::process::Output> {
    Command::new(bins.join(command))
        .env(conf::CONF_DIR_ENV, dir)
        .output()
        .with_context(|| format!("run {command}"))
}

/// A port free on 127.1.0.1 (the master's address) for lim's UDP and TCP.
fn free_port() -> anyhow::Result<u16> {
    let probe = std::net::TcpListener::bind((Ipv4Addr::new(127, 1, 0, 1), 0))?;
    Ok(probe.local_addr()?.port())
}
