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
//! after all others. Pure: the scheduler feeds it the state and `now`;
//! what each user's jobs wait with, hold and used comes from the state's
//! [`Ledger`], kept as they change, so a pass costs in proportion to the
//! users and the jobs it hands out, not to every job held.

mod ledger;

pub use ledger::{Ledger, Part};

use crate::job::Job;
use crate::state::{State, Waiting};
use crate::QueueConf;
use std::cmp::{Ordering, Reverse};
use std::collections::{btree_set, BinaryHeap, HashMap, VecDeque};

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
    fn add(&mut self, other: &Usage) {
        self.slots += other.slots;
        self.run_hours += other.run_hours;
        self.cpu_hours += other.cpu_hours;
    }

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

/// Jobs waiting in one account (or among the users without shares), in
/// scheduling order.
#[derive(Debug)]
enum Waiters<'a> {
    /// A pass over given jobs: those of them.
    Listed(VecDeque<&'a Job>),
    /// A full pass: each user's waiting jobs from the ledger, merged.
    Indexed(Merged<'a>),
}

impl<'a> Waiters<'a> {
    fn is_empty(&self) -> bool {
        match self {
            Waiters::Listed(jobs) => jobs.is_empty(),
            Waiters::Indexed(merged) => merged.heads.is_empty(),
        }
    }

    fn next(&mut self, state: &'a State) -> Option<&'a Job> {
        match self {
            Waiters::Listed(jobs) => jobs.pop_front(),
            Waiters::Indexed(merged) => loop {
                let (_, _, id) = merged.next()?;
                // The ledger and the jobs change together: always found.
                if let Some(job) = state.job(id) {
                    break Some(job);
                }
            },
        }
    }
}

/// Several users' waiting jobs as one list in scheduling order, taken
/// one at a time (a group account's members, or the users without shares).
#[derive(Debug, Default)]
struct Merged<'a> {
    /// Each list's next job, the first in order on top.
    heads: BinaryHeap<Reverse<(Waiting, usize)>>,
    lists: Vec<btree_set::Iter<'a, Waiting>>,
}

impl<'a> Merged<'a> {
    fn add(&mut self, mut list: btree_set::Iter<'a, Waiting>) {
        if let Some(&head) = list.next() {
            self.heads.push(Reverse((head, self.lists.len())));
            self.lists.push(list);
        }
    }

    fn next(&mut self) -> Option<Waiting> {
        let Reverse((head, i)) = self.heads.pop()?;
        if let Some(&after) = self.lists.get_mut(i).and_then(|l| l.next()) {
            self.heads.push(Reverse((after, i)));
        }
        Some(head)
    }
}

/// One account of a fair-share queue during a pass.
#[derive(Debug)]
struct Account<'a> {
    name: String,
    shares: u32,
    usage: Usage,
    waiting: Waiters<'a>,
    /// Its newest heap entry's.
    version: u32,
}

/// One fair-share queue during a pass.
#[derive(Debug)]
struct QueueShares<'a> {
    accounts: Vec<Account<'a>>,
    /// Each user's account (none: the user has no shares).
    of_user: HashMap<&'a str, Option<usize>>,
    /// Jobs of users without shares, in scheduling order: after all.
    unshared: Waiters<'a>,
    heap: BinaryHeap<Ranked>,
}

impl<'a> QueueShares<'a> {
    /// Queue `q`'s accounts from `state`'s ledger at `now`, with their
    /// waiting jobs (only `listed`'s, when given).
    fn new(
        state: &'a State,
        q: usize,
        now: u64,
        f: &Factors,
        listed: Option<&[&'a Job]>,
    ) -> QueueShares<'a> {
        let cluster = state.cluster();
        let waiters = || match listed {
            Some(_) => Waiters::Listed(VecDeque::new()),
            None => Waiters::Indexed(Merged::default()),
        };
        let mut shares = QueueShares {
            accounts: Vec::new(),
            of_user: HashMap::new(),
            unshared: waiters(),
            heap: BinaryHeap::new(),
        };
        let mut by_name: HashMap<String, usize> = HashMap::new();
        for (user, book) in state.ledger().users(q) {
            let found = account(&cluster.queues[q], &cluster.users, user).map(|(name, n)| {
                let next = shares.accounts.len();
                *by_name.entry(name.clone()).or_insert_with(|| {
                    shares.accounts.push(Account {
                        name,
                        shares: n,
                        usage: Usage::default(),
                        waiting: waiters(),
                        version: 0,
                    });
                    next
                })
            });
            shares.of_user.insert(user, found);
            let waiting = match found {
                Some(a) => {
                    shares.accounts[a].usage.add(&book.usage(now, f));
                    &mut shares.accounts[a].waiting
                }
                None => &mut shares.unshared,
            };
            if let Waiters::Indexed(merged) = waiting {
                merged.add(book.waiting.iter());
            }
        }
        for &job in listed.into_iter().flatten() {
            if job.spec.shape.queue_pos != Some(q) {
                continue;
            }
            let found = shares
                .of_user
                .get(job.spec.user.as_str())
                .copied()
                .flatten();
            let waiting = match found {
                Some(a) => &mut shares.accounts[a].waiting,
                None => &mut shares.unshared,
            };
            if let Waiters::Listed(jobs) = waiting {
                jobs.push_back(job);
            }
        }
        for a in 0..shares.accounts.len() {
            if !shares.accounts[a].waiting.is_empty() {
                shares.rank(a, f);
            }
        }
        shares
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
    fn next(&mut self, state: &'a State) -> Option<&'a Job> {
        let top = loop {
            match self.heap.pop() {
                // Pushed again since, with a newer priority.
                Some(r) if self.accounts[r.account].version != r.version => continue,
                Some(r) => break r,
                None => return self.unshared.next(state),
            }
        };
        let waiting = &mut self.accounts[top.account].waiting;
        let next = waiting.next(state);
        if !waiting.is_empty() {
            self.heap.push(top);
        }
        next
    }
}

/// The fair-share queues of a pass.
#[derive(Debug)]
pub struct FairShare<'a> {
    state: &'a State,
    queues: HashMap<usize, QueueShares<'a>>,
    factors: Factors,
}

impl<'a> FairShare<'a> {
    /// The accounts of every fair-share queue of `state` at `now`, with
    /// their waiting jobs: all of them, or only `listed`'s when given (a
    /// pass over new jobs).
    pub fn new(
        state: &'a State,
        now: u64,
        factors: Factors,
        listed: Option<&[&'a Job]>,
    ) -> FairShare<'a> {
        let queues = (state.cluster().queues.iter().enumerate())
            .filter(|(_, c)| !c.fairshare.is_empty())
            .map(|(q, _)| (q, QueueShares::new(state, q, now, &factors, listed)))
            .collect();
        FairShare {
            state,
            queues,
            factors,
        }
    }

    /// The job to try in `job`'s place: `job` itself outside fair-share
    /// queues; in one, the next job of the account with the highest
    /// priority (each job of the queue is handed out once).
    pub fn take(&mut self, job: &'a Job) -> Option<&'a Job> {
        let shares = (job.spec.shape.queue_pos).and_then(|q| self.queues.get_mut(&q));
        match shares {
            Some(shares) => shares.next(self.state),
            None => Some(job),
        }
    }

    /// `job` started holding `slots`: its account's priority drops.
    pub fn started(&mut self, job: &'a Job, slots: u32) {
        let shares = (job.spec.shape.queue_pos).and_then(|q| self.queues.get_mut(&q));
        let Some(shares) = shares else {
            return;
        };
        let Some(&Some(a)) = shares.of_user.get(job.spec.user.as_str()) else {
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
