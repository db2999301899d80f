//! What mbd and the batch commands read from the configuration directory,
//! checked up front so a bad config is one clear error.

use crate::Cluster;
pub use conf::batch_link::{
    mbd_addr, require_key, sbd_heartbeat, Endpoint, DEFAULT_MBD_PORT as DEFAULT_PORT,
    DEFAULT_SBD_HEARTBEAT,
};
use conf::{ConfDir, ConfError, LlConf};
use proto::auth::AuthKey;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Default scheduling interval (`mbd --sched_timer`).
pub const DEFAULT_SCHED: Duration = Duration::from_secs(2);
/// Default `LL_MBD_JOB_FINISH_THRESHOLD`.
pub const DEFAULT_FINISH_THRESHOLD: usize = 1000;

#[derive(Debug)]
pub enum SettingsError {
    Conf(ConfError),
    Invalid(String),
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingsError::Conf(e) => e.fmt(f),
            SettingsError::Invalid(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for SettingsError {}

impl From<ConfError> for SettingsError {
    fn from(e: ConfError) -> Self {
        SettingsError::Conf(e)
    }
}

/// Everything mbd itself needs.
#[derive(Debug)]
pub struct Settings {
    /// Where the configuration was read from (`badmin reconfig` reads it
    /// again).
    pub conf_dir: ConfDir,
    pub bind: SocketAddr,
    /// The event log and its archives ([`mbd_state_dir`]).
    pub state_dir: PathBuf,
    pub cluster: Cluster,
    pub key: AuthKey,
    /// Root, mbd's own uid, and `LL_MBD_USER`'s.
    pub admin_uids: Vec<u32>,
    pub finish_threshold: usize,
    pub sched_interval: Duration,
    pub sbd_heartbeat: Duration,
    /// `LL_AUTH_MAX_AGE`, seconds.
    pub auth_max_age: u64,
    /// `LL_MBD_METRICS_PORT` on mbd's address: the metrics endpoint.
    pub metrics: Option<SocketAddr>,
}

impl Settings {
    pub fn load(
        dir: &ConfDir,
        sched_interval: Option<Duration>,
    ) -> Result<Settings, SettingsError> {
        let ll = dir.ll_conf()?;
        let (cluster, state_dir) = load_jobs_place(dir, &ll)?;
        let finish_threshold = match ll.get("LL_MBD_JOB_FINISH_THRESHOLD") {
            None => DEFAULT_FINISH_THRESHOLD,
            Some(text) => text.parse().map_err(|_| {
                SettingsError::Invalid(format!("LL_MBD_JOB_FINISH_THRESHOLD: not a count: {text}"))
            })?,
        };
        let admin_user = ll.get("LL_MBD_USER").unwrap_or("lavalite");
        let mut admin_uids = vec![0, os::users::ids().0];
        admin_uids.extend(os::users::by_name(admin_user).map(|u| u.uid));
        Ok(Settings {
            conf_dir: dir.clone(),
            bind: mbd_addr(dir, &ll)?,
            state_dir,
            cluster,
            key: require_key(dir)?,
            admin_uids,
            finish_threshold,
            sched_interval: sched_interval.unwrap_or(DEFAULT_SCHED),
            sbd_heartbeat: sbd_heartbeat(&ll)?,
            auth_max_age: ll.auth_max_age()?,
            metrics: match ll.get("LL_MBD_METRICS_PORT") {
                None => None,
                Some(_) => Some(SocketAddr::new(
                    mbd_addr(dir, &ll)?.ip(),
                    ll.port("LL_MBD_METRICS_PORT", 0)?,
                )),
            },
        })
    }
}

impl Settings {
    /// The event log's path; its archives sit beside it.
    pub fn log_path(&self) -> PathBuf {
        self.state_dir.join(EVENT_LOG_FILE)
    }
}

/// The event log's file name in `LL_STATE_DIR/mbd`.
const EVENT_LOG_FILE: &str = "events";

/// What reading mbd's event logs needs without mbd (bhist): the cluster,
/// to rebuild jobs, and the log's path.
pub fn history_sources(dir: &ConfDir) -> Result<(Cluster, PathBuf), SettingsError> {
    let ll = dir.ll_conf()?;
    let (cluster, state_dir) = load_jobs_place(dir, &ll)?;
    Ok((cluster, state_dir.join(EVENT_LOG_FILE)))
}

/// The configured cluster and mbd's state directory.
pub fn load_jobs_place(dir: &ConfDir, ll: &LlConf) -> Result<(Cluster, PathBuf), SettingsError> {
    let batch = dir.batch_hosts()?;
    let queues = dir.queues(&batch)?;
    let default_queue = ll.require("LL_DEFAULT_QUEUE")?;
    let mut cluster = Cluster::new(batch, queues, default_queue, crate::accounts::account)
        .map_err(SettingsError::Invalid)?;
    cluster.users = dir.users()?;
    cluster.fairshare = fairshare_factors(ll)?;
    Ok((cluster, mbd_state_dir(ll)?))
}

/// Fair share's factors: ll.conf keys with LSF's lsb.params names.
fn fairshare_factors(ll: &LlConf) -> Result<crate::fairshare::Factors, ConfError> {
    let defaults = crate::fairshare::Factors::default();
    let factor = |key: &'static str, default: f64| match ll.get(key) {
        None => Ok(default),
        Some(v) => (v.parse::<f64>().ok())
            .filter(|f| f.is_finite() && *f >= 0.0)
            .ok_or_else(|| ConfError::Invalid(format!("{key} = {v}: not a number 0 or above"))),
    };
    Ok(crate::fairshare::Factors {
        cpu_time: factor("CPU_TIME_FACTOR", defaults.cpu_time)?,
        run_time: factor("RUN_TIME_FACTOR", defaults.run_time)?,
        run_job: factor("RUN_JOB_FACTOR", defaults.run_job)?,
        hist_hours: factor("HIST_HOURS", defaults.hist_hours)?,
    })
}

/// Where mbd keeps its event log: `LSB_SHAREDIR/mbd` when set (LSF's key:
/// the directory every master candidate shares, docs/mbd.md "Failover"),
/// else `LL_STATE_DIR/mbd` (on a local disk, as sbd's spool must be).
pub fn mbd_state_dir(ll: &LlConf) -> Result<PathBuf, ConfError> {
    let base = match ll.get("LSB_SHAREDIR") {
        Some(shared) => shared,
        None => ll.require("LL_STATE_DIR")?,
    };
    Ok(PathBuf::from(base).join("mbd"))
}

/// How the batch commands sign their requests: with the key when this
/// user can read it, else through this machine's lim (`lim::sign`).
#[derive(Clone, Debug)]
pub enum Signing {
    Key(AuthKey),
    LocalLim { state_dir: PathBuf, host: String },
}

impl Signing {
    pub fn load(dir: &ConfDir, ll: &LlConf) -> Result<Signing, SettingsError> {
        match dir.auth_key() {
            Ok(Some(key)) => Ok(Signing::Key(key)),
            Ok(None) => Err(conf::batch_link::missing_key(dir).into()),
            Err(ConfError::Read { source, .. })
                if source.kind() == std::io::ErrorKind::PermissionDenied =>
            {
                let state_dir = ll.get("LL_STATE_DIR").ok_or_else(|| {
                    SettingsError::Invalid(format!(
                        "{} is not readable by this user and LL_STATE_DIR is not set, so no local lim can sign requests",
                        dir.path.join(conf::AUTH_KEY_FILE).display()
                    ))
                })?;
                Ok(Signing::LocalLim {
                    state_dir: PathBuf::from(state_dir),
                    host: os::host::name(),
                })
            }
            Err(e) => Err(e.into()),
        }
    }
}
