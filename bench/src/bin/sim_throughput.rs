//! `sim_throughput [--hosts 1000] [--slots 64] [--secs 60]`: sustained
//! jobs per second end to end — submit, dispatch, simulated run, durable
//! end — through one real mbd with N simulated execution hosts (`sim`).
//!
//! The workload is `workload::generate`'s mix (several users and queues,
//! 1-64 CPUs, arrays, dependencies, run times of 1 s to `--max-run`
//! compressed by `--time-factor`), submitted by `--clients` threads that
//! keep at most `--backlog` jobs unfinished. After a warm-up, the jobs
//! whose end mbd acknowledged (made durable) in the window are counted.
//! Prints JSON: the rate, mbd's CPU share and RSS.

use bench::report::user_sys_ticks;
use bench::sim::{SimSbds, SimStats};
use bench::sim_cluster::{submit, SimCluster};
use bench::workload::{generate, Mix};
use clap::Parser;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(version)]
struct Args {
    #[arg(long, default_value_t = 1000)]
    hosts: usize,
    /// CPU slots per host.
    #[arg(long, default_value_t = 64)]
    slots: u32,
    /// Seconds measured (after the warm-up).
    #[arg(long, default_value_t = 60.0)]
    secs: f64,
    #[arg(long, default_value_t = 10.0)]
    warmup: f64,
    /// Simulated seconds per real second.
    #[arg(long, default_value_t = 100.0)]
    time_factor: f64,
    /// Longest run time before compression, seconds.
    #[arg(long, default_value_t = 600)]
    max_run: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Submitting threads.
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Most jobs submitted and not yet ended (default: a fifth of the
    /// cluster's slots).
    #[arg(long)]
    backlog: Option<u64>,
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let bins = std::env::current_exe()?
        .parent()
        .ok_or_else(|| anyhow::anyhow!("no binary directory"))?
        .to_owned();
    let dir = std::env::temp_dir().join(format!("sim-throughput-{}", std::process::id()));
    let cluster = Arc::new(SimCluster::start(&dir, &bins, a.hosts, a.slots)?);
    let mbd_pid = std::fs::read_to_string(dir.join("run").join("mbd.host1.pid"))
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok());
    let result = measure(&a, &cluster, mbd_pid);
    drop(cluster);
    if result.is_ok() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

fn measure(a: &Args, cluster: &Arc<SimCluster>, mbd_pid: Option<u32>) -> anyhow::Result<()> {
    let mix = Mix {
        seed: a.seed,
        submissions: 100_000,
        users: (1..=8).map(|i| format!("user{i}")).collect(),
        queues: vec!["normal".into(), "short".into()],
        max_cpus: a.slots,
        over_secs: 0,
        max_run_secs: a.max_run,
    };
    let specs = Arc::new(generate(&mix));
    let backlog = a.backlog.unwrap_or(a.hosts as u64 * u64::from(a.slots) / 5);
    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(Mutex::new(SimStats::default()));
    let sim = {
        let (stop, stats) = (stop.clone(), stats.clone());
        let config = cluster.sim_config(a.time_factor)?;
        std::thread::spawn(move || -> anyhow::Result<()> {
            let mut sim = SimSbds::new(config)?;
            sim.run(&stop, |s| {
                if let Ok(mut shared) = stats.lock() {
                    shared.clone_from(s);
                }
            })
        })
    };
    let acked = || stats.lock().map(|s| s.acked).unwrap_or(0);
    let registered = || stats.lock().map(|s| s.registered).unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(60);
    while registered() < a.hosts {
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {} hosts registered",
            registered()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let submitted = Arc::new(AtomicU64::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let first_ids = Arc::new(Mutex::new(vec![0u32; specs.len()]));
    let refused = Arc::new(AtomicU64::new(0));
    let feeders: Vec<_> = (0..a.clients)
        .map(|_| {
            let (cluster, specs, stop, stats) =
                (cluster.clone(), specs.clone(), stop.clone(), stats.clone());
            let (submitted, next, first_ids, refused) = (
                submitted.clone(),
                next.clone(),
                first_ids.clone(),
                refused.clone(),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let done = stats.lock().map(|s| s.acked).unwrap_or(0);
                    if submitted.load(Ordering::Relaxed).saturating_sub(done) > backlog {
                        std::thread::sleep(Duration::from_millis(2));
                        continue;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed) % specs.len();
                    let mut spec = specs[i].clone();
                    // A dependency is kept only on a job of this lap.
                    let ids = first_ids.lock().map(|f| f.clone()).unwrap_or_default();
                    if spec.after.is_some_and(|d| ids[d] == 0 || d >= i) {
                        spec.after = None;
                    }
                    match submit(&cluster, &spec, &ids) {
                        Ok(id) => {
                            if let Ok(mut f) = first_ids.lock() {
                                f[i] = id;
                            }
                            submitted.fetch_add(u64::from(spec.jobs()), Ordering::Relaxed);
                        }
                        Err(_) => {
                            refused.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(a.warmup));
    let cpu = |pid: Option<u32>| {
        pid.map_or(0, |p| {
            let (u, s) = user_sys_ticks(&format!("/proc/{p}/stat"));
            u + s
        })
    };
    let (acked0, cpu0, t0) = (acked(), cpu(mbd_pid), Instant::now());
    std::thread::sleep(Duration::from_secs_f64(a.secs));
    let (acked1, cpu1, window) = (acked(), cpu(mbd_pid), t0.elapsed().as_secs_f64());
    stop.store(true, Ordering::Relaxed);
    for f in feeders {
        let _ = f.join();
    }
    let sim_result = sim.join();
    let final_stats = stats.lock().map(|s| s.clone()).unwrap_or_default();
    let ticks_per_sec = 100.0; // USER_HZ
    let rss_kb = mbd_pid.and_then(|p| bench::report::status_kb(&p.to_string(), "VmRSS"));
    let report = serde_json::json!({
        "hosts": a.hosts,
        "slots_per_host": a.slots,
        "time_factor": a.time_factor,
        "window_secs": window,
        "jobs_per_sec": (acked1 - acked0) as f64 / window,
        "mbd_cpu_share": (cpu1 - cpu0) as f64 / ticks_per_sec / window,
        "mbd_rss_kb": rss_kb,
        "jobs_submitted": submitted.load(Ordering::Relaxed),
        "submissions_refused": refused.load(Ordering::Relaxed),
        "sim": {
            "started": final_stats.started,
            "acked": final_stats.acked,
            "run_twice": final_stats.run_twice,
            "bad_frames": final_stats.bad_frames,
        },
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    match sim_result {
        Ok(r) => r,
        Err(_) => anyhow::bail!("the simulator thread panicked"),
    }
}
