//! What a lim needs from the configuration directory, checked up front so
//! a bad config is one clear error at start.

use conf::{ClusterFile, ConfDir, ConfError, LlConf};
use proto::auth::AuthKey;
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

/// LavaLite's default lim port (UDP and TCP).
pub const DEFAULT_PORT: u16 = 6861;
/// Default tick: sampling, reporting and beacon interval.
pub const DEFAULT_TICK: Duration = Duration::from_secs(5);
/// Ticks of silence after which a master is lost or a host unavailable.
pub const MISS_TICKS: u32 = 3;

/// ll.conf key for the tick, in seconds (ours; decimals allowed).
pub const TICK_KEY: &str = "LL_LIM_TICK";

#[derive(Debug)]
pub enum SettingsError {
    Conf(ConfError),
    /// This host is not in the cluster file.
    NotListed {
        host: String,
        cluster: String,
    },
    /// A host's name does not resolve and it has no address column.
    Unresolved {
        host: String,
        reason: String,
    },
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingsError::Conf(e) => e.fmt(f),
            SettingsError::NotListed { host, cluster } => write!(
                f,
                "host {host:?} is not listed in ll.cluster.{cluster} (use --host to name it)"
            ),
            SettingsError::Unresolved { host, reason } => write!(
                f,
                "cannot resolve host {host:?} ({reason}); give its address as a fourth column in the Host section"
            ),
        }
    }
}

impl std::error::Error for SettingsError {}

impl From<ConfError> for SettingsError {
    fn from(e: ConfError) -> Self {
        SettingsError::Conf(e)
    }
}

/// One lim's configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    pub cluster: ClusterFile,
    /// This host's position in `cluster.hosts`.
    pub me: usize,
    /// Each host's lim address, by position.
    pub addrs: Vec<SocketAddr>,
    /// Where this lim binds: its own address, or every interface when the
    /// cluster file gives it none.
    pub bind: SocketAddr,
    pub tick: Duration,
    pub key: Option<AuthKey>,
    /// `LL_AUTH_MAX_AGE`, seconds.
    pub auth_max_age: u64,
    /// `LL_STATE_DIR`: where this lim's signing socket goes.
    pub state_dir: Option<PathBuf>,
    /// Where these settings were read (`lsadmin reconfig` reads it again).
    pub conf_dir: Option<ConfDir>,
    /// `LL_LIM_METRICS_PORT` on lim's address: the metrics endpoint.
    pub metrics: Option<SocketAddr>,
    /// Each host's position by name: every datagram names its sender, and
    /// a scan of 10,000 names per datagram was most of a master's CPU.
    positions: HashMap<String, usize>,
}

impl Settings {
    pub fn load(dir: &ConfDir, host: &str) -> Result<Settings, SettingsError> {
        let ll = dir.ll_conf()?;
        let mut cluster = dir.cluster(&ll)?;
        // LL_MASTER_LIST, when set, names the candidates (as LSF's
        // LSF_MASTER_LIST overrides the cluster file's).
        let masters = conf::batch_link::master_list(dir, &ll)?;
        if !masters.is_empty() {
            for h in &mut cluster.hosts {
                h.candidate = masters.contains(&h.name);
            }
        }
        let key = dir.auth_key()?;
        let mut settings = Settings::new(&ll, cluster, host, key)?;
        settings.conf_dir = Some(dir.clone());
        Ok(settings)
    }

    pub fn new(
        ll: &LlConf,
        cluster: ClusterFile,
        host: &str,
        key: Option<AuthKey>,
    ) -> Result<Settings, SettingsError> {
        let port = ll.port("LL_LIM_PORT", DEFAULT_PORT)?;
        let tick = ll.seconds(TICK_KEY, DEFAULT_TICK)?;
        let me = cluster
            .position(host)
            .ok_or_else(|| SettingsError::NotListed {
                host: host.to_owned(),
                cluster: cluster.name.clone(),
            })?;
        let addrs = lim_addrs(&cluster, port)?;
        let bind = match cluster.hosts[me].addr {
            Some(ip) => SocketAddr::new(ip, port),
            None => SocketAddr::new(IpAddr::from([0, 0, 0, 0]), port),
        };
        // The first entry wins, as with a scan (the parser refuses
        // duplicates anyway).
        let mut positions = HashMap::with_capacity(cluster.hosts.len());
        for (i, h) in cluster.hosts.iter().enumerate().rev() {
            positions.insert(h.name.clone(), i);
        }
        Ok(Settings {
            positions,
            cluster,
            me,
            addrs,
            bind,
            tick,
            key,
            auth_max_age: ll.auth_max_age()?,
            state_dir: ll.get("LL_STATE_DIR").map(PathBuf::from),
            conf_dir: None,
            metrics: match ll.get("LL_LIM_METRICS_PORT") {
                None => None,
                Some(_) => Some(SocketAddr::new(
                    bind.ip(),
                    ll.port("LL_LIM_METRICS_PORT", 0)?,
                )),
            },
        })
    }

    pub fn host_name(&self, position: usize) -> &str {
        self.cluster
            .hosts
            .get(position)
            .map_or("?", |h| h.name.as_str())
    }

    /// The host whose lim sends from `from` and calls itself `name`.
    pub fn sender(&self, name: &str, from: SocketAddr) -> Option<usize> {
        (self.positions.get(name).copied())
            .filter(|&p| self.addrs.get(p).is_some_and(|a| a.ip() == from.ip()))
    }
}

/// Every host's lim address, in file order: the address column, else the
/// name resolved (once, at start).
pub fn lim_addrs(cluster: &ClusterFile, port: u16) -> Result<Vec<SocketAddr>, SettingsError> {
    cluster
        .hosts
        .iter()
        .map(|h| match h.addr {
            Some(ip) => Ok(SocketAddr::new(ip, port)),
            None => resolve(&h.name, port),
        })
        .collect()
}

fn resolve(name: &str, port: u16) -> Result<SocketAddr, SettingsError> {
    let unresolved = |reason: String| SettingsError::Unresolved {
        host: name.to_owned(),
        reason,
    };
    (name, port)
        .to_socket_addrs()
        .map_err(|e| unresolved(e.to_string()))?
        .find(SocketAddr::is_ipv4)
        .ok_or_else(|| unresolved("no IPv4 address".into()))
}
