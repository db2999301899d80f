//! The embedded default configuration `lavalite up` writes into an empty
//! directory.

use std::fmt::Write;
use std::io;
use std::net::Ipv4Addr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

const LL_CONF: &str = include_str!("default/ll.conf");
const LL_CLUSTER: &str = include_str!("default/ll.cluster");
const LLB_HOSTS: &str = include_str!("default/llb.hosts");
const LLB_QUEUES: &str = include_str!("default/llb.queues");

/// CPUs, memory and storage each simulated batch host offers.
const HOST_RESOURCES: &str = "2    4G   100G     -          -";

/// The cluster name the default config uses.
pub const CLUSTER_NAME: &str = "lavalite";

/// Choices for a new default config.
#[derive(Clone, Debug)]
pub struct DefaultConfig {
    pub hosts: usize,
    /// Host i (from 1) gets `base + i`.
    pub base_addr: Ipv4Addr,
    /// lim's port; mbd and sbd take the next two.
    pub port: u16,
    /// lim tick, seconds.
    pub tick: f64,
    /// `LL_SBD_HEARTBEAT`, seconds.
    pub heartbeat: f64,
}

impl Default for DefaultConfig {
    fn default() -> Self {
        DefaultConfig {
            hosts: 3,
            base_addr: Ipv4Addr::new(127, 0, 0, 10),
            port: lim::settings::DEFAULT_PORT,
            tick: 5.0,
            heartbeat: 10.0,
        }
    }
}

/// The first port of Linux's default ephemeral range: daemons' ports stay
/// below it, where no client socket is given one.
const EPHEMERAL_START: u16 = 32768;

/// Hosts listed first that are master candidates in the default config.
const CANDIDATES: usize = 3;

impl DefaultConfig {
    /// Checks that every host gets a loopback address and the ports fit.
    pub fn validate(&self) -> Result<(), String> {
        let last = u32::from(self.base_addr).checked_add(self.hosts as u32);
        match last.map(Ipv4Addr::from) {
            _ if self.hosts == 0 => Err("--hosts must be at least 1".into()),
            Some(ip) if ip.is_loopback() && self.base_addr.is_loopback() => Ok(()),
            _ => Err(format!(
                "{} hosts from {} leave 127.0.0.0/8",
                self.hosts, self.base_addr
            )),
        }?;
        if self.port > u16::MAX - 2 || self.port == 0 {
            return Err(format!(
                "port {} leaves no room for mbd and sbd ports",
                self.port
            ));
        }
        for (what, secs) in [("tick", self.tick), ("heartbeat", self.heartbeat)] {
            if !(secs.is_finite() && (0.001..=86_400.0).contains(&secs)) {
                return Err(format!(
                    "{what} {secs} is not a number of seconds between 0.001 and 86400"
                ));
            }
        }
        Ok(())
    }

    /// Whether this config's ports are free on every host's address:
    /// lim's (UDP and TCP) on each, mbd's (TCP) on host1.
    pub fn ports_free(&self) -> bool {
        let free_tcp = |ip, port| std::net::TcpListener::bind((ip, port)).is_ok();
        let free_udp = |ip, port| std::net::UdpSocket::bind((ip, port)).is_ok();
        (1..=self.hosts).all(|i| {
            let ip = self.host_addr(i);
            free_tcp(ip, self.port) && free_udp(ip, self.port)
        }) && free_tcp(self.host_addr(1), self.port + 1)
    }

    /// This config with the first free set of ports at or above its own,
    /// three apart and below the ephemeral range; `None` if none is free.
    pub fn with_free_ports(&self) -> Option<DefaultConfig> {
        (self.port..EPHEMERAL_START - 2)
            .step_by(3)
            .map(|port| DefaultConfig {
                port,
                ..self.clone()
            })
            .find(DefaultConfig::ports_free)
    }

    pub fn host_addr(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.base_addr) + i as u32)
    }

    /// Each file of the configuration for `dir`: (file name, contents).
    pub fn render(&self, dir: &Path) -> Vec<(String, String)> {
        let mut batch_hosts = String::new();
        let mut host_names = Vec::new();
        for i in 1..=self.hosts {
            let _ = writeln!(batch_hosts, "host{i:<6} {HOST_RESOURCES}");
            host_names.push(format!("host{i}"));
        }
        let mut hosts = String::new();
        for i in 1..=self.hosts {
            let flag = if i <= CANDIDATES { "Y" } else { "-" };
            let _ = writeln!(
                hosts,
                "host{i:<6}()         {flag}       {}",
                self.host_addr(i)
            );
        }
        let admin = std::env::var("USER").unwrap_or_else(|_| "lavalite".into());
        let fill = |template: &str| {
            template
                .replace("{cluster}", CLUSTER_NAME)
                .replace("{dir}", &dir.display().to_string())
                .replace("{port}", &self.port.to_string())
                .replace("{mbd_port}", &(self.port + 1).to_string())
                .replace("{sbd_port}", &(self.port + 2).to_string())
                .replace("{tick}", &self.tick.to_string())
                .replace("{heartbeat}", &self.heartbeat.to_string())
                .replace(
                    "{cgroup_root}",
                    &local_cgroup_root(dir).display().to_string(),
                )
                .replace("{admin}", &admin)
                .replace("{hosts}", &hosts)
                .replace("{batch_hosts}", &batch_hosts)
                .replace("{host_names}", &host_names.join(" "))
        };
        vec![
            (format!("ll.cluster.{CLUSTER_NAME}"), fill(LL_CLUSTER)),
            ("llb.hosts".into(), fill(LLB_HOSTS)),
            ("llb.queues".into(), fill(LLB_QUEUES)),
            ("ll.conf".into(), fill(LL_CONF)),
        ]
    }

    /// Writes each file of the config that `dir` lacks, and a random
    /// `ll.auth.key` (mode 0600) if it has none; returns whether it wrote
    /// ll.conf, i.e. set the directory up.
    pub fn write_if_absent(&self, dir: &Path) -> io::Result<bool> {
        std::fs::create_dir_all(dir)?;
        let key = dir.join(conf::AUTH_KEY_FILE);
        if !key.exists() {
            let secret = os::random::hex(32)?;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&key)
                .and_then(|mut f| io::Write::write_all(&mut f, secret.as_bytes()))?;
        }
        let mut wrote_ll_conf = false;
        // ll.conf comes last: its presence marks the directory as set up.
        for (name, text) in self.render(dir) {
            let path = dir.join(&name);
            if !path.exists() {
                std::fs::write(path, text)?;
                wrote_ll_conf |= name == "ll.conf";
            }
        }
        Ok(wrote_ll_conf)
    }
}

/// The parent of every local cluster's cgroup root.
const LOCAL_CGROUPS: &str = "lavalite.local";

/// A cgroup root of this cluster's own, so that local clusters (tests
/// run many at once) never share job cgroups: `<cgroup2 mount>/
/// lavalite.local/<dir name>-<hash of the dir's path>`.
fn local_cgroup_root(dir: &Path) -> PathBuf {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mount = (std::fs::read_to_string("/proc/self/mountinfo").ok())
        .and_then(|info| sbd::cgroup::cgroup2_mounts(&info).into_iter().next())
        .unwrap_or_else(|| PathBuf::from("/sys/fs/cgroup"));
    let name: String = (dir.file_name().unwrap_or_default().to_string_lossy())
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '_' | '-' => c,
            _ => '_',
        })
        .collect();
    let mut hasher = DefaultHasher::new();
    dir.hash(&mut hasher);
    let hash = hasher.finish() as u32;
    mount.join(LOCAL_CGROUPS).join(format!("{name}-{hash:08x}"))
}

/// Whether `path` is a cgroup root `lavalite up` made for one cluster.
pub(crate) fn is_local_cgroup_root(path: &Path) -> bool {
    path.parent()
        .and_then(Path::file_name)
        .is_some_and(|name| name == LOCAL_CGROUPS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use conf::{ClusterFile, LlConf};

    #[test]
    fn rendered_config_parses_back() {
        let cfg = DefaultConfig {
            hosts: 4,
            ..DefaultConfig::default()
        };
        let files = cfg.render(Path::new("/tmp/x"));
        let text = |name: &str| {
            files
                .iter()
                .find(|(n, _)| n.starts_with(name))
                .unwrap()
                .1
                .clone()
        };
        let ll = LlConf::parse(&text("ll.conf"));
        let cluster = text("ll.cluster");
        let batch = conf::BatchHosts::parse(&text("llb.hosts")).unwrap();
        assert_eq!(batch.hosts.len(), 4);
        assert_eq!(batch.groups[0].members.len(), 4);
        let queues = conf::parse_queues(&text("llb.queues")).unwrap();
        conf::check_queue_hosts(&queues, &batch).unwrap();
        assert!(queues
            .iter()
            .any(|q| Some(q.name.as_str()) == ll.get("LL_DEFAULT_QUEUE")));
        assert_eq!(ll.get("LL_CLUSTER_NAME"), Some(CLUSTER_NAME));
        assert_eq!(ll.get("LL_STATE_DIR"), Some("/tmp/x/state"));
        let cgroups = PathBuf::from(ll.get("LL_CGROUP_ROOT").unwrap());
        assert!(is_local_cgroup_root(&cgroups), "{}", cgroups.display());
        let name = cgroups.file_name().unwrap().to_string_lossy();
        assert!(name.starts_with("x-") && name.len() == 10, "{name}");
        assert_ne!(
            local_cgroup_root(Path::new("/a/x")),
            local_cgroup_root(Path::new("/b/x")),
            "clusters in directories of the same name get their own"
        );
        assert_eq!(ll.port("LL_MBD_PORT", 0).unwrap(), 6862);
        assert_eq!(
            mbd::settings::sbd_heartbeat(&ll).unwrap(),
            std::time::Duration::from_secs(10)
        );
        let cluster = ClusterFile::parse(&cluster).unwrap();
        let hosts: Vec<_> = cluster
            .hosts
            .iter()
            .map(|h| (h.name.as_str(), h.candidate, h.addr.unwrap().to_string()))
            .collect();
        assert_eq!(hosts[0], ("host1", true, "127.0.0.11".to_string()));
        assert_eq!(hosts[3], ("host4", false, "127.0.0.14".to_string()));
    }

    #[test]
    fn validation_names_the_problem() {
        let too_many = DefaultConfig {
            hosts: 300,
            base_addr: Ipv4Addr::new(127, 255, 255, 0),
            ..DefaultConfig::default()
        };
        assert!(too_many.validate().unwrap_err().contains("127.0.0.0/8"));
        let zero = DefaultConfig {
            hosts: 0,
            ..DefaultConfig::default()
        };
        assert!(zero.validate().is_err());
        let no_heartbeat = DefaultConfig {
            heartbeat: 0.0,
            ..DefaultConfig::default()
        };
        assert!(no_heartbeat.validate().unwrap_err().contains("heartbeat"));
        assert!(DefaultConfig::default().validate().is_ok());
    }
}
