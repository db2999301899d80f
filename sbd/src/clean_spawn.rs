//! Starting a job's process as from a fresh login: no signal blocked and
//! every signal at its default action.
//!
//! A child inherits its parent's signal mask and ignored signals across
//! exec. The runner blocks the catchable signals (to outlive the job it
//! watches), sbd blocks the ones its signalfd reads, and Rust ignores
//! SIGPIPE; a job started with `std::process::Command` inherited all of
//! it: its shell never saw SIGCHLD (`sleep 3 & wait` waited for ever),
//! TERM from bkill and its own `trap ... USR2` never arrived. So the job
//! is started with `posix_spawn`, which sets the child's mask and
//! dispositions itself, before the program runs. The child also gets its
//! three streams and no other descriptor the runner had open, inherited
//! from sbd or whatever started sbd (a shell's pipe kept open by a job
//! would hold that shell's pipeline; a root-owned file would be the
//! user's). Anything else sbd runs for a job (pre-exec scripts, ...)
//! should start here too.

use nix::spawn::{posix_spawn, PosixSpawnAttr, PosixSpawnFileActions, PosixSpawnFlags};
use nix::sys::signal::SigSet;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};

/// What the child gets as its standard input, output and error.
pub struct Stdio {
    pub stdin: OwnedFd,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// Starts `argv[0]` with `argv` and exactly `env`, in the caller's current
/// directory, with `stdio` as fds 0-2; its pid.
pub fn spawn(argv: &[&str], env: &[(String, String)], stdio: &Stdio) -> Result<u32, String> {
    let program = argv.first().ok_or("nothing to run")?;
    let nul = |what: &str| format!("the job's {what} holds a NUL byte");
    let argv: Vec<CString> = (argv.iter())
        .map(|a| CString::new(*a).map_err(|_| nul("command")))
        .collect::<Result<_, _>>()?;
    let envp: Vec<CString> = (env.iter())
        .map(|(k, v)| CString::new(format!("{k}={v}")).map_err(|_| nul("environment")))
        .collect::<Result<_, _>>()?;
    let fail = |what: &str, e: nix::Error| format!("cannot start {program}: {what}: {e}");
    let mut actions = PosixSpawnFileActions::init().map_err(|e| fail("file actions", e))?;
    for (fd, target) in [(&stdio.stdin, 0), (&stdio.stdout, 1), (&stdio.stderr, 2)] {
        actions
            .add_dup2(fd.as_raw_fd(), target)
            .map_err(|e| fail("file actions", e))?;
    }
    // After the dup2s: the child closes everything else. A descriptor
    // closed between this listing and the spawn is skipped by the child.
    for fd in open_descriptors_from(3) {
        actions.add_close(fd).map_err(|e| fail("file actions", e))?;
    }
    let mut attr = PosixSpawnAttr::init().map_err(|e| fail("attributes", e))?;
    attr.set_flags(
        PosixSpawnFlags::POSIX_SPAWN_SETSIGMASK | PosixSpawnFlags::POSIX_SPAWN_SETSIGDEF,
    )
    .map_err(|e| fail("attributes", e))?;
    attr.set_sigmask(&SigSet::empty())
        .map_err(|e| fail("signal mask", e))?;
    attr.set_sigdefault(&SigSet::all())
        .map_err(|e| fail("signal actions", e))?;
    let pid = posix_spawn(argv[0].as_c_str(), &actions, &attr, &argv, &envp)
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    Ok(pid.as_raw() as u32)
}

/// This process's open descriptors from `first` up.
fn open_descriptors_from(first: i32) -> Vec<i32> {
    let Ok(listing) = std::fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    (listing.flatten())
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd >= first)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;

    fn null() -> OwnedFd {
        File::open("/dev/null").unwrap().into()
    }

    #[test]
    fn the_child_starts_with_nothing_blocked_or_ignored_whatever_the_parent_has() {
        // chan blocks what its signalfd reads, as sbd and the runner do.
        let mut chans = chan::Channels::new(chan::Config::default()).unwrap();
        chans
            .signals(&[libc::SIGCHLD, libc::SIGTERM, libc::SIGUSR2])
            .unwrap();
        let dir = std::env::temp_dir().join(format!("clean-spawn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out_path = dir.join("status");
        let stdio = Stdio {
            stdin: null(),
            stdout: File::create(&out_path).unwrap().into(),
            stderr: null(),
        };
        // The shell's own status, read by the shell itself.
        let script = "while read -r k v; do case $k in SigBlk:|SigIgn:) echo $k $v;; esac; done < /proc/$$/status";
        let env = [("PATH".to_owned(), "/usr/bin:/bin".to_owned())];
        let pid = spawn(&["/bin/sh", "-c", script], &env, &stdio).unwrap();
        let exit = os::process::wait_child(pid).unwrap();
        assert_eq!(exit.code, 0);
        let text = std::fs::read_to_string(&out_path).unwrap();
        assert!(text.contains("SigBlk: 0000000000000000"), "{text}");
        let ignored = text.lines().find(|l| l.starts_with("SigIgn:")).unwrap();
        let mask = u64::from_str_radix(ignored.trim_start_matches("SigIgn: "), 16).unwrap();
        // Bits 32 and 33 are glibc's own (thread cancellation, setxid).
        assert_eq!(mask & 0x7fff_ffff, 0, "{text}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_nul_byte_is_an_error_not_a_panic() {
        let stdio = Stdio {
            stdin: null(),
            stdout: null(),
            stderr: null(),
        };
        let err = spawn(&["/bin/sh", "-c", "echo a\0b"], &[], &stdio).unwrap_err();
        assert!(err.contains("NUL"), "{err}");
    }
}
