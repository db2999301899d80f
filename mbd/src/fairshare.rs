//! Fair share, LSF's: in a queue with `FAIRSHARE = USER_SHARES[...]`,
//! waiting jobs go by their user's dynamic priority rather than by
//! submission,
//!
//! ```text
//! priority = shares / (cpu_hours * CPU_TIME_FACTOR
//!                      + run_hours * RUN_TIME_FACTOR
//!                      + (1 + slots) * RUN_JOB_FACTOR)
//! ```
//!
//! where `slots` are the job slots the account holds now, `run_hours`
//! the wall-clock hours its running jobs have run, and `cpu_hours` the CPU
//! time of its finished jobs (those mbd still holds), decayed so that an
//! hour used `HIST_HOURS` ago weighs a tenth. The factors are ll.conf keys
//! with LSF's names and defaults (0.7, 0.7, 3, 5 h). Each job started in a
//! pass counts at once, so one pass already shares the slots it hands out.
//! An account is a user, or a whole group for a plain group entry
//! (`[physics, 4]`: its members share 4); `group@` gives each member its
//! own; `default` each user named nowhere else. Users with no entry go
//! after all others. Pure: the scheduler feeds it the state and `now`.

use crate::job::Job;
use crate::state::State;
use crate::QueueConf;
use proto::mbd::event;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, VecDeque};

/// LSF's lsb.params factors, read from ll.conf.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Factors {
    pub cpu_time: f64,
    pub run_time: f64,
    pub run_job: f64,
    pub hist_hours: f64,
}

impl Default for Factors {
    fn default() -> Self {
        Factors {
            cpu_time: 0.7,
            run_time: 0.7,
            run_job: 3.0,
            hist_hours: 5.0,
        }
    }
}

/// What an account has used.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Usage {
    pub slots: u32,
    pub run_hours: f64,
    pub cpu_hours: f64,
}

impl Usage {
    /// LSF's dynamic priority for `shares`.
    pub fn priority(&self, shares: u32, f: &Factors) -> f64 {
        let used = self.cpu_hours * f.cpu_time
            + self.run_hours * f.run_time
            + f64::from(1 + self.slots) * f.run_job;
        f64::from(shares) / used.max(0.01)
    }
}

/// The account `user`'s jobs of `queue` draw on, and its shares.
pub fn account(queue: &QueueConf, users: &conf::UserLimits, user: &str) -> Option<(String, u32)> {
    let member = |g: &str| {
        users
            .groups
            .get(g)
            .is_some_and(|m| m.iter().any(|u| u == user))
    };
    let entries = &queue.fairshare;
    if let Some((_, n)) = entries.iter().find(|(name, _)| name == user) {
        return Some((user.to_owned(), *n));
    }
    for (name, n) in entries {
        match name.strip_suffix('@') {
            Some(group) if member(group) => return Some((user.to_owned(), *n)),
            None if name != "default" && member(name) => return Some((name.clone(), *n)),
            _ => {}
        }
    }
    let default = entries.iter().find(|(name, _)| name == "default");
    default.map(|(_, n)| (user.to_owned(), *n))
}

/// An account's place in the heap: its priority, then its name.
#[derive(Debug, PartialEq)]
struct Ranked {
    priority: f64,
    account: String,
}

impl Eq for Ranked {}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.priority.total_cmp(&other.priority))
            // Equal priorities: the name first in order wins (max-heap).
            .then_with(|| other.account.cmp(&self.account))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// One fair-share queue during a pass.
#[derive(Debug, Default)]
struct QueueShares<'a> {
    accounts: HashMap<String, (u32, Usage)>,
    waiting: HashMap<String, VecDeque<&'a Job>>,
    /// Jobs of users without shares, in scheduling order: after all.
    unshared: VecDeque<&'a Job>,
    heap: BinaryHeap<Ranked>,
}

/// The fair-share queues of a pass.
#[derive(Debug)]
pub struct FairShare<'a> {
    queues: HashMap<usize, QueueShares<'a>>,
    factors: Factors,
}

impl<'a> FairShare<'a> {
    /// The accounts of every fair-share queue of `state` at `now`, with
    /// `pending` (in scheduling order) waiting in them.
    pub fn new(state: &'a State, pending: &[&'a Job], now: u64, factors: Factors) -> FairShare<'a> {
        let cluster = state.cluster();
        let mut queues: HashMap<usize, QueueShares<'a>> = HashMap::new();
        for (q, conf) in cluster
            .queues
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.fairshare.is_empty())
        {
            let mut shares = QueueShares::default();
            let in_queue = state.jobs().filter(|j| j.spec.shape.queue_pos == Some(q));
            for job in in_queue {
                let Some((key, n)) = account(conf, &cluster.users, &job.spec.user) else {
                    continue;
                };
                let (_, usage) = shares.accounts.entry(key).or_insert((n, Usage::default()));
                add_use(usage, job, now, &factors);
            }
            queues.insert(q, shares);
        }
        for job in pending {
            let q = job.spec.shape.queue_pos;
            let Some((q, shares)) = q.and_then(|q| queues.get_mut(&q).map(|s| (q, s))) else {
                continue;
            };
            match account(&cluster.queues[q], &cluster.users, &job.spec.user) {
                Some((key, n)) => {
                    shares
                        .accounts
                        .entry(key.clone())
                        .or_insert((n, Usage::default()));
                    shares.waiting.entry(key).or_default().push_back(job);
                }
                None => shares.unshared.push_back(job),
            }
        }
        for shares in queues.values_mut() {
            for key in shares.waiting.keys() {
                let (n, usage) = shares.accounts[key];
                shares.heap.push(Ranked {
                    priority: usage.priority(n, &factors),
                    account: key.clone(),
                });
            }
        }
        FairShare { queues, factors }
    }

    /// The job to try in `job`'s place: `job` itself outside fair-share
    /// queues; in one, the next job of the account with the highest
    /// priority (each job of the queue is handed out once).
    pub fn take(&mut self, job: &'a Job) -> Option<&'a Job> {
        let Some(shares) = job
            .spec
            .shape
            .queue_pos
            .and_then(|q| self.queues.get_mut(&q))
        else {
            return Some(job);
        };
        let Some(top) = shares.heap.pop() else {
            return shares.unshared.pop_front();
        };
        let waiting = shares.waiting.get_mut(&top.account);
        let (next, more) = match waiting {
            Some(w) => (w.pop_front(), !w.is_empty()),
            None => (None, false),
        };
        if more {
            shares.heap.push(top);
        }
        next
    }

    /// `job` started holding `slots`: its account's priority drops.
    pub fn started(&mut self, job: &Job, slots: u32, cluster: &crate::Cluster) {
        let Some(q) = job.spec.shape.queue_pos else {
            return;
        };
        let Some(shares) = self.queues.get_mut(&q) else {
            return;
        };
        let Some((key, _)) = account(&cluster.queues[q], &cluster.users, &job.spec.user) else {
            return;
        };
        let Some((n, usage)) = shares.accounts.get_mut(&key) else {
            return;
        };
        usage.slots += slots;
        let priority = usage.priority(*n, &self.factors);
        // Its entry (if it still waits) is re-ranked: rebuilt without it.
        let rest: Vec<Ranked> = shares.heap.drain().filter(|r| r.account != key).collect();
        shares.heap.extend(rest);
        if shares.waiting.get(&key).is_some_and(|w| !w.is_empty()) {
            shares.heap.push(Ranked {
                priority,
                account: key,
            });
        }
    }

    /// Each account of queue `q`: (account, shares, priority, usage).
    pub fn accounts(&self, q: usize) -> Vec<(String, u32, f64, Usage)> {
        let Some(shares) = self.queues.get(&q) else {
            return Vec::new();
        };
        let mut out: Vec<_> = (shares.accounts.iter())
            .map(|(k, (n, u))| (k.clone(), *n, u.priority(*n, &self.factors), *u))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

/// Adds what `job` holds or used to `usage`.
fn add_use(usage: &mut Usage, job: &Job, now: u64, f: &Factors) {
    let last = |what| job.events.iter().rev().find(|e| e.what == what);
    if job.is_running() {
        usage.slots += job.alloc.iter().map(|a| a.cpus).sum::<u32>();
        let started = last(event::DISPATCHED).map_or(now, |e| e.time);
        usage.run_hours += now.saturating_sub(started) as f64 / 3600.0;
    } else if job.state.is_finished() {
        let cpu = last(event::USAGE)
            .and_then(|e| crate::job::parse_usage_text(&e.text))
            .map_or(0.0, |u| (u.user_ms + u.system_ms) as f64 / 3_600_000.0);
        let ended = last(event::FINISHED).map_or(now, |e| e.time);
        let age_hours = now.saturating_sub(ended) as f64 / 3600.0;
        let decay = if f.hist_hours > 0.0 {
            0.1f64.powf(age_hours / f.hist_hours)
        } else {
            1.0
        };
        usage.cpu_hours += cpu * decay;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::tests::sample;

    #[test]
    fn accounts_are_users_groups_members_or_default() {
        let mut cluster = sample();
        cluster.users = conf::UserLimits::parse(
            "Begin UserGroup\nGROUP_NAME GROUP_MEMBER\nphys (bob carl)\nchem (dora)\nEnd UserGroup\n",
        )
        .unwrap();
        let mut q = cluster.queues[0].clone();
        q.fairshare = vec![("ann".into(), 5), ("phys".into(), 4), ("chem@".into(), 2)];
        let of = |user: &str| account(&q, &cluster.users, user);
        assert_eq!(of("ann"), Some(("ann".into(), 5)));
        assert_eq!(
            of("carl"),
            Some(("phys".into(), 4)),
            "the group shares together"
        );
        assert_eq!(of("dora"), Some(("dora".into(), 2)), "group@: each member");
        assert_eq!(of("erin"), None);
        q.fairshare.push(("default".into(), 1));
        assert_eq!(
            account(&q, &cluster.users, "erin"),
            Some(("erin".into(), 1))
        );
    }
}
