//! `lavalite` is the local cluster command: it writes a default
//! configuration, starts one daemon per simulated host on its own loopback
//! address, waits until the cluster answers, and stops it again. The
//! integration tests drive clusters through the same code (the binary).
//!
//! It owns process management only; what the daemons do is theirs.

pub mod default_config;
mod process;

pub use default_config::{DefaultConfig, CLUSTER_NAME};
pub use process::{is_alive, log_tail, DaemonSpec, DAEMONS};

use conf::{ConfDir, LlConf};
use lim::LimClient;
use mbd::client::BatchClient;
use proto::mbd::HostRow;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

/// How long a daemon stopped after a failed `up` gets to exit on SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Whether `dir` already holds a cluster's configuration (`ll.conf`,
/// written last by [`DefaultConfig::write_if_absent`]).
pub fn is_set_up(dir: &Path) -> bool {
    dir.join("ll.conf").exists()
}

/// Stops every daemon that has a pid file in `DIR/run` (SIGTERM, then
/// SIGKILL after `grace`); returns (stopped, killed) counts. Works from the
/// pid files alone, so a cluster whose config was broken meanwhile can
/// still be stopped.
pub fn down(dir: &Path, grace: Duration) -> anyhow::Result<(usize, usize)> {
    let mut counts = (0, 0);
    let entries = match std::fs::read_dir(dir.join("run")) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(counts),
        Err(e) => anyhow::bail!("cannot list {}: {e}", dir.join("run").display()),
    };
    for entry in entries {
        let Some(spec) = DaemonSpec::from_pid_file(&entry?.path()) else {
            continue;
        };
        if spec.running_pid(dir).is_some() {
            counts.0 += 1;
        }
        if spec.stop(dir, grace)? {
            counts.1 += 1;
        }
    }
    Ok(counts)
}

/// Kills every job still running from the cluster in `dir` (jobs outlive
/// sbd by design; a local cluster torn down must not leave them behind):
/// each runner's process group, and each job cgroup with all in it (a
/// cgroup root of the cluster's own), which is then removed. Returns how
/// many runners were signalled.
pub fn kill_jobs(dir: &Path) -> usize {
    let ll = ConfDir::new(dir).ll_conf().ok();
    let state = (ll.as_ref())
        .and_then(|ll| ll.get("LL_STATE_DIR").map(PathBuf::from))
        .unwrap_or_else(|| dir.join("state"));
    let killed = kill_runners(&state);
    // Only a root `lavalite up` made for this cluster: another (LavaLite's
    // default, from an older or hand-written ll.conf) may hold the jobs
    // of a real sbd on this machine.
    let root = ll.as_ref().and_then(sbd::cgroup::configured_root);
    if let Some(root) = root.filter(|r| default_config::is_local_cgroup_root(r)) {
        remove_job_cgroups(&root);
    }
    killed
}

fn kill_runners(state: &Path) -> usize {
    let Ok(spools) = std::fs::read_dir(state) else {
        return 0;
    };
    let runners = (spools.flatten())
        .filter(|s| s.file_name().to_string_lossy().starts_with("sbd."))
        .filter_map(|s| std::fs::read_dir(s.path()).ok())
        .flat_map(|runs| runs.flatten())
        .filter_map(|run| std::fs::read_to_string(run.path().join("pid")).ok())
        .filter_map(|pid| pid.trim().parse::<u32>().ok())
        // A reused pid is left alone.
        .filter(|pid| sbd::launch::is_runner(*pid));
    runners
        .filter(|pid| os::process::signal_group(*pid, libc::SIGKILL).is_ok())
        .count()
}

/// Kills what is in each job cgroup under `root`, removes them, and
/// `root`.
fn remove_job_cgroups(root: &Path) {
    let root = sbd::cgroup::CgroupRoot {
        path: root.to_owned(),
        controllers: Default::default(),
    };
    let mut left = root.jobs();
    for cg in &left {
        let _ = cg.kill();
    }
    // Killed processes take a moment to exit; rmdir fails until then.
    let deadline = Instant::now() + STOP_GRACE;
    while !left.is_empty() && Instant::now() < deadline {
        left.retain(|cg| cg.remove().is_err());
        if !left.is_empty() {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let _ = std::fs::remove_dir(&root.path);
}

/// A cluster configured in a directory.
#[derive(Debug)]
pub struct LocalCluster {
    pub dir: PathBuf,
    pub ll_conf: LlConf,
    pub daemons: Vec<DaemonSpec>,
    pub log_dir: PathBuf,
}

impl LocalCluster {
    /// Reads the cluster in `dir`: every host with a loopback address in
    /// the cluster file is simulated here and gets a lim; the one named by
    /// `LL_MBD_HOST`, or every one `LL_MASTER_LIST` names, also gets mbd;
    /// each host in llb.hosts gets an sbd.
    pub fn open(dir: &Path) -> anyhow::Result<LocalCluster> {
        let confdir = ConfDir::new(dir);
        let ll_conf = confdir.ll_conf()?;
        let cluster = confdir.cluster(&ll_conf)?;
        let masters = conf::batch_link::master_list(&confdir, &ll_conf)?;
        let runs_mbd = |host: &str| match ll_conf.get("LL_MBD_HOST") {
            _ if !masters.is_empty() => masters.iter().any(|m| m == host),
            mbd_host => mbd_host == Some(host),
        };
        let batch = confdir.batch_hosts()?;
        let daemons: Vec<DaemonSpec> = cluster
            .hosts
            .iter()
            .filter(|h| h.addr.is_some_and(|a| a.is_loopback()))
            .flat_map(|h| {
                let mbd = runs_mbd(&h.name).then_some("mbd");
                let sbd = batch
                    .hosts
                    .iter()
                    .any(|b| b.name == h.name)
                    .then_some("sbd");
                let daemons = std::iter::once("lim").chain(mbd).chain(sbd);
                daemons.map(|daemon| DaemonSpec {
                    daemon,
                    host: h.name.clone(),
                })
            })
            .collect();
        if daemons.is_empty() {
            anyhow::bail!(
                "no host in ll.cluster.{} has a loopback address (fourth column): nothing to simulate here",
                cluster.name
            );
        }
        let log_dir = ll_conf
            .get("LL_LOG_DIR")
            .map_or_else(|| dir.join("log"), PathBuf::from);
        Ok(LocalCluster {
            dir: dir.to_owned(),
            ll_conf,
            daemons,
            log_dir,
        })
    }

    /// Starts every daemon that is not running, then waits until each lim
    /// answers and a master is elected. Returns the daemons it started.
    ///
    /// If one cannot start or the cluster does not come up, the daemons
    /// this call started are stopped again, so a failed `up` leaves the
    /// cluster as it found it (their logs stay for the reason).
    pub fn up(&self, bin_dir: &Path) -> anyhow::Result<Vec<DaemonSpec>> {
        let mut started: Vec<(DaemonSpec, Child)> = Vec::new();
        let serving = self
            .start_missing(bin_dir, &mut started)
            .and_then(|()| self.wait_until_serving(&mut started));
        if let Err(e) = serving {
            let (stopped, unstoppable) = self.stop_started(&mut started);
            let daemons = if stopped == 1 { "daemon" } else { "daemons" };
            let mut what =
                format!("lavalite up failed; stopped the {stopped} {daemons} it had started");
            if !unstoppable.is_empty() {
                what += &format!(" (could not stop {})", unstoppable.join(", "));
            }
            return Err(if stopped + unstoppable.len() == 0 {
                e
            } else {
                e.context(what)
            });
        }
        Ok(started.into_iter().map(|(spec, _)| spec).collect())
    }

    fn start_missing(
        &self,
        bin_dir: &Path,
        started: &mut Vec<(DaemonSpec, Child)>,
    ) -> anyhow::Result<()> {
        for spec in &self.daemons {
            if spec.running_pid(&self.dir).is_some() {
                continue;
            }
            let log = spec.log_file(&self.log_dir);
            let child = spec.start(&self.dir, bin_dir, &log).map_err(|e| {
                anyhow::anyhow!("cannot start {} for {}: {e}", spec.daemon, spec.host)
            })?;
            started.push((spec.clone(), child));
        }
        Ok(())
    }

    /// Stops what `up` started, last first (sbd before the mbd it talks
    /// to). Returns how many were still running and were stopped, and the
    /// ones that could not be stopped.
    fn stop_started(&self, started: &mut [(DaemonSpec, Child)]) -> (usize, Vec<String>) {
        let mut stopped = 0;
        let mut unstoppable = Vec::new();
        for (spec, child) in started.iter_mut().rev() {
            match spec.stop_child(&self.dir, child, STOP_GRACE) {
                Ok(true) => stopped += 1,
                Ok(false) => {}
                Err(e) => unstoppable.push(format!("{} for {}: {e}", spec.daemon, spec.host)),
            }
        }
        (stopped, unstoppable)
    }

    fn wait_until_serving(&self, started: &mut [(DaemonSpec, Child)]) -> anyhow::Result<()> {
        let client = LimClient::from_conf(&ConfDir::new(&self.dir))?;
        let tick = self
            .ll_conf
            .seconds(lim::settings::TICK_KEY, lim::settings::DEFAULT_TICK)?;
        // The first candidate takes over after one tick; later ones after
        // the silence period plus their rank. Leave room for slow machines.
        let deadline =
            Instant::now() + (tick * (lim::settings::MISS_TICKS + 5)).max(Duration::from_secs(10));
        loop {
            let exited = self.exited(started)?;
            if !exited.is_empty() {
                let why = exited.join("\n");
                anyhow::bail!("{why}{}", process::port_taken_hint(&why));
            }
            let pending = self
                .not_answering(&client, started)
                .or_else(|| self.mbd_not_answering(started));
            match (pending, client.cluster_info()) {
                (None, Ok(info)) if !info.master.is_empty() => return Ok(()),
                (pending, info) if Instant::now() >= deadline => {
                    let why = match (pending, info) {
                        (Some((who, why)), _) => format!("{who} does not answer: {why}"),
                        (None, Ok(info)) => format!("cluster {} elected no master", info.cluster),
                        (None, Err(e)) => e.to_string(),
                    };
                    anyhow::bail!(
                        "cluster not serving after {:?}: {why}; logs in {}",
                        deadline.elapsed(),
                        self.log_dir.display()
                    );
                }
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// Each started daemon that has exited, with its status and log tail.
    fn exited(&self, started: &mut [(DaemonSpec, Child)]) -> anyhow::Result<Vec<String>> {
        let mut exited = Vec::new();
        for (spec, child) in started.iter_mut() {
            if let Some(status) = child.try_wait()? {
                let log = spec.log_file(&self.log_dir);
                exited.push(format!(
                    "{} for {} exited ({status}); log {}:\n{}",
                    spec.daemon,
                    spec.host,
                    log.display(),
                    log_tail(&log, 5)
                ));
            }
        }
        Ok(exited)
    }

    /// Why mbd does not serve yet, if it does not: it does not answer, or
    /// a running sbd has not registered with it (after either restarted).
    fn mbd_not_answering(&self, started: &[(DaemonSpec, Child)]) -> Option<(String, String)> {
        if !started.iter().any(|(s, _)| s.daemon != "lim") {
            return None;
        }
        let hosts = BatchClient::for_dir(&ConfDir::new(&self.dir))
            .and_then(|c| c.call::<_, Vec<HostRow>>(proto::mbd::op::HOSTS, &()));
        let rows = match hosts {
            Ok(rows) => rows,
            Err(e) => return Some(("mbd".into(), e.to_string())),
        };
        let running_sbd = |host: &str| {
            (self.daemons.iter())
                .any(|d| d.daemon == "sbd" && d.host == host && d.running_pid(&self.dir).is_some())
        };
        rows.iter()
            .find(|r| !r.sbd && running_sbd(&r.name))
            .map(|r| {
                (
                    format!("sbd on {}", r.name),
                    "not registered with mbd yet".into(),
                )
            })
    }

    /// The first started lim that does not answer yet, and why.
    fn not_answering(
        &self,
        client: &LimClient,
        started: &[(DaemonSpec, Child)],
    ) -> Option<(String, String)> {
        started.iter().find_map(|(spec, _)| {
            let one = LimClient {
                hosts: client
                    .hosts
                    .iter()
                    .filter(|(h, _)| *h == spec.host)
                    .cloned()
                    .collect(),
                ..client.clone()
            };
            one.cluster_info()
                .err()
                .map(|e| (format!("lim for {}", spec.host), e.to_string()))
        })
    }

    /// Each daemon with its pid if it runs.
    pub fn status(&self) -> Vec<(DaemonSpec, Option<u32>)> {
        self.daemons
            .iter()
            .map(|spec| (spec.clone(), spec.running_pid(&self.dir)))
            .collect()
    }
}
