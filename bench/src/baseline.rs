//! The framing and echo handler of the mio and poll(2) servers, written
//! as a careful C port would: reused buffers, one frame parser, replies
//! written at once and queued only on a short write.

use proto::Header;
use std::io::{self, Read, Write};

/// Operation that asks a bench server for its [`crate::report::ServerStats`]
/// instead of an echo; the reply body is the stats as JSON.
pub const OP_STATS: u32 = 0xFFFF_0001;

/// Largest body the bench servers accept (the same for all three).
pub const MAX_BODY: u32 = 1 << 20;
/// Bytes read per call at most, as `chan`'s default read budget.
pub const READ_BUDGET: usize = 64 << 10;
const INITIAL_RX: usize = 4096;

/// What a baseline server counts as it serves.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counts {
    pub messages: u64,
    pub syscalls: u64,
}

/// Builds the reply to an [`OP_STATS`] frame.
pub type StatsReply = fn(&Header, &Counts) -> Vec<u8>;

/// Receive and send buffers of one connection.
#[derive(Default)]
pub struct Buffers {
    /// Zero-initialised storage; bytes `start..filled` are unparsed input.
    rx: Vec<u8>,
    start: usize,
    filled: usize,
    /// Output the kernel did not take yet.
    tx: Vec<u8>,
}

/// What one read did.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadOutcome {
    Data(usize),
    Eof,
    WouldBlock,
}

impl Buffers {
    /// One `read` of at most [`READ_BUDGET`] bytes.
    pub fn read_once(&mut self, r: &mut impl Read, counts: &mut Counts) -> io::Result<ReadOutcome> {
        self.make_room();
        let end = self.rx.len().min(self.filled + READ_BUDGET);
        counts.syscalls += 1;
        match r.read(&mut self.rx[self.filled..end]) {
            Ok(0) => Ok(ReadOutcome::Eof),
            Ok(n) => {
                self.filled += n;
                Ok(ReadOutcome::Data(n))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(ReadOutcome::WouldBlock),
            Err(e) => Err(e),
        }
    }

    /// Moves unparsed bytes to the front and grows for the frame being
    /// received, so the next read has room.
    fn make_room(&mut self) {
        if self.start == self.filled {
            self.start = 0;
            self.filled = 0;
        } else if self.start > 0 && self.rx.len() - self.filled < INITIAL_RX {
            self.rx.copy_within(self.start..self.filled, 0);
            self.filled -= self.start;
            self.start = 0;
        }
        let pending = &self.rx[self.start..self.filled];
        let need = match Header::parse(pending) {
            Ok(h) => h.frame_len().min(MAX_BODY as usize + proto::HEADER_LEN),
            Err(_) => INITIAL_RX,
        };
        let want = self.start + need.max(INITIAL_RX);
        if self.rx.len() < want || self.rx.len() == self.filled {
            self.rx.resize(want.max(self.filled + INITIAL_RX), 0);
        }
    }

    /// Echoes every whole frame buffered back to `w`, counting each as a
    /// message; [`OP_STATS`] frames are answered with `stats` instead. A
    /// header over the limit is an error: the caller closes.
    pub fn echo_frames(
        &mut self,
        w: &mut impl Write,
        counts: &mut Counts,
        stats: StatsReply,
    ) -> io::Result<()> {
        loop {
            let pending = &self.rx[self.start..self.filled];
            let Ok(header) = Header::parse(pending) else {
                return Ok(());
            };
            header.check_length(MAX_BODY).map_err(io::Error::other)?;
            let len = header.frame_len();
            if pending.len() < len {
                return Ok(());
            }
            let control;
            let frame = if header.operation == OP_STATS {
                control = stats(&header, counts);
                &control[..]
            } else {
                counts.messages += 1;
                &self.rx[self.start..self.start + len]
            };
            if self.tx.is_empty() {
                counts.syscalls += 1;
                let n = match w.write(frame) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => 0,
                    Err(e) => return Err(e),
                };
                self.tx.extend_from_slice(&frame[n..]);
            } else {
                self.tx.extend_from_slice(frame);
            }
            self.start += len;
        }
    }

    /// Writes queued output; true once the queue is empty.
    pub fn flush(&mut self, w: &mut impl Write, counts: &mut Counts) -> io::Result<bool> {
        if self.tx.is_empty() {
            return Ok(true);
        }
        counts.syscalls += 1;
        match w.write(&self.tx) {
            Ok(n) => {
                self.tx.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        Ok(self.tx.is_empty())
    }

    pub fn has_output(&self) -> bool {
        !self.tx.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: u32, body: &[u8]) -> Vec<u8> {
        proto::frame_bytes(Header::request(seq, 1, 0), body)
    }

    #[test]
    fn echoes_whole_frames_and_keeps_partial_ones() {
        let mut input = [frame(1, b"a"), frame(2, &[7; 5000])].concat();
        input.extend_from_slice(&frame(3, b"late")[..10]);
        let mut b = Buffers::default();
        let (mut out, mut n) = (Vec::new(), Counts::default());
        let none: StatsReply = |_, _| Vec::new();
        let mut src = &input[..];
        while b.read_once(&mut src, &mut n).unwrap() != ReadOutcome::Eof {
            b.echo_frames(&mut out, &mut n, none).unwrap();
        }
        assert_eq!(n.messages, 2);
        assert_eq!(out, [frame(1, b"a"), frame(2, &[7; 5000])].concat());
        let mut rest = &frame(3, b"late")[10..];
        b.read_once(&mut rest, &mut n).unwrap();
        b.echo_frames(&mut out, &mut n, none).unwrap();
        assert_eq!(n.messages, 3);
    }

    #[test]
    fn oversized_header_is_an_error() {
        let mut b = Buffers::default();
        let mut n = Counts::default();
        let mut src = &Header::request(1, 1, MAX_BODY + 1).to_bytes()[..];
        b.read_once(&mut src, &mut n).unwrap();
        assert!(b
            .echo_frames(&mut Vec::new(), &mut n, |_, _| Vec::new())
            .is_err());
    }
}
