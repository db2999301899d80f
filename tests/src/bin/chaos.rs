//! `chaos`: kill -9 mbd and sbds during a submission storm, cycle after
//! cycle, then check that no acknowledged job was lost and none ran twice
//! (the harness is `cluster_tests::chaos`). Exits 1 if an invariant broke,
//! leaving the cluster's directory for a look at the logs.

use clap::Parser;
use cluster_tests::chaos::{self, Faults, Plan};
use cluster_tests::TestCluster;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Parser)]
#[command(
    version,
    about = "Kill -9 mbd and sbds during a submission storm; check no job is lost or run twice"
)]
struct Args {
    /// Simulated hosts (one sbd each; mbd on host1).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=50))]
    hosts: u16,
    /// Threads submitting jobs with bsub, without pause.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    clients: u16,
    /// Kill-and-restart cycles.
    #[arg(long, default_value_t = 20)]
    cycles: usize,
    /// Submissions acknowledged between two kills.
    #[arg(long, default_value_t = 20)]
    acks_per_cycle: usize,
    /// What each cycle kills, in turn: comma-separated cycles, each
    /// `mbd` (the serving one), `sbd` (a random host's), `lim` (the
    /// master), `master` (the master host's lim and mbd), or several
    /// joined with `+`.
    #[arg(long, default_value = "mbd,sbd,mbd+sbd")]
    faults: Faults,
    /// Seed for the victims and the delays before kills (default: the clock).
    #[arg(long)]
    seed: Option<u64>,
    /// Seconds the jobs may take to end after the last restart.
    #[arg(long, default_value_t = 120)]
    settle: u64,
    /// Seconds each job sleeps before it records its run.
    #[arg(long, default_value_t = 0.0)]
    job_secs: f64,
    /// Also stop and resume recent jobs with bkill without pause.
    #[arg(long)]
    suspender: bool,
    /// Keep the cluster's directory even if every check passed.
    #[arg(long)]
    keep: bool,
    /// The cluster's tick in seconds (lim and mbd).
    #[arg(long, default_value_t = 0.4)]
    tick: f64,
    /// Master candidates: LL_MASTER_LIST = host1..hostN (0: mbd on
    /// host1 alone); `master` faults then fail over.
    #[arg(long, default_value_t = 0)]
    masters: usize,
}

fn main() {
    let args = Args::parse();
    let seed = args.seed.unwrap_or_else(|| {
        let now = SystemTime::now().duration_since(UNIX_EPOCH);
        now.map_or(1, |d| d.as_nanos() as u64)
    });
    let plan = Plan {
        clients: args.clients.into(),
        cycles: args.cycles,
        acks_per_cycle: args.acks_per_cycle,
        faults: args.faults,
        job_secs: args.job_secs,
        suspender: args.suspender,
        seed,
        settle: Duration::from_secs(args.settle),
        masters: args.masters.min(usize::from(args.hosts)),
    };
    let Ok(tick) = Duration::try_from_secs_f64(args.tick) else {
        eprintln!("chaos: --tick {}: not a duration in seconds", args.tick);
        std::process::exit(2);
    };
    let hosts = usize::from(args.hosts);
    let cluster = Arc::new(TestCluster::up(hosts, tick, None));
    chaos::with_masters(&cluster, plan.masters);
    eprintln!(
        "chaos: {hosts} hosts in {}, {} clients, {} cycles, seed {seed}",
        cluster.dir.display(),
        plan.clients,
        plan.cycles
    );
    let outcome = chaos::run(&cluster, hosts, &plan);
    println!("chaos: {outcome}");
    for (id, runs) in &outcome.exited {
        println!("EXIT: job {id}, ran {runs} times");
    }
    for v in &outcome.violations {
        println!("violation: {v}");
    }
    let failed = !outcome.violations.is_empty();
    if failed || args.keep {
        cluster.keep_files();
        println!("kept: {} (seed {seed})", cluster.dir.display());
    }
    drop(cluster);
    if failed {
        std::process::exit(1);
    }
}
