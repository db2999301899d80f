//! One entry of the table: its fd, its kind, its buffers and what it is
//! registered for.

use crate::sys::{EV_ET, EV_IN, EV_OUT, EV_RDHUP};
use crate::{ChanError, Interest};
use bytes::BytesMut;
use socket2::Socket;
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
