//! `LL_LOG_DIR` and `LL_LOG_MASK`: where a daemon logs and how much, as
//! LavaLite decides it. Writing the log is the daemon's business.

use crate::{ConfError, LlConf};
use log::LevelFilter;
use std::path::PathBuf;

/// LavaLite's level when `LL_LOG_MASK` is unset.
pub const DEFAULT_MASK: &str = "LOG_WARNING";

/// Where and how much one daemon logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogPlan {
    /// `LL_LOG_DIR/<daemon>.log.<host>`, or `None` (no `LL_LOG_DIR`):
    /// standard error, for a service manager's journal.
    pub file: Option<PathBuf>,
    pub level: LevelFilter,
}

/// A daemon's log file name in `LL_LOG_DIR`, LavaLite's `mbd.log.node01`.
pub fn log_file_name(daemon: &str, host: &str) -> String {
    format!("{daemon}.log.{host}")
}

/// The level a syslog-style mask name lets through.
pub fn level_of_mask(mask: &str) -> Option<LevelFilter> {
    Some(match mask {
        "LOG_EMERG" | "LOG_ALERT" | "LOG_CRIT" | "LOG_ERR" => LevelFilter::Error,
        "LOG_WARNING" => LevelFilter::Warn,
        "LOG_NOTICE" | "LOG_INFO" => LevelFilter::Info,
        "LOG_DEBUG" => LevelFilter::Debug,
        _ => return None,
    })
}

impl LlConf {
    /// The log plan of `daemon` on `host`.
    pub fn log_plan(&self, daemon: &str, host: &str) -> Result<LogPlan, ConfError> {
        let mask = self.get("LL_LOG_MASK").unwrap_or(DEFAULT_MASK);
        let level = level_of_mask(mask).ok_or_else(|| ConfError::BadValue {
            key: "LL_LOG_MASK",
            value: mask.to_owned(),
            expected: "a level from LOG_EMERG to LOG_DEBUG",
        })?;
        let file = (self.get("LL_LOG_DIR"))
            .map(|dir| PathBuf::from(dir).join(log_file_name(daemon, host)));
        Ok(LogPlan { file, level })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_dir_and_mask_as_lavalite_reads_them() {
        let ll = LlConf::parse("LL_LOG_DIR = /var/log/ll\nLL_LOG_MASK = LOG_DEBUG\n");
        assert_eq!(
            ll.log_plan("mbd", "node01").unwrap(),
            LogPlan {
                file: Some(PathBuf::from("/var/log/ll/mbd.log.node01")),
                level: LevelFilter::Debug,
            }
        );
        let bare = LlConf::parse("");
        assert_eq!(
            bare.log_plan("sbd", "n").unwrap(),
            LogPlan {
                file: None,
                level: LevelFilter::Warn,
            }
        );
        let bad = LlConf::parse("LL_LOG_MASK = verbose\n");
        let err = bad.log_plan("lim", "n").unwrap_err().to_string();
        assert!(
            err.contains("LL_LOG_MASK") && err.contains("verbose"),
            "{err}"
        );
        assert_eq!(level_of_mask("LOG_ERR"), Some(LevelFilter::Error));
        assert_eq!(level_of_mask("LOG_NOTICE"), Some(LevelFilter::Info));
    }
}
