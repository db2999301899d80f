//! What a bench server reports when it stops: work done and what it cost.

use serde::{Deserialize, Serialize};

/// Counts a server keeps while it runs.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct ServerStats {
    pub messages: u64,
    pub syscalls: u64,
    pub allocations: u64,
    /// CPU time used by the serving thread, in nanoseconds.
    pub cpu_ns: u64,
}

impl ServerStats {
    /// One JSON object on one line, for the matrix runner.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The work done since `earlier`.
    pub fn since(&self, earlier: &ServerStats) -> ServerStats {
        ServerStats {
            messages: self.messages - earlier.messages,
            syscalls: self.syscalls - earlier.syscalls,
            allocations: self.allocations - earlier.allocations,
            cpu_ns: self.cpu_ns - earlier.cpu_ns,
        }
    }
}

/// CPU time of the calling thread so far, from /proc (ns resolution).
pub fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The reply frame to an `OP_STATS` request.
pub fn stats_reply(request: &proto::Header, stats: &ServerStats) -> Vec<u8> {
    proto::frame_bytes(request.reply(0, 0), stats.to_json().as_bytes())
}

/// Parses a stats reply body.
pub fn parse_stats(body: &[u8]) -> Option<ServerStats> {
    serde_json::from_slice(body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_survive_the_round_trip() {
        let s = ServerStats {
            messages: 1,
            syscalls: 22,
            allocations: 333,
            cpu_ns: 4444,
        };
        let reply = stats_reply(&proto::Header::request(9, crate::baseline::OP_STATS, 0), &s);
        let parsed = parse_stats(&reply[proto::HEADER_LEN..]).unwrap();
        assert_eq!(parsed.to_json(), s.to_json());
    }
}
