//! `job_throughput [--jobs N]`: short-job throughput of the cluster of
//! `$LL_CONF_DIR` — N `true` jobs submitted held as one array, released at
//! once, timed until every one is DONE (dispatch, run, finish report,
//! durable Ended record). The baseline, measured in the same run, is the
//! floor: the same N `/bin/sh -c true` started directly, as many at a
//! time as the cluster has CPU slots. Prints JSON with both rates and
//! their ratio.

use clap::Parser;
use mbd::client::BatchClient;
use proto::mbd::{
    op, ArraySpec, HostRow, JobRef, JobState, JobsChunk, JobsRequest, SignalRequest, SubmitReply,
    SubmitRequest,
};
use std::process::Command;
use std::time::{Duration, Instant};

/// Short `true` jobs per second through `$LL_CONF_DIR`'s cluster.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Jobs to run (one held array, released at once).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
    jobs: u32,
}

fn main() -> anyhow::Result<()> {
    let jobs = Args::parse().jobs;
    let client = BatchClient::from_env()?;
    let hosts: Vec<HostRow> = client.call(op::HOSTS, &())?;
    let slots: u32 = hosts.iter().filter(|h| h.sbd).map(|h| h.ncpu).sum();
    anyhow::ensure!(slots > 0, "no host has a registered sbd");
    let floor = spawn_floor(jobs, slots as usize)?;
    let cluster = cluster_rate(&client, jobs)?;
    let report = serde_json::json!({
        "jobs": jobs,
        "cpu_slots": slots,
        "jobs_per_sec": cluster,
        "baseline_direct_spawn_per_sec": floor,
        "ratio_vs_direct_spawn": cluster / floor.max(f64::MIN_POSITIVE),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// `/bin/sh -c true`, `parallel` at a time: jobs per second.
fn spawn_floor(jobs: u32, parallel: usize) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut left = jobs as usize;
    while left > 0 {
        let batch = left.min(parallel);
        let children: Vec<_> = (0..batch)
            .map(|_| Command::new("/bin/sh").args(["-c", "true"]).spawn())
            .collect::<Result<_, _>>()?;
        for mut child in children {
            child.wait()?;
        }
        left -= batch;
    }
    Ok(f64::from(jobs) / started.elapsed().as_secs_f64())
}

fn cluster_rate(client: &BatchClient, jobs: u32) -> anyhow::Result<f64> {
    let request = SubmitRequest {
        command: "true".into(),
        cwd: "/tmp".into(),
        stdout: "/dev/null".into(),
        stderr: "/dev/null".into(),
        cpus: 1,
        nhosts: 1,
        hold: true,
        array: ArraySpec {
            start: 1,
            end: jobs,
            step: 1,
        },
        ..SubmitRequest::default()
    };
    let reply: SubmitReply = client.call(op::SUBMIT, &request)?;
    let array = JobRef {
        id: reply.job_id,
        index: 0,
    };
    let started = Instant::now();
    let release = SignalRequest {
        job: array,
        signal: libc::SIGCONT as u32,
    };
    client.call::<_, ()>(op::SIGNAL, &release)?;
    let listing = JobsRequest {
        job: array,
        ..JobsRequest::default()
    };
    loop {
        let chunks: Vec<JobsChunk> = client.stream(op::JOBS, &listing, |c: &JobsChunk| c.more)?;
        // Counted by what is left: compaction may drop finished elements.
        let rows = chunks.iter().flat_map(|c| &c.jobs);
        let (mut unfinished, mut failed) = (0, 0);
        for row in rows {
            match row.state {
                JobState::Done => {}
                JobState::Exit => failed += 1,
                _ => unfinished += 1,
            }
        }
        anyhow::ensure!(failed == 0, "{failed} jobs ended EXIT");
        if unfinished == 0 {
            return Ok(f64::from(jobs) / started.elapsed().as_secs_f64());
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "{unfinished} of {jobs} still unfinished after 10 minutes"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
