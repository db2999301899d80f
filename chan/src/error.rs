//! Errors of the channel library.

use crate::ChanId;
use proto::HeaderError;
use std::{fmt, io};

/// Why a channel operation failed or a channel was reported broken.
#[derive(Debug)]
pub enum ChanError {
    /// The table holds as many channels as it may.
    TableFull {
        capacity: usize,
    },
    /// The id names no open channel (closed, or never opened here).
    Stale(ChanId),
    /// `chan_epoll_mod`/`del` on a channel that is not added.
    NotAdded(ChanId),
    /// `chan_epoll_add` on a channel that is already added.
    AlreadyAdded(ChanId),
    /// The operation does not apply to this kind of channel.
    WrongKind {
        id: ChanId,
        op: &'static str,
    },
    /// The peer sent a header that cannot start a frame here.
    Frame(HeaderError),
    /// An outbound connection did not complete in time.
    ConnectTimeout,
    /// The channel failed earlier and only `close` is left to do.
    Broken(ChanId),
    /// Sending was shut ([`crate::Channels::shutdown_when_flushed`]).
    WriteShut(ChanId),
    Io(io::Error),
}

impl fmt::Display for ChanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChanError::TableFull { capacity } => {
                write!(f, "channel table full ({capacity} channels)")
            }
            ChanError::Stale(id) => write!(f, "channel {id} is not open"),
            ChanError::NotAdded(id) => write!(f, "channel {id} is not added to epoll"),
            ChanError::AlreadyAdded(id) => write!(f, "channel {id} is already added to epoll"),
            ChanError::WrongKind { id, op } => write!(f, "{op} does not apply to channel {id}"),
            ChanError::Frame(e) => write!(f, "bad frame: {e}"),
            ChanError::ConnectTimeout => f.write_str("connect timed out"),
            ChanError::Broken(id) => write!(f, "channel {id} failed earlier; close it"),
            ChanError::WriteShut(id) => write!(f, "channel {id} has shut its sending side"),
            ChanError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ChanError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ChanError::Io(e) => Some(e),
            ChanError::Frame(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for ChanError {
    fn from(e: io::Error) -> Self {
        ChanError::Io(e)
    }
}

impl ChanError {
    /// The error as an `io::Error`, for callers that only speak io.
    pub fn into_io(self) -> io::Error {
        match self {
            ChanError::Io(e) => e,
            other => io::Error::other(other.to_string()),
        }
    }
}
