//! Descriptors a process hands on: the standard streams only.

use super::cvt;
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
