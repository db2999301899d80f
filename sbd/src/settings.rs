//! What sbd reads from the configuration directory.

use crate::run_limit::Escalation;
use conf::batch_link::{require_key, sbd_heartbeat, Endpoint};
use conf::{ConfDir, ConfError};
use proto::auth::AuthKey;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug)]
pub struct Settings {
    /// The host this sbd serves (its name in llb.hosts).
    pub host: String,
    pub mbd: Endpoint,
    pub key: AuthKey,
    /// `LL_STATE_DIR/sbd.<host>`: the job spool.
    pub spool_dir: PathBuf,
    pub conf_dir: PathBuf,
    /// `LL_SBD_HEARTBEAT`.
    pub heartbeat: Duration,
    /// `LL_AUTH_MAX_AGE`, seconds.
    pub auth_max_age: u64,
    /// `LL_CGROUP_ROOT` (LavaLite's default unless set; `none`: off).
    pub cgroup_root: Option<PathBuf>,
    /// After a run limit: `LL_RUNLIMIT_GRACE` (600 s, LSF's fixed wait)
    /// and `JOB_TERMINATE_INTERVAL` (10 s, as in LSF's lsb.params).
    pub run_limit: Escalation,
}

impl Settings {
    pub fn load(dir: &ConfDir, host: Option<String>) -> Result<Settings, ConfError> {
        let ll = dir.ll_conf()?;
        let host = host.unwrap_or_else(os::host::name);
        let batch = dir.batch_hosts()?;
        if !batch.hosts.iter().any(|h| h.name == host) {
            return Err(ConfError::Invalid(format!(
                "host {host} is not in llb.hosts (pass --host NAME if this machine's name differs)"
            )));
        }
        let spool_dir = PathBuf::from(ll.require("LL_STATE_DIR")?).join(format!("sbd.{host}"));
        let conf_dir = std::fs::canonicalize(&dir.path).unwrap_or_else(|_| dir.path.clone());
        Ok(Settings {
            mbd: Endpoint::new(dir, &ll)?,
            key: require_key(dir)?,
            host,
            spool_dir,
            conf_dir,
            heartbeat: sbd_heartbeat(&ll)?,
            auth_max_age: ll.auth_max_age()?,
            cgroup_root: crate::cgroup::configured_root(&ll),
            run_limit: Escalation {
                grace: ll
                    .seconds("LL_RUNLIMIT_GRACE", Duration::from_secs(600))?
                    .as_secs(),
                interval: (ll.seconds("JOB_TERMINATE_INTERVAL", Duration::from_secs(10))?)
                    .as_secs(),
            },
        })
    }
}
