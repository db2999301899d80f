//! One entry of the table: its fd, its kind, its buffers and what it is
//! registered for.

use crate::sys::{self, Ctl, EV_ET, EV_IN, EV_OUT, EV_RDHUP};
use crate::{ChanError, ChanId, Counters, Interest};
use bytes::BytesMut;
use socket2::Socket;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;

/// What a channel is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Listener,
    /// A TCP connection, accepted or outbound and established.
    Stream,
    /// An outbound TCP connection still in progress.
    Connecting,
    Udp,
    Timer,
    Signal,
    Waker,
}

pub(crate) enum Handle {
    Socket(Socket),
    Fd(OwnedFd),
    /// Shared with `Waker`s, which may outlive the channel.
    Shared(Arc<OwnedFd>),
}

impl Handle {
    pub(crate) fn fd(&self) -> RawFd {
        match self {
            Handle::Socket(s) => s.as_raw_fd(),
            Handle::Fd(f) => f.as_raw_fd(),
            Handle::Shared(f) => f.as_raw_fd(),
        }
    }

    pub(crate) fn socket(&self) -> Option<&Socket> {
        match self {
            Handle::Socket(s) => Some(s),
            _ => None,
        }
    }
}

/// Where a stream's sending side stands (a half-close).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WriteEnd {
    Open,
    ShutWhenFlushed,
    Shut,
}

pub(crate) struct Channel {
    pub(crate) handle: Handle,
    pub(crate) kind: Kind,
    /// What the caller asked for; `None` when not added to epoll.
    pub(crate) interest: Option<Interest>,
    /// Flags currently registered with the kernel; `None` when not there.
    pub(crate) armed: Option<u32>,
    pub(crate) rx: BytesMut,
    pub(crate) tx: BytesMut,
    /// The peer's EOF was seen; nothing more to read.
    pub(crate) read_closed: bool,
    /// Failed: out of epoll for good, waiting for the caller's close.
    pub(crate) broken: bool,
    /// Reading paused: output over the high-water mark, or a listener
    /// resting after EMFILE.
    pub(crate) paused: bool,
    /// The caller let go: send what is queued, then close gracefully.
    /// Input is read only to see the peer's EOF, and discarded.
    pub(crate) close_when_flushed: bool,
    /// Our sending side: open, to be shut once the queue drains, or shut.
    pub(crate) write_end: WriteEnd,
    /// Reported once the buffered frames have been handed out.
    pub(crate) eof_pending: bool,
    pub(crate) error_pending: Option<ChanError>,
    /// Largest frame body accepted (for a listener: by what it accepts).
    pub(crate) max_body: u32,
    /// Input is handed out as it arrives, not cut into frames (for a
    /// listener: on what it accepts).
    pub(crate) raw: bool,
}

impl Channel {
    pub(crate) fn new(handle: Handle, kind: Kind, max_body: u32) -> Channel {
        Channel {
            handle,
            kind,
            interest: None,
            armed: None,
            rx: BytesMut::new(),
            tx: BytesMut::new(),
            read_closed: false,
            broken: false,
            paused: false,
            close_when_flushed: false,
            write_end: WriteEnd::Open,
            eof_pending: false,
            error_pending: None,
            max_body,
            raw: false,
        }
    }

    /// The epoll flags this channel should be registered with, or `None`
    /// if it should not be in the kernel's interest list at all.
    pub(crate) fn wanted_flags(&self) -> Option<u32> {
        let interest = self.interest?;
        if self.broken {
            return None;
        }
        let read = interest.is_readable() && !self.read_closed && !self.paused;
        let write = interest.is_writable() || !self.tx.is_empty();
        let flags = match self.kind {
            // Edge-triggered unless the caller watches writability, which
            // a select()-style loop expects reported on every wait. Each
            // wait then leaves no served socket on the kernel's ready list
            // to be polled again; what an edge leaves unread is replayed
            // (`Channels::replay`).
            Kind::Stream => {
                (if read { EV_IN | EV_RDHUP } else { 0 })
                    | (if write { EV_OUT } else { 0 })
                    | (if interest.is_writable() { 0 } else { EV_ET })
            }
            Kind::Connecting => EV_OUT,
            Kind::Udp => (if read { EV_IN } else { 0 }) | (if write { EV_OUT } else { 0 }),
            Kind::Listener | Kind::Timer | Kind::Signal | Kind::Waker => {
                if read {
                    EV_IN
                } else {
                    0
                }
            }
        };
        Some(flags)
    }

    /// Brings the kernel's registration in line with what the channel
    /// wants; at most one `epoll_ctl`, none if nothing changed.
    pub(crate) fn sync(
        &mut self,
        epfd: RawFd,
        id: ChanId,
        counters: &mut Counters,
    ) -> Result<(), ChanError> {
        let (op, flags) = match (self.armed, self.wanted_flags()) {
            (None, None) => return Ok(()),
            (Some(_), None) => (Ctl::Del, 0),
            (None, Some(want)) => (Ctl::Add, want),
            (Some(have), Some(want)) if have == want => return Ok(()),
            (Some(_), Some(want)) => (Ctl::Mod, want),
        };
        counters.syscalls.epoll_ctl += 1;
        sys::epoll_ctl(epfd, op, self.handle.fd(), flags, id.token())?;
        self.armed = match op {
            Ctl::Del => None,
            _ => Some(flags),
        };
        Ok(())
    }

    /// The receive buffer and the sending side apart, so a reply can be
    /// sent while a frame in the buffer is read.
    #[inline]
    pub(crate) fn split_mut(&mut self) -> (&mut BytesMut, Outbound<'_>) {
        let out = Outbound {
            tx: &mut self.tx,
            fd: self.handle.fd(),
            kind: self.kind,
            write_end: self.write_end,
            broken: &mut self.broken,
            paused: &mut self.paused,
        };
        (&mut self.rx, out)
    }

    /// Registered edge-triggered: the kernel reports it once per change,
    /// so what is left unread must be replayed by us.
    pub(crate) fn is_edge_triggered(&self) -> bool {
        self.armed.is_some_and(|armed| armed & EV_ET != 0)
    }

    /// Whether the caller can expect frames or an end-of-stream event
    /// without another read from the kernel.
    pub(crate) fn has_backlog(&self) -> bool {
        let input = if self.raw {
            !self.rx.is_empty()
        } else {
            self.rx.len() >= proto::HEADER_LEN
        };
        self.eof_pending || self.error_pending.is_some() || input
    }
}

/// A channel's sending side: what a send reads and changes.
pub(crate) struct Outbound<'a> {
    tx: &'a mut BytesMut,
    fd: RawFd,
    kind: Kind,
    write_end: WriteEnd,
    broken: &'a mut bool,
    paused: &'a mut bool,
}

impl Outbound<'_> {
    /// Writes the concatenation of `parts` at once if nothing is queued,
    /// and queues what the kernel does not take. `Ok(true)`, or an error
    /// (the channel is then broken): the registration must be brought up
    /// to date.
    #[inline(always)] // an echo's whole path
    pub(crate) fn send(
        &mut self,
        id: ChanId,
        parts: &[&[u8]],
        counters: &mut Counters,
        high_water: usize,
    ) -> Result<bool, ChanError> {
        if !matches!(self.kind, Kind::Stream | Kind::Connecting) {
            return Err(ChanError::WrongKind { id, op: "send" });
        }
        if *self.broken {
            return Err(ChanError::Broken(id));
        }
        if self.write_end != WriteEnd::Open {
            return Err(ChanError::WriteShut(id));
        }
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let mut written = 0;
        if self.tx.is_empty() && self.kind == Kind::Stream {
            counters.syscalls.write += 1;
            let res = match parts {
                [one] => sys::send(self.fd, one),
                _ => sys::send_vectored(self.fd, parts),
            };
            written = match res {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                Err(e) => {
                    *self.broken = true;
                    return Err(e.into());
                }
            };
        }
        counters.frames_out += 1;
        counters.bytes_out += written as u64;
        if written == total {
            return Ok(false);
        }
        let mut skip = written;
        for part in parts {
            let from = skip.min(part.len());
            self.tx.extend_from_slice(&part[from..]);
            skip -= from;
        }
        if self.tx.len() > high_water && !*self.paused {
            *self.paused = true;
            counters.high_water_pauses += 1;
        }
        Ok(true)
    }
}
