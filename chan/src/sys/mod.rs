//! The syscall layer: the only module with `unsafe`, raw fds and
//! `libc::epoll_*`. Everything above it speaks `ChanId`, `Interest` and
//! `Event`. Each function is a thin, safe wrapper that returns
//! `io::Result` with the OS error preserved.
#![allow(unsafe_code)]

mod alloc;

pub use alloc::CountingAllocator;

use bytes::BytesMut;
use socket2::{SockAddr, Socket};
use std::io;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

pub(crate) const EV_IN: u32 = libc::EPOLLIN as u32;
pub(crate) const EV_OUT: u32 = libc::EPOLLOUT as u32;
pub(crate) const EV_RDHUP: u32 = libc::EPOLLRDHUP as u32;
pub(crate) const EV_HUP: u32 = libc::EPOLLHUP as u32;
pub(crate) const EV_ERR: u32 = libc::EPOLLERR as u32;
/// Edge-triggered: reported once per change, not on every wait.
pub(crate) const EV_ET: u32 = libc::EPOLLET as u32;

/// Most iovecs handed to one `sendmsg`.
pub(crate) const MAX_IOV: usize = 64;

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn cvt_size(ret: libc::ssize_t) -> io::Result<usize> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    }
}

fn owned(fd: libc::c_int) -> io::Result<OwnedFd> {
    let fd = cvt(fd)?;
    // SAFETY: the kernel just returned this fd to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Creates an epoll instance (close-on-exec).
pub(crate) fn epoll_create() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with a flag argument.
    owned(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })
}

/// What `epoll_ctl` should do.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Ctl {
    Add,
    Mod,
    Del,
}

pub(crate) fn epoll_ctl(epfd: RawFd, op: Ctl, fd: RawFd, flags: u32, token: u64) -> io::Result<()> {
    let op = match op {
        Ctl::Add => libc::EPOLL_CTL_ADD,
        Ctl::Mod => libc::EPOLL_CTL_MOD,
        Ctl::Del => libc::EPOLL_CTL_DEL,
    };
    let mut ev = libc::epoll_event {
        events: flags,
        u64: token,
    };
    // SAFETY: ev is a valid epoll_event for the duration of the call.
    cvt(unsafe { libc::epoll_ctl(epfd, op, fd, &mut ev) }).map(drop)
}

/// A reusable buffer of ready events filled by [`EpollEvents::wait`].
pub(crate) struct EpollEvents {
    events: Vec<libc::epoll_event>,
    len: usize,
}

impl EpollEvents {
    pub(crate) fn with_capacity(cap: usize) -> EpollEvents {
        EpollEvents {
            events: vec![libc::epoll_event { events: 0, u64: 0 }; cap.max(1)],
            len: 0,
        }
    }

    /// Waits for events; `timeout_ms` < 0 waits for ever. EINTR is
    /// reported as zero events.
    pub(crate) fn wait(&mut self, epfd: RawFd, timeout_ms: i32) -> io::Result<usize> {
        let cap = self.events.len().min(i32::MAX as usize) as libc::c_int;
        // SAFETY: the pointer and capacity describe our own initialised Vec.
        let n = unsafe { libc::epoll_wait(epfd, self.events.as_mut_ptr(), cap, timeout_ms) };
        self.len = match cvt(n) {
            Ok(n) => n as usize,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(e) => {
                self.len = 0;
                return Err(e);
            }
        };
        Ok(self.len)
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The (token, flags) of the i-th ready event.
    pub(crate) fn get(&self, i: usize) -> Option<(u64, u32)> {
        let ev = self.events[..self.len].get(i)?;
        Some((ev.u64, ev.events))
    }

    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }
}

/// What one [`recv_into`] did.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Received {
    pub(crate) bytes: usize,
    /// It took all the room it was given, so the socket may hold more.
    pub(crate) filled: bool,
}

/// One `recv` into the spare capacity of `buf`, at most `max` bytes.
/// `recv` rather than `read`: the socket call skips the VFS layer's
/// checks and notifications that `read` pays on every message.
#[inline]
pub(crate) fn recv_into(fd: RawFd, buf: &mut BytesMut, max: usize) -> io::Result<Received> {
    if buf.capacity() == buf.len() {
        buf.reserve(max.max(1));
    }
    let spare = buf.spare_capacity_mut();
    let want = spare.len().min(max);
    // SAFETY: we pass a pointer to `want` writable bytes we own.
    let n = cvt_size(unsafe { libc::recv(fd, spare.as_mut_ptr().cast(), want, 0) })?;
    // SAFETY: the kernel initialised the first n bytes of the spare capacity.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(Received {
        bytes: n,
        filled: n == want,
    })
}

/// `send` with `MSG_NOSIGNAL`: a closed peer is `EPIPE`, never SIGPIPE.
pub(crate) fn send(fd: RawFd, data: &[u8]) -> io::Result<usize> {
    // SAFETY: data is a valid slice for the call.
    cvt_size(unsafe {
        libc::send(
            fd,
            data.as_ptr().cast(),
            data.len(),
            libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
        )
    })
}

/// Gathered `sendmsg` (writev with `MSG_NOSIGNAL`) of up to [`MAX_IOV`]
/// slices.
pub(crate) fn send_vectored(fd: RawFd, parts: &[&[u8]]) -> io::Result<usize> {
    let mut iov = [libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    }; MAX_IOV];
    let n = parts.len().min(MAX_IOV);
    for (slot, part) in iov.iter_mut().zip(&parts[..n]) {
        slot.iov_base = part.as_ptr() as *mut libc::c_void;
        slot.iov_len = part.len();
    }
    // SAFETY: msghdr is plain data; zeroed is a valid "no name, no control".
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.as_mut_ptr();
    msg.msg_iovlen = n as _;
    // SAFETY: msg points at n iovecs that borrow live slices; the kernel
    // only reads through them.
    cvt_size(unsafe { libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT) })
}

/// `accept4` with NONBLOCK|CLOEXEC; the peer address is fetched on demand.
pub(crate) fn accept(fd: RawFd) -> io::Result<Accepted> {
    let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: sockaddr_storage is plain old data; all-zero is valid.
    let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    let storage = std::ptr::addr_of_mut!(addr).cast::<libc::sockaddr>();
    // SAFETY: `storage` points at a sockaddr_storage of `len` bytes, which
    // holds any address family's address.
    let fd = owned(unsafe { libc::accept4(fd, storage, &mut len, flags) })?;
    Ok(Accepted {
        sock: Socket::from(fd),
        unix: i32::from(addr.ss_family) == libc::AF_UNIX,
    })
}

/// A connection `accept` returned, and whether it is a Unix-domain one.
pub(crate) struct Accepted {
    pub(crate) sock: Socket,
    pub(crate) unix: bool,
}

/// Who is at the other end of a Unix-domain stream, as the kernel saw the
/// peer when it connected (`SO_PEERCRED`): it cannot be claimed, only had.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerCred {
    pub pid: u32,
    pub uid: u32,
    pub gid: u32,
}

pub(crate) fn peer_cred(fd: RawFd) -> io::Result<PeerCred> {
    // SAFETY: ucred is plain old data; all-zero is valid.
    let mut cred: libc::ucred = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `cred`, a ucred.
    cvt(unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            std::ptr::addr_of_mut!(cred).cast(),
            &mut len,
        )
    })?;
    Ok(PeerCred {
        pid: cred.pid as u32,
        uid: cred.uid,
        gid: cred.gid,
    })
}

/// One `recvfrom` into `buf`'s spare capacity (which must hold a whole
/// datagram; a longer one is truncated by the kernel).
pub(crate) fn recv_from(
    sock: &Socket,
    buf: &mut BytesMut,
    max: usize,
) -> io::Result<(usize, SocketAddr)> {
    buf.reserve(max);
    let spare = &mut buf.spare_capacity_mut()[..max];
    let (n, addr) = sock.recv_from(spare)?;
    // SAFETY: recv_from initialised the first n bytes of the spare capacity.
    unsafe { buf.set_len(buf.len() + n) };
    let addr = addr.as_socket().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidData, "datagram from a non-IP address")
    })?;
    Ok((n, addr))
}

/// Sends one datagram.
pub(crate) fn send_to(sock: &Socket, data: &[u8], to: SocketAddr) -> io::Result<usize> {
    sock.send_to_with_flags(data, &SockAddr::from(to), libc::MSG_NOSIGNAL)
}

/// A monotonic, non-blocking, close-on-exec timerfd.
pub(crate) fn timerfd() -> io::Result<OwnedFd> {
    let flags = libc::TFD_NONBLOCK | libc::TFD_CLOEXEC;
    // SAFETY: plain syscall.
    owned(unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, flags) })
}

fn timespec(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: d.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as _,
    }
}

/// Arms a timerfd: first expiry after `first` (zero disarms), then every
/// `interval` (zero for one-shot).
pub(crate) fn timerfd_set(fd: RawFd, first: Duration, interval: Duration) -> io::Result<()> {
    let spec = libc::itimerspec {
        it_interval: timespec(interval),
        it_value: timespec(first),
    };
    // SAFETY: spec is valid; the old value pointer may be null.
    cvt(unsafe { libc::timerfd_settime(fd, 0, &spec, std::ptr::null_mut()) }).map(drop)
}

/// A non-blocking, close-on-exec eventfd.
pub(crate) fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: plain syscall.
    owned(unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) })
}

/// Reads the 8-byte counter of a timerfd or eventfd.
pub(crate) fn read_u64(fd: RawFd) -> io::Result<u64> {
    let mut value = 0u64;
    // SAFETY: we pass a pointer to 8 writable bytes.
    let n = cvt_size(unsafe { libc::read(fd, (&mut value as *mut u64).cast(), 8) })?;
    if n != 8 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "short counter read",
        ));
    }
    Ok(value)
}

/// Adds `value` to an eventfd's counter.
pub(crate) fn write_u64(fd: RawFd, value: u64) -> io::Result<()> {
    // SAFETY: we pass a pointer to 8 readable bytes.
    cvt_size(unsafe { libc::write(fd, (&value as *const u64).cast(), 8) }).map(drop)
}

fn sigset(signals: &[i32]) -> io::Result<libc::sigset_t> {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set it is given.
    cvt(unsafe { libc::sigemptyset(set.as_mut_ptr()) })?;
    // SAFETY: initialised by sigemptyset above.
    let mut set = unsafe { set.assume_init() };
    for &sig in signals {
        // SAFETY: set is initialised; an invalid signal number is EINVAL.
        cvt(unsafe { libc::sigaddset(&mut set, sig) })?;
    }
    Ok(set)
}

/// Blocks `signals` in the calling thread and returns a signalfd for them.
pub(crate) fn signalfd(signals: &[i32]) -> io::Result<OwnedFd> {
    let set = sigset(signals)?;
    // SAFETY: set is a valid sigset; the old-set pointer may be null.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    // SAFETY: set is valid; -1 asks for a new fd.
    owned(unsafe { libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC) })
}

/// What a signalfd reported about one signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignalInfo {
    pub signo: i32,
    /// Sending process (for SIGCHLD, the child that changed state).
    pub pid: u32,
    /// For SIGCHLD, the exit status or signal; see `ssi_status`.
    pub status: i32,
    /// `si_code` (e.g. CLD_EXITED).
    pub code: i32,
}

/// Reads one pending signal, if any.
pub(crate) fn read_signal(fd: RawFd) -> io::Result<SignalInfo> {
    // SAFETY: signalfd_siginfo is plain data; all-zero is valid.
    let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::signalfd_siginfo>();
    // SAFETY: we pass a pointer to `size` writable bytes.
    let n = cvt_size(unsafe {
        libc::read(fd, (&mut info as *mut libc::signalfd_siginfo).cast(), size)
    })?;
    if n != size {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "short signalfd read",
        ));
    }
    Ok(SignalInfo {
        signo: info.ssi_signo as i32,
        pid: info.ssi_pid,
        status: info.ssi_status,
        code: info.ssi_code,
    })
}

/// The (soft, hard) limits on open files.
pub fn nofile_limit() -> io::Result<(u64, u64)> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: lim is a valid, writable rlimit.
    cvt(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) })?;
    Ok((lim.rlim_cur, lim.rlim_max))
}

/// Sets the soft limit on open files (at most the hard limit).
pub fn set_nofile_limit(soft: u64) -> io::Result<()> {
    let (_, hard) = nofile_limit()?;
    let lim = libc::rlimit {
        rlim_cur: soft.min(hard) as libc::rlim_t,
        rlim_max: hard as libc::rlim_t,
    };
    // SAFETY: lim is a valid rlimit.
    cvt(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }).map(drop)
}

/// Raises the soft limit on open files to the hard limit; returns it.
pub fn raise_nofile_limit() -> io::Result<u64> {
    let (soft, hard) = nofile_limit()?;
    if soft < hard {
        set_nofile_limit(hard)?;
    }
    Ok(hard)
}

/// `poll(2)` over `fds`; `timeout_ms` < 0 waits for ever. For legacy
/// baselines and for checking `Masks` against the kernel's answer.
pub fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> io::Result<usize> {
    // SAFETY: the slice is valid, writable, and its length is passed.
    cvt(unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) })
        .map(|n| n as usize)
}

/// Which side of a `fork` we are on.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ForkSide {
    Parent(u32),
    Child,
}

/// `fork(2)`. The caller must keep the child to async-signal-safe work
/// (closing fds, exec, `_exit`) when other threads exist.
pub(crate) fn fork() -> io::Result<ForkSide> {
    // SAFETY: fork has no memory-safety preconditions; the doc above states
    // what the child may do.
    match cvt(unsafe { libc::fork() })? {
        0 => Ok(ForkSide::Child),
        pid => Ok(ForkSide::Parent(pid as u32)),
    }
}

/// Ends the calling process at once, without running exit handlers (the
/// right way for a forked child to leave).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no process state we rely on.
    unsafe { libc::_exit(code) }
}

/// A duplicate of `fd` that child processes inherit (no close-on-exec),
/// for tests of what a child that keeps a socket does to the parent.
pub fn dup_inheritable(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: dup only reads the descriptor table; a bad fd is EBADF.
    owned(unsafe { libc::dup(fd) })
}

/// Whether `fd` is an open descriptor in this process.
pub fn fd_is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only queries the descriptor table.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}
