//! Processes and identities: whether a process runs or has exited, and,
//! for the execution daemon, reaping with resource usage, signal masks,
//! and switching to a job's user.

use super::{cvt, sigset};
use std::ffi::CString;
use std::io;

/// Marks every open descriptor from `first` up close-on-exec, so that a
/// program this process starts next inherits only those below it (the
/// standard streams), whatever this process itself inherited.
pub fn close_on_exec_from(first: i32) -> io::Result<()> {
    let fds: Vec<i32> = (std::fs::read_dir("/proc/self/fd")?.flatten())
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd >= first)
        .collect();
    for fd in fds {
        // SAFETY: fcntl on a descriptor number touches no memory; one
        // closed meanwhile (the listing's own) fails with EBADF.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
            // SAFETY: as above.
            cvt(unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) })?;
        }
    }
    Ok(())
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

impl ChildExit {
    fn new(status: libc::c_int, usage: &libc::rusage) -> ChildExit {
        let ms = |tv: libc::timeval| tv.tv_sec as u64 * 1000 + tv.tv_usec as u64 / 1000;
        let (code, signal) = if libc::WIFSIGNALED(status) {
            let sig = libc::WTERMSIG(status);
            (128 + sig, sig)
        } else {
            (libc::WEXITSTATUS(status), 0)
        };
        ChildExit {
            code,
            signal,
            user_ms: ms(usage.ru_utime),
            system_ms: ms(usage.ru_stime),
            max_rss_kb: usage.ru_maxrss.max(0) as u64,
        }
    }
}

/// `wait4(pid)`: `Some` once `pid` (or any child, for `None`) has ended,
/// `None` when `block` is false and nothing has ended yet.
fn wait4(pid: Option<u32>, block: bool) -> io::Result<Option<(u32, ChildExit)>> {
    let target = match pid {
        Some(p) => libc::pid_t::try_from(p)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pid out of range"))?,
        None => -1,
    };
    let flags = if block { 0 } else { libc::WNOHANG };
    loop {
        let mut status = 0;
        // SAFETY: rusage is plain data; all-zero is a valid value.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: status and usage are valid for writes.
        let rc = unsafe { libc::wait4(target, &mut status, flags, &mut usage) };
        match rc {
            0 => return Ok(None),
            r if r > 0 => return Ok(Some((r as u32, ChildExit::new(status, &usage)))),
            _ => {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::ECHILD) => return Ok(None),
                    _ => return Err(e),
                }
            }
        }
    }
}

/// Waits for child `pid` to end.
pub fn wait_child(pid: u32) -> io::Result<ChildExit> {
    wait4(Some(pid), true)?
        .map(|(_, exit)| exit)
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{pid} is not our child")))
}

/// Reaps one ended child without blocking, if there is one.
pub fn reap_child() -> io::Result<Option<(u32, ChildExit)>> {
    wait4(None, false)
}

/// Sends `signo` to every process in process group `pgid`.
pub fn signal_group(pgid: u32, signo: i32) -> io::Result<()> {
    let pgid = libc::pid_t::try_from(pgid)
        .ok()
        .filter(|p| *p > 1)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "bad process group"))?;
    // SAFETY: kill has no memory-safety preconditions.
    cvt(unsafe { libc::kill(-pgid, signo) }).map(drop)
}

/// Blocks `signals` in the calling thread (children started with
/// `std::process::Command` get a clean mask again).
pub fn block_signals(signals: &[i32]) -> io::Result<()> {
    let set = sigset(signals)?;
    // SAFETY: set is a valid sigset; the old-set pointer may be null.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(())
}

/// Takes the signals among `signals` (blocked by the caller) that are
/// pending, oldest first, so they are not delivered later.
pub fn take_pending(signals: &[i32]) -> io::Result<Vec<i32>> {
    let set = sigset(signals)?;
    let now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let mut taken = Vec::new();
    loop {
        // SAFETY: set and now are valid; a null siginfo pointer is allowed.
        let sig = unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &now) };
        if sig > 0 {
            taken.push(sig);
            continue;
        }
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::EAGAIN) => Ok(taken),
            Some(libc::EINTR) => continue,
            _ => Err(e),
        };
    }
}

/// Makes room for an exec whose argument and environment strings take
/// `bytes` (with their NULs) in `count` strings. Linux gives them at most
/// a quarter of the soft stack limit (and never more than 6 MiB), so a
/// smaller limit is raised, up to the hard limit; returns the new limit
/// if it was raised. Exec then still fails for what cannot fit.
pub fn make_room_for_exec(bytes: u64, count: u64) -> io::Result<Option<u64>> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: lim is a valid, writable rlimit.
    cvt(unsafe { libc::getrlimit(libc::RLIMIT_STACK, &mut lim) })?;
    let pointers = (count + 1) * std::mem::size_of::<usize>() as u64;
    // A page more than four times the need: the kernel's check is strict.
    let need = (bytes + pointers).saturating_mul(4).saturating_add(4096);
    if lim.rlim_cur == libc::RLIM_INFINITY || lim.rlim_cur >= need {
        return Ok(None);
    }
    let raised = libc::rlimit {
        rlim_cur: need.min(lim.rlim_max),
        rlim_max: lim.rlim_max,
    };
    // SAFETY: raised is a valid rlimit.
    cvt(unsafe { libc::setrlimit(libc::RLIMIT_STACK, &raised) })?;
    Ok(Some(raised.rlim_cur))
}

/// Sets the file-creation mask; returns the old one.
pub fn set_umask(mask: u32) -> u32 {
    // SAFETY: umask cannot fail and touches no memory.
    unsafe { libc::umask(mask as libc::mode_t) as u32 }
}

/// Becomes `user` for good: its groups (from NSS), its group id, then its
/// user id. Needs root; call it before starting threads.
pub fn become_user(user: &str, uid: u32, gid: u32) -> io::Result<()> {
    let name = CString::new(user)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "user name holds a NUL"))?;
    // SAFETY: name is a valid C string; initgroups only reads it.
    cvt(unsafe { libc::initgroups(name.as_ptr(), gid) })?;
    // SAFETY: setgid and setuid have no memory-safety preconditions.
    cvt(unsafe { libc::setgid(gid) })?;
    // SAFETY: as above.
    cvt(unsafe { libc::setuid(uid) })?;
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

    #[test]
    fn pending_blocked_signals_are_taken_once() {
        // On a thread of its own: the mask and raise() are per thread.
        let taken = std::thread::spawn(|| {
            block_signals(&[libc::SIGUSR2]).expect("block");
            assert_eq!(take_pending(&[libc::SIGUSR2]).ok(), Some(vec![]));
            // SAFETY: raise has no memory-safety preconditions; the signal
            // is blocked, so it stays pending on this thread.
            assert_eq!(unsafe { libc::raise(libc::SIGUSR2) }, 0);
            let first = take_pending(&[libc::SIGUSR2]).ok();
            (first, take_pending(&[libc::SIGUSR2]).ok())
        })
        .join()
        .expect("thread");
        assert_eq!(taken, (Some(vec![libc::SIGUSR2]), Some(vec![])));
    }
}
