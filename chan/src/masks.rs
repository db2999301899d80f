//! The `Masks` shim: `chanSelect_`'s answer shape on top of the epoll
//! engine, so a legacy select-style loop ports line for line.
//!
//! | C                                   | here                                   |
//! |-------------------------------------|----------------------------------------|
//! | `FD_ZERO(&m.rmask)`                 | `m.rmask.zero()`                        |
//! | `FD_SET(ch, &m.rmask)`              | `m.rmask.set(ch)`                       |
//! | `chanSelect_(&sock, &chan, &tv)`    | `select.chan_select(&mut chans, &sock, &mut chan, tv)` |
//! | `FD_ISSET(ch, &chan.rmask)`         | `chan.rmask.is_set(ch)`                 |
//! | `chanDequeue_(ch, &buf)`            | `select.dequeue(ch)`                    |
//! | `chanAccept_(ch, &from)`            | `select.accept(ch)`                     |
//!
//! Meaning of the answer, as `chanSelect_` gave it: `rmask` — a whole
//! frame is ready (connection), a connection is pending (listener), a
//! datagram arrived (UDP), the timer fired, a signal or wake arrived;
//! `wmask` — asked-for channels that can take output now; `emask` — EOF or
//! error, reported only once every frame before it was dequeued.

use crate::{ChanError, ChanId, Channels, Event, Frame, Kind};
use bytes::Bytes;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

/// A bitset indexed by channel index, sized to the table (not to 1024).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChanSet {
    words: Vec<u64>,
}

impl ChanSet {
    pub fn set(&mut self, id: ChanId) {
        let (word, bit) = (id.index() / 64, id.index() % 64);
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        self.words[word] |= 1 << bit;
    }

    pub fn clear(&mut self, id: ChanId) {
        if let Some(w) = self.words.get_mut(id.index() / 64) {
            *w &= !(1 << (id.index() % 64));
        }
    }

    pub fn is_set(&self, id: ChanId) -> bool {
        self.words
            .get(id.index() / 64)
            .is_some_and(|w| w & (1 << (id.index() % 64)) != 0)
    }

    /// Clears every bit, keeping the storage.
    pub fn zero(&mut self) {
        self.words.iter_mut().for_each(|w| *w = 0);
    }

    /// Number of bits set.
    pub fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Indices of the set bits, ascending.
    pub fn indices(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &w)| {
            (0..64)
                .filter(move |b| w & (1 << b) != 0)
                .map(move |b| i * 64 + b)
        })
    }
}

/// Read, write and exception sets, as in `struct Masks`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Masks {
    pub rmask: ChanSet,
    pub wmask: ChanSet,
    pub emask: ChanSet,
}

impl Masks {
    pub fn zero(&mut self) {
        self.rmask.zero();
        self.wmask.zero();
        self.emask.zero();
    }
}

/// Holds what `chan_select` reported until the legacy loop dequeues it.
#[derive(Default)]
pub struct Select {
    /// Events by the index of the channel that became ready.
    inbox: Vec<VecDeque<Event>>,
}

impl Select {
    pub fn new() -> Select {
        Select::default()
    }

    /// `chanSelect_`: waits up to `timeout` for any channel, then fills
    /// `ready` for the channels set in `watch.rmask` (read/exception) and
    /// `watch.wmask` (write). Returns the number of bits set in `ready`.
    ///
    /// Events for channels not being watched are kept until asked for.
    pub fn chan_select(
        &mut self,
        chans: &mut Channels,
        watch: &Masks,
        ready: &mut Masks,
        timeout: Option<Duration>,
    ) -> Result<usize, ChanError> {
        ready.zero();
        let already = self.inbox.iter().any(|q| !q.is_empty());
        chans.chan_epoll(if already {
            Some(Duration::ZERO)
        } else {
            timeout
        })?;
        while let Some(event) = chans.next_event() {
            let index = event.source().index();
            if index >= self.inbox.len() {
                self.inbox.resize_with(index + 1, VecDeque::new);
            }
            self.inbox[index].push_back(event);
        }
        for id in chans.ids() {
            if watch.rmask.is_set(id) {
                match self.front(id) {
                    Some(Event::Eof { .. } | Event::Error { .. }) => ready.emask.set(id),
                    Some(_) => ready.rmask.set(id),
                    None => {}
                }
            }
            if watch.wmask.is_set(id) && can_take_output(chans, id) {
                ready.wmask.set(id);
            }
        }
        Ok(ready.rmask.count() + ready.wmask.count() + ready.emask.count())
    }

    /// The oldest undelivered event of `id`, dropping any left by an
    /// earlier channel in the same slot.
    fn front(&mut self, id: ChanId) -> Option<&Event> {
        let queue = self.inbox.get_mut(id.index())?;
        while queue.front().is_some_and(|e| e.source() != id) {
            queue.pop_front();
        }
        queue.front()
    }

    /// Takes the oldest event of `id` if `extract` accepts it; an event
    /// it hands back stays first in line.
    fn take_with<T>(
        &mut self,
        id: ChanId,
        extract: impl FnOnce(Event) -> Result<T, Event>,
    ) -> Option<T> {
        self.front(id)?;
        let queue = &mut self.inbox[id.index()];
        match extract(queue.pop_front()?) {
            Ok(value) => Some(value),
            Err(event) => {
                queue.push_front(event);
                None
            }
        }
    }

    /// `chanDequeue_`: the next whole frame of a connection.
    pub fn dequeue(&mut self, id: ChanId) -> Option<Frame> {
        self.take_with(id, |e| match e {
            Event::Frame { frame, .. } => Ok(frame),
            other => Err(other),
        })
    }

    /// `chanAccept_`: the next connection accepted on a listener.
    pub fn accept(&mut self, listener: ChanId) -> Option<ChanId> {
        self.take_with(listener, |e| match e {
            Event::Accepted { id, .. } => Ok(id),
            other => Err(other),
        })
    }

    /// The next datagram of a UDP channel.
    pub fn recv_from(&mut self, id: ChanId) -> Option<(SocketAddr, Bytes)> {
        self.take_with(id, |e| match e {
            Event::Datagram { from, data, .. } => Ok((from, data)),
            other => Err(other),
        })
    }

    /// Any next event of `id` (timer, signal, wake, EOF, error, ...).
    pub fn take_event(&mut self, id: ChanId) -> Option<Event> {
        self.take_with(id, Ok)
    }

    /// Forgets what is held for a channel the loop is closing.
    pub fn forget(&mut self, id: ChanId) {
        if let Some(queue) = self.inbox.get_mut(id.index()) {
            queue.clear();
        }
    }
}

/// select()'s "writable": connected and nothing waiting in the queue.
fn can_take_output(chans: &Channels, id: ChanId) -> bool {
    match chans.kind(id) {
        Some(Kind::Stream) => chans.queued_bytes(id).is_ok_and(|q| q == 0),
        Some(Kind::Udp) => true,
        _ => false,
    }
}
