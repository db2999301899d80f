//! `failover_time`: how long from a master host's death to the next
//! candidate's mbd answering `bjobs`, over several runs (LL_MASTER_LIST =
//! host1 host2, one machine; every daemon of host1 killed with SIGKILL at
//! once). Prints each run and the median; `--tick` is lim's tick (its
//! default, 5 s, is what a site runs).

use clap::Parser;
use cluster_tests::{wait_for, TestCluster};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(version, about = "Time mbd's failover to the next master candidate")]
struct Args {
    /// Runs (a fresh cluster each).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// lim's tick, seconds (LL_LIM_TICK).
    #[arg(long, default_value_t = 5.0)]
    tick: f64,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let tick = Duration::from_secs_f64(args.tick);
    let mut times = Vec::with_capacity(args.runs);
    for run in 1..=args.runs {
        match one_run(tick) {
            Some(t) => {
                println!("run {run}: {:.2} s", t.as_secs_f64());
                times.push(t);
            }
            None => {
                eprintln!("failover_time: run {run}: no mbd took over within the limit");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "median of {}: {:.2} s (lim tick {:.1} s)",
        times.len(),
        median.as_secs_f64(),
        args.tick
    );
    std::process::ExitCode::SUCCESS
}

/// One failover: the time from killing host1 to `bjobs` answering.
fn one_run(tick: Duration) -> Option<Duration> {
    let cluster = TestCluster::up(2, tick, None);
    cluster.down();
    cluster.add_to_ll_conf("LL_MASTER_LIST = host1 host2");
    cluster.up_again();
    let held = cluster.submit(&["-H", "true"]);
    for daemon in ["lim", "mbd", "sbd"] {
        let _ = os::process::signal(cluster.pid(daemon, "host1"), libc::SIGKILL);
    }
    let died = Instant::now();
    wait_for(tick * 10 + Duration::from_secs(30), || {
        let out = cluster.stdout("bjobs", &[&held.to_string()])?;
        out.contains("HELD").then(|| died.elapsed())
    })
}
