//! Daemon processes of a local cluster: pid files, liveness, start, stop.

use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The daemon binaries the launcher manages.
pub const DAEMONS: [&str; 3] = ["lim", "mbd", "sbd"];

/// One daemon of one simulated host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaemonSpec {
    /// The binary's name: `lim`, `mbd` or `sbd`.
    pub daemon: &'static str,
    pub host: String,
}

impl DaemonSpec {
    /// `DIR/run/<daemon>.<host>.pid`.
    pub fn pid_file(&self, dir: &Path) -> PathBuf {
        dir.join("run")
            .join(format!("{}.{}.pid", self.daemon, self.host))
    }

    /// The daemon a pid file in `DIR/run` is for.
    pub fn from_pid_file(path: &Path) -> Option<DaemonSpec> {
        let name = path.file_name()?.to_str()?.strip_suffix(".pid")?;
        let (daemon, host) = name.split_once('.')?;
        let daemon = DAEMONS.iter().find(|d| **d == daemon)?;
        Some(DaemonSpec {
            daemon,
            host: host.to_owned(),
        })
    }

    /// `<log dir>/<daemon>.log.<host>`: the file the daemon logs to itself
    /// (with `LL_LOG_DIR`), which also takes its stdout and stderr.
    pub fn log_file(&self, log_dir: &Path) -> PathBuf {
        log_dir.join(conf::logging::log_file_name(self.daemon, &self.host))
    }

    /// The pid of this daemon if its pid file names a live process that
    /// runs this daemon's binary (a reused pid does not count).
    pub fn running_pid(&self, dir: &Path) -> Option<u32> {
        let pid: u32 = fs::read_to_string(self.pid_file(dir))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        is_alive(pid, self.daemon).then_some(pid)
    }

    /// Starts the daemon in its own process group with stdout and stderr
    /// appended to `log`, and writes its pid file.
    pub fn start(&self, dir: &Path, bin_dir: &Path, log: &Path) -> io::Result<Child> {
        let program = bin_dir.join(self.daemon);
        if !program.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "{} not found (build the workspace first)",
                    program.display()
                ),
            ));
        }
        if let Some(parent) = log.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::create_dir_all(dir.join("run"))?;
        let out = OpenOptions::new().create(true).append(true).open(log)?;
        let child = Command::new(&program)
            .arg("-c")
            .arg(dir)
            .arg("--host")
            .arg(&self.host)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            // Not in the launcher's group: a ^C at the shell must not stop it.
            .process_group(0)
            .spawn()?;
        fs::write(self.pid_file(dir), format!("{}\n", child.id()))?;
        Ok(child)
    }

    /// Stops the daemon its pid file names (SIGTERM, then SIGKILL after
    /// `grace`) and removes the pid file. Returns whether it had to be
    /// killed.
    pub fn stop(&self, dir: &Path, grace: Duration) -> io::Result<bool> {
        let killed = match self.running_pid(dir) {
            Some(pid) => terminate(pid, self.daemon, grace)?,
            None => false,
        };
        let _ = fs::remove_file(self.pid_file(dir));
        Ok(killed)
    }

    /// Stops a daemon this process started as `child`, going by the
    /// handle rather than the pid file: right after the start its command
    /// line can still read empty (exec not finished), and an unreaped
    /// child's pid cannot have been reused. Reaps it and removes the pid
    /// file. Returns whether it was still running.
    pub fn stop_child(&self, dir: &Path, child: &mut Child, grace: Duration) -> io::Result<bool> {
        let running = child.try_wait()?.is_none();
        if running {
            terminate(child.id(), self.daemon, grace)?;
            child.wait()?;
        }
        let _ = fs::remove_file(self.pid_file(dir));
        Ok(running)
    }
}

/// SIGTERM, up to `grace` to exit, then SIGKILL; returns once `pid` has
/// finished exiting (its ports and locks are free for the next start).
/// Returns whether it had to be killed.
fn terminate(pid: u32, daemon: &str, grace: Duration) -> io::Result<bool> {
    os::process::signal(pid, libc::SIGTERM)?;
    if wait_exited(pid, grace) {
        return Ok(false);
    }
    // Gone in between is fine: ESRCH.
    let _ = os::process::signal(pid, libc::SIGKILL);
    if wait_exited(pid, grace) {
        Ok(true)
    } else {
        Err(io::Error::other(format!(
            "{daemon} (pid {pid}) has not exited {grace:?} after SIGKILL"
        )))
    }
}

/// Waits up to `limit` for `pid` to finish exiting; whether it did.
fn wait_exited(pid: u32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while !os::process::process_exited(pid) {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// Whether `pid` runs `binary` and has not exited (a process that is
/// exiting still counts: it still holds its ports and locks).
pub fn is_alive(pid: u32, binary: &str) -> bool {
    os::process::process_name(pid).is_some_and(|name| name == binary)
}

/// The last `n` lines of a log, to show why a daemon did not come up.
pub fn log_tail(log: &Path, n: usize) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// What to do when a daemon's log says its port is taken: the usual
/// cause is a second local cluster on the default ports.
pub fn port_taken_hint(log_tail: &str) -> &'static str {
    if log_tail.contains("Address already in use") {
        "\n(another cluster or daemon holds the port: stop it, or give this \
         cluster others: LL_LIM_PORT and LL_MBD_PORT in ll.conf, or \
         `lavalite up --port P` for a new directory)"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_port_gets_a_hint_and_other_failures_none() {
        let taken = "lim: cannot bind UDP 127.0.0.11:6861: Address already in use (os error 98)";
        assert!(port_taken_hint(taken).contains("lavalite up --port P"));
        assert_eq!(port_taken_hint("lim: bad configuration in /x"), "");
    }
}
