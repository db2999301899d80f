//! The channel table: opening, registering, sending and closing.
//! Waiting and dispatch live in `dispatch.rs`.

use crate::channel::{Channel, Handle, Kind, WriteEnd};
use crate::dispatch::{Deadline, Drain, MIN_READ_RESERVE};
use crate::sys::{self, Ctl, EpollEvents};
use crate::{ChanError, ChanId, Config, Counters, Event, Interest};
use bytes::BytesMut;
use socket2::{Domain, Protocol, Socket, Type};
use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A table of channels and the epoll instance that watches them.
///
/// Single-threaded: one `Channels` per event loop. Nothing is global, so
/// several loops may run on several threads.
///
/// ```no_run
/// use chan::{Channels, Config, Event};
/// let mut chans = Channels::new(Config::default())?;
/// let listener = chans.tcp_listen("127.0.0.1:0".parse().unwrap())?;
/// loop {
///     chans.chan_epoll(None)?;
///     while let Some(event) = chans.next_event() {
///         match event {
///             Event::Frame { id, frame } => chans.send(id, frame.as_bytes())?,
///             Event::Eof { id } => chans.close_when_flushed(id)?,
///             Event::Error { id, .. } => chans.close(id)?,
///             _ => {}
///         }
///     }
/// }
/// # Ok::<(), chan::ChanError>(())
/// ```
pub struct Channels {
    pub(crate) epoll: OwnedFd,
    pub(crate) table: crate::id::Table<Channel>,
    pub(crate) config: Config,
    pub(crate) counters: Counters,
    pub(crate) ready: EpollEvents,
    /// Next kernel event to hand out.
    pub(crate) cursor: usize,
    /// The channel whose frames, accepts or datagrams are being handed out.
    pub(crate) drain: Option<Drain>,
    /// Events made without a kernel event (timeouts, instant connects).
    pub(crate) queued: VecDeque<Event>,
    /// Channels whose buffered frames were not handed out before the
    /// caller waited again.
    pub(crate) carry: Vec<ChanId>,
    /// Readiness of edge-triggered streams the kernel will not report
    /// again, handed out after this wait's kernel events: reports the
    /// caller did not reach before waiting again, and reads that filled
    /// their room (the socket may hold more).
    pub(crate) replay: Vec<(ChanId, u32)>,
    /// Replays owed from this pass, moved into `replay` at the next wait
    /// so a busy socket cannot keep one pass going.
    pub(crate) replay_next: Vec<(ChanId, u32)>,
    pub(crate) deadlines: Vec<Deadline>,
    /// Kept open to accept-and-close connections when out of fds.
    pub(crate) spare_fd: Option<File>,
    pub(crate) emfile_logged: bool,
    /// Emptied buffers of closed connections, for new ones: a server whose
    /// connections come and go allocates none for them once warm.
    pub(crate) spare_buffers: Vec<BytesMut>,
}

/// Most emptied buffers kept for reuse...
const SPARE_BUFFERS: usize = 256;
/// ...each at most this large (a buffer grown for a large frame goes).
const SPARE_BUFFER_MAX: usize = 64 << 10;

/// The fd kept in reserve to accept-and-close connections when the
/// process runs out of fds.
pub(crate) fn spare_fd() -> Option<File> {
    File::open("/dev/null").ok()
}

impl Channels {
    /// `chan_epoll_init`: makes the epoll instance and an empty table, and
    /// raises RLIMIT_NOFILE to its hard limit if the config says so.
    pub fn new(config: Config) -> Result<Channels, ChanError> {
        if config.raise_nofile {
            match sys::raise_nofile_limit() {
                Ok(limit) => log::debug!("RLIMIT_NOFILE soft limit now {limit}"),
                Err(e) => log::warn!("could not raise RLIMIT_NOFILE: {e}"),
            }
        }
        Ok(Channels {
            epoll: sys::epoll_create()?,
            table: crate::id::Table::new(config.capacity),
            ready: EpollEvents::with_capacity(config.events_per_wait),
            config,
            counters: Counters::default(),
            cursor: 0,
            drain: None,
            queued: VecDeque::new(),
            carry: Vec::new(),
            replay: Vec::new(),
            replay_next: Vec::new(),
            deadlines: Vec::new(),
            spare_fd: spare_fd(),
            emfile_logged: false,
            spare_buffers: Vec::new(),
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Open channels.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.len() == 0
    }

    /// One more than the highest index in use; bounds `ChanSet`s.
    pub fn slots(&self) -> usize {
        self.table.slots()
    }

    pub fn capacity(&self) -> usize {
        self.table.capacity()
    }

    /// Whether `id` names an open channel.
    pub fn is_open(&self, id: ChanId) -> bool {
        self.table.get(id).is_some()
    }

    /// Ids of all open channels, in index order.
    pub fn ids(&self) -> impl Iterator<Item = ChanId> + '_ {
        self.table.ids()
    }

    pub fn kind(&self, id: ChanId) -> Option<Kind> {
        self.table.get(id).map(|c| c.kind)
    }

    /// Bytes queued for sending and not yet accepted by the kernel.
    pub fn queued_bytes(&self, id: ChanId) -> Result<usize, ChanError> {
        Ok(self.chan(id)?.tx.len())
    }

    /// The raw fd, for comparing against `poll(2)` or for socket options.
    pub fn raw_fd(&self, id: ChanId) -> Result<RawFd, ChanError> {
        Ok(self.chan(id)?.handle.fd())
    }

    pub fn local_addr(&self, id: ChanId) -> Result<SocketAddr, ChanError> {
        self.socket_addr(id, "local_addr", Socket::local_addr)
    }

    pub fn peer_addr(&self, id: ChanId) -> Result<SocketAddr, ChanError> {
        self.socket_addr(id, "peer_addr", Socket::peer_addr)
    }

    fn socket_addr(
        &self,
        id: ChanId,
        op: &'static str,
        get: fn(&Socket) -> io::Result<socket2::SockAddr>,
    ) -> Result<SocketAddr, ChanError> {
        let sock = self
            .chan(id)?
            .handle
            .socket()
            .ok_or(ChanError::WrongKind { id, op })?;
        get(sock)?
            .as_socket()
            .ok_or_else(|| ChanError::Io(io::Error::other("not an IP socket")))
    }

    pub(crate) fn chan(&self, id: ChanId) -> Result<&Channel, ChanError> {
        self.table.get(id).ok_or(ChanError::Stale(id))
    }

    pub(crate) fn chan_mut(&mut self, id: ChanId) -> Result<&mut Channel, ChanError> {
        self.table.get_mut(id).ok_or(ChanError::Stale(id))
    }

    /// Puts a channel in the table, watched with `interest`.
    pub(crate) fn open(
        &mut self,
        handle: Handle,
        kind: Kind,
        interest: Interest,
    ) -> Result<ChanId, ChanError> {
        let mut channel = Channel::new(handle, kind, self.config.max_frame_body);
        if matches!(kind, Kind::Stream | Kind::Connecting) {
            channel.rx = self.spare_buffers.pop().unwrap_or_default();
        }
        let id = match self.table.insert(channel) {
            Ok(id) => id,
            Err(_dropped_and_closed) => {
                self.counters.table_full += 1;
                return Err(ChanError::TableFull {
                    capacity: self.table.capacity(),
                });
            }
        };
        if let Err(e) = self.chan_epoll_add(id, interest) {
            self.table.remove(id);
            return Err(e);
        }
        Ok(id)
    }

    /// Brings the kernel's registration in line with what the channel
    /// wants; at most one `epoll_ctl`, none if nothing changed.
    pub(crate) fn sync(&mut self, id: ChanId) -> Result<(), ChanError> {
        let epfd = self.epoll.as_raw_fd();
        let chan = self.table.get_mut(id).ok_or(ChanError::Stale(id))?;
        chan.sync(epfd, id, &mut self.counters)
    }

    /// `chan_epoll_add`: watch the channel for `interest`.
    pub fn chan_epoll_add(&mut self, id: ChanId, interest: Interest) -> Result<(), ChanError> {
        let chan = self.chan_mut(id)?;
        if chan.interest.is_some() {
            return Err(ChanError::AlreadyAdded(id));
        }
        chan.interest = Some(interest);
        self.sync(id)
    }

    /// `chan_epoll_mod`: change what an added channel is watched for.
    pub fn chan_epoll_mod(&mut self, id: ChanId, interest: Interest) -> Result<(), ChanError> {
        let chan = self.chan_mut(id)?;
        if chan.interest.is_none() {
            return Err(ChanError::NotAdded(id));
        }
        chan.interest = Some(interest);
        self.sync(id)
    }

    /// `chan_epoll_del`: stop watching the channel (it stays open).
    pub fn chan_epoll_del(&mut self, id: ChanId) -> Result<(), ChanError> {
        let chan = self.chan_mut(id)?;
        if chan.interest.take().is_none() {
            return Err(ChanError::NotAdded(id));
        }
        self.sync(id)
    }

    /// Closes the channel: `EPOLL_CTL_DEL` first (so a forked child's copy
    /// of the fd cannot keep the registration alive), then `close`. The id
    /// is dead afterwards, and any event still carrying it is dropped.
    pub fn close(&mut self, id: ChanId) -> Result<(), ChanError> {
        let mut chan = self.table.remove(id).ok_or(ChanError::Stale(id))?;
        self.keep_buffer(std::mem::take(&mut chan.rx));
        self.keep_buffer(std::mem::take(&mut chan.tx));
        if chan.armed.is_some() {
            self.counters.syscalls.epoll_ctl += 1;
            if let Err(e) = sys::epoll_ctl(self.epoll.as_raw_fd(), Ctl::Del, chan.handle.fd(), 0, 0)
            {
                log::warn!("epoll_ctl(DEL) of {id} failed: {e}");
            }
        }
        self.counters.syscalls.other += 1;
        drop(chan);
        Ok(())
    }

    /// Keeps a closed connection's buffer for a new one, if it is of a
    /// useful size and no frame handed out still holds the room it has.
    fn keep_buffer(&mut self, mut buffer: BytesMut) {
        if self.spare_buffers.len() >= SPARE_BUFFERS {
            return;
        }
        buffer.clear();
        // Back to the front of its allocation, unless a frame holds that.
        if buffer.try_reclaim(MIN_READ_RESERVE) && buffer.capacity() <= SPARE_BUFFER_MAX {
            self.spare_buffers.push(buffer);
        }
    }

    /// Closes the channel gracefully: everything queued is sent, then our
    /// side is shut down and the peer's remaining input is discarded until
    /// its EOF (at most `Config::close_linger`), then the fd is closed.
    ///
    /// Closing with unread input would make the kernel send a reset, which
    /// can destroy replies the peer has not read yet — such as the error
    /// reply sent just before dropping a misbehaving client.
    pub fn close_when_flushed(&mut self, id: ChanId) -> Result<(), ChanError> {
        let chan = self.chan_mut(id)?;
        if chan.broken {
            return self.close(id);
        }
        chan.close_when_flushed = true;
        chan.rx.clear();
        if chan.tx.is_empty() {
            self.shut_down_when_flushed(id);
            return Ok(());
        }
        self.sync(id)
    }

    /// Half-closes a connection: what is queued is sent, then our sending
    /// side is shut (the peer reads EOF) while reading goes on — a proxy
    /// passing on its client's EOF, say. Sending after this is an error
    /// ([`ChanError::WriteShut`]).
    pub fn shutdown_when_flushed(&mut self, id: ChanId) -> Result<(), ChanError> {
        let chan = self.chan_mut(id)?;
        if chan.kind != Kind::Stream {
            return Err(ChanError::WrongKind {
                id,
                op: "shutdown_when_flushed",
            });
        }
        if chan.broken {
            return Err(ChanError::Broken(id));
        }
        if chan.write_end != WriteEnd::Open {
            return Ok(());
        }
        chan.write_end = WriteEnd::ShutWhenFlushed;
        if chan.tx.is_empty() {
            self.shut_write(id)?;
        }
        Ok(())
    }

    /// Shuts the sending side of `id`, whose queue is empty.
    pub(crate) fn shut_write(&mut self, id: ChanId) -> Result<(), ChanError> {
        self.counters.syscalls.other += 1;
        let chan = self.chan_mut(id)?;
        chan.write_end = WriteEnd::Shut;
        let shut = chan
            .handle
            .socket()
            .map(|s| s.shutdown(std::net::Shutdown::Write));
        match shut {
            Some(Err(e)) => {
                chan.broken = true;
                let _ = self.sync(id);
                Err(e.into())
            }
            _ => Ok(()),
        }
    }

    /// The queue of a closing channel is empty: close now if the peer is
    /// done too, else shut our side and wait for its EOF.
    pub(crate) fn shut_down_when_flushed(&mut self, id: ChanId) {
        let linger = self.config.close_linger;
        let Some(chan) = self.table.get_mut(id) else {
            return;
        };
        let shut = match chan.write_end {
            // Half-closed already: only the peer's EOF is left to wait for.
            WriteEnd::Shut => Some(Ok(())),
            _ => (chan.handle.socket()).map(|s| s.shutdown(std::net::Shutdown::Write)),
        };
        if chan.read_closed || chan.kind != Kind::Stream || !matches!(shut, Some(Ok(()))) {
            let _ = self.close(id);
            return;
        }
        self.counters.syscalls.other += 1;
        self.deadlines
            .push(Deadline::linger(id, Instant::now() + linger));
        let _ = self.sync(id);
    }

    fn socket(domain: Domain, ty: Type, protocol: Protocol) -> io::Result<Socket> {
        Socket::new(domain, ty.nonblocking().cloexec(), Some(protocol))
    }

    /// A TCP listener on `addr` (SO_REUSEADDR, backlog 1024), watched for
    /// connections. Accepted connections arrive as [`Event::Accepted`].
    pub fn tcp_listen(&mut self, addr: SocketAddr) -> Result<ChanId, ChanError> {
        let sock = Self::socket(Domain::for_address(addr), Type::STREAM, Protocol::TCP)?;
        sock.set_reuse_address(true)?;
        sock.bind(&addr.into())?;
        sock.listen(1024)?;
        self.counters.syscalls.other += 4;
        self.open(Handle::Socket(sock), Kind::Listener, Interest::READ)
    }

    /// A Unix-domain stream listener bound to `path` (which must not
    /// exist), watched for connections like a TCP one; [`Channels::peer_cred`]
    /// tells who connected.
    pub fn unix_listen(&mut self, path: &std::path::Path) -> Result<ChanId, ChanError> {
        let sock = Self::socket(Domain::UNIX, Type::STREAM, Protocol::from(0))?;
        sock.bind(&socket2::SockAddr::unix(path)?)?;
        sock.listen(1024)?;
        self.counters.syscalls.other += 3;
        self.open(Handle::Socket(sock), Kind::Listener, Interest::READ)
    }

    /// The largest frame body `id` accepts, instead of
    /// [`Config::max_frame_body`]; a listener passes it on to the
    /// connections it accepts, so one table can serve peers with different
    /// needs (lim's tiny network queries and its local signing requests).
    pub fn set_max_frame_body(&mut self, id: ChanId, max: u32) -> Result<(), ChanError> {
        self.chan_mut(id)?.max_body = max;
        Ok(())
    }

    /// [`Channels::tcp_listen`] for a raw protocol: what it accepts hands
    /// out its input as it arrives ([`Channels::set_raw`]).
    pub fn tcp_listen_raw(&mut self, addr: SocketAddr) -> Result<ChanId, ChanError> {
        let listener = self.tcp_listen(addr)?;
        self.set_raw(listener)?;
        Ok(listener)
    }

    /// Hands `id`'s input out as it arrives ([`Event::Data`]) instead of
    /// cutting it into LavaLite frames: for other protocols (HTTP, a
    /// proxied byte stream). A listener passes it on to the connections
    /// it accepts. Output is sent as given either way.
    pub fn set_raw(&mut self, id: ChanId) -> Result<(), ChanError> {
        self.chan_mut(id)?.raw = true;
        Ok(())
    }

    /// The pid, uid and gid of the process at the other end of a Unix-domain
    /// stream, from the kernel (`SO_PEERCRED`).
    pub fn peer_cred(&self, id: ChanId) -> Result<sys::PeerCred, ChanError> {
        let fd = self.chan(id)?.handle.fd();
        Ok(sys::peer_cred(fd)?)
    }

    /// Starts a non-blocking TCP connect. [`Event::Connected`] follows, or
    /// [`Event::Error`] with `ConnectTimeout` once `timeout` has passed.
    /// Frames sent before the connection completes are queued.
    pub fn tcp_connect(
        &mut self,
        addr: SocketAddr,
        timeout: Duration,
    ) -> Result<ChanId, ChanError> {
        let sock = Self::socket(Domain::for_address(addr), Type::STREAM, Protocol::TCP)?;
        sock.set_nodelay(true)?;
        self.counters.syscalls.other += 3;
        let kind = match sock.connect(&addr.into()) {
            Ok(()) => Kind::Stream,
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Kind::Connecting,
            Err(e) => return Err(e.into()),
        };
        let id = self.open(Handle::Socket(sock), kind, Interest::READ)?;
        match kind {
            Kind::Connecting => self
                .deadlines
                .push(Deadline::connect(id, Instant::now() + timeout)),
            _ => self.queued.push_back(Event::Connected { id }),
        }
        Ok(id)
    }

    /// A UDP socket bound to `addr`, watched for datagrams.
    pub fn udp_bind(&mut self, addr: SocketAddr) -> Result<ChanId, ChanError> {
        let sock = Self::socket(Domain::for_address(addr), Type::DGRAM, Protocol::UDP)?;
        sock.bind(&addr.into())?;
        self.counters.syscalls.other += 2;
        self.open(Handle::Socket(sock), Kind::Udp, Interest::READ)
    }

    /// A timer that first fires after `first`, then every `interval`
    /// (zero: once). [`Event::Timer`] reports missed expirations too.
    pub fn timer(&mut self, first: Duration, interval: Duration) -> Result<ChanId, ChanError> {
        let fd = sys::timerfd()?;
        self.counters.syscalls.other += 1;
        let id = self.open(Handle::Fd(fd), Kind::Timer, Interest::READ)?;
        self.set_timer(id, first, interval)?;
        Ok(id)
    }

    /// Re-arms a timer channel (a zero `first` disarms it).
    pub fn set_timer(
        &mut self,
        id: ChanId,
        first: Duration,
        interval: Duration,
    ) -> Result<(), ChanError> {
        let chan = self.chan(id)?;
        if chan.kind != Kind::Timer {
            return Err(ChanError::WrongKind {
                id,
                op: "set_timer",
            });
        }
        // A zero first expiry would disarm the timer; one nanosecond keeps
        // "fire now" meaning fire now.
        let first = if first.is_zero() && !interval.is_zero() {
            Duration::from_nanos(1)
        } else {
            first
        };
        let fd = chan.handle.fd();
        self.counters.syscalls.other += 1;
        sys::timerfd_set(fd, first, interval)?;
        Ok(())
    }

    /// A channel that reports `signals` (e.g. SIGCHLD, SIGTERM) as
    /// [`Event::Signal`]. The signals are blocked in the calling thread;
    /// open it before spawning threads so they inherit the mask.
    pub fn signals(&mut self, signals: &[i32]) -> Result<ChanId, ChanError> {
        let fd = sys::signalfd(signals)?;
        self.counters.syscalls.other += 2;
        self.open(Handle::Fd(fd), Kind::Signal, Interest::READ)
    }

    /// A channel and a [`Waker`] that other threads use to interrupt
    /// `chan_epoll`. Many wakes before the loop runs coalesce into one
    /// [`Event::Wake`].
    pub fn waker(&mut self) -> Result<(ChanId, Waker), ChanError> {
        let fd = Arc::new(sys::eventfd()?);
        self.counters.syscalls.other += 1;
        let id = self.open(Handle::Shared(fd.clone()), Kind::Waker, Interest::READ)?;
        Ok((id, Waker { fd }))
    }

    /// Sends one frame (or any bytes) on a stream channel.
    ///
    /// With nothing queued the bytes are written at once; what the kernel
    /// does not take is queued and `EPOLLOUT` is armed until it drains.
    /// Order is always kept. An error means the channel is broken.
    #[inline] // an echo's whole path: a call less per message
    pub fn send(&mut self, id: ChanId, data: &[u8]) -> Result<(), ChanError> {
        self.send_vectored(id, &[data])
    }

    /// Sends a header and a body as one frame without joining them first.
    pub fn send_frame(
        &mut self,
        id: ChanId,
        header: &proto::Header,
        body: &[u8],
    ) -> Result<(), ChanError> {
        self.send_vectored(id, &[&header.to_bytes(), body])
    }

    /// Sends the concatenation of `parts` (at most 64) with one syscall.
    #[inline(always)] // so `send`'s one part is known at compile time
    pub fn send_vectored(&mut self, id: ChanId, parts: &[&[u8]]) -> Result<(), ChanError> {
        let high_water = self.config.high_water;
        let chan = self.table.get_mut(id).ok_or(ChanError::Stale(id))?;
        let (_, mut out) = chan.split_mut();
        match out.send(id, parts, &mut self.counters, high_water) {
            Ok(false) => Ok(()),
            Ok(true) => self.sync(id),
            Err(e) => {
                let _ = self.sync(id);
                Err(e)
            }
        }
    }

    /// Sends one datagram from a UDP channel. A full socket buffer drops
    /// the datagram and returns `WouldBlock`, as UDP may.
    pub fn send_to(&mut self, id: ChanId, data: &[u8], to: SocketAddr) -> Result<(), ChanError> {
        let chan = self.table.get(id).ok_or(ChanError::Stale(id))?;
        let sock = match (chan.kind, chan.handle.socket()) {
            (Kind::Udp, Some(sock)) => sock,
            _ => return Err(ChanError::WrongKind { id, op: "send_to" }),
        };
        let res = sys::send_to(sock, data, to);
        self.counters.syscalls.write += 1;
        res?;
        self.counters.datagrams_out += 1;
        self.counters.bytes_out += data.len() as u64;
        Ok(())
    }

    /// Forks the process. The child gets `Fork::Child` and its copies of
    /// every channel fd (and of the epoll fd) are closed without touching
    /// the parent's registrations; the parent gets its table back.
    ///
    /// With other threads running, the child may only do async-signal-safe
    /// work (exec, `sys::exit_now`).
    pub fn fork(self) -> Result<Fork, ChanError> {
        match sys::fork()? {
            sys::ForkSide::Parent(pid) => Ok(Fork::Parent {
                pid,
                chans: Box::new(self),
            }),
            sys::ForkSide::Child => {
                // Dropping closes each fd; no EPOLL_CTL_DEL, which would
                // remove the parent's registrations from the shared epoll.
                drop(self);
                Ok(Fork::Child)
            }
        }
    }
}

/// The two sides of [`Channels::fork`].
pub enum Fork {
    Parent { pid: u32, chans: Box<Channels> },
    Child,
}

/// Wakes a loop blocked in `chan_epoll` from any thread.
#[derive(Clone, Debug)]
pub struct Waker {
    fd: Arc<OwnedFd>,
}

impl Waker {
    pub fn wake(&self) -> io::Result<()> {
        match sys::write_u64(self.fd.as_raw_fd(), 1) {
            // The counter is saturated: a wake is already pending.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            other => other,
        }
    }
}
