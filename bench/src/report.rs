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
    /// Times the serving thread blocked (each one a wakeup its clients paid for).
    pub sleeps: u64,
    /// CPU time in user space and in the kernel, in clock ticks: how much
    /// of the cost is the engine's own code.
    #[serde(default)]
    pub user_ticks: u64,
    #[serde(default)]
    pub sys_ticks: u64,
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
            sleeps: self.sleeps - earlier.sleeps,
            user_ticks: self.user_ticks - earlier.user_ticks,
            sys_ticks: self.sys_ticks - earlier.sys_ticks,
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

/// User and system CPU time of the calling thread so far, in clock ticks
/// ((0, 0) if unreadable).
pub fn thread_user_sys_ticks() -> (u64, u64) {
    user_sys_ticks("/proc/thread-self/stat")
}

/// User and system CPU time from a `/proc/.../stat` file (fields 14 and
/// 15), in clock ticks; (0, 0) if unreadable.
pub fn user_sys_ticks(stat_path: &str) -> (u64, u64) {
    let stat = std::fs::read_to_string(stat_path).unwrap_or_default();
    // The command name (field 2) may hold spaces; fields after it are plain.
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let mut fields = after_name.split_whitespace().skip(11);
    let mut next = || fields.next().and_then(|f| f.parse().ok()).unwrap_or(0);
    (next(), next())
}

/// Voluntary context switches of the calling thread so far: how often it
/// blocked waiting for work.
/// A `/proc/PID/status` memory figure in KiB (`VmRSS`, `VmHWM`, ...);
/// `pid` "self" for this process.
pub fn status_kb(pid: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line =
        (status.lines()).find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

pub fn thread_sleeps() -> u64 {
    std::fs::read_to_string("/proc/thread-self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The `q` quantile (0..=1) of `sorted` durations, in milliseconds; 0
/// for none.
pub fn quantile_ms(sorted: &[std::time::Duration], q: f64) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else {
        return 0.0;
    };
    let i = ((sorted.len() as f64 * q).ceil() as usize).saturating_sub(1);
    sorted[i.min(last)].as_secs_f64() * 1e3
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
    fn quantiles_pick_the_sample_at_or_above_the_rank() {
        let ms = |n: u64| std::time::Duration::from_millis(n);
        let sorted: Vec<_> = (1..=100).map(ms).collect();
        assert_eq!(quantile_ms(&sorted, 0.5), 50.0);
        assert_eq!(quantile_ms(&sorted, 0.99), 99.0);
        assert_eq!(quantile_ms(&sorted[..1], 0.99), 1.0);
        assert_eq!(quantile_ms(&[], 0.5), 0.0);
    }

    #[test]
    fn a_thread_that_sleeps_counts_its_sleeps() {
        let before = thread_sleeps();
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(thread_sleeps() > before);
    }

    #[test]
    fn a_thread_that_spins_counts_user_ticks() {
        let (user_before, _) = thread_user_sys_ticks();
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < std::time::Duration::from_millis(50) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let (user_after, _) = thread_user_sys_ticks();
        assert!(user_after > user_before, "{user_before} -> {user_after}");
    }

    #[test]
    fn stats_survive_the_round_trip() {
        let s = ServerStats {
            messages: 1,
            syscalls: 22,
            allocations: 333,
            cpu_ns: 4444,
            sleeps: 55555,
            user_ticks: 6,
            sys_ticks: 7,
        };
        let reply = stats_reply(&proto::Header::request(9, crate::baseline::OP_STATS, 0), &s);
        let parsed = parse_stats(&reply[proto::HEADER_LEN..]).unwrap();
        assert_eq!(parsed.to_json(), s.to_json());
    }
}
