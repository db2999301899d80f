//! What a caller asks to be told about, and what it is told.

use crate::{ChanError, ChanId, Frame, SignalInfo};
use bytes::Bytes;
use std::net::SocketAddr;
use std::ops::BitOr;

/// Which readiness a caller wants reported for a channel.
///
/// `READ` covers frames, accepts, datagrams, timer and signal firings.
/// `WRITE` asks for [`Event::Writable`] whenever the channel could take
/// more output (select()'s write set); callers that only send replies do
/// not need it, because the send queue arms and disarms `EPOLLOUT` itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Interest(u8);

impl Interest {
    pub const NONE: Interest = Interest(0);
    pub const READ: Interest = Interest(1);
    pub const WRITE: Interest = Interest(2);
    pub const BOTH: Interest = Interest(3);

    pub fn is_readable(self) -> bool {
        self.0 & 1 != 0
    }

    pub fn is_writable(self) -> bool {
        self.0 & 2 != 0
    }
}

impl BitOr for Interest {
    type Output = Interest;
    fn bitor(self, rhs: Interest) -> Interest {
        Interest(self.0 | rhs.0)
    }
}

/// One thing that happened on one channel.
#[derive(Debug)]
pub enum Event {
    /// A whole frame arrived on a connection.
    Frame { id: ChanId, frame: Frame },
    /// Bytes arrived on a raw connection ([`crate::Channels::set_raw`]):
    /// what one read brought, in order, shared with the receive buffer.
    Data { id: ChanId, data: Bytes },
    /// `listener` accepted a connection, now open as `id` and watched for
    /// reading.
    Accepted { listener: ChanId, id: ChanId },
    /// An outbound connection completed.
    Connected { id: ChanId },
    /// The peer sends no more; every frame it sent was delivered before
    /// this. Replies may still be sent unless the peer also closed.
    Eof { id: ChanId },
    /// The channel failed and is no longer watched; close it.
    Error { id: ChanId, error: ChanError },
    /// The send queue drained after a short write, or `WRITE` interest
    /// was asked for and the socket can take more.
    Writable { id: ChanId },
    /// A UDP datagram (possibly empty).
    Datagram {
        id: ChanId,
        from: SocketAddr,
        data: Bytes,
    },
    /// A timer fired `expirations` times since it was last reported.
    Timer { id: ChanId, expirations: u64 },
    /// A signal arrived on a signal channel.
    Signal { id: ChanId, info: SignalInfo },
    /// A [`crate::Waker`] was woken, once or many times.
    Wake { id: ChanId },
}

impl Event {
    /// The channel this event is about (for `Accepted`, the new one).
    pub fn id(&self) -> ChanId {
        match *self {
            Event::Frame { id, .. }
            | Event::Data { id, .. }
            | Event::Accepted { id, .. }
            | Event::Connected { id }
            | Event::Eof { id }
            | Event::Error { id, .. }
            | Event::Writable { id }
            | Event::Datagram { id, .. }
            | Event::Timer { id, .. }
            | Event::Signal { id, .. }
            | Event::Wake { id } => id,
        }
    }

    /// The channel that became ready (for `Accepted`, the listener).
    pub fn source(&self) -> ChanId {
        match *self {
            Event::Accepted { listener, .. } => listener,
            _ => self.id(),
        }
    }
}
