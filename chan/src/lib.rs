//! `chan` is LavaLite's channel library: a table of non-blocking sockets,
//! timers and signal fds, watched by one epoll instance, that turns bytes
//! into whole frames and queues replies.
//!
//! It owns the event loop's I/O and nothing else: it knows the 20-byte
//! header (to cut frames) but never an opcode, a message or a daemon.
//! Linux only; single-threaded per [`Channels`] value. Callers see
//! level-triggered behaviour: whatever is not handed out before the next
//! wait is handed out after it.
//!
//! The names follow LavaLite's C library (`chan_epoll_init` is
//! [`Channels::new`], `chan_epoll_add/mod/del`, `chan_epoll`), and
//! [`Masks`] with [`Select::chan_select`] keeps `chanSelect_`-style loops
//! working while they are ported; see `docs/migration.md`.
//!
//! Design choices that the benchmarks check: one `read` per ready channel
//! per wakeup, every complete frame in it handed out without allocation
//! (as an owned [`Frame`] sharing the buffer, or lent in place by
//! [`Channels::next_lent`] to a loop done with it before the next);
//! replies written at once, with `EPOLLOUT` armed only after a short write;
//! connections registered edge-triggered, so the kernel does not poll
//! every socket served in one wakeup again at the next.

pub mod blocking;
mod channel;
mod channels;
mod config;
mod counters;
mod dispatch;
mod error;
mod event;
mod frame;
mod id;
mod lend;
mod masks;
pub mod sys;

pub use channel::Kind;
pub use channels::{Channels, Fork, Waker};
pub use config::Config;
pub use counters::{Counters, Syscalls};
pub use error::ChanError;
pub use event::{Event, Interest};
pub use frame::Frame;
pub use id::ChanId;
pub use lend::{Lent, LentFrame};
pub use masks::{ChanSet, Masks, Select};
pub use sys::SignalInfo;
