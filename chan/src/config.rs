//! Tunables of a channel table.

use std::time::Duration;

/// How a [`crate::Channels`] table behaves; `Config::default()` suits the
/// daemons.
#[derive(Clone, Debug)]
pub struct Config {
    /// Most channels open at once; opening more is `ChanError::TableFull`.
    pub capacity: usize,
    /// Largest frame body accepted; a longer header is a channel error.
    pub max_frame_body: u32,
    /// Bytes one connection may read per wakeup (one `read` call), so a
    /// busy peer cannot starve the others.
    pub read_budget: usize,
    /// Connections one listener may accept per wakeup.
    pub accept_budget: usize,
    /// Datagrams (or signals) one channel may deliver per wakeup.
    pub datagram_budget: usize,
    /// Queued output above which the channel stops reading from its peer
    /// until the queue falls to half of it.
    pub high_water: usize,
    /// Ready channels taken from the kernel per wait.
    pub events_per_wait: usize,
    /// How long a listener rests after the process ran out of fds.
    pub emfile_pause: Duration,
    /// Raise RLIMIT_NOFILE's soft limit to the hard limit at init.
    pub raise_nofile: bool,
    /// How long `close_when_flushed` waits for the peer's EOF after
    /// shutting down its side, before closing anyway.
    pub close_linger: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            capacity: 1 << 16,
            max_frame_body: 1 << 20,
            read_budget: 64 << 10,
            accept_budget: 64,
            datagram_budget: 64,
            high_water: 4 << 20,
            events_per_wait: 1024,
            emfile_pause: Duration::from_millis(100),
            raise_nofile: true,
            close_linger: Duration::from_secs(2),
        }
    }
}
