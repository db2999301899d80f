//! How mbd's peers reach it: its address, the commands' timeouts, the
//! key every frame is signed with, and the heartbeat sbd and mbd agree
//! on. mbd, sbd and the batch commands all read these, so they live here
//! rather than in any one daemon.

use crate::{ConfDir, ConfError, LlConf};
use proto::auth::AuthKey;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// mbd's default port: lim's default (6861) + 1. LavaLite's 33123-33125
/// lie in Linux's ephemeral range (32768-60999), where a client socket
/// left from a burst of connections can hold a restarting daemon's port;
/// LSF's and Slurm's defaults lie below it too.
pub const DEFAULT_MBD_PORT: u16 = 6862;
/// Default `LL_SBD_HEARTBEAT` (ours): a dead host is noticed in 30 s.
pub const DEFAULT_SBD_HEARTBEAT: Duration = Duration::from_secs(10);

/// `LL_SBD_HEARTBEAT`: seconds between sbd's heartbeats to mbd. mbd and
/// sbd both read it, so both ends agree on when the other is silent.
pub fn sbd_heartbeat(ll: &LlConf) -> Result<Duration, ConfError> {
    ll.seconds("LL_SBD_HEARTBEAT", DEFAULT_SBD_HEARTBEAT)
}

/// Where mbd is, and how long its clients wait.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// `LL_MBD_HOST`, else the first of `LL_MASTER_LIST`.
    pub host: String,
    pub addr: SocketAddr,
    /// `LL_MASTER_LIST`: every host mbd may run on, in preference order,
    /// with mbd's address there; empty for a single-master site. Where
    /// mbd runs now, lim's master says (`lim::client::LimClient::master`).
    pub candidates: Vec<(String, SocketAddr)>,
    pub connect_timeout: Duration,
    pub reply_timeout: Duration,
    /// `LL_MBD_USER`: the batch admin account.
    pub admin_user: String,
}

impl Endpoint {
    pub fn new(dir: &ConfDir, ll: &LlConf) -> Result<Endpoint, ConfError> {
        let seconds = |key, default| ll.seconds(key, Duration::from_secs(default));
        let candidates = master_candidates(dir, ll)?;
        let (host, addr) = match (ll.get("LL_MBD_HOST"), candidates.first()) {
            (None, Some((host, addr))) => (host.clone(), *addr),
            (host, _) => {
                let host = host.ok_or(ConfError::Missing("LL_MBD_HOST"))?;
                (host.to_owned(), host_mbd_addr(dir, ll, host)?)
            }
        };
        Ok(Endpoint {
            host,
            addr,
            candidates,
            connect_timeout: seconds("LL_API_CONNTIMEOUT", 3)?,
            reply_timeout: seconds("LL_API_RECVTIMEOUT", 5)?,
            admin_user: ll.get("LL_MBD_USER").unwrap_or("lavalite").to_owned(),
        })
    }
}

/// The cluster key, which the daemons must be able to read.
pub fn require_key(dir: &ConfDir) -> Result<AuthKey, ConfError> {
    dir.auth_key()?.ok_or_else(|| missing_key(dir))
}

/// The error for a configuration directory without `ll.auth.key`.
pub fn missing_key(dir: &ConfDir) -> ConfError {
    ConfError::Invalid(format!(
        "{}: missing; mbd and the batch commands sign every request with the cluster key",
        dir.path.join(crate::AUTH_KEY_FILE).display()
    ))
}

/// `LL_MASTER_LIST` (LSF's `LSF_MASTER_LIST`): the hosts mbd may run
/// on, blank-separated, quotes allowed. Every one must be a host of the
/// cluster file, listed in that file's order (lim elects in that order:
/// the first live one is master); they are lim's master candidates.
pub fn master_list(dir: &ConfDir, ll: &LlConf) -> Result<Vec<String>, ConfError> {
    const KEY: &str = "LL_MASTER_LIST";
    let Some(text) = ll.get(KEY) else {
        return Ok(Vec::new());
    };
    let names: Vec<String> = (text.trim_matches('"').split_ascii_whitespace())
        .map(str::to_owned)
        .collect();
    let cluster = dir.cluster(ll)?;
    let mut last = None;
    for name in &names {
        let Some(at) = cluster.hosts.iter().position(|h| h.name == *name) else {
            return Err(ConfError::Invalid(format!(
                "{KEY}: {name} is not a host of the cluster file"
            )));
        };
        if last.is_some_and(|l| l >= at) {
            return Err(ConfError::Invalid(format!(
                "{KEY}: {name} is listed out of the cluster file's order (or twice); lim elects in that order, so list the candidates in it"
            )));
        }
        last = Some(at);
    }
    Ok(names)
}

/// `LL_MASTER_LIST` with mbd's address on each host.
pub fn master_candidates(
    dir: &ConfDir,
    ll: &LlConf,
) -> Result<Vec<(String, SocketAddr)>, ConfError> {
    (master_list(dir, ll)?.into_iter())
        .map(|host| {
            let addr = host_mbd_addr(dir, ll, &host)?;
            Ok((host, addr))
        })
        .collect()
}

/// mbd's address: `LL_MBD_HOST`'s (else the first master candidate's).
pub fn mbd_addr(dir: &ConfDir, ll: &LlConf) -> Result<SocketAddr, ConfError> {
    Endpoint::new(dir, ll).map(|e| e.addr)
}

/// mbd's address on `host`: its address column in the cluster file when
/// it has one (simulated hosts), else the name resolved.
pub fn host_mbd_addr(dir: &ConfDir, ll: &LlConf, host: &str) -> Result<SocketAddr, ConfError> {
    let port = ll.port("LL_MBD_PORT", DEFAULT_MBD_PORT)?;
    let listed = (ll.get("LL_CLUSTER_NAME"))
        .and_then(|_| dir.cluster(ll).ok())
        .and_then(|c| c.hosts.into_iter().find(|h| h.name == host))
        .and_then(|h| h.addr);
    if let Some(ip) = listed {
        return Ok(SocketAddr::new(ip, port));
    }
    let unresolved =
        |why: String| ConfError::Invalid(format!("mbd host {host}: cannot resolve ({why})"));
    (host, port)
        .to_socket_addrs()
        .map_err(|e| unresolved(e.to_string()))?
        .find(SocketAddr::is_ipv4)
        .ok_or_else(|| unresolved("no IPv4 address".into()))
}
