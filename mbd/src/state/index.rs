//! The indexes the state keeps of its jobs, so that a pass, a listing or
//! a compaction finds the jobs it wants without walking a million. Each
//! job's place in every index is worked out before and after it changes
//! ([`Place::of`]) and only what differs is moved.

use super::Waiting;
use crate::fairshare::{Ledger, Part};
use crate::job::Job;
use crate::Cluster;
use proto::mbd::JobState;
use std::cmp::Reverse;
use std::collections::{BTreeSet, HashMap};

/// One queue's jobs as `bqueues` counts them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueTally {
    pub pend: u32,
    pub held: u32,
    pub run: u32,
    pub susp: u32,
    pub used_cpus: u32,
    pub used_hosts: u32,
}

/// What one unfinished job adds to its queue's tally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Tallied {
    queue: usize,
    state: JobState,
    cpus: u32,
    hosts: u32,
}

impl QueueTally {
    fn count(&mut self, t: &Tallied, add: bool) {
        let counter = match t.state {
            JobState::Pend => &mut self.pend,
            JobState::Held => &mut self.held,
            JobState::Run | JobState::Unknown => &mut self.run,
            JobState::Susp => &mut self.susp,
            JobState::Done | JobState::Exit => return,
        };
        let step = |n: &mut u32, by: u32| {
            *n = if add {
                n.saturating_add(by)
            } else {
                n.saturating_sub(by)
            }
        };
        step(counter, 1);
        step(&mut self.used_cpus, t.cpus);
        step(&mut self.used_hosts, t.hosts);
    }
}

/// Where one job stands in each index.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Place {
    waiting: Option<Waiting>,
    finished: bool,
    allocated: bool,
    share: Option<(usize, Part)>,
    tally: Option<Tallied>,
}

impl Place {
    pub(super) fn of(cluster: &Cluster, job: &Job) -> Place {
        let queue = job.spec.shape.queue_pos;
        let waiting = (job.state.is_pending()).then(|| {
            let config = queue.and_then(|q| cluster.queues.get(q));
            let prio = config.map_or(i32::MIN, |q| q.priority);
            (Reverse(prio), Reverse(job.priority), job.id)
        });
        let tally = queue
            .filter(|_| !job.state.is_finished())
            .map(|queue| Tallied {
                queue,
                state: job.state,
                cpus: job.alloc.iter().map(|a| a.cpus).sum(),
                hosts: job.alloc.len() as u32,
            });
        Place {
            waiting,
            finished: job.state.is_finished(),
            allocated: !job.alloc.is_empty(),
            share: Part::of(cluster, job, waiting),
            tally,
        }
    }
}

/// The indexes, by what they answer.
#[derive(Debug, Default)]
pub(super) struct Indexes {
    /// DONE and EXIT jobs held, by id: what compaction drops the oldest
    /// of.
    pub finished: BTreeSet<u32>,
    /// Jobs holding hosts (RUN, SUSP): what the scheduler subtracts from
    /// capacity, without walking a backlog of pending jobs.
    pub allocated: BTreeSet<u32>,
    /// Job ids by user: one user's listing without a walk of every job.
    pub by_user: HashMap<String, BTreeSet<u32>>,
    /// PEND and held jobs in scheduling order: a pass walks them in order
    /// without gathering and sorting every job.
    pub waiting: BTreeSet<Waiting>,
    /// What each user's jobs of each fair-share queue wait with, hold and
    /// used: fair share without walking every job.
    pub ledger: Ledger,
    /// Each queue's unfinished jobs counted: `bqueues` without a walk.
    pub queues: HashMap<usize, QueueTally>,
}

impl Indexes {
    /// Job `id` of `user` moves from `before` to `after` (`None`: not
    /// held).
    pub(super) fn change(
        &mut self,
        cluster: &Cluster,
        id: u32,
        user: &str,
        before: Option<&Place>,
        after: Option<&Place>,
    ) {
        if before == after {
            return;
        }
        let was = |f: fn(&Place) -> bool| before.is_some_and(f);
        let is = |f: fn(&Place) -> bool| after.is_some_and(f);
        flag(
            &mut self.finished,
            id,
            was(|p| p.finished),
            is(|p| p.finished),
        );
        flag(
            &mut self.allocated,
            id,
            was(|p| p.allocated),
            is(|p| p.allocated),
        );
        self.index_user(id, user, before.is_some(), after.is_some());
        let waiting = |p: Option<&Place>| p.and_then(|p| p.waiting);
        if waiting(before) != waiting(after) {
            if let Some(key) = waiting(before) {
                self.waiting.remove(&key);
            }
            if let Some(key) = waiting(after) {
                self.waiting.insert(key);
            }
        }
        let share = |p: Option<&Place>| p.and_then(|p| p.share);
        (self.ledger).change(user, share(before), share(after), &cluster.fairshare);
        let tally = |p: Option<&Place>| p.and_then(|p| p.tally);
        if tally(before) != tally(after) {
            if let Some(t) = tally(before) {
                self.queues.entry(t.queue).or_default().count(&t, false);
            }
            if let Some(t) = tally(after) {
                self.queues.entry(t.queue).or_default().count(&t, true);
            }
        }
    }

    fn index_user(&mut self, id: u32, user: &str, was: bool, is: bool) {
        match (was, is) {
            (false, true) => match self.by_user.get_mut(user) {
                Some(ids) => {
                    ids.insert(id);
                }
                None => {
                    self.by_user.insert(user.to_owned(), BTreeSet::from([id]));
                }
            },
            (true, false) => {
                if let Some(ids) = self.by_user.get_mut(user) {
                    ids.remove(&id);
                    if ids.is_empty() {
                        self.by_user.remove(user);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Keeps `id` in `set` exactly while it `is` there.
fn flag(set: &mut BTreeSet<u32>, id: u32, was: bool, is: bool) {
    if was && !is {
        set.remove(&id);
    } else if is && !was {
        set.insert(id);
    }
}
