//! File systems: how much room one has, and whole-file locks.

use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::io;
use std::path::Path;

/// Room on a file system, bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FsSpace {
    /// Free to unprivileged users (`f_bavail`).
    pub available: u64,
    /// Size of the file system (`f_blocks`).
    pub total: u64,
}

/// The room on the file system holding `path`.
pub fn space(path: &Path) -> io::Result<FsSpace> {
    let st = nix::sys::statvfs::statvfs(path)?;
    let block = st.fragment_size();
    Ok(FsSpace {
        available: st.blocks_available().saturating_mul(block),
        total: st.blocks().saturating_mul(block),
    })
}

/// An exclusive lock (flock) on a file, held until dropped.
#[derive(Debug)]
pub struct ExclusiveLock(#[allow(dead_code)] Flock<File>);

/// Locks `file` for this process alone, without waiting; `None` if
/// another holds it. The lock is on the open file, which stays usable.
pub fn try_lock_exclusive(file: &File) -> io::Result<Option<ExclusiveLock>> {
    match Flock::lock(file.try_clone()?, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(Some(ExclusiveLock(lock))),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, e)) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_is_exclusive_until_dropped_and_space_is_measured() {
        let path = std::env::temp_dir().join(format!("os-fs-lock-{}", std::process::id()));
        let open = || {
            File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .unwrap()
        };
        let first = try_lock_exclusive(&open()).unwrap();
        assert!(first.is_some());
        assert!(try_lock_exclusive(&open()).unwrap().is_none(), "held");
        drop(first);
        assert!(try_lock_exclusive(&open()).unwrap().is_some(), "free again");
        let room = space(&std::env::temp_dir()).unwrap();
        assert!(room.total > 0 && room.available <= room.total);
        let _ = std::fs::remove_file(&path);
    }
}
