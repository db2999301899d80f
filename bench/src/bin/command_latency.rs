//! `command_latency [--runs N] -- CMD [ARGS...]`: the wall time of a whole
//! command (process start, configuration, connect, request, reply, exit),
//! as a user running `bsub` or `bjobs -a` sees it. Each run of CMD is
//! paired with a run of `/bin/true`, the baseline in the same run: the
//! cost of starting any process on this machine. Prints JSON with both
//! sets of percentiles. CMD's output is discarded; a failing run is an
//! error, so a broken cluster cannot pass for a fast one.

use anyhow::{bail, Context};
use bench::report::quantile_ms;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let split = args
        .iter()
        .position(|a| a == "--")
        .context("usage: command_latency [--runs N] -- CMD [ARGS...]")?;
    let (options, command) = (&args[..split], &args[split + 1..]);
    let runs: usize = match options {
        [] => 100,
        [flag, n] if flag == "--runs" => n.parse().context("--runs")?,
        _ => bail!("usage: command_latency [--runs N] -- CMD [ARGS...]"),
    };
    let Some((program, program_args)) = command.split_first() else {
        bail!("no command given");
    };
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
