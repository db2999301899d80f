//! A small simulated cluster runs a generated workload to the end: every
//! job terminal (DONE), none started twice, every end acknowledged.

use bench::sim::{SimSbds, SimStats};
use bench::sim_cluster::{submit, SimCluster};
use bench::workload::{generate, Mix};
use proto::mbd::{op, AcctChunk, AcctRequest, JobsChunk, JobsRequest};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where cargo put the daemons: beside this test's `deps` directory.
fn bin_dir() -> PathBuf {
    let mut dir = std::env::current_exe().expect("test binary path");
    dir.pop();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir
}

#[test]
fn a_generated_workload_runs_to_the_end_on_simulated_hosts() {
    let bins = bin_dir();
    if !bins.join("mbd").is_file() || !bins.join("lim").is_file() {
        eprintln!("skipped: mbd and lim are not built (cargo test --workspace builds them)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("sim-cluster-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cluster = SimCluster::start(&dir, &bins, 20, 8).expect("simulated cluster");
    let mix = Mix {
        seed: 42,
        submissions: 120,
        users: vec!["ann".into(), "bob".into(), "cy".into()],
        queues: vec!["normal".into(), "short".into()],
        max_cpus: 8,
        over_secs: 0,
        max_run_secs: 20,
    };
    let specs = generate(&mix);
    let total: u64 = specs.iter().map(|s| u64::from(s.jobs())).sum();

    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(Mutex::new(SimStats::default()));
    let config = cluster.sim_config(20.0).expect("sim config");
    let sim = {
        let (stop, stats) = (stop.clone(), stats.clone());
        std::thread::spawn(move || {
            let mut sim = SimSbds::new(config)?;
            sim.run(&stop, |s| {
                if let Ok(mut shared) = stats.lock() {
                    shared.clone_from(s);
                }
            })?;
            anyhow::Ok(sim.stats)
        })
    };
    let mut first_ids = Vec::new();
    for spec in &specs {
        let id = submit(&cluster, spec, &first_ids).unwrap_or_else(|e| panic!("{spec:?}: {e}"));
        first_ids.push(id);
    }
    let deadline = Instant::now() + Duration::from_secs(180);
    let acked = || stats.lock().map(|s| s.acked).unwrap_or(0);
    while acked() < total && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    let final_stats = sim.join().expect("sim thread").expect("sim ran");
    assert_eq!(final_stats.registered, 20, "{final_stats:?}");
    assert_eq!(
        final_stats.acked, total,
        "every end acknowledged: {final_stats:?}"
    );
    assert_eq!(
        final_stats.started, total,
        "each job started once: {final_stats:?}"
    );
    assert_eq!((final_stats.run_twice, final_stats.bad_frames), (0, 0));

    let client = cluster.client().expect("client");
    let waiting = JobsRequest {
        pend: true,
        run: true,
        ..JobsRequest::default()
    };
    let left: Vec<JobsChunk> = client
        .stream(op::JOBS, &waiting, |c: &JobsChunk| c.more)
        .unwrap();
    assert_eq!(
        left.iter().map(|c| c.jobs.len()).sum::<usize>(),
        0,
        "nothing left"
    );
    let all = AcctRequest {
        ended_to: u64::MAX,
        ..AcctRequest::default()
    };
    let acct: Vec<AcctChunk> = client
        .stream(op::ACCT, &all, |c: &AcctChunk| c.more)
        .unwrap();
    let summary = &acct.last().expect("a summary").summary;
    assert_eq!((summary.done, summary.exited), (total, 0), "all DONE");
    drop(cluster);
    let _ = std::fs::remove_dir_all(&dir);
}
