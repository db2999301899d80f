//! `conf` reads LavaLite's configuration files the way LavaLite writes
//! them: `ll.conf` (key = value), `ll.cluster.<LL_CLUSTER_NAME>` (the
//! host list lim elects its master from), `llb.hosts` and `llb.queues`
//! (the batch side's hosts and queues), `llb.users` (LSF's user groups
//! and per-user slot limits) and `ll.auth.key`; and what
//! `LL_LOG_DIR` / `LL_LOG_MASK` ask of a daemon's log; and who may read
//! the daemons' state under `LL_STATE_DIR` ([`state_dir`]).
//!
//! Parsing is pure (text in, typed values or an error with a line number
//! out); [`ConfDir`] adds the file reading. It knows no daemon's state and
//! opens no socket.

mod batch_hosts;
pub mod batch_link;
mod cluster;
mod error;
mod ll_conf;
pub mod logging;
mod queues;
mod sections;
pub mod state_dir;
mod users;

pub use batch_hosts::{parse_size_mb, BatchHost, BatchHosts, HostGroup, TokenPool};
pub use cluster::{ClusterFile, HostEntry};
pub use error::ConfError;
pub use ll_conf::LlConf;
pub use queues::{check_queue_hosts, parse_minutes, parse_queues, Queue, QueueLimits, RunLimit};
pub use users::UserLimits;

use std::path::{Path, PathBuf};

/// Name of the environment variable that points every tool at the
/// configuration directory.
pub const CONF_DIR_ENV: &str = "LL_CONF_DIR";

/// The auth key file's name inside the configuration directory.
pub const AUTH_KEY_FILE: &str = "ll.auth.key";

/// Bytes of the key taken from the key file.
pub const AUTH_KEY_LEN: usize = 32;

/// A configuration directory (`$LL_CONF_DIR`).
#[derive(Clone, Debug)]
pub struct ConfDir {
    pub path: PathBuf,
}

impl ConfDir {
    pub fn new(path: impl Into<PathBuf>) -> ConfDir {
        ConfDir { path: path.into() }
    }

    /// The directory named by `$LL_CONF_DIR`.
    pub fn from_env() -> Result<ConfDir, ConfError> {
        match std::env::var_os(CONF_DIR_ENV) {
            Some(dir) if !dir.is_empty() => Ok(ConfDir::new(dir)),
            _ => Err(ConfError::NoConfDir),
        }
    }

    /// The directory a daemon's `-c DIR` names, else `$LL_CONF_DIR`.
    pub fn from_arg_or_env(arg: Option<PathBuf>) -> Result<ConfDir, ConfError> {
        match arg {
            Some(path) => Ok(ConfDir::new(path)),
            None => ConfDir::from_env(),
        }
    }

    /// `ll.conf`.
    pub fn ll_conf(&self) -> Result<LlConf, ConfError> {
        let path = self.path.join("ll.conf");
        Ok(LlConf::parse(&read(&path)?))
    }

    /// `ll.cluster.<LL_CLUSTER_NAME>`.
    pub fn cluster(&self, conf: &LlConf) -> Result<ClusterFile, ConfError> {
        let name = conf.require("LL_CLUSTER_NAME")?;
        let path = self.path.join(format!("ll.cluster.{name}"));
        ClusterFile::parse(&read(&path)?).map_err(|e| e.in_file(&path))
    }

    /// `llb.hosts`.
    pub fn batch_hosts(&self) -> Result<BatchHosts, ConfError> {
        let path = self.path.join("llb.hosts");
        BatchHosts::parse(&read(&path)?).map_err(|e| e.in_file(&path))
    }

    /// `llb.queues`, with every HOSTS entry checked against `hosts`.
    pub fn queues(&self, hosts: &BatchHosts) -> Result<Vec<Queue>, ConfError> {
        let path = self.path.join("llb.queues");
        parse_queues(&read(&path)?)
            .and_then(|q| check_queue_hosts(&q, hosts).map(|()| q))
            .map_err(|e| e.in_file(&path))
    }

    /// `llb.users`, if there is one (else no user limits).
    pub fn users(&self) -> Result<UserLimits, ConfError> {
        let path = self.path.join("llb.users");
        match std::fs::read_to_string(&path) {
            Ok(text) => UserLimits::parse(&text).map_err(|e| e.in_file(&path)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(UserLimits::default()),
            Err(source) => Err(ConfError::Read { path, source }),
        }
    }

    /// A warning when the key file can be read by users other than its
    /// owner: each of them can then sign requests as any user, root
    /// included. `None` when it cannot (or there is no key file).
    pub fn auth_key_exposure(&self) -> Option<String> {
        use std::os::unix::fs::PermissionsExt;
        let path = self.path.join(AUTH_KEY_FILE);
        let mode = std::fs::metadata(&path).ok()?.permissions().mode();
        (mode & 0o044 != 0).then(|| {
            format!(
                "{} is readable by other users (mode {:03o}): anyone who can read it can act as any user, root included. \
                 chmod 600 it: users' commands then have their requests signed by their host's lim",
                path.display(),
                mode & 0o777
            )
        })
    }

    /// The cluster key, or `None` when there is no key file.
    pub fn auth_key(&self) -> Result<Option<proto::auth::AuthKey>, ConfError> {
        let path = self.path.join(AUTH_KEY_FILE);
        match std::fs::read(&path) {
            Ok(bytes) if bytes.len() >= AUTH_KEY_LEN => Ok(Some(proto::auth::AuthKey::new(
                bytes[..AUTH_KEY_LEN].to_vec(),
            ))),
            Ok(bytes) => Err(ConfError::ShortKey {
                path,
                len: bytes.len(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(ConfError::Read { path, source }),
        }
    }
}

fn read(path: &Path) -> Result<String, ConfError> {
    std::fs::read_to_string(path).map_err(|source| ConfError::Read {
        path: path.to_owned(),
        source,
    })
}
