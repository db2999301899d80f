//! Every daemon's log (lim's, mbd's, sbd's): set up from `LL_LOG_DIR` and
//! `LL_LOG_MASK` as LavaLite does, `RUST_LOG` overriding the level.
//!
//! With `LL_LOG_DIR` a daemon appends to `LL_LOG_DIR/<daemon>.log.<host>`
//! (mirrored to standard error when that is a terminal) and reopens the
//! path when log rotation moved or removed the file; without it, it logs
//! to standard error, for a service manager's journal.

use conf::logging::LogPlan;
use conf::ConfDir;
use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Starts the logger for `daemon` on `host`. Returns whether standard
/// error is somewhere the log does not reach (a service manager's pipe;
/// not the terminal the log mirrors to, nor the log file itself), where a
/// fatal error should be repeated.
///
/// A configuration that cannot be read leaves the logger on standard
/// error at `info` (the daemon then fails on the same error, which gets
/// logged); a bad `LL_LOG_MASK` or a log file that cannot be opened is an
/// error.
pub fn init(daemon: &str, confdir: Option<&Path>, host: &str) -> Result<bool, String> {
    let plan = ConfDir::from_arg_or_env(confdir.map(Path::to_path_buf))
        .and_then(|dir| dir.ll_conf())
        .and_then(|ll| ll.log_plan(daemon, host).map(Some))
        .or_else(|e| match e {
            conf::ConfError::BadValue { .. } => Err(e.to_string()),
            _ => Ok(None),
        })?;
    let mut builder = env_logger::Builder::new();
    builder.filter_level(plan.as_ref().map_or(log::LevelFilter::Info, |p| p.level));
    if let Ok(spec) = std::env::var("RUST_LOG") {
        builder.parse_filters(&spec);
    }
    if let Some(LogPlan {
        file: Some(path), ..
    }) = &plan
    {
        let file = LogFile::open(path)
            .map_err(|e| format!("cannot open the log file {}: {e}", path.display()))?;
        builder.target(env_logger::Target::Pipe(Box::new(file)));
    }
    builder.init();
    let file = plan.and_then(|p| p.file);
    Ok(file.is_some_and(|path| stderr_is_elsewhere(&path)))
}

fn stderr_is_elsewhere(log: &Path) -> bool {
    let same_file = match (std::fs::metadata("/proc/self/fd/2"), std::fs::metadata(log)) {
        (Ok(err), Ok(log)) => (err.dev(), err.ino()) == (log.dev(), log.ino()),
        _ => false,
    };
    !same_file && !io::stderr().is_terminal()
}

/// A daemon's answer to SIGHUP, which would otherwise end it (LavaLite's
/// daemons died of it, so a `postrotate kill -HUP` took a cluster down):
/// there is nothing to reload, and the log follows rotation by itself.
pub fn hangup(daemon: &str) {
    log::info!("{daemon}: SIGHUP received: still running (nothing to reload; the log reopens itself after rotation)");
}

/// Counts what a daemon turns away, by cause, and says which of them to
/// log: the 1st, 2nd, 4th, 8th ... of each cause. A peer that repeats
/// itself (a flood of bad frames, a misconfigured host retrying) costs a
/// line per doubling, and each line carries the count so far.
#[derive(Debug, Default)]
pub struct Repeats {
    counts: std::collections::HashMap<&'static str, u64>,
}

impl Repeats {
    /// Counts one more `cause`; the count so far when this one is to be
    /// logged.
    pub fn note(&mut self, cause: &'static str) -> Option<u64> {
        let count = self.counts.entry(cause).or_insert(0);
        *count += 1;
        count.is_power_of_two().then_some(*count)
    }

    /// How many of `cause` were counted.
    pub fn count(&self, cause: &str) -> u64 {
        self.counts.get(cause).copied().unwrap_or(0)
    }
}

/// A log file that follows its path across rotation.
struct LogFile {
    path: PathBuf,
    file: File,
    inode: u64,
    mirror: bool,
}

impl LogFile {
    fn open(path: &Path) -> io::Result<LogFile> {
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o644)
            .open(path)?;
        Ok(LogFile {
            path: path.to_owned(),
            inode: file.metadata()?.ino(),
            file,
            mirror: io::stderr().is_terminal(),
        })
    }

    /// One stat per record: logs are a few lines per request at most.
    fn reopen_if_rotated(&mut self) {
        let moved = !std::fs::metadata(&self.path).is_ok_and(|m| m.ino() == self.inode);
        if moved {
            // If the path cannot be opened, keep writing where we were.
            if let Ok(fresh) = LogFile::open(&self.path) {
                *self = fresh;
            }
        }
    }
}

impl Write for LogFile {
    fn write(&mut self, record: &[u8]) -> io::Result<usize> {
        self.reopen_if_rotated();
        self.file.write_all(record)?;
        if self.mirror {
            let _ = io::stderr().write_all(record);
        }
        Ok(record.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_logged_at_each_doubling_per_cause() {
        let mut seen = Repeats::default();
        let logged: Vec<u64> = (0..20).filter_map(|_| seen.note("bad frame")).collect();
        assert_eq!(logged, [1, 2, 4, 8, 16]);
        assert_eq!(seen.note("auth"), Some(1), "each cause counts apart");
        assert_eq!((seen.count("bad frame"), seen.count("auth")), (20, 1));
    }

    #[test]
    fn a_rotated_log_is_reopened_at_its_path() {
        let dir = std::env::temp_dir().join(format!("lim-log-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("mbd.log.host1");
        let mut log = LogFile::open(&path).expect("open");
        log.write_all(b"one\n").expect("write");
        std::fs::rename(&path, dir.join("mbd.log.host1.1")).expect("rotate");
        log.write_all(b"two\n").expect("write");
        std::fs::remove_file(&path).expect("remove");
        log.write_all(b"three\n").expect("write");
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        assert_eq!(read("mbd.log.host1.1"), "one\n");
        assert_eq!(read("mbd.log.host1"), "three\n");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
