//! `command_latency [--runs N] -- CMD [ARGS...]`: the wall time of a whole
//! command (process start, configuration, connect, request, reply, exit),
//! as a user running `bsub` or `bjobs -a` sees it. Each run of CMD is
//! paired with a run of `/bin/true`, the baseline in the same run: the
//! cost of starting any process on this machine. Prints JSON with both
//! sets of percentiles. CMD's output is discarded; a failing run is an
//! error, so a broken cluster cannot pass for a fast one.

use anyhow::{bail, Context};
use bench::report::quantile_ms;
use clap::Parser;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Wall time of a whole command against `/bin/true`'s, run for run.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Runs of the command (each paired with a run of `/bin/true`).
    #[arg(long, default_value_t = 100)]
    runs: usize,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    let Args { runs, command } = Args::parse();
    let (program, program_args) = command.split_first().context("no command given")?;
    let mut measured = Vec::with_capacity(runs);
    let mut baseline = Vec::with_capacity(runs);
    for _ in 0..runs {
        baseline.push(time_run("/bin/true", &[])?);
        measured.push(time_run(program, program_args)?);
    }
    let (p50, p99) = percentiles(&mut measured);
    let (base_p50, base_p99) = percentiles(&mut baseline);
    let report = serde_json::json!({
        "command": command.join(" "),
        "runs": runs,
        "p50_ms": p50,
        "p99_ms": p99,
        "baseline_true_p50_ms": base_p50,
        "baseline_true_p99_ms": base_p99,
        "ratio_p50_vs_true": p50 / base_p50.max(f64::MIN_POSITIVE),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

fn time_run(program: &str, args: &[String]) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let status = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .status()
        .with_context(|| format!("cannot run {program}"))?;
    let took = started.elapsed();
    if !status.success() {
        bail!("{program} {}: {status}", args.join(" "));
    }
    Ok(took)
}

/// p50 and p99 in milliseconds.
fn percentiles(samples: &mut [Duration]) -> (f64, f64) {
    samples.sort_unstable();
    (quantile_ms(samples, 0.5), quantile_ms(samples, 0.99))
}
