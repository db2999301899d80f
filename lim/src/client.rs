//! The query side for the commands (lsid, lsload, lshosts) and tests:
//! blocking, one short TCP exchange per question, trying the cluster's
//! hosts in file order so a down host is skipped.

use crate::settings::{lim_addrs, SettingsError, DEFAULT_PORT};
use conf::ConfDir;
use proto::lim::{op, status, ClusterInfo, HostRecord, LimStats};
use proto::{Decode, Header};
use std::fmt;
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

/// Replies bigger than this are refused (10k hosts take about 1.5 MiB).
const MAX_REPLY_BODY: u32 = 64 << 20;

#[derive(Debug)]
pub enum ClientError {
    Settings(SettingsError),
    /// No lim answered; each host tried with why it failed.
    NoAnswer(Vec<(String, String)>),
    /// A lim answered, but knows no master yet.
    NoMaster {
        cluster: String,
    },
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Settings(e) => e.fmt(f),
            ClientError::NoAnswer(tried) => {
                f.write_str("no lim answered")?;
                for (i, (host, why)) in tried.iter().enumerate() {
                    write!(f, "{} {host}: {why}", if i == 0 { ":" } else { ";" })?;
                }
                Ok(())
            }
            ClientError::NoMaster { cluster } => {
                write!(
                    f,
                    "cluster {cluster} has no master yet (election in progress)"
                )
            }
        }
    }
}

impl std::error::Error for ClientError {}

impl From<SettingsError> for ClientError {
    fn from(e: SettingsError) -> Self {
        ClientError::Settings(e)
    }
}

/// Talks to the lims of one cluster.
#[derive(Clone, Debug)]
pub struct LimClient {
    /// (host name, lim address) in cluster-file order.
    pub hosts: Vec<(String, SocketAddr)>,
    /// The cluster file's `ClusterAdmin`, if it names one.
    pub admin: Option<String>,
    pub connect_timeout: Duration,
    pub reply_timeout: Duration,
}

impl LimClient {
    /// The cluster of `dir`, with `LL_API_CONNTIMEOUT`/`LL_API_RECVTIMEOUT`.
    pub fn from_conf(dir: &ConfDir) -> Result<LimClient, ClientError> {
        let ll = dir.ll_conf().map_err(SettingsError::from)?;
        let cluster = dir.cluster(&ll).map_err(SettingsError::from)?;
        let port = ll
            .port("LL_LIM_PORT", DEFAULT_PORT)
            .map_err(SettingsError::from)?;
        let addrs = lim_addrs(&cluster, port)?;
        let seconds = |key, default| ll.seconds(key, Duration::from_secs(default));
        Ok(LimClient {
            admin: cluster.admin.clone(),
            hosts: cluster
                .hosts
                .into_iter()
                .map(|h| h.name)
                .zip(addrs)
                .collect(),
            connect_timeout: seconds("LL_API_CONNTIMEOUT", 3).map_err(SettingsError::from)?,
            reply_timeout: seconds("LL_API_RECVTIMEOUT", 5).map_err(SettingsError::from)?,
        })
    }

    /// This client asking `host`'s lim first (this machine's, usually:
    /// it answers at once, and knows the master as well as any).
    pub fn local_first(mut self, host: &str) -> LimClient {
        if let Some(at) = self.hosts.iter().position(|(name, _)| name == host) {
            let local = self.hosts.remove(at);
            self.hosts.insert(0, local);
        }
        self
    }

    /// The master's host name, as the first lim that answers knows it.
    pub fn master(&self) -> Result<String, ClientError> {
        let info = self.cluster_info()?;
        if info.master.is_empty() {
            return Err(ClientError::NoMaster {
                cluster: info.cluster,
            });
        }
        Ok(info.master)
    }

    /// Cluster name and master, from the first lim that answers.
    pub fn cluster_info(&self) -> Result<ClusterInfo, ClientError> {
        self.first_answer(|addr| self.ask::<ClusterInfo>(addr, op::CLUSTER_INFO))
    }

    /// Every host with its load, from the master (asked through the first
    /// lim that answers).
    pub fn hosts(&self) -> Result<Vec<HostRecord>, ClientError> {
        let mut no_master = None;
        let result = self.first_answer(|addr| match self.query(addr, op::HOSTS)? {
            (status::OK, body) => decode(&body),
            (status::NOT_MASTER, body) => {
                let info: ClusterInfo = decode(&body)?;
                let master: SocketAddr = match info.master_addr.parse() {
                    Ok(addr) => addr,
                    Err(_) => {
                        no_master = Some(info.cluster);
                        return Err("knows no master".into());
                    }
                };
                match self.query(master, op::HOSTS)? {
                    (status::OK, body) => decode(&body),
                    (s, _) => Err(format!("master {} answered status {s}", info.master)),
                }
            }
            (s, _) => Err(format!("answered status {s}")),
        });
        match (result, no_master) {
            (Err(ClientError::NoAnswer(_)), Some(cluster)) => {
                Err(ClientError::NoMaster { cluster })
            }
            (result, _) => result,
        }
    }

    /// The counters of the lim at `addr`.
    pub fn stats(&self, addr: SocketAddr) -> Result<LimStats, String> {
        self.ask(addr, op::STATS)
    }

    fn first_answer<T>(
        &self,
        mut ask: impl FnMut(SocketAddr) -> Result<T, String>,
    ) -> Result<T, ClientError> {
        let mut tried = Vec::new();
        for (name, addr) in &self.hosts {
            match ask(*addr) {
                Ok(answer) => return Ok(answer),
                Err(why) => tried.push((name.clone(), why)),
            }
        }
        Err(ClientError::NoAnswer(tried))
    }

    fn ask<T: Decode>(&self, addr: SocketAddr, operation: u32) -> Result<T, String> {
        match self.query(addr, operation)? {
            (status::OK, body) => decode(&body),
            (s, _) => Err(format!("answered status {s}")),
        }
    }

    /// One request with an empty body; the reply's status and body.
    fn query(&self, addr: SocketAddr, operation: u32) -> Result<(u32, Vec<u8>), String> {
        let io = |e: std::io::Error| format!("{addr}: {e}");
        let mut stream =
            chan::blocking::connect(addr, self.connect_timeout, self.reply_timeout).map_err(io)?;
        let request = Header::request(1, operation, 0);
        stream.write_all(&request.to_bytes()).map_err(io)?;
        let (header, body) = chan::blocking::read_reply(&mut stream, MAX_REPLY_BODY).map_err(io)?;
        Ok((header.status, body))
    }
}

fn decode<T: Decode>(body: &[u8]) -> Result<T, String> {
    T::from_body(body).map_err(|e| format!("undecodable reply: {e}"))
}
