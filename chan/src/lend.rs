//! Frames lent where they arrived instead of cut out.
//!
//! [`Channels::next_event`] hands each frame out as an owned [`crate::Frame`]
//! sharing the receive buffer: it can be kept, but cutting it out, counting
//! the reference and dropping it again is a sixth of what an echo server
//! spends in user space per message. A server that is done with each
//! frame before it asks for the next one borrows it instead, with
//! [`Channels::next_lent`]: the frame is read in place, a reply goes out
//! on the same channel meanwhile, and dropping the frame moves the buffer
//! past it.
//!
//! While a frame is lent nothing else can be done with the channels: a
//! wait would read into the buffer the frame is in. Close or send
//! elsewhere after dropping it.

use crate::channel::Channel;
use crate::dispatch::{Handout, RX_SHRINK_ABOVE};
use crate::{ChanError, ChanId, Channels, Counters, Event};
use bytes::{Buf, BytesMut};
use proto::{Header, HEADER_LEN};
use std::collections::VecDeque;
use std::os::fd::{AsRawFd, RawFd};

/// What [`Channels::next_lent`] hands out.
pub enum Lent<'a> {
    /// A whole frame, lent in place until dropped.
    Frame(LentFrame<'a>),
    /// Anything else, as [`Channels::next_event`] reports it (never
    /// [`Event::Frame`]).
    Event(Event),
}

/// A whole frame at the front of its channel's receive buffer. Dropping
/// it moves the buffer past the frame.
pub struct LentFrame<'a> {
    id: ChanId,
    header: Header,
    chan: &'a mut Channel,
    /// What a reply needs besides the channel.
    counters: &'a mut Counters,
    queued: &'a mut VecDeque<Event>,
    epfd: RawFd,
    high_water: usize,
    /// A reply was queued or failed: the registration is brought up to
    /// date when the frame is dropped.
    resync: bool,
}

/// A frame found at the front of a receive buffer, left where it is.
pub(crate) enum Handed {
    Frame(ChanId, Header),
    Event(Event),
}

impl Handout for Handed {
    #[inline]
    fn event(event: Event) -> Handed {
        Handed::Event(event)
    }

    #[inline]
    fn frame(id: ChanId, header: Header, _rx: &mut BytesMut) -> Handed {
        Handed::Frame(id, header)
    }
}

impl Channels {
    /// As [`Channels::next_event`], but each frame is lent in place rather
    /// than cut out of the receive buffer: no reference counting and no
    /// buffer bookkeeping per frame. Reply with [`LentFrame::reply`] or
    /// [`LentFrame::echo`]; drop the frame before anything else.
    ///
    /// ```no_run
    /// use chan::{Channels, Config, Event, Lent};
    /// let mut chans = Channels::new(Config::default())?;
    /// chans.tcp_listen("127.0.0.1:0".parse().unwrap())?;
    /// loop {
    ///     chans.chan_epoll(None)?;
    ///     loop {
    ///         // A `match` in a `let`, not a `while let`: the loan must
    ///         // end before the body uses `chans` again.
    ///         let done_with = match chans.next_lent() {
    ///             None => break,
    ///             Some(Lent::Frame(mut frame)) => {
    ///                 let id = frame.id();
    ///                 frame.echo().is_err().then_some(id)
    ///             }
    ///             Some(Lent::Event(Event::Eof { id } | Event::Error { id, .. })) => Some(id),
    ///             Some(Lent::Event(_)) => None,
    ///         };
    ///         if let Some(id) = done_with {
    ///             chans.close(id)?;
    ///         }
    ///     }
    /// }
    /// # Ok::<(), chan::ChanError>(())
    /// ```
    pub fn next_lent(&mut self) -> Option<Lent<'_>> {
        let (id, header) = match self.next_handout::<Handed>()? {
            Handed::Event(event) => return Some(Lent::Event(event)),
            Handed::Frame(id, header) => (id, header),
        };
        let epfd = self.epoll.as_raw_fd();
        // The walk has just found the frame in this channel. (Were it
        // gone, ending the walk early loses nothing: what is not handed
        // out is carried over the next wait.)
        let chan = self.table.get_mut(id)?;
        Some(Lent::Frame(LentFrame {
            id,
            header,
            chan,
            counters: &mut self.counters,
            queued: &mut self.queued,
            epfd,
            high_water: self.config.high_water,
            resync: false,
        }))
    }
}

impl LentFrame<'_> {
    #[inline]
    pub fn id(&self) -> ChanId {
        self.id
    }

    #[inline]
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The exact bytes of the frame, header included.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.chan.rx[..self.header.frame_len()]
    }

    /// The body after the 20-byte header.
    #[inline]
    pub fn body(&self) -> &[u8] {
        &self.as_bytes()[HEADER_LEN..]
    }

    /// [`Channels::counters`].
    pub fn counters(&self) -> &Counters {
        self.counters
    }

    /// [`Channels::send`] on the frame's own channel.
    #[inline]
    pub fn reply(&mut self, data: &[u8]) -> Result<(), ChanError> {
        let (_, mut out) = self.chan.split_mut();
        let sent = out.send(self.id, &[data], self.counters, self.high_water);
        self.note(sent)
    }

    /// Sends the frame itself back, as an echo or ping does.
    #[inline]
    pub fn echo(&mut self) -> Result<(), ChanError> {
        let len = self.header.frame_len();
        let (rx, mut out) = self.chan.split_mut();
        let sent = out.send(self.id, &[&rx[..len]], self.counters, self.high_water);
        self.note(sent)
    }

    #[inline]
    fn note(&mut self, sent: Result<bool, ChanError>) -> Result<(), ChanError> {
        self.resync |= !matches!(sent, Ok(false));
        sent.map(drop)
    }

    /// Brings the registration up to date after a queued or failed reply;
    /// a failure is reported as [`Event::Error`], as a read's would be.
    #[cold]
    fn resync(&mut self) {
        if let Err(error) = self.chan.sync(self.epfd, self.id, self.counters) {
            self.chan.broken = true;
            let _ = self.chan.sync(self.epfd, self.id, self.counters);
            self.queued.push_back(Event::Error { id: self.id, error });
        }
    }
}

impl Drop for LentFrame<'_> {
    #[inline]
    fn drop(&mut self) {
        let len = self.header.frame_len();
        let rx = &mut self.chan.rx;
        if rx.len() == len {
            // The usual end of a read: the next one starts where this did.
            rx.clear();
            if rx.capacity() > RX_SHRINK_ABOVE {
                *rx = BytesMut::new();
            }
        } else {
            rx.advance(len);
        }
        if self.resync {
            self.resync();
        }
    }
}
