//! `bsub -W` and a queue's `RUNLIMIT`, enforced as LSF's sbatchd does:
//! once the job has *run* (suspended time does not count) for its limit,
//! SIGUSR2 to warn it; if it is still there a grace period later
//! (`LL_RUNLIMIT_GRACE`, LSF's fixed ten minutes by default), SIGINT,
//! SIGTERM and SIGKILL, `JOB_TERMINATE_INTERVAL` apart. Pure: the caller
//! gives the time and delivers the signals.

/// What sbd tells mbd a job ended of, once the limit was reached
/// (LSF's reason name first, so scripts that grep it find it).
pub const NOTE: &str = "TERM_RUNLIMIT: job killed after reaching its run time limit";

/// The waits after the limit is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Escalation {
    /// From the warning (USR2) to SIGINT, seconds.
    pub grace: u64,
    /// Between SIGINT, SIGTERM and SIGKILL, seconds.
    pub interval: u64,
}

/// The signals after the warning, in order.
const TERMINATE: [i32; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGKILL];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Under,
    /// Warned at this time.
    Warned(u64),
    /// `TERMINATE[..sent]` sent, the last at this time.
    Terminating {
        sent: usize,
        at: u64,
    },
}

/// One job's run limit and how far it has got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunLimit {
    limit: u64,
    used: u64,
    last: u64,
    stage: Stage,
}

impl RunLimit {
    /// A limit of `limit` seconds for a job that started at `started`
    /// (for a job found by a restarted sbd, its suspensions before now
    /// are counted as run time: nothing recorded them). `None` for no
    /// limit.
    pub fn new(limit: u64, started: u64, now: u64) -> Option<RunLimit> {
        (limit > 0).then_some(RunLimit {
            limit,
            used: now.saturating_sub(started),
            last: now,
            stage: Stage::Under,
        })
    }

    /// Accounts the time since the last call (not while `suspended`) and
    /// returns the signal due now, if any.
    pub fn tick(&mut self, now: u64, suspended: bool, e: Escalation) -> Option<i32> {
        if !suspended {
            self.used += now.saturating_sub(self.last);
        }
        self.last = self.last.max(now);
        match self.stage {
            Stage::Under if self.used >= self.limit => {
                self.stage = Stage::Warned(now);
                Some(libc::SIGUSR2)
            }
            Stage::Warned(at) if now >= at + e.grace => self.terminate(0, now),
            Stage::Terminating { sent, at } if sent < TERMINATE.len() && now >= at + e.interval => {
                self.terminate(sent, now)
            }
            _ => None,
        }
    }

    fn terminate(&mut self, sent: usize, now: u64) -> Option<i32> {
        self.stage = Stage::Terminating {
            sent: sent + 1,
            at: now,
        };
        Some(TERMINATE[sent])
    }

    /// Whether the limit has been reached.
    pub fn reached(&self) -> bool {
        self.stage != Stage::Under
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const E: Escalation = Escalation {
        grace: 600,
        interval: 10,
    };

    /// The signals sent over `from..to`, one tick a second.
    fn signals(limit: &mut RunLimit, from: u64, to: u64, suspended: bool) -> Vec<(u64, i32)> {
        (from..to)
            .filter_map(|t| limit.tick(t, suspended, E).map(|s| (t, s)))
            .collect()
    }

    #[test]
    fn usr2_at_the_limit_then_int_term_kill_after_the_grace() {
        let mut limit = RunLimit::new(60, 1000, 1000).unwrap();
        let sent = signals(&mut limit, 1000, 2000, false);
        assert_eq!(
            sent,
            [
                (1060, libc::SIGUSR2),
                (1660, libc::SIGINT),
                (1670, libc::SIGTERM),
                (1680, libc::SIGKILL)
            ]
        );
        assert!(limit.reached());
        assert_eq!(limit.tick(5000, false, E), None, "nothing after KILL");
    }

    #[test]
    fn suspended_time_does_not_count() {
        let mut limit = RunLimit::new(60, 0, 0).unwrap();
        assert!(signals(&mut limit, 0, 30, false).is_empty());
        assert!(signals(&mut limit, 30, 500, true).is_empty());
        assert!(!limit.reached());
        assert_eq!(signals(&mut limit, 500, 600, false), [(530, libc::SIGUSR2)]);
    }

    #[test]
    fn no_limit_is_none_and_an_adopted_job_counts_from_its_start() {
        assert_eq!(RunLimit::new(0, 0, 0), None);
        let mut limit = RunLimit::new(60, 100, 170).unwrap();
        assert_eq!(limit.tick(170, false, E), Some(libc::SIGUSR2));
    }

    #[test]
    fn a_clock_stepped_back_changes_nothing() {
        let mut limit = RunLimit::new(60, 100, 100).unwrap();
        assert_eq!(limit.tick(50, false, E), None);
        assert_eq!(limit.tick(159, false, E), None);
        assert_eq!(limit.tick(160, false, E), Some(libc::SIGUSR2));
    }
}
