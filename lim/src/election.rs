//! Who is master: the election as a pure state machine.
//!
//! Time is a parameter and the output is a [`Change`] for the shell to act
//! on (send a beacon, report to a new master, log). The rules:
//!
//! - Hosts are ranked by their position in the cluster file; only master
//!   candidates (`Y`) take part. A claim is (master, epoch); a higher epoch
//!   beats a lower one, and at equal epochs the host listed first wins.
//! - A follower accepts a claim that beats the one it follows, or any
//!   claim once its master has been silent for `miss_ticks` ticks (less a
//!   tenth of a tick, see [`Election`]'s `silence`).
//! - A candidate whose master has been silent that long takes over, after
//!   one more tick for each candidate listed before it (the silent master
//!   excepted), with an epoch above any it has seen.
//! - A candidate that hears a master listed after it takes over at once
//!   with a higher epoch; a master that hears a better claim from a host
//!   listed before it yields; a master that hears a worse claim beacons at
//!   once so the other side learns. After a partition heals, one beacon
//!   exchange leaves one master (the epoch fences the stale one).
//! - At start, the first candidate waits one tick for an existing master;
//!   the others wait as if the master had just gone silent.

use std::time::{Duration, Instant};

/// A master's claim: its position and its term.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim {
    pub master: usize,
    pub epoch: u64,
}

impl Claim {
    fn beats(self, other: Claim) -> bool {
        self.epoch > other.epoch || (self.epoch == other.epoch && self.master < other.master)
    }
}

/// What the shell must do after an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// This host is master now: beacon at once.
    BecameMaster { epoch: u64 },
    /// Still master; beacon at once so a stale master learns.
    BeaconNow,
    /// Now following `master` (newly elected, or this host yielded to it):
    /// report load to it at once.
    Following { master: usize },
    /// The master went silent for `miss_ticks` ticks.
    MasterLost { was: usize },
}

/// The fixed inputs of an election.
#[derive(Clone, Debug)]
pub struct ElectionConfig {
    /// This host's position.
    pub me: usize,
    /// Positions of the master candidates, ascending.
    pub candidates: Vec<usize>,
    pub tick: Duration,
    /// Ticks of silence after which the master is lost (3).
    pub miss_ticks: u32,
}

/// One host's view of the election.
#[derive(Debug)]
pub struct Election {
    cfg: ElectionConfig,
    started: Instant,
    /// This host's own epoch while it is master.
    master_epoch: Option<u64>,
    /// The claim followed last and when it was last heard.
    heard: Option<(Claim, Instant)>,
    /// Set once a lost master has been reported, so it is reported once.
    lost_reported: bool,
    max_epoch: u64,
}

impl Election {
    pub fn new(cfg: ElectionConfig, now: Instant) -> Election {
        Election {
            cfg,
            started: now,
            master_epoch: None,
            heard: None,
            lost_reported: false,
            max_epoch: 0,
        }
    }

    /// This election under a new cluster file (`lsadmin reconfig`):
    /// `position` maps an old position to the new one (`None`: no longer
    /// listed). A followed master that is gone or no longer a candidate
    /// is forgotten, and the candidates wait as at a start from `now`
    /// before one takes over; a master that is no longer a candidate stops
    /// being one.
    pub fn reconfigured(
        &self,
        cfg: ElectionConfig,
        position: impl Fn(usize) -> Option<usize>,
        now: Instant,
    ) -> Election {
        let heard = (self.heard)
            .and_then(|(claim, at)| Some((position(claim.master)?, claim.epoch, at)))
            .filter(|(master, _, _)| cfg.candidates.contains(master))
            .map(|(master, epoch, at)| (Claim { master, epoch }, at));
        let master_epoch = self
            .master_epoch
            .filter(|_| cfg.candidates.contains(&cfg.me));
        let forgot = self.heard.is_some() && heard.is_none();
        Election {
            cfg,
            started: if forgot { now } else { self.started },
            master_epoch,
            heard,
            lost_reported: self.lost_reported && heard.is_some(),
            max_epoch: self.max_epoch,
        }
    }

    pub fn is_master(&self) -> bool {
        self.master_epoch.is_some()
    }

    /// The current master's position and epoch, if one is known.
    pub fn master(&self, now: Instant) -> Option<Claim> {
        match (self.master_epoch, self.heard) {
            (Some(epoch), _) => Some(Claim {
                master: self.cfg.me,
                epoch,
            }),
            (None, Some((claim, at))) if now < at + self.silence() => Some(claim),
            _ => None,
        }
    }

    /// A beacon from the host at position `from`.
    pub fn on_beacon(&mut self, from: usize, epoch: u64, now: Instant) -> Option<Change> {
        if from == self.cfg.me || !self.cfg.candidates.contains(&from) {
            return None;
        }
        self.max_epoch = self.max_epoch.max(epoch);
        let claim = Claim {
            master: from,
            epoch,
        };
        if let Some(own) = self.master_epoch {
            let own = Claim {
                master: self.cfg.me,
                epoch: own,
            };
            return match (claim.beats(own), from < self.cfg.me) {
                (true, true) => Some(self.follow(claim, now)),
                (true, false) => Some(self.take_over()),
                (false, _) => Some(Change::BeaconNow),
            };
        }
        if self.is_candidate() && from > self.cfg.me {
            return Some(self.take_over());
        }
        let current = self.master(now);
        match current {
            // The same master, even at a lower epoch: it restarted.
            Some(c) if c.master == claim.master => {
                self.heard = Some((claim, now));
                None
            }
            Some(c) if !claim.beats(c) => None,
            _ => Some(self.follow(claim, now)),
        }
    }

    /// Time passing: the master may be lost, or it may be this host's turn.
    pub fn poll(&mut self, now: Instant) -> Option<Change> {
        if self.is_master() {
            return None;
        }
        if let Some(deadline) = self.takeover_at() {
            if now >= deadline {
                return Some(self.take_over());
            }
        }
        match self.heard {
            Some((claim, at)) if now >= at + self.silence() && !self.lost_reported => {
                self.lost_reported = true;
                Some(Change::MasterLost { was: claim.master })
            }
            _ => None,
        }
    }

    /// When [`Election::poll`] next has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.is_master() {
            return None;
        }
        let lost_at = match self.heard {
            Some((_, at)) if !self.lost_reported => Some(at + self.silence()),
            _ => None,
        };
        match (self.takeover_at(), lost_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn takeover_at(&self) -> Option<Instant> {
        if !self.is_candidate() {
            return None;
        }
        let tick = self.cfg.tick;
        Some(match self.heard {
            Some((claim, at)) => at + self.silence() + tick * self.rank_without(Some(claim.master)),
            None => match self.rank_without(None) {
                0 => self.started + tick,
                rank => self.started + self.silence() + tick * rank,
            },
        })
    }

    /// Candidates listed before this host, not counting `skip`.
    fn rank_without(&self, skip: Option<usize>) -> u32 {
        let n = self
            .cfg
            .candidates
            .iter()
            .filter(|&&c| c < self.cfg.me && Some(c) != skip)
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    fn is_candidate(&self) -> bool {
        self.cfg.candidates.contains(&self.cfg.me)
    }

    /// How long a master may be silent: `miss_ticks` ticks less a tenth,
    /// so a master that dies just after a beacon is replaced within
    /// `miss_ticks` ticks of its death, not a hair later. A beacon late by
    /// a tenth of a tick costs at most one needless election, which the
    /// next beacon exchange undoes.
    fn silence(&self) -> Duration {
        self.cfg.tick * self.cfg.miss_ticks - self.cfg.tick / 10
    }

    fn take_over(&mut self) -> Change {
        self.max_epoch += 1;
        self.master_epoch = Some(self.max_epoch);
        self.heard = None;
        Change::BecameMaster {
            epoch: self.max_epoch,
        }
    }

    fn follow(&mut self, claim: Claim, now: Instant) -> Change {
        self.master_epoch = None;
        self.heard = Some((claim, now));
        self.lost_reported = false;
        Change::Following {
            master: claim.master,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: Duration = Duration::from_secs(5);
    const SILENCE: Duration = Duration::from_millis(14_500);

    fn host(me: usize, candidates: &[usize], now: Instant) -> Election {
        Election::new(
            ElectionConfig {
                me,
                candidates: candidates.to_vec(),
                tick: TICK,
                miss_ticks: 3,
            },
            now,
        )
    }

    /// Polls every 100 ms from `from` to `to`; returns the first change.
    fn run(e: &mut Election, from: Instant, to: Instant) -> Option<(Duration, Change)> {
        let mut now = from;
        while now <= to {
            if let Some(c) = e.poll(now) {
                return Some((now - from, c));
            }
            now += Duration::from_millis(100);
        }
        None
    }

    #[test]
    fn first_candidate_becomes_master_after_one_quiet_tick() {
        let t0 = Instant::now();
        let mut e = host(0, &[0, 1, 2], t0);
        assert_eq!(e.next_deadline(), Some(t0 + TICK));
        assert_eq!(e.poll(t0 + TICK - Duration::from_millis(1)), None);
        assert_eq!(e.poll(t0 + TICK), Some(Change::BecameMaster { epoch: 1 }));
        assert_eq!(
            e.master(t0 + TICK),
            Some(Claim {
                master: 0,
                epoch: 1
            })
        );
        assert_eq!(e.next_deadline(), None);
    }

    #[test]
    fn followers_accept_the_beacon_and_never_take_over_while_it_comes() {
        let t0 = Instant::now();
        let mut second = host(1, &[0, 1], t0);
        let mut plain = host(2, &[0, 1], t0);
        for e in [&mut second, &mut plain] {
            assert_eq!(
                e.on_beacon(0, 1, t0 + TICK),
                Some(Change::Following { master: 0 })
            );
        }
        for k in 2..100u32 {
            let now = t0 + TICK * k;
            for e in [&mut second, &mut plain] {
                assert_eq!(e.on_beacon(0, 1, now), None);
                assert_eq!(e.poll(now), None);
            }
        }
        assert_eq!(plain.next_deadline(), Some(t0 + TICK * 99 + SILENCE));
    }

    #[test]
    fn next_candidate_takes_over_three_ticks_after_the_last_beacon() {
        let t0 = Instant::now();
        let mut e = host(1, &[0, 1, 2], t0);
        e.on_beacon(0, 4, t0);
        // Host 0 (the lost master) is not counted: no extra delay.
        assert_eq!(
            run(&mut e, t0, t0 + TICK * 10),
            Some((SILENCE, Change::BecameMaster { epoch: 5 }))
        );
        let mut third = host(2, &[0, 1, 2], t0);
        third.on_beacon(0, 4, t0);
        assert_eq!(
            run(&mut third, t0, t0 + TICK * 10),
            Some((SILENCE, Change::MasterLost { was: 0 }))
        );
        // One tick later than host 1, which would have beaconed by then.
        assert_eq!(
            run(&mut third, t0 + SILENCE, t0 + TICK * 10),
            Some((TICK, Change::BecameMaster { epoch: 5 }))
        );
    }

    #[test]
    fn non_candidates_never_take_over_and_ignore_non_candidate_beacons() {
        let t0 = Instant::now();
        let mut e = host(3, &[0, 1], t0);
        assert_eq!(e.on_beacon(2, 9, t0), None);
        assert_eq!(e.next_deadline(), None);
        assert_eq!(run(&mut e, t0, t0 + TICK * 20), None);
    }

    #[test]
    fn returning_first_host_preempts_and_the_master_yields() {
        let t0 = Instant::now();
        let mut second = host(1, &[0, 1], t0);
        assert_eq!(
            second.on_beacon(0, 1, t0),
            Some(Change::Following { master: 0 })
        );
        let (_, change) = run(&mut second, t0, t0 + TICK * 10).unwrap();
        assert_eq!(change, Change::BecameMaster { epoch: 2 });
        // Host 0 restarts knowing nothing; it hears host 1's beacon.
        let t1 = t0 + TICK * 10;
        let mut first = host(0, &[0, 1], t1);
        assert_eq!(
            first.on_beacon(1, 2, t1),
            Some(Change::BecameMaster { epoch: 3 })
        );
        assert_eq!(
            second.on_beacon(0, 3, t1),
            Some(Change::Following { master: 0 })
        );
        assert!(!second.is_master());
    }

    #[test]
    fn healed_partition_leaves_one_master_after_one_exchange() {
        let t0 = Instant::now();
        // During a partition host 1 took over with epoch 6 while host 0
        // stayed master at epoch 5.
        let mut a = host(0, &[0, 1], t0);
        assert_eq!(
            a.on_beacon(1, 4, t0),
            Some(Change::BecameMaster { epoch: 5 })
        );
        let mut b = host(1, &[0, 1], t0);
        b.max_epoch = 5;
        assert_eq!(b.take_over(), Change::BecameMaster { epoch: 6 });
        // Heal: each hears the other's beacon.
        let b_hears_a = b.on_beacon(0, 5, t0);
        assert_eq!(b_hears_a, Some(Change::BeaconNow), "worse claim: tell it");
        assert_eq!(
            a.on_beacon(1, 6, t0),
            Some(Change::BecameMaster { epoch: 7 })
        );
        assert_eq!(b.on_beacon(0, 7, t0), Some(Change::Following { master: 0 }));
        assert!(a.is_master() && !b.is_master());
    }

    #[test]
    fn at_equal_epochs_the_host_listed_first_wins() {
        let t0 = Instant::now();
        // Both took over from epoch 4 on either side of a partition.
        let mut masters = [host(0, &[0, 1, 2], t0), host(1, &[0, 1, 2], t0)];
        for m in &mut masters {
            m.max_epoch = 4;
            assert_eq!(m.take_over(), Change::BecameMaster { epoch: 5 });
        }
        let [a, b] = &mut masters;
        assert_eq!(a.on_beacon(1, 5, t0), Some(Change::BeaconNow));
        assert_eq!(b.on_beacon(0, 5, t0), Some(Change::Following { master: 0 }));
        let mut follower = host(2, &[0, 1, 2], t0);
        follower.on_beacon(1, 5, t0);
        assert_eq!(
            follower.on_beacon(0, 5, t0),
            Some(Change::Following { master: 0 })
        );
        assert_eq!(follower.on_beacon(1, 5, t0), None);
    }

    #[test]
    fn followers_ignore_a_stale_master_and_accept_anyone_after_silence() {
        let t0 = Instant::now();
        let mut e = host(2, &[0, 1], t0);
        e.on_beacon(1, 6, t0);
        assert_eq!(e.on_beacon(0, 5, t0), None, "lower epoch is fenced");
        assert_eq!(e.master(t0).map(|c| c.master), Some(1));
        // Its own master restarted and claims epoch 1: still followed.
        assert_eq!(e.on_beacon(1, 1, t0), None);
        assert_eq!(
            e.master(t0),
            Some(Claim {
                master: 1,
                epoch: 1
            })
        );
        let later = t0 + SILENCE;
        assert_eq!(e.master(later), None);
        assert_eq!(
            e.on_beacon(0, 5, later),
            Some(Change::Following { master: 0 })
        );
    }

    #[test]
    fn a_new_cluster_file_keeps_the_master_followed_unless_it_is_gone() {
        let t0 = Instant::now();
        let mut follower = host(2, &[0, 1], t0);
        assert!(follower.on_beacon(0, 1, t0).is_some());
        let cfg = |me, candidates: &[usize]| ElectionConfig {
            me,
            candidates: candidates.to_vec(),
            tick: TICK,
            miss_ticks: 3,
        };
        // A host listed first now: everyone moves down one.
        let moved = follower.reconfigured(cfg(3, &[1, 2]), |p| Some(p + 1), t0);
        assert_eq!(moved.master(t0).map(|c| c.master), Some(1));
        // The master taken out: host 1 (now first) takes over a tick
        // after the change, not at once.
        let mut candidate = host(1, &[0, 1], t0);
        candidate.on_beacon(0, 1, t0);
        let later = t0 + TICK * 100;
        let mut gone = candidate.reconfigured(cfg(0, &[0]), |p| p.checked_sub(1), later);
        assert_eq!(gone.master(later), None);
        assert_eq!(gone.poll(later), None);
        assert!(matches!(
            gone.poll(later + TICK),
            Some(Change::BecameMaster { epoch: 2 })
        ));
        let mut master = host(0, &[0], t0);
        assert!(matches!(
            master.poll(t0 + TICK),
            Some(Change::BecameMaster { .. })
        ));
        let demoted = master.reconfigured(cfg(0, &[1]), Some, t0 + TICK);
        assert!(!demoted.is_master(), "no longer a candidate");
    }

    #[test]
    fn a_lone_later_candidate_starts_as_master_after_the_full_wait() {
        let t0 = Instant::now();
        let mut e = host(2, &[0, 1, 2], t0);
        assert_eq!(
            run(&mut e, t0, t0 + TICK * 10),
            Some((SILENCE + TICK * 2, Change::BecameMaster { epoch: 1 }))
        );
    }
}
