//! Waiting for readiness and turning it into events.
//!
//! `chan_epoll` waits once; `next_event` then walks the ready list one
//! event at a time. Work for a ready channel (read, parse, accept) happens
//! when the walk reaches it, after the channel's generation is checked
//! again, so a channel the caller closed earlier in the same batch is never
//! touched, and its event never reaches a channel that reused the slot.

use crate::channel::{Channel, Handle, Kind, WriteEnd};
use crate::frame::{bytes_missing, whole_frame};
use crate::sys::{self, EV_ERR, EV_HUP, EV_IN, EV_OUT, EV_RDHUP};
use crate::{ChanError, ChanId, Channels, Event, Frame, Interest};
use bytes::BytesMut;
use proto::{Header, HEADER_LEN};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

/// Smallest read buffer a connection gets, so idle connections stay cheap.
pub(crate) const MIN_READ_RESERVE: usize = 4096;
/// Below this much free room a read first makes room again.
const MIN_READ_SPARE: usize = MIN_READ_RESERVE / 2;
/// An emptied small receive buffer goes back to its front once this much
/// of it has been read through.
const REWIND_AFTER: usize = 512;
/// Largest datagram UDP can carry.
const MAX_DATAGRAM: usize = 65_536;
/// An empty receive buffer larger than this is given back after use.
pub(crate) const RX_SHRINK_ABOVE: usize = 256 << 10;

/// A channel whose results are being handed out one per `next_event`.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Drain {
    /// Frames already read; bounded by the one read that brought them.
    Frames(ChanId),
    /// One syscall per item, at most `left` more in this wakeup.
    Batch { id: ChanId, of: Batch, left: usize },
}

/// What a budgeted drain takes in, one syscall per item.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Batch {
    Accepts,
    Datagrams,
    Signals,
}

/// How a walk hands things out: a frame cut out as an owned [`Frame`]
/// ([`Event`]), or lent where it lies (`lend::Handed`).
pub(crate) trait Handout: Sized {
    fn event(event: Event) -> Self;
    /// Takes the whole frame `header` heads at the front of `rx`.
    fn frame(id: ChanId, header: Header, rx: &mut BytesMut) -> Self;
}

impl Handout for Event {
    #[inline]
    fn event(event: Event) -> Event {
        event
    }

    #[inline]
    fn frame(id: ChanId, header: Header, rx: &mut BytesMut) -> Event {
        let frame = Frame::cut(header, rx);
        if rx.is_empty() && frame.as_bytes().len() > RX_SHRINK_ABOVE {
            // The emptied buffer still shares the frame's allocation: let
            // the frame be its only owner.
            *rx = BytesMut::new();
        }
        Event::Frame { id, frame }
    }
}

/// What one step of a drain did.
enum Step {
    Event(Event),
    /// Used budget but produced nothing to report (a shed connection).
    Skip,
    /// Nothing more is waiting.
    Done,
}

#[derive(Clone, Copy, Debug)]
enum Due {
    ConnectTimeout,
    ResumeListener,
    /// A closing channel waited long enough for its peer's EOF.
    LingerEnd,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline {
    at: Instant,
    id: ChanId,
    due: Due,
}

impl Deadline {
    pub(crate) fn connect(id: ChanId, at: Instant) -> Deadline {
        Deadline {
            at,
            id,
            due: Due::ConnectTimeout,
        }
    }

    pub(crate) fn linger(id: ChanId, at: Instant) -> Deadline {
        Deadline {
            at,
            id,
            due: Due::LingerEnd,
        }
    }
}

/// Milliseconds for epoll_wait, rounded up so a wait never ends early.
fn ceil_millis(d: Duration) -> i32 {
    let ms = d.as_nanos().div_ceil(1_000_000);
    ms.min(i32::MAX as u128) as i32
}

impl Channels {
    /// Waits up to `timeout` (`None`: until something happens) for ready
    /// channels; returns how many the kernel reported. Then call
    /// [`Channels::next_event`] until it returns `None`.
    ///
    /// Anything not handed out before the next call is handed out after
    /// it: buffered frames are carried over, and the reports of
    /// edge-triggered streams replayed, so nothing waits for new data.
    pub fn chan_epoll(&mut self, timeout: Option<Duration>) -> Result<usize, ChanError> {
        self.carry_unfinished();
        self.ready.clear();
        self.cursor = 0;
        let mut wait = match timeout {
            Some(t) => ceil_millis(t),
            None => -1,
        };
        // Only deadlines need the clock: a busy server without any skips
        // a clock read per wait.
        if !self.deadlines.is_empty() {
            let now = Instant::now();
            self.run_deadlines(now);
            if let Some(next) = self.deadlines.iter().map(|d| d.at).min() {
                let until = ceil_millis(next.saturating_duration_since(now));
                wait = if wait < 0 { until } else { wait.min(until) };
            }
        }
        if !self.queued.is_empty() || !self.carry.is_empty() || !self.replay.is_empty() {
            wait = 0;
        }
        self.counters.syscalls.epoll_wait += 1;
        let n = self.ready.wait(self.epoll.as_raw_fd(), wait)?;
        if !self.deadlines.is_empty() {
            self.run_deadlines(Instant::now());
        }
        Ok(n)
    }

    /// The next event from the last `chan_epoll`, or `None` when all are
    /// handed out. Events for channels closed since the wait are dropped
    /// (and counted as stale).
    pub fn next_event(&mut self) -> Option<Event> {
        self.next_handout()
    }

    /// The walk behind [`Channels::next_event`] and
    /// [`Channels::next_lent`]: they differ only in how a frame leaves.
    pub(crate) fn next_handout<T: Handout>(&mut self) -> Option<T> {
        loop {
            if let Some(event) = self.queued.pop_front() {
                return Some(T::event(event));
            }
            match self.drain {
                // The hot path of a server: no detour through `Step`.
                Some(Drain::Frames(id)) => {
                    let out = self.next_frame(id);
                    if out.is_some() {
                        return out;
                    }
                    self.drain = None;
                    continue;
                }
                Some(Drain::Batch { id, of, left }) => {
                    match self.continue_batch(id, of, left) {
                        Step::Event(event) => return Some(T::event(event)),
                        Step::Skip => {}
                        Step::Done => self.drain = None,
                    }
                    continue;
                }
                None => {}
            }
            if let Some(id) = self.carry.pop() {
                self.drain = Some(Drain::Frames(id));
                continue;
            }
            let (id, flags) = match self.ready.get(self.cursor) {
                Some((token, flags)) => {
                    self.cursor += 1;
                    (ChanId::from_token(token), flags)
                }
                None => self.replay.pop()?,
            };
            if let Some(event) = self.dispatch(id, flags) {
                return Some(T::event(event));
            }
        }
    }

    /// Frames already read but not handed out, and edge-triggered reports
    /// not yet acted on, must survive the next wait: the kernel will not
    /// report those bytes again.
    fn carry_unfinished(&mut self) {
        if let Some(Drain::Frames(id)) = self.drain.take() {
            self.carry.push(id);
        }
        for i in self.cursor..self.ready.len() {
            if let Some((token, flags)) = self.ready.get(i) {
                let id = ChanId::from_token(token);
                let Some(chan) = self.table.get(id) else {
                    continue;
                };
                if chan.has_backlog() {
                    self.carry.push(id);
                }
                if chan.is_edge_triggered() {
                    self.replay_next.push((id, flags));
                }
            }
        }
        self.carry.sort_unstable();
        self.carry.dedup();
        self.replay.append(&mut self.replay_next);
        // One visit per channel, for everything it was owed.
        self.replay.sort_unstable_by_key(|&(id, _)| id);
        self.replay.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                kept.1 |= later.1;
            }
            same
        });
    }

    /// An edge-triggered stream needs another read with no new edge to
    /// prompt it; `flags` keep what the last report said about its peer.
    fn owe_read(&mut self, id: ChanId, flags: u32) {
        if self.table.get(id).is_some_and(Channel::is_edge_triggered) {
            self.replay_next.push((id, flags & !EV_OUT));
        }
    }

    fn run_deadlines(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.deadlines.len() {
            let d = self.deadlines[i];
            if d.at > now {
                i += 1;
                continue;
            }
            self.deadlines.swap_remove(i);
            let Some(chan) = self.table.get_mut(d.id) else {
                continue;
            };
            match d.due {
                Due::ConnectTimeout if chan.kind == Kind::Connecting => {
                    chan.broken = true;
                    let _ = self.sync(d.id);
                    self.queued.push_back(Event::Error {
                        id: d.id,
                        error: ChanError::ConnectTimeout,
                    });
                }
                Due::ResumeListener => {
                    chan.paused = false;
                    if let Err(e) = self.sync(d.id) {
                        log::warn!("could not resume listener {}: {e}", d.id);
                    }
                }
                Due::LingerEnd => {
                    let _ = self.close(d.id);
                }
                Due::ConnectTimeout => {}
            }
        }
    }

    /// Handles one kernel event; returns the first event it produced.
    #[inline(always)] // into both walks: a call less per message
    fn dispatch(&mut self, id: ChanId, flags: u32) -> Option<Event> {
        let Some(chan) = self.table.get(id) else {
            self.counters.stale_events += 1;
            log::trace!("dropped stale event for {id}");
            return None;
        };
        if chan.broken {
            // Failed earlier in this pass (e.g. its connect timed out): it
            // has left epoll, and this event came from before that.
            return None;
        }
        match chan.kind {
            Kind::Stream => self.stream_ready(id, flags),
            Kind::Connecting => self.connect_done(id),
            Kind::Listener => self.start_batch(id, Batch::Accepts, self.config.accept_budget),
            Kind::Udp => {
                if flags & EV_OUT != 0 {
                    self.queued.push_back(Event::Writable { id });
                }
                if flags & (EV_IN | EV_ERR) == 0 {
                    return None;
                }
                self.start_batch(id, Batch::Datagrams, self.config.datagram_budget)
            }
            Kind::Signal => self.start_batch(id, Batch::Signals, self.config.datagram_budget),
            Kind::Timer | Kind::Waker => self.counter_ready(id, chan.kind),
        }
    }

    fn start_batch(&mut self, id: ChanId, of: Batch, left: usize) -> Option<Event> {
        self.drain = Some(Drain::Batch { id, of, left });
        None
    }

    /// One item of the current batch. An item that used budget moves the
    /// batch on; an exhausted budget ends it (the kernel reports the rest
    /// on the next wait: listeners, datagrams and signals are
    /// level-triggered).
    fn continue_batch(&mut self, id: ChanId, of: Batch, left: usize) -> Step {
        let step = match of {
            Batch::Accepts => self.next_accept(id),
            Batch::Datagrams => self.next_datagram(id),
            Batch::Signals => self.next_signal(id),
        };
        if !matches!(step, Step::Done) {
            self.drain = match left.saturating_sub(1) {
                0 => {
                    self.counters.budget_exhausted += 1;
                    None
                }
                left => Some(Drain::Batch { id, of, left }),
            };
        }
        step
    }

    /// A connection is ready: flush queued output first (a reply may
    /// free the peer to send), then do one read and hand out the frames.
    fn stream_ready(&mut self, id: ChanId, flags: u32) -> Option<Event> {
        if flags & EV_OUT != 0 {
            if let Some(event) = self.flush(id) {
                self.queued.push_back(event);
            }
            if !matches!(self.table.get(id), Some(chan) if !chan.broken) {
                return None;
            }
        }
        if flags & (EV_IN | EV_RDHUP | EV_HUP | EV_ERR) != 0 {
            self.read_stream(id, flags);
            self.drain = Some(Drain::Frames(id));
        }
        None
    }

    /// Marks the channel failed and out of epoll. A channel waiting to be
    /// closed once flushed is closed now instead (nobody waits for it).
    fn fail(&mut self, id: ChanId, error: ChanError) -> Option<Event> {
        let chan = self.table.get_mut(id)?;
        chan.broken = true;
        if chan.close_when_flushed {
            let _ = self.close(id);
            return None;
        }
        let _ = self.sync(id);
        Some(Event::Error { id, error })
    }

    /// Writes as much of the send queue as the kernel takes.
    fn flush(&mut self, id: ChanId) -> Option<Event> {
        let low_water = self.config.high_water / 2;
        let chan = self.table.get_mut(id)?;
        if chan.tx.is_empty() {
            let wants_write = chan.interest.is_some_and(Interest::is_writable);
            return wants_write.then_some(Event::Writable { id });
        }
        self.counters.syscalls.write += 1;
        match sys::send(chan.handle.fd(), &chan.tx) {
            Ok(n) => {
                self.counters.bytes_out += n as u64;
                let _ = chan.tx.split_to(n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
            Err(e) => return self.fail(id, e.into()),
        }
        if chan.paused && chan.tx.len() <= low_water {
            chan.paused = false;
        }
        let drained = chan.tx.is_empty();
        if drained && chan.close_when_flushed {
            self.shut_down_when_flushed(id);
            return None;
        }
        if drained && chan.write_end == WriteEnd::ShutWhenFlushed {
            if let Err(error) = self.shut_write(id) {
                return self.fail(id, error);
            }
        }
        if let Err(error) = self.sync(id) {
            return self.fail(id, error);
        }
        drained.then_some(Event::Writable { id })
    }

    /// One read (at most the read budget) into the receive buffer. EOF and
    /// errors are recorded on the channel and reported after its frames.
    fn read_stream(&mut self, id: ChanId, flags: u32) {
        let budget = self.config.read_budget;
        let Some(chan) = self.table.get_mut(id) else {
            return;
        };
        let max_frame = HEADER_LEN + chan.max_body as usize;
        if chan.read_closed || chan.paused {
            // Input is not wanted now. An EPOLLIN reported before that
            // changed (earlier in this batch) is ignored; HUP or ERR means
            // the peer is gone and nothing more can be read or sent.
            if flags & (EV_HUP | EV_ERR) == 0 {
                return;
            }
            if flags & EV_ERR != 0 {
                chan.error_pending = Some(socket_error(&chan.handle));
            } else if !chan.read_closed {
                chan.eof_pending = true;
            }
            chan.read_closed = true;
            chan.broken = true;
            let _ = self.sync(id);
            return;
        }
        // Room for the whole frame being received (so a large frame is
        // read without regrowing), or a small floor for idle connections.
        // Small frames are read into what is left of the buffer until that
        // runs low: reclaiming it on every read costs more than the read.
        // A raw stream has no frame to size the read by: room for a whole
        // budget's worth, so a bulk transfer is not read 4 KiB at a time.
        let missing = if chan.raw {
            budget
        } else {
            bytes_missing(&chan.rx).min(max_frame)
        };
        if chan.rx.is_empty() && chan.rx.capacity() <= MIN_READ_RESERVE - REWIND_AFTER {
            // Everything read was handed out: start again at the front
            // (when no frame still shares the buffer), so a connection
            // keeps reusing a few warm cache lines instead of walking its
            // whole buffer. Not on every read: reclaiming costs ~75
            // instructions, and every 512 bytes keeps the lines warm.
            let _ = chan.rx.try_reclaim(chan.rx.capacity() + 1);
        }
        if chan.rx.capacity() - chan.rx.len() < missing.min(budget).max(MIN_READ_SPARE) {
            chan.rx.reserve(missing.max(MIN_READ_RESERVE));
        }
        self.counters.syscalls.read += 1;
        let outcome = sys::recv_into(chan.handle.fd(), &mut chan.rx, budget);
        let peer_shut = flags & (EV_RDHUP | EV_HUP) != 0;
        let mut more = false;
        match outcome {
            Ok(got) if got.bytes == 0 => chan.eof_pending = true,
            Ok(got) if got.filled => {
                self.counters.bytes_in += got.bytes as u64;
                if got.bytes >= budget {
                    self.counters.budget_exhausted += 1;
                }
                more = true;
            }
            Ok(got) => {
                self.counters.bytes_in += got.bytes as u64;
                if flags & EV_ERR != 0 {
                    chan.error_pending = Some(socket_error(&chan.handle));
                } else if peer_shut {
                    // A short read after the peer shut its side: the
                    // socket holds nothing more, so EOF needs no extra read.
                    chan.eof_pending = true;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => more = true,
            Err(e) => chan.error_pending = Some(e.into()),
        }
        if chan.eof_pending {
            chan.read_closed = true;
        }
        // After HUP or an error nothing can be sent either: leave epoll so
        // the kernel's endless HUP reports cannot spin the loop.
        if chan.error_pending.is_some() || (chan.read_closed && flags & EV_HUP != 0) {
            chan.broken = true;
        }
        if chan.read_closed || chan.broken {
            let _ = self.sync(id);
        } else if more {
            self.owe_read(id, flags);
        }
    }

    /// The next whole frame buffered on `id`, then its EOF or error.
    fn next_frame<T: Handout>(&mut self, id: ChanId) -> Option<T> {
        let chan = self.table.get_mut(id)?;
        let max = chan.max_body;
        if chan.close_when_flushed {
            // Nobody wants this input; it is read only to see the EOF.
            chan.rx.clear();
            chan.eof_pending = false;
            let failed = chan.error_pending.take().is_some() || chan.broken;
            if failed || (chan.read_closed && chan.tx.is_empty()) {
                let _ = self.close(id);
            }
            return None;
        }
        if chan.raw {
            if !chan.rx.is_empty() {
                self.counters.data_in += 1;
                let data = chan.rx.split().freeze();
                return Some(T::event(Event::Data { id, data }));
            }
        } else {
            match whole_frame(&chan.rx, max) {
                Ok(Some(header)) => {
                    self.counters.frames_in += 1;
                    if chan.rx.len() - header.frame_len() < HEADER_LEN
                        && !chan.eof_pending
                        && chan.error_pending.is_none()
                    {
                        // Nothing more can come of this read: end the drain
                        // now rather than with one more call that finds so.
                        self.drain = None;
                    }
                    return Some(T::frame(id, header, &mut chan.rx));
                }
                Ok(None) => {}
                Err(e) => {
                    // The input is no longer frames and is not read again, but
                    // the socket works: a last reply can still be sent (e.g.
                    // the refusal of a frame that came before the bad header).
                    chan.rx = BytesMut::new();
                    chan.eof_pending = false;
                    chan.read_closed = true;
                    let _ = self.sync(id);
                    return Some(T::event(Event::Error {
                        id,
                        error: ChanError::Frame(e),
                    }));
                }
            }
        }
        if chan.rx.is_empty() && chan.rx.capacity() > RX_SHRINK_ABOVE {
            chan.rx = BytesMut::new();
        }
        if let Some(error) = chan.error_pending.take() {
            chan.eof_pending = false;
            return self.fail(id, error).map(T::event);
        }
        std::mem::take(&mut chan.eof_pending).then(|| T::event(Event::Eof { id }))
    }

    fn connect_done(&mut self, id: ChanId) -> Option<Event> {
        let chan = self.table.get_mut(id)?;
        self.counters.syscalls.other += 1;
        if let Some(error) = take_socket_error(&chan.handle) {
            return self.fail(id, error.into());
        }
        chan.kind = Kind::Stream;
        self.deadlines.retain(|d| d.id != id);
        match self.sync(id) {
            Ok(()) => Some(Event::Connected { id }),
            Err(error) => self.fail(id, error),
        }
    }

    fn next_accept(&mut self, listener: ChanId) -> Step {
        let Some(chan) = self.table.get(listener) else {
            return Step::Done;
        };
        let (fd, max_body, raw) = (chan.handle.fd(), chan.max_body, chan.raw);
        self.counters.syscalls.accept += 1;
        let accepted = match sys::accept(fd) {
            Ok(accepted) => accepted,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Done,
            Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                self.shed_backlog(listener, fd);
                return Step::Done;
            }
            // The peer gave up before we accepted (ECONNABORTED) and
            // similar per-connection failures: go on with the next one.
            Err(e) => {
                log::debug!("accept on {listener}: {e}");
                return Step::Skip;
            }
        };
        let sock = accepted.sock;
        // Request/response traffic must not wait for Nagle (TCP only).
        if !accepted.unix {
            self.counters.syscalls.other += 1;
            if let Err(e) = sock.set_nodelay(true) {
                log::debug!("TCP_NODELAY on a connection from {listener}: {e}");
            }
        }
        match self.open(Handle::Socket(sock), Kind::Stream, Interest::READ) {
            Ok(id) => {
                if let Some(chan) = self.table.get_mut(id) {
                    chan.max_body = max_body;
                    chan.raw = raw;
                }
                Step::Event(Event::Accepted { listener, id })
            }
            Err(ChanError::TableFull { capacity }) => {
                self.counters.shed_connections += 1;
                log::warn!(
                    "channel table full ({capacity} channels): refused a connection on {listener}"
                );
                Step::Skip
            }
            Err(e) => {
                log::warn!("could not watch a connection accepted on {listener}: {e}");
                Step::Skip
            }
        }
    }

    /// Out of fds: use the spare fd to accept-and-close what is waiting,
    /// then rest the listener so the loop does not spin on it.
    fn shed_backlog(&mut self, listener: ChanId, fd: RawFd) {
        self.counters.emfile_pauses += 1;
        if !self.emfile_logged {
            self.emfile_logged = true;
            log::warn!(
                "out of file descriptors accepting on {listener}: shedding connections and pausing the listener for {:?} (logged once)",
                self.config.emfile_pause
            );
        }
        self.spare_fd = None;
        for _ in 0..self.config.accept_budget {
            self.counters.syscalls.accept += 1;
            match sys::accept(fd) {
                Ok(_closed_on_drop) => self.counters.shed_connections += 1,
                Err(_) => break,
            }
        }
        self.spare_fd = crate::channels::spare_fd();
        if let Some(chan) = self.table.get_mut(listener) {
            chan.paused = true;
            let _ = self.sync(listener);
            self.deadlines.push(Deadline {
                at: Instant::now() + self.config.emfile_pause,
                id: listener,
                due: Due::ResumeListener,
            });
        }
    }

    fn next_datagram(&mut self, id: ChanId) -> Step {
        let Some(chan) = self.table.get_mut(id) else {
            return Step::Done;
        };
        let Some(sock) = chan.handle.socket() else {
            return Step::Done;
        };
        self.counters.syscalls.read += 1;
        match sys::recv_from(sock, &mut chan.rx, MAX_DATAGRAM) {
            Ok((n, from)) => {
                let data = chan.rx.split_to(n).freeze();
                self.counters.datagrams_in += 1;
                self.counters.bytes_in += n as u64;
                Step::Event(Event::Datagram { id, from, data })
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Step::Done,
            // ICMP errors from earlier sends surface here; they are about
            // some peer, not this socket, so note them and keep serving.
            Err(e) => {
                log::debug!("recvfrom on {id}: {e}");
                Step::Skip
            }
        }
    }

    fn next_signal(&mut self, id: ChanId) -> Step {
        let Some(chan) = self.table.get(id) else {
            return Step::Done;
        };
        self.counters.syscalls.read += 1;
        match sys::read_signal(chan.handle.fd()) {
            Ok(info) => Step::Event(Event::Signal { id, info }),
            Err(_) => Step::Done,
        }
    }

    /// timerfd or eventfd: reading the counter resets it.
    fn counter_ready(&mut self, id: ChanId, kind: Kind) -> Option<Event> {
        let fd = self.table.get(id)?.handle.fd();
        self.counters.syscalls.read += 1;
        match (sys::read_u64(fd), kind) {
            (Ok(expirations), Kind::Timer) => Some(Event::Timer { id, expirations }),
            (Ok(_), _) => Some(Event::Wake { id }),
            (Err(_), _) => None,
        }
    }
}

/// The socket's pending error (SO_ERROR), if it has one.
fn take_socket_error(handle: &Handle) -> Option<io::Error> {
    match handle.socket().map(|s| s.take_error()) {
        Some(Ok(error)) => error,
        Some(Err(e)) => Some(e),
        None => Some(io::Error::other("not a socket")),
    }
}

/// The error behind an EPOLLERR; a reset if the kernel kept none.
fn socket_error(handle: &Handle) -> ChanError {
    take_socket_error(handle)
        .unwrap_or_else(|| io::ErrorKind::ConnectionReset.into())
        .into()
}
