//! Processes: signalling them, waiting for children with what they
//! used, whether one still runs (from /proc), and what sbd's job runner
//! does before it starts a job (become the user, set the umask, make room
//! for a large environment). On `nix`; no `unsafe`.

use nix::errno::Errno;
use nix::sys::resource::{getrlimit, getrusage, setrlimit, Resource, UsageWho, RLIM_INFINITY};
use nix::sys::signal::{kill, killpg, Signal};
use nix::sys::stat::{umask, Mode};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{initgroups, setgid, setuid, Gid, Pid, Uid};
use std::ffi::CString;
use std::io;

fn pid_of(pid: u32) -> io::Result<Pid> {
    i32::try_from(pid)
        .map(Pid::from_raw)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pid out of range"))
}

/// Signal `signo` (0: none, only whether `pid` exists and may be signalled).
fn signal_of(signo: i32) -> io::Result<Option<Signal>> {
    if signo == 0 {
        return Ok(None);
    }
    Signal::try_from(signo).map(Some).map_err(io::Error::from)
}

/// Sends `signo` to process `pid`.
pub fn signal(pid: u32, signo: i32) -> io::Result<()> {
    kill(pid_of(pid)?, signal_of(signo)?).map_err(io::Error::from)
}

/// Sends `signo` to every process in process group `pgid` (never to
/// group 0 or 1: this one's, or init's).
pub fn signal_group(pgid: u32, signo: i32) -> io::Result<()> {
    if pgid <= 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "bad process group",
        ));
    }
    killpg(pid_of(pgid)?, signal_of(signo)?).map_err(io::Error::from)
}

/// How a child ended and what it used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChildExit {
    /// Exit code, or 128 + signal when a signal ended it (the shell's
    /// convention, so one number says both).
    pub code: i32,
    /// The signal that ended it, or 0.
    pub signal: i32,
    pub user_ms: u64,
    pub system_ms: u64,
    pub max_rss_kb: u64,
}

/// (exit code, signal) of a child that ended; `None` if it has not.
fn ended(status: WaitStatus) -> Option<(u32, i32, i32)> {
    match status {
        WaitStatus::Exited(pid, code) => Some((pid.as_raw() as u32, code, 0)),
        WaitStatus::Signaled(pid, sig, _) => {
            let sig = sig as i32;
            Some((pid.as_raw() as u32, 128 + sig, sig))
        }
        _ => None,
    }
}

/// Waits for child `pid` to end. Its usage is that of every child this
/// process has waited for (the kernel keeps no per-child figure outside
/// wait4): exact for a process with one child, as sbd's job runner is.
pub fn wait_child(pid: u32) -> io::Result<ChildExit> {
    let target = pid_of(pid)?;
    loop {
        match waitpid(target, None) {
            Ok(status) => {
                if let Some((_, code, signal)) = ended(status) {
                    return Ok(with_children_usage(code, signal));
                }
            }
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

fn with_children_usage(code: i32, signal: i32) -> ChildExit {
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).ok();
    let ms = |tv: nix::sys::time::TimeVal| tv.tv_sec() as u64 * 1000 + tv.tv_usec() as u64 / 1000;
    ChildExit {
        code,
        signal,
        user_ms: usage.map_or(0, |u| ms(u.user_time())),
        system_ms: usage.map_or(0, |u| ms(u.system_time())),
        max_rss_kb: usage.map_or(0, |u| u.max_rss().max(0) as u64),
    }
}

/// Reaps one ended child without blocking, if there is one: its pid,
/// exit code and signal (no usage).
pub fn reap_child() -> io::Result<Option<(u32, ChildExit)>> {
    loop {
        match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => return Ok(None),
            Ok(status) => {
                if let Some((pid, code, signal)) = ended(status) {
                    let exit = ChildExit {
                        code,
                        signal,
                        ..ChildExit::default()
                    };
                    return Ok(Some((pid, exit)));
                }
            }
            Err(Errno::EINTR) => {}
            Err(Errno::ECHILD) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Makes room for an exec whose argument and environment strings take
/// `bytes` (with their NULs) in `count` strings. Linux gives them at most
/// a quarter of the soft stack limit (and never more than 6 MiB), so a
/// smaller limit is raised, up to the hard limit; returns the new limit
/// if it was raised. Exec then still fails for what cannot fit.
pub fn make_room_for_exec(bytes: u64, count: u64) -> io::Result<Option<u64>> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_STACK)?;
    let pointers = (count + 1) * std::mem::size_of::<usize>() as u64;
    // A page more than four times the need: the kernel's check is strict.
    let need = (bytes + pointers).saturating_mul(4).saturating_add(4096);
    if soft == RLIM_INFINITY || soft >= need {
        return Ok(None);
    }
    let raised = need.min(hard);
    setrlimit(Resource::RLIMIT_STACK, raised, hard)?;
    Ok(Some(raised))
}

/// Sets the file-creation mask; returns the old one.
pub fn set_umask(mask: u32) -> u32 {
    umask(Mode::from_bits_truncate(mask as nix::libc::mode_t)).bits() as u32
}

/// Becomes `user` for good: its groups (from NSS), its group id, then its
/// user id. Needs root; call it before starting threads.
pub fn become_user(user: &str, uid: u32, gid: u32) -> io::Result<()> {
    let name = CString::new(user)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "user name holds a NUL"))?;
    initgroups(&name, Gid::from_raw(gid))?;
    setgid(Gid::from_raw(gid))?;
    setuid(Uid::from_raw(uid))?;
    Ok(())
}

/// The name (the kernel's `comm`: the executable's file name, cut to 15
/// bytes) and state letter (`R`, `S`, `Z`, ...) of process `pid`.
fn name_and_state(pid: u32) -> Option<(String, char)> {
    stat_name_and_state(&format!("/proc/{pid}/stat"))
}

fn stat_name_and_state(path: &str) -> Option<(String, char)> {
    let stat = std::fs::read_to_string(path).ok()?;
    // The name is parenthesised and may itself hold spaces or `)`.
    let (head, tail) = stat.rsplit_once(')')?;
    let name = head.split_once('(')?.1;
    Some((name.to_owned(), tail.trim_start().chars().next()?))
}

/// Whether process `pid` has finished exiting: gone, or a zombie whose
/// every thread has exited too. Only then are its sockets closed and its
/// locks released: the files are shared by the threads, and a killed
/// process's main thread can be a zombie while another is still in exit
/// (mbd's lim thread kept its event-log lock past that point). While it
/// is in exit its command line already reads empty.
pub fn process_exited(pid: u32) -> bool {
    let exited = |state: Option<(String, char)>| state.is_none_or(|(_, s)| matches!(s, 'Z' | 'X'));
    match std::fs::read_dir(format!("/proc/{pid}/task")) {
        Ok(tasks) => (tasks.flatten()).all(|task| {
            let path = task.path().join("stat");
            exited(path.to_str().and_then(stat_name_and_state))
        }),
        Err(_) => exited(name_and_state(pid)),
    }
}

/// The name of process `pid` if it has not exited. Unlike the command
/// line, the name is there all through the process's exit, and from
/// early in its exec.
pub fn process_name(pid: u32) -> Option<String> {
    name_and_state(pid)
        .filter(|(_, state)| !matches!(state, 'Z' | 'X'))
        .map(|(name, _)| name)
}

/// The command line of process `pid` if it is alive and not a zombie
/// (empty while it is exiting).
pub fn live_process_args(pid: u32) -> Option<Vec<String>> {
    if process_exited(pid) {
        return None;
    }
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    Some(
        (cmdline.split(|b| *b == 0))
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn a_process_has_exited_once_it_is_a_zombie_or_gone() {
        let me = std::process::id();
        assert!(!process_exited(me));
        let exe = std::env::current_exe().expect("current exe");
        let name = exe.file_name().map(|n| n.to_string_lossy().into_owned());
        assert_eq!(
            process_name(me).as_deref(),
            name.as_deref().map(|n| &n[..n.len().min(15)])
        );
        assert!(live_process_args(me).is_some_and(|args| !args.is_empty()));
        let mut child = Command::new("/bin/sh")
            .args(["-c", "exit 0"])
            .spawn()
            .expect("spawn sh");
        let pid = child.id();
        // Unreaped, it stays a zombie: exited, with no command line.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !process_exited(pid) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(process_exited(pid), "sh {pid} never exited");
        assert_eq!(live_process_args(pid), None);
        assert_eq!(process_name(pid), None);
        let _ = child.wait();
        assert!(process_exited(pid), "a reaped pid is gone");
    }

    #[test]
    fn a_zombie_whose_other_thread_still_runs_has_not_exited() {
        // The main thread leaves with exit(2) (not exit_group), so it is a
        // zombie while the other thread sleeps on, holding the files.
        let script = "import ctypes, threading, time\n\
                      threading.Thread(target=time.sleep, args=(0.5,)).start()\n\
                      ctypes.CDLL(None).syscall(60, 0)\n";
        let mut child = Command::new("python3")
            .args(["-c", script])
            .spawn()
            .expect("spawn python3");
        let pid = child.id();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let leader_zombie = || name_and_state(pid).is_some_and(|(_, s)| s == 'Z');
        while !leader_zombie() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        assert!(leader_zombie(), "the main thread never exited");
        assert!(!process_exited(pid), "its other thread is still running");
        while !process_exited(pid) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(process_exited(pid), "exited once the last thread did");
        let _ = child.wait();
    }

    #[test]
    fn a_child_s_exit_code_and_signal_are_reported() {
        let child = Command::new("/bin/sh").args(["-c", "exit 3"]).spawn();
        let exit = wait_child(child.expect("spawn sh").id());
        assert_eq!(exit.map(|e| (e.code, e.signal)).ok(), Some((3, 0)));
        let child = Command::new("/bin/sh")
            .args(["-c", "kill -TERM $$"])
            .spawn();
        let exit = wait_child(child.expect("spawn sh").id());
        assert_eq!(exit.map(|e| (e.code, e.signal)).ok(), Some((143, 15)));
    }
}
