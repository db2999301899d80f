//! `sched_pass [--users U] [--jobs J] [--hosts H]`: what one full
//! scheduling pass costs with fair share, against the same pass without
//! it, in the same run. J pending 1-CPU jobs from U users (submitted user
//! after user, so first come, first served would serve them in blocks)
//! wait in one queue of H 32-CPU hosts; the queue has `USER_SHARES[[default,
//! 1]]` (every user an account) in one run and no FAIRSHARE in the other.
//! Prints the median (and the slowest) of `--rounds` passes of each and
//! the medians' ratio. `--steady --urgent N` adds a queue that preempts
//! and N jobs waiting in it: what a pass costs when it must preempt.

use clap::Parser;
use mbd::sched::{plan, Replan};
use mbd::state::{Caller, State};
use mbd::Cluster;
use proto::mbd::SubmitRequest;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(version, about = "Time a scheduling pass with and without fair share")]
struct Args {
    #[arg(long, default_value_t = 1_000)]
    users: u32,
    #[arg(long, default_value_t = 100_000)]
    jobs: u32,
    #[arg(long, default_value_t = 100)]
    hosts: u32,
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Time the passes of a full cluster instead (what a pass costs once
    /// every CPU is taken and the backlog waits: the steady state).
    #[arg(long)]
    steady: bool,
    /// With --steady: a queue `urgent` that preempts `normal`, and this
    /// many 1-CPU jobs waiting in it (each pass must suspend others).
    #[arg(long, default_value_t = 0)]
    urgent: u32,
}

fn cluster(hosts: u32, fairshare: bool, urgent: bool) -> anyhow::Result<Cluster> {
    let mut text = String::from("Begin Host\nHOST_NAME CPU MEM STORAGE GPU_MODEL GPU_IDS\n");
    for h in 0..hosts {
        text.push_str(&format!("h{h} 32 256G 1T - -\n"));
    }
    text.push_str("End Host\n");
    let batch = conf::BatchHosts::parse(&text)?;
    let names: Vec<String> = (0..hosts).map(|h| format!("h{h}")).collect();
    let share = if fairshare {
        "FAIRSHARE = USER_SHARES[[default, 1]]\n"
    } else {
        ""
    };
    let mut text = format!(
        "Begin Queue\nQUEUE_NAME = normal\nPRIORITY = 30\nHOSTS = {}\n{share}End Queue\n",
        names.join(" ")
    );
    if urgent {
        text.push_str(&format!(
            "Begin Queue\nQUEUE_NAME = urgent\nPRIORITY = 50\nHOSTS = {}\nPREEMPTION = PREEMPTIVE[normal]\nEnd Queue\n",
            names.join(" ")
        ));
    }
    let queues = conf::parse_queues(&text)?;
    let account = |_: &str| mbd::accounts::Account {
        is_user: true,
        group: None,
    };
    Cluster::new(batch, queues, "normal", account).map_err(anyhow::Error::msg)
}

fn state(args: &Args, fairshare: bool) -> anyhow::Result<State> {
    let mut state = State::new(cluster(args.hosts, fairshare, args.urgent > 0)?);
    for h in 0..args.hosts as usize {
        state.set_sbd_up(h, true);
    }
    let per_user = args.jobs / args.users.max(1);
    for u in 0..args.users {
        let who = Caller {
            uid: 1000 + u,
            gid: 1000,
            user: format!("user{u}"),
            admin: true,
        };
        for _ in 0..per_user {
            let request = SubmitRequest {
                command: "true".into(),
                cpus: 1,
                nhosts: 1,
                ..SubmitRequest::default()
            };
            let change = state
                .submit(&who, request, 1)
                .map_err(|r| anyhow::anyhow!("{r}"))?;
            state.apply(&change);
        }
    }
    if args.steady {
        let first = plan(&state, &[], 2, &Replan::All);
        for change in state.dispatch(&first.starts, 2) {
            state.apply(&change);
        }
        let root = Caller {
            uid: 0,
            gid: 0,
            user: "root".into(),
            admin: true,
        };
        for _ in 0..args.urgent {
            let request = SubmitRequest {
                queue: "urgent".into(),
                command: "true".into(),
                cpus: 1,
                nhosts: 1,
                ..SubmitRequest::default()
            };
            let change = (state.submit(&root, request, 3)).map_err(|r| anyhow::anyhow!("{r}"))?;
            state.apply(&change);
        }
    }
    Ok(state)
}

/// The median and the slowest of `rounds` full passes, and how many jobs
/// each starts.
fn time_passes(state: &State, rounds: usize) -> (Duration, Duration, usize) {
    let mut times = Vec::with_capacity(rounds);
    let mut started = 0;
    for _ in 0..rounds.max(1) {
        let t = Instant::now();
        let p = plan(state, &[], 2, &Replan::All);
        times.push(t.elapsed());
        started = p.starts.len();
    }
    times.sort();
    (times[times.len() / 2], times[times.len() - 1], started)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let plain = state(&args, false)?;
    let shared = state(&args, true)?;
    let (base, base_max, started_base) = time_passes(&plain, args.rounds);
    let (fair, fair_max, started_fair) = time_passes(&shared, args.rounds);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{} jobs of {} users on {} hosts ({} slots): pass without fair share {:.1} ms (slowest {:.1}, {started_base} started), with fair share {:.1} ms (slowest {:.1}, {started_fair} started): {:.2}x",
        args.jobs,
        args.users,
        args.hosts,
        args.hosts * 32,
        ms(base),
        ms(base_max),
        ms(fair),
        ms(fair_max),
        fair.as_secs_f64() / base.as_secs_f64()
    );
    Ok(())
}
