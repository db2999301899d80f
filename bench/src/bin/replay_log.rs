//! `replay_log [--jobs N] [--dir D] [--pending]`: how fast mbd rebuilds
//! its state at start. Writes an event log for N jobs that each ran once
//! (Submitted with a 40-variable environment, Dispatched, Forked, Ended:
//! 4N records; with `--pending`, N jobs still waiting: the Submitted
//! records alone), committed 64 records at a time as a busy mbd would),
//! then times what
//! mbd's start does with it: open the log (checksums, torn-tail check)
//! and replay every record into the job state. The baseline in the same
//! run is reading the same file's bytes. The cluster is `$LL_CONF_DIR`'s.

use anyhow::Context;
use clap::Parser;
use mbd::change::{AllocRecord, Change, Dispatched, Ended, Forked, Submitted};
use mbd::event_log::{EventLog, ReplayError};
use mbd::state::State;
use proto::mbd::SubmitRequest;
use proto::sbd::Usage;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// How fast mbd opens and replays an event log of N finished jobs.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Jobs in the log (4 records each).
    #[arg(long, default_value_t = 250_000)]
    jobs: u32,
    /// Directory to write the log in (default: a new one under the temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Leave the log in the directory (a history of N finished jobs for
    /// an mbd to start from: bacct and bhist at scale).
    #[arg(long)]
    keep: bool,
    /// The jobs are still pending (a backlog mbd restarts with).
    #[arg(long)]
    pending: bool,
    /// Replay the log `--dir` already holds (written by an earlier
    /// `--keep` run) instead of writing one: the memory figures are then
    /// the replay's alone.
    #[arg(long, requires = "dir")]
    existing: bool,
    /// Then compact the log as mbd would (the old one is archived beside
    /// it, then deleted) and time a replay of the compacted log.
    #[arg(long)]
    compact: bool,
}

fn main() -> anyhow::Result<()> {
    let Args {
        jobs,
        dir,
        keep,
        pending,
        existing,
        compact,
    } = Args::parse();
    let dir = dir
        .unwrap_or_else(|| std::env::temp_dir().join(format!("replay-log-{}", std::process::id())));
    let conf = conf::ConfDir::from_env().context("LL_CONF_DIR")?;
    let (cluster, _) = mbd::settings::history_sources(&conf)?;
    let host = cluster.hosts.first().context("no hosts")?.name.clone();
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("events");
    let records = if existing {
        0
    } else {
        let _ = std::fs::remove_file(&path);
        write_log(&path, jobs, &host, pending)?
    };
    let rss_before = bench::report::status_kb("self", "VmRSS").unwrap_or(0);
    let bytes = std::fs::metadata(&path)?.len();

    let started = Instant::now();
    let raw = std::fs::read(&path)?;
    let read_ms = started.elapsed().as_secs_f64() * 1e3;
    drop(raw);
    let started = Instant::now();
    // As mbd's start does it: each record applied as it is read.
    let (log, mut state, replay) = replay(&path, cluster.clone())?;
    let replay_len = replay.records;
    let replay_ms = started.elapsed().as_secs_f64() * 1e3;
    let records = records.max(replay_len);
    let rss_after = bench::report::status_kb("self", "VmRSS").unwrap_or(0);
    let peak_rss = bench::report::status_kb("self", "VmHWM").unwrap_or(0);
    // mbd's start then looks for jobs its configuration no longer fits.
    let started = Instant::now();
    let unfit = state.stranded().len() + state.runs_on_removed_hosts(0).len();
    let checks_ms = started.elapsed().as_secs_f64() * 1e3;
    anyhow::ensure!(unfit == 0, "jobs stranded by a configuration unchanged");
    anyhow::ensure!(state.jobs().count() == jobs as usize, "jobs lost in replay");
    let compacted = if compact {
        Some(compact_and_replay(log, &mut state, &path, cluster)?)
    } else {
        None
    };
    if !keep && !existing {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let mut report = serde_json::json!({
        "jobs": jobs,
        "records": records,
        "bytes": bytes,
        "baseline_read_ms": read_ms,
        "open_and_replay_ms": replay_ms,
        "config_checks_ms": checks_ms,
        "rss_kb_before_replay": rss_before,
        "rss_kb_after_replay": rss_after,
        "peak_rss_kb": peak_rss,
        "rss_bytes_per_job_after": (rss_after.saturating_sub(rss_before) * 1024) / u64::from(jobs.max(1)),
        "records_per_sec": records as f64 / (replay_ms / 1e3),
        "ratio_vs_read": replay_ms / read_ms.max(f64::MIN_POSITIVE),
    });
    if let (Some(c), Some(fields)) = (compacted, report.as_object_mut()) {
        fields.extend(c.as_object().cloned().unwrap_or_default());
    }
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// Opens and replays the log at `path` as mbd's start does: each record
/// applied as it is read.
fn replay(
    path: &Path,
    cluster: mbd::Cluster,
) -> anyhow::Result<(EventLog, State, mbd::event_log::Replayed)> {
    let mut state = State::new(cluster);
    let (log, replay) = EventLog::open_replaying(path, |_| Ok(()), |r| state.replay_record(r))
        .map_err(|e| match e {
            ReplayError::Log(e) => anyhow::anyhow!("{e}"),
            ReplayError::Record { number, error } => anyhow::anyhow!("record {number}: {error}"),
        })?;
    state.replayed();
    Ok((log, state, replay))
}

/// Compacts `log` as mbd does (keeping its default 500 finished jobs),
/// then replays the compacted log: its size and the times (`freeze_ms`
/// is what mbd's event loop pays; encoding and writing are its
/// compaction thread's).
fn compact_and_replay(
    mut log: EventLog,
    state: &mut State,
    path: &Path,
    cluster: mbd::Cluster,
) -> anyhow::Result<serde_json::Value> {
    // What the event loop pays (freezing the state), then what mbd's
    // compaction thread does: encode the snapshot and write it.
    let started = Instant::now();
    state.forget_finished(mbd::settings::DEFAULT_FINISH_THRESHOLD / 2);
    let frozen = state.frozen();
    let freeze_ms = started.elapsed().as_secs_f64() * 1e3;
    let started = Instant::now();
    let mut records = 0;
    let mut payload_bytes = 0;
    for change in frozen.snapshot() {
        records += 1;
        payload_bytes += change.payload().len();
    }
    let encode_ms = started.elapsed().as_secs_f64() * 1e3;
    let started = Instant::now();
    let archive = log.rewrite(frozen.snapshot().map(|c| (c.kind(), c.payload())))?;
    let compact_ms = started.elapsed().as_secs_f64() * 1e3;
    drop(frozen);
    drop(log);
    std::fs::remove_file(&archive)?;
    let bytes = std::fs::metadata(path)?.len();
    let started = Instant::now();
    let (_, again, _) = replay(path, cluster)?;
    let replay_ms = started.elapsed().as_secs_f64() * 1e3;
    anyhow::ensure!(
        again.jobs().count() == state.jobs().count(),
        "jobs lost in compaction"
    );
    Ok(serde_json::json!({
        "compact_ms": compact_ms,
        "freeze_ms": freeze_ms,
        "snapshot_records": records,
        "snapshot_payload_bytes": payload_bytes,
        "snapshot_encode_ms": encode_ms,
        "compacted_bytes": bytes,
        "replay_compacted_ms": replay_ms,
    }))
}

/// Writes the log; returns the number of records.
fn write_log(path: &Path, jobs: u32, host: &str, still_pending: bool) -> anyhow::Result<u64> {
    let (mut log, _) = EventLog::open(path)?;
    let env: Vec<String> = (0..40)
        .map(|i| format!("VARIABLE_{i:02}=/some/typical/value/of/an/hpc/user/{i}"))
        .collect();
    let mut pending = 0;
    for id in 1..=jobs {
        let time = 1_700_000_000 + u64::from(id);
        let request = SubmitRequest {
            command: format!("./simulate --case {id}"),
            cpus: 1,
            nhosts: 1,
            cwd: "/home/ann/project".into(),
            env: env.clone(),
            ..SubmitRequest::default()
        };
        let changes = [
            Change::Submitted(Box::new(Submitted {
                first_id: id,
                time,
                user: "ann".into(),
                uid: 1000,
                queue: "normal".into(),
                priority: 30,
                request,
            })),
            Change::Dispatched(Dispatched {
                id,
                attempt: 1,
                time: time + 1,
                allocs: vec![AllocRecord {
                    host: host.to_owned(),
                    cpus: 1,
                    gpus: Vec::new(),
                }],
            }),
            Change::Forked(Forked {
                id,
                attempt: 1,
                time: time + 1,
                pid: 4242,
            }),
            Change::Ended(Ended {
                id,
                attempt: 1,
                time: time + 60,
                exit_code: 0,
                signal: 0,
                usage: Usage::default(),
                note: String::new(),
            }),
        ];
        let changes = if still_pending {
            &changes[..1]
        } else {
            &changes[..]
        };
        for change in changes {
            log.append(change.kind(), &change.payload())?;
            pending += 1;
        }
        if pending >= 64 {
            log.commit()?;
            pending = 0;
        }
    }
    Ok(log.commit()?)
}
