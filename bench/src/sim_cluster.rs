//! A cluster of one real lim and mbd and N simulated execution hosts
//! (`sim`), set up in a directory of its own: the default configuration
//! for one host, with llb.hosts listing the simulated hosts instead. lim
//! knows only host1, and mbd takes a batch host lim does not know as up,
//! so the simulated hosts need no lims.

use crate::sim::SimConfig;
use crate::workload::JobSpec;
use lavalite::{DaemonSpec, DefaultConfig};
use mbd::client::BatchClient;
use proto::mbd::{op, SubmitReply};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

pub struct SimCluster {
    pub dir: PathBuf,
    pub hosts: Vec<String>,
    daemons: Vec<Child>,
    /// Read from the configuration once: a submission must not re-read
    /// ll.conf and the key each time.
    client: BatchClient,
}

impl SimCluster {
    /// Writes the configuration into `dir` (which must not exist yet)
    /// and starts lim and mbd from `bins`; waits until mbd answers.
    pub fn start(dir: &Path, bins: &Path, hosts: usize, slots: u32) -> anyhow::Result<SimCluster> {
        anyhow::ensure!(!dir.exists(), "{} exists already", dir.display());
        let config = DefaultConfig {
            hosts: 1,
            heartbeat: 10.0,
            ..DefaultConfig::default()
        };
        let config = config
            .with_free_ports()
            .ok_or_else(|| anyhow::anyhow!("no free ports for the simulated cluster"))?;
        config.write_if_absent(dir)?;
        let names: Vec<String> = (1..=hosts).map(|i| format!("sim{i:05}")).collect();
        std::fs::write(dir.join("llb.hosts"), batch_hosts(&names, slots))?;
        std::fs::create_dir_all(dir.join("log"))?;
        let mut cluster = SimCluster {
            dir: dir.to_owned(),
            hosts: names,
            daemons: Vec::new(),
            client: BatchClient::for_dir(&conf::ConfDir::new(dir))?,
        };
        for daemon in ["lim", "mbd"] {
            let spec = DaemonSpec {
                daemon,
                host: "host1".into(),
            };
            let out = dir.join("log").join(format!("{daemon}.out"));
            cluster.daemons.push(spec.start(dir, bins, &out)?);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while cluster
            .client()?
            .call::<_, Vec<proto::mbd::TokenRow>>(op::TOKENS, &()) // alike in older mbds
            .is_err()
        {
            anyhow::ensure!(
                Instant::now() < deadline,
                "mbd did not answer; logs in {}",
                dir.join("log").display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(cluster)
    }

    pub fn conf(&self) -> conf::ConfDir {
        conf::ConfDir::new(&self.dir)
    }

    /// A client as this process's user.
    pub fn client(&self) -> anyhow::Result<BatchClient> {
        Ok(self.client.clone())
    }

    /// A client that signs as `user` (the cluster key signs for anyone:
    /// this needs it readable, as root or the key's owner has it).
    pub fn client_as(&self, user: &str, uid: u32) -> anyhow::Result<BatchClient> {
        let mut client = self.client()?;
        anyhow::ensure!(
            matches!(client.signing, mbd::settings::Signing::Key(_)),
            "the cluster key is not readable here: cannot submit as {user}"
        );
        (client.uid, client.gid, client.user) = (uid, uid, user.to_owned());
        Ok(client)
    }

    /// What the simulated hosts need to reach mbd.
    pub fn sim_config(&self, time_factor: f64) -> anyhow::Result<SimConfig> {
        let dir = self.conf();
        let ll = dir.ll_conf()?;
        Ok(SimConfig {
            hosts: self.hosts.clone(),
            mbd: conf::batch_link::Endpoint::new(&dir, &ll)?.addr,
            key: conf::batch_link::require_key(&dir)?,
            heartbeat: conf::batch_link::sbd_heartbeat(&ll)?,
            time_factor,
        })
    }
}

impl Drop for SimCluster {
    fn drop(&mut self) {
        for child in &mut self.daemons {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Submits `spec` as its user (uid from a stable hash of the name, above
/// the system range); the first job id, or why not. A dependency on a
/// job mbd no longer holds is dropped and the job submitted without it.
pub fn submit(cluster: &SimCluster, spec: &JobSpec, first_ids: &[u32]) -> anyhow::Result<u32> {
    let uid = 20_000
        + spec
            .user
            .bytes()
            .fold(0u32, |h, b| h.wrapping_mul(31) ^ u32::from(b))
            % 10_000;
    let client = cluster.client_as(&spec.user, uid)?;
    let mut request = spec.request(first_ids);
    match client.call::<_, SubmitReply>(op::SUBMIT, &request) {
        Ok(reply) => Ok(reply.job_id),
        Err(e) if e.reason().contains("dependency on unknown job") => {
            request.dependency.clear();
            Ok(client.call::<_, SubmitReply>(op::SUBMIT, &request)?.job_id)
        }
        Err(e) => Err(e.into()),
    }
}

/// llb.hosts for the simulated hosts: each `slots` CPUs, all in `all`.
fn batch_hosts(names: &[String], slots: u32) -> String {
    let mut out = String::from("Begin Host\nHOST_NAME  CPU  MEM  STORAGE  GPU_MODEL  GPU_IDS\n");
    for name in names {
        let _ = writeln!(out, "{name} {slots} 256G 1T - -");
    }
    out.push_str("End Host\nBegin HostGroup\nGROUP_NAME  GROUP_MEMBER\nall (");
    out.push_str(&names.join(" "));
    out.push_str(")\nEnd HostGroup\n");
    out
}
