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

/// An account's place in the heap: its priority, then the account first
/// met. An account whose priority changed is pushed again with a new
/// `version`; the older entry is skipped when it comes up.
#[derive(Debug, PartialEq)]
struct Ranked {
    priority: f64,
    account: usize,
    version: u32,
}

impl Eq for Ranked {}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.priority.total_cmp(&other.priority))
            // Equal priorities: the account met first wins (max-heap).
            .then_with(|| other.account.cmp(&self.account))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// One account of a fair-share queue during a pass.
#[derive(Debug, Default)]
struct Account<'a> {
    name: String,
    shares: u32,
    usage: Usage,
    waiting: VecDeque<&'a Job>,
    /// Its newest heap entry's.
    version: u32,
}

/// One fair-share queue during a pass.
#[derive(Debug, Default)]
struct QueueShares<'a> {
    accounts: Vec<Account<'a>>,
    by_name: HashMap<String, usize>,
    /// Each user's account, looked up once per user.
    of_user: HashMap<&'a str, Option<usize>>,
    /// The last user looked up: a user's jobs come in runs (arrays,
    /// scripts), and a compare is cheaper than a hash per job.
    last: Option<(&'a str, Option<usize>)>,
    /// Jobs of users without shares, in scheduling order: after all.
    unshared: VecDeque<&'a Job>,
    heap: BinaryHeap<Ranked>,
}

impl<'a> QueueShares<'a> {
    /// `job`'s account in `queue` (made when first met), looked up once
    /// per user.
    fn account_of(
        &mut self,
        queue: &QueueConf,
        users: &conf::UserLimits,
        job: &'a Job,
    ) -> Option<usize> {
        let user = job.spec.user.as_str();
        match self.last {
            Some((last, known)) if last == user => return known,
            _ => {}
        }
        if let Some(&known) = self.of_user.get(user) {
            self.last = Some((user, known));
            return known;
        }
        let found = account(queue, users, user).map(|(name, shares)| {
            let next = self.accounts.len();
            *self.by_name.entry(name.clone()).or_insert_with(|| {
                self.accounts.push(Account {
                    name,
                    shares,
                    ..Account::default()
                });
                next
            })
        });
        self.of_user.insert(user, found);
        self.last = Some((user, found));
        found
    }

    /// Puts account `a` in the heap at its current priority, as an entry
    /// newer than any it has there.
    fn rank(&mut self, a: usize, f: &Factors) {
        let account = &mut self.accounts[a];
        account.version += 1;
        self.heap.push(Ranked {
            priority: account.usage.priority(account.shares, f),
            account: a,
            version: account.version,
        });
    }

    /// The next job of the waiting account ranked highest.
    fn next(&mut self) -> Option<&'a Job> {
        let top = loop {
            match self.heap.pop() {
                // Pushed again since, with a newer priority.
                Some(r) if self.accounts[r.account].version != r.version => continue,
                Some(r) => break r,
                None => return self.unshared.pop_front(),
            }
        };
        let waiting = &mut self.accounts[top.account].waiting;
        let next = waiting.pop_front();
        if !waiting.is_empty() {
            self.heap.push(top);
        }
        next
    }
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
        let mut queues: HashMap<usize, QueueShares<'a>> = (cluster.queues.iter().enumerate())
            .filter(|(_, c)| !c.fairshare.is_empty())
            .map(|(q, _)| (q, QueueShares::default()))
            .collect();
        if queues.is_empty() {
            return FairShare { queues, factors };
        }
        let mut in_share = |job: &'a Job| {
            let q = job.spec.shape.queue_pos?;
            let shares = queues.get_mut(&q)?;
            let account = shares.account_of(&cluster.queues[q], &cluster.users, job);
            Some((q, account))
        };
        // What each account holds and used: its running and finished jobs.
        let mut used = Vec::new();
        let counted = (state.allocated_jobs()).chain(state.finished_jobs());
        for job in counted {
            if let Some((q, Some(a))) = in_share(job) {
                used.push((q, a, job));
            }
        }
        let mut waiting = Vec::new();
        for &job in pending {
            if let Some((q, a)) = in_share(job) {
                waiting.push((q, a, job));
            }
        }
        for (q, a, job) in used {
            if let Some(shares) = queues.get_mut(&q) {
                add_use(&mut shares.accounts[a].usage, job, now, &factors);
            }
        }
        for (q, a, job) in waiting {
            let Some(shares) = queues.get_mut(&q) else {
                continue;
            };
            match a {
                Some(a) => shares.accounts[a].waiting.push_back(job),
                None => shares.unshared.push_back(job),
            }
        }
        for shares in queues.values_mut() {
            for a in 0..shares.accounts.len() {
                if !shares.accounts[a].waiting.is_empty() {
                    shares.rank(a, &factors);
                }
            }
        }
        FairShare { queues, factors }
    }

    /// The job to try in `job`'s place: `job` itself outside fair-share
    /// queues; in one, the next job of the account with the highest
    /// priority (each job of the queue is handed out once).
    pub fn take(&mut self, job: &'a Job) -> Option<&'a Job> {
        if self.queues.is_empty() {
            return Some(job);
        }
        match job
            .spec
            .shape
            .queue_pos
            .and_then(|q| self.queues.get_mut(&q))
        {
            Some(shares) => shares.next(),
            None => Some(job),
        }
    }

    /// `job` started holding `slots`: its account's priority drops.
    pub fn started(&mut self, job: &'a Job, slots: u32, cluster: &crate::Cluster) {
        let q = job.spec.shape.queue_pos;
        let Some((q, shares)) = q.and_then(|q| self.queues.get_mut(&q).map(|s| (q, s))) else {
            return;
        };
        let Some(a) = shares.account_of(&cluster.queues[q], &cluster.users, job) else {
            return;
        };
        shares.accounts[a].usage.slots += slots;
        if !shares.accounts[a].waiting.is_empty() {
            shares.rank(a, &self.factors);
        }
    }

    /// Each account of queue `q`: (account, shares, priority, usage), by
    /// name.
    pub fn accounts(&self, q: usize) -> Vec<(String, u32, f64, Usage)> {
        let Some(shares) = self.queues.get(&q) else {
            return Vec::new();
        };
        let mut out: Vec<_> = (shares.accounts.iter())
            .map(|a| {
                (
                    a.name.clone(),
                    a.shares,
                    a.usage.priority(a.shares, &self.factors),
                    a.usage,
                )
            })
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
