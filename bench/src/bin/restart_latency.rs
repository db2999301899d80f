//! `restart_latency [--runs N] --probe "CMD ARGS" -- DAEMON [ARGS...]`:
//! restart to serving, as a user sees it. Each run starts DAEMON (a
//! stopped mbd over its existing state), runs the probe command until it
//! first succeeds, and takes the time from the spawn to that success, then
//! kills the daemon with SIGKILL (the crash the next start recovers from).
//! The probe's own cost is inside the figure, so it is an upper bound; the
//! probe run alone against the serving daemon is reported as the baseline.

use anyhow::{bail, Context};
use bench::report::quantile_ms;
use clap::Parser;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A daemon that has not answered after this long counts as failed.
const GIVE_UP: Duration = Duration::from_secs(30);

/// Restart to serving: spawn DAEMON, time until the probe first succeeds.
#[derive(Parser)]
#[command(version)]
struct Options {
    /// Restarts to time.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
    /// The probe command, split on whitespace (e.g. "bqueues").
    #[arg(long, value_parser = words)]
    probe: Words,
    /// The daemon and its arguments, after `--`.
    #[arg(last = true, required = true)]
    daemon: Vec<String>,
}

type Words = Vec<String>;

fn words(s: &str) -> Result<Words, String> {
    let words: Words = s.split_whitespace().map(String::from).collect();
    if words.is_empty() {
        return Err("empty command".into());
    }
    Ok(words)
}

fn main() -> anyhow::Result<()> {
    let o = Options::parse();
    if probe_ok(&o.probe)? {
        bail!("the probe already succeeds: stop the running daemon first");
    }
    let mut serving = Vec::with_capacity(o.runs as usize);
    let mut probe_alone = Vec::with_capacity(o.runs as usize);
    for _ in 0..o.runs {
        let mut daemon = spawn(&o.daemon)?;
        let result = time_to_serving(&o.probe, &mut daemon);
        if result.is_ok() {
            let started = Instant::now();
            if probe_ok(&o.probe)? {
                probe_alone.push(started.elapsed());
            }
        }
        daemon.kill().context("cannot kill the daemon")?;
        daemon.wait().context("cannot reap the daemon")?;
        serving.push(result?);
    }
    serving.sort_unstable();
    probe_alone.sort_unstable();
    let report = serde_json::json!({
        "daemon": o.daemon.join(" "),
        "probe": o.probe.join(" "),
        "runs": o.runs,
        "spawn_to_first_answer_ms": serving.iter().map(|d| d.as_secs_f64() * 1e3).collect::<Vec<_>>(),
        "p50_ms": quantile_ms(&serving, 0.5),
        "max_ms": quantile_ms(&serving, 1.0),
        "baseline_probe_alone_p50_ms": quantile_ms(&probe_alone, 0.5),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

fn spawn(argv: &[String]) -> anyhow::Result<Child> {
    let (program, args) = argv.split_first().context("no daemon given")?;
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {program}"))
}

/// Probes until one succeeds; fails if the daemon exits or never answers.
fn time_to_serving(probe: &[String], daemon: &mut Child) -> anyhow::Result<Duration> {
    let started = Instant::now();
    loop {
        if probe_ok(probe)? {
            return Ok(started.elapsed());
        }
        if let Some(status) = daemon.try_wait()? {
            bail!("the daemon exited before serving: {status}");
        }
        if started.elapsed() > GIVE_UP {
            bail!("no answer after {GIVE_UP:?}");
        }
    }
}

fn probe_ok(probe: &[String]) -> anyhow::Result<bool> {
    let (program, args) = probe.split_first().context("empty probe")?;
    let status = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .with_context(|| format!("cannot run {program}"))?;
    Ok(status.success())
}
