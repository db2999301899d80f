//! The chaos harness (docs/sbd.md, "Crash testing"): clients submit jobs
//! without pause while mbd, a random host's sbd, the master lim, the
//! master host (its lim and mbd: with master candidates, a failover), or
//! some of them at once are killed with SIGKILL and restarted, cycle
//! after cycle (and, if asked, recent jobs are stopped and resumed with
//! bkill);
//! then every acknowledged job must be listed, none twice, every job must
//! end, and none may have run twice. `cargo run -p cluster-tests --bin
//! chaos -- --help` runs it at length; the `mbd_cluster` tests run a few
//! cycles of it.
//!
//! "Ran" is counted outside the daemons: each job appends its id
//! (`$LL_JOBID`) to a file, so a job started twice shows up twice there
//! whatever the daemons believe. Two mbds acknowledging at once from one
//! event log would hand out the same ids: an id acknowledged twice is a
//! violation.

use crate::{job_id, poll_every, wait_for, TestCluster};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to do to the cluster.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Submitting threads, each running `bsub` in a loop.
    pub clients: usize,
    /// Kill-and-restart cycles.
    pub cycles: usize,
    /// Acknowledged submissions each cycle waits for before its kill, so
    /// that every restarted mbd takes work before it dies again.
    pub acks_per_cycle: usize,
    /// What each cycle kills: cycle i the victims of the fault i modulo
    /// their count, all at once.
    pub faults: Faults,
    /// Seeds the choice of victim host and of the delay before a kill.
    pub seed: u64,
    /// How long the jobs may take to end after the last restart.
    pub settle: Duration,
    /// Seconds each job sleeps before it records its run (0: none).
    pub job_secs: f64,
    /// Also `bkill -s stop`, then `-s cont`, recent jobs without pause:
    /// a lost CONT leaves a job stopped, and the run never ends.
    pub suspender: bool,
    /// Master candidates (`LL_MASTER_LIST` = host1..hostN; 0: mbd on
    /// host1 alone).
    pub masters: usize,
}

/// A daemon a cycle kills with SIGKILL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Victim {
    Mbd,
    /// A random host's sbd.
    Sbd,
    /// The master lim (host1's if no master answers).
    Lim,
    /// The master host: its lim and mbd at once.
    Master,
}

/// What the cycles kill, in turn, written as `--faults` takes it:
/// `mbd,sbd,mbd+sbd` (comma between cycles, `+` between the victims of
/// one).
#[derive(Debug, Clone)]
pub struct Faults(pub Vec<Vec<Victim>>);

impl std::str::FromStr for Faults {
    type Err = String;

    fn from_str(text: &str) -> Result<Faults, String> {
        let victim = |name: &str| match name {
            "mbd" => Ok(Victim::Mbd),
            "sbd" => Ok(Victim::Sbd),
            "lim" => Ok(Victim::Lim),
            "master" => Ok(Victim::Master),
            other => Err(format!("'{other}': not mbd, sbd, lim or master")),
        };
        let cycles = (text.split(','))
            .map(|cycle| cycle.split('+').map(victim).collect())
            .collect::<Result<_, _>>()?;
        Ok(Faults(cycles))
    }
}

/// What happened, and every broken invariant.
#[derive(Debug, Default)]
pub struct Outcome {
    pub mbd_kills: usize,
    pub sbd_kills: usize,
    pub lim_kills: usize,
    /// Jobs the suspender stopped and resumed.
    pub suspended: usize,
    /// Distinct jobs `bsub` acknowledged.
    pub acked: usize,
    /// Jobs `bjobs -a` lists at the end (acknowledged or not: a reply
    /// lost to a kill leaves a job the client never heard of).
    pub listed: usize,
    pub done: usize,
    /// Jobs that ended EXIT, with how many times each ran (the jobs
    /// themselves cannot fail: an EXIT is a daemon's verdict).
    pub exited: Vec<(u32, usize)>,
    /// From the start of the storm to the last restart.
    pub storm: Duration,
    /// From the last restart until every job had ended.
    pub settled_in: Duration,
    pub violations: Vec<String>,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} mbd, {} sbd and {} lim kills in {:.1} s; {} jobs stopped and resumed; \
             {} jobs acknowledged, {} listed ({} DONE, {} EXIT), all ended {:.1} s after the \
             last restart; {} violations",
            self.mbd_kills,
            self.sbd_kills,
            self.lim_kills,
            self.storm.as_secs_f64(),
            self.suspended,
            self.acked,
            self.listed,
            self.done,
            self.exited.len(),
            self.settled_in.as_secs_f64(),
            self.violations.len()
        )
    }
}

/// xorshift64*: enough to vary kill timing and victims reproducibly.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

/// Runs `plan` against `cluster` (started by the caller, with
/// `hosts` hosts) and checks the invariants.
pub fn run(cluster: &Arc<TestCluster>, hosts: usize, plan: &Plan) -> Outcome {
    let runs = cluster.dir.join("chaos-runs");
    let record = format!("echo $LL_JOBID >> {}", runs.display());
    let command = if plan.job_secs > 0.0 {
        format!("sleep {}; {record}", plan.job_secs)
    } else {
        record
    };
    let storm = Storm::start(cluster, plan, command);
    let mut rng = Rng::new(plan.seed);
    let mut outcome = Outcome::default();
    let started = Instant::now();
    for cycle in 0..plan.cycles {
        let target = storm.acks() + plan.acks_per_cycle;
        if wait_for(Duration::from_secs(30), || {
            (storm.acks() >= target).then_some(())
        })
        .is_none()
        {
            outcome.violations.push(format!(
                "cycle {cycle}: fewer than {} submissions acknowledged in 30 s",
                plan.acks_per_cycle
            ));
            break;
        }
        // A random moment in the storm, not a wait for anything.
        std::thread::sleep(Duration::from_millis(rng.below(50)));
        let faults = &plan.faults.0;
        for victim in faults
            .get(cycle % faults.len().max(1))
            .into_iter()
            .flatten()
        {
            kill(cluster, *victim, plan, hosts, &mut rng, &mut outcome);
        }
        cluster.up_again();
    }
    outcome.storm = started.elapsed();
    let (acked, suspended) = storm.stop();
    outcome.suspended = suspended;
    check(cluster, &acked, &runs, plan.settle, &mut outcome);
    outcome
}

/// Sets up master candidates host1..host`masters` (none for 0).
pub fn with_masters(cluster: &TestCluster, masters: usize) {
    if masters == 0 {
        return;
    }
    let names: Vec<String> = (1..=masters).map(|i| format!("host{i}")).collect();
    cluster.down();
    cluster.add_to_ll_conf(&format!("LL_MASTER_LIST = {}", names.join(" ")));
    cluster.up_again();
}

/// The host whose mbd serves: lim's master with candidates, else host1.
fn serving_host(cluster: &TestCluster, masters: usize) -> String {
    match masters {
        0 => "host1".into(),
        _ => cluster.master().unwrap_or_else(|| "host1".into()),
    }
}

fn kill(
    cluster: &TestCluster,
    victim: Victim,
    plan: &Plan,
    hosts: usize,
    rng: &mut Rng,
    out: &mut Outcome,
) {
    match victim {
        Victim::Mbd => {
            let host = serving_host(cluster, plan.masters);
            cluster.kill_daemon(cluster.pid("mbd", &host), "mbd");
            out.mbd_kills += 1;
        }
        Victim::Master => {
            let host = serving_host(cluster, plan.masters);
            cluster.kill_daemon(cluster.pid("lim", &host), "lim");
            cluster.kill_daemon(cluster.pid("mbd", &host), "mbd");
            out.lim_kills += 1;
            out.mbd_kills += 1;
        }
        Victim::Sbd => {
            let host = format!("host{}", 1 + rng.below(hosts as u64));
            cluster.kill_daemon(cluster.sbd_pid(&host), "sbd");
            out.sbd_kills += 1;
        }
        Victim::Lim => {
            let master = cluster.master().unwrap_or_else(|| "host1".into());
            cluster.kill_daemon(cluster.lim_pid(&master), "lim");
            out.lim_kills += 1;
        }
    }
}

/// The submitting clients, and the suspender if the plan has one.
struct Storm {
    stop: Arc<AtomicBool>,
    acks: Arc<AtomicUsize>,
    clients: Vec<std::thread::JoinHandle<Vec<u32>>>,
    suspender: Option<std::thread::JoinHandle<usize>>,
}

impl Storm {
    fn start(cluster: &Arc<TestCluster>, plan: &Plan, command: String) -> Storm {
        let stop = Arc::new(AtomicBool::new(false));
        let acks = Arc::new(AtomicUsize::new(0));
        let last = Arc::new(AtomicU32::new(0));
        let clients = (0..plan.clients)
            .map(|_| {
                let (cluster, stop, acks, last) =
                    (cluster.clone(), stop.clone(), acks.clone(), last.clone());
                let command = command.clone();
                std::thread::spawn(move || submit_until(&cluster, &command, &stop, &acks, &last))
            })
            .collect();
        let suspender = plan.suspender.then(|| {
            let (cluster, stop, seed) = (cluster.clone(), stop.clone(), plan.seed);
            std::thread::spawn(move || suspend_until(&cluster, &last, &stop, seed))
        });
        Storm {
            stop,
            acks,
            clients,
            suspender,
        }
    }

    fn acks(&self) -> usize {
        self.acks.load(Ordering::Relaxed)
    }

    /// Stops the clients: every id they were given, and how many jobs
    /// the suspender stopped and resumed.
    fn stop(mut self) -> (Vec<u32>, usize) {
        self.stop.store(true, Ordering::Relaxed);
        let acked = (std::mem::take(&mut self.clients).into_iter())
            .flat_map(|c| c.join().expect("a client thread panicked"))
            .collect();
        let suspended =
            (self.suspender.take()).map_or(0, |s| s.join().expect("the suspender panicked"));
        (acked, suspended)
    }
}

/// Also on a panic in the harness: the clients hold the cluster, which
/// is stopped only once the last of them lets go of it.
impl Drop for Storm {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for client in self.clients.drain(..) {
            let _ = client.join();
        }
        if let Some(s) = self.suspender.take() {
            let _ = s.join();
        }
    }
}

/// What one bkill did.
#[derive(PartialEq)]
enum Bkill {
    Done,
    /// The job had finished: nothing to do.
    Finished,
    /// mbd down, or the job's sbd away: try again.
    Again,
}

fn bkill(cluster: &TestCluster, signal: &str, id: u32) -> Bkill {
    let out = cluster.run("bkill", &["-s".into(), signal.into(), id.to_string()]);
    if out.status.success() {
        Bkill::Done
    } else if String::from_utf8_lossy(&out.stderr).contains("finished") {
        Bkill::Finished
    } else {
        Bkill::Again
    }
}

/// Stops one of the last jobs acknowledged, then resumes it (retrying
/// until mbd takes the CONT, or a job left stopped would hang the run),
/// until told to stop; how many it stopped and resumed.
fn suspend_until(cluster: &TestCluster, last: &AtomicU32, stop: &AtomicBool, seed: u64) -> usize {
    let mut rng = Rng::new(seed ^ 0x5eed);
    let mut pairs = 0;
    while !stop.load(Ordering::Relaxed) {
        let newest = last.load(Ordering::Relaxed);
        let id = newest.saturating_sub(rng.below(20) as u32);
        // (bkill 0 would stop every job.)
        let outcome = (id != 0).then(|| bkill(cluster, "stop", id));
        let stopped = match outcome {
            None | Some(Bkill::Finished) => {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            Some(Bkill::Done) => true,
            // No reply may still be a STOP mbd took (and then died).
            Some(Bkill::Again) => false,
        };
        while bkill(cluster, "cont", id) == Bkill::Again {
            std::thread::sleep(Duration::from_millis(10));
        }
        pairs += usize::from(stopped);
    }
    pairs
}

fn submit_until(
    cluster: &TestCluster,
    command: &str,
    stop: &AtomicBool,
    acks: &AtomicUsize,
    last: &AtomicU32,
) -> Vec<u32> {
    let mut acked = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        match cluster
            .stdout("bsub", &[command])
            .as_deref()
            .and_then(job_id)
        {
            Some(id) => {
                acked.push(id);
                acks.fetch_add(1, Ordering::Relaxed);
                last.fetch_max(id, Ordering::Relaxed);
            }
            // mbd is down: do not spin on refused connections.
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    acked
}

/// Waits for every job mbd holds to end, then checks the invariants
/// against the whole history (`bhist` also reads what compaction
/// archived: mbd drops finished jobs from memory past a threshold).
fn check(cluster: &TestCluster, acked: &[u32], runs: &Path, settle: Duration, out: &mut Outcome) {
    let mut distinct = acked.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    out.acked = distinct.len();
    if distinct.len() != acked.len() {
        out.violations.push(format!(
            "{} ids acknowledged more than once",
            acked.len() - distinct.len()
        ));
    }
    let mut open = String::from("(no listing)");
    let settling = Instant::now();
    // `bjobs` without -a lists the unfinished jobs only; thousands of
    // them at first, so not polled so often that listing them slows mbd.
    let ended = poll_every(Duration::from_millis(250), settle, || {
        open = unended(&listing(cluster, "bjobs", &["--json"])?);
        open.is_empty().then_some(())
    });
    out.settled_in = settling.elapsed();
    if ended.is_none() {
        out.violations.push(format!(
            "jobs still not ended {settle:?} after the last restart: {}",
            open
        ));
    }
    let Some(rows) = listing(cluster, "bhist", &["--json"]) else {
        out.violations
            .push("bhist --json gave no listing, or one with a job twice".into());
        return;
    };
    out.listed = rows.len();
    out.done = rows.values().filter(|s| *s == "DONE").count();
    // Every job has ended by now (bjobs says so), whether mbd still holds
    // it or compaction archived it: the history must say so too.
    let unended_in_history = (rows.iter())
        .filter(|(_, s)| *s != "DONE" && *s != "EXIT")
        .map(|(&id, _)| id);
    report(out, "ended, but not in bhist", unended_in_history);
    let runs = read_runs(runs);
    out.exited = (rows.iter())
        .filter(|(_, s)| *s == "EXIT")
        .map(|(&id, _)| (id, runs.get(&id).copied().unwrap_or(0)))
        .collect();
    // `echo` into a file cannot fail: an EXIT is a daemon's verdict, a
    // job it lost.
    let exits = out.exited.iter().map(|&(id, _)| id).collect::<Vec<_>>();
    report(out, "ended EXIT (lost by a daemon)", exits.into_iter());
    let lost = distinct.iter().copied().filter(|id| !rows.contains_key(id));
    report(out, "acknowledged but not in bhist", lost);
    check_runs(&rows, &runs, out);
}

/// The JSON listing of `bjobs` or `bhist` as id -> STAT; `None` if the
/// command fails, or lists a job twice.
fn listing(cluster: &TestCluster, command: &str, args: &[&str]) -> Option<BTreeMap<u32, String>> {
    let json = cluster.stdout(command, args)?;
    let rows: serde_json::Value = serde_json::from_str(&json).ok()?;
    let rows = rows.as_array()?;
    let map: BTreeMap<u32, String> = (rows.iter())
        .filter_map(|r| Some((r["id"].as_u64()? as u32, r["stat"].as_str()?.to_owned())))
        .collect();
    (map.len() == rows.len()).then_some(map)
}

/// The jobs not DONE or EXIT, as text (empty if none).
fn unended(rows: &BTreeMap<u32, String>) -> String {
    let open: Vec<String> = (rows.iter())
        .filter(|(_, s)| *s != "DONE" && *s != "EXIT")
        .map(|(id, s)| format!("{id} {s}"))
        .collect();
    open.join(", ")
}

/// Adds a violation naming the ids (the first ten), if there are any.
fn report(out: &mut Outcome, what: &str, ids: impl Iterator<Item = u32>) {
    let ids: Vec<u32> = ids.collect();
    if let Some(first) = ids.get(..ids.len().min(10)).filter(|f| !f.is_empty()) {
        let more = ids.len() - first.len();
        let tail = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        out.violations.push(format!("{what}: {first:?}{tail}"));
    }
}

/// How many times each job id was appended to the runs file.
fn read_runs(runs: &Path) -> BTreeMap<u32, usize> {
    let text = std::fs::read_to_string(runs).unwrap_or_default();
    let mut counts = BTreeMap::new();
    for id in text.lines().filter_map(|l| l.trim().parse().ok()) {
        *counts.entry(id).or_insert(0) += 1;
    }
    counts
}

/// Every job ran at most once, a DONE job exactly once, and nothing ran
/// that is not listed.
fn check_runs(rows: &BTreeMap<u32, String>, runs: &BTreeMap<u32, usize>, out: &mut Outcome) {
    let twice = runs.iter().filter(|(_, &n)| n > 1).map(|(&id, _)| id);
    report(out, "ran more than once", twice);
    let unlisted = runs.keys().copied().filter(|id| !rows.contains_key(id));
    report(out, "ran but not in bhist", unlisted);
    let never = (rows.iter())
        .filter(|(id, s)| *s == "DONE" && !runs.contains_key(id))
        .map(|(&id, _)| id);
    report(out, "DONE without having run", never);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_cycles_of_victims() {
        let Faults(cycles) = "mbd,sbd+lim,master".parse().expect("valid");
        assert_eq!(
            cycles,
            [
                vec![Victim::Mbd],
                vec![Victim::Sbd, Victim::Lim],
                vec![Victim::Master]
            ]
        );
        for bad in ["", "mbd,,sbd", "mbd+", "kernel"] {
            assert!(bad.parse::<Faults>().is_err(), "{bad:?}");
        }
    }
}
