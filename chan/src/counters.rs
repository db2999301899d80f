//! Counters a daemon can expose.

/// Syscalls made by the table, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Syscalls {
    pub epoll_wait: u64,
    pub epoll_ctl: u64,
    pub read: u64,
    pub write: u64,
    pub accept: u64,
    /// Socket setup, timers, counters of timerfd/eventfd/signalfd, close.
    pub other: u64,
}

impl Syscalls {
    pub fn total(&self) -> u64 {
        self.epoll_wait + self.epoll_ctl + self.read + self.write + self.accept + self.other
    }
}

/// What a table has done and dropped since it was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Kernel events whose channel was closed (or reused) before they
    /// were handled.
    pub stale_events: u64,
    /// Times a listener was paused because the process ran out of fds.
    pub emfile_pauses: u64,
    /// Connections accepted and closed at once to shed load (out of fds,
    /// or channel table full).
    pub shed_connections: u64,
    /// Accepts or opens refused because the table was full.
    pub table_full: u64,
    /// Wakeups where a channel used its whole read, accept or datagram
    /// budget (more was likely waiting).
    pub budget_exhausted: u64,
    /// Times reading from a peer was paused because its output queue
    /// passed the high-water mark.
    pub high_water_pauses: u64,
    pub frames_in: u64,
    /// Reads handed out whole on raw channels ([`crate::Event::Data`]).
    pub data_in: u64,
    pub frames_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub datagrams_in: u64,
    pub datagrams_out: u64,
    pub syscalls: Syscalls,
}
